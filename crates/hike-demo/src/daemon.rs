//! eclatd in the router's namespace, and the `eclat` command line that talks to it.
//!
//! The daemon resolves interface names in its own network namespace, so it must run in the
//! router's; but it pins the VM in the host's bpffs (`/sys/fs/bpf`), so it must stay in the
//! host's mount namespace, which `ip netns exec` would leave (it remounts `/sys`). It is
//! started with `setns(CLONE_NEWNET)` between fork and exec instead. It gets a private socket
//! and state directory in the demo's scratch directory and an instance name with the pid.
//!
//! Everything the demo asks of the daemon goes through the `eclat` binary, as a user would:
//! `load`, `map dump --json`, `stats --json`, `list --json`, `unload`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hike_netlab::{signals, Netns};
use serde_json::Value;

/// Where the daemon pins its instances (the default of `eclatd --bpffs`), under `hike/`.
const BPFFS_HIKE: &str = "/sys/fs/bpf/hike";

/// The prefix of the demo's instance names: `hike-demo-<pid>`.
const INSTANCE_PREFIX: &str = "hike-demo-";

/// How often, and how long apart, the demo asks a starting daemon whether it serves.
const READY_ATTEMPTS: u32 = 300;
const READY_INTERVAL: Duration = Duration::from_millis(100);

/// How long a daemon has to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The `eclat` command line, pointed at one daemon's socket.
#[derive(Clone, Debug)]
pub struct Eclat {
    bin: PathBuf,
    socket: PathBuf,
}

impl Eclat {
    /// `eclat --socket SOCKET ...` with the binary `bin`.
    pub fn new(bin: PathBuf, socket: PathBuf) -> Eclat {
        Eclat { bin, socket }
    }

    /// Runs `eclat --socket SOCKET ARGS...` and returns its output, whatever its status.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        Command::new(&self.bin)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run `{}`", self.bin.display()))
    }

    /// Runs `eclat ARGS...`; its standard output, or an error with its standard error.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "`eclat {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `eclat ARGS... ` (with `--json` among them) and parses its output.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let out = self.run(args)?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("`eclat {}` printed no JSON: {out}", args.join(" ")))
    }
}

impl Eclat {
    /// `eclat map dump SCRIPT MAP --json`.
    pub fn map_dump(&self, script: &str, map: &str) -> Result<Value> {
        self.json(&["map", "dump", script, map, "--json"])
    }
}

/// A running eclatd; stopped (SIGTERM, then its pins removed) on drop.
#[derive(Debug)]
pub struct Eclatd {
    child: Option<Child>,
    /// The instance name.
    pub instance: String,
    /// Its log (standard error).
    pub log: PathBuf,
    pin_dir: PathBuf,
}

impl Eclatd {
    /// Starts `bin` in `netns` with its socket and state under `dir`, and waits (a bounded
    /// number of attempts) until `eclat list` gets an answer.
    pub fn start(bin: &Path, netns: &Netns, dir: &Path, eclat: &Eclat) -> Result<Eclatd> {
        delete_stale_instances();
        let instance = format!("{INSTANCE_PREFIX}{}", std::process::id());
        let log = dir.join("eclatd.log");
        let log_file = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let ns = File::open(netns.path())
            .with_context(|| format!("open network namespace {}", netns.name()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--socket")
            .arg(&eclat.socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--instance")
            .arg(&instance)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let ns_fd = ns.as_raw_fd();
        // SAFETY: between fork and exec the closure only makes async-signal-safe syscalls;
        // `ns` stays open in the parent until `spawn` returns, so the descriptor is valid in
        // the child.
        unsafe {
            cmd.pre_exec(move || {
                // The demo blocks SIGTERM in every thread (`signals::install`), and a child
                // inherits that: the daemon must get it back to be stopped.
                signals::unblock_in_child()?;
                // The daemon stops if the demo dies without stopping it (killed, say).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", bin.display()))?;
        drop(ns);
        let mut daemon = Eclatd {
            child: Some(child),
            pin_dir: Path::new(BPFFS_HIKE).join(&instance),
            instance,
            log,
        };
        daemon.wait_ready(eclat)?;
        // The daemon says where it pins; remove exactly that when it is stopped.
        if let Ok(list) = eclat.json(&["list", "--json"]) {
            if let Some(dir) = list["pin_dir"].as_str().filter(|d| !d.is_empty()) {
                daemon.pin_dir = PathBuf::from(dir);
            }
        }
        Ok(daemon)
    }

    fn wait_ready(&mut self, eclat: &Eclat) -> Result<()> {
        let started = Instant::now();
        for _ in 0..READY_ATTEMPTS {
            signals::check()?;
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!("eclatd exited at start ({status}):\n{}", self.log_tail());
            }
            if eclat.socket.exists() && eclat.output(&["list"])?.status.success() {
                return Ok(());
            }
            signals::sleep(READY_INTERVAL)?;
        }
        Err(anyhow!(
            "eclatd did not answer `eclat list` within {:.0} s:\n{}",
            started.elapsed().as_secs_f64(),
            self.log_tail()
        ))
    }

    /// The end of the daemon's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the daemon: SIGTERM, wait (and SIGKILL after [`STOP_TIMEOUT`]), then removes
    /// the instance's pins (which would keep what is still loaded alive). Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = libc::pid_t::try_from(child.id()).context("a pid")?;
        // SAFETY: kill has no memory-safety preconditions; `pid` is our child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        remove_pins(&self.pin_dir);
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!("eclatd exited with {s}:\n{}", self.log_tail()),
            None => bail!("eclatd did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed"),
        }
    }
}

impl Drop for Eclatd {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("hike-demo: {e:#}");
        }
    }
}

/// Removes an instance's pin directory, if it is one of the demo's.
fn remove_pins(dir: &Path) {
    let ours = dir.starts_with(BPFFS_HIKE)
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(INSTANCE_PREFIX));
    if ours && dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            eprintln!("hike-demo: cannot remove {}: {e}", dir.display());
        }
    }
}

/// Removes the pins of demo instances whose process is gone (a demo killed with SIGKILL).
fn delete_stale_instances() {
    let Ok(entries) = std::fs::read_dir(BPFFS_HIKE) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(INSTANCE_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!(
                "hike-demo: removing the stale instance {}",
                e.path().display()
            );
            remove_pins(&e.path());
        }
    }
}

/// Scripts loaded into the daemon, unloaded on drop (before the daemon stops).
#[derive(Debug)]
pub struct LoadedScripts {
    eclat: Eclat,
    names: Vec<String>,
}

impl LoadedScripts {
    /// None yet.
    pub fn new(eclat: Eclat) -> LoadedScripts {
        LoadedScripts {
            eclat,
            names: Vec::new(),
        }
    }

    /// `eclat load FILE --name NAME -D ...`; the daemon's reply.
    pub fn load(&mut self, file: &Path, name: &str, defines: &[String]) -> Result<Value> {
        let file = file.to_str().context("a UTF-8 script path")?;
        let mut args = vec!["load", file, "--name", name, "--json"];
        for d in defines {
            args.extend(["-D", d.as_str()]);
        }
        let reply = self.eclat.json(&args)?;
        self.names.push(name.to_owned());
        Ok(reply)
    }

    /// Unloads every script, newest first; the first error, after trying them all.
    pub fn unload_all(&mut self) -> Result<Vec<String>> {
        let mut first_error = None;
        let mut done = Vec::new();
        while let Some(name) = self.names.pop() {
            match self.eclat.run(&["unload", &name]) {
                Ok(_) => done.push(name),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

impl Drop for LoadedScripts {
    fn drop(&mut self) {
        if let Err(e) = self.unload_all() {
            eprintln!("hike-demo: {e:#}");
        }
    }
}
