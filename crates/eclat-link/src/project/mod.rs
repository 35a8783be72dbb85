//! A script as files, the step before [`crate::link()`]: the script, the scripts and C chain
//! files beside it that it imports chains from, and the catalog of program packages.
//! [`compile_all`] turns them into the link units `link` takes; `eclat run` and `eclatd` both
//! go through it, so that a script means the same thing to both.
//!
//! This module reads files and may run clang (for C chains, through `hike-cchains`, and for
//! user packages, through `eclat-catalog`); it makes no BPF syscall and loads nothing.
//!
//! ```no_run
//! use std::path::Path;
//! use eclat_link::project::{catalog, compile_all, script_name};
//!
//! let file = Path::new("examples/ddos_tb_2_lev.eclat");
//! let catalog = catalog(&[]).unwrap();
//! let compiled = compile_all(file, &script_name(file), &[], &catalog);
//! eprint!("{}", compiled.diagnostics);
//! let units = compiled.units.expect("no error");
//! assert_eq!(units[0].0, "ddos_tb_2_lev");
//! ```

pub mod cchains;
mod error;
pub mod scripts;

use std::path::{Path, PathBuf};

use eclat_catalog::PackageCatalog;
use eclat_compiler::output::CompiledScript;
use eclat_compiler::{compile_with_defines, Define};
use eclat_syntax::SourceFile;

pub use error::ProjectError;
pub use scripts::{c_units, catalog, read, SiblingScripts};

/// What [`compile_all`] gives: the link units (main script first) when nothing had an error,
/// and every diagnostic, rendered (`FILE:LINE:COL: error: MESSAGE`, line, caret).
#[derive(Debug)]
pub struct Compiled {
    /// `(script name, compilation)`, the main script first; `None` after any error.
    pub units: Option<Vec<(String, CompiledScript)>>,
    /// Errors and warnings of every file, in the order they were compiled.
    pub diagnostics: String,
}

/// Compiles the script `file` (named `main_name` in the link) and, transitively, the scripts
/// it imports chains from (beside it): eCLAT scripts are compiled with `defines` substituted,
/// files of C chains (`X.hike.c`) compiled with clang (`-D` given to it) and their program
/// names resolved for the script that imports them first.
pub fn compile_all(
    file: &Path,
    main_name: &str,
    defines: &[Define],
    catalog: &PackageCatalog,
) -> Compiled {
    compile_all_shown(
        file,
        &file.display().to_string(),
        main_name,
        defines,
        catalog,
    )
}

/// Like [`compile_all`], with the main script called `shown` in diagnostics (the daemon
/// compiles a copy of the client's file, and reports it under the client's name).
pub fn compile_all_shown(
    file: &Path,
    shown: &str,
    main_name: &str,
    defines: &[Define],
    catalog: &PackageCatalog,
) -> Compiled {
    compile_all_prebuilt(file, shown, main_name, defines, catalog, &PrebuiltC::new())
}

/// The objects of files of C chains built elsewhere (clang's output, with the same `-D`), by
/// file name (`X.hike.c`): such a file is not compiled again.
pub type PrebuiltC = std::collections::BTreeMap<String, std::sync::Arc<[u8]>>;

/// Like [`compile_all_shown`], the files of C chains named in `prebuilt` taken from their
/// objects there rather than compiled (a fleet node, which has no clang, runs what the
/// operator built).
pub fn compile_all_prebuilt(
    file: &Path,
    shown: &str,
    main_name: &str,
    defines: &[Define],
    catalog: &PackageCatalog,
    prebuilt: &PrebuiltC,
) -> Compiled {
    let chains = SiblingScripts::beside(file)
        .with_defines(defines)
        .with_prebuilt(prebuilt);
    let mut out: Vec<(String, CompiledScript)> = Vec::new();
    let mut diagnostics = String::new();
    let mut queue: Vec<(String, PathBuf, String)> =
        vec![(main_name.to_owned(), file.to_path_buf(), shown.to_owned())];
    let mut ok = true;
    while let Some((name, path, shown)) = queue.pop() {
        if out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let raw = match read(&path) {
            Ok(s) => s,
            Err(e) => {
                diagnostics.push_str(&format!("error: {e:#}\n"));
                return Compiled {
                    units: None,
                    diagnostics,
                };
            }
        };
        let (src, result) = compile_with_defines(&raw, defines, catalog, &chains);
        diagnostics.push_str(&chains.take_reports());
        diagnostics.push_str(&result.render(&SourceFile::new(shown.clone(), src)));
        let Some(script) = result
            .script
            .filter(|_| !result.diagnostics.iter().any(|d| d.is_error()))
        else {
            ok = false;
            continue;
        };
        for c in &script.imported_chains {
            if let Some(path) = chains.eclat_path(&c.script) {
                let shown = sibling_shown(&path, file, &shown);
                queue.push((c.script.clone(), path, shown));
            }
        }
        match c_units(&script, &chains, catalog) {
            Ok(units) => {
                out.push((name, script));
                for (n, unit) in units {
                    if !out.iter().any(|(m, _)| *m == n) {
                        out.push((n, unit));
                    }
                }
            }
            Err(errors) => {
                for e in errors {
                    diagnostics.push_str(&e);
                    diagnostics.push('\n');
                }
                ok = false;
            }
        }
    }
    if ok {
        if let Some(cycle) = cross_script_cycle(&out) {
            diagnostics.push_str(&format!(
                "error: chains call each other across scripts: {cycle}; a chain may not call \
                 itself, directly or through other chains (the VM has no unbounded stack of \
                 frames: docs/eclat.md)\n"
            ));
            ok = false;
        }
    }
    Compiled {
        units: ok.then_some(out),
        diagnostics,
    }
}

/// A cycle of chain calls that goes through more than one script (each script's own cycles
/// are its compiler's errors), as `` `a.main` → `b.x` → `a.main` ``.
fn cross_script_cycle(units: &[(String, CompiledScript)]) -> Option<String> {
    use std::collections::BTreeMap;
    // Chain names are global to a link: each names one chain of one script.
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut calls: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (script, unit) in units {
        for c in &unit.chains {
            owner.insert(&c.name, script);
            calls.insert(
                &c.name,
                c.assembly
                    .relocations
                    .iter()
                    .filter(|r| r.kind == hike_isa::asm::RelocKind::Chain)
                    .map(|r| r.name.as_str())
                    .collect(),
            );
        }
    }
    // Depth-first search with the path on a stack: 0 unvisited, 1 on the path, 2 done.
    fn visit<'a>(
        c: &'a str,
        calls: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        state.insert(c, 1);
        path.push(c);
        for &callee in calls.get(c).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(callee).copied().unwrap_or(0) {
                0 if calls.contains_key(callee) => {
                    if let Some(cycle) = visit(callee, calls, state, path) {
                        return Some(cycle);
                    }
                }
                1 => {
                    let from = path.iter().position(|x| *x == callee).expect("on the path");
                    return Some(path[from..].to_vec());
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(c, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &c in calls.keys() {
        if state.get(c).copied().unwrap_or(0) != 0 {
            continue;
        }
        let Some(cycle) = visit(c, &calls, &mut state, &mut Vec::new()) else {
            continue;
        };
        let scripts: std::collections::BTreeSet<&str> = cycle.iter().map(|c| owner[c]).collect();
        if scripts.len() < 2 {
            continue; // within one script: its compiler reported it
        }
        let mut shown: Vec<String> = cycle
            .iter()
            .map(|c| format!("`{}.{c}`", owner[c]))
            .collect();
        shown.push(shown[0].clone());
        return Some(shown.join(" → "));
    }
    None
}

/// How a sibling of the main script is named in diagnostics: beside the main script's shown
/// name (the daemon's copy lives elsewhere than the client's file).
fn sibling_shown(sibling: &Path, main: &Path, main_shown: &str) -> String {
    if sibling.parent() == main.parent() {
        let file = sibling
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        let dir = Path::new(main_shown).parent();
        match (file, dir) {
            (Some(f), Some(d)) if !d.as_os_str().is_empty() => d.join(f).display().to_string(),
            (Some(f), _) => f,
            _ => sibling.display().to_string(),
        }
    } else {
        sibling.display().to_string()
    }
}

/// The file stem of `file` (`ddos` for `dir/ddos.eclat`), the default name of a script.
pub fn script_name(file: &Path) -> String {
    file.file_stem()
        .map_or("main".to_owned(), |s| s.to_string_lossy().into_owned())
}
