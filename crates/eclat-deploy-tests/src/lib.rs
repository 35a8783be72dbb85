//! The checks of `deploy/` (in `tests/`): the Kubernetes manifests against the API types,
//! and the Containerfile against the workspace. No cluster and no container engine run here;
//! these checks are what stands for them.
//!
//! This library is the tests' strict manifest reader ([`manifest`]); nothing else uses it.

pub mod manifest;

use std::path::PathBuf;

/// The repository's root (this crate is `crates/eclat-deploy-tests`).
pub fn repo_root() -> PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .expect("crates/eclat-deploy-tests has a grandparent")
        .to_owned()
}
