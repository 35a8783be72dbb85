//! `eclat run` and user packages where they fail before anything reaches the kernel (no root
//! needed): usage errors (exit 2), scripts that do not compile or link (exit 1) with the map
//! layout named when a map entry does not fit, and C errors of a user package shown at the
//! file and line clang reported.

mod support;

use hike_testkit::packet::{hex, ipv6_udp, A6, B6};
use support::{eclat, eclat_env, repo, text, TempDir};

fn packet() -> String {
    hex(&ipv6_udp(A6, B6, 1, 2, 0))
}

#[test]
fn usage_errors_exit_2() {
    let s = "examples/ddos_tb_2_lev.eclat";
    // Neither --packet nor --pcap; both; bad hex; a malformed define.
    for args in [
        vec!["run", s],
        vec!["run", s, "--packet", "00", "--pcap", "x.pcap"],
        vec!["run", s, "--packet", "0g"],
        vec!["run", s, "--packet", "abc"],
        vec!["run", s, "--packet", "00", "-D", "NOVALUE"],
        vec!["check", s, "-D", "NOVALUE"],
        vec!["compile", s, "-D", "1X=2"],
        vec!["run", s, "--packet", "00", "--trace", "--mode", "fused"],
        vec!["run", s, "--packet", "00", "--trace", "--also", s],
    ] {
        let out = eclat(&args, &repo());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    let out = eclat(&["run", s, "--packet", "0g"], &repo());
    assert!(
        text(&out.stderr).contains("--packet #1"),
        "{}",
        text(&out.stderr)
    );
    let out = eclat(
        &["run", s, "--packet", "00", "--trace", "--mode", "fused"],
        &repo(),
    );
    assert!(
        text(&out.stderr).contains("`--trace` needs interpreted mode"),
        "{}",
        text(&out.stderr)
    );
}

/// `--mode interpreted`, the default said aloud, goes with `--trace` (clap's conflicts would
/// have refused it with `--mode` given at all): the command line passes its checks, and the
/// run fails only later, at the script's missing define.
#[test]
fn trace_goes_with_mode_interpreted() {
    let s = "examples/ddos_tb_2_lev.eclat";
    let args = [
        "run",
        s,
        "--packet",
        "00",
        "--trace",
        "--mode",
        "interpreted",
    ];
    let out = eclat(&args, &repo());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("COLLECTOR_IFINDEX"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_capture_or_script_exits_1() {
    let out = eclat(
        &[
            "run",
            "examples/ddos_tb_2_lev.eclat",
            "--pcap",
            "no-such.pcap",
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot open `no-such.pcap`"));
    let out = eclat(&["run", "no-such.eclat", "--packet", &packet()], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read `no-such.eclat`"));
}

#[test]
fn a_script_without_a_loader_cannot_run() {
    let corpus = repo().join("crates/eclat-compiler/tests/corpus/subchain.eclat");
    let out = eclat(
        &["run", &corpus.to_string_lossy(), "--packet", &packet()],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the script imports no loader"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn map_entries_that_do_not_fit_name_the_layout() {
    let dir = TempDir::new("map-errors");
    let script = dir.write(
        "bad.eclat",
        "from programs.net import ip6_sd_tbmon
from loaders.basic import ip6_dst_cls
ip6_dst_cls[ip6_dst_cls_map] = { (5): (c) }
ip6_sd_tbmon[ip6_sd_tbmon_cfg] = { (0): ('fast', 10) }
ip6_sd_tbmon[ip6_sd_tbmon_map] = { ('2001:db8::1'): (0, 0) }
def c():
    return 0
",
    );
    let out = eclat(
        &["run", &script.to_string_lossy(), "--packet", &packet()],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for expected in [
        "bad.eclat:3:35: error: map `ip6_dst_cls_map` expects a key of type `struct in6_addr` (16 bytes), an IPv6 address in quotes; got a number",
        "bad.eclat:4:42: error: map `ip6_sd_tbmon_cfg` expects a value of type `struct tbmon_config` (16 bytes) whose field `rate` is a `u64` number; got the string 'fast'",
        "bad.eclat:5:36: error: map `ip6_sd_tbmon_map` expects a key of type `struct hike_ip6_sd_key` (32 bytes) with 2 fields, found 1",
        "= help: the key is written `(src, dst)`",
    ] {
        assert!(err.contains(expected), "missing:\n{expected}\nin:\n{err}");
    }
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_c_error_in_a_user_package_shows_the_file_and_line() {
    let dir = TempDir::new("c-error");
    let cache = TempDir::new("c-error-cache");
    let source = dir.write(
        "pkgs/broken/oops.bpf.c",
        "#include <hike/sdk.h>\nHIKE_PROG(oops)\n{\n\tHIKE_RETURN(undeclared_name);\n}\n",
    );
    let script = dir.write("s.eclat", "from programs.broken import oops\n");
    let out = eclat_env(
        &[
            "check",
            &script.to_string_lossy(),
            "--package-dir",
            &dir.path().join("pkgs").to_string_lossy(),
        ],
        &repo(),
        &[("ECLAT_CACHE_DIR", &cache.path().to_string_lossy())],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let real = source.canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "{}:4:14: error: use of undeclared identifier 'undeclared_name'",
            real.display()
        )),
        "{err}"
    );
}

#[test]
fn a_user_package_is_checked_against_its_btf() {
    let dir = TempDir::new("user-check");
    let cache = TempDir::new("user-check-cache");
    dir.write(
        "pkgs/mine/add2.bpf.c",
        "#include <hike/sdk.h>\nHIKE_PROG(add2, a, b)\n{\n\tHIKE_RETURN(a + b);\n}\nchar LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n",
    );
    let script = dir.write(
        "s.eclat",
        "from programs.mine import add2\ndef c():\n    return add2(1)\n",
    );
    let out = eclat_env(
        &[
            "check",
            &script.to_string_lossy(),
            "--package-dir",
            &dir.path().join("pkgs").to_string_lossy(),
        ],
        &repo(),
        &[("ECLAT_CACHE_DIR", &cache.path().to_string_lossy())],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("`add2` takes 2 arguments"), "{err}");
}

#[test]
fn a_c_chain_calling_an_unknown_program_stops_run_before_loading() {
    let dir = TempDir::new("run-cchain");
    dir.write(
        "rules.hike.c",
        "#include <hike/chain.h>
HIKE_PROG_EXTERN(no_such_prog, 0);
HIKE_CHAIN(rule)
{
	return no_such_prog();
}
",
    );
    // Imported through another eCLAT script: the C file is found for it too.
    dir.write(
        "lib.eclat",
        "from chains.rules import rule\ndef wrap():\n    return rule()\n",
    );
    let main = dir.write(
        "main.eclat",
        "from chains.lib import wrap
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (top) }
def top():
    return wrap()
",
    );
    let out = eclat(
        &["run", &main.to_string_lossy(), "--packet", &packet()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "rules.hike.c:5:9: error: chain `rule`: instruction 0 (`call prog no_such_prog`): \
             unknown program `no_such_prog`"
        ),
        "{err}"
    );
}
