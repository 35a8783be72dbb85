//! [`Vm`]: one VM instance, the owner of everything the runtime loads.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytemuck::Zeroable;
use hike_isa::abi::{ChainDesc, ChainStats, Fault, ProgStats, VmConfig, VmState};
use hike_isa::Insn;
use libbpf_rs::{MapCore, MapFlags, MapHandle, ProgramHandle};

use crate::chains::{ChainTable, HeapUsage};
use crate::hook::{Attachment, ProgContext};
use crate::object::{self, LoadedObject, NamedMaps};
use crate::pin;
use crate::vm_maps::{VmMap, VmMaps};
use crate::{ChainId, Error, Loader, MapRef, ProgramId, Result};

/// Settings of a VM instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmOptions {
    /// How long the code of a replaced or removed chain version stays untouched before it may
    /// be reused (on top of a kernel RCU grace period; see [`crate::chains`]).
    pub grace: Duration,
    /// Where the BPF filesystem is (mounted there if it is not). Pinned instances live in
    /// `<bpffs>/hike/<instance>/`.
    pub bpffs: PathBuf,
}

impl Default for VmOptions {
    fn default() -> VmOptions {
        VmOptions {
            grace: Duration::from_secs(1),
            bpffs: PathBuf::from(pin::DEFAULT_BPFFS),
        }
    }
}

/// A program in the program table.
#[derive(Debug)]
struct ProgramEntry {
    name: String,
    program: ProgramHandle,
    maps: BTreeMap<String, MapRef>,
}

/// The context of a loaded program (which program table it goes in, which hooks a loader
/// attaches to), from its kernel program type.
fn program_context(name: &str, program: &ProgramHandle) -> Result<ProgContext> {
    let prog_type = crate::sys::prog_type(program.as_fd()).map_err(|source| Error::Pin {
        op: "query the program type of",
        path: PathBuf::from(name),
        source,
    })?;
    ProgContext::from_prog_type(prog_type).ok_or_else(|| Error::UnsupportedProgramType {
        program: name.to_owned(),
        prog_type,
    })
}

/// The program table of a context.
fn program_table(context: ProgContext) -> VmMap {
    match context {
        ProgContext::Xdp => VmMap::Progs,
        ProgContext::Tc => VmMap::ProgsTc,
    }
}

/// What the runtime knows of a loaded program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Its slot in the program table.
    pub id: ProgramId,
    /// Its name in its object.
    pub name: String,
    /// The kernel's ID of the program.
    pub kernel_id: u32,
    /// The names of its object's own maps.
    pub maps: Vec<String>,
    /// Its parameter names, from the `hike_params` BTF tag; `None` if it has no
    /// `hike_prog` tag.
    pub params: Option<Vec<String>>,
}

#[derive(Debug)]
struct Pinned {
    name: String,
    dir: PathBuf,
    hike_dir: PathBuf,
}

/// One HIKe VM instance: the shared VM maps, the chain table and code heap, the programs of
/// the program table, and the maps shared by name among its objects.
///
/// A private instance ([`Vm::new`]) exists while the value lives and leaves nothing behind.
/// A pinned instance ([`Vm::create_pinned`], [`Vm::open_pinned`]) lives in bpffs until
/// [`Vm::destroy`], so another process (a restarted daemon) can adopt it.
///
/// All methods take `&self`; the instance is safe to share between threads.
#[derive(Debug)]
pub struct Vm {
    maps: VmMaps,
    chains: Mutex<ChainTable>,
    programs: Mutex<BTreeMap<ProgramId, ProgramEntry>>,
    named: Mutex<NamedMaps>,
    pinned: Option<Pinned>,
    ncpus: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves data that is still consistent (every
    // update is a single assignment after the fallible work), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The maps of a loaded object as [`MapRef`]s named `owner.map`.
fn map_refs(owner: &str, maps: BTreeMap<String, MapHandle>) -> BTreeMap<String, MapRef> {
    maps.into_iter()
        .map(|(name, h)| (name.clone(), MapRef::new(format!("{owner}.{name}"), h)))
        .collect()
}

/// Removes a directory tree unless disarmed: undoes a half-done pinning on error paths.
struct RemoveOnError<'a> {
    path: Option<&'a Path>,
}

impl RemoveOnError<'_> {
    fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveOnError<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.path {
            // Best effort on an error path: the error being returned is the one to report.
            let _ = pin::remove_tree(p);
        }
    }
}

impl Vm {
    /// A private instance with default options.
    pub fn new() -> Result<Vm> {
        Vm::with_options(&VmOptions::default())
    }

    /// A private instance: its maps are not pinned, and dropping it frees everything it
    /// loaded (loaders returned to the caller live until they are dropped too).
    pub fn with_options(opts: &VmOptions) -> Result<Vm> {
        let maps = VmMaps::create()?;
        let chains = ChainTable::open(&maps, opts.grace, false)?;
        Vm::assemble(maps, chains, NamedMaps::default(), None)
    }

    fn assemble(
        maps: VmMaps,
        chains: ChainTable,
        named: NamedMaps,
        pinned: Option<Pinned>,
    ) -> Result<Vm> {
        let ncpus = libbpf_rs::num_possible_cpus().map_err(|source| Error::CpuCount { source })?;
        Ok(Vm {
            maps,
            chains: Mutex::new(chains),
            programs: Mutex::new(BTreeMap::new()),
            named: Mutex::new(named),
            pinned,
            ncpus,
        })
    }

    fn instance_dirs(instance: &str, opts: &VmOptions) -> Result<(PathBuf, PathBuf)> {
        pin::check_name(instance)?;
        let hike_dir = opts.bpffs.join(pin::HIKE_DIR);
        Ok((hike_dir.join(instance), hike_dir))
    }

    /// Creates the pinned instance `instance` with default options.
    pub fn create_pinned(instance: &str) -> Result<Vm> {
        Vm::create_pinned_with(instance, &VmOptions::default())
    }

    /// Creates the pinned instance `instance` in `<bpffs>/hike/<instance>/`, mounting the
    /// bpffs if needed. Fails if the instance exists.
    pub fn create_pinned_with(instance: &str, opts: &VmOptions) -> Result<Vm> {
        let (dir, hike_dir) = Vm::instance_dirs(instance, opts)?;
        pin::ensure_bpffs(&opts.bpffs)?;
        pin::create_dir(&hike_dir)?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // An empty directory is only the lock of the process that creates the instance.
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    && pin::list_dir(&dir).is_ok_and(|d| d.is_empty()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::InstanceExists {
                    name: instance.to_owned(),
                    path: dir,
                });
            }
            Err(source) => {
                return Err(Error::Pin {
                    op: "create directory",
                    path: dir,
                    source,
                })
            }
        }
        let guard = RemoveOnError { path: Some(&dir) };
        let maps = VmMaps::create()?;
        maps.pin(&dir)?;
        let shared = dir.join("shared");
        pin::create_dir(&shared)?;
        pin::create_dir(&dir.join("progs"))?;
        pin::create_dir(&dir.join("loaders"))?;
        let chains = ChainTable::open(&maps, opts.grace, false)?;
        let named = NamedMaps {
            maps: BTreeMap::new(),
            pin_dir: Some(shared),
        };
        let pinned = Pinned {
            name: instance.to_owned(),
            dir: dir.clone(),
            hike_dir,
        };
        let vm = Vm::assemble(maps, chains, named, Some(pinned))?;
        guard.disarm();
        Ok(vm)
    }

    /// Adopts the pinned instance `instance` with default options.
    pub fn open_pinned(instance: &str) -> Result<Vm> {
        Vm::open_pinned_with(instance, &VmOptions::default())
    }

    /// Adopts the pinned instance `instance`: its maps (with the chain table and code heap as
    /// they are, so packets keep flowing), its programs and its maps shared by name. Loaders
    /// are adopted one by one with [`Vm::open_loader`].
    pub fn open_pinned_with(instance: &str, opts: &VmOptions) -> Result<Vm> {
        let (dir, hike_dir) = Vm::instance_dirs(instance, opts)?;
        pin::ensure_bpffs(&opts.bpffs)?;
        if !dir.is_dir() {
            return Err(Error::InstanceNotFound {
                name: instance.to_owned(),
                path: dir,
            });
        }
        let maps = VmMaps::open_pinned(&dir, instance)?;
        let chains = ChainTable::open(&maps, opts.grace, true)?;

        let shared = dir.join("shared");
        let mut named = NamedMaps {
            maps: BTreeMap::new(),
            pin_dir: Some(shared.clone()),
        };
        for entry in pin::list_dir(&shared)? {
            let path = shared.join(&entry);
            let h = MapHandle::from_pinned_path(&path).map_err(|e| Error::Pin {
                op: "open pin",
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
            named.maps.insert(pin::unpin_name(&entry), h);
        }

        let pinned = Pinned {
            name: instance.to_owned(),
            dir: dir.clone(),
            hike_dir,
        };
        let vm = Vm::assemble(maps, chains, named, Some(pinned))?;
        vm.adopt_programs(&dir.join("progs"))?;
        Ok(vm)
    }

    /// Rebuilds the program table from the pins.
    ///
    /// A program is pinned in `progs/<id>-new` before it enters its slot, then moved to
    /// `progs/<id>`; so after a crash the version whose program is in the slot is the one to
    /// keep, wherever it is pinned, and any other version is discarded. A slot whose program
    /// is pinned nowhere is cleared (an interrupted removal unpins first); a pin whose program
    /// is in no slot is put back in (only tampering can cause it).
    fn adopt_programs(&self, progs_dir: &Path) -> Result<()> {
        let mut programs = lock(&self.programs);
        let mut by_slot: BTreeMap<ProgramId, Vec<PathBuf>> = BTreeMap::new();
        for entry in pin::list_dir(progs_dir)? {
            let path = progs_dir.join(&entry);
            let slot = entry.strip_suffix("-new").unwrap_or(&entry);
            match slot.parse::<u32>().ok().and_then(ProgramId::new) {
                Some(id) => by_slot.entry(id).or_default().push(path),
                None => pin::remove_tree(&path)?,
            }
        }
        for (id, versions) in by_slot {
            let in_slot = self.table_program(id);
            let final_dir = progs_dir.join(id.to_string());
            let mut keep = None;
            for path in &versions {
                if let Some((name, object)) = LoadedObject::open_pinned(path)? {
                    let current = Some(object.program.id()) == in_slot;
                    if current || (in_slot.is_none() && *path == final_dir && keep.is_none()) {
                        keep = Some((path.clone(), name, object));
                    }
                }
            }
            for path in &versions {
                if keep.as_ref().is_none_or(|(k, _, _)| k != path) {
                    pin::remove_tree(path)?;
                }
            }
            let Some((path, name, object)) = keep else {
                continue;
            };
            if path != final_dir {
                std::fs::rename(&path, &final_dir).map_err(|source| Error::Pin {
                    op: "rename",
                    path: path.clone(),
                    source,
                })?;
            }
            if in_slot != Some(object.program.id()) {
                let context = program_context(&name, &object.program)?;
                self.table_insert(id, object.program.as_fd(), context)?;
            }
            let maps = map_refs(&name, object.maps);
            programs.insert(
                id,
                ProgramEntry {
                    name,
                    program: object.program,
                    maps,
                },
            );
        }
        for slot in 0..hike_isa::abi::MAX_PROGS {
            let id = ProgramId::new(slot).expect("slot below MAX_PROGS");
            if !programs.contains_key(&id) && self.table_program(id).is_some() {
                self.table_delete(id)?;
            }
        }
        Ok(())
    }

    /// Removes a pinned instance: unpins everything (which detaches its loaders and frees
    /// every program and map once no process holds them) and removes its directory. For a
    /// private instance this is the same as dropping it.
    pub fn destroy(self) -> Result<()> {
        if let Some(p) = &self.pinned {
            // Loaders first, so that their attachments are detached when this returns.
            let loaders = p.dir.join("loaders");
            for name in pin::list_dir(&loaders)? {
                crate::loader::remove_loader_dir(&loaders.join(name))?;
            }
            pin::remove_tree(&p.dir)?;
            pin::remove_dir_if_empty(&p.hike_dir);
        }
        Ok(())
    }

    /// The instance's name, if it is pinned.
    pub fn instance_name(&self) -> Option<&str> {
        self.pinned.as_ref().map(|p| p.name.as_str())
    }

    /// The instance's directory, if it is pinned.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pinned.as_ref().map(|p| p.dir.as_path())
    }

    /// Possible CPUs (the length of every per-CPU value).
    pub fn num_cpus(&self) -> usize {
        self.ncpus
    }

    /// A reference to one of the shared VM maps.
    pub fn vm_map(&self, m: VmMap) -> MapRef {
        self.maps.get_ref(m).clone()
    }

    // ---- chains ------------------------------------------------------------------------

    /// Installs (or atomically replaces) chain `id`.
    ///
    /// The code should have been checked by `hike_isa::validate` (the VM checks every step
    /// anyway, but only the validator gives a diagnostic before the chain runs);
    /// [`Vm::install_validated_chain`] does both. Refused here:
    /// an empty chain, one longer than `MAX_CHAIN_INSNS`, one that does not fit the heap.
    /// Replacing a chain needs room for both versions at once (the old one stays readable
    /// until no packet can be running it). May sleep up to the grace delay when only retired
    /// versions stand in the way. A chain installed where there was none starts with zero
    /// counters: those of a previous chain of that ID are not its own.
    pub fn install_chain(&self, id: ChainId, code: &[Insn], nparams: u8) -> Result<()> {
        let mut chains = lock(&self.chains);
        if chains.desc(id).len == 0 {
            self.zero_counters(VmMap::ChainStats, id.get())?;
        }
        chains.install(id, code, nparams)
    }

    /// Validates `chain` with `hike_isa::validate` against `ctx` (the chains and programs it
    /// may call), then installs it as chain `id` like [`Vm::install_chain`]. Nothing changes
    /// if validation fails; the error lists every problem, naming the chain and instruction.
    pub fn install_validated_chain(
        &self,
        id: ChainId,
        chain: &hike_isa::validate::Chain<'_>,
        ctx: &hike_isa::validate::Context,
    ) -> Result<()> {
        hike_isa::validate::validate(chain, ctx).map_err(|source| Error::InvalidChain {
            chain: id,
            name: chain.name.to_owned(),
            source,
        })?;
        self.install_chain(id, chain.insns, chain.nparams)
    }

    /// Removes chain `id` (packets that start it from now on fault with `no_chain`);
    /// returns whether it existed.
    pub fn remove_chain(&self, id: ChainId) -> bool {
        lock(&self.chains).remove(id)
    }

    /// The descriptor of chain `id`, if it has code.
    pub fn chain(&self, id: ChainId) -> Option<ChainDesc> {
        Some(lock(&self.chains).desc(id)).filter(|d| d.len > 0)
    }

    /// The instructions of chain `id`, read back from the code heap.
    pub fn chain_code(&self, id: ChainId) -> Option<Vec<Insn>> {
        lock(&self.chains).code(id)
    }

    /// Every installed chain.
    pub fn chains(&self) -> Vec<(ChainId, ChainDesc)> {
        lock(&self.chains).live()
    }

    /// How the code heap is used.
    pub fn heap_usage(&self) -> HeapUsage {
        lock(&self.chains).usage()
    }

    /// Returns once every packet that was being processed when it was called (by any
    /// loader, chain or program) has finished: one kernel RCU grace period. After moving an
    /// attachment to a new loader, this makes the old loader's chains and programs
    /// unreachable.
    pub fn wait_for_packets_in_flight(&self) -> Result<()> {
        lock(&self.chains).wait_for_readers()
    }

    /// Changes the grace delay of retired chain code (see [`VmOptions::grace`]).
    pub fn set_grace(&self, grace: Duration) {
        lock(&self.chains).set_grace(grace);
    }

    // ---- programs ----------------------------------------------------------------------

    /// The kernel ID of the program in slot `id`, in either program table (a slot holds a
    /// program in one of them).
    fn table_program(&self, id: ProgramId) -> Option<u32> {
        [VmMap::Progs, VmMap::ProgsTc]
            .into_iter()
            .find_map(|table| {
                let v = self
                    .maps
                    .get(table)
                    .lookup(&id.get().to_ne_bytes(), MapFlags::ANY)
                    .ok()??;
                Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))
            })
    }

    /// Puts the program `fd` in slot `id` of its context's table, then empties the slot of
    /// the other table (a program of the other context replaced): chains find the new program
    /// from the first step on.
    fn table_insert(
        &self,
        id: ProgramId,
        fd: std::os::fd::BorrowedFd<'_>,
        context: ProgContext,
    ) -> Result<()> {
        let value = (fd.as_raw_fd() as u32).to_ne_bytes();
        let table = program_table(context);
        self.maps
            .get(table)
            .update(&id.get().to_ne_bytes(), &value, MapFlags::ANY)
            .map_err(|source| Error::ProgramTable {
                op: "insert",
                id,
                source,
            })?;
        let other = match table {
            VmMap::Progs => VmMap::ProgsTc,
            _ => VmMap::Progs,
        };
        self.table_delete_in(other, id)
    }

    fn table_delete(&self, id: ProgramId) -> Result<()> {
        self.table_delete_in(VmMap::Progs, id)?;
        self.table_delete_in(VmMap::ProgsTc, id)
    }

    fn table_delete_in(&self, table: VmMap, id: ProgramId) -> Result<()> {
        match self.maps.get(table).delete(&id.get().to_ne_bytes()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::ProgramTable {
                op: "delete",
                id,
                source,
            }),
        }
    }

    /// Loads `program` of the object `object` and puts it in slot `id` of the program table.
    /// Fails if the slot is taken (see [`Vm::replace_program`]). On failure nothing is left:
    /// no slot, no pin.
    pub fn load_program(&self, object: &[u8], program: &str, id: ProgramId) -> Result<()> {
        self.put_program(object, program, id, false)
    }

    /// Like [`Vm::load_program`], but an existing program in the slot is replaced atomically:
    /// every chain call after the switch reaches the new program.
    pub fn replace_program(&self, object: &[u8], program: &str, id: ProgramId) -> Result<()> {
        self.put_program(object, program, id, true)
    }

    fn put_program(&self, bytes: &[u8], program: &str, id: ProgramId, replace: bool) -> Result<()> {
        let mut programs = lock(&self.programs);
        if !replace {
            if let Some(e) = programs.get(&id) {
                return Err(Error::ProgramSlotInUse {
                    id,
                    name: e.name.clone(),
                });
            }
        }
        let loaded = object::load(&self.maps, &mut lock(&self.named), program, bytes, program)?;
        let context = program_context(program, &loaded.program)?;
        // A program in an empty slot starts with zero calls: those of a previous program of
        // that slot are not its own.
        if !programs.contains_key(&id) {
            self.zero_counters(VmMap::ProgStats, id.get())?;
        }

        // Pinned: pin into `<id>-new`, switch the slot, then move the pins to `<id>`. After a
        // crash anywhere in between, `open_pinned` keeps the version that is in the slot.
        let staging = self
            .pinned
            .as_ref()
            .map(|p| p.dir.join("progs").join(format!("{id}-new")));
        let guard = RemoveOnError {
            path: staging.as_deref(),
        };
        if let Some(dir) = &staging {
            pin::remove_tree(dir)?;
            loaded.pin(dir, program)?;
        }
        self.table_insert(id, loaded.program.as_fd(), context)?;
        // From here on the new program is live: record it whatever happens to the pins.
        guard.disarm();
        let maps = map_refs(program, loaded.maps);
        programs.insert(
            id,
            ProgramEntry {
                name: program.to_owned(),
                program: loaded.program,
                maps,
            },
        );
        if let (Some(p), Some(staging)) = (&self.pinned, &staging) {
            let final_dir = p.dir.join("progs").join(id.to_string());
            pin::remove_tree(&final_dir)?;
            std::fs::rename(staging, &final_dir).map_err(|source| Error::Pin {
                op: "rename",
                path: staging.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Removes the program in slot `id`: chains calling it fault with `no_prog` from now on.
    pub fn remove_program(&self, id: ProgramId) -> Result<()> {
        let mut programs = lock(&self.programs);
        if !programs.contains_key(&id) {
            return Err(Error::NoProgram { id });
        }
        if let Some(p) = &self.pinned {
            pin::remove_tree(&p.dir.join("progs").join(id.to_string()))?;
        }
        self.table_delete(id)?;
        programs.remove(&id);
        Ok(())
    }

    /// The programs of the program table.
    pub fn programs(&self) -> Vec<ProgramInfo> {
        lock(&self.programs)
            .iter()
            .map(|(id, e)| ProgramInfo {
                id: *id,
                name: e.name.clone(),
                kernel_id: e.program.id(),
                maps: e.maps.keys().cloned().collect(),
                params: crate::btf::loaded_program_signature(e.program.id(), &e.name)
                    .map(|s| s.params),
            })
            .collect()
    }

    /// A validation context of what is loaded now: every installed chain (with its declared
    /// parameters) and every program (with the parameters of its `hike_params` tag, 0 if it
    /// has none), for [`Vm::install_validated_chain`]. Add the chains being installed with
    /// it too, so that they may call each other.
    pub fn validation_context(&self) -> hike_isa::validate::Context {
        let mut ctx = hike_isa::validate::Context::new();
        for (id, d) in self.chains() {
            ctx.add_chain(id.get(), d.nparams);
        }
        for p in self.programs() {
            let n = p.params.map_or(0, |v| v.len().min(u8::MAX as usize) as u8);
            ctx.add_prog(p.id.get(), n);
        }
        ctx
    }

    /// Map `map` of the program in slot `id`.
    pub fn program_map(&self, id: ProgramId, map: &str) -> Result<MapRef> {
        let programs = lock(&self.programs);
        let e = programs.get(&id).ok_or(Error::NoProgram { id })?;
        e.maps.get(map).cloned().ok_or_else(|| Error::MapNotFound {
            owner: e.name.clone(),
            map: map.to_owned(),
            available: e.maps.keys().cloned().collect(),
        })
    }

    /// A map shared by name (`LIBBPF_PIN_BY_NAME`) among the instance's objects.
    pub fn shared_map(&self, map: &str) -> Result<MapRef> {
        let named = lock(&self.named);
        let h = named.maps.get(map).ok_or_else(|| Error::MapNotFound {
            owner: "shared".to_owned(),
            map: map.to_owned(),
            available: named.maps.keys().cloned().collect(),
        })?;
        let dup = MapHandle::try_from(h).map_err(|e| Error::TakeFd {
            object: "shared".to_owned(),
            name: map.to_owned(),
            source: std::io::Error::other(e),
        })?;
        Ok(MapRef::new(format!("shared.{map}"), dup))
    }

    // ---- loaders -----------------------------------------------------------------------

    /// Where a new loader `name` is pinned in a pinned instance (`loaders/<name>/`, refused if
    /// it exists); `None` in a private one.
    fn new_loader_dir(&self, name: &str) -> Result<Option<PathBuf>> {
        pin::check_name(name)?;
        let Some(p) = &self.pinned else {
            return Ok(None);
        };
        let dir = p.dir.join("loaders").join(name);
        if dir.exists() {
            return Err(Error::LoaderExists {
                name: name.to_owned(),
            });
        }
        Ok(Some(dir))
    }

    /// The [`Loader`] of a loaded object's `program`, pinned in `dir` if given (removed again
    /// if pinning fails).
    fn new_loader(
        name: &str,
        program: &str,
        loaded: object::LoadedObject,
        dir: Option<PathBuf>,
    ) -> Result<Loader> {
        let context = program_context(name, &loaded.program)?;
        if let Some(dir) = &dir {
            let guard = RemoveOnError { path: Some(dir) };
            loaded.pin(dir, program)?;
            guard.disarm();
        }
        let maps = map_refs(name, loaded.maps);
        Ok(Loader::new(
            name.to_owned(),
            program.to_owned(),
            loaded.program,
            context,
            maps,
            BTreeMap::new(),
            dir,
        ))
    }

    /// Loads `program` of the object `object` as a loader called `name`.
    ///
    /// In a pinned instance the loader is pinned in `loaders/<name>/` (the name must be new
    /// there); in a private one the name only labels errors and maps. The loader is not
    /// attached anywhere: use [`Loader::test_run`] or [`Loader::attach_xdp`].
    pub fn load_loader(&self, name: &str, object: &[u8], program: &str) -> Result<Loader> {
        let dir = self.new_loader_dir(name)?;
        let loaded = object::load(&self.maps, &mut lock(&self.named), name, object, program)?;
        Self::new_loader(name, program, loaded, dir)
    }

    /// Loads a fused program (`hike-fused`: a script's loader, chains and program bodies as
    /// one program, `program` of `object`) as a loader called `name`, with the maps of
    /// `reuse` by name (the interpreted loader's and programs' maps, so both modes share their
    /// state) and the instance's shared maps; a map of the object in neither is new.
    pub fn load_fused(
        &self,
        name: &str,
        object: &[u8],
        program: &str,
        reuse: &BTreeMap<String, MapRef>,
    ) -> Result<Loader> {
        let dir = self.new_loader_dir(name)?;
        let loaded = object::load_reusing(
            &self.maps,
            &mut lock(&self.named),
            name,
            object,
            program,
            reuse,
        )?;
        Self::new_loader(name, program, loaded, dir)
    }

    /// Adopts the pinned loader `name`, with its maps and attachments.
    pub fn open_loader(&self, name: &str) -> Result<Loader> {
        pin::check_name(name)?;
        let not_found = || Error::LoaderNotFound {
            name: name.to_owned(),
        };
        let p = self.pinned.as_ref().ok_or_else(not_found)?;
        let dir = p.dir.join("loaders").join(name);
        let (program, loaded) = LoadedObject::open_pinned(&dir)?.ok_or_else(not_found)?;
        let context = program_context(name, &loaded.program)?;
        let maps = map_refs(name, loaded.maps);
        let links_dir = dir.join("links");
        let mut links = BTreeMap::new();
        for entry in pin::list_dir(&links_dir)? {
            let path = links_dir.join(&entry);
            let Some(at) = Attachment::from_pin_name(&entry) else {
                continue;
            };
            let fd: OwnedFd = crate::sys::obj_get(&path).map_err(|source| Error::Pin {
                op: "open pin",
                path,
                source,
            })?;
            links.insert(at, fd);
        }
        Ok(Loader::new(
            name.to_owned(),
            program,
            loaded.program,
            context,
            maps,
            links,
            Some(dir),
        ))
    }

    /// Removes the pins of loader `name` without opening it (a loader whose pins a crash left
    /// incomplete cannot be opened): its attachments first, which detaches them.
    pub fn remove_loader_pins(&self, name: &str) -> Result<()> {
        pin::check_name(name)?;
        match &self.pinned {
            Some(p) => crate::loader::remove_loader_dir(&p.dir.join("loaders").join(name)),
            None => Ok(()),
        }
    }

    /// The names of the pinned loaders (none in a private instance).
    pub fn loader_names(&self) -> Result<Vec<String>> {
        match &self.pinned {
            Some(p) => pin::list_dir(&p.dir.join("loaders")),
            None => Ok(Vec::new()),
        }
    }

    // ---- configuration, state and counters --------------------------------------------

    /// A reader of the instance's event ring buffer (events of chains and programs).
    pub fn event_reader(&self) -> Result<crate::EventReader> {
        crate::EventReader::new(self.vm_map(VmMap::Events))
    }

    /// Sets the VM configuration (budget, flags).
    pub fn set_config(&self, config: VmConfig) -> Result<()> {
        self.vm_map(VmMap::Config).update(
            &0u32.to_ne_bytes(),
            bytemuck::bytes_of(&config),
            Default::default(),
        )
    }

    /// The VM configuration.
    pub fn config(&self) -> Result<VmConfig> {
        let v = self
            .vm_map(VmMap::Config)
            .lookup(&0u32.to_ne_bytes())?
            .unwrap_or_default();
        Ok(bytemuck::try_pod_read_unaligned(&v).unwrap_or_default())
    }

    pub(crate) fn percpu<T: bytemuck::Pod>(&self, m: VmMap, key: u32) -> Result<Vec<T>> {
        let values = self
            .vm_map(m)
            .lookup_percpu(&key.to_ne_bytes())?
            .unwrap_or_default();
        Ok(values
            .iter()
            .filter_map(|v| bytemuck::try_pod_read_unaligned(&v[..std::mem::size_of::<T>()]).ok())
            .collect())
    }

    /// The per-CPU VM state of `cpu` (see [`crate::pin_thread_to_cpu`] to run a packet on a
    /// known CPU).
    pub fn vm_state(&self, cpu: usize) -> Result<VmState> {
        if cpu >= self.ncpus {
            return Err(Error::NoSuchCpu {
                cpu,
                count: self.ncpus,
            });
        }
        let states: Vec<VmState> = self.percpu(VmMap::State, 0)?;
        Ok(states.get(cpu).copied().unwrap_or_else(VmState::zeroed))
    }

    /// The counters of chain `id`, summed over CPUs.
    pub fn chain_stats(&self, id: ChainId) -> Result<ChainStats> {
        let mut sum = ChainStats::default();
        for s in self.percpu::<ChainStats>(VmMap::ChainStats, id.get())? {
            sum.runs += s.runs;
            for (a, b) in sum.faults.iter_mut().zip(s.faults) {
                *a += b;
            }
        }
        Ok(sum)
    }

    /// The counters of program slot `id`, summed over CPUs.
    pub fn prog_stats(&self, id: ProgramId) -> Result<ProgStats> {
        let calls = self
            .percpu::<ProgStats>(VmMap::ProgStats, id.get())?
            .iter()
            .map(|s| s.calls)
            .sum();
        Ok(ProgStats { calls })
    }

    /// Faults by reason (index: fault code), summed over CPUs.
    pub fn fault_counts(&self) -> Result<[u64; Fault::MAX]> {
        let mut out = [0u64; Fault::MAX];
        for (code, slot) in out.iter_mut().enumerate() {
            *slot = self.percpu::<u64>(VmMap::Faults, code as u32)?.iter().sum();
        }
        Ok(out)
    }

    /// Zeroes the per-CPU counters at `key` of the counter map `m`.
    pub(crate) fn zero_counters(&self, m: VmMap, key: u32) -> Result<()> {
        let r = self.vm_map(m);
        let zero = vec![vec![0u8; r.value_size()]; self.ncpus];
        r.update_percpu(&key.to_ne_bytes(), &zero, Default::default())
    }

    /// Zeroes the runs and faults of chain `id` (a replace gives new chains new IDs, so a
    /// client that wants a script's counters to start again asks for it).
    pub fn reset_chain_counters(&self, id: ChainId) -> Result<()> {
        self.zero_counters(VmMap::ChainStats, id.get())
    }

    /// Zeroes the calls of program slot `id` (counted for every chain that calls it).
    pub fn reset_program_counters(&self, id: ProgramId) -> Result<()> {
        self.zero_counters(VmMap::ProgStats, id.get())
    }

    /// Zeroes every chain, program and fault counter.
    pub fn reset_counters(&self) -> Result<()> {
        for (m, n) in [
            (VmMap::ChainStats, hike_isa::abi::MAX_CHAINS),
            (VmMap::ProgStats, hike_isa::abi::MAX_PROGS),
            (VmMap::Faults, Fault::MAX as u32),
        ] {
            for key in 0..n {
                self.zero_counters(m, key)?;
            }
        }
        Ok(())
    }
}
