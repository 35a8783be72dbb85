//! Every raw system call and `libbpf-sys` call of the runtime, in one place.
//!
//! The rest of the crate goes through libbpf-rs where it offers what we need, and through this
//! module where it does not: memory-mapping map values, bpffs mounting and pinning by file
//! descriptor, XDP links with a mode, `BPF_PROG_TEST_RUN` on a bare program fd, per-program
//! verifier log buffers and CPU affinity. Return codes are turned into [`std::io::Error`] here
//! and nowhere else; callers wrap them in the crate's [`Error`](crate::Error) with context.

use std::ffi::{c_void, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

use libbpf_rs::libbpf_sys;

/// `statfs.f_type` of a BPF filesystem.
const BPF_FS_MAGIC: libc::c_long = 0xcafe_4a11;

/// A C string from a path; a path with a NUL byte is an invalid-input error.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Converts a libbpf return value (`-errno` on failure, libbpf 1.0 mode) into a result.
fn libbpf_ret(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// A shared, read-write memory mapping of an mmapable BPF array map.
///
/// The mapping is unmapped on drop. It stays valid independently of the map's file
/// descriptor: the kernel keeps the map alive while a mapping of it exists.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; every access through it goes through raw
// pointers whose synchronisation is the caller's business (atomics for descriptors, a mutex
// around the code heap writer), so moving the owner between threads is sound.
unsafe impl Send for Mmap {}
// SAFETY: `Mmap` only hands out raw pointers; see `Send`.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of the map behind `fd`, readable and writable, shared with the kernel.
    pub(crate) fn map_shared(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh mapping at an address the kernel chooses cannot alias any Rust
        // object; the fd is valid for the duration of the call (it is borrowed).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mmap { ptr, len })
    }

    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping created in `map_shared`, and no
        // reference into it outlives `self` (the crate only keeps raw pointers derived from it
        // inside the owner of this `Mmap`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Whether `path` is on a BPF filesystem.
pub(crate) fn is_bpffs(path: &Path) -> io::Result<bool> {
    let c = c_path(path)?;
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated string and `st` a valid out-pointer.
    let ret = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_type as libc::c_long == BPF_FS_MAGIC)
}

/// Mounts a BPF filesystem at `path` (owner-only permissions).
pub(crate) fn mount_bpffs(path: &Path) -> io::Result<()> {
    let target = c_path(path)?;
    let source = c"bpf";
    let data = c"mode=0700";
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Moves the calling process into the mount namespace of `ns` (a `/proc/PID/ns/mnt` file).
/// Fails with `EINVAL` once the process has more than one thread.
pub(crate) fn enter_mount_ns(ns: &Path) -> io::Result<()> {
    let file = std::fs::File::open(ns)?;
    // SAFETY: `file` is an open namespace file for the duration of the call.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pins the BPF object behind `fd` (map, program or link) at `path` on a bpffs.
pub(crate) fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: `c` is a valid NUL-terminated path, `fd` a valid descriptor.
    let ret = unsafe { libbpf_sys::bpf_obj_pin(fd.as_raw_fd(), c.as_ptr()) };
    libbpf_ret(ret).map(drop)
}

/// Opens the BPF object pinned at `path`.
pub(crate) fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = c_path(path)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    let fd = libbpf_ret(unsafe { libbpf_sys::bpf_obj_get(c.as_ptr()) })?;
    // SAFETY: a non-negative return of `bpf_obj_get` is a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches the XDP program `prog` to `ifindex` through a BPF link; `flags` are
/// `XDP_FLAGS_*` mode bits. Closing the last reference to the link (fd and pins) detaches.
pub(crate) fn xdp_link_create(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero options struct is the documented "no options" value; `sz` is set
    // below so libbpf knows which fields we know of.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as libbpf_sys::size_t;
    opts.flags = flags;
    let target = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    // SAFETY: `prog` is a valid program descriptor and `opts` a valid, sized options struct.
    let fd = libbpf_ret(unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), target, libbpf_sys::BPF_XDP, &opts)
    })?;
    // SAFETY: a non-negative return of `bpf_link_create` is a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches the `sched_cls` program `prog` to `ifindex` at the tcx hook `attach_type`
/// (`BPF_TCX_INGRESS`/`BPF_TCX_EGRESS`) through a BPF link. `flags` place it among the hook's
/// other programs: `BPF_F_BEFORE` with no relative program puts it first, `BPF_F_AFTER` last.
/// libbpf-rs has no tcx attach: this is libbpf's `bpf_link_create` with its `tcx` options.
pub(crate) fn tcx_link_create(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    attach_type: libbpf_sys::bpf_attach_type,
    (flags, relative_id): (u32, u32),
) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero options struct is the documented "no options" value (no relative
    // program, any revision); `sz` is set below.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as libbpf_sys::size_t;
    opts.flags = flags;
    // With BPF_F_ID the relative program is named by its ID (0 otherwise: none).
    opts.__bindgen_anon_1.tcx.relative_id = relative_id;
    let target = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    // SAFETY: `prog` is a valid program descriptor and `opts` a valid, sized options struct.
    let fd = libbpf_ret(unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), target, attach_type, &opts)
    })?;
    // SAFETY: a non-negative return of `bpf_link_create` is a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The IDs of the programs attached to `ifindex` at the tcx hook `attach_type`, in the order
/// packets meet them (at most 64).
pub(crate) fn tcx_query(
    ifindex: u32,
    attach_type: libbpf_sys::bpf_attach_type,
) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    // SAFETY: an all-zero options struct is valid; `sz` is set below.
    let mut opts: libbpf_sys::bpf_prog_query_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_prog_query_opts>() as libbpf_sys::size_t;
    opts.prog_ids = ids.as_mut_ptr();
    opts.__bindgen_anon_1.count = ids.len() as u32;
    let target = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    // SAFETY: `opts` is a valid, sized struct whose `prog_ids` has room for `count` IDs for the
    // duration of the call.
    libbpf_ret(unsafe { libbpf_sys::bpf_prog_query_opts(target, attach_type, &mut opts) })?;
    // SAFETY: the kernel wrote the count into the union's `count`.
    let n = unsafe { opts.__bindgen_anon_1.count } as usize;
    Ok(ids[..n.min(ids.len())].to_vec())
}

/// The kernel's program type of `prog` (`BPF_PROG_TYPE_*`).
pub(crate) fn prog_type(prog: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: an all-zero `bpf_prog_info` is a valid value of this plain C struct.
    let mut info: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is valid for `len` bytes for the duration of the call.
    libbpf_ret(unsafe {
        libbpf_sys::bpf_prog_get_info_by_fd(prog.as_raw_fd(), &mut info, &mut len)
    })?;
    Ok(info.type_)
}

/// Makes the BPF link `link` run `new_prog` instead of `old_prog`, atomically for packets;
/// fails (EPERM) if the link does not run `old_prog` any more.
pub(crate) fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: BorrowedFd<'_>,
) -> io::Result<()> {
    // SAFETY: an all-zero options struct is the documented "no options" value; `sz` is set.
    let mut opts: libbpf_sys::bpf_link_update_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_update_opts>() as libbpf_sys::size_t;
    opts.flags = libbpf_sys::BPF_F_REPLACE;
    opts.old_prog_fd = old_prog.as_raw_fd() as u32;
    // SAFETY: all descriptors are valid for the call and `opts` is a valid, sized struct.
    libbpf_ret(unsafe {
        libbpf_sys::bpf_link_update(link.as_raw_fd(), new_prog.as_raw_fd(), &opts)
    })?;
    Ok(())
}

/// Makes `link` run `new_prog`, whatever it runs now (no `BPF_F_REPLACE` check): for
/// repairs after a crash, when which program a link runs is what is being found out.
pub(crate) fn link_update_any(link: BorrowedFd<'_>, new_prog: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: both descriptors are valid for the call; NULL options mean no flags.
    libbpf_ret(unsafe {
        libbpf_sys::bpf_link_update(link.as_raw_fd(), new_prog.as_raw_fd(), std::ptr::null())
    })?;
    Ok(())
}

/// Detaches `link` from its hook now (`BPF_LINK_DETACH`): the hook stops running it even while
/// other references keep the link itself alive, such as a pin whose removal the kernel
/// completes later (bpffs frees an unlinked inode after an RCU grace period).
pub(crate) fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the descriptor is valid for the call.
    libbpf_ret(unsafe { libbpf_sys::bpf_link_detach(link.as_raw_fd()) })?;
    Ok(())
}

/// The ID of the program a BPF link runs.
pub(crate) fn link_prog_id(link: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: an all-zero `bpf_link_info` is a valid value of this plain C struct.
    let mut info: libbpf_sys::bpf_link_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
    // SAFETY: `info` is valid for `len` bytes for the duration of the call.
    libbpf_ret(unsafe {
        libbpf_sys::bpf_link_get_info_by_fd(link.as_raw_fd(), &mut info, &mut len)
    })?;
    Ok(info.prog_id)
}

/// The ID of the XDP program attached to `ifindex` in any mode, or 0.
pub(crate) fn xdp_query_id(ifindex: u32) -> io::Result<u32> {
    let ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    let mut id = 0u32;
    // SAFETY: `id` is a valid out-pointer for the duration of the call.
    libbpf_ret(unsafe { libbpf_sys::bpf_xdp_query_id(ifindex, 0, &mut id) })?;
    Ok(id)
}

/// What `BPF_PROG_TEST_RUN` returned.
pub(crate) struct RawTestRun {
    pub(crate) retval: u32,
    pub(crate) data_size_out: usize,
    pub(crate) duration_ns: u32,
}

/// Runs `prog` once per `repeat` on `data_in` with `BPF_PROG_TEST_RUN`.
///
/// `data_out` receives the packet after the run (truncated to its length; the full length is
/// in the result). `ctx_in` is an optional context: a `struct xdp_md` for an XDP program, a
/// `struct __sk_buff` for a `sched_cls` one.
pub(crate) fn prog_test_run(
    prog: BorrowedFd<'_>,
    data_in: &[u8],
    data_out: &mut [u8],
    ctx_in: Option<&[u8]>,
    repeat: u32,
    flags: u32,
) -> io::Result<RawTestRun> {
    // SAFETY: an all-zero options struct is valid; `sz` is set below.
    let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as libbpf_sys::size_t;
    opts.data_in = data_in.as_ptr().cast::<c_void>();
    opts.data_size_in = data_in.len() as u32;
    // Live-frame runs refuse any output buffer, so an empty one is passed as null.
    if !data_out.is_empty() {
        opts.data_out = data_out.as_mut_ptr().cast::<c_void>();
        opts.data_size_out = data_out.len() as u32;
    }
    if let Some(ctx) = ctx_in {
        opts.ctx_in = ctx.as_ptr().cast::<c_void>();
        opts.ctx_size_in = ctx.len() as u32;
    }
    opts.repeat = repeat as libc::c_int;
    opts.flags = flags;
    // SAFETY: every buffer in `opts` points to memory that lives across the call with the
    // length given next to it; the kernel writes at most `data_size_out` bytes to `data_out`.
    let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    // ENOSPC means the output did not fit `data_out`; the kernel still copied what fitted and
    // reported the full size, which the caller checks.
    match libbpf_ret(ret) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {}
        Err(e) => return Err(e),
    }
    Ok(RawTestRun {
        retval: opts.retval,
        data_size_out: opts.data_size_out as usize,
        duration_ns: opts.duration,
    })
}

/// Gives the program a caller-owned verifier log buffer, so a failed load leaves the
/// verifier's log in `buf` (libbpf retries a failed load with log level 1 into it).
///
/// # Safety
///
/// `prog` must point to a live, not yet loaded `bpf_program`, and `buf` must stay alive and
/// unmoved until the object is loaded or closed.
pub(crate) unsafe fn set_log_buf(
    prog: NonNull<libbpf_sys::bpf_program>,
    buf: &mut [u8],
) -> io::Result<()> {
    // SAFETY: guaranteed by the caller (see above); libbpf only stores the pointer.
    let ret = unsafe {
        libbpf_sys::bpf_program__set_log_buf(
            prog.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len() as libbpf_sys::size_t,
        )
    };
    libbpf_ret(ret).map(drop)
}

/// Clears a map's pin path so that libbpf neither pins nor reuses a pin for it.
///
/// # Safety
///
/// `map` must point to a live `bpf_map` of an opened, not yet loaded object.
pub(crate) unsafe fn clear_pin_path(map: NonNull<libbpf_sys::bpf_map>) -> io::Result<()> {
    // SAFETY: guaranteed by the caller; a null path is libbpf's documented "no pin path".
    let ret = unsafe { libbpf_sys::bpf_map__set_pin_path(map.as_ptr(), std::ptr::null()) };
    libbpf_ret(ret).map(drop)
}

/// The CPUs the calling thread may run on.
pub(crate) fn get_affinity() -> io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid out-pointer of the size given; pid 0 is the calling thread.
    let ret =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

/// Restricts the calling thread to the CPUs in `set`.
pub(crate) fn set_affinity(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is a valid `cpu_set_t` of the size given; pid 0 is the calling thread.
    let ret = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A set holding only `cpu`.
pub(crate) fn single_cpu_set(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    assert!(
        cpu < libc::CPU_SETSIZE as usize,
        "cpu {cpu} is beyond a cpu_set_t"
    );
    // SAFETY: `cpu` is below `CPU_SETSIZE` (asserted), so the bit is inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set
}

/// The CPU the calling thread is running on now.
pub(crate) fn current_cpu() -> io::Result<usize> {
    // SAFETY: `sched_getcpu` has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).map_err(|_| io::Error::last_os_error())
}

/// The interface index of `name` in the current network namespace, if it exists.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name contains a NUL byte",
        )
    })?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(idx)
}

/// Whether libbpf would pin (and reuse a pin of) this map: it was declared
/// `LIBBPF_PIN_BY_NAME`.
///
/// # Safety
///
/// `map` must point to a live `bpf_map` of an opened object.
pub(crate) unsafe fn has_pin_path(map: NonNull<libbpf_sys::bpf_map>) -> bool {
    // SAFETY: guaranteed by the caller; the result is only compared with null.
    !unsafe { libbpf_sys::bpf_map__pin_path(map.as_ptr()) }.is_null()
}

/// The name the kernel gives program `id` (its first 15 bytes), or `None` when it is gone.
pub(crate) fn prog_name_by_id(id: u32) -> Option<String> {
    // SAFETY: plain syscall wrapper; a negative return is an error.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by the kernel and is owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is valid for `len` bytes for the duration of the call.
    let r = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    if r < 0 {
        return None;
    }
    let bytes: Vec<u8> = info
        .name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
