//! A reader of the `.BTF` section: the type table and its string table, as clang emits them.
//!
//! Why by hand: this crate must not depend on libbpf (it makes no BPF syscall, and the crate
//! graph is what shows it), and libbpf's BTF parser is reached only through libbpf-rs. The
//! format is small and stable (the kernel's `Documentation/bpf/btf.rst`,
//! `include/uapi/linux/btf.h`): a header, then types numbered from 1 (0 is `void`), each a
//! 12-byte `btf_type` followed by data whose size its kind fixes. Every kind is decoded enough
//! to step over it; [`Btf`] answers names, kinds, referenced types, members and sizes, which is
//! all that [`super::inspect_object`] needs. `hike-cchains` reads `.BTF.ext` by hand too, for
//! line info (see its `btf` module).

use super::ObjectError;

const BTF_MAGIC: u16 = 0xeb9f;
/// Bytes of a `btf_type`.
const TYPE_HEADER: usize = 12;
/// `BTF_INT_SIGNED`, in an INT's encoding bits.
const INT_SIGNED: u32 = 1;
/// Nesting followed by [`Btf::resolve_size`] before giving up (BTF has no cycles without
/// pointers; this only bounds malformed input).
const MAX_DEPTH: usize = 32;

/// A BTF type kind (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    DataSec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(kind: u32) -> Option<Kind> {
        Some(match kind {
            0 => Kind::Void,
            1 => Kind::Int,
            2 => Kind::Ptr,
            3 => Kind::Array,
            4 => Kind::Struct,
            5 => Kind::Union,
            6 => Kind::Enum,
            7 => Kind::Fwd,
            8 => Kind::Typedef,
            9 => Kind::Volatile,
            10 => Kind::Const,
            11 => Kind::Restrict,
            12 => Kind::Func,
            13 => Kind::FuncProto,
            14 => Kind::Var,
            15 => Kind::DataSec,
            16 => Kind::Float,
            17 => Kind::DeclTag,
            18 => Kind::TypeTag,
            19 => Kind::Enum64,
            _ => return None,
        })
    }

    /// Bytes of data after the `btf_type`, for `vlen` entries.
    fn data_len(self, vlen: usize) -> usize {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::DataSec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
    }

    /// Whether it is a qualifier (`volatile`, `const`, `restrict`, a type tag).
    pub(crate) fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }
}

/// One type of the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Type<'a> {
    name_off: u32,
    info: u32,
    /// The size (of an INT, ENUM, STRUCT, UNION, DATASEC, FLOAT) or the referenced type (of
    /// the other kinds that refer to one).
    size_or_type: u32,
    data: &'a [u8],
    kind: Kind,
}

/// A struct or union member.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawMember {
    pub(crate) name_off: u32,
    pub(crate) ty: u32,
    /// Bit offset in the enclosing type.
    pub(crate) bit_offset: u32,
    /// Bits, for a bitfield.
    pub(crate) bitfield: Option<u8>,
}

impl<'a> Type<'a> {
    /// Its kind.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }

    fn kind_flag(&self) -> bool {
        self.info >> 31 == 1
    }

    /// Its size in bytes (for the kinds that have one).
    pub(crate) fn size(&self) -> usize {
        self.size_or_type as usize
    }

    /// The type it refers to (for the kinds that refer to one).
    pub(crate) fn referenced(&self) -> u32 {
        self.size_or_type
    }

    fn data_u32(&self, i: usize) -> u32 {
        u32_at(self.data, 4 * i).expect("the data length was checked when parsing")
    }

    /// Whether an INT is signed.
    pub(crate) fn int_signed(&self) -> bool {
        (self.data_u32(0) >> 24) & 0x0f == INT_SIGNED
    }

    /// Whether an ENUM or ENUM64 is signed.
    pub(crate) fn enum_signed(&self) -> bool {
        self.kind_flag()
    }

    /// An ARRAY's element type and length.
    pub(crate) fn array(&self) -> (u32, usize) {
        (self.data_u32(0), self.data_u32(2) as usize)
    }

    /// A STRUCT's or UNION's members, in order.
    pub(crate) fn members(&self) -> impl Iterator<Item = RawMember> + '_ {
        (0..self.vlen()).map(move |i| {
            let offset = self.data_u32(3 * i + 2);
            // With the kind flag, the high byte of the offset is the bitfield size (0: not a
            // bitfield) and the rest the bit offset.
            let bits = (offset >> 24) as u8;
            let (bit_offset, bitfield) = if self.kind_flag() && bits != 0 {
                (offset & 0x00ff_ffff, Some(bits))
            } else {
                (offset, None)
            };
            RawMember {
                name_off: self.data_u32(3 * i),
                ty: self.data_u32(3 * i + 1),
                bit_offset,
                bitfield,
            }
        })
    }

    /// A DATASEC's variables: (type, offset, size).
    pub(crate) fn variables(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        (0..self.vlen()).map(move |i| {
            (
                self.data_u32(3 * i),
                self.data_u32(3 * i + 1),
                self.data_u32(3 * i + 2),
            )
        })
    }

    /// A DECL_TAG's component: `None` when it tags the type itself, not a member or parameter.
    pub(crate) fn tag_component(&self) -> Option<u32> {
        let idx = self.data_u32(0) as i32;
        u32::try_from(idx).ok()
    }
}

/// A parsed `.BTF` section.
#[derive(Debug)]
pub(crate) struct Btf<'a> {
    strings: &'a [u8],
    /// Index = type ID; 0 is `void`.
    types: Vec<Type<'a>>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn malformed(what: &'static str) -> ObjectError {
    ObjectError::MalformedBtf { what }
}

impl<'a> Btf<'a> {
    /// Parses the section.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Btf<'a>, ObjectError> {
        // Objects are little-endian here (BPF objects of a big-endian target are not read).
        if u16_at(bytes, 0) != Some(BTF_MAGIC) {
            return Err(malformed("bad magic"));
        }
        let header = |i: usize| u32_at(bytes, 4 + 4 * i).ok_or(malformed("truncated header"));
        let hdr_len = header(0)? as usize;
        let (type_off, type_len) = (header(1)? as usize, header(2)? as usize);
        let (str_off, str_len) = (header(3)? as usize, header(4)? as usize);
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            bytes.get(start..start.checked_add(len)?)
        };
        let strings = section(str_off, str_len).ok_or(malformed("strings out of bounds"))?;
        let table = section(type_off, type_len).ok_or(malformed("types out of bounds"))?;
        let mut types = vec![Type {
            name_off: 0,
            info: 0,
            size_or_type: 0,
            data: &[],
            kind: Kind::Void,
        }];
        let mut pos = 0;
        while pos < table.len() {
            let word = |i: usize| u32_at(table, pos + 4 * i).ok_or(malformed("truncated type"));
            let (name_off, info, size_or_type) = (word(0)?, word(1)?, word(2)?);
            let kind = Kind::from_raw((info >> 24) & 0x1f).ok_or(malformed("unknown kind"))?;
            let start = pos + TYPE_HEADER;
            let end = start + kind.data_len((info & 0xffff) as usize);
            let data = table.get(start..end).ok_or(malformed("truncated type"))?;
            types.push(Type {
                name_off,
                info,
                size_or_type,
                data,
                kind,
            });
            pos = end;
        }
        Ok(Btf { strings, types })
    }

    /// The type `id`.
    pub(crate) fn ty(&self, id: u32) -> Option<Type<'a>> {
        self.types.get(id as usize).copied()
    }

    /// Every type with its ID.
    pub(crate) fn types(&self) -> impl Iterator<Item = (u32, Type<'a>)> + '_ {
        (0u32..).zip(self.types.iter().copied())
    }

    /// The string at `off`; `None` if it is empty or out of bounds.
    pub(crate) fn string(&self, off: u32) -> Option<String> {
        let tail = self.strings.get(off as usize..)?;
        let end = tail.iter().position(|&c| c == 0)?;
        (end > 0).then(|| String::from_utf8_lossy(&tail[..end]).into_owned())
    }

    /// A type's name; `None` if it has none.
    pub(crate) fn name(&self, t: &Type<'_>) -> Option<String> {
        self.string(t.name_off)
    }

    /// The first type of `kind` called `name`.
    pub(crate) fn find(&self, kind: Kind, name: &str) -> Option<Type<'a>> {
        self.types
            .iter()
            .copied()
            .find(|t| t.kind == kind && self.name(t).as_deref() == Some(name))
    }

    /// `t` with qualifiers and typedefs followed.
    pub(crate) fn skip_modifiers_and_typedefs(&self, mut t: Type<'a>) -> Option<Type<'a>> {
        for _ in 0..MAX_DEPTH {
            if !(t.kind.is_modifier() || t.kind == Kind::Typedef) {
                return Some(t);
            }
            t = self.ty(t.referenced())?;
        }
        None
    }

    /// The size of type `id` in bytes, as libbpf's `btf__resolve_size` computes it; `None` for
    /// a type without a size (a function, a forward declaration, `void`).
    pub(crate) fn resolve_size(&self, id: u32) -> Option<usize> {
        let mut t = self.ty(id)?;
        let mut factor = 1usize;
        for _ in 0..MAX_DEPTH {
            match t.kind {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::DataSec
                | Kind::Float => return factor.checked_mul(t.size()),
                Kind::Ptr => return factor.checked_mul(8),
                Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::TypeTag
                | Kind::Var
                | Kind::DeclTag => t = self.ty(t.referenced())?,
                Kind::Array => {
                    let (element, len) = t.array();
                    factor = factor.checked_mul(len)?;
                    t = self.ty(element)?;
                }
                Kind::Void | Kind::Fwd | Kind::Func | Kind::FuncProto => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF section of `types` (each `(name_off, info, size_or_type, data words)`) and
    /// `strings`.
    fn section(types: &[(u32, u32, u32, &[u32])], strings: &[u8]) -> Vec<u8> {
        let mut table = Vec::new();
        for (name, info, st, data) in types {
            for w in [*name, *info, *st].iter().chain(data.iter()) {
                table.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            table.len() as u32,
            table.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&table);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn reads_types_names_and_sizes() {
        let strings = b"\0int\0arr\0";
        // 1: int (4 bytes, signed); 2: int[3]; 3: const -> 2; 4: struct { int a:3 } (flag).
        let bytes = section(
            &[
                (1, 1 << 24, 4, &[(INT_SIGNED << 24) | 32]),
                (0, 3 << 24, 0, &[1, 1, 3]),
                (0, 10 << 24, 2, &[]),
                (5, (4 << 24) | (1 << 31) | 1, 4, &[1, 1, 3 << 24]),
            ],
            strings,
        );
        let btf = Btf::parse(&bytes).unwrap();
        let int = btf.ty(1).unwrap();
        assert_eq!(
            (int.kind(), btf.name(&int).as_deref()),
            (Kind::Int, Some("int"))
        );
        assert!(int.int_signed());
        assert_eq!(btf.resolve_size(3), Some(12));
        assert_eq!(btf.ty(2).unwrap().array(), (1, 3));
        let s = btf.ty(4).unwrap();
        assert_eq!(btf.name(&s).as_deref(), Some("arr"));
        let m: Vec<_> = s.members().collect();
        assert_eq!((m[0].bit_offset, m[0].bitfield), (0, Some(3)));
        assert_eq!(btf.resolve_size(0), None, "void");
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert!(Btf::parse(b"\0\0").is_err());
        let mut bytes = section(&[(0, 1 << 24, 4, &[32])], b"\0");
        bytes.truncate(bytes.len() - 3);
        assert!(Btf::parse(&bytes).is_err(), "truncated");
    }
}
