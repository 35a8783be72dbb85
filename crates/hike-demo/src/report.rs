//! What the demo reads back (`eclat map dump --json`, `eclat stats --json`), the checks it
//! makes of it, and their rendering.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The monitor program's events, as the script numbers them (`PASS=0; DROP=1; REDIRECT=2`).
const EV_PASS: u64 = 0;
const EV_DROP: u64 = 1;
const EV_REDIRECT: u64 = 2;

/// `monitor.monitor_map`: packets by event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Monitor {
    /// Passed (`monitor(PASS)`).
    pub passed: u64,
    /// Dropped (`monitor(DROP)`).
    pub dropped: u64,
    /// Redirected to the collector (`monitor(REDIRECT)`).
    pub redirected: u64,
}

impl Monitor {
    /// From the output of `eclat map dump SCRIPT monitor.monitor_map --json`. A value is
    /// `{"packets":N}` or `N`; an event the script does not use is an error.
    pub fn from_dump(dump: &Value) -> Result<Monitor> {
        let mut m = Monitor::default();
        for (key, value) in entries(dump)? {
            let event = number(&key).with_context(|| format!("monitor key {key}"))?;
            let packets = number(value.get("packets").unwrap_or(&value))
                .with_context(|| format!("monitor value {value}"))?;
            match event {
                EV_PASS => m.passed += packets,
                EV_DROP => m.dropped += packets,
                EV_REDIRECT => m.redirected += packets,
                other => bail!("monitor event {other} ({packets} packets): not in the script"),
            }
        }
        Ok(m)
    }

    /// Every packet the chain counted.
    pub fn total(&self) -> u64 {
        self.passed + self.dropped + self.redirected
    }
}

/// A (source, destination) pair of the blacklist.
pub type Pair = (Ipv6Addr, Ipv6Addr);

/// The pairs of `eclat map dump SCRIPT ip6_hset_srcdst.ip6_hset_srcdst_map --json`.
pub fn blacklist_from_dump(dump: &Value) -> Result<Vec<Pair>> {
    entries(dump)?
        .into_iter()
        .map(|(key, _)| {
            let addr = |field: &str| -> Result<Ipv6Addr> {
                key[field]
                    .as_str()
                    .with_context(|| format!("blacklist key {key}: no `{field}`"))?
                    .parse()
                    .with_context(|| format!("blacklist key {key}: `{field}`"))
            };
            Ok((addr("src")?, addr("dst")?))
        })
        .collect()
}

/// A token bucket's configuration: (rate in packets per second, bucket size in packets).
pub type Bucket = (u64, u64);

/// The bucket of `eclat map dump SCRIPT ip6_dst_tbmon.ip6_dst_tbmon_cfg --json` (or of
/// `ip6_sd_tbmon`): the value `{"rate":R,"bucket_size":B}` at key 0.
pub fn bucket_from_dump(dump: &Value) -> Result<Bucket> {
    let (_, value) = entries(dump)?
        .into_iter()
        .find(|(k, _)| number(k).ok() == Some(0))
        .with_context(|| format!("no key 0 in the bucket configuration {dump}"))?;
    let field = |f: &str| {
        value
            .get(f)
            .map_or_else(|| bail!("no `{f}`"), number)
            .with_context(|| format!("bucket configuration {value}"))
    };
    Ok((field("rate")?, field("bucket_size")?))
}

/// The entries of a dump, keys and values as JSON (a daemon may send them as JSON text).
fn entries(dump: &Value) -> Result<Vec<(Value, Value)>> {
    let list = dump["entries"]
        .as_array()
        .with_context(|| format!("no `entries` in the map dump {dump}"))?;
    Ok(list
        .iter()
        .map(|e| (json_of(&e["key"]), json_of(&e["value"])))
        .collect())
}

/// `v`, or the JSON that the string `v` holds.
fn json_of(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        _ => v.clone(),
    }
}

fn number(v: &Value) -> Result<u64> {
    match v {
        Value::Number(n) => n.as_u64().context("not a u64"),
        Value::String(s) => s.parse().context("not a u64"),
        _ => bail!("not a number"),
    }
}

/// One chain's figures from `eclat stats --json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRuns {
    /// `SCRIPT/CHAIN`.
    pub name: String,
    /// Times it ran.
    pub runs: u64,
}

/// The figures of `eclat stats --json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every chain of every script.
    pub chains: Vec<ChainRuns>,
    /// Program calls by program (programs are shared: each once).
    pub calls: BTreeMap<String, u64>,
    /// Faults by reason, over the whole VM.
    pub faults: BTreeMap<String, u64>,
    /// Packets that booted a chain.
    pub packets: u64,
}

impl Stats {
    /// From `eclat stats --json` (a `StatsReply` of `proto/eclat.proto`; absent fields are
    /// zero or empty, as proto3 JSON may leave them out).
    pub fn from_json(v: &Value) -> Result<Stats> {
        let mut s = Stats {
            packets: v.get("packets").map_or(Ok(0), number)?,
            ..Stats::default()
        };
        let list = |v: &Value, field: &str| -> Vec<Value> {
            v.get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for script in list(v, "scripts") {
            let script_name = script["name"].as_str().unwrap_or("?").to_owned();
            for chain in list(&script, "chains") {
                s.chains.push(ChainRuns {
                    name: format!("{script_name}/{}", chain["name"].as_str().unwrap_or("?")),
                    runs: chain.get("runs").map_or(Ok(0), number)?,
                });
            }
            for prog in list(&script, "programs") {
                let name = prog["name"].as_str().unwrap_or("?").to_owned();
                let calls = prog.get("calls").map_or(Ok(0), number)?;
                let slot = s.calls.entry(name).or_default();
                *slot = (*slot).max(calls);
            }
        }
        for fault in list(v, "faults") {
            let reason = fault["reason"].as_str().unwrap_or("?").to_owned();
            *s.faults.entry(reason).or_default() += fault.get("count").map_or(Ok(0), number)?;
        }
        s.faults.retain(|_, n| *n > 0);
        Ok(s)
    }

    /// The runs of the chain `name` (`SCRIPT/CHAIN`).
    pub fn runs(&self, name: &str) -> u64 {
        self.chains
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.runs)
            .sum()
    }
}

/// One check of the demo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What must hold, for people.
    pub what: String,
    /// Whether it held, with the figures that say so.
    pub ok: bool,
}

impl Check {
    /// A check of `what`.
    pub fn new(ok: bool, what: impl Into<String>) -> Check {
        Check {
            what: what.into(),
            ok,
        }
    }
}

/// The figures the checks are made of.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Packets the client sent.
    pub client_sent: u64,
    /// Of which the service received.
    pub client_received: u64,
    /// Client packets the client's script ran its chain on.
    pub client_runs: u64,
    /// The attacker's pair, the client's pair.
    pub attacker_pair: Option<Pair>,
    /// The client's pair.
    pub client_pair: Option<Pair>,
    /// The blacklist at the end.
    pub blacklist: Vec<Pair>,
    /// The monitor at the end.
    pub monitor: Monitor,
    /// Frames the collector counted (all sources).
    pub collected: u64,
    /// Faults of the VM.
    pub faults: BTreeMap<String, u64>,
}

/// The sanity checks of the demo's outcome.
pub fn checks(f: &Figures) -> Vec<Check> {
    let listed = |p: &Option<Pair>| p.is_some_and(|p| f.blacklist.contains(&p));
    vec![
        Check::new(
            listed(&f.attacker_pair),
            "the attacker's (source, destination) pair is blacklisted",
        ),
        Check::new(
            f.client_pair.is_some() && !listed(&f.client_pair),
            "the client's pair is not",
        ),
        Check::new(
            f.client_sent > 0
                && f.client_runs == f.client_sent
                && f.client_received == f.client_sent
                && f.monitor.passed >= f.client_sent,
            format!(
                "every client packet passed: the chain ran on {} of {} and the service \
                 received {}",
                f.client_runs, f.client_sent, f.client_received
            ),
        ),
        Check::new(
            f.monitor.redirected > 0 && f.collected == f.monitor.redirected,
            format!(
                "the collector got every redirected frame: {} counted, {} redirected",
                f.collected, f.monitor.redirected
            ),
        ),
        Check::new(
            f.faults.is_empty(),
            if f.faults.is_empty() {
                "no VM fault".to_owned()
            } else {
                format!("no VM fault (found: {})", render_counts(&f.faults))
            },
        ),
    ]
}

/// `a 3, b 5`, or `none`.
pub fn render_counts(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ATK: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x66);
    const CLI: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
    const SRV: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 1);

    #[test]
    fn monitor_dumps_decode_in_both_value_forms() {
        let dump = json!({"map": "monitor.monitor_map", "percpu": true, "entries": [
            {"key": 0, "value": {"packets": 260}},
            {"key": 1, "value": 498_801},
            {"key": "2", "value": "{\"packets\":999}"},
        ]});
        let m = Monitor::from_dump(&dump).unwrap();
        assert_eq!(
            m,
            Monitor {
                passed: 260,
                dropped: 498_801,
                redirected: 999
            }
        );
        assert_eq!(m.total(), 500_060);
        let unknown = json!({"entries": [{"key": 7, "value": 1}]});
        assert!(Monitor::from_dump(&unknown).is_err());
        assert!(Monitor::from_dump(&json!({})).is_err());
    }

    #[test]
    fn blacklist_dumps_give_pairs() {
        let dump = json!({"entries": [
            {"key": {"src": "2001:db8:2::66", "dst": "2001:db8:100::1"},
             "value": {"added_ns": 12}},
        ]});
        assert_eq!(blacklist_from_dump(&dump).unwrap(), [(ATK, SRV)]);
        let bad = json!({"entries": [{"key": {"src": "x"}, "value": 0}]});
        assert!(blacklist_from_dump(&bad).is_err());
    }

    #[test]
    fn bucket_configurations_decode() {
        let dump = json!({"entries": [{"key": 0, "value": {"rate": 1, "bucket_size": 100}}]});
        assert_eq!(bucket_from_dump(&dump).unwrap(), (1, 100));
        assert!(bucket_from_dump(&json!({"entries": []})).is_err());
        let partial = json!({"entries": [{"key": 0, "value": {"rate": 1}}]});
        assert!(bucket_from_dump(&partial).is_err());
    }

    #[test]
    fn stats_sum_faults_and_keep_each_program_once() {
        let v = json!({
            "scripts": [
                {"name": "ddos-atk",
                 "chains": [{"name": "ddos_tb_2_lev", "id": 1, "runs": 500_000, "faults": []}],
                 "programs": [{"name": "monitor", "id": 3, "calls": 500_060}], "faults": []},
                {"name": "ddos-cli",
                 "chains": [{"name": "ddos_tb_2_lev", "id": 2, "runs": 60}],
                 "programs": [{"name": "monitor", "id": 3, "calls": 500_060}]},
            ],
            "faults": [{"reason": "no_chain", "count": 0}, {"reason": "bad_insn", "count": 2}],
            "packets": 500_060,
        });
        let s = Stats::from_json(&v).unwrap();
        assert_eq!(s.runs("ddos-atk/ddos_tb_2_lev"), 500_000);
        assert_eq!(s.runs("ddos-cli/ddos_tb_2_lev"), 60);
        assert_eq!(s.calls.get("monitor"), Some(&500_060));
        assert_eq!(render_counts(&s.faults), "bad_insn 2");
        assert_eq!(s.packets, 500_060);
        assert_eq!(Stats::from_json(&json!({})).unwrap(), Stats::default());
    }

    fn good() -> Figures {
        Figures {
            client_sent: 60,
            client_received: 60,
            client_runs: 60,
            attacker_pair: Some((ATK, SRV)),
            client_pair: Some((CLI, SRV)),
            blacklist: vec![(ATK, SRV)],
            monitor: Monitor {
                passed: 260,
                dropped: 498_801,
                redirected: 999,
            },
            collected: 999,
            faults: BTreeMap::new(),
        }
    }

    #[test]
    fn a_good_run_passes_every_check() {
        assert!(
            checks(&good()).iter().all(|c| c.ok),
            "{:?}",
            checks(&good())
        );
    }

    #[test]
    fn each_failure_is_caught() {
        let failed = |f: Figures| -> Vec<String> {
            checks(&f)
                .into_iter()
                .filter(|c| !c.ok)
                .map(|c| c.what)
                .collect()
        };
        let mut f = good();
        f.blacklist.clear();
        assert_eq!(
            failed(f),
            ["the attacker's (source, destination) pair is blacklisted"]
        );
        let mut f = good();
        f.blacklist.push((CLI, SRV));
        assert_eq!(failed(f), ["the client's pair is not"]);
        let mut f = good();
        f.client_received = 59;
        assert!(failed(f)[0].starts_with("every client packet passed"));
        let mut f = good();
        f.collected = 998;
        assert!(failed(f)[0].starts_with("the collector got every redirected frame"));
        let mut f = good();
        f.faults.insert("bad_insn".into(), 1);
        assert_eq!(failed(f), ["no VM fault (found: bad_insn 1)"]);
    }
}
