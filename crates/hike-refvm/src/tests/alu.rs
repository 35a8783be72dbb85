//! The ALU section: every operation on 64 and 32 bits, K and X operands, the division rules,
//! `movsx`, `END`, and the opcode and register faults.

use super::support::*;

const SDIV: i16 = 1;

fn sdiv64_k(dst: u8, imm: i32) -> Insn {
    alu_off(op::ALU64 | op::K | op::DIV, dst, 0, SDIV, imm)
}
fn smod64_k(dst: u8, imm: i32) -> Insn {
    alu_off(op::ALU64 | op::K | op::MOD, dst, 0, SDIV, imm)
}
fn sdiv32_k(dst: u8, imm: i32) -> Insn {
    alu_off(op::ALU | op::K | op::DIV, dst, 0, SDIV, imm)
}
fn smod32_k(dst: u8, imm: i32) -> Insn {
    alu_off(op::ALU | op::K | op::MOD, dst, 0, SDIV, imm)
}

#[test]
fn add_sub_mul_wrap_around_on_64_bits() {
    eq(code![ld_imm64(0, u64::MAX), alu64_k(op::ADD, 0, 1)], 0);
    eq(code![mov64_k(0, 0), alu64_k(op::SUB, 0, 1)], u64::MAX);
    eq(code![ld_imm64(0, 1 << 63), alu64_k(op::MUL, 0, 2)], 0);
    eq(
        code![mov64_k(0, 7), mov64_k(1, 6), alu64_x(op::MUL, 0, 1)],
        42,
    );
    eq(
        code![mov64_k(0, 7), mov64_k(1, 9), alu64_x(op::SUB, 0, 1)],
        (-2i64) as u64,
    );
}

#[test]
fn alu32_wraps_and_zero_extends() {
    eq(
        code![ld_imm64(0, 0x1234_5678_ffff_ffff), alu32_k(op::ADD, 0, 1)],
        0,
    );
    eq(code![mov64_k(0, -1), alu32_k(op::ADD, 0, 0)], 0xffff_ffff);
    eq(code![mov64_k(0, 10), alu32_k(op::SUB, 0, 20)], 0xffff_fff6);
    eq(code![ld_imm64(0, 0x8000_0000), alu32_k(op::MUL, 0, 2)], 0);
    eq(code![alu32_k(op::MOV, 0, -1)], 0xffff_ffff);
}

#[test]
fn k_operand_is_sign_extended_on_64_bits_and_taken_as_32_bits_on_32() {
    eq(code![mov64_k(0, 0), alu64_k(op::ADD, 0, -1)], u64::MAX);
    eq(code![mov64_k(0, 0), alu32_k(op::ADD, 0, -1)], 0xffff_ffff);
    eq(
        code![mov64_k(0, -1), alu64_k(op::AND, 0, i32::MIN)],
        0xffff_ffff_8000_0000,
    );
    eq(
        code![mov64_k(0, -1), alu32_k(op::AND, 0, i32::MIN)],
        0x8000_0000,
    );
}

#[test]
fn x_operand_of_alu32_is_the_low_half() {
    eq(
        code![
            ld_imm64(1, 0x1_0000_0002),
            mov64_k(0, 3),
            alu32_x(op::MUL, 0, 1)
        ],
        6,
    );
    eq(
        code![
            ld_imm64(1, 0xffff_ffff_0000_0001),
            mov64_k(0, 3),
            alu32_x(op::ADD, 0, 1)
        ],
        4,
    );
}

#[test]
fn bitwise_operations() {
    eq(
        code![mov64_k(0, 0b1100), alu64_k(op::OR, 0, 0b1010)],
        0b1110,
    );
    eq(
        code![mov64_k(0, 0b1100), alu64_k(op::AND, 0, 0b1010)],
        0b1000,
    );
    eq(
        code![mov64_k(0, 0b1100), alu64_k(op::XOR, 0, 0b1010)],
        0b0110,
    );
    eq(
        code![mov64_k(0, -1), mov64_k(1, 0xff), alu32_x(op::XOR, 0, 1)],
        0xffff_ff00,
    );
    eq(code![mov64_k(0, -1), alu32_k(op::OR, 0, 0)], 0xffff_ffff);
}

#[test]
fn unsigned_division_and_modulo() {
    eq(code![mov64_k(0, 7), alu64_k(op::DIV, 0, 2)], 3);
    eq(code![mov64_k(0, 7), alu64_k(op::MOD, 0, 2)], 1);
    // The K operand is sign-extended, then divided unsigned.
    eq(code![mov64_k(0, -1), alu64_k(op::DIV, 0, -1)], 1);
    eq(code![mov64_k(0, -1), alu64_k(op::DIV, 0, 2)], u64::MAX / 2);
    eq(code![mov64_k(0, -1), alu32_k(op::DIV, 0, 2)], 0x7fff_ffff);
    eq(code![ld_imm64(0, 0x1_0000_0007), alu32_k(op::MOD, 0, 4)], 3);
}

#[test]
fn division_by_zero_gives_zero_and_modulo_by_zero_keeps_the_dividend() {
    eq(code![mov64_k(0, 7), alu64_k(op::DIV, 0, 0)], 0);
    eq(code![mov64_k(0, 7), alu64_k(op::MOD, 0, 0)], 7);
    eq(
        code![mov64_k(0, 7), mov64_k(1, 0), alu64_x(op::DIV, 0, 1)],
        0,
    );
    eq(
        code![mov64_k(0, -7), mov64_k(1, 0), alu64_x(op::MOD, 0, 1)],
        (-7i64) as u64,
    );
    // ALU: the low 32 bits of x; a register divisor counts by its low half.
    eq(code![ld_imm64(0, 0x1_0000_0005), alu32_k(op::MOD, 0, 0)], 5);
    eq(code![ld_imm64(0, 0x1_0000_0005), alu32_k(op::DIV, 0, 0)], 0);
    eq(
        code![
            mov64_k(0, 9),
            ld_imm64(1, 0x1_0000_0000),
            alu32_x(op::DIV, 0, 1)
        ],
        0,
    );
    eq(
        code![
            mov64_k(0, 9),
            ld_imm64(1, 0x1_0000_0000),
            alu32_x(op::MOD, 0, 1)
        ],
        9,
    );
}

#[test]
fn signed_division_and_modulo() {
    eq(code![mov64_k(0, -7), sdiv64_k(0, 2)], (-3i64) as u64);
    eq(code![mov64_k(0, -7), smod64_k(0, 2)], (-1i64) as u64);
    eq(code![mov64_k(0, 7), smod64_k(0, -2)], 1);
    eq(code![mov64_k(0, -7), sdiv32_k(0, 2)], (-3i32) as u32 as u64);
    eq(code![mov64_k(0, -7), smod32_k(0, 2)], 0xffff_ffff);
    // 32-bit signed operations look at the low half only.
    eq(code![ld_imm64(0, 0x7_ffff_fff9), sdiv32_k(0, -1)], 7);
}

#[test]
fn signed_division_edge_cases() {
    // w1 = -1; w1 s/= -1
    eq(
        code![alu32_k(op::MOV, 1, -1), sdiv32_k(1, -1), mov64_x(0, 1)],
        1,
    );
    eq(
        code![alu32_k(op::MOV, 1, -1), smod32_k(1, -1), mov64_x(0, 1)],
        0,
    );
    // The one overflowing quotient wraps: MIN s/ -1 = MIN, MIN s% -1 = 0.
    eq(code![ld_imm64(0, 1 << 63), sdiv64_k(0, -1)], 1 << 63);
    eq(code![ld_imm64(0, 1 << 63), smod64_k(0, -1)], 0);
    eq(
        code![alu32_k(op::MOV, 0, i32::MIN), sdiv32_k(0, -1)],
        0x8000_0000,
    );
    eq(code![alu32_k(op::MOV, 0, i32::MIN), smod32_k(0, -1)], 0);
    // x s/ -1 = -x through a register too.
    eq(
        code![
            mov64_k(0, 5),
            mov64_k(1, -1),
            alu_off(op::ALU64 | op::X | op::DIV, 0, 1, 1, 0)
        ],
        (-5i64) as u64,
    );
    // x s/ 0 = 0, x s% 0 = x (ALU: the low 32 bits).
    eq(code![mov64_k(0, -5), sdiv64_k(0, 0)], 0);
    eq(code![mov64_k(0, -5), smod64_k(0, 0)], (-5i64) as u64);
    eq(code![mov64_k(0, -5), sdiv32_k(0, 0)], 0);
    eq(code![mov64_k(0, -5), smod32_k(0, 0)], 0xffff_fffb);
}

#[test]
fn shifts_mask_the_amount() {
    eq(
        code![mov64_k(0, 1), mov64_k(1, 65), alu64_x(op::LSH, 0, 1)],
        2,
    );
    eq(code![mov64_k(0, 1), alu64_k(op::LSH, 0, 65)], 2);
    eq(code![mov64_k(0, 1), alu64_k(op::LSH, 0, 63)], 1 << 63);
    eq(code![mov64_k(0, 1), alu32_k(op::LSH, 0, 33)], 2);
    eq(code![mov64_k(0, 1), alu32_k(op::LSH, 0, 32)], 1);
    eq(code![mov64_k(0, -1), alu64_k(op::RSH, 0, 60)], 0xf);
    eq(
        code![ld_imm64(0, 0xffff_ffff_0000_0010), alu32_k(op::RSH, 0, 4)],
        1,
    );
    eq(code![mov64_k(0, -1), alu32_k(op::RSH, 0, 36)], 0x0fff_ffff);
}

#[test]
fn arithmetic_shift_is_on_the_operation_width() {
    eq(
        code![ld_imm64(0, 1 << 63), alu64_k(op::ARSH, 0, 63)],
        u64::MAX,
    );
    eq(
        code![ld_imm64(0, 1 << 63), alu64_k(op::ARSH, 0, 127)],
        u64::MAX,
    );
    eq(
        code![alu32_k(op::MOV, 0, i32::MIN), alu32_k(op::ARSH, 0, 31)],
        0xffff_ffff,
    );
    eq(
        code![ld_imm64(0, 0x1_8000_0000), alu32_k(op::ARSH, 0, 4)],
        0xf800_0000,
    );
    eq(
        code![ld_imm64(0, 0x8000_0000), alu64_k(op::ARSH, 0, 4)],
        0x0800_0000,
    );
}

#[test]
fn neg() {
    eq(
        code![mov64_k(0, 5), Insn::new(op::ALU64 | op::NEG, 0, 0, 0, 0)],
        (-5i64) as u64,
    );
    eq(
        code![mov64_k(0, 5), Insn::new(op::ALU | op::NEG, 0, 0, 0, 0)],
        0xffff_fffb,
    );
    eq(
        code![
            ld_imm64(0, 0x1_0000_0000),
            Insn::new(op::ALU | op::NEG, 0, 0, 0, 0)
        ],
        0,
    );
    eq(
        code![
            ld_imm64(0, 1 << 63),
            Insn::new(op::ALU64 | op::NEG, 0, 0, 0, 0)
        ],
        1 << 63,
    );
}

#[test]
fn mov_and_movsx() {
    eq(code![mov64_k(0, -1)], u64::MAX);
    eq(
        code![ld_imm64(1, 0x1234_5678_9abc_def0), mov64_x(0, 1)],
        0x1234_5678_9abc_def0,
    );
    eq(
        code![ld_imm64(1, 0x1234_5678_9abc_def0), alu32_x(op::MOV, 0, 1)],
        0x9abc_def0,
    );
    let movsx = |class: u8, off: i16| alu_off(class | op::X | op::MOV, 0, 1, off, 0);
    eq(
        code![mov64_k(1, 0x80), movsx(op::ALU64, 8)],
        0xffff_ffff_ffff_ff80,
    );
    eq(code![mov64_k(1, 0x80), movsx(op::ALU, 8)], 0xffff_ff80);
    eq(code![ld_imm64(1, 0x1_0000_007f), movsx(op::ALU64, 8)], 0x7f);
    eq(
        code![mov64_k(1, 0x8000), movsx(op::ALU64, 16)],
        0xffff_ffff_ffff_8000,
    );
    eq(code![mov64_k(1, 0x8000), movsx(op::ALU, 16)], 0xffff_8000);
    eq(
        code![ld_imm64(1, 0x8000_0000), movsx(op::ALU64, 32)],
        0xffff_ffff_8000_0000,
    );
    eq(
        code![ld_imm64(1, 0xffff_ffff_7fff_ffff), movsx(op::ALU64, 32)],
        0x7fff_ffff,
    );
}

#[test]
fn end_conversions() {
    const V: u64 = 0x1122_3344_5566_7788;
    let le = |bits| Insn::new(op::ALU | op::END | op::TO_LE, 0, 0, 0, bits);
    let be = |bits| Insn::new(op::ALU | op::END | op::TO_BE, 0, 0, 0, bits);
    let bswap = |bits| Insn::new(op::ALU64 | op::END | op::TO_LE, 0, 0, 0, bits);
    eq(code![ld_imm64(0, V), le(16)], 0x7788);
    eq(code![ld_imm64(0, V), le(32)], 0x5566_7788);
    eq(code![ld_imm64(0, V), le(64)], V);
    eq(code![ld_imm64(0, V), be(16)], 0x8877);
    eq(code![ld_imm64(0, V), be(32)], 0x8877_6655);
    eq(code![ld_imm64(0, V), be(64)], 0x8877_6655_4433_2211);
    eq(code![ld_imm64(0, V), bswap(16)], 0x8877);
    eq(code![ld_imm64(0, V), bswap(32)], 0x8877_6655);
    eq(code![ld_imm64(0, V), bswap(64)], 0x8877_6655_4433_2211);
    // src_reg is ignored, even above 10.
    eq(
        code![
            ld_imm64(0, V),
            Insn::new(op::ALU | op::END | op::TO_BE, 0, 15, 0, 16)
        ],
        0x8877,
    );
}

#[test]
fn other_ops_ignore_off_and_r10_is_readable() {
    eq(
        code![
            mov64_k(0, 1),
            alu_off(op::ALU64 | op::K | op::ADD, 0, 0, 77, 2)
        ],
        3,
    );
    eq(
        code![
            mov64_k(0, 1),
            alu_off(op::ALU | op::K | op::LSH, 0, 0, -1, 4)
        ],
        16,
    );
    eq(code![mov64_x(0, 10)], abi::ADDR_STACK + 512);
    eq(
        code![mov64_k(0, 0), alu64_x(op::ADD, 0, 10)],
        abi::ADDR_STACK + 512,
    );
}

#[test]
fn k_forms_ignore_src_reg() {
    insn_runs(vec![], Insn::new(op::ALU64 | op::K | op::ADD, 0, 15, 0, 1));
    insn_runs(vec![], Insn::new(op::ALU | op::NEG, 0, 12, 0, 0));
}

#[test]
fn invalid_alu_opcodes() {
    for class in [op::ALU, op::ALU64] {
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
            Insn::new(class | op::X | op::NEG, 0, 0, 0, 0),
            Fault::BadOpcode,
        );
        for o in [op::DIV, op::MOD] {
            for off in [2, -1, 8] {
                insn_fails(
                    vec![],
                    alu_off(class | op::K | o, 0, 0, off, 1),
                    Fault::BadOpcode,
                );
            }
        }
        // MOV: off only with X, and only the widths of the class.
        insn_fails(
            vec![],
            alu_off(class | op::K | op::MOV, 0, 0, 8, 1),
            Fault::BadOpcode,
        );
        insn_fails(
            vec![],
            alu_off(class | op::X | op::MOV, 0, 1, 7, 0),
            Fault::BadOpcode,
        );
        insn_fails(
            vec![],
            alu_off(class | op::X | op::MOV, 0, 1, 64, 0),
            Fault::BadOpcode,
        );
        insn_fails(
            vec![],
            alu_off(class | op::X | op::MOV, 0, 1, 1, 0),
            Fault::BadOpcode,
        );
        for bits in [0, 8, 24, 128, -16] {
            let insn = Insn::new(class | op::END, 0, 0, 0, bits);
            insn_fails(vec![], insn, Fault::BadOpcode);
        }
    }
    insn_fails(
        vec![],
        alu_off(op::ALU | op::X | op::MOV, 0, 1, 32, 0),
        Fault::BadOpcode,
    );
    insn_runs(vec![], alu_off(op::ALU64 | op::X | op::MOV, 0, 1, 32, 0));
    insn_fails(
        vec![],
        Insn::new(op::ALU64 | op::END | op::TO_BE, 0, 0, 0, 16),
        Fault::BadOpcode,
    );
}

#[test]
fn alu_register_faults() {
    // Writing r10, or any register above 10.
    insn_fails(vec![], mov64_k(10, 0), Fault::BadRegister);
    insn_fails(vec![], alu32_k(op::ADD, 10, 1), Fault::BadRegister);
    insn_fails(vec![], mov64_k(11, 0), Fault::BadRegister);
    insn_fails(
        vec![],
        Insn::new(op::ALU64 | op::END, 10, 0, 0, 16),
        Fault::BadRegister,
    );
    insn_fails(
        vec![],
        Insn::new(op::ALU | op::NEG, 15, 0, 0, 0),
        Fault::BadRegister,
    );
    // Reading a register above 10.
    insn_fails(vec![], alu64_x(op::ADD, 0, 11), Fault::BadRegister);
    insn_fails(vec![], alu32_x(op::MOV, 0, 15), Fault::BadRegister);
    // The opcode check comes first.
    insn_fails(
        vec![],
        Insn::new(op::ALU64 | 0xe0, 12, 13, 0, 0),
        Fault::BadOpcode,
    );
    insn_fails(
        vec![],
        alu_off(op::ALU64 | op::K | op::DIV, 10, 0, 3, 0),
        Fault::BadOpcode,
    );
}
