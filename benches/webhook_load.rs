//! What `workflow_run` deliveries cost the API server at scale: the operator binary (release build) with its webhook
//! receiver, the local control plane, and the github-sim binary serving a generated organization of 10,000
//! repositories. Once discovery has made every Repository object and the operator has gone quiet, 1,000 signed
//! `workflow_run` deliveries (one repository each, as GitHub sends them when a run completes) are POSTed one after
//! the other. Prints the operator's API-server requests per delivery by verb and resource, counted by a proxy
//! between the operator and the API server (the API server's own `apiserver_request_total`, read before and after,
//! also counts whatever else uses the shared local control plane, so its total is printed beside), with an idle
//! window of the same length before the deliveries for what the operator asks anyway, and the delivery latency
//! (POST to answer, the objects woken by then). Nothing is asserted.
//!
//! Run with `scripts/control-plane.sh up && cargo build --release --bin infinity-orchestrator &&
//! cargo build --release -p github-sim && cargo bench --bench webhook_load`. `IO_BENCH_REPOS` and
//! `IO_BENCH_DELIVERIES` change the sizes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use infinity_orchestrator::crd::{Organization, Repository};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use serde_json::json;
use sha2::Sha256;

mod common;

use common::{setting, start_simulator, Killed};

const REPOS: usize = 10_000;
const DELIVERIES: usize = 1_000;
const WEBHOOK_SECRET: &str = "webhook-load-bench-secret";
/// The operator is quiet once a window this long sees at most `QUIET_WRITES` writes to the API server.
const QUIET_WINDOW: Duration = Duration::from_secs(10);
const QUIET_WRITES: f64 = 2.0;
/// How long after the Organization's creation the bench waits at most for the operator to go quiet.
const QUIET_BY: Duration = Duration::from_secs(900);

/// Requests by (verb, resource).
type Requests = BTreeMap<(String, String), f64>;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(measure());
}

async fn measure() {
    let (repos, deliveries) = (setting("IO_BENCH_REPOS", REPOS), setting("IO_BENCH_DELIVERIES", DELIVERIES));
    let (kubeconfig, client) = common::control_plane().await;
    let (_sim, api_url) = start_simulator(repos, "webhook-load");

    let ns = format!("bench-webhook-load-{}", std::process::id());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &from(json!({ "metadata": { "name": ns } })))
        .await
        .expect("namespace");
    let secret = json!({ "metadata": { "name": "gh" },
        "stringData": { "token": "test-token", "webhookSecret": WEBHOOK_SECRET } });
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(secret)).await.expect("secret");
    let webhook_port = free_port();
    let counted = Counted::start(client.clone()).await;
    let counted_kubeconfig = std::env::temp_dir().join(format!("io-bench-webhook-load-{}.yaml", std::process::id()));
    std::fs::write(&counted_kubeconfig, counted.kubeconfig(&kubeconfig)).expect("writing a kubeconfig");
    let binary = common::operator_binary();
    let _operator = Killed(
        Command::new(&binary)
            .args(["run", "--namespace", &ns, "--metrics-addr", "127.0.0.1:0"])
            .args(["--webhook-addr", &format!("127.0.0.1:{webhook_port}")])
            .env("KUBECONFIG", &counted_kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (cargo build --release --bin infinity-orchestrator)")),
    );
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": api_url,
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    let started = Instant::now();
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    organizations.create(&PostParams::default(), &from(org)).await.expect("org");
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    loop {
        // A page of one tells how many there are.
        let page = repositories.list(&ListParams::default().limit(1)).await.expect("listing");
        let listed = page.items.len() as i64 + page.metadata.remaining_item_count.unwrap_or(0);
        if listed >= repos as i64 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3600), "{listed} of {repos} discovered after an hour");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let discovered = started.elapsed().as_secs_f64();
    // The Repository objects' own first reconciles (health reads, status writes) are not the deliveries' doing.
    let mut before = counted.requests();
    loop {
        tokio::time::sleep(QUIET_WINDOW).await;
        let now = counted.requests();
        let writes: f64 = delta(&before, &now).iter().filter(|((verb, _), _)| is_write(verb)).map(|(_, n)| n).sum();
        before = now;
        // A background that never goes quiet is measured as it is, in the idle window.
        if writes <= QUIET_WRITES || started.elapsed() > QUIET_BY {
            break;
        }
    }
    let quiet = started.elapsed().as_secs_f64();

    // What the operator asks of the API server with no deliveries, over about the time the deliveries take.
    let idle_started = Instant::now();
    tokio::time::sleep(QUIET_WINDOW).await;
    let (idle_after, all_before) = (counted.requests(), api_requests(&client).await);
    let idle = delta(&before, &idle_after);
    let idle_secs = idle_started.elapsed().as_secs_f64();

    let mut latencies = Vec::with_capacity(deliveries);
    let mut refused = 0;
    let delivering = Instant::now();
    for i in 0..deliveries {
        let repo = format!("repo-{:05}", i * repos.max(1) / deliveries.max(1));
        let body = serde_json::to_vec(&json!({
            "action": "completed",
            "workflow_run": { "id": 1_000_000 + i, "name": "build", "status": "completed", "conclusion": "success" },
            "repository": { "name": repo, "full_name": format!("acme/{repo}"), "owner": { "login": "acme" },
                "default_branch": "main" },
            "organization": { "login": "acme" },
        }))
        .expect("a payload");
        let delivery = format!("webhook-load-{}-{i}", std::process::id());
        let sent = Instant::now();
        let status = post(webhook_port, &delivery, &sign(WEBHOOK_SECRET, &body), &body);
        latencies.push(sent.elapsed());
        if status != 202 {
            refused += 1;
        }
    }
    let delivered_secs = delivering.elapsed().as_secs_f64();
    // Wakes the deliveries caused (reconciles of the woken objects) are theirs too: let them finish.
    tokio::time::sleep(QUIET_WINDOW).await;
    let (after, all_after) = (counted.requests(), api_requests(&client).await);
    let spent = delta(&idle_after, &after);
    let all: f64 = delta(&all_before, &all_after).values().sum();
    let window = delivered_secs + QUIET_WINDOW.as_secs_f64();

    println!("webhook load: operator (release) + local kube-apiserver + github-sim, one Organization");
    println!("{repos} repositories discovered (as many Repository objects) after {discovered:.1} s");
    println!("quiet (at most {QUIET_WRITES} writes in {QUIET_WINDOW:?}, or waited {QUIET_BY:?}) after {quiet:.1} s");
    println!("{deliveries} workflow_run deliveries in {delivered_secs:.1} s, {refused} not accepted (202)");
    println!("the operator's API-server requests over the deliveries and {} s after them:", QUIET_WINDOW.as_secs());
    println!("{:>8} {:>24} {:>9} {:>13} {:>15}", "verb", "resource", "requests", "per delivery", "idle, same time");
    let mut total = (0.0, 0.0);
    let resources: std::collections::BTreeSet<_> = spent.keys().chain(idle.keys()).cloned().collect();
    for key in resources {
        let (n, idle_n) = (spent.get(&key).copied().unwrap_or(0.0), idle.get(&key).copied().unwrap_or(0.0));
        let idle_n = idle_n / idle_secs * window;
        if n == 0.0 && idle_n < 0.05 {
            continue;
        }
        total = (total.0 + n, total.1 + idle_n);
        println!("{:>8} {:>24} {:>9.0} {:>13.3} {:>15.1}", key.0, key.1, n, n / deliveries as f64, idle_n);
    }
    println!("{:>8} {:>24} {:>9.0} {:>13.3} {:>15.1}", "all", "", total.0, total.0 / deliveries as f64, total.1);
    let per_delivery = all / deliveries as f64;
    println!("apiserver_request_total meanwhile, any client: {all:.0} ({per_delivery:.3} per delivery)");
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let percentile = |p: f64| ms(latencies[((p * latencies.len() as f64).ceil() as usize).saturating_sub(1)]);
    let (p50, p99, max) = (percentile(0.5), percentile(0.99), ms(latencies[latencies.len() - 1]));
    println!("delivery latency (POST to answer): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    let _ = Api::<Namespace>::all(client).delete(&ns, &DeleteParams::default()).await;
}

/// A proxy between the operator and the API server that counts the operator's requests by verb and resource.
struct Counted {
    port: u16,
    requests: Arc<Mutex<Requests>>,
}

impl Counted {
    /// Listens on a loopback port and forwards each request through `client`.
    async fn start(client: Client) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a proxy port");
        let port = listener.local_addr().expect("an address").port();
        let requests = Arc::new(Mutex::new(Requests::new()));
        let counts = requests.clone();
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (client, counts) = (client.clone(), counts.clone());
            async move {
                let (parts, body) = request.into_parts();
                *counts.lock().expect("counts").entry(classify(&parts.method, &parts.uri)).or_default() += 1.0;
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
                let mut forwarded = http::Request::builder().method(parts.method).uri(parts.uri);
                for name in [http::header::CONTENT_TYPE, http::header::ACCEPT] {
                    if let Some(value) = parts.headers.get(&name) {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let forwarded = forwarded.body(kube::client::Body::from(body.to_vec())).expect("a request");
                match client.send(forwarded).await {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        axum::response::Response::from_parts(parts, axum::body::Body::new(body))
                    }
                    Err(error) => {
                        let mut response = axum::response::Response::new(axum::body::Body::from(error.to_string()));
                        *response.status_mut() = http::StatusCode::BAD_GATEWAY;
                        response
                    }
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        Counted { port, requests }
    }

    /// A kubeconfig like the one at `path`, its server this proxy.
    fn kubeconfig(&self, path: &std::path::Path) -> String {
        let original = std::fs::read_to_string(path).expect("the kubeconfig");
        let server = original.lines().find_map(|l| l.trim().strip_prefix("server: ")).expect("a server").to_owned();
        let proxied = original.replace(&server, &format!("http://127.0.0.1:{}", self.port));
        proxied.lines().filter(|l| !l.trim().starts_with("certificate-authority")).collect::<Vec<_>>().join("\n")
    }

    /// Requests so far.
    fn requests(&self) -> Requests {
        self.requests.lock().expect("counts").clone()
    }
}

/// A request's verb and resource as the API server names them (`LIST` and `WATCH` for reads of collections).
fn classify(method: &http::Method, uri: &http::Uri) -> (String, String) {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    let rest = if rest.first() == Some(&"namespaces") && rest.len() > 2 { &rest[2..] } else { rest };
    let resource = rest.first().copied().unwrap_or_default().to_owned();
    let named = rest.len() >= 2;
    let watch = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match method.as_str() {
        "GET" if watch => "WATCH",
        "GET" if !named => "LIST",
        "DELETE" if !named => "DELETECOLLECTION",
        other => other,
    };
    (verb.to_owned(), resource)
}

fn is_write(verb: &str) -> bool {
    matches!(verb, "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY" | "CREATE" | "UPDATE")
}

/// The API server's `apiserver_request_total`, summed by verb and resource (requests for no resource, such as
/// `/metrics` itself, left out).
async fn api_requests(client: &Client) -> Requests {
    let request = http::Request::get("/metrics").body(Vec::new()).expect("a request");
    let page = client.request_text(request).await.expect("the API server's /metrics");
    let mut requests = Requests::new();
    for line in page.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let label = |name: &str| {
            let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
            Some(labels[start..].split('"').next()?.to_owned())
        };
        let (Some(verb), Some(resource), Ok(value)) = (label("verb"), label("resource"), value.parse::<f64>()) else {
            continue;
        };
        if !resource.is_empty() {
            *requests.entry((verb, resource)).or_default() += value;
        }
    }
    requests
}

fn delta(before: &Requests, after: &Requests) -> Requests {
    let mut delta = Requests::new();
    for (key, n) in after {
        let n = n - before.get(key).copied().unwrap_or(0.0);
        if n > 0.0 {
            delta.insert(key.clone(), n);
        }
    }
    delta
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs a `workflow_run` delivery to /webhook; returns the status.
fn post(port: u16, delivery: &str, signature: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the receiver");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("a timeout");
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: {delivery}\r\n\
         X-Hub-Signature-256: {signature}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("a request");
    stream.write_all(body).expect("a body");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A loopback port nothing listens on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}
