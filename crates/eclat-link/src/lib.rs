//! From an eCLAT script on disk to a running HIKe VM: what `eclat run` (and the daemon) do
//! around the compiler.
//!
//! [`project`] reads the script with what it imports (the catalog of packages, sibling
//! scripts, files of C chains) and compiles it all into link units; it reads files and may run
//! clang, but makes no BPF syscall. [`link()`] is pure: it gives every distinct (object, program) a program ID and every chain a
//! chain ID, links the chains' calls to them, picks the loader, and encodes the script's map
//! configuration (`prog[map] = {...}`) with each map's BTF layout, chain names becoming chain
//! IDs. [`LoadedScript::load`] then creates a private [`hike_runtime::Vm`] (attached to no
//! interface), loads the programs, validates and installs the chains, loads the loader and
//! writes the map configuration. A [`Runner`] runs packets through the loader with
//! `BPF_PROG_TEST_RUN`, optionally on a replay clock ([`Runner::run_at`]), and reports each
//! one ([`PacketRun`]: verdict, packet, redirect target, fault, result, the cause of the
//! verdict, the events emitted, a count of the chains and programs it went through and, with
//! [`LoadOptions::calls`], the ordered call trace of [`trace`]);
//! [`LoadedScript::dump_maps`] decodes the programs' maps. Dropping the [`LoadedScript`]
//! removes everything from the kernel. With [`LoadOptions::mode`] [`Mode::Fused`], [`fused`]
//! builds the loader, chains and program bodies into one program (`hike-fused`) that packets
//! run through instead, on the same maps, and turns a verifier refusal into the script's
//! diagnostic.
//!
//! ```no_run
//! use eclat_catalog::PackageCatalog;
//! use eclat_compiler::{compile, ChainTable};
//! use eclat_link::{link, LoadOptions, LoadedScript, Unit};
//!
//! let src = "\
//! from programs.net import hike_drop
//! from loaders.basic import ip6_sc
//! ip6_sc[ipv6_sc_map] = { (0): (drop_all) }
//! def drop_all():
//!     hike_drop()
//! ";
//! let catalog = PackageCatalog::standard().unwrap();
//! let script = compile(src, &catalog, &ChainTable::new()).script.unwrap();
//! let linked = link(&catalog, Unit { name: "drop", script: &script }, &[], None).unwrap();
//! let opts = LoadOptions { trace: true, calls: true, ..LoadOptions::default() };
//! let loaded = LoadedScript::load(&catalog, linked, &opts).unwrap();
//! let runner = loaded.runner().unwrap();
//! let run = runner.run(&[0u8; 64]).unwrap(); // not IPv6: the loader's default verdict
//! assert!(!run.booted);
//! ```

#![deny(missing_docs)]

mod error;
pub mod fused;
pub mod link;
mod load;
pub mod project;
pub mod trace;
pub mod verify;

pub use error::{LinkError, Result};
pub use fused::Mode;
pub use link::{link, link_with, FromZero, IdAllocator, LinkedScript, Unit};
pub use load::{FaultReport, LoadOptions, LoadedScript, MapDump, PacketRun, Runner, Trace};
