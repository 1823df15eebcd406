//! BuildPlan integration tests: the controller against the real API server and github-sim, whose clock moves on
//! by itself so that dispatched runs queue, run and finish.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::{OutcomeFixture, OutcomeKind};
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::{BuildPlan, HasConditions};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::build_plans::{
    build_plan, dispatched_runs, dispatches, entry, repository, simulated_org, until_phase, BuildPlanController,
    SimClock,
};
use support::sim_org::organization_on;
use support::{cluster, events_about, eventually, namespace};

/// core ← lib ← {api, web}, core ← cli, and docs alone; lib's edge to core and web's to lib are discovered ones.
const GRAPH: &[(&str, &[&str], &[&str])] = &[
    ("core", &[], &[]),
    ("lib", &[], &["core"]),
    ("api", &["lib"], &[]),
    ("web", &[], &["lib"]),
    ("cli", &["core"], &[]),
    ("docs", &[], &[]),
];

fn names() -> Vec<&'static str> {
    GRAPH.iter().map(|(name, _, _)| *name).collect()
}

fn dependencies_of(name: &str) -> Vec<&'static str> {
    GRAPH
        .iter()
        .filter(|(n, _, _)| *n == name)
        .flat_map(|(_, spec, found)| spec.iter().chain(found.iter()))
        .copied()
        .collect()
}

/// Checks that every repository of `graph` (name → dependencies) was built once, by the run its entry names, and
/// none started before each of its dependencies had finished; returns the most runs that were in flight at once.
fn built_in_dependency_order(
    sim: &github_sim::SimHandle,
    plan: &BuildPlan,
    graph: &BTreeMap<String, Vec<String>>,
) -> usize {
    let mut intervals = BTreeMap::new();
    for name in graph.keys() {
        let runs = dispatched_runs(sim, name);
        let [run] = runs.as_slice() else { panic!("{name}: {runs:?}") };
        let built = entry(plan, name);
        assert_eq!((built.state, built.attempts, built.run_id), (S::Succeeded, 1, Some(run.id)), "{name}");
        assert_eq!(built.conclusion.as_deref(), Some("success"));
        assert!(run.title.contains(built.correlation_id.as_deref().unwrap()), "{name}: {}", run.title);
        assert!(built.run_url.as_deref().is_some_and(|url| url.ends_with(&format!("/runs/{}", run.id))));
        intervals.insert(name.clone(), (run.created, run.completed.expect("completed")));
    }
    for (name, dependencies) in graph {
        let (created, _) = intervals[name];
        for dependency in dependencies {
            let (_, finished) = intervals[dependency];
            assert!(created >= finished, "{name} started at {created}, before {dependency} finished at {finished}");
        }
    }
    let spans: Vec<(i64, i64)> = intervals.values().copied().collect();
    spans.iter().map(|(start, _)| spans.iter().filter(|(s, e)| s <= start && start < e).count()).max().unwrap_or(0)
}

/// Creates the six Repository objects of [`GRAPH`].
async fn repositories(client: &kube::Client, ns: &str) {
    for (name, spec, found) in GRAPH {
        repository(client, ns, name, spec, found).await;
    }
}

#[tokio::test]
async fn a_plan_builds_six_repositories_in_dependency_order_within_max_parallel() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-order").await;
    let sim = simulated_org(&names(), 20).await;
    // Five simulated seconds a second: each run is in progress for 4 s of real time, four times the controller's
    // shortest requeue, so that every run is seen running (the answer to the dispatch names the run while queued).
    let _clock = SimClock::every(&sim, 1, Duration::from_millis(200));
    organization_on(&cluster.client, &ns, &sim).await;
    repositories(&cluster.client, &ns).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "all", json!({ "maxParallel": 2 })).await;

    let plan = until_phase(&plans, "all", BuildPlanPhase::Succeeded, Duration::from_secs(120)).await;
    let status = plan.status.clone().unwrap();
    assert_eq!(status.progress.as_deref(), Some("6/6"));
    let counts = status.counts.clone().unwrap();
    assert_eq!((counts.total, counts.succeeded, counts.failed, counts.skipped), (6, 6, 0, 0));
    let ready = find_condition(plan.conditions(), "Ready").unwrap();
    assert_eq!((ready.reason.as_str(), ready.observed_generation), ("Succeeded", plan.metadata.generation));
    assert!(find_condition(plan.conditions(), "Reconciling").is_none());

    // Each repository was dispatched once, and its entry names the run the simulator made.
    let log = sim.requests();
    assert_eq!(dispatches(&log), names().iter().map(|n| (n.to_string(), 1)).collect::<BTreeMap<_, _>>());
    let graph: BTreeMap<String, Vec<String>> =
        names().iter().map(|n| (n.to_string(), dependencies_of(n).iter().map(|d| d.to_string()).collect())).collect();
    let most = built_in_dependency_order(&sim, &plan, &graph);
    assert_eq!(most, 2, "never more than maxParallel runs at once, and both slots used");
    for name in names() {
        assert_eq!(entry(&plan, name).duration_seconds, Some(25), "{name}: 5 s queued and 20 s running");
    }
    // Status lists the repositories dependencies first.
    let order: Vec<&str> = status.repositories.iter().map(|e| e.name.as_str()).collect();
    let position = |n: &str| order.iter().position(|o| *o == n).unwrap();
    assert!(
        position("core") < position("lib") && position("lib") < position("api") && position("lib") < position("web")
    );

    // The Events of the last transitions are published just after the status that shows them.
    let notes = eventually("the run's Events", Duration::from_secs(10), || async {
        let notes = events_about(&cluster.client, &ns, "all").await;
        notes.iter().any(|n| n.contains("ended Succeeded")).then_some(notes)
    })
    .await;
    assert!(notes.iter().any(|n| n.starts_with("Run ") && n.contains("started over 6 repositories")), "{notes:?}");
    assert_eq!(notes.iter().filter(|n| n.contains("Running → Succeeded")).count(), 6, "{notes:?}");
    controller.shutdown().await;
}

#[tokio::test]
async fn a_twenty_repository_dag_runs_in_topological_order_within_max_parallel() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-dag20").await;
    // Seeded layers of five: each repository past the first layer depends on one to three of the layer before.
    let mut rng = fastrand::Rng::with_seed(20);
    let names: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let layer = i / 5;
        let mut dependencies: Vec<String> = if layer == 0 {
            Vec::new()
        } else {
            (0..rng.usize(1..=3)).map(|_| names[(layer - 1) * 5 + rng.usize(0..5)].clone()).collect()
        };
        dependencies.sort();
        dependencies.dedup();
        graph.insert(name.clone(), dependencies);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sim = simulated_org(&refs, 10).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    for (name, dependencies) in &graph {
        let dependencies: Vec<&str> = dependencies.iter().map(String::as_str).collect();
        repository(&cluster.client, &ns, name, &dependencies, &[]).await;
    }
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "dag", json!({ "maxParallel": 4 })).await;
    let plan = until_phase(&plans, "dag", BuildPlanPhase::Succeeded, Duration::from_secs(180)).await;
    let most = built_in_dependency_order(&sim, &plan, &graph);
    assert!((2..=4).contains(&most), "at most maxParallel runs at once, and more than one: {most}");
    assert_eq!(dispatches(&sim.requests()).values().sum::<usize>(), 20);
    controller.shutdown().await;
}

#[tokio::test]
async fn a_failing_repository_skips_exactly_its_dependents() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-failure").await;
    let sim = simulated_org(&names(), 10).await;
    sim.set_outcome(
        "acme",
        "lib",
        None,
        OutcomeFixture { result: OutcomeKind::Failure, duration_secs: 10, ..Default::default() },
    );
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repositories(&cluster.client, &ns).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "all", json!({ "maxParallel": 3, "retryAttempts": 0 })).await;

    let plan = until_phase(&plans, "all", BuildPlanPhase::Failed, Duration::from_secs(120)).await;
    let states: BTreeMap<&str, S> = names().into_iter().map(|n| (n, entry(&plan, n).state)).collect();
    let expected = [
        ("api", S::Skipped),
        ("cli", S::Succeeded),
        ("core", S::Succeeded),
        ("docs", S::Succeeded),
        ("lib", S::Failed),
        ("web", S::Skipped),
    ];
    assert_eq!(states, BTreeMap::from(expected));
    assert_eq!(entry(&plan, "lib").conclusion.as_deref(), Some("failure"));
    assert_eq!(entry(&plan, "api").reason.as_deref(), Some("dependency lib did not succeed"));
    assert_eq!(entry(&plan, "web").attempts, 0);
    let dispatched: Vec<String> = dispatches(&sim.requests()).into_keys().collect();
    assert_eq!(dispatched, ["cli", "core", "docs", "lib"], "the skipped repositories were never dispatched");
    let ready = find_condition(plan.conditions(), "Ready").unwrap();
    assert_eq!(ready.reason, "BuildFailed");
    assert!(
        ready.message.contains("failed [lib]") && ready.message.contains("skipped [api, web]"),
        "{}",
        ready.message
    );
    controller.shutdown().await;
}

#[tokio::test]
async fn only_changed_skips_built_repositories_and_rebuilds_the_dependents_of_a_changed_one() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-only-changed").await;
    // Every head already has a successful build (the fixture's push runs); then lib gets a new commit.
    let sim = simulated_org(&names(), 10).await;
    let files = BTreeMap::from([("src/lib.rs".to_string(), Some("pub fn changed() {}\n".to_string()))]);
    let new_head = sim.commit_files("acme", "lib", &files, "change lib").expect("a commit");
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repositories(&cluster.client, &ns).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "changed", json!({ "onlyChanged": true })).await;

    let plan = until_phase(&plans, "changed", BuildPlanPhase::Succeeded, Duration::from_secs(120)).await;
    let states: BTreeMap<&str, S> = names().into_iter().map(|n| (n, entry(&plan, n).state)).collect();
    let expected = [
        ("api", S::Succeeded),
        ("cli", S::Cached),
        ("core", S::Cached),
        ("docs", S::Cached),
        ("lib", S::Succeeded),
        ("web", S::Succeeded),
    ];
    assert_eq!(states, BTreeMap::from(expected));
    assert_eq!(entry(&plan, "lib").head_sha.as_deref(), Some(new_head.as_str()));
    let core_head = sim.runs("acme", "core")[0]["head_sha"].as_str().map(String::from);
    assert_eq!(entry(&plan, "core").head_sha, core_head, "a Cached entry names the commit already built");
    let dispatched: Vec<String> = dispatches(&sim.requests()).into_keys().collect();
    assert_eq!(dispatched, ["api", "lib", "web"]);
    assert_eq!(plan.status.unwrap().counts.unwrap().succeeded, 6, "cached repositories count as succeeded");
    controller.shutdown().await;
}

#[tokio::test]
async fn suspending_and_deleting_a_running_plan_cancel_its_runs() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-cancel").await;
    // Runs that take a simulated day: only a cancellation ends them during the test.
    let sim = simulated_org(&["core", "docs", "lib"], 86_400).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    repository(&cluster.client, &ns, "docs", &[], &[]).await;
    repository(&cluster.client, &ns, "lib", &["core"], &[]).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "long", json!({ "timeoutMinutes": 600 })).await;
    let running = |plans: Api<BuildPlan>, attempts: i32| async move {
        let plan = plans.get("long").await.ok()?;
        let repositories = &plan.status.as_ref()?.repositories;
        let running =
            |n: &str| repositories.iter().any(|e| e.name == n && e.state == S::Running && e.attempts == attempts);
        (running("core") && running("docs")).then_some(plan.clone())
    };
    eventually("core and docs running", Duration::from_secs(60), || running(plans.clone(), 1)).await;

    let suspend = |on: bool| json!({ "spec": { "suspend": on } });
    plans.patch("long", &PatchParams::default(), &Patch::Merge(&suspend(true))).await.unwrap();
    let plan = eventually("suspended", Duration::from_secs(60), || async {
        let plan = plans.get("long").await.ok()?;
        let ready = find_condition(plan.conditions(), "Ready")?;
        (ready.reason == "Suspended").then_some(plan)
    })
    .await;
    for name in ["core", "docs"] {
        let runs = dispatched_runs(&sim, name);
        assert_eq!(runs.len(), 1, "{name}");
        assert_eq!(runs[0].conclusion.as_deref(), Some("cancelled"), "{name}");
        assert_eq!(entry(&plan, name).state, S::Pending, "{name} waits to be built again");
    }
    assert_eq!(entry(&plan, "lib").attempts, 0);

    plans.patch("long", &PatchParams::default(), &Patch::Merge(&suspend(false))).await.unwrap();
    eventually("core and docs running again", Duration::from_secs(60), || running(plans.clone(), 2)).await;
    plans.delete("long", &DeleteParams::default()).await.unwrap();
    eventually("the plan is gone", Duration::from_secs(60), || async {
        plans.get_opt("long").await.ok()?.is_none().then_some(())
    })
    .await;
    for name in ["core", "docs"] {
        let conclusions: Vec<Option<String>> = dispatched_runs(&sim, name).into_iter().map(|r| r.conclusion).collect();
        assert_eq!(conclusions, [Some("cancelled".to_string()), Some("cancelled".to_string())], "{name}");
    }
    assert!(dispatched_runs(&sim, "lib").is_empty());
    controller.shutdown().await;
}

#[tokio::test]
async fn a_dependency_cycle_stalls_the_plan_naming_it() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-cycle").await;
    let sim = simulated_org(&["a", "b", "c"], 10).await;
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "a", &["b"], &[]).await;
    repository(&cluster.client, &ns, "b", &[], &["a"]).await;
    repository(&cluster.client, &ns, "c", &[], &[]).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "cyclic", json!({})).await;
    let stalled = eventually("Stalled", Duration::from_secs(60), || async {
        let plan = plans.get("cyclic").await.ok()?;
        find_condition(plan.conditions(), "Stalled").cloned()
    })
    .await;
    assert_eq!(stalled.reason, "DependencyCycle");
    let named = ["a → b → a", "b → a → b"].iter().any(|cycle| stalled.message.ends_with(cycle));
    assert!(named, "{}", stalled.message);
    assert!(dispatches(&sim.requests()).is_empty(), "nothing is built from an invalid plan");
    controller.shutdown().await;
}

#[tokio::test]
async fn a_flaky_repository_succeeds_within_its_retries_and_a_hanging_run_is_cancelled_at_the_timeout() {
    use infinity_orchestrator::clock::ManualClock;
    use std::sync::Arc;
    use support::build_plans::wake;

    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-retries").await;
    let sim = simulated_org(&["flaky", "hang", "plain"], 10).await;
    let fail = OutcomeFixture { result: OutcomeKind::Failure, duration_secs: 10, ..Default::default() };
    sim.set_outcome("acme", "flaky", None, fail);
    sim.set_outcome("acme", "hang", None, OutcomeFixture { duration_secs: 86_400, ..Default::default() });
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    for name in ["flaky", "hang", "plain"] {
        repository(&cluster.client, &ns, name, &[], &[]).await;
    }
    // The operator's clock moves only when the test says: a minute of timeout passes at once.
    let clock = Arc::new(ManualClock::new(k8s_openapi::jiff::Timestamp::now()));
    let controller = BuildPlanController::start_with_clock(cluster.client.clone(), &ns, clock.clone());
    let spec = json!({ "timeoutMinutes": 1, "retryAttempts": 1, "failurePolicy": "Continue" });
    let plans = build_plan(&cluster.client, &ns, "retries", spec).await;
    let states = |plans: Api<BuildPlan>, want: Vec<(&'static str, S, i32)>| async move {
        let plan = plans.get("retries").await.ok()?;
        let entries = &plan.status.as_ref()?.repositories;
        let all =
            want.iter().all(|(n, s, a)| entries.iter().any(|e| e.name == *n && e.state == *s && e.attempts == *a));
        all.then_some(plan)
    };
    let first = vec![("flaky", S::Failed, 1), ("hang", S::Running, 1), ("plain", S::Succeeded, 1)];
    eventually("first attempts over", Duration::from_secs(60), || states(plans.clone(), first.clone())).await;

    // The flaky repository would pass now; 61 s pass: its 30 s backoff is over and the hanging run times out.
    sim.set_outcome("acme", "flaky", None, OutcomeFixture { duration_secs: 10, ..Default::default() });
    clock.advance(Duration::from_secs(61));
    wake(&plans, "retries").await;
    let second = vec![("flaky", S::Succeeded, 2), ("hang", S::Failed, 1)];
    let plan = eventually("retry and timeout", Duration::from_secs(60), || states(plans.clone(), second.clone())).await;
    assert_eq!(entry(&plan, "hang").reason.as_deref(), Some("attempt 1 timed out; its run was cancelled"));

    // The hanging repository's retry hangs too, and is cancelled at its own timeout: no attempt is left.
    clock.advance(Duration::from_secs(31));
    wake(&plans, "retries").await;
    eventually("hang retried", Duration::from_secs(60), || states(plans.clone(), vec![("hang", S::Running, 2)])).await;
    clock.advance(Duration::from_secs(61));
    wake(&plans, "retries").await;
    let plan = until_phase(&plans, "retries", BuildPlanPhase::Failed, Duration::from_secs(60)).await;
    assert_eq!((entry(&plan, "hang").state, entry(&plan, "hang").attempts), (S::Failed, 2));
    let conclusions = |repo: &str| -> Vec<Option<String>> {
        dispatched_runs(&sim, repo).into_iter().map(|run| run.conclusion).collect()
    };
    let text = |c: &str| Some(c.to_string());
    assert_eq!(conclusions("hang"), [text("cancelled"), text("cancelled")]);
    assert_eq!(conclusions("flaky"), [text("failure"), text("success")]);
    assert_eq!(conclusions("plain"), [text("success")]);
    let counts = plan.status.unwrap().counts.unwrap();
    assert_eq!((counts.succeeded, counts.failed), (2, 1));
    controller.shutdown().await;
}

#[tokio::test]
async fn a_scheduled_plan_runs_at_each_fire_and_keeps_a_bounded_history() {
    use infinity_orchestrator::clock::{Clock, ManualClock};
    use std::sync::Arc;
    use support::build_plans::wake;

    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-cron").await;
    let sim = simulated_org(&["core"], 10).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    let clock = Arc::new(ManualClock::new(k8s_openapi::jiff::Timestamp::now()));
    let controller = BuildPlanController::start_with_clock(cluster.client.clone(), &ns, clock.clone());
    let plans =
        build_plan(&cluster.client, &ns, "nightly", json!({ "schedule": "*/10 * * * *", "historyLimit": 1 })).await;
    let waiting = eventually("waiting for the first fire", Duration::from_secs(30), || async {
        let plan = plans.get("nightly").await.ok()?;
        let ready = find_condition(plan.conditions(), "Ready")?;
        ready.message.contains("the next run starts at").then(|| ready.message.clone())
    })
    .await;
    assert!(dispatches(&sim.requests()).is_empty(), "nothing runs before the first fire: {waiting}");

    let mut run_ids = Vec::new();
    for fire in 1..=3 {
        clock.advance(Duration::from_secs(600));
        wake(&plans, "nightly").await;
        let plan = eventually(&format!("run {fire} succeeded"), Duration::from_secs(60), || async {
            let plan = plans.get("nightly").await.ok()?;
            let status = plan.status.as_ref()?;
            let new = status.run_id.as_ref().is_some_and(|id| !run_ids.contains(id));
            (new && status.phase == Some(BuildPlanPhase::Succeeded)).then_some(plan)
        })
        .await;
        let status = plan.status.unwrap();
        let fired_at = status.last_schedule_time.expect("the fire it stands for").0;
        assert_eq!(fired_at.as_second() % 600, 0, "a fire of */10: {fired_at}");
        assert!(fired_at <= clock.now());
        let history: Vec<String> = status.history.iter().map(|h| h.run_id.clone()).collect();
        assert_eq!(history, run_ids.last().cloned().into_iter().collect::<Vec<_>>(), "the previous run only");
        if let Some(previous) = status.history.first() {
            assert_eq!((previous.phase, previous.counts.succeeded), (BuildPlanPhase::Succeeded, 1));
        }
        run_ids.push(status.run_id.expect("a run id"));
    }
    assert_eq!(dispatches(&sim.requests()).get("core"), Some(&3), "one build per fire");
    controller.shutdown().await;
}
