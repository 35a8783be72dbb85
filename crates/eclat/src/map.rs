//! `eclat map dump|get|set|delete|clear SCRIPT MAP ...`: read and write the maps of a loaded
//! script's programs and loader. Keys and values are sent as written: the daemon reads them
//! with the map's BTF layout, in the forms of `eclat_catalog`'s `entry_text` (JSON as a dump
//! shows it, a script's tuple, fields by name), so that every client gets the same forms.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use eclat_proto::v1::{DumpMapReply, MapEntryReply, MapKeyRequest, MapRequest, SetMapEntryRequest};
use serde::Serialize;

use crate::client::Daemon;
use crate::render::{emit, entry_line, json_line, EntryJson};

/// Read or write a map of a loaded script, through the daemon.
///
/// Keys and values are written as in a script's map configuration, or as a dump shows them:
/// one item per field of the C type, in order (`0`, `fc00::1,fc00::2`, `'(1, 100)'`); fields by
/// name (`rate=1000`: in a value, the fields not named keep what the entry holds); or JSON
/// (`5`, `'"fc00::1"'`, `'{"src":"fc00::1","dst":"fc00::2"}'`). Addresses may be bare or
/// quoted; a chain is its name. `eclat describe PROGRAM` shows every map's fields.
///
/// Example: `eclat map dump ddos monitor.monitor_map`
///
/// Example: `eclat map get ddos ip6_hset_srcdst.ip6_hset_srcdst_map fc00::1,fc00::2`
///
/// Example: `eclat map set ddos ip6_sc.ipv6_sc_map 0 ddos_tb_2_lev`
///
/// Example: `eclat map set ddos ip6_sd_tbmon.ip6_sd_tbmon_cfg 0 rate=1000`
///
/// Example: `eclat map delete ddos ip6_hset_srcdst.ip6_hset_srcdst_map fc00::1,fc00::2`
///
/// Example: `eclat map clear ddos monitor.monitor_map`
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
        /// The key: every field, in order or by name, or JSON.
        key: String,
        /// One JSON object: `{"map":...,"entry":{"key":K,"value":V}}` (`"entry":null`
        /// when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Write one entry (created or replaced), and show it as the map now holds it.
    ///
    /// A value that names only some fields of a struct (`rate=1000`, or a JSON object without
    /// the others) changes those and keeps the others as the entry holds them (zero for a new
    /// entry). An entry that the script's map configuration writes gets the script's value
    /// back when the script is loaded again, and a replace gives the loader new maps
    /// (`eclat load` lists the entries it reset).
    ///
    /// Example: `eclat map set ddos ip6_sd_tbmon.ip6_sd_tbmon_cfg 0 '(1000, 100)'`
    ///
    /// Example: `eclat map set ddos ip6_hset_srcdst.ip6_hset_srcdst_map '{"src":"fc00::1","dst":"fc00::2"}' added_ns=0`
    Set {
        #[command(flatten)]
        map: MapName,
        /// The key: every field, in order or by name, or JSON.
        key: String,
        /// The value: every field in order, some or all by name, or JSON.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// One JSON object: `{"map":...,"entry":{"key":K,"value":V}}`.
        #[arg(long)]
        json: bool,
    },
    /// Delete one entry of a hash map, and show what it held; exit 1 when there is none. An
    /// array's entries always exist: write 0 with `set`, or zero them all with `clear`.
    ///
    /// Example: `eclat map delete ddos ip6_hset_srcdst.ip6_hset_srcdst_map '("fc00::1", "fc00::2")'`
    Delete {
        #[command(flatten)]
        map: MapName,
        /// The key: every field, in order or by name, or JSON.
        key: String,
        /// One JSON object: `{"map":...,"entry":{"key":K,"value":V}}`.
        #[arg(long)]
        json: bool,
    },
    /// Empty a map: a hash loses every entry, an array's entries become zero (counters
    /// restart, a classifier holds no chain). All or nothing.
    ///
    /// Example: `eclat map clear ddos ip6_hset_srcdst.ip6_hset_srcdst_map --json`
    Clear {
        #[command(flatten)]
        map: MapName,
        /// One JSON object: `{"map":...,"cleared":N}`.
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
        MapCommand::Get { map, key, json } => get(map, key, json, socket),
        MapCommand::Set {
            map,
            key,
            value,
            json,
        } => set(map, key, value, json, socket),
        MapCommand::Delete { map, key, json } => delete(map, key, json, socket),
        MapCommand::Clear { map, json } => clear(map, json, socket),
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

fn delete(map: MapName, key: String, json: bool, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = MapKeyRequest {
        script: map.script,
        map: map.map,
        key,
    };
    let reply = daemon.call(|mut c| async move { c.delete_map_entry(request).await })?;
    if !json {
        emit("deleted ")?;
    }
    print_entry(&reply, json)?;
    Ok(ExitCode::SUCCESS)
}

/// `eclat map clear --json`.
#[derive(Serialize)]
struct ClearJson<'a> {
    map: &'a str,
    cleared: u32,
}

fn clear(map: MapName, json: bool, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = MapRequest {
        script: map.script,
        map: map.map,
    };
    let reply = daemon.call(|mut c| async move { c.clear_map(request).await })?;
    if json {
        emit(&json_line(&ClearJson {
            map: &reply.map,
            cleared: reply.cleared,
        })?)?;
    } else {
        let n = reply.cleared;
        emit(&format!(
            "cleared `{}`: {n} entr{} removed or zeroed\n",
            reply.map,
            if n == 1 { "y" } else { "ies" }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use eclat_proto::v1::MapEntry;

    use super::*;

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
