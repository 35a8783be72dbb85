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
//! The module is in three parts: the object model that the assembler and the compilers
//! produce ([`Assembly`]: instructions with [`Relocation`]s for calls by name, linked to IDs
//! later; `assembly.rs`), the line lexer (`lexer.rs`) and the parser (`parser.rs`), whose
//! functions mirror the grammar below.
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

mod assembly;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use thiserror::Error;

pub use self::assembly::{Assembly, LinkError, RelocKind, Relocation};
pub use self::lexer::is_identifier;
pub use self::parser::assemble;

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
