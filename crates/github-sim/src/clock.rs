//! The simulator's clock: seconds since the Unix epoch, advanced explicitly by tests.

/// The default start of simulated time: 2026-01-01T00:00:00Z.
pub const DEFAULT_START_EPOCH_SECS: i64 = 1_767_225_600;

/// Formats epoch seconds as GitHub's ISO 8601 UTC timestamp (`2026-01-01T00:00:00Z`).
pub fn iso8601(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs_of_day = epoch_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Formats epoch seconds as an HTTP `Date` (IMF-fixdate, RFC 9110: `Thu, 01 Jan 2026 00:00:00 GMT`), which GitHub
/// sends on every answer: clients read GitHub's time from it, so it must be the simulated clock's.
pub fn http_date(epoch_secs: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = epoch_secs.div_euclid(86_400);
    let secs_of_day = epoch_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // The epoch (day 0) was a Thursday.
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} GMT",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` into epoch seconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let date = text.get(0..10)?;
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let mut secs = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = text.get(11..19) {
        let mut t = time.split(':');
        let h: i64 = t.next()?.parse().ok()?;
        let m: i64 = t.next()?.parse().ok()?;
        let s: i64 = t.next()?.parse().ok()?;
        secs += h * 3600 + m * 60 + s;
    }
    Some(secs)
}

// Howard Hinnant's civil-calendar algorithms.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_default_start() {
        assert_eq!(iso8601(DEFAULT_START_EPOCH_SECS), "2026-01-01T00:00:00Z");
        assert_eq!(iso8601(DEFAULT_START_EPOCH_SECS + 86_400 * 59 + 3723), "2026-03-01T01:02:03Z");
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(http_date(DEFAULT_START_EPOCH_SECS), "Thu, 01 Jan 2026 00:00:00 GMT");
        assert_eq!(http_date(DEFAULT_START_EPOCH_SECS + 86_400 * 59 + 3_661), "Sun, 01 Mar 2026 01:01:01 GMT");
    }

    #[test]
    fn parse_round_trips_format() {
        let t = DEFAULT_START_EPOCH_SECS + 12_345_678;
        assert_eq!(parse_date(&iso8601(t)), Some(t));
        assert_eq!(parse_date("2026-01-01"), Some(DEFAULT_START_EPOCH_SECS));
        assert_eq!(parse_date("nonsense"), None);
    }
}
