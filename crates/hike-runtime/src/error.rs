//! The runtime's error type.
//!
//! One enum for the crate: every variant names what it was working on (the map, the chain, the
//! program, the path) and chains the underlying libbpf or system error as its `source`.

use std::io;
use std::path::PathBuf;

use crate::{ChainId, MapLayout, ProgramId};

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A chain ID is not below `MAX_CHAINS`.
    #[error(
        "chain id {id} is out of range (the chain table has {} slots)",
        hike_isa::abi::MAX_CHAINS
    )]
    ChainIdOutOfRange {
        /// The rejected ID.
        id: u32,
    },

    /// A program ID is not below `MAX_PROGS`.
    #[error(
        "program id {id} is out of range (the program table has {} slots)",
        hike_isa::abi::MAX_PROGS
    )]
    ProgramIdOutOfRange {
        /// The rejected ID.
        id: u32,
    },

    /// An instance or loader name is not usable as a bpffs directory name.
    #[error("invalid name `{name}`: use 1 to 64 characters among `A-Z a-z 0-9 _ -`, not starting with `-`")]
    InvalidName {
        /// The rejected name.
        name: String,
    },

    /// The bpffs root is not a BPF filesystem and could not be mounted.
    #[error("cannot mount a bpf filesystem at `{}`", path.display())]
    MountBpffs {
        /// Where the mount was tried.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },

    /// A link's program could not be read or set.
    #[error("cannot query or update the link of ifindex {ifindex}")]
    QueryLink {
        /// The interface.
        ifindex: u32,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The bpffs path is no BPF filesystem in this mount namespace, which is not the host's,
    /// and the host's cannot be used: pins made here would vanish with the process.
    #[error("`{}` is not a BPF filesystem in this mount namespace, which is not the host's ({why}): pins made here would vanish with the process. Run it in the host's mount namespace (`nsenter --net=/run/netns/NAME -- …` enters only a network namespace, where `ip netns exec` also makes a private mount namespace), or mount the host's BPF filesystem at `{}` (in a container: mount the host's /sys/fs/bpf)", path.display(), path.display())]
    PrivateBpffs {
        /// The bpffs path.
        path: PathBuf,
        /// What was found.
        why: String,
    },

    /// Another process holds the instance.
    #[error("vm instance `{name}` (`{}`) is in use by another process{}; stop it, or use another instance", path.display(), pid.map_or(String::new(), |p| format!(" (pid {p})")))]
    InstanceLocked {
        /// The instance name.
        name: String,
        /// Its directory.
        path: PathBuf,
        /// The holder, when `/proc/locks` tells.
        pid: Option<u32>,
    },

    /// A pinned instance of this name already exists.
    #[error("vm instance `{name}` already exists at `{}`", path.display())]
    InstanceExists {
        /// The instance name.
        name: String,
        /// Its directory.
        path: PathBuf,
    },

    /// No pinned instance of this name exists.
    #[error("vm instance `{name}` does not exist at `{}`", path.display())]
    InstanceNotFound {
        /// The instance name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// A file system operation under the bpffs failed (creating a directory, pinning,
    /// opening or removing a pin).
    #[error("cannot {op} `{}`", path.display())]
    Pin {
        /// What was being done: `pin`, `open pin`, `unpin`, `create directory`, ….
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },

    /// The kernel refused to create one of the shared VM maps.
    #[error("cannot create vm map `{map}`")]
    CreateMap {
        /// The map name.
        map: &'static str,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// A map does not have the layout this runtime expects: a shared VM map in an object, or a
    /// pinned VM map of an instance, disagrees with the ABI.
    #[error("map `{map}` of `{owner}` is {found}, but the vm abi wants {expected}")]
    MapLayoutMismatch {
        /// The object or instance that declares the map.
        owner: String,
        /// The map name.
        map: String,
        /// What the ABI says.
        expected: MapLayout,
        /// What was found.
        found: MapLayout,
    },

    /// A pinned VM map of an instance was made by a build of another VM ABI: the instance's
    /// pins cannot be reused by this one.
    #[error("the pinned vm instance `{instance}` was made by another build of the VM: its map `{map}` is {found}, but this build's ABI (version {abi}) wants {expected}; unload its scripts with the build that loaded them, or remove the instance's pins (`eclatd --reset`, or `rm -r` of its pin directory) and load them again")]
    PinnedLayoutMismatch {
        /// The instance.
        instance: String,
        /// The map name.
        map: String,
        /// This build's ABI version.
        abi: u32,
        /// What the ABI says.
        expected: MapLayout,
        /// What was found.
        found: MapLayout,
    },

    /// Memory-mapping a map failed.
    #[error("cannot mmap map `{map}`")]
    Mmap {
        /// The map name.
        map: &'static str,
        /// Why it failed.
        #[source]
        source: io::Error,
    },

    /// The validator refused a chain.
    #[error("chain {chain} (`{name}`) is invalid")]
    InvalidChain {
        /// The chain ID it was to be installed as.
        chain: ChainId,
        /// Its name.
        name: String,
        /// Every problem found.
        #[source]
        source: hike_isa::validate::ValidationErrors,
    },

    /// A chain without instructions.
    #[error("chain {chain} is empty")]
    EmptyChain {
        /// The chain.
        chain: ChainId,
    },

    /// A chain longer than `MAX_CHAIN_INSNS`.
    #[error("chain {chain} has {len} instructions, more than the limit of {max}")]
    ChainTooLong {
        /// The chain.
        chain: ChainId,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The code heap has no free run of instructions long enough for the chain, even after
    /// every retired chain version has been reclaimed.
    #[error("chain {chain} ({len} instructions) does not fit the code heap ({free} instructions free, largest free run {largest_free})")]
    CodeHeapFull {
        /// The chain.
        chain: ChainId,
        /// Its length.
        len: usize,
        /// Free instructions in total (including those still in quarantine).
        free: u32,
        /// The longest free run.
        largest_free: u32,
    },

    /// The chain table of a pinned instance holds a descriptor that points outside the code
    /// heap or overlaps another chain.
    #[error("chain {chain} of the pinned chain table is corrupt (code_off {code_off}, len {len})")]
    CorruptChainTable {
        /// The chain.
        chain: ChainId,
        /// Its descriptor's first instruction.
        code_off: u32,
        /// Its descriptor's length.
        len: u16,
    },

    /// Waiting for a kernel RCU grace period (to reclaim retired chain code) failed.
    #[error("cannot wait for packets in flight to finish")]
    GracePeriod {
        /// The failed map update.
        #[source]
        source: libbpf_rs::Error,
    },

    /// libbpf could not open (parse) an object file.
    #[error("cannot open bpf object `{object}`")]
    OpenObject {
        /// The object's label.
        object: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// The object has no program of this name.
    #[error("bpf object `{object}` has no program `{program}` (it has: {})", available.join(", "))]
    ProgramNotFound {
        /// The object's label.
        object: String,
        /// The requested program.
        program: String,
        /// The programs the object has.
        available: Vec<String>,
    },

    /// Preparing an opened object for loading failed (map reuse, verifier log buffer).
    #[error("cannot prepare `{item}` of bpf object `{object}` for loading")]
    Prepare {
        /// The object's label.
        object: String,
        /// The map or program being prepared.
        item: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// The kernel refused to load the object; `log` is the verifier's log, if any. The message
    /// is its summary ([`crate::verifier::Summary`]) and where the whole log was saved.
    #[error("the kernel refused to load program `{program}` of bpf object `{object}`{}", load_details(log, log_file.as_deref().map(|p| p.as_path()), libbpf))]
    Load {
        /// The object's label.
        object: String,
        /// The program being loaded.
        program: String,
        /// The verifier log (its tail when long), empty when the failure came before
        /// verification.
        log: String,
        /// Where the whole log was saved ([`crate::verifier::save_log`]), if it could be
        /// (boxed: keeps every `Error` as small as before).
        log_file: Option<Box<std::path::PathBuf>>,
        /// libbpf's error (not the error's source: the message shows it when there is no
        /// log, and after a log it only says `Permission denied`, which would end the message
        /// after the log's path).
        libbpf: libbpf_rs::Error,
    },

    /// Extracting a loaded program or map file descriptor failed.
    #[error("cannot take a reference to `{name}` of bpf object `{object}`")]
    TakeFd {
        /// The object's label.
        object: String,
        /// The program or map.
        name: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },

    /// A program slot is already taken.
    #[error("program slot {id} is taken by `{name}`")]
    ProgramSlotInUse {
        /// The slot.
        id: ProgramId,
        /// The program in it.
        name: String,
    },

    /// No program in this slot.
    #[error("no program in slot {id}")]
    NoProgram {
        /// The slot.
        id: ProgramId,
    },

    /// A loader of this name already exists in the instance.
    #[error("loader `{name}` already exists")]
    LoaderExists {
        /// The loader name.
        name: String,
    },

    /// A script slot beyond the table.
    #[error(
        "script slot {slot} is out of range (the instance has {} slots)",
        hike_isa::abi::DISPATCH_SLOTS
    )]
    ScriptSlot {
        /// The slot.
        slot: u32,
    },

    /// No loader of this name exists in the instance.
    #[error("loader `{name}` does not exist")]
    LoaderNotFound {
        /// The loader name.
        name: String,
    },

    /// No map of this name.
    #[error("`{owner}` has no map `{map}` (it has: {})", available.join(", "))]
    MapNotFound {
        /// The program, loader or instance searched.
        owner: String,
        /// The requested map.
        map: String,
        /// The maps it has.
        available: Vec<String>,
    },

    /// A key of the wrong size.
    #[error("key for map `{map}` is {size} bytes, expected {expected}")]
    InvalidKeySize {
        /// The map.
        map: String,
        /// The size given.
        size: usize,
        /// The map's key size.
        expected: usize,
    },

    /// A value of the wrong size.
    #[error("value for map `{map}` is {size} bytes, expected {expected}")]
    InvalidValueSize {
        /// The map.
        map: String,
        /// The size given.
        size: usize,
        /// The map's value size.
        expected: usize,
    },

    /// A per-CPU write with a number of values other than the number of possible CPUs.
    #[error("per-cpu write to map `{map}` has {count} values, expected one per cpu ({expected})")]
    InvalidCpuCount {
        /// The map.
        map: String,
        /// Values given.
        count: usize,
        /// Possible CPUs.
        expected: usize,
    },

    /// Per-CPU values that cannot be summed as 64-bit counters.
    #[error("values of map `{map}` are {value_size} bytes, not a whole number of 64-bit counters")]
    NotSummable {
        /// The map.
        map: String,
        /// Its value size.
        value_size: usize,
    },

    /// A map operation (lookup, update, delete, iteration) failed.
    #[error("cannot {op} map `{map}`")]
    MapOp {
        /// The operation.
        op: &'static str,
        /// The map.
        map: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// Inserting into or deleting from the program table failed.
    #[error("cannot {op} program slot {id}")]
    ProgramTable {
        /// `insert` or `delete`.
        op: &'static str,
        /// The slot.
        id: ProgramId,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// `BPF_PROG_TEST_RUN` failed.
    #[error("cannot test-run loader `{loader}`")]
    TestRun {
        /// The loader.
        loader: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// Detaching a loader from an interface failed.
    #[error("cannot detach loader `{loader}` from interface {ifindex} at {hook}")]
    Detach {
        /// The loader.
        loader: String,
        /// The interface.
        ifindex: u32,
        /// The hook.
        hook: crate::Hook,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },

    /// Attaching a loader to an interface failed.
    #[error("cannot attach loader `{loader}` to interface {ifindex} ({mode})")]
    Attach {
        /// The loader.
        loader: String,
        /// The interface.
        ifindex: u32,
        /// The XDP mode asked for.
        mode: crate::XdpMode,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// Attaching a loader at a TC hook (a tcx link) failed.
    #[error("cannot attach loader `{loader}` to {attachment} (tcx, {placement})")]
    AttachTc {
        /// The loader.
        loader: String,
        /// Where.
        attachment: crate::Attachment,
        /// The placement asked for.
        placement: crate::TcPlacement,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// A loader built for one context attached at a hook of another.
    #[error(
        "loader `{loader}` is built for {context} and cannot attach at {hook}: load the loader's \
         object built for {} (hike_bpf::Context)",
        hook.context()
    )]
    WrongContext {
        /// The loader.
        loader: String,
        /// What it was built for.
        context: crate::ProgContext,
        /// The hook asked for.
        hook: crate::Hook,
    },

    /// A TC attachment asked at a hook that is not TC.
    #[error("`{hook}` is not a tc hook (tc_ingress, tc_egress)")]
    NotTcHook {
        /// The hook asked for.
        hook: crate::Hook,
    },

    /// A program of a context the VM does not run (not XDP, not `sched_cls`).
    #[error("program `{program}` has kernel program type {prog_type}, neither xdp nor sched_cls")]
    UnsupportedProgramType {
        /// The program.
        program: String,
        /// Its `BPF_PROG_TYPE_*`.
        prog_type: u32,
    },

    /// Asking the kernel which XDP program an interface runs failed.
    #[error("cannot query the xdp program of interface {ifindex}")]
    QueryXdp {
        /// The interface.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// The loader is not attached to this interface at this hook.
    #[error("loader `{loader}` is not attached to interface {ifindex} at {hook}")]
    NotAttached {
        /// The loader.
        loader: String,
        /// The interface.
        ifindex: u32,
        /// The hook.
        hook: crate::Hook,
    },

    /// The loader is already attached to this interface at this hook.
    #[error("loader `{loader}` is already attached to interface {ifindex} at {hook}")]
    AlreadyAttached {
        /// The loader.
        loader: String,
        /// The interface.
        ifindex: u32,
        /// The hook.
        hook: crate::Hook,
    },

    /// Moving an attachment from one loader to another failed (the old loader still runs
    /// there).
    #[error(
        "cannot move the {hook} attachment of interface {ifindex} from loader `{from}` to `{to}`"
    )]
    TakeOver {
        /// The loader that keeps running.
        from: String,
        /// The loader that was to run.
        to: String,
        /// The interface.
        ifindex: u32,
        /// The hook.
        hook: crate::Hook,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// No interface of this name.
    #[error("no network interface `{name}`")]
    NoSuchInterface {
        /// The interface name.
        name: String,
        /// The lookup error.
        #[source]
        source: io::Error,
    },

    /// A CPU number at or above the number of possible CPUs.
    #[error("cpu {cpu} does not exist (this machine has {count} possible cpus)")]
    NoSuchCpu {
        /// The CPU asked for.
        cpu: usize,
        /// Possible CPUs.
        count: usize,
    },

    /// Reading or setting CPU affinity failed.
    #[error("cannot pin the calling thread to cpu {cpu}")]
    CpuAffinity {
        /// The CPU.
        cpu: usize,
        /// The system's error.
        #[source]
        source: io::Error,
    },

    /// Setting up or reading the event ring buffer failed.
    #[error("cannot read the vm event ring buffer `hike_events`")]
    Events {
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },

    /// Counting the possible CPUs failed.
    #[error("cannot count the possible cpus")]
    CpuCount {
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The summary of a failed load's verifier log, and where the log is, for [`Error::Load`].
fn load_details(
    log: &str,
    log_file: Option<&std::path::Path>,
    source: &libbpf_rs::Error,
) -> String {
    if log.is_empty() {
        return format!(": {source}");
    }
    let mut out = format!(
        ": the verifier refused {}",
        crate::verifier::Summary::from_log(log)
    );
    match log_file {
        Some(path) => out.push_str(&format!("\nfull verifier log: {}", path.display())),
        None => out.push_str(&format!("\nverifier log:\n{log}")),
    }
    out
}
