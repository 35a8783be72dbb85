//! Kernel tests (root): loaders at the TC hooks through tcx links, in a fresh network
//! namespace with a veth pair, beside another tool's tcx program (`netlab_tc_count`, loaded
//! here with libbpf-rs: it counts packets and lets the next program decide). Frames are sent
//! through an AF_PACKET socket (through the qdisc layer, so egress programs see them), and
//! counted by the VM (packets booted) and by the foreign program.

mod support;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use hike_bpf::Context;
use hike_isa::abi::xdp;
use hike_runtime::{
    tc_programs, Attachment, Error, Hook, Loader, ProgContext, TcPlacement, Vm, XdpMode,
};
use hike_testkit::foreign::ForeignTcx;
use libbpf_rs::libbpf_sys;
use support::*;

fn tc_test_loader() -> &'static [u8] {
    hike_bpf::test::object_for("test_loader", Context::Tc).expect("the TC test loader is built")
}

/// A TC test loader whose chain 0 returns, which gives the loader's default verdict `verdict`.
fn tc_loader(vm: &Vm, name: &str, verdict: u32) -> Loader {
    let loader = vm
        .load_loader(name, tc_test_loader(), "test_loader")
        .expect("load the TC test loader");
    assert_eq!(loader.context(), ProgContext::Tc);
    hike_testkit::vm::set_verdicts(&loader, verdict, verdict).expect("set the verdicts");
    vm.install_chain(hike_runtime::ChainId::new(0).unwrap(), &ret(0), 0)
        .expect("install chain 0");
    boot(&loader, 0, [0; 5]);
    loader
}

/// Sends `n` frames out of `ifindex` through an AF_PACKET socket (through the qdisc layer:
/// the interface's egress hook sees them, its veth peer's ingress hook then too).
fn send(ifindex: u32, n: usize) {
    let frame = udp_packet();
    // SAFETY: plain socket calls with valid arguments; the fd is closed by OwnedFd.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        for _ in 0..n {
            let rc = libc::sendto(
                fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            // A drop at the egress hook comes back to the sender as ENOBUFS.
            let err = std::io::Error::last_os_error();
            assert!(
                rc == frame.len() as isize || err.raw_os_error() == Some(libc::ENOBUFS),
                "{err}"
            );
        }
    }
}

/// Packets the VM booted, on every CPU.
fn vm_packets(vm: &Vm) -> u64 {
    (0..vm.num_cpus())
        .map(|cpu| vm.vm_state(cpu).expect("state").packets)
        .sum()
}

/// Waits (bounded) until `f` returns `want`: delivery to a veth peer's ingress runs in a
/// softirq after the send returns. Returns the last value.
fn settle(want: u64, f: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = f();
        if v >= want || Instant::now() > deadline {
            return v;
        }
        std::thread::yield_now();
    }
}

#[test]
fn kernel_tc_loader_runs_first_or_last_beside_a_foreign_tcx_program() {
    let ns = NetnsGuard::new("htc");
    let vm = fast_vm();
    let loader = tc_loader(&vm, "edge", xdp::DROP);
    ns.run_in(|| {
        let veth0 = hike_runtime::interface_index("veth0").unwrap();
        let veth1 = hike_runtime::interface_index("veth1").unwrap();
        let foreign = ForeignTcx::attach(veth0, Hook::TcIngress, libbpf_sys::BPF_F_AFTER);

        // First: ours drops every packet before the foreign program sees it.
        loader
            .attach_tc(veth0, Hook::TcIngress, TcPlacement::First)
            .expect("attach first");
        assert_eq!(
            tc_programs(veth0, Hook::TcIngress).unwrap(),
            vec![loader.kernel_id(), foreign.id]
        );
        let (vm0, f0) = (vm_packets(&vm), foreign.count());
        send(veth1, 5);
        assert!(settle(vm0 + 5, || vm_packets(&vm)) >= vm0 + 5, "ours ran");
        assert_eq!(
            foreign.count(),
            f0,
            "ours dropped before the foreign program"
        );

        // Last: the foreign program counts, then ours drops.
        loader
            .detach(Attachment {
                ifindex: veth0,
                hook: Hook::TcIngress,
            })
            .expect("detach");
        assert_eq!(
            tc_programs(veth0, Hook::TcIngress).unwrap(),
            vec![foreign.id],
            "the foreign program is kept"
        );
        loader
            .attach_tc(veth0, Hook::TcIngress, TcPlacement::Last)
            .expect("attach last");
        assert_eq!(
            tc_programs(veth0, Hook::TcIngress).unwrap(),
            vec![foreign.id, loader.kernel_id()]
        );
        let (vm0, f0) = (vm_packets(&vm), foreign.count());
        send(veth1, 5);
        // At least: the host's own IPv6 chatter on the veth may add packets.
        assert!(settle(f0 + 5, || foreign.count()) >= f0 + 5, "foreign ran");
        assert!(settle(vm0 + 5, || vm_packets(&vm)) >= vm0 + 5, "ours ran");

        // Egress: frames leaving veth0 meet the loader there.
        loader
            .attach_tc(veth0, Hook::TcEgress, TcPlacement::First)
            .expect("attach at egress");
        let vm0 = vm_packets(&vm);
        send(veth0, 3);
        assert!(settle(vm0 + 3, || vm_packets(&vm)) >= vm0 + 3, "egress ran");
        assert_eq!(loader.attachments().len(), 2);

        // Dropping a private loader detaches it; the foreign program stays.
        drop(loader);
        assert_eq!(
            tc_programs(veth0, Hook::TcIngress).unwrap(),
            vec![foreign.id]
        );
        assert!(tc_programs(veth0, Hook::TcEgress).unwrap().is_empty());
        let f0 = foreign.count();
        send(veth1, 2);
        assert!(settle(f0 + 2, || foreign.count()) >= f0 + 2);
        drop(foreign);
    });
}

#[test]
fn kernel_a_loader_attaches_only_at_the_hooks_of_its_context() {
    let ns = NetnsGuard::new("htc");
    let vm = fast_vm();
    let xdp_loader = vm
        .load_loader("x", test_loader(), "test_loader")
        .expect("load");
    let tc = tc_loader(&vm, "t", xdp::PASS);
    ns.run_in(|| {
        let veth0 = hike_runtime::interface_index("veth0").unwrap();
        let err = xdp_loader
            .attach_tc(veth0, Hook::TcEgress, TcPlacement::First)
            .unwrap_err();
        assert!(matches!(err, Error::WrongContext { .. }), "{err:?}");
        assert!(err.to_string().contains("tc_egress"), "{err}");
        let err = tc.attach_xdp(veth0, XdpMode::Native).unwrap_err();
        assert!(matches!(err, Error::WrongContext { .. }), "{err:?}");
        let err = tc
            .attach_tc(veth0, Hook::Xdp, TcPlacement::Last)
            .unwrap_err();
        assert!(matches!(err, Error::NotTcHook { .. }), "{err:?}");
        tc.attach_tc(veth0, Hook::TcIngress, TcPlacement::First)
            .unwrap();
        let again = tc
            .attach_tc(veth0, Hook::TcIngress, TcPlacement::First)
            .unwrap_err();
        assert!(matches!(again, Error::AlreadyAttached { .. }), "{again}");
    });
}

#[test]
fn kernel_pinned_tc_attachment_is_taken_over_in_place_reopened_and_reclaimed() {
    let ns = NetnsGuard::new("htc");
    let guard = InstanceGuard::new("rt_tcx");
    let vm = Vm::create_pinned(&guard.name).expect("create the pinned instance");
    let old = tc_loader(&vm, "old", xdp::PASS);
    let new = tc_loader(&vm, "new", xdp::DROP);
    let (veth0, foreign) = ns.run_in(|| {
        let veth0 = hike_runtime::interface_index("veth0").unwrap();
        old.attach_tc(veth0, Hook::TcIngress, TcPlacement::Last)
            .unwrap();
        // A foreign program after ours: the take-over keeps ours in front of it.
        let foreign = ForeignTcx::attach(veth0, Hook::TcIngress, libbpf_sys::BPF_F_AFTER);
        (veth0, foreign)
    });
    let at = Attachment {
        ifindex: veth0,
        hook: Hook::TcIngress,
    };
    new.take_over(&old, at).expect("take over");
    assert_eq!(
        ns.run_in(|| tc_programs(veth0, Hook::TcIngress).unwrap()),
        vec![new.kernel_id(), foreign.id],
        "the new loader runs in the old one's place"
    );
    assert!(old.attachments().is_empty());
    let (vm0, f0) = (vm_packets(&vm), foreign.count());
    ns.run_in(|| send(hike_runtime::interface_index("veth1").unwrap(), 3));
    assert!(
        settle(vm0 + 3, || vm_packets(&vm)) >= vm0 + 3,
        "the new loader ran"
    );
    assert_eq!(
        foreign.count(),
        f0,
        "the new loader drops before the foreign one"
    );

    // Reopened from the pins: the TC link is found again, under the new loader.
    drop((old, new));
    drop(vm);
    let vm = Vm::open_pinned(&guard.name).expect("adopt");
    let old = vm.open_loader("old").unwrap();
    let new = vm.open_loader("new").unwrap();
    assert_eq!(new.attachments(), vec![at]);
    assert_eq!(new.context(), ProgContext::Tc);
    // A restart rolls the switch back.
    old.reclaim(&new, at).expect("reclaim");
    assert_eq!(old.attachments(), vec![at]);
    assert!(new.attachments().is_empty());
    assert_eq!(
        ns.run_in(|| tc_programs(veth0, Hook::TcIngress).unwrap()),
        vec![old.kernel_id(), foreign.id]
    );
    old.remove().unwrap();
    new.remove().unwrap();
    assert_eq!(
        ns.run_in(|| tc_programs(veth0, Hook::TcIngress).unwrap()),
        vec![foreign.id],
        "removing the loader detaches it, the foreign program stays"
    );
    vm.destroy().unwrap();
}

/// Several scripts at one TC hook: the kernel's tcx order is the dispatch. A loader whose
/// verdict is in its proceed-on set returns TCX_NEXT and the hook's next program (here
/// another tool's) sees the packet; outside the set its verdict ends the packet there.
#[test]
fn kernel_a_tc_verdict_that_proceeds_goes_on_to_the_hooks_next_program() {
    let ns = NetnsGuard::new("htc");
    let vm = fast_vm();
    let loader = tc_loader(&vm, "first", xdp::PASS);
    ns.run_in(|| {
        let veth0 = hike_runtime::interface_index("veth0").unwrap();
        let veth1 = hike_runtime::interface_index("veth1").unwrap();
        let foreign = ForeignTcx::attach(veth0, Hook::TcIngress, libbpf_sys::BPF_F_AFTER);
        loader
            .attach_tc(veth0, Hook::TcIngress, TcPlacement::First)
            .expect("attach first");
        // Pass proceeds: the foreign program after ours counts every packet.
        loader
            .set_dispatch(hike_isa::abi::dispatch_word(1 << xdp::PASS, 0))
            .unwrap();
        let (vm0, f0) = (vm_packets(&vm), foreign.count());
        send(veth1, 5);
        assert!(settle(vm0 + 5, || vm_packets(&vm)) >= vm0 + 5, "ours ran");
        assert!(
            settle(f0 + 5, || foreign.count()) >= f0 + 5,
            "then the next"
        );
        // Nothing proceeds: ours passes (TC_ACT_OK), which ends the hook's programs.
        loader.set_dispatch(0).unwrap();
        let (vm0, f0) = (vm_packets(&vm), foreign.count());
        send(veth1, 5);
        assert!(settle(vm0 + 5, || vm_packets(&vm)) >= vm0 + 5, "ours ran");
        assert_eq!(foreign.count(), f0, "the hook's next program was not run");
        drop(foreign);
    });
}
