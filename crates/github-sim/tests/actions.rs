//! GitHub Actions as strict as GitHub: workflows read from the repository's files at a ref, dispatch validated like
//! GitHub (workflow, ref, inputs), runs listed only after a listing delay, and both REST API versions' answers.

mod support;

use std::collections::BTreeMap;

use github_sim::{FaultConfig, Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, HttpReply, AUTH};

const NEW_VERSION: (&str, &str) = ("X-GitHub-Api-Version", "2026-03-10");
const OLD_VERSION: (&str, &str) = ("X-GitHub-Api-Version", "2022-11-28");
const REPO: &str = "/repos/acme/svc";

/// `svc` with a workflow file declaring a required input and a defaulted one, an outcome-only entry for a file
/// that arrives later, and a branch `feature` whose copy of the workflow renders a different run-name.
const FIXTURE: &str = r##"
tokens: [test-token]
orgs:
  - login: acme
    repos:
      - name: svc
        files:
          README.md: "# svc\n"
          .github/workflows/deploy.yml: |
            name: Deploy
            run-name: deploy ${{ inputs.target }} at ${{ inputs.level }}
            on:
              workflow_dispatch:
                inputs:
                  target: {required: true, type: string}
                  level: {default: "3", type: string}
          .github/workflows/lint.yml: "on: push\n"
          .github/workflows/nested/ignored.yml: "on: workflow_dispatch\n"
        workflows:
          - {path: .github/workflows/later.yml, outcome: {result: failure, duration_secs: 30}}
        pull_requests:
          - title: feature
            head: feature
            files:
              .github/workflows/deploy.yml: |
                name: Deploy
                run-name: feature deploy ${{ inputs.target }}
                on: {workflow_dispatch: {inputs: {target: {required: true}}}}
"##;

async fn start(fixture: &str) -> github_sim::SimHandle {
    Simulator::start(Fixture::from_yaml(fixture).expect("a fixture"), SimOptions::default()).await.expect("start")
}

async fn dispatch(sim: &github_sim::SimHandle, workflow: &str, body: Value, headers: &[(&str, &str)]) -> HttpReply {
    let mut all = vec![AUTH];
    all.extend_from_slice(headers);
    call(sim.base_url(), "POST", &format!("{REPO}/actions/workflows/{workflow}/dispatches"), &all, Some(body)).await
}

async fn get(sim: &github_sim::SimHandle, path: &str) -> HttpReply {
    call(sim.base_url(), "GET", path, &[AUTH], None).await
}

fn names(list: &Value) -> Vec<String> {
    let mut paths: Vec<String> = list["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .map(|w| w["path"].as_str().unwrap_or("").into())
        .collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn workflows_are_the_default_branch_files_with_ids_stable_per_path() {
    let sim = start(FIXTURE).await;
    let listed = get(&sim, &format!("{REPO}/actions/workflows")).await.json();
    assert_eq!(names(&listed), [".github/workflows/deploy.yml", ".github/workflows/lint.yml"], "no subdirectory");
    let deploy = get(&sim, &format!("{REPO}/actions/workflows/deploy.yml")).await.json();
    assert_eq!(deploy["name"], "Deploy", "the file's name");
    let lint = get(&sim, &format!("{REPO}/actions/workflows/lint.yml")).await.json();
    assert_eq!(lint["name"], ".github/workflows/lint.yml", "no name: GitHub shows the path");

    // A file committed later is a workflow (with the fixture's outcome); a deleted one leaves the list.
    let later = "name: later\non: workflow_dispatch\n".to_string();
    let changes = BTreeMap::from([
        (".github/workflows/later.yml".to_string(), Some(later)),
        (".github/workflows/lint.yml".to_string(), None),
    ]);
    sim.commit_files("acme", "svc", &changes, "workflows").expect("committed");
    let listed = get(&sim, &format!("{REPO}/actions/workflows")).await.json();
    assert_eq!(names(&listed), [".github/workflows/deploy.yml", ".github/workflows/later.yml"]);
    let again = get(&sim, &format!("{REPO}/actions/workflows/deploy.yml")).await.json();
    assert_eq!(again["id"], deploy["id"], "ids are stable per path");
    assert_eq!(dispatch(&sim, "lint.yml", json!({"ref": "main"}), &[]).await.status, 404, "gone from main");
    let run = dispatch(&sim, "later.yml", json!({"ref": "main"}), &[NEW_VERSION]).await.json();
    sim.advance_clock(120);
    let run = get(&sim, &format!("{REPO}/actions/runs/{}", run["workflow_run_id"])).await.json();
    assert_eq!(run["conclusion"], "failure", "the outcome-only entry's outcome");
}

#[tokio::test]
async fn a_fixture_entry_that_describes_its_workflow_writes_its_file() {
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let files = sim.files_at("acme", "repo-00000", "main").expect("files");
    let file = files.get(".github/workflows/build.yml").expect("a generated workflow file");
    assert!(file.contains("workflow_dispatch") && file.contains("correlation_id"), "{file}");
    let changes = BTreeMap::from([(".github/workflows/build.yml".to_string(), None)]);
    sim.commit_files("acme", "repo-00000", &changes, "remove the build").expect("committed");
    let path = "/repos/acme/repo-00000/actions/workflows/build.yml/dispatches";
    let body = json!({"ref": "main", "inputs": {"correlation_id": "c"}});
    assert_eq!(call(sim.base_url(), "POST", path, &[AUTH], Some(body)).await.status, 404, "the file is the truth");
}

#[tokio::test]
async fn dispatch_validates_ref_inputs_and_trigger_like_github() {
    let sim = start(FIXTURE).await;
    let missing_ref = dispatch(&sim, "deploy.yml", json!({"ref": "nope", "inputs": {"target": "x"}}), &[]).await;
    assert_eq!((missing_ref.status, missing_ref.json()["message"].as_str()), (422, Some("No ref found for: nope")));
    let required = dispatch(&sim, "deploy.yml", json!({"ref": "main"}), &[]).await;
    assert_eq!(required.status, 422);
    assert_eq!(required.json()["message"], "Required input 'target' not provided");
    let unexpected =
        dispatch(&sim, "deploy.yml", json!({"ref": "main", "inputs": {"target": "x", "b": 1, "a": 2}}), &[]);
    assert_eq!(unexpected.await.json()["message"], "Unexpected inputs provided: [\"a\", \"b\"]");
    let no_trigger = dispatch(&sim, "lint.yml", json!({"ref": "main"}), &[]).await;
    assert_eq!(no_trigger.json()["message"], "Workflow does not have 'workflow_dispatch' trigger");
    assert_eq!(dispatch(&sim, "none.yml", json!({"ref": "main"}), &[]).await.status, 404);
    assert!(sim.runs("acme", "svc").is_empty(), "no refused dispatch started a run");

    // Defaults fill what was not given; the run-name is rendered from the ref's own file, at the ref's head.
    let main = dispatch(&sim, "deploy.yml", json!({"ref": "main", "inputs": {"target": "prod"}}), &[NEW_VERSION]).await;
    let main = get(&sim, &format!("{REPO}/actions/runs/{}", main.json()["workflow_run_id"])).await.json();
    assert_eq!(main["display_title"], "deploy prod at 3");
    let feature = json!({"ref": "feature", "inputs": {"target": "qa"}});
    let feature = dispatch(&sim, "deploy.yml", feature, &[NEW_VERSION]).await.json();
    let feature = get(&sim, &format!("{REPO}/actions/runs/{}", feature["workflow_run_id"])).await.json();
    assert_eq!(feature["display_title"], "feature deploy qa");
    let feature_head = get(&sim, &format!("{REPO}/branches/feature")).await.json()["commit"]["sha"].clone();
    assert_eq!(feature["head_sha"], feature_head);
    assert_ne!(feature["head_sha"], main["head_sha"]);
    sim.assert_conformant();
}

#[tokio::test]
async fn a_dispatched_run_is_listed_only_after_the_listing_delay() {
    let sim = start(FIXTURE).await;
    let body = json!({"ref": "main", "inputs": {"target": "x"}});
    let id = dispatch(&sim, "deploy.yml", body.clone(), &[NEW_VERSION]).await.json()["workflow_run_id"].clone();
    let listed = |path: String| {
        let sim = &sim;
        async move { get(sim, &path).await.json()["total_count"].as_u64().unwrap_or(99) }
    };
    assert_eq!(listed(format!("{REPO}/actions/runs")).await, 0, "not listed at once");
    assert_eq!(listed(format!("{REPO}/actions/workflows/deploy.yml/runs")).await, 0);
    assert_eq!(get(&sim, &format!("{REPO}/actions/runs/{id}")).await.status, 200, "served by id at once");
    sim.advance_clock(10);
    assert_eq!(listed(format!("{REPO}/actions/runs")).await, 1, "listed within GitHub-like 1–10 s");

    // Configurable: `[0, 0]` lists at once, from the fixture or from the faults.
    sim.set_faults(FaultConfig { run_listing_delay_secs: Some([0, 0]), ..FaultConfig::default() });
    dispatch(&sim, "deploy.yml", body.clone(), &[]).await;
    assert_eq!(listed(format!("{REPO}/actions/runs")).await, 2);
    sim.set_faults(FaultConfig { run_listing_delay_secs: Some([30, 30]), ..FaultConfig::default() });
    dispatch(&sim, "deploy.yml", body.clone(), &[]).await;
    sim.advance_clock(29);
    assert_eq!(listed(format!("{REPO}/actions/runs")).await, 2);
    sim.advance_clock(1);
    assert_eq!(listed(format!("{REPO}/actions/runs")).await, 3);
    let at_once = start(&format!("run_listing_delay_secs: [0, 0]\n{FIXTURE}")).await;
    call(at_once.base_url(), "POST", &format!("{REPO}/actions/workflows/deploy.yml/dispatches"), &[AUTH], Some(body))
        .await;
    assert_eq!(get(&at_once, &format!("{REPO}/actions/runs")).await.json()["total_count"], 1);
}

#[tokio::test]
async fn each_api_version_answers_as_github_documents() {
    let sim = start(FIXTURE).await;
    let body = json!({"ref": "main", "inputs": {"target": "x"}});
    let with_details = json!({"ref": "main", "inputs": {"target": "x"}, "return_run_details": true});
    let without = json!({"ref": "main", "inputs": {"target": "x"}, "return_run_details": false});
    // 2026-03-10: always 200 with the run; `return_run_details` is gone and ignored.
    for body in [&body, &with_details, &without] {
        let reply = dispatch(&sim, "deploy.yml", body.clone(), &[NEW_VERSION]).await;
        assert_eq!(reply.status, 200, "{body}");
        let run = reply.json();
        let id = run["workflow_run_id"].as_u64().expect("a run id");
        assert!(run["run_url"].as_str().is_some_and(|u| u.ends_with(&format!("{REPO}/actions/runs/{id}"))));
        assert!(run["html_url"].as_str().is_some_and(|u| u.ends_with(&format!("/acme/svc/actions/runs/{id}"))));
    }
    // 2022-11-28, by header or by default: 204, or 200 with the run when asked.
    assert_eq!(dispatch(&sim, "deploy.yml", body.clone(), &[OLD_VERSION]).await.status, 204);
    assert_eq!(dispatch(&sim, "deploy.yml", body.clone(), &[]).await.status, 204);
    assert_eq!(dispatch(&sim, "deploy.yml", without.clone(), &[]).await.status, 204);
    assert!(dispatch(&sim, "deploy.yml", with_details.clone(), &[]).await.json()["workflow_run_id"].is_u64());
    // An unknown version is GitHub's 400, naming the supported ones.
    let unknown = dispatch(&sim, "deploy.yml", body.clone(), &[("X-GitHub-Api-Version", "v3")]).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["message"].as_str().is_some_and(|m| m.contains("\"2026-03-10\" (most recent)")));
    // `/rate_limit` loses the deprecated top-level `rate` on 2026-03-10.
    let new = call(sim.base_url(), "GET", "/rate_limit", &[AUTH, NEW_VERSION], None).await.json();
    let old = call(sim.base_url(), "GET", "/rate_limit", &[AUTH], None).await.json();
    assert!(new.get("rate").is_none() && new["resources"]["core"]["limit"].is_i64());
    assert_eq!(old["rate"], old["resources"]["core"]);
    let versions: Vec<Option<String>> = sim.requests().iter().map(|r| r.api_version.clone()).collect();
    assert!(versions.contains(&Some("2026-03-10".into())) && versions.contains(&None), "the log says which");
    sim.assert_conformant();

    // An older GHES (no 2026-03-10) refuses the field and the version; it answers 204.
    sim.set_faults(FaultConfig { api_versions: Some(vec!["2022-11-28".into()]), ..FaultConfig::default() });
    let refused = dispatch(&sim, "deploy.yml", with_details, &[]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.json()["message"].as_str().is_some_and(|m| m.contains("return_run_details")));
    assert_eq!(dispatch(&sim, "deploy.yml", body.clone(), &[NEW_VERSION]).await.status, 400);
    assert_eq!(dispatch(&sim, "deploy.yml", body, &[OLD_VERSION]).await.status, 204);
}
