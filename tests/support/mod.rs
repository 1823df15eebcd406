//! Test bed shared by the integration tests: the real local Kubernetes API server (started once per run by
//! `scripts/control-plane.sh`, reused when it answers), our CRDs installed, one fresh namespace per test, and polling
//! with a deadline instead of sleeps.

#![allow(dead_code)] // each test crate uses its own part of the bed

pub mod build_plans;
pub mod operated_plans;
pub mod process;
pub mod sim_org;
pub mod tcp_proxy;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::controller::{self, Context, RecheckIntervals};
use infinity_orchestrator::metrics::Metrics;
use infinity_orchestrator::scope::Scope;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The repository's root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running control plane with our CRDs installed.
#[derive(Clone)]
pub struct TestCluster {
    /// An administrator's client.
    pub client: Client,
    /// The kubeconfig file `kubectl` uses.
    pub kubeconfig: PathBuf,
    /// The `kubectl` built with the API server, of the same version.
    pub kubectl: PathBuf,
}

/// Where the running control plane is; set up once per test process.
#[derive(Clone)]
struct ClusterFiles {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
}

static CLUSTER: OnceCell<ClusterFiles> = OnceCell::const_new();

/// The shared cluster: started (or reused) and given our CRDs once per test process. The client is made anew for
/// each caller because a client belongs to the async runtime it was made on, and each test has its own.
pub async fn cluster() -> TestCluster {
    let files = CLUSTER.get_or_init(start_cluster).await;
    TestCluster {
        client: client_for(&files.kubeconfig).await,
        kubeconfig: files.kubeconfig.clone(),
        kubectl: files.kubectl.clone(),
    }
}

/// A client on the current runtime for the cluster a kubeconfig names.
pub async fn client_for(kubeconfig: &Path) -> Client {
    let config = Kubeconfig::read_from(kubeconfig).expect("reading the kubeconfig");
    let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await.expect("kubeconfig");
    Client::try_from(config).expect("building a client")
}

async fn start_cluster() -> ClusterFiles {
    let script = repo_root().join("scripts/control-plane.sh");
    let up = Command::new("bash").arg(&script).arg("up").output().expect("running control-plane.sh up");
    assert!(up.status.success(), "control-plane.sh up failed:\n{}", String::from_utf8_lossy(&up.stderr));
    let state = std::env::var("IO_CP_DIR").unwrap_or_else(|_| "/tmp/infinity-orchestrator-cp".into());
    let kubeconfig = PathBuf::from(state).join("kubeconfig");
    let bin_dir = Command::new("bash").arg(&script).arg("bin-dir").output().expect("running control-plane.sh bin-dir");
    let kubectl = PathBuf::from(String::from_utf8_lossy(&bin_dir.stdout).trim()).join("kubectl");
    install_crds(&client_for(&kubeconfig).await).await;
    ClusterFiles { kubeconfig, kubectl }
}

/// Applies every CRD (server-side, idempotent across test processes) and waits until each is established.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("infinity-orchestrator-tests").force();
    for (_, crd) in infinity_orchestrator::crd::all() {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(&crd)).await.unwrap_or_else(|e| panic!("applying CRD {name}: {e}"));
    }
    for (_, crd) in infinity_orchestrator::crd::all() {
        let name = crd.name_any();
        eventually(&format!("CRD {name} established"), Duration::from_secs(30), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                let conditions = crd.status?.conditions?;
                conditions.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
            }
        })
        .await;
    }
}

/// Creates a namespace of its own for one test. Namespaces are not deleted: the local server runs no namespace
/// controller to finish a deletion, and the whole control plane is thrown away after the run.
pub async fn namespace(client: &Client, test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos());
    let name = format!("{}-{}-{:x}", test.replace('_', "-"), std::process::id(), nanos.unwrap_or(0));
    let name: String = name.chars().take(63).collect::<String>().trim_end_matches('-').to_owned();
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace =
        Namespace { metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() }, ..Default::default() };
    api.create(&PostParams::default(), &namespace).await.unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name
}

/// Polls `probe` until it returns `Some`, failing the test with `what` when `timeout` passes first.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestCluster {
    /// Runs `kubectl` against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"))
    }

    /// Runs `kubectl` and returns its standard output, failing the test when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A control plane of its own, for a test that must start from an empty cluster (no CRDs); stopped when dropped.
pub struct DedicatedControlPlane {
    state_dir: PathBuf,
    api_port: u16,
    etcd_port: u16,
    apiserver_args: String,
    /// Its kubeconfig, as the cluster administrator.
    pub kubeconfig: PathBuf,
}

impl DedicatedControlPlane {
    /// Starts etcd and kube-apiserver on free loopback ports, with state under a fresh directory.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, "")
    }

    /// Like [`DedicatedControlPlane::start`], with extra kube-apiserver flags (kept for its restarts).
    pub fn start_with(name: &str, apiserver_args: &str) -> Self {
        let state_dir = std::env::temp_dir().join(format!("io-cp-{name}-{}", std::process::id()));
        let api_port = free_port_pair().0;
        let etcd_port = free_port_pair().0;
        let plane = DedicatedControlPlane {
            kubeconfig: state_dir.join("kubeconfig"),
            state_dir,
            api_port,
            etcd_port,
            apiserver_args: apiserver_args.to_owned(),
        };
        let up = plane.script("up");
        assert!(
            up.status.success(),
            "a dedicated control plane did not start:\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        plane
    }

    /// A client for it.
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig).await
    }

    /// The port kube-apiserver listens on.
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// kube-apiserver's log (kept across restarts).
    pub fn apiserver_log(&self) -> PathBuf {
        self.state_dir.join("apiserver.log")
    }

    /// Its files as the shared bed has them, our CRDs installed, for tests written against [`TestCluster`].
    pub async fn as_test_cluster(&self) -> TestCluster {
        let client = self.client().await;
        install_crds(&client).await;
        TestCluster { client, kubeconfig: self.kubeconfig.clone(), kubectl: kubectl_path() }
    }

    /// Stops kube-apiserver and starts it again on the same etcd data; returns once it is ready.
    pub fn restart_apiserver(&self) {
        let restarted = self.script("restart-apiserver");
        assert!(
            restarted.status.success(),
            "kube-apiserver did not restart:\n{}",
            String::from_utf8_lossy(&restarted.stderr)
        );
    }

    /// Compacts etcd's history up to its current revision, which it returns.
    pub fn compact_etcd(&self) -> u64 {
        let compacted = self.script("compact-etcd");
        assert!(compacted.status.success(), "compacting etcd failed:\n{}", String::from_utf8_lossy(&compacted.stderr));
        let revision = String::from_utf8_lossy(&compacted.stdout).trim().to_owned();
        revision.parse().unwrap_or_else(|_| panic!("compact-etcd printed {revision:?}, not a revision"))
    }

    fn script(&self, command: &str) -> Output {
        Command::new("bash")
            .arg(repo_root().join("scripts/control-plane.sh"))
            .arg(command)
            .env("IO_CP_DIR", &self.state_dir)
            .env("IO_CP_PORT", self.api_port.to_string())
            .env("IO_ETCD_PORT", self.etcd_port.to_string())
            .env("IO_APISERVER_ARGS", &self.apiserver_args)
            .output()
            .expect("running control-plane.sh")
    }
}

/// The `kubectl` built with the API server.
fn kubectl_path() -> PathBuf {
    let script = repo_root().join("scripts/control-plane.sh");
    let bin_dir = Command::new("bash").arg(&script).arg("bin-dir").output().expect("running control-plane.sh bin-dir");
    PathBuf::from(String::from_utf8_lossy(&bin_dir.stdout).trim()).join("kubectl")
}

impl Drop for DedicatedControlPlane {
    fn drop(&mut self) {
        let _ = self.script("down");
    }
}

/// A free loopback port whose successor is free too (etcd takes a client port and the next one for peers).
fn free_port_pair() -> (u16, u16) {
    for _ in 0..100 {
        let Ok(first) = std::net::TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(port) = first.local_addr().map(|a| a.port()) else { continue };
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return (port, port + 1);
        }
    }
    panic!("no two adjacent free ports on 127.0.0.1");
}

/// Fails the test if any of `secrets` appears in the namespace's Events, in any object of ours there (spec, status
/// and metadata), or in any of `logs` (files the operator wrote). Secrets shorter than 8 bytes are refused: too
/// short to search for without false alarms, and no real credential is that short.
pub async fn assert_no_secret_leaks(client: &Client, namespace: &str, secrets: &[&str], logs: &[&Path]) {
    use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization, Repository};
    use k8s_openapi::api::events::v1::Event;
    use kube::api::ListParams;

    for secret in secrets {
        assert!(secret.len() >= 8, "a secret to scan for must be at least 8 bytes: {secret:?}");
    }
    let mut places: Vec<(String, String)> = Vec::new();
    let list = ListParams::default();
    let events = Api::<Event>::namespaced(client.clone(), namespace).list(&list).await.expect("listing Events");
    for event in events {
        places.push((format!("Event {}", event.name_any()), serde_json::to_string(&event).unwrap_or_default()));
    }
    macro_rules! scan_kind {
        ($kind:ty) => {
            let objects = Api::<$kind>::namespaced(client.clone(), namespace).list(&list).await.expect("listing");
            for object in objects {
                let name = format!("{} {}", stringify!($kind), object.name_any());
                places.push((name, serde_json::to_string(&object).unwrap_or_default()));
            }
        };
    }
    scan_kind!(Organization);
    scan_kind!(Repository);
    scan_kind!(BuildPlan);
    scan_kind!(HealingPolicy);
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("reading {}: {e}", log.display()));
        assert!(!text.is_empty(), "the log {} is empty: nothing was scanned", log.display());
        places.push((format!("log {}", log.display()), text));
    }
    assert!(!places.is_empty(), "nothing to scan in namespace {namespace}");
    for secret in secrets {
        for (place, text) in &places {
            assert!(!text.contains(secret), "a secret leaked into {place}");
        }
    }
}

/// The operator's controllers, watching one namespace, stopped when dropped.
pub struct RunningOperator {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningOperator {
    /// Starts every controller on the current runtime, watching only `namespace`.
    pub fn start(client: Client, namespace: &str) -> Self {
        Self::start_configured(client, namespace, OperatorConfig::default())
    }

    /// Like [`RunningOperator::start`], with the operator's configuration `config`.
    pub fn start_configured(client: Client, namespace: &str, config: OperatorConfig) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut ctx = Context::new(client, Some("test".into()), Arc::new(Metrics::default()));
        ctx.config = Arc::new(config);
        // Secrets are polled, not watched; a short interval keeps the test quick without changing what it shows.
        ctx.recheck = RecheckIntervals { credentials: Duration::from_secs(1) };
        let ctx = Arc::new(ctx);
        let scope = Scope::Namespace(namespace.to_owned());
        let task = tokio::spawn(controller::run(ctx, scope, async move {
            let _ = stopped.await;
        }));
        RunningOperator { stop: Some(stop), task }
    }

    /// Signals shutdown and waits for the controllers to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("the controllers stop within 20s of the shutdown signal")
            .expect("the controllers did not panic");
    }
}

/// The notes of the Events in `namespace` about the object named `name` (any kind).
pub async fn events_about(client: &Client, namespace: &str, name: &str) -> Vec<String> {
    use k8s_openapi::api::events::v1::Event;
    let events = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&kube::api::ListParams::default())
        .await
        .expect("listing Events");
    events
        .items
        .into_iter()
        .filter(|event| event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|event| event.note)
        .collect()
}

/// The token Secret `gh` (holding `token`) and the Organization `acme` on the GitHub at `api_url`, listed every six
/// hours and read by `reads` (`GraphQL` or `REST`).
pub async fn token_organization(client: &Client, namespace: &str, token: &str, api_url: &str, reads: &str) {
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gh"}, "stringData": {"token": token}});
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    secrets.create(&PostParams::default(), &serde_json::from_value(secret).unwrap()).await.unwrap();
    let org = serde_json::json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": {"name": "acme"},
        "spec": {"login": "acme", "apiUrl": api_url,
                 "credentials": {"type": "Token", "secretRef": {"name": "gh"}},
                 "discovery": {"interval": "6h", "reads": reads}},
    });
    let organizations: Api<infinity_orchestrator::crd::Organization> = Api::namespaced(client.clone(), namespace);
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
}
