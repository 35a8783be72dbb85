//! The lab of the kernel tests of the standard HIKe programs and loaders
//! (`bpf/programs/{hike_default,meter,sampler,info,net}`, `bpf/loaders/{basic,hike_default}`).
//!
//! A [`Lab`] is a [`PrivateVm`] with the standard programs a test names, one loader, and the
//! calling thread pinned to its CPU so that the per-CPU VM state of a run can be read back.
//! Programs get IDs 1, 2, … in the order given, and each gets a one-call chain with the same
//! ID, so that [`Lab::call`] runs one program on one packet with the test loader. Chains
//! written in HIKe assembly ([`Lab::install`]) name programs by their names. Every failure
//! panics with what failed.
//!
//! ```no_run
//! use hike_testkit::packet::{ipv6_udp, A6, B6};
//! use hike_testkit::Lab;
//!
//! let lab = Lab::new(&["ip6_hset_srcdst"]);
//! let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
//! assert_eq!(lab.call("ip6_hset_srcdst", &[1], &pkt), 0); // ADD
//! assert_eq!(lab.call("ip6_hset_srcdst", &[0], &pkt), 0); // LOOKUP: present
//! ```

use hike_isa::abi::xdp;
use hike_runtime::{CpuPin, Hook, Loader, MapRef, TestRun, Vm};

use crate::hook::{context_of, test_hook, vm_verdict};

use crate::fail;
use crate::vm::{self, PrivateVm};

/// What a non-terminal standard program returns for a packet it does not apply to
/// (`HIKE_NOT_APPLICABLE` in `bpf/include/hike/net.h`).
pub const NOT_APPLICABLE: u64 = u64::MAX;

/// What one packet did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The VM's verdict, in XDP's numbers at every hook (`crate::hook::vm_verdict`).
    pub verdict: u32,
    /// r0 of the top chain when it returned (0 when a program ended the packet).
    pub result: u64,
    /// The fault that aborted the chain (0: none).
    pub fault: u32,
    /// The target of `hike_redirect()` for this packet, else 0.
    pub redirect_ifindex: u32,
    /// The packet afterwards.
    pub packet: Vec<u8>,
    /// Whether the loader started a chain (the VM counted a packet).
    pub booted: bool,
}

/// How a [`Lab`] starts chains.
enum Boot {
    /// `test_loader`: the chain and its arguments are in `test_boot`.
    TestLoader,
    /// A standard loader: it picks the chain from its own maps.
    Standard,
}

/// A private VM with some standard programs and one loader; see the module docs.
pub struct Lab {
    vm: PrivateVm,
    hook: Hook,
    loader: Loader,
    boot: Boot,
    cpu: usize,
    _pin: CpuPin,
}

impl Lab {
    /// A lab with the test loader (`test_loader`, chains booted with arguments) and `programs`.
    pub fn new(programs: &[&str]) -> Lab {
        Lab::build("test_loader", programs, Boot::TestLoader, test_hook())
    }

    /// A lab whose packets enter through the standard loader built from `loader.bpf.c` (its
    /// program has the same name), with `programs`.
    pub fn with_loader(loader: &str, programs: &[&str]) -> Lab {
        Lab::build(loader, programs, Boot::Standard, test_hook())
    }

    /// [`Lab::new`] with the objects built for `hook`, whatever `HIKE_TEST_HOOK` says.
    pub fn at(hook: Hook, programs: &[&str]) -> Lab {
        Lab::build("test_loader", programs, Boot::TestLoader, hook)
    }

    /// [`Lab::with_loader`] with the objects built for `hook`.
    pub fn with_loader_at(hook: Hook, loader: &str, programs: &[&str]) -> Lab {
        Lab::build(loader, programs, Boot::Standard, hook)
    }

    fn build(loader: &str, programs: &[&str], boot: Boot, hook: Hook) -> Lab {
        let pin = hike_runtime::pin_thread_to_current_cpu().expect("pin the test thread");
        let cpu = pin.cpu();
        let mut vm = PrivateVm::with_context(&Default::default(), context_of(hook))
            .unwrap_or_else(|e| fail(&e));
        let loader = vm.load_loader(loader, loader).unwrap_or_else(|e| fail(&e));
        vm.load_programs(1, programs).unwrap_or_else(|e| fail(&e));
        let lab = Lab {
            vm,
            hook,
            loader,
            boot,
            cpu,
            _pin: pin,
        };
        for name in programs {
            // The one-call chain of `call`: r1..r5 from the boot arguments are the program's.
            lab.install(lab.id(name), &format!("call prog {name}\nexit"));
        }
        lab
    }

    /// The VM instance.
    pub fn vm(&self) -> &Vm {
        self.vm.vm()
    }

    /// The loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The hook whose objects the lab runs.
    pub fn hook(&self) -> Hook {
        self.hook
    }

    /// Whether the lab's test runs take `frame` (at TC, not an IP frame cut inside its fixed
    /// header: [`crate::hook::skb_test_run_takes`]).
    pub fn takes(&self, frame: &[u8]) -> bool {
        self.hook == Hook::Xdp || crate::hook::skb_test_run_takes(frame)
    }

    /// The CPU the lab pinned the test thread to.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// The program ID of `name`.
    pub fn id(&self, name: &str) -> u32 {
        self.vm
            .slot(name)
            .unwrap_or_else(|_| panic!("program {name} is not in this lab"))
    }

    /// Assembles `text` (programs called by name) and installs it as chain `id`.
    pub fn install(&self, id: u32, text: &str) {
        self.vm
            .install(id, text, 0)
            .unwrap_or_else(|e| panic!("{}\n{text}", crate::causes(&e)));
    }

    /// Makes the standard loader start chain `chain` for every packet it applies to, through
    /// its single-chain map `map` (`ipv6_sc_map` of `ip6_sc`, …).
    pub fn select_chain(&self, map: &str, chain: u32) {
        vm::select_chain(&self.loader, map, chain).unwrap_or_else(|e| fail(&e));
    }

    /// Map `map` of program `prog`.
    pub fn map(&self, prog: &str, map: &str) -> MapRef {
        self.vm.program_map(prog, map).unwrap_or_else(|e| fail(&e))
    }

    /// Writes the one value (key 0) of the array `map` of program `prog`: `fields` as
    /// consecutive native-endian u64 (the config structs are all u64 fields).
    pub fn set_config(&self, prog: &str, map: &str, fields: &[u64]) {
        let value: Vec<u8> = fields.iter().flat_map(|f| f.to_ne_bytes()).collect();
        self.map(prog, map)
            .update(&0u32.to_ne_bytes(), &value, Default::default())
            .unwrap_or_else(|e| panic!("write {prog}.{map}: {e}"));
    }

    /// Sets the loader's default and fail-safe verdicts.
    pub fn set_verdicts(&self, default_verdict: u32, failsafe_verdict: u32) {
        vm::set_verdicts(&self.loader, default_verdict, failsafe_verdict)
            .unwrap_or_else(|e| fail(&e));
    }

    /// Makes the test loader start chain `chain` with `args` (r1..r5) for the next packets.
    pub fn boot(&self, chain: u32, args: &[u64]) {
        assert!(
            matches!(self.boot, Boot::TestLoader),
            "only the test loader boots chains with arguments"
        );
        vm::boot(&self.loader, chain, args).unwrap_or_else(|e| fail(&e));
    }

    /// Runs one packet through the loader.
    pub fn run(&self, packet: &[u8]) -> Run {
        self.run_with(&TestRun {
            packet,
            repeat: 1,
            ..TestRun::default()
        })
    }

    /// Runs one packet through the loader with every option of [`TestRun`].
    pub fn run_with(&self, input: &TestRun<'_>) -> Run {
        // The thread is pinned (by the lab, or by the caller to another CPU for a while), so
        // the CPU it is on now is the one that runs the packet.
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        let cpu = usize::try_from(cpu).expect("sched_getcpu");
        let vm = self.vm.vm();
        let before = vm.vm_state(cpu).expect("read the VM state").packets;
        let out = self
            .loader
            .test_run_with(input)
            .expect("BPF_PROG_TEST_RUN of the loader");
        let st = vm.vm_state(cpu).expect("read the VM state");
        let booted = st.packets != before;
        Run {
            verdict: vm_verdict(&out, &st, booted, true),
            result: st.result,
            fault: st.fault,
            redirect_ifindex: st.redirect_ifindex,
            packet: out.data_out,
            booted,
        }
    }

    /// Runs program `prog` with `args` on `packet` (test loader) and returns what it did.
    pub fn call_run(&self, prog: &str, args: &[u64], packet: &[u8]) -> Run {
        self.boot(self.id(prog), args);
        self.run(packet)
    }

    /// Runs the non-terminal program `prog` with `args` on `packet` and returns its value;
    /// panics if it faulted or ended the packet.
    pub fn call(&self, prog: &str, args: &[u64], packet: &[u8]) -> u64 {
        let run = self.call_run(prog, args, packet);
        assert_eq!(run.fault, 0, "{prog}{args:?} faulted: {run:?}");
        assert_eq!(
            run.verdict,
            xdp::PASS,
            "{prog}{args:?} ended the packet instead of returning: {run:?}"
        );
        run.result
    }
}

/// Sums the per-CPU u64 counters of `map` at `key` (field `field` of the value, in u64s);
/// 0 if the key is absent.
pub fn counter(map: &MapRef, key: &[u8], field: usize) -> u64 {
    match map.lookup(key).expect("look up a counter") {
        Some(v) => u64::from_ne_bytes(v[field * 8..field * 8 + 8].try_into().expect("8 bytes")),
        None => 0,
    }
}
