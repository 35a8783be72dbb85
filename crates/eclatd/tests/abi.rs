//! The VM ABI check, end to end: a client announcing another ABI in its user agent
//! (`eclat-abi/N`) is refused with a message naming the side to update; one announcing none
//! (here grpc-python, installed by `make deps`) or the daemon's own is served. Needs root.

mod support;

use support::{Daemon, Netns};

/// `List` through grpc-python with `agent` as the primary user agent (none if empty):
/// `OK`, or `CODE: details`.
fn list_as(d: &Daemon, agent: &str) -> String {
    let client = r#"
import sys, grpc
options = [("grpc.primary_user_agent", sys.argv[2])] if sys.argv[2] else []
channel = grpc.insecure_channel("unix:" + sys.argv[1], options=options)
call = channel.unary_unary("/eclat.v1.Eclat/List",
    request_serializer=lambda m: m, response_deserializer=lambda b: b)
try:
    call(b"", timeout=20)
    print("OK")
except grpc.RpcError as e:
    print(f"{e.code().name}: {e.details()}")
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(client)
        .arg(&d.socket)
        .arg(agent)
        .output()
        .expect("run /usr/bin/python3 (make deps installs python3-grpcio)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_client_of_another_abi_is_refused_and_told_which_side_to_update() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let abi = eclat_proto::version::ABI;
    assert_eq!(list_as(&d, ""), "OK");
    assert_eq!(list_as(&d, &format!("eclat/0.1.0 eclat-abi/{abi}")), "OK");
    let newer = list_as(&d, &format!("eclat/9.0.0 eclat-abi/{}", abi + 1));
    assert_eq!(
        newer,
        format!(
            "FAILED_PRECONDITION: this client speaks HIKe VM ABI {} but eclatd speaks ABI {abi} \
             ({}): update the daemon (eclatd) to the client's version",
            abi + 1,
            eclat_proto::version::line()
        )
    );
    let older = list_as(&d, &format!("eclat/0.0.1 eclat-abi/{}", abi - 1));
    assert!(
        older.starts_with("FAILED_PRECONDITION: ")
            && older.ends_with("update the client (eclat) to the daemon's version"),
        "{older}"
    );
    // The refusals are logged.
    assert!(
        d.wait_for_log("refused operation=\"connect\""),
        "{}",
        d.log.lock().unwrap()
    );
}
