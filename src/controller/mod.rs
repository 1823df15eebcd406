//! The controllers: one per kind, each observing what it needs, asking `plan` what to do, and applying it.

pub mod build_plan;
pub mod cache;
pub mod context;
pub mod detection_cache;
pub mod error;
pub mod github_clients;
pub mod healing_policy;
pub mod memo;
pub mod organization;
pub mod organization_ref;
pub mod repository;
pub mod runtime;
pub mod status;

use std::future::Future;
use std::sync::Arc;

use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::ResourceExt;

pub use cache::Cache;
pub use context::{Context, RecheckIntervals, FIELD_MANAGER};
pub use error::Error;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::crd::well_known::MANAGED_BY_LABEL;
use crate::crd::{Organization, Repository};
use crate::scope::Scope;
use runtime::run_reconciles;

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
