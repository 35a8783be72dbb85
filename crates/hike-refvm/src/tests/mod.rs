//! Unit tests of the reference VM, one module per section of `docs/vm-semantics.md`, and of
//! the generator.

mod alu;
mod calls;
mod faults;
mod gen;
mod jumps;
mod memory;
mod support;
