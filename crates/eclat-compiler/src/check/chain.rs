//! One chain's checker: its scope (parameters, locals, chain constants, the names a chain may
//! not take) and the state of the walk over its body (flow, loops, calls). Statements and
//! expressions are checked by the methods of [`stmt`](super::stmt) and
//! [`expr`](super::expr); the same checker, detached from any chain, evaluates the module's
//! constant expressions.

use std::collections::{HashMap, HashSet};

use eclat_syntax::ast::{self, IntType};
use eclat_syntax::Span;
use hike_isa::abi;

use super::flow::{collect_assigned, returns_value, Flow};
use super::fold::Konst;
use super::{ModuleChecker, Symbol};
use crate::error::CheckError;
use crate::hir::{self, LocalId};

/// The checker of one chain's body (or, detached, of the module's constant expressions).
pub(super) struct ChainChecker<'m, 'a> {
    /// The module: symbols, module constants, diagnostics.
    pub(super) m: &'m mut ModuleChecker<'a>,
    /// The chain's locals, parameters first, by [`LocalId`].
    pub(super) locals: Vec<hir::Local>,
    /// The locals by name (temporaries, named `$…`, are not here).
    pub(super) names: HashMap<String, LocalId>,
    /// The chain's constants (UPPERCASE names assigned a constant).
    pub(super) consts: HashMap<String, Konst>,
    /// Names assigned anywhere in the chain (to tell "unknown" from "not yet assigned").
    pub(super) assigned_somewhere: HashSet<String>,
    /// Definite assignment at the statement being checked.
    pub(super) flow: Flow,
    /// Names already reported unknown or read before assignment (reported once).
    pub(super) reported: HashSet<String>,
    /// For each enclosing loop, the flows at its `break`s.
    pub(super) loops: Vec<Vec<Flow>>,
    /// Calls of chains of this script: (callee index, span), for the call graph.
    pub(super) calls: Vec<(usize, Span)>,
    /// The deepest call path of the chains of other scripts it calls, in frames.
    pub(super) imported_depth: usize,
    /// The chain has statements that did not parse: unknown names are not reported.
    pub(super) lenient: bool,
    /// Inside code already reported unreachable.
    pub(super) in_dead_code: bool,
    /// An error was reported while checking the current expression.
    pub(super) failed: bool,
    /// The hidden locals of packet field writes, once one is written.
    pub(super) write_temps: Option<super::packet::WriteTemps>,
}

impl<'m, 'a> ChainChecker<'m, 'a> {
    pub(super) fn new(m: &'m mut ModuleChecker<'a>, c: &ast::ChainDef) -> ChainChecker<'m, 'a> {
        let mut assigned = HashSet::new();
        let mut broken = false;
        collect_assigned(&c.body, &mut assigned, &mut broken);
        // Names are reported unless a statement of this chain did not parse.
        ChainChecker::with(m, assigned, broken)
    }

    /// A checker for module-level constant expressions (no locals).
    pub(super) fn detached(m: &'m mut ModuleChecker<'a>) -> ChainChecker<'m, 'a> {
        let lenient = m.lenient;
        ChainChecker::with(m, HashSet::new(), lenient)
    }

    fn with(
        m: &'m mut ModuleChecker<'a>,
        assigned_somewhere: HashSet<String>,
        lenient: bool,
    ) -> ChainChecker<'m, 'a> {
        ChainChecker {
            m,
            locals: Vec::new(),
            names: HashMap::new(),
            consts: HashMap::new(),
            assigned_somewhere,
            flow: Flow::default(),
            reported: HashSet::new(),
            loops: Vec::new(),
            calls: Vec::new(),
            imported_depth: 0,
            lenient,
            in_dead_code: false,
            failed: false,
            write_temps: None,
        }
    }

    pub(super) fn error(&mut self, e: CheckError, span: Span) {
        self.failed = true;
        self.m.error(e, span);
    }

    pub(super) fn run(mut self, c: &ast::ChainDef) -> (hir::Chain, Vec<(usize, Span)>, usize) {
        if c.params.len() > abi::MAX_ARGS {
            self.error(
                CheckError::TooManyParams {
                    chain: c.name.name.clone(),
                    count: c.params.len(),
                    max: abi::MAX_ARGS,
                },
                c.name.span,
            );
        }
        let mut params = Vec::new();
        for p in &c.params {
            if self.names.contains_key(&p.name.name) {
                self.error(
                    CheckError::DuplicateParam {
                        name: p.name.name.clone(),
                    },
                    p.name.span,
                );
                continue;
            }
            self.reserved(&p.name);
            let ty = p.ty.map_or(IntType::U64, |t| t.ty);
            let id = self.new_local(&p.name.name, ty);
            self.flow.set(id);
            params.push(id);
        }
        let body = self.block(&c.body);
        let chain = hir::Chain {
            name: c.name.name.clone(),
            params,
            locals: self.locals,
            body,
            returns_value: returns_value(&c.body),
        };
        (chain, self.calls, self.imported_depth)
    }

    pub(super) fn new_local(&mut self, name: &str, ty: IntType) -> LocalId {
        let id = self.locals.len();
        self.locals.push(hir::Local {
            name: name.into(),
            ty,
        });
        if !name.starts_with('$') {
            self.names.insert(name.into(), id);
        }
        id
    }

    /// Reports a name that cannot be a variable.
    pub(super) fn reserved(&mut self, id: &ast::Ident) -> bool {
        let what = if IntType::from_name(&id.name).is_some() {
            "a type"
        } else if id.name == "packet" {
            "the packet"
        } else {
            match self.m.symbols.get(&id.name) {
                Some(Symbol::Program(_)) => "an imported program",
                Some(Symbol::Loader(_)) => "an imported loader",
                Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => "a chain",
                _ => return false,
            }
        };
        self.error(
            CheckError::ReservedName {
                name: id.name.clone(),
                what,
            },
            id.span,
        );
        true
    }

    /// The local `name`, declared with `ty` if new; reports a conflicting declaration.
    pub(super) fn declare(
        &mut self,
        id: &ast::Ident,
        ty: Option<(IntType, Span)>,
    ) -> Option<LocalId> {
        if let Some(&l) = self.names.get(&id.name) {
            if let Some((t, span)) = ty {
                let earlier = self.locals[l].ty;
                if t != earlier {
                    self.error(
                        CheckError::TypeConflict {
                            name: id.name.clone(),
                            ty: t,
                            earlier,
                        },
                        span,
                    );
                }
            }
            return Some(l);
        }
        if self.reserved(id) {
            return None;
        }
        if self.consts.contains_key(&id.name) || self.m.consts.contains_key(&id.name) {
            self.error(
                CheckError::AssignToConstant {
                    name: id.name.clone(),
                },
                id.span,
            );
            return None;
        }
        Some(self.new_local(&id.name, ty.map_or(IntType::U64, |(t, _)| t)))
    }
}
