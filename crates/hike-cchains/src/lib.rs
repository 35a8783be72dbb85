//! HIKe chains written in C: the HIKe layer's own interface.
//!
//! A `.hike.c` file defines chain functions with the macros of `bpf/include/hike/chain.h`
//! (`HIKE_CHAIN(name, params...)`) and calls programs and chains **by name**
//! (`HIKE_PROG_EXTERN(monitor, 1)` then `monitor(x)`). clang compiles it for the BPF target;
//! this crate reads the object ([`load_hike_c`]) and turns each chain function into HIKe
//! bytecode with symbolic relocations — a [`hike_isa::asm::Assembly`], exactly what the eCLAT
//! compiler produces — validated with [`hike_isa::validate`]. Linking ([`CChain::link`]) writes
//! the program and chain IDs and validates again against the real callees; the result is
//! installed like any chain (`hike_runtime::Vm::install_chain`).
//!
//! How clang's object maps onto the VM, and what is refused, is in [`elf`] and
//! `docs/c-chains.md`. In short: a chain's code is its function's instructions as clang emitted
//! them (the BPF calling convention is the VM's); each `call` carries an `R_BPF_64_32` relocation
//! against an undefined symbol the header's macros name `hike.prog.NAME.N`,
//! `hike.chain.NAME.N` or `hike.helper.NAME`, or against another chain function of the file,
//! and becomes a program, chain or helper call; maps, global data, BPF helpers and non-chain
//! functions are refused with the C function, the instruction and the source line.
//!
//! This crate runs clang ([`compile_file`], [`compile_source`]) but makes no BPF syscall and
//! needs no libbpf.
//!
//! ```no_run
//! use hike_cchains::{compile_file, load_hike_c, CompileOptions};
//! use hike_isa::validate::Context;
//! use hike_isa::Symbols;
//!
//! let object = compile_file("examples/chains/ddos_helpers.hike.c".as_ref(), &CompileOptions::default())?;
//! let chains = load_hike_c(&object.object)?;
//! let mut symbols = Symbols::new();
//! let mut ctx = Context::new();
//! symbols.add_prog(7, "monitor");
//! ctx.add_prog(7, 1);
//! // ... every program and chain the file calls ...
//! for chain in &chains {
//!     let insns = chain.link(&symbols, &ctx)?; // then Vm::install_chain(id, &insns, chain.nparams)
//! }
//! # Ok::<(), hike_cchains::CChainError>(())
//! ```

#![deny(missing_docs)]

mod btf;
mod compile;
pub mod elf;
mod error;

use std::path::Path;

use hike_isa::asm::{Assembly, RelocKind};
use hike_isa::disasm::insn_text;
use hike_isa::validate::{validate, Chain, Context, InsnRef, ValidationError};
use hike_isa::{Insn, Symbols};

pub use compile::{compile_file, compile_source, find_clang, CompileOptions, Compiled, CHAIN_H};
pub use error::{CChainError, Problem, Rejection, SourceLoc};

/// A chain function of a `.hike.c` file, loaded and validated, not yet linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CChain {
    /// The chain's name: the C function's.
    pub name: String,
    /// Parameter names, as written in `HIKE_CHAIN(name, params...)`.
    pub params: Vec<String>,
    /// `params.len()`: arguments in `r1..r<nparams>` at entry.
    pub nparams: u8,
    /// The bytecode: every program and chain call has `imm` 0 and a relocation by name.
    pub assembly: Assembly,
    /// The programs and chains it calls, as declared (parameter counts from the declarations,
    /// or from the definition for chains of the same file), in order of first call.
    pub callees: Vec<Callee>,
    /// (first instruction, source line) pairs, sorted; empty without line info.
    lines: Vec<(usize, SourceLoc)>,
}

/// A program or chain a [`CChain`] calls.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Callee {
    /// Program or chain.
    pub kind: RelocKind,
    /// Its HIKe name.
    pub name: String,
    /// Its parameter count, as declared.
    pub nparams: u8,
}

/// Loads every chain function of a BPF object compiled from a `.hike.c` file (sections
/// `.hike.chain.NAME(PARAMS)`), in section order. Every problem of every function is reported
/// at once ([`CChainError::Rejected`]).
pub fn load_hike_c(elf: &[u8]) -> Result<Vec<CChain>, CChainError> {
    elf::load(elf)
}

/// Compiles the `.hike.c` file at `path` ([`compile_file`]) and loads its chains.
pub fn load_hike_c_file(path: &Path, opts: &CompileOptions) -> Result<Vec<CChain>, CChainError> {
    load_hike_c(&compile_file(path, opts)?.object)
}

/// Links every chain of `chains` ([`CChain::link`]), reporting the problems of all of them.
pub fn link_all(
    chains: &[CChain],
    symbols: &Symbols,
    ctx: &Context,
) -> Result<Vec<Vec<Insn>>, CChainError> {
    let mut linked = Vec::with_capacity(chains.len());
    let mut rejections = Vec::new();
    for chain in chains {
        match chain.link(symbols, ctx) {
            Ok(insns) => linked.push(insns),
            Err(CChainError::Rejected { rejections: mut r }) => rejections.append(&mut r),
            Err(other) => return Err(other),
        }
    }
    if rejections.is_empty() {
        Ok(linked)
    } else {
        Err(CChainError::Rejected { rejections })
    }
}

impl CChain {
    /// The source line of instruction `index`, if the object has line info (`-g`).
    pub fn location(&self, index: usize) -> Option<SourceLoc> {
        elf::location_in(&self.lines, index)
    }

    /// Checks each callee's declared parameter count against `nparams_of(kind, name)`, the
    /// real callee's count (`None`: no such program or chain). For callers that resolve
    /// names themselves, such as the eCLAT compiler importing C chains.
    pub fn check_callees(
        &self,
        mut nparams_of: impl FnMut(RelocKind, &str) -> Option<u8>,
    ) -> Result<(), CChainError> {
        let rejections = self.callee_problems(|kind, name| nparams_of(kind, name).map(Some));
        if rejections.is_empty() {
            Ok(())
        } else {
            Err(CChainError::Rejected { rejections })
        }
    }

    /// The instructions with every program and chain ID written from `symbols`, after checking
    /// that each callee exists with the declared parameter count (in `ctx`) and validating the
    /// chain against `ctx` — the check every chain passes before it is installed.
    ///
    /// `ctx` declares the IDs that exist with their parameter counts, as for
    /// [`hike_isa::validate`]; a chain calling itself must be in it.
    pub fn link(&self, symbols: &Symbols, ctx: &Context) -> Result<Vec<Insn>, CChainError> {
        let rejections = self.callee_problems(|kind, name| {
            let id = match kind {
                RelocKind::Prog => symbols.prog_id(name),
                RelocKind::Chain => symbols.chain_id(name),
            }?;
            Some(match kind {
                RelocKind::Prog => ctx.prog_params(id),
                RelocKind::Chain => ctx.chain_params(id),
            })
        });
        if !rejections.is_empty() {
            return Err(CChainError::Rejected { rejections });
        }
        let insns = self
            .assembly
            .link(symbols)
            .expect("every callee name was resolved");
        let mut ctx = ctx.clone();
        ctx.set_symbols(symbols.clone());
        validate(
            &Chain {
                name: &self.name,
                insns: &insns,
                nparams: self.nparams,
            },
            &ctx,
        )
        .map_err(|e| CChainError::Rejected {
            rejections: e.errors.into_iter().map(|e| self.rejection(e)).collect(),
        })?;
        Ok(insns)
    }

    /// Problems of the callees: `lookup` gives `None` for an unknown name, `Some(None)` for a
    /// known one whose parameter count is unknown (left to the validator), `Some(Some(n))`.
    fn callee_problems(
        &self,
        mut lookup: impl FnMut(RelocKind, &str) -> Option<Option<u8>>,
    ) -> Vec<Rejection> {
        let mut out = Vec::new();
        for callee in &self.callees {
            let problem = match lookup(callee.kind, &callee.name) {
                None => Problem::UnknownCallee {
                    kind: callee.kind,
                    name: callee.name.clone(),
                },
                Some(Some(actual)) if actual != callee.nparams => Problem::ArityMismatch {
                    kind: callee.kind,
                    name: callee.name.clone(),
                    declared: callee.nparams,
                    actual,
                },
                Some(_) => continue,
            };
            let index = self
                .assembly
                .relocations
                .iter()
                .find(|r| r.kind == callee.kind && r.name == callee.name)
                .map_or(0, |r| r.index);
            out.push(Rejection {
                chain: self.name.clone(),
                insn: Some(InsnRef {
                    index,
                    text: format!("call {} {}", call_word(callee.kind), callee.name),
                }),
                location: self.location(index),
                problem,
            });
        }
        out
    }

    /// A validator error as a [`Rejection`] with the source line.
    fn rejection(&self, e: ValidationError) -> Rejection {
        Rejection {
            chain: self.name.clone(),
            location: self.location(e.insn.as_ref().map_or(0, |i| i.index)),
            insn: e.insn,
            problem: Problem::Invalid(e.problem),
        }
    }

    /// The disassembly of instruction `index` with callees by name (for messages).
    pub fn insn_text(&self, index: usize) -> String {
        let mut symbols = Symbols::new();
        let mut insns = self.assembly.insns.clone();
        for r in &self.assembly.relocations {
            let known = match r.kind {
                RelocKind::Prog => symbols.prog_id(&r.name),
                RelocKind::Chain => symbols.chain_id(&r.name),
            };
            let id = known.unwrap_or(r.index as u32);
            match r.kind {
                RelocKind::Prog => symbols.add_prog(id, r.name.clone()),
                RelocKind::Chain => symbols.add_chain(id, r.name.clone()),
            };
            insns[r.index].imm = id as i32;
        }
        insn_text(&insns, index, &symbols)
    }
}

fn call_word(kind: RelocKind) -> &'static str {
    match kind {
        RelocKind::Prog => "prog",
        RelocKind::Chain => "chain",
    }
}
