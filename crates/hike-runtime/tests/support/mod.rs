//! Helpers shared by the kernel tests: unique names, guards that clean up even when a test
//! panics, packets, tiny hand-encoded chains, and ELF patching for negative tests.
//!
//! The test programs of `bpf/programs/test/test_progs.bpf.c` mean, for chains here:
//! `test_sumN(a..)` returns `1000 + a + 2b + 3c + …`, `test_verdict(v)` ends the packet with
//! verdict `v`, `test_pkt_xor(off, val)` XORs a packet byte and returns the old one.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hike_isa::Insn;
use hike_runtime::{Vm, VmOptions};
use hike_testkit::packet::{A4, B4};

/// A name unique to this process and call: `<prefix><pid>x<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The bpffs directory of a pinned instance.
pub fn instance_dir(name: &str) -> PathBuf {
    PathBuf::from("/sys/fs/bpf/hike").join(name)
}

/// Removes a pinned instance's directory on drop, even if the test panicked.
pub struct InstanceGuard {
    pub name: String,
}

impl InstanceGuard {
    pub fn new(prefix: &str) -> InstanceGuard {
        InstanceGuard {
            name: unique(prefix),
        }
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(instance_dir(&self.name));
    }
}

/// A private VM whose retired chain code is reusable at once (after an RCU grace period).
pub fn fast_vm() -> Vm {
    Vm::with_options(&VmOptions {
        grace: Duration::ZERO,
        ..VmOptions::default()
    })
    .expect("create a private vm")
}

/// The test objects built by `hike-bpf`.
pub fn test_loader() -> &'static [u8] {
    hike_testkit::vm::object("test_loader").expect("the test loader is built")
}

/// See [`test_loader`].
pub fn test_progs() -> &'static [u8] {
    hike_testkit::vm::object("test_progs").expect("the test programs are built")
}

// ---- hand-encoded instructions ------------------------------------------------------------

/// `rD = imm` (ALU64 MOV K).
pub fn mov(dst: u8, imm: i32) -> Insn {
    Insn::new(0xb7, dst, 0, 0, imm)
}

/// `exit`.
pub fn exit() -> Insn {
    Insn::new(0x95, 0, 0, 0, 0)
}

/// `call program id`.
pub fn call_prog(id: u32) -> Insn {
    Insn::new(0x85, 0, 2, 0, id as i32)
}

/// `call chain id`.
pub fn call_chain(id: u32) -> Insn {
    Insn::new(0x85, 0, 1, 0, id as i32)
}

/// `r0 = imm; exit`.
pub fn ret(imm: i32) -> Vec<Insn> {
    vec![mov(0, imm), exit()]
}

// ---- packets ------------------------------------------------------------------------------

/// An Ethernet + IPv4 + UDP packet of 64 bytes (the test kit's).
pub fn udp_packet() -> Vec<u8> {
    hike_testkit::packet::ipv4_udp(A4, B4, 1234, 5678, 22)
}

/// Writes the test loader's boot record: chain `chain` with `args`.
pub fn boot(loader: &hike_runtime::Loader, chain: u32, args: [u64; 5]) {
    hike_testkit::vm::boot(loader, chain, &args).expect("write test_boot");
}

// ---- ELF patching -------------------------------------------------------------------------

/// The file offset and size of ELF section `name` (ELF64 little endian).
pub fn elf_section(elf: &[u8], name: &str) -> Option<(usize, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let shoff = u64_at(0x28);
    let shentsize = u16_at(0x3a);
    let shnum = u16_at(0x3c);
    let shstrndx = u16_at(0x3e);
    let strtab = u64_at(shoff + shstrndx * shentsize + 0x18);
    (0..shnum).find_map(|i| {
        let sh = shoff + i * shentsize;
        let n = strtab + u32_at(sh);
        let end = n + elf[n..].iter().position(|&b| b == 0)?;
        (&elf[n..end] == name.as_bytes()).then(|| (u64_at(sh + 0x18), u64_at(sh + 0x20)))
    })
}

// ---- network namespaces -------------------------------------------------------------------

/// Runs `ip` with a fixed argument list; panics with its output if it fails.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh network namespace with a veth pair `veth0`/`veth1`, both up; deleted on drop.
pub struct NetnsGuard {
    pub name: String,
}

impl NetnsGuard {
    pub fn new(prefix: &str) -> NetnsGuard {
        let g = NetnsGuard {
            name: unique(prefix),
        };
        ip(&["netns", "add", &g.name]);
        ip(&[
            "-n", &g.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
        ]);
        ip(&["-n", &g.name, "link", "set", "veth0", "up"]);
        ip(&["-n", &g.name, "link", "set", "veth1", "up"]);
        g
    }

    /// Runs `f` on a thread that has entered the namespace (setns affects one thread only).
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = PathBuf::from("/run/netns").join(&self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = std::fs::File::open(&path).expect("open the netns");
                use std::os::fd::AsRawFd;
                // SAFETY: `ns` is an open namespace file; setns changes only this thread.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("netns thread panicked")
        })
    }

    /// `ip -j link show dev` in the namespace, as text.
    pub fn link_json(&self, dev: &str) -> String {
        ip(&["-n", &self.name, "-j", "link", "show", "dev", dev])
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
