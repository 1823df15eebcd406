//! Reliability under GitHub faults: the operator binary against the real API server and github-sim answering 10% of
//! requests with a 5xx, holding 2% until they fail, losing the answers to writes it carried out, refusing bursts
//! with its secondary limit, and spending the primary budget mid-plan. Every BuildPlan still ends with exactly the
//! states its one failing repository implies, and nothing reaches GitHub twice: no dispatch, no issue, no pull
//! request.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::faults::SecondaryLimit;
use github_sim::fixture::{OutcomeFixture, OutcomeKind};
use github_sim::{FaultConfig, Fixture, LoggedRequest, OpeningFault, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::HealingPolicy;
use serde_json::json;
use support::build_plans::{build_plan, until_phase};
use support::operated_plans::{
    acted_on, assert_plan_end, expected_states, layered_graph, plan_bed, processed_dispatches, start_operator,
    WallClock,
};
use support::process::OperatorProcess;
use support::sim_org::{healing_policy, organization_on};
use support::{cluster, eventually, namespace};

/// The faults of every test here, drawn from `seed`, with `lost` of the answers to the writes on paths ending with
/// one of `lost_paths` lost after the write was carried out.
fn faults(seed: u64, lost: f64, lost_paths: &[&str]) -> FaultConfig {
    FaultConfig {
        seed,
        // Each fault the tests must see comes at least once, however few requests the run's timing makes.
        opening: vec![OpeningFault::ServerError, OpeningFault::Timeout],
        server_error_rate: 0.10,
        timeout_rate: 0.02,
        // The simulator holds a timed-out request this long, then answers 504. The operator's own deadline is 30 s
        // (`TransportPolicy::request_timeout`) and ends in the same transient error; 2 s keeps the tests quick.
        timeout_secs: Some(2),
        write_lost_response_rate: lost,
        write_lost_response_paths: lost_paths.iter().map(|p| p.to_string()).collect(),
        // Every 25 GitHub requests, 2 s of 403s with `retry-after` (a run makes 40 at the least).
        secondary_limit: Some(SecondaryLimit { after_requests: 25, retry_after_secs: 2, ..SecondaryLimit::default() }),
        ..FaultConfig::default()
    }
}

/// How many requests each fault shaped, by fault (`primary_limit` for 403s of the spent primary budget), and
/// `lost_<what>` for writes carried out whose answer was lost.
fn faults_seen(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for request in log {
        let kind = match request.fault.as_deref() {
            Some("lost_response") => {
                let what = if request.path.ends_with("/dispatches") {
                    "dispatch"
                } else if request.path.ends_with("/issues") {
                    "issue"
                } else if request.path.ends_with("/pulls") {
                    "pull_request"
                } else {
                    "other_write"
                };
                format!("lost_{what}")
            }
            Some(fault) => fault.to_owned(),
            None if request.status == 403 && request.counted => continue,
            None if request.status == 403 => "primary_limit".to_owned(),
            None => continue,
        };
        *seen.entry(kind).or_default() += 1;
    }
    seen
}

/// Spends the primary budget for `window_secs` of sim time, again each time the window passes unmet, until a
/// request meets it (a 403 of the spent budget in the simulator's log). One window alone may pass unseen: a
/// BuildPlan reading runs by the ids its dispatches named may send nothing for longer than a window.
async fn spend_primary_budget_until_met(sim: &SimHandle, window_secs: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        sim.set_rate_limit(5000, 0, i64::from(window_secs));
        let armed = std::time::Instant::now();
        while armed.elapsed() < Duration::from_secs(u64::from(window_secs)) {
            if faults_seen(&sim.requests()).contains_key("primary_limit") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(std::time::Instant::now() < deadline, "no request met the spent primary budget in 120 s");
    }
}

/// A 12-repository plan in four layers with one failing repository of the second layer (one with dependents),
/// built under the faults of `seed`, with the primary budget spent for 5 s once three repositories are dispatched.
async fn build_plan_under_faults(seed: u64) {
    let started = std::time::Instant::now();
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, &format!("faults-plan-{seed}")).await;
    let graph = layered_graph(seed, 12, 3);
    let with_dependents: Vec<&str> = ["r03", "r04", "r05"]
        .into_iter()
        .filter(|name| graph.values().any(|dependencies| dependencies.iter().any(|d| d == name)))
        .collect();
    let failing = with_dependents[fastrand::Rng::with_seed(seed).usize(0..with_dependents.len())];
    let expected = expected_states(&graph, &[failing]);
    let sim = plan_bed(&cluster.client, &ns, &graph, 1).await;
    let failure = OutcomeFixture { result: OutcomeKind::Failure, duration_secs: 1, ..OutcomeFixture::default() };
    sim.set_outcome("acme", failing, None, failure);
    let _clock = WallClock::start(&sim);
    sim.set_faults(faults(seed, 0.75, &["/dispatches"]));
    let _operator = start_operator(&cluster, &ns, &sim);
    let spec = json!({ "maxParallel": 3, "retryAttempts": 0, "timeoutMinutes": 30 });
    let plans = build_plan(&cluster.client, &ns, "faulty", spec).await;

    eventually("three repositories dispatched", Duration::from_secs(120), || async {
        (processed_dispatches(&sim.requests()).len() >= 3).then_some(())
    })
    .await;
    spend_primary_budget_until_met(&sim, 15).await;

    let plan = until_phase(&plans, "faulty", BuildPlanPhase::Failed, Duration::from_secs(180)).await;
    assert_plan_end(&sim, &plan, &expected);
    let seen = faults_seen(&sim.requests());
    let skipped = expected.values().filter(|s| **s == S::Skipped).count();
    eprintln!(
        "seed {seed}: {failing} failing, {skipped} skipped, {} requests, faults {seen:?}, {:?}",
        sim.requests().len(),
        started.elapsed()
    );
    for fault in ["server_error", "timeout", "secondary_limit", "primary_limit", "lost_dispatch"] {
        assert!(seen.get(fault).is_some_and(|n| *n > 0), "no {fault} was injected: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_under_faults_seed_1_ends_right_with_one_dispatch_per_repository() {
    build_plan_under_faults(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_under_faults_seed_2_ends_right_with_one_dispatch_per_repository() {
    build_plan_under_faults(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_under_faults_seed_3_ends_right_with_one_dispatch_per_repository() {
    build_plan_under_faults(3).await;
}

/// A repository whose builds fail, its last three runs failures.
fn red_repository(name: &str) -> String {
    format!(
        r#"      - name: {name}
        files:
          Cargo.toml: "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"
        workflows:
          - {{path: .github/workflows/build.yml, name: build, outcome: {{result: failure, duration_secs: 60}}}}
        runs:
          - {{workflow: build.yml, conclusion: success}}
          - {{workflow: build.yml, conclusion: failure}}
          - {{workflow: build.yml, conclusion: failure}}
          - {{workflow: build.yml, conclusion: failure}}
"#
    )
}

/// A green repository; `vulnerable` gives it a high-severity Dependabot alert on its `serde` dependency.
fn green_repository(name: &str, vulnerable: bool) -> String {
    let alert = if vulnerable {
        "        alerts:\n          dependabot:\n            - {package: serde, ecosystem: cargo, severity: high, \
         vulnerable_version_range: \"< 0.2.0\", first_patched_version: 0.2.0, manifest_path: Cargo.toml, \
         state: open}\n"
    } else {
        ""
    };
    format!(
        r#"      - name: {name}
        files:
          Cargo.toml: "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n[dependencies]\nserde = \"0.1.0\"\n"
        workflows:
          - {{path: .github/workflows/build.yml, name: build}}
        runs:
          - {{workflow: build.yml, conclusion: success}}
{alert}"#
    )
}

/// The creation requests GitHub carried out on `path` (answered 2xx, or with the answer lost).
fn created(log: &[LoggedRequest], path: &str) -> usize {
    log.iter().filter(|r| r.method == "POST" && r.path == path && acted_on(r)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enforcing_healing_policy_under_faults_opens_each_issue_and_pull_request_once() {
    let started = std::time::Instant::now();
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "faults-healing").await;
    let repositories = [
        red_repository("red1"),
        red_repository("red2"),
        green_repository("vuln", true),
        green_repository("calm", false),
    ];
    let fixture = format!("tokens: [test-token]\norgs:\n  - login: acme\n    repos:\n{}", repositories.join(""));
    let sim = std::sync::Arc::new(
        Simulator::start(Fixture::from_yaml(&fixture).expect("a valid fixture"), SimOptions::default())
            .await
            .expect("starting github-sim"),
    );
    // Secondary-limit windows and rate-limit resets count on the simulator's clock.
    let _clock = WallClock::start(&sim);
    organization_on(client, &ns, &sim).await;
    let spec = json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
        "actions": { "dependencyUpdate": { "enabled": true, "minSeverity": "high" } } });
    let policies = healing_policy(client, &ns, "heal", spec).await;

    // First every issue, branch and pull request GitHub creates loses its answer: the operator never hears that
    // they exist, and must find them instead of creating others.
    sim.set_faults(faults(11, 1.0, &["/issues", "/git/refs", "/pulls"]));
    let _operator = OperatorProcess::start(&cluster, &ns, &[]);
    eventually("both issues and the pull request on GitHub", Duration::from_secs(120), || async {
        let pulled = !sim.pull_requests("acme", "vuln").is_empty();
        let issued = ["red1", "red2"].iter().all(|repo| !sim.issues("acme", repo).is_empty());
        (pulled && issued).then_some(())
    })
    .await;
    let lost_phase = faults_seen(&sim.requests());
    // Then half the answers to every write are lost, and the primary budget is spent for 5 s at a time.
    sim.set_faults(faults(12, 0.5, &[]));
    spend_primary_budget_until_met(&sim, 5).await;
    let status = eventually("both issues and the pull request recorded", Duration::from_secs(120), || async {
        let status = policies.get("heal").await.ok()?.status?;
        (status.open_issues.len() >= 2 && !status.pull_requests.is_empty()).then_some(status)
    })
    .await;
    // Ten more seconds of evaluations, every second, under the faults.
    let recorded_at = status.last_evaluated.clone().expect("an evaluation time").0;
    let later = eventually("ten more seconds of evaluations", Duration::from_secs(90), || async {
        let policy: HealingPolicy = policies.get("heal").await.ok()?;
        let status = policy.status?;
        let at = status.last_evaluated.clone()?.0;
        (at.duration_since(recorded_at).as_secs() >= 10).then_some(status)
    })
    .await;

    let log = sim.requests();
    for repo in ["red1", "red2"] {
        let issues = sim.issues("acme", repo);
        let [issue] = issues.as_slice() else { panic!("{repo}: {} issues, one expected: {issues:?}", issues.len()) };
        assert_eq!(issue.state, "open", "{repo}");
        assert!(issue.comments.is_empty(), "{repo}: nothing got worse, so nothing to comment: {:?}", issue.comments);
        assert!(issue.body.as_deref().unwrap_or("").contains("problem=ConsecutiveFailures"), "{repo}: {issue:?}");
        assert_eq!(created(&log, &format!("/repos/acme/{repo}/issues")), 1, "{repo}: issue creations carried out");
    }
    for repo in ["vuln", "calm"] {
        assert!(sim.issues("acme", repo).is_empty(), "{repo} is green: no issue");
    }
    let pulls = sim.pull_requests("acme", "vuln");
    let heads: Vec<&str> = pulls.iter().map(|(_, head, _, _, _)| head.as_str()).collect();
    assert_eq!(heads, ["infinity-orchestrator/dependency-update/serde-0.2.0"], "one pull request");
    assert_eq!(created(&log, "/repos/acme/vuln/pulls"), 1, "pull request creations carried out");
    for repo in ["red1", "red2", "calm"] {
        assert!(sim.pull_requests("acme", repo).is_empty(), "{repo}: no pull request");
    }
    let issues: Vec<(&str, &str)> =
        later.open_issues.iter().map(|i| (i.repository.as_str(), i.problem.as_str())).collect();
    assert_eq!(issues, [("red1", "ConsecutiveFailures"), ("red2", "ConsecutiveFailures")]);
    let pulls: Vec<(&str, &str)> =
        later.pull_requests.iter().map(|p| (p.repository.as_str(), p.branch.as_str())).collect();
    assert_eq!(pulls, [("vuln", "infinity-orchestrator/dependency-update/serde-0.2.0")]);

    let seen = faults_seen(&log);
    eprintln!("lost-answer phase {lost_phase:?}; whole run {seen:?}; {} requests, {:?}", log.len(), started.elapsed());
    for fault in ["lost_issue", "lost_pull_request"] {
        assert!(lost_phase.get(fault).is_some_and(|n| *n > 0), "no {fault} in the lost-answer phase: {lost_phase:?}");
    }
    for fault in ["server_error", "timeout", "secondary_limit", "primary_limit"] {
        assert!(seen.get(fault).is_some_and(|n| *n > 0), "no {fault} was injected: {seen:?}");
    }
}

#[test]
fn the_expected_end_states_skip_exactly_the_transitive_dependents_of_a_failure() {
    let graph: support::operated_plans::Graph =
        [("a", vec![]), ("b", vec!["a"]), ("c", vec!["b"]), ("d", vec!["a"]), ("e", vec!["c", "d"]), ("f", vec![])]
            .into_iter()
            .map(|(name, dependencies)| (name.to_owned(), dependencies.into_iter().map(String::from).collect()))
            .collect();
    let states: Vec<(String, S)> = expected_states(&graph, &["b"]).into_iter().collect();
    let expected = [("a", S::Succeeded), ("b", S::Failed), ("c", S::Skipped), ("d", S::Succeeded), ("e", S::Skipped)];
    let mut expected: Vec<(String, S)> = expected.into_iter().map(|(n, s)| (n.to_owned(), s)).collect();
    expected.push(("f".to_owned(), S::Succeeded));
    assert_eq!(states, expected);
    assert!(expected_states(&graph, &[]).values().all(|s| *s == S::Succeeded));
    // Every generated layer past the first depends only on the layer before it.
    let generated = layered_graph(7, 12, 3);
    for (i, (name, dependencies)) in generated.iter().enumerate() {
        assert_eq!(name, &format!("r{i:02}"));
        let layer = i / 3;
        assert_eq!(dependencies.is_empty(), layer == 0, "{name}: {dependencies:?}");
        for dependency in dependencies {
            let index: usize = dependency[1..].parse().unwrap();
            assert_eq!(index / 3 + 1, layer, "{name} depends on {dependency}");
        }
    }
}
