//! The Argo CD health checks shipped under `deploy/argocd/` (one Lua script per kind), run by Debian's `lua5.4` on
//! objects read as JSON from the real API server: each kind in each state it reaches gives the Argo CD status
//! expected of it. The operator (in-process, against github-sim) brings the kinds into the states it makes; the
//! states a test cannot hold still (a generation not observed yet, work under way, a stall the operator has no cause
//! for) are written through the status subresource in a namespace no operator watches.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use github_sim::{Fixture, SimOptions, Simulator};
use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use support::build_plans::{build_plan, SimClock};
use support::operated_plans::spec_repository;
use support::sim_org::{healing_policy, organization_on};
use support::{cluster, eventually, namespace, repo_root, RunningOperator};

const WAIT: Duration = Duration::from_secs(90);
const KINDS: [&str; 4] = ["Organization", "Repository", "BuildPlan", "HealingPolicy"];

fn health_script(kind: &str) -> PathBuf {
    repo_root().join("deploy/argocd/resource_customizations/orchestrator.infinityxone.io").join(kind).join("health.lua")
}

/// What Argo CD says of `object`: its kind's `health.lua` run with the global `obj` set to the object, as Argo CD
/// runs it; `(hs.status, hs.message)`.
fn argo_health(object: &Value) -> (String, String) {
    let kind = object["kind"].as_str().expect("the object names its kind");
    let program = format!("obj = {}\nlocal hs = dofile(arg[1])\nio.write(hs.status, '\\n', hs.message)\n", lua(object));
    let mut child = Command::new("lua5.4")
        .arg("-")
        .arg(health_script(kind))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running lua5.4 (Debian's lua5.4 package)");
    child.stdin.take().expect("stdin").write_all(program.as_bytes()).expect("writing the program");
    let output = child.wait_with_output().expect("lua5.4 finishes");
    assert!(output.status.success(), "{kind}'s health.lua failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    let (status, message) = text.split_once('\n').expect("a status and a message");
    (status.to_owned(), message.to_owned())
}

/// `value` as a Lua expression: objects become tables keyed by string, arrays sequences, null nil.
fn lua(value: &Value) -> String {
    match value {
        Value::Null => "nil".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => lua_string(text),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("[{}] = {}", lua_string(k), lua(v))).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// A Lua string literal holding `text`'s bytes: quotes, backslashes and control bytes escaped, the rest as is.
fn lua_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => quoted.push_str(&format!("\\{:03}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[test]
fn json_reaches_lua_intact() {
    let value = json!({ "a": [1, { "b": "quote \" backslash \\ newline \n tab \t → é" }], "n": null, "t": true });
    let program = format!(
        "local obj = {}\nio.write(obj.a[1] + 1, '|', obj.a[2].b, '|', tostring(obj.n), '|', tostring(obj.t))",
        lua(&value)
    );
    let output = Command::new("lua5.4").args(["-e", &program]).output().expect("running lua5.4");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text, "2|quote \" backslash \\ newline \n tab \t → é|nil|true");
}

/// The `argocd-cm` snippet in `deploy/argocd/` carries exactly the scripts the tests run.
#[test]
fn the_argocd_cm_snippet_carries_each_kinds_script() {
    let path = repo_root().join("deploy/argocd/argocd-cm.yaml");
    let text = std::fs::read_to_string(&path).expect("reading argocd-cm.yaml");
    let config_map: serde_yaml::Value = serde_yaml::from_str(&text).expect("argocd-cm.yaml is YAML");
    let data = config_map["data"].as_mapping().expect("a data section");
    assert_eq!(data.len(), KINDS.len(), "one health check per kind");
    for kind in KINDS {
        let key = format!("resource.customizations.health.orchestrator.infinityxone.io_{kind}");
        let script = std::fs::read_to_string(health_script(kind)).expect("reading health.lua");
        assert_eq!(data.get(key.as_str()).and_then(|v| v.as_str()), Some(script.as_str()), "{key}");
    }
}

fn resource(kind: &str) -> ApiResource {
    match kind {
        "Organization" => ApiResource::erase::<Organization>(&()),
        "Repository" => ApiResource::erase::<Repository>(&()),
        "BuildPlan" => ApiResource::erase::<BuildPlan>(&()),
        "HealingPolicy" => ApiResource::erase::<HealingPolicy>(&()),
        _ => panic!("not one of our kinds: {kind}"),
    }
}

fn objects(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &resource(kind))
}

/// The condition `type` of `object` as `(status, reason)`.
fn condition<'a>(object: &'a Value, r#type: &str) -> Option<(&'a str, &'a str)> {
    let conditions = object["status"]["conditions"].as_array()?;
    let found = conditions.iter().find(|c| c["type"] == r#type)?;
    Some((found["status"].as_str()?, found["reason"].as_str()?))
}

/// Waits until `reached` holds of the object as the API server has it, then answers what Argo CD says of it.
async fn health_once(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    state: &str,
    reached: impl Fn(&Value) -> bool,
) -> (String, String) {
    let api = objects(client, ns, kind);
    let object = eventually(&format!("{kind} {name}: {state}"), WAIT, || async {
        let object = serde_json::to_value(api.get_opt(name).await.ok()??).ok()?;
        reached(&object).then_some(object)
    })
    .await;
    argo_health(&object)
}

/// `acme` with `core` (a build workflow BuildPlans dispatch, runs that pass) and `red` (runs that fail three times in
/// a row). Simulated time stands still until a test moves it, so that a dispatched run stays in flight.
fn fixture() -> Fixture {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let workflow = json!({ "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
        "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
        "outcome": { "result": "success", "duration_secs": 20 } });
    let run = |conclusion: &str| json!({ "workflow": "build.yml", "event": "push", "conclusion": conclusion });
    serde_json::from_value(json!({
        "tokens": ["test-token"],
        "start_epoch_secs": now,
        "orgs": [{ "login": "acme", "repos": [
            { "name": "core", "files": { "README.md": "# core\n" }, "workflows": [workflow], "runs": [run("success")] },
            { "name": "red", "files": { "README.md": "# red\n" }, "workflows": [workflow],
              "runs": [run("success"), run("failure"), run("failure"), run("failure")] },
        ] }],
    }))
    .expect("a valid fixture")
}

async fn create(client: &Client, ns: &str, kind: &str, name: &str, spec: Value) {
    let object = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": kind,
        "metadata": { "name": name }, "spec": spec });
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    objects(client, ns, kind).create(&PostParams::default(), &object).await.expect("creating an object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_brings_each_kind_into_the_states_argo_cd_tells_apart() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "argocd-health").await;
    let sim = Arc::new(Simulator::start(fixture(), SimOptions::default()).await.expect("starting github-sim"));
    organization_on(client, &ns, &sim).await;
    spec_repository(client, &ns, "core", &[]).await;
    let empty = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "empty" },
        "stringData": { "token": "" } });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets.create(&PostParams::default(), &serde_json::from_value(empty).unwrap()).await.unwrap();
    let credentials = |secret: &str| json!({ "type": "Token", "secretRef": { "name": secret } });
    let api_url = sim.base_url();
    let lacking = json!({ "login": "acme", "apiUrl": api_url, "credentials": credentials("empty") });
    create(client, &ns, "Organization", "lacking", lacking).await;
    let frozen = json!({ "login": "acme", "apiUrl": api_url, "credentials": credentials("gh"), "suspend": true });
    create(client, &ns, "Organization", "frozen", frozen).await;
    let paused = json!({ "organizationRef": { "name": "acme" }, "name": "paused", "suspend": true });
    create(client, &ns, "Repository", "paused", paused).await;
    build_plan(client, &ns, "core-only", json!({ "selector": { "names": ["core"] }, "retryAttempts": 0 })).await;
    build_plan(client, &ns, "typo", json!({ "schedule": "0 25 * * *" })).await;
    build_plan(client, &ns, "held", json!({ "suspend": true })).await;
    healing_policy(client, &ns, "watch", json!({})).await;
    healing_policy(client, &ns, "orphan", json!({ "organizationRef": { "name": "nobody" } })).await;
    healing_policy(client, &ns, "resting", json!({ "suspend": true })).await;
    let _operator = RunningOperator::start(client.clone(), &ns);
    let is = |r#type: &'static str, status: &'static str, reason: &'static str| {
        move |object: &Value| condition(object, r#type) == Some((status, reason))
    };
    let has = |r#type: &'static str, status: &'static str| {
        move |object: &Value| condition(object, r#type).is_some_and(|(s, _)| s == status)
    };

    let synced = is("Ready", "True", "Synced");
    let (status, message) = health_once(client, &ns, "Organization", "acme", "synced", synced).await;
    assert_eq!((status.as_str(), message.as_str()), ("Healthy", "Synced: Discovered 2 repositories"));
    let stalled = has("Stalled", "True");
    let (status, message) = health_once(client, &ns, "Organization", "lacking", "stalled", stalled).await;
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("CredentialsIncomplete: "), "{message}");
    let (status, _) = health_once(client, &ns, "Organization", "frozen", "created", |_| true).await;
    assert_eq!(status, "Suspended");

    let (status, message) = health_once(client, &ns, "Repository", "core", "healthy", |object| {
        is("Ready", "True", "Discovered")(object) && has("Healthy", "True")(object)
    })
    .await;
    assert_eq!(status, "Healthy");
    assert_eq!(message, "Discovered: Discovery found the repository on GitHub and described it");
    let (status, message) = health_once(client, &ns, "Repository", "red", "failing", has("Healthy", "False")).await;
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("ConsecutiveFailures: "), "{message}");
    let (status, _) = health_once(client, &ns, "Repository", "paused", "created", |_| true).await;
    assert_eq!(status, "Suspended");

    // Simulated time stands still: the dispatched run stays in flight until the clock moves.
    let running = is("Reconciling", "True", "Running");
    let (status, message) = health_once(client, &ns, "BuildPlan", "core-only", "running", running).await;
    assert_eq!(status, "Progressing");
    assert!(message.starts_with("Running: Run "), "{message}");
    let _clock = SimClock::start(&sim, 5);
    let succeeded = is("Ready", "True", "Succeeded");
    let (status, message) = health_once(client, &ns, "BuildPlan", "core-only", "succeeded", succeeded).await;
    assert_eq!(status, "Healthy");
    assert!(message.starts_with("Succeeded: Run "), "{message}");
    let (status, message) = health_once(client, &ns, "BuildPlan", "typo", "stalled", has("Stalled", "True")).await;
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("InvalidSchedule: "), "{message}");
    let suspended = is("Ready", "Unknown", "Suspended");
    let (status, _) = health_once(client, &ns, "BuildPlan", "held", "suspended", suspended).await;
    assert_eq!(status, "Suspended");

    let evaluated = is("Ready", "True", "Evaluated");
    let (status, message) = health_once(client, &ns, "HealingPolicy", "watch", "evaluated", evaluated).await;
    assert_eq!(status, "Healthy");
    assert!(message.starts_with("Evaluated: "), "{message}");
    let missing = is("Ready", "False", "OrganizationNotFound");
    let (status, message) = health_once(client, &ns, "HealingPolicy", "orphan", "waiting", missing).await;
    assert_eq!(status, "Degraded");
    assert!(message.contains("\"nobody\""), "{message}");
    let (status, _) = health_once(client, &ns, "HealingPolicy", "resting", "created", |_| true).await;
    assert_eq!(status, "Suspended");
}

/// A condition as the status subresource takes it.
fn said(r#type: &str, status: &str, reason: &str) -> Value {
    json!({ "type": r#type, "status": status, "reason": reason, "message": format!("{} is {status}", r#type),
        "lastTransitionTime": "2026-01-01T00:00:00Z" })
}

/// Writes `conditions` and `observedGeneration` through the status subresource, then answers what Argo CD says.
async fn health_with(client: &Client, ns: &str, kind: &str, generation: i64, conditions: &[Value]) -> (String, String) {
    let name = kind.to_lowercase();
    let status = json!({ "status": { "observedGeneration": generation, "conditions": conditions } });
    let api = objects(client, ns, kind);
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("writing status");
    argo_health(&read(client, ns, kind).await)
}

/// The object of `kind` named after it, as JSON.
async fn read(client: &Client, ns: &str, kind: &str) -> Value {
    let object = objects(client, ns, kind).get(&kind.to_lowercase()).await.expect("reading it back");
    serde_json::to_value(object).expect("JSON")
}

#[tokio::test]
async fn states_written_through_the_status_subresource_read_as_argo_cd_expects() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "argocd-health-written").await;
    let credentials = json!({ "type": "Token", "secretRef": { "name": "gh" } });
    let acme = json!({ "name": "acme" });
    let kinds = [
        ("Organization", json!({ "login": "acme", "credentials": credentials }), json!({ "prune": "Retain" })),
        ("Repository", json!({ "organizationRef": acme, "name": "core" }), json!({ "dependsOn": ["lib"] })),
        ("BuildPlan", json!({ "organizationRef": acme }), json!({ "maxParallel": 3 })),
        ("HealingPolicy", json!({ "organizationRef": acme }), json!({ "maxActionsPerRepositoryPerHour": 3 })),
    ];
    for (kind, spec, edit) in kinds {
        let name = kind.to_lowercase();
        create(client, &ns, kind, &name, spec).await;
        let (status, message) = argo_health(&read(client, &ns, kind).await);
        assert_eq!(status, "Progressing", "{kind} without status");
        assert_eq!(message, format!("Waiting for the operator to report the {kind}'s status"));

        let ready = said("Ready", "True", "Done");
        assert_eq!(health_with(client, &ns, kind, 1, std::slice::from_ref(&ready)).await.0, "Healthy", "{kind}");
        // A spec edit the operator has not observed yet.
        let patch = json!({ "spec": edit });
        objects(client, &ns, kind).patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        let (status, message) = argo_health(&read(client, &ns, kind).await);
        let lagging = ("Progressing", "Waiting for the operator to observe generation 2");
        assert_eq!((status.as_str(), message.as_str()), lagging, "{kind}");

        let working = [said("Ready", "Unknown", "Accepted"), said("Reconciling", "True", "Working")];
        let (status, message) = health_with(client, &ns, kind, 2, &working).await;
        assert_eq!((status.as_str(), message.as_str()), ("Progressing", "Working: Reconciling is True"), "{kind}");
        let stalled = [said("Ready", "False", "Invalid"), said("Stalled", "True", "Invalid")];
        let (status, message) = health_with(client, &ns, kind, 2, &stalled).await;
        assert_eq!((status.as_str(), message.as_str()), ("Degraded", "Invalid: Stalled is True"), "{kind}");
        // kstatus lets abnormal-true conditions be set False instead of removed.
        let settled = [ready.clone(), said("Reconciling", "False", "Done"), said("Stalled", "False", "Done")];
        assert_eq!(health_with(client, &ns, kind, 2, &settled).await.0, "Healthy", "{kind}");
        let failed = [said("Ready", "False", "BuildFailed")];
        assert_eq!(health_with(client, &ns, kind, 2, &failed).await.0, "Degraded", "{kind}");
    }
    let cycle = [said("Ready", "True", "Synced"), said("Degraded", "True", "DependencyCycle")];
    let (status, message) = health_with(client, &ns, "Organization", 2, &cycle).await;
    assert_eq!((status.as_str(), message.as_str()), ("Degraded", "DependencyCycle: Degraded is True"));
    let failing = [said("Ready", "True", "Discovered"), said("Healthy", "False", "ConsecutiveFailures")];
    let (status, message) = health_with(client, &ns, "Repository", 2, &failing).await;
    assert_eq!((status.as_str(), message.as_str()), ("Degraded", "ConsecutiveFailures: Healthy is False"));
}
