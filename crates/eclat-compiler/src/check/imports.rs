//! Imports: `from programs.PKG import …`, `from loaders.PKG import …` and
//! `from chains.SCRIPT import …`, resolved against the catalogs. One path serves the three
//! sources: the package (or script) must exist, then every name is bound to what it
//! designates or, when it designates nothing, reported and bound as poisoned, so that its
//! uses add no further errors.

use eclat_syntax::ast;

use super::{Checked, ModuleChecker, Symbol};
use crate::error::CheckError;
use crate::output::{ImportedChain, ImportedLoader, ImportedProgram};
use crate::suggest::closest;

/// Where an import's names come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `programs` (or `prog`): a program package of the catalog.
    Programs,
    /// `loaders`: a loader package of the catalog.
    Loaders,
    /// `chains`: another script.
    Chains,
}

impl Source {
    /// The source an import path starts with.
    fn from_name(name: &str) -> Option<Source> {
        match name {
            "programs" | "prog" => Some(Source::Programs),
            "loaders" => Some(Source::Loaders),
            "chains" => Some(Source::Chains),
            _ => None,
        }
    }

    /// How messages name it.
    fn keyword(self) -> &'static str {
        match self {
            Source::Programs => "programs",
            Source::Loaders => "loaders",
            Source::Chains => "chains",
        }
    }
}

impl ModuleChecker<'_> {
    /// Binds the names of an import, and records what they designate in `out`.
    pub(super) fn import(&mut self, i: &ast::Import, out: &mut Checked) {
        let first = &i.path[0];
        let Some(source) = Source::from_name(&first.name) else {
            let error = CheckError::UnknownImportSource {
                source_name: first.name.clone(),
                suggestion: closest(&first.name, &["programs", "loaders", "chains"]),
            };
            self.refuse_import(error, first.span, &i.names);
            return;
        };
        if i.path.len() != 2 {
            let span = first.span.to(i.path.last().expect("a path").span);
            let error = CheckError::ImportPath {
                source_name: source.keyword().into(),
            };
            self.refuse_import(error, span, &i.names);
            return;
        }
        let package = &i.path[1];
        if let Some(error) = self.unavailable(source, &package.name) {
            self.refuse_import(error, package.span, &i.names);
            return;
        }
        for n in &i.names {
            match self.resolve(source, &package.name, &n.name) {
                Ok(symbol) => {
                    if self.bind(n, symbol.clone()) {
                        record(out, &symbol, &package.name);
                    }
                }
                Err(error) => {
                    self.error(error, n.span);
                    self.bind(n, Symbol::Poisoned);
                }
            }
        }
    }

    /// Why nothing can be imported from `package` of `source`, if so: it does not exist, or
    /// (a script) its chains cannot be read.
    fn unavailable(&self, source: Source, package: &str) -> Option<CheckError> {
        let unknown_package = |kind, packages: Vec<String>| {
            (!packages.iter().any(|p| p == package)).then(|| CheckError::UnknownPackage {
                kind,
                package: package.to_owned(),
                known: packages.join(", "),
                suggestion: closest(package, &packages),
            })
        };
        if source != Source::Chains {
            if let Some(reason) = self.catalog.package_error(package) {
                return Some(CheckError::BrokenPackage {
                    package: package.to_owned(),
                    reason,
                });
            }
        }
        match source {
            Source::Programs => unknown_package("program", self.catalog.program_packages()),
            Source::Loaders => unknown_package("loader", self.catalog.loader_packages()),
            Source::Chains if !self.chain_catalog.has_script(package) => {
                Some(CheckError::UnknownScript {
                    script: package.to_owned(),
                    suggestion: closest(package, &self.chain_catalog.script_names()),
                })
            }
            Source::Chains => {
                self.chain_catalog
                    .script_error(package)
                    .map(|reason| CheckError::BrokenScript {
                        script: package.to_owned(),
                        reason,
                    })
            }
        }
    }

    /// What `name` of `package` designates, or why it designates nothing.
    fn resolve(&self, source: Source, package: &str, name: &str) -> Result<Symbol, CheckError> {
        match source {
            Source::Programs => self
                .catalog
                .program(package, name)
                .cloned()
                .map(Symbol::Program)
                .ok_or_else(|| CheckError::UnknownProgram {
                    package: package.to_owned(),
                    name: name.to_owned(),
                    elsewhere: self.catalog.packages_with_program(name),
                    suggestion: closest(name, &self.catalog.program_names(package)),
                }),
            Source::Loaders => self
                .catalog
                .loader(package, name)
                .cloned()
                .map(Symbol::Loader)
                .ok_or_else(|| CheckError::UnknownLoader {
                    package: package.to_owned(),
                    name: name.to_owned(),
                    suggestion: closest(name, &self.catalog.loader_names(package)),
                }),
            Source::Chains => self
                .chain_catalog
                .chain(package, name)
                .map(Symbol::ImportedChain)
                .ok_or_else(|| CheckError::UnknownChainInScript {
                    script: package.to_owned(),
                    name: name.to_owned(),
                    available: self.chain_catalog.chain_names(package),
                }),
        }
    }
}

/// Records an imported program, loader or chain of `package` for the compiled script.
fn record(out: &mut Checked, symbol: &Symbol, package: &str) {
    match symbol {
        Symbol::Program(sig) => out.programs.push(ImportedProgram {
            name: sig.name.clone(),
            package: package.to_owned(),
            home: sig.home.clone(),
            params: sig.params.clone(),
            terminal: sig.terminal,
        }),
        Symbol::Loader(sig) => out.loaders.push(ImportedLoader {
            name: sig.name.clone(),
            package: sig.package.clone(),
        }),
        Symbol::ImportedChain(sig) => out.imported_chains.push(ImportedChain {
            name: sig.name.clone(),
            script: package.to_owned(),
            params: sig.params.len(),
        }),
        // An import resolves to nothing else.
        Symbol::LocalChain(_) | Symbol::Poisoned => {}
    }
}
