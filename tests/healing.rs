//! HealingPolicy end to end, against the real API server and github-sim with the controllers running in-process:
//! one issue per repository and problem across a restart, closed once green; re-runs stop at their bound; DryRun
//! writes nothing to GitHub; a Dependabot alert on a package.json dependency becomes one pull request changing
//! exactly that version.

mod support;

use std::time::Duration;

use github_sim::fixture::{OutcomeFixture, OutcomeKind};
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::{HealingPolicy, Repository};
use kube::api::Api;
use serde_json::json;
use support::sim_org::{
    described_repository, healing_policy, organization_on, requests_to, run_workflow_once, user_client, writes,
};
use support::{cluster, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);

/// A repository whose build workflow fails; its history ends with `history` (oldest first).
fn failing_repository(name: &str, history: &[&str]) -> String {
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
            workflow_dispatch: true
            inputs: [correlation_id]
            run_name: "build ${{{{ inputs.correlation_id }}}}"
            outcome: {{result: failure, duration_secs: 60}}
        runs:
{}
"#,
        runs.join("\n")
    )
}

async fn start(repositories: &[String]) -> SimHandle {
    let fixture = format!("tokens: [test-token]\norgs:\n  - login: acme\n    repos:\n{}", repositories.join(""));
    Simulator::start(Fixture::from_yaml(&fixture).expect("a valid fixture"), SimOptions::default())
        .await
        .expect("starting github-sim")
}

fn status_of(policy: &HealingPolicy) -> infinity_orchestrator::crd::healing_policy::HealingPolicyStatus {
    policy.status.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_failures_make_one_issue_kept_across_a_restart_and_closed_once_green() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-issue").await;
    let sim = start(&[failing_repository("api", &["success", "failure", "failure", "failure"])]).await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s",
        "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100 }),
    )
    .await;
    let operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;

    let issue = eventually("the issue recorded in the policy's status", WAIT, || async {
        status_of(&policies.get("heal").await.ok()?).open_issues.first().cloned()
    })
    .await;
    assert_eq!((issue.repository.as_str(), issue.problem.as_str()), ("api", "ConsecutiveFailures"));
    let created = sim.requests();
    let created = requests_to(&created, "POST", "/repos/acme/api/issues");
    assert_eq!(created.len(), 1, "one issue");
    let body = created[0].request_body.clone().unwrap_or_default();
    let text = body["body"].as_str().unwrap_or_default();
    assert!(text.contains("<!-- infinity-orchestrator:problem=ConsecutiveFailures severity=3 -->"), "{text}");
    assert_eq!(body["labels"], json!(["infinity-orchestrator"]));

    // A restart forgets everything in memory; the repository then fails a fourth time.
    operator.shutdown().await;
    let user = user_client(&sim);
    let _operator = RunningOperator::start(client.clone(), &ns);
    run_workflow_once(&sim, &user, "api", "build.yml", 70).await;
    let comments = format!("/repos/acme/api/issues/{}/comments", issue.number);
    eventually("the issue commented on as the streak grows", WAIT, || async {
        (!requests_to(&sim.requests(), "POST", &comments).is_empty()).then_some(())
    })
    .await;
    let log = sim.requests();
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/issues").len(), 1, "still one issue: {:?}", writes(&log));
    let comment = &requests_to(&log, "POST", &comments)[0].request_body;
    assert!(comment.as_ref().and_then(|c| c["body"].as_str()).is_some_and(|c| c.contains("severity=4")), "{comment:?}");

    // Green again: the issue is closed with a comment, and the status says so.
    sim.set_outcome(
        "acme",
        "api",
        Some("build.yml"),
        OutcomeFixture { result: OutcomeKind::Success, ..Default::default() },
    );
    run_workflow_once(&sim, &user, "api", "build.yml", 70).await;
    let issue_path = format!("/repos/acme/api/issues/{}", issue.number);
    eventually("the issue closed", WAIT, || async {
        let log = sim.requests();
        let closed = requests_to(&log, "PATCH", &issue_path)
            .iter()
            .any(|r| r.request_body.as_ref().is_some_and(|b| b["state"] == "closed"));
        closed.then_some(())
    })
    .await;
    let status = eventually("no open issue left in status", WAIT, || async {
        let status = status_of(&policies.get("heal").await.ok()?);
        status.open_issues.is_empty().then_some(status)
    })
    .await;
    let audited: Vec<(&str, &str)> =
        status.actions.iter().map(|a| (a.action.as_str(), a.outcome.as_str())).rev().collect();
    assert_eq!(audited, [("OpenIssue", "Enforced"), ("CommentIssue", "Enforced"), ("CloseIssue", "Enforced")]);
    assert!(status.actions.iter().all(|a| a.link.as_deref().is_some_and(|l| l.ends_with(&issue_path[12..]))));
    let log = sim.requests();
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/issues").len(), 1, "never a second issue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reruns_stop_at_their_bound() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-rerun").await;
    let sim = start(&[failing_repository("api", &["success", "failure"])]).await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s",
        "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
        "actions": { "issue": { "enabled": false },
                     "rerun": { "enabled": true, "maxAttemptsPerSha": 2, "backoff": "1s" } } }),
    )
    .await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let runs = sim.runs("acme", "api");
    let failed = runs.iter().find(|r| r["conclusion"] == "failure").expect("a failed run")["id"].clone();
    let rerun_path = format!("/repos/acme/api/actions/runs/{failed}/rerun-failed-jobs");
    for attempt in 1..=2 {
        eventually(&format!("re-run {attempt}"), WAIT, || async {
            (requests_to(&sim.requests(), "POST", &rerun_path).len() == attempt).then_some(())
        })
        .await;
        sim.advance_clock(70); // the re-run fails again
    }
    let status = eventually("the bound reported as holding the next re-run back", WAIT, || async {
        let status = status_of(&policies.get("heal").await.ok()?);
        status
            .withheld
            .iter()
            .any(|w| w.action == "Rerun" && w.reason.contains("2 re-runs made, bound 2"))
            .then_some(status)
    })
    .await;
    assert_eq!(requests_to(&sim.requests(), "POST", &rerun_path).len(), 2, "no third re-run");
    assert_eq!(status.actions.iter().filter(|a| a.action == "Rerun" && a.outcome == "Enforced").count(), 2);
    assert_eq!(sim.runs("acme", "api").iter().find(|r| r["id"] == failed).unwrap()["run_attempt"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_decisions_and_writes_nothing_to_github() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-dryrun").await;
    // One failure: not judged deterministic yet, so the escalation ladder starts with a re-run.
    let mut api = failing_repository("api", &["failure"]);
    api.push_str(
        "        alerts:\n          dependabot:\n            - {package: serde, ecosystem: cargo, severity: high, \
         vulnerable_version_range: \"< 0.2.0\", first_patched_version: 0.2.0, manifest_path: Cargo.toml, state: open}\n",
    );
    api = api.replace(
        "version = \\\"0.1.0\\\"\\n\"",
        "version = \\\"0.1.0\\\"\\n[dependencies]\\nserde = \\\"0.1.0\\\"\\n\"",
    );
    let sim = start(&[api]).await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "DryRun", "interval": "1s",
        "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100, "thresholds": { "consecutiveFailures": 1 },
        "actions": { "rerun": { "enabled": true }, "dependencyUpdate": { "enabled": true },
                     "rollback": { "enabled": true, "afterConsecutiveFailures": 3 } },
        // The ladder climbs re-run → issue → dependency update, a second per rung.
        "escalation": { "rungs": [{ "action": "Rerun", "window": "1s" }, { "action": "Issue", "window": "1s" },
                                  { "action": "FixPullRequest" }] } }),
    )
    .await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let status = eventually("the decisions recorded", WAIT, || async {
        let status = status_of(&policies.get("heal").await.ok()?);
        let kinds: Vec<&str> = status.actions.iter().map(|a| a.action.as_str()).collect();
        ["Rerun", "OpenIssue", "DependencyUpdate"].iter().all(|k| kinds.contains(k)).then_some(status)
    })
    .await;
    assert!(status.actions.iter().all(|a| a.outcome == "DryRun" && a.link.is_none()), "{:?}", status.actions);
    assert!(status.open_issues.is_empty() && status.pull_requests.is_empty());
    let log = sim.requests();
    assert!(!log.is_empty(), "the operator did read GitHub");
    assert_eq!(writes(&log), Vec::<String>::new(), "DryRun sends no write to GitHub");
    let events = support::events_about(client, &ns, "heal").await;
    assert!(events.iter().any(|e| e.contains("DryRun OpenIssue on api")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependabot_alert_on_package_json_yields_one_pull_request_changing_exactly_that_version() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-deps").await;
    let package_json = "{\n  \"name\": \"web\",\n  \"dependencies\": {\n    \"express\": \"^4.18.2\",\n    \
                        \"lodash\": \"^4.17.15\"\n  },\n  \"devDependencies\": {\n    \"jest\": \"^29.7.0\"\n  }\n}\n";
    let web = format!(
        r#"      - name: web
        language: JavaScript
        files:
          package.json: {}
        runs:
          - {{workflow: build.yml, conclusion: success}}
        workflows:
          - {{path: .github/workflows/build.yml, name: build}}
        alerts:
          dependabot:
            - {{package: lodash, ecosystem: npm, severity: high, vulnerable_version_range: "< 4.17.21",
               first_patched_version: 4.17.21, manifest_path: package-lock.json, state: open}}
            - {{package: jest, ecosystem: npm, severity: low, vulnerable_version_range: "< 29.7.1",
               first_patched_version: 29.7.1, manifest_path: package.json, state: open}}
"#,
        serde_json::to_string(package_json).unwrap()
    );
    let sim = start(&[web]).await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s",
        "actions": { "dependencyUpdate": { "enabled": true, "minSeverity": "high" } } }),
    )
    .await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let recorded = eventually("the pull request recorded", WAIT, || async {
        status_of(&policies.get("heal").await.ok()?).pull_requests.first().cloned()
    })
    .await;
    assert_eq!(recorded.branch, "infinity-orchestrator/dependency-update/lodash-4.17.21");
    let before = sim.files_at("acme", "web", "main").expect("main")["package.json"].clone();
    let after = sim.files_at("acme", "web", &recorded.branch).expect("the branch")["package.json"].clone();
    let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(b, a)| b != a).collect();
    assert_eq!(changed, [("    \"lodash\": \"^4.17.15\"", "    \"lodash\": \"^4.17.21\"")]);
    assert_eq!(before.lines().count(), after.lines().count());

    // Later evaluations find the pull request again and open no other (the low-severity jest alert is below
    // minSeverity).
    let evaluated = policies.get("heal").await.unwrap().status.unwrap().last_evaluated;
    eventually("a later evaluation", WAIT, || async {
        let status = status_of(&policies.get("heal").await.ok()?);
        (status.last_evaluated > evaluated).then_some(())
    })
    .await;
    let pulls = sim.pull_requests("acme", "web");
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(requests_to(&sim.requests(), "POST", "/repos/acme/web/pulls").len(), 1);
    let repository: Repository = Api::namespaced(client.clone(), &ns).get("web").await.unwrap();
    assert_eq!(repository.status.unwrap().security.unwrap().dependabot.high, 1);
}

#[tokio::test]
async fn the_dry_run_example_is_accepted_and_reads_back() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "healing-example").await;
    let example = support::repo_root().join("examples/healing/dryrun.yaml");
    cluster.kubectl_ok(&["apply", "-n", &ns, "-f", example.to_str().expect("UTF-8 path")]);
    let policy = Api::<HealingPolicy>::namespaced(cluster.client.clone(), &ns).get("critical-dryrun").await.unwrap();
    assert_eq!(policy.spec.mode, infinity_orchestrator::crd::healing_policy::HealingMode::DryRun);
    assert_eq!(policy.spec.selector.match_labels.get("tier").map(String::as_str), Some("critical"));
    assert_eq!(policy.spec.interval.to_std(), Some(Duration::from_secs(600)));
}
