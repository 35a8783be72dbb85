//! The reference VM's public face: what it holds (chains, programs, settings), what a packet
//! brings ([`Boot`]) and what a run returns ([`RunOutcome`]). The interpreter is in `exec.rs`.

use std::collections::BTreeMap;
use std::fmt;

use hike_isa::abi::{self, ChainStats, Event, Fault, PktMeta, ProgStats};
use hike_isa::Insn;

use crate::error::RefVmError;
use crate::exec;
use crate::xdp;

/// A HIKe program as the reference VM runs it: a closure called by `call program`.
pub type Program = Box<dyn FnMut(&mut ProgramCall<'_>) -> ProgramOutcome>;

/// What a program called by a chain decides (`HIKE_RETURN(v)` or `return VERDICT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramOutcome {
    /// Resume the calling chain with `r0` = the value.
    Return(u64),
    /// End the packet with this verdict.
    Verdict(u32),
}

/// What a program sees while a chain calls it: its arguments, the packet (which it may change,
/// length included, as an XDP program could) and the read-only packet metadata.
pub struct ProgramCall<'a> {
    pub(crate) prog_id: u32,
    pub(crate) chain_id: u32,
    pub(crate) args: [u64; abi::MAX_ARGS],
    pub(crate) packet: &'a mut Vec<u8>,
    pub(crate) meta: &'a PktMeta,
    pub(crate) events: &'a mut Vec<Event>,
    pub(crate) ktime: &'a mut dyn FnMut() -> u64,
}

impl ProgramCall<'_> {
    /// The VM's clock, as a program reads it (`hike_now_ns()`): the reference VM's time source
    /// ([`RefVm::set_ktime`]).
    pub fn now_ns(&mut self) -> u64 {
        (self.ktime)()
    }

    /// The ID under which the program was called.
    pub fn prog_id(&self) -> u32 {
        self.prog_id
    }

    /// The calling chain (the innermost frame's).
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The arguments: the chain's `r1..r5` at the call.
    pub fn args(&self) -> [u64; abi::MAX_ARGS] {
        self.args
    }

    /// The packet bytes.
    pub fn packet(&self) -> &[u8] {
        self.packet
    }

    /// The packet bytes, to change them (or their length).
    pub fn packet_mut(&mut self) -> &mut Vec<u8> {
        self.packet
    }

    /// The loader's packet metadata.
    pub fn meta(&self) -> &PktMeta {
        self.meta
    }

    /// Emits an event like `hike_emit(code, a, b, c)`: kind `EVENT_PROGRAM`, the calling chain
    /// and this program's ID, stamped with [`ProgramCall::now_ns`].
    pub fn emit(&mut self, code: u32, a: u64, b: u64, c: u64) {
        let ts_ns = self.now_ns();
        self.events.push(Event {
            kind: abi::EVENT_PROGRAM,
            chain_id: self.chain_id,
            prog_id: self.prog_id,
            code,
            values: [a, b, c, 0],
            ts_ns,
        });
    }
}

impl fmt::Debug for ProgramCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgramCall")
            .field("prog_id", &self.prog_id)
            .field("chain_id", &self.chain_id)
            .field("args", &self.args)
            .field("packet_len", &self.packet.len())
            .finish_non_exhaustive()
    }
}

/// How a loader starts a chain for one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// The chain to start.
    pub chain_id: u32,
    /// `r1..r5`; arguments the loader does not pass are 0.
    pub args: [u64; abi::MAX_ARGS],
    /// The packet bytes.
    pub packet: Vec<u8>,
    /// The loader's parse results, readable at `ADDR_META`.
    pub meta: PktMeta,
    /// Verdict when the top chain returns.
    pub default_verdict: u32,
    /// Verdict when the chain faults.
    pub failsafe_verdict: u32,
}

impl Boot {
    /// A boot of `chain_id` for `packet` with no arguments, zeroed metadata and the loaders'
    /// unconfigured verdicts ([`xdp::PASS`] and [`xdp::ABORTED`]).
    pub fn new(chain_id: u32, packet: Vec<u8>) -> Boot {
        Boot {
            chain_id,
            args: [0; abi::MAX_ARGS],
            packet,
            meta: PktMeta::default(),
            default_verdict: xdp::PASS,
            failsafe_verdict: xdp::ABORTED,
        }
    }

    /// Sets the first `args.len()` arguments; the others are 0.
    ///
    /// # Panics
    ///
    /// If there are more than `abi::MAX_ARGS` arguments.
    pub fn with_args(mut self, args: &[u64]) -> Boot {
        assert!(
            args.len() <= abi::MAX_ARGS,
            "at most {} arguments",
            abi::MAX_ARGS
        );
        self.args = [0; abi::MAX_ARGS];
        self.args[..args.len()].copy_from_slice(args);
        self
    }

    /// Sets the packet metadata.
    pub fn with_meta(mut self, meta: PktMeta) -> Boot {
        self.meta = meta;
        self
    }

    /// Sets the default and the fail-safe verdicts.
    pub fn with_verdicts(mut self, default_verdict: u32, failsafe_verdict: u32) -> Boot {
        self.default_verdict = default_verdict;
        self.failsafe_verdict = failsafe_verdict;
        self
    }
}

/// How a packet's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ending {
    /// The top chain executed `exit`: the default verdict, `result` = its `r0`.
    Exit,
    /// A program ended the packet with its verdict.
    Program {
        /// The program.
        prog_id: u32,
    },
    /// The chain faulted: the fail-safe verdict.
    Fault,
}

/// Counters as the eBPF VM keeps them in its stats maps: chain runs and program calls (only
/// with stats on), faults by reason, globally and per chain (always).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `hike_cstats`: chains with any nonzero counter.
    pub chains: BTreeMap<u32, ChainStats>,
    /// `hike_pstats`: programs with a nonzero counter.
    pub programs: BTreeMap<u32, ProgStats>,
    /// `hike_faults`: indexed by fault code (index 0, "none", stays 0).
    pub faults: [u64; Fault::MAX],
}

impl Counters {
    /// Runs of a chain (entries, top-level or called).
    pub fn chain_runs(&self, chain_id: u32) -> u64 {
        self.chains.get(&chain_id).map_or(0, |s| s.runs)
    }

    /// Faults of one reason while a chain was the innermost frame.
    pub fn chain_faults(&self, chain_id: u32, fault: Fault) -> u64 {
        self.chains
            .get(&chain_id)
            .map_or(0, |s| s.faults[fault as usize])
    }

    /// Calls of a program.
    pub fn program_calls(&self, prog_id: u32) -> u64 {
        self.programs.get(&prog_id).map_or(0, |s| s.calls)
    }

    /// Faults of one reason, all chains together.
    pub fn faults(&self, fault: Fault) -> u64 {
        self.faults[fault as usize]
    }

    /// Adds every counter of `other` to this one.
    pub fn add(&mut self, other: &Counters) {
        for (id, s) in &other.chains {
            let mine = self.chains.entry(*id).or_default();
            mine.runs += s.runs;
            for (m, o) in mine.faults.iter_mut().zip(s.faults) {
                *m += o;
            }
        }
        for (id, s) in &other.programs {
            self.programs.entry(*id).or_default().calls += s.calls;
        }
        for (m, o) in self.faults.iter_mut().zip(other.faults) {
            *m += o;
        }
    }

    pub(crate) fn count_run(&mut self, chain_id: u32) {
        self.chains.entry(chain_id).or_default().runs += 1;
    }

    pub(crate) fn count_call(&mut self, prog_id: u32) {
        self.programs.entry(prog_id).or_default().calls += 1;
    }

    pub(crate) fn count_fault(&mut self, fault: Fault, chain_id: u32) {
        self.faults[fault as usize] += 1;
        if chain_id < abi::MAX_CHAINS {
            self.chains.entry(chain_id).or_default().faults[fault as usize] += 1;
        }
    }
}

/// Everything one packet's run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// The packet's verdict.
    pub verdict: u32,
    /// How the run ended.
    pub ending: Ending,
    /// `r0` of the top chain when it returned; 0 otherwise.
    pub result: u64,
    /// Why the chain was aborted, if it was.
    pub fault: Option<Fault>,
    /// The pc of the faulting instruction; 0 without a fault.
    pub fault_pc: u32,
    /// The innermost frame's chain at the fault (`NO_ID` for a boot of an ID out of range, or
    /// without a fault).
    pub fault_chain: u32,
    /// The packet bytes after processing.
    pub packet: Vec<u8>,
    /// Events emitted by chains and programs, in order.
    pub events: Vec<Event>,
    /// Steps executed: the budget consumed. A faulting step counts, except a `Budget` fault
    /// (found before the budget is taken); `LD_IMM64` is one step; programs take none.
    pub steps: u32,
    /// Program calls made.
    pub prog_calls: u32,
    /// What this run added to the counters.
    pub counters: Counters,
}

/// One frame of the [`MachineState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameState {
    /// The frame's chain.
    pub chain_id: u32,
    /// The caller's `r6..r9`, restored when this frame returns.
    pub saved_regs: [u64; 4],
    /// Bit `i`: stack slot `i` was written since the frame was entered.
    pub stack_init: u64,
    /// The caller's pc to resume at.
    pub ret_pc: u32,
}

/// The VM's registers, frames and stacks, as the last run left them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineState {
    /// `r0..r10`.
    pub regs: [u64; 11],
    /// The pc of the innermost frame: at a fault, the faulting instruction.
    pub pc: u32,
    /// The innermost frame's index.
    pub depth: u32,
    /// Budget left.
    pub budget: u32,
    /// Program calls made.
    pub prog_calls: u32,
    /// Frames `0..=depth` are active; the others hold what earlier calls left.
    pub frames: [FrameState; abi::MAX_FRAMES],
    /// The stacks of all frames (`MAX_FRAMES * STACK_SIZE` bytes). Bytes of slots not marked
    /// in their frame's `stack_init` may hold data of earlier frames or packets: the VM never
    /// lets a chain read them.
    pub stack: Vec<u8>,
}

impl Default for MachineState {
    fn default() -> Self {
        MachineState {
            regs: [0; 11],
            pc: 0,
            depth: 0,
            budget: 0,
            prog_calls: 0,
            frames: [FrameState::default(); abi::MAX_FRAMES],
            stack: vec![0; abi::MAX_FRAMES * abi::STACK_SIZE],
        }
    }
}

/// A loaded chain.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    pub(crate) insns: Vec<Insn>,
    pub(crate) nparams: u8,
}

/// The reference VM: chains, programs and settings, and the state of the last run.
///
/// Defaults: no chains or programs, budget 0 (that is, `DEFAULT_BUDGET`), stats off, and
/// deterministic time and random sources (see [`RefVm::set_ktime`], [`RefVm::set_random`]).
pub struct RefVm {
    chains: Vec<Option<Chain>>,
    programs: Vec<Option<Program>>,
    budget: u32,
    stats: bool,
    ktime: Box<dyn FnMut() -> u64>,
    random: Box<dyn FnMut() -> u32>,
    machine: MachineState,
    totals: Counters,
}

impl Default for RefVm {
    fn default() -> Self {
        RefVm::new()
    }
}

impl fmt::Debug for RefVm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chains: Vec<u32> = ids(&self.chains).collect();
        let programs: Vec<u32> = ids(&self.programs).collect();
        f.debug_struct("RefVm")
            .field("chains", &chains)
            .field("programs", &programs)
            .field("budget", &self.budget)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn ids<T>(slots: &[Option<T>]) -> impl Iterator<Item = u32> + '_ {
    (0u32..)
        .zip(slots)
        .filter_map(|(id, slot)| slot.as_ref().map(|_| id))
}

impl RefVm {
    /// An empty VM with the default settings.
    pub fn new() -> RefVm {
        RefVm {
            chains: (0..abi::MAX_CHAINS).map(|_| None).collect(),
            programs: (0..abi::MAX_PROGS).map(|_| None).collect(),
            budget: 0,
            stats: false,
            ktime: default_ktime(),
            random: default_random(),
            machine: MachineState::default(),
            totals: Counters::default(),
        }
    }

    /// Installs (or replaces) chain `id`. The instructions are not validated: the VM faults
    /// where the eBPF VM would. `nparams` is informative, as in the chain descriptor.
    pub fn load_chain(&mut self, id: u32, insns: Vec<Insn>, nparams: u8) -> Result<(), RefVmError> {
        if id >= abi::MAX_CHAINS {
            return Err(RefVmError::ChainIdOutOfRange {
                id,
                max: abi::MAX_CHAINS,
            });
        }
        if insns.is_empty() {
            return Err(RefVmError::EmptyChain { id });
        }
        if insns.len() > abi::MAX_CHAIN_INSNS {
            return Err(RefVmError::ChainTooLong {
                id,
                len: insns.len(),
                max: abi::MAX_CHAIN_INSNS,
            });
        }
        self.chains[id as usize] = Some(Chain { insns, nparams });
        Ok(())
    }

    /// Removes chain `id`; whether there was one.
    pub fn unload_chain(&mut self, id: u32) -> bool {
        self.chains
            .get_mut(id as usize)
            .and_then(Option::take)
            .is_some()
    }

    /// The instructions of chain `id`, if loaded.
    pub fn chain(&self, id: u32) -> Option<&[Insn]> {
        self.chains
            .get(id as usize)?
            .as_ref()
            .map(|c| c.insns.as_slice())
    }

    /// The declared parameters of chain `id`, if loaded.
    pub fn chain_nparams(&self, id: u32) -> Option<u8> {
        self.chains.get(id as usize)?.as_ref().map(|c| c.nparams)
    }

    /// Installs (or replaces) program `id`.
    pub fn load_program(
        &mut self,
        id: u32,
        program: impl FnMut(&mut ProgramCall<'_>) -> ProgramOutcome + 'static,
    ) -> Result<(), RefVmError> {
        if id >= abi::MAX_PROGS {
            return Err(RefVmError::ProgramIdOutOfRange {
                id,
                max: abi::MAX_PROGS,
            });
        }
        self.programs[id as usize] = Some(Box::new(program));
        Ok(())
    }

    /// Removes program `id`; whether there was one.
    pub fn unload_program(&mut self, id: u32) -> bool {
        self.programs
            .get_mut(id as usize)
            .and_then(Option::take)
            .is_some()
    }

    /// Sets the budget as `hike_vm_config.budget` does: 0 means `DEFAULT_BUDGET`, values above
    /// `MAX_BUDGET` are clamped.
    pub fn set_budget(&mut self, budget: u32) {
        self.budget = budget;
    }

    /// The budget a packet starts with.
    pub fn budget(&self) -> u32 {
        match self.budget {
            0 => abi::DEFAULT_BUDGET,
            b => b.min(abi::MAX_BUDGET),
        }
    }

    /// Counts chain runs and program calls (`CFG_STATS`); faults are always counted.
    pub fn set_stats(&mut self, stats: bool) {
        self.stats = stats;
    }

    /// Whether chain runs and program calls are counted.
    pub fn stats(&self) -> bool {
        self.stats
    }

    /// Sets the source of the `ktime_ns` helper. The default starts at 1 s and advances by
    /// 1 µs per call, the same for every VM.
    pub fn set_ktime(&mut self, ktime: impl FnMut() -> u64 + 'static) {
        self.ktime = Box::new(ktime);
    }

    /// Sets the source of the `random` helper. The default is a xorshift32 sequence with a
    /// fixed seed, the same for every VM.
    pub fn set_random(&mut self, random: impl FnMut() -> u32 + 'static) {
        self.random = Box::new(random);
    }

    /// Runs one packet: boots `boot.chain_id` and interprets until the top chain returns, a
    /// program ends the packet or the chain faults.
    pub fn run(&mut self, boot: Boot) -> RunOutcome {
        let budget = self.budget();
        let env = exec::Env {
            chains: &self.chains,
            programs: &mut self.programs,
            ktime: &mut *self.ktime,
            random: &mut *self.random,
            stats: self.stats,
        };
        let outcome = exec::run(env, &mut self.machine, budget, boot);
        self.totals.add(&outcome.counters);
        outcome
    }

    /// The registers, frames and stacks as the last run left them.
    pub fn machine(&self) -> &MachineState {
        &self.machine
    }

    /// The counters of every run since the VM was made or [`RefVm::reset_totals`].
    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    /// Clears [`RefVm::totals`].
    pub fn reset_totals(&mut self) {
        self.totals = Counters::default();
    }
}

fn default_ktime() -> Box<dyn FnMut() -> u64> {
    let mut now = 1_000_000_000u64;
    Box::new(move || {
        let t = now;
        now += 1_000;
        t
    })
}

fn default_random() -> Box<dyn FnMut() -> u32> {
    let mut x = 0x2545_f491u32;
    Box::new(move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    })
}
