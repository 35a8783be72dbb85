//! `eclatd`, the eCLAT daemon: keeps eCLAT scripts loaded in one pinned HIKe VM instance and
//! serves the `eclat.v1` gRPC API (`proto/eclat.proto`) on a Unix socket only root can use.
//!
//! - [`daemon`]: the core, without gRPC: load (all or nothing), replace (atomic for
//!   packets), unload, list, maps by name, counters; adoption of pinned state at start.
//! - [`state`]: the record of what is loaded, written atomically after every change.
//! - [`service`]: the gRPC service over the core; [`listen`]: the socket and its access
//!   check; [`events`]: the VM's events, fanned out to clients.
//! - [`fleet`]: `--etcd`, the daemon as a node of a fleet (`eclat-fleet`'s agent).
//! - [`server`]: puts them together (used by `main` and by tests).
//! - Operating it: [`ops`] (a log line and metrics per operation), [`log`] (text or JSON
//!   logs), [`metrics`] (`--metrics-listen`), [`tls`] (`--listen-tls`, mutual TLS) and
//!   [`abi_check`] (a client of another VM ABI is refused).
//!
//! It never runs a shell or any command built from a request: scripts are compiled in
//! process (C chains and user packages by clang with a fixed argument list).

pub mod abi_check;
pub mod authority;
pub mod crash;
pub mod daemon;
pub mod error;
pub mod events;
pub mod fleet;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod ops;
pub mod server;
pub mod service;
pub mod state;
pub mod tls;
pub mod trust;

pub use daemon::{Daemon, Options};
pub use error::DaemonError;
