//! Kernel tests (root) of package `sampler`: count-downs to zero per (src, dst) pair.

use hike_testkit::packet::*;
use hike_testkit::*;

/// `prog` on pairs `ab` and `cd` (distinct) and `ba` (ab reversed); `foreign` of the other
/// family.
fn check_dec2zero(lab: &Lab, prog: &str, ab: &[u8], cd: &[u8], ba: &[u8], foreign: &[u8]) {
    let d = |count: u64, p: &[u8]| lab.call(prog, &[count], p);

    // count 3: 2, 1, 0, 2, 1, 0, ... per pair; interleaving pairs changes nothing.
    let mut seq_ab = Vec::new();
    let mut seq_cd = Vec::new();
    for i in 0..9 {
        seq_ab.push(d(3, ab));
        if i % 2 == 0 {
            seq_cd.push(d(3, cd));
        }
    }
    assert_eq!(seq_ab, [2, 1, 0, 2, 1, 0, 2, 1, 0], "{prog}");
    assert_eq!(seq_cd, [2, 1, 0, 2, 1], "{prog}: independent per pair");
    assert_eq!(d(3, cd), 0, "{prog}: the other pair continues");
    assert_eq!(d(3, ba), 2, "{prog}: the reversed pair is another pair");

    // 0 exactly once every 500 calls.
    let zeros: Vec<usize> = (1..=1500).filter(|_| d(500, ba) == 0).collect();
    assert_eq!(zeros.len(), 3, "{prog}");
    // ba had 1 call before: its 500th, 1000th and 1500th calls are calls 499, 999 and 1499.
    assert_eq!(zeros, [499, 999, 1499], "{prog}");

    // count 1 and 0: zero every time.
    assert_eq!(
        (d(1, ab), d(1, ab), d(0, ab), d(0, ab)),
        (0, 0, 0, 0),
        "{prog}"
    );

    assert_eq!(d(3, foreign), NOT_APPLICABLE, "{prog}: other family");
    assert_eq!(d(3, &arp()), NOT_APPLICABLE, "{prog}: ARP");
}

#[test]
fn kernel_ip6_sd_dec2zero_counts_down_per_pair() {
    let lab = Lab::new(&["ip6_sd_dec2zero"]);
    check_dec2zero(
        &lab,
        "ip6_sd_dec2zero",
        &ipv6_udp(A6, B6, 1, 2, 0),
        &ipv6_udp(C6, B6, 1, 2, 0),
        &ipv6_udp(B6, A6, 1, 2, 0),
        &ipv4_udp(A4, B4, 1, 2, 0),
    );
}

#[test]
fn kernel_ip4_sd_dec2zero_counts_down_per_pair() {
    let lab = Lab::new(&["ip4_sd_dec2zero"]);
    check_dec2zero(
        &lab,
        "ip4_sd_dec2zero",
        &ipv4_udp(A4, B4, 1, 2, 0),
        &ipv4_udp(C4, B4, 1, 2, 0),
        &ipv4_udp(B4, A4, 1, 2, 0),
        &ipv6_udp(A6, B6, 1, 2, 0),
    );
}

#[test]
fn kernel_dec2zero_is_exact_across_cpus() {
    let lab = Lab::new(&["ip6_sd_dec2zero"]);
    let ncpus = lab.vm().num_cpus();
    let pkt = ipv6_udp(A6, B6, 1, 2, 0);
    let mut results = Vec::new();
    // Alternate CPUs call by call: one shared count-down, not one per CPU.
    for i in 0..6 {
        let _pin = hike_runtime::pin_thread_to_cpu((lab.cpu() + i) % ncpus).expect("pin");
        results.push(lab.call("ip6_sd_dec2zero", &[3], &pkt));
    }
    assert_eq!(results, [2, 1, 0, 2, 1, 0]);
}
