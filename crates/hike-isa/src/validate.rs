//! The load-time validator: rejects a chain that could be known to fault before it runs.
//!
//! The VMs check every step anyway (`docs/vm-semantics.md`); the validator moves every fault
//! that does not depend on run-time values to load time, with a message naming the chain and
//! the instruction. It checks:
//!
//! - the chain's shape: not empty, at most [`abi::MAX_CHAIN_INSNS`] instructions, at most
//!   [`abi::MAX_ARGS`] declared parameters;
//! - every instruction, reachable or not, decodes under exactly the VM's rules (opcode, then
//!   `dst`, then `src`; writes to `r10`; `LD_IMM64` pairs), jumps stay in the chain and do not
//!   land inside an `LD_IMM64`, called helpers, chains and programs exist (per [`Context`]), and
//!   `r10`-based memory accesses lie in the frame (`[r10-512, r10)`) and are aligned;
//! - over the control-flow graph, with a forward must-be-initialised dataflow: no path runs
//!   past the end of the chain; no register is read before it is written (at entry `r1..rN`
//!   for N declared parameters and `r10` are written; after any call `r0` is and `r1..r5` are
//!   not; `exit` reads `r0`); every call has its callee's arguments written; no stack slot is
//!   loaded before a store to it on every path. Pointers computed as `r10` plus a constant
//!   (`r1 = r10; r1 += -8`) are followed, so stores and loads through them count too.
//!
//! What it cannot know is left to the VM: values of registers (packet offsets, pointers
//! computed from data), the call depth, the budget, the program-call cap. Stores through
//! pointers it cannot follow (for example by a called chain through an argument) do not count
//! as initialising a slot: write a slot before passing its address if you read it afterwards.
//!
//! ```
//! use hike_isa::asm::assemble;
//! use hike_isa::validate::{validate, Chain, Context};
//!
//! let insns = assemble("r0 = r2\nexit").unwrap().insns;
//! let errors = validate(&Chain { name: "ddos", insns: &insns, nparams: 1 }, &Context::new())
//!     .unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "chain `ddos`: instruction 0 (`r0 = r2`): r2 is read before it is written"
//! );
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use thiserror::Error;

use crate::abi::{self, Helper};
use crate::disasm::insn_text;
use crate::insn::{op, Insn};
use crate::symbols::Symbols;

/// A chain to validate.
#[derive(Clone, Copy, Debug)]
pub struct Chain<'a> {
    /// Name, for messages.
    pub name: &'a str,
    /// Bytecode.
    pub insns: &'a [Insn],
    /// Declared parameters: `r1..r<nparams>` hold arguments at entry.
    pub nparams: u8,
}

/// What exists besides the chain: chains and programs it may call, with their parameter
/// counts. A chain that calls itself must be in its own context.
#[derive(Clone, Debug, Default)]
pub struct Context {
    chains: BTreeMap<u32, u8>,
    progs: BTreeMap<u32, u8>,
    symbols: Symbols,
}

impl Context {
    /// A context with no chains and no programs.
    pub fn new() -> Context {
        Context::default()
    }

    /// Declares chain `id` with `nparams` parameters.
    pub fn add_chain(&mut self, id: u32, nparams: u8) -> &mut Context {
        self.chains.insert(id, nparams);
        self
    }

    /// Declares program `id` with `nparams` parameters.
    pub fn add_prog(&mut self, id: u32, nparams: u8) -> &mut Context {
        self.progs.insert(id, nparams);
        self
    }

    /// Names chains and programs in the instruction texts of messages.
    pub fn set_symbols(&mut self, symbols: Symbols) -> &mut Context {
        self.symbols = symbols;
        self
    }

    /// The parameter count of chain `id`, if it exists.
    pub fn chain_params(&self, id: u32) -> Option<u8> {
        self.chains
            .get(&id)
            .copied()
            .filter(|_| id < abi::MAX_CHAINS)
    }

    /// The parameter count of program `id`, if it exists.
    pub fn prog_params(&self, id: u32) -> Option<u8> {
        self.progs.get(&id).copied().filter(|_| id < abi::MAX_PROGS)
    }
}

/// Validates `chain`: `Ok` if it may be loaded, otherwise every problem found.
pub fn validate(chain: &Chain<'_>, ctx: &Context) -> Result<(), ValidationErrors> {
    let problems = Validator::new(chain, ctx).run();
    if problems.is_empty() {
        return Ok(());
    }
    let errors = problems
        .into_iter()
        .map(|(index, problem)| ValidationError {
            chain: chain.name.to_string(),
            insn: index.map(|index| InsnRef {
                index,
                text: insn_text(chain.insns, index, &ctx.symbols),
            }),
            problem,
        })
        .collect();
    Err(ValidationErrors { errors })
}

/// Every problem of a chain, in instruction order (problems of the whole chain first).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{}", join_lines(.errors))]
pub struct ValidationErrors {
    /// The problems; never empty.
    pub errors: Vec<ValidationError>,
}

fn arguments(n: usize) -> &'static str {
    if n == 1 {
        "argument"
    } else {
        "arguments"
    }
}

fn join_lines(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One problem of a chain, where it is, and the chain's name.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("chain `{chain}`: {}{problem}", at_prefix(.insn))]
pub struct ValidationError {
    /// The chain's name.
    pub chain: String,
    /// The instruction, unless the problem is the whole chain's.
    pub insn: Option<InsnRef>,
    /// What is wrong.
    pub problem: Problem,
}

fn at_prefix(insn: &Option<InsnRef>) -> String {
    insn.as_ref().map_or_else(String::new, |i| format!("{i}: "))
}

/// An instruction in a message: its index and disassembled text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsnRef {
    /// Index in the chain (an `LD_IMM64` takes two).
    pub index: usize,
    /// The instruction as the disassembler prints it alone (jumps with numeric offsets).
    pub text: String,
}

impl fmt::Display for InsnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instruction {} (`{}`)", self.index, self.text)
    }
}

/// What the validator found wrong.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Problem {
    /// The chain has no instructions (the VM treats length 0 as "no chain").
    #[error("the chain has no instructions")]
    Empty,
    /// The chain is longer than [`abi::MAX_CHAIN_INSNS`].
    #[error("the chain has {len} instructions, more than the limit of {max}")]
    TooLong {
        /// Instructions in the chain.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More declared parameters than argument registers.
    #[error("the chain declares {nparams} parameters, more than the limit of {max}")]
    TooManyParams {
        /// Declared parameters.
        nparams: u8,
        /// The limit, [`abi::MAX_ARGS`].
        max: usize,
    },
    /// The opcode is not an instruction of the VM (fault `bad_opcode`).
    #[error("bad opcode {code:#04x}: {reason}")]
    BadOpcode {
        /// The opcode byte.
        code: u8,
        /// Which decoding rule it breaks.
        reason: BadOpcodeReason,
    },
    /// A register number above 10 (fault `bad_register`).
    #[error("register r{reg} does not exist (registers are r0..r10)")]
    BadRegister {
        /// The register number.
        reg: u8,
    },
    /// An instruction writes the frame pointer (fault `bad_register`).
    #[error("r10 is read-only")]
    WritesR10,
    /// A jump leaves the chain (fault `bad_jump`).
    #[error("jump target {target} is outside the chain (instructions 0..{len})")]
    JumpOutOfChain {
        /// Index the jump goes to.
        target: i64,
        /// Instructions in the chain.
        len: usize,
    },
    /// A jump lands on the second slot of an `LD_IMM64` (fault `bad_opcode` there).
    #[error("jump target {target} is the second slot of a 64-bit immediate load")]
    JumpIntoLdImm64 {
        /// Index the jump goes to.
        target: i64,
    },
    /// An `LD_IMM64` is the last instruction (fault `bad_jump`).
    #[error("the 64-bit immediate load has no second slot")]
    LdImm64Truncated,
    /// The second slot of an `LD_IMM64` has a nonzero code, register or offset (fault
    /// `bad_opcode`).
    #[error("the second slot of the 64-bit immediate load must have code, registers and offset 0")]
    LdImm64BadSecondSlot,
    /// Some path runs past the last instruction (fault `bad_jump`).
    #[error("execution can run past the end of the chain")]
    FallsOffEnd,
    /// A call to a helper ID that does not exist (fault `bad_helper`).
    #[error("helper {id} does not exist")]
    UnknownHelper {
        /// The helper ID.
        id: u32,
    },
    /// A call to a chain that is not in the [`Context`] (fault `no_chain`).
    #[error("chain {id} does not exist")]
    UnknownChain {
        /// The chain ID.
        id: u32,
    },
    /// A call to a program that is not in the [`Context`] (fault `no_prog`).
    #[error("program {id} does not exist")]
    UnknownProg {
        /// The program ID.
        id: u32,
    },
    /// A register is read on a path where it was not written.
    #[error("r{reg} is read before it is written")]
    UninitRegister {
        /// The register.
        reg: u8,
    },
    /// A call's argument register is not written on every path to it.
    #[error("{callee} takes {nparams} {} but r{reg} is not written on every path", arguments(*.nparams))]
    MissingArgument {
        /// What is called.
        callee: Callee,
        /// Its parameter count.
        nparams: usize,
        /// The first argument register not written.
        reg: u8,
    },
    /// A stack access outside the chain's frame `[r10-512, r10)` (fault `mem_out_of_bounds`,
    /// or an access to the caller's frame).
    #[error("stack access of {size} bytes at r10{off:+} is outside the frame [r10-512, r10)")]
    StackOutOfFrame {
        /// Offset from `r10`.
        off: i64,
        /// Bytes accessed.
        size: u32,
    },
    /// A stack access not aligned to its size (fault `mem_misaligned`).
    #[error("stack access of {size} bytes at r10{off:+} is not aligned to {size} bytes")]
    StackMisaligned {
        /// Offset from `r10`.
        off: i64,
        /// Bytes accessed.
        size: u32,
    },
    /// A stack slot is loaded on a path where it was not stored (fault `stack_uninit`).
    #[error("stack slot r10{off:+} is read before it is written")]
    StackUninit {
        /// Offset of the 8-byte slot from `r10`.
        off: i64,
    },
}

/// Why an opcode is not an instruction; the rules of `docs/vm-semantics.md`.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum BadOpcodeReason {
    /// ALU operations `0xe0` and `0xf0`.
    #[error("unknown ALU operation")]
    AluOp,
    /// `NEG` with the X bit.
    #[error("neg takes no source register")]
    NegWithSource,
    /// `DIV`/`MOD` with `off` other than 0 (unsigned) or 1 (signed).
    #[error("division offset {off} is neither 0 (unsigned) nor 1 (signed)")]
    DivModOffset {
        /// The offset.
        off: i16,
    },
    /// `MOV` with an `off` that is not 0 or a sign-extension width for this class and source.
    #[error("move offset {off} is not a sign extension of this instruction")]
    MovOffset {
        /// The offset.
        off: i16,
    },
    /// `END` with a width other than 16, 32, 64.
    #[error("byte swap width {imm} is not 16, 32 or 64")]
    EndWidth {
        /// The width.
        imm: i32,
    },
    /// `ALU64|END` with the `TO_BE` bit.
    #[error("64-bit byte swap with the big-endian bit")]
    Bswap64ToBe,
    /// Jump operations `0xe0` and `0xf0`.
    #[error("unknown jump operation")]
    JumpOp,
    /// `JA` with the X bit.
    #[error("goto takes no source register")]
    JaWithSource,
    /// `CALL` or `EXIT` in class `JMP32`.
    #[error("call and exit are not 32-bit jump instructions")]
    Jmp32CallExit,
    /// `CALL` or `EXIT` with the X bit.
    #[error("call and exit take no source register")]
    CallExitWithSource,
    /// `CALL` with a `src_reg` that is not helper, chain or program.
    #[error("call kind {src} is none of helper (0), chain (1), program (2)")]
    CallKind {
        /// The `src_reg` field.
        src: u8,
    },
    /// Class `LD` other than `LD_IMM64` (legacy packet loads).
    #[error("legacy load instructions are not supported")]
    LdMode,
    /// `LD_IMM64` with a nonzero `src_reg` (pseudo loads of maps and functions).
    #[error("64-bit immediate load with src_reg {src} is not supported")]
    LdImm64Src {
        /// The `src_reg` field.
        src: u8,
    },
    /// A memory mode other than `MEM` (and `MEMSX` for loads).
    #[error("memory mode {mode:#04x} is not supported")]
    MemMode {
        /// The mode bits.
        mode: u8,
    },
    /// `MEMSX` with size `DW`.
    #[error("sign-extending load of 8 bytes")]
    MemsxDw,
}

/// The target of a `call`, in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callee {
    /// A VM helper.
    Helper(Helper),
    /// A chain ID.
    Chain(u32),
    /// A program ID.
    Prog(u32),
}

impl fmt::Display for Callee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Callee::Helper(h) => write!(f, "helper `{}`", h.name()),
            Callee::Chain(id) => write!(f, "chain {id}"),
            Callee::Prog(id) => write!(f, "program {id}"),
        }
    }
}

// ---- Decoding -----------------------------------------------------------------------------------

/// What the dataflow needs to know of an instruction that decodes.
#[derive(Clone, Copy, Debug)]
enum Decoded {
    /// ALU or ALU64: writes `dst`; reads `dst` unless a move, and `src` if given.
    Alu {
        dst: u8,
        src: Option<u8>,
        reads_dst: bool,
    },
    /// `LD_IMM64`: writes `dst`; two slots.
    LdImm64 { dst: u8 },
    /// Unconditional jump by `offset`.
    Ja { offset: i64 },
    /// Conditional jump by `offset`: reads `dst` and `src` if given.
    Cond {
        dst: u8,
        src: Option<u8>,
        offset: i64,
    },
    /// A call.
    Call { callee: CallTarget },
    /// `exit`: reads `r0`.
    Exit,
    /// `LDX`: reads `base`, writes `dst`.
    Load {
        dst: u8,
        base: u8,
        off: i16,
        size: u32,
    },
    /// `ST` / `STX`: reads `base` and `src` if given.
    Store {
        base: u8,
        src: Option<u8>,
        off: i16,
        size: u32,
    },
}

#[derive(Clone, Copy, Debug)]
enum CallTarget {
    Helper(u32),
    Chain(u32),
    Prog(u32),
}

impl Decoded {
    fn slots(&self) -> usize {
        if matches!(self, Decoded::LdImm64 { .. }) {
            2
        } else {
            1
        }
    }

    fn jump_offset(&self) -> Option<i64> {
        match *self {
            Decoded::Ja { offset } | Decoded::Cond { offset, .. } => Some(offset),
            _ => None,
        }
    }
}

fn bad_opcode(code: u8, reason: BadOpcodeReason) -> Problem {
    Problem::BadOpcode { code, reason }
}

/// A register the instruction writes: `r10` and above fault.
fn written(reg: u8) -> Result<u8, Problem> {
    match reg {
        10 => Err(Problem::WritesR10),
        r if r > 10 => Err(Problem::BadRegister { reg: r }),
        r => Ok(r),
    }
}

/// A register the instruction reads.
fn read(reg: u8) -> Result<u8, Problem> {
    if reg > 10 {
        Err(Problem::BadRegister { reg })
    } else {
        Ok(reg)
    }
}

/// Decodes the instruction at `i` under the VM's rules, in the VM's order of checks.
fn decode(insns: &[Insn], i: usize) -> Result<Decoded, Problem> {
    use BadOpcodeReason as R;
    let insn = insns[i];
    let (code, dst, src, off, imm) = (insn.code, insn.dst(), insn.src(), insn.off, insn.imm);
    let x = op::source(code) == op::X;
    match op::class(code) {
        op::ALU | op::ALU64 => {
            let wide = op::class(code) == op::ALU64;
            let alu = op::alu_op(code);
            match alu {
                0xe0 | 0xf0 => return Err(bad_opcode(code, R::AluOp)),
                op::NEG if x => return Err(bad_opcode(code, R::NegWithSource)),
                op::DIV | op::MOD if off != 0 && off != 1 => {
                    return Err(bad_opcode(code, R::DivModOffset { off }))
                }
                op::MOV if off != 0 && !(x && (off == 8 || off == 16 || (off == 32 && wide))) => {
                    return Err(bad_opcode(code, R::MovOffset { off }))
                }
                op::END if wide && x => return Err(bad_opcode(code, R::Bswap64ToBe)),
                op::END if !matches!(imm, 16 | 32 | 64) => {
                    return Err(bad_opcode(code, R::EndWidth { imm }))
                }
                _ => {}
            }
            let dst = written(dst)?;
            let src = if x && alu != op::END && alu != op::NEG {
                Some(read(src)?)
            } else {
                None
            };
            Ok(Decoded::Alu {
                dst,
                src,
                reads_dst: alu != op::MOV,
            })
        }
        op::JMP | op::JMP32 => {
            let jmp32 = op::class(code) == op::JMP32;
            match op::alu_op(code) {
                op::JA if x => Err(bad_opcode(code, R::JaWithSource)),
                op::JA => Ok(Decoded::Ja {
                    offset: if jmp32 { imm as i64 } else { off as i64 },
                }),
                op::CALL | op::EXIT if jmp32 => Err(bad_opcode(code, R::Jmp32CallExit)),
                op::CALL | op::EXIT if x => Err(bad_opcode(code, R::CallExitWithSource)),
                op::EXIT => Ok(Decoded::Exit),
                op::CALL => {
                    let id = imm as u32;
                    let callee = match src {
                        abi::CALL_HELPER => CallTarget::Helper(id),
                        abi::CALL_CHAIN => CallTarget::Chain(id),
                        abi::CALL_PROG => CallTarget::Prog(id),
                        _ => return Err(bad_opcode(code, R::CallKind { src })),
                    };
                    Ok(Decoded::Call { callee })
                }
                0xe0 | 0xf0 => Err(bad_opcode(code, R::JumpOp)),
                _ => {
                    let dst = read(dst)?;
                    let src = if x { Some(read(src)?) } else { None };
                    Ok(Decoded::Cond {
                        dst,
                        src,
                        offset: off as i64,
                    })
                }
            }
        }
        op::LDX => {
            match (op::mode(code), op::size(code)) {
                (op::MEM, _) => {}
                (op::MEMSX, op::DW) => return Err(bad_opcode(code, R::MemsxDw)),
                (op::MEMSX, _) => {}
                (mode, _) => return Err(bad_opcode(code, R::MemMode { mode })),
            }
            let dst = written(dst)?;
            let base = read(src)?;
            Ok(Decoded::Load {
                dst,
                base,
                off,
                size: op::size_bytes(op::size(code)),
            })
        }
        op::ST | op::STX => {
            if op::mode(code) != op::MEM {
                return Err(bad_opcode(
                    code,
                    R::MemMode {
                        mode: op::mode(code),
                    },
                ));
            }
            let base = read(dst)?;
            let src = if op::class(code) == op::STX {
                Some(read(src)?)
            } else {
                None
            };
            Ok(Decoded::Store {
                base,
                src,
                off,
                size: op::size_bytes(op::size(code)),
            })
        }
        _ => {
            // Class LD.
            if code != op::LD_IMM64 {
                return Err(bad_opcode(code, R::LdMode));
            }
            if src != 0 {
                return Err(bad_opcode(code, R::LdImm64Src { src }));
            }
            let dst = written(dst)?;
            let Some(second) = insns.get(i + 1) else {
                return Err(Problem::LdImm64Truncated);
            };
            if second.code != 0 || second.regs != 0 || second.off != 0 {
                return Err(Problem::LdImm64BadSecondSlot);
            }
            Ok(Decoded::LdImm64 { dst })
        }
    }
}

// ---- Stack accesses ---------------------------------------------------------------------------

/// Checks an access of `size` bytes at `off` from `r10`; the slot it touches if it is fine.
fn stack_slot(off: i64, size: u32) -> Result<usize, Problem> {
    let frame = abi::STACK_SIZE as i64;
    if off < -frame || off + size as i64 > 0 {
        return Err(Problem::StackOutOfFrame { off, size });
    }
    if off.rem_euclid(size as i64) != 0 {
        return Err(Problem::StackMisaligned { off, size });
    }
    Ok(((off + frame) / 8) as usize)
}

/// The offset from `r10` of a stack slot.
fn slot_offset(slot: usize) -> i64 {
    slot as i64 * 8 - abi::STACK_SIZE as i64
}

// ---- Dataflow ---------------------------------------------------------------------------------

/// What is known at a program point on every path to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    /// Bit `r`: register `r` is written.
    regs: u16,
    /// Bit `s`: stack slot `s` (`r10 - 512 + 8s`) is written.
    slots: u64,
    /// Registers known to hold `r10 + offset`.
    frame_ptr: [Option<i64>; 11],
}

impl State {
    fn entry(nparams: u8) -> State {
        let nparams = usize::from(nparams).min(abi::MAX_ARGS);
        let mut frame_ptr = [None; 11];
        frame_ptr[10] = Some(0);
        State {
            regs: ((1u16 << (nparams + 1)) - 2) | 1 << 10,
            slots: 0,
            frame_ptr,
        }
    }

    fn meet(&self, other: &State) -> State {
        let mut frame_ptr = [None; 11];
        for (r, fp) in frame_ptr.iter_mut().enumerate() {
            if self.frame_ptr[r] == other.frame_ptr[r] {
                *fp = self.frame_ptr[r];
            }
        }
        State {
            regs: self.regs & other.regs,
            slots: self.slots & other.slots,
            frame_ptr,
        }
    }

    fn has(&self, reg: u8) -> bool {
        self.regs & (1 << reg) != 0
    }

    fn write(&mut self, reg: u8, frame_ptr: Option<i64>) {
        self.regs |= 1 << reg;
        self.frame_ptr[reg as usize] = frame_ptr;
    }

    /// The offset from `r10` of `base + off`, if `base` is known to point into the frame.
    fn stack_offset(&self, base: u8, off: i16) -> Option<i64> {
        self.frame_ptr[base as usize].and_then(|c| c.checked_add(off.into()))
    }
}

/// What each slot of the chain is, after the linear sweep.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Insn(Decoded),
    /// Does not decode; execution stops here.
    Bad,
    /// The second slot of an `LD_IMM64`.
    Second,
}

struct Validator<'a> {
    chain: &'a Chain<'a>,
    ctx: &'a Context,
    slots: Vec<Slot>,
    problems: Vec<(Option<usize>, Problem)>,
}

impl<'a> Validator<'a> {
    fn new(chain: &'a Chain<'a>, ctx: &'a Context) -> Validator<'a> {
        Validator {
            chain,
            ctx,
            slots: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn report(&mut self, index: usize, problem: Problem) {
        self.problems.push((Some(index), problem));
    }

    fn run(mut self) -> Vec<(Option<usize>, Problem)> {
        let len = self.chain.insns.len();
        if len == 0 {
            return vec![(None, Problem::Empty)];
        }
        if len > abi::MAX_CHAIN_INSNS {
            self.problems.push((
                None,
                Problem::TooLong {
                    len,
                    max: abi::MAX_CHAIN_INSNS,
                },
            ));
        }
        if usize::from(self.chain.nparams) > abi::MAX_ARGS {
            self.problems.push((
                None,
                Problem::TooManyParams {
                    nparams: self.chain.nparams,
                    max: abi::MAX_ARGS,
                },
            ));
        }
        self.sweep();
        for i in 0..len {
            if let Slot::Insn(d) = self.slots[i] {
                self.check_static(i, d);
            }
        }
        self.dataflow();
        // Stable: problems of one instruction stay in the order they were found.
        self.problems
            .sort_by_key(|(index, _)| index.map_or(0, |i| i + 1));
        self.problems
    }

    /// Decodes every instruction in order, pairing `LD_IMM64` slots.
    fn sweep(&mut self) {
        let insns = self.chain.insns;
        let mut i = 0;
        while i < insns.len() {
            match decode(insns, i) {
                Ok(d) => {
                    self.slots.push(Slot::Insn(d));
                    if d.slots() == 2 {
                        self.slots.push(Slot::Second);
                    }
                    i += d.slots();
                }
                Err(problem) => {
                    self.report(i, problem);
                    self.slots.push(Slot::Bad);
                    // A broken `LD_IMM64` still takes its second slot: one problem, not two.
                    if insns[i].code == op::LD_IMM64 && i + 1 < insns.len() {
                        self.slots.push(Slot::Second);
                        i += 1;
                    }
                    i += 1;
                }
            }
        }
    }

    /// The index a jump at `i` goes to, if it is an instruction.
    fn jump_target(&self, i: usize, offset: i64) -> Option<usize> {
        let target = usize::try_from(i as i64 + 1 + offset).ok()?;
        matches!(self.slots.get(target), Some(Slot::Insn(_) | Slot::Bad)).then_some(target)
    }

    /// Checks that need no dataflow: jump targets, callees, `r10`-based accesses.
    fn check_static(&mut self, i: usize, d: Decoded) {
        let len = self.chain.insns.len();
        if let Some(offset) = d.jump_offset() {
            let target = i as i64 + 1 + offset;
            if target < 0 || target >= len as i64 {
                self.report(i, Problem::JumpOutOfChain { target, len });
            } else if matches!(self.slots[target as usize], Slot::Second) {
                self.report(i, Problem::JumpIntoLdImm64 { target });
            }
        }
        match d {
            Decoded::Call {
                callee: CallTarget::Helper(id),
            } if Helper::from_id(id).is_none() => self.report(i, Problem::UnknownHelper { id }),
            Decoded::Call {
                callee: CallTarget::Chain(id),
            } if self.ctx.chain_params(id).is_none() => {
                self.report(i, Problem::UnknownChain { id })
            }
            Decoded::Call {
                callee: CallTarget::Prog(id),
            } if self.ctx.prog_params(id).is_none() => self.report(i, Problem::UnknownProg { id }),
            Decoded::Load {
                base: 10,
                off,
                size,
                ..
            }
            | Decoded::Store {
                base: 10,
                off,
                size,
                ..
            } => {
                if let Err(problem) = stack_slot(off as i64, size) {
                    self.report(i, problem);
                }
            }
            _ => {}
        }
    }

    /// The successors of the instruction at `i`; `None` stands for "past the end".
    fn successors(&self, i: usize, d: Decoded) -> Vec<Option<usize>> {
        let len = self.chain.insns.len();
        let next = i + d.slots();
        let fall = if next < len { Some(next) } else { None };
        match d {
            Decoded::Exit => vec![],
            Decoded::Ja { offset } => self.jump_target(i, offset).map(Some).into_iter().collect(),
            Decoded::Cond { offset, .. } => {
                let mut s = vec![fall];
                s.extend(self.jump_target(i, offset).map(Some));
                s
            }
            _ => vec![fall],
        }
    }

    /// The state after the instruction `d`.
    fn transfer(&self, i: usize, d: Decoded, mut s: State) -> State {
        let insn = self.chain.insns[i];
        match d {
            Decoded::Alu { dst, src, .. } => {
                let wide = op::class(insn.code) == op::ALU64;
                let fp = match (wide, op::alu_op(insn.code), src) {
                    (true, op::MOV, Some(src)) if insn.off == 0 => s.frame_ptr[src as usize],
                    (true, op::ADD, None) => {
                        s.frame_ptr[dst as usize].and_then(|c| c.checked_add(insn.imm.into()))
                    }
                    (true, op::SUB, None) => {
                        s.frame_ptr[dst as usize].and_then(|c| c.checked_sub(insn.imm.into()))
                    }
                    _ => None,
                };
                s.write(dst, fp);
            }
            Decoded::LdImm64 { dst } | Decoded::Load { dst, .. } => s.write(dst, None),
            Decoded::Store {
                base, off, size, ..
            } => {
                if let Some(Ok(slot)) = s.stack_offset(base, off).map(|o| stack_slot(o, size)) {
                    s.slots |= 1 << slot;
                }
            }
            Decoded::Call { .. } => {
                s.write(0, None);
                for r in 1..=5 {
                    s.regs &= !(1 << r);
                    s.frame_ptr[r] = None;
                }
            }
            Decoded::Ja { .. } | Decoded::Cond { .. } | Decoded::Exit => {}
        }
        s
    }

    /// Computes the must-be-written state before each reachable instruction, then checks reads.
    fn dataflow(&mut self) {
        let len = self.chain.insns.len();
        let mut before: Vec<Option<State>> = vec![None; len];
        let mut work = BTreeSet::new();
        if matches!(self.slots[0], Slot::Insn(_)) {
            before[0] = Some(State::entry(self.chain.nparams));
            work.insert(0);
        }
        while let Some(i) = work.pop_first() {
            let (Slot::Insn(d), Some(s)) = (self.slots[i], before[i]) else {
                continue;
            };
            let out = self.transfer(i, d, s);
            for t in self.successors(i, d).into_iter().flatten() {
                if !matches!(self.slots[t], Slot::Insn(_)) {
                    continue;
                }
                let new = before[t].map_or(out, |old| old.meet(&out));
                if before[t] != Some(new) {
                    before[t] = Some(new);
                    work.insert(t);
                }
            }
        }
        for (i, s) in before.into_iter().enumerate() {
            if let (Slot::Insn(d), Some(s)) = (self.slots[i], s) {
                self.check_reads(i, d, &s);
                if self.successors(i, d).contains(&None) {
                    self.report(i, Problem::FallsOffEnd);
                }
            }
        }
    }

    /// Checks the reads of a reachable instruction against the state before it.
    fn check_reads(&mut self, i: usize, d: Decoded, s: &State) {
        let mut reads = Vec::new();
        match d {
            Decoded::Alu {
                dst,
                src,
                reads_dst,
            } => {
                if reads_dst {
                    reads.push(dst);
                }
                reads.extend(src);
            }
            Decoded::Cond { dst, src, .. } => {
                reads.push(dst);
                reads.extend(src);
            }
            Decoded::Load { base, .. } => reads.push(base),
            Decoded::Store { base, src, .. } => {
                reads.push(base);
                reads.extend(src);
            }
            Decoded::Exit => reads.push(0),
            Decoded::Call { callee } => {
                // Unknown callees were reported by `check_static`.
                let known = match callee {
                    CallTarget::Helper(id) => {
                        Helper::from_id(id).map(|h| (Callee::Helper(h), h.arg_count()))
                    }
                    CallTarget::Chain(id) => self
                        .ctx
                        .chain_params(id)
                        .map(|n| (Callee::Chain(id), usize::from(n))),
                    CallTarget::Prog(id) => self
                        .ctx
                        .prog_params(id)
                        .map(|n| (Callee::Prog(id), usize::from(n))),
                };
                if let Some((callee, nparams)) = known {
                    let nparams = nparams.min(abi::MAX_ARGS);
                    if let Some(reg) = (1..=nparams as u8).find(|r| !s.has(*r)) {
                        self.report(
                            i,
                            Problem::MissingArgument {
                                callee,
                                nparams,
                                reg,
                            },
                        );
                    }
                }
            }
            Decoded::Ja { .. } | Decoded::LdImm64 { .. } => {}
        }
        let mut seen = 0u16;
        for reg in reads {
            if !s.has(reg) && seen & (1 << reg) == 0 {
                seen |= 1 << reg;
                self.report(i, Problem::UninitRegister { reg });
            }
        }
        let (base, off, size, load) = match d {
            Decoded::Load {
                base, off, size, ..
            } => (base, off, size, true),
            Decoded::Store {
                base, off, size, ..
            } => (base, off, size, false),
            _ => return,
        };
        let Some(stack_off) = s.stack_offset(base, off) else {
            return;
        };
        match stack_slot(stack_off, size) {
            Ok(slot) if load && s.slots & (1 << slot) == 0 => self.report(
                i,
                Problem::StackUninit {
                    off: slot_offset(slot),
                },
            ),
            Ok(_) => {}
            // `r10`-based accesses were checked without the dataflow, for every instruction.
            Err(problem) if base != 10 => self.report(i, problem),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::assemble;

    /// Chain 1 takes 2 parameters, chain 2 none, program 7 takes 1.
    fn context() -> Context {
        let mut ctx = Context::new();
        ctx.add_chain(1, 2).add_chain(2, 0).add_prog(7, 1);
        ctx
    }

    fn run(name: &str, src: &str, nparams: u8) -> Result<(), ValidationErrors> {
        let insns = assemble(src).unwrap_or_else(|e| panic!("{e}")).insns;
        validate(
            &Chain {
                name,
                insns: &insns,
                nparams,
            },
            &context(),
        )
    }

    /// `src` (a chain with `nparams` parameters) is valid.
    #[track_caller]
    fn pass(src: &str, nparams: u8) {
        if let Err(e) = run("test", src, nparams) {
            panic!("unexpected problems:\n{e}\nin\n{src}");
        }
    }

    /// `src` has exactly the problems `expected` (one per line, without `chain `test`: `).
    #[track_caller]
    fn fail(src: &str, nparams: u8, expected: &str) {
        match run("test", src, nparams) {
            Ok(()) => panic!("accepted:\n{src}"),
            Err(e) => {
                let text = e.to_string().replace("chain `test`: ", "");
                assert_eq!(text, expected.trim(), "problems of\n{src}");
            }
        }
    }

    #[test]
    fn the_briefs_example() {
        let src = format!("{}r3 = 1\nr3 += r7\nr0 = r3\nexit", "r0 = 0\n".repeat(11));
        let err = run("ddos", &src, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chain `ddos`: instruction 12 (`r3 += r7`): r7 is read before it is written"
        );
        assert_eq!(
            err.errors[0],
            ValidationError {
                chain: "ddos".into(),
                insn: Some(InsnRef {
                    index: 12,
                    text: "r3 += r7".into()
                }),
                problem: Problem::UninitRegister { reg: 7 },
            }
        );
    }

    #[test]
    fn valid_chains() {
        pass("r0 = 0\nexit", 0);
        pass("r0 = r1\nr0 += r5\nexit", 5);
        // Fields an instruction ignores may hold anything.
        pass(".insn 0x07, 1, 12, 3, 1\n.insn 0xdc, 1, 9, 0, 16\n.insn 0xb7, 0, 5, 0, 0\n.insn 0x95, 3, 4, 5, 0", 1);
        // r6..r9 survive calls; r0 is the result.
        pass("r6 = r1\ncall pkt_len\nr0 += r6\nexit", 1);
        pass(
            "r2 = 4\ncall pkt_load\nr1 = r0\ncall chain 2\nr1 = 0\ncall prog 7\nexit",
            1,
        );
        pass("call chain 1\nexit", 2);
        pass("r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\ncall event\nexit", 0);
        // A loop.
        pass("r0 = 0\nloop: r0 += 1\nif r0 < 10 goto loop\nexit", 0);
        // Written on both paths.
        pass(
            "if r1 == 0 goto a\nr6 = 1\ngoto b\na: r6 = 2\nb: r0 = r6\nexit",
            1,
        );
        // Unreachable code is not in the dataflow: it may read anything and run off the end.
        pass("r0 = 0\nexit\nr0 = r7\nr1 = *(u64 *)(r10 - 8)", 0);
        // A narrow store initialises its slot; slots survive calls.
        pass("*(u8 *)(r10 - 1) = 1\nr0 = *(u64 *)(r10 - 8)\nexit", 0);
        pass("*(u64 *)(r10 - 8) = r1\ncall pkt_len\nr1 = *(u64 *)(r10 - 8)\nr0 = *(s8 *)(r10 - 1)\nexit", 1);
        // Pointers computed from r10.
        pass(
            "r2 = r10\nr2 += -16\n*(u64 *)(r2 + 8) = 1\nr0 = *(u32 *)(r10 - 4)\nexit",
            0,
        );
        pass(
            "r2 = r10\nr2 -= 512\n*(u16 *)(r2 + 0) = 1\nr0 = *(u16 *)(r10 - 512)\nexit",
            0,
        );
        pass(
            "r0 = 1 ll\nr6 = 0x1000000000 ll\nr0 = *(u64 *)(r6 + 0)\nexit",
            0,
        );
        pass("gotol +1\nexit\nr0 = 0\nexit", 0);
    }

    #[test]
    fn chain_shape() {
        let insns: Vec<Insn> = vec![];
        let err = validate(
            &Chain {
                name: "empty",
                insns: &insns,
                nparams: 0,
            },
            &context(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "chain `empty`: the chain has no instructions"
        );
        fail(
            &format!("{}exit", "r0 = 0\n".repeat(abi::MAX_CHAIN_INSNS)),
            0,
            "the chain has 4097 instructions, more than the limit of 4096",
        );
        pass(
            &format!("{}exit", "r0 = 0\n".repeat(abi::MAX_CHAIN_INSNS - 1)),
            0,
        );
        fail(
            "r0 = r5\nexit",
            6,
            "the chain declares 6 parameters, more than the limit of 5",
        );
    }

    /// Every decoding rule of docs/vm-semantics.md, each on a chain `<insn>; exit`.
    #[test]
    fn decoding_rules() {
        let rows = [
            (
                ".insn 0xe7, 1, 0, 0, 0",
                "bad opcode 0xe7: unknown ALU operation",
            ),
            (
                ".insn 0xf4, 1, 0, 0, 0",
                "bad opcode 0xf4: unknown ALU operation",
            ),
            (
                ".insn 0x8f, 1, 2, 0, 0",
                "bad opcode 0x8f: neg takes no source register",
            ),
            (
                ".insn 0x37, 1, 0, 2, 1",
                "bad opcode 0x37: division offset 2 is neither 0 (unsigned) nor 1 (signed)",
            ),
            (
                ".insn 0x9c, 1, 2, -1, 0",
                "bad opcode 0x9c: division offset -1 is neither 0 (unsigned) nor 1 (signed)",
            ),
            (
                ".insn 0xb7, 1, 0, 8, 1",
                "bad opcode 0xb7: move offset 8 is not a sign extension of this instruction",
            ),
            (
                ".insn 0xbc, 1, 2, 32, 0",
                "bad opcode 0xbc: move offset 32 is not a sign extension of this instruction",
            ),
            (
                ".insn 0xbf, 1, 2, 7, 0",
                "bad opcode 0xbf: move offset 7 is not a sign extension of this instruction",
            ),
            (
                ".insn 0xd4, 1, 0, 0, 8",
                "bad opcode 0xd4: byte swap width 8 is not 16, 32 or 64",
            ),
            (
                ".insn 0xd7, 1, 0, 0, 0",
                "bad opcode 0xd7: byte swap width 0 is not 16, 32 or 64",
            ),
            (
                ".insn 0xdf, 1, 0, 0, 16",
                "bad opcode 0xdf: 64-bit byte swap with the big-endian bit",
            ),
            (
                ".insn 0xe5, 1, 0, 0, 0",
                "bad opcode 0xe5: unknown jump operation",
            ),
            (
                ".insn 0xf6, 1, 0, 0, 0",
                "bad opcode 0xf6: unknown jump operation",
            ),
            (
                ".insn 0x0d, 0, 0, 0, 0",
                "bad opcode 0x0d: goto takes no source register",
            ),
            (
                ".insn 0x0e, 0, 0, 0, 0",
                "bad opcode 0x0e: goto takes no source register",
            ),
            (
                ".insn 0x86, 0, 0, 0, 1",
                "bad opcode 0x86: call and exit are not 32-bit jump instructions",
            ),
            (
                ".insn 0x96, 0, 0, 0, 0",
                "bad opcode 0x96: call and exit are not 32-bit jump instructions",
            ),
            (
                ".insn 0x8d, 0, 0, 0, 1",
                "bad opcode 0x8d: call and exit take no source register",
            ),
            (
                ".insn 0x9d, 0, 0, 0, 0",
                "bad opcode 0x9d: call and exit take no source register",
            ),
            (
                ".insn 0x85, 0, 3, 0, 1",
                "bad opcode 0x85: call kind 3 is none of helper (0), chain (1), program (2)",
            ),
            (
                ".insn 0x20, 0, 0, 0, 0",
                "bad opcode 0x20: legacy load instructions are not supported",
            ),
            (
                ".insn 0x00, 0, 0, 0, 0",
                "bad opcode 0x00: legacy load instructions are not supported",
            ),
            (
                ".insn 0x10, 0, 0, 0, 0",
                "bad opcode 0x10: legacy load instructions are not supported",
            ),
            (
                ".insn 0x18, 1, 1, 0, 0",
                "bad opcode 0x18: 64-bit immediate load with src_reg 1 is not supported",
            ),
            (
                ".insn 0xdb, 10, 1, -8, 0",
                "bad opcode 0xdb: memory mode 0xc0 is not supported",
            ),
            (
                ".insn 0x41, 0, 1, 0, 0",
                "bad opcode 0x41: memory mode 0x40 is not supported",
            ),
            (
                ".insn 0x99, 1, 2, 0, 0",
                "bad opcode 0x99: sign-extending load of 8 bytes",
            ),
            (
                ".insn 0x9b, 10, 1, -8, 0",
                "bad opcode 0x9b: memory mode 0x80 is not supported",
            ),
            (
                ".insn 0x92, 10, 0, -8, 0",
                "bad opcode 0x92: memory mode 0x80 is not supported",
            ),
            // Registers: after the opcode, dst before src.
            (
                ".insn 0xe7, 11, 0, 0, 0",
                "bad opcode 0xe7: unknown ALU operation",
            ),
            (
                ".insn 0x07, 11, 0, 0, 1",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x0f, 12, 13, 0, 0",
                "register r12 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x0f, 1, 13, 0, 0",
                "register r13 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0xbc, 1, 15, 8, 0",
                "register r15 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x15, 14, 0, 0, 0",
                "register r14 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x1d, 1, 11, 0, 0",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x79, 0, 11, 0, 0",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x79, 11, 10, -8, 0",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x7a, 11, 0, 0, 0",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x7b, 10, 11, -8, 0",
                "register r11 does not exist (registers are r0..r10)",
            ),
            (
                ".insn 0x18, 12, 0, 0, 0",
                "register r12 does not exist (registers are r0..r10)",
            ),
            ("r10 = 1", "r10 is read-only"),
            ("w10 += w1", "r10 is read-only"),
            ("r10 = -r10", "r10 is read-only"),
            ("r10 = be16 r10", "r10 is read-only"),
            ("r10 = *(u64 *)(r10 - 8)", "r10 is read-only"),
            ("r10 = 5 ll", "r10 is read-only"),
        ];
        for (insn, message) in rows {
            let insns = assemble(&format!("{insn}\nexit")).unwrap().insns;
            let err = validate(
                &Chain {
                    name: "test",
                    insns: &insns,
                    nparams: 5,
                },
                &context(),
            )
            .unwrap_err();
            let text = crate::disasm::insn_text(&insns, 0, &Symbols::new());
            assert_eq!(
                err.to_string(),
                format!("chain `test`: instruction 0 (`{text}`): {message}"),
                "{insn}"
            );
        }
    }

    #[test]
    fn ld_imm64_pairs() {
        fail(
            "r0 = 0\nexit\n.insn 0x18, 1, 0, 0, 0",
            0,
            "instruction 2 (`.insn 0x18, 1, 0, 0, 0`): the 64-bit immediate load has no second slot",
        );
        fail(
            ".insn 0x18, 1, 0, 0, 0\n.insn 0x00, 1, 0, 0, 0\nr0 = 0\nexit",
            0,
            "instruction 0 (`.insn 0x18, 1, 0, 0, 0`): the second slot of the 64-bit immediate load \
             must have code, registers and offset 0",
        );
        fail(
            "r0 = 0\ngoto +1\nr1 = 5 ll\nexit",
            0,
            "instruction 1 (`goto +1`): jump target 3 is the second slot of a 64-bit immediate load",
        );
    }

    #[test]
    fn jumps_and_the_end_of_the_chain() {
        fail(
            "goto +5\nexit",
            0,
            "instruction 0 (`goto +5`): jump target 6 is outside the chain (instructions 0..2)",
        );
        fail(
            "r0 = 0\nif r0 == 0 goto -3\nexit",
            0,
            "instruction 1 (`if r0 == 0 goto -3`): jump target -1 is outside the chain (instructions 0..3)",
        );
        fail(
            "gotol +1\nexit",
            0,
            "instruction 0 (`gotol +1`): jump target 2 is outside the chain (instructions 0..2)",
        );
        // Unreachable jumps are checked too.
        fail(
            "r0 = 0\nexit\ngoto -4",
            0,
            "instruction 2 (`goto -4`): jump target -1 is outside the chain (instructions 0..3)",
        );
        fail(
            "r0 = 0",
            0,
            "instruction 0 (`r0 = 0`): execution can run past the end of the chain",
        );
        fail(
            "r0 = 0\nif r1 > 2 goto -2",
            1,
            "instruction 1 (`if r1 > 2 goto -2`): execution can run past the end of the chain",
        );
        // Unreachable code need not end in `exit`.
        pass("r0 = 0\nexit\nr0 = 1 ll\nr0 = 1\ngoto -5\nr0 = 2", 0);
    }

    #[test]
    fn calls() {
        fail(
            "call helper 99\nexit",
            0,
            "instruction 0 (`call helper 99`): helper 99 does not exist",
        );
        fail(
            "call chain 5\nexit",
            0,
            "instruction 0 (`call chain 5`): chain 5 does not exist",
        );
        fail(
            "call prog 8\nexit",
            0,
            "instruction 0 (`call prog 8`): program 8 does not exist",
        );
        fail(
            "call prog 4294967295\nexit",
            0,
            "instruction 0 (`call prog 4294967295`): program 4294967295 does not exist",
        );
        fail(
            "r1 = 1\ncall chain 1\nexit",
            0,
            "instruction 1 (`call chain 1`): chain 1 takes 2 arguments but r2 is not written on every path",
        );
        fail(
            "r1 = 0\ncall pkt_load\nexit",
            0,
            "instruction 1 (`call pkt_load`): helper `pkt_load` takes 2 arguments but r2 is not written on every path",
        );
        fail(
            "call pkt_len\ncall prog 7\nexit",
            1,
            "instruction 1 (`call prog 7`): program 7 takes 1 argument but r1 is not written on every path",
        );
        // IDs beyond the tables do not exist even if the context says so.
        let insns = assemble("call chain 2000\ncall prog 300\nexit")
            .unwrap()
            .insns;
        let mut ctx = Context::new();
        ctx.add_chain(2000, 0).add_prog(300, 0);
        let err = validate(
            &Chain {
                name: "test",
                insns: &insns,
                nparams: 0,
            },
            &ctx,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "chain `test`: instruction 0 (`call chain 2000`): chain 2000 does not exist\n\
             chain `test`: instruction 1 (`call prog 300`): program 300 does not exist"
        );
    }

    #[test]
    fn uninitialised_registers() {
        fail(
            "exit",
            0,
            "instruction 0 (`exit`): r0 is read before it is written",
        );
        fail(
            "w0 += 1\nexit",
            0,
            "instruction 0 (`w0 += 1`): r0 is read before it is written",
        );
        fail(
            "r0 = r6\nexit",
            5,
            "instruction 0 (`r0 = r6`): r6 is read before it is written",
        );
        fail(
            "if r1 == 0 goto +1\nr6 = 1\nr0 = r6\nexit",
            1,
            "instruction 2 (`r0 = r6`): r6 is read before it is written",
        );
        fail(
            "call pkt_len\nr0 = r1\nexit",
            1,
            "instruction 1 (`r0 = r1`): r1 is read before it is written",
        );
        fail(
            "if r6 > r7 goto +0\nr0 = 0\nexit",
            0,
            "instruction 0 (`if r6 > r7 goto +0`): r6 is read before it is written\n\
             instruction 0 (`if r6 > r7 goto +0`): r7 is read before it is written",
        );
        fail(
            "r6 += r6\nr0 = 0\nexit",
            0,
            "instruction 0 (`r6 += r6`): r6 is read before it is written",
        );
        fail(
            "r1 = be16 r1\nr0 = 0\nexit",
            0,
            "instruction 0 (`r1 = be16 r1`): r1 is read before it is written",
        );
        fail(
            "r0 = -r0\nexit",
            0,
            "instruction 0 (`r0 = -r0`): r0 is read before it is written",
        );
        fail(
            "*(u64 *)(r10 - 8) = r6\nr0 = 0\nexit",
            0,
            "instruction 0 (`*(u64 *)(r10 - 8) = r6`): r6 is read before it is written",
        );
        fail(
            "r0 = *(u64 *)(r6 + 0)\nexit",
            0,
            "instruction 0 (`r0 = *(u64 *)(r6 + 0)`): r6 is read before it is written",
        );
        fail(
            "*(u32 *)(r7 + 0) = 1\nr0 = 0\nexit",
            0,
            "instruction 0 (`*(u32 *)(r7 + 0) = 1`): r7 is read before it is written",
        );
    }

    #[test]
    fn stack_accesses() {
        fail(
            "*(u64 *)(r10 + 0) = 1\nr0 = 0\nexit",
            0,
            "instruction 0 (`*(u64 *)(r10 + 0) = 1`): stack access of 8 bytes at r10+0 is outside the frame [r10-512, r10)",
        );
        fail(
            "r0 = *(u8 *)(r10 - 513)\nexit",
            0,
            "instruction 0 (`r0 = *(u8 *)(r10 - 513)`): stack access of 1 bytes at r10-513 is outside the frame [r10-512, r10)",
        );
        fail(
            "*(u32 *)(r10 - 6) = 1\nr0 = 0\nexit",
            0,
            "instruction 0 (`*(u32 *)(r10 - 6) = 1`): stack access of 4 bytes at r10-6 is not aligned to 4 bytes",
        );
        fail(
            "r0 = *(u64 *)(r10 - 8)\nexit",
            0,
            "instruction 0 (`r0 = *(u64 *)(r10 - 8)`): stack slot r10-8 is read before it is written",
        );
        fail(
            "if r1 == 0 goto +1\n*(u64 *)(r10 - 16) = r1\nr0 = *(u32 *)(r10 - 12)\nexit",
            1,
            "instruction 2 (`r0 = *(u32 *)(r10 - 12)`): stack slot r10-16 is read before it is written",
        );
        fail(
            "*(u64 *)(r10 - 16) = 0\nr0 = *(u64 *)(r10 - 8)\nexit",
            0,
            "instruction 1 (`r0 = *(u64 *)(r10 - 8)`): stack slot r10-8 is read before it is written",
        );
        // Through pointers computed from r10.
        fail(
            "r2 = r10\nr2 -= 8\nr0 = *(u64 *)(r2 + 0)\nexit",
            0,
            "instruction 2 (`r0 = *(u64 *)(r2 + 0)`): stack slot r10-8 is read before it is written",
        );
        fail(
            "r2 = r10\nr0 = *(u64 *)(r2 + 0)\nexit",
            0,
            "instruction 1 (`r0 = *(u64 *)(r2 + 0)`): stack access of 8 bytes at r10+0 is outside the frame [r10-512, r10)",
        );
        fail(
            "r2 = r10\nr2 += -7\n*(u16 *)(r2 + 0) = 1\nr0 = 0\nexit",
            0,
            "instruction 2 (`*(u16 *)(r2 + 0) = 1`): stack access of 2 bytes at r10-7 is not aligned to 2 bytes",
        );
        // A pointer that differs between paths is no longer followed: the store does not count.
        fail(
            "r2 = r10\nr2 += -8\nif r1 == 0 goto +1\nr2 += -8\n*(u64 *)(r2 + 0) = 1\nr0 = *(u64 *)(r10 - 8)\nexit",
            1,
            "instruction 5 (`r0 = *(u64 *)(r10 - 8)`): stack slot r10-8 is read before it is written",
        );
    }

    /// What an instruction alone shows is checked even where no path leads.
    #[test]
    fn unreachable_instructions_are_checked_alone() {
        fail(
            "r0 = 0\nexit\n.insn 0xe7, 0, 0, 0, 0\n*(u64 *)(r10 + 8) = 1\ncall chain 9",
            0,
            "instruction 2 (`.insn 0xe7, 0, 0, 0, 0`): bad opcode 0xe7: unknown ALU operation\n\
             instruction 3 (`*(u64 *)(r10 + 8) = 1`): stack access of 8 bytes at r10+8 is outside the frame [r10-512, r10)\n\
             instruction 4 (`call chain 9`): chain 9 does not exist",
        );
    }

    #[test]
    fn problems_come_in_order_with_names() {
        let insns = assemble("call chain 3\nr0 = r9\n.insn 0xe7, 0, 0, 0, 0")
            .unwrap()
            .insns;
        let mut ctx = context();
        let mut symbols = Symbols::new();
        symbols.add_chain(3, "ddos");
        ctx.set_symbols(symbols);
        let err = validate(
            &Chain {
                name: "top",
                insns: &insns,
                nparams: 7,
            },
            &ctx,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "chain `top`: the chain declares 7 parameters, more than the limit of 5\n\
             chain `top`: instruction 0 (`call chain ddos`): chain 3 does not exist\n\
             chain `top`: instruction 1 (`r0 = r9`): r9 is read before it is written\n\
             chain `top`: instruction 2 (`.insn 0xe7, 0, 0, 0, 0`): bad opcode 0xe7: unknown ALU operation"
        );
    }
}
