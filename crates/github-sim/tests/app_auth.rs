//! GitHub App authentication: App JWT checks, installation tokens, their expiry, and the plain token alongside.

mod support;

use github_sim::fixture::AppFixture;
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

const APP_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pub.pem");

fn jwt(key_pem: &str, claims: serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key).expect("sign")
}

/// Valid claims carrying the signature of other claims: only signature verification can tell.
fn forged(now: i64) -> String {
    let wanted = jwt(APP_KEY, json!({"iat": now - 60, "exp": now + 540, "iss": "7"}));
    let other = jwt(APP_KEY, json!({"iat": now - 61, "exp": now + 539, "iss": "7"}));
    let (signed, _) = wanted.rsplit_once('.').expect("three parts");
    let (_, signature) = other.rsplit_once('.').expect("three parts");
    format!("{signed}.{signature}")
}

async fn exchange(base: &str, installation: u64, jwt: &str) -> support::HttpReply {
    let auth = format!("Bearer {jwt}");
    call(base, "POST", &format!("/app/installations/{installation}/access_tokens"), &[("Authorization", &auth)], None)
        .await
}

#[tokio::test]
async fn an_app_jwt_buys_an_installation_token_that_expires() {
    let mut fixture = Fixture::generated_org("acme", 1);
    fixture.apps = vec![AppFixture {
        id: 7,
        public_key_pem: Some(APP_PUBLIC_KEY.into()),
        installations: vec![70],
        token_lifetime_secs: Some(600),
        permissions: Default::default(),
    }];
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let now = sim.now();
    let good = json!({"iat": now - 60, "exp": now + 540, "iss": "7"});

    let answer = exchange(&base, 70, &jwt(APP_KEY, good.clone())).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["expires_at"], github_sim::clock::iso8601(now + 600));
    let token = format!("Bearer {}", body["token"].as_str().expect("token"));
    let repo = call(&base, "GET", "/repos/acme/repo-00000", &[("Authorization", &token)], None).await;
    assert_eq!(repo.status, 200);
    assert!(repo.header("x-ratelimit-remaining").is_some(), "installation tokens have a budget");
    assert_eq!(
        call(&base, "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status,
        200,
        "plain token still works"
    );

    sim.advance_clock(600);
    let expired = call(&base, "GET", "/repos/acme/repo-00000", &[("Authorization", &token)], None).await;
    assert_eq!((expired.status, expired.json()["message"].as_str()), (401, Some("Bad credentials")));

    let now = sim.now();
    let cases = [
        ("a forged signature", forged(now)),
        ("expired", jwt(APP_KEY, json!({"iat": now - 700, "exp": now - 1, "iss": "7"}))),
        ("too long", jwt(APP_KEY, json!({"iat": now, "exp": now + 3600, "iss": "7"}))),
        ("unknown App", jwt(APP_KEY, json!({"iat": now - 60, "exp": now + 540, "iss": "8"}))),
        ("not a JWT", "test-token".to_string()),
    ];
    for (what, bad) in cases {
        assert_eq!(exchange(&base, 70, &bad).await.status, 401, "{what}");
    }
    let fresh = jwt(APP_KEY, json!({"iat": now - 60, "exp": now + 540, "iss": 7}));
    assert_eq!(exchange(&base, 71, &fresh).await.status, 404, "not this App's installation");
    assert_eq!(exchange(&base, 70, &fresh).await.status, 201, "numeric iss, a new token after expiry");
    assert_eq!(sim.installation_tokens_issued(), 2);
    assert!(sim.requests().iter().filter(|r| r.path.starts_with("/app/")).all(|r| !r.counted), "JWT calls are free");
    sim.assert_conformant();
}

#[tokio::test]
async fn an_invalid_fixture_is_refused_with_its_reason() {
    let yaml = "orgs:\n- login: acme\n  repos:\n  - name: api\n    runs: [{workflow: missing.yml}]\n";
    let error = Fixture::from_yaml(yaml).expect_err("a run of a workflow that does not exist");
    assert!(error.to_string().contains("unknown workflow"), "{error}");
}

#[tokio::test]
async fn an_installation_is_refused_the_routes_and_fields_of_permissions_it_was_not_granted() {
    let mut fixture = Fixture::generated_org("acme", 1);
    let granted = [("contents", "read"), ("actions", "read"), ("checks", "read")];
    fixture.apps = vec![AppFixture {
        id: 7,
        public_key_pem: Some(APP_PUBLIC_KEY.into()),
        installations: vec![70, 71],
        token_lifetime_secs: None,
        permissions: [(70, granted.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())].into(),
    }];
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("start");
    let base = sim.base_url().to_string();
    let now = sim.now();
    let app_jwt = jwt(APP_KEY, json!({"iat": now - 60, "exp": now + 540, "iss": "7"}));

    let answer = exchange(&base, 70, &app_jwt).await.json();
    let expected = json!({"actions": "read", "checks": "read", "contents": "read", "metadata": "read"});
    assert_eq!(answer["permissions"], expected, "the token answer names what was granted, metadata included");
    let token = format!("Bearer {}", answer["token"].as_str().expect("token"));
    let auth = [("Authorization", token.as_str())];
    assert_eq!(call(&base, "GET", "/repos/acme/repo-00000/actions/runs", &auth, None).await.status, 200);
    for (method, path, needs) in [
        ("GET", "/repos/acme/repo-00000/dependabot/alerts", "vulnerability_alerts=read"),
        ("POST", "/repos/acme/repo-00000/actions/workflows/ci.yml/dispatches", "actions=write"),
        ("GET", "/repos/acme/repo-00000/issues", "issues=read"),
        ("GET", "/repos/acme/repo-00000/vulnerability-alerts", "administration=read"),
        ("PUT", "/repos/acme/repo-00000/vulnerability-alerts", "administration=write"),
        ("PUT", "/repos/acme/repo-00000/automated-security-fixes", "administration=write"),
        ("PATCH", "/repos/acme/repo-00000", "administration=write"),
    ] {
        let body = match method {
            "POST" => Some(json!({"ref": "main"})),
            "PATCH" => Some(json!({"security_and_analysis": {"secret_scanning": {"status": "enabled"}}})),
            _ => None,
        };
        let refused = call(&base, method, path, &auth, body).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(refused.json()["message"], "Resource not accessible by integration", "{method} {path}");
        assert_eq!(refused.header("x-accepted-github-permissions"), Some(needs), "{method} {path}");
    }
    let query = "{ repository(owner: \"acme\", name: \"repo-00000\") { name hasVulnerabilityAlertsEnabled } }";
    let graphql = call(&base, "POST", "/graphql", &auth, Some(json!({ "query": query }))).await.json();
    // The field is non-null, so the refusal nulls the repository, as on GitHub.
    assert_eq!(graphql["data"]["repository"], serde_json::Value::Null, "{graphql}");
    assert_eq!(graphql["errors"][0]["type"], "FORBIDDEN", "{graphql}");
    assert_eq!(graphql["errors"][0]["path"], json!(["repository", "hasVulnerabilityAlertsEnabled"]), "{graphql}");

    let everything = exchange(&base, 71, &app_jwt).await.json();
    assert_eq!(everything["permissions"]["vulnerability_alerts"], "read", "unlisted installations get everything");
    assert_eq!(everything["permissions"]["actions"], "write");
    let token = format!("Bearer {}", everything["token"].as_str().expect("token"));
    let alerts =
        call(&base, "GET", "/repos/acme/repo-00000/dependabot/alerts", &[("Authorization", &token)], None).await;
    assert_ne!(alerts.json()["message"], "Resource not accessible by integration", "{}", alerts.body);
    sim.assert_conformant();
}
