//! The gRPC service: converts requests into [`Daemon`] calls (on blocking threads: they make
//! syscalls and may wait for an RCU grace period) and results into replies or statuses.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;

use eclat_proto::v1 as pb;
use eclat_proto::Eclat;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::daemon::{self, Counters, Daemon, Entry, Listing, ScriptSource};
use crate::error::DaemonError;
use crate::state::ScriptRecord;

/// The service.
#[derive(Debug, Clone)]
pub struct Service {
    daemon: Arc<Daemon>,
    events: broadcast::Sender<pb::Event>,
}

impl Service {
    /// The service of `daemon`, streaming events from `events`.
    pub fn new(daemon: Arc<Daemon>, events: broadcast::Sender<pb::Event>) -> Service {
        Service { daemon, events }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Daemon) -> Result<T, DaemonError> + Send + 'static,
    ) -> Result<T, Status> {
        let daemon = self.daemon.clone();
        tokio::task::spawn_blocking(move || f(&daemon))
            .await
            .map_err(|e| Status::internal(format!("the request's worker failed: {e}")))?
            .map_err(Status::from)
    }
}

fn source(s: Option<pb::Source>, defines: Vec<pb::Define>) -> ScriptSource {
    let s = s.unwrap_or_default();
    let mut siblings: Vec<(String, String)> = s.siblings.into_iter().collect();
    siblings.sort();
    ScriptSource {
        file_name: s.file_name,
        text: s.text,
        siblings,
        defines: defines.into_iter().map(|d| (d.name, d.value)).collect(),
        bundle: None,
        c_objects: Default::default(),
    }
}

fn script_pb(
    r: &ScriptRecord,
    kernel_id: u32,
    maps: Vec<String>,
    gone: &BTreeSet<(String, u32)>,
) -> pb::Script {
    pb::Script {
        name: r.name.clone(),
        file_name: r.file_name.clone(),
        defines: r
            .defines
            .iter()
            .map(|(n, v)| pb::Define {
                name: n.clone(),
                value: v.clone(),
            })
            .collect(),
        generation: r.generation,
        chains: r
            .chains
            .iter()
            .map(|c| pb::Chain {
                name: c.name.clone(),
                id: c.id,
                params: u32::from(c.params),
                insns: c.insns,
            })
            .collect(),
        programs: Vec::new(),
        loader: Some(pb::Loader {
            name: r.loader.name.clone(),
            package: r.loader.package.clone(),
            kernel_id,
            maps,
            attachments: r
                .loader
                .attachments
                .iter()
                .map(|a| pb::Attachment {
                    device: a.device.clone(),
                    ifindex: a.ifindex,
                    hook: a.hook.clone(),
                    present: !gone.contains(&(r.name.clone(), a.ifindex)),
                })
                .collect(),
        }),
        loaded_at: r.loaded_at,
        mode: if r.mode.is_empty() {
            eclat_link::Mode::Interpreted.to_string()
        } else {
            r.mode.clone()
        },
        priority: r.priority,
        proceed_on: crate::daemon::proceed_on_names(r.proceed_on)
            .into_iter()
            .map(String::from)
            .collect(),
        tc_placement: r.tc_placement.name(),
    }
}

fn with_programs(mut s: pb::Script, r: &ScriptRecord, listing: &Listing) -> pb::Script {
    s.programs = r
        .programs
        .iter()
        .filter_map(|id| listing.programs.iter().find(|p| p.record.id == *id))
        .map(|p| p.record.name.clone())
        .collect();
    s
}

/// A script as listed: its loader's kernel ID, maps and attachments as they are now.
fn listed_script(r: &ScriptRecord, listing: &Listing) -> pb::Script {
    let s = script_pb(
        r,
        listing.loader_ids.get(&r.name).copied().unwrap_or(0),
        listing
            .loader_maps
            .get(&r.name)
            .cloned()
            .unwrap_or_default(),
        &listing.gone,
    );
    with_programs(s, r, listing)
}

fn script_of(daemon: &Daemon, r: &ScriptRecord) -> pb::Script {
    listed_script(r, &daemon.list())
}

fn entry_pb(e: &Entry) -> pb::MapEntry {
    pb::MapEntry {
        key: e.key.to_string(),
        value: e.value.to_string(),
    }
}

fn faults_pb(f: &[(String, u64)]) -> Vec<pb::FaultCount> {
    f.iter()
        .map(|(reason, count)| pb::FaultCount {
            reason: reason.clone(),
            count: *count,
        })
        .collect()
}

fn stats_pb(c: Counters) -> pb::StatsReply {
    pb::StatsReply {
        scripts: c
            .scripts
            .into_iter()
            .map(|s| pb::ScriptStats {
                name: s.name,
                chains: s
                    .chains
                    .into_iter()
                    .map(|c| pb::ChainStats {
                        name: c.name,
                        id: c.id,
                        runs: c.runs,
                        faults: faults_pb(&c.faults),
                    })
                    .collect(),
                programs: s
                    .programs
                    .into_iter()
                    .map(|p| pb::ProgramStats {
                        name: p.name,
                        id: p.id,
                        calls: p.calls,
                        shared_with: p.shared_with,
                    })
                    .collect(),
                faults: faults_pb(&s.faults),
                generation: s.generation,
                loaded_at: s.loaded_at,
                verdicts: s
                    .verdicts
                    .iter()
                    .map(|(verdict, count)| pb::VerdictCount {
                        verdict: (*verdict).into(),
                        count: *count,
                    })
                    .collect(),
            })
            .collect(),
        faults: faults_pb(&c.faults),
        packets: c.packets,
        coverage: Some(pb::Coverage {
            chains: daemon::CHAINS_COVER.into(),
            programs: daemon::PROGRAMS_COVER.into(),
            packets: daemon::PACKETS_COVER.into(),
        }),
    }
}

fn required<'a>(what: &'static str, s: &'a str) -> Result<&'a str, Status> {
    if s.is_empty() {
        Err(DaemonError::Missing { what }.into())
    } else {
        Ok(s)
    }
}

/// The names every map request carries: the script's and the map's.
fn required_map(script: &str, map: &str) -> Result<(), Status> {
    required("script name", script)?;
    required("map name", map)?;
    Ok(())
}

/// The names every request on one map entry carries: [`required_map`]'s and the key.
fn required_entry(script: &str, map: &str, key: &str) -> Result<(), Status> {
    required_map(script, map)?;
    required("key", key)?;
    Ok(())
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Eclat for Service {
    async fn check(
        &self,
        req: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckReply>, Status> {
        let r = req.into_inner();
        let src = source(r.source, r.defines);
        let (ok, diagnostics) = self.blocking(move |d| d.check(&src)).await?;
        Ok(Response::new(pb::CheckReply { ok, diagnostics }))
    }

    async fn load(&self, req: Request<pb::LoadRequest>) -> Result<Response<pb::LoadReply>, Status> {
        let r = req.into_inner();
        let src = source(r.source, r.defines);
        let name = r.name;
        let loader = r.loader;
        let mode: eclat_link::Mode = match r.mode.as_str() {
            "" => eclat_link::Mode::Interpreted,
            m => m.parse().map_err(Status::invalid_argument)?,
        };
        let journal = crate::ops::Pending::load(&name, &src.file_name);
        let proceed_on = match r.proceed_on {
            Some(text) => Some(
                crate::daemon::parse_proceed_on(&text)
                    .map_err(|why| {
                        Status::from(crate::error::DaemonError::BadProceedOn { text, why })
                    })
                    .inspect_err(|e| journal.refused(e))?,
            ),
            None => None,
        };
        let tc_placement = match r.tc_placement {
            Some(text) => Some(
                match hike_runtime::TcPlacement::from_name(&text) {
                    Some(p) => Ok(p),
                    None => Err(crate::error::DaemonError::BadTcPlacement { text }),
                }
                .map_err(Status::from)
                .inspect_err(|e| journal.refused(e))?,
            ),
            None => None,
        };
        let placement = crate::daemon::Placement {
            priority: r.priority,
            proceed_on,
            tc_placement,
        };
        let (loaded, script) = self
            .blocking(move |d| {
                let loaded = d.load_in_mode(
                    Some(name.as_str()).filter(|n| !n.is_empty()),
                    &src,
                    Some(loader.as_str()).filter(|l| !l.is_empty()),
                    &placement,
                    mode,
                )?;
                let script = script_of(d, &loaded.script);
                Ok((loaded, script))
            })
            .await
            .inspect(|(l, _)| journal.loaded(&l.script.name, l.script.generation, l.replaced))
            .inspect_err(|e| journal.refused(e))?;
        Ok(Response::new(pb::LoadReply {
            script: Some(script),
            replaced: loaded.replaced,
            diagnostics: loaded.warnings,
            maps: loaded
                .maps
                .into_iter()
                .map(|m| pb::MapReset {
                    map: m.map,
                    written: u32::try_from(m.written).unwrap_or(u32::MAX),
                    reset: m.reset.iter().map(|k| k.to_string()).collect(),
                })
                .collect(),
        }))
    }

    async fn unload(
        &self,
        req: Request<pb::UnloadRequest>,
    ) -> Result<Response<pb::UnloadReply>, Status> {
        let name = req.into_inner().name;
        let journal = crate::ops::Pending::unload(&name);
        required("script name", &name).inspect_err(|e| journal.refused(e))?;
        let record = self
            .blocking(move |d| d.unload(&name))
            .await
            .inspect(|r| journal.unloaded(r.generation))
            .inspect_err(|e| journal.refused(e))?;
        Ok(Response::new(pb::UnloadReply {
            script: Some(script_pb(&record, 0, Vec::new(), &BTreeSet::new())),
        }))
    }

    async fn list(&self, _: Request<pb::ListRequest>) -> Result<Response<pb::ListReply>, Status> {
        let listing = self.blocking(|d| Ok(d.list())).await?;
        let scripts = listing
            .scripts
            .iter()
            .map(|r| listed_script(r, &listing))
            .collect();
        let programs = listing
            .programs
            .iter()
            .map(|p| pb::Program {
                name: p.record.name.clone(),
                package: p.record.package.clone(),
                id: p.record.id,
                kernel_id: p.kernel_id,
                maps: p.maps.clone(),
                used_by: p.used_by.clone(),
                build: p.record.digest.chars().take(12).collect(),
            })
            .collect();
        let hooks = listing
            .hooks
            .iter()
            .map(|h| pb::Hook {
                device: h.device.clone(),
                ifindex: h.ifindex,
                hook: h.hook.clone(),
                scripts: h.scripts.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListReply {
            hooks,
            scripts,
            programs,
            instance: listing.instance,
            pin_dir: listing.pin_dir.display().to_string(),
        }))
    }

    async fn dump_map(
        &self,
        req: Request<pb::MapRequest>,
    ) -> Result<Response<pb::DumpMapReply>, Status> {
        let r = req.into_inner();
        required_map(&r.script, &r.map)?;
        let dump = self
            .blocking(move |d| d.dump_map(&r.script, &r.map))
            .await?;
        Ok(Response::new(pb::DumpMapReply {
            map: dump.map,
            key_type: dump.key_type,
            value_type: dump.value_type,
            percpu: dump.percpu,
            entries: dump.entries.iter().map(entry_pb).collect(),
        }))
    }

    async fn get_map_entry(
        &self,
        req: Request<pb::MapKeyRequest>,
    ) -> Result<Response<pb::MapEntryReply>, Status> {
        let r = req.into_inner();
        required_entry(&r.script, &r.map, &r.key)?;
        let (map, entry) = self
            .blocking(move |d| d.get_entry(&r.script, &r.map, &r.key))
            .await?;
        Ok(Response::new(pb::MapEntryReply {
            map,
            entry: entry.as_ref().map(entry_pb),
        }))
    }

    async fn set_map_entry(
        &self,
        req: Request<pb::SetMapEntryRequest>,
    ) -> Result<Response<pb::MapEntryReply>, Status> {
        let r = req.into_inner();
        required_entry(&r.script, &r.map, &r.key)?;
        required("value", &r.value)?;
        let (map, entry) = self
            .blocking(move |d| d.set_entry(&r.script, &r.map, &r.key, &r.value))
            .await?;
        Ok(Response::new(pb::MapEntryReply {
            map,
            entry: Some(entry_pb(&entry)),
        }))
    }

    async fn stats(
        &self,
        req: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let script = req.into_inner().script;
        let counters = self
            .blocking(move |d| d.stats(Some(script.as_str()).filter(|s| !s.is_empty())))
            .await?;
        Ok(Response::new(stats_pb(counters)))
    }

    async fn delete_map_entry(
        &self,
        req: Request<pb::MapKeyRequest>,
    ) -> Result<Response<pb::MapEntryReply>, Status> {
        let r = req.into_inner();
        required_entry(&r.script, &r.map, &r.key)?;
        let (map, entry) = self
            .blocking(move |d| d.delete_entry(&r.script, &r.map, &r.key))
            .await?;
        Ok(Response::new(pb::MapEntryReply {
            map,
            entry: Some(entry_pb(&entry)),
        }))
    }

    async fn clear_map(
        &self,
        req: Request<pb::MapRequest>,
    ) -> Result<Response<pb::ClearMapReply>, Status> {
        let r = req.into_inner();
        required_map(&r.script, &r.map)?;
        let (map, cleared) = self
            .blocking(move |d| d.clear_map(&r.script, &r.map))
            .await?;
        Ok(Response::new(pb::ClearMapReply {
            map,
            cleared: u32::try_from(cleared).unwrap_or(u32::MAX),
        }))
    }

    async fn reset_stats(
        &self,
        req: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::ResetStatsReply>, Status> {
        let script = req.into_inner().script;
        let reset = self
            .blocking(move |d| d.reset_stats(Some(script.as_str()).filter(|s| !s.is_empty())))
            .await?;
        Ok(Response::new(pb::ResetStatsReply {
            chains: reset.chains,
            programs: reset.programs,
            sharing: reset.sharing,
            vm_faults: reset.vm_faults,
        }))
    }

    type EventsStream = EventStream;

    async fn events(
        &self,
        req: Request<pb::EventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let script = req.into_inner().script;
        if !script.is_empty() {
            let name = script.clone();
            self.blocking(move |d| d.stats(Some(&name)).map(|_| ()))
                .await?;
        }
        let stream = BroadcastStream::new(self.events.subscribe()).filter_map(move |ev| match ev {
            Ok(ev) if script.is_empty() || ev.script == script => Some(Ok(ev)),
            Ok(_) => None,
            // A slow reader lost events: say so in the stream rather than ending it.
            Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(pb::Event {
                kind: "lost".into(),
                text: format!("{n} events lost (the client read too slowly)"),
                ..pb::Event::default()
            })),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_request_names_the_first_missing_field() {
        let missing = |r: Result<(), Status>| r.expect_err("refused").message().to_owned();
        assert_eq!(missing(required_map("", "m")), "missing script name");
        assert_eq!(missing(required_map("s", "")), "missing map name");
        assert!(required_map("s", "m").is_ok());
        assert_eq!(missing(required_entry("", "", "")), "missing script name");
        assert_eq!(missing(required_entry("s", "", "k")), "missing map name");
        assert_eq!(missing(required_entry("s", "m", "")), "missing key");
        assert!(required_entry("s", "m", "k").is_ok());
    }
}
