//! BuildPlans driven by the operator binary: a seeded layered dependency graph and the end states it implies,
//! Repository objects whose build settings live in their spec (where the discovery running in the operator leaves
//! them alone), the operator started with its webhook receiver (the simulator's webhooks follow it across
//! restarts), and what reached GitHub, counted in the simulator's state and request log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use github_sim::webhook::WebhookTarget;
use github_sim::{LoggedRequest, SimHandle};
use infinity_orchestrator::crd::build_plan::RepositoryBuildState as S;
use infinity_orchestrator::crd::{BuildPlan, Repository};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

use super::build_plans::{dispatched_runs, entry, simulated_org, WORKFLOW};
use super::process::OperatorProcess;
use super::sim_org::organization_on;
use super::TestCluster;

/// The webhook secret of the Organization `acme` (at least 8 bytes, so a leak scan could look for it).
pub const WEBHOOK_SECRET: &str = "operated-plans-webhook-secret";

/// Repository → the repositories it depends on.
pub type Graph = BTreeMap<String, Vec<String>>;

/// `count` repositories `r00`, `r01`, … in layers of `width`; each past the first layer depends on one to three
/// repositories of the layer before, drawn from `seed`.
pub fn layered_graph(seed: u64, count: usize, width: usize) -> Graph {
    let mut rng = fastrand::Rng::with_seed(seed);
    let names: Vec<String> = (0..count).map(|i| format!("r{i:02}")).collect();
    let mut graph = Graph::new();
    for (i, name) in names.iter().enumerate() {
        let layer = i / width;
        let mut dependencies: Vec<String> = if layer == 0 {
            Vec::new()
        } else {
            let before = (layer - 1) * width..layer * width;
            (0..rng.usize(1..=3)).map(|_| names[rng.usize(before.clone())].clone()).collect()
        };
        dependencies.sort();
        dependencies.dedup();
        graph.insert(name.clone(), dependencies);
    }
    graph
}

/// The end state of each repository when exactly `failing` fail under `SkipDependents`: those Failed, every
/// repository depending on one of them, directly or not, Skipped, the rest Succeeded.
pub fn expected_states(graph: &Graph, failing: &[&str]) -> BTreeMap<String, S> {
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    let mut grown = true;
    while grown {
        grown = false;
        for (name, dependencies) in graph {
            let blocked = dependencies.iter().any(|d| failing.contains(&d.as_str()) || skipped.contains(d));
            if blocked && !failing.contains(&name.as_str()) && skipped.insert(name.clone()) {
                grown = true;
            }
        }
    }
    graph
        .keys()
        .map(|name| {
            let state = if failing.contains(&name.as_str()) {
                S::Failed
            } else if skipped.contains(name) {
                S::Skipped
            } else {
                S::Succeeded
            };
            (name.clone(), state)
        })
        .collect()
}

/// The names of a graph.
pub fn names(graph: &Graph) -> Vec<&str> {
    graph.keys().map(String::as_str).collect()
}

/// A simulated `acme` whose repositories are `graph`'s (runs take `duration_secs` plus 5 queued seconds), the
/// Organization on it with a webhook secret, and a Repository object per repository.
pub async fn plan_bed(client: &Client, ns: &str, graph: &Graph, duration_secs: i64) -> Arc<SimHandle> {
    let sim = simulated_org(&names(graph), duration_secs).await;
    organization_on(client, ns, &sim).await;
    let webhook = json!({ "stringData": { "webhookSecret": WEBHOOK_SECRET } });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch("gh", &PatchParams::default(), &Patch::Merge(&webhook))
        .await
        .expect("adding the webhook secret");
    for (name, depends_on) in graph {
        spec_repository(client, ns, name, depends_on).await;
    }
    sim
}

/// A Repository whose build settings and edges live in its spec.
pub async fn spec_repository(client: &Client, ns: &str, name: &str, depends_on: &[String]) {
    let repo = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "metadata": { "name": name },
        "spec": { "organizationRef": { "name": "acme" }, "name": name, "dependsOn": depends_on,
            "build": { "workflow": WORKFLOW, "ref": "main" } },
    });
    Api::<Repository>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(repo).expect("a Repository"))
        .await
        .expect("creating a Repository");
}

/// Starts the operator binary with its webhook receiver, and points the simulator's webhooks at it.
pub fn start_operator(cluster: &TestCluster, ns: &str, sim: &SimHandle) -> OperatorProcess {
    start_operator_logging(cluster, ns, sim, "info")
}

/// Like [`start_operator`], logging at `rust_log`.
pub fn start_operator_logging(cluster: &TestCluster, ns: &str, sim: &SimHandle, rust_log: &str) -> OperatorProcess {
    let operator = OperatorProcess::start_with_webhook_logging(cluster, ns, &[], rust_log);
    let url = operator.webhook_url().expect("a webhook URL");
    sim.set_webhook(WebhookTarget { url, secret: WEBHOOK_SECRET.to_owned() });
    operator
}

/// Dispatches GitHub acted on, per repository (see [`acted_on`]).
pub fn processed_dispatches(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in log.iter().filter(|r| r.method == "POST") {
        let processed = acted_on(request);
        let Some(rest) = request.path.strip_prefix("/repos/acme/") else { continue };
        if let (true, Some(repo)) = (processed, rest.strip_suffix(&format!("/actions/workflows/{WORKFLOW}/dispatches")))
        {
            *counts.entry(repo.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// Whether GitHub carried the request out: a 2xx answer, given late or lost after the work.
pub fn acted_on(request: &LoggedRequest) -> bool {
    let status = match request.fault.as_deref() {
        Some("lost_response") => request.lost_status.unwrap_or_default(),
        None | Some("late_response") => request.status,
        Some(_) => return false,
    };
    (200..300).contains(&status)
}

/// Checks the plan's end: each repository in its `expected` state; each one not Skipped dispatched exactly once
/// (one `workflow_dispatch` run in the simulator, one dispatch GitHub acted on) in one attempt, its entry naming
/// that run; each Skipped one never dispatched.
pub fn assert_plan_end(sim: &SimHandle, plan: &BuildPlan, expected: &BTreeMap<String, S>) {
    let states: BTreeMap<String, S> = expected.keys().map(|n| (n.clone(), entry(plan, n).state)).collect();
    assert_eq!(&states, expected, "end states");
    let processed = processed_dispatches(&sim.requests());
    for (name, state) in expected {
        let runs = dispatched_runs(sim, name);
        let built = entry(plan, name);
        if *state == S::Skipped {
            assert!(runs.is_empty(), "{name} is Skipped yet was dispatched: {runs:?}");
            assert_eq!((built.attempts, processed.get(name)), (0, None), "{name}");
            continue;
        }
        let [run] = runs.as_slice() else { panic!("{name}: {} runs, one expected: {runs:?}", runs.len()) };
        assert_eq!(processed.get(name), Some(&1), "{name}: dispatches GitHub acted on");
        assert_eq!((built.attempts, built.run_id), (1, Some(run.id)), "{name}: one attempt, naming its run");
        let correlation = built.correlation_id.as_deref().unwrap_or("?");
        assert!(run.title.contains(correlation), "{name}: run {} lacks correlation id {correlation}", run.title);
    }
    let counts = plan.status.as_ref().and_then(|s| s.counts.clone()).expect("counts");
    // Every webhook payload the simulator sent conforms to GitHub's webhooks description.
    let violations = sim.webhook_violations();
    assert!(violations.is_empty(), "{} webhook payload violations:\n{}", violations.len(), violations.join("\n"));
    let count = |state: S| i32::try_from(expected.values().filter(|s| **s == state).count()).unwrap_or(i32::MAX);
    assert_eq!(
        (counts.total, counts.succeeded, counts.failed, counts.skipped),
        (
            count(S::Succeeded) + count(S::Failed) + count(S::Skipped),
            count(S::Succeeded),
            count(S::Failed),
            count(S::Skipped)
        )
    );
}

/// Keeps the simulator's clock on the wall clock (checked every 100 ms) until dropped, so that times the operator
/// reads from GitHub (a rate-limit reset, a `retry-after`) mean the same on both sides.
pub struct WallClock(tokio::task::JoinHandle<()>);

impl WallClock {
    /// Starts following the wall clock.
    pub fn start(sim: &Arc<SimHandle>) -> Self {
        let sim = sim.clone();
        WallClock(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let behind = i64::try_from(now).unwrap_or(i64::MAX) - sim.now();
                if let Ok(step) = u64::try_from(behind) {
                    if step > 0 {
                        sim.advance_clock(step);
                    }
                }
            }
        }))
    }
}

impl Drop for WallClock {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checks that no repository's run was created before every run of its dependencies had completed.
pub fn assert_dependency_order(sim: &SimHandle, graph: &Graph) {
    let spans: BTreeMap<&str, Vec<(i64, Option<i64>)>> = graph
        .keys()
        .map(|name| (name.as_str(), dispatched_runs(sim, name).iter().map(|r| (r.created, r.completed)).collect()))
        .collect();
    for (name, dependencies) in graph {
        for (created, _) in &spans[name.as_str()] {
            for dependency in dependencies {
                for (_, completed) in &spans[dependency.as_str()] {
                    let completed = completed.unwrap_or(i64::MAX);
                    assert!(
                        *created >= completed,
                        "{name} started at {created}, before {dependency} ended at {completed}"
                    );
                }
            }
        }
    }
}
