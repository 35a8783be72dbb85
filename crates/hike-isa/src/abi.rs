//! Rust mirror of the HIKe VM ABI, `bpf/include/hike/abi.h`.
//!
//! The C header is the source of truth. Every constant, enum value, struct size and field
//! offset here is checked against it by the `abi_agrees_with_c` test, which compiles a probe of
//! the header with the host C compiler. Change both together.

use bytemuck::{Pod, Zeroable};

/// The version of this ABI (`HIKE_ABI_VERSION`): raised by every change that makes objects,
/// chains or maps built against the old header wrong for the new one. eclatd refuses a client
/// of another version.
pub const ABI_VERSION: u32 = 1;

/// Instructions in one chain (an `LD_IMM64` counts as two).
pub const MAX_CHAIN_INSNS: usize = 4096;
/// Nested chain frames; the top chain is frame 0.
pub const MAX_FRAMES: usize = 16;
/// Bytes of stack per frame.
pub const STACK_SIZE: usize = 512;
/// 8-byte stack slots per frame.
pub const STACK_SLOTS: usize = STACK_SIZE / 8;
/// Arguments of a program or chain call (`r1..r5`).
pub const MAX_ARGS: usize = 5;
/// Chain IDs are `0..MAX_CHAINS`.
pub const MAX_CHAINS: u32 = 1024;
/// Program IDs are `0..MAX_PROGS`.
pub const MAX_PROGS: u32 = 256;
/// Instructions in the shared code heap.
pub const CODE_HEAP_INSNS: u32 = 1 << 19;
/// Program calls per packet (the kernel's tail-call cap); the next one faults.
pub const MAX_PROG_CALLS: u32 = 33;
/// Default execution budget, in instructions per packet.
pub const DEFAULT_BUDGET: u32 = 65536;
/// Largest execution budget (the kernel's `bpf_loop` limit).
pub const MAX_BUDGET: u32 = 1 << 23;

/// `src_reg` of a `call`: a VM helper.
pub const CALL_HELPER: u8 = 0;
/// `src_reg` of a `call`: a chain.
pub const CALL_CHAIN: u8 = 1;
/// `src_reg` of a `call`: a program.
pub const CALL_PROG: u8 = 2;

/// Base address of frame 0's stack; frame `f` spans `STACK + f*512 .. STACK + (f+1)*512`.
pub const ADDR_STACK: u64 = 0x0000_0010_0000_0000;
/// Address of the read-only [`PktMeta`].
pub const ADDR_META: u64 = 0x0000_0020_0000_0000;

/// [`PktMeta::flags`]: the packet is IPv4.
pub const META_IPV4: u8 = 0x01;
/// [`PktMeta::flags`]: the packet is IPv6.
pub const META_IPV6: u8 = 0x02;
/// [`PktMeta::flags`]: an L4 header was found (never for a non-first fragment).
pub const META_L4: u8 = 0x04;
/// [`PktMeta::flags`]: the packet is an IPv4 or IPv6 fragment.
pub const META_FRAG: u8 = 0x08;
/// [`PktMeta::flags`]: one or two VLAN tags were skipped (`l3_off` is past them; the outer
/// tag's TCI is at bytes 14..15).
pub const META_VLAN: u8 = 0x10;

/// [`VmConfig::flags`]: count chain runs and program calls.
pub const CFG_STATS: u32 = 0x1;
/// [`VmConfig::flags`]: record every chain entry and return, program call and return in
/// [`VmState::trace`].
pub const CFG_TRACE: u32 = 0x2;
/// [`VmConfig::flags`]: a replay clock: chains and programs read [`VmConfig::clock_ns`] (copied
/// into the state at boot) as the time instead of `bpf_ktime_get_ns()`.
pub const CFG_CLOCK: u32 = 0x4;

/// [`Event::kind`]: emitted by a chain through [`Helper::Event`].
pub const EVENT_CHAIN: u32 = 1;
/// [`Event::kind`]: emitted by a program.
pub const EVENT_PROGRAM: u32 = 2;
/// "No chain" / "no program" in events and state.
pub const NO_ID: u32 = 0xffff_ffff;

/// [`VmState::status`]: no chain running on this CPU.
pub const STATUS_IDLE: u32 = 0;
/// [`VmState::status`]: the VM is interpreting.
pub const STATUS_RUNNING: u32 = 1;
/// [`VmState::status`]: a program called by the chain is running (or the VM is in its entry
/// steps, before its interpreter loop).
pub const STATUS_IN_PROG: u32 = 2;
/// [`VmState::status`]: as [`STATUS_IN_PROG`], with [`CFG_STATS`] on (the program counts its
/// call).
pub const STATUS_IN_PROG_COUNTED: u32 = 3;
/// [`VmState::status`]: as [`STATUS_IN_PROG`], with [`CFG_TRACE`] on (the program records its
/// call); 5 is both [`CFG_STATS`] and [`CFG_TRACE`].
pub const STATUS_IN_PROG_TRACED: u32 = 4;
/// [`VmState::status`]: no chain running, and the last packet's top chain returned (the
/// loader's default verdict); [`STATUS_IDLE`] after a program's verdict or a fault.
pub const STATUS_RETURNED: u32 = 6;

/// Trace records kept per packet ([`VmState::trace`]); [`VmState::trace_len`] counts on.
pub const TRACE_MAX: usize = 64;
/// [`TraceRec::kind`]: a chain was entered (booted or called); `v` = `r1..r5`.
pub const TRACE_CHAIN: u8 = 1;
/// [`TraceRec::kind`]: a called chain returned `v[0]`.
pub const TRACE_CHAIN_RET: u8 = 2;
/// [`TraceRec::kind`]: a program was called; `v` = `r1..r5`.
pub const TRACE_PROG: u8 = 3;
/// [`TraceRec::kind`]: the program returned `v[0]` to its chain.
pub const TRACE_PROG_RET: u8 = 4;
/// [`TraceRec::kind`]: the program ended the packet with verdict `v[0]`.
pub const TRACE_PROG_VERDICT: u8 = 5;

/// VM helpers, called with `call` and `src_reg` = [`CALL_HELPER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Helper {
    /// `r1` = offset, `r2` = size (1, 2, 4, 8) → `r0` = big-endian field in host order.
    PktLoad = 1,
    /// `r1` = offset, `r2` = size, `r3` = value: stores big-endian; `r0` = 0.
    PktStore = 2,
    /// `r0` = packet length.
    PktLen = 3,
    /// `r0` = monotonic time in ns.
    KtimeNs = 4,
    /// `r1` = code, `r2..r4` = values: emits an [`Event`]; `r0` = 0.
    Event = 5,
    /// `r0` = a pseudo-random 32-bit value.
    Random = 6,
}

impl Helper {
    /// One past the highest helper ID.
    pub const MAX: u32 = 7;
    /// Every helper, in ID order.
    pub const ALL: [Helper; 6] = [
        Helper::PktLoad,
        Helper::PktStore,
        Helper::PktLen,
        Helper::KtimeNs,
        Helper::Event,
        Helper::Random,
    ];

    /// The helper with this ID, if any.
    pub fn from_id(id: u32) -> Option<Helper> {
        Self::ALL.into_iter().find(|h| *h as u32 == id)
    }

    /// The name used by the assembler and disassembler.
    pub fn name(self) -> &'static str {
        match self {
            Helper::PktLoad => "pkt_load",
            Helper::PktStore => "pkt_store",
            Helper::PktLen => "pkt_len",
            Helper::KtimeNs => "ktime_ns",
            Helper::Event => "event",
            Helper::Random => "random",
        }
    }

    /// The helper with this assembler name, if any.
    pub fn from_name(name: &str) -> Option<Helper> {
        Self::ALL.into_iter().find(|h| h.name() == name)
    }

    /// How many of `r1..r5` the helper reads.
    pub fn arg_count(self) -> usize {
        match self {
            Helper::PktLoad => 2,
            Helper::PktStore => 3,
            Helper::PktLen | Helper::KtimeNs | Helper::Random => 0,
            Helper::Event => 4,
        }
    }
}

/// Why a chain was aborted; the index of the fault counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Fault {
    /// Unknown or unsupported instruction.
    BadOpcode = 1,
    /// Register number above 10, or a write to `r10`.
    BadRegister = 2,
    /// The program counter left the chain.
    BadJump = 3,
    /// Load or store outside the active frames or the metadata (or a store to the metadata).
    MemOutOfBounds = 4,
    /// Memory access not naturally aligned.
    MemMisaligned = 5,
    /// Load from a stack slot not written since the frame was entered.
    StackUninit = 6,
    /// Packet helper outside the packet.
    PktOutOfBounds = 7,
    /// Execution budget exhausted.
    Budget = 8,
    /// More than [`MAX_FRAMES`] nested chains.
    CallDepth = 9,
    /// The called or started chain is not loaded.
    NoChain = 10,
    /// The called program is not loaded.
    NoProg = 11,
    /// More than [`MAX_PROG_CALLS`] program calls in one packet.
    ProgCallCap = 12,
    /// Unknown helper ID.
    BadHelper = 13,
    /// Helper argument out of range.
    BadHelperArg = 14,
    /// A program was entered without a chain calling it.
    BadState = 15,
}

impl Fault {
    /// One past the highest fault code (the size of the counter arrays).
    pub const MAX: usize = 16;
    /// Every fault, in code order.
    pub const ALL: [Fault; 15] = [
        Fault::BadOpcode,
        Fault::BadRegister,
        Fault::BadJump,
        Fault::MemOutOfBounds,
        Fault::MemMisaligned,
        Fault::StackUninit,
        Fault::PktOutOfBounds,
        Fault::Budget,
        Fault::CallDepth,
        Fault::NoChain,
        Fault::NoProg,
        Fault::ProgCallCap,
        Fault::BadHelper,
        Fault::BadHelperArg,
        Fault::BadState,
    ];

    /// The fault with this code; `None` for 0 (no fault) and unknown codes.
    pub fn from_code(code: u32) -> Option<Fault> {
        Self::ALL.into_iter().find(|f| *f as u32 == code)
    }

    /// A stable snake_case name, used in counters, JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            Fault::BadOpcode => "bad_opcode",
            Fault::BadRegister => "bad_register",
            Fault::BadJump => "bad_jump",
            Fault::MemOutOfBounds => "mem_out_of_bounds",
            Fault::MemMisaligned => "mem_misaligned",
            Fault::StackUninit => "stack_uninit",
            Fault::PktOutOfBounds => "pkt_out_of_bounds",
            Fault::Budget => "budget",
            Fault::CallDepth => "call_depth",
            Fault::NoChain => "no_chain",
            Fault::NoProg => "no_prog",
            Fault::ProgCallCap => "prog_call_cap",
            Fault::BadHelper => "bad_helper",
            Fault::BadHelperArg => "bad_helper_arg",
            Fault::BadState => "bad_state",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `struct hike_pkt_meta`: what the loader found in the packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct PktMeta {
    /// Interface the packet arrived on.
    pub ingress_ifindex: u32,
    /// RX queue.
    pub rx_queue_index: u32,
    /// EtherType in host order, after VLAN tags; 0 if not Ethernet.
    pub eth_proto: u16,
    /// Offset of the L3 header.
    pub l3_off: u16,
    /// Offset of the L4 header, 0 if none.
    pub l4_off: u16,
    /// L4 protocol number.
    pub l4_proto: u8,
    /// `META_*` flags.
    pub flags: u8,
    /// Loader-specific values.
    pub user: [u64; 2],
}

/// `struct hike_chain_desc`: where a chain's code is; published with one 8-byte store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct ChainDesc {
    /// First instruction in the code heap.
    pub code_off: u32,
    /// Instructions; 0 means no chain.
    pub len: u16,
    /// Declared parameters.
    pub nparams: u8,
    /// Reserved, 0.
    pub flags: u8,
}

impl ChainDesc {
    /// The descriptor as the single 64-bit word the kernel reads.
    pub fn to_word(self) -> u64 {
        u64::from_ne_bytes(bytemuck::cast(self))
    }

    /// The descriptor from its 64-bit word.
    pub fn from_word(word: u64) -> ChainDesc {
        bytemuck::cast(word.to_ne_bytes())
    }
}

/// `struct hike_vm_config`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct VmConfig {
    /// Instructions per packet; 0 means [`DEFAULT_BUDGET`].
    pub budget: u32,
    /// `CFG_*` flags.
    pub flags: u32,
    /// With [`CFG_CLOCK`]: the time, in ns, that every packet booted from now on reads.
    pub clock_ns: u64,
}

/// `struct hike_chain_stats` (per CPU; user space sums the CPUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct ChainStats {
    /// Entries into the chain.
    pub runs: u64,
    /// Aborts while this chain was the innermost frame, indexed by fault code.
    pub faults: [u64; Fault::MAX],
}

/// `struct hike_prog_stats` (per CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct ProgStats {
    /// Calls from chains.
    pub calls: u64,
}

/// An XDP verdict (`enum xdp_action` of the kernel's `linux/bpf.h`): what a loader returns for
/// a packet, and what a program that ends the packet gives it. The kernel defines the values,
/// not `abi.h`; `abi_agrees_with_c` checks them against the kernel's header all the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum XdpAction {
    /// `XDP_ABORTED`: the loaders' fail-safe verdict unless configured.
    Aborted = 0,
    /// `XDP_DROP`.
    Drop = 1,
    /// `XDP_PASS`: the loaders' default verdict unless configured.
    Pass = 2,
    /// `XDP_TX`.
    Tx = 3,
    /// `XDP_REDIRECT`.
    Redirect = 4,
}

impl XdpAction {
    /// Every verdict, in value order.
    pub const ALL: [XdpAction; 5] = [
        XdpAction::Aborted,
        XdpAction::Drop,
        XdpAction::Pass,
        XdpAction::Tx,
        XdpAction::Redirect,
    ];

    /// The action of a program's return value, if it is one.
    pub fn from_retval(retval: u32) -> Option<XdpAction> {
        Self::ALL.into_iter().find(|a| *a as u32 == retval)
    }

    /// The lowercase name used in JSON output: `aborted`, `drop`, `pass`, `tx`, `redirect`.
    pub fn name(self) -> &'static str {
        match self {
            XdpAction::Aborted => "aborted",
            XdpAction::Drop => "drop",
            XdpAction::Pass => "pass",
            XdpAction::Tx => "tx",
            XdpAction::Redirect => "redirect",
        }
    }
}

impl std::fmt::Display for XdpAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The [`XdpAction`]s as the numbers a test run returns, for comparing with a verdict field
/// (`run.verdict == xdp::DROP`).
pub mod xdp {
    use super::XdpAction;

    /// `XDP_ABORTED`: the loaders' fail-safe verdict unless configured.
    pub const ABORTED: u32 = XdpAction::Aborted as u32;
    /// `XDP_DROP`.
    pub const DROP: u32 = XdpAction::Drop as u32;
    /// `XDP_PASS`: the loaders' default verdict unless configured.
    pub const PASS: u32 = XdpAction::Pass as u32;
    /// `XDP_TX`.
    pub const TX: u32 = XdpAction::Tx as u32;
    /// `XDP_REDIRECT`.
    pub const REDIRECT: u32 = XdpAction::Redirect as u32;
}

/// [`LoaderConfig::flags`]: the two verdicts are set (otherwise [`xdp::PASS`] and
/// [`xdp::ABORTED`]).
pub const LDR_VERDICTS_SET: u32 = 0x1;

/// `struct hike_loader_config`: a loader's verdicts (map `hike_ldr_cfg` of each loader).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct LoaderConfig {
    /// Verdict when no chain applies or the top chain returns.
    pub default_verdict: u32,
    /// Verdict when the chain faults.
    pub failsafe_verdict: u32,
    /// [`LDR_VERDICTS_SET`].
    pub flags: u32,
    /// Written by the daemon: the verdicts that proceed to the next script of the hook (bit
    /// `v` for verdict `v`, [`DISPATCH_MASK`]) and the script's slot (from bit
    /// [`DISPATCH_SLOT_SHIFT`]); see [`dispatch_word`].
    pub dispatch: u32,
}

/// Script slots of an instance (`hike_scripts`: slot → the script's loader).
pub const DISPATCH_SLOTS: u32 = 256;
/// Scripts on one interface and hook.
pub const DISPATCH_PER_HOOK: u32 = 64;
/// Entries of `hike_dispatch`: (interface, slot) → next slot.
pub const DISPATCH_LINKS: u32 = 4096;
/// [`LoaderConfig::dispatch`]: the proceed-on mask.
pub const DISPATCH_MASK: u32 = 0xff;
/// [`LoaderConfig::dispatch`]: where the slot starts.
pub const DISPATCH_SLOT_SHIFT: u32 = 8;
/// [`LoaderConfig::dispatch`] at TC: the script is the last of its daemon's at the hook, so a
/// verdict that proceeds leaves them and is counted (`hike_verdicts`) where it proceeds.
pub const DISPATCH_LEAVES: u32 = 1 << 24;
/// `hike_verdicts` counters per script slot: one per verdict 0..=6, and 7 for any other value
/// (index `slot * VERDICTS + verdict`).
pub const VERDICTS: u32 = 8;

/// The [`LoaderConfig::dispatch`] word of a script in `slot` whose verdicts in `mask` (bit `v`
/// for verdict `v`) proceed to the next script.
pub const fn dispatch_word(mask: u32, slot: u32) -> u32 {
    (mask & DISPATCH_MASK) | (slot << DISPATCH_SLOT_SHIFT)
}

/// `struct hike_dispatch_key`: the key of `hike_dispatch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct DispatchKey {
    /// The interface.
    pub ifindex: u32,
    /// The script's slot.
    pub slot: u32,
}

/// `hike_chain_ref`: a chain as a loader's classifier map stores it, chain ID + 1, and
/// [`CHAIN_REF_NONE`] for "no chain". The classifiers with a small key space are arrays (their
/// lookup is inlined by the verifier); an array entry always exists and starts zeroed, so zero
/// must mean "no chain configured". Convert with [`chain_ref`] and [`chain_of_ref`].
pub type ChainRef = u32;

/// [`ChainRef`]: no chain; the loader gives its default verdict.
pub const CHAIN_REF_NONE: ChainRef = 0;

/// The [`ChainRef`] of chain `chain_id` (below [`MAX_CHAINS`]). [`NO_ID`] wraps to
/// [`CHAIN_REF_NONE`].
///
/// ```
/// use hike_isa::abi::{chain_of_ref, chain_ref, CHAIN_REF_NONE};
/// assert_eq!(chain_ref(0), 1, "chain 0 is a chain like any other");
/// assert_eq!(chain_of_ref(chain_ref(7)), Some(7));
/// assert_eq!(chain_of_ref(CHAIN_REF_NONE), None);
/// ```
pub const fn chain_ref(chain_id: u32) -> ChainRef {
    chain_id.wrapping_add(1)
}

/// The chain ID a [`ChainRef`] designates, `None` for [`CHAIN_REF_NONE`].
pub const fn chain_of_ref(r: ChainRef) -> Option<u32> {
    r.checked_sub(1)
}

/// `struct hike_event`: a record of the `hike_events` ring buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Event {
    /// `EVENT_*`.
    pub kind: u32,
    /// Innermost chain, or [`NO_ID`].
    pub chain_id: u32,
    /// Emitting program, or [`NO_ID`].
    pub prog_id: u32,
    /// User code.
    pub code: u32,
    /// Values.
    pub values: [u64; 4],
    /// The VM's clock when it was emitted: `CLOCK_MONOTONIC` in ns, or the replay clock
    /// ([`CFG_CLOCK`]).
    pub ts_ns: u64,
}

/// `struct hike_trace_rec`: one record of a packet's call trace ([`CFG_TRACE`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct TraceRec {
    /// `TRACE_*`.
    pub kind: u8,
    /// Frame of the chain (entered, returning, or calling the program).
    pub depth: u8,
    /// Reserved, 0.
    pub reserved: u16,
    /// Chain or program ID.
    pub id: u32,
    /// `r1..r5` at a call; `v[0]` the value or verdict at a return.
    pub v: [u64; MAX_ARGS],
}

/// `struct hike_frame`: one active chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Frame {
    /// Caller's `r6..r9`.
    pub saved_regs: [u64; 4],
    /// Bit `i`: stack slot `i` was written since entry.
    pub stack_init: u64,
    /// This frame's code location.
    pub code_off: u32,
    /// This frame's code length.
    pub code_len: u32,
    /// This frame's chain.
    pub chain_id: u32,
    /// Caller's pc to resume at.
    pub ret_pc: u32,
}

/// `struct hike_vm_state`: the per-CPU VM state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct VmState {
    /// `r0..r10`; 11..15 unused.
    pub regs: [u64; 16],
    /// Next instruction of the innermost frame.
    pub pc: u32,
    /// Instructions left for this packet.
    pub budget: u32,
    /// Program calls made for this packet.
    pub prog_calls: u32,
    /// Program being called.
    pub prog_id: u32,
    /// `STATUS_*`.
    pub status: u32,
    /// `VmConfig::flags`, read at boot (beside `status`: a program's entry reads both at once).
    pub cfg_flags: u32,
    /// Innermost frame index.
    pub depth: u32,
    /// Loader's verdict when the top chain returns.
    pub default_verdict: u32,
    /// Loader's verdict when the chain faults.
    pub failsafe_verdict: u32,
    /// Fault code of the last packet (0 = none).
    pub fault: u32,
    /// pc of the faulting instruction.
    pub fault_pc: u32,
    /// Chain of the faulting frame, or [`NO_ID`].
    pub fault_chain: u32,
    /// Verdict of the last finished packet.
    pub verdict: u32,
    /// Target of the last `hike_redirect()` of this packet, else 0.
    pub redirect_ifindex: u32,
    /// The innermost frame's code offset (a copy of its [`Frame::code_off`]).
    pub code_off: u32,
    /// The innermost frame's code length (a copy of its [`Frame::code_len`]).
    pub code_len: u32,
    /// The running script's [`LoaderConfig::dispatch`], copied by its loader.
    pub dispatch: u32,
    /// Padding.
    pub dispatch_pad: u32,
    /// `r0` of the top chain when it returned.
    pub result: u64,
    /// Packets booted on this CPU.
    pub packets: u64,
    /// Loader's parse results.
    pub meta: PktMeta,
    /// Active frames.
    pub frames: [Frame; MAX_FRAMES],
    /// Stacks of all frames.
    pub stack: [u8; MAX_FRAMES * STACK_SIZE],
    /// The replay clock ([`CFG_CLOCK`]), copied from [`VmConfig::clock_ns`] at boot.
    pub clock_ns: u64,
    /// Trace records of the last packet ([`CFG_TRACE`]), also those beyond [`TRACE_MAX`].
    pub trace_len: u32,
    /// Reserved.
    pub trace_reserved: u32,
    /// The call trace ([`CFG_TRACE`]): the first `min(trace_len, TRACE_MAX)` records.
    pub trace: [TraceRec; TRACE_MAX],
}

/// The names of the shared VM maps, as every HIKe object declares them (`bpf/include/hike/vm.h`;
/// the value layouts are `abi.h`'s). A runtime creates one set per VM instance and makes every
/// object it loads reuse it; anything that reads an object tells these maps from the object's
/// own by name.
pub mod vm_maps {
    /// Chain ID → [`super::ChainDesc`] (an mmapable array).
    pub const CHAINS: &str = "hike_chains";
    /// The code heap: a global of the section [`CODE_SECTION`], which libbpf turns into a
    /// one-entry array map named after the section; the runtime creates it as `hike_code`.
    pub const CODE: &str = "hike_code";
    /// The section of the code heap global, and the name libbpf gives its map in an object.
    pub const CODE_SECTION: &str = ".bss.hike_code";
    /// Program ID → program (a program array) of XDP programs.
    pub const PROGS: &str = "hike_progs";
    /// Program ID → program of TC (`sched_cls`) programs: what an object built for TC
    /// declares instead of [`PROGS`] (`bpf/include/hike/ctx.h`), a tail call reaching only
    /// programs of its own type.
    pub const PROGS_TC: &str = "hike_progs_tc";
    /// The one [`super::VmConfig`].
    pub const CONFIG: &str = "hike_config";
    /// The per-CPU [`super::VmState`].
    pub const STATE: &str = "hike_state";
    /// Per-CPU [`super::ChainStats`] by chain ID.
    pub const CHAIN_STATS: &str = "hike_cstats";
    /// Per-CPU [`super::ProgStats`] by program ID.
    pub const PROG_STATS: &str = "hike_pstats";
    /// Per-CPU fault counters by [`super::Fault`].
    pub const FAULTS: &str = "hike_faults";
    /// The ring buffer of [`super::Event`]s.
    pub const EVENTS: &str = "hike_events";
    /// Script slot → the script's loader (a program array; `dispatch.h`).
    pub const SCRIPTS: &str = "hike_scripts";
    /// [`super::DispatchKey`] → the next script's slot (a hash).
    pub const DISPATCH: &str = "hike_dispatch";
    /// Per-CPU packets by (script slot, final verdict) (index `slot * VERDICTS + verdict`).
    pub const VERDICTS: &str = "hike_verdicts";

    /// The maps every object declares in its `.maps` section (all but the code heap; an
    /// object built for TC declares [`PROGS_TC`] where this says [`PROGS`]).
    pub const DECLARED: [&str; 11] = [
        CHAINS,
        PROGS,
        CONFIG,
        STATE,
        CHAIN_STATS,
        PROG_STATS,
        FAULTS,
        EVENTS,
        SCRIPTS,
        DISPATCH,
        VERDICTS,
    ];
}

/// The BTF declaration tags of the SDK, by which an object says what its functions are
/// (`bpf/include/hike/sdk.h`, `loader.h`): user space reads them from an object's BTF before
/// loading it (the catalog) and from the BTF the kernel keeps for a loaded program (the
/// runtime).
pub mod tags {
    /// Marks a HIKe program's entry function (`HIKE_PROG`).
    pub const PROG: &str = "hike_prog";
    /// Prefixes the list of a HIKe program's parameters: `hike_params:a, b, c`.
    pub const PARAMS: &str = "hike_params:";
    /// Marks a loader's entry function (`HIKE_LOADER`).
    pub const LOADER: &str = "hike_loader";

    /// The parameter names of a [`PARAMS`] tag, in order (empty if it lists none); `None` if
    /// `tag` is another tag.
    pub fn params(tag: &str) -> Option<Vec<String>> {
        let list = tag.strip_prefix(PARAMS)?;
        Some(
            list.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }
}
