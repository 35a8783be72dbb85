//! Hints for names that resolve to nothing: "did you mean" among the names in scope, and the
//! Python and C names eCLAT does not have (`None`, `null`, `print`) with what to use instead;
//! and the warning for a `while True` that nothing ends, which would spend the VM's execution
//! budget on every packet.
//!
//! It builds the errors; it does not decide when a name is unknown (that is
//! [`expr`](super::expr)). Habits the parser sees (`&&`, `x++`, ...) are in
//! `eclat_syntax::habit`.

use eclat_syntax::ast::{ExprKind, Stmt, StmtKind};
use eclat_syntax::Span;
use hike_isa::abi;

use super::chain::ChainChecker;
use super::Symbol;
use crate::error::{CheckError, CheckWarning};
use crate::suggest::{closest, did_you_mean};

/// The builtins a chain may call, for "did you mean".
const BUILTINS: &[&str] = &["event", "ktime_ns", "random", "len"];

/// What to use instead of a Python or C value or function that eCLAT does not have.
fn foreign_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "None" | "null" | "NULL" | "nil" | "nullptr" => {
            "values are integers: use 0 (a map's `hike_chain_ref` value 0 means no chain)"
        }
        "print" | "printf" | "printk" | "bpf_printk" => {
            "send values to user space with `event(CODE, a, b, c)` (`eclat events` shows them), \
             or call the `show_pkt_info` program of package `info`"
        }
        "self" => "there are no classes: chains take their values as parameters",
        "input" | "open" => "a chain sees only its packet, its arguments and programs' maps",
        "sizeof" => "use `len(packet)` for the packet; a field's width is in its name (`u16`)",
        _ => return None,
    })
}

impl ChainChecker<'_, '_> {
    /// The error for a variable or constant that is never assigned.
    pub(super) fn unknown_name(&self, name: &str) -> CheckError {
        if let Some(instead) = foreign_name(name) {
            return CheckError::ForeignName {
                name: name.into(),
                instead,
            };
        }
        let mut names: Vec<&str> = self
            .names
            .keys()
            .chain(self.consts.keys())
            .chain(self.m.consts.keys())
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        CheckError::UnknownName {
            name: name.into(),
            suggestion: closest(name, names),
        }
    }

    /// The error for a call of a name that is no program, chain or builtin.
    pub(super) fn unknown_callee(&self, name: &str) -> CheckError {
        if let Some(instead) = foreign_name(name) {
            return CheckError::ForeignName {
                name: name.into(),
                instead,
            };
        }
        let hint = self.callee_hint(name).or_else(|| {
            let mut callable: Vec<&str> = self
                .m
                .symbols
                .iter()
                .filter(|(_, s)| {
                    matches!(
                        s,
                        Symbol::Program(_) | Symbol::LocalChain(_) | Symbol::ImportedChain(_)
                    )
                })
                .map(|(n, _)| n.as_str())
                .chain(BUILTINS.iter().copied())
                .collect();
            callable.sort_unstable();
            closest(name, callable).map(|s| did_you_mean(&s))
        });
        CheckError::UnknownCallee {
            name: name.into(),
            hint,
        }
    }

    /// Warns about a loop whose condition is always true and that has no `break`, unless its
    /// body can end the chain (`exits`: a `return` or a terminal program).
    pub(super) fn endless_loop(&mut self, exits: bool, span: Span) {
        if !exits && !self.in_dead_code {
            let w = CheckWarning::EndlessLoop {
                budget: abi::DEFAULT_BUDGET,
            };
            self.m.warn(w, span);
        }
    }

    /// Whether `body` has a `return` or a call of a terminal program anywhere (nested blocks
    /// included).
    pub(super) fn can_end_chain(&self, body: &[Stmt]) -> bool {
        body.iter().any(|s| match &s.kind {
            StmtKind::Return(_) => true,
            StmtKind::Expr(e) => match &e.kind {
                ExprKind::Call { callee, .. } => matches!(
                    self.m.symbols.get(&callee.name),
                    Some(Symbol::Program(p)) if p.terminal
                ),
                _ => false,
            },
            StmtKind::If {
                branches,
                else_body,
            } => {
                branches.iter().any(|(_, b)| self.can_end_chain(b))
                    || else_body.as_ref().is_some_and(|b| self.can_end_chain(b))
            }
            StmtKind::While { body, .. } | StmtKind::For { body, .. } => self.can_end_chain(body),
            _ => false,
        })
    }
}
