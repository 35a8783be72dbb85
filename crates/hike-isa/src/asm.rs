//! The assembler: chain text in the kernel's C-like eBPF syntax → instructions.
//!
//! The syntax is the one `llvm-objdump -d` and the kernel verifier print, so that an eBPF
//! engineer reads it without a manual, plus labels, `call` targets by name and a raw `.insn`
//! directive. [`crate::disasm`] prints exactly this syntax, and
//! `assemble(&disassemble(x)).insns == x` holds for every instruction sequence.
//!
//! The assembler checks syntax and field ranges only. Whether the result may run is the
//! validator's business ([`crate::validate`]): `r10 = 1` assembles.
//!
//! # Grammar
//!
//! One statement per line; `;` and `//` start a comment. The parser's functions are named after
//! the non-terminals.
//!
//! ```text
//! line       := label* statement?
//! label      := IDENT ':'
//! statement  := directive | exit | goto | cond_jump | call | store | assign
//! directive  := '.insn' int ',' int ',' int ',' int ',' int    ; code, dst, src, off, imm
//! exit       := 'exit'
//! goto       := ('goto' | 'gotol') target                    ; gotol: JMP32|JA, offset in imm
//! target     := IDENT | int                                  ; a label, or an offset like +3
//! cond_jump  := 'if' REG cond (REG | int) 'goto' target      ; wN operands: JMP32
//! cond       := '==' | '!=' | '>' | '>=' | '<' | '<=' | 's>' | 's>=' | 's<' | 's<=' | '&'
//! call       := 'call' (HELPER | 'helper' int | ('prog' | 'chain') (IDENT | int))
//! store      := '*' '(' size '*' ')' mem '=' (REG | int)
//! assign     := REG (alu_op operand | '=' rhs)
//! alu_op     := '+=' | '-=' | '*=' | '/=' | '%=' | '|=' | '&=' | '<<=' | '>>=' | '^='
//!             | 's>>=' | 's/=' | 's%='
//! operand    := REG | int
//! rhs        := int 'll'                                     ; LD_IMM64
//!             | int | REG                                    ; mov
//!             | '-' REG                                      ; neg (the same register)
//!             | '(' ('s8' | 's16' | 's32') ')' REG           ; movsx
//!             | ENDIAN REG                                   ; be16 … le64, bswap16 … bswap64
//!             | '*' '(' size '*' ')' mem                     ; load (sN: sign-extending)
//! size       := 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32'
//! mem        := '(' REG (('+' | '-') NUMBER)? ')'
//! int        := ('+' | '-')? NUMBER                          ; decimal or 0x hex
//! REG        := 'r0' … 'r10' | 'w0' … 'w10'                  ; wN: 32-bit ALU and JMP32
//! ```
//!
//! ```
//! use hike_isa::asm::{assemble, RelocKind};
//!
//! let asm = assemble(
//!     "
//!     r6 = r1
//!     if r6 == 0 goto out
//!     call prog monitor   ; resolved later
//! out:
//!     r0 = 0
//!     exit
//!     ",
//! )
//! .unwrap();
//! assert_eq!(asm.insns.len(), 5);
//! assert_eq!(asm.relocations[0].index, 2);
//! assert_eq!(asm.relocations[0].kind, RelocKind::Prog);
//! ```

use std::collections::HashMap;
use std::fmt;

use thiserror::Error;

use crate::abi::{self, Helper};
use crate::insn::{op, Insn};
use crate::symbols::Symbols;

/// What a symbolic `call` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `call prog NAME`.
    Prog,
    /// `call chain NAME`.
    Chain,
}

impl fmt::Display for RelocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelocKind::Prog => "program",
            RelocKind::Chain => "chain",
        })
    }
}

/// A `call prog NAME` or `call chain NAME` whose ID is not known yet: the instruction at
/// `index` has `imm` = 0 until [`Assembly::link`] writes the ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Index of the `call` instruction.
    pub index: usize,
    /// Whether a program or a chain is called.
    pub kind: RelocKind,
    /// The name to resolve.
    pub name: String,
}

/// The output of [`assemble`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assembly {
    /// The instructions (an `LD_IMM64` takes two).
    pub insns: Vec<Insn>,
    /// Calls by name, in instruction order.
    pub relocations: Vec<Relocation>,
}

impl Assembly {
    /// The instructions with every relocation resolved through `symbols`.
    pub fn link(&self, symbols: &Symbols) -> Result<Vec<Insn>, LinkError> {
        self.link_with(|kind, name| match kind {
            RelocKind::Prog => symbols.prog_id(name),
            RelocKind::Chain => symbols.chain_id(name),
        })
    }

    /// The instructions with every relocation resolved by `lookup` (`None`: unknown name).
    pub fn link_with(
        &self,
        mut lookup: impl FnMut(RelocKind, &str) -> Option<u32>,
    ) -> Result<Vec<Insn>, LinkError> {
        let mut insns = self.insns.clone();
        for r in &self.relocations {
            let id = lookup(r.kind, &r.name).ok_or_else(|| LinkError::UnknownSymbol {
                index: r.index,
                kind: r.kind,
                name: r.name.clone(),
            })?;
            insns[r.index].imm = id as i32;
        }
        Ok(insns)
    }
}

/// Why [`Assembly::link`] failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LinkError {
    /// No chain or program has this name.
    #[error("instruction {index}: unknown {kind} `{name}`")]
    UnknownSymbol {
        /// Index of the `call` instruction.
        index: usize,
        /// Whether a program or a chain was called.
        kind: RelocKind,
        /// The name.
        name: String,
    },
}

/// Why [`assemble`] failed. Lines and columns count from 1; columns count characters.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AsmError {
    /// The parser expected something else here.
    #[error("line {line}, column {column}: expected {expected}, found {found}")]
    Expected {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found, quoted, or `end of line`.
        found: String,
    },
    /// A character that starts no token.
    #[error("line {line}, column {column}: unexpected character `{ch}`")]
    UnexpectedChar {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The character.
        ch: char,
    },
    /// A statement starts with a word that is no instruction, directive or register.
    #[error("line {line}, column {column}: unknown mnemonic `{mnemonic}`")]
    UnknownMnemonic {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The word.
        mnemonic: String,
    },
    /// `call NAME` with a name that is no VM helper.
    #[error("line {line}, column {column}: unknown helper `{name}`")]
    UnknownHelper {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The name.
        name: String,
    },
    /// A register above `r10`.
    #[error(
        "line {line}, column {column}: register `{name}` does not exist (registers are r0..r10)"
    )]
    BadRegister {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The register as written.
        name: String,
    },
    /// The wrong register or register width: `r1 = -r2`, `w1 += r2`, `w1 = *(u8 *)(r1 + 0)`.
    #[error("line {line}, column {column}: expected {expected}, found `{found}`")]
    RegisterMismatch {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The register (`` `r1` ``) or kind of register (`a 64-bit register rN`) required.
        expected: String,
        /// The register written.
        found: String,
    },
    /// A number that is not a valid literal or does not fit in 64 bits.
    #[error("line {line}, column {column}: malformed number `{text}`")]
    BadNumber {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The literal.
        text: String,
    },
    /// A number outside the range of the field it goes to.
    #[error("line {line}, column {column}: {value} is out of range for {what} ({min}..={max})")]
    OutOfRange {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The field (`immediate`, `offset`, `jump offset`, …).
        what: &'static str,
        /// The value written.
        value: i128,
        /// Smallest accepted value.
        min: i128,
        /// Largest accepted value.
        max: i128,
    },
    /// A jump to a label that is not defined.
    #[error("line {line}, column {column}: unknown label `{label}`")]
    UnknownLabel {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The label.
        label: String,
    },
    /// A label defined twice.
    #[error(
        "line {line}, column {column}: label `{label}` is already defined on line {first_line}"
    )]
    DuplicateLabel {
        /// Line of the second definition.
        line: usize,
        /// Column of the second definition.
        column: usize,
        /// The label.
        label: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// A jump to a label too far away for the offset field (16 bits; `gotol`: 32 bits).
    #[error(
        "line {line}, column {column}: label `{label}` is {offset} instructions away, \
         out of range for a jump offset ({min}..={max})"
    )]
    JumpOutOfRange {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The label.
        label: String,
        /// The offset the jump would need.
        offset: i64,
        /// Smallest offset of this jump form.
        min: i64,
        /// Largest offset of this jump form.
        max: i64,
    },
}

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

/// Whether `s` can be written as a label or a `call prog`/`call chain` name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(is_ident_char)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

// ---- Lexer ------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Number(u64),
    Punct(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    text: &'a str,
    column: usize,
}

/// Punctuation, longest first so that `<<=` wins over `<`.
const PUNCTS: &[&str] = &[
    "<<=", ">>=", "==", "!=", ">=", "<=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "=", "<",
    ">", "(", ")", "*", "+", "-", ",", ":", "&",
];

/// Signed operators, written with an `s` prefix.
const SIGNED_PUNCTS: &[&str] = &["s>>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<"];

fn lex(text: &str, line: usize) -> Result<Vec<Token<'_>>, AsmError> {
    let mut tokens = Vec::new();
    // (byte offset, character); a character's column is its position in this list plus 1.
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let column = i + 1;
        let rest = &text[at..];
        if c.is_whitespace() {
            i += 1;
        } else if c == ';' || rest.starts_with("//") {
            break;
        } else if c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let lit = &rest[..len];
            let value = if let Some(hex) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X"))
            {
                u64::from_str_radix(hex, 16)
            } else {
                lit.parse::<u64>()
            };
            let value = value.map_err(|_| AsmError::BadNumber {
                line,
                column,
                text: lit.to_string(),
            })?;
            tokens.push(Token {
                tok: Tok::Number(value),
                text: lit,
                column,
            });
            i += lit.chars().count();
        } else if c.is_ascii_alphabetic() || c == '_' || c == '.' {
            let len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
            let word = &rest[..len];
            // `s>>=`, `s<` and friends: an `s` glued to an operator.
            let signed = (word == "s")
                .then(|| SIGNED_PUNCTS.iter().find(|p| rest.starts_with(**p)))
                .flatten();
            if let Some(p) = signed {
                tokens.push(Token {
                    tok: Tok::Punct(p),
                    text: p,
                    column,
                });
                i += p.len();
            } else {
                tokens.push(Token {
                    tok: Tok::Ident(word),
                    text: word,
                    column,
                });
                i += word.len();
            }
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            tokens.push(Token {
                tok: Tok::Punct(p),
                text: p,
                column,
            });
            i += p.len();
        } else {
            return Err(AsmError::UnexpectedChar {
                line,
                column,
                ch: c,
            });
        }
    }
    Ok(tokens)
}

// ---- Parser -----------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disasm::disassemble;
    use crate::insn::encode;

    /// Assembles `src`, checks its bytes (hex, spaces ignored) and its disassembly (one line
    /// per instruction, `;`-separated, without indentation).
    #[track_caller]
    fn check_asm(src: &str, hex: &str, disasm: &str) {
        let asm = assemble(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let bytes: String = encode(&asm.insns)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(bytes, hex.replace(' ', ""), "encoding of `{src}`");
        let text = disassemble(&asm.insns);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines.join("; "), disasm, "disassembly of `{src}`");
    }

    /// Assembles `src` and checks the error message.
    #[track_caller]
    fn check_err(src: &str, expected: &str) {
        match assemble(src) {
            Ok(asm) => panic!("`{src}` assembled to {:?}", asm.insns),
            Err(e) => assert_eq!(e.to_string(), expected, "error of `{src}`"),
        }
    }

    #[test]
    fn alu_encodings() {
        check_asm("r1 = 5", "b7 01 0000 05000000", "r1 = 5");
        check_asm("r1 = -5", "b7 01 0000 fbffffff", "r1 = -5");
        check_asm("r1 = r2", "bf 21 0000 00000000", "r1 = r2");
        check_asm("w1 = 0xffffffff", "b4 01 0000 ffffffff", "w1 = -1");
        check_asm("w1 = w2", "bc 21 0000 00000000", "w1 = w2");
        check_asm("w1 += 3", "04 01 0000 03000000", "w1 += 3");
        check_asm("r1 += r2", "0f 21 0000 00000000", "r1 += r2");
        check_asm("r1 += -1", "07 01 0000 ffffffff", "r1 += -1");
        check_asm("r1 -= r2", "1f 21 0000 00000000", "r1 -= r2");
        check_asm("w3 -= 2", "14 03 0000 02000000", "w3 -= 2");
        check_asm("r3 *= 7", "27 03 0000 07000000", "r3 *= 7");
        check_asm("r1 /= r2", "3f 21 0000 00000000", "r1 /= r2");
        check_asm("w1 /= 3", "34 01 0000 03000000", "w1 /= 3");
        check_asm("r1 %= 10", "97 01 0000 0a000000", "r1 %= 10");
        check_asm("r1 |= r2", "4f 21 0000 00000000", "r1 |= r2");
        check_asm("w1 &= 255", "54 01 0000 ff000000", "w1 &= 255");
        check_asm("r1 <<= 3", "67 01 0000 03000000", "r1 <<= 3");
        check_asm("r1 >>= r2", "7f 21 0000 00000000", "r1 >>= r2");
        check_asm("r1 ^= r2", "af 21 0000 00000000", "r1 ^= r2");
        check_asm("r1 s>>= 2", "c7 01 0000 02000000", "r1 s>>= 2");
        check_asm("w1 s>>= w2", "cc 21 0000 00000000", "w1 s>>= w2");
        check_asm("r1 s/= r2", "3f 21 0100 00000000", "r1 s/= r2");
        check_asm("w1 s%= -3", "94 01 0100 fdffffff", "w1 s%= -3");
        check_asm("r1 = -r1", "87 01 0000 00000000", "r1 = -r1");
        check_asm("w2 = -w2", "84 02 0000 00000000", "w2 = -w2");
        check_asm("r1 = (s8)r2", "bf 21 0800 00000000", "r1 = (s8)r2");
        check_asm("r1 = (s16)r2", "bf 21 1000 00000000", "r1 = (s16)r2");
        check_asm("r1 = (s32)r2", "bf 21 2000 00000000", "r1 = (s32)r2");
        check_asm("w1 = (s8)w2", "bc 21 0800 00000000", "w1 = (s8)w2");
        check_asm("w1 = (s16)w2", "bc 21 1000 00000000", "w1 = (s16)w2");
        check_asm("r1 = r10", "bf a1 0000 00000000", "r1 = r10");
    }

    #[test]
    fn byte_swap_encodings() {
        check_asm("r1 = be16 r1", "dc 01 0000 10000000", "r1 = be16 r1");
        check_asm("r2 = be32 r2", "dc 02 0000 20000000", "r2 = be32 r2");
        check_asm("r3 = be64 r3", "dc 03 0000 40000000", "r3 = be64 r3");
        check_asm("r1 = le16 r1", "d4 01 0000 10000000", "r1 = le16 r1");
        check_asm("r1 = le32 r1", "d4 01 0000 20000000", "r1 = le32 r1");
        check_asm("r1 = le64 r1", "d4 01 0000 40000000", "r1 = le64 r1");
        check_asm("r1 = bswap16 r1", "d7 01 0000 10000000", "r1 = bswap16 r1");
        check_asm("r1 = bswap32 r1", "d7 01 0000 20000000", "r1 = bswap32 r1");
        check_asm("r1 = bswap64 r1", "d7 01 0000 40000000", "r1 = bswap64 r1");
    }

    #[test]
    fn ld_imm64_encodings() {
        check_asm(
            "r1 = 0x123456789 ll",
            "18 01 0000 89674523 00 00 0000 01000000",
            "r1 = 0x123456789 ll",
        );
        check_asm(
            "r2 = -1 ll",
            "18 02 0000 ffffffff 00 00 0000 ffffffff",
            "r2 = -1 ll",
        );
        check_asm(
            "r3 = 7 ll",
            "18 03 0000 07000000 00 00 0000 00000000",
            "r3 = 7 ll",
        );
        check_asm(
            "r0 = 0xffffffffffffffff ll",
            "18 00 0000 ffffffff 00 00 0000 ffffffff",
            "r0 = -1 ll",
        );
    }

    #[test]
    fn memory_encodings() {
        check_asm(
            "r0 = *(u8 *)(r10 - 8)",
            "71 a0 f8ff 00000000",
            "r0 = *(u8 *)(r10 - 8)",
        );
        check_asm(
            "r0 = *(u16 *)(r1 + 2)",
            "69 10 0200 00000000",
            "r0 = *(u16 *)(r1 + 2)",
        );
        check_asm(
            "r0 = *(u32 *)(r1 + 4)",
            "61 10 0400 00000000",
            "r0 = *(u32 *)(r1 + 4)",
        );
        check_asm(
            "r0 = *(u64 *)(r1)",
            "79 10 0000 00000000",
            "r0 = *(u64 *)(r1 + 0)",
        );
        check_asm(
            "r0 = *(s8 *)(r1 + 4)",
            "91 10 0400 00000000",
            "r0 = *(s8 *)(r1 + 4)",
        );
        check_asm(
            "r0 = *(s16 *)(r1 - 2)",
            "89 10 feff 00000000",
            "r0 = *(s16 *)(r1 - 2)",
        );
        check_asm(
            "r0 = *(s32 *)(r1+0x10)",
            "81 10 1000 00000000",
            "r0 = *(s32 *)(r1 + 16)",
        );
        check_asm(
            "*(u64 *)(r10 - 8) = r1",
            "7b 1a f8ff 00000000",
            "*(u64 *)(r10 - 8) = r1",
        );
        check_asm(
            "*(u32 *)(r10 - 4) = r1",
            "63 1a fcff 00000000",
            "*(u32 *)(r10 - 4) = r1",
        );
        check_asm(
            "*(u16 *)(r10 - 2) = r1",
            "6b 1a feff 00000000",
            "*(u16 *)(r10 - 2) = r1",
        );
        check_asm(
            "*(u8 *)(r1 + 3) = r2",
            "73 21 0300 00000000",
            "*(u8 *)(r1 + 3) = r2",
        );
        check_asm(
            "*(u32 *)(r10 - 4) = 7",
            "62 0a fcff 07000000",
            "*(u32 *)(r10 - 4) = 7",
        );
        check_asm(
            "*(u8 *)(r10 - 1) = 255",
            "72 0a ffff ff000000",
            "*(u8 *)(r10 - 1) = 255",
        );
        check_asm(
            "*(u16 *)(r10 - 2) = 1",
            "6a 0a feff 01000000",
            "*(u16 *)(r10 - 2) = 1",
        );
        check_asm(
            "*(u64 *)(r10 - 16) = -1",
            "7a 0a f0ff ffffffff",
            "*(u64 *)(r10 - 16) = -1",
        );
        check_asm(
            "r1 = *(u64 *)(r2 - 32768)",
            "79 21 0080 00000000",
            "r1 = *(u64 *)(r2 - 32768)",
        );
    }

    #[test]
    fn jump_encodings() {
        check_asm("goto +3", "05 00 0300 00000000", "goto +3");
        check_asm("goto -2", "05 00 feff 00000000", "goto -2");
        check_asm("gotol +5", "06 00 0000 05000000", "gotol +5");
        check_asm(
            "if r1 == r2 goto +1",
            "1d 21 0100 00000000",
            "if r1 == r2 goto +1",
        );
        check_asm(
            "if r1 != 5 goto +1",
            "55 01 0100 05000000",
            "if r1 != 5 goto +1",
        );
        check_asm(
            "if r1 > 5 goto +1",
            "25 01 0100 05000000",
            "if r1 > 5 goto +1",
        );
        check_asm(
            "if r1 >= r2 goto +1",
            "3d 21 0100 00000000",
            "if r1 >= r2 goto +1",
        );
        check_asm(
            "if r1 < 5 goto +1",
            "a5 01 0100 05000000",
            "if r1 < 5 goto +1",
        );
        check_asm(
            "if r1 <= r2 goto +1",
            "bd 21 0100 00000000",
            "if r1 <= r2 goto +1",
        );
        check_asm(
            "if r1 s> -1 goto +1",
            "65 01 0100 ffffffff",
            "if r1 s> -1 goto +1",
        );
        check_asm(
            "if r1 s>= r2 goto +1",
            "7d 21 0100 00000000",
            "if r1 s>= r2 goto +1",
        );
        check_asm(
            "if r1 s< 0 goto +1",
            "c5 01 0100 00000000",
            "if r1 s< 0 goto +1",
        );
        check_asm(
            "if r1 s<= r2 goto +1",
            "dd 21 0100 00000000",
            "if r1 s<= r2 goto +1",
        );
        check_asm(
            "if r1 & 0x4 goto +1",
            "45 01 0100 04000000",
            "if r1 & 4 goto +1",
        );
        check_asm(
            "if r1 & r2 goto +1",
            "4d 21 0100 00000000",
            "if r1 & r2 goto +1",
        );
        check_asm(
            "if w1 > w2 goto +1",
            "2e 21 0100 00000000",
            "if w1 > w2 goto +1",
        );
        check_asm(
            "if w1 s< -1 goto +1",
            "c6 01 0100 ffffffff",
            "if w1 s< -1 goto +1",
        );
        check_asm(
            "if w1 == 0xffffffff goto +1",
            "16 01 0100 ffffffff",
            "if w1 == -1 goto +1",
        );
        check_asm(
            "top: r0 = 0\n if r1 == 0 goto done\n goto top\ndone:\n exit",
            "b7 00 0000 00000000 15 01 0100 00000000 05 00 fdff 00000000 95 00 0000 00000000",
            "L0:; r0 = 0; if r1 == 0 goto L3; goto L0; L3:; exit",
        );
        check_asm(
            "gotol end\nr0 = 1 ll\nend: exit",
            "06 00 0000 02000000 18 00 0000 01000000 00 00 0000 00000000 95 00 0000 00000000",
            "gotol L3; r0 = 1 ll; L3:; exit",
        );
    }

    #[test]
    fn call_and_exit_encodings() {
        check_asm("call pkt_load", "85 00 0000 01000000", "call pkt_load");
        check_asm("call random", "85 00 0000 06000000", "call random");
        check_asm("call helper 4", "85 00 0000 04000000", "call ktime_ns");
        check_asm("call helper 99", "85 00 0000 63000000", "call helper 99");
        check_asm("call chain 3", "85 10 0000 03000000", "call chain 3");
        check_asm("call prog 7", "85 20 0000 07000000", "call prog 7");
        check_asm(
            "call prog 0xffffffff",
            "85 20 0000 ffffffff",
            "call prog 4294967295",
        );
        check_asm("exit", "95 00 0000 00000000", "exit");
        check_asm(
            ".insn 0xff, 15, 15, -1, -1",
            "ff ff ffff ffffffff",
            ".insn 0xff, 15, 15, -1, -1",
        );
        check_asm(".insn 0x95, 0, 0, 0, 0", "95 00 0000 00000000", "exit");
        check_asm(
            ".insn 0x85, 0, 0, 65535, 0xffffffff",
            "85 00 ffff ffffffff",
            ".insn 0x85, 0, 0, -1, -1",
        );
    }

    #[test]
    fn symbolic_calls_are_relocated() {
        let asm = assemble("r1 = 1\ncall prog monitor\ncall chain ddos\nexit").unwrap();
        assert_eq!(
            asm.relocations,
            [
                Relocation {
                    index: 1,
                    kind: RelocKind::Prog,
                    name: "monitor".into()
                },
                Relocation {
                    index: 2,
                    kind: RelocKind::Chain,
                    name: "ddos".into()
                },
            ]
        );
        assert_eq!(asm.insns[1], Insn::new(0x85, 0, 2, 0, 0));
        let mut symbols = Symbols::new();
        symbols.add_prog(7, "monitor").add_chain(3, "ddos");
        let linked = asm.link(&symbols).unwrap();
        assert_eq!(linked[1], Insn::new(0x85, 0, 2, 0, 7));
        assert_eq!(linked[2], Insn::new(0x85, 0, 1, 0, 3));
        let err = asm.link(&Symbols::new()).unwrap_err();
        assert_eq!(err.to_string(), "instruction 1: unknown program `monitor`");
        let by_closure =
            asm.link_with(|kind, _| Some(if kind == RelocKind::Chain { 9 } else { 8 }));
        assert_eq!(by_closure.unwrap()[2].imm, 9);
    }

    #[test]
    fn comments_blank_lines_and_labels() {
        check_asm(
            "; a chain\n\n  // nothing\nstart: r0 = 1 ; one\n a: b:\n exit // done\n",
            "b7 00 0000 01000000 95 00 0000 00000000",
            "r0 = 1; exit",
        );
    }

    #[test]
    fn errors() {
        check_err("r1 = 5\nfoo r1", "line 2, column 1: unknown mnemonic `foo`");
        check_err(".word 1", "line 1, column 1: unknown mnemonic `.word`");
        check_err("goto nowhere", "line 1, column 6: unknown label `nowhere`");
        check_err(
            "a:\n  a: exit",
            "line 2, column 3: label `a` is already defined on line 1",
        );
        check_err(
            "r1 += 0x80000000",
            "line 1, column 7: 2147483648 is out of range for immediate (-2147483648..=2147483647)",
        );
        check_err(
            "w1 += 0x100000000",
            "line 1, column 7: 4294967296 is out of range for immediate (-2147483648..=4294967295)",
        );
        check_err(
            "r0 = *(u8 *)(r10 - 40000)",
            "line 1, column 18: -40000 is out of range for offset (-32768..=32767)",
        );
        check_err(
            "goto +40000",
            "line 1, column 6: 40000 is out of range for jump offset (-32768..=32767)",
        );
        check_err(
            ".insn 256, 0, 0, 0, 0",
            "line 1, column 7: 256 is out of range for opcode (0..=255)",
        );
        check_err(
            ".insn 0, 16, 0, 0, 0",
            "line 1, column 10: 16 is out of range for register (0..=15)",
        );
        check_err(
            "r11 = 1",
            "line 1, column 1: register `r11` does not exist (registers are r0..r10)",
        );
        check_err(
            "w1 += r2",
            "line 1, column 7: expected a 32-bit register wN, found `r2`",
        );
        check_err(
            "if r1 > w2 goto +1",
            "line 1, column 9: expected a 64-bit register rN, found `w2`",
        );
        check_err("r1 = -r2", "line 1, column 7: expected `r1`, found `r2`");
        check_err(
            "r1 = be16 r2",
            "line 1, column 11: expected `r1`, found `r2`",
        );
        check_err(
            "w1 = be16 w1",
            "line 1, column 1: expected a 64-bit register rN, found `w1`",
        );
        check_err(
            "w1 = *(u8 *)(r1 + 0)",
            "line 1, column 1: expected a 64-bit register rN, found `w1`",
        );
        check_err(
            "w1 = 1 ll",
            "line 1, column 1: expected a 64-bit register rN, found `w1`",
        );
        check_err(
            "r0 = *(u8 *)(w1 + 0)",
            "line 1, column 14: expected a 64-bit register rN, found `w1`",
        );
        check_err(
            "w1 = (s32)w2",
            "line 1, column 7: expected `s8` or `s16`, found `s32`",
        );
        check_err(
            "r1 = (u8)r2",
            "line 1, column 7: expected `s8`, `s16` or `s32`, found `u8`",
        );
        check_err(
            "*(s8 *)(r10 - 1) = 1",
            "line 1, column 3: expected an unsigned size (`u8`, `u16`, `u32`, `u64`), found `s8`",
        );
        check_err(
            "r0 = *(i8 *)(r1 + 0)",
            "line 1, column 8: expected a size (`u8`, `u16`, `u32`, `u64`, `s8`, `s16`, `s32`), found `i8`",
        );
        check_err("call foo", "line 1, column 6: unknown helper `foo`");
        check_err("call", "line 1, column 5: expected a helper name, `helper`, `prog` or `chain`, found end of line");
        check_err(
            "call prog",
            "line 1, column 10: expected a name or an id, found end of line",
        );
        check_err("r1 = 5 $", "line 1, column 8: unexpected character `$`");
        check_err(
            "r1 = 99999999999999999999 ll",
            "line 1, column 6: malformed number `99999999999999999999`",
        );
        check_err("r1 = 12ab", "line 1, column 6: malformed number `12ab`");
        check_err(
            "exit r0",
            "line 1, column 6: expected end of line, found `r0`",
        );
        check_err(
            "if r1 == r2 jump +1",
            "line 1, column 13: expected `goto`, found `jump`",
        );
        check_err(
            "if r1 ~= 1 goto +1",
            "line 1, column 7: unexpected character `~`",
        );
        check_err(
            "if r1 = 1 goto +1",
            "line 1, column 7: expected a comparison, found `=`",
        );
        check_err(
            "r1 = ",
            "line 1, column 5: expected a register, a number or an expression, found end of line",
        );
        check_err(
            "r1 += foo",
            "line 1, column 7: expected a register or a number, found `foo`",
        );
        check_err(
            "r1 == 2",
            "line 1, column 4: expected an assignment operator, found `==`",
        );
        check_err(
            "goto",
            "line 1, column 5: expected a label or an offset, found end of line",
        );
        check_err(
            "= 1",
            "line 1, column 1: expected an instruction, found `=`",
        );
        check_err(
            ".insn 1, 2",
            "line 1, column 11: expected `,`, found end of line",
        );
        check_err(
            "r0 = *(u64 *)(r1 * 2)",
            "line 1, column 18: expected `+`, `-` or `)`, found `*`",
        );
    }

    #[test]
    fn labels_too_far_for_a_jump() {
        let src = format!("goto far\n{}far: exit\n", "r0 = 0\n".repeat(40_000));
        check_err(
            &src,
            "line 1, column 6: label `far` is 40000 instructions away, out of range for a jump offset (-32768..=32767)",
        );
        let src = format!("gotol far\n{}far: exit\n", "r0 = 0\n".repeat(40_000));
        assert_eq!(assemble(&src).unwrap().insns[0].imm, 40_000);
    }
}
