//! Syntax errors: what the lexer and the parser reject.

use thiserror::Error;

use crate::habit::Habit;

/// A syntax error. Where it is comes with the [`crate::Diagnostic`] that carries it.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SyntaxError {
    /// A character that starts no token.
    #[error("unexpected character `{ch}`")]
    UnexpectedChar {
        /// The character.
        ch: char,
    },
    /// An integer literal above `u64::MAX`.
    #[error("integer literal `{text}` does not fit in 64 bits")]
    IntTooLarge {
        /// The literal as written.
        text: String,
    },
    /// Digits that are not a number (`12ab`, `0x`).
    #[error("malformed number `{text}`")]
    MalformedNumber {
        /// The literal as written.
        text: String,
    },
    /// A string literal without its closing quote on the same line.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// A `\` that is not the last character of its line.
    #[error("a `\\` continues a line only as its last character")]
    StrayBackslash,
    /// A closing bracket with no opening one.
    #[error("unmatched `{close}`")]
    UnmatchedClose {
        /// The bracket.
        close: char,
    },
    /// An opening bracket still open at the end of the text.
    #[error("`{open}` is never closed")]
    UnclosedBracket {
        /// The bracket.
        open: char,
    },
    /// Blocks, brackets or operators nested deeper than the parser accepts.
    #[error("too deeply nested or too long: more than {limit} nested blocks, brackets or unary operators, or a chain of operators that long")]
    TooDeep {
        /// The nesting limit ([`crate::parser::MAX_DEPTH`] / [`crate::parser::NEST_COST`]).
        limit: u32,
    },
    /// A line indented less than its block but more than the enclosing one.
    #[error("unindent does not match any outer indentation level")]
    InconsistentDedent,
    /// A line indented more than the block it is in.
    #[error("unexpected indent")]
    UnexpectedIndent,
    /// A `:` that opens a block followed by a line that is not indented.
    #[error("expected an indented block after `{after}`")]
    ExpectedIndentedBlock {
        /// The statement that opened the block (`if`, `def`, ...).
        after: &'static str,
    },
    /// The grammar allows something else here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar allows, e.g. "an expression".
        expected: String,
        /// What was found, e.g. "`)`" or "end of line".
        found: String,
    },
    /// The left side of `=` or an augmented assignment is not a variable or a packet field.
    #[error("cannot assign to this expression: expected a variable or a packet field")]
    InvalidTarget,
    /// A name after `:` (or before it, in the type-first form) that is not a type.
    #[error("unknown type `{name}` (types are u8, u16, u32, u64, s8, s16, s32, s64)")]
    UnknownType {
        /// The name.
        name: String,
    },
    /// `packet.NAME` with a name that is not a field width or `len`, and no `.FIELD` after it.
    #[error("`packet` has no field `{name}`: use `packet.LAYER.FIELD` (`packet.ip4.ttl`), `packet.u8[OFFSET]` (also u16, u32, u64) or `packet.len`")]
    UnknownPacketField {
        /// The name.
        name: String,
    },
    /// `for NAME in EXPR` where `EXPR` is not a call of `range`.
    #[error("a `for` loop iterates over `range(...)` only")]
    ForWithoutRange,
    /// A Python or C habit that eCLAT writes another way ([`Habit`]); its help says how.
    #[error("{0}")]
    Habit(Habit),
    /// `range` with no argument or more than three.
    #[error("`range` takes 1 to 3 arguments, found {found}")]
    RangeArity {
        /// Arguments given.
        found: usize,
    },
}
