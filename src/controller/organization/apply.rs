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

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::controller::context::{Context, FIELD_MANAGER};
use crate::controller::error::Error;
use crate::controller::status::{announce_transition, write_status, Guard, StatusPart};
use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::repository::RepositoryStatus;
use crate::crd::well_known::{LANGUAGE_LABEL, MANAGED_BY_LABEL, ORGANIZATION_LABEL, SHARD_LABEL, TOPIC_LABEL_PREFIX};
use crate::crd::{Organization, Repository};
use crate::plan::discovery_pass::{self, DiscoveredStatus, DETECTION_WARNING, DISCOVERED};
use crate::plan::readiness::{keep_transition_time, Polarity};
use crate::plan::repository_sync::{RepositorySync, RepositoryToApply};

/// The field manager of the Repository objects the Organization controller writes (metadata and spec).
pub const OBJECT_MANAGER: &str = "infinity-orchestrator-organization";
/// The field manager of the status fields discovery writes on Repository objects.
pub const DISCOVERY_MANAGER: &str = "infinity-orchestrator-discovery";

/// The share of a Repository's status discovery owns: the discovered fields and the `Discovered` and
/// `DetectionWarning` conditions. A field it leaves out is applied away.
#[derive(Debug, PartialEq, Serialize)]
struct DiscoveredPart {
    #[serde(flatten)]
    fields: DiscoveredStatus,
    conditions: Vec<Condition>,
}

impl StatusPart for DiscoveredPart {
    type Object = Repository;
    const MANAGER: &'static str = DISCOVERY_MANAGER;
    fn of(repo: &Repository) -> Self {
        let none = RepositoryStatus::default();
        let status = repo.status.as_ref().unwrap_or(&none);
        let conditions =
            [DISCOVERED, DETECTION_WARNING].iter().filter_map(|t| find_condition(&status.conditions, t)).cloned();
        DiscoveredPart { fields: DiscoveredStatus::of(status), conditions: conditions.collect() }
    }
}

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
    // Each write's future made only when a slot frees: made up front, 10,000 of them held 100 MiB. (A stream's `map`
    // closure over borrowed items trips the compiler's higher-ranked lifetime check when the reconcile must be
    // `Send`, hence the loop.)
    let mut targets =
        sync.apply.iter().filter_map(|target| statuses.get(&target.github_name).map(|status| (target, status)));
    let mut in_flight = FuturesUnordered::new();
    let mut first_error = None;
    loop {
        while in_flight.len() < WRITES_IN_FLIGHT {
            let Some((target, status)) = targets.next() else { break };
            let current = by_name.get(&target.object_name).copied();
            let warning = warnings.get(&target.github_name).map(String::as_str);
            in_flight.push(apply_one(ctx, org, &api, target, current, status, warning));
        }
        match in_flight.next().await {
            Some(Ok((object, status))) => {
                writes.objects += usize::from(object);
                writes.statuses += usize::from(status);
            }
            Some(Err(error)) => first_error = first_error.or(Some(error)),
            None => break,
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    for name in &sync.delete {
        api.delete(name, &DeleteParams::background()).await.map(|_| ()).or_else(ignore_not_found)?;
        writes.deleted += 1;
    }
    for name in &sync.mark_gone {
        if let Some(object) = by_name.get(name) {
            mark_gone(ctx, object).await?;
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
    let written;
    // The status is written on the object as it stands after its own write: a new object's conditions name the
    // generation that write gave it.
    let (object, object_written) = match current.filter(|object| object_says(object, &desired)) {
        Some(object) => (object, false),
        None => {
            let params = PatchParams::apply(OBJECT_MANAGER).force();
            written = api.patch(&target.object_name, &params, &Patch::Apply(&desired)).await?;
            (&written, true)
        }
    };
    let status_written = apply_status(ctx, object, status, warning).await?;
    Ok((object_written, status_written))
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
    let mut labels = discovery_pass::repository_labels(status);
    labels.insert(ORGANIZATION_LABEL.to_owned(), org.name_any());
    // The Repository follows its Organization's shard, so that the shard's watch selects it.
    if let Some(shard) = org.labels().get(SHARD_LABEL) {
        labels.insert(SHARD_LABEL.to_owned(), shard.clone());
    }
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
        .filter(|k| k.starts_with(TOPIC_LABEL_PREFIX) || k.as_str() == LANGUAGE_LABEL || k.as_str() == SHARD_LABEL)
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

/// Applies the discovered status and the `Discovered` and `DetectionWarning` conditions unless the object says
/// them already. Returns whether it wrote. A warning that appears is also told in an Event.
async fn apply_status(
    ctx: &Context,
    object: &Repository,
    status: &DiscoveredStatus,
    warning: Option<&str>,
) -> Result<bool, Error> {
    let now = ctx.clock.now_time();
    let generation = object.metadata.generation;
    let before = DiscoveredPart::of(object);
    let previous = |r#type| find_condition(&before.conditions, r#type);
    let found =
        keep_transition_time(previous(DISCOVERED), discovery_pass::discovered_condition(true, generation, &now));
    let detection = discovery_pass::detection_condition(warning, generation, &now);
    let detection = keep_transition_time(previous(DETECTION_WARNING), detection);
    let part = DiscoveredPart { fields: status.clone(), conditions: vec![found, detection] };
    let Some(written) = write_status(ctx, object, &part, Guard::None).await? else { return Ok(false) };
    let conditions = (before.conditions.as_slice(), part.conditions.as_slice());
    announce_transition(ctx, &written, conditions, DETECTION_WARNING, Polarity::Negative, "Discover").await;
    Ok(true)
}

/// Marks an object whose repository is gone from GitHub (or no longer passes the filters): `Discovered=False,
/// reason=GoneFromGitHub`, which the Repository controller turns into `Ready=False`. The discovered fields are
/// applied again as they are, because leaving them out of the apply would remove them.
async fn mark_gone(ctx: &Context, object: &Repository) -> Result<(), Error> {
    let before = DiscoveredPart::of(object);
    if find_condition(&before.conditions, DISCOVERED).is_some_and(|c| c.status == ConditionStatus::False) {
        return Ok(());
    }
    let gone = discovery_pass::discovered_condition(false, object.metadata.generation, &ctx.clock.now_time());
    let warning = find_condition(&before.conditions, DETECTION_WARNING).cloned();
    let part = DiscoveredPart { conditions: [gone].into_iter().chain(warning).collect(), fields: before.fields };
    write_status(ctx, object, &part, Guard::None).await?;
    Ok(())
}
