//! The daemon subcommands (`load`, `unload`, `list`, `map`, `stats`, `events`) where no
//! daemon answers: exit 3 with a message that names the socket and the fix, for a missing
//! socket, one nobody listens on and one this user may not open; usage errors (exit 2) are
//! found before any connection; `check`, `compile` and `run` never need the daemon.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};

use support::{eclat, eclat_env, repo, text, TempDir};

/// A script that compiles, written by [`with_socket`] into the directory it runs in (the
/// examples of the repository change with the language; these tests are about the client).
const SCRIPT: &str = "ddos.eclat";
const SCRIPT_TEXT: &str = "\
from programs.hike_default import hike_pass

def ddos():
    hike_pass()
    return 0
";

/// Every daemon subcommand, with arguments that parse.
fn daemon_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["load", SCRIPT, "-D", "DEVNAME=veth0"],
        vec!["unload", "ddos"],
        vec!["list"],
        vec!["map", "dump", "ddos", "monitor.monitor_map"],
        vec!["map", "get", "ddos", "monitor.monitor_map", "0"],
        vec![
            "map",
            "set",
            "ddos",
            "monitor.monitor_map",
            "0",
            "{\"packets\":1}",
        ],
        vec!["map", "delete", "ddos", "m.m", "fc00::1,fc00::2"],
        vec!["map", "clear", "ddos", "monitor.monitor_map"],
        vec!["stats"],
        vec!["stats", "ddos", "--json"],
        vec!["stats", "ddos", "--reset"],
        vec!["events", "--count", "1"],
    ]
}

/// `eclat --socket SOCKET ARGS` in a directory holding [`SCRIPT`].
fn with_socket(socket: &Path, args: &[&str]) -> Output {
    let dir = TempDir::new("script");
    dir.write(SCRIPT, SCRIPT_TEXT);
    let mut all = vec!["--socket", socket.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    eclat(&all, dir.path())
}

fn assert_unreachable(out: &Output, socket: &Path, reason: &str, args: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert_eq!(text(&out.stdout), "", "{args:?}");
    assert_eq!(
        stderr,
        format!(
            "eclat: error: cannot reach eclatd at {}: {reason}; is the daemon running? Start it \
             with `eclatd`, or point --socket / ECLAT_SOCKET at its socket\n",
            socket.display()
        ),
        "{args:?}"
    );
}

#[test]
fn a_missing_socket_exits_3_and_names_it() {
    let dir = TempDir::new("no-socket");
    let socket = dir.path().join("eclatd.sock");
    for args in daemon_commands() {
        let out = with_socket(&socket, &args);
        assert_unreachable(&out, &socket, "No such file or directory", &args);
    }
}

#[test]
fn the_socket_comes_from_the_environment_or_after_the_subcommand() {
    let dir = TempDir::new("env-socket");
    let socket = dir.path().join("from-env.sock");
    let path = socket.to_str().expect("a UTF-8 path");
    let out = eclat_env(&["list"], &repo(), &[("ECLAT_SOCKET", path)]);
    assert_unreachable(&out, &socket, "No such file or directory", &["list"]);
    // `--socket` is global: it may follow the subcommand, and wins over the environment.
    let other = dir.path().join("from-option.sock");
    let out = eclat_env(
        &["stats", "--socket", other.to_str().expect("a UTF-8 path")],
        &repo(),
        &[("ECLAT_SOCKET", path)],
    );
    assert_unreachable(&out, &other, "No such file or directory", &["stats"]);
}

#[test]
fn a_socket_nobody_listens_on_exits_3() {
    let dir = TempDir::new("refused");
    // A regular file, and a socket whose listener is gone: both refuse the connection.
    let file = dir.write("not-a-socket", "");
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).expect("a socket"));
    for socket in [file, stale] {
        for args in [vec!["list"], vec!["unload", "ddos"]] {
            let out = with_socket(&socket, &args);
            assert_unreachable(&out, &socket, "Connection refused", &args);
        }
    }
}

#[test]
fn a_listener_that_hangs_up_exits_3() {
    let dir = TempDir::new("hangs-up");
    let socket = dir.path().join("eclatd.sock");
    let listener = UnixListener::bind(&socket).expect("a socket");
    // Accepts every connection and closes it at once: not a gRPC server. It keeps listening
    // until the client is done, because the client may connect again after the first hang-up
    // (with the listener gone, the second attempt would be refused instead).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let done = done.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
            }
        })
    };
    let out = with_socket(&socket, &["list"]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    // Wakes the listener's accept so that it sees `done`.
    drop(std::os::unix::net::UnixStream::connect(&socket));
    server.join().expect("the listener thread");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "eclat: error: the connection to eclatd at {} failed: ",
            socket.display()
        )),
        "{stderr}"
    );
}

/// The socket belongs to root and has mode 000. Run as root, this test runs `eclat` as
/// `nobody` (root may open any socket), through `setpriv`.
#[test]
fn a_socket_this_user_may_not_open_exits_3_root_drops_to_nobody() {
    let dir = TempDir::new("denied");
    let socket = dir.path().join("eclatd.sock");
    let _listener = UnixListener::bind(&socket).expect("a socket");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000))
        .expect("chmod the socket");
    // Whoever runs the test owns the socket: root, or this user (who, without root, is
    // refused by mode 000 all the same).
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let owner = if euid == 0 {
        "root".to_owned()
    } else {
        format!("uid {euid}")
    };
    let bin = env!("CARGO_BIN_EXE_eclat");
    let socket_arg = socket.to_str().expect("a UTF-8 path");
    let mut cmd = if euid == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["--socket", socket_arg, "list"])
        .current_dir(dir.path())
        .output()
        .expect("eclat runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "eclat: error: cannot talk to eclatd at {socket_arg}: permission denied; only \
             {owner} (the socket's owner) may talk to eclatd: run eclat as {owner}, e.g. with \
             sudo\n"
        )
    );
}

#[test]
fn usage_errors_exit_2_before_any_connection() {
    let dir = TempDir::new("usage");
    let socket = dir.path().join("eclatd.sock");
    for args in [
        vec!["load", SCRIPT, "-D", "NOVALUE"],
        vec!["load", SCRIPT, "-D", "1X=2"],
        vec!["map", "get", "ddos", "ip6_sc.ipv6_sc_map"],
        vec!["map", "set", "ddos", "ip6_sc.ipv6_sc_map", "0"],
        vec!["map", "delete", "ddos", "ip6_sc.ipv6_sc_map"],
        vec!["map", "clear", "ddos"],
        vec!["map", "dump", "ddos"],
        vec!["events", "--count", "0"],
        vec!["unload"],
    ] {
        let out = with_socket(&socket, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        assert!(
            !stderr.contains("cannot reach eclatd"),
            "{args:?}: {stderr}"
        );
    }
    let out = with_socket(&socket, &["load", SCRIPT, "-D", "NOVALUE"]);
    assert_eq!(
        text(&out.stderr),
        "eclat: error: -D NOVALUE: `NOVALUE` is not `NAME=VALUE`\n"
    );
}

#[test]
fn a_script_that_cannot_be_read_exits_1_before_any_connection() {
    let dir = TempDir::new("unreadable");
    let socket = dir.path().join("eclatd.sock");
    let out = with_socket(&socket, &["load", "no-such.eclat"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "eclat: error: cannot read `no-such.eclat`: No such file or directory (os error 2)\n"
    );
}

#[test]
fn check_and_compile_need_no_daemon() {
    let dir = TempDir::new("offline");
    let socket = dir.path().join("eclatd.sock");
    let out = with_socket(&socket, &["check", SCRIPT]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = with_socket(&socket, &["compile", SCRIPT]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn help_documents_the_exit_statuses_and_the_socket() {
    let out = eclat(&["--help"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for line in [
        "Exit status:",
        "  0  ok",
        "  1  refused by the daemon, or a script with errors",
        "  2  a bad command line",
        "  3  eclatd cannot be reached",
        "--socket <PATH>",
        "[env: ECLAT_SOCKET=",
        "[default: /run/eclat/eclatd.sock]",
    ] {
        assert!(help.contains(line), "{line:?} not in\n{help}");
    }
}
