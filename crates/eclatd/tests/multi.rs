//! Several scripts on one XDP hook, end to end in network namespaces: the order by
//! priority, proceed-on, zero loss for a script while another is replaced or unloaded in
//! front of it, the limit of 64 scripts per hook, and another tool's XDP program left alone.
//! Needs root.

mod support;

use support::{count_and_drop, count_and_pass, frames, Daemon, Netns, Tap};

const DEV: &[(&str, &str)] = &[("DEVNAME", "v0")];

/// The script names of the first hook of `list`, in order.
fn order(c: &mut support::Client) -> Vec<String> {
    let list = c.list();
    assert_eq!(list.hooks.len(), 1, "{:?}", list.hooks);
    assert_eq!(list.hooks[0].hook, "xdp");
    list.hooks[0].scripts.clone()
}

/// The kernel ID of script `name`'s loader.
fn loader_id(c: &mut support::Client, name: &str) -> u32 {
    let list = c.list();
    let s = list.scripts.iter().find(|s| s.name == name).expect(name);
    s.loader.as_ref().unwrap().kernel_id
}

#[test]
fn two_scripts_run_in_priority_order_and_proceed_on_their_verdicts() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    // `count` (key 1) passes, `drop` (key 2) counts and drops; count first.
    c.load_placed("count", &count_and_pass(1), DEV, Some(10), None)
        .expect("load count");
    c.load_placed("drop", &count_and_drop(2), DEV, Some(20), None)
        .expect("load drop");
    assert_eq!(order(&mut c), ["count", "drop"]);
    assert_eq!(
        ns.xdp_prog("v0"),
        loader_id(&mut c, "count"),
        "the first runs first"
    );
    let tap = Tap::open(&ns, "v0");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 100)), 100);
    let m = c.monitor("count");
    assert_eq!((m.get(&1), m.get(&2)), (Some(&100), Some(&100)), "{m:?}");
    assert_eq!(tap.delivered(), 0, "dropped by the second script");

    // Swapped: `drop` first; its drop ends the packet, `count` sees nothing.
    let r = c
        .load_placed("drop", &count_and_drop(2), DEV, Some(5), None)
        .expect("replace drop");
    assert_eq!(r.script.unwrap().priority, 5);
    assert_eq!(order(&mut c), ["drop", "count"]);
    assert_eq!(ns.xdp_prog("v0"), loader_id(&mut c, "drop"));
    ns.send("v1", &frames("fc00::1", "fc00::2", 50));
    let m = c.monitor("count");
    assert_eq!((m.get(&1), m.get(&2)), (Some(&100), Some(&150)), "{m:?}");

    // Proceed on drop: `drop`'s verdict goes on to `count`, whose pass delivers the packet.
    let r = c
        .load_placed("drop", &count_and_drop(2), DEV, None, Some("drop"))
        .expect("proceed on drop");
    let s = r.script.unwrap();
    assert_eq!(
        (s.priority, s.proceed_on.clone()),
        (5, vec!["drop".to_string()])
    );
    assert_eq!(tap.delivered(), 0);
    ns.send("v1", &frames("fc00::1", "fc00::2", 30));
    let m = c.monitor("count");
    assert_eq!((m.get(&1), m.get(&2)), (Some(&130), Some(&180)), "{m:?}");
    assert_eq!(tap.delivered(), 30, "passed by the last script");
    // Each packet is counted once, by final verdict, in the script where the verdict stood.
    let verdicts = |c: &mut support::Client, name: &str| -> Vec<(String, u64)> {
        c.stats(name).expect("stats").scripts[0]
            .verdicts
            .iter()
            .map(|v| (v.verdict.clone(), v.count))
            .collect()
    };
    assert_eq!(verdicts(&mut c, "drop"), [("drop".to_owned(), 150)]);
    assert_eq!(verdicts(&mut c, "count"), [("pass".to_owned(), 30)]);

    // Unloading the first hands the interface to the next one.
    c.unload("drop").expect("unload drop");
    assert_eq!(order(&mut c), ["count"]);
    assert_eq!(ns.xdp_prog("v0"), loader_id(&mut c, "count"));
    ns.send("v1", &frames("fc00::1", "fc00::2", 10));
    assert_eq!(c.monitor("count").get(&1), Some(&140));
    c.unload("count").expect("unload count");
    assert_eq!(ns.xdp_prog("v0"), 0);
}

#[test]
fn replacing_and_unloading_a_script_in_front_loses_none_of_the_next_ones_packets() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load_placed("keep", &count_and_pass(7), DEV, Some(200), None)
        .expect("load keep");
    let dropped_before = ns.stat("v0", "rx_dropped");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let batch = frames("fc00::1", "fc00::2", 200);
    let sent = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += ns.send("v1", &batch);
            }
            sent + ns.send("v1", &batch)
        });
        // `churn` comes in front of `keep` (the interface's link moves to it), is replaced,
        // and goes (the link moves back), three times.
        for round in 0..3 {
            for key in [8, 9] {
                c.load_placed("churn", &count_and_pass(key), DEV, Some(10), None)
                    .expect("load or replace churn");
            }
            assert_eq!(order(&mut c), ["churn", "keep"], "round {round}");
            c.unload("churn").expect("unload churn");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sender.join().unwrap()
    });
    let m = c.monitor("keep");
    assert_eq!(ns.stat("v0", "rx_dropped") - dropped_before, 0);
    assert_eq!(
        m.get(&7).copied(),
        Some(sent as u64),
        "every frame reached `keep`: {m:?}"
    );
    assert!(
        m.get(&8).copied().unwrap_or(0) + m.get(&9).copied().unwrap_or(0) > 0,
        "{m:?}"
    );
    assert_eq!(ns.xdp_prog("v0"), loader_id(&mut c, "keep"));
}

#[test]
fn a_hook_takes_64_scripts_and_refuses_the_65th_naming_the_limit() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    for i in 0..64u32 {
        c.load_placed(&format!("s{i:02}"), &count_and_pass(i), DEV, Some(i), None)
            .unwrap_or_else(|e| panic!("script {i}: {}", e.message()));
    }
    let names = order(&mut c);
    assert_eq!(names.len(), 64);
    assert_eq!((names[0].as_str(), names[63].as_str()), ("s00", "s63"));
    let e = c
        .load_placed("s64", &count_and_pass(64), DEV, None, None)
        .expect_err("the 65th");
    assert!(
        e.message().contains(
            "the xdp hook of interface `v0` already runs 64 scripts, the most one hook takes (64)"
        ),
        "{}",
        e.message()
    );
    assert_eq!(order(&mut c).len(), 64, "nothing changed");
    // A packet meets the scripts in order, as far as the kernel's 33 tail calls per packet
    // take it: the first ones count it.
    ns.send("v1", &frames("fc00::1", "fc00::2", 1));
    let m = c.monitor("s00");
    assert_eq!((m.get(&0), m.get(&1)), (Some(&1), Some(&1)), "{m:?}");
}

#[test]
fn a_foreign_xdp_program_is_refused_by_name_and_keeps_running() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let traffic = hike_netlab::TrafficObject::load().expect("traffic object");
    let prog = traffic
        .program_fd(hike_netlab::TrafficProgram::Sink)
        .expect("bench_sink");
    let ifindex = ns.ifindex("v0");
    let link = ns.run_in(|| hike_netlab::xdp_link(std::os::fd::AsFd::as_fd(&prog), ifindex));
    let link = link.expect("attach the foreign program");
    let foreign = ns.xdp_prog("v0");
    assert_ne!(foreign, 0);

    let e = c
        .load_placed("mine", &count_and_pass(1), DEV, None, None)
        .expect_err("refused");
    let msg = e.message();
    assert!(
        msg.contains(&format!("already runs xdp program {foreign} `bench_sink`")),
        "{msg}"
    );
    assert!(msg.contains("ip link set dev v0 xdp off"), "{msg}");
    assert!(c.list().scripts.is_empty(), "nothing loaded");
    assert_eq!(ns.xdp_prog("v0"), foreign, "the foreign program stays");
    let before = traffic.sink_counts().expect("counts");
    ns.send("v1", &frames("fc00::1", "fc00::2", 20));
    let after = traffic.sink_counts().expect("counts");
    assert_eq!(
        (after.packets + after.other) - (before.packets + before.other),
        20,
        "the foreign program still runs"
    );
    drop(link);
}
