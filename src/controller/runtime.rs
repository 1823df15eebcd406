//! How every controller runs: each reconcile measured and logged, each error retried after the delay its kind calls
//! for, and the objects of an Organization woken when it changes. Shared by the controllers of each kind, and
//! importing none of them.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::context::Context;
use super::error::Error;
use super::organization_ref::{of_organization, OrganizationScoped};
use crate::crd::Organization;
use crate::scope::Scope;

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

/// `controller`, also woken for each of its objects whose Organization changes (appears, goes, or is edited).
pub fn woken_by_their_organization<K>(controller: Controller<K>, scope: &Scope, client: Client) -> Controller<K>
where
    K: OrganizationScoped + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let objects = controller.store();
    controller.watches(scope.api::<Organization>(client), watcher::Config::default(), move |org| {
        of_organization(&objects, org.namespace(), &org.name_any())
    })
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
