//! A HealingPolicy's `enableSecurityFeatures`, end to end (real API server, github-sim, controllers in-process):
//! Dependabot alerts that are off are turned on once, with one Event, however many evaluations follow; `DryRun`
//! records the decision and sends nothing; without the field nothing is even read; and secret scanning on a private
//! repository without Advanced Security, which GitHub refuses, is held back with GitHub's answer instead of being
//! sent again at every evaluation.

mod support;

use std::time::Duration;

use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::healing_policy::HealingPolicyStatus;
use infinity_orchestrator::crd::HealingPolicy;
use infinity_orchestrator::github::{AlertSource, Alerts, GitHub, RepoRef};
use kube::Api;
use serde_json::json;
use support::sim_org::{described_repository, healing_policy, organization_on, requests_to, user_client};
use support::{cluster, events_about, eventually, namespace, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);
const ALERTS: &str = "/repos/acme/api/vulnerability-alerts";

/// `acme` with `api` (private, every security feature off, no Advanced Security) and `web` (Dependabot alerts on).
async fn simulator() -> SimHandle {
    let fixture = json!({
        "tokens": ["test-token"],
        "orgs": [{ "login": "acme", "repos": [
            { "name": "api", "language": "Rust", "files": { "Cargo.toml": "[package]\nname = \"api\"\n" } },
            { "name": "web", "language": "Rust", "files": { "Cargo.toml": "[package]\nname = \"web\"\n" },
              "security": { "dependabot": true } },
        ]}],
    });
    Simulator::start(Fixture::from_yaml(&fixture.to_string()).unwrap(), SimOptions::default()).await.unwrap()
}

/// A policy evaluating every second with a one-second cooldown (so that only what GitHub answers, not the
/// cooldown, keeps an enable from being sent again), and no other action.
fn spec(mode: &str, features: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({ "mode": mode, "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
        "actions": { "issue": { "enabled": false } } });
    if !features.is_null() {
        spec["enableSecurityFeatures"] = features;
    }
    spec
}

async fn status_of(policies: &Api<HealingPolicy>) -> Option<HealingPolicyStatus> {
    policies.get("secure").await.ok()?.status
}

/// Waits for `count` more evaluations of the policy.
async fn evaluations(policies: &Api<HealingPolicy>, count: usize) {
    for _ in 0..count {
        let seen = status_of(policies).await.and_then(|status| status.last_evaluated);
        eventually("a later evaluation", WAIT, || async {
            let evaluated = status_of(policies).await?.last_evaluated;
            (evaluated.is_some() && evaluated > seen).then_some(())
        })
        .await;
    }
}

/// The notes of the policy's Events about `action`.
async fn events_of(client: &kube::Client, ns: &str, action: &str) -> Vec<String> {
    events_about(client, ns, "secure").await.into_iter().filter(|note| note.contains(action)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependabot_alerts_that_are_off_are_turned_on_once_with_one_event() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "security-features-on").await;
    let sim = simulator().await;
    organization_on(client, &ns, &sim).await;
    // Security updates too: the Repository status does not report them, so the policy reads GitHub until GitHub
    // says both are on; from then on that answer spares the reads (for a day, or until a later read of the
    // Repository reports one off).
    let features = json!({ "dependabotAlerts": true, "dependabotSecurityUpdates": true });
    let policies = healing_policy(client, &ns, "secure", spec("Enforce", features)).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;

    let entry = eventually("the enables audited", WAIT, || async {
        let status = status_of(&policies).await?;
        let updates = status.actions.iter().any(|a| a.action == "EnableDependabotSecurityUpdates");
        status.actions.into_iter().find(|a| a.action == "EnableDependabotAlerts").filter(|_| updates)
    })
    .await;
    assert_eq!((entry.repository.as_str(), entry.outcome.as_str()), ("api", "Enforced"), "{entry:?}");
    evaluations(&policies, 4).await;

    let log = sim.requests();
    let puts = requests_to(&log, "PUT", ALERTS);
    assert_eq!(puts.len(), 1, "sent once, across every evaluation since");
    assert_eq!(puts[0].status, 204);
    assert!(requests_to(&log, "PUT", "/repos/acme/web/vulnerability-alerts").is_empty(), "web had them on");
    let fixes = requests_to(&log, "PUT", "/repos/acme/api/automated-security-fixes");
    assert_eq!(fixes.iter().map(|r| r.status).collect::<Vec<_>>(), [204], "security updates once, after the alerts");
    assert!(fixes[0].seq > puts[0].seq);
    let checked: Vec<u16> = requests_to(&log, "GET", ALERTS).iter().map(|r| r.status).collect();
    assert_eq!(checked, [404, 204], "off before the enable, on after it, and not read again in 4 evaluations");
    let fixes_read = requests_to(&log, "GET", "/repos/acme/api/automated-security-fixes");
    assert_eq!(fixes_read.len(), 1, "security updates read once, once the alerts were on");
    let alerts = user_client(&sim).open_alerts(&RepoRef::new("acme", "api"), AlertSource::Dependabot).await;
    assert!(matches!(alerts, Ok(Alerts::Open(_))), "GitHub lists the alerts now: {alerts:?}");
    let status = status_of(&policies).await.unwrap();
    let enables: Vec<_> = status.actions.iter().filter(|a| a.action == "EnableDependabotAlerts").collect();
    assert_eq!(enables.len(), 1, "{enables:?}");
    let events = events_of(client, &ns, "EnableDependabotAlerts").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].starts_with("Enforced EnableDependabotAlerts on api"), "{events:?}");
    assert_eq!(events_of(client, &ns, "EnableDependabotSecurityUpdates on api").await.len(), 1);
    sim.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_the_enable_and_sends_nothing() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "security-features-dry").await;
    let sim = simulator().await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "secure", spec("DryRun", json!({ "dependabotAlerts": true }))).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;

    let entry = eventually("the decision recorded", WAIT, || async {
        status_of(&policies).await?.actions.into_iter().find(|a| a.action == "EnableDependabotAlerts")
    })
    .await;
    assert_eq!((entry.repository.as_str(), entry.outcome.as_str()), ("api", "DryRun"));
    evaluations(&policies, 3).await;
    let log = sim.requests();
    assert!(requests_to(&log, "PUT", ALERTS).is_empty(), "DryRun sends nothing");
    assert!(log.iter().all(|r| r.method == "GET" || r.path == "/graphql"), "no write at all");
    assert!(!requests_to(&log, "GET", ALERTS).is_empty(), "it looked");
    let events = events_of(client, &ns, "EnableDependabotAlerts").await;
    assert!(events.iter().all(|note| note.starts_with("DryRun EnableDependabotAlerts on api")), "{events:?}");
    sim.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_enable_security_features_nothing_is_read_or_sent() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "security-features-off").await;
    let sim = simulator().await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "secure", spec("Enforce", serde_json::Value::Null)).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;
    evaluations(&policies, 3).await;
    let log = sim.requests();
    let security_routes = |r: &&github_sim::LoggedRequest| {
        r.path.ends_with("/vulnerability-alerts")
            || r.path.ends_with("/automated-security-fixes")
            || (r.method == "PATCH" && r.path == "/repos/acme/api")
    };
    assert_eq!(log.iter().filter(security_routes).count(), 0);
    let status = status_of(&policies).await.unwrap();
    assert!(status.actions.iter().all(|a| !a.action.starts_with("Enable")), "{:?}", status.actions);
    assert!(status.withheld.iter().all(|w| !w.action.starts_with("Enable")), "{:?}", status.withheld);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_scanning_github_refuses_is_held_back_with_the_reason_and_not_sent_again() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "security-features-refused").await;
    let sim = simulator().await;
    organization_on(client, &ns, &sim).await;
    let policies = healing_policy(client, &ns, "secure", spec("Enforce", json!({ "secretScanning": true }))).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    described_repository(client, &ns, "api").await;

    let held = eventually("the refusal held back", WAIT, || async {
        let status = status_of(&policies).await?;
        status.withheld.into_iter().find(|w| w.repository == "api" && w.action == "EnableSecretScanning")
    })
    .await;
    assert!(held.reason.contains("Advanced Security"), "GitHub's answer is the reason: {held:?}");
    assert!(held.retry_at.is_some(), "{held:?}");
    evaluations(&policies, 4).await;

    let log = sim.requests();
    let patches = requests_to(&log, "PATCH", "/repos/acme/api");
    assert_eq!(patches.iter().map(|r| r.status).collect::<Vec<_>>(), [422], "sent once, refused, not sent again");
    let status = status_of(&policies).await.unwrap();
    let refused: Vec<_> =
        status.actions.iter().filter(|a| a.repository == "api" && a.action == "EnableSecretScanning").collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].outcome, "Refused");
    let still = status.withheld.iter().find(|w| w.repository == "api" && w.action == "EnableSecretScanning");
    let still = still.expect("still held back");
    assert!(still.reason.contains("Advanced Security"), "{still:?}");
    let events = events_of(client, &ns, "EnableSecretScanning on api").await;
    assert_eq!(events.len(), 1, "{events:?}");
    sim.assert_conformant();
}
