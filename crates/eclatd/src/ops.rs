//! The daemon's operations as an operator sees them: every load, replace, unload and refusal
//! is one log line (script, generation, duration, and the reason of a refusal) and counts in
//! the operation metrics (`eclat_loads_total`, ..., `eclat_load_duration_seconds`). It does
//! not perform operations (that is `daemon`) nor serve the metrics (`metrics`).
//!
//! The journal is one per process, like the log it writes to: a process runs one daemon.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};
use tonic::Status;

/// Counters and histograms of the daemon's operations.
#[derive(Debug)]
pub struct Journal {
    registry: Registry,
    loads: IntCounter,
    replaces: IntCounter,
    unloads: IntCounter,
    refusals: IntCounterVec,
    load_seconds: Histogram,
    replace_seconds: Histogram,
}

/// The process's journal.
pub fn journal() -> &'static Journal {
    static JOURNAL: OnceLock<Journal> = OnceLock::new();
    JOURNAL.get_or_init(Journal::new)
}

/// Buckets of operation durations, in seconds: a load compiles, verifies programs in the
/// kernel and may wait for an RCU grace period, so from milliseconds to tens of seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Journal {
    fn new() -> Journal {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("a valid metric name");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let histogram = |name: &str, help: &str| {
            let h = Histogram::with_opts(
                HistogramOpts::new(name, help).buckets(DURATION_BUCKETS.to_vec()),
            )
            .expect("a valid metric name");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let refusals = IntCounterVec::new(
            Opts::new(
                "eclat_refusals_total",
                "Requests eclatd refused, by operation (load, unload, connect) and gRPC status code.",
            ),
            &["operation", "code"],
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(refusals.clone()))
            .expect("registered once");
        Journal {
            loads: counter(
                "eclat_loads_total",
                "Scripts loaded under a new name (replacements are eclat_replaces_total).",
            ),
            replaces: counter(
                "eclat_replaces_total",
                "Scripts replaced by a new generation.",
            ),
            unloads: counter("eclat_unloads_total", "Scripts unloaded."),
            load_seconds: histogram(
                "eclat_load_duration_seconds",
                "Time to load a script under a new name, from request to reply.",
            ),
            replace_seconds: histogram(
                "eclat_replace_duration_seconds",
                "Time to replace a script by a new generation, from request to reply.",
            ),
            refusals,
            registry,
        }
    }

    /// The operation metrics, for a scrape.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A load or a replacement succeeded.
    pub fn loaded(&self, script: &str, generation: u64, replaced: bool, took: Duration) {
        let secs = took.as_secs_f64();
        if replaced {
            self.replaces.inc();
            self.replace_seconds.observe(secs);
            tracing::info!(script, generation, duration_s = secs, "replaced");
        } else {
            self.loads.inc();
            self.load_seconds.observe(secs);
            tracing::info!(script, generation, duration_s = secs, "loaded");
        }
    }

    /// An unload succeeded.
    pub fn unloaded(&self, script: &str, generation: u64, took: Duration) {
        self.unloads.inc();
        tracing::info!(
            script,
            generation,
            duration_s = took.as_secs_f64(),
            "unloaded"
        );
    }

    /// A request was refused: `operation` (`load`, `unload`, `connect`) of `script` (empty
    /// when there is none), with the status the client gets.
    pub fn refused(&self, operation: &str, script: &str, status: &Status, took: Duration) {
        let code = code_name(status.code());
        self.refusals.with_label_values(&[operation, code]).inc();
        // The first line: a compile refusal carries every diagnostic, rendered.
        let reason = status.message().lines().next().unwrap_or("");
        tracing::warn!(
            operation,
            script,
            code,
            reason,
            duration_s = took.as_secs_f64(),
            "refused"
        );
    }
}

/// A gRPC status code as a label value: `invalid_argument`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "ok",
        Cancelled => "cancelled",
        Unknown => "unknown",
        InvalidArgument => "invalid_argument",
        DeadlineExceeded => "deadline_exceeded",
        NotFound => "not_found",
        AlreadyExists => "already_exists",
        PermissionDenied => "permission_denied",
        ResourceExhausted => "resource_exhausted",
        FailedPrecondition => "failed_precondition",
        Aborted => "aborted",
        OutOfRange => "out_of_range",
        Unimplemented => "unimplemented",
        Internal => "internal",
        Unavailable => "unavailable",
        DataLoss => "data_loss",
        Unauthenticated => "unauthenticated",
    }
}

/// An operation under way: its start time and the script it is for, to journal its outcome.
#[derive(Debug)]
pub struct Pending {
    operation: &'static str,
    script: String,
    started: std::time::Instant,
}

impl Pending {
    /// A load of `name` (the file's stem when empty, as the daemon names it).
    pub fn load(name: &str, file_name: &str) -> Pending {
        let script = if name.is_empty() {
            crate::daemon::default_name(file_name)
        } else {
            name.to_owned()
        };
        Pending {
            operation: "load",
            script,
            started: std::time::Instant::now(),
        }
    }

    /// An unload of `name`.
    pub fn unload(name: &str) -> Pending {
        Pending {
            operation: "unload",
            script: name.to_owned(),
            started: std::time::Instant::now(),
        }
    }

    /// It loaded `script` as `generation` (a replacement if `replaced`).
    pub fn loaded(&self, script: &str, generation: u64, replaced: bool) {
        journal().loaded(script, generation, replaced, self.started.elapsed());
    }

    /// It unloaded the script, which was at `generation`.
    pub fn unloaded(&self, generation: u64) {
        journal().unloaded(&self.script, generation, self.started.elapsed());
    }

    /// It was refused with `status`.
    pub fn refused(&self, status: &Status) {
        journal().refused(self.operation, &self.script, status, self.started.elapsed());
    }
}
