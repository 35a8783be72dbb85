//! The assembler's lexer: one line of text → tokens (identifiers, numbers, punctuation),
//! each with its column. Comments (`;`, `//`) end the line.

use super::AsmError;

/// Whether `s` can be written as a label or a `call prog`/`call chain` name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(is_ident_char)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    Ident(&'a str),
    Number(u64),
    Punct(&'static str),
}

/// A token, its text and its column (from 1, in characters).
#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub(super) tok: Tok<'a>,
    pub(super) text: &'a str,
    pub(super) column: usize,
}

/// Punctuation, longest first so that `<<=` wins over `<`.
const PUNCTS: &[&str] = &[
    "<<=", ">>=", "==", "!=", ">=", "<=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "=", "<",
    ">", "(", ")", "*", "+", "-", ",", ":", "&",
];

/// Signed operators, written with an `s` prefix.
const SIGNED_PUNCTS: &[&str] = &["s>>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<"];

/// The tokens of line `line` (its number, for errors), up to a comment.
pub(super) fn lex(text: &str, line: usize) -> Result<Vec<Token<'_>>, AsmError> {
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
