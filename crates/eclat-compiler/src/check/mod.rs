//! The checker: resolves names against the catalogs, checks every rule of the language's
//! "Checking" list (`docs/eclat.md`) that can be known from the source, folds constants, and
//! lowers each chain to [`hir`].
//!
//! It collects every problem it finds instead of stopping at the first. Parts of the script
//! that did not parse are skipped, and errors that they would cause (an unknown name whose
//! declaration did not parse) are not reported.
//!
//! [`ModuleChecker::check`] runs the module's passes in order: imports ([`imports`]), chain
//! names (so that a chain may be called before its definition), module constants
//! ([`fold`]), map configurations and attachments ([`maps`]), then each chain's body
//! ([`chain`]: its scope; [`stmt`], [`expr`]: statements and expressions, typed by the rules
//! of [`types`]; [`packet`]: packet fields by name and address comparisons; [`flow`]:
//! definite assignment and reachability), and last the call graph of
//! the script's chains ([`graph`]: recursion, call depth).

mod chain;
mod expr;
mod flow;
mod fold;
mod graph;
mod hints;
mod imports;
mod maps;
mod packet;
mod stmt;
mod types;

use std::collections::HashMap;

use eclat_syntax::ast::{self, IntType};
use eclat_syntax::{Diagnostic, Span};

use crate::catalog::{Catalog, ChainCatalog, ChainSig, LoaderSig, ProgramSig};
use crate::error::{CheckError, CheckWarning, Problem};
use crate::hir;
use crate::output::{Attachment, ImportedChain, ImportedLoader, ImportedProgram, MapConfig};

use self::chain::ChainChecker;
use self::flow::returns_value;
use self::fold::Konst;

/// What the checker hands to code generation.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// Chains with the span of their name.
    pub chains: Vec<(hir::Chain, Span)>,
    /// Map configurations, in source order.
    pub maps: Vec<MapConfig>,
    /// Attachments, in source order.
    pub attachments: Vec<Attachment>,
    /// Imported programs.
    pub programs: Vec<ImportedProgram>,
    /// Imported loaders.
    pub loaders: Vec<ImportedLoader>,
    /// Chains imported from other scripts.
    pub imported_chains: Vec<ImportedChain>,
}

/// What a module-level name is.
#[derive(Clone, Debug)]
enum Symbol {
    /// An imported program.
    Program(ProgramSig),
    /// An imported loader.
    Loader(LoaderSig),
    /// A chain imported from another script.
    ImportedChain(ChainSig),
    /// A chain of this script, by index of definition.
    LocalChain(usize),
    /// An import that failed (already reported): uses are not reported again.
    Poisoned,
}

/// UPPERCASE names (at least one letter, no lowercase letter) are constants.
pub(crate) fn is_constant_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase()) && !name.chars().any(|c| c.is_ascii_lowercase())
}

/// What a call of a chain of this script needs to know before its body is checked.
#[derive(Clone, Debug)]
struct LocalChain {
    /// Its name (empty for a duplicate definition, already reported).
    name: String,
    /// Its parameter count.
    params: usize,
    /// Whether it has a `return VALUE`.
    returns_value: bool,
}

/// The checker of a module: its names and constants, and every diagnostic of the run.
pub(crate) struct ModuleChecker<'a> {
    catalog: &'a dyn Catalog,
    chain_catalog: &'a dyn ChainCatalog,
    /// Every error and warning, in the order found.
    pub diags: Vec<Diagnostic<Problem>>,
    /// Module-level names: imports and chains.
    symbols: HashMap<String, Symbol>,
    /// Module constants.
    consts: HashMap<String, Konst>,
    /// Local chains, by index of definition.
    local_chains: Vec<LocalChain>,
    /// Whether parts of the module did not parse: unknown names are then not reported.
    lenient: bool,
}

impl<'a> ModuleChecker<'a> {
    pub fn new(
        catalog: &'a dyn Catalog,
        chain_catalog: &'a dyn ChainCatalog,
        lenient: bool,
    ) -> ModuleChecker<'a> {
        ModuleChecker {
            catalog,
            chain_catalog,
            diags: Vec::new(),
            symbols: HashMap::new(),
            consts: HashMap::new(),
            local_chains: Vec::new(),
            lenient,
        }
    }

    fn error(&mut self, e: CheckError, span: Span) {
        self.diags.push(Diagnostic::new(Problem::Error(e), span));
    }

    fn warn(&mut self, w: CheckWarning, span: Span) {
        self.diags.push(Diagnostic::new(Problem::Warning(w), span));
    }

    /// Reports an import whose package or script does not exist, and binds every name it
    /// imports as poisoned so that their uses add no further errors.
    fn refuse_import(&mut self, error: CheckError, span: Span, names: &[ast::Ident]) {
        self.error(error, span);
        for n in names {
            self.bind(n, Symbol::Poisoned);
        }
    }

    /// The module-level name closest to `name` among those `wanted` accepts, for "did you
    /// mean" (sorted first: the suggestion does not depend on the hash order).
    fn closest_symbol(&self, name: &str, wanted: impl Fn(&Symbol) -> bool) -> Option<String> {
        let mut names: Vec<&String> = self
            .symbols
            .iter()
            .filter(|(_, s)| wanted(s))
            .map(|(n, _)| n)
            .collect();
        names.sort();
        crate::suggest::closest(name, names)
    }

    fn bind(&mut self, id: &ast::Ident, sym: Symbol) -> bool {
        if self.symbols.contains_key(&id.name) || self.consts.contains_key(&id.name) {
            self.error(
                CheckError::Duplicate {
                    name: id.name.clone(),
                },
                id.span,
            );
            return false;
        }
        self.symbols.insert(id.name.clone(), sym);
        true
    }

    /// Checks `module`: what code generation needs, and the diagnostics.
    pub fn check(mut self, module: &ast::Module) -> (Checked, Vec<Diagnostic<Problem>>) {
        let mut out = Checked::default();
        // Imports and chain names first: chains may be used before they are defined.
        for item in &module.items {
            if let ast::Item::Import(i) = item {
                self.import(i, &mut out);
            }
        }
        for item in &module.items {
            if let ast::Item::Chain(c) = item {
                let index = self.local_chains.len();
                let name = if self.bind(&c.name, Symbol::LocalChain(index)) {
                    c.name.name.clone()
                } else {
                    String::new()
                };
                self.local_chains.push(LocalChain {
                    name,
                    params: c.params.len(),
                    returns_value: returns_value(&c.body),
                });
            }
        }
        for item in &module.items {
            if let ast::Item::Const(c) = item {
                self.module_const(c);
            }
        }
        for item in &module.items {
            match item {
                ast::Item::MapConfig(m) => {
                    if let Some(cfg) = self.map_config(m) {
                        out.maps.push(cfg);
                    }
                }
                ast::Item::Attach(a) => {
                    if let Some(att) = self.attach(a) {
                        out.attachments.push(att);
                    }
                }
                _ => {}
            }
        }
        let mut edges: Vec<Vec<(usize, Span)>> = Vec::new();
        let mut imported_depth: Vec<usize> = Vec::new();
        for item in &module.items {
            if let ast::Item::Chain(c) = item {
                let (chain, calls, depth) = ChainChecker::new(&mut self, c).run(c);
                edges.push(calls);
                imported_depth.push(depth);
                out.chains.push((chain, c.name.span));
            }
        }
        self.call_graph(&out.chains, &edges, &imported_depth);
        (out, self.diags)
    }
}

/// The chains a script defines, with their parameters, without checking their bodies: what
/// another script may import from it (`from chains.SCRIPT import NAME`).
pub fn chain_signatures(module: &ast::Module) -> Vec<ChainSig> {
    module
        .items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Chain(c) => Some(ChainSig {
                name: c.name.name.clone(),
                params: c
                    .params
                    .iter()
                    .map(|p| (p.name.name.clone(), p.ty.map_or(IntType::U64, |t| t.ty)))
                    .collect(),
                depth: 1,
                returns_value: returns_value(&c.body),
            }),
            _ => None,
        })
        .collect()
}
