//! Pinning the calling thread to one CPU, so that a test run's per-CPU VM state can be read
//! back from the CPU that ran it (`BPF_PROG_TEST_RUN` runs XDP programs on the calling CPU).

use crate::{sys, Error, Result};

/// Keeps the calling thread on one CPU until dropped, then restores its previous CPU set.
///
/// Not `Send`: the affinity belongs to the thread that created the guard.
#[derive(Debug)]
pub struct CpuPin {
    cpu: usize,
    previous: libc::cpu_set_t,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl CpuPin {
    /// The CPU the thread is pinned to.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

impl Drop for CpuPin {
    fn drop(&mut self) {
        // Restoring can only fail if the previous set no longer has an online CPU; the thread
        // then stays where it is, which is harmless.
        let _ = sys::set_affinity(&self.previous);
    }
}

/// Pins the calling thread to `cpu` until the returned guard is dropped.
pub fn pin_thread_to_cpu(cpu: usize) -> Result<CpuPin> {
    let err = |source| Error::CpuAffinity { cpu, source };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(err(std::io::Error::from_raw_os_error(libc::EINVAL)));
    }
    let previous = sys::get_affinity().map_err(err)?;
    sys::set_affinity(&sys::single_cpu_set(cpu)).map_err(err)?;
    Ok(CpuPin {
        cpu,
        previous,
        _not_send: std::marker::PhantomData,
    })
}

/// Pins the calling thread to the CPU it is running on now, and returns the guard.
pub fn pin_thread_to_current_cpu() -> Result<CpuPin> {
    let cpu = sys::current_cpu().map_err(|source| Error::CpuAffinity {
        cpu: usize::MAX,
        source,
    })?;
    pin_thread_to_cpu(cpu)
}
