//! The escalation ladder end to end (real API server, github-sim, controllers in-process): a repository a commit
//! turned red, failing deterministically, is never re-run and climbs issue → fix pull request (a dependency update
//! for its Dependabot alert) → rollback pull request, each rung after the one below's window; once green it drops
//! back, its issue and its rollback pull request closed. In DryRun the same ladder is walked writing nothing.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::{OutcomeFixture, OutcomeKind};
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::crd::healing_policy::{AuditedAction, EscalationAction, HealingPolicyStatus};
use infinity_orchestrator::crd::HealingPolicy;
use kube::api::Api;
use serde_json::json;
use support::sim_org::{
    described_repository, healing_policy, organization_on, requests_to, run_workflow_once, user_client, writes,
};
use support::{cluster, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(120);
/// The Issue and FixPullRequest rungs' windows: short, and long enough that an evaluation falls inside each.
const WINDOW_SECS: i64 = 4;
const DEPENDENCY_BRANCH: &str = "infinity-orchestrator/dependency-update/serde-0.2.0";

/// `acme/api`: green on its first commit, then `bad` committed and failed three times in a row; a Dependabot alert on
/// `serde` in Cargo.toml. Returns the simulator and the bad commit's sha.
async fn red_repository() -> (SimHandle, String) {
    let fixture = json!({
        "tokens": ["test-token"],
        "orgs": [{ "login": "acme", "repos": [{
            "name": "api", "language": "Rust",
            "files": { "Cargo.toml": "[package]\nname = \"api\"\nversion = \"0.1.0\"\n[dependencies]\nserde = \"0.1.0\"\n",
                       "src/lib.rs": "pub fn good() {}\n" },
            "workflows": [{ "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
                            "outcome": { "result": "failure", "duration_secs": 30 } }],
            "runs": [{ "workflow": "build.yml", "conclusion": "success" }],
            "alerts": { "dependabot": [{ "package": "serde", "ecosystem": "cargo", "severity": "high",
                "vulnerable_version_range": "< 0.2.0", "first_patched_version": "0.2.0",
                "manifest_path": "Cargo.toml", "state": "open" }] },
        }]}],
    });
    let sim = Simulator::start(Fixture::from_yaml(&fixture.to_string()).unwrap(), SimOptions::default()).await.unwrap();
    let change = BTreeMap::from([("src/lib.rs".to_owned(), Some("pub fn bad() {\n".to_owned()))]);
    let bad = sim.commit_files("acme", "api", &change, "Break the build").unwrap();
    let user = user_client(&sim);
    for _ in 0..3 {
        run_workflow_once(&sim, &user, "api", "build.yml", 40).await;
    }
    (sim, bad)
}

fn policy_spec(mode: &str) -> serde_json::Value {
    let window = format!("{WINDOW_SECS}s");
    json!({ "mode": mode, "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
        "actions": { "rerun": { "enabled": true, "maxAttemptsPerSha": 2, "backoff": "1s" },
                     "dependencyUpdate": { "enabled": true },
                     "rollback": { "enabled": true, "afterConsecutiveFailures": 3 } },
        "escalation": { "rungs": [
            { "action": "Rerun", "window": "1s" }, { "action": "Issue", "window": window },
            { "action": "FixPullRequest", "window": window }, { "action": "RollbackPullRequest" } ] } })
}

/// The operator, reading every repository's runs in full at each one-second evaluation: the runs were dispatched by
/// hand on a head discovery has not seen, with no webhook to tell.
fn operator(client: &kube::Client, ns: &str) -> RunningOperator {
    let mut config = OperatorConfig::default();
    config.monitoring.health_full_read_interval = Duration::from_secs(1);
    RunningOperator::start_configured(client.clone(), ns, config)
}

async fn current_status(policies: &Api<HealingPolicy>) -> Option<HealingPolicyStatus> {
    policies.get("heal").await.ok()?.status
}

/// The first audit entry of `action`, oldest first.
fn first<'a>(status: &'a HealingPolicyStatus, action: &str) -> &'a AuditedAction {
    status.actions.iter().rev().find(|a| a.action == action).unwrap_or_else(|| panic!("no {action}: {status:?}"))
}

fn seconds_between(earlier: &AuditedAction, later: &AuditedAction) -> i64 {
    later.time.0.as_second() - earlier.time.0.as_second()
}

/// Waits for the ladder to reach the rollback rung and checks the way up: issue, then fix, then rollback, each at
/// least a window after the one below, one Event per climb.
async fn climbed_to_the_top(client: &kube::Client, ns: &str, policies: &Api<HealingPolicy>) -> HealingPolicyStatus {
    let status = eventually("the ladder at the rollback rung", WAIT, || async {
        let status = current_status(policies).await?;
        let top = status.escalations.iter().any(|l| l.rung == EscalationAction::RollbackPullRequest);
        top.then_some(status)
    })
    .await;
    let ladder = &status.escalations[0];
    assert_eq!((ladder.repository.as_str(), ladder.problem.as_str()), ("api", "ConsecutiveFailures"));
    let (issue, fix, rollback) =
        (first(&status, "OpenIssue"), first(&status, "DependencyUpdate"), first(&status, "Rollback"));
    assert!(seconds_between(issue, fix) >= WINDOW_SECS, "the fix waited for the issue's window: {issue:?} {fix:?}");
    assert!(seconds_between(fix, rollback) >= WINDOW_SECS, "the rollback waited for the fix's: {fix:?} {rollback:?}");
    assert_eq!(ladder.reached_at, rollback.time, "the rung is reached when its action is taken");
    assert_eq!(ladder.since, issue.time, "the ladder started at the issue: a deterministic failure skips the re-run");
    assert!(status.actions.iter().all(|a| a.action != "Rerun"), "a deterministic failure is never re-run");
    let events = support::events_about(client, ns, "heal").await;
    for climb in [
        "escalation started at the Issue rung (Deterministic failure)",
        "FixPullRequest reached",
        "RollbackPullRequest reached",
    ] {
        assert!(events.iter().any(|e| e.contains(climb)), "{climb}: {events:?}");
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deterministic_failure_climbs_issue_fix_rollback_and_drops_back_once_green() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-ladder").await;
    let (sim, bad) = red_repository().await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "heal", policy_spec("Enforce")).await;
    let _operator = operator(client, &ns);
    described_repository(client, &ns, "api").await;

    let status = climbed_to_the_top(client, &ns, &policies).await;
    let log = sim.requests();
    let seq = |method: &str, path: &str, branch: Option<&str>| {
        let found = requests_to(&log, method, path).into_iter().find(|r| {
            branch.is_none_or(|b| r.request_body.as_ref().is_some_and(|body| body["head"].as_str() == Some(b)))
        });
        found.unwrap_or_else(|| panic!("{method} {path} {branch:?}: {:?}", writes(&log))).seq
    };
    let rollback_branch = format!("infinity-orchestrator/rollback/{bad}");
    let issue = seq("POST", "/repos/acme/api/issues", None);
    let fix = seq("POST", "/repos/acme/api/pulls", Some(DEPENDENCY_BRANCH));
    let rollback = seq("POST", "/repos/acme/api/pulls", Some(&rollback_branch));
    assert!(issue < fix && fix < rollback, "issue #{issue}, fix #{fix}, rollback #{rollback} in that order");
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/issues").len(), 1);
    assert_eq!(requests_to(&log, "POST", "/repos/acme/api/pulls").len(), 2);
    assert!(log.iter().all(|r| !r.path.ends_with("/rerun-failed-jobs")), "never re-run");
    let issue_number = status.open_issues[0].number;
    let rollback_number = status.pull_requests.iter().find(|p| p.branch == rollback_branch).unwrap().number;
    let fix_number = status.pull_requests.iter().find(|p| p.branch == DEPENDENCY_BRANCH).unwrap().number;

    // Green again: back to the bottom, the issue and the rollback pull request closed, the fix left for review.
    sim.set_outcome("acme", "api", None, OutcomeFixture { result: OutcomeKind::Success, ..Default::default() });
    run_workflow_once(&sim, &user_client(&sim), "api", "build.yml", 70).await;
    let status = eventually("the ladder dropped back and the issue closed", WAIT, || async {
        let status = current_status(&policies).await?;
        (status.escalations.is_empty()
            && status.open_issues.is_empty()
            && status.actions.iter().any(|a| a.action == "ClosePullRequest"))
        .then_some(status)
    })
    .await;
    let closed = |number: i64| {
        let log = sim.requests();
        requests_to(&log, "PATCH", &format!("/repos/acme/api/issues/{number}"))
            .iter()
            .any(|r| r.request_body.as_ref().is_some_and(|b| b["state"] == "closed"))
    };
    assert!(closed(issue_number), "the issue closed");
    assert!(closed(rollback_number), "the rollback pull request closed");
    assert!(!closed(fix_number), "the dependency update stays open");
    let pulls = sim.pull_requests("acme", "api");
    let state = |number: i64| pulls.iter().find(|p| p.0 as i64 == number).map(|p| p.3.clone());
    assert_eq!((state(rollback_number).as_deref(), state(fix_number).as_deref()), (Some("closed"), Some("open")));
    let close = first(&status, "ClosePullRequest");
    assert!(close.outcome == "Enforced" && close.reason.contains(&rollback_branch), "{close:?}");
    let events = support::events_about(client, &ns, "heal").await;
    assert!(events.iter().any(|e| e.contains("healed at the RollbackPullRequest rung")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_walks_the_same_ladder_writing_nothing() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-ladder-dry").await;
    let (sim, _) = red_repository().await;
    sim.clear_requests();
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "heal", policy_spec("DryRun")).await;
    let _operator = operator(client, &ns);

    let status = climbed_to_the_top(client, &ns, &policies).await;
    assert!(status.actions.iter().all(|a| a.outcome == "DryRun" && a.link.is_none()), "{:?}", status.actions);
    assert!(status.open_issues.is_empty() && status.pull_requests.is_empty());
    let log = sim.requests();
    assert!(!log.is_empty(), "the operator did read GitHub");
    assert_eq!(writes(&log), Vec::<String>::new(), "DryRun sends no write to GitHub");
}
