//! Exercises every served route, then validates the whole request log against GitHub's description.

mod support;

use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

#[tokio::test]
async fn every_route_conforms_to_githubs_description() {
    let sim = Simulator::start(Fixture::generated_org("acme", 3), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let repo = "/repos/acme/repo-00000";
    let gets = [
        "/rate_limit".to_string(),
        "/orgs/acme/repos?per_page=2".to_string(),
        repo.to_string(),
        format!("{repo}/languages"),
        format!("{repo}/topics"),
        format!("{repo}/contents/Cargo.toml"),
        format!("{repo}/actions/workflows"),
        format!("{repo}/actions/workflows/build.yml"),
        format!("{repo}/branches/main"),
        format!("{repo}/git/ref/heads/main"),
        format!("{repo}/git/trees/main?recursive=1"),
        format!("{repo}/nope-404-path-is-not-checked-below"),
    ];
    for path in &gets[..gets.len() - 1] {
        assert_eq!(call(&base, "GET", path, &[AUTH], None).await.status, 200, "{path}");
    }
    let dispatch = json!({"ref": "main", "inputs": {"correlation_id": "c-1"}});
    let dispatches = format!("{repo}/actions/workflows/build.yml/dispatches");
    assert_eq!(call(&base, "POST", &dispatches, &[AUTH], Some(dispatch)).await.status, 204);
    let runs = call(&base, "GET", &format!("{repo}/actions/runs"), &[AUTH], None).await.json();
    let run_path = format!("{repo}/actions/runs/{}", runs["workflow_runs"][0]["id"]);
    call(&base, "GET", &format!("{repo}/actions/workflows/build.yml/runs"), &[AUTH], None).await;
    call(&base, "GET", &run_path, &[AUTH], None).await;
    assert_eq!(
        call(&base, "GET", &format!("{run_path}/jobs"), &[AUTH], None).await.json()["jobs"][0]["status"],
        "queued"
    );
    assert_eq!(call(&base, "POST", &format!("{run_path}/cancel"), &[AUTH], None).await.status, 202);
    sim.advance_clock(600);
    assert_eq!(call(&base, "POST", &format!("{run_path}/rerun-failed-jobs"), &[AUTH], None).await.status, 201);
    assert_eq!(call(&base, "GET", &format!("{repo}/actions/workflows/none.yml"), &[AUTH], None).await.status, 404);

    for feature in ["code-scanning", "dependabot", "secret-scanning"] {
        let disabled = call(&base, "GET", &format!("{repo}/{feature}/alerts"), &[AUTH], None).await;
        assert_eq!(disabled.status, 404, "{feature} is disabled in generated fixtures");
        assert!(disabled.json()["message"].is_string());
    }
    let mut secured = github_sim::fixture::RepoFixture { name: "secured".into(), ..Default::default() };
    secured.security =
        github_sim::fixture::SecurityFixture { code_scanning: true, dependabot: true, secret_scanning: true };
    sim.add_repo("acme", secured);
    for feature in ["code-scanning", "dependabot", "secret-scanning"] {
        let listed =
            call(&base, "GET", &format!("/repos/acme/secured/{feature}/alerts?state=open"), &[AUTH], None).await;
        assert_eq!((listed.status, listed.json()), (200, json!([])));
    }
    let issues = format!("{repo}/issues");
    let created =
        call(&base, "POST", &issues, &[AUTH], Some(json!({"title": "red build", "body": "b", "labels": ["ci"]}))).await;
    assert_eq!(created.status, 201);
    let number = created.json()["number"].clone();
    assert_eq!(
        call(&base, "GET", &format!("{issues}?labels=ci&state=open"), &[AUTH], None).await.json()[0]["number"],
        number
    );
    assert_eq!(
        call(&base, "POST", &format!("{issues}/{number}/comments"), &[AUTH], Some(json!({"body": "again"})))
            .await
            .status,
        201
    );
    assert_eq!(
        call(&base, "GET", &format!("{issues}/{number}/comments"), &[AUTH], None).await.json()[0]["body"],
        "again"
    );
    let closed = call(&base, "PATCH", &format!("{issues}/{number}"), &[AUTH], Some(json!({"state": "closed"}))).await;
    assert_eq!(closed.json()["state"], "closed");
    assert_eq!(call(&base, "GET", &format!("{issues}/{number}"), &[AUTH], None).await.json()["comments"], 1);

    let served: std::collections::BTreeSet<(String, String)> = sim
        .requests()
        .iter()
        .filter_map(|r| github_sim::routes::find_route(&r.method, &r.path))
        .map(|(route, _)| (route.method.to_string(), route.template.to_string()))
        .collect();
    for route in github_sim::routes::ROUTES {
        assert!(served.contains(&(route.method.to_string(), route.template.to_string())), "not exercised: {route:?}");
    }
    sim.assert_conformant();

    // The request side bites too: an issue without its required title is answered 422 and flagged by the checker.
    sim.clear_requests();
    assert_eq!(call(&base, "POST", &issues, &[AUTH], Some(json!({"body": "no title"}))).await.status, 422);
    let description = github_sim::conformance::Description::load().expect("description");
    let violations = description.validate_log(&sim.requests());
    assert!(violations.iter().any(|v| v.contains("request: $: missing required field `title`")), "{violations:#?}");
}
