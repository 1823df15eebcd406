//! The controllers: one per kind, each observing what it needs, asking `plan` what to do, and applying it.

pub mod build_plan;
pub mod cache;
pub mod context;
pub mod error;
pub mod github_clients;
pub mod healing_policy;
pub mod memo;
pub mod organization;
pub mod organization_ref;
pub mod repository;
pub mod status;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::Instrument;

pub use cache::Cache;
pub use context::{Context, RecheckIntervals, FIELD_MANAGER};
pub use error::Error;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::crd::well_known::MANAGED_BY_LABEL;
use crate::crd::{Organization, Repository};
use crate::scope::Scope;
use organization_ref::{of_organization, OrganizationScoped};

/// Runs every controller until `shutdown` completes, then lets reconciles in flight finish.
pub async fn run(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let shutdown = futures::future::FutureExt::shared(shutdown);
    let managed = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let organizations = Controller::new(scope.api::<Organization>(ctx.client.clone()), watcher::Config::default())
        // The manifest ConfigMap: an edit or a deletion is put right.
        .owns(scope.api::<ConfigMap>(ctx.client.clone()), managed)
        // A Repository object changing changes its Organization's manifest.
        .watches(scope.api::<Repository>(ctx.client.clone()), watcher::Config::default(), |repo| {
            repo.namespace().map(|ns| ObjectRef::<Organization>::new(&repo.spec.organization_ref.name).within(&ns))
        });
    let organizations = run_reconciles(organizations, shutdown.clone(), ctx.clone(), Arc::new(()), |org, ctx, _| {
        organization::reconcile(org, ctx)
    });
    // One cache of Repository objects, filled by the Repository controller's watch, serves the BuildPlan
    // controller too: at 10,000 repositories each copy costs hundreds of MiB.
    let (repositories, repository_changes) = Cache::new(scope.api::<Repository>(ctx.client.clone()));
    tokio::join!(
        organizations,
        repository::run(ctx.clone(), &scope, shutdown.clone(), repositories.clone(), repository_changes),
        build_plan::run(ctx.clone(), &scope, shutdown.clone(), repositories),
        healing_policy::run(ctx.clone(), &scope, shutdown),
    );
}

/// Runs `controller` until `shutdown` completes: each reconcile measured and logged, each error retried after the
/// delay its kind calls for. `shared` is what the controller's reconciles remember between runs.
async fn run_reconciles<K, S, R, Fut>(
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
fn woken_by_their_organization<K>(controller: Controller<K>, scope: &Scope, client: Client) -> Controller<K>
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
    let outcome = reconcile(object, ctx.clone()).instrument(span).await;
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
