//! Running the daemon: start the core, the event thread and the gRPC server on the socket
//! (and, when asked, the same API over TLS and the metrics endpoint), until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use eclat_proto::EclatServer;
use tokio::sync::watch;

use crate::daemon::{Daemon, Options};
use crate::service::Service;
use crate::tls::TlsOptions;
use crate::{abi_check, authority, events, listen, metrics};
use tokio_stream::StreamExt;

/// What eclatd serves besides its Unix socket; all off by default.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// `--metrics-listen`: the Prometheus endpoint.
    pub metrics: Option<SocketAddr>,
    /// `--listen-tls` and its files: remote management with client certificates.
    pub tls: Option<TlsOptions>,
    /// `--etcd` and its options: the daemon is a node of a fleet.
    pub fleet: Option<crate::fleet::FleetOptions>,
}

/// Serves `opts` on `socket` until `shutdown` completes. Loaded scripts stay loaded (and
/// pinned) when it returns.
pub async fn serve(
    opts: Options,
    socket: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(opts, socket, Extras::default(), shutdown).await
}

/// [`serve`], with the `extras` too.
pub async fn serve_with(
    opts: Options,
    socket: PathBuf,
    extras: Extras,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = listen::bind(&socket)?;
    // Bound before the daemon starts, so that a port in use or an unreadable certificate
    // is an error at start, not a silent half-daemon.
    let tls = match &extras.tls {
        Some(t) => Some((t.config()?, t.bind().await?)),
        None => None,
    };
    let metrics_listener = match extras.metrics {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (--metrics-listen): {e}"))?,
        ),
        None => None,
    };
    let state_dir = opts.state_dir.clone();
    let daemon = Arc::new(tokio::task::spawn_blocking(move || Daemon::start(&opts)).await??);
    let stop = Arc::new(AtomicBool::new(false));
    let (events, reader) = events::spawn(daemon.clone(), stop.clone())?;
    let service =
        EclatServer::with_interceptor(Service::new(daemon.clone(), events), abi_check::check);
    // One shutdown for every server.
    let (stopping, stopped) = watch::channel(false);
    let signal = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut side = Vec::new();
    let mut side_tasks = Vec::new();
    if let Some(listener) = metrics_listener {
        eprintln!(
            "eclatd: serving metrics on http://{}/metrics",
            listener.local_addr()?
        );
        side.push(tokio::spawn(metrics::serve(
            listener,
            daemon.clone(),
            signal(),
        )));
    }
    if let Some((config, listener)) = tls {
        eprintln!(
            "eclatd: serving the gRPC API over TLS (client certificates required) on {}",
            listener.local_addr()?
        );
        let server = tonic::transport::Server::builder()
            .add_service(service.clone())
            .serve_with_incoming_shutdown(crate::tls::incoming(listener, config), signal());
        side.push(tokio::spawn(async move {
            server.await.map_err(std::io::Error::other)
        }));
    }
    if let Some(fleet) = extras.fleet.clone() {
        eprintln!(
            "eclatd: fleet node `{}` of etcd {} (prefix {})",
            fleet.node,
            fleet.etcd.rendered(),
            fleet.prefix
        );
        side_tasks.push(crate::fleet::spawn(
            fleet,
            daemon.clone(),
            state_dir,
            signal(),
        ));
    }
    eprintln!("eclatd: listening on {}", socket.display());
    let forward = signal();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stopping.send(true);
    });
    let result = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(
            listen::incoming(listener).map(|c| c.map(authority::Conn::new)),
            forward,
        )
        .await;
    stop.store(true, Ordering::Relaxed);
    for task in side {
        if let Ok(Err(e)) = task.await {
            eprintln!("eclatd: warning: a side server failed: {e}");
        }
    }
    for task in side_tasks {
        let _ = task.await;
    }
    let _ = reader.join();
    let _ = std::fs::remove_file(&socket);
    result?;
    Ok(())
}
