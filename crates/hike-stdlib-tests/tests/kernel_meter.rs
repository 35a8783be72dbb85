//! Kernel tests (root) of package `meter`: token buckets in and out of profile, per key, with
//! their run-time configuration, and the packet/byte meters.

use std::time::{Duration, Instant};

use hike_testkit::packet::*;
use hike_testkit::*;

const IN: u64 = 0;
const OUT: u64 = 1;

/// Token bucket `prog` keyed so that `same_key` shares `pkt`'s bucket and `other_key` does not;
/// `foreign` is of the other family.
fn check_tbmon(
    lab: &Lab,
    prog: &str,
    pkt: &[u8],
    same_key: &[u8],
    other_key: &[u8],
    foreign: &[u8],
) {
    let tb = |p: &[u8]| lab.call(prog, &[], p);
    let cfg = format!("{prog}_cfg");

    // A bucket of 2 tokens refilled at 1 token/s: two packets in, then out, for about a
    // second (the test takes microseconds).
    lab.set_config(prog, &cfg, &[1, 2]);
    assert_eq!(
        [tb(pkt), tb(pkt), tb(pkt), tb(pkt)],
        [IN, IN, OUT, OUT],
        "{prog}"
    );
    assert_eq!(tb(same_key), OUT, "{prog}: same key, same bucket");
    assert_eq!(
        [tb(other_key), tb(other_key), tb(other_key)],
        [IN, IN, OUT],
        "{prog}: own bucket"
    );

    // Refill: at 1000 tokens/s, 5 ms fill the bucket again (capped at its size, 2).
    lab.set_config(prog, &cfg, &[1000, 2]);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!([tb(pkt), tb(pkt)], [IN, IN], "{prog}: refilled");
    lab.set_config(prog, &cfg, &[1, 2]);
    assert_eq!(tb(pkt), OUT, "{prog}: capped at the bucket size");

    // A bigger bucket applies at once; the tokens already there stay as they are.
    lab.set_config(prog, &cfg, &[1, 5]);
    assert_eq!(tb(pkt), OUT, "{prog}: no free tokens from a resize");

    // A smaller bucket applies at once too: the tokens above its size are gone.
    // (Refill is computed at the next packet with the rate then configured: bank it first.)
    lab.set_config(prog, &cfg, &[1000, 1000]);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(tb(pkt), IN, "{prog}: >= 29 tokens left");
    lab.set_config(prog, &cfg, &[1, 2]);
    assert_eq!(
        [tb(pkt), tb(pkt), tb(pkt)],
        [IN, IN, OUT],
        "{prog}: shrunk to 2"
    );

    // The refill rate: at 1000 tokens/s into a bucket of 100, 60 ms refill at least 60 tokens
    // and at most one per ms of the measured time (plus the fraction left before).
    lab.set_config(prog, &cfg, &[1000, 100]);
    let start = Instant::now();
    while tb(pkt) == IN {} // empty the bucket
    std::thread::sleep(Duration::from_millis(60));
    let burst = (0..200).take_while(|_| tb(pkt) == IN).count();
    let bound = start.elapsed().as_millis() as usize + 1;
    assert!(
        (60..=bound).contains(&burst),
        "{prog}: {burst} tokens refilled, expected 60..={bound}"
    );

    // 0 means the default (at least 10000 tokens/s, 1000 tokens): 10 ms refill 100 tokens, so
    // a burst of 50 fits.
    lab.set_config(prog, &cfg, &[0, 0]);
    std::thread::sleep(Duration::from_millis(10));
    let burst: Vec<u64> = (0..50).map(|_| tb(other_key)).collect();
    assert_eq!(burst, vec![IN; 50], "{prog}: defaults");

    assert_eq!(tb(foreign), NOT_APPLICABLE, "{prog}: other family");
    assert_eq!(tb(&arp()), NOT_APPLICABLE, "{prog}: ARP");
}

#[test]
fn kernel_ip6_token_buckets_per_destination_and_per_pair() {
    let lab = Lab::new(&["ip6_dst_tbmon", "ip6_sd_tbmon"]);
    let v4 = ipv4_udp(A4, B4, 1, 2, 0);
    // Per destination: another source to the same destination shares the bucket.
    check_tbmon(
        &lab,
        "ip6_dst_tbmon",
        &ipv6_udp(A6, B6, 1, 2, 0),
        &ipv6_udp(C6, B6, 3, 4, 100),
        &ipv6_udp(A6, C6, 1, 2, 0),
        &v4,
    );
    // Per pair: the same pair with other ports shares it; another source does not.
    check_tbmon(
        &lab,
        "ip6_sd_tbmon",
        &ipv6_udp(A6, B6, 1, 2, 0),
        &ipv6_packet(A6, B6, 6, &tcp(5, 6, 0x02)),
        &ipv6_udp(C6, B6, 1, 2, 0),
        &v4,
    );
}

#[test]
fn kernel_ip4_token_buckets_per_destination_and_per_pair() {
    let lab = Lab::new(&["ip4_dst_tbmon", "ip4_sd_tbmon"]);
    let v6 = ipv6_udp(A6, B6, 1, 2, 0);
    check_tbmon(
        &lab,
        "ip4_dst_tbmon",
        &ipv4_udp(A4, B4, 1, 2, 0),
        &ipv4_udp(C4, B4, 3, 4, 100),
        &ipv4_udp(A4, C4, 1, 2, 0),
        &v6,
    );
    check_tbmon(
        &lab,
        "ip4_sd_tbmon",
        &ipv4_udp(A4, B4, 1, 2, 0),
        &ipv4_packet(A4, B4, 6, &tcp(5, 6, 0x02)),
        &ipv4_udp(C4, B4, 1, 2, 0),
        &v6,
    );
}

#[test]
fn kernel_ip6_meters_count_packets_and_bytes() {
    let lab = Lab::new(&["ip6_dst_meter", "ip6_sd_meter"]);
    let ab = ipv6_udp(A6, B6, 1, 2, 10); // 14 + 40 + 8 + 10 = 72 bytes
    let cb = ipv6_udp(C6, B6, 1, 2, 100); // 162 bytes
    let ac = ipv6_udp(A6, C6, 1, 2, 0); // 62 bytes
    for pkt in [&ab, &ab, &cb, &ac, &ab] {
        assert_eq!(lab.call("ip6_dst_meter", &[], pkt), 0);
        assert_eq!(lab.call("ip6_sd_meter", &[], pkt), 0);
    }
    for prog in ["ip6_dst_meter", "ip6_sd_meter"] {
        assert_eq!(
            lab.call(prog, &[], &ipv4_udp(A4, B4, 1, 2, 0)),
            NOT_APPLICABLE
        );
        assert_eq!(lab.call(prog, &[], &arp()), NOT_APPLICABLE);
    }

    let dst = lab.map("ip6_dst_meter", "ip6_dst_meter_map");
    let count = |key: &[u8]| (counter(&dst, key, 0), counter(&dst, key, 1));
    assert_eq!(count(&B6.octets()), (4, 3 * 72 + 162));
    assert_eq!(count(&C6.octets()), (1, 62));
    assert_eq!(dst.keys().len(), 2);

    let sd = lab.map("ip6_sd_meter", "ip6_sd_meter_map");
    let count = |key: &[u8]| (counter(&sd, key, 0), counter(&sd, key, 1));
    assert_eq!(count(&ip6_sd_key(A6, B6)), (3, 3 * 72));
    assert_eq!(count(&ip6_sd_key(C6, B6)), (1, 162));
    assert_eq!(count(&ip6_sd_key(A6, C6)), (1, 62));
    assert_eq!(count(&ip6_sd_key(B6, A6)), (0, 0));
    assert_eq!(sd.keys().len(), 3);
}
