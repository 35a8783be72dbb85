//! The `eclat` binary as a user runs it: exit codes, where output goes, the diagnostic
//! format, sibling scripts for `from chains.X import`, and both `--emit` forms.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus(name: &str) -> PathBuf {
    repo().join("crates/eclat-compiler/tests/corpus").join(name)
}

fn eclat(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eclat"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("eclat runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_passes_clean_scripts_silently() {
    let dir = corpus("");
    let out = eclat(&["check", "ddos_tb.eclat", "subchain.eclat"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_reports_every_file_and_exits_1() {
    let dir = corpus("");
    let out = eclat(
        &[
            "check",
            "dpi_example.eclat",
            "ddos_tb.eclat",
            "chain_in_chain.eclat",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "\
dpi_example.eclat:9:15: error: unknown package `tutorial`
  9 | from programs.tutorial import dpi
    |               ^^^^^^^^
    = help: program packages: hike_default, info, meter, mynet, net, sampler
chain_in_chain.eclat:24:14: error: unknown program or chain `subchain`
  24 |     u64 : ret = subchain()
     |                 ^^^^^^^^
     = help: script `subchain` defines a chain `subchain`: `from chains.subchain import subchain`
"
    );
}

#[test]
fn check_reads_chains_of_sibling_scripts() {
    let tmp = std::env::temp_dir().join(format!("eclat-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    std::fs::write(
        tmp.join("lib.eclat"),
        "def twice(x):\n    return x * 2\ndef note(x):\n    pass\n",
    )
    .expect("writable");
    std::fs::write(
        tmp.join("main.eclat"),
        "from chains.lib import twice, note\ndef main():\n    note(1)\n    return twice(1, 2) + note(2)\n",
    )
    .expect("writable");
    let out = eclat(&["check", "main.eclat"], &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("main.eclat:4:12: error: chain `twice` takes 1 argument, found 2\n"),
        "{err}"
    );
    // `note` has no `return VALUE`: it may be called, its result not used.
    assert!(
        err.contains(
            "main.eclat:4:26: error: chain `note` returns no value (it has no `return VALUE`)\n"
        ),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 2, "{err}");
}

#[test]
fn a_missing_file_is_an_error() {
    let out = eclat(&["check", "no-such-file.eclat"], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read `no-such-file.eclat`"));
}

/// Listing 2 as `examples/ddos_tb_2_lev.eclat` with its collector placeholder given
/// (`-D COLLECTOR_IFINDEX=6`; `eclat compile` takes no `-D`): the compiler's golden copy.
const LISTING_2: &str = "crates/eclat-compiler/tests/golden/asm/listing2.eclat";

#[test]
fn compile_listing_2_to_asm() {
    let out = eclat(&["compile", LISTING_2, "--emit", "asm"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let asm = text(&out.stdout);
    assert!(asm.starts_with("; chain ddos_tb_2_lev(): "), "{asm}");
    assert!(
        asm.contains("    r1 = 2\n    call prog ip6_hset_srcdst\n"),
        "{asm}"
    );
    assert!(asm.contains("    call prog hike_pass\n    exit\n"), "{asm}");
}

#[test]
fn compile_listing_2_to_json() {
    let out = eclat(&["compile", LISTING_2, "--emit", "json"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["format"], "eclat-bytecode/1");
    assert_eq!(v["chains"][0]["name"], "ddos_tb_2_lev");
    assert_eq!(v["maps"][0]["map"], "ipv6_sc_map");
    assert_eq!(
        v["maps"][0]["entries"][0]["value"][0]["value"],
        "ddos_tb_2_lev"
    );
    assert_eq!(v["attach"][0]["hook"], "xdp");
    let insns = v["chains"][0]["insns"].as_array().expect("instructions");
    let relocs = v["chains"][0]["relocations"]
        .as_array()
        .expect("relocations");
    assert!(insns
        .iter()
        .all(|i| i.as_str().is_some_and(|s| s.len() == 16)));
    assert!(relocs.iter().all(|r| r["kind"] == "prog"));
}

#[test]
fn compile_with_errors_prints_no_code() {
    let out = eclat(
        &["compile", &corpus("dpi_example.eclat").to_string_lossy()],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("error: unknown package `tutorial`"));
}

#[test]
fn completions_to_a_reader_that_went_away_exit_0_without_a_panic() {
    // The pipe's read end is closed before eclat starts, so its first write fails (EPIPE),
    // as with `eclat completions bash | head -1` once head has its line.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_eclat"))
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("eclat runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn completions_and_man_pages_are_written() {
    let out = eclat(&["completions", "bash"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("_eclat()"),
        "{}",
        text(&out.stdout)
    );
    let dir = std::env::temp_dir().join(format!("eclat-man-{}", std::process::id()));
    let pages = dir.join("not/yet");
    let out = eclat(&["man", pages.to_str().unwrap()], &repo());
    let written = pages.join("eclat-load.1").exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(written, "eclat man wrote no eclat-load.1");
}
