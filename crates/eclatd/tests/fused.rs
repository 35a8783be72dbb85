//! Fused mode in the daemon: a script loaded with `mode: fused` runs as one XDP program (its
//! loader, chains and program bodies) on the same program maps as interpreted; switching
//! between modes is a replace (the link switched, the programs' maps kept), list says the
//! mode, stats count chain runs and program calls, and after kill -9 the restarted daemon
//! adopts the fused script as it was. Needs root.

mod support;

use support::{count_and_drop, frames, Daemon, Netns};

#[test]
fn a_fused_script_runs_counts_switches_modes_and_survives_a_restart() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let script = count_and_drop(7);
    let devname = [("DEVNAME", "v0")];
    let r = c
        .load_mode("fz", "fz.eclat", &script, &devname, "fused")
        .expect("load fused");
    let loaded = r.script.expect("the script");
    assert_eq!(loaded.mode, "fused");
    let fused_id = loaded.loader.as_ref().unwrap().kernel_id;
    assert_eq!(ns.xdp_prog("v0"), fused_id, "the fused program is attached");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 10)), 10);
    assert_eq!(c.monitor("fz").get(&7), Some(&10));
    let stats = c.stats("fz").expect("stats");
    assert_eq!(stats.scripts[0].chains[0].runs, 10, "chain runs counted");
    assert!(
        stats.scripts[0].programs.iter().all(|p| p.calls == 10),
        "program calls counted: {:?}",
        stats.scripts[0].programs
    );
    assert_eq!(c.list().scripts[0].mode, "fused");

    // Interpreted: a replace; the monitor's map is the same one, its count goes on.
    let r = c
        .load_mode("fz", "fz.eclat", &script, &devname, "interpreted")
        .expect("replace interpreted");
    assert!(r.replaced);
    assert_eq!(r.script.as_ref().unwrap().mode, "interpreted");
    let interp_id = r.script.unwrap().loader.unwrap().kernel_id;
    assert_ne!(interp_id, fused_id);
    assert_eq!(ns.xdp_prog("v0"), interp_id);
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 5)), 5);
    assert_eq!(
        c.monitor("fz").get(&7),
        Some(&15),
        "state kept across modes"
    );

    // And back to fused, then kill -9: the restarted daemon adopts it, fused.
    c.load_mode("fz", "fz.eclat", &script, &devname, "fused")
        .expect("replace fused");
    let fused_id = c.list().scripts[0].loader.as_ref().unwrap().kernel_id;
    drop(c);
    d.kill9();
    assert_eq!(ns.xdp_prog("v0"), fused_id);
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 5)), 5);
    d.spawn();
    let mut c = d.client();
    let list = c.list();
    assert_eq!(
        list.scripts[0].mode, "fused",
        "the mode is in the state file"
    );
    assert_eq!(list.scripts[0].loader.as_ref().unwrap().kernel_id, fused_id);
    assert_eq!(c.monitor("fz").get(&7), Some(&20));
    c.unload("fz").expect("unload");
    assert_eq!(ns.xdp_prog("v0"), 0);
}

#[test]
fn an_unknown_mode_is_refused_with_the_modes() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let e = c
        .load_mode(
            "m",
            "m.eclat",
            &count_and_drop(1),
            &[("DEVNAME", "v0")],
            "jit",
        )
        .expect_err("refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("`interpreted` and `fused`"),
        "{}",
        e.message()
    );
}
