//! The Unix socket: created with owner-only permissions, and every connection's peer
//! checked (`SO_PEERCRED`): only root and the daemon's own user get in. The file mode alone
//! would do on a normal system; the check also holds when the socket directory is shared.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tokio_stream::{Stream, StreamExt};

/// Binds `path` (replacing a stale socket left by a killed daemon, refusing if another daemon
/// answers there, and never removing anything but a socket) with mode 0600, in a directory
/// that only root can change (created with mode 0700 when missing).
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use anyhow::Context as _;
    use std::os::unix::fs::FileTypeExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| {
                    format!("cannot create the socket directory `{}`", dir.display())
                })?;
        }
        crate::trust::check_dir(dir, "the socket directory")?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!(
                    "another eclatd is listening on `{}`; stop it, or give this one another --socket",
                    path.display()
                );
            }
            std::fs::remove_file(path).with_context(|| {
                format!("cannot remove the stale socket `{}`", path.display())
            })?;
        }
        Ok(_) => anyhow::bail!(
            "`{}` exists and is not a socket; eclatd removes only a stale socket of its own: give another --socket, or move that file away",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot inspect `{}`", path.display()))
        }
    }
    // The socket is created with the process umask: make it owner-only before anyone can
    // connect by creating it under a restrictive umask.
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.with_context(|| format!("cannot listen on `{}`", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict `{}` to its owner", path.display()))?;
    Ok(listener)
}

/// Whether a peer may use the daemon: root, or the daemon's own user.
pub fn peer_allowed(stream: &UnixStream) -> bool {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(cred) => cred.uid() == 0 || cred.uid() == me,
        Err(_) => false,
    }
}

/// The accepted connections of `listener` whose peer is allowed; the others are closed (the
/// client sees its connection reset) and logged.
pub fn incoming(listener: UnixListener) -> impl Stream<Item = std::io::Result<UnixStream>> {
    UnixListenerStream::new(listener).filter(|conn| match conn {
        Ok(stream) if peer_allowed(stream) => true,
        Ok(stream) => {
            let uid = stream.peer_cred().map(|c| c.uid()).ok();
            eprintln!("eclatd: refused a connection from uid {uid:?}: only root may use eclatd");
            false
        }
        Err(_) => true,
    })
}
