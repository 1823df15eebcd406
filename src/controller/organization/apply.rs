//! Writes what a discovery pass decided about an Organization's Repository objects: each object itself (labels,
//! owner, and the spec of objects the operator created), its discovered status, and the pruning or marking of
//! objects whose repository is gone. Every write is skipped when the object already says it.
//!
//! The objects are applied under [`OBJECT_MANAGER`]. Their status has one writer, the Repository controller:
//! discovery hands its part over ([`DiscoveredHandover`]) and waits until it is written, so that a completed pass
//! still means every object describes what it found.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::channel::oneshot;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};

use crate::controller::context::{Context, FIELD_MANAGER};
use crate::controller::discovered::{DiscoveredHandover, DiscoveredPart};
use crate::controller::error::Error;
use crate::crd::condition::{find_condition, ConditionStatus};
use crate::crd::well_known::{LANGUAGE_LABEL, MANAGED_BY_LABEL, ORGANIZATION_LABEL, SHARD_LABEL, TOPIC_LABEL_PREFIX};
use crate::crd::{Organization, Repository};
use crate::plan::discovery_pass::{self, DiscoveredStatus, DETECTION_WARNING, DISCOVERED};
use crate::plan::readiness::keep_transition_time;
use crate::plan::repository_sync::{RepositorySync, RepositoryToApply};

/// The field manager of the Repository objects the Organization controller writes (metadata and spec).
pub const OBJECT_MANAGER: &str = "infinity-orchestrator-organization";

/// How long a pass waits for the Repository controller to write what it handed over before it fails (and is tried
/// again): far beyond a write, a health read, and a queue of 10,000 of them.
const HANDOVER_WAIT: Duration = Duration::from_secs(600);

/// How many writes one pass made, for the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Writes {
    /// Objects created or changed.
    pub objects: usize,
    /// Statuses handed over to be written.
    pub statuses: usize,
    /// Objects deleted.
    pub deleted: usize,
}

/// Repository objects written at once: enough to keep the API server busy on a large organization, few enough
/// not to crowd out other clients (client-go's default QPS is 5 with bursts of 10; the server's max-inflight is 400).
const WRITES_IN_FLIGHT: usize = 16;

/// Applies the pass: every kept repository's object and status, then the gone ones. Each status handed over is
/// taken out of `statuses`, which keeps its keys.
pub async fn apply(
    ctx: &Context,
    org: &Organization,
    sync: &RepositorySync,
    statuses: &mut BTreeMap<String, DiscoveredStatus>,
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
    // Each status moves into what is handed over (held until written, it would otherwise be held twice); the map
    // keeps its keys.
    let mut targets = sync
        .apply
        .iter()
        .filter_map(|target| statuses.get_mut(&target.github_name).map(|status| (target, std::mem::take(status))));
    let mut in_flight = FuturesUnordered::new();
    let mut first_error = None;
    let mut handed_over = Vec::new();
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
                writes.statuses += usize::from(status.is_some());
                handed_over.extend(status);
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
            handed_over.extend(mark_gone(ctx, object)?);
        }
    }
    // A receiver completes when its part is written, or when it never will be (the object went, the controller
    // stopped): either way there is nothing more to wait for.
    let all_written = futures::future::join_all(handed_over);
    tokio::time::timeout(HANDOVER_WAIT, all_written)
        .await
        .map_err(|_| Error::HandoverTimedOut { organization: org.name_any(), waited: HANDOVER_WAIT })?;
    Ok(writes)
}

/// One kept repository: its object, then its status, each only when it says something new. Returns whether the
/// object was written, and the wait for its status's write when one was handed over.
async fn apply_one(
    ctx: &Context,
    org: &Organization,
    api: &Api<Repository>,
    target: &RepositoryToApply,
    current: Option<&Repository>,
    status: DiscoveredStatus,
    warning: Option<&str>,
) -> Result<(bool, Option<oneshot::Receiver<()>>), Error> {
    let desired = desired_object(org, target, &status);
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
    let status_written = hand_over_status(ctx, object, status, warning)?;
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

/// Hands the discovered status and the `Discovered` and `DetectionWarning` conditions over to the Repository
/// controller unless the object says them already (or will). Returns the wait for their write.
fn hand_over_status(
    ctx: &Context,
    object: &Repository,
    status: DiscoveredStatus,
    warning: Option<&str>,
) -> Result<Option<oneshot::Receiver<()>>, Error> {
    let now = ctx.clock.now_time();
    let generation = object.metadata.generation;
    let before = DiscoveredPart::of(object);
    let previous = |r#type| find_condition(&before.conditions, r#type);
    let found =
        keep_transition_time(previous(DISCOVERED), discovery_pass::discovered_condition(true, generation, &now));
    let detection = discovery_pass::detection_condition(warning, generation, &now);
    let detection = keep_transition_time(previous(DETECTION_WARNING), detection);
    let part = DiscoveredPart { fields: status, conditions: vec![found, detection] };
    hand_over(&ctx.discovered, object, part)
}

/// Hands `part` over unless `object` says it (or will); an error when no Repository controller runs to write it.
fn hand_over(
    handover: &DiscoveredHandover,
    object: &Repository,
    part: DiscoveredPart,
) -> Result<Option<oneshot::Receiver<()>>, Error> {
    if handover.says(object, &part) {
        return Ok(None);
    }
    match handover.hand_over(ObjectRef::from_obj(object), part) {
        Some(written) => Ok(Some(written)),
        None => Err(Error::NoRepositoryController),
    }
}

/// Marks an object whose repository is gone from GitHub (or no longer passes the filters): `Discovered=False,
/// reason=GoneFromGitHub`, which the Repository controller turns into `Ready=False`. The discovered fields stay as
/// they are.
fn mark_gone(ctx: &Context, object: &Repository) -> Result<Option<oneshot::Receiver<()>>, Error> {
    let before = DiscoveredPart::of(object);
    if find_condition(&before.conditions, DISCOVERED).is_some_and(|c| c.status == ConditionStatus::False) {
        return Ok(None);
    }
    let gone = discovery_pass::discovered_condition(false, object.metadata.generation, &ctx.clock.now_time());
    let warning = find_condition(&before.conditions, DETECTION_WARNING).cloned();
    let part = DiscoveredPart { conditions: [gone].into_iter().chain(warning).collect(), fields: before.fields };
    hand_over(&ctx.discovered, object, part)
}
