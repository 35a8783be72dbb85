//! That pins outlive the process: the BPF filesystem at a path, in the host's mount
//! namespace, and one process per pinned instance.
//!
//! A bpffs mount is a filesystem of its own: pins live as long as some mount of it does. A
//! process in a private mount namespace that mounts a fresh bpffs keeps its pins in a
//! filesystem that dies with that namespace, when its last process exits. `ip netns exec` is
//! the common way in: it gives its command a private mount namespace with a fresh `/sys`
//! where `/sys/fs/bpf` is not mounted (`nsenter --net` enters the network namespace only, and
//! keeps the host's mounts). So a bpffs is mounted only in the host's mount namespace; a
//! process elsewhere either finds one already there, or enters the host's mount namespace
//! where one is ([`prepare`], before it starts threads), or is refused.
//!
//! The host's mount namespace is that of process 1, or of the kernel thread `kthreadd`
//! (process 2) where process 1 cannot be inspected (it may hold capabilities we lack):
//! kernel threads live in the initial namespaces.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::{pin, sys, Error, Result};

/// Where the pins of a prepared bpffs path live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BpffsSource {
    /// A BPF filesystem was mounted there already.
    Mounted,
    /// None was, in the host's mount namespace: one was mounted (it stays after the process).
    MountedNow,
    /// None was in this private mount namespace: the process entered the host's mount
    /// namespace (that of `host`, a `/proc/PID` path), where one is mounted there.
    EnteredHost {
        /// The process whose mount namespace was entered.
        host: PathBuf,
    },
}

/// Whether the process may move itself into the host's mount namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enter {
    /// It may (it is single-threaded, and absolute paths mean the same there).
    Allowed,
    /// It may not: a private namespace without a bpffs is an error.
    Never,
}

/// The host's mount namespace: `(its /proc/PID directory, its namespace ID)`, or `None` when
/// neither process 1 nor `kthreadd` can be inspected.
fn host_mount_ns() -> Option<(PathBuf, String)> {
    let kthreadd = fs::read_to_string("/proc/2/comm").is_ok_and(|c| c.trim() == "kthreadd");
    ["/proc/1", "/proc/2"]
        .into_iter()
        .filter(|p| *p == "/proc/1" || kthreadd)
        .find_map(|p| {
            let ns = fs::read_link(Path::new(p).join("ns/mnt")).ok()?;
            Some((PathBuf::from(p), ns.to_string_lossy().into_owned()))
        })
}

fn own_mount_ns() -> Option<String> {
    fs::read_link("/proc/self/ns/mnt")
        .ok()
        .map(|ns| ns.to_string_lossy().into_owned())
}

/// Makes sure `root` is a BPF filesystem whose pins outlive the process (see the module
/// docs): one already mounted; else, in the host's mount namespace, a new mount; else, with
/// [`Enter::Allowed`], the host's, by entering its mount namespace (call this before the
/// process starts threads: a multi-threaded process cannot change mount namespace, and
/// relative paths would then resolve from the host's root). Anything else is
/// [`Error::PrivateBpffs`].
pub fn prepare(root: &Path, enter: Enter) -> Result<BpffsSource> {
    // Two threads that both find no bpffs would both mount one, stacking mounts.
    static MOUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = MOUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let mount_err = |source| Error::MountBpffs {
        path: root.to_owned(),
        source,
    };
    match sys::is_bpffs(root) {
        Ok(true) => return Ok(BpffsSource::Mounted),
        Ok(false) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(mount_err(e)),
    }
    let private = |why: String| Error::PrivateBpffs {
        path: root.to_owned(),
        why,
    };
    let Some((host, host_ns)) = host_mount_ns() else {
        return Err(private(
            "the host's mount namespace cannot be inspected (neither /proc/1 nor kthreadd)"
                .to_owned(),
        ));
    };
    if own_mount_ns().as_deref() == Some(host_ns.as_str()) {
        if !root.exists() {
            fs::create_dir_all(root).map_err(mount_err)?;
        }
        sys::mount_bpffs(root).map_err(mount_err)?;
        return Ok(BpffsSource::MountedNow);
    }
    let relative = root.strip_prefix("/").unwrap_or(root);
    let host_has_bpffs = sys::is_bpffs(&host.join("root").join(relative)).unwrap_or(false);
    if !host_has_bpffs {
        return Err(private(format!(
            "the host's mount namespace has no BPF filesystem at `{}` either",
            root.display()
        )));
    }
    if enter == Enter::Never {
        return Err(private(
            "the host's has one, but this process does not enter other mount namespaces".to_owned(),
        ));
    }
    let cwd = std::env::current_dir().ok();
    sys::enter_mount_ns(&host.join("ns/mnt")).map_err(|e| {
        private(format!(
            "the host's has one, but entering its mount namespace failed: {e}"
        ))
    })?;
    if let Some(cwd) = cwd {
        // The same directory in the host's view, where it exists (it does for anything but
        // the private /sys).
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(BpffsSource::EnteredHost { host })
}

/// The exclusive hold of a pinned instance by this process (an `flock` on its directory),
/// released when dropped or when the process dies.
#[derive(Debug)]
pub struct InstanceLock {
    _dir: OwnedFd,
}

/// Takes the pinned instance `instance` of the bpffs at `bpffs` for this process: creates
/// its (empty) directory if there is none, and locks it. A second process gets
/// [`Error::InstanceLocked`], with the first one's PID when `/proc/locks` tells it.
pub fn lock_instance(bpffs: &Path, instance: &str) -> Result<InstanceLock> {
    pin::check_name(instance)?;
    let hike_dir = bpffs.join(pin::HIKE_DIR);
    pin::create_dir(&hike_dir)?;
    let dir = hike_dir.join(instance);
    pin::create_dir(&dir)?;
    let open_err = |source| Error::Pin {
        op: "open",
        path: dir.clone(),
        source,
    };
    let file = fs::File::open(&dir).map_err(open_err)?;
    let fd = OwnedFd::from(file);
    // SAFETY: `fd` is a valid open descriptor for the duration of the call.
    let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let pid = fs::metadata(&dir)
                .ok()
                .and_then(|m| lock_holder(m.dev(), m.ino()));
            return Err(Error::InstanceLocked {
                name: instance.to_owned(),
                path: dir,
                pid,
            });
        }
        return Err(open_err(e));
    }
    Ok(InstanceLock { _dir: fd })
}

/// The PID holding an `flock` on the inode `ino` of device `dev`, from `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 00:28:70772 0 EOF`).
fn lock_holder(dev: u64, ino: u64) -> Option<u32> {
    let want = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
    fs::read_to_string("/proc/locks")
        .ok()?
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let i = fields.iter().position(|f| *f == "FLOCK")?;
            let pid = fields.get(i + 3)?.parse().ok()?;
            (fields.get(i + 4)? == &want).then_some(pid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_sees_a_host_mount_namespace() {
        // Tests run in the host's mount namespace (or a container's, whose process 1 we
        // can read): either way one is found.
        assert!(host_mount_ns().is_some());
        assert!(own_mount_ns().is_some());
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("hike-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let first = lock_instance(&dir, "inst").expect("first");
        let e = lock_instance(&dir, "inst").unwrap_err();
        match &e {
            Error::InstanceLocked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("{other}"),
        }
        assert!(
            e.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        lock_instance(&dir, "inst").expect("free again");
        fs::remove_dir_all(&dir).unwrap();
    }
}
