//! User packages as built objects rather than folders of C: what `eclat fleet apply` takes
//! out of the operator's catalog ([`crate::PackageCatalog::prebuilt`]) and a fleet node puts
//! into its own ([`crate::PackageCatalog::add_prebuilt`]), so that the node links a script
//! against exactly the objects the operator built, with no clang and no package folder.
//!
//! A [`Prebuilt`] package lists its exports already resolved to objects (the manifest's
//! `[programs]` and `[loaders]` are not read again); its manifest text travels only for what
//! the objects cannot say (`[about]`, `[map_aliases]`, the description). Moving the bytes
//! (etcd, content-addressed) is not this module's: `eclat-fleet` does that.

use std::sync::Arc;

/// A user package, built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prebuilt {
    /// Its name.
    pub name: String,
    /// The text of its `package.toml`, if it has one.
    pub manifest: Option<String>,
    /// What it exports, in order.
    pub exports: Vec<PrebuiltExport>,
}

/// One program or loader a prebuilt package exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrebuiltExport {
    /// A loader (else a HIKe program).
    pub loader: bool,
    /// The exported name.
    pub name: String,
    /// The object that has it.
    pub object: PrebuiltObject,
}

/// The object of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrebuiltObject {
    /// A standard object (a manifest may re-export one), by stem: every node has it.
    Standard(String),
    /// An object compiled from a user package's source.
    User {
        /// The source's name without `.bpf.c`.
        stem: String,
        /// The package whose folder held the source.
        home: String,
        /// The XDP build.
        xdp: Arc<[u8]>,
        /// The TC build (`-DHIKE_CTX_TC`), if there is one.
        tc: Option<Arc<[u8]>>,
    },
}
