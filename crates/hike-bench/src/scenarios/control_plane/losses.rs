//! `swap_lost_packets`: frames lost while the script is replaced under steady traffic, and
//! the control that shows the count sees a loss.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use hike_netlab::{signals, LinkStats, RouterLab, RouterTraffic, TrafficProgram};

use super::script::{defines, SCRIPT, SCRIPT_FILE, SCRIPT_NAME};
use super::session::Session;
use super::{median, ms};
use crate::measure::{Progress, Settings};

/// Replacements per `swap_lost_packets` trial (with `--quick`: 2).
const TRAFFIC_SWAPS: usize = 6;
const QUICK_TRAFFIC_SWAPS: usize = 2;

/// Traffic before the first replacement, between two, and after the last.
pub const TRAFFIC_LEAD: Duration = Duration::from_millis(300);
pub const TRAFFIC_GAP: Duration = Duration::from_millis(100);

/// The traffic's rate: one frame every 10 µs, 100,000 frames per second, a few percent of what
/// the router forwards at saturation (`ddos_mark`'s `pps`).
pub const GEN_PERIOD: Duration = Duration::from_micros(10);

/// How long the chain's count may take to catch up with the generator after it stops.
const SETTLE: Duration = Duration::from_secs(2);

/// The blacklisted source of the traffic (the token buckets blacklist it at once).
const SOURCE: &str = "2001:db8:bad::1";

/// The steady traffic through the router: one frame from [`SOURCE`], sent again and again; and
/// a counter on the sink's veth, which makes it accept the frames the chain redirects there.
fn steady_traffic(lab: &RouterLab) -> Result<RouterTraffic> {
    let frame = RouterLab::frame(
        SOURCE.parse().expect("a valid address"),
        40_000,
        5000,
        b"hi",
    );
    lab.traffic(&[frame], TrafficProgram::Count)
        .context("the generator and the collector's counter")
}

/// What the traffic of one window did.
#[derive(Clone, Copy, Debug)]
pub struct Tally {
    /// Frames the generator sent.
    pub sent: u64,
    /// Frames the chain counted.
    pub counted: u64,
    /// Receive drops of the router's veth.
    pub rx_dropped: u64,
    /// How long the traffic ran.
    pub secs: f64,
    /// The largest time between two frames (or batches) sent.
    pub max_gap: Duration,
    /// The generator's test runs or batches.
    pub calls: u64,
    /// The longest of them.
    pub longest_call: Duration,
}

impl Tally {
    /// Frames sent and not counted.
    pub fn lost(&self) -> i64 {
        self.sent as i64 - self.counted as i64
    }

    /// Frames sent per second, in thousands.
    pub fn rate_kpps(&self) -> f64 {
        self.sent as f64 / self.secs.max(1e-9) / 1e3
    }
}

/// Runs `action` under the generator's traffic and counts: frames sent, frames counted by
/// the monitor (read through script `counter`), receive drops of the router's veth.
fn under_traffic<'a, T>(
    session: &mut Session<'a>,
    traffic: &RouterTraffic,
    counter: &str,
    action: impl FnOnce(&mut Session<'a>) -> Result<T>,
) -> Result<(T, Tally)> {
    let lab = session.lab;
    let stats = || -> Result<LinkStats> { Ok(lab.router.link_stats(&lab.in_if)?) };
    let (counted0, stats0) = (session.counted(counter)?, stats()?);
    let started = Instant::now();
    // The sender's threads run on the router's CPU at nice -20 (the router's softirq runs
    // there too, after each batch of frames); the benchmark's own thread, the gRPC client,
    // keeps the other CPU.
    let (value, paced) = traffic
        .sender()
        .paced_during(GEN_PERIOD, lab.router_cpu, || action(session))?;
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
pub struct LossTrial {
    pub tally: Tally,
    pub swaps: usize,
    /// The median wall time of its replacements.
    pub swap_ms: f64,
}

/// The control: the same traffic across an unload and a new load, which must lose frames.
#[derive(Clone, Copy, Debug)]
pub struct Control {
    pub tally: Tally,
    /// From the `Unload` call to the end of the `Load` call.
    pub absent_ms: f64,
}

/// The name of the script that keeps the programs (and the monitor's map) loaded during the
/// control.
const KEEP_NAME: &str = "listing2-keep";

/// Measures `swap_lost_packets`, then the control.
pub fn measure_losses(
    session: &mut Session<'_>,
    settings: &Settings,
    progress: &Progress,
) -> Result<(Vec<LossTrial>, Control)> {
    let traffic = steady_traffic(session.lab)?;
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
        let (swap_times, tally) = under_traffic(session, &traffic, SCRIPT_NAME, |session| {
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
    let keep_defines = defines(&session.lab.out_if, session.lab.out_ifindex);
    session
        .client
        .load(KEEP_NAME, SCRIPT_FILE, SCRIPT, &keep_defines)?;
    let (absent, tally) = under_traffic(session, &traffic, KEEP_NAME, |session| {
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
