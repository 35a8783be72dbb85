//! Kernel tests (root): tiny runs of `hike-bench` write the report files in the documented
//! shape. They check no timing, only that every run passed its checks (verdicts, marked bytes,
//! decisions) and the outputs are there, and that the pps router leaves nothing behind.

use std::path::PathBuf;
use std::process::{Command, Stdio};

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
    assert_eq!(ns.len(), 3 * 12, "raw, hike and fused at 12 values of N");
    for variant in ["raw", "hike", "fused"] {
        assert_eq!(
            ns.iter().filter(|r| r["variant"] == variant).count(),
            12,
            "{variant} at 12 values of N"
        );
    }
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

#[test]
fn kernel_quick_run_of_the_ddos_scenarios_checks_and_reports_them() {
    let dir =
        ScratchDir(std::env::temp_dir().join(format!("hike-bench-ddos-{}", std::process::id())));
    // The traffic source every kernel allows (live frames are tested by hike-netlab's
    // kernel_lab where the kernel allows them).
    let child = Command::new(env!("CARGO_BIN_EXE_hike-bench"))
        .env("HIKE_NETLAB_SOURCE", "af-packet")
        .args([
            "--scenario",
            "ddos_mark",
            "--scenario",
            "ddos_listing2",
            "--quick",
            "--repeat",
            "1000",
            "--pps-seconds",
            "0.1",
            "--out",
        ])
        .arg(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hike-bench");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for hike-bench");
    assert!(
        out.status.success(),
        "hike-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let json = std::fs::read_to_string(dir.0.join("latest.json")).expect("latest.json");
    let records: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a JSON array");
    let find = |scenario: &str, variant: &str, metric: &str| {
        records
            .iter()
            .find(|r| {
                r["scenario"] == scenario
                    && r["variant"] == variant
                    && r["metric"] == metric
                    && r["param"].is_null()
            })
            .unwrap_or_else(|| panic!("no {scenario}/{variant}/{metric} record in {json}"))
    };
    for v in ["raw", "hike", "eclat", "fused"] {
        let ns = find("ddos_mark", v, "ns_per_packet");
        assert_eq!(ns["unit"], "ns");
        assert!(ns["value"].as_f64().unwrap() > 0.0, "{ns}");
        let pps = find("ddos_mark", v, "pps");
        assert_eq!(pps["unit"], "pps");
        assert!(pps["value"].as_f64().unwrap() > 0.0, "{pps}");
        // Where the router's time goes: its CPU per frame, and the XDP programs' share of it.
        let router = find("ddos_mark", v, "router_ns_per_frame")["value"]
            .as_f64()
            .unwrap();
        let xdp = find("ddos_mark", v, "xdp_ns_per_frame")["value"]
            .as_f64()
            .unwrap();
        assert!(
            0.0 < xdp && xdp < router,
            "{v}: XDP {xdp} ns of {router} ns"
        );
    }
    for v in ["raw", "hike"] {
        let ns = find("ddos_listing2", v, "ns_per_packet");
        assert!(ns["value"].as_f64().unwrap() > 0.0, "{ns}");
        // The two kinds of packets of the mix are reported too.
        for class in [0, 1] {
            assert!(
                records.iter().any(|r| r["scenario"] == "ddos_listing2"
                    && r["variant"] == v
                    && r["param"] == class),
                "{v}, class {class}"
            );
        }
    }
    for ratio in [
        "ns_hike_vs_raw",
        "ns_eclat_vs_hike",
        "pps_hike_vs_raw",
        "pps_hike_vs_raw_paired",
        "ns_fused_vs_raw",
        "pps_fused_vs_raw_paired",
    ] {
        assert_eq!(find("ddos_mark", ratio, "ratio")["unit"], "ratio");
    }
    find("ddos_listing2", "ns_hike_vs_raw", "ratio");

    let md = std::fs::read_to_string(dir.0.join("latest.md")).expect("latest.md");
    for needle in [
        "## `ddos_mark`",
        "## `ddos_listing2`",
        "`ddos_mark` pps hike / pps raw",
        "`ddos_mark` ns hike / ns raw (program cost alone, per round)",
        "`ddos_mark` eclat ns / hike ns",
        "`ddos_mark` ns fused / ns raw (eCLAT chains fused, per round)",
        "ns ratios are taken per round too",
        "Programs after verification, eBPF instructions (JIT bytes): raw ",
        "`ddos_listing2` hike ns / raw ns",
        "`ddos_listing2` fused ns / raw ns (per round)",
        "Where the router's time per frame goes",
        "pps traffic source: af-packet (an AF_PACKET socket",
        "The pps figures are the **CPU-equivalent rate (frames delivered per second",
    ] {
        assert!(md.contains(needle), "{needle} in {md}");
    }
    for png in ["ddos_mark.png", "ddos_listing2.png"] {
        let bytes = std::fs::read(dir.0.join(png)).expect("the plot");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
    }
    // Nothing left behind: the router's namespaces (`hkb<pid>x…`) are gone.
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ours = format!("hkb{pid}x");
    let list = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !list.lines().any(|l| l.starts_with(&ours)),
        "a namespace was left behind: {list}"
    );
}
