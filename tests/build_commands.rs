//! The detected commands reach the build, end to end (real API server, the strict github-sim, every controller
//! in-process): onboarding writes the commands into the workflow it proposes; once merged, a BuildPlan dispatches
//! it with exactly the detected build and test commands as inputs, and records them; a Repository override changes
//! the next dispatch's commands; a workflow that does not declare the command inputs still dispatches, without
//! them (GitHub would answer 422). And config repair rewrites the installed workflow's commands once detection
//! changes, with one pull request.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use github_sim::{Fixture, LoggedRequest, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::controller::{self, Context, RecheckIntervals};
use infinity_orchestrator::crd::build_plan::BuildPlanPhase;
use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use infinity_orchestrator::metrics::Metrics;
use infinity_orchestrator::plan::build_commands;
use infinity_orchestrator::plan::detect::{describe, manifests_to_fetch, CommandsInEffect};
use infinity_orchestrator::plan::installed_workflows::{build_workflow, carries_commands, TEMPLATES};
use infinity_orchestrator::scope::Scope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use support::build_plans::{build_plan, entry, SimClock};
use support::sim_org::{described_repository, healing_policy, organization_on, requests_to};
use support::{cluster, events_about, eventually, namespace};

const WAIT: Duration = Duration::from_secs(90);
const WORKFLOW_PATH: &str = ".github/workflows/infinity-orchestrator.yml";
const ONBOARDING_BRANCH: &str = "infinity-orchestrator/onboarding";
const REPAIR_BRANCH: &str = "infinity-orchestrator/config-repair/infinity-orchestrator.yml";

/// A workflow of the repository's own: dispatchable, taking the correlation id but no command inputs.
const OWN_WORKFLOW: &str = r#"name: ci
run-name: "ci ${{ inputs.correlation_id }}"
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      correlation_id:
        description: Set by Infinity Orchestrator.
        required: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: go build ./...
"#;

fn commands(build: &str, test: &str) -> CommandsInEffect {
    CommandsInEffect { build_command: Some(build.to_owned()), test_command: Some(test.to_owned()) }
}

fn epoch_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

async fn simulator(repos: serde_json::Value) -> Arc<SimHandle> {
    let fixture = json!({ "tokens": ["test-token"], "start_epoch_secs": epoch_now(),
        "orgs": [{ "login": "acme", "repos": repos }] });
    let fixture: Fixture = serde_json::from_value(fixture).expect("a valid fixture");
    Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim"))
}

/// Every controller, watching one namespace, with BuildPlans polling their runs each second (no webhook receiver
/// here to wake them), stopped when dropped.
struct Operator(tokio::task::JoinHandle<()>, Option<tokio::sync::oneshot::Sender<()>>);

impl Operator {
    fn start(client: Client, namespace: &str) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut ctx = Context::new(client, Some("test".into()), Arc::new(Metrics::default()));
        ctx.recheck = RecheckIntervals { credentials: Duration::from_secs(1) };
        let mut config = OperatorConfig::default();
        config.build.poll_interval = Duration::from_secs(1);
        ctx.config = Arc::new(config);
        let scope = Scope::Namespace(namespace.to_owned());
        let task = tokio::spawn(controller::run(Arc::new(ctx), scope, async move {
            let _ = stopped.await;
        }));
        Operator(task, Some(stop))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(stop) = self.1.take() {
            let _ = stop.send(());
        }
        self.0.abort();
    }
}

/// Asks for a discovery pass now, as a person would with the `requested-at` annotation, and waits until it ran.
async fn discover_now(organizations: &Api<Organization>, tag: &str) {
    let request = json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": tag } } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&request)).await.expect("requesting a pass");
    eventually(&format!("discovery pass {tag}"), WAIT, || async {
        let status = organizations.get("acme").await.ok()?.status?;
        (status.last_handled_request.as_deref() == Some(tag)).then_some(())
    })
    .await;
}

/// Merges a pull request's branch the way GitHub's merge button leaves the default branch: every file of the
/// branch that differs lands on it.
fn merge_branch(sim: &SimHandle, repo: &str, branch: &str) {
    let head = sim.files_at("acme", repo, branch).expect("the pull request's branch");
    let base = sim.files_at("acme", repo, "main").expect("the default branch");
    let changes: BTreeMap<String, Option<String>> = head
        .iter()
        .filter(|(path, text)| base.get(*path) != Some(*text))
        .map(|(path, text)| (path.clone(), Some(text.clone())))
        .collect();
    assert!(!changes.is_empty(), "the branch {branch} changes nothing");
    sim.commit_files("acme", repo, &changes, &format!("Merge {branch}")).expect("merging");
}

/// The accepted dispatches of `workflow` in `repo`, each with the inputs it sent.
fn dispatched_inputs(
    log: &[LoggedRequest],
    repo: &str,
    workflow: &str,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let path = format!("/repos/acme/{repo}/actions/workflows/{workflow}/dispatches");
    requests_to(log, "POST", &path)
        .into_iter()
        .filter(|r| (200..300).contains(&r.status))
        .map(|r| r.request_body.as_ref().and_then(|b| b["inputs"].as_object().cloned()).unwrap_or_default())
        .collect()
}

/// Waits until the plan's run `run_id` (any new one when `None`) succeeded.
async fn run_succeeded(plans: &Api<BuildPlan>, after_run: Option<&str>) -> BuildPlan {
    eventually("the BuildPlan run succeeded", WAIT, || async {
        let plan = plans.get("builds").await.ok()?;
        let status = plan.status.as_ref()?;
        let fresh = status.run_id.is_some() && status.run_id.as_deref() != after_run;
        (fresh && status.phase == Some(BuildPlanPhase::Succeeded)).then_some(plan)
    })
    .await
}

/// Waits until the policy `repair` evaluated `count` more times.
async fn evaluations(policies: &Api<HealingPolicy>, count: usize) {
    for _ in 0..count {
        let before = policies.get("repair").await.ok().and_then(|p| p.status?.last_evaluated);
        eventually("a later evaluation", WAIT, || async {
            let evaluated = policies.get("repair").await.ok()?.status?.last_evaluated;
            (evaluated > before).then_some(())
        })
        .await;
    }
}

/// The demo's organization is one onboarded with this release: the operator's workflow in each of its repositories
/// holds the commands in effect there (detection's, or the override of `examples/repository.yaml`), so the demo's
/// HealingPolicy has no workflow to rewrite and its builds run what the summary shows.
#[test]
fn the_demo_organizations_workflows_hold_the_commands_in_effect() {
    let root = support::repo_root();
    let fixture: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("config/demo/github-org.yaml")).unwrap()).unwrap();
    let example: Repository =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("examples/repository.yaml")).unwrap()).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for repo in fixture["orgs"][0]["repos"].as_sequence().unwrap() {
        let name = repo["name"].as_str().unwrap();
        let files: BTreeMap<String, String> = serde_yaml::from_value(repo["files"].clone()).unwrap_or_default();
        let Some(installed) = files.get(WORKFLOW_PATH) else { continue };
        let tree: Vec<String> = files.keys().cloned().collect();
        let fetched = manifests_to_fetch(&tree).into_iter().filter_map(|p| Some((p.clone(), files.get(&p)?.clone())));
        let description = describe(&tree, &fetched.collect(), repo["language"].as_str());
        let spec = (example.spec.name.0 == name).then_some(&example.spec);
        let commands = build_commands::in_effect(
            spec.and_then(|s| s.build.as_ref()),
            spec.and_then(|s| s.test.as_ref()),
            description.build_command.as_deref(),
            description.test_command.as_deref(),
        );
        let document: serde_yaml::Value = serde_yaml::from_str(installed).unwrap();
        if carries_commands(&document, &commands) != Some(true) {
            wrong.push(format!("{name}: {commands:?}"));
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} workflows checked");
    assert!(wrong.is_empty(), "workflows without their commands:\n{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onboarded_workflow_is_dispatched_with_the_detected_commands_and_an_override_changes_them() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "build-commands").await;
    let sim = simulator(json!([
        { "name": "app", "language": "Rust",
          "files": { "Cargo.toml": "[package]\nname = \"app\"\nversion = \"0.1.0\"\n", "Cargo.lock": "# lock\n",
                     "src/lib.rs": "pub fn app() {}\n" } },
        { "name": "own-ci", "language": "Go",
          "files": { "go.mod": "module github.com/acme/own-ci\n", ".github/workflows/ci.yml": OWN_WORKFLOW } },
    ]))
    .await;
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &serde_json::from_value(secret).unwrap())
        .await
        .unwrap();
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(),
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } }, "onboarding": { "enabled": true } },
    });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let _operator = Operator::start(client.clone(), &ns);

    // Onboarding proposes the workflow with the detected commands written into it, and says so.
    let detected = commands("cargo build --locked", "cargo test");
    eventually("the onboarding pull request recorded", WAIT, || async {
        repositories.get("app").await.ok()?.status?.onboarding_pull_request
    })
    .await;
    let app = repositories.get("app").await.unwrap().status.unwrap();
    assert_eq!(
        (app.build_command.clone(), app.test_command.clone()),
        (detected.build_command.clone(), detected.test_command.clone())
    );
    let opened = requests_to(&sim.requests(), "POST", "/repos/acme/app/pulls")[0].request_body.clone().unwrap();
    let body = opened["body"].as_str().unwrap();
    assert!(body.contains("- build: `cargo build --locked`\n- test: `cargo test`\n"), "{body}");
    assert!(
        body.contains("A push to `main` or `master` runs the workflow with the commands written into it"),
        "{body}"
    );
    let proposed = sim.files_at("acme", "app", ONBOARDING_BRANCH).unwrap();
    assert_eq!(proposed.get(WORKFLOW_PATH), Some(&build_workflow(&detected)));
    for (name, text) in TEMPLATES {
        assert_eq!(proposed.get(&format!(".github/workflows/{name}")).map(String::as_str), Some(*text));
    }

    // Merged, the workflow on the default branch runs the commands on push: the jobs fall back to them, as
    // `inputs` is empty on push.
    merge_branch(&sim, "app", ONBOARDING_BRANCH);
    let merged = sim.files_at("acme", "app", "main").unwrap()[WORKFLOW_PATH].clone();
    let document: serde_yaml::Value = serde_yaml::from_str(&merged).unwrap();
    assert_eq!(carries_commands(&document, &detected), Some(true));
    assert_eq!(document["jobs"]["build"]["with"]["command"], "${{ inputs.build_command || 'cargo build --locked' }}");
    assert_eq!(document["jobs"]["test"]["with"]["command"], "${{ inputs.test_command || 'cargo test' }}");
    assert!(document["on"]["push"].is_mapping(), "a push runs it");
    discover_now(&organizations, "after-merge").await;
    let app = repositories.get("app").await.unwrap().status.unwrap();
    assert_eq!(app.build_workflow.as_deref(), Some("infinity-orchestrator.yml"));
    assert_eq!(app.build_workflow_inputs, ["correlation_id", "build_command", "test_command"]);
    let own = described_repository(client, &ns, "own-ci").await.status.unwrap();
    assert_eq!((own.build_workflow.as_deref(), own.build_command.as_deref()), (Some("ci.yml"), Some("go build ./...")));

    // A BuildPlan dispatches the onboarded workflow with exactly the detected commands, and the other one with
    // none: it does not declare them.
    sim.clear_requests();
    let _clock = SimClock::start(&sim, 5);
    let plans = build_plan(client, &ns, "builds", json!({})).await;
    let plan = run_succeeded(&plans, None).await;
    let log = sim.requests();
    let refused: Vec<String> = log
        .iter()
        .filter(|r| r.path.ends_with("/dispatches") && !(200..300).contains(&r.status))
        .map(|r| format!("{} {} {:?}", r.status, r.path, r.response_body))
        .collect();
    assert!(refused.is_empty(), "no dispatch refused: {refused:?}");
    let sent = dispatched_inputs(&log, "app", "infinity-orchestrator.yml");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["build_command"], "cargo build --locked");
    assert_eq!(sent[0]["test_command"], "cargo test");
    let own_sent = dispatched_inputs(&log, "own-ci", "ci.yml");
    assert_eq!(own_sent.len(), 1, "the workflow without the command inputs still dispatches: {own_sent:?}");
    assert!(
        !own_sent[0].contains_key("build_command") && !own_sent[0].contains_key("test_command"),
        "no command sent to a workflow that does not declare it: {own_sent:?}"
    );
    let built = entry(&plan, "app");
    assert_eq!(
        (built.build_command.as_deref(), built.test_command.as_deref()),
        (Some("cargo build --locked"), Some("cargo test"))
    );
    assert_eq!(
        (entry(&plan, "own-ci").build_command.clone(), entry(&plan, "own-ci").test_command.clone()),
        (None, None)
    );

    eventually("the Event announcing the dispatch names its commands", WAIT, || async {
        let notes = events_about(client, &ns, "builds").await;
        notes
            .iter()
            .any(|n| n.starts_with("app ") && n.contains("build \"cargo build --locked\", test \"cargo test\""))
            .then_some(())
    })
    .await;

    // An override in the Repository's spec changes the next dispatch's commands (a spec change starts a new run).
    let overrides = json!({ "spec": { "build": { "command": "cargo build --release --locked" },
                                      "test": { "command": "cargo nextest run 'it''s' \"quoted\"" } } });
    repositories.patch("app", &PatchParams::default(), &Patch::Merge(&overrides)).await.unwrap();
    sim.clear_requests();
    let first_run = plan.status.as_ref().and_then(|s| s.run_id.clone());
    plans
        .patch("builds", &PatchParams::default(), &Patch::Merge(&json!({ "spec": { "maxParallel": 3 } })))
        .await
        .unwrap();
    let plan = run_succeeded(&plans, first_run.as_deref()).await;
    let sent = dispatched_inputs(&sim.requests(), "app", "infinity-orchestrator.yml");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["build_command"], "cargo build --release --locked");
    assert_eq!(sent[0]["test_command"], "cargo nextest run 'it''s' \"quoted\"");
    let built = entry(&plan, "app");
    assert_eq!(built.build_command.as_deref(), Some("cargo build --release --locked"));
    assert_eq!(built.test_command.as_deref(), Some("cargo nextest run 'it''s' \"quoted\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_repair_rewrites_the_commands_once_detection_changes_with_one_pull_request() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "build-commands-repair").await;
    let cargo = commands("cargo build --locked", "cargo test");
    let mut files = BTreeMap::from([
        ("Cargo.toml".to_owned(), "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n".to_owned()),
        ("Cargo.lock".to_owned(), "# lock\n".to_owned()),
        (WORKFLOW_PATH.to_owned(), build_workflow(&cargo)),
    ]);
    files.extend(TEMPLATES.iter().map(|(name, text)| (format!(".github/workflows/{name}"), (*text).to_owned())));
    let sim = simulator(json!([{ "name": "svc", "language": "Rust", "files": files }])).await;
    let organizations = organization_on(client, &ns, &sim).await;
    let policies = healing_policy(
        client,
        &ns,
        "repair",
        json!({ "mode": "Enforce", "interval": "1s", "cooldown": "1s", "maxActionsPerRepositoryPerHour": 100,
                "actions": { "issue": { "enabled": false }, "rerun": { "enabled": false },
                             "configRepair": { "enabled": true } } }),
    )
    .await;
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let _operator = Operator::start(client.clone(), &ns);
    described_repository(client, &ns, "svc").await;
    // The installed workflow carries the commands in effect: nothing to repair.
    evaluations(&policies, 2).await;
    assert!(requests_to(&sim.requests(), "POST", "/repos/acme/svc/pulls").is_empty(), "nothing to repair yet");

    // Detection changes: the repository became an npm package.
    let package = "{\"name\": \"svc\", \"scripts\": {\"build\": \"tsc\", \"test\": \"jest\"}}\n";
    let changes = BTreeMap::from([
        ("Cargo.toml".to_owned(), None),
        ("Cargo.lock".to_owned(), None),
        ("package.json".to_owned(), Some(package.to_owned())),
        ("package-lock.json".to_owned(), Some("{}\n".to_owned())),
    ]);
    sim.commit_files("acme", "svc", &changes, "Port to TypeScript").unwrap();
    discover_now(&organizations, "after-port").await;
    let status = repositories.get("svc").await.unwrap().status.unwrap();
    let npm =
        CommandsInEffect { build_command: status.build_command.clone(), test_command: status.test_command.clone() };
    assert!(npm.build_command.as_deref().is_some_and(|c| c.starts_with("npm")), "{npm:?}");

    // One pull request rewrites the workflow with the new commands, and only it, however often the policy looks.
    let opened = eventually("the repair pull request", WAIT, || async {
        let opened = requests_to(&sim.requests(), "POST", "/repos/acme/svc/pulls").len();
        (opened > 0).then_some(opened)
    })
    .await;
    assert_eq!(opened, 1);
    let proposed = sim.files_at("acme", "svc", REPAIR_BRANCH).expect("the repair branch");
    assert_eq!(proposed.get(WORKFLOW_PATH), Some(&build_workflow(&npm)));
    assert_eq!(proposed.get("package.json").map(String::as_str), Some(package), "based on the current head");
    let pulls = sim.pull_requests("acme", "svc");
    assert!(pulls[0].4.starts_with("Update the build and test commands"), "{pulls:?}");
    evaluations(&policies, 3).await;
    assert_eq!(requests_to(&sim.requests(), "POST", "/repos/acme/svc/pulls").len(), 1, "no second pull request");

    // Merged, the workflow carries the commands in effect again: nothing more to repair.
    merge_branch(&sim, "svc", REPAIR_BRANCH);
    evaluations(&policies, 3).await;
    assert_eq!(requests_to(&sim.requests(), "POST", "/repos/acme/svc/pulls").len(), 1, "nothing after the merge");
    let status = policies.get("repair").await.unwrap().status.unwrap();
    let repairs: Vec<_> = status.actions.iter().filter(|a| a.action == "ConfigRepair").collect();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].reason.contains("out of date"), "{:?}", repairs[0]);
}
