//! Writing status and Events, the same way for every kind: a typed status part applied by server-side apply under
//! its field manager and skipped when nothing changed, an Event per condition transition, one Event helper.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use k8s_openapi::api::core::v1::ObjectReference;

use super::context::Context;
use super::error::Error;
use crate::crd::condition::{Condition, HasConditions};
use crate::plan::readiness::{transition, Polarity, Transition};

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

/// A part of a kind's status that one field manager applies whole: the whole status of a kind one controller
/// writes, or the share of a Repository's status that discovery or the Repository controller owns. Under
/// server-side apply a manager owns exactly what it applied last, so a part must carry every field its manager
/// owns: one left out is removed.
pub trait StatusPart: Serialize + PartialEq + Sized {
    /// The kind whose status this is (part of).
    type Object: StatusObject;
    /// The field manager that owns the part.
    const MANAGER: &'static str;
    /// What the object says of this part now.
    fn of(object: &Self::Object) -> Self;
}

/// How a status write guards against a change made since the object was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// The last write wins: for parts whose every write is computed from scratch.
    None,
    /// The write carries the resourceVersion that was read, and fails (409) if anyone changed the object's spec or
    /// status since; a change of metadata alone (a wake annotation, a label) lets the write go again on the new
    /// version, because the decision still stands on what it was made from. For writes that record intents.
    ResourceVersion,
}

/// Writes `part` of the object's status under the part's field manager, unless the object says it already: an
/// unchanged status costs no request. Returns the object as written, or `None` when nothing was written.
pub async fn write_status<P: StatusPart>(
    ctx: &Context,
    object: &P::Object,
    part: &P,
    guard: Guard,
) -> Result<Option<P::Object>, Error> {
    if P::of(object) == *part {
        return Ok(None);
    }
    let name = object.name_any();
    let api: Api<P::Object> = Api::namespaced(ctx.client.clone(), &namespace_of(object)?);
    let params = PatchParams::apply(P::MANAGER).force();
    let kind = <P::Object as Resource>::kind(&());
    let api_version = <P::Object as Resource>::api_version(&());
    let mut base = object.clone();
    loop {
        let mut patch = json!({ "apiVersion": api_version, "kind": kind, "status": part });
        if guard == Guard::ResourceVersion {
            patch["metadata"] = json!({ "name": name, "resourceVersion": base.resource_version() });
        }
        let conflict = match api.patch_status(&name, &params, &Patch::Apply(&patch)).await {
            Ok(written) => return Ok(Some(written)),
            Err(kube::Error::Api(response)) if response.code == 409 && guard == Guard::ResourceVersion => response,
            Err(error) => return Err(error.into()),
        };
        match api.get_opt(&name).await? {
            Some(fresh) if only_metadata_changed(&base, &fresh) => base = fresh,
            _ => return Err(kube::Error::Api(conflict).into()),
        }
    }
}

/// Whether `fresh` differs from `base` in metadata only, and is not being deleted.
pub fn only_metadata_changed<K: StatusObject>(base: &K, fresh: &K) -> bool {
    let without_metadata = |object: &K| {
        let mut value = serde_json::to_value(object).ok()?;
        value.as_object_mut()?.remove("metadata");
        Some(value)
    };
    let (base_rest, fresh_rest) = (without_metadata(base), without_metadata(fresh));
    base_rest.is_some()
        && fresh_rest == base_rest
        && fresh.meta().generation == base.meta().generation
        && fresh.meta().deletion_timestamp.is_none()
        && fresh.resource_version() != base.resource_version()
}

/// Publishes an Event when the condition `r#type` changed in a way its [`Polarity`] tells.
pub async fn announce_transition<K>(
    ctx: &Context,
    object: &K,
    (before, after): (&[Condition], &[Condition]),
    r#type: &str,
    polarity: Polarity,
    action: &str,
) where
    K: Resource<DynamicType = ()>,
{
    let Some(Transition { condition, warning }) = transition(before, after, r#type, polarity) else { return };
    let event_type = if warning { EventType::Warning } else { EventType::Normal };
    publish_event(ctx, object, None, event_type, &condition.reason, &condition.message, action).await;
}

/// Publishes an Event about `object`, naming `related` as the object it concerns besides (so that, say, each
/// repository's builds make a series of their own). The note is cut at 1 KiB. Events are best effort: a failure
/// is logged, and the reconcile goes on.
pub async fn publish_event<K>(
    ctx: &Context,
    object: &K,
    related: Option<ObjectReference>,
    event_type: EventType,
    reason: &str,
    note: &str,
    action: &str,
) where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_: event_type,
        reason: reason.to_owned(),
        note: Some(truncate(note, 1024)),
        action: action.to_owned(),
        secondary: related,
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::crd::Organization;
    use crate::metrics::Metrics;

    #[test]
    fn truncates_on_a_character_boundary() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
    }

    /// The repository count, as a part some manager could own.
    #[derive(Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Count {
        repository_count: Option<i32>,
    }

    impl StatusPart for Count {
        type Object = Organization;
        const MANAGER: &'static str = "test";
        fn of(org: &Organization) -> Self {
            Count { repository_count: org.status.as_ref().and_then(|s| s.repository_count) }
        }
    }

    fn organization(count: Option<i32>) -> Organization {
        serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
            "metadata": { "name": "acme", "namespace": "ns", "resourceVersion": "7" },
            "spec": { "login": "acme", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
            "status": { "repositoryCount": count },
        }))
        .unwrap()
    }

    /// A client whose every request is counted and answered with `answer`.
    fn counting_client(answer: &Organization) -> (kube::Client, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let body = serde_json::to_vec(answer).unwrap();
        let counter = requests.clone();
        let service = tower::service_fn(move |_: http::Request<kube::client::Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = http::Response::builder()
                .header("content-type", "application/json")
                .body(kube::client::Body::from(body.clone()))
                .unwrap();
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        (kube::Client::new(service, "ns"), requests)
    }

    #[tokio::test]
    async fn an_unchanged_status_costs_no_request_and_a_changed_one_costs_one() {
        let org = organization(Some(3));
        let (client, requests) = counting_client(&organization(Some(4)));
        let ctx = Context::new(client, None, Arc::new(Metrics::default()));
        let written = write_status(&ctx, &org, &Count { repository_count: Some(3) }, Guard::None).await.unwrap();
        assert!(written.is_none());
        assert_eq!(requests.load(Ordering::SeqCst), 0, "an unchanged status was sent");
        let written = write_status(&ctx, &org, &Count { repository_count: Some(4) }, Guard::None).await.unwrap();
        assert_eq!(written.and_then(|o| o.status).and_then(|s| s.repository_count), Some(4));
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_a_metadata_change_lets_a_guarded_write_go_again() {
        let base = organization(Some(3));
        let mut woken = base.clone();
        woken.metadata.resource_version = Some("8".into());
        woken.annotations_mut().insert("orchestrator.infinityxone.io/requested-at".into(), "1".into());
        assert!(only_metadata_changed(&base, &woken));
        let mut rewritten = organization(Some(5));
        rewritten.metadata.resource_version = Some("9".into());
        assert!(!only_metadata_changed(&base, &rewritten), "another writer's status");
        let mut edited = base.clone();
        edited.metadata.resource_version = Some("10".into());
        edited.spec.suspend = true;
        assert!(!only_metadata_changed(&base, &edited), "a spec change");
        assert!(!only_metadata_changed(&base, &base), "nothing changed: the conflict was something else");
    }
}
