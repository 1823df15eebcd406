//! The status entries of a run (`status.repositories`), changed by what the controller observes on GitHub and by the
//! steps [`next_steps`](super::next_steps) decides, without I/O. The controller writes what these functions return.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{in_flight, NextSteps, SelectedRepository};
use crate::crd::build_plan::{RepositoryBuild, RepositoryBuildState as S};

/// What GitHub says of the run of an attempt (a plain copy, so this module needs no GitHub types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunObservation {
    /// The run's id.
    pub id: i64,
    /// Its page.
    pub url: Option<String>,
    /// The commit it builds.
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed`, ….
    pub status: Option<String>,
    /// Set once completed.
    pub conclusion: Option<String>,
    /// When GitHub created it.
    pub created_at: Timestamp,
    /// Its last change (its completion, once completed).
    pub updated_at: Option<Timestamp>,
}

/// One state change of one repository, for the Event that announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The repository.
    pub repository: String,
    /// Its state before, `None` when it had no entry.
    pub from: Option<S>,
    /// Its state now.
    pub to: S,
    /// The attempt it is at.
    pub attempts: i32,
    /// The entry's reason, or the run's page.
    pub detail: Option<String>,
}

/// A repository not started yet.
pub fn pending(name: &str) -> RepositoryBuild {
    RepositoryBuild {
        name: name.to_owned(),
        state: S::Pending,
        attempts: 0,
        correlation_id: None,
        build_command: None,
        test_command: None,
        run_id: None,
        run_url: None,
        head_sha: None,
        conclusion: None,
        duration_seconds: None,
        start_time: None,
        completion_time: None,
        reason: None,
    }
}

/// The entry once its run is seen as GitHub reports it: Queued, Running, Succeeded, or Failed (any conclusion but
/// success is a failed attempt).
pub fn observe_run(entry: &RepositoryBuild, run: &RunObservation, now: Timestamp) -> RepositoryBuild {
    let mut next = RepositoryBuild {
        run_id: Some(run.id),
        run_url: run.url.clone(),
        head_sha: Some(run.head_sha.clone()),
        conclusion: run.conclusion.clone(),
        ..entry.clone()
    };
    next.state = match (run.status.as_deref(), run.conclusion.as_deref()) {
        (Some("completed"), Some("success")) => S::Succeeded,
        (Some("completed"), _) => S::Failed,
        (Some("in_progress"), _) => S::Running,
        _ => S::Queued,
    };
    if matches!(next.state, S::Succeeded | S::Failed) {
        let ended = run.updated_at.unwrap_or(now);
        next.duration_seconds = Some(ended.duration_since(run.created_at).as_secs().max(0));
        next.completion_time = Some(entry.completion_time.clone().unwrap_or(Time(now)));
        next.reason = (next.state == S::Failed).then(|| {
            let conclusion = run.conclusion.as_deref().unwrap_or("unknown");
            format!("attempt {} ended {conclusion}", entry.attempts)
        });
    }
    next
}

/// Whether a Dispatching entry whose run GitHub does not list was never dispatched: its intent is older than
/// `grace`, longer than GitHub takes to list a dispatched run. The controller then sends it again, same id.
pub fn dispatch_lost(entry: &RepositoryBuild, grace: SignedDuration, now: Timestamp) -> bool {
    let started = entry.start_time.as_ref().map(|t| t.0);
    entry.state == S::Dispatching
        && entry.run_id.is_none()
        && started.is_none_or(|started| started.saturating_add(grace).is_ok_and(|deadline| now >= deadline))
}

/// The intent to dispatch attempt `attempt` with `correlation_id`, recorded before the dispatch is sent.
pub fn dispatching(entry: &RepositoryBuild, attempt: u32, correlation_id: &str, now: Timestamp) -> RepositoryBuild {
    RepositoryBuild {
        state: S::Dispatching,
        attempts: i32::try_from(attempt).unwrap_or(i32::MAX),
        correlation_id: Some(correlation_id.to_owned()),
        start_time: Some(Time(now)),
        reason: None,
        ..pending(&entry.name)
    }
}

/// A dispatch whose answer named its run: the run is recorded at once, so that tracking reads it by id (no listing,
/// which shows a dispatched run only seconds later). The entry stays Dispatching until the run is read.
pub fn run_named(entry: &RepositoryBuild, run_id: i64, run_url: Option<String>) -> RepositoryBuild {
    RepositoryBuild { run_id: Some(run_id), run_url: run_url.or_else(|| entry.run_url.clone()), ..entry.clone() }
}

/// A dispatch GitHub accepted (or may have) whose run can never be found: its answer did not name the run and the
/// workflow takes no correlation id. A failed attempt that says why, rather than a second dispatch.
pub fn dispatch_untraceable(entry: &RepositoryBuild, message: &str, now: Timestamp) -> RepositoryBuild {
    RepositoryBuild {
        state: S::Failed,
        completion_time: Some(Time(now)),
        reason: Some(format!("dispatch of attempt {} cannot be tracked: {message}", entry.attempts)),
        ..entry.clone()
    }
}

/// A dispatch GitHub refused for good (no such workflow, no `workflow_dispatch` trigger): a failed attempt.
pub fn dispatch_rejected(entry: &RepositoryBuild, message: &str, now: Timestamp) -> RepositoryBuild {
    RepositoryBuild {
        state: S::Failed,
        completion_time: Some(Time(now)),
        reason: Some(format!("dispatch of attempt {} refused: {message}", entry.attempts)),
        ..entry.clone()
    }
}

/// A run in flight whose run was cancelled because the plan was suspended: Pending again, so that resuming
/// dispatches it anew (a further attempt, so that its correlation id cannot find the cancelled run).
pub fn suspended(entry: &RepositoryBuild) -> RepositoryBuild {
    if !in_flight(entry.state) {
        return entry.clone();
    }
    RepositoryBuild {
        state: S::Pending,
        reason: Some(format!("attempt {} cancelled: the plan was suspended", entry.attempts)),
        ..entry.clone()
    }
}

/// A repository of a run that was cancelled (deleted or superseded plan): in flight or not started → Cancelled.
pub fn cancelled(entry: &RepositoryBuild, why: &str, now: Timestamp) -> RepositoryBuild {
    if !(in_flight(entry.state) || entry.state == S::Pending) {
        return entry.clone();
    }
    RepositoryBuild {
        state: S::Cancelled,
        completion_time: Some(Time(now)),
        reason: Some(why.to_owned()),
        ..entry.clone()
    }
}

/// Applies the steps to the entries (by name); returns every entry in the steps' order. `heads` gives the commit
/// already built of each Cached repository.
pub fn apply_steps(
    entries: &BTreeMap<String, RepositoryBuild>,
    steps: &NextSteps,
    heads: &BTreeMap<String, String>,
    now: Timestamp,
) -> Vec<RepositoryBuild> {
    let NextSteps {
        cancel,
        cache,
        skip,
        dispatch,
        retry_later: _,
        requeue_at: _,
        order,
        phase: _,
        counts: _,
        progress: _,
    } = steps;
    let mut next = entries.clone();
    let entry = |name: &str| next.get(name).cloned().unwrap_or_else(|| pending(name));
    let mut changes: Vec<RepositoryBuild> = Vec::new();
    for cancellation in cancel {
        let mut failed = entry(&cancellation.repository);
        failed.state = S::Failed;
        failed.completion_time = Some(Time(now));
        failed.reason = Some(format!("attempt {} timed out; its run was cancelled", cancellation.attempt));
        changes.push(failed);
    }
    for name in cache {
        let mut cached = entry(name);
        cached.state = S::Cached;
        cached.head_sha = heads.get(name).cloned();
        cached.completion_time = Some(Time(now));
        cached.reason = Some("its head already has a successful build".to_owned());
        changes.push(cached);
    }
    for skipped in skip {
        let mut entry = entry(&skipped.repository);
        entry.state = S::Skipped;
        entry.completion_time = Some(Time(now));
        entry.reason = Some(skipped.reason.message());
        changes.push(entry);
    }
    for intent in dispatch {
        changes.push(dispatching(&entry(&intent.repository), intent.attempt, &intent.correlation_id, now));
    }
    for change in changes {
        next.insert(change.name.clone(), change);
    }
    order.iter().map(|name| next.get(name).cloned().unwrap_or_else(|| pending(name))).collect()
}

/// For `onlyChanged`: the repositories that may still be Cached, whose heads are worth reading. A repository never
/// attempted and still Pending qualifies when each of its selected dependencies is Cached or qualifies too.
pub fn cache_candidates(
    selected: &[SelectedRepository],
    current: &BTreeMap<String, RepositoryBuild>,
) -> BTreeSet<String> {
    let names: BTreeSet<&str> = selected.iter().map(|r| r.name.as_str()).collect();
    let state = |name: &str| current.get(name).map_or((S::Pending, 0), |e| (e.state, e.attempts));
    let mut candidates: BTreeSet<String> =
        selected.iter().filter(|r| state(&r.name) == (S::Pending, 0)).map(|r| r.name.clone()).collect();
    // Drop candidates with a dependency that will be built, until none is left to drop.
    loop {
        let blocked: Vec<String> = selected
            .iter()
            .filter(|r| candidates.contains(&r.name))
            .filter(|r| {
                r.depends_on
                    .iter()
                    .filter(|d| names.contains(d.as_str()))
                    .any(|d| !candidates.contains(d) && state(d).0 != S::Cached)
            })
            .map(|r| r.name.clone())
            .collect();
        if blocked.is_empty() {
            return candidates;
        }
        for name in blocked {
            candidates.remove(&name);
        }
    }
}

/// The state changes from `before` to `after`, in `after`'s order.
pub fn transitions(before: &[RepositoryBuild], after: &[RepositoryBuild]) -> Vec<Transition> {
    let old: BTreeMap<&str, &RepositoryBuild> = before.iter().map(|e| (e.name.as_str(), e)).collect();
    after
        .iter()
        .filter_map(|entry| {
            let previous = old.get(entry.name.as_str());
            let same = previous.is_some_and(|p| p.state == entry.state && p.attempts == entry.attempts);
            let unannounced_start = previous.is_none() && entry.state == S::Pending;
            (!same && !unannounced_start).then(|| Transition {
                repository: entry.name.clone(),
                from: previous.map(|p| p.state),
                to: entry.state,
                attempts: entry.attempts,
                detail: entry.reason.clone().or_else(|| detail_of(entry)),
            })
        })
        .collect()
}

/// What an Event tells of an entry without a reason: the commands its dispatch sent (when it is being dispatched),
/// and its run's page.
fn detail_of(entry: &RepositoryBuild) -> Option<String> {
    let commands = (entry.state == S::Dispatching).then(|| commands_sent(entry)).flatten();
    match (commands, entry.run_url.clone()) {
        (Some(commands), Some(url)) => Some(format!("{commands}; {url}")),
        (commands, url) => commands.or(url),
    }
}

/// The commands an entry's dispatch sent.
fn commands_sent(entry: &RepositoryBuild) -> Option<String> {
    let sent: Vec<String> = [("build", &entry.build_command), ("test", &entry.test_command)]
        .into_iter()
        .filter_map(|(what, command)| Some(format!("{what} {:?}", command.as_deref()?)))
        .collect();
    (!sent.is_empty()).then(|| sent.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::schedule::{Cancellation, Dispatch, Skip, SkipReason};

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn run(status: &str, conclusion: Option<&str>) -> RunObservation {
        RunObservation {
            id: 42,
            url: Some("https://github.test/acme/core/actions/runs/42".into()),
            head_sha: "abc".into(),
            status: Some(status.into()),
            conclusion: conclusion.map(String::from),
            created_at: t(10),
            updated_at: Some(t(75)),
        }
    }

    fn intent(name: &str, attempt: u32) -> RepositoryBuild {
        dispatching(&pending(name), attempt, &format!("io-{name}-{attempt}"), t(0))
    }

    #[test]
    fn a_run_moves_the_entry_through_queued_running_and_its_conclusion() {
        let entry = intent("core", 1);
        assert_eq!(observe_run(&entry, &run("queued", None), t(20)).state, S::Queued);
        let running = observe_run(&entry, &run("in_progress", None), t(20));
        assert_eq!((running.state, running.run_id), (S::Running, Some(42)));
        let done = observe_run(&running, &run("completed", Some("success")), t(80));
        assert_eq!((done.state, done.duration_seconds), (S::Succeeded, Some(65)));
        assert_eq!(done.completion_time, Some(Time(t(80))));
        assert_eq!(done.head_sha.as_deref(), Some("abc"));
        let failed = observe_run(&running, &run("completed", Some("timed_out")), t(80));
        assert_eq!(failed.state, S::Failed);
        assert_eq!(failed.reason.as_deref(), Some("attempt 1 ended timed_out"));
        // Seen again later, the completion time stays the first one.
        assert_eq!(observe_run(&done, &run("completed", Some("success")), t(99)).completion_time, Some(Time(t(80))));
    }

    #[test]
    fn a_dispatch_counts_as_lost_only_after_the_grace_period() {
        let entry = intent("core", 1);
        let grace = SignedDuration::from_secs(60);
        assert!(!dispatch_lost(&entry, grace, t(59)));
        assert!(dispatch_lost(&entry, grace, t(60)));
        let found = observe_run(&entry, &run("queued", None), t(5));
        assert!(!dispatch_lost(&found, grace, t(600)));
    }

    #[test]
    fn a_named_run_is_never_lost_and_an_untraceable_dispatch_fails_with_why() {
        let named = run_named(&intent("core", 1), 42, Some("https://x/runs/42".into()));
        assert_eq!(
            (named.state, named.run_id, named.run_url.as_deref()),
            (S::Dispatching, Some(42), Some("https://x/runs/42"))
        );
        assert!(!dispatch_lost(&named, SignedDuration::from_secs(60), t(600)), "read by id, never re-sent");
        let untraceable = dispatch_untraceable(&intent("core", 1), "204 and no correlation_id", t(3));
        assert_eq!(untraceable.state, S::Failed);
        assert_eq!(
            untraceable.reason.as_deref(),
            Some("dispatch of attempt 1 cannot be tracked: 204 and no correlation_id")
        );
    }

    #[test]
    fn steps_become_entries_in_dependency_order() {
        let entries: BTreeMap<String, RepositoryBuild> =
            [("slow".to_string(), intent("slow", 2))].into_iter().collect();
        let steps = NextSteps {
            cancel: vec![Cancellation { repository: "slow".into(), attempt: 2, started_at: t(0) }],
            cache: vec!["core".into()],
            skip: vec![Skip {
                repository: "app".into(),
                reason: SkipReason::DependencyFailed { dependency: "x".into() },
            }],
            dispatch: vec![Dispatch { repository: "lib".into(), attempt: 1, correlation_id: "io-lib-1".into() }],
            retry_later: vec![],
            requeue_at: None,
            order: vec!["core".into(), "slow".into(), "lib".into(), "app".into(), "docs".into()],
            phase: crate::crd::build_plan::BuildPlanPhase::Running,
            counts: Default::default(),
            progress: String::new(),
        };
        let heads = [("core".to_string(), "c0ffee".to_string())].into_iter().collect();
        let next = apply_steps(&entries, &steps, &heads, t(30));
        let states: Vec<(&str, S)> = next.iter().map(|e| (e.name.as_str(), e.state)).collect();
        assert_eq!(
            states,
            [
                ("core", S::Cached),
                ("slow", S::Failed),
                ("lib", S::Dispatching),
                ("app", S::Skipped),
                ("docs", S::Pending)
            ]
        );
        assert_eq!(next[0].head_sha.as_deref(), Some("c0ffee"));
        assert_eq!(next[1].attempts, 2);
        assert_eq!(next[2].correlation_id.as_deref(), Some("io-lib-1"));
        assert_eq!(next[3].reason.as_deref(), Some("dependency x did not succeed"));
    }

    #[test]
    fn suspending_returns_runs_in_flight_to_pending_and_cancelling_ends_everything_unfinished() {
        let running = observe_run(&intent("core", 1), &run("in_progress", None), t(5));
        let paused = suspended(&running);
        assert_eq!((paused.state, paused.attempts), (S::Pending, 1));
        let done = observe_run(&running, &run("completed", Some("success")), t(80));
        assert_eq!(suspended(&done), done);
        assert_eq!(cancelled(&running, "plan deleted", t(9)).state, S::Cancelled);
        assert_eq!(cancelled(&pending("lib"), "plan deleted", t(9)).state, S::Cancelled);
        assert_eq!(cancelled(&done, "plan deleted", t(9)).state, S::Succeeded);
    }

    #[test]
    fn only_repositories_whose_dependencies_may_all_be_cached_are_candidates() {
        let repo = |name: &str, deps: &[&str]| SelectedRepository {
            name: name.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            head_already_built: false,
            expected_duration: SignedDuration::from_secs(60),
            unbuildable: None,
        };
        let selected = [
            repo("core", &[]),
            repo("lib", &["core", "outside"]),
            repo("app", &["lib"]),
            repo("web", &["api"]),
            repo("api", &[]),
        ];
        let mut current = BTreeMap::new();
        current.insert("api".to_string(), intent("api", 1));
        let names: Vec<String> = cache_candidates(&selected, &current).into_iter().collect();
        assert_eq!(names, ["app", "core", "lib"]);
        current.insert("core".to_string(), intent("core", 1));
        assert!(cache_candidates(&selected, &current).is_empty());
    }

    #[test]
    fn transitions_name_each_change_once() {
        let before = vec![pending("core"), intent("lib", 1)];
        let after = vec![intent("core", 1), intent("lib", 1), pending("new")];
        let changes = transitions(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].repository.as_str(), changes[0].from, changes[0].to),
            ("core", Some(S::Pending), S::Dispatching)
        );
        assert!(transitions(&after, &after).is_empty());
    }

    #[test]
    fn a_dispatch_is_announced_with_the_commands_it_sent() {
        let mut sent = intent("core", 1);
        sent.build_command = Some("cargo build --locked".into());
        sent.test_command = Some("cargo test".into());
        let changes = transitions(&[pending("core")], std::slice::from_ref(&sent));
        assert_eq!(changes[0].detail.as_deref(), Some("build \"cargo build --locked\", test \"cargo test\""));
        sent.run_url = Some("https://github.test/acme/core/actions/runs/42".into());
        let changes = transitions(&[pending("core")], std::slice::from_ref(&sent));
        assert_eq!(
            changes[0].detail.as_deref(),
            Some("build \"cargo build --locked\", test \"cargo test\"; https://github.test/acme/core/actions/runs/42")
        );
        let running = RepositoryBuild { state: S::Running, ..sent.clone() };
        let changes = transitions(std::slice::from_ref(&sent), &[running]);
        assert_eq!(changes[0].detail.as_deref(), Some("https://github.test/acme/core/actions/runs/42"), "said once");
        assert_eq!(transitions(&[pending("x")], &[intent("x", 1)])[0].detail, None, "nothing sent, nothing said");
    }
}
