//! Test support for the kernel tests of the standard HIKe programs and loaders
//! (`bpf/programs/{hike_default,meter,sampler,info,net}`, `bpf/loaders/{basic,hike_default}`).
//!
//! A [`Lab`] is a private VM instance (nothing pinned, so tests run in parallel and leave
//! nothing behind) with the standard programs a test names, one loader, and the calling thread
//! pinned to its CPU so that the per-CPU VM state of a run can be read back. Programs get IDs
//! 1, 2, … in the order given, and each gets a one-call chain with the same ID, so that
//! [`Lab::call`] runs one program on one packet with the test loader. Chains written in HIKe
//! assembly ([`Lab::install`]) name programs by their names.
//!
//! This is test support, not a product API; it needs root.
//!
//! ```no_run
//! use hike_stdlib_tests::{ipv6_udp, Lab, A6, B6};
//!
//! let lab = Lab::new(&["ip6_hset_srcdst"]);
//! let pkt = ipv6_udp(A6, B6, 1000, 53, 16);
//! assert_eq!(lab.call("ip6_hset_srcdst", &[1], &pkt), 0); // ADD
//! assert_eq!(lab.call("ip6_hset_srcdst", &[0], &pkt), 0); // LOOKUP: present
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hike_isa::abi::{LoaderConfig, LDR_VERDICTS_SET};
use hike_isa::asm::assemble;
use hike_isa::Symbols;
use hike_runtime::{ChainId, CpuPin, Loader, MapRef, ProgramId, TestRun, Vm};

/// XDP verdicts, as numbers.
pub use hike_isa::abi::xdp;

/// What a non-terminal standard program returns for a packet it does not apply to
/// (`HIKE_NOT_APPLICABLE` in `bpf/include/hike/net.h`).
pub const NOT_APPLICABLE: u64 = u64::MAX;

/// Test addresses: documentation prefixes (RFC 3849, RFC 5737).
pub const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xa);
/// Second IPv6 test address.
pub const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xb);
/// Third IPv6 test address.
pub const C6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc);
/// First IPv4 test address.
pub const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// Second IPv4 test address.
pub const B4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
/// Third IPv4 test address.
pub const C4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 12);

/// The source MAC of the packets built here.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The destination MAC of the packets built here.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// What one packet did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The XDP verdict.
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

/// A private VM with some standard programs and one loader; see the crate docs.
pub struct Lab {
    vm: Vm,
    loader: Loader,
    boot: Boot,
    symbols: Symbols,
    ids: BTreeMap<String, u32>,
    cpu: usize,
    _pin: CpuPin,
}

impl Lab {
    /// A lab with the test loader (`test_loader`, chains booted with arguments) and `programs`.
    pub fn new(programs: &[&str]) -> Lab {
        Lab::build("test_loader", programs, Boot::TestLoader)
    }

    /// A lab whose packets enter through the standard loader built from `loader.bpf.c` (its
    /// program has the same name), with `programs`.
    pub fn with_loader(loader: &str, programs: &[&str]) -> Lab {
        Lab::build(loader, programs, Boot::Standard)
    }

    fn build(loader: &str, programs: &[&str], boot: Boot) -> Lab {
        let pin = hike_runtime::pin_thread_to_current_cpu().expect("pin the test thread");
        let cpu = pin.cpu();
        let vm = Vm::new().expect("create a private VM instance (are you root?)");
        let bytes = object(loader);
        let loader = vm
            .load_loader(loader, bytes, loader)
            .unwrap_or_else(|e| panic!("load loader {loader}: {e}"));
        let mut lab = Lab {
            vm,
            loader,
            boot,
            symbols: Symbols::new(),
            ids: BTreeMap::new(),
            cpu,
            _pin: pin,
        };
        for (i, name) in programs.iter().enumerate() {
            let id = i as u32 + 1;
            lab.vm
                .load_program(object(name), name, program_id(id))
                .unwrap_or_else(|e| panic!("load program {name}: {e}"));
            lab.symbols.add_prog(id, *name);
            lab.ids.insert((*name).to_owned(), id);
            // The one-call chain of `call`: r1..r5 from the boot arguments are the program's.
            lab.install(id, &format!("call prog {name}\nexit"));
        }
        lab
    }

    /// The VM instance.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The CPU the lab pinned the test thread to.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// The program ID of `name`.
    pub fn id(&self, name: &str) -> u32 {
        *self
            .ids
            .get(name)
            .unwrap_or_else(|| panic!("program {name} is not in this lab"))
    }

    /// Assembles `text` (programs called by name) and installs it as chain `id`.
    pub fn install(&mut self, id: u32, text: &str) {
        let insns = assemble(text)
            .unwrap_or_else(|e| panic!("assemble chain {id}: {e}\n{text}"))
            .link(&self.symbols)
            .unwrap_or_else(|e| panic!("link chain {id}: {e}"));
        self.vm
            .install_chain(chain_id(id), &insns, 0)
            .unwrap_or_else(|e| panic!("install chain {id}: {e}"));
    }

    /// Map `map` of program `prog`.
    pub fn map(&self, prog: &str, map: &str) -> MapRef {
        self.vm
            .program_map(program_id(self.id(prog)), map)
            .unwrap_or_else(|e| panic!("{prog}.{map}: {e}"))
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
        let cfg = LoaderConfig {
            default_verdict,
            failsafe_verdict,
            flags: LDR_VERDICTS_SET,
            reserved: 0,
        };
        self.loader
            .map("hike_ldr_cfg")
            .expect("every loader has hike_ldr_cfg")
            .update(
                &0u32.to_ne_bytes(),
                bytemuck::bytes_of(&cfg),
                Default::default(),
            )
            .expect("write hike_ldr_cfg");
    }

    /// Makes the test loader start chain `chain` with `args` (r1..r5) for the next packets.
    pub fn boot(&self, chain: u32, args: &[u64]) {
        assert!(
            matches!(self.boot, Boot::TestLoader),
            "only the test loader boots chains with arguments"
        );
        let v = hike_bpf::test_boot_record(chain, args);
        self.loader
            .map("test_boot")
            .expect("the test loader has test_boot")
            .update(&0u32.to_ne_bytes(), &v, Default::default())
            .expect("write test_boot");
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
        let before = self.vm.vm_state(cpu).expect("read the VM state").packets;
        let out = self
            .loader
            .test_run_with(input)
            .expect("BPF_PROG_TEST_RUN of the loader");
        let st = self.vm.vm_state(cpu).expect("read the VM state");
        Run {
            verdict: out.retval,
            result: st.result,
            fault: st.fault,
            redirect_ifindex: st.redirect_ifindex,
            packet: out.data_out,
            booted: st.packets != before,
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

/// The ELF object built from `NAME.bpf.c`.
pub fn object(name: &str) -> &'static [u8] {
    hike_bpf::object(name).unwrap_or_else(|| panic!("no object {name} in hike-bpf"))
}

fn program_id(id: u32) -> ProgramId {
    ProgramId::new(id).unwrap_or_else(|| panic!("program id {id} out of range"))
}

/// A chain ID, checked.
pub fn chain_id(id: u32) -> ChainId {
    ChainId::new(id).unwrap_or_else(|| panic!("chain id {id} out of range"))
}

/// Sums the per-CPU u64 counters of `map` at `key` (field `field` of the value, in u64s);
/// 0 if the key is absent.
pub fn counter(map: &MapRef, key: &[u8], field: usize) -> u64 {
    match map.lookup(key).expect("look up a counter") {
        Some(v) => u64::from_ne_bytes(v[field * 8..field * 8 + 8].try_into().expect("8 bytes")),
        None => 0,
    }
}

/// A (source, destination) key of IPv6 addresses, as the programs store it.
pub fn ip6_sd_key(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    [src.octets(), dst.octets()].concat()
}

/// A (source, destination) key of IPv4 addresses, as the programs store it.
pub fn ip4_sd_key(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    [src.octets(), dst.octets()].concat()
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(128);
    p.extend_from_slice(&DST_MAC);
    p.extend_from_slice(&SRC_MAC);
    p.extend_from_slice(&ethertype.to_be_bytes());
    p
}

/// Ethernet + IPv6 (traffic class 0, flow label 0x12345, hop limit 64) + `next` header
/// `l4`.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, next: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = ethernet(0x86dd);
    p.extend_from_slice(&[0x60, 0x01, 0x23, 0x45]);
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.push(next);
    p.push(64);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(l4);
    p
}

/// Ethernet + IPv4 (TOS 0, TTL 64, valid header checksum) + protocol `proto` header `l4`.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = ethernet(0x0800);
    let total = (20 + l4.len()) as u16;
    let mut ip = vec![0x45, 0x00];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(l4);
    p
}

/// A UDP header (checksum 0) and `payload` bytes 0, 1, 2, …
pub fn udp(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend((0..payload).map(|i| i as u8));
    u
}

/// A 20-byte TCP header with `flags` (byte 13).
pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t
}

/// Ethernet + IPv6 + UDP.
pub fn ipv6_udp(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    ipv6_packet(src, dst, 17, &udp(sport, dport, payload))
}

/// Ethernet + IPv4 + UDP.
pub fn ipv4_udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    ipv4_packet(src, dst, 17, &udp(sport, dport, payload))
}

/// An ARP request (who has 192.0.2.11, tell 192.0.2.10), padded to 60 bytes.
pub fn arp() -> Vec<u8> {
    let mut p = ethernet(0x0806);
    p.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    p.extend_from_slice(&SRC_MAC);
    p.extend_from_slice(&A4.octets());
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&B4.octets());
    p.resize(60, 0);
    p
}

/// The Internet checksum of `bytes` (RFC 1071): the header is valid when this is 0 over the
/// whole header, checksum field included.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
