//! Durations written the way Kubernetes users write them (`90s`, `15m`, `6h`, `1h30m`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A duration as a sequence of whole numbers with units `ms`, `s`, `m` or `h`, for example `6h` or `1h30m`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(transparent)]
pub struct HumanDuration(#[schemars(length(min = 2, max = 32), regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))] pub String);

impl HumanDuration {
    /// The duration, or `None` when the text does not follow the pattern (the API server rejects such objects, so
    /// this only happens for objects built in code).
    pub fn to_std(&self) -> Option<Duration> {
        parse(&self.0)
    }
}

impl From<&str> for HumanDuration {
    fn from(text: &str) -> Self {
        HumanDuration(text.to_owned())
    }
}

fn parse(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return None;
        };
        total = total.checked_add(unit.checked_mul(u32::try_from(value).ok()?)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse("6h"), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("1m500ms"), Some(Duration::from_millis(60_500)));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "h", "6", "6d", "1.5h", "-1h", "6hh", "99999999999h"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
