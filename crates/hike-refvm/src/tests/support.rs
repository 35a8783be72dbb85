//! What every test module uses: instruction constructors, a way to write a chain as a list of
//! instructions and `LD_IMM64` pairs, and `check`-style runners.

pub(super) use hike_isa::abi::{self, Fault, Helper, PktMeta};
pub(super) use hike_isa::{op, Insn};

pub(super) use crate::ins::*;
pub(super) use crate::{xdp, Boot, Ending, ProgramOutcome, RefVm, RunOutcome};

/// Something that adds instructions to a chain: one [`Insn`] or an `LD_IMM64` pair.
pub(super) trait Emit {
    fn emit(self, out: &mut Vec<Insn>);
}

impl Emit for Insn {
    fn emit(self, out: &mut Vec<Insn>) {
        out.push(self);
    }
}

impl Emit for [Insn; 2] {
    fn emit(self, out: &mut Vec<Insn>) {
        out.extend(self);
    }
}

impl Emit for Vec<Insn> {
    fn emit(self, out: &mut Vec<Insn>) {
        out.extend(self);
    }
}

/// A chain from instructions and `LD_IMM64` pairs.
macro_rules! code {
    ($($e:expr),* $(,)?) => {{
        let mut v: Vec<Insn> = Vec::new();
        $( $crate::tests::support::Emit::emit($e, &mut v); )*
        v
    }};
}
pub(super) use code;

/// The packet of the runners: bytes 0, 1, ..., 63.
pub(super) fn test_packet() -> Vec<u8> {
    (0..64).collect()
}

/// A VM with `chains` loaded as chains 0, 1, ... (5 declared parameters each).
pub(super) fn vm_with(chains: &[Vec<Insn>]) -> RefVm {
    let mut vm = RefVm::new();
    for (id, c) in (0u32..).zip(chains) {
        vm.load_chain(id, c.clone(), 5).expect("test chain loads");
    }
    vm
}

/// Runs `insns` as chain 0 with `args` on [`test_packet`].
pub(super) fn run_args(insns: &[Insn], args: &[u64]) -> RunOutcome {
    let mut vm = vm_with(&[insns.to_vec()]);
    vm.run(Boot::new(0, test_packet()).with_args(args))
}

/// Runs `insns` as chain 0 without arguments.
pub(super) fn run(insns: &[Insn]) -> RunOutcome {
    run_args(insns, &[])
}

/// Asserts that `insns` followed by `exit` returns `expected` in `r0`.
#[track_caller]
pub(super) fn eq(mut insns: Vec<Insn>, expected: u64) {
    insns.push(exit());
    let out = run(&insns);
    assert_eq!(out.fault, None, "unexpected fault at pc {}", out.fault_pc);
    assert_eq!(
        out.result, expected,
        "r0 = {:#x}, expected {expected:#x}",
        out.result
    );
}

/// Asserts that `insns` (run as is) faults with `fault` at `pc` in chain 0.
#[track_caller]
pub(super) fn fails(insns: Vec<Insn>, fault: Fault, pc: u32) {
    let out = run(&insns);
    assert_eq!(out.fault, Some(fault), "fault at pc {}", out.fault_pc);
    assert_eq!(out.fault_pc, pc, "fault pc");
    assert_eq!(out.fault_chain, 0, "fault chain");
    assert_eq!(out.verdict, xdp::ABORTED, "fail-safe verdict");
    assert_eq!(out.ending, Ending::Fault);
}

/// Asserts that the single instruction `insn`, after `setup`, faults with `fault` at its pc.
#[track_caller]
pub(super) fn insn_fails(setup: Vec<Insn>, insn: Insn, fault: Fault) {
    let pc = setup.len() as u32;
    let mut insns = setup;
    insns.push(insn);
    insns.push(exit());
    fails(insns, fault, pc);
}

/// Asserts that `insn` alone (then `exit`) runs without a fault.
#[track_caller]
pub(super) fn insn_runs(setup: Vec<Insn>, insn: Insn) {
    let mut insns = setup;
    insns.push(insn);
    insns.push(exit());
    let out = run(&insns);
    assert_eq!(out.fault, None, "unexpected fault at pc {}", out.fault_pc);
}
