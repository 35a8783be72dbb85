//! What `ddos_listing2` runs: the chain's ID, the addresses, the mix of packets and the
//! buckets of the measurement.

use std::net::Ipv6Addr;

use hike_isa::abi::xdp::{DROP, PASS, REDIRECT};

use crate::measure::{self, doc_addr, Mix, MixPacket};

/// The chain's ID in the VM.
pub const CHAIN_ID: u32 = 42;

/// Mix classes.
pub const IN_PROFILE: usize = 0;
pub const BLACKLISTED: usize = 1;

/// Packets of the mix, of which the last is blacklisted.
const MIX_LEN: u32 = 10;

/// Large buckets for the measurement (tokens per second, tokens): a packet every few tens of
/// nanoseconds refills far more than it takes, so in-profile traffic stays in profile.
pub const FAST_RATE: u64 = 1_000_000_000;
pub const FAST_BUCKET: u64 = 1_000_000;
/// How long a blacklist entry lasts during the measurement.
pub const LONG_TIMEOUT_NS: u64 = 3600 * 1_000_000_000;

/// The destination of every packet.
pub fn dst() -> Ipv6Addr {
    doc_addr(0xd57, 1)
}

/// The pair the control plane blacklists.
pub fn attacker() -> Ipv6Addr {
    doc_addr(0xbad, 1)
}

/// The mix: [`MIX_LEN`] packets, in-profile pairs but the last, the attacker's.
pub fn mix() -> Mix {
    let packets = (0..MIX_LEN)
        .map(|i| {
            if i == MIX_LEN - 1 {
                MixPacket {
                    bytes: measure::ipv6_udp(attacker(), dst()),
                    class: BLACKLISTED,
                    verdicts: &[DROP, REDIRECT],
                }
            } else {
                MixPacket {
                    bytes: measure::ipv6_udp(doc_addr(0xc1ea, i + 1), dst()),
                    class: IN_PROFILE,
                    verdicts: &[PASS],
                }
            }
        })
        .collect();
    Mix {
        packets,
        classes: vec!["in-profile", "blacklisted"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_ten_percent_blacklisted() {
        let m = mix();
        assert_eq!(m.share(BLACKLISTED), 0.1);
        assert_eq!(
            m.packets[9].bytes[22..38],
            attacker().octets(),
            "the blacklisted packet comes from the attacker"
        );
    }
}
