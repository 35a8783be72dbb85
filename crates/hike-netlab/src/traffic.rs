//! The programs of `bpf/netlab/netlab_traffic.bpf.c` (the live-frames generators, and the
//! programs for the veths that receive) and XDP links.
//!
//! A generator is an XDP program run with `BPF_PROG_TEST_RUN` and
//! `BPF_F_TEST_XDP_LIVE_FRAMES` ([`crate::live_frames`]) as if it had received the frame on an
//! interface of the calling thread's namespace: its `XDP_TX` really sends the frame, out of
//! that veth, to the peer. The peer accepts it only while it has an XDP program of its own
//! (so does a frame from an AF_PACKET socket, [`crate::Sender`], once the peer's XDP program
//! has made it a NAPI receiver; every receiving end here has one).
//!
//! Each [`TrafficObject`] is one loaded copy of the object, with maps of its own: load one per
//! sender (each its own frames and counter) and one per counting end.
//!
//! This module makes BPF syscalls with libbpf-rs directly, not through `hike-runtime`: the
//! traffic ends are no part of the VM under test.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libbpf_rs::{libbpf_sys, MapCore, MapFlags, Object, ObjectBuilder};

use crate::error::{Error, Result};

/// The compiled object (see `build.rs`).
/// The traffic programs' ELF object, built by `hike-bpf` with the project's other objects.
fn object() -> &'static [u8] {
    hike_bpf::object("netlab_traffic").expect("hike-bpf builds bpf/netlab/netlab_traffic.bpf.c")
}

/// The length of every frame a lab sends (`NETLAB_FRAME_LEN`: Ethernet, IPv6, UDP and two
/// bytes of payload).
pub const FRAME_LEN: usize = 64;
/// Frames a generator sends in round robin (`NETLAB_MAX_FRAMES`).
pub const MAX_FRAMES: usize = 1024;

/// The programs of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficProgram {
    /// `bench_sink`: counts benchmark frames and checks their traffic class and hop limit
    /// ([`TrafficObject::sink_counts`]); drops.
    Sink,
    /// `bench_pass`: XDP_PASS, so that a veth accepts what its peer sends with XDP.
    Pass,
    /// `netlab_send`: the frames of [`TrafficObject::set_frames`] in round robin, unchanged.
    Send,
    /// `netlab_count`: counts frames by IPv6 source ([`TrafficObject::counted`]); drops.
    Count,
    /// `netlab_paced`: the frames of [`TrafficProgram::Send`], one every period
    /// ([`TrafficObject::set_pace`]); the runs in between send nothing.
    Paced,
}

impl TrafficProgram {
    /// Its name in the object.
    pub fn name(self) -> &'static str {
        match self {
            TrafficProgram::Sink => "bench_sink",
            TrafficProgram::Pass => "bench_pass",
            TrafficProgram::Send => "netlab_send",
            TrafficProgram::Count => "netlab_count",
            TrafficProgram::Paced => "netlab_paced",
        }
    }
}

/// Counters of `bench_sink`, summed over the CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Benchmark frames (IPv6/UDP, long enough).
    pub packets: u64,
    /// Of which with traffic class 1.
    pub marked: u64,
    /// Of which not as the generator expected (traffic class, or a hop limit other than 63).
    pub wrong: u64,
    /// Anything else.
    pub other: u64,
}

/// What `netlab_count` counted, summed over the CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// IPv6 frames by source address.
    pub by_source: BTreeMap<Ipv6Addr, u64>,
    /// Other frames (not IPv6, or a source beyond the map's capacity).
    pub other: u64,
}

impl Counted {
    /// Every frame counted.
    pub fn total(&self) -> u64 {
        self.by_source.values().sum::<u64>() + self.other
    }
}

/// One loaded copy of the traffic object; unloaded on drop (programs still attached through
/// an [`XdpLink`] stay until the link is dropped).
pub struct TrafficObject {
    object: Object,
}

impl std::fmt::Debug for TrafficObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrafficObject")
    }
}

impl TrafficObject {
    /// Opens and loads the object.
    pub fn load() -> Result<TrafficObject> {
        let object = ObjectBuilder::default()
            .open_memory(object())
            .and_then(|open| open.load())
            .map_err(|source| Error::LoadObject { source })?;
        Ok(TrafficObject { object })
    }

    fn map(&self, name: &str) -> Result<libbpf_rs::Map<'_>> {
        self.object
            .maps()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::Missing {
                kind: "map",
                name: name.to_owned(),
            })
    }

    fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.map(map)?
            .update(key, value, MapFlags::ANY)
            .map_err(|source| Error::Map {
                op: "update",
                map: map.to_owned(),
                source,
            })
    }

    /// The value at `key` of the per-CPU `map`, read as native-endian `u64` fields summed
    /// over the CPUs; empty if the key is absent.
    fn percpu_sum(&self, map: &str, key: &[u8]) -> Result<Vec<u64>> {
        let values = self
            .map(map)?
            .lookup_percpu(key, MapFlags::ANY)
            .map_err(|source| Error::Map {
                op: "look up",
                map: map.to_owned(),
                source,
            })?;
        Ok(values.map_or_else(Vec::new, |v| sum_u64_fields(&v)))
    }

    /// A new descriptor of `program`, to attach it or run it from another thread.
    pub fn program_fd(&self, program: TrafficProgram) -> Result<OwnedFd> {
        let name = program.name();
        let prog = self
            .object
            .progs()
            .find(|p| p.name() == name)
            .ok_or_else(|| Error::Missing {
                kind: "program",
                name: name.to_owned(),
            })?;
        prog.as_fd()
            .try_clone_to_owned()
            .map_err(|source| Error::DupFd {
                program: name.to_owned(),
                source,
            })
    }

    /// The counters of [`TrafficProgram::Sink`].
    pub fn sink_counts(&self) -> Result<SinkCounts> {
        let v = self.percpu_sum("bench_sink_count", &0u32.to_ne_bytes())?;
        let field = |i: usize| v.get(i).copied().unwrap_or(0);
        Ok(SinkCounts {
            packets: field(0),
            marked: field(1),
            wrong: field(2),
            other: field(3),
        })
    }

    /// Configures [`TrafficProgram::Send`] (and [`TrafficProgram::Paced`]) to send `frames`
    /// in round robin: 1 to [`MAX_FRAMES`] of them, each [`FRAME_LEN`] bytes.
    pub fn set_frames(&self, frames: &[Vec<u8>]) -> Result<()> {
        check_frames(frames)?;
        for (i, frame) in frames.iter().enumerate() {
            self.update("netlab_frames", &(i as u32).to_ne_bytes(), frame)?;
        }
        // struct netlab_send_cfg: nframes.
        let n = frames.len() as u32;
        self.update("netlab_send_cfg", &0u32.to_ne_bytes(), &n.to_ne_bytes())
    }

    /// Configures [`TrafficProgram::Paced`] to send one frame every `period` (the frame of
    /// [`TrafficObject::set_frame`]).
    pub fn set_pace(&self, period: std::time::Duration) -> Result<()> {
        // struct netlab_paced_cfg: period_ns.
        let ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.update("netlab_paced_cfg", &0u32.to_ne_bytes(), &ns.to_ne_bytes())
    }

    /// The largest time between two frames of [`TrafficProgram::Paced`] (over the CPUs), since
    /// the last [`TrafficObject::reset_pace`].
    pub fn paced_max_gap(&self) -> Result<std::time::Duration> {
        let per_cpu = self
            .map("netlab_paced_state")?
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|source| Error::Map {
                op: "look up",
                map: "netlab_paced_state".to_owned(),
                source,
            })?
            .unwrap_or_default();
        // struct netlab_paced_state: due, last, max_gap_ns.
        let max = per_cpu
            .iter()
            .filter_map(|v| v.get(16..24)?.try_into().ok().map(u64::from_ne_bytes))
            .max()
            .unwrap_or(0);
        Ok(std::time::Duration::from_nanos(max))
    }

    /// Starts [`TrafficProgram::Paced`]'s schedule and gap afresh (on every CPU): the next
    /// run sends at once.
    pub fn reset_pace(&self) -> Result<()> {
        let cpus = libbpf_rs::num_possible_cpus().map_err(|source| Error::Map {
            op: "count the CPUs of",
            map: "netlab_paced_state".to_owned(),
            source,
        })?;
        let zero = vec![vec![0u8; 24]; cpus];
        self.map("netlab_paced_state")?
            .update_percpu(&0u32.to_ne_bytes(), &zero, MapFlags::ANY)
            .map_err(|source| Error::Map {
                op: "update",
                map: "netlab_paced_state".to_owned(),
                source,
            })
    }

    /// Frames [`TrafficProgram::Send`] and [`TrafficProgram::Paced`] have sent.
    pub fn sent(&self) -> Result<u64> {
        // struct netlab_send_state: next, sent.
        Ok(self
            .percpu_sum("netlab_send_state", &0u32.to_ne_bytes())?
            .get(1)
            .copied()
            .unwrap_or(0))
    }

    /// What [`TrafficProgram::Count`] has counted.
    pub fn counted(&self) -> Result<Counted> {
        let map = self.map("netlab_count_by_src")?;
        let mut by_source = BTreeMap::new();
        for key in map.keys() {
            let Ok(octets) = <[u8; 16]>::try_from(key.as_slice()) else {
                continue;
            };
            let n = self
                .percpu_sum("netlab_count_by_src", &key)?
                .first()
                .copied()
                .unwrap_or(0);
            by_source.insert(Ipv6Addr::from(octets), n);
        }
        let other = self
            .percpu_sum("netlab_count_other", &0u32.to_ne_bytes())?
            .first()
            .copied()
            .unwrap_or(0);
        Ok(Counted { by_source, other })
    }
}

/// Checks that `frames` is something a generator sends: 1 to [`MAX_FRAMES`] frames of
/// [`FRAME_LEN`] bytes.
pub(crate) fn check_frames(frames: &[Vec<u8>]) -> Result<()> {
    if frames.is_empty() || frames.len() > MAX_FRAMES {
        return Err(Error::FrameCount {
            count: frames.len(),
            max: MAX_FRAMES,
        });
    }
    if let Some(frame) = frames.iter().find(|f| f.len() != FRAME_LEN) {
        return Err(Error::FrameLength {
            len: frame.len(),
            expected: FRAME_LEN,
        });
    }
    Ok(())
}

/// Sums per-CPU values field by field (native-endian `u64` fields): a per-CPU counter map's
/// value as one.
pub fn sum_u64_fields(values: &[Vec<u8>]) -> Vec<u64> {
    let n = values.first().map_or(0, |v| v.len() / 8);
    let mut sum = vec![0u64; n];
    for v in values {
        for (i, s) in sum.iter_mut().enumerate() {
            let bytes: [u8; 8] = v[i * 8..i * 8 + 8].try_into().expect("8 bytes");
            *s = s.wrapping_add(u64::from_ne_bytes(bytes));
        }
    }
    sum
}

/// An XDP program attached to an interface through a BPF link; dropping it detaches the
/// program.
#[derive(Debug)]
pub struct XdpLink {
    _fd: OwnedFd,
    ifindex: u32,
}

impl XdpLink {
    /// The interface it is attached to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

/// Attaches the XDP program `prog` to `ifindex` (of the calling thread's network namespace)
/// in driver mode through a BPF link.
pub fn xdp_link(prog: BorrowedFd<'_>, ifindex: u32) -> Result<XdpLink> {
    // SAFETY: an all-zero options struct is the documented "no options" value; `sz` is set
    // below so libbpf knows which fields we know of.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as libbpf_sys::size_t;
    opts.flags = libbpf_sys::XDP_FLAGS_DRV_MODE;
    let target = i32::try_from(ifindex).map_err(|_| Error::IfindexRange { ifindex })?;
    // SAFETY: `prog` is a valid program descriptor and `opts` a valid, sized options struct.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), target, libbpf_sys::BPF_XDP, &opts)
    };
    if fd < 0 {
        return Err(Error::Attach {
            ifindex,
            source: std::io::Error::from_raw_os_error(-fd),
        });
    }
    // SAFETY: a non-negative return of `bpf_link_create` is a new descriptor that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(XdpLink { _fd: fd, ifindex })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_values_sum_by_field() {
        let a = [1u64, 2].iter().flat_map(|x| x.to_ne_bytes()).collect();
        let b = [10u64, 20].iter().flat_map(|x| x.to_ne_bytes()).collect();
        assert_eq!(sum_u64_fields(&[a, b]), [11, 22]);
        assert_eq!(sum_u64_fields(&[]), Vec::<u64>::new());
    }

    #[test]
    fn the_object_is_a_bpf_elf() {
        assert_eq!(&object()[..4], b"\x7fELF");
        // e_machine (offset 18, little endian) is EM_BPF = 247.
        assert_eq!(u16::from_le_bytes([object()[18], object()[19]]), 247);
    }
}
