//! Kernel tests (root) of `eclat run`: scripts loaded into a private VM (attached nowhere,
//! removed when the process exits), packets through their loader with BPF_PROG_TEST_RUN, and
//! the `--json` contract (README, "Run a script against packets"). Every run is its own process with its own private VM,
//! so tests run in parallel and leave nothing behind.

mod support;

use hike_testkit::packet::{arp, hex, internet_checksum, ipv4_udp, ipv6_udp, A4, A6, B4, B6, C6};
use serde_json::{json, Value};
use support::{eclat, eclat_env, json_lines, repo, text, verdicts, TempDir};

/// `eclat run SCRIPT --json --packet P...` in the repository; panics unless it exits 0.
fn run_json(script: &std::path::Path, packets: &[Vec<u8>], extra: &[&str]) -> Vec<Value> {
    let hexes: Vec<String> = packets.iter().map(|p| hex(p)).collect();
    let script = script.to_string_lossy().into_owned();
    let mut args = vec!["run", script.as_str(), "--json"];
    for h in &hexes {
        args.extend(["--packet", h.as_str()]);
    }
    args.extend(extra);
    let out = eclat(&args, &repo());
    assert_eq!(
        out.status.code(),
        Some(0),
        "eclat {args:?}\nstderr: {}",
        text(&out.stderr)
    );
    json_lines(&out)
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().expect("a summary line");
    assert!(last.get("summary").is_some(), "last line: {last}");
    last
}

/// The entries of map `name` of the summary line, as `(key, value)`.
fn map_entries(lines: &[Value], name: &str) -> Vec<(Value, Value)> {
    summary(lines)["maps"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no map {name} in {}", summary(lines)))
        .iter()
        .map(|e| (e["key"].clone(), e["value"].clone()))
        .collect()
}

fn corpus(name: &str) -> std::path::PathBuf {
    repo().join("crates/eclat-compiler/tests/corpus").join(name)
}

#[test]
fn kernel_run_listing2_on_the_flood_pcap() {
    let out = eclat(
        &[
            "run",
            "examples/ddos_tb_2_lev.eclat",
            "--pcap",
            "examples/flood.pcap",
            "--json",
            "-D",
            "COLLECTOR_IFINDEX=6",
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), support::FLOOD_PACKETS + 1);
    let v = verdicts(&lines);
    // The script's buckets hold 100 packets per destination, then 100 more for the pair: 200
    // passes, then the pair is blacklisted (packet 201 is the one that adds it) and dropped,
    // except the 500th blacklisted packet of each round, redirected to ifindex 6 (the
    // collector's, given with -D).
    assert!(v[..200].iter().all(|x| x == "pass"), "{:?}", &v[..210]);
    assert_eq!(v[200], "drop");
    let redirected: Vec<usize> = (0..v.len())
        .filter(|&i| v[i] == "redirect")
        .map(|i| i + 1)
        .collect();
    assert_eq!(redirected, [701, 1201, 1701]);
    assert!(v[201..]
        .iter()
        .enumerate()
        .all(|(i, x)| x == "drop" || redirected.contains(&(i + 202))));
    for n in &redirected {
        assert_eq!(lines[n - 1]["ifindex"], 6, "{}", lines[n - 1]);
    }
    assert!(lines[0].get("ifindex").is_none());

    // Per-packet fields: the packet's number, the packet unchanged, the chain's result, and
    // the trace of what it went through.
    let first = &lines[0];
    assert_eq!(first["packet"], 1);
    let pcap = std::fs::read(repo().join("examples/flood.pcap")).unwrap();
    // The first frame starts after the 24-byte file header and a 16-byte record header.
    let frame = &pcap[40..40 + 70];
    assert_eq!(first["data_out"], hex(frame));
    assert_eq!(first["result"], 0);
    assert_eq!(first["trace"]["chains"], json!({"ddos_tb_2_lev": 1}));
    assert_eq!(
        first["trace"]["programs"],
        json!({"ip6_hset_srcdst": 1, "ip6_dst_tbmon": 1, "monitor": 1, "hike_pass": 1})
    );
    let blacklisted = &lines[300];
    assert_eq!(
        blacklisted["trace"]["programs"],
        json!({"ip6_hset_srcdst": 1, "ip6_sd_dec2zero": 1, "monitor": 1, "hike_drop": 1})
    );

    let s = &summary(&lines)["summary"];
    assert_eq!(
        *s,
        json!({"packets": 2000, "pass": 200, "drop": 1797, "tx": 0, "redirect": 3,
               "aborted": 0, "no_chain": 0, "not_run": 0, "faults": {}, "hook": "xdp"})
    );
    let monitor = map_entries(&lines, "monitor.monitor_map");
    assert_eq!(
        monitor,
        [
            (json!(0), json!({"packets": 200})),
            (json!(1), json!({"packets": 1797})),
            (json!(2), json!({"packets": 3})),
        ]
    );
    let pair = json!({"src": "2001:db8::a", "dst": "2001:db8::b"});
    let hset = map_entries(&lines, "ip6_hset_srcdst.ip6_hset_srcdst_map");
    assert_eq!(hset.len(), 1);
    assert_eq!(hset[0].0, pair);
    assert_eq!(
        map_entries(&lines, "ip6_sd_dec2zero.ip6_sd_dec2zero_map"),
        [(pair, json!({"calls": 1799}))]
    );
    assert_eq!(
        map_entries(&lines, "ip6_dst_tbmon.ip6_dst_tbmon_cfg"),
        [(json!(0), json!({"rate": 1, "bucket_size": 100}))]
    );
}

#[test]
fn kernel_run_human_output_and_non_ip_packets() {
    let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
    let out = eclat(
        &[
            "run",
            "examples/ddos_tb_2_lev.eclat",
            "-D",
            "COLLECTOR_IFINDEX=6",
            "--packet",
            &hex(&pkt),
            "--packet",
            &hex(&arp()),
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "packet 1: udp 2001:db8::a port 1000 → 2001:db8::b port 53, 78 bytes: pass from hike_pass \
             [chains: ddos_tb_2_lev; programs: hike_pass, ip6_hset_srcdst, monitor, ip6_dst_tbmon]\n\
             packet 2: arp, 60 bytes: pass (no chain: the loader's default verdict)\n\
             2 packets: 2 pass (1 without a chain)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("monitor.monitor_map (1 entry):\n  0: {\"packets\":1}\n"),
        "{stdout}"
    );
}

#[test]
fn kernel_run_loader_default_verdict_is_configurable_from_the_script() {
    let dir = TempDir::new("verdicts");
    let script = dir.write(
        "verdicts.eclat",
        "from programs.net import monitor
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (count) }
# default verdict XDP_DROP (1), fail-safe XDP_ABORTED (0), HIKE_LDR_VERDICTS_SET
ip6_sc[hike_ldr_cfg] = { (0): (1, 0, 1, 0) }
def count():
    monitor(5)
    return 42
",
    );
    let lines = run_json(&script, &[arp(), ipv6_udp(A6, B6, 1, 2, 0)], &[]);
    // ARP: no chain, the configured default verdict. IPv6: the chain returns, so the default
    // verdict again, with the chain's result.
    assert_eq!(verdicts(&lines), ["drop", "drop"]);
    assert_eq!(lines[0]["no_chain"], true);
    assert!(lines[0].get("result").is_none());
    assert!(lines[1].get("no_chain").is_none());
    assert_eq!(lines[1]["result"], 42);
    assert_eq!(summary(&lines)["summary"]["no_chain"], 1);
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [(json!(5), json!({"packets": 1}))]
    );
}

#[test]
fn kernel_run_defines_replace_placeholders() {
    let dir = TempDir::new("defines");
    let script = dir.write(
        "defines.eclat",
        "from programs.net import monitor, hike_pass
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (count) }
ip6_sc.attach('DEVNAME', 'xdp')
def count():
    monitor(EVENT)
    hike_pass()
",
    );
    let pkt = ipv6_udp(A6, B6, 1, 2, 0);
    let lines = run_json(
        &script,
        std::slice::from_ref(&pkt),
        &["-D", "EVENT=7", "-D", "DEVNAME=lo"],
    );
    assert_eq!(verdicts(&lines), ["pass"]);
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [(json!(7), json!({"packets": 1}))]
    );
    // Without the define, `EVENT` is an unknown name: a compile error, exit 1, nothing run.
    let s = script.to_string_lossy().into_owned();
    let out = eclat(&["run", &s, "--packet", &hex(&pkt)], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`EVENT`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
    // A malformed define is a usage error.
    let out = eclat(&["run", &s, "--packet", &hex(&pkt), "-D", "1X=2"], &repo());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn kernel_run_ip6_dst_cls_routes_by_destination_and_ipv4_addresses() {
    let dir = TempDir::new("dst-cls");
    let script = dir.write(
        "dst.eclat",
        "from programs.net import monitor, hike_pass, hike_drop
from programs.hike_default import ip4_hset_srcdst
from loaders.basic import ip6_dst_cls
ip6_dst_cls[ip6_dst_cls_map] = {
    ('2001:db8::b'): (to_b),
    ('2001:db8::c'): (to_c),
}
# an IPv4 pair, written as a string and as its number (192.0.2.11)
ip4_hset_srcdst[ip4_hset_srcdst_map] = { ('192.0.2.10', 0xc000020b): (0) }
def to_b():
    monitor(11)
    hike_pass()
def to_c():
    monitor(12)
    hike_drop()
",
    );
    let packets = [
        ipv6_udp(A6, B6, 1, 2, 0),
        ipv6_udp(A6, C6, 1, 2, 0),
        ipv6_udp(B6, A6, 1, 2, 0),
    ];
    let lines = run_json(&script, &packets, &[]);
    assert_eq!(verdicts(&lines), ["pass", "drop", "pass"]);
    assert_eq!(lines[0]["trace"]["chains"], json!({"to_b": 1}));
    assert_eq!(lines[1]["trace"]["chains"], json!({"to_c": 1}));
    assert_eq!(lines[2]["no_chain"], true, "no entry for 2001:db8::a");
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [
            (json!(11), json!({"packets": 1})),
            (json!(12), json!({"packets": 1}))
        ]
    );
    let ip4 = map_entries(&lines, "ip4_hset_srcdst.ip4_hset_srcdst_map");
    assert_eq!(ip4.len(), 1);
    assert_eq!(ip4[0].0, json!({"src": "192.0.2.10", "dst": "192.0.2.11"}));
}

#[test]
fn kernel_run_gives_no_result_for_a_chain_that_returns_no_value() {
    let dir = TempDir::new("novalue");
    let script = dir.write(
        "novalue.eclat",
        "from programs.net import monitor
from loaders.basic import ip6_sc, ip4_sc
ip6_sc[ipv6_sc_map] = { (0): (count) }
ip4_sc[ipv4_sc_map] = { (0): (valued) }
# No `return VALUE`: its r0 is whatever `tally`'s last call left, not a result.
def count():
    monitor(5)
    tally(6)
def tally(x):
    monitor(x)
def valued():
    tally(7)
    return 42
",
    );
    // The chain that the loader booted decides, not the chains it called.
    let lines = run_json(
        &script,
        &[ipv6_udp(A6, B6, 1, 2, 0)],
        &["--loader", "ip6_sc"],
    );
    assert_eq!(verdicts(&lines), ["pass"]);
    assert_eq!(lines[0]["trace"]["chains"], json!({"count": 1, "tally": 1}));
    assert!(lines[0].get("result").is_none(), "{}", lines[0]);
    assert!(lines[0].get("fault").is_none(), "{}", lines[0]);
    let lines = run_json(
        &script,
        &[ipv4_udp(A4, B4, 1, 2, 0)],
        &["--loader", "ip4_sc"],
    );
    assert_eq!(
        lines[0]["trace"]["chains"],
        json!({"valued": 1, "tally": 1})
    );
    assert_eq!(lines[0]["result"], 42);
}

#[test]
fn kernel_run_ipv4_loader_and_packet_writes() {
    let dir = TempDir::new("ipv4");
    let script = dir.write(
        "v4.eclat",
        "from programs.hike_default import ip4_set_tos, hike_pass
from loaders.basic import ip4_sc
ip4_sc[ipv4_sc_map] = { (0): (mark) }
def mark():
    ip4_set_tos(0xb8)
    hike_pass()
",
    );
    let pkt = ipv4_udp(A4, B4, 1000, 53, 8);
    let lines = run_json(&script, &[pkt.clone(), ipv6_udp(A6, B6, 1, 2, 0)], &[]);
    assert_eq!(verdicts(&lines), ["pass", "pass"]);
    let out = hex_bytes(lines[0]["data_out"].as_str().unwrap());
    assert_eq!(out.len(), pkt.len());
    assert_eq!(out[15], 0xb8, "TOS written");
    assert_eq!(
        internet_checksum(&out[14..34]),
        0,
        "header checksum still valid"
    );
    assert_eq!(&out[..15], &pkt[..15]);
    assert_eq!(lines[1]["no_chain"], true, "IPv6 has no chain in ip4_sc");
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn kernel_run_reports_a_fault_with_its_chain_and_instruction() {
    let dir = TempDir::new("fault");
    let script = dir.write(
        "fault.eclat",
        "from programs.net import hike_pass
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (peek) }
def peek():
    u64 : x = packet.u8[4000]
    if x == 1:
        hike_pass()
    return x
",
    );
    let lines = run_json(&script, &[ipv6_udp(A6, B6, 1, 2, 0)], &[]);
    assert_eq!(verdicts(&lines), ["aborted"], "the fail-safe verdict");
    let f = &lines[0]["fault"];
    assert_eq!(f["reason"], "pkt_out_of_bounds");
    assert_eq!(f["chain"], "peek");
    assert!(f["pc"].is_u64());
    assert!(lines[0].get("result").is_none());
    assert_eq!(
        summary(&lines)["summary"]["faults"],
        json!({"pkt_out_of_bounds": 1})
    );
}

#[test]
fn kernel_run_corpus_scripts_on_sample_packets() {
    let v6 = ipv6_udp(A6, B6, 1000, 53, 16);
    // Scripts that show a packet's headers and pass it (events go to the VM's ring).
    for (script, extra_program) in [
        ("basic_example.eclat", "show_pkt_info"),
        ("print_example.eclat", "show_pkt_info"),
        ("test_operations.eclat", "show_pkt_info"),
    ] {
        let lines = run_json(&corpus(script), &[v6.clone(), arp()], &[]);
        assert_eq!(verdicts(&lines), ["pass", "pass"], "{script}");
        assert_eq!(lines[0]["trace"]["programs"][extra_program], 1, "{script}");
        assert_eq!(
            lines[1]["no_chain"], true,
            "{script}: ARP gets the default verdict"
        );
    }
    // The DDoS scripts with their default buckets: a few packets are within profile.
    for script in [
        "ddos_tb.eclat",
        "ddos_tb_sd.eclat",
        "ddos_tb_2_levels.eclat",
        "ddos_tb_2_levels_sample_constants.eclat",
        "ddos_sd_down2zero.eclat",
    ] {
        let lines = run_json(&corpus(script), &[v6.clone(), v6.clone(), v6.clone()], &[]);
        assert_eq!(verdicts(&lines), ["pass", "pass", "pass"], "{script}");
        assert_eq!(
            map_entries(&lines, "monitor.monitor_map"),
            [(json!(0), json!({"packets": 3}))],
            "{script}"
        );
    }
}

#[test]
fn kernel_run_corpus_ddos_scripts_blacklist_a_flood() {
    // The corpus scripts as written, plus buckets of 2 packets (the originals fixed them at
    // compile time; here they are map configuration).
    let dir = TempDir::new("corpus-flood");
    let v6 = ipv6_udp(A6, B6, 1000, 53, 16);
    let flood = |n: usize| vec![v6.clone(); n];
    let with_buckets = |name: &str, config: &str| {
        let src = std::fs::read_to_string(corpus(name)).unwrap();
        dir.write(name, format!("{src}\n{config}\n"))
    };
    let sd = "ip6_sd_tbmon[ip6_sd_tbmon_cfg] = { (0): (1, 2) }";
    let dst = "ip6_dst_tbmon[ip6_dst_tbmon_cfg] = { (0): (1, 2) }";

    // ddos_tb / ddos_tb_sd: two packets in profile, the third is out of profile (blacklisted
    // and dropped), then the blacklist drops the pair.
    for name in ["ddos_tb.eclat", "ddos_tb_sd.eclat"] {
        let lines = run_json(&with_buckets(name, sd), &flood(6), &[]);
        assert_eq!(
            verdicts(&lines),
            ["pass", "pass", "drop", "drop", "drop", "drop"],
            "{name}"
        );
        let hset = map_entries(&lines, "ip6_hset_srcdst.ip6_hset_srcdst_map");
        assert_eq!(hset.len(), 1, "{name}: the pair is blacklisted");
    }
    let lines = run_json(&with_buckets("ddos_tb_sd.eclat", sd), &flood(6), &[]);
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [
            (json!(0), json!({"packets": 2})),
            (json!(1), json!({"packets": 4}))
        ]
    );

    // Two levels: two packets within the destination's bucket, two more within the pair's.
    let lines = run_json(
        &with_buckets("ddos_tb_2_levels.eclat", &format!("{dst}\n{sd}")),
        &flood(7),
        &[],
    );
    assert_eq!(
        verdicts(&lines),
        ["pass", "pass", "pass", "pass", "drop", "drop", "drop"]
    );

    // The sampling variant: after the blacklisting, the 500th blacklisted packet goes to
    // ifindex 6.
    let lines = run_json(
        &with_buckets(
            "ddos_tb_2_levels_sample_constants.eclat",
            &format!("{dst}\n{sd}"),
        ),
        &flood(505),
        &[],
    );
    let v = verdicts(&lines);
    assert_eq!(&v[..5], ["pass", "pass", "pass", "pass", "drop"]);
    assert_eq!(v[504], "redirect");
    assert_eq!(lines[504]["ifindex"], 6);
    assert!(v[5..504].iter().all(|x| x == "drop"));

    // dec2zero(10): every blacklisted packet is dropped, one in ten also counted as event 2.
    let lines = run_json(
        &with_buckets("ddos_sd_down2zero.eclat", sd),
        &flood(23),
        &[],
    );
    let v = verdicts(&lines);
    assert_eq!(&v[..3], ["pass", "pass", "drop"]);
    assert!(v[3..].iter().all(|x| x == "drop"));
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [
            (json!(0), json!({"packets": 2})),
            (json!(1), json!({"packets": 21})),
            (json!(2), json!({"packets": 2}))
        ]
    );
}

#[test]
fn kernel_run_user_package_is_compiled_once_and_cached() {
    let dir = TempDir::new("user-pkg");
    let cache = TempDir::new("user-cache");
    dir.write(
        "pkgs/mine/pkt_len.bpf.c",
        "// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <hike/sdk.h>

/* pkt_len() -> the packet's length in bytes. */
HIKE_PROG(pkt_len)
{
\tHIKE_RETURN(ctx->data_end - ctx->data);
}

char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
",
    );
    let script = dir.write(
        "len.eclat",
        "from programs.mine import pkt_len
from programs.net import monitor, hike_pass
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (count_len) }
def count_len():
    monitor(pkt_len())
    hike_pass()
",
    );
    let pkgs = dir.path().join("pkgs");
    let args = |p: &[u8]| {
        vec![
            "run".to_owned(),
            script.to_string_lossy().into_owned(),
            "--package-dir".to_owned(),
            pkgs.to_string_lossy().into_owned(),
            "--packet".to_owned(),
            hex(p),
            "--json".to_owned(),
        ]
    };
    let pkt = ipv6_udp(A6, B6, 1, 2, 10);
    let cache_dir = cache.path().to_string_lossy().into_owned();
    let run = |env: &[(&str, &str)]| {
        let a = args(&pkt);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = eclat_env(&a, &repo(), env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        json_lines(&out)
    };
    let lines = run(&[("ECLAT_CACHE_DIR", &cache_dir)]);
    assert_eq!(verdicts(&lines), ["pass"]);
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [(json!(pkt.len()), json!({"packets": 1}))]
    );
    // The object is cached: a second run needs no compiler at all.
    let lines = run(&[
        ("ECLAT_CACHE_DIR", &cache_dir),
        ("HIKE_CLANG", "/nonexistent/clang"),
    ]);
    assert_eq!(verdicts(&lines), ["pass"]);
    let objects = std::fs::read_dir(cache.path().join("objects"))
        .unwrap()
        .count();
    assert_eq!(objects, 2, "the object's XDP and TC builds in the cache");
    // The wizard's program runs unchanged at TC, from its cached TC build.
    let mut a = args(&pkt);
    a.extend(["--hook".to_owned(), "tc_ingress".to_owned()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = eclat_env(
        &a,
        &repo(),
        &[
            ("ECLAT_CACHE_DIR", &cache_dir),
            ("HIKE_CLANG", "/nonexistent/clang"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(verdicts(&lines), ["pass"]);
    assert_eq!(summary(&lines)["summary"]["hook"], "tc_ingress");
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [(json!(pkt.len()), json!({"packets": 1}))],
        "the same length at TC"
    );
}

#[test]
fn kernel_run_ctrl_c_stops_between_packets_and_reports() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    // Enough packets to take many seconds: the run is interrupted long before the end.
    let dir = TempDir::new("ctrl-c");
    let frames = vec![ipv6_udp(A6, B6, 1, 2, 0); 100_000];
    let pcap = dir.write("long.pcap", support::pcap(&frames, 0, 1));
    let mut child = Command::new(env!("CARGO_BIN_EXE_eclat"))
        .args(["run", "examples/ddos_tb_2_lev.eclat", "--json"])
        .args(["-D", "COLLECTOR_IFINDEX=6", "--pcap"])
        .arg(&pcap)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eclat runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"packet\":1,"), "{first}");
    // SAFETY: kill has no memory-safety preconditions; the pid is our live child's.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let rest: Vec<String> = stdout.lines().map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let last: Value = serde_json::from_str(rest.last().expect("a summary line")).unwrap();
    assert_eq!(last["summary"]["interrupted"], true);
    let n = last["summary"]["packets"].as_u64().unwrap();
    assert!(n > 0 && n < 100_000, "{n}");
    assert_eq!(rest.len() as u64, n, "every packet that ran was reported");
}

#[test]
fn kernel_run_loads_the_chains_of_imported_scripts() {
    let dir = TempDir::new("imports");
    dir.write(
        "lib.eclat",
        "from programs.hike_default import monitor
def count(event):
    monitor(event + OFFSET)
    return 1
",
    );
    let main = dir.write(
        "main.eclat",
        "from chains.lib import count
from programs.net import monitor, hike_drop
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (top) }
def top():
    if count(2) == 1:
        monitor(1)
        hike_drop()
    return 0
",
    );
    let lines = run_json(&main, &[ipv6_udp(A6, B6, 1, 2, 0)], &["-D", "OFFSET=100"]);
    assert_eq!(verdicts(&lines), ["drop"]);
    assert_eq!(
        lines[0]["trace"]["chains"],
        json!({"top": 1, "count": 1}),
        "both chains ran"
    );
    // `net.monitor` (main) and `hike_default.monitor` (lib) are one program: one map.
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [
            (json!(1), json!({"packets": 1})),
            (json!(102), json!({"packets": 1}))
        ]
    );
}

#[test]
fn kernel_run_imports_chains_written_in_c() {
    let dir = TempDir::new("cchains");
    // `monitor` and `hike_pass` are found in the standard packages (the script imports
    // `net`, which has both); PASS_PORT comes from `-D`, given to clang too.
    dir.write(
        "port_rules.hike.c",
        "#include <hike/chain.h>
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN(hike_pass, 0);

HIKE_CHAIN(dst_port)
{
	return hike_pkt_load_u16(hike_meta()->l4_off + 2);
}

/* base + the UDP destination port, counted in monitor's map; PASS_PORT passes at once. */
HIKE_CHAIN(classify_port, base)
{
	__u64 port = dst_port();
	monitor(base + port);
	if (port == PASS_PORT)
		hike_pass();
	return base + port;
}
",
    );
    let main = dir.write(
        "main.eclat",
        "from chains.port_rules import classify_port
from programs.net import monitor, hike_drop
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (top) }
def top():
    v = classify_port(1000)
    if v == 1002:
        monitor(1)
        hike_drop()
    return v
",
    );
    let lines = run_json(
        &main,
        &[
            ipv6_udp(A6, B6, 1, 2, 0),
            ipv6_udp(A6, B6, 1, 53, 0),
            ipv6_udp(A6, B6, 1, 7, 0),
        ],
        &["-D", "PASS_PORT=53"],
    );
    assert_eq!(verdicts(&lines), ["drop", "pass", "pass"]);
    assert_eq!(
        lines[0]["trace"]["chains"],
        json!({"top": 1, "classify_port": 1, "dst_port": 1})
    );
    assert_eq!(
        lines[0]["trace"]["programs"],
        json!({"monitor": 2, "hike_drop": 1})
    );
    assert_eq!(
        lines[1]["trace"]["programs"],
        json!({"monitor": 1, "hike_pass": 1})
    );
    // The C chain's result reaches the script, which returns it.
    assert_eq!(lines[2]["result"], 1007);
    // The C file's `monitor` and `net.monitor` are one program: one map (entries in key byte
    // order, little-endian: 1053 = 1d 04 before 1002 = ea 03).
    assert_eq!(
        map_entries(&lines, "monitor.monitor_map"),
        [
            (json!(1), json!({"packets": 1})),
            (json!(1053), json!({"packets": 1})),
            (json!(1002), json!({"packets": 1})),
            (json!(1007), json!({"packets": 1})),
        ]
    );
    assert_eq!(summary(&lines)["summary"]["faults"], json!({}));
}

/// The fenced `python` block that follows `heading` in `docs/eclat.md`.
fn doc_example(heading: &str) -> String {
    let doc = std::fs::read_to_string(repo().join("docs/eclat.md")).expect("docs/eclat.md");
    let after = doc
        .split_once(heading)
        .unwrap_or_else(|| panic!("no `{heading}` in docs/eclat.md"))
        .1;
    let block = after.split_once("```python\n").expect("a python block").1;
    block
        .split_once("```")
        .expect("a closed block")
        .0
        .to_owned()
}

#[test]
fn kernel_run_the_ip_sc_example_of_the_docs_serves_both_families() {
    let dir = TempDir::new("ipsc");
    let script = dir.write("dns.eclat", doc_example("### One chain for IPv4 and IPv6"));
    let packets = [
        ipv4_udp(A4, B4, 1000, 53, 8),
        ipv6_udp(A6, B6, 1000, 53, 8),
        ipv4_udp(A4, B4, 1000, 80, 8),
        ipv6_udp(A6, B6, 1000, 80, 8),
        arp(),
    ];
    let lines = run_json(&script, &packets, &["-D", "DEVNAME=lo"]);
    assert_eq!(verdicts(&lines), ["pass", "pass", "drop", "drop", "pass"]);
    assert_eq!(lines[4]["no_chain"], true, "ARP is not IP: no chain");
    let mut counts = map_entries(&lines, "monitor.monitor_map");
    counts.sort_by_key(|(k, _)| k.as_u64());
    assert_eq!(
        counts,
        [
            (json!(0), json!({"packets": 2})),
            (json!(53), json!({"packets": 2}))
        ]
    );
}

/// `--also`: two scripts on one hook through the dispatch, in priority order; a verdict
/// outside the proceed-on set ends the packet in its script. At XDP through the loaders' tail
/// calls, at TC as tcx runs them (each `sched_cls` loader while the previous returns
/// `TCX_NEXT`): the same verdicts and paths.
#[test]
fn kernel_run_two_scripts_of_one_hook_in_priority_order() {
    for hook in ["xdp", "tc_ingress"] {
        for mode in ["interpreted", "fused"] {
            two_scripts_of_one_hook(hook, mode);
        }
    }
}

fn two_scripts_of_one_hook(hook: &str, mode: &str) {
    let dir = TempDir::new("hook");
    let drop = dir.write(
        "dropper.eclat",
        "from programs.net import hike_drop\nfrom loaders.basic import ip6_sc\n\n\
         ip6_sc[ip6_sc_map] = { (0): (d) }\nip6_sc.attach('lo', 'xdp')\n\n\
         def d():\n    hike_drop()\n    return 0\n",
    );
    let count = repo().join("examples/count.eclat");
    let drop = drop.to_string_lossy().into_owned();
    let packet = hex(&ipv6_udp(A6, B6, 1000, 53, 8));
    let count = count.to_string_lossy().into_owned();
    // `count` at `priority` with the dropper script as `--also`, on one packet.
    let run = |priority: &str, also: &str| {
        let args = [
            "run",
            &count,
            "-D",
            "DEVNAME=lo",
            "--priority",
            priority,
            "--also",
            also,
            "--json",
            "--hook",
            hook,
            "--mode",
            mode,
            "--packet",
            &packet,
        ];
        let out = eclat(&args, &repo());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let lines = json_lines(&out);
        (lines[0]["verdict"].clone(), lines[0]["scripts"].clone())
    };
    // count (10, passes) → dropper (100).
    assert_eq!(
        run("10", &format!("{drop}@100")),
        (json!("drop"), json!(["count", "dropper"])),
        "{hook} {mode}"
    );
    // dropper first: its drop ends the packet; proceeding on drop reaches count.
    assert_eq!(
        run("200", &format!("{drop}@100")),
        (json!("drop"), json!(["dropper"])),
        "{hook} {mode}"
    );
    assert_eq!(
        run("200", &format!("{drop}@100:drop")),
        (json!("pass"), json!(["dropper", "count"])),
        "{hook} {mode}"
    );
}

/// A script attached at `tc_egress` runs through the loader built for TC (`sched_cls`, the
/// packet as an skb) by default, and at another hook with `--hook`: the same verdicts, maps and
/// results, the packet rewritten alike.
#[test]
fn kernel_run_a_tc_script_through_the_sched_cls_loader() {
    let dir = TempDir::new("tc");
    let script = dir.write(
        "tc.eclat",
        "from programs.hike_default import hike_drop, monitor
from loaders.basic import ip6_sc
ip6_sc.attach('DEVNAME', 'tc_egress')
ip6_sc[ipv6_sc_map] = { (0): (no_ipv6) }
def no_ipv6():
    monitor(6)
    hike_drop()
",
    );
    let packets = [ipv6_udp(A6, B6, 1, 2, 0), ipv4_udp(A4, B4, 1, 2, 0), arp()];
    for hook in [None, Some("tc_ingress"), Some("xdp")] {
        let extra: Vec<&str> = hook.map(|h| vec!["--hook", h]).unwrap_or_default();
        let lines = run_json(&script, &packets, &extra);
        assert_eq!(verdicts(&lines), ["drop", "pass", "pass"], "{hook:?}");
        assert_eq!(lines[1]["no_chain"], true, "{hook:?}");
        assert_eq!(
            summary(&lines)["summary"]["hook"],
            hook.unwrap_or("tc_egress"),
            "the script's attach hook unless --hook"
        );
        assert_eq!(
            map_entries(&lines, "monitor.monitor_map"),
            [(json!(6), json!({"packets": 1}))],
            "{hook:?}"
        );
    }
    let out = eclat(
        &[
            "run",
            &script.to_string_lossy(),
            "--packet",
            "00",
            "--hook",
            "tc",
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("expected xdp, tc_ingress or tc_egress"),
        "{}",
        text(&out.stderr)
    );
}
