//! How every controller runs: each reconcile measured and logged, each error retried after the delay its kind calls
//! for, and the objects of an Organization woken when it changes. Shared by the controllers of each kind, and
//! importing none of them.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::cache::{Cache, Changed};
use super::context::Context;
use super::error::Error;
use super::organization_ref::{of_organization, OrganizationScoped};
use super::status::namespace_of;
use crate::crd::Organization;
use crate::shard::Shard;

/// Runs `controller` until `shutdown` completes: each reconcile measured and logged, each error retried after the
/// delay its kind calls for. `shared` is what the controller's reconciles remember between runs.
pub async fn run_reconciles<K, S, R, Fut>(
    controller: Controller<K>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ctx: Arc<Context>,
    shared: Arc<S>,
    reconcile: R,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    S: Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Context>, Arc<S>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            move |object, ctx| {
                let (shared, reconcile) = (shared.clone(), reconcile.clone());
                measured(object, ctx, move |object, ctx| reconcile(object, ctx, shared))
            },
            error_policy,
            ctx,
        )
        .for_each(log_outcome)
        .await;
}

/// `controller`, also woken for each of its objects whose Organization changes (appears, goes, is edited, or
/// joins or leaves this shard), as told by `organizations`, the shard's cache of them: woken once the cache holds
/// the change, so [`owns_organization_of`] agrees with what woke it.
pub fn woken_by_their_organization<K>(controller: Controller<K>, organizations: &Cache<Organization>) -> Controller<K>
where
    K: OrganizationScoped + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let objects = controller.store();
    let woken = organizations.changes().flat_map(move |change| {
        let woken = match change {
            Changed::Object(org) => of_organization(&objects, org.namespace.clone(), &org.name),
            Changed::Deleted(org) => of_organization(&objects, org.namespace(), &org.name_any()),
            Changed::Anything => objects.state().iter().map(|object| ObjectRef::from_obj(object.as_ref())).collect(),
        };
        futures::stream::iter(woken)
    });
    controller.reconcile_on(woken)
}

/// Whether `object`'s Organization belongs to this process's shard ([`Shard::owns_dependent`]) and its Repository
/// objects are this shard's already ([`Shard::awaits_move`]); objects of other shards' Organizations are theirs, and
/// left untouched. Read from `organizations`, the shard's cache; only the unsharded operator asks the API server
/// about an Organization its cache lacks, to tell a missing one (its to report) from another shard's.
pub async fn owns_organization_of<K: OrganizationScoped>(
    ctx: &Context,
    organizations: &Cache<Organization>,
    object: &K,
) -> Result<bool, Error> {
    let namespace = namespace_of(object)?;
    let name = object.organization_name();
    organizations.filled().await;
    if let Some(org) = organizations.store().get(&ObjectRef::new(name).within(&namespace)) {
        let status = org.status.as_ref();
        let synced_before = status.is_some_and(|s| s.last_sync_time.is_some());
        return Ok(!ctx.shard.awaits_move(synced_before, status.and_then(|s| s.last_sync_shard.as_deref())));
    }
    let elsewhere = match ctx.shard {
        Shard::Named(_) => None,
        Shard::Unsharded => Api::<Organization>::namespaced(ctx.client.clone(), &namespace).get_opt(name).await?,
    };
    Ok(ctx.shard.owns_dependent(elsewhere.as_ref().map(|org| org.labels())))
}

/// Runs one reconcile in a span naming the object, and records its outcome and duration in the metrics.
async fn measured<K, F, Fut>(object: Arc<K>, ctx: Arc<Context>, reconcile: F) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>>,
{
    let kind = K::kind(&());
    let span = tracing::info_span!(
        "reconcile",
        kind = %kind,
        namespace = object.namespace().unwrap_or_default(),
        name = %object.name_any(),
        generation = object.meta().generation,
    );
    let started = std::time::Instant::now();
    let in_flight = ctx.metrics.reconcile_in_flight(&kind);
    let outcome = reconcile(object, ctx.clone()).instrument(span).await;
    drop(in_flight);
    ctx.metrics.record_reconcile(&kind, started.elapsed(), outcome.as_ref().err().map(Error::category));
    outcome
}

fn error_policy<K>(_object: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(error.retry_after())
}

async fn log_outcome<T: std::fmt::Debug, E: std::error::Error>(outcome: Result<T, E>) {
    match outcome {
        Ok(object) => tracing::debug!(?object, "reconciled"),
        Err(error) => tracing::warn!(%error, "reconcile failed"),
    }
}
