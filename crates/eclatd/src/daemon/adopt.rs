//! Adopting a pinned instance at start: an operation a crash interrupted is undone, what the
//! state lists is kept (and made to run as recorded), the rest removed.

use std::collections::{BTreeMap, BTreeSet};

use hike_runtime::{Loader, ProgramId, Vm};

use super::load::unhex;
use super::maps::write_raw;
use super::order;
use crate::error::chain;
use crate::state::{Pending, State};

/// Adopts the loaders the state lists and removes every pinned object it does not: the
/// remains of an operation a crash interrupted. A recorded intent ([`Pending`]) is undone
/// first: interfaces move back to the loaders they ran, overwritten map entries get their
/// values back. Every link of a kept loader runs that loader. Scripts whose loader is gone
/// are forgotten, attachments whose interface is gone are dropped from the record.
pub(super) fn adopt(vm: &Vm, state: &mut State) -> anyhow::Result<BTreeMap<String, Loader>> {
    let mut loaders = BTreeMap::new();
    for name in vm.loader_names()? {
        match vm.open_loader(&name) {
            Ok(l) => {
                loaders.insert(name, l);
            }
            Err(e) => {
                // Pins left half-removed by a crash: whatever is left goes, attachments
                // first, so that no interface runs a loader nobody can open.
                eprintln!(
                    "eclatd: warning: cannot adopt loader `{name}` ({}); removing its pins",
                    chain(&e)
                );
                vm.remove_loader_pins(&name)?;
            }
        }
    }
    if let Some(pending) = state.pending.take() {
        undo_pending(vm, &mut loaders, &pending);
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
    // The recorded order, and each interface's link on its first script's loader, before the
    // unlisted loaders go (an unload interrupted after its commit still holds links that
    // its followers take over).
    let plan = order::plan(state);
    if let Err(e) = order::apply(vm, &loaders, &plan) {
        eprintln!(
            "eclatd: warning: cannot restore the order of the scripts: {}",
            chain(&e)
        );
    }
    for ifindex in plan.heads.keys() {
        if let Err(e) = order::repair_head(&loaders, &plan, *ifindex) {
            eprintln!(
                "eclatd: warning: cannot give interface {ifindex} to its first script: {}",
                chain(&e)
            );
        }
    }
    let recorded: BTreeSet<String> = state.scripts.iter().map(|s| s.loader.pin.clone()).collect();
    let unlisted: Vec<String> = loaders
        .keys()
        .filter(|n| !recorded.contains(*n))
        .cloned()
        .collect();
    for name in unlisted {
        eprintln!("eclatd: removing loader `{name}`, which no script owns (left by an interrupted operation)");
        loaders.remove(&name).expect("listed").remove()?;
    }
    for s in &mut state.scripts {
        let loader = &loaders[&s.loader.pin];
        let loaders = &loaders;
        match loader.repair_links() {
            Ok(repaired) => {
                for at in repaired {
                    eprintln!(
                        "eclatd: {at} ran another program than script `{}`'s loader; it runs the loader again",
                        s.name
                    );
                }
            }
            Err(e) => eprintln!(
                "eclatd: warning: cannot check the links of script `{}`: {}",
                s.name,
                chain(&e)
            ),
        }
        let attached = loader.attachments();
        s.loader.attachments.retain(|a| {
            // An xdp interface's link is held by its first script's loader; a TC hook's by
            // the script's own loader.
            let kept = match hike_runtime::Hook::from_name(&a.hook) {
                Some(hike_runtime::Hook::Xdp) => order::holder(loaders, a.ifindex).is_some(),
                Some(hook) => attached.contains(&hike_runtime::Attachment {
                    ifindex: a.ifindex,
                    hook,
                }),
                None => false,
            };
            if !kept {
                eprintln!(
                    "eclatd: warning: script `{}` is no longer attached to `{}` (ifindex {}): the interface went away",
                    s.name, a.device, a.ifindex
                );
            }
            kept
        });
    }
    // Packets that entered a loader removed above may still run its chains.
    vm.wait_for_packets_in_flight()?;
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
    for p in state.programs.iter().filter(|p| used.contains(&p.id)) {
        if !present.contains(&p.id) {
            // Only tampering with bpffs does this. The record stays whole (the scripts list
            // the slot), and their chains' calls of it fault until they are loaded again.
            eprintln!(
                "eclatd: warning: program `{}` (slot {}) is gone from bpffs; the chains that call it fault until their script is loaded again",
                p.name, p.id
            );
        }
    }
    state.programs.retain(|p| used.contains(&p.id));
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
    let plan = order::plan(state);
    if let Err(e) = order::apply(vm, &loaders, &plan).and_then(|()| order::prune(vm, &plan)) {
        eprintln!(
            "eclatd: warning: cannot restore the order of the scripts: {}",
            chain(&e)
        );
    }
    Ok(loaders)
}

/// Undoes the parts of an interrupted load or replace that outlive the process: each
/// interface it switched runs its previous loader again, and the map entries it overwrote
/// get their previous values. Its new loader, chains and program slots are then unlisted,
/// and [`adopt`] removes them. Failures are logged; what cannot be undone is reported.
fn undo_pending(vm: &Vm, loaders: &mut BTreeMap<String, Loader>, p: &Pending) {
    eprintln!(
        "eclatd: undoing the interrupted {} of script `{}` (generation {}), which never committed",
        if p.attachments.iter().any(|a| a.from.is_some()) {
            "replace"
        } else {
            "load"
        },
        p.script,
        p.generation
    );
    let warn = |what: String, e: &hike_runtime::Error| {
        eprintln!("eclatd: warning: cannot {what}: {}", chain(e));
    };
    for a in &p.attachments {
        let Some(from) = &a.from else {
            continue; // a new attachment: it goes with the new loader
        };
        let Some(old) = loaders.get(from) else {
            continue;
        };
        // Without the new loader pinned, the interface was never switched.
        if let Some(new) = loaders.get(&p.loader_pin) {
            let at = hike_runtime::Attachment {
                ifindex: a.ifindex,
                hook: a.hook.parse().unwrap_or(hike_runtime::Hook::Xdp),
            };
            if let Err(e) = old.reclaim(new, at) {
                // Neither holding a link means the switch never began.
                if old.attachments().contains(&at) {
                    warn(format!("move interface {} back to `{from}`", a.ifindex), &e);
                }
            }
        }
    }
    for m in &p.map_entries {
        let what = format!(
            "restore an entry of map `{}` of program slot {}",
            m.map, m.program
        );
        let Some(id) = ProgramId::new(m.program) else {
            continue;
        };
        let map = match vm.program_map(id, &m.map) {
            Ok(map) => map,
            Err(e) => {
                warn(what, &e);
                continue;
            }
        };
        let key = unhex(&m.key);
        let previous: Option<Vec<Vec<u8>>> = m
            .previous
            .as_ref()
            .map(|values| values.iter().map(|v| unhex(v)).collect());
        if let Err(e) = write_raw(&map, &key, previous.as_deref()) {
            warn(what, &e);
        }
    }
}
