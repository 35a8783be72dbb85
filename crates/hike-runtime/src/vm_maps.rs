//! The shared VM maps: one set per VM instance, reused by every object loaded into it.
//!
//! Every HIKe object (programs and loaders) declares these maps with the names and layouts of
//! `bpf/include/hike/abi.h`. The runtime creates them once per instance and, before an object
//! is loaded, points the object's declarations at the instance's maps
//! (`bpf_map__reuse_fd`), so all objects of an instance share one program table, one chain
//! table, one code heap, one per-CPU state and one set of counters.

use std::fmt;
use std::mem::size_of;
use std::os::fd::AsFd;
use std::path::Path;

use hike_isa::abi::{self, ChainDesc, ChainStats, Fault, ProgStats, VmConfig, VmState};
use libbpf_rs::libbpf_sys;
use libbpf_rs::{MapCore, MapHandle, MapType};

use crate::{Error, MapRef, Result};

/// Bytes of the `hike_events` ring buffer. Not (yet) a constant of `abi.h`; every object must
/// declare the same size for the map to be shared.
pub const EVENTS_RING_BYTES: u32 = 256 * 1024;

/// The shape of a map: what must agree for two declarations to share one kernel map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapLayout {
    /// The map type.
    pub map_type: MapType,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes.
    pub value_size: u32,
    /// Entries (bytes for a ring buffer).
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub flags: u32,
}

impl fmt::Display for MapLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (key {} bytes, value {} bytes, {} entries, flags {:#x})",
            self.map_type, self.key_size, self.value_size, self.max_entries, self.flags
        )
    }
}

/// One of the shared VM maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmMap {
    /// `hike_chains`: chain ID → [`ChainDesc`], mmapable.
    Chains,
    /// `hike_code`: the code heap, one mmapable value. Objects declare it as a global in the
    /// section `.bss.hike_code` (the VM reads it by address, without a lookup), which libbpf
    /// turns into a one-entry array map named after the section.
    Code,
    /// `hike_progs`: program ID → XDP program (a program array).
    Progs,
    /// `hike_progs_tc`: program ID → TC (`sched_cls`) program, the program table of the
    /// objects built for TC (a tail call reaches only programs of its own type). Slot IDs are
    /// shared: a slot holds a program in one of the two tables.
    ProgsTc,
    /// `hike_config`: the one [`VmConfig`].
    Config,
    /// `hike_state`: the per-CPU [`VmState`].
    State,
    /// `hike_cstats`: per-CPU [`ChainStats`] by chain ID.
    ChainStats,
    /// `hike_pstats`: per-CPU [`ProgStats`] by program ID.
    ProgStats,
    /// `hike_faults`: per-CPU fault counters by fault code.
    Faults,
    /// `hike_events`: the ring buffer of [`abi::Event`]s.
    Events,
    /// `hike_scripts`: script slot → the script's loader (a program array).
    Scripts,
    /// `hike_dispatch`: [`abi::DispatchKey`] → the next script's slot.
    Dispatch,
    /// `hike_verdicts`: per-CPU packets by (script slot, final verdict).
    Verdicts,
}

impl VmMap {
    /// Every shared map, in creation order.
    pub const ALL: [VmMap; 13] = [
        VmMap::Chains,
        VmMap::Code,
        VmMap::Progs,
        VmMap::ProgsTc,
        VmMap::Config,
        VmMap::State,
        VmMap::ChainStats,
        VmMap::ProgStats,
        VmMap::Faults,
        VmMap::Events,
        VmMap::Scripts,
        VmMap::Dispatch,
        VmMap::Verdicts,
    ];

    /// The map's name, as declared by every HIKe object (at most 15 bytes;
    /// [`abi::vm_maps`]).
    pub const fn name(self) -> &'static str {
        match self {
            VmMap::Chains => abi::vm_maps::CHAINS,
            VmMap::Code => abi::vm_maps::CODE,
            VmMap::Progs => abi::vm_maps::PROGS,
            VmMap::ProgsTc => abi::vm_maps::PROGS_TC,
            VmMap::Config => abi::vm_maps::CONFIG,
            VmMap::State => abi::vm_maps::STATE,
            VmMap::ChainStats => abi::vm_maps::CHAIN_STATS,
            VmMap::ProgStats => abi::vm_maps::PROG_STATS,
            VmMap::Faults => abi::vm_maps::FAULTS,
            VmMap::Events => abi::vm_maps::EVENTS,
            VmMap::Scripts => abi::vm_maps::SCRIPTS,
            VmMap::Dispatch => abi::vm_maps::DISPATCH,
            VmMap::Verdicts => abi::vm_maps::VERDICTS,
        }
    }

    /// The name of the map as libbpf opens it from an object: [`VmMap::name`], except for the
    /// code heap, a global whose map is named after its section.
    pub const fn declared_name(self) -> &'static str {
        match self {
            VmMap::Code => abi::vm_maps::CODE_SECTION,
            other => other.name(),
        }
    }

    /// The shared map of this name (as created, or as declared by an object), if any.
    pub fn from_name(name: &str) -> Option<VmMap> {
        VmMap::ALL
            .into_iter()
            .find(|m| m.name() == name || m.declared_name() == name)
    }

    /// The layout the ABI prescribes.
    pub fn layout(self) -> MapLayout {
        let u32s = size_of::<u32>() as u32;
        let (map_type, key_size, value_size, max_entries, flags) = match self {
            VmMap::Chains => (
                MapType::Array,
                u32s,
                size_of::<ChainDesc>() as u32,
                abi::MAX_CHAINS,
                libbpf_sys::BPF_F_MMAPABLE,
            ),
            VmMap::Code => (
                MapType::Array,
                u32s,
                abi::CODE_HEAP_INSNS * 8,
                1,
                libbpf_sys::BPF_F_MMAPABLE,
            ),
            VmMap::Progs | VmMap::ProgsTc => (MapType::ProgArray, u32s, u32s, abi::MAX_PROGS, 0),
            VmMap::Config => (MapType::Array, u32s, size_of::<VmConfig>() as u32, 1, 0),
            VmMap::State => (
                MapType::PercpuArray,
                u32s,
                size_of::<VmState>() as u32,
                1,
                0,
            ),
            VmMap::ChainStats => (
                MapType::PercpuArray,
                u32s,
                size_of::<ChainStats>() as u32,
                abi::MAX_CHAINS,
                0,
            ),
            VmMap::ProgStats => (
                MapType::PercpuArray,
                u32s,
                size_of::<ProgStats>() as u32,
                abi::MAX_PROGS,
                0,
            ),
            VmMap::Faults => (MapType::PercpuArray, u32s, 8, Fault::MAX as u32, 0),
            VmMap::Events => (MapType::RingBuf, 0, 0, EVENTS_RING_BYTES, 0),
            VmMap::Scripts => (MapType::ProgArray, u32s, u32s, abi::DISPATCH_SLOTS, 0),
            VmMap::Dispatch => (
                MapType::Hash,
                size_of::<abi::DispatchKey>() as u32,
                u32s,
                abi::DISPATCH_LINKS,
                0,
            ),
            VmMap::Verdicts => (
                MapType::PercpuArray,
                u32s,
                8,
                abi::DISPATCH_SLOTS * abi::VERDICTS,
                0,
            ),
        };
        MapLayout {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags,
        }
    }
}

/// The kernel maps of one VM instance, in [`VmMap::ALL`] order.
#[derive(Debug)]
pub(crate) struct VmMaps {
    maps: Vec<MapRef>,
}

impl VmMaps {
    /// Creates a fresh set of maps.
    pub(crate) fn create() -> Result<VmMaps> {
        let mut maps = Vec::with_capacity(VmMap::ALL.len());
        for m in VmMap::ALL {
            maps.push(MapRef::new(m.name(), create_map(m)?));
        }
        Ok(VmMaps { maps })
    }

    /// Opens the maps pinned in `dir` (one pin per map, named after it) and checks their
    /// layouts against the ABI.
    pub(crate) fn open_pinned(dir: &Path, instance: &str) -> Result<VmMaps> {
        let mut maps = Vec::with_capacity(VmMap::ALL.len());
        for m in VmMap::ALL {
            let path = dir.join(m.name());
            if matches!(
                m,
                VmMap::ProgsTc | VmMap::Scripts | VmMap::Dispatch | VmMap::Verdicts
            ) && !path.exists()
            {
                // An instance created before TC hooks (several scripts per hook, verdict
                // counters) existed: its TC program table (script table, order, counters) is
                // made now, empty, as `create` would have.
                let h = create_map(m)?;
                crate::sys::obj_pin(h.as_fd(), &path).map_err(|source| Error::Pin {
                    op: "pin",
                    path: path.clone(),
                    source,
                })?;
                maps.push(MapRef::new(m.name(), h));
                continue;
            }
            let h = MapHandle::from_pinned_path(&path).map_err(|e| Error::Pin {
                op: "open pin",
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
            let found = layout_of(&h)?;
            let expected = m.layout();
            if found != expected {
                return Err(Error::PinnedLayoutMismatch {
                    instance: instance.to_owned(),
                    map: m.name().to_owned(),
                    abi: abi::ABI_VERSION,
                    expected,
                    found,
                });
            }
            maps.push(MapRef::new(m.name(), h));
        }
        Ok(VmMaps { maps })
    }

    /// Pins every map in `dir`.
    pub(crate) fn pin(&self, dir: &Path) -> Result<()> {
        for (m, h) in VmMap::ALL.iter().zip(&self.maps) {
            let path = dir.join(m.name());
            crate::sys::obj_pin(h.handle().as_fd(), &path).map_err(|source| Error::Pin {
                op: "pin",
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// The handle of one shared map.
    pub(crate) fn get(&self, m: VmMap) -> &MapHandle {
        self.get_ref(m).handle()
    }

    /// A reference to one shared map.
    pub(crate) fn get_ref(&self, m: VmMap) -> &MapRef {
        let i = VmMap::ALL
            .iter()
            .position(|x| *x == m)
            .expect("every VmMap is in ALL");
        &self.maps[i]
    }
}

/// Creates the shared map `m` with the layout of the ABI.
fn create_map(m: VmMap) -> Result<MapHandle> {
    let l = m.layout();
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        map_flags: l.flags,
        ..Default::default()
    };
    MapHandle::create(
        l.map_type,
        Some(m.name()),
        l.key_size,
        l.value_size,
        l.max_entries,
        &opts,
    )
    .map_err(|source| Error::CreateMap {
        map: m.name(),
        source,
    })
}

/// The layout of a loaded map, as the kernel reports it.
pub(crate) fn layout_of(h: &MapHandle) -> Result<MapLayout> {
    let info = h.info().map_err(|source| Error::MapOp {
        op: "query",
        map: h.name().to_string_lossy().into_owned(),
        source,
    })?;
    Ok(MapLayout {
        map_type: info.map_type(),
        key_size: info.info.key_size,
        value_size: info.info.value_size,
        max_entries: info.info.max_entries,
        flags: info.info.map_flags,
    })
}
