//! The client's end of the connection: a tonic channel over the daemon's Unix socket.

use std::io;
use std::path::Path;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use crate::EclatClient;

/// Opening the socket failed (no such file, nobody listening, permission denied), as opposed
/// to the connection failing once open. [`connect`]'s error carries it in its source chain:
/// it is how a client tells "no daemon there" from "the daemon went away".
#[derive(Debug, thiserror::Error)]
#[error("cannot open the socket")]
pub struct SocketError(#[source] pub io::Error);

/// Opens a gRPC channel to the daemon listening on the Unix socket `socket`.
///
/// Every connection the channel makes (it reconnects after a failure) opens `socket` again;
/// when that fails, the error's source chain holds a [`SocketError`].
pub async fn connect(socket: &Path) -> Result<EclatClient<Channel>, tonic::transport::Error> {
    // The URI is required by the API but unused: every connection goes to the socket.
    let endpoint = Endpoint::try_from("http://[::]:50051")
        .expect("a valid constant URI")
        .user_agent(crate::version::user_agent())
        .expect("a valid header value");
    let path = socket.to_path_buf();
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                let stream = UnixStream::connect(path).await.map_err(SocketError)?;
                Ok::<_, SocketError>(TokioIo::new(stream))
            }
        }))
        .await?;
    Ok(EclatClient::new(channel))
}
