//! End-to-end tests of eclatd in network namespaces: load, traffic, counters, replace under
//! traffic, unload, kill -9 and restart. Needs root.

mod support;

use support::{count_and_drop, frames, Daemon, Netns};

#[test]
fn load_counts_traffic_and_unload_leaves_nothing() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let reply = c
        .load(
            "",
            "dir/cnt.eclat",
            &count_and_drop(1),
            &[("DEVNAME", "v0")],
        )
        .expect("load");
    let script = reply.script.unwrap();
    assert_eq!(script.name, "cnt");
    assert_eq!(script.generation, 1);
    assert!(!reply.replaced);
    let loader = script.loader.unwrap();
    assert_eq!(loader.attachments.len(), 1);
    assert_eq!(loader.attachments[0].device, "v0");
    assert_eq!(ns.xdp_prog("v0"), loader.kernel_id);

    let sent = ns.send("v1", &frames("fc00::1", "fc00::2", 100));
    assert_eq!(sent, 100);
    assert_eq!(c.monitor("cnt").get(&1), Some(&100));
    let stats = c.stats("cnt").unwrap();
    let chain = &stats.scripts[0].chains[0];
    assert_eq!((chain.name.as_str(), chain.runs), ("count_drop", 100));
    let calls: Vec<(String, u64)> = stats.scripts[0]
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.calls))
        .collect();
    assert!(calls.contains(&("monitor".into(), 100)), "{calls:?}");
    assert!(calls.contains(&("hike_drop".into(), 100)), "{calls:?}");

    let list = c.list();
    assert_eq!(list.scripts.len(), 1);
    assert_eq!(list.programs.len(), 2);
    assert!(list
        .programs
        .iter()
        .all(|p| p.used_by == vec!["cnt".to_string()]));

    c.unload("cnt").expect("unload");
    assert_eq!(ns.xdp_prog("v0"), 0, "the loader is detached");
    let list = c.list();
    assert!(list.scripts.is_empty() && list.programs.is_empty());
    for sub in ["loaders", "progs"] {
        let left: Vec<_> = std::fs::read_dir(d.pin_dir().join(sub)).unwrap().collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    let state = std::fs::read_to_string(d.state_dir().join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["scripts"], serde_json::json!([]));
}

#[test]
fn replace_under_traffic_loses_no_packet() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load(
        "swap",
        "swap.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "v0")],
    )
    .expect("load");
    let dropped_before = ns.stat("v0", "rx_dropped");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let batch = frames("fc00::1", "fc00::2", 200);
    let (sent, replaced) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += ns.send("v1", &batch);
            }
            // A last batch after the final replace.
            sent + ns.send("v1", &batch)
        });
        let mut replaced = 0;
        for i in 0..6 {
            let r = c
                .load(
                    "swap",
                    "swap.eclat",
                    &count_and_drop(2 + i % 2),
                    &[("DEVNAME", "v0")],
                )
                .expect("replace");
            assert!(r.replaced);
            assert_eq!(r.script.unwrap().generation, 2 + i as u64);
            replaced += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (sender.join().unwrap(), replaced)
    });
    assert_eq!(replaced, 6);
    let counts = c.monitor("swap");
    let total: u64 = counts.values().sum();
    assert_eq!(
        ns.stat("v0", "rx_dropped") - dropped_before,
        0,
        "the veth dropped frames before XDP"
    );
    assert_eq!(
        total, sent as u64,
        "every frame sent was counted once: {counts:?}"
    );
    assert!(counts.get(&1).copied().unwrap_or(0) > 0, "{counts:?}");
    assert!(counts.get(&2).copied().unwrap_or(0) + counts.get(&3).copied().unwrap_or(0) > 0);
    // Only the last version is left.
    let loaders: Vec<_> = std::fs::read_dir(d.pin_dir().join("loaders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(loaders, vec!["swap-g7".to_string()]);
    let list = c.list();
    assert_eq!(list.scripts[0].chains.len(), 1);
    assert_eq!(
        ns.xdp_prog("v0"),
        list.scripts[0].loader.as_ref().unwrap().kernel_id
    );
}

#[test]
fn kill_9_keeps_traffic_flowing_and_a_restart_adopts_everything() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("k9", "k9.eclat", &count_and_drop(4), &[("DEVNAME", "v0")])
        .expect("load");
    let kernel_id = c.list().scripts[0].loader.as_ref().unwrap().kernel_id;
    drop(c);
    d.kill9();
    // Nobody manages it now: the pins keep it loaded and attached.
    assert_eq!(ns.xdp_prog("v0"), kernel_id);
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 30)), 30);

    d.spawn();
    let mut c = d.client();
    let list = c.list();
    assert_eq!(list.scripts.len(), 1);
    assert_eq!(list.scripts[0].name, "k9");
    assert_eq!(
        list.scripts[0].loader.as_ref().unwrap().kernel_id,
        kernel_id
    );
    assert_eq!(c.monitor("k9").get(&4), Some(&30));
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 20)), 20);
    assert_eq!(c.stats("k9").unwrap().scripts[0].chains[0].runs, 50);
    // Replace and unload work on the adopted script.
    let r = c
        .load("k9", "k9.eclat", &count_and_drop(5), &[("DEVNAME", "v0")])
        .expect("replace after restart");
    assert_eq!(r.script.unwrap().generation, 2);
    c.unload("k9").expect("unload after restart");
    assert_eq!(ns.xdp_prog("v0"), 0);
}

#[test]
fn programs_shared_by_two_scripts_are_counted_by_reference() {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("a", "a.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load a");
    c.load("b", "b.eclat", &count_and_drop(2), &[("DEVNAME", "w0")])
        .expect("load b");
    let list = c.list();
    assert_eq!(
        list.programs.len(),
        2,
        "monitor and hike_drop are loaded once"
    );
    for p in &list.programs {
        assert_eq!(p.used_by, vec!["a".to_string(), "b".to_string()]);
    }
    ns.send("v1", &frames("fc00::1", "fc00::2", 7));
    ns.send("w1", &frames("fc00::1", "fc00::2", 9));
    // One monitor program: both scripts see the same map.
    let counts = c.monitor("a");
    assert_eq!((counts.get(&1), counts.get(&2)), (Some(&7), Some(&9)));
    c.unload("a").expect("unload a");
    let list = c.list();
    assert_eq!(list.programs.len(), 2, "b still uses them");
    assert_eq!(ns.send("w1", &frames("fc00::1", "fc00::2", 1)), 1);
    assert_eq!(c.monitor("b").get(&2), Some(&10));
    c.unload("b").expect("unload b");
    assert!(c.list().programs.is_empty());
    assert_eq!((ns.xdp_prog("v0"), ns.xdp_prog("w0")), (0, 0));
}

#[test]
fn events_of_show_pkt_info_reach_a_subscribed_client() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let script = "\
from programs.net import hike_drop
from programs.info import show_pkt_info
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (show) }
ip6_sc.attach('DEVNAME', 'xdp')

def show():
    show_pkt_info(7, 42)
    hike_drop()
    return 0
";
    c.load("ev", "ev.eclat", script, &[("DEVNAME", "v0")])
        .expect("load");
    let mut events = c.subscribe("ev");
    // Subscribed once the call returned: the packet's events are ours.
    let before = monotonic_ns();
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 1)), 1);
    let mut texts = Vec::new();
    while texts.len() < 5 {
        let ev = c.next_event(&mut events).expect("an event");
        assert_eq!((ev.script.as_str(), ev.chain.as_str()), ("ev", "show"));
        assert_eq!(ev.program, "show_pkt_info");
        // Stamped when the packet went through: the kernel's CLOCK_MONOTONIC.
        assert!(
            (before..=monotonic_ns()).contains(&ev.ts_ns),
            "{before} <= {}",
            ev.ts_ns
        );
        texts.push(ev.text);
    }
    let all = texts.join("\n");
    assert!(all.contains("packet: user_info 42"), "{all}");
    assert!(all.contains("ipv6 src fc00::1"), "{all}");
    assert!(all.contains("ipv6 dst fc00::2"), "{all}");
    assert!(all.contains("l4 proto 17"), "{all}");
}

/// `CLOCK_MONOTONIC` now, in ns: the clock of `bpf_ktime_get_ns()`, which stamps events.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    assert_eq!(
        // SAFETY: clock_gettime writes the timespec it is given, which lives for the call.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The script of [`a_changed_package_runs_its_new_build_in_scripts_loaded_after_the_change`]:
/// counts packets under the value `pkgver()` returns, then drops them.
const COUNT_VERSION: &str = "\
from programs.tver import pkgver
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (count_version) }
ip6_sc.attach('DEVNAME', 'xdp')

def count_version():
    monitor(pkgver())
    hike_drop()
    return 0
";

/// The user package `tver`: `pkgver()` returns `version`; `pkgver_map` is there to be dumped.
fn write_pkgver(pkgs: &std::path::Path, version: u32) {
    let dir = pkgs.join("tver");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pkgver.bpf.c"),
        format!(
            "// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <hike/sdk.h>

struct {{
\t__uint(type, BPF_MAP_TYPE_ARRAY);
\t__uint(max_entries, 1);
\t__type(key, __u32);
\t__type(value, __u64);
}} pkgver_map SEC(\".maps\");

HIKE_PROG(pkgver)
{{
\tHIKE_RETURN({version});
}}

char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
"
        ),
    )
    .unwrap();
}

/// A package whose source changes under a running script: the daemon reads its packages
/// again at the next load, keeps the running script on the build it was loaded with (also
/// across a restart), loads the new build in a slot of its own for a script loaded after the
/// change, and moves the first script to it when that script is loaded again. A program is
/// shared only with the same build.
#[test]
fn a_changed_package_runs_its_new_build_in_scripts_loaded_after_the_change() {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let mut d = Daemon::new(Some(&ns));
    let pkgs = d.dir.join("pkgs");
    write_pkgver(&pkgs, 1);
    d.extra_args = vec!["--package-dir".into(), pkgs.display().to_string()];
    d.extra_env = vec![(
        "ECLAT_CACHE_DIR".into(),
        d.dir.join("cache").display().to_string(),
    )];
    d.spawn();
    let mut c = d.client();
    c.load("a", "a.eclat", COUNT_VERSION, &[("DEVNAME", "v0")])
        .expect("load a");
    ns.send("v1", &frames("fc00::1", "fc00::2", 5));
    assert_eq!(c.monitor("a").get(&1), Some(&5));

    write_pkgver(&pkgs, 2);
    // `b` gets the new build, beside the old one.
    c.load("b", "b.eclat", COUNT_VERSION, &[("DEVNAME", "w0")])
        .expect("load b");
    ns.send("w1", &frames("fc00::1", "fc00::2", 4));
    let counts = c.monitor("b");
    assert_eq!((counts.get(&1), counts.get(&2)), (Some(&5), Some(&4)));
    let pkgver = |c: &mut support::Client| -> Vec<(u32, Vec<String>)> {
        c.list()
            .programs
            .into_iter()
            .filter(|p| p.name == "pkgver")
            .map(|p| (p.id, p.used_by))
            .collect()
    };
    let two = pkgver(&mut c);
    assert_eq!(two.len(), 2, "{two:?}");
    assert_ne!(two[0].0, two[1].0);
    // `eclat list` tells the two builds apart.
    let builds: Vec<String> = c
        .list()
        .programs
        .into_iter()
        .filter(|p| p.name == "pkgver")
        .map(|p| p.build)
        .collect();
    assert!(builds.iter().all(|b| b.len() == 12), "{builds:?}");
    assert_ne!(builds[0], builds[1]);
    // `a` still runs the build it was loaded with, also after a restart; its program's map
    // layout is the old build's, which the daemon no longer has.
    drop(c);
    d.stop();
    d.spawn();
    let mut c = d.client();
    ns.send("v1", &frames("fc00::1", "fc00::2", 3));
    assert_eq!(c.monitor("a").get(&1), Some(&8));
    assert_eq!(pkgver(&mut c), two);
    let e = c.dump("a", "pkgver.pkgver_map").unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("another build"), "{}", e.message());

    // Loading `a` again moves it to the new build; the old one is removed.
    c.load("a", "a.eclat", COUNT_VERSION, &[("DEVNAME", "v0")])
        .expect("replace a");
    ns.send("v1", &frames("fc00::1", "fc00::2", 2));
    assert_eq!(c.monitor("a").get(&2), Some(&6));
    let one = pkgver(&mut c);
    assert_eq!(one.len(), 1, "{one:?}");
    let mut users = one[0].1.clone();
    users.sort();
    assert_eq!(users, ["a", "b"]);
    c.dump("a", "pkgver.pkgver_map")
        .expect("the map of the build `a` runs");

    // A package that no longer builds: a load of a script that imports it is refused with
    // clang's error at the import, nothing changes; a script that imports only other packages
    // still checks and loads.
    std::fs::write(
        pkgs.join("tver/pkgver.bpf.c"),
        "#include <hike/sdk.h>\nnot C;\n",
    )
    .unwrap();
    let e = c
        .load("a", "a.eclat", COUNT_VERSION, &[("DEVNAME", "v0")])
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("package `tver` does not build"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("pkgver.bpf.c:2:"), "{}", e.message());
    // A check reads the packages again too.
    let check = |c: &mut support::Client, text: &str| {
        c.check(eclat_proto::v1::CheckRequest {
            source: Some(eclat_proto::v1::Source {
                file_name: "a.eclat".into(),
                text: text.into(),
                siblings: Default::default(),
            }),
            defines: Vec::new(),
        })
        .expect("a check")
    };
    let reply = check(&mut c, COUNT_VERSION);
    assert!(!reply.ok, "{reply:?}");
    assert!(
        reply.diagnostics.contains("package `tver` does not build"),
        "{reply:?}"
    );
    let reply = check(
        &mut c,
        "from programs.net import hike_pass\ndef c():\n    hike_pass()\n",
    );
    assert!(reply.ok, "{reply:?}");
    assert_eq!(c.list().scripts.len(), 2);
    assert_eq!(c.monitor("a").get(&2), Some(&6));
    c.unload("a").expect("unload a");
    c.unload("b").expect("unload b");
    assert!(c.list().programs.is_empty());
}

/// A wizard's program that the verifier refuses (a packet read without a bounds check): the
/// load is refused with the verifier's summary (instruction, source line, usual cause) and
/// the path of the whole log, which the daemon saves in its private temporary directory;
/// nothing is loaded.
#[test]
fn a_verifier_refusal_of_a_user_program_is_summarised() {
    let ns = Netns::new();
    ns.add_pair("u0", "u1");
    let mut d = Daemon::new(Some(&ns));
    let pkgs = d.dir.join("pkgs");
    std::fs::create_dir_all(pkgs.join("wiz")).unwrap();
    std::fs::write(
        pkgs.join("wiz/peek.bpf.c"),
        "#include <hike/sdk.h>

HIKE_PROG(peek)
{
\tunsigned char *data = (unsigned char *)(long)ctx->data;

\tHIKE_RETURN(data[20]);
}

char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
",
    )
    .unwrap();
    d.extra_args = vec!["--package-dir".into(), pkgs.display().to_string()];
    d.extra_env = vec![(
        "ECLAT_CACHE_DIR".into(),
        d.dir.join("cache").display().to_string(),
    )];
    d.spawn();
    let mut c = d.client();
    let e = c
        .load(
            "peek",
            "peek.eclat",
            "from programs.wiz import peek
from loaders.basic import ip6_sc
ip6_sc[ip6_sc_map] = { (0): (c) }
ip6_sc.attach('u0', 'xdp')
def c():
    return peek()
",
            &[],
        )
        .unwrap_err();
    let message = e.message();
    for expected in [
        "at peek.bpf.c:7 (`HIKE_RETURN(data[20]);`): invalid access to packet",
        "usual cause: a packet read or write without a bounds check",
        "full verifier log: ",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
    let path = message
        .split("full verifier log: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a path");
    let saved = std::fs::read_to_string(path).expect("the saved log");
    assert!(saved.contains("processed "), "the whole log: {saved}");
    assert!(
        std::path::Path::new(path).starts_with(&d.dir),
        "{path} is in the daemon's own directory {}",
        d.dir.display()
    );
    assert!(c.list().scripts.is_empty());
    assert!(c.list().programs.is_empty());
}
