//! A one-line description of an Ethernet frame for `eclat run`'s human output: protocol,
//! addresses and ports (`udp 2001:db8::a port 40000 → 2001:db8::b port 53, 70 bytes`), so
//! that a reader knows which packet a verdict is about without decoding hex.
//!
//! A best-effort reading of the headers for people, not a parser programs rely on: what the
//! loader itself found is in the packet metadata (`hike_parse`), which this does not try to
//! reproduce exactly (e.g. it walks fewer IPv6 extension headers).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Bytes of an Ethernet header (destination, source, EtherType).
pub const ETH_HLEN: usize = 14;

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_VLAN: [u16; 2] = [0x8100, 0x88a8];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// `udp 192.0.2.1 port 1000 → 192.0.2.2 port 53, 60 bytes`, `arp, 42 bytes`, …
pub fn describe(frame: &[u8]) -> String {
    let what = headers(frame).unwrap_or_else(|| "truncated headers".into());
    format!("{what}, {} bytes", frame.len())
}

fn headers(f: &[u8]) -> Option<String> {
    let mut proto = be16(f, 12)?;
    let mut off = ETH_HLEN;
    let mut vlan = String::new();
    // Up to two VLAN tags (802.1Q, QinQ).
    for _ in 0..2 {
        if !ETH_P_VLAN.contains(&proto) {
            break;
        }
        vlan.push_str(&format!("vlan {} ", be16(f, off)? & 0x0fff));
        proto = be16(f, off + 2)?;
        off += 4;
    }
    let rest = match proto {
        ETH_P_IPV4 => ipv4(f, off)?,
        ETH_P_IPV6 => ipv6(f, off)?,
        ETH_P_ARP => "arp".into(),
        other => format!("ethertype {other:#06x}"),
    };
    Some(format!("{vlan}{rest}"))
}

fn ipv4(f: &[u8], off: usize) -> Option<String> {
    let h = f.get(off..off + 20)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
    let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
    // A non-first fragment has no L4 header.
    let later_fragment = be16(h, 6)? & 0x1fff != 0;
    Some(l4(
        f,
        off + ihl,
        h[9],
        &src.to_string(),
        &dst.to_string(),
        later_fragment,
    ))
}

fn ipv6(f: &[u8], off: usize) -> Option<String> {
    let h = f.get(off..off + 40)?;
    let octets = |at: usize| -> [u8; 16] { h[at..at + 16].try_into().expect("16 bytes") };
    let src = Ipv6Addr::from(octets(8)).to_string();
    let dst = Ipv6Addr::from(octets(24)).to_string();
    let mut next = h[6];
    let mut at = off + 40;
    let mut later_fragment = false;
    // Hop-by-hop, routing, destination options, fragment: a few, as a reader would skip them.
    for _ in 0..4 {
        match next {
            0 | 43 | 60 => {
                next = *f.get(at)?;
                at += (usize::from(*f.get(at + 1)?) + 1) * 8;
            }
            44 => {
                later_fragment = be16(f, at + 2)? & 0xfff8 != 0;
                next = *f.get(at)?;
                at += 8;
            }
            _ => break,
        }
    }
    Some(l4(f, at, next, &src, &dst, later_fragment))
}

fn l4(f: &[u8], at: usize, proto: u8, src: &str, dst: &str, later_fragment: bool) -> String {
    let name = match proto {
        1 => "icmp".to_owned(),
        6 => "tcp".to_owned(),
        17 => "udp".to_owned(),
        58 => "icmpv6".to_owned(),
        p => format!("ip proto {p}"),
    };
    if later_fragment {
        return format!("{name} {src} → {dst} (fragment)");
    }
    match proto {
        6 | 17 => match (be16(f, at), be16(f, at + 2)) {
            (Some(sport), Some(dport)) => {
                format!("{name} {src} port {sport} → {dst} port {dport}")
            }
            _ => format!("{name} {src} → {dst} (truncated)"),
        },
        1 | 58 => match (f.get(at), f.get(at + 1)) {
            (Some(t), Some(c)) => format!("{name} {src} → {dst} type {t} code {c}"),
            _ => format!("{name} {src} → {dst} (truncated)"),
        },
        _ => format!("{name} {src} → {dst}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(proto: u16, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&proto.to_be_bytes());
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn ipv4_udp_and_icmp() {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        ip.extend_from_slice(&[0x03, 0xe8, 0x00, 0x35, 0, 8, 0, 0]);
        let f = eth(ETH_P_IPV4, &ip);
        assert_eq!(
            describe(&f),
            "udp 192.0.2.1 port 1000 → 192.0.2.2 port 53, 42 bytes"
        );
        ip[9] = 1;
        ip[20] = 8;
        ip[21] = 0;
        assert_eq!(
            describe(&eth(ETH_P_IPV4, &ip)),
            "icmp 192.0.2.1 → 192.0.2.2 type 8 code 0, 42 bytes"
        );
    }

    #[test]
    fn ipv6_behind_a_vlan_tag_and_other_frames() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 8, 6, 64];
        ip.extend_from_slice(&"2001:db8::a".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&"2001:db8::b".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&[0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 0]);
        let mut tagged = vec![0x00, 0x07];
        tagged.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
        tagged.extend_from_slice(&ip);
        assert_eq!(
            describe(&eth(0x8100, &tagged)),
            "vlan 7 tcp 2001:db8::a port 40000 → 2001:db8::b port 80, 66 bytes"
        );
        assert_eq!(describe(&eth(ETH_P_ARP, &[0; 28])), "arp, 42 bytes");
        assert_eq!(describe(&eth(0x88cc, &[])), "ethertype 0x88cc, 14 bytes");
        assert_eq!(
            describe(&eth(ETH_P_IPV6, &[0x60])),
            "truncated headers, 15 bytes"
        );
    }
}
