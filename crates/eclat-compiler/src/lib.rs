//! The eCLAT compiler: checks a script against the catalog of programs, loaders and chains,
//! and compiles its chains to HIKe bytecode.
//!
//! [`compile`] parses the script (`eclat-syntax`), resolves every import against a
//! [`Catalog`] (programs and loaders) and a [`ChainCatalog`] (chains of other scripts),
//! checks every rule of the language (unknown names, argument counts, reads before
//! assignment, constants, types, recursion, VM limits; `docs/eclat.md`), folds constants and
//! generates bytecode for each chain, which must then pass `hike_isa::validate`. All problems
//! of a run are returned together as [`Diagnostic`]s, rendered by
//! `eclat_syntax::diagnostic::render`.
//!
//! It does no I/O and knows nothing of libbpf: the bytecode leaves here with symbolic
//! relocations for program and chain calls, linked to IDs by the runtime.
//!
//! ```
//! use eclat_compiler::{compile, ChainTable, PackageTable, ProgramSig};
//!
//! // The programs a script may import (`eclat-catalog` reads them from the objects).
//! let mut catalog = PackageTable::new();
//! for (name, params, terminal) in [("monitor", vec!["event".to_owned()], false), ("hike_pass", vec![], true)] {
//!     let home = "hike_default".to_owned();
//!     let sig = ProgramSig { name: name.into(), home, params, terminal, maps: vec![] };
//!     catalog.add_program("hike_default", sig);
//! }
//! let src = "\
//! from programs.hike_default import hike_pass, monitor
//! def count():
//!     monitor(1 + 2 * 3)
//!     hike_pass()
//! ";
//! let out = compile(src, &catalog, &ChainTable::new());
//! assert!(out.diagnostics.is_empty());
//! let script = out.script.unwrap();
//! assert!(script.disassemble().contains("r1 = 7\n    call prog monitor"));
//! ```

#![deny(missing_docs)]

pub mod catalog;
mod check;
mod codegen;
pub mod defines;
pub mod error;
pub mod fields;
pub mod hir;
pub mod ops;
pub mod output;
mod suggest;

use eclat_syntax::diagnostic::{render, SourceFile};
use eclat_syntax::{parse, Diagnostic, Message};
use hike_isa::abi;
use hike_isa::validate::{validate, Chain as ValidatedChain, Context};

pub use catalog::{Catalog, ChainCatalog, ChainSig, ChainTable, PackageTable, ProgramSig};
pub use defines::{substitute, substitute_tracked, Define, DefineError, Substituted};
pub use error::{CheckError, CheckWarning, Problem};
pub use output::{CompiledChain, CompiledScript};

/// The result of [`compile`].
#[derive(Clone, Debug)]
pub struct Compilation {
    /// Every error and warning, in source order.
    pub diagnostics: Vec<Diagnostic<Problem>>,
    /// The compiled script, if there was no error.
    pub script: Option<CompiledScript>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }

    /// The diagnostics as `eclat check` prints them.
    pub fn render(&self, file: &SourceFile) -> String {
        render(file, &self.diagnostics)
    }
}

/// Compiles a script.
pub fn compile(src: &str, catalog: &dyn Catalog, chains: &dyn ChainCatalog) -> Compilation {
    let parsed = parse(src);
    let mut diagnostics: Vec<Diagnostic<Problem>> = parsed
        .errors
        .into_iter()
        .map(|d| d.map(Problem::Syntax))
        .collect();
    // A top-level item that did not parse may have been an import: names it would have
    // defined are then not reported as unknown.
    let lenient = parsed
        .module
        .items
        .iter()
        .any(|i| matches!(i, eclat_syntax::ast::Item::Error(_)));
    let (checked, check_diags) =
        check::ModuleChecker::new(catalog, chains, lenient).check(&parsed.module);
    diagnostics.extend(check_diags);
    let mut script = None;
    if !diagnostics.iter().any(|d| d.is_error()) {
        let mut compiled = Vec::new();
        for (chain, span) in &checked.chains {
            let generated = codegen::generate(chain);
            let name = chain.name.clone();
            let len = generated.assembly.insns.len();
            let stack_bytes = generated.slots * 8;
            let mut fits = true;
            if len > abi::MAX_CHAIN_INSNS {
                diagnostics.push(Diagnostic::new(
                    Problem::Error(CheckError::ChainTooLong {
                        chain: name.clone(),
                        len,
                        max: abi::MAX_CHAIN_INSNS,
                    }),
                    *span,
                ));
                fits = false;
            }
            if stack_bytes > abi::STACK_SIZE {
                diagnostics.push(Diagnostic::new(
                    Problem::Error(CheckError::StackTooBig {
                        chain: name.clone(),
                        bytes: stack_bytes,
                        max: abi::STACK_SIZE,
                    }),
                    *span,
                ));
                fits = false;
            }
            let params: Vec<_> = chain
                .params
                .iter()
                .map(|&l| (chain.locals[l].name.clone(), chain.locals[l].ty))
                .collect();
            compiled.push(CompiledChain {
                name,
                params,
                assembly: generated.assembly,
                stack_bytes,
                returns_value: chain.returns_value,
            });
            if fits {
                if let Err(message) = validate_chain(compiled.last().expect("pushed"), &checked) {
                    diagnostics.push(Diagnostic::new(
                        Problem::Error(CheckError::Internal {
                            chain: chain.name.clone(),
                            message,
                        }),
                        *span,
                    ));
                }
            }
        }
        if !diagnostics.iter().any(|d| d.is_error()) {
            script = Some(CompiledScript {
                chains: compiled,
                maps: checked.maps,
                attachments: checked.attachments,
                programs: checked.programs,
                loaders: checked.loaders,
                imported_chains: checked.imported_chains,
            });
        }
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.kind.severity()));
    Compilation {
        diagnostics,
        script,
    }
}

/// Compiles `src` after replacing its `-D` placeholders ([`substitute_tracked`]); an error
/// inside a replaced value says which `-D` put it there. Returns the compiled text (what the
/// diagnostics' positions refer to) and the compilation.
pub fn compile_with_defines(
    src: &str,
    defines: &[Define],
    catalog: &dyn Catalog,
    chains: &dyn ChainCatalog,
) -> (String, Compilation) {
    let substituted = substitute_tracked(src, defines);
    let mut out = compile(&substituted.text, catalog, chains);
    for d in &mut out.diagnostics {
        if !d.is_error() {
            continue;
        }
        let Some(define) = substituted.define_at(d.span.start as usize, d.span.end as usize) else {
            continue;
        };
        let error = std::mem::replace(&mut d.kind, Problem::Warning(CheckWarning::NoEffect));
        d.kind = Problem::Error(CheckError::FromDefine {
            name: define.name.clone(),
            value: define.value.clone(),
            error: Box::new(error),
        });
    }
    (substituted.text, out)
}

/// Runs the load-time validator on a compiled chain, with every callee declared under a
/// display ID; a failure is a compiler bug.
fn validate_chain(chain: &CompiledChain, checked: &check::Checked) -> Result<(), String> {
    let script = CompiledScript {
        chains: vec![chain.clone()],
        ..CompiledScript::default()
    };
    let symbols = script.display_symbols();
    let insns = script.display_insns(chain, &symbols);
    let mut ctx = Context::new();
    for r in &chain.assembly.relocations {
        let nparams = match r.kind {
            hike_isa::asm::RelocKind::Prog => {
                let id = symbols.prog_id(&r.name).expect("named");
                let n = checked
                    .programs
                    .iter()
                    .find(|p| p.name == r.name)
                    .map_or(0, |p| p.params.len());
                ctx.add_prog(id, n as u8);
                continue;
            }
            hike_isa::asm::RelocKind::Chain => checked
                .chains
                .iter()
                .find(|(c, _)| c.name == r.name)
                .map(|(c, _)| c.params.len())
                .or_else(|| {
                    checked
                        .imported_chains
                        .iter()
                        .find(|c| c.name == r.name)
                        .map(|c| c.params)
                })
                .unwrap_or(0),
        };
        let id = symbols.chain_id(&r.name).expect("named");
        ctx.add_chain(id, nparams as u8);
    }
    ctx.set_symbols(symbols);
    validate(
        &ValidatedChain {
            name: &chain.name,
            insns: &insns,
            nparams: chain.params.len() as u8,
        },
        &ctx,
    )
    .map_err(|e| e.to_string())
}

/// The chains a script defines, for a [`ChainTable`] that other scripts import from. Syntax
/// errors are ignored: chains that parse are listed.
pub fn chain_signatures(src: &str) -> Vec<ChainSig> {
    let parsed = parse(src);
    check::chain_signatures(&parsed.module)
}
