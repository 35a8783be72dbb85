//! Fused mode: a script's linked chains, the bodies of the programs they call and the loader's
//! classification compiled into ONE program, verified once, with no interpreter and no tail
//! call on the packet's path.
//!
//! [`generate`] translates linked, validated chains (HIKe bytecode whose program and chain calls
//! are IDs) into C: registers are `u64` locals, each instruction is a few lines of C behind a
//! label, a program call is a direct call of the SDK's always-inline body
//! (`___hike_body_NAME`, `bpf/include/hike/sdk.h` built with `HIKE_FUSED`), a chain call a call
//! of the callee's always-inline function, and the loader's body (`HIKE_LOADER`, also built with
//! `HIKE_FUSED`) boots them through `hike_fused_boot()`. The run-time support, and what the
//! generated code promises to keep of the VM's semantics, is `bpf/include/hike/fused.h`.
//! [`compile`] writes the SDK's headers, the programs' and loader's sources and the generated
//! file into a private directory and compiles it with the project's clang and flags.
//!
//! It makes no BPF syscall: loading the object with the interpreted objects' maps (same names,
//! so state is shared between modes) is `hike-runtime`'s (`Vm::load_fused`). It does not
//! validate chains either: its input has passed `hike_isa::validate`, and every step it cannot
//! translate to something the VM would do becomes the fault the VM would raise there.

#![deny(missing_docs)]

mod codegen;
mod compile;

use std::path::PathBuf;

use hike_isa::Insn;

pub use codegen::generate;
pub use compile::{compile, Fused};

/// The name of the fused object's one program.
pub const ENTRY: &str = "hike_fused";

/// Where a program's or loader's C source is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Embedded in `hike-bpf` (`standard::SOURCES` or `test::SOURCES`): the path relative to
    /// the repository (`bpf/programs/meter/ip6_sd_tbmon.bpf.c`).
    Embedded(String),
    /// A file on disk (a user package's `.bpf.c`); files it includes are found beside it.
    File(PathBuf),
}

/// A chain to fuse.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Its chain ID (what the loader's maps hold and calls name).
    pub id: u32,
    /// Its name, for comments and messages.
    pub name: String,
    /// Its code, calls linked.
    pub insns: Vec<Insn>,
    /// The script file and line of its definition, for `#line` (the verifier's line info then
    /// names the script where the fused code came from).
    pub origin: Option<(String, u32)>,
}

/// A program the chains call.
#[derive(Clone, Debug)]
pub struct Program {
    /// Its program ID.
    pub id: u32,
    /// Its name (`HIKE_PROG(NAME, ...)`).
    pub name: String,
    /// Its parameter count.
    pub nparams: usize,
    /// Its source.
    pub source: Source,
}

/// The loader whose classification boots the chains.
#[derive(Clone, Debug)]
pub struct Loader {
    /// Its name (`HIKE_LOADER(NAME)`).
    pub name: String,
    /// Its source.
    pub source: Source,
}

/// Everything one fused program is built from.
#[derive(Clone, Debug)]
pub struct Script {
    /// Every chain (the script's and those it imports): each may be booted by the loader.
    pub chains: Vec<Chain>,
    /// Every program the chains may call.
    pub programs: Vec<Program>,
    /// The loader.
    pub loader: Loader,
    /// Build for TC (`-DHIKE_CTX_TC`, section `tc`) instead of XDP.
    pub tc: bool,
}

/// Why a script could not be fused.
#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    /// Chains that call each other in a cycle: fused chains are inlined C functions.
    #[error(
        "chain `{chain}` calls itself through {path}: a recursive chain cannot be fused (its \
         calls are inlined); load the script interpreted (--mode interpreted)"
    )]
    Recursive {
        /// The chain.
        chain: String,
        /// The cycle, `a -> b -> a`.
        path: String,
    },
    /// A source that is neither embedded nor readable.
    #[error("the source `{source_name}` of `{owner}` is not available for a fused build")]
    NoSource {
        /// The program or loader.
        owner: String,
        /// The source.
        source_name: String,
    },
    /// Writing the build directory.
    #[error("cannot write the fused build in {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No clang.
    #[error(transparent)]
    NoClang(#[from] hike_toolchain::NoClang),
    /// Clang could not be run.
    #[error("cannot run `{clang}`: {source}")]
    RunClang {
        /// The compiler.
        clang: String,
        /// The error.
        source: std::io::Error,
    },
    /// Clang refused the generated C.
    #[error(
        "clang could not compile the fused program (the generated C is kept in {file}):\n{output}"
    )]
    Clang {
        /// The generated file.
        file: PathBuf,
        /// Clang's output.
        output: String,
    },
}
