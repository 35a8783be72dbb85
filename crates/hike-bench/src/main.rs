//! `hike-bench`: the benchmarks of `make bench` (README, "Performance"), HIKe and its
//! baselines measured side by side in one run.
//!
//! Each scenario ([`scenarios`]) compares variants (`raw`, `hike`, …) with
//! `BPF_PROG_TEST_RUN` through the shared [`measure`] module: interleaved trials on one pinned
//! CPU, every verdict checked, medians with min and max. The [`report`] module writes
//! `latest.json` (one record per figure, the stable contract), `latest.md` (a table and the
//! bar per scenario) and a PNG plot per scenario.
//!
//! It is not a test: it asserts no timing, only that every run does what it should (a wrong
//! verdict, a wrongly marked packet, a decision that differs from the baseline's or a faulting
//! chain stops it with an error). Needs root.
//!
//! ```text
//! sudo target/release/hike-bench                       # every scenario, into bench/results
//! sudo target/release/hike-bench --scenario tailcall_loop --trials 9 --out /tmp/bench
//! sudo target/release/hike-bench --quick --out /tmp/smoke   # every scenario, briefly
//! ```
//!
//! The pps measurements ([`pps`], for `ddos_mark`) build a router out of two network
//! namespaces (`hike_netlab::RouterLab`) and count what it forwards at saturation, with the
//! traffic programs of `hike-netlab`; Ctrl-C stops the run and deletes them
//! (`hike_netlab::signals`). The raw baselines are loaded by [`raw`], outside any HIKe VM.
//! `control_plane` starts `eclatd` (found beside this binary, or `--eclatd PATH`) in such a
//! router's namespace with `hike_netlab::Eclatd` and talks to it over gRPC ([`daemon`]).

mod daemon;
mod measure;
mod pps;
mod raw;
mod report;
mod runstats;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use hike_netlab::signals;

use crate::measure::Settings;
use crate::report::RunInfo;
use crate::scenarios::ScenarioName;

/// Benchmarks HIKe against raw eBPF and writes `latest.json`, `latest.md` and plots.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  \
        sudo hike-bench\n  \
        sudo hike-bench --scenario tailcall_loop --trials 9 --repeat 2000000 --out /tmp/bench\n  \
        sudo hike-bench --scenario control_plane --eclatd target/release/eclatd --out /tmp/cp"
)]
struct Cli {
    /// A scenario to run (repeat the option for several); all of them by default.
    #[arg(long = "scenario", value_enum, value_name = "NAME")]
    scenarios: Vec<ScenarioName>,
    /// Trials per figure; each figure is their median (a result needs at least 5; the report
    /// marks a run with fewer as a quick run).
    /// Default 5 (1 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    trials: Option<u32>,
    /// Packets per trial, the `BPF_PROG_TEST_RUN` repeat count (at least 1,000,000 for a
    /// result); each packet of a mix gets this many. Default 1,000,000 (10,000 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,
    /// Trials (windows of traffic) per pps figure. More than `--trials` by default because
    /// the speed of this shared machine drifts over tens of seconds and a pps window is
    /// exposed to it in wall time. Default 9 (1 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pps_trials: Option<u32>,
    /// Seconds of traffic counted per pps trial (after a warm-up of a third of it).
    /// Default 1 (0.2 with --quick).
    #[arg(long, value_parser = parse_seconds)]
    pps_seconds: Option<f64>,
    /// A smoke test, not a result: smaller defaults for the four options above.
    #[arg(long)]
    quick: bool,
    /// The `eclatd` binary that `control_plane` starts (default: beside this one, where
    /// `make bench` builds it).
    #[arg(long, value_name = "PATH")]
    eclatd: Option<PathBuf>,
    /// Where to write the results.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Print the figures of every run on standard error.
    #[arg(long, short)]
    verbose: bool,
}

fn parse_seconds(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.05..=60.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}`: seconds between 0.05 and 60")),
    }
}

fn main() {
    // First, before any other thread exists: every thread inherits the blocked signals.
    if let Err(e) = signals::install("hike-bench") {
        eprintln!("hike-bench: {e:#}");
        std::process::exit(1);
    }
    let result = run(Cli::parse());
    if signals::interrupted() {
        eprintln!("hike-bench: interrupted, nothing written");
        std::process::exit(130);
    }
    if let Err(e) = result {
        eprintln!("hike-bench: error: {e:#}");
        std::process::exit(1);
    }
}

impl Cli {
    /// Trials, repeat count, pps trials and pps seconds: as given, else the defaults (of
    /// `--quick`).
    fn amounts(&self) -> (u32, u32, u32, f64) {
        let (trials, repeat, pps_trials, secs) = if self.quick {
            (1, 10_000, 1, 0.2)
        } else {
            (5, 1_000_000, 9, 1.0)
        };
        (
            self.trials.unwrap_or(trials),
            self.repeat.unwrap_or(repeat),
            self.pps_trials.unwrap_or(pps_trials),
            self.pps_seconds.unwrap_or(secs),
        )
    }
}

fn run(cli: Cli) -> Result<()> {
    let (trials, repeat, pps_trials, pps_seconds) = cli.amounts();
    let mut names = if cli.scenarios.is_empty() {
        ScenarioName::ALL.to_vec()
    } else {
        cli.scenarios.clone()
    };
    names.sort();
    names.dedup();

    // Test runs execute on the calling CPU: one CPU for every run keeps them comparable.
    let pin = hike_runtime::pin_thread_to_current_cpu().context("pin the thread to its cpu")?;
    let settings = Settings {
        trials,
        repeat,
        cpu: pin.cpu(),
        pps_trials,
        pps_window: Duration::from_secs_f64(pps_seconds),
        verbose: cli.verbose,
        quick: cli.quick,
        eclatd: cli.eclatd.clone(),
    };
    let info = RunInfo {
        settings: settings.clone(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        cpu_model: cpu_model(),
        started: utc_now(),
        cpus: hike_netlab::online_cpus().len(),
        load_average: read_trimmed("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    };

    let mut reports = Vec::new();
    for name in names {
        let report = name
            .run(&settings)
            .with_context(|| format!("scenario {}", name.as_str()))?;
        reports.push(report);
    }
    report::write(&cli.out, &info, &reports)?;
    eprintln!(
        "results: {}/latest.json, {}/latest.md",
        cli.out.display(),
        cli.out.display()
    );
    Ok(())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn the_cli_parses_its_documented_forms() {
        let cli = Cli::try_parse_from([
            "hike-bench",
            "--scenario",
            "tailcall_loop",
            "--trials",
            "9",
            "--repeat",
            "2000000",
            "--out",
            "/tmp/x",
        ])
        .unwrap();
        assert_eq!(cli.scenarios, vec![ScenarioName::TailcallLoop]);
        assert_eq!(cli.amounts(), (9, 2_000_000, 9, 1.0));
        assert!(Cli::try_parse_from(["hike-bench", "--trials", "0"]).is_err());
        assert!(Cli::try_parse_from(["hike-bench", "--pps-seconds", "0"]).is_err());
        let quick = Cli::try_parse_from(["hike-bench", "--quick", "--pps-seconds", "0.5"]).unwrap();
        assert_eq!(quick.amounts(), (1, 10_000, 1, 0.5));
        assert!(Cli::try_parse_from(["hike-bench", "--scenario", "nope"]).is_err());
    }
}
