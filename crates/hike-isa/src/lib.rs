//! HIKe bytecode: the instruction encoding, an assembler and disassembler, a validator, and
//! the Rust mirror of the VM's ABI.
//!
//! HIKe chains are eBPF bytecode interpreted by the HIKe VM (`bpf/include/hike/vm.h`) and by
//! the user-space reference VM (`hike-refvm`), with the semantics of `docs/vm-semantics.md`.
//! This crate turns chain text into instructions ([`asm`]) and back ([`disasm`]), decides
//! whether a chain may be loaded ([`validate`]), and mirrors the constants and structs of
//! `bpf/include/hike/abi.h` ([`abi`]; a test compiles the header and checks they agree).
//!
//! It is not a VM (that is `hike-refvm`) and not a loader (that is `hike-runtime`): it does no
//! I/O and knows nothing of libbpf. Names of chains and programs are resolved by the caller,
//! through [`Symbols`] or a closure ([`asm::Assembly::link_with`]).
//!
//! ```
//! use hike_isa::asm::assemble;
//! use hike_isa::validate::{validate, Chain, Context};
//! use hike_isa::Symbols;
//!
//! // A chain with one parameter (r1) that passes it to program `monitor` and returns its result.
//! let asm = assemble(
//!     "
//!     *(u64 *)(r10 - 8) = r1
//!     call prog monitor
//!     r1 = *(u64 *)(r10 - 8)   ; r1..r5 do not survive a call: reload from the stack
//!     if r0 != 0 goto out
//!     r0 = r1
//! out:
//!     exit
//!     ",
//! )?;
//! let mut symbols = Symbols::new();
//! symbols.add_prog(7, "monitor");
//! let insns = asm.link(&symbols)?;
//!
//! let mut ctx = Context::new();
//! ctx.add_prog(7, 1);
//! validate(&Chain { name: "demo", insns: &insns, nparams: 1 }, &ctx)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod abi;
pub mod asm;
pub mod disasm;
pub mod insn;
pub mod symbols;
pub mod validate;

pub use insn::{op, Insn};
pub use symbols::Symbols;
