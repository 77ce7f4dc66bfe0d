//! Unix seconds, and the server's local time for the texts and the
//! heartbeat's time of day. std has no time zones and `localtime_r` needs
//! `unsafe` (forbidden here), so the offset comes from SQLite (bundled,
//! always in the server build), which calls the C library's own
//! `localtime_r` with the system's zone rules: daylight saving included.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Seconds the local time is ahead of UTC at `at` (0 when it cannot be
/// told: then the texts are in UTC).
pub fn local_offset(at: i64) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_in_memory() else {
        return 0;
    };
    conn.query_row(
        "SELECT CAST(strftime('%s', ?1, 'unixepoch', 'localtime') AS INTEGER) - ?1",
        [at],
        |r| r.get::<_, i64>(0),
    )
    .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM` of Unix seconds shifted by `offset`.
pub fn format(at: i64, offset: i64) -> String {
    let t = at + offset;
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// The local `YYYY-MM-DD HH:MM` of `at`.
pub fn local(at: i64) -> String {
    format(at, local_offset(at))
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's
/// `civil_from_days`.
pub(crate) fn civil(z: i64) -> (i64, u32, u32) {
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

/// A duration in the largest unit that writes it whole: `24h`, `90m`, `5s`.
pub fn human(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format(0, 0), "1970-01-01 00:00");
        // 2026-12-01 02:00 UTC
        assert_eq!(format(1_796_090_400, 0), "2026-12-01 02:00");
        assert_eq!(format(1_796_090_400, 3600), "2026-12-01 03:00");
        assert_eq!(format(1_796_090_400, -3 * 3600), "2026-11-30 23:00");
        // a leap day
        assert_eq!(format(951_782_400, 0), "2000-02-29 00:00");
        assert_eq!(human(86_400), "1d");
        assert_eq!(human(24 * 3600 + 3600), "25h");
        assert_eq!(human(90 * 60), "90m");
        assert_eq!(human(2), "2s");
    }

    #[test]
    fn the_offset_is_whole_minutes() {
        let o = local_offset(now());
        assert_eq!(o % 60, 0);
        assert!(o.abs() <= 14 * 3600);
    }
}
