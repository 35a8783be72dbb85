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
//!   as the daemon holds it). A trial is the median of [`compile::COMPILES_PER_TRIAL`]
//!   compilations.
//! - `load_ms`: the wall time of the `Load` call that loads the whole script into the running
//!   daemon (the programs are embedded objects: nothing is built, but every program and the
//!   loader go through the verifier) and attaches it; the script is unloaded after each trial.
//! - `swap_ms`: the wall time of a `Load` call that replaces the loaded script by a version
//!   whose chain differs ([`script::SWAP_EDIT`]: the sampler's constant), and back; by design it
//!   includes one RCU grace period, which the daemon waits for before it frees the old
//!   version. A trial is the median of
//!   [`load_swap::SWAPS_PER_TRIAL`] replacements.
//! - `swap_lost_packets`: under steady traffic (a paced `hike_netlab::Sender` into the router's
//!   veth, paced well below what the router can take), the script is replaced several times;
//!   the figure of a trial is the frames the generator sent minus the frames the chain
//!   counted (every path of Listing 2 calls `monitor` once: the monitor map, summed over its
//!   keys and CPUs with `DumpMap`). The veth's receive drops are read too, to tell a full
//!   receive ring from a loss in the swap. The generator's namespace has IPv6 disabled, so
//!   the kernel sends nothing of its own (neighbour discovery, MLD) that the chain would count.
//!
//! By role: [`script`] (the script, its swapped version, its definitions), [`session`] (the
//! daemon's binary and a session with it), [`compile`], [`load_swap`] and [`losses`] (each
//! figure's measurement), [`report`]; [`run`] here builds the router, starts the daemon and
//! puts them together.

mod compile;
mod load_swap;
mod losses;
mod report;
mod script;
mod session;

use std::time::Duration;

use anyhow::{Context, Result};
use hike_netlab::{Eclatd, EclatdOptions, RouterLab, ScratchDir};

use self::compile::measure_compile;
use self::load_swap::measure_load_swap;
use self::losses::measure_losses;
use self::script::{defines, swapped_script};
pub(crate) use self::session::eclatd_bin;
use self::session::Session;
use crate::daemon::DaemonClient;
use crate::measure::{Progress, Settings, Summary};
use crate::report::ScenarioReport;

/// The scenario's name.
pub const NAME: &str = "control_plane";

/// Milliseconds of a duration.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median of `v` (not empty).
fn median(v: &[f64]) -> f64 {
    Summary::of(v).expect("at least one sample").median
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let eclatd = eclatd_bin(settings)?;
    let swapped = swapped_script()?;
    let router_cpu = crate::pps::router_cpu(settings.cpu).unwrap_or(settings.cpu);
    let lab = RouterLab::new(router_cpu).context("build the router")?;
    let defines = defines(&lab.in_if, lab.out_ifindex);

    let (compile, compile_insns, compile_runs) = measure_compile(settings, &defines, &progress)?;

    progress.update("starting eclatd in the router's namespace");
    let scratch = ScratchDir::new("hike-bench-")?;
    let daemon = Eclatd::start(
        &EclatdOptions {
            bin: &eclatd,
            netns: &lab.router,
            dir: scratch.path(),
            instance_prefix: "hike-bench-",
            args: &[],
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
    Ok(report::report(
        settings,
        &compile,
        compile_insns,
        compile_runs,
        &load_swap,
        &losses,
        &control,
    ))
}
