//! Packet fields by name (`packet.ip4.ttl`) and address comparisons (`packet.ip4.src in
//! '10.0.0.0/8'`): resolution against the table of [`crate::fields`], and lowering to HIR.
//!
//! A read is one [`hir::ExprKind::Header`]. A write is a few HIR statements over hidden locals
//! (shared by every write of the chain): the value, evaluated first, then under the layer's
//! `.present`, a read-modify-write of the word that holds the field and, where a checksum
//! covers it, the RFC 1624 incremental update `HC' = ~(~HC + ~m + m')` of that checksum. An
//! address comparison is one or two integer comparisons of the field (or of an IPv6
//! address's 64-bit halves) under the literal's prefix mask. Not here: `packet.uN[...]`
//! (in [`expr`](super::expr) and [`stmt`](super::stmt)).

use eclat_syntax::ast::{self, BinOp, CmpOp, ExprKind, IntType, LogicOp};
use eclat_syntax::Span;
use hike_isa::abi::Helper;

use super::chain::ChainChecker;
use super::expr::Val;
use super::types::const_expr;
use crate::fields::address::LiteralError;
use crate::fields::{
    self, meta_off, AddrKind, AddrLiteral, Csum, Field, FieldError, Layer, Write, LAYERS,
};
use crate::hir::{self, Base, CallTarget, Guard, HeaderRead, LocalId, Source, Ty};

/// The hidden locals of packet field writes, one set per chain.
#[derive(Clone, Copy, Debug)]
pub(super) struct WriteTemps {
    value: LocalId,
    off: LocalId,
    old: LocalId,
    new: LocalId,
    sum: LocalId,
}

fn u64_expr(kind: hir::ExprKind) -> hir::Expr {
    hir::Expr {
        kind,
        ty: Ty::Typed(IntType::U64),
    }
}

fn local(l: LocalId) -> hir::Expr {
    u64_expr(hir::ExprKind::Local(l))
}

fn bin(op: BinOp, lhs: hir::Expr, rhs: hir::Expr) -> hir::Expr {
    // `x + 0`, `x << 0`: nothing to compute.
    if matches!(op, BinOp::Add | BinOp::Shl | BinOp::Shr)
        && matches!(rhs.kind, hir::ExprKind::Const(0))
    {
        return lhs;
    }
    if let (BinOp::Add, hir::ExprKind::Const(a), hir::ExprKind::Const(b)) =
        (op, &lhs.kind, &rhs.kind)
    {
        return k(a.wrapping_add(*b));
    }
    u64_expr(hir::ExprKind::Binary {
        op,
        signed: false,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

fn k(v: u64) -> hir::Expr {
    const_expr(v)
}

fn header(read: HeaderRead, ty: IntType) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Header(read),
        ty: Ty::Typed(ty),
    }
}

fn pkt_load(off: hir::Expr, size: u8) -> hir::Expr {
    u64_expr(hir::ExprKind::Call {
        target: CallTarget::Helper(Helper::PktLoad),
        args: vec![off, k(u64::from(size))],
    })
}

fn assign(local: LocalId, value: hir::Expr) -> hir::Stmt {
    hir::Stmt::Assign {
        local,
        value,
        narrow: None,
    }
}

fn store(size: u8, offset: hir::Expr, value: hir::Expr) -> hir::Stmt {
    let width = match size {
        1 => ast::PacketWidth::U8,
        2 => ast::PacketWidth::U16,
        4 => ast::PacketWidth::U32,
        _ => ast::PacketWidth::U64,
    };
    hir::Stmt::PacketStore {
        width,
        offset,
        value,
    }
}

/// The offset a base stands for, as read from the metadata.
fn base_offset(base: Base) -> hir::Expr {
    match base {
        Base::Start => k(0),
        Base::L3 | Base::L4 => header(
            HeaderRead {
                guard: Guard::Always,
                source: Source::Meta {
                    off: if base == Base::L3 {
                        meta_off::L3_OFF
                    } else {
                        meta_off::L4_OFF
                    },
                    size: 2,
                },
            },
            IntType::U16,
        ),
    }
}

fn cmp(lhs: hir::Expr, op: CmpOp, rhs: hir::Expr) -> hir::Expr {
    hir::Expr {
        kind: hir::ExprKind::Compare {
            first: Box::new(lhs),
            rest: vec![(op, false, rhs)],
        },
        ty: Ty::Typed(IntType::U8),
    }
}

/// `field` as written in messages.
fn field_name(layer: &Layer, field: &Field) -> String {
    format!("packet.{}.{}", layer.name, field.name)
}

impl ChainChecker<'_, '_> {
    /// The layer and field `packet.LAYER.FIELD` names, or an error listing the valid names.
    pub(super) fn resolve_field(
        &mut self,
        layer: &ast::Ident,
        field: &ast::Ident,
    ) -> Option<(&'static Layer, &'static Field)> {
        let Some(l) = fields::layer(&layer.name) else {
            let e = FieldError::UnknownLayer {
                name: layer.name.clone(),
                suggestion: fields::closest(&layer.name, LAYERS.iter().map(|l| l.name)),
                layers: fields::list(LAYERS.iter().map(|l| l.name)),
            };
            self.error(e.into(), layer.span);
            return None;
        };
        let Some(f) = l.field(&field.name) else {
            let e = FieldError::UnknownField {
                layer: l.name,
                name: field.name.clone(),
                suggestion: fields::closest(&field.name, l.fields.iter().map(|f| f.name)),
                fields: fields::list(l.fields.iter().map(|f| f.name)),
            };
            self.error(e.into(), field.span);
            return None;
        };
        Some((l, f))
    }

    /// `packet.LAYER.FIELD` as a value.
    pub(super) fn header_value(
        &mut self,
        layer: &ast::Ident,
        field: &ast::Ident,
        span: Span,
    ) -> Val {
        let Some((l, f)) = self.resolve_field(layer, field) else {
            return Val::dummy(span);
        };
        let Some(read) = l.read(f) else {
            self.error(
                FieldError::WideValue {
                    layer: l.name,
                    field: f.name,
                }
                .into(),
                span,
            );
            return Val::dummy(span);
        };
        Val {
            expr: header(read, f.ty),
            konst: None,
            span,
        }
    }

    fn write_temps(&mut self) -> WriteTemps {
        if let Some(t) = self.write_temps {
            return t;
        }
        let t = WriteTemps {
            value: self.new_local("$fv", IntType::U64),
            off: self.new_local("$fo", IntType::U64),
            old: self.new_local("$fold", IntType::U64),
            new: self.new_local("$fnew", IntType::U64),
            sum: self.new_local("$fsum", IntType::U64),
        };
        self.write_temps = Some(t);
        t
    }

    /// `packet.LAYER.FIELD = value` (or `OP=`: `aug` gives the operator and its span, and
    /// the current value is read first). `target` is the field: layer, field, span.
    pub(super) fn header_store(
        &mut self,
        target: (&ast::Ident, &ast::Ident, Span),
        aug: Option<(BinOp, Span)>,
        value: &ast::Expr,
        stmt_span: Span,
        out: &mut Vec<hir::Stmt>,
    ) {
        let (layer, field, span) = target;
        let Some((l, f)) = self.resolve_field(layer, field) else {
            self.expr(value);
            return;
        };
        if let Write::ReadOnly(why) = f.write {
            self.error(
                FieldError::ReadOnly {
                    layer: l.name,
                    field: f.name,
                    why,
                }
                .into(),
                span,
            );
            self.expr(value);
            return;
        }
        let v = match aug {
            None => self.expr(value),
            Some((op, op_span)) => {
                let current = self.header_value(layer, field, span);
                let rhs = self.expr(value);
                self.binary(op, op_span, current, rhs, stmt_span)
            }
        };
        let v = self.runtime(v);
        let t = self.write_temps();
        out.push(assign(t.value, v));
        let body = match f.write {
            Write::Mac { off } => vec![
                store(4, k(u64::from(off)), bin(BinOp::Shr, local(t.value), k(16))),
                store(2, k(u64::from(off) + 4), local(t.value)),
            ],
            Write::Bits {
                base,
                off,
                size,
                shift,
                mask,
                csum,
            } => Self::bits_write(t, base, off, size, shift, mask, csum),
            Write::ReadOnly(_) => unreachable!("refused above"),
        };
        out.push(hir::Stmt::If {
            cond: header(l.present(), IntType::U8),
            then: body,
            otherwise: Vec::new(),
        });
    }

    /// The read-modify-write of a field's word and its checksum's update.
    fn bits_write(
        t: WriteTemps,
        base: Base,
        off: u16,
        size: u8,
        shift: u8,
        mask: u64,
        csum: Csum,
    ) -> Vec<hir::Stmt> {
        let word_mask = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * size)) - 1
        };
        let field_mask = (mask << shift) & word_mask;
        let whole = field_mask == word_mask;
        let positioned = bin(
            BinOp::Shl,
            bin(BinOp::And, local(t.value), k(mask)),
            k(u64::from(shift)),
        );
        let mut body = vec![assign(
            t.off,
            bin(BinOp::Add, base_offset(base), k(u64::from(off))),
        )];
        let needs_old = !whole || csum != Csum::None;
        if needs_old {
            body.push(assign(t.old, pkt_load(local(t.off), size)));
        }
        let new = if whole {
            positioned
        } else {
            bin(
                BinOp::Or,
                bin(BinOp::And, local(t.old), k(word_mask & !field_mask)),
                positioned,
            )
        };
        body.push(assign(t.new, new));
        body.push(store(size, local(t.off), local(t.new)));
        let Csum::At { off: csum_off, udp } = csum else {
            return body;
        };
        debug_assert_eq!(size, 2, "checksummed words are 16-bit");
        // HC' = ~(~HC + ~m + m'), folded twice: three 16-bit terms fit after two folds.
        let fold = |s: LocalId| {
            assign(
                s,
                bin(
                    BinOp::Add,
                    bin(BinOp::And, local(s), k(0xffff)),
                    bin(BinOp::Shr, local(s), k(16)),
                ),
            )
        };
        let mut update = vec![
            assign(
                t.sum,
                bin(
                    BinOp::Add,
                    bin(
                        BinOp::Add,
                        bin(BinOp::Xor, local(t.sum), k(0xffff)),
                        bin(BinOp::Xor, local(t.old), k(0xffff)),
                    ),
                    local(t.new),
                ),
            ),
            fold(t.sum),
            fold(t.sum),
            assign(t.sum, bin(BinOp::Xor, local(t.sum), k(0xffff))),
        ];
        if udp {
            // A computed 0 would read as "no checksum": UDP sends it as 0xffff.
            update.push(hir::Stmt::If {
                cond: cmp(local(t.sum), CmpOp::Eq, k(0)),
                then: vec![assign(t.sum, k(0xffff))],
                otherwise: Vec::new(),
            });
        }
        update.push(store(2, local(t.off), local(t.sum)));
        body.push(assign(
            t.off,
            bin(BinOp::Add, base_offset(base), k(u64::from(csum_off))),
        ));
        body.push(assign(t.sum, pkt_load(local(t.off), 2)));
        if udp {
            // UDP over IPv4 may carry no checksum (0): it stays 0.
            body.push(hir::Stmt::If {
                cond: cmp(local(t.sum), CmpOp::Ne, k(0)),
                then: update,
                otherwise: Vec::new(),
            });
        } else {
            body.extend(update);
        }
        body
    }

    /// A comparison that involves an address literal, `in`/`not in`: checked and lowered here
    /// (`Some`); any other comparison is left to [`ChainChecker::compare`] (`None`).
    pub(super) fn address_compare(
        &mut self,
        first: &ast::Expr,
        rest: &[(CmpOp, ast::Expr)],
        span: Span,
    ) -> Option<Val> {
        let is_str = |e: &ast::Expr| matches!(e.kind, ExprKind::Str(_));
        let involved = is_str(first)
            || rest
                .iter()
                .any(|(op, e)| is_str(e) || matches!(op, CmpOp::In | CmpOp::NotIn));
        if !involved {
            return None;
        }
        if rest.len() != 1 {
            self.error(FieldError::Chained.into(), span);
            return Some(Val::dummy(span));
        }
        let (op, second) = (&rest[0].0, &rest[0].1);
        let membership = matches!(op, CmpOp::In | CmpOp::NotIn);
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) && !membership {
            self.error(
                FieldError::AddressOperator { op: op.to_string() }.into(),
                span,
            );
            return Some(Val::dummy(span));
        }
        // The field on the left (the only place for `in`), or on the right of `==`/`!=`.
        let (field_side, lit_side) = if !membership && is_str(first) {
            (second, first)
        } else {
            (first, second)
        };
        let text = match &lit_side.kind {
            ExprKind::Str(s) => s.clone(),
            _ => {
                let op = if *op == CmpOp::In { "in" } else { "not in" };
                self.error(FieldError::InOperands { op }.into(), span);
                return Some(Val::dummy(span));
            }
        };
        let resolved = match &field_side.kind {
            ExprKind::PacketHeader { layer, field } => {
                let Some((l, f)) = self.resolve_field(layer, field) else {
                    return Some(Val::dummy(span));
                };
                f.addr.map(|kind| (l, f, kind))
            }
            _ => None,
        };
        let Some((l, f, kind)) = resolved else {
            let e = if membership {
                let op = if *op == CmpOp::In { "in" } else { "not in" };
                FieldError::InOperands { op }
            } else {
                let number = match AddrLiteral::parse(&text) {
                    Ok(a) if a.kind != AddrKind::Ipv6 && a.prefix.is_none() => {
                        Some(format!("{:#x}", a.bits))
                    }
                    _ => None,
                };
                FieldError::NotAnAddressField { number }
            };
            self.error(e.into(), field_side.span);
            return Some(Val::dummy(span));
        };
        let lit = match self.address_literal(&text, kind, l, f, lit_side.span) {
            Some(lit) => lit,
            None => return Some(Val::dummy(span)),
        };
        if lit.prefix.is_some() && !membership {
            let (opname, fix) = if *op == CmpOp::Eq {
                ("==", "in")
            } else {
                ("!=", "not in")
            };
            self.error(
                FieldError::PrefixWithEquals {
                    text,
                    op: opname,
                    fix,
                    field: field_name(l, f),
                }
                .into(),
                lit_side.span,
            );
            return Some(Val::dummy(span));
        }
        let equal = matches!(op, CmpOp::Eq | CmpOp::In);
        Some(self.lower_address_match(l, f, kind, lit, equal, span))
    }

    /// Parses `text` as an address of `kind` for field `f`, reporting what is wrong.
    fn address_literal(
        &mut self,
        text: &str,
        kind: AddrKind,
        l: &Layer,
        f: &Field,
        span: Span,
    ) -> Option<AddrLiteral> {
        let e = match AddrLiteral::parse(text) {
            Ok(lit) if lit.kind == kind => return Some(lit),
            Ok(lit) => {
                let other = match (l.name, lit.kind) {
                    ("ip4", AddrKind::Ipv6) => Some(format!("packet.ip6.{}", f.name)),
                    ("ip6", AddrKind::Ipv4) => Some(format!("packet.ip4.{}", f.name)),
                    _ => None,
                };
                FieldError::kind_mismatch(
                    true,
                    format!("`{}`", field_name(l, f)),
                    kind,
                    text,
                    lit.kind,
                    other,
                )
            }
            Err(LiteralError::NotAnAddress { looks_like }) => match looks_like {
                Some(found) if found != kind => FieldError::kind_mismatch(
                    true,
                    format!("`{}`", field_name(l, f)),
                    kind,
                    text,
                    found,
                    None,
                ),
                _ => FieldError::bad_address(text, kind),
            },
            Err(LiteralError::PrefixLength { kind: k, len }) => {
                if k != kind {
                    FieldError::kind_mismatch(
                        true,
                        format!("`{}`", field_name(l, f)),
                        kind,
                        text,
                        k,
                        None,
                    )
                } else {
                    FieldError::PrefixLength {
                        text: text.into(),
                        len,
                        kind,
                        max: kind.bits(),
                    }
                }
            }
            Err(LiteralError::HostBits { network }) => FieldError::HostBits {
                text: text.into(),
                network,
            },
            Err(LiteralError::MacPrefix) => FieldError::MacPrefix { text: text.into() },
        };
        self.error(e.into(), span);
        None
    }

    /// `field == lit` (or in its prefix), negated unless `equal`.
    fn lower_address_match(
        &mut self,
        l: &Layer,
        f: &Field,
        kind: AddrKind,
        lit: AddrLiteral,
        equal: bool,
        span: Span,
    ) -> Val {
        let mask = lit.mask();
        let bits = lit.bits & mask;
        // Each part: (the field's word, the mask of it compared, the value it must have).
        let parts: Vec<(hir::Expr, u64, u64)> = match kind {
            AddrKind::Ipv4 | AddrKind::Mac => {
                let read = l.read(f).expect("IPv4 and MAC fields are read whole");
                vec![(header(read, f.ty), mask as u64, bits as u64)]
            }
            AddrKind::Ipv6 => {
                let half = |suffix: &str| {
                    let h = l
                        .field(&format!("{}_{suffix}", f.name))
                        .expect("an IPv6 address has its halves");
                    header(l.read(h).expect("readable"), IntType::U64)
                };
                vec![
                    (half("hi"), (mask >> 64) as u64, (bits >> 64) as u64),
                    (half("lo"), mask as u64, bits as u64),
                ]
            }
        };
        let tests: Vec<hir::Expr> = parts
            .into_iter()
            .filter(|&(_, m, _)| m != 0)
            .map(|(word, m, v)| {
                let full = match kind {
                    AddrKind::Ipv4 => u64::from(u32::MAX),
                    AddrKind::Mac => 0xffff_ffff_ffff,
                    AddrKind::Ipv6 => u64::MAX,
                };
                let lhs = if m == full {
                    word
                } else {
                    bin(BinOp::And, word, k(m))
                };
                cmp(lhs, CmpOp::Eq, k(v))
            })
            .collect();
        let matched = tests.into_iter().reduce(|a, b| hir::Expr {
            kind: hir::ExprKind::Logic {
                op: LogicOp::And,
                lhs: Box::new(a),
                rhs: Box::new(b),
            },
            ty: Ty::Typed(IntType::U8),
        });
        let Some(matched) = matched else {
            // A /0 prefix: every address is in it.
            return Val::konst(super::fold::Konst::Int(i128::from(equal)), span);
        };
        let expr = if equal {
            matched
        } else {
            hir::Expr {
                kind: hir::ExprKind::Not(Box::new(matched)),
                ty: Ty::Typed(IntType::U8),
            }
        };
        Val {
            expr,
            konst: None,
            span,
        }
    }
}
