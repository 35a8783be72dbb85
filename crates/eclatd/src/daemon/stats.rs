//! Counters: chain runs and faults, program calls, packets; and zeroing them.
//!
//! What they cover, as the runtime keeps them: a chain's counters start at zero when its ID
//! gets the chain, and a replace gives every chain of the new version a new ID, so chain runs
//! and faults count from the script's current generation. A program keeps its slot (and its
//! counter) across replaces while the same build is loaded, and is shared by every script that
//! calls it, so program calls count since the program was loaded, for every script calling
//! it. The packets and the VM's faults count since the VM instance was created. A script's
//! packets by final verdict count since it was first loaded under its name (its slot keeps them
//! across replaces).

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
    /// Calls from chains (of every script calling it) since it was loaded into its slot.
    pub calls: u64,
    /// The other scripts that call it.
    pub shared_with: Vec<String>,
}

/// Counters of one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptCounters {
    /// The script.
    pub name: String,
    /// Its generation (1 at the first load, +1 per replace): what the chain counters cover.
    pub generation: u64,
    /// Seconds since the epoch when this generation was loaded.
    pub loaded_at: u64,
    /// Its chains.
    pub chains: Vec<ChainCounters>,
    /// The programs it calls.
    pub programs: Vec<ProgramCounters>,
    /// Faults of its chains by reason, summed.
    pub faults: Vec<(String, u64)>,
    /// The packets whose verdict became final in this script (not those it let proceed to the
    /// next script of the hook), by verdict name (`aborted`, `drop`, `pass`, `tx`,
    /// `redirect`, `other`), only non-zero; since the script was first loaded under its name.
    pub verdicts: Vec<(&'static str, u64)>,
}

/// The names of `hike_verdicts`' counters by index: the XDP verdicts, then what any other
/// value counts as.
pub const VERDICT_NAMES: [&str; hike_isa::abi::VERDICTS as usize] = [
    "aborted", "drop", "pass", "tx", "redirect", "other", "other", "other",
];

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

/// What chain runs and faults count since (see the module docs).
pub const CHAINS_COVER: &str = "the load of the script's current generation (a replace starts \
     its chains' counters at zero)";
/// What program calls count since.
pub const PROGRAMS_COVER: &str = "the program's load into its slot, across replaces that keep \
     its build, by every script calling it";
/// What the packet count and the VM's faults count since.
pub const PACKETS_COVER: &str = "the creation of the daemon's VM instance";

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
                    shared_with: inner
                        .state
                        .users_of(*id)
                        .into_iter()
                        .filter(|u| *u != s.name)
                        .map(str::to_owned)
                        .collect(),
                });
            }
            let mut verdicts: Vec<(&'static str, u64)> = Vec::new();
            for (v, n) in inner
                .vm
                .verdict_counts(s.slot)
                .map_err(err)?
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0)
            {
                match verdicts
                    .iter_mut()
                    .find(|(name, _)| *name == VERDICT_NAMES[v])
                {
                    Some((_, total)) => *total += n,
                    None => verdicts.push((VERDICT_NAMES[v], n)),
                }
            }
            scripts.push(ScriptCounters {
                name: s.name.clone(),
                generation: s.generation,
                loaded_at: s.loaded_at,
                chains,
                programs,
                faults: fault_list(&total),
                verdicts,
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

/// What [`Daemon::reset_stats`] zeroed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset {
    /// Chains whose runs and faults were zeroed.
    pub chains: Vec<String>,
    /// Programs whose calls were zeroed.
    pub programs: Vec<String>,
    /// Other scripts that call one of those programs (their program counters restarted too).
    pub sharing: Vec<String>,
    /// Whether the VM-wide fault counters were zeroed (every script's counters were).
    pub vm_faults: bool,
}

impl Daemon {
    /// Zeroes the counters of `script` (its chains' runs and faults, its programs' calls), or
    /// of every script and the VM's faults if `None`. The packet count is the VM's per-CPU
    /// state, which packets write as they run: it is never reset.
    pub fn reset_stats(&self, script: Option<&str>) -> Result<Reset> {
        let inner = lock(&self.inner);
        let err = |e: hike_runtime::Error| DaemonError::kernel("zero the counters", &e);
        let Some(name) = script else {
            inner.vm.reset_counters().map_err(err)?;
            return Ok(Reset {
                chains: inner
                    .state
                    .scripts
                    .iter()
                    .flat_map(|s| s.chains.iter().map(|c| c.name.clone()))
                    .collect(),
                programs: inner
                    .state
                    .programs
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
                sharing: Vec::new(),
                vm_faults: true,
            });
        };
        let record = inner
            .state
            .script(name)
            .ok_or_else(|| DaemonError::NoScript {
                name: name.to_owned(),
            })?;
        for c in &record.chains {
            inner
                .vm
                .reset_chain_counters(ChainId::new(c.id).expect("recorded"))
                .map_err(err)?;
        }
        let mut sharing = std::collections::BTreeSet::new();
        for id in &record.programs {
            inner
                .vm
                .reset_program_counters(ProgramId::new(*id).expect("recorded"))
                .map_err(err)?;
            sharing.extend(inner.state.users_of(*id).into_iter().filter(|u| *u != name));
        }
        Ok(Reset {
            chains: record.chains.iter().map(|c| c.name.clone()).collect(),
            programs: record
                .programs
                .iter()
                .map(|id| {
                    inner
                        .state
                        .program(*id)
                        .map_or_else(|| format!("#{id}"), |p| p.name.clone())
                })
                .collect(),
            sharing: sharing.into_iter().map(str::to_owned).collect(),
            vm_faults: false,
        })
    }
}
