//! The lexer: source text → tokens, with Python's indentation rules.
//!
//! - A tab counts as 4 columns of indentation and a space as 1 (the corpus mixes them).
//! - Blank lines and lines holding only a comment produce no token.
//! - Inside `()`, `[]` and `{}` line ends and indentation are ignored, except that a line
//!   indented no deeper than the line that opened the outermost bracket, and not starting
//!   with a closing bracket, is taken as a new statement: the brackets are reported as never
//!   closed, so that one missing `)` does not hide the rest of the script.
//! - A line ends early with `\` as its last character, or with `,` as its last token outside
//!   brackets (so that the paper's Listing 2, whose import list continues after a trailing
//!   comma, reads as printed); the next line continues it and its indentation is ignored.
//! - `#` starts a comment that runs to the end of the line (not inside a string).
//! - Each logical line ends with a `Newline` token; a deeper indentation than the enclosing
//!   block emits `Indent`, a shallower one a `Dedent` per closed level; the text ends with the
//!   pending `Dedent`s and `Eof`.

use crate::diagnostic::Diagnostic;
use crate::error::SyntaxError;
use crate::habit::Habit;
use crate::span::Span;
use crate::token::{AugOp, Token, TokenKind};

/// Columns of indentation a tab counts for.
pub const TAB_WIDTH: usize = 4;

/// The tokens of a text and the problems met while reading them.
#[derive(Clone, Debug, Default)]
pub struct Lexed {
    /// The tokens, ending with `Eof`.
    pub tokens: Vec<Token>,
    /// Lexical errors; the tokens are still usable (bad characters are skipped).
    pub errors: Vec<Diagnostic<SyntaxError>>,
}

/// Reads `src` into tokens.
pub fn lex(src: &str) -> Lexed {
    Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Lexed::default(),
        indents: vec![0],
        brackets: Vec::new(),
        line_indent: 0,
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Lexed,
    indents: Vec<usize>,
    /// Open brackets and where they are.
    brackets: Vec<(u8, usize)>,
    /// Indentation of the current logical line.
    line_indent: usize,
}

fn keyword(word: &str) -> Option<TokenKind> {
    Some(match word {
        "from" => TokenKind::From,
        "import" => TokenKind::Import,
        "def" => TokenKind::Def,
        "if" => TokenKind::If,
        "elif" => TokenKind::Elif,
        "else" => TokenKind::Else,
        "while" => TokenKind::While,
        "for" => TokenKind::For,
        "in" => TokenKind::In,
        "break" => TokenKind::Break,
        "continue" => TokenKind::Continue,
        "pass" => TokenKind::Pass,
        "return" => TokenKind::Return,
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "not" => TokenKind::Not,
        "True" | "true" => TokenKind::True,
        "False" | "false" => TokenKind::False,
        _ => return None,
    })
}

/// Punctuation, longest first.
const PUNCT: &[(&str, TokenKind)] = &[
    ("//=", TokenKind::AugAssign(AugOp::Div)),
    ("<<=", TokenKind::AugAssign(AugOp::Shl)),
    (">>=", TokenKind::AugAssign(AugOp::Shr)),
    ("//", TokenKind::SlashSlash),
    ("<<", TokenKind::Shl),
    (">>", TokenKind::Shr),
    ("<=", TokenKind::Le),
    (">=", TokenKind::Ge),
    ("==", TokenKind::EqEq),
    ("!=", TokenKind::NotEq),
    ("+=", TokenKind::AugAssign(AugOp::Add)),
    ("-=", TokenKind::AugAssign(AugOp::Sub)),
    ("*=", TokenKind::AugAssign(AugOp::Mul)),
    ("/=", TokenKind::AugAssign(AugOp::Div)),
    ("%=", TokenKind::AugAssign(AugOp::Mod)),
    ("&=", TokenKind::AugAssign(AugOp::And)),
    ("|=", TokenKind::AugAssign(AugOp::Or)),
    ("^=", TokenKind::AugAssign(AugOp::Xor)),
    ("(", TokenKind::LParen),
    (")", TokenKind::RParen),
    ("[", TokenKind::LBracket),
    ("]", TokenKind::RBracket),
    ("{", TokenKind::LBrace),
    ("}", TokenKind::RBrace),
    (",", TokenKind::Comma),
    (":", TokenKind::Colon),
    (";", TokenKind::Semi),
    (".", TokenKind::Dot),
    ("+", TokenKind::Plus),
    ("-", TokenKind::Minus),
    ("*", TokenKind::Star),
    ("/", TokenKind::Slash),
    ("%", TokenKind::Percent),
    ("&", TokenKind::Amp),
    ("|", TokenKind::Pipe),
    ("^", TokenKind::Caret),
    ("~", TokenKind::Tilde),
    ("<", TokenKind::Lt),
    (">", TokenKind::Gt),
    ("=", TokenKind::Assign),
];

impl Lexer<'_> {
    fn run(mut self) -> Lexed {
        let mut at_line_start = true;
        let mut continuation = false;
        while self.pos < self.bytes.len() {
            if at_line_start && self.brackets.is_empty() {
                at_line_start = false;
                if self.line_start(continuation) {
                    at_line_start = true;
                }
                continuation = false;
                continue;
            }
            let c = self.bytes[self.pos];
            match c {
                b' ' | b'\t' | b'\x0c' | b'\r' => self.pos += 1,
                b'\n' => {
                    if !self.brackets.is_empty() && self.next_line_leaves_brackets() {
                        for (open, at) in std::mem::take(&mut self.brackets) {
                            self.error(
                                SyntaxError::UnclosedBracket { open: open as char },
                                at,
                                at + 1,
                            );
                        }
                    }
                    if self.brackets.is_empty() {
                        match self.out.tokens.last().map(|t| &t.kind) {
                            Some(TokenKind::Comma) => continuation = true,
                            Some(TokenKind::Newline) | None => {}
                            Some(_) => self.push(TokenKind::Newline, self.pos, self.pos + 1),
                        }
                        at_line_start = true;
                    }
                    self.pos += 1;
                }
                b'#' => self.skip_to_eol(),
                b'\\' => {
                    let rest = &self.src[self.pos + 1..];
                    let line_rest = rest.split('\n').next().unwrap_or("");
                    if line_rest.trim().is_empty() && rest.len() > line_rest.len() {
                        self.pos += 1 + line_rest.len() + 1;
                        if self.brackets.is_empty() {
                            continuation = true;
                            at_line_start = true;
                        }
                    } else {
                        self.error(SyntaxError::StrayBackslash, self.pos, self.pos + 1);
                        self.pos += 1;
                    }
                }
                b'0'..=b'9' => self.number(),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.name(),
                b'\'' | b'"' => self.string(c),
                _ => self.punct(),
            }
        }
        self.finish()
    }

    /// Handles the start of a physical line: skips blank and comment-only lines (returns true,
    /// the caller starts again at the next line), otherwise emits `Indent`/`Dedent` tokens
    /// unless the line continues the previous one.
    fn line_start(&mut self, continuation: bool) -> bool {
        let start = self.pos;
        let mut col = 0;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' => col += 1,
                b'\t' => col += TAB_WIDTH,
                b'\x0c' => {}
                _ => break,
            }
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            None => return false,
            Some(b'\n') => {
                self.pos += 1;
                return true;
            }
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => {
                self.pos += 2;
                return true;
            }
            Some(b'#') => {
                self.skip_to_eol();
                if self.pos < self.bytes.len() {
                    self.pos += 1;
                }
                return true;
            }
            _ => {}
        }
        if continuation {
            return false;
        }
        self.line_indent = col;
        let top = *self.indents.last().expect("the base level");
        if col > top {
            self.indents.push(col);
            self.push(TokenKind::Indent, start, self.pos);
        } else if col < top {
            while *self.indents.last().expect("the base level") > col {
                self.indents.pop();
                self.push(TokenKind::Dedent, self.pos, self.pos);
            }
            if *self.indents.last().expect("the base level") != col {
                self.error(SyntaxError::InconsistentDedent, start, self.pos);
                // Carry on as if the line were at the level it claims.
                self.indents.push(col);
            }
        }
        false
    }

    /// Whether the next line with code, after the line end at `self.pos`, is indented no
    /// deeper than the line that opened the brackets and does not close one: a new statement.
    fn next_line_leaves_brackets(&self) -> bool {
        for line in self.src[self.pos + 1..].split('\n') {
            let mut col = 0;
            let mut rest = line;
            while let Some(c) = rest.chars().next() {
                match c {
                    ' ' => col += 1,
                    '\t' => col += TAB_WIDTH,
                    _ => break,
                }
                rest = &rest[1..];
            }
            let rest = rest.trim_end();
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            return col <= self.line_indent && !rest.starts_with([')', ']', '}']);
        }
        false
    }

    fn skip_to_eol(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        self.out.tokens.push(Token {
            kind,
            span: Span::new(start, end),
        });
    }

    fn error(&mut self, error: SyntaxError, start: usize, end: usize) {
        self.out
            .errors
            .push(Diagnostic::new(error, Span::new(start, end)));
    }

    fn number(&mut self) {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let lower = text.to_ascii_lowercase();
        let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
            (d, 16)
        } else if let Some(d) = lower.strip_prefix("0b") {
            (d, 2)
        } else if let Some(d) = lower.strip_prefix("0o") {
            (d, 8)
        } else {
            (lower.as_str(), 10)
        };
        let well_formed = !digits.is_empty()
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__")
            && digits.chars().all(|c| c == '_' || c.is_digit(radix));
        let clean: String = digits.chars().filter(|c| *c != '_').collect();
        let value = if !well_formed {
            self.error(
                SyntaxError::MalformedNumber { text: text.into() },
                start,
                self.pos,
            );
            0
        } else {
            match u64::from_str_radix(&clean, radix) {
                Ok(v) => v,
                Err(_) => {
                    self.error(
                        SyntaxError::IntTooLarge { text: text.into() },
                        start,
                        self.pos,
                    );
                    0
                }
            }
        };
        self.push(TokenKind::Int(value), start, self.pos);
    }

    fn name(&mut self) {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        let word = &self.src[start..self.pos];
        if matches!(self.bytes.get(self.pos), Some(b'\'' | b'"')) && is_string_prefix(word) {
            // `f'...'`: reported here, and read as the number 0 so that the statement around
            // it is still checked without a second error about a string.
            let prefix = word.to_string();
            self.error(
                SyntaxError::Habit(Habit::PrefixedString { prefix }),
                start,
                self.pos,
            );
            let quote = self.bytes[self.pos];
            self.string(quote);
            let end = self.pos;
            let token = self.out.tokens.last_mut().expect("the string just read");
            *token = Token {
                kind: TokenKind::Int(0),
                span: Span::new(start, end),
            };
            return;
        }
        let kind = keyword(word).unwrap_or(TokenKind::Name);
        self.push(kind, start, self.pos);
    }

    fn string(&mut self, quote: u8) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.src[self.pos..].chars().next() else {
                self.error(SyntaxError::UnterminatedString, start, self.pos);
                break;
            };
            if c == '\n' {
                self.error(SyntaxError::UnterminatedString, start, self.pos);
                break;
            }
            self.pos += c.len_utf8();
            if c as u32 == quote as u32 {
                break;
            }
            if c == '\\' {
                if let Some(next) = self.src[self.pos..].chars().next().filter(|c| *c != '\n') {
                    self.pos += next.len_utf8();
                    value.push(match next {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    continue;
                }
            }
            value.push(c);
        }
        self.push(TokenKind::Str(value), start, self.pos);
    }

    fn punct(&mut self) {
        if self.c_habit() {
            return;
        }
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let Some((text, kind)) = PUNCT.iter().find(|(p, _)| rest.starts_with(p)) else {
            let ch = rest.chars().next().expect("not at the end");
            self.pos += ch.len_utf8();
            self.error(SyntaxError::UnexpectedChar { ch }, start, self.pos);
            return;
        };
        self.pos += text.len();
        let open = text.as_bytes()[0];
        match open {
            b'(' | b'[' | b'{' => self.brackets.push((open, start)),
            b')' | b']' | b'}' => match self.brackets.pop() {
                None => {
                    self.error(
                        SyntaxError::UnmatchedClose {
                            close: open as char,
                        },
                        start,
                        self.pos,
                    );
                    return;
                }
                Some((o, _)) if closing(o) != open => {
                    self.error(
                        SyntaxError::Expected {
                            expected: format!("`{}`", closing(o) as char),
                            found: format!("`{}`", open as char),
                        },
                        start,
                        self.pos,
                    );
                }
                Some(_) => {}
            },
            _ => {}
        }
        self.push(kind.clone(), start, self.pos);
    }

    /// Reads a C operator that eCLAT writes otherwise (`&&`, `||`, `!`, `x++`, `// ...`),
    /// if one is here: reports it and pushes the eCLAT tokens it stands for, so that the
    /// parser goes on as if the script said `and`, `or`, `not`, `x += 1`.
    fn c_habit(&mut self) -> bool {
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let starts_line = matches!(
            self.out.tokens.last().map(|t| &t.kind),
            None | Some(TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent)
        );
        let (habit, tokens, len): (Habit, &[TokenKind], usize) = if rest.starts_with("&&") {
            (Habit::AndAnd, &[TokenKind::And], 2)
        } else if rest.starts_with("||") {
            (Habit::OrOr, &[TokenKind::Or], 2)
        } else if rest.starts_with('!') && !rest.starts_with("!=") {
            (Habit::Bang, &[TokenKind::Not], 1)
        } else if (rest.starts_with("++") || rest.starts_with("--")) && ends_statement(&rest[2..]) {
            let increment = rest.starts_with('+');
            let name = match self.out.tokens.last() {
                Some(t) if t.kind == TokenKind::Name => Some(t.span.text(self.src).to_string()),
                _ => None,
            };
            let op = if increment { AugOp::Add } else { AugOp::Sub };
            self.pos += 2;
            self.error(
                SyntaxError::Habit(Habit::IncDec { name, increment }),
                start,
                self.pos,
            );
            self.push(TokenKind::AugAssign(op), start, self.pos);
            self.push(TokenKind::Int(1), start, self.pos);
            return true;
        } else if rest.starts_with("//") && starts_line {
            self.error(SyntaxError::Habit(Habit::CComment), start, start + 2);
            self.skip_to_eol();
            return true;
        } else {
            return false;
        };
        self.pos += len;
        self.error(SyntaxError::Habit(habit), start, self.pos);
        for kind in tokens {
            self.push(kind.clone(), start, self.pos);
        }
        true
    }

    fn finish(mut self) -> Lexed {
        let end = self.bytes.len();
        for (open, at) in std::mem::take(&mut self.brackets) {
            self.error(
                SyntaxError::UnclosedBracket { open: open as char },
                at,
                at + 1,
            );
        }
        if !matches!(
            self.out.tokens.last().map(|t| &t.kind),
            None | Some(TokenKind::Newline)
        ) {
            self.push(TokenKind::Newline, end, end);
        }
        while self.indents.len() > 1 {
            self.indents.pop();
            self.push(TokenKind::Dedent, end, end);
        }
        self.push(TokenKind::Eof, end, end);
        self.out
    }
}

/// Whether `word` is a Python string prefix (`f`, `b`, `r`, `u`, `rb`, `fr`, ...).
fn is_string_prefix(word: &str) -> bool {
    (1..=2).contains(&word.len())
        && word
            .chars()
            .all(|c| matches!(c.to_ascii_lowercase(), 'f' | 'b' | 'r' | 'u'))
}

/// Whether `rest` (after `++` or `--`) ends the statement: `x++` on its own.
fn ends_statement(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with(['\n', '\r', ';', '#'])
}

fn closing(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `src` and checks the tokens, written as their text, with `NL`, `IN`, `DE`.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let lexed = lex(src);
        assert!(lexed.errors.is_empty(), "{:?}", lexed.errors);
        let got: Vec<String> = lexed
            .tokens
            .iter()
            .filter(|t| t.kind != TokenKind::Eof)
            .map(|t| match &t.kind {
                TokenKind::Newline => "NL".to_string(),
                TokenKind::Indent => "IN".to_string(),
                TokenKind::Dedent => "DE".to_string(),
                TokenKind::Int(v) => v.to_string(),
                TokenKind::Str(s) => format!("'{s}'"),
                _ => t.span.text(src).to_string(),
            })
            .collect();
        assert_eq!(got.join(" "), expected);
    }

    #[test]
    fn indentation_with_tabs_and_spaces() {
        check(
            "def f():\n    a = 1\n\tb = 2\n    \tif b:\n\t\t\tc()\n\n  # x\nd",
            "def f ( ) : NL IN a = 1 NL b = 2 NL IN if b : NL IN c ( ) NL DE DE DE d NL",
        );
    }

    #[test]
    fn continuations() {
        check(
            "from a import b, \\\n   c,\n  d\nx = (1 +\n 2)\n",
            "from a import b , c , d NL x = ( 1 + 2 ) NL",
        );
    }

    #[test]
    fn numbers_and_operators() {
        check(
            "0x1f 0b101 1_000 0o17 a//=b<<=c>>d!=e",
            "31 5 1000 15 a //= b <<= c >> d != e NL",
        );
        check("'eth0' \"xdp\"", "'eth0' 'xdp' NL");
    }

    #[test]
    fn errors() {
        let lexed = lex("x = 99999999999999999999 $ 12ab\n");
        let msgs: Vec<String> = lexed.errors.iter().map(|d| d.kind.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "integer literal `99999999999999999999` does not fit in 64 bits",
                "unexpected character `$`",
                "malformed number `12ab`"
            ]
        );
        let lexed = lex("if a:\n    b\n  c\n");
        assert_eq!(
            lexed.errors[0].kind,
            SyntaxError::InconsistentDedent,
            "{:?}",
            lexed.errors
        );
    }
}
