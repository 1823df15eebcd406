//! The Repository controller: keeps `Ready` (the Organization exists and discovery described the repository),
//! and the repository's health and security posture from GitHub: `status.health` from its recent default-branch
//! runs of the build and test workflows, `status.security` from its alerts, and the `Healthy` condition from both
//! under the thresholds of the HealingPolicy that selects it (or the defaults).
//!
//! GitHub cannot be watched: the repository is read again every `interval` of its selecting policy (five minutes
//! without one) with jitter, and at once when something asks: a `workflow_run` webhook annotates the object, and
//! discovery moving its head or workflow changes its status. Its own status writes wake it too; those are
//! recognised (nothing that matters to a read changed, and the last read is recent) and cost no request.

pub mod observe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::cache::{self, Cache};
use super::context::Context;
use super::error::Error;
use super::organization_ref::{of_organization, OrganizationScoped};
use super::status::{apply_status, namespace_of, publish_event};
use super::Scope;
use crate::crd::condition::{find_condition, set_condition, Condition, ConditionStatus, HasConditions};
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::repository::{HealthStatus, SecurityStatus};
use crate::crd::{HealingPolicy, Organization, Repository};
use crate::plan::discovered::DISCOVERED;
use crate::plan::health::{self, HEALTHY};
use crate::plan::prerequisites;
use crate::plan::readiness::{self, READY};
use crate::server::webhook::REQUESTED_AT;

/// `lastSyncTime` is refreshed at least this often even when nothing changed, so a stale one means trouble.
const SYNC_HEARTBEAT: Duration = Duration::from_secs(3600);

/// Runs the controller until `shutdown` completes, on `repositories` and the watch of `changes` that fills it
/// (see [`Cache::new`]).
pub async fn run(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    repositories: Cache<Repository>,
    changes: impl Stream<Item = Result<Repository, watcher::Error>> + Send + 'static,
) {
    let (policies, policy_changes) = Cache::new(scope.api::<HealingPolicy>(ctx.client.clone()));
    let controller = Controller::for_stream(changes, repositories.store().clone());
    let (by_organization, by_policy) = (controller.store(), controller.store());
    let shared = Arc::new(Shared { policies, reads: Reads::default() });
    let controller = controller
        .watches(scope.api::<Organization>(ctx.client.clone()), watcher::Config::default(), move |org| {
            of_organization(&by_organization, org.namespace(), &org.name_any())
        })
        // A policy's thresholds change the verdict, its interval the polling.
        .watches(scope.api::<HealingPolicy>(ctx.client.clone()), watcher::Config::default(), move |policy| {
            of_organization(&by_policy, policy.namespace(), &policy.spec.organization_ref.name)
        })
        .graceful_shutdown_on(shutdown)
        .run(
            move |repo, ctx| {
                let shared = shared.clone();
                super::measured(repo, ctx, move |repo, ctx| reconcile(repo, ctx, shared))
            },
            super::error_policy,
            ctx,
        )
        .for_each(super::log_outcome);
    cache::run_beside(policy_changes, controller).await;
}

/// What reconciles share: the policies, and when each repository was last read and what it looked like then.
struct Shared {
    policies: Cache<HealingPolicy>,
    reads: Reads,
}

/// When each repository was last read, and on what.
#[derive(Default)]
struct Reads(Mutex<HashMap<ObjectRef<Repository>, LastRead>>);

/// The last read of one repository.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LastRead {
    /// Everything a read depends on, except time.
    trigger: String,
    at: Timestamp,
}

/// What the next status says.
struct NextStatus {
    conditions: Vec<Condition>,
    health: Option<HealthStatus>,
    security: Option<SecurityStatus>,
    last_sync_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

/// One reconcile: observe the Organization and GitHub, judge the health, write the status.
async fn reconcile(repo: Arc<Repository>, ctx: Arc<Context>, shared: Arc<Shared>) -> Result<Action, Error> {
    if repo.spec.suspend {
        return Ok(Action::await_change());
    }
    shared.policies.filled().await;
    let policy = observe::selecting_policy(shared.policies.store(), &repo);
    let thresholds = observe::thresholds_of(policy.as_ref(), &ctx.config.monitoring);
    // A repository no policy selects is read as often as the operator's configuration says.
    let interval = policy.as_ref().and_then(|p| p.spec.interval.to_std());
    let interval = interval.unwrap_or(ctx.config.monitoring.health_check_interval);
    let key = ObjectRef::from_obj(repo.as_ref());
    let trigger = trigger_of(&repo, &thresholds, interval);
    let now = ctx.clock.now();
    if repo.status.as_ref().is_some_and(|s| s.health.is_some()) {
        shared.reads.assume_read_within(&key, &trigger, now, interval, fastrand::f64());
    }
    if let Some(wait) = shared.reads.wait_before_reading(&key, &trigger, now, interval) {
        return Ok(Action::requeue(wait));
    }
    let namespace = namespace_of(repo.as_ref())?;
    let organization = Api::<Organization>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(&repo.spec.organization_ref.name)
        .await?;
    let status = repo.status.clone().unwrap_or_default();
    let mut next = NextStatus {
        conditions: next_conditions(&repo, organization.is_some(), &ctx),
        health: status.health.clone(),
        security: status.security.clone(),
        last_sync_time: status.last_sync_time.clone(),
    };
    // A repository discovery found gone has nothing left to read on GitHub.
    let gone = find_condition(repo.conditions(), DISCOVERED).is_some_and(|c| c.status == ConditionStatus::False);
    let readable = if gone { None } else { observe::github_repository(repo.status.as_ref()) };
    // Only a read of GitHub is remembered: an Organization appearing changes nothing of the repository's own, so a
    // remembered visit without a read would keep it waiting for the interval.
    let read = matches!((&organization, &readable), (Some(_), Some(_)));
    if let (Some(org), Some((github_repo, branch))) = (organization, readable) {
        let github = ctx.github.for_organization(&ctx.client, &org).await?;
        let window = usize::try_from(thresholds.window_runs).unwrap_or(20);
        let build_workflow = status.build_workflow.as_deref();
        let runs = observe::default_branch_runs(github.as_ref(), &github_repo, &branch, build_workflow, window).await?;
        let security = observe::security(github.as_ref(), &github_repo).await?;
        judge(&repo, &mut next, health::health(&runs.completed, window), security.status, &thresholds, &ctx);
    }
    write(&ctx, &repo, next).await?;
    if read {
        shared.reads.remember(key, LastRead { trigger, at: now });
    }
    Ok(Action::requeue(jittered(interval)))
}

/// `Ready` (and `Stalled`) as every Organization-scoped kind has them, with the repository's own readiness:
/// true once discovery described it, false once discovery found it gone.
fn next_conditions(repo: &Repository, organization_found: bool, ctx: &Context) -> Vec<Condition> {
    let outcome = prerequisites::organization_ref(&repo.spec.organization_ref.name, organization_found);
    let (outcome, done) = match outcome.and_then(|()| repo.check_status()) {
        Ok(done) => (Ok(()), done),
        Err(blocker) => (Err(blocker), None),
    };
    let now = ctx.clock.now_time();
    let generation = repo.meta().generation;
    let mut next = readiness::conditions(repo.conditions(), &outcome, Repository::ACCEPTED, generation, &now);
    if let Some((reason, message)) = done {
        let mut ready = Condition::new(READY, ConditionStatus::True, reason, message, generation, now);
        if let Some(current) = find_condition(repo.conditions(), READY).filter(|c| c.status == ConditionStatus::True) {
            ready.last_transition_time = current.last_transition_time.clone();
        }
        set_condition(&mut next, ready);
    }
    next
}

/// Puts the new health, security and `Healthy` verdict into `next`; `lastSyncTime` moves when they changed or
/// the heartbeat is due.
fn judge(
    repo: &Repository,
    next: &mut NextStatus,
    health: HealthStatus,
    security: SecurityStatus,
    thresholds: &HealingThresholds,
    ctx: &Context,
) {
    let now = ctx.clock.now_time();
    let verdict = health::verdict(&health, thresholds);
    let condition =
        Condition::new(HEALTHY, verdict.status, verdict.reason, verdict.message, repo.meta().generation, now.clone());
    set_condition(&mut next.conditions, condition);
    let changed = next.health.as_ref() != Some(&health) || next.security.as_ref() != Some(&security);
    let heartbeat_due =
        next.last_sync_time.as_ref().is_none_or(|last| now.0.duration_since(last.0).unsigned_abs() >= SYNC_HEARTBEAT);
    if changed || heartbeat_due {
        next.last_sync_time = Some(now);
    }
    next.health = Some(health);
    next.security = Some(security);
}

/// Applies every status field this controller owns, and announces a `Healthy` transition.
async fn write(ctx: &Context, repo: &Repository, next: NextStatus) -> Result<(), Error> {
    let NextStatus { conditions, health, security, last_sync_time } = next;
    let mut fields = serde_json::Map::new();
    let mut own = |key: &str, value: serde_json::Value| {
        if !value.is_null() {
            fields.insert(key.to_owned(), value);
        }
    };
    own("health", json!(health));
    own("security", json!(security));
    own("lastSyncTime", json!(last_sync_time));
    apply_status(ctx, repo, &conditions, fields).await?;
    announce_health_transition(ctx, repo, &conditions).await;
    Ok(())
}

/// An Event when `Healthy` changes status or reason: a Warning when it turns false.
async fn announce_health_transition(ctx: &Context, repo: &Repository, after: &[Condition]) {
    let Some(healthy) = find_condition(after, HEALTHY) else { return };
    let before = find_condition(repo.conditions(), HEALTHY);
    if before.is_some_and(|b| b.status == healthy.status && b.reason == healthy.reason) {
        return;
    }
    let event_type = if healthy.status == ConditionStatus::False { EventType::Warning } else { EventType::Normal };
    publish_event(ctx, repo, event_type, &healthy.reason, &healthy.message, "JudgeHealth").await;
}

/// Everything a read depends on besides time: the spec, a wake request, what discovery says of the repository,
/// and the policy's settings. The controller's own status writes change none of it.
fn trigger_of(repo: &Repository, thresholds: &HealingThresholds, interval: Duration) -> String {
    let status = repo.status.as_ref();
    let discovered = find_condition(repo.conditions(), DISCOVERED).map(|c| (c.status, c.reason.clone()));
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{thresholds:?}|{interval:?}",
        repo.meta().generation,
        repo.annotations().get(REQUESTED_AT),
        discovered,
        status.and_then(|s| s.head_sha.as_deref()),
        status.and_then(|s| s.default_branch.as_deref()),
        status.and_then(|s| s.build_workflow.as_deref()),
    )
}

impl Reads {
    /// How long to wait before reading again, when nothing that matters changed since a read less than
    /// `interval` ago; `None` when a read is due.
    fn wait_before_reading(
        &self,
        key: &ObjectRef<Repository>,
        trigger: &str,
        now: Timestamp,
        interval: Duration,
    ) -> Option<Duration> {
        let reads = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let last = reads.get(key).filter(|last| last.trigger == trigger)?;
        let since = now.duration_since(last.at).unsigned_abs();
        interval.checked_sub(since).filter(|wait| !wait.is_zero())
    }

    fn remember(&self, key: ObjectRef<Repository>, read: LastRead) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key, read);
    }

    /// A repository this process never read, whose status shows an earlier process did, counts as read on
    /// `trigger` at `fraction` (0 to 1) of an interval ago. After a restart the reads of all repositories then
    /// spread over one interval instead of spending the rate-limit budget at once (GitHub's conditional requests,
    /// free when nothing changed, need the cache that the restart lost). A change of the trigger (a webhook's
    /// wake request, a new generation) still reads at once.
    fn assume_read_within(
        &self,
        key: &ObjectRef<Repository>,
        trigger: &str,
        now: Timestamp,
        interval: Duration,
        fraction: f64,
    ) {
        let mut reads = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !reads.contains_key(key) {
            let ago = SignedDuration::try_from(interval.mul_f64(fraction.clamp(0.0, 1.0))).unwrap_or_default();
            let at = now.checked_sub(ago).unwrap_or(now);
            reads.insert(key.clone(), LastRead { trigger: trigger.to_owned(), at });
        }
    }
}

/// `interval` ± 10 %, so that repositories read together at start drift apart.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_waits_only_while_nothing_changed_and_it_is_recent() {
        let reads = Reads::default();
        let key = ObjectRef::<Repository>::new("api").within("ns");
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let minute = Duration::from_secs(60);
        assert_eq!(reads.wait_before_reading(&key, "a", t0, minute), None, "never read");
        reads.remember(key.clone(), LastRead { trigger: "a".into(), at: t0 });
        let later = |secs: i64| Timestamp::from_second(1_000_000 + secs).unwrap();
        assert_eq!(reads.wait_before_reading(&key, "a", later(20), minute), Some(Duration::from_secs(40)));
        assert_eq!(reads.wait_before_reading(&key, "b", later(20), minute), None, "a wake request changed it");
        assert_eq!(reads.wait_before_reading(&key, "a", later(60), minute), None, "the interval passed");
    }

    #[test]
    fn after_a_restart_reads_spread_over_one_interval_and_a_wake_request_still_reads_at_once() {
        let reads = Reads::default();
        let key = ObjectRef::<Repository>::new("api").within("ns");
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let minute = Duration::from_secs(60);
        reads.assume_read_within(&key, "a", t0, minute, 0.25);
        assert_eq!(reads.wait_before_reading(&key, "a", t0, minute), Some(Duration::from_secs(45)));
        assert_eq!(reads.wait_before_reading(&key, "b", t0, minute), None, "a wake request changed the trigger");
        // Only the first sight counts: a real read is not pushed back by a later reconcile.
        reads.remember(key.clone(), LastRead { trigger: "a".into(), at: t0 });
        reads.assume_read_within(&key, "a", t0, minute, 1.0);
        assert_eq!(reads.wait_before_reading(&key, "a", t0, minute), Some(minute));
        let other = ObjectRef::<Repository>::new("web").within("ns");
        reads.assume_read_within(&other, "a", t0, minute, 1.0);
        assert_eq!(reads.wait_before_reading(&other, "a", t0, minute), None, "a whole interval ago: due now");
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100));
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110), "{d:?}");
        }
    }
}
