//! Several scripts on one hook: the kernel side of the order (`bpf/include/hike/dispatch.h`).
//!
//! A script has a slot in the instance's `hike_scripts` program array (its loader), a
//! dispatch word in its loader's `hike_ldr_cfg` (the verdicts that proceed, and the slot), and
//! at each interface where another script follows it an entry of `hike_dispatch`
//! ((interface, slot) → next slot). Each of these is one map write, atomic for packets; the
//! caller orders them so that every packet meets either the old or the new sequence (what
//! comes after a script is in place before the script's mask reaches it). This module is the
//! writes only: which script goes where is the caller's (the daemon's) decision.

use hike_isa::abi::{self, DispatchKey, LoaderConfig};
use std::os::fd::{AsFd, AsRawFd};

use crate::{sys, Error, Loader, Result, UpdateMode, Vm, VmMap};

impl Vm {
    /// Puts `loader` in script slot `slot`: a tail call to the slot runs it from now on.
    pub fn set_script_slot(&self, slot: u32, loader: &Loader) -> Result<()> {
        check_slot(slot)?;
        let fd = loader.program_fd();
        let value = (fd.as_raw_fd() as u32).to_ne_bytes();
        self.vm_map(VmMap::Scripts)
            .update(&slot.to_ne_bytes(), &value, UpdateMode::Any)
    }

    /// The packets whose verdict became final in the script of `slot`, by verdict (index: the
    /// XDP verdict; 7: any other value), summed over CPUs. Counted while the VM's counters are
    /// on (`HIKE_CFG_STATS`).
    pub fn verdict_counts(&self, slot: u32) -> Result<[u64; abi::VERDICTS as usize]> {
        check_slot(slot)?;
        let mut out = [0u64; abi::VERDICTS as usize];
        for (v, n) in out.iter_mut().enumerate() {
            *n = self
                .percpu::<u64>(VmMap::Verdicts, slot * abi::VERDICTS + v as u32)?
                .iter()
                .sum();
        }
        Ok(out)
    }

    /// Zeroes the verdict counters of script slot `slot` (for a new occupant).
    pub fn reset_verdict_counts(&self, slot: u32) -> Result<()> {
        check_slot(slot)?;
        for v in 0..abi::VERDICTS {
            self.zero_counters(VmMap::Verdicts, slot * abi::VERDICTS + v)?;
        }
        Ok(())
    }

    /// Empties script slot `slot` (nothing if it is empty).
    pub fn clear_script_slot(&self, slot: u32) -> Result<()> {
        check_slot(slot)?;
        self.vm_map(VmMap::Scripts).delete(&slot.to_ne_bytes())?;
        Ok(())
    }

    /// The kernel ID of the loader in script slot `slot`, if any.
    pub fn script_slot_program(&self, slot: u32) -> Result<Option<u32>> {
        check_slot(slot)?;
        Ok(self
            .vm_map(VmMap::Scripts)
            .lookup(&slot.to_ne_bytes())?
            .and_then(|v| Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))))
    }

    /// Makes the script in `slot` at interface `ifindex` proceed to the script in slot `next`,
    /// or to none.
    pub fn set_next_script(&self, ifindex: u32, slot: u32, next: Option<u32>) -> Result<()> {
        check_slot(slot)?;
        let key = DispatchKey { ifindex, slot };
        let map = self.vm_map(VmMap::Dispatch);
        match next {
            Some(n) => {
                check_slot(n)?;
                map.update(bytemuck::bytes_of(&key), &n.to_ne_bytes(), UpdateMode::Any)
            }
            None => map.delete(bytemuck::bytes_of(&key)).map(|_| ()),
        }
    }

    /// Every (interface, slot) → next slot entry.
    pub fn next_scripts(&self) -> Result<Vec<(DispatchKey, u32)>> {
        let map = self.vm_map(VmMap::Dispatch);
        Ok(map
            .entries()?
            .into_iter()
            .filter_map(|(k, v)| {
                let key: DispatchKey = bytemuck::pod_read_unaligned(k.get(..8)?);
                Some((key, u32::from_ne_bytes(v.get(..4)?.try_into().ok()?)))
            })
            .collect())
    }
}

impl Loader {
    /// Writes the loader's dispatch word ([`abi::dispatch_word`]) into its `hike_ldr_cfg`,
    /// keeping its verdicts: one map write, which the loader's next packet reads.
    pub fn set_dispatch(&self, word: u32) -> Result<()> {
        let map = self.map(abi_map::LOADER_CONFIG)?;
        let key = 0u32.to_ne_bytes();
        let mut cfg: LoaderConfig = match map.lookup(&key)? {
            Some(v) if v.len() == std::mem::size_of::<LoaderConfig>() => {
                bytemuck::pod_read_unaligned(&v)
            }
            _ => LoaderConfig::default(),
        };
        cfg.dispatch = word;
        map.update(&key, bytemuck::bytes_of(&cfg), UpdateMode::Any)
    }

    /// The loader's dispatch word.
    pub fn dispatch(&self) -> Result<u32> {
        let map = self.map(abi_map::LOADER_CONFIG)?;
        Ok(match map.lookup(&0u32.to_ne_bytes())? {
            Some(v) if v.len() == std::mem::size_of::<LoaderConfig>() => {
                bytemuck::pod_read_unaligned::<LoaderConfig>(&v).dispatch
            }
            _ => 0,
        })
    }

    pub(crate) fn program_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.handle().as_fd()
    }
}

/// The loader's own map names this module writes.
mod abi_map {
    /// `hike_ldr_cfg`, the loader's [`super::LoaderConfig`].
    pub const LOADER_CONFIG: &str = "hike_ldr_cfg";
}

fn check_slot(slot: u32) -> Result<()> {
    if slot < abi::DISPATCH_SLOTS {
        Ok(())
    } else {
        Err(Error::ScriptSlot { slot })
    }
}

/// The program attached to `ifindex`'s XDP hook, with the name the kernel gives it: `None`
/// when the hook is free.
pub fn attached_xdp_program_named(ifindex: u32) -> Result<Option<(u32, String)>> {
    let id = crate::attached_xdp_program(ifindex)?;
    if id == 0 {
        return Ok(None);
    }
    Ok(Some((id, sys::prog_name_by_id(id).unwrap_or_default())))
}
