//! Cron schedules for BuildPlans: the five-field expressions of Vixie cron (minute, hour, day of month, month,
//! day of week), with lists, ranges, steps, month and day names, and `@hourly` … `@yearly`, always in UTC.

use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, ToSpan};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    // When both day fields are restricted, a day matches if either does (Vixie cron).
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

/// Why an expression is not a schedule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not five fields (or a known `@` alias).
    #[error("expected five fields (minute hour day-of-month month day-of-week) or @hourly/@daily/@weekly/@monthly/@yearly, got {0}")]
    FieldCount(usize),
    /// One field is wrong.
    #[error("{field} field {text:?}: {reason}")]
    Field { field: &'static str, text: String, reason: String },
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: FieldSpec = FieldSpec { name: "hour", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldSpec = FieldSpec { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
// 7 is Sunday too, as in Vixie cron.
const DAY_OF_WEEK: FieldSpec =
    FieldSpec { name: "day-of-week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

impl std::str::FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(expression: &str) -> Result<Self, CronError> {
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(CronError::FieldCount(fields.len()));
        };
        let mut days_of_week = parse_field(day_of_week, &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(CronSchedule {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)? as u32,
            days_of_month: parse_field(day_of_month, &DAY_OF_MONTH)? as u32,
            months: parse_field(month, &MONTH)? as u16,
            days_of_week: days_of_week as u8,
            day_of_month_restricted: !day_of_month.starts_with('*'),
            day_of_week_restricted: !day_of_week.starts_with('*'),
        })
    }
}

/// The field as a bit set of allowed values.
fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let error = |reason: String| CronError::Field { field: spec.name, text: text.to_owned(), reason };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| error(format!("step {step:?} is not a number")))?;
                if step == 0 {
                    return Err(error("step 0".into()));
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (value(low, spec).map_err(&error)?, value(high, spec).map_err(&error)?)
        } else {
            let low = value(range, spec).map_err(&error)?;
            // `5/15` means from 5 to the end in steps of 15.
            (low, if part.contains('/') { spec.max } else { low })
        };
        if low > high {
            return Err(error(format!("range {low}-{high} runs backwards")));
        }
        for v in (low..=high).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let number = match spec.names.iter().position(|n| *n == lower) {
        Some(index) => index as u32 + if spec.min == 1 { 1 } else { 0 },
        None => text.parse().map_err(|_| format!("{text:?} is not a number or a name"))?,
    };
    if number < spec.min || number > spec.max {
        return Err(format!("{number} is outside {}-{}", spec.min, spec.max));
    }
    Ok(number)
}

impl CronSchedule {
    /// The first time strictly after `after` (to the minute) at which the schedule fires, if any within eight years
    /// (a schedule such as `0 0 30 2 *` never fires).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(TimeZone::UTC).datetime();
        let start = start.checked_add(1.minute()).ok()?;
        let mut date = start.date();
        let mut from_minute_of_day = u32::from(start.hour() as u8) * 60 + u32::from(start.minute() as u8);
        for _ in 0..(366 * 8) {
            if self.day_matches(date) {
                if let Some(minute_of_day) = self.first_minute_from(from_minute_of_day) {
                    let time = DateTime::new(
                        date.year(),
                        date.month(),
                        date.day(),
                        (minute_of_day / 60) as i8,
                        (minute_of_day % 60) as i8,
                        0,
                        0,
                    )
                    .ok()?;
                    return time.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
                }
            }
            date = date.tomorrow().ok()?;
            from_minute_of_day = 0;
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let by_month_day = self.days_of_month & (1 << date.day()) != 0;
        let by_week_day = self.days_of_week & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month_day || by_week_day,
            (true, false) => by_month_day,
            (false, true) => by_week_day,
            (false, false) => true,
        }
    }

    fn first_minute_from(&self, from: u32) -> Option<u32> {
        (from..24 * 60).find(|m| self.hours & (1 << (m / 60)) != 0 && self.minutes & (1 << (m % 60)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(expression: &str, after: &str) -> String {
        let schedule: CronSchedule = expression.parse().unwrap();
        schedule.next_after(at(after)).map(|t| t.to_string()).unwrap_or_else(|| "never".into())
    }

    #[test]
    fn next_fire_times() {
        for (expression, after, expected) in [
            ("0 2 * * *", "2026-11-25T01:59:00Z", "2026-11-25T02:00:00Z"),
            ("0 2 * * *", "2026-11-25T02:00:00Z", "2026-11-26T02:00:00Z"),
            ("*/15 * * * *", "2026-11-25T10:07:30Z", "2026-11-25T10:15:00Z"),
            ("0 */6 * * *", "2026-11-25T07:00:00Z", "2026-11-25T12:00:00Z"),
            ("30 9 * * mon-fri", "2026-11-28T00:00:00Z", "2026-11-30T09:30:00Z"),
            ("0 0 1 jan *", "2026-11-25T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            ("0 12 13 * 5", "2026-11-25T00:00:00Z", "2026-11-27T12:00:00Z"),
            ("0 0 * * 7", "2026-11-25T00:00:00Z", "2026-11-29T00:00:00Z"),
            ("@weekly", "2026-11-25T00:00:00Z", "2026-11-29T00:00:00Z"),
            ("@hourly", "2026-12-31T23:30:00Z", "2027-01-01T00:00:00Z"),
            ("5/20 1,3 * * *", "2026-11-25T01:30:00Z", "2026-11-25T01:45:00Z"),
            ("0 0 30 2 *", "2026-01-01T00:00:00Z", "never"),
        ] {
            assert_eq!(next(expression, after), expected, "{expression} after {after}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        for (expression, expected) in [
            ("every night", "expected five fields"),
            ("61 * * * *", "minute field \"61\": 61 is outside 0-59"),
            ("0 24 * * *", "hour field"),
            ("0 0 0 * *", "day-of-month field"),
            ("0 0 * foo *", "month field \"foo\""),
            ("0 0 * * 8", "day-of-week field"),
            ("*/0 * * * *", "step 0"),
            ("5-1 * * * *", "runs backwards"),
        ] {
            let error = expression.parse::<CronSchedule>().unwrap_err().to_string();
            assert!(error.contains(expected), "{expression}: {error}");
        }
    }
}
