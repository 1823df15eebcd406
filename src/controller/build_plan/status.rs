//! A BuildPlan's status: its conditions, the whole status written by server-side apply guarded by the
//! resourceVersion the reconcile read, and an Event per transition of the run and of each repository.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::EventType;
use kube::ResourceExt;

use crate::controller::context::{Context, FIELD_MANAGER};
use crate::controller::error::Error;
use crate::controller::organization_ref::OrganizationScoped;
use crate::controller::status::{namespace_of, publish_event, write_status, Guard, StatusPart};
use crate::crd::build_plan::{BuildPlanPhase, BuildPlanStatus, RepositoryBuildState as S};
use crate::crd::condition::{Condition, ConditionStatus};
use crate::crd::BuildPlan;
use crate::plan::prerequisites::{Blocker, BlockerKind};
use crate::plan::readiness::set_condition;
use crate::plan::readiness::{self, READY, RECONCILING};
use crate::plan::schedule::entries;
use crate::plan::schedule::trigger::is_terminal;
use crate::plan::schedule::ScheduleError;

/// At most this many repositories are named in a condition message.
const NAMES_IN_MESSAGE: usize = 20;

/// What the plan is doing, as its conditions say it.
#[derive(Clone, Copy, Debug)]
pub enum Situation<'a> {
    /// Something it needs is missing or its spec is wrong.
    Blocked(&'a Blocker),
    /// Its prerequisites hold but no run goes on: waiting for repositories or the next fire, or done.
    Waiting(&'a str),
    /// `spec.suspend` is set.
    Suspended,
    /// The selected repositories depend on each other in a cycle.
    Invalid(&'a ScheduleError),
    /// A run goes on or ended: `status.phase` says how.
    Run,
}

/// The conditions the plan should carry, computed from those it carries so transition times only move on a
/// change.
pub fn conditions(plan: &BuildPlan, situation: Situation<'_>, status: &BuildPlanStatus, now: &Time) -> Vec<Condition> {
    let generation = plan.metadata.generation;
    let current = plan.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let outcome = match situation {
        Situation::Blocked(blocker) => Err(blocker.clone()),
        Situation::Invalid(error) => {
            Err(Blocker { kind: BlockerKind::Stalled, reason: error.category(), message: error.to_string() })
        }
        _ => Ok(()),
    };
    let mut next = readiness::conditions(current, &outcome, BuildPlan::ACCEPTED, generation, now);
    next.retain(|c| c.r#type != RECONCILING);
    let condition = |r#type: &str, status, reason: &str, message: String| {
        Condition::new(r#type, status, reason, message, generation, now.clone())
    };
    let ready = match situation {
        Situation::Blocked(_) | Situation::Invalid(_) => None,
        Situation::Waiting(message) => Some((ConditionStatus::Unknown, BuildPlan::ACCEPTED.reason, message.to_owned())),
        Situation::Suspended => Some((
            ConditionStatus::Unknown,
            "Suspended",
            "spec.suspend is set: nothing is dispatched, and runs in flight were cancelled".to_owned(),
        )),
        Situation::Run => Some(run_verdict(status)),
    };
    if let Some((status, reason, message)) = ready {
        if reason == "Running" {
            next.push(condition(RECONCILING, ConditionStatus::True, reason, message.clone()));
        }
        set_condition(&mut next, condition(READY, status, reason, message));
    }
    next
}

/// `Ready` for a run: true once every repository succeeded (or was already built), false once it failed or was
/// cancelled, unknown while it goes on.
fn run_verdict(status: &BuildPlanStatus) -> (ConditionStatus, &'static str, String) {
    let run = status.run_id.as_deref().unwrap_or_default();
    let progress = status.progress.as_deref().unwrap_or("0/0");
    let named = |state: S| {
        let names: Vec<&str> =
            status.repositories.iter().filter(|e| e.state == state).map(|e| e.name.as_str()).collect();
        let mut text = names.iter().take(NAMES_IN_MESSAGE).copied().collect::<Vec<_>>().join(", ");
        if names.len() > NAMES_IN_MESSAGE {
            text.push_str(&format!(" and {} more", names.len() - NAMES_IN_MESSAGE));
        }
        text
    };
    match status.phase {
        Some(BuildPlanPhase::Succeeded) => {
            let cached = status.repositories.iter().filter(|e| e.state == S::Cached).count();
            (ConditionStatus::True, "Succeeded", format!("Run {run} built {progress} repositories ({cached} cached)"))
        }
        Some(BuildPlanPhase::Failed) => {
            let (failed, skipped) = (named(S::Failed), named(S::Skipped));
            let message = format!("Run {run} failed: failed [{failed}], skipped [{skipped}]");
            (ConditionStatus::False, "BuildFailed", message)
        }
        Some(BuildPlanPhase::Cancelled) => (ConditionStatus::False, "Cancelled", format!("Run {run} was cancelled")),
        Some(BuildPlanPhase::Pending | BuildPlanPhase::Running) | None => {
            (ConditionStatus::Unknown, "Running", format!("Run {run}: {progress} repositories done"))
        }
    }
}

impl StatusPart for BuildPlanStatus {
    type Object = BuildPlan;
    const MANAGER: &'static str = FIELD_MANAGER;
    // A plan without status reads as the empty status; no write is skipped for that, as `write` always sets
    // observedGeneration (and the API server always sets a generation).
    fn of(plan: &BuildPlan) -> Self {
        plan.status.clone().unwrap_or_default()
    }
}

/// Writes the whole status under the operator's field manager, unless it says what the plan says already. The
/// apply carries the resourceVersion the reconcile read: if anyone changed the plan's spec or status since, it fails
/// (409) and the reconcile starts over from a fresh read, so no decision is made twice on one observation. A change
/// of metadata alone (a webhook's wake annotation, a label) leaves the decision standing on what it was made from,
/// and the status is applied again on the new version. Returns the plan as written.
pub async fn write(ctx: &Context, plan: &BuildPlan, mut status: BuildPlanStatus) -> Result<BuildPlan, Error> {
    status.observed_generation = plan.metadata.generation;
    let states: Vec<_> = status.repositories.iter().map(|entry| entry.state).collect();
    ctx.metrics.record_build_plan(&namespace_of(plan)?, &plan.name_any(), &states);
    let written = write_status(ctx, plan, &status, Guard::ResourceVersion).await?;
    Ok(written.unwrap_or_else(|| plan.clone()))
}

/// Publishes an Event for a run that started or ended and for each repository that changed state; a repository's
/// Event names its Repository object as related, so that each repository's builds make a series of their own. The
/// Events go out on a task of their own: they must not hold up the plan's next reconcile, which a webhook may be
/// waiting for.
pub fn announce(
    ctx: &Context,
    plan: &BuildPlan,
    objects: &BTreeMap<&str, &ObjectReference>,
    before: &BuildPlanStatus,
    after: &BuildPlanStatus,
) {
    let events = announcements(objects, before, after);
    if events.is_empty() {
        return;
    }
    let (ctx, plan) = (ctx.clone(), plan.clone());
    tokio::spawn(async move {
        for event in events {
            let Announcement { event_type, reason, note, related, action } = event;
            publish_event(&ctx, &plan, related, event_type, &reason, &note, action).await;
        }
    });
}

/// One Event to publish about a plan.
struct Announcement {
    event_type: EventType,
    reason: String,
    note: String,
    related: Option<ObjectReference>,
    action: &'static str,
}

/// The Events that the move from `before` to `after` calls for, in order.
fn announcements(
    objects: &BTreeMap<&str, &ObjectReference>,
    before: &BuildPlanStatus,
    after: &BuildPlanStatus,
) -> Vec<Announcement> {
    let mut events = Vec::new();
    let same_run = before.run_id == after.run_id;
    let run = after.run_id.as_deref().unwrap_or_default();
    if !same_run && after.run_id.is_some() {
        let note = format!("Run {run} started over {} repositories", after.repositories.len());
        let reason = "RunStarted".to_owned();
        events.push(Announcement { event_type: EventType::Normal, reason, note, related: None, action: "Run" });
    }
    let previous = if same_run { before.repositories.as_slice() } else { &[] };
    for change in entries::transitions(previous, &after.repositories) {
        let warning = matches!(change.to, S::Failed | S::Skipped | S::Cancelled);
        let event_type = if warning { EventType::Warning } else { EventType::Normal };
        let from = change.from.map_or("new".to_owned(), |s| format!("{s:?}"));
        let detail = change.detail.map(|d| format!(": {d}")).unwrap_or_default();
        let note = format!("{} {from} → {:?} (attempt {}){detail}", change.repository, change.to, change.attempts);
        let related = objects.get(change.repository.as_str()).map(|o| (*o).clone());
        let reason = format!("Build{:?}", change.to);
        events.push(Announcement { event_type, reason, note, related, action: "Build" });
    }
    let ended = is_terminal(after.phase) && (!same_run || before.phase != after.phase);
    if let (true, Some(phase)) = (ended, after.phase) {
        let event_type = if phase == BuildPlanPhase::Succeeded { EventType::Normal } else { EventType::Warning };
        let progress = after.progress.as_deref().unwrap_or_default();
        let note = format!("Run {run} ended {phase:?}: {progress} repositories done");
        events.push(Announcement { event_type, reason: format!("Run{phase:?}"), note, related: None, action: "Run" });
    }
    events
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::status::only_metadata_changed;
    use crate::crd::build_plan::BuildCounts;
    use crate::crd::condition::find_condition;
    use crate::plan::schedule::entries::pending;

    fn plan(generation: i64) -> BuildPlan {
        let mut plan: BuildPlan = serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
            "metadata": { "name": "p", "namespace": "ns", "generation": generation },
            "spec": { "organizationRef": { "name": "acme" } },
        }))
        .unwrap();
        plan.status = Some(BuildPlanStatus::default());
        plan
    }

    #[test]
    fn only_a_metadata_change_lets_a_status_write_go_again() {
        let mut base = plan(1);
        base.metadata.resource_version = Some("10".into());
        let version = |plan: &BuildPlan, rv: &str| {
            let mut plan = plan.clone();
            plan.metadata.resource_version = Some(rv.into());
            plan
        };
        let mut woken = version(&base, "11");
        woken.annotations_mut().insert("orchestrator.infinityxone.io/requested-at".into(), "1".into());
        assert!(only_metadata_changed(&base, &woken));
        let mut rewritten = version(&base, "12");
        rewritten.status = Some(run(BuildPlanPhase::Running, &[("core", S::Running)]));
        assert!(!only_metadata_changed(&base, &rewritten), "another writer's status");
        let mut edited = version(&base, "13");
        edited.spec.max_parallel = Some(2);
        assert!(!only_metadata_changed(&base, &edited), "a spec change");
        let mut deleted = version(&base, "14");
        deleted.metadata.deletion_timestamp = Some(at(0));
        assert!(!only_metadata_changed(&base, &deleted), "being deleted");
        assert!(!only_metadata_changed(&base, &base), "nothing changed: the conflict was something else");
    }

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
    }

    fn run(phase: BuildPlanPhase, states: &[(&str, S)]) -> BuildPlanStatus {
        let repositories =
            states.iter().map(|(n, s)| crate::crd::build_plan::RepositoryBuild { state: *s, ..pending(n) });
        BuildPlanStatus {
            run_id: Some("g1-x".into()),
            phase: Some(phase),
            progress: Some("2/3".into()),
            counts: Some(BuildCounts::default()),
            repositories: repositories.collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_run_is_announced_from_its_start_through_each_build_to_its_end() {
        let (objects, none) = (BTreeMap::new(), BuildPlanStatus::default());
        let running = run(BuildPlanPhase::Running, &[("a", S::Running), ("b", S::Pending)]);
        let started: Vec<_> = announcements(&objects, &none, &running).into_iter().map(|e| e.reason).collect();
        assert_eq!(started[0], "RunStarted");
        assert!(started.contains(&"BuildRunning".to_owned()), "{started:?}");
        let done = run(BuildPlanPhase::Succeeded, &[("a", S::Succeeded), ("b", S::Succeeded)]);
        let ended: Vec<_> = announcements(&objects, &running, &done).into_iter().map(|e| e.reason).collect();
        assert_eq!(ended, ["BuildSucceeded", "BuildSucceeded", "RunSucceeded"]);
        assert!(announcements(&objects, &done, &done).is_empty(), "nothing changed, nothing to say");
    }

    #[test]
    fn a_running_plan_is_reconciling_and_ready_unknown() {
        let status = run(BuildPlanPhase::Running, &[("a", S::Succeeded), ("b", S::Running)]);
        let next = conditions(&plan(3), Situation::Run, &status, &at(0));
        let ready = find_condition(&next, READY).unwrap();
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::Unknown, "Running"));
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(find_condition(&next, RECONCILING).unwrap().status, ConditionStatus::True);
    }

    #[test]
    fn a_failed_run_names_what_failed_and_what_was_skipped() {
        let status = run(BuildPlanPhase::Failed, &[("a", S::Failed), ("b", S::Skipped), ("c", S::Succeeded)]);
        let next = conditions(&plan(1), Situation::Run, &status, &at(0));
        let ready = find_condition(&next, READY).unwrap();
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::False, "BuildFailed"));
        assert_eq!(ready.message, "Run g1-x failed: failed [a], skipped [b]");
        assert!(find_condition(&next, RECONCILING).is_none());
    }

    #[test]
    fn a_cycle_stalls_the_plan_naming_it() {
        let graph = crate::plan::depgraph::DependencyGraph::new([("a", vec!["b"]), ("b", vec!["a"])]);
        let cycle = graph.topological_order().unwrap_err().cycle;
        let error = ScheduleError::Cycle(cycle);
        let next = conditions(&plan(2), Situation::Invalid(&error), &BuildPlanStatus::default(), &at(0));
        let stalled = find_condition(&next, "Stalled").unwrap();
        assert_eq!((stalled.status, stalled.reason.as_str()), (ConditionStatus::True, "DependencyCycle"));
        assert!(
            stalled.message.ends_with("a → b → a") || stalled.message.ends_with("b → a → b"),
            "{}",
            stalled.message
        );
        assert_eq!(find_condition(&next, READY).unwrap().status, ConditionStatus::False);
    }

    #[test]
    fn waiting_keeps_the_accepted_reason_with_what_it_waits_for() {
        let next = conditions(&plan(1), Situation::Waiting("next run at 02:00"), &BuildPlanStatus::default(), &at(0));
        let ready = find_condition(&next, READY).unwrap();
        assert_eq!((ready.reason.as_str(), ready.message.as_str()), ("OrganizationFound", "next run at 02:00"));
    }
}
