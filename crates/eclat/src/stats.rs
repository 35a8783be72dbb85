//! `eclat stats [SCRIPT] [--json] [--reset]`: what eclatd's VM counted: packets, chain runs,
//! program calls and faults by reason, and what each covers; `--reset` zeroes them.
//!
//! What the counters cover (the daemon's rules, `eclatd::daemon::stats`): chain runs and
//! faults count from the load of the script's current generation (a replace gives its chains
//! new IDs, whose counters start at zero); program calls count since the program was loaded,
//! across replaces that keep its build, for every script calling it; packets and the VM's
//! faults since the VM instance was created.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use eclat_proto::v1::{ResetStatsReply, StatsReply, StatsRequest};

use crate::client::Daemon;
use crate::render::{self, table};

/// Show eclatd's counters: chain runs, program calls, packets and faults.
///
/// Per script, each chain's runs and faults by reason and each program's calls; then the
/// packets that booted a chain and the faults of the whole VM.
///
/// Chain runs and faults cover the script's current generation only (a replace starts them
/// again); program calls count since the program was loaded, across replaces that keep its
/// build, and include the calls of every script sharing it; packets and VM faults count since
/// the daemon's VM instance was created.
///
/// Example: `eclat stats`
///
/// Example: `eclat stats ddos --json`
///
/// Example: `eclat stats ddos --reset`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this script (default: every script).
    script: Option<String>,
    /// Print the daemon's reply as one JSON object (`{"scripts":[{"name":...,"generation":G,
    /// "loaded_at":SECONDS,"chains":[...],"programs":[{...,"shared_with":[...]}],
    /// "faults":[...]}],"faults":[...],"packets":N,"coverage":{"chains":...,"programs":...,
    /// "packets":...}}`; with `--reset`: `{"chains":[...],"programs":[...],"sharing":[...],
    /// "vm_faults":B}`).
    #[arg(long)]
    json: bool,
    /// Zero the counters instead: the script's chain runs and faults and its programs' calls
    /// (programs shared with other scripts restart for them too), or every counter but the
    /// packet count without SCRIPT.
    #[arg(long)]
    reset: bool,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = StatsRequest {
        script: args.script.unwrap_or_default(),
    };
    if args.reset {
        let reply = daemon.call(|mut c| async move { c.reset_stats(request).await })?;
        if args.json {
            render::emit(&render::json_line(&reply)?)?;
        } else {
            render::emit(&reset_text(&reply))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
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
            "script `{}` (generation {}, loaded {}): faults {}",
            script.name,
            script.generation,
            render::time(script.loaded_at),
            render::faults(&script.faults)
        );
        if !script.verdicts.is_empty() {
            let verdicts: Vec<String> = script
                .verdicts
                .iter()
                .map(|v| format!("{} {}", v.verdict, v.count))
                .collect();
            let _ = writeln!(out, "  packets ended here: {}", verdicts.join(", "));
        }
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
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.id.to_string(),
                    p.calls.to_string(),
                    render::list(p.shared_with.iter().cloned()),
                ]
            })
            .collect();
        if !programs.is_empty() {
            out.push_str(&table(
                &["PROGRAM", "ID", "CALLS", "SHARED WITH"],
                &programs,
                "  ",
            ));
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
    if let Some(c) = &reply.coverage {
        let _ = writeln!(
            out,
            "Counted since: chain runs and faults, {}; program calls, {}; packets and VM faults, {}.",
            c.chains, c.programs, c.packets
        );
    }
    out
}

/// What `--reset` zeroed.
fn reset_text(reply: &ResetStatsReply) -> String {
    let mut out = format!(
        "zeroed: chains {}; programs {}",
        render::list(reply.chains.iter().cloned()),
        render::list(reply.programs.iter().cloned())
    );
    if reply.vm_faults {
        out.push_str("; the VM's faults (the packet count is never reset)");
    }
    out.push('\n');
    if !reply.sharing.is_empty() {
        let _ = writeln!(
            out,
            "note: scripts {} call some of these programs: their program calls restarted too",
            render::list(reply.sharing.iter().cloned())
        );
    }
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
                verdicts: vec![],
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
                    shared_with: vec!["edge".into()],
                }],
                faults: vec![no_prog(2)],
                generation: 2,
                loaded_at: 1_704_067_200,
            }],
            faults: vec![no_prog(2)],
            packets: 1200,
            coverage: Some(eclat_proto::v1::Coverage {
                chains: "C".into(),
                programs: "P".into(),
                packets: "V".into(),
            }),
        };
        assert_eq!(
            text(&reply),
            "\
script `ddos` (generation 2, loaded 2024-01-01 00:00:00 UTC): faults no_prog 2
  CHAIN          ID  RUNS  FAULTS
  ddos_tb_2_lev  1   1200  no_prog 2
  helper         2   0     -
  PROGRAM          ID  CALLS  SHARED WITH
  ip6_hset_srcdst  3   1198   edge

VM: 1200 packets booted a chain; faults no_prog 2
Counted since: chain runs and faults, C; program calls, P; packets and VM faults, V.
"
        );
    }
}
