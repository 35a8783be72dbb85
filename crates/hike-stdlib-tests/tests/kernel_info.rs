//! Kernel tests (root) of `info.show_pkt_info` (events with the selected headers) and
//! `net.udp_port`.

use hike_isa::abi::{Event, EVENT_PROGRAM};
use hike_testkit::packet::*;
use hike_testkit::*;

// bpf/programs/info/show_pkt_info.h
const SUMMARY: u32 = 0x5350_0001;
const ETH: u32 = 0x5350_0002;
const IPV4: u32 = 0x5350_0003;
const IPV6: u32 = 0x5350_0004;
const IPV6_DST: u32 = 0x5350_0005;
const L4: u32 = 0x5350_0006;

fn mac(m: [u8; 6]) -> u64 {
    m.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

fn halves(a: std::net::Ipv6Addr) -> (u64, u64) {
    let n = u128::from(a);
    ((n >> 64) as u64, n as u64)
}

#[test]
fn kernel_show_pkt_info_emits_the_selected_layers() {
    let lab = Lab::new(&["show_pkt_info"]);
    let id = lab.id("show_pkt_info");
    let events = lab.vm().event_reader().expect("open the event ring");
    // Test runs without a context come from the loopback device, ifindex 1.
    let show = |layers: u64, user: u64, pkt: &[u8]| -> Vec<(u32, [u64; 3])> {
        events.drain().expect("drain");
        assert_eq!(lab.call("show_pkt_info", &[layers, user], pkt), 0);
        events
            .drain()
            .expect("read events")
            .into_iter()
            .map(|e: Event| {
                assert_eq!((e.kind, e.prog_id, e.chain_id), (EVENT_PROGRAM, id, id));
                (e.code, [e.values[0], e.values[1], e.values[2]])
            })
            .collect()
    };
    let summary =
        |user: u64, layers: u64, len: usize| (SUMMARY, [user, layers, len as u64 | 1 << 32]);
    let eth = |ethertype: u64| (ETH, [mac(DST_MAC), mac(SRC_MAC), ethertype]);

    let v6 = ipv6_udp(A6, B6, 1000, 53, 16);
    let (a_hi, a_lo) = halves(A6);
    let (b_hi, b_lo) = halves(B6);
    assert_eq!(
        show(7, 484, &v6),
        vec![
            summary(484, 7, v6.len()),
            eth(0x86dd),
            (IPV6, [a_hi, a_lo, 17 | 64 << 8 | 24 << 32]),
            (IPV6_DST, [b_hi, b_lo, 0x12345]),
            (L4, [17, 1000 << 16 | 53, 0]),
        ]
    );
    assert_eq!(
        show(4, 1000, &v6),
        vec![summary(1000, 4, v6.len()), (L4, [17, 1000 << 16 | 53, 0])]
    );
    assert_eq!(show(0, 9, &v6), vec![summary(9, 0, v6.len())]);

    let mut v4 = ipv4_packet(A4, B4, 6, &tcp(443, 50000, 0x12));
    v4[15] = 0xb8; // TOS (the checksum does not matter here)
    assert_eq!(
        show(2 | 4, 1, &v4),
        vec![
            summary(1, 6, v4.len()),
            (
                IPV4,
                [
                    u64::from(u32::from(A4)),
                    u64::from(u32::from(B4)),
                    6 | 64 << 8 | 0xb8 << 16 | 40 << 32
                ]
            ),
            (L4, [6, 443 << 16 | 50000, 0x12]),
        ]
    );

    let icmp6 = ipv6_packet(A6, B6, 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        show(4, 2, &icmp6),
        vec![summary(2, 4, icmp6.len()), (L4, [58, 128 << 8, 0])]
    );

    // ARP has no L3 or L4 header to show.
    let a = arp();
    assert_eq!(show(7, 3, &a), vec![summary(3, 7, a.len()), eth(0x0806)]);
}

#[test]
fn kernel_udp_port_reads_the_destination_port() {
    let lab = Lab::new(&["udp_port"]);
    let port = |pkt: &[u8]| lab.call("udp_port", &[], pkt);
    assert_eq!(port(&ipv6_udp(A6, B6, 1000, 53, 16)), 53);
    assert_eq!(port(&ipv4_udp(A4, B4, 1000, 4789, 0)), 4789);
    assert_eq!(port(&ipv4_udp(A4, B4, 1000, 0xffff, 0)), 0xffff);
    assert_eq!(port(&ipv6_packet(A6, B6, 6, &tcp(1000, 53, 2))), 0, "TCP");
    assert_eq!(port(&arp()), 0, "ARP");

    // After a hop-by-hop options header: the loader walked it.
    let mut hbh = vec![17, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend_from_slice(&udp(1, 8080, 4));
    assert_eq!(port(&ipv6_packet(A6, B6, 0, &hbh)), 8080);

    // IPv4 fragments: the first (MF set, offset 0) has the header; the others do not.
    let mut first = ipv4_udp(A4, B4, 1000, 53, 16);
    first[20] = 0x20;
    first[21] = 0;
    assert_eq!(port(&first), 53, "first fragment");
    let mut later = ipv4_udp(A4, B4, 1000, 53, 16);
    later[20] = 0x00;
    later[21] = 0x03;
    assert_eq!(port(&later), 0, "non-first fragment");

    // A UDP header cut short.
    let v6 = ipv6_udp(A6, B6, 1000, 53, 0);
    assert_eq!(port(&v6[..v6.len() - 5]), 0, "cut short");
}
