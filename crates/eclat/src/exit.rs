//! Exit statuses of `eclat` and how an error becomes one: 0 ok, 1 refused by the daemon or a
//! script error, 2 a bad command line, 3 the daemon unreachable (see `main.rs`).

use std::process::ExitCode;

use crate::client::ClientError;

/// A bad command line (also what clap exits with for one).
pub const USAGE: u8 = 2;

/// Prints `e` as `eclat: error: ...` and gives the exit status it means: that of a
/// [`ClientError`], 1 for anything else (an unreadable file, a script with errors).
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("eclat: error: {e:#}");
    ExitCode::from(
        e.downcast_ref::<ClientError>()
            .map_or(1, ClientError::exit_code),
    )
}

/// Prints a usage error and gives exit status 2.
pub fn usage(e: &anyhow::Error) -> ExitCode {
    eprintln!("eclat: error: {e:#}");
    ExitCode::from(USAGE)
}
