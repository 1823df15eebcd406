//! Outage-safe pruning against the real API server and the simulator: a listing that comes back empty, or that lost
//! 40 % of the organization's repositories, deletes no Repository object and sets `PruneHeld`; the next listing that
//! still lacks them confirms the 40 %, and only a person confirms the empty listing.

mod support;

use std::time::Duration;

use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use support::sim_org::organization_on;
use support::{cluster, eventually, namespace, RunningOperator};

const REPOSITORIES: usize = 10;

/// Asks for a discovery pass as a webhook would, and waits until the Organization's status answers it.
async fn discover_now(organizations: &Api<Organization>, request: &str) -> Organization {
    let patch = json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": request } } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotating");
    eventually(&format!("the pass asked for by {request}"), Duration::from_secs(60), || async {
        let org = organizations.get("acme").await.ok()?;
        let status = org.status.as_ref()?;
        (status.last_handled_request.as_deref() == Some(request)).then_some(org)
    })
    .await
}

async fn object_names(repositories: &Api<Repository>) -> Vec<String> {
    let mut names: Vec<String> = repositories
        .list(&ListParams::default())
        .await
        .expect("listing")
        .items
        .iter()
        .map(|r| r.spec.name.0.clone())
        .collect();
    names.sort();
    names
}

fn prune_held(org: &Organization) -> Option<(ConditionStatus, String)> {
    find_condition(org.conditions(), "PruneHeld").map(|c| (c.status, c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shrunk_or_empty_listing_deletes_nothing_until_confirmed() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "prune-hold").await;
    let sim = Simulator::start(Fixture::generated_org("acme", REPOSITORIES), SimOptions::default())
        .await
        .expect("the simulator starts");
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations = organization_on(&cluster.client, &ns, &sim).await;
    let repositories: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let all: Vec<String> = (0..REPOSITORIES).map(|i| format!("repo-{i:05}")).collect();
    eventually("every repository discovered", Duration::from_secs(60), || async {
        (object_names(&repositories).await == all).then_some(())
    })
    .await;

    // 4 of 10 repositories vanish from the listing: 40 %, past the default 25 %. Nothing is deleted.
    for name in &all[6..] {
        assert!(sim.delete_repo("acme", name), "{name} existed");
    }
    let org = discover_now(&organizations, "shrunk-1").await;
    assert_eq!(prune_held(&org), Some((ConditionStatus::True, "ListingShrank".into())), "{:?}", org.status);
    let hold = org.status.as_ref().and_then(|s| s.prune_hold.clone()).expect("the hold in status");
    assert_eq!((hold.repositories, hold.known, hold.listed), (all[6..].to_vec(), 10, 6));
    assert_eq!(object_names(&repositories).await, all, "a suspicious listing deleted objects");
    let message = find_condition(org.conditions(), "PruneHeld").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("lacked 4 of 10 repositories (40 %"), "{message}");

    // The next listing still lacks them: it confirms, and they are deleted.
    let org = discover_now(&organizations, "shrunk-2").await;
    assert_eq!(prune_held(&org), Some((ConditionStatus::False, "Confirmed".into())), "{:?}", org.status);
    assert!(org.status.as_ref().is_some_and(|s| s.prune_hold.is_none()));
    eventually("the confirmed removals carried out", Duration::from_secs(30), || async {
        (object_names(&repositories).await == all[..6]).then_some(())
    })
    .await;

    // The listing comes back empty: nothing is deleted, on this pass or the next.
    for name in &all[..6] {
        assert!(sim.delete_repo("acme", name), "{name} existed");
    }
    for request in ["empty-1", "empty-2"] {
        let org = discover_now(&organizations, request).await;
        assert_eq!(prune_held(&org), Some((ConditionStatus::True, "ListingEmpty".into())), "{request}");
        assert_eq!(object_names(&repositories).await, all[..6], "an empty listing deleted objects ({request})");
    }

    // A person confirms: the held removals are carried out once.
    let confirm = json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/confirm-prune": "alice-1" } } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&confirm)).await.expect("confirming");
    let org = eventually("the person's confirmation acted on", Duration::from_secs(60), || async {
        let org = organizations.get("acme").await.ok()?;
        (org.status.as_ref()?.last_prune_confirmation.as_deref() == Some("alice-1")).then_some(org)
    })
    .await;
    assert_eq!(prune_held(&org), Some((ConditionStatus::False, "Confirmed".into())), "{:?}", org.status);
    eventually("every object removed", Duration::from_secs(30), || async {
        object_names(&repositories).await.is_empty().then_some(())
    })
    .await;

    // Each hold and each release was told in an Event (the recorder folds repeats of a reason into a series).
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &ns);
    let events = events.list(&ListParams::default()).await.expect("listing Events").items;
    let told = |reason: &str| -> i32 {
        let occurrences = |e: &Event| e.series.as_ref().and_then(|s| s.count).unwrap_or(1).max(e.count.unwrap_or(1));
        events.iter().filter(|e| e.reason.as_deref() == Some(reason)).map(occurrences).sum()
    };
    assert_eq!((told("PruneHeld"), told("PruneHoldReleased")), (2, 2));
    operator.shutdown().await;
    sim.assert_conformant();
    sim.stop();
}
