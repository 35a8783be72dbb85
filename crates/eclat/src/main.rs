//! `eclat`: the eCLAT command line. `main` only parses the command line and dispatches to
//! one module per subcommand.
//!
//! ```text
//! eclat check ddos.eclat other.eclat     # diagnostics, exit 1 on any error
//! eclat compile ddos.eclat --emit asm    # bytecode of every chain, symbolic names
//! eclat compile ddos.eclat --emit json   # what the runtime links and loads
//! eclat run ddos.eclat --pcap flood.pcap --json   # packets through a private VM (root)
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod compile;
mod packets;
mod run;

/// eCLAT: write chains of HIKe programs in a python-like language.
#[derive(Debug, Parser)]
#[command(name = "eclat", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::Args),
    Compile(compile::Args),
    Run(run::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Run(args) => run::run(args),
    };
    match result {
        Ok(code) => code,
        // Errors that reach here are the user's (an unreadable file, a package that does not
        // compile); clap exits with 2 itself for a bad command line.
        Err(e) => {
            eprintln!("eclat: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
