//! Adopting a pinned instance at start: what the state lists is kept, the rest removed.

use std::collections::{BTreeMap, BTreeSet};

use hike_runtime::{Loader, ProgramId, Vm};

use crate::error::chain;
use crate::state::State;

/// Adopts the loaders the state lists and removes every pinned object it does not: the
/// remains of an operation a crash interrupted. Scripts whose loader is gone are forgotten,
/// attachments whose interface is gone are dropped from the record.
pub(super) fn adopt(vm: &Vm, state: &mut State) -> anyhow::Result<BTreeMap<String, Loader>> {
    let mut loaders = BTreeMap::new();
    let recorded: BTreeSet<String> = state.scripts.iter().map(|s| s.loader.pin.clone()).collect();
    for name in vm.loader_names()? {
        let loader = match vm.open_loader(&name) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "eclatd: warning: cannot adopt loader `{name}`: {}",
                    chain(&e)
                );
                continue;
            }
        };
        if recorded.contains(&name) {
            loaders.insert(name, loader);
        } else {
            eprintln!("eclatd: removing loader `{name}`, which no script owns (left by an interrupted operation)");
            loader.remove()?;
        }
    }
    state.scripts.retain(|s| {
        let kept = loaders.contains_key(&s.loader.pin);
        if !kept {
            eprintln!(
                "eclatd: warning: script `{}` is recorded but its loader `{}` is gone from bpffs; forgetting it",
                s.name, s.loader.pin
            );
        }
        kept
    });
    for s in &mut state.scripts {
        let attached = loaders[&s.loader.pin].attachments();
        s.loader.attachments.retain(|a| {
            let kept = attached.contains(&a.ifindex);
            if !kept {
                eprintln!(
                    "eclatd: warning: script `{}` is no longer attached to `{}` (ifindex {}): the interface went away",
                    s.name, a.device, a.ifindex
                );
            }
            kept
        });
    }
    let used: BTreeSet<u32> = state
        .scripts
        .iter()
        .flat_map(|s| s.programs.iter().copied())
        .collect();
    let present: BTreeSet<u32> = vm.programs().iter().map(|p| p.id.get()).collect();
    for id in present.difference(&used) {
        eprintln!("eclatd: removing program slot {id}, which no script uses");
        vm.remove_program(ProgramId::new(*id).expect("from the vm"))?;
    }
    state
        .programs
        .retain(|p| used.contains(&p.id) && present.contains(&p.id));
    let chains: BTreeSet<u32> = state
        .scripts
        .iter()
        .flat_map(|s| s.chains.iter().map(|c| c.id))
        .collect();
    for (id, _) in vm.chains() {
        if !chains.contains(&id.get()) {
            vm.remove_chain(id);
        }
    }
    Ok(loaders)
}
