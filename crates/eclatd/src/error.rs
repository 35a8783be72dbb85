//! What can go wrong in a request, and the gRPC status each becomes.
//!
//! Every variant names the thing and, where there is one, the fix. The mapping to status
//! codes lives here ([`DaemonError::code`]) so that the service only converts.

use std::path::PathBuf;

use tonic::Code;

/// A request the daemon refused or could not carry out. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A script, map or file name that cannot be used.
    #[error("invalid {what} `{name}`: {why}")]
    InvalidName {
        /// What the name is for (`script name`, `file name`).
        what: &'static str,
        /// The name, as given.
        name: String,
        /// What a valid one looks like.
        why: &'static str,
    },

    /// A field that must be given was empty.
    #[error("missing {what}")]
    Missing {
        /// The field.
        what: &'static str,
    },

    /// A field over the daemon's size limit.
    #[error("{what} is {size} bytes, over the limit of {max} bytes")]
    TooBig {
        /// The field.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// A list with more entries than the daemon takes.
    #[error("{what} has {count} entries, over the limit of {max}")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Its entries.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// `-D NAME=VALUE` that cannot be used.
    #[error("invalid definition `{name}={value}`: {why}")]
    BadDefine {
        /// NAME.
        name: String,
        /// VALUE.
        value: String,
        /// Why.
        why: String,
    },

    /// The script (or what it imports) does not compile; the rendered diagnostics.
    #[error("{diagnostics}")]
    Compile {
        /// `FILE:LINE:COL: error: …` with source lines and carets.
        diagnostics: String,
    },

    /// Linking the compiled script failed (a loader not imported, tables full, …).
    #[error("cannot link script `{script}`: {message}")]
    Link {
        /// The script.
        script: String,
        /// The linker's message, with its causes.
        message: String,
    },

    /// The daemon's package directories cannot be read (a package that does not build is not
    /// this error: it refuses only the scripts that import it, as a compile error).
    #[error(
        "cannot read the packages of `--package-dir` {dirs}: {message}\n(fix the package and \
         load again; loaded scripts keep running the build they were loaded with)"
    )]
    Packages {
        /// The directories, quoted and comma-separated.
        dirs: String,
        /// What went wrong, with its causes (a C error as clang gives it).
        message: String,
    },

    /// No script of this name is loaded.
    #[error("no script `{name}` is loaded (eclat list shows what is)")]
    NoScript {
        /// The name.
        name: String,
    },

    /// A fleet script's user packages could not be rebuilt after a restart (their record or
    /// an object of the node's cache is missing or damaged).
    #[error("the user packages fleet script `{script}` was linked against could not be rebuilt when eclatd started: {why}; the script runs as before, but its maps' layouts are unknown until it is rolled out again (`eclat fleet apply`)")]
    PackagesLost {
        /// The script.
        script: String,
        /// Why (the file or the object, and what is wrong with it).
        why: String,
    },

    /// The script has no map of this name.
    #[error("script `{script}` has no map `{map}`; its maps: {available}")]
    NoMap {
        /// The script.
        script: String,
        /// The map, as asked.
        map: String,
        /// The maps it has, comma-separated.
        available: String,
    },

    /// The map belongs to a program (or loader) loaded from another build of its object than
    /// the daemon's packages now have (the package's source, or eclatd, changed since): its
    /// layout is unknown.
    #[error(
        "map `{map}` of script `{script}` belongs to `{program}`, loaded from another build of \
         `{object}` than the one the daemon has now (its package, or eclatd, changed since); \
         load `{script}` again to run the current build (with new, empty maps), then use its \
         maps"
    )]
    StaleBuild {
        /// The script.
        script: String,
        /// The map, as asked.
        map: String,
        /// The program or loader whose map it is.
        program: String,
        /// The program's object.
        object: String,
    },

    /// The map has no entry with this key.
    #[error("map `{map}` of script `{script}` has no entry with key {key}; `eclat map dump {script} {map}` shows its entries")]
    NoEntry {
        /// The script.
        script: String,
        /// The map.
        map: String,
        /// The key, as given.
        key: String,
    },

    /// A key or value that does not fit the map's layout.
    #[error("map `{map}`: {message}")]
    BadEntry {
        /// The map.
        map: String,
        /// What is wrong, with the expected layout.
        message: String,
    },

    /// An interface of an `attach` does not exist in the daemon's network namespace.
    #[error("script `{script}` attaches to interface `{device}`, which does not exist in eclatd's network namespace; create it, or pass -D to name another device")]
    NoInterface {
        /// The script.
        script: String,
        /// The interface.
        device: String,
    },

    /// An attachment the daemon cannot make.
    #[error("script `{script}`: {message}")]
    Unsupported {
        /// The script.
        script: String,
        /// What and why.
        message: String,
    },

    /// A hook already runs as many scripts as it takes.
    #[error("script `{script}`: the {hook} hook of interface `{device}` already runs {count} scripts, the most one hook takes ({max}); unload one of them first ({})", scripts.join(", "))]
    HookFull {
        /// The script being loaded.
        script: String,
        /// The interface.
        device: String,
        /// The hook.
        hook: String,
        /// Scripts there now.
        count: usize,
        /// The limit.
        max: u32,
        /// Their names, in order.
        scripts: Vec<String>,
    },

    /// A replace at a TC hook would move the script among the hook's programs: tcx cannot
    /// move a link atomically, and a detach and attach would let packets miss it.
    #[error("script `{script}`: the new version's --{what} ({new}) would move it at {at} (now {old}); the kernel cannot move a tcx program atomically, so a replace keeps a TC script's place: replace it without --{what}, or unload `{script}` and load it again with --{what} {new}")]
    TcMove {
        /// The script being replaced.
        script: String,
        /// Where: "the tc_ingress hook of interface `eth0`".
        at: String,
        /// `priority` or `tc-placement`.
        what: &'static str,
        /// The value it has.
        old: String,
        /// The value asked for.
        new: String,
    },

    /// The hook runs a program eclatd did not attach: it is left alone.
    #[error("script `{script}`: interface `{device}` already runs xdp program {id} `{prog}`, which eclatd did not attach; eclatd never replaces another tool's program: detach it first (`ip link set dev {device} xdp off`, or with the tool that attached it), then load again")]
    ForeignProgram {
        /// The script being loaded.
        script: String,
        /// The interface.
        device: String,
        /// The kernel's program ID.
        id: u32,
        /// The kernel's name of the program.
        prog: String,
    },

    /// A `--tc-placement` that is neither `first` nor `last`.
    #[error("--tc-placement {text:?} is no placement: use `first` (before other tools' tcx programs) or `last` (after them)")]
    BadTcPlacement {
        /// As given.
        text: String,
    },

    /// A `--proceed-on` that names no verdict.
    #[error("--proceed-on {text:?}: {why}")]
    BadProceedOn {
        /// As given.
        text: String,
        /// What is wrong.
        why: String,
    },

    /// The kernel refused a script's fused program; everything done before was undone.
    #[error("script `{script}` (nothing was changed): {message}")]
    FusedRefused {
        /// The script.
        script: String,
        /// Where the verifier stopped in the script, its summary, the saved log's path and
        /// the advice to load the script interpreted (`eclat_link::LinkError::LoadFused`).
        message: String,
    },

    /// The kernel refused a step; everything done before it was undone.
    #[error("cannot {step} (nothing was changed): {message}")]
    Kernel {
        /// The step.
        step: String,
        /// The error with its causes.
        message: String,
    },

    /// The state file could not be written; the change was undone.
    #[error("cannot save the daemon state to `{path}` (nothing was changed): {source}")]
    SaveState {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },

    /// A file of the daemon's state directory could not be written.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl DaemonError {
    /// The gRPC status code of this error.
    pub fn code(&self) -> Code {
        match self {
            DaemonError::InvalidName { .. }
            | DaemonError::Missing { .. }
            | DaemonError::TooBig { .. }
            | DaemonError::TooMany { .. }
            | DaemonError::BadDefine { .. }
            | DaemonError::BadProceedOn { .. }
            | DaemonError::BadTcPlacement { .. }
            | DaemonError::Compile { .. }
            | DaemonError::BadEntry { .. } => Code::InvalidArgument,
            DaemonError::NoScript { .. }
            | DaemonError::NoMap { .. }
            | DaemonError::NoEntry { .. } => Code::NotFound,
            DaemonError::Link { .. }
            | DaemonError::NoInterface { .. }
            | DaemonError::HookFull { .. }
            | DaemonError::TcMove { .. }
            | DaemonError::ForeignProgram { .. }
            | DaemonError::StaleBuild { .. }
            | DaemonError::Packages { .. }
            | DaemonError::PackagesLost { .. } => Code::FailedPrecondition,
            DaemonError::Unsupported { .. } => Code::Unimplemented,
            DaemonError::FusedRefused { .. } => Code::FailedPrecondition,
            DaemonError::Kernel { .. } => Code::Aborted,
            DaemonError::SaveState { .. } | DaemonError::Io { .. } => Code::Internal,
        }
    }

    /// A kernel step's error, with its chain of causes.
    pub fn kernel(step: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> DaemonError {
        DaemonError::Kernel {
            step: step.into(),
            message: chain(e),
        }
    }
}

/// `error: cause: cause`, one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

impl From<DaemonError> for tonic::Status {
    fn from(e: DaemonError) -> tonic::Status {
        tonic::Status::new(e.code(), e.to_string())
    }
}

/// The daemon's result type.
pub type Result<T, E = DaemonError> = std::result::Result<T, E>;
