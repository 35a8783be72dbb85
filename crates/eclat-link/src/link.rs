//! Linking: program and chain IDs for a compiled script, its calls resolved to them, its map
//! configuration encoded. No kernel involved.
//!
//! Program IDs follow the order of first import, one per distinct (object, program): the
//! `net` and `mynet` re-exports of `monitor` and `hike_default.monitor` are one program with
//! one ID and one set of maps. Chain IDs follow the order of definition, the main script's
//! chains first, then those of the scripts it imports chains from. Calls are linked per
//! script (a script's program names are its imports), chains by name across scripts.

use std::collections::BTreeMap;

use eclat_catalog::{MapLayout, ObjectId, PackageCatalog};
use eclat_compiler::output::{CompiledScript, OwnerKind};
use hike_isa::abi::{MAX_CHAINS, MAX_PROGS};
use hike_isa::asm::RelocKind;
use hike_isa::{Insn, Symbols};

use crate::{LinkError, Result};

/// A program of the linked script.
#[derive(Clone, Debug)]
pub struct LinkedProgram {
    /// Its slot in the program table.
    pub id: u32,
    /// Its name (the program's name in its object, and the script's).
    pub name: String,
    /// The package it was (first) imported from.
    pub package: String,
    /// Its object in the catalog.
    pub object: ObjectId,
    /// Its parameter count.
    pub params: usize,
    /// Its parameters' names, in order (the object's `hike_params` tag).
    pub param_names: Vec<String>,
    /// Every map of its object.
    pub maps: Vec<MapLayout>,
}

/// A chain of the linked script.
#[derive(Clone, Debug)]
pub struct LinkedChain {
    /// Its chain ID.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// The script that defines it.
    pub script: String,
    /// Its code, calls linked.
    pub insns: Vec<Insn>,
    /// Its parameter count.
    pub nparams: u8,
    /// Its parameters' names, in order.
    pub param_names: Vec<String>,
    /// Whether it returns a value ([`eclat_compiler::CompiledChain::returns_value`]).
    pub returns_value: bool,
}

/// The loader packets enter through.
#[derive(Clone, Debug)]
pub struct LinkedLoader {
    /// Its name.
    pub name: String,
    /// Its package.
    pub package: String,
    /// Its object in the catalog.
    pub object: ObjectId,
    /// Every map of its object.
    pub maps: Vec<MapLayout>,
}

/// Where a map configuration goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapOwner {
    /// The loader.
    Loader,
    /// The program with this ID.
    Program(u32),
}

/// `OWNER[MAP] = {...}`, encoded.
#[derive(Clone, Debug)]
pub struct MapWrite {
    /// The program or loader, as the script names it.
    pub owner: String,
    /// Where it goes.
    pub target: MapOwner,
    /// The map's real name.
    pub map: String,
    /// `(key, value)` bytes, in source order.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A script ready to load: IDs chosen, calls linked, map configuration encoded.
#[derive(Clone, Debug)]
pub struct LinkedScript {
    /// Programs, by ID.
    pub programs: Vec<LinkedProgram>,
    /// Chains, by ID.
    pub chains: Vec<LinkedChain>,
    /// The loader.
    pub loader: LinkedLoader,
    /// Map configuration of the loader and the programs.
    pub map_writes: Vec<MapWrite>,
    /// Every program and chain by ID, for messages and disassembly.
    pub symbols: Symbols,
    /// The hook of the loader's `attach` in the main script (the first, when several), if it
    /// has one: the hook `eclat run` runs at unless told another.
    pub attach_hook: Option<eclat_catalog::Hook>,
}

impl LinkedScript {
    /// The validation context of its chains: its programs (with their parameter counts), its
    /// chains, and the symbols for messages.
    pub fn validation_context(&self) -> hike_isa::validate::Context {
        let mut ctx = hike_isa::validate::Context::new();
        for p in &self.programs {
            ctx.add_prog(p.id, p.params.min(u8::MAX as usize) as u8);
        }
        for c in &self.chains {
            ctx.add_chain(c.id, c.nparams);
        }
        ctx.set_symbols(self.symbols.clone());
        ctx
    }
}

/// One script of a link: its name (for messages) and compiled form.
#[derive(Clone, Copy, Debug)]
pub struct Unit<'a> {
    /// The script's name (`ddos`, from `ddos.eclat`).
    pub name: &'a str,
    /// Its compilation.
    pub script: &'a CompiledScript,
}

/// Who chooses the program and chain IDs of a link.
///
/// [`link`] numbers from 0 ([`FromZero`]): right for a private VM. A daemon that keeps several
/// scripts in one VM gives each (object, program) its existing slot (if it is the same build of
/// the object) or a free one, and each chain a free ID. Returning `None` means the table is
/// full.
pub trait IdAllocator {
    /// The program-table slot of `program` of object `object` (named `object_name` in the
    /// catalog), asked once per distinct pair.
    fn program(&mut self, object: ObjectId, object_name: &str, program: &str) -> Option<u32>;
    /// The ID of chain `chain`, asked once per chain.
    fn chain(&mut self, chain: &str) -> Option<u32>;
}

/// IDs in order from 0: programs in order of first import, chains in order of definition.
#[derive(Clone, Copy, Debug, Default)]
pub struct FromZero {
    programs: u32,
    chains: u32,
}

impl IdAllocator for FromZero {
    fn program(&mut self, _: ObjectId, _: &str, _: &str) -> Option<u32> {
        let id = self.programs;
        self.programs += 1;
        (id < MAX_PROGS).then_some(id)
    }

    fn chain(&mut self, _: &str) -> Option<u32> {
        let id = self.chains;
        self.chains += 1;
        (id < MAX_CHAINS).then_some(id)
    }
}

/// Links `main` and the scripts it imports chains from (`others`), with IDs from 0. Packets
/// will enter through `loader` (a loader `main` imports), or through the loader of `main`'s
/// first `attach`, or through its only imported loader.
pub fn link(
    catalog: &PackageCatalog,
    main: Unit<'_>,
    others: &[Unit<'_>],
    loader: Option<&str>,
) -> Result<LinkedScript> {
    link_with(catalog, main, others, loader, &mut FromZero::default())
}

/// [`link`] with the IDs chosen by `ids`.
pub fn link_with(
    catalog: &PackageCatalog,
    main: Unit<'_>,
    others: &[Unit<'_>],
    loader: Option<&str>,
    ids: &mut dyn IdAllocator,
) -> Result<LinkedScript> {
    let loader = pick_loader(catalog, main.script, loader)?;
    let attach_hook = main
        .script
        .attachments
        .iter()
        .find(|a| a.loader == loader.name)
        .and_then(|a| eclat_catalog::Hook::from_name(&a.hook));

    // Programs: one ID per distinct (object, program).
    let mut programs: Vec<LinkedProgram> = Vec::new();
    let mut by_object: BTreeMap<(ObjectId, String), u32> = BTreeMap::new();
    // Per script: import name -> program ID.
    let mut script_progs: Vec<BTreeMap<String, u32>> = Vec::new();
    for unit in std::iter::once(&main).chain(others) {
        let mut names = BTreeMap::new();
        for p in &unit.script.programs {
            let entry = catalog.program_entry(&p.package, &p.name).ok_or_else(|| {
                LinkError::NotInCatalog {
                    package: p.package.clone(),
                    name: p.name.clone(),
                }
            })?;
            let key = (entry.object, entry.sig.name.clone());
            let id = match by_object.get(&key) {
                Some(id) => *id,
                None => {
                    let object_name = &catalog.object(entry.object).name;
                    let id = ids
                        .program(entry.object, object_name, &entry.sig.name)
                        .ok_or_else(|| LinkError::TooMany {
                            what: "programs",
                            count: distinct_programs(catalog, &main, others),
                            free: programs.len(),
                            max: MAX_PROGS,
                        })?;
                    by_object.insert(key, id);
                    programs.push(LinkedProgram {
                        id,
                        name: entry.sig.name.clone(),
                        package: p.package.clone(),
                        object: entry.object,
                        params: entry.sig.params.len(),
                        param_names: entry.sig.params.clone(),
                        maps: entry.maps.clone(),
                    });
                    id
                }
            };
            names.insert(p.name.clone(), id);
        }
        script_progs.push(names);
    }

    // Chains: IDs in definition order, names global.
    let mut chain_ids: BTreeMap<String, (u32, String)> = BTreeMap::new();
    for unit in std::iter::once(&main).chain(others) {
        for c in &unit.script.chains {
            if let Some((_, first)) = chain_ids.get(&c.name) {
                return Err(LinkError::DuplicateChain {
                    name: c.name.clone(),
                    first: first.clone(),
                    second: unit.name.to_owned(),
                });
            }
            let id = ids.chain(&c.name).ok_or_else(|| LinkError::TooMany {
                what: "chains",
                count: std::iter::once(&main)
                    .chain(others)
                    .map(|u| u.script.chains.len())
                    .sum(),
                free: chain_ids.len(),
                max: MAX_CHAINS,
            })?;
            chain_ids.insert(c.name.clone(), (id, unit.name.to_owned()));
        }
    }
    let mut chains = Vec::new();
    for (unit, progs) in std::iter::once(&main).chain(others).zip(&script_progs) {
        for c in &unit.script.chains {
            let insns = c
                .assembly
                .link_with(|kind, name| match kind {
                    RelocKind::Prog => progs.get(name).copied(),
                    RelocKind::Chain => chain_ids.get(name).map(|(id, _)| *id),
                })
                .map_err(|source| LinkError::Unresolved {
                    chain: c.name.clone(),
                    source,
                })?;
            chains.push(LinkedChain {
                id: chain_ids[&c.name].0,
                name: c.name.clone(),
                script: unit.name.to_owned(),
                insns,
                nparams: c.params.len() as u8,
                param_names: c.params.iter().map(|(n, _)| n.clone()).collect(),
                returns_value: c.returns_value,
            });
        }
    }
    chains.sort_by_key(|c| c.id);

    let mut symbols = Symbols::new();
    for p in &programs {
        symbols.add_prog(p.id, p.name.clone());
    }
    for c in &chains {
        symbols.add_chain(c.id, c.name.clone());
    }

    // Map configuration of the main script, for the loader that runs and the programs.
    let chain_id = |name: &str| chain_ids.get(name).map(|(id, _)| *id);
    let mut map_writes = Vec::new();
    for m in &main.script.maps {
        let (target, layouts) = match m.owner_kind {
            OwnerKind::Loader if m.owner == loader.name => (MapOwner::Loader, &loader.maps),
            // Another loader of the script: not loaded, so not configured.
            OwnerKind::Loader => continue,
            OwnerKind::Program => {
                let id =
                    script_progs[0]
                        .get(&m.owner)
                        .copied()
                        .ok_or_else(|| LinkError::NoMap {
                            owner: m.owner.clone(),
                            map: m.map.clone(),
                        })?;
                (
                    MapOwner::Program(id),
                    &programs
                        .iter()
                        .find(|p| p.id == id)
                        .expect("every imported program is linked")
                        .maps,
                )
            }
        };
        let layout = layouts
            .iter()
            .find(|l| l.is_called(&m.map))
            .ok_or_else(|| LinkError::NoMap {
                owner: m.owner.clone(),
                map: m.map.clone(),
            })?;
        let encode_err = |source| LinkError::Encode {
            owner: m.owner.clone(),
            map: layout.name.clone(),
            source: Box::new(source),
        };
        let mut entries = Vec::new();
        for e in &m.entries {
            let k = layout
                .key
                .encode(&layout.name, "key", &e.key, &chain_id)
                .map_err(encode_err)?;
            let v = layout
                .value
                .encode(&layout.name, "value", &e.value, &chain_id)
                .map_err(encode_err)?;
            entries.push((k, v));
        }
        map_writes.push(MapWrite {
            owner: m.owner.clone(),
            target,
            map: layout.name.clone(),
            entries,
        });
    }

    Ok(LinkedScript {
        programs,
        chains,
        loader,
        map_writes,
        symbols,
        attach_hook,
    })
}

/// The distinct programs (object, program) the units call, for an error message.
fn distinct_programs(catalog: &PackageCatalog, main: &Unit<'_>, others: &[Unit<'_>]) -> usize {
    std::iter::once(main)
        .chain(others)
        .flat_map(|u| &u.script.programs)
        .filter_map(|p| catalog.program_entry(&p.package, &p.name))
        .map(|e| (e.object, e.sig.name.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn pick_loader(
    catalog: &PackageCatalog,
    script: &CompiledScript,
    wanted: Option<&str>,
) -> Result<LinkedLoader> {
    let imported: Vec<String> = script.loaders.iter().map(|l| l.name.clone()).collect();
    let chosen = match wanted {
        Some(name) => script
            .loaders
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| LinkError::UnknownLoader {
                name: name.to_owned(),
                imported: imported.clone(),
            })?,
        None => match script.attachments.first() {
            Some(a) => script
                .loaders
                .iter()
                .find(|l| l.name == a.loader)
                .ok_or(LinkError::NoLoader)?,
            None => match script.loaders.as_slice() {
                [] => return Err(LinkError::NoLoader),
                [one] => one,
                _ => return Err(LinkError::SeveralLoaders { loaders: imported }),
            },
        },
    };
    let entry = catalog
        .loader_entry(&chosen.package, &chosen.name)
        .ok_or_else(|| LinkError::NotInCatalog {
            package: chosen.package.clone(),
            name: chosen.name.clone(),
        })?;
    Ok(LinkedLoader {
        name: chosen.name.clone(),
        package: chosen.package.clone(),
        object: entry.object,
        maps: entry.maps.clone(),
    })
}
