//! Reconcile at scale: the operator binary (release build) against the local control plane and github-sim, one
//! Organization of 1,000 and then 10,000 generated repositories. Prints the time from creating the Organization to
//! every Repository object existing and `Ready` (discovery plus every Repository's own reconcile), the operator's CPU
//! time over a minute of steady state afterwards, and its peak RSS.
//!
//! Run with `scripts/control-plane.sh up && cargo build --release --bin infinity-orchestrator &&
//! cargo build --release -p github-sim && cargo bench --bench reconcile` (`IO_BENCH_OPERATOR=path` measures another
//! build of the operator). Each size gets a fresh namespace and a fresh operator process. Nothing is
//! asserted.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

mod common;

use common::{peak_rss_mb, start_simulator, Killed};

const SIZES: [usize; 2] = [1_000, 10_000];
const STEADY: Duration = Duration::from_secs(60);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let state = std::env::var("IO_CP_DIR").unwrap_or_else(|_| "/tmp/infinity-orchestrator-cp".into());
    let kubeconfig = std::path::PathBuf::from(state).join("kubeconfig");
    println!("reconcile at scale: operator (release) + local kube-apiserver 1.20 + github-sim, one Organization");
    println!(
        "{:>7}  {:>22}  {:>24}  {:>11}",
        "repos", "all Ready after (s)", "steady CPU (% of a core)", "peak RSS MB"
    );
    // `IO_BENCH_SIZES=3000,5000` measures other sizes (how the chart's sizing table was filled).
    let sizes: Vec<usize> = match std::env::var("IO_BENCH_SIZES") {
        Ok(list) => list.split(',').map(|size| size.trim().parse().expect("IO_BENCH_SIZES: numbers")).collect(),
        Err(_) => SIZES.to_vec(),
    };
    for size in sizes {
        runtime.block_on(measure(size, &kubeconfig));
    }
}

async fn measure(size: usize, kubeconfig: &std::path::Path) {
    let config = Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig).expect("the control plane's kubeconfig (scripts/control-plane.sh up)"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("kubeconfig");
    let client = Client::try_from(config).expect("client");
    let (_sim, api_url) = start_simulator(size, "reconcile");
    let ns = format!("bench-reconcile-{size}-{}", std::process::id());
    let namespace = json!({ "metadata": { "name": ns } });
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &from(namespace)).await.expect("namespace");
    let secret = json!({ "metadata": { "name": "gh" }, "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(secret)).await.expect("secret");

    let binary = common::operator_binary();
    let operator = Killed(
        Command::new(&binary)
            .args(["run", "--namespace", &ns, "--metrics-addr", "127.0.0.1:0"])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (cargo build --release --bin infinity-orchestrator)")),
    );
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": api_url, "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    let started = Instant::now();
    Api::<Organization>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(org)).await.expect("org");
    // Followed by a watch: a LIST of every object twice a second loaded the API server as much as the operator did.
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    let mut changes = watcher(repositories, watcher::Config::default()).default_backoff().boxed();
    let mut ready = HashSet::new();
    while ready.len() < size {
        let change = tokio::time::timeout(Duration::from_secs(3600).saturating_sub(started.elapsed()), changes.next());
        let change = change.await.unwrap_or_else(|_| panic!("{} of {size} Ready after an hour", ready.len()));
        match change.expect("the watch goes on") {
            Ok(watcher::Event::Apply(r) | watcher::Event::InitApply(r)) if is_ready(&r) => ready.insert(r.name_any()),
            Ok(watcher::Event::Apply(r) | watcher::Event::InitApply(r) | watcher::Event::Delete(r)) => {
                ready.remove(&r.name_any())
            }
            Ok(watcher::Event::Init) => {
                ready.clear();
                false
            }
            Ok(watcher::Event::InitDone) | Err(_) => false,
        };
    }
    let all_ready = started.elapsed().as_secs_f64();
    let pid = operator.0.id();
    let cpu_before = cpu_seconds(pid);
    tokio::time::sleep(STEADY).await;
    let cpu = (cpu_seconds(pid) - cpu_before) / STEADY.as_secs_f64() * 100.0;
    println!("{size:>7}  {all_ready:>22.1}  {cpu:>24.2}  {:>11.1}", peak_rss_mb(&pid.to_string()));
}

fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

fn is_ready(repository: &Repository) -> bool {
    repository
        .conditions()
        .iter()
        .any(|c| c.r#type == "Ready" && c.status == infinity_orchestrator::crd::ConditionStatus::True)
}

/// User plus system CPU seconds of a process, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0 // USER_HZ is 100 on Linux
}
