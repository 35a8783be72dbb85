//! Threads of a lab: CPUs, priorities, CPU time, and the kernel's NAPI threads.

use crate::error::{Error, Result};

/// The nice value of the threads that move a lab's traffic (a generator, a router's receive
/// thread): other work on the machine (a build, say) then takes little of their CPU.
pub const TRAFFIC_NICE: i32 = -20;

/// Gives thread `tid` (0: the calling thread) the nice value [`TRAFFIC_NICE`].
pub fn raise_priority(tid: i32) -> Result<()> {
    // SAFETY: setpriority has no memory-safety preconditions; `tid` names a thread (Linux nice
    // values are per thread).
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, TRAFFIC_NICE) };
    if rc != 0 {
        return Err(Error::Priority {
            tid,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// The CPU time thread `tid` has used, in nanoseconds (`/proc/<tid>/schedstat`; this kernel
/// accounts the softirqs a thread runs to it); 0 if it is gone.
pub fn thread_runtime_ns(tid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Thread IDs whose name starts with `prefix` (kernel threads are processes in `/proc`).
pub fn threads_named(prefix: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        comm.starts_with(prefix).then_some(pid)
    })
    .collect()
}

/// Pins thread `tid` (any thread of the system, kernel threads included) to `cpu`.
pub fn pin_tid(tid: i32, cpu: usize) -> Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(Error::Affinity {
            tid,
            cpu,
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it (cpu is checked).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(Error::Affinity {
            tid,
            cpu,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-1`); empty if unreadable.
pub fn online_cpus() -> Vec<usize> {
    let Ok(text) = std::fs::read_to_string("/sys/devices/system/cpu/online") else {
        return Vec::new();
    };
    parse_cpu_list(text.trim())
}

/// Parses a kernel CPU list (`0-3,5`).
fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
            cpus.extend(a..=b);
        }
    }
    cpus
}

/// Makes the calling thread's sleeps end within a microsecond or so of their time (timer
/// slack of 1 ns instead of the default 50 µs), for a sender paced in microseconds. Best
/// effort: a refusal only makes the pace coarser.
pub fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-1"), [0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7"), [0, 2, 3, 4, 7]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }
}
