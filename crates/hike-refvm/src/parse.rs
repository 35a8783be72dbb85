//! The loader's packet parse in Rust: what `hike_parse()` (`bpf/include/hike/loader.h`) writes
//! into `struct hike_pkt_meta` for a packet, so that a chain run on the reference VM sees the
//! metadata a standard loader would give it on the kernel.
//!
//! It mirrors the C function rule for rule (VLAN tags, IPv4 with its fragments, IPv6 with up to
//! [`IPV6_EXT_MAX`] extension headers) and is checked against it by `hike-vm-tests`
//! (`kernel_meta`). It does not know the interface or queue the packet came from: those are 0.

use hike_isa::abi::{self, PktMeta};

/// IPv6 extension headers walked to find the L4 header (`HIKE_IPV6_EXT_MAX`).
pub const IPV6_EXT_MAX: usize = 4;

/// 802.1Q and 802.1ad tag protocol identifiers.
const VLAN_TPIDS: [u16; 2] = [0x8100, 0x88a8];

/// The metadata `hike_parse()` gives `packet`.
pub fn parse_packet(packet: &[u8]) -> PktMeta {
    let mut meta = PktMeta::default();
    let be16 = |off: usize| u16::from_be_bytes([packet[off], packet[off + 1]]);
    if packet.len() < 14 {
        return meta;
    }
    let mut proto = be16(12);
    let mut off = 14usize;
    if VLAN_TPIDS.contains(&proto) && packet.len() >= 18 {
        meta.flags |= abi::META_VLAN;
        proto = be16(16);
        off = 18;
        if VLAN_TPIDS.contains(&proto) && packet.len() >= 22 {
            proto = be16(20);
            off = 22;
        }
    }
    meta.eth_proto = proto;
    meta.l3_off = off as u16;
    match proto {
        0x0800 => ipv4(packet, off, &mut meta),
        0x86dd => ipv6(packet, off, &mut meta),
        _ => {}
    }
    meta
}

fn ipv4(packet: &[u8], off: usize, meta: &mut PktMeta) {
    if packet.len() < off + 20 {
        return;
    }
    let ip = &packet[off..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 {
        return;
    }
    meta.flags |= abi::META_IPV4;
    meta.l4_proto = ip[9];
    if (ip[6] & 0x3f) | ip[7] != 0 {
        meta.flags |= abi::META_FRAG;
        if (ip[6] & 0x1f) | ip[7] != 0 {
            return;
        }
    }
    if packet.len() < off + ihl {
        return;
    }
    meta.l4_off = (off + ihl) as u16;
    meta.flags |= abi::META_L4;
}

fn ipv6(packet: &[u8], l3: usize, meta: &mut PktMeta) {
    if packet.len() < l3 + 40 {
        return;
    }
    meta.flags |= abi::META_IPV6;
    let mut next = packet[l3 + 6];
    let mut off = l3 + 40;
    for _ in 0..IPV6_EXT_MAX {
        if !matches!(next, 0 | 43 | 44 | 60) {
            break;
        }
        let at = off & 0xfff;
        if packet.len() < at + 8 {
            return;
        }
        let ext = &packet[at..at + 8];
        if next == 44 {
            meta.flags |= abi::META_FRAG;
            if (u16::from(ext[2]) << 5 | u16::from(ext[3]) >> 3) != 0 {
                meta.l4_proto = ext[0];
                return;
            }
            off += 8;
        } else {
            off += (usize::from(ext[1]) + 1) * 8;
        }
        next = ext[0];
    }
    meta.l4_proto = next;
    if off > 0xfff || off > packet.len() {
        return;
    }
    meta.l4_off = off as u16;
    meta.flags |= abi::META_L4;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet (ethertype `proto`) followed by `payload`.
    fn eth(proto: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&proto.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    /// `frame` with a tag (`tpid`, VLAN `vid`) after its MACs.
    fn tag(frame: &[u8], tpid: u16, vid: u16) -> Vec<u8> {
        let mut p = frame[..12].to_vec();
        p.extend_from_slice(&tpid.to_be_bytes());
        p.extend_from_slice(&vid.to_be_bytes());
        p.extend_from_slice(&frame[12..]);
        p
    }

    fn ipv4_udp() -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        ip.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        eth(0x0800, &ip)
    }

    #[test]
    fn vlan_tags_move_the_l3_offset() {
        let plain = parse_packet(&ipv4_udp());
        assert_eq!(
            (plain.eth_proto, plain.l3_off, plain.l4_off, plain.flags),
            (0x0800, 14, 34, abi::META_IPV4 | abi::META_L4)
        );
        let one = parse_packet(&tag(&ipv4_udp(), 0x8100, 100));
        assert_eq!(
            (one.eth_proto, one.l3_off, one.l4_off, one.flags),
            (
                0x0800,
                18,
                38,
                abi::META_VLAN | abi::META_IPV4 | abi::META_L4
            )
        );
        let two = parse_packet(&tag(&tag(&ipv4_udp(), 0x8100, 100), 0x88a8, 7));
        assert_eq!((two.l3_off, two.l4_off, two.l4_proto), (22, 42, 17));
        let three = parse_packet(&tag(
            &tag(&tag(&ipv4_udp(), 0x8100, 1), 0x8100, 2),
            0x88a8,
            3,
        ));
        assert_eq!(
            (three.eth_proto, three.l3_off, three.flags),
            (0x8100, 22, abi::META_VLAN)
        );
        let cut = parse_packet(&tag(&ipv4_udp(), 0x8100, 100)[..16]);
        assert_eq!((cut.eth_proto, cut.l3_off, cut.flags), (0x8100, 14, 0));
        assert_eq!(parse_packet(&[0u8; 13]), PktMeta::default());
    }
}
