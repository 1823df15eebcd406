//! The Repository controller: keeps `Ready` (the Organization exists and discovery described the repository),
//! and the repository's health and security posture from GitHub: `status.health` from its recent default-branch
//! runs of the build and test workflows, `status.security` from its alerts (the Organization's alert lists when the
//! credential may read them, see [`org_alerts`]), and the `Healthy` condition from both under the thresholds of the
//! HealingPolicy that selects it (or the defaults).
//!
//! GitHub cannot be watched: the repository is read again every `interval` of its selecting policy (five minutes
//! without one) with jitter, and at once when something asks: a `workflow_run` webhook annotates the object, and
//! discovery moving its head or workflow changes its status. Its own status writes wake it too; those are
//! recognised (nothing that matters to a read changed, and the last read is recent) and cost no request.
//!
//! Each read answers security (from the Organization's alert lists, free while unchanged), but reads the runs again
//! only when they may have changed ([`runs_loader::runs_due`]); the Organization's repositories due a read share one
//! GraphQL query of their runs ([`runs_loader`]), unless the Organization reads by REST (`spec.discovery.reads`).

pub mod observe;
pub mod org_alerts;
pub mod runs_loader;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, Stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::Serialize;

use self::observe::DefaultBranchRuns;
use self::org_alerts::Enablement;
use self::runs_loader::{runs_due, RunsAsk, RunsBasis, RunsLoader, RunsSeen, LOOKAHEAD};
use super::cache::{self, Cache};
use super::context::{Context, FIELD_MANAGER};
use super::discovered::{DiscoveredPart, Overlay, DISCOVERY_CONDITIONS};
use super::error::Error;
use super::memo::Memo;
use super::organization_ref::{of_organization, OrganizationScoped};
use super::runtime;
use super::status::{announce_transition, namespace_of, write_status, Guard, StatusPart};
use crate::crd::condition::{find_condition, Condition, ConditionStatus, HasConditions};
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::organization::DiscoveryReads;
use crate::crd::repository::{HealthStatus, SecurityStatus};
use crate::crd::well_known::{GITHUB_DELIVERY_PREFIX, MANAGED_BY_LABEL, REQUESTED_AT, REQUESTED_BY};
use crate::crd::{HealingPolicy, Organization, Repository};
use crate::github::spending::{stretch_of, Charge, Purpose};
use crate::github::{self, GitHub, RepositoryRuns, RunsRead};
use crate::plan::discovery_pass::{DiscoveredStatus, DETECTION_WARNING, DISCOVERED, GONE_FROM_GITHUB};
use crate::plan::health::{self, HEALTHY};
use crate::plan::prerequisites::{self, Blocker, BlockerKind};
use crate::plan::readiness::{self, keep_transition_time, set_condition, Polarity, READY, RECONCILING};
use crate::scope::Scope;

/// How many Repository reconciles run at once: more than a runs batch holds, so that batches fill.
const RECONCILES_AT_ONCE: u16 = 64;

/// `lastSyncTime` is refreshed at least this often even when nothing changed, so a stale one means trouble.
const SYNC_HEARTBEAT: Duration = Duration::from_secs(3600);

/// Runs the controller until `shutdown` completes, on `repositories` and the watch of `changes` that fills it
/// (see [`Cache::new`]), woken by changes of this shard's `organizations`.
pub async fn run(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    repositories: Cache<Repository>,
    changes: impl Stream<Item = Result<Repository, watcher::Error>> + Send + 'static,
    organizations: Cache<Organization>,
) {
    let (policies, policy_changes) = Cache::new(scope.api::<HealingPolicy>(ctx.client.clone()));
    // Queued reconciles wait as keys in the scheduler instead of as spawned futures (60 MiB at 10,000 repositories
    // when a discovery pass woke them all), and enough run at once to fill a runs batch.
    let config = controller::Config::default().concurrency(RECONCILES_AT_ONCE);
    let controller = Controller::for_stream(changes, repositories.store().clone()).with_config(config);
    let by_policy = controller.store();
    let (wake, read_ahead) = mpsc::unbounded();
    let handed_over = ctx.discovered.listen();
    let controller = runtime::woken_by_their_organization(controller, &organizations)
        .reconcile_on(read_ahead)
        .reconcile_on(handed_over);
    let runs = RunsLoader::new(wake, runs_loader::GATHER);
    let shared = Arc::new(Shared { policies, organizations, repositories, reads: Reads::default(), runs });
    let controller = controller
        // A policy's thresholds change the verdict, its interval the polling.
        .watches(scope.api::<HealingPolicy>(ctx.client.clone()), watcher::Config::default(), move |policy| {
            of_organization(&by_policy, policy.namespace(), &policy.spec.organization_ref.name)
        });
    // Health reads are background work: they yield to priority work and slow down when the budget asks.
    let reconcile = |repo: Arc<Repository>, ctx: Arc<Context>, shared: Arc<Shared>| {
        let charge = Charge { purpose: Purpose::Health, stretch: health_stretch(&ctx, &repo) };
        charge.scope(reconcile(repo, ctx, shared))
    };
    let discovered = ctx.discovered.clone();
    // An object deleted before its handed-over part was written is reconciled no more: its pass stops waiting.
    let deletions = super::discovered::release_deleted(discovered.clone(), shared.repositories.changes());
    let reconciles = runtime::run_reconciles(controller, shutdown, ctx, shared, reconcile);
    let reconciles = futures::future::select(Box::pin(deletions), Box::pin(reconciles));
    cache::run_beside(policy_changes, reconciles.map(drop)).await;
    // Nobody writes what discovery hands over from now on: its passes stop waiting.
    discovered.release_all();
}

/// What reconciles share: the policies, this shard's Organizations and Repositories, when each repository was last
/// read and what it looked like then, and the batches of runs reads.
struct Shared {
    policies: Cache<HealingPolicy>,
    organizations: Cache<Organization>,
    repositories: Cache<Repository>,
    reads: Reads,
    runs: RunsLoader,
}

/// When each repository was last read, and on what.
type Reads = Memo<ObjectRef<Repository>, LastRead>;

/// The last read of one repository.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LastRead {
    /// Everything a read depends on, except time.
    trigger: String,
    at: Timestamp,
    /// When its timed read comes due: `at` plus the interval then, kept so that a batch's look-ahead compares
    /// times instead of working out every repository's interval again.
    due_at: Timestamp,
    /// The object's `requested-at` annotation then: a new one since is a request to read again.
    requested_at: Option<String>,
    /// The last read of its runs in this process.
    runs: Option<RunsSeen>,
}

/// What this controller decides of a Repository's status: all but discovery's part.
#[derive(Debug, PartialEq)]
struct OwnStatus {
    observed_generation: Option<i64>,
    /// All conditions but [`DISCOVERY_CONDITIONS`].
    conditions: Vec<Condition>,
    health: Option<HealthStatus>,
    security: Option<SecurityStatus>,
    last_sync_time: Option<Time>,
}

impl OwnStatus {
    fn of(repo: &Repository) -> Self {
        let status = repo.status.as_ref();
        OwnStatus {
            observed_generation: repo.observed_generation(),
            conditions: own_conditions(repo.conditions()),
            health: status.and_then(|s| s.health.clone()),
            security: status.and_then(|s| s.security.clone()),
            last_sync_time: status.and_then(|s| s.last_sync_time.clone()),
        }
    }
}

/// A Repository's whole status, which this controller alone writes under [`FIELD_MANAGER`]: its own part and the
/// part discovery hands over ([`crate::controller::discovered`]), in one request. The schema marks the status
/// atomic, so each write replaces all of it and takes it over from any other field manager (an earlier version's
/// discovery wrote its part under one of its own).
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct WholeStatus {
    #[serde(flatten)]
    discovered: DiscoveredStatus,
    observed_generation: Option<i64>,
    /// Discovery's conditions, then this controller's.
    conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<HealthStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security: Option<SecurityStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_sync_time: Option<Time>,
}

impl WholeStatus {
    fn new(discovered: DiscoveredPart, own: OwnStatus) -> Self {
        WholeStatus {
            discovered: discovered.fields,
            observed_generation: own.observed_generation,
            conditions: discovered.conditions.into_iter().chain(own.conditions).collect(),
            health: own.health,
            security: own.security,
            last_sync_time: own.last_sync_time,
        }
    }
}

impl StatusPart for WholeStatus {
    type Object = Repository;
    const MANAGER: &'static str = FIELD_MANAGER;
    fn of(repo: &Repository) -> Self {
        WholeStatus::new(DiscoveredPart::of(repo), OwnStatus::of(repo))
    }
}

fn own_conditions(conditions: &[Condition]) -> Vec<Condition> {
    conditions.iter().filter(|c| !DISCOVERY_CONDITIONS.contains(&c.r#type.as_str())).cloned().collect()
}

/// When a copy of the object older than this controller's last write is looked at again, should the write's watch
/// event not have come by then.
const STALE_COPY_RECHECK: Duration = Duration::from_secs(5);

/// How long a read waits when the reconcile also writes what discovery handed over: discovery's pass waits for that
/// write, and a health read may be held back for hours when the budget runs short.
const HANDED_OVER_READ_WAIT: Duration = Duration::from_secs(10);

/// One reconcile: observe the Organization and GitHub, judge the health, write the status (with what discovery
/// handed over, if anything).
async fn reconcile(observed: Arc<Repository>, ctx: Arc<Context>, shared: Arc<Shared>) -> Result<Action, Error> {
    let key = ObjectRef::from_obj(observed.as_ref());
    // Discovery's part as it was handed over, when this copy of the object does not show it yet.
    let unwritten = match ctx.discovered.overlay(&observed) {
        Overlay::None => None,
        Overlay::Unwritten(part) => Some(*part),
        // Written from a later copy: this one would write back what discovery said before.
        Overlay::Stale => return Ok(Action::requeue(STALE_COPY_RECHECK)),
    };
    let repo = match &unwritten {
        Some(part) => Arc::new(with_discovered(&observed, part)),
        None => observed.clone(),
    };
    // Until its Organization's new shard relabels it, a moved Organization's object is still in this shard's cache.
    if !runtime::owns_organization_of(&ctx, &shared.organizations, repo.as_ref()).await? {
        ctx.discovered.release(&key);
        return Ok(Action::await_change());
    }
    if repo.spec.suspend {
        // Not read while suspended; what discovery found is still written.
        if unwritten.is_some() {
            write(&ctx, &observed, &repo, OwnStatus::of(&repo), unwritten.as_ref()).await?;
        }
        return Ok(Action::await_change());
    }
    if awaits_discovery(&repo) {
        return Ok(Action::await_change());
    }
    shared.policies.filled().await;
    let settings = read_settings(&ctx, &shared, &repo);
    let interval = settings.interval;
    let now = ctx.clock.now();
    if repo.status.as_ref().is_some_and(|s| s.health.is_some()) {
        assume_read_within(&shared.reads, &key, &settings.trigger, now, interval, fastrand::f64());
    }
    let wait = wait_before_reading(&shared.reads, &key, &settings.trigger, now, interval);
    if let (Some(wait), None) = (wait, &unwritten) {
        return Ok(Action::requeue(wait));
    }
    let namespace = namespace_of(repo.as_ref())?;
    // From the shard's cache (filled by `owns_organization_of` above): a read per reconcile would cost the API
    // server a request for every webhook delivery and every health read.
    let org_key = ObjectRef::new(&repo.spec.organization_ref.name).within(&namespace);
    let organization = shared.organizations.store().get(&org_key).map(|org| org.as_ref().clone());
    let status = repo.status.clone().unwrap_or_default();
    let mut next = OwnStatus {
        observed_generation: repo.meta().generation,
        conditions: own_conditions(&next_conditions(&repo, organization.is_some(), &ctx)),
        health: status.health.clone(),
        security: status.security.clone(),
        last_sync_time: status.last_sync_time.clone(),
    };
    // A repository discovery found gone has nothing left to read on GitHub, and one read recently is here only to
    // write what discovery handed over.
    let readable = if found_gone(&repo) || wait.is_some() { None } else { runs_ask(&repo, settings.window) };
    let mut requeue = wait.unwrap_or_else(|| jittered(interval));
    let mut read = false;
    let mut runs_seen = shared.reads.get(&key).and_then(|last| last.runs);
    if let (Some(org), Some(ask)) = (organization, readable) {
        let reading = read_github(&ctx, &shared, &repo, &org, ask, &settings, now);
        let found = match &unwritten {
            None => Some(reading.await?),
            Some(part) => match tokio::time::timeout(HANDED_OVER_READ_WAIT, reading).await {
                Ok(Ok(found)) => Some(found),
                Ok(Err(error)) => {
                    write(&ctx, &observed, &repo, next, Some(part)).await?;
                    return Err(error);
                }
                // Written without the read, which the next reconcile makes at once.
                Err(_) => {
                    requeue = Duration::ZERO;
                    None
                }
            },
        };
        if let Some(found) = found {
            read = true;
            runs_seen = found.runs_seen.or(runs_seen);
            judge(&repo, &mut next, found.health, found.security, &settings.thresholds, &ctx);
        }
    }
    write(&ctx, &observed, &repo, next, unwritten.as_ref()).await?;
    if read {
        let requested_at = repo.annotations().get(REQUESTED_AT).cloned();
        let due_at = later_by(now, interval);
        shared
            .reads
            .insert(key, LastRead { trigger: settings.trigger, at: now, due_at, requested_at, runs: runs_seen });
    }
    Ok(Action::requeue(requeue))
}

/// `repo` with discovery's `part` in its status.
fn with_discovered(repo: &Repository, part: &DiscoveredPart) -> Repository {
    let status = part.applied_to(&repo.status.clone().unwrap_or_default());
    Repository { status: Some(status), ..repo.clone() }
}

/// Whether `repo` is an object discovery made and has not described yet. Discovery writes its status right after
/// making it, and that write wakes the reconcile: writing `Ready=Unknown` in between would cost the API server a
/// status write and an Event per repository of a new organization, for a state that lasts milliseconds.
fn awaits_discovery(repo: &Repository) -> bool {
    let made_by_discovery = repo.labels().get(MANAGED_BY_LABEL).is_some_and(|by| by == FIELD_MANAGER);
    made_by_discovery && find_condition(repo.conditions(), DISCOVERED).is_none()
}

/// What a read of GitHub found of one repository.
struct GitHubRead {
    health: HealthStatus,
    security: SecurityStatus,
    /// What the runs read saw; `None` when they were not due.
    runs_seen: Option<RunsSeen>,
}

/// Reads `repo`'s security, and its runs when they are due (else its health stays as its status has it).
async fn read_github(
    ctx: &Context,
    shared: &Shared,
    repo: &Repository,
    org: &Organization,
    ask: RunsAsk,
    settings: &ReadSettings,
    now: Timestamp,
) -> Result<GitHubRead, Error> {
    let status = repo.status.as_ref();
    let last = shared.reads.get(&ObjectRef::from_obj(repo));
    let seen = last.as_ref().and_then(|last| last.runs);
    let kept_health = status.and_then(|s| s.health.clone());
    let (basis, window) = (ask.basis, settings.window);
    let due = runs_due(seen.as_ref(), basis, kept_health.is_some(), now, settings.full_read_interval);
    let read = async {
        let github = ctx.github.for_organization_recent(&ctx.client, org).await?;
        let max_age = settings.interval.max(ctx.config.monitoring.health_check_interval);
        let alerts = ctx.org_alerts.snapshot(org, &github, now, max_age).await?;
        let (repo_ref, last_security) = (ask.read.repo.clone(), status.and_then(|s| s.security.as_ref()));
        let runs = if due { Some(read_runs(ctx, shared, org, &github, repo, ask, now).await?) } else { None };
        // Dependabot alerts as the runs query said this time, else when it last read the runs in this process.
        let dependabot = runs.as_ref().map_or(seen.and_then(|seen| seen.vulnerability_alerts), |(_, said)| *said);
        let enabled = Enablement { dependabot, secret_scanning: ctx.org_alerts.secret_scanning(org, &repo_ref.name) };
        let security = observe::security(github.as_ref(), alerts.as_deref(), &repo_ref, last_security, enabled).await?;
        Ok::<_, Error>((runs, security))
    };
    // A read a webhook delivery asked for goes first when the budget runs short, like the delivery's other work.
    let (runs, security) = if asked_by_delivery(repo, last.as_ref()) {
        Charge { purpose: Purpose::Webhook, stretch: 1 }.scope(read).await?
    } else {
        read.await?
    };
    Ok(match runs {
        Some((runs, vulnerability_alerts)) => GitHubRead {
            health: health::health(&runs.completed, window),
            security: security.status,
            runs_seen: Some(RunsSeen { basis, at: now, in_progress: runs.in_progress, vulnerability_alerts }),
        },
        // `runs_due` asks for a read while the status has no health.
        None => GitHubRead { health: kept_health.unwrap_or_default(), security: security.status, runs_seen: None },
    })
}

/// How a repository is read and judged.
struct ReadSettings {
    thresholds: HealingThresholds,
    /// Runs in the health window.
    window: usize,
    /// See [`trigger_of`].
    trigger: String,
    /// Between reads, stretched by the budget.
    interval: Duration,
    /// The longest its runs go unread while nothing announces a change (see [`runs_due`]), stretched likewise.
    full_read_interval: Duration,
}

/// `repo`'s settings: its selecting policy's, else the operator's.
fn read_settings(ctx: &Context, shared: &Shared, repo: &Repository) -> ReadSettings {
    let policy = observe::selecting_policy(shared.policies.store(), repo);
    let thresholds = observe::thresholds_of(policy.as_ref(), &ctx.config.monitoring);
    // A repository no policy selects is read as often as the operator's configuration says.
    let interval = policy.as_ref().and_then(|p| p.spec.interval.to_std());
    let interval = interval.unwrap_or(ctx.config.monitoring.health_check_interval);
    let trigger = trigger_of(repo, &thresholds, interval);
    // Stretched after the trigger is taken: a stretch changing is no reason to read at once.
    let stretch = health_stretch(ctx, repo);
    ReadSettings {
        window: usize::try_from(thresholds.window_runs).unwrap_or(20),
        thresholds,
        trigger,
        interval: interval.saturating_mul(stretch),
        full_read_interval: ctx.config.monitoring.health_full_read_interval.saturating_mul(stretch),
    }
}

/// Whether discovery found the repository gone from GitHub.
fn found_gone(repo: &Repository) -> bool {
    find_condition(repo.conditions(), DISCOVERED).is_some_and(|c| c.status == ConditionStatus::False)
}

/// What a read of `repo`'s runs asks for, `window` runs deep; `None` until discovery described it.
fn runs_ask(repo: &Repository, window: usize) -> Option<RunsAsk> {
    let status = repo.status.as_ref();
    let (github_repo, branch) = observe::github_repository(status)?;
    let runs = observe::runs_wanted(window);
    let basis = RunsBasis {
        branch: &branch,
        head_sha: status.and_then(|s| s.head_sha.as_deref()),
        build_workflow: status.and_then(|s| s.build_workflow.as_deref()),
        runs,
        requested_at: repo.annotations().get(REQUESTED_AT).map(String::as_str),
    }
    .digest();
    Some(RunsAsk { object: ObjectRef::from_obj(repo), read: RunsRead { repo: github_repo, runs }, branch, basis })
}

/// `repo`'s default-branch runs of its build and test workflows: by REST when its Organization reads so, else
/// through the Organization's runs loader, in one query with the other repositories due a read; with whether its
/// Dependabot alerts are on when the query said.
async fn read_runs(
    ctx: &Context,
    shared: &Shared,
    org: &Organization,
    github: &Arc<dyn GitHub>,
    repo: &Repository,
    ask: RunsAsk,
    now: Timestamp,
) -> Result<(DefaultBranchRuns, Option<bool>), Error> {
    let build_workflow = repo.status.as_ref().and_then(|s| s.build_workflow.as_deref());
    let github_repo = ask.read.repo.clone();
    let read = match org.spec.discovery.reads {
        DiscoveryReads::Rest => {
            let runs = observe::recent_runs(github.as_ref(), &github_repo, &ask.branch, ask.read.runs).await?;
            RepositoryRuns { runs, vulnerability_alerts: None }
        }
        DiscoveryReads::GraphQL => {
            let login = org.spec.login.to_ascii_lowercase();
            let organization = format!("{}/{}/{login}", org.namespace().unwrap_or_default(), org.name_any());
            let due = || due_soon(ctx, shared, repo, now);
            let read = |batch| runs_loader::read_batch(github.as_ref(), batch);
            let runs = shared.runs.runs(&organization, ask, due, now, read).await?;
            runs.ok_or_else(|| github::Error::NotFound { message: format!("repository {github_repo}") })?
        }
    };
    let runs = observe::build_and_test_runs(github.as_ref(), &github_repo, read.runs, build_workflow).await?;
    Ok((runs, read.vulnerability_alerts))
}

/// The described repositories of `asking`'s Organization whose runs are due and whose next read comes within
/// [`LOOKAHEAD`], as a batch asks for them: lazily, as many as it has room for. Only the repositories this process
/// read whose timed read comes due by then are looked at (see [`timed_reads_due`]): a batch asks for them at every
/// query, and judging all 10,000 repositories of an Organization each time cost the operator about a fifth of its
/// CPU. The others read when their own reconcile comes (a change, a first sight).
fn due_soon<'a>(
    ctx: &'a Context,
    shared: &'a Shared,
    asking: &'a Repository,
    now: Timestamp,
) -> impl Iterator<Item = RunsAsk> + 'a {
    let soon = later_by(now, LOOKAHEAD);
    let namespace = asking.namespace();
    let candidates = timed_reads_due(&shared.reads.lock(), namespace.as_deref().unwrap_or_default(), soon);
    candidates.into_iter().filter_map(move |key| {
        let other = shared.repositories.store().get(&key)?;
        if other.spec.organization_ref.name != asking.spec.organization_ref.name {
            return None;
        }
        if other.spec.suspend || found_gone(&other) {
            return None;
        }
        let settings = read_settings(ctx, shared, &other);
        let ask = runs_ask(&other, settings.window)?;
        let health_known = other.status.as_ref().is_some_and(|s| s.health.is_some());
        if wait_before_reading(&shared.reads, &key, &settings.trigger, soon, settings.interval).is_some() {
            return None;
        }
        let seen = shared.reads.get(&key).and_then(|last| last.runs);
        runs_due(seen.as_ref(), ask.basis, health_known, now, settings.full_read_interval).then_some(ask)
    })
}

/// The repositories of `namespace` read in this process whose timed read comes due by `by`: a scan of the reads
/// that compares times and clones nothing else.
fn timed_reads_due(
    reads: &HashMap<ObjectRef<Repository>, LastRead>,
    namespace: &str,
    by: Timestamp,
) -> Vec<ObjectRef<Repository>> {
    let due = |(key, last): (&ObjectRef<Repository>, &LastRead)| {
        (last.due_at <= by && key.namespace.as_deref() == Some(namespace)).then(|| key.clone())
    };
    reads.iter().filter_map(due).collect()
}

/// Whether this read answers a webhook delivery: the delivery's annotation is newer than the last read. Not after a
/// restart (no read remembered), when it may be any request of the past.
fn asked_by_delivery(repo: &Repository, last: Option<&LastRead>) -> bool {
    let annotations = repo.annotations();
    let by_delivery = annotations.get(REQUESTED_BY).is_some_and(|by| by.starts_with(GITHUB_DELIVERY_PREFIX));
    by_delivery && last.is_some_and(|last| last.requested_at.as_ref() != annotations.get(REQUESTED_AT))
}

/// The stretch the Organization's credential asks of background intervals (1 before its first answer).
fn health_stretch(ctx: &Context, repo: &Repository) -> u32 {
    let namespace = repo.namespace().unwrap_or_default();
    stretch_of(&ctx.github.budget_outlook_of(&namespace, &repo.spec.organization_ref.name))
}

/// `Ready` (and `Stalled`) as every Organization-scoped kind has them, with the repository's own readiness:
/// true once discovery described it, false once discovery found it gone.
fn next_conditions(repo: &Repository, organization_found: bool, ctx: &Context) -> Vec<Condition> {
    let outcome = prerequisites::organization_ref(&repo.spec.organization_ref.name, organization_found);
    let (outcome, done) = match outcome.and_then(|()| discovery_readiness(repo)) {
        Ok(done) => (Ok(()), done),
        Err(blocker) => (Err(blocker), None),
    };
    let now = ctx.clock.now_time();
    let generation = repo.meta().generation;
    let mut next = readiness::conditions(repo.conditions(), &outcome, Repository::ACCEPTED, generation, &now);
    if let Some((reason, message)) = done {
        // `next` says Unknown (accepted) at this point: the transition time to keep is the one the object has.
        let ready = Condition::new(READY, ConditionStatus::True, reason, message, generation, now);
        set_condition(&mut next, keep_transition_time(find_condition(repo.conditions(), READY), ready));
        next.retain(|c| c.r#type != RECONCILING);
    }
    next
}

/// What discovery says of the repository once its Organization exists: `Ok(Some(..))` makes `Ready` true with that
/// reason and message, `Ok(None)` leaves it at the accepted one, an error makes it false.
fn discovery_readiness(repo: &Repository) -> Result<Option<(&'static str, &'static str)>, Blocker> {
    match find_condition(repo.conditions(), DISCOVERED) {
        Some(found) if found.status == ConditionStatus::True => {
            Ok(Some(("Discovered", "Discovery found the repository on GitHub and described it")))
        }
        Some(gone) if gone.reason == GONE_FROM_GITHUB => {
            Err(Blocker { kind: BlockerKind::Waiting, reason: GONE_FROM_GITHUB, message: gone.message.clone() })
        }
        _ => Ok(None),
    }
}

/// Puts the new health, security and `Healthy` verdict into `next`; `lastSyncTime` moves when they changed or
/// the heartbeat is due.
fn judge(
    repo: &Repository,
    next: &mut OwnStatus,
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

/// Writes `repo`'s whole status with `next` as this controller's part, on `observed` (the object as the cache
/// has it, which `repo` may be ahead of by what discovery handed over), and announces the transitions of `Ready`,
/// `Healthy` and `DetectionWarning`. `handed`, the part discovery handed over, is then known written.
async fn write(
    ctx: &Context,
    observed: &Repository,
    repo: &Repository,
    next: OwnStatus,
    handed: Option<&DiscoveredPart>,
) -> Result<(), Error> {
    let whole = WholeStatus::new(DiscoveredPart::of(repo), next);
    write_status(ctx, observed, &whole, Guard::None).await?;
    let conditions = (observed.conditions(), whole.conditions.as_slice());
    // Thousands are made at once: each one starting out fine is no news.
    announce_transition(ctx, observed, conditions, READY, Polarity::PositiveQuietAtFirst, "Reconcile").await;
    announce_transition(ctx, observed, conditions, HEALTHY, Polarity::PositiveQuietAtFirst, "JudgeHealth").await;
    announce_transition(ctx, observed, conditions, DETECTION_WARNING, Polarity::Negative, "Discover").await;
    if let Some(part) = handed {
        ctx.discovered.written(&ObjectRef::from_obj(observed), part);
    }
    Ok(())
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

/// How long to wait before reading again, when nothing that matters changed since a read less than `interval`
/// ago; `None` when a read is due.
fn wait_before_reading(
    reads: &Reads,
    key: &ObjectRef<Repository>,
    trigger: &str,
    now: Timestamp,
    interval: Duration,
) -> Option<Duration> {
    let last = reads.get(key).filter(|last| last.trigger == trigger)?;
    let since = now.duration_since(last.at).unsigned_abs();
    interval.checked_sub(since).filter(|wait| !wait.is_zero())
}

/// A repository this process never read, whose status shows an earlier process did, counts as read on `trigger`
/// at `fraction` (0 to 1) of an interval ago. After a restart the reads of all repositories then spread over one
/// interval instead of spending the rate-limit budget at once (GitHub's conditional requests, free when nothing
/// changed, need the cache that the restart lost). A change of the trigger (a webhook's wake request, a new
/// generation) still reads at once.
fn assume_read_within(
    reads: &Reads,
    key: &ObjectRef<Repository>,
    trigger: &str,
    now: Timestamp,
    interval: Duration,
    fraction: f64,
) {
    reads.lock().entry(key.clone()).or_insert_with(|| {
        let ago = SignedDuration::try_from(interval.mul_f64(fraction.clamp(0.0, 1.0))).unwrap_or_default();
        let at = now.checked_sub(ago).unwrap_or(now);
        LastRead { trigger: trigger.to_owned(), at, due_at: later_by(at, interval), requested_at: None, runs: None }
    });
}

/// `at` plus `interval`, or the end of time when that overflows.
fn later_by(at: Timestamp, interval: Duration) -> Timestamp {
    SignedDuration::try_from(interval).ok().and_then(|d| at.checked_add(d).ok()).unwrap_or(Timestamp::MAX)
}

/// `interval` ± 10 %, so that repositories read together at start drift apart.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// No read remembered yet, the repository `api`, a time, and a one-minute interval.
    fn never_read() -> (Reads, ObjectRef<Repository>, Timestamp, Duration) {
        let key = ObjectRef::<Repository>::new("api").within("ns");
        (Reads::default(), key, Timestamp::from_second(1_000_000).unwrap(), Duration::from_secs(60))
    }

    #[test]
    fn a_read_answers_a_delivery_only_when_the_delivery_asked_since_the_last_read() {
        let annotated = |by: &str, at: &str| -> Repository {
            serde_json::from_value(json!({
                "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
                "metadata": {"name": "api", "namespace": "ns", "annotations": {REQUESTED_BY: by, REQUESTED_AT: at}},
                "spec": {"organizationRef": {"name": "acme"}, "name": "api"}
            }))
            .expect("a Repository")
        };
        let read_at = |at: Option<&str>| LastRead {
            trigger: "a".into(),
            at: Timestamp::from_second(1_000_000).unwrap(),
            due_at: Timestamp::from_second(1_000_060).unwrap(),
            requested_at: at.map(str::to_owned),
            runs: None,
        };
        let delivery = format!("{GITHUB_DELIVERY_PREFIX}d-1");
        let asked = annotated(&delivery, "t2");
        assert!(asked_by_delivery(&asked, Some(&read_at(Some("t1")))), "asked after the last read");
        assert!(asked_by_delivery(&asked, Some(&read_at(None))), "the first request since the last read");
        assert!(!asked_by_delivery(&asked, Some(&read_at(Some("t2")))), "already answered");
        assert!(!asked_by_delivery(&asked, None), "no read remembered: maybe a request of long ago");
        assert!(!asked_by_delivery(&annotated("kubectl", "t2"), Some(&read_at(Some("t1")))), "a person asked");
    }

    #[test]
    fn a_read_waits_only_while_nothing_changed_and_it_is_recent() {
        let (reads, key, t0, minute) = never_read();
        assert_eq!(wait_before_reading(&reads, &key, "a", t0, minute), None, "never read");
        reads.insert(
            key.clone(),
            LastRead { trigger: "a".into(), at: t0, due_at: later_by(t0, minute), requested_at: None, runs: None },
        );
        let later = |secs: i64| Timestamp::from_second(1_000_000 + secs).unwrap();
        assert_eq!(wait_before_reading(&reads, &key, "a", later(20), minute), Some(Duration::from_secs(40)));
        assert_eq!(wait_before_reading(&reads, &key, "b", later(20), minute), None, "a wake request changed it");
        assert_eq!(wait_before_reading(&reads, &key, "a", later(60), minute), None, "the interval passed");
    }

    #[test]
    fn after_a_restart_reads_spread_over_one_interval_and_a_wake_request_still_reads_at_once() {
        let (reads, key, t0, minute) = never_read();
        assume_read_within(&reads, &key, "a", t0, minute, 0.25);
        assert_eq!(wait_before_reading(&reads, &key, "a", t0, minute), Some(Duration::from_secs(45)));
        assert_eq!(wait_before_reading(&reads, &key, "b", t0, minute), None, "a wake request changed the trigger");
        // Only the first sight counts: a real read is not pushed back by a later reconcile.
        reads.insert(
            key.clone(),
            LastRead { trigger: "a".into(), at: t0, due_at: later_by(t0, minute), requested_at: None, runs: None },
        );
        assume_read_within(&reads, &key, "a", t0, minute, 1.0);
        assert_eq!(wait_before_reading(&reads, &key, "a", t0, minute), Some(minute));
        let other = ObjectRef::<Repository>::new("web").within("ns");
        assume_read_within(&reads, &other, "a", t0, minute, 1.0);
        assert_eq!(wait_before_reading(&reads, &other, "a", t0, minute), None, "a whole interval ago: due now");
    }

    #[test]
    fn a_batch_looks_ahead_only_at_timed_reads_of_its_namespace_coming_due() {
        let (reads, _, t0, minute) = never_read();
        let later = |secs: i64| Timestamp::from_second(1_000_000 + secs).unwrap();
        let key = |name: &str, namespace: &str| ObjectRef::<Repository>::new(name).within(namespace);
        assume_read_within(&reads, &key("soon", "ns"), "a", t0, minute, 0.9);
        assume_read_within(&reads, &key("late", "ns"), "a", t0, minute, 0.1);
        assume_read_within(&reads, &key("elsewhere", "other"), "a", t0, minute, 1.0);
        reads.insert(
            key("stretched", "ns"),
            LastRead { trigger: "a".into(), at: t0, due_at: Timestamp::MAX, requested_at: None, runs: None },
        );
        let due = |by| {
            let mut names: Vec<String> = timed_reads_due(&reads.lock(), "ns", by).into_iter().map(|k| k.name).collect();
            names.sort();
            names
        };
        assert_eq!(due(later(5)), [] as [&str; 0], "nothing due within 5 s");
        assert_eq!(due(later(6)), ["soon"], "read 54 s ago on a one-minute interval: due in 6 s");
        assert_eq!(due(later(60)), ["late", "soon"], "the other namespace is never asked for");
        assert_eq!(later_by(t0, Duration::MAX), Timestamp::MAX, "an interval past the end of time");
    }

    #[test]
    fn the_whole_status_carries_discovery_s_part_first_and_leaves_out_what_is_unknown() {
        let at = Time(Timestamp::from_second(1_000_000).unwrap());
        let condition = |r#type: &str| json!(Condition::new(r#type, ConditionStatus::True, "R", "", None, at.clone()));
        let repo: Repository = serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
            "metadata": { "name": "api", "namespace": "ns", "generation": 2 },
            "spec": { "organizationRef": { "name": "acme" }, "name": "api" },
            "status": {
                "observedGeneration": 2, "fullName": "acme/api", "headSha": "abc",
                "conditions": [condition(READY), condition(DISCOVERED), condition(HEALTHY), condition(DETECTION_WARNING)],
            },
        }))
        .unwrap();
        let written = serde_json::to_value(WholeStatus::of(&repo)).unwrap();
        let conditions = [DISCOVERED, DETECTION_WARNING, READY, HEALTHY].map(condition);
        let expected = json!({
            "fullName": "acme/api", "headSha": "abc", "observedGeneration": 2,
            "conditions": conditions,
        });
        assert_eq!(written, expected);
    }

    #[test]
    fn a_handed_over_part_replaces_discovery_s_fields_and_conditions_and_keeps_the_rest() {
        let at = Time(Timestamp::from_second(1_000_000).unwrap());
        let condition =
            |r#type: &str, reason: &str| Condition::new(r#type, ConditionStatus::True, reason, "", None, at.clone());
        let repo: Repository = serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
            "metadata": { "name": "api", "namespace": "ns", "generation": 2 },
            "spec": { "organizationRef": { "name": "acme" }, "name": "api" },
            "status": {
                "fullName": "acme/api", "headSha": "abc", "buildCommand": "make",
                "health": { "score": 90, "successRatePercent": 90, "consecutiveFailures": 0, "windowRuns": 10, "flaky": false },
                "conditions": [condition(READY, "Discovered"), condition(DISCOVERED, "FoundOnGitHub")],
            },
        }))
        .unwrap();
        let fields =
            DiscoveredStatus { full_name: "acme/api".into(), head_sha: Some("def".into()), ..Default::default() };
        let part = DiscoveredPart { fields, conditions: vec![condition(DISCOVERED, "Again")] };
        let after = with_discovered(&repo, &part);
        assert_eq!(DiscoveredPart::of(&after), part, "discovery's part is the one handed over");
        let status = after.status.as_ref().unwrap();
        assert_eq!(status.build_command, None, "a field discovery no longer sets is gone");
        assert_eq!(status.health, repo.status.as_ref().unwrap().health, "this controller's part stays");
        assert_eq!(OwnStatus::of(&after), OwnStatus::of(&repo));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100));
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110), "{d:?}");
        }
    }
}
