//! A dispatch names its run: the BuildPlan controller, against the real API server and the strict simulator (runs
//! listed only seconds after their dispatch), records the run GitHub's answer names without listing runs, fails an
//! entry with GitHub's own message when the ref does not exist, dispatches a workflow that takes no correlation id,
//! and against an older server that answers 204 finds the run by its correlation id, one dispatch per repository.

mod support;

use std::sync::Arc;
use std::time::Duration;

use github_sim::{FaultConfig, Fixture, LoggedRequest, SimOptions, Simulator};
use infinity_orchestrator::controller::github_clients::GitHubClients;
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::Repository;
use infinity_orchestrator::github::{GitHub, OctocrabGitHub, API_VERSION_2022_11_28};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::build_plans::{
    build_plan, dispatched_runs, dispatches, entry, repository, simulated_org, until_phase, BuildPlanController,
    SimClock,
};
use support::sim_org::organization_on;
use support::{cluster, namespace};

const WAIT: Duration = Duration::from_secs(120);

/// Requests that list runs (by repository or by workflow), as opposed to reading one run by id.
fn run_listings(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|r| r.method == "GET" && r.path.ends_with("/runs")).count()
}

/// Every dispatch request, with the status it got.
fn dispatch_requests(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter().filter(|r| r.method == "POST" && r.path.ends_with("/dispatches")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_records_the_run_its_answer_names_without_listing_runs() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-named").await;
    let sim = simulated_org(&["core", "lib"], 10).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    repository(&cluster.client, &ns, "lib", &["core"], &[]).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "named", json!({})).await;

    let plan = until_phase(&plans, "named", BuildPlanPhase::Succeeded, WAIT).await;
    let log = sim.requests();
    assert_eq!(run_listings(&log), 0, "tracking read each run by the id its dispatch answer named");
    for request in dispatch_requests(&log) {
        assert_eq!((request.status, request.api_version.as_deref()), (200, Some("2026-03-10")));
    }
    assert!(log.iter().all(|r| r.api_version.as_deref() == Some("2026-03-10")), "every request names the version");
    for name in ["core", "lib"] {
        let runs = dispatched_runs(&sim, name);
        assert_eq!(runs.len(), 1, "{name}: one dispatch");
        assert_eq!(entry(&plan, name).run_id, Some(runs[0].id), "{name}: the entry names the run GitHub started");
        assert_eq!(entry(&plan, name).state, S::Succeeded);
    }
    controller.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_that_does_not_exist_fails_the_entry_with_githubs_message() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-noref").await;
    let sim = simulated_org(&["core"], 10).await;
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "noref", json!({ "ref": "no-such-branch", "retryAttempts": 0 })).await;

    let plan = until_phase(&plans, "noref", BuildPlanPhase::Failed, WAIT).await;
    let core = entry(&plan, "core");
    assert_eq!(core.state, S::Failed);
    let reason = core.reason.clone().unwrap_or_default();
    assert!(reason.contains("No ref found for: no-such-branch"), "GitHub's message: {reason}");
    assert!(dispatched_runs(&sim, "core").is_empty());
    controller.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_without_the_correlation_input_is_dispatched() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-plain").await;
    let fixture = json!({
        "tokens": ["test-token"],
        "start_epoch_secs": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "orgs": [{ "login": "acme", "repos": [{
            "name": "plain",
            "files": { ".github/workflows/build.yml": "name: build\non: workflow_dispatch\njobs: {}\n" },
            "workflows": [{ "path": ".github/workflows/build.yml", "outcome": { "result": "success", "duration_secs": 10 } }],
        }]}],
    });
    let fixture: Fixture = serde_json::from_value(fixture).expect("a fixture");
    let sim = Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("the simulator"));
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    repository(&cluster.client, &ns, "plain", &[], &[]).await;
    // As discovery records it: the workflow declares no input.
    let status = json!({ "status": { "buildWorkflowInputs": [] } });
    Api::<Repository>::namespaced(cluster.client.clone(), &ns)
        .patch_status("plain", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("describing the workflow");
    let controller = BuildPlanController::start(cluster.client.clone(), &ns);
    let plans = build_plan(&cluster.client, &ns, "plain", json!({})).await;

    let plan = until_phase(&plans, "plain", BuildPlanPhase::Succeeded, WAIT).await;
    let log = sim.requests();
    let sent = dispatch_requests(&log);
    assert_eq!(sent.len(), 1, "dispatched once, no 422: {:?}", sent.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(sent[0].status, 200);
    let inputs = sent[0].request_body.as_ref().map(|b| b["inputs"].clone()).unwrap_or_default();
    assert!(inputs.get("correlation_id").is_none(), "no undeclared input: {inputs}");
    assert_eq!(entry(&plan, "plain").run_id, Some(dispatched_runs(&sim, "plain")[0].id));
    controller.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_server_answering_204_falls_back_to_the_correlation_id() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bp-ghes").await;
    let names = ["core", "lib", "api"];
    let sim = simulated_org(&names, 10).await;
    // An older GitHub Enterprise Server: 2022-11-28 only, `return_run_details` refused with 422, runs listed up to
    // 10 s after their dispatch (the default delay).
    sim.set_faults(FaultConfig { api_versions: Some(vec![API_VERSION_2022_11_28.into()]), ..FaultConfig::default() });
    let _clock = SimClock::start(&sim, 1);
    organization_on(&cluster.client, &ns, &sim).await;
    // A chain, so that the dispatches go one after another: the first answer teaches the client, and the later
    // dispatches must not be refused again (dispatches of one reconcile go out together, each refused at most once).
    repository(&cluster.client, &ns, "core", &[], &[]).await;
    repository(&cluster.client, &ns, "lib", &["core"], &[]).await;
    repository(&cluster.client, &ns, "api", &["lib"], &[]).await;
    let clients = GitHubClients::new(|mut config| {
        config.api_version = API_VERSION_2022_11_28.to_owned();
        Ok(Arc::new(OctocrabGitHub::new(config)?) as Arc<dyn GitHub>)
    });
    let controller = BuildPlanController::start_with_github(cluster.client.clone(), &ns, clients);
    let plans = build_plan(&cluster.client, &ns, "ghes", json!({ "maxParallel": 3 })).await;

    let plan = until_phase(&plans, "ghes", BuildPlanPhase::Succeeded, WAIT).await;
    let log = sim.requests();
    let statuses: Vec<u16> = dispatch_requests(&log).iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 1, "refused once, then remembered: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), names.len(), "{statuses:?}");
    assert_eq!(dispatches(&log), names.iter().map(|n| (n.to_string(), 1)).collect(), "one dispatch each");
    assert!(run_listings(&log) > 0, "a 204 names no run: found by its correlation id");
    for name in names {
        assert_eq!(entry(&plan, name).run_id, Some(dispatched_runs(&sim, name)[0].id), "{name}");
    }
    controller.shutdown().await;
}
