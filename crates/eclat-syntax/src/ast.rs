//! The spanned abstract syntax tree of an eCLAT script.
//!
//! Every node carries the [`Span`] of the text it was parsed from, so that the checker can
//! point at it. The tree is what was written, unresolved: names are strings, types are as
//! spelled, constants are not folded.

use std::fmt;

use crate::span::Span;

/// A whole script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A name and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `from SOURCE.PKG import a, b`.
    Import(Import),
    /// `OWNER[MAP] = { ... }`.
    MapConfig(MapConfig),
    /// `LOADER.attach('dev', 'hook')`.
    Attach(Attach),
    /// `NAME = EXPR` or `TYPE : NAME = EXPR` at the top level: a module constant.
    Const(ConstDef),
    /// `def NAME(PARAMS): BODY`.
    Chain(ChainDef),
    /// An item that did not parse (already reported).
    Error(Span),
}

/// `from a.b import x, y`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The dotted path after `from`: `programs.net` is `[programs, net]`.
    pub path: Vec<Ident>,
    /// The imported names.
    pub names: Vec<Ident>,
    /// The whole statement.
    pub span: Span,
}

/// `OWNER[MAP] = { KEY: VALUE, ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapConfig {
    /// The loader or program that owns the map.
    pub owner: Ident,
    /// The map.
    pub map: Ident,
    /// Entries in order.
    pub entries: Vec<MapEntry>,
    /// The whole statement.
    pub span: Span,
}

/// `KEY: VALUE` of a map configuration; a key or value is a tuple of one or more items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// Items of the key: `(0)` is one, `(1, 2)` two.
    pub key: Vec<Expr>,
    /// Where the key is.
    pub key_span: Span,
    /// Items of the value.
    pub value: Vec<Expr>,
    /// Where the value is.
    pub value_span: Span,
}

/// `LOADER.attach(DEV, HOOK)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attach {
    /// The loader.
    pub loader: Ident,
    /// The arguments as written (two strings expected).
    pub args: Vec<Expr>,
    /// The whole statement.
    pub span: Span,
}

/// A module constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstDef {
    /// The name.
    pub name: Ident,
    /// The declared type, if any.
    pub ty: Option<TypeName>,
    /// The value.
    pub value: Expr,
    /// The whole statement.
    pub span: Span,
}

/// `def NAME(PARAMS): BODY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainDef {
    /// The chain's name.
    pub name: Ident,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The statements of the body.
    pub body: Vec<Stmt>,
    /// From `def` to the end of the body.
    pub span: Span,
}

/// A chain parameter: `u32 : a`, `a: u32` or `a` (u64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The name.
    pub name: Ident,
    /// The declared type, if any.
    pub ty: Option<TypeName>,
}

/// A written type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeName {
    /// The type.
    pub ty: IntType,
    /// Where it is written.
    pub span: Span,
}

/// The integer types of eCLAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntType {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `s8`
    S8,
    /// `s16`
    S16,
    /// `s32`
    S32,
    /// `s64`
    S64,
}

impl IntType {
    /// Every type.
    pub const ALL: [IntType; 8] = [
        IntType::U8,
        IntType::U16,
        IntType::U32,
        IntType::U64,
        IntType::S8,
        IntType::S16,
        IntType::S32,
        IntType::S64,
    ];

    /// The type called `name` (`u8` ... `s64`; `i8` ... `i64` are accepted as aliases).
    pub fn from_name(name: &str) -> Option<IntType> {
        Some(match name {
            "u8" => IntType::U8,
            "u16" => IntType::U16,
            "u32" => IntType::U32,
            "u64" => IntType::U64,
            "s8" | "i8" => IntType::S8,
            "s16" | "i16" => IntType::S16,
            "s32" | "i32" => IntType::S32,
            "s64" | "i64" => IntType::S64,
            _ => return None,
        })
    }

    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            IntType::U8 | IntType::S8 => 8,
            IntType::U16 | IntType::S16 => 16,
            IntType::U32 | IntType::S32 => 32,
            IntType::U64 | IntType::S64 => 64,
        }
    }

    /// Whether values are two's-complement signed.
    pub fn signed(self) -> bool {
        matches!(
            self,
            IntType::S8 | IntType::S16 | IntType::S32 | IntType::S64
        )
    }

    /// The smallest value.
    pub fn min(self) -> i128 {
        if self.signed() {
            -(1i128 << (self.bits() - 1))
        } else {
            0
        }
    }

    /// The largest value.
    pub fn max(self) -> i128 {
        if self.signed() {
            (1i128 << (self.bits() - 1)) - 1
        } else {
            (1i128 << self.bits()) - 1
        }
    }
}

impl fmt::Display for IntType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntType::U8 => "u8",
            IntType::U16 => "u16",
            IntType::U32 => "u32",
            IntType::U64 => "u64",
            IntType::S8 => "s8",
            IntType::S16 => "s16",
            IntType::S32 => "s32",
            IntType::S64 => "s64",
        })
    }
}

/// A statement and its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it is (for compound statements, the header line).
    pub span: Span,
}

/// The kinds of statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `TYPE : NAME [= VALUE]` or `NAME : TYPE [= VALUE]`.
    Decl {
        /// The variable.
        name: Ident,
        /// Its type.
        ty: TypeName,
        /// The initial value.
        value: Option<Expr>,
    },
    /// `TARGET = VALUE`.
    Assign {
        /// What is assigned.
        target: Target,
        /// The value.
        value: Expr,
    },
    /// `TARGET OP= VALUE`.
    AugAssign {
        /// What is updated.
        target: Target,
        /// The operator.
        op: BinOp,
        /// Where the operator is.
        op_span: Span,
        /// The right operand.
        value: Expr,
    },
    /// An expression evaluated for its effect (a call).
    Expr(Expr),
    /// `if COND: ... elif COND: ... else: ...`.
    If {
        /// `if` and `elif` branches in order.
        branches: Vec<(Expr, Vec<Stmt>)>,
        /// The `else` body.
        else_body: Option<Vec<Stmt>>,
    },
    /// `while COND: BODY`.
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Vec<Stmt>,
    },
    /// `for VAR in range(ARGS): BODY`.
    For {
        /// The loop variable.
        var: Ident,
        /// One to three arguments of `range`.
        range: Vec<Expr>,
        /// The body.
        body: Vec<Stmt>,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `pass`.
    Pass,
    /// `return [VALUE]`.
    Return(Option<Expr>),
    /// A statement that did not parse (already reported).
    Error,
}

/// The left side of an assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A variable.
    Name(Ident),
    /// `packet.uN[OFFSET]`.
    Packet {
        /// The field width.
        width: PacketWidth,
        /// The byte offset.
        offset: Expr,
        /// The whole field.
        span: Span,
    },
    /// `packet.LAYER.FIELD` (`packet.ip4.ttl`): resolved by the checker.
    Header {
        /// The layer (`eth`, `ip4`, ...).
        layer: Ident,
        /// The field (`ttl`, ...).
        field: Ident,
        /// The whole field.
        span: Span,
    },
}

impl Target {
    /// Where the target is written.
    pub fn span(&self) -> Span {
        match self {
            Target::Name(id) => id.span,
            Target::Packet { span, .. } | Target::Header { span, .. } => *span,
        }
    }
}

/// The width of a packet field: `packet.u8[...]` ... `packet.u64[...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketWidth {
    /// 1 byte.
    U8,
    /// 2 bytes.
    U16,
    /// 4 bytes.
    U32,
    /// 8 bytes.
    U64,
}

impl PacketWidth {
    /// Bytes.
    pub fn bytes(self) -> u32 {
        match self {
            PacketWidth::U8 => 1,
            PacketWidth::U16 => 2,
            PacketWidth::U32 => 4,
            PacketWidth::U64 => 8,
        }
    }

    /// The unsigned type of a field of this width.
    pub fn int_type(self) -> IntType {
        match self {
            PacketWidth::U8 => IntType::U8,
            PacketWidth::U16 => IntType::U16,
            PacketWidth::U32 => IntType::U32,
            PacketWidth::U64 => IntType::U64,
        }
    }
}

/// An expression and its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal.
    Int(u64),
    /// `True` / `False`.
    Bool(bool),
    /// A string literal (map keys, `attach` arguments).
    Str(String),
    /// A variable, constant, or (in a map value) chain name.
    Name(String),
    /// `NAME(ARGS)`.
    Call {
        /// The called program, chain or builtin.
        callee: Ident,
        /// Arguments in order.
        args: Vec<Expr>,
    },
    /// `-x`, `+x`, `~x`, `not x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `lhs OP rhs` for arithmetic and bitwise operators.
    Binary {
        /// The operator.
        op: BinOp,
        /// Where the operator is.
        op_span: Span,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `a < b`, or a chain `a < b <= c` (Python: `a < b and b <= c`, `b` evaluated once).
    Compare {
        /// The first operand.
        first: Box<Expr>,
        /// The following operators and operands.
        rest: Vec<(CmpOp, Expr)>,
    },
    /// `lhs and rhs` / `lhs or rhs`, short-circuit, with Python's value.
    Logic {
        /// `and` or `or`.
        op: LogicOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `packet.uN[OFFSET]`.
    PacketField {
        /// The width.
        width: PacketWidth,
        /// The byte offset.
        offset: Box<Expr>,
    },
    /// `packet.len` or `len(packet)`.
    PacketLen,
    /// `packet.LAYER.FIELD` (`packet.ip4.ttl`): a header field by name, resolved by the
    /// checker against the layers the loader parsed.
    PacketHeader {
        /// The layer (`eth`, `ip4`, ...).
        layer: Ident,
        /// The field (`ttl`, ...).
        field: Ident,
    },
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
    /// `~`
    Invert,
    /// `not`
    Not,
}

/// Binary arithmetic and bitwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` and `//` (integer division)
    Div,
    /// `%`
    Mod,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "//",
            BinOp::Mod => "%",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "^",
        })
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in` (an address field in a prefix: `packet.ip4.src in '10.0.0.0/8'`)
    In,
    /// `not in`
    NotIn,
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
        })
    }
}

/// `and` / `or`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    /// `and`
    And,
    /// `or`
    Or,
}
