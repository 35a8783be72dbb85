//! An eCLAT script that compiles, links and runs interpreted, but whose fused build the
//! kernel's verifier refuses: the tests of a fused refusal's diagnostic (`eclat run --mode
//! fused`, `eclat load --mode fused` through eclatd) load it for real.
//!
//! Its chain tests [`BRANCHES`] packet bytes one after the other, each setting its own bit of
//! `x`, then compares `x` with a constant. The comparison makes the verifier track `x`
//! precisely, so no two of the 2^BRANCHES paths through the tests are alike to it and it
//! cannot prune any: it walks past its million instructions and refuses the program ("BPF
//! program is too large"). Interpreted, the chain is bytecode the verifier never sees. It is
//! not a script anyone would write, only a sure way past the verifier's limits.

/// The byte tests in the chain: 2^18 paths, several times what the verifier can walk.
pub const BRANCHES: usize = 18;

/// The name of its chain.
pub const CHAIN: &str = "branchy";

/// The script attached at `hook` of `DEVNAME` (`ip6_sc` of `loaders.basic`): IPv6 packets
/// go through the chain, which counts each under `monitor` key `key` and passes it. Returns
/// the text and the line (from 1) of the chain's `def`.
pub fn script(hook: &str, key: u32) -> (String, u32) {
    let mut lines = vec![
        "from programs.net import hike_drop, monitor".to_owned(),
        "from loaders.basic import ip6_sc".to_owned(),
        String::new(),
        format!("ip6_sc[ip6_sc_map] = {{ (0): ({CHAIN}) }}"),
        format!("ip6_sc.attach('DEVNAME', '{hook}')"),
        String::new(),
    ];
    let def_line = lines.len() as u32 + 1;
    lines.push(format!("def {CHAIN}():"));
    lines.push("    u64 : x = 0".to_owned());
    for i in 0..BRANCHES {
        lines.push(format!("    if packet.u8[{}] == {i}:", 14 + i));
        lines.push(format!("        x |= {}", 1u64 << i));
    }
    lines.push("    if x == 12345:".to_owned());
    lines.push("        hike_drop()".to_owned());
    lines.push(format!("    monitor({key})"));
    lines.push("    return 0".to_owned());
    (lines.join("\n") + "\n", def_line)
}
