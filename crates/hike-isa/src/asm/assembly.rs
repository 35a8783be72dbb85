//! The object model of assembled code: instructions with symbolic [`Relocation`]s for calls
//! of programs and chains by name, and linking them to IDs ([`Assembly::link`]). The
//! assembler ([`super::assemble`]), the eCLAT compiler and C chains (`hike-cchains`) all
//! produce an [`Assembly`]; the runtime installs what linking gives.

use std::fmt;

use thiserror::Error;

use crate::insn::Insn;
use crate::symbols::Symbols;

/// What a symbolic `call` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `call prog NAME`.
    Prog,
    /// `call chain NAME`.
    Chain,
}

impl fmt::Display for RelocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelocKind::Prog => "program",
            RelocKind::Chain => "chain",
        })
    }
}

/// A `call prog NAME` or `call chain NAME` whose ID is not known yet: the instruction at
/// `index` has `imm` = 0 until [`Assembly::link`] writes the ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Index of the `call` instruction.
    pub index: usize,
    /// Whether a program or a chain is called.
    pub kind: RelocKind,
    /// The name to resolve.
    pub name: String,
}

/// The output of [`assemble`](super::assemble).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assembly {
    /// The instructions (an `LD_IMM64` takes two).
    pub insns: Vec<Insn>,
    /// Calls by name, in instruction order.
    pub relocations: Vec<Relocation>,
}

impl Assembly {
    /// The instructions with every relocation resolved through `symbols`.
    pub fn link(&self, symbols: &Symbols) -> Result<Vec<Insn>, LinkError> {
        self.link_with(|kind, name| match kind {
            RelocKind::Prog => symbols.prog_id(name),
            RelocKind::Chain => symbols.chain_id(name),
        })
    }

    /// The instructions with every relocation resolved by `lookup` (`None`: unknown name).
    pub fn link_with(
        &self,
        mut lookup: impl FnMut(RelocKind, &str) -> Option<u32>,
    ) -> Result<Vec<Insn>, LinkError> {
        let mut insns = self.insns.clone();
        for r in &self.relocations {
            let id = lookup(r.kind, &r.name).ok_or_else(|| LinkError::UnknownSymbol {
                index: r.index,
                kind: r.kind,
                name: r.name.clone(),
            })?;
            insns[r.index].imm = id as i32;
        }
        Ok(insns)
    }
}

/// Why [`Assembly::link`] failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LinkError {
    /// No chain or program has this name.
    #[error("instruction {index}: unknown {kind} `{name}`")]
    UnknownSymbol {
        /// Index of the `call` instruction.
        index: usize,
        /// Whether a program or a chain was called.
        kind: RelocKind,
        /// The name.
        name: String,
    },
}
