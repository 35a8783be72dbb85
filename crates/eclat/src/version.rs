//! `eclat version`: the build of this client (version, git commit, HIKe VM ABI), the same
//! line as `eclat --version` and `eclatd --version` print. The daemon refuses a client of
//! another ABI and says which side to update.

use std::process::ExitCode;

/// `eclat version`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the build.
pub fn run(_: Args) -> anyhow::Result<ExitCode> {
    println!("eclat {}", eclat_proto::version::line());
    Ok(ExitCode::SUCCESS)
}
