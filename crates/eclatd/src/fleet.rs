//! `eclatd --etcd`: the daemon as a fleet node. [`Node`] is the `eclat_fleet::agent::Local`
//! of the daemon (a prepare is [`Daemon::prepare`], which holds the new generation loaded
//! beside the running one; a commit is [`Daemon::commit_prepared`], the switch of a local
//! replace, or a fresh load where nothing is held; an abort [`Daemon::drop_prepared`]; a
//! removal an unload), and [`spawn`] runs the agent beside the gRPC server. Without
//! `--etcd` none of this runs and the daemon is the single-node one.
//!
//! The protocol itself (keys, watch, two phases) is `eclat-fleet`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eclat_fleet::agent::{AgentConfig, Local};
use eclat_fleet::model::{NodeInfo, Spec};
use eclat_fleet::objects::Objects;
use eclat_fleet::{EtcdOptions, Layout};

use crate::crash;
use crate::daemon::{Bundle, Daemon, Placement, ScriptSource};
use crate::error::DaemonError;

/// The crash points of a fleet node (`ECLATD_CRASH_AT`, test builds only): `fleet.prepare`
/// kills the daemon as it starts preparing, after its `preparing` answer; `prepare.STEP`
/// within the prepare's own steps (`Daemon::prepare`, the first half of a replace).
pub const POINTS: &[&str] = &[
    "fleet.prepare",
    "prepare.intent.written",
    "prepare.intent.saved",
    "prepare.program.loaded",
    "prepare.chain.installed",
    "prepare.loader.loaded",
    "prepare.map.written",
];

/// `--etcd` and its options.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// How to reach etcd.
    pub etcd: EtcdOptions,
    /// `--etcd-prefix`.
    pub prefix: String,
    /// `--node`.
    pub node: String,
    /// `--label KEY=VALUE`.
    pub labels: BTreeMap<String, String>,
    /// The lease's time to live.
    pub lease_ttl: Duration,
}

/// The daemon behind the fleet agent.
pub struct Node {
    daemon: Arc<Daemon>,
}

/// The script of `spec`, linked against the standard packages and its user packages built
/// by the operator (`objects`, fetched and checked): never the daemon's own package folders,
/// so that every node loads the same build, without clang.
fn source(spec: &Spec, objects: &Objects) -> Result<ScriptSource, String> {
    let bundle = if spec.packages.is_empty() {
        None
    } else {
        let catalog = eclat_fleet::packages::catalog(&spec.packages, objects)?;
        let hashes = eclat_fleet::model::package_hashes(&spec.packages);
        Some(Arc::new(Bundle {
            packages: spec.packages.clone(),
            objects: objects
                .iter()
                .filter(|(h, _)| hashes.contains(*h))
                .map(|(h, b)| (h.clone(), b.clone()))
                .collect(),
            catalog: Arc::new(catalog),
        }))
    };
    let mut c_objects = BTreeMap::new();
    for (file, hash) in &spec.c_chains {
        let bytes = objects.get(hash).ok_or_else(|| {
            format!("the C chains of `{file}`: object sha256:{hash} was not fetched")
        })?;
        c_objects.insert(file.clone(), bytes.clone());
    }
    Ok(ScriptSource {
        file_name: spec.file_name.clone(),
        text: spec.text.clone(),
        siblings: spec.siblings.clone(),
        defines: spec.defines.clone(),
        bundle,
        c_objects,
    })
}

impl Local for Node {
    fn prepare(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        objects: &Objects,
    ) -> Result<(), String> {
        let _op = crash::Operation::enter("fleet");
        crash::point("prepare");
        match self
            .daemon
            .prepare(name, generation, &source(spec, objects)?)
        {
            Ok(_) => {
                tracing::info!(script = name, generation, "fleet: prepared");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn abort(&self, name: &str, generation: u64) {
        let dropped = self.daemon.drop_prepared(name, generation);
        tracing::info!(
            script = name,
            generation,
            dropped,
            "fleet: rollout aborted, the prepared generation dropped"
        );
    }

    fn commit(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        objects: &Objects,
    ) -> Result<(), String> {
        // The prepared generation, switched to as a local replace does; a node that did not
        // prepare it (down during the rollout, restarted, or another load dropped it) loads
        // it afresh, with the default placement: the fleet's scripts run in name order.
        let prepared = self.daemon.commit_prepared(name, generation);
        let from_prepared = prepared.is_some();
        let result = match prepared {
            Some(r) => r,
            None => self.daemon.load(
                Some(name),
                &source(spec, objects)?,
                None,
                &Placement::default(),
            ),
        };
        match result {
            Ok(loaded) => {
                tracing::info!(
                    script = name,
                    generation,
                    local_generation = loaded.script.generation,
                    replaced = loaded.replaced,
                    from_prepared,
                    "fleet: switched"
                );
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn remove(&self, name: &str) -> Result<(), String> {
        match self.daemon.unload(name) {
            Ok(_) | Err(DaemonError::NoScript { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The interfaces of the daemon's network namespace, by name.
fn interfaces() -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns an array ended by a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return out;
        }
        let mut p = list;
        while (*p).if_index != 0 {
            out.push(
                std::ffi::CStr::from_ptr((*p).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    out
}

/// Starts the agent on the current runtime; it stops when `stop` completes.
pub fn spawn(
    opts: FleetOptions,
    daemon: Arc<Daemon>,
    state_dir: PathBuf,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let config = AgentConfig {
        etcd: opts.etcd,
        layout: Layout::new(&opts.prefix),
        node: NodeInfo {
            name: opts.node,
            labels: opts.labels,
            version: eclat_proto::version::line().to_owned(),
            interfaces: interfaces(),
            last_seen: 0,
        },
        lease_ttl: opts.lease_ttl,
        state_file: state_dir.join("fleet.json"),
        object_cache: crate::daemon::object_cache(&state_dir),
    };
    let local: Arc<dyn Local> = Arc::new(Node { daemon });
    tokio::spawn(eclat_fleet::agent::run(config, local, stop))
}
