//! Chains that call each other across scripts: refused like recursion within one script.

use eclat_catalog::PackageCatalog;
use eclat_link::project::compile_all;

/// Writes `files` into a fresh directory and compiles the first as the main script.
fn compile(tag: &str, files: &[(&str, &str)]) -> eclat_link::project::Compiled {
    let dir = std::env::temp_dir().join(format!("eclat-cross-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let catalog = PackageCatalog::standard().expect("the standard catalog");
    let main = files[0].0.trim_end_matches(".eclat");
    let compiled = compile_all(&dir.join(files[0].0), main, &[], &catalog);
    std::fs::remove_dir_all(&dir).unwrap();
    compiled
}

#[test]
fn chains_calling_each_other_across_scripts_are_refused() {
    let a = "\
from programs.net import hike_pass
from chains.b import pong

def ping(n):
    if n == 0:
        hike_pass()
        return 0
    pong(n - 1)
    return 0
";
    let b = "\
from chains.a import ping

def pong(n):
    ping(n)
    return 0
";
    let compiled = compile("cycle", &[("a.eclat", a), ("b.eclat", b)]);
    assert!(compiled.units.is_none(), "{}", compiled.diagnostics);
    assert!(
        compiled.diagnostics.contains(
            "error: chains call each other across scripts: `a.ping` → `b.pong` → `a.ping`"
        ) || compiled.diagnostics.contains(
            "error: chains call each other across scripts: `b.pong` → `a.ping` → `b.pong`"
        ),
        "{}",
        compiled.diagnostics
    );
}

#[test]
fn a_chain_of_another_script_without_a_cycle_links() {
    let a = "\
from programs.net import hike_pass
from chains.b import pong

def ping():
    pong()
    hike_pass()
    return 0
";
    let b = "\
def pong():
    return 0
";
    let compiled = compile("nocycle", &[("a.eclat", a), ("b.eclat", b)]);
    assert!(compiled.units.is_some(), "{}", compiled.diagnostics);
}
