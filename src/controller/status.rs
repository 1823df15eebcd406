//! Writing status: server-side apply under the operator's one field manager, skipped when nothing changed, with an
//! Event whenever the `Ready` condition moves.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use crate::crd::condition::{find_condition, Condition, ConditionStatus, HasConditions};
use crate::plan::discovered::{DETECTION_WARNING, DISCOVERED};
use crate::plan::readiness::READY;

/// The namespace of one of our (namespaced) objects.
pub fn namespace_of<K: Resource<DynamicType = ()>>(object: &K) -> Result<String, Error> {
    object
        .meta()
        .namespace
        .clone()
        .ok_or_else(|| Error::MissingNamespace { kind: K::kind(&()).into_owned(), name: object.name_any() })
}

/// One of our kinds, as the status writer needs it: namespaced, with conditions, readable and writable as JSON.
pub trait StatusObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasConditions
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
{
}

impl<K> StatusObject for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + HasConditions
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug
{
}

/// Applies `conditions` and `observedGeneration` to the object's status, unless they are what it already says.
/// For kinds whose controller writes nothing else to status.
pub async fn apply_conditions<K>(ctx: &Context, object: &K, conditions: &[Condition]) -> Result<(), Error>
where
    K: StatusObject,
{
    apply_status(ctx, object, conditions, serde_json::Map::new()).await
}

/// Applies `conditions`, `observedGeneration` and the kind's own `fields` to the object's status, unless they are
/// what it already says. The operator's field manager owns exactly what it applies: a field it applied before and
/// leaves out now is removed, so each controller passes every status field it owns on every call.
pub async fn apply_status<K>(
    ctx: &Context,
    object: &K,
    conditions: &[Condition],
    fields: serde_json::Map<String, serde_json::Value>,
) -> Result<(), Error>
where
    K: StatusObject,
{
    let generation = object.meta().generation;
    let current: Vec<Condition> = own_conditions(object.conditions());
    let conditions = &own_conditions(conditions);
    let current = current.as_slice();
    let current_status = serde_json::to_value(object).map_err(Error::Serialize)?["status"].take();
    let fields_unchanged = fields.iter().all(|(key, value)| current_status.get(key) == Some(value));
    if current == conditions && object.observed_generation() == generation && fields_unchanged {
        return Ok(());
    }
    let namespace = namespace_of(object)?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut status = fields;
    status.insert("observedGeneration".to_owned(), json!(generation));
    status.insert("conditions".to_owned(), json!(conditions));
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(&object.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    announce_ready_transition(ctx, object, current, conditions).await;
    Ok(())
}

/// Publishes an Event when the `Ready` condition changes status or reason. A failure to publish is logged, not
/// returned: an Event is a courtesy, and the status already says the same.
/// Conditions that another field manager writes (discovery's, on Repositories) are left out of this writer's
/// applies: applying a copy of them would take their ownership and could put back a value read before their
/// writer changed it.
fn own_conditions(conditions: &[Condition]) -> Vec<Condition> {
    conditions.iter().filter(|c| !FOREIGN_CONDITIONS.contains(&c.r#type.as_str())).cloned().collect()
}

const FOREIGN_CONDITIONS: &[&str] = &[DISCOVERED, DETECTION_WARNING];

async fn announce_ready_transition<K>(ctx: &Context, object: &K, before: &[Condition], after: &[Condition])
where
    K: Resource<DynamicType = ()>,
{
    let Some(ready) = find_condition(after, READY) else { return };
    let unchanged = find_condition(before, READY).is_some_and(|b| b.status == ready.status && b.reason == ready.reason);
    if unchanged {
        return;
    }
    let event_type = if ready.status == ConditionStatus::False { EventType::Warning } else { EventType::Normal };
    publish_event(ctx, object, event_type, &ready.reason, &ready.message, "Reconcile").await;
}

/// Publishes an Event about `object` (its note cut at 1 KiB). Events are best effort: a failure is logged, and the
/// reconcile goes on.
pub async fn publish_event<K>(ctx: &Context, object: &K, event_type: EventType, reason: &str, note: &str, action: &str)
where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_: event_type,
        reason: reason.to_owned(),
        note: Some(truncate(note, 1024)),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(%error, "could not publish an Event");
    }
}

fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncates_on_a_character_boundary() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
    }
}
