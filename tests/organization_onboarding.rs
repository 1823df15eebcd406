//! Onboarding end to end: a repository without a dispatchable workflow gets exactly one pull request adding the
//! orchestrator's workflow, still one after the operator restarts; the operator binary against the real API
//! server and github-sim.

mod support;

use std::time::Duration;

use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::crd::{HealingPolicy, Organization, Repository};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace};

const FIXTURE: &str = r#"
tokens: [test-token]
orgs:
  - login: acme
    repos:
      - name: plain
        language: Go
        files:
          go.mod: "module github.com/acme/plain\n"
      - name: onboarded
        language: Go
        files:
          go.mod: "module github.com/acme/onboarded\n"
          .github/workflows/infinity-orchestrator.yml: |
            name: build
            run-name: "infinity-orchestrator ${{ inputs.correlation_id }}"
            on:
              workflow_dispatch:
                inputs:
                  correlation_id: { required: false }
            jobs:
              build: { runs-on: ubuntu-latest, steps: [{ run: go build ./... }] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_without_a_dispatchable_workflow_gets_one_onboarding_pull_request() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "onboarding").await;
    let sim = Simulator::start(Fixture::from_yaml(FIXTURE).unwrap(), SimOptions::default()).await.unwrap();
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &serde_json::from_value(secret).unwrap())
        .await
        .unwrap();
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(),
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } },
            "onboarding": { "enabled": true } },
    });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    // A policy that repairs the orchestrator's workflow must not open a second pull request for the same file.
    let policy = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "HealingPolicy", "metadata": { "name": "repair" },
        "spec": { "organizationRef": { "name": "acme" }, "mode": "Enforce", "actions": { "configRepair": { "enabled": true } } },
    });
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    policies.create(&PostParams::default(), &serde_json::from_value(policy).unwrap()).await.unwrap();

    let mut operator = OperatorProcess::start(&cluster, &ns, &[]);
    let recorded = eventually("the onboarding pull request recorded", Duration::from_secs(60), || async {
        repositories.get("plain").await.ok()?.status?.onboarding_pull_request
    })
    .await;
    eventually("the healing policy evaluated the onboarded org", Duration::from_secs(60), || async {
        let status = policies.get("repair").await.ok()?.status?;
        (status.matched_repositories == Some(2) && status.last_evaluated.is_some()).then_some(())
    })
    .await;
    let onboarded = repositories.get("onboarded").await.unwrap().status.unwrap();
    assert_eq!(onboarded.build_workflow.as_deref(), Some("infinity-orchestrator.yml"));
    assert!(onboarded.onboarding_pull_request.is_none(), "a repository with a workflow is left alone");

    // The pull request comes from the onboarding branch and adds the workflow and the templates it calls.
    let opened: Vec<_> =
        sim.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/pulls")).collect();
    let heads: Vec<String> =
        opened.iter().filter_map(|r| r.request_body.as_ref()?["head"].as_str().map(String::from)).collect();
    assert_eq!(opened.len(), 1, "one pull request, opened from: {heads:?}");
    assert_eq!(opened[0].path, "/repos/acme/plain/pulls");
    let body = opened[0].request_body.clone().unwrap();
    assert_eq!(
        (body["head"].as_str(), body["base"].as_str()),
        (Some("infinity-orchestrator/onboarding"), Some("main"))
    );
    let trees: Vec<serde_json::Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/repos/acme/plain/git/trees")
        .filter_map(|r| r.request_body)
        .collect();
    let paths: Vec<&str> =
        trees.iter().flat_map(|t| t["tree"].as_array().unwrap()).filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            ".github/workflows/infinity-orchestrator.yml",
            ".github/workflows/build-template.yml",
            ".github/workflows/test-template.yml",
            ".github/workflows/deploy-template.yml",
            ".github/workflows/notify-template.yml",
            ".github/workflows/lockfile-update.yml",
        ]
    );

    // A restart forgets everything in memory; the record in status keeps it at one.
    operator.kill();
    sim.clear_requests();
    let _operator = OperatorProcess::start(&cluster, &ns, &[]);
    let request =
        json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": "after-restart" } } });
    organizations.patch("acme", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&request)).await.unwrap();
    eventually("a pass after the restart", Duration::from_secs(60), || async {
        let status = organizations.get("acme").await.ok()?.status?;
        (status.last_handled_request.as_deref() == Some("after-restart")).then_some(())
    })
    .await;
    // A GraphQL query is sent as a POST, but reads.
    let writes: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path != "/graphql")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "nothing written to GitHub after the restart: {writes:?}");
    assert_eq!(repositories.get("plain").await.unwrap().status.unwrap().onboarding_pull_request, Some(recorded));
}
