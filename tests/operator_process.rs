//! The operator as users run it, as separate processes against the real API server: its probes and metrics, and
//! leader election between two replicas.

mod support;

use std::time::Duration;

use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::{HasConditions, Organization};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace, TestCluster};

/// The value of the sample with exactly this name and labels, if the scrape has it.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn create_organization(cluster: &TestCluster, ns: &str, name: &str) {
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), ns);
    let org: Organization = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
        "kind": "Organization",
        "metadata": { "name": name },
        "spec": { "login": "acme", "credentials": { "type": "Token", "secretRef": { "name": "missing" } } },
    }))
    .expect("a valid Organization");
    organizations.create(&PostParams::default(), &org).await.expect("creating an Organization");
}

async fn until_reconciled(cluster: &TestCluster, ns: &str, name: &str) {
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), ns);
    eventually(&format!("Organization {name} reconciled"), Duration::from_secs(30), || async {
        let org = organizations.get(name).await.ok()?;
        find_condition(org.conditions(), "Ready").map(|_| ())
    })
    .await;
}

/// The process's metrics once `series` counts at least one. A reconcile is counted when it returns, which is after
/// the status it wrote (and the Event that follows it): the scrape waits for the count rather than racing the end of
/// the reconcile.
async fn metrics_once_counted(process: &OperatorProcess, series: &str) -> String {
    eventually(&format!("{series} counted"), Duration::from_secs(10), || async {
        let metrics = process.metrics();
        sample(&metrics, series).is_some_and(|n| n >= 1.0).then_some(metrics)
    })
    .await
}

#[tokio::test]
async fn probes_and_metrics_are_served() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "probes").await;
    let operator = OperatorProcess::start(cluster, &ns, &[]);
    let (status, body) = eventually("/readyz answers 200", Duration::from_secs(30), || async {
        operator.get("/readyz").filter(|(status, _)| *status == 200)
    })
    .await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(operator.get("/healthz").map(|(status, _)| status), Some(200));

    create_organization(cluster, &ns, "acme").await;
    until_reconciled(cluster, &ns, "acme").await;
    let reconciles = r#"infinity_orchestrator_reconciles_total{controller="Organization",result="success"}"#;
    let metrics = metrics_once_counted(&operator, reconciles).await;
    let durations = r#"infinity_orchestrator_reconcile_duration_seconds_count{controller="Organization"}"#;
    assert!(sample(&metrics, durations).is_some_and(|n| n >= 1.0), "{metrics}");
    assert_eq!(sample(&metrics, "infinity_orchestrator_leader"), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_follower_takes_over_when_it_dies() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "leader").await;
    let election = |identity: &'static str| {
        [
            "--leader-elect",
            "--leader-election-namespace",
            "LEASE_NS",
            "--identity",
            identity,
            "--lease-duration",
            "4s",
            "--renew-deadline",
            "3s",
            "--retry-period",
            "250ms",
        ]
    };
    let args = |identity| election(identity).map(|arg| if arg == "LEASE_NS" { ns.as_str() } else { arg });
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), &ns);
    let holder = |expected: &'static str| {
        let leases = leases.clone();
        async move {
            eventually(&format!("{expected} holds the Lease"), Duration::from_secs(30), || async {
                let lease = leases.get_opt("infinity-orchestrator").await.ok()??;
                (lease.spec?.holder_identity? == expected).then_some(())
            })
            .await
        }
    };

    let mut first = OperatorProcess::start(cluster, &ns, &args("replica-a"));
    holder("replica-a").await;
    let second = OperatorProcess::start(cluster, &ns, &args("replica-b"));
    eventually("replica-b is ready as a follower", Duration::from_secs(30), || async {
        second.get("/readyz").filter(|(status, _)| *status == 200)
    })
    .await;

    create_organization(cluster, &ns, "before").await;
    until_reconciled(cluster, &ns, "before").await;
    let reconciles = r#"infinity_orchestrator_reconciles_total{controller="Organization",result="success"}"#;
    let leader_metrics = metrics_once_counted(&first, reconciles).await;
    assert_eq!(sample(&leader_metrics, "infinity_orchestrator_leader"), Some(1.0));
    let follower_metrics = second.metrics();
    assert_eq!(sample(&follower_metrics, reconciles), None, "the follower reconciled:\n{follower_metrics}");
    assert_eq!(sample(&follower_metrics, "infinity_orchestrator_leader"), Some(0.0));

    // SIGKILL: the leader cannot release the Lease, so the follower must wait for it to expire, then take over.
    first.kill();
    holder("replica-b").await;
    create_organization(cluster, &ns, "after").await;
    until_reconciled(cluster, &ns, "after").await;
    let new_leader_metrics = metrics_once_counted(&second, reconciles).await;
    assert_eq!(sample(&new_leader_metrics, "infinity_orchestrator_leader"), Some(1.0));

    // The Events say who acted: replica-a before the kill, replica-b after.
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &ns);
    let reporter_of = |name: &'static str| {
        let events = events.clone();
        async move {
            eventually(&format!("an Event about {name}"), Duration::from_secs(10), || async {
                let list = events.list(&ListParams::default()).await.ok()?;
                list.items
                    .into_iter()
                    .find(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
                    .and_then(|e| e.reporting_instance)
            })
            .await
        }
    };
    assert_eq!(reporter_of("before").await, "replica-a");
    assert_eq!(reporter_of("after").await, "replica-b");
}
