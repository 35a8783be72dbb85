//! `hike-demo` (`make demo`): the paper's Listing 2 (`examples/ddos_tb_2_lev.eclat`) on a
//! router between network namespaces, loaded by `eclatd`, under real traffic.
//!
//! It builds the network of [`lab`] (attacker, client, router, collector), starts `eclatd` in
//! the router's namespace (`hike_netlab::Eclatd`; [`daemon`] talks to it), loads the script once per ingress link with
//! `-D DEVNAME=<link> -D COLLECTOR_IFINDEX=<the collector's link>`, attaches a counter to the
//! collector's veth, and sends IPv6/UDP traffic from `hike_netlab::Sender` (live frames where
//! the kernel allows them, else an AF_PACKET socket): the client under the
//! token buckets' rate, the attacker far over it ([`traffic`]). Then it reads the monitor
//! and the blacklist (`eclat map dump --json`) and the counters (`eclat stats --json`),
//! prints a report, checks that the outcome makes sense ([`report`]), unloads, stops the
//! daemon and deletes the namespaces. Exit status 0 when every check holds, 1 otherwise or
//! on an error, 130 after Ctrl-C (everything is cleaned up in each case). Needs root.
//!
//! ```text
//! sudo target/debug/hike-demo            # eclat and eclatd from the same directory
//! sudo target/debug/hike-demo --attack-packets 2000000 --eclat /usr/bin/eclat
//! ```

mod daemon;
mod lab;
mod report;
mod traffic;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use hike_netlab::{signals, Counted, Eclatd, EclatdOptions, ScratchDir, SourceChoice};

use crate::daemon::{Eclat, LoadedScripts};
use crate::lab::{
    DemoLab, ATTACKER_ADDR, ATTACKER_MAC, CLIENT_ADDR, CLIENT_MAC, ROUTER_ATK_MAC, ROUTER_CLI_MAC,
    SERVICE_ADDR, SERVICE_PORT,
};
use crate::report::{
    blacklist_from_dump, bucket_from_dump, checks, render_counts, Figures, Monitor, Pair, Stats,
};
use crate::traffic::{Collector, Plan, Sender, Service};

/// The script, as the repository has it.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/ddos_tb_2_lev.eclat"
);

/// The script's names in the daemon, one per ingress link.
const ATTACKER_SCRIPT: &str = "ddos-atk";
const CLIENT_SCRIPT: &str = "ddos-cli";
/// Its chain.
const CHAIN: &str = "ddos_tb_2_lev";
/// The maps the report reads.
const MONITOR_MAP: &str = "monitor.monitor_map";
const BLACKLIST_MAP: &str = "ip6_hset_srcdst.ip6_hset_srcdst_map";
const DST_BUCKET_MAP: &str = "ip6_dst_tbmon.ip6_dst_tbmon_cfg";
const SD_BUCKET_MAP: &str = "ip6_sd_tbmon.ip6_sd_tbmon_cfg";

/// How long the service may take to receive what was passed.
const SETTLE: Duration = Duration::from_secs(3);

/// Runs the DDoS demo of the paper: Listing 2 in eCLAT on a router under attack.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  \
        sudo hike-demo\n  \
        sudo hike-demo --attack-packets 2000000 --eclat target/release/eclat --eclatd target/release/eclatd"
)]
struct Cli {
    /// The `eclat` binary (default: beside this one).
    #[arg(long, value_name = "PATH")]
    eclat: Option<PathBuf>,
    /// The `eclatd` binary (default: beside this one).
    #[arg(long, value_name = "PATH")]
    eclatd: Option<PathBuf>,
    /// The script to load: the paper's Listing 2, with the placeholders `DEVNAME` and
    /// `COLLECTOR_IFINDEX`.
    #[arg(long, value_name = "FILE", default_value = SCRIPT)]
    script: PathBuf,
    /// Packets the attacker sends, as fast as it can.
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u32).range(1000..))]
    attack_packets: u32,
    /// Packets the client sends, 20 per second (at most 100: the buckets' burst).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(2..=100))]
    client_packets: u32,
}

fn main() -> ExitCode {
    // First, before any other thread exists: every thread inherits the blocked signals.
    if let Err(e) = signals::install("hike-demo") {
        eprintln!("hike-demo: {e:#}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "hike-demo: needs root (network namespaces, eBPF): run `sudo make demo` or `sudo {}`",
            std::env::args().next().unwrap_or_default()
        );
        return ExitCode::FAILURE;
    }
    let result = demo(&cli);
    if signals::interrupted() {
        eprintln!("hike-demo: interrupted; everything it set up is removed");
        return ExitCode::from(130);
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("hike-demo: FAILED: a check did not hold (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("hike-demo: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A binary beside this one.
fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("where is this binary")?;
    Ok(me.with_file_name(name))
}

/// The whole demo; whether every check held.
fn demo(cli: &Cli) -> Result<bool> {
    let started = Instant::now();
    let eclat_bin = match &cli.eclat {
        Some(p) => p.clone(),
        None => sibling("eclat")?,
    };
    let eclatd_bin = match &cli.eclatd {
        Some(p) => p.clone(),
        None => sibling("eclatd")?,
    };
    for (bin, what) in [(&eclat_bin, "eclat"), (&eclatd_bin, "eclatd")] {
        if !bin.exists() {
            bail!(
                "no `{what}` at {} (build it: `cargo build -p {what}`, or give --{what})",
                bin.display()
            );
        }
    }
    let script = cli
        .script
        .canonicalize()
        .unwrap_or_else(|_| cli.script.clone());
    if !script.exists() {
        bail!("no script at {}", script.display());
    }

    println!(
        "HIKe/eCLAT demo: the paper's Listing 2 ({}) on a router under a DDoS attack\n",
        display_path(&script)
    );
    let scratch = ScratchDir::new("hike-demo-")?;
    let lab = DemoLab::new().context("build the network")?;
    print_network(&lab);

    let daemon_opts = EclatdOptions {
        bin: &eclatd_bin,
        netns: &lab.router,
        dir: scratch.path(),
        instance_prefix: "hike-demo-",
        args: &[],
    };
    let mut daemon = Eclatd::start(&daemon_opts, |socket| {
        Eclat::new(eclat_bin.clone(), socket.to_owned()).responds()
    })
    .context("start eclatd in the router's namespace")?;
    let eclat = Eclat::new(eclat_bin, daemon.socket().to_owned());
    println!(
        "eclatd: in the router's namespace, instance {}, socket {}",
        daemon.instance(),
        daemon.socket().display()
    );

    // The script once per ingress link: the daemon shares programs (and their maps) between
    // scripts, so the blacklist, the buckets and the monitor are common to both links.
    let mut scripts = LoadedScripts::new(eclat.clone());
    let collector_ifindex = format!("COLLECTOR_IFINDEX={}", lab.collector.router_ifindex);
    println!(
        "loaded once per ingress link, two scripts sharing their programs and maps (one \
         blacklist, one monitor):"
    );
    for (name, host) in [
        (ATTACKER_SCRIPT, &lab.attacker),
        (CLIENT_SCRIPT, &lab.client),
    ] {
        let defines = [
            format!("DEVNAME={}", host.router_dev),
            collector_ifindex.clone(),
        ];
        scripts
            .load(&script, name, &defines)
            .with_context(|| format!("load {name}"))?;
        println!(
            "  eclat load --name {name} -D {} -D {}",
            defines[0], defines[1]
        );
    }

    let collector = Collector::attach(&lab.collector)?;
    let service = Service::start(&lab.router)?;
    let source = SourceChoice::detect()?;
    let client = Sender::new(
        &lab.client,
        CLIENT_ADDR,
        CLIENT_MAC,
        ROUTER_CLI_MAC,
        40_000,
        source.kind,
    )?;
    let attacker = Sender::new(
        &lab.attacker,
        ATTACKER_ADDR,
        ATTACKER_MAC,
        ROUTER_ATK_MAC,
        40_001,
        source.kind,
    )?;
    let plan = Plan {
        client_packets: cli.client_packets,
        client_interval: Duration::from_millis(50),
        attack_after: cli.client_packets / 3,
        attack_packets: cli.attack_packets,
    };
    let bucket = |map: &str| -> Result<String> {
        let (rate, size) = bucket_from_dump(&eclat.map_dump(ATTACKER_SCRIPT, map)?)
            .with_context(|| format!("read {map}"))?;
        Ok(format!("{rate} packet/s, burst {size}"))
    };
    println!(
        "\ntraffic: IPv6/UDP to the service [{SERVICE_ADDR}]:{SERVICE_PORT} on the router, sent \
         with {} ({}: {})\n  \
         the script's token buckets (eclat map dump): per destination {}; per (source, \
         destination) {}",
        source.kind.describe(),
        source.kind,
        source.reason,
        bucket(DST_BUCKET_MAP)?,
        bucket(SD_BUCKET_MAP)?
    );
    let sent = traffic::run(&client, &attacker, plan)?;
    let attack_secs = sent.attack_time.as_secs_f64().max(1e-9);
    println!(
        "  client    {CLIENT_ADDR:<15} sent {:>9} packets, {:.0} per second (within its bucket)",
        sent.client,
        1.0 / plan.client_interval.as_secs_f64()
    );
    println!(
        "  attacker  {ATTACKER_ADDR:<15} sent {:>9} packets in {:.2} s ({:.0} kpps), from the \
         client's packet {} on",
        sent.attacker,
        attack_secs,
        sent.attacker as f64 / attack_secs / 1000.0,
        plan.attack_after + 1
    );

    // Everything was processed in softirq right after it was sent; the service's thread may
    // still be reading its socket.
    let received = service.wait_for(CLIENT_ADDR, sent.client, SETTLE)?;
    let counted = collector.counted()?;
    let monitor = Monitor::from_dump(&eclat.map_dump(ATTACKER_SCRIPT, MONITOR_MAP)?)
        .context("read the monitor")?;
    let blacklist = blacklist_from_dump(&eclat.map_dump(ATTACKER_SCRIPT, BLACKLIST_MAP)?)
        .context("read the blacklist")?;
    let stats =
        Stats::from_json(&eclat.json(&["stats", "--json"])?).context("read the statistics")?;

    let rcv = |a| received.get(&a).copied().unwrap_or(0);
    print_results(&monitor, &received, &counted, &blacklist, &stats);

    let figures = Figures {
        client_sent: sent.client,
        client_received: rcv(CLIENT_ADDR),
        client_runs: stats.runs(&format!("{CLIENT_SCRIPT}/{CHAIN}")),
        attacker_pair: Some((ATTACKER_ADDR, SERVICE_ADDR)),
        client_pair: Some((CLIENT_ADDR, SERVICE_ADDR)),
        blacklist,
        monitor,
        collected: counted.total(),
        faults: stats.faults.clone(),
    };
    println!("\nchecks:");
    let checks = checks(&figures);
    for c in &checks {
        println!("  {}  {}", if c.ok { "ok  " } else { "FAIL" }, c.what);
    }
    let passed = checks.iter().all(|c| c.ok);

    // Teardown, in order; the guards would do the same on an error.
    drop(attacker);
    drop(client);
    drop(service);
    drop(collector);
    let unloaded = scripts.unload_all()?;
    daemon.stop()?;
    drop(lab);
    drop(scratch);
    println!(
        "\nteardown: unloaded {}; eclatd stopped and its pins removed; the 4 namespaces \
         deleted",
        unloaded.join(", ")
    );
    println!(
        "demo: {} in {:.1} s",
        if passed { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    Ok(passed)
}

/// The figures read back after the traffic.
fn print_results(
    monitor: &Monitor,
    received: &BTreeMap<Ipv6Addr, u64>,
    counted: &Counted,
    blacklist: &[Pair],
    stats: &Stats,
) {
    let rcv = |a| received.get(&a).copied().unwrap_or(0);
    println!("\nresults:");
    println!(
        "  router, monitor ({MONITOR_MAP}): passed {}, dropped {}, redirected {} (of {} \
         packets)",
        monitor.passed,
        monitor.dropped,
        monitor.redirected,
        monitor.total()
    );
    println!(
        "  service received: {} from the client, {} from the attacker (its packets before \
         it was blacklisted)",
        rcv(CLIENT_ADDR),
        rcv(ATTACKER_ADDR)
    );
    let by_attacker = counted.by_source.get(&ATTACKER_ADDR).copied().unwrap_or(0);
    println!(
        "  collector: {} sampled frames ({} from the attacker; one in 500 of the blacklisted \
         pair's packets is redirected there)",
        counted.total(),
        by_attacker
    );
    println!(
        "  blacklist ({BLACKLIST_MAP}): {} pair{}",
        blacklist.len(),
        if blacklist.len() == 1 { "" } else { "s" }
    );
    for (src, dst) in blacklist {
        println!("    {src} -> {dst}");
    }
    println!(
        "  eclat stats: {} packets through the VM; chain runs: {}",
        stats.packets,
        stats
            .chains
            .iter()
            .map(|c| format!("{} {}", c.name, c.runs))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  program calls: {}", render_counts(&stats.calls));
    println!("  faults: {}", render_counts(&stats.faults));
}

/// `path` relative to the current directory when it is below it.
fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

fn print_network(lab: &DemoLab) {
    println!(
        "network: namespaces and veth links (deleted at the end), each sender on its own link \
         to the router:"
    );
    for (role, host, what) in [
        ("attacker", &lab.attacker, format!("{ATTACKER_ADDR}")),
        ("client", &lab.client, format!("{CLIENT_ADDR}")),
        (
            "collector",
            &lab.collector,
            "counts what arrives (XDP)".to_owned(),
        ),
    ] {
        println!(
            "  {role:<9} {:<22} {what:<26} {} <-> {} (router, ifindex {})",
            host.netns.name(),
            host.dev,
            host.router_dev,
            host.router_ifindex
        );
    }
    println!(
        "  router    {:<22} eclatd; the service [{SERVICE_ADDR}]:{SERVICE_PORT}\n",
        lab.router.name()
    );
}
