//! Latency from a `workflow_run` webhook to the dispatch of the dependent build: the operator binary (release
//! build) with its webhook receiver, the local control plane, and an in-process github-sim whose clock this program
//! moves. A BuildPlan builds a chain of repositories (each depends on the one before) with the run poll set to ten
//! minutes, so every step is driven by a delivery. Each step: move simulated time past the running build, which
//! makes the simulator complete the run and deliver `workflow_run`; the clock stops when the dependent's
//! `workflow_dispatch` reaches the simulator. Prints the distribution. Nothing is asserted.
//!
//! Run with `scripts/control-plane.sh up && cargo build --release --bin infinity-orchestrator &&
//! cargo bench --bench webhook_latency`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use github_sim::webhook::WebhookTarget;
use github_sim::{Fixture, LoggedRequest, SimOptions, Simulator};
use infinity_orchestrator::crd::{BuildPlan, Organization, Repository};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

mod common;

use common::Killed;

/// Repositories in the chain; every one after the first gives one sample. `IO_BENCH_CHAIN` overrides it.
const CHAIN: usize = 101;
const WEBHOOK_SECRET: &str = "webhook-latency-bench-secret";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(measure());
}

fn name(i: usize) -> String {
    format!("r{i:03}")
}

async fn measure() {
    let chain = common::setting("IO_BENCH_CHAIN", CHAIN);
    // `IO_BENCH_LOG=path` keeps the operator's log there.
    let log = std::env::var("IO_BENCH_LOG").ok();
    let (kubeconfig, client) = common::control_plane().await;

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let repos: Vec<serde_json::Value> = (0..chain)
        .map(|i| {
            json!({
                "name": name(i),
                "files": { "README.md": "# bench\n" },
                "workflows": [{
                    "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
                    "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
                    "outcome": { "result": "success", "duration_secs": 60 },
                }],
            })
        })
        .collect();
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": repos }],
        "tokens": ["test-token"],
        "start_epoch_secs": now,
        "rate_limit": 10_000_000,
    }))
    .expect("a fixture");
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("github-sim");

    let ns = format!("bench-webhook-{}", std::process::id());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &from(json!({ "metadata": { "name": ns } })))
        .await
        .expect("namespace");
    let secret = json!({ "metadata": { "name": "gh" },
        "stringData": { "token": "test-token", "webhookSecret": WEBHOOK_SECRET } });
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(secret)).await.expect("secret");
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(),
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    Api::<Organization>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(org)).await.expect("org");
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    for i in 0..chain {
        let depends_on: Vec<String> = if i == 0 { Vec::new() } else { vec![name(i - 1)] };
        let repo = json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
            "metadata": { "name": name(i) },
            "spec": { "organizationRef": { "name": "acme" }, "name": name(i), "dependsOn": depends_on,
                "build": { "workflow": "build.yml", "ref": "main" } },
        });
        repositories.create(&PostParams::default(), &from(repo)).await.expect("repository");
    }

    let (webhook_port, metrics_port) = two_free_ports();
    let binary = common::operator_binary();
    let _operator = Killed(
        Command::new(&binary)
            .args(["run", "--namespace", &ns, "--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--webhook-addr", &format!("127.0.0.1:{webhook_port}")])
            .args(["--set", "build.poll_interval=10m"])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
            .stdout(Stdio::null())
            .stderr(log.map_or_else(Stdio::null, |path| std::fs::File::create(path).expect("the log file").into()))
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (cargo build --release --bin infinity-orchestrator)")),
    );
    sim.set_webhook(WebhookTarget {
        url: format!("http://127.0.0.1:{webhook_port}/webhook"),
        secret: WEBHOOK_SECRET.to_owned(),
    });
    let plan = json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
        "metadata": { "name": "chain" }, "spec": { "organizationRef": { "name": "acme" }, "retryAttempts": 0 } });
    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), &ns);
    plans.create(&PostParams::default(), &from(plan)).await.expect("plan");

    // The first dispatch comes from the plan's creation (after discovery adopted the repositories), not a webhook.
    wait_for_dispatch(&sim, Duration::from_secs(300)).await.expect("the first dispatch");
    // Deliveries come in steady state, not while the operator still writes every Repository's first health and
    // discovery status: those writes would be measured instead (the first samples took seconds).
    let settled = settle(metrics_port).await;
    let mut latencies = Vec::with_capacity(chain - 1);
    for _ in 1..chain {
        sim.clear_requests();
        let moved = Instant::now();
        sim.advance_clock(100);
        match wait_for_dispatch(&sim, Duration::from_secs(60)).await {
            Some(at) => latencies.push(at.duration_since(moved)),
            None => panic!("no dispatch within 60 s of a webhook, after {} samples", latencies.len()),
        }
    }

    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let percentile = |p: f64| ms(latencies[((p * latencies.len() as f64).ceil() as usize).saturating_sub(1)]);
    let mean = latencies.iter().map(|d| ms(*d)).sum::<f64>() / latencies.len() as f64;
    println!("webhook → dependent dispatch: operator (release) + local kube-apiserver 1.20 + github-sim, poll 10m");
    println!("first sample once no reconcile had run for {SETTLED:?} ({settled:.1} s after the first dispatch)");
    println!("{:>8} {:>9} {:>9} {:>9} {:>9} {:>9}", "samples", "min ms", "p50 ms", "mean ms", "p99 ms", "max ms");
    println!(
        "{:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        latencies.len(),
        ms(latencies[0]),
        percentile(0.50),
        mean,
        percentile(0.99),
        ms(latencies[latencies.len() - 1]),
    );
    // Where the time goes: the BuildPlan reconciles, and how many of them lost a race to a wake (a conflict).
    let metrics = scrape(metrics_port);
    let value =
        |series: &str| metrics.lines().find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
    let count = value(r#"infinity_orchestrator_reconcile_duration_seconds_count{controller="BuildPlan"}"#);
    let sum = value(r#"infinity_orchestrator_reconcile_duration_seconds_sum{controller="BuildPlan"}"#);
    let conflicts =
        value(r#"infinity_orchestrator_reconcile_errors_total{controller="BuildPlan",category="KubeConflict"}"#);
    println!(
        "BuildPlan reconciles: {count:.0}, mean {:.1} ms, {conflicts:.0} ended in a write conflict",
        sum / count.max(1.0) * 1000.0
    );
    let _ = Api::<Namespace>::all(client).delete(&ns, &DeleteParams::default()).await;
}

/// How long no reconcile may run before the operator counts as settled.
const SETTLED: Duration = Duration::from_secs(2);

/// Waits (at most two minutes) until the operator's reconciles, of every controller, have stopped for [`SETTLED`];
/// returns the seconds waited.
async fn settle(metrics_port: u16) -> f64 {
    let started = Instant::now();
    // Reconciles done and under way, summed over the controllers.
    let reconciles = || {
        let metrics = scrape(metrics_port);
        let sum = |family: &str| -> f64 {
            let series = metrics.lines().filter(|l| l.starts_with(family));
            series.filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
        };
        let done = sum("infinity_orchestrator_reconcile_duration_seconds_count{");
        (done, sum("infinity_orchestrator_reconciles_in_flight{"))
    };
    let mut last = reconciles();
    let mut quiet_since = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = reconciles();
        if now != last || now.1 > 0.0 {
            (last, quiet_since) = (now, Instant::now());
        } else if quiet_since.elapsed() >= SETTLED {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}

/// Waits until a `workflow_dispatch` is in the simulator's log (looking every millisecond), and says when it saw it.
async fn wait_for_dispatch(sim: &github_sim::SimHandle, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if sim.requests().iter().any(is_dispatch) {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

fn is_dispatch(request: &LoggedRequest) -> bool {
    // 204, or 200 with the run's details (API version 2026-03-10, or `return_run_details`).
    request.method == "POST" && matches!(request.status, 200 | 204) && request.path.ends_with("/dispatches")
}

/// The operator's `/metrics` page.
fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the metrics listener");
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("a request");
    let mut page = String::new();
    stream.read_to_string(&mut page).expect("a response");
    page
}

/// Two different loopback ports nothing listens on: both are held until both are known, since the kernel may hand
/// a port just released to the next ask.
fn two_free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (first, second) = (bind(), bind());
    let port = |listener: &std::net::TcpListener| listener.local_addr().expect("a bound address").port();
    (port(&first), port(&second))
}

fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}
