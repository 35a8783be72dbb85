//! The frames of the tests of eCLAT's packet fields by name (`packet.ip4.ttl`), with what every
//! field reads in each, the writes to try and how to check them, and the address comparisons
//! with their results. The eCLAT compiler's tests run them on the reference VM, the kernel VM
//! tests on both VMs; the expectations come from how each frame was built, not from parsing it.
//!
//! Frames: IPv4 with UDP (checksum set, and 0), TCP and ICMP; IPv6 with a hop-by-hop extension
//! header before UDP, with TCP and with ICMPv6; ARP; each untagged, behind an 802.1Q tag (VLAN
//! 100) and behind QinQ (802.1ad VLAN 7 outside, 802.1Q VLAN 100 inside). Checksums (IPv4
//! header, UDP, TCP, ICMP, ICMPv6) are valid, so that a test can check a write kept them so.

use std::collections::BTreeMap;

use hike_netlab::{ethernet, internet_checksum, tcp, vlan_tagged, Ipv4Header, Ipv6Header};

use crate::packet::{arp, A4, A6, B6, C4, DST_MAC, SRC_MAC, TPID_8021AD, TPID_8021Q};

/// Every field a chain can read, as `layer.field` (the 128-bit addresses by their halves).
pub const READ_FIELDS: &[&str] = &[
    "eth.present",
    "eth.dst",
    "eth.src",
    "eth.proto",
    "eth.vlan",
    "ip4.present",
    "ip4.src",
    "ip4.dst",
    "ip4.proto",
    "ip4.ttl",
    "ip4.tos",
    "ip4.len",
    "ip4.id",
    "ip4.frag",
    "ip4.df",
    "ip4.mf",
    "ip4.fragoff",
    "ip6.present",
    "ip6.src_hi",
    "ip6.src_lo",
    "ip6.dst_hi",
    "ip6.dst_lo",
    "ip6.nexthdr",
    "ip6.hlim",
    "ip6.tc",
    "ip6.flow",
    "ip6.len",
    "ip6.frag",
    "udp.present",
    "udp.sport",
    "udp.dport",
    "udp.len",
    "tcp.present",
    "tcp.sport",
    "tcp.dport",
    "tcp.flags",
    "tcp.seq",
    "tcp.ack",
    "tcp.window",
    "icmp.present",
    "icmp.type",
    "icmp.code",
    "l4.present",
    "l4.proto",
    "l4.sport",
    "l4.dport",
];

/// The L4 header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// UDP; `true` if its checksum is set (else 0).
    Udp(bool),
    /// TCP.
    Tcp,
    /// ICMP or ICMPv6.
    Icmp,
}

/// A test frame and what its fields read.
#[derive(Clone, Debug)]
pub struct FieldFrame {
    /// A name for messages: `ip4-udp/qinq`.
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// VLAN tags (0, 1 or 2).
    pub tags: usize,
    /// 4, 6, or 0 for ARP.
    pub ip: u8,
    /// The L4 header, if any.
    pub l4: Option<L4>,
    /// Offset of the L3 header.
    pub l3_off: usize,
    /// Offset of the L4 header (0 if none).
    pub l4_off: usize,
    /// What each of [`READ_FIELDS`] reads.
    pub expected: BTreeMap<&'static str, u64>,
}

const SPORT: u16 = 1111;
const DPORT: u16 = 2222;
const TCP_SPORT: u16 = 3333;
const TCP_DPORT: u16 = 80;
const TCP_FLAGS: u8 = 0x12;
const TCP_SEQ: u32 = 0x0102_0304;
const TCP_ACK: u32 = 0x0506_0708;
const TCP_WINDOW: u16 = 0x2000;
const IP4_TOS: u8 = 0x28;
const IP4_TTL: u8 = 61;
const IP4_ID: u16 = 0x4321;
const IP6_TC: u8 = 0x2e;
const IP6_FLOW: u32 = 0x1_2345;
const IP6_HLIM: u8 = 33;
/// The outer tag's VLAN ID (802.1Q alone, or 802.1ad of QinQ); the inner one is 100.
pub const VLAN_ONE: u16 = 100;
/// The outer VLAN ID of the QinQ frames.
pub const VLAN_OUTER: u16 = 7;

fn mac48(m: [u8; 6]) -> u64 {
    m.iter().fold(0, |a, &b| a << 8 | u64::from(b))
}

/// The checksum over an IPv4 or IPv6 pseudo-header and `l4` (checksum field included: 0 when
/// valid, or the value to store when the field is 0).
fn pseudo_checksum(src: &[u8], dst: &[u8], proto: u8, l4: &[u8]) -> u16 {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    if src.len() == 4 {
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    } else {
        p.extend_from_slice(&(l4.len() as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
    }
    p.extend_from_slice(l4);
    internet_checksum(&p)
}

/// The L4 header and payload of kind `l4`, its checksum valid over the given addresses.
fn l4_bytes(l4: L4, src: &[u8], dst: &[u8], v6: bool) -> (u8, Vec<u8>) {
    let (proto, mut b, csum_at) = match l4 {
        L4::Udp(_) => (
            17,
            hike_netlab::udp(SPORT, DPORT, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            6,
        ),
        L4::Tcp => {
            let mut t = tcp(TCP_SPORT, TCP_DPORT, TCP_FLAGS);
            t[4..8].copy_from_slice(&TCP_SEQ.to_be_bytes());
            t[8..12].copy_from_slice(&TCP_ACK.to_be_bytes());
            t[14..16].copy_from_slice(&TCP_WINDOW.to_be_bytes());
            (6, t, 16)
        }
        L4::Icmp if v6 => (58, vec![128, 0, 0, 0, 0x12, 0x34, 0, 1], 2),
        L4::Icmp => (1, vec![8, 0, 0, 0, 0x12, 0x34, 0, 1], 2),
    };
    let c = match (l4, v6) {
        (L4::Udp(false), false) => 0,
        (L4::Icmp, false) => internet_checksum(&b),
        _ => match pseudo_checksum(src, dst, proto, &b) {
            0 if matches!(l4, L4::Udp(_)) => 0xffff,
            c => c,
        },
    };
    b[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    (proto, b)
}

fn tagged(frame: Vec<u8>, tags: usize) -> Vec<u8> {
    match tags {
        0 => frame,
        1 => vlan_tagged(&frame, TPID_8021Q, 3 << 13 | VLAN_ONE),
        _ => vlan_tagged(
            &vlan_tagged(&frame, TPID_8021Q, VLAN_ONE),
            TPID_8021AD,
            VLAN_OUTER,
        ),
    }
}

/// Every test frame.
pub fn frames() -> Vec<FieldFrame> {
    let shapes: [(u8, Option<L4>, &str); 8] = [
        (4, Some(L4::Udp(true)), "ip4-udp"),
        (4, Some(L4::Udp(false)), "ip4-udp-nocsum"),
        (4, Some(L4::Tcp), "ip4-tcp"),
        (4, Some(L4::Icmp), "ip4-icmp"),
        (6, Some(L4::Udp(true)), "ip6-hbh-udp"),
        (6, Some(L4::Tcp), "ip6-tcp"),
        (6, Some(L4::Icmp), "ip6-icmp"),
        (0, None, "arp"),
    ];
    let mut out = Vec::new();
    for tags in 0..3 {
        for (ip, l4, name) in shapes {
            out.push(frame(ip, l4, tags, name));
        }
    }
    out
}

fn frame(ip: u8, l4: Option<L4>, tags: usize, name: &str) -> FieldFrame {
    let l3_off = 14 + 4 * tags;
    let mut e: BTreeMap<&'static str, u64> = READ_FIELDS.iter().map(|&f| (f, 0)).collect();
    let mut set = |f: &'static str, v: u64| {
        assert!(e.insert(f, v).is_some(), "{f} is a read field");
    };
    set("eth.present", 1);
    set("eth.dst", mac48(DST_MAC));
    set("eth.src", mac48(SRC_MAC));
    set(
        "eth.vlan",
        match tags {
            0 => 0,
            1 => u64::from(VLAN_ONE),
            _ => u64::from(VLAN_OUTER),
        },
    );
    let (untagged, l4_off) = match ip {
        4 => {
            let (proto, l4b) = l4_bytes(l4.expect("IP has L4"), &A4.octets(), &C4.octets(), false);
            let hdr = Ipv4Header {
                src: A4,
                dst: C4,
                protocol: proto,
                tos: IP4_TOS,
                id: IP4_ID,
                flags_fragment: 0x4000,
                ttl: IP4_TTL,
            };
            set("eth.proto", 0x0800);
            set("ip4.present", 1);
            set("ip4.src", u64::from(u32::from(A4)));
            set("ip4.dst", u64::from(u32::from(C4)));
            set("ip4.proto", u64::from(proto));
            set("ip4.ttl", u64::from(IP4_TTL));
            set("ip4.tos", u64::from(IP4_TOS));
            set("ip4.len", (20 + l4b.len()) as u64);
            set("ip4.id", u64::from(IP4_ID));
            set("ip4.df", 1);
            set_l4(&mut set, l4.expect("IP has L4"), proto, &l4b);
            (
                ethernet(DST_MAC, SRC_MAC, 0x0800, &hdr.packet(&l4b)),
                l3_off + 20,
            )
        }
        6 => {
            let l4k = l4.expect("IP has L4");
            let (proto, l4b) = l4_bytes(l4k, &A6.octets(), &B6.octets(), true);
            // A hop-by-hop options header (PadN) before UDP: the L4 header is after it.
            let (next, payload, ext) = if matches!(l4k, L4::Udp(_)) {
                let mut p = vec![proto, 0, 1, 4, 0, 0, 0, 0];
                p.extend_from_slice(&l4b);
                (0u8, p, 8)
            } else {
                (proto, l4b.clone(), 0)
            };
            let hdr = Ipv6Header {
                src: A6,
                dst: B6,
                next_header: next,
                traffic_class: IP6_TC,
                flow_label: IP6_FLOW,
                hop_limit: IP6_HLIM,
            };
            let (s, d) = (u128::from(A6), u128::from(B6));
            set("eth.proto", 0x86dd);
            set("ip6.present", 1);
            set("ip6.src_hi", (s >> 64) as u64);
            set("ip6.src_lo", s as u64);
            set("ip6.dst_hi", (d >> 64) as u64);
            set("ip6.dst_lo", d as u64);
            set("ip6.nexthdr", u64::from(next));
            set("ip6.hlim", u64::from(IP6_HLIM));
            set("ip6.tc", u64::from(IP6_TC));
            set("ip6.flow", u64::from(IP6_FLOW));
            set("ip6.len", payload.len() as u64);
            set_l4(&mut set, l4k, proto, &l4b);
            (
                ethernet(DST_MAC, SRC_MAC, 0x86dd, &hdr.packet(&payload)),
                l3_off + 40 + ext,
            )
        }
        _ => {
            set("eth.proto", 0x0806);
            (arp(), 0)
        }
    };
    let tag_name = ["untagged", "vlan", "qinq"][tags];
    FieldFrame {
        name: format!("{name}/{tag_name}"),
        bytes: tagged(untagged, tags),
        tags,
        ip,
        l4,
        l3_off,
        l4_off,
        expected: e,
    }
}

fn set_l4(set: &mut impl FnMut(&'static str, u64), l4: L4, proto: u8, b: &[u8]) {
    let be16 = |o: usize| u64::from(u16::from_be_bytes([b[o], b[o + 1]]));
    set("l4.present", 1);
    set("l4.proto", u64::from(proto));
    match l4 {
        L4::Udp(_) => {
            set("udp.present", 1);
            set("udp.sport", be16(0));
            set("udp.dport", be16(2));
            set("udp.len", be16(4));
            set("l4.sport", be16(0));
            set("l4.dport", be16(2));
        }
        L4::Tcp => {
            set("tcp.present", 1);
            set("tcp.sport", be16(0));
            set("tcp.dport", be16(2));
            set("tcp.flags", u64::from(TCP_FLAGS));
            set("tcp.seq", u64::from(TCP_SEQ));
            set("tcp.ack", u64::from(TCP_ACK));
            set("tcp.window", u64::from(TCP_WINDOW));
            set("l4.sport", be16(0));
            set("l4.dport", be16(2));
        }
        L4::Icmp => {
            set("icmp.present", 1);
            set("icmp.type", u64::from(b[0]));
            set("icmp.code", u64::from(b[1]));
        }
    }
}

/// The chain that returns `field` (`ip4.ttl`): `r_ip4_ttl`.
pub fn read_chain(field: &str) -> String {
    format!("r_{}", field.replace('.', "_"))
}

/// An eCLAT script with one chain per field of [`READ_FIELDS`] returning it.
pub fn read_script() -> String {
    READ_FIELDS
        .iter()
        .map(|f| format!("def {}():\n    return packet.{f}\n", read_chain(f)))
        .collect()
}

/// A write to try: `packet.FIELD = value` (or with `OP=`).
#[derive(Clone, Copy, Debug)]
pub struct FieldWrite {
    /// The field, `ip4.ttl`.
    pub field: &'static str,
    /// The statement's operator: `=`, `-=`, ...
    pub op: &'static str,
    /// The right-hand side.
    pub value: u64,
    /// The bytes it may change: (L3 or L4 base: 3, 4, or 0 for the start; offset; length).
    pub bytes: (u8, usize, usize),
}

/// Every write, with the bytes it may change (checksums apart).
pub const WRITES: &[FieldWrite] = &[
    FieldWrite {
        field: "eth.dst",
        op: "=",
        value: 0x0a0b_0c0d_0e0f,
        bytes: (0, 0, 6),
    },
    FieldWrite {
        field: "eth.src",
        op: "=",
        value: 0x1a1b_1c1d_1e1f,
        bytes: (0, 6, 6),
    },
    FieldWrite {
        field: "ip4.ttl",
        op: "=",
        value: 7,
        bytes: (3, 8, 1),
    },
    FieldWrite {
        field: "ip4.ttl",
        op: "-=",
        value: 1,
        bytes: (3, 8, 1),
    },
    FieldWrite {
        field: "ip4.tos",
        op: "=",
        value: 0xb8,
        bytes: (3, 1, 1),
    },
    FieldWrite {
        field: "ip6.hlim",
        op: "=",
        value: 9,
        bytes: (3, 7, 1),
    },
    FieldWrite {
        field: "ip6.hlim",
        op: "-=",
        value: 1,
        bytes: (3, 7, 1),
    },
    FieldWrite {
        field: "ip6.tc",
        op: "=",
        value: 0xa5,
        bytes: (3, 0, 2),
    },
    FieldWrite {
        field: "ip6.flow",
        op: "=",
        value: 0xa_bcde,
        bytes: (3, 1, 3),
    },
    FieldWrite {
        field: "udp.sport",
        op: "=",
        value: 5353,
        bytes: (4, 0, 2),
    },
    FieldWrite {
        field: "udp.dport",
        op: "=",
        value: 53,
        bytes: (4, 2, 2),
    },
    FieldWrite {
        field: "tcp.sport",
        op: "=",
        value: 4444,
        bytes: (4, 0, 2),
    },
    FieldWrite {
        field: "tcp.dport",
        op: "=",
        value: 8080,
        bytes: (4, 2, 2),
    },
    FieldWrite {
        field: "tcp.flags",
        op: "=",
        value: 0x18,
        bytes: (4, 13, 1),
    },
    FieldWrite {
        field: "tcp.flags",
        op: "|=",
        value: 0x01,
        bytes: (4, 13, 1),
    },
];

/// The chain that performs write `i` of [`WRITES`]: `w3`.
pub fn write_chain(i: usize) -> String {
    format!("w{i}")
}

/// An eCLAT script with one chain per write of [`WRITES`].
pub fn write_script() -> String {
    WRITES
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "def {}():\n    packet.{} {} {}\n",
                write_chain(i),
                w.field,
                w.op,
                w.value
            )
        })
        .collect()
}

impl FieldWrite {
    /// What the field reads after the write on `frame` (whose layer is present).
    pub fn expected(&self, frame: &FieldFrame) -> u64 {
        let before = frame.expected[self.field];
        let mask = match self.field {
            "eth.dst" | "eth.src" => 0xffff_ffff_ffff,
            "ip6.flow" => 0xf_ffff,
            "udp.sport" | "udp.dport" | "tcp.sport" | "tcp.dport" => 0xffff,
            _ => 0xff,
        };
        let v = match self.op {
            "=" => self.value,
            "-=" => before.wrapping_sub(self.value),
            "|=" => before | self.value,
            op => panic!("operator {op}"),
        };
        v & mask
    }

    /// Whether the written field's layer is in `frame`.
    pub fn applies(&self, frame: &FieldFrame) -> bool {
        let layer = self.field.split('.').next().expect("layer.field");
        let present = format!("{layer}.present");
        frame.expected.get(present.as_str()) == Some(&1)
    }

    /// Checks `after` (the frame after the write): only the field's bytes and the checksums
    /// changed, and every checksum is valid (an unset UDP checksum stays 0).
    pub fn check(&self, frame: &FieldFrame, after: &[u8]) -> Result<(), String> {
        if after.len() != frame.bytes.len() {
            return Err("the length changed".into());
        }
        let (base, off, len) = self.bytes;
        let start = match base {
            3 => frame.l3_off,
            4 => frame.l4_off,
            _ => 0,
        } + off;
        let allowed = start..start + len;
        let csums = checksum_offsets(frame);
        for (i, (a, b)) in frame.bytes.iter().zip(after).enumerate() {
            let in_csum = csums.iter().any(|&c| (c..c + 2).contains(&i));
            if a != b && !allowed.contains(&i) && !in_csum {
                return Err(format!("byte {i} changed: {a:#04x} -> {b:#04x}"));
            }
        }
        verify_checksums(frame, after)
    }
}

/// The offsets of the checksums of `frame`: IPv4 header, then L4.
fn checksum_offsets(frame: &FieldFrame) -> Vec<usize> {
    let mut v = Vec::new();
    if frame.ip == 4 {
        v.push(frame.l3_off + 10);
    }
    if let Some(l) = frame.l4 {
        v.push(
            frame.l4_off
                + match l {
                    L4::Udp(_) => 6,
                    L4::Tcp => 16,
                    L4::Icmp => 2,
                },
        );
    }
    v
}

/// Checks every checksum of `bytes`, a frame of `frame`'s shape: the IPv4 header's, and the
/// L4 header's over its pseudo-header (ICMP: over the message); an IPv4 UDP checksum of 0 is
/// "none" and must have stayed 0.
pub fn verify_checksums(frame: &FieldFrame, bytes: &[u8]) -> Result<(), String> {
    let l3 = frame.l3_off;
    let (src, dst): (&[u8], &[u8]) = match frame.ip {
        4 => {
            if internet_checksum(&bytes[l3..l3 + 20]) != 0 {
                return Err("the IPv4 header checksum is wrong".into());
            }
            (&bytes[l3 + 12..l3 + 16], &bytes[l3 + 16..l3 + 20])
        }
        6 => (&bytes[l3 + 8..l3 + 24], &bytes[l3 + 24..l3 + 40]),
        _ => return Ok(()),
    };
    let Some(l4) = frame.l4 else { return Ok(()) };
    let seg = &bytes[frame.l4_off..];
    let ok = match l4 {
        L4::Udp(false) if frame.ip == 4 => seg[6..8] == [0, 0],
        L4::Icmp if frame.ip == 4 => internet_checksum(seg) == 0,
        L4::Udp(_) => pseudo_checksum(src, dst, 17, seg) == 0 && seg[6..8] != [0, 0],
        L4::Tcp => pseudo_checksum(src, dst, 6, seg) == 0,
        L4::Icmp => pseudo_checksum(src, dst, 58, seg) == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the {l4:?} checksum is wrong"))
    }
}

/// An address comparison and what it gives on the frames of one shape (every tagging):
/// `(shape, expression, result)`.
pub const ADDRESS_CASES: &[(&str, &str, u64)] = &[
    ("ip4-udp", "packet.ip4.src == '192.0.2.10'", 1),
    ("ip4-udp", "'192.0.2.10' == packet.ip4.src", 1),
    ("ip4-udp", "packet.ip4.src == '192.0.2.11'", 0),
    ("ip4-udp", "packet.ip4.src != '192.0.2.10'", 0),
    ("ip4-udp", "packet.ip4.src != '192.0.2.11'", 1),
    ("ip4-udp", "packet.ip4.src in '192.0.2.0/24'", 1),
    ("ip4-udp", "packet.ip4.src in '192.0.3.0/24'", 0),
    ("ip4-udp", "packet.ip4.src not in '192.0.2.0/24'", 0),
    ("ip4-udp", "packet.ip4.src not in '10.0.0.0/8'", 1),
    ("ip4-udp", "packet.ip4.src in '0.0.0.0/0'", 1),
    ("ip4-udp", "packet.ip4.src not in '0.0.0.0/0'", 0),
    ("ip4-udp", "packet.ip4.src in '192.0.2.10/32'", 1),
    ("ip4-udp", "packet.ip4.src in '192.0.2.11/32'", 0),
    ("ip4-udp", "packet.ip4.src in '192.0.2.8/31'", 0),
    ("ip4-udp", "packet.ip4.src in '192.0.2.10/31'", 1),
    ("ip4-udp", "packet.ip4.dst in '198.51.100.0/24'", 1),
    ("ip4-udp", "packet.ip4.dst == '198.51.100.12'", 1),
    ("ip4-udp", "packet.eth.src == '02:00:00:00:00:01'", 1),
    ("ip4-udp", "packet.eth.src != '02:00:00:00:00:01'", 0),
    ("ip4-udp", "packet.eth.dst == '02-00-00-00-00-02'", 1),
    ("ip4-udp", "packet.eth.dst == '02:00:00:00:00:01'", 0),
    ("ip4-udp", "packet.ip6.src in '::/0'", 1),
    ("ip4-udp", "packet.ip6.src == '::'", 1),
    ("ip6-hbh-udp", "packet.ip6.src == '2001:db8::a'", 1),
    ("ip6-hbh-udp", "packet.ip6.src == '2001:db8::b'", 0),
    ("ip6-hbh-udp", "packet.ip6.src == '2001:db9::a'", 0),
    ("ip6-hbh-udp", "packet.ip6.src != '2001:db8::a'", 0),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::/32'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db9::/32'", 0),
    ("ip6-hbh-udp", "packet.ip6.src not in '2001:db8::/32'", 0),
    ("ip6-hbh-udp", "packet.ip6.src not in '2001:db9::/32'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '::/0'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::/64'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::/96'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::8/125'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::c/126'", 0),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::a/128'", 1),
    ("ip6-hbh-udp", "packet.ip6.src in '2001:db8::b/128'", 0),
    ("ip6-hbh-udp", "packet.ip6.dst == '2001:db8::b'", 1),
    ("ip6-hbh-udp", "packet.ip6.dst in '2001:db8:0:1::/64'", 0),
    ("ip6-hbh-udp", "packet.ip4.src == '0.0.0.0'", 1),
    ("ip6-hbh-udp", "packet.ip4.src in '10.0.0.0/8'", 0),
    ("arp", "packet.ip4.src == '192.0.2.10'", 0),
    ("arp", "packet.ip6.src not in '2001:db8::/32'", 1),
    ("arp", "packet.eth.src == '02:00:00:00:00:01'", 1),
];

/// The chain of address case `i`: `a3`.
pub fn address_chain(i: usize) -> String {
    format!("a{i}")
}

/// An eCLAT script with one chain per address case, returning the comparison.
pub fn address_script() -> String {
    ADDRESS_CASES
        .iter()
        .enumerate()
        .map(|(i, (_, e, _))| format!("def {}():\n    return {e}\n", address_chain(i)))
        .collect()
}

/// The name of `frame`'s shape: `ip4-udp` for `ip4-udp/qinq`.
pub fn shape(frame: &FieldFrame) -> &str {
    frame.name.split('/').next().expect("shape/tagging")
}
