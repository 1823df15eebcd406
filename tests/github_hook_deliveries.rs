//! The GitHub port's App hook delivery operations against the simulator: pages followed by cursor, a redelivery
//! under the same guid, App JWT authentication, and a token credential refused before any request.

mod support;

use std::time::Duration;

use github_sim::webhook::{WebhookTarget, PENDING_STATUS};
use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::github::{Credentials, GitHub, GitHubConfig, OctocrabGitHub};
use serde_json::json;
use support::eventually;

const APP_KEY: &str = include_str!("support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("support/github_test_app_key.pub.pem");

#[tokio::test]
async fn deliveries_are_paged_by_cursor_and_redelivered_as_the_app() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": [{ "name": "core" }] }],
        "tokens": ["test-token"],
        "apps": [{ "id": 7, "public_key_pem": APP_PUBLIC_KEY, "installations": [70] }],
        "start_epoch_secs": now,
    }))
    .expect("a fixture");
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    sim.set_webhook(WebhookTarget { url: format!("http://{closed}/webhook"), secret: "s3cret-webhook".into() });
    for round in 0..3 {
        let files = std::collections::BTreeMap::from([("README.md".to_owned(), Some(format!("v{round}")))]);
        sim.commit_files("acme", "core", &files, "docs").expect("a commit");
    }
    eventually("three failed deliveries", Duration::from_secs(20), || async {
        let deliveries = sim.deliveries();
        (deliveries.len() == 3 && deliveries.iter().all(|d| d.status != PENDING_STATUS)).then_some(())
    })
    .await;

    let app = Credentials::App { app_id: 7, installation_id: 70, private_key_pem: APP_KEY.into() };
    let github = OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), app)).expect("a client");
    let first = github.app_hook_deliveries(None, 2).await.expect("the first page");
    let recorded = sim.deliveries();
    let ids: Vec<u64> = first.deliveries.iter().map(|d| d.id).collect();
    assert_eq!(ids, vec![recorded[2].id, recorded[1].id], "newest first");
    assert!(first.deliveries.iter().all(|d| d.status_code == 502 && d.event == "push" && !d.redelivery));
    let cursor = first.next_cursor.expect("a next page");
    let second = github.app_hook_deliveries(Some(&cursor), 2).await.expect("the second page");
    assert_eq!(second.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(), vec![recorded[0].id]);
    assert_eq!(second.next_cursor, None, "the last page");

    github.redeliver_app_hook_delivery(recorded[0].id).await.expect("a redelivery");
    let redelivered = eventually("the redelivery attempted", Duration::from_secs(20), || async {
        sim.deliveries().into_iter().find(|d| d.redelivery && d.status != PENDING_STATUS)
    })
    .await;
    assert_eq!(redelivered.guid, recorded[0].guid, "the same event");
    let log = sim.requests();
    let app_calls: Vec<_> = log.iter().filter(|r| r.path.starts_with("/app/hook/")).collect();
    assert_eq!(app_calls.len(), 3);
    assert!(app_calls.iter().all(|r| r.credential.as_deref() == Some("app:7")), "authenticated by the App's JWT");

    let token = OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token("test-token".into())))
        .expect("a client");
    let refused = token.app_hook_deliveries(None, 100).await.expect_err("a token is not an App");
    assert_eq!(refused.category(), "auth");
    assert_eq!(sim.requests().len(), log.len(), "refused before any request");
    sim.assert_conformant();
}
