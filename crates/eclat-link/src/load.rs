//! Loading a linked script into a private VM and running packets through its loader.

use eclat_catalog::PackageCatalog;
use std::cell::Cell;

use hike_isa::abi::{Event, Fault, VmConfig, VmState, CFG_CLOCK, CFG_STATS, CFG_TRACE};
use hike_isa::validate::Chain as ValidatedChain;
use hike_runtime::{
    ChainId, CpuPin, EventReader, Loader, MapRef, ProgContext, ProgramId, TestRun, Vm, XdpAction,
};
use serde_json::Value as Json;

use crate::link::{LinkedScript, MapOwner};
use crate::trace::{self, CallTrace, Cause};
use crate::{LinkError, Result};

/// How a script is loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Count chain runs and program calls (`HIKE_CFG_STATS`), so that each packet's
    /// [`PacketRun::trace`] says which chains and programs it went through.
    pub trace: bool,
    /// Record every call in order (`HIKE_CFG_TRACE`), so that each packet's
    /// [`PacketRun::calls`] lists the chains and programs it called, with their arguments and
    /// what they returned.
    pub calls: bool,
    /// The hook to run at, which picks the build of every object (`xdp`, or the TC build for
    /// `tc_ingress`/`tc_egress`); None: the script's `attach` hook, else `xdp`.
    pub hook: Option<eclat_catalog::Hook>,
    /// Interpreted, or fused: the script's loader, chains and program bodies built into one
    /// program ([`crate::fused`]) that packets run through, with the interpreted objects'
    /// maps. A fused program records no call trace ([`LoadOptions::calls`] is ignored).
    pub mode: crate::Mode,
    /// The directory of the script files, for the fused program's `#line`s (a verifier
    /// refusal then names the script).
    pub script_dir: Option<std::path::PathBuf>,
}

/// A linked script loaded into a private VM instance that is attached to no interface.
///
/// Everything (programs, chains, loader, maps) belongs to this value and is removed from the
/// kernel when it is dropped.
#[derive(Debug)]
pub struct LoadedScript {
    linked: LinkedScript,
    // The fused program (fused mode), dropped first: it uses the loader's and the VM's maps.
    fused: Option<Loader>,
    // Fields drop in order: the loader (a program using the VM's maps) before the VM.
    loader: Loader,
    vm: Vm,
    /// The hook whose builds were loaded.
    hook: eclat_catalog::Hook,
    trace: bool,
    /// The configuration's flags (`CFG_STATS`, `CFG_TRACE`); a replay clock adds `CFG_CLOCK`
    /// per packet.
    flags: u32,
}

impl LoadedScript {
    /// Creates a private VM and loads into it every program of `linked` (objects from
    /// `catalog`), its chains (validated), its loader, and its map configuration.
    pub fn load(
        catalog: &PackageCatalog,
        linked: LinkedScript,
        opts: &LoadOptions,
    ) -> Result<LoadedScript> {
        let vm = Vm::new().map_err(|source| LinkError::Vm {
            source: Box::new(source),
        })?;
        let calls = opts.calls && opts.mode == crate::Mode::Interpreted;
        let flags = if opts.trace { CFG_STATS } else { 0 } | if calls { CFG_TRACE } else { 0 };
        if flags != 0 {
            vm.set_config(VmConfig {
                flags,
                ..VmConfig::default()
            })
            .map_err(|source| LinkError::Run {
                what: "enable the vm's counters and trace".into(),
                source: Box::new(source),
            })?;
        }
        let hook = opts
            .hook
            .or(linked.attach_hook)
            .unwrap_or(eclat_catalog::Hook::Xdp);
        fn build(
            obj: &eclat_catalog::ObjectEntry,
            hook: eclat_catalog::Hook,
        ) -> Result<&std::sync::Arc<[u8]>> {
            obj.bytes_for(hook)
                .ok_or_else(|| LinkError::NoBuildForHook {
                    object: obj.name.clone(),
                    hook,
                })
        }
        for p in &linked.programs {
            let obj = catalog.object(p.object);
            let id = ProgramId::new(p.id).expect("the linker checked the table size");
            vm.load_program(build(obj, hook)?, &p.name, id)
                .map_err(|source| LinkError::LoadProgram {
                    name: p.name.clone(),
                    object: obj.name.clone(),
                    source: Box::new(source),
                })?;
        }
        let ctx = linked.validation_context();
        for c in &linked.chains {
            let id = ChainId::new(c.id).expect("the linker checked the table size");
            let chain = ValidatedChain {
                name: &c.name,
                insns: &c.insns,
                nparams: c.nparams,
            };
            vm.install_validated_chain(id, &chain, &ctx)
                .map_err(|source| LinkError::InstallChain {
                    name: c.name.clone(),
                    source: Box::new(source),
                })?;
        }
        let obj = catalog.object(linked.loader.object);
        let loader = vm
            .load_loader(&linked.loader.name, build(obj, hook)?, &linked.loader.name)
            .map_err(|source| LinkError::LoadLoader {
                name: linked.loader.name.clone(),
                object: obj.name.clone(),
                source: Box::new(source),
            })?;
        for w in &linked.map_writes {
            let write_err = |source| LinkError::WriteMap {
                owner: w.owner.clone(),
                map: w.map.clone(),
                source: Box::new(source),
            };
            let map = match w.target {
                MapOwner::Loader => loader.map(&w.map).map_err(write_err)?.clone(),
                MapOwner::Program(id) => vm
                    .program_map(ProgramId::new(id).expect("linked"), &w.map)
                    .map_err(write_err)?,
            };
            for (k, v) in &w.entries {
                map.update(k, v, Default::default()).map_err(write_err)?;
            }
        }
        let fused = match opts.mode {
            crate::Mode::Interpreted => None,
            crate::Mode::Fused => Some(crate::fused::load_fused(
                &vm,
                &format!("{}_fused", linked.loader.name),
                &loader,
                catalog,
                &linked,
                hook.is_tc(),
                &opts
                    .script_dir
                    .as_deref()
                    .map(|dir| crate::fused::script_files_in(dir, &linked))
                    .unwrap_or_default(),
            )?),
        };
        Ok(LoadedScript {
            linked,
            fused,
            loader,
            vm,
            hook,
            trace: opts.trace,
            flags,
        })
    }

    /// What was linked.
    pub fn linked(&self) -> &LinkedScript {
        &self.linked
    }

    /// The VM instance.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The hook it runs at (whose builds of the objects it loaded).
    pub fn hook(&self) -> eclat_catalog::Hook {
        self.hook
    }

    /// The loader packets enter through: the fused program in fused mode, else the
    /// interpreted loader.
    pub fn loader(&self) -> &Loader {
        self.fused.as_ref().unwrap_or(&self.loader)
    }

    /// The mode it was loaded in.
    pub fn mode(&self) -> crate::Mode {
        if self.fused.is_some() {
            crate::Mode::Fused
        } else {
            crate::Mode::Interpreted
        }
    }

    /// A runner of packets on the calling thread, which it pins to its current CPU (so that
    /// the per-CPU VM state of each packet can be read back) until it is dropped.
    pub fn runner(&self) -> Result<Runner<'_>> {
        let pin = hike_runtime::pin_thread_to_current_cpu().map_err(|source| LinkError::Run {
            what: "pin the thread to a cpu".into(),
            source: Box::new(source),
        })?;
        let events = self.vm.event_reader().map_err(|source| LinkError::Run {
            what: "open the event ring".into(),
            source: Box::new(source),
        })?;
        Ok(Runner {
            script: self,
            pin,
            events,
            clock_set: Cell::new(false),
        })
    }

    /// The name of program `id`, if it is one of the script's.
    pub fn program_name(&self, id: u32) -> Option<String> {
        self.linked
            .programs
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
    }

    /// The name of chain `id`, if it is one of the script's.
    pub fn chain_name(&self, id: u32) -> Option<String> {
        self.linked
            .chains
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
    }

    /// Whether the chain the loader booted for the packet of `st` returns a value. The boot
    /// records the chain in the first frame, which later calls do not touch. A chain that is
    /// not the script's (a loader's map written by hand) counts as one that does.
    fn top_chain_returns_value(&self, st: &VmState) -> bool {
        let top = st.frames[0].chain_id;
        self.linked
            .chains
            .iter()
            .find(|c| c.id == top)
            .is_none_or(|c| c.returns_value)
    }

    /// Faults counted so far, by reason (only those that happened).
    pub fn faults(&self) -> Result<Vec<(Fault, u64)>> {
        let counts = self.vm.fault_counts().map_err(|source| LinkError::Run {
            what: "read the fault counters".into(),
            source: Box::new(source),
        })?;
        Ok(Fault::ALL
            .into_iter()
            .map(|f| (f, counts[f as usize]))
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    /// Every map of every program of the script, entries decoded (per-CPU values summed),
    /// sorted by key bytes. Maps are named `PROGRAM.MAP`.
    pub fn dump_maps(&self) -> Result<Vec<MapDump>> {
        let mut out = Vec::new();
        let chain_name = |id: u32| self.chain_name(id);
        for p in &self.linked.programs {
            let id = ProgramId::new(p.id).expect("linked");
            for layout in &p.maps {
                let name = format!("{}.{}", p.name, layout.name);
                let read_err = |source| LinkError::Run {
                    what: format!("read map `{name}`"),
                    source: Box::new(source),
                };
                let map: MapRef = self.vm.program_map(id, &layout.name).map_err(read_err)?;
                let mut raw = Vec::new();
                for k in map.keys() {
                    let v = if map.is_percpu() {
                        map.lookup_percpu(&k)
                            .map_err(read_err)?
                            .map(|vs| layout.value.sum_percpu(&vs))
                    } else {
                        map.lookup(&k).map_err(read_err)?
                    };
                    if let Some(v) = v {
                        raw.push((k, v));
                    }
                }
                raw.sort();
                let entries = raw
                    .iter()
                    .map(|(k, v)| {
                        (
                            layout.key.decode(k, &chain_name),
                            layout.value.decode(v, &chain_name),
                        )
                    })
                    .collect();
                out.push(MapDump { name, entries });
            }
        }
        Ok(out)
    }

    fn counters(&self) -> Result<(Vec<u64>, Vec<u64>)> {
        let err = |source| LinkError::Run {
            what: "read the chain and program counters".into(),
            source: Box::new(source),
        };
        let mut chains = Vec::with_capacity(self.linked.chains.len());
        for c in &self.linked.chains {
            let id = ChainId::new(c.id).expect("linked");
            chains.push(self.vm.chain_stats(id).map_err(err)?.runs);
        }
        let mut progs = Vec::with_capacity(self.linked.programs.len());
        for p in &self.linked.programs {
            let id = ProgramId::new(p.id).expect("linked");
            progs.push(self.vm.prog_stats(id).map_err(err)?.calls);
        }
        Ok((chains, progs))
    }
}

/// One map's entries, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDump {
    /// `PROGRAM.MAP`.
    pub name: String,
    /// `(key, value)`: numbers, address strings, objects of struct fields, or hex.
    pub entries: Vec<(Json, Json)>,
}

impl trace::Names for LinkedScript {
    fn chain(&self, id: u32) -> Option<(&str, &[String])> {
        let c = self.chains.iter().find(|c| c.id == id)?;
        Some((&c.name, &c.param_names))
    }

    fn returns_value(&self, id: u32) -> bool {
        self.chains
            .iter()
            .find(|c| c.id == id)
            .is_none_or(|c| c.returns_value)
    }

    fn program(&self, id: u32) -> Option<(&str, &[String])> {
        let p = self.programs.iter().find(|p| p.id == id)?;
        Some((&p.name, &p.param_names))
    }
}

/// Runs packets through a [`LoadedScript`]'s loader on one pinned CPU.
#[derive(Debug)]
pub struct Runner<'a> {
    script: &'a LoadedScript,
    pin: CpuPin,
    /// The VM's event ring, drained after each packet.
    events: EventReader,
    /// Whether the configuration holds a replay clock (set by the last packet).
    clock_set: Cell<bool>,
}

/// A chain fault, as the VM state reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultReport {
    /// The reason (`None` for a code this build does not know).
    pub fault: Option<Fault>,
    /// The raw fault code.
    pub code: u32,
    /// The faulting chain's name, if it is one of the script's.
    pub chain: Option<String>,
    /// The faulting chain's ID (`u32::MAX` if none).
    pub chain_id: u32,
    /// The faulting instruction.
    pub pc: u32,
}

/// Which chains and programs a packet went through, with how many times (not in order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// `(chain, runs)`, in chain ID order.
    pub chains: Vec<(String, u64)>,
    /// `(program, calls)`, in program ID order.
    pub programs: Vec<(String, u64)>,
}

/// What one packet did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRun {
    /// The loader's return value: the XDP verdict, or at a TC hook the TC action.
    pub retval: u32,
    /// The packet's verdict (XDP's numbers at every hook), if it is one.
    pub verdict: Option<XdpAction>,
    /// The packet after processing.
    pub data_out: Vec<u8>,
    /// Whether the loader started a chain (a packet the loader has no chain for gets its
    /// default verdict without one).
    pub booted: bool,
    /// The target of `hike_redirect()` (`l2_redirect`), for a redirected packet.
    pub redirect_ifindex: Option<u32>,
    /// The chain's fault, if it faulted.
    pub fault: Option<FaultReport>,
    /// `r0` of the top chain when it returned (0 when a terminal program ended the packet),
    /// if a chain ran without faulting and it is one that returns a value (a chain without
    /// `return VALUE` exits with whatever its last call left in `r0`: no result).
    pub result: Option<u64>,
    /// Chains and programs the packet went through, when loaded with
    /// [`LoadOptions::trace`].
    pub trace: Option<Trace>,
    /// Why the packet got its verdict.
    pub cause: Cause,
    /// Every call in order, when loaded with [`LoadOptions::calls`].
    pub calls: Option<CallTrace>,
    /// The events the packet's chains and programs emitted, in order (a full ring drops
    /// events).
    pub events: Vec<Event>,
}

impl Runner<'_> {
    /// The CPU packets run on.
    pub fn cpu(&self) -> usize {
        self.pin.cpu()
    }

    /// Runs one packet through the loader with `BPF_PROG_TEST_RUN`, on the kernel's clock.
    pub fn run(&self, packet: &[u8]) -> Result<PacketRun> {
        self.run_at(packet, None)
    }

    /// Runs one packet through the loader with `BPF_PROG_TEST_RUN`; with `clock_ns`, its
    /// chains and programs read that time (`hike_now_ns()`, `ktime_ns()`, event times) instead
    /// of the kernel's clock: a capture replayed on its own timestamps.
    pub fn run_at(&self, packet: &[u8], clock_ns: Option<u64>) -> Result<PacketRun> {
        let s = self.script;
        if clock_ns.is_some() || self.clock_set.get() {
            s.vm.set_config(VmConfig {
                flags: s.flags | if clock_ns.is_some() { CFG_CLOCK } else { 0 },
                clock_ns: clock_ns.unwrap_or(0),
                ..VmConfig::default()
            })
            .map_err(|source| LinkError::Run {
                what: "set the replay clock".into(),
                source: Box::new(source),
            })?;
            self.clock_set.set(clock_ns.is_some());
        }
        let events_err = |source| LinkError::Run {
            what: "read the event ring".into(),
            source: Box::new(source),
        };
        // Events of an earlier run that could not be read then are not this packet's.
        self.events.drain().map_err(events_err)?;
        let cpu = self.pin.cpu();
        let state_err = |source| LinkError::Run {
            what: "read the vm state".into(),
            source: Box::new(source),
        };
        let before = s.vm.vm_state(cpu).map_err(state_err)?.packets;
        let counters_before = if s.trace { Some(s.counters()?) } else { None };
        let out = s
            .loader()
            .test_run_with(&TestRun {
                packet,
                repeat: 1,
                ..TestRun::default()
            })
            .map_err(|source| LinkError::Run {
                what: "run the packet".into(),
                source: Box::new(source),
            })?;
        let st = s.vm.vm_state(cpu).map_err(state_err)?;
        let booted = st.packets != before;
        let events = self.events.drain().map_err(events_err)?;
        let cause = trace::cause(&st, booted, &s.linked);
        let calls = (booted && s.flags & CFG_TRACE != 0).then(|| trace::decode(&st, &s.linked));
        // At TC the loader returns a TC action, which says less than the VM's verdict (drop
        // and aborted are both TC_ACT_SHOT): a chain's verdict is the VM's, from its state.
        let verdict = match out.context {
            ProgContext::Tc if booted => XdpAction::from_retval(st.verdict),
            _ => out.action(),
        };
        let fault = (booted && st.fault != 0).then(|| FaultReport {
            fault: Fault::from_code(st.fault),
            code: st.fault,
            chain: s.chain_name(st.fault_chain),
            chain_id: st.fault_chain,
            pc: st.fault_pc,
        });
        let trace = match counters_before {
            Some((chains0, progs0)) => {
                let (chains1, progs1) = s.counters()?;
                let delta = |names: Vec<String>, a: Vec<u64>, b: Vec<u64>| {
                    names
                        .into_iter()
                        .zip(a.into_iter().zip(b))
                        .map(|(n, (x, y))| (n, y.wrapping_sub(x)))
                        .filter(|(_, d)| *d > 0)
                        .collect()
                };
                let chain_names = s.linked.chains.iter().map(|c| c.name.clone()).collect();
                let prog_names = s.linked.programs.iter().map(|p| p.name.clone()).collect();
                Some(Trace {
                    chains: delta(chain_names, chains0, chains1),
                    programs: delta(prog_names, progs0, progs1),
                })
            }
            None => None,
        };
        Ok(PacketRun {
            retval: out.retval,
            verdict,
            data_out: out.data_out,
            booted,
            redirect_ifindex: (booted && verdict == Some(XdpAction::Redirect))
                .then_some(st.redirect_ifindex),
            result: (booted && fault.is_none() && s.top_chain_returns_value(&st))
                .then_some(st.result),
            fault,
            trace,
            cause,
            calls,
            events,
        })
    }
}
