//! A wake handed over inside the process: when the webhook receiver runs beside the BuildPlan controller (in the
//! leader), it gives the controller the plan directly, and the reconcile starts without waiting for the wake
//! annotation's watch event. Here no annotation is written at all, and the poll is ten minutes: only the
//! in-process wake can move the plan on.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use infinity_orchestrator::controller::build_plan::{self, Settings};
use infinity_orchestrator::controller::Context;
use infinity_orchestrator::crd::build_plan::RepositoryBuildState as S;
use infinity_orchestrator::crd::well_known::REQUESTED_AT;
use infinity_orchestrator::metrics::{ControllerLabels, Metrics};
use infinity_orchestrator::scope::Scope;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use serde_json::json;
use support::build_plans::{build_plan, dispatches, repository, simulated_org};
use support::sim_org::organization_on;
use support::{cluster, eventually, namespace};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_wake_reaches_the_reconcile_without_an_annotation() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-wake").await;
    let sim = simulated_org(&["core", "app"], 60).await;
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    repository(&cluster.client, &ns, "app", &["core"], &[]).await;
    let ctx = Arc::new(Context::new(cluster.client.clone(), Some("test".into()), Arc::new(Metrics::default())));
    let settings = Settings {
        poll_interval: Duration::from_secs(600),
        dispatch_grace: Duration::from_secs(60),
        dispatch_recheck: Duration::from_millis(300),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    }
    .shared();
    let controller = {
        let (ctx, scope) = (ctx.clone(), Scope::Namespace(ns.clone()));
        tokio::spawn(async move { build_plan::run_with(ctx, &scope, shutdown, settings).await })
    };
    let plans = build_plan(&cluster.client, &ns, "chain", json!({})).await;

    // core dispatched and its run named; then the reconciles that its status writes caused are over.
    eventually("core's run in flight", WAIT, || async {
        let core = plans.get("chain").await.ok()?.status?.repositories.into_iter().find(|e| e.name == "core")?;
        (core.run_id.is_some() && matches!(core.state, S::Queued | S::Running)).then_some(())
    })
    .await;
    let labels = ControllerLabels { controller: "BuildPlan".into() };
    let in_flight = || ctx.metrics.reconciles_in_flight.get_or_create(&labels).get();
    let mut requests = sim.requests().len();
    let mut quiet_since = Instant::now();
    eventually("the controller idle", WAIT, || {
        let now = sim.requests().len();
        if now != requests || in_flight() > 0 {
            (requests, quiet_since) = (now, Instant::now());
        }
        let idle = quiet_since.elapsed() >= Duration::from_secs(1);
        async move { idle.then_some(()) }
    })
    .await;

    // core's run finishes on GitHub; no webhook tells the operator, and the poll is minutes away.
    sim.advance_clock(120);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(dispatches(&sim.requests()).get("app"), None, "nothing but a wake moves the plan on");

    let woken = Instant::now();
    assert!(ctx.build_plan_wakes.wake(ObjectRef::new("chain").within(&ns)), "the controller listens");
    eventually("app dispatched after the wake", Duration::from_secs(10), || async {
        dispatches(&sim.requests()).get("app").copied()
    })
    .await;
    eprintln!("in-process wake → dispatch: {:?}", woken.elapsed());
    let plan = plans.get("chain").await.expect("the plan");
    assert!(!plan.annotations().contains_key(REQUESTED_AT), "no annotation was written: {:?}", plan.annotations());

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), controller)
        .await
        .expect("the controller stops within 20s")
        .expect("the controller did not panic");
    assert!(!ctx.build_plan_wakes.wake(ObjectRef::new("chain").within(&ns)), "a stopped controller listens no more");
}
