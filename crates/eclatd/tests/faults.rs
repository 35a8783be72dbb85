//! The daemon under faults and load (RELIABILITY.md): an interface that vanishes under a
//! loaded script, a bpffs that is not mounted (or cannot be), a state file corrupted or
//! missing, `kill -9` in the middle of replaces, several clients at once, and load/unload
//! cycles that must not leak descriptors, BPF objects, pins or memory. Needs root.

mod support;

use support::{count_and_drop, files_under, frames, holdings, Daemon, Netns};

#[test]
fn an_interface_that_vanishes_is_shown_gone_and_the_script_still_unloads() {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("van", "van.eclat", &count_and_drop(1), &[("DEVNAME", "w0")])
        .expect("load");
    assert!(c.list().scripts[0].loader.as_ref().unwrap().attachments[0].present);
    ns.ip(&["link", "del", "w0"]);
    let list = c.list();
    let a = &list.scripts[0].loader.as_ref().unwrap().attachments[0];
    assert_eq!(a.device, "w0");
    assert!(!a.present, "the attachment is shown gone");
    assert!(c.stats("van").is_ok());
    // Loading it again on a new interface of that name attaches it there.
    ns.add_pair("w0", "w1");
    let r = c
        .load("van", "van.eclat", &count_and_drop(1), &[("DEVNAME", "w0")])
        .expect("reload");
    let loader = r.script.unwrap().loader.unwrap();
    assert!(loader.attachments[0].present);
    assert_eq!(ns.xdp_prog("w0"), loader.kernel_id);
    ns.send("w1", &frames("fc00::1", "fc00::2", 3));
    assert_eq!(c.monitor("van").get(&1), Some(&3));
    c.unload("van").expect("unload");
    assert_eq!(ns.xdp_prog("w0"), 0);
}

#[test]
fn a_bpffs_that_is_not_mounted_is_mounted_and_one_that_cannot_be_is_a_clear_error() {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    d.bpffs = d.dir.join("bpffs");
    d.unmount_bpffs = true;
    d.spawn();
    let mut c = d.client();
    c.load("m", "m.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load with a bpffs mounted by the daemon");
    assert!(d.pin_dir().join("loaders/m-g1").is_dir());
    ns.send("v1", &frames("fc00::1", "fc00::2", 2));
    assert_eq!(c.monitor("m").get(&1), Some(&2));
    c.unload("m").expect("unload");

    let mut bad = Daemon::new(Some(&ns));
    let file = bad.dir.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    bad.bpffs = file.clone();
    assert!(!bad.try_spawn(), "the daemon must refuse to start");
    let log = bad.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!("{}", file.display())) && log.contains("bpf"),
        "the error names the bpffs path: {log}"
    );
}

#[test]
fn a_corrupt_or_missing_state_file_stops_the_daemon_without_touching_the_traffic() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("st", "st.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    let kernel_id = c.list().scripts[0].loader.as_ref().unwrap().kernel_id;
    drop(c);
    d.stop();
    let state = d.state_dir().join("state.json");
    let good = std::fs::read(&state).unwrap();

    std::fs::write(&state, &good[..good.len() / 2]).unwrap();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(
        log.contains("is corrupt") && log.contains("state.json.prev"),
        "{log}"
    );
    assert_eq!(
        ns.xdp_prog("v0"),
        kernel_id,
        "the traffic is not interrupted"
    );
    ns.send("v1", &frames("fc00::1", "fc00::2", 4));

    std::fs::remove_file(&state).unwrap();
    let _ = std::fs::remove_file(d.state_dir().join("state.json.prev"));
    d.log.lock().unwrap().clear();
    assert!(!d.try_spawn());
    let log = d.log.lock().unwrap().clone();
    assert!(
        log.contains("there is no state file") && log.contains("--reset"),
        "{log}"
    );
    assert_eq!(ns.xdp_prog("v0"), kernel_id);

    // Restoring the file brings everything back, counters included.
    std::fs::write(&state, &good).unwrap();
    d.spawn();
    let mut c = d.client();
    assert_eq!(c.list().scripts[0].name, "st");
    assert_eq!(c.monitor("st").get(&1), Some(&4));
    drop(c);
    d.stop();

    // --reset starts afresh: what was pinned is removed.
    std::fs::remove_file(&state).unwrap();
    d.extra_args.push("--reset".into());
    d.spawn();
    let mut c = d.client();
    assert!(c.list().scripts.is_empty());
    assert_eq!(ns.xdp_prog("v0"), 0);
    assert!(files_under(&d.pin_dir().join("loaders")).is_empty());
}

#[test]
fn kill_9_in_the_middle_of_replaces_leaves_one_consistent_version() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("mid", "mid.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    let socket = d.socket.clone();
    let replacer = std::thread::spawn(move || {
        let mut c = support::Client::connect(&socket);
        let mut done = 0u32;
        // Until the daemon dies under us.
        while c
            .load(
                "mid",
                "mid.eclat",
                &count_and_drop(2 + done % 3),
                &[("DEVNAME", "v0")],
            )
            .is_ok()
        {
            done += 1;
        }
        done
    });
    // Let a few replaces complete (polled, within a minute), then kill the daemon during one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while c.list().scripts[0].generation < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    d.kill9();
    let done = replacer.join().unwrap();
    // Generation 4 was recorded; the client may not have had the reply of the last replace.
    assert!(done >= 2, "replaces acknowledged before the kill: {done}");
    // The interface still runs some version of the script.
    assert_ne!(ns.xdp_prog("v0"), 0);

    d.spawn();
    let mut c = d.client();
    let list = c.list();
    assert_eq!(list.scripts.len(), 1);
    assert!(list.scripts[0].generation >= 4, "{:?}", list.scripts[0]);
    let loader = list.scripts[0].loader.as_ref().unwrap();
    assert_eq!(
        ns.xdp_prog("v0"),
        loader.kernel_id,
        "the recorded version runs"
    );
    let pins: Vec<String> = std::fs::read_dir(d.pin_dir().join("loaders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(pins.len(), 1, "a half-made version was removed: {pins:?}");
    assert_eq!(list.programs.len(), 2);
    let before: u64 = c.monitor("mid").values().sum();
    ns.send("v1", &frames("fc00::1", "fc00::2", 10));
    let after: u64 = c.monitor("mid").values().sum();
    assert_eq!(after - before, 10);
    c.unload("mid").expect("unload");
    assert_eq!(ns.xdp_prog("v0"), 0);
}

/// A script with no `attach`: loaded, not attached anywhere.
fn detached(key: u32) -> String {
    count_and_drop(key).replace("ip6_sc.attach('DEVNAME', 'xdp')\n", "")
}

#[test]
fn several_clients_at_once_see_a_consistent_daemon() {
    let d = Daemon::start(None);
    std::thread::scope(|s| {
        for t in 0..3u32 {
            let d = &d;
            s.spawn(move || {
                let mut c = d.client();
                for i in 0..4 {
                    let name = format!("c{t}");
                    c.load(&name, "x.eclat", &detached(t * 10 + i), &[])
                        .expect("load");
                    if i % 2 == 1 {
                        c.unload(&name).expect("unload");
                    }
                }
            });
        }
        for _ in 0..2 {
            let d = &d;
            s.spawn(move || {
                let mut c = d.client();
                for _ in 0..20 {
                    let list = c.list();
                    // Every listed script's programs are in the table.
                    for sc in &list.scripts {
                        for p in &sc.programs {
                            assert!(list.programs.iter().any(|q| &q.name == p));
                        }
                    }
                    c.stats("").expect("stats");
                }
            });
        }
    });
    let mut c = d.client();
    let list = c.list();
    assert!(list.scripts.is_empty(), "each client unloaded last");
    assert!(list.programs.is_empty());
}

/// Load/unload cycles: nothing may accumulate. `ECLATD_SOAK_CYCLES` sets the count (`make
/// soak` runs 1,000); the figures are printed.
#[test]
fn load_unload_cycles_leak_nothing() {
    let cycles: usize = std::env::var("ECLATD_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let listing2 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/ddos_tb_2_lev.eclat"
    ))
    .unwrap();
    let defines = [("DEVNAME", "v0"), ("COLLECTOR_IFINDEX", "1")];
    let mut load_time = std::time::Duration::ZERO;
    let mut cycle = |c: &mut support::Client| {
        let t = std::time::Instant::now();
        c.load("soak", "ddos_tb_2_lev.eclat", &listing2, &defines)
            .expect("load");
        load_time += t.elapsed();
        c.unload("soak").expect("unload");
    };
    // Warm up: the first loads allocate what is reused afterwards (runtime threads,
    // allocator arenas, the compiled-object cache).
    for _ in 0..3 {
        cycle(&mut c);
    }
    let before = holdings(d.pid());
    let pins_before = files_under(&d.pin_dir());
    let start = std::time::Instant::now();
    for _ in 0..cycles {
        cycle(&mut c);
    }
    let elapsed = start.elapsed();
    println!(
        "load {:.1} ms per cycle (warm-up included)",
        load_time.as_secs_f64() * 1e3 / (cycles + 3) as f64
    );
    let after = holdings(d.pid());
    let pins_after = files_under(&d.pin_dir());
    println!(
        "{cycles} load/unload cycles of Listing 2 in {:.1} s ({:.1} ms per cycle): daemon fds {} -> {}, bpf progs {} -> {}, maps {} -> {}, links {} -> {}, pins {} -> {}, rss {} -> {} KiB",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / cycles as f64,
        before.fds,
        after.fds,
        before.progs,
        after.progs,
        before.maps,
        after.maps,
        before.links,
        after.links,
        pins_before.len(),
        pins_after.len(),
        before.rss_kib,
        after.rss_kib
    );
    assert_eq!(
        (after.fds, after.progs, after.maps, after.links),
        (before.fds, before.progs, before.maps, before.links),
        "descriptors and BPF objects held by the daemon"
    );
    assert_eq!(pins_after, pins_before, "pins");
    assert_eq!(ns.xdp_prog("v0"), 0);
    // Memory: a leak of even one small allocation per cycle over 1,000 cycles would show;
    // allow the allocator's own slack.
    assert!(
        after.rss_kib <= before.rss_kib + 8 * 1024,
        "rss grew from {} to {} KiB",
        before.rss_kib,
        after.rss_kib
    );
}

/// A script of `chains` chains (the first calls the others), attached nowhere.
fn many_chains(chains: usize) -> String {
    let mut s = String::from(
        "from programs.net import hike_drop, monitor\nfrom loaders.basic import ip6_sc\n\nip6_sc[ip6_sc_map] = { (0): (c0) }\n\ndef c0():\n",
    );
    for i in 1..chains {
        s.push_str(&format!("    c{i}()\n"));
    }
    s.push_str("    hike_drop()\n    return 0\n");
    for i in 1..chains {
        s.push_str(&format!("\ndef c{i}():\n    monitor({i})\n    return 0\n"));
    }
    s
}

#[test]
fn a_hundred_scripts_and_a_thousand_chains_load_list_and_unload() {
    let d = Daemon::start(None);
    let mut c = d.client();
    let script = many_chains(10);
    for i in 0..100 {
        c.load(&format!("s{i}"), "many.eclat", &script, &[])
            .unwrap_or_else(|e| panic!("load s{i}: {}", e.message()));
    }
    let list = c.list();
    assert_eq!(list.scripts.len(), 100);
    let chains: usize = list.scripts.iter().map(|s| s.chains.len()).sum();
    assert_eq!(chains, 1000);
    let mut ids: Vec<u32> = list
        .scripts
        .iter()
        .flat_map(|s| s.chains.iter().map(|c| c.id))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "every chain has its own ID");
    assert_eq!(list.programs.len(), 2, "shared by all");
    // The chain table is full: one more chain is refused, and nothing changes.
    let e = c
        .load("over", "over.eclat", &many_chains(25), &[])
        .expect_err("1,024 chains at most");
    assert!(e.message().contains("chains"), "{}", e.message());
    assert_eq!(c.list().scripts.len(), 100);
    for i in 0..100 {
        c.unload(&format!("s{i}")).expect("unload");
    }
    let list = c.list();
    assert!(list.scripts.is_empty() && list.programs.is_empty());
}
