//! Writes what a discovery pass decided about an Organization's Repository objects: each object itself (labels,
//! owner, and the spec of objects the operator created), its discovered status, and the pruning or marking of
//! objects whose repository is gone. Every write is skipped when the object already says it.
//!
//! Field managers: under server-side apply a manager owns exactly the fields of its last apply, so two writers
//! that share a manager would remove each other's fields, and (on API servers before 1.22, which do not tell the
//! status subresource apart in `managedFields`) an object write and a status write under one manager would take
//! ownership from each other on every pass. Hence one manager per writer: [`OBJECT_MANAGER`] for the objects,
//! [`DISCOVERY_MANAGER`] for their discovered status; each controller's own status stays under `FIELD_MANAGER`.

use std::collections::BTreeMap;

use futures::{stream, StreamExt};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};

use super::context::{Context, FIELD_MANAGER, MANAGED_BY_LABEL, ORGANIZATION_LABEL};
use super::error::Error;
use super::status::publish_event;
use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::{Organization, Repository};
use crate::plan::discovered::{
    self, DiscoveredStatus, DETECTION_WARNING, DISCOVERED, LANGUAGE_LABEL, TOPIC_LABEL_PREFIX,
};
use crate::plan::discovery::{RepositorySync, RepositoryToApply};

/// The field manager of the Repository objects the Organization controller writes (metadata and spec).
pub const OBJECT_MANAGER: &str = "infinity-orchestrator-organization";
/// The field manager of the status fields discovery writes on Repository objects.
pub const DISCOVERY_MANAGER: &str = "infinity-orchestrator-discovery";

/// Status keys discovery owns; one it no longer writes must be applied away.
const DISCOVERED_KEYS: &[&str] = &[
    "fullName",
    "htmlUrl",
    "language",
    "buildSystems",
    "buildCommand",
    "testCommand",
    "buildWorkflow",
    "buildWorkflowInputs",
    "buildWorkflowUnread",
    "workflowCommandsOutdated",
    "topics",
    "archived",
    "defaultBranch",
    "headSha",
    "dependencies",
    "onboardingPullRequest",
];

/// How many writes one pass made, for the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Writes {
    /// Objects created or changed.
    pub objects: usize,
    /// Statuses changed.
    pub statuses: usize,
    /// Objects deleted.
    pub deleted: usize,
}

/// Repository objects written at once: enough to keep the API server busy on a large organization, few enough
/// not to crowd out other clients (client-go's default QPS is 5 with bursts of 10; the server's max-inflight is 400).
const WRITES_IN_FLIGHT: usize = 16;

/// Applies the pass: every kept repository's object and status, then the gone ones.
pub async fn apply(
    ctx: &Context,
    org: &Organization,
    sync: &RepositorySync,
    statuses: &BTreeMap<String, DiscoveredStatus>,
    warnings: &BTreeMap<String, String>,
    existing: &[Repository],
) -> Result<Writes, Error> {
    let namespace = org.namespace().unwrap_or_default();
    let api: Api<Repository> = Api::namespaced(ctx.client.clone(), &namespace);
    let by_name: BTreeMap<String, &Repository> = existing.iter().map(|r| (r.name_any(), r)).collect();
    let mut writes = Writes::default();
    // Futures built up front: a stream's `map` closure over borrowed items trips the compiler's higher-ranked
    // lifetime check when the whole reconcile must be `Send`.
    let writes_one_each: Vec<_> = sync
        .apply
        .iter()
        .filter_map(|target| statuses.get(&target.github_name).map(|status| (target, status)))
        .map(|(target, status)| {
            let current = by_name.get(&target.object_name).copied();
            let warning = warnings.get(&target.github_name).map(String::as_str);
            apply_one(ctx, org, &api, target, current, status, warning)
        })
        .collect();
    let applied: Vec<Result<(bool, bool), Error>> =
        stream::iter(writes_one_each).buffer_unordered(WRITES_IN_FLIGHT).collect().await;
    for outcome in applied {
        let (object, status) = outcome?;
        writes.objects += usize::from(object);
        writes.statuses += usize::from(status);
    }
    for name in &sync.delete {
        api.delete(name, &DeleteParams::background()).await.map(|_| ()).or_else(ignore_not_found)?;
        writes.deleted += 1;
    }
    for name in &sync.mark_gone {
        if let Some(object) = by_name.get(name) {
            mark_gone(ctx, &api, object).await?;
        }
    }
    Ok(writes)
}

/// One kept repository: its object, then its status, each only when it says something new. Returns which were
/// written.
async fn apply_one(
    ctx: &Context,
    org: &Organization,
    api: &Api<Repository>,
    target: &RepositoryToApply,
    current: Option<&Repository>,
    status: &DiscoveredStatus,
    warning: Option<&str>,
) -> Result<(bool, bool), Error> {
    let desired = desired_object(org, target, status);
    let mut written = None;
    if current.is_none_or(|object| !object_says(object, &desired)) {
        let params = PatchParams::apply(OBJECT_MANAGER).force();
        written = Some(api.patch(&target.object_name, &params, &Patch::Apply(&desired)).await?);
    }
    // The conditions name the generation they describe: a new object's comes from the write that created it.
    let generation = written.as_ref().or(current).and_then(|object| object.metadata.generation);
    let status_written = apply_status(ctx, api, &target.object_name, current, generation, status, warning).await?;
    Ok((written.is_some(), status_written))
}

fn ignore_not_found(error: kube::Error) -> Result<(), kube::Error> {
    match error {
        kube::Error::Api(status) if status.code == 404 => Ok(()),
        other => Err(other),
    }
}

/// The object as the operator writes it. An adopted (hand-written) object gets labels only: its spec and its
/// lifetime stay its author's.
fn desired_object(org: &Organization, target: &RepositoryToApply, status: &DiscoveredStatus) -> Value {
    let mut labels = discovered::repository_labels(status);
    labels.insert(ORGANIZATION_LABEL.to_owned(), org.name_any());
    let mut object = json!({
        "apiVersion": Repository::api_version(&()),
        "kind": Repository::kind(&()),
        "metadata": { "name": target.object_name, "labels": labels },
    });
    if !target.adopted {
        object["metadata"]["labels"][MANAGED_BY_LABEL] = json!(FIELD_MANAGER);
        object["metadata"]["ownerReferences"] = json!([org.controller_owner_ref(&())]);
        object["spec"] = json!({ "organizationRef": { "name": org.name_any() }, "name": target.github_name });
    }
    object
}

/// Whether `object` already carries everything `desired` sets, and none of the discovery labels it dropped.
fn object_says(object: &Repository, desired: &Value) -> bool {
    let labels = object.labels();
    let wanted = desired["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    let labels_match = wanted.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let no_stale_label = labels
        .keys()
        .filter(|k| k.starts_with(TOPIC_LABEL_PREFIX) || k.as_str() == LANGUAGE_LABEL)
        .all(|k| wanted.contains_key(k));
    let owned = match desired["metadata"]["ownerReferences"][0]["uid"].as_str() {
        Some(uid) => object.owner_references().iter().any(|owner| owner.uid == uid),
        None => true,
    };
    let spec_matches = match desired.get("spec") {
        Some(spec) => {
            spec["name"].as_str() == Some(object.spec.name.0.as_str())
                && spec["organizationRef"]["name"].as_str() == Some(object.spec.organization_ref.name.as_str())
        }
        None => true,
    };
    labels_match && no_stale_label && owned && spec_matches
}

/// Applies the discovered status and the `DetectionWarning` condition unless the object says them already.
/// Returns whether it wrote. A warning that appears is also told in an Event.
async fn apply_status(
    ctx: &Context,
    api: &Api<Repository>,
    name: &str,
    current: Option<&Repository>,
    generation: Option<i64>,
    status: &DiscoveredStatus,
    warning: Option<&str>,
) -> Result<bool, Error> {
    let now = ctx.clock.now_time();
    let found = discovered::discovered_condition(true, generation, &now);
    let condition = discovered::detection_condition(warning, generation, &now);
    let current_status =
        current.map(|object| serde_json::to_value(&object.status)).transpose().map_err(Error::Serialize)?;
    let current_status = current_status.unwrap_or(Value::Null);
    let fields = serde_json::to_value(status).map_err(Error::Serialize)?;
    let conditions =
        current.and_then(|object| object.status.as_ref()).map(|s| s.conditions.as_slice()).unwrap_or_default();
    let previous = find_condition(conditions, DETECTION_WARNING);
    let previous_found = find_condition(conditions, DISCOVERED);
    if fields_match(&current_status, &fields)
        && previous.is_some_and(|p| same_condition(p, &condition))
        && previous_found.is_some_and(|p| same_condition(p, &found))
    {
        return Ok(false);
    }
    let condition = keep_transition_time(previous, condition);
    let found = keep_transition_time(previous_found, found);
    let mut body = fields;
    body["conditions"] = json!([found, condition]);
    let patch = json!({ "apiVersion": Repository::api_version(&()), "kind": Repository::kind(&()), "status": body });
    let written = api.patch_status(name, &PatchParams::apply(DISCOVERY_MANAGER).force(), &Patch::Apply(&patch)).await?;
    let became_warning = condition.status == ConditionStatus::True
        && !previous.is_some_and(|p| p.status == ConditionStatus::True && p.message == condition.message);
    if became_warning {
        publish_event(ctx, &written, EventType::Warning, &condition.reason, &condition.message, "Discover").await;
    }
    Ok(true)
}

/// Whether the current status holds exactly the discovered fields: same values, and none of discovery's keys
/// that the new status leaves out.
fn fields_match(current: &Value, fields: &Value) -> bool {
    DISCOVERED_KEYS.iter().all(|key| {
        let have = current.get(*key).filter(|v| !is_empty(v));
        let want = fields.get(*key).filter(|v| !is_empty(v));
        have == want
    })
}

/// `RepositoryStatus` serializes `false` and empty lists like absent ones; compare them so.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Conditions say when their status turned, not when it was last written.
fn keep_transition_time(previous: Option<&Condition>, next: Condition) -> Condition {
    match previous {
        Some(p) if p.status == next.status => {
            Condition { last_transition_time: p.last_transition_time.clone(), ..next }
        }
        _ => next,
    }
}

fn same_condition(a: &Condition, b: &Condition) -> bool {
    a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
}

/// Marks an object whose repository is gone from GitHub (or no longer passes the filters): `Discovered=False,
/// reason=GoneFromGitHub`, which the Repository controller turns into `Ready=False`. The discovered fields are
/// applied again as they are, because leaving them out of the apply would remove them.
async fn mark_gone(ctx: &Context, api: &Api<Repository>, object: &Repository) -> Result<(), Error> {
    let conditions = object.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let previous = find_condition(conditions, DISCOVERED);
    if previous.is_some_and(|c| c.status == ConditionStatus::False) {
        return Ok(());
    }
    let gone = discovered::discovered_condition(false, object.metadata.generation, &ctx.clock.now_time());
    let current = serde_json::to_value(&object.status).map_err(Error::Serialize)?;
    let mut body: serde_json::Map<String, Value> = DISCOVERED_KEYS
        .iter()
        .filter_map(|key| current.get(*key).filter(|v| !is_empty(v)).map(|v| (key.to_string(), v.clone())))
        .collect();
    let warning = find_condition(conditions, DETECTION_WARNING).cloned();
    body.insert(
        "conditions".to_owned(),
        json!([Some(gone)].into_iter().chain(warning.map(Some)).flatten().collect::<Vec<_>>()),
    );
    let patch = json!({ "apiVersion": Repository::api_version(&()), "kind": Repository::kind(&()), "status": body });
    api.patch_status(&object.name_any(), &PatchParams::apply(DISCOVERY_MANAGER).force(), &Patch::Apply(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_match_treats_false_and_empty_as_absent_and_sees_dropped_keys() {
        let current = json!({ "fullName": "o/x", "archived": false, "topics": [], "buildCommand": "make" });
        assert!(fields_match(&current, &json!({ "fullName": "o/x", "archived": false, "buildCommand": "make" })));
        assert!(!fields_match(&current, &json!({ "fullName": "o/x", "archived": false })), "buildCommand dropped");
        assert!(!fields_match(&current, &json!({ "fullName": "o/x", "archived": true, "buildCommand": "make" })));
        assert!(fields_match(&json!(null), &json!({ "archived": false })), "nothing known equals nothing found");
        assert!(!fields_match(&json!(null), &json!({ "fullName": "o/x" })));
    }
}
