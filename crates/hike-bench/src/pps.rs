//! Packets per second through the router of `hike_netlab::RouterLab`: the generator, the
//! sink and the trials.
//!
//! A trial of a variant attaches its program (or its loader) to the router's ingress, pins the
//! router's receive thread to the router's CPU, starts the generator (a `hike_netlab::Sender`
//! flat out, `Sender::flat_out_during`, in threads pinned to the other CPU), lets the traffic run for a warm-up of a third
//! of the window, then counts the frames that reach the sink during the window and the CPU time
//! the router's receive thread used. The generator and the router's thread run at nice
//! `hike_netlab::TRAFFIC_NICE`, so that other work on the machine takes little of them.
//!
//! What the figure is depends on the source ([`PpsFigure`]):
//! - **live frames** offer several times what the router can forward (the surplus is dropped
//!   when the router's receive ring is full, which costs the router nothing), so the router's
//!   CPU is busy all the time and the sink's count is its forwarding capacity: the **delivered
//!   rate at saturation**, the paper's figure. A window in which the router's thread ran less
//!   than [`MIN_ROUTER_BUSY`] of the time (preempted, or short of traffic) is redone,
//!   [`MAX_REDOS`] times at most.
//! - **an AF_PACKET socket** may or may not offer more than the router forwards (the router's
//!   XDP path first copies each socket buffer into a page of its own, which live frames and a
//!   NIC's driver hand it directly; measured here, the socket then saturated the router at
//!   about 0.85 Mpps). The figure is then the **CPU-equivalent rate**: frames delivered per
//!   second of the router's CPU time (1e9 / the router's CPU ns per forwarded frame), under
//!   the same offered load for every variant. With the router busy the whole window it is the
//!   delivered rate at saturation; below, it still counts everything the router does for a
//!   frame (receive, the variant's program, forward, the sink) and stays comparable between
//!   variants. No window is redone.
//!
//! Every window is checked: frames delivered, none with a traffic class or hop limit other
//! than expected (`bench_sink`'s `wrong`), and the share of marked frames as offered.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use hike_netlab::{
    signals, RouterLab, RouterTraffic, SourceChoice, SourceKind, TrafficProgram, XdpLink,
};
use hike_runtime::Loader;

use crate::measure::{self, Progress, Settings, Summary};
use crate::runstats::{ProgRuns, RunTimeStats};

/// What a pps figure is, by traffic source (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PpsFigure {
    /// Frames delivered per second with the router saturated.
    DeliveredAtSaturation,
    /// Frames delivered per second of the router's CPU time, below saturation.
    CpuEquivalent,
}

impl PpsFigure {
    /// The figure for traffic from `kind`.
    pub fn of(kind: SourceKind) -> PpsFigure {
        match kind {
            SourceKind::LiveFrames => PpsFigure::DeliveredAtSaturation,
            SourceKind::PacketSocket => PpsFigure::CpuEquivalent,
        }
    }

    /// A window's figure.
    pub fn of_window(self, w: &Window) -> f64 {
        match self {
            PpsFigure::DeliveredAtSaturation => w.delivered_pps,
            PpsFigure::CpuEquivalent => w.delivered_pps / w.router_busy.max(1e-9),
        }
    }

    /// What it is, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            PpsFigure::DeliveredAtSaturation => "delivered rate at saturation",
            PpsFigure::CpuEquivalent => {
                "CPU-equivalent rate (frames delivered per second of the router's CPU time, \
                 1e9 / the router's CPU ns per forwarded frame)"
            }
        }
    }
}

/// How far the marked share of the delivered frames may be from the offered share.
const MARKED_SHARE_TOLERANCE: f64 = 0.02;

/// The share of the window the router's receive thread must have run for the window to count
/// as undisturbed (saturated, and not preempted by other work on its CPU).
pub const MIN_ROUTER_BUSY: f64 = 0.9;

/// How many times a disturbed window is redone before its figure is kept anyway.
pub const MAX_REDOS: u32 = 3;

/// The generator and the sink, on the edge side of a [`RouterLab`] (`bench_sink` receives).
pub struct Traffic {
    traffic: RouterTraffic,
    marked_share: f64,
}

/// Counters of the generator and the sink, summed over the CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Frames generated.
    pub sent: u64,
    /// Benchmark frames at the sink.
    pub packets: u64,
    /// Of which with traffic class 1.
    pub marked: u64,
    /// Of which not as the generator expected.
    pub wrong: u64,
}

impl Traffic {
    /// Loads the sink's program, makes one frame per source of `sources` (address, expected
    /// traffic class, the latter in the first payload byte, which `bench_sink` compares with
    /// what arrives) for a generator that sends them in round robin from the source this
    /// kernel allows, and attaches the sink. Every frame goes to [`hike_netlab::DST_ADDR`].
    pub fn new(lab: &RouterLab, sources: &[(std::net::Ipv6Addr, u8)]) -> Result<Traffic> {
        ensure!(!sources.is_empty(), "at least one source");
        let frames: Vec<Vec<u8>> = sources
            .iter()
            .map(|&(src, tc)| RouterLab::frame(src, 1234, 5678, &[tc, b'i']))
            .collect();
        ensure!(
            frames.iter().all(|f| f.len() == measure::PACKET_LEN),
            "64-byte frames"
        );
        let traffic = lab
            .traffic(&frames, TrafficProgram::Sink)
            .context("the generator and the sink")?;
        let marked = sources.iter().filter(|(_, tc)| *tc == 1).count();
        Ok(Traffic {
            traffic,
            marked_share: marked as f64 / sources.len() as f64,
        })
    }

    /// The traffic source, and why it was chosen.
    pub fn source(&self) -> &SourceChoice {
        self.traffic.source()
    }

    /// What the figures of this traffic are.
    pub fn figure(&self) -> PpsFigure {
        PpsFigure::of(self.source().kind)
    }

    /// A descriptor of `bench_pass` (XDP_PASS), for a router that forwards in the kernel.
    pub fn pass_program(&self) -> Result<OwnedFd> {
        Ok(self.traffic.receiver().program_fd(TrafficProgram::Pass)?)
    }

    /// The counters now.
    pub fn counts(&self) -> Result<Counts> {
        let sink = self.traffic.receiver().sink_counts()?;
        Ok(Counts {
            sent: self.traffic.sender().sent()?,
            packets: sink.packets,
            marked: sink.marked,
            wrong: sink.wrong,
        })
    }
}

/// What is attached to the router's ingress for a trial; detached on drop.
pub enum Attachment<'a> {
    /// A program attached through a BPF link (closed on drop).
    Link(#[expect(dead_code, reason = "held until dropped: closing it detaches")] XdpLink),
    /// A HIKe loader attached by `hike-runtime`.
    Loader {
        /// The loader.
        loader: &'a Loader,
        /// Where.
        ifindex: u32,
    },
}

impl Drop for Attachment<'_> {
    fn drop(&mut self) {
        if let Attachment::Loader { loader, ifindex } = self {
            // Fails only if it is not attached, which is what we want.
            let _ = loader.detach_xdp(*ifindex);
        }
    }
}

/// A closure that attaches a variant to the router's ingress.
pub type AttachFn<'a> = Box<dyn FnMut(&RouterLab) -> Result<Attachment<'a>> + 'a>;

/// One variant of a pps measurement.
pub struct PpsCase<'a> {
    /// The variant (`raw`, `hike`, …).
    pub variant: &'static str,
    /// Attaches it.
    pub attach: AttachFn<'a>,
    /// The kernel ID of the XDP program it attaches, whose time per frame a window with the
    /// kernel's run-time statistics on measures ([`crate::runstats`]); `None`: not measured.
    pub xdp_prog_id: Option<u32>,
}

/// What one window measured.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Frames delivered to the sink per second.
    pub delivered_pps: f64,
    /// Frames the generator offered per second.
    pub offered_pps: f64,
    /// The share of the window during which the router's receive thread ran.
    pub router_busy: f64,
}

impl Window {
    /// The router's CPU time per delivered frame, ns (its receive thread does all the
    /// forwarding).
    pub fn router_ns_per_frame(&self) -> f64 {
        1e9 * self.router_busy / self.delivered_pps
    }
}

/// The result of one variant.
#[derive(Clone, Debug)]
pub struct PpsMeasured {
    /// The variant.
    pub variant: &'static str,
    /// What `pps` and `rounds` are.
    pub figure: PpsFigure,
    /// The figure, frames per second ([`PpsFigure`]).
    pub pps: Summary,
    /// The figure of each round, in round order (for paired ratios).
    pub rounds: Vec<f64>,
    /// Offered frames per second of each round, in round order (the machine's speed in that
    /// window, for [`paired_ratio`]).
    pub offered_rounds: Vec<f64>,
    /// Offered frames per second (median).
    pub offered_pps: f64,
    /// Delivered frames per second (median; the figure itself at saturation).
    pub delivered_pps: f64,
    /// The share of each window the router's receive thread ran (median).
    pub router_busy: f64,
    /// The router's CPU time per delivered frame, ns (median over the windows).
    pub router_ns_per_frame: f64,
    /// Windows redone because they were disturbed.
    pub redone: u32,
    /// Nanoseconds per frame spent in the XDP program (and the programs it tail-calls), from a
    /// window of its own with the kernel's run-time statistics on; `None` if not measured.
    pub xdp_ns_per_frame: Option<f64>,
}

/// Runs the generator for a warm-up and `window`, and counts.
fn run_window(
    traffic: &Traffic,
    router_tids: &[i32],
    gen_cpu: usize,
    window: Duration,
    what: &str,
) -> Result<Window> {
    let router_ns = || -> u64 {
        router_tids
            .iter()
            .map(|&t| hike_netlab::thread_runtime_ns(t))
            .sum()
    };
    let count = || -> Result<(Counts, Counts, Duration, u64)> {
        signals::sleep(window / 3)?;
        let (c0, r0, t0) = (traffic.counts()?, router_ns(), Instant::now());
        signals::sleep(window)?;
        let (c1, r1, t1) = (traffic.counts()?, router_ns(), Instant::now());
        Ok((c0, c1, t1 - t0, r1.saturating_sub(r0)))
    };
    // The count's own result is kept apart, so that an error of the generator comes first and
    // says it is the generator's.
    let counted = traffic
        .traffic
        .sender()
        .flat_out_during(gen_cpu, || Ok::<_, anyhow::Error>(count()))
        .with_context(|| format!("{what}: the generator"))?;
    let (c0, c1, dt, busy_ns) = counted?;
    let packets = c1.packets - c0.packets;
    let wrong = c1.wrong - c0.wrong;
    let marked = c1.marked - c0.marked;
    if packets == 0 {
        bail!("{what}: no frame reached the sink");
    }
    if wrong != 0 {
        bail!(
            "{what}: {wrong} of {packets} frames reached the sink with a wrong traffic class \
             or hop limit"
        );
    }
    let share = marked as f64 / packets as f64;
    if (share - traffic.marked_share).abs() > MARKED_SHARE_TOLERANCE {
        bail!(
            "{what}: {:.1}% of the delivered frames are marked, {:.1}% expected",
            share * 100.0,
            traffic.marked_share * 100.0
        );
    }
    let secs = dt.as_secs_f64();
    Ok(Window {
        delivered_pps: packets as f64 / secs,
        offered_pps: (c1.sent - c0.sent) as f64 / secs,
        router_busy: busy_ns as f64 / dt.as_nanos().max(1) as f64,
    })
}

/// Measures every case: a checked warm-up window each, then `settings.pps_trials` interleaved
/// rounds of windows of `settings.pps_window`. The generator runs on `settings.cpu`.
pub fn measure(
    lab: &RouterLab,
    traffic: &Traffic,
    cases: &mut [PpsCase<'_>],
    settings: &Settings,
    progress: &Progress,
) -> Result<Vec<PpsMeasured>> {
    // One window of a case; at saturation, a window in which the router's thread ran less
    // than MIN_ROUTER_BUSY of the time (preempted, or starved of traffic) is redone a few
    // times. Below saturation the router is idle part of the time by design.
    let figure = traffic.figure();
    let trial = |case: &mut PpsCase<'_>, window: Duration| -> Result<(Window, u32)> {
        let mut redos = 0;
        loop {
            signals::check()?;
            let attached =
                (case.attach)(lab).with_context(|| format!("attach `{}`", case.variant))?;
            let w = lab
                .pin_router_rx()
                .map_err(anyhow::Error::from)
                .and_then(|tids| {
                    run_window(
                        traffic,
                        &tids,
                        settings.cpu,
                        window,
                        &format!("pps of `{}`", case.variant),
                    )
                });
            drop(attached);
            let w = w?;
            if settings.verbose {
                eprintln!(
                    "  {} pps: delivered {:.0}, offered {:.0}, router busy {:.1}%",
                    case.variant,
                    w.delivered_pps,
                    w.offered_pps,
                    w.router_busy * 100.0
                );
            }
            if figure == PpsFigure::CpuEquivalent
                || w.router_busy >= MIN_ROUTER_BUSY
                || redos == MAX_REDOS
            {
                return Ok((w, redos));
            }
            redos += 1;
        }
    };
    progress.update("pps: checking every variant");
    let check_window = (settings.pps_window / 4).max(Duration::from_millis(100));
    for case in cases.iter_mut() {
        trial(case, check_window)?;
    }
    let mut samples: Vec<Vec<Window>> = vec![Vec::new(); cases.len()];
    let mut redone = vec![0u32; cases.len()];
    for round in 0..settings.pps_trials {
        progress.update(&format!("pps trial {}/{}", round + 1, settings.pps_trials));
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            let (w, redos) = trial(&mut cases[i], settings.pps_window)?;
            samples[i].push(w);
            redone[i] += redos;
        }
    }
    // Where the time goes: one more window per variant, with the run-time statistics on (they
    // cost two clock reads per run, so these windows count for nothing else). Not having them
    // (an old kernel) leaves the figure out, not the pps.
    let mut xdp_ns = vec![None; cases.len()];
    if cases.iter().any(|c| c.xdp_prog_id.is_some()) {
        progress.update("pps: the XDP programs' time per frame");
        let mut stats_window = || -> Result<()> {
            let _stats = RunTimeStats::enable()?;
            for (case, ns) in cases.iter_mut().zip(xdp_ns.iter_mut()) {
                let Some(id) = case.xdp_prog_id else {
                    continue;
                };
                let before = ProgRuns::of_id(id)?;
                trial(case, settings.pps_window)?;
                *ns = ProgRuns::of_id(id)?.ns_per_run_since(&before);
                if settings.verbose {
                    eprintln!("  {} XDP program: {ns:?} ns per frame", case.variant);
                }
            }
            Ok(())
        };
        if let Err(e) = stats_window() {
            // Ctrl-C stops the run; anything else only this figure.
            if signals::check().is_err() {
                return Err(e);
            }
            eprintln!("pps: the XDP programs' time per frame is not measured: {e:#}");
            xdp_ns.iter_mut().for_each(|ns| *ns = None);
        }
    }
    let median = |v: Vec<f64>| Summary::of(&v).expect("at least one trial").median;
    Ok(cases
        .iter()
        .zip(samples.iter().zip(redone))
        .zip(xdp_ns)
        .map(|((case, (s, redone)), xdp_ns_per_frame)| PpsMeasured {
            variant: case.variant,
            figure,
            pps: Summary::of(&s.iter().map(|w| figure.of_window(w)).collect::<Vec<_>>())
                .expect("at least one trial"),
            rounds: s.iter().map(|w| figure.of_window(w)).collect(),
            offered_rounds: s.iter().map(|w| w.offered_pps).collect(),
            offered_pps: median(s.iter().map(|w| w.offered_pps).collect()),
            delivered_pps: median(s.iter().map(|w| w.delivered_pps).collect()),
            router_busy: median(s.iter().map(|w| w.router_busy).collect()),
            router_ns_per_frame: median(s.iter().map(Window::router_ns_per_frame).collect()),
            redone,
            xdp_ns_per_frame,
        })
        .collect())
}

/// How far (as a fraction) the ratio of the two windows' offered rates in a round may be from
/// its median over the rounds for the round to count in [`paired_ratio`].
pub const SAME_SPEED_TOLERANCE: f64 = 0.10;

/// A per-round ratio of `a`'s delivered rate to `b`'s: the median over the rounds of the two
/// variants' ratio in the same round, which a drift of the machine's speed between rounds does
/// not move, and the number of rounds it is taken over.
///
/// This machine's speed also changes in steps of a third within seconds (other guests), often
/// between the two windows of one round, which moves that round's ratio by as much. The
/// generator runs flat out on the other CPU, so the rate it offers in a window shows the
/// machine's speed in that window: a round whose ratio of offered rates is more than
/// [`SAME_SPEED_TOLERANCE`] from its median over the rounds (variants may differ a little
/// there, e.g. without XDP on the router's ingress) ran its two windows at different speeds and
/// is left out, unless that would leave fewer than half of the rounds.
pub fn paired_ratio(a: &PpsMeasured, b: &PpsMeasured) -> Option<(f64, usize)> {
    let rounds: Vec<(f64, f64)> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .zip(a.offered_rounds.iter().zip(&b.offered_rounds))
        .map(|((da, db), (oa, ob))| (da / db, oa / ob))
        .filter(|(r, o)| r.is_finite() && o.is_finite())
        .collect();
    let offered = Summary::of(&rounds.iter().map(|r| r.1).collect::<Vec<_>>())?.median;
    let same_speed: Vec<f64> = rounds
        .iter()
        .filter(|(_, o)| (o / offered - 1.0).abs() <= SAME_SPEED_TOLERANCE)
        .map(|(r, _)| *r)
        .collect();
    let kept = if same_speed.len() * 2 >= rounds.len() {
        same_speed
    } else {
        rounds.iter().map(|r| r.0).collect()
    };
    Summary::of(&kept).map(|s| (s.median, kept.len()))
}

/// The CPU for the router, given the generator's: another online CPU, if there is one.
pub fn router_cpu(gen_cpu: usize) -> Option<usize> {
    hike_netlab::online_cpus()
        .into_iter()
        .find(|&c| c != gen_cpu)
}

#[cfg(test)]
mod tests {
    use super::{paired_ratio, PpsMeasured};
    use crate::measure::Summary;

    fn measured(variant: &'static str, rounds: &[(f64, f64)]) -> PpsMeasured {
        let delivered: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        PpsMeasured {
            variant,
            figure: super::PpsFigure::DeliveredAtSaturation,
            pps: Summary::of(&delivered).expect("rounds"),
            rounds: delivered,
            offered_rounds: rounds.iter().map(|r| r.1).collect(),
            offered_pps: 0.0,
            delivered_pps: 0.0,
            router_busy: 1.0,
            router_ns_per_frame: 0.0,
            redone: 0,
            xdp_ns_per_frame: None,
        }
    }

    #[test]
    fn rounds_whose_windows_ran_at_different_speeds_are_left_out() {
        // `a` delivers 94% of `b`; in rounds 2 and 4 the machine ran 1.5x faster during one
        // of the two windows, which the generator's offered rate shows.
        let a = measured(
            "a",
            &[
                (1880.0, 8000.0),
                (1269.0, 5400.0),
                (1880.0, 8000.0),
                (1903.5, 8100.0),
                (1880.0, 8000.0),
            ],
        );
        let b = measured(
            "b",
            &[
                (2000.0, 8000.0),
                (2025.0, 8100.0),
                (2000.0, 8000.0),
                (1350.0, 5400.0),
                (2000.0, 8000.0),
            ],
        );
        let (ratio, rounds) = paired_ratio(&a, &b).expect("rounds");
        assert_eq!(rounds, 3);
        assert!((ratio - 0.94).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn a_steady_difference_in_offered_rate_is_not_a_change_of_speed() {
        // Without XDP on the ingress the generator offers 8% more, every round.
        let a = measured("a", &[(900.0, 8640.0), (905.0, 8650.0), (895.0, 8630.0)]);
        let b = measured("b", &[(2000.0, 8000.0), (2000.0, 8010.0), (2000.0, 7990.0)]);
        let (ratio, rounds) = paired_ratio(&a, &b).expect("rounds");
        assert_eq!(rounds, 3);
        assert!((ratio - 0.45).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn too_few_rounds_at_one_speed_fall_back_to_every_round() {
        let a = measured("a", &[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]);
        let b = measured("b", &[(2.0, 1.0), (2.0, 1.0), (2.0, 1.0)]);
        let (_, rounds) = paired_ratio(&a, &b).expect("rounds");
        assert_eq!(rounds, 3);
    }
}
