//! The fleet's errors, each naming what failed and how to fix it.

/// What went wrong talking to the fleet's store or in a rollout's rules.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// etcd could not be reached or refused a request.
    #[error("etcd at {endpoints}: {cause} (is etcd running there, and are --etcd-ca/--etcd-cert/--etcd-key right for it?)")]
    Etcd {
        /// The endpoints tried.
        endpoints: String,
        /// The client's error (in the message: not also a source, or it shows twice).
        cause: etcd_client::Error,
    },
    /// A request to etcd failed.
    #[error("etcd request `{what}`: {cause}")]
    Request {
        /// What was asked.
        what: String,
        /// The client's error (in the message).
        cause: etcd_client::Error,
    },
    /// A TLS file could not be read.
    #[error("cannot read {what} `{path}`: {source}")]
    TlsFile {
        /// Which option.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--etcd-cert` without `--etcd-key` or the reverse.
    #[error("--etcd-cert and --etcd-key go together: give both, or neither")]
    HalfIdentity,
    /// A key held something that is not what the protocol writes there.
    #[error("etcd key `{key}` does not hold a valid fleet record: {source} (written by another version, or by hand?)")]
    Corrupt {
        /// The key.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A selector or label that is not `KEY=VALUE`.
    #[error("`{text}` is not a label: write KEY=VALUE (letters, digits, `-`, `_`, `.`, `/`), e.g. `role=edge`")]
    BadLabel {
        /// What was given.
        text: String,
    },
    /// A script or node name that is not usable in a key.
    #[error(
        "`{name}` is not a valid {what} name: use letters, digits, `-`, `_` and `.`, at most 64"
    )]
    BadName {
        /// Which name.
        what: &'static str,
        /// What was given.
        name: String,
    },
    /// The selector matched no live node.
    #[error("the selector {selector} matches no live node (live nodes: {live}); check `eclat fleet nodes`")]
    NoNode {
        /// The selector, rendered.
        selector: String,
        /// The live nodes and their labels.
        live: String,
    },
    /// Another rollout of the script is in progress (or raced this one).
    #[error("a rollout of `{script}` is in progress (generation {generation}); wait for it to end (it aborts by itself after its --timeout)")]
    Busy {
        /// The script.
        script: String,
        /// The generation being rolled out.
        generation: u64,
    },
    /// The desired state changed between reading it and proposing.
    #[error(
        "the desired state of `{script}` changed while this rollout started; run the command again"
    )]
    Raced {
        /// The script.
        script: String,
    },
    /// A built object too big for one etcd value.
    #[error("the {build} build of `{stem}` (user package `{package}`) is {size} bytes: over the {max} bytes one etcd value may hold (etcd's --max-request-bytes, 1.5 MiB by default); split the package's programs over more `.bpf.c` files")]
    ObjectTooBig {
        /// The package.
        package: String,
        /// The object.
        stem: String,
        /// `xdp` or `tc`.
        build: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A user package could not be taken out of the catalog (its manifest unreadable).
    #[error("user package `{package}`: {message}")]
    Package {
        /// The package.
        package: String,
        /// Why.
        message: String,
    },
    /// `fleet delete` or `fleet status` of a script the fleet does not have.
    #[error("the fleet has no script `{script}`; `eclat fleet status` lists them")]
    NoScript {
        /// The script.
        script: String,
    },
}

impl FleetError {
    /// Whether etcd could not be reached at all (the CLI's exit status 3).
    pub fn unreachable(&self) -> bool {
        match self {
            FleetError::Etcd { .. } => true,
            FleetError::Request {
                cause: etcd_client::Error::GRpcStatus(s),
                ..
            } => matches!(
                s.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
            ),
            _ => false,
        }
    }
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, FleetError>;

pub(crate) fn request(what: impl Into<String>) -> impl FnOnce(etcd_client::Error) -> FleetError {
    let what = what.into();
    move |cause| FleetError::Request { what, cause }
}
