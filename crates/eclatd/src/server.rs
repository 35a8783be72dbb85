//! Running the daemon: start the core, the event thread and the gRPC server on the socket,
//! until a shutdown signal.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use eclat_proto::EclatServer;

use crate::daemon::{Daemon, Options};
use crate::service::Service;
use crate::{authority, events, listen};
use tokio_stream::StreamExt;

/// Serves `opts` on `socket` until `shutdown` completes. Loaded scripts stay loaded (and
/// pinned) when it returns.
pub async fn serve(
    opts: Options,
    socket: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = listen::bind(&socket)?;
    let daemon = Arc::new(tokio::task::spawn_blocking(move || Daemon::start(&opts)).await??);
    let stop = Arc::new(AtomicBool::new(false));
    let (events, reader) = events::spawn(daemon.clone(), stop.clone())?;
    eprintln!("eclatd: listening on {}", socket.display());
    let result = tonic::transport::Server::builder()
        .add_service(EclatServer::new(Service::new(daemon, events)))
        .serve_with_incoming_shutdown(
            listen::incoming(listener).map(|c| c.map(authority::Conn::new)),
            shutdown,
        )
        .await;
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let _ = std::fs::remove_file(&socket);
    result?;
    Ok(())
}
