//! The operator's Prometheus metrics, named `infinity_orchestrator_*` with units in the name. Labels are bounded
//! (controller kind, result, error category): never an object name or a formatted error.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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

/// Labels naming a credential: its fingerprint id (`token:…` or `app:ID/installation:ID`), never the secret.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CredentialLabels {
    /// The credential's id.
    pub credential: String,
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
    /// 1 while this process holds the leader Lease (or runs without leader election), else 0.
    pub leader: Gauge,
    /// Webhook deliveries, by event and outcome.
    pub webhook_deliveries: Family<WebhookLabels, Counter>,
    /// GitHub HTTP exchanges, by method, route and status (a 304 is free of rate limit).
    pub github_requests: Family<GitHubRequestLabels, Counter>,
    /// How long GitHub takes to answer, by route.
    pub github_request_duration: Family<GitHubRouteLabels, Histogram>,
    /// Requests left in the primary rate-limit window, by credential.
    pub github_rate_limit_remaining: Family<CredentialLabels, Gauge>,
    /// Requests per primary rate-limit window, by credential.
    pub github_rate_limit_limit: Family<CredentialLabels, Gauge>,
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
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles finished, by controller and result", reconciles.clone());
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
        let webhook_deliveries = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "GitHub webhook deliveries, by event and outcome",
            webhook_deliveries.clone(),
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
        Metrics {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            leader,
            webhook_deliveries,
            github_requests,
            github_request_duration,
            github_rate_limit_remaining,
            github_rate_limit_limit,
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
}

impl Metrics {
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
}
