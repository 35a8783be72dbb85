//! The user packages a fleet script was linked against (built by the operator, shipped as
//! objects through etcd), kept on the node so that they outlive a restart: the records in
//! `STATE_DIR/bundles/PIN.json` (PIN: the script's loader pin, `NAME-gGEN`, so one file per
//! generation), the objects in the node's object cache (`STATE_DIR/objects/HEX.bpf.o`).
//!
//! A bundle is written when its generation is staged, before its intent is saved: a record
//! that a restarted daemon reads always has its bundle. Files no committed script names (a
//! staged generation dropped, a replaced or unloaded one, the remains of a crash) go at each
//! commit, roll-back and start ([`tidy`]). At start, [`restore`] rebuilds each script's
//! catalog from its file and the cache alone (no etcd); what cannot be rebuilt is logged and
//! kept as the error of the commands that need it. It is neither the fleet protocol nor
//! the fetching of objects (`eclat_fleet::objects`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eclat_catalog::PackageCatalog;
use eclat_fleet::model::{package_hashes, Package};
use eclat_fleet::objects::{self, Objects};

use crate::state::State;

/// The user packages a script brings with it (a fleet script's, built by the operator).
#[derive(Debug)]
pub struct Bundle {
    /// The packages, their objects named by SHA-256, as the fleet's spec has them.
    pub packages: Vec<Package>,
    /// Their objects, fetched and checked.
    pub objects: Objects,
    /// The standard packages and these: what the script links against.
    pub catalog: Arc<PackageCatalog>,
}

/// A running script's bundle as the daemon keeps it: the catalog, or why it could not be
/// rebuilt after a restart.
#[derive(Debug)]
pub(super) struct Kept {
    /// The packages (their objects stay in the cache while a script names them).
    pub packages: Vec<Package>,
    /// The catalog its maps' layouts are read in.
    pub catalog: std::result::Result<Arc<PackageCatalog>, String>,
}

/// The node's object cache under `state_dir` (shared with the fleet agent's fetch).
pub fn object_cache(state_dir: &Path) -> PathBuf {
    state_dir.join("objects")
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("bundles")
}

fn path(state_dir: &Path, pin: &str) -> PathBuf {
    dir(state_dir).join(format!("{pin}.json"))
}

/// Keeps `bundle` for the generation whose loader pin is `pin`: its objects in the cache,
/// its records in a file written whole (a reader sees all of it or nothing) and synced.
pub(super) fn save(state_dir: &Path, pin: &str, bundle: &Bundle) -> std::io::Result<()> {
    objects::keep_all(&object_cache(state_dir), &bundle.objects);
    let dir = dir(state_dir);
    std::fs::create_dir_all(&dir)?;
    let text = serde_json::to_vec(&bundle.packages).map_err(std::io::Error::other)?;
    let target = path(state_dir, pin);
    let tmp = target.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &target)
}

/// Removes the bundle files no script of `state` names.
pub(super) fn tidy(state_dir: &Path, state: &State) {
    let keep: BTreeSet<String> = state
        .scripts
        .iter()
        .map(|s| format!("{}.json", s.loader.pin))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !keep.contains(name.to_string_lossy().as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes from the object cache the objects no bundle of `kept` (and `held`, a staged
/// generation's) names.
pub(super) fn prune<'a>(state_dir: &Path, kept: impl Iterator<Item = &'a [Package]>) -> usize {
    let mut used = BTreeSet::new();
    for packages in kept {
        used.extend(package_hashes(packages));
    }
    objects::prune_cache(&object_cache(state_dir), &used)
}

/// The bundles of the scripts of `state`, rebuilt from their files and the object cache.
/// A script without a file has none (it links against the daemon's packages); one whose
/// file or objects are unreadable or damaged is kept with the error, which is logged.
pub(super) fn restore(state_dir: &Path, state: &State) -> BTreeMap<String, Kept> {
    let mut out = BTreeMap::new();
    for script in &state.scripts {
        let file = path(state_dir, &script.loader.pin);
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                let why = format!("cannot read `{}`: {e}", file.display());
                out.insert(script.name.clone(), lost(&script.name, Vec::new(), why));
                continue;
            }
        };
        let packages: Vec<Package> = match serde_json::from_slice(&text) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("`{}` is not a list of packages: {e}", file.display());
                out.insert(script.name.clone(), lost(&script.name, Vec::new(), why));
                continue;
            }
        };
        let built = objects::read_cached(&object_cache(state_dir), &package_hashes(&packages))
            .map_err(|e| e.to_string())
            .and_then(|objects| eclat_fleet::packages::catalog(&packages, &objects));
        let kept = match built {
            Ok(catalog) => Kept {
                packages,
                catalog: Ok(Arc::new(catalog)),
            },
            Err(why) => lost(&script.name, packages, why),
        };
        out.insert(script.name.clone(), kept);
    }
    out
}

fn lost(script: &str, packages: Vec<Package>, why: String) -> Kept {
    tracing::error!(
        script,
        "the user packages of fleet script `{script}` cannot be rebuilt after the restart: {why}; its data plane runs as before, but `eclat map` cannot read its maps until it is rolled out again (`eclat fleet apply`)"
    );
    Kept {
        packages,
        catalog: Err(why),
    }
}
