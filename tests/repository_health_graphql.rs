//! Repository health read through GraphQL (the default) against REST (`spec.discovery.reads: REST`), end to end (real
//! API server, github-sim, controllers in-process): the 30-repository organization, given runs of build, test and
//! other workflows, gets the same health either way; the GraphQL way reads the runs of many repositories per query,
//! for a few points instead of a request per repository; and when GitHub fails every query, the runs are read by
//! REST instead, with the same health.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::{RunFixture, WorkflowFixture};
use github_sim::{Fixture, LoggedRequest, SimOptions, Simulator};
use infinity_orchestrator::crd::Repository;
use kube::api::{Api, ListParams};
use support::{cluster, eventually, namespace, token_organization, RunningOperator};

const TOKEN: &str = "test-token";
/// The repositories of the fixture that pass discovery's default filters.
const KEPT: usize = 30;

/// `tests/fixtures/acme-30.yaml`, each repository with a `CI` and a `deploy` workflow and runs that vary with its
/// place: none; only deploys (every run then speaks for the repository); more runs than a read takes; or a few
/// builds of mixed outcomes and durations among deploys.
fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml");
    let mut fixture = Fixture::from_file(path).expect("the fixture parses");
    let workflow = |file: &str, name: &str| WorkflowFixture {
        path: format!(".github/workflows/{file}"),
        name: Some(name.into()),
        ..WorkflowFixture::default()
    };
    for (i, repo) in fixture.orgs[0].repos.iter_mut().enumerate() {
        repo.workflows.extend([workflow("ci.yml", "CI"), workflow("deploy.yml", "deploy")]);
        repo.runs = runs(i);
    }
    fixture
}

/// The runs of the `i`th repository, oldest first.
fn runs(i: usize) -> Vec<RunFixture> {
    let run = |workflow: &str, conclusion: &str, k: usize| RunFixture {
        workflow: Some(workflow.into()),
        conclusion: conclusion.into(),
        duration_secs: i64::try_from(60 + 10 * k + i).unwrap(),
        ..RunFixture::default()
    };
    let outcomes = ["success", "failure", "cancelled", "success", "timed_out", "failure", "success"];
    match i % 6 {
        1 => Vec::new(),
        2 => vec![run("deploy.yml", "success", 0), run("deploy.yml", "failure", 1), run("deploy.yml", "failure", 2)],
        3 => (0..60).map(|k| run(if k % 3 == 0 { "deploy.yml" } else { "ci.yml" }, outcomes[k % 7], k)).collect(),
        _ => {
            let mut runs: Vec<RunFixture> = (0..4 + i % 5).map(|k| run("ci.yml", outcomes[(i + k) % 7], k)).collect();
            runs.insert(runs.len() / 2, run("deploy.yml", "failure", 0));
            runs
        }
    }
}

/// Runs the operator on the fixture served with `options`, the Organization reading by `reads`, until every
/// repository has its health; returns the health by repository (run pages without the simulator's address) and
/// the request log.
async fn health_read(
    test: &str,
    reads: &str,
    options: SimOptions,
) -> (BTreeMap<String, serde_json::Value>, Vec<LoggedRequest>) {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, test).await;
    let sim = Simulator::start(fixture(), options).await.expect("the simulator starts");
    sim.advance_clock(1);
    token_organization(client, &ns, TOKEN, sim.base_url(), reads).await;
    let operator = RunningOperator::start(client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let health = eventually("every repository's health", Duration::from_secs(120), || async {
        let listed = repositories.list(&ListParams::default()).await.ok()?.items;
        let health: BTreeMap<String, serde_json::Value> = listed
            .into_iter()
            .filter_map(|repo| Some((repo.spec.name.0.clone(), serde_json::to_value(repo.status?.health?).ok()?)))
            .collect();
        (health.len() == KEPT).then_some(health)
    })
    .await;
    operator.shutdown().await;
    sim.assert_conformant();
    let base = sim.base_url();
    let health = health.into_iter().map(|(name, value)| (name, json_without(value, base))).collect();
    (health, sim.requests())
}

/// `value` with the simulator's address taken out of its strings (each simulator serves on a port of its own).
fn json_without(value: serde_json::Value, base: &str) -> serde_json::Value {
    serde_json::from_str(&value.to_string().replace(base, "")).expect("JSON")
}

/// The REST requests for runs and workflows.
fn rest_run_reads(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    let runs = |r: &&LoggedRequest| r.path.ends_with("/actions/runs") || r.path.ends_with("/actions/workflows");
    log.iter().filter(|r| r.method == "GET" && r.path.starts_with("/repos/acme/")).filter(runs).collect()
}

/// The GraphQL queries for runs (those asking for check suites).
fn graphql_run_reads(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    let asks_runs = |r: &&LoggedRequest| r.request_body.as_ref().is_some_and(|b| b.to_string().contains("checkSuites"));
    log.iter().filter(|r| r.is_graphql()).filter(asks_runs).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_reads_give_every_repository_the_health_rest_reads_give_for_a_few_points() {
    let (by_rest, rest_log) = health_read("health-rest", "REST", SimOptions::default()).await;
    let (by_graphql, graphql_log) = health_read("health-graphql", "GraphQL", SimOptions::default()).await;
    assert_same_health(&by_rest, &by_graphql, "GraphQL reads");
    let runs_counted = |name: &str| by_rest[name]["windowRuns"].as_i64().unwrap_or_default();
    assert!(by_rest.keys().any(|name| runs_counted(name) == 20), "a full window somewhere: {by_rest:?}");
    assert!(by_rest.keys().any(|name| runs_counted(name) == 0), "a repository without runs: {by_rest:?}");

    let rest_reads = rest_run_reads(&rest_log);
    assert!(graphql_run_reads(&rest_log).is_empty(), "REST reads send no runs query");
    assert!(rest_reads.iter().all(|r| r.path.ends_with("/actions/runs")), "runs carry their workflow's file");
    assert_eq!(rest_reads.len(), KEPT, "one read of each repository's runs");
    let rest_points: i64 = rest_reads.iter().map(|r| r.points).sum();
    assert!(rest_run_reads(&graphql_log).is_empty(), "GraphQL reads read no runs by REST");
    let queries = graphql_run_reads(&graphql_log);
    let graphql_points: i64 = queries.iter().map(|r| r.points).sum();
    let (sent, of) = (queries.len(), KEPT);
    println!("health of {of} repositories: REST {rest_points} points; GraphQL {sent} queries, {graphql_points} points");
    assert!(queries.iter().all(|r| r.status == 200), "every runs query answered");
    // Repositories are read as discovery describes them, so the first pass takes a few queries here; at scale each
    // query carries 50 repositories for about 6 points.
    assert!(graphql_points * 2 <= rest_points, "GraphQL {graphql_points} points against REST {rest_points}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_queries_github_fails_are_read_by_rest_with_the_same_health() {
    let (by_rest, _) = health_read("health-rest-only", "REST", SimOptions::default()).await;
    // GitHub ends a query after 10 seconds; the simulator answers as GitHub does (502) past a response size, here
    // past any query's.
    let options = SimOptions { graphql_max_response_bytes: 1, ..SimOptions::default() };
    let (by_fallback, log) = health_read("health-graphql-failing", "GraphQL", options).await;
    assert_same_health(&by_rest, &by_fallback, "the fallback");
    let failed = graphql_run_reads(&log);
    assert!(!failed.is_empty() && failed.iter().all(|r| r.status >= 500), "every runs query failed");
    let rest_reads = rest_run_reads(&log);
    assert!(rest_reads.len() >= KEPT, "each repository's runs read by REST: {}", rest_reads.len());
}

fn assert_same_health(
    expected: &BTreeMap<String, serde_json::Value>,
    actual: &BTreeMap<String, serde_json::Value>,
    what: &str,
) {
    let differences: Vec<String> = expected
        .iter()
        .filter(|(name, health)| actual.get(*name) != Some(health))
        .map(|(name, health)| format!("{name}: REST {health}\n{what} {:?}", actual.get(name)))
        .collect();
    assert!(differences.is_empty(), "{what} changed health:\n{}", differences.join("\n"));
}
