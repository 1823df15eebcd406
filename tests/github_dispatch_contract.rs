//! The real `OctocrabGitHub` dispatching against the strict simulator (runs listed only seconds after their
//! dispatch), under each REST API version: the answer names the run on 2026-03-10 and, with `return_run_details`,
//! on 2022-11-28, so no run is listed to find it; an older server that refuses the field is asked again without
//! it, once per client, and its 204 leaves the run to the correlation id.

// The bed is shared with `github_contract.rs`, which uses the parts this file does not.
#[allow(dead_code)]
#[path = "github_contract/bed.rs"]
mod bed;

use std::collections::BTreeMap;

use bed::bed;
use github_sim::{FaultConfig, LoggedRequest};
use infinity_orchestrator::clock::Clock;
use infinity_orchestrator::github::{Credentials, GitHub, RepoRef, API_VERSION, API_VERSION_2022_11_28};

fn repo() -> RepoRef {
    RepoRef::new("acme", "repo-00000")
}

fn dispatches(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter().filter(|r| r.method == "POST" && r.path.ends_with("/dispatches")).collect()
}

fn run_listings(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|r| r.method == "GET" && r.path.ends_with("/runs")).count()
}

#[tokio::test]
async fn on_2026_03_10_the_dispatch_answer_names_the_run_and_nothing_is_listed() {
    let bed = bed(1).await;
    let github = bed.client();
    let inputs = BTreeMap::new();
    let run = github.dispatch_workflow(&repo(), "build.yml", "main", &inputs, Some("io-1")).await.expect("dispatch");
    let run = run.expect("the answer names the run");
    let runs = bed.sim.runs("acme", "repo-00000");
    assert_eq!(runs.iter().filter(|r| r["event"] == "workflow_dispatch").count(), 1);
    assert_eq!(run.id, runs[0]["id"].as_u64().expect("an id"));
    assert!(run.url.as_deref().is_some_and(|u| u.ends_with(&format!("/acme/repo-00000/actions/runs/{}", run.id))));
    let log = bed.log();
    assert_eq!(run_listings(&log), 0, "no run-listing request");
    let sent = dispatches(&log);
    assert_eq!((sent.len(), sent[0].status, sent[0].api_version.as_deref()), (1, 200, Some(API_VERSION)));
    assert!(sent[0].request_body.as_ref().is_some_and(|b| b.get("return_run_details").is_none()), "gone in 2026-03-10");
    assert!(log.iter().all(|r| r.api_version.as_deref() == Some(API_VERSION)), "every request names the version");
    // No correlation id: only the declared inputs are sent, and the run is still named.
    let plain = github.dispatch_workflow(&repo(), "build.yml", "main", &inputs, None).await.expect("dispatch");
    assert!(plain.is_some());
    let body = dispatches(&bed.log())[1].request_body.clone().expect("a body");
    assert_eq!(body["inputs"], serde_json::json!({}));
    bed.assert_conformant();
}

#[tokio::test]
async fn on_2022_11_28_return_run_details_names_the_run() {
    let bed = bed(1).await;
    let github = bed.client_with(Credentials::Token("test-token".into()), |config| {
        config.api_version = API_VERSION_2022_11_28.to_owned();
    });
    let run = github.dispatch_workflow(&repo(), "build.yml", "main", &BTreeMap::new(), Some("io-1")).await;
    assert!(run.expect("dispatch").is_some(), "200 with the run");
    let log = bed.log();
    let sent = dispatches(&log);
    assert_eq!((sent.len(), sent[0].status), (1, 200));
    assert_eq!(sent[0].request_body.as_ref().map(|b| b["return_run_details"].clone()), Some(serde_json::json!(true)));
    assert_eq!(run_listings(&log), 0);
    bed.assert_conformant();
}

#[tokio::test]
async fn an_older_server_refusing_the_field_is_asked_again_once_and_its_204_leaves_the_correlation_id() {
    let bed = bed(1).await;
    bed.sim
        .set_faults(FaultConfig { api_versions: Some(vec![API_VERSION_2022_11_28.into()]), ..FaultConfig::default() });
    let github = bed.client_with(Credentials::Token("test-token".into()), |config| {
        config.api_version = API_VERSION_2022_11_28.to_owned();
    });
    let since = bed.time.now();
    for id in ["io-1", "io-2"] {
        let run = github.dispatch_workflow(&repo(), "build.yml", "main", &BTreeMap::new(), Some(id)).await;
        assert_eq!(run.expect("dispatch"), None, "a 204 names no run");
    }
    let statuses: Vec<u16> = dispatches(&bed.log()).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![422, 204, 204], "refused once, then remembered per client");
    assert_eq!(bed.sim.runs("acme", "repo-00000").iter().filter(|r| r["event"] == "workflow_dispatch").count(), 2);
    // The run is found by its correlation id once GitHub lists it.
    assert_eq!(github.find_run_by_correlation(&repo(), "build.yml", "io-1", since).await.expect("lookup"), None);
    bed.sim.advance_clock(10);
    let found = github.find_run_by_correlation(&repo(), "build.yml", "io-1", since).await.expect("lookup");
    assert!(found.is_some_and(|run| run.display_title == "build io-1"));
    // The default client (2026-03-10) gets GitHub's 400 from such a server.
    let refused = bed.client().dispatch_workflow(&repo(), "build.yml", "main", &BTreeMap::new(), Some("io-3")).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_lost_answer_without_a_correlation_id_is_never_sent_again() {
    let bed = bed(1).await;
    let github = bed.client();
    let lost = FaultConfig { seed: 1, lost_response_rate: 1.0, ..FaultConfig::default() };
    bed.sim.set_faults(lost);
    let sent = github.dispatch_workflow(&repo(), "build.yml", "main", &BTreeMap::new(), None).await;
    assert!(sent.expect_err("the answer was lost").is_transient());
    assert_eq!(dispatches(&bed.log()).len(), 1, "sent once: a second could start a second run");
}
