//! Flaky-aware healing end to end, against the real API server and github-sim with the controllers running
//! in-process: a flaky failure (its commit passed the same workflow before) is re-run and never opens an issue, even
//! past the failure threshold; a deterministic one (failed twice in a row without a pass) is never re-run and is
//! escalated to an issue at once. The simulator's request log is the evidence; the Repository's status shows the
//! flaky rate and the flakiest workflow.

mod support;

use std::time::Duration;

use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::healing_policy::HealingPolicyStatus;
use infinity_orchestrator::crd::{HealingPolicy, Repository};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use serde_json::json;
use support::sim_org::{described_repository, healing_policy, organization_on, requests_to};
use support::{cluster, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);

/// A repository whose build workflow fails, with `history` (oldest first) all on its head commit, as the
/// simulator's fixture runs are.
fn repository(name: &str, history: &[&str]) -> String {
    let runs: Vec<String> = history
        .iter()
        .map(|conclusion| format!("          - {{workflow: build.yml, conclusion: {conclusion}}}"))
        .collect();
    format!(
        r#"      - name: {name}
        language: Rust
        files:
          Cargo.toml: "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"
        workflows:
          - path: .github/workflows/build.yml
            name: build
            outcome: {{result: failure, duration_secs: 60}}
        runs:
{}
"#,
        runs.join("\n")
    )
}

async fn start(repository: String) -> SimHandle {
    let fixture = format!("tokens: [test-token]\norgs:\n  - login: acme\n    repos:\n{repository}");
    Simulator::start(Fixture::from_yaml(&fixture).expect("a valid fixture"), SimOptions::default())
        .await
        .expect("starting github-sim")
}

/// The re-run rung's window: without the verdict, the issue rung is tried this long after the re-run.
const RERUN_WINDOW_SECS: i64 = 1;

/// A policy that would re-run one failure and open an issue a second later, were it not for the verdict.
async fn policy(client: &kube::Client, ns: &str) -> Api<HealingPolicy> {
    healing_policy(
        client,
        ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
            "thresholds": { "consecutiveFailures": 1 },
            "escalation": { "rungs": [{ "action": "Rerun", "window": format!("{RERUN_WINDOW_SECS}s") },
                                      { "action": "Issue" }] },
            "actions": { "issue": { "enabled": true },
                         "rerun": { "enabled": true, "maxAttemptsPerSha": 1, "backoff": "1s" } } }),
    )
    .await
}

fn status_of(policy: &HealingPolicy) -> HealingPolicyStatus {
    policy.status.clone().unwrap_or_default()
}

/// Waits for an evaluation that began after `since` (wall clock), and returns the status it wrote.
async fn evaluation_after(policies: &Api<HealingPolicy>, since: Timestamp) -> HealingPolicyStatus {
    eventually("an evaluation after the last change", WAIT, || async {
        let status = status_of(&policies.get("heal").await.ok()?);
        status.last_evaluated.as_ref().is_some_and(|at| at.0 > since).then_some(status)
    })
    .await
}

/// The id of the repository's failed run.
fn failed_run(sim: &SimHandle, repo: &str) -> serde_json::Value {
    let runs = sim.runs("acme", repo);
    runs.iter().find(|run| run["conclusion"] == "failure").expect("a failed run")["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_failure_is_rerun_and_never_opens_an_issue() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-flaky").await;
    // The head commit passed `build`, then failed it: flaky, one failure past a threshold of one.
    let sim = start(repository("api", &["success", "failure"])).await;
    organization_on(client, &ns, &sim).await;
    let policies = policy(client, &ns).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let rerun_path = format!("/repos/acme/api/actions/runs/{}/rerun-failed-jobs", failed_run(&sim, "api"));

    eventually("the flaky failure re-run", WAIT, || async {
        (!requests_to(&sim.requests(), "POST", &rerun_path).is_empty()).then_some(())
    })
    .await;
    // The re-run fails too (the workflow's outcome is failure): the commit still passed before, so it stays flaky.
    // Two evaluations well past the re-run rung's window would have climbed to the issue rung.
    sim.advance_clock(70);
    let past_the_window = Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(2 * RERUN_WINDOW_SECS);
    evaluation_after(&policies, past_the_window).await;
    let status = evaluation_after(&policies, Timestamp::now()).await;

    let log = sim.requests();
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/issues").len(), 0, "no issue for a flaky failure");
    assert_eq!(requests_to(&log, "POST", &rerun_path).len(), 1, "one re-run: maxAttemptsPerSha");
    let audited: Vec<&str> = status.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(audited, ["Rerun"], "re-run, never escalated: {:?}", status.actions);
    assert!(status.open_issues.is_empty());

    // The Repository's status shows the flaky failure and its workflow.
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let health = eventually("the flaky rate in the Repository's status", WAIT, || async {
        let health = repositories.get("api").await.ok()?.status?.health?;
        (health.flaky_rate_percent > 0).then_some(health)
    })
    .await;
    assert_eq!(health.flaky_rate_percent, 100, "every failure in the window is flaky: {health:?}");
    let flakiest: Vec<(&str, Option<&str>)> =
        health.flakiest_workflows.iter().map(|w| (w.name.as_str(), w.path.as_deref())).collect();
    assert_eq!(flakiest, [("build", Some(".github/workflows/build.yml"))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deterministic_failure_is_never_rerun_and_escalates() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-deterministic").await;
    // The head commit failed `build` twice and never passed it: deterministic.
    let sim = start(repository("api", &["failure", "failure"])).await;
    organization_on(client, &ns, &sim).await;
    let policies = policy(client, &ns).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;

    let issue = eventually("the issue opened", WAIT, || async {
        status_of(&policies.get("heal").await.ok()?).open_issues.first().cloned()
    })
    .await;
    assert_eq!(issue.problem, "ConsecutiveFailures");
    let status = evaluation_after(&policies, Timestamp::now()).await;

    let log = sim.requests();
    let reruns: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/repos/acme/api/actions/runs/"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(reruns, Vec::<&str>::new(), "a deterministic failure is not re-run");
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/issues").len(), 1);
    assert!(status.actions.iter().all(|a| a.action != "Rerun"), "{:?}", status.actions);
    assert_eq!(sim.runs("acme", "api").iter().filter(|r| r["run_attempt"] != 1).count(), 0, "no new attempt");
}
