//! Security from the organization's alert lists, end to end (real API server, github-sim, controllers in-process):
//! with a credential GitHub lets read them, every repository's security comes from three list requests for the
//! whole organization, and a HealingPolicy acting on Dependabot alerts reads the same snapshot; a repository whose
//! products are off reads none of its own lists: the runs query tells Dependabot alerts off, the listing secret
//! scanning, and code scanning without default setup or open alerts is reported unknown. When GitHub refuses the
//! organization's lists, the per-repository reads give the same statuses, but for that unknown (their own list
//! tells code scanning off).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use github_sim::{Fixture, LoggedRequest, SimOptions, Simulator};
use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::repository::SecurityStatus;
use infinity_orchestrator::crd::{HasConditions, Repository};
use kube::api::Api;
use serde_json::json;
use support::sim_org::{healing_policy, organization_on};
use support::{cluster, eventually, namespace, RunningOperator};

/// Repositories with open alerts of every product.
const WITH_ALERTS: usize = 6;
const WAIT: Duration = Duration::from_secs(90);

/// `acme` with [`WITH_ALERTS`] repositories `svc-N` (open alerts of each product, severities varying with N, and a
/// closed one of each) and `quiet` (every product off); `test-token` is a security manager when `manager`.
fn fixture(manager: bool) -> Fixture {
    let severities = ["critical", "high", "medium", "low"];
    let repo = |i: usize| {
        let severity = severities[i % severities.len()];
        format!(
            r#"
      - name: svc-{i}
        files: {{ go.mod: "module github.com/acme/svc-{i}\n" }}
        alerts:
          code_scanning:
            - {{ rule_id: go/r{i}, severity: error, security_severity: {severity}, path: a.go, line: 1, state: open }}
            - {{ rule_id: go/old, severity: warning, path: b.go, line: 2, state: fixed }}
          dependabot:
            - {{ package: golang.org/x/net, ecosystem: go, severity: {severity}, vulnerable_version_range: "< 0.23.0",
                first_patched_version: 0.23.0, manifest_path: go.mod, state: open }}
            - {{ package: golang.org/x/text, ecosystem: go, severity: high, vulnerable_version_range: "< 0.3.8",
                first_patched_version: 0.3.8, manifest_path: go.mod, state: dismissed }}
          secret_scanning:
            - {{ secret_type: github_personal_access_token, state: open }}
            - {{ secret_type: slack_api_token, state: resolved }}"#
        )
    };
    let repos: String = (0..WITH_ALERTS).map(repo).collect();
    let managers = if manager { "[test-token]" } else { "[]" };
    let yaml = format!(
        "tokens: [test-token]\norgs:\n  - login: acme\n    security_managers: {managers}\n    repos:{repos}
      - name: quiet
        files: {{ go.mod: \"module github.com/acme/quiet\\n\" }}\n"
    );
    Fixture::from_yaml(&yaml).expect("fixture")
}

/// Runs the operator on the fixture until every repository has its security; returns the statuses and the
/// simulator's request log.
async fn security_read(test: &str, manager: bool) -> (BTreeMap<String, SecurityStatus>, Vec<LoggedRequest>) {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, test).await;
    let sim = Simulator::start(fixture(manager), SimOptions::default()).await.expect("simulator");
    organization_on(client, &ns, &sim).await;
    // A policy acting on Dependabot alerts reads them from the same snapshot (an hour-long interval: one look).
    let spec = json!({ "mode": "DryRun", "interval": "1h", "actions": { "dependencyUpdate": { "enabled": true } } });
    let policies = healing_policy(client, &ns, "deps", spec).await;
    let operator = RunningOperator::start(client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let names: Vec<String> = (0..WITH_ALERTS).map(|i| format!("svc-{i}")).chain(["quiet".to_string()]).collect();
    let mut statuses = BTreeMap::new();
    for name in &names {
        let security =
            eventually(&format!("{name}'s security read"), WAIT, || async { api_security(&repositories, name).await })
                .await;
        statuses.insert(name.clone(), security);
    }
    eventually("the policy looked at the vulnerable repositories", WAIT, || async {
        let policy = policies.get("deps").await.ok()?;
        let ready = find_condition(policy.conditions(), "Ready")?;
        (ready.reason == "Evaluated" && !ready.message.contains(" 0 looked at")).then_some(())
    })
    .await;
    operator.shutdown().await;
    sim.assert_conformant();
    (statuses, sim.requests())
}

async fn api_security(repositories: &Api<Repository>, name: &str) -> Option<SecurityStatus> {
    repositories.get(name).await.ok()?.status?.security
}

/// The paths of the organization's alert-list requests, each time it was asked, with GitHub's answers.
fn organization_reads(log: &[LoggedRequest]) -> Vec<(String, u16)> {
    let reads = log.iter().filter(|r| r.method == "GET" && r.path.starts_with("/orgs/acme/"));
    reads.filter(|r| r.path.ends_with("/alerts")).map(|r| (r.path.clone(), r.status)).collect()
}

/// The organization's code security configuration requests, with GitHub's answers.
fn configuration_reads(log: &[LoggedRequest]) -> Vec<(String, u16)> {
    let reads = log.iter().filter(|r| r.method == "GET" && r.path.starts_with("/orgs/acme/code-security/"));
    reads.map(|r| (r.path.clone(), r.status)).collect()
}

/// The repositories' own alert lists that were read, each path once.
fn own_reads(log: &[LoggedRequest]) -> BTreeSet<String> {
    let reads = log.iter().filter(|r| r.method == "GET" && r.path.starts_with("/repos/acme/"));
    reads.filter(|r| r.path.ends_with("/alerts")).map(|r| r.path.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_organization_lists_give_every_repository_its_security_and_the_fallback_gives_the_same() {
    let (statuses, log) = security_read("org-alerts-listed", true).await;
    let mut listed = organization_reads(&log);
    listed.sort();
    let products = ["code-scanning", "dependabot", "secret-scanning"];
    let once: Vec<(String, u16)> = products.iter().map(|p| (format!("/orgs/acme/{p}/alerts"), 200)).collect();
    assert_eq!(listed, once, "one list per product for the whole organization and both controllers");
    let configurations = configuration_reads(&log);
    assert_eq!(configurations.first().map(|(path, _)| path.as_str()), Some("/orgs/acme/code-security/configurations"));
    assert!(configurations.iter().all(|(_, status)| *status == 200), "{configurations:?}");
    assert_eq!(own_reads(&log), BTreeSet::new(), "`quiet`, absent from every list, reads none of its own lists");
    assert_eq!(statuses["quiet"].disabled_features, ["dependabot", "secretScanning"]);
    assert_eq!(statuses["quiet"].unknown_features, ["codeScanning"], "no open alert, no default setup: unknown");
    let svc = &statuses["svc-0"];
    assert_eq!((svc.code_scanning.critical, svc.dependabot.critical, svc.secret_scanning), (1, 1, 1), "open only");
    assert!(svc.disabled_features.is_empty() && svc.unknown_features.is_empty());

    let (fallback, log) = security_read("org-alerts-refused", false).await;
    // The one difference: `quiet`'s own code-scanning list tells "off", which the organization's reads cannot.
    let mut expected = statuses.clone();
    let quiet = expected.get_mut("quiet").expect("quiet");
    quiet.unknown_features.clear();
    quiet.disabled_features.insert(0, "codeScanning".to_owned());
    assert_eq!(fallback, expected, "the per-repository reads give the same statuses, code scanning known off");
    assert!(configuration_reads(&log).is_empty(), "the configurations are not asked once the lists are refused");
    let refused = [("/orgs/acme/code-scanning/alerts".to_string(), 404)];
    assert_eq!(organization_reads(&log), refused, "refused once, then remembered");
    assert_eq!(own_reads(&log).len(), 3 * (WITH_ALERTS + 1), "every repository reads its three lists");
}
