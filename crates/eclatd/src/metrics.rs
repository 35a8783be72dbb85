//! `--metrics-listen ADDR:PORT`: the Prometheus text exposition (format 0.0.4) at `/metrics`
//! over plain HTTP (axum on the daemon's runtime). It reads counters that exist anyway; it
//! counts nothing itself and turns nothing on in the data plane.
//!
//! What one scrape costs: the daemon's counters as `eclat stats` reads them, that is one
//! lookup of the per-CPU chain statistics map (`hike_cstats`) per loaded chain, 8 of the
//! verdict counters (`hike_verdicts`) per script, one of the
//! program statistics map (`hike_pstats`) per program in use, one of the VM fault counters,
//! and one of the per-CPU VM state per possible CPU; each lookup returns every CPU's copy,
//! summed here. They are reads of maps the VM already writes, under the daemon's lock
//! (a load waits for a scrape, packets never do).
//!
//! Exported (`eclat_` prefix, counters end in `_total`, durations in seconds):
//! - `eclat_chain_runs_total{script,chain,generation}` and
//!   `eclat_chain_faults_total{script,chain,generation,reason}`: per chain of each loaded
//!   script, since that generation was loaded (a replacement starts from zero, under the new
//!   `generation` label).
//! - `eclat_program_calls_total{program,package,slot}`: calls of each program in use.
//! - `eclat_vm_packets_total` (packets that booted a chain, all interfaces) and
//!   `eclat_vm_faults_total{reason}`.
//! - `eclat_attachment_info{script,generation,interface,hook}` = 1: where each script runs.
//! - `eclat_packets_total{interface,hook,script,verdict}`: packets by final verdict, counted in
//!   the script of the hook where the verdict stood (a verdict that proceeds to the next script
//!   is counted there, so summing by interface and hook counts each packet once), since the
//!   script was first loaded under its name. The VM counts them per script
//!   (`hike_verdicts`), so a script attached at several interfaces of one hook reports them
//!   together under `interface="eth0,eth1"`.
//! - `eclat_scripts`: scripts loaded.
//! - the operations (`ops`): `eclat_loads_total`, `eclat_replaces_total`,
//!   `eclat_unloads_total`, `eclat_refusals_total{operation,code}`,
//!   `eclat_load_duration_seconds`, `eclat_replace_duration_seconds`.
//! - `eclat_build_info{version,git,abi}` = 1.

use std::future::Future;
use std::sync::Arc;

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::daemon::Daemon;
use crate::error::DaemonError;

/// The content type of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

/// The exposition of `daemon` now.
pub fn scrape(daemon: &Daemon) -> Result<String, DaemonError> {
    let counters = daemon.stats(None)?;
    let listing = daemon.list();
    let r = Registry::new();
    let runs = counter_vec(
        &r,
        "eclat_chain_runs_total",
        "Runs of a chain of a loaded script.",
        &["script", "chain", "generation"],
    );
    let faults = counter_vec(
        &r,
        "eclat_chain_faults_total",
        "Faults of a chain of a loaded script, by reason.",
        &["script", "chain", "generation", "reason"],
    );
    let calls = counter_vec(
        &r,
        "eclat_program_calls_total",
        "Calls of a HIKe program from chains.",
        &["program", "package", "slot"],
    );
    let vm_faults = counter_vec(
        &r,
        "eclat_vm_faults_total",
        "Faults of the whole VM, by reason.",
        &["reason"],
    );
    let attachments = gauge_vec(
        &r,
        "eclat_attachment_info",
        "Where a script's loader is attached (always 1).",
        &["script", "generation", "interface", "hook"],
    );
    let verdicts = counter_vec(
        &r,
        "eclat_packets_total",
        "Packets by final verdict, per interface and hook, in the script where the verdict stood.",
        &["interface", "hook", "script", "verdict"],
    );
    let build = gauge_vec(
        &r,
        "eclat_build_info",
        "The build of eclatd (always 1).",
        &["version", "git", "abi"],
    );
    let packets = IntCounter::new(
        "eclat_vm_packets_total",
        "Packets that booted a chain, on every interface.",
    )
    .expect("a valid metric");
    r.register(Box::new(packets.clone()))
        .expect("registered once");
    let scripts = IntGauge::new("eclat_scripts", "Scripts loaded.").expect("a valid metric");
    r.register(Box::new(scripts.clone()))
        .expect("registered once");

    let generation = |script: &str| {
        listing
            .scripts
            .iter()
            .find(|s| s.name == script)
            .map(|s| s.generation.to_string())
    };
    let mut seen_programs = std::collections::BTreeSet::new();
    for s in &counters.scripts {
        // A script unloaded between the two reads is left out of this scrape.
        let Some(g) = generation(&s.name) else {
            continue;
        };
        for c in &s.chains {
            runs.with_label_values(&[&s.name, &c.name, &g])
                .inc_by(c.runs);
            for (reason, n) in &c.faults {
                faults
                    .with_label_values(&[&s.name, &c.name, &g, reason])
                    .inc_by(*n);
            }
        }
        for p in &s.programs {
            // A program called by several scripts is counted once.
            if seen_programs.insert(p.id) {
                let package = listing
                    .programs
                    .iter()
                    .find(|l| l.record.id == p.id)
                    .map_or("", |l| l.record.package.as_str());
                calls
                    .with_label_values(&[&p.name, package, &p.id.to_string()])
                    .inc_by(p.calls);
            }
        }
    }
    for s in &counters.scripts {
        let Some(listed) = listing.scripts.iter().find(|l| l.name == s.name) else {
            continue;
        };
        let mut by_hook: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for a in &listed.loader.attachments {
            by_hook.entry(&a.hook).or_default().push(&a.device);
        }
        for (hook, devices) in by_hook {
            let interface = devices.join(",");
            for (verdict, n) in &s.verdicts {
                verdicts
                    .with_label_values(&[&interface, hook, &s.name, verdict])
                    .inc_by(*n);
            }
        }
    }
    for (reason, n) in &counters.faults {
        vm_faults.with_label_values(&[reason]).inc_by(*n);
    }
    packets.inc_by(counters.packets);
    for s in &listing.scripts {
        for a in &s.loader.attachments {
            attachments
                .with_label_values(&[&s.name, &s.generation.to_string(), &a.device, &a.hook])
                .set(1);
        }
    }
    scripts.set(listing.scripts.len() as i64);
    build
        .with_label_values(&[
            eclat_proto::version::VERSION,
            eclat_proto::version::GIT,
            &eclat_proto::version::ABI.to_string(),
        ])
        .set(1);

    let mut families = r.gather();
    families.extend(crate::ops::journal().registry().gather());
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&families, &mut out)
        .expect("writing to a Vec");
    Ok(String::from_utf8(out).expect("the text encoder writes UTF-8"))
}

/// Serves `/metrics` of `daemon` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    daemon: Arc<Daemon>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::{header, StatusCode};
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let daemon = daemon.clone();
            async move {
                match tokio::task::spawn_blocking(move || scrape(&daemon)).await {
                    Ok(Ok(text)) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text),
                    Ok(Err(e)) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [(header::CONTENT_TYPE, "text/plain")],
                        format!("cannot read the counters: {e}\n"),
                    ),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [(header::CONTENT_TYPE, "text/plain")],
                        format!("the scrape's worker failed: {e}\n"),
                    ),
                }
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
