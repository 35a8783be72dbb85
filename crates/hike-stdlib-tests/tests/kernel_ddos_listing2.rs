//! Kernel test (root): Listing 2 of the HIKe/eCLAT paper (`ddos_tb_2_lev`), written by hand in
//! HIKe assembly, on the standard programs behind the `basic.ip6_sc` loader. A flood from one
//! (src, dst) pair passes while the token buckets allow it, then the pair is blacklisted and
//! dropped, and exactly one blacklisted packet in 500 is redirected to ifindex 6.

use hike_runtime::TestRun;
use hike_testkit::listing2::{EVENT_DROP as DROP, EVENT_PASS as PASS, EVENT_REDIRECT as REDIRECT};
use hike_testkit::packet::*;
use hike_testkit::*;

const CHAIN: u32 = 42;

#[test]
fn kernel_listing2_blacklists_a_flood_and_samples_one_in_500() {
    let lab = Lab::with_loader("ip6_sc", &listing2::PROGRAMS);
    lab.install(CHAIN, listing2::CHAIN_ASM);
    // ip6_sc[ipv6_sc_map] = { (0): (ddos_tb_2_lev) }: the map holds a `hike_chain_ref`.
    lab.select_chain(listing2::SELECT_MAP, CHAIN);
    listing2::set_tiny_buckets(&lab);
    let monitor = lab.map("monitor", "monitor_map");
    let events = |e: u64| counter(&monitor, &e.to_ne_bytes(), 0);

    let flood = ipv6_udp(A6, B6, 40000, 53, 64);
    let verdicts = |n| -> Vec<u32> { (0..n).map(|_| lab.run(&flood).verdict).collect() };
    // Two packets within the destination's bucket, two more within the pair's, then the
    // pair's bucket overflows too: blacklisted and dropped.
    assert_eq!(
        verdicts(5),
        [xdp::PASS, xdp::PASS, xdp::PASS, xdp::PASS, xdp::DROP]
    );
    assert_eq!((events(PASS), events(DROP), events(REDIRECT)), (4, 1, 0));
    assert_eq!(
        lab.map("ip6_hset_srcdst", "ip6_hset_srcdst_map").keys(),
        [ip6_sd_key(A6, B6)]
    );

    // Blacklisted: 499 drops, then the 500th is redirected to ifindex 6, twice over.
    let batch = TestRun {
        packet: &flood,
        repeat: 499,
        ..TestRun::default()
    };
    for round in 1..=2 {
        let run = lab.run_with(&batch);
        assert_eq!(
            (run.verdict, run.redirect_ifindex),
            (xdp::DROP, 0),
            "{round}"
        );
        let run = lab.run(&flood);
        assert_eq!(
            (run.verdict, run.redirect_ifindex, run.fault),
            (xdp::REDIRECT, 6, 0),
            "round {round}: the 500th blacklisted packet"
        );
        assert_eq!(run.packet, flood, "redirected unchanged");
        assert_eq!(
            (events(PASS), events(DROP), events(REDIRECT)),
            (4, 1 + 499 * round, round),
            "round {round}"
        );
    }
    // One by one now: 499 drops, then a redirect.
    let mut redirected = Vec::new();
    for i in 1..=500 {
        let run = lab.run(&flood);
        if run.verdict == xdp::REDIRECT {
            assert_eq!(run.redirect_ifindex, 6);
            redirected.push(i);
        } else {
            assert_eq!(run.verdict, xdp::DROP, "packet {i}");
        }
    }
    assert_eq!(redirected, [500]);
    assert_eq!((events(DROP), events(REDIRECT)), (1 + 499 * 3, 3));

    // Another source towards the same destination is not blacklisted: the destination's
    // bucket is empty, but the new pair's bucket has tokens.
    let other = ipv6_udp(C6, B6, 40000, 53, 64);
    assert_eq!(lab.run(&other).verdict, xdp::PASS);
    assert_eq!(events(PASS), 5);
    // And the flood is still dropped.
    assert_eq!(lab.run(&flood).verdict, xdp::DROP);

    // Not IPv6: the loader's default verdict, no chain.
    let run = lab.run(&arp());
    assert_eq!((run.verdict, run.booted), (xdp::PASS, false));
}
