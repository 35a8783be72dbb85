//! `eclatd` in a lab's network namespace, and the scratch directory that holds its socket,
//! state and log: what the demo and the benchmarks start the daemon with.
//!
//! The daemon resolves interface names in its own network namespace, so it must run in the
//! namespace where the scripts attach (a router's); but it pins its VM in the host's bpffs
//! (`/sys/fs/bpf`), so it must stay in the host's mount namespace, which `ip netns exec` would
//! leave (it remounts `/sys`). It is started with `setns(CLONE_NEWNET)` between fork and exec
//! instead, with every signal unblocked (the caller blocks them, see [`crate::signals`]), a
//! parent-death signal (it stops if the caller dies without stopping it), every online CPU
//! (whatever CPU the caller pinned itself to) and a process group of its own (a Ctrl-C at the terminal reaches the caller only, which unloads what it loaded
//! before it stops the daemon). It gets the caller's [`ScratchDir`] for its socket and state
//! and an instance name with the caller's pid, `<prefix><pid>`, pinned under
//! [`BPFFS_HIKE`]`/<instance>`.
//!
//! This module knows the daemon only by its command line (`--socket`, `--state-dir`,
//! `--instance`, `--bpffs`) and links nothing of it; whether it answers is the caller's
//! question (`ready`), asked through the caller's own client.
//!
//! Cleanup: [`Eclatd`]'s `Drop` stops the daemon (SIGTERM, then SIGKILL) and removes the
//! instance's pins, which also frees what is still loaded and detaches it; the pin directory
//! and the scratch directory are registered with [`crate::signals`] for a forced exit, and
//! those of callers that are gone (killed) are removed when the next one starts.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::signals;

/// Where the daemon pins its instances: `<bpffs>/hike` with the bpffs at `/sys/fs/bpf`, which
/// [`Eclatd::start`] gives it.
pub const BPFFS_HIKE: &str = "/sys/fs/bpf/hike";

/// The bpffs the daemon is given (`--bpffs`).
const BPFFS: &str = "/sys/fs/bpf";

/// The daemon's socket, state directory and log, in the scratch directory.
const SOCKET: &str = "eclatd.sock";
const STATE_DIR: &str = "state";
const LOG: &str = "eclatd.log";

/// How often, and how long apart, a starting daemon is asked whether it serves.
const READY_ATTEMPTS: u32 = 300;
const READY_INTERVAL: Duration = Duration::from_millis(100);

/// How long the daemon has to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of the daemon's log that errors quote.
const LOG_TAIL_LINES: usize = 20;

/// A private directory `$TMPDIR/<prefix><pid>` (mode 0700), removed with its contents on drop
/// and registered with [`crate::signals`]; creating one removes those of the same prefix whose
/// process is gone.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `$TMPDIR/<prefix><pid>` (emptied if it exists). `prefix` must not end with a
    /// digit.
    pub fn new(prefix: &str) -> Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let tmp = std::env::temp_dir();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            if stale(&e.file_name(), prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let path = tmp.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        signals::register_dir(&path);
        if let Err(source) = std::fs::DirBuilder::new().mode(0o700).create(&path) {
            signals::unregister_dir(&path);
            return Err(Error::CreateDir { path, source });
        }
        Ok(ScratchDir { path })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        signals::unregister_dir(&self.path);
    }
}

/// Whether `name` is `<prefix><pid>` of a process that is gone (and not this one).
fn stale(name: &std::ffi::OsStr, prefix: &str) -> bool {
    name.to_str()
        .and_then(|n| n.strip_prefix(prefix))
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        })
}

/// How to start the daemon.
#[derive(Clone, Copy, Debug)]
pub struct EclatdOptions<'a> {
    /// The `eclatd` binary.
    pub bin: &'a Path,
    /// The network namespace it runs in.
    pub netns: &'a Netns,
    /// Its socket (`eclatd.sock`), state (`state/`) and log (`eclatd.log`) go here: the
    /// caller's [`ScratchDir`].
    pub dir: &'a Path,
    /// Its instance is `<instance_prefix><pid>`; must not end with a digit, and should name
    /// the caller (`hike-demo-`).
    pub instance_prefix: &'a str,
    /// More arguments (`--etcd URL --node NAME` for a fleet node); usually none.
    pub args: &'a [String],
}

/// A running eclatd; stopped, and its pins removed, on drop.
#[derive(Debug)]
pub struct Eclatd {
    child: Option<Child>,
    instance: String,
    instance_prefix: String,
    socket: PathBuf,
    log: PathBuf,
    pin_dir: PathBuf,
}

impl Eclatd {
    /// Starts the daemon as the module docs say, and waits until `ready(socket)` says it
    /// serves (asked every 100 ms, for 30 s at most), failing early, with the end of its log,
    /// if it exits. Removes first the pins of instances of the same prefix whose process is
    /// gone. Call it from a thread that outlives the daemon (the main thread): the
    /// parent-death signal comes when the thread that started the daemon ends.
    pub fn start(opts: &EclatdOptions<'_>, ready: impl FnMut(&Path) -> bool) -> Result<Eclatd> {
        delete_stale_instances(opts.instance_prefix);
        let instance = format!("{}{}", opts.instance_prefix, std::process::id());
        let log = opts.dir.join(LOG);
        let log_file = File::create(&log).map_err(|source| Error::CreateFile {
            path: log.clone(),
            source,
        })?;
        let log_err = log_file.try_clone().map_err(|source| Error::CreateFile {
            path: log.clone(),
            source,
        })?;
        let ns = File::open(opts.netns.path()).map_err(|source| Error::OpenNetns {
            netns: opts.netns.name().to_owned(),
            source,
        })?;
        let socket = opts.dir.join(SOCKET);
        let mut cmd = Command::new(opts.bin);
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(opts.dir.join(STATE_DIR))
            .arg("--instance")
            .arg(&instance)
            .arg("--bpffs")
            .arg(BPFFS)
            .args(opts.args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        let ns_fd = ns.as_raw_fd();
        let every_cpu = every_online_cpu();
        // SAFETY: between fork and exec the closure only makes async-signal-safe syscalls
        // and allocates nothing; `ns` stays open in the parent until `spawn` returns, so the
        // descriptor is valid in the child.
        unsafe {
            cmd.pre_exec(move || {
                // A child inherits its parent thread's CPUs: a caller pinned to one CPU for
                // its measurements must not pin the daemon there too.
                if let Some(set) = &every_cpu {
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // The caller blocks SIGTERM in every thread (`signals::install`), and a child
                // inherits that: the daemon must get it back to be stopped.
                signals::unblock_in_child()?;
                // The daemon stops if the caller dies without stopping it (killed, say).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A Ctrl-C at the terminal goes to the caller's process group: the caller
                // unloads its scripts, then stops the daemon.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let pin_dir = Path::new(BPFFS_HIKE).join(&instance);
        // Registered before it exists: a forced exit removes it whenever it happens.
        signals::register_dir(&pin_dir);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(source) => {
                signals::unregister_dir(&pin_dir);
                return Err(Error::StartDaemon {
                    program: opts.bin.to_owned(),
                    source,
                });
            }
        };
        drop(ns);
        let mut daemon = Eclatd {
            child: Some(child),
            instance,
            instance_prefix: opts.instance_prefix.to_owned(),
            socket,
            log,
            pin_dir,
        };
        daemon.wait_ready(ready)?;
        Ok(daemon)
    }

    fn wait_ready(&mut self, mut ready: impl FnMut(&Path) -> bool) -> Result<()> {
        let started = Instant::now();
        for _ in 0..READY_ATTEMPTS {
            signals::check()?;
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(Error::DaemonExited {
                    status,
                    log: self.log_tail(),
                });
            }
            if self.socket.exists() && ready(&self.socket) {
                return Ok(());
            }
            signals::sleep(READY_INTERVAL)?;
        }
        Err(Error::DaemonNotReady {
            waited: started.elapsed(),
            log: self.log_tail(),
        })
    }

    /// The instance name, `<prefix><pid>`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The socket it serves on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Its log (standard output and error).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Where it pins its instance (removed when it is stopped).
    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Stops the daemon: SIGTERM, wait (SIGKILL after 10 s), then removes the instance's pins
    /// (which would keep what is still loaded alive). Idempotent; the pins are removed even if
    /// the daemon did not stop well.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = stop_child(&mut child);
        remove_pins(&self.pin_dir, &self.instance_prefix);
        signals::unregister_dir(&self.pin_dir);
        match status {
            Some(s) if s.success() => Ok(()),
            Some(status) => Err(Error::DaemonFailed {
                status,
                log: self.log_tail(),
            }),
            None => Err(Error::DaemonKilled {
                timeout: STOP_TIMEOUT,
            }),
        }
    }
}

impl Drop for Eclatd {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{}: {e}", signals::program());
        }
    }
}

/// The set of every online CPU; `None` if they cannot be read.
fn every_online_cpu() -> Option<libc::cpu_set_t> {
    let cpus: Vec<usize> = crate::threads::online_cpus()
        .into_iter()
        .filter(|&c| c < libc::CPU_SETSIZE as usize)
        .collect();
    if cpus.is_empty() {
        return None;
    }
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it (each CPU is below
    // CPU_SETSIZE).
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        set
    };
    Some(set)
}

/// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; the exit status, `None` if it was killed.
fn stop_child(child: &mut Child) -> Option<std::process::ExitStatus> {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; `pid` is our child, not yet
        // reaped, so it cannot name another process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Removes an instance's pin directory, if it is one of `prefix`'s under [`BPFFS_HIKE`].
fn remove_pins(dir: &Path, prefix: &str) {
    let ours = dir.parent() == Some(Path::new(BPFFS_HIKE))
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix));
    if ours && dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            eprintln!(
                "{}: cannot remove {}: {e}",
                signals::program(),
                dir.display()
            );
        }
        // `hike/` itself when it is empty now (another instance keeps it).
        let _ = std::fs::remove_dir(BPFFS_HIKE);
    }
}

/// Removes the pins of `prefix`'s instances whose process is gone (killed with SIGKILL).
fn delete_stale_instances(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(BPFFS_HIKE) else {
        return;
    };
    for e in entries.flatten() {
        if stale(&e.file_name(), prefix) {
            eprintln!(
                "{}: removing the stale instance {}",
                signals::program(),
                e.path().display()
            );
            remove_pins(&e.path(), prefix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_names_of_dead_processes_of_the_prefix_are_stale() {
        let me = std::process::id();
        assert!(!stale(OsStr::new(&format!("hike-demo-{me}")), "hike-demo-"));
        // Pid 0 never names a process directory.
        assert!(stale(OsStr::new("hike-demo-0"), "hike-demo-"));
        assert!(!stale(OsStr::new("hike-demo-0"), "hike-bench-"));
        assert!(!stale(OsStr::new("hike-demo-x"), "hike-demo-"));
    }

    #[test]
    fn pins_outside_the_hike_directory_are_never_removed() {
        let dir = std::env::temp_dir().join(format!("hike-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        remove_pins(&dir, "hike-demo-");
        assert!(dir.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
