//! Loading one program of a BPF object into a VM instance.
//!
//! The lifecycle is libbpf's: bytes → [`libbpf_rs::OpenObject`] (here the runtime points the
//! object's shared VM map declarations at the instance's maps, and its `LIBBPF_PIN_BY_NAME`
//! maps at the instance's maps shared by name) → loaded [`libbpf_rs::Object`] → a
//! [`LoadedObject`] that keeps only file descriptors: the program and the object's own maps.
//! The libbpf object is closed at the end; the kernel objects live on through those
//! descriptors (and through the program table and pins).

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;

use libbpf_rs::{AsRawLibbpf, MapCore, MapHandle, ObjectBuilder, OpenMapMut, ProgramHandle};

use crate::vm_maps::{layout_of, MapLayout, VmMap, VmMaps};
use crate::{sys, Error, Result};

/// Bytes kept of a failed load's verifier log (the kernel keeps the tail, where the error is).
const VERIFIER_LOG_BYTES: usize = 1 << 20;

/// Maps shared by name among the objects of one instance: the maps that objects declare with
/// `__uint(pinning, LIBBPF_PIN_BY_NAME)`. The first object to declare one creates it; later
/// objects reuse it. In a pinned instance they are pinned in `pin_dir`.
#[derive(Debug, Default)]
pub(crate) struct NamedMaps {
    pub(crate) maps: BTreeMap<String, MapHandle>,
    pub(crate) pin_dir: Option<PathBuf>,
}

/// A loaded program and its object's own maps (the shared VM maps excluded).
#[derive(Debug)]
pub(crate) struct LoadedObject {
    pub(crate) program: ProgramHandle,
    pub(crate) maps: BTreeMap<String, MapHandle>,
}

fn open_layout(m: &OpenMapMut<'_>) -> MapLayout {
    MapLayout {
        map_type: m.map_type(),
        key_size: m.key_size(),
        value_size: m.value_size(),
        max_entries: m.max_entries(),
        flags: m.map_flags(),
    }
}

/// A name libbpf accepts as an object name (it prefixes internal map names with it).
fn object_name(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "hike".to_owned()
    } else {
        s
    }
}

/// Loads `program` of the object in `bytes` (and only it) with the instance's maps.
/// `label` names the object in errors and prefixes its internal maps.
pub(crate) fn load(
    vm_maps: &VmMaps,
    named: &mut NamedMaps,
    label: &str,
    bytes: &[u8],
    program: &str,
) -> Result<LoadedObject> {
    load_reusing(vm_maps, named, label, bytes, program, &BTreeMap::new())
}

/// [`load`], with the maps of `reuse` (by name) used instead of new ones: a fused program's
/// maps are those of the interpreted objects it was built from.
pub(crate) fn load_reusing(
    vm_maps: &VmMaps,
    named: &mut NamedMaps,
    label: &str,
    bytes: &[u8],
    program: &str,
    reuse: &BTreeMap<String, crate::MapRef>,
) -> Result<LoadedObject> {
    // Declared before the open object so that, on every early return, the object (which holds
    // a pointer to it) is closed before the buffer is freed.
    let mut log = vec![0u8; VERIFIER_LOG_BYTES];
    let mut builder = ObjectBuilder::default();
    builder
        .name(object_name(label))
        .map_err(|source| Error::OpenObject {
            object: label.to_owned(),
            source,
        })?;
    let mut open = builder
        .open_memory(bytes)
        .map_err(|source| Error::OpenObject {
            object: label.to_owned(),
            source,
        })?;

    let available: Vec<String> = open
        .progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    if !available.iter().any(|p| p == program) {
        return Err(Error::ProgramNotFound {
            object: label.to_owned(),
            program: program.to_owned(),
            available,
        });
    }

    for mut p in open.progs_mut() {
        if p.name() == program {
            // SAFETY: the program belongs to `open`, not yet loaded. `log` is declared before
            // `open`, so on an early return `open` is closed first; otherwise `log` lives past
            // the `load` call below, after which libbpf no longer writes to it.
            unsafe { sys::set_log_buf(p.as_libbpf_object(), &mut log) }.map_err(|e| {
                Error::Prepare {
                    object: label.to_owned(),
                    item: program.to_owned(),
                    source: libbpf_rs::Error::from(e),
                }
            })?;
        } else {
            p.set_autoload(false);
        }
    }

    let mut new_named = Vec::new();
    for mut m in open.maps_mut() {
        let name = m.name().to_string_lossy().into_owned();
        let prep_err = |source| Error::Prepare {
            object: label.to_owned(),
            item: name.clone(),
            source,
        };
        // SAFETY: `m` is a live map of the opened, not yet loaded `open`.
        let pinned_by_name = unsafe { sys::has_pin_path(m.as_libbpf_object()) };
        if let Some(vm_map) = VmMap::from_name(&name) {
            let expected = vm_map.layout();
            let found = open_layout(&m);
            if found != expected {
                return Err(Error::MapLayoutMismatch {
                    owner: label.to_owned(),
                    map: name,
                    expected,
                    found,
                });
            }
            m.reuse_fd(vm_maps.get(vm_map).as_fd()).map_err(prep_err)?;
        } else if let Some(shared) = reuse.get(&name) {
            let expected = layout_of(shared.handle())?;
            let found = open_layout(&m);
            if found != expected {
                return Err(Error::MapLayoutMismatch {
                    owner: label.to_owned(),
                    map: name,
                    expected,
                    found,
                });
            }
            if pinned_by_name {
                // SAFETY: as below: the runtime shares this map itself.
                unsafe { sys::clear_pin_path(m.as_libbpf_object()) }
                    .map_err(|e| prep_err(libbpf_rs::Error::from(e)))?;
            }
            m.reuse_fd(shared.handle().as_fd()).map_err(prep_err)?;
        } else if pinned_by_name {
            // SAFETY: as above; the runtime shares these maps itself, so libbpf must not pin
            // them (it would pin outside the instance's directory).
            unsafe { sys::clear_pin_path(m.as_libbpf_object()) }
                .map_err(|e| prep_err(libbpf_rs::Error::from(e)))?;
            if let Some(shared) = named.maps.get(&name) {
                let expected = layout_of(shared)?;
                let found = open_layout(&m);
                if found != expected {
                    return Err(Error::MapLayoutMismatch {
                        owner: label.to_owned(),
                        map: name,
                        expected,
                        found,
                    });
                }
                m.reuse_fd(shared.as_fd()).map_err(prep_err)?;
            } else {
                new_named.push(name);
            }
        }
    }

    let loaded = match open.load() {
        Ok(o) => o,
        Err(libbpf) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim_end().to_owned();
            // The whole log goes to a file; the message shows its summary.
            let log_file = (!text.is_empty())
                .then(|| crate::verifier::save_log(label, program, &text).ok())
                .flatten()
                .map(Box::new);
            return Err(Error::Load {
                object: label.to_owned(),
                program: program.to_owned(),
                log: text,
                log_file,
                libbpf,
            });
        }
    };
    // `log` must outlive the load only; libbpf does not touch it after `load` returns.
    drop(log);

    let take_err = |name: &str| {
        let object = label.to_owned();
        let name = name.to_owned();
        move |source| Error::TakeFd {
            object,
            name,
            source,
        }
    };
    let prog = loaded
        .progs_mut()
        .find(|p| p.name() == program)
        .expect("the program was found before loading");
    let program_fd =
        ProgramHandle::try_from(&prog).map_err(|e| take_err(program)(std::io::Error::other(e)))?;

    let mut maps = BTreeMap::new();
    for m in loaded.maps() {
        let name = m.name().to_string_lossy().into_owned();
        if VmMap::from_name(&name).is_some() {
            continue;
        }
        let h = MapHandle::try_from(&m).map_err(|e| take_err(&name)(std::io::Error::other(e)))?;
        maps.insert(name, h);
    }
    for name in new_named {
        if let Some(h) = maps.get(&name) {
            let dup =
                MapHandle::try_from(h).map_err(|e| take_err(&name)(std::io::Error::other(e)))?;
            if let Some(dir) = &named.pin_dir {
                let path = dir.join(crate::pin::pin_name(&name));
                sys::obj_pin(dup.as_fd(), &path).map_err(|source| Error::Pin {
                    op: "pin",
                    path,
                    source,
                })?;
            }
            named.maps.insert(name, dup);
        }
    }
    Ok(LoadedObject {
        program: program_fd,
        maps,
    })
}

impl LoadedObject {
    /// Pins the program as `dir/prog_<program>` and each map as `dir/maps/<map>`.
    pub(crate) fn pin(&self, dir: &std::path::Path, program: &str) -> Result<()> {
        let maps_dir = dir.join("maps");
        crate::pin::create_dir(&maps_dir)?;
        let path = dir.join(format!(
            "{}{}",
            crate::pin::PROG_PREFIX,
            crate::pin::pin_name(program)
        ));
        sys::obj_pin(self.program.as_fd(), &path).map_err(|source| Error::Pin {
            op: "pin",
            path,
            source,
        })?;
        for (name, h) in &self.maps {
            let path = maps_dir.join(crate::pin::pin_name(name));
            sys::obj_pin(h.as_fd(), &path).map_err(|source| Error::Pin {
                op: "pin",
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Opens what [`LoadedObject::pin`] pinned in `dir`; returns the program's name too.
    /// `None` if `dir` holds no program pin.
    pub(crate) fn open_pinned(dir: &std::path::Path) -> Result<Option<(String, LoadedObject)>> {
        let Some((path, program)) = crate::pin::find_program_pin(dir)? else {
            return Ok(None);
        };
        let handle = ProgramHandle::from_pinned_path(&path).map_err(|e| Error::Pin {
            op: "open pin",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let maps_dir = dir.join("maps");
        let mut maps = BTreeMap::new();
        for entry in crate::pin::list_dir(&maps_dir)? {
            let path = maps_dir.join(&entry);
            let h = MapHandle::from_pinned_path(&path).map_err(|e| Error::Pin {
                op: "open pin",
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
            maps.insert(crate::pin::unpin_name(&entry), h);
        }
        Ok(Some((
            program,
            LoadedObject {
                program: handle,
                maps,
            },
        )))
    }
}
