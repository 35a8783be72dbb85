//! The ABI check of every request: a client announces the HIKe VM ABI it was built for in its
//! `user-agent` (`eclat-abi/N`, see `eclat_proto::version`); one of another ABI is refused
//! with a message naming the side to update. A client that announces nothing (grpcurl, a
//! Python client, an eclat older than the token) is let in: it speaks the API, which is what
//! the daemon checks everything it sends against anyway.

use eclat_proto::version::{abi_of_user_agent, ABI};
use tonic::{Request, Status};

/// The interceptor: passes a request of this ABI (or of none), refuses one of another.
#[allow(clippy::result_large_err, reason = "tonic's interceptor signature")]
pub fn check(req: Request<()>) -> Result<Request<()>, Status> {
    let agent = req
        .metadata()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match refusal(agent) {
        None => Ok(req),
        Some(status) => {
            crate::ops::journal().refused("connect", "", &status, std::time::Duration::ZERO);
            Err(status)
        }
    }
}

/// Why a client with user agent `agent` is refused, if it is.
pub fn refusal(agent: &str) -> Option<Status> {
    match abi_of_user_agent(agent)? {
        Ok(client) if client == ABI => None,
        Ok(client) => {
            let update = if client < ABI {
                "update the client (eclat) to the daemon's version"
            } else {
                "update the daemon (eclatd) to the client's version"
            };
            Some(Status::failed_precondition(format!(
                "this client speaks HIKe VM ABI {client} but eclatd speaks ABI {ABI} ({}): {update}",
                eclat_proto::version::line()
            )))
        }
        Err(token) => Some(Status::invalid_argument(format!(
            "the user agent announces ABI `{token}`, which is not a number: send `eclat-abi/N`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_of_another_abi_is_told_which_side_to_update() {
        assert!(refusal(&eclat_proto::version::user_agent()).is_none());
        assert!(refusal("grpc-python/1.51").is_none(), "no token: let in");
        let older = refusal(&format!("eclat/0.0.1 eclat-abi/{}", ABI - 1)).unwrap();
        assert_eq!(older.code(), tonic::Code::FailedPrecondition);
        assert!(
            older.message().contains("update the client (eclat)"),
            "{}",
            older.message()
        );
        let newer = refusal(&format!("eclat-abi/{}", ABI + 1)).unwrap();
        assert!(
            newer.message().contains("update the daemon (eclatd)"),
            "{}",
            newer.message()
        );
        assert_eq!(
            refusal("eclat-abi/x").unwrap().code(),
            tonic::Code::InvalidArgument
        );
    }
}
