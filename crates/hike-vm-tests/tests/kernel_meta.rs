//! What the loader's parser writes into the packet metadata that chains read at `HIKE_ADDR_META`:
//! L3/L4 offsets, protocols and flags for IPv4, IPv6 with extension headers, fragments, and
//! non-IP frames, behind zero, one or two VLAN tags; and that the reference VM's parse
//! (`hike_refvm::parse_packet`) gives the same metadata as the kernel loader for each.

use hike_isa::abi::{META_FRAG, META_IPV4, META_IPV6, META_L4, META_VLAN};
use hike_testkit::packet::{
    arp, ethernet, ipv4_header, ipv4_udp, ipv6_udp_packet, udp, vlan_tagged, Ipv4Header, A4, B4,
    DST_MAC, ETHERTYPE_IPV4, IPPROTO_UDP, SRC_MAC, TPID_8021AD, TPID_8021Q,
};
use hike_testkit::Harness;

/// Chain: r0 = flags << 48 | l4_proto << 32 | l4_off << 16 | l3_off.
const READ_META: &str = "
    r1 = 0x2000000000 ll
    r0 = *(u8 *)(r1 + 15)
    r0 <<= 16
    r2 = *(u8 *)(r1 + 14)
    r0 |= r2
    r0 <<= 16
    r2 = *(u16 *)(r1 + 12)
    r0 |= r2
    r0 <<= 16
    r2 = *(u16 *)(r1 + 10)
    r0 |= r2
    exit
";

fn meta(h: &mut Harness, packet: &[u8]) -> (u8, u8, u16, u16) {
    let r = h.check(1, &[], packet).result;
    ((r >> 48) as u8, (r >> 32) as u8, (r >> 16) as u16, r as u16)
}

/// IPv4 + UDP whose flags and fragment offset field is `frag`.
fn ipv4_udp_frag(frag: u16) -> Vec<u8> {
    let ip = Ipv4Header {
        flags_fragment: frag,
        ..ipv4_header(A4, B4, IPPROTO_UDP)
    };
    ethernet(DST_MAC, SRC_MAC, ETHERTYPE_IPV4, &ip.packet(&udp(1, 2, 22)))
}

/// IPv6 with a fragment header (next header UDP) whose offset field is `offset` (8-byte units).
fn ipv6_fragment(offset: u16) -> Vec<u8> {
    let mut p = ipv6_udp_packet(80);
    p[20] = 44;
    p[54] = 17;
    p[55] = 0;
    p[56..58].copy_from_slice(&(offset << 3 | 1).to_be_bytes());
    p
}

#[test]
fn kernel_loader_metadata_describes_headers_and_fragments() {
    let mut h = Harness::in_both_modes();
    h.install(1, READ_META, 0);
    assert_eq!(
        meta(&mut h, &ipv6_udp_packet(64)),
        (META_IPV6 | META_L4, 17, 54, 14)
    );
    assert_eq!(
        meta(&mut h, &ipv4_udp_frag(0)),
        (META_IPV4 | META_L4, 17, 34, 14)
    );
    // First fragment (MF set, offset 0): the L4 header is there.
    assert_eq!(
        meta(&mut h, &ipv4_udp_frag(0x2000)),
        (META_IPV4 | META_FRAG | META_L4, 17, 34, 14)
    );
    // Later fragment: no L4 header.
    assert_eq!(
        meta(&mut h, &ipv4_udp_frag(0x0010)),
        (META_IPV4 | META_FRAG, 17, 0, 14)
    );
    assert_eq!(
        meta(&mut h, &ipv6_fragment(0)),
        (META_IPV6 | META_FRAG | META_L4, 17, 62, 14)
    );
    assert_eq!(
        meta(&mut h, &ipv6_fragment(4)),
        (META_IPV6 | META_FRAG, 17, 0, 14)
    );
    // ARP: L3 offset only.
    assert_eq!(meta(&mut h, &arp()), (0, 0, 0, 14));
}

/// `frame` behind one 802.1Q tag (VLAN 100) and, with `qinq`, an outer 802.1ad tag (VLAN 7).
fn tagged(frame: &[u8], qinq: bool) -> Vec<u8> {
    let inner = vlan_tagged(frame, TPID_8021Q, 100);
    if qinq {
        vlan_tagged(&inner, TPID_8021AD, 7)
    } else {
        inner
    }
}

#[test]
fn kernel_loader_skips_vlan_tags() {
    let mut h = Harness::in_both_modes();
    h.install(1, READ_META, 0);
    let v6 = ipv6_udp_packet(64);
    let v4 = ipv4_udp(A4, B4, 1, 2, 10);
    assert_eq!(
        meta(&mut h, &tagged(&v6, false)),
        (META_VLAN | META_IPV6 | META_L4, 17, 58, 18)
    );
    assert_eq!(
        meta(&mut h, &tagged(&v6, true)),
        (META_VLAN | META_IPV6 | META_L4, 17, 62, 22)
    );
    assert_eq!(
        meta(&mut h, &tagged(&v4, false)),
        (META_VLAN | META_IPV4 | META_L4, 17, 38, 18)
    );
    assert_eq!(
        meta(&mut h, &tagged(&v4, true)),
        (META_VLAN | META_IPV4 | META_L4, 17, 42, 22)
    );
    assert_eq!(meta(&mut h, &tagged(&arp(), true)), (META_VLAN, 0, 0, 22));
    // A third tag is not skipped: not IP.
    let triple = vlan_tagged(&tagged(&v4, true), TPID_8021Q, 5);
    assert_eq!(meta(&mut h, &triple), (META_VLAN, 0, 0, 22));
    // A tag cut short: the frame is not IP and no tag was skipped.
    assert_eq!(meta(&mut h, &tagged(&v4, false)[..16]), (0, 0, 0, 14));
}

#[test]
fn kernel_loader_and_reference_parse_agree() {
    let mut h = Harness::in_both_modes();
    h.install(1, READ_META, 0);
    let v6 = ipv6_udp_packet(80);
    let v4 = ipv4_udp(A4, B4, 1, 2, 10);
    let mut frames = vec![
        v6.clone(),
        v4.clone(),
        arp(),
        ipv4_udp_frag(0x2000),
        ipv4_udp_frag(0x0010),
        ipv6_fragment(0),
        ipv6_fragment(4),
        v4[..20].to_vec(),
        v6[..50].to_vec(),
    ];
    for f in frames.clone() {
        frames.push(tagged(&f, false));
        frames.push(tagged(&f, true));
    }
    // At TC the kernel's test run refuses IP frames cut inside their header; the loader's
    // parse of them is the XDP build's of the same source.
    let at_tc = hike_testkit::hook::test_hook() != hike_runtime::Hook::Xdp;
    for f in frames
        .iter()
        .filter(|f| !at_tc || hike_testkit::hook::skb_test_run_takes(f))
    {
        let (_, kernel) = h.run_kernel(1, &[], f);
        let reference = hike_refvm::parse_packet(f);
        assert_eq!(
            (
                reference.eth_proto,
                reference.l3_off,
                reference.l4_off,
                reference.l4_proto,
                reference.flags
            ),
            (
                kernel.eth_proto,
                kernel.l3_off,
                kernel.l4_off,
                kernel.l4_proto,
                kernel.flags
            ),
            "frame {}",
            hike_testkit::packet::hex(f)
        );
    }
}
