//! `eclat run FILE (--packet HEX ... | --pcap FILE) [-D NAME=VALUE ...] [--json] [--trace]
//! [--clock pcap|wall]`: load a script into a private VM (attached to no interface), run
//! packets through its loader with `BPF_PROG_TEST_RUN`, report each one (its addresses, its
//! verdict and why, with `--trace` every call it made) and the script's maps, remove
//! everything.
//!
//! With `--json`, one object per packet per line, then a summary line (a stable contract):
//!
//! ```text
//! {"packet":1,"verdict":"pass","data_out":"…","result":0,"cause":{"kind":"program","program":"hike_pass"},"trace":{"chains":{"ddos":1},"programs":{"monitor":1,…}}}
//! {"packet":2,"verdict":"redirect","ifindex":6,"data_out":"…",…}
//! {"packet":3,"verdict":"aborted","data_out":"…","fault":{"reason":"no_prog","chain":"c","pc":4},"cause":{"kind":"fault"}}
//! {"packet":4,"verdict":"pass","data_out":"…","no_chain":true,"cause":{"kind":"no_chain"}}
//! {"packet":5,"verdict":"not_run","len":10,"not_run":"shorter than an Ethernet header (14 bytes)"}
//! {"summary":{"packets":5,"pass":2,"drop":0,"tx":0,"redirect":1,"aborted":1,"no_chain":1,"not_run":1,"faults":{"no_prog":1},"hook":"xdp"},
//!  "maps":{"monitor.monitor_map":[{"key":0,"value":{"packets":2}}]}}
//! ```
//!
//! `result` is the top chain's result (`r0` when it returned; 0 when a terminal program ended
//! the packet); it is absent when no chain ran, when the chain faulted, and when the chain
//! returns no value (it has no `return VALUE`: it exits with whatever its last call left).
//! `cause` says where the verdict came from (README: "Run a script against packets"). With
//! `--trace`, `calls` lists every chain entered and program called, in order, and
//! `calls_truncated_after` says where a full trace record was cut; `events` lists what the
//! packet's chains and programs emitted, with their time.
//!
//! Time: with `--pcap`, programs and chains read each packet's capture time as the clock
//! (`--clock pcap`, the default), so a time-dependent script (token buckets, timeouts) gives
//! the same verdicts on every run whatever the machine's speed; `--clock wall` (the default
//! for `--packet`) runs on the kernel's clock.
//!
//! Exit status: 0 when every packet ran, 1 for a script that does not compile, link or load
//! (or a packet the kernel refuses to run), 2 for a bad command line, 130 after Ctrl-C (which
//! stops between packets; everything loaded is removed all the same).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use eclat_catalog::layout::hex;
use eclat_catalog::PackageCatalog;
use eclat_compiler::output::CompiledScript;
use eclat_compiler::Define;
use eclat_link::{link, LoadOptions, LoadedScript, PacketRun, Unit};
use hike_runtime::XdpAction;
use serde::Serialize;
use serde_json::{json, Map as JsonMap, Value as Json};

use crate::explain::{self, EventClock};
use crate::frame::{self, ETH_HLEN};
use crate::packets::{parse_hex, read_capture};
use eclat_link::project::catalog;

/// Run packets through a script without attaching it anywhere: its programs, chains and
/// loader are loaded into a private VM, each packet goes through the loader with
/// BPF_PROG_TEST_RUN, and everything is removed at the end (also on error or Ctrl-C).
/// Needs root.
///
/// Example: `eclat run examples/ddos_tb_2_lev.eclat -D COLLECTOR_IFINDEX=6 --pcap examples/flood.pcap --json`
///
/// Example: `eclat run script.eclat --packet 0202000000020202000000010800... -D DEVNAME=veth0`
///
/// Example: `eclat run script.eclat --pcap capture.pcap --trace` (every call of every packet,
/// on the capture's clock)
///
/// Example: `eclat run count.eclat --priority 10 --also ddos.eclat@100 --pcap capture.pcap`
/// (two scripts on one hook, in order: per packet the verdict and the scripts it went through)
///
/// Example: `eclat run script.eclat --packet 0202000000020202000000010800... --hook tc_egress`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The script.
    file: PathBuf,
    /// A packet in hex, from its Ethernet header (repeat for several).
    #[arg(
        long = "packet",
        value_name = "HEX",
        required_unless_present = "pcap",
        conflicts_with = "pcap"
    )]
    packets: Vec<String>,
    /// A capture file (pcap or pcapng) of Ethernet frames.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Replace the whole word NAME by VALUE in the script (and the scripts it imports chains
    /// from) before compiling: `-D DEVNAME=veth0`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// One JSON object per packet per line, then a summary line with the maps.
    #[arg(long)]
    json: bool,
    /// The loader packets enter through, when the script imports several (default: the one
    /// it attaches first, or its only one).
    #[arg(long, value_name = "NAME")]
    loader: Option<String>,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`), compiled with clang on first use.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// Do not count chain runs and program calls (no `trace` per packet; a little faster).
    #[arg(long, conflicts_with = "calls")]
    no_trace: bool,
    /// Show every chain and program call of each packet, in order, with its arguments and
    /// what it returned (`calls` in `--json`).
    #[arg(long = "trace", conflicts_with = "also")]
    calls: bool,
    /// The time programs read: `pcap`, each packet's capture time (the default with `--pcap`:
    /// a replay gives the same verdicts on every run), or `wall`, the kernel's clock (the
    /// default with `--packet`).
    #[arg(long, value_enum, value_name = "CLOCK")]
    clock: Option<Clock>,
    /// Another script on the same hook (repeat for several): `FILE`, `FILE@PRIORITY` or
    /// `FILE@PRIORITY:VERDICT[,VERDICT...]` (default priority 100, proceed-on `pass`). The
    /// scripts run in eclatd's order, lower priority first, through the same dispatch;
    /// each packet's report is its final verdict and the scripts it went through.
    #[arg(long, value_name = "FILE[@PRIORITY[:VERDICTS]]")]
    also: Vec<String>,
    /// With `--also`: this script's priority (lower runs first; default 100).
    #[arg(long, value_name = "N", requires = "also")]
    priority: Option<u32>,
    /// With `--also`: the verdicts of this script that go on to the next script (among
    /// aborted, drop, pass, tx, redirect, or `any`, or `none`; default `pass`).
    #[arg(
        long = "proceed-on",
        value_name = "VERDICT[,VERDICT...]",
        requires = "also"
    )]
    proceed_on: Option<String>,
    /// The hook to run at: `xdp`, `tc_ingress` or `tc_egress` (the objects built for that
    /// hook; at TC the packet runs through the `sched_cls` loader as an skb). Default: the
    /// hook of the script's `attach`, else `xdp`. With `--also`, every script runs at this
    /// hook (default `xdp`).
    #[arg(long, value_name = "HOOK", value_parser = parse_hook)]
    hook: Option<eclat_catalog::Hook>,
    /// `interpreted` (the VM runs the chains) or `fused`: the loader, the chains and the
    /// bodies of the programs they call compiled into one program and verified once, as fast
    /// as hand-written eBPF (no `--trace`: a fused program records no calls).
    #[arg(long, value_name = "MODE", default_value = "interpreted", value_parser = parse_mode)]
    mode: eclat_link::Mode,
}

/// `--mode`.
fn parse_mode(s: &str) -> Result<eclat_link::Mode, String> {
    s.parse()
}

/// `--hook`: a hook by name.
fn parse_hook(s: &str) -> Result<eclat_catalog::Hook, String> {
    eclat_catalog::Hook::from_name(s)
        .ok_or_else(|| format!("unknown hook `{s}`: expected xdp, tc_ingress or tc_egress"))
}

/// `--clock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Clock {
    /// Each packet's capture time.
    Pcap,
    /// The kernel's clock.
    Wall,
}

/// A packet to run, and the time its programs read (`None`: the kernel's clock).
struct Input {
    data: Vec<u8>,
    clock_ns: Option<u64>,
}

/// Exit status of a bad command line.
const USAGE: u8 = 2;
/// Exit status after Ctrl-C.
const INTERRUPTED: u8 = 130;

fn fail(code: u8, e: &anyhow::Error) -> ExitCode {
    eprintln!("eclat: error: {e:#}");
    ExitCode::from(code)
}

pub fn run(args: Args) -> Result<ExitCode> {
    // The command line first: nothing is compiled or loaded for a bad one.
    // Checked here, not by clap: clap's conflicts ignore a default, so `--mode interpreted
    // --trace`, which is fine, would be refused with `--mode fused --trace`.
    if args.calls && args.mode == eclat_link::Mode::Fused {
        let e = anyhow::anyhow!(
            "`--trace` needs interpreted mode: a fused program records no calls (leave out \
             `--mode fused`; the per-packet list of chains and programs works fused)"
        );
        return Ok(fail(USAGE, &e));
    }
    let defines: Vec<Define> = match crate::defines::parse(&args.defines) {
        Ok(d) => d,
        Err(e) => return Ok(fail(USAGE, &e)),
    };
    let packets: Vec<Input> = match &args.pcap {
        Some(path) => {
            let captured = match read_capture(path) {
                Ok(p) => p,
                Err(e) => return Ok(fail(1, &e)),
            };
            let replay = args.clock.unwrap_or(Clock::Pcap) == Clock::Pcap;
            let mut inputs = Vec::with_capacity(captured.len());
            for (i, c) in captured.into_iter().enumerate() {
                let clock_ns = match (replay, c.ts_ns) {
                    (false, _) => None,
                    (true, Some(t)) => Some(t),
                    (true, None) => {
                        let e = anyhow::anyhow!(
                            "packet {} of `{}` has no time (a pcapng simple packet block): \
                             replay it on the kernel's clock with `--clock wall`",
                            i + 1,
                            path.display()
                        );
                        return Ok(fail(1, &e));
                    }
                };
                inputs.push(Input {
                    data: c.data,
                    clock_ns,
                });
            }
            inputs
        }
        None => {
            if args.clock == Some(Clock::Pcap) {
                let e = anyhow::anyhow!(
                    "`--clock pcap` needs `--pcap FILE`: packets given with `--packet` have no \
                     capture time (they run on the kernel's clock, `--clock wall`)"
                );
                return Ok(fail(USAGE, &e));
            }
            match args
                .packets
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    Ok(Input {
                        data: parse_hex(h).with_context(|| format!("--packet #{}", i + 1))?,
                        clock_ns: None,
                    })
                })
                .collect::<Result<_>>()
            {
                Ok(p) => p,
                Err(e) => return Ok(fail(USAGE, &e)),
            }
        }
    };
    let event_clock = if packets.iter().any(|p| p.clock_ns.is_some()) {
        EventClock::Replay
    } else {
        EventClock::Monotonic
    };

    // Ctrl-C sets a flag checked between packets, so that the VM is dropped (and everything
    // it loaded removed) on the way out.
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        return Ok(fail(
            1,
            &anyhow::Error::new(e).context("cannot handle Ctrl-C"),
        ));
    }

    // A Ctrl-C while compiling also stops clang (same process group): report the interrupt,
    // not the failure it caused.
    let stopped = || interrupted.load(Ordering::SeqCst);
    let user_error = |e: &anyhow::Error| {
        if stopped() {
            ExitCode::from(INTERRUPTED)
        } else {
            fail(1, e)
        }
    };
    let catalog = match catalog(&args.package_dirs) {
        Ok(c) => c,
        Err(e) => return Ok(user_error(&e.into())),
    };
    if !args.also.is_empty() {
        return run_hook(&args, &defines, &catalog, &packets);
    }
    let Some(units) = compile_all(&args.file, &defines, &catalog) else {
        return Ok(ExitCode::FAILURE);
    };
    if stopped() {
        return Ok(ExitCode::from(INTERRUPTED));
    }
    let (main, others) = units.split_first().expect("the main script");
    let main_unit = Unit {
        name: &main.0,
        script: &main.1,
    };
    let other_units: Vec<Unit<'_>> = others
        .iter()
        .map(|(name, script)| Unit { name, script })
        .collect();
    let linked = match link(&catalog, main_unit, &other_units, args.loader.as_deref()) {
        Ok(l) => l,
        Err(e) => return Ok(fail(1, &anyhow::Error::new(e))),
    };
    let opts = LoadOptions {
        trace: !args.no_trace,
        calls: args.calls,
        hook: args.hook,
        mode: args.mode,
        script_dir: args.file.parent().map(Path::to_path_buf),
    };
    let loaded = match LoadedScript::load(&catalog, linked, &opts) {
        Ok(l) => l,
        Err(e) => return Ok(user_error(&anyhow::Error::new(e))),
    };
    let output = Output {
        json: args.json,
        events: event_clock,
    };
    let code = match run_packets(&loaded, &packets, output, &interrupted) {
        Ok(code) => code,
        Err(e) => fail(1, &e),
    };
    // Explicit: the VM and everything in it go away here, before the process exits.
    drop(loaded);
    Ok(code)
}

/// `--also`: the scripts of one hook, in order, through the dispatch.
fn run_hook(
    args: &Args,
    defines: &[Define],
    catalog: &PackageCatalog,
    packets: &[Input],
) -> Result<ExitCode> {
    let scripts = std::iter::once(crate::run_hook::main_script(
        &args.file,
        args.priority,
        args.proceed_on.as_deref(),
    ))
    .chain(args.also.iter().map(|a| crate::run_hook::parse_also(a)))
    .collect::<Result<Vec<_>>>();
    let scripts = match scripts {
        Ok(s) => s,
        Err(e) => return Ok(fail(USAGE, &e)),
    };
    let at = args.hook.unwrap_or(eclat_catalog::Hook::Xdp);
    let hook = match crate::run_hook::Hook::load(
        &scripts,
        defines,
        catalog,
        args.loader.as_deref(),
        at,
        args.mode,
    ) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(ExitCode::FAILURE),
        Err(e) => return Ok(fail(1, &e)),
    };
    if !args.json {
        println!("scripts in order: {}", hook.order().join(" → "));
    }
    let data: Vec<Vec<u8>> = packets.iter().map(|p| p.data.clone()).collect();
    match hook.run(&data, args.json) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(fail(1, &e)),
    }
}

/// Compiles the script and what it imports ([`eclat_link::project::compile_all`]), printing the
/// diagnostics; `None` if any has an error.
fn compile_all(
    file: &Path,
    defines: &[Define],
    catalog: &PackageCatalog,
) -> Option<Vec<(String, CompiledScript)>> {
    let compiled = eclat_link::project::compile_all(
        file,
        &eclat_link::project::script_name(file),
        defines,
        catalog,
    );
    eprint!("{}", compiled.diagnostics);
    compiled.units
}

/// Counts of the summary line.
#[derive(Debug, Default)]
struct Counts {
    packets: u64,
    verdicts: BTreeMap<&'static str, u64>,
    no_chain: u64,
    not_run: u64,
}

/// How packets are reported.
#[derive(Clone, Copy, Debug)]
struct Output {
    json: bool,
    /// The clock of the events' times.
    events: EventClock,
}

/// Why a packet is not run, if it cannot be: `BPF_PROG_TEST_RUN` refuses a packet shorter than
/// an Ethernet header, and at TC an IP frame cut inside its header (EINVAL, which would say
/// nothing about which packet).
fn not_run_reason(packet: &[u8], hook: eclat_catalog::Hook) -> Option<String> {
    if packet.len() < ETH_HLEN {
        return Some(format!(
            "shorter than an Ethernet header ({ETH_HLEN} bytes)"
        ));
    }
    // The kernel's skb test run (TC) also refuses an IP frame cut inside its fixed header.
    let ethertype = u16::from_be_bytes([packet[12], packet[13]]);
    let ip_header = match ethertype {
        0x0800 => 20,
        0x86dd => 40,
        _ => 0,
    };
    (hook.is_tc() && packet.len() < ETH_HLEN + ip_header).then(|| {
        format!("an IP frame cut inside its header, which a test run at {hook} refuses (run it with --hook xdp)")
    })
}

/// The `--json` line of a packet that was not run.
#[derive(Serialize)]
struct NotRunLine {
    packet: usize,
    verdict: &'static str,
    len: usize,
    not_run: String,
}

fn verdict_name(run: &PacketRun) -> &'static str {
    // The kernel treats an unknown XDP action as an error (the packet is dropped with an
    // exception); report it as aborted, with the raw value beside it.
    run.verdict.map_or("aborted", XdpAction::name)
}

/// One packet's line of `--json`, fields in the documented order.
#[derive(Serialize)]
struct PacketLine {
    packet: usize,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ifindex: Option<u32>,
    data_out: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_chain: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<FaultLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<u64>,
    cause: explain::CauseJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<TraceLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calls: Option<Vec<explain::CallJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calls_truncated_after: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<explain::EventJson>,
}

#[derive(Serialize)]
struct FaultLine {
    reason: String,
    /// The chain's name, or its ID if it is not one of the script's.
    chain: Json,
    pc: u32,
}

#[derive(Serialize)]
struct TraceLine {
    chains: JsonMap<String, Json>,
    programs: JsonMap<String, Json>,
}

fn packet_json(n: usize, run: &PacketRun, script: &LoadedScript, clock: EventClock) -> PacketLine {
    let counts = |v: &[(String, u64)]| v.iter().map(|(n, c)| (n.clone(), json!(c))).collect();
    PacketLine {
        packet: n,
        verdict: verdict_name(run),
        retval: run.verdict.is_none().then_some(run.retval),
        ifindex: run.redirect_ifindex,
        data_out: hex(&run.data_out),
        no_chain: !run.booted,
        fault: run.fault.as_ref().map(|f| FaultLine {
            reason: f
                .fault
                .map_or_else(|| format!("fault_{}", f.code), |f| f.name().to_owned()),
            chain: f.chain.clone().map_or(json!(f.chain_id), Json::String),
            pc: f.pc,
        }),
        result: run.result,
        cause: explain::cause_json(&run.cause),
        trace: run.trace.as_ref().map(|t| TraceLine {
            chains: counts(&t.chains),
            programs: counts(&t.programs),
        }),
        calls: run.calls.as_ref().map(explain::calls_json),
        calls_truncated_after: run.calls.as_ref().and_then(|c| c.truncated_after),
        events: run
            .events
            .iter()
            .map(|e| explain::event_json(e, script, clock))
            .collect(),
    }
}

/// The last line of `--json`.
#[derive(Serialize)]
struct SummaryLine {
    summary: Summary,
    /// `PROGRAM.MAP` → entries.
    maps: JsonMap<String, Json>,
}

#[derive(Serialize)]
struct Summary {
    packets: u64,
    pass: u64,
    drop: u64,
    tx: u64,
    redirect: u64,
    aborted: u64,
    /// Packets the loader started no chain for (its default verdict).
    no_chain: u64,
    /// Packets not run (shorter than an Ethernet header).
    not_run: u64,
    /// Faults by reason.
    faults: JsonMap<String, Json>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    /// The hook the packets ran at (`--hook`, else the script's `attach`, else `xdp`).
    hook: &'static str,
}

fn packet_text(
    n: usize,
    run: &PacketRun,
    input: &[u8],
    script: &LoadedScript,
    clock: EventClock,
) -> String {
    let mut line = format!(
        "packet {n}: {}: {}",
        frame::describe(input),
        verdict_name(run)
    );
    if run.verdict.is_none() {
        line.push_str(&format!(" (return value {})", run.retval));
    }
    if let Some(ifindex) = run.redirect_ifindex {
        line.push_str(&format!(" to ifindex {ifindex}"));
    }
    line.push_str(&explain::cause_text(run));
    if let Some(f) = &run.fault {
        let reason = f
            .fault
            .map_or_else(|| format!("fault {}", f.code), |f| f.name().to_owned());
        let chain = f
            .chain
            .clone()
            .unwrap_or_else(|| format!("#{}", f.chain_id));
        line.push_str(&format!(
            ": chain `{chain}` faulted ({reason}) at instruction {} (the loader's fail-safe \
             verdict)",
            f.pc
        ));
    }
    if let Some(t) = &run.trace {
        let list = |v: &[(String, u64)]| {
            v.iter()
                .map(|(n, c)| {
                    if *c == 1 {
                        n.clone()
                    } else {
                        format!("{n} x{c}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !t.chains.is_empty() {
            line.push_str(&format!(" [chains: {}", list(&t.chains)));
            if !t.programs.is_empty() {
                line.push_str(&format!("; programs: {}", list(&t.programs)));
            }
            line.push(']');
        }
    }
    if let Some(calls) = &run.calls {
        for l in explain::calls_text(calls) {
            line.push('\n');
            line.push_str(&l);
        }
    }
    for e in &run.events {
        line.push('\n');
        line.push_str(&explain::event_text(e, script, clock));
    }
    if run.data_out != input {
        line.push_str(&format!("\n  packet changed: {}", hex(&run.data_out)));
    }
    line
}

fn run_packets(
    loaded: &LoadedScript,
    packets: &[Input],
    output: Output,
    interrupted: &AtomicBool,
) -> Result<ExitCode> {
    let json_out = output.json;
    let runner = loaded.runner()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut counts = Counts::default();
    let mut stopped = false;
    for (i, p) in packets.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            stopped = true;
            break;
        }
        counts.packets += 1;
        if let Some(reason) = not_run_reason(&p.data, loaded.hook()) {
            counts.not_run += 1;
            if json_out {
                let line = NotRunLine {
                    packet: i + 1,
                    verdict: "not_run",
                    len: p.data.len(),
                    not_run: reason,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            } else {
                let len = p.data.len();
                let s = if len == 1 { "" } else { "s" };
                writeln!(out, "packet {}: {len} byte{s}, {reason}: not run", i + 1)?;
            }
            continue;
        }
        let run = runner
            .run_at(&p.data, p.clock_ns)
            .with_context(|| format!("packet {}", i + 1))?;
        *counts.verdicts.entry(verdict_name(&run)).or_default() += 1;
        counts.no_chain += u64::from(!run.booted);
        if json_out {
            let line = packet_json(i + 1, &run, loaded, output.events);
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(
                out,
                "{}",
                packet_text(i + 1, &run, &p.data, loaded, output.events)
            )?;
        }
    }
    stopped |= interrupted.load(Ordering::SeqCst);
    drop(runner);

    let faults = loaded.faults()?;
    let maps = loaded.dump_maps()?;
    if json_out {
        let count = |v: &str| counts.verdicts.get(v).copied().unwrap_or(0);
        let maps: JsonMap<String, Json> = maps
            .iter()
            .map(|m| {
                let entries = m
                    .entries
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect();
                (m.name.clone(), Json::Array(entries))
            })
            .collect();
        let line = SummaryLine {
            summary: Summary {
                packets: counts.packets,
                pass: count("pass"),
                drop: count("drop"),
                tx: count("tx"),
                redirect: count("redirect"),
                aborted: count("aborted"),
                no_chain: counts.no_chain,
                not_run: counts.not_run,
                faults: faults
                    .iter()
                    .map(|(f, n)| (f.name().to_owned(), json!(n)))
                    .collect(),
                interrupted: stopped,
                hook: loaded.hook().name(),
            },
            maps,
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else {
        let mut line = format!(
            "{} packet{}:",
            counts.packets,
            if counts.packets == 1 { "" } else { "s" }
        );
        for (v, n) in &counts.verdicts {
            line.push_str(&format!(" {n} {v},"));
        }
        if counts.not_run > 0 {
            line.push_str(&format!(" {} not run,", counts.not_run));
        }
        line.pop();
        if counts.no_chain > 0 {
            line.push_str(&format!(" ({} without a chain)", counts.no_chain));
        }
        writeln!(out, "{line}")?;
        for (f, n) in &faults {
            writeln!(out, "faults: {n} {}", f.name())?;
        }
        for m in &maps {
            writeln!(
                out,
                "{} ({} entr{}):",
                m.name,
                m.entries.len(),
                if m.entries.len() == 1 { "y" } else { "ies" }
            )?;
            for (k, v) in &m.entries {
                writeln!(out, "  {k}: {v}")?;
            }
        }
        if stopped {
            writeln!(out, "interrupted: stopped after {} packets", counts.packets)?;
        }
    }
    out.flush()?;
    Ok(if stopped {
        ExitCode::from(INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
