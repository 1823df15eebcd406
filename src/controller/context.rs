//! What every reconcile shares: the Kubernetes client, the clock, and where Events go.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::Reporter;
use kube::Client;

use super::detection_cache::DetectionCache;
use super::discovered::DiscoveredHandover;
use super::events::EventRecorder;
use super::github_clients::GitHubClients;
use super::repository::org_alerts::OrgAlerts;
use super::wakes::Wakes;
use crate::clock::{Clock, SystemClock};
use crate::config::OperatorConfig;
use crate::crd::BuildPlan;
use crate::github::spending::DEFAULT_BACKGROUND_SHARE_PERCENT;
use crate::metrics::Metrics;
use crate::shard::Shard;

/// The name under which the operator writes: its server-side-apply field manager and its Event reporter.
pub const FIELD_MANAGER: &str = "infinity-orchestrator";

/// Shared state of the controllers.
#[derive(Clone)]
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// The clock decisions read.
    pub clock: Arc<dyn Clock>,
    /// Publishes Events about our objects.
    pub recorder: Arc<EventRecorder>,
    /// How often things that cannot be watched are looked at again.
    pub recheck: RecheckIntervals,
    /// Where reconciles are counted and timed.
    pub metrics: Arc<Metrics>,
    /// The GitHub clients, one per credential.
    pub github: Arc<GitHubClients>,
    /// What discovery read of each repository, kept between passes.
    pub detections: Arc<DetectionCache>,
    /// Discovery's findings on their way to the Repository controller, which writes them.
    pub discovered: Arc<DiscoveredHandover>,
    /// Each Organization's open security alerts, read by the Repository and HealingPolicy controllers alike.
    pub org_alerts: Arc<OrgAlerts>,
    /// The operator's configuration: values for what objects leave unset, and guard rails.
    pub config: Arc<OperatorConfig>,
    /// The Organizations this process owns, and with them their Repositories, BuildPlans and HealingPolicies.
    pub shard: Shard,
    /// Wakes of BuildPlans asked for in this process, for the BuildPlan controller when it runs here.
    pub build_plan_wakes: Wakes<BuildPlan>,
}

/// Intervals for looking again at what the operator does not watch.
#[derive(Clone, Copy, Debug)]
pub struct RecheckIntervals {
    /// A credentials Secret that is missing or incomplete. Secrets are not watched, because the operator may read
    /// only the Secrets it is pointed at; one GET per interval per Organization is cheap.
    pub credentials: Duration,
}

impl Default for RecheckIntervals {
    fn default() -> Self {
        RecheckIntervals { credentials: Duration::from_secs(15) }
    }
}

impl Context {
    /// A context on the system clock, reporting Events as `instance` (the pod name, or the host name locally).
    pub fn new(client: Client, instance: Option<String>, metrics: Arc<Metrics>) -> Self {
        let reporter = Reporter { controller: FIELD_MANAGER.to_owned(), instance };
        Context {
            recorder: Arc::new(EventRecorder::new(client.clone(), reporter)),
            client,
            clock: Arc::new(SystemClock),
            recheck: RecheckIntervals::default(),
            github: Arc::new(GitHubClients::observed_by(metrics.clone(), DEFAULT_BACKGROUND_SHARE_PERCENT)),
            metrics,
            detections: Arc::new(DetectionCache::default()),
            discovered: Arc::new(DiscoveredHandover::default()),
            org_alerts: Arc::new(OrgAlerts::default()),
            config: Arc::new(OperatorConfig::default()),
            shard: Shard::Unsharded,
            build_plan_wakes: Wakes::default(),
        }
    }
}
