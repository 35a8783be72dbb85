//! `eclat`: the eCLAT command line. `main` only parses the command line and dispatches to
//! one module per subcommand.
//!
//! ```text
//! eclat check ddos.eclat other.eclat     # diagnostics, exit 1 on any error
//! eclat compile ddos.eclat --emit asm    # bytecode of every chain, symbolic names
//! eclat compile ddos.eclat --emit json   # what the runtime links and loads
//! eclat run ddos.eclat --pcap flood.pcap --json   # packets through a private VM (root)
//! eclat run ddos.eclat --pcap flood.pcap --mode fused   # the same, as one verified program
//! eclat programs                         # what a script can import
//! eclat describe ip6_sd_tbmon            # one program: maps, layouts, defaults, hooks
//!
//! eclat load ddos.eclat -D DEVNAME=veth0 # through eclatd: compile, load, attach
//! eclat list                             # scripts, chains, program table
//! eclat map dump ddos monitor.monitor_map
//! eclat stats ddos
//! eclat events ddos --count 10
//! eclat unload ddos
//! ```
//!
//! `check`, `compile`, `run`, `programs` and `describe` work alone; `load`, `unload`, `list`, `map`, `stats` and
//! `events` talk to `eclatd` over its Unix socket (`--socket PATH`, or `ECLAT_SOCKET`, default
//! `/run/eclat/eclatd.sock`; see [`client`]).
//!
//! Exit status: 0 ok; 1 refused by the daemon, or a script with errors (also a missing file,
//! a map entry that `map get` does not find); 2 a bad command line (clap's own errors, a
//! malformed `-D`); 3 the daemon cannot be reached (no socket,
//! nobody listening, permission denied, connection lost). `run` also exits 130 after Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod catalog_view;
mod check;
mod client;
mod clock;
mod compile;
mod defines;
mod describe;
mod events;
mod exit;
mod explain;
mod fleet;
mod frame;
mod generate;
mod list;
mod load;
mod map;
mod packets;
mod programs;
mod remote;
mod render;
mod run;
mod run_hook;
mod sources;
mod stats;
mod unload;
mod version;

/// eCLAT: write chains of HIKe programs in a python-like language.
#[derive(Debug, Parser)]
#[command(
    name = "eclat",
    version = eclat_proto::version::line(),
    about,
    after_help = "\
Exit status:
  0  ok
  1  refused by the daemon, or a script with errors
  2  a bad command line
  3  eclatd cannot be reached (not running, wrong --socket, permission denied)"
)]
struct Cli {
    /// eclatd's Unix socket, for load, unload, list, map, stats and events.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "ECLAT_SOCKET",
        default_value = client::DEFAULT_SOCKET
    )]
    socket: PathBuf,
    #[command(flatten)]
    remote: remote::RemoteArgs,
    #[command(flatten)]
    etcd: fleet::EtcdArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::Args),
    Compile(compile::Args),
    Run(run::Args),
    Load(load::Args),
    Unload(unload::Args),
    List(list::Args),
    Map(map::Args),
    Stats(stats::Args),
    Events(events::Args),
    Fleet(fleet::Args),
    Programs(programs::Args),
    Describe(describe::Args),
    /// Print this client's build: version, git commit and HIKe VM ABI.
    Version(version::Args),
    /// Print the shell completion script (bash, zsh, fish).
    #[command(hide = true)]
    Completions(generate::CompletionsArgs),
    /// Write the man pages into a directory.
    #[command(hide = true)]
    Man(generate::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.remote.apply();
    let socket = cli.socket.as_path();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Run(args) => run::run(args),
        Command::Load(args) => load::run(args, socket),
        Command::Unload(args) => unload::run(args, socket),
        Command::List(args) => list::run(args, socket),
        Command::Map(args) => map::run(args, socket),
        Command::Stats(args) => stats::run(args, socket),
        Command::Events(args) => events::run(args, socket),
        Command::Fleet(args) => fleet::run(args, &cli.etcd),
        Command::Programs(args) => programs::run(args),
        Command::Describe(args) => describe::run(args),
        Command::Version(args) => version::run(args),
        Command::Completions(args) => generate::completions(args, Cli::command()),
        Command::Man(args) => generate::man(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        // Errors that reach here are the user's (an unreadable file, a package that does not
        // compile) or the daemon's (it refused, or cannot be reached); clap exits with 2
        // itself for a bad command line.
        Err(e) => exit::report(&e),
    }
}
