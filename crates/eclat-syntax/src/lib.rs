//! eCLAT syntax: the lexer, the parser, the spanned AST and the rendering of diagnostics.
//!
//! eCLAT is the python-like language in which chains of HIKe programs are written. This crate
//! reads a script into a [`Module`] whose every node carries its [`Span`]; the grammar is in
//! `grammar.md` beside this crate, and the parser's functions are named after its
//! non-terminals. Problems are typed values ([`SyntaxError`] in a [`Diagnostic`]); they are
//! turned into text only by [`diagnostic::render`], in the `FILE:LINE:COL: error: MESSAGE`
//! format of `eclat check`.
//!
//! It is not the compiler: names are not resolved and nothing is type-checked here (that is
//! `eclat-compiler`). It does no I/O.
//!
//! ```
//! use eclat_syntax::{parse, diagnostic::{render, SourceFile}};
//!
//! let src = "def c():\n    x = (1 +\n";
//! let parsed = parse(src);
//! let text = render(&SourceFile::new("c.eclat", src), &parsed.errors);
//! assert!(text.starts_with("c.eclat:2:9: error: `(` is never closed"));
//! ```

#![deny(missing_docs)]

pub mod ast;
pub mod diagnostic;
mod error;
pub mod habit;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod token;

pub use ast::Module;
pub use diagnostic::{Diagnostic, Message, Severity, SourceFile};
pub use error::SyntaxError;
pub use habit::Habit;
pub use parser::{parse, parse_expr, Parsed};
pub use span::Span;
