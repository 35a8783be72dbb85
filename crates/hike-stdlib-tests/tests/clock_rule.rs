//! The clock rule of the standard programs and loaders: time is read through the SDK's
//! `hike_now_ns()` (`bpf/include/hike/sdk.h`), never `bpf_ktime_get_ns()` directly, so that
//! `eclat run --pcap` replays a capture on its own timestamps (the VM's replay clock,
//! `HIKE_CFG_CLOCK`) and a time-dependent program gives the same verdicts on every run.
//! The VM's own clock (`hike_clock_ns()` in `vm.h`) and the SDK's fallback are the only
//! callers. A source check: no kernel needed.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.c` and `.h` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "c" || e == "h") {
            out.push(path);
        }
    }
}

/// The lines of `src` that call `name`, comments left out.
fn calls(src: &str, name: &str) -> Vec<usize> {
    let mut in_comment = false;
    let mut found = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let mut code = String::new();
        let mut rest = line;
        loop {
            if in_comment {
                match rest.find("*/") {
                    Some(end) => {
                        rest = &rest[end + 2..];
                        in_comment = false;
                    }
                    None => break,
                }
            } else {
                let block = rest.find("/*");
                let line_comment = rest.find("//");
                match (block, line_comment) {
                    (Some(b), l) if l.is_none_or(|l| b < l) => {
                        code.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_comment = true;
                    }
                    (_, Some(l)) => {
                        code.push_str(&rest[..l]);
                        break;
                    }
                    _ => {
                        code.push_str(rest);
                        break;
                    }
                }
            }
        }
        if code.contains(&format!("{name}(")) {
            found.push(n + 1);
        }
    }
    found
}

#[test]
fn standard_programs_and_loaders_read_time_through_the_sdk() {
    let mut files = Vec::new();
    sources(&repo().join("bpf/programs"), &mut files);
    sources(&repo().join("bpf/loaders"), &mut files);
    assert!(files.len() > 10, "found the sources: {files:?}");
    let mut offenders = Vec::new();
    let mut users = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).expect("read a source");
        for line in calls(&src, "bpf_ktime_get_ns") {
            offenders.push(format!("{}:{line}", f.display()));
        }
        users += usize::from(!calls(&src, "hike_now_ns").is_empty());
    }
    assert!(
        offenders.is_empty(),
        "read the time with hike_now_ns() (sdk.h), not bpf_ktime_get_ns(), so that a replay \
         sees the capture's clock: {offenders:?}"
    );
    assert!(
        users >= 3,
        "the meters, the set and lse read the time through the SDK"
    );
}

#[test]
fn only_the_vms_clock_reads_the_kernels() {
    let include = repo().join("bpf/include/hike");
    let vm = std::fs::read_to_string(include.join("vm.h")).expect("vm.h");
    let sdk = std::fs::read_to_string(include.join("sdk.h")).expect("sdk.h");
    // vm.h: hike_clock_ns() only; sdk.h: hike_now_ns()'s and hike_emit()'s fallback without a
    // VM state.
    assert_eq!(calls(&vm, "bpf_ktime_get_ns").len(), 1, "vm.h");
    assert_eq!(calls(&sdk, "bpf_ktime_get_ns").len(), 2, "sdk.h");
    for h in ["loader.h", "net.h", "chain.h"] {
        let src = std::fs::read_to_string(include.join(h)).expect("a header");
        assert!(calls(&src, "bpf_ktime_get_ns").is_empty(), "{h}");
    }
}

#[test]
fn comments_do_not_count() {
    let src = "/* bpf_ktime_get_ns() */ x = 1;\n// bpf_ktime_get_ns()\n/*\n bpf_ktime_get_ns()\n*/ y = bpf_ktime_get_ns();\n";
    assert_eq!(calls(src, "bpf_ktime_get_ns"), [5]);
}
