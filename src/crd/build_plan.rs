//! `BuildPlan`: build many repositories of an organization in dependency order through GitHub Actions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::reference::{LocalObjectReference, RepositorySelector};

/// Desired state of a BuildPlan: which repositories to build, and how.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "orchestrator.infinityxone.io",
    version = "v1alpha1",
    kind = "BuildPlan",
    plural = "buildplans",
    shortname = "bp",
    category = "infinity",
    namespaced,
    status = "BuildPlanStatus",
    doc = "Builds a set of repositories in dependency order through GitHub Actions workflow_dispatch, in parallel up to a limit, with timeouts and retries.",
    printcolumn = r#"{"name":"Organization","type":"string","jsonPath":".spec.organizationRef.name"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Progress","type":"string","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","priority":1,"jsonPath":".status.counts.failed"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","priority":1,"jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BuildPlanSpec {
    /// The Organization whose repositories are built, in the same namespace.
    pub organization_ref: LocalObjectReference,

    /// Which of the organization's Repository objects to build; all of them when empty. Dependencies outside the
    /// selection are not built, and do not hold back the selected repositories.
    #[serde(default)]
    pub selector: RepositorySelector,

    /// Git ref (branch or tag) to build in every repository; each repository's own `spec.build.ref`, else its
    /// default branch, when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub r#ref: Option<String>,

    /// Most workflow runs in flight at once across the plan. Unset: the operator's `build.max_parallel` (10 unless
    /// its configuration says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 256))]
    pub max_parallel: Option<i32>,

    /// Minutes a repository's run may take before it is cancelled and counted as a failed attempt. Unset: the
    /// operator's `build.timeout_minutes` (60 unless configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4320))]
    pub timeout_minutes: Option<i32>,

    /// Further attempts after a failed or timed-out run, with exponential backoff between them; 0 means no retry.
    /// Unset: the operator's `build.retry_attempts` (3 unless configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub retry_attempts: Option<i32>,

    /// What a failure does to the rest of the plan. `SkipDependents`: the repositories that depend on the failed one,
    /// directly or not, are skipped and everything else goes on. `Stop`: nothing new starts; runs in flight finish.
    /// `Continue`: dependents are built anyway.
    #[serde(default)]
    pub failure_policy: FailurePolicy,

    /// Build caching: skip a repository whose head commit already has a successful run of its build workflow, unless
    /// one of its dependencies is rebuilt by this plan.
    #[serde(default)]
    pub only_changed: bool,

    /// A cron expression (five fields, UTC) on which the plan starts a fresh run. Without it the plan runs once per
    /// change of its spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 9, max = 128),
        regex(pattern = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+\s+\S+\s+\S+\s+\S+\s+\S+)$")
    )]
    pub schedule: Option<String>,

    /// How many past runs of a scheduled plan are kept in `status.history`.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 0, max = 100))]
    pub history_limit: i32,

    /// While true, nothing new is dispatched and runs in flight are cancelled; clearing it resumes the plan.
    #[serde(default)]
    pub suspend: bool,
}

fn default_history_limit() -> i32 {
    10
}

/// What a failed repository does to the rest of a BuildPlan.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum FailurePolicy {
    #[default]
    SkipDependents,
    Stop,
    Continue,
}

/// Observed state of a BuildPlan.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildPlanStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the run finished successfully), `Reconciling` (builds in flight), `Stalled` (the plan is invalid, for
    /// example a dependency cycle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Where the current run is: `Pending`, `Running`, `Succeeded`, `Failed` or `Cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BuildPlanPhase>,
    /// Repositories in a terminal state over repositories in the plan, as `done/total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Repositories by state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<BuildCounts>,
    /// Identifies the current run; part of every correlation id it dispatches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Digest of the spec the current run follows, without `suspend` and `historyLimit`. Without a `schedule`, a spec
    /// whose digest differs starts a fresh run (the runs in flight of the old one are cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_digest: Option<String>,
    /// When the current run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the current run reached a terminal phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// One entry per repository in the current run, in schedule order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub repositories: Vec<RepositoryBuild>,
    /// When a scheduled plan last started a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// Past runs, newest first, at most `spec.historyLimit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<BuildPlanRunSummary>,
}

/// Phase of a BuildPlan's current run.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum BuildPlanPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// Counts of repositories by state.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildCounts {
    /// Repositories in the plan.
    pub total: i32,
    /// Waiting for dependencies or a free slot.
    pub pending: i32,
    /// Dispatched and not finished.
    pub running: i32,
    /// Built successfully, or already built (`onlyChanged`).
    pub succeeded: i32,
    /// Failed after every attempt.
    pub failed: i32,
    /// Not built because of a failure elsewhere, a stop, or cancellation.
    pub skipped: i32,
}

/// The state of one repository in a BuildPlan run.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryBuild {
    /// GitHub name of the repository.
    pub name: String,
    /// `Pending`, `Dispatching` (intent recorded, dispatch under way), `Queued`, `Running`, `Succeeded`, `Cached`
    /// (already built), `Failed`, `Skipped` or `Cancelled`.
    pub state: RepositoryBuildState,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: i32,
    /// The correlation id of the latest attempt, sent as a `workflow_dispatch` input to find its run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The build command the latest attempt's dispatch sent as the workflow's `build_command` input: the
    /// Repository's `spec.build.inputs.build_command` when set, else its `spec.build.command`, else the detected
    /// command. Absent when the workflow does not declare that input or there is no command; the workflow then
    /// runs what is written into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    /// The test command the latest attempt's dispatch sent as the workflow's `test_command` input, chosen like
    /// `buildCommand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
    /// The GitHub Actions run of the latest attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// The run's page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The commit the run built; for a Cached repository, the commit that already had a successful build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// How the latest attempt's run ended on GitHub: `success`, `failure`, `cancelled`, `timed_out`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// Seconds the latest attempt's run took on GitHub, from its creation to its completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// When the latest attempt was dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the repository reached its terminal state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Why the repository is in its state, for skips and failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// State of one repository in a BuildPlan run.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum RepositoryBuildState {
    Pending,
    Dispatching,
    Queued,
    Running,
    Succeeded,
    Cached,
    Failed,
    Skipped,
    Cancelled,
}

impl RepositoryBuildState {
    /// Every state, in the order a repository moves through them.
    pub const ALL: [RepositoryBuildState; 9] = [
        Self::Pending,
        Self::Dispatching,
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Cached,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
    ];

    /// The state's name, as in the object.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Dispatching => "Dispatching",
            Self::Queued => "Queued",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Cached => "Cached",
            Self::Failed => "Failed",
            Self::Skipped => "Skipped",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// A finished run of a scheduled BuildPlan.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildPlanRunSummary {
    /// The run's id.
    pub run_id: String,
    /// How it ended.
    pub phase: BuildPlanPhase,
    /// When it started.
    pub start_time: Time,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Repositories by state at the end.
    pub counts: BuildCounts,
}
