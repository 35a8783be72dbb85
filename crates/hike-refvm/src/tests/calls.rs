//! The CALL and EXIT sections: helpers, chain calls and frames, program calls, the limits.

use std::cell::RefCell;
use std::rc::Rc;

use super::support::*;

// ---- Helpers ---------------------------------------------------------------------------------

/// `r0` after `pkt_load(off, size)` on [`test_packet`] (bytes 0..64).
fn pkt_load(off: u64, size: u64) -> RunOutcome {
    run(&code![
        ld_imm64(1, off),
        ld_imm64(2, size),
        call_helper(Helper::PktLoad),
        exit()
    ])
}

#[test]
fn pkt_load_reads_big_endian() {
    assert_eq!(pkt_load(0, 1).result, 0x00);
    assert_eq!(pkt_load(5, 1).result, 0x05);
    assert_eq!(pkt_load(1, 2).result, 0x0102);
    assert_eq!(pkt_load(3, 4).result, 0x0304_0506);
    assert_eq!(pkt_load(8, 8).result, 0x0809_0a0b_0c0d_0e0f);
    // Any offset, aligned or not, up to the last byte.
    assert_eq!(pkt_load(56, 8).result, 0x3839_3a3b_3c3d_3e3f);
    assert_eq!(pkt_load(63, 1).result, 0x3f);
}

#[test]
fn pkt_load_checks_size_then_bounds() {
    for size in [0, 3, 5, 16, u64::MAX] {
        assert_eq!(
            pkt_load(0, size).fault,
            Some(Fault::BadHelperArg),
            "size {size}"
        );
    }
    assert_eq!(pkt_load(u64::MAX, 3).fault, Some(Fault::BadHelperArg));
    assert_eq!(pkt_load(57, 8).fault, Some(Fault::PktOutOfBounds));
    assert_eq!(pkt_load(64, 1).fault, Some(Fault::PktOutOfBounds));
    assert_eq!(pkt_load(0x1_0000, 1).fault, Some(Fault::PktOutOfBounds));
    assert_eq!(pkt_load(u64::MAX, 8).fault, Some(Fault::PktOutOfBounds));
    assert_eq!(pkt_load(u64::MAX - 3, 4).fault, Some(Fault::PktOutOfBounds));
    let out = pkt_load(62, 4);
    assert_eq!(
        (out.fault_pc, out.fault_chain, out.verdict),
        (4, 0, xdp::ABORTED)
    );
}

#[test]
fn pkt_load_allows_offsets_up_to_0xffff_on_big_packets() {
    let insns = code![
        ld_imm64(1, 0xffff),
        mov64_k(2, 1),
        call_helper(Helper::PktLoad),
        exit()
    ];
    let mut vm = vm_with(&[insns]);
    let mut packet = vec![0u8; 0x1_0000];
    packet[0xffff] = 0x5a;
    assert_eq!(vm.run(Boot::new(0, packet)).result, 0x5a);
    let insns = code![
        ld_imm64(1, 0x1_0000),
        mov64_k(2, 1),
        call_helper(Helper::PktLoad),
        exit()
    ];
    let mut vm = vm_with(&[insns]);
    let out = vm.run(Boot::new(0, vec![0u8; 0x1_0001]));
    assert_eq!(out.fault, Some(Fault::PktOutOfBounds));
}

#[test]
fn pkt_store_writes_big_endian_and_returns_zero() {
    let store = |off: i32, size: i32, v: u64| {
        run(&code![
            mov64_k(0, 9),
            mov64_k(1, off),
            mov64_k(2, size),
            ld_imm64(3, v),
            call_helper(Helper::PktStore),
            exit()
        ])
    };
    let out = store(4, 4, 0xaabb_ccdd_1122_3344);
    assert_eq!(out.result, 0);
    assert_eq!(
        &out.packet[..10],
        &[0, 1, 2, 3, 0x11, 0x22, 0x33, 0x44, 8, 9]
    );
    let out = store(1, 1, 0x1ff);
    assert_eq!(&out.packet[..3], &[0, 0xff, 2]);
    let out = store(62, 2, 0xbeef);
    assert_eq!(&out.packet[61..], &[61, 0xbe, 0xef]);
    let out = store(56, 8, 0x0102_0304_0506_0708);
    assert_eq!(&out.packet[56..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    let out = store(60, 8, 0);
    assert_eq!(out.fault, Some(Fault::PktOutOfBounds));
    assert_eq!(out.packet, test_packet(), "nothing written");
    assert_eq!(store(0, 6, 0).fault, Some(Fault::BadHelperArg));
}

#[test]
fn helpers_keep_r1_to_r5() {
    let insns = code![
        mov64_k(1, 2),
        mov64_k(2, 4),
        mov64_k(3, 0x77),
        mov64_k(4, 4),
        mov64_k(5, 5),
        call_helper(Helper::PktStore),
        call_helper(Helper::PktLen),
        alu64_x(op::ADD, 0, 1),
        alu64_x(op::ADD, 0, 2),
        alu64_x(op::ADD, 0, 3),
        alu64_x(op::ADD, 0, 4),
        alu64_x(op::ADD, 0, 5),
        exit(),
    ];
    let out = run(&insns);
    assert_eq!(out.result, 64 + 2 + 4 + 0x77 + 4 + 5);
    assert_eq!(&out.packet[..7], &[0, 1, 0, 0, 0, 0x77, 6]);
}

#[test]
fn pkt_len_ktime_and_random() {
    eq(code![call_helper(Helper::PktLen)], 64);
    let mut vm = vm_with(&[code![
        call_helper(Helper::KtimeNs),
        mov64_x(6, 0),
        call_helper(Helper::KtimeNs),
        alu64_x(op::SUB, 0, 6),
        exit()
    ]]);
    assert_eq!(
        vm.run(Boot::new(0, vec![0; 14])).result,
        1_000,
        "default clock: 1 µs per call"
    );
    vm.set_ktime(|| 0x1234_5678_9abc);
    vm.load_chain(0, code![call_helper(Helper::KtimeNs), exit()], 0)
        .unwrap();
    assert_eq!(vm.run(Boot::new(0, vec![0; 14])).result, 0x1234_5678_9abc);
    let mut next = 0xffff_fff0u32;
    vm.set_random(move || {
        next = next.wrapping_add(1);
        next
    });
    vm.load_chain(0, code![call_helper(Helper::Random), exit()], 0)
        .unwrap();
    assert_eq!(
        vm.run(Boot::new(0, vec![0; 14])).result,
        0xffff_fff1,
        "zero-extended"
    );
    assert_eq!(vm.run(Boot::new(0, vec![0; 14])).result, 0xffff_fff2);
    // The default random source is deterministic.
    let a = vm_with(&[code![call_helper(Helper::Random), exit()]]).run(Boot::new(0, vec![0; 14]));
    let b = vm_with(&[code![call_helper(Helper::Random), exit()]]).run(Boot::new(0, vec![0; 14]));
    assert_eq!(a.result, b.result);
    assert!(a.result <= u64::from(u32::MAX));
}

#[test]
fn event_records_the_innermost_chain() {
    let main = code![
        ld_imm64(1, 0x1_0000_0007),
        mov64_k(2, 2),
        mov64_k(3, 3),
        ld_imm64(4, u64::MAX),
        mov64_k(5, 5),
        call_helper(Helper::Event),
        mov64_x(6, 0),
        call_chain(1),
        exit(),
    ];
    let callee = code![
        mov64_k(1, 9),
        call_helper(Helper::Event),
        mov64_k(0, 1),
        exit()
    ];
    let mut vm = vm_with(&[main, callee]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.fault, None);
    assert_eq!(vm.machine().regs[6], 0, "event returns 0");
    let chain_event = |chain_id, code, values, ts_ns| abi::Event {
        kind: abi::EVENT_CHAIN,
        chain_id,
        prog_id: abi::NO_ID,
        code,
        values,
        ts_ns,
    };
    // Each event is stamped with the VM's clock (the default source: 1 s, then 1 µs a read).
    assert_eq!(
        out.events,
        vec![
            chain_event(0, 7, [2, 3, u64::MAX, 0], 1_000_000_000),
            chain_event(1, 9, [2, 3, u64::MAX, 0], 1_000_001_000)
        ]
    );
}

#[test]
fn unknown_helpers_and_call_kinds() {
    for id in [0, 7, 100, -1, i32::MIN] {
        let insn = Insn::new(op::JMP | op::CALL, 0, abi::CALL_HELPER, 0, id);
        insn_fails(vec![], insn, Fault::BadHelper);
    }
    for kind in [3, 4, 10, 15] {
        let insn = Insn::new(op::JMP | op::CALL, 0, kind, 0, 0);
        insn_fails(vec![], insn, Fault::BadOpcode);
    }
    // dst_reg and off of a call are ignored.
    insn_runs(
        vec![],
        Insn::new(
            op::JMP | op::CALL,
            15,
            abi::CALL_HELPER,
            -5,
            Helper::PktLen as i32,
        ),
    );
}

// ---- Chains ----------------------------------------------------------------------------------

#[test]
fn chain_calls_pass_arguments_and_restore_r6_to_r9() {
    let main = code![
        mov64_k(6, 6),
        mov64_k(7, 7),
        mov64_k(8, 8),
        mov64_k(9, 9),
        mov64_k(1, 100),
        mov64_k(5, 500),
        call_chain(1),
        // r0 = callee's r0, r1..r5 as the callee left them, r6..r9 ours.
        alu64_x(op::ADD, 0, 2),
        alu64_x(op::ADD, 0, 6),
        alu64_x(op::ADD, 0, 7),
        alu64_x(op::ADD, 0, 8),
        alu64_x(op::ADD, 0, 9),
        exit(),
    ];
    let callee = code![
        mov64_x(0, 1),
        alu64_x(op::ADD, 0, 5),
        mov64_k(2, 1000),
        mov64_k(6, -1),
        mov64_k(7, -1),
        mov64_k(8, -1),
        mov64_k(9, -1),
        exit(),
    ];
    let mut vm = vm_with(&[main, callee]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, 600 + 1000 + 6 + 7 + 8 + 9);
    assert_eq!(vm.machine().depth, 0);
    assert_eq!(vm.machine().frames[1].ret_pc, 7);
}

#[test]
fn chain_ids_are_unsigned_and_missing_chains_fault() {
    insn_fails(vec![], call_chain(1), Fault::NoChain);
    insn_fails(vec![], call_chain(abi::MAX_CHAINS), Fault::NoChain);
    insn_fails(
        vec![],
        Insn::new(op::JMP | op::CALL, 0, abi::CALL_CHAIN, 0, -1),
        Fault::NoChain,
    );
    // Loaded chains above 0 are fine.
    let mut vm = RefVm::new();
    vm.load_chain(1023, code![mov64_k(0, 1023), exit()], 0)
        .unwrap();
    vm.load_chain(5, code![call_chain(1023), exit()], 0)
        .unwrap();
    assert_eq!(vm.run(Boot::new(5, test_packet())).result, 1023);
}

/// Chains 0..n, each calling the next; the last returns 1, each caller adds 1.
fn nest(n: u32, last: Vec<Insn>) -> RefVm {
    let mut vm = RefVm::new();
    for id in 0..n {
        vm.load_chain(
            id,
            code![call_chain(id + 1), alu64_k(op::ADD, 0, 1), exit()],
            0,
        )
        .unwrap();
    }
    vm.load_chain(n, last, 0).unwrap();
    vm
}

#[test]
fn sixteen_frames_nest_and_the_seventeenth_chain_faults() {
    // Chains 0..=15: frames 0..=15.
    let mut vm = nest(15, code![mov64_k(0, 1), exit()]);
    vm.set_stats(true);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, 16);
    assert_eq!(out.counters.chain_runs(15), 1);
    // Chains 0..=16: the call from frame 15 faults, in chain 15.
    let mut vm = nest(16, code![mov64_k(0, 1), exit()]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_chain, out.fault_pc),
        (Some(Fault::CallDepth), 15, 0)
    );
    assert_eq!(vm.machine().depth, 15);
    assert_eq!(out.counters.chain_faults(15, Fault::CallDepth), 1);
    // The depth check comes before the chain lookup.
    let mut vm = nest(15, code![call_chain(999), exit()]);
    assert_eq!(
        vm.run(Boot::new(0, test_packet())).fault,
        Some(Fault::CallDepth)
    );
    // Recursion ends the same way.
    let mut vm = vm_with(&[code![call_chain(0), exit()]]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_chain, out.steps),
        (Some(Fault::CallDepth), 0, 16)
    );
}

#[test]
fn returning_to_the_end_of_the_caller_is_a_bad_jump() {
    let mut vm = vm_with(&[code![call_chain(1)], code![exit()]]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (Some(Fault::BadJump), 1, 0)
    );
}

#[test]
fn exit_at_depth_zero_gives_the_default_verdict() {
    let mut vm = vm_with(&[code![mov64_k(0, -2), exit()]]);
    let out = vm.run(Boot::new(0, test_packet()).with_verdicts(xdp::TX, xdp::DROP));
    assert_eq!(
        (out.verdict, out.result, out.ending),
        (xdp::TX, u64::MAX - 1, Ending::Exit)
    );
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (None, 0, abi::NO_ID)
    );
}

// ---- Programs --------------------------------------------------------------------------------

#[test]
fn programs_get_arguments_packet_and_metadata() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut vm = RefVm::new();
    let log = Rc::clone(&seen);
    vm.load_program(9, move |call| {
        log.borrow_mut().push((
            call.prog_id(),
            call.chain_id(),
            call.args(),
            call.meta().l4_off,
        ));
        call.packet_mut()[0] = 0xee;
        call.emit(5, 1, 2, 3);
        ProgramOutcome::Return(call.args()[0] * 2)
    })
    .unwrap();
    let main = code![
        mov64_k(1, 21),
        mov64_k(2, 2),
        mov64_k(3, 3),
        mov64_k(4, 4),
        mov64_k(5, 5),
        mov64_k(6, 6),
        call_prog(9),
        // Registers are unchanged but r0.
        alu64_x(op::ADD, 0, 1),
        alu64_x(op::ADD, 0, 6),
        exit(),
    ];
    vm.load_chain(4, main, 0).unwrap();
    let meta = PktMeta {
        l4_off: 34,
        ..PktMeta::default()
    };
    let out = vm.run(Boot::new(4, test_packet()).with_meta(meta));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, 42 + 21 + 6);
    assert_eq!(out.packet[0], 0xee);
    assert_eq!(*seen.borrow(), vec![(9, 4, [21, 2, 3, 4, 5], 34)]);
    assert_eq!(
        out.events,
        vec![abi::Event {
            kind: abi::EVENT_PROGRAM,
            chain_id: 4,
            prog_id: 9,
            code: 5,
            values: [1, 2, 3, 0],
            ts_ns: 1_000_000_000,
        }]
    );
    // The program consumed no budget: 10 instructions, 10 steps.
    assert_eq!((out.steps, out.prog_calls), (10, 1));
}

#[test]
fn a_program_can_end_the_packet() {
    let mut vm = vm_with(&[code![mov64_k(0, 5), call_prog(3), mov64_k(0, 7), exit()]]);
    vm.load_program(3, |call| {
        call.packet_mut().truncate(20);
        ProgramOutcome::Verdict(xdp::DROP)
    })
    .unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.fault, None);
    assert_eq!(
        (out.verdict, out.result, out.ending),
        (xdp::DROP, 0, Ending::Program { prog_id: 3 })
    );
    assert_eq!(out.packet.len(), 20);
    assert_eq!(out.steps, 2);
}

#[test]
fn a_program_can_change_the_packet_length() {
    let mut vm = vm_with(&[code![call_prog(0), call_helper(Helper::PktLen), exit()]]);
    vm.load_program(0, |call| {
        call.packet_mut().extend([1, 2, 3]);
        ProgramOutcome::Return(0)
    })
    .unwrap();
    assert_eq!(vm.run(Boot::new(0, test_packet())).result, 67);
}

#[test]
fn missing_programs_fault() {
    let mut vm = vm_with(&[code![mov64_k(0, 0), call_prog(7), exit()]]);
    vm.set_stats(true);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (Some(Fault::NoProg), 1, 0)
    );
    assert_eq!(out.prog_calls, 0);
    assert_eq!(out.counters.program_calls(7), 0);
    insn_fails(vec![], call_prog(abi::MAX_PROGS), Fault::NoProg);
    insn_fails(
        vec![],
        Insn::new(op::JMP | op::CALL, 0, abi::CALL_PROG, 0, -1),
        Fault::NoProg,
    );
}

/// A chain calling program 0 `n` times in a loop (r6 counts).
fn call_loop(n: i32) -> Vec<Insn> {
    code![
        mov64_k(6, n),
        call_prog(0),
        alu64_k(op::SUB, 6, 1),
        jmp_k(op::JNE, 6, 0, -3),
        exit()
    ]
}

#[test]
fn thirty_three_program_calls_and_the_thirty_fourth_faults() {
    let mut vm = vm_with(&[call_loop(33)]);
    vm.set_stats(true);
    vm.load_program(0, |_| ProgramOutcome::Return(1)).unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!((out.fault, out.prog_calls), (None, 33));
    assert_eq!(out.counters.program_calls(0), 33);

    vm.load_chain(0, call_loop(34), 0).unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.prog_calls),
        (Some(Fault::ProgCallCap), 1, 33)
    );
    assert_eq!(vm.machine().regs[6], 1, "the 34th iteration");
    // The cap is checked before the program slot: the 34th call, to a missing program.
    let mut chain = call_loop(33);
    chain.insert(4, call_prog(1));
    vm.load_chain(0, chain, 0).unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!((out.fault, out.fault_pc), (Some(Fault::ProgCallCap), 4));
}

#[test]
fn the_program_call_cap_counts_across_chains() {
    // 17 calls in chain 0, then 17 in chain 1: the 34th is in chain 1.
    let mut vm = vm_with(&[
        code![
            mov64_k(6, 17),
            call_prog(0),
            alu64_k(op::SUB, 6, 1),
            jmp_k(op::JNE, 6, 0, -3),
            call_chain(1),
            exit()
        ],
        call_loop(17),
    ]);
    vm.load_program(0, |_| ProgramOutcome::Return(1)).unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_chain, out.prog_calls),
        (Some(Fault::ProgCallCap), 1, 33)
    );
}

#[test]
fn stats_count_runs_and_calls_only_when_on() {
    let main = code![call_chain(1), call_chain(1), call_prog(2), exit()];
    let mut vm = vm_with(&[main, code![exit()]]);
    vm.load_program(2, |_| ProgramOutcome::Return(0)).unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.counters, crate::Counters::default());
    vm.set_stats(true);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.counters.chain_runs(0), out.counters.chain_runs(1)),
        (1, 2)
    );
    assert_eq!(out.counters.program_calls(2), 1);
    vm.run(Boot::new(0, test_packet()));
    assert_eq!(vm.totals().chain_runs(1), 4);
    vm.reset_totals();
    assert_eq!(vm.totals(), &crate::Counters::default());
}
