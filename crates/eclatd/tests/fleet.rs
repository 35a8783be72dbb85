//! The fleet end to end: a real etcd (`hike_testkit::etcd`) and real eclatd nodes, each in
//! its own network namespace with its own veth pair and traffic, reaching etcd over a
//! management bridge (`hike_testkit::fleet`). One fleet is shared by the cases of the first
//! test (each case its own script or generation, checked on every node's traffic): a rollout
//! to every node; a node where the script cannot load aborts it and no node changes; kill -9
//! of a node during its prepare aborts it; etcd stopped and restarted under the running
//! fleet; a selector picking a subset; a node added later catches up; a delete. The second
//! test runs a node and the rollouts over TLS with client certificates. Needs root and the
//! `etcd` binary.

mod support;

use std::time::Duration;

use std::collections::BTreeMap;

use eclat_fleet::etcd_client::{GetOptions, WatchOptions};
use eclat_fleet::model::{Action, Phase, Spec, Status};
use eclat_fleet::objects::Objects;
use eclat_fleet::rollout::{self, Report};
use eclat_fleet::{EtcdOptions, Layout};
use hike_netlab::LabTag;
use hike_testkit::fleet::{node_args, FleetNet};
use support::{frames, Daemon, Netns};

/// Every node counts its traffic under `monitor(KEY)` and drops it; the generation shows in
/// which key counts.
const SCRIPT: &str = "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (count_drop) }
ip6_sc.attach('DEVNAME', 'xdp')

def count_drop():
    monitor(KEY)
    hike_drop()
    return 0
";

const TIMEOUT: Duration = Duration::from_secs(20);

/// The management bridge with etcd on it, named for this test file.
fn fleet_net(tls: bool) -> FleetNet {
    let tag = LabTag::new("eclatd-fleet-", "efb");
    FleetNet::start(&tag, tls).expect("etcd on the management bridge")
}

/// A node: its namespace (`v0`/`v1`, and `w0`/`w1` on some) and its daemon.
struct Node {
    name: String,
    ns: Netns,
    daemon: Daemon,
}

impl Node {
    fn start(
        net: &FleetNet,
        prefix: &str,
        i: u8,
        role: &str,
        with_w0: bool,
        extra: &[String],
    ) -> Node {
        Node::start_env(net, prefix, i, role, with_w0, extra, &[])
    }

    /// [`Node::start`] with environment variables for the daemon.
    #[allow(clippy::too_many_arguments)]
    fn start_env(
        net: &FleetNet,
        prefix: &str,
        i: u8,
        role: &str,
        with_w0: bool,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> Node {
        let ns = Netns::new();
        if with_w0 {
            ns.add_pair("w0", "w1");
        }
        net.connect(&ns.name, i)
            .expect("join the management bridge");
        let name = format!("n{i}");
        let mut daemon = Daemon::new(Some(&ns));
        daemon.extra_args = node_args(&net.node_url(), &name, prefix, &[format!("role={role}")]);
        // Short, so a killed node's lease expires soon (the tests wait for it), but not so short
        // that a live node's renewals miss it while CI's parallel builds hold both CPUs: at
        // 2 s, CI once saw a live node's lease expire during a prepare.
        daemon
            .extra_args
            .extend(["--etcd-lease-ttl".to_owned(), "5".to_owned()]);
        daemon.extra_args.extend_from_slice(extra);
        daemon.extra_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        daemon.spawn();
        Node { name, ns, daemon }
    }

    /// Sends `n` frames into `dev`'s peer and returns the monitor counts of `script`.
    fn traffic(&self, script: &str, peer: &str, n: usize) -> std::collections::BTreeMap<u64, u64> {
        assert_eq!(self.ns.send(peer, &frames("fc00::1", "fc00::2", n)), n);
        self.daemon.client().monitor(script)
    }

    /// The scripts this node's daemon runs, with their local generations.
    fn scripts(&self) -> Vec<(String, u64)> {
        self.daemon
            .client()
            .list()
            .scripts
            .iter()
            .map(|s| (s.name.clone(), s.generation))
            .collect()
    }
}

fn apply(key: u32, dev: &str, selector: &[(&str, &str)]) -> Action {
    Action::Apply {
        spec: Spec {
            file_name: "cnt.eclat".into(),
            text: SCRIPT.into(),
            siblings: Vec::new(),
            defines: vec![
                ("KEY".into(), key.to_string()),
                ("DEVNAME".into(), dev.into()),
            ],
            selector: selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Spec::default()
        },
    }
}

/// The fleet's client side: a runtime and a connection.
struct Operator {
    rt: tokio::runtime::Runtime,
    client: eclat_fleet::Client,
    layout: Layout,
}

impl Operator {
    fn new(etcd: EtcdOptions, prefix: &str) -> Operator {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(eclat_fleet::connect(&etcd)).expect("connect");
        Operator {
            rt,
            client,
            layout: Layout::new(prefix),
        }
    }

    /// [`Operator::new`] on `net`'s etcd over plain HTTP.
    fn plain(net: &FleetNet, prefix: &str) -> Operator {
        let etcd = EtcdOptions {
            endpoints: vec![net.etcd().url()],
            ..EtcdOptions::default()
        };
        Operator::new(etcd, prefix)
    }

    fn rollout(&mut self, name: &str, action: Action, timeout: Duration) -> Report {
        self.rt
            .block_on(rollout::rollout(
                &mut self.client,
                &self.layout,
                name,
                action,
                timeout,
            ))
            .expect("a rollout that ran")
    }

    /// A rollout of a script that imports user packages, with their built objects.
    fn rollout_objects(&mut self, name: &str, action: Action, objects: &Objects) -> Report {
        self.rt
            .block_on(rollout::rollout_with_objects(
                &mut self.client,
                &self.layout,
                name,
                action,
                objects,
                TIMEOUT,
                0,
            ))
            .expect("a rollout that ran")
    }

    /// The hashes of the objects in etcd, sorted.
    fn objects(&mut self) -> Vec<String> {
        let (c, l) = (&mut self.client, &self.layout);
        self.rt.block_on(async {
            let got = c
                .get(
                    l.objects(),
                    Some(GetOptions::new().with_prefix().with_keys_only()),
                )
                .await
                .unwrap();
            let mut hashes: Vec<String> = got
                .kvs()
                .iter()
                .map(|kv| kv.key_str().unwrap()[l.objects().len()..].to_owned())
                .collect();
            hashes.sort();
            hashes
        })
    }

    /// Writes `bytes` under `key`.
    fn put(&mut self, key: String, bytes: Vec<u8>) {
        self.rt.block_on(self.client.put(key, bytes, None)).unwrap();
    }

    fn try_rollout(&mut self, name: &str, action: Action) -> eclat_fleet::error::Result<Report> {
        self.rt.block_on(rollout::rollout(
            &mut self.client,
            &self.layout,
            name,
            action,
            TIMEOUT,
        ))
    }

    /// Waits (watching etcd, at most a minute) until `pred` holds of the live nodes' names.
    fn wait_live(&mut self, pred: impl Fn(&[String]) -> bool) {
        let (c, l) = (&mut self.client, &self.layout);
        self.rt.block_on(async {
            let mut watch = c
                .watch(l.alive_all(), Some(WatchOptions::new().with_prefix()))
                .await
                .unwrap();
            loop {
                let live: Vec<String> = rollout::live_nodes(c, l)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|n| n.name)
                    .collect();
                if pred(&live) {
                    return;
                }
                tokio::time::timeout(Duration::from_secs(60), watch.message())
                    .await
                    .unwrap_or_else(|_| panic!("the live nodes stay {live:?}"))
                    .unwrap();
            }
        });
    }

    /// The lease of each live node's `alive/` key.
    fn leases(&mut self) -> BTreeMap<String, i64> {
        let (c, l) = (&mut self.client, &self.layout);
        self.rt.block_on(async {
            let got = c
                .get(l.alive_all(), Some(GetOptions::new().with_prefix()))
                .await
                .unwrap();
            got.kvs()
                .iter()
                .map(|kv| (kv.key_str().unwrap().to_owned(), kv.lease()))
                .collect()
        })
    }

    /// Waits (watching etcd, at most a minute) until every one of `count` live nodes holds a
    /// lease not in `old`: each has registered again (a stale key of an old lease would
    /// expire in the middle of the next rollout, which would see the node go away).
    fn wait_registered_again(&mut self, count: usize, old: &BTreeMap<String, i64>) {
        let prefix = self.layout.alive_all();
        let mut watch = self
            .rt
            .block_on(
                self.client
                    .watch(prefix, Some(WatchOptions::new().with_prefix())),
            )
            .unwrap();
        loop {
            let now = self.leases();
            let fresh = now.iter().filter(|(k, l)| old.get(*k) != Some(*l)).count();
            if now.len() == count && fresh == count {
                return;
            }
            self.rt
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(60), watch.message()).await
                })
                .unwrap_or_else(|_| panic!("the nodes did not register again: {now:?}"))
                .unwrap();
        }
    }

    /// Waits (watching etcd) for `node`'s status of `script` to be `phase` at `generation`.
    fn wait_status(&mut self, script: &str, node: &str, generation: u64, phase: Phase) {
        let key = self.layout.status(script, node);
        let c = &mut self.client;
        self.rt.block_on(async {
            let mut watch = c.watch(key.clone(), None).await.unwrap();
            loop {
                let got = c.get(key.clone(), None).await.unwrap();
                let status: Option<Status> = got
                    .kvs()
                    .first()
                    .and_then(|kv| serde_json::from_slice(kv.value()).ok());
                if status
                    .as_ref()
                    .is_some_and(|s| s.generation == generation && s.phase == phase)
                {
                    return;
                }
                tokio::time::timeout(Duration::from_secs(60), watch.message())
                    .await
                    .unwrap_or_else(|_| panic!("{node}'s status of {script} stays {status:?}"))
                    .unwrap();
            }
        });
    }
}

fn outcomes(r: &Report) -> Vec<(String, Option<Phase>)> {
    r.nodes.iter().map(|n| (n.node.clone(), n.phase)).collect()
}

#[test]
fn a_fleet_rolls_out_all_or_nothing_and_converges() {
    let mut net = fleet_net(false);
    let prefix = format!("/fleet-test-{}/", std::process::id());
    let roles = ["edge", "edge", "core", "core"];
    // w0 on the first three only: a script on w0 cannot load on n3.
    let mut nodes: Vec<Node> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| Node::start(&net, &prefix, i as u8, role, i < 3, &[]))
        .collect();
    let mut op = Operator::plain(&net, &prefix);
    op.wait_live(|live| live.len() == 4);

    // 1. To every node: each counts its traffic under key 1.
    let r = op.rollout("cnt", apply(1, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(r.generation, 1);
    for n in &nodes {
        assert_eq!(n.traffic("cnt", "v1", 10).get(&1), Some(&10), "{}", n.name);
    }

    // 2. The interface is missing on n3: it cannot prepare, and no node switches.
    let r = op.rollout("cnt", apply(2, "w0", &[]), TIMEOUT);
    assert!(!r.committed, "{r:#?}");
    assert_eq!(r.reason, "a node could not prepare");
    let n3 = r.nodes.iter().find(|o| o.node == "n3").unwrap();
    assert_eq!(n3.phase, Some(Phase::Failed));
    assert!(n3.error.contains("w0"), "{}", n3.error);
    // The abort does not wait for the others: each had answered `preparing` or `prepared`
    // (then it drops what it prepared), or not yet (then it may never see the proposal).
    for o in r.nodes.iter().filter(|o| o.node != "n3") {
        match o.phase {
            Some(Phase::Preparing | Phase::Prepared) => {
                op.wait_status("cnt", &o.node, 2, Phase::Aborted)
            }
            None => {}
            other => panic!("{}: {other:?}", o.node),
        }
    }
    for n in &nodes {
        assert_eq!(n.scripts(), vec![("cnt".to_owned(), 1)], "{}", n.name);
        assert_eq!(n.traffic("cnt", "v1", 5).get(&1), Some(&15), "{}", n.name);
    }

    // 3. kill -9 of n2 as it prepares: its lease expires, the rollout aborts, nobody switches.
    let before = op.leases();
    nodes[2].daemon.stop();
    nodes[2]
        .daemon
        .extra_env
        .push(("ECLATD_CRASH_AT".into(), "fleet.prepare".into()));
    nodes[2].daemon.spawn();
    op.wait_registered_again(4, &{
        let mut b = before.clone();
        b.retain(|k, _| k.ends_with("/n2"));
        b
    });
    let r = op.rollout("cnt", apply(2, "v0", &[]), TIMEOUT);
    assert!(!r.committed, "{r:#?}");
    assert_eq!(r.reason, "n2 went away during the prepare", "{r:#?}");
    assert!(nodes[2].daemon.wait_for_log("crash point `fleet.prepare`"));
    for o in r.nodes.iter().filter(|o| o.node != "n2") {
        assert_eq!(o.phase, Some(Phase::Prepared), "{r:#?}");
        op.wait_status("cnt", &o.node, 2, Phase::Aborted);
    }
    // Restarted, n2 adopts what it ran and stays on generation 1, as the fleet.
    let before = op.leases();
    nodes[2].daemon.kill9();
    nodes[2].daemon.extra_env.clear();
    nodes[2].daemon.spawn();
    op.wait_registered_again(4, &{
        let mut b = before.clone();
        b.retain(|k, _| k.ends_with("/n2"));
        b
    });
    for n in &nodes {
        assert_eq!(n.scripts(), vec![("cnt".to_owned(), 1)], "{}", n.name);
        assert_eq!(n.traffic("cnt", "v1", 5).get(&1), Some(&20), "{}", n.name);
    }

    // 4. Generation 2 everywhere: the counts move to key 2 on every node.
    let r = op.rollout("cnt", apply(2, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(r.generation, 2);
    for n in &nodes {
        let counts = n.traffic("cnt", "v1", 7);
        assert_eq!(counts.get(&2), Some(&7), "{}: {counts:?}", n.name);
    }

    // 5. etcd goes away under the running fleet: the data plane stays exactly as it is.
    let before = op.leases();
    net.etcd_mut().stop();
    for n in &nodes {
        let counts = n.traffic("cnt", "v1", 3);
        assert_eq!(counts.get(&2), Some(&10), "{}: {counts:?}", n.name);
        assert_eq!(n.scripts(), vec![("cnt".to_owned(), 2)], "{}", n.name);
    }
    net.etcd_mut().restart().expect("etcd again");
    // Every node comes back (a new session registers again): a rollout reaches all of them.
    op.wait_registered_again(4, &before);
    let r = op.rollout("cnt", apply(3, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    for n in &nodes {
        assert_eq!(n.traffic("cnt", "v1", 4).get(&3), Some(&4), "{}", n.name);
    }

    // 6. A selector: only the edge nodes run `edge`, on w0.
    let r = op.rollout("edge", apply(9, "w0", &[("role", "edge")]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(
        outcomes(&r),
        vec![
            ("n0".to_owned(), Some(Phase::Committed)),
            ("n1".to_owned(), Some(Phase::Committed))
        ]
    );
    for n in &nodes[..2] {
        assert_eq!(n.traffic("edge", "w1", 6).get(&9), Some(&6), "{}", n.name);
    }
    assert!(nodes[2..].iter().all(|n| n.scripts().len() == 1));
    // A selector matching no live node is an error.
    let e = op
        .try_rollout("edge", apply(9, "w0", &[("role", "nowhere")]))
        .unwrap_err();
    assert!(e.to_string().contains("matches no live node"), "{e}");

    // 7. A node added later converges to what is committed.
    let late = Node::start(&net, &prefix, 4, "edge", true, &[]);
    op.wait_status("cnt", "n4", 3, Phase::Committed);
    op.wait_status("edge", "n4", 1, Phase::Committed);
    assert_eq!(late.traffic("cnt", "v1", 5).get(&3), Some(&5));
    assert_eq!(late.traffic("edge", "w1", 2).get(&9), Some(&2));
    nodes.push(late);

    // 8. fleet delete: every node running `edge` unloads it, in two phases.
    let r = op.rollout("edge", Action::Delete, TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(r.nodes.len(), 3, "{r:#?}");
    for n in &nodes {
        let names: Vec<String> = n.scripts().into_iter().map(|(s, _)| s).collect();
        assert_eq!(names, ["cnt"], "{}", n.name);
        if n.name != "n3" {
            assert_eq!(n.ns.xdp_prog("w0"), 0, "{}: w0 has no program", n.name);
        }
    }
}

#[test]
fn a_fleet_over_tls_with_client_certificates() {
    let net = fleet_net(true);
    let tls = net.etcd().tls().unwrap().clone();
    let prefix = "/fleet-tls/";
    let files = [
        "--etcd-ca".to_owned(),
        tls.ca.display().to_string(),
        "--etcd-cert".to_owned(),
        tls.client_cert.display().to_string(),
        "--etcd-key".to_owned(),
        tls.client_key.display().to_string(),
    ];
    let node = Node::start(&net, prefix, 7, "edge", false, &files);
    let secure = EtcdOptions {
        endpoints: vec![net.etcd().url()],
        ca: Some(tls.ca.clone()),
        cert: Some(tls.client_cert.clone()),
        key: Some(tls.client_key.clone()),
    };
    let mut op = Operator::new(secure, prefix);
    op.wait_live(|live| live == ["n7"]);
    let r = op.rollout("cnt", apply(4, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(node.traffic("cnt", "v1", 3).get(&4), Some(&3));

    // Without a client certificate, etcd refuses the client.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = rt.block_on(async {
        let mut c = eclat_fleet::connect(&EtcdOptions {
            endpoints: vec![net.etcd().url()],
            ca: Some(tls.ca.clone()),
            ..EtcdOptions::default()
        })
        .await?;
        rollout::live_nodes(&mut c, &Layout::new(prefix)).await
    });
    assert!(refused.is_err(), "{refused:?}");
}

/// A user package `wiz`: `add1(a)` returns `a + 1` (version 1), `a + 2` (version 2), and
/// counts its calls in its map `add1_seen`.
fn add1_source(plus: u32) -> String {
    format!(
        "#include <hike/sdk.h>

struct {{
\t__uint(type, BPF_MAP_TYPE_ARRAY);
\t__uint(max_entries, 1);
\t__type(key, __u32);
\t__type(value, __u64);
}} add1_seen SEC(\".maps\");

HIKE_PROG(add1, a)
{{
\t__u32 k = 0;
\t__u64 *seen = bpf_map_lookup_elem(&add1_seen, &k);

\tif (seen)
\t\t__sync_fetch_and_add(seen, 1);
\tHIKE_RETURN(a + {plus});
}}

char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
"
    )
}

/// Counts its traffic under `monitor(add1(KEY))`: the key shows that `wiz.add1` ran.
const PKG_SCRIPT: &str = "\
from programs.net import hike_drop, monitor
from programs.wiz import add1
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (count_drop) }
ip6_sc.attach('v0', 'xdp')

def count_drop():
    k = add1(KEY)
    monitor(k)
    hike_drop()
    return 0
";

/// The script with package `wiz` at version `plus`, built here as `eclat fleet apply
/// --package-dir` builds it: the spec and the objects.
fn with_package(dir: &std::path::Path, plus: u32, key: u32) -> (Action, Objects) {
    std::fs::create_dir_all(dir.join("wiz")).unwrap();
    std::fs::write(dir.join("wiz/add1.bpf.c"), add1_source(plus)).unwrap();
    let catalog = eclat_link::project::catalog(&[dir.to_path_buf()]).expect("the catalog");
    assert_eq!(catalog.broken_package("wiz"), None);
    let (packages, objects) =
        eclat_fleet::packages::bundle(&catalog, &["net".into(), "wiz".into()]).unwrap();
    assert_eq!(packages.len(), 1, "only the user package: {packages:?}");
    let spec = Spec {
        file_name: "pkg.eclat".into(),
        text: PKG_SCRIPT.into(),
        defines: vec![("KEY".into(), key.to_string())],
        packages,
        ..Spec::default()
    };
    (Action::Apply { spec }, objects)
}

#[test]
fn user_packages_reach_the_nodes_as_checked_objects() {
    let mut net = fleet_net(false);
    let prefix = format!("/fleet-pkg-{}/", std::process::id());
    let pkgs = std::env::temp_dir().join(format!("eclat-fleet-pkgs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&pkgs);
    // The nodes have neither the package folder nor a clang: they run what the operator
    // built.
    let no_clang = [("HIKE_CLANG", "/nonexistent/clang")];
    let mut nodes: Vec<Node> = (0..2)
        .map(|i| Node::start_env(&net, &prefix, 20 + i, "edge", false, &[], &no_clang))
        .collect();
    let mut op = Operator::plain(&net, &prefix);
    op.wait_live(|live| live.len() == 2);

    // 1. Version 1 everywhere: each node counts under add1(5) = 6.
    let (action, objects) = with_package(&pkgs, 1, 5);
    assert_eq!(objects.len(), 2, "the xdp and the tc build");
    let r = op.rollout_objects("pkg", action, &objects);
    assert!(r.all_committed(), "{r:#?}");
    for n in &nodes {
        let counts = n.traffic("pkg", "v1", 6);
        assert_eq!(counts.get(&6), Some(&6), "{}: {counts:?}", n.name);
    }
    let stored = op.objects();
    assert_eq!(stored, objects.keys().cloned().collect::<Vec<_>>());
    // The package's map is read with the layout of the objects the node got.
    for n in &nodes {
        let got = n.daemon.client().get("pkg", "add1.add1_seen", "0").unwrap();
        assert_eq!(got.entry.unwrap().value, "6", "{}", n.name);
    }
    assert_eq!(
        cached(&nodes[0]),
        objects.keys().cloned().collect::<Vec<_>>()
    );

    // 1b. kill -9 of n20, restarted while etcd is down: the package's map reads as before
    // (the packages rebuilt from the node's state directory alone), and the traffic sent
    // while no daemon ran went through the script.
    let leases = op.leases();
    let entries = |n: &Node| {
        let dump = n.daemon.client().dump("pkg", "add1.add1_seen").unwrap();
        dump.entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect::<Vec<_>>()
    };
    let before = entries(&nodes[0]);
    assert_eq!(before, vec![("0".to_owned(), "6".to_owned())]);
    nodes[0].daemon.kill9();
    net.etcd_mut().stop();
    assert_eq!(nodes[0].ns.send("v1", &frames("fc00::1", "fc00::2", 2)), 2);
    nodes[0].daemon.spawn();
    assert_eq!(entries(&nodes[0]), vec![("0".to_owned(), "8".to_owned())]);
    let counts = nodes[0].traffic("pkg", "v1", 1);
    assert_eq!(counts.get(&6), Some(&9), "{counts:?}");
    assert_eq!(entries(&nodes[0]), vec![("0".to_owned(), "9".to_owned())]);
    assert!(nodes[0].daemon.client().stats("pkg").is_ok());
    // A clean restart (SIGTERM), etcd still down: the same.
    nodes[0].daemon.stop();
    nodes[0].daemon.spawn();
    assert_eq!(entries(&nodes[0]), vec![("0".to_owned(), "9".to_owned())]);

    // 1c. The same with an object of the node's cache damaged: the data plane runs as
    // before; the log and `eclat map` say which object and why.
    nodes[0].daemon.kill9();
    let object = nodes[0]
        .daemon
        .state_dir()
        .join("objects")
        .join(format!("{}.bpf.o", before_hash(&objects)));
    std::fs::write(&object, b"damaged").unwrap();
    nodes[0].daemon.spawn();
    let e = nodes[0]
        .daemon
        .client()
        .get("pkg", "add1.add1_seen", "0")
        .unwrap_err();
    assert!(
        e.message().contains("fleet script `pkg`")
            && e.message().contains(&before_hash(&objects))
            && e.message().contains("has the SHA-256")
            && e.message().contains("rolled out again"),
        "{}",
        e.message()
    );
    assert!(nodes[0]
        .daemon
        .wait_for_log("the user packages of fleet script `pkg` cannot be rebuilt"));
    let counts = nodes[0].traffic("pkg", "v1", 1);
    assert_eq!(counts.get(&6), Some(&10), "{counts:?}");
    net.etcd_mut().restart().expect("etcd again");
    op.wait_registered_again(2, &leases);

    // 2. Version 2, whose XDP build etcd holds corrupted (other bytes under its hash): every
    // node that fetches it fails to prepare, naming the object, and no node switches.
    let (action, objects) = with_package(&pkgs, 2, 5);
    let Action::Apply { spec } = &action else {
        unreachable!()
    };
    let eclat_fleet::model::ObjectRef::User { xdp, .. } = &spec.packages[0].exports[0].object
    else {
        panic!("{spec:?}")
    };
    let key = op.layout.object(xdp);
    op.put(key.clone(), b"not an object".to_vec());
    let r = op.rollout_objects("pkg", action.clone(), &objects);
    assert!(!r.committed, "{r:#?}");
    assert_eq!(r.reason, "a node could not prepare");
    let failed = r
        .nodes
        .iter()
        .find(|o| o.phase == Some(Phase::Failed))
        .expect("a node failed");
    assert!(
        failed.error.contains(&format!("object sha256:{xdp}")) && failed.error.contains(&key),
        "{}",
        failed.error
    );
    for n in &nodes {
        assert_eq!(n.scripts(), vec![("pkg".to_owned(), 1)], "{}", n.name);
        let counts = n.traffic("pkg", "v1", 4);
        // n20 counted 4 more frames in 1b and 1c.
        let want = if n.name == "n20" { 14 } else { 10 };
        assert_eq!(counts.get(&6), Some(&want), "{}: {counts:?}", n.name);
    }

    // 3. The key repaired (deleted: the next rollout writes it again), version 2 runs.
    op.rt.block_on(op.client.delete(key.clone(), None)).unwrap();
    let r = op.rollout_objects("pkg", action, &objects);
    assert!(r.all_committed(), "{r:#?}");
    for n in &nodes {
        let counts = n.traffic("pkg", "v1", 3);
        assert_eq!(counts.get(&7), Some(&3), "{}: {counts:?}", n.name);
    }
    // Version 1's objects went with the commit: only version 2's are left, in etcd and
    // in each node's cache (the damaged copy too).
    let stored = op.objects();
    assert_eq!(stored, objects.keys().cloned().collect::<Vec<_>>());
    for n in &nodes {
        assert_eq!(cached(n), stored, "{}", n.name);
        let got = n.daemon.client().get("pkg", "add1.add1_seen", "0").unwrap();
        assert_eq!(got.entry.unwrap().value, "3", "{}", n.name);
    }

    // 4. Deleted: no script names an object any more, none is left.
    let r = op.rollout("pkg", Action::Delete, TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert!(op.objects().is_empty(), "{:?}", op.objects());
    for n in &nodes {
        assert!(cached(n).is_empty(), "{}: {:?}", n.name, cached(n));
    }
    let _ = std::fs::remove_dir_all(&pkgs);
}

/// The hashes of the objects in `node`'s cache, sorted.
fn cached(node: &Node) -> Vec<String> {
    let dir = node.daemon.state_dir().join("objects");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".bpf.o").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The first of `objects`' hashes.
fn before_hash(objects: &Objects) -> String {
    objects.keys().next().expect("an object").clone()
}

/// Generation 2 of `cnt` on the prepare test's node: counts under key 2 and passes (its
/// `hike_pass` is a program the node does not run yet, so its prepare loads one).
fn pass_v2() -> Action {
    Action::Apply {
        spec: Spec {
            file_name: "cnt.eclat".into(),
            text: SCRIPT.replace("hike_drop", "hike_pass"),
            defines: vec![("KEY".into(), "2".into()), ("DEVNAME".into(), "v0".into())],
            ..Spec::default()
        },
    }
}

impl Operator {
    /// Proposes `action` as generation `generation` of `name` to `nodes` by hand, as the
    /// first phase of a rollout does: the nodes prepare and answer, and nothing more happens
    /// until [`Operator::commit_by_hand`] or [`Operator::abort_by_hand`].
    fn propose_by_hand(&mut self, name: &str, generation: u64, action: &Action, nodes: &[&str]) {
        let proposal = eclat_fleet::model::Proposal {
            generation,
            action: action.clone(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        };
        let key = self.layout.proposal(name);
        self.put(key, serde_json::to_vec(&proposal).unwrap());
    }

    /// The second phase, by hand: the proposal becomes the committed state.
    fn commit_by_hand(&mut self, name: &str) {
        use eclat_fleet::etcd_client::{Txn, TxnOp};
        let (c, l) = (&mut self.client, &self.layout);
        self.rt.block_on(async {
            let got = c.get(l.proposal(name), None).await.unwrap();
            let kv = got.kvs().first().expect("a proposal");
            let p: eclat_fleet::model::Proposal = serde_json::from_slice(kv.value()).unwrap();
            let commit = eclat_fleet::model::Committed {
                generation: p.generation,
                attempt: kv.mod_revision(),
                action: p.action,
                nodes: p.nodes,
            };
            let txn = Txn::new().and_then([
                TxnOp::put(
                    l.committed(name),
                    serde_json::to_vec(&commit).unwrap(),
                    None,
                ),
                TxnOp::delete(l.proposal(name), None),
            ]);
            assert!(c.txn(txn).await.unwrap().succeeded());
        });
    }

    /// The rollout aborted, by hand: the proposal goes.
    fn abort_by_hand(&mut self, name: &str) {
        let key = self.layout.proposal(name);
        self.rt.block_on(self.client.delete(key, None)).unwrap();
    }
}

/// The pins of `node`'s instance, and how many of them are programs.
fn pins(node: &Node) -> (Vec<std::path::PathBuf>, usize) {
    let files = support::files_under(&node.daemon.pin_dir());
    let progs = files
        .iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("prog_"))
        })
        .count();
    (files, progs)
}

#[test]
fn a_prepared_generation_waits_loaded_beside_the_running_one() {
    let net = fleet_net(false);
    let prefix = format!("/fleet-prep-{}/", std::process::id());
    let mut node = Node::start(&net, &prefix, 30, "edge", false, &[]);
    let mut op = Operator::plain(&net, &prefix);
    op.wait_live(|live| live.len() == 1);
    let r = op.rollout("cnt", apply(1, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(node.traffic("cnt", "v1", 4).get(&1), Some(&4));
    let (running, running_progs) = pins(&node);
    let xdp = node.ns.xdp_prog("v0");

    // 1. Prepared: the new loader and the new program are loaded and pinned beside the
    // running version, which still gets every packet.
    op.propose_by_hand("cnt", 2, &pass_v2(), &["n30"]);
    op.wait_status("cnt", "n30", 2, Phase::Prepared);
    let (prepared, prepared_progs) = pins(&node);
    assert_eq!(
        prepared_progs,
        running_progs + 2,
        "hike_pass and the new loader"
    );
    assert!(
        prepared.iter().any(|p| p.ends_with("prog_hike_pass")),
        "{prepared:?}"
    );
    assert!(
        prepared
            .iter()
            .any(|p| p.to_string_lossy().contains("loaders/cnt-g2/")),
        "{prepared:?}"
    );
    assert_eq!(node.ns.xdp_prog("v0"), xdp, "not attached");
    assert_eq!(node.scripts(), vec![("cnt".to_owned(), 1)]);
    assert_eq!(node.traffic("cnt", "v1", 3).get(&1), Some(&7));

    // 2. Aborted: nothing of it is left, no pin and no program.
    op.abort_by_hand("cnt");
    op.wait_status("cnt", "n30", 2, Phase::Aborted);
    assert_eq!(pins(&node), (running.clone(), running_progs));
    assert_eq!(node.traffic("cnt", "v1", 2).get(&1), Some(&9));

    // 3. Prepared again and committed: the node switches to what it prepared.
    op.propose_by_hand("cnt", 2, &pass_v2(), &["n30"]);
    op.wait_status("cnt", "n30", 2, Phase::Prepared);
    let (prepared, _) = pins(&node);
    op.commit_by_hand("cnt");
    op.wait_status("cnt", "n30", 2, Phase::Committed);
    assert!(node.daemon.wait_for_log("from_prepared=true"));
    assert_eq!(node.scripts(), vec![("cnt".to_owned(), 2)]);
    assert_eq!(node.traffic("cnt", "v1", 5).get(&2), Some(&5));
    // The old loader went; what was prepared stays, nothing else appeared but its links.
    let (switched, _) = pins(&node);
    assert!(
        switched
            .iter()
            .all(|p| prepared.contains(p) || p.to_string_lossy().contains("/links/")),
        "{switched:?}"
    );
    assert!(!switched
        .iter()
        .any(|p| p.to_string_lossy().contains("loaders/cnt-g1/")));

    // 4. kill -9 between prepare and commit: the restarted daemon undoes the prepared
    // generation (its intent), and the node stays on the committed one.
    let (before, before_progs) = pins(&node);
    op.propose_by_hand("cnt", 3, &apply(3, "v0", &[]), &["n30"]);
    op.wait_status("cnt", "n30", 3, Phase::Prepared);
    assert_ne!(pins(&node).0, before, "the prepared generation is pinned");
    let leases = op.leases();
    node.daemon.kill9();
    op.abort_by_hand("cnt");
    node.daemon.spawn();
    op.wait_registered_again(1, &leases);
    assert_eq!(pins(&node), (before, before_progs));
    assert_eq!(node.scripts(), vec![("cnt".to_owned(), 2)]);
    assert_eq!(node.traffic("cnt", "v1", 2).get(&2), Some(&7));
    // And the next rollout goes through.
    let r = op.rollout("cnt", apply(4, "v0", &[]), TIMEOUT);
    assert!(r.all_committed(), "{r:#?}");
    assert_eq!(node.traffic("cnt", "v1", 2).get(&4), Some(&2));
}

/// Counts its traffic in a C chain, under the key `-D KEY` gives clang.
const C_SCRIPT: &str = "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc
from chains.helpers import count_c

ip6_sc[ip6_sc_map] = { (0): (main) }
ip6_sc.attach('v0', 'xdp')

def main():
    count_c()
    return 0
";

const C_HELPERS: &str = "\
#include <hike/chain.h>
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN(hike_drop, 0);
HIKE_CHAIN(count_c)
{
\tmonitor(KEY);
\thike_drop();
\treturn 0;
}
";

/// The script with its C chains at key `key`, built here as `eclat fleet apply` builds them:
/// the spec and the object.
fn with_c_chains(dir: &std::path::Path, key: u32) -> (Action, Objects) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("helpers.hike.c");
    std::fs::write(&path, C_HELPERS).unwrap();
    let defines = vec![("KEY".to_owned(), key.to_string())];
    let (object, _) = eclat_link::project::cchains::CFile::build(&path, &defines)
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.details));
    let hash = eclat_fleet::objects::digest(&object);
    let spec = Spec {
        file_name: "withc.eclat".into(),
        text: C_SCRIPT.into(),
        siblings: vec![("helpers.hike.c".into(), C_HELPERS.into())],
        defines,
        c_chains: [("helpers.hike.c".to_owned(), hash.clone())].into(),
        ..Spec::default()
    };
    (Action::Apply { spec }, [(hash, object.into())].into())
}

#[test]
fn c_chains_reach_the_nodes_built() {
    let net = fleet_net(false);
    let prefix = format!("/fleet-cchains-{}/", std::process::id());
    let dir = std::env::temp_dir().join(format!("eclat-fleet-cchains-{}", std::process::id()));
    // The node has no clang: it runs the chains the operator built.
    let no_clang = [("HIKE_CLANG", "/nonexistent/clang")];
    let node = Node::start_env(&net, &prefix, 40, "edge", false, &[], &no_clang);
    let mut op = Operator::plain(&net, &prefix);
    op.wait_live(|live| live.len() == 1);

    // 1. The C chain counts under the key it was built with.
    let (action, objects) = with_c_chains(&dir, 9);
    let r = op.rollout_objects("withc", action, &objects);
    assert!(
        r.all_committed(),
        "{r:#?}\n{}",
        node.daemon.log.lock().unwrap()
    );
    assert_eq!(node.traffic("withc", "v1", 3).get(&9), Some(&3));
    assert_eq!(op.objects(), objects.keys().cloned().collect::<Vec<_>>());

    // 2. Rebuilt with another key: a replace, the new build counts.
    let (action, objects) = with_c_chains(&dir, 11);
    let r = op.rollout_objects("withc", action, &objects);
    assert!(r.all_committed(), "{r:#?}");
    let counts = node.traffic("withc", "v1", 2);
    assert_eq!((counts.get(&9), counts.get(&11)), (Some(&3), Some(&2)));
    // The first build's object went from etcd with the commit.
    assert_eq!(op.objects(), objects.keys().cloned().collect::<Vec<_>>());

    // 3. Without its object (a spec that names the C file but no build): the node would
    // need clang, which it has not; the rollout aborts, naming it, and the node keeps the
    // running build.
    let (mut action, _) = with_c_chains(&dir, 12);
    let Action::Apply { spec } = &mut action else {
        unreachable!()
    };
    spec.c_chains.clear();
    let r = op.rollout_objects("withc", action, &Objects::new());
    assert!(!r.committed, "{r:#?}");
    let failed = &r.nodes[0];
    assert!(failed.error.contains("clang"), "{}", failed.error);
    assert_eq!(node.traffic("withc", "v1", 1).get(&11), Some(&3));
    let _ = std::fs::remove_dir_all(&dir);
}
