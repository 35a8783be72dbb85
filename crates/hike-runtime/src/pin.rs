//! The bpffs directory of the project: mounting, names and paths.
//!
//! A pinned instance lives in `<bpffs>/hike/<instance>/`:
//!
//! ```text
//! hike_chains hike_code hike_progs …   the shared VM maps
//! shared/<map>                         maps shared by name (LIBBPF_PIN_BY_NAME)
//! progs/<id>/prog_<program>            a program of the program table
//! progs/<id>/maps/<map>                its object's own maps
//! loaders/<name>/prog_<program>        a loader
//! loaders/<name>/maps/<map>            its object's own maps
//! loaders/<name>/links/<ifindex>       its XDP attachments (BPF links)
//! ```
//!
//! The program's name is part of its pin name because the kernel keeps only 15 characters
//! of it. bpffs refuses `.` in names (reserved for the kernel), so a map name's dots (as in
//! `obj.rodata`) are pinned as `:`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where the BPF filesystem is normally mounted.
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";

/// The directory under the bpffs that holds every instance.
pub const HIKE_DIR: &str = "hike";

/// The prefix of a program's pin name.
pub(crate) const PROG_PREFIX: &str = "prog_";

/// The bpffs name of a map or program name: `.` becomes `:`.
pub(crate) fn pin_name(name: &str) -> String {
    name.replace('.', ":")
}

/// The map or program name of a bpffs name made by [`pin_name`].
pub(crate) fn unpin_name(name: &str) -> String {
    name.replace(':', ".")
}

/// Checks that `name` can be a directory name of its own: 1 to 64 of `A-Za-z0-9_-`, not
/// starting with `-`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Checks that `name` can name a pinned instance (see [`crate::Vm::create_pinned`]).
pub fn check_instance_name(name: &str) -> Result<()> {
    check_name(name)
}

/// Makes sure `root` is a BPF filesystem whose pins outlive the process, mounting one there
/// only in the host's mount namespace (see [`crate::bpffs`]).
pub(crate) fn ensure_bpffs(root: &Path) -> Result<()> {
    crate::bpffs::prepare(root, crate::bpffs::Enter::Never).map(drop)
}

/// Whether the pinned instance `instance` exists (its directory holds pins; an empty one is
/// only a lock: see [`crate::bpffs::lock_instance`]).
pub fn instance_exists(bpffs: &Path, instance: &str) -> bool {
    let dir = bpffs.join(HIKE_DIR).join(instance);
    list_dir(&dir).is_ok_and(|entries| !entries.is_empty())
}

/// Creates a directory (and its parents) with owner-only permissions.
pub(crate) fn create_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| Error::Pin {
            op: "create directory",
            path: path.to_owned(),
            source,
        })
}

/// Removes a directory tree of pins; a missing directory is not an error.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Pin {
            op: "remove",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes a directory if it is empty (used for the shared `hike` directory).
pub(crate) fn remove_dir_if_empty(path: &Path) {
    // A non-empty or missing directory is the normal case here: other instances may live in
    // it, or it was never created. Nothing to report.
    let _ = fs::remove_dir(path);
}

/// The entries of a directory of pins; a missing directory has none.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Pin {
                op: "list",
                path: path.to_owned(),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| Error::Pin {
            op: "list",
            path: path.to_owned(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The pin of the program in `dir` (`prog_<name>`), with the program's name.
pub(crate) fn find_program_pin(dir: &Path) -> Result<Option<(PathBuf, String)>> {
    Ok(list_dir(dir)?.into_iter().find_map(|n| {
        n.strip_prefix(PROG_PREFIX)
            .map(|p| (dir.join(&n), unpin_name(p)))
    }))
}

/// The chains published in the pinned instance `instance` (their IDs), read from its chain
/// table without adopting the instance: for checks from another process while a daemon owns
/// it (adopting would repair what the check is looking for).
pub fn published_chains(bpffs: &Path, instance: &str) -> Result<Vec<u32>> {
    use libbpf_rs::{MapCore, MapFlags, MapHandle};
    check_name(instance)?;
    let path = bpffs.join(HIKE_DIR).join(instance).join("hike_chains");
    let pin_err = |e: libbpf_rs::Error| Error::Pin {
        op: "open pin",
        path: path.clone(),
        source: io::Error::other(e),
    };
    let map = MapHandle::from_pinned_path(&path).map_err(pin_err)?;
    let mut ids = Vec::new();
    for id in 0..hike_isa::abi::MAX_CHAINS {
        let value = map
            .lookup(&id.to_ne_bytes(), MapFlags::ANY)
            .map_err(pin_err)?
            .unwrap_or_default();
        let word: [u8; 8] = value
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 8]);
        if hike_isa::abi::ChainDesc::from_word(u64::from_ne_bytes(word)).len > 0 {
            ids.push(id);
        }
    }
    Ok(ids)
}
