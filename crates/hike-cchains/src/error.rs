//! Errors: clang's failures, and every reason a chain function is refused, each naming the C
//! function, the instruction (disassembled) and, with `-g`, the source line.

use std::fmt;
use std::io;
use std::path::PathBuf;

use hike_isa::asm::RelocKind;
use hike_isa::validate::InsnRef;
use thiserror::Error;

/// A place in the C source, from the line info clang emits with `-g`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceLoc {
    /// The file as clang named it (the path given to it, or a header's path).
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1 (0 if unknown).
    pub column: u32,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// Why a `.hike.c` file could not be compiled or loaded, or a chain linked.
#[derive(Debug, Error)]
pub enum CChainError {
    /// No usable clang (`hike_toolchain::find_clang`).
    #[error(transparent)]
    NoClang(#[from] hike_toolchain::NoClang),
    /// clang could not be started.
    #[error("cannot run `{}`: {source}", clang.display())]
    ClangSpawn {
        /// The compiler.
        clang: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// clang reported errors; `diagnostics` is its output (`FILE:LINE:COL: error: …`).
    #[error("clang failed on {}:\n{diagnostics}", file.display())]
    Clang {
        /// The source file.
        file: PathBuf,
        /// clang's standard error and output, as printed.
        diagnostics: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The bytes are not a little-endian relocatable BPF ELF object.
    #[error("not a BPF object file: {reason}")]
    NotBpfObject {
        /// What is wrong.
        reason: String,
    },
    /// One or more chain functions were refused (every problem found, in file order).
    #[error("{}", join_lines(.rejections))]
    Rejected {
        /// The problems; never empty.
        rejections: Vec<Rejection>,
    },
}

impl CChainError {
    /// The refused chain functions' problems (empty for other errors).
    pub fn rejections(&self) -> &[Rejection] {
        match self {
            CChainError::Rejected { rejections } => rejections,
            _ => &[],
        }
    }
}

fn join_lines(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One problem of one chain function: where it is and what is wrong.
///
/// Displayed as `FILE:LINE:COL: chain `NAME`: instruction I (`TEXT`): PROBLEM`, the location
/// and instruction parts only when known.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{}chain `{chain}`: {}{problem}", loc_prefix(.location), insn_prefix(.insn))]
pub struct Rejection {
    /// The C function (the chain's name).
    pub chain: String,
    /// The instruction, unless the problem is the whole function's.
    pub insn: Option<InsnRef>,
    /// The source line of the instruction (or of the function), if the object has line info.
    pub location: Option<SourceLoc>,
    /// What is wrong.
    pub problem: Problem,
}

fn loc_prefix(loc: &Option<SourceLoc>) -> String {
    loc.as_ref().map_or_else(String::new, |l| format!("{l}: "))
}

fn insn_prefix(insn: &Option<InsnRef>) -> String {
    insn.as_ref().map_or_else(String::new, |i| format!("{i}: "))
}

/// What is wrong with a chain function.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Problem {
    /// A `.hike.chain.*` section whose name is not `.hike.chain.NAME(PARAMS)`.
    #[error("section `{section}` is not named `.hike.chain.NAME(PARAMS)`: define chains with HIKE_CHAIN")]
    BadSection {
        /// The section name.
        section: String,
    },
    /// A chain section that does not hold exactly the function it names.
    #[error("section `{section}` must hold exactly the function `{expected}`, found {found}: define chains with HIKE_CHAIN")]
    SectionFunctions {
        /// The section name.
        section: String,
        /// The function the section names.
        expected: String,
        /// The functions found, comma-separated (or `none`).
        found: String,
    },
    /// A chain function whose code is not whole instructions.
    #[error("the function's code is {len} bytes, not a multiple of 8")]
    Truncated {
        /// Bytes of code.
        len: usize,
    },
    /// An `LD_IMM64` of the address of a global, a static, a string literal or a map.
    #[error("refers to {}: chains have no maps, global or static data, or string literals", data_what(.symbol, .section))]
    GlobalData {
        /// The symbol (a section's name for anonymous data such as string literals).
        symbol: String,
        /// The section it lives in.
        section: String,
    },
    /// A `call` of a kernel BPF helper (`src_reg` 0 without a symbol).
    #[error("calls BPF helper {id}: chains have only the VM helpers of hike/chain.h (hike_pkt_load, hike_pkt_store, hike_pkt_len, hike_ktime_ns, hike_event, hike_random)")]
    BpfHelper {
        /// The helper number.
        id: i32,
    },
    /// A BPF-to-BPF call of a function that is not a chain.
    #[error("calls `{function}`, which is not a chain: make it `static __always_inline`, or a chain with HIKE_CHAIN")]
    LocalCall {
        /// The called function (or `SECTION+OFFSET` if it has no symbol).
        function: String,
    },
    /// A call of an undefined symbol that is not a HIKe program, chain or helper.
    #[error("calls `{symbol}`, which is not declared with HIKE_PROG_EXTERN or HIKE_CHAIN_EXTERN (kfuncs and library functions do not exist for chains)")]
    UnknownExtern {
        /// The symbol.
        symbol: String,
    },
    /// A call with no symbol whose kind is not a helper (e.g. a kfunc by BTF ID).
    #[error("calls {imm} with src_reg {src} and no symbol: only programs, chains and VM helpers can be called")]
    UnresolvedCall {
        /// The `src_reg` field.
        src: u8,
        /// The `imm` field.
        imm: i32,
    },
    /// A call of `hike.helper.NAME` for a NAME that is no VM helper.
    #[error("calls VM helper `{name}`, which does not exist")]
    UnknownHelper {
        /// The helper name.
        name: String,
    },
    /// A `hike.*` symbol that does not follow `hike.prog.NAME.N` / `hike.chain.NAME.N`.
    #[error("calls `{symbol}`: HIKe symbols are `hike.prog.NAME.N`, `hike.chain.NAME.N` (N = 0..5) or `hike.helper.NAME`; declare them with the macros of hike/chain.h")]
    BadHikeSymbol {
        /// The symbol.
        symbol: String,
    },
    /// The same program or chain is declared with two parameter counts in one file.
    #[error("{kind} `{name}` is declared with {first} and with {second} parameters")]
    ConflictingDeclarations {
        /// Program or chain.
        kind: RelocKind,
        /// Its name.
        name: String,
        /// The count seen first (for a chain of this file: its definition).
        first: u8,
        /// The other count.
        second: u8,
    },
    /// A relocation chains cannot have.
    #[error("has a relocation of type {r_type} against `{symbol}`, which chains do not support")]
    UnsupportedRelocation {
        /// The ELF relocation type (`R_BPF_*`).
        r_type: u32,
        /// Its symbol.
        symbol: String,
    },
    /// A CO-RE relocation (`BPF_CORE_READ`, `__builtin_preserve_*`).
    #[error("uses a CO-RE relocation (BPF_CORE_READ, __builtin_preserve_*): chains have no kernel types")]
    CoRe,
    /// The load-time validator refused the instruction or the chain.
    #[error("{0}")]
    Invalid(hike_isa::validate::Problem),
    /// A called program or chain that the link does not know.
    #[error("unknown {kind} `{name}`")]
    UnknownCallee {
        /// Program or chain.
        kind: RelocKind,
        /// Its name.
        name: String,
    },
    /// A called program or chain whose real parameter count differs from its declaration.
    #[error("{kind} `{name}` takes {actual} parameters, but is declared with {declared}")]
    ArityMismatch {
        /// Program or chain.
        kind: RelocKind,
        /// Its name.
        name: String,
        /// The count in the C declaration.
        declared: u8,
        /// The count of the real callee.
        actual: u8,
    },
}

fn data_what(symbol: &str, section: &str) -> String {
    if symbol == section {
        if section.starts_with(".rodata.str") {
            format!("a string literal (section `{section}`)")
        } else {
            format!("data in section `{section}`")
        }
    } else {
        format!("`{symbol}` (section `{section}`)")
    }
}
