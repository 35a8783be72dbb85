//! How every scenario measures: the test packet, cases run in interleaved trials, verdict
//! checks and the statistics of the trials.
//!
//! A [`Case`] is one variant at one parameter value (`hike` with N = 8, say). [`measure`] runs
//! a warm-up of every case, then `trials` rounds in which every case runs once, alternating
//! the order from round to round, so that a drift of the machine during the run (frequency,
//! a noisy neighbour) affects every case alike rather than the last ones.
//!
//! The figure of a run is the CPU time the measuring thread spent in its `BPF_PROG_TEST_RUN`
//! syscall, divided by the repeat count. The kernel reports the same average with its own
//! timer, but in whole nanoseconds, rounded down: too coarse when one tail call costs 2 ns.
//! Wall time would be as fine but counts the time other processes run on the same CPU (the
//! kernel pauses its timer then, and so does the thread's CPU clock). With 1,000,000 repeats
//! the syscall's fixed cost is below a thousandth of a nanosecond. A run whose two figures
//! disagree by more than [`MAX_DISAGREEMENT_NS`] was disturbed (interrupts, say) and is run
//! again, a few times at most.
//!
//! A case may run a [`Mix`] of packets instead of one packet: each packet of the mix is run
//! `repeat` times (a timed `BPF_PROG_TEST_RUN` each, its verdict checked), and the figure of
//! the run is their average, the cost of an average packet of the mixed traffic; the average
//! of each class of packets (clean, blacklisted, …) is kept beside it.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::net::Ipv6Addr;
use std::time::Instant;

use anyhow::{bail, Result};
use hike_netlab::{signals, Ipv6Udp};
use hike_runtime::XdpAction;

/// Length of the benchmark packet: Ethernet (14) + IPv6 (40) + UDP (8) + 2 bytes of payload.
pub const PACKET_LEN: usize = 64;

/// How far (ns per packet) the CPU-time figure of a run may be from the kernel's before the
/// run counts as disturbed and is redone: the kernel's figure is rounded down (up to 1 ns),
/// plus room for the syscall's own cost.
pub const MAX_DISAGREEMENT_NS: f64 = 1.5;

/// How many times a disturbed run is redone before its figure is kept anyway.
const MAX_REDOS: u32 = 3;

/// The benchmark packet: 64 bytes of Ethernet + IPv6 + UDP from `2001:db8::1` port 1234 to
/// `2001:db8::2` port 5678, with valid lengths and UDP checksum.
pub fn ipv6_udp_packet() -> Vec<u8> {
    ipv6_udp(doc_addr(0, 1), doc_addr(0, 2))
}

/// A benchmark packet (as [`ipv6_udp_packet`]) from `src` to `dst`: 64 bytes of Ethernet +
/// IPv6 (traffic class 0, hop limit 64) + UDP port 1234 to 5678 + payload `"hi"`, with valid
/// lengths and UDP checksum. Ethernet addresses those of the kernel tests' packets
/// (`02:00:00:00:00:02` from `…:01`).
pub fn ipv6_udp(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    Ipv6Udp {
        dst_mac: hike_testkit::packet::DST_MAC,
        src_mac: hike_testkit::packet::SRC_MAC,
        src,
        dst,
        src_port: 1234,
        dst_port: 5678,
        payload: b"hi",
    }
    .frame()
}

/// `2001:db8:NET::/64`, host `host`: the scenarios' addresses (the documentation prefix).
pub fn doc_addr(net: u16, host: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, 0)) + u128::from(host))
}

/// The IPv6 traffic class of an Ethernet + IPv6 packet.
pub fn ipv6_traffic_class(p: &[u8]) -> u8 {
    (p[14] << 4) | (p[15] >> 4)
}

/// Settings shared by every scenario.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Trials per case; each figure is their median.
    pub trials: u32,
    /// `BPF_PROG_TEST_RUN` repeat count of one trial.
    pub repeat: u32,
    /// The CPU the measuring thread is pinned to (test runs execute on the calling CPU).
    pub cpu: usize,
    /// Trials (windows of traffic) per pps figure.
    pub pps_trials: u32,
    /// Traffic per pps trial, counted after a warm-up of a third of it.
    pub pps_window: std::time::Duration,
    /// Print every run's figures on standard error.
    pub verbose: bool,
    /// A smoke test (`--quick`): scenarios that repeat an operation a fixed number of times
    /// per trial (`control_plane`) repeat it less.
    pub quick: bool,
    /// The `eclatd` binary given on the command line (`control_plane`); beside this one if
    /// `None`.
    pub eclatd: Option<std::path::PathBuf>,
}

/// What one `BPF_PROG_TEST_RUN` of `repeat` packets returned.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    /// The program's return value (of the last run), the XDP verdict.
    pub verdict: u32,
    /// The kernel's average duration of one run, in whole nanoseconds.
    pub kernel_ns: u64,
    /// The thread's CPU time in the syscall divided by the repeat count.
    pub cpu_ns: f64,
}

impl Timed {
    /// The figures of a run of one packet, after checking that its verdict is one of
    /// `allowed`; `what` names the run in the error.
    pub fn expect(self, allowed: &[u32], what: &dyn fmt::Display) -> Result<RunOutput> {
        check_verdict(self.verdict, allowed, what)?;
        Ok(RunOutput {
            kernel_ns: self.kernel_ns as f64,
            cpu_ns: self.cpu_ns,
            classes: Vec::new(),
        })
    }
}

/// Fails unless `verdict` is one of `allowed`.
pub fn check_verdict(verdict: u32, allowed: &[u32], what: &dyn fmt::Display) -> Result<()> {
    if !allowed.contains(&verdict) {
        let want: Vec<String> = allowed.iter().map(|&v| verdict_name(v)).collect();
        bail!(
            "{what}: verdict {}, expected {}",
            verdict_name(verdict),
            want.join(" or ")
        );
    }
    Ok(())
}

/// `XDP_PASS (2)`, or the bare number if it is not an XDP action.
pub fn verdict_name(v: u32) -> String {
    match XdpAction::from_retval(v) {
        Some(a) => format!("XDP_{} ({v})", a.name().to_uppercase()),
        None => format!("{v} (not an XDP action)"),
    }
}

/// The figures of one run of a case: one timed test run, or one per packet of a [`Mix`].
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The kernel's average duration of one packet (a mix: the average over its packets).
    pub kernel_ns: f64,
    /// The thread's CPU time per packet (a mix: the average over its packets).
    pub cpu_ns: f64,
    /// A mix: the CPU time per packet of each class of packets, by class index.
    pub classes: Vec<f64>,
}

/// The CPU time the calling thread has used, user and system, in nanoseconds.
fn thread_cpu_ns() -> Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        bail!(
            "clock_gettime(CLOCK_THREAD_CPUTIME_ID): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Times `test_run` (one `BPF_PROG_TEST_RUN` of `repeat` packets, returning the verdict and the
/// kernel's duration) by the calling thread's CPU time.
pub fn timed(repeat: u32, test_run: impl FnOnce() -> Result<(u32, u64)>) -> Result<Timed> {
    let start = thread_cpu_ns()?;
    let (verdict, kernel_ns) = test_run()?;
    let end = thread_cpu_ns()?;
    Ok(Timed {
        verdict,
        kernel_ns,
        cpu_ns: (end - start) as f64 / f64::from(repeat.max(1)),
    })
}

/// One packet of a [`Mix`].
#[derive(Clone, Debug)]
pub struct MixPacket {
    /// The packet, from its Ethernet header.
    pub bytes: Vec<u8>,
    /// Its class (an index into [`Mix::classes`]).
    pub class: usize,
    /// The verdicts its last run may end with.
    pub verdicts: &'static [u32],
}

/// A traffic mix: distinct packets, each run `repeat` times per trial, in equal shares. The
/// figure of a trial is the average over the packets, i.e. the average cost of a packet of
/// traffic in which each packet is as frequent as in the list (10 packets of which 1
/// blacklisted: 10% blacklisted traffic).
#[derive(Clone, Debug)]
pub struct Mix {
    /// The packets.
    pub packets: Vec<MixPacket>,
    /// The names of the classes (`clean`, `blacklisted`, …).
    pub classes: Vec<&'static str>,
}

impl Mix {
    /// The share of the packets of class `class`.
    pub fn share(&self, class: usize) -> f64 {
        let n = self.packets.iter().filter(|p| p.class == class).count();
        n as f64 / self.packets.len().max(1) as f64
    }

    /// Runs every packet `repeat` times with `run_one` (one timed `BPF_PROG_TEST_RUN`),
    /// checks each verdict, and averages; `what` names the case in errors.
    pub fn run(
        &self,
        what: &dyn fmt::Display,
        repeat: u32,
        mut run_one: impl FnMut(&[u8], u32) -> Result<Timed>,
    ) -> Result<RunOutput> {
        let (mut cpu, mut kernel) = (0.0, 0.0);
        let mut classes = vec![(0.0, 0u32); self.classes.len()];
        for (i, p) in self.packets.iter().enumerate() {
            let t = run_one(&p.bytes, repeat)?;
            let label = format!("{what}, packet {i} ({})", self.classes[p.class]);
            check_verdict(t.verdict, p.verdicts, &label)?;
            cpu += t.cpu_ns;
            kernel += t.kernel_ns as f64;
            classes[p.class].0 += t.cpu_ns;
            classes[p.class].1 += 1;
        }
        let n = self.packets.len().max(1) as f64;
        Ok(RunOutput {
            kernel_ns: kernel / n,
            cpu_ns: cpu / n,
            classes: classes
                .iter()
                .map(|&(sum, k)| sum / f64::from(k.max(1)))
                .collect(),
        })
    }
}

/// A closure that selects one case's configuration and runs the packet `repeat` times,
/// checking the verdicts of its runs.
pub type RunFn<'a> = Box<dyn FnMut(&[u8], u32) -> Result<RunOutput> + 'a>;

/// One variant at one parameter value.
pub struct Case<'a> {
    /// The variant (`raw`, `hike`, …).
    pub variant: &'static str,
    /// The parameter (N for `tailcall_loop`).
    pub param: u64,
    /// Selects the case's configuration (outside the timed syscall) and runs the packet (or
    /// its mix, ignoring the packet).
    pub run: RunFn<'a>,
}

/// Median, minimum and maximum of the trials of one case.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest trial.
    pub min: f64,
    /// The largest trial.
    pub max: f64,
    /// How many trials.
    pub trials: u32,
}

impl Summary {
    /// The summary of `samples`; `None` if there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = match n {
            0 => return None,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        };
        Some(Summary {
            median,
            min: s[0],
            max: s[n - 1],
            trials: n as u32,
        })
    }
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The case's variant.
    pub variant: &'static str,
    /// The case's parameter.
    pub param: u64,
    /// Nanoseconds per packet.
    pub ns_per_packet: Summary,
    /// A mix: nanoseconds per packet of each class, by class index.
    pub classes: Vec<Summary>,
    /// Runs redone because they were disturbed.
    pub redone: u32,
    /// Nanoseconds per packet of each trial, in the order of the rounds.
    pub trials_ns: Vec<f64>,
}

impl Measured {
    /// `self / other`, ns per packet, as the median of the ratios of the trials of the same
    /// round: the two ran seconds apart at most, where the medians of the two may come from
    /// rounds far apart, and this machine's speed changes by a third within seconds (other
    /// guests). `None` without a common round.
    pub fn per_round_ratio(&self, other: &Measured) -> Option<f64> {
        let ratios: Vec<f64> = self
            .trials_ns
            .iter()
            .zip(&other.trials_ns)
            .map(|(a, b)| a / b)
            .collect();
        Summary::of(&ratios).map(|s| s.median)
    }
}

/// A progress line on standard error: rewritten in place on a terminal, one line per update
/// otherwise (so that logs stay readable).
#[derive(Debug)]
pub struct Progress {
    scenario: &'static str,
    tty: bool,
    started: Instant,
}

impl Progress {
    /// Progress of `scenario`, starting now.
    pub fn new(scenario: &'static str) -> Progress {
        Progress {
            scenario,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// Shows `what` as the current step.
    pub fn update(&self, what: &str) {
        let line = format!(
            "{}: {what} ({:.0} s)",
            self.scenario,
            self.started.elapsed().as_secs_f64()
        );
        if self.tty {
            eprint!("\r\x1b[K{line}");
            // Progress is best effort: a closed stderr must not stop the benchmark.
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the line with `what`.
    pub fn finish(&self, what: &str) {
        let line = format!(
            "{}: {what} in {:.0} s",
            self.scenario,
            self.started.elapsed().as_secs_f64()
        );
        if self.tty {
            eprintln!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// Measures every case: a warm-up run each, then `settings.trials` interleaved rounds.
/// Fails at the first run with a wrong verdict, or when interrupted.
pub fn measure(
    cases: &mut [Case<'_>],
    packet: &[u8],
    settings: &Settings,
    progress: &Progress,
) -> Result<Vec<Measured>> {
    progress.update("warming up");
    for case in cases.iter_mut() {
        signals::check()?;
        (case.run)(packet, (settings.repeat / 10).max(1))?;
    }
    let mut samples: Vec<Vec<RunOutput>> =
        vec![Vec::with_capacity(settings.trials as usize); cases.len()];
    let mut redone = vec![0u32; cases.len()];
    for round in 0..settings.trials {
        progress.update(&format!("trial {}/{}", round + 1, settings.trials));
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            signals::check()?;
            let mut out = (cases[i].run)(packet, settings.repeat)?;
            let mut redos = 0;
            loop {
                if settings.verbose {
                    eprintln!(
                        "  {} {}: kernel {:.2} ns, thread cpu {:.3} ns",
                        cases[i].variant, cases[i].param, out.kernel_ns, out.cpu_ns
                    );
                }
                let off = (out.cpu_ns - out.kernel_ns).abs();
                if off <= MAX_DISAGREEMENT_NS || redos == MAX_REDOS {
                    break;
                }
                redos += 1;
                out = (cases[i].run)(packet, settings.repeat)?;
            }
            redone[i] += redos;
            samples[i].push(out);
        }
    }
    Ok(cases
        .iter()
        .zip(samples.iter().zip(redone))
        .map(|(case, (s, redone))| {
            let cpu: Vec<f64> = s.iter().map(|o| o.cpu_ns).collect();
            let nclasses = s.first().map_or(0, |o| o.classes.len());
            let classes = (0..nclasses)
                .map(|c| {
                    let v: Vec<f64> = s.iter().map(|o| o.classes[c]).collect();
                    Summary::of(&v).expect("at least one trial")
                })
                .collect();
            Measured {
                variant: case.variant,
                param: case.param,
                ns_per_packet: Summary::of(&cpu).expect("at least one trial"),
                classes,
                redone,
                trials_ns: cpu,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hike_netlab::udp6_checksum;

    #[test]
    fn the_packet_is_ipv6_udp_with_consistent_lengths() {
        let p = ipv6_udp_packet();
        assert_eq!(p.len(), 64);
        assert_eq!(u16::from_be_bytes([p[12], p[13]]), 0x86dd);
        assert_eq!(p[14] >> 4, 6);
        assert_eq!(p[20], 17, "next header is UDP");
        let ip_payload = u16::from_be_bytes([p[18], p[19]]) as usize;
        assert_eq!(14 + 40 + ip_payload, p.len());
        assert_eq!(u16::from_be_bytes([p[58], p[59]]) as usize, ip_payload);
    }

    #[test]
    fn the_udp_checksum_verifies() {
        let p = ipv6_udp_packet();
        let src: [u8; 16] = p[22..38].try_into().unwrap();
        let dst: [u8; 16] = p[38..54].try_into().unwrap();
        // Summing with the checksum in place gives 0xffff, so the complement is 0 (sent as
        // 0xffff by `udp6_checksum`).
        assert_eq!(udp6_checksum(&src, &dst, &p[54..]), 0xffff);
    }

    #[test]
    fn a_per_round_ratio_pairs_the_trials_of_one_round() {
        let m = |trials_ns: Vec<f64>| Measured {
            variant: "v",
            param: 0,
            ns_per_packet: Summary::of(&trials_ns).unwrap_or(Summary {
                median: 0.0,
                min: 0.0,
                max: 0.0,
                trials: 0,
            }),
            classes: Vec::new(),
            redone: 0,
            trials_ns,
        };
        // The machine slows down in the last three rounds: the medians' ratio (84/60)
        // shows it, each round's ratio does not.
        let fused = m(vec![55.0, 56.0, 90.0, 84.0, 84.0]);
        let raw = m(vec![50.0, 50.0, 60.0, 75.0, 76.0]);
        assert_eq!(fused.per_round_ratio(&raw), Some(1.12));
        assert!((fused.ns_per_packet.median / raw.ns_per_packet.median - 1.4).abs() < 1e-9);
        assert_eq!(fused.per_round_ratio(&m(Vec::new())), None);
    }

    #[test]
    fn summary_takes_the_middle() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 9.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.trials), (4.0, 1.0, 9.0, 5));
        assert_eq!(Summary::of(&[1.0, 2.0, 4.0, 8.0]).unwrap().median, 3.0);
        assert_eq!(Summary::of(&[]), None);
    }
}
