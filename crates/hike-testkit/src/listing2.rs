//! Listing 2 of the HIKe/eCLAT paper (`ddos_tb_2_lev`) written by hand in HIKe assembly
//! (`examples/ddos_tb_2_lev.hasm`), and the standard programs it calls: what the kernel tests
//! of Listing 2 (in assembly and in C) and the `ddos_listing2` benchmark load.

/// The chain, statement by statement as in the eCLAT script.
pub const CHAIN_ASM: &str = include_str!("../../../examples/ddos_tb_2_lev.hasm");

/// The standard programs the chain calls, in slot order 1, 2, … (as [`crate::Lab`] and
/// [`crate::vm::PrivateVm::load_programs`] give slots).
pub const PROGRAMS: [&str; 8] = [
    "hike_drop",
    "hike_pass",
    "ip6_hset_srcdst",
    "ip6_sd_tbmon",
    "monitor",
    "ip6_dst_tbmon",
    "ip6_sd_dec2zero",
    "l2_redirect",
];

/// The loader's map (`basic.ip6_sc`) that selects the chain.
pub const SELECT_MAP: &str = "ipv6_sc_map";

/// The `monitor` event of a packet the chain passes.
pub const EVENT_PASS: u64 = 0;
/// The `monitor` event of a packet the chain drops.
pub const EVENT_DROP: u64 = 1;
/// The `monitor` event of a blacklisted packet sampled and redirected.
pub const EVENT_REDIRECT: u64 = 2;

/// The interface a sampled blacklisted packet is redirected to.
pub const COLLECTOR_IFINDEX: u32 = 6;

/// One blacklisted packet in this many is redirected.
pub const SAMPLE_EVERY: u64 = 500;

/// Gives the chain's two token buckets (the destination's and the pair's) 2 tokens and a rate
/// of 1 token per second, so that a flood of microseconds overflows both.
pub fn set_tiny_buckets(lab: &crate::Lab) {
    lab.set_config("ip6_dst_tbmon", "ip6_dst_tbmon_cfg", &[1, 2]);
    lab.set_config("ip6_sd_tbmon", "ip6_sd_tbmon_cfg", &[1, 2]);
}
