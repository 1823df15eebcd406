//! The HealingPolicy controller: for each repository the policy selects, observe it (skipping those whose
//! Repository status shows nothing to act on), let `plan::heal::decide` choose, carry the actions out in `Enforce`
//! mode or only record them in `DryRun`, and write the audit trail, the open issues, the pull requests and what
//! was held back to status, with an Event per action.
//!
//! A policy is evaluated every `spec.interval`, when a decision it held back may go, and when anything it reads
//! changes: its spec, its Organization, or a selected Repository's health, security or labels (the Repository
//! controller updates those after a `workflow_run` webhook). Its own status writes wake it too; those are
//! recognised and cost no request.

mod apply;
mod lockfile;
mod merge;
pub mod observe;
mod security;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::cache::{Cache, Changed};
use super::context::Context;
use super::error::Error;
use super::memo::Memo;
use super::organization_ref::{of_organization, OrganizationScoped};
use super::repository::org_alerts::OrgSnapshot;
use super::runtime;
use super::status::{namespace_of, publish_event};
use crate::crd::healing_policy::{AuditedAction, EscalationState, OpenIssue, PolicyPullRequest, WithheldDecision};
use crate::crd::{HealingPolicy, Organization, Repository};
use crate::github::spending::Purpose;
use crate::github::GitHub;
use crate::metrics::HealingActionLabels;
use crate::plan::heal::{self, attention, security_features, ActionHistory, Dispatch, PlannedAction};
use crate::scope::Scope;

mod status;

/// Used when `spec.interval` does not parse (the API server rejects such objects; only code can build one).
const FALLBACK_INTERVAL: Duration = Duration::from_secs(300);
/// How soon to look again after GitHub failed for some repository.
const RETRY_AFTER_ERRORS: Duration = Duration::from_secs(30);

/// Runs the controller until `shutdown` completes, reading Repository objects from `repositories` (the shared
/// cache, whose changes wake the policies of their Organization) and this shard's Organizations from `organizations`.
pub async fn run(
    ctx: Arc<Context>,
    scope: &Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    repositories: Cache<Repository>,
    organizations: Cache<Organization>,
) {
    let controller = Controller::new(scope.api::<HealingPolicy>(ctx.client.clone()), watcher::Config::default());
    let policies = controller.store();
    let changed = {
        let repositories = repositories.clone();
        repositories.changes().flat_map(move |change| {
            let of_repository =
                |repo: &Repository| of_organization(&policies, repo.namespace(), &repo.spec.organization_ref.name);
            let woken = match change {
                Changed::Object(repo) => repositories.store().get(&repo).map(|r| of_repository(&r)).unwrap_or_default(),
                Changed::Deleted(repo) => of_repository(&repo),
                Changed::Anything => policies.state().iter().map(|p| ObjectRef::from_obj(p.as_ref())).collect(),
            };
            futures::stream::iter(woken)
        })
    };
    let controller = runtime::woken_by_their_organization(controller, &organizations).reconcile_on(changed);
    let evaluations = Evaluations::default();
    let policies = controller.store();
    let shared =
        Arc::new(Shared { policies, repositories, organizations, evaluations, confirmed_on: Default::default() });
    // Healing is priority work: it goes first when the budget runs short.
    let reconcile = |policy, ctx, shared| Purpose::Healing.scope(reconcile(policy, ctx, shared));
    runtime::run_reconciles(controller, shutdown, ctx, shared, reconcile).await;
}

/// What reconciles share: the Repository objects and Organizations of this shard, and when each policy was last
/// evaluated.
struct Shared {
    /// This controller's HealingPolicy objects.
    policies: Store<HealingPolicy>,
    repositories: Cache<Repository>,
    organizations: Cache<Organization>,
    evaluations: Evaluations,
    /// Where GitHub last said the security features each policy asks for are all on.
    confirmed_on: security::ConfirmedOn,
}

/// For each policy, the fingerprint of what its last evaluation read, and when it is due again.
type Evaluations = Memo<ObjectRef<HealingPolicy>, (u64, Timestamp)>;

/// Forgets what was remembered of deleted policies: their last evaluation and their security confirmations (one
/// per selected repository). `live` policies exist, `exists` tells which; looked through only when more policies
/// were evaluated than exist, so it costs nothing until one is deleted.
fn forget_deleted_policies(
    evaluations: &Evaluations,
    confirmed_on: &security::ConfirmedOn,
    live: usize,
    exists: impl Fn(&ObjectRef<HealingPolicy>) -> bool,
) {
    let mut evaluated = evaluations.lock();
    if evaluated.len() <= live {
        return;
    }
    evaluated.retain(|policy, _| exists(policy));
    drop(evaluated);
    confirmed_on.lock().retain(|(policy, _), _| exists(policy));
}

/// How long to wait, when nothing the evaluation reads changed and it is not due yet.
fn wait_before_evaluating(
    evaluations: &Evaluations,
    key: &ObjectRef<HealingPolicy>,
    trigger: u64,
    now: Timestamp,
) -> Option<Duration> {
    let (_, due) = evaluations.get(key).filter(|(seen, _)| *seen == trigger)?;
    (now < due).then(|| now.duration_until(due).unsigned_abs())
}

/// One reconcile: observe the Organization and the selected repositories, decide and act per repository, write
/// status.
async fn reconcile(policy: Arc<HealingPolicy>, ctx: Arc<Context>, shared: Arc<Shared>) -> Result<Action, Error> {
    // A deleted policy is not reconciled again: the next reconcile of another forgets it.
    let exists = |key: &ObjectRef<HealingPolicy>| shared.policies.get(key).is_some();
    forget_deleted_policies(&shared.evaluations, &shared.confirmed_on, shared.policies.len(), exists);
    if policy.spec.suspend || !runtime::owns_organization_of(&ctx, &shared.organizations, policy.as_ref()).await? {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(policy.as_ref())?;
    let org_name = policy.organization_name();
    let organization = Api::<Organization>::namespaced(ctx.client.clone(), &namespace).get_opt(org_name).await?;
    shared.repositories.filled().await;
    let selected: Vec<Repository> = shared
        .repositories
        .store()
        .state()
        .iter()
        .filter(|repo| repo.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|repo| repo.spec.organization_ref.name == org_name && !repo.spec.suspend)
        .filter(|repo| policy.spec.selector.matches(repo.labels(), &repo.spec.name.0))
        .map(|repo| repo.as_ref().clone())
        .collect();
    let key = ObjectRef::from_obj(policy.as_ref());
    let trigger = status::trigger_of(&policy, organization.is_some(), &selected);
    let now = ctx.clock.now();
    if let Some(wait) = wait_before_evaluating(&shared.evaluations, &key, trigger, now) {
        return Ok(Action::requeue(wait));
    }
    // The watch may not have brought this controller's last status write yet; the audit trail the cooldowns and
    // bounds count from, and that this write extends, must be the latest.
    let api: Api<HealingPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(policy) = api.get_opt(&policy.name_any()).await? else { return Ok(Action::await_change()) };
    // From here on the policy acts by the operator's guard rails.
    let restricted = ctx.config.forbidden_actions(&policy.spec);
    let policy = HealingPolicy { spec: ctx.config.guard_healing(&policy.spec), ..policy };
    let Some(organization) = organization else {
        status::write_waiting(&ctx, &policy, selected.len(), false).await?;
        return Ok(Action::requeue(Duration::from_secs(120)));
    };
    let github = match ctx.github.for_organization_recent(&ctx.client, &organization).await {
        Ok(github) => github,
        // The Organization reports its credentials itself; this policy waits for them.
        Err(Error::Credentials { .. }) => {
            status::write_waiting(&ctx, &policy, selected.len(), true).await?;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
        Err(error) => return Err(error),
    };
    // The open Dependabot alerts come from the Organization's snapshot, shared with the Repository controller.
    let alerts = match policy.spec.actions.dependency_update.enabled {
        true => {
            let interval = policy.spec.interval.to_std().unwrap_or(FALLBACK_INTERVAL);
            let max_age = interval.max(ctx.config.monitoring.health_check_interval);
            ctx.org_alerts.snapshot(&organization, &github, now, max_age).await?
        }
        false => None,
    };
    let reads = (ctx.as_ref(), github.as_ref(), alerts.as_deref());
    let mut evaluation = evaluate(reads, &policy, &selected, &shared.confirmed_on, now).await;
    evaluation.restricted = restricted;
    status::write_evaluated(&ctx, &policy, &evaluation, selected.len(), now).await?;
    let interval = policy.spec.interval.to_std().unwrap_or(FALLBACK_INTERVAL);
    let wait = evaluation.wait(now, interval);
    shared.evaluations.insert(key, (trigger, heal::after(now, heal::signed(wait))));
    Ok(Action::requeue(wait))
}

/// What one evaluation decided and did.
#[derive(Debug, Default)]
struct Evaluation {
    /// New audit entries, newest first.
    entries: Vec<AuditedAction>,
    /// The open issues of the repositories looked at, after the actions.
    open_issues: BTreeMap<String, Vec<OpenIssue>>,
    /// Pull requests opened now.
    pull_requests: Vec<PolicyPullRequest>,
    /// The escalation ladders of the repositories looked at, after the decisions.
    escalations: BTreeMap<String, Vec<EscalationState>>,
    /// Decisions held back.
    withheld: Vec<WithheldDecision>,
    /// The earliest time a held-back decision may go.
    retry_at: Option<Timestamp>,
    /// Repositories that could not be read or acted on, with why.
    errors: Vec<String>,
    /// Repositories read from GitHub.
    looked_at: usize,
    /// The `self_healing.*` configuration keys that turned off actions the policy asks for.
    restricted: Vec<&'static str>,
}

impl Evaluation {
    /// How long until the next evaluation.
    fn wait(&self, now: Timestamp, interval: Duration) -> Duration {
        let mut wait = if self.errors.is_empty() { interval } else { interval.min(RETRY_AFTER_ERRORS) };
        if let Some(retry_at) = self.retry_at {
            wait = wait.min(now.duration_until(retry_at).unsigned_abs().max(Duration::from_secs(1)));
        }
        wait
    }
}

/// Decides and acts for every selected repository that needs a look. A repository GitHub fails for is reported
/// and the others go on.
async fn evaluate(
    (ctx, github, alerts): (&Context, &dyn GitHub, Option<&OrgSnapshot>),
    policy: &HealingPolicy,
    selected: &[Repository],
    confirmed_on: &security::ConfirmedOn,
    now: Timestamp,
) -> Evaluation {
    let current = policy.status.clone().unwrap_or_default();
    let mut evaluation = Evaluation::default();
    for repo in selected {
        let name = &repo.spec.name.0;
        // Something the policy opened or climbed counts as an open issue: it has to be closed or dropped back (a
        // ladder closes its rollback pull request as it drops back).
        let open_issue = current.open_issues.iter().any(|issue| &issue.repository == name)
            || current.escalations.iter().any(|ladder| &ladder.repository == name)
            || current.pull_requests.iter().any(|pull| &pull.repository == name && lockfile::pending(pull));
        let status = repo.status.clone().unwrap_or_default();
        if attention::needs_attention(&policy.spec, &status, open_issue) {
            if let Err(error) = heal_repository(ctx, github, alerts, policy, repo, now, &mut evaluation).await {
                tracing::warn!(repository = %name, %error, "could not evaluate the repository");
                evaluation.errors.push(format!("{name}: {error}"));
            }
        }
        // After the healing actions, which count against the same hourly cap.
        security::enable_features((ctx, github), policy, repo, confirmed_on, now, &mut evaluation).await;
        merge::merge_pull_requests(ctx, github, policy, repo, now, &mut evaluation).await;
    }
    evaluation
}

/// Observe, decide and act for one repository.
async fn heal_repository(
    ctx: &Context,
    github: &dyn GitHub,
    alerts: Option<&OrgSnapshot>,
    policy: &HealingPolicy,
    repo: &Repository,
    now: Timestamp,
    evaluation: &mut Evaluation,
) -> Result<(), Error> {
    let recorded = policy.status.as_ref().map(|s| s.pull_requests.as_slice()).unwrap_or_default();
    let Some(mut view) = observe::repository(github, alerts, &policy.spec, repo, recorded).await? else {
        return Ok(());
    };
    let ladders = policy.status.as_ref().map(|s| s.escalations.as_slice()).unwrap_or_default();
    view.observed.escalations = ladders.iter().filter(|l| l.repository == view.observed.name).cloned().collect();
    evaluation.looked_at += 1;
    let history = policy.status.as_ref().map(|s| s.actions.as_slice()).unwrap_or_default();
    let plan = heal::decide(&policy.spec, &view.observed, &ActionHistory { entries: history }, now);
    let heal::HealingPlan { actions, withheld, escalations, ladder_changes } = &plan;
    let mut issues: BTreeMap<i64, OpenIssue> = status::owned_issue_records(&view);
    for planned in actions {
        let entry = match planned.dispatch {
            Dispatch::RecordOnly => planned.audit(&view.observed.name, now, None),
            Dispatch::Send => match apply::carry_out(github, &view, &planned.action).await {
                Ok(produced) => {
                    if let Some(number) = produced.closed_issue {
                        issues.remove(&number);
                    }
                    if let Some(opened) = produced.opened_issue {
                        issues.insert(opened.number, opened);
                    }
                    evaluation.pull_requests.extend(produced.pull_request);
                    planned.audit(&view.observed.name, now, produced.link)
                }
                Err(refused) => failed(planned, &view.observed.name, now, &refused.to_string()),
            },
        };
        announce(ctx, policy, repo, &entry).await;
        evaluation.entries.insert(0, entry);
    }
    // Dependency pull requests waiting for their lockfile, including one opened just now.
    lockfile::follow_up_all(ctx, github, policy, repo, &view, recorded, now, evaluation).await;
    evaluation.open_issues.insert(view.observed.name.clone(), issues.into_values().collect());
    evaluation.escalations.insert(view.observed.name.clone(), escalations.clone());
    for change in ladder_changes {
        // The rung as the Event's action: Events alike in reason and action fold into one series with one note.
        let (reason, rung) = match (change.to, change.from) {
            (Some(to), _) => ("Escalated", to.as_str()),
            (None, from) => ("DroppedBack", from.map_or("Bottom", |from| from.as_str())),
        };
        let target = Some(repo.object_ref(&()));
        publish_event(ctx, policy, target, EventType::Normal, reason, &change.why, rung).await;
    }
    for held in withheld {
        evaluation.retry_at = match (evaluation.retry_at, held.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        evaluation.withheld.push(WithheldDecision {
            repository: view.observed.name.clone(),
            action: held.kind.as_str().to_owned(),
            reason: held.why.clone(),
            retry_at: held.retry_at.map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time),
        });
    }
    Ok(())
}

/// The audit entry of an action GitHub refused.
fn failed(planned: &PlannedAction, repository: &str, now: Timestamp, why: &str) -> AuditedAction {
    let mut entry = planned.audit(repository, now, None);
    entry.outcome = "Failed".to_owned();
    entry.reason = format!("{}; failed: {why}", entry.reason);
    entry
}

/// An Event on the policy naming the repository: what, why, and the link.
async fn announce(ctx: &Context, policy: &HealingPolicy, repo: &Repository, entry: &AuditedAction) {
    let link = entry.link.as_deref().map(|link| format!(" ({link})")).unwrap_or_default();
    let note = format!("{} {} on {}: {}{link}", entry.outcome, entry.action, entry.repository, entry.reason);
    let labels = HealingActionLabels { action: entry.action.clone(), outcome: entry.outcome.clone() };
    ctx.metrics.healing_actions.get_or_create(&labels).inc();
    let refused = matches!(entry.outcome.as_str(), "Failed" | security_features::REFUSED);
    let event_type = if refused { EventType::Warning } else { EventType::Normal };
    publish_event(ctx, policy, Some(repo.object_ref(&())), event_type, &entry.action, &note, "Heal").await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::healing_policy::SecurityFeatures;

    #[test]
    fn a_deleted_policy_s_memos_are_forgotten_once_fewer_policies_exist_than_were_evaluated() {
        let (kept, deleted) = (ObjectRef::new("kept").within("ns"), ObjectRef::new("deleted").within("ns"));
        let (evaluations, confirmed_on) = (Evaluations::default(), security::ConfirmedOn::default());
        let at = Timestamp::from_second(1_000_000).unwrap();
        for policy in [&kept, &deleted] {
            evaluations.insert(policy.clone(), (1, at));
            for repo in ["api", "web"] {
                confirmed_on.insert((policy.clone(), repo.into()), (SecurityFeatures::default(), at));
            }
        }
        let looked_up = std::cell::Cell::new(0);
        let exists = |policy: &ObjectRef<HealingPolicy>| {
            looked_up.set(looked_up.get() + 1);
            *policy == kept
        };
        forget_deleted_policies(&evaluations, &confirmed_on, 2, exists);
        assert_eq!((evaluations.lock().len(), confirmed_on.lock().len(), looked_up.get()), (2, 4, 0), "both exist");

        forget_deleted_policies(&evaluations, &confirmed_on, 1, exists);
        assert_eq!(evaluations.lock().keys().collect::<Vec<_>>(), [&kept]);
        let mut confirmed: Vec<_> = confirmed_on.lock().keys().cloned().collect();
        confirmed.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(confirmed, [(kept.clone(), "api".to_owned()), (kept.clone(), "web".to_owned())]);
    }
}
