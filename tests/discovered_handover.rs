//! Discovery hands each Repository's discovered status to the Repository controller and waits for its write. An
//! object deleted before that write is reconciled no more; the watch's deletion releases the wait, instead of the
//! discovery pass waiting out its limit. Real API server; the reconcile is held back (the wakes are taken and never
//! acted on), so that only the deletion can end the wait.

mod support;

use std::sync::Arc;
use std::time::Duration;

use infinity_orchestrator::controller::cache::Cache;
use infinity_orchestrator::controller::discovered::{self, DiscoveredHandover, DiscoveredPart};
use infinity_orchestrator::crd::Repository;
use infinity_orchestrator::plan::discovery_pass::DiscoveredStatus;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use support::{cluster, eventually, namespace};

async fn create(api: &Api<Repository>, name: &str) -> Repository {
    let repo = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "metadata": { "name": name },
        "spec": { "organizationRef": { "name": "acme" }, "name": name },
    });
    api.create(&PostParams::default(), &serde_json::from_value(repo).unwrap()).await.expect("a Repository")
}

fn part(name: &str) -> DiscoveredPart {
    let fields = DiscoveredStatus { full_name: format!("acme/{name}"), ..Default::default() };
    DiscoveredPart { fields, conditions: Vec::new() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_repository_releases_the_discovery_pass_waiting_for_its_write() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "handover").await;
    let api: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let (cache, watch) = Cache::new(api.clone());
    tokio::spawn(infinity_orchestrator::controller::cache::run_beside(watch, std::future::pending()));
    let handover = Arc::new(DiscoveredHandover::default());
    tokio::spawn(discovered::release_deleted(handover.clone(), cache.changes()));
    // The Repository controller's place: woken, it never writes.
    let _held_back = handover.listen();

    let (doomed, kept) = (create(&api, "doomed").await, create(&api, "kept").await);
    eventually("both in the cache", Duration::from_secs(30), || async {
        let store = cache.store();
        (store.get(&ObjectRef::from_obj(&doomed)).is_some() && store.get(&ObjectRef::from_obj(&kept)).is_some())
            .then_some(())
    })
    .await;
    let mut doomed_wait = handover.hand_over(ObjectRef::from_obj(&doomed), part("doomed")).expect("a listener");
    let mut kept_wait = handover.hand_over(ObjectRef::from_obj(&kept), part("kept")).expect("a listener");
    assert_eq!(doomed_wait.try_recv(), Ok(None), "nothing writes it");

    api.delete("doomed", &DeleteParams::default()).await.expect("deleting");
    let released = tokio::time::timeout(Duration::from_secs(30), &mut doomed_wait).await;
    assert!(matches!(released, Ok(Err(_))), "the wait ends when the object is gone, unwritten: {released:?}");
    assert_eq!(kept_wait.try_recv(), Ok(None), "the other object's part still waits for its write");

    // Recreated under the same name: a new object, whose own part waits for its own write.
    let reborn = create(&api, "doomed").await;
    let mut reborn_wait = handover.hand_over(ObjectRef::from_obj(&reborn), part("doomed")).expect("a listener");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reborn_wait.try_recv(), Ok(None));
}
