//! Exercises every served route, then validates the whole request log against GitHub's description.

mod support;

use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

const APP_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pub.pem");

/// An RS256 App JWT as GitHub documents it (iat a minute back, exp under ten minutes ahead).
fn app_jwt(app_id: u64, now: i64) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(APP_KEY.as_bytes()).expect("test key");
    let claims = json!({"iat": now - 60, "exp": now + 540, "iss": app_id.to_string()});
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key).expect("sign")
}

/// A repository with history, alerts, issues, a pull request and past runs, as YAML users would write it.
const HEALTHY: &str = r#"
name: healthy
files: {"Cargo.toml": "[package]\nname = 'healthy'\n"}
workflows: [{path: .github/workflows/build.yml, name: build}]
commits: [{message: first, date: "2025-12-30T00:00:00Z"}, {message: second}]
alerts:
  code_scanning: [{rule_id: rust/cleartext-logging, severity: error, security_severity: high, path: src/main.rs, line: 7}]
  dependabot:
    - {package: openssl, ecosystem: cargo, severity: critical, vulnerable_version_range: "< 0.10.70",
       first_patched_version: 0.10.70, manifest_path: Cargo.lock}
    - {package: time, ecosystem: cargo, severity: low, vulnerable_version_range: "< 0.2.23", manifest_path: Cargo.lock,
       state: fixed}
  secret_scanning: [{secret_type: github_personal_access_token}]
issues: [{title: flaky test, labels: [ci]}]
pull_requests: [{title: bump serde, head: deps/serde, files: {"Cargo.toml": "serde = '1'\n"}}]
runs:
  - {conclusion: failure, duration_secs: 300}
  - {conclusion: success, duration_secs: 240, event: workflow_dispatch}
"#;

/// The App's webhook deliveries: one failed delivery (nothing listens), listed, read and redelivered.
async fn exercise_hook_deliveries(sim: &github_sim::SimHandle, base: &str, jwt: &str) {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    sim.set_webhook(github_sim::webhook::WebhookTarget { url, secret: "s3cret".into() });
    let files = std::collections::BTreeMap::from([("NOTES.md".to_string(), Some("n".to_string()))]);
    sim.commit_files("acme", "healthy", &files, "notes").expect("repo");
    let app = ("Authorization", jwt);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listed = loop {
        let listed = call(base, "GET", "/app/hook/deliveries?per_page=10", &[app], None).await;
        if listed.json().as_array().is_some_and(|l| !l.is_empty()) || std::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let id = listed.json()[0]["id"].clone();
    assert_eq!(listed.json()[0]["status_code"], 502, "nothing listens: {}", listed.body);
    let one = call(base, "GET", &format!("/app/hook/deliveries/{id}"), &[app], None).await;
    assert_eq!(one.json()["event"], "push");
    let again = call(base, "POST", &format!("/app/hook/deliveries/{id}/attempts"), &[app], None).await;
    assert_eq!(again.status, 202);
}

/// The routes added for App auth, history, git writes, pull requests and alert contents.
async fn exercise_apps_history_git_and_pulls(sim: &github_sim::SimHandle, base: &str) {
    let healthy: github_sim::fixture::RepoFixture = serde_yaml::from_str(HEALTHY).expect("yaml");
    healthy.validate().expect("valid fixture");
    sim.add_repo("acme", healthy);
    let repo = "/repos/acme/healthy";

    let jwt = format!("Bearer {}", app_jwt(12345, sim.now()));
    let exchange = call(base, "POST", "/app/installations/678/access_tokens", &[("Authorization", &jwt)], None).await;
    assert_eq!(exchange.status, 201, "{}", exchange.body);
    let token = format!("Bearer {}", exchange.json()["token"].as_str().expect("token"));
    let installation = ("Authorization", token.as_str());
    assert_eq!(call(base, "GET", repo, &[installation], None).await.status, 200);

    let commits = call(base, "GET", &format!("{repo}/commits?sha=main&per_page=1"), &[installation], None).await;
    assert!(commits.header("link").is_some_and(|l| l.contains("rel=\"next\"")));
    let head = commits.json()[0]["sha"].as_str().expect("sha").to_string();
    assert_eq!(commits.json()[0]["commit"]["message"], "second");
    let commit = call(base, "GET", &format!("{repo}/commits/{head}"), &[AUTH], None).await.json();
    let parent = commit["parents"][0]["sha"].as_str().expect("parent").to_string();
    assert_eq!(call(base, "GET", &format!("{repo}/commits/main"), &[AUTH], None).await.json()["sha"], head);

    let blob = call(
        base,
        "POST",
        &format!("{repo}/git/blobs"),
        &[AUTH],
        Some(json!({"content": "aGk=", "encoding": "base64"})),
    )
    .await;
    let blob_sha = blob.json()["sha"].as_str().expect("blob").to_string();
    assert_eq!(
        call(base, "GET", &format!("{repo}/git/blobs/{blob_sha}"), &[AUTH], None).await.json()["content"],
        "aGk="
    );
    let git_commit = call(base, "GET", &format!("{repo}/git/commits/{head}"), &[AUTH], None).await.json();
    let tree_body = json!({"base_tree": git_commit["tree"]["sha"], "tree": [
        {"path": "docs/hi.txt", "mode": "100644", "type": "blob", "sha": blob_sha},
        {"path": "README.md", "mode": "100644", "type": "blob", "content": "# healthy\n"}]});
    let tree = call(base, "POST", &format!("{repo}/git/trees"), &[AUTH], Some(tree_body)).await;
    assert_eq!(tree.status, 201, "{}", tree.body);
    let new_commit = json!({"message": "docs", "tree": tree.json()["sha"], "parents": [head]});
    let created = call(base, "POST", &format!("{repo}/git/commits"), &[AUTH], Some(new_commit)).await.json();
    let branch = json!({"ref": "refs/heads/docs", "sha": parent});
    assert_eq!(call(base, "POST", &format!("{repo}/git/refs"), &[AUTH], Some(branch.clone())).await.status, 201);
    assert_eq!(call(base, "POST", &format!("{repo}/git/refs"), &[AUTH], Some(branch)).await.status, 422, "exists");
    let forward = json!({"sha": created["sha"]});
    assert_eq!(call(base, "PATCH", &format!("{repo}/git/refs/heads/docs"), &[AUTH], Some(forward)).await.status, 200);
    let backward = json!({"sha": parent});
    let refused = call(base, "PATCH", &format!("{repo}/git/refs/heads/docs"), &[AUTH], Some(backward)).await;
    assert_eq!((refused.status, refused.json()["message"].as_str()), (422, Some("Update is not a fast forward")));
    let put = json!({"message": "changelog", "content": "Y2hhbmdlcw==", "branch": "docs"});
    let written = call(base, "PUT", &format!("{repo}/contents/CHANGELOG.md"), &[AUTH], Some(put)).await;
    assert_eq!(written.status, 201, "{}", written.body);
    let readme = call(base, "GET", &format!("{repo}/contents/README.md?ref=docs"), &[AUTH], None).await;
    assert_eq!(readme.json()["content"], "IyBoZWFsdGh5Cg==");

    let opened = json!({"title": "Docs", "head": "docs", "base": "main", "body": "b"});
    let pull = call(base, "POST", &format!("{repo}/pulls"), &[AUTH], Some(opened.clone())).await;
    assert_eq!((pull.status, pull.json()["number"].as_u64()), (201, Some(3)), "after issue 1 and fixture PR 2");
    let again = call(base, "POST", &format!("{repo}/pulls"), &[AUTH], Some(opened)).await.json();
    assert!(again["errors"][0]["message"].as_str().is_some_and(|m| m.contains("already exists")), "{again}");
    let listed = call(base, "GET", &format!("{repo}/pulls?state=open&head=acme%3Adocs"), &[AUTH], None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(call(base, "GET", &format!("{repo}/pulls/2"), &[AUTH], None).await.json()["head"]["ref"], "deps/serde");
    let issues = call(base, "GET", &format!("{repo}/issues?state=all"), &[AUTH], None).await.json();
    let with_pulls: Vec<bool> =
        issues.as_array().expect("issues").iter().map(|i| i.get("pull_request").is_some()).collect();
    assert_eq!(with_pulls, vec![true, true, false], "pull requests appear in the issue list");

    let open_alerts = |product: &'static str| {
        let base = base.to_string();
        async move {
            call(&base, "GET", &format!("/repos/acme/healthy/{product}/alerts?state=open"), &[AUTH], None).await.json()
        }
    };
    assert_eq!(open_alerts("code-scanning").await[0]["rule"]["security_severity_level"], "high");
    let dependabot = open_alerts("dependabot").await;
    assert_eq!(dependabot.as_array().map(Vec::len), Some(1), "the fixed alert is filtered out");
    assert_eq!(dependabot[0]["security_vulnerability"]["first_patched_version"]["identifier"], "0.10.70");
    assert_eq!(dependabot[0]["dependency"]["manifest_path"], "Cargo.lock");
    assert_eq!(open_alerts("secret-scanning").await[0]["secret_type"], "github_personal_access_token");

    let runs = call(base, "GET", &format!("{repo}/actions/runs"), &[AUTH], None).await.json();
    let conclusions: Vec<&str> =
        runs["workflow_runs"].as_array().expect("runs").iter().filter_map(|r| r["conclusion"].as_str()).collect();
    assert_eq!(conclusions, vec!["success", "failure"], "past runs, newest first");

    // Merging: what `main` requires (nothing here), the checks of the head, the merge.
    let head = call(base, "GET", &format!("{repo}/pulls/3"), &[AUTH], None).await.json()["head"]["sha"].clone();
    let head = head.as_str().expect("a head sha");
    let protection = format!("{repo}/branches/main/protection/required_status_checks");
    assert_eq!(call(base, "GET", &protection, &[AUTH], None).await.status, 404, "not protected");
    assert_eq!(call(base, "GET", &format!("{repo}/rules/branches/main"), &[AUTH], None).await.json(), json!([]));
    let runs = call(base, "GET", &format!("{repo}/commits/{head}/check-runs"), &[AUTH], None).await.json();
    assert_eq!(runs["total_count"], 0);
    let status = call(base, "GET", &format!("{repo}/commits/{head}/status"), &[AUTH], None).await.json();
    assert_eq!(status["state"], "pending", "no status: pending, as GitHub combines none");
    let merge = json!({"sha": head, "merge_method": "squash"});
    let merged = call(base, "PUT", &format!("{repo}/pulls/3/merge"), &[AUTH], Some(merge)).await;
    assert_eq!((merged.status, merged.json()["merged"].clone()), (200, json!(true)));

    // Security features: Dependabot alerts (on: the repository has alerts), its security updates once the alerts are
    // on, and secret scanning through the repository's `security_and_analysis`.
    let alerts = format!("{repo}/vulnerability-alerts");
    assert_eq!(call(base, "GET", &alerts, &[AUTH], None).await.status, 204, "on: it has Dependabot alerts");
    assert_eq!(call(base, "PUT", &alerts, &[AUTH], None).await.status, 204);
    let fixes = format!("{repo}/automated-security-fixes");
    assert_eq!(call(base, "PUT", &fixes, &[AUTH], None).await.status, 204);
    let answer = call(base, "GET", &fixes, &[AUTH], None).await;
    assert_eq!((answer.status, answer.json()["enabled"].clone()), (200, json!(true)), "{}", answer.body);
    let scanning = json!({"security_and_analysis": {"secret_scanning": {"status": "enabled"}}});
    let patched = call(base, "PATCH", repo, &[AUTH], Some(scanning)).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["full_name"], "acme/healthy", "the answer is the repository");
    exercise_hook_deliveries(sim, base, &jwt).await;
}

/// The REST API version whose dispatch answer always names the run.
const NEW_VERSION: (&str, &str) = ("X-GitHub-Api-Version", "2026-03-10");

#[tokio::test]
async fn every_route_conforms_to_githubs_description() {
    let mut fixture = Fixture::generated_org("acme", 3);
    fixture.apps = vec![github_sim::fixture::AppFixture {
        id: 12345,
        public_key_pem: Some(APP_PUBLIC_KEY.into()),
        installations: vec![678],
        token_lifetime_secs: None,
        permissions: Default::default(),
    }];
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("start");
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
    assert_eq!(call(&base, "POST", &dispatches, &[AUTH], Some(dispatch.clone())).await.status, 204);
    // The run-returning answers of both API versions, and `/rate_limit` as 2026-03-10 shapes it.
    let details = json!({"ref": "main", "inputs": {"correlation_id": "c-2"}, "return_run_details": true});
    assert_eq!(call(&base, "POST", &dispatches, &[AUTH], Some(details)).await.status, 200);
    let dispatched = call(&base, "POST", &dispatches, &[AUTH, NEW_VERSION], Some(dispatch)).await.json();
    call(&base, "GET", "/rate_limit", &[AUTH, NEW_VERSION], None).await;
    let run_path = format!("{repo}/actions/runs/{}", dispatched["workflow_run_id"]);
    sim.advance_clock(1);
    call(&base, "GET", &format!("{repo}/actions/runs"), &[AUTH], None).await;
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

    // GitHub answers a disabled Dependabot with 403, the other products with 404.
    for (feature, status) in [("code-scanning", 404), ("dependabot", 403), ("secret-scanning", 404)] {
        let disabled = call(&base, "GET", &format!("{repo}/{feature}/alerts"), &[AUTH], None).await;
        assert_eq!(disabled.status, status, "{feature} is disabled in generated fixtures");
        assert!(disabled.json()["message"].is_string());
    }
    let mut secured = github_sim::fixture::RepoFixture { name: "secured".into(), ..Default::default() };
    secured.security = github_sim::fixture::SecurityFixture {
        code_scanning: true,
        dependabot: true,
        secret_scanning: true,
        ..Default::default()
    };
    sim.add_repo("acme", secured);
    for feature in ["code-scanning", "dependabot", "secret-scanning"] {
        let listed =
            call(&base, "GET", &format!("/repos/acme/secured/{feature}/alerts?state=open"), &[AUTH], None).await;
        assert_eq!((listed.status, listed.json()), (200, json!([])));
    }
    // The organization's lists answer only an owner or security manager; `test-token` is neither here.
    for (feature, status) in [("code-scanning", 404), ("dependabot", 403), ("secret-scanning", 404)] {
        assert_eq!(call(&base, "GET", &format!("/orgs/acme/{feature}/alerts"), &[AUTH], None).await.status, status);
    }
    // So do its code security configurations, with 403.
    for path in ["/orgs/acme/code-security/configurations", "/orgs/acme/code-security/configurations/17/repositories"] {
        assert_eq!(call(&base, "GET", path, &[AUTH], None).await.status, 403, "{path}");
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
    exercise_apps_history_git_and_pulls(&sim, &base).await;

    let served: std::collections::BTreeSet<(String, String)> = sim
        .requests()
        .iter()
        .filter_map(|r| github_sim::routes::find_route(&r.method, &r.path))
        .map(|(route, _)| (route.method.to_string(), route.template.to_string()))
        .collect();
    let unexercised: Vec<String> = github_sim::routes::ROUTES
        .iter()
        .filter(|route| !served.contains(&(route.method.to_string(), route.template.to_string())))
        .map(|route| format!("{} {}", route.method, route.template))
        .collect();
    assert!(unexercised.is_empty(), "not exercised: {unexercised:?}");
    sim.assert_conformant();

    // The request side bites too: an issue without its required title is answered 422 and flagged by the checker.
    sim.clear_requests();
    assert_eq!(call(&base, "POST", &issues, &[AUTH], Some(json!({"body": "no title"}))).await.status, 422);
    let description = github_sim::conformance::Description::load().expect("description");
    let violations = description.validate_log(&sim.requests());
    assert!(violations.iter().any(|v| v.contains("request: $: missing required field `title`")), "{violations:#?}");
}
