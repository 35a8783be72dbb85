//! `eclat stats [SCRIPT] [--json]`: what eclatd's VM counted: packets, chain runs, program
//! calls and faults by reason.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use eclat_proto::v1::{StatsReply, StatsRequest};

use crate::client::Daemon;
use crate::render::{self, table};

/// Show eclatd's counters: chain runs, program calls, packets and faults.
///
/// Per script, each chain's runs and faults by reason and each program's calls; then the
/// packets that booted a chain and the faults of the whole VM.
///
/// Example: `eclat stats`
///
/// Example: `eclat stats ddos --json`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this script (default: every script).
    script: Option<String>,
    /// Print the daemon's reply as one JSON object (`{"scripts":[...],"faults":[...],
    /// "packets":N}`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = StatsRequest {
        script: args.script.unwrap_or_default(),
    };
    let reply = daemon.call(|mut c| async move { c.stats(request).await })?;
    if args.json {
        render::emit(&render::json_line(&reply)?)?;
    } else {
        render::emit(&text(&reply))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Per script a table of chains and one of programs, then the VM-wide line.
fn text(reply: &StatsReply) -> String {
    let mut out = String::new();
    for script in &reply.scripts {
        let _ = writeln!(
            out,
            "script `{}`: faults {}",
            script.name,
            render::faults(&script.faults)
        );
        let chains: Vec<Vec<String>> = script
            .chains
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.id.to_string(),
                    c.runs.to_string(),
                    render::faults(&c.faults),
                ]
            })
            .collect();
        out.push_str(&table(&["CHAIN", "ID", "RUNS", "FAULTS"], &chains, "  "));
        let programs: Vec<Vec<String>> = script
            .programs
            .iter()
            .map(|p| vec![p.name.clone(), p.id.to_string(), p.calls.to_string()])
            .collect();
        if !programs.is_empty() {
            out.push_str(&table(&["PROGRAM", "ID", "CALLS"], &programs, "  "));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "VM: {} packet{} booted a chain; faults {}",
        reply.packets,
        if reply.packets == 1 { "" } else { "s" },
        render::faults(&reply.faults)
    );
    out
}

#[cfg(test)]
mod tests {
    use eclat_proto::v1::{ChainStats, FaultCount, ProgramStats, ScriptStats};

    use super::*;

    #[test]
    fn counters_are_tables_per_script() {
        let no_prog = |count| FaultCount {
            reason: "no_prog".into(),
            count,
        };
        let reply = StatsReply {
            scripts: vec![ScriptStats {
                name: "ddos".into(),
                chains: vec![
                    ChainStats {
                        name: "ddos_tb_2_lev".into(),
                        id: 1,
                        runs: 1200,
                        faults: vec![no_prog(2)],
                    },
                    ChainStats {
                        name: "helper".into(),
                        id: 2,
                        runs: 0,
                        faults: vec![],
                    },
                ],
                programs: vec![ProgramStats {
                    name: "ip6_hset_srcdst".into(),
                    id: 3,
                    calls: 1198,
                }],
                faults: vec![no_prog(2)],
            }],
            faults: vec![no_prog(2)],
            packets: 1200,
        };
        assert_eq!(
            text(&reply),
            "\
script `ddos`: faults no_prog 2
  CHAIN          ID  RUNS  FAULTS
  ddos_tb_2_lev  1   1200  no_prog 2
  helper         2   0     -
  PROGRAM          ID  CALLS
  ip6_hset_srcdst  3   1198

VM: 1200 packets booted a chain; faults no_prog 2
"
        );
    }
}
