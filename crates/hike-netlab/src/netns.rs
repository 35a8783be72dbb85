//! Network namespaces and veth links, uniquely named per process and deleted on drop.
//!
//! A [`LabTag`] names one lab of the running process: namespaces are `<prefix><pid>x<n>-<role>`
//! and interfaces `<ifprefix><pid, 5 hex digits><n>`+suffix (at most 15 bytes, as Linux
//! wants), so that two runs never collide and a lab's leftovers say whose they are. Creating a
//! tag deletes the namespaces of the same prefix whose process is gone (killed before it could
//! clean up). A [`Netns`] is deleted by its `Drop`, even on a panic, and is registered with
//! [`crate::signals`] for Ctrl-C; deleting a namespace deletes the veths in it, and with them
//! their peers and the XDP programs attached to them.

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::cmd::{run, run_with_input};
use crate::error::{Error, Result};
use crate::signals;

/// Where `ip netns` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Longest interface name Linux accepts (`IFNAMSIZ - 1`).
pub const MAX_IFNAME: usize = 15;

/// The unique name of one lab of this process; see the module docs.
#[derive(Clone, Debug)]
pub struct LabTag {
    netns_prefix: String,
    if_prefix: String,
}

impl LabTag {
    /// A new tag: namespaces `<prefix><pid>x<n>-<role>`, interfaces
    /// `<if_prefix><pid % 2^20 in 5 hex digits><n in hex><suffix>`. Deletes the namespaces of
    /// `prefix` left by processes that are gone. `prefix` must not end with a digit or `x`.
    pub fn new(prefix: &str, if_prefix: &str) -> LabTag {
        static N: AtomicU32 = AtomicU32::new(0);
        delete_stale_namespaces(prefix);
        let pid = std::process::id();
        let n = N.fetch_add(1, Ordering::Relaxed);
        LabTag {
            netns_prefix: format!("{prefix}{pid}x{n}"),
            if_prefix: format!("{if_prefix}{:05x}{n:x}", pid & 0xf_ffff),
        }
    }

    /// The name of this lab's namespace for `role`.
    pub fn netns_name(&self, role: &str) -> String {
        format!("{}-{role}", self.netns_prefix)
    }

    /// Creates this lab's namespace for `role`.
    pub fn netns(&self, role: &str) -> Result<Netns> {
        Netns::create(self.netns_name(role))
    }

    /// This lab's interface name ending in `suffix`.
    ///
    /// # Panics
    /// If the name would be longer than [`MAX_IFNAME`] (a short suffix is the caller's job).
    pub fn ifname(&self, suffix: &str) -> String {
        let name = format!("{}{suffix}", self.if_prefix);
        assert!(
            name.len() <= MAX_IFNAME,
            "interface name `{name}` is longer than {MAX_IFNAME} bytes"
        );
        name
    }
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
    /// Creates namespace `name` (registered for cleanup on a signal) with its loopback up.
    pub fn create(name: String) -> Result<Netns> {
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

    /// Its file (`/run/netns/NAME`), for `setns`.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
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

    /// Writes `value` to the file `path` as the namespace sees it (`/sys/class/net/...`,
    /// whose view depends on the namespace that mounted `/sys`), with `tee` under
    /// `ip netns exec`.
    pub fn write_file(&self, path: &str, value: &str) -> Result<()> {
        self.exec_with_input("tee", &[path], value)
    }

    /// Sets sysctls (`key=value`) in the namespace.
    pub fn sysctl(&self, settings: &[&str]) -> Result<()> {
        let mut args = vec!["-qw"];
        args.extend_from_slice(settings);
        self.exec("sysctl", &args).map(drop)
    }

    /// The interface index of `dev` in this namespace.
    pub fn ifindex(&self, dev: &str) -> Result<u32> {
        let no_ifindex = || Error::NoIfindex {
            netns: self.name.clone(),
            dev: dev.to_owned(),
        };
        let json = self.ip(&["-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|_| no_ifindex())?;
        v[0]["ifindex"]
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(no_ifindex)
    }

    /// The counters of `dev` in this namespace (`ip -s -j link show`).
    pub fn link_stats(&self, dev: &str) -> Result<LinkStats> {
        let no_stats = || Error::NoStats {
            netns: self.name.clone(),
            dev: dev.to_owned(),
        };
        let json = self.ip(&["-s", "-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|_| no_stats())?;
        let stats = &v[0]["stats64"];
        let field = |dir: &str, name: &str| stats[dir][name].as_u64().ok_or_else(no_stats);
        Ok(LinkStats {
            rx_packets: field("rx", "packets")?,
            rx_dropped: field("rx", "dropped")?,
            tx_packets: field("tx", "packets")?,
            tx_dropped: field("tx", "dropped")?,
        })
    }

    /// Moves the calling thread into the namespace (setns changes only the calling thread).
    pub fn enter(&self) -> Result<()> {
        enter_path(&self.path(), &self.name)
    }

    /// Runs `f` on a thread that has entered the namespace, and waits for it. `f`'s error
    /// type only needs to take this crate's errors.
    pub fn run_in<T: Send, E: From<Error> + Send>(
        &self,
        f: impl FnOnce() -> Result<T, E> + Send,
    ) -> Result<T, E> {
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

/// Moves the calling thread into the network namespace of file `path` (named `name` in
/// errors).
pub(crate) fn enter_path(path: &std::path::Path, name: &str) -> Result<()> {
    let ns = File::open(path).map_err(|source| Error::OpenNetns {
        netns: name.to_owned(),
        source,
    })?;
    // SAFETY: `ns` is an open namespace file; setns changes only this thread.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(Error::Setns {
            netns: name.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        signals::unregister_netns(&self.name);
    }
}

/// An interface's packet counters, as the kernel reports them (for a veth, frames received
/// with XDP from its peer count too, and `rx_dropped` includes those its receive ring had no
/// room for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets dropped on receive.
    pub rx_dropped: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets dropped on send.
    pub tx_dropped: u64,
}

/// One end of a veth link: its namespace, name and MAC address.
#[derive(Clone, Copy, Debug)]
pub struct VethEnd<'a> {
    /// The namespace it lives in.
    pub netns: &'a Netns,
    /// The interface's name.
    pub name: &'a str,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// Creates a veth link between `a` and `b`, each directly in its namespace, both down (set
/// them up with `ip link set NAME up` once configured). Deleting either namespace deletes it.
pub fn veth(a: VethEnd<'_>, b: VethEnd<'_>) -> Result<()> {
    let (a_mac, b_mac) = (mac_string(a.mac), mac_string(b.mac));
    run(
        "ip",
        &[
            "link",
            "add",
            a.name,
            "netns",
            a.netns.name(),
            "address",
            &a_mac,
            "type",
            "veth",
            "peer",
            "name",
            b.name,
            "netns",
            b.netns.name(),
            "address",
            &b_mac,
        ],
    )
    .map(drop)
}

/// A MAC address as `ip` writes it (`02:68:6b:00:02:02`).
pub fn mac_string(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Deletes the namespaces named `<prefix><pid>x...` whose process is gone.
fn delete_stale_namespaces(prefix: &str) {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = stale_pid(name, prefix) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("netlab: deleting stale network namespace {name}");
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// The pid in a namespace name `<prefix><pid>x...`, if it is one.
fn stale_pid(name: &str, prefix: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix(prefix)?.split_once('x')?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_print_as_ip_wants_them() {
        assert_eq!(mac_string([2, 0x68, 0x6b, 0, 2, 2]), "02:68:6b:00:02:02");
    }

    #[test]
    fn names_carry_the_pid_and_fit_linux() {
        let tag = LabTag {
            netns_prefix: "hkd4242x0".into(),
            if_prefix: "hd010920".into(),
        };
        assert_eq!(tag.netns_name("router"), "hkd4242x0-router");
        assert_eq!(tag.ifname("ratk"), "hd010920ratk");
        assert_eq!(stale_pid("hkd4242x0-router", "hkd"), Some(4242));
        assert_eq!(stale_pid("hkb4242x0-router", "hkd"), None);
        assert_eq!(stale_pid("hkdx-router", "hkd"), None);
        let real = LabTag::new("hkt", "ht");
        assert!(real
            .netns_name("r")
            .starts_with(&format!("hkt{}x", std::process::id())));
        assert!(real.ifname("abcdef").len() <= MAX_IFNAME);
    }

    #[test]
    #[should_panic(expected = "longer than 15 bytes")]
    fn long_interface_names_are_refused() {
        LabTag::new("hkt", "ht").ifname("toolongsuffix");
    }
}
