//! How `eclat run` explains a packet: the cause of its verdict, its ordered call trace
//! (`--trace`) and the events it emitted, as text for people and as the fields of its `--json`
//! line. Rendering only: the facts come from [`eclat_link::PacketRun`].

use eclat_link::trace::{Call, CallTrace, Callee, Cause, Returned};
use eclat_link::{LoadedScript, PacketRun};
use hike_isa::abi::{Event, EVENT_CHAIN, NO_ID};
use hike_runtime::XdpAction;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::clock;

/// The clock events were stamped with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventClock {
    /// `CLOCK_MONOTONIC` (the kernel's, `--clock wall`).
    Monotonic,
    /// A capture's timestamps, Unix time (`--clock pcap`).
    Replay,
}

impl EventClock {
    fn unix_ns(self, ts_ns: u64) -> u64 {
        match self {
            EventClock::Monotonic => clock::monotonic_to_unix_ns(ts_ns),
            EventClock::Replay => ts_ns,
        }
    }
}

fn verdict_name(v: u32) -> String {
    XdpAction::from_retval(v).map_or_else(|| format!("verdict {v}"), |a| a.name().to_owned())
}

/// `from hike_drop`, `: chain `main` returned 42 (the loader's default verdict)`, …: what
/// follows the verdict in a packet's line (a fault is told by the fault's own text).
pub fn cause_text(run: &PacketRun) -> String {
    match &run.cause {
        Cause::NoChain => " (no chain: the loader's default verdict)".into(),
        Cause::Returned {
            chain,
            value: Some(value),
        } => format!(" (chain `{chain}` returned {value}: the loader's default verdict)"),
        Cause::Returned { chain, value: None } => {
            format!(" (chain `{chain}` returned: the loader's default verdict)")
        }
        Cause::Program { name } => format!(" from {name}"),
        Cause::Fault => String::new(),
    }
}

fn call_text(c: &Call) -> String {
    let (name, is_chain) = match &c.callee {
        Callee::Chain(n) => (n, true),
        Callee::Program(n) => (n, false),
    };
    let args: Vec<String> = c.args.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let kind = if is_chain { "chain " } else { "" };
    let end = match c.returned {
        Some(Returned::Value(v)) => format!(" → {v}"),
        Some(Returned::NoValue) => " → (no value)".into(),
        Some(Returned::Verdict(v)) => format!(" ⇒ {} (the packet's verdict)", verdict_name(v)),
        None => String::new(),
    };
    format!(
        "{}{kind}{name}({}){end}",
        "  ".repeat(c.depth as usize + 1),
        args.join(", ")
    )
}

/// The lines of a call trace, indented by depth under the packet's line.
pub fn calls_text(t: &CallTrace) -> Vec<String> {
    let mut lines: Vec<String> = t.calls.iter().map(call_text).collect();
    if let Some(n) = t.truncated_after {
        lines.push(format!(
            "  trace truncated after {n} call{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    lines
}

fn origin(e: &Event, script: &LoadedScript) -> (Option<String>, Option<String>) {
    let name = |id: u32, f: &dyn Fn(u32) -> Option<String>| {
        (id != NO_ID).then(|| f(id).unwrap_or_else(|| format!("#{id}")))
    };
    (
        name(e.chain_id, &|id| script.chain_name(id)),
        name(e.prog_id, &|id| script.program_name(id)),
    )
}

/// `  event 2024-01-01T00:00:00.000010000Z chain main: code 7 [1, 2, 3, 0]`.
pub fn event_text(e: &Event, script: &LoadedScript, clock: EventClock) -> String {
    let (chain, program) = origin(e, script);
    let source = match (program, chain) {
        (Some(p), Some(c)) => format!("{p} (chain {c})"),
        (Some(p), None) => p,
        (None, Some(c)) => format!("chain {c}"),
        (None, None) => "?".into(),
    };
    let values: Vec<String> = e.values.iter().map(u64::to_string).collect();
    format!(
        "  event {} {source}: code {} [{}]",
        clock::rfc3339(clock.unix_ns(e.ts_ns)),
        e.code,
        values.join(", ")
    )
}

/// `cause` of a `--json` line.
#[derive(Serialize)]
pub struct CauseJson {
    /// `no_chain`, `return`, `program`, `fault`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    program: Option<String>,
}

pub fn cause_json(c: &Cause) -> CauseJson {
    let mut j = CauseJson {
        kind: "fault",
        chain: None,
        value: None,
        program: None,
    };
    match c {
        Cause::NoChain => j.kind = "no_chain",
        Cause::Returned { chain, value } => {
            j.kind = "return";
            j.chain = Some(chain.clone());
            j.value = *value;
        }
        Cause::Program { name } => {
            j.kind = "program";
            j.program = Some(name.clone());
        }
        Cause::Fault => {}
    }
    j
}

/// Arguments by parameter name, in the callee's order.
pub struct Args(Vec<(String, u64)>);

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One call of `calls` in a `--json` line.
#[derive(Serialize)]
pub struct CallJson {
    depth: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    program: Option<String>,
    args: Args,
    /// `Some(None)` (JSON `null`): a chain that returns no value returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    returned: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<String>,
}

pub fn calls_json(t: &CallTrace) -> Vec<CallJson> {
    t.calls
        .iter()
        .map(|c| {
            let (chain, program) = match &c.callee {
                Callee::Chain(n) => (Some(n.clone()), None),
                Callee::Program(n) => (None, Some(n.clone())),
            };
            CallJson {
                depth: c.depth,
                chain,
                program,
                args: Args(c.args.clone()),
                returned: match c.returned {
                    Some(Returned::Value(v)) => Some(Some(v)),
                    Some(Returned::NoValue) => Some(None),
                    _ => None,
                },
                verdict: match c.returned {
                    Some(Returned::Verdict(v)) => Some(verdict_name(v)),
                    _ => None,
                },
            }
        })
        .collect()
}

/// One event of `events` in a `--json` line.
#[derive(Serialize)]
pub struct EventJson {
    kind: &'static str,
    chain: Option<String>,
    program: Option<String>,
    code: u32,
    values: [u64; 4],
    /// The VM's clock: `CLOCK_MONOTONIC`, or the capture's time with `--clock pcap`.
    ts_ns: u64,
    /// `ts_ns` as a UTC date.
    time: String,
}

pub fn event_json(e: &Event, script: &LoadedScript, clock: EventClock) -> EventJson {
    let (chain, program) = origin(e, script);
    EventJson {
        kind: if e.kind == EVENT_CHAIN {
            "chain"
        } else {
            "program"
        },
        chain,
        program,
        code: e.code,
        values: e.values,
        ts_ns: e.ts_ns,
        time: clock::rfc3339(clock.unix_ns(e.ts_ns)),
    }
}
