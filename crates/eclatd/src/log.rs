//! The daemon's structured log: `tracing` events written to standard error, one line each,
//! as text (the default, for a terminal or journald) or JSON (`--log-format json`, for a log
//! pipeline). It only sets up the output; what is logged is decided where it happens
//! (`ops` for operations). Older messages of the daemon still go to standard error as plain
//! `eclatd: ...` lines.

use std::str::FromStr;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-12-07T03:00:00.123Z  INFO eclatd::ops: loaded script="ddos" generation=1 ...`
    #[default]
    Text,
    /// `{"timestamp":"...","level":"INFO","fields":{"message":"loaded","script":"ddos",...}}`
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format `{s}`: give `text` or `json`")),
        }
    }
}

/// Installs the process's log output (once; a second call does nothing).
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO);
    // An error means a subscriber is installed already (a test calling twice): keep it.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
