//! The binary as kubectl's plugin `kubectl infinity`: installed as a `kubectl-infinity` symlink on PATH, run by the
//! real kubectl against the real API server, honouring `--context`, `-n` and `KUBECONFIG`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{cluster, namespace, TestCluster};

/// The context the tests name with `--context`; the kubeconfig's current context points nowhere.
const CONTEXT: &str = "infinity-test";

/// A directory holding `kubectl-infinity` (a symlink to the built binary) and a kubeconfig whose current context is
/// an API server that does not exist, and whose context [`CONTEXT`] is the test cluster with `namespace`.
fn plugin_bed(cluster: &TestCluster, namespace: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubectl-plugin-{namespace}"));
    std::fs::create_dir_all(&dir).expect("a directory for the plugin");
    let link = dir.join("kubectl-infinity");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_infinity-orchestrator"), &link).expect("linking the plugin");

    let text = std::fs::read_to_string(&cluster.kubeconfig).expect("reading the kubeconfig");
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).expect("a kubeconfig");
    let current = config["contexts"][0]["context"].clone();
    let (cluster_name, user) = (current["cluster"].clone(), current["user"].clone());
    let context = |name: &str, cluster: &serde_yaml::Value, namespace: &str| {
        let value = json!({ "name": name, "context": { "cluster": cluster, "user": user, "namespace": namespace } });
        serde_json::from_value::<serde_yaml::Value>(value).expect("a context")
    };
    let nowhere = json!({ "name": "nowhere", "cluster": { "server": "https://127.0.0.1:1" } });
    let contexts = config["contexts"].as_sequence_mut().expect("contexts");
    contexts.push(context(CONTEXT, &cluster_name, namespace));
    contexts.push(context("nowhere", &serde_yaml::Value::from("nowhere"), "default"));
    let clusters = config["clusters"].as_sequence_mut().expect("clusters");
    clusters.push(serde_json::from_value(nowhere).expect("a cluster"));
    config["current-context"] = serde_yaml::Value::from("nowhere");
    std::fs::write(dir.join("kubeconfig"), serde_yaml::to_string(&config).expect("yaml")).expect("writing");
    dir
}

/// `kubectl ARGS` with the plugin's directory first on PATH and its kubeconfig in KUBECONFIG.
fn kubectl(cluster: &TestCluster, bed: &Path, args: &[&str]) -> Output {
    let path = format!("{}:{}", bed.display(), std::env::var("PATH").unwrap_or_default());
    Command::new(&cluster.kubectl)
        .args(args)
        .env("PATH", path)
        .env("KUBECONFIG", bed.join("kubeconfig"))
        .output()
        .expect("running kubectl")
}

fn text(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
    json!({ "type": kind, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1 })
}

/// An Organization synced with 2 repositories, a BuildPlan under way, and a HealingPolicy stalled, each with the
/// status the operator would write.
async fn objects(client: &kube::Client, ns: &str) {
    let organizations: Api<Organization> = Api::namespaced(client.clone(), ns);
    let org = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
        "metadata": { "name": "acme" },
        "spec": { "login": "acme-corp", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } } });
    organizations.create(&PostParams::default(), &serde_json::from_value(org).expect("an Organization")).await.unwrap();
    let status = json!({ "status": { "observedGeneration": 1, "repositoryCount": 2,
        "conditions": [condition("Ready", "True", "Synced", "2 repositories")] } });
    organizations.patch_status("acme", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();

    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), ns);
    let plan = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
        "metadata": { "name": "nightly" }, "spec": { "organizationRef": { "name": "acme" } } });
    plans.create(&PostParams::default(), &serde_json::from_value(plan).expect("a BuildPlan")).await.unwrap();
    let status = json!({ "status": { "observedGeneration": 1, "phase": "Running", "progress": "1/2",
        "counts": { "total": 2, "pending": 0, "running": 1, "succeeded": 1, "failed": 0, "skipped": 0 },
        "conditions": [condition("Reconciling", "True", "Running", "1 run in flight"),
            condition("Ready", "False", "Running", "1 run in flight")] } });
    plans.patch_status("nightly", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();

    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), ns);
    let policy = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "HealingPolicy",
        "metadata": { "name": "heal" }, "spec": { "organizationRef": { "name": "acme" }, "mode": "Enforce" } });
    policies.create(&PostParams::default(), &serde_json::from_value(policy).expect("a HealingPolicy")).await.unwrap();
    let status = json!({ "status": { "observedGeneration": 1,
        "conditions": [condition("Stalled", "True", "OrganizationMissing", "Organization acme has no credentials"),
            condition("Ready", "False", "OrganizationMissing", "Organization acme has no credentials")] } });
    policies.patch_status("heal", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

/// The line of the screen that starts with `name`.
fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    let found = screen.lines().find(|line| line.trim_start().starts_with(&format!("{name} ")));
    found.unwrap_or_else(|| panic!("no row {name} in:\n{screen}"))
}

#[tokio::test]
async fn kubectl_infinity_status_shows_what_each_object_is_doing_in_the_context_and_namespace_asked() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "kubectl-plugin").await;
    objects(&cluster.client, &ns).await;
    let bed = plugin_bed(&cluster, &ns);

    let output = kubectl(&cluster, &bed, &["infinity", "status", "-n", &ns, "--context", CONTEXT]);
    let (screen, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(screen.contains(&format!("Namespace {ns}")), "{screen}");
    let org = row(&screen, "acme");
    assert!(org.contains("Ready") && org.contains("acme-corp") && org.contains(" 2 "), "{screen}");
    let plan = row(&screen, "nightly");
    assert!(plan.contains("Reconciling") && plan.contains("Running") && plan.contains("1/2"), "{screen}");
    let policy = row(&screen, "heal");
    assert!(policy.contains("Stalled") && policy.contains("Organization acme has no credentials"), "{screen}");

    // Without -n, the context's namespace, as kubectl; the flags may come in any order.
    let output = kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "status"]);
    assert!(output.status.success(), "{}", text(&output).1);
    assert_eq!(text(&output).0, screen);

    // The other commands answer through the plugin name too.
    let output = kubectl(&cluster, &bed, &["infinity", "manifest", "--org", "acme", "-n", &ns, "--context", CONTEXT]);
    assert!(output.status.success(), "{}", text(&output).1);
    serde_json::from_str::<serde_json::Value>(&text(&output).0).expect("the manifest is JSON");
    let output = kubectl(&cluster, &bed, &["infinity", "graph", "--org", "acme", "-n", &ns, "--context", CONTEXT]);
    assert!(output.status.success() && text(&output).0.contains("<svg"), "{}", text(&output).1);
    // They too take the context's namespace without -n: the objects exist only in `ns`, and a namespace without
    // them is an error ("Organization acme not found").
    let output = kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "manifest", "--org", "acme"]);
    assert!(output.status.success(), "{}", text(&output).1);
    serde_json::from_str::<serde_json::Value>(&text(&output).0).expect("the manifest is JSON");
    let output = kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "report", "--org", "acme"]);
    assert!(output.status.success(), "{}", text(&output).1);
    let output = kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "plan-timeline", "nightly"]);
    assert!(output.status.success() && text(&output).0.contains("<svg"), "{}", text(&output).1);
    let output =
        kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "manifest", "--org", "acme", "-n", "default"]);
    assert!(!output.status.success(), "-n still wins over the context's namespace");
    let output = kubectl(&cluster, &bed, &["infinity", "--context", CONTEXT, "graph", "--org", "acme"]);
    assert!(output.status.success() && text(&output).0.contains("<svg"), "{}", text(&output).1);

    // Help names the plugin as kubectl users type it.
    let output = kubectl(&cluster, &bed, &["infinity", "--help"]);
    assert!(text(&output).0.contains("Usage: kubectl infinity"), "{}", text(&output).0);
}

#[tokio::test]
async fn a_wrong_context_fails_with_a_clear_message() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "kubectl-plugin-context").await;
    let bed = plugin_bed(&cluster, &ns);

    let output = kubectl(&cluster, &bed, &["infinity", "status", "-n", &ns, "--context", "no-such-context"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("context \"no-such-context\" not found in the kubeconfig"), "{stderr}");
    assert!(stderr.contains(CONTEXT), "the message lists the contexts there are: {stderr}");

    // The current context is honoured when none is named: it points at no server, so the command fails.
    let output = kubectl(&cluster, &bed, &["infinity", "status", "-n", &ns]);
    assert!(!output.status.success(), "{}", text(&output).0);
}
