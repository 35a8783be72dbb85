//! The Memory and LD_IMM64 sections: the stack with its per-slot written bitmap, frames of
//! ancestors, the read-only metadata, alignment, bounds and the opcode and register faults.

use super::support::*;

#[test]
fn stack_round_trip_of_every_size() {
    for (size, v) in [
        (op::B, 0xabu64),
        (op::H, 0xabcd),
        (op::W, 0xdead_beef),
        (op::DW, u64::MAX - 1),
    ] {
        eq(
            code![ld_imm64(1, v), stx(size, 10, 1, -8), ldx(size, 0, 10, -8)],
            v,
        );
    }
    // The lowest and highest slots of the frame.
    eq(
        code![
            mov64_k(1, 9),
            stx(op::DW, 10, 1, -512),
            ldx(op::DW, 0, 10, -512)
        ],
        9,
    );
    eq(
        code![mov64_k(1, 9), stx(op::B, 10, 1, -1), ldx(op::B, 0, 10, -1)],
        9,
    );
}

#[test]
fn stack_is_little_endian() {
    let v = 0x1122_3344_5566_7788;
    let store = code![ld_imm64(1, v), stx(op::DW, 10, 1, -8)];
    eq(code![store.clone(), ldx(op::B, 0, 10, -8)], 0x88);
    eq(code![store.clone(), ldx(op::B, 0, 10, -1)], 0x11);
    eq(code![store.clone(), ldx(op::H, 0, 10, -6)], 0x5566);
    eq(code![store.clone(), ldx(op::W, 0, 10, -4)], 0x1122_3344);
    eq(
        code![
            mov64_k(1, 0x0102),
            stx(op::H, 10, 1, -4),
            ldx(op::W, 0, 10, -4)
        ],
        0x0102,
    );
}

#[test]
fn sign_extending_loads() {
    eq(
        code![st(op::B, 10, -8, 0x80), ldxsx(op::B, 0, 10, -8)],
        0xffff_ffff_ffff_ff80,
    );
    eq(
        code![st(op::B, 10, -8, 0x7f), ldxsx(op::B, 0, 10, -8)],
        0x7f,
    );
    eq(
        code![st(op::H, 10, -8, 0x8001), ldxsx(op::H, 0, 10, -8)],
        0xffff_ffff_ffff_8001,
    );
    eq(
        code![st(op::W, 10, -8, i32::MIN), ldxsx(op::W, 0, 10, -8)],
        0xffff_ffff_8000_0000,
    );
    eq(
        code![st(op::W, 10, -8, i32::MIN), ldx(op::W, 0, 10, -8)],
        0x8000_0000,
    );
}

#[test]
fn st_stores_the_low_bytes_of_the_sign_extended_immediate() {
    eq(
        code![st(op::DW, 10, -8, -1), ldx(op::DW, 0, 10, -8)],
        u64::MAX,
    );
    eq(
        code![st(op::W, 10, -8, -1), ldx(op::DW, 0, 10, -8)],
        0xffff_ffff,
    );
    eq(
        code![st(op::B, 10, -8, 0x1ff), ldx(op::DW, 0, 10, -8)],
        0xff,
    );
}

#[test]
fn the_first_write_to_a_slot_zeroes_it() {
    // Later writes to a written slot do not.
    eq(
        code![
            st(op::DW, 10, -8, -1),
            st(op::B, 10, -8, 0),
            ldx(op::DW, 0, 10, -8)
        ],
        0xffff_ffff_ffff_ff00,
    );
    // A narrow write makes the whole slot readable, as zeros around the written byte.
    eq(code![st(op::B, 10, -5, 7), ldx(op::DW, 0, 10, -8)], 7 << 24);

    // A previous packet's bytes are not visible through a narrow write.
    let mut vm = vm_with(&[code![st(op::DW, 10, -8, -1), mov64_k(0, 0), exit()]]);
    assert_eq!(vm.run(Boot::new(0, test_packet())).fault, None);
    assert_eq!(
        &vm.machine().stack[504..512],
        &[0xff; 8],
        "the bytes stay in memory"
    );
    vm.load_chain(
        0,
        code![st(op::B, 10, -8, 1), ldx(op::DW, 0, 10, -8), exit()],
        0,
    )
    .unwrap();
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!((out.fault, out.result), (None, 1));

    // Nor a previous callee's, in the same frame index.
    let dirty = code![st(op::DW, 10, -8, -1), exit()];
    let clean = code![st(op::H, 10, -8, 2), ldx(op::DW, 0, 10, -8), exit()];
    let main = code![call_chain(1), call_chain(2), exit()];
    let mut vm = vm_with(&[main, dirty, clean]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!((out.fault, out.result), (None, 2));
}

#[test]
fn loads_of_unwritten_slots_fault() {
    fails(code![ldx(op::DW, 0, 10, -8), exit()], Fault::StackUninit, 0);
    fails(
        code![st(op::DW, 10, -8, 1), ldx(op::DW, 0, 10, -16), exit()],
        Fault::StackUninit,
        1,
    );
    fails(
        code![st(op::B, 10, -9, 1), ldx(op::B, 0, 10, -8), exit()],
        Fault::StackUninit,
        1,
    );
    // A new packet starts with no slot written.
    let mut vm = vm_with(&[code![st(op::DW, 10, -8, 5), ldx(op::DW, 0, 10, -8), exit()]]);
    assert_eq!(vm.run(Boot::new(0, test_packet())).result, 5);
    vm.load_chain(0, code![ldx(op::DW, 0, 10, -8), exit()], 0)
        .unwrap();
    assert_eq!(
        vm.run(Boot::new(0, test_packet())).fault,
        Some(Fault::StackUninit)
    );
    // A callee starts with no slot of its frame written.
    let main = code![st(op::DW, 10, -8, 5), call_chain(1), exit()];
    let callee = code![ldx(op::DW, 0, 10, -8), exit()];
    let out = vm_with(&[main, callee]).run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_chain, out.fault_pc),
        (Some(Fault::StackUninit), 1, 0)
    );
}

#[test]
fn misaligned_accesses_fault_before_the_written_check() {
    insn_fails(vec![], ldx(op::W, 0, 10, -6), Fault::MemMisaligned);
    insn_fails(vec![], ldx(op::DW, 0, 10, -4), Fault::MemMisaligned);
    insn_fails(vec![], stx(op::H, 10, 0, -7), Fault::MemMisaligned);
    insn_fails(vec![], st(op::DW, 10, -12, 0), Fault::MemMisaligned);
    insn_fails(
        code![st(op::DW, 10, -8, 0)],
        ldx(op::H, 0, 10, -3),
        Fault::MemMisaligned,
    );
    // Alignment is of the address: r1 = r10 - 9, then [r1 + 1] is aligned for 2 bytes.
    eq(
        code![
            st(op::DW, 10, -8, 0x0102_0304),
            mov64_x(1, 10),
            alu64_k(op::ADD, 1, -9),
            ldx(op::H, 0, 1, 1)
        ],
        0x0304,
    );
}

#[test]
fn accesses_outside_the_active_frames_fault() {
    insn_fails(vec![], ldx(op::B, 0, 10, 0), Fault::MemOutOfBounds);
    insn_fails(vec![], st(op::DW, 10, 0, 0), Fault::MemOutOfBounds);
    insn_fails(vec![], st(op::DW, 10, -520, 0), Fault::MemOutOfBounds);
    insn_fails(
        code![mov64_k(1, 0)],
        ldx(op::DW, 0, 1, 0),
        Fault::MemOutOfBounds,
    );
    insn_fails(
        code![mov64_k(1, 0)],
        stx(op::DW, 1, 1, 8),
        Fault::MemOutOfBounds,
    );
    // Bounds are checked before alignment.
    insn_fails(vec![], ldx(op::DW, 0, 10, 3), Fault::MemOutOfBounds);
    // Address arithmetic wraps instead of overflowing.
    insn_fails(
        code![mov64_k(1, -3)],
        ldx(op::DW, 0, 1, 8),
        Fault::MemOutOfBounds,
    );
    insn_fails(
        code![mov64_k(1, 3)],
        stx(op::DW, 1, 1, -8),
        Fault::MemOutOfBounds,
    );
    // Any offset reaches the stack if the base compensates.
    eq(
        code![
            ld_imm64(1, abi::ADDR_STACK + 504 + 32768),
            st(op::DW, 1, -32768, 6),
            ldx(op::DW, 0, 10, -8)
        ],
        6,
    );
}

#[test]
fn a_callee_reaches_its_ancestors_frames_through_pointers() {
    // Frame 0 writes a slot and passes a pointer to it; the callee reads it, writes it and
    // writes a slot of frame 0 that was never written; frame 0 sees both.
    let main = code![
        st(op::DW, 10, -8, 40),
        mov64_x(1, 10),
        alu64_k(op::ADD, 1, -8),
        call_chain(1),
        ldx(op::DW, 1, 10, -8),
        ldx(op::DW, 2, 10, -16),
        alu64_x(op::ADD, 0, 1),
        alu64_x(op::ADD, 0, 2),
        exit(),
    ];
    let callee = code![
        ldx(op::DW, 0, 1, 0),
        alu64_k(op::ADD, 0, 2),
        stx(op::DW, 1, 0, 0),
        st(op::B, 1, -8, 100),
        mov64_x(3, 10),
        exit(),
    ];
    let mut vm = vm_with(&[main, callee]);
    let out = vm.run(Boot::new(0, test_packet()));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, 42 + 42 + 100);
    let m = vm.machine();
    assert_eq!(m.regs[3], abi::ADDR_STACK + 1024, "the callee's r10");
    assert_eq!(m.frames[0].stack_init, (1 << 63) | (1 << 62));
    assert_eq!(m.regs[10], abi::ADDR_STACK + 512);
}

#[test]
fn a_returned_frame_is_out_of_bounds() {
    let main = code![call_chain(1), ldx(op::DW, 0, 0, 0), exit()];
    let callee = code![
        st(op::DW, 10, -8, 1),
        mov64_x(0, 10),
        alu64_k(op::ADD, 0, -8),
        ldx(op::DW, 1, 0, 0),
        exit()
    ];
    let out = vm_with(&[main, callee]).run(Boot::new(0, test_packet()));
    assert_eq!(
        (out.fault, out.fault_pc, out.fault_chain),
        (Some(Fault::MemOutOfBounds), 1, 0)
    );
}

fn sample_meta() -> PktMeta {
    PktMeta {
        ingress_ifindex: 0x0102_0304,
        rx_queue_index: 0x0506_0708,
        eth_proto: 0x86dd,
        l3_off: 14,
        l4_off: 0x8036,
        l4_proto: 0xfe,
        flags: abi::META_IPV6 | abi::META_L4,
        user: [0x1111_2222_3333_4444, 0x8000_0000_0000_0001],
    }
}

/// `r0` of `insns` (ending in `exit`) run with [`sample_meta`], with r1 = `ADDR_META`.
fn meta_eq(insns: Vec<Insn>, expected: u64) {
    let mut vm = vm_with(&[code![ld_imm64(1, abi::ADDR_META), insns, exit()]]);
    let out = vm.run(Boot::new(0, test_packet()).with_meta(sample_meta()));
    assert_eq!(out.fault, None, "fault at {}", out.fault_pc);
    assert_eq!(out.result, expected);
}

#[test]
fn metadata_is_readable_little_endian() {
    meta_eq(code![ldx(op::W, 0, 1, 0)], 0x0102_0304);
    meta_eq(code![ldx(op::W, 0, 1, 4)], 0x0506_0708);
    meta_eq(code![ldx(op::H, 0, 1, 8)], 0x86dd);
    meta_eq(code![ldx(op::H, 0, 1, 10)], 14);
    meta_eq(code![ldx(op::H, 0, 1, 12)], 0x8036);
    meta_eq(code![ldx(op::B, 0, 1, 14)], 0xfe);
    meta_eq(
        code![ldx(op::B, 0, 1, 15)],
        u64::from(abi::META_IPV6 | abi::META_L4),
    );
    meta_eq(code![ldx(op::DW, 0, 1, 16)], 0x1111_2222_3333_4444);
    meta_eq(code![ldx(op::DW, 0, 1, 24)], 0x8000_0000_0000_0001);
    meta_eq(code![ldx(op::DW, 0, 1, 8)], 0x06fe_8036_000e_86dd);
    meta_eq(code![ldx(op::B, 0, 1, 3)], 0x01);
    meta_eq(code![ldxsx(op::H, 0, 1, 12)], 0xffff_ffff_ffff_8036);
    meta_eq(code![ldxsx(op::B, 0, 1, 14)], (-2i64) as u64);
    meta_eq(code![ldxsx(op::W, 0, 1, 28)], 0xffff_ffff_8000_0000);
}

#[test]
fn metadata_is_read_only_and_checked() {
    let base = code![ld_imm64(1, abi::ADDR_META)];
    insn_fails(base.clone(), st(op::B, 1, 0, 0), Fault::MemOutOfBounds);
    insn_fails(base.clone(), stx(op::DW, 1, 1, 24), Fault::MemOutOfBounds);
    insn_fails(base.clone(), ldx(op::DW, 0, 1, 32), Fault::MemOutOfBounds);
    insn_fails(base.clone(), ldx(op::B, 0, 1, -1), Fault::MemOutOfBounds);
    insn_fails(base.clone(), ldx(op::W, 0, 1, 2), Fault::MemMisaligned);
    // Misalignment is checked before the store is refused.
    insn_fails(base.clone(), stx(op::W, 1, 1, 6), Fault::MemMisaligned);
    // An 8-byte load at offset 28 straddles the end: misaligned, as it starts inside.
    insn_fails(base, ldx(op::DW, 0, 1, 28), Fault::MemMisaligned);
}

#[test]
fn invalid_memory_opcodes() {
    let bad = [
        // LDX modes other than MEM and MEMSX, MEMSX of 8 bytes.
        Insn::new(op::LDX | op::IMM | op::W, 0, 10, -8, 0),
        Insn::new(op::LDX | op::ABS | op::W, 0, 10, -8, 0),
        Insn::new(op::LDX | op::IND | op::W, 0, 10, -8, 0),
        Insn::new(op::LDX | op::ATOMIC | op::DW, 0, 10, -8, 0),
        Insn::new(op::LDX | 0xa0 | op::W, 0, 10, -8, 0),
        Insn::new(op::LDX | 0xe0 | op::W, 0, 10, -8, 0),
        Insn::new(op::LDX | op::MEMSX | op::DW, 0, 10, -8, 0),
        // ST/STX: MEM only.
        Insn::new(op::ST | op::MEMSX | op::W, 10, 0, -8, 0),
        Insn::new(op::STX | op::MEMSX | op::B, 10, 1, -8, 0),
        Insn::new(op::STX | op::ATOMIC | op::DW, 10, 1, -8, 0),
        Insn::new(op::STX | op::ATOMIC | op::W, 10, 1, -8, 0),
        Insn::new(op::ST | op::IMM | op::DW, 10, 0, -8, 0),
        // LD: only LD_IMM64.
        Insn::new(op::LD | op::ABS | op::W, 0, 0, 0, 0),
        Insn::new(op::LD | op::IND | op::B, 0, 1, 0, 0),
        Insn::new(op::LD | op::IMM | op::W, 0, 0, 0, 0),
        Insn::new(op::LD | op::MEM | op::DW, 0, 0, 0, 0),
    ];
    for insn in bad {
        insn_fails(code![st(op::DW, 10, -8, 0)], insn, Fault::BadOpcode);
    }
    // Opcode before registers.
    insn_fails(
        vec![],
        Insn::new(op::LDX | op::MEMSX | op::DW, 10, 12, 0, 0),
        Fault::BadOpcode,
    );
}

#[test]
fn memory_register_faults() {
    let setup = code![st(op::DW, 10, -8, 0)];
    insn_fails(setup.clone(), ldx(op::DW, 10, 10, -8), Fault::BadRegister);
    insn_fails(setup.clone(), ldx(op::DW, 11, 10, -8), Fault::BadRegister);
    insn_fails(setup.clone(), ldx(op::DW, 0, 11, -8), Fault::BadRegister);
    insn_fails(setup.clone(), st(op::DW, 11, -8, 0), Fault::BadRegister);
    insn_fails(setup.clone(), stx(op::DW, 12, 0, -8), Fault::BadRegister);
    insn_fails(setup.clone(), stx(op::DW, 10, 13, -8), Fault::BadRegister);
    // ST ignores src_reg; r10 is a fine base.
    insn_runs(
        setup.clone(),
        Insn::new(op::ST | op::MEM | op::DW, 10, 15, -8, 0),
    );
    insn_runs(setup, stx(op::DW, 10, 10, -8));
}

#[test]
fn ld_imm64_composes_two_halves() {
    eq(
        code![[
            Insn::new(op::LD_IMM64, 0, 0, 0, -1),
            Insn::new(0, 0, 0, 0, 0x1234_5678)
        ]],
        0x1234_5678_ffff_ffff,
    );
    eq(
        code![[
            Insn::new(op::LD_IMM64, 0, 0, 0, -1),
            Insn::new(0, 0, 0, 0, 0)
        ]],
        0xffff_ffff,
    );
    eq(
        code![[
            Insn::new(op::LD_IMM64, 0, 0, 0, 0),
            Insn::new(0, 0, 0, 0, -1)
        ]],
        0xffff_ffff_0000_0000,
    );
    // One step for two slots.
    let out = run(&code![ld_imm64(0, 3), exit()]);
    assert_eq!((out.result, out.steps), (3, 2));
}

#[test]
fn ld_imm64_checks_in_order() {
    // src_reg first, then the register, then the second slot's presence, then its fields.
    fails(
        code![
            Insn::new(op::LD_IMM64, 10, 1, 0, 0),
            Insn::new(0, 0, 0, 0, 0),
            exit()
        ],
        Fault::BadOpcode,
        0,
    );
    fails(
        code![
            Insn::new(op::LD_IMM64, 10, 0, 0, 0),
            Insn::new(0, 0, 0, 0, 0),
            exit()
        ],
        Fault::BadRegister,
        0,
    );
    fails(
        code![
            Insn::new(op::LD_IMM64, 11, 0, 0, 0),
            Insn::new(0, 0, 0, 0, 0),
            exit()
        ],
        Fault::BadRegister,
        0,
    );
    fails(
        code![mov64_k(0, 0), Insn::new(op::LD_IMM64, 10, 0, 0, 0)],
        Fault::BadRegister,
        1,
    );
    fails(
        code![mov64_k(0, 0), Insn::new(op::LD_IMM64, 1, 0, 0, 0)],
        Fault::BadJump,
        1,
    );
    for second in [
        Insn::new(1, 0, 0, 0, 0),
        Insn::new(0, 1, 0, 0, 0),
        Insn::new(0, 0, 1, 0, 0),
        Insn::new(0, 0, 0, 1, 0),
    ] {
        fails(
            code![[Insn::new(op::LD_IMM64, 1, 0, 0, 0), second], exit()],
            Fault::BadOpcode,
            0,
        );
    }
    // Jumping into the second slot executes it: code 0 is not an instruction.
    fails(code![ja(1), ld_imm64(1, 5), exit()], Fault::BadOpcode, 2);
}
