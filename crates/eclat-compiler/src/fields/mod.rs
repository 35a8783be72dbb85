//! The packet's named fields (`packet.ip4.ttl`): every layer, its fields, their types, how each
//! is read from the offsets the loader parsed (`struct hike_pkt_meta`) and how it is written.
//!
//! This is a table, not a checker: [`crate::check`] resolves `packet.LAYER.FIELD` against it
//! (unknown names, read-only fields, 128-bit addresses) and lowers reads and writes to HIR;
//! [`address`] parses the address literals compared with address fields. The costs that
//! `docs/eclat.md` ("Packet access") documents follow from the [`hir::HeaderRead`] of each
//! field and from [`Write`].

pub mod address;
pub mod error;

use eclat_syntax::ast::IntType;
use hike_isa::abi;

use crate::hir::{Base, Guard, HeaderRead, Source};

pub use address::{AddrKind, AddrLiteral};
pub use error::FieldError;

/// Byte offsets of `struct hike_pkt_meta` (checked against `abi::PktMeta` by a test).
pub mod meta_off {
    /// `eth_proto` (u16).
    pub const ETH_PROTO: i16 = 8;
    /// `l3_off` (u16).
    pub const L3_OFF: i16 = 10;
    /// `l4_off` (u16).
    pub const L4_OFF: i16 = 12;
    /// `l4_proto` (u8).
    pub const L4_PROTO: i16 = 14;
    /// `flags` (u8).
    pub const FLAGS: i16 = 15;
}

/// A layer of the packet: `packet.NAME.FIELD`.
#[derive(Debug)]
pub struct Layer {
    /// `eth`, `ip4`, ...
    pub name: &'static str,
    /// When it is present (`.present` reads this guard).
    pub guard: Guard,
    /// Its fields, `present` first.
    pub fields: &'static [Field],
}

/// A field of a layer.
#[derive(Debug)]
pub struct Field {
    /// `ttl`, `src`, ...
    pub name: &'static str,
    /// Its value's type.
    pub ty: IntType,
    /// How it is read (`None` for a 128-bit address, which is only compared).
    pub read: Option<Source>,
    /// An address field: compared with address literals.
    pub addr: Option<AddrKind>,
    /// How it is written.
    pub write: Write,
}

/// How a field is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// It cannot be: the reason, with what to do instead.
    ReadOnly(&'static str),
    /// Bits of a big-endian word: the word at `base + off` of `size` bytes gets
    /// `(word & !(mask << shift)) | ((value & mask) << shift)`.
    Bits {
        /// Where `off` counts from.
        base: Base,
        /// Byte offset of the word.
        off: u16,
        /// Bytes of the word (1, 2 or 4).
        size: u8,
        /// The field's position in the word.
        shift: u8,
        /// The field's bits, before the shift.
        mask: u64,
        /// The checksum that covers the word.
        csum: Csum,
    },
    /// A 48-bit MAC address at byte `off` of the packet.
    Mac {
        /// Byte offset.
        off: u16,
    },
}

/// The checksum a write keeps right (RFC 1624 incremental update, 16-bit words only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Csum {
    /// No checksum covers the field.
    None,
    /// The 16-bit checksum at `base + off` (same base as the written word).
    At {
        /// Byte offset of the checksum.
        off: u16,
        /// UDP: a checksum of 0 means "none" and stays 0, and a computed 0 is sent as
        /// `0xffff`.
        udp: bool,
    },
}

/// `.present` of every layer (read under the layer's guard).
const PRESENT: Field = Field {
    name: "present",
    ty: IntType::U8,
    read: Some(Source::One),
    addr: None,
    write: Write::ReadOnly("`.present` says what the loader found; it cannot be written"),
};

const fn pkt(base: Base, off: u16, size: u8, shift: u8, mask: u64) -> Option<Source> {
    Some(Source::Packet {
        base,
        off,
        size,
        shift,
        mask,
    })
}

const fn ro(name: &'static str, ty: IntType, read: Option<Source>, why: &'static str) -> Field {
    Field {
        name,
        ty,
        read,
        addr: None,
        write: Write::ReadOnly(why),
    }
}

const NO_ADDR_WRITE: &str =
    "address rewriting (NAT) is not supported: both the IP and the L4 checksums would change";
const LEN_WRITE: &str = "lengths describe the packet's size, which a chain cannot change";
const WIDE_HALF: &str = "write access to IPv6 addresses is not supported";
const L4_PORT_WRITE: &str =
    "write `packet.tcp.sport` or `packet.udp.sport` (each keeps its own checksum right)";
const META_WRITE: &str = "it comes from the loader's parse of the packet";

const fn bits(base: Base, off: u16, size: u8, shift: u8, mask: u64, csum: Csum) -> Write {
    Write::Bits {
        base,
        off,
        size,
        shift,
        mask,
        csum,
    }
}

const IP4_CSUM: Csum = Csum::At {
    off: 10,
    udp: false,
};
const UDP_CSUM: Csum = Csum::At { off: 6, udp: true };
const TCP_CSUM: Csum = Csum::At {
    off: 16,
    udp: false,
};

const MAC_MASK: u64 = 0xffff_ffff_ffff;

const ETH: &[Field] = &[
    PRESENT,
    Field {
        name: "dst",
        ty: IntType::U64,
        read: pkt(Base::Start, 0, 8, 16, MAC_MASK),
        addr: Some(AddrKind::Mac),
        write: Write::Mac { off: 0 },
    },
    Field {
        name: "src",
        ty: IntType::U64,
        read: pkt(Base::Start, 6, 8, 16, MAC_MASK),
        addr: Some(AddrKind::Mac),
        write: Write::Mac { off: 6 },
    },
    ro(
        "proto",
        IntType::U16,
        Some(Source::Meta {
            off: meta_off::ETH_PROTO,
            size: 2,
        }),
        META_WRITE,
    ),
    ro(
        "vlan",
        IntType::U16,
        pkt(Base::Start, 14, 2, 0, 0xfff),
        "VLAN tags cannot be rewritten from a chain",
    ),
];

const IP4: &[Field] = &[
    PRESENT,
    Field {
        name: "src",
        ty: IntType::U32,
        read: pkt(Base::L3, 12, 4, 0, u32::MAX as u64),
        addr: Some(AddrKind::Ipv4),
        write: Write::ReadOnly(NO_ADDR_WRITE),
    },
    Field {
        name: "dst",
        ty: IntType::U32,
        read: pkt(Base::L3, 16, 4, 0, u32::MAX as u64),
        addr: Some(AddrKind::Ipv4),
        write: Write::ReadOnly(NO_ADDR_WRITE),
    },
    ro(
        "proto",
        IntType::U8,
        pkt(Base::L3, 9, 1, 0, 0xff),
        META_WRITE,
    ),
    Field {
        name: "ttl",
        ty: IntType::U8,
        read: pkt(Base::L3, 8, 1, 0, 0xff),
        addr: None,
        write: bits(Base::L3, 8, 2, 8, 0xff, IP4_CSUM),
    },
    Field {
        name: "tos",
        ty: IntType::U8,
        read: pkt(Base::L3, 1, 1, 0, 0xff),
        addr: None,
        write: bits(Base::L3, 0, 2, 0, 0xff, IP4_CSUM),
    },
    ro(
        "len",
        IntType::U16,
        pkt(Base::L3, 2, 2, 0, 0xffff),
        LEN_WRITE,
    ),
    ro(
        "id",
        IntType::U16,
        pkt(Base::L3, 4, 2, 0, 0xffff),
        "the identification ties fragments together",
    ),
    ro(
        "frag",
        IntType::U8,
        Some(Source::Flag(abi::META_FRAG)),
        META_WRITE,
    ),
    ro(
        "df",
        IntType::U8,
        pkt(Base::L3, 6, 1, 6, 1),
        "fragmentation flags cannot be rewritten from a chain",
    ),
    ro(
        "mf",
        IntType::U8,
        pkt(Base::L3, 6, 1, 5, 1),
        "fragmentation flags cannot be rewritten from a chain",
    ),
    ro(
        "fragoff",
        IntType::U16,
        pkt(Base::L3, 6, 2, 0, 0x1fff),
        "fragment offsets cannot be rewritten from a chain",
    ),
];

const IP6: &[Field] = &[
    PRESENT,
    Field {
        name: "src",
        ty: IntType::U64,
        read: None,
        addr: Some(AddrKind::Ipv6),
        write: Write::ReadOnly(NO_ADDR_WRITE),
    },
    Field {
        name: "dst",
        ty: IntType::U64,
        read: None,
        addr: Some(AddrKind::Ipv6),
        write: Write::ReadOnly(NO_ADDR_WRITE),
    },
    ro(
        "src_hi",
        IntType::U64,
        pkt(Base::L3, 8, 8, 0, u64::MAX),
        WIDE_HALF,
    ),
    ro(
        "src_lo",
        IntType::U64,
        pkt(Base::L3, 16, 8, 0, u64::MAX),
        WIDE_HALF,
    ),
    ro(
        "dst_hi",
        IntType::U64,
        pkt(Base::L3, 24, 8, 0, u64::MAX),
        WIDE_HALF,
    ),
    ro(
        "dst_lo",
        IntType::U64,
        pkt(Base::L3, 32, 8, 0, u64::MAX),
        WIDE_HALF,
    ),
    ro(
        "nexthdr",
        IntType::U8,
        pkt(Base::L3, 6, 1, 0, 0xff),
        "the header chain cannot be rewritten from a chain",
    ),
    Field {
        name: "hlim",
        ty: IntType::U8,
        read: pkt(Base::L3, 7, 1, 0, 0xff),
        addr: None,
        write: bits(Base::L3, 7, 1, 0, 0xff, Csum::None),
    },
    Field {
        name: "tc",
        ty: IntType::U8,
        read: pkt(Base::L3, 0, 2, 4, 0xff),
        addr: None,
        write: bits(Base::L3, 0, 4, 20, 0xff, Csum::None),
    },
    Field {
        name: "flow",
        ty: IntType::U32,
        read: pkt(Base::L3, 0, 4, 0, 0xf_ffff),
        addr: None,
        write: bits(Base::L3, 0, 4, 0, 0xf_ffff, Csum::None),
    },
    ro(
        "len",
        IntType::U16,
        pkt(Base::L3, 4, 2, 0, 0xffff),
        LEN_WRITE,
    ),
    ro(
        "frag",
        IntType::U8,
        Some(Source::Flag(abi::META_FRAG)),
        META_WRITE,
    ),
];

const fn port(name: &'static str, off: u16, csum: Csum) -> Field {
    Field {
        name,
        ty: IntType::U16,
        read: pkt(Base::L4, off, 2, 0, 0xffff),
        addr: None,
        write: bits(Base::L4, off, 2, 0, 0xffff, csum),
    }
}

const UDP: &[Field] = &[
    PRESENT,
    port("sport", 0, UDP_CSUM),
    port("dport", 2, UDP_CSUM),
    ro(
        "len",
        IntType::U16,
        pkt(Base::L4, 4, 2, 0, 0xffff),
        LEN_WRITE,
    ),
];

const TCP: &[Field] = &[
    PRESENT,
    port("sport", 0, TCP_CSUM),
    port("dport", 2, TCP_CSUM),
    Field {
        name: "flags",
        ty: IntType::U8,
        read: pkt(Base::L4, 13, 1, 0, 0xff),
        addr: None,
        write: bits(Base::L4, 12, 2, 0, 0xff, TCP_CSUM),
    },
    ro(
        "seq",
        IntType::U32,
        pkt(Base::L4, 4, 4, 0, u32::MAX as u64),
        "sequence numbers cannot be rewritten from a chain",
    ),
    ro(
        "ack",
        IntType::U32,
        pkt(Base::L4, 8, 4, 0, u32::MAX as u64),
        "sequence numbers cannot be rewritten from a chain",
    ),
    ro(
        "window",
        IntType::U16,
        pkt(Base::L4, 14, 2, 0, 0xffff),
        "the window cannot be rewritten from a chain",
    ),
];

const ICMP: &[Field] = &[
    PRESENT,
    ro(
        "type",
        IntType::U8,
        pkt(Base::L4, 0, 1, 0, 0xff),
        "ICMP messages cannot be rewritten from a chain",
    ),
    ro(
        "code",
        IntType::U8,
        pkt(Base::L4, 1, 1, 0, 0xff),
        "ICMP messages cannot be rewritten from a chain",
    ),
];

const L4: &[Field] = &[
    PRESENT,
    ro(
        "proto",
        IntType::U8,
        Some(Source::Meta {
            off: meta_off::L4_PROTO,
            size: 1,
        }),
        META_WRITE,
    ),
    ro(
        "sport",
        IntType::U16,
        pkt(Base::L4, 0, 2, 0, 0xffff),
        L4_PORT_WRITE,
    ),
    ro(
        "dport",
        IntType::U16,
        pkt(Base::L4, 2, 2, 0, 0xffff),
        L4_PORT_WRITE,
    ),
];

/// IP protocol numbers of the L4 layers.
pub mod abi_proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// Every layer, in the order messages list them.
pub const LAYERS: &[Layer] = &[
    Layer {
        name: "eth",
        guard: Guard::Eth,
        fields: ETH,
    },
    Layer {
        name: "ip4",
        guard: Guard::Flags(abi::META_IPV4),
        fields: IP4,
    },
    Layer {
        name: "ip6",
        guard: Guard::Flags(abi::META_IPV6),
        fields: IP6,
    },
    Layer {
        name: "udp",
        guard: Guard::L4(abi_proto::UDP, abi_proto::UDP),
        fields: UDP,
    },
    Layer {
        name: "tcp",
        guard: Guard::L4(abi_proto::TCP, abi_proto::TCP),
        fields: TCP,
    },
    Layer {
        name: "icmp",
        guard: Guard::L4(abi_proto::ICMP, abi_proto::ICMPV6),
        fields: ICMP,
    },
    Layer {
        name: "l4",
        guard: Guard::L4Any,
        fields: L4,
    },
];

/// The layer called `name`.
pub fn layer(name: &str) -> Option<&'static Layer> {
    LAYERS.iter().find(|l| l.name == name)
}

impl Layer {
    /// Its field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    /// How `field` is read: its source under the layer's guard, except for the fields of
    /// `eth` and `l4` that need a guard of their own (the VLAN ID, the ports of TCP or UDP)
    /// and for metadata fields, which are 0 when absent and need none.
    pub fn read(&self, field: &Field) -> Option<HeaderRead> {
        let source = field.read?;
        let guard = match (self.name, field.name, source) {
            (_, "present", _) => self.guard,
            (_, _, Source::Meta { .. }) => Guard::Always,
            ("eth", "vlan", _) => Guard::Flags(abi::META_VLAN),
            ("l4", _, _) => Guard::L4(abi_proto::TCP, abi_proto::UDP),
            _ => self.guard,
        };
        Some(HeaderRead { guard, source })
    }

    /// `.present` of this layer.
    pub fn present(&self) -> HeaderRead {
        HeaderRead {
            guard: self.guard,
            source: Source::One,
        }
    }
}

/// Names separated by `, `, for messages.
pub fn list(names: impl Iterator<Item = &'static str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn closest(name: &str, candidates: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let len = name.chars().count();
    let limit = (len / 3).max(2);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit && d < len)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Edit distance by characters, a swap of two neighbours counting as one edit (`tpc` is one
/// edit from `tcp`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_offsets_are_the_abi_struct() {
        let m = abi::PktMeta::default();
        let base = &m as *const _ as usize;
        let at = |p: *const u8| (p as usize - base) as i16;
        assert_eq!(
            at(&m.eth_proto as *const u16 as *const u8),
            meta_off::ETH_PROTO
        );
        assert_eq!(at(&m.l3_off as *const u16 as *const u8), meta_off::L3_OFF);
        assert_eq!(at(&m.l4_off as *const u16 as *const u8), meta_off::L4_OFF);
        assert_eq!(at(&m.l4_proto as *const u8), meta_off::L4_PROTO);
        assert_eq!(at(&m.flags as *const u8), meta_off::FLAGS);
    }

    #[test]
    fn every_readable_field_fits_its_type_and_present_comes_first() {
        for l in LAYERS {
            assert_eq!(l.fields[0].name, "present");
            for f in l.fields {
                if let Some(Source::Packet { size, mask, .. }) = f.read {
                    assert!(size <= 8);
                    assert!(
                        f.ty.bits() == 64 || mask >> f.ty.bits() == 0,
                        "{}.{}",
                        l.name,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn typos_find_the_closest_name() {
        let names = || LAYERS.iter().map(|l| l.name);
        assert_eq!(closest("ipv4", names()), Some("ip4"));
        assert_eq!(closest("tpc", names()), Some("tcp"));
        assert_eq!(closest("vxlan", names()), None);
    }
}
