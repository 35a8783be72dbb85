//! Event times for people: the VM stamps events with `bpf_ktime_get_ns()`, which is
//! `CLOCK_MONOTONIC` (time since boot, not a date), or with a capture's own timestamps when
//! `eclat run` replays it (already Unix time). This converts the first to wall-clock time with
//! the offset between the two clocks now, and writes either as RFC 3339 UTC.
//!
//! Not a calendar library: UTC only, no leap seconds (as Unix time has none).

use std::time::{SystemTime, UNIX_EPOCH};

/// `CLOCK_MONOTONIC` now, in ns (the clock of `bpf_ktime_get_ns()`).
fn monotonic_now_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, which lives for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The Unix time (ns) of `monotonic_ns`, a `CLOCK_MONOTONIC` reading of this machine.
pub fn monotonic_to_unix_ns(monotonic_ns: u64) -> u64 {
    let Some(mono_now) = monotonic_now_ns() else {
        return monotonic_ns;
    };
    let wall_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    wall_now.saturating_sub(mono_now.saturating_sub(monotonic_ns))
}

/// `2024-01-01T00:00:00.000010000Z`: Unix time `unix_ns` in UTC, to the nanosecond.
pub fn rfc3339(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let nanos = unix_ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_704_067_200_000_010_000),
            "2024-01-01T00:00:00.000010000Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000 + 86_399_999_999_999),
            "2000-02-29T23:59:59.999999999Z"
        );
    }

    #[test]
    fn a_monotonic_reading_of_now_is_about_now() {
        let mono = monotonic_now_ns().expect("CLOCK_MONOTONIC");
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let converted = monotonic_to_unix_ns(mono);
        assert!(
            converted.abs_diff(wall) < 1_000_000_000,
            "{converted} vs {wall}"
        );
    }
}
