//! Map layouts from BTF: what each byte of a key or value means, and the value codec whole:
//! how a script's typed values ([`ValueLayout::encode`]) and a client's JSON
//! ([`ValueLayout::encode_json`], the forms a dump shows) are encoded into it, and how a dump
//! decodes it back ([`ValueLayout::decode`], per-CPU values summed by
//! [`ValueLayout::sum_percpu`]). The command line's forms (a script's tuple, fields by name,
//! partial values) are read into the JSON form by `entry_text`
//! ([`ValueLayout::encode_text`], [`ValueLayout::encode_text_fields`]).
//!
//! A key or value type becomes a list of [`FieldLayout`]s:
//! - `struct in6_addr` is an IPv6 address, `struct in_addr` and `__be32` an IPv4 address (both
//!   stored as on the wire);
//! - integers (`__u8` … `__s64`, `char`, `_Bool`, enums) are numbers, native-endian, except
//!   `__be16`/`__be64`, stored in network byte order;
//! - a struct is its members in order (nested structs flattened as `outer.inner`);
//! - in a loader, the value of a classifier map (any map but `hike_ldr_cfg`) that is one `u32`
//!   is a chain ID, and so is anything declared with a `hike_chain_id` typedef;
//! - a `hike_chain_ref` (`bpf/include/hike/abi.h`) is a chain too, stored as its ID + 1, with 0
//!   for "no chain" (the classifiers that are arrays hold it: an array entry starts zeroed).
//!   Scripts and dumps name the chain; the 1 is added here and removed when decoding, where 0
//!   decodes to `null`.
//!
//! Anything else (arrays, unions, bitfields, pointers) makes the key or value opaque: the map
//! cannot be configured from a script (it is still dumped, as hex).

use std::net::{Ipv4Addr, Ipv6Addr};

use eclat_compiler::catalog::{CType, Field, FieldKind, MapSig};
use eclat_compiler::output::MapValue;
use eclat_syntax::ast::IntType;
use hike_isa::abi;
use serde_json::{json, Map as JsonMap, Value as Json};

use crate::object::{DataKind, DataType, MapDecl, MapType};

/// The name of the loaders' verdict configuration map (`bpf/include/hike/loader.h`).
pub const LOADER_CONFIG_MAP: &str = "hike_ldr_cfg";
/// A typedef that marks a chain ID anywhere.
pub const CHAIN_ID_TYPEDEFS: [&str; 2] = ["hike_chain_id", "hike_chain_id_t"];
/// The typedef of a chain stored as its ID + 1 (`hike_isa::abi::ChainRef`).
pub const CHAIN_REF_TYPEDEF: &str = "hike_chain_ref";

/// One scalar field of a key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    /// Its name: the struct member (`src`, `outer.inner`), or `key`/`value` for a scalar.
    pub name: String,
    /// Byte offset.
    pub offset: usize,
    /// Bytes.
    pub size: usize,
    /// What a script writes there.
    pub kind: FieldKind,
    /// Whether a number is stored in network byte order.
    pub big_endian: bool,
    /// Whether a chain is stored as a `hike_chain_ref` (its ID + 1, 0 for no chain) rather than
    /// as its ID.
    pub chain_ref: bool,
    /// The values the field means something for, where its C type allows more: a loader's
    /// verdicts are XDP actions ([`VERDICTS`]).
    pub domain: Option<Domain>,
}

/// The values a number field takes, and what they are, for the refusal of others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    /// The largest value (the smallest is 0).
    pub max: u64,
    /// What the values are, for people.
    pub what: &'static str,
}

/// The verdicts of a loader's configuration (`struct hike_loader_config`): the XDP actions.
pub const VERDICTS: Domain = Domain {
    max: 4,
    what: "an XDP verdict: 0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect",
};

/// The fields of `hike_ldr_cfg`'s value that hold verdicts.
const VERDICT_FIELDS: [&str; 2] = ["default_verdict", "failsafe_verdict"];

/// The layout of a key or of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueLayout {
    /// Its C type and size.
    pub c_type: CType,
    /// Its fields, or `None` if the type is opaque (see the module docs).
    pub fields: Option<Vec<FieldLayout>>,
    /// Whether it is one scalar (one field named `key` or `value`) rather than a struct.
    pub scalar: bool,
}

/// A map and the layouts of its key and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapLayout {
    /// The map's name in its object.
    pub name: String,
    /// Other names a script may use (from the manifest's `[map_aliases]`).
    pub aliases: Vec<String>,
    /// Its type (`hash`, `percpu_hash`, …).
    pub map_type: MapType,
    /// Entries.
    pub max_entries: u32,
    /// Whether the kernel keeps one value per CPU.
    pub percpu: bool,
    /// The key.
    pub key: ValueLayout,
    /// The value.
    pub value: ValueLayout,
}

/// Some or all fields of a key or value, encoded ([`ValueLayout::encode_json_value`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldWrite {
    /// The whole key or value, zero where no field was given.
    pub bytes: Vec<u8>,
    /// The indexes (in [`ValueLayout::fields`]) of the fields given, in order.
    pub given: Vec<usize>,
}

impl FieldWrite {
    /// Whether every field of `layout` was given.
    pub fn is_whole(&self, layout: &ValueLayout) -> bool {
        layout
            .fields
            .as_ref()
            .is_some_and(|f| f.len() == self.given.len())
    }

    /// `base` with the given fields written over it; `zero_numbers` writes 0 in the given
    /// number fields instead (the other CPUs of a per-CPU map, whose numbers are summed).
    pub fn over(&self, layout: &ValueLayout, base: &[u8], zero_numbers: bool) -> Vec<u8> {
        let mut out = base.to_vec();
        out.resize(self.bytes.len(), 0);
        for f in self
            .given
            .iter()
            .filter_map(|i| layout.fields.as_ref().and_then(|fs| fs.get(*i)))
        {
            let range = f.offset..f.offset + f.size;
            if zero_numbers && matches!(f.kind, FieldKind::Int(_)) {
                out[range].fill(0);
            } else {
                out[range.clone()].copy_from_slice(&self.bytes[range]);
            }
        }
        out
    }
}

/// A typed map entry that does not fit the layout (the compiler checks the same rules first,
/// so this means the catalog changed between compiling and loading).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The key or value type cannot be written from a script.
    #[error("{what} type {layout} of map `{map}` cannot be written from a script (arrays, unions and bitfields are not supported)")]
    Opaque {
        /// The map.
        map: String,
        /// `key` or `value`.
        what: &'static str,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
    },
    /// Wrong number of fields.
    #[error("map `{map}` expects a {what} of type {layout} with {expected} field{}, found {found}", if *.expected == 1 { "" } else { "s" })]
    Arity {
        /// The map.
        map: String,
        /// `key` or `value`.
        what: &'static str,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// Fields of the type.
        expected: usize,
        /// Items given.
        found: usize,
    },
    /// An item of the wrong kind.
    #[error("map `{map}` expects a {what} of type {layout}{}; got {found}", match field { Some(f) => format!(" whose field `{f}` is {expected}"), None => format!(", {expected}") })]
    Kind {
        /// The map.
        map: String,
        /// `key` or `value`.
        what: &'static str,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// The struct member, when the key or value is a struct.
        field: Option<String>,
        /// What it takes.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A number too wide for its field.
    #[error("{value} does not fit field `{field}` ({size} bytes) of map `{map}`")]
    Overflow {
        /// The map.
        map: String,
        /// The field.
        field: String,
        /// Its size.
        size: usize,
        /// The value.
        value: u64,
    },
    /// A number the field does not take.
    #[error("{value} is not {} (field `{field}` of map `{map}` takes 0 to {})", domain.what, domain.max)]
    OutOfDomain {
        /// The map.
        map: String,
        /// The field.
        field: String,
        /// The value.
        value: u64,
        /// What the field takes.
        domain: Domain,
    },
    /// A chain that is not linked.
    #[error("chain `{chain}` (in map `{map}`) is not loaded")]
    UnknownChain {
        /// The map.
        map: String,
        /// The chain.
        chain: String,
    },
    /// JSON form: text that is not JSON.
    #[error("the {what} `{text}` is not JSON ({reason}); the {what} is {layout}")]
    NotJson {
        /// `key` or `value`.
        what: &'static str,
        /// The text.
        text: String,
        /// What the JSON parser said.
        reason: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
    },
    /// Command line form: text that is none of the forms (`entry_text`).
    #[error("the {what} `{text}` cannot be read ({reason}); the {what} is {layout}: write every field in order (`1, 2` or `'(1, 2)'`), by name (`FIELD=VALUE,...`) or as JSON")]
    Unreadable {
        /// `key` or `value`.
        what: &'static str,
        /// The text.
        text: String,
        /// What is wrong with it.
        reason: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
    },
    /// JSON form: the key or value type has no fields to write (see [`EncodeError::Opaque`]).
    #[error("the {what} type {layout} cannot be written field by field")]
    NoFields {
        /// `key` or `value`.
        what: &'static str,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
    },
    /// JSON form: a struct given as something else than an object.
    #[error("the {what} `{text}` is not an object; the {what} is {layout}, written as {form}")]
    NotAnObject {
        /// `key` or `value`.
        what: &'static str,
        /// The text.
        text: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// How it is written ([`ValueLayout::json_form`]).
        form: String,
    },
    /// JSON form: an object with a field the struct does not have.
    #[error("the {what} has no field `{field}`; it is {layout}, written as {form}")]
    UnknownField {
        /// `key` or `value`.
        what: &'static str,
        /// The field given.
        field: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// How it is written ([`ValueLayout::json_form`]).
        form: String,
    },
    /// JSON form: an object without one of the struct's fields.
    #[error("the {what} lacks field `{field}`; it is {layout}, written as {form}")]
    MissingField {
        /// `key` or `value`.
        what: &'static str,
        /// The missing field.
        field: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// How it is written ([`ValueLayout::json_form`]).
        form: String,
    },
    /// JSON form: a JSON value of the wrong kind for its field (a string for a number, a
    /// negative number, an address that does not parse).
    #[error("{what} {}`{json}` does not fit: the {what} is {layout}, written as {form}", match field { Some(f) => format!("field `{f}` "), None => String::new() })]
    JsonKind {
        /// `key` or `value`.
        what: &'static str,
        /// The struct member, when the key or value is a struct.
        field: Option<String>,
        /// The JSON value given.
        json: String,
        /// The type (boxed: keeps the error small).
        layout: Box<CType>,
        /// How it is written ([`ValueLayout::json_form`]).
        form: String,
    },
}

fn int_type(size: usize, signed: bool) -> Option<IntType> {
    Some(match (size, signed) {
        (1, false) => IntType::U8,
        (2, false) => IntType::U16,
        (4, false) => IntType::U32,
        (8, false) => IntType::U64,
        (1, true) => IntType::S8,
        (2, true) => IntType::S16,
        (4, true) => IntType::S32,
        (8, true) => IntType::S64,
        _ => return None,
    })
}

fn struct_tag(t: &DataType) -> Option<&str> {
    match &t.kind {
        DataKind::Struct { tag, .. } => tag.as_deref(),
        _ => None,
    }
}

/// The field a scalar type makes, or `None` if it is not a scalar this layer knows.
fn scalar(t: &DataType, name: &str, offset: usize) -> Option<FieldLayout> {
    let field = |kind, big_endian| FieldLayout {
        name: name.to_owned(),
        offset,
        size: t.size,
        kind,
        big_endian,
        chain_ref: false,
        domain: None,
    };
    if struct_tag(t) == Some("in6_addr") && t.size == 16 {
        return Some(field(FieldKind::Ipv6, false));
    }
    if (struct_tag(t) == Some("in_addr") || t.has_typedef("__be32")) && t.size == 4 {
        return Some(field(FieldKind::Ipv4, false));
    }
    if t.has_typedef(CHAIN_REF_TYPEDEF) && t.size == 4 {
        return Some(FieldLayout {
            chain_ref: true,
            ..field(FieldKind::Chain, false)
        });
    }
    if CHAIN_ID_TYPEDEFS.iter().any(|n| t.has_typedef(n)) && t.size == 4 {
        return Some(field(FieldKind::Chain, false));
    }
    let signed = match t.kind {
        DataKind::Int { signed } | DataKind::Enum { signed } => signed,
        _ => return None,
    };
    let big_endian = t.has_typedef("__be16") || t.has_typedef("__be64");
    int_type(t.size, signed).map(|ty| field(FieldKind::Int(ty), big_endian))
}

/// Appends the fields of `t` at `offset`, named under `prefix`; false if `t` is opaque.
fn flatten(t: &DataType, prefix: &str, offset: usize, out: &mut Vec<FieldLayout>) -> bool {
    if let Some(f) = scalar(t, prefix, offset) {
        out.push(f);
        return true;
    }
    let DataKind::Struct { members, .. } = &t.kind else {
        return false;
    };
    for m in members {
        if m.bitfield.is_some() || m.name.is_empty() {
            return false;
        }
        let name = if prefix.is_empty() {
            m.name.clone()
        } else {
            format!("{prefix}.{}", m.name)
        };
        if !flatten(&m.ty, &name, offset + m.offset, out) {
            return false;
        }
    }
    true
}

impl ValueLayout {
    /// The layout of `ty` (or of `size` opaque bytes when the BTF has no type) in the role
    /// `role` (`key` or `value`).
    pub fn new(ty: Option<&DataType>, size: u32, role: &str) -> ValueLayout {
        let Some(ty) = ty else {
            return ValueLayout {
                c_type: CType::new(format!("{size} bytes"), size as usize),
                fields: None,
                scalar: false,
            };
        };
        let mut fields = Vec::new();
        // A scalar is one field named after its role; a struct's members keep their names.
        let one = scalar(ty, role, 0);
        let is_scalar = one.is_some();
        let ok = match one {
            Some(f) => {
                fields.push(f);
                true
            }
            None => matches!(ty.kind, DataKind::Struct { .. }) && flatten(ty, "", 0, &mut fields),
        };
        ValueLayout {
            c_type: CType::new(ty.name.clone(), ty.size),
            fields: (ok && !fields.is_empty()).then_some(fields),
            scalar: is_scalar,
        }
    }

    /// Bytes.
    pub fn size(&self) -> usize {
        self.c_type.size
    }

    fn sig_fields(&self) -> Option<Vec<Field>> {
        Some(
            self.fields
                .as_ref()?
                .iter()
                .map(|f| Field {
                    name: f.name.clone(),
                    kind: f.kind,
                    domain: f.domain.map(|d| (d.max, d.what.to_owned())),
                })
                .collect(),
        )
    }

    /// Encodes a script's typed items. `chain_id` gives the ID of a chain by name.
    pub fn encode(
        &self,
        map: &str,
        what: &'static str,
        items: &[MapValue],
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<Vec<u8>, EncodeError> {
        let fields = self.fields.as_ref().ok_or_else(|| EncodeError::Opaque {
            map: map.to_owned(),
            what,
            layout: Box::new(self.c_type.clone()),
        })?;
        if fields.len() != items.len() {
            return Err(EncodeError::Arity {
                map: map.to_owned(),
                what,
                layout: Box::new(self.c_type.clone()),
                expected: fields.len(),
                found: items.len(),
            });
        }
        let mut out = vec![0u8; self.size()];
        for (f, item) in fields.iter().zip(items) {
            let bytes = self.encode_field(map, what, f, item, chain_id)?;
            out[f.offset..f.offset + f.size].copy_from_slice(&bytes);
        }
        Ok(out)
    }

    /// The bytes of one field `f` holding `item`.
    fn encode_field(
        &self,
        map: &str,
        what: &'static str,
        f: &FieldLayout,
        item: &MapValue,
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<Vec<u8>, EncodeError> {
        let kind_err = |found: &str| EncodeError::Kind {
            map: map.to_owned(),
            what,
            layout: Box::new(self.c_type.clone()),
            field: (!self.scalar).then(|| f.name.clone()),
            expected: f.kind.describe(),
            found: found.to_owned(),
        };
        Ok(match (f.kind, item) {
            (FieldKind::Ipv6, MapValue::Ipv6(a)) => a.octets().to_vec(),
            (FieldKind::Ipv4, MapValue::Ipv4(a)) => a.octets().to_vec(),
            (FieldKind::Chain, MapValue::Chain(name)) => {
                let id = chain_id(name).ok_or_else(|| EncodeError::UnknownChain {
                    map: map.to_owned(),
                    chain: name.clone(),
                })?;
                let stored = if f.chain_ref { abi::chain_ref(id) } else { id };
                stored.to_ne_bytes().to_vec()
            }
            (FieldKind::Int(_), MapValue::Int { value, .. }) => {
                if let Some(domain) = f.domain.filter(|d| *value > d.max) {
                    return Err(EncodeError::OutOfDomain {
                        map: map.to_owned(),
                        field: f.name.clone(),
                        value: *value,
                        domain,
                    });
                }
                int_bytes(*value, f.size, f.big_endian).ok_or_else(|| EncodeError::Overflow {
                    map: map.to_owned(),
                    field: f.name.clone(),
                    size: f.size,
                    value: *value,
                })?
            }
            (_, MapValue::Int { .. }) => return Err(kind_err("a number")),
            (_, MapValue::Ipv4(_)) => return Err(kind_err("an IPv4 address")),
            (_, MapValue::Ipv6(_)) => return Err(kind_err("an IPv6 address")),
            (_, MapValue::Chain(c)) => return Err(kind_err(&format!("chain `{c}`"))),
        })
    }

    /// Encodes a key or value written as JSON text, in the forms [`ValueLayout::decode`]
    /// gives: a scalar as a number, an address string or a chain name; a struct as an object
    /// of every field. `chain_id` gives the ID of a chain by name. Numbers must be
    /// non-negative integers (an IPv4 address may also be its 32-bit number, as in a script);
    /// the rest of the rules are [`ValueLayout::encode`]'s.
    pub fn encode_json(
        &self,
        map: &str,
        what: &'static str,
        text: &str,
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<Vec<u8>, EncodeError> {
        let json: Json = serde_json::from_str(text).map_err(|e| EncodeError::NotJson {
            what,
            text: text.to_owned(),
            reason: e.to_string(),
            layout: Box::new(self.c_type.clone()),
        })?;
        Ok(self
            .encode_json_value(map, what, &json, text, false, chain_id)?
            .bytes)
    }

    /// Encodes `json` (what `text` was read as, for messages). With `partial`, an object may
    /// name only some fields of a struct: the others are left zero in
    /// [`FieldWrite::bytes`] and out of [`FieldWrite::given`].
    pub fn encode_json_value(
        &self,
        map: &str,
        what: &'static str,
        json: &Json,
        text: &str,
        partial: bool,
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<FieldWrite, EncodeError> {
        let layout = || Box::new(self.c_type.clone());
        let Some(fields) = &self.fields else {
            return Err(EncodeError::NoFields {
                what,
                layout: layout(),
            });
        };
        let form = || self.json_form().expect("the layout has fields");
        let item = |f: &FieldLayout, v: &Json| -> Result<MapValue, EncodeError> {
            let wrong = || EncodeError::JsonKind {
                what,
                field: (!self.scalar).then(|| f.name.clone()),
                json: v.to_string(),
                layout: layout(),
                form: form(),
            };
            Ok(match f.kind {
                FieldKind::Int(ty) => MapValue::Int {
                    ty,
                    value: v.as_u64().ok_or_else(wrong)?,
                },
                FieldKind::Ipv4 => MapValue::Ipv4(
                    v.as_str()
                        .and_then(|s| s.parse::<Ipv4Addr>().ok())
                        .or_else(|| {
                            v.as_u64()
                                .and_then(|n| u32::try_from(n).ok())
                                .map(Ipv4Addr::from)
                        })
                        .ok_or_else(wrong)?,
                ),
                FieldKind::Ipv6 => MapValue::Ipv6(
                    v.as_str()
                        .and_then(|s| s.parse::<Ipv6Addr>().ok())
                        .ok_or_else(wrong)?,
                ),
                FieldKind::Chain => MapValue::Chain(v.as_str().ok_or_else(wrong)?.to_owned()),
            })
        };
        let mut out = FieldWrite {
            bytes: vec![0u8; self.size()],
            given: Vec::new(),
        };
        if self.scalar {
            let bytes =
                self.encode_field(map, what, &fields[0], &item(&fields[0], json)?, chain_id)?;
            out.bytes.copy_from_slice(&bytes);
            out.given.push(0);
            return Ok(out);
        }
        let obj = json.as_object().ok_or_else(|| EncodeError::NotAnObject {
            what,
            text: text.to_owned(),
            layout: layout(),
            form: form(),
        })?;
        if let Some(unknown) = obj.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
            return Err(EncodeError::UnknownField {
                what,
                field: unknown.clone(),
                layout: layout(),
                form: form(),
            });
        }
        for (i, f) in fields.iter().enumerate() {
            let Some(v) = obj.get(&f.name) else {
                if partial {
                    continue;
                }
                return Err(EncodeError::MissingField {
                    what,
                    field: f.name.clone(),
                    layout: layout(),
                    form: form(),
                });
            };
            let bytes = self.encode_field(map, what, f, &item(f, v)?, chain_id)?;
            out.bytes[f.offset..f.offset + f.size].copy_from_slice(&bytes);
            out.given.push(i);
        }
        Ok(out)
    }

    /// How the key or value is written as JSON, for messages: `a number` for a scalar,
    /// `{"src": an IPv6 address string, …}` for a struct; `None` if it is opaque.
    pub fn json_form(&self) -> Option<String> {
        let fields = self.fields.as_ref()?;
        let describe = |kind: FieldKind| match kind {
            FieldKind::Int(_) => "a number",
            FieldKind::Ipv4 => "an IPv4 address string",
            FieldKind::Ipv6 => "an IPv6 address string",
            FieldKind::Chain => "a chain name",
        };
        Some(if self.scalar {
            describe(fields[0].kind).to_owned()
        } else {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| format!("\"{}\": {}", f.name, describe(f.kind)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        })
    }

    /// Decodes bytes for a dump: a scalar key or value becomes a JSON number (an address, a
    /// string; a chain, its name when `chain_name` knows it, else its ID, and `null` for a
    /// `hike_chain_ref` that holds no chain), a struct an object of its fields, an opaque type
    /// a hex string.
    pub fn decode(&self, bytes: &[u8], chain_name: &dyn Fn(u32) -> Option<String>) -> Json {
        let Some(fields) = self.fields.as_ref().filter(|_| bytes.len() == self.size()) else {
            return Json::String(hex(bytes));
        };
        let value = |f: &FieldLayout| -> Json {
            let b = &bytes[f.offset..f.offset + f.size];
            match f.kind {
                FieldKind::Ipv6 => {
                    let octets: [u8; 16] = b.try_into().expect("16 bytes");
                    Json::String(Ipv6Addr::from(octets).to_string())
                }
                FieldKind::Ipv4 => {
                    let octets: [u8; 4] = b.try_into().expect("4 bytes");
                    Json::String(Ipv4Addr::from(octets).to_string())
                }
                FieldKind::Chain => {
                    let stored = u32::from_ne_bytes(b.try_into().expect("4 bytes"));
                    let id = if f.chain_ref {
                        abi::chain_of_ref(stored)
                    } else {
                        Some(stored)
                    };
                    id.map_or(Json::Null, |id| {
                        chain_name(id).map_or(json!(id), Json::String)
                    })
                }
                FieldKind::Int(ty) => {
                    let v = read_uint(b, f.big_endian);
                    if ty.signed() {
                        let shift = 64 - 8 * f.size as u32;
                        json!(((v << shift) as i64) >> shift)
                    } else {
                        json!(v)
                    }
                }
            }
        };
        if self.scalar {
            return value(&fields[0]);
        }
        let mut obj = JsonMap::new();
        for f in fields {
            obj.insert(f.name.clone(), value(f));
        }
        Json::Object(obj)
    }

    /// The per-CPU values of one key as one value: numbers summed (wrapping at their width),
    /// other fields taken from the first CPU.
    pub fn sum_percpu(&self, values: &[Vec<u8>]) -> Vec<u8> {
        let Some(first) = values.first() else {
            return vec![0; self.size()];
        };
        let mut out = first.clone();
        let Some(fields) = &self.fields else {
            return out;
        };
        for f in fields {
            if !matches!(f.kind, FieldKind::Int(_)) {
                continue;
            }
            let sum = values
                .iter()
                .filter(|v| v.len() >= f.offset + f.size)
                .map(|v| read_uint(&v[f.offset..f.offset + f.size], f.big_endian))
                .fold(0u64, u64::wrapping_add);
            let mask = if f.size >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * f.size)) - 1
            };
            let bytes = int_bytes(sum & mask, f.size, f.big_endian).expect("masked to its width");
            out[f.offset..f.offset + f.size].copy_from_slice(&bytes);
        }
        out
    }
}

/// `value` in `size` bytes, native or big-endian; `None` if it does not fit (a negative
/// number, sign-extended to 64 bits, fits when its high bits are all ones).
fn int_bytes(value: u64, size: usize, big_endian: bool) -> Option<Vec<u8>> {
    if size == 0 || size > 8 {
        return None;
    }
    if size < 8 {
        let high = value >> (8 * size as u32 - 1);
        let all_ones = u64::MAX >> (8 * size as u32 - 1);
        if high != 0 && high != all_ones {
            return None;
        }
    }
    let le = value.to_le_bytes();
    let mut b = le[..size].to_vec();
    // `b` is little-endian; a native number on a big-endian host is big-endian too.
    if big_endian || cfg!(target_endian = "big") {
        b.reverse();
    }
    Some(b)
}

fn read_uint(b: &[u8], big_endian: bool) -> u64 {
    let mut le: Vec<u8> = b.to_vec();
    if big_endian || cfg!(target_endian = "big") {
        le.reverse();
    }
    le.resize(8, 0);
    u64::from_le_bytes(le.try_into().expect("8 bytes"))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl MapLayout {
    /// The layout of `decl`; `loader` says whether the map belongs to a loader (its classifier
    /// maps hold chain IDs).
    pub fn from_decl(decl: &MapDecl, loader: bool, aliases: Vec<String>) -> MapLayout {
        let key = ValueLayout::new(decl.key.as_ref(), decl.key_size, "key");
        let mut value = ValueLayout::new(decl.value.as_ref(), decl.value_size, "value");
        if loader && decl.name == LOADER_CONFIG_MAP {
            for f in value.fields.iter_mut().flatten() {
                if VERDICT_FIELDS.contains(&f.name.as_str()) {
                    f.domain = Some(VERDICTS);
                }
            }
        }
        if loader && decl.name != LOADER_CONFIG_MAP {
            if let Some(fields) = &mut value.fields {
                if let [f] = fields.as_mut_slice() {
                    if f.kind == FieldKind::Int(IntType::U32) && !f.big_endian {
                        f.kind = FieldKind::Chain;
                    }
                }
            }
        }
        MapLayout {
            name: decl.name.clone(),
            aliases,
            map_type: decl.map_type,
            max_entries: decl.max_entries,
            percpu: decl.map_type.is_percpu(),
            key,
            value,
        }
    }

    /// Whether `name` designates this map.
    pub fn is_called(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }

    /// The compiler's view, if a script can configure the map (key and value not opaque).
    pub fn sig(&self) -> Option<MapSig> {
        Some(MapSig {
            name: self.name.clone(),
            aliases: self.aliases.clone(),
            key_type: self.key.c_type.clone(),
            key: self.key.sig_fields()?,
            value_type: self.value.c_type.clone(),
            value: self.value.sig_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_fit_or_not() {
        assert_eq!(int_bytes(0x1234, 2, true), Some(vec![0x12, 0x34]));
        assert_eq!(
            int_bytes(0x1234, 2, false),
            Some(0x1234u16.to_ne_bytes().to_vec())
        );
        assert_eq!(int_bytes(0x1_0000, 2, false), None);
        assert_eq!(int_bytes(u64::MAX, 1, false), Some(vec![0xff]), "-1 as s8");
        assert_eq!(read_uint(&[0x12, 0x34], true), 0x1234);
    }
}
