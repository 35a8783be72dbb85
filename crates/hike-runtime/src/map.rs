//! Typed access to a loaded map by raw key and value bytes.
//!
//! A [`MapRef`] is a cheap, clonable reference to one kernel map of a program, a loader or the
//! VM itself. It checks every key and value against the map's layout before the syscall, so
//! a wrong size is an [`Error::InvalidKeySize`] or [`Error::InvalidValueSize`] that names the
//! map and the expected size, never a bare `EINVAL`. Per-CPU maps are read either per CPU or
//! summed as 64-bit counters.

use std::sync::Arc;

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use crate::{Error, Result};

/// How an update treats an existing entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateMode {
    /// Create or overwrite.
    #[default]
    Any,
    /// Only create; fail if the key exists.
    NoExist,
    /// Only overwrite; fail if the key does not exist.
    Exist,
}

impl UpdateMode {
    fn flags(self) -> MapFlags {
        match self {
            UpdateMode::Any => MapFlags::ANY,
            UpdateMode::NoExist => MapFlags::NO_EXIST,
            UpdateMode::Exist => MapFlags::EXIST,
        }
    }
}

/// A reference to one loaded map, with checked raw access.
#[derive(Clone, Debug)]
pub struct MapRef {
    name: Arc<str>,
    handle: Arc<MapHandle>,
}

impl MapRef {
    /// Wraps a handle; `name` is what errors call the map (usually `owner.map`).
    pub(crate) fn new(name: impl Into<Arc<str>>, handle: MapHandle) -> MapRef {
        MapRef {
            name: name.into(),
            handle: Arc::new(handle),
        }
    }

    /// The name used in errors and dumps.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.handle.map_type()
    }

    /// Key bytes.
    pub fn key_size(&self) -> usize {
        self.handle.key_size() as usize
    }

    /// Value bytes (per CPU for a per-CPU map).
    pub fn value_size(&self) -> usize {
        self.handle.value_size() as usize
    }

    /// Maximum entries.
    pub fn max_entries(&self) -> u32 {
        self.handle.max_entries()
    }

    /// Whether the map holds one value per CPU.
    pub fn is_percpu(&self) -> bool {
        self.map_type().is_percpu()
    }

    /// The underlying libbpf handle, for what this type does not offer.
    pub fn handle(&self) -> &MapHandle {
        &self.handle
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() != self.key_size() {
            return Err(Error::InvalidKeySize {
                map: self.name.to_string(),
                size: key.len(),
                expected: self.key_size(),
            });
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8]) -> Result<()> {
        if value.len() != self.value_size() {
            return Err(Error::InvalidValueSize {
                map: self.name.to_string(),
                size: value.len(),
                expected: self.value_size(),
            });
        }
        Ok(())
    }

    fn op_err(&self, op: &'static str) -> impl FnOnce(libbpf_rs::Error) -> Error + '_ {
        move |source| Error::MapOp {
            op,
            map: self.name.to_string(),
            source,
        }
    }

    /// The value of `key`; for a per-CPU map, the values summed as 64-bit counters
    /// (see [`MapRef::lookup_percpu`] for the raw values).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.is_percpu() {
            return match self.lookup_percpu(key)? {
                Some(values) => Ok(Some(self.sum_u64(&values)?)),
                None => Ok(None),
            };
        }
        self.check_key(key)?;
        self.handle
            .lookup(key, MapFlags::ANY)
            .map_err(self.op_err("look up"))
    }

    /// One value per possible CPU of a per-CPU map (for any other map, its one value).
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        self.check_key(key)?;
        if !self.is_percpu() {
            return Ok(self.lookup(key)?.map(|v| vec![v]));
        }
        self.handle
            .lookup_percpu(key, MapFlags::ANY)
            .map_err(self.op_err("look up"))
    }

    /// Sums per-CPU values as native-endian `u64` counters, element-wise (wrapping).
    pub fn sum_u64(&self, values: &[Vec<u8>]) -> Result<Vec<u8>> {
        let size = self.value_size();
        if size % 8 != 0 {
            return Err(Error::NotSummable {
                map: self.name.to_string(),
                value_size: size,
            });
        }
        let mut sum = vec![0u64; size / 8];
        for v in values {
            for (s, chunk) in sum.iter_mut().zip(v.chunks_exact(8)) {
                *s = s.wrapping_add(u64::from_ne_bytes(chunk.try_into().expect("chunk of 8")));
            }
        }
        Ok(sum.iter().flat_map(|w| w.to_ne_bytes()).collect())
    }

    /// Writes `value` at `key`; for a per-CPU map, the same value on every CPU.
    pub fn update(&self, key: &[u8], value: &[u8], mode: UpdateMode) -> Result<()> {
        self.check_key(key)?;
        self.check_value(value)?;
        if self.is_percpu() {
            let n = libbpf_rs::num_possible_cpus().map_err(|source| Error::CpuCount { source })?;
            let values = vec![value.to_vec(); n];
            return self.update_percpu(key, &values, mode);
        }
        self.handle
            .update(key, value, mode.flags())
            .map_err(self.op_err("update"))
    }

    /// Writes one value per possible CPU at `key` of a per-CPU map.
    pub fn update_percpu(&self, key: &[u8], values: &[Vec<u8>], mode: UpdateMode) -> Result<()> {
        self.check_key(key)?;
        let n = libbpf_rs::num_possible_cpus().map_err(|source| Error::CpuCount { source })?;
        if values.len() != n {
            return Err(Error::InvalidCpuCount {
                map: self.name.to_string(),
                count: values.len(),
                expected: n,
            });
        }
        for v in values {
            self.check_value(v)?;
        }
        self.handle
            .update_percpu(key, values, mode.flags())
            .map_err(self.op_err("update"))
    }

    /// Deletes `key`. Returns whether it was there. (Arrays cannot delete: an error.)
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        match self.handle.delete(key) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.op_err("delete")(e)),
        }
    }

    /// Every key, in the kernel's iteration order.
    ///
    /// If the map changes during the iteration, keys may be skipped or repeated.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.handle.keys().collect()
    }

    /// Every entry (per-CPU values summed as 64-bit counters), for dumps.
    ///
    /// Keys that disappear between listing and lookup are skipped.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for k in self.keys() {
            if let Some(v) = self.lookup(&k)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }
}
