//! Secondary limits as GitHub answers them: 403 or 429, with or without `retry-after`, refusing every request inside
//! the window; and the content-creation limit (80 a minute, 500 an hour per credential), on by default.

mod support;

use github_sim::content_creation::{is_content_creating, ContentCreationLimit, CONTENT_CREATING};
use github_sim::routes::ROUTES;
use github_sim::{FaultConfig, Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, HttpReply, AUTH};

const OTHER: (&str, &str) = ("Authorization", "Bearer other-token");

fn fixture() -> Fixture {
    let mut fixture = Fixture::generated_org("acme", 1);
    fixture.tokens.push("other-token".into());
    fixture
}

async fn create_issue(base: &str, auth: (&str, &str)) -> HttpReply {
    call(base, "POST", "/repos/acme/repo-00000/issues", &[auth], Some(json!({"title": "t"}))).await
}

fn assert_secondary_body(reply: &HttpReply, message_part: &str) {
    let body = reply.json();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("secondary rate limit") && message.contains(message_part), "{message}");
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    );
}

#[tokio::test]
async fn a_secondary_limit_answers_429_without_retry_after_and_refuses_until_its_window_ends() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let limit = json!({"after_requests": 1, "retry_after_secs": 90, "status": 429, "retry_after": false});
    assert_eq!(call(&base, "POST", "/_sim/faults", &[], Some(json!({"secondary_limit": limit}))).await.status, 200);
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 200);
    let limited = call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    assert_eq!((limited.status, limited.header("retry-after")), (429, None));
    assert_secondary_body(&limited, "Please wait a few minutes");
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("4999"), "the primary budget is not spent, nor charged");
    sim.advance_clock(60);
    let early = call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    assert_eq!(early.status, 429, "a minute is not the end of this window: still refused");
    sim.advance_clock(30);
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 200, "the window passed");
    sim.assert_conformant();
}

#[tokio::test]
async fn a_secondary_limit_defaults_to_403_with_a_counting_down_retry_after() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let limit = json!({"after_requests": 0, "retry_after_secs": 30});
    call(&base, "POST", "/_sim/faults", &[], Some(json!({"secondary_limit": limit}))).await;
    let limited = call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
    assert_eq!((limited.status, limited.header("retry-after")), (403, Some("30")));
    sim.advance_clock(12);
    assert_eq!(call(&base, "GET", "/orgs/acme/repos", &[AUTH], None).await.header("retry-after"), Some("18"));
}

#[tokio::test]
async fn mixed_secondary_answers_are_drawn_from_the_seed() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let limit = json!({"after_requests": 0, "retry_after_secs": 600, "status": "mixed", "retry_after": "mixed"});
    let draw = || async {
        call(&base, "POST", "/_sim/faults", &[], Some(json!({"seed": 9, "secondary_limit": limit.clone()}))).await;
        let mut answers = Vec::new();
        for _ in 0..40 {
            let reply = call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await;
            answers.push((reply.status, reply.header("retry-after").is_some()));
        }
        answers
    };
    let answers = draw().await;
    for shape in [(403, true), (403, false), (429, true), (429, false)] {
        assert!(answers.contains(&shape), "{shape:?} never drawn in {answers:?}");
    }
    assert_eq!(draw().await, answers, "the same seed draws the same answers");
    let invalid = json!({"secondary_limit": {"after_requests": 0, "retry_after_secs": 1, "status": 500}});
    assert_eq!(call(&base, "POST", "/_sim/faults", &[], Some(invalid)).await.status, 400, "GitHub answers 403 or 429");
}

#[tokio::test]
async fn content_creation_is_limited_to_80_a_minute_per_credential_by_default() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    for n in 0..80 {
        assert_eq!(create_issue(&base, AUTH).await.status, 201, "creation {n}");
    }
    let refused = create_issue(&base, AUTH).await;
    assert_eq!((refused.status, refused.header("retry-after")), (403, None), "GitHub sends no retry-after here");
    assert_secondary_body(&refused, "temporarily blocked from content creation");
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("4919"), "charged, and the primary budget is not spent");
    assert_eq!(sim.issues("acme", "repo-00000").len(), 80, "the refused creation was not carried out");

    // Reads, edits and dispatches are not content creation; another credential has its own count.
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00000/issues", &[AUTH], None).await.status, 200);
    let edit = json!({"title": "renamed"});
    assert_eq!(call(&base, "PATCH", "/repos/acme/repo-00000/issues/1", &[AUTH], Some(edit)).await.status, 200);
    let dispatch = json!({"ref": "main", "inputs": {"correlation_id": "c"}});
    let dispatched =
        call(&base, "POST", "/repos/acme/repo-00000/actions/workflows/build.yml/dispatches", &[AUTH], Some(dispatch));
    assert_eq!(dispatched.await.status, 204);
    assert_eq!(create_issue(&base, OTHER).await.status, 201);

    sim.advance_clock(59);
    assert_eq!(create_issue(&base, AUTH).await.status, 403, "still blocked inside the minute");
    sim.advance_clock(1);
    assert_eq!(create_issue(&base, AUTH).await.status, 201, "a minute after the refusal");
    assert_eq!(sim.issues("acme", "repo-00000").len(), 82);
    sim.assert_conformant();
}

#[tokio::test]
async fn the_fixture_sets_the_hourly_content_limit() {
    let yaml = "tokens: [test-token]\ncontent_creation: {per_minute: 80, per_hour: 3}\norgs:\n- login: acme\n  repos:\n  - name: api\n";
    let sim = Simulator::start(Fixture::from_yaml(yaml).expect("yaml"), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let comment = |n: u64| async move {
        let body = json!({"body": format!("comment {n}")});
        call(base, "POST", "/repos/acme/api/issues/1/comments", &[AUTH], Some(body)).await.status
    };
    assert_eq!(call(base, "POST", "/repos/acme/api/issues", &[AUTH], Some(json!({"title": "t"}))).await.status, 201);
    sim.advance_clock(600);
    assert_eq!(comment(1).await, 201);
    sim.advance_clock(600);
    assert_eq!(comment(2).await, 201);
    sim.advance_clock(600);
    assert_eq!(comment(3).await, 403, "the fourth creation of the hour");
    sim.advance_clock(1799);
    assert_eq!(comment(4).await, 403, "refused until the first creation leaves the hour");
    sim.advance_clock(1);
    assert_eq!(comment(5).await, 201);
    sim.assert_conformant();
}

#[tokio::test]
async fn faults_override_the_content_limit_while_set() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let small = ContentCreationLimit { per_minute: 2, per_hour: 500 };
    sim.set_faults(FaultConfig { content_creation: Some(small), ..FaultConfig::default() });
    let blob = json!({"content": "x", "encoding": "utf-8"});
    for _ in 0..2 {
        assert_eq!(
            call(&base, "POST", "/repos/acme/repo-00000/git/blobs", &[AUTH], Some(blob.clone())).await.status,
            201
        );
    }
    assert_eq!(create_issue(&base, AUTH).await.status, 403, "git objects count as content too");
    let over_http = json!({"content_creation": {"per_minute": 0, "per_hour": 0}});
    assert_eq!(call(&base, "POST", "/_sim/faults", &[], Some(over_http)).await.status, 200);
    assert_eq!(create_issue(&base, AUTH).await.status, 403, "a block already given still runs out");
    sim.advance_clock(60);
    for _ in 0..100 {
        assert_eq!(create_issue(&base, AUTH).await.status, 201, "0 lifts the caps");
    }
    sim.set_faults(FaultConfig::default());
    assert_eq!(create_issue(&base, AUTH).await.status, 403, "back to the fixture's 80 a minute");
}

/// Every served operation GitHub's description marks as content-creating is counted.
#[test]
fn every_operation_github_marks_as_content_creating_is_counted() {
    let path = github_sim::conformance::description_path().expect("GitHub's OpenAPI description");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let marked = |method: &str, template: &str| {
        document["paths"][template][method.to_ascii_lowercase()]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Creating content too quickly using this endpoint"))
    };
    let uncounted: Vec<String> = ROUTES
        .iter()
        .filter(|r| marked(r.method, r.template) && !is_content_creating(r.method, r.template))
        .map(|r| format!("{} {}", r.method, r.template))
        .collect();
    assert!(uncounted.is_empty(), "marked by GitHub but not counted: {uncounted:?}");
    let served: Vec<&(&str, &str)> =
        CONTENT_CREATING.iter().filter(|(m, t)| ROUTES.iter().any(|r| r.method == *m && r.template == *t)).collect();
    assert_eq!(served.len(), CONTENT_CREATING.len(), "every counted operation is served");
    assert!(CONTENT_CREATING.iter().any(|(m, t)| marked(m, t)), "the marker is still in GitHub's description");
}
