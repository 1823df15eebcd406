//! Turns the outcome of a prerequisite check into the `Ready`, `Reconciling` and `Stalled` conditions of an object,
//! in kstatus's shape: `Reconciling` and `Stalled` are abnormal-true, present only while they hold.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::prerequisites::{Blocker, BlockerKind};
use crate::crd::condition::{find_condition, Condition, ConditionStatus};

/// The condition type every kind carries, for `kubectl wait` and GitOps tools.
pub const READY: &str = "Ready";
/// Set while the object cannot progress until someone changes its spec or the data it points to.
pub const STALLED: &str = "Stalled";
/// Set while the work the spec asks for is under way; removed once `Ready` says how it ended.
pub const RECONCILING: &str = "Reconciling";

/// What an object says when its prerequisites are met but its work has not produced a result yet.
#[derive(Clone, Copy, Debug)]
pub struct Accepted<'a> {
    /// CamelCase reason.
    pub reason: &'a str,
    /// What happens next.
    pub message: &'a str,
}

/// `next` with the transition time of `previous` when the status did not change: a condition says when its status
/// changed, not when it was last computed.
pub fn keep_transition_time(previous: Option<&Condition>, next: Condition) -> Condition {
    match previous {
        Some(previous) if previous.status == next.status => {
            Condition { last_transition_time: previous.last_transition_time.clone(), ..next }
        }
        _ => next,
    }
}

/// Puts `next` into `conditions`, replacing the condition of the same type, keeping its transition time while its
/// status holds.
pub fn set_condition(conditions: &mut Vec<Condition>, next: Condition) {
    let next = keep_transition_time(find_condition(conditions, &next.r#type), next);
    match conditions.iter_mut().find(|c| c.r#type == next.r#type) {
        Some(existing) => *existing = next,
        None => conditions.push(next),
    }
}

/// How a condition type reads. `Positive` when `True` is good (`Ready`, `Healthy`): every change of its status or
/// reason is told, as a Warning when it turns `False`. `Negative` when `True` is abnormal (`Degraded`,
/// `DetectionWarning`): it is told, always as a Warning, when it turns `True` or says something new while `True`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// `True` is good.
    Positive,
    /// `True` is good, as for `Positive`, but the condition's first appearance (unless `False`) and a `True` after
    /// `Unknown` are not told: for kinds made by the thousand at once (a Repository per repository of an
    /// organization), where an Event saying each started out fine costs the API server a write and tells nothing.
    PositiveQuietAtFirst,
    /// `True` is abnormal.
    Negative,
}

/// A change of one condition that deserves an Event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition<'a> {
    /// The condition as it is now.
    pub condition: &'a Condition,
    /// Whether the Event is a Warning.
    pub warning: bool,
}

/// The change of the condition `r#type` from `before` to `after` worth an Event, if any (see [`Polarity`]).
pub fn transition<'a>(
    before: &[Condition],
    after: &'a [Condition],
    r#type: &str,
    polarity: Polarity,
) -> Option<Transition<'a>> {
    let now = find_condition(after, r#type)?;
    let was = find_condition(before, r#type);
    match polarity {
        Polarity::Positive => {
            let unchanged = was.is_some_and(|was| was.status == now.status && was.reason == now.reason);
            (!unchanged).then_some(Transition { condition: now, warning: now.status == ConditionStatus::False })
        }
        Polarity::PositiveQuietAtFirst => {
            let first_news = match was {
                None => now.status != ConditionStatus::False,
                Some(was) => was.status == ConditionStatus::Unknown && now.status == ConditionStatus::True,
            };
            if first_news {
                return None;
            }
            transition(before, after, r#type, Polarity::Positive)
        }
        Polarity::Negative => {
            let told = was.is_some_and(|was| was.status == ConditionStatus::True && was.message == now.message);
            (now.status == ConditionStatus::True && !told).then_some(Transition { condition: now, warning: true })
        }
    }
}

/// The conditions an object should carry after a prerequisite check, computed from those it carries now so that
/// transition times only move when a status changes. Prerequisites met: `Ready` unknown and `Reconciling` true until
/// the caller sets `Ready` from the work's result (and drops `Reconciling`). Blocked: `Ready` false, `Reconciling`
/// dropped, and `Stalled` true only when a person must act.
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
            set_condition(&mut next, condition(RECONCILING, ConditionStatus::True, accepted.reason, accepted.message));
        }
        Err(Blocker { kind, reason, message }) => {
            next.retain(|c| c.r#type != RECONCILING);
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
    fn accepted_work_is_reconciling_until_a_blocker_ends_it() {
        let accepted = conditions(&[], &Ok(()), ACCEPTED, Some(2), &at(10));
        let reconciling = find_condition(&accepted, RECONCILING).unwrap();
        assert_eq!((reconciling.status, reconciling.reason.as_str()), (ConditionStatus::True, "Accepted"));
        assert_eq!(reconciling.observed_generation, Some(2));
        let blocked = conditions(&accepted, &stalled(), ACCEPTED, Some(3), &at(20));
        assert!(find_condition(&blocked, RECONCILING).is_none(), "a person must act: nothing is under way");
        assert_eq!(find_condition(&blocked, STALLED).unwrap().status, ConditionStatus::True);
        let waiting = Err(Blocker { kind: BlockerKind::Waiting, reason: "OrganizationNotFound", message: "x".into() });
        assert!(find_condition(&conditions(&accepted, &waiting, ACCEPTED, None, &at(20)), RECONCILING).is_none());
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

    #[test]
    fn keeps_transition_time_while_status_holds() {
        let mut conditions = vec![];
        set_condition(
            &mut conditions,
            Condition::new("Ready", ConditionStatus::False, "Waiting", "a", Some(1), at(10)),
        );
        set_condition(
            &mut conditions,
            Condition::new("Ready", ConditionStatus::False, "Waiting", "b", Some(2), at(20)),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].message, "b");
        assert_eq!(conditions[0].observed_generation, Some(2));
    }

    #[test]
    fn moves_transition_time_when_status_changes() {
        let mut conditions = vec![];
        set_condition(&mut conditions, Condition::new("Ready", ConditionStatus::False, "Waiting", "", None, at(10)));
        set_condition(&mut conditions, Condition::new("Stalled", ConditionStatus::True, "Bad", "", None, at(15)));
        set_condition(&mut conditions, Condition::new("Ready", ConditionStatus::True, "Done", "", None, at(20)));
        assert_eq!(conditions.len(), 2);
        let ready = find_condition(&conditions, "Ready").unwrap();
        assert_eq!(ready.last_transition_time, at(20));
        assert_eq!(ready.reason, "Done");
    }

    #[test]
    fn a_positive_condition_is_told_on_each_change_of_status_or_reason() {
        let ready = |status, reason: &str, message: &str| Condition::new(READY, status, reason, message, None, at(1));
        let unknown = [ready(ConditionStatus::Unknown, "Accepted", "a")];
        let failed = [ready(ConditionStatus::False, "BuildFailed", "b")];
        let told = transition(&unknown, &failed, READY, Polarity::Positive).unwrap();
        assert!(told.warning);
        assert_eq!(told.condition.reason, "BuildFailed");
        let reworded = [ready(ConditionStatus::False, "BuildFailed", "c")];
        assert_eq!(transition(&failed, &reworded, READY, Polarity::Positive), None, "only the message moved");
        let first = transition(&[], &unknown, READY, Polarity::Positive).unwrap();
        assert!(!first.warning, "Unknown is no warning");
        assert_eq!(transition(&unknown, &[], READY, Polarity::Positive), None, "nothing to tell");
    }

    #[test]
    fn a_quiet_positive_condition_keeps_its_first_success_to_itself_and_tells_the_rest() {
        let healthy = |status, reason: &str| Condition::new("Healthy", status, reason, "", None, at(1));
        let quiet = Polarity::PositiveQuietAtFirst;
        let (unknown, fine) = ([healthy(ConditionStatus::Unknown, "NoRuns")], [healthy(ConditionStatus::True, "Ok")]);
        let failing = [healthy(ConditionStatus::False, "Failing")];
        assert_eq!(transition(&[], &fine, "Healthy", quiet), None, "born fine");
        assert_eq!(transition(&unknown, &fine, "Healthy", quiet), None, "fine once known");
        assert_eq!(transition(&[], &unknown, "Healthy", quiet), None, "born not knowing");
        assert!(transition(&[], &failing, "Healthy", quiet).unwrap().warning, "born failing is told");
        assert!(transition(&fine, &failing, "Healthy", quiet).unwrap().warning);
        assert!(!transition(&failing, &fine, "Healthy", quiet).unwrap().warning, "a recovery is told");
        assert!(transition(&fine, &unknown, "Healthy", quiet).is_some(), "losing track is told");
    }

    #[test]
    fn a_negative_condition_is_told_when_it_turns_true_or_says_something_new() {
        let degraded = |status, message: &str| Condition::new("Degraded", status, "Cycle", message, None, at(1));
        let off = [degraded(ConditionStatus::False, "")];
        let on = [degraded(ConditionStatus::True, "a → b → a")];
        assert!(transition(&off, &on, "Degraded", Polarity::Negative).unwrap().warning);
        assert!(transition(&[], &on, "Degraded", Polarity::Negative).is_some());
        assert_eq!(transition(&on, &on, "Degraded", Polarity::Negative), None, "told already");
        let other = [degraded(ConditionStatus::True, "c → d → c")];
        assert!(transition(&on, &other, "Degraded", Polarity::Negative).is_some(), "a new cycle");
        assert_eq!(transition(&on, &off, "Degraded", Polarity::Negative), None, "turning good is not told");
    }
}
