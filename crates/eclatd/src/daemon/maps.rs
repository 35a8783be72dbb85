//! Maps of a script by `OWNER.MAP`: dump, get, set, delete and clear, keys and values in the
//! command line's forms (JSON as a dump shows it, a script's tuple, fields by name:
//! `eclat_catalog`'s `entry_text`) encoded with the map's BTF layout. A write changes one
//! entry, or (clear) every entry with the old values put back if any step fails.

use std::collections::BTreeMap;

use eclat_catalog::{FieldWrite, MapLayout, ObjectId, PackageCatalog, ValueLayout};
use eclat_link::link::MapOwner;
use hike_runtime::{MapRef, ProgramId, UpdateMode};
use serde_json::Value as Json;

use super::{limits, lock, Daemon, Inner};
use crate::error::{chain, DaemonError, Result};
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

pub(super) fn chain_names(state: &State) -> BTreeMap<u32, String> {
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

/// Encodes a key or value given in the command line's forms with `layout`, chains named as
/// script `script` names them; some fields of a struct value may be left out (`partial`).
fn encode_text(
    map: &str,
    what: &'static str,
    layout: &ValueLayout,
    text: &str,
    partial: bool,
    (state, script): (&State, &str),
) -> Result<FieldWrite> {
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
    let chain_id = |n: &str| chains.get(n).copied();
    let bad = |e: eclat_catalog::EncodeError| DaemonError::BadEntry {
        map: map.to_owned(),
        message: e.to_string(),
    };
    if partial {
        layout
            .encode_text_fields(map, what, text, &chain_id)
            .map_err(bad)
    } else {
        layout
            .encode_text(map, what, text, &chain_id)
            .map(|bytes| FieldWrite {
                given: (0..layout.fields.as_ref().map_or(0, Vec::len)).collect(),
                bytes,
            })
            .map_err(bad)
    }
}

/// Whether the kernel keeps every entry of `map` (an array): its entries cannot be deleted.
fn is_array(map: &MapRef) -> bool {
    use hike_runtime::MapType;
    matches!(map.map_type(), MapType::Array | MapType::PercpuArray)
}

/// Whether `digest` (a program's or loader's record) is the catalog's build of `object`; an
/// empty digest, recorded by a daemon older than digests, is no known build.
pub(super) fn same_build(catalog: &PackageCatalog, object: ObjectId, digest: &str) -> bool {
    // Either build: the XDP and TC builds of one source have the same maps.
    let obj = catalog.object(object);
    !digest.is_empty()
        && (obj.digest == digest || obj.tc.as_ref().is_some_and(|t| t.digest == digest))
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
        // A fleet script's maps are read in the catalog it brought; one that could not be
        // rebuilt at start still has the standard packages' maps in the daemon's.
        let (catalog, lost) = match inner.bundles.get(script).map(|k| &k.catalog) {
            Some(Ok(c)) => (c.clone(), None),
            Some(Err(why)) => (self.catalog(), Some(why)),
            None => (self.catalog(), None),
        };
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
            if let Some(why) = lost {
                return Err(DaemonError::PackagesLost {
                    script: script.to_owned(),
                    why: why.clone(),
                });
            }
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
        let key_bytes = encode_text(
            &full,
            "key",
            &layout.key,
            key,
            false,
            (&inner.state, script),
        )?
        .bytes;
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

    /// Writes one entry of a map. A value that names only some fields of a struct changes
    /// those and keeps the others as the entry holds them (zero for a new entry). For a
    /// per-CPU map, numbers go to the first CPU and zero to the others (dumps sum them, so the
    /// entry reads back as written); other fields go to every CPU.
    pub fn set_entry(
        &self,
        script: &str,
        map: &str,
        key: &str,
        value: &str,
    ) -> Result<(String, Entry)> {
        let inner = lock(&self.inner);
        let (full, map_ref, layout) = self.find_map(&inner, script, map)?;
        let context = (&inner.state, script);
        let k = encode_text(&full, "key", &layout.key, key, false, context)?.bytes;
        check_array_key(&full, &map_ref, &k)?;
        let v = encode_text(&full, "value", &layout.value, value, true, context)?;
        let read_err =
            |e: hike_runtime::Error| DaemonError::kernel(format!("read map `{full}`"), &e);
        let size = layout.value.size();
        let held: Vec<Vec<u8>> = if v.is_whole(&layout.value) {
            Vec::new()
        } else {
            read_raw(&map_ref, &k)
                .map_err(read_err)?
                .unwrap_or_default()
        };
        let base = |cpu: usize| held.get(cpu).cloned().unwrap_or_else(|| vec![0; size]);
        let written = if map_ref.is_percpu() {
            // Dumps sum the numbers of every CPU: write them on the first CPU and zero on the
            // others, so that the entry reads back as written. Other fields go everywhere.
            let values: Vec<Vec<u8>> = (0..inner.vm.num_cpus())
                .map(|cpu| v.over(&layout.value, &base(cpu), cpu > 0))
                .collect();
            map_ref.update_percpu(&k, &values, UpdateMode::Any)
        } else {
            map_ref.update(&k, &v.over(&layout.value, &base(0), false), UpdateMode::Any)
        };
        written.map_err(|e| DaemonError::kernel(format!("write map `{full}`"), &e))?;
        let now = read_summed(&map_ref, &layout, &k)
            .map_err(read_err)?
            .unwrap_or_else(|| v.bytes.clone());
        let names = chain_names(&inner.state);
        let chain_name = |id: u32| names.get(&id).cloned();
        Ok((
            full,
            Entry {
                key: layout.key.decode(&k, &chain_name),
                value: layout.value.decode(&now, &chain_name),
            },
        ))
    }

    /// Deletes one entry of a hash map and returns what it held. An array's entries always
    /// exist: they are refused here (`set_entry` writes 0, `clear_map` zeroes them all).
    pub fn delete_entry(&self, script: &str, map: &str, key: &str) -> Result<(String, Entry)> {
        let inner = lock(&self.inner);
        let (full, map_ref, layout) = self.find_map(&inner, script, map)?;
        let k = encode_text(
            &full,
            "key",
            &layout.key,
            key,
            false,
            (&inner.state, script),
        )?
        .bytes;
        check_array_key(&full, &map_ref, &k)?;
        if is_array(&map_ref) {
            return Err(DaemonError::BadEntry {
                map: full.clone(),
                message: format!(
                    "an array map's entries cannot be deleted; write 0 with `eclat map set \
                     {script} {full} {key} 0`, or zero them all with `eclat map clear {script} \
                     {full}`"
                ),
            });
        }
        let read_err =
            |e: hike_runtime::Error| DaemonError::kernel(format!("read map `{full}`"), &e);
        let held = read_summed(&map_ref, &layout, &k).map_err(read_err)?;
        let deleted = map_ref
            .delete(&k)
            .map_err(|e| DaemonError::kernel(format!("delete from map `{full}`"), &e))?;
        let (Some(held), true) = (held, deleted) else {
            return Err(DaemonError::NoEntry {
                script: script.to_owned(),
                map: full,
                key: key.to_owned(),
            });
        };
        let names = chain_names(&inner.state);
        let chain_name = |id: u32| names.get(&id).cloned();
        Ok((
            full.clone(),
            Entry {
                key: layout.key.decode(&k, &chain_name),
                value: layout.value.decode(&held, &chain_name),
            },
        ))
    }

    /// Empties a map: a hash loses every entry, an array's entries become zero (counters
    /// restart, a classifier holds no chain). All or nothing: if the kernel refuses a step,
    /// the entries already changed get their old values back. Returns how many entries there
    /// were (a hash) or were not zero (an array).
    pub fn clear_map(&self, script: &str, map: &str) -> Result<(String, usize)> {
        let inner = lock(&self.inner);
        let (full, map_ref, _) = self.find_map(&inner, script, map)?;
        let array = is_array(&map_ref);
        let mut held = Vec::new();
        for k in map_ref.keys() {
            let v = read_raw(&map_ref, &k)
                .map_err(|e| DaemonError::kernel(format!("read map `{full}`"), &e))?;
            if let Some(v) = v.filter(|vs| !array || vs.iter().any(|v| v.iter().any(|b| *b != 0))) {
                held.push((k, v));
            }
        }
        let zero = vec![vec![0u8; map_ref.value_size()]; inner.vm.num_cpus()];
        for (i, (k, _)) in held.iter().enumerate() {
            let step = if array {
                write_raw(&map_ref, k, Some(&zero))
            } else {
                map_ref.delete(k).map(drop)
            };
            if let Err(e) = step {
                for (k, v) in &held[..i] {
                    if let Err(undo) = write_raw(&map_ref, k, Some(v)) {
                        eprintln!(
                            "eclatd: warning: while undoing a failed clear of map `{full}`, \
                             cannot restore an entry: {}",
                            chain(&undo)
                        );
                    }
                }
                return Err(DaemonError::kernel(format!("clear map `{full}`"), &e));
            }
        }
        Ok((full, held.len()))
    }
}
