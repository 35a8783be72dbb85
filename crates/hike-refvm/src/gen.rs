//! Random chains, packets and arguments, for tests and fuzzing.
//!
//! [`valid_chains`] makes chains that a validator should accept and that can only fault for
//! reasons no validator can rule out (a packet offset beyond a packet's end, the budget, the
//! program-call cap, the call depth):
//! - every register is written before it is read on every path, counting `r1..r5` as lost
//!   after every call (the ABI's contract) and a chain's parameters as its only inputs;
//! - jumps go forward, except the back edge of a loop whose counter (one of `r6..r9`, which no
//!   instruction of its body writes) counts down from at most 4;
//! - stack accesses are aligned, inside the chain's own frame, and read only slots written on
//!   every path before;
//! - packet helpers get a valid size and an offset that is usually inside any packet of 14 bytes
//!   or more, and sometimes outside (so that `PktOutOfBounds` faults are exercised);
//! - helpers are `pkt_load`, `pkt_store`, `pkt_len` and `event` (never `ktime_ns` or `random`,
//!   whose results differ between two VMs); programs and chains are called with their
//!   parameters set; chain `i` of the list only calls chains `j > i`, so there is no recursion;
//! - the chain ends with `exit`, `r0` set.
//!
//! [`invalid_chains`] corrupts such chains with random instruction words and field changes,
//! for tests that both VMs fault the same way. [`packet`], [`meta`] and [`args`] make inputs.
//!
//! ```
//! use hike_refvm::{gen, Boot, RefVm};
//! use rand::{rngs::SmallRng, SeedableRng};
//!
//! let mut rng = SmallRng::seed_from_u64(1);
//! let config = gen::GenConfig::default();
//! let chains = gen::valid_chains(&mut rng, &config);
//! let mut vm = RefVm::new();
//! gen::load(&mut vm, &chains).unwrap();
//! let boot = Boot::new(chains[0].id, gen::packet(&mut rng)).with_args(&gen::args(&mut rng));
//! let out = vm.run(boot);
//! assert!(out.fault.is_none() || out.fault == Some(hike_isa::abi::Fault::PktOutOfBounds));
//! ```

use hike_isa::abi::{self, Helper, PktMeta};
use hike_isa::{op, Insn};
use rand::Rng;

use crate::error::RefVmError;
use crate::ins::*;
use crate::RefVm;

/// A program the generated chains may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Its ID.
    pub id: u32,
    /// How many of `r1..r5` it takes; the generator sets them before every call.
    pub nparams: u8,
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// IDs of the chains to generate. Chain `chain_ids[i]` may call `chain_ids[j]` for `j > i`;
    /// the first one is the one to boot.
    pub chain_ids: Vec<u32>,
    /// Programs the chains may call (none by default).
    pub programs: Vec<ProgramSpec>,
    /// Instructions per chain, roughly (a chain ends up between a few and this many plus a
    /// dozen, and never above `abi::MAX_CHAIN_INSNS`).
    pub max_insns: usize,
    /// Percentage of packet helper calls whose offset may be out of the packet.
    pub pkt_oob_percent: u32,
    /// How deep `if` blocks and loops nest (loops never more than 2).
    pub max_nesting: u32,
}

impl Default for GenConfig {
    /// Four chains (IDs 0 to 3), no programs, about 96 instructions each, 3% of packet offsets
    /// out of range, nesting 3.
    fn default() -> Self {
        GenConfig {
            chain_ids: vec![0, 1, 2, 3],
            programs: Vec::new(),
            max_insns: 96,
            pkt_oob_percent: 3,
            max_nesting: 3,
        }
    }
}

/// A generated chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedChain {
    /// Its ID (from [`GenConfig::chain_ids`]).
    pub id: u32,
    /// The parameters it reads (`r1..r<nparams>`).
    pub nparams: u8,
    /// Its instructions.
    pub insns: Vec<Insn>,
}

/// Loads generated chains into a VM.
pub fn load(vm: &mut RefVm, chains: &[GeneratedChain]) -> Result<(), RefVmError> {
    for c in chains {
        vm.load_chain(c.id, c.insns.clone(), c.nparams)?;
    }
    Ok(())
}

/// Valid chains, one per ID of `config.chain_ids`, in that order (see the module docs).
pub fn valid_chains<R: Rng + ?Sized>(rng: &mut R, config: &GenConfig) -> Vec<GeneratedChain> {
    let nparams: Vec<u8> = config
        .chain_ids
        .iter()
        .map(|_| rng.random_range(0..=5))
        .collect();
    let mut chains = Vec::with_capacity(config.chain_ids.len());
    for (i, &id) in config.chain_ids.iter().enumerate() {
        let callees: Vec<(u32, u8)> = config.chain_ids[i + 1..]
            .iter()
            .copied()
            .zip(nparams[i + 1..].iter().copied())
            .collect();
        let insns = ChainGen::new(&mut *rng, config, &callees, nparams[i]).chain();
        chains.push(GeneratedChain {
            id,
            nparams: nparams[i],
            insns,
        });
    }
    chains
}

/// Chains with faults: [`valid_chains`] passed through [`corrupt`]. Some may still be valid.
pub fn invalid_chains<R: Rng + ?Sized>(rng: &mut R, config: &GenConfig) -> Vec<GeneratedChain> {
    let mut chains = valid_chains(rng, config);
    for c in &mut chains {
        corrupt(rng, &mut c.insns);
    }
    chains
}

/// Corrupts a chain with one to four of: a random instruction word, a random opcode with
/// random fields, a changed field (opcode bit, register, offset, immediate), an inserted random
/// instruction, a truncation. Calls to `ktime_ns` and `random` are turned into calls of an
/// unknown helper so that two VMs still compute the same values. The chain is never empty.
pub fn corrupt<R: Rng + ?Sized>(rng: &mut R, insns: &mut Vec<Insn>) {
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..insns.len());
        match rng.random_range(0..10) {
            0 => insns[at] = Insn::from_word(rng.random()),
            1 | 2 => insns[at] = random_insn(rng),
            3 => insns[at].code ^= 1 << rng.random_range(0..8),
            4 => insns[at].regs = rng.random(),
            5 => insns[at].off = interesting_off(rng),
            6 => insns[at].imm = interesting_imm(rng),
            7 => insns.insert(at, random_insn(rng)),
            8 if insns.len() > 1 => insns.truncate(rng.random_range(1..insns.len())),
            _ => {
                // A register above 10 where the instruction has one.
                let r = rng.random_range(11..16);
                insns[at].regs = if rng.random() {
                    (insns[at].regs & 0xf0) | r
                } else {
                    (insns[at].regs & 0x0f) | r << 4
                };
            }
        }
    }
    insns.truncate(abi::MAX_CHAIN_INSNS);
    for i in insns.iter_mut() {
        let is_helper_call = i.code == op::JMP | op::CALL && i.src() == abi::CALL_HELPER;
        if is_helper_call && (i.imm == Helper::KtimeNs as i32 || i.imm == Helper::Random as i32) {
            i.imm = Helper::MAX as i32;
        }
    }
}

/// A random packet: 14 to 200 random bytes.
pub fn packet<R: Rng + ?Sized>(rng: &mut R) -> Vec<u8> {
    let len = rng.random_range(14..=200);
    (0..len).map(|_| rng.random()).collect()
}

/// Random packet metadata (every field random).
pub fn meta<R: Rng + ?Sized>(rng: &mut R) -> PktMeta {
    PktMeta {
        ingress_ifindex: rng.random(),
        rx_queue_index: rng.random(),
        eth_proto: rng.random(),
        l3_off: rng.random(),
        l4_off: rng.random(),
        l4_proto: rng.random(),
        flags: rng.random(),
        user: [rng.random(), rng.random()],
    }
}

/// Random boot arguments, biased towards edge values.
pub fn args<R: Rng + ?Sized>(rng: &mut R) -> [u64; abi::MAX_ARGS] {
    std::array::from_fn(|_| interesting_u64(rng))
}

fn interesting_u64<R: Rng + ?Sized>(rng: &mut R) -> u64 {
    match rng.random_range(0..8) {
        0 => 0,
        1 => rng.random_range(0..16),
        2 => u64::MAX - rng.random_range(0..4),
        3 => 1 << rng.random_range(0..64),
        4 => i64::MIN as u64,
        5 => u64::from(rng.random::<u32>()),
        _ => rng.random(),
    }
}

fn interesting_imm<R: Rng + ?Sized>(rng: &mut R) -> i32 {
    match rng.random_range(0..8) {
        0 => 0,
        1 => rng.random_range(-4..16),
        2 => -1,
        3 => i32::MIN,
        4 => i32::MAX,
        5 => 1 << rng.random_range(0..31),
        _ => rng.random(),
    }
}

fn interesting_off<R: Rng + ?Sized>(rng: &mut R) -> i16 {
    match rng.random_range(0..4) {
        0 => rng.random_range(-8..8),
        1 => -8 * rng.random_range(1..=64),
        _ => rng.random(),
    }
}

/// An instruction with a random opcode and plausible fields.
fn random_insn<R: Rng + ?Sized>(rng: &mut R) -> Insn {
    let dst = if rng.random_bool(0.8) {
        rng.random_range(0..=10)
    } else {
        rng.random_range(0..16)
    };
    let src = if rng.random_bool(0.8) {
        rng.random_range(0..=10)
    } else {
        rng.random_range(0..16)
    };
    Insn::new(
        rng.random(),
        dst,
        src,
        interesting_off(rng),
        interesting_imm(rng),
    )
}

const ALL_REGS: u16 = 0x7ff;
const ARG_REGS: u16 = 0b11_1110;
const CALLEE_SAVED: u16 = 0b11_1100_0000;
const R10: u16 = 1 << 10;

/// Registers known written and stack slots known written, on every path to a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Known {
    regs: u16,
    slots: u64,
}

impl Known {
    fn meet(self, other: Known) -> Known {
        Known {
            regs: self.regs & other.regs,
            slots: self.slots & other.slots,
        }
    }
}

/// The generator of one chain.
struct ChainGen<'a, R: ?Sized> {
    rng: &'a mut R,
    config: &'a GenConfig,
    callees: &'a [(u32, u8)],
    out: Vec<Insn>,
    limit: usize,
    known: Known,
    /// Loop counters of the enclosing loops: no instruction may write them.
    reserved: u16,
    nesting: u32,
    loops: u32,
}

impl<'a, R: Rng + ?Sized> ChainGen<'a, R> {
    fn new(rng: &'a mut R, config: &'a GenConfig, callees: &'a [(u32, u8)], nparams: u8) -> Self {
        let limit = config.max_insns.clamp(8, abi::MAX_CHAIN_INSNS - 64);
        let params = ((1u16 << (nparams + 1)) - 1) & ARG_REGS;
        ChainGen {
            rng,
            config,
            callees,
            out: Vec::with_capacity(limit + 16),
            limit,
            known: Known {
                regs: params | R10,
                slots: 0,
            },
            reserved: 0,
            nesting: 0,
            loops: 0,
        }
    }

    fn chain(mut self) -> Vec<Insn> {
        // Prologue: most registers get a value; the others are set when first needed.
        let params = self.known.regs;
        for r in (0..10u8).filter(|r| params & (1 << r) == 0) {
            if self.rng.random_bool(0.7) {
                self.init(r);
            }
        }
        while self.room() > 24 {
            self.item();
        }
        self.epilogue();
        debug_assert!(self.out.len() <= abi::MAX_CHAIN_INSNS);
        self.out
    }

    fn room(&self) -> usize {
        self.limit.saturating_sub(self.out.len())
    }

    fn emit(&mut self, insn: Insn) {
        self.out.push(insn);
    }

    fn emit_ld_imm64(&mut self, dst: u8, value: u64) {
        self.out.extend(ld_imm64(dst, value));
        self.def(dst);
    }

    fn def(&mut self, r: u8) {
        self.known.regs |= 1 << r;
    }

    fn is_known(&self, r: u8) -> bool {
        self.known.regs & (1 << r) != 0
    }

    /// After any call: `r1..r5` are lost, `r0` is the result.
    fn after_call(&mut self) {
        self.known.regs = (self.known.regs & !ARG_REGS) | 1;
    }

    fn pick(&mut self, set: u16) -> Option<u8> {
        let n = set.count_ones();
        if n == 0 {
            return None;
        }
        let k = self.rng.random_range(0..n);
        (0..16u8).filter(|r| set & (1 << r) != 0).nth(k as usize)
    }

    /// A register to write: `r0..r9` but no loop counter.
    fn dst(&mut self) -> u8 {
        self.pick(ALL_REGS & !R10 & !self.reserved)
            .expect("at most two loop counters")
    }

    /// A register to read: any known one (`r10` always is).
    fn src(&mut self) -> u8 {
        self.pick(self.known.regs).expect("r10 is always known")
    }

    /// A register to read and write, written first if none is known.
    fn dst_known(&mut self) -> u8 {
        let set = self.known.regs & ALL_REGS & !R10 & !self.reserved;
        match self.pick(set) {
            Some(r) => r,
            None => {
                let r = self.dst();
                self.init(r);
                r
            }
        }
    }

    /// Writes `r` with a random value.
    fn init(&mut self, r: u8) {
        match self.rng.random_range(0..4) {
            0 => {
                let v = interesting_u64(self.rng);
                self.emit_ld_imm64(r, v);
            }
            1 if self.known.regs & !R10 != 0 => {
                let s = self.pick(self.known.regs & !R10).expect("checked");
                self.emit(mov64_x(r, s));
            }
            2 => {
                let imm = interesting_imm(self.rng);
                self.emit(alu32_k(op::MOV, r, imm));
            }
            _ => {
                let imm = interesting_imm(self.rng);
                self.emit(mov64_k(r, imm));
            }
        }
        self.def(r);
    }

    /// Sets `r` to a known register's value or a random one.
    fn set_arg(&mut self, r: u8) {
        if self.rng.random_bool(0.5) {
            let s = self.src();
            self.emit(mov64_x(r, s));
            self.def(r);
        } else {
            self.init(r);
        }
    }

    fn item(&mut self) {
        let nest_ok = self.nesting < self.config.max_nesting && self.room() > 48;
        match self.rng.random_range(0..100) {
            0..24 => self.alu(),
            24..31 => self.alu_special(),
            31..34 => {
                let r = self.dst();
                let v = interesting_u64(self.rng);
                self.emit_ld_imm64(r, v);
            }
            34..42 => self.stack_store(),
            42..48 => self.stack_load(),
            48..51 => self.derived_pointer(),
            51..54 => self.meta_load(),
            54..64 => self.pkt_access(),
            64..68 => self.small_helper(),
            68..73 if !self.config.programs.is_empty() => self.prog_call(),
            73..78 if !self.callees.is_empty() => self.chain_call(),
            78..87 if nest_ok => self.if_block(),
            87..93 if nest_ok => self.if_else(),
            93..97 if nest_ok && self.loops < 2 => self.loop_block(),
            _ => self.alu(),
        }
    }

    /// A nested block of a few items.
    fn block(&mut self) {
        self.nesting += 1;
        let n = self.rng.random_range(1..=5);
        for _ in 0..n {
            if self.room() <= 24 {
                break;
            }
            self.item();
        }
        self.nesting -= 1;
    }

    fn epilogue(&mut self) {
        if !self.is_known(0) || self.rng.random_bool(0.3) {
            let s = self.src();
            self.emit(mov64_x(0, s));
            self.def(0);
        }
        self.emit(exit());
    }

    // ---- Straight-line items -----------------------------------------------------------------

    fn alu(&mut self) {
        const OPS: [u8; 12] = [
            op::ADD,
            op::SUB,
            op::MUL,
            op::DIV,
            op::OR,
            op::AND,
            op::LSH,
            op::RSH,
            op::MOD,
            op::XOR,
            op::MOV,
            op::ARSH,
        ];
        let o = OPS[self.rng.random_range(0..OPS.len())];
        let is64 = self.rng.random_bool(0.6);
        let class = if is64 { op::ALU64 } else { op::ALU };
        let dst = if o == op::MOV {
            self.dst()
        } else {
            self.dst_known()
        };
        let off = if matches!(o, op::DIV | op::MOD) {
            self.rng.random_range(0..=1)
        } else {
            0
        };
        if self.rng.random_bool(0.5) {
            let src = self.src();
            self.emit(alu_off(class | op::X | o, dst, src, off, 0));
        } else {
            let width = if is64 { 64 } else { 32 };
            let imm = match o {
                // Amounts in range and divisors not zero, as a strict validator wants them.
                op::LSH | op::RSH | op::ARSH => self.rng.random_range(0..width),
                op::DIV | op::MOD => match interesting_imm(self.rng) {
                    0 => 1,
                    v => v,
                },
                _ => interesting_imm(self.rng),
            };
            self.emit(alu_off(class | op::K | o, dst, 0, off, imm));
        }
        self.def(dst);
    }

    fn alu_special(&mut self) {
        match self.rng.random_range(0..3) {
            0 => {
                let is64 = self.rng.random_bool(0.5);
                let (class, offs): (u8, &[i16]) = if is64 {
                    (op::ALU64, &[8, 16, 32])
                } else {
                    (op::ALU, &[8, 16])
                };
                let off = offs[self.rng.random_range(0..offs.len())];
                let dst = self.dst();
                let src = self.src();
                self.emit(alu_off(class | op::X | op::MOV, dst, src, off, 0));
                self.def(dst);
            }
            1 => {
                let dst = self.dst_known();
                let bits = [16, 32, 64][self.rng.random_range(0..3)];
                let code = match self.rng.random_range(0..3) {
                    0 => op::ALU | op::END | op::TO_LE,
                    1 => op::ALU | op::END | op::TO_BE,
                    _ => op::ALU64 | op::END | op::TO_LE,
                };
                self.emit(Insn::new(code, dst, 0, 0, bits));
            }
            _ => {
                let dst = self.dst_known();
                let class = if self.rng.random() {
                    op::ALU64
                } else {
                    op::ALU
                };
                self.emit(Insn::new(class | op::NEG, dst, 0, 0, 0));
            }
        }
    }

    /// A size and an aligned offset from the frame's end (`r10`) inside slot `slot`.
    fn slot_offset(&mut self, slot: u32) -> (u8, i16) {
        let size = [op::B, op::H, op::W, op::DW][self.rng.random_range(0..4)];
        let bytes = op::size_bytes(size);
        let within = self.rng.random_range(0..8 / bytes) * bytes;
        let a = (slot * 8 + within) as i16;
        (size, a - abi::STACK_SIZE as i16)
    }

    fn stack_store(&mut self) {
        // Slots near r10 more often, so that loads find written ones.
        let slot = if self.rng.random_bool(0.6) {
            self.rng.random_range(56..64)
        } else {
            self.rng.random_range(0..64)
        };
        let (size, off) = self.slot_offset(slot);
        if self.rng.random_bool(0.6) {
            let src = self.src();
            self.emit(stx(size, 10, src, off));
        } else {
            let imm = interesting_imm(self.rng);
            self.emit(st(size, 10, off, imm));
        }
        self.known.slots |= 1 << slot;
    }

    /// A written slot, if any.
    fn written_slot(&mut self) -> Option<u32> {
        let n = self.known.slots.count_ones();
        if n == 0 {
            return None;
        }
        let k = self.rng.random_range(0..n);
        (0..64u32)
            .filter(|s| self.known.slots & (1 << s) != 0)
            .nth(k as usize)
    }

    fn stack_load(&mut self) {
        let Some(slot) = self.written_slot() else {
            return self.stack_store();
        };
        let (size, off) = self.slot_offset(slot);
        let dst = self.dst();
        if size != op::DW && self.rng.random_bool(0.3) {
            self.emit(ldxsx(size, dst, 10, off));
        } else {
            self.emit(ldx(size, dst, 10, off));
        }
        self.def(dst);
    }

    /// A store or load through a register pointing into the frame.
    fn derived_pointer(&mut self) {
        let load = self.known.slots != 0 && self.rng.random();
        let slot = match load {
            true => self.written_slot().expect("checked"),
            false => self.rng.random_range(0..64),
        };
        let (size, off) = self.slot_offset(slot);
        let base: i16 = -self.rng.random_range(1..=512);
        let ptr = self.dst();
        self.emit(mov64_x(ptr, 10));
        self.emit(alu64_k(op::ADD, ptr, i32::from(base)));
        self.def(ptr);
        if load {
            let dst = self.dst();
            self.emit(ldx(size, dst, ptr, off - base));
            self.def(dst);
        } else {
            let src = self.src();
            self.emit(stx(size, ptr, src, off - base));
            self.known.slots |= 1 << slot;
        }
    }

    fn meta_load(&mut self) {
        let size = [op::B, op::H, op::W, op::DW][self.rng.random_range(0..4)];
        let bytes = op::size_bytes(size);
        let a = (self.rng.random_range(0..32 / bytes) * bytes) as i16;
        let base: i16 = self.rng.random_range(0..32);
        let ptr = self.dst();
        self.emit_ld_imm64(ptr, abi::ADDR_META + base as u64);
        let dst = self.dst();
        if size != op::DW && self.rng.random_bool(0.3) {
            self.emit(ldxsx(size, dst, ptr, a - base));
        } else {
            self.emit(ldx(size, dst, ptr, a - base));
        }
        self.def(dst);
    }

    fn call_helper(&mut self, helper: Helper) {
        self.emit(call_helper(helper));
        self.after_call();
    }

    /// `pkt_load` or `pkt_store` with a valid size and a usually valid offset.
    fn pkt_access(&mut self) {
        let bytes: i32 = [1, 2, 4, 8][self.rng.random_range(0..4)];
        let oob = self.rng.random_range(0..100) < self.config.pkt_oob_percent;
        match (oob, self.rng.random_range(0..3)) {
            (false, 0) => {
                // From the packet's end: len - size - k, with len >= 14.
                self.call_helper(Helper::PktLen);
                let k = self.rng.random_range(0..=14 - bytes);
                self.emit(mov64_x(1, 0));
                self.emit(alu64_k(op::ADD, 1, -(bytes + k)));
            }
            (false, _) => {
                let off = self.rng.random_range(0..=14 - bytes);
                self.emit(mov64_k(1, off));
            }
            (true, 0) => {
                // One byte past the end.
                self.call_helper(Helper::PktLen);
                self.emit(mov64_x(1, 0));
                self.emit(alu64_k(op::ADD, 1, 1 - bytes));
            }
            (true, 1) => {
                let off = self.rng.random_range(0..256);
                self.emit(mov64_k(1, off));
            }
            (true, _) => {
                let off = match self.rng.random() {
                    true => 0x1_0000 - self.rng.random_range(0..=8),
                    false => u64::MAX - self.rng.random_range(0..=8),
                };
                self.out.extend(ld_imm64(1, off));
            }
        }
        self.def(1);
        self.emit(mov64_k(2, bytes));
        self.def(2);
        if self.rng.random() {
            self.call_helper(Helper::PktLoad);
        } else {
            self.set_arg(3);
            self.call_helper(Helper::PktStore);
        }
    }

    fn small_helper(&mut self) {
        if self.rng.random() {
            self.call_helper(Helper::PktLen);
        } else {
            let code = interesting_imm(self.rng);
            self.emit(mov64_k(1, code));
            self.def(1);
            for r in 2..=4 {
                self.set_arg(r);
            }
            self.call_helper(Helper::Event);
        }
    }

    fn prog_call(&mut self) {
        let programs = &self.config.programs;
        let p = programs[self.rng.random_range(0..programs.len())];
        for r in 1..=p.nparams.min(5) {
            self.set_arg(r);
        }
        self.emit(call_prog(p.id));
        self.after_call();
    }

    fn chain_call(&mut self) {
        let (id, nparams) = self.callees[self.rng.random_range(0..self.callees.len())];
        for r in 1..=nparams {
            self.set_arg(r);
        }
        self.emit(call_chain(id));
        // The callee restores r6..r9; its stack is its own, so ours is unchanged.
        self.after_call();
    }

    // ---- Control flow ------------------------------------------------------------------------

    /// A conditional jump with its offset to be patched.
    fn cond_jump(&mut self) -> usize {
        const OPS: [u8; 11] = [
            op::JEQ,
            op::JGT,
            op::JGE,
            op::JSET,
            op::JNE,
            op::JSGT,
            op::JSGE,
            op::JLT,
            op::JLE,
            op::JSLT,
            op::JSLE,
        ];
        let o = OPS[self.rng.random_range(0..OPS.len())];
        let dst = self.src();
        let insn = match (self.rng.random(), self.rng.random()) {
            (false, false) => jmp_k(o, dst, interesting_imm(self.rng), 0),
            (false, true) => jmp32_k(o, dst, interesting_imm(self.rng), 0),
            (true, false) => jmp_x(o, dst, self.src(), 0),
            (true, true) => jmp32_x(o, dst, self.src(), 0),
        };
        self.emit(insn);
        self.out.len() - 1
    }

    /// Points the jump at `at` to the next instruction to be emitted.
    fn patch_to_here(&mut self, at: usize) {
        let delta = self.out.len() - at - 1;
        let insn = &mut self.out[at];
        if insn.code == op::JMP32 | op::JA {
            insn.imm = delta as i32;
        } else {
            insn.off = i16::try_from(delta).expect("chains are shorter than i16::MAX");
        }
    }

    /// `if cond goto END; then; END:` where `then` may end with `exit`.
    fn if_block(&mut self) {
        let before = self.known;
        let jump = self.cond_jump();
        self.block();
        let returns = self.rng.random_bool(0.15);
        if returns {
            self.epilogue();
        }
        let then = self.known;
        self.patch_to_here(jump);
        self.known = if returns { before } else { before.meet(then) };
    }

    /// `if cond goto ELSE; then; goto END; ELSE: else; END:` (`ja` or `gotol`).
    fn if_else(&mut self) {
        let before = self.known;
        let jump = self.cond_jump();
        self.block();
        let then = self.known;
        let skip = self.out.len();
        let long: bool = self.rng.random();
        self.emit(if long { gotol(0) } else { ja(0) });
        self.patch_to_here(jump);
        self.known = before;
        self.block();
        let otherwise = self.known;
        self.patch_to_here(skip);
        self.known = then.meet(otherwise);
    }

    /// `c = n; HEAD: body; c -= 1; if c != 0 goto HEAD` with a counter no body writes.
    fn loop_block(&mut self) {
        let Some(counter) = self.pick(CALLEE_SAVED & !self.reserved) else {
            return self.alu();
        };
        let n = self.rng.random_range(1..=4);
        let wide: bool = self.rng.random();
        self.emit(if wide {
            mov64_k(counter, n)
        } else {
            alu32_k(op::MOV, counter, n)
        });
        self.def(counter);
        self.reserved |= 1 << counter;
        self.loops += 1;
        // The body starts from what holds at the head on every iteration: only r6..r10 survive
        // a call, and the body only adds registers and slots to those.
        self.known.regs &= CALLEE_SAVED | R10;
        let head = self.out.len();
        self.block();
        if self.rng.random() {
            self.emit(alu64_k(op::ADD, counter, -1));
        } else {
            self.emit(alu32_k(op::SUB, counter, 1));
        }
        let back = head as i64 - self.out.len() as i64 - 1;
        let back = i16::try_from(back).expect("chains are shorter than i16::MAX");
        let wide: bool = self.rng.random();
        self.emit(if wide {
            jmp_k(op::JNE, counter, 0, back)
        } else {
            jmp32_k(op::JNE, counter, 0, back)
        });
        self.loops -= 1;
        self.reserved &= !(1 << counter);
    }
}
