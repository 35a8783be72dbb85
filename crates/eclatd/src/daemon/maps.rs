//! Maps of a script by `OWNER.MAP`: dump, get and set, keys and values as JSON encoded with
//! the map's BTF layout.

use std::collections::BTreeMap;

use eclat_catalog::{MapLayout, ObjectId, PackageCatalog, ValueLayout};
use eclat_compiler::catalog::FieldKind;
use eclat_link::link::MapOwner;
use hike_runtime::{MapRef, ProgramId, UpdateMode};
use serde_json::Value as Json;

use super::{limits, lock, Daemon, Inner};
use crate::error::{DaemonError, Result};
use crate::state::State;

/// A decoded map entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: Json,
    /// The value.
    pub value: Json,
}

/// A whole map, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Dump {
    /// `OWNER.MAP`.
    pub map: String,
    /// The key's C type.
    pub key_type: String,
    /// The value's C type.
    pub value_type: String,
    /// Whether values are per CPU (summed here).
    pub percpu: bool,
    /// Entries, sorted by key bytes.
    pub entries: Vec<Entry>,
}

fn map_matches(asked: &str, owner: &str, layout: &MapLayout) -> bool {
    match asked.split_once('.') {
        Some((o, m)) => o == owner && layout.is_called(m),
        None => false,
    }
}

fn chain_names(state: &State) -> BTreeMap<u32, String> {
    state
        .scripts
        .iter()
        .flat_map(|s| s.chains.iter().map(|c| (c.id, c.name.clone())))
        .collect()
}

/// A value as stored: per-CPU values summed with the layout's rule.
fn read_summed(
    map: &MapRef,
    layout: &MapLayout,
    key: &[u8],
) -> hike_runtime::Result<Option<Vec<u8>>> {
    if map.is_percpu() {
        Ok(map
            .lookup_percpu(key)?
            .map(|vs| layout.value.sum_percpu(&vs)))
    } else {
        map.lookup(key)
    }
}

/// A value as stored, for undo: one per CPU for a per-CPU map.
pub(super) fn read_raw(map: &MapRef, key: &[u8]) -> hike_runtime::Result<Option<Vec<Vec<u8>>>> {
    if map.is_percpu() {
        map.lookup_percpu(key)
    } else {
        Ok(map.lookup(key)?.map(|v| vec![v]))
    }
}

/// Puts back a value [`read_raw`] gave (`None`: the entry was absent, and is deleted).
pub(super) fn write_raw(
    map: &MapRef,
    key: &[u8],
    value: Option<&[Vec<u8>]>,
) -> hike_runtime::Result<()> {
    match value {
        Some(per_cpu) if map.is_percpu() => {
            map.update_percpu(key, per_cpu, hike_runtime::UpdateMode::Any)
        }
        Some(values) => match values.first() {
            Some(v) => map.update(key, v, hike_runtime::UpdateMode::Any),
            None => Ok(()),
        },
        None => map.delete(key).map(drop),
    }
}

/// An array map's key must be one of its indexes (the kernel's answer otherwise, `E2BIG`,
/// reads "argument list too long").
fn check_array_key(map: &str, map_ref: &MapRef, key: &[u8]) -> Result<()> {
    use hike_runtime::MapType;
    let array = matches!(map_ref.map_type(), MapType::Array | MapType::PercpuArray);
    let Ok(bytes) = <[u8; 4]>::try_from(key) else {
        return Ok(());
    };
    let index = u32::from_ne_bytes(bytes);
    let max = map_ref.max_entries();
    if array && index >= max {
        return Err(DaemonError::BadEntry {
            map: map.to_owned(),
            message: match max {
                1 => format!("key {index} is outside this array map: its only key is 0"),
                _ => format!(
                    "key {index} is outside this array map: its keys are 0 to {}",
                    max - 1
                ),
            },
        });
    }
    Ok(())
}

/// Encodes a key or value given as JSON text (the forms a dump shows) with `layout`, chains
/// named as script `script` names them.
fn encode_json(
    map: &str,
    what: &'static str,
    layout: &ValueLayout,
    text: &str,
    state: &State,
    script: &str,
) -> Result<Vec<u8>> {
    if text.len() > limits::ENTRY_JSON_BYTES {
        return Err(DaemonError::TooBig {
            what: "a map key or value",
            size: text.len(),
            max: limits::ENTRY_JSON_BYTES,
        });
    }
    let chains: BTreeMap<String, u32> = state
        .script(script)
        .map(|s| s.chains.iter().map(|c| (c.name.clone(), c.id)).collect())
        .unwrap_or_default();
    layout
        .encode_json(map, what, text, &|n| chains.get(n).copied())
        .map_err(|e| DaemonError::BadEntry {
            map: map.to_owned(),
            message: e.to_string(),
        })
}

/// Whether `digest` (a program's or loader's record) is the catalog's build of `object`; an
/// empty digest, recorded by a daemon older than digests, is no known build.
pub(super) fn same_build(catalog: &PackageCatalog, object: ObjectId, digest: &str) -> bool {
    !digest.is_empty() && catalog.object(object).digest == digest
}

impl Daemon {
    /// Finds map `map` (`OWNER.MAP`) of script `script`: the map and its layout.
    fn find_map(
        &self,
        inner: &Inner,
        script: &str,
        map: &str,
    ) -> Result<(String, MapRef, MapLayout)> {
        let record = inner
            .state
            .script(script)
            .ok_or_else(|| DaemonError::NoScript {
                name: script.to_owned(),
            })?;
        let catalog = self.catalog();
        // The layouts are those of the catalog's build of an object: they say nothing of a
        // program or loader loaded from another build (its package changed since); see
        // `same_build`.
        let stale = |owner: &str, object: ObjectId| DaemonError::StaleBuild {
            script: script.to_owned(),
            map: map.to_owned(),
            program: owner.to_owned(),
            object: catalog.object(object).name.clone(),
        };
        let mut available = Vec::new();
        let mut found = None;
        for id in &record.programs {
            let Some(p) = inner.state.program(*id) else {
                continue;
            };
            let Some(entry) = catalog.program_entry(&p.package, &p.name) else {
                continue;
            };
            for l in &entry.maps {
                available.push(format!("{}.{}", p.name, l.name));
                if found.is_none() && map_matches(map, &p.name, l) {
                    if !same_build(&catalog, entry.object, &p.digest) {
                        return Err(stale(&p.name, entry.object));
                    }
                    found = Some((MapOwner::Program(*id), p.name.clone(), l.clone()));
                }
            }
        }
        let loader = &record.loader;
        if let Some(entry) = catalog.loader_entry(&loader.package, &loader.name) {
            for l in &entry.maps {
                available.push(format!("{}.{}", loader.name, l.name));
                if found.is_none() && map_matches(map, &loader.name, l) {
                    if !same_build(&catalog, entry.object, &loader.digest) {
                        return Err(stale(&loader.name, entry.object));
                    }
                    found = Some((MapOwner::Loader, loader.name.clone(), l.clone()));
                }
            }
        }
        let Some((owner, owner_name, layout)) = found else {
            return Err(DaemonError::NoMap {
                script: script.to_owned(),
                map: map.to_owned(),
                available: available.join(", "),
            });
        };
        let full = format!("{owner_name}.{}", layout.name);
        let map_ref = match owner {
            MapOwner::Program(id) => inner
                .vm
                .program_map(ProgramId::new(id).expect("recorded"), &layout.name),
            MapOwner::Loader => inner
                .loaders
                .get(&record.loader.pin)
                .ok_or_else(|| hike_runtime::Error::MapNotFound {
                    owner: record.loader.pin.clone(),
                    map: layout.name.clone(),
                    available: Vec::new(),
                })
                .and_then(|l| l.map(&layout.name).cloned()),
        }
        .map_err(|e| DaemonError::kernel(format!("open map `{full}`"), &e))?;
        Ok((full, map_ref, layout))
    }

    /// Every entry of a map, decoded.
    pub fn dump_map(&self, script: &str, map: &str) -> Result<Dump> {
        let inner = lock(&self.inner);
        let (full, map_ref, layout) = self.find_map(&inner, script, map)?;
        let names = chain_names(&inner.state);
        let chain_name = |id: u32| names.get(&id).cloned();
        let mut raw = Vec::new();
        for k in map_ref.keys() {
            let v = read_summed(&map_ref, &layout, &k)
                .map_err(|e| DaemonError::kernel(format!("read map `{full}`"), &e))?;
            if let Some(v) = v {
                raw.push((k, v));
            }
        }
        raw.sort();
        Ok(Dump {
            map: full,
            key_type: layout.key.c_type.name.clone(),
            value_type: layout.value.c_type.name.clone(),
            percpu: layout.percpu,
            entries: raw
                .iter()
                .map(|(k, v)| Entry {
                    key: layout.key.decode(k, &chain_name),
                    value: layout.value.decode(v, &chain_name),
                })
                .collect(),
        })
    }

    /// One entry of a map; `None` if the key is not there.
    pub fn get_entry(&self, script: &str, map: &str, key: &str) -> Result<(String, Option<Entry>)> {
        let inner = lock(&self.inner);
        let (full, map_ref, layout) = self.find_map(&inner, script, map)?;
        let names = chain_names(&inner.state);
        let key_bytes = encode_json(&full, "key", &layout.key, key, &inner.state, script)?;
        check_array_key(&full, &map_ref, &key_bytes)?;
        let v = read_summed(&map_ref, &layout, &key_bytes)
            .map_err(|e| DaemonError::kernel(format!("read map `{full}`"), &e))?;
        let chain_name = |id: u32| names.get(&id).cloned();
        Ok((
            full,
            v.map(|v| Entry {
                key: layout.key.decode(&key_bytes, &chain_name),
                value: layout.value.decode(&v, &chain_name),
            }),
        ))
    }

    /// Writes one entry of a map. For a per-CPU map, numbers go to the first CPU and zero to
    /// the others (dumps sum them, so the entry reads back as written); other fields go to
    /// every CPU.
    pub fn set_entry(
        &self,
        script: &str,
        map: &str,
        key: &str,
        value: &str,
    ) -> Result<(String, Entry)> {
        let inner = lock(&self.inner);
        let (full, map_ref, layout) = self.find_map(&inner, script, map)?;
        let k = encode_json(&full, "key", &layout.key, key, &inner.state, script)?;
        check_array_key(&full, &map_ref, &k)?;
        let v = encode_json(&full, "value", &layout.value, value, &inner.state, script)?;
        let written = if map_ref.is_percpu() {
            // Dumps sum the numbers of every CPU: write them on the first CPU and zero on the
            // others, so that the entry reads back as written. Other fields go everywhere.
            let mut rest = v.clone();
            for f in layout.value.fields.iter().flatten() {
                if matches!(f.kind, FieldKind::Int(_)) {
                    rest[f.offset..f.offset + f.size].fill(0);
                }
            }
            let mut values = vec![rest; inner.vm.num_cpus()];
            values[0] = v.clone();
            map_ref.update_percpu(&k, &values, UpdateMode::Any)
        } else {
            map_ref.update(&k, &v, UpdateMode::Any)
        };
        written.map_err(|e| DaemonError::kernel(format!("write map `{full}`"), &e))?;
        let names = chain_names(&inner.state);
        let chain_name = |id: u32| names.get(&id).cloned();
        Ok((
            full,
            Entry {
                key: layout.key.decode(&k, &chain_name),
                value: layout.value.decode(&v, &chain_name),
            },
        ))
    }
}
