//! Unit tests, one per rule, and property tests through the simulation.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::simulate::{self, AttemptOutcome, SimulatedEvent, SimulatedRepository};
use super::*;
use crate::crd::build_plan::{BuildPlanPhase, FailurePolicy, RepositoryBuildState as S};

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn repo(name: &str, deps: &[&str]) -> SelectedRepository {
    SelectedRepository {
        name: name.into(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        head_already_built: false,
        expected_duration: SignedDuration::from_secs(60),
        unbuildable: None,
    }
}

fn policy(max_parallel: u32, failure_policy: FailurePolicy) -> SchedulePolicy {
    SchedulePolicy {
        max_parallel,
        timeout: SignedDuration::from_mins(60),
        retry_attempts: 2,
        failure_policy,
        only_changed: false,
    }
}

fn progress(state: S, attempts: u32, started: Option<i64>, finished: Option<i64>) -> BuildProgress {
    BuildProgress { state, attempts, started_at: started.map(t), finished_at: finished.map(t) }
}

fn states(entries: &[(&str, BuildProgress)]) -> BTreeMap<String, BuildProgress> {
    entries.iter().map(|(n, p)| (n.to_string(), *p)).collect()
}

fn dispatched(steps: &NextSteps) -> Vec<&str> {
    steps.dispatch.iter().map(|d| d.repository.as_str()).collect()
}

fn skipped(steps: &NextSteps) -> Vec<&str> {
    steps.skip.iter().map(|s| s.repository.as_str()).collect()
}

/// core ← lib ← app, core ← tool, plus an independent `docs`.
fn org() -> Vec<SelectedRepository> {
    vec![repo("app", &["lib"]), repo("lib", &["core"]), repo("core", &[]), repo("tool", &["core"]), repo("docs", &[])]
}

#[test]
fn first_call_dispatches_roots_by_longest_remaining_path_then_name() {
    let steps =
        next_steps(&org(), &BTreeMap::new(), &policy(10, FailurePolicy::SkipDependents), "run-1", t(0)).unwrap();
    // core has three repositories behind it on its longest path, docs one.
    assert_eq!(dispatched(&steps), ["core", "docs"]);
    assert_eq!(steps.dispatch[0].attempt, 1);
    assert_eq!(steps.dispatch[0].correlation_id, correlation_id("run-1", "core", 1));
    assert_eq!(steps.order, ["core", "docs", "lib", "app", "tool"]);
    assert_eq!(steps.phase, BuildPlanPhase::Running);
    assert_eq!(steps.progress, "0/5");
    assert_eq!(steps.requeue_at, Some(t(3600)));
}

#[test]
fn dependents_start_as_soon_as_their_own_dependencies_succeed() {
    // No wave barrier: lib starts while docs (same level as core) still runs.
    let current = states(&[
        ("core", progress(S::Succeeded, 1, Some(0), Some(60))),
        ("docs", progress(S::Running, 1, Some(0), None)),
    ]);
    let steps = next_steps(&org(), &current, &policy(10, FailurePolicy::SkipDependents), "r", t(60)).unwrap();
    assert_eq!(dispatched(&steps), ["lib", "tool"]);
    assert_eq!(steps.counts, BuildCounts { total: 5, pending: 1, running: 3, succeeded: 1, failed: 0, skipped: 0 });
}

#[test]
fn max_parallel_counts_dispatching_queued_and_running() {
    let many: Vec<SelectedRepository> = ["a", "b", "c", "d", "e"].iter().map(|n| repo(n, &[])).collect();
    let current = states(&[
        ("a", progress(S::Dispatching, 1, Some(0), None)),
        ("b", progress(S::Queued, 1, Some(0), None)),
        ("c", progress(S::Running, 1, Some(0), None)),
    ]);
    let steps = next_steps(&many, &current, &policy(4, FailurePolicy::SkipDependents), "r", t(1)).unwrap();
    assert_eq!(dispatched(&steps), ["d"]);
    let full = next_steps(&many, &current, &policy(3, FailurePolicy::SkipDependents), "r", t(1)).unwrap();
    assert!(full.dispatch.is_empty());
}

#[test]
fn timed_out_run_is_cancelled_and_counted_as_a_failed_attempt() {
    let current = states(&[("core", progress(S::Running, 1, Some(0), None))]);
    let steps = next_steps(&org(), &current, &policy(1, FailurePolicy::SkipDependents), "r", t(3600)).unwrap();
    assert_eq!(steps.cancel, [Cancellation { repository: "core".into(), attempt: 1, started_at: t(0) }]);
    // Its slot is free again, the retry waits for its backoff, and docs takes the slot.
    assert_eq!(dispatched(&steps), ["docs"]);
    assert_eq!(steps.retry_later, [Retry { repository: "core".into(), attempt: 2, not_before: t(3630) }]);
    let before = next_steps(&org(), &current, &policy(1, FailurePolicy::SkipDependents), "r", t(3599)).unwrap();
    assert!(before.cancel.is_empty());
}

#[test]
fn retries_back_off_exponentially_up_to_retry_attempts() {
    assert_eq!(retry_backoff(1), SignedDuration::from_secs(30));
    assert_eq!(retry_backoff(2), SignedDuration::from_secs(60));
    assert_eq!(retry_backoff(3), SignedDuration::from_secs(120));
    assert_eq!(retry_backoff(30), RETRY_BACKOFF_MAX);
    let p = policy(10, FailurePolicy::SkipDependents);
    let cases = [
        // (attempts, failed at, now, dispatched again?, still waiting?)
        (1, 100, 129, false, true),
        (1, 100, 130, true, false),
        (2, 100, 159, false, true),
        (2, 100, 160, true, false),
        (3, 100, 10_000, false, false), // 1 + retry_attempts made: final
    ];
    for (attempts, failed_at, now, again, waiting) in cases {
        let current = states(&[("docs", progress(S::Failed, attempts, Some(0), Some(failed_at)))]);
        let only_docs = [repo("docs", &[])];
        let steps = next_steps(&only_docs, &current, &p, "r", t(now)).unwrap();
        assert_eq!(!steps.dispatch.is_empty(), again, "attempts {attempts} at {now}");
        assert_eq!(!steps.retry_later.is_empty(), waiting, "attempts {attempts} at {now}");
        if again {
            assert_eq!(steps.dispatch[0].attempt, attempts + 1);
        }
        let final_failure = !again && !waiting;
        assert_eq!(steps.phase == BuildPlanPhase::Failed, final_failure);
    }
}

#[test]
fn skip_dependents_skips_exactly_the_transitive_dependents() {
    let current = states(&[
        ("core", progress(S::Failed, 3, Some(0), Some(60))),
        ("docs", progress(S::Running, 1, Some(0), None)),
    ]);
    let steps = next_steps(&org(), &current, &policy(10, FailurePolicy::SkipDependents), "r", t(60)).unwrap();
    assert_eq!(skipped(&steps), ["lib", "app", "tool"]);
    assert_eq!(steps.skip[1].reason, SkipReason::DependencyFailed { dependency: "core".into() });
    assert_eq!(steps.skip[1].reason.message(), "dependency core did not succeed");
    assert!(steps.dispatch.is_empty());
    assert_eq!(steps.phase, BuildPlanPhase::Running);
    assert_eq!(steps.progress, "4/5");
}

#[test]
fn a_pending_repository_with_earlier_attempts_is_skipped_too() {
    // Reset to Pending after an attempt (say by hand): it must not wait forever behind a failed dependency.
    let current =
        states(&[("core", progress(S::Failed, 3, Some(0), Some(60))), ("lib", progress(S::Pending, 1, Some(0), None))]);
    let steps = next_steps(&org(), &current, &policy(10, FailurePolicy::SkipDependents), "r", t(60)).unwrap();
    assert!(skipped(&steps).contains(&"lib"));
}

#[test]
fn priority_weighs_the_expected_durations_of_the_remaining_path() {
    // `quick` leads a chain of two short builds (2 × 60 s); `slow` alone takes 600 s: slow goes first.
    let mut selected = vec![repo("quick", &[]), repo("after-quick", &["quick"]), repo("slow", &[])];
    selected[2].expected_duration = SignedDuration::from_secs(600);
    let steps = next_steps(&selected, &BTreeMap::new(), &policy(1, FailurePolicy::SkipDependents), "r", t(0)).unwrap();
    assert_eq!(dispatched(&steps), ["slow"]);
    selected[2].expected_duration = SignedDuration::from_secs(100);
    let steps = next_steps(&selected, &BTreeMap::new(), &policy(1, FailurePolicy::SkipDependents), "r", t(0)).unwrap();
    assert_eq!(dispatched(&steps), ["quick"]);
}

#[test]
fn stop_skips_everything_not_started_and_lets_runs_finish() {
    let current = states(&[
        ("docs", progress(S::Failed, 3, Some(0), Some(60))),
        ("core", progress(S::Running, 1, Some(0), None)),
    ]);
    let steps = next_steps(&org(), &current, &policy(10, FailurePolicy::Stop), "r", t(60)).unwrap();
    assert_eq!(skipped(&steps), ["lib", "app", "tool"]);
    assert_eq!(steps.skip[0].reason, SkipReason::PlanStopped { after: "docs".into() });
    assert!(steps.cancel.is_empty());
    assert!(steps.dispatch.is_empty());
    assert_eq!(steps.counts.running, 1);
}

#[test]
fn stop_turns_a_pending_retry_into_a_final_failure() {
    let current = states(&[
        ("docs", progress(S::Failed, 3, Some(0), Some(60))),
        ("core", progress(S::Failed, 1, Some(0), Some(60))),
    ]);
    let steps = next_steps(&org(), &current, &policy(10, FailurePolicy::Stop), "r", t(10_000)).unwrap();
    assert!(steps.dispatch.is_empty());
    assert!(steps.retry_later.is_empty());
    assert_eq!(steps.counts.failed, 2);
    assert_eq!(steps.phase, BuildPlanPhase::Failed);
}

#[test]
fn continue_builds_dependents_once_their_dependencies_are_terminal() {
    let p = policy(10, FailurePolicy::Continue);
    let failed = states(&[("core", progress(S::Failed, 3, Some(0), Some(60)))]);
    let steps = next_steps(&org(), &failed, &p, "r", t(60)).unwrap();
    assert!(steps.skip.is_empty());
    assert_eq!(dispatched(&steps), ["lib", "docs", "tool"]);
    // A dependency with a retry left is not terminal yet: its dependents wait.
    let retrying = states(&[("core", progress(S::Failed, 1, Some(0), Some(60)))]);
    let steps = next_steps(&org(), &retrying, &p, "r", t(60)).unwrap();
    assert_eq!(dispatched(&steps), ["docs"]);
}

#[test]
fn only_changed_caches_unchanged_chains_and_rebuilds_dependents_of_a_rebuilt_one() {
    let mut repos = org();
    for r in &mut repos {
        r.head_already_built = r.name != "lib";
    }
    let p = SchedulePolicy { only_changed: true, ..policy(10, FailurePolicy::SkipDependents) };
    let steps = next_steps(&repos, &BTreeMap::new(), &p, "r", t(0)).unwrap();
    // core, docs and tool are cached in one call; lib changed so it and app (which depends on it) rebuild.
    assert_eq!(steps.cache, ["core", "docs", "tool"]);
    assert_eq!(dispatched(&steps), ["lib"]);
    assert_eq!(steps.counts.succeeded, 3);
    // Without onlyChanged nothing is cached.
    let all = next_steps(&repos, &BTreeMap::new(), &policy(10, FailurePolicy::SkipDependents), "r", t(0)).unwrap();
    assert!(all.cache.is_empty());
}

#[test]
fn dependencies_outside_the_selection_hold_nothing_back() {
    let selected = [repo("app", &["lib", "not-selected"]), repo("lib", &["also-not-selected"])];
    let steps = next_steps(&selected, &BTreeMap::new(), &policy(10, FailurePolicy::SkipDependents), "r", t(0)).unwrap();
    assert_eq!(dispatched(&steps), ["lib"]);
}

#[test]
fn a_cycle_makes_the_plan_invalid_and_names_it() {
    let selected = [repo("a", &["b"]), repo("b", &["c"]), repo("c", &["a"]), repo("d", &[])];
    let error =
        next_steps(&selected, &BTreeMap::new(), &policy(10, FailurePolicy::SkipDependents), "r", t(0)).unwrap_err();
    assert_eq!(error.to_string(), "dependency cycle among the selected repositories: a → b → c → a");
    assert_eq!(error.category(), "DependencyCycle");
}

#[test]
fn phase_follows_the_repositories() {
    let p = policy(10, FailurePolicy::SkipDependents);
    let one = [repo("a", &[])];
    let cases = [
        (S::Succeeded, 1, BuildPlanPhase::Succeeded, "1/1"),
        (S::Cached, 0, BuildPlanPhase::Succeeded, "1/1"),
        (S::Failed, 3, BuildPlanPhase::Failed, "1/1"),
        (S::Running, 1, BuildPlanPhase::Running, "0/1"),
        (S::Cancelled, 1, BuildPlanPhase::Failed, "1/1"),
    ];
    for (state, attempts, phase, done) in cases {
        let current = states(&[("a", progress(state, attempts, Some(0), Some(10)))]);
        let steps = next_steps(&one, &current, &p, "r", t(20)).unwrap();
        assert_eq!((steps.phase, steps.progress.as_str()), (phase, done), "{state:?}");
    }
    let none = next_steps(&[], &BTreeMap::new(), &p, "r", t(0)).unwrap();
    assert_eq!((none.phase, none.progress.as_str()), (BuildPlanPhase::Succeeded, "0/0"));
}

#[test]
fn the_same_observation_gives_the_same_steps() {
    let current = states(&[("core", progress(S::Succeeded, 1, Some(0), Some(60)))]);
    let p = policy(2, FailurePolicy::SkipDependents);
    assert_eq!(next_steps(&org(), &current, &p, "r", t(60)), next_steps(&org(), &current, &p, "r", t(60)));
}

#[test]
fn correlation_ids_are_deterministic_and_distinct() {
    assert_eq!(correlation_id("run", "app", 1), correlation_id("run", "app", 1));
    let ids: BTreeSet<String> =
        [("run", "app", 1), ("run", "app", 2), ("run", "lib", 1), ("run2", "app", 1), ("ru", "napp", 1)]
            .iter()
            .map(|(r, n, a)| correlation_id(r, n, *a))
            .collect();
    assert_eq!(ids.len(), 5);
    assert!(correlation_id("run", "app", 2).ends_with("-2"));
}

#[test]
fn unset_fields_take_the_operators_build_defaults_and_set_ones_win() {
    let defaults = ScheduleDefaults { max_parallel: 7, timeout_minutes: 45, retry_attempts: 2 };
    let spec: crate::crd::build_plan::BuildPlanSpec =
        serde_json::from_value(serde_json::json!({"organizationRef": {"name": "org"}})).unwrap();
    assert_eq!(
        SchedulePolicy::resolve(&spec, &defaults),
        SchedulePolicy {
            max_parallel: 7,
            timeout: SignedDuration::from_mins(45),
            retry_attempts: 2,
            failure_policy: FailurePolicy::SkipDependents,
            only_changed: false,
        }
    );
    let spec: crate::crd::build_plan::BuildPlanSpec = serde_json::from_value(serde_json::json!({
        "organizationRef": {"name": "org"}, "maxParallel": 3, "timeoutMinutes": 5, "retryAttempts": 0
    }))
    .unwrap();
    let own = SchedulePolicy::resolve(&spec, &defaults);
    assert_eq!((own.max_parallel, own.timeout, own.retry_attempts), (3, SignedDuration::from_mins(5), 0));
}

// ---- Property tests through the simulation ----

/// A random DAG: node i may depend on any node j < i, so there is never a cycle.
fn dag_and_outcomes() -> impl Strategy<Value = (Vec<SimulatedRepository>, u32, u32, FailurePolicy)> {
    (1usize..=40).prop_flat_map(|n| {
        let edges = proptest::collection::vec(proptest::collection::vec(any::<bool>(), n), n);
        let durations = proptest::collection::vec(1i64..=600, n);
        let outcome = prop_oneof![
            6 => Just(AttemptOutcome::Success),
            2 => Just(AttemptOutcome::Failure),
            1 => Just(AttemptOutcome::Hang),
        ];
        let outcomes = proptest::collection::vec(proptest::collection::vec(outcome, 0..4), n);
        let built = proptest::collection::vec(any::<bool>(), n);
        let policy =
            prop_oneof![Just(FailurePolicy::SkipDependents), Just(FailurePolicy::Stop), Just(FailurePolicy::Continue)];
        (edges, durations, outcomes, built, 1u32..=8, 0u32..=3, policy).prop_map(
            |(edges, durations, outcomes, built, max_parallel, retries, policy)| {
                let repos = (0..edges.len())
                    .map(|i| SimulatedRepository {
                        selected: SelectedRepository {
                            name: format!("r{i:02}"),
                            // Sparse: about one edge in four to an earlier node.
                            depends_on: (0..i)
                                .filter(|&j| edges[i][j] && edges[j][i])
                                .map(|j| format!("r{j:02}"))
                                .collect(),
                            head_already_built: built[i],
                            expected_duration: SignedDuration::from_secs(durations[i]),
                            unbuildable: None,
                        },
                        duration_secs: durations[i],
                        outcomes: outcomes[i].clone(),
                    })
                    .collect();
                (repos, max_parallel, retries, policy)
            },
        )
    })
}

fn terminal(state: S) -> bool {
    matches!(state, S::Succeeded | S::Cached | S::Failed | S::Skipped)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn simulated_runs_obey_every_rule(
        (repos, max_parallel, retries, failure_policy) in dag_and_outcomes(),
        only_changed in any::<bool>(),
    ) {
        let p = SchedulePolicy {
            max_parallel,
            timeout: SignedDuration::from_secs(900),
            retry_attempts: retries,
            failure_policy,
            only_changed,
        };
        let report = simulate::run(&repos, &p).unwrap();
        prop_assert!(report.completed, "the run did not finish: {:?}", report.final_states);
        prop_assert!(report.max_in_flight <= max_parallel as usize);

        // Every repository ends in exactly one terminal state (final_states holds one state per name).
        prop_assert_eq!(report.final_states.len(), repos.len());
        for state in report.final_states.values() {
            prop_assert!(terminal(state.state), "{:?}", state);
            prop_assert!(state.attempts <= retries + 1);
        }

        // Replay the events: dispatches happen only after every dependency reached the required state.
        let deps: BTreeMap<&str, &[String]> =
            repos.iter().map(|r| (r.selected.name.as_str(), r.selected.depends_on.as_slice())).collect();
        let mut reached: BTreeMap<String, S> = BTreeMap::new();
        let mut attempts: BTreeMap<&str, u32> = BTreeMap::new();
        let mut marked: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, name, event) in &report.events {
            match event {
                SimulatedEvent::Dispatched { attempt } => {
                    let count = attempts.entry(name.as_str()).or_default();
                    *count += 1;
                    prop_assert_eq!(*attempt, *count);
                    prop_assert!(*attempt <= retries + 1);
                    for d in deps[name.as_str()] {
                        let state = reached.get(d).copied();
                        let ok = match failure_policy {
                            FailurePolicy::Continue => state.is_some_and(terminal),
                            _ => matches!(state, Some(S::Succeeded | S::Cached)),
                        };
                        prop_assert!(ok, "{} started before {} was done ({:?})", name, d, state);
                    }
                }
                SimulatedEvent::Finished { outcome: AttemptOutcome::Success, .. } => {
                    reached.insert(name.clone(), S::Succeeded);
                }
                SimulatedEvent::Finished { attempt, .. } | SimulatedEvent::TimedOut { attempt } => {
                    // Terminal only once no retry is left (or the plan stopped, which the final state shows).
                    if *attempt == retries + 1 || report.final_states[name].attempts == *attempt {
                        reached.insert(name.clone(), S::Failed);
                    }
                }
                SimulatedEvent::Cached => {
                    *marked.entry(name.as_str()).or_default() += 1;
                    reached.insert(name.clone(), S::Cached);
                }
                SimulatedEvent::Skipped(_) => {
                    *marked.entry(name.as_str()).or_default() += 1;
                    reached.insert(name.clone(), S::Skipped);
                }
            }
        }
        // Cached and Skipped are decided once and never after an attempt.
        for (name, count) in &marked {
            prop_assert_eq!(*count, 1);
            prop_assert!(!attempts.contains_key(name));
        }

        let graph = crate::plan::depgraph::DependencyGraph::new(
            repos.iter().map(|r| (r.selected.name.clone(), r.selected.depends_on.clone())),
        );
        let failed: Vec<&str> =
            report.final_states.iter().filter(|(_, p)| p.state == S::Failed).map(|(n, _)| n.as_str()).collect();
        let skipped: BTreeSet<&str> =
            report.final_states.iter().filter(|(_, p)| p.state == S::Skipped).map(|(n, _)| n.as_str()).collect();
        match failure_policy {
            FailurePolicy::SkipDependents => {
                let expected: BTreeSet<&str> = failed.iter().flat_map(|f| graph.transitive_dependents(f)).collect();
                prop_assert_eq!(&skipped, &expected);
            }
            FailurePolicy::Continue => {
                // Dependents build anyway: everything not cached was attempted.
                prop_assert!(skipped.is_empty());
                for (name, progress) in &report.final_states {
                    prop_assert!(progress.state == S::Cached || progress.attempts > 0, "{} never ran", name);
                }
            }
            FailurePolicy::Stop => {
                if failed.is_empty() {
                    prop_assert!(skipped.is_empty());
                }
                // Nothing starts after the first final failure (an attempt that used the last retry).
                let first_final = report.events.iter().position(|(_, _, e)| match e {
                    SimulatedEvent::Finished { attempt, outcome: AttemptOutcome::Failure }
                    | SimulatedEvent::TimedOut { attempt } => *attempt == retries + 1,
                    _ => false,
                });
                if let Some(first_final) = first_final {
                    let later_dispatch = report.events[first_final..]
                        .iter()
                        .find(|(_, _, e)| matches!(e, SimulatedEvent::Dispatched { .. }));
                    prop_assert!(later_dispatch.is_none(), "dispatched after the plan stopped: {:?}", later_dispatch);
                }
            }
        }

        // onlyChanged: Cached only when the head was built and no dependency was rebuilt.
        let built: BTreeMap<&str, bool> =
            repos.iter().map(|r| (r.selected.name.as_str(), r.selected.head_already_built)).collect();
        for (name, progress) in &report.final_states {
            if progress.state == S::Cached {
                prop_assert!(only_changed && built[name.as_str()]);
                for d in deps[name.as_str()] {
                    prop_assert_eq!(report.final_states[d].state, S::Cached);
                }
            } else if only_changed && built[name.as_str()] && failure_policy != FailurePolicy::Stop {
                let all_cached = deps[name.as_str()].iter().all(|d| report.final_states[d].state == S::Cached);
                prop_assert!(!all_cached, "{} should have been cached", name);
            }
        }

        let expected_phase = if failed.is_empty() && skipped.is_empty() {
            BuildPlanPhase::Succeeded
        } else {
            BuildPlanPhase::Failed
        };
        prop_assert_eq!(report.phase, expected_phase);
    }

    #[test]
    fn without_failures_the_makespan_lies_between_the_lower_bound_and_twice_it(
        (mut repos, max_parallel, _, _) in dag_and_outcomes(),
    ) {
        for r in &mut repos {
            r.outcomes.clear();
        }
        let p = SchedulePolicy {
            max_parallel,
            timeout: SignedDuration::from_secs(900),
            retry_attempts: 0,
            failure_policy: FailurePolicy::SkipDependents,
            only_changed: false,
        };
        let report = simulate::run(&repos, &p).unwrap();
        prop_assert!(report.completed);
        prop_assert_eq!(report.phase, BuildPlanPhase::Succeeded);
        let bound = simulate::lower_bound_secs(&repos, max_parallel).unwrap();
        prop_assert!(report.makespan_secs as f64 >= bound);
        // Graham's bound for any list schedule without idle slots: at most twice optimal.
        prop_assert!((report.makespan_secs as f64) <= 2.0 * bound);
    }
}

#[test]
fn status_entries_become_progress_by_name() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let entry = RepositoryBuild {
        name: "core".into(),
        state: S::Failed,
        attempts: 2,
        correlation_id: Some(correlation_id("r", "core", 2)),
        build_command: None,
        test_command: None,
        run_id: Some(7),
        run_url: None,
        head_sha: None,
        conclusion: None,
        duration_seconds: None,
        start_time: Some(Time(t(0))),
        completion_time: Some(Time(t(90))),
        reason: None,
    };
    let map = progress_by_name(&[entry]);
    assert_eq!(map["core"], progress(S::Failed, 2, Some(0), Some(90)));
}

#[test]
fn a_repository_without_a_workflow_is_skipped_and_so_are_its_dependents() {
    let mut repos = org();
    if let Some(core) = repos.iter_mut().find(|r| r.name == "core") {
        core.unbuildable = Some("no workflow accepts workflow_dispatch".into());
    }
    let steps =
        next_steps(&repos, &BTreeMap::new(), &policy(10, FailurePolicy::SkipDependents), "run-1", t(0)).unwrap();
    assert_eq!(dispatched(&steps), ["docs"]);
    let skipped_set: BTreeSet<&str> = skipped(&steps).into_iter().collect();
    assert_eq!(skipped_set, BTreeSet::from(["core", "lib", "tool", "app"]));
    assert_eq!(steps.skip[0].reason, SkipReason::NotBuildable { why: "no workflow accepts workflow_dispatch".into() });
    assert_eq!(steps.skip[1].reason, SkipReason::DependencyFailed { dependency: "core".into() });
    // Continue still builds the dependents, but never the repository itself.
    let steps = next_steps(&repos, &BTreeMap::new(), &policy(10, FailurePolicy::Continue), "run-1", t(0)).unwrap();
    assert_eq!(skipped(&steps), ["core"]);
    assert!(dispatched(&steps).contains(&"lib"));
}
