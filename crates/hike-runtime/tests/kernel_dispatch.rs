//! Kernel tests (root) of several scripts on one XDP hook, at the runtime's level
//! (`hike_runtime::dispatch`, `bpf/include/hike/dispatch.h`): test loaders in script slots,
//! chained per interface, packets run with `BPF_PROG_TEST_RUN` at a given ingress interface.
//! The verdict, and which loaders booted a chain (the VM's per-CPU packet count), show the
//! path. The daemon's end-to-end tests are `crates/eclatd/tests/multi.rs`.

mod support;

use hike_isa::abi::{dispatch_word, xdp};
use hike_runtime::{ChainId, Loader, TestRun, Vm};
use support::*;

/// The interface the packets say they came in on: the loopback device (a test run needs an
/// interface that exists); the second one is [`other`]'s.
const IF: u32 = 1;

/// Another interface: `veth0` of a fresh namespace, where the test runs.
fn other() -> u32 {
    hike_runtime::interface_index("veth0").expect("veth0")
}

/// A test loader booting chain 0 (`return 0`): its verdict is its default verdict `verdict`.
fn script(vm: &Vm, name: &str, verdict: u32) -> Loader {
    let l = vm
        .load_loader(name, test_loader(), "test_loader")
        .expect("load the test loader");
    hike_testkit::vm::set_verdicts(&l, verdict, xdp::ABORTED).expect("verdicts");
    boot(&l, 0, [0; 5]);
    l
}

/// Runs a packet through `first` at interface `ifindex`: the verdict, and how many chains were
/// booted (one per script that ran).
fn run(vm: &Vm, first: &Loader, ifindex: u32) -> (u32, u64) {
    let _pin = hike_runtime::pin_thread_to_current_cpu().expect("pin");
    let cpu = _pin.cpu();
    let before = vm.vm_state(cpu).unwrap().packets;
    let out = first
        .test_run_with(&TestRun {
            packet: &udp_packet(),
            repeat: 1,
            ingress_ifindex: ifindex,
            ..TestRun::default()
        })
        .expect("test run");
    (out.retval, vm.vm_state(cpu).unwrap().packets - before)
}

#[test]
fn kernel_scripts_run_in_order_and_a_verdict_proceeds_only_if_in_the_set() {
    let ns = NetnsGuard::new("hdsp");
    ns.run_in(scripts_in_order);
}

fn scripts_in_order() {
    let vm = fast_vm();
    vm.install_chain(ChainId::new(0).unwrap(), &ret(0), 0)
        .expect("chain 0");
    let a = script(&vm, "a", xdp::PASS);
    let b = script(&vm, "b", xdp::DROP);
    let c = script(&vm, "c", xdp::TX);
    for (slot, l) in [(0, &a), (1, &b), (2, &c)] {
        vm.set_script_slot(slot, l).unwrap();
    }
    // A single script: its verdict, one chain.
    assert_eq!(run(&vm, &a, IF), (xdp::PASS, 1));
    // a (pass proceeds) → b (drop ends it).
    let pass = 1 << xdp::PASS;
    a.set_dispatch(dispatch_word(pass, 0)).unwrap();
    vm.set_next_script(IF, 0, Some(1)).unwrap();
    vm.set_next_script(IF, 1, Some(2)).unwrap();
    assert_eq!(run(&vm, &a, IF), (xdp::DROP, 2));
    // b proceeds on drop: c's verdict.
    b.set_dispatch(dispatch_word(1 << xdp::DROP, 1)).unwrap();
    assert_eq!(run(&vm, &a, IF), (xdp::TX, 3));
    // Another interface has no next entry: a's verdict stands.
    assert_eq!(run(&vm, &a, other()), (xdp::PASS, 1));
    // An empty slot (a script being removed): the verdict stands.
    vm.clear_script_slot(1).unwrap();
    assert_eq!(run(&vm, &a, IF), (xdp::PASS, 1));
    // Back, and b moved in front of a by a new entry: the order is the table's.
    vm.set_script_slot(1, &b).unwrap();
    vm.set_next_script(IF, 1, Some(0)).unwrap();
    vm.set_next_script(IF, 0, None).unwrap();
    assert_eq!(run(&vm, &b, IF), (xdp::PASS, 2));
    assert_eq!(
        vm.next_scripts().unwrap().len(),
        1,
        "{:?}",
        vm.next_scripts()
    );
    assert!(vm.set_script_slot(256, &a).is_err(), "slots are 0..256");
}

#[test]
fn kernel_a_terminal_programs_verdict_proceeds_from_the_program() {
    let vm = fast_vm();
    vm.load_program(
        test_progs(),
        "test_verdict",
        hike_runtime::ProgramId::new(0).unwrap(),
    )
    .expect("test_verdict");
    // Chain 1: test_verdict(XDP_DROP) ends the packet from its own program.
    vm.install_chain(
        ChainId::new(1).unwrap(),
        &[mov(1, xdp::DROP as i32), call_prog(0), exit()],
        0,
    )
    .expect("chain 1");
    vm.install_chain(ChainId::new(0).unwrap(), &ret(0), 0)
        .expect("chain 0");
    let a = script(&vm, "a", xdp::PASS);
    boot(&a, 1, [0; 5]);
    let b = script(&vm, "b", xdp::PASS);
    vm.set_script_slot(0, &a).unwrap();
    vm.set_script_slot(1, &b).unwrap();
    vm.set_next_script(IF, 0, Some(1)).unwrap();
    a.set_dispatch(dispatch_word(1 << xdp::PASS, 0)).unwrap();
    assert_eq!(run(&vm, &a, IF), (xdp::DROP, 1), "drop does not proceed");
    a.set_dispatch(dispatch_word(1 << xdp::DROP, 0)).unwrap();
    assert_eq!(run(&vm, &a, IF), (xdp::PASS, 2), "from test_verdict to b");
}
