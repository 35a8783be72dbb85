//! The eCLAT fleet: many eclatd nodes driven from one store, etcd, with all-or-nothing
//! rollouts. This crate is the protocol and nothing else: the key layout ([`keys`]), what the
//! keys hold ([`model`]), label selectors ([`selector`]), the connection ([`connect`]), the
//! node's side ([`agent`]: registration under a lease, watching, prepare/commit/abort
//! through a [`agent::Local`] the daemon implements) and the operator's side ([`rollout`]:
//! `apply` and `delete` in two phases; [`view`]: status and nodes), and the user packages a
//! script needs as built objects in etcd by SHA-256 ([`packages`], [`objects`]).
//!
//! It loads nothing and compiles nothing: the daemon does that behind [`agent::Local`], and
//! the CLI renders what [`rollout`] and [`view`] return. `docs/fleet.md` describes the
//! protocol for people.

#![deny(missing_docs)]

pub mod agent;
pub mod connect;
pub mod error;
pub mod keys;
pub mod model;
pub mod objects;
pub mod packages;
pub mod rollout;
pub mod selector;
mod store;
pub mod view;

pub use connect::{connect, EtcdOptions};
pub use error::FleetError;
/// The etcd client crate, for callers that watch keys themselves (tests, tools).
pub use etcd_client;
/// etcd's client, as [`connect`] returns it.
pub use etcd_client::Client;
pub use keys::Layout;
