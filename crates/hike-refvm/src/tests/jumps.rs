//! The Jumps section and the jump rules of "Each step": every condition on 64 and 32 bits,
//! `ja`, `gotol`, wrapping targets and the faults.

use super::support::*;

/// Whether `if a op b` jumps, for JMP or JMP32 (`class`) and a register operand.
fn taken_x(class: u8, o: u8, a: u64, b: u64) -> bool {
    let jump = Insn::new(class | op::X | o, 1, 2, 2, 0);
    let out = run(&code![
        ld_imm64(1, a),
        ld_imm64(2, b),
        jump,
        mov64_k(0, 0),
        exit(),
        mov64_k(0, 1),
        exit()
    ]);
    assert_eq!(out.fault, None);
    out.result == 1
}

/// Whether `if a op imm` jumps.
fn taken_k(class: u8, o: u8, a: u64, imm: i32) -> bool {
    let jump = Insn::new(class | op::K | o, 1, 0, 2, imm);
    let out = run(&code![
        ld_imm64(1, a),
        jump,
        mov64_k(0, 0),
        exit(),
        mov64_k(0, 1),
        exit()
    ]);
    assert_eq!(out.fault, None);
    out.result == 1
}

const M1: u64 = u64::MAX;

#[test]
fn conditions_on_64_bits() {
    // (op, a, b, taken)
    let cases: &[(u8, u64, u64, bool)] = &[
        (op::JEQ, 5, 5, true),
        (op::JEQ, 5, 6, false),
        (op::JNE, 5, 6, true),
        (op::JNE, 5, 5, false),
        (op::JGT, M1, 1, true),
        (op::JGT, 1, 1, false),
        (op::JGE, 1, 1, true),
        (op::JGE, 0, 1, false),
        (op::JLT, 1, M1, true),
        (op::JLT, 1, 1, false),
        (op::JLE, 1, 1, true),
        (op::JLE, 2, 1, false),
        (op::JSET, 0b1010, 0b0010, true),
        (op::JSET, 0b1010, 0b0101, false),
        (op::JSGT, 1, M1, true),
        (op::JSGT, M1, 1, false),
        (op::JSGE, M1, M1, true),
        (op::JSGE, M1, 0, false),
        (op::JSLT, M1, 1, true),
        (op::JSLT, 1, M1, false),
        (op::JSLE, 1 << 63, M1, true),
        (op::JSLE, 0, 1 << 63, false),
        // The upper halves count.
        (op::JEQ, 1 << 32, 0, false),
        (op::JGT, 1 << 32, 0xffff_ffff, true),
    ];
    for &(o, a, b, expected) in cases {
        assert_eq!(
            taken_x(op::JMP, o, a, b),
            expected,
            "op {o:#x} {a:#x} {b:#x}"
        );
        if let Ok(imm) = i32::try_from(b as i64) {
            assert_eq!(
                taken_k(op::JMP, o, a, imm),
                expected,
                "op {o:#x} {a:#x} imm {imm}"
            );
        }
    }
    // K is sign-extended: -1 is u64::MAX.
    assert!(taken_k(op::JMP, op::JEQ, M1, -1));
    assert!(taken_k(op::JMP, op::JGT, M1 - 1, i32::MAX));
    assert!(!taken_k(op::JMP, op::JEQ, 0xffff_ffff, -1));
}

#[test]
fn conditions_on_32_bits_compare_the_low_halves() {
    let cases: &[(u8, u64, u64, bool)] = &[
        (op::JEQ, 1 << 32, 0, true),
        (op::JNE, 0xdead_0000_0005, 5, false),
        (op::JGT, 0x1_0000_0000, 1, false),
        (op::JGT, 0xffff_ffff, 1, true),
        (op::JGE, 7 << 32, 0, true),
        (op::JLT, 0xffff_ffff_0000_0001, 2, true),
        (op::JLE, 3, 0x1_0000_0002, false),
        (op::JSET, 0xffff_0000_0000, 0xffff_0000_0000, false),
        (op::JSGT, 1, 0xffff_ffff, true),
        (op::JSGT, 0x8000_0000, 0, false),
        (op::JSGE, 0xffff_ffff, 0xffff_ffff, true),
        (op::JSLT, 0x8000_0000, 0x7fff_ffff, true),
        (op::JSLT, 0x1_0000_0000, 0, false),
        (op::JSLE, 0x8000_0000, 0x8000_0000, true),
        (op::JSLE, 0, 0xffff_ffff, false),
    ];
    for &(o, a, b, expected) in cases {
        assert_eq!(
            taken_x(op::JMP32, o, a, b),
            expected,
            "op {o:#x} {a:#x} {b:#x}"
        );
        assert_eq!(
            taken_k(op::JMP32, o, a, b as u32 as i32),
            expected,
            "op {o:#x} {a:#x} {b:#x}"
        );
    }
    assert!(taken_k(op::JMP32, op::JEQ, 0xffff_ffff, -1));
    assert!(taken_k(op::JMP32, op::JEQ, 0x5_ffff_ffff, -1));
}

#[test]
fn r10_can_be_compared() {
    let jump = jmp_x(op::JEQ, 10, 1, 1);
    let out = run(&code![
        ld_imm64(1, abi::ADDR_STACK + 512),
        mov64_k(0, 0),
        jump,
        exit(),
        mov64_k(0, 1),
        exit()
    ]);
    assert_eq!(out.result, 1);
}

#[test]
fn ja_jumps_by_off_and_gotol_by_imm() {
    eq(
        code![
            mov64_k(0, 1),
            Insn::new(op::JMP | op::JA, 0, 0, 1, 1000),
            mov64_k(0, 2)
        ],
        1,
    );
    eq(
        code![
            mov64_k(0, 1),
            Insn::new(op::JMP32 | op::JA, 0, 0, 1000, 1),
            mov64_k(0, 2)
        ],
        1,
    );
    eq(code![mov64_k(0, 1), ja(0), mov64_k(0, 2)], 2);
}

#[test]
fn backward_jumps_loop() {
    // r0 = 0; r1 = 5; do { r0 += 3; r1 -= 1 } while r1 != 0
    let insns = code![
        mov64_k(0, 0),
        mov64_k(1, 5),
        alu64_k(op::ADD, 0, 3),
        alu64_k(op::SUB, 1, 1),
        jmp_k(op::JNE, 1, 0, -3),
        exit(),
    ];
    let out = run(&insns);
    assert_eq!(out.result, 15);
    assert_eq!(out.steps, 2 + 5 * 3 + 1);
    // The same with gotol as the back edge.
    let insns = code![
        mov64_k(0, 0),
        mov64_k(1, 5),
        jmp_k(op::JEQ, 1, 0, 3),
        alu64_k(op::ADD, 0, 3),
        alu64_k(op::SUB, 1, 1),
        gotol(-4),
        exit(),
    ];
    assert_eq!(run(&insns).result, 15);
}

#[test]
fn out_of_range_targets_fault_at_the_next_step() {
    let out = run(&code![mov64_k(0, 1), ja(10), exit()]);
    assert_eq!(
        (out.fault, out.fault_pc, out.steps),
        (Some(Fault::BadJump), 12, 3)
    );
    // Wrapping 32-bit arithmetic: 0 + 1 - 2 is u32::MAX.
    let out = run(&code![ja(-2), exit()]);
    assert_eq!((out.fault, out.fault_pc), (Some(Fault::BadJump), u32::MAX));
    let out = run(&code![gotol(i32::MAX), exit()]);
    assert_eq!(
        (out.fault, out.fault_pc),
        (Some(Fault::BadJump), 1 + i32::MAX as u32)
    );
    let out = run(&code![gotol(-1), exit()]);
    assert_eq!(
        (out.fault, out.fault_pc),
        (Some(Fault::Budget), 0),
        "gotol -1 loops forever"
    );
    let out = run(&code![mov64_k(1, 1), jmp_k(op::JEQ, 1, 1, 1), exit()]);
    assert_eq!((out.fault, out.fault_pc), (Some(Fault::BadJump), 3));
    // A target exactly at the end: fault at pc == len.
    let out = run(&code![ja(1), exit()]);
    assert_eq!((out.fault, out.fault_pc), (Some(Fault::BadJump), 2));
}

#[test]
fn falling_off_the_end_is_a_bad_jump() {
    let out = run(&code![mov64_k(0, 1)]);
    assert_eq!(
        (out.fault, out.fault_pc, out.steps),
        (Some(Fault::BadJump), 1, 2)
    );
    assert_eq!(out.fault_chain, 0);
}

#[test]
fn invalid_jump_opcodes() {
    for class in [op::JMP, op::JMP32] {
        for x in [op::K, op::X] {
            insn_fails(
                vec![],
                Insn::new(class | x | 0xe0, 0, 0, 0, 0),
                Fault::BadOpcode,
            );
            insn_fails(
                vec![],
                Insn::new(class | x | 0xf0, 0, 0, 0, 0),
                Fault::BadOpcode,
            );
        }
        insn_fails(
            vec![],
            Insn::new(class | op::X | op::JA, 0, 0, 0, 0),
            Fault::BadOpcode,
        );
    }
    insn_fails(
        vec![],
        Insn::new(op::JMP32 | op::CALL, 0, 0, 0, 3),
        Fault::BadOpcode,
    );
    insn_fails(
        vec![],
        Insn::new(op::JMP32 | op::EXIT, 0, 0, 0, 0),
        Fault::BadOpcode,
    );
    insn_fails(
        vec![],
        Insn::new(op::JMP | op::X | op::CALL, 0, 0, 0, 3),
        Fault::BadOpcode,
    );
    insn_fails(
        vec![],
        Insn::new(op::JMP | op::X | op::EXIT, 0, 0, 0, 0),
        Fault::BadOpcode,
    );
}

#[test]
fn jump_register_faults() {
    insn_fails(vec![], jmp_k(op::JEQ, 11, 0, 0), Fault::BadRegister);
    insn_fails(vec![], jmp32_x(op::JEQ, 0, 11, 0), Fault::BadRegister);
    insn_fails(vec![], jmp_x(op::JSGT, 15, 1, 0), Fault::BadRegister);
    // K forms ignore src_reg; `ja`, `gotol`, `exit` have no registers.
    insn_runs(vec![], Insn::new(op::JMP | op::K | op::JEQ, 0, 14, 0, 0));
    insn_runs(vec![], Insn::new(op::JMP | op::JA, 13, 14, 0, 0));
    insn_runs(vec![], Insn::new(op::JMP32 | op::JA, 13, 14, 0, 0));
    let out = run(&[Insn::new(op::JMP | op::EXIT, 15, 15, 3, 9)]);
    assert_eq!(out.fault, None);
}
