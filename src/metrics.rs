//! The operator's Prometheus metrics, named `infinity_orchestrator_*` with units in the name. Labels are bounded
//! (controller kind, result, error category), never a formatted error. The one exception is BuildPlan progress,
//! labelled by the plan's namespace and name like kube-state-metrics' object gauges: there are few plans, and their
//! series are removed when the plan is deleted.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::crd::build_plan::RepositoryBuildState;
use crate::github::spending::{resource_name, BudgetOutlook, Purpose};
use crate::github::{RateBudget, RequestObserver};

/// Labels of a reconcile outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// The kind the controller reconciles, such as `Organization`.
    pub controller: String,
    /// `success` or `error`.
    pub result: &'static str,
}

/// Labels of a reconcile error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileErrorLabels {
    /// The kind the controller reconciles.
    pub controller: String,
    /// The error's stable category.
    pub category: &'static str,
}

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The kind the controller reconciles.
    pub controller: String,
}

/// Labels of a webhook delivery.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The GitHub event, `other` for events the operator does not use, `unverified` before the signature holds.
    pub event: &'static str,
    /// `accepted`, `ignored`, `duplicate`, `unauthorized` or `error`.
    pub outcome: &'static str,
}

/// Labels of a GitHub HTTP exchange.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GitHubRequestLabels {
    /// `GET`, `POST`, …
    pub method: String,
    /// The route template, such as `/repos/{owner}/{repo}/git/trees/{sha}`.
    pub route: String,
    /// GitHub's status code, or `none` when no answer came.
    pub status: String,
}

/// Labels naming a GitHub route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GitHubRouteLabels {
    /// The route template.
    pub route: String,
}

/// Labels of a BuildPlan's progress.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildPlanLabels {
    /// The plan's namespace.
    pub namespace: String,
    /// The plan's name.
    pub name: String,
    /// A repository state of the plan's current run, such as `Running`.
    pub state: &'static str,
}

/// Labels of a workflow dispatch.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DispatchLabels {
    /// `accepted`; `unanswered` (a transient error: the run is looked up, and the dispatch sent again if missing);
    /// `refused` when GitHub answered that the workflow cannot be dispatched.
    pub outcome: &'static str,
}

/// Labels of a held prune.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PruneHoldLabels {
    /// `held` (a pass held removals its listing did not justify), `confirmed_by_listing` or `confirmed_by_person`.
    pub outcome: &'static str,
}

/// Labels of a webhook recovery pass.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookRecoveryLabels {
    /// `completed` or `error`.
    pub outcome: &'static str,
}

/// Labels naming a credential: its fingerprint id (`token:…` or `app:ID/installation:ID`), never the secret.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CredentialLabels {
    /// The credential's id.
    pub credential: String,
}

/// Labels naming the operator's shard.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabels {
    /// The shard's name (`--shard`); empty when the operator runs unsharded.
    pub shard: String,
}

/// Labels of points spent: the budget and what for, both from short fixed lists.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetPurposeLabels {
    /// `core` (REST) or `graphql`.
    pub resource: &'static str,
    /// `webhook`, `dispatch`, `healing`, `resync` or `health`.
    pub purpose: &'static str,
}

/// Labels naming one budget of a credential.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CredentialBudgetLabels {
    /// The credential's id.
    pub credential: String,
    /// `core` (REST) or `graphql`.
    pub resource: &'static str,
}

/// A reconcile under way, counted in `reconciles_in_flight` while this lives.
pub struct ReconcileInFlight(Gauge);

impl Drop for ReconcileInFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Every metric the operator exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// Reconciles finished, by controller and result.
    pub reconciles: Family<ReconcileLabels, Counter>,
    /// Reconcile errors, by controller and category.
    pub reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    /// How long reconciles take, by controller.
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    /// Reconciles under way, by controller.
    pub reconciles_in_flight: Family<ControllerLabels, Gauge>,
    /// 1 while this process holds the leader Lease (or runs without leader election), else 0.
    pub leader: Gauge,
    /// 1, labelled with the shard whose Organizations this process owns.
    pub shard_info: Family<ShardLabels, Gauge>,
    /// Webhook deliveries, by event and outcome.
    pub webhook_deliveries: Family<WebhookLabels, Counter>,
    /// Failed webhook deliveries the recovery found that the receiver had not acted on (one per event).
    pub webhook_deliveries_failed_found: Counter,
    /// Redeliveries the recovery asked GitHub for and GitHub accepted.
    pub webhook_redeliveries_requested: Counter,
    /// Webhook recovery passes over a GitHub App's hook, by outcome.
    pub webhook_recovery_passes: Family<WebhookRecoveryLabels, Counter>,
    /// GitHub HTTP exchanges, by method, route and status (a 304 is free of rate limit).
    pub github_requests: Family<GitHubRequestLabels, Counter>,
    /// How long GitHub takes to answer, by route.
    pub github_request_duration: Family<GitHubRouteLabels, Histogram>,
    /// Requests left in the primary rate-limit window, by credential.
    pub github_rate_limit_remaining: Family<CredentialLabels, Gauge>,
    /// Requests per primary rate-limit window, by credential.
    pub github_rate_limit_limit: Family<CredentialLabels, Gauge>,
    /// Rate-limit points spent, by budget and purpose.
    pub github_rate_limit_points: Family<BudgetPurposeLabels, Counter>,
    /// What background work would spend an hour at its configured intervals, by credential and budget.
    pub github_background_projected_points_per_hour: Family<CredentialBudgetLabels, Gauge>,
    /// The factor background intervals are stretched by (1: not stretched), by credential and budget.
    pub github_background_stretch: Family<CredentialBudgetLabels, Gauge>,
    /// Repositories of each BuildPlan's current run, by state.
    pub build_plan_repositories: Family<BuildPlanLabels, Gauge>,
    /// Workflow dispatches sent by BuildPlans, by outcome.
    pub build_dispatches: Family<DispatchLabels, Counter>,
    /// Discovery passes that held removals, and held removals later carried out, by outcome.
    pub discovery_prune_holds: Family<PruneHoldLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("infinity_orchestrator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ReconcileErrorLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let reconciles_in_flight = Family::<ControllerLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles finished, by controller and result", reconciles.clone());
        registry.register("reconciles_in_flight", "Reconciles under way, by controller", reconciles_in_flight.clone());
        registry.register(
            "reconcile_errors",
            "Reconcile errors, by controller and error category",
            reconcile_errors.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Time a reconcile takes, by controller",
            prometheus_client::registry::Unit::Seconds,
            reconcile_duration.clone(),
        );
        registry.register("leader", "1 while this process is the leader, else 0", leader.clone());
        let shard_info = Family::<ShardLabels, Gauge>::default();
        registry.register(
            "shard_info",
            "1, labelled with the shard whose Organizations this process owns (empty: unsharded)",
            shard_info.clone(),
        );
        let webhook_deliveries = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "GitHub webhook deliveries, by event and outcome",
            webhook_deliveries.clone(),
        );
        let webhook_deliveries_failed_found = Counter::default();
        registry.register(
            "webhook_deliveries_failed_found",
            "Failed GitHub webhook deliveries the recovery found that the receiver had not acted on",
            webhook_deliveries_failed_found.clone(),
        );
        let webhook_redeliveries_requested = Counter::default();
        registry.register(
            "webhook_redeliveries_requested",
            "Webhook redeliveries the recovery asked GitHub for (GitHub never redelivers by itself)",
            webhook_redeliveries_requested.clone(),
        );
        let webhook_recovery_passes = Family::<WebhookRecoveryLabels, Counter>::default();
        registry.register(
            "webhook_recovery_passes",
            "Webhook recovery passes over a GitHub App's hook deliveries, by outcome",
            webhook_recovery_passes.clone(),
        );
        let github_requests = Family::<GitHubRequestLabels, Counter>::default();
        registry.register(
            "github_requests",
            "GitHub HTTP exchanges, by method, route template and status",
            github_requests.clone(),
        );
        let github_request_duration = Family::<GitHubRouteLabels, Histogram>::new_with_constructor(|| {
            // 5 ms to about 40 s.
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register_with_unit(
            "github_request_duration",
            "Time GitHub takes to answer, by route template",
            prometheus_client::registry::Unit::Seconds,
            github_request_duration.clone(),
        );
        let github_rate_limit_remaining = Family::<CredentialLabels, Gauge>::default();
        registry.register(
            "github_rate_limit_remaining",
            "Requests left in GitHub's primary rate-limit window, by credential",
            github_rate_limit_remaining.clone(),
        );
        let github_rate_limit_limit = Family::<CredentialLabels, Gauge>::default();
        registry.register(
            "github_rate_limit_limit",
            "Requests per GitHub primary rate-limit window, by credential",
            github_rate_limit_limit.clone(),
        );
        let github_rate_limit_points = Family::<BudgetPurposeLabels, Counter>::default();
        registry.register(
            "github_rate_limit_points",
            "GitHub rate-limit points spent, by budget (core, graphql) and purpose",
            github_rate_limit_points.clone(),
        );
        let github_background_projected_points_per_hour = Family::<CredentialBudgetLabels, Gauge>::default();
        registry.register(
            "github_background_projected_points_per_hour",
            "Points an hour resyncs and health reads would spend at their configured intervals, by credential and \
             budget",
            github_background_projected_points_per_hour.clone(),
        );
        let github_background_stretch = Family::<CredentialBudgetLabels, Gauge>::default();
        registry.register(
            "github_background_stretch",
            "The factor resync and health intervals are stretched by to keep within the budget's share (1: none)",
            github_background_stretch.clone(),
        );
        let build_plan_repositories = Family::<BuildPlanLabels, Gauge>::default();
        registry.register(
            "build_plan_repositories",
            "Repositories of each BuildPlan's current run, by state",
            build_plan_repositories.clone(),
        );
        let build_dispatches = Family::<DispatchLabels, Counter>::default();
        registry.register(
            "build_dispatches",
            "Workflow dispatches sent by BuildPlans, by outcome",
            build_dispatches.clone(),
        );
        let discovery_prune_holds = Family::<PruneHoldLabels, Counter>::default();
        registry.register(
            "discovery_prune_holds",
            "Discovery passes that held removals their listing did not justify, and held removals carried out, by outcome",
            discovery_prune_holds.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            reconciles_in_flight,
            leader,
            shard_info,
            webhook_deliveries,
            webhook_deliveries_failed_found,
            webhook_redeliveries_requested,
            webhook_recovery_passes,
            github_requests,
            github_request_duration,
            github_rate_limit_remaining,
            github_rate_limit_limit,
            github_rate_limit_points,
            github_background_projected_points_per_hour,
            github_background_stretch,
            build_plan_repositories,
            build_dispatches,
            discovery_prune_holds,
        }
    }
}

impl RequestObserver for Metrics {
    fn exchange(&self, method: &str, route: &str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        let labels = GitHubRequestLabels { method: method.to_owned(), route: route.to_owned(), status };
        self.github_requests.get_or_create(&labels).inc();
        self.github_request_duration
            .get_or_create(&GitHubRouteLabels { route: route.to_owned() })
            .observe(took.as_secs_f64());
    }

    fn budget(&self, credential: &str, budget: &RateBudget) {
        let labels = CredentialLabels { credential: credential.to_owned() };
        self.github_rate_limit_remaining
            .get_or_create(&labels)
            .set(i64::try_from(budget.remaining).unwrap_or(i64::MAX));
        self.github_rate_limit_limit.get_or_create(&labels).set(i64::try_from(budget.limit).unwrap_or(i64::MAX));
    }

    fn spent(&self, credential: &str, purpose: Purpose, points: u64, outlook: &BudgetOutlook) {
        let resource = resource_name(outlook.resource);
        let purpose = purpose.as_str();
        self.github_rate_limit_points.get_or_create(&BudgetPurposeLabels { resource, purpose }).inc_by(points);
        let labels = CredentialBudgetLabels { credential: credential.to_owned(), resource };
        let projected = i64::try_from(outlook.projected_per_hour).unwrap_or(i64::MAX);
        self.github_background_projected_points_per_hour.get_or_create(&labels).set(projected);
        self.github_background_stretch.get_or_create(&labels).set(i64::from(outlook.stretch));
    }
}

impl Metrics {
    /// Says which shard this process is (`""` when unsharded).
    pub fn set_shard(&self, shard: &str) {
        self.shard_info.get_or_create(&ShardLabels { shard: shard.to_owned() }).set(1);
    }

    /// Records one webhook recovery pass over an App's hook.
    pub fn record_webhook_recovery_pass(&self, outcome: &'static str) {
        self.webhook_recovery_passes.get_or_create(&WebhookRecoveryLabels { outcome }).inc();
    }

    /// Records what a discovery pass did with removals its listing alone did not justify.
    pub fn record_prune_hold(&self, outcome: &'static str) {
        self.discovery_prune_holds.get_or_create(&PruneHoldLabels { outcome }).inc();
    }

    /// Counts a reconcile of `controller` as under way until the returned guard is dropped (when the reconcile
    /// ends, fails, or is cancelled).
    pub fn reconcile_in_flight(&self, controller: &str) -> ReconcileInFlight {
        let gauge = self.reconciles_in_flight.get_or_create(&ControllerLabels { controller: controller.to_owned() });
        gauge.inc();
        ReconcileInFlight(gauge.clone())
    }

    /// Records one finished reconcile.
    pub fn record_reconcile(&self, controller: &str, took: Duration, error_category: Option<&'static str>) {
        let result = if error_category.is_some() { "error" } else { "success" };
        self.reconciles.get_or_create(&ReconcileLabels { controller: controller.to_owned(), result }).inc();
        self.reconcile_duration
            .get_or_create(&ControllerLabels { controller: controller.to_owned() })
            .observe(took.as_secs_f64());
        if let Some(category) = error_category {
            self.reconcile_errors
                .get_or_create(&ReconcileErrorLabels { controller: controller.to_owned(), category })
                .inc();
        }
    }

    /// Records one webhook delivery.
    pub fn record_webhook(&self, event: &'static str, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&WebhookLabels { event, outcome }).inc();
    }

    /// Records how many repositories of a BuildPlan's current run are in each state (every state, zeros included,
    /// so that a rate or a ratio never sees a series vanish mid-run).
    pub fn record_build_plan(&self, namespace: &str, name: &str, states: &[RepositoryBuildState]) {
        for state in RepositoryBuildState::ALL {
            let count = states.iter().filter(|s| **s == state).count();
            let labels =
                BuildPlanLabels { namespace: namespace.to_owned(), name: name.to_owned(), state: state.as_str() };
            self.build_plan_repositories.get_or_create(&labels).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Removes a deleted BuildPlan's series.
    pub fn forget_build_plan(&self, namespace: &str, name: &str) {
        for state in RepositoryBuildState::ALL {
            let labels =
                BuildPlanLabels { namespace: namespace.to_owned(), name: name.to_owned(), state: state.as_str() };
            self.build_plan_repositories.remove(&labels);
        }
    }

    /// Records dispatches sent: how many GitHub accepted, left unanswered, or refused.
    pub fn record_dispatches(&self, accepted: usize, unanswered: usize, refused: usize) {
        let outcomes = [("accepted", accepted), ("unanswered", unanswered), ("refused", refused)];
        for (outcome, count) in outcomes {
            self.build_dispatches.get_or_create(&DispatchLabels { outcome }).inc_by(count as u64);
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_counts_as_in_flight_until_its_guard_is_dropped() {
        let metrics = Metrics::default();
        let series = r#"infinity_orchestrator_reconciles_in_flight{controller="BuildPlan"}"#;
        let first = metrics.reconcile_in_flight("BuildPlan");
        let second = metrics.reconcile_in_flight("BuildPlan");
        assert!(metrics.encode().unwrap().contains(&format!("{series} 2")));
        drop(first);
        drop(second);
        assert!(metrics.encode().unwrap().contains(&format!("{series} 0")));
    }

    #[test]
    fn encodes_reconciles_errors_and_durations() {
        let metrics = Metrics::default();
        metrics.record_reconcile("Organization", Duration::from_millis(20), None);
        metrics.record_reconcile("Organization", Duration::from_millis(30), Some("KubeApi"));
        metrics.leader.set(1);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains(r#"infinity_orchestrator_reconciles_total{controller="Organization",result="success"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"infinity_orchestrator_reconciles_total{controller="Organization",result="error"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"infinity_orchestrator_reconcile_errors_total{controller="Organization",category="KubeApi"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"infinity_orchestrator_reconcile_duration_seconds_count{controller="Organization"} 2"#),
            "{text}"
        );
        assert!(text.contains("infinity_orchestrator_leader 1"), "{text}");
    }

    #[test]
    fn build_plan_progress_has_every_state_and_goes_with_the_plan() {
        let metrics = Metrics::default();
        use RepositoryBuildState as S;
        metrics.record_build_plan("ns", "nightly", &[S::Succeeded, S::Succeeded, S::Running, S::Pending]);
        metrics.record_dispatches(3, 0, 1);
        let text = metrics.encode().unwrap();
        let series = |state: &str| {
            format!(r#"infinity_orchestrator_build_plan_repositories{{namespace="ns",name="nightly",state="{state}"}}"#)
        };
        for (state, count) in [("Succeeded", 2), ("Running", 1), ("Pending", 1), ("Failed", 0), ("Cancelled", 0)] {
            assert!(text.contains(&format!("{} {count}\n", series(state))), "{state} in {text}");
        }
        assert!(text.contains(r#"infinity_orchestrator_build_dispatches_total{outcome="accepted"} 3"#), "{text}");
        assert!(text.contains(r#"infinity_orchestrator_build_dispatches_total{outcome="refused"} 1"#), "{text}");
        metrics.forget_build_plan("ns", "nightly");
        assert!(!metrics.encode().unwrap().contains("nightly"));
    }
}
