//! Reliability across restarts: the operator binary SIGKILLed at twenty seeded-random points of a 50-repository
//! plan, the Kubernetes API server restarted mid-plan, and the operator's watches expired (a real 410 Gone from a
//! real kube-apiserver) mid-plan. Each time the plan converges with every repository built exactly once, in
//! dependency order.
//!
//! The API-server tests run a control plane of their own (`scripts/control-plane.sh` on free ports, torn down when
//! the test ends, whatever way it ends): the shared one serves the other test binaries running at the same time.

mod support;

use std::time::{Duration, Instant};

use github_sim::fixture::OutcomeFixture;
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::build_plans::{build_plan, until_phase, SimClock};
use support::operated_plans::{
    assert_dependency_order, assert_plan_end, expected_states, layered_graph, plan_bed, processed_dispatches,
    start_operator, start_operator_logging, Graph,
};
use support::tcp_proxy::TcpProxy;
use support::{cluster, eventually, namespace, DedicatedControlPlane, TestCluster};

/// Seeds the kill points.
const KILL_SEED: u64 = 2026;
/// How many times the operator is killed.
const KILLS: usize = 20;

/// Repositories dispatched so far (GitHub acted on the dispatch).
fn dispatched(sim: &github_sim::SimHandle) -> usize {
    processed_dispatches(&sim.requests()).len()
}

async fn until_dispatched(sim: &github_sim::SimHandle, count: usize) -> usize {
    eventually(&format!("{count} repositories dispatched"), Duration::from_secs(150), || async {
        let total = dispatched(sim);
        (total >= count).then_some(total)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_seeded_points_of_a_fifty_repository_plan_builds_each_once() {
    let started = Instant::now();
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "restarts-kill").await;
    // Seven layers (8 × 6 + 2), each repository past the first layer depending on one to three of the layer before.
    let graph = layered_graph(50, 50, 8);
    let sim = plan_bed(&cluster.client, &ns, &graph, 10).await;
    // Seeded run lengths of 10 to 100 simulated seconds (0.5 to 5 s) spread the dispatches out, so kills meet them one by one.
    let mut rng = fastrand::Rng::with_seed(KILL_SEED);
    for name in graph.keys() {
        let outcome = OutcomeFixture { duration_secs: rng.i64(10..=100), ..OutcomeFixture::default() };
        sim.set_outcome("acme", name, None, outcome);
    }
    let _clock = SimClock::start(&sim, 1);
    let mut operator = start_operator(&cluster, &ns, &sim);
    let spec = json!({ "maxParallel": 6, "retryAttempts": 0, "timeoutMinutes": 30 });
    let plans = build_plan(&cluster.client, &ns, "crashy", spec).await;

    // Twenty distinct dispatch counts in 1..=49, each followed by a seeded delay of 0 to 1.5 s: kills land before,
    // between and after status writes and dispatches, and sometimes while the operator is still starting.
    let mut thresholds: Vec<usize> = (1..=49).collect();
    rng.shuffle(&mut thresholds);
    thresholds.truncate(KILLS);
    thresholds.sort_unstable();
    let mut kills = Vec::new();
    for threshold in &thresholds {
        until_dispatched(&sim, *threshold).await;
        tokio::time::sleep(Duration::from_millis(rng.u64(0..1500))).await;
        operator.kill();
        // Intents recorded whose run the operator had not seen yet: the crash window of a dispatch.
        let status = plans.get("crashy").await.ok().and_then(|plan| plan.status).unwrap_or_default();
        let intents = status.repositories.iter().filter(|e| e.state == S::Dispatching).count();
        kills.push((*threshold, dispatched(&sim), intents));
        operator = start_operator(&cluster, &ns, &sim);
    }

    let plan = until_phase(&plans, "crashy", BuildPlanPhase::Succeeded, Duration::from_secs(240)).await;
    assert_eq!(kills.len(), KILLS);
    assert_plan_end(&sim, &plan, &expected_states(&graph, &[]));
    assert_dependency_order(&sim, &graph);
    let in_window = kills.iter().filter(|(_, _, intents)| *intents > 0).count();
    eprintln!(
        "kills (threshold, dispatched at the kill, intents in flight): {kills:?}; {in_window} with an intent in \
         flight; {:?}",
        started.elapsed()
    );
}

/// A private control plane and a plan of `graph` on it; the operator's kubeconfig is `kubeconfig` when given
/// (e.g. through a proxy), else the plane's own.
struct PrivateBed {
    cluster: TestCluster,
    ns: String,
    sim: std::sync::Arc<github_sim::SimHandle>,
    _clock: SimClock,
}

impl PrivateBed {
    async fn start(plane: &DedicatedControlPlane, graph: &Graph) -> Self {
        let cluster = plane.as_test_cluster().await;
        let ns = namespace(&cluster.client, "plan").await;
        let sim = plan_bed(&cluster.client, &ns, graph, 10).await;
        let clock = SimClock::start(&sim, 1);
        PrivateBed { cluster, ns, sim, _clock: clock }
    }

    async fn plan(&self) -> Api<infinity_orchestrator::crd::BuildPlan> {
        let spec = json!({ "maxParallel": 3, "retryAttempts": 0, "timeoutMinutes": 30 });
        build_plan(&self.cluster.client, &self.ns, "plan", spec).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_restarted_twice_mid_plan_the_plan_converges_building_each_once() {
    let started = Instant::now();
    let plane = DedicatedControlPlane::start("restarts-apiserver");
    let graph = layered_graph(7, 12, 3);
    let bed = PrivateBed::start(&plane, &graph).await;
    let mut operator = start_operator(&bed.cluster, &bed.ns, &bed.sim);
    let plans = bed.plan().await;

    let mut restarts = Vec::new();
    for threshold in [3, 8] {
        until_dispatched(&bed.sim, threshold).await;
        let down = Instant::now();
        plane.restart_apiserver();
        restarts.push((threshold, dispatched(&bed.sim), down.elapsed()));
    }

    let plan = until_phase(&plans, "plan", BuildPlanPhase::Succeeded, Duration::from_secs(180)).await;
    assert_plan_end(&bed.sim, &plan, &expected_states(&graph, &[]));
    assert_dependency_order(&bed.sim, &graph);
    assert_eq!(operator.exit_status(), None, "the operator rode out the restarts without exiting");
    // The restarted server's watch cache starts at etcd's current revision, so the watches resuming from before
    // the restart are told their resourceVersion is too old (410 Gone) and relist: proof they really broke.
    let log = std::fs::read_to_string(&operator.log).expect("the operator's log");
    let expired = log.lines().filter(|l| l.contains("too old resource version")).count();
    assert!(expired > 0, "no watch resumed against the restarted server:\n{log}");
    eprintln!(
        "restarts (threshold, dispatched, restart took): {restarts:?}; watches told 410 Gone: {expired}; {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_expired_with_410_gone_mid_plan_relist_and_the_plan_converges_building_each_once() {
    let started = Instant::now();
    // Without the watch cache, a watch resuming from a resourceVersion that etcd has compacted away is answered
    // by etcd itself: an ERROR event with status 410 Gone, "The resourceVersion for the provided watch is too old".
    let plane = DedicatedControlPlane::start_with("restarts-gone", "--watch-cache=false");
    let graph = layered_graph(11, 12, 3);
    let bed = PrivateBed::start(&plane, &graph).await;
    // The operator reaches the API server through a proxy that can drop its connections, as a load balancer does.
    let proxy = TcpProxy::start(plane.api_port()).await;
    let kubeconfig = std::fs::read_to_string(&plane.kubeconfig).expect("the kubeconfig");
    let direct = format!("https://127.0.0.1:{}", plane.api_port());
    assert!(kubeconfig.contains(&direct), "{kubeconfig}");
    let proxied = std::env::temp_dir().join(format!("kubeconfig-proxied-{}-{}", std::process::id(), proxy.port));
    std::fs::write(&proxied, kubeconfig.replace(&direct, &format!("https://127.0.0.1:{}", proxy.port)))
        .expect("writing the proxied kubeconfig");
    let through_proxy = TestCluster { kubeconfig: proxied.clone(), ..bed.cluster.clone() };
    let watcher_log = "info,kube_runtime::watcher=debug";
    let mut operator = start_operator_logging(&through_proxy, &bed.ns, &bed.sim, watcher_log);
    let plans = bed.plan().await;

    until_dispatched(&bed.sim, 4).await;
    // Cut every connection (its watches with them) and hold new ones; move etcd on past everything the operator
    // saw and compact its history there; then let the watches resume from their now-compacted resourceVersions.
    proxy.cut_and_pause();
    let config_maps: Api<ConfigMap> = Api::namespaced(bed.cluster.client.clone(), &bed.ns);
    for name in ["moves-etcd-on-1", "moves-etcd-on-2"] {
        let config_map = serde_json::from_value(json!({ "metadata": { "name": name } })).expect("a ConfigMap");
        config_maps.create(&PostParams::default(), &config_map).await.expect("creating a ConfigMap");
    }
    let compacted = plane.compact_etcd();
    let dispatched_at_cut = dispatched(&bed.sim);
    proxy.resume();

    let plan = until_phase(&plans, "plan", BuildPlanPhase::Succeeded, Duration::from_secs(180)).await;
    assert_plan_end(&bed.sim, &plan, &expected_states(&graph, &[]));
    assert_dependency_order(&bed.sim, &graph);
    assert_eq!(operator.exit_status(), None, "the operator relisted without exiting");
    // The proof that the watches expired: kube-runtime's watcher logs each ERROR event it received.
    let log = std::fs::read_to_string(&operator.log).expect("the operator's log");
    let gone: Vec<&str> =
        log.lines().filter(|l| l.contains("error watchevent error") && l.contains("code: 410")).collect();
    assert!(!gone.is_empty(), "no watch was answered 410 Gone; the test proved nothing:\n{log}");
    assert!(gone.iter().all(|l| l.contains("too old")), "{gone:#?}");
    eprintln!(
        "etcd compacted at revision {compacted} with {dispatched_at_cut} repositories dispatched; {} watches \
         answered 410 Gone; {:?}",
        gone.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_file(proxied);
}
