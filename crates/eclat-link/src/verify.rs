//! `eclat check --verify`: the kernel's verifier run on the programs and loaders a script
//! imports from user packages, before any load, so that a wizard finds a refusal (summarised
//! by `hike_runtime::verifier`) at check time.
//!
//! Each is loaded into one private VM instance, attached to nothing and removed when the check
//! ends; standard objects are not verified again (the workspace's tests load them). It needs
//! the rights to load BPF programs (root). It neither links chains nor writes maps.

use eclat_catalog::{ObjectId, Origin, PackageCatalog};
use eclat_compiler::output::CompiledScript;
use hike_runtime::{ProgramId, Vm};

use crate::{LinkError, Result};

/// What the verifier said of one imported program or loader.
#[derive(Debug)]
pub struct Verified {
    /// `program` or `loader`.
    pub kind: &'static str,
    /// The package it was imported from.
    pub package: String,
    /// Its name.
    pub name: String,
    /// Accepted, or the load error (its message is the verifier's summary).
    pub result: Result<()>,
}

/// Runs the verifier on every program and loader of a user package that `script` imports
/// (each distinct object and program once), in import order. An error only if no VM could
/// be created (no rights to load programs); each refusal is in its [`Verified`].
pub fn verify_user_imports(
    catalog: &PackageCatalog,
    script: &CompiledScript,
) -> Result<Vec<Verified>> {
    let user = |id: ObjectId| matches!(catalog.object(id).origin, Origin::User(_));
    let programs: Vec<_> = script
        .programs
        .iter()
        .filter_map(|p| catalog.program_entry(&p.package, &p.name).map(|e| (p, e)))
        .filter(|(_, e)| user(e.object))
        .collect();
    let loaders: Vec<_> = script
        .loaders
        .iter()
        .filter_map(|l| catalog.loader_entry(&l.package, &l.name).map(|e| (l, e)))
        .filter(|(_, e)| user(e.object))
        .collect();
    if programs.is_empty() && loaders.is_empty() {
        return Ok(Vec::new());
    }
    let vm = Vm::new().map_err(|source| LinkError::Vm {
        source: Box::new(source),
    })?;
    let mut out = Vec::new();
    let mut seen: Vec<(ObjectId, &str)> = Vec::new();
    for (p, entry) in programs {
        if seen.contains(&(entry.object, entry.sig.name.as_str())) {
            continue;
        }
        seen.push((entry.object, entry.sig.name.as_str()));
        let obj = catalog.object(entry.object);
        let id = ProgramId::new(seen.len() as u32 - 1).expect("fewer programs than slots");
        let result = vm
            .load_program(&obj.bytes, &entry.sig.name, id)
            .map_err(|source| LinkError::LoadProgram {
                name: entry.sig.name.clone(),
                object: obj.name.clone(),
                source: Box::new(source),
            });
        out.push(Verified {
            kind: "program",
            package: p.package.clone(),
            name: p.name.clone(),
            result,
        });
    }
    for (l, entry) in loaders {
        let obj = catalog.object(entry.object);
        // The loader is dropped (removed) at once: only the verifier's answer is wanted.
        let result = vm
            .load_loader(&l.name, &obj.bytes, &l.name)
            .map(drop)
            .map_err(|source| LinkError::LoadLoader {
                name: l.name.clone(),
                object: obj.name.clone(),
                source: Box::new(source),
            });
        out.push(Verified {
            kind: "loader",
            package: l.package.clone(),
            name: l.name.clone(),
            result,
        });
    }
    Ok(out)
}
