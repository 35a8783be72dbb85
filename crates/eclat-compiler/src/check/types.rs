//! The static types of values: which operations are signed, the 64-bit types results take,
//! when a store must narrow, and the typed HIR leaves (constants, locals) the checker builds.

use eclat_syntax::ast::IntType;

use crate::hir::{self, LocalId, Ty};

pub(super) fn word_ty(signed: bool) -> Ty {
    Ty::Typed(if signed { IntType::S64 } else { IntType::U64 })
}

/// Whether an operation on these operand types is signed: an exact constant takes the other
/// side's signedness; two typed values are signed if either is.
pub(super) fn binary_signed(a: Ty, b: Ty) -> bool {
    match (a, b) {
        (Ty::Int, Ty::Int) => true,
        (Ty::Int, Ty::Typed(t)) | (Ty::Typed(t), Ty::Int) => t.signed(),
        (Ty::Typed(x), Ty::Typed(y)) => x.signed() || y.signed(),
    }
}

/// Whether a value of static type `src` must be narrowed when stored as `dst`.
pub(super) fn needs_narrowing(src: Ty, dst: IntType) -> bool {
    if dst.bits() == 64 {
        return false;
    }
    match src {
        Ty::Int => true,
        Ty::Typed(t) => {
            !(t == dst
                || (!t.signed() && t.bits() < dst.bits())
                || (t.signed() && dst.signed() && t.bits() <= dst.bits()))
        }
    }
}

/// The 64-bit type of the same signedness.
pub(super) fn wide(t: IntType) -> IntType {
    if t.signed() {
        IntType::S64
    } else {
        IntType::U64
    }
}

pub(super) fn const_expr(bits: u64) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Const(bits),
        ty: Ty::Int,
    }
}

pub(super) fn local_expr(l: LocalId, ty: IntType) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Local(l),
        ty: Ty::Typed(ty),
    }
}
