//! A blocking gRPC client of `eclatd` (`eclat.v1`, tonic over the daemon's Unix socket), for
//! `control_plane`: the calls a control plane makes, timed from this process as a client
//! sees them.
//!
//! The daemon itself is started by `hike_netlab::Eclatd`. The client runs its calls on a
//! current-thread tokio runtime of its own, on the calling thread, so a timed call is one
//! request and its reply over the socket.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use eclat_proto::v1 as pb;
use eclat_proto::EclatClient;
use tonic::transport::Channel;

/// A connection to one daemon.
pub struct DaemonClient {
    runtime: tokio::runtime::Runtime,
    client: EclatClient<Channel>,
    socket: PathBuf,
}

impl DaemonClient {
    /// Connects to the daemon serving on `socket`.
    pub fn connect(socket: &Path) -> Result<DaemonClient> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the gRPC client's runtime")?;
        let client = runtime
            .block_on(eclat_proto::connect(socket))
            .with_context(|| format!("connect to eclatd at `{}`", socket.display()))?;
        Ok(DaemonClient {
            runtime,
            client,
            socket: socket.to_path_buf(),
        })
    }

    /// Whether a daemon serves on `socket`: it accepts a connection and answers `List`.
    pub fn responds(socket: &Path) -> bool {
        DaemonClient::connect(socket).is_ok_and(|mut c| c.list().is_ok())
    }

    fn status(&self, call: &str, s: tonic::Status) -> anyhow::Error {
        anyhow!(
            "eclatd at `{}` refused `{call}`: {:?}: {}",
            self.socket.display(),
            s.code(),
            s.message()
        )
    }

    /// `List`.
    pub fn list(&mut self) -> Result<pb::ListReply> {
        let reply = self.runtime.block_on(self.client.list(pb::ListRequest {}));
        reply
            .map(tonic::Response::into_inner)
            .map_err(|s| self.status("List", s))
    }

    /// `Load`: loads `text` as script `name` (or replaces the script of that name), with the
    /// `-D` definitions `defines`; the reply and the call's wall time.
    pub fn load(
        &mut self,
        name: &str,
        file_name: &str,
        text: &str,
        defines: &[(String, String)],
    ) -> Result<(pb::LoadReply, Duration)> {
        let request = pb::LoadRequest {
            name: name.to_owned(),
            source: Some(pb::Source {
                file_name: file_name.to_owned(),
                text: text.to_owned(),
                siblings: Default::default(),
            }),
            defines: defines
                .iter()
                .map(|(name, value)| pb::Define {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            loader: String::new(),
            priority: None,
            proceed_on: None,
            tc_placement: None,
        };
        let started = Instant::now();
        let reply = self.runtime.block_on(self.client.load(request));
        let took = started.elapsed();
        let reply = reply
            .map(tonic::Response::into_inner)
            .map_err(|s| self.status("Load", s))?;
        Ok((reply, took))
    }

    /// `Unload`; the call's wall time.
    pub fn unload(&mut self, name: &str) -> Result<Duration> {
        let started = Instant::now();
        let reply = self.runtime.block_on(self.client.unload(pb::UnloadRequest {
            name: name.to_owned(),
        }));
        let took = started.elapsed();
        reply.map_err(|s| self.status("Unload", s))?;
        Ok(took)
    }

    /// `DumpMap`: every entry of `map` (`PROGRAM.MAP`) of `script`, per-CPU values summed.
    pub fn dump_map(&mut self, script: &str, map: &str) -> Result<pb::DumpMapReply> {
        let reply = self.runtime.block_on(self.client.dump_map(pb::MapRequest {
            script: script.to_owned(),
            map: map.to_owned(),
        }));
        reply
            .map(tonic::Response::into_inner)
            .map_err(|s| self.status("DumpMap", s))
    }
}
