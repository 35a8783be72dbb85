//! What a BPF object declares, read from its ELF and BTF without loading anything.
//!
//! [`inspect_object`] parses an object (the `object` crate for the ELF, the `btf` module here
//! for the BTF; no libbpf, no syscall) and reports, for each program, its HIKe tags
//! ([`hike_isa::abi::tags`]: `hike_prog`, `hike_params:…`, `hike_loader`) and whether its code
//! can tail-call; and for each map of the `.maps` section, its type, sizes and the BTF
//! description of its key and value ([`DataType`]): C type names, sizes, struct members with
//! their offsets. The catalog is built from this, so that a script is checked against the
//! programs as they were really compiled.
//!
//! It reports what libbpf would see when opening the object: programs are the global
//! functions of the executable sections other than `.text` (whose functions are
//! subprograms), ordered by section then offset; maps are read from the `.maps` definitions
//! (`__uint(type, …)`, `__type(key, …)`, …) as libbpf reads them, in the order of their
//! offsets.
//!
//! ```
//! let elf = hike_bpf::standard::object("ip6_hset_srcdst").unwrap();
//! let info = eclat_catalog::object::inspect_object(elf)?;
//! assert!(info.program("ip6_hset_srcdst").unwrap().hike_params.is_some());
//! for m in info.own_maps() {
//!     println!("{}: key {:?}", m.name, m.key.as_ref().map(|k| &k.name));
//! }
//! # Ok::<(), eclat_catalog::object::ObjectError>(())
//! ```

mod btf;

use std::collections::BTreeMap;

use hike_isa::abi::{tags, vm_maps};
use object::{Architecture, BinaryFormat, Object as _, ObjectSection as _, ObjectSymbol as _};
use object::{SectionKind, SymbolKind};

use self::btf::{Btf, Kind, Type};

/// The `call` opcode (`BPF_JMP | BPF_CALL`).
const OP_CALL: u8 = 0x85;
/// `BPF_FUNC_tail_call`.
const HELPER_TAIL_CALL: i32 = 12;
/// Nesting of types followed before giving up (BTF has no cycles without pointers, which are
/// not followed; this only bounds malformed input).
const MAX_TYPE_DEPTH: usize = 32;

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The bytes are not an ELF file the `object` crate can read.
    #[error("not a readable ELF object")]
    Elf {
        /// What the ELF parser said.
        #[source]
        source: object::read::Error,
    },
    /// An ELF object for another machine than BPF.
    #[error("not an eBPF object (ELF for {architecture:?})")]
    NotBpf {
        /// Its machine.
        architecture: Architecture,
    },
    /// The `.BTF` section is malformed.
    #[error("malformed BTF: {what}")]
    MalformedBtf {
        /// What is wrong.
        what: &'static str,
    },
    /// A program symbol that libbpf refuses (static, or beyond its section).
    #[error("program `{name}` in section `{section}`: {what}")]
    BadProgram {
        /// The program.
        name: String,
        /// Its section.
        section: String,
        /// What is wrong.
        what: &'static str,
    },
    /// A map definition of the `.maps` section that libbpf refuses.
    #[error("map `{map}`: {what}")]
    BadMap {
        /// The map.
        map: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Everything [`inspect_object`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The programs, in the object's order.
    pub programs: Vec<ProgramDecl>,
    /// The maps of the `.maps` section, in the object's order (shared VM maps included, marked
    /// [`MapDecl::vm_map`]).
    pub maps: Vec<MapDecl>,
}

impl ObjectInfo {
    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramDecl> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The object's own maps: every map but the shared VM maps.
    pub fn own_maps(&self) -> impl Iterator<Item = &MapDecl> {
        self.maps.iter().filter(|m| !m.vm_map)
    }
}

/// One program of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramDecl {
    /// Its name (the entry function's).
    pub name: String,
    /// Its ELF section (`xdp`, …).
    pub section: String,
    /// Its parameter names if it is a HIKe program (tagged `hike_prog`), else `None`.
    pub hike_params: Option<Vec<String>>,
    /// Whether it is tagged `hike_loader`.
    pub is_loader: bool,
    /// Whether its code calls `bpf_tail_call`. A HIKe program that resumes its chain runs the
    /// VM, which reaches the next program through tail calls; one without any tail call can
    /// only end the packet (it is terminal).
    pub tail_calls: bool,
}

/// One map of the `.maps` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDecl {
    /// Its name.
    pub name: String,
    /// Its type.
    pub map_type: MapType,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes (per CPU for a per-CPU map).
    pub value_size: u32,
    /// Entries, as declared (libbpf rounds a ring buffer's size up to a power-of-two number of
    /// pages when it creates the map; this is the object's number).
    pub max_entries: u32,
    /// The key's type, if the definition names one (`__type(key, …)`).
    pub key: Option<DataType>,
    /// The value's type, if the definition names one.
    pub value: Option<DataType>,
    /// Whether it is one of the VM maps that every object of an instance shares.
    pub vm_map: bool,
}

/// Declares `MapType` with the kernel's types in the kernel's order, so that a type's number is
/// its position: the list is written once, for the enum and for `from_raw`.
macro_rules! map_types {
    ($($name:ident),+ $(,)?) => {
        /// A BPF map type (`enum bpf_map_type` of the kernel's `bpf.h`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum MapType {
            $(
                #[doc = concat!("The kernel's `BPF_MAP_TYPE_*` for ", stringify!($name), ".")]
                $name,
            )+
            /// A type this list does not know, by number.
            Other(u32),
        }

        impl MapType {
            /// The type of number `raw`.
            pub fn from_raw(raw: u32) -> MapType {
                const KNOWN: &[MapType] = &[$(MapType::$name),+];
                KNOWN.get(raw as usize).copied().unwrap_or(MapType::Other(raw))
            }
        }
    };
}

map_types![
    Unspec,
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    StackTrace,
    CgroupArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Sockmap,
    Cpumap,
    Xskmap,
    Sockhash,
    CgroupStorage,
    ReuseportSockarray,
    PercpuCgroupStorage,
    Queue,
    Stack,
    SkStorage,
    DevmapHash,
    StructOps,
    RingBuf,
    InodeStorage,
    TaskStorage,
    BloomFilter,
    UserRingBuf,
    CgrpStorage,
    Arena,
];

impl MapType {
    /// Whether the kernel keeps one value per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuHash
                | MapType::PercpuArray
                | MapType::LruPercpuHash
                | MapType::PercpuCgroupStorage
        )
    }
}

/// A C type, as the BTF describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataType {
    /// How C spells it: `__u32`, `struct in6_addr`, `unsigned int`, `struct <anon>`.
    pub name: String,
    /// Typedef names followed to reach the underlying type, outermost first (`__be32`,
    /// `__u32`).
    pub typedefs: Vec<String>,
    /// Bytes.
    pub size: usize,
    /// What it is, typedefs and qualifiers resolved.
    pub kind: DataKind,
}

impl DataType {
    /// Whether a typedef called `name` was followed to reach this type.
    pub fn has_typedef(&self, name: &str) -> bool {
        self.typedefs.iter().any(|t| t == name)
    }

    /// A type that could not be described.
    fn unknown() -> DataType {
        DataType {
            name: "?".to_owned(),
            typedefs: Vec::new(),
            size: 0,
            kind: DataKind::Other,
        }
    }
}

/// What a [`DataType`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// An integer (`char` and `_Bool` included).
    Int {
        /// Whether it is signed.
        signed: bool,
    },
    /// An enum.
    Enum {
        /// Whether it is signed.
        signed: bool,
    },
    /// A struct.
    Struct {
        /// The struct's tag name (`in6_addr`), `None` if anonymous.
        tag: Option<String>,
        /// Its members.
        members: Vec<Member>,
    },
    /// A union.
    Union {
        /// The union's tag name, `None` if anonymous.
        tag: Option<String>,
        /// Its members.
        members: Vec<Member>,
    },
    /// A fixed-size array.
    Array {
        /// The element type.
        element: Box<DataType>,
        /// Elements.
        len: usize,
    },
    /// Anything else (pointer, float, function, forward declaration, void).
    Other,
}

/// A struct or union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name (empty for an anonymous struct or union member).
    pub name: String,
    /// Byte offset in the enclosing type (for a bitfield, of the byte holding its first bit).
    pub offset: usize,
    /// Bits, for a bitfield.
    pub bitfield: Option<u8>,
    /// Its type.
    pub ty: DataType,
}

/// Reads what the object in `bytes` declares. Nothing is loaded.
pub fn inspect_object(bytes: &[u8]) -> Result<ObjectInfo, ObjectError> {
    let elf = |source| ObjectError::Elf { source };
    let file = object::File::parse(bytes).map_err(elf)?;
    if file.format() != BinaryFormat::Elf || file.architecture() != Architecture::Bpf {
        return Err(ObjectError::NotBpf {
            architecture: file.architecture(),
        });
    }
    let btf = match file.section_by_name(".BTF") {
        Some(s) => Some(Btf::parse(s.data().map_err(elf)?)?),
        None => None,
    };
    let tags = btf.as_ref().map(func_tags).unwrap_or_default();
    Ok(ObjectInfo {
        programs: programs(&file, &tags)?,
        maps: maps(&file, btf.as_ref())?,
    })
}

/// The section offsets of the `r2 = hike_scripts ll` loads (their relocations name the map):
/// the dispatch's tail call to the next script (`dispatch.h`), which every program has at its
/// exit and which does not make it reach other programs.
fn dispatch_loads(
    file: &object::File<'_>,
    section: &object::Section<'_, '_>,
) -> std::collections::BTreeSet<u64> {
    section
        .relocations()
        .filter_map(|(offset, r)| match r.target() {
            object::RelocationTarget::Symbol(i) => {
                let name = file.symbol_by_index(i).ok()?.name().ok()?.to_owned();
                (name == vm_maps::SCRIPTS).then_some(offset)
            }
            _ => None,
        })
        .collect()
}

/// Whether a program's code (at section offset `start`) tail-calls through anything but the
/// dispatch's script table: the program table, so the program resumes its chain. A tail call
/// whose map (the last `r2 = MAP ll` before it, the way clang sets the argument) is the script
/// table is the dispatch's and does not count.
fn program_tail_calls(
    code: &[u8],
    start: usize,
    dispatch: &std::collections::BTreeSet<u64>,
) -> bool {
    /// `BPF_LD | BPF_IMM | BPF_DW`.
    const OP_LD_IMM64: u8 = 0x18;
    let mut r2_is_dispatch = false;
    for (k, i) in code.chunks_exact(8).enumerate() {
        if i[0] == OP_LD_IMM64 && i[1] & 0x0f == 2 {
            r2_is_dispatch = dispatch.contains(&((start + k * 8) as u64));
        }
        let imm = i32::from_le_bytes([i[4], i[5], i[6], i[7]]);
        if i[0] == OP_CALL && i[1] >> 4 == 0 && imm == HELPER_TAIL_CALL && !r2_is_dispatch {
            return true;
        }
    }
    false
}

/// The programs: every function symbol of an executable section but `.text`.
fn programs(
    file: &object::File<'_>,
    tags: &BTreeMap<String, FuncTags>,
) -> Result<Vec<ProgramDecl>, ObjectError> {
    let mut found = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        let section_name = section.name().unwrap_or_default().to_owned();
        if section.kind() != SectionKind::Text || section_name == ".text" {
            continue;
        }
        let name = sym.name().unwrap_or_default().to_owned();
        let bad = |what| ObjectError::BadProgram {
            name: name.clone(),
            section: section_name.clone(),
            what,
        };
        if sym.is_local() {
            return Err(bad("a static program (libbpf refuses it)"));
        }
        let data = section
            .data()
            .map_err(|source| ObjectError::Elf { source })?;
        let (start, len) = (sym.address() as usize, sym.size() as usize);
        let code = start
            .checked_add(len)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| bad("crosses the end of its section"))?;
        let dispatch = dispatch_loads(file, &section);
        let tail_calls = program_tail_calls(code, start, &dispatch);
        let t = tags.get(&name);
        found.push((
            (index.0, start),
            ProgramDecl {
                section: section_name,
                hike_params: t.filter(|t| t.hike_prog).map(|t| t.params.clone()),
                is_loader: t.is_some_and(|t| t.loader),
                tail_calls,
                name,
            },
        ));
    }
    found.sort_by_key(|(at, _)| *at);
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The HIKe declaration tags of one function.
#[derive(Clone, Debug, Default)]
struct FuncTags {
    hike_prog: bool,
    loader: bool,
    params: Vec<String>,
}

fn func_tags(btf: &Btf<'_>) -> BTreeMap<String, FuncTags> {
    let mut out: BTreeMap<String, FuncTags> = BTreeMap::new();
    for (_, tag) in btf.types() {
        if tag.kind() != Kind::DeclTag || tag.tag_component().is_some() {
            continue;
        }
        let Some(text) = btf.name(&tag) else {
            continue;
        };
        let Some(func) = btf.ty(tag.referenced()).filter(|f| f.kind() == Kind::Func) else {
            continue;
        };
        let Some(fname) = btf.name(&func) else {
            continue;
        };
        let t = out.entry(fname).or_default();
        if text == tags::PROG {
            t.hike_prog = true;
        } else if text == tags::LOADER {
            t.loader = true;
        } else if let Some(params) = tags::params(&text) {
            t.params = params;
        }
    }
    out
}

/// The maps of the `.maps` section, in the order of their offsets.
fn maps(file: &object::File<'_>, btf: Option<&Btf<'_>>) -> Result<Vec<MapDecl>, ObjectError> {
    let Some(section) = file.section_by_name(".maps") else {
        return Ok(Vec::new());
    };
    let Some(btf) = btf else {
        return Err(ObjectError::MalformedBtf {
            what: "a `.maps` section without BTF",
        });
    };
    let Some(datasec) = btf.find(Kind::DataSec, ".maps") else {
        return Ok(Vec::new());
    };
    // clang leaves the offsets of a DATASEC's variables at zero in an object file; the symbol
    // table has them (libbpf fixes the BTF up from it the same way).
    let offsets: BTreeMap<String, u64> = file
        .symbols()
        .filter(|s| s.section_index() == Some(section.index()))
        .filter_map(|s| Some((s.name().ok()?.to_owned(), s.address())))
        .collect();
    let mut out = Vec::new();
    for (var_id, _, _) in datasec.variables() {
        let Some(var) = btf.ty(var_id).filter(|v| v.kind() == Kind::Var) else {
            return Err(ObjectError::MalformedBtf {
                what: "a `.maps` entry that is not a variable",
            });
        };
        let Some(name) = btf.name(&var) else {
            return Err(ObjectError::MalformedBtf {
                what: "a map without a name",
            });
        };
        let decl = map_decl(btf, &var, name.clone())?;
        out.push((offsets.get(&name).copied().unwrap_or(u64::MAX), decl));
    }
    out.sort_by_key(|(offset, _)| *offset);
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

/// One map definition, read as libbpf's `parse_btf_map_def` reads it.
fn map_decl(btf: &Btf<'_>, var: &Type<'_>, name: String) -> Result<MapDecl, ObjectError> {
    let bad = |what| ObjectError::BadMap {
        map: name.clone(),
        what,
    };
    let def = btf
        .ty(var.referenced())
        .and_then(|t| btf.skip_modifiers_and_typedefs(t))
        .filter(|t| t.kind() == Kind::Struct)
        .ok_or_else(|| bad("its definition is not a struct"))?;
    let mut map = MapDecl {
        name: name.clone(),
        map_type: MapType::Unspec,
        key_size: 0,
        value_size: 0,
        max_entries: 0,
        key: None,
        value: None,
        vm_map: vm_maps::DECLARED.contains(&name.as_str()) || name == vm_maps::PROGS_TC,
    };
    for m in def.members() {
        let field = btf
            .string(m.name_off)
            .ok_or_else(|| bad("a field without a name"))?;
        let ty = btf.ty(m.ty).ok_or_else(|| bad("a field of no type"))?;
        // `__uint(name, N)` declares `int (*name)[N]`.
        let int = || -> Result<u32, ObjectError> {
            let array = btf
                .ty(ty.referenced())
                .filter(|a| ty.kind() == Kind::Ptr && a.kind() == Kind::Array)
                .ok_or_else(|| bad("an integer field that is not `__uint(…)`"))?;
            u32::try_from(array.array().1).map_err(|_| bad("an integer field out of range"))
        };
        // `__type(key, T)` declares `T *key`.
        let pointee = || -> Result<(u32, u32), ObjectError> {
            if ty.kind() != Kind::Ptr {
                return Err(bad("a type field that is not `__type(…)`"));
            }
            let size = btf
                .resolve_size(ty.referenced())
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| bad("a key or value of no size"))?;
            Ok((ty.referenced(), size))
        };
        let agree = |current: u32, size: u32, what| {
            if current != 0 && current != size {
                Err(bad(what))
            } else {
                Ok(size)
            }
        };
        match field.as_str() {
            "type" => map.map_type = MapType::from_raw(int()?),
            "max_entries" => map.max_entries = int()?,
            "key_size" => map.key_size = agree(map.key_size, int()?, "conflicting key sizes")?,
            "value_size" => {
                map.value_size = agree(map.value_size, int()?, "conflicting value sizes")?
            }
            "key" => {
                let (id, size) = pointee()?;
                map.key_size = agree(map.key_size, size, "conflicting key sizes")?;
                map.key = btf.ty(id).map(|t| describe(btf, t, 0));
            }
            "value" => {
                let (id, size) = pointee()?;
                map.value_size = agree(map.value_size, size, "conflicting value sizes")?;
                map.value = btf.ty(id).map(|t| describe(btf, t, 0));
            }
            // A program array's or map-in-map's initial values: the value is a 4-byte ID or
            // file descriptor.
            "values" => map.value_size = agree(map.value_size, 4, "conflicting value sizes")?,
            _ => {}
        }
    }
    Ok(map)
}

/// Describes `t`, following typedefs and qualifiers.
fn describe(btf: &Btf<'_>, t: Type<'_>, depth: usize) -> DataType {
    let mut typedefs = Vec::new();
    let mut cur = t;
    for _ in 0..MAX_TYPE_DEPTH {
        if !(cur.kind().is_modifier() || cur.kind() == Kind::Typedef) {
            break;
        }
        if cur.kind() == Kind::Typedef {
            if let Some(n) = btf.name(&cur) {
                typedefs.push(n);
            }
        }
        match btf.ty(cur.referenced()) {
            Some(n) => cur = n,
            None => break,
        }
    }
    let base_name = btf.name(&cur);
    let (name, size, kind) = if depth > MAX_TYPE_DEPTH {
        ("?".to_owned(), 0, DataKind::Other)
    } else {
        resolve(btf, cur, base_name, depth)
    };
    DataType {
        name: typedefs.first().cloned().unwrap_or(name),
        typedefs,
        size,
        kind,
    }
}

fn members(btf: &Btf<'_>, c: &Type<'_>, depth: usize) -> Vec<Member> {
    c.members()
        .map(|m| Member {
            name: btf.string(m.name_off).unwrap_or_default(),
            offset: m.bit_offset as usize / 8,
            bitfield: m.bitfield,
            ty: btf
                .ty(m.ty)
                .map_or_else(DataType::unknown, |t| describe(btf, t, depth + 1)),
        })
        .collect()
}

fn resolve(
    btf: &Btf<'_>,
    cur: Type<'_>,
    base_name: Option<String>,
    depth: usize,
) -> (String, usize, DataKind) {
    let anon = |word: &str| format!("{word} {}", base_name.as_deref().unwrap_or("<anon>"));
    match cur.kind() {
        Kind::Int => (
            base_name.unwrap_or_else(|| "int".to_owned()),
            cur.size(),
            DataKind::Int {
                signed: cur.int_signed(),
            },
        ),
        Kind::Enum | Kind::Enum64 => (
            anon("enum"),
            cur.size(),
            DataKind::Enum {
                signed: cur.enum_signed(),
            },
        ),
        Kind::Struct => (
            anon("struct"),
            cur.size(),
            DataKind::Struct {
                members: members(btf, &cur, depth),
                tag: base_name,
            },
        ),
        Kind::Union => (
            anon("union"),
            cur.size(),
            DataKind::Union {
                members: members(btf, &cur, depth),
                tag: base_name,
            },
        ),
        Kind::Array => {
            let (element, len) = cur.array();
            let element = btf
                .ty(element)
                .map_or_else(DataType::unknown, |t| describe(btf, t, depth + 1));
            (
                format!("{}[{len}]", element.name),
                element.size * len,
                DataKind::Array {
                    element: Box::new(element),
                    len,
                },
            )
        }
        Kind::Ptr => ("pointer".to_owned(), 8, DataKind::Other),
        Kind::Float => (
            base_name.unwrap_or_else(|| "float".to_owned()),
            cur.size(),
            DataKind::Other,
        ),
        _ => (
            base_name.unwrap_or_else(|| "void".to_owned()),
            0,
            DataKind::Other,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::MapType;

    #[test]
    fn map_type_numbers_are_the_kernels() {
        // Numbers from `enum bpf_map_type` in the kernel's uapi `bpf.h`.
        assert_eq!(MapType::from_raw(0), MapType::Unspec);
        assert_eq!(MapType::from_raw(1), MapType::Hash);
        assert_eq!(MapType::from_raw(3), MapType::ProgArray);
        assert_eq!(MapType::from_raw(6), MapType::PercpuArray);
        assert_eq!(MapType::from_raw(11), MapType::LpmTrie);
        assert_eq!(MapType::from_raw(27), MapType::RingBuf);
        assert_eq!(MapType::from_raw(33), MapType::Arena);
        assert_eq!(MapType::from_raw(34), MapType::Other(34));
    }
}
