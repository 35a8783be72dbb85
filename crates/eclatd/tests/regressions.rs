//! Small defects found by an adversarial probe, each with the test that keeps it fixed:
//! counters that followed a reused chain ID or program slot to its next owner, table-full
//! messages with wrong numbers, list lengths reported as bytes, and a key outside an array
//! map answered with the kernel's `Argument list too long`. Needs root.

mod support;

use support::{count_and_drop, frames, Daemon, Netns};

#[test]
fn a_reused_chain_id_and_program_slot_start_with_zero_counters() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load(
        "first",
        "first.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "v0")],
    )
    .expect("load");
    ns.send("v1", &frames("fc00::1", "fc00::2", 6));
    let stats = c.stats("first").unwrap();
    let chain = &stats.scripts[0].chains[0];
    assert_eq!(chain.runs, 6);
    let first_chain_id = chain.id;
    c.unload("first").expect("unload");
    // The next script gets the same (lowest free) chain ID and program slots.
    c.load(
        "second",
        "second.eclat",
        &count_and_drop(2),
        &[("DEVNAME", "v0")],
    )
    .expect("load");
    let stats = c.stats("second").unwrap();
    let s = &stats.scripts[0];
    assert_eq!(s.chains[0].id, first_chain_id, "the ID is reused");
    assert_eq!(
        s.chains[0].runs, 0,
        "the previous owner's runs are not shown"
    );
    assert!(
        s.programs.iter().all(|p| p.calls == 0),
        "the previous owner's calls are not shown: {:?}",
        s.programs
    );
}

#[test]
fn a_script_too_big_for_the_chain_table_is_told_the_real_numbers() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load(
        "small",
        "small.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "v0")],
    )
    .expect("load");
    // 1,100 chains where 1,023 of the 1,024 IDs are free.
    let mut big = String::from(
        "from programs.net import hike_drop\nfrom loaders.basic import ip6_sc\n\
         ip6_sc[ip6_sc_map] = { (0): (c0) }\n",
    );
    for i in 0..1100 {
        big.push_str(&format!("\ndef c{i}():\n    hike_drop()\n    return 0\n"));
    }
    let e = c.load("big", "big.eclat", &big, &[]).unwrap_err();
    assert!(
        e.message().contains(
            "the script needs 1100 chains, but only 1023 of the vm's 1024 chains slots are free"
        ),
        "{}",
        e.message()
    );
}

#[test]
fn lists_over_their_limit_are_counted_in_entries() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let defines: Vec<(String, String)> = (0..300).map(|i| (format!("D{i}"), "1".into())).collect();
    let defines: Vec<(&str, &str)> = defines
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let e = c
        .load("many", "many.eclat", &count_and_drop(1), &defines)
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        e.message(),
        "the list of definitions has 300 entries, over the limit of 256"
    );
}

#[test]
fn a_key_outside_an_array_map_is_refused_with_its_range() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load("arr", "arr.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    let e = c.set("arr", "ip6_sc.ip6_sc_map", "5", "null").unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
    assert!(
        e.message()
            .contains("key 5 is outside this array map: its only key is 0"),
        "{}",
        e.message()
    );
    let e = c.get("arr", "ip6_sc.ip6_sc_map", "5").unwrap_err();
    assert!(
        e.message().contains("outside this array map"),
        "{}",
        e.message()
    );
}

/// The state file refuses a script's file name over 4096 bytes: a load must not record one,
/// or the next start refuses the state file the daemon wrote itself.
#[test]
fn a_file_name_the_state_file_would_refuse_is_refused_by_the_load() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let file_name = format!("{}.eclat", "f".repeat(5000));
    let r = c.load("long", &file_name, &count_and_drop(1), &[("DEVNAME", "v0")]);
    drop(c);
    d.stop();
    assert!(
        d.try_spawn(),
        "the daemon refused the state file it wrote:\n{}",
        d.log.lock().unwrap()
    );
    let e = r.expect_err("a file name over the limit");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
}

/// Calls `List` with Debian's grpc-python (installed by `make deps`) on the daemon's socket:
/// once with default settings, once with the `:authority` newer grpc-python sends by default
/// over a Unix socket (the socket's path, percent-encoded), which `h2` alone refuses.
#[test]
fn a_standard_grpc_client_can_call_list() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let encoded = d
        .socket
        .display()
        .to_string()
        .trim_start_matches('/')
        .replace('/', "%2F");
    let client = r#"
import sys, grpc
options = [("grpc.default_authority", sys.argv[2])] if len(sys.argv) > 2 else []
channel = grpc.insecure_channel("unix:" + sys.argv[1], options=options)
call = channel.unary_unary("/eclat.v1.Eclat/List",
    request_serializer=lambda m: m, response_deserializer=lambda b: b)
reply = call(b"", timeout=20)
print("instance" if d_instance.encode() in reply else "no instance")
"#
    .replace("d_instance", &format!("{:?}", d.instance));
    for extra in [None, Some(encoded.as_str())] {
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.arg("-c").arg(&client).arg(&d.socket);
        cmd.args(extra);
        let out = cmd
            .output()
            .expect("run /usr/bin/python3 (make deps installs python3-grpcio)");
        assert!(
            out.status.success(),
            "authority {extra:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "instance");
    }
}

#[test]
fn a_program_gone_from_bpffs_leaves_a_state_the_next_start_accepts() {
    let ns = Netns::new();
    let mut d = Daemon::start(Some(&ns));
    let mut c = d.client();
    c.load(
        "gone",
        "gone.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "v0")],
    )
    .expect("load");
    let slot = c.list().programs[0].id;
    drop(c);
    d.kill9();
    // Tampering: a program's pins removed by hand.
    std::fs::remove_dir_all(d.pin_dir().join("progs").join(slot.to_string())).unwrap();
    d.spawn();
    assert!(
        d.wait_for_log("is gone from bpffs"),
        "{}",
        d.log.lock().unwrap()
    );
    d.stop();
    d.log.lock().unwrap().clear();
    assert!(d.try_spawn(), "{}", d.log.lock().unwrap());
    let mut c = d.client();
    assert_eq!(c.list().scripts.len(), 1);
    c.load(
        "gone",
        "gone.eclat",
        &count_and_drop(1),
        &[("DEVNAME", "v0")],
    )
    .expect("loading it again gives it its program back");
    let list = c.list();
    assert!(
        list.programs.iter().all(|p| p.kernel_id != 0),
        "every program is back in its slot: {:?}",
        list.programs
    );
    let before = c.monitor("gone").get(&1).copied().unwrap_or(0);
    ns.send("v1", &frames("fc00::1", "fc00::2", 2));
    assert_eq!(c.monitor("gone").get(&1).copied().unwrap_or(0), before + 2);
    let stats = c.stats("gone").unwrap();
    assert!(
        stats.faults.iter().all(|f| f.count == 0),
        "{:?}",
        stats.faults
    );
}
