//! The Helm chart's RBAC, denied what it must not have: installed with the real helm (scripts/helm-tools.sh) into
//! the shared local control plane, its ServiceAccount is asked about every verb that matters through the API
//! server's own authorizer (SubjectAccessReview), and the worst of them are tried for real with the ServiceAccount's
//! token. A few allowed rows in each table show that the checks can say yes.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use serde_json::json;
use support::{client_for, cluster, namespace, repo_root, TestCluster};

const CHART: &str = "infinity-orchestrator";

/// A private copy of the cluster's kubeconfig: `control-plane.sh up`, which any test process may run at any time,
/// rewrites the shared file in place, and a tool reading it at that moment would find it empty.
fn kubeconfig_copy(cluster: &TestCluster) -> PathBuf {
    let copy = std::env::temp_dir().join(format!("io-rbac-{}.kubeconfig", std::process::id()));
    for _ in 0..100 {
        let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap_or_default();
        if text.contains("server:") && text.contains("token: ") {
            std::fs::write(&copy, text).expect("writing a kubeconfig");
            return copy;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the kubeconfig {} stays incomplete", cluster.kubeconfig.display());
}

/// helm v4 and kubectl 1.35 (the control plane's own kubectl 1.20 cannot `create token`).
fn tool(cluster: &TestCluster, name: &str, args: &[&str]) -> Output {
    let output = Command::new("bash").arg(repo_root().join("scripts/helm-tools.sh")).output().expect("helm-tools.sh");
    assert!(output.status.success(), "helm-tools.sh failed: {}", String::from_utf8_lossy(&output.stderr));
    let tools = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Command::new(tools.join(name))
        .args(args)
        .env("KUBECONFIG", kubeconfig_copy(cluster))
        .env("HELM_CACHE_HOME", std::env::temp_dir().join("io-helm-cache"))
        .output()
        .unwrap_or_else(|e| panic!("running {name} {args:?}: {e}"))
}

fn helm(cluster: &TestCluster, args: &[&str]) -> Output {
    tool(cluster, "helm", args)
}

/// Installs the chart as `release` into `namespace` with `values` (`--set` pairs); returns the ServiceAccount name.
fn install(cluster: &TestCluster, release: &str, namespace: &str, values: &[&str]) -> String {
    let chart = repo_root().join("charts").join(CHART);
    let mut args = vec!["install", release, chart.to_str().expect("UTF-8 path"), "-n", namespace, "--skip-crds"];
    for value in values {
        args.extend(["--set", value]);
    }
    let output = helm(cluster, &args);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("STATUS: deployed"), "helm install failed:\n{text}");
    format!("{release}-{CHART}")
}

/// One question to the authorizer: may the ServiceAccount `verb` the `resource` (group, `resource/subresource`) in
/// `namespace` (empty: cluster-wide), optionally only the object `name`?
struct Row {
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: String,
    name: &'static str,
    allowed: bool,
}

fn row(verb: &'static str, group: &'static str, resource: &'static str, namespace: &str, allowed: bool) -> Row {
    Row { verb, group, resource, namespace: namespace.to_owned(), name: "", allowed }
}

fn named(mut row: Row, name: &'static str) -> Row {
    row.name = name;
    row
}

/// Asks the API server's authorizer each row for `system:serviceaccount:NAMESPACE:ACCOUNT`; fails listing every row
/// whose answer differs.
async fn check(admin: &Client, namespace: &str, account: &str, rows: &[Row]) {
    let reviews: Api<SubjectAccessReview> = Api::all(admin.clone());
    let user = format!("system:serviceaccount:{namespace}:{account}");
    let groups = vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".to_owned(),
    ];
    let mut wrong = Vec::new();
    for row in rows {
        let (resource, subresource) = match row.resource.split_once('/') {
            Some((resource, subresource)) => (resource, Some(subresource.to_owned())),
            None => (row.resource, None),
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.clone()),
                groups: Some(groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(row.verb.to_owned()),
                    group: Some(row.group.to_owned()),
                    resource: Some(resource.to_owned()),
                    subresource,
                    namespace: (!row.namespace.is_empty()).then(|| row.namespace.clone()),
                    name: (!row.name.is_empty()).then(|| row.name.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = reviews.create(&PostParams::default(), &review).await.expect("a SubjectAccessReview");
        let allowed = answer.status.map(|status| status.allowed).unwrap_or(false);
        if allowed != row.allowed {
            let scope = if row.namespace.is_empty() { "cluster-wide".to_owned() } else { row.namespace.clone() };
            let group = if row.group.is_empty() { "core" } else { row.group };
            wrong.push(format!(
                "{} {} {}/{}{} in {scope}: {} but expected {}",
                account,
                row.verb,
                group,
                row.resource,
                if row.name.is_empty() { String::new() } else { format!(" {}", row.name) },
                if allowed { "allowed" } else { "denied" },
                if row.allowed { "allowed" } else { "denied" },
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} RBAC answers are wrong:\n{}", wrong.len(), rows.len(), wrong.join("\n"));
}

/// A client holding a fresh token of the ServiceAccount, and nothing else.
async fn service_account_client(cluster: &TestCluster, namespace: &str, account: &str, dir: &Path) -> Client {
    let output = tool(cluster, "kubectl", &["create", "token", account, "-n", namespace]);
    assert!(output.status.success(), "kubectl create token: {}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8_lossy(&output.stdout).into_owned();
    let admin_config = std::fs::read_to_string(kubeconfig_copy(cluster)).expect("reading the kubeconfig");
    let admin_token = admin_config.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("an admin token");
    let path = dir.join(format!("{account}.kubeconfig"));
    std::fs::write(&path, admin_config.replace(admin_token, token.trim())).expect("writing a kubeconfig");
    client_for(&path).await
}

fn is_forbidden<T: std::fmt::Debug>(result: &Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
async fn the_charts_service_account_is_denied_what_it_must_not_have() {
    let cluster = cluster().await;
    let admin = cluster.client.clone();
    let system = namespace(&admin, "rbac-system").await;
    let credentials = namespace(&admin, "rbac-credentials").await;
    let elsewhere = namespace(&admin, "rbac-elsewhere").await;
    let release = format!("rbac{}", std::process::id());
    let account = install(&cluster, &release, &system, &[&format!("credentialNamespaces={{{credentials}}}")]);
    let lease = format!("{release}-{CHART}");
    let lease: &'static str = Box::leak(lease.into_boxed_str());
    let (s, c, e) = (system.as_str(), credentials.as_str(), elsewhere.as_str());
    const OURS: &str = "orchestrator.infinityxone.io";

    let mut rows = vec![
        // What it needs, so that the table can say yes.
        row("get", "", "secrets", c, true),
        row("list", OURS, "organizations", "", true),
        row("watch", OURS, "buildplans", "", true),
        row("create", OURS, "repositories", e, true),
        row("delete", OURS, "repositories", e, true),
        row("patch", OURS, "buildplans/status", e, true),
        row("update", OURS, "healingpolicies/finalizers", e, true),
        row("create", "events.k8s.io", "events", e, true),
        row("create", "", "configmaps", e, true),
        row("create", "coordination.k8s.io", "leases", s, true),
        named(row("update", "coordination.k8s.io", "leases", s, true), lease),
        // Secrets: read only, only in the credential namespaces, and never listed or watched.
        row("get", "", "secrets", s, false),
        row("get", "", "secrets", e, false),
        row("get", "", "secrets", "kube-system", false),
        row("get", "", "secrets", "", false),
        row("list", "", "secrets", c, false),
        row("watch", "", "secrets", c, false),
        row("list", "", "secrets", "", false),
        row("create", "", "secrets", c, false),
        row("update", "", "secrets", c, false),
        row("patch", "", "secrets", c, false),
        row("delete", "", "secrets", c, false),
        row("deletecollection", "", "secrets", c, false),
        // Workloads: not even its own Deployment.
        row("get", "apps", "deployments", s, false),
        row("patch", "apps", "deployments", s, false),
        row("create", "apps", "deployments", e, false),
        row("delete", "apps", "deployments", s, false),
        row("update", "apps", "deployments/scale", s, false),
        row("create", "apps", "daemonsets", e, false),
        row("create", "apps", "statefulsets", e, false),
        row("list", "", "pods", "", false),
        row("create", "", "pods", e, false),
        row("delete", "", "pods", s, false),
        row("create", "", "pods/exec", s, false),
        row("get", "", "pods/log", s, false),
        row("create", "", "pods/eviction", s, false),
        row("create", "batch", "jobs", e, false),
        row("create", "batch", "cronjobs", e, false),
        // Namespaces, nodes, identities.
        row("create", "", "namespaces", "", false),
        row("delete", "", "namespaces", "", false),
        row("patch", "", "namespaces", "", false),
        row("list", "", "nodes", "", false),
        row("create", "", "serviceaccounts", s, false),
        row("create", "", "serviceaccounts/token", s, false),
        row("impersonate", "", "serviceaccounts", "", false),
        row("impersonate", "", "users", "", false),
        row("impersonate", "", "groups", "", false),
        row("create", "certificates.k8s.io", "certificatesigningrequests", "", false),
        row("update", "certificates.k8s.io", "certificatesigningrequests/approval", "", false),
        // RBAC: no way to grant itself more.
        row("create", "rbac.authorization.k8s.io", "clusterroles", "", false),
        row("update", "rbac.authorization.k8s.io", "clusterroles", "", false),
        row("escalate", "rbac.authorization.k8s.io", "clusterroles", "", false),
        row("bind", "rbac.authorization.k8s.io", "clusterroles", "", false),
        row("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", false),
        row("create", "rbac.authorization.k8s.io", "roles", c, false),
        row("create", "rbac.authorization.k8s.io", "rolebindings", c, false),
        row("patch", "rbac.authorization.k8s.io", "rolebindings", s, false),
        // Other API groups, its own CRDs included.
        row("create", "apiextensions.k8s.io", "customresourcedefinitions", "", false),
        row("update", "apiextensions.k8s.io", "customresourcedefinitions", "", false),
        row("delete", "apiextensions.k8s.io", "customresourcedefinitions", "", false),
        row("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", false),
        row("create", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", false),
        row("create", "networking.k8s.io", "ingresses", e, false),
        row("create", "networking.k8s.io", "networkpolicies", e, false),
        row("create", "policy", "poddisruptionbudgets", e, false),
        row("create", "storage.k8s.io", "storageclasses", "", false),
        row("create", "", "persistentvolumes", "", false),
        row("create", "", "services", e, false),
        row("create", "apiregistration.k8s.io", "apiservices", "", false),
        // Leases: only its own, only in its namespace.
        row("create", "coordination.k8s.io", "leases", e, false),
        named(row("update", "coordination.k8s.io", "leases", s, false), "someone-elses-lease"),
        named(row("update", "coordination.k8s.io", "leases", "kube-system", false), "kube-controller-manager"),
        row("delete", "coordination.k8s.io", "leases", s, false),
    ];
    // Our kinds: everything the controllers do, but never deletecollection.
    rows.push(row("deletecollection", OURS, "organizations", e, false));
    check(&admin, s, &account, &rows).await;

    // The worst of those, tried for real with the ServiceAccount's own token.
    let secret: Secret = serde_json::from_value(json!({ "metadata": { "name": "gh" },
        "stringData": { "token": "rbac-test-token-value" } }))
    .expect("a Secret");
    for ns in [c, e] {
        Api::<Secret>::namespaced(admin.clone(), ns).create(&PostParams::default(), &secret).await.expect("a Secret");
    }
    let dir = std::env::temp_dir().join(format!("io-rbac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let sa = service_account_client(&cluster, s, &account, &dir).await;
    let granted = Api::<Secret>::namespaced(sa.clone(), c).get("gh").await;
    assert!(granted.is_ok(), "reading the Secret in a credential namespace: {granted:?}");
    let mut denied: Vec<(&str, bool)> = vec![
        ("get a Secret elsewhere", is_forbidden(&Api::<Secret>::namespaced(sa.clone(), e).get("gh").await)),
        ("list Secrets", is_forbidden(&Api::<Secret>::namespaced(sa.clone(), c).list(&Default::default()).await)),
        ("list Secrets cluster-wide", is_forbidden(&Api::<Secret>::all(sa.clone()).list(&Default::default()).await)),
        (
            "create a Secret",
            is_forbidden(&Api::<Secret>::namespaced(sa.clone(), c).create(&PostParams::default(), &secret).await),
        ),
        (
            "delete a Secret",
            is_forbidden(&Api::<Secret>::namespaced(sa.clone(), c).delete("gh", &DeleteParams::default()).await),
        ),
    ];
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": "shell" },
        "spec": { "containers": [{ "name": "shell", "image": "busybox" }] } }))
    .expect("a Pod");
    denied.push((
        "create a Pod",
        is_forbidden(&Api::<Pod>::namespaced(sa.clone(), e).create(&PostParams::default(), &pod).await),
    ));
    let extra: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": format!("{release}-extra") } })).unwrap();
    denied.push((
        "create a Namespace",
        is_forbidden(&Api::<Namespace>::all(sa.clone()).create(&PostParams::default(), &extra).await),
    ));
    denied.push((
        "delete a Namespace",
        is_forbidden(&Api::<Namespace>::all(sa.clone()).delete(e, &DeleteParams::default()).await),
    ));
    let binding: k8s_openapi::api::rbac::v1::ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": { "name": format!("{release}-escalation") },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin" },
        "subjects": [{ "kind": "ServiceAccount", "name": account, "namespace": s }],
    }))
    .unwrap();
    let escalation = Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(sa.clone())
        .create(&PostParams::default(), &binding)
        .await;
    denied.push(("bind itself to cluster-admin", is_forbidden(&escalation)));
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(sa.clone(), s);
    denied.push(("read its own Deployment", is_forbidden(&deployments.get(&account).await)));
    let refused: Vec<&str> = denied.iter().filter(|(_, forbidden)| !forbidden).map(|(what, _)| *what).collect();
    assert!(refused.is_empty(), "the ServiceAccount's token could: {refused:?}");
    // Nothing it tried happened.
    assert!(Api::<Secret>::namespaced(admin.clone(), c).get("gh").await.is_ok(), "the Secret is still there");
    assert!(Api::<Pod>::namespaced(admin.clone(), e).get_opt("shell").await.expect("reading Pods").is_none());
    let stored = Api::<ConfigMap>::namespaced(sa.clone(), e).list(&Default::default()).await;
    assert!(stored.is_ok(), "and yet it can do its job: listing ConfigMaps {stored:?}");

    let uninstall = helm(&cluster, &["uninstall", &release, "-n", s]);
    assert!(uninstall.status.success(), "{}", String::from_utf8_lossy(&uninstall.stderr));
}

#[tokio::test]
async fn a_namespaced_install_reaches_only_its_namespace_and_its_named_secrets() {
    let cluster = cluster().await;
    let admin = cluster.client.clone();
    let system = namespace(&admin, "rbac-ns-system").await;
    let team = namespace(&admin, "rbac-ns-team").await;
    let elsewhere = namespace(&admin, "rbac-ns-elsewhere").await;
    let release = format!("rbacns{}", std::process::id());
    let account = install(
        &cluster,
        &release,
        &system,
        &[&format!("watchNamespace={team}"), &format!("credentialNamespaces={{{team}}}"), "credentialSecretNames={gh}"],
    );
    const OURS: &str = "orchestrator.infinityxone.io";
    let (t, e) = (team.as_str(), elsewhere.as_str());
    let rows = vec![
        row("list", OURS, "organizations", t, true),
        row("patch", OURS, "buildplans/status", t, true),
        row("create", "", "configmaps", t, true),
        named(row("get", "", "secrets", t, true), "gh"),
        // Outside its namespace: nothing of ours, no ConfigMaps, no Events.
        row("list", OURS, "organizations", "", false),
        row("get", OURS, "organizations", e, false),
        row("create", OURS, "repositories", e, false),
        row("create", "", "configmaps", e, false),
        row("get", "", "configmaps", "kube-system", false),
        row("create", "events.k8s.io", "events", e, false),
        // Secrets: only the named one.
        named(row("get", "", "secrets", t, false), "other"),
        row("get", "", "secrets", t, false),
        named(row("get", "", "secrets", e, false), "gh"),
        row("list", "", "secrets", t, false),
    ];
    check(&admin, &system, &account, &rows).await;
    let uninstall = helm(&cluster, &["uninstall", &release, "-n", &system]);
    assert!(uninstall.status.success(), "{}", String::from_utf8_lossy(&uninstall.stderr));
}
