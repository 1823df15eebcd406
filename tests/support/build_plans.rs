//! A bed for BuildPlan tests: a simulated organization whose build workflows accept the correlation input, a clock
//! that makes simulated runs progress on their own, hand-made Repository objects, and reading dispatches and runs
//! back from the simulator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use github_sim::{Fixture, LoggedRequest, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::controller::build_plan::{self, Settings};
use infinity_orchestrator::controller::Context;
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuild};
use infinity_orchestrator::crd::{BuildPlan, Repository};
use infinity_orchestrator::metrics::Metrics;
use infinity_orchestrator::scope::Scope;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

use super::eventually;

/// The workflow every simulated repository has; BuildPlans dispatch it.
pub const WORKFLOW: &str = "build.yml";

/// A simulator of the organization `acme` with `repos`, each with a `build.yml` accepting `correlation_id` and
/// rendering it into the run name, whose runs take `duration_secs` (plus the simulator's 5 queued seconds) and
/// each with one earlier successful push build of its head. Simulated time starts at the wall clock's now.
pub async fn simulated_org(repos: &[&str], duration_secs: i64) -> Arc<SimHandle> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let repos: Vec<serde_json::Value> = repos
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "files": { "README.md": format!("# {name}\n") },
                "workflows": [{
                    "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
                    "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
                    "outcome": { "result": "success", "duration_secs": duration_secs },
                }],
                "runs": [{ "workflow": WORKFLOW, "event": "push", "conclusion": "success", "duration_secs": 30 }],
            })
        })
        .collect();
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": repos }],
        "tokens": ["test-token"],
        "start_epoch_secs": now,
    }))
    .expect("a valid fixture");
    Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim"))
}

/// Moves simulated time on by `step_secs` every 50 ms until dropped, so that runs finish on their own.
pub struct SimClock(tokio::task::JoinHandle<()>);

impl SimClock {
    /// Starts moving `sim`'s clock.
    pub fn start(sim: &Arc<SimHandle>, step_secs: u64) -> Self {
        Self::every(sim, step_secs, Duration::from_millis(50))
    }

    /// Starts moving `sim`'s clock by `step_secs` every `period`.
    pub fn every(sim: &Arc<SimHandle>, step_secs: u64, period: Duration) -> Self {
        let sim = sim.clone();
        SimClock(tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                sim.advance_clock(step_secs);
            }
        }))
    }
}

impl Drop for SimClock {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Creates the Repository `name` of `acme`: `depends_on` in its spec, `discovered` as status edges with evidence,
/// described as discovery would (default branch `main`, build workflow `build.yml` declaring `correlation_id`).
pub async fn repository(client: &Client, ns: &str, name: &str, depends_on: &[&str], discovered: &[&str]) {
    let api: Api<Repository> = Api::namespaced(client.clone(), ns);
    let repo = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "metadata": { "name": name },
        "spec": { "organizationRef": { "name": "acme" }, "name": name, "dependsOn": depends_on },
    });
    api.create(&PostParams::default(), &serde_json::from_value(repo).expect("a Repository"))
        .await
        .expect("creating a Repository");
    let edges: Vec<serde_json::Value> = discovered
        .iter()
        .map(|d| json!({ "repository": d, "evidence": [{ "file": "Cargo.toml", "dependency": d }] }))
        .collect();
    let status = json!({ "status": {
        "fullName": format!("acme/{name}"), "defaultBranch": "main", "buildWorkflow": WORKFLOW,
        "buildWorkflowInputs": ["correlation_id"], "dependencies": edges,
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("describing a Repository");
}

/// Creates the BuildPlan `name` for `acme` with `spec` merged over the organization reference.
pub async fn build_plan(client: &Client, ns: &str, name: &str, spec: serde_json::Value) -> Api<BuildPlan> {
    let mut full = json!({ "organizationRef": { "name": "acme" } });
    if let (Some(target), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    let plan = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
        "metadata": { "name": name }, "spec": full });
    let api: Api<BuildPlan> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &serde_json::from_value(plan).expect("a BuildPlan")).await.expect("creating");
    api
}

/// Waits until the plan's current run reaches `phase`.
pub async fn until_phase(api: &Api<BuildPlan>, name: &str, phase: BuildPlanPhase, timeout: Duration) -> BuildPlan {
    eventually(&format!("BuildPlan {name} {phase:?}"), timeout, || async {
        let plan = api.get(name).await.ok()?;
        (plan.status.as_ref()?.phase == Some(phase)).then_some(plan)
    })
    .await
}

/// Wakes the plan as the webhook receiver does, so that a test that moved the operator's clock need not wait for
/// a requeue timer set on the old time.
pub async fn wake(api: &Api<BuildPlan>, name: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let patch =
        json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": now.to_string() } } });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("waking the plan");
}

/// The status entry of `repository`.
pub fn entry<'a>(plan: &'a BuildPlan, repository: &str) -> &'a RepositoryBuild {
    let status = plan.status.as_ref().expect("a status");
    status.repositories.iter().find(|e| e.name == repository).unwrap_or_else(|| panic!("no entry for {repository}"))
}

/// Accepted `workflow_dispatch` requests per repository, from the simulator's request log (200 with the run, or
/// 204, by API version).
pub fn dispatches(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in log.iter().filter(|r| r.method == "POST" && matches!(r.status, 200 | 204)) {
        let Some(rest) = request.path.strip_prefix("/repos/acme/") else { continue };
        if let Some(repo) = rest.strip_suffix(&format!("/actions/workflows/{WORKFLOW}/dispatches")) {
            *counts.entry(repo.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// One dispatched run as the simulator has it.
#[derive(Clone, Debug)]
pub struct SimRun {
    /// Its id.
    pub id: i64,
    /// Its run name (carries the correlation id).
    pub title: String,
    /// When it was created, simulated epoch seconds.
    pub created: i64,
    /// When it completed, if it did.
    pub completed: Option<i64>,
    /// How it ended.
    pub conclusion: Option<String>,
}

/// The `workflow_dispatch` runs of `repo`, oldest first.
pub fn dispatched_runs(sim: &SimHandle, repo: &str) -> Vec<SimRun> {
    let epoch = |v: &serde_json::Value| v.as_str().and_then(github_sim::clock::parse_date);
    let mut runs: Vec<SimRun> = sim
        .runs("acme", repo)
        .iter()
        .filter(|run| run["event"] == "workflow_dispatch")
        .map(|run| SimRun {
            id: run["id"].as_i64().unwrap_or_default(),
            title: run["display_title"].as_str().unwrap_or_default().to_owned(),
            created: epoch(&run["created_at"]).unwrap_or_default(),
            completed: (run["status"] == "completed").then(|| epoch(&run["updated_at"])).flatten(),
            conclusion: run["conclusion"].as_str().map(String::from),
        })
        .collect();
    runs.reverse();
    runs
}

/// The BuildPlan controller alone (no discovery beside it), polling fast, stopped when dropped.
pub struct BuildPlanController {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl BuildPlanController {
    /// Starts it on the current runtime, watching only `namespace`.
    pub fn start(client: Client, namespace: &str) -> Self {
        Self::start_with_clock(client, namespace, Arc::new(infinity_orchestrator::clock::SystemClock))
    }

    /// Like [`BuildPlanController::start`], reaching GitHub through `clients` (an API version, a transport policy).
    pub fn start_with_github(
        client: Client,
        namespace: &str,
        clients: infinity_orchestrator::controller::github_clients::GitHubClients,
    ) -> Self {
        Self::start_with(client, namespace, Arc::new(infinity_orchestrator::clock::SystemClock), Some(clients))
    }

    /// Like [`BuildPlanController::start`], deciding on `clock` (timeouts, backoffs, schedules).
    pub fn start_with_clock(
        client: Client,
        namespace: &str,
        clock: Arc<dyn infinity_orchestrator::clock::Clock>,
    ) -> Self {
        Self::start_with(client, namespace, clock, None)
    }

    fn start_with(
        client: Client,
        namespace: &str,
        clock: Arc<dyn infinity_orchestrator::clock::Clock>,
        clients: Option<infinity_orchestrator::controller::github_clients::GitHubClients>,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut ctx = Context::new(client, Some("test".into()), Arc::new(Metrics::default()));
        ctx.clock = clock;
        if let Some(clients) = clients {
            ctx.github = Arc::new(clients);
        }
        let ctx = Arc::new(ctx);
        let settings = Settings {
            poll_interval: Duration::from_millis(500),
            dispatch_grace: Duration::from_secs(5),
            dispatch_recheck: Duration::from_millis(300),
        };
        let scope = Scope::Namespace(namespace.to_owned());
        let shutdown = futures::future::FutureExt::shared(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { build_plan::run_with(ctx, &scope, shutdown, settings).await });
        BuildPlanController { stop: Some(stop), task }
    }

    /// Signals shutdown and waits for the controller to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("the controller stops within 20s")
            .expect("the controller did not panic");
    }
}

impl Drop for BuildPlanController {
    fn drop(&mut self) {
        self.task.abort();
    }
}
