//! Every webhook payload the simulator sends conforms to GitHub's webhooks description (`@octokit/openapi-webhooks`),
//! and the checker catches one that does not.

mod support;

use std::time::Duration;

use github_sim::conformance::webhooks::WebhookDescription;
use github_sim::control::RepoEdit;
use github_sim::webhook::{WebhookTarget, PENDING_STATUS};
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A receiver that answers every delivery 200, until dropped.
async fn accepting_receiver() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buffer = [0u8; 16384];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&raw).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
            });
        }
    });
    (url, task)
}

/// Waits until every recorded delivery has been attempted.
async fn all_attempted(sim: &SimHandle, at_least: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries = sim.deliveries();
        if deliveries.len() >= at_least && deliveries.iter().all(|d| d.status != PENDING_STATUS) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries still pending: {deliveries:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_kind_of_delivery_conforms_to_githubs_webhook_schemas() {
    let (url, _receiver) = accepting_receiver().await;
    let sim = Simulator::start(Fixture::generated_org("acme", 3), SimOptions::default()).await.expect("start");
    sim.set_webhook(WebhookTarget { url, secret: "s3cret".into() });
    // workflow_run requested, in_progress, completed.
    let dispatch = json!({"ref": "main", "inputs": {"correlation_id": "c-1"}});
    let path = "/repos/acme/repo-00000/actions/workflows/build.yml/dispatches";
    let dispatched = call(sim.base_url(), "POST", path, &[AUTH], Some(dispatch)).await.status;
    assert!(dispatched == 204 || dispatched == 200, "dispatch answered {dispatched}");
    sim.advance_clock(3600);
    // push.
    let files = std::collections::BTreeMap::from([("README.md".to_string(), Some("x".to_string()))]);
    sim.commit_files("acme", "repo-00000", &files, "docs").expect("repo");
    // repository created (control API), renamed, archived, unarchived, transferred, deleted.
    let created = json!({"owner": "acme", "name": "fresh"});
    assert_eq!(call(sim.base_url(), "POST", "/_sim/repos", &[], Some(created)).await.status, 201);
    let rename = RepoEdit { name: Some("renamed".into()), ..RepoEdit::default() };
    assert!(sim.edit_repo("acme", "repo-00001", rename));
    assert!(sim.edit_repo("acme", "renamed", RepoEdit { archived: Some(true), ..RepoEdit::default() }));
    assert!(sim.edit_repo("acme", "renamed", RepoEdit { archived: Some(false), ..RepoEdit::default() }));
    assert!(sim.transfer_repo("acme", "repo-00002", "umbrella"));
    assert!(sim.delete_repo("acme", "fresh"));
    all_attempted(&sim, 10).await;

    let kinds: std::collections::BTreeSet<String> =
        sim.deliveries().iter().map(|d| format!("{}.{}", d.event, d.action.as_deref().unwrap_or(""))).collect();
    for kind in [
        "workflow_run.requested",
        "workflow_run.in_progress",
        "workflow_run.completed",
        "push.",
        "repository.created",
        "repository.renamed",
        "repository.archived",
        "repository.unarchived",
        "repository.transferred",
        "repository.deleted",
    ] {
        assert!(kinds.contains(kind), "no {kind} delivery among {kinds:?}");
    }
    assert!(sim.deliveries().iter().all(|d| d.succeeded()), "{:?}", sim.deliveries());
    let violations = sim.webhook_violations();
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    sim.assert_conformant();
}

#[tokio::test]
async fn the_checker_catches_a_payload_missing_a_required_field() {
    let (url, _receiver) = accepting_receiver().await;
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    sim.set_webhook(WebhookTarget { url, secret: "s3cret".into() });
    sim.advance_clock(1);
    let files = std::collections::BTreeMap::from([("README.md".to_string(), Some("x".to_string()))]);
    sim.commit_files("acme", "repo-00000", &files, "docs").expect("repo");
    all_attempted(&sim, 1).await;
    let description = WebhookDescription::load().expect("GitHub's webhooks description");
    let mut deliveries = sim.deliveries();
    assert!(description.validate_deliveries(&deliveries).is_empty());
    let payload = deliveries[0].payload.as_object_mut().expect("an object");
    payload.remove("compare");
    let violations = description.validate_deliveries(&deliveries);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("missing required field `compare`"), "{violations:?}");
    // Headers GitHub documents as required are checked too.
    deliveries[0].request_headers.retain(|(name, _)| name != "X-GitHub-Hook-ID");
    let violations = description.validate_deliveries(&deliveries);
    assert!(violations.iter().any(|v| v.contains("missing required header `X-Github-Hook-Id`")), "{violations:?}");
}
