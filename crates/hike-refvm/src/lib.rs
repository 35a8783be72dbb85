//! The HIKe reference VM: a user-space interpreter of HIKe chains that implements
//! `docs/vm-semantics.md` exactly, and a random generator of chains and packets for
//! differential tests against the eBPF VM (`bpf/include/hike/vm.h`).
//!
//! [`RefVm`] holds chains (instructions by chain ID), programs (Rust closures by program ID)
//! and the settings of `struct hike_vm_config`; [`RefVm::run`] boots one chain for one packet
//! and returns everything a differential test compares: the verdict, the packet bytes, the top
//! chain's result, the fault with its pc and chain, the events and the counters.
//!
//! This crate is not the runtime: it makes no system call, loads nothing into the kernel and
//! does not validate chains (that is `hike_isa::validate`). It runs whatever it is given and
//! faults exactly where the eBPF VM faults. It is not fast either: it is written to be read
//! against the semantics document, one rule at a time.
//!
//! ```
//! use hike_isa::{abi, op, Insn};
//! use hike_refvm::{xdp, Boot, RefVm};
//!
//! let mut vm = RefVm::new();
//! // r0 = r1 * 3; exit
//! let chain = vec![
//!     Insn::new(op::ALU64 | op::X | op::MOV, 0, 1, 0, 0),
//!     Insn::new(op::ALU64 | op::K | op::MUL, 0, 0, 0, 3),
//!     Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
//! ];
//! vm.load_chain(7, chain, 1).unwrap();
//! let out = vm.run(Boot::new(7, vec![0; 64]).with_args(&[14]));
//! assert_eq!(out.fault, None);
//! assert_eq!(out.result, 42);
//! assert_eq!(out.verdict, xdp::PASS);
//!
//! // A chain that is not loaded faults at boot with the fail-safe verdict.
//! let out = vm.run(Boot::new(8, vec![0; 64]));
//! assert_eq!(out.fault, Some(abi::Fault::NoChain));
//! assert_eq!(out.verdict, xdp::ABORTED);
//! ```
#![deny(missing_docs)]

mod error;
mod exec;
pub mod gen;
mod ins;
pub mod parse;
mod vm;

#[cfg(test)]
mod tests;

pub use error::RefVmError;
pub use parse::parse_packet;
pub use vm::{
    Boot, Counters, Ending, FrameState, MachineState, Program, ProgramCall, ProgramOutcome, RefVm,
    RunOutcome,
};

/// XDP verdicts (`enum xdp_action`), for boots and programs: the ABI's.
pub use hike_isa::abi::xdp;
