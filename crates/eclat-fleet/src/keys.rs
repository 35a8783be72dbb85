//! Where the fleet keeps what, under one prefix (`--etcd-prefix`, default `/eclat/v1/`):
//!
//! ```text
//! PREFIX nodes/NODE               NodeInfo: labels, version, interfaces, last seen (kept)
//! PREFIX alive/NODE               empty, under the node's lease: the node is live
//! PREFIX scripts/NAME/committed   Committed: the generation every selected node runs
//! PREFIX scripts/NAME/proposal    Proposal: a rollout in progress, under the CLI's lease
//! PREFIX status/NAME/NODE         Status: the node's answer for a generation and attempt
//! PREFIX objects/sha256/HEX       a built object of a user package, by its SHA-256
//! PREFIX uploads/LEASE            the hashes a rollout in progress is writing (its lease)
//! ```
//!
//! Nodes watch `scripts/`; the commit is one transaction that writes `committed` and
//! deletes `proposal`. Names are checked ([`check_name`]) before they reach a key.

use crate::error::{FleetError, Result};

/// The default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/eclat/v1/";

/// The keys of one fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

/// Checks a script or node name: it becomes a key segment.
pub fn check_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(FleetError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}

impl Layout {
    /// The layout under `prefix` (a `/` is added at its end if missing).
    pub fn new(prefix: &str) -> Layout {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Layout { prefix }
    }

    /// The prefix, ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every node's info.
    pub fn nodes(&self) -> String {
        format!("{}nodes/", self.prefix)
    }

    /// A node's info.
    pub fn node(&self, node: &str) -> String {
        format!("{}{node}", self.nodes())
    }

    /// Every live node's lease key.
    pub fn alive_all(&self) -> String {
        format!("{}alive/", self.prefix)
    }

    /// A node's lease key.
    pub fn alive(&self, node: &str) -> String {
        format!("{}{node}", self.alive_all())
    }

    /// Every script's keys.
    pub fn scripts(&self) -> String {
        format!("{}scripts/", self.prefix)
    }

    /// The committed state of a script.
    pub fn committed(&self, script: &str) -> String {
        format!("{}{script}/committed", self.scripts())
    }

    /// The rollout in progress of a script.
    pub fn proposal(&self, script: &str) -> String {
        format!("{}{script}/proposal", self.scripts())
    }

    /// The canary step of a rollout in progress.
    pub fn canary(&self, script: &str) -> String {
        format!("{}{script}/canary", self.scripts())
    }

    /// Every node's status of a script.
    pub fn statuses(&self, script: &str) -> String {
        format!("{}status/{script}/", self.prefix)
    }

    /// Every status of every script.
    pub fn statuses_all(&self) -> String {
        format!("{}status/", self.prefix)
    }

    /// A node's status of a script.
    pub fn status(&self, script: &str, node: &str) -> String {
        format!("{}{node}", self.statuses(script))
    }

    /// Every object.
    pub fn objects(&self) -> String {
        format!("{}objects/sha256/", self.prefix)
    }

    /// The object whose SHA-256 is `hex`.
    pub fn object(&self, hex: &str) -> String {
        format!("{}{hex}", self.objects())
    }

    /// Every rollout's list of the objects it is writing.
    pub fn uploads(&self) -> String {
        format!("{}uploads/", self.prefix)
    }

    /// The list of the objects the rollout under `lease` is writing.
    pub fn upload(&self, lease: i64) -> String {
        format!("{}{lease:x}", self.uploads())
    }

    /// `(script, which)` of a key under [`Layout::scripts`]: `which` is `committed` or
    /// `proposal`.
    pub fn parse_script_key<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str)> {
        let rest = key.strip_prefix(&self.scripts())?;
        rest.split_once('/')
    }

    /// The last segment of a key under `dir`.
    pub fn leaf<'k>(key: &'k str, dir: &str) -> Option<&'k str> {
        key.strip_prefix(dir).filter(|r| !r.contains('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sit_under_the_prefix_and_parse_back() {
        let l = Layout::new("/x");
        assert_eq!(l.committed("web"), "/x/scripts/web/committed");
        assert_eq!(l.status("web", "n1"), "/x/status/web/n1");
        assert_eq!(
            l.parse_script_key("/x/scripts/web/proposal"),
            Some(("web", "proposal"))
        );
        assert_eq!(Layout::leaf("/x/alive/n1", &l.alive_all()), Some("n1"));
    }

    #[test]
    fn names_that_would_escape_a_key_are_refused() {
        assert!(check_name("node", "edge-1.a_b").is_ok());
        for bad in ["", "a/b", "..", ".x", "a b", &"x".repeat(65)] {
            let e = check_name("node", bad).unwrap_err().to_string();
            assert!(e.contains("not a valid node name"), "{e}");
        }
    }
}
