//! The Organization controller: checks the credentials Secret, discovers the organization's repositories into
//! Repository objects (on spec changes, on the discovery interval, and when a webhook asks), and keeps the
//! repository manifest of the Organization's Repository objects in a ConfigMap it owns.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use crate::controller::cache::Cache;
use crate::controller::context::{Context, FIELD_MANAGER};
mod apply;
mod budget;
mod graphql_reads;
pub mod observe;
mod permissions;

use crate::controller::detection_cache::LastPass;
use crate::controller::error::Error;
use budget::BUDGET_CONSTRAINED;
use observe::discover;
use permissions::PERMISSIONS_MISSING;

use crate::controller::status::{announce_transition, namespace_of, publish_event, write_status, Guard, StatusPart};
use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::organization::{OrganizationStatus, PruneHoldStatus, RateLimitStatus};
use crate::crd::repository::PullRequestReference;
use crate::crd::well_known::{
    CONFIRM_PRUNE_ANNOTATION, GITHUB_DELIVERY_PREFIX, MANAGED_BY_LABEL, ORGANIZATION_LABEL, REQUESTED_AT, REQUESTED_BY,
    SHARD_LABEL,
};
use crate::crd::{HasConditions, Organization, Repository};
use crate::github::spending::{stretch_of, Charge, Purpose};
use crate::github::{FileChange, GitHub, PullRequestChange, RepoRef};
use crate::manifest;
use crate::plan::discovery_pass::{self, SyncHistory, SyncTrigger, DEGRADED};
use crate::plan::onboarding;
use crate::plan::prerequisites::{self, ObservedSecret};
use crate::plan::prune_hold::{self, PRUNE_HELD};
use crate::plan::readiness::set_condition;
use crate::plan::readiness::{self, Accepted, Polarity, READY, STALLED};
use crate::plan::repository_sync::{self, ExistingRepository};

const ACCEPTED: Accepted<'static> =
    Accepted { reason: "CredentialsFound", message: "The credentials Secret holds every key its type needs" };

/// One reconcile of an Organization: check the credentials; run a discovery pass when one is due (spec changed,
/// interval passed, or a webhook asked); keep the manifest ConfigMap; write the status.
pub async fn reconcile(
    org: Arc<Organization>,
    ctx: Arc<Context>,
    repositories: Arc<Cache<Repository>>,
) -> Result<Action, Error> {
    let namespace = namespace_of(org.as_ref())?;
    let org_name = org.name_any();
    if org.spec.suspend {
        ctx.detections.forget(&format!("{namespace}/{org_name}"));
        return Ok(Action::await_change());
    }
    let secret = observe_secret(&ctx, &namespace, &org.spec.credentials.secret_ref.name).await?;
    let outcome = prerequisites::organization(&org.spec, secret.as_ref());
    let now = ctx.clock.now_time();
    // The fields this controller owns start as they are, so that a reconcile that does not touch one does not apply
    // it away.
    let mut next = org.status.clone().unwrap_or_default();
    next.observed_generation = org.metadata.generation;
    let action = match &outcome {
        Err(_) => {
            next.conditions =
                readiness::conditions(org.conditions(), &outcome, ACCEPTED, org.metadata.generation, &now);
            Action::requeue(ctx.recheck.credentials)
        }
        Ok(()) => {
            // Whatever stalled the Organization is fixed; what discovery says decides `Ready`.
            next.conditions.retain(|c| c.r#type != STALLED);
            let (action, passed) = match discovery_pass::sync_due(&sync_history(&ctx, org.as_ref()), now.0) {
                Err(next_due) => (requeue_at(&ctx, next_due), false),
                Ok(trigger) => {
                    // Said before a pass for a generation not discovered yet, for `kubectl wait` and GitOps tools.
                    if trigger == SyncTrigger::Spec {
                        let generation = org.metadata.generation;
                        next.conditions = discovery_pass::discovering_conditions(&next.conditions, generation, &now);
                        write_status(&ctx, org.as_ref(), &next, Guard::None).await?;
                    }
                    let charge = Charge { purpose: purpose_of(org.as_ref(), trigger), stretch: stretch(&ctx, &org) };
                    (charge.scope(sync(&ctx, org.as_ref(), &namespace, trigger, &mut next)).await?, true)
                }
            };
            let outlooks = ctx.github.budget_outlook_of(&namespace, &org_name);
            let interval = discovery_interval(org.as_ref(), &ctx);
            budget::record(&mut next, &outlooks, interval, passed, org.metadata.generation, &ctx.clock.now_time());
            action
        }
    };
    // From the shared cache: the manifest follows the objects eventually anyway (every change of one wakes this
    // reconcile), and a read of every Repository on each wake would cost the API server the whole set each time.
    repositories.filled().await;
    let config_map_name = manifest::config_map_name(&org_name);
    let stored = {
        let objects = repositories.store().state();
        let in_namespace = objects.iter().map(AsRef::as_ref);
        let in_namespace = in_namespace.filter(|repo| repo.namespace().as_deref() == Some(namespace.as_str()));
        manifest::build(&org_name, in_namespace).stored()
    };
    match stored {
        Ok(stored) => {
            if observe_manifest(&ctx, org.as_ref(), &namespace, &config_map_name).await?.as_ref() != Some(&stored) {
                publish_manifest(&ctx, org.as_ref(), &namespace, &config_map_name, &stored).await?;
            }
            next.conditions.retain(|c| c.r#type != manifest::MANIFEST_TOO_LARGE);
            next.manifest_config_map = Some(config_map_name);
        }
        // Retrying cannot make it fit: say so, and go on with the rest of the reconcile.
        Err(too_large) => {
            let (generation, message) = (org.metadata.generation, too_large.message());
            let (r#type, status) = (manifest::MANIFEST_TOO_LARGE, ConditionStatus::True);
            let condition = Condition::new(r#type, status, "ManifestTooLarge", &message, generation, now.clone());
            set_condition(&mut next.conditions, condition);
        }
    }
    let conditions = (org.conditions(), next.conditions.as_slice());
    announce_transition(&ctx, org.as_ref(), conditions, manifest::MANIFEST_TOO_LARGE, Polarity::Negative, "Manifest")
        .await;
    announce_transition(&ctx, org.as_ref(), conditions, DEGRADED, Polarity::Negative, "Discover").await;
    announce_transition(&ctx, org.as_ref(), conditions, BUDGET_CONSTRAINED, Polarity::Negative, "Budget").await;
    if write_status(&ctx, org.as_ref(), &next, Guard::None).await?.is_some() {
        announce_transition(&ctx, org.as_ref(), conditions, READY, Polarity::Positive, "Reconcile").await;
    }
    Ok(action)
}

/// The Organization's whole status is this controller's.
impl StatusPart for OrganizationStatus {
    type Object = Organization;
    const MANAGER: &'static str = FIELD_MANAGER;
    fn of(org: &Organization) -> Self {
        org.status.clone().unwrap_or_default()
    }
}

/// What the status says of the last pass, unless this process remembers a later one: the watch may deliver the
/// Organization before its own last status write, and trusting that stale copy would run the pass again.
fn sync_history(ctx: &Context, org: &Organization) -> SyncHistory {
    let status = org.status.as_ref();
    let mut last_sync = status.and_then(|s| s.last_sync_time.as_ref()).map(|t| t.0);
    let mut last_sync_generation = status.and_then(|s| s.last_sync_generation);
    let mut handled_request = status.and_then(|s| s.last_handled_request.clone());
    let mut synced = discovery_pass::says_synced(org.conditions());
    let key = format!("{}/{}", org.namespace().unwrap_or_default(), org.name_any());
    let current = |pass: &LastPass| discovery_pass::remembered_pass_is_current(pass.finished, last_sync);
    let remembered = ctx.detections.last_pass(&key).filter(current);
    // Joined this shard: a pass here applies its Repository objects again, with this shard's label.
    if remembered.is_none() && ctx.shard.moved_in(status.and_then(|s| s.last_sync_shard.as_deref())) {
        synced = false;
    }
    if let Some(pass) = remembered {
        (synced, last_sync, last_sync_generation) = (true, Some(pass.finished), pass.generation);
        handled_request = pass.handled_request;
    }
    SyncHistory {
        synced,
        generation: org.metadata.generation,
        last_sync_generation,
        last_sync,
        request: org.annotations().get(REQUESTED_AT).cloned(),
        handled_request,
        interval: resync_interval(org, ctx),
        prune_confirmed: new_prune_confirmation(org).is_some(),
    }
}

/// The `confirm-prune` annotation's value when no pass has acted on it yet.
fn new_prune_confirmation(org: &Organization) -> Option<String> {
    let value = org.annotations().get(CONFIRM_PRUNE_ANNOTATION)?;
    let handled = org.status.as_ref().and_then(|s| s.last_prune_confirmation.as_ref());
    (handled != Some(value)).then(|| value.clone())
}

/// Requeue when the next pass is due; the clock may be a test's, so the wait is measured on it.
fn requeue_at(ctx: &Context, at: Timestamp) -> Action {
    let wait = ctx.clock.now().duration_until(at).unsigned_abs();
    Action::requeue(wait.max(Duration::from_secs(1)))
}

/// The Organization as the API server has it now, when it still has `org`'s spec (`org` came from the controller's
/// cache, which may lag). Its status is what the last pass wrote, which the pass's prune decisions build on.
async fn current_organization(
    ctx: &Context,
    org: &Organization,
    namespace: &str,
) -> Result<Option<Organization>, Error> {
    let current = Api::<Organization>::namespaced(ctx.client.clone(), namespace).get_opt(&org.name_any()).await?;
    Ok(current.filter(|current| current.metadata.generation == org.metadata.generation))
}

/// One discovery pass: read GitHub, decide the Repository objects and their statuses, write them.
async fn sync(
    ctx: &Context,
    org: &Organization,
    namespace: &str,
    trigger: SyncTrigger,
    next: &mut OrganizationStatus,
) -> Result<Action, Error> {
    let generation = org.metadata.generation;
    let org_name = org.name_any();
    let started = ctx.clock.now_time();
    let github = ctx.github.for_organization(&ctx.client, org).await?;
    let cache_key = format!("{namespace}/{org_name}");
    let discovered = discover(github.as_ref(), &org.spec.login, &org.spec.discovery, &ctx.detections, &cache_key).await;
    // Known once discovery's first request exchanged the App's token, and said at once: the rest of the pass may
    // wait minutes for the Repository controller's writes, and whoever installs the App needs to know now.
    permissions::record(next, github.granted_permissions().as_ref(), generation, &started);
    let conditions = (org.conditions(), next.conditions.as_slice());
    if permissions::changed(conditions) {
        write_status(ctx, org, next, Guard::None).await?;
        announce_transition(ctx, org, conditions, PERMISSIONS_MISSING, Polarity::Negative, "Permissions").await;
    }
    let discovery = match discovered {
        Ok(discovery) => discovery,
        Err(error) => {
            ctx.detections.record_pass(&cache_key, None);
            let error = Error::from(error);
            let reason = error.category();
            let message = format!("Listing the repositories of {} failed: {error}", org.spec.login);
            next.conditions =
                discovery_pass::failed_conditions(&next.conditions, reason, &message, generation, &started);
            return Ok(Action::requeue(error.retry_after()));
        }
    };
    let secret_scanning = discovery.secret_scanning.iter().map(|(name, on)| (name.as_str(), *on));
    ctx.org_alerts.note_listing(org, secret_scanning);
    // The pass was decided on the spec this reconcile started with. A newer one (say `prune: Retain`, patched just
    // as a deletion's webhook arrived) may keep what this one would prune: it gets a pass of its own instead.
    let Some(current) = current_organization(ctx, org, namespace).await? else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let api: Api<Repository> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = api.list(&ListParams::default()).await?.items;
    let kept: BTreeSet<String> = discovery.kept.keys().cloned().collect();
    let known = existing_repositories(&existing);
    let mut plan = repository_sync::sync_repositories(&org_name, org.spec.prune, &kept, &known);
    let held_before: BTreeSet<String> = current
        .status
        .as_ref()
        .and_then(|s| s.prune_hold.as_ref())
        .map(|hold| hold.repositories.iter().cloned().collect())
        .unwrap_or_default();
    let confirmation = new_prune_confirmation(&current);
    let safety = prune_hold::Safety {
        threshold_percent: org.spec.prune_hold_threshold_percent,
        listed: &discovery.listed,
        held_before: &held_before,
        confirmed_by_person: confirmation.is_some(),
    };
    let verdict = prune_hold::guard(&mut plan, &org_name, &known, &safety);
    let objects: BTreeMap<String, &Repository> = existing
        .iter()
        .filter(|r| r.spec.organization_ref.name == org_name)
        .map(|r| (r.spec.name.0.clone(), r))
        .collect();
    let mut outcome = discovery_pass::outcome(&org.spec.login, &discovery.kept, &objects);
    onboard(ctx, org, github.as_ref(), &mut outcome.statuses).await;
    let writes = apply::apply(ctx, org, &plan, &mut outcome.statuses, &outcome.warnings, &existing).await?;
    record_prune_verdict(ctx, &current, &verdict, confirmation, next, &started).await;
    tracing::info!(
        ?trigger,
        listed = discovery.listed.len(),
        kept = kept.len(),
        read = discovery.read,
        objects_written = writes.objects,
        statuses_written = writes.statuses,
        deleted = writes.deleted,
        "discovery pass done"
    );
    let finished = ctx.clock.now_time();
    let request = org.annotations().get(REQUESTED_AT).cloned();
    let pass = LastPass { generation, finished: finished.0, handled_request: request.clone() };
    ctx.detections.record_pass(&cache_key, Some(pass));
    if request.is_some() {
        next.last_handled_request = request;
    }
    next.conditions = discovery_pass::synced_conditions(&next.conditions, &outcome, generation, &finished);
    next.dependency_cycles = outcome.cycles.iter().map(|c| c.path.clone()).collect();
    next.repository_count = Some(i32::try_from(kept.len()).unwrap_or(i32::MAX));
    next.last_sync_time = Some(finished.clone());
    next.last_sync_generation = generation;
    next.last_sync_shard = ctx.shard.name().map(str::to_owned);
    if let Ok(budget) = github.rate_limit().await {
        let reset = Time(budget.reset);
        let rate_limit =
            RateLimitStatus { limit: budget.limit as i64, remaining: budget.remaining as i64, reset_time: Some(reset) };
        next.rate_limit = Some(rate_limit);
    }
    Ok(requeue_at(ctx, finished.0.checked_add(resync_interval(org, ctx)).unwrap_or(Timestamp::MAX)))
}

/// Says what became of the removals the pass's listing did not justify: the `PruneHeld` condition, the hold in
/// status, an Event when a hold starts, changes or ends, and the metric. `org` is the Organization as the API server
/// has it now.
async fn record_prune_verdict(
    ctx: &Context,
    org: &Organization,
    verdict: &prune_hold::Verdict,
    confirmation: Option<String>,
    next: &mut OrganizationStatus,
    now: &Time,
) {
    let generation = org.metadata.generation;
    let before = org.status.as_ref().and_then(|s| s.prune_hold.clone());
    // The condition as the current status has it: the reconcile started from a copy that may lag behind the last
    // pass, and a pass that changes nothing must not bring an older `PruneHeld` back.
    next.conditions.retain(|c| c.r#type != PRUNE_HELD);
    if let Some(current) = find_condition(org.conditions(), PRUNE_HELD) {
        next.conditions.push(current.clone());
    }
    // Written from the current status, never from a lagging copy: an older value would make a confirmation already
    // acted on count again for a later hold.
    let handled = confirmation.or_else(|| org.status.as_ref().and_then(|s| s.last_prune_confirmation.clone()));
    if handled.is_some() {
        next.last_prune_confirmation = handled;
    }
    match verdict {
        prune_hold::Verdict::Held(hold) => {
            let message =
                hold.message(&org.spec.login, org.spec.prune_hold_threshold_percent, CONFIRM_PRUNE_ANNOTATION);
            let since = before
                .as_ref()
                .filter(|b| b.repositories == hold.objects)
                .and_then(|b| b.since.clone())
                .unwrap_or_else(|| now.clone());
            let status = PruneHoldStatus {
                reason: hold.reason.as_str().to_owned(),
                repositories: hold.objects.clone(),
                known: i32::try_from(hold.known).unwrap_or(i32::MAX),
                listed: i32::try_from(hold.listed).unwrap_or(i32::MAX),
                since: Some(since),
            };
            next.prune_hold = Some(status);
            let condition = Condition::new(
                PRUNE_HELD,
                ConditionStatus::True,
                hold.reason.as_str(),
                &message,
                generation,
                now.clone(),
            );
            set_condition(&mut next.conditions, condition);
            ctx.metrics.record_prune_hold("held");
            if before.is_none_or(|b| b.repositories != hold.objects) {
                publish_event(ctx, org, None, EventType::Warning, "PruneHeld", &message, "Discover").await;
            }
        }
        prune_hold::Verdict::Confirmed { .. } | prune_hold::Verdict::Proceed => {
            next.prune_hold = None;
            let (reason, message) = match verdict {
                prune_hold::Verdict::Confirmed { objects, by_person } if !objects.is_empty() => {
                    let who = if *by_person { "a person confirmed" } else { "the next listing confirmed" };
                    ctx.metrics.record_prune_hold(if *by_person {
                        "confirmed_by_person"
                    } else {
                        "confirmed_by_listing"
                    });
                    ("Confirmed", format!("Removed {} held repositories: {who} them", objects.len()))
                }
                // Nothing was held: the condition keeps what the last change said.
                _ if before.is_none() => return,
                _ => ("ListingRecovered", "The listing holds the repositories whose removal was held".to_owned()),
            };
            publish_event(ctx, org, None, EventType::Normal, "PruneHoldReleased", &message, "Discover").await;
            let condition =
                Condition::new(PRUNE_HELD, ConditionStatus::False, reason, &message, generation, now.clone());
            set_condition(&mut next.conditions, condition);
        }
    }
}

/// The interval between passes: the configured one, stretched while the credential's budget asks background work
/// to slow down.
fn resync_interval(org: &Organization, ctx: &Context) -> Duration {
    discovery_interval(org, ctx).saturating_mul(stretch(ctx, org))
}

/// The stretch the credential's budgets ask of background intervals (1 before its first answer).
fn stretch(ctx: &Context, org: &Organization) -> u32 {
    stretch_of(&ctx.github.budget_outlook_of(&org.namespace().unwrap_or_default(), &org.name_any()))
}

/// What a pass is spent on: a pass a webhook delivery asked for is priority work; the others are background.
fn purpose_of(org: &Organization, trigger: SyncTrigger) -> Purpose {
    let by_delivery = org.annotations().get(REQUESTED_BY).is_some_and(|by| by.starts_with(GITHUB_DELIVERY_PREFIX));
    match trigger {
        SyncTrigger::Requested if by_delivery => Purpose::Webhook,
        SyncTrigger::Requested | SyncTrigger::Spec | SyncTrigger::Interval => Purpose::Resync,
    }
}

/// The Organization's own interval, else the operator's `discovery.scan_interval` (also when the text does not parse,
/// which the schema only lets code do).
fn discovery_interval(org: &Organization, ctx: &Context) -> Duration {
    let own = org.spec.discovery.interval.as_ref().and_then(|interval| interval.to_std());
    own.unwrap_or(ctx.config.discovery.scan_interval)
}

/// Opens the onboarding pull requests the plan asks for and records each in the repository's status. The branch
/// name makes opening idempotent on GitHub's side, so a crash before the record is written finds the same pull
/// request next time. A failure is told in an Event and retried on the next pass.
async fn onboard(
    ctx: &Context,
    org: &Organization,
    github: &dyn GitHub,
    statuses: &mut BTreeMap<String, discovery_pass::DiscoveredStatus>,
) {
    for wanted in onboarding::pull_requests(&org.spec.onboarding, statuses) {
        let change = PullRequestChange {
            branch: wanted.branch.clone(),
            commit_message: wanted.title.clone(),
            files: wanted
                .files
                .iter()
                .map(|(path, text)| FileChange { path: path.clone(), content: Some(text.to_string()) })
                .collect(),
            title: wanted.title.clone(),
            body: wanted.body.clone(),
            draft: false,
        };
        let repo = RepoRef::new(&org.spec.login, &wanted.repository);
        let (event_type, reason, note) = match github.open_pull_request(&repo, &change).await {
            Ok(pull) => {
                let url = pull.html_url.clone();
                if let Some(status) = statuses.get_mut(&wanted.repository) {
                    status.onboarding_pull_request =
                        Some(PullRequestReference { number: pull.number as i64, url: url.clone() });
                }
                let link = url.unwrap_or_else(|| format!("#{}", pull.number));
                (
                    EventType::Normal,
                    "OnboardingPullRequestOpened",
                    format!("Opened {link} in {repo} adding the build workflow"),
                )
            }
            Err(error) => (
                EventType::Warning,
                "OnboardingFailed",
                format!("Could not open the onboarding pull request in {repo}: {error}"),
            ),
        };
        publish_event(ctx, org, None, event_type, reason, &note, "Onboard").await;
    }
}

fn existing_repositories(objects: &[Repository]) -> Vec<ExistingRepository> {
    objects
        .iter()
        .map(|object| ExistingRepository {
            object_name: object.name_any(),
            organization: object.spec.organization_ref.name.clone(),
            github_name: object.spec.name.0.clone(),
            created_by_operator: object.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(FIELD_MANAGER),
        })
        .collect()
}

/// The manifest the ConfigMap holds now, if it exists, is ours and holds one form. One labelled for another shard
/// than its Organization's counts as missing, to be written again: this shard's watch selects its ConfigMaps by that
/// label.
async fn observe_manifest(
    ctx: &Context,
    org: &Organization,
    namespace: &str,
    name: &str,
) -> Result<Option<manifest::Stored>, Error> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(config_map) = api.get_opt(name).await? else { return Ok(None) };
    if config_map.labels().get(SHARD_LABEL) != org.labels().get(SHARD_LABEL) {
        return Ok(None);
    }
    Ok(manifest::Stored::of(&config_map))
}

/// Writes the manifest ConfigMap, owned by the Organization so that it goes when the Organization goes, with the
/// key of the other form removed.
async fn publish_manifest(
    ctx: &Context,
    org: &Organization,
    namespace: &str,
    name: &str,
    stored: &manifest::Stored,
) -> Result<(), Error> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let mut config_map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {
                MANAGED_BY_LABEL: FIELD_MANAGER,
                ORGANIZATION_LABEL: org.name_any(),
            },
            "ownerReferences": [org.controller_owner_ref(&())],
        },
    });
    match stored {
        manifest::Stored::Text(text) => config_map["data"] = serde_json::json!({ manifest::CONFIG_MAP_KEY: text }),
        manifest::Stored::Gzip(bytes) => {
            let bytes = k8s_openapi::ByteString(bytes.clone());
            config_map["binaryData"] = serde_json::json!({ manifest::CONFIG_MAP_GZIP_KEY: bytes });
        }
    }
    // Like its Repository objects, the ConfigMap follows the Organization's shard.
    if let Some(shard) = org.labels().get(SHARD_LABEL) {
        config_map["metadata"]["labels"][SHARD_LABEL] = serde_json::json!(shard);
    }
    let applied = api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&config_map)).await?;
    // Leaving a key out of the apply removes it only when no other manager shares it: a key of the other form left
    // by hand goes by a merge patch, so that the ConfigMap holds one form.
    let (left, stale) = match stored {
        manifest::Stored::Text(_) => (
            applied.binary_data.is_some_and(|data| data.contains_key(manifest::CONFIG_MAP_GZIP_KEY)),
            serde_json::json!({ "binaryData": { manifest::CONFIG_MAP_GZIP_KEY: null } }),
        ),
        manifest::Stored::Gzip(_) => (
            applied.data.is_some_and(|data| data.contains_key(manifest::CONFIG_MAP_KEY)),
            serde_json::json!({ "data": { manifest::CONFIG_MAP_KEY: null } }),
        ),
    };
    if left {
        api.patch(name, &PatchParams::default(), &Patch::Merge(&stale)).await?;
    }
    Ok(())
}

/// Reads which keys the Secret holds and which are malformed; the values go no further than this function.
async fn observe_secret(ctx: &Context, namespace: &str, name: &str) -> Result<Option<ObservedSecret>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = api.get_opt(name).await? else { return Ok(None) };
    let mut observed = ObservedSecret::default();
    let data = secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0));
    let string_data = secret.string_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes()));
    for (key, value) in data.chain(string_data) {
        if value.is_empty() {
            continue;
        }
        if !prerequisites::key_is_well_formed(&key, &value) {
            observed.malformed.insert(key.clone());
        }
        observed.keys.insert(key);
    }
    Ok(Some(observed))
}
