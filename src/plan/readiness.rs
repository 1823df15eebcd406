//! Turns the outcome of a prerequisite check into the `Ready` and `Stalled` conditions of an object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::prerequisites::{Blocker, BlockerKind};
use crate::crd::condition::{set_condition, Condition, ConditionStatus};

/// The condition type every kind carries, for `kubectl wait` and GitOps tools.
pub const READY: &str = "Ready";
/// Set while the object cannot progress until someone changes its spec or the data it points to.
pub const STALLED: &str = "Stalled";

/// What an object says when its prerequisites are met but its work has not produced a result yet.
#[derive(Clone, Copy, Debug)]
pub struct Accepted<'a> {
    /// CamelCase reason.
    pub reason: &'a str,
    /// What happens next.
    pub message: &'a str,
}

/// The conditions an object should carry after a prerequisite check, computed from those it carries now so that
/// transition times only move when a status changes. `Stalled` is dropped when nothing stalls.
pub fn conditions(
    current: &[Condition],
    outcome: &Result<(), Blocker>,
    accepted: Accepted<'_>,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut next: Vec<Condition> = current.iter().filter(|c| c.r#type != STALLED).cloned().collect();
    if let Some(stalled) = current.iter().find(|c| c.r#type == STALLED) {
        next.push(stalled.clone());
    }
    let condition = |r#type: &str, status, reason: &str, message: &str| {
        Condition::new(r#type, status, reason, message, generation, now.clone())
    };
    match outcome {
        Ok(()) => {
            next.retain(|c| c.r#type != STALLED);
            set_condition(&mut next, condition(READY, ConditionStatus::Unknown, accepted.reason, accepted.message));
        }
        Err(Blocker { kind, reason, message }) => {
            set_condition(&mut next, condition(READY, ConditionStatus::False, reason, message));
            match kind {
                BlockerKind::Stalled => {
                    set_condition(&mut next, condition(STALLED, ConditionStatus::True, reason, message))
                }
                BlockerKind::Waiting => next.retain(|c| c.r#type != STALLED),
            }
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::condition::find_condition;

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    const ACCEPTED: Accepted<'static> = Accepted { reason: "Accepted", message: "ok" };

    fn stalled() -> Result<(), Blocker> {
        Err(Blocker { kind: BlockerKind::Stalled, reason: "CredentialsIncomplete", message: "lacks token".into() })
    }

    #[test]
    fn stalled_sets_ready_false_and_stalled_true() {
        let next = conditions(&[], &stalled(), ACCEPTED, Some(3), &at(10));
        let ready = find_condition(&next, READY).unwrap();
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::False, "CredentialsIncomplete"));
        assert_eq!(ready.observed_generation, Some(3));
        let stalled = find_condition(&next, STALLED).unwrap();
        assert_eq!(stalled.status, ConditionStatus::True);
        assert_eq!(stalled.message, "lacks token");
    }

    #[test]
    fn fixing_the_spec_clears_stalled() {
        let before = conditions(&[], &stalled(), ACCEPTED, Some(3), &at(10));
        let after = conditions(&before, &Ok(()), ACCEPTED, Some(4), &at(20));
        assert!(find_condition(&after, STALLED).is_none());
        let ready = find_condition(&after, READY).unwrap();
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::Unknown, "Accepted"));
        assert_eq!(ready.last_transition_time, at(20));
    }

    #[test]
    fn waiting_is_not_stalled() {
        let waiting = Err(Blocker { kind: BlockerKind::Waiting, reason: "OrganizationNotFound", message: "x".into() });
        let next = conditions(&[], &waiting, ACCEPTED, None, &at(10));
        assert!(find_condition(&next, STALLED).is_none());
        assert_eq!(find_condition(&next, READY).unwrap().status, ConditionStatus::False);
    }

    #[test]
    fn repeating_the_same_outcome_changes_nothing() {
        let first = conditions(&[], &stalled(), ACCEPTED, Some(1), &at(10));
        let second = conditions(&first, &stalled(), ACCEPTED, Some(1), &at(99));
        assert_eq!(first, second);
    }

    #[test]
    fn other_conditions_are_kept() {
        let healthy = Condition::new("Healthy", ConditionStatus::True, "Green", "", None, at(1));
        let next = conditions(std::slice::from_ref(&healthy), &Ok(()), ACCEPTED, None, &at(10));
        assert_eq!(find_condition(&next, "Healthy"), Some(&healthy));
    }
}
