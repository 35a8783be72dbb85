//! Small instruction constructors for the generator and the tests. The assembler lives in
//! `hike_isa`; these only spare the callers from spelling out opcode bits.

use hike_isa::abi::{self, Helper};
use hike_isa::{op, Insn};

/// `dst op= imm` on 64 bits (`off` selects the signed DIV/MOD variants).
pub(crate) const fn alu64_k(o: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(op::ALU64 | op::K | o, dst, 0, 0, imm)
}

/// `dst op= src` on 64 bits.
pub(crate) const fn alu64_x(o: u8, dst: u8, src: u8) -> Insn {
    Insn::new(op::ALU64 | op::X | o, dst, src, 0, 0)
}

/// `wdst op= imm` on 32 bits.
pub(crate) const fn alu32_k(o: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(op::ALU | op::K | o, dst, 0, 0, imm)
}

/// `wdst op= wsrc` on 32 bits.
#[cfg_attr(not(test), expect(dead_code, reason = "only the tests use it"))]
pub(crate) const fn alu32_x(o: u8, dst: u8, src: u8) -> Insn {
    Insn::new(op::ALU | op::X | o, dst, src, 0, 0)
}

/// Any ALU instruction with an explicit `off` (signed DIV/MOD: 1, `movsx`: 8/16/32).
pub(crate) const fn alu_off(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(code, dst, src, off, imm)
}

/// `dst = imm` (sign-extended).
pub(crate) const fn mov64_k(dst: u8, imm: i32) -> Insn {
    alu64_k(op::MOV, dst, imm)
}

/// `dst = src`.
pub(crate) const fn mov64_x(dst: u8, src: u8) -> Insn {
    alu64_x(op::MOV, dst, src)
}

/// `dst = imm64`: the two slots of `LD_IMM64`.
pub(crate) const fn ld_imm64(dst: u8, value: u64) -> [Insn; 2] {
    [
        Insn::new(op::LD_IMM64, dst, 0, 0, value as u32 as i32),
        Insn::new(0, 0, 0, 0, (value >> 32) as u32 as i32),
    ]
}

/// `dst = *(size *)(src + off)`.
pub(crate) const fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::LDX | op::MEM | size, dst, src, off, 0)
}

/// `dst = *(signed size *)(src + off)`.
pub(crate) const fn ldxsx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::LDX | op::MEMSX | size, dst, src, off, 0)
}

/// `*(size *)(dst + off) = imm`.
pub(crate) const fn st(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::new(op::ST | op::MEM | size, dst, 0, off, imm)
}

/// `*(size *)(dst + off) = src`.
pub(crate) const fn stx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::STX | op::MEM | size, dst, src, off, 0)
}

/// `if dst op imm goto +off` on 64 bits.
pub(crate) const fn jmp_k(o: u8, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(op::JMP | op::K | o, dst, 0, off, imm)
}

/// `if dst op src goto +off` on 64 bits.
pub(crate) const fn jmp_x(o: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::JMP | op::X | o, dst, src, off, 0)
}

/// `if wdst op imm goto +off` on 32 bits.
pub(crate) const fn jmp32_k(o: u8, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(op::JMP32 | op::K | o, dst, 0, off, imm)
}

/// `if wdst op wsrc goto +off` on 32 bits.
pub(crate) const fn jmp32_x(o: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::JMP32 | op::X | o, dst, src, off, 0)
}

/// `goto +off`.
pub(crate) const fn ja(off: i16) -> Insn {
    Insn::new(op::JMP | op::JA, 0, 0, off, 0)
}

/// `gotol +imm`.
pub(crate) const fn gotol(imm: i32) -> Insn {
    Insn::new(op::JMP32 | op::JA, 0, 0, 0, imm)
}

/// `call helper`.
pub(crate) const fn call_helper(helper: Helper) -> Insn {
    Insn::new(op::JMP | op::CALL, 0, abi::CALL_HELPER, 0, helper as i32)
}

/// `call chain id`.
pub(crate) const fn call_chain(id: u32) -> Insn {
    Insn::new(op::JMP | op::CALL, 0, abi::CALL_CHAIN, 0, id as i32)
}

/// `call program id`.
pub(crate) const fn call_prog(id: u32) -> Insn {
    Insn::new(op::JMP | op::CALL, 0, abi::CALL_PROG, 0, id as i32)
}

/// `exit`.
pub(crate) const fn exit() -> Insn {
    Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
}
