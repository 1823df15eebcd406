//! The simulator over real HTTP: auth, pagination, ETag/304 accounting, dispatch and the run lifecycle, faults.

mod support;

use github_sim::{FaultConfig, Fixture, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

#[tokio::test]
async fn bad_credentials_get_401() {
    let sim = Simulator::start(Fixture::generated_org("acme", 3), SimOptions::default()).await.expect("start");
    let reply = call(sim.base_url(), "GET", "/orgs/acme/repos", &[("Authorization", "Bearer nope")], None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "Bad credentials");
}

#[tokio::test]
async fn refuses_non_loopback_address() {
    let options = SimOptions { addr: "0.0.0.0:0".parse().expect("addr"), ..SimOptions::default() };
    assert!(Simulator::start(Fixture::default(), options).await.is_err());
}

#[tokio::test]
async fn org_repos_paginate_with_link_headers() {
    let sim = Simulator::start(Fixture::generated_org("acme", 250), SimOptions::default()).await.expect("start");
    let reply = call(sim.base_url(), "GET", "/orgs/acme/repos?per_page=100&page=2", &[AUTH], None).await;
    assert_eq!(reply.status, 200);
    let repos = reply.json();
    assert_eq!(repos.as_array().expect("array").len(), 100);
    assert_eq!(repos[0]["name"], "repo-00100");
    assert_eq!(repos[0]["full_name"], "acme/repo-00100");
    let link = reply.header("link").expect("link");
    assert!(link.contains("page=3>; rel=\"next\""), "{link}");
    assert!(link.contains("page=1>; rel=\"prev\""), "{link}");
    let missing = call(sim.base_url(), "GET", "/repos/acme/nope", &[AUTH], None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Not Found");
}

#[tokio::test]
async fn conditional_reread_is_304_and_free() {
    let sim = Simulator::start(Fixture::generated_org("acme", 5), SimOptions::default()).await.expect("start");
    let first = call(sim.base_url(), "GET", "/repos/acme/repo-00001", &[AUTH], None).await;
    let etag = first.header("etag").expect("etag").to_string();
    assert_eq!(first.header("x-ratelimit-remaining"), Some("4999"));
    let again = call(sim.base_url(), "GET", "/repos/acme/repo-00001", &[AUTH, ("If-None-Match", &etag)], None).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("x-ratelimit-remaining"), Some("4999"));
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert!(log[0].counted);
    assert!(!log[1].counted);
    assert_eq!(log[1].status, 304);
}

#[tokio::test]
async fn exhausted_budget_is_403_with_remaining_zero() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    sim.set_rate_limit(1, 1, 600);
    assert_eq!(call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 200);
    let limited = call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    assert_eq!(limited.status, 403);
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert!(limited.json()["message"].as_str().expect("message").contains("rate limit exceeded"));
    let rate = call(sim.base_url(), "GET", "/rate_limit", &[AUTH], None).await;
    assert_eq!(rate.status, 200, "/rate_limit is free even when exhausted");
    assert_eq!(rate.json()["resources"]["core"]["remaining"], 0);
    sim.advance_clock(600);
    assert_eq!(call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 200);
}

#[tokio::test]
async fn dispatch_queues_a_run_that_advances_on_the_sim_clock() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let base = "/repos/acme/repo-00000/actions/workflows/build.yml";
    let undeclared = json!({"ref": "main", "inputs": {"other": "x"}});
    assert_eq!(
        call(sim.base_url(), "POST", &format!("{base}/dispatches"), &[AUTH], Some(undeclared)).await.status,
        422
    );
    let body = json!({"ref": "main", "inputs": {"correlation_id": "c-42"}, "return_run_details": true});
    let dispatched = call(sim.base_url(), "POST", &format!("{base}/dispatches"), &[AUTH], Some(body)).await;
    assert_eq!(dispatched.status, 200, "return_run_details names the run");
    let run_path = format!("/repos/acme/repo-00000/actions/runs/{}", dispatched.json()["workflow_run_id"]);
    let run = call(sim.base_url(), "GET", &run_path, &[AUTH], None).await.json();
    assert_eq!((run["display_title"].as_str(), run["status"].as_str()), (Some("build c-42"), Some("queued")));
    let list = format!("{base}/runs?event=workflow_dispatch");
    assert_eq!(call(sim.base_url(), "GET", &list, &[AUTH], None).await.json()["total_count"], 0, "not listed yet");
    sim.advance_clock(10);
    assert_eq!(call(sim.base_url(), "GET", &list, &[AUTH], None).await.json()["total_count"], 1, "listed by now");
    assert_eq!(call(sim.base_url(), "GET", &run_path, &[AUTH], None).await.json()["status"], "in_progress");
    sim.advance_clock(60);
    let done = call(sim.base_url(), "GET", &run_path, &[AUTH], None).await.json();
    assert_eq!((done["status"].as_str(), done["conclusion"].as_str()), (Some("completed"), Some("success")));
    assert_eq!(call(sim.base_url(), "POST", &format!("{run_path}/cancel"), &[AUTH], None).await.status, 409);
    assert_eq!(call(sim.base_url(), "POST", &format!("{run_path}/rerun-failed-jobs"), &[AUTH], None).await.status, 201);
    assert_eq!(call(sim.base_url(), "GET", &run_path, &[AUTH], None).await.json()["run_attempt"], 2);
}

#[tokio::test]
async fn server_errors_do_not_process_and_lost_responses_do() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let path = "/repos/acme/repo-00000/actions/workflows/build.yml/dispatches";
    let body = json!({"ref": "main", "inputs": {"correlation_id": "x"}});
    sim.set_faults(FaultConfig { seed: 1, server_error_rate: 1.0, ..Default::default() });
    let failed = call(sim.base_url(), "POST", path, &[AUTH], Some(body.clone())).await;
    assert!([500, 502, 503].contains(&failed.status));
    sim.set_faults(FaultConfig { seed: 1, lost_response_rate: 1.0, ..Default::default() });
    assert_eq!(call(sim.base_url(), "POST", path, &[AUTH], Some(body)).await.status, 502);
    sim.set_faults(FaultConfig::default());
    sim.advance_clock(10); // past the listing delay
    let runs = call(sim.base_url(), "GET", "/repos/acme/repo-00000/actions/runs", &[AUTH], None).await.json();
    assert_eq!(runs["total_count"], 1, "only the lost-response dispatch was processed");
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    let log = call(sim.base_url(), "GET", "/_sim/requests", &[], None).await.json();
    assert_eq!(log.as_array().expect("array").len(), 1, "control requests are not logged");
    assert_eq!(log[0]["path"], "/repos/acme/repo-00000");
    let before = sim.now();
    call(sim.base_url(), "POST", "/_sim/clock/advance", &[], Some(json!({"seconds": 30}))).await;
    assert_eq!(sim.now(), before + 30);
    let secondary = json!({"seed": 0, "secondary_limit": {"after_requests": 0, "retry_after_secs": 60}});
    call(sim.base_url(), "POST", "/_sim/faults", &[], Some(secondary)).await;
    let limited = call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    assert_eq!((limited.status, limited.header("retry-after")), (403, Some("60")));
    call(sim.base_url(), "DELETE", "/_sim/requests", &[], None).await;
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn control_endpoints_edit_repositories_while_running() {
    let sim = Simulator::start(Fixture::generated_org("acme", 2), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let edit = json!({"archived": true, "topics": ["legacy"], "name": "renamed"});
    assert_eq!(call(&base, "PATCH", "/_sim/repos/acme/repo-00000", &[], Some(edit)).await.status, 200);
    let repo = call(&base, "GET", "/repos/acme/renamed", &[AUTH], None).await.json();
    assert_eq!((repo["archived"].as_bool(), repo["topics"][0].as_str()), (Some(true), Some("legacy")));
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 404);

    let files = json!({"files": {"README.md": "hello"}, "message": "docs"});
    let committed = call(&base, "PUT", "/_sim/repos/acme/renamed/files", &[], Some(files)).await.json();
    let readme = call(&base, "GET", "/repos/acme/renamed/contents/README.md", &[AUTH], None).await.json();
    assert_eq!(readme["content"], "aGVsbG8=");
    let outcome = json!({"workflow": "build.yml", "result": "failure", "duration_secs": 10});
    assert_eq!(call(&base, "POST", "/_sim/repos/acme/renamed/outcomes", &[], Some(outcome)).await.status, 200);
    let dispatch = json!({"ref": "main"});
    call(&base, "POST", "/repos/acme/renamed/actions/workflows/build.yml/dispatches", &[AUTH], Some(dispatch)).await;
    sim.advance_clock(60);
    let run = &call(&base, "GET", "/repos/acme/renamed/actions/runs", &[AUTH], None).await.json()["workflow_runs"][0];
    assert_eq!(run["conclusion"], "failure");
    assert_eq!(run["head_sha"], committed["sha"], "runs start from the new head");

    assert_eq!(call(&base, "DELETE", "/_sim/repos/acme/repo-00001", &[], None).await.status, 200);
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00001", &[AUTH], None).await.status, 404);
}

#[tokio::test]
async fn control_endpoint_starts_a_run_on_the_new_head() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let files = json!({"files": {"src/lib.rs": "// v2"}, "message": "v2"});
    let pushed = call(&base, "PUT", "/_sim/repos/acme/repo-00000/files", &[], Some(files)).await.json();
    let run = json!({"conclusion": "failure", "duration_secs": 30});
    let started = call(&base, "POST", "/_sim/repos/acme/repo-00000/runs", &[], Some(run)).await;
    assert_eq!(started.status, 201);
    let path = format!("/repos/acme/repo-00000/actions/runs/{}", started.json()["id"]);
    let running = call(&base, "GET", &path, &[AUTH], None).await.json();
    assert_eq!((running["status"].as_str(), running["event"].as_str()), (Some("queued"), Some("push")));
    assert_eq!((&running["head_sha"], running["head_branch"].as_str()), (&pushed["sha"], Some("main")));
    sim.advance_clock(github_sim::runs::QUEUE_SECS as u64 + 30);
    let listed = call(&base, "GET", "/repos/acme/repo-00000/actions/runs", &[AUTH], None).await.json();
    let newest = &listed["workflow_runs"][0];
    assert_eq!(newest["id"], started.json()["id"], "listed at once, newest first");
    assert_eq!((newest["status"].as_str(), newest["conclusion"].as_str()), (Some("completed"), Some("failure")));

    let unknown = json!({"conclusion": "maybe"});
    assert_eq!(call(&base, "POST", "/_sim/repos/acme/repo-00000/runs", &[], Some(unknown)).await.status, 400);
    let elsewhere = call(&base, "POST", "/_sim/repos/acme/nope/runs", &[], Some(json!({}))).await;
    assert_eq!(elsewhere.status, 404);
    let no_workflow = json!({"workflow": "deploy.yml"});
    assert_eq!(call(&base, "POST", "/_sim/repos/acme/repo-00000/runs", &[], Some(no_workflow)).await.status, 404);
}
