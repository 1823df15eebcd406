//! Organization discovery end to end when GitHub truncates every recursive tree and does not inline a 2 MB
//! manifest: the operator binary against the real API server and a simulator with a one-entry tree limit, serving
//! `tests/fixtures/acme-30.yaml` plus `big`. Every Repository gets the commands and edges that whole trees give.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use github_sim::fixture::{GitLimits, RepoFixture};
use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::controller::detection_cache::DetectionCache;
use infinity_orchestrator::controller::organization::observe::discover;
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::organization::{DiscoveryReads, DiscoverySpec};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use infinity_orchestrator::github::{Credentials, GitHubConfig, OctocrabGitHub};
use infinity_orchestrator::plan::dependencies::repository_dependencies;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace};

const TOKEN: &str = "test-token";

/// Build command, test command and the repositories depended on.
type Discovered = (Option<String>, Option<String>, Vec<String>);

/// A Cargo manifest of about 2 MB.
fn large_manifest() -> String {
    let mut text = String::from("[package]\nname = \"acme-big\"\nversion = \"0.1.0\"\n\n[dependencies]\n");
    text.push_str("acme-proto = { git = \"https://github.com/acme/proto\" }\n\n[features]\n");
    let mut i = 0;
    while text.len() < 2 * 1024 * 1024 {
        text.push_str(&format!("feature-{i:07} = []\n"));
        i += 1;
    }
    text
}

fn fixture(git_limits: GitLimits) -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml");
    let mut fixture = Fixture::from_file(path).expect("the fixture parses");
    let files = BTreeMap::from([
        ("Cargo.toml".to_string(), large_manifest()),
        ("src/lib.rs".to_string(), "pub fn big() {}\n".to_string()),
        ("vendor/huge/Cargo.toml".to_string(), "[package]\nname = \"vendored\"\n".to_string()),
    ]);
    fixture.orgs[0].repos.push(RepoFixture {
        name: "big".into(),
        files,
        language: Some("Rust".into()),
        ..Default::default()
    });
    Fixture { git_limits, ..fixture }
}

/// What whole trees give: one in-process discovery pass against a simulator with GitHub's limits.
async fn reference() -> BTreeMap<String, Discovered> {
    let sim =
        Simulator::start(fixture(GitLimits::default()), SimOptions::default()).await.expect("the simulator starts");
    let github =
        OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token(TOKEN.into()))).expect("a client");
    let discovery = discover(&github, "acme", &rest_reads(), &DetectionCache::default(), "reference")
        .await
        .expect("a discovery pass");
    let descriptions: BTreeMap<String, _> =
        discovery.kept.into_iter().map(|(name, findings)| (name, findings.description)).collect();
    let graph = repository_dependencies("acme", &descriptions);
    descriptions
        .into_iter()
        .map(|(name, description)| {
            let deps = graph.dependencies.get(&name).map(|d| d.iter().map(|e| e.repository.clone()).collect());
            (name, (description.build_command, description.test_command, deps.unwrap_or_default()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_with_truncated_trees_and_a_large_manifest_is_discovered_as_with_whole_trees() {
    let want = reference().await;
    assert_eq!(
        want.get("big").map(|(build, _, deps)| (build.as_deref(), deps.clone())),
        Some((Some("cargo build"), vec!["proto".to_string()])),
        "the reference read the large manifest"
    );

    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "discovery-truncated").await;
    let sim =
        Simulator::start(fixture(GitLimits { tree_entry_limit: 1, ..GitLimits::default() }), SimOptions::default())
            .await
            .expect("the simulator starts");
    let _operator = OperatorProcess::start(&cluster, &ns, &[]);
    let secret =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gh"}, "stringData": {"token": TOKEN}});
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets.create(&PostParams::default(), &serde_json::from_value(secret).unwrap()).await.unwrap();
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": {"name": "acme"},
        "spec": {"login": "acme", "apiUrl": sim.base_url(), "credentials": {"type": "Token", "secretRef": {"name": "gh"}},
                 "discovery": {"interval": "6h", "reads": "REST"}},
    });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    eventually("a completed discovery pass", Duration::from_secs(90), || async {
        let org = organizations.get("acme").await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(())
    })
    .await;

    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let got: BTreeMap<String, Discovered> = repositories
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| {
            let status = r.status.unwrap_or_default();
            let deps = status.dependencies.iter().map(|d| d.repository.clone()).collect();
            (r.spec.name.0, (status.build_command, status.test_command, deps))
        })
        .collect();
    let differences: Vec<String> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|name| want.get(*name) != got.get(*name))
        .map(|name| format!("{name}: whole trees {:?}, truncated {:?}", want.get(name), got.get(name)))
        .collect();
    assert!(differences.is_empty(), "truncation changed discovery:\n{}", differences.join("\n"));

    let log = sim.requests();
    let truncated = log.iter().filter(|r| r.response_body.as_ref().is_some_and(|b| b["truncated"] == true)).count();
    let levels = log.iter().filter(|r| r.path.contains("/git/trees/") && r.query.is_none()).count();
    assert!(truncated >= 15 && levels > truncated, "{truncated} truncated trees, {levels} levels read");
    let vendor = log
        .iter()
        .filter(|r| r.path.starts_with("/repos/acme/big/git/trees/") && r.query.is_none())
        .filter_map(|r| r.response_body.as_ref()?["tree"].as_array()?.iter().find(|e| e["path"] == "vendor").cloned())
        .next()
        .expect("big's root level lists vendor");
    let vendor_sha = vendor["sha"].as_str().expect("sha");
    assert!(
        !log.iter().any(|r| r.path.ends_with(&format!("/git/trees/{vendor_sha}"))),
        "a directory detection never reads is not listed"
    );
    assert!(log.iter().any(|r| r.path.contains("/git/blobs/")), "the 2 MB manifest was read through its blob");
    sim.assert_conformant();
}

/// Discovery by REST reads, whose truncated-tree and large-file paths these tests are about.
fn rest_reads() -> DiscoverySpec {
    DiscoverySpec { reads: DiscoveryReads::Rest, ..DiscoverySpec::default() }
}
