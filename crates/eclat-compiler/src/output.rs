//! What a compilation produces ([`CompiledScript`]) and its two printed forms: the
//! disassembly of `eclat compile --emit asm` and the JSON of `--emit json` ([`wire`]).

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use eclat_syntax::ast::IntType;
use hike_isa::asm::{Assembly, RelocKind};
use hike_isa::disasm::disassemble_with;
use hike_isa::{Insn, Symbols};

/// Whether a map belongs to a loader or a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    /// A loader's map (the classifier that selects chains).
    Loader,
    /// A program's map.
    Program,
}

/// One item of a map key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    /// A number of this type.
    Int {
        /// The field's type.
        ty: IntType,
        /// The value.
        value: u64,
    },
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// A chain, by name; the runtime writes its ID.
    Chain(String),
}

/// `key: value` of a map configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// Key fields.
    pub key: Vec<MapValue>,
    /// Value fields.
    pub value: Vec<MapValue>,
}

/// `OWNER[MAP] = { ... }`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapConfig {
    /// The loader or program.
    pub owner: String,
    /// Which of the two it is.
    pub owner_kind: OwnerKind,
    /// The map's real name (aliases resolved).
    pub map: String,
    /// Entries in source order.
    pub entries: Vec<MapEntry>,
}

/// `LOADER.attach(DEVICE, HOOK)`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The loader.
    pub loader: String,
    /// Its package.
    pub package: String,
    /// The device name as written (`DEVNAME` placeholders are the runtime's business).
    pub device: String,
    /// `xdp`, `tc_ingress` or `tc_egress`.
    pub hook: String,
}

/// An imported program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedProgram {
    /// Its name.
    pub name: String,
    /// The package it was imported from.
    pub package: String,
    /// The package whose folder holds its source.
    pub home: String,
    /// Parameter names.
    pub params: Vec<String>,
    /// Whether it ends the packet.
    pub terminal: bool,
}

/// An imported loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedLoader {
    /// Its name.
    pub name: String,
    /// Its package.
    pub package: String,
}

/// A chain imported from another script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedChain {
    /// Its name.
    pub name: String,
    /// The script that defines it.
    pub script: String,
    /// Its parameter count.
    pub params: usize,
}

/// One compiled chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledChain {
    /// Its name.
    pub name: String,
    /// Parameters and their types.
    pub params: Vec<(String, IntType)>,
    /// Bytecode with unresolved program and chain calls.
    pub assembly: Assembly,
    /// Bytes of stack it uses.
    pub stack_bytes: usize,
    /// Whether it returns a value (an eCLAT chain with a `return VALUE`, any C chain): the
    /// `r0` it exits with is meaningful only then.
    pub returns_value: bool,
}

/// A compiled script: what the runtime loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompiledScript {
    /// Chains in source order.
    pub chains: Vec<CompiledChain>,
    /// Map configurations in source order.
    pub maps: Vec<MapConfig>,
    /// Attachments in source order.
    pub attachments: Vec<Attachment>,
    /// Imported programs.
    pub programs: Vec<ImportedProgram>,
    /// Imported loaders.
    pub loaders: Vec<ImportedLoader>,
    /// Chains imported from other scripts.
    pub imported_chains: Vec<ImportedChain>,
}

impl CompiledScript {
    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&CompiledChain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// Display IDs for every program and chain the chains call, so that the disassembler can
    /// print their names: programs and chains numbered in order of first use.
    pub fn display_symbols(&self) -> Symbols {
        let mut symbols = Symbols::new();
        let (mut progs, mut chains) = (Vec::<&str>::new(), Vec::<&str>::new());
        for c in &self.chains {
            chains.push(&c.name);
        }
        for c in &self.chains {
            for r in &c.assembly.relocations {
                let list = match r.kind {
                    RelocKind::Prog => &mut progs,
                    RelocKind::Chain => &mut chains,
                };
                if !list.contains(&r.name.as_str()) {
                    list.push(&r.name);
                }
            }
        }
        for (i, p) in progs.iter().enumerate() {
            symbols.add_prog(i as u32, *p);
        }
        for (i, c) in chains.iter().enumerate() {
            symbols.add_chain(i as u32, *c);
        }
        symbols
    }

    /// The instructions of `chain` linked with [`Self::display_symbols`].
    pub fn display_insns(&self, chain: &CompiledChain, symbols: &Symbols) -> Vec<Insn> {
        chain
            .assembly
            .link(symbols)
            .expect("display symbols name every relocation")
    }

    /// Every chain, disassembled with symbolic names.
    pub fn disassemble(&self) -> String {
        let symbols = self.display_symbols();
        let mut out = String::new();
        for (i, c) in self.chains.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let params = c
                .params
                .iter()
                .map(|(n, t)| format!("{t} : {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "; chain {}({params}): {} instructions, {} bytes of stack",
                c.name,
                c.assembly.insns.len(),
                c.stack_bytes
            );
            let _ = writeln!(out, "{}:", c.name);
            out.push_str(&disassemble_with(
                &self.display_insns(c, &symbols),
                &symbols,
            ));
        }
        out
    }

    /// The machine-readable form of `eclat compile --emit json`.
    pub fn wire(&self) -> wire::Script {
        wire::Script::from(self)
    }
}

/// The JSON form of a compiled script, a stable contract for the runtime:
///
/// ```json
/// {
///   "format": "eclat-bytecode/1",
///   "programs": [{"name": "monitor", "package": "net", "home": "hike_default",
///                 "params": ["event"], "terminal": false}],
///   "loaders": [{"name": "ip6_sc", "package": "basic"}],
///   "imported_chains": [{"name": "helper", "script": "other", "params": 1}],
///   "chains": [{"name": "ddos", "params": [{"name": "a", "type": "u64"}],
///               "stack_bytes": 0,
///               "insns": ["b701000002000000", "..."],
///               "relocations": [{"index": 1, "kind": "prog", "name": "monitor"}]}],
///   "maps": [{"owner": "ip6_sc", "owner_kind": "loader", "map": "ipv6_sc_map",
///             "entries": [{"key": [{"type": "u32", "value": 0}],
///                          "value": [{"type": "chain", "value": "ddos"}]}]}],
///   "attach": [{"loader": "ip6_sc", "package": "basic", "device": "DEVNAME", "hook": "xdp"}]
/// }
/// ```
///
/// Each instruction is the 16 hex digits of its 8 bytes as stored in the code heap
/// (`Insn::to_bytes`); a relocation's instruction has `imm` 0 until the runtime writes the
/// program's or chain's ID there. Addresses are strings (`"ipv4"`, `"ipv6"` types).
pub mod wire {
    use serde::Serialize;

    use super::{CompiledScript, MapValue, OwnerKind};
    use hike_isa::asm::RelocKind;

    /// The whole script.
    #[derive(Clone, Debug, Serialize)]
    pub struct Script {
        /// `eclat-bytecode/1`.
        pub format: &'static str,
        /// Imported programs.
        pub programs: Vec<Program>,
        /// Imported loaders.
        pub loaders: Vec<Loader>,
        /// Chains imported from other scripts.
        pub imported_chains: Vec<ImportedChain>,
        /// Compiled chains.
        pub chains: Vec<Chain>,
        /// Map configurations.
        pub maps: Vec<Map>,
        /// Attachments.
        pub attach: Vec<Attach>,
    }

    /// An imported program.
    #[derive(Clone, Debug, Serialize)]
    pub struct Program {
        /// Name.
        pub name: String,
        /// Package imported from.
        pub package: String,
        /// Package holding its source.
        pub home: String,
        /// Parameter names.
        pub params: Vec<String>,
        /// Ends the packet.
        pub terminal: bool,
    }

    /// An imported loader.
    #[derive(Clone, Debug, Serialize)]
    pub struct Loader {
        /// Name.
        pub name: String,
        /// Package.
        pub package: String,
    }

    /// A chain of another script.
    #[derive(Clone, Debug, Serialize)]
    pub struct ImportedChain {
        /// Name.
        pub name: String,
        /// Script.
        pub script: String,
        /// Parameter count.
        pub params: usize,
    }

    /// A compiled chain.
    #[derive(Clone, Debug, Serialize)]
    pub struct Chain {
        /// Name.
        pub name: String,
        /// Parameters.
        pub params: Vec<Param>,
        /// Stack bytes used.
        pub stack_bytes: usize,
        /// Instructions, 16 hex digits each.
        pub insns: Vec<String>,
        /// Calls to link.
        pub relocations: Vec<Relocation>,
    }

    /// A chain parameter.
    #[derive(Clone, Debug, Serialize)]
    pub struct Param {
        /// Name.
        pub name: String,
        /// Type (`u8` ... `s64`).
        #[serde(rename = "type")]
        pub ty: String,
    }

    /// A call to link.
    #[derive(Clone, Debug, Serialize)]
    pub struct Relocation {
        /// Instruction index.
        pub index: usize,
        /// `prog` or `chain`.
        pub kind: &'static str,
        /// The name.
        pub name: String,
    }

    /// A map configuration.
    #[derive(Clone, Debug, Serialize)]
    pub struct Map {
        /// Loader or program.
        pub owner: String,
        /// `loader` or `program`.
        pub owner_kind: &'static str,
        /// The map.
        pub map: String,
        /// Entries.
        pub entries: Vec<Entry>,
    }

    /// A map entry.
    #[derive(Clone, Debug, Serialize)]
    pub struct Entry {
        /// Key fields.
        pub key: Vec<Value>,
        /// Value fields.
        pub value: Vec<Value>,
    }

    /// A typed field value.
    #[derive(Clone, Debug, Serialize)]
    pub struct Value {
        /// `u8` ... `u64`, `ipv4`, `ipv6` or `chain`.
        #[serde(rename = "type")]
        pub ty: String,
        /// A number, or a string for addresses and chains.
        pub value: Scalar,
    }

    /// A number or a string.
    #[derive(Clone, Debug, Serialize)]
    #[serde(untagged)]
    pub enum Scalar {
        /// A number.
        Int(u64),
        /// A string.
        Text(String),
    }

    /// An attachment.
    #[derive(Clone, Debug, Serialize)]
    pub struct Attach {
        /// Loader.
        pub loader: String,
        /// Its package.
        pub package: String,
        /// Device.
        pub device: String,
        /// `xdp` or `tc`.
        pub hook: String,
    }

    fn value(v: &MapValue) -> Value {
        match v {
            MapValue::Int { ty, value } => Value {
                ty: ty.to_string(),
                value: Scalar::Int(*value),
            },
            MapValue::Ipv4(a) => Value {
                ty: "ipv4".into(),
                value: Scalar::Text(a.to_string()),
            },
            MapValue::Ipv6(a) => Value {
                ty: "ipv6".into(),
                value: Scalar::Text(a.to_string()),
            },
            MapValue::Chain(c) => Value {
                ty: "chain".into(),
                value: Scalar::Text(c.clone()),
            },
        }
    }

    impl From<&CompiledScript> for Script {
        fn from(s: &CompiledScript) -> Script {
            Script {
                format: "eclat-bytecode/1",
                programs: s
                    .programs
                    .iter()
                    .map(|p| Program {
                        name: p.name.clone(),
                        package: p.package.clone(),
                        home: p.home.clone(),
                        params: p.params.clone(),
                        terminal: p.terminal,
                    })
                    .collect(),
                loaders: s
                    .loaders
                    .iter()
                    .map(|l| Loader {
                        name: l.name.clone(),
                        package: l.package.clone(),
                    })
                    .collect(),
                imported_chains: s
                    .imported_chains
                    .iter()
                    .map(|c| ImportedChain {
                        name: c.name.clone(),
                        script: c.script.clone(),
                        params: c.params,
                    })
                    .collect(),
                chains: s
                    .chains
                    .iter()
                    .map(|c| Chain {
                        name: c.name.clone(),
                        params: c
                            .params
                            .iter()
                            .map(|(n, t)| Param {
                                name: n.clone(),
                                ty: t.to_string(),
                            })
                            .collect(),
                        stack_bytes: c.stack_bytes,
                        insns: c
                            .assembly
                            .insns
                            .iter()
                            .map(|i| i.to_bytes().iter().map(|b| format!("{b:02x}")).collect())
                            .collect(),
                        relocations: c
                            .assembly
                            .relocations
                            .iter()
                            .map(|r| Relocation {
                                index: r.index,
                                kind: match r.kind {
                                    RelocKind::Prog => "prog",
                                    RelocKind::Chain => "chain",
                                },
                                name: r.name.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                maps: s
                    .maps
                    .iter()
                    .map(|m| Map {
                        owner: m.owner.clone(),
                        owner_kind: match m.owner_kind {
                            OwnerKind::Loader => "loader",
                            OwnerKind::Program => "program",
                        },
                        map: m.map.clone(),
                        entries: m
                            .entries
                            .iter()
                            .map(|e| Entry {
                                key: e.key.iter().map(value).collect(),
                                value: e.value.iter().map(value).collect(),
                            })
                            .collect(),
                    })
                    .collect(),
                attach: s
                    .attachments
                    .iter()
                    .map(|a| Attach {
                        loader: a.loader.clone(),
                        package: a.package.clone(),
                        device: a.device.clone(),
                        hook: a.hook.clone(),
                    })
                    .collect(),
            }
        }
    }
}
