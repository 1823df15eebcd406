//! The operator's Prometheus metrics, named `infinity_orchestrator_*` with units in the name. Labels are bounded
//! (controller kind, result, error category), never a formatted error. The exceptions are labelled by an object's
//! namespace and name like kube-state-metrics' object gauges: BuildPlan progress and repository health by
//! Organization (there are few plans and Organizations, and their series go with them), and, only when asked for,
//! each repository's health, for at most a configured number of repositories.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use kube::runtime::reflector::Store;
use kube::ResourceExt;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::crd::build_plan::RepositoryBuildState;
use crate::crd::condition::find_condition;
use crate::crd::{ConditionStatus, HasConditions, Repository};
use crate::github::spending::{resource_name, BudgetOutlook, Purpose};
use crate::github::{RateBudget, RequestObserver};
use crate::plan::health::HEALTHY;

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

/// Labels of a wake a webhook delivery asked for.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookWakeLabels {
    /// The kind of the object woken.
    pub kind: &'static str,
    /// `process` (handed to the controller of this process, nothing written) or `annotation` (written on the
    /// object, for the leader's watch).
    pub via: &'static str,
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

/// Labels of a healing action.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HealingActionLabels {
    /// The action as the audit trail names it (`Rerun`, `OpenIssue`, `EnableDependabotAlerts`, …).
    pub action: String,
    /// `Enforced`, `DryRun`, `Failed` or `Refused`.
    pub outcome: String,
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

/// Labels of the repositories of one Organization in one health.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrganizationHealthLabels {
    /// The Organization's namespace.
    pub namespace: String,
    /// The Organization's name.
    pub organization: String,
    /// `healthy`, `unhealthy` or `unknown`: the repositories' `Healthy` condition.
    pub health: &'static str,
}

/// Labels of one Organization.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrganizationLabels {
    /// The Organization's namespace.
    pub namespace: String,
    /// The Organization's name.
    pub organization: String,
}

/// Labels naming one repository (its Repository object), for the opt-in per-repository series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RepositoryLabels {
    /// The object's namespace.
    pub namespace: String,
    /// Its Organization's name.
    pub organization: String,
    /// The object's name.
    pub repository: String,
}

/// A repository's health as its `Healthy` condition says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepositoryHealth {
    /// The condition is False: its default-branch builds fail.
    Unhealthy,
    /// The condition is True.
    Healthy,
    /// No verdict yet.
    Unknown,
}

impl RepositoryHealth {
    /// Every health, in the order the capped per-repository series prefer them (and of their discriminants).
    pub const ALL: [RepositoryHealth; 3] = [Self::Unhealthy, Self::Healthy, Self::Unknown];

    /// The `health` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unhealthy => "unhealthy",
            Self::Healthy => "healthy",
            Self::Unknown => "unknown",
        }
    }

    /// What `repo`'s `Healthy` condition says.
    pub fn of(repo: &Repository) -> Self {
        match find_condition(repo.conditions(), HEALTHY).map(|c| &c.status) {
            Some(ConditionStatus::True) => Self::Healthy,
            Some(ConditionStatus::False) => Self::Unhealthy,
            _ => Self::Unknown,
        }
    }
}

/// One repository as the health metrics see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositorySample {
    /// Namespace, Organization and object name.
    pub labels: RepositoryLabels,
    /// Its `Healthy` condition.
    pub health: RepositoryHealth,
    /// `status.health.score`, when read.
    pub score: Option<i32>,
    /// `status.health.flakyRatePercent`, when read.
    pub flaky_rate_percent: Option<i32>,
}

impl RepositorySample {
    /// What the metrics need of `repo`.
    pub fn of(repo: &Repository) -> Self {
        let labels = RepositoryLabels {
            namespace: repo.namespace().unwrap_or_default(),
            organization: repo.spec.organization_ref.name.clone(),
            repository: repo.name_any(),
        };
        let health = repo.status.as_ref().and_then(|s| s.health.as_ref());
        let (score, flaky_rate_percent) = (health.map(|h| h.score), health.map(|h| h.flaky_rate_percent));
        RepositorySample { labels, health: RepositoryHealth::of(repo), score, flaky_rate_percent }
    }
}

/// The repositories given series of their own when at most `limit` may be, and how many with a verdict were left
/// out. Those without a verdict have nothing to say yet; the unhealthy come first (they are what one looks for),
/// then by namespace and name, so that the set stays the same from scrape to scrape.
pub fn capped_repositories(mut samples: Vec<RepositorySample>, limit: usize) -> (Vec<RepositorySample>, usize) {
    samples.retain(|sample| sample.health != RepositoryHealth::Unknown);
    samples.sort_by_cached_key(|s| (s.health, s.labels.namespace.clone(), s.labels.repository.clone()));
    let omitted = samples.len().saturating_sub(limit);
    samples.truncate(limit);
    (samples, omitted)
}

/// The opt-in per-repository series, and their cap.
struct PerRepository {
    limit: usize,
    healthy: Family<RepositoryLabels, Gauge>,
    score: Family<RepositoryLabels, Gauge>,
    flaky_rate: Family<RepositoryLabels, Gauge>,
    omitted: Gauge,
}

/// Where repository health is read at each scrape: the controllers' watch cache while they run.
#[derive(Default)]
struct RepositorySource {
    store: Option<Store<Repository>>,
    per_repository: Option<PerRepository>,
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
    /// Objects woken by webhook deliveries, by kind and by how.
    pub webhook_wakes: Family<WebhookWakeLabels, Counter>,
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
    /// Repositories by Organization and health, read from the watch cache at each scrape.
    pub repositories: Family<OrganizationHealthLabels, Gauge>,
    /// Repositories of each Organization with flaky failures in their health window, read likewise.
    pub flaky_repositories: Family<OrganizationLabels, Gauge>,
    /// Healing actions decided, by action and outcome (each also in a HealingPolicy's status and an Event).
    pub healing_actions: Family<HealingActionLabels, Counter>,
    repository_source: Mutex<RepositorySource>,
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
        let webhook_wakes = Family::<WebhookWakeLabels, Counter>::default();
        registry.register(
            "webhook_wakes",
            "Objects woken by GitHub webhook deliveries, by kind and by how (in this process, or by an annotation)",
            webhook_wakes.clone(),
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
        let repositories = Family::<OrganizationHealthLabels, Gauge>::default();
        registry.register(
            "repositories",
            "Repositories of each Organization by health (healthy, unhealthy, unknown), while this process leads",
            repositories.clone(),
        );
        let flaky_repositories = Family::<OrganizationLabels, Gauge>::default();
        registry.register(
            "flaky_repositories",
            "Repositories of each Organization with a flaky failure in their health window (flakyRatePercent above \
             0), while this process leads",
            flaky_repositories.clone(),
        );
        let healing_actions = Family::<HealingActionLabels, Counter>::default();
        registry.register(
            "healing_actions",
            "Healing actions HealingPolicies decided, by action and outcome (DryRun: recorded only)",
            healing_actions.clone(),
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
            webhook_wakes,
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
            repositories,
            flaky_repositories,
            healing_actions,
            repository_source: Mutex::default(),
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
    /// Adds each repository's health as series of its own, for at most `limit` repositories (none: not at all).
    pub fn with_repository_metrics(mut self, limit: Option<usize>) -> Self {
        let Some(limit) = limit else { return self };
        let per_repository = PerRepository {
            limit,
            healthy: Family::default(),
            score: Family::default(),
            flaky_rate: Family::default(),
            omitted: Gauge::default(),
        };
        self.registry.register(
            "repository_healthy",
            "1 while the repository's Healthy condition is True, 0 while False (monitoring.repository_metrics)",
            per_repository.healthy.clone(),
        );
        self.registry.register(
            "repository_health_score",
            "The repository's health score, 0 (failing) to 100 (monitoring.repository_metrics)",
            per_repository.score.clone(),
        );
        self.registry.register(
            "repository_flaky_rate_percent",
            "Share of the repository's failed runs in its health window judged flaky, in percent \
             (monitoring.repository_metrics)",
            per_repository.flaky_rate.clone(),
        );
        self.registry.register(
            "repository_metrics_omitted",
            "Repositories left out of the per-repository series by monitoring.repository_metrics_limit",
            per_repository.omitted.clone(),
        );
        self.repository_source.get_mut().unwrap_or_else(PoisonError::into_inner).per_repository = Some(per_repository);
        self
    }

    /// Reads repository health from `store` at each scrape from now on; `None` (when the controllers stop) drops
    /// the repository series.
    pub fn observe_repositories(&self, store: Option<Store<Repository>>) {
        self.repository_source.lock().unwrap_or_else(PoisonError::into_inner).store = store;
    }

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

    /// Records one object woken by a webhook delivery, `via` `process` or `annotation`.
    pub fn record_webhook_wake(&self, kind: &'static str, via: &'static str) {
        self.webhook_wakes.get_or_create(&WebhookWakeLabels { kind, via }).inc();
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

    /// Sets the repository series from what `source` holds now: every health of every Organization seen (zeros
    /// included), and the capped per-repository series when asked for.
    fn refresh_repositories(&self, source: &RepositorySource) {
        let samples: Vec<RepositorySample> = source
            .store
            .as_ref()
            .map(|store| store.state().iter().map(|repo| RepositorySample::of(repo)).collect())
            .unwrap_or_default();
        let mut by_organization: BTreeMap<(&str, &str), [i64; 3]> = BTreeMap::new();
        let mut flaky_by_organization: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for sample in &samples {
            let organization = (sample.labels.namespace.as_str(), sample.labels.organization.as_str());
            by_organization.entry(organization).or_default()[sample.health as usize] += 1;
            *flaky_by_organization.entry(organization).or_default() +=
                i64::from(sample.flaky_rate_percent.is_some_and(|rate| rate > 0));
        }
        self.flaky_repositories.clear();
        for ((namespace, organization), count) in flaky_by_organization {
            let labels = OrganizationLabels { namespace: namespace.to_owned(), organization: organization.to_owned() };
            self.flaky_repositories.get_or_create(&labels).set(count);
        }
        self.repositories.clear();
        for ((namespace, organization), counts) in by_organization {
            for (health, count) in RepositoryHealth::ALL.into_iter().zip(counts) {
                let labels = OrganizationHealthLabels {
                    namespace: namespace.to_owned(),
                    organization: organization.to_owned(),
                    health: health.as_str(),
                };
                self.repositories.get_or_create(&labels).set(count);
            }
        }
        let Some(per_repository) = &source.per_repository else { return };
        per_repository.healthy.clear();
        per_repository.score.clear();
        per_repository.flaky_rate.clear();
        let (exported, omitted) = capped_repositories(samples, per_repository.limit);
        per_repository.omitted.set(i64::try_from(omitted).unwrap_or(i64::MAX));
        for sample in exported {
            let healthy = i64::from(sample.health == RepositoryHealth::Healthy);
            per_repository.healthy.get_or_create(&sample.labels).set(healthy);
            if let Some(score) = sample.score {
                per_repository.score.get_or_create(&sample.labels).set(i64::from(score));
            }
            if let Some(rate) = sample.flaky_rate_percent {
                per_repository.flaky_rate.get_or_create(&sample.labels).set(i64::from(rate));
            }
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        // Held while encoding, so that two scrapes at once do not interleave their refreshes.
        let source = self.repository_source.lock().unwrap_or_else(PoisonError::into_inner);
        self.refresh_repositories(&source);
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

    /// A Repository object of `organization` whose `Healthy` condition is `healthy` (none when `None`).
    fn repository(name: &str, organization: &str, healthy: Option<&str>, score: i32) -> Repository {
        let conditions = match healthy {
            Some(status) => serde_json::json!([{ "type": "Healthy", "status": status, "reason": "R", "message": "",
                                                 "lastTransitionTime": "2026-11-25T00:00:00Z" }]),
            None => serde_json::json!([]),
        };
        // The score's complement stands in for a flaky rate: 0 for a healthy repository.
        let health = serde_json::json!({ "score": score, "windowRuns": 5, "successRatePercent": score,
                                         "consecutiveFailures": 0, "flakyRatePercent": 100 - score });
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "Repository",
            "metadata": { "name": name, "namespace": "ns" },
            "spec": { "organizationRef": { "name": organization }, "name": name },
            "status": { "conditions": conditions, "health": health },
        }))
        .unwrap()
    }

    fn store_of(repositories: Vec<Repository>) -> Store<Repository> {
        let (store, mut writer) = kube::runtime::reflector::store();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Init);
        for repo in repositories {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::InitApply(repo));
        }
        writer.apply_watcher_event(&kube::runtime::watcher::Event::InitDone);
        store
    }

    fn sample(name: &str, health: RepositoryHealth) -> RepositorySample {
        let labels = RepositoryLabels { namespace: "ns".into(), organization: "acme".into(), repository: name.into() };
        RepositorySample { labels, health, score: None, flaky_rate_percent: None }
    }

    #[test]
    fn the_cap_keeps_the_unhealthy_first_then_by_name_and_counts_the_rest() {
        use RepositoryHealth::{Healthy, Unhealthy, Unknown};
        let samples = vec![
            sample("d", Healthy),
            sample("c", Unhealthy),
            sample("b", Healthy),
            sample("new", Unknown),
            sample("a", Unhealthy),
        ];
        let names = |kept: &[RepositorySample]| kept.iter().map(|s| s.labels.repository.clone()).collect::<Vec<_>>();
        let (kept, omitted) = capped_repositories(samples.clone(), 3);
        assert_eq!((names(&kept), omitted), (vec!["a".to_owned(), "c".into(), "b".into()], 1));
        let (kept, omitted) = capped_repositories(samples.clone(), 1);
        assert_eq!((names(&kept), omitted), (vec!["a".to_owned()], 3));
        // Room for all: only those without a verdict are left out, and not counted as omitted.
        let (kept, omitted) = capped_repositories(samples, 100);
        assert_eq!((kept.len(), omitted), (4, 0));
    }

    #[test]
    fn repository_health_is_counted_by_organization_and_per_repository_only_when_asked_and_capped() {
        let store = || {
            store_of(vec![
                repository("api", "acme", Some("False"), 20),
                repository("web", "acme", Some("True"), 100),
                repository("docs", "acme", None, 90),
                repository("lib", "globex", Some("True"), 95),
            ])
        };
        let plain = Metrics::default();
        assert!(!plain.encode().unwrap().contains("infinity_orchestrator_repositories{"), "no cache, no series");
        plain.observe_repositories(Some(store()));
        let text = plain.encode().unwrap();
        let series = |org: &str, health: &str| {
            format!(r#"infinity_orchestrator_repositories{{namespace="ns",organization="{org}",health="{health}"}}"#)
        };
        for (org, health, count) in
            [("acme", "unhealthy", 1), ("acme", "healthy", 1), ("acme", "unknown", 1), ("globex", "healthy", 1)]
        {
            assert!(text.contains(&format!("{} {count}\n", series(org, health))), "{org} {health} in {text}");
        }
        assert!(text.contains(&format!("{} 0\n", series("globex", "unhealthy"))), "zeros included: {text}");
        let flaky =
            |org: &str| format!(r#"infinity_orchestrator_flaky_repositories{{namespace="ns",organization="{org}"}}"#);
        assert!(text.contains(&format!("{} 2\n", flaky("acme"))), "api (80 %) and docs (10 %): {text}");
        assert!(text.contains(&format!("{} 1\n", flaky("globex"))), "lib (5 %): {text}");
        assert!(!text.contains("repository_flaky_rate_percent"), "per-repository series are opt-in: {text}");
        assert!(!text.contains("repository_healthy"), "per-repository series are opt-in: {text}");

        let capped = Metrics::default().with_repository_metrics(Some(2));
        capped.observe_repositories(Some(store()));
        let text = capped.encode().unwrap();
        let of = |name: &str, org: &str| format!(r#"{{namespace="ns",organization="{org}",repository="{name}"}}"#);
        assert!(text.contains(&format!("infinity_orchestrator_repository_healthy{} 0\n", of("api", "acme"))), "{text}");
        assert!(text.contains(&format!("infinity_orchestrator_repository_health_score{} 20\n", of("api", "acme"))));
        assert!(text.contains(&format!("infinity_orchestrator_repository_healthy{} 1\n", of("lib", "globex"))));
        let rate =
            |name: &str, org: &str| format!("infinity_orchestrator_repository_flaky_rate_percent{}", of(name, org));
        assert!(text.contains(&format!("{} 80\n", rate("api", "acme"))), "{text}");
        assert!(text.contains(&format!("{} 5\n", rate("lib", "globex"))), "{text}");
        assert!(!text.contains(r#"repository="web""#), "beyond the cap of 2: {text}");
        assert!(!text.contains(r#"repository="docs""#), "no verdict yet: {text}");
        assert!(text.contains("infinity_orchestrator_repository_metrics_omitted 1\n"), "{text}");

        capped.observe_repositories(None);
        let text = capped.encode().unwrap();
        assert!(!text.contains("infinity_orchestrator_repositories{") && !text.contains(r#"repository="api""#));
    }
}
