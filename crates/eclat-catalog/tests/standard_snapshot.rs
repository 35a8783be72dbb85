//! The compiler's tests check scripts against the standard catalog without reading objects:
//! they read `crates/eclat-compiler/tests/standard_catalog.json`, the table of the real
//! catalog (manifests, BTF, code) that this test writes. A change to a program's C source or
//! to a manifest that changes what scripts see fails here until the snapshot is written again:
//!
//! `UPDATE_GOLDEN=1 cargo test -p eclat-catalog --test standard_snapshot`
//!
//! (then the compiler's golden files, if the change shows in them). No kernel needed.

use std::path::Path;

use eclat_catalog::PackageCatalog;
use eclat_compiler::catalog::PackageTable;

fn snapshot_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../eclat-compiler/tests/standard_catalog.json")
}

#[test]
fn the_compilers_snapshot_of_the_standard_catalog_is_current() {
    let catalog = PackageCatalog::standard().expect("the standard catalog");
    let mut actual = serde_json::to_string_pretty(&catalog.table()).expect("serializable");
    actual.push('\n');
    let path = snapshot_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("writable");
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        recorded == actual,
        "`{}` is stale: the standard catalog changed; write it again with \
         `UPDATE_GOLDEN=1 cargo test -p eclat-catalog --test standard_snapshot` and review the diff",
        path.display()
    );
    // And it reads back as the same table.
    let table: PackageTable = serde_json::from_str(&recorded).expect("the snapshot parses");
    assert_eq!(table, catalog.table());
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
