//! Constant folding: compile-time values ([`Konst`]: exact integers from literals and
//! untyped constants, typed 64-bit words from typed ones), their fit in a type, module and
//! chain constants, and the folding of operators whose operands are all constant.

use eclat_syntax::ast::{self, BinOp, CmpOp, IntType, UnaryOp};
use eclat_syntax::Span;

use super::chain::ChainChecker;
use super::expr::Val;
use super::types::{binary_signed, wide};
use super::ModuleChecker;
use crate::error::CheckError;
use crate::ops::{self, const_binop, const_cmp, eval_binop, eval_cmp, fits, fits_64, normalize};

/// A compile-time value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Konst {
    /// Exact, from literals and untyped constants.
    Int(i128),
    /// A 64-bit word of a typed constant expression, with its type.
    Typed(IntType, u64),
}

impl Konst {
    pub(super) fn truthy(self) -> bool {
        match self {
            Konst::Int(v) => v != 0,
            Konst::Typed(_, b) => b != 0,
        }
    }

    pub(super) fn is_zero(self) -> bool {
        !self.truthy()
    }

    pub(super) fn bits(self) -> u64 {
        match self {
            Konst::Int(v) => v as u64,
            Konst::Typed(_, b) => b,
        }
    }

    /// The value as a number (typed words read with their type's signedness).
    pub(super) fn value(self) -> i128 {
        match self {
            Konst::Int(v) => v,
            Konst::Typed(t, b) => ops::word_value(b, t.signed()),
        }
    }
}

impl ModuleChecker<'_> {
    /// A constant expression of the module (module constants only).
    pub(super) fn const_expr(&mut self, e: &ast::Expr) -> Option<Konst> {
        let mut cx = ChainChecker::detached(self);
        let v = cx.expr(e);
        if v.konst.is_none() && !cx.failed {
            cx.m.error(
                CheckError::NeedsConstant {
                    what: "a module-level value",
                },
                e.span,
            );
        }
        v.konst
    }

    pub(super) fn module_const(&mut self, c: &ast::ConstDef) {
        let Some(k) = self.const_expr(&c.value) else {
            self.consts.insert(c.name.name.clone(), Konst::Int(0));
            return;
        };
        let k = match c.ty {
            Some(t) => match self.fit(k, t.ty, c.value.span) {
                Some(bits) => Konst::Typed(t.ty, bits),
                None => Konst::Typed(t.ty, 0),
            },
            None => k,
        };
        if self.symbols.contains_key(&c.name.name) || self.consts.contains_key(&c.name.name) {
            self.error(
                CheckError::Duplicate {
                    name: c.name.name.clone(),
                },
                c.name.span,
            );
            return;
        }
        self.consts.insert(c.name.name.clone(), k);
    }

    /// The word of constant `k` stored as `ty`, or an error if it does not fit.
    pub(super) fn fit(&mut self, k: Konst, ty: IntType, span: Span) -> Option<u64> {
        let v = k.value();
        if fits(v, ty) {
            Some(normalize(v as u64, ty))
        } else {
            self.error(CheckError::ConstantOverflow { value: v, ty }, span);
            None
        }
    }
}

impl ChainChecker<'_, '_> {
    pub(super) fn define_const(&mut self, id: &ast::Ident, ty: Option<IntType>, v: Val) {
        if self.consts.contains_key(&id.name) {
            self.error(
                CheckError::AssignToConstant {
                    name: id.name.clone(),
                },
                id.span,
            );
            return;
        }
        let Some(k) = v.konst else {
            if !self.failed {
                self.error(
                    CheckError::NotConstant {
                        name: id.name.clone(),
                    },
                    v.span,
                );
            }
            self.consts.insert(id.name.clone(), Konst::Int(0));
            return;
        };
        let k = match ty {
            Some(t) => Konst::Typed(t, self.m.fit(k, t, v.span).unwrap_or(0)),
            None => k,
        };
        self.consts.insert(id.name.clone(), k);
    }

    /// A binary operation on two constants, folded (`None` if an operand is not constant).
    /// Two exact constants give an exact result (or the error of an impossible one, with a
    /// dummy value); otherwise the result is the 64-bit word the VM would compute, of the
    /// operation's signedness, and each exact operand must fit in 64 bits.
    pub(super) fn fold_binary(
        &mut self,
        op: BinOp,
        signed: bool,
        l: &Val,
        r: &Val,
        span: Span,
    ) -> Option<Val> {
        match (l.konst?, r.konst?) {
            (Konst::Int(a), Konst::Int(b)) => Some(match const_binop(op, a, b) {
                Ok(v) => Val::konst(Konst::Int(v), span),
                Err(e) => {
                    self.error(e, span);
                    Val::dummy(span)
                }
            }),
            (a, b) => {
                for (k, s) in [(a, l.span), (b, r.span)] {
                    if let Konst::Int(i) = k {
                        if !fits_64(i) {
                            self.error(CheckError::ConstantTooWide { value: i }, s);
                        }
                    }
                }
                let bits = eval_binop(op, signed, a.bits(), b.bits());
                let ty = if signed { IntType::S64 } else { IntType::U64 };
                Some(Val::konst(Konst::Typed(ty, bits), span))
            }
        }
    }
}

/// A unary operation on a constant: exact stays exact, a typed word stays a word of the
/// 64-bit type of its signedness (`not` gives 0 or 1).
pub(super) fn fold_unary(op: UnaryOp, k: Konst) -> Konst {
    match (op, k) {
        (UnaryOp::Plus, k) => k,
        (UnaryOp::Neg, Konst::Int(i)) => Konst::Int(-i),
        (UnaryOp::Invert, Konst::Int(i)) => Konst::Int(!i),
        (UnaryOp::Neg, Konst::Typed(t, b)) => Konst::Typed(wide(t), b.wrapping_neg()),
        (UnaryOp::Invert, Konst::Typed(t, b)) => Konst::Typed(wide(t), !b),
        (UnaryOp::Not, k) => Konst::Int(!k.truthy() as i128),
    }
}

/// A comparison chain (`a < b <= c`) whose operands are all constant, folded to 0 or 1
/// (`None` if one is not constant).
pub(super) fn fold_compare(first: &Val, rest: &[(CmpOp, Val)], span: Span) -> Option<Val> {
    if first.konst.is_none() || rest.iter().any(|(_, v)| v.konst.is_none()) {
        return None;
    }
    let mut prev = first;
    let mut result = true;
    for (op, v) in rest {
        let (a, b) = (prev.konst.expect("constant"), v.konst.expect("constant"));
        let holds = match (a, b) {
            (Konst::Int(x), Konst::Int(y)) => const_cmp(*op, x, y),
            _ => eval_cmp(
                *op,
                binary_signed(prev.expr.ty, v.expr.ty),
                a.bits(),
                b.bits(),
            ),
        };
        if !holds {
            result = false;
            break;
        }
        prev = v;
    }
    Some(Val::konst(Konst::Int(result as i128), span))
}
