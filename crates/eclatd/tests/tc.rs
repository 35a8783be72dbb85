//! End-to-end tests of scripts at the TC hooks, in a network namespace: a `tc_egress` script
//! that drops IPv6 stops the host's own echo replies and unloading restores them, and an XDP
//! script and a TC script on one interface at once, and two scripts on one TC hook in priority
//! order beside another tool's tcx program. Needs root.

mod support;

use std::net::Ipv6Addr;

use hike_netlab::{ethernet, internet_checksum, Ipv6Header};
use hike_testkit::foreign::ForeignTcx;
use support::{count_and_drop, count_and_pass, frames, Daemon, Netns};

/// A script that counts every IPv6 packet leaving `DEVNAME` under monitor key 7 and drops it.
const DROP_IPV6_EGRESS: &str = "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = { (0): (egress_drop) }
ip6_sc.attach('DEVNAME', 'tc_egress')

def egress_drop():
    monitor(7)
    hike_drop()
";

const V0: Ipv6Addr = Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 1);
const V1: Ipv6Addr = Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 2);

/// ICMPv6 echo requests from `V1` (`v1`'s MAC) to `V0` (`v0`'s MAC), sequence 1..=n.
fn echo_requests(v0_mac: [u8; 6], v1_mac: [u8; 6], n: u16) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|seq| {
            let mut icmp = vec![128, 0, 0, 0, 0x12, 0x34];
            icmp.extend_from_slice(&seq.to_be_bytes());
            icmp.extend_from_slice(b"eclat-tc");
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&V1.octets());
            pseudo.extend_from_slice(&V0.octets());
            pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 58]);
            pseudo.extend_from_slice(&icmp);
            let sum = internet_checksum(&pseudo);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            let ip = Ipv6Header {
                src: V1,
                dst: V0,
                next_header: 58,
                traffic_class: 0,
                flow_label: 0,
                hop_limit: 64,
            }
            .packet(&icmp);
            ethernet(v0_mac, v1_mac, 0x86dd, &ip)
        })
        .collect()
}

fn mac(ns: &Netns, dev: &str) -> [u8; 6] {
    let out = std::process::Command::new("ip")
        .args(["-n", &ns.name, "-j", "link", "show", dev])
        .output()
        .expect("ip link");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let text = v[0]["address"].as_str().expect("a MAC").to_owned();
    let mut m = [0u8; 6];
    for (i, b) in text.split(':').enumerate() {
        m[i] = u8::from_str_radix(b, 16).unwrap();
    }
    m
}

/// `v0` answers IPv6 (its own address, `v1`'s as a permanent neighbour, so no discovery is
/// needed); `v1` stays without IPv6, so every IPv6 frame it receives is one of `v0`'s.
fn ipv6_on_v0(ns: &Netns) {
    ns.run_in(|| {
        std::fs::write("/proc/sys/net/ipv6/conf/v0/disable_ipv6", "0").expect("ipv6 on v0")
    });
    ns.ip(&["-6", "addr", "add", "fc00::1/64", "dev", "v0", "nodad"]);
    let v1_mac = mac(ns, "v1");
    let lladdr = v1_mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    ns.ip(&[
        "-6",
        "neigh",
        "add",
        "fc00::2",
        "lladdr",
        &lladdr,
        "dev",
        "v0",
        "nud",
        "permanent",
    ]);
}

/// Sends `n` echo requests into `v0` and returns how many frames `v1` received meanwhile (the
/// replies, and any IPv6 chatter of `v0`), read once `v0`'s counters settled: its transmitted
/// count is read until it stops moving within a bound.
fn replies(ns: &Netns, n: u16) -> u64 {
    let before = ns.stat("v1", "rx_packets");
    let frames = echo_requests(mac(ns, "v0"), mac(ns, "v1"), n);
    assert_eq!(ns.send("v1", &frames), usize::from(n));
    // The replies leave v0 in the softirq that received the requests, before the send
    // returns on this CPU or soon after on another: read until two reads agree.
    let mut last = ns.stat("v1", "rx_packets");
    for _ in 0..100 {
        let now = ns.stat("v1", "rx_packets");
        if now == last && now >= before + u64::from(n) {
            break;
        }
        last = now;
    }
    ns.stat("v1", "rx_packets") - before
}

#[test]
fn a_tc_egress_script_dropping_ipv6_stops_the_hosts_echo_replies_until_unloaded() {
    let ns = Netns::new();
    ipv6_on_v0(&ns);
    assert!(replies(&ns, 5) >= 5, "v0 answers before any script");

    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let reply = c
        .load("", "egress.eclat", DROP_IPV6_EGRESS, &[("DEVNAME", "v0")])
        .expect("load at tc_egress");
    let loader = reply.script.unwrap().loader.unwrap();
    assert_eq!(loader.attachments.len(), 1);
    assert_eq!(loader.attachments[0].hook, "tc_egress");
    assert_eq!(ns.xdp_prog("v0"), 0, "nothing at xdp");
    let idx = ns.ifindex("v0");
    let at_egress = ns.run_in(move || {
        hike_runtime::tc_programs(idx, hike_runtime::Hook::TcEgress).expect("query tcx")
    });
    assert_eq!(at_egress, vec![loader.kernel_id]);

    assert_eq!(replies(&ns, 5), 0, "every IPv6 frame leaving v0 is dropped");
    let dropped = c.monitor("egress").get(&7).copied().unwrap_or(0);
    assert!(
        dropped >= 5,
        "the replies went through the script: {dropped}"
    );
    let list = c.list();
    assert_eq!(
        list.scripts[0].loader.as_ref().unwrap().attachments[0].hook,
        "tc_egress"
    );

    c.unload("egress").expect("unload");
    assert!(ns
        .run_in(move || hike_runtime::tc_programs(idx, hike_runtime::Hook::TcEgress).unwrap())
        .is_empty());
    assert!(replies(&ns, 5) >= 5, "unloading restores the replies");
}

#[test]
fn an_xdp_script_and_a_tc_script_run_on_one_interface_at_once() {
    let ns = Netns::new();
    ipv6_on_v0(&ns);
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    // At XDP: count the echo requests under key 3, and let them in (monitor, no drop).
    let count_in = count_and_drop(3).replace("    hike_drop()\n", "");
    c.load("inbound", "inbound.eclat", &count_in, &[("DEVNAME", "v0")])
        .expect("load at xdp");
    c.load(
        "egress",
        "egress.eclat",
        DROP_IPV6_EGRESS,
        &[("DEVNAME", "v0")],
    )
    .expect("load at tc_egress beside it");
    let list = c.list();
    let mut hooks: Vec<String> = list
        .scripts
        .iter()
        .flat_map(|s| s.loader.as_ref().unwrap().attachments.clone())
        .map(|a| a.hook)
        .collect();
    hooks.sort();
    assert_eq!(hooks, ["tc_egress", "xdp"]);
    assert_ne!(ns.xdp_prog("v0"), 0);

    assert_eq!(
        replies(&ns, 4),
        0,
        "the requests come in, the replies are dropped"
    );
    assert_eq!(
        c.monitor("inbound").get(&3),
        Some(&4),
        "xdp saw the requests"
    );
    assert!(c.monitor("egress").get(&7).copied().unwrap_or(0) >= 4);

    c.unload("egress").expect("unload the tc script");
    assert!(
        replies(&ns, 4) >= 4,
        "the xdp script alone lets the replies out"
    );
    assert_eq!(c.monitor("inbound").get(&3), Some(&8));
}

/// `script` attached at `tc_ingress` instead of `xdp`.
fn at_tc_ingress(script: &str) -> String {
    let out = script.replace(
        "attach('DEVNAME', 'xdp')",
        "attach('DEVNAME', 'tc_ingress')",
    );
    assert_ne!(out, script, "the script attaches at xdp");
    out
}

/// The IDs of the programs at `v0`'s `tc_ingress`, in the order packets meet them.
fn tc_ingress_order(ns: &Netns) -> Vec<u32> {
    let idx = ns.ifindex("v0");
    ns.run_in(move || {
        hike_runtime::tc_programs(idx, hike_runtime::Hook::TcIngress).expect("query tcx")
    })
}

/// The kernel ID of script `name`'s loader.
fn loader_id(c: &mut support::Client, name: &str) -> u32 {
    let list = c.list();
    let s = list.scripts.iter().find(|s| s.name == name).expect(name);
    s.loader.as_ref().unwrap().kernel_id
}

/// Another tool's program at `v0`'s tc ingress, before any there: it counts and lets the next
/// program decide.
fn foreign_at_tc_ingress(ns: &Netns) -> ForeignTcx {
    let idx = ns.ifindex("v0");
    ns.run_in(move || {
        ForeignTcx::attach(
            idx,
            hike_runtime::Hook::TcIngress,
            hike_testkit::foreign::BPF_F_BEFORE,
        )
    })
}

/// Script `name`'s packets by final verdict (`eclat stats`), as (verdict, count).
fn verdicts(c: &mut support::Client, name: &str) -> Vec<(String, u64)> {
    let reply = c.stats(name).expect("stats");
    reply.scripts[0]
        .verdicts
        .iter()
        .map(|v| (v.verdict.clone(), v.count))
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect()
}

#[test]
fn two_scripts_on_one_tc_ingress_run_in_priority_order_beside_another_tools_program() {
    let ns = Netns::new();
    let foreign = foreign_at_tc_ingress(&ns);
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let dev = &[("DEVNAME", "v0")];
    // `count` (key 1) passes, `drop` (key 2) counts and drops; count first.
    let count = at_tc_ingress(&count_and_pass(1));
    let drop = at_tc_ingress(&count_and_drop(2));
    c.load_placed("drop", &drop, dev, Some(20), None)
        .expect("load drop");
    c.load_placed("count", &count, dev, Some(10), None)
        .expect("load count before it");
    let (count_id, drop_id) = (loader_id(&mut c, "count"), loader_id(&mut c, "drop"));
    assert_eq!(
        tc_ingress_order(&ns),
        [count_id, drop_id, foreign.id],
        "ours first (the default placement), in priority order; the other program stays"
    );
    let list = c.list();
    let hook = list
        .hooks
        .iter()
        .find(|h| h.hook == "tc_ingress")
        .expect("the tc_ingress hook is listed");
    assert_eq!(hook.scripts, ["count", "drop"]);

    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 100)), 100);
    let m = c.monitor("count");
    assert_eq!((m.get(&1), m.get(&2)), (Some(&100), Some(&100)), "{m:?}");
    assert_eq!(foreign.count(), 0, "dropped before the other program");
    assert_eq!(verdicts(&mut c, "count"), [], "count's passes proceeded");
    assert_eq!(verdicts(&mut c, "drop"), counts(&[("drop", 100)]));

    // A replace cannot move a TC script (tcx links do not move atomically): refused, nothing
    // changes.
    let e = c
        .load_placed("drop", &drop, dev, Some(5), None)
        .expect_err("a replace with another priority at TC");
    assert!(
        e.message().contains(
            "--priority (5) would move it at the tc_ingress hook of interface `v0` (now 20)"
        ) && e
            .message()
            .contains("unload `drop` and load it again with --priority 5"),
        "{}",
        e.message()
    );
    assert_eq!(tc_ingress_order(&ns), [count_id, drop_id, foreign.id]);

    // Alone, `count`'s pass goes on to the other tool's program.
    c.unload("drop").expect("unload drop");
    assert_eq!(tc_ingress_order(&ns), [count_id, foreign.id]);
    ns.send("v1", &frames("fc00::1", "fc00::2", 20));
    assert_eq!(foreign.count(), 20, "the other program runs after ours");
    assert_eq!(verdicts(&mut c, "count"), counts(&[("pass", 20)]));

    // Swapped by priority: `drop` first; its drop ends the packet, `count` sees nothing.
    c.load_placed("drop", &drop, dev, Some(5), None)
        .expect("load drop before count");
    let drop_id = loader_id(&mut c, "drop");
    assert_eq!(tc_ingress_order(&ns), [drop_id, count_id, foreign.id]);
    ns.send("v1", &frames("fc00::1", "fc00::2", 50));
    let m = c.monitor("count");
    assert_eq!((m.get(&1), m.get(&2)), (Some(&120), Some(&150)), "{m:?}");
    assert_eq!(foreign.count(), 20);

    // A replace in place keeps the order and the other tool's program.
    c.load_placed("drop", &drop, dev, None, Some("drop"))
        .expect("replace drop: proceed on drop");
    let new_drop = loader_id(&mut c, "drop");
    assert_eq!(tc_ingress_order(&ns), [new_drop, count_id, foreign.id]);
    ns.send("v1", &frames("fc00::1", "fc00::2", 30));
    let m = c.monitor("count");
    assert_eq!(
        (m.get(&1), m.get(&2)),
        (Some(&150), Some(&180)),
        "drop's verdict proceeds to count: {m:?}"
    );
    assert_eq!(foreign.count(), 50, "and count's pass to the other program");
    assert_eq!(verdicts(&mut c, "count"), counts(&[("pass", 50)]));
    assert_eq!(
        verdicts(&mut c, "drop"),
        counts(&[("drop", 50)]),
        "kept across the replace; the proceeding drops are count's"
    );

    c.unload("drop").expect("unload drop");
    c.unload("count").expect("unload count");
    assert_eq!(
        tc_ingress_order(&ns),
        [foreign.id],
        "only the other tool's program stays"
    );
}

#[test]
fn a_first_tc_script_goes_last_among_other_tools_programs_when_asked() {
    let ns = Netns::new();
    let foreign = foreign_at_tc_ingress(&ns);
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let dev = &[("DEVNAME", "v0")];
    let mut req = c.load_request(
        "count",
        "count.eclat",
        &at_tc_ingress(&count_and_pass(1)),
        dev,
    );
    req.tc_placement = Some("last".into());
    let r = c.load_req(req).expect("load last");
    assert_eq!(r.script.unwrap().tc_placement, "last");
    let count_id = loader_id(&mut c, "count");
    assert_eq!(tc_ingress_order(&ns), [foreign.id, count_id]);
    // A second script goes next to ours, not after every other program.
    c.load_placed(
        "other",
        &at_tc_ingress(&count_and_pass(2)),
        dev,
        Some(1),
        None,
    )
    .expect("load other");
    let other_id = loader_id(&mut c, "other");
    assert_eq!(tc_ingress_order(&ns), [foreign.id, other_id, count_id]);

    let mut bad = c.load_request(
        "count",
        "count.eclat",
        &at_tc_ingress(&count_and_pass(1)),
        dev,
    );
    bad.tc_placement = Some("middle".into());
    let e = c.load_req(bad).expect_err("no such placement");
    assert!(
        e.message()
            .contains("--tc-placement \"middle\" is no placement: use `first`"),
        "{}",
        e.message()
    );
}

#[test]
fn loading_replacing_and_unloading_a_tc_script_in_front_loses_none_of_the_next_ones_packets() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let dev = &[("DEVNAME", "v0")];
    c.load_placed(
        "keep",
        &at_tc_ingress(&count_and_pass(7)),
        dev,
        Some(200),
        None,
    )
    .expect("load keep");
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
        // `churn` comes in front of `keep` (a tcx link placed before keep's), is replaced
        // (its link updated in place) and goes, three times.
        for round in 0..3 {
            for key in [8, 9] {
                c.load_placed(
                    "churn",
                    &at_tc_ingress(&count_and_pass(key)),
                    dev,
                    Some(10),
                    None,
                )
                .expect("load or replace churn");
            }
            let ids = tc_ingress_order(&ns);
            assert_eq!(
                ids,
                [loader_id(&mut c, "churn"), loader_id(&mut c, "keep")],
                "round {round}"
            );
            c.unload("churn").expect("unload churn");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sender.join().unwrap()
    });
    let m = c.monitor("keep");
    assert_eq!(
        m.get(&7).copied(),
        Some(sent as u64),
        "every frame reached `keep`: {m:?}"
    );
    assert!(
        m.get(&8).copied().unwrap_or(0) + m.get(&9).copied().unwrap_or(0) > 0,
        "churn ran: {m:?}"
    );
    assert_eq!(tc_ingress_order(&ns), [loader_id(&mut c, "keep")]);
}
