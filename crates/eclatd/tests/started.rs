//! However eclatd is started, its pins outlive it, and it trusts nothing others can write:
//! started plainly, under `ip netns exec` (a private mount namespace without the host's
//! bpffs) and under `nsenter --net`, a script survives `kill -9` and the restarted daemon
//! adopts it; a second daemon on one instance is refused naming the first; state and socket
//! directories others can write are refused; `--socket` never removes what is not a socket.
//! Needs root.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{count_and_drop, frames, send_raw, unique, Daemon, Launch, Netns};

/// Loads a counting script on `dev`, sends 3 frames from `send`, kills the daemon, sends 4
/// more (the data plane does not need the daemon), restarts it and checks that it adopted
/// the script with the 7 frames counted (the same pinned maps), then unloads.
fn survives_kill_9(
    d: &mut Daemon,
    dev: &str,
    send: &dyn Fn(usize) -> usize,
    xdp: &dyn Fn() -> u32,
) {
    let mut c = d.client();
    let r = c
        .load(
            "kept",
            "kept.eclat",
            &count_and_drop(5),
            &[("DEVNAME", dev)],
        )
        .unwrap_or_else(|e| panic!("load: {e}\n{}", d.log.lock().unwrap()));
    let kernel_id = r.script.unwrap().loader.unwrap().kernel_id;
    assert_eq!(xdp(), kernel_id);
    assert_eq!(send(3), 3);
    assert_eq!(c.monitor("kept").get(&5), Some(&3));
    drop(c);
    d.kill9();
    assert_eq!(xdp(), kernel_id, "the interface still runs the script");
    assert_eq!(send(4), 4);
    d.log.lock().unwrap().clear();
    d.spawn();
    let mut c = d.client();
    let list = c.list();
    assert_eq!(list.scripts.len(), 1, "{}", d.log.lock().unwrap());
    assert_eq!(list.scripts[0].name, "kept");
    assert!(list.scripts[0].loader.as_ref().unwrap().attachments[0].present);
    assert_eq!(
        c.monitor("kept").get(&5),
        Some(&7),
        "the restarted daemon reads the same maps: {}",
        d.log.lock().unwrap()
    );
    c.unload("kept").expect("unload");
    assert_eq!(xdp(), 0);
}

fn in_netns(launch: Launch) {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    d.launch = launch;
    d.spawn();
    let send = |n| ns.send("v1", &frames("fc00::1", "fc00::2", n));
    let xdp = || ns.xdp_prog("v0");
    survives_kill_9(&mut d, "v0", &send, &xdp);
    // The pins are in the host's bpffs, where this test (in the host's mount namespace)
    // sees them.
    assert!(d.pin_dir().join("hike_chains").exists(), "{launch:?}");
    if launch == Launch::IpNetnsExec {
        assert!(
            d.wait_for_log("entered the host's mount namespace"),
            "{}",
            d.log.lock().unwrap()
        );
    }
}

#[test]
fn started_with_ip_netns_exec_the_daemon_keeps_its_pins_in_the_hosts_bpffs() {
    in_netns(Launch::IpNetnsExec);
}

#[test]
fn started_with_nsenter_the_daemon_survives_kill_9() {
    in_netns(Launch::Nsenter);
}

/// A veth pair in the test's own (host) network namespace, deleted on drop.
struct HostPair {
    a: String,
    b: String,
}

impl HostPair {
    fn new() -> HostPair {
        let tag = unique("");
        let (a, b) = (format!("ep{tag}a"), format!("ep{tag}b"));
        assert!(a.len() <= 15, "{a}");
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?}");
        };
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        let pair = HostPair { a, b };
        for dev in [&pair.a, &pair.b] {
            // No IPv6 on the pair: the kernel's own packets would be counted.
            std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1").unwrap();
            ip(&["link", "set", dev, "up"]);
        }
        pair
    }

    fn ifindex(dev: &str) -> u32 {
        let c = std::ffi::CString::new(dev).unwrap();
        // SAFETY: a valid NUL-terminated name.
        unsafe { libc::if_nametoindex(c.as_ptr()) }
    }
}

impl Drop for HostPair {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.a])
            .status();
    }
}

#[test]
fn started_plainly_the_daemon_survives_kill_9() {
    let pair = HostPair::new();
    let mut d = Daemon::new(None);
    d.spawn();
    let b = HostPair::ifindex(&pair.b);
    let a = HostPair::ifindex(&pair.a);
    let send = |n| send_raw(b, &frames("fc00::1", "fc00::2", n));
    let xdp = || hike_runtime::attached_xdp_program(a).expect("query xdp");
    survives_kill_9(&mut d, &pair.a, &send, &xdp);
}

#[test]
fn a_second_daemon_on_one_instance_is_refused_naming_the_first() {
    let ns = Netns::new();
    let first = Daemon::start(Some(&ns));
    let mut second = Daemon::new(Some(&ns));
    second.instance = first.instance.clone();
    second.socket = second.dir.join("second.sock");
    assert!(
        !second.try_spawn(),
        "the second daemon must refuse to start"
    );
    let log = second.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!("vm instance `{}`", first.instance))
            && log.contains(&format!("in use by another process (pid {})", first.pid())),
        "{log}"
    );
    // The second one's drop must not remove the first one's pins: it never owned them.
    second.instance = unique("t");
    drop(second);
    let mut c = first.client();
    c.load("one", "one.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("the first daemon works on");
}

#[test]
fn directories_others_can_write_are_refused_at_start() {
    let ns = Netns::new();
    // A state directory writable by everyone.
    let mut d = Daemon::new(Some(&ns));
    std::fs::create_dir_all(d.state_dir()).unwrap();
    std::fs::set_permissions(d.state_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(
        log.contains("the state directory")
            && log.contains("is writable by its group and others (mode 0777)")
            && log.contains("chmod go-w"),
        "{log}"
    );
    // A socket directory owned by another user.
    std::fs::set_permissions(d.state_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let sockets = d.dir.join("sockets");
    std::fs::create_dir(&sockets).unwrap();
    std::os::unix::fs::chown(&sockets, Some(65534), Some(65534)).unwrap();
    d.socket = sockets.join("eclatd.sock");
    d.log.lock().unwrap().clear();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(
        log.contains("the socket directory") && log.contains("is owned by uid 65534"),
        "{log}"
    );
}

#[test]
fn a_socket_path_that_is_a_regular_file_is_refused_and_kept() {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    std::fs::write(&d.socket, "precious").unwrap();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(log.contains("exists and is not a socket"), "{log}");
    assert_eq!(std::fs::read_to_string(&d.socket).unwrap(), "precious");
}

#[test]
fn a_planted_link_in_the_state_directory_is_not_followed() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let target = d.dir.join("target");
    std::fs::write(&target, "precious").unwrap();
    // Root (the only one who can write there) plants a link where the next save writes.
    std::os::unix::fs::symlink(&target, d.state_dir().join("state.json.tmp")).unwrap();
    let mut c = d.client();
    c.load("l", "l.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    drop(c);
    d.stop();
    // A state file that is a link is refused, not followed.
    let state = d.state_dir().join("state.json");
    std::fs::rename(&state, d.dir.join("real-state.json")).unwrap();
    std::os::unix::fs::symlink(d.dir.join("real-state.json"), &state).unwrap();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(log.contains("cannot read the state file"), "{log}");
}

#[test]
fn client_files_and_build_products_stay_in_the_daemons_private_directory() {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    // A clang that notes where it is asked to work, then is the real one.
    let log = d.dir.join("clang.log");
    let wrapper = d.dir.join("clang-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n\
             prev=''\n\
             for a in \"$@\"; do [ \"$prev\" = -o ] && echo \"out=$a tmpdir=$TMPDIR\" >> {log}; prev=\"$a\"; done\n\
             for c in clang-19 clang-20 clang-18 clang; do command -v $c >/dev/null && exec $c \"$@\"; done\n\
             exit 127\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    d.extra_env
        .push(("HIKE_CLANG".into(), wrapper.display().to_string()));
    d.spawn();
    let mut c = d.client();
    let script = "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc
from chains.helpers import count_c

ip6_sc[ip6_sc_map] = { (0): (main) }
ip6_sc.attach('DEVNAME', 'xdp')

def main():
    count_c(9)
    return 0
";
    let helpers = "\
#include <hike/chain.h>
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN(hike_drop, 0);
HIKE_CHAIN(count_c, event)
{
\tmonitor(event);
\thike_drop();
\treturn 0;
}
";
    let req = eclat_proto::v1::LoadRequest {
        name: "withc".into(),
        source: Some(eclat_proto::v1::Source {
            file_name: "withc.eclat".into(),
            text: script.into(),
            siblings: [("helpers.hike.c".to_string(), helpers.to_string())].into(),
        }),
        defines: vec![eclat_proto::v1::Define {
            name: "DEVNAME".into(),
            value: "v0".into(),
        }],
        loader: String::new(),
        priority: None,
        proceed_on: None,
        tc_placement: None,
    };
    c.load_req(req)
        .unwrap_or_else(|e| panic!("load: {e}\n{}", d.log.lock().unwrap()));
    ns.send("v1", &frames("fc00::1", "fc00::2", 2));
    assert_eq!(c.monitor("withc").get(&9), Some(&2));
    let noted = std::fs::read_to_string(&log).expect("clang ran through the wrapper");
    let work = d.state_dir().join("work");
    for line in noted.lines() {
        let (out, tmpdir) = line
            .strip_prefix("out=")
            .and_then(|l| l.split_once(" tmpdir="))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            std::path::Path::new(out).starts_with(&work),
            "clang wrote {out}, outside {}",
            work.display()
        );
        assert!(std::path::Path::new(tmpdir).starts_with(&work), "{line}");
    }
    let mode = std::fs::metadata(&work).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the working directory is the daemon's alone");
}
