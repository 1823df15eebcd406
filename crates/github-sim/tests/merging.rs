//! Merging as GitHub refuses and does it: required status checks from branch protection and rulesets, a commit's
//! check runs and statuses, `PUT …/pulls/{n}/merge` with its 405/409 refusals, and GraphQL's
//! `enablePullRequestAutoMerge`, refused where the repository does not allow it and merging once the checks pass.
//! Every answer is checked against GitHub's OpenAPI description and GraphQL schema.

mod support;

use std::collections::BTreeMap;

use github_sim::fixture::{OrgFixture, PullRequestFixture, RepoFixture};
use github_sim::merging::{CommitChecks, MergeFixture};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};

fn repo(name: &str, merge: MergeFixture, draft: bool) -> RepoFixture {
    RepoFixture {
        name: name.into(),
        files: BTreeMap::from([("a.txt".into(), "a\n".into())]),
        pull_requests: vec![PullRequestFixture {
            title: "Change a".into(),
            head: "topic".into(),
            files: BTreeMap::from([("a.txt".into(), "b\n".into())]),
            draft,
            ..Default::default()
        }],
        merge,
        ..Default::default()
    }
}

fn fixture(repos: Vec<RepoFixture>) -> Fixture {
    Fixture {
        orgs: vec![OrgFixture { login: "acme".into(), repos, ..Default::default() }],
        tokens: vec!["test-token".into()],
        ..Default::default()
    }
}

fn required(checks: &[&str]) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([("main".to_owned(), checks.iter().map(|c| c.to_string()).collect())])
}

#[tokio::test]
async fn required_checks_gate_the_merge_and_a_moved_head_is_refused() {
    let merge = MergeFixture {
        protected_branches: required(&["build"]),
        ruleset_required_checks: required(&["lint"]),
        check_runs: BTreeMap::from([("build".into(), "in_progress".into())]),
        statuses: BTreeMap::from([("lint".into(), "success".into())]),
        ..Default::default()
    };
    let sim = Simulator::start(fixture(vec![repo("svc", merge, false)]), SimOptions::default()).await.unwrap();
    let base = sim.base_url();
    let get = |path: String| async move { call(base, "GET", &path, &[AUTH], None).await };

    let branch = get("/repos/acme/svc/branches/main".into()).await.json();
    assert_eq!(branch["protected"], json!(true));
    assert_eq!(branch["protection"]["required_status_checks"]["contexts"], json!(["build"]));
    let checks = get("/repos/acme/svc/branches/main/protection/required_status_checks".into()).await;
    assert_eq!(checks.status, 200);
    let rules = get("/repos/acme/svc/rules/branches/main".into()).await.json();
    assert_eq!(rules[0]["parameters"]["required_status_checks"], json!([{ "context": "lint" }]));
    assert_eq!(get("/repos/acme/svc/branches/topic/protection/required_status_checks".into()).await.status, 404);

    let pull = get("/repos/acme/svc/pulls/1".into()).await.json();
    assert_eq!(pull["mergeable_state"], json!("blocked"));
    let head = pull["head"]["sha"].as_str().unwrap().to_owned();
    let runs = get(format!("/repos/acme/svc/commits/{head}/check-runs")).await.json();
    assert_eq!(
        (runs["total_count"].clone(), runs["check_runs"][0]["status"].clone()),
        (json!(1), json!("in_progress"))
    );
    let status = get(format!("/repos/acme/svc/commits/{head}/status")).await.json();
    assert_eq!(status["state"], json!("success"));

    let merge = |body: Value| call(base, "PUT", "/repos/acme/svc/pulls/1/merge", &[AUTH], Some(body));
    let refused = merge(json!({ "sha": head, "merge_method": "squash" })).await;
    assert_eq!(
        (refused.status, refused.json()["message"].clone()),
        (405, json!("Required status check \"build\" is expected."))
    );
    assert!(sim.set_commit_checks(
        "acme",
        "svc",
        "topic",
        CommitChecks {
            check_runs: BTreeMap::from([("build".into(), "success".into())]),
            statuses: BTreeMap::from([("lint".into(), "success".into())]),
        }
    ));
    let moved = merge(json!({ "sha": "0".repeat(40), "merge_method": "squash" })).await;
    assert_eq!(moved.status, 409);
    let merged = merge(json!({ "sha": head, "merge_method": "squash" })).await;
    assert_eq!((merged.status, merged.json()["merged"].clone()), (200, json!(true)));
    assert_eq!(sim.files_at("acme", "svc", "main").unwrap()["a.txt"], "b\n", "the base branch moved");
    let pull = get("/repos/acme/svc/pulls/1".into()).await.json();
    assert_eq!((pull["state"].clone(), pull["merged"].clone()), (json!("closed"), json!(true)));
    assert_eq!(merge(json!({ "merge_method": "squash" })).await.status, 405, "merged once");
    sim.assert_conformant();
}

#[tokio::test]
async fn drafts_and_disallowed_methods_are_refused() {
    let merge = MergeFixture { allow_rebase_merge: false, ..Default::default() };
    let sim = Simulator::start(
        fixture(vec![repo("draft", MergeFixture::default(), true), repo("svc", merge, false)]),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let merge = |repo: &str, method: &str| {
        let path = format!("/repos/acme/{repo}/pulls/1/merge");
        let body = json!({ "merge_method": method });
        async move { call(base, "PUT", &path, &[AUTH], Some(body)).await }
    };
    let draft = merge("draft", "merge").await;
    assert_eq!((draft.status, draft.json()["message"].clone()), (405, json!("Pull Request is still a draft")));
    let rebase = merge("svc", "rebase").await;
    assert_eq!(rebase.json()["message"], json!("Rebase merges are not allowed on this repository."));
    sim.assert_conformant();
}

#[tokio::test]
async fn auto_merge_is_refused_where_not_allowed_or_mergeable_now_and_merges_once_the_checks_pass() {
    let pending = MergeFixture {
        allow_auto_merge: true,
        protected_branches: required(&["build"]),
        check_runs: BTreeMap::from([("build".into(), "queued".into())]),
        ..Default::default()
    };
    let not_allowed = MergeFixture { allow_auto_merge: false, ..pending.clone() };
    let clean = MergeFixture { check_runs: BTreeMap::from([("build".into(), "success".into())]), ..pending.clone() };
    let repos = vec![repo("svc", pending, false), repo("closed-door", not_allowed, false), repo("clean", clean, false)];
    let sim = Simulator::start(fixture(repos), SimOptions::default()).await.unwrap();
    let base = sim.base_url();
    let enable = |repo: &'static str| async move {
        let pull = call(base, "GET", &format!("/repos/acme/{repo}/pulls/1"), &[AUTH], None).await.json();
        let query = "mutation($id: ID!) { enablePullRequestAutoMerge(input: { pullRequestId: $id, \
                         mergeMethod: SQUASH }) { pullRequest { number autoMergeRequest { mergeMethod } } } }";
        let body = json!({ "query": query, "variables": { "id": pull["node_id"] } });
        call(base, "POST", "/graphql", &[AUTH], Some(body)).await.json()
    };
    let refused = enable("closed-door").await;
    assert_eq!(refused["errors"][0]["type"], json!("UNPROCESSABLE"), "{refused}");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("not allowed"), "{refused}");
    let clean = enable("clean").await;
    assert!(clean["errors"][0]["message"].as_str().unwrap().contains("clean status"), "{clean}");
    let enabled = enable("svc").await;
    assert_eq!(
        enabled["data"]["enablePullRequestAutoMerge"]["pullRequest"],
        json!({ "number": 1, "autoMergeRequest": { "mergeMethod": "SQUASH" } }),
        "{enabled}"
    );
    let pull = call(base, "GET", "/repos/acme/svc/pulls/1", &[AUTH], None).await.json();
    assert_eq!((pull["auto_merge"]["merge_method"].clone(), pull["state"].clone()), (json!("squash"), json!("open")));
    sim.set_commit_checks(
        "acme",
        "svc",
        "topic",
        CommitChecks { check_runs: BTreeMap::from([("build".into(), "success".into())]), ..Default::default() },
    );
    let pull = call(base, "GET", "/repos/acme/svc/pulls/1", &[AUTH], None).await.json();
    assert_eq!((pull["merged"].clone(), pull["auto_merge"].clone()), (json!(true), Value::Null));
    sim.assert_conformant();
}
