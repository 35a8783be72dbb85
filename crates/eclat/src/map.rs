//! `eclat map dump|get|set SCRIPT MAP ...`: read and write the maps of a loaded script's
//! programs and loader, keys and values as JSON in their BTF layout.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use eclat_proto::v1::{DumpMapReply, MapEntryReply, MapKeyRequest, MapRequest, SetMapEntryRequest};
use serde::Serialize;

use crate::client::Daemon;
use crate::exit;
use crate::render::{emit, entry_line, json_line, EntryJson};

/// Read or write a map of a loaded script, through the daemon.
///
/// Keys and values are JSON, in the form `dump` shows: a number (`5`), a string
/// (`'"fc00::1"'`), or an object for a struct (`'{"src":"fc00::1","dst":"fc00::2"}'`).
///
/// Example: `eclat map dump ddos monitor.monitor_map`
///
/// Example: `eclat map get ddos ip6_sc.ipv6_sc_map '{"src":"fc00::1","dst":"fc00::2"}'`
///
/// Example: `eclat map set ddos meter.cfg 0 '{"rate":1000}'`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: MapCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MapCommand {
    /// Every entry, one per line as `KEY -> VALUE` (per-CPU values summed).
    ///
    /// Example: `eclat map dump ddos monitor.monitor_map --json`
    Dump {
        #[command(flatten)]
        map: MapName,
        /// One JSON object: `{"map":...,"key_type":...,"value_type":...,"percpu":...,
        /// "entries":[{"key":K,"value":V},...]}`.
        #[arg(long)]
        json: bool,
    },
    /// One entry, as `KEY -> VALUE`; exit 1 when there is none.
    ///
    /// Example: `eclat map get ddos monitor.monitor_map 0`
    Get {
        #[command(flatten)]
        map: MapName,
        /// The key, as JSON.
        key: String,
        /// One JSON object: `{"map":...,"entry":{"key":K,"value":V}}` (`"entry":null`
        /// when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Write one entry (created or replaced), and show it as the map now holds it.
    ///
    /// Example: `eclat map set ddos ip6_sc.ipv6_sc_map '"fc00::1"' 2`
    Set {
        #[command(flatten)]
        map: MapName,
        /// The key, as JSON.
        key: String,
        /// The value, as JSON.
        value: String,
        /// One JSON object: `{"map":...,"entry":{"key":K,"value":V}}`.
        #[arg(long)]
        json: bool,
    },
}

/// Which map.
#[derive(Debug, clap::Args)]
struct MapName {
    /// The script's name (`eclat list` shows them).
    script: String,
    /// `PROGRAM.MAP` or `LOADER.MAP`, as the script names it.
    map: String,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    match args.command {
        MapCommand::Dump { map, json } => dump(map, json, socket),
        MapCommand::Get { map, key, json } => {
            if let Err(e) = check_json("KEY", &key) {
                return Ok(exit::usage(&e));
            }
            get(map, key, json, socket)
        }
        MapCommand::Set {
            map,
            key,
            value,
            json,
        } => {
            if let Err(e) = check_json("KEY", &key).and_then(|()| check_json("VALUE", &value)) {
                return Ok(exit::usage(&e));
            }
            set(map, key, value, json, socket)
        }
    }
}

/// Refuses text that is not JSON before bothering the daemon; a bare word is most likely a
/// string without its quotes.
fn check_json(what: &str, text: &str) -> Result<()> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(anyhow!(
            "{what} `{text}` is not JSON ({e}): write numbers as they are (`5`), strings in \
             double quotes (`'\"fc00::1\"'`), structs as objects (`'{{\"src\":\"fc00::1\",\
             \"dst\":\"fc00::2\"}}'`)"
        )),
    }
}

/// `eclat map dump --json`.
#[derive(Serialize)]
struct DumpJson<'a> {
    map: &'a str,
    key_type: &'a str,
    value_type: &'a str,
    percpu: bool,
    entries: Vec<EntryJson>,
}

fn dump(map: MapName, json: bool, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = MapRequest {
        script: map.script,
        map: map.map,
    };
    let reply = daemon.call(|mut c| async move { c.dump_map(request).await })?;
    if json {
        let out = DumpJson {
            map: &reply.map,
            key_type: &reply.key_type,
            value_type: &reply.value_type,
            percpu: reply.percpu,
            entries: reply.entries.iter().map(EntryJson::new).collect(),
        };
        emit(&json_line(&out)?)?;
    } else {
        emit(&dump_text(&reply))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A header line, then `KEY -> VALUE` per entry.
fn dump_text(reply: &DumpMapReply) -> String {
    let n = reply.entries.len();
    let mut out = format!(
        "# {}: {n} entr{}; key {}; value {}{}\n",
        reply.map,
        if n == 1 { "y" } else { "ies" },
        one_line(&reply.key_type),
        one_line(&reply.value_type),
        if reply.percpu {
            " (per-CPU, summed)"
        } else {
            ""
        }
    );
    for entry in &reply.entries {
        out.push_str(&entry_line(entry));
        out.push('\n');
    }
    out
}

/// A C type on one line, its spaces collapsed.
fn one_line(ty: &str) -> String {
    ty.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `eclat map get|set --json`.
#[derive(Serialize)]
struct EntryReplyJson<'a> {
    map: &'a str,
    entry: Option<EntryJson>,
}

fn print_entry(reply: &MapEntryReply, json: bool) -> Result<()> {
    if json {
        let out = EntryReplyJson {
            map: &reply.map,
            entry: reply.entry.as_ref().map(EntryJson::new),
        };
        emit(&json_line(&out)?)?;
    } else if let Some(entry) = &reply.entry {
        emit(&format!("{}\n", entry_line(entry)))?;
    }
    Ok(())
}

fn get(map: MapName, key: String, json: bool, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let (script, name) = (map.script.clone(), map.map.clone());
    let request = MapKeyRequest {
        script: map.script,
        map: map.map,
        key: key.clone(),
    };
    let reply = daemon.call(|mut c| async move { c.get_map_entry(request).await })?;
    print_entry(&reply, json)?;
    if reply.entry.is_none() {
        eprintln!(
            "eclat: error: map `{name}` of script `{script}` has no entry with key {key}; \
             `eclat map dump {script} {name}` shows its entries"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn set(map: MapName, key: String, value: String, json: bool, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = SetMapEntryRequest {
        script: map.script,
        map: map.map,
        key,
        value,
    };
    let reply = daemon.call(|mut c| async move { c.set_map_entry(request).await })?;
    print_entry(&reply, json)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use eclat_proto::v1::MapEntry;

    use super::*;

    #[test]
    fn keys_must_be_json() {
        check_json("KEY", "5").expect("a number");
        check_json("KEY", r#""fc00::1""#).expect("a string");
        check_json("KEY", r#"{"src":"fc00::1","dst":"fc00::2"}"#).expect("an object");
        let e = check_json("KEY", "fc00::1").expect_err("a bare word");
        assert!(
            e.to_string().starts_with("KEY `fc00::1` is not JSON ("),
            "{e}"
        );
    }

    #[test]
    fn dumps_have_a_header_and_a_line_per_entry() {
        let reply = DumpMapReply {
            map: "monitor.monitor_map".into(),
            key_type: "u32".into(),
            value_type: "struct counters {\n    u64 packets;\n}".into(),
            percpu: true,
            entries: vec![
                MapEntry {
                    key: "0".into(),
                    value: "{\"packets\": 2}".into(),
                },
                MapEntry {
                    key: "1".into(),
                    value: "{\"packets\":0}".into(),
                },
            ],
        };
        assert_eq!(
            dump_text(&reply),
            "\
# monitor.monitor_map: 2 entries; key u32; value struct counters { u64 packets; } (per-CPU, summed)
0 -> {\"packets\":2}
1 -> {\"packets\":0}
"
        );
    }
}
