//! Diagnostics: a typed problem plus the span it points at, rendered at the edge.
//!
//! Libraries report problems as values of their own enums ([`crate::SyntaxError`], the
//! compiler's errors and warnings) wrapped in a [`Diagnostic`]; nothing is formatted until a
//! tool calls [`render`]. The rendering is the one of `eclat check`:
//!
//! ```text
//! ddos.eclat:12:5: error: unknown program `moniter`
//!    12 |     moniter(1)
//!       |     ^^^^^^^
//!       = help: did you mean `monitor`?
//! ```
//!
//! The header line (`FILE:LINE:COL: SEVERITY: MESSAGE`, 1-based, columns counting characters)
//! comes from codespan-reporting's short style; the source line and the caret follow, with tabs
//! expanded to 4 columns so that the caret stays under the code.

use std::fmt;

use codespan_reporting::diagnostic::{self as cs, Label};
use codespan_reporting::files::{Files, SimpleFile};
use codespan_reporting::term::{self, Config, DisplayStyle};

use crate::span::Span;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The script is not compiled; `eclat check` exits 1.
    Error,
    /// Reported, but the script compiles.
    Warning,
}

/// A problem that a [`Diagnostic`] can carry: a message plus its severity and an optional
/// hint.
pub trait Message: fmt::Display {
    /// Error or warning.
    fn severity(&self) -> Severity;

    /// A hint on how to fix it, shown as `= help: ...`.
    fn help(&self) -> Option<String> {
        None
    }
}

/// A problem and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic<K> {
    /// What is wrong.
    pub kind: K,
    /// What it points at.
    pub span: Span,
}

impl<K> Diagnostic<K> {
    /// A diagnostic of `kind` at `span`.
    pub fn new(kind: K, span: Span) -> Diagnostic<K> {
        Diagnostic { kind, span }
    }

    /// The same diagnostic with its kind converted.
    pub fn map<L>(self, f: impl FnOnce(K) -> L) -> Diagnostic<L> {
        Diagnostic {
            kind: f(self.kind),
            span: self.span,
        }
    }
}

impl<K: Message> Diagnostic<K> {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.kind.severity() == Severity::Error
    }
}

/// A named source text, to render diagnostics against.
pub struct SourceFile {
    file: SimpleFile<String, String>,
}

impl SourceFile {
    /// A file called `name` (as it should appear in messages) with contents `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            file: SimpleFile::new(name.into(), text.into()),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.file.name()
    }

    /// The text.
    pub fn text(&self) -> &str {
        self.file.source()
    }

    /// The 1-based line and column (in characters) of byte `pos`.
    pub fn line_col(&self, pos: usize) -> (usize, usize) {
        let loc = self
            .file
            .location((), pos.min(self.text().len()))
            .expect("a position inside the file");
        (loc.line_number, loc.column_number)
    }
}

/// Diagnostics rendered per file; the rest are counted in one closing line, so that a garbage
/// input cannot produce gigabytes of output.
pub const MAX_RENDERED: usize = 100;

/// Source columns shown around the caret when a line is longer than this.
pub const SNIPPET_WIDTH: usize = 120;

/// Renders diagnostics, in the order given, each as a header line, the source line (a window of
/// it around the caret if it is long), a caret line and an optional help line; at most
/// [`MAX_RENDERED`] of them, then a line counting the others.
pub fn render<K: Message>(file: &SourceFile, diagnostics: &[Diagnostic<K>]) -> String {
    let mut out = String::new();
    for d in diagnostics.iter().take(MAX_RENDERED) {
        render_one(file, d, &mut out);
    }
    if diagnostics.len() > MAX_RENDERED {
        let rest = &diagnostics[MAX_RENDERED..];
        let errors = rest.iter().filter(|d| d.is_error()).count();
        out.push_str(&format!(
            "{}: {} more errors and {} more warnings not shown\n",
            file.name(),
            errors,
            rest.len() - errors
        ));
    }
    out
}

fn render_one<K: Message>(file: &SourceFile, d: &Diagnostic<K>, out: &mut String) {
    let text = file.text();
    let start = (d.span.start as usize).min(text.len());
    let end = (d.span.end as usize).clamp(start, text.len());
    let severity = match d.kind.severity() {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let header = cs::Diagnostic::new(severity)
        .with_message(d.kind.to_string())
        .with_labels(vec![Label::primary((), start..end)]);
    let config = Config {
        display_style: DisplayStyle::Short,
        ..Config::default()
    };
    match term::emit_into_string(&config, &file.file, &header) {
        Ok(s) => out.push_str(&s),
        Err(_) => {
            // Unreachable for spans inside the file; keep the format anyway.
            let (line, col) = file.line_col(start);
            let sev = if d.is_error() { "error" } else { "warning" };
            out.push_str(&format!(
                "{}:{line}:{col}: {sev}: {}\n",
                file.name(),
                d.kind
            ));
        }
    }
    let line_index = file.file.line_index((), start).unwrap_or(0);
    let range = file.file.line_range((), line_index).unwrap_or(start..start);
    let line = text[range.clone()].trim_end_matches(['\n', '\r']);
    let line_no = (line_index + 1).to_string();
    let gutter = " ".repeat(line_no.len());
    // Columns after tab expansion, so that the caret lines up with what the line shows.
    let col_of = |pos: usize| -> usize {
        let upto = &line[..(pos - range.start).min(line.len())];
        upto.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
    };
    let caret_start = col_of(start);
    let caret_end = col_of(end.min(range.start + line.len())).max(caret_start + 1);
    let shown: Vec<char> = line.replace('\t', "    ").chars().collect();
    // A long line is shown as a window around the caret, marked with `...` where cut.
    let (from, to) = if shown.len() <= SNIPPET_WIDTH {
        (0, shown.len())
    } else {
        let from = caret_start
            .saturating_sub(SNIPPET_WIDTH / 2)
            .min(shown.len());
        (from, (from + SNIPPET_WIDTH).min(shown.len()))
    };
    let prefix = if from > 0 { "..." } else { "" };
    let suffix = if to < shown.len() { "..." } else { "" };
    let window: String = shown[from..to].iter().collect();
    let caret_from = caret_start.saturating_sub(from) + prefix.len();
    let caret_len = (caret_end.min(to.max(caret_start + 1)) - caret_start).max(1);
    out.push_str(&format!(
        "  {line_no} | {prefix}{window}{suffix}\n  {gutter} | {}{}\n",
        " ".repeat(caret_from),
        "^".repeat(caret_len)
    ));
    if let Some(help) = d.kind.help() {
        out.push_str(&format!("  {gutter} = help: {help}\n"));
    }
}

impl Message for crate::SyntaxError {
    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn help(&self) -> Option<String> {
        match self {
            crate::SyntaxError::Habit(habit) => Some(habit.help()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyntaxError;

    #[test]
    fn header_source_line_and_caret() {
        let file = SourceFile::new("t.eclat", "def c():\n\tx = 1 $ 2\n");
        let d = Diagnostic::new(SyntaxError::UnexpectedChar { ch: '$' }, Span::new(16, 17));
        assert_eq!(
            render(&file, &[d]),
            "t.eclat:2:8: error: unexpected character `$`\n  2 |     x = 1 $ 2\n    |           ^\n"
        );
    }

    #[test]
    fn a_span_at_the_end_of_the_file_gets_one_caret() {
        let file = SourceFile::new("t.eclat", "x = (");
        let d = Diagnostic::new(SyntaxError::UnclosedBracket { open: '(' }, Span::at(5));
        assert_eq!(
            render(&file, &[d]),
            "t.eclat:1:6: error: `(` is never closed\n  1 | x = (\n    |      ^\n"
        );
    }
}
