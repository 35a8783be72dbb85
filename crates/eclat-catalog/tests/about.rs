//! The manifests' `[about]` sections (what `eclat describe` shows) cannot drift from what they
//! describe: every standard program and loader has a summary, every program says what it
//! returns, and the returns and config defaults are those of `docs/stdlib.md`'s tables and of
//! the `#define`s the C code applies to a config field that is 0. No kernel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eclat_catalog::{Origin, PackageCatalog};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `docs/stdlib.md`'s program table: name → (returns, config cell).
fn stdlib_programs() -> BTreeMap<String, (String, String)> {
    let doc = std::fs::read_to_string(repo().join("docs/stdlib.md")).expect("docs/stdlib.md");
    let mut rows = BTreeMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(call) = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        if let (Some((name, _)), 5) = (call.split_once('('), cells.len()) {
            rows.insert(name.to_owned(), (cells[2].to_owned(), cells[4].to_owned()));
        }
    }
    rows
}

/// `docs/stdlib.md`'s loader table: name → behaviour.
fn stdlib_loaders() -> BTreeMap<String, String> {
    let doc = std::fs::read_to_string(repo().join("docs/stdlib.md")).expect("docs/stdlib.md");
    doc.lines()
        .filter(|l| l.starts_with("| `") && l.matches('|').count() == 4)
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let (_, name) = cells[0].trim_matches('`').split_once('.')?;
            Some((name.to_owned(), cells[2].to_owned()))
        })
        .collect()
}

/// The config cell's `` `field` = N`` pairs.
fn config_cell(cell: &str) -> BTreeMap<String, u64> {
    cell.split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (field, rest) = p.trim_start_matches('`').split_once("` = ").expect(p);
            let n = rest.split_whitespace().next().expect(p);
            (
                field.to_owned(),
                n.parse().unwrap_or_else(|_| panic!("{p}")),
            )
        })
        .collect()
}

/// `10ULL * 1000`, `(10000)`: a product of integer literals.
fn eval(expr: &str) -> Option<u64> {
    expr.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split('*')
        .map(|t| {
            t.trim()
                .trim_end_matches(['U', 'L', 'u', 'l'])
                .parse::<u64>()
                .ok()
        })
        .try_fold(1u64, |acc, n| acc.checked_mul(n?))
}

/// The `#define NAME VALUE` lines of `source` and of the headers of its folder it includes.
fn defines(source: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            if let Some((name, value)) = rest.split_once(char::is_whitespace) {
                out.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        if let Some(h) = line
            .strip_prefix("#include \"")
            .and_then(|h| h.strip_suffix('"'))
        {
            out.extend(defines(&source.with_file_name(h)));
        }
    }
    out
}

#[test]
fn every_standard_program_and_loader_is_described() {
    let cat = PackageCatalog::standard().unwrap();
    for p in cat.all_programs() {
        let name = &p.sig.name;
        let summary = p.about.summary.as_deref().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n'),
            "{name}: summary"
        );
        assert!(p.about.returns.is_some(), "{name}: returns");
    }
    for l in cat.all_loaders() {
        assert!(l.about.summary.is_some(), "{}: summary", l.sig.name);
    }
    // Re-exports are told of as their home package tells of them.
    assert_eq!(
        cat.program_entry("mynet", "monitor").unwrap().about,
        cat.program_entry("hike_default", "monitor").unwrap().about
    );
}

#[test]
fn returns_and_config_defaults_are_those_of_the_reference() {
    let cat = PackageCatalog::standard().unwrap();
    let table = stdlib_programs();
    let mut seen = 0;
    for p in cat.all_programs() {
        let name = &p.sig.name;
        let (returns, config) = table
            .get(name)
            .unwrap_or_else(|| panic!("`{name}` is not in docs/stdlib.md's table"));
        assert_eq!(p.about.returns.as_deref(), Some(returns.as_str()), "{name}");
        let documented = config_cell(config);
        let declared: BTreeMap<String, u64> = p
            .about
            .config
            .values()
            .flat_map(|fields| fields.clone())
            .collect();
        assert_eq!(declared, documented, "{name}: config defaults");
        seen += 1;
    }
    assert_eq!(
        seen,
        table.len(),
        "every documented program is in the catalog"
    );
    let loaders = stdlib_loaders();
    for l in cat.all_loaders() {
        assert_eq!(
            l.about.summary.as_ref(),
            loaders.get(&l.sig.name),
            "{}",
            l.sig.name
        );
    }
}

#[test]
fn config_defaults_are_the_sources_defines() {
    let cat = PackageCatalog::standard().unwrap();
    let mut checked = 0;
    for p in cat.all_programs() {
        let Origin::Standard(source) = &cat.object(p.object).origin else {
            continue;
        };
        let defines = defines(&repo().join(source));
        for (map, fields) in &p.about.config {
            for (field, value) in fields {
                // `IP6_SD_TBMON_DEFAULT_BUCKET` for `bucket_size`, `HSET_DEFAULT_TIMEOUT_NS` for
                // `timeout_ns`: the define after `DEFAULT_` starts the field's name.
                let upper = field.to_uppercase();
                let found: Vec<&(String, String)> = defines
                    .iter()
                    .filter(|(n, _)| {
                        n.split_once("DEFAULT_")
                            .is_some_and(|(_, f)| upper.starts_with(f))
                    })
                    .collect();
                assert_eq!(
                    found.len(),
                    1,
                    "{}.{map}.{field}: one `…DEFAULT_{upper}` define in {source}: {found:?}",
                    p.sig.name
                );
                assert_eq!(
                    eval(&found[0].1),
                    Some(*value),
                    "{}.{map}.{field}: the manifest says {value}, {} says {}",
                    p.sig.name,
                    found[0].0,
                    found[0].1
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked} defaults checked");
}
