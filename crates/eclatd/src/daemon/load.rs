//! Compiling, loading (all or nothing, through an undo log), replacing and unloading scripts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use eclat_catalog::layout::hex;
use eclat_catalog::{Hook, ObjectId, PackageCatalog};
use eclat_compiler::Define;
use eclat_link::link::{LinkedScript, MapOwner};
use eclat_link::{link_with, IdAllocator, Mode, Unit};
use hike_isa::abi::{DISPATCH_PER_HOOK, DISPATCH_SLOTS};
use hike_isa::abi::{MAX_CHAINS, MAX_PROGS};
use hike_isa::validate::Chain as ValidatedChain;
use hike_runtime::{Attachment, ChainId, Loader, MapRef, ProgramId, TcPlacement, UpdateMode};

use super::bundles::{self, Bundle};
use super::maps::{read_raw, write_raw};
use super::order;
use super::reconfigure;
use super::{
    check_script_name, create_private_dir, default_name, limits, lock, now_secs, Daemon, Inner,
    Loaded, Placement, ScriptSource,
};
use crate::crash;
use crate::error::{chain, DaemonError, Result};
use crate::state::{
    self, AttachmentRecord, ChainRecord, LoaderRecord, MapEntryUndo, Pending, PendingAttachment,
    ProgramRecord, ScriptRecord, State,
};

/// The bytes of lowercase or uppercase hex `text` (validated by the state's checks).
pub(super) fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
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

/// A script and what it imports, compiled: link units (the main script first) and warnings.
pub(super) struct Units {
    pub(super) units: Vec<(String, eclat_compiler::output::CompiledScript)>,
    pub(super) warnings: String,
}

/// Removes a working directory when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Best effort: a leftover copy of a script is harmless and removed at the next start.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The index of interface `name` in the daemon's network namespace.
fn ifindex_of(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The hook a script's loader runs at: that of its `attach`es (all of one kind: a loader is
/// built for XDP or for TC), `xdp` when it attaches nowhere.
pub(super) fn script_hook(
    name: &str,
    script: &eclat_compiler::output::CompiledScript,
    loader: Option<&str>,
) -> Result<Hook> {
    let hooks: BTreeSet<Hook> = script
        .attachments
        .iter()
        .filter(|a| loader.is_none_or(|l| a.loader == l))
        .filter_map(|a| Hook::from_name(&a.hook))
        .collect();
    let tc = hooks.iter().filter(|h| h.is_tc()).count();
    if tc > 0 && hooks.contains(&Hook::Xdp) {
        return Err(DaemonError::Unsupported {
            script: name.to_owned(),
            message: "its loader attaches at xdp and at a tc hook: a loader is built for one of them; load the xdp and the tc attachments as two scripts".into(),
        });
    }
    Ok(hooks.into_iter().next().unwrap_or(Hook::Xdp))
}

/// The digest of the build of `object` a script at `hook` loads.
fn build_digest(catalog: &PackageCatalog, object: eclat_catalog::ObjectId, hook: Hook) -> String {
    catalog
        .object(object)
        .digest_for(hook)
        .unwrap_or_default()
        .to_owned()
}

/// Refuses a replace that would move a TC script among its hook's programs (another priority,
/// or another placement among other tools' programs where it runs at TC).
fn check_tc_place_kept(old: &ScriptRecord, new: &ScriptRecord) -> Result<()> {
    let Some(a) = new
        .loader
        .attachments
        .iter()
        .find(|a| a.hook != "xdp" && old.loader.attachments.iter().any(|x| same_place(x, a)))
    else {
        return Ok(());
    };
    if old.priority != new.priority {
        return Err(DaemonError::TcMove {
            script: new.name.clone(),
            at: format!("the {} hook of interface `{}`", a.hook, a.device),
            what: "priority",
            old: old.priority.to_string(),
            new: new.priority.to_string(),
        });
    }
    if old.tc_placement != new.tc_placement {
        return Err(DaemonError::TcMove {
            script: new.name.clone(),
            at: format!("the {} hook of interface `{}`", a.hook, a.device),
            what: "tc-placement",
            old: old.tc_placement.name(),
            new: new.tc_placement.name(),
        });
    }
    Ok(())
}

/// Where a new TC link of `record` goes at `a`: just before the first script of ours that
/// runs after it there (in `planned`'s order), else just after the last one before it, else
/// where the script asked among other tools' programs.
fn tc_place(
    planned: &State,
    loaders: &BTreeMap<String, Loader>,
    record: &ScriptRecord,
    a: &AttachmentRecord,
) -> TcPlacement {
    let Some(hook) = order::hooks(planned)
        .into_iter()
        .find(|h| h.ifindex == a.ifindex && h.hook == a.hook)
    else {
        return record.tc_placement;
    };
    let at = hook
        .scripts
        .iter()
        .position(|s| s.name == record.name)
        .expect("the planned state holds the record");
    let id_of = |s: &ScriptRecord| loaders.get(&s.loader.pin).map(Loader::kernel_id);
    if let Some(id) = hook.scripts[at + 1..].iter().find_map(|s| id_of(s)) {
        return TcPlacement::Before(id);
    }
    if let Some(id) = hook.scripts[..at].iter().rev().find_map(|s| id_of(s)) {
        return TcPlacement::After(id);
    }
    record.tc_placement
}

/// Whether two attachment records are the same interface and hook.
fn same_place(a: &AttachmentRecord, b: &AttachmentRecord) -> bool {
    a.ifindex == b.ifindex && a.hook == b.hook
}

/// The runtime's attachment of a record (its hook was checked with the state).
pub(super) fn runtime_attachment(a: &AttachmentRecord) -> Attachment {
    Attachment {
        ifindex: a.ifindex,
        hook: a.hook.parse().unwrap_or(hike_runtime::Hook::Xdp),
    }
}

/// Chooses IDs for a load: a program keeps the slot it has if it is the same build of its
/// object (shared), a new one (or new code of a loaded one) gets the lowest free slot; a chain
/// gets the lowest ID no script uses (the version being replaced keeps its IDs until the
/// switch).
pub(super) struct Allocator<'a> {
    state: &'a State,
    catalog: &'a PackageCatalog,
    /// The hook the script runs at: which build of each object it loads.
    hook: Hook,
    taken_progs: BTreeSet<u32>,
    taken_chains: BTreeSet<u32>,
}

impl<'a> Allocator<'a> {
    pub(super) fn new(state: &'a State, catalog: &'a PackageCatalog, hook: Hook) -> Allocator<'a> {
        Allocator {
            state,
            catalog,
            hook,
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
        if let Some(p) = self.state.programs.iter().find(|p| {
            p.object == object_name
                && p.name == program
                && !p.digest.is_empty()
                && self.catalog.object(object).digest_for(self.hook) == Some(p.digest.as_str())
        }) {
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
        at: Attachment,
    },
    TakeOver {
        at: Attachment,
        from: String,
        to: String,
    },
    /// The order of the scripts (slots, next entries, words) was rewritten for the new
    /// record: its undo writes the committed record's order again.
    Order,
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
                Undo::Order => {
                    let plan = order::plan(&inner.state);
                    if let Err(e) = order::apply(&inner.vm, &inner.loaders, &plan)
                        .and_then(|()| order::prune(&inner.vm, &plan))
                    {
                        warn("restore the order of the scripts", &chain(&e));
                    }
                }
                Undo::TakeOver { at, from, to } => {
                    if let (Some(f), Some(t)) = (inner.loaders.get(&from), inner.loaders.get(&to)) {
                        if let Err(e) = f.take_over(t, at) {
                            warn("move an attachment back", &chain(&e));
                        }
                    }
                }
                Undo::Attach { pin, at } => {
                    if let Some(l) = inner.loaders.get(&pin) {
                        if let Err(e) = l.detach(at) {
                            warn("detach", &chain(&e));
                        }
                    }
                }
                Undo::Entry { map, key, previous } => {
                    if let Err(e) = write_raw(&map, &key, previous.as_deref()) {
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

/// A load or replace staged by [`Daemon::stage`]: loaded beside what runs, its intent
/// saved, waiting for [`Daemon::switch`] or [`Daemon::unstage`]. Valid only while the
/// state is the one it was staged against (`committed`): whatever changes the state first
/// drops the one the daemon holds ([`Daemon::drop_held`]).
pub(super) struct Staged {
    catalog: Arc<PackageCatalog>,
    /// The packages came with the script (a fleet's, prebuilt), not from the daemon's: its
    /// maps' layouts are read in their catalog, and they are kept on disk ([`bundles`]).
    bundle: Option<Arc<Bundle>>,
    linked: LinkedScript,
    record: ScriptRecord,
    old: Option<ScriptRecord>,
    hook: Hook,
    /// The state before the intent, restored when it is dropped.
    committed: State,
    /// The undo log of its kernel steps so far.
    txn: Txn,
    warnings: String,
    maps: Vec<super::MapReset>,
}

impl Staged {
    /// The script's name.
    pub(super) fn name(&self) -> &str {
        &self.record.name
    }

    /// The user packages it brought, if any.
    pub(super) fn packages(&self) -> Option<&[eclat_fleet::model::Package]> {
        self.bundle.as_ref().map(|b| b.packages.as_slice())
    }

    /// Whether it replaces a loaded version.
    pub(super) fn replaces(&self) -> bool {
        self.old.is_some()
    }

    /// The compiler's warnings.
    pub(super) fn warnings(&self) -> &str {
        &self.warnings
    }
}

/// After a replace is recorded: the old loader (where the new one does not run), the old
/// chains the new version does not reuse and the programs no script calls any more go.
/// Failures leave unlisted objects, removed at the next start.
fn remove_old_version(inner: &mut Inner, old: &ScriptRecord, new: &ScriptRecord, unused: &[u32]) {
    let kept: BTreeSet<u32> = new.chains.iter().map(|c| c.id).collect();
    let chains: Vec<u32> = old
        .chains
        .iter()
        .map(|c| c.id)
        .filter(|id| !kept.contains(id))
        .collect();
    let what = format!("replace `{}`", old.name);
    retire(inner, &what, &old.loader.pin, &chains, unused);
}

/// Removes a loader (which detaches it), waits for the packets in flight, then removes
/// `chains` and the program slots `unused`, which those packets may still have been using.
/// Failures are logged: the state no longer lists these objects, so the next start removes
/// what is left.
fn retire(inner: &mut Inner, what: &str, loader_pin: &str, chains: &[u32], unused: &[u32]) {
    let warn = |e: &hike_runtime::Error| eprintln!("eclatd: warning: {what}: {}", chain(e));
    if let Some(l) = inner.loaders.remove(loader_pin) {
        if let Err(e) = l.remove() {
            warn(&e);
        }
    }
    crash::point("loader.removed");
    if let Err(e) = inner.vm.wait_for_packets_in_flight() {
        warn(&e);
    }
    for id in chains {
        inner.vm.remove_chain(ChainId::new(*id).expect("recorded"));
    }
    crash::point("chains.removed");
    for id in unused {
        if let Err(e) = inner
            .vm
            .remove_program(ProgramId::new(*id).expect("recorded"))
        {
            warn(&e);
        }
    }
}

/// After a commit and the removal of what it replaced: the next entries and slots the
/// recorded order no longer has go. A failure leaves entries no packet reaches; the next
/// start removes them.
fn prune_order(inner: &mut Inner, what: &str) {
    if let Err(e) = order::prune(&inner.vm, &order::plan(&inner.state)) {
        eprintln!("eclatd: warning: {what}: {}", chain(&e));
    }
}

/// The client's files of script `name` as its fused program's `#line`s name them (the file
/// names the user gave; a sibling beside the main script): a verifier refusal then names the
/// script's file and the line of the chain's `def`.
fn script_files(name: &str, src: &ScriptSource) -> eclat_link::fused::ScriptFiles {
    let dir = src.file_name.rsplit_once('/').map(|(d, _)| d);
    let mut files = eclat_link::fused::ScriptFiles::new();
    files.insert(name.to_owned(), (src.file_name.clone(), src.text.clone()));
    // `X.eclat` before `X.hike.c`, as the compiler finds them.
    for ext in [".eclat", ".hike.c"] {
        for (n, text) in &src.siblings {
            let Some(stem) = n.strip_suffix(ext) else {
                continue;
            };
            let shown = dir.map_or_else(|| n.clone(), |d| format!("{d}/{n}"));
            files
                .entry(stem.to_owned())
                .or_insert_with(|| (shown, text.clone()));
        }
    }
    files
}

impl Daemon {
    pub(super) fn compile(
        &self,
        catalog: &PackageCatalog,
        name: &str,
        src: &ScriptSource,
    ) -> Result<Units> {
        if src.file_name.is_empty() {
            return Err(DaemonError::Missing {
                what: "source file name",
            });
        }
        // The state file takes no longer one (`State::validate`).
        if src.file_name.len() > limits::FILE_NAME_BYTES {
            return Err(DaemonError::TooBig {
                what: "the source file name",
                size: src.file_name.len(),
                max: limits::FILE_NAME_BYTES,
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
            return Err(DaemonError::TooMany {
                what: "the list of sibling files",
                count: src.siblings.len(),
                max: limits::SIBLINGS,
            });
        }
        if src.defines.len() > limits::DEFINES {
            return Err(DaemonError::TooMany {
                what: "the list of definitions",
                count: src.defines.len(),
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
        let compiled = eclat_link::project::compile_all_prebuilt(
            &work.0.join(&main_file),
            &src.file_name,
            name,
            &defines,
            catalog,
            &src.c_objects,
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
        let catalog = self.fresh_catalog()?;
        match self.compile(&catalog, &name, src) {
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
        placement: &Placement,
    ) -> Result<Loaded> {
        self.load_in_mode(name, src, loader, placement, Mode::Interpreted)
    }

    /// [`Daemon::load`] in `mode`: fused, the script's loader is the fused program of its
    /// loader, chains and programs (`eclat_link::fused`), with the programs' maps (their
    /// slots are loaded as for an interpreted script, and shared the same way), so that a
    /// replace between modes keeps every program's state.
    pub fn load_in_mode(
        &self,
        name: Option<&str>,
        src: &ScriptSource,
        loader: Option<&str>,
        placement: &Placement,
        mode: Mode,
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
        let catalog = self.catalog_for(src)?;
        let units = self.compile(&catalog, &name, src)?;
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        self.drop_held(inner, "a local load");
        let old_exists = inner.state.script(&name).is_some();
        let _op = crash::Operation::enter(if old_exists { "replace" } else { "load" });
        let staged = self.stage(inner, catalog, &name, src, units, loader, placement, mode)?;
        self.switch(inner, staged)
    }

    /// The first half of a load or replace, which changes nothing that runs: the script
    /// linked against the running state, its record, the intent saved (a crash from here on
    /// is undone at the next start), and its new programs, chains and loader loaded (each
    /// verified by the kernel) and configured, the loader pinned but attached nowhere.
    /// [`Daemon::switch`] makes it run; [`Daemon::unstage`] drops it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage(
        &self,
        inner: &mut Inner,
        catalog: Arc<PackageCatalog>,
        name: &str,
        src: &ScriptSource,
        units: Units,
        loader: Option<&str>,
        placement: &Placement,
        mode: Mode,
    ) -> Result<Staged> {
        let name = name.to_owned();
        let Units { units, warnings } = units;
        let old = inner.state.script(&name).cloned();
        let hook = script_hook(&name, &units[0].1, loader)?;
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
            let mut ids = Allocator::new(&inner.state, &catalog, hook);
            link_with(&catalog, main, &others, loader, &mut ids).map_err(|e| DaemonError::Link {
                script: name.clone(),
                message: chain(&e),
            })?
        };
        let attachments = self.resolve_attachments(&name, &units[0].1, &linked, inner)?;
        let maps = reconfigure::map_resets(inner, &linked, old.as_ref())?;
        let generation = old.as_ref().map_or(1, |o| o.generation + 1);
        let slot = match &old {
            Some(o) => o.slot,
            None => (0..DISPATCH_SLOTS)
                .find(|s| inner.state.scripts.iter().all(|x| x.slot != *s))
                .ok_or(DaemonError::TooMany {
                    what: "the scripts of the instance",
                    count: inner.state.scripts.len() + 1,
                    max: DISPATCH_SLOTS as usize,
                })?,
        };
        let record = ScriptRecord {
            priority: placement
                .priority
                .or(old.as_ref().map(|o| o.priority))
                .unwrap_or(state::DEFAULT_PRIORITY),
            proceed_on: placement
                .proceed_on
                .or(old.as_ref().map(|o| o.proceed_on))
                .unwrap_or(state::DEFAULT_PROCEED_ON),
            tc_placement: placement
                .tc_placement
                .or(old.as_ref().map(|o| o.tc_placement))
                .unwrap_or_default(),
            slot,
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
                digest: build_digest(&catalog, linked.loader.object, hook),
                attachments: attachments.clone(),
            },
            mode: match mode {
                Mode::Interpreted => String::new(),
                Mode::Fused => mode.to_string(),
            },
        };
        if let Some(o) = &old {
            check_tc_place_kept(o, &record)?;
        }

        // The intent first: a crash from here until the commit leaves a record of what to
        // undo, which the next start plays (`adopt`).
        let pending = Daemon::intent(inner, &linked, &record, old.as_ref())?;
        // The packages it brought, kept before the intent: a record a restarted daemon reads
        // has them.
        if let Some(b) = &src.bundle {
            let pin = &record.loader.pin;
            bundles::save(&self.state_dir, pin, b).map_err(|source| DaemonError::Io {
                path: self.state_dir.join("bundles").join(format!("{pin}.json")),
                source,
            })?;
        }
        let committed = inner.state.clone();
        inner.state.pending = Some(pending);
        if let Err(source) = state::save(&self.state_dir, &inner.state, Some("intent")) {
            inner.state = committed;
            bundles::tidy(&self.state_dir, &inner.state);
            return Err(DaemonError::SaveState {
                path: state::path(&self.state_dir),
                source,
            });
        }
        crash::point("intent.saved");
        let mut txn = Txn::default();
        let files = script_files(&name, src);
        if let Err(e) =
            Daemon::load_beside(&catalog, inner, &linked, &record, hook, &files, &mut txn)
        {
            self.roll_back(inner, txn, committed);
            return Err(e);
        }
        Ok(Staged {
            catalog,
            bundle: src.bundle.clone(),
            linked,
            record,
            old,
            hook,
            committed,
            txn,
            warnings,
            maps,
        })
    }

    /// Drops what [`Daemon::stage`] loaded: its loader, chains and new programs go, and its
    /// intent; nothing that runs was touched.
    pub(super) fn unstage(&self, inner: &mut Inner, staged: Staged) {
        self.roll_back(inner, staged.txn, staged.committed);
    }

    /// Undoes the kernel steps of `txn`, and the state is `committed` again, its intent
    /// forgotten.
    fn roll_back(&self, inner: &mut Inner, txn: Txn, committed: State) {
        txn.undo(inner);
        inner.state = committed;
        self.forget_intent(inner);
        bundles::tidy(&self.state_dir, &inner.state);
    }

    /// After a commit: the bundle files and cached objects no running (or held) script
    /// names go.
    fn tidy_bundles(&self, inner: &Inner) {
        bundles::tidy(&self.state_dir, &inner.state);
        let held = inner.held.as_ref().and_then(|h| h.packages());
        let kept = inner.bundles.values().map(|k| k.packages.as_slice());
        let removed = bundles::prune(&self.state_dir, kept.chain(held));
        if removed > 0 {
            tracing::info!(
                removed,
                "pruned the object cache of objects no script names"
            );
        }
    }

    /// The second half of a load or replace: the staged version runs (the entries it writes
    /// in shared programs' maps, the order of the scripts, then each interface switched in
    /// one link update: atomic for packets), and its record replaces the intent. On failure,
    /// everything is undone, the staged version too.
    pub(super) fn switch(&self, inner: &mut Inner, staged: Staged) -> Result<Loaded> {
        let Staged {
            catalog,
            bundle,
            linked,
            record,
            old,
            hook,
            committed,
            mut txn,
            warnings,
            maps,
        } = staged;
        let name = record.name.clone();
        if let Err(e) = Daemon::attach(inner, &linked, &record, old.as_ref(), &mut txn) {
            self.roll_back(inner, txn, committed);
            return Err(e);
        }
        // Commit: the record replaces the intent in one save, so that a crash from here on
        // leaves only unlisted objects, which the next start removes.
        let mut next = committed.clone();
        next.scripts.retain(|s| s.name != name);
        next.scripts.push(record.clone());
        for p in &linked.programs {
            if next.program(p.id).is_none() {
                let object = catalog.object(p.object);
                next.programs.push(ProgramRecord {
                    id: p.id,
                    name: p.name.clone(),
                    package: p.package.clone(),
                    object: object.name.clone(),
                    digest: build_digest(&catalog, p.object, hook),
                });
            }
        }
        let unused: Vec<u32> = next
            .programs
            .iter()
            .map(|p| p.id)
            .filter(|id| next.users_of(*id).is_empty())
            .collect();
        next.programs.retain(|p| !unused.contains(&p.id));
        next.programs.sort_by_key(|p| p.id);
        if let Err(source) = state::save(&self.state_dir, &next, Some("commit")) {
            self.roll_back(inner, txn, committed);
            return Err(DaemonError::SaveState {
                path: state::path(&self.state_dir),
                source,
            });
        }
        inner.state = next;
        crash::point("committed");
        match bundle {
            Some(b) => {
                inner.bundles.insert(
                    name.clone(),
                    bundles::Kept {
                        packages: b.packages.clone(),
                        catalog: Ok(b.catalog.clone()),
                    },
                );
            }
            None => {
                inner.bundles.remove(&name);
            }
        }
        self.tidy_bundles(inner);
        if let Some(old) = &old {
            remove_old_version(inner, old, &record, &unused);
        }
        prune_order(inner, &format!("load `{name}`"));
        Ok(Loaded {
            script: record,
            replaced: old.is_some(),
            warnings,
            maps,
        })
    }

    /// What a load will do that a restart must be able to undo: the new chains, loader and
    /// program slots, the interfaces it switches (and from which loader), and the entries of
    /// loaded programs' maps it writes, with their values now.
    fn intent(
        inner: &Inner,
        linked: &LinkedScript,
        record: &ScriptRecord,
        old: Option<&ScriptRecord>,
    ) -> Result<Pending> {
        let mut map_entries = Vec::new();
        for w in &linked.map_writes {
            let MapOwner::Program(id) = w.target else {
                continue; // the new loader's own maps go with it
            };
            if inner.state.program(id).is_none() {
                continue; // a new program: removed whole by an undo
            }
            let what = format!("configure map `{}.{}`", w.owner, w.map);
            let map = inner
                .vm
                .program_map(ProgramId::new(id).expect("linked"), &w.map)
                .map_err(|e| DaemonError::kernel(what.clone(), &e))?;
            for (k, _) in &w.entries {
                let previous =
                    read_raw(&map, k).map_err(|e| DaemonError::kernel(what.clone(), &e))?;
                map_entries.push(MapEntryUndo {
                    program: id,
                    map: w.map.clone(),
                    key: hex(k),
                    previous: previous.map(|vs| vs.iter().map(|v| hex(v)).collect()),
                });
            }
        }
        Ok(Pending {
            script: record.name.clone(),
            generation: record.generation,
            loader_pin: record.loader.pin.clone(),
            chains: record.chains.iter().map(|c| c.id).collect(),
            programs: linked
                .programs
                .iter()
                .map(|p| p.id)
                .filter(|id| inner.state.program(*id).is_none())
                .collect(),
            attachments: record
                .loader
                .attachments
                .iter()
                .map(|a| PendingAttachment {
                    ifindex: a.ifindex,
                    from: if a.hook == "xdp" {
                        order::holder(&inner.loaders, a.ifindex)
                    } else {
                        old.filter(|o| o.loader.attachments.iter().any(|x| same_place(x, a)))
                            .map(|o| o.loader.pin.clone())
                    },
                    hook: a.hook.clone(),
                })
                .collect(),
            map_entries,
        })
    }

    /// After a failed load was undone in the kernel: the record without its intent. If this
    /// save fails too, the intent stays on disk and the next start undoes it again, which
    /// finds nothing left to do.
    fn forget_intent(&self, inner: &mut Inner) {
        inner.state.pending = None;
        if let Err(e) = state::save(&self.state_dir, &inner.state, None) {
            eprintln!(
                "eclatd: warning: cannot clear the intent of a failed load from `{}` ({e}); the next start will undo it again",
                state::path(&self.state_dir).display()
            );
        }
    }

    /// The attachments of the script's loader: devices resolved, refused if another script's
    /// loader runs there.
    pub(super) fn resolve_attachments(
        &self,
        name: &str,
        script: &eclat_compiler::output::CompiledScript,
        linked: &LinkedScript,
        inner: &Inner,
    ) -> Result<Vec<AttachmentRecord>> {
        let mut out: Vec<AttachmentRecord> = Vec::new();
        for a in script
            .attachments
            .iter()
            .filter(|a| a.loader == linked.loader.name)
        {
            let ifindex = ifindex_of(&a.device).ok_or_else(|| DaemonError::NoInterface {
                script: name.to_owned(),
                device: a.device.clone(),
            })?;
            let here = AttachmentRecord {
                device: a.device.clone(),
                ifindex,
                hook: a.hook.clone(),
            };
            if out.iter().any(|o| same_place(o, &here)) {
                continue;
            }
            let others: Vec<String> = order::hooks(&inner.state)
                .into_iter()
                .filter(|h| h.ifindex == ifindex && h.hook == a.hook)
                .flat_map(|h| h.scripts.into_iter().map(|s| s.name.clone()))
                .filter(|n| n != name)
                .collect();
            if others.len() >= DISPATCH_PER_HOOK as usize {
                return Err(DaemonError::HookFull {
                    script: name.to_owned(),
                    device: a.device.clone(),
                    hook: a.hook.clone(),
                    count: others.len(),
                    max: DISPATCH_PER_HOOK,
                    scripts: others,
                });
            }
            if a.hook != "xdp" {
                // At TC, other tools' tcx programs stay and run beside ours (the kernel's
                // tcx order); ours are placed among themselves by priority.
                out.push(here);
                continue;
            }
            let attached = hike_runtime::dispatch::attached_xdp_program_named(ifindex)
                .map_err(|e| DaemonError::kernel(format!("query interface `{}`", a.device), &e))?;
            if let Some((id, prog)) = attached {
                // Ours: a loader of this instance holds the interface's link.
                if !inner.loaders.values().any(|l| l.kernel_id() == id) {
                    return Err(DaemonError::ForeignProgram {
                        script: name.to_owned(),
                        device: a.device.clone(),
                        id,
                        prog,
                    });
                }
            }
            out.push(here);
        }
        Ok(out)
    }

    /// The kernel steps of [`Daemon::stage`], each recorded in `txn`: the new programs,
    /// chains and loader, and the configuration of what no packet reaches yet (the new
    /// loader's maps, the new programs').
    /// `files` are the client's files, for the fused program's `#line`s.
    fn load_beside(
        catalog: &PackageCatalog,
        inner: &mut Inner,
        linked: &LinkedScript,
        record: &ScriptRecord,
        hook: Hook,
        files: &eclat_link::fused::ScriptFiles,
        txn: &mut Txn,
    ) -> Result<()> {
        let vm = &inner.vm;
        let build = |object: eclat_catalog::ObjectId| {
            let obj = catalog.object(object);
            obj.bytes_for(hook)
                .cloned()
                .ok_or_else(|| DaemonError::Unsupported {
                    script: record.name.clone(),
                    message: format!("object `{}` has no build for the hook `{hook}`", obj.name),
                })
        };
        let present: BTreeSet<u32> = vm.programs().iter().map(|p| p.id.get()).collect();
        for p in &linked.programs {
            // Shared with another script (or the old version); a recorded program whose pins
            // were removed by hand is loaded again into its slot.
            if inner.state.program(p.id).is_some() && present.contains(&p.id) {
                continue;
            }
            let bytes = build(p.object)?;
            let id = ProgramId::new(p.id).expect("the allocator stays in the table");
            vm.load_program(&bytes, &p.name, id)
                .map_err(|e| DaemonError::kernel(format!("load program `{}`", p.name), &e))?;
            txn.steps.push(Undo::Program(id));
            crash::point("program.loaded");
        }
        let ctx = linked.validation_context();
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
            crash::point("chain.installed");
        }
        let loader =
            if record.mode == "fused" {
                // The fused program is the loader: its own maps are the loader's (new at every
                // load, as an interpreted loader's), the programs' are those of their slots.
                let built = eclat_link::fused::build(catalog, linked, hook.is_tc(), files)
                    .map_err(|e| DaemonError::Unsupported {
                        script: record.name.clone(),
                        message: format!("{} (load it with --mode interpreted)", chain(&e)),
                    })?;
                let reuse = eclat_link::fused::program_maps(vm, linked);
                vm.load_fused(
                    &record.loader.pin,
                    &built.object,
                    eclat_link::fused::ENTRY,
                    &reuse,
                )
                .map_err(|e| DaemonError::FusedRefused {
                    script: record.name.clone(),
                    message: chain(&built.refusal(e)),
                })?
            } else {
                let bytes = build(linked.loader.object)?;
                vm.load_loader(&record.loader.pin, &bytes, &linked.loader.name)
                    .map_err(|e| {
                        DaemonError::kernel(format!("load loader `{}`", linked.loader.name), &e)
                    })?
            };
        inner.loaders.insert(record.loader.pin.clone(), loader);
        txn.steps.push(Undo::Loader(record.loader.pin.clone()));
        crash::point("loader.loaded");
        // A new program's slot is not in the state yet: no packet reaches its maps.
        let shared = |w: &&eclat_link::link::MapWrite| match w.target {
            MapOwner::Loader => false,
            MapOwner::Program(id) => inner.state.program(id).is_some(),
        };
        let writes: Vec<_> = linked.map_writes.iter().filter(|w| !shared(w)).collect();
        for w in writes {
            write_map_entries(inner, record, w, txn)?;
        }
        Ok(())
    }

    /// The kernel steps of [`Daemon::switch`], each recorded in `txn`.
    fn attach(
        inner: &mut Inner,
        linked: &LinkedScript,
        record: &ScriptRecord,
        old: Option<&ScriptRecord>,
        txn: &mut Txn,
    ) -> Result<()> {
        // The entries of programs other scripts (or the old version) run.
        for w in linked.map_writes.iter().filter(
            |w| matches!(w.target, MapOwner::Program(id) if inner.state.program(id).is_some()),
        ) {
            write_map_entries(inner, record, w, txn)?;
        }
        // The order with the new record: what follows each script, then each interface's
        // XDP link on its first script's loader (`order`: every packet meets the old or the
        // new sequence).
        let mut planned = inner.state.clone();
        planned.pending = None;
        planned.scripts.retain(|s| s.name != record.name);
        planned.scripts.push(record.clone());
        let plan = order::plan(&planned);
        if old.is_none() {
            // A new script in the slot: its packet counts by verdict start from zero.
            inner
                .vm
                .reset_verdict_counts(record.slot)
                .map_err(|e| DaemonError::kernel("zero the script's verdict counters", &e))?;
        }
        txn.steps.push(Undo::Order);
        // A TC script's word changes only once the link it proceeds to runs (below): until
        // then its verdicts would proceed to whatever follows it in the hook.
        let mut before_tc = plan.clone();
        before_tc
            .words
            .retain(|pin, _| *pin == record.loader.pin || !order::runs_at_tc(&planned, pin));
        order::apply(&inner.vm, &inner.loaders, &before_tc)
            .map_err(|e| DaemonError::kernel("set the order of the scripts", &e))?;
        crash::point("order.written");
        let interfaces: BTreeSet<u32> = plan
            .heads
            .keys()
            .copied()
            .chain(old.iter().flat_map(|o| {
                o.loader
                    .attachments
                    .iter()
                    .filter(|a| a.hook == "xdp")
                    .map(|a| a.ifindex)
            }))
            .collect();
        for ifindex in interfaces {
            let device = record
                .loader
                .attachments
                .iter()
                .find(|a| a.ifindex == ifindex)
                .map_or_else(|| format!("#{ifindex}"), |a| a.device.clone());
            let moved = order::place_head(&inner.loaders, &plan, ifindex)
                .map_err(|e| DaemonError::kernel(format!("attach to interface `{device}`"), &e))?;
            match moved {
                Some(order::Moved {
                    ifindex,
                    from: Some(from),
                    to,
                }) => {
                    txn.steps.push(Undo::TakeOver {
                        at: Attachment::xdp(ifindex),
                        from,
                        to,
                    });
                    crash::point("switched");
                }
                Some(order::Moved { ifindex, to, .. }) => {
                    txn.steps.push(Undo::Attach {
                        pin: to,
                        at: Attachment::xdp(ifindex),
                    });
                    crash::point("attached");
                }
                None => {}
            }
        }
        // TC: the kernel runs a hook's tcx programs in the order of their links; a new
        // script's link goes just before the first of ours that runs after it, or just after
        // the last that runs before it, or where the script asked among other tools' programs.
        for a in record.loader.attachments.iter().filter(|a| a.hook != "xdp") {
            let new = &inner.loaders[&record.loader.pin];
            let at = runtime_attachment(a);
            let from = old
                .filter(|o| o.loader.attachments.iter().any(|x| same_place(x, a)))
                .map(|o| o.loader.pin.clone());
            match from.as_ref().and_then(|pin| inner.loaders.get(pin)) {
                Some(from_loader) => {
                    new.take_over(from_loader, at).map_err(|e| {
                        DaemonError::kernel(
                            format!("switch interface `{}` to the new version", a.device),
                            &e,
                        )
                    })?;
                    txn.steps.push(Undo::TakeOver {
                        at,
                        from: from.expect("matched"),
                        to: record.loader.pin.clone(),
                    });
                    crash::point("switched");
                }
                None => {
                    let placement = tc_place(&planned, &inner.loaders, record, a);
                    new.attach(at, placement).map_err(|e| {
                        DaemonError::kernel(
                            format!("attach to interface `{}` at {}", a.device, a.hook),
                            &e,
                        )
                    })?;
                    txn.steps.push(Undo::Attach {
                        pin: record.loader.pin.clone(),
                        at,
                    });
                    crash::point("attached");
                }
            }
        }
        // Now that every new TC link runs, the scripts before it proceed to it.
        order::apply(&inner.vm, &inner.loaders, &plan)
            .map_err(|e| DaemonError::kernel("set the order of the scripts", &e))?;
        Ok(())
    }

    /// Unloads script `name`: its loader (and so its attachments), its chains, and the
    /// programs no other script calls.
    pub fn unload(&self, name: &str) -> Result<ScriptRecord> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        self.drop_held(inner, "an unload");
        let Some(record) = inner.state.script(name).cloned() else {
            return Err(DaemonError::NoScript {
                name: name.to_owned(),
            });
        };
        let _op = crash::Operation::enter("unload");
        let before = inner.state.clone();
        inner.state.scripts.retain(|s| s.name != name);
        let unused: Vec<u32> = record
            .programs
            .iter()
            .copied()
            .filter(|id| inner.state.users_of(*id).is_empty())
            .collect();
        inner.state.programs.retain(|p| !unused.contains(&p.id));
        if let Err(source) = state::save(&self.state_dir, &inner.state, Some("commit")) {
            inner.state = before;
            return Err(DaemonError::SaveState {
                path: state::path(&self.state_dir),
                source,
            });
        }
        crash::point("committed");
        inner.bundles.remove(name);
        self.tidy_bundles(inner);
        // The scripts that stay: what followed this one now follows its predecessor, and an
        // interface where it ran first runs the next one (one link update: zero loss).
        let plan = order::plan(&inner.state);
        let what = format!("unload `{name}`");
        if let Err(e) = order::apply(&inner.vm, &inner.loaders, &plan) {
            eprintln!("eclatd: warning: {what}: {}", chain(&e));
        }
        for a in &record.loader.attachments {
            if let Err(e) = order::place_head(&inner.loaders, &plan, a.ifindex) {
                eprintln!("eclatd: warning: {what}: {}", chain(&e));
            }
        }
        crash::point("order.written");
        let chains: Vec<u32> = record.chains.iter().map(|c| c.id).collect();
        retire(
            inner,
            &format!("unload `{name}`"),
            &record.loader.pin,
            &chains,
            &unused,
        );
        prune_order(inner, &what);
        Ok(record)
    }
}

/// Writes a linked script's entries into one map (the loader's, or a program's with each
/// entry's previous value recorded in `txn`, since other scripts may run that program).
fn write_map_entries(
    inner: &Inner,
    record: &ScriptRecord,
    w: &eclat_link::link::MapWrite,
    txn: &mut Txn,
) -> Result<()> {
    let what = format!("configure map `{}.{}`", w.owner, w.map);
    let map: MapRef = match w.target {
        MapOwner::Loader => inner.loaders[&record.loader.pin]
            .map(&w.map)
            .map_err(|e| DaemonError::kernel(what.clone(), &e))?
            .clone(),
        MapOwner::Program(id) => inner
            .vm
            .program_map(ProgramId::new(id).expect("linked"), &w.map)
            .map_err(|e| DaemonError::kernel(what.clone(), &e))?,
    };
    for (k, v) in &w.entries {
        if matches!(w.target, MapOwner::Program(_)) {
            let previous = read_raw(&map, k).map_err(|e| DaemonError::kernel(what.clone(), &e))?;
            txn.steps.push(Undo::Entry {
                map: map.clone(),
                key: k.clone(),
                previous,
            });
        }
        map.update(k, v, UpdateMode::Any)
            .map_err(|e| DaemonError::kernel(what.clone(), &e))?;
        crash::point("map.written");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use eclat_catalog::PackageCatalog;
    use eclat_link::IdAllocator;

    use super::Allocator;
    use crate::state::{ProgramRecord, State};

    /// A state with `monitor` (of the standard package `net`) in slot 5, recorded with `digest`.
    fn state_with_monitor(catalog: &PackageCatalog, digest: &str) -> State {
        let entry = catalog
            .program_entry("net", "monitor")
            .expect("net.monitor");
        let mut state = State::new("t");
        state.programs.push(ProgramRecord {
            id: 5,
            name: "monitor".into(),
            package: "net".into(),
            object: catalog.object(entry.object).name.clone(),
            digest: digest.into(),
        });
        state
    }

    fn slot_of_monitor(catalog: &PackageCatalog, state: &State) -> Option<u32> {
        let object = catalog.program_entry("net", "monitor").unwrap().object;
        let name = catalog.object(object).name.clone();
        Allocator::new(state, catalog, eclat_catalog::Hook::Xdp).program(object, &name, "monitor")
    }

    #[test]
    fn a_loaded_program_is_shared_only_with_the_same_build() {
        let catalog = PackageCatalog::standard().unwrap();
        let object = catalog.program_entry("net", "monitor").unwrap().object;
        let same = state_with_monitor(&catalog, &catalog.object(object).digest);
        assert_eq!(slot_of_monitor(&catalog, &same), Some(5));
        let other = state_with_monitor(&catalog, &"0".repeat(64));
        assert_eq!(slot_of_monitor(&catalog, &other), Some(0), "a free slot");
    }

    #[test]
    fn a_program_of_an_unknown_build_is_not_shared() {
        let catalog = PackageCatalog::standard().unwrap();
        let old = state_with_monitor(&catalog, "");
        assert_eq!(slot_of_monitor(&catalog, &old), Some(0));
    }
}
