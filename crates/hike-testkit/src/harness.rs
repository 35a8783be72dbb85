//! A harness that runs the same chains on the kernel HIKe VM (through `BPF_PROG_TEST_RUN`) and
//! on the user-space reference VM, and compares what they did.
//!
//! Each [`Harness`] owns a [`PrivateVm`] with the test loader and the deterministic test
//! programs of `bpf/programs/test/test_progs.bpf.c`, and a reference VM with the same programs
//! mocked with the same meaning. Every failure panics with what failed.
//!
//! ```no_run
//! let mut h = hike_testkit::Harness::new();
//! h.install(1, "r0 = 7\n exit", 0);
//! let out = h.check(1, &[], &hike_testkit::packet::ipv6_udp_packet(64));
//! assert_eq!(out.result, 7);
//! ```

use std::collections::BTreeSet;

use hike_isa::abi::{self, Event, Fault};
use hike_isa::Insn;
use hike_refvm::{Boot, ProgramCall, ProgramOutcome, RefVm};
use hike_runtime::{CpuPin, Loader, Vm};

use crate::fail;
use crate::packet::hex;
use crate::vm::{self, PrivateVm};

/// The test programs: name, program ID, parameter count.
pub const PROGRAMS: [(&str, u32, u8); 10] = [
    ("test_null", 0, 0),
    ("test_sum0", 1, 0),
    ("test_sum1", 2, 1),
    ("test_sum2", 3, 2),
    ("test_sum3", 4, 3),
    ("test_sum4", 5, 4),
    ("test_sum5", 6, 5),
    ("test_pkt_xor", 7, 2),
    ("test_verdict", 8, 1),
    ("test_emit", 9, 1),
];

/// What one VM did with one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The XDP verdict.
    pub verdict: u32,
    /// r0 of the top chain when it returned (0 otherwise).
    pub result: u64,
    /// The fault that aborted the chain, if any.
    pub fault: Option<Fault>,
    /// pc of the faulting instruction (0 without a fault).
    pub fault_pc: u32,
    /// Chain of the faulting frame (`NO_ID` without a fault).
    pub fault_chain: u32,
    /// The packet after processing.
    pub packet: Vec<u8>,
    /// Events emitted, in order.
    pub events: Vec<Event>,
    /// Fault counters incremented by this packet, by reason.
    pub fault_counts: Vec<(Fault, u64)>,
    /// Chain runs counted by this packet, by chain ID.
    pub chain_runs: Vec<(u32, u64)>,
}

/// The kernel VM and the reference VM, loaded with the same programs and chains.
pub struct Harness {
    // The fused build of the installed chains (fused mode), dropped before the VM; None after
    // any change of chains or programs, rebuilt by the next fused run.
    fused: Option<Loader>,
    /// Every program loaded: name, ID, parameter count.
    programs: Vec<(String, u32, u8)>,
    vm: PrivateVm,
    loader: Loader,
    reference: RefVm,
    chains: BTreeSet<u32>,
    events: hike_runtime::EventReader,
    cpu: usize,
    // Made with `Harness::in_both_modes`: its checks compare fused mode by default.
    both_modes: bool,
    _pin: CpuPin,
}

/// The variable that chooses which harnesses' checks also run fused: `1` every one, `0` none;
/// unset (or anything else), those made with [`Harness::in_both_modes`].
pub const FUSED_ENV: &str = "HIKE_TEST_FUSED";

/// Whether a harness's checks compare fused mode ([`FUSED_ENV`]).
fn compares_fused(in_both_modes: bool) -> bool {
    match std::env::var(FUSED_ENV).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => in_both_modes,
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// A private VM with the test loader and every test program, counters enabled; the calling
    /// thread is pinned to its current CPU so the per-CPU state can be read back.
    pub fn new() -> Harness {
        let pin = hike_runtime::pin_thread_to_current_cpu().expect("pin the test thread");
        let cpu = pin.cpu();
        let vm = PrivateVm::new().unwrap_or_else(|e| fail(&e));
        let loader = vm
            .load_loader("test", "test_loader")
            .unwrap_or_else(|e| fail(&e));
        let events = vm.vm().event_reader().expect("open the event ring");
        let mut h = Harness {
            fused: None,
            programs: Vec::new(),
            vm,
            loader,
            reference: RefVm::new(),
            chains: BTreeSet::new(),
            events,
            cpu,
            both_modes: false,
            _pin: pin,
        };
        for (name, id, _) in PROGRAMS {
            h.load_program_at(name, id);
        }
        h.set_budget(0);
        h
    }

    /// [`Harness::new`] whose checks also run the chains fused and compare (unless
    /// `HIKE_TEST_FUSED=0`): the semantic tests that run in both modes by default. A fused
    /// build is a clang run and a verification for every change of chains, so the broad
    /// sweeps (every ALU and jump operation) use [`Harness::new`] and compare fused with
    /// `HIKE_TEST_FUSED=1` only.
    pub fn in_both_modes() -> Harness {
        let mut h = Harness::new();
        h.both_modes = true;
        h
    }

    /// Loads test program `name` at program ID `id`, in the kernel VM and the reference VM;
    /// loaded again at another ID (e.g. to reach every part of the VM's dispatch), chains call
    /// the copy by its ID.
    pub fn load_program_at(&mut self, name: &str, id: u32) {
        let nparams = PROGRAMS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(0, |(_, _, p)| *p);
        self.programs.push((name.to_owned(), id, nparams));
        self.fused = None;
        self.vm
            .load_program(id, "test_progs", name)
            .unwrap_or_else(|e| fail(&e));
        self.reference
            .load_program(id, reference_program(name))
            .expect("mock program");
    }

    /// The kernel VM instance.
    pub fn vm(&self) -> &Vm {
        self.vm.vm()
    }

    /// The CPU the calling thread is pinned to: packets run there, and its per-CPU VM state
    /// is the one to read back.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// The per-CPU VM state of [`Harness::cpu`], as the last packet left it.
    pub fn state(&self) -> abi::VmState {
        self.vm()
            .vm_state(self.cpu)
            .expect("read the per-CPU VM state")
    }

    /// The test loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The reference VM.
    pub fn reference(&mut self) -> &mut RefVm {
        &mut self.reference
    }

    /// Sets the execution budget of both VMs (0 = default); counters stay enabled.
    pub fn set_budget(&mut self, budget: u32) {
        self.vm
            .configure(budget, abi::CFG_STATS)
            .unwrap_or_else(|e| fail(&e));
        self.reference.set_budget(budget);
        self.reference.set_stats(true);
    }

    /// Assembles `text` (programs called by name, chains by `chain N` or a name given with
    /// [`Harness::name_chain`]) and installs it as chain `id` in both VMs, unvalidated.
    pub fn install(&mut self, id: u32, text: &str, nparams: u8) {
        let insns = self
            .vm
            .install(id, text, nparams)
            .unwrap_or_else(|e| panic!("{}\n{text}", crate::causes(&e)));
        self.install_reference(id, insns, nparams);
    }

    /// Names chain `id` for `call chain NAME` in later [`Harness::install`]s.
    pub fn name_chain(&mut self, id: u32, name: &str) {
        self.vm.name_chain(id, name);
    }

    /// Installs instructions as chain `id` in both VMs, unvalidated.
    pub fn install_insns(&mut self, id: u32, insns: &[Insn], nparams: u8) {
        self.vm
            .install_insns(id, insns, nparams)
            .unwrap_or_else(|e| fail(&e));
        self.install_reference(id, insns.to_vec(), nparams);
    }

    fn install_reference(&mut self, id: u32, insns: Vec<Insn>, nparams: u8) {
        self.fused = None;
        self.reference
            .load_chain(id, insns, nparams)
            .unwrap_or_else(|e| panic!("install chain {id} in the reference: {e}"));
        self.chains.insert(id);
    }

    /// Removes chain `id` from both VMs.
    pub fn remove(&mut self, id: u32) {
        self.vm
            .vm()
            .remove_chain(vm::chain_id(id).unwrap_or_else(|e| fail(&e)));
        self.reference.unload_chain(id);
        self.chains.remove(&id);
        self.fused = None;
    }

    /// The installed chains, the test programs and the test loader fused into one program
    /// (`hike-fused`), built now if a chain or program changed since the last one, and
    /// loaded with the test loader's maps; `Err` with the reason when they cannot be fused
    /// (a recursive chain) or the kernel refuses the program.
    pub fn fused(&mut self) -> Result<&Loader, String> {
        if self.fused.is_none() {
            let test = |f: &str| hike_fused::Source::Embedded(format!("bpf/programs/test/{f}"));
            let script = hike_fused::Script {
                chains: self
                    .chains
                    .iter()
                    .filter_map(|&id| {
                        Some(hike_fused::Chain {
                            id,
                            name: format!("chain{id}"),
                            insns: self.reference.chain(id)?.to_vec(),
                            origin: None,
                        })
                    })
                    .collect(),
                programs: self
                    .programs
                    .iter()
                    .map(|(name, id, nparams)| hike_fused::Program {
                        id: *id,
                        name: name.clone(),
                        nparams: *nparams as usize,
                        source: test("test_progs.bpf.c"),
                    })
                    .collect(),
                loader: hike_fused::Loader {
                    name: "test_loader".into(),
                    source: test("test_loader.bpf.c"),
                },
                tc: self.vm.context() == hike_bpf::Context::Tc,
            };
            let built = hike_fused::compile(&script).map_err(|e| crate::causes(&e))?;
            let loader = self
                .vm()
                .load_fused(
                    "test_fused",
                    &built.object,
                    hike_fused::ENTRY,
                    self.loader.maps(),
                )
                .map_err(|e| crate::causes(&e))?;
            self.fused = Some(loader);
        }
        Ok(self.fused.as_ref().expect("built above"))
    }

    /// Runs one packet through the kernel VM: boots `chain` with `args`.
    pub fn run_kernel(
        &mut self,
        chain: u32,
        args: &[u64],
        packet: &[u8],
    ) -> (Outcome, abi::PktMeta) {
        self.run_kernel_on(false, chain, args, packet)
    }

    /// [`Harness::run_kernel`] through the fused program of the installed chains
    /// ([`Harness::fused`], which must have been built).
    pub fn run_fused(&mut self, chain: u32, args: &[u64], packet: &[u8]) -> Outcome {
        self.run_kernel_on(true, chain, args, packet).0
    }

    fn run_kernel_on(
        &mut self,
        fused: bool,
        chain: u32,
        args: &[u64],
        packet: &[u8],
    ) -> (Outcome, abi::PktMeta) {
        let mut boot_args = [0u64; 5];
        boot_args[..args.len()].copy_from_slice(args);
        vm::boot(&self.loader, chain, &boot_args).unwrap_or_else(|e| fail(&e));
        let faults_before = self.vm().fault_counts().expect("read fault counters");
        let runs_before = self.chain_runs();
        self.events.drain().expect("drain old events");
        let entry = match (&self.fused, fused) {
            (Some(f), true) => f,
            (None, true) => panic!("run_fused without a fused build (Harness::fused)"),
            _ => &self.loader,
        };
        let run = entry
            .test_run(packet, 1)
            .expect("BPF_PROG_TEST_RUN of the test loader");
        let st = self.state();
        let faults_after = self.vm().fault_counts().expect("read fault counters");
        let runs_after = self.chain_runs();
        let outcome = Outcome {
            verdict: crate::hook::vm_verdict(&run, &st, true, true),
            result: st.result,
            fault: Fault::from_code(st.fault),
            fault_pc: st.fault_pc,
            fault_chain: st.fault_chain,
            packet: run.data_out,
            events: self.events.drain().expect("read events"),
            fault_counts: Fault::ALL
                .iter()
                .map(|&f| (f, faults_after[f as usize] - faults_before[f as usize]))
                .filter(|&(_, n)| n != 0)
                .collect(),
            chain_runs: runs_after
                .iter()
                .zip(&runs_before)
                .map(|(&(id, a), &(_, b))| (id, a - b))
                .filter(|&(_, n)| n != 0)
                .collect(),
        };
        (outcome, st.meta)
    }

    fn chain_runs(&self) -> Vec<(u32, u64)> {
        self.chains
            .iter()
            .map(|&id| {
                let chain = vm::chain_id(id).unwrap_or_else(|e| fail(&e));
                let s = self.vm().chain_stats(chain).expect("read chain stats");
                (id, s.runs)
            })
            .collect()
    }

    /// Runs one packet through the reference VM with the metadata the kernel loader produced.
    pub fn run_reference(
        &mut self,
        chain: u32,
        args: &[u64],
        packet: &[u8],
        meta: abi::PktMeta,
    ) -> Outcome {
        let out = self.reference.run(
            Boot::new(chain, packet.to_vec())
                .with_args(args)
                .with_meta(meta),
        );
        Outcome {
            verdict: out.verdict,
            result: out.result,
            fault: out.fault,
            fault_pc: out.fault_pc,
            fault_chain: out.fault_chain,
            packet: out.packet,
            events: out.events,
            fault_counts: Fault::ALL
                .iter()
                .map(|&f| (f, out.counters.faults(f)))
                .filter(|&(_, n)| n != 0)
                .collect(),
            chain_runs: self
                .chains
                .iter()
                .map(|&id| (id, out.counters.chain_runs(id)))
                .filter(|&(_, n)| n != 0)
                .collect(),
        }
    }

    /// Runs one packet on both VMs and returns both outcomes (kernel first).
    pub fn run(&mut self, chain: u32, args: &[u64], packet: &[u8]) -> (Outcome, Outcome) {
        let (mut kernel, meta) = self.run_kernel(chain, args, packet);
        let mut reference = self.run_reference(chain, args, packet, meta);
        // The kernel's event ring holds a bounded number of records and drops the rest (the
        // chain goes on); the reference VM keeps them all. A full ring is the only allowed
        // difference: the kernel's events must then be a prefix of the reference's.
        let ring_records =
            hike_runtime::EVENTS_RING_BYTES as usize / (std::mem::size_of::<Event>() + 8);
        if kernel.events.len() + 1 >= ring_records
            && reference.events.len() > kernel.events.len()
            && reference.events.starts_with(&kernel.events)
        {
            reference.events.truncate(kernel.events.len());
        }
        // Events carry the VM's clock: the kernel's is CLOCK_MONOTONIC, the reference's a
        // counter, so only the kernel's presence of a time is checked, and times are not
        // compared.
        for e in &mut kernel.events {
            assert_ne!(e.ts_ns, 0, "a kernel event without a time: {e:?}");
            e.ts_ns = 0;
        }
        for e in &mut reference.events {
            e.ts_ns = 0;
        }
        (kernel, reference)
    }

    /// Runs one packet on both VMs, panics (with both outcomes and the chains) if they differ,
    /// and returns the common outcome.
    ///
    /// For a harness made with [`Harness::in_both_modes`], or any with `HIKE_TEST_FUSED=1` in
    /// the environment (none with `HIKE_TEST_FUSED=0`), the chains also run fused
    /// ([`Harness::run_fused`]) and must do the same as interpreted (chains that cannot be
    /// fused, recursive ones, are skipped): the kernel tests then check both modes.
    pub fn check(&mut self, chain: u32, args: &[u64], packet: &[u8]) -> Outcome {
        if compares_fused(self.both_modes) {
            self.check_fused(chain, args, packet);
        }
        let (kernel, reference) = self.run(chain, args, packet);
        if kernel != reference {
            let listing: String = self
                .chains
                .iter()
                .filter_map(|&id| {
                    let code = self.reference.chain(id)?;
                    Some(format!(
                        "chain {id}:\n{}",
                        hike_isa::disasm::disassemble_with(code, self.vm.symbols())
                    ))
                })
                .collect();
            panic!(
                "kernel and reference VM differ on chain {chain} args {args:?} packet {}\n kernel:    {kernel:?}\n reference: {reference:?}\n{listing}",
                hex(packet)
            );
        }
        kernel
    }
}

impl Harness {
    /// Runs one packet interpreted and fused; panics if they differ. Chains that cannot be
    /// fused (recursive) are not compared.
    fn check_fused(&mut self, chain: u32, args: &[u64], packet: &[u8]) {
        if let Err(e) = self.fused() {
            assert!(
                e.contains("recursive chain cannot be fused"),
                "the chains do not fuse: {e}"
            );
            return;
        }
        let untimed = |mut o: Outcome| {
            for e in &mut o.events {
                e.ts_ns = 0;
            }
            o
        };
        // The program calls the state holds after the packet are compared here, not in
        // `Outcome`: the reference VM has no state to report them from.
        let fused = untimed(self.run_fused(chain, args, packet));
        let fused_calls = self.state().prog_calls;
        let interpreted = untimed(self.run_kernel(chain, args, packet).0);
        let interpreted_calls = self.state().prog_calls;
        assert_eq!(
            fused,
            interpreted,
            "fused (left) and interpreted (right) differ on chain {chain} args {args:?} packet {}",
            hex(packet)
        );
        assert_eq!(
            fused_calls,
            interpreted_calls,
            "fused (left) and interpreted (right) leave different program calls in the state \
             on chain {chain} args {args:?} packet {}",
            hex(packet)
        );
        // With the counters off, a loop-free script runs its chains' fast twins where the
        // budget cannot run out (hike-fused: `Twin::Fast`): the same outcome, nothing counted
        // but the faults (counted whatever the configuration).
        let config = self.vm().config().expect("read the VM configuration");
        if config.flags & abi::CFG_STATS == 0 {
            return;
        }
        let set = |h: &Harness, flags: u32| {
            h.vm()
                .set_config(abi::VmConfig { flags, ..config })
                .expect("set the VM configuration")
        };
        set(self, config.flags & !abi::CFG_STATS);
        let uncounted = untimed(self.run_fused(chain, args, packet));
        set(self, config.flags);
        assert_eq!(
            uncounted,
            Outcome {
                chain_runs: Vec::new(),
                ..fused
            },
            "fused with the counters off (left) and on (right) differ on chain {chain} args \
             {args:?} packet {}",
            hex(packet)
        );
    }
}

/// The reference VM's mock of test program `name`, with the meaning it has in
/// `bpf/programs/test/test_progs.bpf.c`: `test_sumN(a..)` returns `1000 + a + 2b + 3c + …`,
/// `test_verdict(v)` ends the packet with verdict `v`, `test_pkt_xor(off, val)` XORs a packet
/// byte and returns the old one, `test_emit(code)` emits an event and returns `code`,
/// `test_null` returns 0.
pub fn reference_program(
    name: &str,
) -> impl FnMut(&mut ProgramCall<'_>) -> ProgramOutcome + 'static {
    let name = name.to_string();
    move |call: &mut ProgramCall<'_>| {
        let a = call.args();
        match name.as_str() {
            "test_null" => ProgramOutcome::Return(0),
            "test_pkt_xor" => {
                let (off, val) = (a[0], a[1]);
                let packet = call.packet_mut();
                match usize::try_from(off).ok().filter(|&o| o < packet.len()) {
                    Some(o) => {
                        let old = packet[o];
                        packet[o] = old ^ val as u8;
                        ProgramOutcome::Return(u64::from(old))
                    }
                    None => ProgramOutcome::Return(u64::MAX),
                }
            }
            "test_verdict" => ProgramOutcome::Verdict(a[0] as u32),
            "test_emit" => {
                let code = a[0];
                call.emit(
                    code as u32,
                    code.wrapping_add(1),
                    code.wrapping_add(2),
                    code.wrapping_add(3),
                );
                ProgramOutcome::Return(code)
            }
            sum => {
                let n: usize = sum
                    .trim_start_matches("test_sum")
                    .parse()
                    .expect("test_sumN");
                let total = a[..n].iter().enumerate().fold(1000u64, |acc, (i, &x)| {
                    acc.wrapping_add((i as u64 + 1).wrapping_mul(x))
                });
                ProgramOutcome::Return(total)
            }
        }
    }
}
