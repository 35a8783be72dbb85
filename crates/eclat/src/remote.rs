//! `--remote https://HOST:PORT --cert F --key F --ca F`: the daemon subcommands talk to an
//! eclatd started with `--listen-tls` instead of the local socket (mutual TLS: the daemon
//! checks this client's certificate, this client checks the daemon's against `--ca`). Only
//! the flags; the connection is `client`'s.

use std::path::PathBuf;

/// The global flags of remote access.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// Talk to a remote eclatd (started with --listen-tls) at this address instead of
    /// --socket; needs --cert, --key and --ca.
    #[arg(
        long,
        global = true,
        value_name = "https://HOST:PORT",
        env = "ECLAT_REMOTE",
        requires_all = ["remote_cert", "remote_key", "remote_ca"]
    )]
    pub remote: Option<String>,
    // The ids are not the flags' names: a global argument shares its id with every
    // subcommand's arguments (`map get`'s KEY is `key`).
    /// This client's certificate (PEM), issued by the daemon's --client-ca.
    #[arg(long = "cert", global = true, value_name = "FILE", env = "ECLAT_CERT")]
    pub remote_cert: Option<PathBuf>,
    /// This client's private key (PEM).
    #[arg(long = "key", global = true, value_name = "FILE", env = "ECLAT_KEY")]
    pub remote_key: Option<PathBuf>,
    /// The CA certificate (PEM) that issued the daemon's certificate.
    #[arg(long = "ca", global = true, value_name = "FILE", env = "ECLAT_CA")]
    pub remote_ca: Option<PathBuf>,
}

impl RemoteArgs {
    /// Makes the daemon subcommands use the remote daemon, if one was given.
    pub fn apply(self) {
        if let (Some(url), Some(cert), Some(key), Some(ca)) = (
            self.remote,
            self.remote_cert,
            self.remote_key,
            self.remote_ca,
        ) {
            crate::client::use_remote(crate::client::Remote {
                url,
                files: eclat_proto::TlsFiles {
                    ca,
                    identity: Some((cert, key)),
                },
            });
        }
    }
}
