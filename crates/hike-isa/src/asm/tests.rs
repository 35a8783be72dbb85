//! The assembler's tests: encodings and disassembly of every instruction form, relocations,
//! labels and every error.

use super::*;
use crate::disasm::disassemble;
use crate::insn::encode;
use crate::{Insn, Symbols};

/// Assembles `src`, checks its bytes (hex, spaces ignored) and its disassembly (one line
/// per instruction, `;`-separated, without indentation).
#[track_caller]
fn check_asm(src: &str, hex: &str, disasm: &str) {
    let asm = assemble(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let bytes: String = encode(&asm.insns)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(bytes, hex.replace(' ', ""), "encoding of `{src}`");
    let text = disassemble(&asm.insns);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines.join("; "), disasm, "disassembly of `{src}`");
}

/// Assembles `src` and checks the error message.
#[track_caller]
fn check_err(src: &str, expected: &str) {
    match assemble(src) {
        Ok(asm) => panic!("`{src}` assembled to {:?}", asm.insns),
        Err(e) => assert_eq!(e.to_string(), expected, "error of `{src}`"),
    }
}

#[test]
fn alu_encodings() {
    check_asm("r1 = 5", "b7 01 0000 05000000", "r1 = 5");
    check_asm("r1 = -5", "b7 01 0000 fbffffff", "r1 = -5");
    check_asm("r1 = r2", "bf 21 0000 00000000", "r1 = r2");
    check_asm("w1 = 0xffffffff", "b4 01 0000 ffffffff", "w1 = -1");
    check_asm("w1 = w2", "bc 21 0000 00000000", "w1 = w2");
    check_asm("w1 += 3", "04 01 0000 03000000", "w1 += 3");
    check_asm("r1 += r2", "0f 21 0000 00000000", "r1 += r2");
    check_asm("r1 += -1", "07 01 0000 ffffffff", "r1 += -1");
    check_asm("r1 -= r2", "1f 21 0000 00000000", "r1 -= r2");
    check_asm("w3 -= 2", "14 03 0000 02000000", "w3 -= 2");
    check_asm("r3 *= 7", "27 03 0000 07000000", "r3 *= 7");
    check_asm("r1 /= r2", "3f 21 0000 00000000", "r1 /= r2");
    check_asm("w1 /= 3", "34 01 0000 03000000", "w1 /= 3");
    check_asm("r1 %= 10", "97 01 0000 0a000000", "r1 %= 10");
    check_asm("r1 |= r2", "4f 21 0000 00000000", "r1 |= r2");
    check_asm("w1 &= 255", "54 01 0000 ff000000", "w1 &= 255");
    check_asm("r1 <<= 3", "67 01 0000 03000000", "r1 <<= 3");
    check_asm("r1 >>= r2", "7f 21 0000 00000000", "r1 >>= r2");
    check_asm("r1 ^= r2", "af 21 0000 00000000", "r1 ^= r2");
    check_asm("r1 s>>= 2", "c7 01 0000 02000000", "r1 s>>= 2");
    check_asm("w1 s>>= w2", "cc 21 0000 00000000", "w1 s>>= w2");
    check_asm("r1 s/= r2", "3f 21 0100 00000000", "r1 s/= r2");
    check_asm("w1 s%= -3", "94 01 0100 fdffffff", "w1 s%= -3");
    check_asm("r1 = -r1", "87 01 0000 00000000", "r1 = -r1");
    check_asm("w2 = -w2", "84 02 0000 00000000", "w2 = -w2");
    check_asm("r1 = (s8)r2", "bf 21 0800 00000000", "r1 = (s8)r2");
    check_asm("r1 = (s16)r2", "bf 21 1000 00000000", "r1 = (s16)r2");
    check_asm("r1 = (s32)r2", "bf 21 2000 00000000", "r1 = (s32)r2");
    check_asm("w1 = (s8)w2", "bc 21 0800 00000000", "w1 = (s8)w2");
    check_asm("w1 = (s16)w2", "bc 21 1000 00000000", "w1 = (s16)w2");
    check_asm("r1 = r10", "bf a1 0000 00000000", "r1 = r10");
}

#[test]
fn byte_swap_encodings() {
    check_asm("r1 = be16 r1", "dc 01 0000 10000000", "r1 = be16 r1");
    check_asm("r2 = be32 r2", "dc 02 0000 20000000", "r2 = be32 r2");
    check_asm("r3 = be64 r3", "dc 03 0000 40000000", "r3 = be64 r3");
    check_asm("r1 = le16 r1", "d4 01 0000 10000000", "r1 = le16 r1");
    check_asm("r1 = le32 r1", "d4 01 0000 20000000", "r1 = le32 r1");
    check_asm("r1 = le64 r1", "d4 01 0000 40000000", "r1 = le64 r1");
    check_asm("r1 = bswap16 r1", "d7 01 0000 10000000", "r1 = bswap16 r1");
    check_asm("r1 = bswap32 r1", "d7 01 0000 20000000", "r1 = bswap32 r1");
    check_asm("r1 = bswap64 r1", "d7 01 0000 40000000", "r1 = bswap64 r1");
}

#[test]
fn ld_imm64_encodings() {
    check_asm(
        "r1 = 0x123456789 ll",
        "18 01 0000 89674523 00 00 0000 01000000",
        "r1 = 0x123456789 ll",
    );
    check_asm(
        "r2 = -1 ll",
        "18 02 0000 ffffffff 00 00 0000 ffffffff",
        "r2 = -1 ll",
    );
    check_asm(
        "r3 = 7 ll",
        "18 03 0000 07000000 00 00 0000 00000000",
        "r3 = 7 ll",
    );
    check_asm(
        "r0 = 0xffffffffffffffff ll",
        "18 00 0000 ffffffff 00 00 0000 ffffffff",
        "r0 = -1 ll",
    );
}

#[test]
fn memory_encodings() {
    check_asm(
        "r0 = *(u8 *)(r10 - 8)",
        "71 a0 f8ff 00000000",
        "r0 = *(u8 *)(r10 - 8)",
    );
    check_asm(
        "r0 = *(u16 *)(r1 + 2)",
        "69 10 0200 00000000",
        "r0 = *(u16 *)(r1 + 2)",
    );
    check_asm(
        "r0 = *(u32 *)(r1 + 4)",
        "61 10 0400 00000000",
        "r0 = *(u32 *)(r1 + 4)",
    );
    check_asm(
        "r0 = *(u64 *)(r1)",
        "79 10 0000 00000000",
        "r0 = *(u64 *)(r1 + 0)",
    );
    check_asm(
        "r0 = *(s8 *)(r1 + 4)",
        "91 10 0400 00000000",
        "r0 = *(s8 *)(r1 + 4)",
    );
    check_asm(
        "r0 = *(s16 *)(r1 - 2)",
        "89 10 feff 00000000",
        "r0 = *(s16 *)(r1 - 2)",
    );
    check_asm(
        "r0 = *(s32 *)(r1+0x10)",
        "81 10 1000 00000000",
        "r0 = *(s32 *)(r1 + 16)",
    );
    check_asm(
        "*(u64 *)(r10 - 8) = r1",
        "7b 1a f8ff 00000000",
        "*(u64 *)(r10 - 8) = r1",
    );
    check_asm(
        "*(u32 *)(r10 - 4) = r1",
        "63 1a fcff 00000000",
        "*(u32 *)(r10 - 4) = r1",
    );
    check_asm(
        "*(u16 *)(r10 - 2) = r1",
        "6b 1a feff 00000000",
        "*(u16 *)(r10 - 2) = r1",
    );
    check_asm(
        "*(u8 *)(r1 + 3) = r2",
        "73 21 0300 00000000",
        "*(u8 *)(r1 + 3) = r2",
    );
    check_asm(
        "*(u32 *)(r10 - 4) = 7",
        "62 0a fcff 07000000",
        "*(u32 *)(r10 - 4) = 7",
    );
    check_asm(
        "*(u8 *)(r10 - 1) = 255",
        "72 0a ffff ff000000",
        "*(u8 *)(r10 - 1) = 255",
    );
    check_asm(
        "*(u16 *)(r10 - 2) = 1",
        "6a 0a feff 01000000",
        "*(u16 *)(r10 - 2) = 1",
    );
    check_asm(
        "*(u64 *)(r10 - 16) = -1",
        "7a 0a f0ff ffffffff",
        "*(u64 *)(r10 - 16) = -1",
    );
    check_asm(
        "r1 = *(u64 *)(r2 - 32768)",
        "79 21 0080 00000000",
        "r1 = *(u64 *)(r2 - 32768)",
    );
}

#[test]
fn jump_encodings() {
    check_asm("goto +3", "05 00 0300 00000000", "goto +3");
    check_asm("goto -2", "05 00 feff 00000000", "goto -2");
    check_asm("gotol +5", "06 00 0000 05000000", "gotol +5");
    check_asm(
        "if r1 == r2 goto +1",
        "1d 21 0100 00000000",
        "if r1 == r2 goto +1",
    );
    check_asm(
        "if r1 != 5 goto +1",
        "55 01 0100 05000000",
        "if r1 != 5 goto +1",
    );
    check_asm(
        "if r1 > 5 goto +1",
        "25 01 0100 05000000",
        "if r1 > 5 goto +1",
    );
    check_asm(
        "if r1 >= r2 goto +1",
        "3d 21 0100 00000000",
        "if r1 >= r2 goto +1",
    );
    check_asm(
        "if r1 < 5 goto +1",
        "a5 01 0100 05000000",
        "if r1 < 5 goto +1",
    );
    check_asm(
        "if r1 <= r2 goto +1",
        "bd 21 0100 00000000",
        "if r1 <= r2 goto +1",
    );
    check_asm(
        "if r1 s> -1 goto +1",
        "65 01 0100 ffffffff",
        "if r1 s> -1 goto +1",
    );
    check_asm(
        "if r1 s>= r2 goto +1",
        "7d 21 0100 00000000",
        "if r1 s>= r2 goto +1",
    );
    check_asm(
        "if r1 s< 0 goto +1",
        "c5 01 0100 00000000",
        "if r1 s< 0 goto +1",
    );
    check_asm(
        "if r1 s<= r2 goto +1",
        "dd 21 0100 00000000",
        "if r1 s<= r2 goto +1",
    );
    check_asm(
        "if r1 & 0x4 goto +1",
        "45 01 0100 04000000",
        "if r1 & 4 goto +1",
    );
    check_asm(
        "if r1 & r2 goto +1",
        "4d 21 0100 00000000",
        "if r1 & r2 goto +1",
    );
    check_asm(
        "if w1 > w2 goto +1",
        "2e 21 0100 00000000",
        "if w1 > w2 goto +1",
    );
    check_asm(
        "if w1 s< -1 goto +1",
        "c6 01 0100 ffffffff",
        "if w1 s< -1 goto +1",
    );
    check_asm(
        "if w1 == 0xffffffff goto +1",
        "16 01 0100 ffffffff",
        "if w1 == -1 goto +1",
    );
    check_asm(
        "top: r0 = 0\n if r1 == 0 goto done\n goto top\ndone:\n exit",
        "b7 00 0000 00000000 15 01 0100 00000000 05 00 fdff 00000000 95 00 0000 00000000",
        "L0:; r0 = 0; if r1 == 0 goto L3; goto L0; L3:; exit",
    );
    check_asm(
        "gotol end\nr0 = 1 ll\nend: exit",
        "06 00 0000 02000000 18 00 0000 01000000 00 00 0000 00000000 95 00 0000 00000000",
        "gotol L3; r0 = 1 ll; L3:; exit",
    );
}

#[test]
fn call_and_exit_encodings() {
    check_asm("call pkt_load", "85 00 0000 01000000", "call pkt_load");
    check_asm("call random", "85 00 0000 06000000", "call random");
    check_asm("call helper 4", "85 00 0000 04000000", "call ktime_ns");
    check_asm("call helper 99", "85 00 0000 63000000", "call helper 99");
    check_asm("call chain 3", "85 10 0000 03000000", "call chain 3");
    check_asm("call prog 7", "85 20 0000 07000000", "call prog 7");
    check_asm(
        "call prog 0xffffffff",
        "85 20 0000 ffffffff",
        "call prog 4294967295",
    );
    check_asm("exit", "95 00 0000 00000000", "exit");
    check_asm(
        ".insn 0xff, 15, 15, -1, -1",
        "ff ff ffff ffffffff",
        ".insn 0xff, 15, 15, -1, -1",
    );
    check_asm(".insn 0x95, 0, 0, 0, 0", "95 00 0000 00000000", "exit");
    check_asm(
        ".insn 0x85, 0, 0, 65535, 0xffffffff",
        "85 00 ffff ffffffff",
        ".insn 0x85, 0, 0, -1, -1",
    );
}

#[test]
fn symbolic_calls_are_relocated() {
    let asm = assemble("r1 = 1\ncall prog monitor\ncall chain ddos\nexit").unwrap();
    assert_eq!(
        asm.relocations,
        [
            Relocation {
                index: 1,
                kind: RelocKind::Prog,
                name: "monitor".into()
            },
            Relocation {
                index: 2,
                kind: RelocKind::Chain,
                name: "ddos".into()
            },
        ]
    );
    assert_eq!(asm.insns[1], Insn::new(0x85, 0, 2, 0, 0));
    let mut symbols = Symbols::new();
    symbols.add_prog(7, "monitor").add_chain(3, "ddos");
    let linked = asm.link(&symbols).unwrap();
    assert_eq!(linked[1], Insn::new(0x85, 0, 2, 0, 7));
    assert_eq!(linked[2], Insn::new(0x85, 0, 1, 0, 3));
    let err = asm.link(&Symbols::new()).unwrap_err();
    assert_eq!(err.to_string(), "instruction 1: unknown program `monitor`");
    let by_closure = asm.link_with(|kind, _| Some(if kind == RelocKind::Chain { 9 } else { 8 }));
    assert_eq!(by_closure.unwrap()[2].imm, 9);
}

#[test]
fn comments_blank_lines_and_labels() {
    check_asm(
        "; a chain\n\n  // nothing\nstart: r0 = 1 ; one\n a: b:\n exit // done\n",
        "b7 00 0000 01000000 95 00 0000 00000000",
        "r0 = 1; exit",
    );
}

#[test]
fn errors() {
    check_err("r1 = 5\nfoo r1", "line 2, column 1: unknown mnemonic `foo`");
    check_err(".word 1", "line 1, column 1: unknown mnemonic `.word`");
    check_err("goto nowhere", "line 1, column 6: unknown label `nowhere`");
    check_err(
        "a:\n  a: exit",
        "line 2, column 3: label `a` is already defined on line 1",
    );
    check_err(
        "r1 += 0x80000000",
        "line 1, column 7: 2147483648 is out of range for immediate (-2147483648..=2147483647)",
    );
    check_err(
        "w1 += 0x100000000",
        "line 1, column 7: 4294967296 is out of range for immediate (-2147483648..=4294967295)",
    );
    check_err(
        "r0 = *(u8 *)(r10 - 40000)",
        "line 1, column 18: -40000 is out of range for offset (-32768..=32767)",
    );
    check_err(
        "goto +40000",
        "line 1, column 6: 40000 is out of range for jump offset (-32768..=32767)",
    );
    check_err(
        ".insn 256, 0, 0, 0, 0",
        "line 1, column 7: 256 is out of range for opcode (0..=255)",
    );
    check_err(
        ".insn 0, 16, 0, 0, 0",
        "line 1, column 10: 16 is out of range for register (0..=15)",
    );
    check_err(
        "r11 = 1",
        "line 1, column 1: register `r11` does not exist (registers are r0..r10)",
    );
    check_err(
        "w1 += r2",
        "line 1, column 7: expected a 32-bit register wN, found `r2`",
    );
    check_err(
        "if r1 > w2 goto +1",
        "line 1, column 9: expected a 64-bit register rN, found `w2`",
    );
    check_err("r1 = -r2", "line 1, column 7: expected `r1`, found `r2`");
    check_err(
        "r1 = be16 r2",
        "line 1, column 11: expected `r1`, found `r2`",
    );
    check_err(
        "w1 = be16 w1",
        "line 1, column 1: expected a 64-bit register rN, found `w1`",
    );
    check_err(
        "w1 = *(u8 *)(r1 + 0)",
        "line 1, column 1: expected a 64-bit register rN, found `w1`",
    );
    check_err(
        "w1 = 1 ll",
        "line 1, column 1: expected a 64-bit register rN, found `w1`",
    );
    check_err(
        "r0 = *(u8 *)(w1 + 0)",
        "line 1, column 14: expected a 64-bit register rN, found `w1`",
    );
    check_err(
        "w1 = (s32)w2",
        "line 1, column 7: expected `s8` or `s16`, found `s32`",
    );
    check_err(
        "r1 = (u8)r2",
        "line 1, column 7: expected `s8`, `s16` or `s32`, found `u8`",
    );
    check_err(
        "*(s8 *)(r10 - 1) = 1",
        "line 1, column 3: expected an unsigned size (`u8`, `u16`, `u32`, `u64`), found `s8`",
    );
    check_err(
        "r0 = *(i8 *)(r1 + 0)",
        "line 1, column 8: expected a size (`u8`, `u16`, `u32`, `u64`, `s8`, `s16`, `s32`), found `i8`",
    );
    check_err("call foo", "line 1, column 6: unknown helper `foo`");
    check_err(
        "call",
        "line 1, column 5: expected a helper name, `helper`, `prog` or `chain`, found end of line",
    );
    check_err(
        "call prog",
        "line 1, column 10: expected a name or an id, found end of line",
    );
    check_err("r1 = 5 $", "line 1, column 8: unexpected character `$`");
    check_err(
        "r1 = 99999999999999999999 ll",
        "line 1, column 6: malformed number `99999999999999999999`",
    );
    check_err("r1 = 12ab", "line 1, column 6: malformed number `12ab`");
    check_err(
        "exit r0",
        "line 1, column 6: expected end of line, found `r0`",
    );
    check_err(
        "if r1 == r2 jump +1",
        "line 1, column 13: expected `goto`, found `jump`",
    );
    check_err(
        "if r1 ~= 1 goto +1",
        "line 1, column 7: unexpected character `~`",
    );
    check_err(
        "if r1 = 1 goto +1",
        "line 1, column 7: expected a comparison, found `=`",
    );
    check_err(
        "r1 = ",
        "line 1, column 5: expected a register, a number or an expression, found end of line",
    );
    check_err(
        "r1 += foo",
        "line 1, column 7: expected a register or a number, found `foo`",
    );
    check_err(
        "r1 == 2",
        "line 1, column 4: expected an assignment operator, found `==`",
    );
    check_err(
        "goto",
        "line 1, column 5: expected a label or an offset, found end of line",
    );
    check_err(
        "= 1",
        "line 1, column 1: expected an instruction, found `=`",
    );
    check_err(
        ".insn 1, 2",
        "line 1, column 11: expected `,`, found end of line",
    );
    check_err(
        "r0 = *(u64 *)(r1 * 2)",
        "line 1, column 18: expected `+`, `-` or `)`, found `*`",
    );
}

#[test]
fn labels_too_far_for_a_jump() {
    let src = format!("goto far\n{}far: exit\n", "r0 = 0\n".repeat(40_000));
    check_err(
        &src,
        "line 1, column 6: label `far` is 40000 instructions away, out of range for a jump offset (-32768..=32767)",
    );
    let src = format!("gotol far\n{}far: exit\n", "r0 = 0\n".repeat(40_000));
    assert_eq!(assemble(&src).unwrap().insns[0].imm, 40_000);
}
