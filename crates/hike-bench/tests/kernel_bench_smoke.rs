//! Kernel test (root): a tiny run of `hike-bench` writes the report files in the documented
//! shape. It checks no timing, only that every run passed and the outputs are there.

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory, removed on drop even if the test panics.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn kernel_tiny_run_writes_json_markdown_and_plot() {
    let dir = ScratchDir(std::env::temp_dir().join(format!("hike-bench-{}", std::process::id())));
    let out = Command::new(env!("CARGO_BIN_EXE_hike-bench"))
        .args([
            "--scenario",
            "tailcall_loop",
            "--trials",
            "1",
            "--repeat",
            "1000",
            "--out",
        ])
        .arg(&dir.0)
        .output()
        .expect("run hike-bench");
    assert!(
        out.status.success(),
        "hike-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let json = std::fs::read_to_string(dir.0.join("latest.json")).expect("latest.json");
    let records: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a JSON array");
    let ns: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["metric"] == "ns_per_packet")
        .collect();
    assert_eq!(ns.len(), 2 * 12, "raw and hike at 12 values of N");
    for r in &ns {
        assert_eq!(r["scenario"], "tailcall_loop");
        assert_eq!(r["unit"], "ns");
        assert!(r["value"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["param"].is_u64() && r["min"].is_f64() && r["max"].is_f64(),
            "{r}"
        );
        assert_eq!(r["trials"], 1);
    }
    let ratios = records
        .iter()
        .filter(|r| r["metric"] == "per_call_ratio")
        .count();
    assert_eq!(ratios, 2, "N = 2 and N = 8");

    let md = std::fs::read_to_string(dir.0.join("latest.md")).expect("latest.md");
    assert!(md.contains("## `tailcall_loop`"), "{md}");
    assert!(md.contains("(hike[8]−hike[0]) / (raw[8]−raw[0])"), "{md}");
    let png = std::fs::read(dir.0.join("tailcall_loop.png")).expect("the plot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
