//! The assembler's parser: one statement per line, each function named after the
//! non-terminal of the grammar it parses (see [`super`]), then labels resolved into jump
//! offsets and calls by name left as relocations.

use std::collections::HashMap;

use super::assembly::{Assembly, RelocKind, Relocation};
use super::lexer::{is_identifier, lex, Tok, Token};
use super::AsmError;
use crate::abi::{self, Helper};
use crate::insn::{op, Insn};

/// Assembles chain text. Calls by name produce [`Relocation`]s; everything else is resolved.
/// Stops at the first error.
pub fn assemble(src: &str) -> Result<Assembly, AsmError> {
    let mut insns = Vec::new();
    let mut relocations = Vec::new();
    // Label → (instruction index, line of its definition).
    let mut labels: HashMap<String, (usize, usize)> = HashMap::new();
    let mut fixups = Vec::new();

    for (i, text) in src.lines().enumerate() {
        let line = i + 1;
        let tokens = lex(text, line)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            line,
        };
        while let Some((name, column)) = p.label() {
            if let Some(&(_, first_line)) = labels.get(name) {
                return Err(AsmError::DuplicateLabel {
                    line,
                    column,
                    label: name.to_string(),
                    first_line,
                });
            }
            labels.insert(name.to_string(), (insns.len(), line));
        }
        if p.at_end() {
            continue;
        }
        let stmt = p.statement()?;
        p.end_of_line()?;
        let index = insns.len();
        match stmt.fixup {
            Some(Fixup::Label {
                label,
                column,
                wide,
            }) => fixups.push(LabelFixup {
                index,
                line,
                column,
                label,
                wide,
            }),
            Some(Fixup::Symbol { kind, name }) => {
                relocations.push(Relocation { index, kind, name })
            }
            None => {}
        }
        insns.extend(stmt.insns);
    }

    for f in fixups {
        let Some(&(target, _)) = labels.get(&f.label) else {
            return Err(AsmError::UnknownLabel {
                line: f.line,
                column: f.column,
                label: f.label,
            });
        };
        let offset = target as i64 - f.index as i64 - 1;
        let (min, max) = if f.wide {
            (i32::MIN as i64, i32::MAX as i64)
        } else {
            (i16::MIN as i64, i16::MAX as i64)
        };
        if offset < min || offset > max {
            return Err(AsmError::JumpOutOfRange {
                line: f.line,
                column: f.column,
                label: f.label,
                offset,
                min,
                max,
            });
        }
        if f.wide {
            insns[f.index].imm = offset as i32;
        } else {
            insns[f.index].off = offset as i16;
        }
    }
    Ok(Assembly { insns, relocations })
}

/// One statement's instructions and what is left to fill in.
struct Stmt {
    insns: Vec<Insn>,
    fixup: Option<Fixup>,
}

impl Stmt {
    fn one(insn: Insn) -> Stmt {
        Stmt {
            insns: vec![insn],
            fixup: None,
        }
    }
}

enum Fixup {
    /// The jump's offset (`off`, or `imm` if `wide`) comes from a label.
    Label {
        label: String,
        column: usize,
        wide: bool,
    },
    /// The call's `imm` comes from a name resolved by [`Assembly::link`].
    Symbol { kind: RelocKind, name: String },
}

struct LabelFixup {
    index: usize,
    line: usize,
    column: usize,
    label: String,
    wide: bool,
}

/// A register operand: number and width.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Reg {
    num: u8,
    wide: bool,
    column: usize,
}

impl Reg {
    fn name(self) -> String {
        format!("{}{}", if self.wide { 'r' } else { 'w' }, self.num)
    }
}

/// Integer ranges of the fields.
const I16: (i128, i128) = (i16::MIN as i128, i16::MAX as i128);
const I32: (i128, i128) = (i32::MIN as i128, i32::MAX as i128);
/// A 32-bit field written as signed or unsigned.
const ANY32: (i128, i128) = (i32::MIN as i128, u32::MAX as i128);
const ANY16: (i128, i128) = (i16::MIN as i128, u16::MAX as i128);
const ANY64: (i128, i128) = (i64::MIN as i128, u64::MAX as i128);

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    line: usize,
}

impl<'a> Parser<'a> {
    fn token(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    /// The kind of the token `n` places ahead.
    fn tok_at(&self, n: usize) -> Option<Tok<'a>> {
        self.tokens.get(self.pos + n).map(|t| t.tok)
    }

    fn tok(&self) -> Option<Tok<'a>> {
        self.tok_at(0)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Whether an `int` starts here.
    fn at_int(&self) -> bool {
        matches!(self.tok(), Some(Tok::Number(_) | Tok::Punct("+" | "-")))
    }

    /// Whether a register starts here.
    fn at_reg(&self) -> bool {
        matches!(self.tok(), Some(Tok::Ident(w)) if parse_reg_name(w).is_some())
    }

    fn column(&self) -> usize {
        self.token().map_or_else(|| self.end_column(), |t| t.column)
    }

    fn end_column(&self) -> usize {
        let last = self.tokens.last();
        last.map_or(1, |t| t.column + t.text.chars().count())
    }

    fn expected(&self, expected: &'static str) -> AsmError {
        let found = match self.token() {
            Some(t) => format!("`{}`", t.text),
            None => "end of line".to_string(),
        };
        let (line, column) = (self.line, self.column());
        AsmError::Expected {
            line,
            column,
            expected,
            found,
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let found = matches!(self.tok(), Some(Tok::Punct(q)) if q == p);
        self.pos += usize::from(found);
        found
    }

    fn expect_punct(&mut self, p: &str, expected: &'static str) -> Result<(), AsmError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    fn end_of_line(&self) -> Result<(), AsmError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.expected("end of line"))
        }
    }

    /// `label := IDENT ':'`
    fn label(&mut self) -> Option<(&'a str, usize)> {
        let column = self.column();
        match (self.tok(), self.tok_at(1)) {
            (Some(Tok::Ident(name)), Some(Tok::Punct(":"))) if is_identifier(name) => {
                self.pos += 2;
                Some((name, column))
            }
            _ => None,
        }
    }

    /// `int := ('+' | '-')? NUMBER`, checked against `range`.
    fn int(&mut self, what: &'static str, range: (i128, i128)) -> Result<i128, AsmError> {
        let column = self.column();
        let negative = self.eat_punct("-");
        if !negative {
            self.eat_punct("+");
        }
        let Some(Tok::Number(n)) = self.tok() else {
            return Err(self.expected("a number"));
        };
        self.pos += 1;
        let value = if negative {
            -i128::from(n)
        } else {
            i128::from(n)
        };
        let (min, max) = range;
        if value < min || value > max {
            let line = self.line;
            return Err(AsmError::OutOfRange {
                line,
                column,
                what,
                value,
                min,
                max,
            });
        }
        Ok(value)
    }

    /// A register if the next token is one; errors for `r11` and up.
    fn try_reg(&mut self) -> Result<Option<Reg>, AsmError> {
        let column = self.column();
        let Some(Tok::Ident(word)) = self.tok() else {
            return Ok(None);
        };
        let Some((wide, digits)) = parse_reg_name(word) else {
            return Ok(None);
        };
        self.pos += 1;
        match digits.parse::<u8>() {
            Ok(num) if num <= 10 => Ok(Some(Reg { num, wide, column })),
            _ => {
                let name = word.to_string();
                Err(AsmError::BadRegister {
                    line: self.line,
                    column,
                    name,
                })
            }
        }
    }

    fn reg(&mut self, expected: &'static str) -> Result<Reg, AsmError> {
        self.try_reg()?.ok_or_else(|| self.expected(expected))
    }

    /// A register of the same width as `like`.
    fn reg_like(&mut self, like: Reg) -> Result<Reg, AsmError> {
        let r = self.reg("a register")?;
        if r.wide != like.wide {
            return Err(self.mismatch(r, width_name(like.wide)));
        }
        Ok(r)
    }

    /// A 64-bit register `rN`.
    fn reg64(&mut self, expected: &'static str) -> Result<Reg, AsmError> {
        let r = self.reg(expected)?;
        if !r.wide {
            return Err(self.mismatch(r, width_name(true)));
        }
        Ok(r)
    }

    /// Exactly the register `want`.
    fn same_reg(&mut self, want: Reg) -> Result<(), AsmError> {
        let r = self.reg("a register")?;
        if (r.num, r.wide) != (want.num, want.wide) {
            return Err(self.mismatch(r, format!("`{}`", want.name())));
        }
        Ok(())
    }

    fn mismatch(&self, found: Reg, expected: String) -> AsmError {
        let (line, column, found) = (self.line, found.column, found.name());
        AsmError::RegisterMismatch {
            line,
            column,
            expected,
            found,
        }
    }

    /// `statement := directive | exit | goto | cond_jump | call | store | assign`
    fn statement(&mut self) -> Result<Stmt, AsmError> {
        let column = self.column();
        match self.tok() {
            Some(Tok::Punct("*")) => self.store(),
            Some(Tok::Ident(word)) => {
                if let Some(dst) = self.try_reg()? {
                    return self.assign(dst);
                }
                self.pos += 1;
                match word {
                    ".insn" => self.directive(),
                    "exit" => Ok(Stmt::one(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0))),
                    "goto" => self.goto(false),
                    "gotol" => self.goto(true),
                    "if" => self.cond_jump(),
                    "call" => self.call(),
                    _ => {
                        let mnemonic = word.to_string();
                        Err(AsmError::UnknownMnemonic {
                            line: self.line,
                            column,
                            mnemonic,
                        })
                    }
                }
            }
            _ => Err(self.expected("an instruction")),
        }
    }

    /// `directive := '.insn' int ',' int ',' int ',' int ',' int`
    fn directive(&mut self) -> Result<Stmt, AsmError> {
        let code = self.int("opcode", (0, 0xff))? as u8;
        self.expect_punct(",", "`,`")?;
        let dst = self.int("register", (0, 15))? as u8;
        self.expect_punct(",", "`,`")?;
        let src = self.int("register", (0, 15))? as u8;
        self.expect_punct(",", "`,`")?;
        let off = self.int("offset", ANY16)? as u16 as i16;
        self.expect_punct(",", "`,`")?;
        let imm = self.int("immediate", ANY32)? as u32 as i32;
        Ok(Stmt::one(Insn::new(code, dst, src, off, imm)))
    }

    /// `target := IDENT | int`: the jump's offset now, or a label fixup.
    fn target(&mut self, wide: bool) -> Result<(i32, Option<Fixup>), AsmError> {
        let column = self.column();
        if let Some(Tok::Ident(label)) = self.tok() {
            if is_identifier(label) {
                self.pos += 1;
                let label = label.to_string();
                return Ok((
                    0,
                    Some(Fixup::Label {
                        label,
                        column,
                        wide,
                    }),
                ));
            }
        }
        if !self.at_int() {
            return Err(self.expected("a label or an offset"));
        }
        let range = if wide { I32 } else { I16 };
        Ok((self.int("jump offset", range)? as i32, None))
    }

    /// `goto := ('goto' | 'gotol') target`
    fn goto(&mut self, wide: bool) -> Result<Stmt, AsmError> {
        let (offset, fixup) = self.target(wide)?;
        let insn = if wide {
            Insn::new(op::JMP32 | op::JA, 0, 0, 0, offset)
        } else {
            Insn::new(op::JMP | op::JA, 0, 0, offset as i16, 0)
        };
        Ok(Stmt {
            insns: vec![insn],
            fixup,
        })
    }

    /// `cond_jump := 'if' REG cond (REG | int) 'goto' target`
    fn cond_jump(&mut self) -> Result<Stmt, AsmError> {
        let dst = self.reg("a register")?;
        let cond = match self.tok() {
            Some(Tok::Punct("==")) => op::JEQ,
            Some(Tok::Punct("!=")) => op::JNE,
            Some(Tok::Punct(">")) => op::JGT,
            Some(Tok::Punct(">=")) => op::JGE,
            Some(Tok::Punct("<")) => op::JLT,
            Some(Tok::Punct("<=")) => op::JLE,
            Some(Tok::Punct("s>")) => op::JSGT,
            Some(Tok::Punct("s>=")) => op::JSGE,
            Some(Tok::Punct("s<")) => op::JSLT,
            Some(Tok::Punct("s<=")) => op::JSLE,
            Some(Tok::Punct("&")) => op::JSET,
            _ => return Err(self.expected("a comparison")),
        };
        self.pos += 1;
        let class = if dst.wide { op::JMP } else { op::JMP32 };
        let mut insn = if self.at_reg() {
            let src = self.reg_like(dst)?;
            Insn::new(class | cond | op::X, dst.num, src.num, 0, 0)
        } else {
            let range = if dst.wide { I32 } else { ANY32 };
            let imm = self.int("immediate", range)? as u32 as i32;
            Insn::new(class | cond | op::K, dst.num, 0, 0, imm)
        };
        if self.tok() != Some(Tok::Ident("goto")) {
            return Err(self.expected("`goto`"));
        }
        self.pos += 1;
        let (offset, fixup) = self.target(false)?;
        insn.off = offset as i16;
        Ok(Stmt {
            insns: vec![insn],
            fixup,
        })
    }

    /// `call := 'call' (HELPER | 'helper' int | ('prog' | 'chain') (IDENT | int))`
    fn call(&mut self) -> Result<Stmt, AsmError> {
        let call = |src: u8, imm: i128| Insn::new(op::JMP | op::CALL, 0, src, 0, imm as u32 as i32);
        let column = self.column();
        let Some(Tok::Ident(word)) = self.tok() else {
            return Err(self.expected("a helper name, `helper`, `prog` or `chain`"));
        };
        self.pos += 1;
        let (src, kind, what) = match word {
            "helper" => {
                let id = self.int("helper id", ANY32)?;
                return Ok(Stmt::one(call(abi::CALL_HELPER, id)));
            }
            "prog" => (abi::CALL_PROG, RelocKind::Prog, "program id"),
            "chain" => (abi::CALL_CHAIN, RelocKind::Chain, "chain id"),
            name => {
                let Some(helper) = Helper::from_name(name) else {
                    let name = name.to_string();
                    return Err(AsmError::UnknownHelper {
                        line: self.line,
                        column,
                        name,
                    });
                };
                return Ok(Stmt::one(call(abi::CALL_HELPER, helper as i128)));
            }
        };
        match self.tok() {
            Some(Tok::Ident(name)) if is_identifier(name) => {
                self.pos += 1;
                let fixup = Some(Fixup::Symbol {
                    kind,
                    name: name.to_string(),
                });
                Ok(Stmt {
                    insns: vec![call(src, 0)],
                    fixup,
                })
            }
            _ if self.at_int() => Ok(Stmt::one(call(src, self.int(what, ANY32)?))),
            _ => Err(self.expected("a name or an id")),
        }
    }

    /// `size := 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32'`, inside `'(' size '*' ')'`:
    /// the size bits and whether the load sign-extends.
    fn size(&mut self) -> Result<(u8, bool), AsmError> {
        self.expect_punct("(", "`(`")?;
        let size = match self.tok() {
            Some(Tok::Ident("u8")) => (op::B, false),
            Some(Tok::Ident("u16")) => (op::H, false),
            Some(Tok::Ident("u32")) => (op::W, false),
            Some(Tok::Ident("u64")) => (op::DW, false),
            Some(Tok::Ident("s8")) => (op::B, true),
            Some(Tok::Ident("s16")) => (op::H, true),
            Some(Tok::Ident("s32")) => (op::W, true),
            _ => {
                return Err(self.expected("a size (`u8`, `u16`, `u32`, `u64`, `s8`, `s16`, `s32`)"))
            }
        };
        self.pos += 1;
        self.expect_punct("*", "`*`")?;
        self.expect_punct(")", "`)`")?;
        Ok(size)
    }

    /// `mem := '(' REG (('+' | '-') NUMBER)? ')'`
    fn mem(&mut self) -> Result<(Reg, i16), AsmError> {
        self.expect_punct("(", "`(`")?;
        let base = self.reg64("a base register")?;
        let off = if matches!(self.tok(), Some(Tok::Punct("+" | "-"))) {
            self.int("offset", I16)? as i16
        } else {
            0
        };
        self.expect_punct(")", "`+`, `-` or `)`")?;
        Ok((base, off))
    }

    /// `store := '*' '(' size '*' ')' mem '=' (REG | int)`
    fn store(&mut self) -> Result<Stmt, AsmError> {
        self.expect_punct("*", "`*`")?;
        let size_token = self.tokens.get(self.pos + 1).copied();
        let (size, signed) = self.size()?;
        if let (true, Some(t)) = (signed, size_token) {
            return Err(AsmError::Expected {
                line: self.line,
                column: t.column,
                expected: "an unsigned size (`u8`, `u16`, `u32`, `u64`)",
                found: format!("`{}`", t.text),
            });
        }
        let (base, off) = self.mem()?;
        self.expect_punct("=", "`=`")?;
        let insn = if self.at_reg() {
            let src = self.reg64("a register")?;
            Insn::new(op::STX | op::MEM | size, base.num, src.num, off, 0)
        } else {
            let range = if size == op::DW { I32 } else { ANY32 };
            let imm = self.int("immediate", range)? as u32 as i32;
            Insn::new(op::ST | op::MEM | size, base.num, 0, off, imm)
        };
        Ok(Stmt::one(insn))
    }

    /// `assign := REG (alu_op operand | '=' rhs)`
    fn assign(&mut self, dst: Reg) -> Result<Stmt, AsmError> {
        let class = if dst.wide { op::ALU64 } else { op::ALU };
        let (alu, off) = match self.tok() {
            Some(Tok::Punct("=")) => {
                self.pos += 1;
                return self.rhs(dst);
            }
            Some(Tok::Punct("+=")) => (op::ADD, 0),
            Some(Tok::Punct("-=")) => (op::SUB, 0),
            Some(Tok::Punct("*=")) => (op::MUL, 0),
            Some(Tok::Punct("/=")) => (op::DIV, 0),
            Some(Tok::Punct("%=")) => (op::MOD, 0),
            Some(Tok::Punct("|=")) => (op::OR, 0),
            Some(Tok::Punct("&=")) => (op::AND, 0),
            Some(Tok::Punct("<<=")) => (op::LSH, 0),
            Some(Tok::Punct(">>=")) => (op::RSH, 0),
            Some(Tok::Punct("^=")) => (op::XOR, 0),
            Some(Tok::Punct("s>>=")) => (op::ARSH, 0),
            Some(Tok::Punct("s/=")) => (op::DIV, 1),
            Some(Tok::Punct("s%=")) => (op::MOD, 1),
            _ => return Err(self.expected("an assignment operator")),
        };
        self.pos += 1;
        self.operand(class | alu, dst, off)
    }

    /// `operand := REG | int`, for the ALU operation `code`.
    fn operand(&mut self, code: u8, dst: Reg, off: i16) -> Result<Stmt, AsmError> {
        if self.at_reg() {
            let src = self.reg_like(dst)?;
            return Ok(Stmt::one(Insn::new(code | op::X, dst.num, src.num, off, 0)));
        }
        if !self.at_int() {
            return Err(self.expected("a register or a number"));
        }
        let range = if dst.wide { I32 } else { ANY32 };
        let imm = self.int("immediate", range)? as u32 as i32;
        Ok(Stmt::one(Insn::new(code | op::K, dst.num, 0, off, imm)))
    }

    /// `rhs` of `REG = …`.
    fn rhs(&mut self, dst: Reg) -> Result<Stmt, AsmError> {
        let class = if dst.wide { op::ALU64 } else { op::ALU };
        match (self.tok(), self.tok_at(1), self.tok_at(2)) {
            // `r1 = -r1` (neg); `r1 = -5` is a number.
            (Some(Tok::Punct("-")), Some(Tok::Ident(_)), _) => {
                self.pos += 1;
                self.same_reg(dst)?;
                let neg = Insn::new(class | op::NEG | op::K, dst.num, 0, 0, 0);
                Ok(Stmt::one(neg))
            }
            (Some(Tok::Number(_)), Some(Tok::Ident("ll")), _)
            | (Some(Tok::Punct("+" | "-")), Some(Tok::Number(_)), Some(Tok::Ident("ll"))) => {
                self.ld_imm64(dst)
            }
            _ if self.at_int() => self.operand(class | op::MOV, dst, 0),
            // `r1 = (s8)r2`
            (Some(Tok::Punct("(")), ..) => {
                self.pos += 1;
                let off = match self.tok() {
                    Some(Tok::Ident("s8")) => 8,
                    Some(Tok::Ident("s16")) => 16,
                    Some(Tok::Ident("s32")) if dst.wide => 32,
                    _ if dst.wide => return Err(self.expected("`s8`, `s16` or `s32`")),
                    _ => return Err(self.expected("`s8` or `s16`")),
                };
                self.pos += 1;
                self.expect_punct(")", "`)`")?;
                let src = self.reg_like(dst)?;
                let movsx = Insn::new(class | op::MOV | op::X, dst.num, src.num, off, 0);
                Ok(Stmt::one(movsx))
            }
            // `r0 = *(u32 *)(r1 + 4)`
            (Some(Tok::Punct("*")), ..) => {
                if !dst.wide {
                    return Err(self.mismatch(dst, width_name(true)));
                }
                self.pos += 1;
                let (size, signed) = self.size()?;
                let (base, off) = self.mem()?;
                let mode = if signed { op::MEMSX } else { op::MEM };
                let load = Insn::new(op::LDX | mode | size, dst.num, base.num, off, 0);
                Ok(Stmt::one(load))
            }
            // `r1 = be16 r1`, `r1 = bswap64 r1`
            (Some(Tok::Ident(word)), ..) if endian_op(word).is_some() => {
                let (code, imm) = endian_op(word).expect("checked");
                if !dst.wide {
                    return Err(self.mismatch(dst, width_name(true)));
                }
                self.pos += 1;
                self.same_reg(dst)?;
                Ok(Stmt::one(Insn::new(code, dst.num, 0, 0, imm)))
            }
            (Some(Tok::Ident(_)), ..) => {
                let src = self.reg_like(dst)?;
                let mov = Insn::new(class | op::MOV | op::X, dst.num, src.num, 0, 0);
                Ok(Stmt::one(mov))
            }
            _ => Err(self.expected("a register, a number or an expression")),
        }
    }

    /// `int 'll'`: the two slots of `LD_IMM64`.
    fn ld_imm64(&mut self, dst: Reg) -> Result<Stmt, AsmError> {
        if !dst.wide {
            return Err(self.mismatch(dst, width_name(true)));
        }
        let value = self.int("64-bit immediate", ANY64)? as u64;
        self.pos += 1; // `ll`
        Ok(Stmt {
            insns: vec![
                Insn::new(op::LD_IMM64, dst.num, 0, 0, value as u32 as i32),
                Insn::new(0, 0, 0, 0, (value >> 32) as u32 as i32),
            ],
            fixup: None,
        })
    }
}

/// `rN` → (true, "N"), `wN` → (false, "N").
fn parse_reg_name(word: &str) -> Option<(bool, &str)> {
    let wide = match word.as_bytes().first()? {
        b'r' => true,
        b'w' => false,
        _ => return None,
    };
    let digits = &word[1..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((wide, digits))
}

fn width_name(wide: bool) -> String {
    if wide {
        "a 64-bit register rN"
    } else {
        "a 32-bit register wN"
    }
    .to_string()
}

/// The opcode and `imm` of a byte-swap mnemonic.
fn endian_op(word: &str) -> Option<(u8, i32)> {
    let (code, bits) = if let Some(bits) = word.strip_prefix("bswap") {
        (op::ALU64 | op::END | op::TO_LE, bits)
    } else if let Some(bits) = word.strip_prefix("be") {
        (op::ALU | op::END | op::TO_BE, bits)
    } else if let Some(bits) = word.strip_prefix("le") {
        (op::ALU | op::END | op::TO_LE, bits)
    } else {
        return None;
    };
    match bits {
        "16" => Some((code, 16)),
        "32" => Some((code, 32)),
        "64" => Some((code, 64)),
        _ => None,
    }
}
