//! User packages that do not trip each other: one that does not build (a C error, or the name
//! of a standard package) is left out of the catalog with its error, and the others are there.
//! Runs clang (no root).

use std::path::{Path, PathBuf};

use eclat_catalog::{ObjectCache, PackageCatalog};
use eclat_compiler::Catalog;

/// A directory under the temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("eclat-catalog-test-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GOOD: &str = "#include <hike/sdk.h>
HIKE_PROG(add2, a, b)
{
\tHIKE_RETURN(a + b);
}
char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
";

#[test]
fn broken_packages_are_left_out_with_their_error() {
    let dir = Scratch::new("broken");
    let cache = Scratch::new("broken-cache");
    dir.write("pkgs/good/add2.bpf.c", GOOD);
    dir.write(
        "pkgs/broken/oops.bpf.c",
        "#include <hike/sdk.h>\nHIKE_PROG(oops)\n{\n\tHIKE_RETURN(undeclared_name);\n}\n",
    );
    // A package named like a standard one.
    dir.write("pkgs/net/add2.bpf.c", GOOD);
    let mut catalog = PackageCatalog::standard().unwrap();
    catalog
        .add_package_dir(&dir.path().join("pkgs"), &ObjectCache::new(cache.path()))
        .expect("the directory is read; its broken packages are recorded, not fatal");

    assert!(catalog.program("good", "add2").is_some());
    assert!(catalog.package_error("good").is_none());
    assert!(!catalog.program_packages().contains(&"broken".to_owned()));
    let broken = catalog.package_error("broken").expect("broken is recorded");
    assert!(
        broken.contains(":4:14: error: use of undeclared identifier 'undeclared_name'"),
        "{broken}"
    );
    // The standard `net` stays whole and importable; the user package of that name is
    // refused and recorded.
    assert!(catalog.package_error("net").is_none());
    let net = catalog
        .broken_package("net")
        .expect("the duplicate is recorded");
    assert!(net.contains("package `net`"), "{net}");
    assert!(net.contains("already exists"), "{net}");
    assert!(catalog.program("net", "monitor").is_some());
    assert!(catalog.program("net", "add2").is_none());
    let names: Vec<&str> = catalog.broken_packages().map(|(n, _)| n).collect();
    assert_eq!(names, ["broken", "net"]);
}

/// A package taken out as built objects (`prebuilt`) and put into another catalog
/// (`add_prebuilt`) exports the same programs from the same bytes, with its manifest's words;
/// a standard package is not a user package, and a second copy is refused by name.
#[test]
fn a_prebuilt_package_is_the_package_it_was_built_from() {
    let dir = Scratch::new("prebuilt");
    let cache = Scratch::new("prebuilt-cache");
    dir.write("pkgs/good/add2.bpf.c", GOOD);
    dir.write(
        "pkgs/good/package.toml",
        "[package]\ndescription = \"adds\"\n\n[programs]\nadd2 = \"add2\"\nmonitor = \"monitor\"\n",
    );
    let mut built = PackageCatalog::standard().unwrap();
    built
        .add_package_dir(&dir.path().join("pkgs"), &ObjectCache::new(cache.path()))
        .unwrap();
    assert_eq!(built.broken_package("good"), None);
    assert!(
        built.prebuilt("net").unwrap().is_none(),
        "a standard package"
    );
    let p = built.prebuilt("good").unwrap().expect("a user package");
    assert_eq!(p.exports.len(), 2);
    assert!(p.manifest.as_deref().unwrap().contains("adds"));

    let mut node = PackageCatalog::standard().unwrap();
    node.add_prebuilt(&p).unwrap();
    for name in ["add2", "monitor"] {
        let (a, b) = (
            built.program_entry("good", name).unwrap(),
            node.program_entry("good", name).unwrap(),
        );
        assert_eq!(a.sig, b.sig, "{name}");
        let (oa, ob) = (built.object(a.object), node.object(b.object));
        assert_eq!((&oa.name, &oa.digest), (&ob.name, &ob.digest), "{name}");
        assert_eq!(
            oa.tc.as_ref().map(|t| &t.digest),
            ob.tc.as_ref().map(|t| &t.digest),
            "{name}"
        );
    }
    assert_eq!(node.description("good", false), Some("adds"));
    assert_eq!(node.user_package_dir("good", false), None, "no folder");
    let again = node.add_prebuilt(&p).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
}
