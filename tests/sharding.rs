//! Sharding on the real API server, with the operator binary as separate processes: two shards each reconcile only
//! the Organizations labelled with their name (and everything of theirs), an Organization of a shard nobody runs is
//! left alone, and when the leader of a shard's two replicas is killed the survivor takes over the shard's own
//! Lease and goes on reconciling.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::BuildPlanPhase;
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::well_known::{ORGANIZATION_LABEL, SHARD_LABEL};
use infinity_orchestrator::crd::{BuildPlan, HasConditions, Organization, Repository};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace, TestCluster};

/// How long a Lease holds without renewal: short, so that the takeover is quick.
const LEASE_SECONDS: u64 = 4;

/// A simulated organization `login` of two repositories named after it (so that the Repository objects of different
/// Organizations in one namespace have names of their own).
async fn simulator(login: &str) -> SimHandle {
    let mut fixture = Fixture::generated_org(login, 2);
    for (i, repo) in fixture.orgs[0].repos.iter_mut().enumerate() {
        repo.name = format!("{login}-app-{i}");
    }
    // Simulated time starts now: the operator looks its runs up by creation time on its own (wall) clock.
    fixture.start_epoch_secs = Some(k8s_openapi::jiff::Timestamp::now().as_second());
    Simulator::start(fixture, SimOptions::default()).await.expect("the simulator starts")
}

async fn organization(client: &Client, ns: &str, name: &str, shard: &str, sim: &SimHandle) {
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
        "metadata": { "name": name, "labels": { SHARD_LABEL: shard } },
        "spec": { "login": name, "apiUrl": sim.base_url(),
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    Api::<Organization>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(org).expect("an Organization"))
        .await
        .expect("creating the Organization");
}

async fn build_plan(client: &Client, ns: &str, name: &str, organization: &str) {
    let plan = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
        "metadata": { "name": name }, "spec": { "organizationRef": { "name": organization } },
    });
    Api::<BuildPlan>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(plan).expect("a BuildPlan"))
        .await
        .expect("creating the BuildPlan");
}

/// A replica of `shard` named `identity`, electing its leader on short timings.
fn replica(cluster: &TestCluster, ns: &str, shard: &str, identity: &str) -> OperatorProcess {
    let lease = format!("{LEASE_SECONDS}s");
    let args = ["--shard", shard, "--leader-elect", "--leader-election-namespace", ns, "--identity", identity];
    let timings = ["--lease-duration", &lease, "--renew-deadline", "3s", "--retry-period", "250ms"];
    OperatorProcess::start(cluster, ns, &[&args[..], &timings[..]].concat())
}

async fn holder(client: &Client, ns: &str, lease: &str) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), ns).get_opt(lease).await.ok()??.spec?.holder_identity
}

async fn until_synced(client: &Client, ns: &str, name: &str) {
    let organizations: Api<Organization> = Api::namespaced(client.clone(), ns);
    eventually(&format!("Organization {name} discovered"), Duration::from_secs(60), || async {
        let org = organizations.get(name).await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(())
    })
    .await;
}

/// Waits until every repository of the plan is dispatched.
async fn until_dispatched(client: &Client, ns: &str, name: &str) {
    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), ns);
    eventually(&format!("BuildPlan {name} dispatching its builds"), Duration::from_secs(60), || async {
        let status = plans.get(name).await.ok()?.status?;
        let dispatched = status.repositories.iter().filter(|r| r.run_id.is_some()).count();
        (status.phase == Some(BuildPlanPhase::Running) && dispatched == 2).then_some(())
    })
    .await;
}

/// Who reported the Events about the objects whose names start with `prefix`, once there are any.
async fn reporters(client: &Client, ns: &str, prefix: &str) -> BTreeSet<String> {
    eventually(&format!("Events about {prefix}*"), Duration::from_secs(10), || async {
        Some(reporters_now(client, ns, prefix).await).filter(|reporters| !reporters.is_empty())
    })
    .await
}

/// Who reported the Events about the objects whose names start with `prefix`.
async fn reporters_now(client: &Client, ns: &str, prefix: &str) -> BTreeSet<String> {
    let events = Api::<Event>::namespaced(client.clone(), ns).list(&ListParams::default()).await.expect("Events");
    events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()).is_some_and(|n| n.starts_with(prefix)))
        .filter_map(|e| e.reporting_instance)
        .collect()
}

fn dispatches(sim: &SimHandle) -> usize {
    sim.requests().iter().filter(|r| r.method == "POST" && r.path.ends_with("/dispatches")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_reconcile_only_their_own_and_a_survivor_takes_over_its_shards_lease() {
    // GitHub's GraphQL schema is parsed once per process, holding up a thread of the runtime that serves the
    // simulators: parsed beforehand, it cannot hold up the operators' first queries.
    tokio::task::spawn_blocking(github_sim::graphql::schema).await.unwrap().expect("GitHub's GraphQL schema");
    let cluster = &cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "sharding").await;
    let (alpha_sim, beta_sim, gamma_sim) =
        (simulator("alpha").await, simulator("beta").await, simulator("gamma").await);
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &serde_json::from_value(secret).unwrap())
        .await
        .unwrap();
    organization(client, &ns, "alpha", "shard-a", &alpha_sim).await;
    organization(client, &ns, "beta", "shard-b", &beta_sim).await;
    // No operator runs shard-c: its Organization and its plan must be left as they are.
    organization(client, &ns, "gamma", "shard-c", &gamma_sim).await;
    build_plan(client, &ns, "beta-build", "beta").await;
    build_plan(client, &ns, "gamma-build", "gamma").await;

    let mut a1 = replica(cluster, &ns, "shard-a", "a-1");
    let b1 = replica(cluster, &ns, "shard-b", "b-1");
    until_synced(client, &ns, "alpha").await;
    until_synced(client, &ns, "beta").await;
    until_dispatched(client, &ns, "beta-build").await;

    // Each shard elects on a Lease of its own.
    assert_eq!(holder(client, &ns, "infinity-orchestrator-shard-a").await.as_deref(), Some("a-1"));
    assert_eq!(holder(client, &ns, "infinity-orchestrator-shard-b").await.as_deref(), Some("b-1"));
    assert!(a1.metrics().contains(r#"infinity_orchestrator_shard_info{shard="shard-a"} 1"#));
    assert!(b1.metrics().contains(r#"infinity_orchestrator_shard_info{shard="shard-b"} 1"#));
    // Each Organization's Repository objects follow it into its shard.
    let repositories = Api::<Repository>::namespaced(client.clone(), &ns).list(&ListParams::default()).await.unwrap();
    let shard_of = |org: &str| -> Vec<Option<String>> {
        let label = |r: &Repository, key: &str| r.labels().get(key).cloned();
        let of_org = repositories.items.iter().filter(|r| label(r, ORGANIZATION_LABEL).as_deref() == Some(org));
        of_org.map(|r| label(r, SHARD_LABEL)).collect()
    };
    assert_eq!(shard_of("alpha"), [Some("shard-a".to_owned()), Some("shard-a".to_owned())]);
    assert_eq!(shard_of("beta"), [Some("shard-b".to_owned()), Some("shard-b".to_owned())]);
    assert!(shard_of("gamma").is_empty(), "nobody discovered shard-c's Organization");
    // Who acted, by the Events and by GitHub: each shard on its own Organizations only.
    assert_eq!(reporters(client, &ns, "alpha").await, ["a-1".to_owned()].into());
    assert_eq!(reporters(client, &ns, "beta").await, ["b-1".to_owned()].into());
    assert!(reporters_now(client, &ns, "gamma").await.is_empty());
    assert_eq!(dispatches(&beta_sim), 2, "shard-b built its plan once");
    assert!(gamma_sim.requests().is_empty(), "no shard read shard-c's organization: {:?}", gamma_sim.requests());
    let gamma = Api::<Organization>::namespaced(client.clone(), &ns).get("gamma").await.unwrap();
    assert!(gamma.status.is_none(), "no shard wrote shard-c's Organization: {:?}", gamma.status);
    let gamma_build = Api::<BuildPlan>::namespaced(client.clone(), &ns).get("gamma-build").await.unwrap();
    assert!(gamma_build.status.is_none() && gamma_build.finalizers().is_empty(), "shard-c's plan was touched");

    // A second replica of shard-a follows; the leader is killed and cannot release the Lease.
    let a2 = replica(cluster, &ns, "shard-a", "a-2");
    eventually("a-2 ready as a follower", Duration::from_secs(30), || async {
        a2.get("/readyz").filter(|(status, _)| *status == 200)
    })
    .await;
    assert!(a2.metrics().contains("infinity_orchestrator_leader 0"), "a-2 leads beside a-1");
    a1.kill();
    let killed = Instant::now();
    eventually("a-2 holds shard-a's Lease", Duration::from_secs(30), || async {
        (holder(client, &ns, "infinity-orchestrator-shard-a").await? == "a-2").then_some(())
    })
    .await;
    let takeover = killed.elapsed();
    // The Lease ran out (it was renewed at most a retry period before the kill), plus a retry period to notice.
    assert!(takeover <= Duration::from_secs(LEASE_SECONDS + 2), "the takeover took {takeover:?}");
    assert_eq!(holder(client, &ns, "infinity-orchestrator-shard-b").await.as_deref(), Some("b-1"));

    // The survivor goes on: a new plan of shard-a's Organization is built, by a-2.
    build_plan(client, &ns, "alpha-build", "alpha").await;
    until_dispatched(client, &ns, "alpha-build").await;
    assert_eq!(dispatches(&alpha_sim), 2, "alpha's plan was built once");
    assert_eq!(reporters(client, &ns, "alpha-build").await, ["a-2".to_owned()].into());
    assert_eq!(reporters(client, &ns, "beta").await, ["b-1".to_owned()].into());
    let gamma_build = Api::<BuildPlan>::namespaced(client.clone(), &ns).get("gamma-build").await.unwrap();
    assert!(gamma_build.status.is_none() && gamma_build.finalizers().is_empty(), "shard-c's plan was touched");

    // Relabelled, an Organization moves to the other shard, and its Repository objects follow.
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    let moved = json!({ "metadata": { "labels": { SHARD_LABEL: "shard-a" } } });
    organizations.patch("beta", &PatchParams::default(), &Patch::Merge(&moved)).await.unwrap();
    let of_beta = ListParams::default().labels(&format!("{ORGANIZATION_LABEL}=beta"));
    eventually("beta's Repository objects relabelled by shard-a", Duration::from_secs(60), || async {
        let status = organizations.get("beta").await.ok()?.status?;
        let repositories = Api::<Repository>::namespaced(client.clone(), &ns).list(&of_beta).await.ok()?;
        let labels: Vec<Option<&str>> =
            repositories.items.iter().map(|r| r.labels().get(SHARD_LABEL).map(String::as_str)).collect();
        (status.last_sync_shard.as_deref() == Some("shard-a") && labels == [Some("shard-a"); 2]).then_some(())
    })
    .await;
    // Its plan, taken over mid-run, keeps its run: no entry lost, nothing dispatched again.
    a2.until_idle("BuildPlan").await;
    let beta_build = Api::<BuildPlan>::namespaced(client.clone(), &ns).get("beta-build").await.unwrap();
    let entries = beta_build.status.map(|s| s.repositories).unwrap_or_default();
    assert!(entries.len() == 2 && entries.iter().all(|e| e.run_id.is_some()), "{entries:?}");
    assert_eq!(dispatches(&beta_sim), 2, "beta's plan was built once");
    for sim in [&alpha_sim, &beta_sim, &gamma_sim] {
        sim.assert_conformant();
    }
}
