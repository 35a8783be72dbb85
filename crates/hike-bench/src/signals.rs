//! Ctrl-C and friends: the benchmark stops cleanly and leaves no network namespace behind.
//!
//! [`install`] blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it first in
//! `main`, before any other thread exists, so that every thread inherits the mask) and starts
//! a thread that waits for them. On the first signal it sets a flag that the measuring loops
//! poll ([`check`]): they return an error, and the guards of `netlab` delete their namespaces as
//! the stack unwinds. If that does not happen within [`GRACE`] (a syscall stuck, say), or on a
//! second signal, the thread deletes every namespace still registered ([`register_netns`])
//! itself and exits with status 130.
//!
//! Without `install` (in tests) nothing is blocked and [`check`] never fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// How long the main thread has to clean up after a signal before the signal thread does it.
pub const GRACE: Duration = Duration::from_secs(10);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static NETNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether a terminating signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Fails if a terminating signal arrived: the caller unwinds and its guards clean up.
pub fn check() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// Records a network namespace to delete if the process is stopped by a signal.
pub fn register_netns(name: &str) {
    lock().push(name.to_owned());
}

/// Forgets a namespace that its guard deleted.
pub fn unregister_netns(name: &str) {
    lock().retain(|n| n != name);
}

fn lock() -> std::sync::MutexGuard<'static, Vec<String>> {
    // A panic while holding the lock leaves a consistent list: keep using it.
    NETNS.lock().unwrap_or_else(|e| e.into_inner())
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
/// starts the thread that handles them. Call it once, first thing in `main`.
pub fn install() -> Result<()> {
    let set = signal_set();
    // SAFETY: `set` is a valid signal set; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        bail!("pthread_sigmask: {}", std::io::Error::from_raw_os_error(rc));
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || handle(set))?;
    Ok(())
}

fn wait(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` is valid and blocked in this thread; `sig` is a valid out pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn handle(set: libc::sigset_t) {
    let sig = wait(&set);
    INTERRUPTED.store(true, Ordering::Relaxed);
    eprintln!("\nhike-bench: signal {sig}: stopping and cleaning up (again to force)");
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
    let left: Vec<String> = lock().clone();
    for ns in &left {
        eprintln!("hike-bench: deleting network namespace {ns}");
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", ns])
            .output();
    }
    if !left.is_empty() {
        std::process::exit(130);
    }
    // Everything is cleaned up: let `main` return, but do not wait for ever.
    std::thread::sleep(GRACE);
    std::process::exit(130);
}
