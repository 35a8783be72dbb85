//! Chains written in C beside a script: `from chains.X import name` where `X.hike.c` is in the
//! script's directory (and `X.eclat` is not: an eCLAT script of the same name wins).
//!
//! The file is compiled with clang once per run of the tool (`hike_cchains`); its chains give
//! the checker their signatures ([`CFile::signatures`]: parameters, and call depth through
//! the file's own chains). For linking, [`CFile::unit`] turns the file into a
//! [`CompiledScript`] like a compiled eCLAT script's, so that `eclat_link` gives its chains IDs,
//! links them by name with the importing script's and validates and installs them the same way.
//!
//! **Program names.** A C chain names programs only (`HIKE_PROG_EXTERN(monitor, 1)`), not
//! packages. Each name is resolved in the packages the importing script imports programs from,
//! in import order, then in every package of the catalog in name order (the standard packages
//! and those of `--package-dir`); the first package that has it wins. The link then loads each
//! distinct (object, program) once, so `monitor` of the C file and `net.monitor` of the script
//! are one program with one map. **Chain names** (`HIKE_CHAIN_EXTERN`) are the chains of the
//! link: the file's own, the importing script's, and those it imports.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use eclat_catalog::PackageCatalog;
use eclat_compiler::output::{CompiledChain, CompiledScript, ImportedProgram};
use eclat_compiler::{Catalog, ChainSig};
use eclat_syntax::ast::IntType;
use hike_cchains::{
    compile_file, load_hike_c, CChain, CChainError, CompileOptions, Problem, Rejection,
};
use hike_isa::asm::RelocKind;

/// A `.hike.c` file, compiled and loaded (or why not).
#[derive(Debug)]
pub struct CFile {
    /// The file.
    pub path: PathBuf,
    /// Its chains, or what went wrong.
    pub chains: Result<Vec<CChain>, CFileError>,
    /// clang's warnings (empty if none).
    pub warnings: String,
}

/// Why a `.hike.c` file gives no chains.
#[derive(Debug)]
pub struct CFileError {
    /// One line, for the error at the script's import.
    pub reason: String,
    /// The full report (clang's diagnostics, every refused chain function), printed before the
    /// script's diagnostics; empty when `reason` says it all.
    pub details: String,
}

impl CFile {
    /// Compiles and loads `path`, with `defines` as clang's `-D NAME=VALUE`.
    pub fn load(path: &Path, defines: &[(String, String)]) -> CFile {
        let opts = CompileOptions {
            defines: defines.to_vec(),
            ..CompileOptions::default()
        };
        let shown = path.display().to_string();
        let (chains, warnings) = match compile_file(path, &opts) {
            Ok(compiled) => (
                load_hike_c(&compiled.object).map_err(|e| file_error(&shown, e)),
                compiled.warnings,
            ),
            Err(e) => (Err(file_error(&shown, e)), String::new()),
        };
        CFile {
            path: path.to_path_buf(),
            chains,
            warnings,
        }
    }

    /// Compiles `path` as [`CFile::load`] does and gives clang's object once its chains load
    /// (what a fleet's operator sends, for [`CFile::from_object`] on the nodes), and clang's
    /// warnings; or why not (its `details` hold clang's diagnostics).
    pub fn build(
        path: &Path,
        defines: &[(String, String)],
    ) -> Result<(Vec<u8>, String), CFileError> {
        let opts = CompileOptions {
            defines: defines.to_vec(),
            ..CompileOptions::default()
        };
        let shown = path.display().to_string();
        let compiled = compile_file(path, &opts).map_err(|e| file_error(&shown, e))?;
        load_hike_c(&compiled.object).map_err(|e| file_error(&shown, e))?;
        Ok((compiled.object, compiled.warnings))
    }

    /// The file from `object`, clang's output for it built elsewhere (a fleet's operator):
    /// loaded and checked as [`CFile::load`] does after compiling.
    pub fn from_object(path: &Path, object: &[u8]) -> CFile {
        let shown = path.display().to_string();
        CFile {
            path: path.to_path_buf(),
            chains: load_hike_c(object).map_err(|e| file_error(&shown, e)),
            warnings: String::new(),
        }
    }

    /// The signatures of the file's chains, for the checker. A chain's depth counts the frames
    /// of its deepest path through the file's chains (a chain of another script counts as
    /// one frame; a cycle is not followed again: the VM's frame limit stops it at run time).
    pub fn signatures(&self) -> Vec<ChainSig> {
        let Ok(chains) = &self.chains else {
            return Vec::new();
        };
        let index: HashMap<&str, usize> = chains
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut depth: Vec<Option<usize>> = vec![None; chains.len()];
        let mut on_path = vec![false; chains.len()];
        for i in 0..chains.len() {
            chain_depth(i, chains, &index, &mut depth, &mut on_path);
        }
        chains
            .iter()
            .zip(depth)
            .map(|(c, d)| ChainSig {
                name: c.name.clone(),
                params: c.params.iter().map(|p| (p.clone(), IntType::U64)).collect(),
                depth: d.unwrap_or(1),
                // C has no chain without a result: `r0` is what the function returns.
                returns_value: true,
            })
            .collect()
    }

    /// The file as a unit of the link, imported by `importer`: its chains, and the programs
    /// they call resolved in `catalog` (see the module's documentation). Every callee is
    /// checked (it exists, with the parameter count the C declaration says); the problems are
    /// returned as `FILE:LINE:COL: error: chain `F`: …` lines.
    pub fn unit(
        &self,
        importer: &CompiledScript,
        catalog: &PackageCatalog,
    ) -> Result<CompiledScript, Vec<String>> {
        let chains = match &self.chains {
            Ok(chains) => chains,
            Err(e) => return Err(vec![e.reason.clone()]),
        };
        // Packages to search, in order: the importer's, then every one.
        let mut packages: Vec<String> = Vec::new();
        for p in importer
            .programs
            .iter()
            .map(|p| p.package.clone())
            .chain(catalog.program_packages())
        {
            if !packages.contains(&p) {
                packages.push(p);
            }
        }
        // Chains the file's chains may call by name.
        let mut known_chains: HashMap<String, u8> = HashMap::new();
        for c in &importer.imported_chains {
            known_chains.insert(c.name.clone(), c.params as u8);
        }
        for c in &importer.chains {
            known_chains.insert(c.name.clone(), c.params.len() as u8);
        }
        for c in chains {
            known_chains.insert(c.name.clone(), c.nparams);
        }

        let mut programs: BTreeMap<String, ImportedProgram> = BTreeMap::new();
        let mut errors = Vec::new();
        for chain in chains {
            let checked = chain.check_callees(|kind, name| match kind {
                RelocKind::Chain => known_chains.get(name).copied(),
                RelocKind::Prog => {
                    let (package, sig) = packages
                        .iter()
                        .find_map(|p| catalog.program(p, name).map(|sig| (p, sig)))?;
                    programs
                        .entry(name.to_owned())
                        .or_insert_with(|| ImportedProgram {
                            name: name.to_owned(),
                            package: package.clone(),
                            home: sig.home.clone(),
                            params: sig.params.clone(),
                            terminal: sig.terminal,
                        });
                    Some(sig.params.len().min(u8::MAX as usize) as u8)
                }
            });
            if let Err(e) = checked {
                let shown = self.path.display().to_string();
                errors.extend(e.rejections().iter().map(|r| {
                    let mut line = rejection_line(&shown, r);
                    if let Problem::UnknownCallee { kind, name } = &r.problem {
                        line.push_str(&match kind {
                            RelocKind::Prog => format!(
                                "\n  = help: no package has a program `{name}` (searched: {})",
                                packages.join(", ")
                            ),
                            RelocKind::Chain => format!(
                                "\n  = help: a C chain calls chains of its file, of the script \
                                 that imports it, and of the scripts that script imports; none \
                                 is called `{name}`"
                            ),
                        });
                    }
                    line
                }));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CompiledScript {
            chains: chains
                .iter()
                .map(|c| CompiledChain {
                    name: c.name.clone(),
                    params: c.params.iter().map(|p| (p.clone(), IntType::U64)).collect(),
                    assembly: c.assembly.clone(),
                    stack_bytes: 0,
                    returns_value: true,
                })
                .collect(),
            programs: programs.into_values().collect(),
            ..CompiledScript::default()
        })
    }
}

/// Depth of chain `i` (memoized); `on_path` marks the chains being explored, so that a cycle
/// ends there.
fn chain_depth(
    i: usize,
    chains: &[CChain],
    index: &HashMap<&str, usize>,
    depth: &mut [Option<usize>],
    on_path: &mut [bool],
) -> usize {
    if let Some(d) = depth[i] {
        return d;
    }
    if on_path[i] {
        return 0;
    }
    on_path[i] = true;
    let mut deepest = 0;
    for callee in &chains[i].callees {
        if callee.kind != RelocKind::Chain {
            continue;
        }
        let d = match index.get(callee.name.as_str()) {
            Some(&j) => chain_depth(j, chains, index, depth, on_path),
            None => 1,
        };
        deepest = deepest.max(d);
    }
    on_path[i] = false;
    depth[i] = Some(1 + deepest);
    1 + deepest
}

/// A load or compile error as one line for the import and the full report.
fn file_error(shown: &str, e: CChainError) -> CFileError {
    match e {
        CChainError::Clang { diagnostics, .. } => CFileError {
            reason: format!("`{shown}` does not compile (clang's errors above)"),
            details: diagnostics,
        },
        CChainError::Rejected { rejections } => CFileError {
            reason: format!(
                "{} problem{} in the chains of `{shown}` (above)",
                rejections.len(),
                if rejections.len() == 1 { "" } else { "s" }
            ),
            details: rejections
                .iter()
                .map(|r| rejection_line(shown, r) + "\n")
                .collect(),
        },
        other => CFileError {
            reason: format!("`{shown}`: {other}"),
            details: String::new(),
        },
    }
}

/// `FILE:LINE:COL: error: chain `F`: instruction I (`TEXT`): PROBLEM`.
fn rejection_line(file: &str, r: &Rejection) -> String {
    let place = r
        .location
        .as_ref()
        .map_or_else(|| file.to_owned(), ToString::to_string);
    let insn = r
        .insn
        .as_ref()
        .map_or_else(String::new, |i| format!("{i}: "));
    format!("{place}: error: chain `{}`: {insn}{}", r.chain, r.problem)
}
