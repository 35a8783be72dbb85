//! Kernel test (root): `hike-demo` runs to the end and shows what it promises.

use std::process::Command;

#[test]
fn kernel_demo_runs_and_reports_verdicts_changes_and_faults() {
    let out = Command::new(env!("CARGO_BIN_EXE_hike-demo"))
        .output()
        .expect("run hike-demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hike-demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "comes later",
        "`ethertype`: verdict pass, chain returned 35527",
        "`mark_ipv6`: verdict pass, chain returned 1, packet byte 15: 00 -> 10",
        "`mark_ipv6`: verdict drop, a program ended the packet",
        "`broken`: verdict aborted, fault pkt_out_of_bounds",
        "chain `broken`: 1 run, pkt_out_of_bounds x1",
        "chain `is_ipv6`: 2 runs, no faults",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
