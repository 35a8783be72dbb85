//! The eclatd gRPC API, generated from `proto/eclat.proto` (package `eclat.v1`): messages,
//! the client used by the `eclat` command line and the server trait `eclatd` implements.
//! It holds no logic of its own.

#![allow(missing_docs)] // generated code; the .proto is the documentation
#![allow(clippy::all)]

/// `eclat.v1`.
pub mod v1 {
    tonic::include_proto!("eclat.v1");
}

pub use v1::eclat_client::EclatClient;
pub use v1::eclat_server::{Eclat, EclatServer};
