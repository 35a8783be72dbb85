//! A private VM with programs in slots and a loader: what every kernel test and benchmark of
//! the VM sets up before its first packet.
//!
//! [`PrivateVm`] is a [`Vm`] of its own (nothing pinned, so tests run in parallel and leave
//! nothing behind; dropped, it is gone from the kernel) with a [`Symbols`] table that names
//! the programs it loads, so that chains written in HIKe assembly call them by name. The
//! chain a loader starts is chosen through the loader's maps: [`boot`] for the test loader
//! (`test_boot`: a chain and its arguments), [`select_chain`] for the single-chain
//! classifiers (`ip6_sc` and its kin: a `hike_chain_ref`).
//!
//! Every step returns a [`KitError`], so that the benchmarks report a failed set-up like any
//! other error; the tests' own harnesses ([`crate::Lab`], [`crate::Harness`]) panic instead.

use std::collections::BTreeMap;

use hike_isa::abi::{self, VmConfig};
use hike_isa::asm::assemble;
use hike_isa::{Insn, Symbols};
use hike_runtime::{ChainId, Loader, MapRef, ProgramId, Vm, VmOptions};

/// What went wrong while setting up a [`PrivateVm`].
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// `hike-bpf` built no object of this name.
    #[error("`hike-bpf` has no object `{name}`")]
    NoObject {
        /// The object's name (its `.bpf.c` file without the extension).
        name: String,
    },
    /// A program ID beyond the VM's program table.
    #[error("program id {id} is out of range")]
    ProgramId {
        /// The ID.
        id: u32,
    },
    /// A chain ID beyond the VM's chain table.
    #[error("chain id {id} is out of range")]
    ChainId {
        /// The ID.
        id: u32,
    },
    /// No program of this name was loaded into this VM.
    #[error("no program `{name}` in this vm")]
    NoProgram {
        /// The name.
        name: String,
    },
    /// The VM instance could not be created (not root?) or configured.
    #[error("cannot {what} a private vm")]
    Vm {
        /// `create` or `configure`.
        what: &'static str,
        /// Why.
        #[source]
        source: hike_runtime::Error,
    },
    /// A program did not load (the verifier's log is in the source).
    #[error("cannot load `{program}` at program id {slot}")]
    LoadProgram {
        /// The program.
        program: String,
        /// Its slot.
        slot: u32,
        /// Why.
        #[source]
        source: hike_runtime::Error,
    },
    /// A chain's assembly text is wrong.
    #[error("cannot assemble chain {chain}")]
    Assemble {
        /// The chain ID.
        chain: u32,
        /// Why.
        #[source]
        source: hike_isa::asm::AsmError,
    },
    /// A chain calls a program or chain by a name the VM does not know.
    #[error("cannot link chain {chain}")]
    Link {
        /// The chain ID.
        chain: u32,
        /// Why.
        #[source]
        source: hike_isa::asm::LinkError,
    },
    /// The VM refused a chain.
    #[error("cannot install chain {chain}")]
    Install {
        /// The chain ID.
        chain: u32,
        /// Why.
        #[source]
        source: hike_runtime::Error,
    },
    /// A loader did not load.
    #[error("cannot load the loader `{loader}`")]
    LoadLoader {
        /// The loader's object.
        loader: String,
        /// Why.
        #[source]
        source: hike_runtime::Error,
    },
    /// A map could not be found, read or written.
    #[error("map `{map}`")]
    Map {
        /// The map (`PROGRAM.MAP` for a program's).
        map: String,
        /// Why.
        #[source]
        source: hike_runtime::Error,
    },
}

/// A [`KitError`] result.
pub type Result<T, E = KitError> = std::result::Result<T, E>;

/// The ELF object `hike-bpf` built from `NAME.bpf.c`.
pub fn object(name: &str) -> Result<&'static [u8]> {
    hike_bpf::object(name).ok_or_else(|| KitError::NoObject {
        name: name.to_owned(),
    })
}

/// A checked program ID.
pub fn program_id(id: u32) -> Result<ProgramId> {
    ProgramId::new(id).ok_or(KitError::ProgramId { id })
}

/// A checked chain ID.
pub fn chain_id(id: u32) -> Result<ChainId> {
    ChainId::new(id).ok_or(KitError::ChainId { id })
}

/// The object `hike-bpf` built from `NAME.bpf.c` for `context`.
pub fn object_for(name: &str, context: hike_bpf::Context) -> Result<&'static [u8]> {
    hike_bpf::object_for(name, context).ok_or_else(|| KitError::NoObject {
        name: format!("{name} ({context:?})"),
    })
}

/// A private VM whose programs have names; see the module docs.
pub struct PrivateVm {
    vm: Vm,
    /// The build of the objects it loads: the hook the VM runs at.
    context: hike_bpf::Context,
    symbols: Symbols,
    /// The slot of each program loaded, by name (the first slot of a program loaded twice).
    slots: BTreeMap<String, u32>,
}

impl PrivateVm {
    /// A new private VM instance with no program, no chain and the default configuration.
    pub fn new() -> Result<PrivateVm> {
        PrivateVm::with_options(&VmOptions::default())
    }

    /// The same, with `options` (e.g. no grace delay before a replaced chain's code is reused).
    /// Its objects are those of the tests' hook ([`crate::hook::test_context`]).
    pub fn with_options(options: &VmOptions) -> Result<PrivateVm> {
        PrivateVm::with_context(options, crate::hook::test_context())
    }

    /// A private VM that loads the objects built for `context`.
    pub fn with_context(options: &VmOptions, context: hike_bpf::Context) -> Result<PrivateVm> {
        let vm = Vm::with_options(options).map_err(|source| KitError::Vm {
            what: "create",
            source,
        })?;
        Ok(PrivateVm {
            vm,
            context,
            symbols: Symbols::new(),
            slots: BTreeMap::new(),
        })
    }

    /// Sets the execution budget (0: the default) and the configuration flags
    /// ([`abi::CFG_STATS`]: count chain runs and program calls).
    pub fn configure(&self, budget: u32, flags: u32) -> Result<()> {
        self.vm
            .set_config(VmConfig {
                budget,
                flags,
                ..VmConfig::default()
            })
            .map_err(|source| KitError::Vm {
                what: "configure",
                source,
            })
    }

    /// Counters off, default budget: the VM's fast path, as a production loader runs it.
    pub fn configure_fast_path(&self) -> Result<()> {
        self.configure(0, 0)
    }

    /// The VM instance.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The build of the objects this VM loads.
    pub fn context(&self) -> hike_bpf::Context {
        self.context
    }

    /// The names of the programs (and chains) chains may call.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// Loads program `program` of the object `hike-bpf` built from `OBJECT.bpf.c` at program
    /// ID `slot`, and names it for chains (`call prog PROGRAM`). A program loaded again at
    /// another slot keeps the name of its first: chains reach the copy by its ID.
    pub fn load_program(&mut self, slot: u32, object_name: &str, program: &str) -> Result<()> {
        let bytes = object_for(object_name, self.context)?;
        self.vm
            .load_program(bytes, program, program_id(slot)?)
            .map_err(|source| KitError::LoadProgram {
                program: program.to_owned(),
                slot,
                source,
            })?;
        if !self.slots.contains_key(program) {
            self.slots.insert(program.to_owned(), slot);
            self.symbols.add_prog(slot, program);
        }
        Ok(())
    }

    /// Loads standard programs (each the program of the same name in its own object, as
    /// `bpf/programs` builds them) at slots `first`, `first + 1`, … in the order given.
    pub fn load_programs(&mut self, first: u32, programs: &[&str]) -> Result<()> {
        for (slot, name) in (first..).zip(programs) {
            self.load_program(slot, name, name)?;
        }
        Ok(())
    }

    /// The slot of program `name`.
    pub fn slot(&self, name: &str) -> Result<u32> {
        self.slots
            .get(name)
            .copied()
            .ok_or_else(|| KitError::NoProgram {
                name: name.to_owned(),
            })
    }

    /// Names chain `id` for `call chain NAME` in later [`PrivateVm::install`]s.
    pub fn name_chain(&mut self, id: u32, name: &str) {
        self.symbols.add_chain(id, name);
    }

    /// Assembles `text` (programs and chains called by name), links it against the names of
    /// this VM and installs it as chain `id`, unvalidated; returns the instructions installed.
    pub fn install(&self, id: u32, text: &str, nparams: u8) -> Result<Vec<Insn>> {
        let insns = assemble(text)
            .map_err(|source| KitError::Assemble { chain: id, source })?
            .link(&self.symbols)
            .map_err(|source| KitError::Link { chain: id, source })?;
        self.install_insns(id, &insns, nparams)?;
        Ok(insns)
    }

    /// Installs `insns` as chain `id`, unvalidated.
    pub fn install_insns(&self, id: u32, insns: &[Insn], nparams: u8) -> Result<()> {
        self.vm
            .install_chain(chain_id(id)?, insns, nparams)
            .map_err(|source| KitError::Install { chain: id, source })
    }

    /// Map `map` of program `program`.
    pub fn program_map(&self, program: &str, map: &str) -> Result<MapRef> {
        self.vm
            .program_map(program_id(self.slot(program)?)?, map)
            .map_err(|source| KitError::Map {
                map: format!("{program}.{map}"),
                source,
            })
    }

    /// Loads the loader of the object `hike-bpf` built from `OBJECT.bpf.c` (its program has
    /// the object's name), called `name` in the instance.
    pub fn load_loader(&self, name: &str, object_name: &str) -> Result<Loader> {
        self.vm
            .load_loader(name, object_for(object_name, self.context)?, object_name)
            .map_err(|source| KitError::LoadLoader {
                loader: object_name.to_owned(),
                source,
            })
    }
}

/// Writes `value` at `key` of the loader's map `map`.
fn write(loader: &Loader, map: &str, key: &[u8], value: &[u8]) -> Result<()> {
    let err = |source| KitError::Map {
        map: map.to_owned(),
        source,
    };
    loader
        .map(map)
        .map_err(err)?
        .update(key, value, Default::default())
        .map_err(err)
}

/// Makes the test loader (`bpf/programs/test/test_loader.bpf.c`) start chain `chain` with
/// `args` (`r1..r5`, missing ones 0) for the next packets.
pub fn boot(loader: &Loader, chain: u32, args: &[u64]) -> Result<()> {
    let record = hike_bpf::test_boot_record(chain, args);
    write(loader, "test_boot", &0u32.to_ne_bytes(), &record)
}

/// Makes a single-chain classifier (`ip6_sc`: map `ipv6_sc_map`, and its kin) start chain
/// `chain` for every packet it applies to: its map `map` holds a `hike_chain_ref` at key 0.
pub fn select_chain(loader: &Loader, map: &str, chain: u32) -> Result<()> {
    let chain_ref = abi::chain_ref(chain);
    write(loader, map, &0u32.to_ne_bytes(), &chain_ref.to_ne_bytes())
}

/// Sets a loader's default and fail-safe verdicts (its `hike_ldr_cfg`).
pub fn set_verdicts(loader: &Loader, default_verdict: u32, failsafe_verdict: u32) -> Result<()> {
    let cfg = abi::LoaderConfig {
        default_verdict,
        failsafe_verdict,
        flags: abi::LDR_VERDICTS_SET,
        dispatch: 0,
    };
    write(
        loader,
        "hike_ldr_cfg",
        &0u32.to_ne_bytes(),
        bytemuck::bytes_of(&cfg),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_boot_record_is_the_loaders_struct() {
        // `struct test_boot` of test_loader.bpf.c: the chain (u32, padded to 8), r1..r5.
        let v = hike_bpf::test_boot_record(7, &[9]);
        assert_eq!(v.len(), 4 + 4 + 5 * 8);
        assert_eq!(u32::from_ne_bytes(v[..4].try_into().unwrap()), 7);
        assert_eq!(u64::from_ne_bytes(v[8..16].try_into().unwrap()), 9);
    }
}
