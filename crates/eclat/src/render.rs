//! Human output shared by the daemon subcommands: aligned tables, scripts as the daemon
//! describes them, fault counts and map entries.

use std::fmt::Write as _;
use std::io::{self, Write as _};

use anyhow::{Context, Result};

use eclat_proto::v1::{FaultCount, Loader, MapEntry, Script};
use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value as Json;

/// Writes `text` to standard output. A reader that went away (`eclat map dump ... | head`)
/// is not an error: the rest is simply not written.
pub fn emit(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// `value` as one line of JSON.
pub fn json_line(value: &impl Serialize) -> Result<String> {
    let mut line = serde_json::to_string(value).context("encoding the JSON output")?;
    line.push('\n');
    Ok(line)
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart; the last
/// column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = indent.to_owned();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `no_prog 2, bad_insn 1`, or `-` for none.
pub fn faults(faults: &[FaultCount]) -> String {
    let nonzero: Vec<String> = faults
        .iter()
        .filter(|f| f.count > 0)
        .map(|f| format!("{} {}", f.reason, f.count))
        .collect();
    if nonzero.is_empty() {
        "-".to_owned()
    } else {
        nonzero.join(", ")
    }
}

/// `ddos_tb_2_lev #1, helper #2`, or `-` for none.
pub fn chains(script: &Script) -> String {
    list(
        script
            .chains
            .iter()
            .map(|c| format!("{} #{}", c.name, c.id)),
    )
}

/// `a, b`, or `-` for none.
pub fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// Seconds since the epoch as `2024-01-01 00:00:00 UTC` (the civil calendar from a day count,
/// Howard Hinnant's `civil_from_days`); `-` for 0, which an older daemon sends.
pub fn time(secs: u64) -> String {
    if secs == 0 {
        return "-".to_owned();
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `ip6_simple_classifier (hike_default)`.
pub fn loader_name(loader: &Loader) -> String {
    if loader.package.is_empty() {
        loader.name.clone()
    } else {
        format!("{} ({})", loader.name, loader.package)
    }
}

/// `veth0 (ifindex 5, xdp), veth1 (ifindex 6, xdp)`, or `-` when not attached.
pub fn attachments(loader: &Loader) -> String {
    list(loader.attachments.iter().map(|a| {
        let hook = if a.hook.is_empty() { "xdp" } else { &a.hook };
        let gone = if a.present { "" } else { ", gone" };
        format!("{} (ifindex {}, {hook}{gone})", a.device, a.ifindex)
    }))
}

/// Whether a script's loader is being attached (load) or detached (unload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// The script was loaded: where its loader is attached.
    Attached,
    /// The script was unloaded: where its loader was detached from.
    Detached,
}

/// What a load or unload did to a script: chains, programs, loader and attachments, one
/// per line, indented under a headline the caller prints.
pub fn script_details(script: &Script, attach: Attach) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  chains:    {}", chains(script));
    let _ = writeln!(
        out,
        "  programs:  {}",
        list(script.programs.iter().cloned())
    );
    match &script.loader {
        Some(loader) => {
            let _ = writeln!(
                out,
                "  loader:    {}{}",
                loader_name(loader),
                kernel_id(loader.kernel_id)
            );
            let attached = if loader.attachments.is_empty() {
                "no interface".to_owned()
            } else {
                attachments(loader)
            };
            let label = match attach {
                Attach::Attached => "attached:",
                Attach::Detached => "detached:",
            };
            let _ = writeln!(out, "  {label:<10} {attached}");
        }
        None => {
            let _ = writeln!(out, "  loader:    -");
        }
    }
    if !script.defines.is_empty() {
        let defines = script
            .defines
            .iter()
            .map(|d| format!("{}={}", d.name, d.value));
        let _ = writeln!(out, "  defines:   {}", list(defines));
    }
    out
}

/// `, kernel id 42`, or nothing when unknown.
fn kernel_id(id: u32) -> String {
    if id == 0 {
        String::new()
    } else {
        format!(", kernel id {id}")
    }
}

/// A map key or value the daemon sent as JSON text, compact and in its own field order (a
/// struct's fields stay in layout order); text that is not JSON becomes a JSON string, so
/// that one odd entry does not hide the others.
pub fn json_value(text: &str) -> Box<RawValue> {
    let json = match serde_json::from_str::<IgnoredAny>(text) {
        Ok(_) => minify(text),
        Err(_) => Json::String(text.to_owned()).to_string(),
    };
    RawValue::from_string(json).expect("valid JSON")
}

/// `KEY -> VALUE`, both compact JSON.
pub fn entry_line(entry: &MapEntry) -> String {
    format!("{} -> {}", json_value(&entry.key), json_value(&entry.value))
}

/// An entry for `--json`: `{"key": K, "value": V}`, K and V JSON values, not strings.
#[derive(Debug, Serialize)]
pub struct EntryJson {
    key: Box<RawValue>,
    value: Box<RawValue>,
}

impl EntryJson {
    /// The entry as the daemon sent it.
    pub fn new(entry: &MapEntry) -> EntryJson {
        EntryJson {
            key: json_value(&entry.key),
            value: json_value(&entry.value),
        }
    }
}

/// Valid JSON `text` without the whitespace outside its strings.
fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(time(1_704_067_200), "2024-01-01 00:00:00 UTC");
        assert_eq!(time(951_827_696), "2000-02-29 12:34:56 UTC");
        assert_eq!(time(0), "-");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec![
                "1".to_owned(),
                "ip6_hset_srcdst".to_owned(),
                "ddos".to_owned(),
            ],
            vec!["12".to_owned(), "pass".to_owned(), "a, b".to_owned()],
        ];
        assert_eq!(
            table(&["ID", "NAME", "USED BY"], &rows, "  "),
            "  ID  NAME             USED BY\n  1   ip6_hset_srcdst  ddos\n  12  pass             a, b\n"
        );
    }

    #[test]
    fn entries_are_compact_json() {
        let entry = MapEntry {
            key: "{ \"src\": \"fc00::1\",\n \"dst\": \"fc00::2\" }".to_owned(),
            value: "7".to_owned(),
        };
        assert_eq!(
            entry_line(&entry),
            r#"{"src":"fc00::1","dst":"fc00::2"} -> 7"#
        );
        assert_eq!(
            serde_json::to_string(&EntryJson::new(&entry)).expect("serializable"),
            r#"{"key":{"src":"fc00::1","dst":"fc00::2"},"value":7}"#
        );
        let odd = MapEntry {
            key: "a \\\" b".to_owned(),
            value: "\"x y\"".to_owned(),
        };
        assert_eq!(entry_line(&odd), r#""a \\\" b" -> "x y""#);
    }
}
