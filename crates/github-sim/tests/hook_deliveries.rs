//! The App's webhook deliveries: every attempt recorded (a receiver that cannot be reached is a failed one, which
//! GitHub never retries), listed newest first by cursor with the App's JWT, and redelivered on request under the same
//! `guid`.

mod support;

use std::time::Duration;

use github_sim::fixture::AppFixture;
use github_sim::webhook::{WebhookTarget, PENDING_STATUS};
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APP_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("../../../tests/support/github_test_app_key.pub.pem");

fn app_jwt(sim: &SimHandle) -> String {
    let now = sim.now();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(APP_KEY.as_bytes()).expect("key");
    let claims = json!({"iat": now - 60, "exp": now + 540, "iss": "7"});
    let jwt = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key);
    format!("Bearer {}", jwt.expect("sign"))
}

async fn app_sim() -> SimHandle {
    let mut fixture = Fixture::generated_org("acme", 1);
    fixture.apps = vec![AppFixture {
        id: 7,
        public_key_pem: Some(APP_PUBLIC_KEY.into()),
        installations: vec![70],
        token_lifetime_secs: None,
        permissions: Default::default(),
    }];
    Simulator::start(fixture, SimOptions::default()).await.expect("start")
}

/// An address nothing listens on.
async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/hook")
}

async fn settled(sim: &SimHandle, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries = sim.deliveries();
        if deliveries.len() >= count && deliveries.iter().all(|d| d.status != PENDING_STATUS) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries not settled: {deliveries:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Accepts one delivery, answers 200, and returns its `X-GitHub-Delivery`.
async fn receive_one(listener: &tokio::net::TcpListener) -> String {
    let (mut stream, _) =
        tokio::time::timeout(Duration::from_secs(10), listener.accept()).await.expect("a delivery").expect("accept");
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16384];
    loop {
        let read = stream.read(&mut buffer).await.expect("read");
        raw.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse().ok())
                .expect("content-length");
            if body.len() >= length {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.expect("reply");
                return head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("x-github-delivery:").map(|v| v.trim().to_string())
                    })
                    .expect("X-GitHub-Delivery");
            }
        }
        assert!(read > 0, "connection closed early");
    }
}

#[tokio::test]
async fn failed_deliveries_are_listed_by_cursor_and_redelivered_under_the_same_guid() {
    let sim = app_sim().await;
    sim.set_webhook(WebhookTarget { url: unreachable_url().await, secret: "s3cret".into() });
    for round in 0..3 {
        let files = std::collections::BTreeMap::from([("README.md".to_string(), Some(format!("v{round}")))]);
        sim.commit_files("acme", "repo-00000", &files, "docs").expect("repo");
    }
    settled(&sim, 3).await;
    assert!(sim.deliveries().iter().all(|d| (d.status.as_str(), d.status_code) == ("failed to connect", 502)));

    let base = sim.base_url().to_string();
    let auth = app_jwt(&sim);
    assert_eq!(call(&base, "GET", "/app/hook/deliveries", &[AUTH], None).await.status, 401, "a token is not the App");
    let first = call(&base, "GET", "/app/hook/deliveries?per_page=2", &[("Authorization", &auth)], None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let page: Vec<Value> = serde_json::from_str(&first.body).expect("a list");
    assert_eq!(page.len(), 2);
    let recorded = sim.deliveries();
    assert_eq!(page[0]["id"], recorded[2].id, "newest first");
    assert_eq!((page[0]["event"].as_str(), page[0]["status_code"].as_u64()), (Some("push"), Some(502)));
    let link = first.header("link").expect("a Link to the next page");
    let next = link.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(url, _)| url).expect("a URL");
    assert!(next.contains("cursor=") && link.ends_with("rel=\"next\""), "{link}");
    let path = next.trim_start_matches(base.as_str());
    let second = call(&base, "GET", path, &[("Authorization", &auth)], None).await;
    let rest: Vec<Value> = serde_json::from_str(&second.body).expect("a list");
    assert_eq!((rest.len(), &rest[0]["id"]), (1, &json!(recorded[0].id)));
    assert!(second.header("link").is_none(), "the last page");

    let oldest = &recorded[0];
    let one =
        call(&base, "GET", &format!("/app/hook/deliveries/{}", oldest.id), &[("Authorization", &auth)], None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["request"]["headers"]["X-GitHub-Delivery"], oldest.guid);

    // The receiver comes up; a redelivery reaches it under the original guid.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    sim.set_webhook(WebhookTarget {
        url: format!("http://{}/hook", listener.local_addr().expect("addr")),
        secret: "s3cret".into(),
    });
    let attempts = format!("/app/hook/deliveries/{}/attempts", oldest.id);
    assert_eq!(call(&base, "POST", &attempts, &[("Authorization", &auth)], None).await.status, 202);
    assert_eq!(receive_one(&listener).await, oldest.guid);
    settled(&sim, 4).await;
    let redelivered = sim.deliveries().last().cloned().expect("a new attempt");
    assert_eq!(
        (redelivered.guid.as_str(), redelivered.redelivery, redelivered.status_code),
        (oldest.guid.as_str(), true, 200)
    );
    assert_ne!(redelivered.id, oldest.id, "each attempt has its own id");
    let failures = call(&base, "GET", "/app/hook/deliveries?status=failure", &[("Authorization", &auth)], None).await;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&failures.body).expect("a list").len(), 3);
    let missing = call(&base, "POST", "/app/hook/deliveries/1/attempts", &[("Authorization", &auth)], None).await;
    assert_eq!(missing.status, 404);
    sim.assert_conformant();
}
