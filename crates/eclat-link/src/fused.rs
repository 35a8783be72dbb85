//! Fused mode for a linked script: the `hike-fused` build of its chains, programs and loader
//! (sources: the embedded standard ones, a user package's file), loaded with the maps of the
//! interpreted objects already in the VM, so that both modes share every map's state.
//!
//! It is not the translation (that is `hike-fused`) and attaches nothing: the caller runs
//! packets through the fused loader or attaches it.

use std::collections::BTreeMap;
use std::path::Path;

use eclat_catalog::{Origin, PackageCatalog};
use hike_runtime::{Loader, MapRef, ProgramId, Vm};

use crate::link::LinkedScript;
use crate::{LinkError, Result};

/// How a script runs: chains interpreted by the VM (instant reload, no verifier) or fused
/// into one verified program (`hike-fused`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The VM interprets the chains; programs are tail-called.
    #[default]
    Interpreted,
    /// The loader, chains and program bodies are one program.
    Fused,
}

impl Mode {
    /// Its name on the command line and in `eclat list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Interpreted => "interpreted",
            Mode::Fused => "fused",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Mode, String> {
        match s {
            "interpreted" => Ok(Mode::Interpreted),
            "fused" => Ok(Mode::Fused),
            _ => Err(format!(
                "unknown mode `{s}`: the modes are `interpreted` and `fused`"
            )),
        }
    }
}

fn source_of(origin: &Origin) -> hike_fused::Source {
    match origin {
        Origin::Standard(rel) => hike_fused::Source::Embedded((*rel).to_owned()),
        Origin::User(path) => hike_fused::Source::File(path.clone()),
    }
}

/// The line of `def NAME(` (eCLAT) or `HIKE_CHAIN(NAME` (C) in `text`, from 1.
fn definition_line(text: &str, name: &str) -> Option<u32> {
    let def = format!("def {name}(");
    let c = format!("HIKE_CHAIN({name}");
    text.lines()
        .position(|l| l.trim_start().starts_with(&def) || l.contains(&c))
        .map(|i| i as u32 + 1)
}

/// What `hike-fused` builds `linked` from. `script_dir` is where the main script and the
/// scripts it imports chains from are (`NAME.eclat`, else `NAME.hike.c`), for `#line`.
pub fn fused_script(
    catalog: &PackageCatalog,
    linked: &LinkedScript,
    tc: bool,
    script_dir: Option<&Path>,
) -> hike_fused::Script {
    let mut texts: BTreeMap<&str, Option<(String, String)>> = BTreeMap::new();
    let chains = linked
        .chains
        .iter()
        .map(|c| {
            let file = texts.entry(&c.script).or_insert_with(|| {
                let dir = script_dir?;
                ["eclat", "hike.c"].iter().find_map(|ext| {
                    let path = dir.join(format!("{}.{ext}", c.script));
                    let text = std::fs::read_to_string(&path).ok()?;
                    Some((path.display().to_string(), text))
                })
            });
            let origin = file.as_ref().and_then(|(path, text)| {
                definition_line(text, &c.name).map(|line| (path.clone(), line))
            });
            hike_fused::Chain {
                id: c.id,
                name: c.name.clone(),
                insns: c.insns.clone(),
                origin,
            }
        })
        .collect();
    let programs = linked
        .programs
        .iter()
        .map(|p| hike_fused::Program {
            id: p.id,
            name: p.name.clone(),
            nparams: p.params,
            source: source_of(&catalog.object(p.object).origin),
        })
        .collect();
    hike_fused::Script {
        chains,
        programs,
        loader: hike_fused::Loader {
            name: linked.loader.name.clone(),
            source: source_of(&catalog.object(linked.loader.object).origin),
        },
        tc,
    }
}

/// The maps a fused program takes from the interpreted objects: the loader's and those of
/// every program of the script, by name (the VM's shared maps are the runtime's own).
pub fn reused_maps(vm: &Vm, loader: &Loader, linked: &LinkedScript) -> BTreeMap<String, MapRef> {
    let mut maps = program_maps(vm, linked);
    for (name, m) in loader.maps() {
        if !name.contains('.') {
            maps.insert(name.clone(), m.clone());
        }
    }
    maps
}

/// The maps of every program of `linked` loaded in `vm`, by name: what a fused program shares
/// with them (its loader's maps are its own, as an interpreted loader's are).
pub fn program_maps(vm: &Vm, linked: &LinkedScript) -> BTreeMap<String, MapRef> {
    let mut maps: BTreeMap<String, MapRef> = BTreeMap::new();
    for p in &linked.programs {
        let id = ProgramId::new(p.id).expect("linked");
        for layout in &p.maps {
            if let Ok(m) = vm.program_map(id, &layout.name) {
                maps.entry(layout.name.clone()).or_insert(m);
            }
        }
    }
    maps
}

/// The fused object of `linked` ([`fused_script`], compiled).
pub fn build(
    catalog: &PackageCatalog,
    linked: &LinkedScript,
    tc: bool,
    script_dir: Option<&Path>,
) -> Result<Vec<u8>> {
    let script = fused_script(catalog, linked, tc, script_dir);
    hike_fused::compile(&script)
        .map(|f| f.object)
        .map_err(|source| LinkError::Fuse {
            source: Box::new(source),
        })
}

/// The name of a fused object's program ([`Vm::load_fused`]).
pub const ENTRY: &str = hike_fused::ENTRY;

/// Builds the fused program of `linked` and loads it into `vm` as loader `name`, with the
/// maps of `loader` (the interpreted loader) and of the programs already loaded.
pub fn load_fused(
    vm: &Vm,
    name: &str,
    loader: &Loader,
    catalog: &PackageCatalog,
    linked: &LinkedScript,
    tc: bool,
    script_dir: Option<&Path>,
) -> Result<Loader> {
    let object = build(catalog, linked, tc, script_dir)?;
    let reuse = reused_maps(vm, loader, linked);
    vm.load_fused(name, &object, hike_fused::ENTRY, &reuse)
        .map_err(|source| LinkError::LoadFused {
            source: Box::new(source),
        })
}
