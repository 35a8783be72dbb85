//! The chain table and the code heap: atomic install, replace and removal of chains.
//!
//! Both maps are memory-mapped. A chain version is written into free instructions of the code
//! heap, then made visible with one aligned 8-byte atomic store of its descriptor into the
//! chain table. The eBPF VM reads the descriptor once when it enters a chain and keeps the
//! code location in its per-CPU frame, so a packet runs either the old or the new version of
//! a chain, never a mix, and no packet is lost during the swap.
//!
//! # Why reusing retired code is safe
//!
//! After a descriptor is replaced or cleared, a packet that entered the old version before
//! the store may still be reading its instructions. The old range therefore goes to a
//! quarantine and is reused only when both hold:
//!
//! 1. The grace delay (default 1 s, [`crate::VmOptions::grace`]) has passed since the store.
//!    A packet's run is bounded by the execution budget (at most `MAX_BUDGET` instructions)
//!    and `MAX_PROG_CALLS` program calls, so it lasts microseconds to milliseconds.
//! 2. A kernel RCU grace period has completed since the store. Every XDP program (the
//!    loader, the VM, each tail-called program of one packet) runs inside one RCU read-side
//!    critical section, so once a grace period has elapsed no packet that could have read the
//!    old descriptor is still running. User space waits for one by updating a tiny
//!    array-of-maps, which the kernel follows with `synchronize_rcu()` precisely so that user
//!    space knows running programs are done with the old value.
//!
//! The second condition is the proof; the first bounds how often we pay for it.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hike_isa::abi::{ChainDesc, CODE_HEAP_INSNS, MAX_CHAINS, MAX_CHAIN_INSNS};
use hike_isa::Insn;
use libbpf_rs::libbpf_sys;
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use crate::code_alloc::CodeAlloc;
use crate::sys::Mmap;
use crate::vm_maps::{VmMap, VmMaps};
use crate::{ChainId, Error, Result};

/// How the code heap is used, in instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapUsage {
    /// Instructions in the heap.
    pub capacity: u32,
    /// Instructions of live chains.
    pub live: u32,
    /// Instructions of retired chain versions waiting for their grace period.
    pub quarantined: u32,
    /// Free instructions.
    pub free: u32,
    /// The longest free run.
    pub largest_free: u32,
}

/// A retired chain version.
#[derive(Clone, Copy, Debug)]
struct Retired {
    off: u32,
    len: u32,
    at: Instant,
}

/// Waits for a kernel RCU grace period: an update of an array-of-maps returns only after
/// `synchronize_rcu()`, i.e. after every BPF program that was running has finished.
#[derive(Debug)]
struct GracePeriod {
    outer: MapHandle,
    inner: MapHandle,
}

impl GracePeriod {
    fn new() -> Result<GracePeriod> {
        let inner = MapHandle::create(
            MapType::Array,
            Some("hike_sync_in"),
            4,
            4,
            1,
            &libbpf_sys::bpf_map_create_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
                ..Default::default()
            },
        )
        .map_err(|source| Error::GracePeriod { source })?;
        let outer = MapHandle::create(
            MapType::ArrayOfMaps,
            Some("hike_sync"),
            4,
            4,
            1,
            &libbpf_sys::bpf_map_create_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
                inner_map_fd: inner.as_fd().as_raw_fd() as u32,
                ..Default::default()
            },
        )
        .map_err(|source| Error::GracePeriod { source })?;
        Ok(GracePeriod { outer, inner })
    }

    /// Returns once every BPF program running at the time of the call has finished.
    fn wait(&self) -> Result<()> {
        let fd = self.inner.as_fd().as_raw_fd().to_ne_bytes();
        self.outer
            .update(&0u32.to_ne_bytes(), &fd, MapFlags::ANY)
            .map_err(|source| Error::GracePeriod { source })
    }
}

/// The memory-mapped chain table and code heap of one VM instance, with the allocator of the
/// heap. Not synchronised: the owner wraps it in a mutex (one writer at a time; the kernel
/// readers need no lock).
#[derive(Debug)]
pub(crate) struct ChainTable {
    descs: Mmap,
    heap: Mmap,
    alloc: CodeAlloc,
    quarantine: VecDeque<Retired>,
    grace: Duration,
    /// When the last completed RCU wait started: ranges retired before it are unreachable.
    last_sync_start: Option<Instant>,
    sync: GracePeriod,
}

impl ChainTable {
    /// Maps the chain table and code heap of `maps`, and rebuilds the allocator from the live
    /// descriptors (all zero for a fresh instance).
    pub(crate) fn open(maps: &VmMaps, grace: Duration, adopting: bool) -> Result<ChainTable> {
        let descs = Mmap::map_shared(maps.get(VmMap::Chains).as_fd(), MAX_CHAINS as usize * 8)
            .map_err(|source| Error::Mmap {
                map: VmMap::Chains.name(),
                source,
            })?;
        let heap = Mmap::map_shared(maps.get(VmMap::Code).as_fd(), CODE_HEAP_INSNS as usize * 8)
            .map_err(|source| Error::Mmap {
                map: VmMap::Code.name(),
                source,
            })?;
        let mut table = ChainTable {
            descs,
            heap,
            alloc: CodeAlloc::new(CODE_HEAP_INSNS),
            quarantine: VecDeque::new(),
            grace,
            last_sync_start: None,
            sync: GracePeriod::new()?,
        };
        let live: Vec<(ChainId, ChainDesc)> = table.live();
        let used: Vec<(u32, u32)> = live
            .iter()
            .map(|(_, d)| (d.code_off, u32::from(d.len)))
            .collect();
        table.alloc = CodeAlloc::with_used(CODE_HEAP_INSNS, &used).map_err(|i| {
            let (chain, d) = live[i];
            Error::CorruptChainTable {
                chain,
                code_off: d.code_off,
                len: d.len,
            }
        })?;
        if adopting {
            // Free space of an adopted heap may hold versions retired by the previous owner
            // moments ago: wait until no packet can still be running them.
            table.wait_grace_period()?;
        }
        Ok(table)
    }

    fn desc_slot(&self, id: ChainId) -> &AtomicU64 {
        debug_assert_eq!(self.descs.len(), MAX_CHAINS as usize * 8);
        // SAFETY: `id < MAX_CHAINS`, so the slot is inside the mapping, which lives as long as
        // `self`; slots are 8-byte aligned (the mapping is page aligned). The kernel also
        // accesses the slot, but only with aligned 8-byte loads and stores, which is what an
        // `AtomicU64` requires of concurrent accesses.
        unsafe { AtomicU64::from_ptr(self.descs.as_ptr().cast::<u64>().add(id.get() as usize)) }
    }

    /// The descriptor of `id` (len 0: no chain).
    pub(crate) fn desc(&self, id: ChainId) -> ChainDesc {
        ChainDesc::from_word(self.desc_slot(id).load(Ordering::Acquire))
    }

    /// Every chain with code.
    pub(crate) fn live(&self) -> Vec<(ChainId, ChainDesc)> {
        ChainId::all()
            .map(|id| (id, self.desc(id)))
            .filter(|(_, d)| d.len > 0)
            .collect()
    }

    /// The instructions of chain `id`, if it has any.
    pub(crate) fn code(&self, id: ChainId) -> Option<Vec<Insn>> {
        let d = self.desc(id);
        if d.len == 0 {
            return None;
        }
        let base = self.heap.as_ptr().cast::<u64>();
        let insns = (0..u32::from(d.len))
            .map(|i| {
                let idx = (d.code_off + i) as usize;
                assert!(
                    idx < CODE_HEAP_INSNS as usize,
                    "descriptor checked against the heap on open"
                );
                // SAFETY: `idx` is inside the heap mapping (checked above) and aligned; we
                // only read, and the range belongs to a live chain, which no writer touches.
                let word = unsafe { base.add(idx).read_volatile() };
                Insn::from_bytes(word.to_ne_bytes())
            })
            .collect();
        Some(insns)
    }

    /// Writes a new version of chain `id` and publishes it atomically; the previous version
    /// goes to quarantine.
    pub(crate) fn install(&mut self, id: ChainId, insns: &[Insn], nparams: u8) -> Result<()> {
        if insns.is_empty() {
            return Err(Error::EmptyChain { chain: id });
        }
        if insns.len() > MAX_CHAIN_INSNS {
            return Err(Error::ChainTooLong {
                chain: id,
                len: insns.len(),
                max: MAX_CHAIN_INSNS,
            });
        }
        let len = insns.len() as u32;
        let off = self.allocate(id, len)?;
        let base = self.heap.as_ptr().cast::<u64>();
        for (i, insn) in insns.iter().enumerate() {
            let idx = off as usize + i;
            debug_assert!(idx < CODE_HEAP_INSNS as usize);
            // SAFETY: `off..off+len` was just allocated inside the heap, so no live chain and
            // no quarantined version uses it: no packet reads these words until the
            // descriptor below publishes them.
            unsafe {
                base.add(idx)
                    .write_volatile(u64::from_ne_bytes(insn.to_bytes()))
            };
        }
        // The code must be visible before the descriptor that points at it.
        fence(Ordering::Release);
        let desc = ChainDesc {
            code_off: off,
            len: len as u16,
            nparams,
            flags: 0,
        };
        let old = ChainDesc::from_word(self.desc_slot(id).swap(desc.to_word(), Ordering::AcqRel));
        self.retire(old);
        Ok(())
    }

    /// Clears chain `id`; returns whether it had code.
    pub(crate) fn remove(&mut self, id: ChainId) -> bool {
        let old = ChainDesc::from_word(self.desc_slot(id).swap(0, Ordering::AcqRel));
        let had = old.len > 0;
        self.retire(old);
        had
    }

    fn retire(&mut self, old: ChainDesc) {
        if old.len > 0 {
            self.quarantine.push_back(Retired {
                off: old.code_off,
                len: u32::from(old.len),
                at: Instant::now(),
            });
        }
    }

    /// Waits for a kernel RCU grace period (see [`crate::Vm::wait_for_packets_in_flight`]).
    pub(crate) fn wait_for_readers(&mut self) -> Result<()> {
        self.wait_grace_period()
    }

    fn wait_grace_period(&mut self) -> Result<()> {
        let start = Instant::now();
        self.sync.wait()?;
        self.last_sync_start = Some(start);
        Ok(())
    }

    /// Frees the quarantined ranges whose grace delay has passed, after an RCU grace period
    /// if none has completed since they were retired.
    fn reclaim(&mut self) -> Result<()> {
        let now = Instant::now();
        let due = |r: &Retired| r.at + self.grace <= now;
        let Some(newest_due) = self
            .quarantine
            .iter()
            .take_while(|r| due(r))
            .last()
            .map(|r| r.at)
        else {
            return Ok(());
        };
        if self.last_sync_start.is_none_or(|s| s <= newest_due) {
            self.wait_grace_period()?;
        }
        while let Some(r) = self.quarantine.front().copied() {
            if r.at + self.grace > now {
                break;
            }
            self.quarantine.pop_front();
            self.alloc.free(r.off, r.len);
        }
        Ok(())
    }

    /// Finds room for `len` instructions, waiting for quarantined ranges when only they would
    /// make it fit. Free space is used first, so a replacement costs no RCU grace period until
    /// the heap runs out of never-used or already-reclaimed room.
    fn allocate(&mut self, id: ChainId, len: u32) -> Result<u32> {
        if let Some(off) = self.alloc.alloc(len) {
            return Ok(off);
        }
        loop {
            self.reclaim()?;
            if let Some(off) = self.alloc.alloc(len) {
                return Ok(off);
            }
            let pending: Vec<(u32, u32)> = self.quarantine.iter().map(|r| (r.off, r.len)).collect();
            if pending.is_empty() || !self.alloc.fits_with(len, &pending) {
                let quarantined: u32 = pending.iter().map(|p| p.1).sum();
                return Err(Error::CodeHeapFull {
                    chain: id,
                    len: len as usize,
                    free: self.alloc.free_total() + quarantined,
                    largest_free: self.alloc.largest_free(),
                });
            }
            // Only retired versions stand in the way: sleep until the oldest one is due.
            let oldest = self.quarantine.front().expect("pending is not empty").at;
            let wait = (oldest + self.grace).saturating_duration_since(Instant::now());
            std::thread::sleep(wait);
        }
    }

    /// How the heap is used.
    pub(crate) fn usage(&self) -> HeapUsage {
        let free = self.alloc.free_total();
        let quarantined = self.quarantine.iter().map(|r| r.len).sum();
        HeapUsage {
            capacity: CODE_HEAP_INSNS,
            live: CODE_HEAP_INSNS - free - quarantined,
            quarantined,
            free,
            largest_free: self.alloc.largest_free(),
        }
    }

    /// Changes the grace delay (tests use zero).
    pub(crate) fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }
}
