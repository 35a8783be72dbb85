//! The client's end of a remote connection: gRPC over TCP with TLS to an eclatd started with
//! `--listen-tls`, which requires a client certificate (mutual TLS). Files are read here, so
//! that a missing one is named; the handshake itself is tonic's (rustls).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::EclatClient;

/// The files of a TLS client.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate (PEM) that signed the daemon's certificate.
    pub ca: PathBuf,
    /// The client's certificate and its private key (PEM). eclatd refuses a client without
    /// one; `None` is only for showing that.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Why a TLS connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read the {what} `{}`: {source}", path.display())]
    Read {
        /// Which file: "CA certificate", "client certificate", "client key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address is not an `https://HOST:PORT` URL.
    #[error("`{url}` is not a remote eclatd address: give `https://HOST:PORT` ({why})")]
    Url {
        /// What was given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The connection or the handshake failed.
    #[error("cannot connect to eclatd at {url}: {source}")]
    Connect {
        /// The address.
        url: String,
        /// tonic's error (its source chain has the reason, e.g. a certificate refused).
        source: tonic::transport::Error,
    },
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Opens a gRPC channel to the daemon at `url` (`https://HOST:PORT`), checking its
/// certificate against `files.ca` (the host name of `url` must be in it) and presenting the
/// client's certificate. The handshake happens here, so that a refused certificate is an
/// error of this call rather than of the first request.
pub async fn connect_tls(url: &str, files: &TlsFiles) -> Result<EclatClient<Channel>, TlsError> {
    let bad = |why: &str| TlsError::Url {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    if !url.starts_with("https://") {
        return Err(bad("remote access is over TLS only"));
    }
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("CA certificate", &files.ca)?));
    if let Some((cert, key)) = &files.identity {
        tls = tls.identity(Identity::from_pem(
            read("client certificate", cert)?,
            read("client key", key)?,
        ));
    }
    let connect = |source| TlsError::Connect {
        url: url.to_owned(),
        source,
    };
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| bad(&e.to_string()))?
        .user_agent(crate::version::user_agent())
        .map_err(connect)?
        .tls_config(tls)
        .map_err(connect)?;
    Ok(EclatClient::new(endpoint.connect().await.map_err(connect)?))
}
