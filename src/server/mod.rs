//! The operator's runtime: its HTTP endpoints, leader election, and the controllers, started and stopped together.

pub mod http;
pub mod leader;
pub mod webhook;
pub mod webhook_index;
pub mod webhook_recovery;
pub mod webhook_secret;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kube::api::{Api, ListParams};
use kube::Client;

use crate::config::OperatorConfig;
use crate::controller::github_clients::GitHubClients;
use crate::controller::{self, Context};
use crate::crd::Organization;
use crate::metrics::Metrics;
use crate::scope::Scope;
use crate::shard::Shard;
use http::Readiness;
use leader::{LeaderElector, LeaseTimings};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Which namespaces the controllers watch.
    pub scope: Scope,
    /// Where `/healthz`, `/readyz` and `/metrics` listen.
    pub metrics_addr: SocketAddr,
    /// Where the GitHub webhook receiver (`POST /webhook`) listens; none when `None`. It runs on every replica.
    pub webhook_addr: Option<SocketAddr>,
    /// Leader election; `None` runs the controllers at once, for a single replica.
    pub leader_election: Option<LeaderElection>,
    /// Names this replica in Events and in the Lease (the pod name in a cluster).
    pub identity: String,
    /// The operator's configuration.
    pub config: OperatorConfig,
    /// The Organizations this process owns (`--shard`).
    pub shard: Shard,
}

/// Where the leader Lease lives.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Namespace of the Lease (the operator's own namespace).
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// Timings.
    pub timings: LeaseTimings,
}

/// Why the operator stopped other than by a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metrics and probes address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Another replica took over; this one stopped its controllers.
    #[error(transparent)]
    LostLeadership(#[from] leader::Error),
}

/// Runs the operator until `shutdown` completes (a clean stop) or leadership is lost (an error: the process should
/// exit and be restarted as a follower).
pub async fn run(
    client: Client,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    let shutdown = shutdown.shared();
    let repository_metrics = options.config.monitoring.per_repository_metrics();
    let metrics = Arc::new(Metrics::default().with_repository_metrics(repository_metrics));
    metrics.set_shard(&options.shard.to_string());
    let readiness = Arc::new(Readiness::default());
    let listener = http::bind(options.metrics_addr)
        .await
        .map_err(|source| Error::Listen { addr: options.metrics_addr, source })?;
    tracing::info!(addr = %options.metrics_addr, "serving /healthz, /readyz and /metrics");
    let mut servers =
        vec![tokio::spawn(http::serve(listener, http::router(metrics.clone(), readiness.clone()), shutdown.clone()))];

    let mut ctx = Context::new(client.clone(), Some(options.identity.clone()), metrics.clone());
    ctx.config = Arc::new(options.config.clone());
    let background_share = options.config.budget.background_share_percent;
    ctx.github = Arc::new(GitHubClients::observed_by(metrics.clone(), background_share));
    ctx.shard = options.shard.clone();
    let ctx = Arc::new(ctx);
    if let Some(addr) = options.webhook_addr {
        let listener = http::bind(addr).await.map_err(|source| Error::Listen { addr, source })?;
        tracing::info!(%addr, "serving the GitHub webhook receiver on /webhook");
        let (receiver, indexes) = webhook::WebhookReceiver::new(
            client.clone(),
            &options.scope,
            &options.shard,
            ctx.clock.clone(),
            metrics.clone(),
        );
        let receiver = Arc::new(receiver.waking_build_plans(ctx.build_plan_wakes.clone()));
        servers.push(tokio::spawn(futures::future::select(indexes.boxed(), shutdown.clone()).map(|_| Ok(()))));
        let router = webhook::router(receiver.clone(), webhook::DEFAULT_MAX_BODY_BYTES);
        servers.push(tokio::spawn(http::serve(listener, router, shutdown.clone())));
        // GitHub never redelivers what the receiver missed: ask for it, now and every interval.
        let recovery = Arc::new(
            webhook_recovery::WebhookRecovery::new(
                client.clone(),
                options.scope.clone(),
                ctx.github.clone(),
                receiver,
                metrics.clone(),
            )
            .for_shard(options.shard.clone()),
        );
        let interval = options.config.webhook.recovery_interval;
        servers.push(tokio::spawn(recovery.run(interval, shutdown.clone()).map(Ok)));
    }
    let outcome = lead(ctx, options, readiness, shutdown.clone()).await;
    metrics.leader.set(0);
    for server in servers {
        if let Ok(Err(error)) = server.await {
            tracing::warn!(%error, "an HTTP server stopped with an error");
        }
    }
    outcome
}

/// Waits for the API server and our CRDs, wins the election if there is one, and runs the controllers until
/// `shutdown` or until leadership is lost. The waits give way to `shutdown` at once; running controllers are let
/// finish the reconciles they are in.
async fn lead(
    ctx: Arc<Context>,
    options: RunOptions,
    readiness: Arc<Readiness>,
    shutdown: futures::future::Shared<impl Future<Output = ()> + Send + Sync + 'static>,
) -> Result<(), Error> {
    tokio::select! {
        () = shutdown.clone() => return Ok(()),
        () = wait_for_crds(&ctx.client, &options.scope) => readiness.set(true),
    }
    let Some(election) = options.leader_election else {
        ctx.metrics.leader.set(1);
        controller::run(ctx, options.scope, shutdown).await;
        return Ok(());
    };
    let elector = LeaderElector::new(
        ctx.client.clone(),
        &election.namespace,
        &election.lease_name,
        &options.identity,
        election.timings,
        ctx.clock.clone(),
    );
    tokio::select! {
        () = shutdown.clone() => return Ok(()),
        () = elector.acquire() => {
            ctx.metrics.leader.set(1);
        }
    }
    let (lost_sender, lost) = tokio::sync::oneshot::channel();
    let stop = futures::future::select(shutdown, lost.map(|_| ())).map(|_| ());
    let controllers = controller::run(ctx.clone(), options.scope, stop);
    let holding = async {
        let error = elector.hold().await;
        let _ = lost_sender.send(());
        error
    };
    tokio::pin!(controllers, holding);
    tokio::select! {
        () = &mut controllers => {
            elector.release().await;
            Ok(())
        }
        error = &mut holding => {
            tracing::error!(%error, "stopping the controllers");
            ctx.metrics.leader.set(0);
            controllers.await;
            Err(Error::LostLeadership(error))
        }
    }
}

/// Returns once the API server answers and serves our kinds in `scope`; logs what is missing meanwhile.
async fn wait_for_crds(client: &Client, scope: &Scope) {
    let organizations: Api<Organization> = scope.api(client.clone());
    let mut delay = Duration::from_millis(500);
    loop {
        match organizations.list(&ListParams::default().limit(1)).await {
            Ok(_) => return,
            Err(error) => tracing::warn!(
                %error,
                "cannot list Organizations; are the CRDs installed (kubectl apply -f crds/) and is the API server reachable?"
            ),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
