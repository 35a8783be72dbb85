//! The `eclat` variant of `ddos_mark`: the hand-written chains written in eCLAT
//! (`scenarios/ddos_mark.eclat`), compiled against the standard catalog and the benchmark's
//! own program.

use anyhow::{bail, Context, Result};
use eclat_catalog::PackageCatalog;
use eclat_compiler::catalog::LoaderSig;
use eclat_compiler::{compile, Catalog, ChainTable, CompiledScript, ProgramSig};

/// The same chains in eCLAT.
pub const ECLAT_SCRIPT: &str = include_str!("../ddos_mark.eclat");

/// The standard catalog plus the benchmark's package `bench` (`ip6_src_in_set`).
struct BenchCatalog {
    std: PackageCatalog,
    set: ProgramSig,
}

impl BenchCatalog {
    fn new() -> Result<BenchCatalog> {
        let std = PackageCatalog::standard().context("the standard catalog")?;
        // Built from a standard signature of the same shape (no parameter, returns to the
        // chain), so that fields the compiler may add keep their defaults.
        let mut set = std
            .program("meter", "ip6_dst_meter")
            .context("the standard catalog has no meter.ip6_dst_meter")?
            .clone();
        set.name = "ip6_src_in_set".into();
        set.home = "bench".into();
        set.params = Vec::new();
        set.terminal = false;
        // The script configures no map of it: the benchmark fills the blacklist.
        set.maps = Vec::new();
        Ok(BenchCatalog { std, set })
    }
}

impl Catalog for BenchCatalog {
    fn program_packages(&self) -> Vec<String> {
        let mut p = self.std.program_packages();
        p.push("bench".into());
        p.sort();
        p
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        if package == "bench" {
            return (name == self.set.name).then_some(&self.set);
        }
        self.std.program(package, name)
    }

    fn loader_packages(&self) -> Vec<String> {
        self.std.loader_packages()
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        self.std.loader(package, name)
    }
}

/// Compiles [`ECLAT_SCRIPT`]; fails with the compiler's diagnostics.
pub fn compile_eclat() -> Result<CompiledScript> {
    let out = compile(ECLAT_SCRIPT, &BenchCatalog::new()?, &ChainTable::new());
    if out.has_errors() || out.script.is_none() {
        let file = eclat_syntax::diagnostic::SourceFile::new("ddos_mark.eclat", ECLAT_SCRIPT);
        bail!("the eCLAT script does not compile:\n{}", out.render(&file));
    }
    Ok(out.script.expect("checked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eclat_script_compiles_to_both_chains() {
        let script = compile_eclat().unwrap();
        for name in ["ddos_mark", "ddos_mark_fwd"] {
            let chain = script.chain(name).unwrap();
            let called: Vec<&str> = chain
                .assembly
                .relocations
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            assert!(called.contains(&"ip6_src_in_set"), "{name}: {called:?}");
            assert!(called.contains(&"ip6_set_tos"), "{name}: {called:?}");
        }
    }
}
