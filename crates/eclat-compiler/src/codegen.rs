//! Code generation: [`hir`] → HIKe bytecode ([`Assembly`]: instructions plus symbolic
//! relocations for program and chain calls).
//!
//! # Calling convention and registers
//!
//! - At entry, parameters are in `r1..rN`; the prologue normalizes each to its declared type
//!   and moves it to its home. `r0` is the result of every call and of the chain; `r1..r5`
//!   carry arguments and do not survive a call; `r6..r9` survive calls (the VM restores them
//!   when a called chain returns, programs and helpers leave them alone).
//! - A chain that returns a value sets `r0` before every `exit` (0 for a bare `return` and at
//!   the end of the body); one that returns none (no `return VALUE`) exits with `r0` as it is.
//! - Locals have a fixed home for the whole chain: the four most used (loop bodies weigh
//!   more) live in `r6..r9`, the others in 8-byte stack slots below `r10`.
//! - Temporaries of an expression live in registers taken from `r1..r5`, `r0`, then the
//!   `r6..r9` that no local uses. When none is free, the oldest temporary is spilled to a stack
//!   slot; before a call every temporary held in `r0..r5` is spilled, and reloaded when used.
//! - Expression-level branches (`and`/`or` values, comparisons as values) first spill every
//!   live temporary, so that all paths into the join agree on where each one is. Statement
//!   boundaries hold no temporary at all.
//! - Every stack slot is written before it is read on every path (locals by the checker's
//!   definite-assignment rule, temporaries by construction), as the validator requires.

use hike_isa::abi::{self, Helper};
use hike_isa::asm::{Assembly, RelocKind, Relocation};
use hike_isa::{op, Insn};

use eclat_syntax::ast::{BinOp, CmpOp, IntType, LogicOp};

use crate::hir::{self, CallTarget, Expr, ExprKind, LocalId, Stmt};

/// The bytecode of one chain.
pub(crate) struct Generated {
    pub assembly: Assembly,
    /// Stack slots used (8 bytes each).
    pub slots: usize,
}

/// Generates the bytecode of `chain`.
pub(crate) fn generate(chain: &hir::Chain) -> Generated {
    let mut g = Gen::new(chain);
    g.chain_body();
    g.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Reg(u8),
    Slot(usize),
}

type Temp = usize;
type Label = usize;

struct Gen<'c> {
    chain: &'c hir::Chain,
    insns: Vec<Insn>,
    relocations: Vec<Relocation>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
    homes: Vec<Option<Loc>>,
    temps: Vec<Option<Loc>>,
    owner: [Option<Temp>; 10],
    /// `r6..r9` held by locals.
    local_regs: Vec<u8>,
    slot_used: Vec<bool>,
    loops: Vec<(Label, Label)>,
    /// Whether every path to the code being generated has written `r0` (by a call): the
    /// validator refuses an `exit` that may read it unwritten.
    r0_written: bool,
}

/// Uses of each local, weighted by loop depth.
fn count_uses(stmts: &[Stmt], weight: u64, counts: &mut [u64]) {
    fn expr(e: &Expr, w: u64, c: &mut [u64]) {
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Header(_) => {}
            ExprKind::Local(l) => c[*l] += w,
            ExprKind::Neg(a) | ExprKind::Invert(a) | ExprKind::Not(a) => expr(a, w, c),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Logic { lhs, rhs, .. } => {
                expr(lhs, w, c);
                expr(rhs, w, c);
            }
            ExprKind::Compare { first, rest } => {
                expr(first, w, c);
                for (_, _, e) in rest {
                    expr(e, w, c);
                }
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    expr(a, w, c);
                }
            }
        }
    }
    for s in stmts {
        match s {
            Stmt::Assign { local, value, .. } => {
                counts[*local] += weight;
                expr(value, weight, counts);
            }
            Stmt::PacketStore { offset, value, .. } => {
                expr(offset, weight, counts);
                expr(value, weight, counts);
            }
            Stmt::Expr(e) | Stmt::Terminal(e) => expr(e, weight, counts),
            Stmt::Return(e) => {
                if let Some(e) = e {
                    expr(e, weight, counts);
                }
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                expr(cond, weight, counts);
                count_uses(then, weight, counts);
                count_uses(otherwise, weight, counts);
            }
            Stmt::While { cond, body, step } => {
                let w = weight.saturating_mul(8);
                expr(cond, w, counts);
                count_uses(body, w, counts);
                count_uses(step, w, counts);
            }
            Stmt::Break | Stmt::Continue => {}
        }
    }
}

fn jmp_op(op: CmpOp, signed: bool) -> u8 {
    match (op, signed) {
        (CmpOp::Eq, _) => op::JEQ,
        (CmpOp::Ne, _) => op::JNE,
        (CmpOp::Lt, false) => op::JLT,
        (CmpOp::Le, false) => op::JLE,
        (CmpOp::Gt, false) => op::JGT,
        (CmpOp::Ge, false) => op::JGE,
        (CmpOp::Lt, true) => op::JSLT,
        (CmpOp::Le, true) => op::JSLE,
        (CmpOp::Gt, true) => op::JSGT,
        (CmpOp::Ge, true) => op::JSGE,
        (CmpOp::In | CmpOp::NotIn, _) => unreachable!("lowered by the checker"),
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::In => CmpOp::NotIn,
        CmpOp::NotIn => CmpOp::In,
    }
}

/// The operator with its operands swapped.
fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// The ALU operation and `off` field of a binary operator.
fn alu_op(op: BinOp, signed: bool) -> (u8, i16) {
    match op {
        BinOp::Add => (op::ADD, 0),
        BinOp::Sub => (op::SUB, 0),
        BinOp::Mul => (op::MUL, 0),
        BinOp::Div => (op::DIV, signed as i16),
        BinOp::Mod => (op::MOD, signed as i16),
        BinOp::Shl => (op::LSH, 0),
        BinOp::Shr if signed => (op::ARSH, 0),
        BinOp::Shr => (op::RSH, 0),
        BinOp::And => (op::AND, 0),
        BinOp::Or => (op::OR, 0),
        BinOp::Xor => (op::XOR, 0),
    }
}

/// The constant as a sign-extended 32-bit immediate, if it is one.
fn imm_of(e: &Expr) -> Option<i32> {
    match e.kind {
        ExprKind::Const(bits) => i32::try_from(bits as i64).ok(),
        _ => None,
    }
}

/// Arguments evaluated at the call itself: they have no effect and nothing can change them.
fn is_simple(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Const(_) | ExprKind::Local(_))
}

/// Whether evaluating `e` always calls a program, chain or helper, which leaves its result in
/// `r0`.
fn always_calls(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Local(_) => false,
        // A header read sets `r0` on every path (0 when its layer is absent).
        ExprKind::Call { .. } | ExprKind::Header(_) => true,
        ExprKind::Neg(a) | ExprKind::Invert(a) | ExprKind::Not(a) => always_calls(a),
        ExprKind::Binary { lhs, rhs, .. } => always_calls(lhs) || always_calls(rhs),
        // The right operand runs only when the left one does not decide.
        ExprKind::Logic { lhs, .. } => always_calls(lhs),
        // The first two operands always run; the next ones only while the comparisons hold.
        ExprKind::Compare { first, rest } => {
            always_calls(first) || rest.first().is_some_and(|(_, _, e)| always_calls(e))
        }
    }
}

fn ends_flow(stmts: &[Stmt]) -> bool {
    matches!(
        stmts.last(),
        Some(Stmt::Return(_) | Stmt::Terminal(_) | Stmt::Break | Stmt::Continue)
    )
}

impl<'c> Gen<'c> {
    fn new(chain: &'c hir::Chain) -> Gen<'c> {
        let mut counts = vec![0u64; chain.locals.len()];
        count_uses(&chain.body, 1, &mut counts);
        for &p in &chain.params {
            counts[p] += 1;
        }
        let mut order: Vec<LocalId> = (0..chain.locals.len()).filter(|&l| counts[l] > 0).collect();
        order.sort_by_key(|&l| (std::cmp::Reverse(counts[l]), l));
        let mut homes = vec![None; chain.locals.len()];
        let mut local_regs = Vec::new();
        let mut slots = 0;
        for (i, &l) in order.iter().enumerate() {
            if i < 4 {
                let r = 6 + i as u8;
                homes[l] = Some(Loc::Reg(r));
                local_regs.push(r);
            } else {
                homes[l] = Some(Loc::Slot(slots));
                slots += 1;
            }
        }
        Gen {
            chain,
            insns: Vec::new(),
            relocations: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            homes,
            temps: Vec::new(),
            owner: [None; 10],
            local_regs,
            slot_used: vec![true; slots],
            loops: Vec::new(),
            r0_written: false,
        }
    }

    fn finish(mut self) -> Generated {
        for (at, label) in std::mem::take(&mut self.fixups) {
            let target = self.labels[label].expect("every label is bound");
            let off = target as i64 - at as i64 - 1;
            // A chain long enough to overflow an offset is rejected for its length.
            self.insns[at].off = i16::try_from(off).unwrap_or(0);
        }
        Generated {
            slots: self.slot_used.len(),
            assembly: Assembly {
                insns: self.insns,
                relocations: self.relocations,
            },
        }
    }

    // ---- emission ---------------------------------------------------------------------------

    fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    fn new_label(&mut self) -> Label {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn bind(&mut self, l: Label) {
        self.labels[l] = Some(self.insns.len());
    }

    fn jmp(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::new(op::JMP | op::JA, 0, 0, 0, 0));
    }

    fn jcond_imm(&mut self, cmp: CmpOp, signed: bool, r: u8, imm: i32, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::new(
            op::JMP | jmp_op(cmp, signed) | op::K,
            r,
            0,
            0,
            imm,
        ));
    }

    fn jcond_reg(&mut self, cmp: CmpOp, signed: bool, r: u8, s: u8, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::new(op::JMP | jmp_op(cmp, signed) | op::X, r, s, 0, 0));
    }

    fn mov(&mut self, dst: u8, src: u8) {
        if dst != src {
            self.emit(Insn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0));
        }
    }

    fn load_const(&mut self, r: u8, bits: u64) {
        if let Ok(imm) = i32::try_from(bits as i64) {
            self.emit(Insn::new(op::ALU64 | op::MOV | op::K, r, 0, 0, imm));
        } else if bits <= u32::MAX as u64 {
            // A 32-bit move zero-extends.
            self.emit(Insn::new(
                op::ALU | op::MOV | op::K,
                r,
                0,
                0,
                bits as u32 as i32,
            ));
        } else {
            self.emit(Insn::new(op::LD_IMM64, r, 0, 0, bits as u32 as i32));
            self.emit(Insn::new(0, 0, 0, 0, (bits >> 32) as u32 as i32));
        }
    }

    fn slot_off(slot: usize) -> i16 {
        -(8 * (slot as i64 + 1)).min(32768) as i16
    }

    fn ldx(&mut self, r: u8, slot: usize) {
        self.emit(Insn::new(
            op::LDX | op::MEM | op::DW,
            r,
            10,
            Self::slot_off(slot),
            0,
        ));
    }

    fn stx(&mut self, slot: usize, r: u8) {
        self.emit(Insn::new(
            op::STX | op::MEM | op::DW,
            10,
            r,
            Self::slot_off(slot),
            0,
        ));
    }

    fn alu(&mut self, bop: BinOp, signed: bool, dst: u8, src: Result<u8, i32>) {
        let (code, off) = alu_op(bop, signed);
        match src {
            Ok(s) => self.emit(Insn::new(op::ALU64 | code | op::X, dst, s, off, 0)),
            Err(imm) => self.emit(Insn::new(op::ALU64 | code | op::K, dst, 0, off, imm)),
        }
    }

    /// Normalizes register `r` to type `ty` (truncate, then zero- or sign-extend).
    fn narrow(&mut self, r: u8, ty: IntType) {
        match ty {
            IntType::U8 => self.emit(Insn::new(op::ALU64 | op::AND | op::K, r, 0, 0, 0xff)),
            IntType::U16 => self.emit(Insn::new(op::ALU64 | op::AND | op::K, r, 0, 0, 0xffff)),
            IntType::U32 => self.emit(Insn::new(op::ALU | op::MOV | op::X, r, r, 0, 0)),
            IntType::S8 => self.emit(Insn::new(op::ALU64 | op::MOV | op::X, r, r, 8, 0)),
            IntType::S16 => self.emit(Insn::new(op::ALU64 | op::MOV | op::X, r, r, 16, 0)),
            IntType::S32 => self.emit(Insn::new(op::ALU64 | op::MOV | op::X, r, r, 32, 0)),
            IntType::U64 | IntType::S64 => {}
        }
    }

    // ---- registers and temporaries ----------------------------------------------------------

    fn pool(&self) -> impl Iterator<Item = u8> + '_ {
        [1u8, 2, 3, 4, 5, 0]
            .into_iter()
            .chain((6u8..=9).filter(|r| !self.local_regs.contains(r)))
    }

    fn alloc_slot(&mut self) -> usize {
        if let Some(s) = self.slot_used.iter().position(|u| !u) {
            self.slot_used[s] = true;
            return s;
        }
        self.slot_used.push(true);
        self.slot_used.len() - 1
    }

    fn alloc_reg(&mut self, avoid: &[u8]) -> u8 {
        if let Some(r) = self
            .pool()
            .find(|r| self.owner[*r as usize].is_none() && !avoid.contains(r))
        {
            return r;
        }
        let victim = (0..self.temps.len())
            .find(|&t| matches!(self.temps[t], Some(Loc::Reg(r)) if !avoid.contains(&r)))
            .expect("more registers than operands held at once");
        let Some(Loc::Reg(r)) = self.temps[victim] else {
            unreachable!("found in a register")
        };
        self.spill(victim);
        r
    }

    fn new_temp(&mut self, r: u8) -> Temp {
        debug_assert!(self.owner[r as usize].is_none());
        self.temps.push(Some(Loc::Reg(r)));
        let t = self.temps.len() - 1;
        self.owner[r as usize] = Some(t);
        t
    }

    fn spill(&mut self, t: Temp) {
        if let Some(Loc::Reg(r)) = self.temps[t] {
            let s = self.alloc_slot();
            self.stx(s, r);
            self.owner[r as usize] = None;
            self.temps[t] = Some(Loc::Slot(s));
        }
    }

    /// The register holding `t`, reloading it (into a register not in `avoid`) if spilled.
    fn reg_of(&mut self, t: Temp, avoid: &[u8]) -> u8 {
        match self.temps[t].expect("a live temporary") {
            Loc::Reg(r) => r,
            Loc::Slot(s) => {
                let r = self.alloc_reg(avoid);
                self.ldx(r, s);
                self.slot_used[s] = false;
                self.temps[t] = Some(Loc::Reg(r));
                self.owner[r as usize] = Some(t);
                r
            }
        }
    }

    fn free(&mut self, t: Temp) {
        match self.temps[t].take() {
            Some(Loc::Reg(r)) => self.owner[r as usize] = None,
            Some(Loc::Slot(s)) => self.slot_used[s] = false,
            None => {}
        }
    }

    /// Spills every temporary held in a register.
    fn flush(&mut self) {
        for t in 0..self.temps.len() {
            self.spill(t);
        }
    }

    fn local_reg(&self, e: &Expr) -> Option<u8> {
        match e.kind {
            ExprKind::Local(l) => match self.homes[l] {
                Some(Loc::Reg(r)) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }

    fn load_local(&mut self, r: u8, l: LocalId) {
        match self.homes[l] {
            Some(Loc::Reg(h)) => self.mov(r, h),
            Some(Loc::Slot(s)) => self.ldx(r, s),
            None => unreachable!("a read local has a home"),
        }
    }

    fn store_local(&mut self, l: LocalId, r: u8) {
        match self.homes[l] {
            Some(Loc::Reg(h)) => self.mov(h, r),
            Some(Loc::Slot(s)) => self.stx(s, r),
            None => {}
        }
    }

    // ---- expressions ------------------------------------------------------------------------

    fn gen(&mut self, e: &Expr) -> Temp {
        match &e.kind {
            ExprKind::Const(bits) => {
                let r = self.alloc_reg(&[]);
                self.load_const(r, *bits);
                self.new_temp(r)
            }
            ExprKind::Local(l) => {
                let r = self.alloc_reg(&[]);
                self.load_local(r, *l);
                self.new_temp(r)
            }
            ExprKind::Neg(a) => {
                let t = self.gen(a);
                let r = self.reg_of(t, &[]);
                self.emit(Insn::new(op::ALU64 | op::NEG, r, 0, 0, 0));
                t
            }
            ExprKind::Invert(a) => {
                let t = self.gen(a);
                let r = self.reg_of(t, &[]);
                self.emit(Insn::new(op::ALU64 | op::XOR | op::K, r, 0, 0, -1));
                t
            }
            ExprKind::Not(_) | ExprKind::Compare { .. } => self.bool_value(e),
            ExprKind::Binary {
                op,
                signed,
                lhs,
                rhs,
            } => {
                let t = self.gen(lhs);
                if let Some(imm) = imm_of(rhs) {
                    let r = self.reg_of(t, &[]);
                    self.alu(*op, *signed, r, Err(imm));
                } else if let Some(h) = self.local_reg(rhs) {
                    let r = self.reg_of(t, &[]);
                    self.alu(*op, *signed, r, Ok(h));
                } else {
                    let u = self.gen(rhs);
                    let ru = self.reg_of(u, &[]);
                    let rl = self.reg_of(t, &[ru]);
                    self.alu(*op, *signed, rl, Ok(ru));
                    self.free(u);
                }
                t
            }
            ExprKind::Logic { op, lhs, rhs } => self.logic_value(*op, lhs, rhs),
            ExprKind::Call { target, args } => self.call(target, args),
            ExprKind::Header(read) => self.header_read(read),
        }
    }

    /// `not x` or a comparison as a value: 1 or 0.
    fn bool_value(&mut self, e: &Expr) -> Temp {
        self.flush();
        let fals = self.new_label();
        let end = self.new_label();
        self.jump_if(e, false, fals);
        let r = self.alloc_reg(&[]);
        self.load_const(r, 1);
        self.jmp(end);
        self.bind(fals);
        self.load_const(r, 0);
        self.bind(end);
        self.new_temp(r)
    }

    /// `a and b` / `a or b` as a value: Python's (the deciding operand).
    fn logic_value(&mut self, lop: LogicOp, lhs: &Expr, rhs: &Expr) -> Temp {
        self.flush();
        let t = self.gen(lhs);
        let r = self.reg_of(t, &[]);
        let end = self.new_label();
        let cmp = if lop == LogicOp::And {
            CmpOp::Eq
        } else {
            CmpOp::Ne
        };
        self.jcond_imm(cmp, false, r, 0, end);
        self.free(t);
        let u = self.gen(rhs);
        let ru = self.reg_of(u, &[]);
        self.free(u);
        debug_assert!(self.owner[r as usize].is_none());
        self.mov(r, ru);
        self.bind(end);
        self.new_temp(r)
    }

    /// Jumps to `target` if the truth of `e` is `sense`, else falls through. Called with no
    /// temporary in a register.
    fn jump_if(&mut self, e: &Expr, sense: bool, target: Label) {
        match &e.kind {
            ExprKind::Const(bits) => {
                if (*bits != 0) == sense {
                    self.jmp(target);
                }
            }
            ExprKind::Not(a) => self.jump_if(a, !sense, target),
            ExprKind::Logic { op, lhs, rhs } => {
                // `and` jumps on false when either is false; `or` on true when either is true.
                let short = *op == LogicOp::Or;
                if sense == short {
                    self.jump_if(lhs, sense, target);
                    self.jump_if(rhs, sense, target);
                } else {
                    let skip = self.new_label();
                    self.jump_if(lhs, short, skip);
                    self.jump_if(rhs, sense, target);
                    self.bind(skip);
                }
            }
            ExprKind::Compare { first, rest } if rest.len() == 1 => {
                let (cmp, signed, rhs) = &rest[0];
                let cmp = if sense { *cmp } else { negate(*cmp) };
                self.cmp_jump(first, cmp, *signed, rhs, target);
            }
            ExprKind::Compare { first, rest } => {
                let skip = self.new_label();
                let mut t = self.gen(first);
                for (i, (cmp, signed, rhs)) in rest.iter().enumerate() {
                    let last = i + 1 == rest.len();
                    let u = self.gen(rhs);
                    let ru = self.reg_of(u, &[]);
                    let rt = self.reg_of(t, &[ru]);
                    if !sense {
                        self.jcond_reg(negate(*cmp), *signed, rt, ru, target);
                    } else if !last {
                        self.jcond_reg(negate(*cmp), *signed, rt, ru, skip);
                    } else {
                        self.jcond_reg(*cmp, *signed, rt, ru, target);
                    }
                    self.free(t);
                    t = u;
                }
                self.free(t);
                self.bind(skip);
            }
            _ => {
                let cmp = if sense { CmpOp::Ne } else { CmpOp::Eq };
                if let Some(h) = self.local_reg(e) {
                    self.jcond_imm(cmp, false, h, 0, target);
                } else {
                    let t = self.gen(e);
                    let r = self.reg_of(t, &[]);
                    self.jcond_imm(cmp, false, r, 0, target);
                    self.free(t);
                }
            }
        }
    }

    /// Jumps to `target` if `lhs cmp rhs`.
    fn cmp_jump(&mut self, lhs: &Expr, cmp: CmpOp, signed: bool, rhs: &Expr, target: Label) {
        if let (Some(imm), false) = (imm_of(rhs), imm_of(lhs).is_some()) {
            let (t, r) = self.operand(lhs);
            self.jcond_imm(cmp, signed, r, imm, target);
            if let Some(t) = t {
                self.free(t);
            }
        } else if let Some(imm) = imm_of(lhs) {
            let (t, r) = self.operand(rhs);
            self.jcond_imm(mirror(cmp), signed, r, imm, target);
            if let Some(t) = t {
                self.free(t);
            }
        } else {
            let (tl, rl) = self.operand(lhs);
            let (tr, rr) = match self.local_reg(rhs) {
                Some(h) => (None, h),
                None => {
                    let u = self.gen(rhs);
                    (Some(u), self.reg_of(u, &[]))
                }
            };
            let rl = match tl {
                Some(t) => self.reg_of(t, &[rr]),
                None => rl,
            };
            self.jcond_reg(cmp, signed, rl, rr, target);
            for t in [tl, tr].into_iter().flatten() {
                self.free(t);
            }
        }
    }

    /// A register holding `e`: its local's register, or a new temporary.
    fn operand(&mut self, e: &Expr) -> (Option<Temp>, u8) {
        match self.local_reg(e) {
            Some(h) => (None, h),
            None => {
                let t = self.gen(e);
                (Some(t), self.reg_of(t, &[]))
            }
        }
    }

    fn call(&mut self, target: &CallTarget, args: &[Expr]) -> Temp {
        debug_assert!(args.len() <= abi::MAX_ARGS);
        let temps: Vec<Option<Temp>> = args
            .iter()
            .map(|a| (!is_simple(a)).then(|| self.gen(a)))
            .collect();
        // Arguments whose register is free move there; then nothing but arguments in place
        // may stay in r0..r5.
        let mut moved = true;
        while moved {
            moved = false;
            for (i, t) in temps.iter().enumerate() {
                let target = i as u8 + 1;
                if let (Some(t), None) = (*t, self.owner[target as usize]) {
                    if let Some(Loc::Reg(x)) = self.temps[t] {
                        if x <= 5 {
                            self.mov(target, x);
                            self.owner[x as usize] = None;
                            self.owner[target as usize] = Some(t);
                            self.temps[t] = Some(Loc::Reg(target));
                            moved = true;
                        }
                    }
                }
            }
        }
        for r in 0..=5u8 {
            if let Some(t) = self.owner[r as usize] {
                let in_place = r >= 1 && temps.get(r as usize - 1) == Some(&Some(t));
                if !in_place {
                    self.spill(t);
                }
            }
        }
        for (i, a) in args.iter().enumerate() {
            let r = i as u8 + 1;
            match temps[i] {
                None => match a.kind {
                    ExprKind::Const(bits) => self.load_const(r, bits),
                    ExprKind::Local(l) => self.load_local(r, l),
                    _ => unreachable!("only simple arguments are deferred"),
                },
                Some(t) => match self.temps[t].expect("live") {
                    Loc::Reg(x) if x == r => {}
                    Loc::Reg(x) => {
                        self.mov(r, x);
                        self.owner[x as usize] = None;
                        self.owner[r as usize] = Some(t);
                        self.temps[t] = Some(Loc::Reg(r));
                    }
                    Loc::Slot(s) => {
                        self.ldx(r, s);
                        self.slot_used[s] = false;
                        self.owner[r as usize] = Some(t);
                        self.temps[t] = Some(Loc::Reg(r));
                    }
                },
            }
        }
        let index = self.insns.len();
        let (src, imm) = match target {
            CallTarget::Helper(h) => (abi::CALL_HELPER, *h as i32),
            CallTarget::Program(name) => {
                self.relocations.push(Relocation {
                    index,
                    kind: RelocKind::Prog,
                    name: name.clone(),
                });
                (abi::CALL_PROG, 0)
            }
            CallTarget::Chain(name) => {
                self.relocations.push(Relocation {
                    index,
                    kind: RelocKind::Chain,
                    name: name.clone(),
                });
                (abi::CALL_CHAIN, 0)
            }
        };
        self.emit(Insn::new(op::JMP | op::CALL, 0, src, 0, imm));
        for t in temps.into_iter().flatten() {
            self.free(t);
        }
        self.new_temp(0)
    }

    /// Spills every temporary held in `r0..r5`, as before a call.
    fn clobber_call_regs(&mut self) {
        for r in 0..=5u8 {
            if let Some(t) = self.owner[r as usize] {
                self.spill(t);
            }
        }
    }

    fn meta_ptr(&mut self, r: u8) {
        let addr = abi::ADDR_META;
        self.emit(Insn::new(op::LD_IMM64, r, 0, 0, addr as u32 as i32));
        self.emit(Insn::new(0, 0, 0, 0, (addr >> 32) as u32 as i32));
    }

    fn meta_load(&mut self, dst: u8, ptr: u8, off: i16, size: u8) {
        let sz = match size {
            1 => op::B,
            2 => op::H,
            4 => op::W,
            _ => op::DW,
        };
        self.emit(Insn::new(op::LDX | op::MEM | sz, dst, ptr, off, 0));
    }

    /// A header field (`packet.ip4.ttl`), in `r0`: 0 unless the guard holds on the metadata,
    /// else the value. Uses `r0..r5` only, like a call; its branches all join at its end with
    /// no temporary moved.
    fn header_read(&mut self, read: &hir::HeaderRead) -> Temp {
        use crate::fields::meta_off;
        use hir::{Base, Guard, Source};
        self.clobber_call_regs();
        let end = self.new_label();
        self.meta_ptr(1);
        if read.guard != Guard::Always {
            self.load_const(0, 0);
        }
        match read.guard {
            Guard::Always => {}
            Guard::Eth => {
                self.meta_load(2, 1, meta_off::L3_OFF, 2);
                self.jcond_imm(CmpOp::Eq, false, 2, 0, end);
            }
            Guard::Flags(mask) => {
                self.meta_load(2, 1, meta_off::FLAGS, 1);
                self.emit(Insn::new(
                    op::ALU64 | op::AND | op::K,
                    2,
                    0,
                    0,
                    i32::from(mask),
                ));
                self.jcond_imm(CmpOp::Eq, false, 2, 0, end);
            }
            Guard::L4Any | Guard::L4(..) => {
                self.meta_load(2, 1, meta_off::FLAGS, 1);
                self.emit(Insn::new(
                    op::ALU64 | op::AND | op::K,
                    2,
                    0,
                    0,
                    i32::from(abi::META_L4),
                ));
                self.jcond_imm(CmpOp::Eq, false, 2, 0, end);
                if let Guard::L4(a, b) = read.guard {
                    self.meta_load(2, 1, meta_off::L4_PROTO, 1);
                    if a == b {
                        self.jcond_imm(CmpOp::Ne, false, 2, i32::from(a), end);
                    } else {
                        let ok = self.new_label();
                        self.jcond_imm(CmpOp::Eq, false, 2, i32::from(a), ok);
                        self.jcond_imm(CmpOp::Ne, false, 2, i32::from(b), end);
                        self.bind(ok);
                    }
                }
            }
        }
        match read.source {
            Source::One => self.load_const(0, 1),
            Source::Meta { off, size } => self.meta_load(0, 1, off, size),
            Source::Flag(bit) => {
                self.meta_load(0, 1, meta_off::FLAGS, 1);
                self.emit(Insn::new(
                    op::ALU64 | op::RSH | op::K,
                    0,
                    0,
                    0,
                    bit.trailing_zeros() as i32,
                ));
                self.emit(Insn::new(op::ALU64 | op::AND | op::K, 0, 0, 0, 1));
            }
            Source::Packet {
                base,
                off,
                size,
                shift,
                mask,
            } => {
                match base {
                    Base::Start => self.load_const(1, u64::from(off)),
                    Base::L3 => {
                        self.meta_load(1, 1, meta_off::L3_OFF, 2);
                        if off != 0 {
                            self.alu(BinOp::Add, false, 1, Err(i32::from(off)));
                        }
                    }
                    Base::L4 => {
                        // The loader checked only that the L4 header starts in the packet:
                        // a field past the end reads 0 instead of faulting.
                        self.emit(Insn::new(
                            op::JMP | op::CALL,
                            0,
                            abi::CALL_HELPER,
                            0,
                            Helper::PktLen as i32,
                        ));
                        self.mov(3, 0);
                        self.meta_ptr(1);
                        self.load_const(0, 0);
                        self.meta_load(1, 1, meta_off::L4_OFF, 2);
                        if off != 0 {
                            self.alu(BinOp::Add, false, 1, Err(i32::from(off)));
                        }
                        self.mov(2, 1);
                        self.alu(BinOp::Add, false, 2, Err(i32::from(size)));
                        self.jcond_reg(CmpOp::Gt, false, 2, 3, end);
                    }
                }
                self.load_const(2, u64::from(size));
                self.emit(Insn::new(
                    op::JMP | op::CALL,
                    0,
                    abi::CALL_HELPER,
                    0,
                    Helper::PktLoad as i32,
                ));
                if shift != 0 {
                    self.alu(BinOp::Shr, false, 0, Err(i32::from(shift)));
                }
                let full = if size == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * size)) - 1
                } >> shift;
                if mask != full {
                    self.alu(BinOp::And, false, 0, Err(mask as i32));
                }
            }
        }
        self.bind(end);
        self.new_temp(0)
    }

    // ---- statements -------------------------------------------------------------------------

    fn chain_body(&mut self) {
        let chain = self.chain;
        for (i, &p) in chain.params.iter().enumerate() {
            let r = i as u8 + 1;
            if self.homes[p].is_some() {
                self.narrow(r, chain.locals[p].ty);
                self.store_local(p, r);
            }
        }
        self.block(&chain.body);
        if !matches!(chain.body.last(), Some(Stmt::Return(_) | Stmt::Terminal(_))) {
            // Falling off the end is a bare `return`.
            self.stmt(&Stmt::Return(None));
        }
    }

    fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
            debug_assert!(
                self.temps.iter().all(Option::is_none),
                "no temporary outlives a statement"
            );
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Assign {
                local,
                value,
                narrow,
            } => {
                self.assign(*local, value, *narrow);
                self.r0_written |= always_calls(value);
            }
            Stmt::PacketStore {
                width,
                offset,
                value,
            } => {
                let args = [
                    offset.clone(),
                    const_expr(width.bytes() as u64),
                    value.clone(),
                ];
                let t = self.call(&CallTarget::Helper(Helper::PktStore), &args);
                self.free(t);
                self.r0_written = true;
            }
            Stmt::Expr(e) => {
                let t = self.gen(e);
                self.free(t);
                self.r0_written |= always_calls(e);
            }
            Stmt::Terminal(e) => {
                let t = self.gen(e);
                self.free(t);
                // The program ends the packet; should it return, so does the chain, with its
                // value.
                self.emit(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0));
                // No path goes on from here.
                self.r0_written = true;
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let els = self.new_label();
                self.jump_if(cond, false, els);
                let entry = self.r0_written || always_calls(cond);
                self.r0_written = entry;
                self.block(then);
                let after_then = self.r0_written;
                if otherwise.is_empty() {
                    self.bind(els);
                    self.r0_written = after_then && entry;
                } else {
                    let end = self.new_label();
                    if !ends_flow(then) {
                        self.jmp(end);
                    }
                    self.bind(els);
                    self.r0_written = entry;
                    self.block(otherwise);
                    self.bind(end);
                    self.r0_written &= after_then;
                }
            }
            Stmt::While { cond, body, step } => {
                let head = self.new_label();
                let cont = self.new_label();
                let end = self.new_label();
                self.bind(head);
                self.jump_if(cond, false, end);
                // Every path out of the loop (the condition false, or `break`) and through
                // its body has evaluated the condition once; the body itself may not run.
                let entry = self.r0_written || always_calls(cond);
                self.r0_written = entry;
                self.loops.push((cont, end));
                self.block(body);
                self.loops.pop();
                self.bind(cont);
                self.r0_written = entry;
                self.block(step);
                self.jmp(head);
                self.bind(end);
                self.r0_written = entry;
            }
            Stmt::Break => {
                let (_, end) = *self.loops.last().expect("checked: inside a loop");
                self.jmp(end);
                self.r0_written = true;
            }
            Stmt::Continue => {
                let (cont, _) = *self.loops.last().expect("checked: inside a loop");
                self.jmp(cont);
                self.r0_written = true;
            }
            Stmt::Return(value) => {
                match value {
                    // A chain that returns a value returns 0. One that does not exits with `r0`
                    // as its last call left it (one interpreted instruction less), or 0 where
                    // a path may have called nothing.
                    None if self.chain.returns_value || !self.r0_written => self.load_const(0, 0),
                    None => {}
                    Some(Expr {
                        kind: ExprKind::Const(bits),
                        ..
                    }) => self.load_const(0, *bits),
                    Some(Expr {
                        kind: ExprKind::Local(l),
                        ..
                    }) => self.load_local(0, *l),
                    Some(e) => {
                        let t = self.gen(e);
                        let r = self.reg_of(t, &[]);
                        self.mov(0, r);
                        self.free(t);
                    }
                }
                self.emit(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0));
                self.r0_written = true;
            }
        }
    }

    fn assign(&mut self, local: LocalId, value: &Expr, narrow: Option<IntType>) {
        if let Some(Loc::Reg(h)) = self.homes[local] {
            // In place: `x = CONST`, `x = y`, `x = x OP simple`.
            let in_place = match &value.kind {
                ExprKind::Const(bits) => {
                    self.load_const(h, *bits);
                    true
                }
                ExprKind::Local(l) => {
                    self.load_local(h, *l);
                    true
                }
                ExprKind::Binary {
                    op,
                    signed,
                    lhs,
                    rhs,
                } if matches!(lhs.kind, ExprKind::Local(l) if l == local) => {
                    if let Some(imm) = imm_of(rhs) {
                        self.alu(*op, *signed, h, Err(imm));
                        true
                    } else if let Some(s) = self.local_reg(rhs) {
                        self.alu(*op, *signed, h, Ok(s));
                        true
                    } else {
                        false
                    }
                }
                _ => false,
            };
            if in_place {
                if let Some(ty) = narrow {
                    self.narrow(h, ty);
                }
                return;
            }
        }
        let t = self.gen(value);
        let r = self.reg_of(t, &[]);
        if let Some(ty) = narrow {
            self.narrow(r, ty);
        }
        self.store_local(local, r);
        self.free(t);
    }
}

fn const_expr(bits: u64) -> Expr {
    Expr {
        kind: ExprKind::Const(bits),
        ty: hir::Ty::Int,
    }
}
