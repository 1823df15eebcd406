//! When a BuildPlan starts a fresh run. Without a `schedule`, once per change of the spec (ignoring `suspend` and
//! `historyLimit`, so that pausing a run resumes it rather than restarting it); with one, at each time the cron
//! expression fires, but never while the current run is still going (fires missed meanwhile start one run once it
//! ends, like a CronJob that forbids concurrency).

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::build_plan::{BuildPlanPhase, BuildPlanRunSummary, BuildPlanSpec, BuildPlanStatus};
use crate::plan::cron::CronSchedule;

/// Missed fires further back than this are not looked for; one run stands for all of them anyway.
const CATCH_UP_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// What the plan's current run looks like, as far as triggers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentRun<'a> {
    /// The spec digest it follows.
    pub spec_digest: Option<&'a str>,
    /// Its phase.
    pub phase: Option<BuildPlanPhase>,
}

/// What the trigger says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Start a fresh run now, with this id; `scheduled_at` is the fire time it stands for (scheduled plans).
    Start {
        /// The new run's id.
        run_id: String,
        /// The cron fire it stands for.
        scheduled_at: Option<Timestamp>,
    },
    /// Keep working on the current run.
    Continue,
    /// Nothing to run until `until` (the next fire), or until the spec changes when `None`.
    Idle {
        /// The next fire of the schedule.
        until: Option<Timestamp>,
    },
}

/// The digest a run records: the spec without `suspend` and `historyLimit`, hashed.
pub fn spec_digest(spec: &BuildPlanSpec) -> String {
    let mut relevant = spec.clone();
    relevant.suspend = false;
    relevant.history_limit = 0;
    let json = serde_json::to_vec(&relevant).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..8])
}

/// Whether a phase is final.
pub fn is_terminal(phase: Option<BuildPlanPhase>) -> bool {
    matches!(phase, Some(BuildPlanPhase::Succeeded | BuildPlanPhase::Failed | BuildPlanPhase::Cancelled))
}

/// Decides whether a run starts. `schedule` is the parsed `spec.schedule`; `last_schedule_time` the fire the current
/// run stood for; `created` when the plan was created (a scheduled plan waits for the first fire after it).
pub fn trigger(
    schedule: Option<&CronSchedule>,
    digest: &str,
    generation: i64,
    current: Option<CurrentRun<'_>>,
    last_schedule_time: Option<Timestamp>,
    created: Timestamp,
    now: Timestamp,
) -> Trigger {
    let running = current.is_some_and(|run| !is_terminal(run.phase));
    let Some(schedule) = schedule else {
        return match current {
            Some(run) if run.spec_digest == Some(digest) => {
                if running {
                    Trigger::Continue
                } else {
                    Trigger::Idle { until: None }
                }
            }
            _ => Trigger::Start { run_id: run_id(generation, now), scheduled_at: None },
        };
    };
    if running {
        return Trigger::Continue;
    }
    let since = last_schedule_time.unwrap_or(created).max(now.saturating_sub(CATCH_UP_WINDOW).unwrap_or(now));
    match latest_fire(schedule, since, now) {
        Some(fire) => Trigger::Start { run_id: run_id(generation, fire), scheduled_at: Some(fire) },
        None => Trigger::Idle { until: schedule.next_after(now) },
    }
}

/// The status of a fresh run `run_id`: the current run, if there is one, becomes the newest entry of the history
/// (Cancelled if it had not ended), which keeps at most `history_limit` entries. Conditions are kept for the
/// caller to update.
pub fn fresh_run(
    current: &BuildPlanStatus,
    run_id: &str,
    digest: &str,
    scheduled_at: Option<Timestamp>,
    history_limit: usize,
    now: Timestamp,
) -> BuildPlanStatus {
    let mut history = current.history.clone();
    if let Some(previous) = &current.run_id {
        let phase = current.phase.filter(|p| is_terminal(Some(*p))).unwrap_or(BuildPlanPhase::Cancelled);
        history.insert(
            0,
            BuildPlanRunSummary {
                run_id: previous.clone(),
                phase,
                start_time: current.start_time.clone().unwrap_or(Time(now)),
                completion_time: Some(current.completion_time.clone().unwrap_or(Time(now))),
                counts: current.counts.clone().unwrap_or_default(),
            },
        );
    }
    history.truncate(history_limit);
    BuildPlanStatus {
        observed_generation: current.observed_generation,
        conditions: current.conditions.clone(),
        phase: Some(BuildPlanPhase::Pending),
        progress: None,
        counts: None,
        run_id: Some(run_id.to_owned()),
        spec_digest: Some(digest.to_owned()),
        start_time: Some(Time(now)),
        completion_time: None,
        repositories: Vec::new(),
        last_schedule_time: scheduled_at.map(Time).or_else(|| current.last_schedule_time.clone()),
        history,
    }
}

/// The latest fire after `since` and at or before `now`.
fn latest_fire(schedule: &CronSchedule, since: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let mut latest = None;
    let mut cursor = since;
    while let Some(fire) = schedule.next_after(cursor).filter(|fire| *fire <= now) {
        latest = Some(fire);
        cursor = fire;
    }
    latest
}

/// A run id: the generation and the start (or fire) time, readable and unique within one plan.
fn run_id(generation: i64, at: Timestamp) -> String {
    format!("g{generation}-{}", at.strftime("%Y%m%d-%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn spec() -> BuildPlanSpec {
        serde_json::from_value(serde_json::json!({ "organizationRef": { "name": "acme" } })).unwrap()
    }

    fn run(digest: &str, phase: BuildPlanPhase) -> Option<CurrentRun<'_>> {
        Some(CurrentRun { spec_digest: Some(digest), phase: Some(phase) })
    }

    #[test]
    fn suspend_and_history_limit_do_not_change_the_digest_but_the_rest_does() {
        let base = spec();
        let mut paused = base.clone();
        paused.suspend = true;
        paused.history_limit = 3;
        assert_eq!(spec_digest(&base), spec_digest(&paused));
        let mut wider = base.clone();
        wider.max_parallel = Some(3);
        assert_ne!(spec_digest(&base), spec_digest(&wider));
    }

    #[test]
    fn without_a_schedule_a_plan_runs_once_per_digest() {
        let now = at("2026-03-01T10:00:00Z");
        let created = at("2026-03-01T09:00:00Z");
        let start = trigger(None, "d1", 4, None, None, created, now);
        assert_eq!(start, Trigger::Start { run_id: "g4-20260301-100000".into(), scheduled_at: None });
        let running = run("d1", BuildPlanPhase::Running);
        assert_eq!(trigger(None, "d1", 4, running, None, created, now), Trigger::Continue);
        let done = run("d1", BuildPlanPhase::Failed);
        assert_eq!(trigger(None, "d1", 5, done, None, created, now), Trigger::Idle { until: None });
        let changed = trigger(None, "d2", 6, running, None, created, now);
        assert!(matches!(changed, Trigger::Start { ref run_id, .. } if run_id == "g6-20260301-100000"));
    }

    #[test]
    fn a_scheduled_plan_waits_for_the_first_fire_then_runs_once_per_fire() {
        let hourly: CronSchedule = "0 * * * *".parse().unwrap();
        let created = at("2026-03-01T09:10:00Z");
        let before = trigger(Some(&hourly), "d", 1, None, None, created, at("2026-03-01T09:59:00Z"));
        assert_eq!(before, Trigger::Idle { until: Some(at("2026-03-01T10:00:00Z")) });
        let fired = trigger(Some(&hourly), "d", 1, None, None, created, at("2026-03-01T10:00:30Z"));
        let fire = at("2026-03-01T10:00:00Z");
        assert_eq!(fired, Trigger::Start { run_id: "g1-20260301-100000".into(), scheduled_at: Some(fire) });
        let done = run("d", BuildPlanPhase::Succeeded);
        let again = trigger(Some(&hourly), "d", 1, done, Some(fire), created, at("2026-03-01T10:20:00Z"));
        assert_eq!(again, Trigger::Idle { until: Some(at("2026-03-01T11:00:00Z")) });
    }

    #[test]
    fn fires_missed_while_a_run_goes_on_start_one_run_after_it() {
        let hourly: CronSchedule = "0 * * * *".parse().unwrap();
        let created = at("2026-03-01T09:10:00Z");
        let first = at("2026-03-01T10:00:00Z");
        let running = run("d", BuildPlanPhase::Running);
        let late = at("2026-03-01T12:30:00Z");
        assert_eq!(trigger(Some(&hourly), "d", 1, running, Some(first), created, late), Trigger::Continue);
        let done = run("d", BuildPlanPhase::Failed);
        let next = trigger(Some(&hourly), "d", 1, done, Some(first), created, late);
        let latest = at("2026-03-01T12:00:00Z");
        assert_eq!(next, Trigger::Start { run_id: "g1-20260301-120000".into(), scheduled_at: Some(latest) });
    }

    #[test]
    fn a_fresh_run_files_the_previous_one_in_a_bounded_history() {
        let first = fresh_run(&BuildPlanStatus::default(), "g1-a", "d", None, 2, at("2026-03-01T10:00:00Z"));
        assert!(first.history.is_empty());
        assert_eq!(first.phase, Some(BuildPlanPhase::Pending));
        let mut done = first.clone();
        done.phase = Some(BuildPlanPhase::Succeeded);
        let second = fresh_run(&done, "g1-b", "d", None, 2, at("2026-03-01T11:00:00Z"));
        assert_eq!(second.history[0].run_id, "g1-a");
        assert_eq!(second.history[0].phase, BuildPlanPhase::Succeeded);
        // A run still going when the next starts is filed as Cancelled; the oldest falls off the end.
        let third = fresh_run(&second, "g2-c", "e", None, 2, at("2026-03-01T12:00:00Z"));
        let fourth = fresh_run(&third, "g2-d", "e", None, 2, at("2026-03-01T13:00:00Z"));
        let ids: Vec<(&str, BuildPlanPhase)> = fourth.history.iter().map(|h| (h.run_id.as_str(), h.phase)).collect();
        assert_eq!(ids, [("g2-c", BuildPlanPhase::Cancelled), ("g1-b", BuildPlanPhase::Cancelled)]);
        assert_eq!(fourth.run_id.as_deref(), Some("g2-d"));
    }

    #[test]
    fn a_scheduled_plan_ignores_spec_changes_until_its_next_fire() {
        let daily: CronSchedule = "0 2 * * *".parse().unwrap();
        let created = at("2026-03-01T09:00:00Z");
        let fire = at("2026-03-02T02:00:00Z");
        let done = run("old", BuildPlanPhase::Succeeded);
        let now = at("2026-03-02T08:00:00Z");
        let idle = trigger(Some(&daily), "new", 2, done, Some(fire), created, now);
        assert_eq!(idle, Trigger::Idle { until: Some(at("2026-03-03T02:00:00Z")) });
    }
}
