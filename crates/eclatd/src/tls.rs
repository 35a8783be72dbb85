//! Remote management (`--listen-tls`): the same gRPC API over TCP with TLS, where every client
//! must present a certificate issued by `--client-ca` (mutual TLS, rustls through tonic). A
//! client is authorized by its certificate: whoever holds one the client CA issued may do what
//! root may do on the Unix socket. The files it sends go through the same service, and so the
//! same checks, as a local client's. This module only builds the TLS configuration and binds
//! the port; serving is `server`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// `--listen-tls ADDR:PORT --tls-cert F --tls-key F --client-ca F`.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The daemon's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA whose certificates clients must present (PEM).
    pub client_ca: PathBuf,
}

/// Why remote management could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("cannot read the {what} `{}` (--{flag}): {source}", path.display())]
    Read {
        /// What the file is.
        what: &'static str,
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr} (--listen-tls): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

fn read(what: &'static str, flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read {
        what,
        flag,
        path: path.to_owned(),
        source,
    })
}

impl TlsOptions {
    /// The server's TLS configuration: its identity, and client certificates required
    /// (tonic makes them required once a client CA is given).
    pub fn config(&self) -> Result<ServerTlsConfig, TlsSetupError> {
        let identity = Identity::from_pem(
            read("certificate", "tls-cert", &self.cert)?,
            read("private key", "tls-key", &self.key)?,
        );
        let ca =
            Certificate::from_pem(read("client CA certificate", "client-ca", &self.client_ca)?);
        Ok(ServerTlsConfig::new()
            .identity(identity)
            .client_ca_root(ca)
            .client_auth_optional(false))
    }

    /// Binds the port (before serving, so that a port in use is an error at start).
    pub async fn bind(&self) -> Result<tokio::net::TcpListener, TlsSetupError> {
        tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| TlsSetupError::Bind {
                addr: self.listen,
                source,
            })
    }
}
