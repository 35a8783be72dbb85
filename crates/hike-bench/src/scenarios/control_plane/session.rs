//! The daemon's side of `control_plane`: where the `eclatd` binary is, and a session with the
//! running daemon that loads, replaces and unloads the script and reads its monitor.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use eclat_proto::v1 as pb;
use hike_netlab::RouterLab;

use super::script::{monitor_total, MONITOR_MAP, SCRIPT, SCRIPT_FILE, SCRIPT_NAME};
use crate::daemon::DaemonClient;
use crate::measure::Settings;

/// Where the `eclatd` binary is: as given, else beside this executable.
pub fn eclatd_bin(settings: &Settings) -> Result<PathBuf> {
    let path = match &settings.eclatd {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("where is this binary")?
            .with_file_name("eclatd"),
    };
    if !path.is_file() {
        bail!(
            "no `eclatd` at {}: build it beside hike-bench (`cargo build --release -p eclatd`; \
             `make bench` does), or give --eclatd PATH",
            path.display()
        );
    }
    Ok(path)
}

/// The daemon and a client, with the script's two versions and definitions.
pub struct Session<'a> {
    /// The gRPC client.
    pub client: DaemonClient,
    /// The router the script is attached in.
    pub lab: &'a RouterLab,
    /// The script's `-D` definitions.
    pub defines: Vec<(String, String)>,
    /// The swapped version of the script.
    pub swapped: String,
}

impl Session<'_> {
    /// Loads the original script (it must not be loaded): the reply and the wall time.
    pub fn load(&mut self) -> Result<(pb::LoadReply, Duration)> {
        let (reply, took) = self
            .client
            .load(SCRIPT_NAME, SCRIPT_FILE, SCRIPT, &self.defines)?;
        ensure!(!reply.replaced, "`{SCRIPT_NAME}` was already loaded");
        let attached = reply
            .script
            .as_ref()
            .and_then(|s| s.loader.as_ref())
            .is_some_and(|l| {
                l.attachments
                    .iter()
                    .any(|a| a.ifindex == self.lab.in_ifindex)
            });
        ensure!(
            attached,
            "`{SCRIPT_NAME}` is not attached to `{}` (ifindex {})",
            self.lab.in_if,
            self.lab.in_ifindex
        );
        Ok((reply, took))
    }

    /// Replaces the loaded script by its `n`th version (odd: swapped, even: original): the
    /// wall time.
    pub fn swap(&mut self, n: usize) -> Result<Duration> {
        let text = if n % 2 == 1 {
            self.swapped.as_str()
        } else {
            SCRIPT
        };
        let (reply, took) = self
            .client
            .load(SCRIPT_NAME, SCRIPT_FILE, text, &self.defines)?;
        ensure!(reply.replaced, "`{SCRIPT_NAME}` was not replaced");
        Ok(took)
    }

    /// Loads the original script fused (it must not be loaded): the wall time, which
    /// includes the fused build (clang) and its verification.
    pub fn load_fused(&mut self) -> Result<Duration> {
        let (reply, took) =
            self.client
                .load_mode(SCRIPT_NAME, SCRIPT_FILE, SCRIPT, &self.defines, "fused")?;
        ensure!(!reply.replaced, "`{SCRIPT_NAME}` was already loaded");
        let mode = reply.script.as_ref().map_or("", |s| s.mode.as_str());
        ensure!(mode == "fused", "`{SCRIPT_NAME}` loaded {mode}, not fused");
        Ok(took)
    }

    /// Unloads the script: the wall time.
    pub fn unload(&mut self) -> Result<Duration> {
        self.client.unload(SCRIPT_NAME)
    }

    /// Packets the chain counted so far, read through `script` (the monitor's map is the
    /// program's, shared by every script that calls it).
    pub fn counted(&mut self, script: &str) -> Result<u64> {
        monitor_total(&self.client.dump_map(script, MONITOR_MAP)?)
    }
}
