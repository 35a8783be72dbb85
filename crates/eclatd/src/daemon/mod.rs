//! The daemon's core, without gRPC: one pinned VM instance, the scripts loaded into it, and
//! the operations on them (check, load or replace, unload, list, maps, stats).
//!
//! **One VM, many scripts.** Every script shares the instance's program table and chain
//! table. A program (an object's program, one build of that object: the catalog's digest)
//! has one slot, shared by every script that calls it and removed with the last of them; its
//! maps are shared too. A new build of a package (the packages are read again by every check
//! and load) gets new slots for the scripts loaded with it. Chains and the loader belong to
//! one script.
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

mod adopt;
mod bundles;
mod load;
mod maps;
mod order;
mod prepare;
mod reconfigure;
mod stats;

pub use bundles::{object_cache, Bundle};
pub use maps::{Dump, Entry};
pub use order::{parse_proceed_on, proceed_on_names};
pub use reconfigure::MapReset;
pub use stats::{
    ChainCounters, Counters, ProgramCounters, Reset, ScriptCounters, CHAINS_COVER, PACKETS_COVER,
    PROGRAMS_COVER,
};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eclat_catalog::PackageCatalog;
use hike_isa::abi::{VmConfig, CFG_STATS};
use hike_runtime::{Loader, Vm, VmOptions};

use crate::error::{DaemonError, Result};
use crate::state::{self, ProgramRecord, ScriptRecord, State};

/// Limits on what a client may send.
pub mod limits {
    /// Bytes of one script or sibling file.
    pub const FILE_BYTES: usize = 1 << 20;
    /// Bytes of a script's file name as the client gives it.
    pub const FILE_NAME_BYTES: usize = 4096;
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
    /// The packages it links against instead of the daemon's (standard and `--package-dir`):
    /// a fleet script's, with the user packages the operator built (`eclat_fleet::packages`),
    /// kept on the node while the script runs ([`bundles`]).
    pub bundle: Option<Arc<Bundle>>,
    /// The objects of its C chains (`NAME.hike.c` among `siblings`) built by the operator, by
    /// sibling file name: these files are not compiled here (a fleet node needs no clang).
    pub c_objects: BTreeMap<String, Arc<[u8]>>,
}

/// Where a script runs among the scripts of its hooks (`eclat load --priority`,
/// `--proceed-on`). `None`: the replaced version's value, else the default
/// ([`state::DEFAULT_PRIORITY`], [`state::DEFAULT_PROCEED_ON`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Placement {
    /// Lower runs first; equal priorities run in name order.
    pub priority: Option<u32>,
    /// The verdicts that proceed to the next script (bit `v` for XDP verdict `v`).
    pub proceed_on: Option<u32>,
    /// At a TC hook without another script of ours: first or last among other tools'
    /// programs.
    pub tc_placement: Option<hike_runtime::TcPlacement>,
}

/// The scripts of one interface and hook, in the order packets meet them.
#[derive(Clone, Debug)]
pub struct HookListing {
    /// The interface.
    pub device: String,
    /// Its index.
    pub ifindex: u32,
    /// `xdp`.
    pub hook: String,
    /// Script names, first first.
    pub scripts: Vec<String>,
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
    /// The maps its configuration wrote, and the entries it reset.
    pub maps: Vec<MapReset>,
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
    /// Per interface and hook, the scripts in the order packets meet them.
    pub hooks: Vec<HookListing>,
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
    /// The packages as last read (the standard ones and those of `package_dirs`), with the
    /// number of the read that gave them.
    catalog: Mutex<(u64, Arc<PackageCatalog>)>,
    /// Reads of the packages started: numbers them, so that a slow read that started first
    /// does not replace the result of one that started later.
    catalog_reads: AtomicU64,
    /// `--package-dir`: read again by every check and load, so that a changed package is
    /// seen without a restart.
    package_dirs: Vec<PathBuf>,
    state_dir: PathBuf,
    inner: Mutex<Inner>,
    /// The hold of the instance, for as long as the daemon runs.
    _lock: hike_runtime::bpffs::InstanceLock,
}

#[derive(Debug)]
struct Inner {
    vm: Vm,
    state: State,
    /// Loaders by pin name.
    loaders: BTreeMap<String, Loader>,
    /// A fleet rollout's prepared generation ([`Daemon::prepare`]), loaded beside what runs
    /// until its commit or abort: at most one, dropped by anything else that changes the
    /// state.
    held: Option<prepare::Held>,
    /// The user packages scripts brought with them (a fleet's, prebuilt), by script: their
    /// maps' layouts are read in these catalogs. Kept on disk ([`bundles`]) and rebuilt at
    /// start.
    bundles: BTreeMap<String, bundles::Kept>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks a script name: it becomes part of pin names.
pub fn check_script_name(name: &str) -> Result<()> {
    // The characters of a pin name (the runtime's rule), with room for the `-g<generation>`
    // suffix of the loader's pin within its 64 characters.
    let ok = name.len() <= 40 && hike_runtime::pin::check_instance_name(name).is_ok();
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

/// The default script name of a file: its stem (`ddos` for `dir/ddos.eclat`).
pub fn default_name(file_name: &str) -> String {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    base.strip_suffix(".eclat").unwrap_or(base).to_owned()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change to `Inner` (or the catalog) is completed or undone before a `?` can return,
    // so the data is consistent even if a thread panicked while holding the lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Daemon {
    /// Starts: reads the state, adopts (or creates) the pinned instance, removes what the
    /// state does not list, and enables the VM's counters.
    pub fn start(opts: &Options) -> anyhow::Result<Daemon> {
        use anyhow::Context as _;
        hike_runtime::pin::check_instance_name(&opts.instance)?;
        crate::crash::install_runtime_hook();
        create_private_dir(&opts.state_dir).with_context(|| {
            format!(
                "cannot create the state directory `{}`",
                opts.state_dir.display()
            )
        })?;
        crate::trust::check_dir(&opts.state_dir, "the state directory")?;
        // One daemon per instance: a second one would allocate the same IDs and overwrite
        // the first one's chains and record.
        let lock = hike_runtime::bpffs::lock_instance(&opts.bpffs, &opts.instance)?;
        // Working copies of scripts left by a daemon that was killed while compiling.
        let _ = std::fs::remove_dir_all(opts.state_dir.join("work"));
        create_private_dir(&temp_dir(&opts.state_dir)).with_context(|| {
            format!(
                "cannot create the working directory `{}`",
                temp_dir(&opts.state_dir).display()
            )
        })?;
        let catalog = eclat_link::project::catalog(&opts.package_dirs)?;
        let recorded = state::load(&opts.state_dir)?;
        let vm_opts = VmOptions {
            grace: opts.grace,
            bpffs: opts.bpffs.clone(),
        };
        let vm = if hike_runtime::pin::instance_exists(&opts.bpffs, &opts.instance) {
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
        let loaders = adopt::adopt(&vm, &mut state)?;
        // The fleet scripts' user packages, from the state directory alone: etcd may be away.
        bundles::tidy(&opts.state_dir, &state);
        let kept = bundles::restore(&opts.state_dir, &state);
        let cfg = vm.config()?;
        vm.set_config(VmConfig {
            flags: cfg.flags | CFG_STATS,
            ..cfg
        })?;
        state::save(&opts.state_dir, &state, None).with_context(|| {
            format!(
                "cannot write the state file `{}`",
                state::path(&opts.state_dir).display()
            )
        })?;
        Ok(Daemon {
            catalog: Mutex::new((0, Arc::new(catalog))),
            catalog_reads: AtomicU64::new(0),
            package_dirs: opts.package_dirs.clone(),
            state_dir: opts.state_dir.clone(),
            inner: Mutex::new(Inner {
                vm,
                state,
                loaders,
                held: None,
                bundles: kept,
            }),
            _lock: lock,
        })
    }

    /// The packages as last read.
    fn catalog(&self) -> Arc<PackageCatalog> {
        lock(&self.catalog).1.clone()
    }

    /// The packages read again (only changed user sources are compiled; the standard ones
    /// never change), for a check or a load. A package that no longer builds is left out of
    /// the catalog and refuses only the scripts that import it (the compiler's error at the
    /// import). On an error (a directory that can no longer be read), the last good catalog
    /// stays for the other operations.
    /// The catalog `src` links against: its own (a fleet script's), else the daemon's, read
    /// again ([`Daemon::fresh_catalog`]).
    fn catalog_for(&self, src: &ScriptSource) -> Result<Arc<PackageCatalog>> {
        match &src.bundle {
            Some(b) => Ok(b.catalog.clone()),
            None => self.fresh_catalog(),
        }
    }

    fn fresh_catalog(&self) -> Result<Arc<PackageCatalog>> {
        if self.package_dirs.is_empty() {
            return Ok(self.catalog());
        }
        let read = self.catalog_reads.fetch_add(1, Ordering::Relaxed) + 1;
        let fresh = eclat_link::project::catalog(&self.package_dirs)
            .map(Arc::new)
            .map_err(|e| DaemonError::Packages {
                dirs: self
                    .package_dirs
                    .iter()
                    .map(|d| format!("`{}`", d.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
                message: format!("{e:#}"),
            })?;
        let mut current = lock(&self.catalog);
        if read > current.0 {
            *current = (read, fresh.clone());
        }
        Ok(fresh)
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
                    let at = load::runtime_attachment(a);
                    let runs = match at.hook {
                        // At XDP the interface runs the loader of its first script.
                        hike_runtime::Hook::Xdp => {
                            let running =
                                hike_runtime::attached_xdp_program(a.ifindex).unwrap_or(0);
                            inner.loaders.values().any(|l| l.kernel_id() == running)
                        }
                        // At TC ours runs among other tools' tcx programs.
                        hook => hike_runtime::tc_programs(a.ifindex, hook)
                            .unwrap_or_default()
                            .contains(&l.kernel_id()),
                    };
                    if !runs {
                        gone.insert((s.name.clone(), a.ifindex));
                    }
                }
            }
        }
        let hooks = order::hooks(&inner.state)
            .into_iter()
            .map(|h| HookListing {
                device: h.device,
                ifindex: h.ifindex,
                hook: h.hook,
                scripts: h.scripts.iter().map(|s| s.name.clone()).collect(),
            })
            .collect();
        Listing {
            hooks,
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
}

/// The daemon's own temporary directory under `state_dir` (`TMPDIR` of the daemon and of the
/// compilers it runs).
pub fn temp_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("work").join("tmp")
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}
