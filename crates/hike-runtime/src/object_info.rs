//! What a BPF object declares, read from its ELF and BTF without loading anything.
//!
//! [`inspect_object`] opens an object with libbpf (parsing only: no program or map reaches the
//! kernel) and reports, for each program, its HIKe tags (`hike_prog`, `hike_params:…`,
//! `hike_loader`) and whether its code can tail-call; and for each map of the `.maps` section,
//! its type, sizes and the BTF description of its key and value ([`DataType`]): C type names,
//! sizes, struct members with their offsets. The compiler's catalog is built from this, so that
//! a script is checked against the programs as they were really compiled.
//!
//! ```no_run
//! # fn main() -> Result<(), hike_runtime::Error> {
//! # let elf: &[u8] = &[];
//! let info = hike_runtime::inspect_object(elf)?;
//! for m in &info.maps {
//!     println!("{}: key {:?}", m.name, m.key.as_ref().map(|k| &k.name));
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use libbpf_rs::btf::types::{Composite, DataSec, Var};
use libbpf_rs::btf::BtfKind;
use libbpf_rs::btf::BtfType;
use libbpf_rs::{AsRawLibbpf, Btf, HasSize, MapType, ObjectBuilder, ReferencesType};

use crate::vm_maps::VmMap;
use crate::{Error, Result};

/// The `call` opcode (`BPF_JMP | BPF_CALL`).
const OP_CALL: u8 = 0x85;
/// `BPF_FUNC_tail_call`.
const HELPER_TAIL_CALL: i32 = 12;
/// Nesting of types followed before giving up (BTF has no cycles without pointers, which are
/// not followed; this only bounds malformed input).
const MAX_TYPE_DEPTH: usize = 32;

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
    /// Entries.
    pub max_entries: u32,
    /// The key's type, if the definition names one (`__type(key, …)`).
    pub key: Option<DataType>,
    /// The value's type, if the definition names one.
    pub value: Option<DataType>,
    /// Whether it is one of the VM maps that every object of an instance shares.
    pub vm_map: bool,
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

/// Reads what the object in `bytes` declares. Nothing is loaded; the object's programs and
/// maps are only parsed.
pub fn inspect_object(bytes: &[u8]) -> Result<ObjectInfo> {
    let open_err = |source| Error::OpenObject {
        object: "inspect".to_owned(),
        source,
    };
    let mut builder = ObjectBuilder::default();
    builder.name("hike_inspect").map_err(open_err)?;
    let open = builder.open_memory(bytes).map_err(open_err)?;

    // SAFETY: `open` is a valid opened object that outlives `btf` (dropped at the end of this
    // function, after every use of `btf`).
    let obj = unsafe { open.as_libbpf_object().as_ref() };
    let btf = Btf::from_bpf_object(obj).map_err(open_err)?;
    let tags = btf.as_ref().map(func_tags).unwrap_or_default();
    let defs = btf.as_ref().map(map_types).unwrap_or_default();

    let programs = open
        .progs()
        .map(|p| {
            let name = p.name().to_string_lossy().into_owned();
            let t = tags.get(&name);
            let tail_calls = p
                .insns()
                .iter()
                .any(|i| i.code == OP_CALL && i.src_reg() == 0 && i.imm == HELPER_TAIL_CALL);
            ProgramDecl {
                section: p.section().to_string_lossy().into_owned(),
                hike_params: t.filter(|t| t.hike_prog).map(|t| t.params.clone()),
                is_loader: t.is_some_and(|t| t.loader),
                tail_calls,
                name,
            }
        })
        .collect();
    let maps = open
        .maps()
        // libbpf's internal maps (`.rodata`, `.bss`, …) are named `<object>.<section>`.
        .filter(|m| !m.name().to_string_lossy().contains('.'))
        .map(|m| {
            let name = m.name().to_string_lossy().into_owned();
            let (key, value) = defs.get(&name).cloned().unwrap_or_default();
            MapDecl {
                map_type: m.map_type(),
                key_size: m.key_size(),
                value_size: m.value_size(),
                max_entries: m.max_entries(),
                key,
                value,
                vm_map: VmMap::from_name(&name).is_some(),
                name,
            }
        })
        .collect();
    drop(btf);
    drop(open);
    Ok(ObjectInfo { programs, maps })
}

/// The HIKe declaration tags of one function.
#[derive(Clone, Debug, Default)]
struct FuncTags {
    hike_prog: bool,
    loader: bool,
    params: Vec<String>,
}

fn func_tags(btf: &Btf<'_>) -> BTreeMap<String, FuncTags> {
    use libbpf_rs::btf::types::{DeclTag, Func};
    let mut out: BTreeMap<String, FuncTags> = BTreeMap::new();
    for tag in btf.type_by_kind::<DeclTag<'_>>() {
        if tag.component_index().is_some() {
            continue;
        }
        let Some(text) = tag.name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let Some(func) = btf.type_by_id::<Func<'_>>(tag.referenced_type_id()) else {
            continue;
        };
        let Some(fname) = func.name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let t = out.entry(fname).or_default();
        if text == crate::btf::TAG_PROG {
            t.hike_prog = true;
        } else if text == TAG_LOADER {
            t.loader = true;
        } else if let Some(list) = text.strip_prefix(crate::btf::TAG_PARAMS) {
            t.params = list
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
        }
    }
    out
}

/// The declaration tag that marks a loader's entry function.
pub const TAG_LOADER: &str = "hike_loader";

type KeyValue = (Option<DataType>, Option<DataType>);

/// The key and value types of every map definition of the `.maps` section.
fn map_types(btf: &Btf<'_>) -> BTreeMap<String, KeyValue> {
    let mut out = BTreeMap::new();
    let Some(sec) = btf.type_by_name::<DataSec<'_>>(".maps") else {
        return out;
    };
    for info in sec.iter() {
        let Some(var) = btf.type_by_id::<Var<'_>>(info.ty) else {
            continue;
        };
        let Some(name) = var.name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let def = var.referenced_type().skip_mods_and_typedefs();
        let Ok(def) = Composite::try_from(def) else {
            continue;
        };
        let mut kv: KeyValue = (None, None);
        for m in def.iter() {
            let field = m.name.map(|n| n.to_string_lossy().into_owned());
            let slot = match field.as_deref() {
                Some("key") => &mut kv.0,
                Some("value") => &mut kv.1,
                _ => continue,
            };
            // `__type(key, T)` declares `T *key`.
            let Some(ptr) = btf.type_by_id::<BtfType<'_>>(m.ty) else {
                continue;
            };
            if ptr.kind() != BtfKind::Ptr {
                continue;
            }
            if let Some(target) = ptr.next_type() {
                *slot = Some(describe(btf, target, 0));
            }
        }
        out.insert(name, kv);
    }
    out
}

fn type_name(t: &BtfType<'_>) -> Option<String> {
    t.name().map(|n| n.to_string_lossy().into_owned())
}

/// Describes `t`, following typedefs and qualifiers.
fn describe(btf: &Btf<'_>, t: BtfType<'_>, depth: usize) -> DataType {
    let mut typedefs = Vec::new();
    let mut cur = t;
    while cur.is_mod() || cur.kind() == BtfKind::Typedef {
        if cur.kind() == BtfKind::Typedef {
            if let Some(n) = type_name(&cur) {
                typedefs.push(n);
            }
        }
        match cur.next_type() {
            Some(n) => cur = n,
            None => break,
        }
    }
    let base_name = type_name(&cur);
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

fn members(btf: &Btf<'_>, c: &Composite<'_>, depth: usize) -> Vec<Member> {
    use libbpf_rs::btf::types::MemberAttr;
    c.iter()
        .map(|m| {
            let (bit_offset, bitfield) = match m.attr {
                MemberAttr::Normal { offset } => (offset, None),
                MemberAttr::BitField { size, offset } => (offset, Some(size)),
            };
            let ty = btf
                .type_by_id::<BtfType<'_>>(m.ty)
                .map(|t| describe(btf, t, depth + 1))
                .unwrap_or(DataType {
                    name: "?".to_owned(),
                    typedefs: Vec::new(),
                    size: 0,
                    kind: DataKind::Other,
                });
            Member {
                name: m
                    .name
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                offset: bit_offset as usize / 8,
                bitfield,
                ty,
            }
        })
        .collect()
}

fn resolve(
    btf: &Btf<'_>,
    cur: BtfType<'_>,
    base_name: Option<String>,
    depth: usize,
) -> (String, usize, DataKind) {
    use libbpf_rs::btf::types::{Array, Enum, Enum64, Int, IntEncoding};
    match cur.kind() {
        BtfKind::Int => {
            let int = Int::try_from(cur).expect("kind checked");
            let signed = matches!(int.encoding, IntEncoding::Signed);
            (
                base_name.unwrap_or_else(|| "int".to_owned()),
                int.size(),
                DataKind::Int { signed },
            )
        }
        BtfKind::Enum => {
            let e = Enum::try_from(cur).expect("kind checked");
            (
                format!("enum {}", base_name.as_deref().unwrap_or("<anon>")),
                e.size(),
                DataKind::Enum {
                    signed: e.is_signed(),
                },
            )
        }
        BtfKind::Enum64 => {
            let e = Enum64::try_from(cur).expect("kind checked");
            (
                format!("enum {}", base_name.as_deref().unwrap_or("<anon>")),
                e.size(),
                DataKind::Enum {
                    signed: e.is_signed(),
                },
            )
        }
        BtfKind::Struct | BtfKind::Union => {
            let c = Composite::try_from(cur).expect("kind checked");
            let word = if c.is_struct { "struct" } else { "union" };
            let name = format!("{word} {}", base_name.as_deref().unwrap_or("<anon>"));
            let members = members(btf, &c, depth);
            let kind = if c.is_struct {
                DataKind::Struct {
                    tag: base_name,
                    members,
                }
            } else {
                DataKind::Union {
                    tag: base_name,
                    members,
                }
            };
            (name, c.size(), kind)
        }
        BtfKind::Array => {
            let a = Array::try_from(cur).expect("kind checked");
            let element = describe(btf, a.contained_type(), depth + 1);
            let len = a.capacity();
            (
                format!("{}[{len}]", element.name),
                element.size * len,
                DataKind::Array {
                    element: Box::new(element),
                    len,
                },
            )
        }
        BtfKind::Ptr => ("pointer".to_owned(), 8, DataKind::Other),
        BtfKind::Float => {
            let f = libbpf_rs::btf::types::Float::try_from(cur).expect("kind checked");
            (
                base_name.unwrap_or_else(|| "float".to_owned()),
                f.size(),
                DataKind::Other,
            )
        }
        _ => (
            base_name.unwrap_or_else(|| "void".to_owned()),
            0,
            DataKind::Other,
        ),
    }
}
