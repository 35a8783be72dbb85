//! What the checker reports about packet fields by name and address literals: unknown layers
//! and fields, writes to read-only fields, 128-bit addresses used as numbers, and malformed or
//! misplaced address literals. Each error has a help line with the fix.

use thiserror::Error;

use super::address::AddrKind;

/// An error about `packet.LAYER.FIELD` or an address literal.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FieldError {
    /// `packet.NAME.FIELD` where `NAME` is no layer.
    #[error("`packet` has no layer `{name}`")]
    UnknownLayer {
        /// What was written.
        name: String,
        /// The closest layer, if any.
        suggestion: Option<&'static str>,
        /// Every layer, comma-separated.
        layers: String,
    },
    /// `packet.LAYER.NAME` where the layer has no `NAME`.
    #[error("`packet.{layer}` has no field `{name}`")]
    UnknownField {
        /// The layer.
        layer: &'static str,
        /// What was written.
        name: String,
        /// The closest field, if any.
        suggestion: Option<&'static str>,
        /// The layer's fields, comma-separated.
        fields: String,
    },
    /// A write to a field that cannot be written.
    #[error("`packet.{layer}.{field}` cannot be written")]
    ReadOnly {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// A 128-bit IPv6 address used as a number.
    #[error("`packet.{layer}.{field}` is a 128-bit address: it is not a number")]
    WideValue {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A string that is not an address of the kind expected (or of any kind).
    #[error("'{text}' is not {article} {kind} address")]
    BadAddress {
        /// The string.
        text: String,
        /// "a" or "an".
        article: &'static str,
        /// The kind expected (or that it looks like).
        kind: AddrKind,
    },
    /// A prefix length out of range.
    #[error("'{text}': the prefix length `/{len}` is out of range for {kind} (0 to {max})")]
    PrefixLength {
        /// The string.
        text: String,
        /// The length as written.
        len: String,
        /// The kind.
        kind: AddrKind,
        /// The kind's width in bits.
        max: u32,
    },
    /// A prefix with bits set after its length.
    #[error("'{text}' has address bits set after its prefix length")]
    HostBits {
        /// The string.
        text: String,
        /// The network written correctly.
        network: String,
    },
    /// A MAC address with a `/`.
    #[error("'{text}': a MAC address has no prefix length")]
    MacPrefix {
        /// The string.
        text: String,
    },
    /// An address of the wrong kind for the field.
    #[error(
        "{field} is {article} {expected} address, but '{text}' is {found_article} {found} address"
    )]
    KindMismatch {
        /// The field, for the message (`` `packet.ip4.src` ``).
        field: String,
        /// "a" or "an".
        article: &'static str,
        /// What the field holds.
        expected: AddrKind,
        /// The string.
        text: String,
        /// "a" or "an".
        found_article: &'static str,
        /// What the string is.
        found: AddrKind,
        /// The same field of the other IP version, if any.
        other: Option<String>,
        /// Whether a prefix is allowed there (a comparison), or only an address (a map).
        prefixes: bool,
    },
    /// `==` or `!=` with a prefix.
    #[error("'{text}' is a prefix: `{op}` compares whole addresses")]
    PrefixWithEquals {
        /// The string.
        text: String,
        /// `==` or `!=`.
        op: &'static str,
        /// `in` or `not in`.
        fix: &'static str,
        /// The field as written.
        field: String,
    },
    /// `<`, `>`, ... with an address.
    #[error("addresses compare only with `==`, `!=`, `in` and `not in`, not `{op}`")]
    AddressOperator {
        /// The operator.
        op: String,
    },
    /// `a == 'x' == b`.
    #[error("an address comparison cannot be chained")]
    Chained,
    /// A string compared with something that is not an address field.
    #[error("an address in quotes compares only with an address field")]
    NotAnAddressField {
        /// The string's value as a number, for a hint, if it is an IPv4 or MAC address.
        number: Option<String>,
    },
    /// `x in y` where it is not an address field in an address literal.
    #[error("`{op}` tests an address field against an address or prefix in quotes")]
    InOperands {
        /// `in` or `not in`.
        op: &'static str,
    },
}

fn article(kind: AddrKind) -> &'static str {
    match kind {
        AddrKind::Ipv4 | AddrKind::Ipv6 => "an",
        AddrKind::Mac => "a",
    }
}

impl FieldError {
    /// A bad literal where `kind` is expected.
    pub fn bad_address(text: &str, kind: AddrKind) -> FieldError {
        FieldError::BadAddress {
            text: text.into(),
            article: article(kind),
            kind,
        }
    }

    /// `field` holds `expected`; `text` is a `found`. `prefixes`: where a prefix is allowed.
    pub fn kind_mismatch(
        prefixes: bool,
        field: String,
        expected: AddrKind,
        text: &str,
        found: AddrKind,
        other: Option<String>,
    ) -> FieldError {
        FieldError::KindMismatch {
            field,
            article: article(expected),
            expected,
            text: text.into(),
            found_article: article(found),
            found,
            other,
            prefixes,
        }
    }

    /// The `= help:` line.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            FieldError::UnknownLayer {
                suggestion, layers, ..
            } => match suggestion {
                Some(s) => format!("did you mean `{s}`? layers: {layers}"),
                None => format!("layers: {layers} (`packet.ip4.ttl`)"),
            },
            FieldError::UnknownField {
                layer,
                suggestion,
                fields,
                ..
            } => match suggestion {
                Some(s) => format!("did you mean `{s}`? fields of `{layer}`: {fields}"),
                None => format!("fields of `{layer}`: {fields}"),
            },
            FieldError::ReadOnly { why, .. } => (*why).to_owned(),
            FieldError::WideValue { layer, field } => format!(
                "compare it with an address in quotes (`packet.{layer}.{field} == \
                 '2001:db8::1'`, `packet.{layer}.{field} in '2001:db8::/32'`), or read its \
                 64-bit halves `packet.{layer}.{field}_hi` and `packet.{layer}.{field}_lo`"
            ),
            FieldError::BadAddress { kind, .. } => format!("write {}", kind.example()),
            FieldError::PrefixLength { kind, .. } => format!("write {}", kind.example()),
            FieldError::HostBits { network, .. } => format!("write the network: '{network}'"),
            FieldError::MacPrefix { .. } => "compare the whole address with `==`".into(),
            FieldError::KindMismatch {
                other,
                expected,
                prefixes,
                ..
            } => {
                let example = if *prefixes {
                    expected.example()
                } else {
                    expected.example_address()
                };
                match other {
                    Some(o) => format!("compare with `{o}`, or write {example}"),
                    None => format!("write {example}"),
                }
            }
            FieldError::PrefixWithEquals {
                text, fix, field, ..
            } => format!("test membership with `{fix}`: `{field} {fix} '{text}'`"),
            FieldError::AddressOperator { .. } => {
                "test a range of addresses with a prefix: `packet.ip4.src in '10.0.0.0/8'`".into()
            }
            FieldError::Chained => {
                "split it with `and`: `packet.ip4.src == '192.0.2.1' and x == y`".into()
            }
            FieldError::NotAnAddressField { number } => {
                let fields = "`packet.ip4.src`/`dst`, `packet.ip6.src`/`dst`, \
                              `packet.eth.src`/`dst`";
                match number {
                    Some(n) => format!("address fields: {fields}; as a number it is {n}"),
                    None => format!("address fields: {fields}"),
                }
            }
            FieldError::InOperands { op } => format!(
                "write `packet.ip4.src {op} '10.0.0.0/8'`; for several values, combine \
                 comparisons with `or`"
            ),
        })
    }
}
