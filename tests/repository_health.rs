//! Repository health and security end to end (real API server, github-sim, controllers in-process): every
//! repository gets health from its default-branch runs, security from its alerts and a `Healthy` verdict; a
//! webhook-style wake request updates it at once; and the compliance report lists every repository with its health
//! and alert counts, worst first.

mod support;

use std::process::Command;
use std::time::Duration;

use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Repository};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::sim_org::{organization_on, run_workflow_once, user_client};
use support::{cluster, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);

/// Three repositories: `green` (every run passed, every security product on and clean), `red` (three failures
/// after a pass, every security product off) and `leaky` (green, with open and closed alerts of each product).
const FIXTURE: &str = r#"
tokens: [test-token]
orgs:
  - login: acme
    repos:
      - name: green
        files: { go.mod: "module github.com/acme/green\n" }
        security: { code_scanning: true, dependabot: true, secret_scanning: true }
        workflows:
          - { path: .github/workflows/ci.yml, name: CI, workflow_dispatch: true, inputs: [correlation_id],
              outcome: { result: failure, duration_secs: 30 } }
          - { path: .github/workflows/deploy.yml, name: deploy }
        runs:
          - { workflow: ci.yml, conclusion: success, duration_secs: 100 }
          - { workflow: ci.yml, conclusion: success, duration_secs: 120 }
          - { workflow: deploy.yml, conclusion: failure }
          - { workflow: ci.yml, conclusion: success, duration_secs: 140 }
      - name: red
        files: { go.mod: "module github.com/acme/red\n" }
        workflows: [{ path: .github/workflows/build.yml, name: build }]
        runs:
          - { workflow: build.yml, conclusion: success }
          - { workflow: build.yml, conclusion: failure }
          - { workflow: build.yml, conclusion: cancelled }
          - { workflow: build.yml, conclusion: failure }
          - { workflow: build.yml, conclusion: timed_out }
      - name: leaky
        files: { go.mod: "module github.com/acme/leaky\n" }
        workflows: [{ path: .github/workflows/test.yml, name: test }]
        runs: [{ workflow: test.yml, conclusion: success }]
        alerts:
          code_scanning:
            - { rule_id: go/sql-injection, severity: error, security_severity: critical, path: db.go, line: 3, state: open }
            - { rule_id: go/unused, severity: warning, path: main.go, line: 9, state: open }
            - { rule_id: go/old, severity: error, security_severity: high, path: old.go, line: 1, state: fixed }
          dependabot:
            - { package: golang.org/x/net, ecosystem: go, severity: high, vulnerable_version_range: "< 0.23.0",
                first_patched_version: 0.23.0, manifest_path: go.mod, state: open }
            - { package: golang.org/x/text, ecosystem: go, severity: medium, vulnerable_version_range: "< 0.3.8",
                first_patched_version: 0.3.8, manifest_path: go.mod, state: dismissed }
          secret_scanning:
            - { secret_type: github_personal_access_token, state: open }
            - { secret_type: slack_api_token, state: resolved }
"#;

async fn measured(api: &Api<Repository>, name: &str) -> Repository {
    eventually(&format!("{name} measured"), WAIT, || async {
        let repo = api.get(name).await.ok()?;
        let status = repo.status.as_ref()?;
        (status.health.is_some() && status.security.is_some()).then_some(repo)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_repository_gets_health_security_and_a_verdict_and_the_report_lists_them() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "repository-health").await;
    let sim = Simulator::start(Fixture::from_yaml(FIXTURE).unwrap(), SimOptions::default()).await.unwrap();
    organization_on(client, &ns, &sim).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);

    let green = measured(&repositories, "green").await;
    let health = green.status.as_ref().unwrap().health.clone().unwrap();
    // The deploy workflow's failure is not a build or test run; durations include the 5 s the sim queues a run.
    assert_eq!(
        (health.window_runs, health.success_rate_percent, health.consecutive_failures, health.score),
        (3, 100, 0, 100)
    );
    assert_eq!((health.median_duration_seconds, health.p90_duration_seconds), (Some(125), Some(145)));
    let healthy = find_condition(green.conditions(), "Healthy").unwrap();
    assert_eq!((healthy.status, healthy.reason.as_str()), (ConditionStatus::True, "Passing"));
    assert_eq!(find_condition(green.conditions(), "Ready").map(|c| c.status), Some(ConditionStatus::True));
    assert!(green.status.as_ref().unwrap().security.as_ref().unwrap().disabled_features.is_empty());

    let red = measured(&repositories, "red").await;
    let status = red.status.as_ref().unwrap();
    let health = status.health.clone().unwrap();
    // 1 pass of 4 decisive runs; the cancelled one neither breaks nor extends the streak of 3.
    assert_eq!(
        (health.window_runs, health.success_rate_percent, health.consecutive_failures, health.score),
        (5, 25, 3, 0)
    );
    let healthy = find_condition(red.conditions(), "Healthy").unwrap();
    assert_eq!((healthy.status, healthy.reason.as_str()), (ConditionStatus::False, "ConsecutiveFailures"));
    assert_eq!(status.security.as_ref().unwrap().disabled_features, ["codeScanning", "dependabot", "secretScanning"]);

    let leaky = measured(&repositories, "leaky").await;
    let security = leaky.status.unwrap().security.unwrap();
    assert_eq!((security.code_scanning.critical, security.code_scanning.low), (1, 1), "open alerts only");
    assert_eq!((security.dependabot.high, security.dependabot.medium, security.secret_scanning), (1, 0, 1));

    // A wake request (what the webhook receiver sets on a workflow_run delivery) reads the repository at once,
    // long before the five-minute poll.
    run_workflow_once(&sim, &user_client(&sim), "green", "ci.yml", 60).await;
    let wake =
        json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": "run-completed" } } });
    repositories.patch("green", &PatchParams::default(), &Patch::Merge(&wake)).await.unwrap();
    let woken = eventually("the new failure counted after the wake request", Duration::from_secs(20), || async {
        let repo = repositories.get("green").await.ok()?;
        (repo.status.as_ref()?.health.as_ref()?.consecutive_failures == 1).then_some(repo)
    })
    .await;
    let healthy = find_condition(woken.conditions(), "Healthy").unwrap();
    assert_eq!((healthy.status, healthy.reason.as_str()), (ConditionStatus::True, "FailingBelowThreshold"));

    let report = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .args(["report", "--org", "acme", "-n", &ns, "--format", "json"])
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let rows: Vec<(&str, i64, &str, i64, i64, i64, i64)> = report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let count = |product: &str| {
                ["critical", "high", "medium", "low"].iter().map(|s| r[product][s].as_i64().unwrap()).sum()
            };
            (
                r["name"].as_str().unwrap(),
                r["health_score"].as_i64().unwrap(),
                r["healthy"].as_str().unwrap(),
                r["consecutive_failures"].as_i64().unwrap(),
                count("code_scanning"),
                count("dependabot"),
                r["secret_scanning"].as_i64().unwrap(),
            )
        })
        .collect();
    // Worst first: red lacks all its health and has every product off; leaky's secret and critical alerts
    // outweigh green's single failure.
    assert_eq!(
        rows,
        [("red", 0, "False", 3, 0, 0, 0), ("leaky", 100, "True", 0, 2, 1, 1), ("green", 65, "True", 1, 0, 0, 0)]
    );
    assert_eq!(report["totals"]["repositories"], 3);
}
