//! Discovery reading repositories through GraphQL (the default) against reading them through REST, with github-sim
//! serving `tests/fixtures/acme-30.yaml` plus a repository whose manifest GitHub truncates in GraphQL and one deeper
//! than the trees query reads: the same descriptions, the same Repository objects, for a fraction of the points; and
//! a resync of the unchanged organization that reads nothing.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::RepoFixture;
use github_sim::{Fixture, LoggedRequest, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::controller::detection_cache::DetectionCache;
use infinity_orchestrator::controller::organization::observe::{discover, Discovery};
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::organization::{DiscoveryReads, DiscoverySpec};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use infinity_orchestrator::github::{Credentials, GitHubConfig, OctocrabGitHub};
use infinity_orchestrator::plan::detect::RepositoryDescription;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace, token_organization};

const TOKEN: &str = "test-token";

/// The 30-repository organization, plus `big`, whose 2 MB Cargo manifest GraphQL gives truncated, and `deep`, whose
/// only Python test file lies below the sixth level of its tree.
fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml");
    let mut fixture = Fixture::from_file(path).expect("the fixture parses");
    let mut manifest = String::from("[package]\nname = \"acme-big\"\nversion = \"0.1.0\"\n\n[dependencies]\n");
    manifest.push_str("acme-proto = { git = \"https://github.com/acme/proto\" }\n\n[features]\n");
    let mut i = 0;
    while manifest.len() < 2 * 1024 * 1024 {
        manifest.push_str(&format!("feature-{i:07} = []\n"));
        i += 1;
    }
    let repo = |name: &str, language: &str, files: &[(&str, &str)]| RepoFixture {
        name: name.into(),
        files: files.iter().map(|(path, text)| (path.to_string(), text.to_string())).collect(),
        language: Some(language.into()),
        ..Default::default()
    };
    let big = [("Cargo.toml", manifest.as_str()), ("src/lib.rs", "pub fn big() {}\n")];
    fixture.orgs[0].repos.push(repo("big", "Rust", &big));
    let pyproject = "[project]\nname = \"acme-deep\"\nversion = \"0.1.0\"\n\n\
                     [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";
    fixture.orgs[0].repos.push(repo(
        "deep",
        "Python",
        &[("pyproject.toml", pyproject), ("src/deep/a/b/c/d/tests/test_deep.py", "def test_deep():\n    pass\n")],
    ));
    fixture
}

fn spec(reads: DiscoveryReads) -> DiscoverySpec {
    DiscoverySpec { reads, ..DiscoverySpec::default() }
}

/// One pass, with what it found of each repository.
async fn pass(
    github: &OctocrabGitHub,
    reads: DiscoveryReads,
    cache: &DetectionCache,
) -> (Discovery, BTreeMap<String, RepositoryDescription>) {
    let discovery = discover(github, "acme", &spec(reads), cache, "acme").await.expect("a discovery pass");
    let mut descriptions = BTreeMap::new();
    for (name, findings) in &discovery.kept {
        assert_eq!(findings.read_error, None, "{name} was read");
        descriptions.insert(name.clone(), findings.description.clone());
    }
    (discovery, descriptions)
}

/// REST and GraphQL points in a request log.
fn points(log: &[LoggedRequest]) -> (i64, i64) {
    let graphql = log.iter().filter(|r| r.path == "/graphql").map(|r| r.points).sum();
    let rest = log.iter().filter(|r| r.path != "/graphql").map(|r| r.points).sum();
    (rest, graphql)
}

async fn simulator() -> SimHandle {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("the simulator starts");
    // GitHub's clock moves on: the first reading starts a second after the fixture's pushes.
    sim.advance_clock(1);
    sim
}

fn client(sim: &SimHandle) -> OctocrabGitHub {
    OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token(TOKEN.into()))).expect("a client")
}

#[tokio::test]
async fn graphql_reads_describe_every_repository_as_rest_reads_do_for_a_fraction_of_the_points() {
    let rest_sim = simulator().await;
    let (_, by_rest) = pass(&client(&rest_sim), DiscoveryReads::Rest, &DetectionCache::default()).await;
    let rest_log = rest_sim.requests();
    rest_sim.assert_conformant();

    let sim = simulator().await;
    let github = client(&sim);
    let cache = DetectionCache::default();
    let (first, by_graphql) = pass(&github, DiscoveryReads::GraphQL, &cache).await;
    let log = sim.requests();
    sim.assert_conformant();
    assert_eq!(by_graphql.keys().collect::<Vec<_>>(), by_rest.keys().collect::<Vec<_>>());
    for (name, description) in &by_rest {
        assert_eq!(by_graphql.get(name), Some(description), "{name} is described the same through GraphQL");
    }
    assert_eq!(first.read, by_rest.len(), "every repository was read");
    let big = &by_graphql["big"];
    assert_eq!(big.build_command.as_deref(), Some("cargo build"), "the truncated manifest was read whole");
    assert!(by_rest["deep"].test_command.is_some(), "the test file below the sixth level gives a test command");
    let rest_reads: Vec<String> =
        log.iter().filter(|r| r.path != "/graphql" && r.path != "/orgs/acme/repos").map(|r| r.path.clone()).collect();
    assert!(rest_reads.iter().any(|p| p.starts_with("/repos/acme/big/contents/Cargo.toml")), "{rest_reads:?}");
    assert!(rest_reads.iter().any(|p| p.starts_with("/repos/acme/deep/git/trees/")), "{rest_reads:?}");
    assert!(rest_reads.iter().all(|p| p.contains("/acme/big/") || p.contains("/acme/deep/")), "{rest_reads:?}");
    let ((rest_points, none), (listing_points, graphql_points)) = (points(&rest_log), points(&log));
    assert_eq!(none, 0, "REST reads send no GraphQL query");
    println!(
        "first discovery of {} repositories: REST reads {rest_points} points; GraphQL reads {listing_points} REST + \
         {graphql_points} GraphQL points",
        by_rest.len()
    );
    assert!(listing_points + graphql_points <= 10, "{listing_points} + {graphql_points} points");
    let rest_budget = github.last_budget().expect("a REST budget");
    let spent = i64::try_from(rest_budget.limit - rest_budget.remaining).unwrap();
    assert_eq!(spent, listing_points, "the REST budget is not confused with GraphQL's");
    assert!(rest_points > 90, "{rest_points}");

    // A resync of the unchanged organization reads nothing and spends nothing.
    sim.clear_requests();
    let (resync, again) = pass(&github, DiscoveryReads::GraphQL, &cache).await;
    assert_eq!(again, by_graphql);
    assert_eq!(resync.read, 0);
    let log = sim.requests();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/orgs/acme/repos"], "only the listing, answered 304");
    assert_eq!(points(&log), (0, 0));

    // A push is read again, alone: one trees query and one files query.
    sim.advance_clock(1);
    let change = BTreeMap::from([("crates/core/src/extra.rs".to_string(), Some("pub fn extra() {}\n".to_string()))]);
    let head = sim.commit_files("acme", "core-rs", &change, "change core").expect("a commit");
    sim.advance_clock(1);
    sim.clear_requests();
    let (after_push, _) = pass(&github, DiscoveryReads::GraphQL, &cache).await;
    assert_eq!(after_push.read, 1, "only the pushed repository is read");
    assert_eq!(after_push.kept["core-rs"].head_sha.as_deref(), Some(head.as_str()));
    let log = sim.requests();
    assert_eq!(points(&log), (1, 2), "the listing changed, one trees query, one files query");
    sim.assert_conformant();
}

/// The discovered part of each Repository's status (what the GitHub reads decide), by repository.
async fn discovered(reads: &str) -> BTreeMap<String, serde_json::Value> {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, &format!("discovery-{}", reads.to_ascii_lowercase())).await;
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("the simulator starts");
    sim.advance_clock(1);
    let _operator = OperatorProcess::start(&cluster, &ns, &[]);
    token_organization(client, &ns, TOKEN, sim.base_url(), reads).await;
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    eventually("a completed discovery pass", Duration::from_secs(90), || async {
        let org = organizations.get("acme").await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(())
    })
    .await;
    let log = sim.requests();
    let (rest, graphql) = points(&log);
    println!("reads {reads}: {} requests, {rest} REST points, {graphql} GraphQL points", log.len());
    sim.assert_conformant();
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    repositories
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| {
            let status = r.status.unwrap_or_default();
            let conditions: Vec<_> = ["Discovered", "DetectionWarning"]
                .iter()
                .filter_map(|kind| find_condition(&status.conditions, kind))
                .map(|c| json!([c.r#type, c.status, c.reason, c.message]))
                .collect();
            let mut part = serde_json::to_value(&status).unwrap();
            let fields = part.as_object_mut().unwrap();
            for moving in ["conditions", "health", "security", "lastSyncTime", "observedGeneration"] {
                fields.remove(moving);
            }
            fields.insert("conditions".into(), json!(conditions));
            // Each simulator serves on a port of its own.
            let page = status.html_url.as_deref().and_then(|url| url.strip_prefix(sim.base_url()));
            fields.insert("htmlUrl".into(), json!(page));
            (r.spec.name.0, part)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_discovered_through_graphql_gets_the_repository_objects_rest_reads_give() {
    let by_rest = discovered("REST").await;
    let by_graphql = discovered("GraphQL").await;
    assert_eq!(by_rest.len(), 32);
    let differences: Vec<String> = by_rest
        .iter()
        .filter(|(name, part)| by_graphql.get(*name) != Some(part))
        .map(|(name, part)| format!("{name}: REST {part}\nGraphQL {:?}", by_graphql.get(name)))
        .collect();
    assert!(differences.is_empty(), "GraphQL reads changed discovery:\n{}", differences.join("\n"));
    assert_eq!(by_graphql.len(), by_rest.len());
}

#[tokio::test]
async fn queries_that_time_out_are_asked_again_in_halves_until_they_are_answered() {
    let rest_sim = simulator().await;
    let (_, by_rest) = pass(&client(&rest_sim), DiscoveryReads::Rest, &DetectionCache::default()).await;
    // GitHub ends a query after 10 seconds; the simulator answers as GitHub does (502, charged) past a response size.
    let options = SimOptions { graphql_max_response_bytes: 16 * 1024, ..SimOptions::default() };
    let sim = Simulator::start(fixture(), options).await.expect("the simulator starts");
    sim.advance_clock(1);
    let (_, by_graphql) = pass(&client(&sim), DiscoveryReads::GraphQL, &DetectionCache::default()).await;
    for (name, description) in &by_rest {
        assert_eq!(by_graphql.get(name), Some(description), "{name} is described the same by smaller queries");
    }
    let log = sim.requests();
    let timed_out = log.iter().filter(|r| r.path == "/graphql" && r.status >= 500).count();
    let answered = log.iter().filter(|r| r.path == "/graphql" && r.status == 200).count();
    assert!(timed_out > 0 && answered > 2, "{timed_out} queries timed out, {answered} answered");
    let (rest, graphql) = points(&log);
    println!("16 KiB answers: {timed_out} queries timed out, {answered} answered; {rest} + {graphql} GraphQL points");
    sim.assert_conformant();
}
