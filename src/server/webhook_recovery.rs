//! Recovers the webhook deliveries the receiver missed. GitHub never redelivers a failed delivery by itself
//! (docs: webhooks/using-webhooks/handling-failed-webhook-deliveries): after an outage of the receiver, the events
//! GitHub tried to send in the meantime are lost unless someone asks for them again.
//!
//! - For an Organization authenticated as a GitHub App, the App's hook deliveries are listed (App JWT) and the failed
//!   ones the receiver has not acted on are redelivered ([`crate::plan::webhook_recovery`] decides which). A pass runs
//!   when the receiver starts and every `webhook.recovery_interval`, on the leader only (one replica asks; the
//!   redelivery then reaches whichever replica the Service picks, and the receiver acts once per delivery guid).
//! - For an Organization authenticated with a token there is no App hook to read; polling covers each event the
//!   operator acts on: a BuildPlan reads its runs in flight every `build.poll_interval`, discovery lists the
//!   organization every `discovery.scan_interval`, and health checks read every repository on their own interval.
//!   The pass says so once per Organization in the log.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::webhook::WebhookReceiver;
use crate::controller::github_clients::GitHubClients;
use crate::crd::organization::CredentialType;
use crate::crd::Organization;
use crate::github::hook_deliveries::MAX_PER_PAGE;
use crate::github::GitHub;
use crate::metrics::Metrics;
use crate::plan::webhook_recovery::{decide, reached_the_end, Attempt, Bounds, Requested};
use crate::scope::Scope;
use crate::shard::Shard;

/// What one App's recovery remembers between passes.
#[derive(Debug, Default)]
struct HookMemory {
    /// Passes so far.
    passes: u64,
    /// Where the next pass stops paging: attempts at or below it were decided.
    watermark: Option<u64>,
    /// Redelivery requests made per event guid.
    requested: HashMap<String, Requested>,
}

/// What one pass over one App's hook did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassOutcome {
    /// Attempts read.
    pub attempts_read: usize,
    /// Events found failed that the receiver had not acted on, for the first time.
    pub failed_found: usize,
    /// Redeliveries GitHub accepted.
    pub requested: usize,
}

/// The recovery loop's state: one [`HookMemory`] per App (API URL and App id).
pub struct WebhookRecovery {
    client: Client,
    scope: Scope,
    github: Arc<GitHubClients>,
    receiver: Arc<WebhookReceiver>,
    metrics: Arc<Metrics>,
    bounds: Bounds,
    hooks: tokio::sync::Mutex<HashMap<String, HookMemory>>,
    token_notices: Mutex<BTreeSet<String>>,
    /// Only this shard's Organizations are recovered for: each shard's leader asks for its own.
    shard: Shard,
}

impl WebhookRecovery {
    /// Recovery for the Organizations in `scope`, asking the receiver which deliveries it already acted on.
    pub fn new(
        client: Client,
        scope: Scope,
        github: Arc<GitHubClients>,
        receiver: Arc<WebhookReceiver>,
        metrics: Arc<Metrics>,
    ) -> Self {
        WebhookRecovery {
            client,
            scope,
            github,
            receiver,
            metrics,
            bounds: Bounds::default(),
            hooks: tokio::sync::Mutex::default(),
            token_notices: Mutex::default(),
            shard: Shard::Unsharded,
        }
    }

    /// Recovery for the Organizations of `shard` only.
    pub fn for_shard(self, shard: Shard) -> Self {
        WebhookRecovery { shard, ..self }
    }

    /// Runs a pass as soon as this replica leads (the `leader` gauge is the process's record of it, set by leader
    /// election or at once without it), then every `interval`, until `shutdown`.
    pub async fn run(self: Arc<Self>, interval: Duration, shutdown: impl Future<Output = ()> + Send) {
        let leading_passes = async {
            loop {
                if self.metrics.leader.get() == 1 {
                    self.pass().await;
                    tokio::time::sleep(interval).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        tokio::select! {
            () = shutdown => {}
            () = leading_passes => {}
        }
    }

    /// One pass over every Organization in scope (each App's hook once).
    pub async fn pass(&self) {
        let organizations: Api<Organization> = self.scope.api(self.client.clone());
        let organizations = match organizations.list(&ListParams::default().labels(&self.shard.selector())).await {
            Ok(list) => list.items,
            Err(error) => {
                tracing::warn!(%error, "webhook recovery cannot list Organizations");
                self.metrics.record_webhook_recovery_pass("error");
                return;
            }
        };
        let mut hooks_done = BTreeSet::new();
        for org in organizations {
            let name = format!("{}/{}", org.namespace().unwrap_or_default(), org.name_any());
            if org.spec.credentials.r#type == CredentialType::Token {
                self.say_polling_covers(&name);
                continue;
            }
            let Some(app_id) = self.app_id(&org).await else { continue };
            let hook = format!("{}#app:{app_id}", org.spec.api_url.trim_end_matches('/'));
            if !hooks_done.insert(hook.clone()) {
                continue;
            }
            let github = match self.github.for_organization(&self.client, &org).await {
                Ok(github) => github,
                Err(error) => {
                    tracing::warn!(organization = %name, %error, "webhook recovery has no GitHub client");
                    self.metrics.record_webhook_recovery_pass("error");
                    continue;
                }
            };
            match self.recover(&hook, github.as_ref()).await {
                Ok(outcome) => {
                    self.metrics.record_webhook_recovery_pass("completed");
                    if outcome.failed_found > 0 {
                        tracing::info!(organization = %name, failed = outcome.failed_found,
                            requested = outcome.requested, read = outcome.attempts_read,
                            "asked GitHub to redeliver webhook deliveries the receiver missed");
                    }
                }
                Err(error) => {
                    self.metrics.record_webhook_recovery_pass("error");
                    tracing::warn!(organization = %name, %error, category = error.category(),
                        "webhook recovery pass failed; the next pass retries");
                }
            }
        }
    }

    /// Reads the App hook's attempts back to where the last pass stopped and asks for the failed ones again. The
    /// watermark moves only when every chosen redelivery was accepted, so a failed request is retried next pass.
    pub async fn recover(&self, hook: &str, github: &dyn GitHub) -> crate::github::Result<PassOutcome> {
        let mut hooks = self.hooks.lock().await;
        let memory = hooks.entry(hook.to_owned()).or_default();
        let mut attempts: Vec<Attempt> = Vec::new();
        let (mut cursor, mut pages) = (None::<String>, 0u32);
        loop {
            let page = github.app_hook_deliveries(cursor.as_deref(), MAX_PER_PAGE).await?;
            pages += 1;
            let page_attempts: Vec<Attempt> = page
                .deliveries
                .iter()
                .map(|d| Attempt {
                    id: d.id,
                    guid: d.guid.clone(),
                    delivered_at: d.delivered_at.as_second(),
                    status_code: d.status_code,
                })
                .collect();
            attempts.extend(page_attempts.iter().cloned());
            let newest_at = attempts.first().map_or(0, |a| a.delivered_at);
            if page.next_cursor.is_none()
                || reached_the_end(&page_attempts, pages, memory.watermark, newest_at, self.bounds)
            {
                break;
            }
            cursor = page.next_cursor;
        }
        memory.passes += 1;
        let handled = |guid: &str| self.receiver.has_acted_on(guid);
        let decision = decide(&attempts, memory.watermark, &handled, &memory.requested, memory.passes, self.bounds);
        let first_found = decision.redeliver.iter().filter(|a| !memory.requested.contains_key(&a.guid)).count();
        self.metrics.webhook_deliveries_failed_found.inc_by(first_found as u64);
        let mut outcome = PassOutcome { attempts_read: attempts.len(), failed_found: first_found, requested: 0 };
        for attempt in &decision.redeliver {
            // A refused request is not counted: the event stays owed and is asked for again next pass.
            if let Err(error) = github.redeliver_app_hook_delivery(attempt.id).await {
                tracing::warn!(delivery = attempt.id, %error, "GitHub refused a redelivery request");
                continue;
            }
            let asked = memory.requested.entry(attempt.guid.clone()).or_default();
            *asked = Requested { count: asked.count + 1, last_pass: memory.passes };
            self.metrics.webhook_redeliveries_requested.inc();
            outcome.requested += 1;
            tracing::debug!(delivery = attempt.id, guid = %attempt.guid, "asked GitHub to redeliver");
        }
        for given_up in &decision.given_up {
            tracing::warn!(guid = %given_up.guid, "webhook delivery still failing after every redelivery; giving up");
        }
        // Events out of view cannot come back into it (the watermark only rises): forget their requests.
        memory.requested.retain(|guid, _| attempts.iter().any(|a| &a.guid == guid));
        memory.watermark = decision.watermark;
        Ok(outcome)
    }

    fn say_polling_covers(&self, organization: &str) {
        let first_time = self.token_notices.lock().unwrap_or_else(|p| p.into_inner()).insert(organization.to_owned());
        if first_time {
            tracing::info!(
                %organization,
                "token credentials: webhook deliveries missed while the receiver was down cannot be listed (only a \
                 GitHub App can), so polling covers them: BuildPlans read runs in flight every build.poll_interval, \
                 discovery lists the organization every discovery.scan_interval, health checks read each repository \
                 on their interval"
            );
        }
    }

    /// The App id in an App-authenticated Organization's credentials Secret.
    async fn app_id(&self, org: &Organization) -> Option<u64> {
        let namespace = org.namespace()?;
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let secret = secrets.get_opt(&org.spec.credentials.secret_ref.name).await.ok()??;
        let from_data = secret.data.as_ref().and_then(|d| d.get("appId")).map(|v| v.0.clone());
        let from_string = secret.string_data.as_ref().and_then(|d| d.get("appId")).map(|v| v.clone().into_bytes());
        String::from_utf8(from_data.or(from_string)?).ok()?.trim().parse().ok()
    }
}
