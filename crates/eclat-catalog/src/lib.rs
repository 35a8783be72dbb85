//! The eCLAT program catalog, read from the compiled objects.
//!
//! [`PackageCatalog`] implements the compiler's [`eclat_compiler::Catalog`] from the real
//! programs: the package manifests (`bpf/programs/*/package.toml`, `bpf/loaders/*/package.toml`,
//! embedded when this crate is built) say which names each package exports and from which
//! object; each object's BTF gives the program's parameters (the SDK's `hike_params:` decl
//! tag), its maps and the C layout of their keys and values ([`layout`]); its code says
//! whether it is terminal (a program that never tail-calls cannot resume its chain). User
//! packages (`--package-dir DIR`: `DIR/PKG/*.bpf.c`) are compiled with clang on first use and
//! cached by content hash ([`user`]).
//!
//! The catalog also keeps each object's bytes, so that `eclat-link` loads exactly what the
//! script was checked against, and each map's [`layout::MapLayout`], which encodes a script's
//! map configuration and decodes map dumps.
//!
//! This crate reads files (user packages, the cache) and runs clang (`hike-toolchain`), and
//! reads what an object declares from its ELF and BTF by itself ([`object`]); it makes no BPF
//! syscall and loads nothing into the kernel. It depends on neither `hike-runtime` nor
//! libbpf-rs, so the crate graph shows it (libbpf-sys comes in with `hike-bpf`, for the BPF
//! headers only). The runtime reads the SDK's tags for itself, from the BTF the kernel keeps
//! for a loaded program: both take the tags' names from `hike_isa::abi::tags`, and the
//! runtime does not depend on this crate, which sits above it (it needs the compiler and the
//! standard objects).
//!
//! ```
//! use eclat_catalog::PackageCatalog;
//! use eclat_compiler::{compile, Catalog, ChainTable};
//!
//! let catalog = PackageCatalog::standard().unwrap();
//! let monitor = catalog.program("net", "monitor").unwrap();
//! assert_eq!(monitor.params, ["event"]);
//! assert!(!monitor.terminal);
//! assert!(catalog.program("hike_default", "hike_drop").unwrap().terminal);
//!
//! let src = "from programs.net import monitor, hike_pass\ndef c():\n    monitor(1)\n    hike_pass()\n";
//! assert!(!compile(src, &catalog, &ChainTable::new()).has_errors());
//! ```

#![deny(missing_docs)]

mod catalog;
mod entry_text;
mod error;
pub mod hook;
pub mod layout;
pub mod manifest;
pub mod object;
pub mod prebuilt;
pub mod user;

/// Manifests and headers embedded by `build.rs`.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use catalog::{
    LoaderEntry, ObjectEntry, ObjectId, Origin, PackageCatalog, ProgramEntry, TcBuild,
};
pub use error::{CatalogError, Result};
pub use hook::Hook;
pub use layout::{EncodeError, FieldLayout, FieldWrite, MapLayout, ValueLayout};
pub use object::{inspect_object, ObjectError, ObjectInfo};
pub use user::ObjectCache;
