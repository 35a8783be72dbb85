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
