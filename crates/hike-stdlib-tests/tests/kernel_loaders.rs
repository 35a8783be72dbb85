//! Kernel tests (root) of the standard loaders: which packets start which chain, driven by the
//! loaders' maps, and the default verdict for everything else.

use hike_isa::abi::{chain_ref, CHAIN_REF_NONE};
use hike_testkit::packet::*;
use hike_testkit::*;

/// Chain that drops the packet.
const DROPS: u32 = 10;
/// Chain that returns 11 (the packet gets the loader's default verdict).
const RETURNS_11: u32 = 11;
/// Chain 0, a valid chain ID like any other: returns 77.
const CHAIN_0: u32 = 0;
/// A chain ID with no chain installed.
const MISSING: u32 = 500;

fn lab(loader: &str) -> Lab {
    let lab = Lab::with_loader(loader, &["hike_drop"]);
    lab.install(DROPS, "call prog hike_drop\nexit");
    lab.install(RETURNS_11, "r0 = 11\nexit");
    lab.install(CHAIN_0, "r0 = 77\nexit");
    lab
}

/// Writes `value` (a chain ID, or a `hike_chain_ref` for the single-chain classifiers) at
/// `key` of the loader's map.
fn set_chain(lab: &Lab, map: &str, key: &[u8], value: u32) {
    lab.loader()
        .map(map)
        .unwrap_or_else(|e| panic!("{map}: {e}"))
        .update(key, &value.to_ne_bytes(), Default::default())
        .unwrap_or_else(|e| panic!("write {map}: {e}"));
}

/// (verdict, booted, result if booted: r0 of the top chain, 0 when a program ended the packet).
fn outcome(lab: &Lab, pkt: &[u8]) -> (u32, bool, Option<u64>) {
    let run = lab.run(pkt);
    (run.verdict, run.booted, run.booted.then_some(run.result))
}

/// A classifier that sends every packet of one family (`mine`) to the chain at key 0 of
/// `map`, an array of one `hike_chain_ref` (chain ID + 1, 0 for no chain); `others` are packets
/// it must leave to the default verdict.
fn check_single_chain_classifier(loader: &str, map: &str, mine: &[u8], others: &[&[u8]]) {
    let lab = lab(loader);
    // At TC the kernel's test run refuses IP frames cut inside their header (the XDP run of
    // the same source checks them).
    let others: Vec<&[u8]> = others.iter().copied().filter(|p| lab.takes(p)).collect();
    let key = 0u32.to_ne_bytes();
    let not_booted = (xdp::PASS, false, None);
    let select = |chain: u32| set_chain(&lab, map, &key, chain_ref(chain));

    assert_eq!(
        outcome(&lab, mine),
        not_booted,
        "{loader}: new (zeroed) map"
    );
    select(DROPS);
    assert_eq!(outcome(&lab, mine), (xdp::DROP, true, Some(0)), "{loader}");
    for p in &others {
        assert_eq!(outcome(&lab, p), not_booted, "{loader}: other packet");
    }
    select(RETURNS_11);
    assert_eq!(outcome(&lab, mine), (xdp::PASS, true, Some(11)), "{loader}");
    select(CHAIN_0);
    assert_eq!(
        outcome(&lab, mine),
        (xdp::PASS, true, Some(77)),
        "{loader}: chain 0"
    );

    // A chain that is not installed is a fault: the fail-safe verdict.
    select(MISSING);
    let run = lab.run(mine);
    assert_eq!(
        (run.verdict, run.fault),
        (xdp::ABORTED, 10),
        "{loader}: no_chain"
    );

    // Configured verdicts: the default applies to the packets no chain applies to and to a
    // chain that returns.
    lab.set_verdicts(xdp::DROP, xdp::PASS);
    for p in &others {
        assert_eq!(
            outcome(&lab, p),
            (xdp::DROP, false, None),
            "{loader}: default"
        );
    }
    select(RETURNS_11);
    assert_eq!(outcome(&lab, mine), (xdp::DROP, true, Some(11)), "{loader}");
    // An array entry cannot be deleted: "no chain" is the zero reference.
    set_chain(&lab, map, &key, CHAIN_REF_NONE);
    assert_eq!(
        outcome(&lab, mine),
        (xdp::DROP, false, None),
        "{loader}: no chain"
    );
}

#[test]
fn kernel_ip6_sc_runs_every_ipv6_packet() {
    let v6 = ipv6_udp(A6, B6, 1, 2, 0);
    check_single_chain_classifier(
        "ip6_sc",
        "ipv6_sc_map",
        &v6,
        &[&arp(), &ipv4_udp(A4, B4, 1, 2, 0), &v6[..53]],
    );
}

#[test]
fn kernel_ip6_simple_classifier_runs_every_ipv6_packet() {
    let v6 = ipv6_packet(C6, A6, 6, &tcp(1, 2, 2));
    check_single_chain_classifier(
        "ip6_simple_classifier",
        "ipv6_simple_classifier_map",
        &v6,
        &[&arp(), &ipv4_udp(A4, B4, 1, 2, 0), &v6[..53]],
    );
}

#[test]
fn kernel_ip4_sc_runs_every_ipv4_packet() {
    let v4 = ipv4_udp(A4, B4, 1, 2, 0);
    check_single_chain_classifier(
        "ip4_sc",
        "ipv4_sc_map",
        &v4,
        &[&arp(), &ipv6_udp(A6, B6, 1, 2, 0), &v4[..33]],
    );
}

#[test]
fn kernel_ip_sc_runs_every_ipv4_and_ipv6_packet() {
    let v4 = ipv4_udp(A4, B4, 1, 2, 0);
    let v6 = ipv6_udp(A6, B6, 1, 2, 0);
    // Each family alone, with ARP and cut-short packets of both left to the default verdict.
    let others: [&[u8]; 3] = [&arp(), &v4[..33], &v6[..53]];
    check_single_chain_classifier("ip_sc", "ip_sc_map", &v4, &others);
    check_single_chain_classifier("ip_sc", "ip_sc_map", &v6, &others);
    // One chain for both families at once.
    let lab = lab("ip_sc");
    set_chain(
        &lab,
        "ip_sc_map",
        &0u32.to_ne_bytes(),
        chain_ref(RETURNS_11),
    );
    for (family, pkt) in [("IPv4", &v4), ("IPv6", &v6)] {
        assert_eq!(outcome(&lab, pkt), (xdp::PASS, true, Some(11)), "{family}");
    }
    assert_eq!(outcome(&lab, &arp()), (xdp::PASS, false, None), "ARP");
}

#[test]
fn kernel_ip6_dst_cls_picks_the_chain_by_destination() {
    let lab = lab("ip6_dst_cls");
    let map = "ip6_dst_cls_map";
    set_chain(&lab, map, &B6.octets(), DROPS);
    set_chain(&lab, map, &C6.octets(), RETURNS_11);
    set_chain(&lab, map, &A4.to_ipv6_mapped().octets(), DROPS);

    let not_booted = (xdp::PASS, false, None);
    assert_eq!(
        outcome(&lab, &ipv6_udp(A6, B6, 1, 2, 0)),
        (xdp::DROP, true, Some(0))
    );
    assert_eq!(
        outcome(&lab, &ipv6_udp(C6, B6, 1, 2, 0)),
        (xdp::DROP, true, Some(0)),
        "any source"
    );
    assert_eq!(
        outcome(&lab, &ipv6_udp(A6, C6, 1, 2, 0)),
        (xdp::PASS, true, Some(11))
    );
    assert_eq!(
        outcome(&lab, &ipv6_udp(B6, A6, 1, 2, 0)),
        not_booted,
        "the source is not looked at"
    );
    assert_eq!(
        outcome(&lab, &ipv4_udp(B4, A4, 1, 2, 0)),
        not_booted,
        "IPv4"
    );
    assert_eq!(outcome(&lab, &arp()), not_booted, "ARP");

    lab.loader().map(map).unwrap().delete(&B6.octets()).unwrap();
    assert_eq!(outcome(&lab, &ipv6_udp(A6, B6, 1, 2, 0)), not_booted);
    lab.set_verdicts(xdp::DROP, xdp::ABORTED);
    assert_eq!(
        outcome(&lab, &ipv6_udp(A6, B6, 1, 2, 0)),
        (xdp::DROP, false, None)
    );
}

/// Chain that returns the byte at `l3_off + off` (the metadata's L3 offset): the hop limit
/// (`off` 7) of IPv6, the TTL (8) of IPv4.
fn l3_byte_chain(off: i32) -> String {
    format!(
        "r1 = 0x2000000000 ll\nr1 = *(u16 *)(r1 + 10)\nr1 += {off}\nr2 = 1\ncall pkt_load\nexit"
    )
}

/// `frame` behind an 802.1Q tag, or with `qinq` also an 802.1ad outer tag.
fn tagged(frame: &[u8], qinq: bool) -> Vec<u8> {
    let inner = vlan_tagged(frame, TPID_8021Q, 100);
    if qinq {
        vlan_tagged(&inner, TPID_8021AD, 7)
    } else {
        inner
    }
}

/// The single-chain classifiers run their family's packets behind one or two VLAN tags, and
/// the chain finds the L3 header where the loader's metadata says.
#[test]
fn kernel_single_chain_classifiers_see_through_vlan_tags() {
    // (loader, its map, a packet of its family, one of another, the offset read from l3_off)
    let cases = [
        (
            "ip6_sc",
            "ipv6_sc_map",
            ipv6_udp(A6, B6, 1, 2, 0),
            ipv4_udp(A4, B4, 1, 2, 0),
            7,
        ),
        (
            "ip6_simple_classifier",
            "ipv6_simple_classifier_map",
            ipv6_udp(A6, B6, 1, 2, 0),
            arp(),
            7,
        ),
        (
            "ip4_sc",
            "ipv4_sc_map",
            ipv4_udp(A4, B4, 1, 2, 0),
            ipv6_udp(A6, B6, 1, 2, 0),
            8,
        ),
    ];
    for (loader, map, mine, other, off) in cases {
        let lab = lab(loader);
        lab.install(12, &l3_byte_chain(off));
        set_chain(&lab, map, &0u32.to_ne_bytes(), chain_ref(12));
        for qinq in [false, true] {
            let what = format!("{loader}, qinq {qinq}");
            assert_eq!(
                outcome(&lab, &tagged(&mine, qinq)),
                (xdp::PASS, true, Some(64)),
                "{what}: the hop limit or TTL at l3_off"
            );
            assert_eq!(
                outcome(&lab, &tagged(&other, qinq)),
                (xdp::PASS, false, None),
                "{what}: another family"
            );
        }
    }
}

#[test]
fn kernel_ip6_dst_cls_reads_the_destination_behind_vlan_tags() {
    let lab = lab("ip6_dst_cls");
    let map = "ip6_dst_cls_map";
    set_chain(&lab, map, &B6.octets(), DROPS);
    set_chain(&lab, map, &C6.octets(), RETURNS_11);
    for qinq in [false, true] {
        assert_eq!(
            outcome(&lab, &tagged(&ipv6_udp(A6, B6, 1, 2, 0), qinq)),
            (xdp::DROP, true, Some(0)),
            "qinq {qinq}"
        );
        assert_eq!(
            outcome(&lab, &tagged(&ipv6_udp(A6, C6, 1, 2, 0), qinq)),
            (xdp::PASS, true, Some(11)),
            "qinq {qinq}"
        );
        assert_eq!(
            outcome(&lab, &tagged(&ipv6_udp(B6, A6, 1, 2, 0), qinq)),
            (xdp::PASS, false, None),
            "qinq {qinq}: the source is not looked at"
        );
    }
}
