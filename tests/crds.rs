//! The API types against the real API server: the CRDs install, every example is accepted, invalid objects are
//! rejected with messages naming the field, and `kubectl` shows what users need.

mod support;

use std::time::Duration;

use infinity_orchestrator::crd::build_plan::FailurePolicy;
use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use kube::api::{Api, PostParams};
use kube::core::DynamicObject;
use serde_json::json;
use support::{cluster, eventually, namespace, repo_root};

#[test]
fn crd_command_output_equals_the_committed_files() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .arg("crd")
        .output()
        .expect("running infinity-orchestrator crd");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("UTF-8 output");
    let committed: Vec<String> = ["organization.yaml", "repository.yaml", "buildplan.yaml", "healingpolicy.yaml"]
        .iter()
        .map(|file| std::fs::read_to_string(repo_root().join("crds").join(file)).expect("reading crds/"))
        .collect();
    assert_eq!(
        printed,
        committed.join("---\n"),
        "crds/ is stale: run `cargo run -- crd --out-dir crds` and commit the result"
    );
    let files = std::fs::read_dir(repo_root().join("crds")).expect("listing crds/").count();
    assert_eq!(files, 4, "crds/ holds exactly one file per kind");
}

#[tokio::test]
async fn every_example_is_accepted_and_reads_back_into_our_types() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "examples").await;
    let examples = repo_root().join("examples");
    let applied = cluster.kubectl_ok(&["apply", "-n", &ns, "-f", examples.to_str().expect("UTF-8 path")]);
    for kind in ["organization", "repository", "buildplan", "healingpolicy", "secret"] {
        assert!(applied.contains(kind), "kubectl apply did not mention a {kind}:\n{applied}");
    }
    let client = &cluster.client;
    let organizations = Api::<Organization>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let repositories = Api::<Repository>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let plans = Api::<BuildPlan>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let policies = Api::<HealingPolicy>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    assert_eq!(organizations.items.len(), 1);
    assert_eq!(organizations.items[0].spec.login, "InfinityXOneSystems");
    assert_eq!(repositories.items.len(), 1);
    assert_eq!(repositories.items[0].spec.depends_on.len(), 1);
    assert_eq!(plans.items.len(), 1);
    assert_eq!(plans.items[0].spec.schedule.as_deref(), Some("0 2 * * *"));
    assert_eq!(policies.items.len(), 1);
    assert!(policies.items[0].spec.actions.rollback.enabled);
}

#[tokio::test]
async fn the_server_fills_in_documented_defaults() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "defaults").await;
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    // Send only what a user would write, so that the defaults come from the server's schema, not from serde.
    let created = create_dynamic(
        &cluster.client,
        &ns,
        "buildplans",
        &minimal_json(
            "BuildPlan",
            json!({
                "organizationRef": { "name": "acme" },
            }),
        ),
    )
    .await
    .expect("a minimal BuildPlan is valid");
    // What the operator's configuration supplies stays unset in the object, so that a change of configuration
    // reaches every plan that did not choose for itself.
    assert_eq!(created.data["spec"].get("maxParallel"), None);
    let stored = plans.get("minimal").await.unwrap();
    assert_eq!(stored.spec.max_parallel, None);
    assert_eq!(stored.spec.timeout_minutes, None);
    assert_eq!(stored.spec.retry_attempts, None);
    assert_eq!(stored.spec.history_limit, 10);
    assert_eq!(stored.spec.failure_policy, FailurePolicy::SkipDependents);
    assert!(!stored.spec.suspend);

    let org = create_dynamic(
        &cluster.client,
        &ns,
        "organizations",
        &minimal_json(
            "Organization",
            json!({
                "login": "acme",
                "credentials": { "type": "Token", "secretRef": { "name": "gh" } },
            }),
        ),
    )
    .await
    .expect("a minimal Organization is valid");
    assert_eq!(org.data["spec"]["apiUrl"], "https://api.github.com");
    assert_eq!(org.data["spec"]["discovery"].get("interval"), None, "the operator's discovery.scan_interval applies");
    assert_eq!(org.data["spec"]["discovery"]["visibility"], "All");
    assert_eq!(org.data["spec"]["prune"], "Delete");
}

/// Each invalid object, the field its rejection must name, and the words that say why.
const INVALID: &[(&str, &str, &str, &str)] = &[
    ("buildplans", "BuildPlan", r#"{"organizationRef":{"name":"acme"},"maxParallel":0}"#, "spec.maxParallel"),
    (
        "buildplans",
        "BuildPlan",
        r#"{"organizationRef":{"name":"acme"},"failurePolicy":"Sometimes"}"#,
        "spec.failurePolicy",
    ),
    ("buildplans", "BuildPlan", r#"{"organizationRef":{"name":"acme"},"timeoutMinutes":0}"#, "spec.timeoutMinutes"),
    ("buildplans", "BuildPlan", r#"{"organizationRef":{"name":"acme"},"retryAttempts":11}"#, "spec.retryAttempts"),
    ("buildplans", "BuildPlan", r#"{"organizationRef":{"name":"acme"},"schedule":"every night"}"#, "spec.schedule"),
    ("buildplans", "BuildPlan", r#"{"maxParallel":5}"#, "spec.organizationRef"),
    (
        "buildplans",
        "BuildPlan",
        r#"{"organizationRef":{"name":"acme"},"selector":{"matchExpressions":[{"key":"k","operator":"Like"}]}}"#,
        "spec.selector.matchExpressions",
    ),
    (
        "organizations",
        "Organization",
        r#"{"login":"-not a login-","credentials":{"type":"Token","secretRef":{"name":"gh"}}}"#,
        "spec.login",
    ),
    (
        "organizations",
        "Organization",
        r#"{"login":"acme","credentials":{"type":"Password","secretRef":{"name":"gh"}}}"#,
        "spec.credentials.type",
    ),
    (
        "organizations",
        "Organization",
        r#"{"login":"acme","credentials":{"type":"App","secretRef":{"name":"gh"}},"discovery":{"interval":"6 hours"}}"#,
        "spec.discovery.interval",
    ),
    (
        "organizations",
        "Organization",
        r#"{"login":"acme","credentials":{"type":"App","secretRef":{"name":"gh"}},"apiUrl":"ftp://example.com"}"#,
        "spec.apiUrl",
    ),
    ("repositories", "Repository", r#"{"organizationRef":{"name":"acme"},"name":"has spaces"}"#, "spec.name"),
    (
        "repositories",
        "Repository",
        r#"{"organizationRef":{"name":"acme"},"name":"ok","build":{"workflow":"../escape.sh"}}"#,
        "spec.build.workflow",
    ),
    ("healingpolicies", "HealingPolicy", r#"{"organizationRef":{"name":"acme"},"mode":"Yolo"}"#, "spec.mode"),
    (
        "healingpolicies",
        "HealingPolicy",
        r#"{"organizationRef":{"name":"acme"},"thresholds":{"consecutiveFailures":0}}"#,
        "spec.thresholds.consecutiveFailures",
    ),
    (
        "healingpolicies",
        "HealingPolicy",
        r#"{"organizationRef":{"name":"acme"},"thresholds":{"minSuccessRatePercent":101}}"#,
        "spec.thresholds.minSuccessRatePercent",
    ),
];

#[tokio::test]
async fn invalid_objects_are_rejected_with_a_message_naming_the_field() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "invalid").await;
    for (plural, kind, spec, field) in INVALID {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap();
        let error = create_dynamic(&cluster.client, &ns, plural, &minimal_json(kind, spec.clone()))
            .await
            .expect_err(&format!("{kind} with spec {spec} should be rejected"));
        let kube::Error::Api(status) = &error else { panic!("{kind} {spec}: unexpected error {error}") };
        assert_eq!(status.code, 422, "{kind} {spec}: {status:?}");
        assert!(
            status.message.contains(field),
            "{kind} {spec}: the message should name {field}, got: {}",
            status.message
        );
    }
    // Nothing rejected was stored.
    let stored = cluster.kubectl_ok(&["get", "infinity", "-n", &ns, "-o", "name"]);
    assert_eq!(stored.trim(), "", "rejected objects must not be stored");
}

#[tokio::test]
async fn kubectl_explain_teaches_the_api() {
    let cluster = &cluster().await;
    // The server publishes a new CRD's OpenAPI a moment after it is established.
    let explained = eventually("kubectl explain buildplan.spec.maxParallel", Duration::from_secs(60), || async {
        let output = cluster.kubectl(&["explain", "buildplan.spec.maxParallel"]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    })
    .await;
    assert!(explained.contains("FIELD:    maxParallel <integer>"), "{explained}");
    assert!(explained.contains("Most workflow runs in flight at once across the plan."), "{explained}");
    assert!(explained.contains("Unset: the operator's") && explained.contains("`build.max_parallel`"), "{explained}");

    let credentials = cluster.kubectl_ok(&["explain", "organization.spec.credentials"]);
    assert!(credentials.contains("secretRef") && credentials.contains("-required-"), "{credentials}");
    assert!(credentials.contains("installationId"), "{credentials}");
}

#[tokio::test]
async fn kubectl_get_shows_printer_columns_and_the_infinity_category() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "columns").await;
    let examples = repo_root().join("examples");
    cluster.kubectl_ok(&["apply", "-n", &ns, "-f", examples.to_str().expect("UTF-8 path")]);

    let table = cluster.kubectl_ok(&["get", "repositories,buildplans", "-n", &ns]);
    let headers: Vec<&str> = table.lines().filter(|line| line.starts_with("NAME")).collect();
    assert_eq!(headers.len(), 2, "{table}");
    for column in ["GITHUB", "LANGUAGE", "HEALTH", "HEALTHY", "READY", "AGE"] {
        assert!(headers[0].contains(column), "repositories lack {column}: {}", headers[0]);
    }
    for column in ["ORGANIZATION", "PHASE", "PROGRESS", "READY", "AGE"] {
        assert!(headers[1].contains(column), "buildplans lack {column}: {}", headers[1]);
    }
    assert!(table.contains("api-gateway") && table.contains("nightly-services"), "{table}");

    let wide = cluster.kubectl_ok(&["get", "buildplans", "-n", &ns, "-o", "wide"]);
    assert!(wide.contains("SCHEDULE") && wide.contains("0 2 * * *"), "{wide}");

    let everything = cluster.kubectl_ok(&["get", "infinity", "-n", &ns, "-o", "name"]);
    let mut kinds: Vec<&str> = everything.lines().filter_map(|line| line.split('/').next()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "buildplan.orchestrator.infinityxone.io",
            "healingpolicy.orchestrator.infinityxone.io",
            "organization.orchestrator.infinityxone.io",
            "repository.orchestrator.infinityxone.io",
        ],
        "{everything}"
    );
    let short = cluster.kubectl_ok(&["get", "org,repo,bp,hp", "-n", &ns, "-o", "name"]);
    assert_eq!(short.lines().count(), 4, "short names: {short}");
}

fn minimal_json(kind: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": "minimal" },
        "spec": spec,
    })
}

/// Creates an object from raw JSON, so the test sends exactly what a user would.
async fn create_dynamic(
    client: &kube::Client,
    namespace: &str,
    plural: &str,
    object: &serde_json::Value,
) -> Result<DynamicObject, kube::Error> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let resource = kube::api::ApiResource {
        group: "orchestrator.infinityxone.io".into(),
        version: "v1alpha1".into(),
        api_version: "orchestrator.infinityxone.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("a DynamicObject");
    api.create(&PostParams::default(), &object).await
}
