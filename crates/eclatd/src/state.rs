//! The daemon's record of what it loaded: `STATE_DIR/state.json`, rewritten atomically
//! (temporary file, fsync, rename, fsync of the directory) after every change, so that a
//! daemon killed at any moment finds either the old or the new record, never half of one.
//! The files are reached relative to the directory without following links
//! ([`crate::trust::Dir`]).
//!
//! The kernel objects themselves live in bpffs pins (`hike_runtime` pins the VM instance);
//! this file says which of them belong to which script, with the names and IDs needed to
//! list, inspect and unload them after a restart. An operation that changes the kernel is
//! first recorded as [`Pending`] (the intent), and the record of its result replaces the
//! intent in one save (the commit): a restart finds either no intent, or an intent whose
//! steps it undoes (`daemon::adopt`).
//!
//! A state file is validated, not just parsed ([`State::validate`]): IDs in range and owned
//! once, generations that cannot overflow, names that pass the checks requests pass.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use hike_isa::abi::{MAX_CHAINS, MAX_PROGS};
use serde::{Deserialize, Serialize};

use crate::trust::Dir;

/// The largest generation a state file may record: a replace adds one, and this many
/// replaces take longer than any machine runs.
pub const MAX_GENERATION: u64 = 1 << 48;

/// The hooks an attachment may record.
pub const HOOKS: &[&str] = &["xdp", "tc_ingress", "tc_egress"];

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
    /// The load or replace begun and not committed, if any: what a restart undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A load or replace that began changing the kernel and did not commit. Everything it
/// names is new: a restart removes it, moves the interfaces back to the loaders they ran,
/// and puts back the values it overwrote in programs' maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The script being loaded or replaced.
    pub script: String,
    /// The generation being built.
    pub generation: u64,
    /// The new loader's pin name.
    pub loader_pin: String,
    /// The new version's chain IDs (those no committed script owns are removed).
    pub chains: Vec<u32>,
    /// The program slots it fills (those the committed record does not list are removed).
    pub programs: Vec<u32>,
    /// The interfaces it attaches to, each with the committed loader it switches away from
    /// (none: a new attachment).
    pub attachments: Vec<PendingAttachment>,
    /// Entries of loaded programs' maps it writes, with the values they had before.
    pub map_entries: Vec<MapEntryUndo>,
}

/// An interface a pending operation attaches to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAttachment {
    /// The interface.
    pub ifindex: u32,
    /// The pin name of the committed loader running there before, if any.
    pub from: Option<String>,
    /// The hook (`xdp` in a state written before TC hooks).
    #[serde(default = "xdp_hook")]
    pub hook: String,
}

fn xdp_hook() -> String {
    "xdp".into()
}

/// An entry of a loaded program's map that a pending operation writes, and its value before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntryUndo {
    /// The program's slot.
    pub program: u32,
    /// The map's name in its object.
    pub map: String,
    /// The key, hex.
    pub key: String,
    /// The value before, hex (one per CPU for a per-CPU map); none: the entry was absent.
    pub previous: Option<Vec<String>>,
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
    /// Where it runs among the scripts of a hook: lower first ([`DEFAULT_PRIORITY`] unless
    /// `eclat load --priority` said otherwise; equal priorities run in name order).
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// The verdicts that proceed to the next script of the hook: bit `v` for XDP verdict `v`
    /// ([`DEFAULT_PROCEED_ON`], `pass`, unless `eclat load --proceed-on` said otherwise).
    #[serde(default = "default_proceed_on")]
    pub proceed_on: u32,
    /// Its slot in the instance's script table (`hike_scripts`), kept by a replace.
    #[serde(default)]
    pub slot: u32,
    /// At a TC hook where no other script of ours runs: before every other tool's program
    /// (`first`, the default) or after them (`last`).
    #[serde(default, with = "tc_placement_name")]
    pub tc_placement: hike_runtime::TcPlacement,
}

/// A [`hike_runtime::TcPlacement`] recorded by name (`first`, `last`).
mod tc_placement_name {
    use hike_runtime::TcPlacement;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &TcPlacement, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TcPlacement, D::Error> {
        let name = String::deserialize(d)?;
        match TcPlacement::from_name(&name) {
            Some(p @ (TcPlacement::First | TcPlacement::Last)) => Ok(p),
            _ => Err(serde::de::Error::custom(format!(
                "`{name}` is no TC placement (first or last)"
            ))),
        }
    }
}

/// The priority of a script loaded without `--priority`.
pub const DEFAULT_PRIORITY: u32 = 100;

/// The verdicts that proceed by default: `pass` (bit 2, `XDP_PASS`).
pub const DEFAULT_PROCEED_ON: u32 = 1 << hike_isa::abi::xdp::PASS;

/// Every verdict a proceed-on set may hold (aborted, drop, pass, tx, redirect).
pub const PROCEED_ON_ALL: u32 = 0x1f;

fn default_priority() -> u32 {
    DEFAULT_PRIORITY
}

fn default_proceed_on() -> u32 {
    DEFAULT_PROCEED_ON
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
    /// `xdp`, `tc_ingress` or `tc_egress` ([`HOOKS`]).
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
    /// It parses but records something impossible.
    #[error("the state file `{path}` is invalid: {field} {why}; the previous good state is kept in `{backup}` if it exists: copy it over `{path}` to adopt what it lists, or move `{path}` away and start eclatd with --reset to remove everything pinned in the instance")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The previous version.
        backup: PathBuf,
        /// The field, as `scripts[2].chains[0].id`.
        field: String,
        /// What is wrong with it.
        why: String,
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

/// What is wrong with a state, and where: `(field, why)`.
pub type Invalid = (String, String);

fn in_range(field: String, value: u32, max: u32) -> Result<(), Invalid> {
    if value < max {
        Ok(())
    } else {
        Err((field, format!("= {value} is out of range (0..{max})")))
    }
}

fn good_name(field: String, name: &str, max: usize) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= max
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err((
            field,
            format!("= {name:?} is not a name (1 to {max} of `A-Z a-z 0-9 _ - .`)"),
        ))
    }
}

fn good_generation(field: String, generation: u64) -> Result<(), Invalid> {
    if (1..=MAX_GENERATION).contains(&generation) {
        Ok(())
    } else {
        Err((
            field,
            format!("= {generation} is out of range (1..={MAX_GENERATION})"),
        ))
    }
}

fn good_hex(field: String, text: &str) -> Result<(), Invalid> {
    if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err((field, "is not hex".to_owned()))
    }
}

impl State {
    /// An empty state for `instance`.
    pub fn new(instance: &str) -> State {
        State {
            version: VERSION,
            instance: instance.to_owned(),
            programs: Vec::new(),
            scripts: Vec::new(),
            pending: None,
        }
    }

    /// Checks everything the daemon relies on: IDs and slots in range and owned once, the
    /// programs scripts call in the table, generations that cannot overflow and match their
    /// loader's pin, names that requests would pass.
    pub fn validate(&self) -> Result<(), Invalid> {
        if hike_runtime::pin::check_instance_name(&self.instance).is_err() {
            return Err((
                "instance".into(),
                format!("= {:?} is not an instance name", self.instance),
            ));
        }
        let mut slots = BTreeSet::new();
        for (i, p) in self.programs.iter().enumerate() {
            let f = |x: &str| format!("programs[{i}].{x}");
            in_range(f("id"), p.id, MAX_PROGS)?;
            if !slots.insert(p.id) {
                return Err((f("id"), format!("= {} is recorded twice", p.id)));
            }
            good_name(f("name"), &p.name, 255)?;
            good_name(f("package"), &p.package, 255)?;
            if p.object.is_empty() || p.object.len() > 4096 {
                return Err((f("object"), "is not an object name".into()));
            }
            good_hex(f("digest"), &p.digest)?;
        }
        let mut names = BTreeSet::new();
        let mut chains = BTreeSet::new();
        let mut script_slots = BTreeSet::new();
        for (i, s) in self.scripts.iter().enumerate() {
            let f = |x: &str| format!("scripts[{i}].{x}");
            in_range(f("slot"), s.slot, hike_isa::abi::DISPATCH_SLOTS)?;
            if !script_slots.insert(s.slot) {
                return Err((f("slot"), format!("= {} is recorded twice", s.slot)));
            }
            if s.proceed_on & !PROCEED_ON_ALL != 0 {
                return Err((
                    f("proceed_on"),
                    format!("= {:#x} holds bits that are no XDP verdict", s.proceed_on),
                ));
            }
            if crate::daemon::check_script_name(&s.name).is_err() {
                return Err((f("name"), format!("= {:?} is not a script name", s.name)));
            }
            if !names.insert(s.name.as_str()) {
                return Err((f("name"), format!("= {:?} is recorded twice", s.name)));
            }
            if s.file_name.is_empty() || s.file_name.len() > crate::daemon::limits::FILE_NAME_BYTES
            {
                return Err((f("file_name"), "is not a file name".into()));
            }
            if s.defines.len() > crate::daemon::limits::DEFINES {
                return Err((f("defines"), "has too many entries".into()));
            }
            good_generation(f("generation"), s.generation)?;
            for (j, id) in s.programs.iter().enumerate() {
                in_range(f(&format!("programs[{j}]")), *id, MAX_PROGS)?;
                if !slots.contains(id) {
                    return Err((
                        f(&format!("programs[{j}]")),
                        format!("= {id} is no program of the table"),
                    ));
                }
            }
            for (j, c) in s.chains.iter().enumerate() {
                let field = f(&format!("chains[{j}].id"));
                in_range(field.clone(), c.id, MAX_CHAINS)?;
                if !chains.insert(c.id) {
                    return Err((field, format!("= {} is owned twice", c.id)));
                }
            }
            let pin = format!("{}-g{}", s.name, s.generation);
            if s.loader.pin != pin {
                return Err((
                    f("loader.pin"),
                    format!(
                        "= {:?}, where the script's generation makes it {pin:?}",
                        s.loader.pin
                    ),
                ));
            }
            good_name(f("loader.name"), &s.loader.name, 255)?;
            good_name(f("loader.package"), &s.loader.package, 255)?;
            good_hex(f("loader.digest"), &s.loader.digest)?;
            for (j, a) in s.loader.attachments.iter().enumerate() {
                let g = |x: &str| f(&format!("loader.attachments[{j}].{x}"));
                if a.ifindex == 0 || a.ifindex > i32::MAX as u32 {
                    return Err((
                        g("ifindex"),
                        format!("= {} is no interface index", a.ifindex),
                    ));
                }
                if !HOOKS.contains(&a.hook.as_str()) {
                    return Err((g("hook"), format!("= {:?} is no hook", a.hook)));
                }
                if a.device.is_empty() || a.device.len() > 15 || a.device.contains('/') {
                    return Err((
                        g("device"),
                        format!("= {:?} is no interface name", a.device),
                    ));
                }
            }
        }
        if let Some(p) = &self.pending {
            let f = |x: &str| format!("pending.{x}");
            if crate::daemon::check_script_name(&p.script).is_err() {
                return Err((
                    f("script"),
                    format!("= {:?} is not a script name", p.script),
                ));
            }
            good_generation(f("generation"), p.generation)?;
            let pin = format!("{}-g{}", p.script, p.generation);
            if p.loader_pin != pin {
                return Err((
                    f("loader_pin"),
                    format!("= {:?} is not {pin:?}", p.loader_pin),
                ));
            }
            if self.scripts.iter().any(|s| s.loader.pin == p.loader_pin) {
                return Err((f("loader_pin"), "is a committed script's loader".into()));
            }
            for (j, id) in p.chains.iter().enumerate() {
                in_range(f(&format!("chains[{j}]")), *id, MAX_CHAINS)?;
            }
            for (j, id) in p.programs.iter().enumerate() {
                in_range(f(&format!("programs[{j}]")), *id, MAX_PROGS)?;
            }
            for (j, a) in p.attachments.iter().enumerate() {
                if a.ifindex == 0 || a.ifindex > i32::MAX as u32 {
                    return Err((
                        f(&format!("attachments[{j}].ifindex")),
                        format!("= {} is no interface index", a.ifindex),
                    ));
                }
                if let Some(from) = &a.from {
                    if !self.scripts.iter().any(|s| &s.loader.pin == from) {
                        return Err((
                            f(&format!("attachments[{j}].from")),
                            format!("= {from:?} is no committed script's loader"),
                        ));
                    }
                }
            }
            for (j, m) in p.map_entries.iter().enumerate() {
                let g = |x: &str| f(&format!("map_entries[{j}].{x}"));
                in_range(g("program"), m.program, MAX_PROGS)?;
                good_name(g("map"), &m.map, 255)?;
                good_hex(g("key"), &m.key)?;
                for v in m.previous.iter().flatten() {
                    good_hex(g("previous"), v)?;
                }
            }
        }
        Ok(())
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

/// Reads and validates the state of `dir`; `None` if there is no state file. The file is
/// not read through a symbolic link.
pub fn load(dir: &Path) -> Result<Option<State>, StateError> {
    let path = path(dir);
    let read = |source| StateError::Read {
        path: path.clone(),
        source,
    };
    let text = match Dir::open(dir) {
        Ok(d) => d.read_file("state.json").map_err(read)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(read(e)),
    };
    let Some(text) = text else {
        return Ok(None);
    };
    parse(&text).map(Some).map_err(|e| match e {
        Parsed::Corrupt(why) => StateError::Corrupt {
            path: path.clone(),
            backup: backup_path(dir),
            why,
        },
        Parsed::Invalid((field, why)) => StateError::Invalid {
            path: path.clone(),
            backup: backup_path(dir),
            field,
            why,
        },
    })
}

/// Why bytes are not a state.
#[derive(Debug)]
pub enum Parsed {
    /// Not a state file of this version.
    Corrupt(String),
    /// A state file that records something impossible.
    Invalid(Invalid),
}

/// Parses and validates a state file's bytes. Never panics, whatever the bytes.
pub fn parse(text: &[u8]) -> Result<State, Parsed> {
    let state: State = serde_json::from_slice(text).map_err(|e| Parsed::Corrupt(e.to_string()))?;
    if state.version != VERSION {
        return Err(Parsed::Corrupt(format!(
            "version {}, this eclatd reads version {VERSION}",
            state.version
        )));
    }
    state.validate().map_err(Parsed::Invalid)?;
    Ok(state)
}

/// Writes `state` into `dir` atomically, keeping the previous file as [`backup_path`]. An
/// error means the previous record is still the current one (nothing was renamed). No
/// name in `dir` is followed if it is a link. `stage` names the save of an operation for the
/// crash points (`intent`, `commit`): `STAGE.written` comes after the new file is on disk
/// and before it replaces the old one.
pub fn save(dir: &Path, state: &State, stage: Option<&str>) -> std::io::Result<()> {
    let d = Dir::open(dir)?;
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    {
        let mut f = d.create_new("state.json.tmp")?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    if let Some(stage) = stage {
        crate::crash::point(&format!("{stage}.written"));
    }
    if d.exists("state.json")? {
        // A hard link keeps the previous good state without a window where neither exists.
        d.remove("state.json.prev")?;
        d.link("state.json", "state.json.prev")?;
    }
    d.rename("state.json.tmp", "state.json")?;
    // Once renamed, the new record is the one a restarted daemon reads, so the save has
    // happened: a caller that undid its change now would leave a record naming objects it
    // removed. The directory's fsync only makes the rename survive a machine crash, which
    // the kernel objects (bpffs pins live in memory) do not survive either; its failure is
    // reported, not returned.
    if let Err(e) = d.sync() {
        eprintln!(
            "eclatd: warning: {}: the state was saved but the directory's fsync failed: {e}",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
            priority: DEFAULT_PRIORITY,
            tc_placement: Default::default(),
            proceed_on: DEFAULT_PROCEED_ON,
            slot: 0,
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
        save(&dir, &s, None).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(s.clone()));
        s.scripts.clear();
        s.programs.clear();
        save(&dir, &s, None).unwrap();
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

    /// `sample()` as JSON with `edit` applied to it.
    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = serde_json::to_value(sample()).unwrap();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    fn invalid(edit: impl FnOnce(&mut serde_json::Value)) -> (String, String) {
        match parse(&edited(edit)) {
            Err(Parsed::Invalid(e)) => e,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_script_recorded_before_priorities_gets_the_defaults_and_bad_placements_are_refused() {
        let old = edited(|v| {
            let s = v["scripts"][0].as_object_mut().unwrap();
            s.remove("priority");
            s.remove("proceed_on");
            s.remove("slot");
        });
        let Ok(state) = parse(&old) else {
            panic!("an older state parses")
        };
        let s = &state.scripts[0];
        assert_eq!((s.priority, s.proceed_on, s.slot), (100, 1 << 2, 0));
        let (field, why) = invalid(|v| v["scripts"][0]["slot"] = 256.into());
        assert_eq!(
            (field.as_str(), why.as_str()),
            ("scripts[0].slot", "= 256 is out of range (0..256)")
        );
        let (field, why) = invalid(|v| v["scripts"][0]["proceed_on"] = 0x20.into());
        assert_eq!(field, "scripts[0].proceed_on");
        assert!(why.contains("no XDP verdict"), "{why}");
    }

    #[test]
    fn a_state_that_parses_but_lies_is_refused_with_the_field() {
        assert!(parse(&edited(|_| {})).is_ok());
        let (field, why) = invalid(|v| v["scripts"][0]["chains"][0]["id"] = 4294967295u64.into());
        assert_eq!(field, "scripts[0].chains[0].id");
        assert_eq!(why, "= 4294967295 is out of range (0..1024)");
        let (field, _) = invalid(|v| {
            v["programs"][0]["id"] = 4_000_000_000u64.into();
            v["scripts"][0]["programs"][0] = 4_000_000_000u64.into();
        });
        assert_eq!(field, "programs[0].id");
        let (field, why) = invalid(|v| v["scripts"][0]["generation"] = u64::MAX.into());
        assert_eq!(field, "scripts[0].generation");
        assert!(why.contains("out of range"), "{why}");
        // Two scripts owning one chain.
        let (field, why) = invalid(|v| {
            let mut other = v["scripts"][0].clone();
            other["name"] = "other".into();
            other["loader"]["pin"] = "other-g2".into();
            other["slot"] = 1.into();
            v["scripts"].as_array_mut().unwrap().push(other);
        });
        assert_eq!(field, "scripts[1].chains[0].id");
        assert_eq!(why, "= 3 is owned twice");
        let (field, _) = invalid(|v| v["scripts"][0]["name"] = "../../etc".into());
        assert_eq!(field, "scripts[0].name");
        let (field, _) = invalid(|v| v["scripts"][0]["programs"][0] = 7.into());
        assert_eq!(field, "scripts[0].programs[0]");
        let (field, _) = invalid(|v| v["scripts"][0]["loader"]["pin"] = "x-g1".into());
        assert_eq!(field, "scripts[0].loader.pin");
        let (field, _) =
            invalid(|v| v["scripts"][0]["loader"]["attachments"][0]["ifindex"] = 0.into());
        assert_eq!(field, "scripts[0].loader.attachments[0].ifindex");
    }

    #[test]
    fn an_invalid_file_stops_with_the_field_and_the_recovery() {
        let dir = tempdir("invalid");
        fs::write(
            path(&dir),
            edited(|v| v["scripts"][0]["chains"][0]["id"] = 5000.into()),
        )
        .unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("is invalid: scripts[0].chains[0].id = 5000 is out of range"),
            "{e}"
        );
        assert!(
            e.contains("state.json.prev") && e.contains("--reset"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A small deterministic generator (xorshift), so that failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Interesting values for a JSON leaf.
    fn mutant(rng: &mut Rng) -> serde_json::Value {
        match rng.below(10) {
            0 => u64::MAX.into(),
            1 => (u32::MAX as u64).into(),
            2 => (-1i64).into(),
            3 => 0.into(),
            4 => "".into(),
            5 => "../x".into(),
            6 => serde_json::Value::Null,
            7 => 1e300.into(),
            8 => serde_json::json!([]),
            _ => (rng.next() % 2048).into(),
        }
    }

    /// Replaces one random node of `v` by a mutant.
    fn mutate(v: &mut serde_json::Value, rng: &mut Rng) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() && rng.below(4) != 0 => {
                let k = m.keys().nth(rng.below(m.len())).unwrap().clone();
                mutate(m.get_mut(&k).unwrap(), rng);
            }
            serde_json::Value::Array(a) if !a.is_empty() && rng.below(4) != 0 => {
                let i = rng.below(a.len());
                mutate(&mut a[i], rng);
            }
            _ => *v = mutant(rng),
        }
    }

    #[test]
    fn no_state_input_panics_and_every_accepted_one_is_valid() {
        // Structured mutations of a good state (each leaf, and whole subtrees), then raw byte
        // mutations; `parse` must return, and anything it accepts must satisfy `validate`
        // (which the daemon's unwraps of IDs rely on).
        let mut with_pending = sample();
        with_pending.pending = Some(Pending {
            script: "ddos".into(),
            generation: 3,
            loader_pin: "ddos-g3".into(),
            chains: vec![5],
            programs: vec![1],
            attachments: vec![PendingAttachment {
                ifindex: 4,
                from: Some("ddos-g2".into()),
                hook: "xdp".into(),
            }],
            map_entries: vec![MapEntryUndo {
                program: 0,
                map: "cfg".into(),
                key: "00000000".into(),
                previous: Some(vec!["0100".into()]),
            }],
        });
        let base = serde_json::to_value(&with_pending).unwrap();
        assert!(parse(&serde_json::to_vec(&base).unwrap()).is_ok());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut v = base.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut v, &mut rng);
            }
            if let Ok(s) = parse(&serde_json::to_vec(&v).unwrap()) {
                s.validate().expect("accepted means valid");
                accepted += 1;
            }
        }
        assert!(accepted > 0, "some mutations keep a valid state");
        let bytes = serde_json::to_vec(&base).unwrap();
        for _ in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..=rng.below(4) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            let _ = parse(&b);
        }
        for len in 0..bytes.len() {
            let _ = parse(&bytes[..len]);
        }
    }
}
