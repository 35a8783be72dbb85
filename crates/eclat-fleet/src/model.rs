//! What the fleet's keys hold (JSON): nodes, the desired state of a script, a rollout in
//! progress and each node's answer. The layout of the keys is [`crate::keys`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A node as it registers: `nodes/NODE`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name (`eclatd --node`).
    pub name: String,
    /// Its labels (`--label KEY=VALUE`).
    pub labels: BTreeMap<String, String>,
    /// The eclatd version line.
    pub version: String,
    /// Its network interfaces (names), where scripts can attach.
    pub interfaces: Vec<String>,
    /// When it last wrote this record (Unix seconds).
    pub last_seen: u64,
}

/// A script as the fleet runs it: what `eclat fleet apply` sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The file name as the user gave it (diagnostics name it).
    pub file_name: String,
    /// Its text.
    pub text: String,
    /// Files beside it that it imports chains from: `(file name, text)`.
    pub siblings: Vec<(String, String)>,
    /// `-D NAME=VALUE`.
    pub defines: Vec<(String, String)>,
    /// The nodes it runs on: every live node whose labels include all of these.
    pub selector: BTreeMap<String, String>,
    /// The user packages it imports from, built by the operator: their objects are in etcd
    /// by SHA-256 (`objects/sha256/HEX`), so that a node needs neither the package folders
    /// nor clang, and every node loads the same build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// The files of C chains among `siblings` (`NAME.hike.c`), built by the operator with
    /// clang and `defines`: the SHA-256 of each object, by file name. The objects are in
    /// etcd as the packages' are, so that a node compiles no C.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub c_chains: BTreeMap<String, String>,
}

/// A user package a script needs, as built objects named by their SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// The text of its `package.toml`, if it has one (`[about]`, `[map_aliases]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// What it exports, each resolved to its object.
    pub exports: Vec<Export>,
}

/// One program or loader of a [`Package`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// A loader (else a HIKe program).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loader: bool,
    /// The exported name.
    pub name: String,
    /// Its object.
    pub object: ObjectRef,
}

/// The object of an [`Export`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ObjectRef {
    /// A standard object every node has, by stem.
    Standard {
        /// Its name without `.bpf.c`.
        stem: String,
    },
    /// A user object, by the SHA-256 (hex) of each build.
    User {
        /// Its source's name without `.bpf.c`.
        stem: String,
        /// The package whose folder held the source.
        home: String,
        /// The XDP build.
        xdp: String,
        /// The TC build, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tc: Option<String>,
    },
}

impl Spec {
    /// The SHA-256 (hex) of every object its packages and C chains name, each once.
    pub fn object_hashes(&self) -> std::collections::BTreeSet<String> {
        let mut out = package_hashes(&self.packages);
        out.extend(self.c_chains.values().cloned());
        out
    }
}

/// The SHA-256 (hex) of every object `packages` name, each once.
pub fn package_hashes(packages: &[Package]) -> std::collections::BTreeSet<String> {
    packages
        .iter()
        .flat_map(|p| &p.exports)
        .filter_map(|e| match &e.object {
            ObjectRef::User { xdp, tc, .. } => Some(std::iter::once(xdp).chain(tc)),
            ObjectRef::Standard { .. } => None,
        })
        .flatten()
        .cloned()
        .collect()
}

/// What a generation does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Action {
    /// Load (or replace with) this script on every selected node.
    Apply {
        /// The script.
        spec: Spec,
    },
    /// Unload it from every node.
    Delete,
}

/// A rollout in progress: `scripts/NAME/proposal`, under the CLI's lease (a CLI that dies
/// leaves no proposal behind once its lease expires: the rollout aborts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The generation it would become.
    pub generation: u64,
    /// What it does.
    pub action: Action,
    /// The nodes asked to prepare (the live nodes the selector matched).
    pub nodes: Vec<String>,
}

/// A rollout's canary step: `scripts/NAME/canary`, under the CLI's lease, beside the
/// proposal. These nodes switch to the proposed generation before the others; the commit
/// deletes it, and an abort too (the canaries then go back to the committed generation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// The proposed generation.
    pub generation: u64,
    /// The proposal's revision.
    pub attempt: i64,
    /// The nodes that switch first.
    pub nodes: Vec<String>,
}

/// The desired state every node converges to: `scripts/NAME/committed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// The generation.
    pub generation: u64,
    /// The etcd revision of the proposal it committed: the rollout's attempt.
    pub attempt: i64,
    /// What it does.
    pub action: Action,
    /// The nodes that prepared it.
    pub nodes: Vec<String>,
}

impl Committed {
    /// The spec, unless the script is deleted.
    pub fn spec(&self) -> Option<&Spec> {
        match &self.action {
            Action::Apply { spec } => Some(spec),
            Action::Delete => None,
        }
    }
}

/// Where a node is with a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// It started preparing.
    Preparing,
    /// Compiled, linked and verified beside the running version, not switched.
    Prepared,
    /// It could not prepare, or could not switch: see the error.
    Failed,
    /// It runs the generation (or, for a delete, has unloaded the script).
    Committed,
    /// It dropped the prepared generation (the rollout aborted).
    Aborted,
}

impl Phase {
    /// The word the CLI shows.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Preparing => "preparing",
            Phase::Prepared => "prepared",
            Phase::Failed => "failed",
            Phase::Committed => "committed",
            Phase::Aborted => "aborted",
        }
    }
}

/// A node's answer: `status/NAME/NODE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The generation it is about.
    pub generation: u64,
    /// The rollout attempt (the proposal's revision) it answers; 0 when the node converged
    /// to a committed generation by itself (at start, or when etcd came back).
    pub attempt: i64,
    /// Where it is.
    pub phase: Phase,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// When (Unix seconds).
    pub at: u64,
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
