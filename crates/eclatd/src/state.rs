//! The daemon's record of what it loaded: `STATE_DIR/state.json`, rewritten atomically
//! (temporary file, fsync, rename, fsync of the directory) after every change, so that a
//! daemon killed at any moment finds either the old or the new record, never half of one.
//!
//! The kernel objects themselves live in bpffs pins (`hike_runtime` pins the VM instance);
//! this file says which of them belong to which script, with the names and IDs needed to
//! list, inspect and unload them after a restart.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format version this daemon writes and reads.
pub const VERSION: u32 = 1;

/// Everything the daemon manages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`VERSION`].
    pub version: u32,
    /// The VM instance's name (its bpffs directory `hike/<instance>`).
    pub instance: String,
    /// The program table.
    pub programs: Vec<ProgramRecord>,
    /// Loaded scripts, in load order.
    pub scripts: Vec<ScriptRecord>,
}

/// A program in the program table, shared by every script that calls it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRecord {
    /// Its slot.
    pub id: u32,
    /// Its name in its object.
    pub name: String,
    /// The package it was first loaded from.
    pub package: String,
    /// Its object in the catalog.
    pub object: String,
    /// The build of that object it was loaded from (SHA-256 of the ELF, hex:
    /// `eclat_catalog::ObjectEntry::digest`). A load shares the program only if it calls the
    /// same build; after the package's source changed, the new code gets a slot of its own.
    /// Empty in a state file written before the digest was recorded: such a program is shared
    /// with no new load.
    #[serde(default)]
    pub digest: String,
}

/// A loaded script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRecord {
    /// Its name.
    pub name: String,
    /// The file it was loaded from, as the client named it.
    pub file_name: String,
    /// `-D NAME=VALUE`.
    pub defines: Vec<(String, String)>,
    /// 1 when first loaded, +1 at each replace.
    pub generation: u64,
    /// Seconds since the epoch.
    pub loaded_at: u64,
    /// The slots of the programs it calls.
    pub programs: Vec<u32>,
    /// Its chains (and those of the scripts it imports chains from).
    pub chains: Vec<ChainRecord>,
    /// Its loader.
    pub loader: LoaderRecord,
}

/// A chain of a script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainRecord {
    /// Its name.
    pub name: String,
    /// Its chain ID.
    pub id: u32,
    /// Parameters.
    pub params: u8,
    /// Instructions.
    pub insns: u32,
}

/// The loader of a script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderRecord {
    /// Its pin name in the instance (`loaders/<pin>`): `<script>-g<generation>`.
    pub pin: String,
    /// The loader's name.
    pub name: String,
    /// Its package.
    pub package: String,
    /// The build of its object (as [`ProgramRecord::digest`]), which says whether the
    /// catalog's map layouts are its own. Empty in an older state file.
    #[serde(default)]
    pub digest: String,
    /// Where it is attached.
    pub attachments: Vec<AttachmentRecord>,
}

/// An attachment of a loader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    /// The interface name when attached.
    pub device: String,
    /// Its index.
    pub ifindex: u32,
    /// `xdp`.
    pub hook: String,
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("cannot read the state file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// It is not a state file of this version.
    #[error("the state file `{path}` is corrupt ({why}); the previous good state is kept in `{backup}` if it exists: copy it over `{path}` to adopt what it lists, or move `{path}` away and start eclatd with --reset to remove everything pinned in the instance")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The previous version.
        backup: PathBuf,
        /// The parser's message.
        why: String,
    },
}

impl State {
    /// An empty state for `instance`.
    pub fn new(instance: &str) -> State {
        State {
            version: VERSION,
            instance: instance.to_owned(),
            programs: Vec::new(),
            scripts: Vec::new(),
        }
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&ScriptRecord> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The program in slot `id`.
    pub fn program(&self, id: u32) -> Option<&ProgramRecord> {
        self.programs.iter().find(|p| p.id == id)
    }

    /// The scripts that call program `id`.
    pub fn users_of(&self, id: u32) -> Vec<&str> {
        self.scripts
            .iter()
            .filter(|s| s.programs.contains(&id))
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// The state file of `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// The previous version of the state file (kept by [`save`]).
pub fn backup_path(dir: &Path) -> PathBuf {
    dir.join("state.json.prev")
}

/// Reads the state of `dir`; `None` if there is no state file.
pub fn load(dir: &Path) -> Result<Option<State>, StateError> {
    let path = path(dir);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path, source }),
    };
    let corrupt = |why: String| StateError::Corrupt {
        path: path.clone(),
        backup: backup_path(dir),
        why,
    };
    let state: State = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    if state.version != VERSION {
        return Err(corrupt(format!(
            "version {}, this eclatd reads version {VERSION}",
            state.version
        )));
    }
    Ok(Some(state))
}

/// Writes `state` into `dir` atomically, keeping the previous file as [`backup_path`].
pub fn save(dir: &Path, state: &State) -> std::io::Result<()> {
    let final_path = path(dir);
    let tmp = dir.join("state.json.tmp");
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    if final_path.exists() {
        // A hard link keeps the previous good state without a window where neither exists.
        let backup = backup_path(dir);
        let _ = fs::remove_file(&backup);
        fs::hard_link(&final_path, &backup)?;
    }
    fs::rename(&tmp, &final_path)?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new("inst");
        s.programs.push(ProgramRecord {
            id: 0,
            name: "hike_pass".into(),
            package: "net".into(),
            object: "hike_default/hike_pass".into(),
            digest: "ab".repeat(32),
        });
        s.scripts.push(ScriptRecord {
            name: "ddos".into(),
            file_name: "ddos.eclat".into(),
            defines: vec![("DEVNAME".into(), "veth0".into())],
            generation: 2,
            loaded_at: 1,
            programs: vec![0],
            chains: vec![ChainRecord {
                name: "c".into(),
                id: 3,
                params: 0,
                insns: 4,
            }],
            loader: LoaderRecord {
                pin: "ddos-g2".into(),
                name: "ip6_sc".into(),
                package: "basic".into(),
                digest: "cd".repeat(32),
                attachments: vec![AttachmentRecord {
                    device: "veth0".into(),
                    ifindex: 4,
                    hook: "xdp".into(),
                }],
            },
        });
        s
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("eclatd-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn saves_and_loads_back_keeping_the_previous_version() {
        let dir = tempdir("roundtrip");
        assert_eq!(load(&dir).unwrap(), None);
        let mut s = sample();
        save(&dir, &s).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(s.clone()));
        s.scripts.clear();
        save(&dir, &s).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(s));
        let prev: State = serde_json::from_slice(&fs::read(backup_path(&dir)).unwrap()).unwrap();
        assert_eq!(prev, sample());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_program_recorded_before_digests_reads_with_an_empty_one() {
        let dir = tempdir("nodigest");
        fs::write(
            path(&dir),
            br#"{"version": 1, "instance": "x", "scripts": [], "programs": [
                {"id": 4, "name": "hike_pass", "package": "net", "object": "hike_pass"}]}"#,
        )
        .unwrap();
        let s = load(&dir).unwrap().expect("a state");
        assert_eq!(s.programs[0].id, 4);
        assert_eq!(s.programs[0].digest, "");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_the_backup() {
        let dir = tempdir("corrupt");
        fs::write(path(&dir), b"{\"version\": 1, \"instan").unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("is corrupt"), "{e}");
        assert!(e.contains("state.json.prev"), "{e}");
        fs::write(
            path(&dir),
            b"{\"version\": 9, \"instance\": \"x\", \"programs\": [], \"scripts\": []}",
        )
        .unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
