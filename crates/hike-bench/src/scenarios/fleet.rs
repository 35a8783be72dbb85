//! `fleet`: the time of a fleet rollout, from `eclat fleet apply` to every node committed, for
//! 1, 2, 4 and 8 nodes on this machine (`fleet`/`rollout_ms`, param = nodes).
//!
//! A real etcd (`hike_testkit::etcd`, the `etcd-server` package's binary) listens on a bridge
//! of the host (`hike_testkit::fleet`); eight eclatd (`hike_netlab::Eclatd` with `--etcd --node --label`), each in its
//! own network namespace reached through a veth on that bridge, register with it. Node `i`
//! carries the label `gN=yes` for every N > i, so that the selector `gN=yes` picks the first N
//! nodes. A trial is one `eclat_fleet::rollout::rollout` call (what `eclat fleet apply`
//! does): propose, every selected node prepares (compile, link, load the new generation beside
//! the running one, verified, attached nowhere), all answer, commit, every node switches its
//! attachment to the prepared generation and answers; each
//! trial changes the script's `monitor` key, so each is a real replacement. Every node
//! prepares on the same 2 CPUs here: the figure grows with the nodes for that reason, which a
//! real fleet (one machine per node) does not have; `docs/fleet.md` discusses the scale.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use eclat_fleet::model::{Action, Spec};
use eclat_fleet::{rollout, EtcdOptions, Layout};
use hike_netlab::{Eclatd, EclatdOptions, LabTag, Netns, ScratchDir};
use hike_testkit::fleet::{node_args, FleetNet};

use crate::daemon::DaemonClient;
use crate::measure::{Progress, Settings, Summary};
use crate::report::{Record, ScenarioReport};

/// The scenario's name.
pub const NAME: &str = "fleet";

/// The fleet sizes measured.
pub const NODES: [usize; 4] = [1, 2, 4, 8];

/// The fleet's keys in etcd.
const PREFIX: &str = "/hike-bench-fleet/";

/// The script every node runs: it counts under `monitor(KEY)` and drops.
const SCRIPT: &str = "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (count_drop) }
ip6_sc.attach('d0', 'xdp')

def count_drop():
    monitor(KEY)
    hike_drop()
    return 0
";

/// How long a node may take to answer in each phase.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A node: its namespace (with `d0`/`d1`, and `m0` on the bridge) and its daemon.
struct Node {
    // Fields drop in order: the daemon before its directory and its namespace.
    _daemon: Eclatd,
    _scratch: ScratchDir,
    _ns: Netns,
}

fn start_node(i: usize, tag: &LabTag, net: &FleetNet, eclatd: &std::path::Path) -> Result<Node> {
    let ns = tag.netns(&format!("n{i}"))?;
    ns.ip(&["link", "set", "lo", "up"])?;
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"])?;
    ns.ip(&["link", "set", "d0", "up"])?;
    ns.ip(&["link", "set", "d1", "up"])?;
    net.connect(ns.name(), i as u8)?;
    let labels: Vec<String> = NODES
        .iter()
        .filter(|&&n| i < n)
        .map(|n| format!("g{n}=yes"))
        .collect();
    let args = node_args(&net.node_url(), &format!("n{i}"), PREFIX, &labels);
    // Each node its own directory and instance: both are named `<prefix><pid>`.
    let prefix = format!("hike-bench-fleet{}-", (b'a' + i as u8) as char);
    let scratch = ScratchDir::new(&prefix)?;
    let daemon = Eclatd::start(
        &EclatdOptions {
            bin: eclatd,
            netns: &ns,
            dir: scratch.path(),
            instance_prefix: &prefix,
            args: &args,
        },
        DaemonClient::responds,
    )
    .with_context(|| format!("start node n{i}"))?;
    Ok(Node {
        _daemon: daemon,
        _scratch: scratch,
        _ns: ns,
    })
}

fn action(n: usize, key: u32) -> Action {
    Action::Apply {
        spec: Spec {
            file_name: "bench.eclat".into(),
            text: SCRIPT.into(),
            siblings: Vec::new(),
            defines: vec![("KEY".into(), key.to_string())],
            selector: [(format!("g{n}"), "yes".to_owned())].into(),
            ..Spec::default()
        },
    }
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("starting etcd and the nodes");
    let eclatd = super::control_plane::eclatd_bin(settings)?;
    let tag = LabTag::new("hike-bench-fleet-", "hbf");
    let net = FleetNet::start(&tag, false).context("etcd and the nodes' bridge")?;
    let max = *NODES.iter().max().expect("sizes");
    let nodes = (0..max)
        .map(|i| start_node(i, &tag, &net, &eclatd))
        .collect::<Result<Vec<Node>>>()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("the async runtime")?;
    let layout = Layout::new(PREFIX);
    let mut client = rt.block_on(eclat_fleet::connect(&EtcdOptions {
        endpoints: vec![net.etcd().url()],
        ..EtcdOptions::default()
    }))?;
    // The nodes register asynchronously: ask until all are live (a minute at most).
    let started = Instant::now();
    while rt
        .block_on(rollout::live_nodes(&mut client, &layout))?
        .len()
        < max
    {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the {max} nodes did not all register with etcd within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let trials = settings.trials.max(1);
    let mut records = Vec::new();
    let mut key = 0;
    for n in NODES {
        let mut samples = Vec::new();
        // One rollout first, not counted: it loads the script where later ones replace it.
        for trial in 0..=trials {
            progress.update(&format!("{n} nodes, rollout {trial}/{trials}"));
            key += 1;
            let t = Instant::now();
            let report = rt.block_on(rollout::rollout(
                &mut client,
                &layout,
                &format!("bench-{n}"),
                action(n, key),
                TIMEOUT,
            ))?;
            let took = t.elapsed();
            if !report.all_committed() || report.nodes.len() != n {
                bail!("the rollout to {n} nodes did not commit everywhere: {report:?}");
            }
            if trial > 0 {
                samples.push(took.as_secs_f64() * 1e3);
            }
        }
        // Each size's script runs on d0: unloaded (a fleet delete) before the next size.
        let deleted = rt.block_on(rollout::rollout(
            &mut client,
            &layout,
            &format!("bench-{n}"),
            Action::Delete,
            TIMEOUT,
        ))?;
        if !deleted.all_committed() {
            bail!("the delete of bench-{n} did not commit everywhere: {deleted:?}");
        }
        let s = Summary::of(&samples).expect("at least one trial");
        records.push(Record::of(
            NAME,
            "eclat",
            Some(n as u64),
            "rollout_ms",
            "ms",
            &s,
        ));
    }
    drop(client);
    drop(nodes);
    drop(net);
    progress.finish("done");
    Ok(ScenarioReport {
        name: NAME,
        description: format!(
            "Fleet rollout time: `eclat fleet apply` (a two-phase rollout over etcd) from the \
             proposal to every node's answer that it switched, replacing a script on 1, 2, 4 \
             and 8 eclatd nodes, each in its own network namespace, all on this machine's \
             CPUs, with a local etcd; median of {trials} rollouts per size."
        ),
        param_name: "nodes",
        param_labels: Vec::new(),
        records,
        metrics: vec!["rollout_ms"],
        bars: Vec::new(),
        notes: vec![
            "Every node prepares (compile, link, load beside the running version) and \
             switches on the same CPUs here, so the time grows with the nodes; see \
             docs/fleet.md for the scale on a real fleet."
                .to_owned(),
        ],
    })
}
