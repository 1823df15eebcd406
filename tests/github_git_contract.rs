//! The real `OctocrabGitHub` against the strict simulator's git and contents APIs: files over 1 MB read through
//! their blob, truncated trees read one level at a time, branch names with `/`, Dependabot's 403 read as
//! "disabled", and the org listing's ETag moving when the operator opens an issue.

// The bed is shared with `github_contract.rs`, which uses the parts this file does not.
#[allow(dead_code)]
#[path = "github_contract/bed.rs"]
mod bed;

use std::collections::BTreeMap;

use bed::{bed, bed_with};
use github_sim::fixture::{GitLimits, RepoFixture};
use github_sim::{Fixture, LoggedRequest};
use infinity_orchestrator::controller::detection_cache::DetectionCache;
use infinity_orchestrator::controller::organization::observe::discover;
use infinity_orchestrator::crd::organization::{DiscoveryReads, DiscoverySpec};
use infinity_orchestrator::github::{AlertSource, Alerts, FileChange, GitHub, IssueFields, PullRequestChange, RepoRef};
use infinity_orchestrator::plan::detect::RepositoryDescription;

/// A Cargo manifest of about 2 MB: a package with many features.
fn large_manifest() -> String {
    let mut text = String::from("[package]\nname = \"big\"\nversion = \"0.1.0\"\n\n[features]\n");
    let mut i = 0;
    while text.len() < 2 * 1024 * 1024 {
        text.push_str(&format!("feature-{i:07} = []\n"));
        i += 1;
    }
    text
}

#[tokio::test]
async fn a_file_over_one_megabyte_is_read_through_its_blob() {
    let bed = bed(0).await;
    let manifest = large_manifest();
    let yaml =
        serde_yaml::to_string(&serde_json::json!({"name": "big", "files": {"Cargo.toml": manifest}})).expect("yaml");
    bed.add_repo_yaml(&yaml);
    let github = bed.client();
    let repo = RepoRef::new("acme", "big");
    let file = github.file_contents(&repo, "Cargo.toml", None).await.expect("read").expect("exists");
    assert_eq!(file.content.len(), manifest.len());
    assert_eq!(String::from_utf8(file.content).expect("utf-8"), manifest);
    let log = bed.log();
    let contents = log.iter().find(|r| r.path.ends_with("/contents/Cargo.toml")).expect("contents read");
    assert_eq!(contents.response_body.as_ref().and_then(|b| b["encoding"].as_str()), Some("none"));
    assert!(log.iter().any(|r| r.path.contains("/git/blobs/") && r.status == 200), "the blob was read");
    bed.assert_conformant();
}

#[tokio::test]
async fn a_truncated_tree_is_reported_and_its_levels_are_readable() {
    let bed = bed(0).await;
    bed.add_repo_yaml("name: wide\nfiles: {a/b/c.txt: c, a/d.txt: d, e.txt: e}\n");
    bed.sim.set_git_limits(GitLimits { tree_entry_limit: 2, ..GitLimits::default() });
    let github = bed.client();
    let repo = RepoRef::new("acme", "wide");
    let tree = github.tree(&repo, "main").await.expect("tree");
    assert!(tree.truncated);
    assert_eq!(tree.tree.len(), 2);
    let top = github.tree_level(&repo, &tree.sha).await.expect("root level");
    let names: Vec<(&str, &str)> = top.tree.iter().map(|e| (e.path.as_str(), e.kind.as_str())).collect();
    assert_eq!(names, [("a", "tree"), ("e.txt", "blob")]);
    let a = github.tree_level(&repo, &top.tree[0].sha).await.expect("subtree");
    let names: Vec<&str> = a.tree.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["b", "d.txt"], "paths relative to the subtree");
    bed.assert_conformant();
}

#[tokio::test]
async fn dependabot_disabled_is_disabled_not_a_permission_failure() {
    let bed = bed(0).await;
    bed.add_repo_yaml("name: quiet\nfiles: {README.md: hi}\n");
    let github = bed.client();
    let alerts = github.open_alerts(&RepoRef::new("acme", "quiet"), AlertSource::Dependabot).await.expect("answer");
    let Alerts::Disabled { reason } = alerts else { panic!("{alerts:?}") };
    assert_eq!(reason, "Dependabot alerts are disabled for this repository.");
    assert!(bed.log().iter().any(|r| r.path.ends_with("/dependabot/alerts") && r.status == 403));
    bed.assert_conformant();
}

#[tokio::test]
async fn branches_with_slashes_are_created_read_and_pulled() {
    let bed = bed(0).await;
    bed.add_repo_yaml("name: svc\nfiles: {README.md: hi}\n");
    let github = bed.client();
    let repo = RepoRef::new("acme", "svc");
    let change = PullRequestChange {
        branch: "infinity-orchestrator/onboarding".into(),
        title: "Onboard".into(),
        body: "b".into(),
        commit_message: "c".into(),
        files: vec![FileChange { path: ".github/workflows/x.yml".into(), content: Some("on: push\n".into()) }],
        draft: false,
    };
    let opened = github.open_pull_request(&repo, &change).await.expect("pull request");
    let again = github.open_pull_request(&repo, &change).await.expect("the same pull request");
    assert_eq!(opened.number, again.number);
    let head = github.branch_head(&repo, "infinity-orchestrator/onboarding").await.expect("head").expect("exists");
    let file = github
        .file_contents(&repo, ".github/workflows/x.yml", Some("infinity-orchestrator/onboarding"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(file.content, b"on: push\n");
    assert_eq!(github.tree(&repo, &head).await.expect("tree").tree.iter().filter(|e| e.kind == "blob").count(), 2);
    bed.assert_conformant();
}

#[tokio::test]
async fn opening_an_issue_changes_the_org_listing_so_a_conditional_reread_is_a_200() {
    let bed = bed(2).await;
    let github = bed.client();
    let before = github.list_org_repos("acme").await.expect("list");
    let again = github.list_org_repos("acme").await.expect("list");
    assert_eq!(before, again);
    let listings = |log: &[github_sim::LoggedRequest]| -> Vec<u16> {
        log.iter().filter(|r| r.path == "/orgs/acme/repos").map(|r| r.status).collect()
    };
    assert_eq!(listings(&bed.log()), [200, 304], "unchanged: the cached answer is reused");
    bed.sim.advance_clock(30);
    let fields = IssueFields { title: Some("a finding".into()), ..IssueFields::default() };
    github.create_issue(&RepoRef::new("acme", "repo-00001"), &fields).await.expect("issue");
    github.list_org_repos("acme").await.expect("list");
    let log = bed.log();
    assert_eq!(listings(&log), [200, 304, 200], "the operator's own issue moved the listing");
    let last = log.iter().rev().find(|r| r.path == "/orgs/acme/repos").and_then(|r| r.response_body.clone());
    let listed = last.expect("a body");
    let repo = listed.as_array().and_then(|repos| repos.iter().find(|r| r["name"] == "repo-00001")).expect("listed");
    assert_eq!(repo["open_issues_count"], 1);
    bed.assert_conformant();
}

/// The 30-repository organization of `tests/fixtures/acme-30.yaml`, plus `big`, whose 2 MB Cargo manifest GitHub
/// does not inline, with the given git limits.
fn acme_30_with_a_large_manifest(git_limits: GitLimits) -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml");
    let mut fixture = Fixture::from_file(path).expect("the fixture parses");
    let files = BTreeMap::from([
        ("Cargo.toml".to_string(), large_manifest()),
        ("Cargo.lock".to_string(), "version = 3\n".to_string()),
        ("src/lib.rs".to_string(), "pub fn big() {}\n".to_string()),
    ]);
    fixture.orgs[0].repos.push(RepoFixture {
        name: "big".into(),
        files,
        language: Some("Rust".into()),
        ..Default::default()
    });
    Fixture { git_limits, ..fixture }
}

/// What one in-process discovery pass makes of every repository, and the requests it sent.
async fn described(git_limits: GitLimits) -> (BTreeMap<String, RepositoryDescription>, Vec<LoggedRequest>) {
    let bed = bed_with(acme_30_with_a_large_manifest(git_limits)).await;
    let github = bed.client();
    let discovery =
        discover(&github, "acme", &rest_reads(), &DetectionCache::default(), "acme").await.expect("a discovery pass");
    let mut descriptions = BTreeMap::new();
    for (name, findings) in discovery.kept {
        assert_eq!(findings.read_error, None, "{name} was read");
        descriptions.insert(name, findings.description);
    }
    bed.assert_conformant();
    (descriptions, bed.log())
}

#[tokio::test]
async fn an_org_whose_trees_are_truncated_is_described_exactly_as_with_whole_trees() {
    let (whole, whole_log) = described(GitLimits::default()).await;
    let (cut, cut_log) = described(GitLimits { tree_entry_limit: 1, ..GitLimits::default() }).await;
    let recursive_trees = |log: &[LoggedRequest]| {
        log.iter().filter(|r| r.path.contains("/git/trees/") && r.query.as_deref() == Some("recursive=1")).count()
    };
    let levels =
        |log: &[LoggedRequest]| log.iter().filter(|r| r.path.contains("/git/trees/") && r.query.is_none()).count();
    let truncated = cut_log.iter().filter(|r| r.response_body.as_ref().is_some_and(|b| b["truncated"] == true)).count();
    assert_eq!(levels(&whole_log), 0, "whole trees need no level reads");
    assert!(truncated >= 15 && levels(&cut_log) > truncated, "{truncated} truncated, {} levels read", levels(&cut_log));
    assert_eq!(recursive_trees(&whole_log), recursive_trees(&cut_log));
    assert!(whole.len() >= 31, "{}", whole.len());
    for (name, description) in &whole {
        assert_eq!(cut.get(name), Some(description), "{name} is described the same from a truncated tree");
    }
    assert_eq!(whole.keys().collect::<Vec<_>>(), cut.keys().collect::<Vec<_>>());
    let big = &whole["big"];
    assert_eq!(
        (big.build_command.as_deref(), big.test_command.as_deref()),
        (Some("cargo build --locked"), Some("cargo test")),
        "the 2 MB manifest was read"
    );
    assert!(big.warnings.is_empty(), "{:?}", big.warnings);
}

#[tokio::test]
async fn dependabot_alerts_past_one_page_are_read_by_cursor() {
    let bed = bed(0).await;
    let alerts: Vec<serde_json::Value> = (0..130)
        .map(|i| serde_json::json!({"package": format!("pkg-{i}"), "ecosystem": "npm", "manifest_path": "package-lock.json"}))
        .collect();
    let yaml =
        serde_yaml::to_string(&serde_json::json!({"name": "many", "alerts": {"dependabot": alerts}})).expect("yaml");
    bed.add_repo_yaml(&yaml);
    let github = bed.client();
    let Alerts::Open(open) =
        github.open_alerts(&RepoRef::new("acme", "many"), AlertSource::Dependabot).await.expect("alerts")
    else {
        panic!("Dependabot is on")
    };
    assert_eq!(open.len(), 130);
    let reads: Vec<Option<String>> =
        bed.log().iter().filter(|r| r.path.ends_with("/dependabot/alerts")).map(|r| r.query.clone()).collect();
    assert_eq!(reads.len(), 2);
    assert!(
        reads[1].as_deref().is_some_and(|q| q.contains("after=") && !q.split('&').any(|p| p.starts_with("page="))),
        "{reads:?}"
    );
    bed.assert_conformant();
}

/// Discovery by REST reads, whose truncated-tree and large-file paths these tests are about.
fn rest_reads() -> DiscoverySpec {
    DiscoverySpec { reads: DiscoveryReads::Rest, ..DiscoverySpec::default() }
}
