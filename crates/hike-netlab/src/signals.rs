//! Ctrl-C and friends: a program that builds a lab stops cleanly and leaves no network
//! namespace behind.
//!
//! [`install`] blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it first in
//! `main`, before any other thread exists, so that every thread inherits the mask) and starts
//! a thread that waits for them. Child processes inherit the mask too (`std::process::Command`
//! keeps it): one that must be stopped by a signal calls [`unblock_in_child`] between fork and
//! exec. On the first signal it sets a flag that long loops poll ([`check`]): they return
//! [`Error::Interrupted`], and the guards ([`crate::Netns`] and the caller's own) clean up as
//! the stack unwinds. If that does not happen within [`GRACE`] (a syscall stuck, say), or on a
//! second signal, the thread deletes every namespace still registered ([`register_netns`])
//! and every directory still registered ([`register_dir`]) itself and exits with status 130.
//!
//! Without `install` (in tests) nothing is blocked and [`check`] never fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long the main thread has to clean up after a signal before the signal thread does it.
pub const GRACE: Duration = Duration::from_secs(10);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PROGRAM: OnceLock<&'static str> = OnceLock::new();
static LEFT: Mutex<Left> = Mutex::new(Left {
    netns: Vec::new(),
    dirs: Vec::new(),
});

/// What the signal thread deletes if the guards did not.
struct Left {
    netns: Vec<String>,
    dirs: Vec<PathBuf>,
}

impl Left {
    fn is_empty(&self) -> bool {
        self.netns.is_empty() && self.dirs.is_empty()
    }
}

/// Whether a terminating signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The name given to [`install`] (`netlab` without it), to prefix messages with.
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("netlab")
}

/// Fails with [`Error::Interrupted`] if a terminating signal arrived: the caller unwinds and
/// its guards clean up.
pub fn check() -> Result<()> {
    if interrupted() {
        return Err(Error::Interrupted);
    }
    Ok(())
}

/// Sleeps `d` in small steps, failing early with [`Error::Interrupted`] after a signal.
pub fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    loop {
        check()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Records a network namespace to delete if the process is stopped by a signal.
pub fn register_netns(name: &str) {
    lock().netns.push(name.to_owned());
}

/// Forgets a namespace that its guard deleted.
pub fn unregister_netns(name: &str) {
    lock().netns.retain(|n| n != name);
}

/// Records a directory to remove (with its contents) if the process is stopped by a signal.
pub fn register_dir(path: &Path) {
    lock().dirs.push(path.to_owned());
}

/// Forgets a directory that its guard removed.
pub fn unregister_dir(path: &Path) {
    lock().dirs.retain(|d| d != path);
}

fn lock() -> MutexGuard<'static, Left> {
    // A panic while holding the lock leaves consistent lists: keep using them.
    LEFT.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initializes the set it is given; sigaddset only adds valid signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// Blocks the terminating signals in the calling thread (and the threads it starts later) and
/// starts the thread that handles them; `program` prefixes its messages. Call it once, first
/// thing in `main`.
pub fn install(program: &'static str) -> Result<()> {
    let _ = PROGRAM.set(program);
    let set = signal_set();
    // SAFETY: `set` is a valid signal set; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(Error::Signals {
            source: std::io::Error::from_raw_os_error(rc),
        });
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || handle(set))
        .map_err(|source| Error::Signals { source })?;
    Ok(())
}

/// Unblocks every signal of the calling thread. For `CommandExt::pre_exec`, between fork
/// and exec, so that a child process of a program that called [`install`] can be stopped with
/// SIGTERM: it makes one async-signal-safe syscall.
pub fn unblock_in_child() -> std::io::Result<()> {
    // SAFETY: sigemptyset initializes the set; sigprocmask is async-signal-safe and a null
    // old-set pointer is allowed.
    let rc = unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn wait(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` is valid and blocked in this thread; `sig` is a valid out pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn handle(set: libc::sigset_t) {
    let program = program();
    let sig = wait(&set);
    INTERRUPTED.store(true, Ordering::Relaxed);
    eprintln!("\n{program}: signal {sig}: stopping and cleaning up (again to force)");
    // Wait for the guards, or for a second signal, with a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(wait(&set));
    });
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && !lock().is_empty() {
        if rx.try_recv().is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (netns, dirs) = {
        let left = lock();
        (left.netns.clone(), left.dirs.clone())
    };
    for ns in &netns {
        eprintln!("{program}: deleting network namespace {ns}");
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", ns])
            .output();
    }
    for dir in &dirs {
        eprintln!("{program}: removing {}", dir.display());
        let _ = std::fs::remove_dir_all(dir);
    }
    if !netns.is_empty() || !dirs.is_empty() {
        std::process::exit(130);
    }
    // Everything is cleaned up: let `main` return, but do not wait for ever.
    std::thread::sleep(GRACE);
    std::process::exit(130);
}
