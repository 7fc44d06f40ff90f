//! Calendar arithmetic for the sandbox: WeChat counts days in Beijing time (UTC+8).

/// Seconds east of UTC of WeChat's clock (China Standard Time, no daylight saving).
pub(crate) const UTC_OFFSET: i64 = 8 * 3600;

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// The day number (days since 1970-01-01, Beijing time) of a Unix timestamp.
pub(crate) fn day_of(unix: i64) -> i64 {
    unix.saturating_add(UTC_OFFSET).div_euclid(DAY)
}

/// The Unix timestamp of the first second of a day (Beijing time).
pub(crate) fn start_of_day(day: i64) -> i64 {
    day.saturating_mul(DAY).saturating_sub(UTC_OFFSET)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a `YYYY-MM-DD` calendar date, `None` for anything else.
pub(crate) fn parse_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = digits(0..4)?;
    let month = digits(5..7)?;
    let day = digits(8..10)?;
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    // A day past the end of its month lands in the next month.
    (civil_from_days(days) == (i64::from(year), month, day)).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for days in [
            -719_468, -1, 0, 1, 59, 60, 365, 10_957, 16_601, 20_000, 2_932_896,
        ] {
            assert_eq!(parse_day(&format_day(days)), Some(days), "{days}");
        }
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(parse_day("2015-06-23"), Some(16_609));
        assert_eq!(
            parse_day("2016-02-29").map(format_day).as_deref(),
            Some("2016-02-29")
        );
        for bad in [
            "2015-02-29",
            "2015-13-01",
            "2015-06-31",
            "2015-6-01",
            "20150601",
            "",
            "x",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn beijing_days() {
        // 2015-06-22T16:00:00Z is 2015-06-23 00:00 in Beijing.
        let midnight = 1_434_988_800;
        assert_eq!(format_day(day_of(midnight)), "2015-06-23");
        assert_eq!(format_day(day_of(midnight - 1)), "2015-06-22");
        assert_eq!(start_of_day(day_of(midnight + 5000)), midnight);
    }
}
