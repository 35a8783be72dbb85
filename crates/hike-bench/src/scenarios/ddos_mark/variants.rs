//! What `ddos_mark` runs: the blacklist, the traffic (the ns mix and the pps sources), the
//! VM's slots and chain IDs, and the hand-written chains.

use std::net::Ipv6Addr;

use hike_isa::abi::xdp::PASS;

use crate::measure::{self, Mix, MixPacket};

/// Blacklisted sources.
pub const BLACKLIST_LEN: u32 = 1000;

/// Packets of the ns mix (distinct sources), of which [`MIX_BLACKLISTED`] blacklisted.
const MIX_LEN: u32 = 10;
const MIX_BLACKLISTED: u32 = 1;

/// Sources of the pps traffic, in round robin: every tenth is blacklisted.
pub const PPS_SOURCES: u32 = 100;

/// Mix classes.
pub const CLEAN: usize = 0;
pub const BLACKLISTED: usize = 1;

/// The traffic class of marked packets.
pub const MARK: u8 = 1;

/// Program slots of the VM.
pub const SET_PROG: u32 = 1;
pub const TOS_PROG: u32 = 2;
pub const KROUTE_PROG: u32 = 3;

/// Chain IDs: the hand-written chains, then the compiled ones.
pub const HIKE_MARK: u32 = 1;
pub const HIKE_MARK_FWD: u32 = 2;
pub const ECLAT_MARK: u32 = 3;
pub const ECLAT_MARK_FWD: u32 = 4;

/// The hand-written chains, in HIKe assembly: (chain ID, name, code). A blacklisted source
/// is marked; the chain then returns (the loader's default verdict, XDP_PASS) or, for pps,
/// routes the packet with `ip6_kroute` (terminal).
pub const HAND_CHAINS: [(u32, &str, &str); 2] = [
    (
        HIKE_MARK,
        "ddos_mark",
        "
    call prog ip6_src_in_set        ; 0: blacklisted
    if r0 != 0 goto out
    r1 = 1                          ; traffic class 1
    call prog ip6_set_tos
out:
    exit
",
    ),
    (
        HIKE_MARK_FWD,
        "ddos_mark_fwd",
        "
    call prog ip6_src_in_set        ; 0: blacklisted
    if r0 != 0 goto route
    r1 = 1                          ; traffic class 1
    call prog ip6_set_tos
route:
    call prog ip6_kroute            ; terminal: redirect, drop or pass
    exit
",
    ),
];

/// A blacklisted source: `2001:db8:bad::/64`, host `i + 1`.
pub fn blacklisted(i: u32) -> Ipv6Addr {
    measure::doc_addr(0xbad, i + 1)
}

/// A clean source: `2001:db8:c1ea::/64`, host `i + 1`.
pub fn clean(i: u32) -> Ipv6Addr {
    measure::doc_addr(0xc1ea, i + 1)
}

/// The blacklist as map entries: the address as on the wire -> `{flags: 1}`.
pub fn blacklist_entries() -> impl Iterator<Item = ([u8; 16], [u8; 4])> {
    (0..BLACKLIST_LEN).map(|i| (blacklisted(i).octets(), 1u32.to_ne_bytes()))
}

/// The ns mix: [`MIX_LEN`] packets from distinct sources to the router's destination, the
/// last [`MIX_BLACKLISTED`] of them blacklisted.
pub fn mix() -> Mix {
    let dst: Ipv6Addr = hike_netlab::DST_ADDR.parse().expect("a valid address");
    let packets = (0..MIX_LEN)
        .map(|i| {
            let bad = i >= MIX_LEN - MIX_BLACKLISTED;
            // Blacklisted sources from across the list, not only its first entry.
            let src = if bad {
                blacklisted((i * 337) % BLACKLIST_LEN)
            } else {
                clean(i)
            };
            MixPacket {
                bytes: measure::ipv6_udp(src, dst),
                class: if bad { BLACKLISTED } else { CLEAN },
                verdicts: &[PASS],
            }
        })
        .collect();
    Mix {
        packets,
        classes: vec!["clean", "blacklisted"],
    }
}

/// The pps traffic: [`PPS_SOURCES`] sources with the traffic class each must come out with.
pub fn pps_sources() -> Vec<(Ipv6Addr, u8)> {
    (0..PPS_SOURCES)
        .map(|i| {
            if i % 10 == 9 {
                (blacklisted((i * 97) % BLACKLIST_LEN), MARK)
            } else {
                (clean(i), 0)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use hike_isa::asm::assemble;
    use hike_isa::Symbols;

    use super::*;

    #[test]
    fn the_hand_chains_assemble_with_the_three_programs() {
        let mut symbols = Symbols::new();
        symbols.add_prog(SET_PROG, "ip6_src_in_set");
        symbols.add_prog(TOS_PROG, "ip6_set_tos");
        symbols.add_prog(KROUTE_PROG, "ip6_kroute");
        for (_, name, text) in HAND_CHAINS {
            let code = assemble(text).unwrap().link(&symbols).unwrap();
            assert!(code.len() <= 6, "{name}: {}", code.len());
        }
    }

    #[test]
    fn the_traffic_is_ten_percent_blacklisted() {
        let m = mix();
        assert_eq!(m.share(BLACKLISTED), 0.1);
        let srcs = pps_sources();
        let bad = srcs.iter().filter(|(_, tc)| *tc == MARK).count();
        assert_eq!(bad * 10, srcs.len());
        // Blacklisted sources are in the list, clean ones are not.
        let list: Vec<Ipv6Addr> = (0..BLACKLIST_LEN).map(blacklisted).collect();
        for (a, tc) in srcs {
            assert_eq!(list.contains(&a), tc == MARK, "{a}");
        }
        assert_eq!(
            blacklisted(0),
            "2001:db8:bad::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(clean(9), "2001:db8:c1ea::a".parse::<Ipv6Addr>().unwrap());
    }
}
