//! Every bad request gets an error status with a message, changes nothing, and the daemon
//! keeps serving: names with `/`, `..`, spaces or shell metacharacters, oversized fields,
//! unknown names, scripts that do not compile, interfaces that do not exist, a kernel step
//! that fails half-way, map entries of the wrong layout, concurrent loads of one name, and a
//! client that is not root. Needs root.

mod support;

use eclat_proto::v1 as pb;
use support::{count_and_drop, frames, Daemon, Netns};
use tonic::Code;

fn assert_nothing_loaded(d: &Daemon, c: &mut support::Client) {
    let list = c.list();
    assert!(list.scripts.is_empty(), "{:?}", list.scripts);
    assert!(list.programs.is_empty(), "{:?}", list.programs);
    for sub in ["loaders", "progs"] {
        let left: Vec<_> = std::fs::read_dir(d.pin_dir().join(sub)).unwrap().collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

fn err(r: Result<impl std::fmt::Debug, tonic::Status>) -> (Code, String) {
    let e = r.expect_err("the request must fail");
    (e.code(), e.message().to_owned())
}

#[test]
fn bad_names_sizes_and_unknown_things_are_refused_and_change_nothing() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let good = count_and_drop(1);
    for name in [
        "a/b",
        "..",
        "a b",
        "x;rm -rf /",
        "$(id)",
        "-x",
        &"n".repeat(41),
        "é",
    ] {
        let (code, msg) = err(c.load(name, "x.eclat", &good, &[("DEVNAME", "v0")]));
        assert_eq!(code, Code::InvalidArgument, "{name}: {msg}");
        assert!(
            msg.contains("invalid script name") && msg.contains(name),
            "{msg}"
        );
    }
    // A file name is only a label; its stem must still be a valid name.
    let (code, msg) = err(c.load("", "../../etc/pass wd.eclat", &good, &[]));
    assert_eq!(code, Code::InvalidArgument, "{msg}");
    let (code, msg) = err(c.load("", "", &good, &[]));
    assert_eq!(
        (code, msg.as_str()),
        (Code::InvalidArgument, "missing source file name")
    );
    let mut req = pb::LoadRequest {
        name: "sib".into(),
        source: Some(pb::Source {
            file_name: "sib.eclat".into(),
            text: good.clone(),
            siblings: [("../evil.eclat".to_string(), String::new())].into(),
        }),
        defines: Vec::new(),
        loader: String::new(),
        priority: None,
        proceed_on: None,
        tc_placement: None,
    };
    let (code, msg) = err(c.load_req(req.clone()));
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("sibling file name `../evil.eclat`"), "{msg}");
    req.source.as_mut().unwrap().siblings.clear();
    req.source.as_mut().unwrap().text = "#".repeat(2 << 20);
    let (code, msg) = err(c.load_req(req));
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("over the limit"), "{msg}");
    let (code, msg) = err(c.load("d", "d.eclat", &good, &[("A-B", "1")]));
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("invalid definition `A-B=1`"), "{msg}");

    let (code, msg) = err(c.unload("nope"));
    assert_eq!(code, Code::NotFound);
    assert!(msg.contains("no script `nope`"), "{msg}");
    assert_eq!(err(c.dump("nope", "monitor.monitor_map")).0, Code::NotFound);
    assert_eq!(err(c.stats("nope")).0, Code::NotFound);
    assert_eq!(err(c.unload("")).0, Code::InvalidArgument);
    assert_nothing_loaded(&d, &mut c);
}

#[test]
fn a_script_that_does_not_compile_gets_its_diagnostics() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let bad = count_and_drop(1).replace("monitor(1)", "monitr(1)");
    let (code, msg) = err(c.load("", "scripts/bad.eclat", &bad, &[("DEVNAME", "v0")]));
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("scripts/bad.eclat:8:5: error:"), "{msg}");
    assert!(msg.contains("monitr"), "{msg}");
    let reply = c
        .check(pb::CheckRequest {
            source: Some(pb::Source {
                file_name: "bad.eclat".into(),
                text: bad,
                siblings: Default::default(),
            }),
            defines: Vec::new(),
        })
        .expect("check");
    assert!(!reply.ok);
    assert!(
        reply.diagnostics.contains("bad.eclat:8:5: error:"),
        "{}",
        reply.diagnostics
    );
    assert_nothing_loaded(&d, &mut c);
}

#[test]
fn a_missing_interface_or_a_failing_attach_leaves_the_system_as_before() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let (code, msg) = err(c.load(
        "m",
        "m.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "nosuch0")],
    ));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(
        msg.contains("interface `nosuch0`, which does not exist"),
        "{msg}"
    );
    assert_nothing_loaded(&d, &mut c);
    // The loopback has no native XDP: the last kernel step fails after programs, chains and
    // the loader were loaded; all of it is undone.
    let (code, msg) = err(c.load("m", "m.eclat", &count_and_drop(1), &[("DEVNAME", "lo")]));
    assert_eq!(code, Code::Aborted, "{msg}");
    assert!(
        msg.contains("attach to interface `lo`") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_nothing_loaded(&d, &mut c);
    // A failed replace keeps the old version running.
    c.load("m", "m.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    let before = c.list();
    let (code, _) = err(c.load("m", "m.eclat", &count_and_drop(2), &[("DEVNAME", "lo")]));
    assert_eq!(code, Code::Aborted);
    let after = c.list();
    assert_eq!(before.scripts, after.scripts);
    assert_eq!(
        ns.xdp_prog("v0"),
        after.scripts[0].loader.as_ref().unwrap().kernel_id
    );
    ns.send("v1", &frames("fc00::1", "fc00::2", 5));
    assert_eq!(c.monitor("m").get(&1), Some(&5));
    // Another script on the interface runs after it (equal priorities: name order).
    c.load("other", "o.eclat", &count_and_drop(3), &[("DEVNAME", "v0")])
        .expect("a second script on the hook");
    assert_eq!(c.list().hooks[0].scripts, ["m", "other"]);
    // A bad proceed-on set is refused before anything is done.
    let mut req = c.load_request("x", "x.eclat", &count_and_drop(4), &[("DEVNAME", "v0")]);
    req.proceed_on = Some("pass,maybe".into());
    let (code, msg) = err(c.load_req(req));
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        msg.contains("`maybe` is no verdict") && msg.contains("aborted, drop, pass, tx, redirect"),
        "{msg}"
    );
}

#[test]
fn map_entries_are_typed_by_the_maps_layout() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("m", "m.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    let set = c
        .set("m", "monitor.monitor_map", "7", r#"{"packets": 41}"#)
        .expect("set");
    assert_eq!(set.map, "monitor.monitor_map");
    let got = c.get("m", "monitor.monitor_map", "7").expect("get");
    let e = got.entry.expect("present");
    assert_eq!(
        (e.key.as_str(), e.value.as_str()),
        ("7", r#"{"packets":41}"#)
    );
    assert!(c
        .get("m", "monitor.monitor_map", "8")
        .unwrap()
        .entry
        .is_none());
    let (code, msg) = err(c.set(
        "m",
        "monitor.monitor_map",
        "\"fc00::1\"",
        r#"{"packets": 1}"#,
    ));
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        msg.contains("the key is `__u64` (8 bytes), written as a number"),
        "the expected layout is named: {msg}"
    );
    let (code, msg) = err(c.set("m", "monitor.monitor_map", "two words", r#"{"packets": 1}"#));
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("with 1 field, found 2"), "{msg}");
    let (code, msg) = err(c.set("m", "monitor.monitor_map", "(1, 2", r#"{"packets": 1}"#));
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        msg.contains("the key `(1, 2` cannot be read (a `(` without its `)`); the key is `__u64`"),
        "{msg}"
    );
    let (code, msg) = err(c.set(
        "m",
        "monitor.monitor_map",
        "1",
        r#"{"packets": 1, "bytes": 2}"#,
    ));
    assert_eq!(code, Code::InvalidArgument, "{msg}");
    assert!(msg.contains("no field `bytes`"), "{msg}");
    let (code, msg) = err(c.dump("m", "monitor.nope"));
    assert_eq!(code, Code::NotFound);
    assert!(
        msg.contains("monitor.monitor_map"),
        "the available maps are listed: {msg}"
    );
    // The loader's classifier map, chain names decoded.
    let dump = c.dump("m", "ip6_sc.ip6_sc_map").expect("loader map");
    assert_eq!(dump.entries.len(), 1);
    assert_eq!(dump.entries[0].value, "\"count_drop\"");
}

#[test]
fn concurrent_loads_of_one_name_end_in_one_consistent_script() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    std::thread::scope(|s| {
        for t in 0..4 {
            let d = &d;
            s.spawn(move || {
                let mut c = d.client();
                for _ in 0..3 {
                    c.load(
                        "same",
                        "same.eclat",
                        &count_and_drop(t),
                        &[("DEVNAME", "v0")],
                    )
                    .expect("every load succeeds (they are serialised)");
                }
            });
        }
    });
    let mut c = d.client();
    let list = c.list();
    assert_eq!(list.scripts.len(), 1);
    assert_eq!(list.scripts[0].generation, 12);
    let loaders: Vec<_> = std::fs::read_dir(d.pin_dir().join("loaders"))
        .unwrap()
        .collect();
    assert_eq!(loaders.len(), 1);
    assert_eq!(list.programs.len(), 2);
}

/// Run as a child process by `a_non_root_client_is_refused`, as user nobody.
#[test]
#[ignore = "run by a_non_root_client_is_refused as another user"]
fn child_non_root_client() {
    let Ok(socket) = std::env::var("ECLATD_TEST_SOCKET") else {
        return;
    };
    match support::Client::try_connect(std::path::Path::new(&socket)) {
        Err(_) => std::process::exit(10), // refused at connect
        Ok(mut c) => match c.try_list() {
            Err(_) => std::process::exit(11), // connection closed by the daemon
            Ok(_) => std::process::exit(12),
        },
    }
}

#[test]
fn a_non_root_client_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let d = Daemon::start(None);
    let child = |socket: &std::path::Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_non_root_client",
                "--nocapture",
            ])
            .env("ECLATD_TEST_SOCKET", socket)
            .uid(65534)
            .gid(65534)
            .status()
            .unwrap()
            .code()
    };
    // The socket file is owner-only.
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::set_permissions(&d.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        child(&d.socket),
        Some(10),
        "connect refused by the file mode"
    );
    // Even with the file opened to everyone, the daemon checks the peer's uid.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The client fails at its HTTP/2 handshake (10) or at its first call (11), depending on
    // when the daemon's close reaches it; either way the daemon logged the refusal.
    let code = child(&d.socket);
    assert!(
        matches!(code, Some(10 | 11)),
        "refused by the daemon: {code:?}"
    );
    assert!(
        d.wait_for_log("refused a connection from uid Some(65534)"),
        "the daemon logs the refusal:\n{}",
        d.log.lock().unwrap()
    );
    // Root still gets in.
    assert!(d.client().list().scripts.is_empty());
}
