//! What a load's map configuration (`OWNER[MAP] = {...}`) does to maps that held something
//! before it: the report `eclat load` shows, so that a replace that puts a script's entries
//! back over values set since (`eclat map set`, or the programs themselves) says so.
//!
//! Two cases, as the load applies the configuration:
//! - a program that was already loaded (kept by a replace, or shared with another script) keeps
//!   its maps: the configured entries are written over what they held, every other entry is
//!   left as it is;
//! - a loader is loaded anew by every load (a replace too), with new maps: the old version's
//!   entries, configured or set since, are not carried over; the new maps hold exactly the
//!   script's configuration (zero elsewhere in an array).
//!
//! Only reads: the load writes afterwards. Nothing here changes a map.

use std::collections::BTreeMap;

use eclat_catalog::MapLayout;
use eclat_link::link::{LinkedScript, MapOwner};
use hike_runtime::{MapRef, MapType, ProgramId};
use serde_json::Value as Json;

use super::maps::{chain_names, read_raw};
use super::Inner;
use crate::error::{DaemonError, Result};
use crate::state::ScriptRecord;

/// One map a load configured, or whose entries it reset.
#[derive(Clone, Debug, PartialEq)]
pub struct MapReset {
    /// `OWNER.MAP`, as the script names the owner.
    pub map: String,
    /// Entries of the script's configuration written.
    pub written: usize,
    /// Keys whose value changed: a configured entry that held another value, or (a loader's
    /// map on a replace) an entry of the old version that the new one does not have.
    pub reset: Vec<Json>,
}

/// The maps `linked` configures, and what it resets in them (see the module docs); `old` is
/// the version a replace replaces.
pub(super) fn map_resets(
    inner: &Inner,
    linked: &LinkedScript,
    old: Option<&ScriptRecord>,
) -> Result<Vec<MapReset>> {
    let names = chain_names(&inner.state);
    let chain_name = |id: u32| names.get(&id).cloned();
    let mut out = Vec::new();
    for w in &linked.map_writes {
        let MapOwner::Program(id) = w.target else {
            continue; // below, with the loader's other maps
        };
        let mut reset = Vec::new();
        let layout = linked
            .programs
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.maps.iter().find(|m| m.name == w.map));
        if let (Some(_), Some(layout)) = (inner.state.program(id), layout) {
            let what = format!("read map `{}.{}`", w.owner, w.map);
            let map = inner
                .vm
                .program_map(ProgramId::new(id).expect("linked"), &w.map)
                .map_err(|e| DaemonError::kernel(what.clone(), &e))?;
            for (k, v) in &w.entries {
                let held = read_raw(&map, k).map_err(|e| DaemonError::kernel(what.clone(), &e))?;
                if held.is_some_and(|vs| vs.iter().any(|h| h != v)) {
                    reset.push(layout.key.decode(k, &chain_name));
                }
            }
        }
        out.push(MapReset {
            map: format!("{}.{}", w.owner, w.map),
            written: w.entries.len(),
            reset,
        });
    }
    // The new chains' IDs are not in the state yet: a classifier entry that names the same
    // chain in both versions holds two IDs, and is no reset.
    let new_names: BTreeMap<u32, String> = linked
        .chains
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    let new_name = |id: u32| new_names.get(&id).cloned();
    let old_loader = old
        .filter(|o| {
            o.loader.name == linked.loader.name && o.loader.package == linked.loader.package
        })
        .and_then(|o| inner.loaders.get(&o.loader.pin));
    for layout in &linked.loader.maps {
        let configured: BTreeMap<&[u8], &[u8]> = linked
            .map_writes
            .iter()
            .filter(|w| w.target == MapOwner::Loader && w.map == layout.name)
            .flat_map(|w| w.entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
            .collect();
        let reset = match old_loader.map(|l| l.map(&layout.name)) {
            Some(Ok(map)) => lost_entries(map, layout, &configured, &chain_name, &new_name)?,
            _ => Vec::new(),
        };
        if configured.is_empty() && reset.is_empty() {
            continue;
        }
        out.push(MapReset {
            map: format!("{}.{}", linked.loader.name, layout.name),
            written: configured.len(),
            reset,
        });
    }
    Ok(out)
}

/// The keys of the old loader's `map` whose value the new loader's copy will not have: it
/// holds `configured`, and zero (an array) or nothing (a hash) elsewhere. Values are compared
/// decoded, chains by name (`old_name` and `new_name` name the two versions' chain IDs).
fn lost_entries(
    map: &MapRef,
    layout: &MapLayout,
    configured: &BTreeMap<&[u8], &[u8]>,
    old_name: &dyn Fn(u32) -> Option<String>,
    new_name: &dyn Fn(u32) -> Option<String>,
) -> Result<Vec<Json>> {
    let array = matches!(map.map_type(), MapType::Array | MapType::PercpuArray);
    let mut lost = Vec::new();
    for k in map.keys() {
        let held = read_raw(map, &k)
            .map_err(|e| DaemonError::kernel(format!("read map `{}`", layout.name), &e))?;
        let Some(held) = held else { continue };
        let differs = match configured.get(k.as_slice()) {
            Some(v) => held
                .iter()
                .any(|h| layout.value.decode(h, old_name) != layout.value.decode(v, new_name)),
            None if array => held.iter().any(|h| h.iter().any(|b| *b != 0)),
            None => true,
        };
        if differs {
            lost.push(layout.key.decode(&k, old_name));
        }
    }
    Ok(lost)
}
