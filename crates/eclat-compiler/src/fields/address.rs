//! Address literals: the strings compared with address fields (`packet.ip4.src ==
//! '192.0.2.1'`, `packet.ip6.dst in '2001:db8::/32'`, `packet.eth.src == '02:00:00:00:00:01'`)
//! and written into map fields.
//!
//! [`AddrLiteral::parse`] tells an IPv4 address or prefix, an IPv6 address or prefix and a MAC
//! address apart and checks the prefix (length in range, no bits set after it). It knows
//! nothing of fields or spans: the checker says which kind a field wants.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The kind of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrKind {
    /// 32 bits.
    Ipv4,
    /// 128 bits.
    Ipv6,
    /// 48 bits (`aa:bb:cc:dd:ee:ff` or with `-`).
    Mac,
}

impl AddrKind {
    /// Its width in bits.
    pub fn bits(self) -> u32 {
        match self {
            AddrKind::Ipv4 => 32,
            AddrKind::Ipv6 => 128,
            AddrKind::Mac => 48,
        }
    }

    /// An example literal, for messages.
    pub fn example(self) -> &'static str {
        match self {
            AddrKind::Ipv4 => "'192.0.2.1' or a prefix '192.0.2.0/24'",
            AddrKind::Ipv6 => "'2001:db8::1' or a prefix '2001:db8::/32'",
            AddrKind::Mac => "'02:00:00:00:00:01'",
        }
    }
}

impl AddrKind {
    /// An example address (no prefix), for messages.
    pub fn example_address(self) -> &'static str {
        match self {
            AddrKind::Ipv4 => "an IPv4 address in quotes: '192.0.2.1'",
            AddrKind::Ipv6 => "an IPv6 address in quotes: '2001:db8::1'",
            AddrKind::Mac => "a MAC address in quotes: '02:00:00:00:00:01'",
        }
    }
}

impl fmt::Display for AddrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrKind::Ipv4 => "IPv4",
            AddrKind::Ipv6 => "IPv6",
            AddrKind::Mac => "MAC",
        })
    }
}

/// A parsed address literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrLiteral {
    /// What it is.
    pub kind: AddrKind,
    /// The address as a number (the first byte on the wire is the most significant).
    pub bits: u128,
    /// The prefix length, if written (`/24`).
    pub prefix: Option<u32>,
}

/// Why a string is not a valid address literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiteralError {
    /// Not an address of any kind. `kind` is the one it looks like, if any.
    NotAnAddress {
        /// The kind it seems to try to be.
        looks_like: Option<AddrKind>,
    },
    /// A prefix length above the address's width, or not a number.
    PrefixLength {
        /// The kind.
        kind: AddrKind,
        /// What was written after `/`.
        len: String,
    },
    /// Bits set after the prefix: the network address is given.
    HostBits {
        /// The literal with its host bits cleared.
        network: String,
    },
    /// A MAC address with a `/`.
    MacPrefix,
}

impl AddrLiteral {
    /// Parses `text`: an IPv4 or IPv6 address with an optional `/LEN`, or a MAC address.
    pub fn parse(text: &str) -> Result<AddrLiteral, LiteralError> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let (kind, bits) = if let Ok(a) = addr.parse::<Ipv4Addr>() {
            (AddrKind::Ipv4, u128::from(u32::from(a)))
        } else if let Ok(a) = addr.parse::<Ipv6Addr>() {
            (AddrKind::Ipv6, u128::from(a))
        } else if let Some(m) = parse_mac(addr) {
            if len.is_some() {
                return Err(LiteralError::MacPrefix);
            }
            (AddrKind::Mac, u128::from(m))
        } else {
            return Err(LiteralError::NotAnAddress {
                looks_like: looks_like(addr),
            });
        };
        let prefix = match len {
            None => None,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if n <= kind.bits() && !l.starts_with('+') => Some(n),
                _ => {
                    return Err(LiteralError::PrefixLength {
                        kind,
                        len: l.to_owned(),
                    })
                }
            },
        };
        let lit = AddrLiteral { kind, bits, prefix };
        if let Some(p) = prefix {
            let network = bits & lit.mask();
            if network != bits {
                return Err(LiteralError::HostBits {
                    network: format!("{}/{p}", format_addr(kind, network)),
                });
            }
        }
        Ok(lit)
    }

    /// The mask of the bits compared: the prefix, or all of them.
    pub fn mask(&self) -> u128 {
        let width = self.kind.bits();
        let len = self.prefix.unwrap_or(width);
        let all = u128::MAX >> (128 - width);
        if len == 0 {
            0
        } else {
            (all >> (width - len)) << (width - len)
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` (or `-` between bytes): six bytes of one or two hex digits.
pub fn parse_mac(text: &str) -> Option<u64> {
    let sep = if text.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = text.split(sep).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut v = 0u64;
    for p in parts {
        if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        v = v << 8 | u64::from_str_radix(p, 16).ok()?;
    }
    Some(v)
}

/// The kind a malformed literal seems to try to be, to name it in the message.
fn looks_like(text: &str) -> Option<AddrKind> {
    let hex_or = |extra: char| text.chars().all(|c| c.is_ascii_hexdigit() || c == extra);
    if !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.contains('.')
    {
        Some(AddrKind::Ipv4)
    } else if text.contains(':') && (text.contains("::") || text.split(':').any(|p| p.len() > 2)) {
        Some(AddrKind::Ipv6)
    } else if text.contains(':') && hex_or(':') || text.contains('-') && hex_or('-') {
        // Bytes of at most two hex digits: a MAC address, even with a byte missing.
        Some(AddrKind::Mac)
    } else if text.contains(':') {
        Some(AddrKind::Ipv6)
    } else {
        None
    }
}

/// `bits` written as an address of `kind`.
pub fn format_addr(kind: AddrKind, bits: u128) -> String {
    match kind {
        AddrKind::Ipv4 => Ipv4Addr::from(bits as u32).to_string(),
        AddrKind::Ipv6 => Ipv6Addr::from(bits).to_string(),
        AddrKind::Mac => (0..6)
            .rev()
            .map(|i| format!("{:02x}", (bits >> (8 * i)) as u8))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> AddrLiteral {
        AddrLiteral::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn parses_each_kind_with_prefixes() {
        let a = ok("192.0.2.1");
        assert_eq!(
            (a.kind, a.bits, a.prefix),
            (AddrKind::Ipv4, 0xc000_0201, None)
        );
        assert_eq!(ok("198.51.100.0/24").mask(), 0xffff_ff00);
        assert_eq!(ok("0.0.0.0/0").mask(), 0);
        assert_eq!(ok("10.0.0.1/32").mask(), 0xffff_ffff);
        let b = ok("2001:db8::/32");
        assert_eq!(b.kind, AddrKind::Ipv6);
        assert_eq!(b.mask(), 0xffff_ffff << 96);
        assert_eq!(ok("::/0").mask(), 0);
        assert_eq!(ok("2001:db8::1/128").mask(), u128::MAX);
        let m = ok("02:00:00:00:00:01");
        assert_eq!((m.kind, m.bits), (AddrKind::Mac, 0x0200_0000_0001));
        assert_eq!(ok("aa-bb-cc-dd-ee-ff").bits, 0xaabb_ccdd_eeff);
    }

    #[test]
    fn rejects_bad_literals_with_the_reason() {
        assert_eq!(
            AddrLiteral::parse("192.0.2.300"),
            Err(LiteralError::NotAnAddress {
                looks_like: Some(AddrKind::Ipv4)
            })
        );
        assert_eq!(
            AddrLiteral::parse("2001:db8::g"),
            Err(LiteralError::NotAnAddress {
                looks_like: Some(AddrKind::Ipv6)
            })
        );
        assert_eq!(
            AddrLiteral::parse("10.0.0.0/33"),
            Err(LiteralError::PrefixLength {
                kind: AddrKind::Ipv4,
                len: "33".into()
            })
        );
        assert_eq!(
            AddrLiteral::parse("198.51.100.1/24"),
            Err(LiteralError::HostBits {
                network: "198.51.100.0/24".into()
            })
        );
        assert_eq!(
            AddrLiteral::parse("02:00:00:00:00:01/8"),
            Err(LiteralError::MacPrefix)
        );
        assert_eq!(
            AddrLiteral::parse("eth0"),
            Err(LiteralError::NotAnAddress { looks_like: None })
        );
    }
}
