//! `HealingPolicy`: thresholds past which the operator repairs repositories, and the audit trail of what it did.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::duration::HumanDuration;
use super::reference::{LocalObjectReference, RepositorySelector};

/// Desired state of a HealingPolicy: which repositories it watches, when it acts, and what it may do.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "orchestrator.infinityxone.io",
    version = "v1alpha1",
    kind = "HealingPolicy",
    plural = "healingpolicies",
    shortname = "hp",
    category = "infinity",
    namespaced,
    status = "HealingPolicyStatus",
    doc = "Self-healing for the selected repositories: re-runs, deduplicated issues, dependency-update, config-repair and rollback pull requests, within bounds and audited.",
    printcolumn = r#"{"name":"Organization","type":"string","jsonPath":".spec.organizationRef.name"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Repositories","type":"integer","jsonPath":".status.matchedRepositories"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Last Evaluated","type":"date","jsonPath":".status.lastEvaluated"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HealingPolicySpec {
    /// The Organization whose repositories this policy heals, in the same namespace.
    pub organization_ref: LocalObjectReference,

    /// Which of the organization's Repository objects the policy applies to; all of them when empty.
    #[serde(default)]
    pub selector: RepositorySelector,

    /// When a repository counts as unhealthy.
    #[serde(default)]
    pub thresholds: HealingThresholds,

    /// What the policy may do about an unhealthy repository, each with its bounds.
    #[serde(default)]
    pub actions: HealingActions,

    /// The escalation ladder a failing repository climbs, per problem past the thresholds: each rung is tried only
    /// when the one below did not heal the repository within its window, and a healed repository drops back to the
    /// bottom. Default: `Rerun` (30m), `Issue` (4h), `FixPullRequest` (24h), `RollbackPullRequest`.
    #[serde(default)]
    pub escalation: Escalation,

    /// The kinds of pull requests the policy opened that it also merges, once they may be merged: through GitHub's
    /// auto-merge when the repository allows it, else itself once every required status check (branch protection
    /// and rulesets) and every other check on the head commit passed. Never a draft, never past branch protection.
    /// Empty (the default): nothing is merged. `Rollback` pull requests merge only when listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    // A set of an enum's values: at most the three, each once.
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub auto_merge: Vec<AutoMergeAction>,

    /// Security features the policy turns on in the selected repositories where GitHub reports them off, once per
    /// repository and feature, audited like every action (and only recorded in `DryRun`). All off by default.
    #[serde(default)]
    pub enable_security_features: SecurityFeatures,

    /// Least time between two actions of the same kind on the same repository.
    #[serde(default = "default_cooldown")]
    pub cooldown: HumanDuration,

    /// Most actions (of all kinds) per repository per hour; further decisions wait.
    #[serde(default = "default_max_actions_per_hour")]
    #[schemars(range(min = 1, max = 100))]
    pub max_actions_per_repository_per_hour: i32,

    /// `Enforce` acts on GitHub. `DryRun` (the default) decides the same and records the decisions in status and
    /// Events, sending nothing to GitHub.
    #[serde(default)]
    pub mode: HealingMode,

    /// While true, the policy neither evaluates nor acts.
    #[serde(default)]
    pub suspend: bool,

    /// How often the selected repositories are evaluated when nothing wakes the policy; a Repository's health
    /// changing (after a `workflow_run` webhook, or its own polling) wakes it at once.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
}

fn default_interval() -> HumanDuration {
    HumanDuration::from("5m")
}

fn default_cooldown() -> HumanDuration {
    HumanDuration::from("30m")
}
fn default_max_actions_per_hour() -> i32 {
    5
}

/// The escalation ladder: its rungs, bottom first.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// The rungs, bottom first, each action at most once. A rung whose action is turned off in `actions`, that is
    /// not listed, or that has nothing to do for the repository is passed over. The actions of the rungs below the
    /// current one stay allowed (the issue is commented on while a pull request is tried).
    #[serde(default = "default_rungs")]
    #[schemars(length(min = 1, max = 4))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["action"]))]
    pub rungs: Vec<EscalationRung>,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation { rungs: default_rungs() }
    }
}

fn default_rungs() -> Vec<EscalationRung> {
    [
        EscalationAction::Rerun,
        EscalationAction::Issue,
        EscalationAction::FixPullRequest,
        EscalationAction::RollbackPullRequest,
    ]
    .into_iter()
    .map(|action| EscalationRung { action, window: None })
    .collect()
}

/// One rung of the escalation ladder.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EscalationRung {
    /// What this rung does: `Rerun` (re-run the failed jobs), `Issue` (open one issue per problem),
    /// `FixPullRequest` (a config-repair pull request when the orchestrator workflow is broken, a dependency-update
    /// pull request when Dependabot alerts apply) or `RollbackPullRequest` (revert the commit that turned the
    /// default branch red).
    pub action: EscalationAction,
    /// How long this rung has to heal the repository before the next one is tried. Unset: `Rerun` 30m, `Issue` 4h,
    /// `FixPullRequest` 24h, `RollbackPullRequest` 24h (the top rung's window only matters when rungs are
    /// reordered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
}

impl EscalationRung {
    /// The window, or the action's default when unset or not parseable.
    pub fn window(&self) -> std::time::Duration {
        self.window.as_ref().and_then(HumanDuration::to_std).unwrap_or_else(|| self.action.default_window())
    }
}

/// What a rung of the escalation ladder does.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EscalationAction {
    /// Re-run the failed jobs (`actions.rerun`).
    Rerun,
    /// Open an issue per problem, comment when it gets worse (`actions.issue`).
    Issue,
    /// A pull request that fixes the cause: config repair (`actions.configRepair`) or dependency update
    /// (`actions.dependencyUpdate`).
    FixPullRequest,
    /// A pull request reverting the commit that turned the branch red (`actions.rollback`).
    RollbackPullRequest,
}

impl EscalationAction {
    /// The name status and Events use.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationAction::Rerun => "Rerun",
            EscalationAction::Issue => "Issue",
            EscalationAction::FixPullRequest => "FixPullRequest",
            EscalationAction::RollbackPullRequest => "RollbackPullRequest",
        }
    }

    /// The window of a rung that names none: long enough for what the rung does to show (re-runs and their
    /// backoff; a person answering an issue; a pull request reviewed and merged).
    pub fn default_window(self) -> std::time::Duration {
        let hours = |h: u64| std::time::Duration::from_secs(h * 3600);
        match self {
            EscalationAction::Rerun => std::time::Duration::from_secs(30 * 60),
            EscalationAction::Issue => hours(4),
            EscalationAction::FixPullRequest | EscalationAction::RollbackPullRequest => hours(24),
        }
    }
}

/// A kind of pull request the policy opens that `autoMerge` may list.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AutoMergeAction {
    /// Dependency-update pull requests (`actions.dependencyUpdate`).
    DependencyUpdate,
    /// Config-repair pull requests (`actions.configRepair`).
    ConfigRepair,
    /// Rollback pull requests (`actions.rollback`).
    Rollback,
}

impl AutoMergeAction {
    /// The name `PolicyPullRequest.action` records.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoMergeAction::DependencyUpdate => "DependencyUpdate",
            AutoMergeAction::ConfigRepair => "ConfigRepair",
            AutoMergeAction::Rollback => "Rollback",
        }
    }
}

/// Whether decisions are carried out.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum HealingMode {
    /// Carry the decisions out on GitHub.
    Enforce,
    /// Record the decisions in status and Events only.
    #[default]
    DryRun,
}

/// When a repository counts as unhealthy. Either threshold suffices.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealingThresholds {
    /// Failed default-branch runs in a row.
    #[serde(default = "default_consecutive_failures")]
    #[schemars(range(min = 1, max = 100))]
    pub consecutive_failures: i32,
    /// Lowest acceptable success rate, in percent, over the last `windowRuns` runs; unset disables this threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub min_success_rate_percent: Option<i32>,
    /// How many recent default-branch runs the success rate is computed over.
    #[serde(default = "default_window_runs")]
    #[schemars(range(min = 1, max = 100))]
    pub window_runs: i32,
}

impl Default for HealingThresholds {
    fn default() -> Self {
        HealingThresholds {
            consecutive_failures: default_consecutive_failures(),
            min_success_rate_percent: None,
            window_runs: default_window_runs(),
        }
    }
}

fn default_consecutive_failures() -> i32 {
    3
}
fn default_window_runs() -> i32 {
    20
}

/// The actions a policy may take. Each is off unless enabled, except `issue`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealingActions {
    /// Re-run the failed jobs of the latest failed run.
    #[serde(default)]
    pub rerun: RerunAction,
    /// Open one issue per repository and problem, comment when it gets worse, close it when healthy again.
    #[serde(default)]
    pub issue: IssueAction,
    /// Open a pull request raising a dependency with a Dependabot alert to its first patched version.
    #[serde(default)]
    pub dependency_update: DependencyUpdateAction,
    /// Restore a missing or broken orchestrator workflow by pull request.
    #[serde(default)]
    pub config_repair: ConfigRepairAction,
    /// Open a pull request reverting the commit that turned the default branch red.
    #[serde(default)]
    pub rollback: RollbackAction,
}

/// Bounds of the rerun action.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RerunAction {
    /// Whether failed jobs are re-run.
    #[serde(default)]
    pub enabled: bool,
    /// Most re-runs of the same commit.
    #[serde(default = "default_max_reruns")]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts_per_sha: i32,
    /// Wait before the first re-run; doubled for each further one.
    #[serde(default = "default_rerun_backoff")]
    pub backoff: HumanDuration,
}

impl Default for RerunAction {
    fn default() -> Self {
        RerunAction { enabled: false, max_attempts_per_sha: default_max_reruns(), backoff: default_rerun_backoff() }
    }
}

fn default_max_reruns() -> i32 {
    2
}
fn default_rerun_backoff() -> HumanDuration {
    HumanDuration::from("1m")
}

/// Bounds of the issue action.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssueAction {
    /// Whether issues are opened. On by default: an issue is the least intrusive repair.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Labels put on the issues the policy opens.
    #[serde(default = "default_issue_labels")]
    pub labels: Vec<String>,
}

impl Default for IssueAction {
    fn default() -> Self {
        IssueAction { enabled: true, labels: default_issue_labels() }
    }
}

fn enabled_by_default() -> bool {
    true
}
fn default_issue_labels() -> Vec<String> {
    vec!["infinity-orchestrator".to_owned()]
}

/// Bounds of the dependency-update action.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DependencyUpdateAction {
    /// Whether dependency-update pull requests are opened.
    #[serde(default)]
    pub enabled: bool,
    /// Lowest alert severity acted on: `low`, `medium`, `high` or `critical`.
    #[serde(default)]
    pub min_severity: AlertSeverity,
    /// Most dependency-update pull requests the policy keeps open per repository.
    #[serde(default = "default_max_open_pull_requests")]
    #[schemars(range(min = 1, max = 20))]
    pub max_open_pull_requests: i32,
}

impl Default for DependencyUpdateAction {
    fn default() -> Self {
        DependencyUpdateAction {
            enabled: false,
            min_severity: AlertSeverity::default(),
            max_open_pull_requests: default_max_open_pull_requests(),
        }
    }
}

fn default_max_open_pull_requests() -> i32 {
    3
}

/// Severity of a security alert.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// `low`.
    Low,
    /// `medium` (GitHub also says `moderate`).
    Medium,
    /// `high`.
    #[default]
    High,
    /// `critical`.
    Critical,
}

/// Bounds of the config-repair action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRepairAction {
    /// Whether a missing or broken orchestrator workflow is restored by pull request.
    #[serde(default)]
    pub enabled: bool,
}

/// Bounds of the rollback action.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollbackAction {
    /// Whether revert pull requests are opened.
    #[serde(default)]
    pub enabled: bool,
    /// Failed runs in a row, since the commit that turned the branch red, before a revert is proposed.
    #[serde(default = "default_rollback_after")]
    #[schemars(range(min = 1, max = 100))]
    pub after_consecutive_failures: i32,
}

impl Default for RollbackAction {
    fn default() -> Self {
        RollbackAction { enabled: false, after_consecutive_failures: default_rollback_after() }
    }
}

fn default_rollback_after() -> i32 {
    5
}

/// Security features a policy turns on where they are off. Turning them on needs the GitHub App's repository
/// `administration: write` permission.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityFeatures {
    /// Dependabot alerts (and the dependency graph), through `PUT /repos/{owner}/{repo}/vulnerability-alerts`.
    #[serde(default)]
    pub dependabot_alerts: bool,
    /// Dependabot security updates, through `PUT /repos/{owner}/{repo}/automated-security-fixes`. GitHub needs
    /// Dependabot alerts on first: with `dependabotAlerts` both are turned on, without it only where alerts are on.
    #[serde(default)]
    pub dependabot_security_updates: bool,
    /// Secret scanning, through the repository's `security_and_analysis`: where the plan allows it, that is on
    /// public repositories, and on private or internal ones with GitHub Advanced Security (or Secret Protection)
    /// enabled. Elsewhere the decision is held back with the reason instead of being sent.
    #[serde(default)]
    pub secret_scanning: bool,
}

impl SecurityFeatures {
    /// Whether any feature is asked for.
    pub fn any(&self) -> bool {
        self.dependabot_alerts || self.dependabot_security_updates || self.secret_scanning
    }
}

/// Observed state of a HealingPolicy.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealingPolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the policy is evaluated), `Reconciling` (its first evaluation waits for the Organization's
    /// credentials), `Stalled` (the spec needs a change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Repositories the selector matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_repositories: Option<i32>,
    /// When the policy was last evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluated: Option<Time>,
    /// The most recent actions, newest first, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub actions: Vec<AuditedAction>,
    /// Issues the policy opened that are still open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_issues: Vec<OpenIssue>,
    /// Pull requests the policy opened (dependency updates, config repairs, rollbacks), newest first, at most 100:
    /// with the branch names, they keep the policy from proposing the same change twice, even once merged or closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub pull_requests: Vec<PolicyPullRequest>,
    /// Where each failing repository stands on the escalation ladder, per problem: the current rung, when it was
    /// reached and when the climb began. A repository drops off once healthy again. At most 500, the highest rungs
    /// kept (one dropped starts again at the bottom).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500))]
    pub escalations: Vec<EscalationState>,
    /// Decisions held back by a cooldown, the per-hour cap or a bound, from the last evaluation, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub withheld: Vec<WithheldDecision>,
}

/// Where one repository stands on the escalation ladder for one problem.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EscalationState {
    /// GitHub name of the repository.
    pub repository: String,
    /// The problem past the thresholds, such as `ConsecutiveFailures`.
    pub problem: String,
    /// The current rung: `Rerun`, `Issue`, `FixPullRequest` or `RollbackPullRequest`.
    pub rung: EscalationAction,
    /// When the current rung was reached; the next is tried once its window has passed.
    pub reached_at: Time,
    /// When the problem was first seen past the thresholds (the ladder's start).
    pub since: Time,
}

/// A pull request the policy opened.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPullRequest {
    /// GitHub name of the repository.
    pub repository: String,
    /// `DependencyUpdate`, `ConfigRepair` or `Rollback`.
    pub action: String,
    /// Its head branch, under `infinity-orchestrator/`.
    pub branch: String,
    /// The pull request number.
    pub number: i64,
    /// Its page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For a dependency update whose manifest has a lockfile beside it: the lockfile the lockfile-update workflow
    /// brings in line on the pull request's branch. The pull request is a draft until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<PullRequestLockfile>,
}

/// The lockfile a dependency-update pull request waits for.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestLockfile {
    /// Path of the lockfile, beside the manifest.
    pub path: String,
    /// Path of the manifest the pull request edits.
    pub manifest: String,
    /// The workflow's `ecosystem` input: `npm`, `pnpm`, `yarn`, `cargo`, `go` or `poetry`.
    pub ecosystem: String,
    /// The package raised.
    pub package: String,
    /// The version it was raised to; the lockfile must lock it (or later).
    pub version: String,
    /// `AwaitingDispatch` (the workflow is not dispatched yet, see `message`), `Dispatched` (its run is awaited),
    /// `Ready` (the lockfile is consistent and the pull request was marked ready for review), `Failed` (the
    /// workflow ran and the lockfile is still behind: a person decides) or `Closed` (the pull request was closed
    /// first). Every state but `Ready` keeps the pull request a draft.
    pub state: String,
    /// When the operator last dispatched the lockfile-update workflow for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched_at: Option<Time>,
    /// The workflow run, when GitHub named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// What it waits for, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

/// A decision the policy made but did not carry out yet.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WithheldDecision {
    /// GitHub name of the repository.
    pub repository: String,
    /// The kind of action, as in `actions[].action`.
    pub action: String,
    /// Why it waits.
    pub reason: String,
    /// When it may go; unset when only a change on GitHub will let it (a bound was reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Time>,
}

/// One healing decision, carried out or (in `DryRun`) only recorded.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditedAction {
    /// When it was decided.
    pub time: Time,
    /// GitHub name of the repository.
    pub repository: String,
    /// `Rerun`, `OpenIssue`, `CommentIssue`, `CloseIssue`, `DependencyUpdate`, `ConfigRepair`, `Rollback`,
    /// `ClosePullRequest` (a rollback no longer needed once healed), or, for a pull request `autoMerge` lists, `MergePullRequest` or `EnableAutoMerge`; for `enableSecurityFeatures`,
    /// `EnableDependabotAlerts`, `EnableDependabotSecurityUpdates` or `EnableSecretScanning`.
    pub action: String,
    /// Why the policy acted.
    pub reason: String,
    /// `Enforced` when sent to GitHub, `DryRun` when only recorded, `Failed` when GitHub refused it; `Refused` when
    /// GitHub answered that the repository's plan or settings do not allow a security feature (not tried again for a
    /// day).
    pub outcome: String,
    /// The run, issue or pull request the action produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// An issue the policy opened and keeps.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OpenIssue {
    /// GitHub name of the repository.
    pub repository: String,
    /// The problem the issue is about, such as `ConsecutiveFailures`.
    pub problem: String,
    /// The issue number.
    pub number: i64,
    /// The issue's page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
