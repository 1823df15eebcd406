//! The GitHub webhook receiver. A delivery is accepted only with a valid `X-Hub-Signature-256` made with the
//! `webhookSecret` of an Organization it names; each accepted delivery id is acted on once; acting means annotating
//! the objects the delivery concerns, which wakes their controllers through the watch on whichever replica leads.
//! Objects are found in indexes that watches keep and secrets are remembered, so that a delivery costs the API server
//! the annotations it writes and nothing more, however large the organization.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::future::BoxFuture;
use futures::FutureExt;
use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::Sha256;

use super::webhook_index::WatchedIndex;
use super::webhook_secret::SecretReads;
use crate::clock::Clock;
use crate::controller::wakes::Wakes;
use crate::crd::build_plan::BuildPlanPhase;
use crate::crd::well_known::{GITHUB_DELIVERY_PREFIX, REQUESTED_AT, REQUESTED_BY};
use crate::crd::{BuildPlan, Organization, Repository};
use crate::metrics::Metrics;
use crate::plan::webhook::{route, Route, WakeTarget, WebhookEnvelope};
use crate::scope::Scope;
use crate::shard::Shard;

/// GitHub caps webhook payloads at 25 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Whether `signature` (the `X-Hub-Signature-256` header, `sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`. The comparison takes the same time wherever the first differing byte is. An empty secret verifies
/// nothing: anyone can sign with an empty key.
pub fn signature_is_valid(secret: &[u8], body: &[u8], signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(hex_digest) = signature.strip_prefix("sha256=") else { return false };
    let Ok(expected) = hex::decode(hex_digest) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Delivery ids already acted on, remembered for a day and at most `capacity` of them. GitHub redelivers with the
/// same id; the log makes a redelivery or a replay a no-op. Each replica keeps its own log: a delivery replayed to
/// another replica wakes the same objects once more, which is harmless because reconciles are idempotent.
#[derive(Debug)]
pub struct DeliveryLog {
    seen: HashMap<String, Instant>,
    order: VecDeque<String>,
    capacity: usize,
    retention: Duration,
}

impl DeliveryLog {
    /// An empty log.
    pub fn new(capacity: usize, retention: Duration) -> Self {
        DeliveryLog { seen: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1), retention }
    }

    /// Whether `id` was recorded within the retention.
    pub fn contains(&self, id: &str, now: Instant) -> bool {
        self.seen.get(id).is_some_and(|at| now.duration_since(*at) < self.retention)
    }

    /// Records `id`, forgetting the oldest ids past the capacity or the retention.
    pub fn record(&mut self, id: &str, now: Instant) {
        if self.seen.insert(id.to_owned(), now).is_none() {
            self.order.push_back(id.to_owned());
        }
        while let Some(oldest) = self.order.front() {
            let expired = self.seen.get(oldest).is_none_or(|at| now.duration_since(*at) >= self.retention);
            if self.order.len() > self.capacity || expired {
                if let Some(oldest) = self.order.pop_front() {
                    self.seen.remove(&oldest);
                }
            } else {
                break;
            }
        }
    }
}

/// How long a delivery waits for the receiver's indexes to be filled (after a start) before it is answered "later".
const INDEXES_FILLED_WITHIN: Duration = Duration::from_secs(10);

/// What the receiver needs.
pub struct WebhookReceiver {
    client: Client,
    /// Organizations by login in lower case (GitHub's logins are case-insensitive).
    organizations: WatchedIndex<Organization, String, OrganizationEntry>,
    /// Repository object names by their Organization and GitHub name in lower case.
    repositories: WatchedIndex<Repository, RepositoryKey, String>,
    /// Names of the plans whose run is not over, by their Organization.
    unfinished_plans: WatchedIndex<BuildPlan, OrganizationKey, String>,
    /// The webhook secret of each Secret (namespace, name) as last read; one read at a time per Secret.
    secrets: Mutex<HashMap<(String, String), SecretSlot>>,
    secret_reads: SecretReads,
    deliveries: Mutex<DeliveryLog>,
    /// The BuildPlan controller of this process, woken directly when it runs here.
    build_plan_wakes: Wakes<BuildPlan>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

/// One Secret's last read, locked while it is read again so that reads of one Secret never overlap.
type SecretSlot = Arc<tokio::sync::Mutex<Option<ReadSecret>>>;
/// An Organization's namespace and name.
type OrganizationKey = (String, String);
/// An Organization's namespace and name, and a GitHub repository name in lower case.
type RepositoryKey = (String, String, String);

/// What the receiver reads of an Organization.
#[derive(Clone, Debug)]
struct OrganizationEntry {
    namespace: String,
    name: String,
    /// The Secret holding its `webhookSecret`.
    secret: String,
}

/// A Secret's webhook secret (`None`: the Secret, or its `webhookSecret`, is missing or unreadable) and when it was
/// read.
struct ReadSecret {
    value: Option<Vec<u8>>,
    at: Instant,
}

impl WebhookReceiver {
    /// A receiver for the Organizations in `scope` that `shard` owns, and the watches that fill its indexes: run
    /// them beside the server. Another shard's Organizations are unknown to it: their deliveries are answered as
    /// for an Organization nobody here manages.
    pub fn new(
        client: Client,
        scope: &Scope,
        shard: &Shard,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        // Repository objects carry their Organization's shard label; plans are found through their Organization.
        let owned = watcher::Config::default().labels(&shard.selector());
        let (organizations, organization_watch) =
            WatchedIndex::new(scope.api(client.clone()), owned.clone(), |org: &Organization| {
                let entry = OrganizationEntry {
                    namespace: org.namespace()?,
                    name: org.name_any(),
                    secret: org.spec.credentials.secret_ref.name.clone(),
                };
                Some((org.spec.login.to_ascii_lowercase(), entry))
            });
        let (repositories, repository_watch) =
            WatchedIndex::new(scope.api(client.clone()), owned, |repo: &Repository| {
                let of = (repo.namespace()?, repo.spec.organization_ref.name.clone());
                Some(((of.0, of.1, repo.spec.name.0.to_ascii_lowercase()), repo.name_any()))
            });
        let (unfinished_plans, plan_watch) =
            WatchedIndex::new(scope.api(client.clone()), watcher::Config::default(), |plan: &BuildPlan| {
                let of = (plan.namespace()?, plan.spec.organization_ref.name.clone());
                (!is_finished(plan)).then(|| (of, plan.name_any()))
            });
        let upkeep = async move {
            futures::join!(organization_watch, repository_watch, plan_watch);
        };
        let deliveries = Mutex::new(DeliveryLog::new(10_000, Duration::from_secs(24 * 3600)));
        let receiver = WebhookReceiver {
            client,
            organizations,
            repositories,
            unfinished_plans,
            secrets: Mutex::default(),
            secret_reads: SecretReads::default(),
            deliveries,
            build_plan_wakes: Wakes::default(),
            clock,
            metrics,
        };
        (receiver, upkeep)
    }

    /// The receiver, also handing the plans it wakes to the BuildPlan controller listening on `wakes` whenever that
    /// controller runs in this process (the leader): its reconcile need not wait for the annotation's watch event.
    pub fn waking_build_plans(mut self, wakes: Wakes<BuildPlan>) -> Self {
        self.build_plan_wakes = wakes;
        self
    }

    /// Waits until the indexes hold their first full lists; false after [`INDEXES_FILLED_WITHIN`].
    async fn indexes_filled(&self) -> bool {
        let filled = async {
            futures::join!(self.organizations.filled(), self.repositories.filled(), self.unfinished_plans.filled())
        };
        tokio::time::timeout(INDEXES_FILLED_WITHIN, filled).await.is_ok()
    }
}

impl WebhookReceiver {
    /// Whether this receiver acted on the delivery `guid` (its `X-GitHub-Delivery`) within the log's retention: a
    /// redelivery of it would be answered "already handled".
    pub fn has_acted_on(&self, guid: &str) -> bool {
        self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).contains(guid, Instant::now())
    }
}

/// The router serving `POST /webhook`.
pub fn router(receiver: Arc<WebhookReceiver>, max_body_bytes: usize) -> Router {
    Router::new().route("/webhook", post(receive)).layer(DefaultBodyLimit::max(max_body_bytes)).with_state(receiver)
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

async fn receive(State(receiver): State<Arc<WebhookReceiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(signature), Some(event), Some(delivery)) =
        (header("x-hub-signature-256"), header("x-github-event"), header("x-github-delivery"))
    else {
        receiver.metrics.record_webhook("unverified", "unauthorized");
        return answer(StatusCode::UNAUTHORIZED, "missing X-Hub-Signature-256, X-GitHub-Event or X-GitHub-Delivery");
    };
    // The payload is read before the signature is checked because the secret depends on the organization it names;
    // the body is size-capped and only a few fields are deserialized.
    let Ok(envelope) = serde_json::from_slice::<WebhookEnvelope>(&body) else {
        receiver.metrics.record_webhook("unverified", "unauthorized");
        return answer(StatusCode::UNAUTHORIZED, "signature missing or invalid");
    };
    if !receiver.indexes_filled().await {
        tracing::warn!(%delivery, "the webhook receiver's indexes are not filled yet");
        return answer(StatusCode::SERVICE_UNAVAILABLE, "could not verify the delivery; redeliver later");
    }
    let organizations = match receiver.verified_organizations(&envelope, &body, &signature).await {
        Ok(organizations) if !organizations.is_empty() => organizations,
        Ok(_) => {
            receiver.metrics.record_webhook("unverified", "unauthorized");
            tracing::warn!(%delivery, "webhook delivery with a missing or invalid signature");
            return answer(StatusCode::UNAUTHORIZED, "signature missing or invalid");
        }
        Err(error) => {
            tracing::warn!(%delivery, %error, "could not look up the organization of a webhook delivery");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "could not verify the delivery; redeliver later");
        }
    };
    let event_label = known_event(&event);
    if receiver.deliveries.lock().unwrap_or_else(|p| p.into_inner()).contains(&delivery, Instant::now()) {
        receiver.metrics.record_webhook(event_label, "duplicate");
        return answer(StatusCode::OK, "delivery already handled");
    }
    let targets = match route(&event, &envelope) {
        Route::Ignore(reason) => {
            receiver.metrics.record_webhook(event_label, "ignored");
            return answer(StatusCode::ACCEPTED, reason);
        }
        Route::Wake(targets) => targets,
    };
    match receiver.wake(&organizations, &targets, &delivery).await {
        Ok(woken) => {
            receiver.deliveries.lock().unwrap_or_else(|p| p.into_inner()).record(&delivery, Instant::now());
            receiver.metrics.record_webhook(event_label, "accepted");
            tracing::info!(%delivery, %event, woken = woken.len(), "webhook delivery routed");
            (StatusCode::ACCEPTED, Json(json!({ "delivery": delivery, "woken": woken }))).into_response()
        }
        Err(error) => {
            receiver.metrics.record_webhook(event_label, "error");
            tracing::warn!(%delivery, %error, "could not wake the objects of a webhook delivery");
            answer(StatusCode::SERVICE_UNAVAILABLE, "could not act on the delivery; redeliver later")
        }
    }
}

impl WebhookReceiver {
    /// The Organizations named by the delivery whose webhook secret signed it.
    async fn verified_organizations(
        &self,
        envelope: &WebhookEnvelope,
        body: &[u8],
        signature: &str,
    ) -> Result<Vec<OrganizationEntry>, kube::Error> {
        let Some(login) = envelope.organization_login() else { return Ok(Vec::new()) };
        let mut verified = Vec::new();
        for org in self.organizations.get(&login.to_ascii_lowercase()) {
            if self.signed_with_secret_of(&org.namespace, &org.secret, body, signature).await? {
                verified.push(org);
            }
        }
        Ok(verified)
    }

    /// Whether `signature` over `body` was made with the webhook secret in the Secret `namespace/name`, read again
    /// only when [`SecretReads`] says so.
    async fn signed_with_secret_of(
        &self,
        namespace: &str,
        name: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<bool, kube::Error> {
        let slot = {
            let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
            secrets.entry((namespace.to_owned(), name.to_owned())).or_default().clone()
        };
        // Deliveries verified by the same Secret wait for one read rather than each making its own.
        let mut known = slot.lock().await;
        let verifies = |known: &Option<ReadSecret>| {
            let secret = known.as_ref().and_then(|read| read.value.as_deref());
            secret.is_some_and(|secret| signature_is_valid(secret, body, signature))
        };
        let verified = verifies(&known);
        let now = Instant::now();
        if !self.secret_reads.read_again(known.as_ref().map(|read| read.at), verified, now) {
            return Ok(verified);
        }
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = match secrets.get_opt(name).await {
            Ok(secret) => secret,
            Err(kube::Error::Api(status)) if status.code == 403 => None,
            Err(error) => return Err(error),
        };
        let value = secret.and_then(|s| s.data).and_then(|mut data| data.remove("webhookSecret")).map(|v| v.0);
        *known = Some(ReadSecret { value, at: now });
        Ok(verifies(&known))
    }

    /// Annotates the objects `targets` name in each Organization's namespace; returns `kind/namespace/name` of each.
    /// Only plans still running (or not yet started) are woken: a finished plan waits for no run.
    async fn wake(
        &self,
        organizations: &[OrganizationEntry],
        targets: &[WakeTarget],
        delivery: &str,
    ) -> Result<Vec<String>, kube::Error> {
        let patch = json!({ "metadata": { "annotations": {
            REQUESTED_AT: self.clock.now().to_string(),
            REQUESTED_BY: format!("{GITHUB_DELIVERY_PREFIX}{delivery}"),
        }}});
        let mut wakes: Vec<BoxFuture<'_, Result<Option<String>, kube::Error>>> = Vec::new();
        for org in organizations {
            let (namespace, org_name) = (&org.namespace, &org.name);
            for target in targets {
                match target {
                    WakeTarget::Organization => {
                        self.metrics.record_webhook_wake("Organization", "annotation");
                        wakes.push(self.annotate::<Organization>(namespace, org_name.clone(), &patch));
                    }
                    WakeTarget::Repository(github_name) => {
                        let key = (namespace.clone(), org_name.clone(), github_name.to_ascii_lowercase());
                        for repo in self.repositories.get(&key) {
                            self.metrics.record_webhook_wake("Repository", "annotation");
                            wakes.push(self.annotate::<Repository>(namespace, repo, &patch));
                        }
                    }
                    WakeTarget::BuildPlans => {
                        for plan in self.unfinished_plans.get(&(namespace.clone(), org_name.clone())) {
                            wakes.push(self.annotate_or_wake(namespace, plan, &patch));
                        }
                    }
                }
            }
        }
        let woken = futures::future::try_join_all(wakes).await?;
        Ok(woken.into_iter().flatten().collect())
    }

    /// Hands the plan to the BuildPlan controller of this process when it runs here (this replica leads), with no
    /// write at all; else annotates it, and the leader's watch sees the annotation. The in-process wake is as durable
    /// as the annotation where it counts: a leader that stops before the reconcile is replaced by one that reconciles
    /// every plan when it starts. A write would cost the step what it costs most: a whole-object write of the plan,
    /// and a conflict of the reconcile's guarded status write with it.
    fn annotate_or_wake<'a>(
        &self,
        namespace: &str,
        name: String,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<Option<String>, kube::Error>> {
        let plan = ObjectRef::new(&name).within(namespace);
        if self.build_plan_wakes.wake(plan) {
            self.metrics.record_webhook_wake("BuildPlan", "process");
            return futures::future::ready(Ok(Some(format!("BuildPlan/{namespace}/{name}")))).boxed();
        }
        self.metrics.record_webhook_wake("BuildPlan", "annotation");
        self.annotate::<BuildPlan>(namespace, name, patch)
    }

    /// Merges `patch` into the object; returns `kind/namespace/name`, or `None` when the object is gone.
    fn annotate<'a, K>(
        &self,
        namespace: &str,
        name: String,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<Option<String>, kube::Error>>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + 'static,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let woken = format!("{}/{namespace}/{name}", K::kind(&()));
        async move {
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => Ok(Some(woken)),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                Err(error) => Err(error),
            }
        }
        .boxed()
    }
}

/// Whether the plan's run is over: no delivery can move it on.
fn is_finished(plan: &BuildPlan) -> bool {
    let phase = plan.status.as_ref().and_then(|status| status.phase.as_ref());
    matches!(phase, Some(BuildPlanPhase::Succeeded | BuildPlanPhase::Failed | BuildPlanPhase::Cancelled))
}

/// The event as a metric label: one of the events the operator uses, else `other`, so that a sender cannot grow
/// the label set.
fn known_event(event: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "ping",
        "repository",
        "installation",
        "installation_repositories",
        "push",
        "workflow_run",
        "workflow_job",
        "check_suite",
        "code_scanning_alert",
        "dependabot_alert",
        "secret_scanning_alert",
        "issues",
        "pull_request",
    ];
    KNOWN.iter().find(|known| **known == event).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn accepts_only_the_right_signature() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let good = sign(b"s3cret", body);
        assert!(signature_is_valid(b"s3cret", body, &good));
        assert!(!signature_is_valid(b"other", body, &good), "wrong secret");
        assert!(!signature_is_valid(b"s3cret", b"{}", &good), "other body");
        assert!(!signature_is_valid(b"s3cret", body, &good[..good.len() - 2]), "truncated");
        assert!(!signature_is_valid(b"s3cret", body, &good.replace("sha256=", "sha1=")), "other algorithm");
        assert!(!signature_is_valid(b"s3cret", body, "sha256=zz"), "not hex");
        assert!(!signature_is_valid(b"s3cret", body, ""), "empty");
        assert!(!signature_is_valid(b"", body, &sign(b"", body)), "an empty secret, which anyone can sign with");
    }

    #[test]
    fn delivery_log_forgets_by_age_and_capacity() {
        let start = Instant::now();
        let mut log = DeliveryLog::new(2, Duration::from_secs(60));
        log.record("a", start);
        assert!(log.contains("a", start));
        assert!(!log.contains("a", start + Duration::from_secs(61)), "past the retention");
        log.record("b", start);
        log.record("c", start);
        assert!(!log.contains("a", start), "past the capacity, the oldest goes");
        assert!(log.contains("b", start) && log.contains("c", start));
        log.record("d", start + Duration::from_secs(120));
        assert!(
            !log.contains("b", start + Duration::from_secs(120)) && log.contains("d", start + Duration::from_secs(120))
        );
    }

    #[test]
    fn unknown_events_share_one_label() {
        assert_eq!(known_event("workflow_run"), "workflow_run");
        assert_eq!(known_event("made-up-event-123"), "other");
    }
}
