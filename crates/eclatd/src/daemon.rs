//! The daemon's core, without gRPC: one pinned VM instance, the scripts loaded into it, and
//! the operations on them (check, load or replace, unload, list, maps, stats).
//!
//! **One VM, many scripts.** Every script shares the instance's program table and chain
//! table. A program (an object's program) has one slot, shared by every script that calls
//! it and removed with the last of them; its maps are shared too. Chains and the loader
//! belong to one script.
//!
//! **All or nothing.** A load records each kernel step in an undo log ([`Txn`]); on any
//! failure the log is played backwards and the system is as before. A replace builds the new
//! version beside the old one (new chain IDs, a new loader), moves each XDP attachment to
//! the new loader with one atomic BPF link update, waits for packets still in the old
//! loader (an RCU grace period), then removes what only the old version used. No packet is
//! lost, and each packet runs entirely the old or entirely the new version.
//!
//! **Restarts.** The state file is saved after each change, before old objects are removed;
//! on start the daemon adopts the pinned instance and removes whatever the record does not
//! list (the remains of an operation interrupted by a crash).
//!
//! Operations are serialised by one mutex; each holds it for milliseconds (a replace also
//! waits one RCU grace period).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eclat_catalog::{MapLayout, ObjectId, PackageCatalog, ValueLayout};
use eclat_compiler::catalog::FieldKind;
use eclat_compiler::output::MapValue;
use eclat_compiler::Define;
use eclat_link::link::{LinkedScript, MapOwner};
use eclat_link::{link_with, IdAllocator, Unit};
use hike_isa::abi::{Fault, VmConfig, CFG_STATS, MAX_CHAINS, MAX_PROGS};
use hike_isa::validate::{Chain as ValidatedChain, Context};
use hike_runtime::{ChainId, Loader, MapRef, ProgramId, UpdateMode, Vm, VmOptions, XdpMode};
use serde_json::Value as Json;

use crate::error::{chain, DaemonError, Result};
use crate::state::{
    self, AttachmentRecord, ChainRecord, LoaderRecord, ProgramRecord, ScriptRecord, State,
};

/// Limits on what a client may send.
pub mod limits {
    /// Bytes of one script or sibling file.
    pub const FILE_BYTES: usize = 1 << 20;
    /// Sibling files of one request.
    pub const SIBLINGS: usize = 64;
    /// `-D` definitions of one request.
    pub const DEFINES: usize = 256;
    /// Bytes of a map key or value given as JSON.
    pub const ENTRY_JSON_BYTES: usize = 64 << 10;
}

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the state file and working copies of scripts live.
    pub state_dir: PathBuf,
    /// The VM instance (`<bpffs>/hike/<instance>`).
    pub instance: String,
    /// Where the BPF filesystem is (mounted there if it is not).
    pub bpffs: PathBuf,
    /// Directories of user packages, besides the standard ones.
    pub package_dirs: Vec<PathBuf>,
    /// How long replaced chain code stays untouched before reuse.
    pub grace: Duration,
    /// Start even without a state file when the instance has pinned loaders or programs,
    /// removing them (without it, the daemon refuses: they may be carrying traffic).
    pub reset: bool,
}

/// A script as a client sends it.
#[derive(Clone, Debug, Default)]
pub struct ScriptSource {
    /// The file name as the user gave it (diagnostics name it).
    pub file_name: String,
    /// Its text.
    pub text: String,
    /// Files beside it that it imports chains from, by plain file name.
    pub siblings: Vec<(String, String)>,
    /// `-D NAME=VALUE`.
    pub defines: Vec<(String, String)>,
}

/// What a load did.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The script as recorded now.
    pub script: ScriptRecord,
    /// Whether it replaced a script of the same name.
    pub replaced: bool,
    /// Compiler warnings, rendered.
    pub warnings: String,
}

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

/// Counters of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCounters {
    /// The chain.
    pub name: String,
    /// Its ID.
    pub id: u32,
    /// Entries.
    pub runs: u64,
    /// Faults by reason (only non-zero).
    pub faults: Vec<(String, u64)>,
}

/// Counters of one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramCounters {
    /// The program.
    pub name: String,
    /// Its slot.
    pub id: u32,
    /// Calls from chains (of every script calling it).
    pub calls: u64,
}

/// Counters of one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptCounters {
    /// The script.
    pub name: String,
    /// Its chains.
    pub chains: Vec<ChainCounters>,
    /// The programs it calls.
    pub programs: Vec<ProgramCounters>,
    /// Faults of its chains by reason, summed.
    pub faults: Vec<(String, u64)>,
}

/// Counters of the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Per script.
    pub scripts: Vec<ScriptCounters>,
    /// Faults of the whole VM by reason.
    pub faults: Vec<(String, u64)>,
    /// Packets that booted a chain.
    pub packets: u64,
}

/// A program of the table, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramListing {
    /// The record.
    pub record: ProgramRecord,
    /// The kernel's program ID.
    pub kernel_id: u32,
    /// Its maps.
    pub maps: Vec<String>,
    /// Scripts calling it.
    pub used_by: Vec<String>,
}

/// A snapshot of what is loaded.
#[derive(Clone, Debug)]
pub struct Listing {
    /// Scripts, in load order.
    pub scripts: Vec<ScriptRecord>,
    /// Loader maps per script.
    pub loader_maps: BTreeMap<String, Vec<String>>,
    /// Loader kernel IDs per script.
    pub loader_ids: BTreeMap<String, u32>,
    /// `(script, ifindex)` of recorded attachments where the script's loader does not run
    /// any more (the interface was removed).
    pub gone: BTreeSet<(String, u32)>,
    /// The program table.
    pub programs: Vec<ProgramListing>,
    /// The instance's name.
    pub instance: String,
    /// Its bpffs directory.
    pub pin_dir: PathBuf,
}

/// Names of chains and programs by ID, for events.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Chain ID → (script, chain).
    pub chains: BTreeMap<u32, (String, String)>,
    /// Program slot → name.
    pub programs: BTreeMap<u32, String>,
}

/// The daemon.
#[derive(Debug)]
pub struct Daemon {
    catalog: PackageCatalog,
    state_dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    vm: Vm,
    state: State,
    /// Loaders by pin name.
    loaders: BTreeMap<String, Loader>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks a script name: it becomes part of pin names.
pub fn check_script_name(name: &str) -> Result<()> {
    // Room for the `-g<generation>` suffix of the loader's pin within 64 characters.
    let ok = !name.is_empty()
        && name.len() <= 40
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DaemonError::InvalidName {
            what: "script name",
            name: name.to_owned(),
            why: "use 1 to 40 characters among `A-Z a-z 0-9 _ -`, not starting with `-`",
        })
    }
}

/// Checks the file name of a sibling: a plain `NAME.eclat` or `NAME.hike.c`.
fn check_sibling_name(name: &str) -> Result<()> {
    let stem = name
        .strip_suffix(".eclat")
        .or_else(|| name.strip_suffix(".hike.c"));
    let ok = stem.is_some_and(|s| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(DaemonError::InvalidName {
            what: "sibling file name",
            name: name.to_owned(),
            why: "a sibling is `NAME.eclat` or `NAME.hike.c` with NAME among `A-Z a-z 0-9 _ -`, no directory",
        })
    }
}

/// The default script name of a file: its stem (`ddos` for `dir/ddos.eclat`).
pub fn default_name(file_name: &str) -> String {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    base.strip_suffix(".eclat").unwrap_or(base).to_owned()
}

/// A script and what it imports, compiled: link units (the main script first) and warnings.
struct Units {
    units: Vec<(String, eclat_compiler::output::CompiledScript)>,
    warnings: String,
}

/// Removes a working directory when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Best effort: a leftover copy of a script is harmless and removed at the next start.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Every change to `Inner` is completed or undone before a `?` can return, so the data is
    // consistent even if a thread panicked while holding the lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Daemon {
    /// Starts: reads the state, adopts (or creates) the pinned instance, removes what the
    /// state does not list, and enables the VM's counters.
    pub fn start(opts: &Options) -> anyhow::Result<Daemon> {
        use anyhow::Context as _;
        hike_runtime::pin::check_instance_name(&opts.instance)?;
        create_private_dir(&opts.state_dir).with_context(|| {
            format!(
                "cannot create the state directory `{}`",
                opts.state_dir.display()
            )
        })?;
        // Working copies of scripts left by a daemon that was killed while compiling.
        let _ = std::fs::remove_dir_all(opts.state_dir.join("work"));
        let catalog = eclat_project::catalog(&opts.package_dirs)?;
        let recorded = state::load(&opts.state_dir)?;
        let vm_opts = VmOptions {
            grace: opts.grace,
            bpffs: opts.bpffs.clone(),
        };
        let exists = opts
            .bpffs
            .join(hike_runtime::pin::HIKE_DIR)
            .join(&opts.instance)
            .is_dir();
        let vm = if exists {
            Vm::open_pinned_with(&opts.instance, &vm_opts).with_context(|| {
                format!("cannot adopt the pinned vm instance `{}`", opts.instance)
            })?
        } else {
            Vm::create_pinned_with(&opts.instance, &vm_opts).with_context(|| {
                format!("cannot create the pinned vm instance `{}`", opts.instance)
            })?
        };
        let mut state = match recorded {
            Some(s) if s.instance == opts.instance => s,
            Some(s) => anyhow::bail!(
                "the state file `{}` is for instance `{}`, not `{}`; start eclatd with --instance {} or another --state-dir",
                state::path(&opts.state_dir).display(),
                s.instance,
                opts.instance,
                s.instance
            ),
            None => {
                let loaders = vm.loader_names()?;
                let programs = vm.programs();
                if !opts.reset && (!loaders.is_empty() || !programs.is_empty()) {
                    anyhow::bail!(
                        "there is no state file `{}`, but the vm instance `{}` has {} loader(s) and {} program(s) pinned (they may be carrying traffic); restore the state file (`{}` is the previous version, if it exists), or start eclatd with --reset to remove them",
                        state::path(&opts.state_dir).display(),
                        opts.instance,
                        loaders.len(),
                        programs.len(),
                        state::backup_path(&opts.state_dir).display()
                    );
                }
                State::new(&opts.instance)
            }
        };
        let loaders = adopt(&vm, &mut state)?;
        let cfg = vm.config()?;
        vm.set_config(VmConfig {
            flags: cfg.flags | CFG_STATS,
            ..cfg
        })?;
        state::save(&opts.state_dir, &state).with_context(|| {
            format!(
                "cannot write the state file `{}`",
                state::path(&opts.state_dir).display()
            )
        })?;
        Ok(Daemon {
            catalog,
            state_dir: opts.state_dir.clone(),
            inner: Mutex::new(Inner { vm, state, loaders }),
        })
    }

    /// A reader of the instance's events.
    pub fn event_reader(&self) -> hike_runtime::Result<hike_runtime::EventReader> {
        lock(&self.inner).vm.event_reader()
    }

    /// Chain and program names by ID.
    pub fn names(&self) -> Names {
        let inner = lock(&self.inner);
        let mut names = Names::default();
        for s in &inner.state.scripts {
            for c in &s.chains {
                names.chains.insert(c.id, (s.name.clone(), c.name.clone()));
            }
        }
        for p in &inner.state.programs {
            names.programs.insert(p.id, p.name.clone());
        }
        names
    }

    fn compile(&self, name: &str, src: &ScriptSource) -> Result<Units> {
        if src.file_name.is_empty() {
            return Err(DaemonError::Missing {
                what: "source file name",
            });
        }
        for (what, size) in std::iter::once(("the script", src.text.len())).chain(
            src.siblings
                .iter()
                .map(|(_, t)| ("a sibling file", t.len())),
        ) {
            if size > limits::FILE_BYTES {
                return Err(DaemonError::TooBig {
                    what,
                    size,
                    max: limits::FILE_BYTES,
                });
            }
        }
        if src.siblings.len() > limits::SIBLINGS {
            return Err(DaemonError::TooBig {
                what: "the list of sibling files",
                size: src.siblings.len(),
                max: limits::SIBLINGS,
            });
        }
        if src.defines.len() > limits::DEFINES {
            return Err(DaemonError::TooBig {
                what: "the list of definitions",
                size: src.defines.len(),
                max: limits::DEFINES,
            });
        }
        let defines = src
            .defines
            .iter()
            .map(|(n, v)| {
                Define::parse(&format!("{n}={v}")).map_err(|e| DaemonError::BadDefine {
                    name: n.clone(),
                    value: v.clone(),
                    why: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for (n, _) in &src.siblings {
            check_sibling_name(n)?;
        }
        // The compiler reads files: give it a private copy of the client's.
        let dir = self.state_dir.join("work").join(format!(
            "{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir(&dir).map_err(|source| DaemonError::Io {
            path: dir.clone(),
            source,
        })?;
        let work = WorkDir(dir);
        let write = |file: &str, text: &str| {
            let path = work.0.join(file);
            std::fs::write(&path, text).map_err(|source| DaemonError::Io { path, source })
        };
        // The main script is named after the script, so that a sibling cannot shadow it.
        let main_file = format!("{name}.__main__.eclat");
        write(&main_file, &src.text)?;
        for (n, t) in &src.siblings {
            write(n, t)?;
        }
        let compiled = eclat_project::compile_all_shown(
            &work.0.join(&main_file),
            &src.file_name,
            name,
            &defines,
            &self.catalog,
        );
        match compiled.units {
            Some(units) => Ok(Units {
                units,
                warnings: compiled.diagnostics,
            }),
            None => Err(DaemonError::Compile {
                diagnostics: compiled.diagnostics,
            }),
        }
    }

    /// Compiles a script without loading anything: `(ok, diagnostics)`.
    pub fn check(&self, src: &ScriptSource) -> Result<(bool, String)> {
        let name = default_name(&src.file_name);
        let name = if check_script_name(&name).is_ok() {
            name
        } else {
            "script".to_owned()
        };
        match self.compile(&name, src) {
            Ok(u) => Ok((true, u.warnings)),
            Err(DaemonError::Compile { diagnostics }) => Ok((false, diagnostics)),
            Err(e) => Err(e),
        }
    }

    /// Loads `src` as script `name` (its file stem if `None`), replacing a script of that
    /// name. All or nothing.
    pub fn load(
        &self,
        name: Option<&str>,
        src: &ScriptSource,
        loader: Option<&str>,
    ) -> Result<Loaded> {
        if src.file_name.is_empty() {
            return Err(DaemonError::Missing {
                what: "source file name",
            });
        }
        let name = match name {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => default_name(&src.file_name),
        };
        check_script_name(&name)?;
        let Units { units, warnings } = self.compile(&name, src)?;
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let old = inner.state.script(&name).cloned();
        let linked = {
            let (main, others) = units.split_first().expect("the main script");
            let main = Unit {
                name: &main.0,
                script: &main.1,
            };
            let others: Vec<Unit<'_>> = others
                .iter()
                .map(|(n, s)| Unit { name: n, script: s })
                .collect();
            let mut ids = Allocator::new(&inner.state, &self.catalog);
            link_with(&self.catalog, main, &others, loader, &mut ids).map_err(|e| {
                DaemonError::Link {
                    script: name.clone(),
                    message: chain(&e),
                }
            })?
        };
        let attachments =
            self.resolve_attachments(&name, &units[0].1, &linked, inner, old.as_ref())?;
        let generation = old.as_ref().map_or(1, |o| o.generation + 1);
        let record = ScriptRecord {
            name: name.clone(),
            file_name: src.file_name.clone(),
            defines: src.defines.clone(),
            generation,
            loaded_at: now_secs(),
            programs: linked.programs.iter().map(|p| p.id).collect(),
            chains: linked
                .chains
                .iter()
                .map(|c| ChainRecord {
                    name: c.name.clone(),
                    id: c.id,
                    params: c.nparams,
                    insns: c.insns.len() as u32,
                })
                .collect(),
            loader: LoaderRecord {
                pin: format!("{name}-g{generation}"),
                name: linked.loader.name.clone(),
                package: linked.loader.package.clone(),
                attachments: attachments.clone(),
            },
        };

        let mut txn = Txn::default();
        if let Err(e) = self.apply(inner, &linked, &record, old.as_ref(), &mut txn) {
            txn.undo(inner);
            return Err(e);
        }
        // Commit: the record first, so that a crash from here on leaves only unlisted
        // objects, which the next start removes.
        let before = inner.state.clone();
        inner.state.scripts.retain(|s| s.name != name);
        inner.state.scripts.push(record.clone());
        for p in &linked.programs {
            if inner.state.program(p.id).is_none() {
                inner.state.programs.push(ProgramRecord {
                    id: p.id,
                    name: p.name.clone(),
                    package: p.package.clone(),
                    object: self.catalog.object(p.object).name.clone(),
                });
            }
        }
        let unused: Vec<u32> = inner
            .state
            .programs
            .iter()
            .map(|p| p.id)
            .filter(|id| inner.state.users_of(*id).is_empty())
            .collect();
        inner.state.programs.retain(|p| !unused.contains(&p.id));
        inner.state.programs.sort_by_key(|p| p.id);
        if let Err(source) = state::save(&self.state_dir, &inner.state) {
            inner.state = before;
            txn.undo(inner);
            return Err(DaemonError::SaveState {
                path: state::path(&self.state_dir),
                source,
            });
        }
        if let Some(old) = &old {
            remove_old_version(inner, old, &record, &unused);
        }
        Ok(Loaded {
            script: record,
            replaced: old.is_some(),
            warnings,
        })
    }

    /// The attachments of the script's loader: devices resolved, refused if another script's
    /// loader runs there.
    fn resolve_attachments(
        &self,
        name: &str,
        script: &eclat_compiler::output::CompiledScript,
        linked: &LinkedScript,
        inner: &Inner,
        old: Option<&ScriptRecord>,
    ) -> Result<Vec<AttachmentRecord>> {
        let mut out: Vec<AttachmentRecord> = Vec::new();
        for a in script
            .attachments
            .iter()
            .filter(|a| a.loader == linked.loader.name)
        {
            if a.hook != "xdp" {
                return Err(DaemonError::Unsupported {
                    script: name.to_owned(),
                    message: format!(
                        "`{}.attach('{}', '{}')`: eclatd attaches loaders to the xdp hook only; use 'xdp'",
                        a.loader, a.device, a.hook
                    ),
                });
            }
            let ifindex = ifindex_of(&a.device).ok_or_else(|| DaemonError::NoInterface {
                script: name.to_owned(),
                device: a.device.clone(),
            })?;
            if out.iter().any(|o| o.ifindex == ifindex) {
                continue;
            }
            if let Some(owner) = inner.state.scripts.iter().find(|s| {
                s.name != name && s.loader.attachments.iter().any(|x| x.ifindex == ifindex)
            }) {
                return Err(DaemonError::InterfaceTaken {
                    device: a.device.clone(),
                    owner: owner.name.clone(),
                });
            }
            let foreign = hike_runtime::attached_xdp_program(ifindex).unwrap_or(0);
            let ours = old
                .and_then(|o| inner.loaders.get(&o.loader.pin))
                .is_some_and(|l| l.kernel_id() == foreign);
            if foreign != 0 && !ours {
                return Err(DaemonError::Unsupported {
                    script: name.to_owned(),
                    message: format!(
                        "interface `{}` already runs xdp program {foreign}, which eclatd did not attach; detach it first (ip link set dev {} xdp off)",
                        a.device, a.device
                    ),
                });
            }
            out.push(AttachmentRecord {
                device: a.device.clone(),
                ifindex,
                hook: "xdp".into(),
            });
        }
        Ok(out)
    }

    /// The kernel steps of a load, each recorded in `txn`.
    fn apply(
        &self,
        inner: &mut Inner,
        linked: &LinkedScript,
        record: &ScriptRecord,
        old: Option<&ScriptRecord>,
        txn: &mut Txn,
    ) -> Result<()> {
        let vm = &inner.vm;
        for p in &linked.programs {
            if inner.state.program(p.id).is_some() {
                continue; // shared with another script (or the old version)
            }
            let obj = self.catalog.object(p.object);
            let id = ProgramId::new(p.id).expect("the allocator stays in the table");
            vm.load_program(&obj.bytes, &p.name, id)
                .map_err(|e| DaemonError::kernel(format!("load program `{}`", p.name), &e))?;
            txn.steps.push(Undo::Program(id));
        }
        let mut ctx = Context::new();
        for p in &linked.programs {
            ctx.add_prog(p.id, p.params.min(u8::MAX as usize) as u8);
        }
        for c in &linked.chains {
            ctx.add_chain(c.id, c.nparams);
        }
        ctx.set_symbols(linked.symbols.clone());
        for c in &linked.chains {
            let id = ChainId::new(c.id).expect("the allocator stays in the table");
            let chain = ValidatedChain {
                name: &c.name,
                insns: &c.insns,
                nparams: c.nparams,
            };
            vm.install_validated_chain(id, &chain, &ctx)
                .map_err(|e| DaemonError::kernel(format!("install chain `{}`", c.name), &e))?;
            txn.steps.push(Undo::Chain(id));
        }
        let obj = self.catalog.object(linked.loader.object);
        let loader = vm
            .load_loader(&record.loader.pin, &obj.bytes, &linked.loader.name)
            .map_err(|e| {
                DaemonError::kernel(format!("load loader `{}`", linked.loader.name), &e)
            })?;
        inner.loaders.insert(record.loader.pin.clone(), loader);
        txn.steps.push(Undo::Loader(record.loader.pin.clone()));
        for w in &linked.map_writes {
            let what = format!("configure map `{}.{}`", w.owner, w.map);
            let map: MapRef = match w.target {
                MapOwner::Loader => inner.loaders[&record.loader.pin]
                    .map(&w.map)
                    .map_err(|e| DaemonError::kernel(what.clone(), &e))?
                    .clone(),
                MapOwner::Program(id) => vm
                    .program_map(ProgramId::new(id).expect("linked"), &w.map)
                    .map_err(|e| DaemonError::kernel(what.clone(), &e))?,
            };
            for (k, v) in &w.entries {
                if matches!(w.target, MapOwner::Program(_)) {
                    let previous =
                        read_raw(&map, k).map_err(|e| DaemonError::kernel(what.clone(), &e))?;
                    txn.steps.push(Undo::Entry {
                        map: map.clone(),
                        key: k.clone(),
                        previous,
                    });
                }
                map.update(k, v, UpdateMode::Any)
                    .map_err(|e| DaemonError::kernel(what.clone(), &e))?;
            }
        }
        for a in &record.loader.attachments {
            let new = &inner.loaders[&record.loader.pin];
            let from = old
                .filter(|o| o.loader.attachments.iter().any(|x| x.ifindex == a.ifindex))
                .map(|o| o.loader.pin.clone());
            match from.as_ref().and_then(|pin| inner.loaders.get(pin)) {
                Some(from_loader) => {
                    new.take_over_attachment(from_loader, a.ifindex)
                        .map_err(|e| {
                            DaemonError::kernel(
                                format!("switch interface `{}` to the new version", a.device),
                                &e,
                            )
                        })?;
                    txn.steps.push(Undo::TakeOver {
                        ifindex: a.ifindex,
                        from: from.expect("matched"),
                        to: record.loader.pin.clone(),
                    });
                }
                None => {
                    new.attach_xdp(a.ifindex, XdpMode::Native).map_err(|e| {
                        DaemonError::kernel(format!("attach to interface `{}`", a.device), &e)
                    })?;
                    txn.steps.push(Undo::Attach {
                        pin: record.loader.pin.clone(),
                        ifindex: a.ifindex,
                    });
                }
            }
        }
        Ok(())
    }

    /// Unloads script `name`: its loader (and so its attachments), its chains, and the
    /// programs no other script calls.
    pub fn unload(&self, name: &str) -> Result<ScriptRecord> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let Some(record) = inner.state.script(name).cloned() else {
            return Err(DaemonError::NoScript {
                name: name.to_owned(),
            });
        };
        let before = inner.state.clone();
        inner.state.scripts.retain(|s| s.name != name);
        let unused: Vec<u32> = record
            .programs
            .iter()
            .copied()
            .filter(|id| inner.state.users_of(*id).is_empty())
            .collect();
        inner.state.programs.retain(|p| !unused.contains(&p.id));
        if let Err(source) = state::save(&self.state_dir, &inner.state) {
            inner.state = before;
            return Err(DaemonError::SaveState {
                path: state::path(&self.state_dir),
                source,
            });
        }
        // Detach first, then wait for packets in flight, then remove what they may use.
        if let Some(loader) = inner.loaders.remove(&record.loader.pin) {
            if let Err(e) = loader.remove() {
                eprintln!("eclatd: warning: unload `{name}`: {}", chain(&e));
            }
        }
        if let Err(e) = inner.vm.wait_for_packets_in_flight() {
            eprintln!("eclatd: warning: unload `{name}`: {}", chain(&e));
        }
        for c in &record.chains {
            inner.vm.remove_chain(ChainId::new(c.id).expect("recorded"));
        }
        for id in unused {
            if let Err(e) = inner
                .vm
                .remove_program(ProgramId::new(id).expect("recorded"))
            {
                eprintln!("eclatd: warning: unload `{name}`: {}", chain(&e));
            }
        }
        Ok(record)
    }

    /// What is loaded.
    pub fn list(&self) -> Listing {
        let inner = lock(&self.inner);
        let kernel: BTreeMap<u32, (u32, Vec<String>)> = inner
            .vm
            .programs()
            .into_iter()
            .map(|p| (p.id.get(), (p.kernel_id, p.maps)))
            .collect();
        let programs = inner
            .state
            .programs
            .iter()
            .map(|p| {
                let (kernel_id, maps) = kernel.get(&p.id).cloned().unwrap_or_default();
                ProgramListing {
                    record: p.clone(),
                    kernel_id,
                    maps,
                    used_by: inner
                        .state
                        .users_of(p.id)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                }
            })
            .collect();
        let mut loader_maps = BTreeMap::new();
        let mut loader_ids = BTreeMap::new();
        let mut gone = BTreeSet::new();
        for s in &inner.state.scripts {
            if let Some(l) = inner.loaders.get(&s.loader.pin) {
                loader_maps.insert(s.name.clone(), l.maps().keys().cloned().collect());
                loader_ids.insert(s.name.clone(), l.kernel_id());
                for a in &s.loader.attachments {
                    // The daemon's own netns: the interface is where the daemon attached it.
                    let running = hike_runtime::attached_xdp_program(a.ifindex).unwrap_or(0);
                    if running != l.kernel_id() {
                        gone.insert((s.name.clone(), a.ifindex));
                    }
                }
            }
        }
        Listing {
            scripts: inner.state.scripts.clone(),
            loader_maps,
            loader_ids,
            gone,
            programs,
            instance: inner.state.instance.clone(),
            pin_dir: inner
                .vm
                .pin_dir()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        }
    }

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
        let mut available = Vec::new();
        let mut found = None;
        for id in &record.programs {
            let Some(p) = inner.state.program(*id) else {
                continue;
            };
            let Some(entry) = self.catalog.program_entry(&p.package, &p.name) else {
                continue;
            };
            for l in &entry.maps {
                available.push(format!("{}.{}", p.name, l.name));
                if found.is_none() && map_matches(map, &p.name, l) {
                    found = Some((MapOwner::Program(*id), p.name.clone(), l.clone()));
                }
            }
        }
        if let Some(entry) = self
            .catalog
            .loader_entry(&record.loader.package, &record.loader.name)
        {
            for l in &entry.maps {
                available.push(format!("{}.{}", record.loader.name, l.name));
                if found.is_none() && map_matches(map, &record.loader.name, l) {
                    found = Some((MapOwner::Loader, record.loader.name.clone(), l.clone()));
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

    /// Counters of `script` (every script if `None`).
    pub fn stats(&self, script: Option<&str>) -> Result<Counters> {
        let inner = lock(&self.inner);
        let err = |e: hike_runtime::Error| DaemonError::kernel("read the counters", &e);
        if let Some(s) = script {
            if inner.state.script(s).is_none() {
                return Err(DaemonError::NoScript { name: s.to_owned() });
            }
        }
        let mut scripts = Vec::new();
        for s in inner
            .state
            .scripts
            .iter()
            .filter(|s| script.is_none_or(|n| n == s.name))
        {
            let mut chains = Vec::new();
            let mut total = [0u64; Fault::MAX];
            for c in &s.chains {
                let st = inner
                    .vm
                    .chain_stats(ChainId::new(c.id).expect("recorded"))
                    .map_err(err)?;
                for (t, f) in total.iter_mut().zip(st.faults) {
                    *t += f;
                }
                chains.push(ChainCounters {
                    name: c.name.clone(),
                    id: c.id,
                    runs: st.runs,
                    faults: fault_list(&st.faults),
                });
            }
            let mut programs = Vec::new();
            for id in &s.programs {
                let st = inner
                    .vm
                    .prog_stats(ProgramId::new(*id).expect("recorded"))
                    .map_err(err)?;
                programs.push(ProgramCounters {
                    name: inner
                        .state
                        .program(*id)
                        .map_or_else(|| format!("#{id}"), |p| p.name.clone()),
                    id: *id,
                    calls: st.calls,
                });
            }
            scripts.push(ScriptCounters {
                name: s.name.clone(),
                chains,
                programs,
                faults: fault_list(&total),
            });
        }
        let faults = fault_list(&inner.vm.fault_counts().map_err(err)?);
        let mut packets = 0;
        for cpu in 0..inner.vm.num_cpus() {
            // CPUs that are possible but not online have a state of zeros.
            packets += inner.vm.vm_state(cpu).map_err(err)?.packets;
        }
        Ok(Counters {
            scripts,
            faults,
            packets,
        })
    }
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

fn fault_list(counts: &[u64; Fault::MAX]) -> Vec<(String, u64)> {
    Fault::ALL
        .into_iter()
        .map(|f| (f.name().to_owned(), counts[f as usize]))
        .filter(|(_, n)| *n > 0)
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
fn read_raw(map: &MapRef, key: &[u8]) -> hike_runtime::Result<Option<Vec<Vec<u8>>>> {
    if map.is_percpu() {
        map.lookup_percpu(key)
    } else {
        Ok(map.lookup(key)?.map(|v| vec![v]))
    }
}

/// Encodes a key or value given as JSON text (the forms a dump shows) with `layout`.
fn encode_json(
    map: &str,
    what: &'static str,
    layout: &ValueLayout,
    text: &str,
    state: &State,
    script: &str,
) -> Result<Vec<u8>> {
    let bad = |message: String| DaemonError::BadEntry {
        map: map.to_owned(),
        message,
    };
    if text.len() > limits::ENTRY_JSON_BYTES {
        return Err(DaemonError::TooBig {
            what: "a map key or value",
            size: text.len(),
            max: limits::ENTRY_JSON_BYTES,
        });
    }
    let json: Json = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "the {what} `{text}` is not JSON ({e}); the {what} is {}",
            layout.c_type
        ))
    })?;
    let Some(fields) = &layout.fields else {
        return Err(bad(format!(
            "the {what} type {} cannot be written field by field",
            layout.c_type
        )));
    };
    let expected = || {
        if layout.scalar {
            describe(&fields[0].kind).to_string()
        } else {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| format!("\"{}\": {}", f.name, describe(&f.kind)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    };
    let item = |kind: &FieldKind, v: &Json, field: &str| -> Result<MapValue> {
        let wrong = || {
            bad(format!(
                "{what} {field}`{v}` does not fit: the {what} is {}, written as {}",
                layout.c_type,
                expected()
            ))
        };
        Ok(match kind {
            FieldKind::Int(ty) => MapValue::Int {
                ty: *ty,
                value: v.as_u64().ok_or_else(wrong)?,
            },
            FieldKind::Ipv4 => MapValue::Ipv4(
                v.as_str()
                    .and_then(|s| s.parse::<Ipv4Addr>().ok())
                    .ok_or_else(wrong)?,
            ),
            FieldKind::Ipv6 => MapValue::Ipv6(
                v.as_str()
                    .and_then(|s| s.parse::<Ipv6Addr>().ok())
                    .ok_or_else(wrong)?,
            ),
            FieldKind::Chain => MapValue::Chain(v.as_str().ok_or_else(wrong)?.to_owned()),
        })
    };
    let items: Vec<MapValue> = if layout.scalar {
        vec![item(&fields[0].kind, &json, "")?]
    } else {
        let obj = json.as_object().ok_or_else(|| {
            bad(format!(
                "the {what} `{text}` is not an object; the {what} is {}, written as {}",
                layout.c_type,
                expected()
            ))
        })?;
        if let Some(unknown) = obj.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
            return Err(bad(format!(
                "the {what} has no field `{unknown}`; it is {}, written as {}",
                layout.c_type,
                expected()
            )));
        }
        fields
            .iter()
            .map(|f| {
                let v = obj.get(&f.name).ok_or_else(|| {
                    bad(format!(
                        "the {what} lacks field `{}`; it is {}, written as {}",
                        f.name,
                        layout.c_type,
                        expected()
                    ))
                })?;
                item(&f.kind, v, &format!("field `{}` ", f.name))
            })
            .collect::<Result<_>>()?
    };
    let chains: BTreeMap<String, u32> = state
        .script(script)
        .map(|s| s.chains.iter().map(|c| (c.name.clone(), c.id)).collect())
        .unwrap_or_default();
    let chain_id = |n: &str| chains.get(n).copied();
    layout
        .encode(map, what, &items, &chain_id)
        .map_err(|e| bad(e.to_string()))
}

fn describe(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Int(_) => "a number",
        FieldKind::Ipv4 => "an IPv4 address string",
        FieldKind::Ipv6 => "an IPv6 address string",
        FieldKind::Chain => "a chain name",
    }
}

/// The index of interface `name` in the daemon's network namespace.
fn ifindex_of(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Chooses IDs for a load: a program keeps the slot it has (shared), a new one gets the
/// lowest free slot; a chain gets the lowest ID no script uses (the version being replaced
/// keeps its IDs until the switch).
struct Allocator<'a> {
    state: &'a State,
    catalog: &'a PackageCatalog,
    taken_progs: BTreeSet<u32>,
    taken_chains: BTreeSet<u32>,
}

impl<'a> Allocator<'a> {
    fn new(state: &'a State, catalog: &'a PackageCatalog) -> Allocator<'a> {
        Allocator {
            state,
            catalog,
            taken_progs: state.programs.iter().map(|p| p.id).collect(),
            taken_chains: state
                .scripts
                .iter()
                .flat_map(|s| s.chains.iter().map(|c| c.id))
                .collect(),
        }
    }
}

impl IdAllocator for Allocator<'_> {
    fn program(&mut self, object: ObjectId, object_name: &str, program: &str) -> Option<u32> {
        let _ = self.catalog.object(object);
        if let Some(p) = self
            .state
            .programs
            .iter()
            .find(|p| p.object == object_name && p.name == program)
        {
            return Some(p.id);
        }
        let id = (0..MAX_PROGS).find(|id| !self.taken_progs.contains(id))?;
        self.taken_progs.insert(id);
        Some(id)
    }

    fn chain(&mut self, _: &str) -> Option<u32> {
        let id = (0..MAX_CHAINS).find(|id| !self.taken_chains.contains(id))?;
        self.taken_chains.insert(id);
        Some(id)
    }
}

/// One kernel step of a load, and how to undo it.
enum Undo {
    Program(ProgramId),
    Chain(ChainId),
    Loader(String),
    Entry {
        map: MapRef,
        key: Vec<u8>,
        previous: Option<Vec<Vec<u8>>>,
    },
    Attach {
        pin: String,
        ifindex: u32,
    },
    TakeOver {
        ifindex: u32,
        from: String,
        to: String,
    },
}

/// The undo log of a load.
#[derive(Default)]
struct Txn {
    steps: Vec<Undo>,
}

impl Txn {
    /// Undoes every step, last first. Failures are reported and the rest still undone.
    fn undo(self, inner: &mut Inner) {
        let warn = |what: &str, e: &dyn std::fmt::Display| {
            eprintln!("eclatd: warning: while undoing a failed load, cannot {what}: {e}");
        };
        let mut waited = false;
        for step in self.steps.into_iter().rev() {
            match step {
                Undo::TakeOver { ifindex, from, to } => {
                    if let (Some(f), Some(t)) = (inner.loaders.get(&from), inner.loaders.get(&to)) {
                        if let Err(e) = f.take_over_attachment(t, ifindex) {
                            warn("move an attachment back", &chain(&e));
                        }
                    }
                }
                Undo::Attach { pin, ifindex } => {
                    if let Some(l) = inner.loaders.get(&pin) {
                        if let Err(e) = l.detach_xdp(ifindex) {
                            warn("detach", &chain(&e));
                        }
                    }
                }
                Undo::Entry { map, key, previous } => {
                    let r = match previous {
                        Some(vs) if map.is_percpu() => {
                            map.update_percpu(&key, &vs, UpdateMode::Any)
                        }
                        Some(vs) => map.update(&key, &vs[0], UpdateMode::Any),
                        None => map.delete(&key).map(|_| ()),
                    };
                    if let Err(e) = r {
                        warn("restore a map entry", &chain(&e));
                    }
                }
                Undo::Loader(pin) => {
                    if !waited {
                        let _ = inner.vm.wait_for_packets_in_flight();
                        waited = true;
                    }
                    if let Some(l) = inner.loaders.remove(&pin) {
                        if let Err(e) = l.remove() {
                            warn("remove a loader", &chain(&e));
                        }
                    }
                }
                Undo::Chain(id) => {
                    inner.vm.remove_chain(id);
                }
                Undo::Program(id) => {
                    if let Err(e) = inner.vm.remove_program(id) {
                        warn("remove a program", &chain(&e));
                    }
                }
            }
        }
    }
}

/// After a replace is recorded: detaches the old loader where the new one does not run,
/// waits for packets in flight, then removes the old loader, the old chains and the programs
/// no script calls any more. Failures leave unlisted objects, removed at the next start.
fn remove_old_version(inner: &mut Inner, old: &ScriptRecord, new: &ScriptRecord, unused: &[u32]) {
    let warn = |e: &hike_runtime::Error| {
        eprintln!("eclatd: warning: replace `{}`: {}", old.name, chain(e));
    };
    if let Some(l) = inner.loaders.remove(&old.loader.pin) {
        if let Err(e) = l.remove() {
            warn(&e);
        }
    }
    if let Err(e) = inner.vm.wait_for_packets_in_flight() {
        warn(&e);
    }
    let kept: BTreeSet<u32> = new.chains.iter().map(|c| c.id).collect();
    for c in old.chains.iter().filter(|c| !kept.contains(&c.id)) {
        inner.vm.remove_chain(ChainId::new(c.id).expect("recorded"));
    }
    for id in unused {
        if let Err(e) = inner
            .vm
            .remove_program(ProgramId::new(*id).expect("recorded"))
        {
            warn(&e);
        }
    }
}

/// Adopts the loaders the state lists and removes every pinned object it does not: the
/// remains of an operation a crash interrupted. Scripts whose loader is gone are forgotten,
/// attachments whose interface is gone are dropped from the record.
fn adopt(vm: &Vm, state: &mut State) -> anyhow::Result<BTreeMap<String, Loader>> {
    let mut loaders = BTreeMap::new();
    let recorded: BTreeSet<String> = state.scripts.iter().map(|s| s.loader.pin.clone()).collect();
    for name in vm.loader_names()? {
        let loader = match vm.open_loader(&name) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "eclatd: warning: cannot adopt loader `{name}`: {}",
                    chain(&e)
                );
                continue;
            }
        };
        if recorded.contains(&name) {
            loaders.insert(name, loader);
        } else {
            eprintln!("eclatd: removing loader `{name}`, which no script owns (left by an interrupted operation)");
            loader.remove()?;
        }
    }
    state.scripts.retain(|s| {
        let kept = loaders.contains_key(&s.loader.pin);
        if !kept {
            eprintln!(
                "eclatd: warning: script `{}` is recorded but its loader `{}` is gone from bpffs; forgetting it",
                s.name, s.loader.pin
            );
        }
        kept
    });
    for s in &mut state.scripts {
        let attached = loaders[&s.loader.pin].attachments();
        s.loader.attachments.retain(|a| {
            let kept = attached.contains(&a.ifindex);
            if !kept {
                eprintln!(
                    "eclatd: warning: script `{}` is no longer attached to `{}` (ifindex {}): the interface went away",
                    s.name, a.device, a.ifindex
                );
            }
            kept
        });
    }
    let used: BTreeSet<u32> = state
        .scripts
        .iter()
        .flat_map(|s| s.programs.iter().copied())
        .collect();
    let present: BTreeSet<u32> = vm.programs().iter().map(|p| p.id.get()).collect();
    for id in present.difference(&used) {
        eprintln!("eclatd: removing program slot {id}, which no script uses");
        vm.remove_program(ProgramId::new(*id).expect("from the vm"))?;
    }
    state
        .programs
        .retain(|p| used.contains(&p.id) && present.contains(&p.id));
    let chains: BTreeSet<u32> = state
        .scripts
        .iter()
        .flat_map(|s| s.chains.iter().map(|c| c.id))
        .collect();
    for (id, _) in vm.chains() {
        if !chains.contains(&id.get()) {
            vm.remove_chain(id);
        }
    }
    Ok(loaders)
}
