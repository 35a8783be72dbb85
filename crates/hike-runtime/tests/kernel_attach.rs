//! Kernel tests (root): attaching loaders to a veth in a fresh network namespace, and
//! detaching them on drop (private instance) or keeping them attached (pinned instance).
//! Namespaces and instances are uniquely named and removed by guards even on panic.

mod support;

use hike_runtime::{attached_xdp_program, Error, Vm, XdpMode};
use support::*;

fn has_xdp(ns: &NetnsGuard, dev: &str) -> bool {
    ns.link_json(dev).contains("\"xdp\"")
}

#[test]
fn kernel_loader_attaches_to_a_veth_and_detaches_on_drop() {
    let ns = NetnsGuard::new("hrt");
    let vm = fast_vm();
    let loader = vm
        .load_loader("edge", test_loader(), "test_loader")
        .expect("load the test loader");

    let (idx0, idx1) = ns.run_in(|| {
        let idx0 = loader
            .attach_xdp_by_name("veth0", XdpMode::Native)
            .expect("attach native");
        let idx1 = loader
            .attach_xdp_by_name("veth1", XdpMode::Generic)
            .expect("attach generic");
        assert_eq!(attached_xdp_program(idx0).unwrap(), loader.kernel_id());
        let again = loader.attach_xdp(idx0, XdpMode::Native).unwrap_err();
        assert!(
            matches!(again, Error::AlreadyAttached { ifindex, .. } if ifindex == idx0),
            "{again:?}"
        );
        (idx0, idx1)
    });
    assert!(has_xdp(&ns, "veth0"), "{}", ns.link_json("veth0"));
    assert!(has_xdp(&ns, "veth1"), "{}", ns.link_json("veth1"));
    assert!(
        ns.link_json("veth1").contains("\"mode\":2"),
        "generic is XDP_ATTACHED_SKB: {}",
        ns.link_json("veth1")
    );
    assert_eq!(
        loader.xdp_attachments(),
        vec![idx0.min(idx1), idx0.max(idx1)]
    );

    loader.detach_xdp(idx1).expect("detach veth1");
    assert!(!has_xdp(&ns, "veth1"));
    assert!(matches!(
        loader.detach_xdp(idx1),
        Err(Error::NotAttached { .. })
    ));

    drop(loader);
    assert!(
        !has_xdp(&ns, "veth0"),
        "dropping a private loader detaches it"
    );
}

#[test]
fn kernel_pinned_loader_stays_attached_until_removed() {
    let ns = NetnsGuard::new("hrt");
    let guard = InstanceGuard::new("rt_att");
    let vm = Vm::create_pinned(&guard.name).expect("create the pinned instance");
    let loader = vm
        .load_loader("edge", test_loader(), "test_loader")
        .unwrap();
    let idx = ns.run_in(|| {
        loader
            .attach_xdp_by_name("veth0", XdpMode::Native)
            .expect("attach")
    });
    drop(loader);
    drop(vm);
    assert!(
        has_xdp(&ns, "veth0"),
        "a pinned attachment outlives the process's handles"
    );

    let vm = Vm::open_pinned(&guard.name).expect("adopt");
    let loader = vm.open_loader("edge").expect("adopt the loader");
    assert_eq!(loader.xdp_attachments(), vec![idx]);
    loader.remove().expect("remove the loader");
    assert!(!has_xdp(&ns, "veth0"), "removing the loader detaches it");
    vm.destroy().unwrap();
}

#[test]
fn kernel_destroying_an_instance_detaches_its_loaders() {
    let ns = NetnsGuard::new("hrt");
    let guard = InstanceGuard::new("rt_det");
    let vm = Vm::create_pinned(&guard.name).unwrap();
    let loader = vm
        .load_loader("edge", test_loader(), "test_loader")
        .unwrap();
    ns.run_in(|| {
        loader
            .attach_xdp_by_name("veth0", XdpMode::Native)
            .expect("attach")
    });
    drop(loader);
    assert!(has_xdp(&ns, "veth0"));
    vm.destroy().unwrap();
    assert!(
        !has_xdp(&ns, "veth0"),
        "destroy unpins the link, the last reference to it"
    );
    assert!(!instance_dir(&guard.name).exists());
}
