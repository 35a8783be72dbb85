//! The order of the scripts at each interface and hook, and its kernel form.
//!
//! The scripts attached to one interface and hook run one after the other, lower priority
//! first, equal priorities in name order; a script's verdict in its proceed-on set goes on to
//! the next one (`bpf/include/hike/dispatch.h`). This module derives from a [`State`] what the
//! kernel must hold for that order (a [`Plan`]: each script's slot and dispatch word, the next
//! script after each (interface, slot), and which loader holds each interface's link) and
//! writes it with single map writes and link updates. It decides nothing about loading:
//! `load` and `unload` change the state and call it; `adopt` calls it to make the kernel
//! match a recorded state after a crash. Every function is idempotent.

use std::collections::BTreeMap;

use hike_isa::abi::{dispatch_word, DISPATCH_LEAVES, DISPATCH_SLOTS};
use hike_runtime::{Loader, Vm, XdpMode};

use crate::state::{ScriptRecord, State};

/// A proceed-on set's `pass` bit.
const PASS_PROCEEDS: u32 = 1 << hike_isa::abi::xdp::PASS;

/// The verdict names of a proceed-on set, bit `v` for XDP verdict `v`.
pub const VERDICTS: [&str; 5] = ["aborted", "drop", "pass", "tx", "redirect"];

/// The scripts of one interface and hook, in the order packets meet them.
#[derive(Clone, Debug)]
pub struct Hook<'a> {
    /// The interface.
    pub ifindex: u32,
    /// Its name when the first script attached.
    pub device: String,
    /// `xdp`, `tc_ingress` or `tc_egress`.
    pub hook: String,
    /// The scripts, first first.
    pub scripts: Vec<&'a ScriptRecord>,
}

/// Every hook a script of `state` runs at, by interface, with its scripts in order.
pub fn hooks(state: &State) -> Vec<Hook<'_>> {
    let mut by_hook: BTreeMap<(u32, String), Hook<'_>> = BTreeMap::new();
    for s in &state.scripts {
        for a in &s.loader.attachments {
            by_hook
                .entry((a.ifindex, a.hook.clone()))
                .or_insert_with(|| Hook {
                    ifindex: a.ifindex,
                    device: a.device.clone(),
                    hook: a.hook.clone(),
                    scripts: Vec::new(),
                })
                .scripts
                .push(s);
        }
    }
    let mut out: Vec<Hook<'_>> = by_hook.into_values().collect();
    for h in &mut out {
        h.scripts
            .sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    }
    out
}

/// A proceed-on set as its verdict names (`pass`, `drop,pass`, `none`).
pub fn proceed_on_names(mask: u32) -> Vec<&'static str> {
    VERDICTS
        .iter()
        .enumerate()
        .filter(|(v, _)| mask & (1 << v) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Parses `--proceed-on`: verdict names separated by commas, or `any`, or `none`.
pub fn parse_proceed_on(text: &str) -> Result<u32, String> {
    let mut mask = 0;
    for word in text.split(',').map(str::trim) {
        match word {
            "any" => mask |= crate::state::PROCEED_ON_ALL,
            "none" => {}
            w => match VERDICTS.iter().position(|v| *v == w) {
                Some(v) => mask |= 1 << v,
                None => {
                    return Err(format!(
                        "`{w}` is no verdict; a proceed-on set is verdicts among {} separated by commas, or `any`, or `none`",
                        VERDICTS.join(", ")
                    ))
                }
            },
        }
    }
    Ok(mask)
}

/// Whether the script whose loader is pinned as `pin` runs at a TC hook in `state`.
pub fn runs_at_tc(state: &State, pin: &str) -> bool {
    state
        .scripts
        .iter()
        .any(|s| s.loader.pin == pin && s.loader.attachments.iter().any(|a| a.hook != "xdp"))
}

/// What the kernel holds for the order of a state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Interface → the loader pin of its first script (which holds the interface's link).
    pub heads: BTreeMap<u32, String>,
    /// (interface, slot) → the next script's slot.
    pub next: BTreeMap<(u32, u32), u32>,
    /// Loader pin → its dispatch word: the script's proceed-on set if some script follows it
    /// somewhere (else 0: one test per packet), and its slot.
    pub words: BTreeMap<String, u32>,
    /// Slot → loader pin.
    pub slots: BTreeMap<u32, String>,
}

/// The plan of `state`. At XDP the loaders dispatch (heads and next entries); at TC the
/// kernel runs a hook's programs in the order of their tcx links, so a TC hook only makes the
/// scripts that have another after them proceed (their verdicts return `TCX_NEXT`), and the
/// last script's `pass` proceed when its set has `pass`: to the programs other tools attached
/// after ours, or, where there is none, to the stack (tcx passes a packet every program left
/// to the next).
pub fn plan(state: &State) -> Plan {
    let mut p = Plan::default();
    let mut followed = std::collections::BTreeSet::new();
    for h in hooks(state) {
        for pair in h.scripts.windows(2) {
            followed.insert(pair[0].slot);
        }
        if h.hook != "xdp" {
            continue;
        }
        p.heads.insert(h.ifindex, h.scripts[0].loader.pin.clone());
        for pair in h.scripts.windows(2) {
            p.next.insert((h.ifindex, pair[0].slot), pair[1].slot);
        }
    }
    for s in &state.scripts {
        let at_tc = s.loader.attachments.iter().any(|a| a.hook != "xdp");
        let word = if followed.contains(&s.slot) {
            dispatch_word(s.proceed_on, s.slot)
        } else if at_tc {
            dispatch_word(s.proceed_on & PASS_PROCEEDS, s.slot) | DISPATCH_LEAVES
        } else {
            dispatch_word(0, s.slot)
        };
        p.words.insert(s.loader.pin.clone(), word);
        // `hike_scripts` holds XDP programs: a TC script's loader (`sched_cls`) has no slot.
        if s.loader.attachments.iter().all(|a| a.hook == "xdp") {
            p.slots.insert(s.slot, s.loader.pin.clone());
        }
    }
    p
}

/// Writes what the plan adds or changes: each slot's loader, then the next entries, then the
/// words that reach them, so that a packet finds everything a word sends it to. Loaders
/// missing from `loaders` are skipped (their script is being forgotten).
pub fn apply(vm: &Vm, loaders: &BTreeMap<String, Loader>, plan: &Plan) -> hike_runtime::Result<()> {
    for (slot, pin) in &plan.slots {
        if let Some(l) = loaders.get(pin) {
            if vm.script_slot_program(*slot)? != Some(l.kernel_id()) {
                vm.set_script_slot(*slot, l)?;
            }
        }
    }
    for ((ifindex, slot), next) in &plan.next {
        vm.set_next_script(*ifindex, *slot, Some(*next))?;
    }
    for (pin, word) in &plan.words {
        if let Some(l) = loaders.get(pin) {
            if l.dispatch()? != *word {
                l.set_dispatch(*word)?;
            }
        }
    }
    Ok(())
}

/// Removes what the plan no longer has: next entries, then slots. Called once no packet can
/// reach them (after the words changed, and for slots after the packets in flight).
pub fn prune(vm: &Vm, plan: &Plan) -> hike_runtime::Result<()> {
    for (key, _) in vm.next_scripts()? {
        if !plan.next.contains_key(&(key.ifindex, key.slot)) {
            vm.set_next_script(key.ifindex, key.slot, None)?;
        }
    }
    for slot in 0..DISPATCH_SLOTS {
        if !plan.slots.contains_key(&slot) && vm.script_slot_program(slot)?.is_some() {
            vm.clear_script_slot(slot)?;
        }
    }
    Ok(())
}

/// The loader (pin) holding the link of interface `ifindex`, if one of `loaders` does.
pub fn holder(loaders: &BTreeMap<String, Loader>, ifindex: u32) -> Option<String> {
    loaders
        .iter()
        .find(|(_, l)| l.xdp_attachments().contains(&ifindex))
        .map(|(pin, _)| pin.clone())
}

/// A move of an interface's link: `from` held it (none: not attached), `to` holds it now.
#[derive(Clone, Debug)]
pub struct Moved {
    /// The interface.
    pub ifindex: u32,
    /// The loader that held it.
    pub from: Option<String>,
    /// The loader that holds it now.
    pub to: String,
}

/// Makes the first script's loader hold the link of interface `ifindex` (one atomic link
/// update, or an attach where no loader of ours holds it); `None` when it already does.
pub fn place_head(
    loaders: &BTreeMap<String, Loader>,
    plan: &Plan,
    ifindex: u32,
) -> hike_runtime::Result<Option<Moved>> {
    let Some(head) = plan.heads.get(&ifindex) else {
        return Ok(None);
    };
    let Some(to) = loaders.get(head) else {
        return Ok(None);
    };
    let from = holder(loaders, ifindex);
    if from.as_ref() == Some(head) {
        return Ok(None);
    }
    match &from {
        Some(f) => to.take_over_attachment(&loaders[f], ifindex)?,
        None => to.attach_xdp(ifindex, XdpMode::Native)?,
    }
    Ok(Some(Moved {
        ifindex,
        from,
        to: head.clone(),
    }))
}

/// At start, after a crash: makes the first script's loader hold the link of interface
/// `ifindex` whoever holds it now, also when a link switch was interrupted (the link runs one
/// loader and is pinned under the other, or under both): the link runs the first script's
/// loader and is pinned under it only.
pub fn repair_head(
    loaders: &BTreeMap<String, Loader>,
    plan: &Plan,
    ifindex: u32,
) -> hike_runtime::Result<()> {
    let Some(head) = plan.heads.get(&ifindex) else {
        return Ok(());
    };
    let Some(to) = loaders.get(head) else {
        return Ok(());
    };
    let others: Vec<&Loader> = loaders
        .iter()
        .filter(|(pin, l)| *pin != head && l.xdp_attachments().contains(&ifindex))
        .map(|(_, l)| l)
        .collect();
    if others.is_empty() && !to.xdp_attachments().contains(&ifindex) {
        return to.attach_xdp(ifindex, XdpMode::Native);
    }
    for other in others {
        to.reclaim_attachment(other, ifindex)?;
    }
    Ok(())
}
