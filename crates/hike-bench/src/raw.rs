//! Raw eBPF baselines: objects of `bpf/bench/` loaded with libbpf-rs directly, outside any
//! HIKe VM, as a user of plain eBPF would load them.
//!
//! This is the one place of the benchmarks that makes BPF syscalls without `hike-runtime`
//! (besides the traffic programs of `hike-netlab`): a baseline must not share anything with
//! the VM it is compared with. (The HIKe loader of a pps measurement is attached by
//! `hike-runtime`; everything else attached to the benchmark's interfaces goes through
//! `hike_netlab::xdp_link`.)

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{anyhow, Context, Result};
use libbpf_rs::{MapCore, MapFlags, Object, ObjectBuilder};

use hike_netlab::sum_u64_fields;

use crate::measure::{timed, Timed};

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
        self.update(map, &key.to_ne_bytes(), value)
    }

    /// Writes `value` at `key` of `map` (any map with a single value).
    pub fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.map(map)?
            .update(key, value, MapFlags::ANY)
            .with_context(|| format!("update `{}.{map}`", self.name))
    }

    /// The value at `key` of the per-CPU `map`, read as native-endian `u64` fields summed
    /// over the CPUs; `None` if the key is absent.
    pub fn percpu_sum(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u64>>> {
        let Some(values) = self
            .map(map)?
            .lookup_percpu(key, MapFlags::ANY)
            .with_context(|| format!("look up `{}.{map}`", self.name))?
        else {
            return Ok(None);
        };
        Ok(Some(sum_u64_fields(&values)))
    }

    /// Deletes every key of `map`.
    pub fn clear(&self, map: &str) -> Result<()> {
        let m = self.map(map)?;
        let keys: Vec<Vec<u8>> = m.keys().collect();
        for k in keys {
            m.delete(&k)
                .with_context(|| format!("delete from `{}.{map}`", self.name))?;
        }
        Ok(())
    }

    /// Every key of `map`.
    pub fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>> {
        Ok(self.map(map)?.keys().collect())
    }

    /// Puts program `program`'s own file descriptor at index `key` of the program array `map`,
    /// so that it can tail-call itself.
    pub fn set_prog_array(&self, map: &str, key: u32, program: &str) -> Result<()> {
        let prog = self.program(program)?;
        // A program array takes the program's file descriptor as a `u32` value.
        let value = (prog.as_fd().as_raw_fd() as u32).to_ne_bytes();
        self.set(map, key, &value)
    }

    /// A new descriptor of `program`, to attach it or run it from another thread.
    pub fn program_fd(&self, program: &str) -> Result<OwnedFd> {
        self.program(program)?
            .as_fd()
            .try_clone_to_owned()
            .with_context(|| format!("duplicate the descriptor of `{}.{program}`", self.name))
    }

    /// Runs `packet` through `program` `repeat` times with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, program: &str, packet: &[u8], repeat: u32) -> Result<Timed> {
        Ok(self.test_run_out(program, packet, repeat)?.0)
    }

    /// Like [`RawObject::test_run`], and returns the packet after the last run too.
    pub fn test_run_out(
        &self,
        program: &str,
        packet: &[u8],
        repeat: u32,
    ) -> Result<(Timed, Vec<u8>)> {
        let prog = self.program(program)?;
        let mut data_out = vec![0u8; packet.len() + 256];
        let mut len = 0;
        let t = timed(repeat, || {
            let input = libbpf_rs::ProgramInput {
                data_in: Some(packet),
                data_out: Some(&mut data_out),
                repeat,
                ..Default::default()
            };
            let out = prog
                .test_run(input)
                .with_context(|| format!("test run of `{}.{program}`", self.name))?;
            len = out.data.map_or(0, |d| d.len());
            Ok((out.return_value, out.duration.as_nanos() as u64))
        })?;
        data_out.truncate(len);
        Ok((t, data_out))
    }
}
