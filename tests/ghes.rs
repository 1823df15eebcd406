//! An Organization on GitHub Enterprise Server: its `apiUrl` is `http://HOST/api/v3`, the simulator serves only
//! there (and GraphQL at `/api/graphql`), and the operator binary discovers the organization, builds a BuildPlan in
//! dependency order and a HealingPolicy opens an issue, every request reaching the Enterprise Server's paths.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use support::build_plans::{build_plan, dispatched_runs, entry, until_phase, SimClock, WORKFLOW};
use support::operated_plans::{assert_dependency_order, start_operator, Graph, WEBHOOK_SECRET};
use support::sim_org::{healing_policy, organization_on, requests_to};
use support::{cluster, eventually, namespace};

const WAIT: Duration = Duration::from_secs(120);

/// A Rust crate `acme-NAME` depending on `acme-DEP` for each of `depends_on`, with a dispatchable build workflow
/// whose runs end with `outcome` and whose history is `history` (oldest first).
fn crate_repository(name: &str, depends_on: &[&str], outcome: &str, history: &[&str]) -> serde_json::Value {
    let mut manifest = format!("[package]\nname = \"acme-{name}\"\nversion = \"0.1.0\"\n\n[dependencies]\n");
    for dependency in depends_on {
        manifest.push_str(&format!("acme-{dependency} = \"0.1\"\n"));
    }
    let runs: Vec<serde_json::Value> = history
        .iter()
        .map(|conclusion| json!({ "workflow": WORKFLOW, "event": "push", "conclusion": conclusion, "duration_secs": 30 }))
        .collect();
    json!({
        "name": name, "language": "Rust",
        "files": { "Cargo.toml": manifest, "src/lib.rs": "pub fn f() {}\n" },
        "workflows": [{
            "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
            "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
            "outcome": { "result": outcome, "duration_secs": 20 },
        }],
        "runs": runs,
    })
}

/// core ← lib ← app, built by the plan; `legacy` fails on every run, for the HealingPolicy.
async fn enterprise_server() -> Arc<SimHandle> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let repos = [
        crate_repository("core", &[], "success", &["success"]),
        crate_repository("lib", &["core"], "success", &["success"]),
        crate_repository("app", &["lib"], "success", &["success"]),
        crate_repository("legacy", &[], "failure", &["success", "failure", "failure", "failure"]),
    ];
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": repos }], "tokens": ["test-token"], "start_epoch_secs": now,
    }))
    .expect("a valid fixture");
    let options = SimOptions { enterprise_server: true, ..SimOptions::default() };
    Arc::new(Simulator::start(fixture, options).await.expect("starting github-sim"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_a_build_plan_and_healing_run_against_an_enterprise_server() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "ghes").await;
    let sim = enterprise_server().await;
    assert!(sim.base_url().ends_with("/api/v3"), "{}", sim.base_url());
    sim.advance_clock(1);
    let organizations = organization_on(client, &ns, &sim).await;
    let webhook = json!({ "stringData": { "webhookSecret": WEBHOOK_SECRET } });
    Api::<Secret>::namespaced(client.clone(), &ns)
        .patch("gh", &PatchParams::default(), &Patch::Merge(&webhook))
        .await
        .expect("adding the webhook secret");
    let _clock = SimClock::start(&sim, 1);
    let _operator = start_operator(&cluster, &ns, &sim);

    // Discovery: the organization synced, a Repository per repository with the edges its manifests declare.
    let org: Organization = eventually("the Organization Ready and Synced", WAIT, || async {
        let org = organizations.get("acme").await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(org)
    })
    .await;
    assert_eq!(org.status.as_ref().and_then(|s| s.repository_count), Some(4));
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let graph: Graph = [("app", &["lib"][..]), ("core", &[]), ("legacy", &[]), ("lib", &["core"])]
        .into_iter()
        .map(|(name, on)| (name.to_string(), on.iter().map(|d| d.to_string()).collect()))
        .collect();
    let edges = || async {
        let listed = repositories.list(&ListParams::default()).await.expect("listing Repositories").items;
        let edges: BTreeMap<String, Vec<String>> = listed
            .into_iter()
            .map(|r| {
                let status = r.status.unwrap_or_default();
                (r.spec.name.0, status.dependencies.into_iter().map(|d| d.repository).collect())
            })
            .collect();
        edges
    };
    let described = eventually("a Repository per repository, with its edges", WAIT, || async {
        let found = edges().await;
        (found == graph).then_some(found)
    })
    .await;
    assert_eq!(described, graph, "the Repository objects and their discovered edges");

    // A BuildPlan of core, lib and app builds them in dependency order, each once, to success.
    let selector = json!({ "selector": { "names": ["core", "lib", "app"] }, "maxParallel": 3, "retryAttempts": 0 });
    let plans = build_plan(client, &ns, "ordered", selector).await;
    let plan = until_phase(&plans, "ordered", BuildPlanPhase::Succeeded, WAIT).await;
    let built: Graph = graph.into_iter().filter(|(name, _)| name != "legacy").collect();
    for name in built.keys() {
        let runs = dispatched_runs(&sim, name);
        let [run] = runs.as_slice() else { panic!("{name}: one run expected, got {runs:?}") };
        assert_eq!((entry(&plan, name).state, entry(&plan, name).run_id), (S::Succeeded, Some(run.id)), "{name}");
        let run_url = entry(&plan, name).run_url.clone().unwrap_or_default();
        assert!(run_url.ends_with(&format!("/acme/{name}/actions/runs/{}", run.id)), "{name}: {run_url}");
    }
    assert_dependency_order(&sim, &built);

    // A HealingPolicy opens one issue on the repository that keeps failing.
    let policies = healing_policy(
        client,
        &ns,
        "heal",
        json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100 }),
    )
    .await;
    let issue = eventually("the issue recorded in the policy's status", WAIT, || async {
        policies.get("heal").await.ok()?.status?.open_issues.first().cloned()
    })
    .await;
    assert_eq!((issue.repository.as_str(), issue.problem.as_str()), ("legacy", "ConsecutiveFailures"));
    let log = sim.requests();
    assert_eq!(requests_to(&log, "POST", "/repos/acme/legacy/issues").len(), 1, "one issue");

    // Every request reached the Enterprise Server's API paths (a GitHub API route, or GraphQL), in the API version
    // it knows.
    let routed =
        |r: &github_sim::LoggedRequest| r.is_graphql() || github_sim::routes::find_route(&r.method, &r.path).is_some();
    let outside: Vec<String> = log
        .iter()
        .filter(|r| !(r.url_path.starts_with("/api/v3/") || r.url_path == "/api/graphql") || !routed(r))
        .map(|r| format!("{} {} → {}", r.method, r.url_path, r.status))
        .collect();
    assert!(outside.is_empty(), "requests outside the Enterprise Server's API: {outside:?}");
    let graphql: Vec<(u16, Option<&serde_json::Value>)> =
        log.iter().filter(|r| r.url_path == "/api/graphql").map(|r| (r.status, r.response_body.as_ref())).collect();
    assert!(graphql.iter().all(|(status, _)| *status == 200) && !graphql.is_empty(), "GraphQL answers: {graphql:?}");
    let dispatches: Vec<_> = log.iter().filter(|r| r.url_path.ends_with("/dispatches")).collect();
    assert!(!dispatches.is_empty());
    let versions: Vec<Option<&str>> =
        log.iter().filter(|r| !r.is_graphql()).map(|r| r.api_version.as_deref()).collect();
    assert!(versions.iter().all(|v| *v == Some("2022-11-28")), "REST API versions asked: {versions:?}");
    let refused: Vec<String> =
        log.iter().filter(|r| r.status == 400).map(|r| format!("{} {}", r.method, r.url_path)).collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    sim.assert_conformant();
}
