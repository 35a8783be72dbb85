//! The operator's side of a rollout (`eclat fleet apply` and `fleet delete`): two phases over
//! etcd.
//!
//! 1. Propose: one transaction writes `scripts/NAME/proposal` (the next generation, the
//!    action, the live nodes the selector matched) under a lease of the CLI, if the committed
//!    state is still the one read and no other rollout is in progress. Its revision is the
//!    rollout's *attempt*, which every node's answer carries.
//! 2. Wait for every node's answer (`status/NAME/NODE`): all `prepared`, or one `failed`,
//!    one node gone (its `alive/NODE` lease expired), or the timeout.
//!    With `--canary K`, the first K nodes switch first (`scripts/NAME/canary`) and answer;
//!    a canary that fails aborts, and the canaries go back to the committed generation.
//! 3. Commit: one transaction, if the proposal is still this attempt, writes
//!    `scripts/NAME/committed` and deletes the proposal; every node watching switches. Or
//!    abort: delete the proposal; every node drops what it prepared.
//! 4. After a commit, wait (same timeout) for each node to say it switched.
//!
//! If the CLI dies, its lease expires and the proposal with it: the rollout aborts. It
//! compiles nothing itself: the nodes compile the script; the user packages it imports come
//! built, their objects written to etcd before the proposal ([`crate::objects`]). Rendering is the CLI's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, WatchOptions, WatchResponse,
    WatchStream,
};
use serde::Serialize;

use crate::error::{request, FleetError, Result};
use crate::keys::{check_name, Layout};
use crate::model::{Action, Canary, Committed, NodeInfo, Phase, Proposal, Status};
use crate::objects::{self, Objects};
use crate::selector;
use crate::store;

/// What one node did in a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeOutcome {
    /// The node.
    pub node: String,
    /// Its last answer for this attempt, if any.
    pub phase: Option<Phase>,
    /// Its error, when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// What the CLI saw otherwise: `no answer within 10s`, `went away (its lease expired)`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The end of a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The script.
    pub script: String,
    /// The generation it proposed.
    pub generation: u64,
    /// Whether it committed.
    pub committed: bool,
    /// Why it aborted (empty when committed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Each node, by name.
    pub nodes: Vec<NodeOutcome>,
    /// The nodes that switched first (`--canary`), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<String>,
    /// From the proposal to the last node's answer after the commit (or the abort).
    pub elapsed_ms: u64,
}

impl Report {
    /// Whether every node runs the new generation.
    pub fn all_committed(&self) -> bool {
        self.committed && self.nodes.iter().all(|n| n.phase == Some(Phase::Committed))
    }
}

/// The live nodes: `alive/` keys, with their info.
pub async fn live_nodes(client: &mut Client, layout: &Layout) -> Result<Vec<NodeInfo>> {
    let alive = store::keys(client, &layout.alive_all()).await?;
    let (infos, _) = store::list::<NodeInfo>(client, &layout.nodes()).await?;
    let alive: Vec<&str> = alive
        .iter()
        .filter_map(|k| Layout::leaf(k, &layout.alive_all()))
        .collect();
    Ok(infos
        .into_iter()
        .map(|r| r.value)
        .filter(|n| alive.contains(&n.name.as_str()))
        .collect())
}

/// Rolls `action` out as script `name`, waiting at most `timeout` for the nodes' answers in
/// each phase.
pub async fn rollout(
    client: &mut Client,
    layout: &Layout,
    name: &str,
    action: Action,
    timeout: Duration,
) -> Result<Report> {
    rollout_with(client, layout, name, action, timeout, 0).await
}

/// [`rollout`], with `canary` nodes (the first, by name) switching before the others once all
/// have prepared (`--canary K`; 0, or as many as the nodes: no canary step). A canary that
/// fails to switch aborts the rollout, and the canaries go back to the committed generation.
pub async fn rollout_with(
    client: &mut Client,
    layout: &Layout,
    name: &str,
    action: Action,
    timeout: Duration,
    canary: usize,
) -> Result<Report> {
    let none = Objects::new();
    rollout_with_objects(client, layout, name, action, &none, timeout, canary).await
}

/// [`rollout_with`] of a script that imports user packages: `objects` are the built objects
/// its spec's packages name ([`crate::packages::bundle`]). They are written to etcd before
/// the proposal, each only if absent; after a commit, the objects no script names any more
/// are deleted ([`objects::collect_garbage`]).
pub async fn rollout_with_objects(
    client: &mut Client,
    layout: &Layout,
    name: &str,
    action: Action,
    objects: &Objects,
    timeout: Duration,
    canary: usize,
) -> Result<Report> {
    check_name("script", name)?;
    let (committed, _) = store::get::<Committed>(client, &layout.committed(name)).await?;
    let selector = match (&action, &committed) {
        (Action::Apply { spec }, _) => spec.selector.clone(),
        (Action::Delete, Some(c)) if c.value.spec().is_some() => c
            .value
            .spec()
            .map(|s| s.selector.clone())
            .unwrap_or_default(),
        (Action::Delete, _) => {
            return Err(FleetError::NoScript {
                script: name.to_owned(),
            })
        }
    };
    let live = live_nodes(client, layout).await?;
    let nodes: Vec<String> = live
        .iter()
        .filter(|n| selector::matches(&selector, &n.labels))
        .map(|n| n.name.clone())
        .collect();
    if nodes.is_empty() && matches!(action, Action::Apply { .. }) {
        let live: Vec<String> = live
            .iter()
            .map(|n| format!("{} {}", n.name, selector::render(&n.labels)))
            .collect();
        return Err(FleetError::NoNode {
            selector: selector::render(&selector),
            live: if live.is_empty() {
                "none".into()
            } else {
                live.join("; ")
            },
        });
    }
    let generation = committed.as_ref().map_or(0, |c| c.value.generation) + 1;
    let proposal = Proposal {
        generation,
        action: action.clone(),
        nodes: nodes.clone(),
    };

    // The proposal lives under the CLI's lease: a CLI killed mid-rollout aborts it.
    let ttl = timeout.as_secs() as i64 * 2 + 10;
    let lease = client
        .lease_grant(ttl, None)
        .await
        .map_err(request("lease grant"))?
        .id();
    let started = Instant::now();
    // The objects first: a node that reads the proposal finds every object it names.
    objects::upload(client, layout, objects, lease).await?;
    let committed_key = layout.committed(name);
    let proposal_key = layout.proposal(name);
    let same_committed = match &committed {
        Some(c) => Compare::mod_revision(committed_key.clone(), CompareOp::Equal, c.mod_revision),
        None => Compare::create_revision(committed_key.clone(), CompareOp::Equal, 0),
    };
    let txn = Txn::new()
        .when([
            same_committed,
            Compare::create_revision(proposal_key.clone(), CompareOp::Equal, 0),
        ])
        .and_then([TxnOp::put(
            proposal_key.clone(),
            store::encode(&proposal),
            Some(PutOptions::new().with_lease(lease)),
        )]);
    let resp = client.txn(txn).await.map_err(request("propose"))?;
    if !resp.succeeded() {
        let _ = client.lease_revoke(lease).await;
        let (busy, _) = store::get::<Proposal>(client, &proposal_key).await?;
        return Err(match busy {
            Some(p) => FleetError::Busy {
                script: name.to_owned(),
                generation: p.value.generation,
            },
            None => FleetError::Raced {
                script: name.to_owned(),
            },
        });
    }
    let attempt = resp.header().map_or(0, |h| h.revision());

    let mut watch = client
        .watch(
            layout.prefix(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(attempt + 1),
            ),
        )
        .await
        .map_err(request("watch the answers"))?;
    let this_attempt = Attempt {
        layout,
        script: name,
        attempt,
        nodes: &nodes,
    };
    let mut answers: BTreeMap<String, Status> = BTreeMap::new();
    let mut gone: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let prepared = |answers: &BTreeMap<String, Status>| {
        nodes
            .iter()
            .all(|n| answers.get(n).is_some_and(|s| s.phase == Phase::Prepared))
    };
    let failed = |answers: &BTreeMap<String, Status>| {
        nodes
            .iter()
            .any(|n| answers.get(n).is_some_and(|s| s.phase == Phase::Failed))
    };
    let mut reason = String::new();
    // Phase 1: the answers to the proposal.
    while !prepared(&answers) {
        if failed(&answers) {
            reason = "a node could not prepare".into();
            break;
        }
        if !gone.is_empty() {
            reason = format!("{} went away during the prepare", gone.join(", "));
            break;
        }
        let Some(resp) = next_event(&mut watch, deadline, "watch the answers").await? else {
            reason = format!("not every node answered within {}s", timeout.as_secs());
            break;
        };
        this_attempt.absorb(&resp, &mut answers, &mut gone);
    }
    // The canary step: the first `canary` nodes switch, and answer, before the others.
    let canary_key = layout.canary(name);
    let canaries: Vec<String> = if canary > 0 && canary < nodes.len() && reason.is_empty() {
        nodes[..canary].to_vec()
    } else {
        Vec::new()
    };
    if !canaries.is_empty() {
        let step = Canary {
            generation,
            attempt,
            nodes: canaries.clone(),
        };
        let txn = while_proposed(&proposal_key, attempt).and_then([TxnOp::put(
            canary_key.clone(),
            store::encode(&step),
            Some(PutOptions::new().with_lease(lease)),
        )]);
        let resp = client.txn(txn).await.map_err(request("canary"))?;
        if !resp.succeeded() {
            reason = "the proposal expired before the canary step".into();
        }
        let switched = |answers: &BTreeMap<String, Status>| {
            canaries
                .iter()
                .all(|n| answers.get(n).is_some_and(|s| s.phase == Phase::Committed))
        };
        while reason.is_empty() && !switched(&answers) {
            if failed(&answers) {
                reason = "a canary could not switch (the canaries went back)".into();
                break;
            }
            if !gone.is_empty() {
                reason = format!("{} went away during the canary step", gone.join(", "));
                break;
            }
            let next = next_event(&mut watch, deadline + timeout, "watch the canaries").await?;
            let Some(resp) = next else {
                reason = format!(
                    "not every canary switched within {}s (the canaries went back)",
                    timeout.as_secs()
                );
                break;
            };
            this_attempt.absorb(&resp, &mut answers, &mut gone);
        }
    }
    let mut committed_now = false;
    if reason.is_empty() {
        let commit = Committed {
            generation,
            attempt,
            action,
            nodes: nodes.clone(),
        };
        let txn = while_proposed(&proposal_key, attempt).and_then([
            TxnOp::put(committed_key.clone(), store::encode(&commit), None),
            TxnOp::delete(proposal_key.clone(), None),
            TxnOp::delete(canary_key.clone(), None),
        ]);
        let resp = client.txn(txn).await.map_err(request("commit"))?;
        if resp.succeeded() {
            committed_now = true;
            // Phase 2: each node's switch.
            let done = |answers: &BTreeMap<String, Status>| {
                nodes.iter().all(|n| {
                    answers.get(n).is_some_and(|s| {
                        s.generation == generation
                            && matches!(s.phase, Phase::Committed | Phase::Failed)
                    })
                })
            };
            while !done(&answers) {
                match tokio::time::timeout_at(deadline + timeout, watch.message()).await {
                    Err(_) => break,
                    Ok(msg) => {
                        let Some(resp) = msg.map_err(request("watch the switches"))? else {
                            break;
                        };
                        this_attempt.absorb(&resp, &mut answers, &mut gone);
                    }
                }
            }
        } else {
            reason = "the proposal expired before the commit".into();
        }
    } else {
        let txn = while_proposed(&proposal_key, attempt).and_then([
            TxnOp::delete(proposal_key.clone(), None),
            TxnOp::delete(canary_key.clone(), None),
        ]);
        client.txn(txn).await.map_err(request("abort"))?;
    }
    let _ = client.lease_revoke(lease).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if committed_now {
        // Best effort: an object left behind only takes room until the next commit.
        match objects::collect_garbage(client, layout).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("fleet: deleted {n} object(s) no script uses"),
            Err(e) => tracing::warn!("fleet: cannot delete the objects no script uses: {e}"),
        }
    }
    let outcomes = nodes
        .iter()
        .map(|n| {
            let answer = answers.get(n);
            let note = if gone.contains(n) {
                "went away (its lease expired)".to_owned()
            } else if answer.is_none() {
                format!("no answer within {}s", timeout.as_secs())
            } else if committed_now && answer.is_some_and(|s| s.phase == Phase::Prepared) {
                format!("prepared, no switch reported within {}s", timeout.as_secs())
            } else {
                String::new()
            };
            NodeOutcome {
                node: n.clone(),
                phase: answer.map(|s| s.phase),
                error: answer.map(|s| s.error.clone()).unwrap_or_default(),
                note,
            }
        })
        .collect();
    Ok(Report {
        script: name.to_owned(),
        generation,
        committed: committed_now,
        reason,
        nodes: outcomes,
        canaries,
        elapsed_ms,
    })
}

/// The next batch of events on `watch`, or `None` once `deadline` has passed. Before the
/// commit the rollout cannot go on without its watch, so a watch that fails or ends is an
/// error, named after `what` the rollout was waiting for (`watch the answers`). The wait for
/// the switches after the commit does not use it: there, a watch that ends only stops the wait.
async fn next_event(
    watch: &mut WatchStream,
    deadline: tokio::time::Instant,
    what: &str,
) -> Result<Option<WatchResponse>> {
    let Ok(msg) = tokio::time::timeout_at(deadline, watch.message()).await else {
        return Ok(None);
    };
    let resp = msg
        .map_err(request(what))?
        .ok_or_else(|| FleetError::Request {
            what: what.to_owned(),
            cause: etcd_client::Error::WatchError("the watch ended".into()),
        })?;
    Ok(Some(resp))
}

/// A transaction that runs only while `proposal_key` still holds this attempt's proposal (it
/// has not expired with the CLI's lease, nor been replaced).
fn while_proposed(proposal_key: &str, attempt: i64) -> Txn {
    Txn::new().when([Compare::mod_revision(
        proposal_key,
        CompareOp::Equal,
        attempt,
    )])
}

/// What tells this rollout's events from others: the script, the attempt, its nodes.
struct Attempt<'a> {
    layout: &'a Layout,
    script: &'a str,
    attempt: i64,
    nodes: &'a [String],
}

impl Attempt<'_> {
    /// Takes in the answers of this attempt (and, after the commit, the switches) and the
    /// nodes that went away.
    fn absorb(
        &self,
        resp: &WatchResponse,
        answers: &mut BTreeMap<String, Status>,
        gone: &mut Vec<String>,
    ) {
        let statuses = self.layout.statuses(self.script);
        let alive = self.layout.alive_all();
        let ours = |node: &str| self.nodes.iter().any(|n| n == node);
        for e in resp.events() {
            let Some(kv) = e.kv() else { continue };
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            if let Some(node) = Layout::leaf(&key, &statuses) {
                if e.event_type() != EventType::Put || !ours(node) {
                    continue;
                }
                if let Ok(s) = serde_json::from_slice::<Status>(kv.value()) {
                    if s.attempt == self.attempt {
                        answers.insert(node.to_owned(), s);
                    }
                }
            } else if let Some(node) = Layout::leaf(&key, &alive) {
                if e.event_type() == EventType::Delete
                    && ours(node)
                    && !gone.iter().any(|g| g == node)
                {
                    gone.push(node.to_owned());
                }
            }
        }
    }
}
