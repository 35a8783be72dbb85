//! The eclatd gRPC API, generated from `proto/eclat.proto` (package `eclat.v1`): messages,
//! the client and the server trait `eclatd` implements; and [`connect`], the one way a client
//! (the `eclat` command line, the benchmarks, the daemon's tests) reaches the daemon over its
//! Unix socket. It holds no logic of its own.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use eclat_proto::v1::ListRequest;
//!
//! let mut client = eclat_proto::connect("/run/eclat/eclatd.sock".as_ref()).await?;
//! let scripts = client.list(ListRequest {}).await?.into_inner().scripts;
//! # Ok(())
//! # }
//! ```

mod connect;
pub mod tls;
pub mod version;

/// `eclat.v1`.
#[allow(
    missing_docs,
    reason = "generated code; the .proto is the documentation"
)]
#[allow(clippy::all, reason = "generated code")]
pub mod v1 {
    tonic::include_proto!("eclat.v1");
}

pub use connect::{connect, SocketError};
pub use tls::{connect_tls, TlsFiles};
pub use v1::eclat_client::EclatClient;
pub use v1::eclat_server::{Eclat, EclatServer};
