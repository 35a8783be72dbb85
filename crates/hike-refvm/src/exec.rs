//! The interpreter: `docs/vm-semantics.md`, one section per function, in the document's order
//! of checks. A step never changes the pc before its last possible fault, so the fault's pc is
//! always the machine's pc.

use hike_isa::abi::{self, Event, Fault, Helper, PktMeta};
use hike_isa::{op, Insn};

use crate::vm::{
    Boot, Chain, Counters, Ending, FrameState, MachineState, Program, ProgramCall, ProgramOutcome,
    RunOutcome,
};

/// What the interpreter borrows from the [`crate::RefVm`] for one run.
pub(crate) struct Env<'a> {
    pub(crate) chains: &'a [Option<Chain>],
    pub(crate) programs: &'a mut [Option<Program>],
    pub(crate) ktime: &'a mut dyn FnMut() -> u64,
    pub(crate) random: &'a mut dyn FnMut() -> u32,
    pub(crate) stats: bool,
}

/// Why a packet ended without a fault.
enum End {
    /// `exit` at depth 0.
    Exit,
    /// A program returned a verdict.
    Program { prog_id: u32, verdict: u32 },
}

/// A step's result: go on, end the packet, or fault.
type Step = Result<Option<End>, Fault>;

/// `r10` of frame `depth`: one past the end of its stack.
fn frame_pointer(depth: u32) -> u64 {
    abi::ADDR_STACK + (u64::from(depth) + 1) * abi::STACK_SIZE as u64
}

/// A register the instruction reads: `r0..r10`.
fn read_reg(r: u8) -> Result<usize, Fault> {
    if r > 10 {
        Err(Fault::BadRegister)
    } else {
        Ok(usize::from(r))
    }
}

/// A register the instruction writes: `r0..r9`.
fn write_reg(r: u8) -> Result<usize, Fault> {
    if r >= 10 {
        Err(Fault::BadRegister)
    } else {
        Ok(usize::from(r))
    }
}

/// `pc + 1 + delta` in 32-bit wrapping arithmetic.
fn jump_target(pc: u32, delta: i32) -> u32 {
    pc.wrapping_add(1).wrapping_add(delta as u32)
}

/// `struct hike_pkt_meta` as little-endian bytes.
fn meta_bytes(m: &PktMeta) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..4].copy_from_slice(&m.ingress_ifindex.to_le_bytes());
    b[4..8].copy_from_slice(&m.rx_queue_index.to_le_bytes());
    b[8..10].copy_from_slice(&m.eth_proto.to_le_bytes());
    b[10..12].copy_from_slice(&m.l3_off.to_le_bytes());
    b[12..14].copy_from_slice(&m.l4_off.to_le_bytes());
    b[14] = m.l4_proto;
    b[15] = m.flags;
    b[16..24].copy_from_slice(&m.user[0].to_le_bytes());
    b[24..32].copy_from_slice(&m.user[1].to_le_bytes());
    b
}

/// Little-endian load of `size` bytes, zero- or sign-extended.
fn load_le(bytes: &[u8], size: usize, sign_extend: bool) -> u64 {
    let mut buf = [0u8; 8];
    buf[..size].copy_from_slice(&bytes[..size]);
    let v = u64::from_le_bytes(buf);
    if !sign_extend {
        return v;
    }
    match size {
        1 => v as u8 as i8 as i64 as u64,
        2 => v as u16 as i16 as i64 as u64,
        4 => v as u32 as i32 as i64 as u64,
        _ => v,
    }
}

/// Runs one packet (the "Packet boot" section, then steps until the end).
pub(crate) fn run(env: Env<'_>, m: &mut MachineState, budget: u32, boot: Boot) -> RunOutcome {
    let Boot {
        chain_id,
        args,
        packet,
        meta,
        default_verdict,
        failsafe_verdict,
    } = boot;
    m.regs = [0; 11];
    m.regs[1..=abi::MAX_ARGS].copy_from_slice(&args);
    m.regs[10] = frame_pointer(0);
    m.pc = 0;
    m.depth = 0;
    m.budget = budget;
    m.prog_calls = 0;
    m.frames[0] = FrameState {
        chain_id: if chain_id < abi::MAX_CHAINS {
            chain_id
        } else {
            abi::NO_ID
        },
        ..FrameState::default()
    };
    let mut run = Run {
        env,
        m,
        meta_bytes: meta_bytes(&meta),
        meta,
        packet,
        events: Vec::new(),
        counters: Counters::default(),
    };
    let loaded = chain_id < abi::MAX_CHAINS && run.env.chains[chain_id as usize].is_some();
    if !loaded {
        return run.finish_fault(Fault::NoChain, budget, failsafe_verdict);
    }
    if run.env.stats {
        run.counters.count_run(chain_id);
    }
    loop {
        match run.step() {
            Ok(None) => {}
            Ok(Some(End::Exit)) => {
                let result = run.m.regs[0];
                return run.finish(budget, default_verdict, Ending::Exit, result);
            }
            Ok(Some(End::Program { prog_id, verdict })) => {
                return run.finish(budget, verdict, Ending::Program { prog_id }, 0);
            }
            Err(fault) => return run.finish_fault(fault, budget, failsafe_verdict),
        }
    }
}

/// One packet's run in progress.
struct Run<'a, 'm> {
    env: Env<'a>,
    m: &'m mut MachineState,
    meta: PktMeta,
    meta_bytes: [u8; 32],
    packet: Vec<u8>,
    events: Vec<Event>,
    counters: Counters,
}

impl Run<'_, '_> {
    fn finish(self, budget: u32, verdict: u32, ending: Ending, result: u64) -> RunOutcome {
        RunOutcome {
            verdict,
            ending,
            result,
            fault: None,
            fault_pc: 0,
            fault_chain: abi::NO_ID,
            packet: self.packet,
            events: self.events,
            steps: budget - self.m.budget,
            prog_calls: self.m.prog_calls,
            counters: self.counters,
        }
    }

    /// The "Fault" section: fail-safe verdict, counters by reason and innermost chain.
    fn finish_fault(mut self, fault: Fault, budget: u32, failsafe: u32) -> RunOutcome {
        let chain = self.frame().chain_id;
        self.counters.count_fault(fault, chain);
        RunOutcome {
            verdict: failsafe,
            ending: Ending::Fault,
            result: 0,
            fault: Some(fault),
            fault_pc: self.m.pc,
            fault_chain: chain,
            packet: self.packet,
            events: self.events,
            steps: budget - self.m.budget,
            prog_calls: self.m.prog_calls,
            counters: self.counters,
        }
    }

    fn frame(&self) -> &FrameState {
        &self.m.frames[self.m.depth as usize]
    }

    /// The code of the innermost frame. Chains cannot change during a run (programs have no
    /// access to the VM), so the frame's chain ID finds the version the frame started.
    fn code(&self) -> &[Insn] {
        let chain = self.frame().chain_id as usize;
        let chains = self.env.chains;
        &chains[chain]
            .as_ref()
            .expect("an active frame's chain is loaded")
            .insns
    }

    /// The "Each step" section.
    fn step(&mut self) -> Step {
        if self.m.budget == 0 {
            return Err(Fault::Budget);
        }
        self.m.budget -= 1;
        let Some(&insn) = self.code().get(self.m.pc as usize) else {
            return Err(Fault::BadJump);
        };
        match op::class(insn.code) {
            op::ALU | op::ALU64 => self.alu(insn),
            op::JMP | op::JMP32 => self.jmp(insn),
            op::LDX => self.ldx(insn),
            op::ST | op::STX => self.store(insn),
            _ => self.ld(insn),
        }
    }

    fn next(&mut self) -> Step {
        self.m.pc += 1;
        Ok(None)
    }

    // ---- ALU ---------------------------------------------------------------------------------

    fn alu(&mut self, insn: Insn) -> Step {
        let code = insn.code;
        let is64 = op::class(code) == op::ALU64;
        let o = op::alu_op(code);
        let x = op::source(code) == op::X;
        alu_opcode(code, insn.off, insn.imm)?;
        let dst = write_reg(insn.dst())?;
        let d = self.m.regs[dst];
        let r = if o == op::END {
            end(is64, x, insn.imm, d)
        } else {
            let s = if x {
                self.m.regs[read_reg(insn.src())?]
            } else {
                insn.imm as i64 as u64
            };
            if is64 {
                alu64(o, insn.off, d, s)
            } else {
                u64::from(alu32(o, insn.off, d as u32, s as u32))
            }
        };
        self.m.regs[dst] = r;
        self.next()
    }

    // ---- Jumps, calls, exit ------------------------------------------------------------------

    fn jmp(&mut self, insn: Insn) -> Step {
        let code = insn.code;
        let is32 = op::class(code) == op::JMP32;
        let x = op::source(code) == op::X;
        match op::alu_op(code) {
            0xe0 | 0xf0 => Err(Fault::BadOpcode),
            op::CALL | op::EXIT if is32 || x => Err(Fault::BadOpcode),
            op::CALL => self.call(insn),
            op::EXIT => self.exit(),
            op::JA if x => Err(Fault::BadOpcode),
            op::JA => {
                let delta = if is32 { insn.imm } else { i32::from(insn.off) };
                self.m.pc = jump_target(self.m.pc, delta);
                Ok(None)
            }
            o => {
                let mut a = self.m.regs[read_reg(insn.dst())?];
                let mut b = if x {
                    self.m.regs[read_reg(insn.src())?]
                } else {
                    insn.imm as i64 as u64
                };
                if is32 {
                    a = u64::from(a as u32);
                    b = u64::from(b as u32);
                }
                let taken = condition(o, is32, a, b);
                self.m.pc = jump_target(self.m.pc, if taken { i32::from(insn.off) } else { 0 });
                Ok(None)
            }
        }
    }

    fn call(&mut self, insn: Insn) -> Step {
        match insn.src() {
            abi::CALL_HELPER => self.helper(insn.imm),
            abi::CALL_CHAIN => self.call_chain(insn.imm as u32),
            abi::CALL_PROG => self.call_prog(insn.imm as u32),
            _ => Err(Fault::BadOpcode),
        }
    }

    fn helper(&mut self, id: i32) -> Step {
        let helper = Helper::from_id(id as u32).ok_or(Fault::BadHelper)?;
        let regs = self.m.regs;
        let r0 = match helper {
            Helper::PktLoad => {
                let (off, size) = self.pkt_range(regs[1], regs[2])?;
                self.packet[off..off + size]
                    .iter()
                    .fold(0u64, |v, b| v << 8 | u64::from(*b))
            }
            Helper::PktStore => {
                let (off, size) = self.pkt_range(regs[1], regs[2])?;
                let value = regs[3];
                for (i, byte) in self.packet[off..off + size].iter_mut().enumerate() {
                    *byte = (value >> (8 * (size - 1 - i))) as u8;
                }
                0
            }
            Helper::PktLen => self.packet.len() as u64,
            Helper::KtimeNs => (self.env.ktime)(),
            Helper::Random => u64::from((self.env.random)()),
            Helper::Event => {
                let ts_ns = (self.env.ktime)();
                self.events.push(Event {
                    kind: abi::EVENT_CHAIN,
                    chain_id: self.frame().chain_id,
                    prog_id: abi::NO_ID,
                    code: regs[1] as u32,
                    values: [regs[2], regs[3], regs[4], 0],
                    ts_ns,
                });
                0
            }
        };
        self.m.regs[0] = r0;
        self.next()
    }

    /// The checks of `pkt_load` and `pkt_store`: the byte range `off..off + size`.
    fn pkt_range(&self, off: u64, size: u64) -> Result<(usize, usize), Fault> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(Fault::BadHelperArg);
        }
        if off > 0xffff || off + size > self.packet.len() as u64 {
            return Err(Fault::PktOutOfBounds);
        }
        Ok((off as usize, size as usize))
    }

    fn call_chain(&mut self, id: u32) -> Step {
        let m = &mut *self.m;
        if m.depth as usize + 1 >= abi::MAX_FRAMES {
            return Err(Fault::CallDepth);
        }
        if id >= abi::MAX_CHAINS || self.env.chains[id as usize].is_none() {
            return Err(Fault::NoChain);
        }
        let depth = m.depth + 1;
        m.frames[depth as usize] = FrameState {
            chain_id: id,
            saved_regs: [m.regs[6], m.regs[7], m.regs[8], m.regs[9]],
            stack_init: 0,
            ret_pc: m.pc + 1,
        };
        m.depth = depth;
        m.regs[10] = frame_pointer(depth);
        m.pc = 0;
        if self.env.stats {
            self.counters.count_run(id);
        }
        Ok(None)
    }

    fn call_prog(&mut self, id: u32) -> Step {
        if self.m.prog_calls >= abi::MAX_PROG_CALLS {
            return Err(Fault::ProgCallCap);
        }
        let Some(program) = self
            .env
            .programs
            .get_mut(id as usize)
            .and_then(Option::as_mut)
        else {
            return Err(Fault::NoProg);
        };
        self.m.prog_calls += 1;
        if self.env.stats {
            self.counters.count_call(id);
        }
        let m = &mut *self.m;
        let mut args = [0u64; abi::MAX_ARGS];
        args.copy_from_slice(&m.regs[1..=abi::MAX_ARGS]);
        let mut call = ProgramCall {
            prog_id: id,
            chain_id: m.frames[m.depth as usize].chain_id,
            args,
            packet: &mut self.packet,
            meta: &self.meta,
            events: &mut self.events,
            ktime: &mut *self.env.ktime,
        };
        let outcome = program(&mut call);
        m.pc += 1;
        match outcome {
            ProgramOutcome::Return(value) => {
                m.regs[0] = value;
                Ok(None)
            }
            ProgramOutcome::Verdict(verdict) => Ok(Some(End::Program {
                prog_id: id,
                verdict,
            })),
        }
    }

    fn exit(&mut self) -> Step {
        let m = &mut *self.m;
        if m.depth == 0 {
            return Ok(Some(End::Exit));
        }
        let frame = m.frames[m.depth as usize];
        m.regs[6..10].copy_from_slice(&frame.saved_regs);
        m.pc = frame.ret_pc;
        m.depth -= 1;
        m.regs[10] = frame_pointer(m.depth);
        Ok(None)
    }

    // ---- LD_IMM64 ----------------------------------------------------------------------------

    fn ld(&mut self, insn: Insn) -> Step {
        if insn.code != op::LD_IMM64 || insn.src() != 0 {
            return Err(Fault::BadOpcode);
        }
        let dst = write_reg(insn.dst())?;
        let pc = self.m.pc as usize;
        let Some(&next) = self.code().get(pc + 1) else {
            return Err(Fault::BadJump);
        };
        if next.code != 0 || next.regs != 0 || next.off != 0 {
            return Err(Fault::BadOpcode);
        }
        self.m.regs[dst] = u64::from(insn.imm as u32) | u64::from(next.imm as u32) << 32;
        self.m.pc += 2;
        Ok(None)
    }

    // ---- Memory ------------------------------------------------------------------------------

    fn ldx(&mut self, insn: Insn) -> Step {
        let size = op::size(insn.code);
        let sign_extend = match op::mode(insn.code) {
            op::MEM => false,
            op::MEMSX if size != op::DW => true,
            _ => return Err(Fault::BadOpcode),
        };
        let dst = write_reg(insn.dst())?;
        let base = read_reg(insn.src())?;
        let addr = self.m.regs[base].wrapping_add(insn.off as i64 as u64);
        let value = self.load(addr, op::size_bytes(size) as usize, sign_extend)?;
        self.m.regs[dst] = value;
        self.next()
    }

    fn store(&mut self, insn: Insn) -> Step {
        if op::mode(insn.code) != op::MEM {
            return Err(Fault::BadOpcode);
        }
        let base = read_reg(insn.dst())?;
        let value = if op::class(insn.code) == op::STX {
            self.m.regs[read_reg(insn.src())?]
        } else {
            insn.imm as i64 as u64
        };
        let addr = self.m.regs[base].wrapping_add(insn.off as i64 as u64);
        self.store_at(addr, op::size_bytes(op::size(insn.code)) as usize, value)?;
        self.next()
    }

    /// The stack offset of `addr` if it is in the active frames.
    fn stack_offset(&self, addr: u64) -> Option<usize> {
        let a = addr.wrapping_sub(abi::ADDR_STACK);
        let limit = (u64::from(self.m.depth) + 1) * abi::STACK_SIZE as u64;
        (a < limit).then_some(a as usize)
    }

    /// The metadata offset of `addr` if it is in the metadata.
    fn meta_offset(addr: u64) -> Option<usize> {
        let a = addr.wrapping_sub(abi::ADDR_META);
        (a < 32).then_some(a as usize)
    }

    fn load(&self, addr: u64, size: usize, sign_extend: bool) -> Result<u64, Fault> {
        if let Some(a) = self.stack_offset(addr) {
            if a % size != 0 {
                return Err(Fault::MemMisaligned);
            }
            let frame = &self.m.frames[a / abi::STACK_SIZE];
            let slot = (a % abi::STACK_SIZE) / 8;
            if frame.stack_init & (1 << slot) == 0 {
                return Err(Fault::StackUninit);
            }
            return Ok(load_le(&self.m.stack[a..], size, sign_extend));
        }
        if let Some(a) = Self::meta_offset(addr) {
            if a % size != 0 {
                return Err(Fault::MemMisaligned);
            }
            return Ok(load_le(&self.meta_bytes[a..], size, sign_extend));
        }
        Err(Fault::MemOutOfBounds)
    }

    fn store_at(&mut self, addr: u64, size: usize, value: u64) -> Result<(), Fault> {
        if let Some(a) = self.stack_offset(addr) {
            if a % size != 0 {
                return Err(Fault::MemMisaligned);
            }
            let frame = &mut self.m.frames[a / abi::STACK_SIZE];
            let slot = (a % abi::STACK_SIZE) / 8;
            if frame.stack_init & (1 << slot) == 0 {
                // The first write since the frame was entered clears the slot, so the bytes a
                // narrow store leaves alone cannot hold an earlier frame's or packet's data.
                let start = a & !7;
                self.m.stack[start..start + 8].fill(0);
                frame.stack_init |= 1 << slot;
            }
            self.m.stack[a..a + size].copy_from_slice(&value.to_le_bytes()[..size]);
            return Ok(());
        }
        if let Some(a) = Self::meta_offset(addr) {
            if a % size != 0 {
                return Err(Fault::MemMisaligned);
            }
            return Err(Fault::MemOutOfBounds);
        }
        Err(Fault::MemOutOfBounds)
    }
}

/// The opcode checks of the ALU section, before any register is looked at.
fn alu_opcode(code: u8, off: i16, imm: i32) -> Result<(), Fault> {
    let is64 = op::class(code) == op::ALU64;
    let x = op::source(code) == op::X;
    let ok = match op::alu_op(code) {
        0xe0 | 0xf0 => false,
        op::NEG => !x,
        op::DIV | op::MOD => off == 0 || off == 1,
        op::MOV => off == 0 || (x && (off == 8 || off == 16 || (off == 32 && is64))),
        op::END => !(is64 && x) && matches!(imm, 16 | 32 | 64),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Fault::BadOpcode)
    }
}

/// `END`: ALU|TO_LE keeps the low `bits` (zero-extended); ALU|TO_BE and ALU64 (bswap) swap
/// them. The result is `bits` wide, so a 64-bit conversion keeps all 64 bits even in class ALU.
fn end(is64: bool, to_be: bool, bits: i32, d: u64) -> u64 {
    let swap = is64 || to_be;
    match (bits, swap) {
        (16, false) => u64::from(d as u16),
        (16, true) => u64::from((d as u16).swap_bytes()),
        (32, false) => u64::from(d as u32),
        (32, true) => u64::from((d as u32).swap_bytes()),
        (_, false) => d,
        (_, true) => d.swap_bytes(),
    }
}

/// A 64-bit ALU operation (opcode already checked).
fn alu64(o: u8, off: i16, d: u64, s: u64) -> u64 {
    let signed = off == 1;
    match o {
        op::ADD => d.wrapping_add(s),
        op::SUB => d.wrapping_sub(s),
        op::MUL => d.wrapping_mul(s),
        op::DIV if s == 0 => 0,
        op::DIV if signed => (d as i64).wrapping_div(s as i64) as u64,
        op::DIV => d / s,
        op::MOD if s == 0 => d,
        op::MOD if signed => (d as i64).wrapping_rem(s as i64) as u64,
        op::MOD => d % s,
        op::OR => d | s,
        op::AND => d & s,
        op::XOR => d ^ s,
        op::LSH => d << (s & 63),
        op::RSH => d >> (s & 63),
        op::ARSH => ((d as i64) >> (s & 63)) as u64,
        op::NEG => d.wrapping_neg(),
        // MOV: off 0 copies, 8/16/32 sign-extend from that width.
        _ => match off {
            8 => s as u8 as i8 as i64 as u64,
            16 => s as u16 as i16 as i64 as u64,
            32 => s as u32 as i32 as i64 as u64,
            _ => s,
        },
    }
}

/// A 32-bit ALU operation on the low halves (opcode already checked); the caller zero-extends.
fn alu32(o: u8, off: i16, d: u32, s: u32) -> u32 {
    let signed = off == 1;
    match o {
        op::ADD => d.wrapping_add(s),
        op::SUB => d.wrapping_sub(s),
        op::MUL => d.wrapping_mul(s),
        op::DIV if s == 0 => 0,
        op::DIV if signed => (d as i32).wrapping_div(s as i32) as u32,
        op::DIV => d / s,
        op::MOD if s == 0 => d,
        op::MOD if signed => (d as i32).wrapping_rem(s as i32) as u32,
        op::MOD => d % s,
        op::OR => d | s,
        op::AND => d & s,
        op::XOR => d ^ s,
        op::LSH => d << (s & 31),
        op::RSH => d >> (s & 31),
        op::ARSH => ((d as i32) >> (s & 31)) as u32,
        op::NEG => d.wrapping_neg(),
        _ => match off {
            8 => s as u8 as i8 as i32 as u32,
            16 => s as u16 as i16 as i32 as u32,
            _ => s,
        },
    }
}

/// A conditional jump's comparison; `a` and `b` are already truncated for JMP32.
fn condition(o: u8, is32: bool, a: u64, b: u64) -> bool {
    let (sa, sb) = if is32 {
        (i64::from(a as u32 as i32), i64::from(b as u32 as i32))
    } else {
        (a as i64, b as i64)
    };
    match o {
        op::JEQ => a == b,
        op::JNE => a != b,
        op::JGT => a > b,
        op::JGE => a >= b,
        op::JLT => a < b,
        op::JLE => a <= b,
        op::JSET => a & b != 0,
        op::JSGT => sa > sb,
        op::JSGE => sa >= sb,
        op::JSLT => sa < sb,
        // JSLE: every other op (0x00, 0x80, 0x90, 0xe0, 0xf0) was handled by the caller.
        _ => sa <= sb,
    }
}
