//! A budget that holds: with the credential's REST budget small and background work allowed a small share of it,
//! the operator stretches its resync interval and says so in the Organization's status, an Event and its metrics,
//! while a BuildPlan created then still dispatches at once. The operator binary against the real API server and
//! github-sim, whose simulated time follows the wall clock here (so budget resets are where the operator expects).
//! The budget is squeezed once the first passes are done, to a size measured from what they cost, so that the test
//! holds whatever reads discovery and health take.

mod support;

use std::time::{Duration, Instant};

use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use serde_json::json;
use support::build_plans::{build_plan, dispatches};
use support::operated_plans::{plan_bed, Graph};
use support::process::OperatorProcess;
use support::{cluster, events_about, eventually, namespace};

/// The share of each budget background work may spend.
const SHARE_PERCENT: i64 = 10;

/// The value of the first series of `metric` whose labels contain every one of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().filter(|line| line.starts_with(&format!("{metric}{{"))).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        labels.iter().all(|label| series.contains(label)).then(|| value.parse().ok())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squeezed_budget_stretches_resyncs_and_says_so_while_a_build_plan_dispatches_at_once() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "budget").await;
    let graph: Graph = ["core", "util", "app"].into_iter().map(|name| (name.to_owned(), Vec::new())).collect();
    let sim = plan_bed(client, &ns, &graph, 60).await;
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    let share = format!("budget.background_share_percent={SHARE_PERCENT}");
    let operator =
        OperatorProcess::start(&cluster, &ns, &["--set", "discovery.scan_interval=1m", "--set", share.as_str()]);

    // The first passes: discovery, then each repository's health. Within GitHub's 5,000 they fit the share.
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    eventually("every repository's health read", Duration::from_secs(90), || async {
        let all = repositories.list(&Default::default()).await.ok()?.items;
        (all.len() == 3 && all.iter().all(|r| r.status.as_ref().is_some_and(|s| s.health.is_some()))).then_some(())
    })
    .await;
    let spent: i64 = sim.requests().iter().filter(|r| r.path != "/graphql").map(|r| r.points).sum();
    assert!(spent > 0, "the first passes spent REST points");
    // Squeezed: the share is now a third of what those passes project to over an hour (six times their cost, from
    // their first ten minutes), so the next pass finds background work over its share, yet still within it for now.
    let limit = 30 * spent;
    let allowed = limit * SHARE_PERCENT / 100;
    sim.set_rate_limit(limit, limit - spent, 3600);

    let org = eventually("the Organization says its budget is constrained", Duration::from_secs(180), || async {
        let org = organizations.get("acme").await.ok()?;
        let condition = find_condition(org.conditions(), "BudgetConstrained")?;
        (condition.status == ConditionStatus::True).then_some(org)
    })
    .await;
    let condition = find_condition(org.conditions(), "BudgetConstrained").expect("the condition").clone();
    let status = org.status.clone().expect("a status");
    let core = status.budgets.iter().find(|b| b.resource == "core").expect("the REST budget in status");
    assert_eq!((core.limit, i64::from(core.share_percent)), (limit, SHARE_PERCENT), "{core:?}");
    assert!(core.stretch >= 2, "{core:?}");
    assert!(core.projected_per_hour > allowed, "{core:?}");
    assert!(core.used_last_hour_by_purpose["resync"] > 0, "{core:?}");
    assert_eq!(condition.reason, "ProjectedOverShare");
    let stretched = format!("Resync every {}m instead of 1m", core.stretch);
    assert!(condition.message.starts_with(&stretched), "{}", condition.message);
    let over = format!("exceeds {SHARE_PERCENT} % of ");
    assert!(condition.message.contains(&over), "{}", condition.message);
    let events = events_about(client, &ns, "acme").await;
    assert!(events.iter().any(|note| note.starts_with(&stretched)), "an Event says so: {events:?}");

    // Priority work is not held back: a BuildPlan dispatches its three repositories within seconds.
    let created = Instant::now();
    build_plan(client, &ns, "release", json!({})).await;
    eventually("the BuildPlan's dispatches reach GitHub", Duration::from_secs(30), || async {
        (dispatches(&sim.requests()).values().sum::<usize>() == 3).then_some(())
    })
    .await;
    let took = created.elapsed();
    assert!(took < Duration::from_secs(15), "dispatched after {took:?}");
    eprintln!("{}; {core:?}; a BuildPlan dispatched after {took:?}", condition.message);

    // No pass on the configured minute: the next one waits for the stretched interval.
    let last_sync = status.last_sync_time.clone().expect("a pass done");
    let since_pass = last_sync.0.duration_until(Timestamp::now()).unsigned_abs();
    tokio::time::sleep(Duration::from_secs(75).saturating_sub(since_pass)).await;
    let now = organizations.get("acme").await.expect("the Organization");
    assert_eq!(now.status.and_then(|s| s.last_sync_time), Some(last_sync), "no resync after the configured 1m");

    let metrics = operator.metrics();
    let spent = |purpose: &str| {
        let labels = [r#"resource="core""#, &format!(r#"purpose="{purpose}""#)];
        sample(&metrics, "infinity_orchestrator_github_rate_limit_points_total", &labels).unwrap_or(0.0)
    };
    assert!(spent("dispatch") >= 3.0, "{metrics}");
    assert!(spent("resync") >= 1.0 && spent("health") >= 1.0, "{metrics}");
    let stretch = sample(&metrics, "infinity_orchestrator_github_background_stretch", &[r#"resource="core""#]);
    assert!(stretch.is_some_and(|s| s >= 2.0), "{metrics}");
    let projected =
        sample(&metrics, "infinity_orchestrator_github_background_projected_points_per_hour", &[r#"resource="core""#]);
    assert!(projected.is_some_and(|p| p > allowed as f64), "{metrics}");
}
