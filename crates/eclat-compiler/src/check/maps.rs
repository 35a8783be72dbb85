//! Map configuration (`OWNER[MAP] = {KEY: VALUE, …}`) checked against the map's C layout,
//! and attachments (`LOADER.attach(DEVICE, HOOK)`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::fields::address::parse_mac;
use crate::fields::{AddrKind, AddrLiteral, FieldError};

use eclat_syntax::ast::{self, ExprKind, IntType};
use eclat_syntax::Span;

use super::{ModuleChecker, Symbol};
use crate::catalog::{FieldKind, MapSig};
use crate::error::CheckError;
use crate::output::{Attachment, MapConfig, MapEntry, MapValue, OwnerKind};
use crate::suggest::closest;

/// The hooks `attach` takes.
pub const HOOKS: [&str; 3] = ["xdp", "tc_ingress", "tc_egress"];

impl ModuleChecker<'_> {
    pub(super) fn owner(&mut self, id: &ast::Ident) -> Option<(OwnerKind, Vec<MapSig>)> {
        match self.symbols.get(&id.name) {
            Some(Symbol::Loader(l)) => Some((OwnerKind::Loader, l.maps.clone())),
            Some(Symbol::Program(p)) => Some((OwnerKind::Program, p.maps.clone())),
            Some(Symbol::Poisoned) => None,
            _ => {
                let suggestion = self.closest_symbol(&id.name, |s| {
                    matches!(s, Symbol::Loader(_) | Symbol::Program(_))
                });
                self.error(
                    CheckError::NotAMapOwner {
                        name: id.name.clone(),
                        suggestion,
                    },
                    id.span,
                );
                None
            }
        }
    }

    pub(super) fn map_config(&mut self, m: &ast::MapConfig) -> Option<MapConfig> {
        let (owner_kind, maps) = self.owner(&m.owner)?;
        let Some(sig) = maps.iter().find(|s| s.is_called(&m.map.name)).cloned() else {
            let known = maps
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(
                CheckError::UnknownMap {
                    owner: m.owner.name.clone(),
                    map: m.map.name.clone(),
                    suggestion: closest(
                        &m.map.name,
                        maps.iter()
                            .flat_map(|s| std::iter::once(&s.name).chain(&s.aliases)),
                    ),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known
                    },
                },
                m.map.span,
            );
            return None;
        };
        let mut entries = Vec::new();
        let mut keys_seen = Vec::new();
        let mut ok = true;
        for e in &m.entries {
            let key = self.map_items(&sig, "key", &e.key, e.key_span);
            let value = self.map_items(&sig, "value", &e.value, e.value_span);
            match (key, value) {
                (Some(key), Some(value)) => {
                    if keys_seen.contains(&key) {
                        self.error(
                            CheckError::DuplicateKey {
                                map: sig.name.clone(),
                            },
                            e.key_span,
                        );
                    }
                    keys_seen.push(key.clone());
                    entries.push(MapEntry { key, value });
                }
                _ => ok = false,
            }
        }
        ok.then(|| MapConfig {
            owner: m.owner.name.clone(),
            owner_kind,
            map: sig.name.clone(),
            entries,
        })
    }

    pub(super) fn map_items(
        &mut self,
        sig: &MapSig,
        what: &'static str,
        items: &[ast::Expr],
        span: Span,
    ) -> Option<Vec<MapValue>> {
        let (fields, layout) = match what {
            "key" => (&sig.key, &sig.key_type),
            _ => (&sig.value, &sig.value_type),
        };
        // A scalar key or value has one field named after its role; a struct, its members.
        let scalar = fields.len() == 1 && fields[0].name == what;
        if fields.len() != items.len() {
            self.error(
                CheckError::MapArity {
                    map: sig.name.clone(),
                    what,
                    layout: Box::new(layout.clone()),
                    expected: fields.len(),
                    found: items.len(),
                    fields: if scalar {
                        String::new()
                    } else {
                        fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                },
                span,
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (f, item) in fields.iter().zip(items) {
            let bad = |m: &mut Self| {
                let found = m.describe_item(item);
                m.error(
                    CheckError::MapField {
                        map: sig.name.clone(),
                        what,
                        layout: Box::new(layout.clone()),
                        field: (!scalar).then(|| f.name.clone()),
                        expected: f.kind.describe(),
                        found,
                    },
                    item.span,
                );
            };
            match (f.kind, &item.kind) {
                (FieldKind::Chain, ExprKind::Name(n)) => match self.symbols.get(n) {
                    Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => {
                        out.push(MapValue::Chain(n.clone()))
                    }
                    Some(Symbol::Poisoned) => ok = false,
                    _ if self.consts.contains_key(n) => {
                        bad(self);
                        ok = false;
                    }
                    _ => {
                        if !self.lenient {
                            let suggestion = self.closest_symbol(n, |s| {
                                matches!(s, Symbol::LocalChain(_) | Symbol::ImportedChain(_))
                            });
                            self.error(
                                CheckError::UnknownChain {
                                    name: n.clone(),
                                    suggestion,
                                },
                                item.span,
                            );
                        }
                        ok = false;
                    }
                },
                (FieldKind::Chain, _) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Ipv4, ExprKind::Str(s)) => match s.parse::<Ipv4Addr>() {
                    Ok(a) => out.push(MapValue::Ipv4(a)),
                    Err(_) => {
                        let e = address_error(sig, what, f, s, AddrKind::Ipv4);
                        self.error(e, item.span);
                        ok = false;
                    }
                },
                (FieldKind::Ipv6, ExprKind::Str(s)) => match s.parse::<Ipv6Addr>() {
                    Ok(a) => out.push(MapValue::Ipv6(a)),
                    Err(_) => {
                        let e = address_error(sig, what, f, s, AddrKind::Ipv6);
                        self.error(e, item.span);
                        ok = false;
                    }
                },
                (FieldKind::Ipv4, _) if !self.is_callable(item) => {
                    // An IPv4 address may also be written as its 32-bit number.
                    match self.const_expr(item) {
                        Some(k) => match self.fit(k, IntType::U32, item.span) {
                            Some(bits) => out.push(MapValue::Ipv4(Ipv4Addr::from(bits as u32))),
                            None => ok = false,
                        },
                        None => ok = false,
                    }
                }
                (FieldKind::Ipv4 | FieldKind::Ipv6, _) => {
                    bad(self);
                    ok = false;
                }
                // A MAC address fits a 64-bit field (as its 48-bit number, first byte highest).
                (FieldKind::Int(t), ExprKind::Str(s))
                    if t.bits() == 64 && parse_mac(s).is_some() =>
                {
                    let mac = parse_mac(s).expect("checked");
                    out.push(MapValue::Int { ty: t, value: mac });
                }
                (FieldKind::Int(_), ExprKind::Str(_)) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Int(_), _) if self.is_callable(item) => {
                    bad(self);
                    ok = false;
                }
                (FieldKind::Int(t), _) => match self.const_expr(item) {
                    Some(k) => match self.fit(k, t, item.span) {
                        Some(bits) => match &f.domain {
                            Some((max, values)) if bits > *max => {
                                self.error(
                                    CheckError::OutOfDomain {
                                        map: sig.name.clone(),
                                        field: f.name.clone(),
                                        value: bits,
                                        max: *max,
                                        values: values.clone(),
                                    },
                                    item.span,
                                );
                                ok = false;
                            }
                            _ => out.push(MapValue::Int { ty: t, value: bits }),
                        },
                        None => ok = false,
                    },
                    None => ok = false,
                },
            }
        }
        ok.then_some(out)
    }

    pub(super) fn is_callable(&self, item: &ast::Expr) -> bool {
        match &item.kind {
            ExprKind::Name(n) => matches!(
                self.symbols.get(n),
                Some(
                    Symbol::LocalChain(_)
                        | Symbol::ImportedChain(_)
                        | Symbol::Program(_)
                        | Symbol::Loader(_)
                )
            ),
            _ => false,
        }
    }

    /// What a map item is, for messages: `a string`, `chain `c``, `a number`.
    pub(super) fn describe_item(&self, item: &ast::Expr) -> String {
        match &item.kind {
            ExprKind::Str(s) => format!("the string '{s}'"),
            ExprKind::Name(n) => match self.symbols.get(n) {
                Some(Symbol::LocalChain(_)) | Some(Symbol::ImportedChain(_)) => {
                    format!("chain `{n}`")
                }
                Some(Symbol::Program(_)) => format!("program `{n}`"),
                Some(Symbol::Loader(_)) => format!("loader `{n}`"),
                _ => "a number".into(),
            },
            _ => "a number".into(),
        }
    }

    /// `LOADER.attach(DEV, HOOK)`: the hook is `xdp`, `tc_ingress` or `tc_egress` (the linker
    /// picks the loader's and the programs' build for it).
    pub(super) fn attach(&mut self, a: &ast::Attach) -> Option<Attachment> {
        let package = match self.symbols.get(&a.loader.name) {
            Some(Symbol::Loader(l)) => l.package.clone(),
            Some(Symbol::Poisoned) => return None,
            _ => {
                let suggestion =
                    self.closest_symbol(&a.loader.name, |s| matches!(s, Symbol::Loader(_)));
                self.error(
                    CheckError::NotALoader {
                        name: a.loader.name.clone(),
                        suggestion,
                    },
                    a.loader.span,
                );
                return None;
            }
        };
        let strings: Vec<&str> = a
            .args
            .iter()
            .filter_map(|e| match &e.kind {
                ExprKind::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if a.args.len() != 2 || strings.len() != 2 {
            self.error(CheckError::AttachArgs, a.span);
            return None;
        }
        let hook = strings[1];
        if !HOOKS.contains(&hook) {
            let suggestion = closest(hook, &HOOKS);
            self.error(
                CheckError::BadHook {
                    hook: hook.into(),
                    suggestion,
                },
                a.args[1].span,
            );
            return None;
        }
        Some(Attachment {
            loader: a.loader.name.clone(),
            package,
            device: strings[0].into(),
            hook: hook.into(),
        })
    }
}

/// The error for `text` in an address field of kind `kind`: another kind of address names
/// both kinds; anything else is not an address.
fn address_error(
    sig: &MapSig,
    what: &str,
    f: &crate::catalog::Field,
    text: &str,
    kind: AddrKind,
) -> CheckError {
    let found = match AddrLiteral::parse(text) {
        Ok(lit) if lit.kind != kind => Some(lit.kind),
        _ => None,
    };
    match found {
        Some(found) => {
            let field = if f.name == what {
                format!("the {what} of map `{}`", sig.name)
            } else {
                format!("field `{}` of the {what} of map `{}`", f.name, sig.name)
            };
            FieldError::kind_mismatch(false, field, kind, text, found, None).into()
        }
        None => CheckError::BadAddress {
            text: text.to_owned(),
            kind: if kind == AddrKind::Ipv4 {
                "IPv4"
            } else {
                "IPv6"
            },
        },
    }
}
