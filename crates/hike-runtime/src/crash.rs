//! Crash points: named places inside multi-step kernel operations (a link switch, say) where
//! a test makes the process die, to check that a restart recovers from whatever was half
//! done there.
//!
//! The runtime only names the places; what happens there is the embedding program's
//! business: `eclatd` built with its `crash-points` feature installs a hook that kills the
//! process with `SIGKILL` at the point its test asks for. Without a hook, a point costs one
//! atomic load.

use std::sync::OnceLock;

static HOOK: OnceLock<fn(&str)> = OnceLock::new();

/// The crash points of this crate, in the order an operation meets them.
pub const POINTS: &[&str] = &["take_over.updated", "take_over.pinned"];

/// Installs the function called at every crash point with its name; only the first
/// installation counts (returns whether this one did).
pub fn set_hook(hook: fn(&str)) -> bool {
    HOOK.set(hook).is_ok()
}

/// Reached crash point `name` (one of [`POINTS`]).
pub(crate) fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "crash point `{name}` is not listed");
    if let Some(hook) = HOOK.get() {
        hook(name);
    }
}
