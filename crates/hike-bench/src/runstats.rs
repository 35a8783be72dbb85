//! The kernel's run-time statistics of BPF programs (`BPF_ENABLE_STATS`): how many times a
//! program ran and for how long in all, counted only while some process holds them on.
//!
//! The pps measurement uses them to split the router's time per frame into the XDP program
//! attached to its ingress (with every program it tail-calls: the kernel times the entry
//! program's whole run) and the rest of the forwarding path. Counting costs two clock reads per
//! run, so a pps window that counts frames never runs with them on. Not a profiler: one
//! program's totals, nothing per instruction.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use libbpf_rs::libbpf_sys;

/// Keeps the statistics on while alive (the kernel turns them off when the last holder closes
/// its descriptor).
#[derive(Debug)]
pub struct RunTimeStats {
    _on: OwnedFd,
}

impl RunTimeStats {
    /// Turns the statistics on.
    pub fn enable() -> Result<RunTimeStats> {
        // SAFETY: a plain syscall wrapper; it returns a new descriptor or a negative errno.
        let rc = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
        let on = owned_fd(rc)
            .context("turn on the kernel's BPF run-time statistics (BPF_ENABLE_STATS)")?;
        Ok(RunTimeStats { _on: on })
    }
}

/// A program's run count and total run time so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgRuns {
    /// Runs counted.
    pub count: u64,
    /// Nanoseconds spent in them.
    pub ns: u64,
}

impl ProgRuns {
    /// The totals of the program behind `fd`.
    pub fn of_fd(fd: BorrowedFd<'_>) -> Result<ProgRuns> {
        let info = prog_info(fd)?;
        Ok(ProgRuns {
            count: info.run_cnt,
            ns: info.run_time_ns,
        })
    }

    /// The totals of the program with kernel ID `id`.
    pub fn of_id(id: u32) -> Result<ProgRuns> {
        // SAFETY: a plain syscall wrapper; it returns a new descriptor or a negative errno.
        let rc = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
        let fd = owned_fd(rc).with_context(|| format!("open BPF program {id}"))?;
        ProgRuns::of_fd(fd.as_fd())
    }

    /// Nanoseconds per run between `earlier` and `self`; `None` if the program did not run.
    pub fn ns_per_run_since(&self, earlier: &ProgRuns) -> Option<f64> {
        let runs = self.count.checked_sub(earlier.count)?;
        let ns = self.ns.checked_sub(earlier.ns)?;
        (runs > 0).then(|| ns as f64 / runs as f64)
    }
}

/// A loaded program's size after verification: what runs per packet is a path through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgSize {
    /// eBPF instructions as the verifier left them (map lookups inlined, dead code removed).
    pub xlated_insns: u32,
    /// Bytes of machine code from the JIT.
    pub jited_bytes: u32,
}

impl ProgSize {
    /// The size of the program with kernel ID `id`.
    pub fn of_id(id: u32) -> Result<ProgSize> {
        // SAFETY: a plain syscall wrapper; it returns a new descriptor or a negative errno.
        let rc = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
        let fd = owned_fd(rc).with_context(|| format!("open BPF program {id}"))?;
        let info = prog_info(fd.as_fd())?;
        Ok(ProgSize {
            xlated_insns: info.xlated_prog_len / 8,
            jited_bytes: info.jited_prog_len,
        })
    }
}

/// The kernel ID of the program behind `fd`.
pub fn prog_id(fd: BorrowedFd<'_>) -> Result<u32> {
    Ok(prog_info(fd)?.id)
}

fn prog_info(fd: BorrowedFd<'_>) -> Result<libbpf_sys::bpf_prog_info> {
    // SAFETY: bpf_prog_info is plain old data; all-zero is its "nothing requested" value.
    let mut info: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` and `len` are valid for writes and `len` is the size of `info`.
    let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    errno(rc).context("read a BPF program's information (BPF_OBJ_GET_INFO_BY_FD)")?;
    Ok(info)
}

/// A libbpf return code: a negative errno, or 0 and more for success.
fn errno(rc: i32) -> std::io::Result<i32> {
    if rc < 0 {
        Err(std::io::Error::from_raw_os_error(-rc))
    } else {
        Ok(rc)
    }
}

/// A new descriptor returned by libbpf (or its negative errno), owned from now on.
fn owned_fd(rc: i32) -> std::io::Result<OwnedFd> {
    let fd = errno(rc)?;
    // SAFETY: `fd` was just returned to us and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::ProgRuns;

    #[test]
    fn ns_per_run_is_the_difference_of_the_totals() {
        let a = ProgRuns {
            count: 10,
            ns: 1000,
        };
        let b = ProgRuns {
            count: 110,
            ns: 6000,
        };
        assert_eq!(b.ns_per_run_since(&a), Some(50.0));
    }

    #[test]
    fn no_run_in_between_has_no_figure() {
        let a = ProgRuns {
            count: 10,
            ns: 1000,
        };
        assert_eq!(a.ns_per_run_since(&a), None);
        let reset = ProgRuns::default();
        assert_eq!(reset.ns_per_run_since(&a), None);
    }
}
