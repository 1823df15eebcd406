//! HealingPolicy repairs by pull request, end to end (real API server, github-sim, controllers in-process): a
//! commit that deletes the orchestrator's workflow and breaks the build gets a config-repair pull request
//! restoring the shipped workflow, and, once the branch stays red past the threshold, one rollback pull request
//! reverting exactly that commit.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::{OutcomeFixture, OutcomeKind};
use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::plan::detect::CommandsInEffect;
use infinity_orchestrator::plan::installed_workflows::build_workflow;
use serde_json::json;
use support::sim_org::{
    described_repository, healing_policy, organization_on, requests_to, run_workflow_once, user_client,
};
use support::{cluster, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);
const WORKFLOW: &str = ".github/workflows/infinity-orchestrator.yml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaking_commit_gets_a_config_repair_and_one_rollback_pull_request() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "healing-repairs").await;
    // The workflow as onboarding installed it, with the commands detected here written into it.
    let installed = build_workflow(&CommandsInEffect {
        build_command: Some("cargo build".into()),
        test_command: Some("cargo test".into()),
    });
    let fixture = json!({
        "tokens": ["test-token"],
        "orgs": [{ "login": "acme", "repos": [{
            "name": "api", "language": "Rust",
            "files": { "Cargo.toml": "[package]\nname = \"api\"\n", "src/lib.rs": "pub fn good() {}\n",
                       WORKFLOW: installed, ".github/workflows/build-template.yml": "on: workflow_call\n" },
            "workflows": [{ "path": WORKFLOW, "name": "build", "workflow_dispatch": true,
                            "inputs": ["correlation_id"], "outcome": { "result": "failure", "duration_secs": 30 } }],
            "runs": [{ "workflow": "infinity-orchestrator.yml", "conclusion": "success" }],
        }]}],
    });
    let sim = Simulator::start(Fixture::from_yaml(&fixture.to_string()).unwrap(), SimOptions::default()).await.unwrap();
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s",
        "maxActionsPerRepositoryPerHour": 100,
        "actions": { "issue": { "enabled": false }, "configRepair": { "enabled": true },
                     "rollback": { "enabled": true, "afterConsecutiveFailures": 3 } },
        // The escalation ladder tries the rollback a window after the repair; a short one keeps the test quick.
        "escalation": { "rungs": [{ "action": "FixPullRequest", "window": "1s" }, { "action": "RollbackPullRequest" }] } }),
    )
    .await;
    // The failing runs are dispatched by hand on a head discovery has not seen (no webhooks here): only a full read
    // of the runs, at each of the policy's one-second reads, shows them.
    let mut config = OperatorConfig::default();
    config.monitoring.health_full_read_interval = Duration::from_secs(1);
    let _operator = RunningOperator::start_configured(client.clone(), &ns, config);
    described_repository(client, &ns, "api").await;

    let good = sim.files_at("acme", "api", "main").unwrap();
    // The commit breaks the workflow (it no longer takes the correlation input) while it stays dispatchable, so
    // that its runs can go red: GitHub runs no workflow whose file is gone.
    let broken = installed.replace("correlation_id", "request_id");
    let changes = BTreeMap::from([
        ("src/lib.rs".to_owned(), Some("pub fn bad() {\n".to_owned())),
        (WORKFLOW.to_owned(), Some(broken)),
    ]);
    let bad_sha = sim.commit_files("acme", "api", &changes, "Refactor everything").unwrap();
    let user = user_client(&sim);
    for _ in 0..3 {
        run_workflow_once(&sim, &user, "api", "infinity-orchestrator.yml", 40).await;
    }

    let rollback_branch = format!("infinity-orchestrator/rollback/{bad_sha}");
    let recorded = eventually("both pull requests recorded", WAIT, || async {
        let status = policies.get("heal").await.ok()?.status?;
        let branches: Vec<String> = status.pull_requests.iter().map(|p| p.branch.clone()).collect();
        (branches.contains(&rollback_branch) && branches.len() == 2).then_some(branches)
    })
    .await;
    assert!(recorded.contains(&"infinity-orchestrator/config-repair/infinity-orchestrator.yml".to_owned()));
    let repaired =
        sim.files_at("acme", "api", "infinity-orchestrator/config-repair/infinity-orchestrator.yml").unwrap();
    assert_eq!(repaired.get(WORKFLOW), Some(&installed), "the shipped workflow restored, with the commands");
    assert_eq!(repaired.get("src/lib.rs").map(String::as_str), Some("pub fn bad() {\n"), "and nothing else");
    let reverted = sim.files_at("acme", "api", &rollback_branch).unwrap();
    assert_eq!(reverted, good, "the revert restores every file the commit changed, and only those");

    // The branch stays red (a fourth failure); the rollback is proposed once per bad commit.
    sim.set_outcome("acme", "api", None, OutcomeFixture { result: OutcomeKind::Failure, ..Default::default() });
    run_workflow_once(&sim, &user, "api", "infinity-orchestrator.yml", 40).await;
    let evaluated = policies.get("heal").await.unwrap().status.unwrap().last_evaluated;
    eventually("a later evaluation", WAIT, || async {
        (policies.get("heal").await.ok()?.status?.last_evaluated > evaluated).then_some(())
    })
    .await;
    assert_eq!(requests_to(&sim.requests(), "POST", "/repos/acme/api/pulls").len(), 2, "one rollback, one repair");
    let status = policies.get("heal").await.unwrap().status.unwrap();
    let rollbacks: Vec<_> = status.actions.iter().filter(|a| a.action == "Rollback").collect();
    assert_eq!(rollbacks.len(), 1);
    assert!(rollbacks[0].reason.contains(&bad_sha) && rollbacks[0].link.is_some(), "{:?}", rollbacks[0]);
}
