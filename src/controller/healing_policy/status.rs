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
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::organization_ref::OrganizationScoped;
use crate::controller::status::apply_status;
use crate::crd::condition::{set_condition, Condition, ConditionStatus, HasConditions};
use crate::crd::healing_policy::{OpenIssue, PolicyPullRequest};
use crate::crd::{HealingPolicy, Repository};
use crate::plan::heal::{self, marker::IssueMarker};
use crate::plan::prerequisites;
use crate::plan::readiness::{self, READY};
use crate::server::webhook::REQUESTED_AT;

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
    let fields = fields(
        matched,
        current.last_evaluated,
        &current.actions,
        &current.open_issues,
        &current.pull_requests,
        &current.withheld,
    );
    apply_status(ctx, policy, &conditions, fields).await
}

/// The status after an evaluation.
pub(super) async fn write(
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
    pull_requests.extend(current.pull_requests.iter().filter(|p| !evaluation.pull_requests.contains(p)).cloned());
    pull_requests.truncate(LIST_LIMIT);
    let mut withheld = evaluation.withheld.clone();
    withheld.truncate(LIST_LIMIT);
    let conditions = ready(policy, evaluation, matched, ctx.clock.now_time());
    let fields = fields(matched, Some(Time(now)), &actions, &open_issues, &pull_requests, &withheld);
    apply_status(ctx, policy, &conditions, fields).await
}

fn ready(policy: &HealingPolicy, evaluation: &Evaluation, matched: usize, now: Time) -> Vec<Condition> {
    let generation = policy.meta().generation;
    let mut conditions = readiness::conditions(policy.conditions(), &Ok(()), HealingPolicy::ACCEPTED, generation, &now);
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

fn fields(
    matched: usize,
    last_evaluated: Option<Time>,
    actions: &[crate::crd::healing_policy::AuditedAction],
    open_issues: &[OpenIssue],
    pull_requests: &[PolicyPullRequest],
    withheld: &[crate::crd::healing_policy::WithheldDecision],
) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("matchedRepositories".to_owned(), json!(i32::try_from(matched).unwrap_or(i32::MAX)));
    if let Some(time) = last_evaluated {
        fields.insert("lastEvaluated".to_owned(), json!(time));
    }
    // Empty lists are left out, as the type serializes them: applying `[]` would differ from what is read back.
    for (key, value) in [
        ("actions", json!(actions)),
        ("openIssues", json!(open_issues)),
        ("pullRequests", json!(pull_requests)),
        ("withheld", json!(withheld)),
    ] {
        if value.as_array().is_some_and(|list| !list.is_empty()) {
            fields.insert(key.to_owned(), value);
        }
    }
    fields
}
