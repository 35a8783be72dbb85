//! The router of the pps benchmarks: two network namespaces joined by two veth links.
//!
//! ```text
//!   edge namespace                      router namespace
//!   ┌──────────────────────┐            ┌───────────────────────────────┐
//!   │ gen  (bench_gen, run ├──veth──────┤ in   2001:db8:1::1/64  (XDP:   │
//!   │       with live      │            │      the variant's program)   │
//!   │       frames)        │            │                               │
//!   │ sink (bench_sink:    ├──veth──────┤ out  2001:db8:2::1/64         │
//!   │       counts, drops) │            │ 2001:db8:5::/64 via           │
//!   └──────────────────────┘            │   2001:db8:2::2 (permanent)   │
//!                                       └───────────────────────────────┘
//! ```
//!
//! The generator runs on one CPU and sends far more than the router can forward; the router
//! receives in a threaded NAPI context pinned to the other CPU, so its CPU is saturated and
//! the rate counted at the sink is its forwarding capacity (the sink's own cost, an XDP
//! program that counts and drops, runs on the router's CPU too, in softirq after the
//! router's redirect or transmit).
//!
//! Everything is uniquely named (`hkb<pid>x<n>e`/`r`, interfaces `hb<tag>g/i/o/s`), deleted
//! by [`Netns`]'s `Drop` even on a panic, registered with [`crate::signals`] for Ctrl-C, and
//! namespaces left by a benchmark that was killed (its pid gone) are deleted at the next start.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::signals;

/// The prefix of every namespace the benchmarks create: `hkb<pid>x<n><role>`.
const NETNS_PREFIX: &str = "hkb";

/// MAC of the router's ingress interface: the generator's frames are addressed to it (the
/// kernel forwards only frames sent to its own address).
pub const ROUTER_IN_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x01, 0x01];
/// MAC of the router's egress interface.
pub const ROUTER_OUT_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x02, 0x01];
/// MAC of the sink, the next hop's link-layer address in the router's neighbour table.
pub const SINK_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x02, 0x02];
/// MAC of the generator's interface.
pub const GEN_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x01, 0x02];
/// The destination of the generated traffic: routed by the router towards the sink.
pub const DST_ADDR: &str = "2001:db8:5::1";

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Runs a command; fails with its standard error if it fails. Commands here end on their own
/// (no network waits), so no timeout is needed.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("run `{program}` (is it installed? `make deps`)"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command with `input` on its standard input.
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<()> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run `{program}` (is it installed? `make deps`)"))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether `program` can be run (found on `PATH`).
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A network namespace, deleted on drop.
pub struct Netns {
    name: String,
}

impl fmt::Debug for Netns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Netns {
    /// Creates namespace `name` (registered for cleanup on a signal).
    fn create(name: String) -> Result<Netns> {
        signals::register_netns(&name);
        if let Err(e) = run("ip", &["netns", "add", &name]) {
            signals::unregister_netns(&name);
            return Err(e);
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS...`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `ip netns exec NAME PROGRAM ARGS...`: the command sees the namespace's `/sys` too.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Like [`Netns::exec`], with `input` on the command's standard input.
    pub fn exec_with_input(&self, program: &str, args: &[&str], input: &str) -> Result<()> {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        run_with_input("ip", &all, input)
    }

    /// Sets sysctls (`key=value`) in the namespace.
    pub fn sysctl(&self, settings: &[&str]) -> Result<()> {
        let mut args = vec!["-qw"];
        args.extend_from_slice(settings);
        self.exec("sysctl", &args).map(drop)
    }

    /// The interface index of `dev` in this namespace.
    pub fn ifindex(&self, dev: &str) -> Result<u32> {
        let json = self.ip(&["-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&json).context("parse `ip -j link`")?;
        v[0]["ifindex"]
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .with_context(|| format!("no ifindex for {dev} in {json}"))
    }

    /// Moves the calling thread into the namespace (setns changes only the calling thread).
    pub fn enter(&self) -> Result<()> {
        let path = PathBuf::from("/run/netns").join(&self.name);
        let ns = File::open(&path).with_context(|| format!("open {}", path.display()))?;
        // SAFETY: `ns` is an open namespace file; setns changes only this thread.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            bail!("setns {}: {}", self.name, std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `f` on a thread that has entered the namespace, and waits for it.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter()?;
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        signals::unregister_netns(&self.name);
    }
}

/// Deletes the namespaces of earlier benchmark runs whose process is gone (killed before it
/// could clean up).
fn delete_stale_namespaces() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('x') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !PathBuf::from(format!("/proc/{pid}")).exists() {
            eprintln!("hike-bench: deleting stale network namespace {name}");
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// The two-namespace router; see the module docs.
#[derive(Debug)]
pub struct RouterLab {
    /// Generator and sink.
    pub edge: Netns,
    /// The router.
    pub router: Netns,
    /// The router's ingress interface (router).
    pub in_if: String,
    /// Index of `gen_if` in the edge namespace.
    pub gen_ifindex: u32,
    /// Index of `in_if` in the router namespace.
    pub in_ifindex: u32,
    /// Index of `sink_if` in the edge namespace.
    pub sink_ifindex: u32,
    /// The CPU of the router's receive thread.
    pub router_cpu: usize,
}

impl RouterLab {
    /// Builds the namespaces, links, addresses, route and neighbour; the router's receive
    /// path will run on `router_cpu`.
    pub fn new(router_cpu: usize) -> Result<RouterLab> {
        static N: AtomicU32 = AtomicU32::new(0);
        delete_stale_namespaces();
        let pid = std::process::id();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let edge = Netns::create(format!("{NETNS_PREFIX}{pid}x{n}e"))?;
        let router = Netns::create(format!("{NETNS_PREFIX}{pid}x{n}r"))?;
        // Interface names: at most 15 bytes, and unique across namespaces because the router's
        // receive thread is found by its name (`napi/<ifname>-<id>`).
        let tag = format!("hb{:05x}{n:x}", pid & 0xf_ffff);
        let (gen_if, in_if, out_if, sink_if) = (
            format!("{tag}g"),
            format!("{tag}i"),
            format!("{tag}o"),
            format!("{tag}s"),
        );
        // The edge side has no addresses and sends nothing of its own.
        edge.sysctl(&[
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ])?;
        router.sysctl(&[
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
        ])?;
        for (a, a_mac, b, b_mac) in [
            (&gen_if, GEN_MAC, &in_if, ROUTER_IN_MAC),
            (&sink_if, SINK_MAC, &out_if, ROUTER_OUT_MAC),
        ] {
            run(
                "ip",
                &[
                    "link",
                    "add",
                    a,
                    "netns",
                    edge.name(),
                    "address",
                    &mac(a_mac),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    b,
                    "netns",
                    router.name(),
                    "address",
                    &mac(b_mac),
                ],
            )?;
            edge.ip(&["link", "set", a, "up"])?;
            router.ip(&["link", "set", b, "up"])?;
        }
        router.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            &in_if,
            "nodad",
        ])?;
        router.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:2::1/64",
            "dev",
            &out_if,
            "nodad",
        ])?;
        router.ip(&[
            "-6",
            "neigh",
            "add",
            "2001:db8:2::2",
            "lladdr",
            &mac(SINK_MAC),
            "dev",
            &out_if,
            "nud",
            "permanent",
        ])?;
        router.ip(&[
            "-6",
            "route",
            "add",
            "2001:db8:5::/64",
            "via",
            "2001:db8:2::2",
            "dev",
            &out_if,
        ])?;
        let gen_ifindex = edge.ifindex(&gen_if)?;
        let sink_ifindex = edge.ifindex(&sink_if)?;
        let in_ifindex = router.ifindex(&in_if)?;
        Ok(RouterLab {
            edge,
            router,
            in_if,
            gen_ifindex,
            in_ifindex,
            sink_ifindex,
            router_cpu,
        })
    }

    /// After an XDP program was attached to the router's ingress (which gives the veth its
    /// NAPI context): makes that context a kernel thread, pins it to the router's CPU and
    /// returns its thread IDs. Attaching again creates a new context, so call this after every
    /// attach.
    pub fn pin_router_rx(&self) -> Result<Vec<i32>> {
        let path = format!("/sys/class/net/{}/threaded", self.in_if);
        self.router
            .exec("sh", &["-c", &format!("echo 1 > {path}")])
            .context("make the router's NAPI threaded")?;
        let comm = format!("napi/{}", self.in_if);
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let tids = threads_named(&comm);
            if !tids.is_empty() {
                for &tid in &tids {
                    pin_tid(tid, self.router_cpu)?;
                    raise_priority(tid)?;
                }
                return Ok(tids);
            }
            ensure!(
                Instant::now() < deadline,
                "no kernel thread {comm}-* after making the NAPI threaded"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The nice value of the pps threads (the generator's and the router's receive thread): other
/// work on the machine (a build, say) then takes little of their CPU. (The `BPF_PROG_TEST_RUN`
/// measurements keep the default: they count CPU time, not wall time.)
pub const BENCH_NICE: i32 = -20;

/// Gives thread `tid` (0: the calling thread) the nice value [`BENCH_NICE`].
pub fn raise_priority(tid: i32) -> Result<()> {
    // SAFETY: setpriority has no memory-safety preconditions; `tid` names a thread (Linux nice
    // values are per thread).
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BENCH_NICE) };
    if rc != 0 {
        bail!(
            "set the nice value of thread {tid}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The CPU time thread `tid` has used, in nanoseconds (`/proc/<tid>/schedstat`; this kernel
/// accounts the softirqs a thread runs to it); 0 if it is gone.
pub fn thread_runtime_ns(tid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Thread IDs whose name starts with `prefix` (kernel threads are processes in `/proc`).
fn threads_named(prefix: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        comm.starts_with(prefix).then_some(pid)
    })
    .collect()
}

fn pin_tid(tid: i32, cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it (cpu is checked).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        ensure!(cpu < libc::CPU_SETSIZE as usize, "cpu {cpu} out of range");
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "pin thread {tid} to cpu {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-1`); empty if unreadable.
pub fn online_cpus() -> Vec<usize> {
    let Ok(text) = std::fs::read_to_string("/sys/devices/system/cpu/online") else {
        return Vec::new();
    };
    parse_cpu_list(text.trim())
}

/// Parses a kernel CPU list (`0-3,5`).
fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
            cpus.extend(a..=b);
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-1"), [0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7"), [0, 2, 3, 4, 7]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }

    #[test]
    fn macs_print_as_ip_wants_them() {
        assert_eq!(mac(SINK_MAC), "02:68:6b:00:02:02");
    }
}
