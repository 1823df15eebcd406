//! A BuildPlan moves on when GitHub says a run finished: the `workflow_run` webhook wakes it, not the poll. The
//! operator runs as users run it, its configuration from a file and a `--set` flag, and its metrics scraped.

mod support;

use std::time::{Duration, Instant};

use github_sim::webhook::WebhookTarget;
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::well_known::REQUESTED_BY;
use infinity_orchestrator::crd::Organization;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::ResourceExt;
use serde_json::json;
use support::build_plans::{build_plan, dispatched_runs, dispatches, entry, until_phase};
use support::operated_plans::{plan_bed, Graph, WEBHOOK_SECRET};
use support::process::OperatorProcess;
use support::{cluster, eventually, namespace};

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn each_workflow_run_delivery_advances_the_plan_long_before_the_poll_would() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-webhook").await;
    // Runs take 60 s of simulated time, and simulated time moves only when this test says.
    let graph: Graph = [("core", vec![]), ("util", vec![]), ("app", vec!["core".to_owned()])]
        .into_iter()
        .map(|(name, depends_on)| (name.to_owned(), depends_on))
        .collect();
    let sim = plan_bed(&cluster.client, &ns, &graph, 60).await;
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);

    // The file caps plans that set nothing at one run at a time; the flag makes the poll ten minutes, so that
    // within this test only a webhook can tell the operator that a run finished.
    let config = std::env::temp_dir().join(format!("orchestrator-{ns}.yml"));
    std::fs::write(&config, "build:\n  max_parallel: 1\n  retry_attempts: 0\n").expect("writing the config file");
    let operator = OperatorProcess::start_with_webhook(
        &cluster,
        &ns,
        &["--config", config.to_str().expect("a UTF-8 path"), "--set", "build.poll_interval=10m"],
    );
    sim.set_webhook(WebhookTarget { url: operator.webhook_url().expect("a URL"), secret: WEBHOOK_SECRET.into() });
    // Discovery's first pass done: its status write, which wakes the Organization's plans, is behind us.
    eventually("the Organization synced", Duration::from_secs(60), || async {
        let org = organizations.get("acme").await.ok()?;
        org.status?.last_sync_time.map(|_| ())
    })
    .await;
    let plans = build_plan(&cluster.client, &ns, "chain", json!({})).await;

    let mut latencies = Vec::new();
    for step in 1..=3 {
        // One run in flight, dispatched and found again on GitHub: from then on nothing but a delivery (or the
        // ten-minute poll) makes the operator look at the plan. Finishing the run is what the delivery reports.
        eventually(&format!("run {step} in flight"), Duration::from_secs(60), || async {
            let plan = plans.get("chain").await.ok()?;
            let entries = plan.status?.repositories;
            let running = entries.iter().filter(|e| e.run_id.is_some() && matches!(e.state, S::Queued | S::Running));
            let running = running.count();
            let dispatched = dispatches(&sim.requests()).values().sum::<usize>();
            (dispatched == step && running == 1).then_some(())
        })
        .await;
        // The status write that recorded the run wakes the plan once more (a watch sees every write); wait until
        // that reconcile is done and the controller is idle.
        operator.until_idle("BuildPlan").await;
        let started = Instant::now();
        sim.advance_clock(70);
        let plan = eventually(&format!("the plan moves on after run {step}"), Duration::from_secs(30), || async {
            let plan = plans.get("chain").await.ok()?;
            let counts = plan.status.as_ref()?.counts.clone()?;
            (counts.succeeded as usize == step).then_some(plan)
        })
        .await;
        latencies.push(started.elapsed());
        // The receiver handed the plan to the controller of its own process: nothing was written to wake it.
        let woken_by = plan.annotations().get(REQUESTED_BY);
        assert_eq!(woken_by, None, "step {step}: the plan was annotated to wake it");
    }

    let plan = until_phase(&plans, "chain", BuildPlanPhase::Succeeded, Duration::from_secs(30)).await;
    let log = sim.requests();
    assert_eq!(dispatches(&log).values().sum::<usize>(), 3, "{:?}", dispatches(&log));
    let mut runs: Vec<_> = ["core", "util", "app"]
        .into_iter()
        .map(|name| {
            let built = entry(&plan, name);
            assert_eq!((built.state, built.attempts), (S::Succeeded, 1), "{name}");
            let run = dispatched_runs(&sim, name).pop().expect("a run");
            (run.created, run.completed.expect("completed"), name)
        })
        .collect();
    runs.sort();
    // maxParallel from the file: each run starts after the one before finished; and app after core.
    for pair in runs.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "runs overlap: {runs:?}");
    }
    let position = |name: &str| runs.iter().position(|r| r.2 == name);
    assert!(position("core") < position("app"), "{runs:?}");
    // Ten minutes of poll interval against a few seconds at most: only the deliveries moved the plan.
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(30)), "{latencies:?}");
    eprintln!("delivery → plan moved on: {latencies:?}");

    let metrics = operator.metrics();
    let accepted = r#"infinity_orchestrator_webhook_deliveries_total{event="workflow_run",outcome="accepted"}"#;
    assert!(sample(&metrics, accepted).is_some_and(|n| n >= 3.0), "{metrics}");
    let woken = |via: &str| {
        sample(&metrics, &format!(r#"infinity_orchestrator_webhook_wakes_total{{kind="BuildPlan",via="{via}"}}"#))
    };
    assert!(woken("process").is_some_and(|n| n >= 3.0), "{metrics}");
    assert_eq!(woken("annotation"), None, "{metrics}");
    let progress = |state: &str| {
        format!(r#"infinity_orchestrator_build_plan_repositories{{namespace="{ns}",name="chain",state="{state}"}}"#)
    };
    assert_eq!(sample(&metrics, &progress("Succeeded")), Some(3.0), "{metrics}");
    assert_eq!(sample(&metrics, &progress("Running")), Some(0.0), "{metrics}");
    let dispatched = r#"infinity_orchestrator_build_dispatches_total{outcome="accepted"}"#;
    assert_eq!(sample(&metrics, dispatched), Some(3.0), "{metrics}");
    // Every delivery's payload conforms to GitHub's webhooks description.
    let violations = sim.webhook_violations();
    assert!(violations.is_empty(), "{} webhook payload violations:\n{}", violations.len(), violations.join("\n"));
}

/// A replica that does not lead runs no controller: its receiver writes the wake annotation on the plan, and the
/// leader's watch sees it. The deliveries go to the follower only, and the poll is ten minutes.
#[tokio::test]
async fn a_delivery_to_a_follower_wakes_the_plan_through_its_annotation() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-follower").await;
    let graph: Graph = [("core", vec![]), ("app", vec!["core".to_owned()])]
        .into_iter()
        .map(|(name, depends_on)| (name.to_owned(), depends_on))
        .collect();
    let sim = plan_bed(&cluster.client, &ns, &graph, 60).await;
    let election = |identity: &'static str| {
        let timings = ["--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "250ms"];
        let mut args = vec!["--leader-elect", "--leader-election-namespace", ns.as_str(), "--identity", identity];
        args.extend(timings);
        args.extend(["--set", "build.poll_interval=10m", "--set", "build.retry_attempts=0"]);
        args
    };
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), &ns);
    let leader = OperatorProcess::start_with_webhook(&cluster, &ns, &election("replica-a"));
    eventually("replica-a holds the Lease", Duration::from_secs(30), || async {
        let lease = leases.get_opt("infinity-orchestrator").await.ok()??;
        (lease.spec?.holder_identity? == "replica-a").then_some(())
    })
    .await;
    let follower = OperatorProcess::start_with_webhook(&cluster, &ns, &election("replica-b"));
    eventually("replica-b ready as a follower", Duration::from_secs(30), || async {
        follower.get("/readyz").filter(|(status, _)| *status == 200)
    })
    .await;
    sim.set_webhook(WebhookTarget { url: follower.webhook_url().expect("a URL"), secret: WEBHOOK_SECRET.into() });
    let plans = build_plan(&cluster.client, &ns, "chain", json!({})).await;

    eventually("core's run in flight", Duration::from_secs(60), || async {
        let core = plans.get("chain").await.ok()?.status?.repositories.into_iter().find(|e| e.name == "core")?;
        (core.run_id.is_some() && matches!(core.state, S::Queued | S::Running)).then_some(())
    })
    .await;
    leader.until_idle("BuildPlan").await;
    sim.advance_clock(70);
    let plan = eventually("app dispatched after core's run", Duration::from_secs(30), || async {
        let plan = plans.get("chain").await.ok()?;
        let dispatched = dispatches(&sim.requests());
        (dispatched.get("app") == Some(&1)).then_some(plan)
    })
    .await;
    let woken_by = plan.annotations().get(REQUESTED_BY).cloned().unwrap_or_default();
    assert!(woken_by.starts_with("github-delivery/"), "woken by {woken_by:?}");
    let wakes = |process: &OperatorProcess, via: &str| {
        let series = format!(r#"infinity_orchestrator_webhook_wakes_total{{kind="BuildPlan",via="{via}"}}"#);
        sample(&process.metrics(), &series)
    };
    assert!(wakes(&follower, "annotation").is_some_and(|n| n >= 1.0), "{}", follower.metrics());
    assert_eq!(wakes(&follower, "process"), None, "the follower runs no controller");
    assert_eq!(wakes(&leader, "annotation"), None, "no delivery went to the leader");
}
