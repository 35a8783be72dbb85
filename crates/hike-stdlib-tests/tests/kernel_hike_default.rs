//! Kernel tests (root) of package `hike_default`: verdicts, redirects, monitor, the
//! (src, dst) sets with expiry, lse, and the traffic class / TOS writers.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hike_runtime::TestRun;
use hike_testkit::packet::*;
use hike_testkit::*;

#[test]
fn kernel_verdict_programs_end_the_packet() {
    let lab = Lab::new(&["hike_pass", "hike_drop", "l2_redirect"]);
    let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
    for (prog, args, verdict, ifindex) in [
        ("hike_pass", vec![], xdp::PASS, 0),
        ("hike_drop", vec![], xdp::DROP, 0),
        ("l2_redirect", vec![6], xdp::REDIRECT, 6),
        ("l2_redirect", vec![0x7fff_fffe], xdp::REDIRECT, 0x7fff_fffe),
        ("l2_redirect", vec![0], xdp::DROP, 0),
        ("l2_redirect", vec![1 << 32], xdp::DROP, 0),
    ] {
        // Every run is a fresh packet: a redirect target must not leak into the next one.
        let run = lab.call_run(prog, &args, &pkt);
        assert_eq!(
            (run.verdict, run.redirect_ifindex, run.fault, run.result),
            (verdict, ifindex, 0, 0),
            "{prog}{args:?}"
        );
        assert_eq!(run.packet, pkt, "{prog} changed the packet");
    }
    // Terminal for any packet, IP or not.
    assert_eq!(lab.call_run("hike_drop", &[], &arp()).verdict, xdp::DROP);
    assert_eq!(
        lab.call_run("l2_redirect", &[6], &arp()).verdict,
        xdp::REDIRECT
    );
}

#[test]
fn kernel_l2xcon_redirects_by_ingress_interface() {
    let lab = Lab::new(&["l2xcon"]);
    lab.boot(lab.id("l2xcon"), &[]);
    let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
    // The loopback device (ifindex 1) exists in every network namespace.
    let from_lo = TestRun {
        packet: &pkt,
        repeat: 1,
        ingress_ifindex: 1,
        ..TestRun::default()
    };
    let map = lab.map("l2xcon", "l2xcon_map");
    assert_eq!(lab.run_with(&from_lo).verdict, xdp::DROP, "no entry: drop");

    map.update(&1u32.to_ne_bytes(), &6u32.to_ne_bytes(), Default::default())
        .unwrap();
    let run = lab.run_with(&from_lo);
    assert_eq!((run.verdict, run.redirect_ifindex), (xdp::REDIRECT, 6));

    // Another ingress interface has no entry.
    map.update(&2u32.to_ne_bytes(), &9u32.to_ne_bytes(), Default::default())
        .unwrap();
    let run = lab.run_with(&from_lo);
    assert_eq!((run.verdict, run.redirect_ifindex), (xdp::REDIRECT, 6));
    map.update(&1u32.to_ne_bytes(), &0u32.to_ne_bytes(), Default::default())
        .unwrap();
    assert_eq!(lab.run_with(&from_lo).verdict, xdp::DROP, "egress 0: drop");
}

#[test]
fn kernel_monitor_counts_each_event_summed_over_cpus() {
    let lab = Lab::new(&["monitor"]);
    let pkt = arp(); // monitor does not look at the packet
    for event in [7u64, 7, 7, 9, u64::MAX] {
        assert_eq!(lab.call("monitor", &[event], &pkt), 0);
    }
    let map = lab.map("monitor", "monitor_map");
    let count = |event: u64| counter(&map, &event.to_ne_bytes(), 0);
    assert_eq!(
        (count(7), count(9), count(u64::MAX), count(8)),
        (3, 1, 1, 0)
    );

    // On another CPU the same event goes to that CPU's counter; user space sees the sum.
    let ncpus = lab.vm().num_cpus();
    if ncpus > 1 {
        let other = (lab.cpu() + 1) % ncpus;
        let _pin = hike_runtime::pin_thread_to_cpu(other).expect("pin to another CPU");
        lab.boot(lab.id("monitor"), &[7]);
        lab.loader().test_run(&pkt, 1).expect("run on another CPU");
        let per_cpu = map.lookup_percpu(&7u64.to_ne_bytes()).unwrap().unwrap();
        let at = |cpu: usize| u64::from_ne_bytes(per_cpu[cpu][..8].try_into().unwrap());
        assert_eq!((at(lab.cpu()), at(other)), (3, 1));
        assert_eq!(count(7), 4);
    }
}

const LOOKUP: u64 = 0;
const ADD: u64 = 1;
const LOOKUP_AND_CLEAN: u64 = 2;
const PRESENT: u64 = 0;
const ABSENT: u64 = 1;

/// The set program `prog` on packets of pair (a, b), the reversed pair, another pair, and a
/// packet of the other family; `key` is the map key of (a, b).
fn check_hset(lab: &Lab, prog: &str, pkts: [&[u8]; 4], key: &[u8]) {
    let [ab, ba, ac, foreign] = pkts;
    let call = |action, pkt: &[u8]| lab.call(prog, &[action], pkt);
    let cfg = format!("{prog}_cfg");
    let set = lab.map(prog, &format!("{prog}_map"));

    assert_eq!(call(LOOKUP, ab), ABSENT);
    assert_eq!(call(LOOKUP_AND_CLEAN, ab), ABSENT);
    assert_eq!(call(ADD, ab), 0);
    assert_eq!(call(LOOKUP, ab), PRESENT);
    assert_eq!(call(LOOKUP_AND_CLEAN, ab), PRESENT);
    assert_eq!(call(ADD, ab), 0, "adding again succeeds");
    assert_eq!(call(LOOKUP, ba), ABSENT, "pairs are ordered");
    assert_eq!(call(LOOKUP, ac), ABSENT, "another pair");
    assert_eq!(call(3, ab), NOT_APPLICABLE, "unknown action");
    assert_eq!(call(u64::MAX, ab), NOT_APPLICABLE, "unknown action");
    for action in [LOOKUP, ADD, LOOKUP_AND_CLEAN] {
        assert_eq!(call(action, foreign), NOT_APPLICABLE, "other family");
        assert_eq!(call(action, &arp()), NOT_APPLICABLE, "ARP");
    }
    assert_eq!(set.keys(), vec![key.to_vec()], "only (a, b) was added");

    // A shorter timeout applies at once, to entries already there. An expired entry is
    // absent; LOOKUP leaves it in the map, LOOKUP_AND_CLEAN removes it.
    lab.set_config(prog, &cfg, &[1_000_000]);
    std::thread::sleep(Duration::from_millis(3));
    assert_eq!(call(LOOKUP, ab), ABSENT, "expired after 1 ms");
    assert!(set.lookup(key).unwrap().is_some(), "LOOKUP does not clean");
    assert_eq!(call(LOOKUP_AND_CLEAN, ab), ABSENT);
    assert!(
        set.lookup(key).unwrap().is_none(),
        "LOOKUP_AND_CLEAN removed it"
    );

    // ADD of an expired entry makes it present again, for a whole timeout from the ADD.
    assert_eq!(call(ADD, ab), 0);
    std::thread::sleep(Duration::from_millis(3));
    assert_eq!(call(LOOKUP, ab), ABSENT, "expired again");
    assert_eq!(call(ADD, ab), 0);
    lab.set_config(prog, &cfg, &[0]);
    assert_eq!(call(LOOKUP, ab), PRESENT, "0 = default timeout");
    assert_eq!(call(LOOKUP_AND_CLEAN, ab), PRESENT);
}

#[test]
fn kernel_ip6_hset_srcdst_is_a_set_of_pairs_with_expiry() {
    let lab = Lab::new(&["ip6_hset_srcdst"]);
    check_hset(
        &lab,
        "ip6_hset_srcdst",
        [
            &ipv6_udp(A6, B6, 1000, 53, 16),
            &ipv6_udp(B6, A6, 53, 1000, 16),
            &ipv6_udp(A6, C6, 1000, 53, 16),
            &ipv4_udp(A4, B4, 1000, 53, 16),
        ],
        &ip6_sd_key(A6, B6),
    );
}

#[test]
fn kernel_ip4_hset_srcdst_is_a_set_of_pairs_with_expiry() {
    let lab = Lab::new(&["ip4_hset_srcdst"]);
    check_hset(
        &lab,
        "ip4_hset_srcdst",
        [
            &ipv4_udp(A4, B4, 1000, 53, 16),
            &ipv4_udp(B4, A4, 53, 1000, 16),
            &ipv4_udp(A4, C4, 1000, 53, 16),
            &ipv6_udp(A6, B6, 1000, 53, 16),
        ],
        &ip4_sd_key(A4, B4),
    );
}

#[test]
fn kernel_lse_measures_time_since_the_pair_was_last_seen() {
    let lab = Lab::new(&["lse"]);
    let v6 = ipv6_udp(A6, B6, 1000, 53, 16);
    let v4 = ipv4_udp(A4, B4, 1000, 53, 16);
    let lse = |pkt: &[u8]| lab.call("lse", &[], pkt);

    let first = Instant::now();
    assert_eq!(lse(&v6), u64::MAX, "first time");
    assert_eq!(lse(&v4), u64::MAX, "first time, IPv4");
    assert_eq!(lse(&ipv6_udp(B6, A6, 1, 2, 0)), u64::MAX, "reversed pair");
    assert_eq!(lse(&arp()), u64::MAX, "no pair");
    assert_eq!(lse(&arp()), u64::MAX, "still no pair");

    // Each result lies between the wait and the wall-clock time around both calls.
    std::thread::sleep(Duration::from_millis(20));
    let before_t6 = Instant::now();
    let t6 = lse(&v6);
    let t4 = lse(&v4);
    let bound = first.elapsed().as_nanos() as u64;
    assert!((20_000_000..=bound).contains(&t6), "20 ms wait, {t6} ns");
    assert!((20_000_000..=bound).contains(&t4), "20 ms wait, {t4} ns");
    // The last sighting moved to the previous call: at most the time since just before it.
    let again = lse(&v6);
    let bound = before_t6.elapsed().as_nanos() as u64;
    assert!(
        again <= bound,
        "{again} ns since the previous call, at most {bound}"
    );

    // IPv4 pairs are stored as IPv4-mapped IPv6 addresses, beside the IPv6 ones.
    let map = lab.map("lse", "lse_map");
    let mapped = |a: Ipv4Addr, b: Ipv4Addr| ip6_sd_key(a.to_ipv6_mapped(), b.to_ipv6_mapped());
    let mut keys = map.keys();
    keys.sort();
    let mut want = vec![ip6_sd_key(A6, B6), ip6_sd_key(B6, A6), mapped(A4, B4)];
    want.sort();
    assert_eq!(keys, want);
}

/// Byte 14..16 of an IPv6 packet built by `ipv6_packet`: version 6, traffic class `tc`,
/// flow label 0x12345.
fn ip6_first_bytes(tc: u8) -> [u8; 2] {
    [0x60 | (tc >> 4), ((tc & 0x0f) << 4) | 0x01]
}

#[test]
fn kernel_ip6_set_tos_and_ecn_write_the_traffic_class() {
    let lab = Lab::new(&["ip6_set_tos", "ip6_set_ecn"]);
    let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
    assert_eq!(pkt[14..16], ip6_first_bytes(0));
    let with_tc = |tc: u8| {
        let mut p = pkt.clone();
        p[14..16].copy_from_slice(&ip6_first_bytes(tc));
        p
    };

    for from in [0x00, 0xff, 0xa5] {
        for tc in [0xb8u8, 0xff, 0x01, 0x10, 0x00, 0x5a] {
            let run = lab.call_run("ip6_set_tos", &[u64::from(tc)], &with_tc(from));
            assert_eq!((run.verdict, run.result), (xdp::PASS, 0), "tc {tc:#x}");
            assert_eq!(
                run.packet,
                with_tc(tc),
                "{from:#x} -> {tc:#x}: only the traffic class changes"
            );
        }
    }
    for (args, p) in [(256u64, &pkt), (u64::MAX, &pkt)] {
        let run = lab.call_run("ip6_set_tos", &[args], p);
        assert_eq!((run.result, &run.packet), (NOT_APPLICABLE, p), "tc {args}");
    }
    let v4 = ipv4_udp(A4, B4, 1, 2, 0);
    let run = lab.call_run("ip6_set_tos", &[0xb8], &v4);
    assert_eq!((run.result, &run.packet), (NOT_APPLICABLE, &v4));

    // ECN: the low two bits of the traffic class. ECT(0), ECT(1) and CE become CE (0b11);
    // Not-ECT is left alone and reported with 1.
    for (tc, ret, after) in [
        (0xb8 | 0b10, 0, 0xb8 | 0b11), // ECT(0)
        (0xb8 | 0b01, 0, 0xb8 | 0b11), // ECT(1)
        (0xb8 | 0b11, 0, 0xb8 | 0b11), // CE
        (0xb8, 1, 0xb8),               // Not-ECT
        (0x02, 0, 0x03),
    ] {
        let run = lab.call_run("ip6_set_ecn", &[], &with_tc(tc));
        assert_eq!(
            (run.verdict, run.result, run.packet),
            (xdp::PASS, ret, with_tc(after)),
            "tc {tc:#x}"
        );
    }
    assert_eq!(lab.call("ip6_set_ecn", &[], &v4), NOT_APPLICABLE);
    assert_eq!(lab.call("ip6_set_ecn", &[], &arp()), NOT_APPLICABLE);
}

#[test]
fn kernel_ip4_set_tos_keeps_the_header_checksum_valid() {
    let lab = Lab::new(&["ip4_set_tos"]);
    // Several headers so the checksum field takes many values, every TOS on each.
    for (src, dst, payload) in [
        (A4, B4, 16),
        (C4, A4, 0),
        (
            Ipv4Addr::new(255, 255, 255, 255),
            Ipv4Addr::new(0, 0, 0, 0),
            3,
        ),
    ] {
        let pkt = ipv4_udp(src, dst, 1000, 53, payload);
        assert_eq!(internet_checksum(&pkt[14..34]), 0);
        for tc in 0..=255u8 {
            let run = lab.call_run("ip4_set_tos", &[u64::from(tc)], &pkt);
            assert_eq!((run.verdict, run.result), (xdp::PASS, 0), "tos {tc:#x}");
            let mut want = pkt.clone();
            want[15] = tc;
            want[24..26].copy_from_slice(&[0, 0]);
            let sum = internet_checksum(&want[14..34]);
            want[24..26].copy_from_slice(&sum.to_be_bytes());
            assert_eq!(
                run.packet, want,
                "tos {tc:#x}: TOS and the recomputed checksum"
            );
            assert_eq!(internet_checksum(&run.packet[14..34]), 0, "tos {tc:#x}");
        }
    }
    let pkt = ipv4_udp(A4, B4, 1000, 53, 16);
    let run = lab.call_run("ip4_set_tos", &[256], &pkt);
    assert_eq!((run.result, &run.packet), (NOT_APPLICABLE, &pkt));
    let v6 = ipv6_udp(A6, B6, 1, 2, 0);
    let run = lab.call_run("ip4_set_tos", &[0xb8], &v6);
    assert_eq!((run.result, &run.packet), (NOT_APPLICABLE, &v6));
    assert_eq!(lab.call("ip4_set_tos", &[0], &arp()), NOT_APPLICABLE);
}

#[test]
fn kernel_ip_programs_never_read_past_a_truncated_header() {
    let lab = Lab::new(&["ip6_hset_srcdst", "ip4_set_tos", "lse", "ip6_set_tos"]);
    // The loader sets HIKE_META_IPV6/IPV4 only for a whole fixed header: cut it short.
    let v6 = ipv6_udp(A6, B6, 1, 2, 0);
    let v4 = ipv4_udp(A4, B4, 1, 2, 0);
    // At TC the kernel's test run refuses these frames: `takes` leaves them to the XDP run of
    // the same source.
    for cut in [14, 20, 53].into_iter().filter(|&c| lab.takes(&v6[..c])) {
        let p = &v6[..cut];
        assert_eq!(
            lab.call("ip6_hset_srcdst", &[1], p),
            NOT_APPLICABLE,
            "{cut}"
        );
        assert_eq!(lab.call("ip6_set_tos", &[1], p), NOT_APPLICABLE, "{cut}");
        assert_eq!(lab.call("lse", &[], p), u64::MAX, "{cut}");
    }
    for cut in [14, 33].into_iter().filter(|&c| lab.takes(&v4[..c])) {
        assert_eq!(
            lab.call("ip4_set_tos", &[1], &v4[..cut]),
            NOT_APPLICABLE,
            "{cut}"
        );
    }
}
