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

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::{bail, Result};
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
    let mut p = vec![0u8; PACKET_LEN];
    // Ethernet: destination, source, EtherType IPv6.
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    p[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    // IPv6: version 6, traffic class 0, flow label 0; payload length; next header UDP; hops.
    let payload_len = (PACKET_LEN - 14 - 40) as u16;
    p[14] = 0x60;
    p[18..20].copy_from_slice(&payload_len.to_be_bytes());
    p[20] = 17;
    p[21] = 64;
    let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    p[22..38].copy_from_slice(&src);
    p[38..54].copy_from_slice(&dst);
    // UDP: ports, length, checksum (filled below), payload "hi".
    p[54..56].copy_from_slice(&1234u16.to_be_bytes());
    p[56..58].copy_from_slice(&5678u16.to_be_bytes());
    p[58..60].copy_from_slice(&payload_len.to_be_bytes());
    p[62..64].copy_from_slice(b"hi");
    let checksum = udp6_checksum(&src, &dst, &p[54..]);
    p[60..62].copy_from_slice(&checksum.to_be_bytes());
    p
}

/// The UDP checksum over the IPv6 pseudo-header and `udp` (header with a zero checksum field,
/// then payload). Never 0: IPv6 forbids an absent UDP checksum, so 0 is sent as `0xffff`.
fn udp6_checksum(src: &[u8; 16], dst: &[u8; 16], udp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + udp.len() + 1);
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    pseudo.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(udp);
    if pseudo.len() % 2 == 1 {
        pseudo.push(0);
    }
    let mut sum: u32 = pseudo
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
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
    /// Print every run's figures on standard error.
    pub verbose: bool,
}

/// What one `BPF_PROG_TEST_RUN` of `repeat` packets returned.
#[derive(Clone, Copy, Debug)]
pub struct RunOutput {
    /// The program's return value, the XDP verdict.
    pub verdict: u32,
    /// The kernel's average duration of one run, in whole nanoseconds.
    pub kernel_ns: u64,
    /// The thread's CPU time in the syscall divided by the repeat count.
    pub cpu_ns: f64,
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
pub fn timed(repeat: u32, test_run: impl FnOnce() -> Result<(u32, u64)>) -> Result<RunOutput> {
    let start = thread_cpu_ns()?;
    let (verdict, kernel_ns) = test_run()?;
    let end = thread_cpu_ns()?;
    Ok(RunOutput {
        verdict,
        kernel_ns,
        cpu_ns: (end - start) as f64 / f64::from(repeat.max(1)),
    })
}

/// A closure that selects one case's configuration and runs the packet `repeat` times.
pub type RunFn<'a> = Box<dyn FnMut(&[u8], u32) -> Result<RunOutput> + 'a>;

/// One variant at one parameter value.
pub struct Case<'a> {
    /// The variant (`raw`, `hike`, …).
    pub variant: &'static str,
    /// The parameter (N for `tailcall_loop`).
    pub param: u64,
    /// Selects the case's configuration (outside the timed syscall) and runs the packet.
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
    /// Runs redone because they were disturbed.
    pub redone: u32,
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

/// Runs `case` once and checks that every packet was passed.
fn run_checked(case: &mut Case<'_>, packet: &[u8], repeat: u32) -> Result<RunOutput> {
    let out = (case.run)(packet, repeat)?;
    if out.verdict != XdpAction::Pass as u32 {
        let name = XdpAction::from_retval(out.verdict).map_or("not an XDP action", |a| a.name());
        bail!(
            "`{}` with param {}: verdict {} ({name}), expected XDP_PASS (2)",
            case.variant,
            case.param,
            out.verdict
        );
    }
    Ok(out)
}

/// Measures every case: a warm-up run each, then `settings.trials` interleaved rounds.
/// Fails at the first run whose verdict is not `XDP_PASS`.
pub fn measure(
    cases: &mut [Case<'_>],
    packet: &[u8],
    settings: &Settings,
    progress: &Progress,
) -> Result<Vec<Measured>> {
    progress.update("warming up");
    for case in cases.iter_mut() {
        run_checked(case, packet, (settings.repeat / 10).max(1))?;
    }
    let mut samples = vec![Vec::with_capacity(settings.trials as usize); cases.len()];
    let mut redone = vec![0u32; cases.len()];
    for round in 0..settings.trials {
        progress.update(&format!("trial {}/{}", round + 1, settings.trials));
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            let mut out = run_checked(&mut cases[i], packet, settings.repeat)?;
            let mut redos = 0;
            loop {
                if settings.verbose {
                    eprintln!(
                        "  {} {}: kernel {} ns, thread cpu {:.3} ns",
                        cases[i].variant, cases[i].param, out.kernel_ns, out.cpu_ns
                    );
                }
                let off = (out.cpu_ns - out.kernel_ns as f64).abs();
                if off <= MAX_DISAGREEMENT_NS || redos == MAX_REDOS {
                    break;
                }
                redos += 1;
                out = run_checked(&mut cases[i], packet, settings.repeat)?;
            }
            redone[i] += redos;
            samples[i].push(out.cpu_ns);
        }
    }
    Ok(cases
        .iter()
        .zip(samples.iter().zip(redone))
        .map(|(case, (s, redone))| Measured {
            variant: case.variant,
            param: case.param,
            ns_per_packet: Summary::of(s).expect("at least one trial"),
            redone,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn summary_takes_the_middle() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 9.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.trials), (4.0, 1.0, 9.0, 5));
        assert_eq!(Summary::of(&[1.0, 2.0, 4.0, 8.0]).unwrap().median, 3.0);
        assert_eq!(Summary::of(&[]), None);
    }
}
