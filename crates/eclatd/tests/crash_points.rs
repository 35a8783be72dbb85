//! `kill -9` at every crash point (`eclatd::crash::POINTS`, compiled into test builds): the
//! daemon is started with `ECLATD_CRASH_AT=POINT`, dies there with `SIGKILL` in the middle of
//! a load, a replace or an unload, and is started again. Then, whatever the point:
//! - the script is listed at the generation the point implies (the old one before the
//!   commit, the new one from it on), and what `List` says runs on each interface is what
//!   the kernel runs there;
//! - a listed script processes packets with its own generation's chain and its own map
//!   configuration (the replace writes a shared program's map: a crash before the commit
//!   must leave the old value);
//! - nothing unlisted is left: no loader, program or link pin, no published chain;
//! - a new load of the same name works, and its unload leaves nothing.
//!
//! The points where a script takes an interface's link from another script, or gives it
//! back (`NEIGHBOUR_POINTS`), run with a second script, `next`, on `v0` behind it: a load
//! into a hook that already has a script, and an unload of the first of two. `next` must
//! count its packets after the restart whatever the point.
//!
//! Needs root. Each point runs in its own namespace with its own daemon and instance.

mod support;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;

use support::{count_and_pass, files_under, frames, Daemon, Netns};

/// The script behind the one under test (priority 200, after the default 100), counting
/// under key [`NEXT_KEY`] and passing.
const NEXT: &str = "next";
const NEXT_KEY: u64 = 99;

/// The points only reached when the script under test moves another script's link.
const NEIGHBOUR_POINTS: &[&str] = &[
    "load.take_over.updated",
    "load.take_over.pinned",
    "load.switched",
    "unload.take_over.updated",
    "unload.take_over.pinned",
];

/// The script: counts IPv6 packets under monitor key `key`, configures the shared token
/// bucket `ip6_dst_tbmon` with `rate`, and (the second version) also calls
/// `ip6_sd_dec2zero`, a program the first does not load, and attaches to a second interface.
fn script(key: u32, rate: u32, second_version: bool, hook: &str) -> String {
    let (import, call, attach) = if second_version {
        (
            ", ip6_sd_dec2zero",
            "    ip6_sd_dec2zero(1000)\n",
            format!("ip6_sc.attach('DEVNAME2', '{hook}')\n"),
        )
    } else {
        ("", "", String::new())
    };
    format!(
        "\
from programs.net import hike_drop, monitor, ip6_dst_tbmon{import}
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = {{ (0): (count_drop) }}
ip6_sc.attach('DEVNAME', '{hook}')
{attach}
ip6_dst_tbmon[ip6_dst_tbmon_cfg] = {{ (0): ({rate}, 100) }}

def count_drop():
    monitor({key})
{call}    hike_drop()
    return 0
"
    )
}

/// What a generation of the script does, to check it by its effects.
#[derive(Clone, Copy, Debug)]
struct Version {
    generation: u64,
    key: u32,
    rate: u64,
    /// Interfaces it is attached to.
    devices: &'static [&'static str],
}

const V1: Version = Version {
    generation: 1,
    key: 11,
    rate: 1000,
    devices: &["v0"],
};
const V2: Version = Version {
    generation: 2,
    key: 22,
    rate: 2000,
    devices: &["v0", "w0"],
};
const NAME: &str = "crash";

fn load(c: &mut support::Client, v: Version, hook: &str) -> Result<(), tonic::Status> {
    let text = script(v.key, v.rate as u32, v.generation == 2, hook);
    c.load(
        NAME,
        "crash.eclat",
        &text,
        &[("DEVNAME", "v0"), ("DEVNAME2", "w0")],
    )
    .map(drop)
}

/// The operation and step of a point: `("replace", "take_over.pinned")`.
fn split(point: &str) -> (&str, &str) {
    point.split_once('.').expect("OP.STEP")
}

/// Whether the operation that dies at `point` has committed by then (its record saved).
fn committed_at(point: &str) -> bool {
    let (op, _) = split(point);
    let sequence: Vec<&str> = eclatd::crash::POINTS
        .iter()
        .copied()
        .filter(|p| split(p).0 == op)
        .collect();
    let commit = sequence
        .iter()
        .position(|p| p.ends_with(".committed"))
        .expect("every operation commits");
    sequence.iter().position(|p| *p == point).expect("listed") >= commit
}

/// The kernel ID of the program `dev` runs at `hook` (0 if none): the XDP program, or the one
/// tcx program at a TC hook.
fn running(ns: &Netns, dev: &str, hook: &str) -> u32 {
    if hook == "xdp" {
        return ns.xdp_prog(dev);
    }
    let idx = ns.ifindex(dev);
    let hook: hike_runtime::Hook = hook.parse().unwrap();
    let progs = ns.run_in(move || hike_runtime::tc_programs(idx, hook).expect("query tcx"));
    assert!(progs.len() <= 1, "`{dev}` at {hook}: {progs:?}");
    progs.first().copied().unwrap_or(0)
}

/// Runs the operation of `point` in a daemon told to die there, restarts it and checks; the
/// script attaches at `hook`.
fn crash_at(point: &str, hook: &str) {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let mut d = Daemon::new(Some(&ns));
    d.extra_env
        .push((eclatd::crash::ENV.to_owned(), point.to_owned()));
    d.spawn();
    let mut c = d.client();
    // The neighbour runs at xdp: several scripts per hook are an XDP order.
    let neighbour = hook == "xdp" && NEIGHBOUR_POINTS.contains(&point);
    if neighbour {
        c.load_placed(
            NEXT,
            &count_and_pass(NEXT_KEY as u32),
            &[("DEVNAME", "v0")],
            Some(200),
            None,
        )
        .unwrap_or_else(|e| panic!("{point}: load `{NEXT}`: {e}"));
    }
    let (op, _) = split(point);
    let expected = match op {
        "load" => {
            let r = load(&mut c, V1, hook);
            assert!(r.is_err(), "{point}: the load should have died there");
            committed_at(point).then_some(V1)
        }
        "replace" => {
            load(&mut c, V1, hook).unwrap_or_else(|e| panic!("{point}: first load: {e}"));
            let r = load(&mut c, V2, hook);
            assert!(r.is_err(), "{point}: the replace should have died there");
            Some(if committed_at(point) { V2 } else { V1 })
        }
        "unload" => {
            load(&mut c, V1, hook).unwrap_or_else(|e| panic!("{point}: load: {e}"));
            let r = c.unload(NAME);
            assert!(r.is_err(), "{point}: the unload should have died there");
            (!committed_at(point)).then_some(V1)
        }
        other => panic!("unknown operation {other}"),
    };
    drop(c);
    let status = d.wait();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{point}: the daemon did not die at the point ({status}):\n{}",
        d.log.lock().unwrap()
    );
    assert!(
        d.wait_for_log(&format!("crash point `{point}`")),
        "{point}: no crash line in the log"
    );

    d.extra_env.clear();
    d.spawn();
    let mut c = d.client();
    check_listing_matches_kernel(point, &ns, &d, &mut c, expected, neighbour, hook);
    if let Some(v) = expected {
        check_behaviour(point, &ns, &mut c, v);
    } else if neighbour {
        let before = c.monitor(NEXT).get(&NEXT_KEY).copied().unwrap_or(0);
        ns.send("v1", &frames("fc00::1", "fc00::2", 5));
        let after = c.monitor(NEXT).get(&NEXT_KEY).copied().unwrap_or(0);
        assert_eq!(after - before, 5, "{point}: `{NEXT}` runs alone on v0");
    }

    // A new load of the same name works, and its unload leaves nothing.
    load(&mut c, V1, hook).unwrap_or_else(|e| panic!("{point}: load after the restart: {e}"));
    ns.send("v1", &frames("fc00::1", "fc00::2", 3));
    let counted = c
        .monitor(NAME)
        .get(&u64::from(V1.key))
        .copied()
        .unwrap_or(0);
    assert!(
        counted >= 3,
        "{point}: a load after the restart counts ({counted})"
    );
    c.unload(NAME)
        .unwrap_or_else(|e| panic!("{point}: unload after the restart: {e}"));
    if neighbour {
        c.unload(NEXT)
            .unwrap_or_else(|e| panic!("{point}: unload `{NEXT}`: {e}"));
    }
    check_listing_matches_kernel(point, &ns, &d, &mut c, None, false, hook);
}

/// `List` shows `expected` (or nothing), the kernel runs exactly that on every interface, and
/// no pin or chain is left that the listing does not account for.
fn check_listing_matches_kernel(
    point: &str,
    ns: &Netns,
    d: &Daemon,
    c: &mut support::Client,
    expected: Option<Version>,
    neighbour: bool,
    hook: &str,
) {
    let list = c.list();
    let log = || d.log.lock().unwrap().clone();
    let ours: Vec<_> = list.scripts.iter().filter(|s| s.name != NEXT).collect();
    assert_eq!(
        list.scripts.iter().any(|s| s.name == NEXT),
        neighbour,
        "{point}: `{NEXT}` is listed as long as it is loaded\n{}",
        log()
    );
    match expected {
        None => assert!(ours.is_empty(), "{point}: {list:?}\n{}", log()),
        Some(v) => {
            assert_eq!(ours.len(), 1, "{point}: {list:?}");
            let s = ours[0];
            assert_eq!(
                (s.name.as_str(), s.generation),
                (NAME, v.generation),
                "{point}:\n{}",
                log()
            );
        }
    }
    for dev in ["v0", "w0"] {
        // The interface runs the loader of the first script of its hook.
        let listed = list
            .hooks
            .iter()
            .find(|h| h.device == dev && h.hook == hook)
            .and_then(|h| list.scripts.iter().find(|s| s.name == h.scripts[0]))
            .and_then(|s| s.loader.as_ref())
            .map_or(0, |l| l.kernel_id);
        assert_eq!(
            running(ns, dev, hook),
            listed,
            "{point}: `{dev}` runs another program than the listing says\n{}",
            log()
        );
    }
    // Pins: exactly the listed loaders and program slots.
    let loaders: BTreeSet<String> = std::fs::read_dir(d.pin_dir().join("loaders"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let listed_loaders: BTreeSet<String> = list
        .scripts
        .iter()
        .map(|s| format!("{}-g{}", s.name, s.generation))
        .collect();
    assert_eq!(loaders, listed_loaders, "{point}: loader pins");
    let slots: BTreeSet<u32> = std::fs::read_dir(d.pin_dir().join("progs"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let listed_slots: BTreeSet<u32> = list.programs.iter().map(|p| p.id).collect();
    assert_eq!(slots, listed_slots, "{point}: program pins");
    let links: Vec<_> = files_under(&d.pin_dir().join("loaders"))
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("links")))
        .collect();
    // One link per hook, held by its first script's loader.
    let listed_links = list.hooks.len();
    assert_eq!(links.len(), listed_links, "{point}: link pins {links:?}");
    let chains: BTreeSet<u32> = hike_runtime::pin::published_chains(&d.bpffs, &d.instance)
        .expect("read the chain table")
        .into_iter()
        .collect();
    let listed_chains: BTreeSet<u32> = list
        .scripts
        .iter()
        .flat_map(|s| s.chains.iter().map(|c| c.id))
        .collect();
    assert_eq!(chains, listed_chains, "{point}: published chains");
}

/// Traffic on each interface of `v` is counted under `v`'s key, and the shared bucket has
/// `v`'s rate.
fn check_behaviour(point: &str, ns: &Netns, c: &mut support::Client, v: Version) {
    for dev in v.devices {
        let peer = if *dev == "v0" { "v1" } else { "w1" };
        let before = c.monitor(NAME).get(&u64::from(v.key)).copied().unwrap_or(0);
        assert_eq!(ns.send(peer, &frames("fc00::1", "fc00::2", 5)), 5);
        let after = c.monitor(NAME).get(&u64::from(v.key)).copied().unwrap_or(0);
        assert_eq!(
            after - before,
            5,
            "{point}: frames on `{dev}` counted under generation {}'s key",
            v.generation
        );
    }
    let cfg = c
        .get(NAME, "ip6_dst_tbmon.ip6_dst_tbmon_cfg", "0")
        .unwrap_or_else(|e| panic!("{point}: read the bucket: {e}"));
    let value: serde_json::Value =
        serde_json::from_str(&cfg.entry.expect("an entry").value).unwrap();
    assert_eq!(
        value["rate"].as_u64(),
        Some(v.rate),
        "{point}: the shared bucket has generation {}'s configuration: {value}",
        v.generation
    );
}

/// Runs `crash_at` for every point of `op`, a few at a time, and reports every failure.
fn crash_every_point_of(op: &str, hook: &'static str) {
    let points: Vec<&str> = eclatd::crash::POINTS
        .iter()
        .copied()
        .filter(|p| split(p).0 == op)
        // A fresh load takes a link over only from a script before it on the hook: an XDP
        // order (one script per TC hook).
        .filter(|p| hook == "xdp" || !NEIGHBOUR_POINTS.contains(p))
        .collect();
    assert!(!points.is_empty());
    let failures: Vec<String> = std::thread::scope(|s| {
        points
            .chunks(points.len().div_ceil(3))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|p| {
                            std::panic::catch_unwind(|| crash_at(p, hook))
                                .err()
                                .map(|e| {
                                    e.downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                                        .unwrap_or_else(|| format!("{p}: panicked"))
                                })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().expect("a worker"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} points failed:\n{}",
        failures.len(),
        points.len(),
        failures.join("\n---\n")
    );
}

#[test]
fn kill_9_at_every_point_of_a_load() {
    crash_every_point_of("load", "xdp");
}

#[test]
fn kill_9_at_every_point_of_a_replace() {
    crash_every_point_of("replace", "xdp");
}

#[test]
fn kill_9_at_every_point_of_an_unload() {
    crash_every_point_of("unload", "xdp");
}

/// The same at a TC hook: tcx links taken over, reclaimed and removed like XDP links.
#[test]
fn kill_9_at_every_point_of_a_tc_load_and_replace() {
    crash_every_point_of("load", "tc_ingress");
    crash_every_point_of("replace", "tc_ingress");
}

/// A script may be named like the loader pin of another's next generation (`crash-g2`, the
/// pin a replace of `crash` at generation 1 builds): a replace of `crash` killed before its
/// commit leaves an intent naming that pin, and the restarted daemon must still take the
/// state file it wrote, undo the replace and keep both scripts.
#[test]
fn an_intent_whose_loader_pin_is_another_scripts_name_is_undone() {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let mut d = Daemon::new(Some(&ns));
    d.extra_env.push((
        eclatd::crash::ENV.to_owned(),
        "replace.intent.saved".to_owned(),
    ));
    d.spawn();
    let mut c = d.client();
    c.load(
        "crash-g2",
        "other.eclat",
        &support::count_and_drop(5),
        &[("DEVNAME", "w0")],
    )
    .expect("load crash-g2");
    let v0 = [("DEVNAME", "v0")];
    c.load(NAME, "crash.eclat", &support::count_and_drop(1), &v0)
        .expect("load crash");
    let r = c.load(NAME, "crash.eclat", &support::count_and_drop(2), &v0);
    assert!(r.is_err(), "the replace should have died");
    drop(c);
    assert_eq!(d.wait().signal(), Some(libc::SIGKILL));
    d.extra_env.clear();
    assert!(
        d.try_spawn(),
        "the daemon refused the state file it wrote:\n{}",
        d.log.lock().unwrap()
    );
    let list = d.client().list();
    let listed: BTreeSet<(String, u64)> = list
        .scripts
        .iter()
        .map(|s| (s.name.clone(), s.generation))
        .collect();
    let expected: BTreeSet<(String, u64)> = [(NAME.to_owned(), 1), ("crash-g2".to_owned(), 1)]
        .into_iter()
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn the_points_cover_load_replace_and_unload_and_the_runtime() {
    for op in ["load", "replace", "unload"] {
        assert!(eclatd::crash::POINTS.iter().any(|p| split(p).0 == op));
    }
    for runtime in hike_runtime::crash::POINTS {
        assert!(
            eclatd::crash::POINTS.contains(&format!("replace.{runtime}").as_str()),
            "runtime point {runtime} is exercised by a replace"
        );
    }
}

/// A crash in the middle of a loader's removal (its program pin gone, its links still pinned)
/// leaves a loader that cannot be opened: the next start removes what is left of it, links
/// first, so the interface runs nothing rather than a loader without chains.
#[test]
fn a_half_removed_loader_is_removed_at_start_with_its_links() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    load(&mut c, V1, "xdp").expect("load");
    let kernel_id = c.list().scripts[0].loader.as_ref().unwrap().kernel_id;
    assert_eq!(ns.xdp_prog("v0"), kernel_id);
    drop(c);
    d.kill9();
    let dir = d.pin_dir().join("loaders").join(format!("{NAME}-g1"));
    let prog = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("prog_"))
        .expect("the loader's program pin")
        .path();
    std::fs::remove_file(prog).unwrap();
    assert!(dir.join("links").read_dir().unwrap().next().is_some());
    assert_eq!(
        ns.xdp_prog("v0"),
        kernel_id,
        "the link still holds the loader"
    );
    d.spawn();
    let mut c = d.client();
    assert!(c.list().scripts.is_empty(), "{}", d.log.lock().unwrap());
    assert_eq!(
        ns.xdp_prog("v0"),
        0,
        "no interface runs a loader nobody can open"
    );
    assert!(!dir.exists());
    load(&mut c, V1, "xdp").expect("a new load of the name works");
}
