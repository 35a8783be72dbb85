//! The Packet boot, Each step (budget) and Fault sections: boot state, the budget setting, what
//! a fault records and counts, and the errors of the setup calls.

use super::support::*;
use crate::RefVmError;

#[test]
fn boot_sets_registers() {
    let mut vm = vm_with(&[code![exit()]]);
    let out = vm.run(Boot::new(0, test_packet()).with_args(&[1, 2, 3]));
    assert_eq!(out.result, 0);
    assert_eq!(
        vm.machine().regs,
        [0, 1, 2, 3, 0, 0, 0, 0, 0, 0, abi::ADDR_STACK + 512]
    );
    // A second packet starts afresh.
    vm.load_chain(0, code![mov64_k(6, 1), mov64_k(0, 1), exit()], 0)
        .unwrap();
    vm.run(Boot::new(0, test_packet()).with_args(&[9, 9, 9, 9, 9]));
    vm.load_chain(0, code![exit()], 0).unwrap();
    vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        vm.machine().regs,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, abi::ADDR_STACK + 512]
    );
}

#[test]
fn booting_a_missing_chain_faults() {
    let mut vm = vm_with(&[code![exit()]]);
    vm.set_stats(true);
    let out = vm.run(Boot::new(5, test_packet()).with_verdicts(xdp::PASS, xdp::DROP));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (Some(Fault::NoChain), 0, 5)
    );
    assert_eq!(
        (out.verdict, out.ending, out.steps),
        (xdp::DROP, Ending::Fault, 0)
    );
    assert_eq!(out.counters.faults(Fault::NoChain), 1);
    assert_eq!(out.counters.chain_faults(5, Fault::NoChain), 1);
    assert_eq!(out.counters.chain_runs(5), 0);
    let out = vm.run(Boot::new(abi::MAX_CHAINS, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (Some(Fault::NoChain), 0, abi::NO_ID)
    );
    assert_eq!(out.counters.faults(Fault::NoChain), 1);
    assert!(out.counters.chains.is_empty());
    assert_eq!(vm.totals().faults(Fault::NoChain), 2);
}

/// Ten `mov`s then `exit`: eleven steps.
fn eleven_steps() -> Vec<Insn> {
    let mut insns: Vec<Insn> = (0..10).map(|i| mov64_k(0, i)).collect();
    insns.push(exit());
    insns
}

#[test]
fn budget_exactly_enough_and_one_short() {
    let mut vm = vm_with(&[eleven_steps()]);
    vm.set_budget(11);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!((out.fault, out.steps, out.result), (None, 11, 9));
    assert_eq!(vm.machine().budget, 0);
    vm.set_budget(10);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.steps),
        (Some(Fault::Budget), 10, 10)
    );
    assert_eq!(out.verdict, xdp::ABORTED);
    vm.set_budget(1);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.steps),
        (Some(Fault::Budget), 1, 1)
    );
}

#[test]
fn budget_runs_out_in_the_innermost_frame() {
    let mut vm = vm_with(&[code![call_chain(1), exit()], code![ja(-1)]]);
    vm.set_budget(100);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain, out.steps),
        (Some(Fault::Budget), 0, 1, 100)
    );
    assert_eq!(out.counters.chain_faults(1, Fault::Budget), 1);
    assert_eq!(out.counters.chain_faults(0, Fault::Budget), 0);
}

#[test]
fn budget_setting_defaults_and_clamps() {
    let mut vm = RefVm::new();
    assert_eq!(vm.budget(), abi::DEFAULT_BUDGET);
    vm.set_budget(0);
    assert_eq!(vm.budget(), abi::DEFAULT_BUDGET);
    vm.set_budget(u32::MAX);
    assert_eq!(vm.budget(), abi::MAX_BUDGET);
    vm.set_budget(abi::MAX_BUDGET);
    assert_eq!(vm.budget(), abi::MAX_BUDGET);
    vm.set_budget(7);
    assert_eq!(vm.budget(), 7);
    // An endless loop stops after exactly the default budget.
    let mut vm = vm_with(&[code![mov64_k(0, 0), alu64_k(op::ADD, 0, 1), ja(-2)]]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.steps),
        (Some(Fault::Budget), abi::DEFAULT_BUDGET)
    );
    assert_eq!(out.fault_pc, 1 + (abi::DEFAULT_BUDGET - 1) % 2);
    assert_eq!(
        vm.machine().regs[0],
        u64::from((abi::DEFAULT_BUDGET - 1).div_ceil(2))
    );
}

#[test]
fn budget_can_run_out_right_after_a_program() {
    let mut vm = vm_with(&[code![call_prog(0), exit()]]);
    vm.load_program(0, |_| ProgramOutcome::Return(3)).unwrap();
    vm.set_budget(1);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.prog_calls),
        (Some(Fault::Budget), 1, 1)
    );
    vm.set_budget(2);
    assert_eq!(vm.run(Boot::new(0, test_packet())).result, 3);
}

#[test]
fn a_fault_keeps_packet_changes_and_events() {
    let insns = code![
        mov64_k(1, 0),
        mov64_k(2, 1),
        mov64_k(3, 0xaa),
        call_helper(Helper::PktStore),
        mov64_k(1, 1),
        call_helper(Helper::Event),
        ldx(op::DW, 0, 10, -8),
        exit(),
    ];
    let out = run(&insns);
    assert_eq!((out.fault, out.fault_pc), (Some(Fault::StackUninit), 6));
    assert_eq!(out.packet[0], 0xaa);
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.result, 0);
}

#[test]
fn faults_are_counted_by_reason_and_innermost_chain() {
    let mut vm = vm_with(&[
        code![call_chain(1), exit()],
        code![Insn::new(0xff, 0, 0, 0, 0)],
    ]);
    for _ in 0..3 {
        let out = vm.run(Boot::new(0, test_packet()));
        assert_eq!(
            (out.fault, out.fault_chain, out.fault_pc),
            (Some(Fault::BadOpcode), 1, 0)
        );
        let mut expected = [0u64; Fault::MAX];
        expected[Fault::BadOpcode as usize] = 1;
        assert_eq!(out.counters.faults, expected);
    }
    assert_eq!(vm.totals().faults(Fault::BadOpcode), 3);
    assert_eq!(vm.totals().chain_faults(1, Fault::BadOpcode), 3);
    assert_eq!(vm.totals().chain_faults(0, Fault::BadOpcode), 0);
}

#[test]
fn setup_errors() {
    let mut vm = RefVm::new();
    assert_eq!(
        vm.load_chain(abi::MAX_CHAINS, vec![exit()], 0),
        Err(RefVmError::ChainIdOutOfRange {
            id: abi::MAX_CHAINS,
            max: abi::MAX_CHAINS
        })
    );
    assert_eq!(
        vm.load_chain(3, vec![], 0),
        Err(RefVmError::EmptyChain { id: 3 })
    );
    let long = vec![exit(); abi::MAX_CHAIN_INSNS + 1];
    assert_eq!(
        vm.load_chain(3, long, 0),
        Err(RefVmError::ChainTooLong {
            id: 3,
            len: abi::MAX_CHAIN_INSNS + 1,
            max: abi::MAX_CHAIN_INSNS
        })
    );
    assert!(vm
        .load_chain(3, vec![exit(); abi::MAX_CHAIN_INSNS], 2)
        .is_ok());
    assert_eq!(vm.chain_nparams(3), Some(2));
    assert_eq!(vm.chain(3).map(<[Insn]>::len), Some(abi::MAX_CHAIN_INSNS));
    assert!(vm.unload_chain(3));
    assert!(!vm.unload_chain(3));
    assert!(!vm.unload_chain(u32::MAX));
    assert_eq!(
        vm.load_program(abi::MAX_PROGS, |_| ProgramOutcome::Return(0))
            .unwrap_err(),
        RefVmError::ProgramIdOutOfRange {
            id: abi::MAX_PROGS,
            max: abi::MAX_PROGS
        }
    );
    assert_eq!(
        RefVmError::ChainTooLong {
            id: 3,
            len: 5000,
            max: 4096
        }
        .to_string(),
        "chain 3 has 5000 instructions, more than the limit of 4096"
    );
}

#[test]
#[should_panic(expected = "at most 5 arguments")]
fn boot_takes_at_most_five_arguments() {
    let _ = Boot::new(0, vec![]).with_args(&[1, 2, 3, 4, 5, 6]);
}
