//! The hook the kernel tests run their VMs at, and the VM's verdict of a run at either.
//!
//! The objects are built once per context (`hike_bpf::Context`): a [`PrivateVm`](crate::PrivateVm)
//! loads the build of [`test_context`] unless told otherwise, so that the same tests check
//! every standard program and loader, and the VM, at XDP and at TC. `HIKE_TEST_HOOK`
//! (`xdp`, `tc_ingress` or `tc_egress`; `xdp` when unset) chooses, for a whole test run:
//! `make test` runs the VM's and the standard library's tests once more with `tc_ingress`.
//! A test run reports the hook's return value; [`vm_verdict`] gives the VM's verdict (XDP's
//! numbers) whichever the hook, and checks that the TC action is its mapping.

use hike_bpf::Context;
use hike_isa::abi::{xdp, VmState};
use hike_runtime::{Hook, TestRunResult, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT};

/// The variable that chooses the hook of the kernel tests.
pub const HOOK_ENV: &str = "HIKE_TEST_HOOK";

/// The hook of this test run (`HIKE_TEST_HOOK`; XDP when unset). Panics on a value that is no
/// hook, naming the hooks.
pub fn test_hook() -> Hook {
    match std::env::var(HOOK_ENV) {
        Ok(v) => v.parse().unwrap_or_else(|e| panic!("{HOOK_ENV}={v}: {e}")),
        Err(_) => Hook::Xdp,
    }
}

/// The object context of [`test_hook`].
pub fn test_context() -> Context {
    context_of(test_hook())
}

/// The object context a hook needs.
pub fn context_of(hook: Hook) -> Context {
    match hook {
        Hook::Xdp => Context::Xdp,
        Hook::TcIngress | Hook::TcEgress => Context::Tc,
    }
}

/// The TC action the loader returns for the VM's `verdict` (`bpf/include/hike/ctx.h`), for a
/// packet at an interface's ingress (`at_ingress`; a test run's always is: the runtime puts
/// it at the loopback device's when no interface is given) or not.
pub fn tc_action(verdict: u32, at_ingress: bool) -> u32 {
    match verdict {
        xdp::PASS => TC_ACT_OK,
        xdp::REDIRECT => TC_ACT_REDIRECT,
        xdp::TX if at_ingress => TC_ACT_REDIRECT,
        xdp::TX => TC_ACT_OK,
        _ => TC_ACT_SHOT,
    }
}

/// The VM's verdict of a test run, in XDP's numbers. At XDP it is what the loader returned.
/// At TC it is the verdict the VM recorded in `st` when the loader started a chain
/// (`booted`), after checking that the loader returned its TC action (panics otherwise); a
/// packet no chain started for is read back from the action (`TC_ACT_SHOT` as a drop).
pub fn vm_verdict(run: &TestRunResult, st: &VmState, booted: bool, at_ingress: bool) -> u32 {
    if run.context == hike_runtime::ProgContext::Xdp {
        return run.retval;
    }
    if booted {
        assert_eq!(
            run.retval,
            tc_action(st.verdict, at_ingress),
            "the TC loader's action is the mapping of the VM's verdict {}",
            st.verdict
        );
        return st.verdict;
    }
    match run.retval {
        TC_ACT_OK => xdp::PASS,
        TC_ACT_REDIRECT => xdp::REDIRECT,
        _ => xdp::DROP,
    }
}

/// Whether the kernel's skb test run (a TC loader's `BPF_PROG_TEST_RUN`) takes `frame`: it
/// refuses (EINVAL) an IPv4 or IPv6 frame whose fixed IP header is cut short, which the XDP
/// test run takes. Such a frame can reach a TC hook on the wire; the loader parses it with the
/// same bounds checks as at XDP (one source), which the XDP tests check.
pub fn skb_test_run_takes(frame: &[u8]) -> bool {
    let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match ethertype {
        Some(0x0800) => frame.len() >= 14 + 20,
        Some(0x86dd) => frame.len() >= 14 + 40,
        _ => frame.len() >= 14,
    }
}
