//! The checks of `ddos_listing2`: before measuring, both sides make the same decisions as the
//! chain's contract on the flood of the stdlib test; after, each side's monitor counted
//! exactly the packets it ran. And the state each starts from.

use anyhow::{bail, ensure, Result};
use hike_isa::abi::xdp::{DROP, PASS, REDIRECT};
use hike_testkit::listing2::{EVENT_DROP, EVENT_PASS, EVENT_REDIRECT, SAMPLE_EVERY};
use hike_testkit::packet::ip6_sd_key;

use super::sides::{L2Map, Side};
use super::variants::{attacker, dst, FAST_BUCKET, FAST_RATE, LONG_TIMEOUT_NS};
use crate::measure;

fn u64s(fields: &[u64]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_ne_bytes()).collect()
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of `bpf_ktime_get_ns()`.
fn monotonic_ns() -> Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        bail!("clock_gettime: {}", std::io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Resets a side: empty state maps, buckets of `(rate, bucket)` for both meters, blacklist
/// timeout `timeout_ns` (0: the default).
pub fn reset(side: &dyn Side, rate: u64, bucket: u64, timeout_ns: u64) -> Result<()> {
    for m in L2Map::STATE {
        side.clear(m)?;
    }
    let zero = 0u32.to_ne_bytes();
    side.write(L2Map::DstTbCfg, &zero, &u64s(&[rate, bucket]))?;
    side.write(L2Map::SdTbCfg, &zero, &u64s(&[rate, bucket]))?;
    side.write(L2Map::HsetCfg, &zero, &u64s(&[timeout_ns]))?;
    Ok(())
}

/// The verdicts of `packets` run one by one.
fn verdicts(side: &dyn Side, packet: &[u8], n: usize) -> Result<Vec<u32>> {
    (0..n).map(|_| Ok(side.run(packet, 1)?.verdict)).collect()
}

/// The flood of the stdlib test, from a clean state with buckets of 2 tokens at 1 token/s:
/// both sides must make the expected decisions, packet by packet.
pub fn check_decisions(sides: &[&dyn Side]) -> Result<()> {
    let flood = measure::ipv6_udp(attacker(), dst());
    let other = measure::ipv6_udp(measure::doc_addr(0xc1ea, 1), dst());
    let mut expected = vec![PASS, PASS, PASS, PASS, DROP];
    for i in 1..=2 * SAMPLE_EVERY as usize {
        expected.push(if i % SAMPLE_EVERY as usize == 0 {
            REDIRECT
        } else {
            DROP
        });
    }
    for side in sides {
        reset(*side, 1, 2, 0)?;
        let got = verdicts(*side, &flood, expected.len())?;
        if got != expected {
            let at = got.iter().zip(&expected).position(|(a, b)| a != b);
            bail!(
                "{}: Listing 2 decides differently from the chain's contract at flood packet \
                 {at:?}: {:?}…",
                side.name(),
                &got[..got.len().min(12)]
            );
        }
        let counts = (
            side.monitor(EVENT_PASS)?,
            side.monitor(EVENT_DROP)?,
            side.monitor(EVENT_REDIRECT)?,
        );
        ensure!(
            counts == (4, 1 + 2 * (SAMPLE_EVERY - 1), 2),
            "{}: monitor counted {counts:?}",
            side.name()
        );
        ensure!(
            side.keys(L2Map::Hset)? == [ip6_sd_key(attacker(), dst())],
            "{}: the blacklist should hold the flooding pair only",
            side.name()
        );
        // Another source to the same destination: its own pair's bucket has tokens.
        ensure!(
            side.run(&other, 1)?.verdict == PASS,
            "{}: a new pair is not passed",
            side.name()
        );
    }
    Ok(())
}

/// Prepares a side for the measurement: large buckets, the attacker's pair blacklisted.
pub fn prepare(side: &dyn Side) -> Result<()> {
    reset(side, FAST_RATE, FAST_BUCKET, LONG_TIMEOUT_NS)?;
    side.write(
        L2Map::Hset,
        &ip6_sd_key(attacker(), dst()),
        &monotonic_ns()?.to_ne_bytes(),
    )
}

/// Checks that a side's monitor counted exactly the packets it ran.
pub fn check_counts(side: &dyn Side, in_profile: u64, blacklisted: u64) -> Result<()> {
    let got = (
        side.monitor(EVENT_PASS)?,
        side.monitor(EVENT_DROP)?,
        side.monitor(EVENT_REDIRECT)?,
    );
    let redirected = blacklisted / SAMPLE_EVERY;
    let want = (in_profile, blacklisted - redirected, redirected);
    ensure!(
        got == want,
        "{}: after the measurement the monitor counted (pass, drop, redirect) {got:?}, but it \
         ran {in_profile} in-profile and {blacklisted} blacklisted packets: expected {want:?}",
        side.name()
    );
    Ok(())
}
