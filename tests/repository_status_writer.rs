//! A Repository's status has one writer: discovery hands its part to the Repository controller, which writes it
//! with its own under one field manager. Checked on the real API server with the simulator's 30-repository
//! organization, starting from an object an earlier version described (discovery's part under a field manager of
//! its own, with a field today's discovery does not set).

mod support;

use std::time::Duration;

use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::controller::FIELD_MANAGER;
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace, token_organization};

const TOKEN: &str = "test-token";
/// The field manager an earlier version's discovery applied the status under.
const EARLIER_DISCOVERY_MANAGER: &str = "infinity-orchestrator-discovery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_manager_writes_every_repository_status_and_an_earlier_version_s_fields_are_taken_over() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "status-writer").await;
    let fixture = Fixture::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml")).unwrap();
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("the simulator starts");
    sim.advance_clock(1);
    // `docs-site` has no build command; an earlier version's discovery said it had one, under its own manager.
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let object = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
        "metadata": { "name": "docs-site" },
        "spec": { "organizationRef": { "name": "acme" }, "name": "docs-site" },
    });
    repositories.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    let earlier = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
        "status": { "fullName": "acme/docs-site", "buildCommand": "make stale", "topics": ["stale"] },
    });
    let params = PatchParams::apply(EARLIER_DISCOVERY_MANAGER).force();
    repositories.patch_status("docs-site", &params, &Patch::Apply(&earlier)).await.unwrap();

    let _operator = OperatorProcess::start(&cluster, &ns, &[]);
    token_organization(client, &ns, TOKEN, sim.base_url(), "REST").await;
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    eventually("a completed discovery pass", Duration::from_secs(90), || async {
        let org = organizations.get("acme").await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(())
    })
    .await;

    // A completed pass means every object describes what discovery found.
    let listed = repositories.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(listed.len(), 30);
    for repo in &listed {
        let discovered = find_condition(repo.conditions(), "Discovered");
        assert!(discovered.is_some_and(|c| c.status == ConditionStatus::True), "{}: {discovered:?}", repo.name_any());
    }
    let docs = listed.iter().find(|r| r.name_any() == "docs-site").unwrap();
    let status = docs.status.clone().unwrap_or_default();
    assert_eq!(status.build_command, None, "the field the earlier version set is gone");
    assert!(status.topics.iter().all(|t| t != "stale"), "{:?}", status.topics);

    // Once each Repository controller write landed: the status of every object is under one manager.
    eventually("every status under the operator's one field manager", Duration::from_secs(60), || async {
        let listed = repositories.list(&ListParams::default()).await.ok()?.items;
        let status_managers = |repo: &Repository| -> Vec<String> {
            let managers = repo.managed_fields().iter();
            let owning_status =
                managers.filter(|m| m.fields_v1.as_ref().is_some_and(|f| f.0.get("f:status").is_some()));
            owning_status.filter_map(|m| m.manager.clone()).collect()
        };
        let others: Vec<(String, Vec<String>)> = listed
            .iter()
            .map(|repo| (repo.name_any(), status_managers(repo)))
            .filter(|(_, managers)| managers != &[FIELD_MANAGER.to_owned()])
            .collect();
        others.is_empty().then_some(())
    })
    .await;
    sim.assert_conformant();
}
