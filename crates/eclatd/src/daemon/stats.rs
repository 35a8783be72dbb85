//! Counters: chain runs and faults, program calls, packets.

use hike_isa::abi::Fault;
use hike_runtime::{ChainId, ProgramId};

use super::{lock, Daemon};
use crate::error::{DaemonError, Result};

/// Counters of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCounters {
    /// The chain.
    pub name: String,
    /// Its ID.
    pub id: u32,
    /// Entries.
    pub runs: u64,
    /// Faults by reason (only non-zero).
    pub faults: Vec<(String, u64)>,
}

/// Counters of one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramCounters {
    /// The program.
    pub name: String,
    /// Its slot.
    pub id: u32,
    /// Calls from chains (of every script calling it).
    pub calls: u64,
}

/// Counters of one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptCounters {
    /// The script.
    pub name: String,
    /// Its chains.
    pub chains: Vec<ChainCounters>,
    /// The programs it calls.
    pub programs: Vec<ProgramCounters>,
    /// Faults of its chains by reason, summed.
    pub faults: Vec<(String, u64)>,
}

/// Counters of the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Per script.
    pub scripts: Vec<ScriptCounters>,
    /// Faults of the whole VM by reason.
    pub faults: Vec<(String, u64)>,
    /// Packets that booted a chain.
    pub packets: u64,
}

fn fault_list(counts: &[u64; Fault::MAX]) -> Vec<(String, u64)> {
    Fault::ALL
        .into_iter()
        .map(|f| (f.name().to_owned(), counts[f as usize]))
        .filter(|(_, n)| *n > 0)
        .collect()
}

impl Daemon {
    /// Counters of `script` (every script if `None`).
    pub fn stats(&self, script: Option<&str>) -> Result<Counters> {
        let inner = lock(&self.inner);
        let err = |e: hike_runtime::Error| DaemonError::kernel("read the counters", &e);
        if let Some(s) = script {
            if inner.state.script(s).is_none() {
                return Err(DaemonError::NoScript { name: s.to_owned() });
            }
        }
        let mut scripts = Vec::new();
        for s in inner
            .state
            .scripts
            .iter()
            .filter(|s| script.is_none_or(|n| n == s.name))
        {
            let mut chains = Vec::new();
            let mut total = [0u64; Fault::MAX];
            for c in &s.chains {
                let st = inner
                    .vm
                    .chain_stats(ChainId::new(c.id).expect("recorded"))
                    .map_err(err)?;
                for (t, f) in total.iter_mut().zip(st.faults) {
                    *t += f;
                }
                chains.push(ChainCounters {
                    name: c.name.clone(),
                    id: c.id,
                    runs: st.runs,
                    faults: fault_list(&st.faults),
                });
            }
            let mut programs = Vec::new();
            for id in &s.programs {
                let st = inner
                    .vm
                    .prog_stats(ProgramId::new(*id).expect("recorded"))
                    .map_err(err)?;
                programs.push(ProgramCounters {
                    name: inner
                        .state
                        .program(*id)
                        .map_or_else(|| format!("#{id}"), |p| p.name.clone()),
                    id: *id,
                    calls: st.calls,
                });
            }
            scripts.push(ScriptCounters {
                name: s.name.clone(),
                chains,
                programs,
                faults: fault_list(&total),
            });
        }
        let faults = fault_list(&inner.vm.fault_counts().map_err(err)?);
        let mut packets = 0;
        for cpu in 0..inner.vm.num_cpus() {
            // CPUs that are possible but not online have a state of zeros.
            packets += inner.vm.vm_state(cpu).map_err(err)?.packets;
        }
        Ok(Counters {
            scripts,
            faults,
            packets,
        })
    }
}
