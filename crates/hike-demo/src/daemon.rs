//! The `eclat` command line that talks to the daemon, and the scripts loaded through it.
//!
//! The daemon itself runs in the router's namespace, started by `hike_netlab::Eclatd` (which
//! says why and how). Everything the demo asks of it goes through the `eclat` binary, as a
//! user would: `load`, `map dump --json`, `stats --json`, `list --json`, `unload`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

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
    /// Whether the daemon answers `eclat list`.
    pub fn responds(&self) -> bool {
        self.output(&["list"]).is_ok_and(|o| o.status.success())
    }

    /// `eclat map dump SCRIPT MAP --json`.
    pub fn map_dump(&self, script: &str, map: &str) -> Result<Value> {
        self.json(&["map", "dump", script, map, "--json"])
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
