//! Errors of the reference VM's setup calls (running a chain never fails: it faults).

use thiserror::Error;

/// Why a chain or program could not be installed in a [`crate::RefVm`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RefVmError {
    /// The chain ID is not below `abi::MAX_CHAINS`.
    #[error("chain ID {id} is out of range (IDs are below {max})")]
    ChainIdOutOfRange {
        /// The rejected ID.
        id: u32,
        /// `abi::MAX_CHAINS`.
        max: u32,
    },
    /// The program ID is not below `abi::MAX_PROGS`.
    #[error("program ID {id} is out of range (IDs are below {max})")]
    ProgramIdOutOfRange {
        /// The rejected ID.
        id: u32,
        /// `abi::MAX_PROGS`.
        max: u32,
    },
    /// A chain without instructions: the ABI uses length 0 for "no chain".
    #[error("chain {id} has no instructions (use `unload_chain` to remove a chain)")]
    EmptyChain {
        /// The chain's ID.
        id: u32,
    },
    /// More instructions than `abi::MAX_CHAIN_INSNS`.
    #[error("chain {id} has {len} instructions, more than the limit of {max}")]
    ChainTooLong {
        /// The chain's ID.
        id: u32,
        /// Its number of instructions.
        len: usize,
        /// `abi::MAX_CHAIN_INSNS`.
        max: usize,
    },
}
