//! `-D NAME=VALUE` of the command line, parsed once for every subcommand that takes it
//! (check, compile, run, load), so that a bad one reads the same everywhere (exit 2).

use anyhow::{Context, Result};
use eclat_compiler::Define;

/// Parses every `-D` argument; the error names the argument.
pub fn parse(args: &[String]) -> Result<Vec<Define>> {
    args.iter()
        .map(|d| Define::parse(d).with_context(|| format!("-D {d}")))
        .collect()
}
