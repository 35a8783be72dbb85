//! Frames to build, header by header: Ethernet, IPv6, IPv4, UDP, TCP and ARP, with their
//! length fields and checksums. The one place that knows where each field of a frame goes:
//! the labs' traffic ([`Ipv6Udp`]) and the kernel tests' packets (`hike-testkit`) are built
//! from these pieces.
//!
//! Each builder returns its header followed by the payload it is given, so a frame is built
//! inside out: `ethernet(dst, src, ETHERTYPE_IPV6, &ipv6.packet(&udp(1, 2, b"hi")))`. Every
//! multi-byte field is in network byte order. A UDP header is built with a zero checksum;
//! [`Ipv6Udp::frame`] fills it in ([`udp6_checksum`]), a test that wants it left out does not.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// IPv6 header length.
pub const IPV6_LEN: usize = 40;
/// IPv4 header length (no options).
pub const IPV4_LEN: usize = 20;
/// UDP header length.
pub const UDP_LEN: usize = 8;
/// TCP header length (no options).
pub const TCP_LEN: usize = 20;
/// The hop limit of every frame built here.
pub const HOP_LIMIT: u8 = 64;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IP protocol number (IPv6 next header) of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number (IPv6 next header) of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// An Ethernet header (destination, source, `ethertype`) followed by `payload`.
pub fn ethernet(dst_mac: [u8; 6], src_mac: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(ETH_LEN + payload.len());
    p.extend_from_slice(&dst_mac);
    p.extend_from_slice(&src_mac);
    p.extend_from_slice(&ethertype.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// 802.1Q VLAN tag protocol identifier (a customer tag, and the inner tag of QinQ).
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad tag protocol identifier (the outer, service tag of QinQ).
pub const TPID_8021AD: u16 = 0x88a8;

/// `frame` with a VLAN tag inserted after its MAC addresses: tag protocol `tpid`
/// ([`TPID_8021Q`] or [`TPID_8021AD`]) and tag control `tci` (priority in the top 3 bits, VLAN
/// ID in the low 12). Tagging a tagged frame adds an outer tag (QinQ).
pub fn vlan_tagged(frame: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    assert!(frame.len() >= ETH_LEN, "a frame has an Ethernet header");
    let mut p = Vec::with_capacity(frame.len() + 4);
    p.extend_from_slice(&frame[..12]);
    p.extend_from_slice(&tpid.to_be_bytes());
    p.extend_from_slice(&tci.to_be_bytes());
    p.extend_from_slice(&frame[12..]);
    p
}

/// The fields of an IPv6 header (version 6, no extension headers of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The next header: [`IPPROTO_UDP`], [`IPPROTO_TCP`], an extension header, ….
    pub next_header: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6Header {
    /// The header, with its payload length, followed by `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let first_word =
            (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xf_ffff);
        let payload_len = u16::try_from(payload.len()).expect("an IPv6 payload below 64 KiB");
        let mut p = Vec::with_capacity(IPV6_LEN + payload.len());
        p.extend_from_slice(&first_word.to_be_bytes());
        p.extend_from_slice(&payload_len.to_be_bytes());
        p.push(self.next_header);
        p.push(self.hop_limit);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(payload);
        p
    }
}

/// The fields of an IPv4 header (no options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The protocol: [`IPPROTO_UDP`], [`IPPROTO_TCP`], ….
    pub protocol: u8,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub id: u16,
    /// Flags (`0x4000`: don't fragment, `0x2000`: more fragments) and fragment offset.
    pub flags_fragment: u16,
    /// Time to live.
    pub ttl: u8,
}

impl Ipv4Header {
    /// The header, with its total length and a valid header checksum, followed by `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(IPV4_LEN + payload.len()).expect("an IPv4 packet below 64 KiB");
        let mut p = Vec::with_capacity(IPV4_LEN + payload.len());
        p.extend_from_slice(&[0x45, self.tos]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&self.id.to_be_bytes());
        p.extend_from_slice(&self.flags_fragment.to_be_bytes());
        p.extend_from_slice(&[self.ttl, self.protocol, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        let checksum = internet_checksum(&p);
        p[10..12].copy_from_slice(&checksum.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// A UDP header (ports, length, a zero checksum) followed by `payload`.
pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(UDP_LEN + payload.len()).expect("a UDP datagram below 64 KiB");
    let mut u = Vec::with_capacity(UDP_LEN + payload.len());
    u.extend_from_slice(&src_port.to_be_bytes());
    u.extend_from_slice(&dst_port.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// A TCP header without options (data offset 5, window and checksum 0) with `flags` (byte
/// 13: `0x02` SYN, `0x10` ACK, …).
pub fn tcp(src_port: u16, dst_port: u16, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; TCP_LEN];
    t[0..2].copy_from_slice(&src_port.to_be_bytes());
    t[2..4].copy_from_slice(&dst_port.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t
}

/// An ARP request over Ethernet and IPv4: who has `target_ip`, tell `sender_ip` at
/// `sender_mac`.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    // Hardware type Ethernet, protocol IPv4, address lengths 6 and 4, operation request.
    let mut a = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
    a.extend_from_slice(&sender_mac);
    a.extend_from_slice(&sender_ip.octets());
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&target_ip.octets());
    a
}

/// The Internet checksum of `bytes` (RFC 1071, an odd last byte padded with zero): a header
/// is valid when this is 0 over the whole header, checksum field included.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The UDP checksum over the IPv6 pseudo-header and `udp` (header with a zero checksum field,
/// then payload). Never 0: IPv6 forbids an absent UDP checksum, so 0 is sent as `0xffff`.
pub fn udp6_checksum(src: &[u8; 16], dst: &[u8; 16], udp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + udp.len());
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    pseudo.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_UDP]);
    pseudo.extend_from_slice(udp);
    match internet_checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    }
}

/// An Ethernet + IPv6 + UDP frame to build (traffic class 0, flow label 0, hop limit
/// [`HOP_LIMIT`], a valid UDP checksum): what the labs send.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Udp<'a> {
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// IPv6 destination.
    pub dst: Ipv6Addr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// UDP payload.
    pub payload: &'a [u8],
}

impl Ipv6Udp<'_> {
    /// The frame's bytes.
    pub fn frame(&self) -> Vec<u8> {
        let mut datagram = udp(self.src_port, self.dst_port, self.payload);
        let checksum = udp6_checksum(&self.src.octets(), &self.dst.octets(), &datagram);
        datagram[6..8].copy_from_slice(&checksum.to_be_bytes());
        let ip = Ipv6Header {
            src: self.src,
            dst: self.dst,
            next_header: IPPROTO_UDP,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: HOP_LIMIT,
        };
        ethernet(
            self.dst_mac,
            self.src_mac,
            ETHERTYPE_IPV6,
            &ip.packet(&datagram),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_has_consistent_lengths_and_a_checksum_that_verifies() {
        let f = Ipv6Udp {
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_mac: [2, 0, 0, 0, 0, 1],
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            src_port: 1234,
            dst_port: 5678,
            payload: b"hi",
        }
        .frame();
        assert_eq!(f.len(), 64);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 10);
        assert_eq!(u16::from_be_bytes([f[58], f[59]]), 10);
        assert_eq!(f[21], HOP_LIMIT);
        // The one's complement sum over the pseudo-header and the UDP part, checksum
        // included, is 0xffff: the receiver's check.
        let mut sum: u32 = f[22..54]
            .chunks_exact(2)
            .chain(f[54..].chunks_exact(2))
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>()
            + 10
            + 17;
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }

    #[test]
    fn headers_put_their_fields_where_the_wire_has_them() {
        let v6 = Ipv6Header {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: IPPROTO_TCP,
            traffic_class: 0xab,
            flow_label: 0x12345,
            hop_limit: 7,
        }
        .packet(&[9; 3]);
        assert_eq!(&v6[..8], &[0x6a, 0xb1, 0x23, 0x45, 0, 3, 6, 7]);
        assert_eq!(v6.len(), IPV6_LEN + 3);
        let v4 = Ipv4Header {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
            protocol: IPPROTO_UDP,
            tos: 0,
            id: 0x1234,
            flags_fragment: 0x4000,
            ttl: 64,
        }
        .packet(&udp(1, 2, b"x"));
        assert_eq!(&v4[..10], &[0x45, 0, 0, 29, 0x12, 0x34, 0x40, 0, 64, 17]);
        assert_eq!(
            internet_checksum(&v4[..IPV4_LEN]),
            0,
            "a valid header checksum"
        );
        assert_eq!(&v4[IPV4_LEN..], &[0, 1, 0, 2, 0, 9, 0, 0, b'x']);
    }
}
