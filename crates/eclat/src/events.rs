//! `eclat events [SCRIPT] [--count N] [--json]`: the events chains and programs emit, as they
//! happen, until Ctrl-C or N events.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use eclat_proto::v1::{Event, EventsRequest};

use crate::client::{ClientError, Daemon};
use crate::clock;

/// Follow the events of chains and programs as they happen, through the daemon.
///
/// Events chains emit (`event`) and programs emit (`hike_emit`, e.g. show_pkt_info), one
/// line each, until Ctrl-C (exit 0) or `--count` events.
///
/// Example: `eclat events ddos`
///
/// Example: `eclat events --count 10 --json`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only events of the chains of this script (default: every script).
    script: Option<String>,
    /// Stop after N events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// One JSON object per event per line (`{"kind":...,"script":...,"chain":...,
    /// "program":...,"code":...,"values":[...],"text":...,"ts_ns":...,"time":...}`: `ts_ns`
    /// is the VM's clock, CLOCK_MONOTONIC; `time` the same as a UTC date).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = EventsRequest {
        script: args.script.unwrap_or_default(),
    };
    let mut client = daemon.client();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    daemon.block_on(async {
        let mut stream = client
            .events(request)
            .await
            .map_err(|s| ClientError::from_status(daemon.socket(), s))?
            .into_inner();
        // One Ctrl-C future for the whole stream, so that a Ctrl-C between two events is
        // not missed.
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut seen = 0u64;
        while args.count.is_none_or(|n| seen < n) {
            let event = tokio::select! {
                // Ctrl-C is how one stops following: not an error.
                _ = &mut ctrl_c => break,
                message = stream.message() => {
                    match message.map_err(|s| ClientError::from_status(daemon.socket(), s))? {
                        Some(event) => event,
                        // The daemon ended the stream (it is shutting down).
                        None => break,
                    }
                }
            };
            seen += 1;
            let line = if args.json {
                serde_json::to_string(&json(&event)?)?
            } else {
                text(&event)
            };
            match writeln!(out, "{line}").and_then(|()| out.flush()) {
                Ok(()) => {}
                // The reader went away (`eclat events | head`): stop quietly.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
                Err(e) => return Err(e).context("cannot write to standard output"),
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The event's time as a UTC date: the VM stamps it with CLOCK_MONOTONIC of the daemon's
/// machine, which is this one (the daemon is reached through a Unix socket). `None` for a
/// daemon that sends no time.
fn time(event: &Event) -> Option<String> {
    (event.ts_ns != 0).then(|| clock::rfc3339(clock::monotonic_to_unix_ns(event.ts_ns)))
}

/// The event's fields as the daemon sent them, and `time`.
fn json(event: &Event) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(event)?;
    if let (Some(t), Some(obj)) = (time(event), v.as_object_mut()) {
        obj.insert("time".into(), t.into());
    }
    Ok(v)
}

/// `2024-01-01T00:00:00.000010000Z ddos/ddos_tb_2_lev: show_pkt_info: ipv6 fc00::1 ->
/// fc00::2`: when, where it came from, then the daemon's rendering (or the raw code and values
/// when it has none).
fn text(event: &Event) -> String {
    match time(event) {
        Some(t) => format!("{t} {}", what(event)),
        None => what(event),
    }
}

fn what(event: &Event) -> String {
    let origin: Vec<&str> = [&event.script, &event.chain]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(String::as_str)
        .collect();
    let what = if event.text.is_empty() {
        let source = if event.program.is_empty() {
            event.kind.clone()
        } else {
            event.program.clone()
        };
        let values: Vec<String> = event.values.iter().map(u64::to_string).collect();
        format!("{source} code {} [{}]", event.code, values.join(", "))
    } else {
        event.text.clone()
    };
    if origin.is_empty() {
        what
    } else {
        format!("{}: {what}", origin.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_origin() {
        let mut event = Event {
            kind: "program".into(),
            script: "ddos".into(),
            chain: "ddos_tb_2_lev".into(),
            program: "show_pkt_info".into(),
            code: 1,
            values: vec![6, 17],
            text: "show_pkt_info: ipv6 fc00::1 -> fc00::2".into(),
            ts_ns: 0,
        };
        assert_eq!(
            text(&event),
            "ddos/ddos_tb_2_lev: show_pkt_info: ipv6 fc00::1 -> fc00::2"
        );
        event.text.clear();
        assert_eq!(
            text(&event),
            "ddos/ddos_tb_2_lev: show_pkt_info code 1 [6, 17]"
        );
        // With a time, the line starts with it as a date.
        event.ts_ns = 5_000_000_000;
        let line = text(&event);
        let (date, rest) = line.split_once(' ').expect("a date first");
        // (`clock` checks the conversion; two conversions differ by the time between them.)
        assert_eq!(
            (date.len(), &date[10..11], &date[29..]),
            (30, "T", "Z"),
            "{date}"
        );
        assert_eq!(rest, "ddos/ddos_tb_2_lev: show_pkt_info code 1 [6, 17]");
        assert_eq!(json(&event).unwrap()["ts_ns"], 5_000_000_000u64);
        assert!(json(&event).unwrap()["time"].is_string());
    }
}
