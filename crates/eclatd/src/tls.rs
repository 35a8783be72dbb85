//! Remote management (`--listen-tls`): the same gRPC API over TCP with TLS, where every client
//! must present a certificate issued by `--client-ca` (mutual TLS, rustls). A client is
//! authorized by its certificate: whoever holds a valid one the client CA issued may do what
//! root may do on the Unix socket. The files it sends go through the same service, and so the
//! same checks, as a local client's.
//!
//! The handshake is done here rather than by tonic, so that a refused client (no certificate,
//! another CA, expired) is logged with its address and the reason, and counted in
//! `eclat_refusals_total{operation="connect"}`. Serving the API is `server`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

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
    /// A file is not what it should be (no PEM certificate or key, a bad one).
    #[error("the {what} `{}` (--{flag}) is not usable: {why}", path.display())]
    Invalid {
        /// What the file is.
        what: &'static str,
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
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

/// The longest a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsOptions {
    fn read(
        &self,
        what: &'static str,
        flag: &'static str,
        path: &Path,
    ) -> Result<Vec<u8>, TlsSetupError> {
        std::fs::read(path).map_err(|source| TlsSetupError::Read {
            what,
            flag,
            path: path.to_owned(),
            source,
        })
    }

    fn certs(
        &self,
        what: &'static str,
        flag: &'static str,
        path: &Path,
    ) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
        let invalid = |why: String| TlsSetupError::Invalid {
            what,
            flag,
            path: path.to_owned(),
            why,
        };
        let certs = CertificateDer::pem_slice_iter(&self.read(what, flag, path)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        if certs.is_empty() {
            return Err(invalid("it holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    /// The server's TLS configuration: its identity, client certificates of the client CA
    /// required, and HTTP/2 (gRPC) as the one application protocol.
    pub fn config(&self) -> Result<TlsAcceptor, TlsSetupError> {
        // ring, as tonic's own TLS uses (aws-lc-rs, which rustls now prefers, needs cmake
        // and a C toolchain at build time).
        #[allow(deprecated, reason = "ring is still supported; see above")]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in self.certs("client CA certificate", "client-ca", &self.client_ca)? {
            roots.add(ca).map_err(|e| TlsSetupError::Invalid {
                what: "client CA certificate",
                flag: "client-ca",
                path: self.client_ca.clone(),
                why: e.to_string(),
            })?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Invalid {
                    what: "client CA certificate",
                    flag: "client-ca",
                    path: self.client_ca.clone(),
                    why: e.to_string(),
                })?;
        let chain = self.certs("certificate", "tls-cert", &self.cert)?;
        let invalid_key = |why: String| TlsSetupError::Invalid {
            what: "private key",
            flag: "tls-key",
            path: self.key.clone(),
            why,
        };
        let key = PrivateKeyDer::from_pem_slice(&self.read("private key", "tls-key", &self.key)?)
            .map_err(|e| invalid_key(e.to_string()))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid_key(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| invalid_key(format!("it does not match --tls-cert, or: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Binds the port (before serving, so that a port in use is an error at start).
    pub async fn bind(&self) -> Result<TcpListener, TlsSetupError> {
        TcpListener::bind(self.listen)
            .await
            .map_err(|source| TlsSetupError::Bind {
                addr: self.listen,
                source,
            })
    }
}

/// The connections of `listener` whose handshake succeeded; each handshake runs in its own
/// task (a slow client holds up nobody), and a failed one is logged and counted.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, say: report, and go on accepting.
                    eprintln!("eclatd: warning: accepting a TLS connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let conn = tx.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = conn.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => refused(peer, &e.to_string(), started.elapsed()),
                    Err(_) => refused(peer, "the handshake timed out", started.elapsed()),
                }
            });
            if tx.is_closed() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

fn refused(peer: SocketAddr, why: &str, took: Duration) {
    let status = tonic::Status::unauthenticated(format!("TLS client {peer} refused: {why}"));
    crate::ops::journal().refused("connect", "", &status, took);
}
