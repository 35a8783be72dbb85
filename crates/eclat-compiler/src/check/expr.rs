//! Expressions: names, calls (programs, chains, the VM's helpers), packet fields, and the
//! unary, binary, comparison and logic operators, typed by the rules of
//! [`types`](super::types), folded when constant ([`fold`](super::fold)), and lowered to HIR.

use eclat_syntax::ast::{self, BinOp, CmpOp, ExprKind, IntType, LogicOp, UnaryOp};
use eclat_syntax::Span;
use hike_isa::abi::{self, Helper};

use super::chain::ChainChecker;
use super::fold::{fold_compare, fold_unary, Konst};
use super::types::{binary_signed, const_expr, local_expr, word_ty};
use super::Symbol;
use crate::error::{CalleeKind, CheckError, CheckWarning};
use crate::hir::{self, CallTarget, Ty};
use crate::ops::fits_64;

/// A checked expression and, if known, its compile-time value.
#[derive(Clone, Debug)]
pub(super) struct Val {
    pub(super) expr: hir::Expr,
    pub(super) konst: Option<Konst>,
    pub(super) span: Span,
}

impl Val {
    pub(super) fn konst(k: Konst, span: Span) -> Val {
        let ty = match k {
            Konst::Int(_) => Ty::Int,
            Konst::Typed(t, _) => Ty::Typed(t),
        };
        Val {
            expr: hir::Expr {
                kind: hir::ExprKind::Const(k.bits()),
                ty,
            },
            konst: Some(k),
            span,
        }
    }

    pub(super) fn dummy(span: Span) -> Val {
        Val::konst(Konst::Int(0), span)
    }
}

impl ChainChecker<'_, '_> {
    pub(super) fn runtime(&mut self, v: Val) -> hir::Expr {
        if let Some(Konst::Int(i)) = v.konst {
            if !fits_64(i) {
                self.error(CheckError::ConstantTooWide { value: i }, v.span);
            }
        }
        v.expr
    }

    pub(super) fn packet_offset(&mut self, offset: &ast::Expr) -> hir::Expr {
        let v = self.expr(offset);
        if let Some(k) = v.konst {
            let o = k.value();
            if !(0..=0xffff).contains(&o) {
                self.error(CheckError::PacketOffset { offset: o }, v.span);
            }
        }
        self.runtime(v)
    }

    pub(super) fn expr(&mut self, e: &ast::Expr) -> Val {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(v) => Val::konst(Konst::Int(*v as i128), span),
            ExprKind::Bool(b) => Val::konst(Konst::Int(*b as i128), span),
            ExprKind::Str(_) => {
                self.error(CheckError::StringValue, span);
                Val::dummy(span)
            }
            ExprKind::Name(n) => self.name(n, span),
            ExprKind::Call { callee, args } => self.call(callee, args, span, true),
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand);
                self.unary(*op, v, span)
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                self.binary(*op, *op_span, l, r, span)
            }
            ExprKind::Compare { first, rest } => {
                if let Some(v) = self.address_compare(first, rest, span) {
                    return v;
                }
                let first = self.expr(first);
                let rest: Vec<(CmpOp, Val)> =
                    rest.iter().map(|(op, e)| (*op, self.expr(e))).collect();
                self.compare(first, rest, span)
            }
            ExprKind::Logic { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                if let Some(k) = l.konst {
                    let pick_lhs = match op {
                        LogicOp::And => !k.truthy(),
                        LogicOp::Or => k.truthy(),
                    };
                    return if pick_lhs { l } else { r };
                }
                let ty = match (l.expr.ty, r.expr.ty) {
                    (Ty::Typed(a), Ty::Typed(b)) if a == b => Ty::Typed(a),
                    (a, b) => word_ty(binary_signed(a, b)),
                };
                let lhs = self.runtime(l);
                let rhs = self.runtime(r);
                Val {
                    expr: hir::Expr {
                        kind: hir::ExprKind::Logic {
                            op: *op,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        ty,
                    },
                    konst: None,
                    span,
                }
            }
            ExprKind::PacketField { width, offset } => {
                let off = self.packet_offset(offset);
                Val {
                    expr: hir::Expr {
                        kind: hir::ExprKind::Call {
                            target: CallTarget::Helper(Helper::PktLoad),
                            args: vec![off, const_expr(width.bytes() as u64)],
                        },
                        ty: Ty::Typed(width.int_type()),
                    },
                    konst: None,
                    span,
                }
            }
            ExprKind::PacketHeader { layer, field } => self.header_value(layer, field, span),
            ExprKind::PacketLen => Val {
                expr: hir::Expr {
                    kind: hir::ExprKind::Call {
                        target: CallTarget::Helper(Helper::PktLen),
                        args: Vec::new(),
                    },
                    ty: Ty::Typed(IntType::U64),
                },
                konst: None,
                span,
            },
        }
    }

    pub(super) fn name(&mut self, n: &str, span: Span) -> Val {
        if let Some(&l) = self.names.get(n) {
            if !self.flow.is_assigned(l) && !self.lenient && self.reported.insert(n.to_string()) {
                self.error(CheckError::ReadBeforeAssign { name: n.into() }, span);
            }
            let ty = self.locals[l].ty;
            return Val {
                expr: local_expr(l, ty),
                konst: None,
                span,
            };
        }
        if let Some(&k) = self.consts.get(n).or_else(|| self.m.consts.get(n)) {
            return Val::konst(k, span);
        }
        if n == "packet" {
            self.error(CheckError::PacketValue, span);
            return Val::dummy(span);
        }
        let what = match self.m.symbols.get(n) {
            Some(Symbol::Program(_)) => Some("program"),
            Some(Symbol::Loader(_)) => Some("loader"),
            Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => Some("chain"),
            Some(Symbol::Poisoned) => return Val::dummy(span),
            None => None,
        };
        if let Some(what) = what {
            self.error(
                CheckError::NotAValue {
                    name: n.into(),
                    what,
                },
                span,
            );
        } else if !self.lenient && self.reported.insert(n.to_string()) {
            if self.assigned_somewhere.contains(n) {
                self.error(CheckError::ReadBeforeAssign { name: n.into() }, span);
            } else {
                let error = self.unknown_name(n);
                self.error(error, span);
            }
        } else {
            self.failed = true;
        }
        Val::dummy(span)
    }

    pub(super) fn call(
        &mut self,
        callee: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        used: bool,
    ) -> Val {
        let vals: Vec<Val> = args.iter().map(|a| self.expr(a)).collect();
        let name = callee.name.as_str();
        let arity = |cx: &mut Self, kind, expected: usize| {
            if vals.len() != expected {
                cx.error(
                    CheckError::ArgCount {
                        kind,
                        name: name.into(),
                        expected,
                        found: vals.len(),
                    },
                    span,
                );
            }
        };
        let target = match self.m.symbols.get(name).cloned() {
            Some(Symbol::Program(sig)) => {
                arity(self, CalleeKind::Program, sig.params.len());
                CallTarget::Program(sig.name.clone())
            }
            Some(Symbol::LocalChain(i)) => {
                let chain = self.m.local_chains[i].clone();
                arity(self, CalleeKind::Chain, chain.params);
                self.no_value(used, chain.returns_value, name, span);
                self.calls.push((i, callee.span));
                CallTarget::Chain(chain.name)
            }
            Some(Symbol::ImportedChain(sig)) => {
                arity(self, CalleeKind::Chain, sig.params.len());
                self.no_value(used, sig.returns_value, name, span);
                self.imported_depth = self.imported_depth.max(sig.depth);
                CallTarget::Chain(sig.name.clone())
            }
            Some(Symbol::Loader(_)) => {
                self.error(CheckError::LoaderCall { name: name.into() }, callee.span);
                return Val::dummy(span);
            }
            Some(Symbol::Poisoned) => {
                self.failed = true;
                return Val::dummy(span);
            }
            None => match name {
                "ktime_ns" | "random" => {
                    arity(self, CalleeKind::Builtin, 0);
                    CallTarget::Helper(if name == "random" {
                        Helper::Random
                    } else {
                        Helper::KtimeNs
                    })
                }
                "event" => {
                    if vals.is_empty() || vals.len() > 4 {
                        self.error(
                            CheckError::ArgRange {
                                name: "event",
                                min: 1,
                                max: 4,
                                found: vals.len(),
                            },
                            span,
                        );
                    }
                    CallTarget::Helper(Helper::Event)
                }
                _ => {
                    if !self.lenient && !self.m.lenient {
                        let error = self.unknown_callee(name);
                        self.error(error, callee.span);
                    } else {
                        self.failed = true;
                    }
                    return Val::dummy(span);
                }
            },
        };
        let mut args: Vec<hir::Expr> = vals.into_iter().map(|v| self.runtime(v)).collect();
        if target == CallTarget::Helper(Helper::Event) {
            args.truncate(4);
            while args.len() < 4 {
                args.push(const_expr(0));
            }
        }
        args.truncate(abi::MAX_ARGS);
        Val {
            expr: hir::Expr {
                kind: hir::ExprKind::Call { target, args },
                ty: Ty::Typed(IntType::U64),
            },
            konst: None,
            span,
        }
    }

    /// Reports the use of the result of chain `name` if it returns none.
    pub(super) fn no_value(&mut self, used: bool, returns_value: bool, name: &str, span: Span) {
        if used && !returns_value {
            self.error(CheckError::NoReturnValue { chain: name.into() }, span);
        }
    }

    pub(super) fn callee_hint(&self, name: &str) -> Option<String> {
        let packages = self.m.catalog.packages_with_program(name);
        if let Some(p) = packages.first() {
            return Some(format!("import it: `from programs.{p} import {name}`"));
        }
        if let Some(s) = self.m.chain_catalog.scripts_with_chain(name).first() {
            return Some(format!(
                "script `{s}` defines a chain `{name}`: `from chains.{s} import {name}`"
            ));
        }
        if self.names.contains_key(name) {
            return Some(format!("`{name}` is a variable"));
        }
        None
    }

    pub(super) fn unary(&mut self, op: UnaryOp, v: Val, span: Span) -> Val {
        if let Some(k) = v.konst {
            return Val::konst(fold_unary(op, k), span);
        }
        if op == UnaryOp::Plus {
            return v;
        }
        let ty = v.expr.ty;
        let inner = Box::new(v.expr);
        let (kind, ty) = match op {
            UnaryOp::Neg => (hir::ExprKind::Neg(inner), word_ty(ty.signed())),
            UnaryOp::Invert => (hir::ExprKind::Invert(inner), word_ty(ty.signed())),
            _ => (hir::ExprKind::Not(inner), Ty::Typed(IntType::U8)),
        };
        Val {
            expr: hir::Expr { kind, ty },
            konst: None,
            span,
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, op_span: Span, l: Val, r: Val, span: Span) -> Val {
        if matches!(op, BinOp::Div | BinOp::Mod) && r.konst.is_some_and(|k| k.is_zero()) {
            let (op, result) = if op == BinOp::Div {
                ("/", "0")
            } else {
                ("%", "x")
            };
            self.m.warn(
                CheckWarning::DivisionByZero { op, result },
                op_span.to(r.span),
            );
        }
        let shift = matches!(op, BinOp::Shl | BinOp::Shr);
        if shift {
            if let Some(k) = r.konst {
                let amount = k.value();
                if !(0..=63).contains(&amount) {
                    self.error(CheckError::ShiftOutOfRange { amount }, r.span);
                    return Val::dummy(span);
                }
            }
        }
        let signed = if shift {
            l.expr.ty.signed()
        } else {
            binary_signed(l.expr.ty, r.expr.ty)
        };
        if let Some(folded) = self.fold_binary(op, signed, &l, &r, span) {
            return folded;
        }
        let lhs = self.runtime(l);
        let rhs = self.runtime(r);
        Val {
            expr: hir::Expr {
                kind: hir::ExprKind::Binary {
                    op,
                    signed,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                ty: word_ty(signed),
            },
            konst: None,
            span,
        }
    }

    pub(super) fn compare(&mut self, first: Val, rest: Vec<(CmpOp, Val)>, span: Span) -> Val {
        if let Some(folded) = fold_compare(&first, &rest, span) {
            return folded;
        }
        let mut prev_ty = first.expr.ty;
        let first = self.runtime(first);
        let mut hrest = Vec::new();
        for (op, v) in rest {
            let signed = binary_signed(prev_ty, v.expr.ty);
            prev_ty = v.expr.ty;
            let e = self.runtime(v);
            hrest.push((op, signed, e));
        }
        Val {
            expr: hir::Expr {
                kind: hir::ExprKind::Compare {
                    first: Box::new(first),
                    rest: hrest,
                },
                ty: Ty::Typed(IntType::U8),
            },
            konst: None,
            span,
        }
    }
}
