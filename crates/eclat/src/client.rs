//! The connection to `eclatd`: gRPC (tonic) over its Unix socket, driven by a current-thread
//! tokio runtime created for the one command that needs it.
//!
//! Every failure is a [`ClientError`], which knows its exit status: the daemon could not be
//! reached (3), or it answered with an error status (1). A status that tonic made up because
//! the connection broke (the daemon went away, or what listens there does not speak gRPC)
//! counts as unreachable too, so that a script can tell "the daemon said no" from "there was
//! no daemon to ask".
//!
//! This module uses nothing else of the crate, so that a test can include it with
//! `#[path = "../src/client.rs"] mod client;` and talk to a daemon it started itself.
//!
//! ```text
//! let daemon = Daemon::connect(Path::new("/run/eclat/eclatd.sock"))?;
//! let reply: ListReply = daemon.call(|mut c| async move { c.list(ListRequest {}).await })?;
//! ```

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use eclat_proto::{EclatClient, SocketError, TlsFiles};
use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic::{Response, Status};

/// Exit status when the daemon refused a request (or a script had an error).
pub const EXIT_REFUSED: u8 = 1;
/// Exit status when the daemon could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Where `eclatd` listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/eclat/eclatd.sock";

/// A remote daemon (`--remote`), reached over mutual TLS instead of the socket.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `https://HOST:PORT`.
    pub url: String,
    /// The CA of the daemon's certificate, and this client's certificate and key.
    pub files: TlsFiles,
}

/// The remote daemon of this process, if `--remote` was given: set once by `main` before
/// any connection, so that every subcommand's [`Daemon::connect`] honours it unchanged.
static REMOTE: OnceLock<Remote> = OnceLock::new();

/// Makes every later [`Daemon::connect`] go to `remote` instead of the socket.
pub fn use_remote(remote: Remote) {
    let _ = REMOTE.set(remote);
}

/// Why a request to `eclatd` did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened: no such file, not a socket, nobody listening.
    #[error(
        "cannot reach eclatd at {}: {}; is the daemon running? Start it with `eclatd`, or point \
         --socket / ECLAT_SOCKET at its socket",
        socket.display(),
        reason
    )]
    Unreachable {
        /// The socket tried.
        socket: PathBuf,
        /// What the system said, e.g. "No such file or directory".
        reason: String,
    },
    /// The socket exists but this user may not open it.
    #[error(
        "cannot talk to eclatd at {}: permission denied; only {} (the socket's owner) may talk \
         to eclatd: run eclat as {}, e.g. with sudo",
        socket.display(),
        owner,
        owner
    )]
    PermissionDenied {
        /// The socket tried.
        socket: PathBuf,
        /// Who owns it: "root", or "uid N".
        owner: String,
    },
    /// The connection broke during a call (the daemon stopped or crashed), or what listens
    /// at the socket does not speak gRPC.
    #[error(
        "the connection to eclatd at {} failed: {}; is the daemon still running, and is this \
         its socket?",
        socket.display(),
        reason
    )]
    Lost {
        /// The socket used.
        socket: PathBuf,
        /// What broke, as tonic reports it.
        reason: String,
    },
    /// The daemon answered with an error status; its message names the problem (it may be
    /// several lines of rendered diagnostics) and is shown as it is, but for a final line
    /// break (the caller ends the line).
    #[error("{}", status.message().trim_end_matches('\n'))]
    Daemon {
        /// The status.
        status: Status,
    },
    /// The remote daemon could not be reached, or the TLS set-up failed (a file, the
    /// handshake).
    #[error(
        "{reason}; check --remote, --cert, --key and --ca, and that eclatd runs with --listen-tls"
    )]
    Remote {
        /// What failed, with the address or the file.
        reason: String,
    },
    /// The runtime that drives the connection could not be created.
    #[error("cannot start the client's runtime: {error}")]
    Runtime {
        /// Why.
        error: io::Error,
    },
}

impl ClientError {
    /// The process exit status this error means.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Daemon { .. } | ClientError::Runtime { .. } => EXIT_REFUSED,
            ClientError::Unreachable { .. }
            | ClientError::PermissionDenied { .. }
            | ClientError::Lost { .. }
            | ClientError::Remote { .. } => EXIT_UNREACHABLE,
        }
    }

    /// The error for a failed call: the daemon's own status, or a broken connection.
    ///
    /// tonic attaches the underlying error as `source` to the statuses it makes up for
    /// transport failures; a status the daemon sent has no source (or carries the daemon's
    /// status inside it).
    pub fn from_status(socket: &Path, status: Status) -> ClientError {
        match status.source() {
            Some(source) if !chain_has::<Status>(source) => {
                ClientError::from_transport(socket, source, status.message())
            }
            _ => ClientError::Daemon { status },
        }
    }

    /// The error for a failed connection attempt.
    fn from_connect(socket: &Path, error: &tonic::transport::Error) -> ClientError {
        ClientError::from_transport(socket, error, &innermost(error).to_string())
    }

    /// A transport failure: opening the socket failed (unreachable, or permission denied),
    /// or the connection failed after that (lost); `message` is the reason when there is no
    /// I/O error in the chain.
    fn from_transport(
        socket: &Path,
        error: &(dyn StdError + 'static),
        message: &str,
    ) -> ClientError {
        if let Some(SocketError(e)) = find_in_chain::<SocketError>(error) {
            return ClientError::from_io(socket, e);
        }
        ClientError::Lost {
            socket: socket.to_path_buf(),
            reason: find_in_chain::<io::Error>(error).map_or_else(|| message.to_owned(), io_reason),
        }
    }

    fn from_io(socket: &Path, error: &io::Error) -> ClientError {
        if error.kind() == io::ErrorKind::PermissionDenied {
            return ClientError::PermissionDenied {
                socket: socket.to_path_buf(),
                owner: owner(socket),
            };
        }
        ClientError::Unreachable {
            socket: socket.to_path_buf(),
            reason: io_reason(error),
        }
    }
}

/// A connection to `eclatd` and the runtime that drives it.
pub struct Daemon {
    socket: PathBuf,
    runtime: Runtime,
    client: EclatClient<Channel>,
}

impl Daemon {
    /// Connects to the daemon listening at `socket` (or to the remote one, if
    /// [`use_remote`] was called).
    pub fn connect(socket: &Path) -> Result<Daemon, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| ClientError::Runtime { error })?;
        if let Some(remote) = REMOTE.get() {
            let client = runtime
                .block_on(eclat_proto::connect_tls(&remote.url, &remote.files))
                .map_err(|e| ClientError::Remote {
                    reason: chain_text(&e),
                })?;
            return Ok(Daemon {
                // What errors name as the daemon's address.
                socket: PathBuf::from(&remote.url),
                runtime,
                client,
            });
        }
        let client = runtime
            .block_on(eclat_proto::connect(socket))
            .map_err(|e| ClientError::from_connect(socket, &e))?;
        Ok(Daemon {
            socket: socket.to_path_buf(),
            runtime,
            client,
        })
    }

    /// The socket it is connected to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A handle on the connection, for [`Daemon::block_on`] (cheap: it shares the channel).
    pub fn client(&self) -> EclatClient<Channel> {
        self.client.clone()
    }

    /// Makes one unary call and waits for its reply:
    /// `daemon.call(|mut c| async move { c.list(ListRequest {}).await })`.
    pub fn call<T, F, Fut>(&self, f: F) -> Result<T, ClientError>
    where
        F: FnOnce(EclatClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.runtime
            .block_on(f(self.client()))
            .map(Response::into_inner)
            .map_err(|s| ClientError::from_status(&self.socket, s))
    }

    /// Runs `future` on the connection's runtime (for streams; map their statuses with
    /// [`ClientError::from_status`]).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Whether an error of type `T` is in the chain starting at `error`.
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The first error of type `T` in the chain starting at `error`.
fn find_in_chain<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// An error and its sources, `: `-separated (a source whose text the error already shows
/// is left out).
fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        next = e.source();
    }
    text
}

/// The last error of the chain: the most specific reason.
fn innermost<'a>(error: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let mut e = error;
    while let Some(next) = e.source() {
        e = next;
    }
    e
}

/// An I/O error as a reason: the system's message without Rust's " (os error N)".
fn io_reason(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Who owns `socket`, for the permission message.
fn owner(socket: &Path) -> String {
    match std::fs::metadata(socket).map(|m| m.uid()) {
        Ok(0) | Err(_) => "root".to_owned(),
        Ok(uid) => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_left_out() {
        // ENOENT.
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "No such file or directory");
    }

    #[test]
    fn statuses_from_the_daemon_are_refusals() {
        let e = ClientError::from_status(
            Path::new("/x.sock"),
            Status::not_found("no script `ddos`: `eclat list` shows the loaded scripts"),
        );
        assert_eq!(e.exit_code(), EXIT_REFUSED);
        assert_eq!(
            e.to_string(),
            "no script `ddos`: `eclat list` shows the loaded scripts"
        );
    }

    #[test]
    fn statuses_made_up_for_a_failed_connection_are_unreachable() {
        let mut status = Status::unavailable("error trying to connect");
        status.set_source(std::sync::Arc::new(SocketError(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        ))));
        let e = ClientError::from_status(Path::new("/x.sock"), status);
        assert_eq!(e.exit_code(), EXIT_UNREACHABLE);
        assert!(
            e.to_string()
                .starts_with("cannot reach eclatd at /x.sock: "),
            "{e}"
        );
    }

    #[test]
    fn statuses_made_up_for_a_broken_connection_are_unreachable() {
        let mut status = Status::unknown("transport error");
        status.set_source(std::sync::Arc::new(io::Error::from_raw_os_error(32)));
        let e = ClientError::from_status(Path::new("/x.sock"), status);
        assert_eq!(e.exit_code(), EXIT_UNREACHABLE);
        assert_eq!(
            e.to_string(),
            "the connection to eclatd at /x.sock failed: Broken pipe; is the daemon still \
             running, and is this its socket?"
        );
    }
}
