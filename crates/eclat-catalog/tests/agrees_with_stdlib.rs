//! The catalog read from the objects (manifests, BTF, code) says exactly what the compiler's
//! I/O-free table `eclat_compiler::StdCatalog` says: the same packages, programs, parameters,
//! terminal programs, loaders, maps, C types of keys and values, fields and field kinds. A
//! change to a program's C source that changes what scripts see fails here until the table
//! (`crates/eclat-compiler/src/stdlib.rs`) is updated too. No kernel needed.

use eclat_catalog::PackageCatalog;
use eclat_compiler::catalog::{Catalog, MapSig};
use eclat_compiler::StdCatalog;

fn sorted(maps: &[MapSig]) -> Vec<MapSig> {
    let mut m = maps.to_vec();
    m.sort_by(|a, b| a.name.cmp(&b.name));
    m
}

#[test]
fn programs_agree() {
    let btf = PackageCatalog::standard().expect("the standard catalog");
    let table = StdCatalog::new();
    assert_eq!(btf.program_packages(), table.program_packages());
    let mut problems = Vec::new();
    for pkg in table.program_packages() {
        for sig in table.all_programs() {
            let (a, b) = (table.program(&pkg, &sig.name), btf.program(&pkg, &sig.name));
            match (a, b) {
                (None, None) => {}
                (Some(_), None) => problems.push(format!("`{pkg}.{}` only in the table", sig.name)),
                (None, Some(_)) => {
                    problems.push(format!("`{pkg}.{}` only in the objects", sig.name))
                }
                (Some(a), Some(b)) => {
                    let (mut a, mut b) = (a.clone(), b.clone());
                    a.maps = sorted(&a.maps);
                    b.maps = sorted(&b.maps);
                    if a != b {
                        problems.push(format!(
                            "`{pkg}.{}`:\n table   {a:?}\n objects {b:?}",
                            sig.name
                        ));
                    }
                }
            }
        }
        let exported = btf
            .all_programs()
            .into_iter()
            .filter(|e| btf.program(&pkg, &e.sig.name).is_some());
        for e in exported {
            if table.program(&pkg, &e.sig.name).is_none() {
                problems.push(format!("`{pkg}.{}` only in the objects", e.sig.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn loaders_agree() {
    let btf = PackageCatalog::standard().expect("the standard catalog");
    let table = StdCatalog::new();
    assert_eq!(btf.loader_packages(), table.loader_packages());
    let mut problems = Vec::new();
    for l in table.all_loaders() {
        match btf.loader(&l.package, &l.name) {
            None => problems.push(format!(
                "loader `{}.{}` only in the table",
                l.package, l.name
            )),
            Some(b) => {
                let (mut a, mut b) = (l.clone(), b.clone());
                a.maps = sorted(&a.maps);
                b.maps = sorted(&b.maps);
                if a != b {
                    problems.push(format!(
                        "loader `{}.{}`:\n table   {a:?}\n objects {b:?}",
                        l.package, l.name
                    ));
                }
            }
        }
    }
    for e in btf.all_loaders() {
        if table.loader(&e.sig.package, &e.sig.name).is_none() {
            problems.push(format!(
                "loader `{}.{}` only in the objects",
                e.sig.package, e.sig.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_map_of_a_standard_object_is_configurable_and_same_programs_share_objects() {
    let btf = PackageCatalog::standard().expect("the standard catalog");
    for e in btf.all_programs() {
        for m in &e.maps {
            assert!(
                m.sig().is_some(),
                "`{}.{}` has an opaque layout: {m:?}",
                e.sig.name,
                m.name
            );
        }
    }
    // `net.monitor` and `hike_default.monitor` are one object, hence one program and one map.
    assert_eq!(
        btf.program_entry("net", "monitor").unwrap().object,
        btf.program_entry("hike_default", "monitor").unwrap().object
    );
}
