//! The kit shared by the kernel tests and the benchmarks of the HIKe VM: one home for what
//! each of them used to build for itself.
//!
//! - [`packet`]: the tests' packets (addresses, MACs, IPv6/IPv4/UDP/TCP/ARP shapes), built
//!   with `hike-netlab`'s header builders.
//! - [`vm`]: [`PrivateVm`], a private VM instance with programs in slots named for chains
//!   written in HIKe assembly, and the loaders' chain selection ([`vm::boot`],
//!   [`vm::select_chain`]); fallible, for the benchmarks.
//! - [`Lab`]: the standard programs on a private VM behind the test loader or a standard
//!   loader, one packet at a time (`crates/hike-stdlib-tests`).
//! - [`Harness`]: the same chains on the kernel VM and the reference VM, compared
//!   (`crates/hike-vm-tests`, `crates/hike-cchains`).
//! - [`fields`]: the frames of the tests of eCLAT's packet fields by name, with what each
//!   field reads, the writes to try and the address comparisons.
//! - [`listing2`]: the paper's Listing 2 in HIKe assembly and the programs it calls.
//! - [`etcd`]: a real etcd on free loopback ports, for the fleet tests and benchmark.
//! - [`fleet`]: the fleet's management network (a bridge with etcd on it, each node's
//!   namespace joined to it) and an eclatd node's fleet arguments.
//! - [`xdp`]: the XDP verdicts as numbers (the ABI's, re-exported).
//! - [`unverifiable`]: an eCLAT script whose fused build the verifier refuses.
//!
//! Nothing here is pinned: every VM is private, so tests run in parallel and leave nothing
//! behind. It needs root (BPF). It is test and benchmark support, not a product API.
//!
//! ```no_run
//! use hike_testkit::packet::{ipv6_udp, A6, B6};
//! use hike_testkit::{listing2, xdp, Lab};
//!
//! let lab = Lab::with_loader("ip6_sc", &listing2::PROGRAMS);
//! lab.install(42, listing2::CHAIN_ASM);
//! lab.select_chain(listing2::SELECT_MAP, 42);
//! assert_eq!(lab.run(&ipv6_udp(A6, B6, 40000, 53, 64)).verdict, xdp::PASS);
//! ```

#![deny(missing_docs)]

pub mod etcd;
pub mod fields;
pub mod fleet;
pub mod foreign;
mod harness;
pub mod hook;
mod lab;
pub mod listing2;
pub mod packet;
pub mod unverifiable;
pub mod vm;

pub use harness::{reference_program, Harness, Outcome, PROGRAMS};
pub use hike_isa::abi::xdp;
pub use lab::{counter, Lab, Run, NOT_APPLICABLE};
pub use vm::{KitError, PrivateVm};

/// `error: cause: cause…`, for a panic that says everything.
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// Panics with `error` and its causes: the harnesses' failed set-ups.
pub(crate) fn fail(error: &dyn std::error::Error) -> ! {
    panic!("{}", causes(error))
}
