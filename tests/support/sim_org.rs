//! An Organization pointed at a running github-sim, and reading what the operator wrote to it.

use std::time::Duration;

use github_sim::{LoggedRequest, SimHandle};
use infinity_orchestrator::crd::{HealingPolicy, Organization, Repository};
use infinity_orchestrator::github::{Credentials, GitHub, GitHubConfig, OctocrabGitHub, RepoRef};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::json;

use super::eventually;

/// Creates the token Secret `gh` and the Organization `acme` (login `acme`) pointed at the simulator.
pub async fn organization_on(client: &Client, namespace: &str, sim: &SimHandle) -> Api<Organization> {
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &serde_json::from_value(secret).expect("a Secret"))
        .await
        .expect("creating the Secret");
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(),
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), namespace);
    organizations
        .create(&PostParams::default(), &serde_json::from_value(org).expect("an Organization"))
        .await
        .expect("creating the Organization");
    organizations
}

/// Creates a HealingPolicy `name` for `acme` with `spec` merged over the organization reference.
pub async fn healing_policy(
    client: &Client,
    namespace: &str,
    name: &str,
    spec: serde_json::Value,
) -> Api<HealingPolicy> {
    let mut full = json!({ "organizationRef": { "name": "acme" } });
    if let (Some(target), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    let policy = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "HealingPolicy",
        "metadata": { "name": name }, "spec": full });
    let api: Api<HealingPolicy> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &serde_json::from_value(policy).expect("a HealingPolicy"))
        .await
        .expect("creating the HealingPolicy");
    api
}

/// Waits until discovery created the Repository `name` and described it (full name and default branch known).
pub async fn described_repository(client: &Client, namespace: &str, name: &str) -> Repository {
    let api: Api<Repository> = Api::namespaced(client.clone(), namespace);
    eventually(&format!("Repository {name} described by discovery"), Duration::from_secs(60), || async {
        let repo = api.get(name).await.ok()?;
        let status = repo.status.as_ref()?;
        (status.full_name.is_some() && status.default_branch.is_some()).then_some(repo)
    })
    .await
}

/// A GitHub client of the operator's own kind on the simulator, for a test that plays a user (dispatching runs).
pub fn user_client(sim: &SimHandle) -> OctocrabGitHub {
    OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token("test-token".into())))
        .expect("a GitHub client")
}

/// Dispatches `workflow` on `main` of `acme/repo` as a user would (no inputs), and lets the simulated run finish.
pub async fn run_workflow_once(sim: &SimHandle, user: &OctocrabGitHub, repo: &str, workflow: &str, secs: u64) {
    let inputs = std::collections::BTreeMap::new();
    user.dispatch_workflow(&RepoRef::new("acme", repo), workflow, "main", &inputs, None)
        .await
        .expect("dispatching a run");
    sim.advance_clock(secs);
}

/// Requests that changed something (anything but GET and GraphQL queries: a GraphQL mutation is a write), as
/// `METHOD path`.
pub fn writes(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .filter(|r| r.method != "GET" && !is_graphql_query(r))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn is_graphql_query(request: &LoggedRequest) -> bool {
    let text = request.request_body.as_ref().and_then(|body| body.get("query")).and_then(|query| query.as_str());
    request.is_graphql() && text.is_some_and(|text| !text.trim_start().starts_with("mutation"))
}

/// The requests of `method` on exactly `path`.
pub fn requests_to<'a>(log: &'a [LoggedRequest], method: &str, path: &str) -> Vec<&'a LoggedRequest> {
    log.iter().filter(|r| r.method == method && r.path == path).collect()
}
