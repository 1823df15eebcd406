//! Crash safety of BuildPlans: the operator binary is killed with SIGKILL at seeded-random points of a plan and
//! started again; the simulator's request log shows that no repository was dispatched twice and none was lost.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::SimHandle;
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::build_plans::{build_plan, dispatched_runs, dispatches, entry, simulated_org, until_phase, SimClock};
use support::operated_plans::{plan_bed, start_operator, Graph};
use support::sim_org::organization_on;
use support::{cluster, eventually, namespace};

/// Ten repositories in four levels: a0 ← b0..b2 ← c0..c2 ← d0..d2, each depending on one or two of the level before.
const GRAPH: &[(&str, &[&str])] = &[
    ("a0", &[]),
    ("b0", &["a0"]),
    ("b1", &["a0"]),
    ("b2", &["a0"]),
    ("c0", &["b0", "b1"]),
    ("c1", &["b1"]),
    ("c2", &["b2"]),
    ("d0", &["c0"]),
    ("d1", &["c1", "c2"]),
    ("d2", &["c2"]),
];

fn total_dispatches(sim: &SimHandle) -> usize {
    dispatches(&sim.requests()).values().sum()
}

#[tokio::test]
async fn sigkill_at_random_points_neither_duplicates_nor_loses_a_dispatch() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-sigkill").await;
    let names: Vec<&str> = GRAPH.iter().map(|(name, _)| *name).collect();
    let graph: Graph =
        GRAPH.iter().map(|(name, on)| (name.to_string(), on.iter().map(|d| d.to_string()).collect())).collect();
    let sim = plan_bed(&cluster.client, &ns, &graph, 10).await;
    let _clock = SimClock::start(&sim, 1);
    let mut operator = start_operator(&cluster, &ns, &sim);
    let plans = build_plan(&cluster.client, &ns, "crashy", json!({ "maxParallel": 3, "retryAttempts": 0 })).await;

    // Kill once the plan has dispatched 1, 3, 5, 7 and 9 repositories, each after a seeded-random extra delay
    // (0 to 400 ms), so kills land before, between and after status writes and dispatches.
    let mut rng = fastrand::Rng::with_seed(5);
    let mut kills = Vec::new();
    for threshold in [1, 3, 5, 7, 9] {
        let reached = eventually(&format!("{threshold} dispatches"), Duration::from_secs(150), || async {
            let total = total_dispatches(&sim);
            (total >= threshold).then_some(total)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
        operator.kill();
        kills.push((threshold, reached, total_dispatches(&sim)));
        operator = start_operator(&cluster, &ns, &sim);
    }

    let plan = until_phase(&plans, "crashy", BuildPlanPhase::Succeeded, Duration::from_secs(240)).await;
    let expected: BTreeMap<String, usize> = names.iter().map(|n| (n.to_string(), 1)).collect();
    assert_eq!(dispatches(&sim.requests()), expected, "one dispatch per repository across {} kills", kills.len());
    for name in &names {
        let runs = dispatched_runs(&sim, name);
        let built = entry(&plan, name);
        assert_eq!(runs.len(), 1, "{name}: {runs:?}");
        assert_eq!((built.state, built.attempts, built.run_id), (S::Succeeded, 1, Some(runs[0].id)), "{name}");
    }
    let counts = plan.status.and_then(|s| s.counts).expect("counts");
    assert_eq!((counts.total, counts.succeeded), (10, 10));
    let violations = sim.webhook_violations();
    assert!(violations.is_empty(), "{} webhook payload violations:\n{}", violations.len(), violations.join("\n"));
    eprintln!("kills (threshold, dispatches when reached, dispatches at the kill): {kills:?}");
}

/// The state a crash leaves between writing a dispatch intent and learning its run: `core` Dispatching with a
/// recorded correlation id, no run id. When `sent`, the dispatch reached GitHub before the crash.
async fn crashed_between_intent_and_run(sent: bool) -> (Option<String>, Vec<support::build_plans::SimRun>) {
    use infinity_orchestrator::crd::BuildPlan;
    use infinity_orchestrator::github::{GitHub, RepoRef};
    use infinity_orchestrator::plan::schedule::trigger::spec_digest;
    use support::build_plans::BuildPlanController;

    let cluster = cluster().await;
    let ns = namespace(&cluster.client, if sent { "bp-crash-sent" } else { "bp-crash-unsent" }).await;
    let sim = simulated_org(&["core"], 10).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    support::build_plans::repository(&cluster.client, &ns, "core", &[], &[]).await;
    let plans = build_plan(&cluster.client, &ns, "crashed", json!({})).await;
    let plan: BuildPlan = plans.get("crashed").await.expect("the plan");
    let correlation_id = "io-crashtest-1";
    let now = k8s_openapi::jiff::Timestamp::now();
    let status = json!({ "status": {
        "phase": "Running", "runId": "g1-crashed", "specDigest": spec_digest(&plan.spec),
        "startTime": now.to_string(),
        "repositories": [{ "name": "core", "state": "Dispatching", "attempts": 1, "correlationId": correlation_id,
            "startTime": now.to_string() }],
    }});
    plans.patch_status("crashed", &PatchParams::default(), &Patch::Merge(&status)).await.expect("the crash state");
    if sent {
        let user = support::sim_org::user_client(&sim);
        let inputs = std::collections::BTreeMap::new();
        user.dispatch_workflow(&RepoRef::new("acme", "core"), "build.yml", "main", &inputs, Some(correlation_id))
            .await
            .expect("the dispatch that happened before the crash");
    }
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plan = until_phase(&plans, "crashed", BuildPlanPhase::Succeeded, Duration::from_secs(60)).await;
    controller.shutdown().await;
    let built = entry(&plan, "core");
    assert_eq!((built.attempts, built.correlation_id.as_deref()), (1, Some(correlation_id)));
    let runs = dispatched_runs(&sim, "core");
    assert_eq!(built.run_id, runs.first().map(|r| r.id));
    (built.correlation_id.clone(), runs)
}

#[tokio::test]
async fn an_intent_whose_dispatch_reached_github_is_found_not_sent_again() {
    let (correlation_id, runs) = crashed_between_intent_and_run(true).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].title.contains(correlation_id.as_deref().unwrap_or("?")));
}

#[tokio::test]
async fn an_intent_whose_dispatch_never_left_is_sent_once_after_the_grace_period() {
    let (correlation_id, runs) = crashed_between_intent_and_run(false).await;
    assert_eq!(runs.len(), 1, "sent exactly once: {runs:?}");
    assert!(runs[0].title.contains(correlation_id.as_deref().unwrap_or("?")), "under the recorded id");
}
