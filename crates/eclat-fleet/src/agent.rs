//! The node's side of the fleet, run by `eclatd --etcd`: it registers the node under a lease
//! (`alive/NODE`) with its info (`nodes/NODE`), reads and watches the desired state
//! (`scripts/`), and reconciles each script with what runs locally through [`Local`], which
//! the daemon implements:
//!
//! - a proposal that names this node: the objects of its user packages fetched
//!   ([`crate::objects::fetch`]), then [`Local::prepare`] (everything up to the switch), then
//!   status `prepared` or `failed` with the error;
//! - the proposal gone without a commit of its generation: [`Local::abort`], `aborted`;
//! - a committed generation selecting this node that it does not run: [`Local::commit`]
//!   (from the prepared copy, or a fresh load when the node missed the rollout: down, or
//!   joined later), `committed` or `failed`;
//! - a committed delete, or a selector that no longer selects it: [`Local::remove`].
//!
//! The generations it runs are kept in a small file beside the daemon's state, so that a
//! restart converges without reloading what already runs. Losing etcd ends the session and
//! nothing else: the data plane is left exactly as it is, and the next session (retried every
//! second) converges from a full read. This module makes no BPF call; it is not the
//! operator's side ([`crate::rollout`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, WatchOptions};
use serde::{Deserialize, Serialize};

use crate::connect::{connect, EtcdOptions};
use crate::error::{request, Result};
use crate::keys::Layout;
use crate::model::{now_secs, Action, Canary, Committed, NodeInfo, Phase, Proposal, Spec, Status};
use crate::objects::{self, Objects};
use crate::selector;
use crate::store;

/// What the node does to its own scripts; implemented by the daemon. Every method blocks
/// (the agent calls them off its async threads) and returns the error as people read it.
pub trait Local: Send + Sync + 'static {
    /// Everything a replace of `name` by `spec` does before its atomic switch: compile,
    /// link, verify; nothing running changes.
    /// `objects` are those its packages name, fetched and checked.
    fn prepare(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        objects: &Objects,
    ) -> std::result::Result<(), String>;
    /// Drops what [`Local::prepare`] made for `generation`.
    fn abort(&self, name: &str, generation: u64);
    /// Switches `name` to `generation` (a local replace: atomic for packets), from the
    /// prepared copy if there is one.
    fn commit(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        objects: &Objects,
    ) -> std::result::Result<(), String>;
    /// Unloads `name`; a script that is not loaded is not an error.
    fn remove(&self, name: &str) -> std::result::Result<(), String>;
}

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Where etcd is.
    pub etcd: EtcdOptions,
    /// The fleet's keys.
    pub layout: Layout,
    /// This node as it registers (`last_seen` is filled in).
    pub node: NodeInfo,
    /// The lease's time to live: a node that stops answering is not live after this long.
    pub lease_ttl: Duration,
    /// The file of the generations this node runs (in the daemon's state directory).
    pub state_file: PathBuf,
    /// Where the objects of user packages read from etcd are kept, checked, by hash.
    pub object_cache: PathBuf,
}

/// The generations of fleet scripts this node runs, persisted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Running {
    scripts: BTreeMap<String, u64>,
}

impl Running {
    fn load(path: &PathBuf) -> Running {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, path: &PathBuf) {
        // Written whole and renamed: a crash leaves the old file or the new one. A lost
        // write only makes the next start load the same generation again (a replace).
        let tmp = path.with_extension("json.tmp");
        let ok = std::fs::write(&tmp, serde_json::to_vec(self).expect("serialisable"))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = ok {
            tracing::warn!(file = %path.display(), "fleet: cannot save the running generations: {e}");
        }
    }
}

/// The agent's memory across sessions.
struct Memory {
    running: Running,
    /// Prepared and not yet committed or dropped: script → (generation, attempt).
    prepared: BTreeMap<String, (u64, i64)>,
    /// The last attempt answered per script, so an answer is given once.
    answered: BTreeMap<String, (u64, i64)>,
}

/// Runs the agent until `stop` completes: sessions with etcd, one after the other.
pub async fn run(config: AgentConfig, local: Arc<dyn Local>, stop: impl Future<Output = ()>) {
    let mut memory = Memory {
        running: Running::load(&config.state_file),
        prepared: BTreeMap::new(),
        answered: BTreeMap::new(),
    };
    tokio::pin!(stop);
    let mut lost = false;
    loop {
        tokio::select! {
            () = &mut stop => return,
            r = session(&config, &local, &mut memory, &mut lost) => {
                if let Err(e) = r {
                    if !lost {
                        tracing::warn!("fleet: lost etcd ({e}); the data plane stays as it is, retrying every second");
                    }
                    lost = true;
                }
            }
        }
        // A retry delay, not synchronisation: etcd is asked again a second later.
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One session: register, converge from a full read, then follow the watch until an error.
async fn session(
    cfg: &AgentConfig,
    local: &Arc<dyn Local>,
    mem: &mut Memory,
    lost: &mut bool,
) -> Result<()> {
    let mut client = connect(&cfg.etcd).await?;
    let ttl = cfg.lease_ttl.as_secs().max(1) as i64;
    let lease = client
        .lease_grant(ttl, None)
        .await
        .map_err(request("lease grant"))?
        .id();
    let l = &cfg.layout;
    let name = &cfg.node.name;
    let info = NodeInfo {
        last_seen: now_secs(),
        ..cfg.node.clone()
    };
    store::put(&mut client, &l.node(name), &info, None).await?;
    client
        .put(
            l.alive(name),
            Vec::new(),
            Some(etcd_client::PutOptions::new().with_lease(lease)),
        )
        .await
        .map_err(request("put alive"))?;
    let (keeper, acks) = client
        .lease_keep_alive(lease)
        .await
        .map_err(request("lease keep-alive"))?;
    // The lease is kept alive by a task of its own: a prepare that takes longer than the
    // lease (a big script on a busy node) must not make the node look dead to the rollout.
    let (lease_lost_tx, mut lease_lost) = tokio::sync::oneshot::channel();
    let _keeping = AbortOnDrop(tokio::spawn(keep_alive(
        keeper,
        acks,
        cfg.lease_ttl / 3,
        lease_lost_tx,
    )));
    tracing::info!(node = %name, "fleet: registered with etcd at {}", cfg.etcd.rendered());
    // The next loss is logged again.
    *lost = false;

    let resp = client
        .get(
            l.scripts(),
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_keys_only(),
            ),
        )
        .await
        .map_err(request("get scripts"))?;
    let rev = resp.header().map_or(0, |h| h.revision());
    let mut names: BTreeSet<String> = resp
        .kvs()
        .iter()
        .filter_map(|kv| {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            l.parse_script_key(&key).map(|(s, _)| s.to_owned())
        })
        .collect();
    names.extend(mem.running.scripts.keys().cloned());
    names.extend(mem.prepared.keys().cloned());
    for script in &names {
        reconcile(cfg, local, mem, &mut client, script).await?;
    }

    let mut watch = client
        .watch(
            l.scripts(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev + 1),
            ),
        )
        .await
        .map_err(request("watch scripts"))?;
    let mut tick = tokio::time::interval(cfg.lease_ttl / 3);
    let mut refreshes = 0u32;
    loop {
        tokio::select! {
            msg = watch.message() => {
                let Some(resp) = msg.map_err(request("watch scripts"))? else {
                    return Err(crate::FleetError::Request {
                        what: "watch scripts".into(),
                        cause: etcd_client::Error::WatchError("the watch ended".into()),
                    });
                };
                if resp.canceled() {
                    return Err(crate::FleetError::Request {
                        what: "watch scripts".into(),
                        cause: etcd_client::Error::WatchError(format!("cancelled: {}", resp.cancel_reason())),
                    });
                }
                let touched: BTreeSet<String> = resp
                    .events()
                    .iter()
                    .filter_map(|e| e.kv())
                    .filter_map(|kv| {
                        let key = String::from_utf8_lossy(kv.key()).into_owned();
                        l.parse_script_key(&key).map(|(s, _)| s.to_owned())
                    })
                    .collect();
                for script in &touched {
                    reconcile(cfg, local, mem, &mut client, script).await?;
                }
            }
            lost = &mut lease_lost => {
                return Err(lost.unwrap_or_else(|_| crate::FleetError::Request {
                    what: "lease keep-alive".into(),
                    cause: etcd_client::Error::LeaseKeepAliveError("the keep-alive task ended".into()),
                }));
            }
            _ = tick.tick() => {
                refreshes += 1;
                // `last seen` is refreshed about every 30 s, not at every keep-alive: each
                // refresh is a write every watcher of `nodes/` receives.
                if refreshes.is_multiple_of(9) {
                    let info = NodeInfo { last_seen: now_secs(), ..cfg.node.clone() };
                    store::put(&mut client, &l.node(name), &info, None).await?;
                }
            }
        }
    }
}

/// Aborts its task when dropped (the session ended, whichever way).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps the node's lease alive every `period` until a keep-alive fails or the lease has
/// expired, which it sends on `lost`.
async fn keep_alive(
    mut keeper: etcd_client::LeaseKeeper,
    mut acks: etcd_client::LeaseKeepAliveStream,
    period: Duration,
    lost: tokio::sync::oneshot::Sender<crate::FleetError>,
) {
    let mut tick = tokio::time::interval(period);
    let error = loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = keeper.keep_alive().await {
                    break request("lease keep-alive")(e);
                }
            }
            ack = acks.message() => match ack {
                Ok(Some(a)) if a.ttl() > 0 => {}
                Ok(_) => break crate::FleetError::Request {
                    what: "lease keep-alive".into(),
                    cause: etcd_client::Error::LeaseKeepAliveError("the node's lease expired".into()),
                },
                Err(e) => break request("lease keep-alive")(e),
            },
        }
    };
    let _ = lost.send(error);
}

fn is_selected(cfg: &AgentConfig, spec: &Spec) -> bool {
    selector::matches(&spec.selector, &cfg.node.labels)
}

/// [`write_status`] of a phase without an error (all but `failed`).
async fn write_phase(
    cfg: &AgentConfig,
    client: &mut Client,
    script: &str,
    generation: u64,
    attempt: i64,
    phase: Phase,
) -> Result<()> {
    write_status(
        cfg,
        client,
        script,
        generation,
        attempt,
        phase,
        String::new(),
    )
    .await
}

/// Writes the node's answer for `script` (`status/SCRIPT/NODE`): `phase` of `generation` in
/// rollout `attempt`, with `error` when it failed.
async fn write_status(
    cfg: &AgentConfig,
    client: &mut Client,
    script: &str,
    generation: u64,
    attempt: i64,
    phase: Phase,
    error: String,
) -> Result<()> {
    let status = Status {
        generation,
        attempt,
        phase,
        error,
        at: now_secs(),
    };
    store::put(
        client,
        &cfg.layout.status(script, &cfg.node.name),
        &status,
        None,
    )
    .await
}

/// The tail of a switch (or an unload) that worked: `script` now runs generation `now` (`None`:
/// nothing, it was unloaded), which is saved before the node answers `committed` for
/// `generation` and `attempt`, so that a restart after the answer does not load it again.
async fn record_switch(
    cfg: &AgentConfig,
    client: &mut Client,
    mem: &mut Memory,
    script: &str,
    now: Option<u64>,
    generation: u64,
    attempt: i64,
) -> Result<()> {
    match now {
        Some(running) => mem.running.scripts.insert(script.to_owned(), running),
        None => mem.running.scripts.remove(script),
    };
    mem.running.save(&cfg.state_file);
    write_phase(cfg, client, script, generation, attempt, Phase::Committed).await
}

/// The objects `spec`'s packages name, from the cache or etcd, checked; the error as people
/// read it (a node that cannot get an object cannot prepare).
async fn fetch(
    cfg: &AgentConfig,
    client: &mut Client,
    spec: &Spec,
) -> std::result::Result<Objects, String> {
    let hashes = spec.object_hashes();
    objects::fetch(client, &cfg.layout, &hashes, &cfg.object_cache)
        .await
        .map_err(|e| e.to_string())
}

/// Runs `f` on the blocking pool (the daemon's work compiles and loads).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the daemon's fleet operation panicked")
}

/// Brings script `script` in line with its keys, read now (level-triggered: what changed
/// does not matter, only what the keys say).
async fn reconcile(
    cfg: &AgentConfig,
    local: &Arc<dyn Local>,
    mem: &mut Memory,
    client: &mut Client,
    script: &str,
) -> Result<()> {
    let l = &cfg.layout;
    let (committed, _) = store::get::<Committed>(client, &l.committed(script)).await?;
    let (proposal, _) = store::get::<Proposal>(client, &l.proposal(script)).await?;
    let committed = committed.map(|r| r.value);
    let proposal = proposal.map(|r| (r.mod_revision, r.value));

    let (canary, _) = store::get::<Canary>(client, &l.canary(script)).await?;

    // What this node should run: the proposed generation if it is one of the rollout's
    // canaries, else the committed one (which comes first: a commit deletes the proposal in
    // the same revision, and the prepared copy must be switched to, not dropped).
    let as_canary = match (canary.map(|r| r.value), &proposal) {
        (Some(c), Some((rev, p)))
            if (c.generation, c.attempt) == (p.generation, *rev)
                && c.nodes.contains(&cfg.node.name) =>
        {
            match &p.action {
                Action::Apply { spec } => Some((p.generation, *rev, spec)),
                Action::Delete => None,
            }
        }
        _ => None,
    };
    let wanted = as_canary.or_else(|| {
        committed.as_ref().and_then(|c| {
            c.spec()
                .filter(|s| is_selected(cfg, s))
                .map(|s| (c.generation, c.attempt, s))
        })
    });
    match wanted {
        Some((generation, c_attempt, spec)) => {
            if mem.running.scripts.get(script) != Some(&generation) {
                let prepared = mem.prepared.get(script) == Some(&(generation, c_attempt));
                let result = match fetch(cfg, client, spec).await {
                    Ok(objects) => {
                        let (local2, name, spec2) =
                            (local.clone(), script.to_owned(), spec.clone());
                        blocking(move || local2.commit(&name, generation, &spec2, &objects)).await
                    }
                    Err(e) => Err(e),
                };
                mem.prepared.remove(script);
                let attempt = if prepared { c_attempt } else { 0 };
                match result {
                    Ok(()) => {
                        tracing::info!(script, generation, "fleet: committed");
                        let now = Some(generation);
                        record_switch(cfg, client, mem, script, now, generation, attempt).await?;
                    }
                    Err(e) => {
                        tracing::warn!(script, generation, "fleet: cannot switch: {e}");
                        write_status(cfg, client, script, generation, attempt, Phase::Failed, e)
                            .await?;
                    }
                }
            }
        }
        None => {
            // A committed delete this node prepared: done with the prepare either way.
            let was_prepared = committed
                .as_ref()
                .is_some_and(|c| mem.prepared.get(script) == Some(&(c.generation, c.attempt)));
            if was_prepared {
                mem.prepared.remove(script);
            }
            let generation = committed.as_ref().map_or(0, |c| c.generation);
            let attempt = committed.as_ref().map_or(0, |c| c.attempt);
            if mem.running.scripts.contains_key(script) {
                let (local2, name) = (local.clone(), script.to_owned());
                let result = blocking(move || local2.remove(&name)).await;
                match result {
                    Ok(()) => {
                        tracing::info!(script, "fleet: unloaded");
                        record_switch(cfg, client, mem, script, None, generation, attempt).await?;
                    }
                    Err(e) => {
                        write_status(cfg, client, script, generation, attempt, Phase::Failed, e)
                            .await?;
                    }
                }
            } else if was_prepared {
                write_phase(cfg, client, script, generation, attempt, Phase::Committed).await?;
            }
        }
    }

    // A prepared generation that is neither committed (above) nor still proposed: the
    // rollout aborted.
    if let Some(&(generation, attempt)) = mem.prepared.get(script) {
        let still = proposal
            .as_ref()
            .is_some_and(|(rev, p)| (p.generation, *rev) == (generation, attempt));
        if !still {
            mem.prepared.remove(script);
            let (local2, name) = (local.clone(), script.to_owned());
            blocking(move || local2.abort(&name, generation)).await;
            tracing::info!(
                script,
                generation,
                "fleet: dropped the prepared generation (the rollout aborted)"
            );
            write_phase(cfg, client, script, generation, attempt, Phase::Aborted).await?;
        }
    }

    // A proposal naming this node, not answered yet.
    if let Some((attempt, p)) = &proposal {
        let me = p.nodes.contains(&cfg.node.name);
        if me && mem.answered.get(script) != Some(&(p.generation, *attempt)) {
            mem.answered
                .insert(script.to_owned(), (p.generation, *attempt));
            write_phase(
                cfg,
                client,
                script,
                p.generation,
                *attempt,
                Phase::Preparing,
            )
            .await?;
            let result = match &p.action {
                Action::Apply { spec } => match fetch(cfg, client, spec).await {
                    Ok(objects) => {
                        let (local2, name, spec2, generation) =
                            (local.clone(), script.to_owned(), spec.clone(), p.generation);
                        blocking(move || local2.prepare(&name, generation, &spec2, &objects)).await
                    }
                    Err(e) => Err(e),
                },
                // Unloading needs nothing prepared.
                Action::Delete => Ok(()),
            };
            match result {
                Ok(()) => {
                    mem.prepared
                        .insert(script.to_owned(), (p.generation, *attempt));
                    tracing::info!(script, generation = p.generation, "fleet: prepared");
                    write_phase(cfg, client, script, p.generation, *attempt, Phase::Prepared)
                        .await?;
                }
                Err(e) => {
                    tracing::warn!(
                        script,
                        generation = p.generation,
                        "fleet: cannot prepare: {e}"
                    );
                    write_status(
                        cfg,
                        client,
                        script,
                        p.generation,
                        *attempt,
                        Phase::Failed,
                        e,
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}
