//! One eBPF instruction and the opcode constants of the eBPF encoding.
//!
//! This module only encodes and decodes; it does not judge whether an instruction is valid
//! for the HIKe VM (that is [`crate::validate`]).

use bytemuck::{Pod, Zeroable};

/// Opcode field constants of the eBPF instruction encoding (RFC 9669).
pub mod op {
    // Classes (code & 0x07).
    /// Class: legacy packet loads and `LD_IMM64`.
    pub const LD: u8 = 0x00;
    /// Class: load from memory into a register.
    pub const LDX: u8 = 0x01;
    /// Class: store an immediate.
    pub const ST: u8 = 0x02;
    /// Class: store a register.
    pub const STX: u8 = 0x03;
    /// Class: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// Class: 64-bit jumps, calls, exit.
    pub const JMP: u8 = 0x05;
    /// Class: 32-bit jumps.
    pub const JMP32: u8 = 0x06;
    /// Class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    // Sizes (code & 0x18) of LD/LDX/ST/STX.
    /// Size: 4 bytes.
    pub const W: u8 = 0x00;
    /// Size: 2 bytes.
    pub const H: u8 = 0x08;
    /// Size: 1 byte.
    pub const B: u8 = 0x10;
    /// Size: 8 bytes.
    pub const DW: u8 = 0x18;

    // Modes (code & 0xe0) of LD/LDX/ST/STX.
    /// Mode: immediate (`LD_IMM64`).
    pub const IMM: u8 = 0x00;
    /// Mode: legacy absolute packet load (unsupported).
    pub const ABS: u8 = 0x20;
    /// Mode: legacy indirect packet load (unsupported).
    pub const IND: u8 = 0x40;
    /// Mode: memory.
    pub const MEM: u8 = 0x60;
    /// Mode: sign-extending memory load.
    pub const MEMSX: u8 = 0x80;
    /// Mode: atomic (unsupported).
    pub const ATOMIC: u8 = 0xc0;

    // Source (code & 0x08) of ALU/JMP.
    /// Source: the immediate.
    pub const K: u8 = 0x00;
    /// Source: the src register.
    pub const X: u8 = 0x08;

    // ALU operations (code & 0xf0).
    /// `dst += src`
    pub const ADD: u8 = 0x00;
    /// `dst -= src`
    pub const SUB: u8 = 0x10;
    /// `dst *= src`
    pub const MUL: u8 = 0x20;
    /// `dst /= src` (unsigned; signed when `off` = 1)
    pub const DIV: u8 = 0x30;
    /// `dst |= src`
    pub const OR: u8 = 0x40;
    /// `dst &= src`
    pub const AND: u8 = 0x50;
    /// `dst <<= src`
    pub const LSH: u8 = 0x60;
    /// `dst >>= src` (logical)
    pub const RSH: u8 = 0x70;
    /// `dst = -dst`
    pub const NEG: u8 = 0x80;
    /// `dst %= src` (unsigned; signed when `off` = 1)
    pub const MOD: u8 = 0x90;
    /// `dst ^= src`
    pub const XOR: u8 = 0xa0;
    /// `dst = src` (sign-extending when `off` is 8, 16 or 32)
    pub const MOV: u8 = 0xb0;
    /// `dst >>= src` (arithmetic)
    pub const ARSH: u8 = 0xc0;
    /// Byte swap: ALU with `TO_LE`/`TO_BE`, ALU64 unconditional.
    pub const END: u8 = 0xd0;
    /// `END` source bit: convert to little endian.
    pub const TO_LE: u8 = 0x00;
    /// `END` source bit: convert to big endian.
    pub const TO_BE: u8 = 0x08;

    // Jump operations (code & 0xf0).
    /// Unconditional jump.
    pub const JA: u8 = 0x00;
    /// `==`
    pub const JEQ: u8 = 0x10;
    /// `>` unsigned
    pub const JGT: u8 = 0x20;
    /// `>=` unsigned
    pub const JGE: u8 = 0x30;
    /// `&` non-zero
    pub const JSET: u8 = 0x40;
    /// `!=`
    pub const JNE: u8 = 0x50;
    /// `>` signed
    pub const JSGT: u8 = 0x60;
    /// `>=` signed
    pub const JSGE: u8 = 0x70;
    /// Call a helper, chain or program.
    pub const CALL: u8 = 0x80;
    /// Return from the chain.
    pub const EXIT: u8 = 0x90;
    /// `<` unsigned
    pub const JLT: u8 = 0xa0;
    /// `<=` unsigned
    pub const JLE: u8 = 0xb0;
    /// `<` signed
    pub const JSLT: u8 = 0xc0;
    /// `<=` signed
    pub const JSLE: u8 = 0xd0;

    /// The full opcode of `LD_IMM64` (first of its two slots).
    pub const LD_IMM64: u8 = LD | IMM | DW;

    /// The class bits of an opcode.
    pub const fn class(code: u8) -> u8 {
        code & 0x07
    }
    /// The operation bits of an ALU or JMP opcode.
    pub const fn alu_op(code: u8) -> u8 {
        code & 0xf0
    }
    /// The size bits of a memory opcode.
    pub const fn size(code: u8) -> u8 {
        code & 0x18
    }
    /// The mode bits of a memory opcode.
    pub const fn mode(code: u8) -> u8 {
        code & 0xe0
    }
    /// The source bit of an ALU or JMP opcode.
    pub const fn source(code: u8) -> u8 {
        code & 0x08
    }
    /// Bytes accessed by a memory size field.
    pub const fn size_bytes(size: u8) -> u32 {
        match size {
            B => 1,
            H => 2,
            W => 4,
            _ => 8,
        }
    }
}

/// One 8-byte eBPF instruction, laid out as `struct bpf_insn` (little endian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// `dst_reg` in the low nibble, `src_reg` in the high nibble.
    pub regs: u8,
    /// Signed offset (jumps, memory, signed ALU variants).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// An instruction from its fields; registers are truncated to 4 bits.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst & 0x0f) | ((src & 0x0f) << 4),
            off,
            imm,
        }
    }

    /// The destination register number.
    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }

    /// The source register number.
    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }

    /// The 8 bytes of the instruction, as stored in the code heap.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    /// The instruction encoded in 8 bytes.
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            regs: b[1],
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The instruction as the little-endian 64-bit word stored in the code heap.
    pub fn to_word(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// The instruction from its little-endian 64-bit word.
    pub fn from_word(word: u64) -> Insn {
        Insn::from_bytes(word.to_le_bytes())
    }
}

/// Encodes instructions as the bytes stored in the code heap.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Decodes bytes into instructions; `None` if the length is not a multiple of 8.
pub fn decode(bytes: &[u8]) -> Option<Vec<Insn>> {
    let chunks = bytes.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .map(|c| Insn::from_bytes(c.try_into().expect("chunk of 8")))
            .collect(),
    )
}
