//! `autoMerge`, end to end (real API server, github-sim, controllers in-process): the dependency pull request the
//! policy opens is merged once its checks passed, exactly once; one whose checks failed is not; without `autoMerge`
//! nothing merges; on a repository that allows auto-merge, GitHub's auto-merge is turned on instead and GitHub
//! merges once the required check passes.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::merging::CommitChecks;
use github_sim::{Fixture, LoggedRequest, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::healing_policy::HealingPolicyStatus;
use infinity_orchestrator::crd::HealingPolicy;
use kube::Api;
use serde_json::{json, Value};
use support::sim_org::{healing_policy, organization_on, requests_to};
use support::{cluster, events_about, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);
const BRANCH: &str = "infinity-orchestrator/dependency-update/lodash-4.17.21";
const PACKAGE_JSON: &str = "{\n  \"name\": \"web\",\n  \"dependencies\": {\n    \"lodash\": \"^4.17.15\"\n  }\n}\n";

/// An npm repository (no lockfile) with a high Dependabot alert on lodash, whose `main` requires the `build`
/// check, and whose commits report `merge` (the fixture's merge settings and checks).
fn repository(name: &str, merge: Value) -> Value {
    json!({
        "name": name, "language": "JavaScript", "files": { "package.json": PACKAGE_JSON },
        "workflows": [{ "path": ".github/workflows/build.yml", "name": "build" }],
        "runs": [{ "workflow": "build.yml", "conclusion": "success" }],
        "alerts": { "dependabot": [{ "package": "lodash", "ecosystem": "npm", "severity": "high",
            "vulnerable_version_range": "< 4.17.21", "first_patched_version": "4.17.21",
            "manifest_path": "package.json", "state": "open" }] },
        "merge": merge,
    })
}

async fn start(repositories: Vec<Value>) -> SimHandle {
    let fixture = json!({ "tokens": ["test-token"], "orgs": [{ "login": "acme", "repos": repositories }] });
    Simulator::start(Fixture::from_yaml(&fixture.to_string()).expect("a valid fixture"), SimOptions::default())
        .await
        .expect("starting github-sim")
}

fn policy_spec(auto_merge: Value) -> Value {
    json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
            "autoMerge": auto_merge, "actions": { "issue": { "enabled": false },
            "dependencyUpdate": { "enabled": true, "minSeverity": "high" } } })
}

fn status_of(policy: &HealingPolicy) -> HealingPolicyStatus {
    policy.status.clone().unwrap_or_default()
}

/// Waits for an evaluation that starts after this call, so what the test looks at next has been seen by it.
async fn a_later_evaluation(policies: &Api<HealingPolicy>) {
    let before = status_of(&policies.get("heal").await.unwrap()).last_evaluated;
    eventually("a later evaluation", WAIT, || async {
        (status_of(&policies.get("heal").await.ok()?).last_evaluated > before).then_some(())
    })
    .await;
    // And one more: the one just seen may have started before the call.
    let before = status_of(&policies.get("heal").await.unwrap()).last_evaluated;
    eventually("a second later evaluation", WAIT, || async {
        (status_of(&policies.get("heal").await.ok()?).last_evaluated > before).then_some(())
    })
    .await;
}

fn merges(log: &[LoggedRequest], repo: &str) -> usize {
    requests_to(log, "PUT", &format!("/repos/acme/{repo}/pulls/1/merge")).len()
}

fn auto_merge_mutations(log: &[LoggedRequest]) -> usize {
    log.iter()
        .filter(|r| r.is_graphql())
        .filter(|r| r.request_body.as_ref().is_some_and(|b| b.to_string().contains("enablePullRequestAutoMerge")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_green_dependency_pull_request_is_merged_once_and_a_failing_one_is_not() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "auto-merge").await;
    let protected = json!({ "main": ["build"] });
    let sim = start(vec![
        repository("green", json!({ "protected_branches": protected, "check_runs": { "build": "success" } })),
        repository(
            "red",
            json!({ "protected_branches": protected,
            "check_runs": { "build": "success", "lint": "failure" } }),
        ),
    ])
    .await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "heal", policy_spec(json!(["DependencyUpdate", "ConfigRepair"]))).await;
    let _operator = RunningOperator::start(client.clone(), &ns);

    let merged = eventually("the green pull request merged", WAIT, || async {
        sim.pull_request("acme", "green", 1).filter(|pull| pull.merged_at.is_some())
    })
    .await;
    assert_eq!(merged.head, BRANCH);
    let main = sim.files_at("acme", "green", "main").expect("main");
    assert!(main["package.json"].contains("\"lodash\": \"^4.17.21\""), "the fix is on main: {main:?}");
    eventually("the red pull request opened", WAIT, || async { sim.pull_request("acme", "red", 1) }).await;
    a_later_evaluation(&policies).await;

    let log = sim.requests();
    assert_eq!(merges(&log, "green"), 1, "merged exactly once");
    let merge = requests_to(&log, "PUT", "/repos/acme/green/pulls/1/merge")[0];
    assert_eq!(merge.status, 200);
    let body = merge.request_body.clone().unwrap_or_default();
    assert_eq!(body["sha"].as_str(), Some(merged_head(&sim).as_str()), "merged at the head it was decided for");
    assert_eq!(merges(&log, "red"), 0, "failing checks: never asked to merge");
    assert_eq!(auto_merge_mutations(&log), 0, "neither repository allows auto-merge");
    let red = sim.pull_request("acme", "red", 1).expect("the red pull request");
    assert_eq!((red.state.as_str(), red.merged_at), ("open", None));

    let status = status_of(&policies.get("heal").await.unwrap());
    let audited: Vec<_> = status.actions.iter().filter(|a| a.action == "MergePullRequest").collect();
    assert_eq!(audited.len(), 1, "{:?}", status.actions);
    assert_eq!((audited[0].repository.as_str(), audited[0].outcome.as_str()), ("green", "Enforced"));
    assert!(audited[0].link.as_deref().is_some_and(|link| link.ends_with("/acme/green/pull/1")), "{audited:?}");
    let held = status.withheld.iter().find(|w| w.repository == "red").expect("the red pull request held back");
    assert!(held.reason.contains("checks failed: lint"), "{held:?}");
    let events = events_about(client, &ns, "heal").await;
    assert!(events.iter().any(|e| e.contains("Enforced MergePullRequest on green")), "{events:?}");
    sim.assert_conformant();
}

/// The head the green pull request was merged at: its branch's head, which nothing moved since.
fn merged_head(sim: &SimHandle) -> String {
    let log = sim.requests();
    let pull = log
        .iter()
        .rev()
        .filter(|r| r.method == "GET" && r.path == "/repos/acme/green/pulls/1")
        .find_map(|r| r.response_body.clone())
        .expect("the pull request was read");
    pull["head"]["sha"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_merge_nothing_merges() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "no-auto-merge").await;
    let sim = start(vec![repository(
        "green",
        json!({ "allow_auto_merge": true, "protected_branches": { "main": ["build"] },
                "check_runs": { "build": "success" } }),
    )])
    .await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "heal", policy_spec(json!([]))).await;
    let _operator = RunningOperator::start(client.clone(), &ns);

    eventually("the pull request recorded", WAIT, || async {
        status_of(&policies.get("heal").await.ok()?).pull_requests.first().cloned()
    })
    .await;
    a_later_evaluation(&policies).await;
    let log = sim.requests();
    assert_eq!(merges(&log, "green"), 0);
    assert_eq!(auto_merge_mutations(&log), 0);
    let pull = sim.pull_request("acme", "green", 1).expect("the pull request");
    assert_eq!((pull.state.as_str(), pull.merged_at, pull.auto_merge), ("open", None, None));
    sim.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_repository_allows_it_github_s_auto_merge_merges_once_the_required_check_passes() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "github-auto-merge").await;
    let sim = start(vec![repository(
        "green",
        json!({ "allow_auto_merge": true, "allow_merge_commit": false,
                "protected_branches": { "main": ["build"] }, "check_runs": { "build": "in_progress" } }),
    )])
    .await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "heal", policy_spec(json!(["DependencyUpdate"]))).await;
    let _operator = RunningOperator::start(client.clone(), &ns);

    let waiting = eventually("auto-merge turned on", WAIT, || async {
        sim.pull_request("acme", "green", 1).filter(|pull| pull.auto_merge.is_some())
    })
    .await;
    assert_eq!(waiting.auto_merge.as_ref().map(|a| a.merge_method.as_str()), Some("squash"));
    assert_eq!(waiting.state, "open", "the required check is still running");
    a_later_evaluation(&policies).await;
    assert_eq!(auto_merge_mutations(&sim.requests()), 1, "turned on once");

    // The check completes: GitHub merges.
    let checks =
        CommitChecks { check_runs: BTreeMap::from([("build".into(), "success".into())]), ..Default::default() };
    assert!(sim.set_commit_checks("acme", "green", BRANCH, checks));
    let merged = sim.pull_request("acme", "green", 1).expect("the pull request");
    assert!(merged.merged_at.is_some(), "{merged:?}");
    a_later_evaluation(&policies).await;
    let log = sim.requests();
    assert_eq!(auto_merge_mutations(&log), 1);
    assert_eq!(merges(&log, "green"), 0, "GitHub merged it, the operator did not");
    let status = status_of(&policies.get("heal").await.unwrap());
    let audited: Vec<_> = status.actions.iter().filter(|a| a.action == "EnableAutoMerge").collect();
    assert_eq!(audited.len(), 1, "{:?}", status.actions);
    assert!(audited[0].reason.contains("required checks pending: build"), "{audited:?}");
    sim.assert_conformant();
}
