//! Reading a HIKe program's signature from BTF, through libbpf.
//!
//! The SDK tags each program's entry function with BTF declaration tags
//! ([`hike_isa::abi::tags`]): `hike_prog` (it is a HIKe program) and `hike_params:a, b, c`
//! (the names of its parameters, in order). The runtime needs them for programs that are
//! already loaded: [`crate::Vm::programs`] and [`crate::Vm::validation_context`] read them
//! from the BTF the kernel keeps for each program (`BPF_BTF_GET_FD_BY_ID`), which is why this
//! reader is here and goes through libbpf. The same reader over an object's bytes
//! ([`program_signatures`]) serves the runtime's tests and the standard programs' manifest
//! tests. What an object declares before it is loaded, for the compiler (programs, tags,
//! terminal programs, map layouts), is read by `eclat-catalog` without libbpf.

use hike_isa::abi::tags;
use libbpf_rs::btf::types::{DeclTag, Func};
use libbpf_rs::{Btf, ReferencesType};

use crate::{Error, Result};

/// What the BTF says about a HIKe program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSignature {
    /// The entry function's name.
    pub name: String,
    /// Its parameter names, in order (empty if it declares none).
    pub params: Vec<String>,
}

/// The signature of the program `name` of the object in `object`: `None` if the object has no
/// BTF, no function `name`, or no `hike_prog` tag on it.
pub fn program_signature(object: &[u8], name: &str) -> Result<Option<ProgramSignature>> {
    Ok(program_signatures(object)?
        .into_iter()
        .find(|s| s.name == name))
}

/// The signatures of every function tagged `hike_prog` in the object, in BTF order.
pub fn program_signatures(object: &[u8]) -> Result<Vec<ProgramSignature>> {
    let btf = Btf::from_raw("hike", object).map_err(|source| Error::OpenObject {
        object: "btf".to_owned(),
        source,
    })?;
    Ok(btf.map(|b| signatures_in(&b)).unwrap_or_default())
}

/// The signature of the loaded program with kernel ID `kernel_id` and name `name`, read from
/// the BTF the kernel keeps for it; `None` if it has none or is not a tagged HIKe program.
pub(crate) fn loaded_program_signature(kernel_id: u32, name: &str) -> Option<ProgramSignature> {
    let btf = Btf::from_prog_id(kernel_id).ok()?;
    signatures_in(&btf).into_iter().find(|s| s.name == name)
}

fn signatures_in(btf: &Btf<'_>) -> Vec<ProgramSignature> {
    let mut found: Vec<(u32, ProgramSignature, bool)> = Vec::new();
    for tag in btf.type_by_kind::<DeclTag<'_>>() {
        if tag.component_index().is_some() {
            continue;
        }
        let Some(text) = tag.name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let target = tag.referenced_type_id();
        let Some(func) = btf.type_by_id::<Func<'_>>(target) else {
            continue;
        };
        let Some(fname) = func.name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let key = u32::from(target);
        let idx = match found.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                found.push((
                    key,
                    ProgramSignature {
                        name: fname,
                        params: Vec::new(),
                    },
                    false,
                ));
                found.len() - 1
            }
        };
        if text == tags::PROG {
            found[idx].2 = true;
        } else if let Some(params) = tags::params(&text) {
            found[idx].1.params = params;
        }
    }
    found.sort_by_key(|(k, _, _)| *k);
    found
        .into_iter()
        .filter(|(_, _, is_prog)| *is_prog)
        .map(|(_, s, _)| s)
        .collect()
}
