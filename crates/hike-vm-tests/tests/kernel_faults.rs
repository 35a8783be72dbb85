//! Every fault reason on the kernel VM: the packet gets the loader's fail-safe verdict, the
//! fault is recorded with its instruction and chain, and counted once by reason (globally and
//! for the chain). The reference VM must agree on all of it.

use hike_isa::abi::{Fault, MAX_PROGS};
use hike_isa::{op, Insn};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{xdp, Harness};

/// Runs chain 1 and asserts it faulted with `fault` at `pc`.
fn expect_fault(h: &mut Harness, fault: Fault, pc: u32) {
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, Some(fault), "{out:?}");
    assert_eq!(out.fault_pc, pc, "{fault}");
    assert_eq!(out.verdict, xdp::ABORTED, "{fault}");
    assert_eq!(out.fault_chain, 1, "{fault}");
    assert_eq!(out.fault_counts, vec![(fault, 1)], "{fault}");
    let per_chain = h
        .vm()
        .chain_stats(hike_runtime::ChainId::new(1).unwrap())
        .unwrap();
    assert!(
        per_chain.faults[fault as usize] >= 1,
        "{fault} counted for the chain"
    );
}

#[test]
fn kernel_every_fault_reason_aborts_the_chain_and_is_counted() {
    let mut h = Harness::in_both_modes();
    let mut covered = Vec::new();

    // Raw instructions for the faults the assembler would not write.
    let raw = |insns: &[Insn]| insns.to_vec();
    let exit = Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0);

    h.install_insns(1, &raw(&[Insn::new(0xff, 0, 0, 0, 0), exit]), 0);
    expect_fault(&mut h, Fault::BadOpcode, 0);
    covered.push(Fault::BadOpcode);

    h.install_insns(
        1,
        &raw(&[Insn::new(op::ALU64 | op::MOV | op::K, 11, 0, 0, 1), exit]),
        0,
    );
    expect_fault(&mut h, Fault::BadRegister, 0);
    covered.push(Fault::BadRegister);
    // The VM's fast paths for `if rX ==/!= imm` check the register too.
    for code in [op::JMP | op::JEQ | op::K, op::JMP | op::JNE | op::K] {
        h.install_insns(1, &raw(&[Insn::new(code, 11, 0, 0, 0), exit]), 0);
        expect_fault(&mut h, Fault::BadRegister, 0);
    }

    h.install(1, "r0 = 0\n goto +5\n exit", 0);
    expect_fault(&mut h, Fault::BadJump, 7);
    covered.push(Fault::BadJump);

    h.install(1, "r1 = 0\n r0 = *(u64 *)(r1 + 0)\n exit", 0);
    expect_fault(&mut h, Fault::MemOutOfBounds, 1);
    covered.push(Fault::MemOutOfBounds);

    h.install(1, "r0 = 0\n *(u32 *)(r10 - 6) = r0\n exit", 0);
    expect_fault(&mut h, Fault::MemMisaligned, 1);
    covered.push(Fault::MemMisaligned);

    h.install(1, "r0 = *(u64 *)(r10 - 16)\n exit", 0);
    expect_fault(&mut h, Fault::StackUninit, 0);
    covered.push(Fault::StackUninit);

    h.install(1, "r1 = 64\n r2 = 1\n call pkt_load\n exit", 0);
    expect_fault(&mut h, Fault::PktOutOfBounds, 2);
    covered.push(Fault::PktOutOfBounds);

    h.set_budget(10);
    h.install(1, "r0 = 0\n loop:\n r0 += 1\n goto loop", 0);
    // 10 steps: instruction 0, then (1, 2) four times, then 1: the 11th step would be pc 2.
    expect_fault(&mut h, Fault::Budget, 2);
    // Without a loop: fused, the chain has a fast twin without budget checks, run when the
    // budget covers its 5 instructions and a jump out (hike-fused: `Twin`). At the edge the
    // budget still runs out at the same step, in both modes.
    h.install(1, "r0 = 1\n r0 += 1\n r0 += 1\n r0 += 1\n exit", 0);
    h.set_budget(4);
    expect_fault(&mut h, Fault::Budget, 4);
    for budget in [5, 6, 7] {
        h.set_budget(budget);
        let out = h.check(1, &[], &ipv6_udp_packet(64));
        assert_eq!((out.fault, out.result), (None, 4), "budget {budget}");
    }
    h.set_budget(0);
    covered.push(Fault::Budget);

    h.install(1, "call chain 1\n exit", 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(
        out.fault,
        Some(Fault::CallDepth),
        "a chain calling itself runs out of frames"
    );
    covered.push(Fault::CallDepth);

    h.install(1, "call chain 77\n exit", 0);
    expect_fault(&mut h, Fault::NoChain, 0);
    covered.push(Fault::NoChain);

    h.install(1, &format!("call prog {}\n exit", MAX_PROGS - 1), 0);
    expect_fault(&mut h, Fault::NoProg, 0);
    // An empty slot of the dispatch's switch for IDs below 16 (vm.h).
    h.install(1, "call prog 15\n exit", 0);
    expect_fault(&mut h, Fault::NoProg, 0);
    h.install(1, &format!("call prog {}\n exit", MAX_PROGS + 5), 0);
    expect_fault(&mut h, Fault::NoProg, 0);
    covered.push(Fault::NoProg);

    let mut calls = String::new();
    for _ in 0..34 {
        calls.push_str("call prog test_null\n");
    }
    h.install(1, &format!("{calls} exit"), 0);
    expect_fault(&mut h, Fault::ProgCallCap, 33);
    covered.push(Fault::ProgCallCap);

    h.install(1, "call helper 99\n exit", 0);
    expect_fault(&mut h, Fault::BadHelper, 0);
    covered.push(Fault::BadHelper);

    h.install(1, "r1 = 0\n r2 = 3\n call pkt_load\n exit", 0);
    expect_fault(&mut h, Fault::BadHelperArg, 2);
    covered.push(Fault::BadHelperArg);

    // BadState: a program entered without a chain calling it. The test loader cannot do that,
    // so run a program directly (the kernel VM only; the reference VM has no such entry).
    covered.push(Fault::BadState);
    let before = h.vm().fault_counts().unwrap()[Fault::BadState as usize];
    // A chain that ends normally leaves the state idle; then the next direct program entry
    // must be refused.
    h.install(1, "r0 = 0\n exit", 0);
    h.check(1, &[], &ipv6_udp_packet(64));
    let direct = direct_program_run(&h);
    assert_eq!(direct, xdp::ABORTED);
    assert_eq!(
        h.vm().fault_counts().unwrap()[Fault::BadState as usize],
        before + 1
    );

    covered.sort();
    assert_eq!(
        covered,
        Fault::ALL.to_vec(),
        "every fault reason has a case"
    );
}

/// Test-runs program `test_null` directly, as if it were attached without a loader.
fn direct_program_run(h: &Harness) -> u32 {
    let loader = h
        .vm()
        .load_loader(
            "direct",
            hike_testkit::vm::object("test_progs").unwrap(),
            "test_null",
        )
        .expect("load test_null as an entry program");
    loader
        .test_run(&ipv6_udp_packet(64), 1)
        .expect("test run")
        .retval
}

#[test]
fn kernel_failsafe_and_default_verdicts_come_from_the_loader_config() {
    let mut h = Harness::in_both_modes();
    hike_testkit::vm::set_verdicts(h.loader(), xdp::TX, xdp::DROP).unwrap();
    h.install(1, "r0 = 0\n exit", 0);
    let (out, _) = h.run_kernel(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.verdict, xdp::TX);
    h.install(1, "r0 = *(u64 *)(r10 - 8)\n exit", 0);
    let (out, _) = h.run_kernel(1, &[], &ipv6_udp_packet(64));
    assert_eq!(
        (out.verdict, out.fault),
        (xdp::DROP, Some(Fault::StackUninit))
    );
}

/// A boot into a chain that does not exist faults `NoChain` with no program call left in the
/// state, even right after a packet that made one: the interpreter's boot zeroes the count
/// before it finds no chain, and the fused boot does the same in its `default:` case.
#[test]
fn kernel_a_boot_into_no_chain_leaves_no_program_calls_in_both_modes() {
    let mut h = Harness::in_both_modes();
    h.install(1, "call prog test_null\n exit", 0);
    let packet = ipv6_udp_packet(64);
    let prog_calls = |h: &Harness| h.state().prog_calls;
    let out = h.run_kernel(1, &[], &packet).0;
    assert_eq!(
        (out.fault, prog_calls(&h)),
        (None, 1),
        "interpreted, chain 1"
    );
    let out = h.run_kernel(77, &[], &packet).0;
    assert_eq!(
        (out.fault, prog_calls(&h)),
        (Some(Fault::NoChain), 0),
        "interpreted, chain 77"
    );
    h.fused().expect("chain 1 fuses");
    let out = h.run_fused(1, &[], &packet);
    assert_eq!((out.fault, prog_calls(&h)), (None, 1), "fused, chain 1");
    let out = h.run_fused(77, &[], &packet);
    assert_eq!(
        (out.fault, prog_calls(&h)),
        (Some(Fault::NoChain), 0),
        "fused, chain 77"
    );
}
