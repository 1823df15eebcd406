//! The Organization controller keeps the repository manifest in a ConfigMap it owns, against the real API server.

mod support;

use std::time::Duration;

use infinity_orchestrator::crd::{Organization, Repository};
use infinity_orchestrator::manifest;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{cluster, eventually, namespace, RunningOperator};

/// Creates a Repository object with `status` as discovery would have described it. It is suspended, so that the
/// Repository controller running beside (which writes each status whole, from the copy it read) leaves the status
/// to this test: the manifest is made from whatever the status says, suspended or not.
async fn add_repository(api: &Api<Repository>, org: &str, name: &str, status: serde_json::Value) {
    let object = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
        "metadata": { "name": name },
        "spec": { "organizationRef": { "name": org }, "name": name, "suspend": true },
    });
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({ "status": status }))).await.unwrap();
}

/// Waits until the ConfigMap holds a manifest listing exactly these repositories, and returns the manifest.
async fn until_manifest_lists(config_maps: &Api<ConfigMap>, names: &[&str]) -> serde_json::Value {
    until_manifest(config_maps, &format!("a manifest listing {names:?}"), |manifest| {
        let listed: Vec<&str> =
            manifest["repositories"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
        listed == names
    })
    .await
}

/// Waits until the ConfigMap holds a manifest that `wanted` accepts. Repository objects are created before their
/// status is written, so a manifest may briefly list a repository without what its status will say.
async fn until_manifest(
    config_maps: &Api<ConfigMap>,
    what: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually(what, Duration::from_secs(30), || async {
        let config_map = config_maps.get_opt("acme-repositories").await.ok()??;
        let text = manifest::Stored::of(&config_map)?.json().ok()?;
        let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
        wanted(&manifest).then_some(manifest)
    })
    .await
}

#[tokio::test]
async fn the_manifest_config_map_follows_the_repositories_and_is_put_right() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "manifest-cm").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    add_repository(&repositories, "acme", "core", json!({ "language": "rust", "buildCommand": "cargo build" })).await;
    add_repository(&repositories, "someone-else", "stranger", json!({ "language": "go" })).await;

    let manifest = until_manifest(&config_maps, "core listed with its build command", |manifest| {
        manifest["repositories"][0]["build_command"] == "cargo build"
    })
    .await;
    assert_eq!(manifest["repositories"].as_array().unwrap().len(), 1, "only acme's repository is listed");
    let config_map = config_maps.get("acme-repositories").await.unwrap();
    let owner = &config_map.metadata.owner_references.expect("owned")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Organization", "acme", Some(true)));
    // The status is written after the ConfigMap, in the same reconcile.
    eventually("the Organization naming its manifest ConfigMap", Duration::from_secs(30), || async {
        let status = organizations.get("acme").await.ok()?.status?;
        (status.manifest_config_map.as_deref() == Some("acme-repositories")).then_some(())
    })
    .await;

    // A new Repository object shows up without waiting for any interval.
    add_repository(
        &repositories,
        "acme",
        "web",
        json!({ "language": "javascript",
        "dependencies": [{ "repository": "core" }] }),
    )
    .await;
    let manifest = until_manifest(&config_maps, "web listed with its dependency on core", |manifest| {
        manifest["repositories"][1]["dependencies"] == json!(["core"])
    })
    .await;
    assert_eq!(manifest["repositories"][1]["name"], "web");

    // Someone edits the ConfigMap by hand, then deletes it: both are put right.
    let edit = json!({ "data": { "repositories.json": "{}" } });
    config_maps.patch("acme-repositories", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    until_manifest_lists(&config_maps, &["core", "web"]).await;
    config_maps.delete("acme-repositories", &DeleteParams::default()).await.unwrap();
    until_manifest_lists(&config_maps, &["core", "web"]).await;
    // A key of the other form goes: the ConfigMap holds exactly one.
    let edit = json!({ "binaryData": { manifest::CONFIG_MAP_GZIP_KEY: "H4sIAAAAAAAA/6uuBQBDv6ajAgAAAA==" } });
    config_maps.patch("acme-repositories", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    eventually("the gzipped key removed", Duration::from_secs(30), || async {
        let config_map = config_maps.get("acme-repositories").await.ok()?;
        let binary_data = config_map.binary_data.unwrap_or_default();
        (!binary_data.contains_key(manifest::CONFIG_MAP_GZIP_KEY)).then_some(())
    })
    .await;
    until_manifest_lists(&config_maps, &["core", "web"]).await;

    // Status writes are skipped when nothing changed: the Organization's resourceVersion settles.
    let settled = organizations.get("acme").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(organizations.get("acme").await.unwrap().metadata.resource_version, settled);
    operator.shutdown().await;
}
