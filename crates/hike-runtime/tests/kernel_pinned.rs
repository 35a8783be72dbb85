//! Kernel tests (root): pinned instances in `/sys/fs/bpf/hike/<instance>/`, adopted again as
//! a restarted daemon would, and destroyed without leaving anything behind. Each test uses a
//! uniquely named instance whose directory a guard removes even if the test panics.

mod support;

use std::time::Duration;

use hike_isa::abi::{VmConfig, CFG_STATS};
use hike_runtime::{pin_thread_to_current_cpu, ChainId, Error, ProgramId, Vm, VmOptions};
use support::*;

fn chain(id: u32) -> ChainId {
    ChainId::new(id).unwrap()
}

fn prog(id: u32) -> ProgramId {
    ProgramId::new(id).unwrap()
}

fn opts() -> VmOptions {
    VmOptions {
        grace: Duration::ZERO,
        ..VmOptions::default()
    }
}

#[test]
fn kernel_pinned_instance_is_adopted_again_and_destroyed() {
    let guard = InstanceGuard::new("rt_pin");
    let dir = instance_dir(&guard.name);
    {
        let vm = Vm::create_pinned_with(&guard.name, &opts()).expect("create the pinned instance");
        assert_eq!(vm.pin_dir(), Some(dir.as_path()));
        vm.set_config(VmConfig {
            budget: 500,
            flags: CFG_STATS,
            ..VmConfig::default()
        })
        .unwrap();
        vm.install_chain(chain(5), &[call_prog(2), exit()], 1)
            .unwrap();
        vm.load_program(test_progs(), "test_sum1", prog(2)).unwrap();
        let loader = vm
            .load_loader("main", test_loader(), "test_loader")
            .unwrap();
        boot(&loader, 5, [41, 0, 0, 0, 0]);
        // A failed load leaves no pin behind.
        assert!(vm.load_program(test_progs(), "nope", prog(3)).is_err());
        // The process "dies": everything is dropped, only the pins remain.
    }
    for pin in [
        "hike_chains",
        "hike_code",
        "hike_progs",
        "hike_events",
        "progs/2/prog_test_sum1",
        "loaders/main/prog_test_loader",
        "loaders/main/maps/test_boot",
    ] {
        assert!(dir.join(pin).exists(), "{pin} is pinned");
    }
    assert!(!dir.join("progs/3").exists());

    let vm = Vm::open_pinned_with(&guard.name, &opts()).expect("adopt the instance");
    assert_eq!(
        vm.config().unwrap(),
        VmConfig {
            budget: 500,
            flags: CFG_STATS,
            ..VmConfig::default()
        }
    );
    assert_eq!(vm.chain_code(chain(5)).unwrap(), vec![call_prog(2), exit()]);
    assert_eq!(vm.chain(chain(5)).unwrap().nparams, 1);
    let programs = vm.programs();
    assert_eq!(programs.len(), 1);
    assert_eq!(
        (programs[0].id, programs[0].name.as_str()),
        (prog(2), "test_sum1")
    );
    assert_eq!(
        programs[0].params.as_deref(),
        Some(&["a".to_owned()][..]),
        "read from kernel btf"
    );
    assert_eq!(vm.loader_names().unwrap(), ["main"]);

    let loader = vm.open_loader("main").expect("adopt the loader");
    let pin = pin_thread_to_current_cpu().unwrap();
    assert_eq!(loader.test_run(&udp_packet(), 1).unwrap().retval, 2);
    assert_eq!(
        vm.vm_state(pin.cpu()).unwrap().result,
        1041,
        "the adopted program and chain run"
    );
    assert_eq!(vm.prog_stats(prog(2)).unwrap().calls, 1);

    // The allocator was rebuilt from the live descriptors: new code does not overlap.
    let live = vm.chain(chain(5)).unwrap();
    vm.install_chain(chain(6), &ret(1), 0).unwrap();
    let new = vm.chain(chain(6)).unwrap();
    assert!(
        new.code_off >= live.code_off + u32::from(live.len) || new.code_off + 2 <= live.code_off
    );

    vm.remove_program(prog(2)).unwrap();
    assert!(!dir.join("progs/2").exists(), "removal unpins");
    drop(loader);
    vm.destroy().expect("destroy");
    assert!(!dir.exists(), "nothing is left under /sys/fs/bpf/hike");
}

#[test]
fn kernel_pinned_instance_errors_are_typed() {
    let guard = InstanceGuard::new("rt_err");
    let vm = Vm::create_pinned_with(&guard.name, &opts()).unwrap();
    assert!(matches!(
        Vm::create_pinned_with(&guard.name, &opts()),
        Err(Error::InstanceExists { .. })
    ));
    let missing = unique("rt_missing");
    let err = Vm::open_pinned(&missing).unwrap_err();
    assert!(
        matches!(err, Error::InstanceNotFound { ref name, .. } if *name == missing),
        "{err:?}"
    );
    for bad in ["", "../x", "a/b", "-x", "a b", &"x".repeat(65)] {
        assert!(
            matches!(Vm::create_pinned(bad), Err(Error::InvalidName { .. })),
            "{bad:?}"
        );
    }
    let _l = vm.load_loader("one", test_loader(), "test_loader").unwrap();
    assert!(matches!(
        vm.load_loader("one", test_loader(), "test_loader"),
        Err(Error::LoaderExists { .. })
    ));
    assert!(matches!(
        vm.open_loader("two"),
        Err(Error::LoaderNotFound { .. })
    ));
    assert!(matches!(
        vm.load_loader("x/y", test_loader(), "test_loader"),
        Err(Error::InvalidName { .. })
    ));
    vm.destroy().unwrap();
    assert!(!instance_dir(&guard.name).exists());
}

#[test]
fn kernel_private_vm_leaves_no_pins() {
    let before = std::fs::read_dir("/sys/fs/bpf/hike")
        .map(|d| d.count())
        .unwrap_or(0);
    let vm = fast_vm();
    let _l = vm.load_loader("p", test_loader(), "test_loader").unwrap();
    vm.load_program(test_progs(), "test_null", prog(0)).unwrap();
    let after = std::fs::read_dir("/sys/fs/bpf/hike")
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        after <= before + 1,
        "a private instance pins nothing (other tests may pin in parallel)"
    );
    assert_eq!(vm.pin_dir(), None);
}

#[test]
fn kernel_adopting_checks_map_layouts_and_chain_descriptors() {
    use hike_isa::abi::ChainDesc;
    use libbpf_rs::{libbpf_sys, MapHandle, MapType};

    // A pinned `hike_config` with the wrong value size (an older VM's: budget and flags, no
    // replay clock).
    let guard = InstanceGuard::new("rt_abi");
    Vm::create_pinned_with(&guard.name, &opts()).unwrap();
    let pin = instance_dir(&guard.name).join("hike_config");
    std::fs::remove_file(&pin).unwrap();
    let opts_c = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        ..Default::default()
    };
    let mut wrong =
        MapHandle::create(MapType::Array, Some("hike_config"), 4, 8, 1, &opts_c).unwrap();
    wrong.pin(&pin).unwrap();
    let err = Vm::open_pinned_with(&guard.name, &opts()).unwrap_err();
    match &err {
        Error::PinnedLayoutMismatch {
            map,
            expected,
            found,
            ..
        } => {
            assert_eq!(map, "hike_config");
            assert_eq!((expected.value_size, found.value_size), (16, 8));
        }
        other => panic!("expected PinnedLayoutMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("`hike_config`"), "{err}");
    assert!(
        err.to_string()
            .contains("remove the instance's pins (`eclatd --reset`"),
        "the way out: {err}"
    );

    // Two chains whose code overlaps.
    let guard2 = InstanceGuard::new("rt_abi");
    let vm = Vm::create_pinned_with(&guard2.name, &opts()).unwrap();
    let chains = vm.vm_map(hike_runtime::VmMap::Chains);
    for (id, off) in [(1u32, 0u32), (2, 1)] {
        let d = ChainDesc {
            code_off: off,
            len: 2,
            nparams: 0,
            flags: 0,
        };
        chains
            .update(
                &id.to_ne_bytes(),
                &d.to_word().to_ne_bytes(),
                Default::default(),
            )
            .unwrap();
    }
    drop(vm);
    let err = Vm::open_pinned_with(&guard2.name, &opts()).unwrap_err();
    assert!(matches!(err, Error::CorruptChainTable { .. }), "{err:?}");
}

#[test]
fn kernel_adopting_completes_or_rolls_back_interrupted_program_changes() {
    let guard = InstanceGuard::new("rt_crash");
    let dir = instance_dir(&guard.name);
    let vm = Vm::create_pinned_with(&guard.name, &opts()).unwrap();
    vm.load_program(test_progs(), "test_sum1", prog(2)).unwrap();
    vm.load_program(test_progs(), "test_sum2", prog(3)).unwrap();
    drop(vm);

    // Slot 2: a replacement that switched the slot but died before moving its pins.
    std::fs::rename(dir.join("progs/2"), dir.join("progs/2-new")).unwrap();
    // Slot 3: a removal that unpinned but died before clearing the slot.
    std::fs::remove_dir_all(dir.join("progs/3")).unwrap();
    // Junk that is no program directory.
    std::fs::create_dir(dir.join("progs/junk")).unwrap();

    let vm = Vm::open_pinned_with(&guard.name, &opts()).unwrap();
    let names: Vec<(u32, String)> = vm
        .programs()
        .into_iter()
        .map(|p| (p.id.get(), p.name))
        .collect();
    assert_eq!(names, [(2, "test_sum1".to_owned())]);
    assert!(
        dir.join("progs/2/prog_test_sum1").exists(),
        "the kept version is moved into place"
    );
    assert!(!dir.join("progs/2-new").exists());
    assert!(!dir.join("progs/junk").exists());
    let slot3 = vm
        .vm_map(hike_runtime::VmMap::Progs)
        .lookup(&3u32.to_ne_bytes())
        .unwrap_or(None);
    assert_eq!(slot3, None, "the interrupted removal is completed");
    vm.destroy().unwrap();
}

/// A scratch directory where a test may mount a bpffs; unmounted and removed on drop.
struct MountGuard {
    path: std::path::PathBuf,
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.path.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid path; unmounting a directory that is not a mount point only
        // fails, which is fine here.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[test]
fn kernel_bpffs_is_mounted_when_missing() {
    let mount = MountGuard {
        path: std::env::temp_dir().join(unique("hike_bpffs")),
    };
    std::fs::create_dir(&mount.path).unwrap();
    let opts = VmOptions {
        bpffs: mount.path.clone(),
        ..opts()
    };
    let vm = Vm::create_pinned_with("m", &opts).expect("mounts a bpffs and creates the instance");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with("bpf ") && l.contains(mount.path.to_str().unwrap())),
        "a bpffs is mounted at the root"
    );
    assert!(mount.path.join("hike/m/hike_chains").exists());
    vm.destroy().unwrap();
    assert!(
        !mount.path.join("hike").exists(),
        "the emptied hike directory is removed too"
    );
}
