//! Running the system's network tools (`ip`, `sysctl`, `ipset`, ...): always a program and a
//! list of arguments, never a shell command line.
//!
//! The commands run here end on their own (no network waits), so no timeout is needed.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// Runs `program` with `args`; its standard output, or [`Error::CommandFailed`] with its
/// standard error.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            program: program.to_owned(),
            source,
        })?;
    check(program, args, &out)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `program` with `args` and `input` on its standard input (its output is discarded).
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<()> {
    let spawn_error = |source| Error::Spawn {
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let written = child
        .stdin
        .take()
        .map_or(Ok(()), |mut stdin| stdin.write_all(input.as_bytes()));
    // Wait first (a failed write usually means the program exited early: its error says why).
    let out = child.wait_with_output().map_err(spawn_error)?;
    check(program, args, &out)?;
    written.map_err(spawn_error)
}

/// Whether `program` can be started (is on `PATH`).
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn check(program: &str, args: &[&str], out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(Error::CommandFailed {
        command: std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" "),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}
