//! Every instruction class on the kernel VM, checked against the reference VM: each chain
//! computes many results and stores them into the packet, so one packet compares hundreds of
//! operations (the packets must be byte-identical), and a few results are also checked against
//! values computed by hand, so that a mistake shared by both VMs is caught too.

use hike_isa::abi::Helper;
use hike_isa::{op, Insn};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{xdp, Harness};

/// Operands with the edges of every width and sign.
const VALUES: [u64; 13] = [
    0,
    1,
    3,
    31,
    63,
    0x80,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Immediates (sign-extended by the VM).
const IMMS: [i32; 8] = [0, 1, -1, 5, 31, 0x7fff_ffff, i32::MIN, -8];

fn ld_imm64(dst: u8, v: u64) -> [Insn; 2] {
    [
        Insn::new(op::LD_IMM64, dst, 0, 0, v as u32 as i32),
        Insn::new(0, 0, 0, 0, (v >> 32) as u32 as i32),
    ]
}

/// `r1 = off; r2 = size; r3 = src; call pkt_store`
fn store_result(code: &mut Vec<Insn>, off: usize, size: i32, src: u8) {
    code.push(Insn::new(op::ALU64 | op::MOV | op::K, 1, 0, 0, off as i32));
    code.push(Insn::new(op::ALU64 | op::MOV | op::K, 2, 0, 0, size));
    code.push(Insn::new(op::ALU64 | op::MOV | op::X, 3, src, 0, 0));
    code.push(Insn::new(
        op::JMP | op::CALL,
        0,
        0,
        0,
        Helper::PktStore as i32,
    ));
}

fn finish(mut code: Vec<Insn>) -> Vec<Insn> {
    code.push(Insn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0));
    code.push(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0));
    code
}

/// One ALU variant (class, op, off) over every operand pair (X) or operand × immediate (K);
/// results stored as 8 bytes each. Returns the chain and the number of results.
fn alu_chain(class: u8, alu: u8, off: i16, source: u8) -> (Vec<Insn>, usize) {
    let mut code = Vec::new();
    let mut n = 0;
    for &a in &VALUES {
        if source == op::X {
            for &b in &VALUES {
                code.extend(ld_imm64(6, a));
                code.extend(ld_imm64(7, b));
                code.push(Insn::new(class | alu | op::X, 6, 7, off, 0));
                store_result(&mut code, 62 + 8 * n, 8, 6);
                n += 1;
            }
        } else {
            for &imm in &IMMS {
                code.extend(ld_imm64(6, a));
                code.push(Insn::new(class | alu | op::K, 6, 0, off, imm));
                store_result(&mut code, 62 + 8 * n, 8, 6);
                n += 1;
            }
        }
    }
    (finish(code), n)
}

#[test]
fn kernel_alu_and_alu64_agree_with_the_reference_on_every_operation() {
    // Interpreted only by default: fused, each of its chains is a clang run and a
    // verification (minutes in all); HIKE_TEST_FUSED=1 compares them too.
    let mut h = Harness::new();
    let ops = [
        (op::ADD, 0),
        (op::SUB, 0),
        (op::MUL, 0),
        (op::DIV, 0),
        (op::DIV, 1),
        (op::OR, 0),
        (op::AND, 0),
        (op::LSH, 0),
        (op::RSH, 0),
        (op::MOD, 0),
        (op::MOD, 1),
        (op::XOR, 0),
        (op::MOV, 0),
        (op::ARSH, 0),
    ];
    let mut variants = 0;
    for class in [op::ALU, op::ALU64] {
        for (alu, off) in ops {
            for source in [op::K, op::X] {
                let (code, n) = alu_chain(class, alu, off, source);
                h.install_insns(1, &code, 0);
                let out = h.check(1, &[], &ipv6_udp_packet(62 + 8 * n));
                assert_eq!(out.verdict, xdp::PASS, "class {class:#x} op {alu:#x}");
                assert_eq!(out.fault, None, "class {class:#x} op {alu:#x}");
                variants += 1;
            }
        }
        // NEG (K only), sign-extending moves, byte swaps.
        let mut extra: Vec<(u8, i16, i32)> = vec![(op::NEG, 0, 0)];
        for (off, ok) in [(8, true), (16, true), (32, class == op::ALU64)] {
            if ok {
                extra.push((op::MOV | op::X, off, 0));
            }
        }
        for width in [16, 32, 64] {
            extra.push((op::END | op::TO_LE, 0, width));
            if class == op::ALU {
                extra.push((op::END | op::TO_BE, 0, width));
            }
        }
        for (code_bits, off, imm) in extra {
            let mut code = Vec::new();
            for (n, &a) in VALUES.iter().enumerate() {
                code.extend(ld_imm64(6, a));
                code.extend(ld_imm64(7, a.rotate_left(13)));
                let (dst, src) = if code_bits & op::X != 0 && code_bits & 0xf0 == op::MOV {
                    (6, 7)
                } else {
                    (6, 0)
                };
                code.push(Insn::new(class | code_bits, dst, src, off, imm));
                store_result(&mut code, 62 + 8 * n, 8, 6);
            }
            let code = finish(code);
            h.install_insns(1, &code, 0);
            let out = h.check(1, &[], &ipv6_udp_packet(62 + 8 * VALUES.len()));
            assert_eq!(
                out.fault, None,
                "class {class:#x} code {code_bits:#x} off {off}"
            );
            variants += 1;
        }
    }
    assert!(variants > 60, "every variant ran: {variants}");
}

/// Values computed by hand: a bug shared by both VMs would still fail here.
#[test]
fn kernel_alu_results_match_hand_computed_values() {
    let mut h = Harness::in_both_modes();
    let cases: [(&str, u64); 16] = [
        ("r0 = 7\n r0 += -8", u64::MAX),
        ("w0 = 7\n w0 += -8", 0xffff_ffff),
        ("r0 = -7\n r0 s/= 2", (-3i64) as u64),
        ("r0 = -7\n r0 /= 2", ((-7i64) as u64) / 2),
        ("r0 = -7\n r0 s%= 2", (-1i64) as u64),
        ("r0 = 9\n r1 = 0\n r0 /= r1", 0),
        ("r0 = 9\n r1 = 0\n r0 %= r1", 9),
        (
            "r0 = 0x8000000000000000 ll\n r1 = -1\n r0 s/= r1",
            0x8000_0000_0000_0000,
        ),
        ("r0 = -16\n r0 s>>= 2", (-4i64) as u64),
        ("w0 = -16\n w0 s>>= 2", 0xffff_fffc),
        ("r0 = 1\n r0 <<= 65", 2),
        ("r0 = 0x1234\n r0 = be16 r0", 0x3412),
        ("r0 = 0x11223344 ll\n r0 = le16 r0", 0x3344),
        (
            "r0 = 0x0102030405060708 ll\n r0 = bswap64 r0",
            0x0807_0605_0403_0201,
        ),
        ("r1 = 0x80\n r0 = (s8)r1", (-128i64) as u64),
        ("r1 = 0xffff\n w0 = (s16)w1", 0xffff_ffff),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        h.install(1, &format!("{body}\n exit"), 0);
        let out = h.check(1, &[], &ipv6_udp_packet(64));
        assert_eq!(out.result, *expected, "case {i}: {body}");
    }
}

#[test]
fn kernel_jmp_and_jmp32_agree_with_the_reference_on_every_condition() {
    // Interpreted only by default: fused, each of its chains is a clang run and a
    // verification (minutes in all); HIKE_TEST_FUSED=1 compares them too.
    let mut h = Harness::new();
    let conds = [
        op::JEQ,
        op::JNE,
        op::JGT,
        op::JGE,
        op::JLT,
        op::JLE,
        op::JSET,
        op::JSGT,
        op::JSGE,
        op::JSLT,
        op::JSLE,
    ];
    for class in [op::JMP, op::JMP32] {
        for cond in conds {
            for source in [op::K, op::X] {
                let mut code = Vec::new();
                let mut n = 0;
                for &a in &VALUES {
                    let operands: Vec<(u64, i32)> = if source == op::X {
                        VALUES.iter().map(|&b| (b, 0)).collect()
                    } else {
                        IMMS.iter().map(|&i| (0, i)).collect()
                    };
                    for (b, imm) in operands {
                        code.extend(ld_imm64(6, a));
                        code.extend(ld_imm64(7, b));
                        code.push(Insn::new(op::ALU64 | op::MOV | op::K, 8, 0, 0, 1));
                        code.push(Insn::new(class | cond | source, 6, 7, 1, imm));
                        code.push(Insn::new(op::ALU64 | op::MOV | op::K, 8, 0, 0, 0));
                        store_result(&mut code, 62 + n, 1, 8);
                        n += 1;
                    }
                }
                let code = finish(code);
                h.install_insns(1, &code, 0);
                let out = h.check(1, &[], &ipv6_udp_packet(62 + n));
                assert_eq!(out.fault, None, "class {class:#x} cond {cond:#x}");
                // Sanity: a condition is neither always nor never taken over these operands.
                let taken = out.packet[62..62 + n].iter().filter(|&&b| b == 1).count();
                assert!(
                    taken > 0 && taken < n,
                    "class {class:#x} cond {cond:#x}: {taken}/{n}"
                );
            }
        }
    }
}

#[test]
fn kernel_unconditional_jumps_gotol_and_backward_loops_run_as_written() {
    let mut h = Harness::in_both_modes();
    // A backward loop summing 1..=10, a forward `goto`, and a `gotol` (JMP32|JA, imm offset).
    h.install(
        1,
        "
        r0 = 0
        r1 = 10
    loop:
        r0 += r1
        r1 -= 1
        if r1 != 0 goto loop
        goto skip
        r0 = 999
    skip:
        gotol over
        r0 = 998
    over:
        exit
        ",
        0,
    );
    assert_eq!(h.check(1, &[], &ipv6_udp_packet(64)).result, 55);
}

#[test]
fn kernel_memory_loads_and_stores_of_every_size_on_the_stack_and_metadata() {
    let mut h = Harness::in_both_modes();
    h.install(
        1,
        "
        r1 = 0x8877665544332211 ll
        *(u64 *)(r10 - 8) = r1
        *(u32 *)(r10 - 16) = r1
        *(u16 *)(r10 - 24) = r1
        *(u8 *)(r10 - 32) = r1
        *(u32 *)(r10 - 12) = -2
        *(u16 *)(r10 - 22) = 0x7ff0
        *(u8 *)(r10 - 31) = 0x90
        *(u64 *)(r10 - 40) = -3
        r0 = *(u64 *)(r10 - 8)
        r2 = *(u32 *)(r10 - 4)
        r0 += r2
        r2 = *(u16 *)(r10 - 24)
        r0 ^= r2
        r2 = *(u8 *)(r10 - 32)
        r0 += r2
        r2 = *(s8 *)(r10 - 31)
        r0 += r2
        r2 = *(s16 *)(r10 - 22)
        r0 += r2
        r2 = *(s32 *)(r10 - 12)
        r0 += r2
        r2 = *(u64 *)(r10 - 40)
        r0 += r2
        r3 = 0x2000000000 ll
        r2 = *(u16 *)(r3 + 8)
        r0 += r2
        r2 = *(u16 *)(r3 + 10)
        r0 += r2
        r2 = *(u8 *)(r3 + 14)
        r0 += r2
        r2 = *(u8 *)(r3 + 15)
        r0 += r2
        exit
        ",
        0,
    );
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    // Hand computation of the same expression.
    let v: u64 = 0x8877_6655_4433_2211;
    let mut r0 = v.wrapping_add(0x8877_6655);
    r0 ^= 0x2211;
    r0 = r0.wrapping_add(0x11);
    r0 = r0.wrapping_add((0x90u8 as i8) as i64 as u64);
    r0 = r0.wrapping_add(0x7ff0);
    r0 = r0.wrapping_add((-2i64) as u64);
    r0 = r0.wrapping_add((-3i64) as u64);
    // Metadata of an IPv6/UDP packet: EtherType 0x86dd, L3 at 14, UDP at 54, flags IPv6|L4.
    r0 = r0
        .wrapping_add(0x86dd)
        .wrapping_add(14)
        .wrapping_add(17)
        .wrapping_add(0x06);
    assert_eq!(out.result, r0);
}

#[test]
fn kernel_helpers_read_and_write_the_packet_and_emit_events() {
    let mut h = Harness::in_both_modes();
    h.install(
        1,
        "
        call pkt_len
        r6 = r0
        r1 = 12
        r2 = 2
        call pkt_load
        r7 = r0
        r1 = 54
        r2 = 4
        r3 = 0xa1b2c3d4 ll
        call pkt_store
        r1 = 62
        r2 = 8
        call pkt_load
        r8 = r0
        r1 = 42
        r2 = r6
        r3 = r7
        r4 = r8
        call event
        call ktime_ns
        if r0 == 0 goto bad
        call random
        r0 >>= 32
        if r0 != 0 goto bad
        r0 = r7
        r0 <<= 16
        r0 += r6
        exit
    bad:
        r0 = -1
        exit
        ",
        0,
    );
    let packet = ipv6_udp_packet(100);
    let out = h.check(1, &[], &packet);
    assert_eq!(out.result, (0x86dd << 16) + 100);
    assert_eq!(&out.packet[54..58], &[0xa1, 0xb2, 0xc3, 0xd4]);
    assert_eq!(out.packet[..54], packet[..54]);
    assert_eq!(out.packet[58..], packet[58..]);
    assert_eq!(out.events.len(), 1);
    let ev = out.events[0];
    assert_eq!(
        (ev.kind, ev.chain_id, ev.code),
        (hike_isa::abi::EVENT_CHAIN, 1, 42)
    );
    assert_eq!(
        ev.values,
        [
            100,
            0x86dd,
            u64::from_be_bytes(packet[62..70].try_into().unwrap()),
            0
        ]
    );
}
