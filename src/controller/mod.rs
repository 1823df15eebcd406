//! The controllers: one per kind, each observing what it needs, asking `plan` what to do, and applying it.

pub mod build_plan;
pub mod cache;
pub mod context;
pub mod discovery;
pub mod error;
pub mod github_clients;
pub mod healing_policy;
pub mod organization;
pub mod organization_ref;
pub mod repositories;
pub mod repository;
pub mod status;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::Instrument;

pub use cache::Cache;
pub use context::{Context, RecheckIntervals, FIELD_MANAGER, MANAGED_BY_LABEL, ORGANIZATION_LABEL};
pub use error::Error;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::crd::{Organization, Repository};

/// Where the controllers look for objects.
#[derive(Clone, Debug, Default)]
pub enum Scope {
    /// Every namespace (needs cluster-wide read access to our kinds).
    #[default]
    AllNamespaces,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// An API handle for a namespaced kind over this scope.
    pub fn api<K>(&self, client: Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match self {
            Scope::AllNamespaces => Api::all(client),
            Scope::Namespace(namespace) => Api::namespaced(client, namespace),
        }
    }
}

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
        })
        .graceful_shutdown_on(shutdown.clone())
        .run(|org, ctx| measured(org, ctx, organization::reconcile), error_policy, ctx.clone())
        .for_each(log_outcome);
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
