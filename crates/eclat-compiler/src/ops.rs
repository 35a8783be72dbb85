//! The meaning of eCLAT's operators on values, shared by constant folding and by tests.
//!
//! Run-time values are 64-bit two's-complement words; an operation is signed or unsigned
//! (see `docs/eclat.md`, "Types"). These functions compute exactly what the generated
//! bytecode computes on the VM (`docs/vm-semantics.md`): wrapping arithmetic, shift amounts
//! masked to 6 bits, `x / 0 == 0`, `x % 0 == x`, signed division truncating toward zero.
//! Constant expressions made only of literals and untyped constants are computed exactly on
//! `i128` instead ([`const_binop`]), Python-style, and checked where they are used.

use eclat_syntax::ast::{BinOp, CmpOp, IntType};

use crate::error::CheckError;

/// `bits` stored into a variable of type `ty`: truncated to its width, then sign-extended
/// (signed types) or zero-extended (unsigned types) back to 64 bits.
pub fn normalize(bits: u64, ty: IntType) -> u64 {
    match ty {
        IntType::U8 => bits as u8 as u64,
        IntType::U16 => bits as u16 as u64,
        IntType::U32 => bits as u32 as u64,
        IntType::U64 | IntType::S64 => bits,
        IntType::S8 => bits as i8 as i64 as u64,
        IntType::S16 => bits as i16 as i64 as u64,
        IntType::S32 => bits as i32 as i64 as u64,
    }
}

/// A binary operator on 64-bit words, as the VM computes it.
pub fn eval_binop(op: BinOp, signed: bool, a: u64, b: u64) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b == 0 => 0,
        BinOp::Div if signed => sa.wrapping_div(sb) as u64,
        BinOp::Div => a / b,
        BinOp::Mod if b == 0 => a,
        BinOp::Mod if signed => sa.wrapping_rem(sb) as u64,
        BinOp::Mod => a % b,
        BinOp::Shl => a << (b & 63),
        BinOp::Shr if signed => (sa >> (b & 63)) as u64,
        BinOp::Shr => a >> (b & 63),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
    }
}

/// A comparison of 64-bit words.
pub fn eval_cmp(op: CmpOp, signed: bool, a: u64, b: u64) -> bool {
    let ord = if signed {
        (a as i64).cmp(&(b as i64))
    } else {
        a.cmp(&b)
    };
    cmp_holds(op, ord)
}

/// A comparison of exact constants.
pub fn const_cmp(op: CmpOp, a: i128, b: i128) -> bool {
    cmp_holds(op, a.cmp(&b))
}

fn cmp_holds(op: CmpOp, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => ord == Equal,
        CmpOp::Ne => ord != Equal,
        CmpOp::Lt => ord == Less,
        CmpOp::Le => ord != Greater,
        CmpOp::Gt => ord == Greater,
        CmpOp::Ge => ord != Less,
        CmpOp::In | CmpOp::NotIn => unreachable!("address membership is lowered by the checker"),
    }
}

/// The largest magnitude an exact constant may reach (beyond it: an error).
const CONST_LIMIT: i128 = 1 << 100;

/// A binary operator on exact constants: Python's integers, except that division truncates
/// toward zero and `x / 0 == 0`, `x % 0 == x` (as at run time).
pub fn const_binop(op: BinOp, a: i128, b: i128) -> Result<i128, CheckError> {
    let shift = |b: i128| {
        if (0..=63).contains(&b) {
            Ok(b as u32)
        } else {
            Err(CheckError::ShiftOutOfRange { amount: b })
        }
    };
    let v = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div if b == 0 => Some(0),
        BinOp::Div => a.checked_div(b),
        BinOp::Mod if b == 0 => Some(a),
        BinOp::Mod => a.checked_rem(b),
        BinOp::Shl => a.checked_mul(1i128 << shift(b)?),
        BinOp::Shr => Some(a >> shift(b)?),
        BinOp::And => Some(a & b),
        BinOp::Or => Some(a | b),
        BinOp::Xor => Some(a ^ b),
    };
    match v {
        Some(v) if (-CONST_LIMIT..=CONST_LIMIT).contains(&v) => Ok(v),
        _ => Err(CheckError::ConstantArithOverflow),
    }
}

/// Whether an exact constant can be a 64-bit word (as `s64` or as `u64`).
pub fn fits_64(v: i128) -> bool {
    (i64::MIN as i128..=u64::MAX as i128).contains(&v)
}

/// Whether an exact constant fits `ty`.
pub fn fits(v: i128, ty: IntType) -> bool {
    (ty.min()..=ty.max()).contains(&v)
}

/// The value of a 64-bit word read as `ty` (for messages and fit checks).
pub fn word_value(bits: u64, signed: bool) -> i128 {
    if signed {
        bits as i64 as i128
    } else {
        bits as i128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_truncates_and_extends() {
        assert_eq!(normalize(0x1ff, IntType::U8), 0xff);
        assert_eq!(normalize(0x180, IntType::S8), 0xffff_ffff_ffff_ff80);
        assert_eq!(normalize(0x7f, IntType::S8), 0x7f);
        assert_eq!(normalize(0x1_8000, IntType::S16), (-32768i64) as u64);
        assert_eq!(normalize(u64::MAX, IntType::U32), 0xffff_ffff);
        assert_eq!(
            normalize(0x8000_0000, IntType::S32),
            (i32::MIN as i64) as u64
        );
    }

    #[test]
    fn division_by_zero_and_signed_edges() {
        assert_eq!(eval_binop(BinOp::Div, false, 7, 0), 0);
        assert_eq!(eval_binop(BinOp::Mod, false, 7, 0), 7);
        assert_eq!(
            eval_binop(BinOp::Div, true, i64::MIN as u64, -1i64 as u64),
            i64::MIN as u64
        );
        assert_eq!(eval_binop(BinOp::Mod, true, 5, -1i64 as u64), 0);
        assert_eq!(eval_binop(BinOp::Div, true, -7i64 as u64, 2), -3i64 as u64);
        assert_eq!(eval_binop(BinOp::Shr, true, -8i64 as u64, 1), -4i64 as u64);
        assert_eq!(eval_binop(BinOp::Shl, false, 1, 65), 2);
        assert_eq!(const_binop(BinOp::Div, -7, 2).unwrap(), -3);
        assert_eq!(const_binop(BinOp::Mod, -7, 2).unwrap(), -1);
        assert_eq!(const_binop(BinOp::Mod, 7, 0).unwrap(), 7);
        assert!(const_binop(BinOp::Shl, 1, 64).is_err());
    }
}
