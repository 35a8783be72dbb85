//! Statements: declarations and assignments (to locals, constants and packet fields),
//! expression statements (a terminal program's call ends the chain), `if`, `while`, `for …
//! in range(…)`, `break`, `continue`, `return`; each lowered to HIR with the flow of
//! definite assignment kept up to date, and unreachable code reported once.

use eclat_syntax::ast::{self, BinOp, CmpOp, ExprKind, IntType, StmtKind};
use hike_isa::abi::Helper;

use super::chain::ChainChecker;
use super::expr::Val;
use super::flow::{is_trivial_return, Ender, Flow};
use super::fold::Konst;
use super::types::{binary_signed, const_expr, local_expr, needs_narrowing};
use super::{is_constant_name, Symbol};
use crate::error::{CheckError, CheckWarning};
use crate::hir::{self, CallTarget, LocalId, Ty};

impl ChainChecker<'_, '_> {
    pub(super) fn block(&mut self, stmts: &[ast::Stmt]) -> Vec<hir::Stmt> {
        let mut out = Vec::new();
        let mut ender: Option<Ender> = None;
        let outer_dead = self.in_dead_code;
        for s in stmts {
            let unreachable = self.flow.dead;
            if unreachable && !self.in_dead_code {
                if let Some(e) = &ender {
                    let exempt = matches!(e, Ender::Terminal(_)) && is_trivial_return(s);
                    if !exempt {
                        let w = match e {
                            Ender::Terminal(p) => {
                                CheckWarning::UnreachableAfterTerminal { program: p.clone() }
                            }
                            Ender::Other(after) => CheckWarning::Unreachable { after },
                        };
                        self.m.warn(w, s.span);
                    }
                    self.in_dead_code = true;
                }
            }
            let mut tmp = Vec::new();
            self.stmt(s, &mut tmp, &mut ender);
            if !unreachable {
                out.extend(tmp);
            }
        }
        self.in_dead_code = outer_dead;
        out
    }

    pub(super) fn stmt(
        &mut self,
        s: &ast::Stmt,
        out: &mut Vec<hir::Stmt>,
        ender: &mut Option<Ender>,
    ) {
        self.failed = false;
        match &s.kind {
            StmtKind::Decl { name, ty, value } => {
                if is_constant_name(&name.name)
                    && value.is_some()
                    && !self.names.contains_key(&name.name)
                {
                    let v = self.expr(value.as_ref().expect("checked"));
                    self.define_const(name, Some(ty.ty), v);
                    return;
                }
                let Some(l) = self.declare(name, Some((ty.ty, ty.span))) else {
                    if let Some(v) = value {
                        self.expr(v);
                    }
                    return;
                };
                if let Some(v) = value {
                    let v = self.expr(v);
                    out.push(self.assign(l, v));
                }
            }
            StmtKind::Assign {
                target: ast::Target::Name(id),
                value,
            } => {
                let v = self.expr(value);
                let is_var = self.names.contains_key(&id.name);
                if !is_var
                    && (self.consts.contains_key(&id.name) || self.m.consts.contains_key(&id.name))
                {
                    self.error(
                        CheckError::AssignToConstant {
                            name: id.name.clone(),
                        },
                        id.span,
                    );
                    return;
                }
                if !is_var && is_constant_name(&id.name) {
                    self.define_const(id, None, v);
                    return;
                }
                if let Some(l) = self.declare(id, None) {
                    out.push(self.assign(l, v));
                }
            }
            StmtKind::Assign {
                target: ast::Target::Packet { width, offset, .. },
                value,
            } => {
                let off = self.packet_offset(offset);
                let v = self.expr(value);
                let v = self.runtime(v);
                out.push(hir::Stmt::PacketStore {
                    width: *width,
                    offset: off,
                    value: v,
                });
            }
            StmtKind::Assign {
                target: ast::Target::Header { layer, field, span },
                value,
            } => self.header_store((layer, field, *span), None, value, s.span, out),
            StmtKind::AugAssign {
                target: ast::Target::Header { layer, field, span },
                op,
                op_span,
                value,
            } => self.header_store(
                (layer, field, *span),
                Some((*op, *op_span)),
                value,
                s.span,
                out,
            ),
            StmtKind::AugAssign {
                target: ast::Target::Name(id),
                op,
                op_span,
                value,
            } => {
                if !self.names.contains_key(&id.name)
                    && (self.consts.contains_key(&id.name) || self.m.consts.contains_key(&id.name))
                {
                    self.error(
                        CheckError::AssignToConstant {
                            name: id.name.clone(),
                        },
                        id.span,
                    );
                    self.expr(value);
                    return;
                }
                let current = self.name(&id.name, id.span);
                let rhs = self.expr(value);
                let Some(&l) = self.names.get(&id.name) else {
                    return;
                };
                let v = self.binary(*op, *op_span, current, rhs, s.span);
                out.push(self.assign(l, v));
            }
            StmtKind::AugAssign {
                target:
                    ast::Target::Packet {
                        width,
                        offset,
                        span,
                    },
                op,
                op_span,
                value,
            } => {
                // Evaluate the offset once: `$off = offset; packet[$off] = packet[$off] op v`.
                let off = self.packet_offset(offset);
                let tmp = self.new_local("$off", IntType::U64);
                out.push(hir::Stmt::Assign {
                    local: tmp,
                    value: off,
                    narrow: None,
                });
                self.flow.set(tmp);
                let read = |t| hir::Expr {
                    kind: hir::ExprKind::Local(t),
                    ty: Ty::Typed(IntType::U64),
                };
                let current = Val {
                    expr: hir::Expr {
                        kind: hir::ExprKind::Call {
                            target: CallTarget::Helper(Helper::PktLoad),
                            args: vec![read(tmp), const_expr(width.bytes() as u64)],
                        },
                        ty: Ty::Typed(width.int_type()),
                    },
                    konst: None,
                    span: *span,
                };
                let rhs = self.expr(value);
                let v = self.binary(*op, *op_span, current, rhs, s.span);
                let v = self.runtime(v);
                out.push(hir::Stmt::PacketStore {
                    width: *width,
                    offset: read(tmp),
                    value: v,
                });
            }
            StmtKind::Expr(e) => {
                // A call's value is discarded here: a chain that returns none may be called.
                let v = match &e.kind {
                    ExprKind::Call { callee, args } => self.call(callee, args, e.span, false),
                    _ => self.expr(e),
                };
                if let ExprKind::Call { callee, .. } = &e.kind {
                    let terminal = matches!(
                        self.m.symbols.get(&callee.name),
                        Some(Symbol::Program(p)) if p.terminal
                    );
                    if terminal {
                        out.push(hir::Stmt::Terminal(v.expr));
                        self.flow = Flow::dead();
                        *ender = Some(Ender::Terminal(callee.name.clone()));
                    } else {
                        out.push(hir::Stmt::Expr(v.expr));
                    }
                } else if matches!(e.kind, ExprKind::PacketField { .. } | ExprKind::PacketLen) {
                    out.push(hir::Stmt::Expr(v.expr));
                } else {
                    self.m.warn(CheckWarning::NoEffect, e.span);
                }
            }
            StmtKind::If {
                branches,
                else_body,
            } => {
                let stmt = self.if_stmt(branches, else_body.as_deref());
                if self.flow.dead && !self.in_dead_code {
                    *ender = Some(Ender::Other("an `if` whose every branch ends the chain"));
                }
                out.push(stmt);
            }
            StmtKind::While { cond, body } => {
                let c = self.expr(cond);
                let entry = if c.konst.is_some_and(|k| !k.truthy()) {
                    Flow::dead()
                } else {
                    self.flow.clone()
                };
                let always = c.konst.is_some_and(|k| k.truthy());
                let cond = self.runtime(c);
                let saved = self.flow.clone();
                self.flow = entry;
                self.loops.push(Vec::new());
                let exits = always && self.can_end_chain(body);
                let body = self.block(body);
                let breaks = self.loops.pop().expect("pushed");
                if always && breaks.is_empty() {
                    self.endless_loop(exits, s.span);
                }
                let mut after = if always { Flow::dead() } else { saved };
                for b in breaks {
                    after = Flow::join(after, b);
                }
                self.flow = after;
                out.push(hir::Stmt::While {
                    cond,
                    body,
                    step: Vec::new(),
                });
            }
            StmtKind::For { var, range, body } => self.for_stmt(var, range, body, out),
            StmtKind::Break | StmtKind::Continue => {
                let keyword = if s.kind == StmtKind::Break {
                    "break"
                } else {
                    "continue"
                };
                if self.loops.is_empty() {
                    self.error(CheckError::OutsideLoop { keyword }, s.span);
                    return;
                }
                if s.kind == StmtKind::Break {
                    let f = self.flow.clone();
                    self.loops.last_mut().expect("in a loop").push(f);
                    out.push(hir::Stmt::Break);
                    *ender = Some(Ender::Other("`break`"));
                } else {
                    out.push(hir::Stmt::Continue);
                    *ender = Some(Ender::Other("`continue`"));
                }
                self.flow = Flow::dead();
            }
            StmtKind::Pass => {}
            StmtKind::Return(value) => {
                let v = value.as_ref().map(|v| {
                    let v = self.expr(v);
                    self.runtime(v)
                });
                out.push(hir::Stmt::Return(v));
                self.flow = Flow::dead();
                *ender = Some(Ender::Other("`return`"));
            }
            StmtKind::Error => {}
        }
    }

    /// `local = v`, with the constant checked against the local's type or the narrowing
    /// decided.
    pub(super) fn assign(&mut self, l: LocalId, v: Val) -> hir::Stmt {
        let ty = self.locals[l].ty;
        self.flow.set(l);
        if let Some(k) = v.konst {
            let bits = self.m.fit(k, ty, v.span).unwrap_or(0);
            return hir::Stmt::Assign {
                local: l,
                value: const_expr(bits),
                narrow: None,
            };
        }
        let narrow = needs_narrowing(v.expr.ty, ty).then_some(ty);
        hir::Stmt::Assign {
            local: l,
            value: v.expr,
            narrow,
        }
    }

    pub(super) fn if_stmt(
        &mut self,
        branches: &[(ast::Expr, Vec<ast::Stmt>)],
        else_body: Option<&[ast::Stmt]>,
    ) -> hir::Stmt {
        let (cond, body) = &branches[0];
        let c = self.expr(cond);
        let start = self.flow.clone();
        let taken = c.konst.map(|k| k.truthy());
        let cond = self.runtime(c);
        self.flow = if taken == Some(false) {
            Flow::dead()
        } else {
            start.clone()
        };
        let then = self.block(body);
        let then_flow = std::mem::take(&mut self.flow);
        self.flow = if taken == Some(true) {
            Flow::dead()
        } else {
            start
        };
        let otherwise = if branches.len() > 1 {
            vec![self.if_stmt(&branches[1..], else_body)]
        } else {
            match else_body {
                Some(b) => self.block(b),
                None => Vec::new(),
            }
        };
        let else_flow = std::mem::take(&mut self.flow);
        self.flow = Flow::join(then_flow, else_flow);
        hir::Stmt::If {
            cond,
            then,
            otherwise,
        }
    }

    pub(super) fn for_stmt(
        &mut self,
        var: &ast::Ident,
        range: &[ast::Expr],
        body: &[ast::Stmt],
        out: &mut Vec<hir::Stmt>,
    ) {
        let span = range[0].span;
        let mut vals: Vec<Val> = range.iter().map(|e| self.expr(e)).collect();
        let step = if vals.len() == 3 {
            vals.pop().expect("three")
        } else {
            Val::konst(Konst::Int(1), span)
        };
        let (start, stop) = if vals.len() == 1 {
            (Val::konst(Konst::Int(0), span), vals.pop().expect("one"))
        } else {
            let stop = vals.pop().expect("two");
            (vals.pop().expect("two"), stop)
        };
        let step_value = match step.konst {
            Some(k) => {
                if k.is_zero() {
                    self.error(CheckError::ZeroStep, step.span);
                }
                k.value()
            }
            None => {
                self.error(
                    CheckError::NeedsConstant {
                        what: "the step of `range`",
                    },
                    step.span,
                );
                1
            }
        };
        if self.consts.contains_key(&var.name) || self.m.consts.contains_key(&var.name) {
            self.error(
                CheckError::AssignToConstant {
                    name: var.name.clone(),
                },
                var.span,
            );
            return;
        }
        let signed = binary_signed(start.expr.ty, stop.expr.ty);
        let Some(v) = self.declare(var, None) else {
            return;
        };
        let ctr_ty = if signed { IntType::S64 } else { IntType::U64 };
        let ctr = self.new_local("$i", ctr_ty);
        let start = self.runtime(start);
        out.push(hir::Stmt::Assign {
            local: ctr,
            value: start,
            narrow: None,
        });
        self.flow.set(ctr);
        let stop = if stop.konst.is_some() {
            self.runtime(stop)
        } else {
            let s = self.new_local("$stop", ctr_ty);
            let value = self.runtime(stop);
            out.push(hir::Stmt::Assign {
                local: s,
                value,
                narrow: None,
            });
            self.flow.set(s);
            local_expr(s, ctr_ty)
        };
        let op = if step_value < 0 { CmpOp::Gt } else { CmpOp::Lt };
        let cond = hir::Expr {
            kind: hir::ExprKind::Compare {
                first: Box::new(local_expr(ctr, ctr_ty)),
                rest: vec![(op, signed, stop)],
            },
            ty: Ty::Typed(IntType::U8),
        };
        let saved = self.flow.clone();
        self.loops.push(Vec::new());
        let var_ty = self.locals[v].ty;
        let mut hbody = vec![hir::Stmt::Assign {
            local: v,
            value: local_expr(ctr, ctr_ty),
            narrow: needs_narrowing(Ty::Typed(ctr_ty), var_ty).then_some(var_ty),
        }];
        self.flow.set(v);
        hbody.extend(self.block(body));
        let breaks = self.loops.pop().expect("pushed");
        let mut after = saved;
        for b in breaks {
            after = Flow::join(after, b);
        }
        self.flow = after;
        let step_expr = hir::Expr {
            kind: hir::ExprKind::Binary {
                op: BinOp::Add,
                signed,
                lhs: Box::new(local_expr(ctr, ctr_ty)),
                rhs: Box::new(const_expr(step_value as u64)),
            },
            ty: Ty::Typed(ctr_ty),
        };
        out.push(hir::Stmt::While {
            cond,
            body: hbody,
            step: vec![hir::Stmt::Assign {
                local: ctr,
                value: step_expr,
                narrow: None,
            }],
        });
    }
}
