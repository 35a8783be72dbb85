//! Property test: random well-typed expressions over typed parameters compute, once compiled
//! and run on the reference VM, what a direct evaluator written here from the rules of
//! `docs/eclat.md` computes; and the compiler rejects exactly the expressions the rules
//! reject (constants that do not fit, shift amounts out of range). The expression is the
//! chain's result, a stored value, a condition, or, in a chain that returns no value, a
//! program's argument or the condition of a program call.
//!
//! The expressions are printed with the fewest parentheses Python's precedence allows, so
//! the parser's precedence is exercised too. The seed is fixed: a failure reproduces.

mod common;

use eclat_syntax::ast::{BinOp, CmpOp, IntType};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The chain's parameters: names and types.
const PARAMS: [(&str, IntType); 5] = [
    ("a", IntType::U8),
    ("b", IntType::S16),
    ("c", IntType::U32),
    ("d", IntType::S64),
    ("e", IntType::U64),
];

/// Typed constants declared in the chain: names, types and values.
const CONSTS: [(&str, IntType, i64); 4] = [
    ("KA", IntType::U8, 200),
    ("KB", IntType::S16, -300),
    ("KC", IntType::U32, 0xdead_beef),
    ("KD", IntType::S64, -5),
];

#[derive(Clone, Debug)]
enum E {
    Lit(u64),
    Const(usize),
    Param(usize),
    Neg(Box<E>),
    Invert(Box<E>),
    Not(Box<E>),
    Bin(BinOp, Box<E>, Box<E>),
    Cmp(Box<E>, Vec<(CmpOp, E)>),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
}

const BINOPS: [BinOp; 10] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Mod,
    BinOp::Shl,
    BinOp::Shr,
    BinOp::And,
    BinOp::Or,
    BinOp::Xor,
];
const CMPOPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
];
const INTERESTING: [u64; 14] = [
    0,
    1,
    2,
    3,
    7,
    127,
    128,
    255,
    256,
    65535,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

fn gen_expr(rng: &mut SmallRng, depth: u32) -> E {
    if depth == 0 || rng.random_bool(0.25) {
        return if rng.random_bool(0.4) {
            E::Param(rng.random_range(0..PARAMS.len()))
        } else if rng.random_bool(0.2) {
            E::Const(rng.random_range(0..CONSTS.len()))
        } else if rng.random_bool(0.6) {
            E::Lit(rng.random_range(0..20))
        } else {
            E::Lit(INTERESTING[rng.random_range(0..INTERESTING.len())])
        };
    }
    let sub = |rng: &mut SmallRng| Box::new(gen_expr(rng, depth - 1));
    match rng.random_range(0..16) {
        0 => E::Neg(sub(rng)),
        1 => E::Invert(sub(rng)),
        2 => E::Not(sub(rng)),
        3 => E::And(sub(rng), sub(rng)),
        4 => E::Or(sub(rng), sub(rng)),
        5 | 6 => {
            let n = rng.random_range(1..=3);
            let rest = (0..n)
                .map(|_| {
                    (
                        CMPOPS[rng.random_range(0..CMPOPS.len())],
                        gen_expr(rng, depth - 1),
                    )
                })
                .collect();
            E::Cmp(sub(rng), rest)
        }
        _ => {
            let op = BINOPS[rng.random_range(0..BINOPS.len())];
            let rhs = if matches!(op, BinOp::Shl | BinOp::Shr) && rng.random_bool(0.7) {
                Box::new(E::Lit(rng.random_range(0..64)))
            } else {
                sub(rng)
            };
            E::Bin(op, sub(rng), rhs)
        }
    }
}

// ---- printing with Python's precedence --------------------------------------------------

fn level(e: &E) -> u8 {
    match e {
        E::Or(..) => 1,
        E::And(..) => 2,
        E::Not(_) => 3,
        E::Cmp(..) => 4,
        E::Bin(op, ..) => match op {
            BinOp::Or => 5,
            BinOp::Xor => 6,
            BinOp::And => 7,
            BinOp::Shl | BinOp::Shr => 8,
            BinOp::Add | BinOp::Sub => 9,
            _ => 10,
        },
        E::Neg(_) | E::Invert(_) => 11,
        E::Lit(_) | E::Param(_) | E::Const(_) => 12,
    }
}

/// `e` printed so that it parses back as an operand needing at least `min` precedence.
fn show(e: &E, min: u8) -> String {
    let s = match e {
        E::Lit(v) => v.to_string(),
        E::Param(i) => PARAMS[*i].0.to_string(),
        E::Const(i) => CONSTS[*i].0.to_string(),
        E::Neg(a) => format!("-{}", show(a, 11)),
        E::Invert(a) => format!("~{}", show(a, 11)),
        E::Not(a) => format!("not {}", show(a, 3)),
        E::And(a, b) => format!("{} and {}", show(a, 2), show(b, 3)),
        E::Or(a, b) => format!("{} or {}", show(a, 1), show(b, 2)),
        E::Cmp(first, rest) => {
            let mut s = show(first, 5);
            for (op, x) in rest {
                s.push_str(&format!(" {op} {}", show(x, 5)));
            }
            s
        }
        E::Bin(op, a, b) => {
            let l = level(e);
            format!("{} {op} {}", show(a, l), show(b, l + 1))
        }
    };
    if level(e) < min {
        format!("({s})")
    } else {
        s
    }
}

// ---- the evaluator ----------------------------------------------------------------------

/// A value: an exact constant, a typed constant (a 64-bit word known at compile time), or a
/// 64-bit run-time word, with their signedness.
#[derive(Clone, Copy, Debug)]
enum V {
    C(i128),
    T(u64, bool),
    W(u64, bool),
}

impl V {
    fn is_const(self) -> bool {
        !matches!(self, V::W(..))
    }

    /// The bits of a constant as folding sees them (exact constants wrap, unchecked).
    fn bits(self) -> u64 {
        match self {
            V::C(c) => c as u64,
            V::T(w, _) | V::W(w, _) => w,
        }
    }

    /// The number a constant stands for.
    fn number(self) -> i128 {
        match self {
            V::C(c) => c,
            V::T(w, true) | V::W(w, true) => w as i64 as i128,
            V::T(w, false) | V::W(w, false) => w as i128,
        }
    }
}

/// The expression is rejected by the rules.
#[derive(Debug)]
struct Rejected;

fn sign(v: V) -> Option<bool> {
    match v {
        V::C(_) => None,
        V::T(_, s) | V::W(_, s) => Some(s),
    }
}

fn signed_of(a: V, b: V) -> bool {
    match (sign(a), sign(b)) {
        (None, None) => true,
        (None, Some(s)) | (Some(s), None) => s,
        (Some(x), Some(y)) => x || y,
    }
}

/// The 64-bit word of a value used at run time.
fn word(v: V) -> Result<u64, Rejected> {
    match v {
        V::C(c) if (i64::MIN as i128..=u64::MAX as i128).contains(&c) => Ok(c as u64),
        V::C(_) => Err(Rejected),
        V::T(w, _) | V::W(w, _) => Ok(w),
    }
}

fn truthy(v: V) -> bool {
    v.number() != 0
}

fn normalize(w: u64, t: IntType) -> u64 {
    match t {
        IntType::U8 => w as u8 as u64,
        IntType::U16 => w as u16 as u64,
        IntType::U32 => w as u32 as u64,
        IntType::S8 => w as i8 as i64 as u64,
        IntType::S16 => w as i16 as i64 as u64,
        IntType::S32 => w as i32 as i64 as u64,
        IntType::U64 | IntType::S64 => w,
    }
}

/// Exact arithmetic on constants: Python's, with truncating division and `x/0 == 0`,
/// `x%0 == x`; magnitudes above 2^100 are rejected.
fn exact(op: BinOp, a: i128, b: i128) -> Result<i128, Rejected> {
    let v = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => Some(if b == 0 { 0 } else { a / b }),
        BinOp::Mod => Some(if b == 0 { a } else { a % b }),
        BinOp::Shl => a.checked_mul(1i128 << b),
        BinOp::Shr => Some(a >> b),
        BinOp::And => Some(a & b),
        BinOp::Or => Some(a | b),
        BinOp::Xor => Some(a ^ b),
    };
    v.filter(|v| v.abs() <= 1i128 << 100).ok_or(Rejected)
}

/// 64-bit arithmetic as the VM does it.
fn machine(op: BinOp, signed: bool, a: u64, b: u64) -> u64 {
    let (x, y) = (a as i64, b as i64);
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div => match (b, signed) {
            (0, _) => 0,
            (_, true) => x.wrapping_div(y) as u64,
            _ => a / b,
        },
        BinOp::Mod => match (b, signed) {
            (0, _) => a,
            (_, true) => x.wrapping_rem(y) as u64,
            _ => a % b,
        },
        BinOp::Shl => a << (b % 64),
        BinOp::Shr if signed => (x >> (b % 64)) as u64,
        BinOp::Shr => a >> (b % 64),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
    }
}

fn compare(op: CmpOp, signed: bool, a: u64, b: u64) -> bool {
    let o = if signed {
        (a as i64).cmp(&(b as i64))
    } else {
        a.cmp(&b)
    };
    exact_cmp(op, o)
}

fn exact_cmp(op: CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::Ne => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::Le => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Ge => o != Less,
        CmpOp::In | CmpOp::NotIn => unreachable!("the generator makes no address comparison"),
    }
}

fn eval(e: &E, args: &[u64; 5]) -> Result<V, Rejected> {
    Ok(match e {
        E::Lit(v) => V::C(*v as i128),
        E::Param(i) => {
            let t = PARAMS[*i].1;
            V::W(normalize(args[*i], t), t.signed())
        }
        E::Const(i) => {
            let (_, t, v) = CONSTS[*i];
            V::T(v as u64, t.signed())
        }
        E::Neg(a) => match eval(a, args)? {
            V::C(c) => V::C(-c),
            V::T(w, s) => V::T(w.wrapping_neg(), s),
            V::W(w, s) => V::W(w.wrapping_neg(), s),
        },
        E::Invert(a) => match eval(a, args)? {
            V::C(c) => V::C(!c),
            V::T(w, s) => V::T(!w, s),
            V::W(w, s) => V::W(!w, s),
        },
        E::Not(a) => match eval(a, args)? {
            V::W(w, _) => V::W((w == 0) as u64, false),
            k => V::C(!truthy(k) as i128),
        },
        E::And(a, b) | E::Or(a, b) => {
            let is_and = matches!(e, E::And(..));
            let (l, r) = (eval(a, args)?, eval(b, args)?);
            let pick_left = truthy(l) != is_and;
            if l.is_const() {
                return Ok(if pick_left { l } else { r });
            }
            let signed = signed_of(l, r);
            let rw = word(r)?;
            V::W(if pick_left { word(l)? } else { rw }, signed)
        }
        E::Cmp(first, rest) => {
            let mut vals = vec![eval(first, args)?];
            for (_, x) in rest {
                vals.push(eval(x, args)?);
            }
            if vals.iter().all(|v| v.is_const()) {
                let holds =
                    rest.iter()
                        .enumerate()
                        .all(|(i, (op, _))| match (vals[i], vals[i + 1]) {
                            (V::C(x), V::C(y)) => exact_cmp(*op, x.cmp(&y)),
                            (x, y) => compare(*op, signed_of(x, y), x.bits(), y.bits()),
                        });
                return Ok(V::C(holds as i128));
            }
            let words = vals
                .iter()
                .map(|v| word(*v))
                .collect::<Result<Vec<_>, _>>()?;
            let holds = rest.iter().enumerate().all(|(i, (op, _))| {
                compare(*op, signed_of(vals[i], vals[i + 1]), words[i], words[i + 1])
            });
            V::W(holds as u64, false)
        }
        E::Bin(op, a, b) => {
            let (l, r) = (eval(a, args)?, eval(b, args)?);
            let shift = matches!(op, BinOp::Shl | BinOp::Shr);
            if shift && r.is_const() && !(0..=63).contains(&r.number()) {
                return Err(Rejected);
            }
            if let (V::C(x), V::C(y)) = (l, r) {
                return Ok(V::C(exact(*op, x, y)?));
            }
            let signed = if shift {
                sign(l).unwrap_or(true)
            } else {
                signed_of(l, r)
            };
            let w = machine(*op, signed, word(l)?, word(r)?);
            if l.is_const() && r.is_const() {
                V::T(w, signed)
            } else {
                V::W(w, signed)
            }
        }
    })
}

/// How the expression is used in the chain.
#[derive(Clone, Copy, Debug)]
enum Use {
    /// `return EXPR`.
    Return,
    /// `TYPE : r = EXPR`, then `return r`.
    Store(IntType),
    /// `if EXPR: return 1`, then `return 0`.
    Condition,
    /// `probe(EXPR)` in a chain that returns no value: `probe`'s argument is the value.
    Argument,
    /// `if EXPR: probe(1)` in a chain that returns no value: 1 if `probe` was called.
    Guard,
}

fn expected(e: &E, args: &[u64; 5], how: Use) -> Result<u64, Rejected> {
    let v = eval(e, args)?;
    match how {
        Use::Return | Use::Argument => word(v),
        Use::Condition | Use::Guard => word(v).map(|w| (w != 0) as u64),
        Use::Store(t) => match v {
            V::C(c) if (t.min()..=t.max()).contains(&c) => Ok(normalize(c as u64, t)),
            V::C(_) => Err(Rejected),
            V::T(..) if !(t.min()..=t.max()).contains(&v.number()) => Err(Rejected),
            V::T(w, _) | V::W(w, _) => Ok(normalize(w, t)),
        },
    }
}

fn source(expr: &str, how: Use) -> String {
    let params = PARAMS
        .iter()
        .map(|(n, t)| format!("{t} : {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let consts: String = CONSTS
        .iter()
        .map(|(n, t, v)| format!("    {t} : {n} = {v}\n"))
        .collect();
    let body = match how {
        Use::Return => format!("    return {expr}\n"),
        Use::Store(t) => format!("    {t} : r = {expr}\n    return r\n"),
        Use::Condition => format!("    if {expr}:\n        return 1\n    return 0\n"),
        Use::Argument => format!("    probe({expr})\n"),
        Use::Guard => format!("    if {expr}:\n        probe(1)\n"),
    };
    format!("def main({params}):\n{consts}{body}")
}

#[test]
fn random_expressions_compute_what_the_rules_say() {
    let mut rng = SmallRng::seed_from_u64(0x0ec1a7);
    let mut compiled = 0;
    for case in 0..3000 {
        let depth = rng.random_range(1..=5);
        let e = gen_expr(&mut rng, depth);
        let text = show(&e, 0);
        let how = match rng.random_range(0..6) {
            0 => Use::Store(IntType::ALL[rng.random_range(0..8)]),
            1 => Use::Condition,
            2 => Use::Argument,
            3 => Use::Guard,
            _ => Use::Return,
        };
        let src = source(&text, how);
        let full = format!("{}{src}", common::IMPORTS);
        let out = eclat_compiler::compile(
            &full,
            &common::TestCatalog::new(),
            &eclat_compiler::ChainTable::new(),
        );
        let args: [u64; 5] = std::array::from_fn(|_| {
            if rng.random_bool(0.5) {
                INTERESTING[rng.random_range(0..INTERESTING.len())]
            } else {
                rng.random()
            }
        });
        let want = expected(&e, &args, how);
        match (&out.script, &want) {
            (None, Err(_)) => continue,
            (None, Ok(_)) => panic!(
                "case {case}: rejected but valid:\n{src}\n{}",
                out.render(&eclat_syntax::SourceFile::new("p.eclat", full.clone()))
            ),
            (Some(_), Err(_)) => panic!("case {case}: compiled but the rules reject it:\n{src}"),
            (Some(script), Ok(want)) => {
                compiled += 1;
                let r = common::run_script(script, "main", &args);
                assert_eq!(r.fault, None, "case {case}: fault\n{src}");
                let got = match how {
                    Use::Return | Use::Store(_) | Use::Condition => r.result,
                    Use::Argument => {
                        assert_eq!(r.called(), ["probe"], "case {case}: {src}");
                        r.calls[0].1[0]
                    }
                    Use::Guard => r.calls.len() as u64,
                };
                assert_eq!(
                    got,
                    *want,
                    "case {case}: {src}with {args:?}\n{}",
                    script.disassemble()
                );
            }
        }
    }
    assert!(compiled > 2000, "only {compiled} cases compiled");
}
