//! The loader: a clang BPF object → one [`CChain`] per `.hike.chain.*` section.
//!
//! For each chain section it takes the function's instructions as they are (clang's BPF calling
//! convention is the VM's: arguments `r1..r5`, result `r0`, `r6..r9` preserved across calls, `r10`
//! the frame pointer of a 512-byte stack, `exit` returns; jumps are relative and no instruction
//! is added or removed, so jumps and `LD_IMM64` pairs stay as clang emitted them), then rewrites
//! each `call` that carries an `R_BPF_64_32` relocation:
//!
//! | relocation symbol                      | becomes                                            |
//! |----------------------------------------|----------------------------------------------------|
//! | `hike.helper.NAME` (undefined)         | `call NAME`: `src_reg` 0, `imm` = the helper's ID   |
//! | `hike.prog.NAME.N` (undefined)         | `call prog NAME`: `src_reg` 2, `imm` 0, relocation  |
//! | `hike.chain.NAME.N` (undefined)        | `call chain NAME`: `src_reg` 1, `imm` 0, relocation |
//! | a chain function of this file          | `call chain NAME` likewise                         |
//!
//! and refuses everything a chain cannot do: `LD_IMM64` relocations (maps, globals, statics,
//! string literals), calls without a symbol (kernel BPF helpers, static functions), calls of other
//! symbols (static non-inlined functions, kfuncs, `memcpy`), other relocation types and CO-RE
//! records. Finally every chain is validated with [`hike_isa::validate`], callees declared under
//! display IDs with the parameter counts their declarations give (the same check the eCLAT
//! compiler makes of its own chains); [`CChain::link`] validates again with the real IDs.

use std::collections::{BTreeMap, BTreeSet};

use hike_isa::abi::{self, Helper};
use hike_isa::asm::{Assembly, RelocKind, Relocation};
use hike_isa::disasm::insn_text;
use hike_isa::validate::{validate, Chain, Context, InsnRef};
use hike_isa::{op, Insn, Symbols};
use object::{
    Architecture, Object, ObjectKind, ObjectSection, ObjectSymbol, RelocationFlags,
    RelocationTarget, SectionIndex, SymbolKind, SymbolSection,
};

use crate::btf::BtfExt;
use crate::error::{CChainError, Problem, Rejection, SourceLoc};
use crate::{CChain, Callee};

/// Prefix of the section of every chain function: `.hike.chain.NAME(PARAMS)`.
pub const CHAIN_SECTION_PREFIX: &str = ".hike.chain.";

const R_BPF_64_64: u32 = 1;
const R_BPF_64_32: u32 = 10;
const CALL: u8 = op::JMP | op::CALL;

/// [`RelocKind`] ordered (programs first), as a map key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kind(RelocKind);

impl Kind {
    fn rank(self) -> u8 {
        match self.0 {
            RelocKind::Prog => 0,
            RelocKind::Chain => 1,
        }
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// A `.hike.chain.NAME(PARAMS)` section.
struct ChainSection {
    index: SectionIndex,
    section: String,
    name: String,
    params: Vec<String>,
}

/// A chain section's function, found and checked.
struct ChainFn<'s> {
    sec: &'s ChainSection,
    /// Byte offset and length of the function in its section.
    start: u64,
    len: u64,
}

/// What an undefined `hike.*` symbol names.
#[derive(Debug, PartialEq, Eq)]
enum HikeSymbol<'a> {
    Helper(&'a str),
    Callee(RelocKind, &'a str, u8),
    Malformed,
    NotHike,
}

fn parse_hike_symbol(symbol: &str) -> HikeSymbol<'_> {
    let Some(rest) = symbol.strip_prefix("hike.") else {
        return HikeSymbol::NotHike;
    };
    if let Some(name) = rest.strip_prefix("helper.") {
        return HikeSymbol::Helper(name);
    }
    let (kind, rest) = if let Some(rest) = rest.strip_prefix("prog.") {
        (RelocKind::Prog, rest)
    } else if let Some(rest) = rest.strip_prefix("chain.") {
        (RelocKind::Chain, rest)
    } else {
        return HikeSymbol::Malformed;
    };
    match rest.rsplit_once('.') {
        Some((name, n)) if !name.is_empty() => match n.parse::<u8>() {
            Ok(n) if usize::from(n) <= abi::MAX_ARGS => HikeSymbol::Callee(kind, name, n),
            _ => HikeSymbol::Malformed,
        },
        _ => HikeSymbol::Malformed,
    }
}

/// `NAME(a, b)` → (`NAME`, [`a`, `b`]).
fn parse_section_name(rest: &str) -> Option<(String, Vec<String>)> {
    let (name, params) = rest.strip_suffix(')')?.split_once('(')?;
    if !is_c_identifier(name) {
        return None;
    }
    let params: Vec<String> = if params.trim().is_empty() {
        Vec::new()
    } else {
        params.split(',').map(|p| p.trim().to_string()).collect()
    };
    if !params.iter().all(|p| is_c_identifier(p)) {
        return None;
    }
    Some((name.to_string(), params))
}

fn is_c_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Loads every chain function of a clang BPF object; see the module documentation.
pub(crate) fn load(elf: &[u8]) -> Result<Vec<CChain>, CChainError> {
    let file = object::File::parse(elf).map_err(|e| CChainError::NotBpfObject {
        reason: e.to_string(),
    })?;
    let not_bpf = |reason: &str| CChainError::NotBpfObject {
        reason: reason.to_string(),
    };
    if file.format() != object::BinaryFormat::Elf || file.architecture() != Architecture::Bpf {
        return Err(not_bpf(
            "not a BPF ELF file (compile with `clang -target bpf`)",
        ));
    }
    if !file.is_little_endian() {
        return Err(not_bpf(
            "big-endian object: the VM runs little-endian bytecode (`-target bpfel`)",
        ));
    }
    if file.kind() != ObjectKind::Relocatable {
        return Err(not_bpf("not a relocatable object (`clang -c`)"));
    }
    let section_data = |name: &str| file.section_by_name(name).and_then(|s| s.data().ok());
    let btf = BtfExt::parse(section_data(".BTF"), section_data(".BTF.ext"));

    let mut rejections = Vec::new();

    // Chain sections and their functions.
    let mut sections = Vec::new();
    for s in file.sections() {
        let Ok(section) = s.name() else { continue };
        let Some(rest) = section.strip_prefix(CHAIN_SECTION_PREFIX) else {
            continue;
        };
        match parse_section_name(rest) {
            Some((name, params)) => sections.push(ChainSection {
                index: s.index(),
                section: section.to_string(),
                name,
                params,
            }),
            None => rejections.push(Rejection {
                chain: rest.to_string(),
                insn: None,
                location: None,
                problem: Problem::BadSection {
                    section: section.to_string(),
                },
            }),
        }
    }
    let mut functions: Vec<ChainFn<'_>> = Vec::new();
    for sec in &sections {
        let funcs: Vec<_> = file
            .symbols()
            .filter(|s| s.section_index() == Some(sec.index) && s.kind() == SymbolKind::Text)
            .collect();
        match funcs.as_slice() {
            [f] if f.name() == Ok(sec.name.as_str()) => {
                let section_len = file
                    .section_by_index(sec.index)
                    .map_or(0, |s| s.size())
                    .saturating_sub(f.address());
                let len = if f.size() == 0 { section_len } else { f.size() };
                functions.push(ChainFn {
                    sec,
                    start: f.address(),
                    len,
                });
            }
            _ => rejections.push(Rejection {
                chain: sec.name.clone(),
                insn: None,
                location: btf.location(&sec.section, 0),
                problem: Problem::SectionFunctions {
                    section: sec.section.clone(),
                    expected: sec.name.clone(),
                    found: if funcs.is_empty() {
                        "none".to_string()
                    } else {
                        funcs
                            .iter()
                            .map(|f| format!("`{}`", f.name().unwrap_or("?")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                },
            }),
        }
    }

    // Declared parameter counts, chains of this file first (their definitions).
    let mut declared: BTreeMap<(Kind, String), u8> = functions
        .iter()
        .map(|f| {
            (
                (Kind(RelocKind::Chain), f.sec.name.clone()),
                f.sec.params.len() as u8,
            )
        })
        .collect();

    let mut chains = Vec::new();
    for f in &functions {
        match extract(&file, f, &functions, &mut declared, &btf) {
            Ok(chain) => chains.push(chain),
            Err(mut r) => rejections.append(&mut r),
        }
    }

    // Validate each chain as eCLAT chains are: callees under display IDs, with the declared
    // parameter counts.
    let (symbols, ctx) = display_context(&declared);
    for chain in &chains {
        let insns = chain
            .assembly
            .link(&symbols)
            .expect("every callee has a display ID");
        if let Err(errors) = validate(
            &Chain {
                name: &chain.name,
                insns: &insns,
                nparams: chain.nparams,
            },
            &ctx,
        ) {
            rejections.extend(errors.errors.into_iter().map(|e| chain.rejection(e)));
        }
    }

    if rejections.is_empty() {
        Ok(chains)
    } else {
        // Grouped by chain, in section order (a stable sort keeps each chain's own order).
        let order = |chain: &str| sections.iter().position(|s| s.name == chain);
        rejections.sort_by_key(|r| order(&r.chain));
        Err(CChainError::Rejected { rejections })
    }
}

/// Display IDs for every declared callee, and a validation context giving their counts.
fn display_context(declared: &BTreeMap<(Kind, String), u8>) -> (Symbols, Context) {
    let mut symbols = Symbols::new();
    let mut ctx = Context::new();
    let (mut next_chain, mut next_prog) = (0u32, 0u32);
    for ((Kind(kind), name), &n) in declared {
        match kind {
            RelocKind::Chain => {
                symbols.add_chain(next_chain, name.clone());
                ctx.add_chain(next_chain, n);
                next_chain += 1;
            }
            RelocKind::Prog => {
                symbols.add_prog(next_prog, name.clone());
                ctx.add_prog(next_prog, n);
                next_prog += 1;
            }
        }
    }
    ctx.set_symbols(symbols.clone());
    (symbols, ctx)
}

/// One chain function's instructions with its calls rewritten, or everything wrong with it.
fn extract(
    file: &object::File<'_>,
    f: &ChainFn<'_>,
    functions: &[ChainFn<'_>],
    declared: &mut BTreeMap<(Kind, String), u8>,
    btf: &BtfExt,
) -> Result<CChain, Vec<Rejection>> {
    let sec = f.sec;
    let section = file
        .section_by_index(sec.index)
        .expect("the section was listed");
    let data = section.data().unwrap_or(&[]);
    let code = usize::try_from(f.start)
        .ok()
        .and_then(|s| data.get(s..s + usize::try_from(f.len).ok()?))
        .unwrap_or(&[]);
    let lines = btf.lines_in(&sec.section, f.start as u32, (f.start + f.len) as u32);
    let mut cx = Extraction {
        chain: &sec.name,
        lines: &lines,
        original: Vec::new(),
        rejections: Vec::new(),
    };
    let Some(mut insns) = hike_isa::insn::decode(code) else {
        cx.reject(None, Problem::Truncated { len: code.len() });
        return Err(cx.rejections);
    };
    cx.original = insns.clone();

    let mut relocations = Vec::new();
    let mut callees: Vec<Callee> = Vec::new();
    let mut relocated = BTreeSet::new();
    let mut note_callee =
        |kind: RelocKind, name: &str, n: u8, index: usize, cx: &mut Extraction| {
            let first = *declared.entry((Kind(kind), name.to_string())).or_insert(n);
            if first != n {
                cx.reject_at(
                    index,
                    None,
                    Problem::ConflictingDeclarations {
                        kind,
                        name: name.to_string(),
                        first,
                        second: n,
                    },
                );
                return;
            }
            relocations.push(Relocation {
                index,
                kind,
                name: name.to_string(),
            });
            if !callees.iter().any(|c| c.kind == kind && c.name == name) {
                callees.push(Callee {
                    kind,
                    name: name.to_string(),
                    nparams: n,
                });
            }
        };

    for (off, rel) in section.relocations() {
        if off < f.start || off >= f.start + f.len {
            continue;
        }
        let index = ((off - f.start) / 8) as usize;
        relocated.insert(index);
        let r_type = match rel.flags() {
            RelocationFlags::Elf { r_type } => r_type.0,
            _ => 0,
        };
        let sym = match rel.target() {
            RelocationTarget::Symbol(i) => file.symbol_by_index(i).ok(),
            _ => None,
        };
        let sym_name = sym
            .as_ref()
            .map(|s| symbol_name(file, s))
            .unwrap_or_else(|| "?".to_string());
        let insn = insns[index];
        if (off - f.start) % 8 != 0 || sym.is_none() {
            cx.reject_at(
                index,
                None,
                Problem::UnsupportedRelocation {
                    r_type,
                    symbol: sym_name,
                },
            );
            continue;
        }
        let sym = sym.expect("checked");
        match r_type {
            R_BPF_64_64 if insn.code == op::LD_IMM64 => {
                let section = match sym.section() {
                    SymbolSection::Section(i) => file
                        .section_by_index(i)
                        .ok()
                        .and_then(|s| s.name().ok().map(str::to_string))
                        .unwrap_or_else(|| "?".to_string()),
                    SymbolSection::Undefined => "undefined".to_string(),
                    other => format!("{other:?}"),
                };
                cx.reject_at(
                    index,
                    None,
                    Problem::GlobalData {
                        symbol: sym_name,
                        section,
                    },
                );
            }
            R_BPF_64_32 if insn.code == CALL => {
                let text = Some(format!("call {sym_name}"));
                match sym.section() {
                    SymbolSection::Undefined => match parse_hike_symbol(&sym_name) {
                        HikeSymbol::Helper(name) => match Helper::from_name(name) {
                            Some(h) => {
                                insns[index] = Insn::new(CALL, 0, abi::CALL_HELPER, 0, h as i32)
                            }
                            None => cx.reject_at(
                                index,
                                text,
                                Problem::UnknownHelper {
                                    name: name.to_string(),
                                },
                            ),
                        },
                        HikeSymbol::Callee(kind, name, n) => {
                            insns[index] = call_by_name(kind);
                            note_callee(kind, name, n, index, &mut cx);
                        }
                        HikeSymbol::Malformed => {
                            cx.reject_at(index, text, Problem::BadHikeSymbol { symbol: sym_name })
                        }
                        HikeSymbol::NotHike => {
                            cx.reject_at(index, text, Problem::UnknownExtern { symbol: sym_name })
                        }
                    },
                    SymbolSection::Section(target_sec) => {
                        // The callee starts (imm + 1) instructions after the symbol.
                        let target = sym
                            .address()
                            .wrapping_add((i64::from(insn.imm) + 1).wrapping_mul(8) as u64);
                        match chain_at(functions, target_sec, target) {
                            Some(callee) => {
                                insns[index] = call_by_name(RelocKind::Chain);
                                let n = callee.sec.params.len() as u8;
                                note_callee(RelocKind::Chain, &callee.sec.name, n, index, &mut cx);
                            }
                            None => cx.reject_at(
                                index,
                                Some(format!("call {}", function_at(file, target_sec, target))),
                                Problem::LocalCall {
                                    function: function_at(file, target_sec, target),
                                },
                            ),
                        }
                    }
                    _ => cx.reject_at(index, text, Problem::UnknownExtern { symbol: sym_name }),
                }
            }
            _ => cx.reject_at(
                index,
                None,
                Problem::UnsupportedRelocation {
                    r_type,
                    symbol: sym_name,
                },
            ),
        }
    }

    // Calls clang resolved itself: kernel helpers and calls within the section.
    for (index, insn) in cx.original.clone().iter().enumerate() {
        if insn.code != CALL || relocated.contains(&index) {
            continue;
        }
        match insn.src() {
            0 => cx.reject_at(
                index,
                Some(format!("call {}", insn.imm)),
                Problem::BpfHelper { id: insn.imm },
            ),
            1 => {
                let target = f
                    .start
                    .wrapping_add((index as u64 + 1).wrapping_mul(8))
                    .wrapping_add((i64::from(insn.imm) * 8) as u64);
                match chain_at(functions, sec.index, target) {
                    Some(callee) => {
                        insns[index] = call_by_name(RelocKind::Chain);
                        let n = callee.sec.params.len() as u8;
                        note_callee(RelocKind::Chain, &callee.sec.name, n, index, &mut cx);
                    }
                    None => {
                        let function = function_at(file, sec.index, target);
                        cx.reject_at(
                            index,
                            Some(format!("call {function}")),
                            Problem::LocalCall { function },
                        )
                    }
                }
            }
            src => cx.reject_at(index, None, Problem::UnresolvedCall { src, imm: insn.imm }),
        }
    }

    for off in btf.core_relocations(&sec.section) {
        if u64::from(off) >= f.start && u64::from(off) < f.start + f.len {
            cx.reject_at(
                ((u64::from(off) - f.start) / 8) as usize,
                None,
                Problem::CoRe,
            );
        }
    }

    if !cx.rejections.is_empty() {
        cx.rejections
            .sort_by_key(|r| r.insn.as_ref().map_or(0, |i| i.index));
        return Err(cx.rejections);
    }
    relocations.sort_by_key(|r| r.index);
    Ok(CChain {
        name: sec.name.clone(),
        params: sec.params.clone(),
        nparams: sec.params.len() as u8,
        assembly: Assembly { insns, relocations },
        callees,
        lines,
    })
}

/// A `call prog` / `call chain` with `imm` 0, to be linked.
fn call_by_name(kind: RelocKind) -> Insn {
    let src = match kind {
        RelocKind::Prog => abi::CALL_PROG,
        RelocKind::Chain => abi::CALL_CHAIN,
    };
    Insn::new(CALL, 0, src, 0, 0)
}

/// The chain function starting at byte `off` of section `sec`, if any.
fn chain_at<'a, 's>(
    functions: &'a [ChainFn<'s>],
    sec: SectionIndex,
    off: u64,
) -> Option<&'a ChainFn<'s>> {
    functions
        .iter()
        .find(|f| f.sec.index == sec && f.start == off)
}

/// The name of the function containing byte `off` of section `sec`, or `SECTION+OFF`.
fn function_at(file: &object::File<'_>, sec: SectionIndex, off: u64) -> String {
    file.symbols()
        .filter(|s| s.section_index() == Some(sec) && s.kind() == SymbolKind::Text)
        .find(|s| off >= s.address() && off < s.address() + s.size().max(1))
        .and_then(|s| s.name().ok().map(str::to_string))
        .unwrap_or_else(|| {
            let name = file
                .section_by_index(sec)
                .ok()
                .and_then(|s| s.name().ok().map(str::to_string))
                .unwrap_or_else(|| "?".to_string());
            format!("{name}+{off}")
        })
}

/// A symbol's name; a section symbol is named after its section.
fn symbol_name(file: &object::File<'_>, sym: &object::Symbol<'_, '_>) -> String {
    if sym.kind() == SymbolKind::Section {
        if let Some(s) = sym
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
        {
            return s.name().unwrap_or("?").to_string();
        }
    }
    sym.name().unwrap_or("?").to_string()
}

/// The rejections of one chain function being extracted.
struct Extraction<'a> {
    chain: &'a str,
    lines: &'a [(usize, SourceLoc)],
    /// The instructions as clang emitted them, for messages.
    original: Vec<Insn>,
    rejections: Vec<Rejection>,
}

impl Extraction<'_> {
    fn reject(&mut self, insn: Option<InsnRef>, problem: Problem) {
        self.rejections.push(Rejection {
            chain: self.chain.to_string(),
            location: location_in(self.lines, insn.as_ref().map_or(0, |i| i.index)),
            insn,
            problem,
        });
    }

    /// Rejects the instruction at `index`, shown as `text` or as the disassembler prints it.
    fn reject_at(&mut self, index: usize, text: Option<String>, problem: Problem) {
        let text = text.unwrap_or_else(|| insn_text(&self.original, index, &Symbols::default()));
        self.reject(Some(InsnRef { index, text }), problem);
    }
}

/// The location of instruction `index` from a chain's line table.
pub(crate) fn location_in(lines: &[(usize, SourceLoc)], index: usize) -> Option<SourceLoc> {
    let i = lines.partition_point(|(at, _)| *at <= index);
    lines[..i].last().map(|(_, loc)| loc.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hike_symbols() {
        assert_eq!(
            parse_hike_symbol("hike.prog.monitor.1"),
            HikeSymbol::Callee(RelocKind::Prog, "monitor", 1)
        );
        assert_eq!(
            parse_hike_symbol("hike.chain.a.b.0"),
            HikeSymbol::Callee(RelocKind::Chain, "a.b", 0)
        );
        assert_eq!(
            parse_hike_symbol("hike.helper.pkt_len"),
            HikeSymbol::Helper("pkt_len")
        );
        assert_eq!(parse_hike_symbol("hike.prog.x.6"), HikeSymbol::Malformed);
        assert_eq!(parse_hike_symbol("hike.prog.x"), HikeSymbol::Malformed);
        assert_eq!(parse_hike_symbol("hike.prog..1"), HikeSymbol::Malformed);
        assert_eq!(parse_hike_symbol("hike.map.x.1"), HikeSymbol::Malformed);
        assert_eq!(parse_hike_symbol("memset"), HikeSymbol::NotHike);
    }

    #[test]
    fn section_names() {
        assert_eq!(
            parse_section_name("foo(a, b)"),
            Some(("foo".to_string(), vec!["a".to_string(), "b".to_string()]))
        );
        assert_eq!(
            parse_section_name("foo()"),
            Some(("foo".to_string(), vec![]))
        );
        assert_eq!(parse_section_name("foo"), None);
        assert_eq!(parse_section_name("1foo()"), None);
        assert_eq!(parse_section_name("foo(a,)"), None);
    }
}
