//! What discovering an organization costs: for 1,000 and 10,000 generated repositories served by github-sim, the
//! GitHub requests, the rate-limit points of the REST and the GraphQL budgets (summed from the `points` of the
//! simulator's request log), the wall time and the peak RSS of the discovering process, for a first pass and for a
//! resync of the unchanged organization. Repositories are read through GraphQL (the default); `IO_BENCH_READS=REST`
//! reads them through REST instead.
//!
//! Run with `cargo build --release -p github-sim && cargo bench --bench discovery`. The simulator runs as its own
//! process, so the RSS is the discovery side's only (the GitHub layer with its ETag cache, detection, the
//! dependency graph); writing the Repository objects to Kubernetes is measured by the reconcile benchmark instead.
//! Each size runs in a fresh child process so that peak RSS figures do not carry over. Nothing is asserted.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use infinity_orchestrator::controller::detection_cache::DetectionCache;
use infinity_orchestrator::controller::organization::observe::discover;
use infinity_orchestrator::crd::organization::DiscoverySpec;
use infinity_orchestrator::github::{Credentials, GitHub, GitHubConfig, OctocrabGitHub};
use infinity_orchestrator::plan::discovery_pass;

mod common;

use common::{peak_rss_mb, start_simulator};

const SIZES: [usize; 2] = [1_000, 10_000];

fn main() {
    match std::env::args().nth(1).and_then(|a| a.parse::<usize>().ok()) {
        Some(size) => measure(size),
        None => {
            println!("discovery of a generated organization from github-sim (one child process per size)");
            println!(
                "{:>7}  {:<7}  {:>8}  {:>11}  {:>14}  {:>9}  {:>11}",
                "repos", "pass", "requests", "REST points", "GraphQL points", "wall (s)", "peak RSS MB"
            );
            for size in SIZES {
                let status = Command::new(std::env::current_exe().expect("own path"))
                    .arg(size.to_string())
                    .status()
                    .expect("running a measurement");
                assert!(status.success(), "the measurement of {size} repositories failed");
            }
        }
    }
}

/// One size: start the simulator, discover twice, print two rows.
fn measure(size: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (sim, base_url) = start_simulator(size, "discovery");

    runtime.block_on(async {
        let mut config = GitHubConfig::new(&base_url, Credentials::Token("test-token".into()));
        if let Some(mb) = std::env::var("IO_BENCH_CACHE_MB").ok().and_then(|v| v.parse::<usize>().ok()) {
            config.policy.cache_bytes = mb * 1024 * 1024;
        }
        let github: Arc<dyn GitHub> = Arc::new(OctocrabGitHub::new(config).expect("client"));
        let cache = DetectionCache::default();
        let reads = std::env::var("IO_BENCH_READS").unwrap_or_else(|_| "GraphQL".to_owned());
        let spec: DiscoverySpec =
            serde_json::from_value(serde_json::json!({ "reads": reads })).expect("a discovery spec");
        // GitHub's clock moves on: the first reading starts a second after the generated pushes.
        reqwest_free::Http::new(&base_url).post("/_sim/clock/advance", r#"{"seconds": 1}"#);
        for pass in ["first", "resync"] {
            reqwest_free::Http::new(&base_url).delete("/_sim/requests");
            let started = Instant::now();
            let discovery = discover(github.as_ref(), "acme", &spec, &cache, "bench/acme").await.expect("discovery");
            let outcome = discovery_pass::outcome("acme", &discovery.kept, &BTreeMap::new());
            let wall = started.elapsed().as_secs_f64();
            assert_eq!(outcome.statuses.len(), size, "every repository was described");
            let peak = peak_rss_mb("self");
            let (requests, rest, graphql) = count_requests(&base_url);
            println!("{size:>7}  {pass:<7}  {requests:>8}  {rest:>11}  {graphql:>14}  {wall:>9.2}  {peak:>11.1}");
        }
    });
    drop(sim);
}

/// Requests in the simulator's log, and the points they spent of the REST and of the GraphQL budget. The log carries
/// every body, hundreds of megabytes at 10,000 repositories, so it is read by a child process and kept out of the RSS
/// measured.
fn count_requests(base_url: &str) -> (usize, i64, i64) {
    let script = "import json,sys\nlog=json.load(sys.stdin)\n\
                  graphql=sum(r['points'] for r in log if r['path']=='/graphql')\n\
                  print(len(log), sum(r['points'] for r in log)-graphql, graphql)";
    let text = common::summarize_sim_log(base_url, script);
    let mut numbers = text.split_whitespace();
    let requests = numbers.next().and_then(|n| n.parse().ok()).expect("requests");
    let mut points = numbers.map(|n| n.parse::<i64>().expect("points"));
    (requests, points.next().expect("REST points"), points.next().expect("GraphQL points"))
}

/// Just enough HTTP/1.1 for the simulator's control endpoints, without another client dependency.
mod reqwest_free {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub struct Http {
        address: String,
    }

    impl Http {
        pub fn new(base_url: &str) -> Self {
            Http { address: base_url.trim_start_matches("http://").trim_end_matches('/').to_owned() }
        }

        fn request(&self, method: &str, path: &str, body: &str) -> String {
            let mut stream = TcpStream::connect(&self.address).expect("connecting to the simulator");
            write!(
                stream,
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                self.address,
                body.len()
            )
            .expect("writing");
            let mut response = Vec::new();
            stream.read_to_end(&mut response).expect("reading");
            let response = String::from_utf8_lossy(&response).into_owned();
            let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
            if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
                dechunk(body)
            } else {
                body.to_owned()
            }
        }

        pub fn delete(&self, path: &str) {
            self.request("DELETE", path, "");
        }

        pub fn post(&self, path: &str, body: &str) {
            self.request("POST", path, body);
        }
    }

    fn dechunk(mut body: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = body.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.push_str(&rest[..size]);
            body = &rest[size + 2..];
        }
        out
    }
}
