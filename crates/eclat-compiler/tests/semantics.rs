//! Semantic tests: snippets compiled and run on the reference VM with mocked programs.
//! Each checks one rule of `docs/eclat.md` against what the bytecode computes.

mod common;

use common::{compile_ok, eq, fail, run, run_script, run_with_packet};
use hike_refvm::xdp;

fn neg(v: i64) -> u64 {
    v as u64
}

#[test]
fn python_precedence() {
    // Comparisons bind looser than bitwise operators: (x & 3) == 1.
    eq("def main(x):\n    return x & 3 == 1\n", &[5], 1);
    eq("def main(x):\n    return x & 3 == 1\n", &[6], 0);
    // `not` binds looser than comparisons: not (x == 0).
    eq("def main(x):\n    return not x == 0\n", &[0], 0);
    eq("def main(x):\n    return not x == 0\n", &[4], 1);
    eq("def main(x):\n    return 1 + x * 3\n", &[2], 7);
    eq("def main(x):\n    return (1 + x) * 3\n", &[2], 9);
    eq("def main(x):\n    return 1 << x + 1\n", &[2], 8);
    eq(
        "def main(x):\n    return x | 6 ^ 5 & 3\n",
        &[8],
        8 | (6 ^ (5 & 3)),
    );
    eq("def main(x):\n    return -x * 2 + 10\n", &[3], 4);
    eq("def main(x):\n    return x - 2 - 3\n", &[10], 5);
    eq("def main(x):\n    return x // 2 * 3\n", &[7], 9);
    eq("def main(x):\n    return x or 5 and 0\n", &[0], 0);
    eq("def main(x):\n    return 1 < x < 5\n", &[3], 1);
    eq("def main(x):\n    return 1 < x < 5\n", &[5], 0);
    eq("def main(x):\n    return 1 < x <= 5 != x + 1\n", &[5], 1);
    eq("def main(x):\n    return ~x & 0xff\n", &[0x0f], 0xf0);
    eq("def main(x):\n    return x / 2\n", &[7], 3);
    eq("def main(x):\n    return x % 4 == 3 and x > 10\n", &[11], 1);
}

#[test]
fn constant_folding_matches_run_time() {
    let s = compile_ok("def main():\n    return (1 + 2 * 3) << 2 | 1\n");
    assert!(s.disassemble().contains("r0 = 29"), "{}", s.disassemble());
    eq("def main():\n    return -7 // 2\n", &[], neg(-3));
    eq("def main():\n    return -7 % 2\n", &[], neg(-1));
    eq("def main():\n    return 7 // 0 + 7 % 0\n", &[], 7);
    eq(
        "def main():\n    N = 3\n    M = N * N + 1\n    return M\n",
        &[],
        10,
    );
    eq("def main():\n    return True + true + False\n", &[], 2);
    eq(
        "def main():\n    return 0xffff_ffff_ffff_ffff\n",
        &[],
        u64::MAX,
    );
    eq("def main():\n    return 0x8000_0000\n", &[], 0x8000_0000);
    eq(
        "def main():\n    return 0x1_0000_0000 + 5\n",
        &[],
        0x1_0000_0005,
    );
    eq("def main():\n    return 0 or 9\n", &[], 9);
}

#[test]
fn wraparound_at_each_width() {
    eq("def main(u8 : x):\n    x += 1\n    return x\n", &[255], 0);
    eq(
        "def main(u16 : x):\n    x += 1\n    return x\n",
        &[65535],
        0,
    );
    eq(
        "def main(u32 : x):\n    x += 1\n    return x\n",
        &[0xffff_ffff],
        0,
    );
    eq(
        "def main(u64 : x):\n    x += 1\n    return x\n",
        &[u64::MAX],
        0,
    );
    eq(
        "def main(s8 : x):\n    x += 1\n    return x\n",
        &[127],
        neg(-128),
    );
    eq(
        "def main(s16 : x):\n    x += 1\n    return x\n",
        &[32767],
        neg(-32768),
    );
    eq(
        "def main(s32 : x):\n    x += 1\n    return x\n",
        &[i32::MAX as u64],
        neg(i32::MIN as i64),
    );
    eq(
        "def main(s64 : x):\n    x += 1\n    return x\n",
        &[i64::MAX as u64],
        i64::MIN as u64,
    );
    eq("def main(u8 : x):\n    x -= 1\n    return x\n", &[0], 255);
    eq(
        "def main(x):\n    u8 : y = x * 3\n    return y\n",
        &[100],
        44,
    );
    eq(
        "def main(x):\n    s8 : y = x\n    return y\n",
        &[200],
        neg(-56),
    );
    eq(
        "def main(x):\n    u16 : y = x\n    return y\n",
        &[0x12_3456],
        0x3456,
    );
    eq(
        "def main(x):\n    s32 : y = x\n    return y\n",
        &[0xffff_fffe],
        neg(-2),
    );
    // Arithmetic is 64-bit: the sum of two u8 is not truncated until it is stored.
    eq(
        "def main(u8 : a, u8 : b):\n    return a + b\n",
        &[200, 100],
        300,
    );
    // Parameters are normalized to their type at entry.
    eq("def main(u8 : a):\n    return a\n", &[0x1_02], 2);
    eq("def main(s16 : a):\n    return a\n", &[0xffff], neg(-1));
    // Widening a signed value sign-extends it.
    eq(
        "def main(s8 : a):\n    s64 : b = a\n    return b\n",
        &[0x80],
        neg(-128),
    );
    eq(
        "def main(s8 : a):\n    u16 : b = a\n    return b\n",
        &[0xff],
        0xffff,
    );
}

#[test]
fn signed_and_unsigned_operations() {
    // Comparison.
    eq("def main(s8 : x):\n    return x < 1\n", &[0xff], 1);
    eq("def main(u8 : x):\n    return x < 1\n", &[0xff], 0);
    eq("def main(s64 : x):\n    return x < -1\n", &[neg(-2)], 1);
    eq("def main(u64 : x):\n    return x > 5\n", &[neg(-2)], 1);
    // Division and modulo truncate toward zero when signed.
    eq(
        "def main(s32 : x):\n    return x // 2\n",
        &[neg(-7)],
        neg(-3),
    );
    eq(
        "def main(s32 : x):\n    return x % 2\n",
        &[neg(-7)],
        neg(-1),
    );
    eq(
        "def main(u64 : x):\n    return x // 2\n",
        &[neg(-8)],
        (neg(-8)) / 2,
    );
    // Right shift is arithmetic when signed, logical when unsigned.
    eq(
        "def main(s64 : x):\n    return x >> 1\n",
        &[neg(-8)],
        neg(-4),
    );
    eq(
        "def main(u64 : x):\n    return x >> 1\n",
        &[neg(-8)],
        neg(-8) >> 1,
    );
    // An operation is signed if either operand is.
    eq(
        "def main(s8 : a, u8 : b):\n    return a < b\n",
        &[0xff, 1],
        1,
    );
    // A literal takes the signedness of the other operand.
    eq("def main(u64 : x):\n    return x < -1\n", &[5], 1);
    eq("def main(s64 : x):\n    return x < -1\n", &[5], 0);
    // Division by zero: x / 0 == 0, x % 0 == x, signed too.
    eq("def main(x, y):\n    return x / y\n", &[7, 0], 0);
    eq("def main(x, y):\n    return x % y\n", &[7, 0], 7);
    eq(
        "def main(s64 : x, s64 : y):\n    return x % y + x // y\n",
        &[neg(-7), 0],
        neg(-7),
    );
    eq(
        "def main(s64 : x):\n    return x // -1\n",
        &[i64::MIN as u64],
        i64::MIN as u64,
    );
    eq("def main(s64 : x):\n    return -x\n", &[5], neg(-5));
}

#[test]
fn and_or_have_python_values_and_short_circuit() {
    eq("def main(x):\n    return x and 7\n", &[3], 7);
    eq("def main(x):\n    return x and 7\n", &[0], 0);
    eq("def main(x):\n    return x or 7\n", &[3], 3);
    eq("def main(x):\n    return x or 7\n", &[0], 7);
    // The right operand (a program call) is skipped when the left decides.
    let r = run("def main(x):\n    return x and probe(5)\n", &[0]);
    assert_eq!((r.result, r.called()), (0, vec![]));
    let r = run("def main(x):\n    return x and probe(5)\n", &[1]);
    assert_eq!((r.result, r.called()), (5, vec!["probe"]));
    let r = run("def main(x):\n    return x or probe(5)\n", &[2]);
    assert_eq!((r.result, r.called()), (2, vec![]));
    let r = run(
        "def main(x):\n    if x == 0 or probe(x) > 10:\n        return 1\n    return 2\n",
        &[0],
    );
    assert_eq!((r.result, r.called()), (1, vec![]));
    let r = run(
        "def main(x):\n    if x != 0 and probe(x) > 10:\n        return 1\n    return 2\n",
        &[0],
    );
    assert_eq!((r.result, r.called()), (2, vec![]));
    let r = run(
        "def main(x):\n    if x != 0 and probe(x) > 10:\n        return 1\n    return 2\n",
        &[11],
    );
    assert_eq!((r.result, r.called()), (1, vec!["probe"]));
    // A chained comparison stops at the first false one.
    let r = run("def main(x):\n    return 5 < x < probe(9)\n", &[1]);
    assert_eq!((r.result, r.called()), (0, vec![]));
    // Values live across the short-circuit and across calls.
    eq(
        "def main(x, y):\n    return x + (y or probe(4)) * (x and add(x, y))\n",
        &[2, 0],
        2 + 4 * 2,
    );
    eq("def main(x):\n    return not x\n", &[0], 1);
    eq("def main(x):\n    return (not x) + (not not x)\n", &[7], 1);
}

#[test]
fn loops_with_break_and_continue() {
    let sum_odd = "
def main(n):
    total = 0
    for i in range(n):
        if i % 2 == 0:
            continue
        if total > 20:
            break
        total += i
    return total
";
    eq(sum_odd, &[6], 1 + 3 + 5);
    eq(sum_odd, &[100], 1 + 3 + 5 + 7 + 9);
    eq(sum_odd, &[0], 0);
    // After a loop that may not run, its variable may be unassigned.
    fail(
        "def main(n):\n    for i in range(n):\n        pass\n    return i\n",
        "`i` is read before it is assigned",
    );
    eq(
        "def main():\n    t = 0\n    for i in range(10, 0, -3):\n        t = t * 100 + i\n    return t\n",
        &[],
        10_07_04_01,
    );
    eq(
        "def main():\n    t = 0\n    i = 0\n    for i in range(2, 5):\n        t += i\n    return t * 10 + i\n",
        &[],
        94,
    );
    eq(
        "def main(x):\n    n = 0\n    while x > 1:\n        n += 1\n        if x % 2 == 0:\n            x //= 2\n        else:\n            x = 3 * x + 1\n    return n\n",
        &[27],
        111,
    );
    eq(
        "def main():\n    n = 0\n    while True:\n        n += 1\n        if n >= 7:\n            break\n    return n\n",
        &[],
        7,
    );
    // Nested loops: `break` leaves the inner one only.
    eq(
        "def main():\n    c = 0\n    for i in range(4):\n        for j in range(4):\n            if j > i:\n                break\n            c += 1\n    return c\n",
        &[],
        10,
    );
    // The loop variable's changes do not affect the iteration (Python's range).
    eq(
        "def main():\n    c = 0\n    for i in range(3):\n        i = 100\n        c += 1\n    return c\n",
        &[],
        3,
    );
    // Signed bounds count down through zero.
    eq(
        "def main(s64 : lo):\n    c = 0\n    for i in range(2, lo, -1):\n        c += 1\n    return c\n",
        &[neg(-3)],
        5,
    );
}

#[test]
fn chain_calls_with_arguments_and_results() {
    let src = "
def main(x):
    a = 100
    b = twice(x) + a
    return b + twice(b)

def twice(u32 : v):
    return add(v, v)
";
    eq(src, &[3], 106 + 212);
    // Nested chains; locals (registers and stack slots) survive the calls.
    let src = "
def main(x):
    a = 1; b = 2; c = 3; d = 4; e = 5; f = 6
    r = outer(x, a, b)
    return r * 1000 + a + b + c + d + e + f

def outer(p, q, s):
    t = inner(p + q) + inner(s)
    return t + q

def inner(v):
    w = v * 2
    return ret(w) + 1
";
    // outer(7, 1, 2) = (inner(8) + inner(2)) + 1 = (17 + 5) + 1 = 23
    eq(src, &[7], 23 * 1000 + 21);
    // Five arguments to a chain and to a program.
    let src = "
def main():
    return pass5(1, 2, 3, 4, 5) + five(1, 2, 3, 4, 5)

def pass5(a, b, c, d, e):
    return a + 10 * b + 100 * c + 1000 * d + 10000 * e
";
    eq(src, &[], 2 * 54321);
    // A chain defined after its caller, and a return value used in a condition.
    let src = "
def main(x):
    if check(x):
        return 1
    return 2

def check(v):
    return v > 3
";
    eq(src, &[4], 1);
    eq(src, &[3], 2);
}

#[test]
fn early_returns() {
    let src = "
def main(x):
    for i in range(10):
        while True:
            if i == x:
                return i * 100
            break
    if x > 50:
        return 7
    return 0
";
    eq(src, &[3], 300);
    eq(src, &[60], 7);
    eq(src, &[20], 0);
}

#[test]
fn bare_return_and_the_end_of_a_chain() {
    // A chain with a `return VALUE` returns 0 at a bare `return` and at its end, whatever
    // its last call left in r0.
    let src = "
def main(x):
    probe(9)
    if x == 1:
        return 5
    if x == 2:
        return
";
    eq(src, &[1], 5);
    eq(src, &[2], 0);
    eq(src, &[3], 0);

    // A chain without one returns no value: there it exits with r0 as its last call left it,
    // with no `r0 = 0` (the instruction the `ddos_mark` benchmark saves).
    let src = "
def main(x):
    probe(9)
    if x == 2:
        return
    probe(4)
";
    let script = compile_ok(src);
    let main = script.chain("main").expect("compiled");
    assert!(!main.returns_value);
    let asm = script.disassemble();
    assert!(!asm.contains("r0 = 0"), "{asm}");
    assert!(asm.ends_with("call prog probe\n    exit\n"), "{asm}");
    let r = run_script(&script, "main", &[2]);
    assert_eq!((r.fault, r.result, r.called()), (None, 9, vec!["probe"]));
    let r = run_script(&script, "main", &[3]);
    assert_eq!(
        (r.fault, r.result, r.called()),
        (None, 4, vec!["probe", "probe"])
    );
    // Where a path to the exit may have called nothing, r0 is set (the validator refuses to
    // read an unwritten register), to 0.
    for src in [
        "def main():\n    return\n",
        "def main():\n    pass\n",
        "def main(x):\n    if x:\n        probe(9)\n",
        "def main(x):\n    while x < 3:\n        x += probe(1)\n",
    ] {
        let script = compile_ok(src);
        assert!(!script.chain("main").expect("compiled").returns_value);
        let r = run_script(&script, "main", &[1]);
        assert_eq!((r.fault, r.result), (None, 0), "{src}");
    }

    // A caller may call such a chain as a statement; it cannot use its result.
    let r = run(
        "def main(x):\n    side(x)\n    return 1\ndef side(x):\n    probe(x)\n",
        &[3],
    );
    assert_eq!((r.result, r.calls), (1, vec![("probe".into(), vec![3])]));
    let side = "def side():\n    probe(1)\n";
    for use_ in [
        "    x = side()\n    return x\n",
        "    if side() == 0:\n        probe(2)\n",
        "    probe(side())\n",
        "    return side() + 1\n",
        "    return\n    return side()\n",
    ] {
        fail(
            &format!("def main():\n{use_}{side}"),
            "chain `side` returns no value (it has no `return VALUE`)",
        );
    }
}

#[test]
fn terminal_programs_end_the_packet() {
    let src = "
def main(x):
    if x:
        drop()
    probe(1)
    accept()
";
    let r = run(src, &[1]);
    assert_eq!((r.verdict, r.called()), (xdp::DROP, vec!["drop"]));
    let r = run(src, &[0]);
    assert_eq!(
        (r.verdict, r.called()),
        (xdp::PASS, vec!["probe", "accept"])
    );
    // A chain that returns without a terminal program gets the loader's default verdict.
    let r = run("def main():\n    return 3\n", &[]);
    assert_eq!((r.verdict, r.result), (xdp::PASS, 3));
}

#[test]
fn packet_fields_in_network_byte_order() {
    let src = "
def main():
    x = packet.u16[2]
    packet.u8[0] = 0x1ff
    packet.u32[4] = x + 1
    packet.u8[1] += 1
    return packet.u64[8] - packet.len + len(packet)
";
    let script = compile_ok(src);
    let r = run_with_packet(&script, "main", &[], (0..16).collect());
    assert_eq!(r.fault, None);
    assert_eq!(r.result, 0x08090a0b0c0d0e0f);
    assert_eq!(&r.packet[..8], &[0xff, 2, 2, 3, 0, 0, 0x02, 0x04]);
    // Out of bounds faults the chain.
    let r = run_with_packet(&script, "main", &[], vec![0; 4]);
    assert_eq!(r.fault, Some(hike_isa::abi::Fault::PktOutOfBounds));
}

#[test]
fn builtins() {
    let r = run(
        "def main():\n    event(7, 1, 2)\n    return ktime_ns() >= 0\n",
        &[],
    );
    assert_eq!((r.fault, r.result), (None, 1));
}

#[test]
fn rejected_snippets() {
    fail("def main():\n    return y\n", "unknown name `y`");
    fail(
        "def main(x):\n    if x:\n        y = 1\n    return y\n",
        "`y` is read before it is assigned",
    );
    fail(
        "def main():\n    X = 1\n    X = 2\n",
        "cannot assign to constant `X`",
    );
    fail(
        "def main():\n    X = 1\n    X += 2\n",
        "cannot assign to constant `X`",
    );
    fail(
        "def main(x):\n    X = x\n",
        "the value of constant `X` is not known",
    );
    fail(
        "def main():\n    u8 : y = 256\n",
        "constant 256 does not fit in `u8` (0..=255)",
    );
    fail(
        "def main():\n    y = -1\n",
        "constant -1 does not fit in `u64`",
    );
    fail(
        "def main():\n    s8 : y = -129\n",
        "does not fit in `s8` (-128..=127)",
    );
    fail(
        "def main():\n    u8 : Y = 1000\n",
        "constant 1000 does not fit in `u8`",
    );
    fail(
        "def main():\n    u8 : y = 1\n    u16 : y = 2\n",
        "`y` is declared `u16` here but `u8` before",
    );
    fail(
        "def main():\n    y = 1\n    u16 : y = 2\n",
        "`y` is declared `u16` here but `u64` before",
    );
    fail(
        "def main():\n    return add(1)\n",
        "program `add` takes 2 arguments, found 1",
    );
    fail(
        "def main():\n    return c(1)\ndef c():\n    return 0\n",
        "chain `c` takes 0 arguments, found 1",
    );
    fail(
        "def main():\n    return main()\n",
        "chain `main` calls itself: main → main",
    );
    fail(
        "def main():\n    return a()\ndef a():\n    return b()\ndef b():\n    return a()\n",
        "chain `a` calls itself: a → b → a",
    );
    fail(
        "def main(x):\n    return x << 64\n",
        "shift amount 64 is out of range (0..=63)",
    );
    fail(
        "def main():\n    for i in range(0, 5, 0):\n        pass\n",
        "the step of `range` must not be zero",
    );
    fail("def main():\n    break\n", "`break` outside a loop");
    fail(
        "def main():\n    return packet\n",
        "`packet` is not a value",
    );
    fail(
        "def main():\n    return nosuch(1)\n",
        "unknown program or chain `nosuch`",
    );
    fail(
        "def main(a, b, c, d, e, f):\n    pass\n",
        "has 6 parameters, more than the VM's limit of 5",
    );
    fail(
        "def main():\n    packet.u8[70000] = 1\n",
        "packet offset 70000 is out of range",
    );
    fail(
        "def main():\n    return 'abc'\n",
        "a string is not a number",
    );
}

#[test]
fn limits_of_the_vm() {
    // Call depth: a path of 17 chains needs 17 frames.
    let mut src = String::from("def main():\n    return c1()\n");
    for i in 1..=16 {
        let body = if i < 16 {
            format!("return c{}()", i + 1)
        } else {
            "return 0".into()
        };
        src.push_str(&format!("def c{i}():\n    {body}\n"));
    }
    fail(
        &src,
        "chain `main` nests 17 chain frames, more than the VM's limit of 16",
    );
    // 16 frames are fine.
    let ok = src.replace("return c16()", "return 0");
    eq(&ok, &[], 0);
    // Code size.
    let long = format!(
        "def main(x):\n{}    return x\n",
        "    x = x * 3 + 1\n".repeat(1400)
    );
    fail(&long, "more than the VM's limit of 4096");
    // Stack: more live values than slots.
    let mut vars = String::new();
    let mut sum = String::from("0");
    for i in 0..70 {
        vars.push_str(&format!("    v{i} = ret({i})\n"));
        sum.push_str(&format!(" + v{i}"));
    }
    fail(
        &format!("def main():\n{vars}    return {sum}\n"),
        "bytes of stack, more than the VM's 512 per frame",
    );
}

#[test]
fn warnings() {
    let msgs = common::messages("def main():\n    drop()\n    probe(1)\n    return 0\n");
    assert_eq!(
        msgs,
        ["unreachable code: terminal program `drop` ends the chain above"]
    );
    // `return 0` right after a terminal program is the idiom, not worth a warning.
    assert!(common::messages("def main():\n    accept()\n    return 0\n").is_empty());
    let msgs = common::messages("def main(x):\n    return x / 0 + x % 0\n");
    assert_eq!(
        msgs,
        [
            "division by zero: `x / 0` is 0 in eCLAT",
            "division by zero: `x % 0` is x in eCLAT"
        ]
    );
    let msgs = common::messages("def main(x):\n    return 1\n    x = 2\n");
    assert_eq!(msgs, ["unreachable code after `return`"]);
}
