//! Every series the chart's Grafana dashboard and alert rules read is one the operator exposes: the operator binary
//! runs an organization of the simulator (discovery, health reads, a BuildPlan, webhook deliveries, a reconcile that
//! fails), and its `/metrics` scrapes must carry a sample of each series name they name. A renamed metric, or a query
//! of a name that never existed, fails here rather than in someone's empty panel or silent alert.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use github_sim::webhook::WebhookTarget;
use github_sim::FaultConfig;
use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::well_known::REQUESTED_AT;
use infinity_orchestrator::crd::{ConditionStatus, HasConditions, Repository};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use support::build_plans::build_plan;
use support::operated_plans::{plan_bed, Graph, WEBHOOK_SECRET};
use support::process::OperatorProcess;
use support::sim_org::described_repository;
use support::{cluster, eventually, namespace, repo_root};

const PREFIX: &str = "infinity_orchestrator_";

fn chart_file(path: &str) -> String {
    let path = repo_root().join("charts/infinity-orchestrator").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `infinity_orchestrator_*` series name in a PromQL expression.
fn series_names(expr: &str) -> BTreeSet<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(start) = rest.find(PREFIX) {
        let preceded_by_name = rest[..start].chars().next_back().is_some_and(is_name_char);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        if !preceded_by_name {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Every `expr` string anywhere in `value` (a dashboard's panel targets, nested rows included).
fn expressions(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr", Value::String(expr)) => found.push(expr.clone()),
                    _ => expressions(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

/// Each series name the dashboard and the alert rules read, with where it is read.
fn wanted_series() -> BTreeMap<String, BTreeSet<String>> {
    let dashboard: Value = serde_json::from_str(&chart_file("files/dashboard.json")).expect("dashboard.json is JSON");
    let alerts: Value = serde_yaml::from_str(&chart_file("files/alerts.yaml")).expect("alerts.yaml is YAML");
    let mut queries = Vec::new();
    expressions(&dashboard["panels"], &mut queries);
    let panels = dashboard["panels"].as_array().expect("panels").iter().filter(|p| p["type"] != "row").count();
    assert!(queries.len() >= panels, "{} queries for {panels} panels", queries.len());
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for query in queries {
        for name in series_names(&query) {
            wanted.entry(name).or_default().insert("files/dashboard.json".into());
        }
    }
    let rules = alerts["groups"].as_array().expect("groups").iter().flat_map(|g| g["rules"].as_array().expect("rules"));
    let mut alert_count = 0;
    for rule in rules {
        let (alert, expr) = (rule["alert"].as_str().expect("an alert"), rule["expr"].as_str().expect("an expr"));
        alert_count += 1;
        let names = series_names(expr);
        assert!(!names.is_empty(), "{alert} reads no operator series: {expr}");
        for name in names {
            wanted.entry(name).or_default().insert(format!("alert {alert}"));
        }
    }
    assert_eq!(alert_count, 6, "the alerts the chart promises");
    wanted
}

/// The names of the samples of a scrape: a histogram gives `_bucket`, `_sum` and `_count`, a counter `_total`.
fn scraped_names(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// POSTs a `push` delivery whose signature is wrong; the receiver's answer status.
fn post_forged_delivery(port: u16) -> Option<u16> {
    let body =
        json!({ "organization": { "login": "acme" }, "repository": { "name": "app" }, "ref": "refs/heads/main" })
            .to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let signature = format!("sha256={}", "0".repeat(64));
    write!(
        stream,
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n\
         X-GitHub-Delivery: forged-1\r\nX-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// Asks for a read of the repository `name` now, as a person would.
async fn ask_for_read(repositories: &Api<Repository>, name: &str, tag: &str) {
    let ask = json!({ "metadata": { "annotations": { REQUESTED_AT: tag } } });
    repositories.patch(name, &PatchParams::default(), &Patch::Merge(&ask)).await.expect("asking for a read");
}

#[test]
fn names_are_read_whole_and_histograms_scrape_as_their_parts() {
    let expr = r#"histogram_quantile(0.9, sum by (le) (rate(infinity_orchestrator_reconcile_duration_seconds_bucket[5m])))
        / my_infinity_orchestrator_x + infinity_orchestrator_leader{job="a"}"#;
    let names: Vec<String> = series_names(expr).into_iter().collect();
    assert_eq!(names, ["infinity_orchestrator_leader", "infinity_orchestrator_reconcile_duration_seconds_bucket"]);
    let scrape = "# TYPE infinity_orchestrator_reconcile_duration_seconds histogram\n\
        infinity_orchestrator_reconcile_duration_seconds_sum{controller=\"A\"} 0.1\n\
        infinity_orchestrator_reconcile_duration_seconds_count{controller=\"A\"} 1\n\
        infinity_orchestrator_reconcile_duration_seconds_bucket{le=\"+Inf\",controller=\"A\"} 1\n\
        infinity_orchestrator_leader 1\n# EOF\n";
    let scraped = scraped_names(scrape);
    assert!(scraped.contains("infinity_orchestrator_reconcile_duration_seconds_bucket"), "{scraped:?}");
    assert!(!scraped.contains("infinity_orchestrator_reconcile_duration_seconds"), "a histogram has no such sample");
    assert!(scraped.contains("infinity_orchestrator_leader"), "{scraped:?}");
}

#[tokio::test]
async fn every_series_the_dashboard_and_the_alerts_read_is_in_a_real_scrape() {
    let wanted = wanted_series();
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "dashboard-metrics").await;
    let graph: Graph = [("app", vec![]), ("lib", vec![])].into_iter().map(|(n, d)| (n.to_owned(), d)).collect();
    let sim = plan_bed(&cluster.client, &ns, &graph, 30).await;
    // Per-repository series on, capped below the two repositories: the capped series and the omitted count exist.
    let flags = ["--set", "monitoring.repository_metrics=true", "--set", "monitoring.repository_metrics_limit=1"];
    let operator = OperatorProcess::start_with_webhook(&cluster, &ns, &flags);
    sim.set_webhook(WebhookTarget { url: operator.webhook_url().expect("a URL"), secret: WEBHOOK_SECRET.into() });

    let repositories: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    for name in ["app", "lib"] {
        // Read again once discovery described it (its default branch known), for a verdict on its runs.
        described_repository(&cluster.client, &ns, name).await;
        ask_for_read(&repositories, name, "described").await;
        eventually(&format!("a verdict on {name}"), Duration::from_secs(60), || async {
            let repo = repositories.get(name).await.ok()?;
            let healthy = find_condition(repo.conditions(), "Healthy")?;
            (healthy.status != ConditionStatus::Unknown).then_some(())
        })
        .await;
    }
    // The metrics read the controllers' watch cache, which can trail the API server by a while when the Repository
    // controller is busy. Names count once any scrape shows them.
    let per_repository = r#"infinity_orchestrator_repository_healthy{"#;
    let mut scraped = eventually("the per-repository series", Duration::from_secs(120), || async {
        let metrics = operator.metrics();
        metrics.contains(per_repository).then(|| scraped_names(&metrics))
    })
    .await;
    build_plan(&cluster.client, &ns, "nightly", json!({})).await;
    let dispatched = r#"infinity_orchestrator_build_dispatches_total{outcome="accepted"}"#;
    eventually("a dispatch counted", Duration::from_secs(60), || async {
        operator.metrics().lines().any(|line| line.starts_with(dispatched)).then_some(())
    })
    .await;
    let port = operator.webhook_port.expect("a webhook port");
    // 503 until the receiver's indexes are filled; then the forged signature is refused.
    let status = eventually("the forged delivery answered", Duration::from_secs(30), || async {
        post_forged_delivery(port).filter(|status| *status != 503)
    })
    .await;
    assert_eq!(status, 401, "a delivery with a wrong signature is refused");
    // GitHub failing every request: the health read a person asks for fails, and the reconcile counts an error.
    sim.set_faults(FaultConfig { server_error_rate: 1.0, ..FaultConfig::default() });
    ask_for_read(&repositories, "app", "faulted").await;

    let deadline = Instant::now() + Duration::from_secs(90);
    let (missing, metrics) = loop {
        let metrics = operator.metrics();
        scraped.extend(scraped_names(&metrics));
        let missing: Vec<String> = wanted
            .iter()
            .filter(|(name, _)| !scraped.contains(*name))
            .map(|(name, read_by)| format!("{name} (read by {read_by:?})"))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break (missing, metrics);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut judged = Vec::new();
    for name in ["app", "lib"] {
        let repo = repositories.get(name).await.expect("the Repository");
        judged.push(format!("{name}: {:?} {:?}", find_condition(repo.conditions(), "Healthy"), repo.status));
    }
    assert!(
        missing.is_empty(),
        "series read but not exposed:\n{}\nscrape:\n{metrics}\nrepositories:\n{}",
        missing.join("\n"),
        judged.join("\n")
    );
    eprintln!("{} series names of the dashboard and the alerts, all scraped", wanted.len());
}
