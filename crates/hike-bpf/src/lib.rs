//! The project's eBPF objects, compiled from `bpf/` by clang when this crate is built.
//!
//! Each `bpf/**/NAME.bpf.c` becomes an ELF object embedded here under `NAME`: the HIKe test
//! loader and programs, the standard programs and loaders, the raw baselines of the
//! benchmarks and the network labs' traffic programs. This crate only carries bytes; loading them is `hike-runtime`'s job.
//!
//! ```
//! let loader = hike_bpf::object("test_loader").expect("built from bpf/programs/test");
//! assert_eq!(&loader[..4], b"\x7fELF");
//! ```

/// One compiled eBPF object.
#[derive(Clone, Copy, Debug)]
pub struct Object {
    /// The source file name without `.bpf.c`.
    pub name: &'static str,
    /// The source path, relative to the repository root.
    pub source: &'static str,
    /// The ELF bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/objects.rs"));

/// The ELF bytes of the object built from `NAME.bpf.c`, if there is one.
pub fn object(name: &str) -> Option<&'static [u8]> {
    OBJECTS.iter().find(|o| o.name == name).map(|o| o.bytes)
}

/// The value of the test loader's `test_boot` map (`struct test_boot` in
/// `bpf/programs/test/test_loader.bpf.c`): the chain the next packets start, and its
/// arguments r1..r5 (missing ones are 0). Key 0.
pub fn test_boot_record(chain: u32, args: &[u64]) -> Vec<u8> {
    assert!(
        args.len() <= 5,
        "the test loader passes at most 5 arguments"
    );
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&chain.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    for i in 0..5 {
        v.extend_from_slice(&args.get(i).copied().unwrap_or(0).to_ne_bytes());
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_object_is_a_bpf_elf() {
        assert!(
            super::OBJECTS.len() >= 3,
            "test loader, test programs and raw baseline"
        );
        for o in super::OBJECTS {
            assert_eq!(&o.bytes[..4], b"\x7fELF", "{}", o.name);
            // e_machine (offset 18, little endian) is EM_BPF = 247.
            assert_eq!(
                u16::from_le_bytes([o.bytes[18], o.bytes[19]]),
                247,
                "{}",
                o.name
            );
        }
    }
}
