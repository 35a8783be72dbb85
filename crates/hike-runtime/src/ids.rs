//! Checked identifiers of chains and programs.
//!
//! A [`ChainId`] or [`ProgramId`] is always in range for the VM's tables, so every function
//! that takes one can index a map without checking again.

use std::fmt;

use hike_isa::abi::{MAX_CHAINS, MAX_PROGS};

use crate::Error;

/// A chain ID: an index of the chain table, `0..MAX_CHAINS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(u32);

impl ChainId {
    /// The chain ID `id`, if it is below [`MAX_CHAINS`].
    pub const fn new(id: u32) -> Option<ChainId> {
        if id < MAX_CHAINS {
            Some(ChainId(id))
        } else {
            None
        }
    }

    /// The ID as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Every chain ID, in order.
    pub fn all() -> impl Iterator<Item = ChainId> {
        (0..MAX_CHAINS).map(ChainId)
    }
}

impl TryFrom<u32> for ChainId {
    type Error = Error;

    fn try_from(id: u32) -> Result<ChainId, Error> {
        ChainId::new(id).ok_or(Error::ChainIdOutOfRange { id })
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A program ID: a slot of the program table, `0..MAX_PROGS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProgramId(u32);

impl ProgramId {
    /// The program ID `id`, if it is below [`MAX_PROGS`].
    pub const fn new(id: u32) -> Option<ProgramId> {
        if id < MAX_PROGS {
            Some(ProgramId(id))
        } else {
            None
        }
    }

    /// The ID as a number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for ProgramId {
    type Error = Error;

    fn try_from(id: u32) -> Result<ProgramId, Error> {
        ProgramId::new(id).ok_or(Error::ProgramIdOutOfRange { id })
    }
}

impl fmt::Display for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
