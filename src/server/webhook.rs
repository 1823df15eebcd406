//! The GitHub webhook receiver. A delivery is accepted only with a valid `X-Hub-Signature-256` made with the
//! `webhookSecret` of an Organization it names; each accepted delivery id is acted on once; acting means annotating
//! the objects the delivery concerns, which wakes their controllers through the watch on whichever replica leads.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use sha2::Sha256;

use crate::clock::Clock;
use crate::crd::well_known::{REQUESTED_AT, REQUESTED_BY};
use crate::crd::{BuildPlan, Organization, Repository};
use crate::metrics::Metrics;
use crate::plan::webhook::{route, Route, WakeTarget, WebhookEnvelope};
use crate::scope::Scope;

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

/// What the receiver needs.
pub struct WebhookReceiver {
    client: Client,
    scope: Scope,
    deliveries: Mutex<DeliveryLog>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl WebhookReceiver {
    /// A receiver for the Organizations in `scope`.
    pub fn new(client: Client, scope: Scope, clock: Arc<dyn Clock>, metrics: Arc<Metrics>) -> Self {
        let deliveries = Mutex::new(DeliveryLog::new(10_000, Duration::from_secs(24 * 3600)));
        WebhookReceiver { client, scope, deliveries, clock, metrics }
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
    ) -> Result<Vec<Organization>, kube::Error> {
        let Some(login) = envelope.organization_login() else { return Ok(Vec::new()) };
        let api: Api<Organization> = self.scope.api(self.client.clone());
        let mut verified = Vec::new();
        for org in api.list(&ListParams::default()).await?.items {
            if !org.spec.login.eq_ignore_ascii_case(login) {
                continue;
            }
            let Some(namespace) = org.namespace() else { continue };
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
            let secret = match secrets.get_opt(&org.spec.credentials.secret_ref.name).await {
                Ok(secret) => secret,
                Err(kube::Error::Api(status)) if status.code == 403 => None,
                Err(error) => return Err(error),
            };
            let webhook_secret = secret.and_then(|s| s.data).and_then(|mut data| data.remove("webhookSecret"));
            if webhook_secret.is_some_and(|secret| signature_is_valid(&secret.0, body, signature)) {
                verified.push(org);
            }
        }
        Ok(verified)
    }

    /// Annotates the objects `targets` name in each Organization's namespace; returns `kind/namespace/name` of each.
    async fn wake(
        &self,
        organizations: &[Organization],
        targets: &[WakeTarget],
        delivery: &str,
    ) -> Result<Vec<String>, kube::Error> {
        let patch = json!({ "metadata": { "annotations": {
            REQUESTED_AT: self.clock.now().to_string(),
            REQUESTED_BY: format!("github-delivery/{delivery}"),
        }}});
        let params = PatchParams::default();
        let mut woken = Vec::new();
        for org in organizations {
            let (Some(namespace), org_name) = (org.namespace(), org.name_any()) else { continue };
            for target in targets {
                match target {
                    WakeTarget::Organization => {
                        let api: Api<Organization> = Api::namespaced(self.client.clone(), &namespace);
                        api.patch(&org_name, &params, &Patch::Merge(&patch)).await?;
                        woken.push(format!("Organization/{namespace}/{org_name}"));
                    }
                    WakeTarget::Repository(github_name) => {
                        let api: Api<Repository> = Api::namespaced(self.client.clone(), &namespace);
                        for repo in api.list(&ListParams::default()).await?.items {
                            if repo.spec.organization_ref.name == org_name && repo.spec.name.0 == *github_name {
                                api.patch(&repo.name_any(), &params, &Patch::Merge(&patch)).await?;
                                woken.push(format!("Repository/{namespace}/{}", repo.name_any()));
                            }
                        }
                    }
                    WakeTarget::BuildPlans => {
                        let api: Api<BuildPlan> = Api::namespaced(self.client.clone(), &namespace);
                        for plan in api.list(&ListParams::default()).await?.items {
                            if plan.spec.organization_ref.name == org_name {
                                api.patch(&plan.name_any(), &params, &Patch::Merge(&patch)).await?;
                                woken.push(format!("BuildPlan/{namespace}/{}", plan.name_any()));
                            }
                        }
                    }
                }
            }
        }
        Ok(woken)
    }
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
