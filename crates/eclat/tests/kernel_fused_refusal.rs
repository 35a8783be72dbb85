//! Kernel test (root) of a fused script the verifier refuses, with `eclat run --mode fused`:
//! the script (`hike_testkit::unverifiable`) runs interpreted, and fused the kernel really
//! refuses it; the error names the script's file and the line of the chain's `def`, gives the
//! verifier's last lines and the path of the saved whole log, and advises loading it
//! interpreted; no packet ran.

mod support;

use hike_testkit::packet::{hex, ipv6_udp, A6, B6};
use hike_testkit::unverifiable;
use support::{eclat_env, json_lines, text, verdicts, TempDir};

#[test]
fn kernel_run_fused_refused_by_the_verifier_names_the_chain_the_log_and_the_way_out() {
    let dir = TempDir::new("fused-refusal");
    let (script, def_line) = unverifiable::script("xdp", 1);
    let file = dir.write("branchy.eclat", &script);
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("the log directory");
    let file_arg = file.to_string_lossy().into_owned();
    let packet = hex(&ipv6_udp(A6, B6, 40000, 53, 64));
    let env = [("HIKE_VERIFIER_LOG_DIR", logs.to_str().unwrap())];
    let run = |mode: &str| {
        eclat_env(
            &[
                "run",
                &file_arg,
                "--packet",
                &packet,
                "-D",
                "DEVNAME=lo",
                "--json",
                "--mode",
                mode,
            ],
            dir.path(),
            &env,
        )
    };

    // Interpreted, it runs: the verifier never sees the chain.
    let out = run("interpreted");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(verdicts(&json_lines(&out)), ["pass"]);

    let out = run("fused");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for expected in [
        // Where in the script: the chain and its definition.
        format!(
            "the verifier stopped in chain `{}` ({}:{def_line})",
            unverifiable::CHAIN,
            file.display()
        ),
        // The verifier's last lines.
        "BPF program is too large. Processed 1000001 insn".to_owned(),
        "usual cause: too many instructions to verify".to_owned(),
        // The way out, last.
        "help: load the script interpreted (--mode interpreted)".to_owned(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(
        err.trim_end()
            .ends_with("its chains then need no verification"),
        "the advice comes last:\n{err}"
    );
    // The whole log, saved where asked, and named.
    let saved: Vec<_> = std::fs::read_dir(&logs)
        .expect("the log directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(saved.len(), 1, "one log saved: {saved:?}");
    assert!(
        err.contains(&format!("full verifier log: {}", saved[0].display())),
        "the log's path in:\n{err}"
    );
    let log = std::fs::read_to_string(&saved[0]).expect("the saved log");
    assert!(log.starts_with("0: R1=ctx()"), "from the first instruction");
    assert!(
        log.contains("processed 1000001 insns (limit 1000000)"),
        "to the verifier's statistics"
    );
    assert!(
        log.contains(&format!(" @ branchy.eclat:{def_line}")),
        "the line info names the script"
    );
    // Nothing ran: no packet line, no summary.
    assert!(
        out.stdout.is_empty(),
        "no output after a refusal: {}",
        text(&out.stdout)
    );
}
