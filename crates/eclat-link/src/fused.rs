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

/// The files of the scripts a fused program's chains come from, by script name (the main
/// script's, and `X` for `from chains.X import ...`): the file name to show and its text. The
/// fused program's `#line`s put each chain at its `def` there, so that a verifier refusal
/// names the script's file and line. A script without an entry gets no `#line`.
pub type ScriptFiles = BTreeMap<String, (String, String)>;

/// The [`ScriptFiles`] of `linked` in `dir`, where the main script and the scripts it imports
/// chains from are (`NAME.eclat`, else `NAME.hike.c`), as `eclat run` finds them.
pub fn script_files_in(dir: &Path, linked: &LinkedScript) -> ScriptFiles {
    let mut files = ScriptFiles::new();
    for c in &linked.chains {
        if files.contains_key(&c.script) {
            continue;
        }
        let found = ["eclat", "hike.c"].iter().find_map(|ext| {
            let path = dir.join(format!("{}.{ext}", c.script));
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path.display().to_string(), text))
        });
        if let Some(file) = found {
            files.insert(c.script.clone(), file);
        }
    }
    files
}

/// What `hike-fused` builds `linked` from; `files` places its chains for `#line`.
pub fn fused_script(
    catalog: &PackageCatalog,
    linked: &LinkedScript,
    tc: bool,
    files: &ScriptFiles,
) -> hike_fused::Script {
    let chains = linked
        .chains
        .iter()
        .map(|c| {
            let origin = files.get(&c.script).and_then(|(path, text)| {
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

/// A fused program, compiled, with where its chains are defined (for a refusal's message).
#[derive(Clone, Debug)]
pub struct Built {
    /// The object ([`ENTRY`] and the maps of every source).
    pub object: Vec<u8>,
    /// Each chain with a known definition: its name, file and line.
    places: Vec<(String, String, u32)>,
}

impl Built {
    /// The kernel's refusal to load [`Built::object`], as the error the user gets: the chain
    /// and the place of its definition where the verifier stopped (when it stopped in a
    /// chain's code), the verifier's summary, where its whole log is, and the advice to load
    /// the script interpreted.
    pub fn refusal(&self, error: hike_runtime::Error) -> LinkError {
        let place = match &error {
            hike_runtime::Error::Load { log, .. } => stopped_in(log, &self.places),
            _ => None,
        };
        LinkError::LoadFused {
            place,
            refusal: Box::new(error),
        }
    }
}

/// The chain (`name`, defined at `file:line`) whose code the verifier's log names last: its
/// line info names each instruction's source as `; TEXT @ FILE:LINE` (the file's base name),
/// and every line of a chain's code is put at its `def`.
fn stopped_in(log: &str, places: &[(String, String, u32)]) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let (_, at) = l.strip_prefix(';')?.rsplit_once(" @ ")?;
        let (file, line) = at.trim().rsplit_once(':')?;
        let line: u32 = line.parse().ok()?;
        places
            .iter()
            .find(|(_, f, n)| *n == line && Path::new(f).file_name() == Some(file.as_ref()))
            .map(|(name, f, n)| format!("chain `{name}` ({f}:{n})"))
    })
}

/// The fused object of `linked` ([`fused_script`], compiled).
pub fn build(
    catalog: &PackageCatalog,
    linked: &LinkedScript,
    tc: bool,
    files: &ScriptFiles,
) -> Result<Built> {
    let script = fused_script(catalog, linked, tc, files);
    let places = script
        .chains
        .iter()
        .filter_map(|c| {
            let (file, line) = c.origin.clone()?;
            Some((c.name.clone(), file, line))
        })
        .collect();
    let fused = hike_fused::compile(&script).map_err(|source| LinkError::Fuse {
        source: Box::new(source),
    })?;
    Ok(Built {
        object: fused.object,
        places,
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
    files: &ScriptFiles,
) -> Result<Loader> {
    let built = build(catalog, linked, tc, files)?;
    let reuse = reused_maps(vm, loader, linked);
    vm.load_fused(name, &built.object, hike_fused::ENTRY, &reuse)
        .map_err(|e| built.refusal(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_chain_the_verifier_stopped_in() {
        let places = vec![
            ("first".to_owned(), "/s/x.eclat".to_owned(), 7),
            ("second".to_owned(), "/s/x.eclat".to_owned(), 12),
        ];
        let log = "0: R1=ctx() R10=fp0\n\
                   ; def first(): @ x.eclat:7\n\
                   10: (b7) r0 = 0\n\
                   ; def second(): @ x.eclat:12\n\
                   11: (bc) w4 = w2\n\
                   ; if (off > 0xffff) @ vm.h:530\n\
                   12: (25) if r3 > 0xffff goto pc+6\n\
                   BPF program is too large. Processed 1000001 insn\n";
        assert_eq!(
            stopped_in(log, &places).as_deref(),
            Some("chain `second` (/s/x.eclat:12)")
        );
        assert_eq!(stopped_in("; x @ vm.h:12\n", &places), None);
        assert_eq!(stopped_in(log, &[]), None);
    }
}
