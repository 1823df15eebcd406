//! Answers shaped as github.com shapes them: `Location` on 201s, pull requests through the issues API, Dependabot's
//! 403, repository metadata that moves (so list ETags move), percent-encoded `Link` URLs.

mod support;

use github_sim::fixture::{IssueFixture, OrgFixture, PullRequestFixture, RepoFixture};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};

fn fixture() -> Fixture {
    let repo = RepoFixture {
        name: "svc".into(),
        files: [("README.md".to_string(), "# svc\n".to_string())].into(),
        issues: vec![IssueFixture { title: "old".into(), ..Default::default() }],
        pull_requests: vec![PullRequestFixture {
            title: "bump".into(),
            head: "deps/bump".into(),
            files: [("Cargo.toml".to_string(), "x".to_string())].into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    Fixture {
        orgs: vec![OrgFixture { login: "acme".into(), repos: vec![repo], ..Default::default() }],
        tokens: vec!["test-token".into()],
        ..Default::default()
    }
}

async fn post(base: &str, path: &str, body: Value) -> (Value, Option<String>) {
    let reply = call(base, "POST", path, &[AUTH], Some(body)).await;
    assert_eq!(reply.status, 201, "POST {path}: {}", reply.body);
    (reply.json(), reply.header("location").map(str::to_string))
}

#[tokio::test]
async fn created_resources_answer_201_with_their_location() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let api = format!("{base}/repos/acme/svc");
    let (issue, location) = post(base, "/repos/acme/svc/issues", json!({"title": "t"})).await;
    assert_eq!(location.as_deref(), Some(format!("{api}/issues/{}", issue["number"]).as_str()));
    let (comment, location) = post(base, "/repos/acme/svc/issues/1/comments", json!({"body": "b"})).await;
    assert_eq!(location.as_deref(), Some(format!("{api}/issues/comments/{}", comment["id"]).as_str()));
    let (blob, location) = post(base, "/repos/acme/svc/git/blobs", json!({"content": "hi"})).await;
    assert_eq!(location, Some(format!("{api}/git/blobs/{}", blob["sha"].as_str().expect("sha"))));
    let (tree, location) =
        post(base, "/repos/acme/svc/git/trees", json!({"tree": [{"path": "a.txt", "content": "a"}]})).await;
    assert_eq!(location, Some(format!("{api}/git/trees/{}", tree["sha"].as_str().expect("sha"))));
    let (commit, location) =
        post(base, "/repos/acme/svc/git/commits", json!({"message": "m", "tree": tree["sha"], "parents": []})).await;
    assert_eq!(location, Some(format!("{api}/git/commits/{}", commit["sha"].as_str().expect("sha"))));
    let main = call(base, "GET", "/repos/acme/svc/git/ref/heads/main", &[AUTH], None).await.json();
    let (_, location) =
        post(base, "/repos/acme/svc/git/refs", json!({"ref": "refs/heads/topic", "sha": main["object"]["sha"]})).await;
    assert_eq!(location, Some(format!("{api}/git/refs/heads/topic")));
    let put = call(
        base,
        "PUT",
        "/repos/acme/svc/contents/new.txt",
        &[AUTH],
        Some(json!({"message": "m", "content": "aGk=", "branch": "topic"})),
    )
    .await;
    assert_eq!(put.status, 201);
    assert_eq!(put.header("location"), Some(format!("{api}/contents/new.txt").as_str()));
    let (pull, location) =
        post(base, "/repos/acme/svc/pulls", json!({"title": "p", "head": "topic", "base": "main"})).await;
    assert_eq!(location, Some(format!("{api}/pulls/{}", pull["number"])));
    let read = call(base, "GET", "/repos/acme/svc/issues/1", &[AUTH], None).await;
    assert_eq!((read.status, read.header("location")), (200, None), "only 201s carry it");
    sim.assert_conformant();
}

#[tokio::test]
async fn a_pull_request_is_an_issue_too() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    // Issue 1 is the fixture's issue; pull request 2 shares the sequence.
    let read = call(base, "GET", "/repos/acme/svc/issues/2", &[AUTH], None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let issue = read.json();
    assert_eq!(issue["title"], "bump");
    assert!(issue["pull_request"]["url"].as_str().is_some_and(|u| u.ends_with("/repos/acme/svc/pulls/2")));
    let (comment, _) = post(base, "/repos/acme/svc/issues/2/comments", json!({"body": "looks good"})).await;
    assert_eq!(comment["body"], "looks good");
    let comments = call(base, "GET", "/repos/acme/svc/issues/2/comments", &[AUTH], None).await.json();
    assert_eq!(comments.as_array().map(Vec::len), Some(1));
    let again = call(base, "GET", "/repos/acme/svc/issues/2", &[AUTH], None).await.json();
    assert_eq!(again["comments"], 1);
    let closed =
        call(base, "PATCH", "/repos/acme/svc/issues/2", &[AUTH], Some(json!({"state": "closed"}))).await.json();
    assert_eq!(closed["state"], "closed");
    let pull = call(base, "GET", "/repos/acme/svc/pulls/2", &[AUTH], None).await.json();
    assert_eq!(pull["state"], "closed", "closing the issue closes the pull request");
    let missing = call(base, "GET", "/repos/acme/svc/issues/9", &[AUTH], None).await;
    assert_eq!(missing.status, 404);
    sim.assert_conformant();
}

#[tokio::test]
async fn dependabot_disabled_is_a_403_with_githubs_message() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let reply = call(sim.base_url(), "GET", "/repos/acme/svc/dependabot/alerts", &[AUTH], None).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["message"], "Dependabot alerts are disabled for this repository.");
    let secret = call(sim.base_url(), "GET", "/repos/acme/svc/secret-scanning/alerts", &[AUTH], None).await;
    assert_eq!(secret.status, 404, "secret scanning answers 404 when disabled");
    sim.assert_conformant();
}

#[tokio::test]
async fn opening_an_issue_moves_the_repository_and_the_org_listing_etag() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let first = call(base, "GET", "/orgs/acme/repos", &[AUTH], None).await;
    let etag = first.header("etag").expect("etag").to_string();
    let repo = &first.json()[0];
    assert_eq!(repo["open_issues_count"], 2, "one open issue and one open pull request");
    let unchanged = call(base, "GET", "/orgs/acme/repos", &[AUTH, ("If-None-Match", &etag)], None).await;
    assert_eq!(unchanged.status, 304);

    sim.advance_clock(60);
    post(base, "/repos/acme/svc/issues", json!({"title": "new"})).await;
    let changed = call(base, "GET", "/orgs/acme/repos", &[AUTH, ("If-None-Match", &etag)], None).await;
    assert_eq!(changed.status, 200, "the listing changed, so a conditional re-read is not a 304");
    let repo = &changed.json()[0];
    assert_eq!(repo["open_issues_count"], 3);
    assert_eq!(repo["updated_at"], github_sim::clock::iso8601(sim.now()));
    assert_ne!(repo["updated_at"], repo["pushed_at"], "an issue is not a push");

    sim.advance_clock(60);
    call(base, "PATCH", "/repos/acme/svc/issues/1", &[AUTH], Some(json!({"state": "closed"}))).await;
    let after_close = call(base, "GET", "/repos/acme/svc", &[AUTH], None).await.json();
    assert_eq!(after_close["open_issues_count"], 2);
    assert_eq!(after_close["updated_at"], github_sim::clock::iso8601(sim.now()));

    sim.advance_clock(60);
    let main = call(base, "GET", "/repos/acme/svc/git/ref/heads/main", &[AUTH], None).await.json();
    post(base, "/repos/acme/svc/git/refs", json!({"ref": "refs/heads/other", "sha": main["object"]["sha"]})).await;
    let after_push = call(base, "GET", "/repos/acme/svc", &[AUTH], None).await.json();
    assert_eq!(after_push["pushed_at"], github_sim::clock::iso8601(sim.now()));
    assert_eq!(after_push["updated_at"], after_push["pushed_at"]);
    sim.assert_conformant();
}

#[tokio::test]
async fn link_urls_are_percent_encoded() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    for i in 0..3 {
        post(base, "/repos/acme/repo-00000/issues", json!({"title": format!("t{i}"), "labels": ["a b"]})).await;
    }
    let reply =
        call(base, "GET", "/repos/acme/repo-00000/issues?labels=a%20b&state=open&per_page=1", &[AUTH], None).await;
    let link = reply.header("link").expect("link").to_string();
    assert!(link.contains("labels=a%20b&state=open&per_page=1&page=2>; rel=\"next\""), "{link}");
    // Following `next` as given reads page 2.
    let next = link.split(", ").find(|l| l.ends_with("rel=\"next\"")).expect("next");
    let url = &next[1..next.find('>').expect(">")];
    let path = url.trim_start_matches(base);
    let page = call(base, "GET", path, &[AUTH], None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.json()[0]["title"], "t1");
}

#[tokio::test]
async fn org_repositories_list_newest_first_by_default_as_on_github() {
    let sim = Simulator::start(Fixture::generated_org("acme", 3), SimOptions::default()).await.expect("start");
    sim.advance_clock(60);
    sim.add_repo("acme", RepoFixture { name: "aaa-newest".into(), ..Default::default() });
    let names = |reply: Value| -> Vec<String> {
        reply.as_array().expect("array").iter().filter_map(|r| r["name"].as_str().map(String::from)).collect()
    };
    let default = names(call(sim.base_url(), "GET", "/orgs/acme/repos", &[AUTH], None).await.json());
    assert_eq!(default, ["aaa-newest", "repo-00000", "repo-00001", "repo-00002"], "sort=created, direction=desc");
    let by_name = names(call(sim.base_url(), "GET", "/orgs/acme/repos?sort=full_name", &[AUTH], None).await.json());
    assert_eq!(by_name, ["aaa-newest", "repo-00000", "repo-00001", "repo-00002"], "full_name ascends");
    let oldest =
        names(call(sim.base_url(), "GET", "/orgs/acme/repos?sort=created&direction=asc", &[AUTH], None).await.json());
    assert_eq!(oldest.last().map(String::as_str), Some("aaa-newest"));
    sim.assert_conformant();
}

#[tokio::test]
async fn dependabot_alerts_page_by_cursor_not_by_page_number() {
    let mut fixture = fixture();
    let alert = |i: usize| github_sim::fixture::DependabotAlertFixture {
        package: format!("pkg-{i}"),
        ecosystem: "npm".into(),
        manifest_path: "package-lock.json".into(),
        ..Default::default()
    };
    fixture.orgs[0].repos[0].alerts.dependabot = (0..3).map(alert).collect();
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let first = call(base, "GET", "/repos/acme/svc/dependabot/alerts?per_page=2&page=2", &[AUTH], None).await;
    assert_eq!(first.json()[0]["number"], 3, "`page` is not a parameter of this list: newest first from the start");
    let link = first.header("link").expect("link").to_string();
    assert!(link.contains("after=") && !link.contains("&page=") && !link.contains("rel=\"last\""), "{link}");
    let next = link.split(", ").find(|l| l.ends_with("rel=\"next\"")).expect("next");
    let path = next[1..next.find('>').expect(">")].trim_start_matches(base).to_string();
    let second = call(base, "GET", &path, &[AUTH], None).await;
    let numbers: Vec<u64> =
        second.json().as_array().expect("array").iter().filter_map(|a| a["number"].as_u64()).collect();
    assert_eq!(numbers, [1]);
    assert!(second.header("link").is_some_and(|l| l.contains("rel=\"prev\"") && !l.contains("rel=\"next\"")));
    sim.assert_conformant();
}

#[tokio::test]
async fn an_issue_without_a_title_names_the_missing_field() {
    let sim = Simulator::start(fixture(), SimOptions::default()).await.expect("start");
    let reply = call(sim.base_url(), "POST", "/repos/acme/svc/issues", &[AUTH], Some(json!({"body": "b"}))).await;
    assert_eq!(reply.status, 422);
    let body = reply.json();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0], json!({"resource": "Issue", "code": "missing_field", "field": "title"}));
}
