//! Reaching etcd: the endpoints (`--etcd URL[,URL…]`) and, for `https://` endpoints, the
//! TLS files (`--etcd-ca`, `--etcd-cert`, `--etcd-key`), shared by eclatd and the CLI.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

use crate::error::{FleetError, Result};

/// How to reach etcd.
#[derive(Clone, Debug, Default)]
pub struct EtcdOptions {
    /// The client URLs.
    pub endpoints: Vec<String>,
    /// The CA that issued etcd's certificate (PEM); the system's roots are not used.
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM), for an etcd that requires one.
    pub cert: Option<PathBuf>,
    /// Its key (PEM).
    pub key: Option<PathBuf>,
}

impl EtcdOptions {
    /// The endpoints of a comma-separated list (`--etcd a,b`), each also split.
    pub fn split_endpoints(given: &[String]) -> Vec<String> {
        given
            .iter()
            .flat_map(|g| g.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The endpoints, for messages.
    pub fn rendered(&self) -> String {
        self.endpoints.join(",")
    }

    fn connect_options(&self) -> Result<ConnectOptions> {
        // Requests fail rather than hang when etcd is away; HTTP/2 keep-alives notice a dead
        // connection within seconds. Not more often than every 5 s: etcd's default
        // `--grpc-keepalive-min-time` closes the connection of a client that pings faster.
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(6), Duration::from_secs(3))
            .with_keep_alive_while_idle(true);
        let read = |what: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|source| FleetError::TlsFile {
                what,
                path: path.clone(),
                source,
            })
        };
        if self.ca.is_some() || self.cert.is_some() || self.key.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.ca {
                tls = tls.ca_certificate(Certificate::from_pem(read("--etcd-ca", ca)?));
            }
            match (&self.cert, &self.key) {
                (Some(c), Some(k)) => {
                    tls = tls.identity(Identity::from_pem(
                        read("--etcd-cert", c)?,
                        read("--etcd-key", k)?,
                    ));
                }
                (None, None) => {}
                _ => return Err(FleetError::HalfIdentity),
            }
            opts = opts.with_tls(tls);
        }
        Ok(opts)
    }
}

/// Connects to etcd.
pub async fn connect(opts: &EtcdOptions) -> Result<Client> {
    let options = opts.connect_options()?;
    Client::connect(&opts.endpoints, Some(options))
        .await
        .map_err(|cause| FleetError::Etcd {
            endpoints: opts.rendered(),
            cause,
        })
}
