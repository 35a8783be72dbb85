//! What `eclat programs` and `eclat describe` show, read from the real catalog
//! (`eclat_catalog::PackageCatalog`: manifests, object BTF, map layouts), as serializable
//! views: their field names are the `--json` contract (documented in `docs/eclat.md`,
//! "Discovering programs"; add fields, never rename or remove one). This module builds the
//! views and finds names ("did you mean"); it prints nothing.

use eclat_catalog::{
    FieldLayout, LoaderEntry, MapLayout, Origin, PackageCatalog, ProgramEntry, ValueLayout,
};
use eclat_compiler::catalog::FieldKind;
use serde::Serialize;

/// The JSON format's version: `eclat programs --json` and `eclat describe --json` carry it as
/// `"format"`; it changes only if a field is removed or changes meaning.
pub const FORMAT: u32 = 1;

/// A package, for `eclat programs`.
#[derive(Debug, Serialize)]
pub struct PackageView {
    /// Its name.
    pub name: String,
    /// `programs` or `loaders`: what `from KIND.NAME import` takes.
    pub kind: &'static str,
    /// Its manifest's one line, if any.
    pub description: Option<String>,
    /// `standard`, or the user package's folder.
    pub origin: String,
    /// What it exports.
    pub exports: Vec<ExportView>,
}

/// A program or loader a package exports, for `eclat programs`.
#[derive(Debug, Serialize)]
pub struct ExportView {
    /// The name a script imports.
    pub name: String,
    /// `program` or `loader`.
    pub kind: &'static str,
    /// Parameter names, in order (a loader has none).
    pub params: Vec<String>,
    /// Whether it ends the packet with a verdict (loaders: `null`).
    pub terminal: Option<bool>,
    /// The package whose folder has its source (a re-export names another).
    pub home: String,
    /// One line: what it does (`null` if its manifest says nothing).
    pub summary: Option<String>,
}

/// Every package (or those named `only`), programs first, then loaders.
pub fn packages(catalog: &PackageCatalog, only: Option<&str>) -> Vec<PackageView> {
    use eclat_compiler::Catalog as _;
    let mut out = Vec::new();
    for name in catalog.program_packages() {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let exports = catalog
            .programs_in(&name)
            .into_iter()
            .map(|(n, e)| program_export(n, e))
            .collect();
        out.push(package_view(catalog, &name, false, exports));
    }
    for name in catalog.loader_packages() {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let exports = catalog
            .loaders_in(&name)
            .into_iter()
            .map(|(n, e)| loader_export(catalog, n, e))
            .collect();
        out.push(package_view(catalog, &name, true, exports));
    }
    out
}

fn package_view(
    catalog: &PackageCatalog,
    name: &str,
    loader: bool,
    exports: Vec<ExportView>,
) -> PackageView {
    PackageView {
        name: name.to_owned(),
        kind: if loader { "loaders" } else { "programs" },
        description: catalog.description(name, loader).map(str::to_owned),
        origin: catalog
            .user_package_dir(name, loader)
            .map_or_else(|| "standard".to_owned(), |d| d.display().to_string()),
        exports,
    }
}

fn program_export(name: &str, e: &ProgramEntry) -> ExportView {
    ExportView {
        name: name.to_owned(),
        kind: "program",
        params: e.sig.params.clone(),
        terminal: Some(e.sig.terminal),
        home: e.sig.home.clone(),
        summary: e.about.summary.clone(),
    }
}

fn loader_export(catalog: &PackageCatalog, name: &str, e: &LoaderEntry) -> ExportView {
    ExportView {
        name: name.to_owned(),
        kind: "loader",
        params: Vec::new(),
        terminal: None,
        home: home_of(catalog, e.object).unwrap_or_else(|| e.sig.package.clone()),
        summary: e.about.summary.clone(),
    }
}

/// The folder (package) of an object's source.
fn home_of(catalog: &PackageCatalog, object: eclat_catalog::ObjectId) -> Option<String> {
    let path = match &catalog.object(object).origin {
        Origin::Standard(p) => std::path::PathBuf::from(p),
        Origin::User(p) => p.clone(),
    };
    path.parent()?.file_name()?.to_str().map(str::to_owned)
}

/// One program or loader in full, for `eclat describe`.
#[derive(Debug, Serialize)]
pub struct Description {
    /// [`FORMAT`].
    pub format: u32,
    /// Its name.
    pub name: String,
    /// `program` or `loader`.
    pub kind: &'static str,
    /// One line: what it does.
    pub summary: Option<String>,
    /// The package whose folder has its source.
    pub home: String,
    /// Every package that exports it (the same program whichever a script imports).
    pub packages: Vec<String>,
    /// The line a script imports it with (from its home package).
    pub import: String,
    /// Parameter names, in order (`r1`, `r2`, …).
    pub params: Vec<String>,
    /// What a program returns (loaders: `null`).
    pub returns: Option<Returns>,
    /// The kernel hooks it works at (`xdp`, `tc_ingress`, `tc_egress`): what
    /// `LOADER.attach(DEV, HOOK)` takes.
    pub hooks: Vec<&'static str>,
    /// Its maps, the VM's shared maps left out.
    pub maps: Vec<MapView>,
    /// The object it is in, and its source.
    pub object: String,
    /// The source file (repository-relative for a standard object).
    pub source: String,
}

/// What a program returns.
#[derive(Debug, Serialize)]
pub struct Returns {
    /// Whether it ends the packet (its verdict is in `description`); a chain does not
    /// continue after a terminal program.
    pub terminal: bool,
    /// `verdict` for a terminal program, else `u64`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// In words, from its manifest.
    pub description: Option<String>,
    /// The standard programs' convention for a packet a non-terminal program does not apply
    /// to (`docs/stdlib.md`, "Conventions"); `null` for a terminal one.
    pub not_applicable: Option<&'static str>,
}

/// The not-applicable convention, as `docs/stdlib.md` states it.
const NOT_APPLICABLE: &str = "u64::MAX (HIKE_NOT_APPLICABLE) for a packet it does not apply \
     to (another family, a header cut short) or an argument out of range, changing nothing, \
     unless `description` says otherwise";

/// A map and its layout.
#[derive(Debug, Serialize)]
pub struct MapView {
    /// Its name (what a script writes between the brackets).
    pub name: String,
    /// Other names a script may use.
    pub aliases: Vec<String>,
    /// `hash`, `lru_percpu_hash`, `array`, … (the kernel's `BPF_MAP_TYPE_*`, lowercase).
    #[serde(rename = "type")]
    pub ty: String,
    /// Entries.
    pub max_entries: u32,
    /// Whether each CPU has its own value (dumps sum numbers).
    pub percpu: bool,
    /// Whether a script (or `eclat map set`) can write it: key and value are not opaque.
    pub configurable: bool,
    /// The key.
    pub key: LayoutView,
    /// The value.
    pub value: LayoutView,
    /// How a script configures it: `OWNER[MAP] = { (KEY...): (VALUE...) }`, fields in the
    /// order a tuple takes them (`null` if it cannot be).
    pub script: Option<String>,
    /// For a config map: the value each number field's 0 stands for (`null` otherwise).
    pub defaults: Option<std::collections::BTreeMap<String, u64>>,
}

/// A key's or value's layout.
#[derive(Debug, Serialize)]
pub struct LayoutView {
    /// Its C type.
    pub c_type: String,
    /// Bytes.
    pub size: usize,
    /// Its fields in the order a script's tuple takes them (`null`: opaque, arrays, unions or
    /// bitfields).
    pub fields: Option<Vec<FieldView>>,
}

/// A field of a key or value.
#[derive(Debug, Serialize)]
pub struct FieldView {
    /// Its name (`key` or `value` for a scalar; `outer.inner` for a nested struct).
    pub name: String,
    /// `u8` … `s64`, `ipv4`, `ipv6`, `chain` (a chain's ID) or `chain_ref` (ID + 1, 0: none).
    #[serde(rename = "type")]
    pub ty: String,
    /// Byte offset.
    pub offset: usize,
    /// Bytes.
    pub size: usize,
    /// `network` (big-endian, as on the wire: addresses, `__be16`) or `native`.
    pub byte_order: &'static str,
    /// What the numbers mean, where not every value does (a loader's verdicts).
    pub values: Option<String>,
}

fn field_view(f: &FieldLayout) -> FieldView {
    let (ty, network) = match f.kind {
        FieldKind::Int(t) => (t.to_string(), f.big_endian),
        FieldKind::Ipv4 => ("ipv4".to_owned(), true),
        FieldKind::Ipv6 => ("ipv6".to_owned(), true),
        FieldKind::Chain if f.chain_ref => ("chain_ref".to_owned(), false),
        FieldKind::Chain => ("chain".to_owned(), false),
    };
    FieldView {
        name: f.name.clone(),
        ty,
        offset: f.offset,
        size: f.size,
        byte_order: if network { "network" } else { "native" },
        values: f.domain.map(|d| d.what.to_owned()),
    }
}

fn layout_view(l: &ValueLayout) -> LayoutView {
    LayoutView {
        c_type: l.c_type.name.clone(),
        size: l.size(),
        fields: l
            .fields
            .as_ref()
            .map(|fs| fs.iter().map(field_view).collect()),
    }
}

/// `owner[map] = { (SRC, DST): (ADDED_NS) }`: each field's name in upper case, in order.
fn script_form(owner: &str, m: &MapLayout) -> Option<String> {
    let tuple = |l: &ValueLayout| -> Option<String> {
        let names: Vec<String> = l
            .fields
            .as_ref()?
            .iter()
            .map(|f| f.name.replace('.', "_").to_uppercase())
            .collect();
        Some(format!("({})", names.join(", ")))
    };
    Some(format!(
        "{owner}[{}] = {{ {}: {} }}",
        m.name,
        tuple(&m.key)?,
        tuple(&m.value)?
    ))
}

fn map_view(owner: &str, m: &MapLayout, about: &eclat_catalog::manifest::About) -> MapView {
    let defaults = about
        .config
        .iter()
        .find(|(name, _)| m.is_called(name))
        .map(|(_, d)| d.clone());
    MapView {
        name: m.name.clone(),
        aliases: m.aliases.clone(),
        ty: snake(&format!("{:?}", m.map_type)),
        max_entries: m.max_entries,
        percpu: m.percpu,
        configurable: m.sig().is_some(),
        key: layout_view(&m.key),
        value: layout_view(&m.value),
        script: script_form(owner, m),
        defaults,
    }
}

/// `LruPercpuHash` → `lru_percpu_hash`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn source_of(catalog: &PackageCatalog, object: eclat_catalog::ObjectId) -> String {
    match &catalog.object(object).origin {
        Origin::Standard(p) => (*p).to_owned(),
        Origin::User(p) => p.display().to_string(),
    }
}

/// What `describe NAME` found.
pub enum Found {
    /// One program or loader.
    One(Box<Description>),
    /// Several distinct ones of that name: `PKG.NAME` says which.
    Ambiguous(Vec<String>),
    /// Nothing: the closest names.
    Nothing(Vec<String>),
}

/// Describes `NAME` (a program or loader of any package) or `PKG.NAME`.
pub fn describe(catalog: &PackageCatalog, asked: &str) -> Found {
    use eclat_compiler::Catalog as _;
    let (package, name) = match asked.split_once('.') {
        Some((p, n)) => (Some(p), n),
        None => (None, asked),
    };
    let mut programs: Vec<(String, &ProgramEntry)> = Vec::new();
    let mut loaders: Vec<(String, &LoaderEntry)> = Vec::new();
    for pkg in catalog.program_packages() {
        if package.is_none_or(|p| p == pkg) {
            if let Some(e) = catalog.program_entry(&pkg, name) {
                programs.push((pkg.clone(), e));
            }
        }
    }
    for pkg in catalog.loader_packages() {
        if package.is_none_or(|p| p == pkg) {
            if let Some(e) = catalog.loader_entry(&pkg, name) {
                loaders.push((pkg.clone(), e));
            }
        }
    }
    // One program whatever package exports it: the same (object, name).
    let mut distinct: Vec<String> = Vec::new();
    let mut objects: Vec<eclat_catalog::ObjectId> = Vec::new();
    for (pkg, e) in &programs {
        if !objects.contains(&e.object) {
            objects.push(e.object);
            distinct.push(format!("{pkg}.{name} (program)"));
        }
    }
    for (pkg, _) in &loaders {
        distinct.push(format!("{pkg}.{name} (loader)"));
    }
    match (distinct.len(), programs.first(), loaders.first()) {
        (0, _, _) => Found::Nothing(suggest(catalog, asked)),
        (1, Some((_, e)), None) => {
            let packages: Vec<String> = programs.iter().map(|(p, _)| p.clone()).collect();
            Found::One(Box::new(describe_program(catalog, name, e, packages)))
        }
        (1, None, Some((pkg, e))) => Found::One(Box::new(describe_loader(catalog, name, pkg, e))),
        _ => Found::Ambiguous(distinct),
    }
}

fn describe_program(
    catalog: &PackageCatalog,
    name: &str,
    e: &ProgramEntry,
    packages: Vec<String>,
) -> Description {
    let home = e.sig.home.clone();
    // Import from the home package when it exports it (a user package's manifest may name a
    // standard object), else from the first package that does.
    let from = if packages.contains(&home) {
        home.clone()
    } else {
        packages.first().cloned().unwrap_or_else(|| home.clone())
    };
    Description {
        format: FORMAT,
        name: name.to_owned(),
        kind: "program",
        summary: e.about.summary.clone(),
        home,
        import: format!("from programs.{from} import {name}"),
        packages,
        params: e.sig.params.clone(),
        returns: Some(Returns {
            terminal: e.sig.terminal,
            ty: if e.sig.terminal { "verdict" } else { "u64" },
            description: e.about.returns.clone(),
            not_applicable: (!e.sig.terminal).then_some(NOT_APPLICABLE),
        }),
        hooks: e.hooks.iter().map(|h| h.name()).collect(),
        maps: e.maps.iter().map(|m| map_view(name, m, &e.about)).collect(),
        object: catalog.object(e.object).name.clone(),
        source: source_of(catalog, e.object),
    }
}

fn describe_loader(
    catalog: &PackageCatalog,
    name: &str,
    package: &str,
    e: &LoaderEntry,
) -> Description {
    Description {
        format: FORMAT,
        name: name.to_owned(),
        kind: "loader",
        summary: e.about.summary.clone(),
        home: home_of(catalog, e.object).unwrap_or_else(|| package.to_owned()),
        packages: vec![package.to_owned()],
        import: format!("from loaders.{package} import {name}"),
        params: Vec::new(),
        returns: None,
        hooks: e.hooks.iter().map(|h| h.name()).collect(),
        maps: e.maps.iter().map(|m| map_view(name, m, &e.about)).collect(),
        object: catalog.object(e.object).name.clone(),
        source: source_of(catalog, e.object),
    }
}

/// Every name `describe` takes that is close to `asked` (by edit distance), closest first.
pub fn suggest(catalog: &PackageCatalog, asked: &str) -> Vec<String> {
    use eclat_compiler::Catalog as _;
    let mut names: Vec<String> = Vec::new();
    for pkg in catalog.program_packages() {
        for (n, _) in catalog.programs_in(&pkg) {
            names.push(n.to_owned());
            names.push(format!("{pkg}.{n}"));
        }
    }
    for pkg in catalog.loader_packages() {
        for (n, _) in catalog.loaders_in(&pkg) {
            names.push(n.to_owned());
            names.push(format!("{pkg}.{n}"));
        }
    }
    close_names(asked, names)
}

/// The package names close to `asked`.
pub fn suggest_package(catalog: &PackageCatalog, asked: &str) -> Vec<String> {
    use eclat_compiler::Catalog as _;
    let mut names = catalog.program_packages();
    names.extend(catalog.loader_packages());
    close_names(asked, names)
}

/// Up to three of `names` within a third of `asked`'s length (at least 2) in edit distance,
/// closest first; a name containing `asked` counts as close.
fn close_names(asked: &str, mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    let limit = (asked.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, String)> = names
        .into_iter()
        .filter_map(|n| {
            let d = distance(asked, &n);
            (d <= limit || (asked.len() >= 3 && n.contains(asked))).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_close_to_a_typo() {
        let names = || {
            ["monitor", "ip6_sd_tbmon", "ip4_sd_tbmon", "hike_pass"]
                .map(String::from)
                .to_vec()
        };
        assert_eq!(close_names("monitr", names()), ["monitor"]);
        assert_eq!(
            close_names("ip6_sd_tbmn", names()),
            ["ip6_sd_tbmon", "ip4_sd_tbmon"]
        );
        assert!(close_names("zzz", names()).is_empty());
        assert_eq!(snake("LruPercpuHash"), "lru_percpu_hash");
    }
}
