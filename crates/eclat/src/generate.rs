//! `eclat completions SHELL` and `eclat man DIR` (hidden; `make install` runs them): shell
//! completions and man pages generated from the command line's own clap definitions, so they
//! never disagree with it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// `eclat completions SHELL`: the completion script on standard output.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// `eclat man DIR`: `eclat.1` and one page per subcommand (`eclat-load.1`, ...) into DIR.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Where to write the pages (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Writes the completions of `cmd` for the shell asked. Made whole first, then written as
/// every other output is (`render::emit`): clap_complete panics when its writer fails, and a
/// reader that goes away (`eclat completions bash | head`) is not an error.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    crate::render::emit(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the man pages of `cmd`.
pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create `{}`", args.dir.display()))?;
    clap_mangen::generate_to(cmd, &args.dir)
        .with_context(|| format!("cannot write the man pages into `{}`", args.dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
