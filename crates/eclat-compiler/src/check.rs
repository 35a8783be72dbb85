//! The checker: resolves names against the catalogs, checks every rule of LANGUAGE.md's
//! "Checking" list that can be known from the source, folds constants, and lowers each chain
//! to [`hir`].
//!
//! It collects every problem it finds instead of stopping at the first. Parts of the script
//! that did not parse are skipped, and errors that they would cause (an unknown name whose
//! declaration did not parse) are not reported.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use eclat_syntax::ast::{self, BinOp, CmpOp, ExprKind, IntType, LogicOp, StmtKind, UnaryOp};
use eclat_syntax::{Diagnostic, Span};
use hike_isa::abi::{self, Helper};

use crate::catalog::{Catalog, ChainCatalog, ChainSig, FieldKind, LoaderSig, MapSig, ProgramSig};
use crate::error::{CalleeKind, CheckError, CheckWarning, Problem};
use crate::hir::{self, CallTarget, LocalId, Ty};
use crate::ops::{self, const_binop, const_cmp, eval_binop, eval_cmp, fits, fits_64, normalize};
use crate::output::{
    Attachment, ImportedChain, ImportedLoader, ImportedProgram, MapConfig, MapEntry, MapValue,
    OwnerKind,
};

/// What the checker hands to code generation.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// Chains with the span of their name.
    pub chains: Vec<(hir::Chain, Span)>,
    pub maps: Vec<MapConfig>,
    pub attachments: Vec<Attachment>,
    pub programs: Vec<ImportedProgram>,
    pub loaders: Vec<ImportedLoader>,
    pub imported_chains: Vec<ImportedChain>,
}

/// What a module-level name is.
#[derive(Clone, Debug)]
enum Symbol {
    Program(ProgramSig),
    Loader(LoaderSig),
    ImportedChain(ChainSig),
    LocalChain(usize),
    /// An import that failed (already reported): uses are not reported again.
    Poisoned,
}

/// A compile-time value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Konst {
    /// Exact, from literals and untyped constants.
    Int(i128),
    /// A 64-bit word of a typed constant expression, with its type.
    Typed(IntType, u64),
}

impl Konst {
    fn truthy(self) -> bool {
        match self {
            Konst::Int(v) => v != 0,
            Konst::Typed(_, b) => b != 0,
        }
    }

    fn is_zero(self) -> bool {
        !self.truthy()
    }

    fn bits(self) -> u64 {
        match self {
            Konst::Int(v) => v as u64,
            Konst::Typed(_, b) => b,
        }
    }

    /// The value as a number (typed words read with their type's signedness).
    fn value(self) -> i128 {
        match self {
            Konst::Int(v) => v,
            Konst::Typed(t, b) => ops::word_value(b, t.signed()),
        }
    }
}

/// A checked expression and, if known, its compile-time value.
#[derive(Clone, Debug)]
struct Val {
    expr: hir::Expr,
    konst: Option<Konst>,
    span: Span,
}

impl Val {
    fn konst(k: Konst, span: Span) -> Val {
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

    fn dummy(span: Span) -> Val {
        Val::konst(Konst::Int(0), span)
    }
}

fn word_ty(signed: bool) -> Ty {
    Ty::Typed(if signed { IntType::S64 } else { IntType::U64 })
}

/// Whether an operation on these operand types is signed: an exact constant takes the other
/// side's signedness; two typed values are signed if either is.
fn binary_signed(a: Ty, b: Ty) -> bool {
    match (a, b) {
        (Ty::Int, Ty::Int) => true,
        (Ty::Int, Ty::Typed(t)) | (Ty::Typed(t), Ty::Int) => t.signed(),
        (Ty::Typed(x), Ty::Typed(y)) => x.signed() || y.signed(),
    }
}

/// Whether a value of static type `src` must be narrowed when stored as `dst`.
fn needs_narrowing(src: Ty, dst: IntType) -> bool {
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

/// UPPERCASE names (at least one letter, no lowercase letter) are constants.
pub(crate) fn is_constant_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase()) && !name.chars().any(|c| c.is_ascii_lowercase())
}

/// What a call of a chain of this script needs to know before its body is checked.
#[derive(Clone, Debug)]
struct LocalChain {
    /// Its name (empty for a duplicate definition, already reported).
    name: String,
    /// Its parameter count.
    params: usize,
    /// Whether it has a `return VALUE`.
    returns_value: bool,
}

pub(crate) struct ModuleChecker<'a> {
    catalog: &'a dyn Catalog,
    chain_catalog: &'a dyn ChainCatalog,
    pub diags: Vec<Diagnostic<Problem>>,
    symbols: HashMap<String, Symbol>,
    consts: HashMap<String, Konst>,
    /// Local chains, by index of definition.
    local_chains: Vec<LocalChain>,
    /// Whether parts of the module did not parse: unknown names are then not reported.
    lenient: bool,
}

impl<'a> ModuleChecker<'a> {
    pub fn new(
        catalog: &'a dyn Catalog,
        chain_catalog: &'a dyn ChainCatalog,
        lenient: bool,
    ) -> ModuleChecker<'a> {
        ModuleChecker {
            catalog,
            chain_catalog,
            diags: Vec::new(),
            symbols: HashMap::new(),
            consts: HashMap::new(),
            local_chains: Vec::new(),
            lenient,
        }
    }

    fn error(&mut self, e: CheckError, span: Span) {
        self.diags.push(Diagnostic::new(Problem::Error(e), span));
    }

    fn warn(&mut self, w: CheckWarning, span: Span) {
        self.diags.push(Diagnostic::new(Problem::Warning(w), span));
    }

    /// Reports an import whose package or script does not exist, and binds every name it
    /// imports as poisoned so that their uses add no further errors.
    fn refuse_import(&mut self, error: CheckError, span: Span, names: &[ast::Ident]) {
        self.error(error, span);
        for n in names {
            self.bind(n, Symbol::Poisoned);
        }
    }

    fn bind(&mut self, id: &ast::Ident, sym: Symbol) -> bool {
        if self.symbols.contains_key(&id.name) || self.consts.contains_key(&id.name) {
            self.error(
                CheckError::Duplicate {
                    name: id.name.clone(),
                },
                id.span,
            );
            return false;
        }
        self.symbols.insert(id.name.clone(), sym);
        true
    }

    pub fn check(mut self, module: &ast::Module) -> (Checked, Vec<Diagnostic<Problem>>) {
        let mut out = Checked::default();
        // Imports and chain names first: chains may be used before they are defined.
        for item in &module.items {
            if let ast::Item::Import(i) = item {
                self.import(i, &mut out);
            }
        }
        for item in &module.items {
            if let ast::Item::Chain(c) = item {
                let index = self.local_chains.len();
                let name = if self.bind(&c.name, Symbol::LocalChain(index)) {
                    c.name.name.clone()
                } else {
                    String::new()
                };
                self.local_chains.push(LocalChain {
                    name,
                    params: c.params.len(),
                    returns_value: returns_value(&c.body),
                });
            }
        }
        for item in &module.items {
            if let ast::Item::Const(c) = item {
                self.module_const(c);
            }
        }
        for item in &module.items {
            match item {
                ast::Item::MapConfig(m) => {
                    if let Some(cfg) = self.map_config(m) {
                        out.maps.push(cfg);
                    }
                }
                ast::Item::Attach(a) => {
                    if let Some(att) = self.attach(a) {
                        out.attachments.push(att);
                    }
                }
                _ => {}
            }
        }
        let mut edges: Vec<Vec<(usize, Span)>> = Vec::new();
        let mut imported_depth: Vec<usize> = Vec::new();
        for item in &module.items {
            if let ast::Item::Chain(c) = item {
                let (chain, calls, depth) = ChainChecker::new(&mut self, c).run(c);
                edges.push(calls);
                imported_depth.push(depth);
                out.chains.push((chain, c.name.span));
            }
        }
        self.call_graph(&out.chains, &edges, &imported_depth);
        (out, self.diags)
    }

    fn import(&mut self, i: &ast::Import, out: &mut Checked) {
        let source = &i.path[0];
        let kind = match source.name.as_str() {
            "programs" | "prog" => "programs",
            "loaders" => "loaders",
            "chains" => "chains",
            other => {
                let error = CheckError::UnknownImportSource {
                    source_name: other.into(),
                };
                self.refuse_import(error, source.span, &i.names);
                return;
            }
        };
        if i.path.len() != 2 {
            let span = i.path[0].span.to(i.path.last().expect("a path").span);
            let error = CheckError::ImportPath {
                source_name: kind.into(),
            };
            self.refuse_import(error, span, &i.names);
            return;
        }
        let package = &i.path[1];
        match kind {
            "programs" => {
                let packages = self.catalog.program_packages();
                if !packages.contains(&package.name) {
                    let error = CheckError::UnknownPackage {
                        kind: "program",
                        package: package.name.clone(),
                        known: packages.join(", "),
                    };
                    self.refuse_import(error, package.span, &i.names);
                    return;
                }
                for n in &i.names {
                    match self.catalog.program(&package.name, &n.name).cloned() {
                        Some(sig) => {
                            if self.bind(n, Symbol::Program(sig.clone())) {
                                out.programs.push(ImportedProgram {
                                    name: sig.name.clone(),
                                    package: package.name.clone(),
                                    home: sig.home.clone(),
                                    params: sig.params.clone(),
                                    terminal: sig.terminal,
                                });
                            }
                        }
                        None => {
                            let elsewhere = self.catalog.packages_with_program(&n.name);
                            self.error(
                                CheckError::UnknownProgram {
                                    package: package.name.clone(),
                                    name: n.name.clone(),
                                    elsewhere,
                                },
                                n.span,
                            );
                            self.bind(n, Symbol::Poisoned);
                        }
                    }
                }
            }
            "loaders" => {
                let packages = self.catalog.loader_packages();
                if !packages.contains(&package.name) {
                    let error = CheckError::UnknownPackage {
                        kind: "loader",
                        package: package.name.clone(),
                        known: packages.join(", "),
                    };
                    self.refuse_import(error, package.span, &i.names);
                    return;
                }
                for n in &i.names {
                    match self.catalog.loader(&package.name, &n.name).cloned() {
                        Some(sig) => {
                            if self.bind(n, Symbol::Loader(sig.clone())) {
                                out.loaders.push(ImportedLoader {
                                    name: sig.name.clone(),
                                    package: sig.package.clone(),
                                });
                            }
                        }
                        None => {
                            self.error(
                                CheckError::UnknownLoader {
                                    package: package.name.clone(),
                                    name: n.name.clone(),
                                },
                                n.span,
                            );
                            self.bind(n, Symbol::Poisoned);
                        }
                    }
                }
            }
            _ => {
                if !self.chain_catalog.has_script(&package.name) {
                    let error = CheckError::UnknownScript {
                        script: package.name.clone(),
                    };
                    self.refuse_import(error, package.span, &i.names);
                    return;
                }
                if let Some(reason) = self.chain_catalog.script_error(&package.name) {
                    self.error(
                        CheckError::BrokenScript {
                            script: package.name.clone(),
                            reason,
                        },
                        package.span,
                    );
                    for n in &i.names {
                        self.bind(n, Symbol::Poisoned);
                    }
                    return;
                }
                for n in &i.names {
                    match self.chain_catalog.chain(&package.name, &n.name) {
                        Some(sig) => {
                            if self.bind(n, Symbol::ImportedChain(sig.clone())) {
                                out.imported_chains.push(ImportedChain {
                                    name: sig.name.clone(),
                                    script: package.name.clone(),
                                    params: sig.params.len(),
                                });
                            }
                        }
                        None => {
                            self.error(
                                CheckError::UnknownChainInScript {
                                    script: package.name.clone(),
                                    name: n.name.clone(),
                                    available: self.chain_catalog.chain_names(&package.name),
                                },
                                n.span,
                            );
                            self.bind(n, Symbol::Poisoned);
                        }
                    }
                }
            }
        }
    }

    /// A constant expression of the module (module constants only).
    fn const_expr(&mut self, e: &ast::Expr) -> Option<Konst> {
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

    fn module_const(&mut self, c: &ast::ConstDef) {
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
    fn fit(&mut self, k: Konst, ty: IntType, span: Span) -> Option<u64> {
        let v = k.value();
        if fits(v, ty) {
            Some(normalize(v as u64, ty))
        } else {
            self.error(CheckError::ConstantOverflow { value: v, ty }, span);
            None
        }
    }

    fn owner(&mut self, id: &ast::Ident) -> Option<(OwnerKind, Vec<MapSig>)> {
        match self.symbols.get(&id.name) {
            Some(Symbol::Loader(l)) => Some((OwnerKind::Loader, l.maps.clone())),
            Some(Symbol::Program(p)) => Some((OwnerKind::Program, p.maps.clone())),
            Some(Symbol::Poisoned) => None,
            _ => {
                self.error(
                    CheckError::NotAMapOwner {
                        name: id.name.clone(),
                    },
                    id.span,
                );
                None
            }
        }
    }

    fn map_config(&mut self, m: &ast::MapConfig) -> Option<MapConfig> {
        let (owner_kind, maps) = self.owner(&m.owner)?;
        let Some(sig) = maps.iter().find(|s| s.is_called(&m.map.name)).cloned() else {
            let known = maps
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(
                CheckError::UnknownMap {
                    owner: m.owner.name.clone(),
                    map: m.map.name.clone(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known
                    },
                },
                m.map.span,
            );
            return None;
        };
        let mut entries = Vec::new();
        let mut keys_seen = Vec::new();
        let mut ok = true;
        for e in &m.entries {
            let key = self.map_items(&sig, "key", &e.key, e.key_span);
            let value = self.map_items(&sig, "value", &e.value, e.value_span);
            match (key, value) {
                (Some(key), Some(value)) => {
                    if keys_seen.contains(&key) {
                        self.error(
                            CheckError::DuplicateKey {
                                map: sig.name.clone(),
                            },
                            e.key_span,
                        );
                    }
                    keys_seen.push(key.clone());
                    entries.push(MapEntry { key, value });
                }
                _ => ok = false,
            }
        }
        ok.then(|| MapConfig {
            owner: m.owner.name.clone(),
            owner_kind,
            map: sig.name.clone(),
            entries,
        })
    }

    fn map_items(
        &mut self,
        sig: &MapSig,
        what: &'static str,
        items: &[ast::Expr],
        span: Span,
    ) -> Option<Vec<MapValue>> {
        let (fields, layout) = match what {
            "key" => (&sig.key, &sig.key_type),
            _ => (&sig.value, &sig.value_type),
        };
        // A scalar key or value has one field named after its role; a struct, its members.
        let scalar = fields.len() == 1 && fields[0].name == what;
        if fields.len() != items.len() {
            self.error(
                CheckError::MapArity {
                    map: sig.name.clone(),
                    what,
                    layout: Box::new(layout.clone()),
                    expected: fields.len(),
                    found: items.len(),
                    fields: if scalar {
                        String::new()
                    } else {
                        fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                },
                span,
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (f, item) in fields.iter().zip(items) {
            let bad = |m: &mut Self| {
                let found = m.describe_item(item);
                m.error(
                    CheckError::MapField {
                        map: sig.name.clone(),
                        what,
                        layout: Box::new(layout.clone()),
                        field: (!scalar).then(|| f.name.clone()),
                        expected: f.kind.describe(),
                        found,
                    },
                    item.span,
                );
            };
            match (f.kind, &item.kind) {
                (FieldKind::Chain, ExprKind::Name(n)) => match self.symbols.get(n) {
                    Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => {
                        out.push(MapValue::Chain(n.clone()))
                    }
                    Some(Symbol::Poisoned) => ok = false,
                    _ if self.consts.contains_key(n) => {
                        bad(self);
                        ok = false;
                    }
                    _ => {
                        if !self.lenient {
                            self.error(CheckError::UnknownChain { name: n.clone() }, item.span);
                        }
                        ok = false;
                    }
                },
                (FieldKind::Chain, _) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Ipv4, ExprKind::Str(s)) => match s.parse::<Ipv4Addr>() {
                    Ok(a) => out.push(MapValue::Ipv4(a)),
                    Err(_) => {
                        self.error(
                            CheckError::BadAddress {
                                text: s.clone(),
                                kind: "IPv4",
                            },
                            item.span,
                        );
                        ok = false;
                    }
                },
                (FieldKind::Ipv6, ExprKind::Str(s)) => match s.parse::<Ipv6Addr>() {
                    Ok(a) => out.push(MapValue::Ipv6(a)),
                    Err(_) => {
                        self.error(
                            CheckError::BadAddress {
                                text: s.clone(),
                                kind: "IPv6",
                            },
                            item.span,
                        );
                        ok = false;
                    }
                },
                (FieldKind::Ipv4, _) if !self.is_callable(item) => {
                    // An IPv4 address may also be written as its 32-bit number.
                    match self.const_expr(item) {
                        Some(k) => match self.fit(k, IntType::U32, item.span) {
                            Some(bits) => out.push(MapValue::Ipv4(Ipv4Addr::from(bits as u32))),
                            None => ok = false,
                        },
                        None => ok = false,
                    }
                }
                (FieldKind::Ipv4 | FieldKind::Ipv6, _) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Int(_), ExprKind::Str(_)) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Int(_), _) if self.is_callable(item) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Int(t), _) => match self.const_expr(item) {
                    Some(k) => match self.fit(k, t, item.span) {
                        Some(bits) => out.push(MapValue::Int { ty: t, value: bits }),
                        None => ok = false,
                    },
                    None => ok = false,
                },
            }
        }
        ok.then_some(out)
    }

    /// Whether `item` names a chain, program or loader (not a value).
    fn is_callable(&self, item: &ast::Expr) -> bool {
        match &item.kind {
            ExprKind::Name(n) => matches!(
                self.symbols.get(n),
                Some(
                    Symbol::LocalChain(_)
                        | Symbol::ImportedChain(_)
                        | Symbol::Program(_)
                        | Symbol::Loader(_)
                )
            ),
            _ => false,
        }
    }

    /// What a map item is, for messages: `a string`, `chain `c``, `a number`.
    fn describe_item(&self, item: &ast::Expr) -> String {
        match &item.kind {
            ExprKind::Str(s) => format!("the string '{s}'"),
            ExprKind::Name(n) => match self.symbols.get(n) {
                Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => {
                    format!("chain `{n}`")
                }
                Some(Symbol::Program(_)) => format!("program `{n}`"),
                Some(Symbol::Loader(_)) => format!("loader `{n}`"),
                _ => "a number".into(),
            },
            _ => "a number".into(),
        }
    }

    fn attach(&mut self, a: &ast::Attach) -> Option<Attachment> {
        let package = match self.symbols.get(&a.loader.name) {
            Some(Symbol::Loader(l)) => l.package.clone(),
            Some(Symbol::Poisoned) => return None,
            _ => {
                self.error(
                    CheckError::NotALoader {
                        name: a.loader.name.clone(),
                    },
                    a.loader.span,
                );
                return None;
            }
        };
        let strings: Vec<&str> = a
            .args
            .iter()
            .filter_map(|e| match &e.kind {
                ExprKind::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if a.args.len() != 2 || strings.len() != 2 {
            self.error(CheckError::AttachArgs, a.span);
            return None;
        }
        let hook = strings[1];
        if !matches!(hook, "xdp" | "tc" | "tc-ingress") {
            self.error(CheckError::BadHook { hook: hook.into() }, a.args[1].span);
            return None;
        }
        Some(Attachment {
            loader: a.loader.name.clone(),
            package,
            device: strings[0].into(),
            hook: if hook == "tc-ingress" { "tc" } else { hook }.into(),
        })
    }

    /// Recursion and call depth over the chains of this script.
    fn call_graph(
        &mut self,
        chains: &[(hir::Chain, Span)],
        edges: &[Vec<(usize, Span)>],
        imported_depth: &[usize],
    ) {
        let n = chains.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        let mut depth = vec![1usize; n];
        let mut reported = HashSet::new();
        let mut has_cycle = false;
        fn visit(
            c: usize,
            edges: &[Vec<(usize, Span)>],
            state: &mut [u8],
            stack: &mut Vec<usize>,
            cycles: &mut Vec<(Vec<usize>, Span)>,
        ) {
            state[c] = 1;
            stack.push(c);
            for &(callee, span) in &edges[c] {
                match state[callee] {
                    0 => visit(callee, edges, state, stack, cycles),
                    1 => {
                        let from = stack.iter().position(|&x| x == callee).expect("on stack");
                        cycles.push((stack[from..].to_vec(), span));
                    }
                    _ => {}
                }
            }
            stack.pop();
            state[c] = 2;
        }
        let mut cycles = Vec::new();
        for c in 0..n {
            if state[c] == 0 {
                visit(c, edges, &mut state, &mut Vec::new(), &mut cycles);
            }
        }
        for (cycle, span) in cycles {
            has_cycle = true;
            let mut key = cycle.clone();
            key.sort();
            if !reported.insert(key) {
                continue;
            }
            let names: Vec<&str> = cycle.iter().map(|&i| chains[i].0.name.as_str()).collect();
            let mut path = names.join(" → ");
            path.push_str(" → ");
            path.push_str(names[0]);
            self.error(
                CheckError::Recursion {
                    chain: names[0].to_string(),
                    cycle: path,
                },
                span,
            );
        }
        if has_cycle {
            return;
        }
        // Depth in frames: longest path, computed in reverse topological order.
        let mut order = Vec::new();
        let mut seen = vec![false; n];
        fn post(c: usize, edges: &[Vec<(usize, Span)>], seen: &mut [bool], order: &mut Vec<usize>) {
            seen[c] = true;
            for &(callee, _) in &edges[c] {
                if !seen[callee] {
                    post(callee, edges, seen, order);
                }
            }
            order.push(c);
        }
        for c in 0..n {
            if !seen[c] {
                post(c, edges, &mut seen, &mut order);
            }
        }
        for &c in &order {
            let callees = edges[c].iter().map(|&(k, _)| depth[k]).max().unwrap_or(0);
            depth[c] = 1 + callees.max(imported_depth[c]);
        }
        for (c, (chain, span)) in chains.iter().enumerate() {
            if depth[c] > abi::MAX_FRAMES {
                self.error(
                    CheckError::CallDepth {
                        chain: chain.name.clone(),
                        depth: depth[c],
                        max: abi::MAX_FRAMES,
                    },
                    *span,
                );
            }
        }
    }
}

/// Definite assignment: which locals hold a value on every path to here.
#[derive(Clone, Debug, Default)]
struct Flow {
    assigned: Vec<bool>,
    /// No path reaches here.
    dead: bool,
}

impl Flow {
    fn dead() -> Flow {
        Flow {
            assigned: Vec::new(),
            dead: true,
        }
    }

    fn is_assigned(&self, l: LocalId) -> bool {
        self.dead || self.assigned.get(l).copied().unwrap_or(false)
    }

    fn set(&mut self, l: LocalId) {
        if self.assigned.len() <= l {
            self.assigned.resize(l + 1, false);
        }
        self.assigned[l] = true;
    }

    fn join(a: Flow, b: Flow) -> Flow {
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
enum Ender {
    Terminal(String),
    Other(&'static str),
}

struct ChainChecker<'m, 'a> {
    m: &'m mut ModuleChecker<'a>,
    locals: Vec<hir::Local>,
    names: HashMap<String, LocalId>,
    consts: HashMap<String, Konst>,
    /// Names assigned anywhere in the chain (to tell "unknown" from "not yet assigned").
    assigned_somewhere: HashSet<String>,
    flow: Flow,
    reported: HashSet<String>,
    loops: Vec<Vec<Flow>>,
    calls: Vec<(usize, Span)>,
    imported_depth: usize,
    /// The chain has statements that did not parse: unknown names are not reported.
    lenient: bool,
    /// Inside code already reported unreachable.
    in_dead_code: bool,
    /// An error was reported while checking the current expression.
    failed: bool,
}

impl<'m, 'a> ChainChecker<'m, 'a> {
    fn new(m: &'m mut ModuleChecker<'a>, c: &ast::ChainDef) -> ChainChecker<'m, 'a> {
        let mut assigned = HashSet::new();
        let mut broken = false;
        collect_assigned(&c.body, &mut assigned, &mut broken);
        // Names are reported unless a statement of this chain did not parse.
        let lenient = broken;
        ChainChecker {
            m,
            locals: Vec::new(),
            names: HashMap::new(),
            consts: HashMap::new(),
            assigned_somewhere: assigned,
            flow: Flow::default(),
            reported: HashSet::new(),
            loops: Vec::new(),
            calls: Vec::new(),
            imported_depth: 0,
            lenient,
            in_dead_code: false,
            failed: false,
        }
    }

    /// A checker for module-level constant expressions (no locals).
    fn detached(m: &'m mut ModuleChecker<'a>) -> ChainChecker<'m, 'a> {
        let lenient = m.lenient;
        ChainChecker {
            m,
            locals: Vec::new(),
            names: HashMap::new(),
            consts: HashMap::new(),
            assigned_somewhere: HashSet::new(),
            flow: Flow::default(),
            reported: HashSet::new(),
            loops: Vec::new(),
            calls: Vec::new(),
            imported_depth: 0,
            lenient,
            in_dead_code: false,
            failed: false,
        }
    }

    fn error(&mut self, e: CheckError, span: Span) {
        self.failed = true;
        self.m.error(e, span);
    }

    fn run(mut self, c: &ast::ChainDef) -> (hir::Chain, Vec<(usize, Span)>, usize) {
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

    fn new_local(&mut self, name: &str, ty: IntType) -> LocalId {
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
    fn reserved(&mut self, id: &ast::Ident) -> bool {
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
    fn declare(&mut self, id: &ast::Ident, ty: Option<(IntType, Span)>) -> Option<LocalId> {
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

    // ---- statements -------------------------------------------------------------------------

    fn block(&mut self, stmts: &[ast::Stmt]) -> Vec<hir::Stmt> {
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

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<hir::Stmt>, ender: &mut Option<Ender>) {
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
                let body = self.block(body);
                let breaks = self.loops.pop().expect("pushed");
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

    fn define_const(&mut self, id: &ast::Ident, ty: Option<IntType>, v: Val) {
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

    /// `local = v`, with the constant checked against the local's type or the narrowing
    /// decided.
    fn assign(&mut self, l: LocalId, v: Val) -> hir::Stmt {
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

    fn if_stmt(
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

    fn for_stmt(
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

    // ---- expressions ----------------------------------------------------------------------

    /// The run-time form of a value: exact constants must fit in 64 bits.
    fn runtime(&mut self, v: Val) -> hir::Expr {
        if let Some(Konst::Int(i)) = v.konst {
            if !fits_64(i) {
                self.error(CheckError::ConstantTooWide { value: i }, v.span);
            }
        }
        v.expr
    }

    fn packet_offset(&mut self, offset: &ast::Expr) -> hir::Expr {
        let v = self.expr(offset);
        if let Some(k) = v.konst {
            let o = k.value();
            if !(0..=0xffff).contains(&o) {
                self.error(CheckError::PacketOffset { offset: o }, v.span);
            }
        }
        self.runtime(v)
    }

    fn expr(&mut self, e: &ast::Expr) -> Val {
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

    fn name(&mut self, n: &str, span: Span) -> Val {
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
                self.error(CheckError::UnknownName { name: n.into() }, span);
            }
        } else {
            self.failed = true;
        }
        Val::dummy(span)
    }

    /// A call; `used` says whether its value is used (anywhere but an expression statement).
    fn call(&mut self, callee: &ast::Ident, args: &[ast::Expr], span: Span, used: bool) -> Val {
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
                        let hint = self.callee_hint(name);
                        self.error(
                            CheckError::UnknownCallee {
                                name: name.into(),
                                hint,
                            },
                            callee.span,
                        );
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
    fn no_value(&mut self, used: bool, returns_value: bool, name: &str, span: Span) {
        if used && !returns_value {
            self.error(CheckError::NoReturnValue { chain: name.into() }, span);
        }
    }

    fn callee_hint(&self, name: &str) -> Option<String> {
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

    fn unary(&mut self, op: UnaryOp, v: Val, span: Span) -> Val {
        if let Some(k) = v.konst {
            let folded = match (op, k) {
                (UnaryOp::Plus, k) => k,
                (UnaryOp::Neg, Konst::Int(i)) => Konst::Int(-i),
                (UnaryOp::Invert, Konst::Int(i)) => Konst::Int(!i),
                (UnaryOp::Neg, Konst::Typed(t, b)) => Konst::Typed(wide(t), b.wrapping_neg()),
                (UnaryOp::Invert, Konst::Typed(t, b)) => Konst::Typed(wide(t), !b),
                (UnaryOp::Not, k) => Konst::Int(!k.truthy() as i128),
            };
            return Val::konst(folded, span);
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

    fn binary(&mut self, op: BinOp, op_span: Span, l: Val, r: Val, span: Span) -> Val {
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
        match (l.konst, r.konst) {
            (Some(Konst::Int(a)), Some(Konst::Int(b))) => match const_binop(op, a, b) {
                Ok(v) => return Val::konst(Konst::Int(v), span),
                Err(e) => {
                    self.error(e, span);
                    return Val::dummy(span);
                }
            },
            (Some(a), Some(b)) => {
                for (k, s) in [(a, l.span), (b, r.span)] {
                    if let Konst::Int(i) = k {
                        if !fits_64(i) {
                            self.error(CheckError::ConstantTooWide { value: i }, s);
                        }
                    }
                }
                let bits = eval_binop(op, signed, a.bits(), b.bits());
                let ty = if signed { IntType::S64 } else { IntType::U64 };
                return Val::konst(Konst::Typed(ty, bits), span);
            }
            _ => {}
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

    fn compare(&mut self, first: Val, rest: Vec<(CmpOp, Val)>, span: Span) -> Val {
        // Fold a fully constant chain.
        if first.konst.is_some() && rest.iter().all(|(_, v)| v.konst.is_some()) {
            let mut prev = first;
            let mut result = true;
            for (op, v) in rest {
                let (a, b) = (prev.konst.expect("constant"), v.konst.expect("constant"));
                let holds = match (a, b) {
                    (Konst::Int(x), Konst::Int(y)) => const_cmp(op, x, y),
                    _ => eval_cmp(
                        op,
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
            return Val::konst(Konst::Int(result as i128), span);
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

/// The 64-bit type of the same signedness.
fn wide(t: IntType) -> IntType {
    if t.signed() {
        IntType::S64
    } else {
        IntType::U64
    }
}

fn const_expr(bits: u64) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Const(bits),
        ty: Ty::Int,
    }
}

fn local_expr(l: LocalId, ty: IntType) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Local(l),
        ty: Ty::Typed(ty),
    }
}

/// `return`, or `return` of a literal or a name: the idiom that follows a terminal program
/// (`hike_pass()` then `return 0`), not worth a warning.
fn is_trivial_return(s: &ast::Stmt) -> bool {
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
fn collect_assigned(stmts: &[ast::Stmt], names: &mut HashSet<String>, broken: &mut bool) {
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
fn returns_value(stmts: &[ast::Stmt]) -> bool {
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

/// The chains a script defines, with their parameters, without checking their bodies: what
/// another script may import from it (`from chains.SCRIPT import NAME`).
pub fn chain_signatures(module: &ast::Module) -> Vec<ChainSig> {
    module
        .items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Chain(c) => Some(ChainSig {
                name: c.name.name.clone(),
                params: c
                    .params
                    .iter()
                    .map(|p| (p.name.name.clone(), p.ty.map_or(IntType::U64, |t| t.ty)))
                    .collect(),
                depth: 1,
                returns_value: returns_value(&c.body),
            }),
            _ => None,
        })
        .collect()
}
