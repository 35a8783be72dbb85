//! `eclat load FILE [-D NAME=VALUE]... [--name NAME] [--loader NAME] [--json]`: send a script
//! (with the files beside it that it imports chains from) to eclatd, which compiles, loads and
//! attaches it, or replaces the script of that name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use eclat_compiler::Define;
use eclat_proto::v1::{self, LoadReply, LoadRequest};

use crate::client::Daemon;
use crate::sources::read_source;
use crate::{exit, render};

/// Load a script into eclatd (or replace the script of that name), through the daemon.
///
/// Its programs, chains and loader are loaded and attached where the script says; a script of
/// the same name is replaced, all or nothing. The script's map configuration is written at
/// every load, a replace included: the output lists the maps it wrote and, under `reset:`,
/// the entries whose values set since (`eclat map set`, or the programs) it put back. The daemon compiles it, and the `X.eclat` /
/// `X.hike.c` files beside it that it imports chains from, which are sent along; compiler
/// warnings go to standard error.
///
/// Example: `eclat load examples/ddos_tb_2_lev.eclat -D DEVNAME=veth0`
///
/// Example: `eclat load ddos.eclat --name ddos-edge --loader ip6_simple_classifier --json`
///
/// Example: `eclat load ddos.eclat --name first -D DEVNAME=veth0 --priority 10 --proceed-on pass,drop`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The script.
    file: PathBuf,
    /// Replace the whole word NAME by VALUE in the script (and the scripts it imports chains
    /// from) before compiling: `-D DEVNAME=veth0`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// The script's name in the daemon (default: the file name without `.eclat`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The loader packets enter through, when the script imports several.
    #[arg(long, value_name = "NAME")]
    loader: Option<String>,
    /// Where the script runs among the scripts of its hooks: lower first, equal priorities
    /// in name order (default: the replaced version's, else 100). Up to 64 scripts share a
    /// hook.
    #[arg(long, value_name = "N")]
    priority: Option<u32>,
    /// The verdicts that go on to the next script of the hook instead of ending the packet:
    /// among aborted, drop, pass, tx, redirect, separated by commas, or `any`, or `none`
    /// (default: the replaced version's, else `pass`).
    #[arg(long = "proceed-on", value_name = "VERDICT[,VERDICT...]")]
    proceed_on: Option<String>,
    /// At a TC hook where no other eclat script runs yet: before every program other tools
    /// attached there (`first`) or after them (`last`); further scripts go next to ours, in
    /// priority order (default: the replaced version's, else `first`).
    #[arg(long = "tc-placement", value_name = "first|last", value_parser = ["first", "last"])]
    tc_placement: Option<String>,
    /// Print the daemon's reply as one JSON object (`{"script":{...},"replaced":...,
    /// "diagnostics":...,"maps":[{"map":"OWNER.MAP","written":N,"reset":[KEY,...]}]}`).
    #[arg(long)]
    json: bool,
    /// Refused: user packages are the daemon's own (`eclatd --package-dir DIR`), built and
    /// verified where they run; a client's directory is never sent.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
}

/// Why `eclat load --package-dir` is refused, and what to do instead.
fn package_dir_refused(dirs: &[PathBuf]) -> anyhow::Error {
    let dir = dirs[0].display();
    anyhow::anyhow!(
        "`eclat load` does not send user packages: eclatd builds them from its own package \
         directories. Start the daemon with `eclatd --package-dir {dir}` (it reads the \
         packages again at every load), then load without `--package-dir`; \
         `eclat check --package-dir {dir} --verify` checks them first"
    )
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    // The command line first: nothing is sent for a bad one.
    let defines: Vec<Define> = match crate::defines::parse(&args.defines) {
        Ok(d) => d,
        Err(e) => return Ok(exit::usage(&e)),
    };
    if !args.package_dirs.is_empty() {
        return Ok(exit::usage(&package_dir_refused(&args.package_dirs)));
    }
    let source = read_source(&args.file, &defines)?;
    let request = LoadRequest {
        name: args.name.unwrap_or_default(),
        source: Some(source),
        defines: defines
            .iter()
            .map(|d| v1::Define {
                name: d.name.clone(),
                value: d.value.clone(),
            })
            .collect(),
        loader: args.loader.unwrap_or_default(),
        priority: args.priority,
        proceed_on: args.proceed_on,
        tc_placement: args.tc_placement,
    };
    let daemon = Daemon::connect(socket)?;
    let reply = daemon.call(|mut c| async move { c.load(request).await })?;
    eprint!("{}", reply.diagnostics);
    if args.json {
        render::emit(&render::json_line(&reply)?)?;
    } else {
        render::emit(&text(&reply))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `loaded `ddos` from ddos.eclat (generation 1)` and the script's details.
fn text(reply: &LoadReply) -> String {
    let Some(script) = &reply.script else {
        return "loaded (the daemon did not describe the script)\n".to_owned();
    };
    let verb = if reply.replaced { "replaced" } else { "loaded" };
    format!(
        "{verb} `{}` from {} (generation {})\n{}{}",
        script.name,
        script.file_name,
        script.generation,
        render::script_details(script, render::Attach::Attached),
        maps_text(reply)
    )
}

/// The maps the configuration wrote (`maps:`) and the entries it put back (`reset:`).
fn maps_text(reply: &LoadReply) -> String {
    if reply.maps.is_empty() {
        return String::new();
    }
    let written = render::list(reply.maps.iter().map(|m| {
        let n = m.written;
        format!("{} ({n} entr{})", m.map, if n == 1 { "y" } else { "ies" })
    }));
    let mut out = format!("  maps:      {written}\n");
    let reset: Vec<String> = reply
        .maps
        .iter()
        .filter(|m| !m.reset.is_empty())
        .map(|m| format!("{} key {}", m.map, m.reset.join(", ")))
        .collect();
    if !reset.is_empty() {
        out.push_str(&format!(
            "  reset:     {} (changed since the last load; now the script's configuration)\n",
            reset.join("; ")
        ));
    }
    out
}
