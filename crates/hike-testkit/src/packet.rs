//! The tests' packets: fixed addresses and shapes, built with `hike-netlab`'s header builders
//! (the one place that knows the layout of a frame).
//!
//! Unlike a lab's frames ([`hike_netlab::Ipv6Udp`]), these keep the UDP checksum at 0 and
//! fill payloads with `0, 1, 2, …`, so that a test can tell every byte from its neighbours.
//! IPv6 packets carry the flow label `0x12345` (the VM's own tests: 0), IPv4 packets a valid
//! header checksum.

use std::net::{Ipv4Addr, Ipv6Addr};

use hike_netlab::{arp_request, HOP_LIMIT};

/// The header builders, for a test that builds a packet of its own shape.
pub use hike_netlab::{
    ethernet, internet_checksum, tcp, udp6_checksum, vlan_tagged, Ipv4Header, Ipv6Header,
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, TPID_8021AD,
    TPID_8021Q,
};

/// Test addresses: documentation prefixes (RFC 3849, RFC 5737).
pub const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xa);
/// Second IPv6 test address.
pub const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xb);
/// Third IPv6 test address.
pub const C6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc);
/// First IPv4 test address.
pub const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// Second IPv4 test address.
pub const B4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
/// Third IPv4 test address.
pub const C4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 12);

/// The source MAC of the packets built here.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The destination MAC of the packets built here.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// The flow label of the IPv6 packets built here (but [`ipv6_udp_packet`]'s).
pub const FLOW_LABEL: u32 = 0x12345;

/// `len` payload bytes: `0, 1, 2, …` (wrapping at 256).
fn counting(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

/// Ethernet + IPv6 (traffic class 0, flow label [`FLOW_LABEL`], hop limit 64) + `next` header
/// `l4`.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, next: u8, l4: &[u8]) -> Vec<u8> {
    let ip = Ipv6Header {
        src,
        dst,
        next_header: next,
        traffic_class: 0,
        flow_label: FLOW_LABEL,
        hop_limit: HOP_LIMIT,
    };
    ethernet(DST_MAC, SRC_MAC, ETHERTYPE_IPV6, &ip.packet(l4))
}

/// The IPv4 header of the packets built here: TOS 0, ID `0x1234`, don't fragment, TTL 64.
pub fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Ipv4Header {
    Ipv4Header {
        src,
        dst,
        protocol: proto,
        tos: 0,
        id: 0x1234,
        flags_fragment: 0x4000,
        ttl: 64,
    }
}

/// Ethernet + IPv4 ([`ipv4_header`], valid header checksum) + protocol `proto` header `l4`.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let ip = ipv4_header(src, dst, proto);
    ethernet(DST_MAC, SRC_MAC, ETHERTYPE_IPV4, &ip.packet(l4))
}

/// A UDP header (checksum 0) and `payload` bytes `0, 1, 2, …`.
pub fn udp(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    hike_netlab::udp(sport, dport, &counting(payload))
}

/// Ethernet + IPv6 + UDP.
pub fn ipv6_udp(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    ipv6_packet(src, dst, IPPROTO_UDP, &udp(sport, dport, payload))
}

/// Ethernet + IPv4 + UDP.
pub fn ipv4_udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    ipv4_packet(src, dst, IPPROTO_UDP, &udp(sport, dport, payload))
}

/// An ARP request (who has [`B4`], tell [`A4`]), padded to 60 bytes.
pub fn arp() -> Vec<u8> {
    let mut p = ethernet(
        DST_MAC,
        SRC_MAC,
        ETHERTYPE_ARP,
        &arp_request(SRC_MAC, A4, B4),
    );
    p.resize(60, 0);
    p
}

/// The VM tests' packet: Ethernet + IPv6 (flow label 0) + UDP from `fd00::1` port 4000 to
/// `fd00::2` port 5000, `len` bytes in all (at least 62), payload `0, 1, 2, …`.
pub fn ipv6_udp_packet(len: usize) -> Vec<u8> {
    assert!(len >= 62, "Ethernet + IPv6 + UDP need 62 bytes");
    let ip = Ipv6Header {
        src: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
        dst: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
        next_header: IPPROTO_UDP,
        traffic_class: 0,
        flow_label: 0,
        hop_limit: HOP_LIMIT,
    };
    let l4 = udp(4000, 5000, len - 62);
    ethernet(DST_MAC, SRC_MAC, ETHERTYPE_IPV6, &ip.packet(&l4))
}

/// A (source, destination) key of IPv6 addresses, as the programs store it.
pub fn ip6_sd_key(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    [src.octets(), dst.octets()].concat()
}

/// A (source, destination) key of IPv4 addresses, as the programs store it.
pub fn ip4_sd_key(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    [src.octets(), dst.octets()].concat()
}

/// Lowercase hex of `bytes` (as `eclat run --packet` takes a packet).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packets_are_what_the_tests_were_written_against() {
        // Byte for byte the packets the kernel tests had before they shared this module.
        let mut v6 = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        v6.extend_from_slice(&[0x60, 0x01, 0x23, 0x45, 0, 12, 17, 64]);
        v6.extend_from_slice(&A6.octets());
        v6.extend_from_slice(&B6.octets());
        v6.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 12, 0, 0, 0, 1, 2, 3]);
        assert_eq!(ipv6_udp(A6, B6, 40000, 53, 4), v6);

        let mut ip = vec![0x45, 0, 0, 30, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&A4.octets());
        ip.extend_from_slice(&B4.octets());
        let sum = internet_checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut v4 = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0];
        v4.extend_from_slice(&ip);
        v4.extend_from_slice(&[0, 1, 0, 2, 0, 10, 0, 0, 0, 1]);
        assert_eq!(ipv4_udp(A4, B4, 1, 2, 2), v4);

        let vm = ipv6_udp_packet(64);
        assert_eq!(vm.len(), 64);
        assert_eq!(&vm[14..22], &[0x60, 0, 0, 0, 0, 10, 17, 64]);
        assert_eq!(&vm[54..64], &[0x0f, 0xa0, 0x13, 0x88, 0, 10, 0, 0, 0, 1]);

        let a = arp();
        assert_eq!(a.len(), 60);
        assert_eq!(&a[12..22], &[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        assert_eq!(&a[28..32], &A4.octets());
        assert_eq!(&a[38..42], &B4.octets());
    }
}
