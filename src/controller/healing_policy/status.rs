//! The HealingPolicy's status: `Ready`, what was matched and looked at, the audit trail, the open issues, the pull
//! requests and what waits; and the fingerprint of what an evaluation reads, so the controller's own status writes
//! do not start another one.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::observe::RepositoryView;
use super::Evaluation;
use crate::controller::context::{Context, FIELD_MANAGER};
use crate::controller::error::Error;
use crate::controller::organization_ref::OrganizationScoped;
use crate::controller::status::{announce_transition, write_status, Guard, StatusPart};
use crate::crd::condition::{Condition, ConditionStatus, HasConditions};
use crate::crd::healing_policy::{EscalationState, HealingPolicyStatus, OpenIssue, PolicyPullRequest};
use crate::crd::well_known::REQUESTED_AT;
use crate::crd::{HealingPolicy, Repository};
use crate::plan::heal::{self, marker::IssueMarker};
use crate::plan::prerequisites;
use crate::plan::readiness::{self, set_condition, Polarity, READY, RECONCILING};

/// Most pull requests and withheld decisions the status keeps (their schema's bound).
const LIST_LIMIT: usize = 100;

/// A fingerprint of everything an evaluation reads from Kubernetes: the policy's spec and wake request, whether
/// its Organization exists, and each selected repository's labels and the status the decisions rest on.
pub(super) fn trigger_of(policy: &HealingPolicy, organization_found: bool, selected: &[Repository]) -> u64 {
    let mut hasher = DefaultHasher::new();
    policy.meta().generation.hash(&mut hasher);
    policy.annotations().get(REQUESTED_AT).hash(&mut hasher);
    organization_found.hash(&mut hasher);
    for repo in selected {
        let status = repo.status.as_ref();
        let reads = json!({
            "name": repo.name_any(),
            "labels": repo.labels(),
            "health": status.and_then(|s| s.health.as_ref()),
            "security": status.and_then(|s| s.security.as_ref()),
            "head": status.and_then(|s| s.head_sha.as_ref()),
            "workflow": status.and_then(|s| s.build_workflow.as_ref()),
            "onboarding": status.and_then(|s| s.onboarding_pull_request.as_ref()),
        });
        reads.to_string().hash(&mut hasher);
    }
    hasher.finish()
}

/// The open issues the policy owns in the repository `view` shows, as status records them.
pub(super) fn owned_issue_records(view: &RepositoryView) -> BTreeMap<i64, OpenIssue> {
    view.owned_issues
        .iter()
        .filter_map(|(number, issue)| {
            let marker = IssueMarker::parse(issue.body.as_deref().unwrap_or_default())?;
            let record = OpenIssue {
                repository: view.observed.name.clone(),
                problem: marker.problem,
                number: *number,
                url: issue.html_url.clone(),
            };
            Some((*number, record))
        })
        .collect()
}

/// `Ready` false while the Organization is missing, unknown while it exists but cannot reach GitHub yet (its own
/// conditions say why); everything else stays as it was.
pub(super) async fn write_waiting(
    ctx: &Context,
    policy: &HealingPolicy,
    matched: usize,
    organization_found: bool,
) -> Result<(), Error> {
    let outcome = prerequisites::organization_ref(policy.organization_name(), organization_found);
    let now = ctx.clock.now_time();
    let conditions =
        readiness::conditions(policy.conditions(), &outcome, HealingPolicy::ACCEPTED, policy.meta().generation, &now);
    let current = policy.status.clone().unwrap_or_default();
    let status = HealingPolicyStatus {
        observed_generation: policy.meta().generation,
        conditions,
        matched_repositories: Some(count(matched)),
        ..current
    };
    write(ctx, policy, &status).await
}

/// The status after an evaluation.
pub(super) async fn write_evaluated(
    ctx: &Context,
    policy: &HealingPolicy,
    evaluation: &Evaluation,
    matched: usize,
    now: Timestamp,
) -> Result<(), Error> {
    let current = policy.status.clone().unwrap_or_default();
    let mut actions = current.actions.clone();
    heal::append_to_history(&mut actions, evaluation.entries.clone());
    // Repositories not looked at keep their records; those looked at have theirs replaced by what was seen.
    let mut open_issues: Vec<OpenIssue> = current
        .open_issues
        .iter()
        .filter(|issue| !evaluation.open_issues.contains_key(&issue.repository))
        .cloned()
        .collect();
    open_issues.extend(evaluation.open_issues.values().flatten().cloned());
    open_issues.sort_by(|a, b| (&a.repository, a.number).cmp(&(&b.repository, b.number)));
    let mut pull_requests: Vec<PolicyPullRequest> = evaluation.pull_requests.clone();
    // A record the evaluation has again (a lockfile state moved) replaces the one of the same branch.
    let again = |p: &PolicyPullRequest| {
        evaluation.pull_requests.iter().any(|e| e.repository == p.repository && e.branch == p.branch)
    };
    pull_requests.extend(current.pull_requests.iter().filter(|p| !again(p)).cloned());
    pull_requests.truncate(LIST_LIMIT);
    let mut withheld = evaluation.withheld.clone();
    withheld.truncate(LIST_LIMIT);
    let status = HealingPolicyStatus {
        observed_generation: policy.meta().generation,
        conditions: ready(policy, evaluation, matched, ctx.clock.now_time()),
        matched_repositories: Some(count(matched)),
        last_evaluated: Some(Time(now)),
        actions,
        open_issues,
        pull_requests,
        withheld,
        escalations: escalations(&current.escalations, evaluation),
    };
    write(ctx, policy, &status).await
}

/// The ladders after an evaluation: those of the repositories looked at replaced by what was decided, the others
/// kept, within the schema's bound.
fn escalations(current: &[EscalationState], evaluation: &Evaluation) -> Vec<EscalationState> {
    let mut all: Vec<EscalationState> =
        current.iter().filter(|l| !evaluation.escalations.contains_key(&l.repository)).cloned().collect();
    all.extend(evaluation.escalations.values().flatten().cloned());
    heal::ladder::bound_escalations(&mut all);
    all
}

impl StatusPart for HealingPolicyStatus {
    type Object = HealingPolicy;
    const MANAGER: &'static str = FIELD_MANAGER;
    fn of(policy: &HealingPolicy) -> Self {
        policy.status.clone().unwrap_or_default()
    }
}

/// Writes `status` whole, and announces a transition of `Ready`.
async fn write(ctx: &Context, policy: &HealingPolicy, status: &HealingPolicyStatus) -> Result<(), Error> {
    write_status(ctx, policy, status, Guard::None).await?;
    let conditions = (policy.conditions(), status.conditions.as_slice());
    announce_transition(ctx, policy, conditions, READY, Polarity::Positive, "Reconcile").await;
    Ok(())
}

/// A number of repositories, as the schema's 32-bit integer.
fn count(matched: usize) -> i32 {
    i32::try_from(matched).unwrap_or(i32::MAX)
}

fn ready(policy: &HealingPolicy, evaluation: &Evaluation, matched: usize, now: Time) -> Vec<Condition> {
    let generation = policy.meta().generation;
    let mut conditions = readiness::conditions(policy.conditions(), &Ok(()), HealingPolicy::ACCEPTED, generation, &now);
    // Evaluated: `Ready` says how it went, nothing is under way any more.
    conditions.retain(|c| c.r#type != RECONCILING);
    let mut summary = format!(
        "{matched} repositories selected, {} looked at, {} actions decided, {} held back",
        evaluation.looked_at,
        evaluation.entries.len(),
        evaluation.withheld.len()
    );
    if !evaluation.restricted.is_empty() {
        summary += &format!("; turned off by the operator's configuration: {}", evaluation.restricted.join(", "));
    }
    let ready = match evaluation.errors.first() {
        None => Condition::new(READY, ConditionStatus::True, "Evaluated", summary, generation, now),
        Some(first) => {
            let message = format!("{summary}; {} could not be evaluated, first: {first}", evaluation.errors.len());
            Condition::new(READY, ConditionStatus::False, "GitHubError", message, generation, now)
        }
    };
    set_condition(&mut conditions, ready);
    conditions
}
