//! What the Organization's status says of the GitHub App installation's permissions: the `PermissionsMissing`
//! condition naming each permission the operator's features need that the installation was not granted, and the
//! features it turns off. Decided from the token answer's permissions; no I/O. The GitHub client refuses the
//! operations those features would call without a request, so a missing permission costs no 403s.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::organization::OrganizationStatus;
use crate::github::permissions::{Feature, Granted};
use crate::plan::readiness::set_condition;

/// The condition that is `True` while the App installation lacks a permission some feature needs.
pub const PERMISSIONS_MISSING: &str = "PermissionsMissing";

/// Brings the `PermissionsMissing` condition up to `granted`; a credential that is not an App (`None`) has no such
/// condition.
pub fn record(next: &mut OrganizationStatus, granted: Option<&Granted>, generation: Option<i64>, now: &Time) {
    let Some(granted) = granted else {
        next.conditions.retain(|c| c.r#type != PERMISSIONS_MISSING);
        return;
    };
    let missing = granted.missing();
    let (status, reason, message) = if missing.is_empty() {
        let message = "The GitHub App installation was granted every permission the operator's features need";
        (ConditionStatus::False, "PermissionsGranted", message.to_owned())
    } else {
        let each: Vec<String> = missing
            .iter()
            .map(|(need, features)| {
                let features: Vec<&str> = features.iter().copied().map(Feature::name).collect();
                format!("{need} (turns off {})", features.join(", "))
            })
            .collect();
        let message = format!("The GitHub App installation was not granted {}", each.join("; "));
        (ConditionStatus::True, "PermissionsMissing", message)
    };
    let condition = Condition::new(PERMISSIONS_MISSING, status, reason, message, generation, now.clone());
    set_condition(&mut next.conditions, condition);
}

/// Whether `after` says something else of the permissions than `before` (the status, reason or message of
/// `PermissionsMissing`; its transition time aside).
pub fn changed((before, after): (&[Condition], &[Condition])) -> bool {
    let said = |conditions: &[Condition]| {
        find_condition(conditions, PERMISSIONS_MISSING).map(|c| (c.status, c.reason.clone(), c.message.clone()))
    };
    said(before) != said(after)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::github::permissions::{needed_by, Permission};

    fn granted(pairs: &[(&str, &str)]) -> Granted {
        let answer: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Granted::from_answer(&answer)
    }

    #[test]
    fn each_missing_permission_is_named_with_the_features_it_turns_off() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let mut next = OrganizationStatus::default();
        let mut everything: Vec<(String, String)> = needed_by(&Feature::ALL)
            .into_iter()
            .map(|(permission, access)| (permission.key().to_owned(), access.key().to_owned()))
            .collect();
        everything.retain(|(key, _)| key != Permission::VulnerabilityAlerts.key());
        everything.iter_mut().filter(|(key, _)| key == "actions").for_each(|(_, level)| *level = "read".to_owned());
        let pairs: Vec<(&str, &str)> = everything.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        record(&mut next, Some(&granted(&pairs)), Some(2), &now);
        let condition = find_condition(&next.conditions, PERMISSIONS_MISSING).expect("the condition");
        assert_eq!(condition.status, ConditionStatus::True);
        assert_eq!(
            condition.message,
            "The GitHub App installation was not granted actions:write (turns off builds, healing); \
             vulnerability_alerts:read (turns off security, healing)"
        );

        let all: Vec<(&str, &str)> = needed_by(&Feature::ALL).into_iter().map(|(p, a)| (p.key(), a.key())).collect();
        record(&mut next, Some(&granted(&all)), Some(2), &now);
        let condition = find_condition(&next.conditions, PERMISSIONS_MISSING).expect("the condition");
        assert_eq!((condition.status, condition.reason.as_str()), (ConditionStatus::False, "PermissionsGranted"));

        record(&mut next, None, Some(2), &now);
        assert!(find_condition(&next.conditions, PERMISSIONS_MISSING).is_none(), "a token has no App permissions");
    }

    #[test]
    fn a_change_is_what_the_condition_says_not_when() {
        let all: Vec<(&str, &str)> = needed_by(&Feature::ALL).into_iter().map(|(p, a)| (p.key(), a.key())).collect();
        let mut first = OrganizationStatus::default();
        record(&mut first, Some(&granted(&all)), Some(1), &Time(Timestamp::UNIX_EPOCH));
        assert!(changed((&[], &first.conditions)), "said for the first time");
        let mut later = first.clone();
        record(&mut later, Some(&granted(&all)), Some(2), &Time(Timestamp::from_second(60).unwrap()));
        assert!(!changed((&first.conditions, &later.conditions)), "the same grant, read again");
        record(&mut later, Some(&granted(&all[1..])), Some(2), &Time(Timestamp::from_second(60).unwrap()));
        assert!(changed((&first.conditions, &later.conditions)), "a permission taken away");
    }
}
