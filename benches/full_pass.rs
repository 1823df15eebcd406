//! Full pass and steady state: what one Organization of generated repositories costs GitHub's budgets, every
//! Repository's health and security included. The operator binary (release build) against the local control plane
//! and github-sim; requests and points are read from the simulator's request log (a REST point is a request that
//! counted against the primary limit, a GraphQL call costs what GitHub's cost rule gives), split by purpose from the
//! path: discovery (the organization's listing, repository contents, GraphQL queries without check suites), health
//! (`/actions/` and the GraphQL runs query), alerts (`…/alerts` and the code security configurations).
//!
//! The organization: `IO_BENCH_REPOS` repositories (default 10,000), each a Cargo crate with a `build` workflow and
//! five completed push runs on its default branch's head (the newest failed in one repository of five, an older
//! one in another of ten); Dependabot alerts and secret scanning on everywhere, code scanning in half; an open
//! Dependabot alert in one of ten, a code-scanning alert in one of twenty, a secret-scanning alert in one of fifty;
//! the token is an owner's, so the organization's alert lists are readable.
//!
//! (a) Full pass: from creating the Organization until every Repository object exists with `status.health` and
//!     `status.security` written, with the operator's default intervals.
//! (b) Steady state: the operator restarted on the same objects with time compressed `IO_BENCH_COMPRESSION` times
//!     (K, default 60): the operator's `discovery.scan_interval`, `monitoring.health_check_interval` and
//!     `monitoring.health_full_read_interval` are their defaults divided by K, set through the `IO_<KEY>`
//!     environment variables (which an older build without a key ignores), and github-sim's clock runs K simulated
//!     seconds a second (run durations, `pushed_at`, budget resets). One compressed hour is 3600/K real seconds.
//!     Throughout, 1 % of the repositories an hour get a new commit on the default branch (`PUT
//!     /_sim/repos/…/files`) and a push run on it that completes a simulated minute later (`POST
//!     /_sim/repos/…/runs`), spread evenly. After `IO_BENCH_WARMUP_HOURS` compressed hours (default 1: the
//!     restart's own re-reads), the points of the next `IO_BENCH_HOURS` (default 6, one discovery interval; 0 skips
//!     (b)) are counted and divided by them. Not compressed: the constants inside the operator (the hourly
//!     `lastSyncTime` heartbeat, the hour a refused alert-list credential is remembered, the budget's hourly window,
//!     whose share no run here comes near with the simulator's large budget) and request latency. No webhooks: the
//!     operator learns of pushes and runs by polling. Printed beside: how many repositories pushed in the counted
//!     hours show their new run as `status.health.lastRun` two compressed health intervals after the last hour.
//!
//! Run with `scripts/control-plane.sh up && cargo build --release --bin infinity-orchestrator &&
//! cargo build --release -p github-sim && cargo bench --bench full_pass` (`IO_BENCH_OPERATOR=path` measures another
//! build of the operator). Nothing is asserted.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use github_sim::fixture::{
    CodeScanningAlertFixture, DependabotAlertFixture, RunFixture, SecretScanningAlertFixture, SecurityFixture,
};
use github_sim::Fixture;
use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::crd::{Organization, Repository};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use serde_json::json;

mod common;

use common::{setting, sim_call, start_fixture, Killed};

const REPOS: usize = 10_000;
const COMPRESSION: u64 = 60;
const RUNS_PER_REPOSITORY: usize = 5;
/// Share of the repositories changed an hour, in percent.
const CHANGED_PER_HOUR_PERCENT: usize = 1;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(measure());
}

async fn measure() {
    let repos = setting("IO_BENCH_REPOS", REPOS);
    let k = setting("IO_BENCH_COMPRESSION", COMPRESSION).max(1);
    let (warmup_hours, hours) = (setting("IO_BENCH_WARMUP_HOURS", 1), setting("IO_BENCH_HOURS", 6));
    let (kubeconfig, client) = common::control_plane().await;
    let (_sim, api_url) = start_fixture(&organization(repos), &format!("full-pass-{repos}"), k);

    let ns = format!("bench-full-pass-{repos}-{}", std::process::id());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &from(json!({ "metadata": { "name": ns } })))
        .await
        .expect("namespace");
    let secret = json!({ "metadata": { "name": "gh" }, "stringData": { "token": "test-token" } });
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(secret)).await.expect("secret");
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    println!("full pass and steady state: operator (release) + local kube-apiserver + github-sim, one Organization");
    println!(
        "{repos} repositories, {RUNS_PER_REPOSITORY} completed default-branch runs each, org alert lists readable"
    );

    // (a) The full pass, at the operator's default intervals.
    let mut operator = start_operator(&ns, &kubeconfig, &[], "full");
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": api_url,
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    let started = Instant::now();
    Api::<Organization>::namespaced(client.clone(), &ns).create(&PostParams::default(), &from(org)).await.expect("org");
    let poll = Duration::from_millis(1000 + repos as u64 / 2);
    loop {
        let listed = repositories.list(&ListParams::default()).await.expect("listing");
        let done = listed
            .items
            .iter()
            .filter(|r| r.status.as_ref().is_some_and(|s| s.health.is_some() && s.security.is_some()))
            .count();
        if done == repos {
            break;
        }
        operator.check_running();
        assert!(started.elapsed() < Duration::from_secs(3600), "{done} of {repos} with health after an hour");
        tokio::time::sleep(poll).await;
    }
    let wall = started.elapsed().as_secs_f64();
    println!();
    println!("(a) full pass: every Repository discovered, its health and security in status after {wall:.1} s");
    print_tally(&tally(&api_url), 1);
    drop(operator);
    if hours == 0 {
        clean_up(client, &ns).await;
        return;
    }

    // (b) Steady state, time compressed K times.
    let defaults = OperatorConfig::default();
    let compressed = [
        ("discovery.scan_interval", defaults.discovery.scan_interval),
        ("monitoring.health_check_interval", defaults.monitoring.health_check_interval),
        ("monitoring.health_full_read_interval", defaults.monitoring.health_full_read_interval),
    ];
    let env: Vec<(String, String)> = compressed
        .iter()
        .map(|(key, interval)| (infinity_orchestrator::config::env_var_of(key), format!("{}s", interval.as_secs() / k)))
        .collect();
    let hour = Duration::from_secs(3600 / k);
    println!();
    println!("(b) steady state: time compressed {k}x (a compressed hour is {} s):", hour.as_secs());
    for ((key, interval), (_, value)) in compressed.iter().zip(&env) {
        println!("    {key}: default {} s, here {value}", interval.as_secs());
    }
    println!("    github-sim's clock: {k} simulated seconds a second; not compressed: constants inside the operator");
    let health_interval = compressed[1].1 / k as u32;
    let mut operator = start_operator(&ns, &kubeconfig, &env, "steady");
    let per_hour = (repos * CHANGED_PER_HOUR_PERCENT / 100).max(1);
    let pushes = Pushes::start(api_url.clone(), repos, hour / per_hour as u32);
    tokio::time::sleep(hour * warmup_hours as u32).await;
    sim_call(&api_url, "DELETE", "/_sim/requests", "");
    let counted_from = pushes.count();
    tokio::time::sleep(hour * hours as u32).await;
    let spent = tally(&api_url);
    let counted_to = pushes.count();
    pushes.stop();
    operator.check_running();
    println!(
        "{} pushes with a completed run ({per_hour} an hour, {CHANGED_PER_HOUR_PERCENT} % of the repositories) in the \
         {hours} counted hours after {warmup_hours} of warm-up; per compressed hour:",
        counted_to - counted_from
    );
    print_tally(&spent, hours);
    tokio::time::sleep(health_interval * 2).await;
    let listed = repositories.list(&ListParams::default()).await.expect("listing");
    let last_runs: BTreeMap<String, i64> = listed
        .items
        .iter()
        .filter_map(|r| {
            let run = r.status.as_ref()?.health.as_ref()?.last_run.as_ref()?;
            Some((r.status.as_ref()?.full_name.clone()?, run.id))
        })
        .collect();
    let pushed = pushes.pushed()[counted_from..counted_to].to_vec();
    let shown =
        pushed.iter().filter(|(name, run)| last_runs.get(&format!("acme/{name}")) == Some(&(*run as i64))).count();
    println!(
        "new runs seen: {shown} of {} repositories pushed in the counted hours show theirs as lastRun",
        pushed.len()
    );
    drop(operator);
    clean_up(client, &ns).await;
}

/// The generated organization, made realistic: past runs, some failed, security products on, a few alerts.
fn organization(repos: usize) -> Fixture {
    let mut fixture = Fixture::generated_org("acme", repos);
    fixture.rate_limit = Some(10_000_000);
    fixture.graphql_rate_limit = Some(10_000_000);
    let org = &mut fixture.orgs[0];
    org.security_managers = vec!["test-token".into()];
    for (i, repo) in org.repos.iter_mut().enumerate() {
        repo.runs = (0..RUNS_PER_REPOSITORY)
            .map(|run| {
                let newest = run + 1 == RUNS_PER_REPOSITORY;
                let failed = (newest && i % 5 == 0) || (run == 1 && i % 10 == 3);
                let conclusion = if failed { "failure" } else { "success" };
                RunFixture {
                    conclusion: conclusion.into(),
                    duration_secs: 90 + (i % 7) as i64 * 30,
                    ..Default::default()
                }
            })
            .collect();
        repo.security = SecurityFixture {
            code_scanning: i % 2 == 0,
            dependabot: true,
            secret_scanning: true,
            ..Default::default()
        };
        if i % 10 == 0 {
            repo.alerts.dependabot.push(DependabotAlertFixture {
                package: "time".into(),
                ecosystem: "cargo".into(),
                severity: "high".into(),
                vulnerable_version_range: "< 0.2.23".into(),
                first_patched_version: Some("0.2.23".into()),
                manifest_path: "Cargo.lock".into(),
                ..Default::default()
            });
        }
        if i % 20 == 0 {
            repo.alerts.code_scanning.push(CodeScanningAlertFixture {
                rule_id: "rust/hard-coded-credentials".into(),
                security_severity: Some("high".into()),
                path: "src/lib.rs".into(),
                ..Default::default()
            });
        }
        if i % 50 == 0 {
            let secret_type = "github_personal_access_token".into();
            repo.alerts.secret_scanning.push(SecretScanningAlertFixture { secret_type, ..Default::default() });
        }
    }
    fixture
}

/// The operator process, its standard error kept in a file to show if it stops.
struct Operator {
    process: Killed,
    log: std::path::PathBuf,
}

impl Operator {
    /// Panics with the operator's last words when it is no longer running (a configuration it refuses, say).
    fn check_running(&mut self) {
        if let Ok(Some(status)) = self.process.0.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: String =
                log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            panic!("the operator stopped ({status}):\n{tail}");
        }
    }
}

fn start_operator(ns: &str, kubeconfig: &Path, env: &[(String, String)], tag: &str) -> Operator {
    let binary = common::operator_binary();
    let log = std::env::temp_dir().join(format!("io-bench-full-pass-{tag}-{}.log", std::process::id()));
    let stderr = std::fs::File::create(&log).expect("a log file");
    let child = Command::new(&binary)
        .args(["run", "--namespace", ns, "--metrics-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e} (cargo build --release --bin infinity-orchestrator)"));
    Operator { process: Killed(child), log }
}

/// Commits and runs pushed by a thread at an even pace, each to another repository.
struct Pushes {
    pushed: Arc<Mutex<Vec<(String, u64)>>>,
    stop: Arc<AtomicBool>,
}

impl Pushes {
    fn start(api_url: String, repos: usize, every: Duration) -> Self {
        let (pushed, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (list, stopped) = (pushed.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            for n in 0.. {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                // A stride coprime with the sizes measured reaches a new repository each time.
                let name = format!("repo-{:05}", (n * 7919 + 11) % repos);
                let files =
                    json!({ "files": { "src/lib.rs": format!("// change {n}\n") }, "message": format!("change {n}") });
                sim_call(&api_url, "PUT", &format!("/_sim/repos/acme/{name}/files"), &files.to_string());
                let conclusion = if n % 10 == 9 { "failure" } else { "success" };
                let run = json!({ "conclusion": conclusion, "duration_secs": 60 });
                let answer = sim_call(&api_url, "POST", &format!("/_sim/repos/acme/{name}/runs"), &run.to_string());
                let id = serde_json::from_str::<serde_json::Value>(&answer).ok().and_then(|a| a["id"].as_u64());
                list.lock().expect("pushes").push((name, id.expect("a started run (github-sim with POST …/runs)")));
                let next = every * (n as u32 + 1);
                std::thread::sleep(next.saturating_sub(started.elapsed()));
            }
        });
        Pushes { pushed, stop }
    }

    fn count(&self) -> usize {
        self.pushed.lock().expect("pushes").len()
    }

    fn pushed(&self) -> Vec<(String, u64)> {
        self.pushed.lock().expect("pushes").clone()
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Requests and points by purpose: (REST requests, REST points, GraphQL requests, GraphQL points).
type Tally = BTreeMap<String, [i64; 4]>;

/// The simulator's request log summed by purpose. The log carries every body (hundreds of megabytes at 10,000
/// repositories), so a child process reads it.
fn tally(api_url: &str) -> Tally {
    let script = r#"import json,sys
log=json.load(sys.stdin)
t={}
for r in log:
    p=r['path']
    g=r['method']=='POST' and p=='/graphql'
    if g: k='health' if 'checkSuites' in json.dumps(r.get('request_body')) else 'discovery'
    elif p.endswith('/alerts') or '/code-security/' in p: k='alerts'
    elif '/actions/' in p: k='health'
    elif p.startswith('/orgs/') or p.startswith('/repos/'): k='discovery'
    else: k='other'
    e=t.setdefault(k,[0,0,0,0])
    e[2 if g else 0]+=1
    e[3 if g else 1]+=r['points']
for k,e in t.items(): print(k,*e)
"#;
    common::summarize_sim_log(api_url, script)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let purpose = words.next()?.to_owned();
            let numbers: Vec<i64> = words.filter_map(|n| n.parse().ok()).collect();
            Some((purpose, numbers.try_into().ok()?))
        })
        .collect()
}

/// One row per purpose and a total, divided by `hours`.
fn print_tally(tally: &Tally, hours: u64) {
    println!(
        "    {:<10}  {:>13}  {:>11}  {:>16}  {:>14}  {:>10}",
        "purpose", "REST requests", "REST points", "GraphQL requests", "GraphQL points", "all points"
    );
    let row = |purpose: &str, n: &[i64; 4]| {
        let per = |n: i64| n as f64 / hours as f64;
        let [rest, rest_points, graphql, graphql_points] = n.map(per);
        let all = rest_points + graphql_points;
        println!(
            "    {purpose:<10}  {rest:>13.0}  {rest_points:>11.0}  {graphql:>16.0}  {graphql_points:>14.0}  {all:>10.0}"
        );
    };
    let mut total = [0; 4];
    for (purpose, n) in tally {
        total.iter_mut().zip(n).for_each(|(sum, n)| *sum += n);
        row(purpose, n);
    }
    row("all", &total);
}

/// Deletes what the benchmark made: the objects first, as no namespace controller runs on the local control plane.
async fn clean_up(client: Client, ns: &str) {
    let (all, delete) = (ListParams::default(), DeleteParams::default());
    let _ = Api::<Repository>::namespaced(client.clone(), ns).delete_collection(&delete, &all).await;
    let _ = Api::<Organization>::namespaced(client.clone(), ns).delete_collection(&delete, &all).await;
    let _ = Api::<Secret>::namespaced(client.clone(), ns).delete_collection(&delete, &all).await;
    let _ = Api::<Namespace>::all(client).delete(ns, &delete).await;
}

fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}
