//! Frames a lab sends: Ethernet + IPv6 + UDP, with valid lengths and checksum.

use std::net::Ipv6Addr;

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// IPv6 header length.
pub const IPV6_LEN: usize = 40;
/// UDP header length.
pub const UDP_LEN: usize = 8;
/// The hop limit of every frame built here.
pub const HOP_LIMIT: u8 = 64;

/// An Ethernet + IPv6 + UDP frame to build (traffic class 0, flow label 0, hop limit
/// [`HOP_LIMIT`]).
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
        let udp_len = UDP_LEN + self.payload.len();
        let mut p = vec![0u8; ETH_LEN + IPV6_LEN + udp_len];
        // Ethernet: destination, source, EtherType IPv6.
        p[0..6].copy_from_slice(&self.dst_mac);
        p[6..12].copy_from_slice(&self.src_mac);
        p[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        // IPv6: version 6, traffic class 0, flow label 0; payload length; next header UDP; hops.
        let payload_len = u16::try_from(udp_len).expect("a frame of less than 64 KiB");
        p[14] = 0x60;
        p[18..20].copy_from_slice(&payload_len.to_be_bytes());
        p[20] = 17;
        p[21] = HOP_LIMIT;
        let (src, dst) = (self.src.octets(), self.dst.octets());
        p[22..38].copy_from_slice(&src);
        p[38..54].copy_from_slice(&dst);
        // UDP: ports, length, checksum (filled below), payload.
        p[54..56].copy_from_slice(&self.src_port.to_be_bytes());
        p[56..58].copy_from_slice(&self.dst_port.to_be_bytes());
        p[58..60].copy_from_slice(&payload_len.to_be_bytes());
        p[62..].copy_from_slice(self.payload);
        let checksum = udp6_checksum(&src, &dst, &p[54..]);
        p[60..62].copy_from_slice(&checksum.to_be_bytes());
        p
    }
}

/// The UDP checksum over the IPv6 pseudo-header and `udp` (header with a zero checksum field,
/// then payload). Never 0: IPv6 forbids an absent UDP checksum, so 0 is sent as `0xffff`.
pub fn udp6_checksum(src: &[u8; 16], dst: &[u8; 16], udp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + udp.len() + 1);
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    pseudo.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(udp);
    if pseudo.len() % 2 == 1 {
        pseudo.push(0);
    }
    let mut sum: u32 = pseudo
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
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
}
