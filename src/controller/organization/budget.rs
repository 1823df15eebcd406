//! What the Organization's status says of its credential's budgets: a block per budget, and the `BudgetConstrained`
//! condition when background work is slowed down to keep within its share. Decided from the transport's outlook;
//! no I/O.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::organization::{BudgetStatus, OrganizationStatus};
use crate::github::spending::{resource_name, stretch_of, BudgetOutlook};
use crate::plan::readiness::set_condition;

/// The condition that is `True` while resyncs and health reads run less often than configured, to keep within the
/// budget's share.
pub const BUDGET_CONSTRAINED: &str = "BudgetConstrained";

/// Brings the status's budgets and the `BudgetConstrained` condition up to `outlooks`. The budgets are rewritten
/// when `refresh` (a pass spent some) or when the stretch changed; the condition only when the stretch changed, so
/// that it, and its Event, do not follow every point spent. `interval` is the configured resync interval.
pub fn record(
    next: &mut OrganizationStatus,
    outlooks: &[BudgetOutlook],
    interval: Duration,
    refresh: bool,
    generation: Option<i64>,
    now: &Time,
) {
    let stretch = stretch_of(outlooks);
    let recorded = next.budgets.iter().map(|b| u32::try_from(b.stretch).unwrap_or(1)).max().unwrap_or(1);
    let changed = stretch != recorded || find_condition(&next.conditions, BUDGET_CONSTRAINED).is_none();
    if outlooks.is_empty() || !(refresh || changed) {
        return;
    }
    next.budgets = outlooks.iter().map(status_of).collect();
    if changed {
        set_condition(&mut next.conditions, condition(outlooks, interval, generation, now));
    }
}

fn status_of(outlook: &BudgetOutlook) -> BudgetStatus {
    let points = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    BudgetStatus {
        resource: resource_name(outlook.resource).to_owned(),
        limit: points(outlook.budget.limit),
        remaining: points(outlook.budget.remaining),
        reset_at: Some(Time(outlook.budget.reset)),
        used_last_hour_by_purpose: outlook
            .used_last_hour
            .iter()
            .map(|(purpose, used)| (purpose.as_str().to_owned(), points(*used)))
            .collect(),
        projected_per_hour: points(outlook.projected_per_hour),
        share_percent: i32::from(outlook.share_percent),
        stretch: i32::try_from(outlook.stretch).unwrap_or(i32::MAX),
    }
}

/// `True` naming the most constrained budget while any stretches background intervals, else `False`.
fn condition(outlooks: &[BudgetOutlook], interval: Duration, generation: Option<i64>, now: &Time) -> Condition {
    let tightest = outlooks.iter().filter(|o| o.stretch > 1).max_by_key(|o| (o.stretch, o.projected_per_hour));
    let (status, reason, message) = match tightest {
        Some(outlook) => {
            let message = format!(
                "Resync every {} instead of {}, health reads {}× less often: background work projected at {} \
                 points/hour exceeds {} % of {} ({} budget; {} points used in the last hour by priority work)",
                spoken(interval.saturating_mul(outlook.stretch)),
                spoken(interval),
                outlook.stretch,
                grouped(outlook.projected_per_hour),
                outlook.share_percent,
                grouped(outlook.budget.limit),
                resource_name(outlook.resource),
                grouped(priority_used(outlook)),
            );
            (ConditionStatus::True, "ProjectedOverShare", message)
        }
        None => {
            let share = outlooks.first().map_or(0, |o| o.share_percent);
            let message = format!("Background work keeps within {share} % of each budget at its configured intervals");
            (ConditionStatus::False, "WithinShare", message)
        }
    };
    Condition::new(BUDGET_CONSTRAINED, status, reason, &message, generation, now.clone())
}

fn priority_used(outlook: &BudgetOutlook) -> u64 {
    outlook.used_last_hour.iter().filter(|(purpose, _)| !purpose.is_background()).map(|(_, used)| used).sum()
}

/// A duration as people write it: `90s`, `40m`, `6h`, `1h30m`.
fn spoken(duration: Duration) -> String {
    let secs = duration.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        _ => format!("{secs}s"),
    }
}

/// A number with thousands separated: `3,100`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::github::rate_limit::{RateBudget, RateResource};
    use crate::github::spending::Purpose;

    fn outlook(stretch: u32, projected: u64) -> BudgetOutlook {
        let used: BTreeMap<Purpose, u64> = Purpose::ALL.into_iter().map(|p| (p, 10)).collect();
        BudgetOutlook {
            resource: RateResource::Core,
            budget: RateBudget { limit: 5000, remaining: 4000, reset: Timestamp::UNIX_EPOCH },
            used_last_hour: used,
            projected_per_hour: projected,
            share_percent: 50,
            stretch,
        }
    }

    fn now() -> Time {
        Time(Timestamp::from_second(1_700_000_000).unwrap())
    }

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    #[test]
    fn a_stretch_says_by_how_much_and_why() {
        let mut status = OrganizationStatus::default();
        record(&mut status, &[outlook(4, 3100)], TEN_MINUTES, true, Some(1), &now());
        let condition = find_condition(&status.conditions, BUDGET_CONSTRAINED).unwrap();
        assert_eq!((condition.status, condition.reason.as_str()), (ConditionStatus::True, "ProjectedOverShare"));
        assert!(
            condition.message.starts_with(
                "Resync every 40m instead of 10m, health reads 4× less often: background work projected at 3,100 \
                 points/hour exceeds 50 % of 5,000 (core budget; 30 points used in the last hour by priority work)"
            ),
            "{}",
            condition.message
        );
        let budget = &status.budgets[0];
        assert_eq!((budget.resource.as_str(), budget.limit, budget.remaining), ("core", 5000, 4000));
        assert_eq!((budget.projected_per_hour, budget.share_percent, budget.stretch), (3100, 50, 4));
        let mut purposes: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        purposes.sort();
        assert_eq!(budget.used_last_hour_by_purpose.keys().map(String::as_str).collect::<Vec<_>>(), purposes);
    }

    #[test]
    fn the_condition_follows_the_stretch_not_every_point() {
        let mut status = OrganizationStatus::default();
        record(&mut status, &[outlook(1, 100)], TEN_MINUTES, true, Some(1), &now());
        let within = find_condition(&status.conditions, BUDGET_CONSTRAINED).unwrap().clone();
        assert_eq!((within.status, within.reason.as_str()), (ConditionStatus::False, "WithinShare"));
        // More points at the same stretch: the budgets follow on a pass, the condition stays as it was.
        record(&mut status, &[outlook(1, 900)], TEN_MINUTES, true, Some(1), &now());
        assert_eq!(status.budgets[0].projected_per_hour, 900);
        assert_eq!(find_condition(&status.conditions, BUDGET_CONSTRAINED), Some(&within));
        // Between passes, nothing changes unless the stretch does.
        record(&mut status, &[outlook(1, 950)], TEN_MINUTES, false, Some(1), &now());
        assert_eq!(status.budgets[0].projected_per_hour, 900);
        record(&mut status, &[outlook(2, 5001)], TEN_MINUTES, false, Some(1), &now());
        assert_eq!(status.budgets[0].stretch, 2);
        let constrained = find_condition(&status.conditions, BUDGET_CONSTRAINED).unwrap();
        assert_eq!(constrained.status, ConditionStatus::True);
        assert!(constrained.message.starts_with("Resync every 20m instead of 10m"), "{}", constrained.message);
    }

    #[test]
    fn nothing_is_said_before_any_answer() {
        let mut status = OrganizationStatus::default();
        record(&mut status, &[], TEN_MINUTES, true, Some(1), &now());
        assert_eq!(status, OrganizationStatus::default());
    }

    #[test]
    fn durations_and_numbers_read_as_people_write_them() {
        assert_eq!(spoken(Duration::from_secs(90)), "90s");
        assert_eq!(spoken(Duration::from_secs(2400)), "40m");
        assert_eq!(spoken(Duration::from_secs(6 * 3600)), "6h");
        assert_eq!(spoken(Duration::from_secs(5400)), "1h30m");
        assert_eq!(spoken(Duration::from_secs(3601)), "3601s");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(3100), "3,100");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
