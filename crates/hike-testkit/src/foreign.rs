//! Another tool's tcx program, for the tests of coexistence at the TC hooks: `netlab_tc_count`
//! (`bpf/netlab/`) counts the packets it sees and returns `TC_ACT_UNSPEC`, so the hook's next
//! program decides. Loaded with libbpf-rs outside any HIKe VM, attached with its own tcx link;
//! dropping the value detaches and unloads it. Not a HIKe program.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use hike_runtime::Hook;
use libbpf_rs::libbpf_sys;
use libbpf_rs::{MapCore, MapFlags, ObjectBuilder};

/// The tcx link flags of [`ForeignTcx::attach`]: before or after every program there now.
pub use libbpf_rs::libbpf_sys::{BPF_F_AFTER, BPF_F_BEFORE};

/// The foreign program, attached. Its link keeps the program, and the program its map, in the
/// kernel; the libbpf object is not kept, so the value can move between threads (a test
/// attaches it in a network namespace's thread).
pub struct ForeignTcx {
    _link: OwnedFd,
    map: libbpf_rs::MapHandle,
    /// Its kernel program ID.
    pub id: u32,
}

impl ForeignTcx {
    /// Loads it and attaches it to `ifindex` (of the calling thread's network namespace) at the
    /// TC hook `hook` with tcx link `flags` (`BPF_F_BEFORE`: first, `BPF_F_AFTER`: last).
    ///
    /// # Panics
    /// When the kernel refuses a step: a test's set-up.
    pub fn attach(ifindex: u32, hook: Hook, flags: u32) -> ForeignTcx {
        let bytes = hike_bpf::netlab::object("netlab_tc_count").expect("netlab_tc_count is built");
        let object = ObjectBuilder::default()
            .open_memory(bytes)
            .expect("open netlab_tc_count")
            .load()
            .expect("load the foreign program");
        let prog = object
            .progs()
            .find(|p| p.name() == "netlab_tc_count")
            .expect("program netlab_tc_count");
        let map = object
            .maps()
            .find(|m| m.name() == "tc_count")
            .expect("map tc_count");
        let map = libbpf_rs::MapHandle::try_from(&map).expect("map handle");
        let attach_type = match hook {
            Hook::TcIngress => libbpf_sys::BPF_TCX_INGRESS,
            Hook::TcEgress => libbpf_sys::BPF_TCX_EGRESS,
            Hook::Xdp => panic!("a foreign tcx program goes to a TC hook, not xdp"),
        };
        // SAFETY: zeroed options are libbpf's "none"; `sz` is set; the descriptor is valid.
        let link = unsafe {
            let mut opts: libbpf_sys::bpf_link_create_opts = std::mem::zeroed();
            opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _;
            opts.flags = flags;
            let fd = libbpf_sys::bpf_link_create(
                prog.as_fd().as_raw_fd(),
                ifindex as i32,
                attach_type,
                &opts,
            );
            assert!(fd >= 0, "tcx attach of the foreign program: {fd}");
            OwnedFd::from_raw_fd(fd)
        };
        let id = prog_id(prog.as_fd());
        ForeignTcx {
            _link: link,
            map,
            id,
        }
    }

    /// The packets it has seen.
    pub fn count(&self) -> u64 {
        self.map
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .expect("lookup tc_count")
            .map_or(0, |v| u64::from_ne_bytes(v[..8].try_into().unwrap()))
    }
}

/// The kernel ID of the program `fd`.
pub fn prog_id(fd: BorrowedFd<'_>) -> u32 {
    // SAFETY: a zeroed info struct is valid; its length is given.
    unsafe {
        let mut info: libbpf_sys::bpf_prog_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
        assert_eq!(
            libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len),
            0
        );
        info.id
    }
}
