//! The GitHub App's permissions end to end. `app-manifest` prints valid JSON asking for every permission the
//! `GitHub` port's operations need. An installation granted less (no `vulnerability_alerts`, `actions` read only;
//! real API server, github-sim, controllers in-process) gets the Organization's `PermissionsMissing` condition naming
//! each missing permission and the features it turns off, with one Event; discovery and health go on, a BuildPlan's
//! dispatch fails naming the permission, and GitHub is never asked for what it would refuse: no 403 in its log.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::RepositoryBuildState;
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{BuildPlan, HasConditions, Organization, Repository};
use infinity_orchestrator::github::permissions::{Access, Operation};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::operated_plans::WallClock;
use support::{cluster, events_about, eventually, namespace, RunningOperator};

const APP_KEY: &str = include_str!("support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("support/github_test_app_key.pub.pem");
const WAIT: Duration = Duration::from_secs(90);

#[test]
fn the_app_manifest_asks_for_every_permission_the_port_uses() {
    let output = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .args(["app-manifest", "--org", "acme", "--webhook-url", "https://hooks.example.com/webhook"])
        .output()
        .expect("running app-manifest");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(manifest["hook_attributes"]["url"], "https://hooks.example.com/webhook");
    let asked = manifest["default_permissions"].as_object().expect("default_permissions");
    for operation in Operation::all() {
        for need in operation.needs() {
            let level = asked.get(need.permission.key()).and_then(|level| level.as_str());
            let enough = match need.access {
                Access::Read => matches!(level, Some("read" | "write")),
                Access::Write => level == Some("write"),
            };
            assert!(enough, "{} needs {need}; the manifest asks for {level:?}", operation.method());
        }
    }
    let events: Vec<&str> = manifest["default_events"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(events.contains(&"workflow_run") && events.contains(&"push"), "{events:?}");

    let without = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .args(["app-manifest", "--org", "acme", "--without", "webhooks", "--without", "security"])
        .output()
        .expect("running app-manifest");
    assert!(without.status.success(), "{}", String::from_utf8_lossy(&without.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&without.stdout).expect("valid JSON");
    assert!(manifest.get("hook_attributes").is_none() && manifest.get("default_events").is_none());
    assert!(manifest["default_permissions"].get("security_events").is_none(), "{manifest}");
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `acme/core` (a build workflow taking the correlation id, a passing run, Dependabot on with an open alert),
/// reached through App 12345's installation 678, which was granted neither `vulnerability_alerts` nor
/// `actions: write`. The sim's clock follows the wall clock, on which the operator signs its App JWTs.
async fn simulator() -> (Arc<SimHandle>, WallClock) {
    let workflow = "name: build\nrun-name: \"build ${{ inputs.correlation_id }}\"\non:\n  workflow_dispatch:\n    \
                    inputs:\n      correlation_id: { required: false }\njobs: {}\n";
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": [{
            "name": "core",
            "language": "Rust",
            "files": { "Cargo.toml": "[package]\nname = \"core\"\nversion = \"0.1.0\"\n",
                ".github/workflows/build.yml": workflow },
            "workflows": [{ "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
                "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}" }],
            "runs": [{ "workflow": "build.yml", "event": "push", "conclusion": "success", "duration_secs": 30 }],
            "security": { "dependabot": true },
            "alerts": { "dependabot": [{ "package": "left-pad", "ecosystem": "npm", "severity": "high",
                "manifest_path": "package-lock.json", "state": "open" }] },
        }] }],
        "apps": [{ "id": 12345, "public_key_pem": APP_PUBLIC_KEY, "installations": [678],
            "permissions": { "678": { "contents": "read", "actions": "read", "checks": "read", "issues": "write",
                "pull_requests": "write", "security_events": "read", "secret_scanning_alerts": "read" } } }],
        "start_epoch_secs": now_secs(),
    }))
    .expect("a valid fixture");
    fixture.validate().expect("a valid fixture");
    let sim = Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim"));
    let clock = WallClock::start(&sim);
    (sim, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_is_a_condition_not_a_stream_of_403s() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "app-permissions").await;
    let (sim, _clock) = simulator().await;
    let secret: Secret = serde_json::from_value(json!({ "metadata": { "name": "github-app" }, "stringData": {
        "appId": "12345", "installationId": "678", "privateKey": APP_KEY } }))
    .expect("a Secret");
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &secret).await.expect("a Secret");
    let org: Organization = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(),
            "credentials": { "type": "App", "secretRef": { "name": "github-app" } } },
    }))
    .expect("an Organization");
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    organizations.create(&PostParams::default(), &org).await.expect("the Organization");
    let operator = RunningOperator::start(client.clone(), &ns);

    let org = eventually("the PermissionsMissing condition", WAIT, || async {
        let org = organizations.get("acme").await.ok()?;
        let missing = find_condition(org.conditions(), "PermissionsMissing")?;
        (missing.status == ConditionStatus::True).then_some(org)
    })
    .await;
    let message = &find_condition(org.conditions(), "PermissionsMissing").unwrap().message;
    assert!(message.contains("actions:write (turns off builds, healing)"), "{message}");
    assert!(message.contains("vulnerability_alerts:read (turns off security, healing)"), "{message}");
    assert!(!message.contains("contents:read") && !message.contains("checks:read"), "granted ones: {message}");

    // The rest goes on: discovery described `core`, and its health and security were read without Dependabot.
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let core = eventually("core's health and security", WAIT, || async {
        let repo = repositories.get("core").await.ok()?;
        let status = repo.status.as_ref()?;
        (status.health.is_some() && status.security.is_some()).then_some(repo)
    })
    .await;
    assert_eq!(core.status.unwrap().health.unwrap().window_runs, 1);

    // A BuildPlan's dispatch is refused naming the permission, without asking GitHub.
    let plan: BuildPlan = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan", "metadata": { "name": "nightly" },
        "spec": { "organizationRef": { "name": "acme" }, "retryAttempts": 0, "timeoutMinutes": 5 },
    }))
    .expect("a BuildPlan");
    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), &ns);
    plans.create(&PostParams::default(), &plan).await.expect("the BuildPlan");
    let reason = eventually("core's dispatch refused", WAIT, || async {
        let plan = plans.get("nightly").await.ok()?;
        let entry = plan.status?.repositories.into_iter().find(|e| e.name == "core")?;
        (entry.state == RepositoryBuildState::Failed).then_some(entry.reason.unwrap_or_default())
    })
    .await;
    assert!(reason.contains("actions:write"), "{reason}");

    let log = sim.requests();
    let refused: Vec<String> =
        log.iter().filter(|r| r.status == 403).map(|r| format!("{} {}", r.method, r.path)).collect();
    assert!(refused.is_empty(), "GitHub was asked for what the installation may not have: {refused:?}");
    assert!(log.iter().any(|r| r.path.starts_with("/app/installations/678/access_tokens")));
    let avoided = |r: &&github_sim::LoggedRequest| r.path.contains("/dependabot/") || r.path.ends_with("/dispatches");
    assert_eq!(log.iter().filter(avoided).count(), 0, "routes needing what was not granted are not called");
    let told = events_about(client, &ns, "acme").await;
    let told: Vec<&String> = told.iter().filter(|note| note.contains("was not granted")).collect();
    assert_eq!(told.len(), 1, "one Event: {told:?}");
    sim.assert_conformant();

    operator.shutdown().await;
}
