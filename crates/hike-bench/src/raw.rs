//! Raw eBPF baselines: objects of `bpf/bench/` loaded with libbpf-rs directly, outside any
//! HIKe VM, as a user of plain eBPF would load them.
//!
//! This is the one place of the benchmarks that makes BPF syscalls without `hike-runtime`:
//! a baseline must not share anything with the VM it is compared with.

use std::os::fd::{AsFd, AsRawFd};

use anyhow::{anyhow, Context, Result};
use libbpf_rs::{MapCore, MapFlags, Object, ObjectBuilder};

use crate::measure::{timed, RunOutput};

/// A loaded baseline object.
pub struct RawObject {
    name: &'static str,
    object: Object,
}

impl RawObject {
    /// Opens and loads the object `name` of `hike-bpf`.
    pub fn load(name: &'static str) -> Result<RawObject> {
        let bytes =
            hike_bpf::object(name).ok_or_else(|| anyhow!("`hike-bpf` has no object `{name}`"))?;
        let object = ObjectBuilder::default()
            .open_memory(bytes)
            .with_context(|| format!("open the object `{name}`"))?
            .load()
            .with_context(|| format!("load the object `{name}`"))?;
        Ok(RawObject { name, object })
    }

    fn map(&self, map: &str) -> Result<libbpf_rs::Map<'_>> {
        self.object
            .maps()
            .find(|m| m.name() == map)
            .ok_or_else(|| anyhow!("object `{}` has no map `{map}`", self.name))
    }

    fn program(&self, program: &str) -> Result<libbpf_rs::ProgramMut<'_>> {
        // Mutable only because libbpf-rs offers `test_run` there; nothing is changed.
        self.object
            .progs_mut()
            .find(|p| p.name() == program)
            .ok_or_else(|| anyhow!("object `{}` has no program `{program}`", self.name))
    }

    /// Writes `value` at the `u32` key `key` of the array `map`.
    pub fn set(&self, map: &str, key: u32, value: &[u8]) -> Result<()> {
        self.map(map)?
            .update(&key.to_ne_bytes(), value, MapFlags::ANY)
            .with_context(|| format!("update `{}.{map}`", self.name))
    }

    /// Puts program `program`'s own file descriptor at index `key` of the program array `map`,
    /// so that it can tail-call itself.
    pub fn set_prog_array(&self, map: &str, key: u32, program: &str) -> Result<()> {
        let prog = self.program(program)?;
        // A program array takes the program's file descriptor as a `u32` value.
        let value = (prog.as_fd().as_raw_fd() as u32).to_ne_bytes();
        self.set(map, key, &value)
    }

    /// Runs `packet` through `program` `repeat` times with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, program: &str, packet: &[u8], repeat: u32) -> Result<RunOutput> {
        let prog = self.program(program)?;
        let mut data_out = vec![0u8; packet.len() + 256];
        timed(repeat, || {
            let input = libbpf_rs::ProgramInput {
                data_in: Some(packet),
                data_out: Some(&mut data_out),
                repeat,
                ..Default::default()
            };
            let out = prog
                .test_run(input)
                .with_context(|| format!("test run of `{}.{program}`", self.name))?;
            Ok((out.return_value, out.duration.as_nanos() as u64))
        })
    }
}
