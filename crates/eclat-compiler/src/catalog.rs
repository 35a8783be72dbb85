//! What a script can import: packages of HIKe programs and loaders ([`Catalog`]) and chains of
//! other scripts ([`ChainCatalog`]).
//!
//! The compiler checks every import, call and map configuration against these traits and
//! knows nothing of where the answers come from. The `eclat` tools use `eclat-catalog`, which
//! reads the package manifests and the compiled objects' BTF (the SDK exports each program's
//! name and parameters as decl tags; map keys and values are C types). [`PackageTable`] holds
//! a catalog's answers in memory and as JSON: the compiler's own tests read the standard
//! catalog's snapshot through it (`tests/standard_catalog.json`, written by a test of
//! `eclat-catalog` from the real objects). The daemon and `eclat` implement [`ChainCatalog`]
//! from the scripts they see; [`ChainTable`] holds one in memory.

use std::collections::BTreeMap;
use std::fmt;

use eclat_syntax::ast::IntType;
use serde::{Deserialize, Serialize};

/// What a map field holds. As JSON, its name: `u8` … `s64`, `ipv4`, `ipv6`, `chain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// An unsigned integer of this type (written as a number or constant).
    Int(IntType),
    /// An IPv4 address, written as a string: `'192.0.2.1'`.
    Ipv4,
    /// An IPv6 address, written as a string: `'2001:db8::1'`.
    Ipv6,
    /// A chain, written as its name; the runtime stores its ID (`u32`).
    Chain,
}

impl FieldKind {
    /// How the field's values are described in messages.
    pub fn describe(self) -> String {
        match self {
            FieldKind::Int(t) => format!("a `{t}` number"),
            FieldKind::Ipv4 => "an IPv4 address (in quotes, or as a `u32` number)".into(),
            FieldKind::Ipv6 => "an IPv6 address in quotes".into(),
            FieldKind::Chain => "a chain name".into(),
        }
    }
}

impl FieldKind {
    /// The name [`FieldKind`]'s JSON form uses.
    fn name(self) -> String {
        match self {
            FieldKind::Int(t) => t.to_string(),
            FieldKind::Ipv4 => "ipv4".into(),
            FieldKind::Ipv6 => "ipv6".into(),
            FieldKind::Chain => "chain".into(),
        }
    }

    /// The kind called `name` in the JSON form.
    fn from_name(name: &str) -> Option<FieldKind> {
        Some(match name {
            "ipv4" => FieldKind::Ipv4,
            "ipv6" => FieldKind::Ipv6,
            "chain" => FieldKind::Chain,
            _ => FieldKind::Int(IntType::from_name(name)?),
        })
    }
}

impl Serialize for FieldKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for FieldKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FieldKind, D::Error> {
        let name = String::deserialize(d)?;
        FieldKind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown field kind `{name}`")))
    }
}

/// One field of a map key or value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Its name (from the C struct, or `key`/`value` for scalars).
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// For a number, the largest value it means something for where its C type allows more,
    /// and what the values are (a loader's verdicts: the XDP actions, 0 to 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<(u64, String)>,
}

/// A C type as an object declares it (`struct in6_addr`, 16 bytes), for messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CType {
    /// How C spells it: `__u32`, `struct hike_ip6_sd_key`.
    pub name: String,
    /// Its size in bytes.
    pub size: usize,
}

impl CType {
    /// The type `name` of `size` bytes.
    pub fn new(name: impl Into<String>, size: usize) -> CType {
        CType {
            name: name.into(),
            size,
        }
    }
}

impl fmt::Display for CType {
    /// `` `struct in6_addr` (16 bytes) ``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.size == 1 { "" } else { "s" };
        write!(f, "`{}` ({} byte{s})", self.name, self.size)
    }
}

/// A map of a loader or program that a script may configure.
///
/// A key or value that is one scalar (a number, an address, a chain) has one field called
/// `key` or `value`; a struct has one field per member, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapSig {
    /// The map's name in the object.
    pub name: String,
    /// Other names accepted in scripts (the paper's `ip6_sc_map`).
    pub aliases: Vec<String>,
    /// The key's C type.
    pub key_type: CType,
    /// Fields of the key, in order.
    pub key: Vec<Field>,
    /// The value's C type.
    pub value_type: CType,
    /// Fields of the value, in order.
    pub value: Vec<Field>,
}

impl MapSig {
    /// Whether `name` designates this map.
    pub fn is_called(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// A HIKe program's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramSig {
    /// Its name (also its name in the program table).
    pub name: String,
    /// The package whose folder holds its source.
    pub home: String,
    /// Parameter names, in order (each a `u64` in `r1..r5`).
    pub params: Vec<String>,
    /// Whether it ends the packet (returns a verdict) instead of returning to the chain.
    pub terminal: bool,
    /// Maps a script may configure.
    pub maps: Vec<MapSig>,
}

/// A loader's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderSig {
    /// Its name.
    pub name: String,
    /// Its package.
    pub package: String,
    /// Maps a script may configure (the classifier map that selects chains).
    pub maps: Vec<MapSig>,
}

/// A chain's signature, as another script sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSig {
    /// Its name.
    pub name: String,
    /// Parameter names and types.
    pub params: Vec<(String, IntType)>,
    /// Frames its deepest call path uses, itself included (1 if it calls no chain, or if
    /// unknown).
    pub depth: usize,
    /// Whether it returns a value: an eCLAT chain does when its body has a `return VALUE`, a
    /// C chain always does. A caller may use the result only of a chain that does.
    pub returns_value: bool,
}

/// Packages of programs and loaders.
pub trait Catalog {
    /// Names of the program packages, sorted.
    fn program_packages(&self) -> Vec<String>;
    /// Program `name` of `package`, if the package has it.
    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig>;
    /// Names of the loader packages, sorted.
    fn loader_packages(&self) -> Vec<String>;
    /// Loader `name` of `package`, if any.
    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig>;

    /// The names `package` exports as programs, sorted (for "did you mean"; may be empty).
    fn program_names(&self, package: &str) -> Vec<String> {
        let _ = package;
        Vec::new()
    }

    /// The loaders of `package`, sorted (for "did you mean"; may be empty).
    fn loader_names(&self, package: &str) -> Vec<String> {
        let _ = package;
        Vec::new()
    }

    /// Why `package` cannot be imported at all, if so: a user package that does not build
    /// (the error with clang's diagnostics). A package that does not build is listed by
    /// neither [`Catalog::program_packages`] nor [`Catalog::loader_packages`].
    fn package_error(&self, package: &str) -> Option<String> {
        let _ = package;
        None
    }

    /// The packages that have a program called `name` (for hints).
    fn packages_with_program(&self, name: &str) -> Vec<String> {
        self.program_packages()
            .into_iter()
            .filter(|p| self.program(p, name).is_some())
            .collect()
    }
}

/// A [`Catalog`] held in memory: program and loader packages and what each exports. It
/// reads and writes the JSON of a catalog's snapshot (serde).
///
/// ```
/// use eclat_compiler::catalog::{Catalog, PackageTable, ProgramSig};
///
/// let mut table = PackageTable::new();
/// table.add_program(
///     "net",
///     ProgramSig {
///         name: "hike_pass".into(),
///         home: "hike_default".into(),
///         params: Vec::new(),
///         terminal: true,
///         maps: Vec::new(),
///     },
/// );
/// assert!(table.program("net", "hike_pass").unwrap().terminal);
/// assert_eq!(table.program_packages(), ["net"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageTable {
    /// Program package → exported name → signature.
    programs: BTreeMap<String, BTreeMap<String, ProgramSig>>,
    /// Loader package → loader name → description.
    loaders: BTreeMap<String, BTreeMap<String, LoaderSig>>,
}

impl PackageTable {
    /// An empty table.
    pub fn new() -> PackageTable {
        PackageTable::default()
    }

    /// Adds (or replaces) program `sig.name` to package `package`.
    pub fn add_program(&mut self, package: impl Into<String>, sig: ProgramSig) {
        self.programs
            .entry(package.into())
            .or_default()
            .insert(sig.name.clone(), sig);
    }

    /// Adds (or replaces) a loader, to its package (`sig.package`).
    pub fn add_loader(&mut self, sig: LoaderSig) {
        self.loaders
            .entry(sig.package.clone())
            .or_default()
            .insert(sig.name.clone(), sig);
    }

    /// The programs of `package`, by name.
    pub fn programs_of(&self, package: &str) -> impl Iterator<Item = &ProgramSig> {
        self.programs
            .get(package)
            .into_iter()
            .flat_map(|p| p.values())
    }

    /// Every loader, by package then name.
    pub fn all_loaders(&self) -> impl Iterator<Item = &LoaderSig> {
        self.loaders.values().flat_map(|m| m.values())
    }
}

impl Catalog for PackageTable {
    fn program_packages(&self) -> Vec<String> {
        self.programs.keys().cloned().collect()
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        self.programs.get(package)?.get(name)
    }

    fn loader_packages(&self) -> Vec<String> {
        self.loaders.keys().cloned().collect()
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        self.loaders.get(package)?.get(name)
    }

    fn program_names(&self, package: &str) -> Vec<String> {
        self.programs
            .get(package)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn loader_names(&self, package: &str) -> Vec<String> {
        self.loaders
            .get(package)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Chains of other scripts, for `from chains.SCRIPT import NAME`.
pub trait ChainCatalog {
    /// Whether a script of this name is known.
    fn has_script(&self, script: &str) -> bool;
    /// Chain `name` of `script`, if any.
    fn chain(&self, script: &str, name: &str) -> Option<ChainSig>;

    /// The names of the scripts it knows, sorted (for "did you mean"; may be empty).
    fn script_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// The scripts that define a chain called `name` (for hints; may be empty).
    fn scripts_with_chain(&self, name: &str) -> Vec<String> {
        let _ = name;
        Vec::new()
    }

    /// The names of the chains of `script`, in definition order (for hints; may be empty).
    fn chain_names(&self, script: &str) -> Vec<String> {
        let _ = script;
        Vec::new()
    }

    /// Why a known script's chains cannot be imported at all (a file of C chains that does
    /// not compile), if so: one line, for the error at the import.
    fn script_error(&self, script: &str) -> Option<String> {
        let _ = script;
        None
    }
}

/// A [`ChainCatalog`] held in memory: scripts and their chains.
#[derive(Clone, Debug, Default)]
pub struct ChainTable {
    scripts: BTreeMap<String, Vec<ChainSig>>,
}

impl ChainTable {
    /// An empty table: every `from chains.X` import is unknown.
    pub fn new() -> ChainTable {
        ChainTable::default()
    }

    /// Adds (or replaces) a script and its chains.
    pub fn add_script(&mut self, script: impl Into<String>, chains: Vec<ChainSig>) {
        self.scripts.insert(script.into(), chains);
    }
}

impl ChainCatalog for ChainTable {
    fn has_script(&self, script: &str) -> bool {
        self.scripts.contains_key(script)
    }

    fn chain(&self, script: &str, name: &str) -> Option<ChainSig> {
        self.scripts
            .get(script)?
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    fn script_names(&self) -> Vec<String> {
        self.scripts.keys().cloned().collect()
    }

    fn scripts_with_chain(&self, name: &str) -> Vec<String> {
        self.scripts
            .iter()
            .filter(|(_, chains)| chains.iter().any(|c| c.name == name))
            .map(|(s, _)| s.clone())
            .collect()
    }

    fn chain_names(&self, script: &str) -> Vec<String> {
        self.scripts
            .get(script)
            .map(|chains| chains.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }
}
