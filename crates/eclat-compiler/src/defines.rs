//! `-D NAME=VALUE`: whole-word placeholders replaced in a script's text before it is compiled.
//!
//! The original scripts attach to `'DEVNAME'` and expect the tool to put the real device
//! there; `eclat run` and `eclat load` take `-D DEVNAME=veth0` for that, and any other
//! placeholder works the same way (`-D RATE=1000`). A word is a maximal run of ASCII letters,
//! digits and `_`; it is replaced wherever it appears, inside strings and comments too, when it
//! is exactly `NAME`. Replacements are not rescanned. A value that is an address
//! (`-D SRC=192.0.2.1`, `-D NET=2001:db8::/32`) is put in quotes where the word is not already
//! inside a string or a comment, so that `packet.ip4.src == SRC` works as `== 'SRC'` does.
//!
//! ```
//! use eclat_compiler::defines::{substitute, Define};
//!
//! let d = Define::parse("DEVNAME=veth0").unwrap();
//! let src = "ip6_sc.attach('DEVNAME', 'xdp')  # DEVNAME_2 stays";
//! assert_eq!(substitute(src, &[d]), "ip6_sc.attach('veth0', 'xdp')  # DEVNAME_2 stays");
//! ```

use crate::fields::address::LiteralError;
use crate::fields::AddrLiteral;

/// One `NAME=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    /// The placeholder: letters, digits and `_`, not starting with a digit.
    pub name: String,
    /// Its replacement text.
    pub value: String,
}

/// A malformed `-D` argument.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefineError {
    /// No `=`.
    #[error("`{arg}` is not `NAME=VALUE`")]
    MissingEquals {
        /// The argument.
        arg: String,
    },
    /// The name is not a word.
    #[error("`{name}` is not a placeholder name: use letters, digits and `_`, not starting with a digit")]
    BadName {
        /// The name.
        name: String,
    },
    /// The value spans lines (it would shift every line number after it).
    #[error("the value of `{name}` contains a line break")]
    MultiLineValue {
        /// The name.
        name: String,
    },
}

impl Define {
    /// Parses `NAME=VALUE` (the value may be empty and may contain `=`).
    pub fn parse(arg: &str) -> Result<Define, DefineError> {
        let (name, value) = arg
            .split_once('=')
            .ok_or_else(|| DefineError::MissingEquals {
                arg: arg.to_owned(),
            })?;
        let word = !name.is_empty()
            && name.chars().all(is_word_char)
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !word {
            return Err(DefineError::BadName {
                name: name.to_owned(),
            });
        }
        if value.contains(['\n', '\r']) {
            return Err(DefineError::MultiLineValue {
                name: name.to_owned(),
            });
        }
        Ok(Define {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `src` with every whole word equal to a define's name replaced by its value (the last
/// define of a name wins).
pub fn substitute(src: &str, defines: &[Define]) -> String {
    substitute_tracked(src, defines).text
}

/// A script's text after [`substitute`], with where each value was put: so that an error in
/// a value (`-D SRC=192.0.2.300` used as `'SRC'`) can name the `-D` it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Substituted {
    /// The text that is compiled.
    pub text: String,
    /// Byte ranges of `text` that are a define's value, with that define.
    pub replaced: Vec<(std::ops::Range<usize>, Define)>,
}

impl Substituted {
    /// The define whose value overlaps bytes `start..end` of the text, if any.
    pub fn define_at(&self, start: usize, end: usize) -> Option<&Define> {
        self.replaced
            .iter()
            .find(|(r, _)| r.start < end.max(start + 1) && start < r.end)
            .map(|(_, d)| d)
    }
}

/// [`substitute`], recording where each value went.
pub fn substitute_tracked(src: &str, defines: &[Define]) -> Substituted {
    let mut out = Substituted {
        text: String::with_capacity(src.len()),
        replaced: Vec::new(),
    };
    if defines.is_empty() {
        out.text.push_str(src);
        return out;
    }
    let mut rest = src;
    let mut quotes = Quotes::default();
    while !rest.is_empty() {
        let start = rest.find(is_word_char).unwrap_or(rest.len());
        quotes.scan(&rest[..start]);
        out.text.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        match defines.iter().rev().find(|d| d.name == word) {
            Some(d) => {
                // An address outside quotes is put in quotes: `-D SRC=192.0.2.1` makes
                // `packet.ip4.src == SRC` read `== '192.0.2.1'`, as `'SRC'` does. So is a
                // malformed one, so that the error says what is wrong with it.
                let quote = quotes.open.is_none() && looks_like_address(&d.value);
                if quote {
                    out.text.push('\'');
                }
                let at = out.text.len();
                out.text.push_str(&d.value);
                out.replaced.push((at..out.text.len(), d.clone()));
                if quote {
                    out.text.push('\'');
                }
            }
            None => out.text.push_str(word),
        }
        rest = &rest[end..];
    }
    out
}

/// Whether `value` is an address or prefix, or a malformed one (`192.0.2.300`).
fn looks_like_address(value: &str) -> bool {
    !matches!(
        AddrLiteral::parse(value),
        Err(LiteralError::NotAnAddress { looks_like: None })
    )
}

/// Whether the text scanned so far is inside a string (or a comment, which is left as it
/// is), to know where a value goes in quotes.
#[derive(Default)]
struct Quotes {
    /// The quote of the open string, or `#` in a comment.
    open: Option<char>,
    /// The previous character was a `\` inside a string.
    escaped: bool,
}

impl Quotes {
    fn scan(&mut self, text: &str) {
        for c in text.chars() {
            match self.open {
                None if c == '\'' || c == '"' || c == '#' => self.open = Some(c),
                None => {}
                Some('#') if c == '\n' => self.open = None,
                Some('#') => {}
                Some(_) if self.escaped => self.escaped = false,
                Some(_) if c == '\\' => self.escaped = true,
                Some(q) if c == q || c == '\n' => self.open = None,
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(arg: &str) -> Define {
        Define::parse(arg).unwrap()
    }

    #[test]
    fn replaces_whole_words_only() {
        let src = "A = 1; AB = A + A_1 # A\n's A'";
        assert_eq!(
            substitute(src, &[d("A=x")]),
            "x = 1; AB = x + A_1 # x\n's x'"
        );
    }

    #[test]
    fn last_define_wins_and_values_are_not_rescanned() {
        assert_eq!(substitute("X Y", &[d("X=Y"), d("Y=2"), d("Y=3")]), "Y 3");
    }

    #[test]
    fn tracked_substitution_knows_where_each_value_went() {
        let s = substitute_tracked("a == 'SRC' # SRC", &[d("SRC=192.0.2.1")]);
        assert_eq!(s.text, "a == '192.0.2.1' # 192.0.2.1");
        assert_eq!(s.replaced.len(), 2);
        assert_eq!(&s.text[s.replaced[0].0.clone()], "192.0.2.1");
        assert_eq!(s.define_at(5, 16).map(|d| d.name.as_str()), Some("SRC"));
        assert_eq!(s.define_at(0, 4), None);
    }

    #[test]
    fn an_address_outside_quotes_is_quoted() {
        let src = "a == SRC; b == 'SRC' # SRC\nc = N";
        let out = substitute(src, &[d("SRC=192.0.2.1"), d("N=3")]);
        assert_eq!(
            substitute("a == X", &[d("X=192.0.2.300")]),
            "a == '192.0.2.300'"
        );
        assert_eq!(substitute("a == X", &[d("X=veth0")]), "a == veth0");
        assert_eq!(out, "a == '192.0.2.1'; b == '192.0.2.1' # 192.0.2.1\nc = 3");
        let s = substitute("x in NET and \"it's NET\"", &[d("NET=2001:db8::/32")]);
        assert_eq!(s, "x in '2001:db8::/32' and \"it's 2001:db8::/32\"");
    }

    #[test]
    fn parse_rejects_bad_arguments() {
        assert_eq!(
            Define::parse("NOEQUALS"),
            Err(DefineError::MissingEquals {
                arg: "NOEQUALS".into()
            })
        );
        assert!(matches!(
            Define::parse("1X=2"),
            Err(DefineError::BadName { .. })
        ));
        assert!(matches!(
            Define::parse("A-B=2"),
            Err(DefineError::BadName { .. })
        ));
        assert_eq!(d("DEV=a=b").value, "a=b");
        assert_eq!(d("DEV=").value, "");
    }
}
