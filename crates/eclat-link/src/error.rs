//! The linker's and loader's error type.

use eclat_catalog::EncodeError;

/// Everything that can go wrong while linking a script or loading it into a VM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The script could not be built fused (a recursive chain, a missing source, clang).
    #[error("cannot build the script fused: {source}")]
    Fuse {
        /// Why.
        source: Box<hike_fused::FuseError>,
    },

    /// The kernel refused the fused program (nothing of it stays loaded).
    #[error(
        "cannot load the script fused{}: {refusal}\nhelp: load the script \
         interpreted (--mode interpreted): its chains then need no verification",
        place.as_ref().map(|p| format!(" (the verifier stopped in {p})")).unwrap_or_default()
    )]
    LoadFused {
        /// The chain the verifier stopped in and its definition (`chain `c` (FILE:LINE)`),
        /// when it stopped in a chain's code.
        place: Option<String>,
        /// The refusal, with the verifier's summary and where its whole log was saved (not
        /// the error's source: the advice must come after it).
        refusal: Box<hike_runtime::Error>,
    },

    /// The script imports no loader, so no packet can enter its chains.
    #[error("the script imports no loader: add `from loaders.basic import ip6_sc` (or another) and configure its map")]
    NoLoader,

    /// The script imports several loaders and none was chosen.
    #[error("the script imports several loaders ({}): choose one", loaders.join(", "))]
    SeveralLoaders {
        /// Their names.
        loaders: Vec<String>,
    },

    /// The loader asked for is not imported by the script.
    #[error("the script does not import a loader `{name}` (it imports: {})", imported.join(", "))]
    UnknownLoader {
        /// The name asked for.
        name: String,
        /// What the script imports.
        imported: Vec<String>,
    },

    /// A program or loader the compiler accepted is not in the catalog given to the linker.
    #[error("`{package}.{name}` is not in the catalog")]
    NotInCatalog {
        /// Its package.
        package: String,
        /// Its name.
        name: String,
    },

    /// Two scripts define a chain of the same name.
    #[error("chain `{name}` is defined by both `{first}` and `{second}`")]
    DuplicateChain {
        /// The chain.
        name: String,
        /// The first script.
        first: String,
        /// The second script.
        second: String,
    },

    /// More programs or chains than the VM's tables have free.
    #[error(
        "the script needs {count} {what}, but only {free} of the vm's {max} {what} slots are free"
    )]
    TooMany {
        /// `programs` or `chains`.
        what: &'static str,
        /// How many the script (with what it imports) needs.
        count: usize,
        /// How many were free (the ones it got before the table ran out).
        free: usize,
        /// The table size.
        max: u32,
    },

    /// A chain calls a program or chain that none of the linked scripts provides (an imported
    /// chain whose script was not given).
    #[error("chain `{chain}` cannot be linked")]
    Unresolved {
        /// The chain.
        chain: String,
        /// The assembler's error, naming the symbol.
        #[source]
        source: hike_isa::asm::LinkError,
    },

    /// A map configuration names a map that the program or loader does not have.
    #[error("`{owner}` has no map `{map}`")]
    NoMap {
        /// The program or loader.
        owner: String,
        /// The map.
        map: String,
    },

    /// A map entry does not fit the map's layout.
    #[error("cannot configure `{owner}[{map}]`")]
    Encode {
        /// The program or loader.
        owner: String,
        /// The map.
        map: String,
        /// What does not fit (boxed: keeps the error small).
        #[source]
        source: Box<EncodeError>,
    },

    /// Creating the private VM failed (not root?).
    #[error("cannot create a vm instance (eclat run needs root, or CAP_BPF and CAP_NET_ADMIN)")]
    Vm {
        /// The runtime's error.
        #[source]
        source: Box<hike_runtime::Error>,
    },

    /// Loading a program into the VM failed (the verifier's log is in the source).
    #[error("cannot load program `{name}` (object `{object}`)")]
    LoadProgram {
        /// The program.
        name: String,
        /// Its object.
        object: String,
        /// The runtime's error.
        #[source]
        source: Box<hike_runtime::Error>,
    },

    /// Validating or installing a chain failed.
    #[error("cannot install chain `{name}`")]
    InstallChain {
        /// The chain.
        name: String,
        /// The runtime's error (with every validation problem).
        #[source]
        source: Box<hike_runtime::Error>,
    },

    /// An object has no build for the hook asked for.
    #[error("object `{object}` has no build for the hook `{hook}`: run it at `xdp`")]
    NoBuildForHook {
        /// The object.
        object: String,
        /// The hook.
        hook: eclat_catalog::Hook,
    },

    /// Loading the loader failed.
    #[error("cannot load loader `{name}` (object `{object}`)")]
    LoadLoader {
        /// The loader.
        name: String,
        /// Its object.
        object: String,
        /// The runtime's error.
        #[source]
        source: Box<hike_runtime::Error>,
    },

    /// Writing a map entry failed.
    #[error("cannot write map `{owner}.{map}`")]
    WriteMap {
        /// The program or loader.
        owner: String,
        /// The map.
        map: String,
        /// The runtime's error.
        #[source]
        source: Box<hike_runtime::Error>,
    },

    /// Running a packet, or reading the VM's state or a map, failed.
    #[error("cannot {what}")]
    Run {
        /// What was being done.
        what: String,
        /// The runtime's error.
        #[source]
        source: Box<hike_runtime::Error>,
    },
}

/// The linker's result type.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
