//! Fused mode in the daemon: a script loaded with `mode: fused` runs as one XDP program (its
//! loader, chains and program bodies) on the same program maps as interpreted; switching
//! between modes is a replace (the link switched, the programs' maps kept), list says the
//! mode, stats count chain runs and program calls, and after kill -9 the restarted daemon
//! adopts the fused script as it was; the same at `tc_ingress`. A fused script the verifier
//! refuses is a diagnostic (the chain and its `def` in the client's file, the verifier's last
//! lines, the saved log, the advice to load it interpreted) and changes nothing: the version
//! it would have replaced runs on. Needs root.

mod support;

use hike_testkit::unverifiable;
use support::{count_and_drop, files_under, frames, Daemon, Netns};

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

/// The programs at `v0`'s `tc_ingress`, in the order packets meet them.
fn tc_ingress_programs(ns: &Netns) -> Vec<u32> {
    let idx = ns.ifindex("v0");
    ns.run_in(move || {
        hike_runtime::tc_programs(idx, hike_runtime::Hook::TcIngress).expect("query tcx")
    })
}

#[test]
fn a_fused_script_at_tc_ingress_runs_counts_and_switches_modes() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let script = count_and_drop(5).replace("'xdp'", "'tc_ingress'");
    let devname = [("DEVNAME", "v0")];
    let r = c
        .load_mode("tz", "tz.eclat", &script, &devname, "fused")
        .expect("load fused at tc_ingress");
    let loaded = r.script.expect("the script");
    assert_eq!(loaded.mode, "fused");
    let fused_id = loaded.loader.as_ref().unwrap().kernel_id;
    assert_eq!(
        tc_ingress_programs(&ns),
        [fused_id],
        "the fused program at tcx"
    );
    assert_eq!(ns.xdp_prog("v0"), 0, "nothing at xdp");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 10)), 10);
    assert_eq!(c.monitor("tz").get(&5), Some(&10));
    let stats = c.stats("tz").expect("stats");
    assert_eq!(stats.scripts[0].chains[0].runs, 10, "chain runs counted");

    // Interpreted: a replace at the hook; the monitor's count goes on.
    let r = c
        .load_mode("tz", "tz.eclat", &script, &devname, "interpreted")
        .expect("replace interpreted");
    assert!(r.replaced);
    let interp_id = r.script.unwrap().loader.unwrap().kernel_id;
    assert_eq!(tc_ingress_programs(&ns), [interp_id]);
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 5)), 5);
    assert_eq!(
        c.monitor("tz").get(&5),
        Some(&15),
        "state kept across modes"
    );
    c.unload("tz").expect("unload");
    assert!(tc_ingress_programs(&ns).is_empty());
}

/// The path after `full verifier log: ` in `message`.
fn saved_log(message: &str) -> std::path::PathBuf {
    let at = message
        .find("full verifier log: ")
        .unwrap_or_else(|| panic!("no log path in:\n{message}"));
    let rest = &message[at + "full verifier log: ".len()..];
    rest.lines().next().unwrap().trim().into()
}

/// Asserts that `e` is the refusal of the fused build of [`unverifiable::script`] loaded as
/// `script` from `file` (its chain defined at `def_line`), and removes the saved log.
fn assert_refusal(e: &tonic::Status, script: &str, file: &str, def_line: u32) {
    let m = e.message();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{m}");
    for expected in [
        format!("script `{script}` (nothing was changed)"),
        format!(
            "the verifier stopped in chain `{}` ({file}:{def_line})",
            unverifiable::CHAIN
        ),
        "BPF program is too large. Processed 1000001 insn".to_owned(),
        "help: load the script interpreted (--mode interpreted)".to_owned(),
    ] {
        assert!(m.contains(&expected), "missing {expected:?} in:\n{m}");
    }
    let log = saved_log(m);
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("the saved log {}: {e}", log.display()));
    let base = file.rsplit('/').next().unwrap();
    assert!(
        text.starts_with("0: R1=ctx()"),
        "the whole log, from the start"
    );
    assert!(text.contains("processed 1000001 insns (limit 1000000)"));
    assert!(
        text.contains(&format!(" @ {base}:{def_line}")),
        "the line info names the client's file"
    );
    std::fs::remove_file(&log).expect("remove the saved log");
}

#[test]
fn a_fused_script_the_verifier_refuses_is_a_diagnostic_and_changes_nothing() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let devname = [("DEVNAME", "v0")];
    // The version that runs: interpreted, counting under key 7 and dropping.
    c.load_mode(
        "br",
        "scripts/br.eclat",
        &count_and_drop(7),
        &devname,
        "interpreted",
    )
    .expect("load interpreted");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 4)), 4);
    assert_eq!(c.monitor("br").get(&7), Some(&4));
    let attached = ns.xdp_prog("v0");
    let pins = files_under(&d.pin_dir());
    let list = c.list();

    // A new version the verifier refuses fused (it loads interpreted: see
    // hike_testkit::unverifiable), counting under key 9.
    let (branchy, def_line) = unverifiable::script("xdp", 9);
    let e = c
        .load_mode("br", "scripts/br.eclat", &branchy, &devname, "fused")
        .expect_err("the verifier refuses the fused build");
    assert_refusal(&e, "br", "scripts/br.eclat", def_line);
    assert_eq!(
        ns.xdp_prog("v0"),
        attached,
        "the old version stays attached"
    );
    assert_eq!(files_under(&d.pin_dir()), pins, "no new pin, none removed");
    assert_eq!(c.list(), list, "the list is unchanged");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 3)), 3);
    let counts = c.monitor("br");
    assert_eq!(
        counts.get(&7),
        Some(&7),
        "the old version runs on: {counts:?}"
    );
    assert_eq!(counts.get(&9), None, "the new one never ran: {counts:?}");

    // A new script, refused the same way, leaves its interface as it was.
    let e = c
        .load_mode("br2", "br2.eclat", &branchy, &[("DEVNAME", "v1")], "fused")
        .expect_err("refused");
    assert_refusal(&e, "br2", "br2.eclat", def_line);
    assert_eq!(ns.xdp_prog("v1"), 0, "nothing attached");
    assert_eq!(files_under(&d.pin_dir()), pins);
    assert_eq!(c.list(), list);

    // Interpreted, it loads: the refusal was the verifier's, not the script's.
    let r = c
        .load_mode("br", "scripts/br.eclat", &branchy, &devname, "interpreted")
        .expect("the same script loads interpreted");
    assert!(r.replaced);
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 2)), 2);
    assert_eq!(c.monitor("br").get(&9), Some(&2));
    c.unload("br").expect("unload");
}
