//! Test support for the `eclat` binary: running it, parsing `--json` output, temporary
//! directories that clean up, and capture files (including the generator of
//! `examples/flood.pcap`).

#![allow(dead_code, reason = "each test file uses a part of the support")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hike_testkit::packet::{ipv6_udp, A6, B6};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `eclat ARGS` in `dir` with extra environment variables.
pub fn eclat_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eclat"));
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("eclat runs")
}

/// Runs `eclat ARGS` in `dir`.
pub fn eclat(args: &[&str], dir: &Path) -> Output {
    eclat_env(args, dir, &[])
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Each line of `--json` output, parsed; panics on a line that is not a JSON object.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

/// The verdicts of the packet lines of `--json` output.
pub fn verdicts(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.get("packet").is_some())
        .map(|l| l["verdict"].as_str().expect("a verdict").to_owned())
        .collect()
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name contains `label` and the process ID.
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "eclat-test-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` (creating parent directories) and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&path, contents).expect("write a file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A classic pcap file (microsecond timestamps, Ethernet) of `frames`, the i-th stamped
/// `start_us + i * step_us`.
pub fn pcap(frames: &[Vec<u8>], start_us: u64, step_us: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, f) in frames.iter().enumerate() {
        let t = start_us + i as u64 * step_us;
        out.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Packets in `examples/flood.pcap`.
pub const FLOOD_PACKETS: usize = 2000;

/// `examples/flood.pcap`: a UDP flood from 2001:db8::a to 2001:db8::b (one (src, dst) pair),
/// 2000 packets 10 µs apart, source ports cycling over 40000..40099, 8 bytes of payload.
pub fn flood_pcap() -> Vec<u8> {
    let frames: Vec<Vec<u8>> = (0..FLOOD_PACKETS)
        .map(|i| ipv6_udp(A6, B6, 40000 + (i % 100) as u16, 53, 8))
        .collect();
    // 2024-01-01T00:00:00Z.
    pcap(&frames, 1_704_067_200_000_000, 10)
}

/// Packets of the replay flood: the held-back case of issue 16.
pub const REPLAY_FLOOD_PACKETS: usize = 20_000;

/// Start of the replay flood's capture, in µs since the Unix epoch (2024-01-01T00:00:00Z).
pub const REPLAY_FLOOD_START_US: u64 = 1_704_067_200_000_000;

/// A UDP/IPv6 flood from one source (2001:db8::a port 40000 to 2001:db8::b port 53), 20,000
/// packets 1 µs apart: a million packets a second in the capture's time, ten times the
/// default rate of `ip6_dst_tbmon`, whatever the speed of the machine replaying it.
pub fn replay_flood_pcap() -> Vec<u8> {
    let frame = ipv6_udp(A6, B6, 40000, 53, 8);
    let frames = vec![frame; REPLAY_FLOOD_PACKETS];
    pcap(&frames, REPLAY_FLOOD_START_US, 1)
}
