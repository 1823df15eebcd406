//! The controllers: one per kind, each observing what it needs, asking `plan` what to do, and applying it.

pub mod build_plan;
pub mod cache;
pub mod context;
pub mod detection_cache;
pub mod discovered;
pub mod error;
pub mod events;
pub mod github_clients;
pub mod healing_policy;
pub mod memo;
pub mod organization;
pub mod organization_ref;
pub mod repository;
pub mod runtime;
pub mod status;
pub mod wakes;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;

pub use cache::Cache;
use cache::Changed;
pub use context::{Context, RecheckIntervals, FIELD_MANAGER};
pub use error::Error;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::crd::well_known::MANAGED_BY_LABEL;
use crate::crd::{Organization, Repository};
use crate::manifest::{self, ManifestEntry};
use crate::scope::Scope;
use runtime::run_reconciles;

/// Runs every controller until `shutdown` completes, then lets reconciles in flight finish.
pub async fn run(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let shutdown = futures::future::FutureExt::shared(shutdown);
    let managed = format!("{MANAGED_BY_LABEL}={FIELD_MANAGER},{}", ctx.shard.selector());
    let managed = watcher::Config::default().labels(&managed);
    // One cache of Repository objects, filled by the Repository controller's watch, serves every controller: at
    // 10,000 repositories a watch of each controller's own would cost a copy (or a decoding) of each change per
    // controller, and a LIST per reconcile would cost the API server the whole set each time.
    // Both caches hold this shard's objects only (its Repository objects carry their Organization's shard label).
    let sharded = || watcher::Config::default().labels(&ctx.shard.selector());
    let (repositories, repository_changes) = Cache::selected(scope.api::<Repository>(ctx.client.clone()), sharded());
    let (owned, organization_changes) = Cache::selected(scope.api::<Organization>(ctx.client.clone()), sharded());
    // Repository health metrics come from the cache while this process leads (and so fills it).
    ctx.metrics.observe_repositories(Some(repositories.store().clone()));
    let organizations = Controller::for_stream(organization_changes, owned.store().clone())
        // The manifest ConfigMap: an edit or a deletion is put right.
        .owns(scope.api::<ConfigMap>(ctx.client.clone()), managed);
    // A Repository object changing changes its Organization's manifest.
    let of_repositories = organizations_of_changes(&repositories, organizations.store());
    let organizations = organizations.reconcile_on(of_repositories);
    let organizations = run_reconciles(
        organizations,
        shutdown.clone(),
        ctx.clone(),
        Arc::new(repositories.clone()),
        organization::reconcile,
    );
    // One task each, so that the controllers run on every worker thread rather than take turns on one.
    let controllers = [
        tokio::spawn(organizations),
        tokio::spawn({
            let (ctx, scope, shutdown, repositories, owned) =
                (ctx.clone(), scope.clone(), shutdown.clone(), repositories.clone(), owned.clone());
            async move { repository::run(ctx, &scope, shutdown, repositories, repository_changes, owned).await }
        }),
        tokio::spawn({
            let (ctx, scope, shutdown, repositories, owned) =
                (ctx.clone(), scope.clone(), shutdown.clone(), repositories.clone(), owned.clone());
            async move { build_plan::run(ctx, &scope, shutdown, repositories, owned).await }
        }),
        tokio::spawn({
            let ctx = ctx.clone();
            async move { healing_policy::run(ctx, &scope, shutdown, repositories, owned).await }
        }),
    ];
    // A controller that panics takes the process down at once, as it did when they all ran in one task.
    if let Err(error) = futures::future::try_join_all(controllers).await {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    ctx.metrics.observe_repositories(None);
}

/// The Organizations whose manifest a change of their Repository objects may change, as the shared cache tells the
/// changes: the Organization of an object whose manifest entry changed (not of one whose health, annotations or
/// other status moved: a webhook delivery would otherwise cost each Organization a reconcile), or every
/// Organization when anything may have changed.
fn organizations_of_changes(
    repositories: &Cache<Repository>,
    organizations: Store<Organization>,
) -> impl futures::Stream<Item = ObjectRef<Organization>> + Send + 'static {
    let repositories = repositories.clone();
    // What each object last said in which Organization's manifest.
    let mut entries: HashMap<ObjectRef<Repository>, (String, ManifestEntry)> = HashMap::new();
    repositories.changes().flat_map(move |change| {
        let of_repository = |repo: &Repository| {
            let namespace = repo.namespace()?;
            let org = ObjectRef::new(&repo.spec.organization_ref.name).within(&namespace);
            // Not when the Organization left this shard and its objects are leaving too.
            organizations.get(&org).map(|_| org)
        };
        let woken: Vec<ObjectRef<Organization>> = match change {
            Changed::Object(key) => match repositories.store().get(&key) {
                Some(repo) => {
                    let now = (repo.spec.organization_ref.name.clone(), manifest::entry(&repo));
                    match entries.insert(key.clone(), now.clone()) {
                        Some(before) if before == now => Vec::new(),
                        // Moved to another Organization: both manifests change.
                        Some((before, _)) if before != now.0 => {
                            let old = ObjectRef::new(&before).within(key.namespace.as_deref().unwrap_or_default());
                            let old = organizations.get(&old).map(|_| old);
                            old.into_iter().chain(of_repository(&repo)).collect()
                        }
                        _ => of_repository(&repo).into_iter().collect(),
                    }
                }
                None => Vec::new(),
            },
            Changed::Deleted(repo) => {
                entries.remove(&ObjectRef::from_obj(repo.as_ref()));
                of_repository(&repo).into_iter().collect()
            }
            Changed::Anything => organizations.state().iter().map(|org| ObjectRef::from_obj(org.as_ref())).collect(),
        };
        futures::stream::iter(woken)
    })
}
