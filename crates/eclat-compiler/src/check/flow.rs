//! Flow analysis over the AST and the checker's walk: definite assignment ([`Flow`]: which
//! locals hold a value on every path to a statement), what made the rest of a block
//! unreachable ([`Ender`]), and the facts read from a chain's body before it is checked
//! (names assigned anywhere, whether it returns a value).

use std::collections::HashSet;

use eclat_syntax::ast::{self, ExprKind, StmtKind};

use crate::hir::LocalId;

/// Definite assignment: which locals hold a value on every path to here.
#[derive(Clone, Debug, Default)]
pub(super) struct Flow {
    pub(super) assigned: Vec<bool>,
    /// No path reaches here.
    pub(super) dead: bool,
}

impl Flow {
    pub(super) fn dead() -> Flow {
        Flow {
            assigned: Vec::new(),
            dead: true,
        }
    }

    pub(super) fn is_assigned(&self, l: LocalId) -> bool {
        self.dead || self.assigned.get(l).copied().unwrap_or(false)
    }

    pub(super) fn set(&mut self, l: LocalId) {
        if self.assigned.len() <= l {
            self.assigned.resize(l + 1, false);
        }
        self.assigned[l] = true;
    }

    pub(super) fn join(a: Flow, b: Flow) -> Flow {
        if a.dead {
            return b;
        }
        if b.dead {
            return a;
        }
        let n = a.assigned.len().max(b.assigned.len());
        Flow {
            assigned: (0..n)
                .map(|i| a.is_assigned(i) && b.is_assigned(i))
                .collect(),
            dead: false,
        }
    }
}

/// What made the rest of a block unreachable.
#[derive(Clone, Debug)]
pub(super) enum Ender {
    Terminal(String),
    Other(&'static str),
}

/// `return`, or `return` of a literal or a name: the idiom that follows a terminal program
/// (`hike_pass()` then `return 0`), not worth a warning.
pub(super) fn is_trivial_return(s: &ast::Stmt) -> bool {
    match &s.kind {
        StmtKind::Return(None) | StmtKind::Pass => true,
        StmtKind::Return(Some(e)) => matches!(
            e.kind,
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Name(_)
        ),
        _ => false,
    }
}

/// Names assigned anywhere in `stmts`, and whether a statement did not parse.
pub(super) fn collect_assigned(
    stmts: &[ast::Stmt],
    names: &mut HashSet<String>,
    broken: &mut bool,
) {
    for s in stmts {
        match &s.kind {
            StmtKind::Decl { name, .. } => {
                names.insert(name.name.clone());
            }
            StmtKind::Assign {
                target: ast::Target::Name(id),
                ..
            } => {
                names.insert(id.name.clone());
            }
            StmtKind::For { var, body, .. } => {
                names.insert(var.name.clone());
                collect_assigned(body, names, broken);
            }
            StmtKind::If {
                branches,
                else_body,
            } => {
                for (_, b) in branches {
                    collect_assigned(b, names, broken);
                }
                if let Some(b) = else_body {
                    collect_assigned(b, names, broken);
                }
            }
            StmtKind::While { body, .. } => collect_assigned(body, names, broken),
            StmtKind::Error => *broken = true,
            _ => {}
        }
    }
}

/// Whether a chain body has a `return VALUE` anywhere (reachable or not): the chain then
/// returns a value, and 0 where it falls off its end or at a bare `return`.
pub(super) fn returns_value(stmts: &[ast::Stmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        StmtKind::Return(value) => value.is_some(),
        StmtKind::If {
            branches,
            else_body,
        } => {
            branches.iter().any(|(_, b)| returns_value(b))
                || else_body.as_deref().is_some_and(returns_value)
        }
        StmtKind::While { body, .. } | StmtKind::For { body, .. } => returns_value(body),
        _ => false,
    })
}
