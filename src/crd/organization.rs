//! `Organization`: a GitHub organization whose repositories the operator discovers and keeps as Repository objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::duration::HumanDuration;
use super::reference::LocalObjectReference;

/// Desired state of an Organization: which GitHub organization to manage, how to reach it, and which of its
/// repositories to discover.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "orchestrator.infinityxone.io",
    version = "v1alpha1",
    kind = "Organization",
    plural = "organizations",
    shortname = "org",
    shortname = "orgs",
    category = "infinity",
    namespaced,
    status = "OrganizationStatus",
    doc = "A GitHub organization managed by Infinity Orchestrator: its repositories are discovered, described and kept as Repository objects.",
    printcolumn = r#"{"name":"Login","type":"string","jsonPath":".spec.login"}"#,
    printcolumn = r#"{"name":"Repositories","type":"integer","jsonPath":".status.repositoryCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Last Sync","type":"date","jsonPath":".status.lastSyncTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSpec {
    /// Login of the GitHub organization, as in https://github.com/LOGIN: 1 to 39 letters, digits or single hyphens,
    /// not starting or ending with a hyphen.
    #[schemars(length(min = 1, max = 39), regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9]|-[A-Za-z0-9])*$"))]
    pub login: String,

    /// How the operator authenticates to GitHub.
    pub credentials: GitHubCredentials,

    /// Base URL of the GitHub REST API. The default is GitHub.com; for GitHub Enterprise Server use
    /// `https://HOST/api/v3`.
    #[serde(default = "default_api_url")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s/]+(/\S*)?$"))]
    pub api_url: String,

    /// Which repositories of the organization to discover, and how often to look again.
    #[serde(default)]
    pub discovery: DiscoverySpec,

    /// Onboarding of repositories that lack a workflow the operator can dispatch.
    #[serde(default)]
    pub onboarding: OnboardingSpec,

    /// What happens to a Repository object whose GitHub repository is gone or no longer matches the filters:
    /// `Delete` removes the object, `Retain` keeps it and marks it with a `Ready=False, reason=GoneFromGitHub`
    /// condition.
    #[serde(default)]
    pub prune: PrunePolicy,

    /// Outage-safe pruning: a discovery pass whose listing of the organization is empty, or lacks more than this
    /// share (in percent) of the Organization's repositories, removes nothing (neither deletes nor marks as gone).
    /// It holds the removals, says so in a `PruneHeld` condition and an Event, and carries them out when the next
    /// listing still lacks the same repositories, or when a person sets the
    /// `orchestrator.infinityxone.io/confirm-prune` annotation to a new value. An empty listing is only ever
    /// confirmed by a person. 100 holds empty listings only.
    #[serde(default = "default_prune_hold_percent")]
    #[schemars(range(max = 100))]
    pub prune_hold_threshold_percent: u32,

    /// Stops discovery and every write to GitHub on behalf of this organization while true. Existing objects are
    /// left as they are.
    #[serde(default)]
    pub suspend: bool,
}

fn default_prune_hold_percent() -> u32 {
    25
}

fn default_api_url() -> String {
    "https://api.github.com".to_owned()
}

/// Where the operator finds its GitHub credentials.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GitHubCredentials {
    /// Kind of credential. `App` (recommended): the Secret holds `appId`, `installationId` and `privateKey` (PEM) of
    /// a GitHub App installed on the organization. `Token`: the Secret holds a `token` (a fine-grained personal access
    /// token). Either may add `webhookSecret`, the secret GitHub signs webhook deliveries with.
    pub r#type: CredentialType,
    /// The Secret, in the Organization's namespace, that holds the credential.
    pub secret_ref: LocalObjectReference,
}

/// Kind of GitHub credential.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum CredentialType {
    App,
    Token,
}

/// Which repositories to discover, and how often.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverySpec {
    /// How often the whole organization is listed again. Webhooks wake discovery sooner; an unchanged organization
    /// costs no rate-limit points thanks to conditional requests. Unset: the operator's `discovery.scan_interval`
    /// (6h unless its configuration says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// Glob patterns (`*`, `?`) of repository names to include; empty includes every repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub include: Vec<String>,
    /// Glob patterns of repository names to leave out; exclusion wins over inclusion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub exclude: Vec<String>,
    /// When set, only repositories carrying at least one of these GitHub topics are included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub topics: Vec<String>,
    /// Include archived repositories (read-only on GitHub: never built or healed).
    #[serde(default)]
    pub include_archived: bool,
    /// Include repositories that are forks.
    #[serde(default)]
    pub include_forks: bool,
    /// Which repositories by visibility: `All`, `Public`, `Private` or `Internal`.
    #[serde(default)]
    pub visibility: Visibility,
    /// How the files of new and changed repositories are read. `GraphQL` (the default): trees and head commits of
    /// many repositories per query, then their manifests and workflows, many per query, from GitHub's separate
    /// GraphQL budget (about 3 points per 100 changed repositories); REST only for what a query cannot answer (a
    /// large file, a very deep tree). `REST`: one request for each repository's branch head and tree and one per
    /// file (3 or more points per repository). Either way the organization is listed by REST, which costs nothing
    /// when unchanged, and a repository the listing shows unpushed since its last reading is not read again.
    #[serde(default)]
    pub reads: DiscoveryReads,
}

/// How discovery reads repositories' files.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum DiscoveryReads {
    #[default]
    GraphQL,
    #[serde(rename = "REST")]
    Rest,
}

/// Repository visibility filter.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum Visibility {
    #[default]
    All,
    Public,
    Private,
    Internal,
}

/// Onboarding of repositories without a dispatchable workflow.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingSpec {
    /// Open one pull request per repository that has no workflow accepting `workflow_dispatch`, adding the
    /// orchestrator's build workflow. Off by default: the operator writes nothing to repositories unless asked.
    #[serde(default)]
    pub enabled: bool,
    /// Path of the workflow file the onboarding pull request adds.
    #[serde(default = "default_workflow_path")]
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^\.github/workflows/[A-Za-z0-9._-]+\.ya?ml$"))]
    pub workflow_path: String,
}

impl Default for OnboardingSpec {
    fn default() -> Self {
        OnboardingSpec { enabled: false, workflow_path: default_workflow_path() }
    }
}

fn default_workflow_path() -> String {
    ".github/workflows/infinity-orchestrator.yml".to_owned()
}

/// What happens to Repository objects whose GitHub repository went away.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum PrunePolicy {
    #[default]
    Delete,
    Retain,
}

/// Observed state of an Organization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (reason `Synced` once discovery completed), `Reconciling` (a pass for a spec not discovered yet goes on
    /// or is retried), `Stalled` (the spec or its Secret needs a change) and
    /// `Degraded` (discovery completed with warnings: a dependency cycle, repositories that could not be read);
    /// `ManifestTooLarge` while the repository manifest does not fit its ConfigMap even gzipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Number of repositories discovered that pass the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_count: Option<i32>,
    /// When discovery last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// The `metadata.generation` the last completed discovery ran for; a newer generation is discovered at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_generation: Option<i64>,
    /// The operator shard (`--shard`) that completed the last discovery; absent when it ran unsharded. Moved to
    /// another shard (its `orchestrator.infinityxone.io/shard` label changed), the Organization is discovered again
    /// there, which moves its Repository objects along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_shard: Option<String>,
    /// The value of the `orchestrator.infinityxone.io/requested-at` annotation the last completed discovery
    /// answered. Setting the annotation to any new value (webhooks do, and so can a person) asks for a pass now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_request: Option<String>,
    /// The GitHub primary rate-limit budget of this organization's credential, as last reported by GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitStatus>,
    /// What each of the credential's GitHub budgets (REST `core`, `graphql`) is being spent on, and whether
    /// background work (resyncs, health reads) is slowed down to keep within its share; the `BudgetConstrained`
    /// condition tells when it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<BudgetStatus>,
    /// Cycles found in the cross-repository dependency graph, each as the repository names along the cycle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependency_cycles: Vec<Vec<String>>,
    /// Name of the ConfigMap holding the repository manifest, in exactly one of three forms that keep it under the
    /// 1 MiB a ConfigMap holds: pretty-printed JSON under `data["repositories.json"]` up to 768 KiB, JSON without
    /// whitespace under the same key while that fits, else that JSON gzipped under
    /// `binaryData["repositories.json.gz"]`. A manifest too large even gzipped is not stored: the ConfigMap keeps
    /// the last one that fitted, and the `ManifestTooLarge` condition says so with its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_config_map: Option<String>,
    /// Removals the last discovery pass held because the listing looked wrong (see `spec.pruneHoldThresholdPercent`);
    /// absent when nothing is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_hold: Option<PruneHoldStatus>,
    /// The value of the `orchestrator.infinityxone.io/confirm-prune` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prune_confirmation: Option<String>,
}

/// Removals held by discovery.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PruneHoldStatus {
    /// `ListingEmpty` (GitHub listed no repository) or `ListingShrank` (the listing lacked more than the threshold).
    pub reason: String,
    /// Names of the Repository objects whose deletion or `GoneFromGitHub` mark is held.
    pub repositories: Vec<String>,
    /// How many Repository objects the Organization had when the removals were first held.
    pub known: i32,
    /// How many repositories the listing held.
    pub listed: i32,
    /// When the removals were first held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
}

/// One GitHub budget of the Organization's credential, as the operator spends it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    /// Which budget, as GitHub's `x-ratelimit-resource` names it: `core` (REST) or `graphql`.
    pub resource: String,
    /// Points allowed per window.
    pub limit: i64,
    /// Points left in the current window, as GitHub last reported.
    pub remaining: i64,
    /// When the window resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<Time>,
    /// Points this operator spent in the last hour, by purpose: `webhook`, `dispatch`, `healing` (priority work),
    /// `resync`, `health` (background work).
    #[serde(default)]
    pub used_last_hour_by_purpose: BTreeMap<String, i64>,
    /// Points an hour background work would spend at its configured intervals, from its recent rate.
    pub projected_per_hour: i64,
    /// The share of the limit background work may spend, in percent (the operator's
    /// `budget.background_share_percent`).
    pub share_percent: i32,
    /// The factor resync and health-read intervals are multiplied by to keep within the share; 1 when they are not
    /// slowed down.
    pub stretch: i32,
}

/// A snapshot of GitHub's primary rate limit for one credential.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitStatus {
    /// Requests allowed per hour.
    pub limit: i64,
    /// Requests left in the current hour.
    pub remaining: i64,
    /// When the budget is refilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_time: Option<Time>,
}
