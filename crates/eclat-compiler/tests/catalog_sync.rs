//! Keeps `StdCatalog` (the table the compiler checks scripts against until the runtime reads
//! program signatures from BTF) in sync with the C sources under `bpf/`: package manifests,
//! `HIKE_PROG` names and parameters, terminal programs (no `HIKE_RETURN`), `HIKE_LOADER`
//! names and the maps each object defines. Any difference fails with what to change.
//!
//! Key and value shapes of maps are not compared (they are C structs); issue 4 replaces the
//! table with the BTF, which has them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use eclat_compiler::catalog::Catalog;
use eclat_compiler::StdCatalog;

fn bpf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf")
}

/// The `[section]` entries `name = "file stem"` of a package manifest.
fn manifest(path: &Path, section: &str) -> BTreeMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut current = String::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.split('#').next().expect("a line").trim();
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.trim().to_string();
        } else if current == section {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
            }
        }
    }
    out
}

/// Package folders of `bpf/<kind>/` that have a manifest (the test programs have none).
fn packages(kind: &str) -> BTreeMap<String, PathBuf> {
    fs::read_dir(bpf_dir().join(kind))
        .expect("bpf/ is part of the repository")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("package.toml").is_file())
        .map(|p| {
            (
                p.file_name().expect("a name").to_string_lossy().to_string(),
                p,
            )
        })
        .collect()
}

/// The file `STEM.bpf.c` in one of `dirs`, and the folder it is in.
fn source(dirs: &BTreeMap<String, PathBuf>, stem: &str) -> (String, String) {
    for (pkg, dir) in dirs {
        let path = dir.join(format!("{stem}.bpf.c"));
        if path.is_file() {
            return (pkg.clone(), fs::read_to_string(path).expect("readable"));
        }
    }
    panic!("no `{stem}.bpf.c` under bpf/: fix the manifest or add the source");
}

/// The arguments of the first `MACRO(...)` in `src`.
fn macro_args(src: &str, name: &str) -> Option<Vec<String>> {
    let at = src.find(&format!("\n{name}("))?;
    let rest = &src[at + name.len() + 2..];
    let args = &rest[..rest.find(')')?];
    Some(args.split(',').map(|a| a.trim().to_string()).collect())
}

/// Names of the maps defined in `src` (`} NAME SEC(".maps");`).
fn maps(src: &str) -> BTreeSet<String> {
    src.lines()
        .filter(|l| l.contains("SEC(\".maps\")"))
        .filter_map(|l| {
            l.trim_start_matches('}')
                .split_whitespace()
                .next()
                .map(String::from)
        })
        .collect()
}

#[test]
fn program_packages_match_the_c_sources() {
    let catalog = StdCatalog::new();
    let dirs = packages("programs");
    let names: Vec<String> = dirs.keys().cloned().collect();
    assert_eq!(catalog.program_packages(), names, "program packages");
    let mut problems = Vec::new();
    for (pkg, dir) in &dirs {
        let exported = manifest(&dir.join("package.toml"), "programs");
        for (name, stem) in &exported {
            let Some(sig) = catalog.program(pkg, name) else {
                problems.push(format!(
                    "`{pkg}.{name}` is in the manifest, not in the catalog"
                ));
                continue;
            };
            let (home, src) = source(&dirs, stem);
            let Some(args) = macro_args(&src, "HIKE_PROG") else {
                problems.push(format!("{stem}.bpf.c has no HIKE_PROG"));
                continue;
            };
            if args[0] != *name {
                problems.push(format!("{stem}.bpf.c declares `{}`, not `{name}`", args[0]));
            }
            let params: Vec<String> = args[1..]
                .iter()
                .filter(|a| !a.is_empty())
                .cloned()
                .collect();
            if params != sig.params {
                problems.push(format!(
                    "`{name}` has parameters {params:?} in C, {:?} in the catalog",
                    sig.params
                ));
            }
            if home != sig.home {
                problems.push(format!(
                    "`{name}` lives in `{home}`, the catalog says `{}`",
                    sig.home
                ));
            }
            let terminal = !src.contains("HIKE_RETURN");
            if terminal != sig.terminal {
                problems.push(format!(
                    "`{name}` is {}terminal in C, {}terminal in the catalog",
                    if terminal { "" } else { "not " },
                    if sig.terminal { "" } else { "not " }
                ));
            }
            let catalog_maps: BTreeSet<String> = sig.maps.iter().map(|m| m.name.clone()).collect();
            if maps(&src) != catalog_maps {
                problems.push(format!(
                    "`{name}` defines maps {:?} in C, {catalog_maps:?} in the catalog",
                    maps(&src)
                ));
            }
        }
        for sig in catalog.all_programs() {
            if catalog.program(pkg, &sig.name).is_some() && !exported.contains_key(&sig.name) {
                problems.push(format!(
                    "`{pkg}.{}` is in the catalog, not in the manifest",
                    sig.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn loader_packages_match_the_c_sources() {
    let catalog = StdCatalog::new();
    let dirs = packages("loaders");
    let names: Vec<String> = dirs.keys().cloned().collect();
    assert_eq!(catalog.loader_packages(), names, "loader packages");
    let mut problems = Vec::new();
    for (pkg, dir) in &dirs {
        let exported = manifest(&dir.join("package.toml"), "loaders");
        for (name, stem) in &exported {
            let Some(sig) = catalog.loader(pkg, name) else {
                problems.push(format!("loader `{pkg}.{name}` is not in the catalog"));
                continue;
            };
            let src = fs::read_to_string(dir.join(format!("{stem}.bpf.c")))
                .unwrap_or_else(|e| panic!("{stem}.bpf.c: {e}"));
            if macro_args(&src, "HIKE_LOADER") != Some(vec![name.clone()]) {
                problems.push(format!("{stem}.bpf.c does not declare HIKE_LOADER({name})"));
            }
            let catalog_maps: BTreeSet<String> = sig.maps.iter().map(|m| m.name.clone()).collect();
            if maps(&src) != catalog_maps {
                problems.push(format!(
                    "loader `{name}` defines maps {:?} in C, {catalog_maps:?} in the catalog",
                    maps(&src)
                ));
            }
        }
        for l in catalog.all_loaders() {
            if l.package == *pkg && !exported.contains_key(&l.name) {
                problems.push(format!("loader `{pkg}.{}` is not in the manifest", l.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
