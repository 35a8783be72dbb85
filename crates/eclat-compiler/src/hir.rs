//! The checked, resolved form of a chain that code generation reads.
//!
//! Names are resolved (locals by index, programs and chains by name, builtins to VM
//! helpers), constants are folded, every operation carries its signedness, `for` loops are
//! lowered to `while` loops with a step, and code that cannot run is gone.

use eclat_syntax::ast::{BinOp, CmpOp, IntType, LogicOp, PacketWidth};
use hike_isa::abi::Helper;

/// Index of a local variable in [`Chain::locals`].
pub type LocalId = usize;

/// A checked chain.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Its name.
    pub name: String,
    /// Parameters: locals `0..params.len()`, in `r1..rN` at entry.
    pub params: Vec<LocalId>,
    /// Every local: parameters, variables, hidden loop counters.
    pub locals: Vec<Local>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Whether it returns a value (its body has a `return VALUE`). One that does returns 0
    /// when it falls off its end or at a bare `return`; one that does not leaves `r0` as the
    /// last call left it.
    pub returns_value: bool,
}

/// A local variable.
#[derive(Clone, Debug)]
pub struct Local {
    /// Its name (hidden locals start with `$`).
    pub name: String,
    /// Its type: values are kept normalized to it.
    pub ty: IntType,
}

/// The static type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// An exact constant made of literals and untyped constants only.
    Int,
    /// A value known to fit this type (a read of a `u8` variable is `U8`; an addition of two
    /// of them is `U64`: arithmetic is 64-bit).
    Typed(IntType),
}

impl Ty {
    /// Whether operations on it are signed (exact constants count as signed).
    pub fn signed(self) -> bool {
        match self {
            Ty::Int => true,
            Ty::Typed(t) => t.signed(),
        }
    }
}

/// A checked expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its static type.
    pub ty: Ty,
}

/// What an expression computes.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A constant, as the 64-bit word it is at run time.
    Const(u64),
    /// A local's value.
    Local(LocalId),
    /// `-x`.
    Neg(Box<Expr>),
    /// `~x`.
    Invert(Box<Expr>),
    /// `not x`: 1 if x is 0, else 0.
    Not(Box<Expr>),
    /// An arithmetic or bitwise operator.
    Binary {
        /// The operator.
        op: BinOp,
        /// Signed division, modulo, right shift.
        signed: bool,
        /// Left.
        lhs: Box<Expr>,
        /// Right.
        rhs: Box<Expr>,
    },
    /// `a OP b [OP c ...]`: 1 if every comparison holds, else 0 (each operand evaluated once,
    /// left to right, stopping at the first false one).
    Compare {
        /// First operand.
        first: Box<Expr>,
        /// Operator, signedness and next operand.
        rest: Vec<(CmpOp, bool, Expr)>,
    },
    /// `a and b` / `a or b` with Python's value.
    Logic {
        /// The operator.
        op: LogicOp,
        /// Left.
        lhs: Box<Expr>,
        /// Right.
        rhs: Box<Expr>,
    },
    /// A header field read at the offsets the loader parsed (`packet.ip4.ttl`): 0 when its
    /// layer is absent. Code generation emits it as a fixed sequence over `r0..r5`, like a
    /// call (its value is `r0`).
    Header(HeaderRead),
    /// A call; its value is `r0` after it.
    Call {
        /// What is called.
        target: CallTarget,
        /// Arguments, in `r1..rN`.
        args: Vec<Expr>,
    },
}

/// How a header field is read: a guard on the loader's metadata, then the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRead {
    /// When the field exists; otherwise the read is 0.
    pub guard: Guard,
    /// What is read when it does.
    pub source: Source,
}

/// When a header field exists, from the loader's `struct hike_pkt_meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Always (a metadata field that is 0 when its layer is absent).
    Always,
    /// An Ethernet header was parsed (`l3_off != 0`).
    Eth,
    /// Any of these `flags` bits is set (`META_IPV4`, `META_IPV6`, `META_VLAN`).
    Flags(u8),
    /// An L4 header was found (`META_L4`) and `l4_proto` is one of the two (equal for one).
    L4(u8, u8),
    /// An L4 header was found, whatever its protocol.
    L4Any,
}

/// Where a packet field's offset counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The start of the packet.
    Start,
    /// The L3 header (`l3_off`).
    L3,
    /// The L4 header (`l4_off`); reads check the packet is long enough (`PKT_LEN`), since
    /// the loader only checks that the L4 header starts inside the packet.
    L4,
}

/// The value of a header field whose guard holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// 1 (`.present`).
    One,
    /// A field of `struct hike_pkt_meta`: byte offset and size (1, 2 or 4).
    Meta {
        /// Byte offset in the metadata.
        off: i16,
        /// Bytes.
        size: u8,
    },
    /// 1 if this `flags` bit is set, else 0.
    Flag(u8),
    /// `(PKT_LOAD(base + off, size) >> shift) & mask`.
    Packet {
        /// Where `off` counts from.
        base: Base,
        /// Byte offset from `base`.
        off: u16,
        /// Bytes loaded (1, 2, 4 or 8), big-endian.
        size: u8,
        /// Right shift of the loaded word.
        shift: u8,
        /// Mask after the shift.
        mask: u64,
    },
}

/// What a call calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// A HIKe program, linked by name.
    Program(String),
    /// A chain, linked by name.
    Chain(String),
    /// A VM helper.
    Helper(Helper),
}

/// A checked statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `local = value`, narrowed to `narrow` if set.
    Assign {
        /// The local.
        local: LocalId,
        /// The value.
        value: Expr,
        /// The type to normalize to, when the value may not fit the local's type already.
        narrow: Option<IntType>,
    },
    /// `packet.uN[offset] = value`.
    PacketStore {
        /// Field width.
        width: PacketWidth,
        /// Byte offset.
        offset: Expr,
        /// The value (its low bytes are stored).
        value: Expr,
    },
    /// An expression evaluated for its effect.
    Expr(Expr),
    /// A call of a terminal program: the chain ends there.
    Terminal(Expr),
    /// `if cond: then else: otherwise`.
    If {
        /// Condition.
        cond: Expr,
        /// Taken when it is nonzero.
        then: Vec<Stmt>,
        /// Taken otherwise.
        otherwise: Vec<Stmt>,
    },
    /// `while cond: body`, running `step` after the body and on `continue`.
    While {
        /// Condition.
        cond: Expr,
        /// Body.
        body: Vec<Stmt>,
        /// Run after each iteration (the `for` counter's increment).
        step: Vec<Stmt>,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `return [value]`: without a value, 0 in a chain that returns a value, nothing (`r0`
    /// unchanged) in one that does not.
    Return(Option<Expr>),
}
