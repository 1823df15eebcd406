//! Webhook deliveries carry GitHub's headers and a valid signature, in the order events happened.

mod support;

use std::time::Duration;

use github_sim::webhook::{signature, WebhookTarget};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Accepts one delivery and returns (headers, body); fails after a deadline instead of sleeping.
async fn receive(listener: &tokio::net::TcpListener) -> (Vec<(String, String)>, Value) {
    let (mut stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("a delivery within 10 s")
        .expect("accept");
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = stream.read(&mut buffer).await.expect("read");
        raw.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().expect("len"))
                })
                .expect("content-length");
            if body.len() >= length || read == 0 {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.expect("reply");
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                return (headers, serde_json::from_str(body).expect("json payload"));
            }
        }
        assert!(read > 0, "connection closed early");
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).expect(name)
}

#[tokio::test]
async fn workflow_run_and_push_deliveries_are_signed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    sim.set_webhook(WebhookTarget { url, secret: "s3cret".into() });
    let dispatch = json!({"ref": "main", "inputs": {"correlation_id": "c-9"}});
    let path = "/repos/acme/repo-00000/actions/workflows/build.yml/dispatches";
    assert_eq!(call(sim.base_url(), "POST", path, &[AUTH], Some(dispatch)).await.status, 204);

    let (headers, payload) = receive(&listener).await;
    assert_eq!(header(&headers, "x-github-event"), "workflow_run");
    assert_eq!(header(&headers, "x-github-delivery").len(), 36);
    assert_eq!(payload["action"], "requested");
    assert_eq!(payload["workflow_run"]["display_title"], "build c-9");
    assert_eq!(payload["repository"]["full_name"], "acme/repo-00000");
    assert_eq!(header(&headers, "x-hub-signature-256"), signature("s3cret", payload.to_string().as_bytes()));

    sim.advance_clock(120);
    // One advance crosses both transitions: both events arrive, in order (payloads show the run as it is now).
    let (_, started) = receive(&listener).await;
    assert_eq!(started["action"], "in_progress");
    let (_, completed) = receive(&listener).await;
    assert_eq!(
        (completed["action"].as_str(), completed["workflow_run"]["conclusion"].as_str()),
        (Some("completed"), Some("success"))
    );

    let files = std::collections::BTreeMap::from([("README.md".to_string(), Some("x".to_string()))]);
    let sha = sim.commit_files("acme", "repo-00000", &files, "docs").expect("repo");
    let (headers, push) = receive(&listener).await;
    assert_eq!(header(&headers, "x-github-event"), "push");
    assert_eq!(push["after"], sha);
    // Every payload sent conforms to GitHub's webhooks description.
    sim.assert_conformant();
}

#[tokio::test]
async fn a_transfer_sends_repository_transferred_with_the_old_owner() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    sim.set_webhook(WebhookTarget { url, secret: "s3cret".into() });
    assert!(sim.transfer_repo("acme", "repo-00000", "umbrella"));
    let (headers, payload) = receive(&listener).await;
    assert_eq!(header(&headers, "x-github-event"), "repository");
    assert_eq!(payload["action"], "transferred");
    assert_eq!(payload["changes"]["owner"]["from"]["organization"]["login"], "acme");
    assert_eq!(payload["repository"]["full_name"], "umbrella/repo-00000");
    assert_eq!(call(sim.base_url(), "GET", "/repos/umbrella/repo-00000", &[AUTH], None).await.status, 200);
    assert_eq!(call(sim.base_url(), "GET", "/repos/acme/repo-00000", &[AUTH], None).await.status, 404);
    sim.assert_conformant();
}
