//! `eclat unload NAME [--json]`: remove a script from eclatd with everything it owned.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use eclat_proto::v1::UnloadRequest;

use crate::client::Daemon;
use crate::render;

/// Unload a script, through the daemon.
///
/// Its loader is detached, its chains removed, and so are the programs no other script
/// uses.
///
/// Example: `eclat unload ddos_tb_2_lev`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The script's name (`eclat list` shows them).
    name: String,
    /// Print the daemon's reply as one JSON object (`{"script":{...}}`: what was removed).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let request = UnloadRequest { name: args.name };
    let reply = daemon.call(|mut c| async move { c.unload(request).await })?;
    let out = if args.json {
        render::json_line(&reply)?
    } else if let Some(script) = &reply.script {
        format!(
            "unloaded `{}` ({}, generation {})\n{}",
            script.name,
            script.file_name,
            script.generation,
            render::script_details(script, render::Attach::Detached)
        )
    } else {
        "unloaded\n".to_owned()
    };
    render::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
