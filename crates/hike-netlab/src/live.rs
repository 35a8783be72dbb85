//! Live frames: an XDP program run with `BPF_PROG_TEST_RUN` and `BPF_F_TEST_XDP_LIVE_FRAMES`,
//! whose `XDP_TX` really sends the frame out of a veth; and the probe that tells whether this
//! kernel allows it (some builds refuse the flag with `EPERM`, for root too).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::OnceLock;

use libbpf_rs::libbpf_sys;

use crate::error::{Error, Result};
use crate::traffic::{TrafficObject, TrafficProgram, FRAME_LEN};

/// Runs the XDP program `prog` `repeat` times on `frame` with `BPF_F_TEST_XDP_LIVE_FRAMES`,
/// as received on `ifindex` of the calling thread's network namespace: the program's
/// `XDP_TX` and `XDP_REDIRECT` really send the frames.
pub fn live_frames(prog: BorrowedFd<'_>, frame: &[u8], repeat: u32, ifindex: u32) -> Result<()> {
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
    let mut ctx: Vec<u8> = [0, frame.len() as u32, 0, ifindex, 0, 0]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect();
    // SAFETY: an all-zero options struct is valid; `sz` is set below.
    let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as libbpf_sys::size_t;
    opts.data_in = frame.as_ptr().cast();
    opts.data_size_in = frame.len() as u32;
    opts.ctx_in = ctx.as_mut_ptr().cast();
    opts.ctx_size_in = ctx.len() as u32;
    opts.repeat = repeat as i32;
    opts.flags = libbpf_sys::BPF_F_TEST_XDP_LIVE_FRAMES;
    // SAFETY: every pointer in `opts` is valid for the sizes given, for the whole call.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if rc != 0 {
        return Err(Error::LiveFrames {
            ifindex,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Whether this kernel runs XDP programs with live frames: `Ok(())`, or why not (the error of
/// a one-frame run). Probed once per process, with a program that drops the frame
/// (`bench_sink`) on the loopback interface of the calling thread's namespace, so nothing is
/// sent.
pub fn live_frames_allowed() -> Result<(), String> {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    PROBED
        .get_or_init(|| {
            let probe = || -> Result<()> {
                let object = TrafficObject::load()?;
                let drop = object.program_fd(TrafficProgram::Sink)?;
                // The loopback interface is ifindex 1 in every namespace.
                live_frames(drop.as_fd(), &[0; FRAME_LEN], 1, 1)
            };
            probe().map_err(|e| crate::error::chain(&e))
        })
        .clone()
}
