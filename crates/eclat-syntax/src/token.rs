//! Tokens produced by the [`crate::lexer`].

use crate::span::Span;

/// What a token is. Names, numbers and strings carry their value; the text of any token is
/// `span.text(src)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An identifier (keywords are separate kinds; type names such as `u8` are names).
    Name,
    /// An integer literal, already converted (decimal, `0x`, `0o`, `0b`, `_` separators).
    Int(u64),
    /// A string literal in single or double quotes, without its quotes.
    Str(String),
    /// `from`
    From,
    /// `import`
    Import,
    /// `def`
    Def,
    /// `if`
    If,
    /// `elif`
    Elif,
    /// `else`
    Else,
    /// `while`
    While,
    /// `for`
    For,
    /// `in`
    In,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `pass`
    Pass,
    /// `return`
    Return,
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
    /// `True` or `true`
    True,
    /// `False` or `false`
    False,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `;`
    Semi,
    /// `.`
    Dot,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `//`
    SlashSlash,
    /// `%`
    Percent,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `&`
    Amp,
    /// `|`
    Pipe,
    /// `^`
    Caret,
    /// `~`
    Tilde,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Assign,
    /// An augmented assignment: `+=`, `-=`, `*=`, `/=`, `//=`, `%=`, `&=`, `|=`, `^=`, `<<=`,
    /// `>>=`; the token kind of the operator without `=`.
    AugAssign(AugOp),
    /// End of a logical line.
    Newline,
    /// The indentation grew.
    Indent,
    /// The indentation shrank by one level.
    Dedent,
    /// End of the text.
    Eof,
}

/// The operator of an augmented assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AugOp {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=` and `//=`
    Div,
    /// `%=`
    Mod,
    /// `&=`
    And,
    /// `|=`
    Or,
    /// `^=`
    Xor,
    /// `<<=`
    Shl,
    /// `>>=`
    Shr,
}

/// One token and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

impl TokenKind {
    /// How the token is described in messages: `` `if` ``, `a name`, `end of line`.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Name => "a name".into(),
            TokenKind::Int(_) => "a number".into(),
            TokenKind::Str(_) => "a string".into(),
            TokenKind::Newline => "end of line".into(),
            TokenKind::Indent => "an indented block".into(),
            TokenKind::Dedent => "the end of the block".into(),
            TokenKind::Eof => "end of file".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    /// The fixed text of a keyword or punctuation token (empty for the others).
    pub fn symbol(&self) -> &'static str {
        match self {
            TokenKind::From => "from",
            TokenKind::Import => "import",
            TokenKind::Def => "def",
            TokenKind::If => "if",
            TokenKind::Elif => "elif",
            TokenKind::Else => "else",
            TokenKind::While => "while",
            TokenKind::For => "for",
            TokenKind::In => "in",
            TokenKind::Break => "break",
            TokenKind::Continue => "continue",
            TokenKind::Pass => "pass",
            TokenKind::Return => "return",
            TokenKind::And => "and",
            TokenKind::Or => "or",
            TokenKind::Not => "not",
            TokenKind::True => "True",
            TokenKind::False => "False",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::LBrace => "{",
            TokenKind::RBrace => "}",
            TokenKind::Comma => ",",
            TokenKind::Colon => ":",
            TokenKind::Semi => ";",
            TokenKind::Dot => ".",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::SlashSlash => "//",
            TokenKind::Percent => "%",
            TokenKind::Shl => "<<",
            TokenKind::Shr => ">>",
            TokenKind::Amp => "&",
            TokenKind::Pipe => "|",
            TokenKind::Caret => "^",
            TokenKind::Tilde => "~",
            TokenKind::EqEq => "==",
            TokenKind::NotEq => "!=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::Assign => "=",
            TokenKind::AugAssign(op) => match op {
                AugOp::Add => "+=",
                AugOp::Sub => "-=",
                AugOp::Mul => "*=",
                AugOp::Div => "//=",
                AugOp::Mod => "%=",
                AugOp::And => "&=",
                AugOp::Or => "|=",
                AugOp::Xor => "^=",
                AugOp::Shl => "<<=",
                AugOp::Shr => ">>=",
            },
            _ => "",
        }
    }
}
