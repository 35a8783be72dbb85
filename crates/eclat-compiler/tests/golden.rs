//! Golden tests: every `tests/golden/KIND/NAME.eclat` is compiled with the standard catalog
//! (its snapshot, `tests/standard_catalog.json`) and the chains of the other scripts of its
//! directory (for `from chains.X import`), and the output is compared with the file beside
//! it:
//!
//! - `diagnostics/NAME.stderr`: what `eclat check` prints;
//! - `asm/NAME.asm`: what `eclat compile --emit asm` prints (warnings first, if any);
//! - `json/NAME.json`: what `eclat compile --emit json` prints.
//!
//! A script named `lib*.eclat` in `diagnostics/` is only there to be imported by the others
//! (`from chains.lib import ...`) and has no golden file of its own.
//!
//! `UPDATE_GOLDEN=1 cargo test -p eclat-compiler --test golden` rewrites the expected files;
//! review the diff before committing it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use eclat_compiler::defines::{substitute, Define};
use eclat_compiler::{chain_signatures, compile, ChainTable};
use eclat_syntax::SourceFile;

fn golden_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(kind)
}

fn scripts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("the golden directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eclat"))
        .collect();
    files.sort();
    files
}

/// The chains of every script of `dir`, as `eclat check` finds them beside a file.
fn sibling_chains(dir: &Path) -> ChainTable {
    let mut table = ChainTable::new();
    for path in scripts(dir) {
        let src = fs::read_to_string(&path).expect("readable");
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        table.add_script(name, chain_signatures(&src));
    }
    table
}

/// Compares `actual` with the file `expected`, or writes it under `UPDATE_GOLDEN=1`.
fn check(expected: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(expected, actual).expect("writable");
        return;
    }
    let want = fs::read_to_string(expected).unwrap_or_default();
    if want != actual {
        failures.push(format!(
            "{} differs (UPDATE_GOLDEN=1 regenerates it)\n--- expected\n{want}\n--- actual\n{actual}",
            expected.display()
        ));
    }
}

fn run(kind: &str, ext: &str, output: impl Fn(&str, &str, &ChainTable) -> String) {
    let dir = golden_dir(kind);
    let chains = sibling_chains(&dir);
    let mut failures = Vec::new();
    let files = scripts(&dir);
    assert!(!files.is_empty(), "no golden script in {}", dir.display());
    for path in files {
        if kind == "diagnostics"
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("lib"))
        {
            continue;
        }
        let src = fs::read_to_string(&path).expect("readable");
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let actual = output(&name, &src, &chains);
        check(&path.with_extension(ext), &actual, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn diagnostics() {
    let catalog = common::standard_catalog();
    run("diagnostics", "stderr", |name, src, chains| {
        let out = compile(src, &catalog, chains);
        assert!(
            !out.diagnostics.is_empty(),
            "{name}: a diagnostics golden must have diagnostics"
        );
        out.render(&SourceFile::new(name, src))
    });
}

#[test]
fn asm() {
    let catalog = common::standard_catalog();
    run("asm", "asm", |name, src, chains| {
        let out = compile(src, &catalog, chains);
        let rendered = out.render(&SourceFile::new(name, src));
        let script = out
            .script
            .unwrap_or_else(|| panic!("{name} does not compile:\n{rendered}"));
        format!("{rendered}{}", script.disassemble())
    });
}

#[test]
fn json() {
    let catalog = common::standard_catalog();
    run("json", "json", |name, src, chains| {
        let out = compile(src, &catalog, chains);
        let rendered = out.render(&SourceFile::new(name, src));
        let script = out
            .script
            .unwrap_or_else(|| panic!("{name} does not compile:\n{rendered}"));
        serde_json::to_string_pretty(&script.wire()).expect("serializable") + "\n"
    });
}

/// The golden copies of Listing 2 are the example with its collector placeholder given, as
/// `-D COLLECTOR_IFINDEX=6` does (the device stays `'DEVNAME'`, a string).
#[test]
fn listing_2_goldens_are_the_example() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ddos_tb_2_lev.eclat");
    let example = fs::read_to_string(example).expect("examples/ddos_tb_2_lev.eclat");
    let collector = Define::parse("COLLECTOR_IFINDEX=6").expect("a define");
    let example = substitute(&example, &[collector]);
    for kind in ["asm", "json"] {
        let copy = fs::read_to_string(golden_dir(kind).join("listing2.eclat")).expect("readable");
        assert_eq!(
            copy, example,
            "tests/golden/{kind}/listing2.eclat is the example with -D COLLECTOR_IFINDEX=6"
        );
    }
}
