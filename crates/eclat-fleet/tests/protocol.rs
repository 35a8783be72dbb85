//! The protocol against a real etcd (`hike_testkit::etcd`), with in-process agents whose
//! `Local` only records what it is asked: commits, aborts, a node that cannot prepare, a
//! selector, a delete, and a node that joins after the rollout. No BPF: eclatd's
//! `tests/fleet.rs` runs the same with real daemons and traffic.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eclat_fleet::agent::{self, AgentConfig, Local};
use eclat_fleet::model::{Action, NodeInfo, Phase, Spec};
use eclat_fleet::rollout::{self, Report};
use eclat_fleet::{connect, EtcdOptions, Layout};
use hike_testkit::etcd::Etcd;

/// What a node runs: script → text, and the log of calls.
#[derive(Default)]
struct Mem {
    running: BTreeMap<String, String>,
    calls: Vec<String>,
}

/// The texts any node switched to, for a switch that must fail after another's.
static SWITCHED: (Mutex<Vec<String>>, std::sync::Condvar) =
    (Mutex::new(Vec::new()), std::sync::Condvar::new());

struct MemLocal {
    node: String,
    mem: Mutex<Mem>,
}

impl MemLocal {
    /// Notes a call, for the test to check which came.
    fn log(&self, call: String) {
        self.mem.lock().unwrap().calls.push(call);
    }
}

impl Local for MemLocal {
    fn prepare(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        _: &eclat_fleet::objects::Objects,
    ) -> Result<(), String> {
        self.log(format!("prepare {name} {generation}"));
        if spec.text.contains(&format!("fail-on {}", self.node)) {
            return Err(format!("interface missing on {}", self.node));
        }
        Ok(())
    }
    fn abort(&self, name: &str, generation: u64) {
        self.log(format!("abort {name} {generation}"));
    }
    fn commit(
        &self,
        name: &str,
        generation: u64,
        spec: &Spec,
        _: &eclat_fleet::objects::Objects,
    ) -> Result<(), String> {
        let mut m = self.mem.lock().unwrap();
        m.calls.push(format!("commit {name} {generation}"));
        if spec
            .text
            .contains(&format!("switch-breaks-on {}", self.node))
        {
            // It fails only once another canary has switched, so that the test sees that
            // canary go back.
            drop(m);
            let (lock, cv) = &SWITCHED;
            let switched = lock.lock().unwrap();
            let _ = cv
                .wait_timeout_while(switched, Duration::from_secs(20), |d| {
                    !d.iter().any(|t| t.contains("switch-breaks-on"))
                })
                .unwrap();
            return Err(format!("out of memory on {}", self.node));
        }
        m.running.insert(name.to_owned(), spec.text.clone());
        let (lock, cv) = &SWITCHED;
        lock.lock().unwrap().push(spec.text.clone());
        cv.notify_all();
        Ok(())
    }
    fn remove(&self, name: &str) -> Result<(), String> {
        let mut m = self.mem.lock().unwrap();
        m.calls.push(format!("remove {name}"));
        m.running.remove(name);
        Ok(())
    }
}

struct Node {
    local: Arc<MemLocal>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: std::path::PathBuf,
}

impl Node {
    /// The text of the script `name` this node runs, if any.
    fn running(&self, name: &str) -> Option<String> {
        self.local.mem.lock().unwrap().running.get(name).cloned()
    }
}

/// A watch of every key under `prefix`.
async fn watch_prefix(
    client: &mut etcd_client::Client,
    prefix: String,
) -> etcd_client::WatchStream {
    client
        .watch(prefix, Some(etcd_client::WatchOptions::new().with_prefix()))
        .await
        .unwrap()
}

/// Waits for the next events on `watch`: `what` should have happened by the end of
/// `timeout`.
async fn next_events(watch: &mut etcd_client::WatchStream, timeout: Duration, what: &str) {
    tokio::time::timeout(timeout, watch.message())
        .await
        .unwrap_or_else(|_| panic!("{what} within {timeout:?}"))
        .unwrap();
}

fn start_node(
    rt: &tokio::runtime::Runtime,
    etcd: &Etcd,
    prefix: &str,
    name: &str,
    role: &str,
) -> Node {
    let local = Arc::new(MemLocal {
        node: name.to_owned(),
        mem: Mutex::default(),
    });
    let dir = std::env::temp_dir()
        .join(format!("fleet-proto-{}-{name}-{prefix}", std::process::id()).replace('/', "_"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = AgentConfig {
        etcd: EtcdOptions {
            endpoints: vec![etcd.url()],
            ..EtcdOptions::default()
        },
        layout: Layout::new(prefix),
        node: NodeInfo {
            name: name.to_owned(),
            labels: [("role".to_owned(), role.to_owned())].into(),
            version: "test".into(),
            interfaces: vec!["lo".into()],
            last_seen: 0,
        },
        lease_ttl: Duration::from_secs(3),
        state_file: dir.join("fleet.json"),
        object_cache: dir.join("objects"),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let l: Arc<dyn Local> = local.clone();
    rt.spawn(agent::run(config, l, async move {
        let _ = rx.await;
    }));
    Node {
        local,
        stop: Some(tx),
        _dir: dir,
    }
}

/// Waits until `n` nodes are live (they register asynchronously).
async fn wait_live(client: &mut etcd_client::Client, layout: &Layout, n: usize) {
    let mut watch = watch_prefix(client, layout.alive_all()).await;
    while rollout::live_nodes(client, layout).await.unwrap().len() < n {
        next_events(&mut watch, Duration::from_secs(20), "nodes register").await;
    }
}

fn spec(text: &str, selector: &[(&str, &str)]) -> Action {
    Action::Apply {
        spec: Spec {
            file_name: "s.eclat".into(),
            text: text.into(),
            selector: selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Spec::default()
        },
    }
}

fn phases(r: &Report) -> Vec<(String, Option<Phase>)> {
    r.nodes.iter().map(|n| (n.node.clone(), n.phase)).collect()
}

#[test]
fn two_phase_rollouts_commit_everywhere_or_nowhere() {
    let etcd = Etcd::start(&[]).expect("etcd");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = "/proto/";
    let layout = Layout::new(prefix);
    let nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            start_node(
                &rt,
                &etcd,
                prefix,
                n,
                if *n == "n3" { "core" } else { "edge" },
            )
        })
        .collect();
    rt.block_on(async {
        let mut c = connect(&EtcdOptions {
            endpoints: vec![etcd.url()],
            ..Default::default()
        })
        .await
        .unwrap();
        wait_live(&mut c, &layout, 3).await;
        let t = Duration::from_secs(20);

        // All three commit generation 1.
        let r = rollout::rollout(&mut c, &layout, "s", spec("v1", &[]), t)
            .await
            .unwrap();
        assert!(r.all_committed(), "{r:?}");
        assert_eq!(r.generation, 1);
        for n in &nodes {
            assert_eq!(n.running("s").as_deref(), Some("v1"));
        }

        // n2 cannot prepare: nobody switches, the others drop what they prepared.
        let r = rollout::rollout(&mut c, &layout, "s", spec("v2 fail-on n2", &[]), t)
            .await
            .unwrap();
        assert!(!r.committed);
        assert_eq!(r.reason, "a node could not prepare");
        let n2 = r.nodes.iter().find(|n| n.node == "n2").unwrap();
        assert_eq!(n2.phase, Some(Phase::Failed));
        assert_eq!(n2.error, "interface missing on n2");
        // The aborts are asynchronous: wait for each prepared node's `aborted` status.
        let mut watch = watch_prefix(&mut c, layout.statuses("s")).await;
        let answered: Vec<String> = r
            .nodes
            .iter()
            .filter(|o| matches!(o.phase, Some(Phase::Preparing | Phase::Prepared)))
            .map(|o| o.node.clone())
            .collect();
        loop {
            let views = eclat_fleet::view::scripts(&mut c, &layout, Some("s"))
                .await
                .unwrap();
            let aborted = views[0]
                .nodes
                .iter()
                .filter(|n| n.status.phase == Phase::Aborted && answered.contains(&n.node))
                .count();
            // The abort does not wait for every answer: the nodes that had answered drop
            // what they prepared; one that had not may never see the proposal.
            if aborted == answered.len() {
                break;
            }
            next_events(&mut watch, t, "the aborts").await;
        }
        for n in &nodes {
            let m = n.local.mem.lock().unwrap();
            assert_eq!(
                m.running.get("s").map(String::as_str),
                Some("v1"),
                "{:?}",
                m.calls
            );
            if answered.contains(&n.local.node) {
                assert!(m.calls.contains(&"abort s 2".to_owned()), "{:?}", m.calls);
            }
            assert!(!m.calls.iter().any(|c| c == "commit s 2"), "{:?}", m.calls);
        }

        // A selector: only the edge nodes.
        let r = rollout::rollout(&mut c, &layout, "e", spec("edge", &[("role", "edge")]), t)
            .await
            .unwrap();
        assert!(r.all_committed(), "{r:?}");
        assert_eq!(
            phases(&r),
            vec![
                ("n1".into(), Some(Phase::Committed)),
                ("n2".into(), Some(Phase::Committed))
            ]
        );
        assert!(!nodes[2].local.mem.lock().unwrap().running.contains_key("e"));

        // A selector that matches no live node is an error, and proposes nothing.
        let e = rollout::rollout(&mut c, &layout, "x", spec("x", &[("role", "none")]), t)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("matches no live node"), "{e}");

        // A node that joins later converges to what is committed.
        let late = start_node(&rt, &etcd, prefix, "n4", "edge");
        wait_live(&mut c, &layout, 4).await;
        let mut watch = watch_prefix(&mut c, layout.statuses_all()).await;
        while late.local.mem.lock().unwrap().running.len() < 2 {
            next_events(&mut watch, t, "n4 catches up").await;
        }
        assert_eq!(late.running("s").as_deref(), Some("v1"));

        // A delete unloads everywhere it runs.
        let r = rollout::rollout(&mut c, &layout, "e", Action::Delete, t)
            .await
            .unwrap();
        assert!(r.all_committed(), "{r:?}");
        for n in nodes.iter().chain([&late]) {
            assert!(!n.local.mem.lock().unwrap().running.contains_key("e"));
        }
        let e = rollout::rollout(&mut c, &layout, "e", Action::Delete, t)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("has no script `e`"), "{e}");

        // --canary 1: n1 switches first, then the others.
        let r = rollout::rollout_with(&mut c, &layout, "s", spec("v3", &[]), t, 1)
            .await
            .unwrap();
        assert!(r.all_committed(), "{r:?}");
        assert_eq!(r.canaries, ["n1"]);
        for n in nodes.iter().chain([&late]) {
            assert_eq!(n.running("s").as_deref(), Some("v3"));
        }
        // --canary 2, and the second canary cannot switch: the rollout aborts, the first
        // canary goes back to v3, and no other node ever switches.
        let r = rollout::rollout_with(
            &mut c,
            &layout,
            "s",
            spec("v4 switch-breaks-on n2", &[]),
            t,
            2,
        )
        .await
        .unwrap();
        assert!(!r.committed, "{r:?}");
        assert!(
            r.reason.contains("a canary could not switch"),
            "{}",
            r.reason
        );
        assert_eq!(r.canaries, ["n1", "n2"]);
        let back = format!("commit s {}", r.generation - 1);
        let mut watch = c.watch(layout.status("s", "n1"), None).await.unwrap();
        while nodes[0].local.mem.lock().unwrap().calls.last() != Some(&back) {
            next_events(&mut watch, t, "n1 goes back").await;
        }
        assert_eq!(nodes[0].running("s").as_deref(), Some("v3"));
        for n in nodes.iter().skip(2).chain([&late]) {
            let m = n.local.mem.lock().unwrap();
            assert!(
                !m.calls.contains(&format!("commit s {}", r.generation)),
                "{}: {:?}",
                n.local.node,
                m.calls
            );
            assert_eq!(m.running.get("s").map(String::as_str), Some("v3"));
        }
    });
    for mut n in nodes {
        let _ = n.stop.take().map(|s| s.send(()));
    }
}
