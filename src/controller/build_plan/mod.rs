//! The BuildPlan controller: builds the selected repositories of an Organization in dependency order through
//! GitHub Actions `workflow_dispatch`, as `plan::schedule` decides.
//!
//! A reconcile reads the plan afresh, checks its prerequisites, asks `schedule::trigger` whether a run starts, reads
//! the runs of the attempts in flight on GitHub, asks `schedule::next_steps` what to do, writes the resulting status
//! (the dispatch intents with their correlation ids included) and only then sends the dispatches. After a crash an
//! intent is found again by its correlation id instead of being dispatched twice. GitHub cannot be watched: a
//! `workflow_run` webhook wakes the plan (the receiver annotates it), and runs in flight are polled.
//!
//! A finalizer cancels the runs in flight when the plan is deleted; suspending it cancels them too.

pub mod apply;
pub mod observe;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, finalizer, Event as FinalizerEvent};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{predicates, watcher, Predicate, PredicateConfig, WatchStreamExt};
use kube::ResourceExt;

use self::apply::NamedRuns;
use self::observe::Target;
use self::status::Situation;
use super::cache::{self, Cache, Changed};
use super::context::Context;
use super::error::Error;
use super::memo::Memo;
use super::runtime;
use super::status::{announce_transition, namespace_of, publish_event};
use crate::crd::build_plan::{BuildPlanStatus, RepositoryBuild, RepositoryBuildState as S};
use crate::crd::condition::HasConditions;
use crate::crd::reference::RepositorySelector;
use crate::crd::well_known::BUILD_PLAN_FINALIZER;
use crate::crd::{BuildPlan, Organization, Repository};
use crate::github::spending::Purpose;
use crate::github::GitHub;
use crate::plan::build_commands;
use crate::plan::cron::CronSchedule;
use crate::plan::prerequisites::{Blocker, BlockerKind};
use crate::plan::readiness::{Polarity, READY};
use crate::plan::schedule::entries::RunObservation;
use crate::plan::schedule::trigger::{self, CurrentRun, Trigger};
use crate::plan::schedule::{self, entries, in_flight, stop, NextSteps, ScheduleError, SchedulePolicy};
use crate::scope::Scope;

/// How the controller paces its reads of GitHub.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How often runs in flight are read when no webhook wakes the plan.
    pub poll_interval: Duration,
    /// How long GitHub may take to list a dispatched run; a recorded intent whose run is still not listed after
    /// this long was never dispatched, and is sent again with the same correlation id.
    pub dispatch_grace: Duration,
    /// How soon a just-dispatched run is looked for.
    pub dispatch_recheck: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval: Duration::from_secs(30),
            dispatch_grace: Duration::from_secs(60),
            dispatch_recheck: Duration::from_secs(3),
        }
    }
}

/// What reconciles share.
struct Shared {
    repositories: Cache<Repository>,
    /// The Organizations of this shard: only their plans are reconciled here.
    organizations: Cache<Organization>,
    awaiting: Awaiting,
    named_runs: NamedRuns,
    /// The resourceVersion of each plan as a run's last status write left it.
    written: Memo<ObjectRef<BuildPlan>, String>,
    settings: Settings,
}

/// The plans waiting for their repositories to be discovered and described, each with what it waits for: a change
/// to one of those wakes it.
type Awaiting = Memo<ObjectRef<BuildPlan>, Awaited>;

struct Awaited {
    organization: String,
    /// The repositories still undescribed; when empty, none matched the selector yet, and any that does counts.
    repositories: BTreeSet<String>,
    selector: RepositorySelector,
}

impl Awaiting {
    fn wait(&self, plan: &BuildPlan, undescribed: &[String]) {
        let awaited = Awaited {
            organization: plan.spec.organization_ref.name.clone(),
            repositories: undescribed.iter().cloned().collect(),
            selector: plan.spec.selector.clone(),
        };
        self.insert(ObjectRef::from_obj(plan), awaited);
    }

    fn forget(&self, plan: &BuildPlan) {
        self.remove(&ObjectRef::from_obj(plan));
    }

    /// The waiting plans that this change of `repo` may let start.
    fn woken_by(&self, repo: &Repository) -> Vec<ObjectRef<BuildPlan>> {
        let name = &repo.spec.name.0;
        self.lock()
            .iter()
            .filter(|(plan, awaited)| {
                plan.namespace == repo.namespace()
                    && awaited.organization == repo.spec.organization_ref.name
                    && if awaited.repositories.is_empty() {
                        awaited.selector.matches(repo.labels(), name)
                    } else {
                        awaited.repositories.contains(name)
                    }
            })
            .map(|(plan, _)| plan.clone())
            .collect()
    }

    fn all(&self) -> Vec<ObjectRef<BuildPlan>> {
        self.lock().keys().cloned().collect()
    }
}

/// Runs the controller until `shutdown` completes, polling runs in flight at the configured `build.poll_interval`.
/// `repositories` and `organizations` are caches of the shard's objects in `scope` that something else fills.
pub async fn run(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    repositories: Cache<Repository>,
    organizations: Cache<Organization>,
) {
    let settings = Settings { poll_interval: ctx.config.build.poll_interval, ..Settings::default() };
    run_on(ctx, scope, shutdown, settings, repositories, organizations).await;
}

/// Runs the controller alone until `shutdown` completes, filling a cache of Repository objects of its own.
pub async fn run_with(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    settings: Settings,
) {
    let sharded = || watcher::Config::default().labels(&ctx.shard.selector());
    let (repositories, changes) = Cache::selected(scope.api::<Repository>(ctx.client.clone()), sharded());
    let (organizations, organization_changes) =
        Cache::selected(scope.api::<Organization>(ctx.client.clone()), sharded());
    let plans = run_on(ctx, scope, shutdown, settings, repositories, organizations);
    cache::run_beside(changes, cache::run_beside(organization_changes, plans)).await;
}

async fn run_on(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    settings: Settings,
    repositories: Cache<Repository>,
    organizations: Cache<Organization>,
) {
    // The plan's own status writes do not wake it (each reconcile says when to look again): a write would cost one
    // more reconcile, which read the plan again and raced the next webhook's wake. A spec change, a wake annotation, a
    // finalizer or a deletion (which moves the generation) still wake it.
    let (store, writer) = reflector::store();
    let api = scope.api::<BuildPlan>(ctx.client.clone());
    let plans = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::annotations).combine(predicates::finalizers),
            PredicateConfig::default(),
        );
    let controller = Controller::for_stream(plans, store);
    // An Organization appearing lets its plans start.
    let controller = runtime::woken_by_their_organization(controller, &organizations);
    let (awaiting, named_runs) = (Awaiting::default(), NamedRuns::default());
    let written = Memo::default();
    let shared = Arc::new(Shared { repositories, organizations, awaiting, named_runs, written, settings });
    // A plan waiting for discovery wakes when a repository it waits for is described (or first matches).
    let described = {
        let shared = shared.clone();
        shared.repositories.changes().flat_map(move |change| {
            let plans = match change {
                Changed::Object(repo) => shared
                    .repositories
                    .store()
                    .get(&repo)
                    .map(|repo| shared.awaiting.woken_by(&repo))
                    .unwrap_or_default(),
                // A deletion lets no waiting plan start.
                Changed::Deleted(_) => Vec::new(),
                Changed::Anything => shared.awaiting.all(),
            };
            futures::stream::iter(plans)
        })
    };
    // A webhook delivery received in this process wakes the plan at once, not when its annotation's watch event
    // comes back.
    let controller = controller.reconcile_on(described).reconcile_on(ctx.build_plan_wakes.listen());
    // Dispatching and following runs is priority work: it goes first when the budget runs short.
    let reconcile = |plan, ctx, shared| Purpose::Dispatch.scope(reconcile(plan, ctx, shared));
    runtime::run_reconciles(controller, shutdown, ctx, shared, reconcile).await;
}

/// One reconcile, under the finalizer: carry the plan on, or cancel its runs once it is deleted.
async fn reconcile(plan: Arc<BuildPlan>, ctx: Arc<Context>, shared: Arc<Shared>) -> Result<Action, Error> {
    // Another shard's plan, its finalizer included: a change of its Organization wakes it should it join this shard.
    if !runtime::owns_organization_of(&ctx, &shared.organizations, plan.as_ref()).await? {
        return Ok(Action::await_change());
    }
    let api: Api<BuildPlan> = Api::namespaced(ctx.client.clone(), &namespace_of(plan.as_ref())?);
    let outcome = finalizer(&api, BUILD_PLAN_FINALIZER, plan, |event| async {
        match event {
            FinalizerEvent::Apply(plan) => apply(&plan, &ctx, &shared).await,
            FinalizerEvent::Cleanup(plan) => {
                shared.awaiting.forget(&plan);
                shared.written.remove(&ObjectRef::from_obj(plan.as_ref()));
                cleanup(&plan, &ctx, &shared).await
            }
        }
    })
    .await;
    finalizer_outcome(outcome)
}

/// When a plan whose finalizer could not be changed on a stale copy is looked at again, should the watch event of
/// the change that made it stale not have come by then.
const STALE_FINALIZERS_RECHECK: Duration = Duration::from_secs(5);

/// What a reconcile under the finalizer comes to. The finalizer's JSON patch tests the finalizers of the copy it was
/// made from: a copy older than a change of them (this process's own addition, not yet come through the watch)
/// fails the test with 422, and the plan is looked at again once the change arrives, not counted as an error.
fn finalizer_outcome(outcome: Result<Action, finalizer::Error<Error>>) -> Result<Action, Error> {
    outcome.or_else(|error| match error {
        finalizer::Error::AddFinalizer(kube::Error::Api(status))
        | finalizer::Error::RemoveFinalizer(kube::Error::Api(status))
            if status.code == 422 =>
        {
            tracing::debug!(message = %status.message, "finalizers changed since this copy; looking again");
            Ok(Action::requeue(STALE_FINALIZERS_RECHECK))
        }
        finalizer::Error::ApplyFailed(error) | finalizer::Error::CleanupFailed(error) => Err(error),
        finalizer::Error::AddFinalizer(error) | finalizer::Error::RemoveFinalizer(error) => Err(Error::Kube(error)),
        // Objects from the API server have names, and BUILD_PLAN_FINALIZER is a valid path segment.
        finalizer::Error::UnnamedObject | finalizer::Error::InvalidFinalizer => {
            Err(Error::MissingNamespace { kind: "BuildPlan".into(), name: String::new() })
        }
    })
}

/// Observe the plan, its Organization and its repositories; decide whether a run starts; move the run on.
async fn apply(plan: &BuildPlan, ctx: &Context, shared: &Shared) -> Result<Action, Error> {
    // A watch copy that is this process's last status write needs no read: nobody else writes the status, and the
    // guarded write fails on any other change since.
    let last_written = shared.written.get(&ObjectRef::from_obj(plan));
    let fresh = if last_written.is_some() && plan.resource_version() == last_written {
        Some(plan.clone())
    } else {
        observe::fresh(ctx, plan).await?
    };
    let Some(plan) = fresh else { return Ok(Action::await_change()) };
    let organization = match observe::organization(ctx, &plan, &shared.organizations).await? {
        Ok(organization) => organization,
        Err(blocker) => return blocked(ctx, &plan, &blocker).await,
    };
    shared.repositories.filled().await;
    let (targets, undescribed) = observe::targets(shared.repositories.store(), &plan, &organization.spec.login);
    shared.awaiting.forget(&plan);
    let now = ctx.clock.now();
    if plan.spec.suspend {
        return suspend(ctx, &plan, &organization, &targets, shared, now).await;
    }
    let mut current = plan.status.clone().unwrap_or_default();
    shared.named_runs.fill(&mut current.repositories);
    let run = match trigger_of(&plan, &current, now) {
        Trigger::Idle { until } => return idle(ctx, &plan, until, now).await,
        Trigger::Start { .. } if targets.is_empty() || !undescribed.is_empty() => {
            shared.awaiting.wait(&plan, &undescribed);
            return waiting_for_repositories(ctx, &plan, &undescribed).await;
        }
        Trigger::Start { run_id, scheduled_at } => Some((run_id, scheduled_at)),
        Trigger::Continue => None,
    };
    let github = ctx.github.for_organization_recent(&ctx.client, &organization).await?;
    let by_name = by_name(&targets);
    let grace = signed(shared.settings.dispatch_grace);
    let run = match run {
        None => current,
        Some((run_id, scheduled_at)) => {
            // The runs of the run it replaces are cancelled first (a spec change while it was going).
            let runs = observe::runs_in_flight(github.as_ref(), &by_name, &current.repositories).await?;
            if !cancel_in_flight(github.as_ref(), &by_name, &current.repositories, &runs, grace, now).await? {
                return Ok(Action::requeue(shared.settings.dispatch_recheck));
            }
            let limit = usize::try_from(plan.spec.history_limit).unwrap_or(0);
            trigger::fresh_run(&current, &run_id, &trigger::spec_digest(&plan.spec), scheduled_at, limit, now)
        }
    };
    advance(ctx, &plan, github.as_ref(), &by_name, run, shared, now).await
}

/// Whether a run starts now, goes on, or waits.
fn trigger_of(plan: &BuildPlan, current: &BuildPlanStatus, now: Timestamp) -> Trigger {
    let schedule = plan.spec.schedule.as_deref().and_then(|s| s.parse::<CronSchedule>().ok());
    let run = current
        .run_id
        .as_ref()
        .map(|_| CurrentRun { spec_digest: current.spec_digest.as_deref(), phase: current.phase });
    let created = plan.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let last_fire = current.last_schedule_time.as_ref().map(|t| t.0);
    let digest = trigger::spec_digest(&plan.spec);
    let generation = plan.metadata.generation.unwrap_or_default();
    trigger::trigger(schedule.as_ref(), &digest, generation, run, last_fire, created, now)
}

/// Moves the run on: read its runs on GitHub, decide the next steps, record them, then send the dispatches.
async fn advance(
    ctx: &Context,
    plan: &BuildPlan,
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    mut run: BuildPlanStatus,
    shared: &Shared,
    now: Timestamp,
) -> Result<Action, Error> {
    let grace = signed(shared.settings.dispatch_grace);
    let lost = observe::track(github, targets, &mut run.repositories, grace, now).await?.lost;
    let current: BTreeMap<String, _> = run.repositories.iter().map(|e| (e.name.clone(), e.clone())).collect();
    let built = if plan.spec.only_changed {
        let unknown: Vec<_> = targets.values().map(|t| t.selected(false)).collect();
        observe::already_built(github, targets, &entries::cache_candidates(&unknown, &current)).await?
    } else {
        BTreeMap::new()
    };
    let selected: Vec<_> = targets.values().map(|t| t.selected(built.contains_key(&t.name))).collect();
    let key = format!("{}/{}", plan.uid().unwrap_or_default(), run.run_id.as_deref().unwrap_or_default());
    let policy = SchedulePolicy::resolve(&plan.spec, &ctx.config.build.schedule_defaults());
    let steps =
        match schedule::next_steps(&selected, &schedule::progress_by_name(&run.repositories), &policy, &key, now) {
            Ok(steps) => steps,
            Err(error) => return invalid(ctx, plan, run, &error).await,
        };
    let timed_out: Vec<&str> = steps.cancel.iter().map(|c| c.repository.as_str()).collect();
    apply::cancel_runs(github, targets, &run.repositories, &timed_out).await?;
    let (next, intents) = record(&run, &steps, &lost, &built, now);
    let written = carry_out(ctx, plan, github, targets, (next, &intents), &shared.named_runs, now).await?;
    let after = written.status.clone().unwrap_or_default();
    shared.named_runs.forget_recorded(&after.repositories);
    if let Some(version) = written.resource_version() {
        shared.written.insert(ObjectRef::from_obj(&written), version);
    }
    let objects = targets.iter().map(|(name, target)| (*name, &target.object)).collect();
    status::announce(ctx, &written, &objects, &plan.status.clone().unwrap_or_default(), &after);
    // GitHub's answer failed an attempt after the steps were decided (refused, untraceable): decide again at once,
    // as the plan's own status writes do not wake it.
    if after.repositories.iter().any(|e| e.state == S::Failed && intents.contains(&e.name)) {
        return Ok(Action::requeue(Duration::ZERO));
    }
    Ok(requeue(&after, steps.requeue_at, shared.settings, now))
}

/// The run's status once the steps are applied, and the repositories whose dispatch is to be sent: the new
/// attempts, and the lost dispatches sent again under their recorded correlation id.
fn record(
    run: &BuildPlanStatus,
    steps: &NextSteps,
    lost: &[String],
    built: &BTreeMap<String, String>,
    now: Timestamp,
) -> (BuildPlanStatus, Vec<String>) {
    let by_name = run.repositories.iter().map(|e| (e.name.clone(), e.clone())).collect();
    let mut repositories = entries::apply_steps(&by_name, steps, built, now);
    let mut intents: Vec<String> = steps.dispatch.iter().map(|d| d.repository.clone()).collect();
    for entry in repositories.iter_mut().filter(|e| e.state == S::Dispatching && lost.contains(&e.name)) {
        let (Some(correlation_id), Ok(attempt)) = (entry.correlation_id.clone(), u32::try_from(entry.attempts)) else {
            continue;
        };
        *entry = entries::dispatching(entry, attempt, &correlation_id, now);
        intents.push(entry.name.clone());
    }
    let ended = trigger::is_terminal(Some(steps.phase));
    let next = BuildPlanStatus {
        phase: Some(steps.phase),
        counts: Some(steps.counts.clone()),
        progress: Some(steps.progress.clone()),
        completion_time: ended.then(|| run.completion_time.clone().unwrap_or(Time(now))),
        repositories,
        ..run.clone()
    };
    (next, intents)
}

/// Records the status, intents included, and only then sends the dispatches; then remembers the runs GitHub's
/// answers named (tracking reads them by id), and records a dispatch GitHub refuses for good, or whose run can never
/// be found, as a failed attempt. `decided` is the status to record and the repositories it sends a dispatch to.
/// Returns the plan as last written.
async fn carry_out(
    ctx: &Context,
    plan: &BuildPlan,
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    (mut next, intents): (BuildPlanStatus, &[String]),
    named_runs: &NamedRuns,
    now: Timestamp,
) -> Result<BuildPlan, Error> {
    record_commands(&mut next, targets, intents);
    next.conditions = status::conditions(plan, Situation::Run, &next, &Time(now));
    let written = status::write(ctx, plan, next.clone()).await?;
    let to_send: Vec<_> = next.repositories.iter().filter(|e| intents.contains(&e.name)).collect();
    let mut sent = apply::send(github, targets, &to_send).await?;
    ctx.metrics.record_dispatches(sent.accepted, sent.unanswered, sent.refused.len());
    // A named run that its correlation id finds again is only remembered: the next reconcile records it with what
    // it observes of it. One nothing else would find is recorded at once.
    sent.named.retain(|(name, run)| {
        let traceable = targets.get(name.as_str()).is_some_and(|target| target.takes_correlation_id());
        let entry = next.repositories.iter().find(|e| e.name == *name);
        match entry.and_then(|e| e.correlation_id.as_deref()).filter(|_| traceable) {
            Some(correlation_id) => {
                named_runs.remember(correlation_id, i64::try_from(run.id).unwrap_or(i64::MAX));
                false
            }
            None => true,
        }
    });
    if sent.refused.is_empty() && sent.named.is_empty() && sent.untraceable.is_empty() {
        return Ok(written);
    }
    for entry in next.repositories.iter_mut() {
        let named =
            |list: &[(String, String)]| list.iter().find(|(name, _)| *name == entry.name).map(|(_, m)| m.clone());
        if let Some(message) = named(&sent.refused) {
            *entry = entries::dispatch_rejected(entry, &message, now);
        } else if let Some(message) = named(&sent.untraceable) {
            *entry = entries::dispatch_untraceable(entry, &message, now);
        } else if let Some((_, run)) = sent.named.iter().find(|(name, _)| *name == entry.name) {
            *entry = entries::run_named(entry, i64::try_from(run.id).unwrap_or(i64::MAX), run.url.clone());
        }
    }
    status::write(ctx, &written, next).await
}

/// When to look again: soon while a dispatched run is not found yet, at the poll interval while runs are in
/// flight, and no later than the scheduler's next deadline (a timeout, a backoff's end).
fn requeue(run: &BuildPlanStatus, deadline: Option<Timestamp>, settings: Settings, now: Timestamp) -> Action {
    let dispatching = run.repositories.iter().any(|e| e.state == S::Dispatching);
    let flying = run.repositories.iter().any(|e| in_flight(e.state));
    let poll = match (dispatching, flying) {
        (true, _) => Some(settings.dispatch_recheck),
        (false, true) => Some(settings.poll_interval),
        _ => None,
    };
    let until_deadline = deadline.map(|at| now.duration_until(at).max(SignedDuration::ZERO).unsigned_abs());
    match (poll, until_deadline) {
        (Some(poll), Some(until)) => Action::requeue(poll.min(until).max(Duration::from_secs(1))),
        (Some(wait), None) | (None, Some(wait)) => Action::requeue(wait.max(Duration::from_secs(1))),
        (None, None) => Action::await_change(),
    }
}

/// Suspended: the runs in flight are cancelled and their repositories wait as Pending until the plan resumes.
async fn suspend(
    ctx: &Context,
    plan: &BuildPlan,
    organization: &Organization,
    targets: &[Target],
    shared: &Shared,
    now: Timestamp,
) -> Result<Action, Error> {
    let mut run = plan.status.clone().unwrap_or_default();
    shared.named_runs.fill(&mut run.repositories);
    if run.repositories.iter().any(|e| in_flight(e.state)) {
        let github = ctx.github.for_organization_recent(&ctx.client, organization).await?;
        let (by_name, grace) = (by_name(targets), signed(shared.settings.dispatch_grace));
        let tracked = observe::track(github.as_ref(), &by_name, &mut run.repositories, grace, now).await?;
        if !cancel_in_flight(github.as_ref(), &by_name, &run.repositories, &tracked.runs, grace, now).await? {
            return Ok(Action::requeue(shared.settings.dispatch_recheck));
        }
        shared.named_runs.forget_all(&run.repositories);
        run.repositories = run.repositories.iter().map(entries::suspended).collect();
    }
    run.conditions = status::conditions(plan, Situation::Suspended, &run, &Time(now));
    let written = status::write(ctx, plan, run).await?;
    let after = written.status.clone().unwrap_or_default();
    let objects = targets.iter().map(|target| (target.name.as_str(), &target.object)).collect();
    status::announce(ctx, &written, &objects, &plan.status.clone().unwrap_or_default(), &after);
    Ok(Action::await_change())
}

/// Deleted: cancel the runs in flight before the finalizer lets the plan go. Without its Organization or usable
/// credentials nothing can be cancelled, and the plan goes at once.
async fn cleanup(plan: &BuildPlan, ctx: &Context, shared: &Shared) -> Result<Action, Error> {
    ctx.metrics.forget_build_plan(&namespace_of(plan)?, &plan.name_any());
    let Some(plan) = observe::fresh(ctx, plan).await? else { return Ok(Action::await_change()) };
    let mut run = plan.status.clone().unwrap_or_default();
    shared.named_runs.fill(&mut run.repositories);
    shared.named_runs.forget_all(&run.repositories);
    if !run.repositories.iter().any(|e| in_flight(e.state)) {
        return Ok(Action::await_change());
    }
    let Ok(organization) = observe::organization(ctx, &plan, &shared.organizations).await? else {
        return Ok(Action::await_change());
    };
    let github = match ctx.github.for_organization_recent(&ctx.client, &organization).await {
        Ok(github) => github,
        Err(error @ Error::Credentials { .. }) => {
            let note = format!("Runs in flight could not be cancelled: {error}");
            publish_event(ctx, &plan, None, EventType::Warning, "CancelFailed", &note, "Cancel").await;
            return Ok(Action::await_change());
        }
        Err(error) => return Err(error),
    };
    // Right after a start the cache may still be filling; cancelling runs of repositories it lacks yet would miss them.
    shared.repositories.filled().await;
    let (targets, _) = observe::targets(shared.repositories.store(), &plan, &organization.spec.login);
    let by_name = by_name(&targets);
    let grace = signed(shared.settings.dispatch_grace);
    // The finalizer goes as soon as this returns Ok, so a dispatch too young to judge is waited for here.
    loop {
        let runs = observe::runs_in_flight(github.as_ref(), &by_name, &run.repositories).await?;
        if cancel_in_flight(github.as_ref(), &by_name, &run.repositories, &runs, grace, ctx.clock.now()).await? {
            break;
        }
        tokio::time::sleep(shared.settings.dispatch_recheck).await;
    }
    let note = "The plan is being deleted: its runs in flight were cancelled";
    publish_event(ctx, &plan, None, EventType::Normal, "RunCancelled", note, "Cancel").await;
    Ok(Action::await_change())
}

/// No run to move on: the conditions say what the last run did, or what the plan waits for.
async fn idle(ctx: &Context, plan: &BuildPlan, until: Option<Timestamp>, now: Timestamp) -> Result<Action, Error> {
    let mut run = plan.status.clone().unwrap_or_default();
    let waiting = match until {
        Some(next) => format!("The Organization exists; the next run starts at {next}"),
        None => "The Organization exists".to_owned(),
    };
    let situation = if run.run_id.is_some() { Situation::Run } else { Situation::Waiting(&waiting) };
    run.conditions = status::conditions(plan, situation, &run, &Time(now));
    status::write(ctx, plan, run).await?;
    Ok(match until {
        Some(next) => Action::requeue(now.duration_until(next).max(SignedDuration::from_secs(1)).unsigned_abs()),
        None => Action::await_change(),
    })
}

/// A run is due, but no repository is selected yet, or discovery has not described all of them.
async fn waiting_for_repositories(ctx: &Context, plan: &BuildPlan, undescribed: &[String]) -> Result<Action, Error> {
    let message = if undescribed.is_empty() {
        "The Organization exists; no Repository matches the selector yet".to_owned()
    } else {
        format!("The Organization exists; waiting for discovery to describe {}", undescribed.join(", "))
    };
    let mut run = plan.status.clone().unwrap_or_default();
    run.conditions = status::conditions(plan, Situation::Waiting(&message), &run, &ctx.clock.now_time());
    status::write(ctx, plan, run).await?;
    // A change to an awaited repository wakes the plan (`Awaiting`): the timer is only a safety net.
    Ok(Action::requeue(Duration::from_secs(120)))
}

/// The spec is wrong or the Organization is missing.
async fn blocked(ctx: &Context, plan: &BuildPlan, blocker: &Blocker) -> Result<Action, Error> {
    let mut run = plan.status.clone().unwrap_or_default();
    run.conditions = status::conditions(plan, Situation::Blocked(blocker), &run, &ctx.clock.now_time());
    let written = status::write(ctx, plan, run).await?;
    announce_ready(ctx, plan, &written).await;
    Ok(match blocker.kind {
        BlockerKind::Stalled => Action::await_change(),
        // Organizations are watched: their arrival wakes the plan, so the timer is only a safety net.
        BlockerKind::Waiting => Action::requeue(Duration::from_secs(120)),
    })
}

/// The selected repositories depend on each other in a cycle: nothing is built until the graph or the selection
/// changes.
async fn invalid(
    ctx: &Context,
    plan: &BuildPlan,
    mut run: BuildPlanStatus,
    error: &ScheduleError,
) -> Result<Action, Error> {
    run.conditions = status::conditions(plan, Situation::Invalid(error), &run, &ctx.clock.now_time());
    let written = status::write(ctx, plan, run).await?;
    announce_ready(ctx, plan, &written).await;
    // A Repository's edges may change without the plan changing: look again now and then.
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// An Event when the status written changed `Ready`: a Warning when the plan became blocked for a new reason.
async fn announce_ready(ctx: &Context, plan: &BuildPlan, written: &BuildPlan) {
    let transition = (plan.conditions(), written.conditions());
    announce_transition(ctx, plan, transition, READY, Polarity::Positive, "Reconcile").await;
}

/// Cancels the runs still going among those read for the attempts in flight of `repositories`. Returns false while
/// some dispatch is too young to tell whether it reached GitHub: the caller comes back later.
async fn cancel_in_flight(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    repositories: &[RepositoryBuild],
    runs: &BTreeMap<String, Option<RunObservation>>,
    grace: SignedDuration,
    now: Timestamp,
) -> Result<bool, Error> {
    let stop = stop::stop_in_flight(repositories, runs, grace, now);
    apply::cancel(github, targets, &stop.cancel).await?;
    Ok(stop.unsettled.is_empty())
}

/// Records in each intent the commands its dispatch sends, so the status says what the run was given (written
/// with the intent, before the dispatch).
fn record_commands(next: &mut BuildPlanStatus, targets: &BTreeMap<&str, &Target>, intents: &[String]) {
    for entry in next.repositories.iter_mut().filter(|e| intents.contains(&e.name)) {
        let Some(target) = targets.get(entry.name.as_str()) else { continue };
        let sent = build_commands::sent(&target.inputs);
        entry.build_command = sent.build_command;
        entry.test_command = sent.test_command;
    }
}

fn by_name(targets: &[Target]) -> BTreeMap<&str, &Target> {
    targets.iter().map(|t| (t.name.as_str(), t)).collect()
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::schedule::entries::{dispatching, pending};

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            poll_interval: Duration::from_secs(30),
            dispatch_grace: Duration::from_secs(60),
            dispatch_recheck: Duration::from_secs(3),
        }
    }

    #[test]
    fn a_finalizer_change_refused_for_a_stale_copy_is_looked_at_again_and_other_failures_are_errors() {
        let refused =
            |code: u16| kube::Error::Api(kube::core::Status::failure("test failed", "Invalid").with_code(code).boxed());
        for stale in [finalizer::Error::AddFinalizer(refused(422)), finalizer::Error::RemoveFinalizer(refused(422))] {
            assert_eq!(finalizer_outcome(Err(stale)).unwrap(), Action::requeue(STALE_FINALIZERS_RECHECK));
        }
        let forbidden = finalizer_outcome(Err(finalizer::Error::AddFinalizer(refused(403))));
        assert!(matches!(forbidden, Err(Error::Kube(kube::Error::Api(status))) if status.code == 403));
        let failed = finalizer_outcome(Err(finalizer::Error::ApplyFailed(Error::Kube(refused(422)))));
        assert!(matches!(failed, Err(Error::Kube(_))), "a 422 of the plan's own work is an error");
        assert_eq!(finalizer_outcome(Ok(Action::await_change())).unwrap(), Action::await_change());
    }

    fn run_of(entries: Vec<crate::crd::build_plan::RepositoryBuild>) -> BuildPlanStatus {
        BuildPlanStatus { repositories: entries, ..Default::default() }
    }

    fn plan(namespace: &str, name: &str, selector: serde_json::Value) -> BuildPlan {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "organizationRef": { "name": "acme" }, "selector": selector },
        }))
        .unwrap()
    }

    fn repository(namespace: &str, org: &str, name: &str, labels: serde_json::Value) -> Repository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
            "metadata": { "name": name, "namespace": namespace, "labels": labels },
            "spec": { "organizationRef": { "name": org }, "name": name },
        }))
        .unwrap()
    }

    fn names(plans: Vec<ObjectRef<BuildPlan>>) -> Vec<String> {
        let mut names: Vec<String> = plans.into_iter().map(|plan| plan.name).collect();
        names.sort();
        names
    }

    #[test]
    fn a_waiting_plan_wakes_for_the_repositories_it_waits_for_and_no_others() {
        let awaiting = Awaiting::default();
        let everything = plan("ns", "everything", serde_json::json!({}));
        let two = plan("ns", "two", serde_json::json!({}));
        let labelled = plan("ns", "labelled", serde_json::json!({ "matchLabels": { "tier": "core" } }));
        awaiting.wait(&everything, &[]);
        awaiting.wait(&two, &["api".to_owned(), "web".to_owned()]);
        awaiting.wait(&labelled, &[]);
        let none = serde_json::json!({});
        assert_eq!(names(awaiting.woken_by(&repository("ns", "acme", "api", none.clone()))), ["everything", "two"]);
        assert_eq!(names(awaiting.woken_by(&repository("ns", "acme", "db", none.clone()))), ["everything"]);
        let core = serde_json::json!({ "tier": "core" });
        assert_eq!(names(awaiting.woken_by(&repository("ns", "acme", "db", core))), ["everything", "labelled"]);
        assert!(awaiting.woken_by(&repository("ns", "other-org", "api", none.clone())).is_empty());
        assert!(awaiting.woken_by(&repository("elsewhere", "acme", "api", none.clone())).is_empty());
        awaiting.forget(&two);
        assert_eq!(names(awaiting.woken_by(&repository("ns", "acme", "web", none))), ["everything"]);
        assert_eq!(names(awaiting.all()), ["everything", "labelled"]);
    }

    #[test]
    fn requeue_is_soon_while_a_run_is_not_found_and_never_past_a_deadline() {
        let looking = run_of(vec![dispatching(&pending("core"), 1, "io-x-1", t(0))]);
        assert_eq!(requeue(&looking, None, settings(), t(0)), Action::requeue(Duration::from_secs(3)));
        let mut running = looking.repositories[0].clone();
        running.state = S::Running;
        let polling = run_of(vec![running]);
        assert_eq!(requeue(&polling, None, settings(), t(0)), Action::requeue(Duration::from_secs(30)));
        assert_eq!(requeue(&polling, Some(t(10)), settings(), t(0)), Action::requeue(Duration::from_secs(10)));
        let idle = run_of(vec![pending("core")]);
        assert_eq!(requeue(&idle, Some(t(90)), settings(), t(0)), Action::requeue(Duration::from_secs(90)));
        assert_eq!(requeue(&idle, None, settings(), t(0)), Action::await_change());
    }

    #[test]
    fn a_lost_dispatch_is_sent_again_under_its_recorded_correlation_id() {
        let lost = dispatching(&pending("core"), 2, "io-core-2", t(0));
        let run = run_of(vec![lost]);
        let steps = NextSteps {
            cancel: vec![],
            cache: vec![],
            skip: vec![],
            dispatch: vec![],
            retry_later: vec![],
            requeue_at: None,
            order: vec!["core".into()],
            phase: crate::crd::build_plan::BuildPlanPhase::Running,
            counts: Default::default(),
            progress: "0/1".into(),
        };
        let (next, intents) = record(&run, &steps, &["core".to_string()], &BTreeMap::new(), t(70));
        assert_eq!(intents, ["core"]);
        let entry = &next.repositories[0];
        assert_eq!((entry.attempts, entry.correlation_id.as_deref()), (2, Some("io-core-2")));
        assert_eq!(entry.start_time, Some(Time(t(70))), "the grace period starts again with the new send");
    }
}
