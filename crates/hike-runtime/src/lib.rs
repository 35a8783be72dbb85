//! The HIKe runtime: everything that touches the kernel, on libbpf-rs.
//!
//! A [`Vm`] is one HIKe VM instance: one shared set of VM maps (program table, chain table,
//! code heap, configuration, per-CPU state, counters, event ring) that every object loaded
//! into it reuses. Through it you load HIKe programs into slots of the program table
//! ([`Vm::load_program`]), write chains atomically ([`Vm::install_chain`]), load loaders
//! ([`Vm::load_loader`]) that you test-run ([`Loader::test_run`]) or attach to interfaces
//! ([`Loader::attach_xdp`]), load a fused script's one program on the instance's maps
//! ([`Vm::load_fused`]), read and write maps by name ([`MapRef`]), and read counters and
//! per-CPU state. A private instance ([`Vm::new`]) vanishes when dropped; a pinned one lives
//! in `/sys/fs/bpf/hike/<instance>/` until [`Vm::destroy`] and is adopted again with
//! [`Vm::open_pinned`], chains and programs included.
//!
//! This crate is the only product crate that makes BPF syscalls (measurement and test tools
//! that load programs of their own are listed in ARCHITECTURE.md). It does not compile or validate
//! chains (that is `hike-isa`: pass it validated code), does not parse eCLAT, and does not
//! decide IDs: callers (the compiler's linker, `eclatd`) choose them. Nor does it say what an
//! object declares before it is loaded (programs, tags, map layouts: `eclat-catalog`, which
//! does not depend on this crate). It reads only what it needs for itself: the parameters of
//! a loaded program, from the BTF the kernel keeps for it ([`btf`]), to validate chains that
//! call it.
//!
//! ```no_run
//! use hike_isa::Insn;
//! use hike_runtime::{ChainId, Vm};
//!
//! # fn main() -> Result<(), hike_runtime::Error> {
//! # let (loader_elf, progs_elf): (&[u8], &[u8]) = (&[], &[]);
//! let vm = Vm::new()?;
//! vm.load_program(progs_elf, "hike_drop", hike_runtime::ProgramId::new(1).unwrap())?;
//! // r0 = 7; exit
//! let chain = [Insn::new(0xb7, 0, 0, 0, 7), Insn::new(0x95, 0, 0, 0, 0)];
//! vm.install_chain(ChainId::new(0).unwrap(), &chain, 0)?;
//! let loader = vm.load_loader("xdp0", loader_elf, "hike_loader")?;
//! let run = loader.test_run(&[0u8; 64], 1)?;
//! println!("verdict {:?}", run.action());
//! # Ok(())
//! # }
//! ```
//!
//! Root (or `CAP_BPF` + `CAP_NET_ADMIN` + `CAP_SYS_ADMIN` for bpffs) is required.

#![deny(missing_docs)]

pub mod bpffs;
pub mod btf;
pub mod chains;
mod code_alloc;
pub mod cpu;
pub mod crash;
pub mod dispatch;
mod error;
pub mod events;
pub mod hook;
mod ids;
pub mod loader;
pub mod map;
mod object;
pub mod pin;
mod sys;
pub mod verifier;
pub mod vm;
pub mod vm_maps;

pub use btf::{program_signature, program_signatures, ProgramSignature};
pub use chains::HeapUsage;
pub use cpu::{pin_thread_to_cpu, pin_thread_to_current_cpu, CpuPin};
pub use error::{Error, Result};
pub use events::EventReader;
pub use hook::{Attachment, Hook, ProgContext, TcPlacement, UnknownHook};
pub use ids::{ChainId, ProgramId};
pub use libbpf_rs::MapType;
pub use loader::{
    attached_xdp_program, interface_index, tc_programs, Loader, TestRun, TestRunResult, XdpAction,
    XdpMode, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT,
};
pub use map::{MapRef, UpdateMode};
pub use vm::{ProgramInfo, Vm, VmOptions};
pub use vm_maps::{MapLayout, VmMap, EVENTS_RING_BYTES};

#[cfg(test)]
mod tests {
    #[test]
    fn handles_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::Vm>();
        send_sync::<crate::Loader>();
        send_sync::<crate::MapRef>();
    }
}
