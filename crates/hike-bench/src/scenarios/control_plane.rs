//! `control_plane`: what it costs to compile, load and replace the paper's Listing 2
//! (`examples/ddos_tb_2_lev.eclat`), and whether a replacement loses packets.
//!
//! The script is attached to the ingress veth of the router of `hike_netlab::RouterLab`
//! (`-D DEVNAME=<that veth> -D COLLECTOR_IFINDEX=<the router's veth to the sink>`), by an
//! `eclatd` running in the router's namespace (`hike_netlab::Eclatd`, as `make demo` starts
//! it), driven through its gRPC API from this process ([`crate::daemon`]).
//!
//! - `compile_ms`: `-D` substitution, parse, check, code generation and validation of the
//!   script by `eclat-compiler` in this process, against the standard catalog (built once,
//!   as the daemon holds it). A trial is the median of [`COMPILES_PER_TRIAL`] compilations.
//! - `load_ms`: the wall time of the `Load` call that loads the whole script into the running
//!   daemon (the programs are embedded objects: nothing is built, but every program and the
//!   loader go through the verifier) and attaches it; the script is unloaded after each trial.
//! - `swap_ms`: the wall time of a `Load` call that replaces the loaded script by a version
//!   whose chain differs ([`SWAP_EDIT`]: the sampler's constant), and back; by design it
//!   includes one RCU grace period, which the daemon waits for before it frees the old
//!   version. A trial is the median of [`SWAPS_PER_TRIAL`] replacements.
//! - `swap_lost_packets`: under steady traffic (a paced `hike_netlab::Sender` into the router's
//!   veth, paced well below what the router can take), the script is replaced several times;
//!   the figure of a trial is the frames the generator sent minus the frames the chain
//!   counted (every path of Listing 2 calls `monitor` once: the monitor map, summed over its
//!   keys and CPUs with `DumpMap`). The veth's receive drops are read too, to tell a full
//!   receive ring from a loss in the swap. The generator's namespace has IPv6 disabled, so
//!   the kernel sends nothing of its own (neighbour discovery, MLD) that the chain would count.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use eclat_catalog::PackageCatalog;
use eclat_compiler::{compile, substitute, ChainTable, Define};
use eclat_proto::v1 as pb;
use hike_netlab::{
    signals, xdp_link, Eclatd, EclatdOptions, Ipv6Udp, LinkStats, PacedStats, RouterLab,
    ScratchDir, Sender, SourceChoice, TrafficObject, TrafficProgram, XdpLink,
};

use crate::daemon::DaemonClient;
use crate::measure::{Progress, Settings, Summary};
use crate::report::{Bar, Record, ScenarioReport};

/// The scenario's name.
pub const NAME: &str = "control_plane";

/// Listing 2, as the repository has it.
const SCRIPT: &str = include_str!("../../../../examples/ddos_tb_2_lev.eclat");
/// Its file name, for the daemon's diagnostics.
const SCRIPT_FILE: &str = "ddos_tb_2_lev.eclat";
/// Its chain.
const CHAIN: &str = "ddos_tb_2_lev";
/// Its name in the daemon.
const SCRIPT_NAME: &str = "listing2";
/// The map every path of the chain counts in, once per packet.
const MONITOR_MAP: &str = "monitor.monitor_map";

/// The edit that makes the replacement: one blacklisted packet in 250 sampled instead of one
/// in 500 (a different constant in the chain's code).
pub const SWAP_EDIT: (&str, &str) = ("ip6_sd_dec2zero(500)", "ip6_sd_dec2zero(250)");

/// Compilations per `compile_ms` trial (with `--quick`: [`QUICK_COMPILES_PER_TRIAL`]).
pub const COMPILES_PER_TRIAL: u32 = 1000;
const QUICK_COMPILES_PER_TRIAL: u32 = 50;

/// Replacements per `swap_ms` trial.
pub const SWAPS_PER_TRIAL: usize = 3;

/// Replacements per `swap_lost_packets` trial (with `--quick`: 2).
const TRAFFIC_SWAPS: usize = 6;
const QUICK_TRAFFIC_SWAPS: usize = 2;

/// Traffic before the first replacement, between two, and after the last.
const TRAFFIC_LEAD: Duration = Duration::from_millis(300);
const TRAFFIC_GAP: Duration = Duration::from_millis(100);

/// The traffic's rate: one frame every 10 µs, 100,000 frames per second, a few percent of what
/// the router forwards at saturation (`ddos_mark`'s `pps`).
const GEN_PERIOD: Duration = Duration::from_micros(10);

/// How long the chain's count may take to catch up with the generator after it stops.
const SETTLE: Duration = Duration::from_secs(2);

/// The blacklisted source of the traffic (the token buckets blacklist it at once).
const SOURCE: &str = "2001:db8:bad::1";

/// Milliseconds of a duration.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median of `v` (not empty).
fn median(v: &[f64]) -> f64 {
    Summary::of(v).expect("at least one sample").median
}

/// The swapped version of the script.
fn swapped_script() -> Result<String> {
    ensure!(
        SCRIPT.matches(SWAP_EDIT.0).count() == 1,
        "`{}` is not once in {SCRIPT_FILE}: update SWAP_EDIT",
        SWAP_EDIT.0
    );
    Ok(SCRIPT.replace(SWAP_EDIT.0, SWAP_EDIT.1))
}

/// Every packet the monitor counted: the values of a dump of [`MONITOR_MAP`] (a number, or a
/// struct with `packets`), summed.
fn monitor_total(dump: &pb::DumpMapReply) -> Result<u64> {
    dump.entries
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.value)
                .with_context(|| format!("monitor value `{}` is not JSON", e.value))?;
            v.as_u64()
                .or_else(|| v.get("packets").and_then(serde_json::Value::as_u64))
                .with_context(|| format!("monitor value `{}` has no packet count", e.value))
        })
        .sum()
}

/// Where the `eclatd` binary is: as given, else beside this executable.
fn eclatd_bin(settings: &Settings) -> Result<std::path::PathBuf> {
    let path = match &settings.eclatd {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("where is this binary")?
            .with_file_name("eclatd"),
    };
    if !path.is_file() {
        bail!(
            "no `eclatd` at {}: build it beside hike-bench (`cargo build --release -p eclatd`; \
             `make bench` does), or give --eclatd PATH",
            path.display()
        );
    }
    Ok(path)
}

/// The `-D` definitions of the script on `lab`.
fn defines(lab: &RouterLab) -> Vec<(String, String)> {
    vec![
        ("DEVNAME".to_owned(), lab.in_if.clone()),
        ("COLLECTOR_IFINDEX".to_owned(), lab.out_ifindex.to_string()),
    ]
}

/// `compile_ms`: the trials' medians, the chain's length and the compilations per trial.
fn measure_compile(
    settings: &Settings,
    defines: &[(String, String)],
    progress: &Progress,
) -> Result<(Summary, usize, u32)> {
    progress.update("compile: reading the standard catalog");
    let catalog = PackageCatalog::standard().context("read the standard catalog")?;
    let defines: Vec<Define> = defines
        .iter()
        .map(|(name, value)| Define {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let chains = ChainTable::new();
    let once = || -> Result<usize> {
        let src = substitute(SCRIPT, &defines);
        let out = compile(&src, &catalog, &chains);
        if out.has_errors() {
            let file = eclat_syntax::diagnostic::SourceFile::new(SCRIPT_FILE, &src);
            bail!("{SCRIPT_FILE} does not compile:\n{}", out.render(&file));
        }
        let script = out.script.context("no script without errors")?;
        let chain = script
            .chain(CHAIN)
            .with_context(|| format!("{SCRIPT_FILE} has no chain `{CHAIN}`"))?;
        Ok(chain.assembly.insns.len())
    };
    let insns = once()?;
    let runs = if settings.quick {
        QUICK_COMPILES_PER_TRIAL
    } else {
        COMPILES_PER_TRIAL
    };
    let mut trials = Vec::new();
    for t in 0..settings.trials {
        signals::check()?;
        progress.update(&format!("compile: trial {}/{}", t + 1, settings.trials));
        let mut runs_ms = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            let started = Instant::now();
            std::hint::black_box(once()?);
            runs_ms.push(ms(started.elapsed()));
        }
        let m = median(&runs_ms);
        if settings.verbose {
            eprintln!("  compile trial {}: median {m:.3} ms of {runs}", t + 1);
        }
        trials.push(m);
    }
    Ok((
        Summary::of(&trials).expect("at least one trial"),
        insns,
        runs,
    ))
}

/// The daemon and a client, with the script's two versions and definitions.
struct Session<'a> {
    client: DaemonClient,
    lab: &'a RouterLab,
    defines: Vec<(String, String)>,
    swapped: String,
}

impl Session<'_> {
    /// Loads the original script (it must not be loaded): the reply and the wall time.
    fn load(&mut self) -> Result<(pb::LoadReply, Duration)> {
        let (reply, took) = self
            .client
            .load(SCRIPT_NAME, SCRIPT_FILE, SCRIPT, &self.defines)?;
        ensure!(!reply.replaced, "`{SCRIPT_NAME}` was already loaded");
        let attached = reply
            .script
            .as_ref()
            .and_then(|s| s.loader.as_ref())
            .is_some_and(|l| {
                l.attachments
                    .iter()
                    .any(|a| a.ifindex == self.lab.in_ifindex)
            });
        ensure!(
            attached,
            "`{SCRIPT_NAME}` is not attached to `{}` (ifindex {})",
            self.lab.in_if,
            self.lab.in_ifindex
        );
        Ok((reply, took))
    }

    /// Replaces the loaded script by its `n`th version (odd: swapped, even: original): the
    /// wall time.
    fn swap(&mut self, n: usize) -> Result<Duration> {
        let text = if n % 2 == 1 {
            self.swapped.as_str()
        } else {
            SCRIPT
        };
        let (reply, took) = self
            .client
            .load(SCRIPT_NAME, SCRIPT_FILE, text, &self.defines)?;
        ensure!(reply.replaced, "`{SCRIPT_NAME}` was not replaced");
        Ok(took)
    }

    fn unload(&mut self) -> Result<Duration> {
        self.client.unload(SCRIPT_NAME)
    }

    /// Packets the chain counted so far, read through `script` (the monitor's map is the
    /// program's, shared by every script that calls it).
    fn counted(&mut self, script: &str) -> Result<u64> {
        monitor_total(&self.client.dump_map(script, MONITOR_MAP)?)
    }
}

/// What the load and swap trials measured.
struct LoadSwap {
    load: Summary,
    swap: Summary,
    unload_ms: f64,
    programs: usize,
    chain_insns: u32,
}

fn measure_load_swap(
    session: &mut Session<'_>,
    settings: &Settings,
    progress: &Progress,
) -> Result<LoadSwap> {
    // A warm-up: the daemon's first load and replace pay for what is done once (the first
    // use of its catalog and of the VM's maps, say).
    progress.update("load/swap: warming up");
    session.load()?;
    session.swap(1)?;
    session.unload()?;
    let (mut loads, mut swaps, mut unloads) = (Vec::new(), Vec::new(), Vec::new());
    let (mut programs, mut chain_insns) = (0, 0);
    for t in 0..settings.trials {
        signals::check()?;
        progress.update(&format!("load/swap: trial {}/{}", t + 1, settings.trials));
        let (reply, took) = session.load()?;
        if let Some(s) = &reply.script {
            programs = s.programs.len();
            chain_insns = s
                .chains
                .iter()
                .find(|c| c.name == CHAIN)
                .map_or(0, |c| c.insns);
        }
        loads.push(ms(took));
        let trial_swaps: Vec<f64> = (1..=SWAPS_PER_TRIAL)
            .map(|n| session.swap(n).map(ms))
            .collect::<Result<_>>()?;
        swaps.push(median(&trial_swaps));
        unloads.push(ms(session.unload()?));
        if settings.verbose {
            eprintln!(
                "  load {:.1} ms, swaps {trial_swaps:.1?} ms, unload {:.1} ms",
                ms(took),
                unloads[unloads.len() - 1]
            );
        }
    }
    Ok(LoadSwap {
        load: Summary::of(&loads).expect("at least one trial"),
        swap: Summary::of(&swaps).expect("at least one trial"),
        unload_ms: median(&unloads),
        programs,
        chain_insns,
    })
}

/// The steady traffic: a `hike_netlab::Sender` in the edge namespace, one frame from
/// [`SOURCE`] to the router every [`GEN_PERIOD`], sent by threads on the router's CPU at nice
/// -20 (the router's softirq runs there too, after each batch of frames; the benchmark's own
/// thread, the gRPC client, keeps the other CPU); and a counter on the sink's veth, which makes
/// it accept the frames the chain redirects there.
struct Generator {
    sender: Sender,
    router_cpu: usize,
    _collector: (TrafficObject, XdpLink),
}

impl Generator {
    fn new(lab: &RouterLab) -> Result<Generator> {
        let frame = Ipv6Udp {
            dst_mac: hike_netlab::ROUTER_IN_MAC,
            src_mac: hike_netlab::GEN_MAC,
            src: SOURCE.parse().expect("a valid address"),
            dst: hike_netlab::DST_ADDR.parse().expect("a valid address"),
            src_port: 40_000,
            dst_port: 5000,
            payload: b"hi",
        }
        .frame();
        let source = SourceChoice::detect()?;
        let sender = Sender::new(&lab.edge, lab.gen_ifindex, &[frame], source.kind)?;
        let collector = TrafficObject::load()?;
        let count = collector.program_fd(TrafficProgram::Count)?;
        let link = lab
            .edge
            .run_in(|| xdp_link(count.as_fd(), lab.sink_ifindex))
            .context("attach the collector's counter to the sink's veth")?;
        Ok(Generator {
            sender,
            router_cpu: lab.router_cpu,
            _collector: (collector, link),
        })
    }

    /// Runs `during` while the traffic flows; stops it after, also on an error.
    fn during<T>(&self, during: impl FnOnce() -> Result<T>) -> Result<(T, PacedStats)> {
        self.sender
            .paced_during(GEN_PERIOD, self.router_cpu, during)
    }
}

/// What the traffic of one window did.
#[derive(Clone, Copy, Debug)]
struct Tally {
    /// Frames the generator sent.
    sent: u64,
    /// Frames the chain counted.
    counted: u64,
    /// Receive drops of the router's veth.
    rx_dropped: u64,
    /// How long the traffic ran.
    secs: f64,
    /// The largest time between two frames (or batches) sent.
    max_gap: Duration,
    /// The generator's test runs or batches, and the longest.
    calls: u64,
    longest_call: Duration,
}

impl Tally {
    /// Frames sent and not counted.
    fn lost(&self) -> i64 {
        self.sent as i64 - self.counted as i64
    }

    fn rate_kpps(&self) -> f64 {
        self.sent as f64 / self.secs.max(1e-9) / 1e3
    }
}

/// Runs `action` under the generator's traffic and counts: frames sent, frames counted by
/// the monitor (read through script `counter`), receive drops of the router's veth.
fn under_traffic<'a, T>(
    session: &mut Session<'a>,
    gen: &Generator,
    counter: &str,
    action: impl FnOnce(&mut Session<'a>) -> Result<T>,
) -> Result<(T, Tally)> {
    let lab = session.lab;
    let stats = || -> Result<LinkStats> { Ok(lab.router.link_stats(&lab.in_if)?) };
    let (counted0, stats0) = (session.counted(counter)?, stats()?);
    let started = Instant::now();
    let (value, paced) = gen.during(|| action(session))?;
    let secs = started.elapsed().as_secs_f64();
    let sent = paced.sent;
    // The router's softirq may still be draining its receive ring: wait until the count
    // reaches what was sent, or stops moving.
    let deadline = Instant::now() + SETTLE;
    let mut counted = session.counted(counter)? - counted0;
    while counted < sent && Instant::now() < deadline {
        signals::sleep(Duration::from_millis(50))?;
        let now = session.counted(counter)? - counted0;
        if now == counted {
            break;
        }
        counted = now;
    }
    let rx_dropped = stats()?.rx_dropped - stats0.rx_dropped;
    ensure!(sent > 0, "the generator sent nothing");
    ensure!(
        counted > 0,
        "the chain counted none of the {sent} frames sent"
    );
    ensure!(
        counted <= sent,
        "the chain counted {counted} frames where {sent} were sent: it counts packets that are \
         not the generator's"
    );
    Ok((
        value,
        Tally {
            sent,
            counted,
            rx_dropped,
            secs,
            max_gap: paced.max_gap,
            calls: paced.calls,
            longest_call: paced.longest_call,
        },
    ))
}

/// One `swap_lost_packets` trial.
#[derive(Clone, Copy, Debug)]
struct LossTrial {
    tally: Tally,
    swaps: usize,
    /// The median wall time of its replacements.
    swap_ms: f64,
}

/// The control: the same traffic across an unload and a new load, which must lose frames.
#[derive(Clone, Copy, Debug)]
struct Control {
    tally: Tally,
    /// From the `Unload` call to the end of the `Load` call.
    absent_ms: f64,
}

/// The name of the script that keeps the programs (and the monitor's map) loaded during the
/// control.
const KEEP_NAME: &str = "listing2-keep";

fn measure_losses(
    session: &mut Session<'_>,
    settings: &Settings,
    progress: &Progress,
) -> Result<(Vec<LossTrial>, Control)> {
    let gen = Generator::new(session.lab)?;
    let swaps = if settings.quick {
        QUICK_TRAFFIC_SWAPS
    } else {
        TRAFFIC_SWAPS
    };
    let mut trials = Vec::new();
    for t in 0..settings.trials {
        signals::check()?;
        progress.update(&format!(
            "swap under traffic: trial {}/{} ({swaps} swaps)",
            t + 1,
            settings.trials
        ));
        session.load()?;
        let (swap_times, tally) = under_traffic(session, &gen, SCRIPT_NAME, |session| {
            signals::sleep(TRAFFIC_LEAD)?;
            let mut times = Vec::new();
            for n in 1..=swaps {
                times.push(ms(session.swap(n)?));
                signals::sleep(if n == swaps {
                    TRAFFIC_LEAD
                } else {
                    TRAFFIC_GAP
                })?;
            }
            Ok(times)
        })?;
        session.unload()?;
        let trial = LossTrial {
            tally,
            swaps,
            swap_ms: median(&swap_times),
        };
        if settings.verbose {
            eprintln!(
                "  sent {} in {:.2} s (largest gap {:.0} µs), counted {}, rx dropped {}, lost \
                 {}; swaps {swap_times:.1?} ms; {} generator calls, the longest {:.0} ms",
                tally.sent,
                tally.secs,
                tally.max_gap.as_secs_f64() * 1e6,
                tally.counted,
                tally.rx_dropped,
                tally.lost(),
                tally.calls,
                ms(tally.longest_call)
            );
        }
        trials.push(trial);
    }

    // The control: a method that counted nothing lost would be worthless if it could not see
    // a loss. Unloading the script detaches it, and the veth drops what arrives until the
    // next load attaches it again; a second copy of the script, on the router's other veth
    // (where nothing arrives), keeps the programs and the monitor's map meanwhile.
    signals::check()?;
    progress.update("swap under traffic: control (unload, then load again)");
    session.load()?;
    let keep_defines = vec![
        ("DEVNAME".to_owned(), session.lab.out_if.clone()),
        (
            "COLLECTOR_IFINDEX".to_owned(),
            session.lab.out_ifindex.to_string(),
        ),
    ];
    session
        .client
        .load(KEEP_NAME, SCRIPT_FILE, SCRIPT, &keep_defines)?;
    let (absent, tally) = under_traffic(session, &gen, KEEP_NAME, |session| {
        signals::sleep(TRAFFIC_LEAD)?;
        let started = Instant::now();
        session.unload()?;
        session.load()?;
        let absent = started.elapsed();
        signals::sleep(TRAFFIC_LEAD)?;
        Ok(absent)
    })?;
    session.unload()?;
    session.client.unload(KEEP_NAME)?;
    ensure!(
        tally.lost() > 0,
        "the control lost no frame although the script was absent for {:.0} ms: the count \
         cannot see lost frames",
        ms(absent)
    );
    if settings.verbose {
        eprintln!(
            "  control: absent {:.0} ms, sent {}, counted {}, rx dropped {}, lost {}",
            ms(absent),
            tally.sent,
            tally.counted,
            tally.rx_dropped,
            tally.lost()
        );
    }
    Ok((
        trials,
        Control {
            tally,
            absent_ms: ms(absent),
        },
    ))
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let eclatd = eclatd_bin(settings)?;
    let swapped = swapped_script()?;
    let router_cpu = crate::pps::router_cpu(settings.cpu).unwrap_or(settings.cpu);
    let lab = RouterLab::new(router_cpu).context("build the router")?;
    let defines = defines(&lab);

    let (compile, compile_insns, compile_runs) = measure_compile(settings, &defines, &progress)?;

    progress.update("starting eclatd in the router's namespace");
    let scratch = ScratchDir::new("hike-bench-")?;
    let daemon = Eclatd::start(
        &EclatdOptions {
            bin: &eclatd,
            netns: &lab.router,
            dir: scratch.path(),
            instance_prefix: "hike-bench-",
        },
        DaemonClient::responds,
    )
    .context("start eclatd in the router's namespace")?;
    let mut session = Session {
        client: DaemonClient::connect(daemon.socket())?,
        lab: &lab,
        defines,
        swapped,
    };
    let measured = measure_load_swap(&mut session, settings, &progress)
        .and_then(|ls| Ok((ls, measure_losses(&mut session, settings, &progress)?)))
        .with_context(|| format!("eclatd's log ends with:\n{}", daemon.log_tail()));
    let (load_swap, (losses, control)) = measured?;
    drop(session);
    let mut daemon = daemon;
    daemon.stop()?;
    drop(scratch);
    drop(lab);
    progress.finish("done");
    Ok(report(
        settings,
        &compile,
        compile_insns,
        compile_runs,
        &load_swap,
        &losses,
        &control,
    ))
}

fn report(
    settings: &Settings,
    compile: &Summary,
    compile_insns: usize,
    compile_runs: u32,
    ls: &LoadSwap,
    losses: &[LossTrial],
    control: &Control,
) -> ScenarioReport {
    // The source the generator used (decided once per process).
    let source = SourceChoice::detect().map_or_else(|e| e.to_string(), |c| c.to_string());
    let lost: Vec<f64> = losses.iter().map(|t| t.tally.lost() as f64).collect();
    let lost = Summary::of(&lost).expect("at least one trial");
    let records = vec![
        Record::of(NAME, "eclat", None, "compile_ms", "ms", compile),
        Record::of(NAME, "eclatd", None, "load_ms", "ms", &ls.load),
        Record::of(NAME, "eclatd", None, "swap_ms", "ms", &ls.swap),
        Record::of(NAME, "eclatd", None, "swap_lost_packets", "packets", &lost),
    ];
    let bars = vec![
        Bar {
            figure: "`compile_ms` for Listing 2 (median)".to_owned(),
            paper: "seconds (clang per chain)".to_owned(),
            goal: "≤ 10 ms".to_owned(),
            value: compile.median,
            met: compile.median <= 10.0,
        },
        Bar {
            figure: format!("`swap_lost_packets` (the worst of {} trials)", losses.len()),
            paper: "(no swap)".to_owned(),
            goal: "0".to_owned(),
            value: lost.max,
            met: losses.iter().all(|t| t.tally.lost() == 0),
        },
    ];
    let rows: Vec<String> = losses
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let k = &t.tally;
            format!(
                "| {} | {} | {:.2} | {:.0} | {:.0} | {} | {} | {} | {} | {:.1} |",
                i + 1,
                t.swaps,
                k.secs,
                k.rate_kpps(),
                k.max_gap.as_secs_f64() * 1e6,
                k.sent,
                k.counted,
                k.rx_dropped,
                k.lost(),
                t.swap_ms
            )
        })
        .collect();
    let c = &control.tally;
    let notes = vec![
        format!(
            "`swap_lost_packets` per trial (gap: the largest time between two frames sent, \
             i.e. how steady the traffic was; sent: frames the generator sent; counted: the \
             chain's monitor map, summed; rx dropped: the router veth's receive drops, e.g. a \
             full ring; lost = sent − counted):\n\n\
             | trial | swaps | seconds | kpps | gap µs | sent | counted | rx dropped | lost | \
             swap ms (median, under traffic) |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{}",
            rows.join("\n")
        ),
        format!(
            "Control, to show that the count sees lost frames: under the same traffic the \
             script was unloaded and loaded again instead of replaced (absent for {:.0} ms; a \
             second copy on the router's other veth kept the programs and the monitor's map): \
             {} frames sent, {} counted, {} lost ({} of them in the veth's receive drops: a \
             veth without an XDP program refuses its peer's XDP frames without counting them).",
            control.absent_ms,
            c.sent,
            c.counted,
            c.lost(),
            c.rx_dropped
        ),
        format!(
            "Listing 2 compiles to one chain of {compile_insns} instructions ({} once linked by \
             the daemon) calling {} programs; `Unload` took {:.1} ms (median).",
            ls.chain_insns, ls.programs, ls.unload_ms
        ),
    ];
    ScenarioReport {
        name: NAME,
        description: format!(
            "The paper's Listing 2 (`examples/ddos_tb_2_lev.eclat`, `-D DEVNAME=<the router's \
             ingress veth> -D COLLECTOR_IFINDEX=<its veth to the sink>`) on the router of \
             `crates/hike-netlab/src/router.rs`, loaded by an `eclatd` running in the router's \
             namespace and driven over its gRPC socket from the benchmark (tonic, a \
             current-thread runtime). Every figure is a median over {trials} trials, min and \
             max beside it.\n\n\
             - **`compile_ms`**: `-D` substitution, parsing, checking, code generation and \
             validation by `eclat-compiler` in the benchmark's process, against the standard \
             catalog (read once, as the daemon holds it); a trial is the median of \
             {compile_runs} compilations.\n\
             - **`load_ms`**: wall time of the `Load` call that loads the whole script into the \
             running daemon and attaches it (the programs are embedded objects, nothing is \
             built; the daemon compiles, links, loads the {programs} programs and the loader \
             through the verifier and attaches); unloaded after each trial, after a warm-up \
             load.\n\
             - **`swap_ms`**: wall time of the `Load` call that replaces the loaded script by \
             a version whose chain differs (`{}` → `{}`) and back; it includes, by design, one \
             RCU grace period that the daemon waits for before freeing the old version. A \
             trial is the median of {SWAPS_PER_TRIAL} replacements.\n\
             - **`swap_lost_packets`**: steady traffic from a generator namespace into the \
             veth where the script is attached: a paced `hike_netlab::Sender` with {} (one \
             CPU, nice {}) sends one frame every {:.0} µs ({:.0} kpps, a few percent of the \
             router's saturation; one blacklisted source, so the chain drops and samples). After {:.1} s the script is \
             replaced {} times, {:.1} s apart, then the traffic runs {:.1} s more. A trial's \
             figure is the frames sent minus the frames the chain counted (every path of the \
             chain calls `monitor` once; its map summed over keys and CPUs with `DumpMap`); the \
             veth's receive drops are read too, to tell a full receive ring from a loss in the \
             swap. The generator's namespace has IPv6 disabled, so no packet of the kernel's own \
             (neighbour discovery, MLD) is counted.",
            SWAP_EDIT.0,
            SWAP_EDIT.1,
            source,
            hike_netlab::TRAFFIC_NICE,
            GEN_PERIOD.as_secs_f64() * 1e6,
            1.0 / GEN_PERIOD.as_secs_f64() / 1e3,
            TRAFFIC_LEAD.as_secs_f64(),
            losses.first().map_or(0, |t| t.swaps),
            TRAFFIC_GAP.as_secs_f64(),
            TRAFFIC_LEAD.as_secs_f64(),
            trials = settings.trials,
            programs = ls.programs,
        ),
        param_name: "script",
        param_labels: vec![(None, "Listing 2".to_owned())],
        records,
        metrics: vec!["compile_ms", "load_ms", "swap_ms", "swap_lost_packets"],
        bars,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swap_changes_one_constant_of_the_chain() {
        let swapped = swapped_script().unwrap();
        assert_ne!(swapped, SCRIPT);
        assert_eq!(swapped.lines().count(), SCRIPT.lines().count());
        let catalog = PackageCatalog::standard().unwrap();
        let defines = [
            Define::parse("DEVNAME=veth0").unwrap(),
            Define::parse("COLLECTOR_IFINDEX=3").unwrap(),
        ];
        let asm = |text: &str| {
            let out = compile(&substitute(text, &defines), &catalog, &ChainTable::new());
            assert!(!out.has_errors(), "{:?}", out.diagnostics);
            out.script.unwrap().chain(CHAIN).unwrap().assembly.clone()
        };
        let (a, b) = (asm(SCRIPT), asm(&swapped));
        assert_eq!(a.insns.len(), b.insns.len());
        let differ = a.insns.iter().zip(&b.insns).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 1, "one instruction loads the other constant");
    }

    #[test]
    fn monitor_dumps_sum_numbers_and_packet_structs() {
        let entry = |k: &str, v: &str| pb::MapEntry {
            key: k.to_owned(),
            value: v.to_owned(),
        };
        let dump = pb::DumpMapReply {
            entries: vec![entry("0", "7"), entry("1", r#"{"packets": 5}"#)],
            ..Default::default()
        };
        assert_eq!(monitor_total(&dump).unwrap(), 12);
        let bad = pb::DumpMapReply {
            entries: vec![entry("0", r#"{"bytes": 5}"#)],
            ..Default::default()
        };
        assert!(monitor_total(&bad).is_err());
    }
}
