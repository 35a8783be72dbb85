//! Crash points (test builds only): every step of a load, replace or unload that changes
//! kernel or disk state has a name here, and a daemon built with the `crash-points` feature
//! and started with `ECLATD_CRASH_AT=NAME` kills itself with `SIGKILL` (no unwinding, no
//! `Drop`) when it reaches that step, as `kill -9` would. `tests/crash_points.rs` kills the
//! daemon at each point in turn and checks what the restarted daemon makes of it.
//!
//! A point is named `OP.STEP`: the operation (`load` of a new script, `replace` of a loaded
//! one, `unload`) and the step within it; the runtime's own points (inside a link switch)
//! are named by the runtime and prefixed with the operation here. Without the feature, a
//! point compiles to nothing.

use std::cell::Cell;

/// The environment variable that names the point to die at.
pub const ENV: &str = "ECLATD_CRASH_AT";

/// Every crash point, in the order an operation meets them.
pub const POINTS: &[&str] = &[
    "load.intent.written",
    "load.intent.saved",
    "load.program.loaded",
    "load.chain.installed",
    "load.loader.loaded",
    "load.map.written",
    "load.order.written",
    "load.take_over.updated",
    "load.take_over.pinned",
    "load.switched",
    "load.attached",
    "load.commit.written",
    "load.committed",
    "replace.intent.written",
    "replace.intent.saved",
    "replace.program.loaded",
    "replace.chain.installed",
    "replace.loader.loaded",
    "replace.map.written",
    "replace.order.written",
    "replace.take_over.updated",
    "replace.take_over.pinned",
    "replace.switched",
    "replace.attached",
    "replace.commit.written",
    "replace.committed",
    "replace.loader.removed",
    "replace.chains.removed",
    "unload.commit.written",
    "unload.committed",
    "unload.take_over.updated",
    "unload.take_over.pinned",
    "unload.order.written",
    "unload.loader.removed",
    "unload.chains.removed",
];

thread_local! {
    /// The operation this thread is in (`load`, `replace`, `unload`), for the points' names.
    static OP: Cell<&'static str> = const { Cell::new("") };
}

/// Names the operation the calling thread is in until the guard drops.
pub struct Operation(&'static str);

impl Operation {
    /// Enters operation `op`.
    pub fn enter(op: &'static str) -> Operation {
        Operation(OP.with(|c| c.replace(op)))
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        OP.with(|c| c.set(self.0));
    }
}

/// Reached step `step` of the current operation.
#[inline]
pub fn point(step: &str) {
    #[cfg(feature = "crash-points")]
    {
        let op = OP.with(Cell::get);
        if op.is_empty() {
            return; // not within an operation (the start's own saves)
        }
        let name = format!("{op}.{step}");
        debug_assert!(
            POINTS.contains(&name.as_str()) || crate::fleet::POINTS.contains(&name.as_str()),
            "crash point `{name}` is not listed"
        );
        if std::env::var(ENV).is_ok_and(|at| at == name) {
            eprintln!("eclatd: crash point `{name}`: SIGKILL");
            // SAFETY: sending a signal to our own process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = step;
}

/// Lets the runtime's crash points (inside a link switch) reach [`point`] (with the feature
/// only).
pub fn install_runtime_hook() {
    #[cfg(feature = "crash-points")]
    hike_runtime::crash::set_hook(point);
}
