//! `hike-demo`: a short tour of what the HIKe VM does today (`make demo`).
//!
//! It creates a private VM instance, loads the test programs and the test loader, installs a
//! few chains written in HIKe assembly (assembled, linked by name and validated), runs packets
//! through them with `BPF_PROG_TEST_RUN`, and prints for each packet the verdict, the bytes
//! the chain changed, the chain's result or its fault; then the per-chain and per-program
//! counters. Everything it loads vanishes when it exits.
//!
//! It is not the DDoS demo of the paper (Listing 2 in eCLAT, loaded by the daemon, on veth
//! links between namespaces): that comes with the compiler and `eclatd`. Needs root.

use anyhow::{bail, Context, Result};
use hike_isa::abi::{Fault, VmConfig, CFG_STATS};
use hike_isa::asm::assemble;
use hike_isa::validate::Chain;
use hike_isa::Symbols;
use hike_runtime::{ChainId, Loader, ProgramId, Vm, XdpAction};

/// The programs of `bpf/programs/test/test_progs.bpf.c` the chains call, with their slots.
const PROGRAMS: [(u32, &str, &str); 2] = [
    (1, "test_sum2", "returns 1000 + a + 2 * b"),
    (2, "test_verdict", "ends the packet with verdict v"),
];

/// One chain of the demo: its ID, name and assembly text (it takes no parameters).
struct ChainSource {
    id: u32,
    name: &'static str,
    text: &'static str,
}

const CHAINS: [ChainSource; 4] = [
    ChainSource {
        id: 0,
        name: "ethertype",
        text: "
    r1 = 12                 ; offset of the EtherType
    r2 = 2                  ; its size
    call pkt_load           ; r0 = the EtherType, read big-endian
    r1 = r0
    r2 = 1
    call prog test_sum2     ; r0 = 1000 + EtherType + 2 * 1
    exit",
    },
    ChainSource {
        id: 1,
        name: "is_ipv6",
        text: "
    r1 = 12
    r2 = 2
    call pkt_load
    r6 = r0
    r0 = 0
    if r6 != 0x86dd goto out
    r0 = 1
out:
    exit",
    },
    ChainSource {
        id: 2,
        name: "mark_ipv6",
        text: "
    call chain is_ipv6      ; a chain calls another chain
    if r0 == 0 goto other
    r1 = 14                 ; IPv6 version (4 bits), traffic class (8), flow label (20)
    r2 = 4
    call pkt_load
    r3 = r0
    r3 |= 0x100000          ; traffic class 1
    r1 = 14
    r2 = 4
    call pkt_store
    r0 = 1
    exit
other:
    r1 = 1                  ; XDP_DROP
    call prog test_verdict  ; a terminal program: it ends the packet
    exit",
    },
    ChainSource {
        id: 3,
        name: "broken",
        text: "
    r1 = 200                ; past the end of a 64-byte packet
    r2 = 2
    call pkt_load           ; the VM aborts the chain: pkt_out_of_bounds
    exit",
    },
];

/// A 64-byte Ethernet + IPv6 + UDP packet.
fn ipv6_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12..14].copy_from_slice(&[0x86, 0xdd]);
    p[14] = 0x60;
    p[18..20].copy_from_slice(&10u16.to_be_bytes()); // payload length
    p[20] = 17; // UDP
    p[21] = 64; // hop limit
    p[22..24].copy_from_slice(&[0x20, 0x01]);
    p[37] = 1; // source 2001::1
    p[38..40].copy_from_slice(&[0x20, 0x01]);
    p[53] = 2; // destination 2001::2
    p[54..56].copy_from_slice(&1234u16.to_be_bytes());
    p[56..58].copy_from_slice(&5678u16.to_be_bytes());
    p[58..60].copy_from_slice(&10u16.to_be_bytes());
    p
}

/// A 64-byte Ethernet + IPv4 + UDP packet.
fn ipv4_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&50u16.to_be_bytes()); // total length
    p[22] = 64; // TTL
    p[23] = 17; // UDP
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p
}

fn object(name: &str) -> Result<&'static [u8]> {
    hike_bpf::object(name).with_context(|| format!("`hike-bpf` has no object `{name}`"))
}

fn chain_id(id: u32) -> ChainId {
    ChainId::new(id).expect("demo chain IDs are below MAX_CHAINS")
}

/// Loads the programs and installs the chains, printing what it does.
fn set_up(vm: &Vm) -> Result<()> {
    let progs = object("test_progs")?;
    let mut symbols = Symbols::new();
    println!("programs (from bpf/programs/test/test_progs.bpf.c):");
    for (id, name, what) in PROGRAMS {
        let slot = ProgramId::new(id).expect("demo program slots are below MAX_PROGS");
        vm.load_program(progs, name, slot)
            .with_context(|| format!("load `{name}`"))?;
        symbols.add_prog(id, name);
        println!("  prog {id}  {name:<13} {what}");
    }
    for c in &CHAINS {
        symbols.add_chain(c.id, c.name);
    }

    // The context knows the programs (parameters from their BTF) and every demo chain, so the
    // chains may call one another whatever the order they are installed in.
    let mut ctx = vm.validation_context();
    for c in &CHAINS {
        ctx.add_chain(c.id, 0);
    }
    println!("\nchains (assembled, linked by name, validated, installed):");
    for c in &CHAINS {
        let insns = assemble(c.text)
            .with_context(|| format!("assemble chain `{}`", c.name))?
            .link(&symbols)
            .with_context(|| format!("link chain `{}`", c.name))?;
        let chain = Chain {
            name: c.name,
            insns: &insns,
            nparams: 0,
        };
        vm.install_validated_chain(chain_id(c.id), &chain, &ctx)?;
        println!(
            "  chain {} `{}` ({} instructions):",
            c.id,
            c.name,
            insns.len()
        );
        for line in c.text.lines().filter(|l| !l.trim().is_empty()) {
            println!("    {line}");
        }
    }
    Ok(())
}

/// The bytes that differ between `before` and `after`, as `offset: old -> new`.
fn changes(before: &[u8], after: &[u8]) -> String {
    let diffs: Vec<String> = before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("byte {i}: {a:02x} -> {b:02x}"))
        .collect();
    match (diffs.is_empty(), before.len() == after.len()) {
        (true, true) => "unchanged".to_owned(),
        (_, false) => format!("length {} -> {}", before.len(), after.len()),
        (false, true) => diffs.join(", "),
    }
}

/// `n` and `noun`, plural unless `n` is 1.
fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Runs `packet` through chain `chain` and prints what happened; returns the verdict.
fn run_packet(
    vm: &Vm,
    loader: &Loader,
    cpu: usize,
    chain: &ChainSource,
    label: &str,
    packet: &[u8],
) -> Result<XdpAction> {
    // The test loader boots the chain named in its `test_boot` map: {chain, reserved, args[5]}.
    let mut boot = chain.id.to_ne_bytes().to_vec();
    boot.resize(48, 0);
    loader
        .map("test_boot")?
        .update(&0u32.to_ne_bytes(), &boot, Default::default())?;
    let out = loader.test_run(packet, 1)?;
    let st = vm.vm_state(cpu)?;
    let verdict = out
        .action()
        .with_context(|| format!("verdict {} is not an XDP action", out.retval))?;
    let chain_name = |id: u32| {
        CHAINS
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_string(), |c| format!("`{}`", c.name))
    };
    let outcome = match Fault::from_code(st.fault) {
        Some(f) => format!(
            "fault {f} at instruction {} of chain {}",
            st.fault_pc,
            chain_name(st.fault_chain)
        ),
        None if verdict == XdpAction::Pass => format!("chain returned {}", st.result),
        None => "a program ended the packet".to_owned(),
    };
    println!(
        "  {label:<5} -> `{}`: verdict {verdict}, {outcome}, packet {}",
        chain.name,
        changes(packet, &out.data_out)
    );
    Ok(verdict)
}

fn main() -> Result<()> {
    println!(
        "HIKe demo: what the project does today — chains interpreted by the HIKe VM in XDP, \
         run with BPF_PROG_TEST_RUN.\n\
         The full DDoS demo (the paper's Listing 2 written in eCLAT, loaded by the daemon, on \
         veth links between namespaces) comes later.\n"
    );
    let vm = Vm::new().context("create a private VM instance (root is needed)")?;
    vm.set_config(VmConfig {
        budget: 0,
        flags: CFG_STATS,
    })?;
    set_up(&vm)?;
    let loader = vm.load_loader("demo", object("test_loader")?, "test_loader")?;

    // Test runs execute on the calling CPU; pinning lets us read that CPU's VM state after.
    let pin = hike_runtime::pin_thread_to_current_cpu()?;
    let (v6, v4) = (ipv6_packet(), ipv4_packet());
    println!("\npackets (64 bytes, Ethernet + IPv6 or IPv4 + UDP):");
    let runs: [(usize, &str, &[u8], XdpAction); 4] = [
        (0, "ipv6", &v6, XdpAction::Pass),
        (2, "ipv6", &v6, XdpAction::Pass),
        (2, "ipv4", &v4, XdpAction::Drop),
        (3, "ipv6", &v6, XdpAction::Aborted),
    ];
    for (chain, label, packet, expected) in runs {
        let verdict = run_packet(&vm, &loader, pin.cpu(), &CHAINS[chain], label, packet)?;
        if verdict != expected {
            bail!(
                "chain `{}`: verdict {verdict}, expected {expected}",
                CHAINS[chain].name
            );
        }
    }
    println!(
        "  (35527 = 1000 + 0x86dd + 2 * 1; byte 15 holds the low bits of the traffic class. The \
         loader passes a packet whose chain returns and aborts one whose chain faults.)"
    );

    println!("\ncounters (enabled with VmConfig {{ flags: CFG_STATS }}):");
    for c in &CHAINS {
        let s = vm.chain_stats(chain_id(c.id))?;
        let faults: Vec<String> = Fault::ALL
            .iter()
            .filter(|f| s.faults[**f as usize] > 0)
            .map(|f| format!("{f} x{}", s.faults[*f as usize]))
            .collect();
        let faults = if faults.is_empty() {
            "no faults".to_owned()
        } else {
            faults.join(", ")
        };
        println!("  chain `{}`: {}, {faults}", c.name, count(s.runs, "run"));
    }
    for (id, name, _) in PROGRAMS {
        let calls = vm
            .prog_stats(ProgramId::new(id).expect("below MAX_PROGS"))?
            .calls;
        println!("  prog `{name}`: {}", count(calls, "call"));
    }
    println!("\ndone: the private VM instance and everything in it is freed on exit.");
    Ok(())
}
