//! `Repository`: one GitHub repository of an Organization, with what was detected about it and how it is doing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::reference::{GitHubRepositoryName, LocalObjectReference};

/// Desired state of a Repository. The operator creates one per discovered GitHub repository; users may also write
/// one by hand (it is adopted, not duplicated) to override what detection found.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "orchestrator.infinityxone.io",
    version = "v1alpha1",
    kind = "Repository",
    plural = "repositories",
    shortname = "repo",
    shortname = "repos",
    category = "infinity",
    namespaced,
    status = "RepositoryStatus",
    doc = "A GitHub repository of an Organization: detected language, build and test commands, dependencies, health and security posture.",
    printcolumn = r#"{"name":"GitHub","type":"string","jsonPath":".spec.name"}"#,
    printcolumn = r#"{"name":"Language","type":"string","jsonPath":".status.language"}"#,
    printcolumn = r#"{"name":"Build","type":"string","priority":1,"jsonPath":".status.buildCommand"}"#,
    printcolumn = r#"{"name":"Health","type":"integer","description":"Health score, 0 to 100","jsonPath":".status.health.score"}"#,
    printcolumn = r#"{"name":"Healthy","type":"string","jsonPath":".status.conditions[?(@.type==\"Healthy\")].status"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RepositorySpec {
    /// The Organization this repository belongs to, in the same namespace.
    pub organization_ref: LocalObjectReference,

    /// Name of the repository on GitHub, without the organization: `api-gateway` for `my-org/api-gateway`.
    pub name: GitHubRepositoryName,

    /// How to build the repository. Every field set here wins over what the operator detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildOverrides>,

    /// How to test the repository. Every field set here wins over what the operator detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestOverrides>,

    /// GitHub names of repositories of the same organization that this one depends on, added to the edges found in
    /// its manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<GitHubRepositoryName>,

    /// Stops builds, health polling and healing of this repository while true.
    #[serde(default)]
    pub suspend: bool,
}

/// Build settings that override detection.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildOverrides {
    /// The workflow BuildPlans dispatch: a file name under `.github/workflows/` (such as `build.yml`) or a numeric
    /// workflow id. It must accept `workflow_dispatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^([0-9]+|[A-Za-z0-9._-]+\.ya?ml)$"))]
    pub workflow: Option<String>,
    /// Git ref to build (a branch or tag); the default branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub r#ref: Option<String>,
    /// Extra `workflow_dispatch` inputs, sent as written (the workflow must declare each: GitHub refuses others).
    /// One named `build_command` or `test_command` replaces the command the operator would send in it. GitHub
    /// accepts at most 10 inputs per dispatch, one of which the operator uses for its correlation id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(length(max = 9))]
    pub inputs: BTreeMap<String, String>,
    /// The build command: sent as the workflow's `build_command` input when it declares one, written into the
    /// operator's workflow for runs started by a push (by the onboarding or a config-repair pull request), and
    /// shown in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub command: Option<String>,
}

/// Test settings that override detection.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TestOverrides {
    /// The test command: sent as the workflow's `test_command` input when it declares one, written into the
    /// operator's workflow for runs started by a push (by the onboarding or a config-repair pull request), and
    /// shown in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub command: Option<String>,
}

/// Observed state of a Repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (discovered and described), `Discovered` (the GitHub repository exists and passes the filters; false
    /// with reason `GoneFromGitHub` once not), `Healthy` (recent runs pass), `DetectionWarning` (a manifest could
    /// not be read), `Reconciling` (waiting for discovery to describe it), `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// `owner/name` on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The repository's page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    /// Main language, lower case, as the manifest names it: `rust`, `javascript`, `go`, `python`, `java`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Build systems found at the head of the default branch, such as `cargo`, `npm`, `gradle`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_systems: Vec<String>,
    /// The build command in effect: the spec's override, else the detected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    /// The test command in effect: the spec's override, else the detected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
    /// The workflow BuildPlans dispatch, when the repository has one that accepts `workflow_dispatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_workflow: Option<String>,
    /// The `workflow_dispatch` inputs `buildWorkflow` declares, as discovery read them from its file at the head of
    /// the default branch. A dispatch sends only declared inputs (GitHub refuses others with 422): the correlation
    /// id, and the build and test commands, go only to a workflow that declares them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_workflow_inputs: Vec<String>,
    /// Set when discovery could not read `buildWorkflow`'s file (the files could not be read, or the spec names a
    /// workflow not among the dispatchable ones it found): `buildWorkflowInputs` is then unknown rather than empty,
    /// and a dispatch sends the correlation id anyway (GitHub answers 422 if the workflow does not take it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub build_workflow_unread: bool,
    /// Whether the operator's workflow (`infinity-orchestrator.yml`) at the head of the default branch holds other
    /// build and test commands than the ones in effect, which it runs on push; a HealingPolicy with `configRepair`
    /// proposes the update.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub workflow_commands_outdated: bool,
    /// GitHub topics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Whether the repository is archived on GitHub.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// The default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// Commit at the head of the default branch when last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Repositories of the organization this one depends on, each with the evidence found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["repository"]))]
    pub dependencies: Vec<RepositoryDependency>,
    /// Build and test health from recent default-branch runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// Open security alerts by kind and severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityStatus>,
    /// When the operator last read this repository's health and security from GitHub and found a change;
    /// refreshed at least hourly while reads succeed, so an old value means the reads are failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// The pull request onboarding opened to add the orchestrator's workflow; once recorded, onboarding never
    /// opens another for this repository, even if this one is closed unmerged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding_pull_request: Option<PullRequestReference>,
}

/// A pull request the operator opened.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestReference {
    /// Its number in the repository.
    pub number: i64,
    /// Its page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An edge of the dependency graph: this repository depends on `repository`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryDependency {
    /// GitHub name of the repository depended on.
    pub repository: String,
    /// Where the dependency was found. Empty for edges declared in `spec.dependsOn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<DependencyEvidence>,
}

/// One place a dependency was found.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DependencyEvidence {
    /// Path of the manifest, such as `Cargo.toml` or `web/package.json`.
    pub file: String,
    /// The dependency as the manifest names it: a crate, package, module path or `group:artifact`.
    pub dependency: String,
}

/// Health computed from a window of recent default-branch runs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Overall health, 0 (failing) to 100 (healthy).
    #[schemars(range(min = 0, max = 100))]
    pub score: i32,
    /// Runs in the window.
    pub window_runs: i32,
    /// Share of successful runs in the window, in percent.
    #[schemars(range(min = 0, max = 100))]
    pub success_rate_percent: i32,
    /// Failed runs since the last success (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_failures: i32,
    /// Median run duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_duration_seconds: Option<i64>,
    /// 90th-percentile run duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_duration_seconds: Option<i64>,
    /// How the median duration of the newer half of the window compares to the older half: `Faster`, `Stable`,
    /// `Slower`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_trend: Option<String>,
    /// Whether some commit failed and then passed without a change (a flaky build or test); absent when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Share of the failed runs in the window judged flaky, in percent (re-run attempts count one each): a failure
    /// is flaky when its commit passed the same workflow afterwards, or, while that workflow has failed fewer than 3
    /// times in a row, when the commit passed it before or its outcome changed at least 3 times among its newest 10
    /// runs. Absent when no failure is flaky.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0, max = 100))]
    pub flaky_rate_percent: i32,
    /// The workflows with flaky failures in the window, most flaky failures first (then highest share, then
    /// name); at most 5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub flakiest_workflows: Vec<FlakyWorkflow>,
    /// The most recent completed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunReference>,
    /// When a run last succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<Time>,
    /// When a run last failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
}

/// A workflow with flaky failures in the health window.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlakyWorkflow {
    /// The workflow's name (its file when GitHub gave no name).
    #[schemars(length(max = 255))]
    pub name: String,
    /// The workflow's file, such as `.github/workflows/ci.yml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub path: Option<String>,
    /// Its failed runs in the window judged flaky (re-run attempts count one each).
    #[schemars(range(min = 0))]
    pub flaky_failures: i32,
    /// Its failed runs in the window.
    #[schemars(range(min = 0))]
    pub failures: i32,
    /// `flakyFailures` × 100 / `failures`, rounded down.
    #[schemars(range(min = 0, max = 100))]
    pub flaky_rate_percent: i32,
}

/// A GitHub Actions run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunReference {
    /// The run's id.
    pub id: i64,
    /// The run's page on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The commit the run built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// How the run ended: `success`, `failure`, `cancelled`, `timed_out`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// Security posture from GitHub's code scanning, Dependabot and secret scanning. A count of 0 is left out, as
/// Kubernetes' own statuses leave out zero counts: a feature without open alerts shows no counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityStatus {
    /// Open code-scanning alerts by severity (absent when none).
    #[serde(default, skip_serializing_if = "AlertCounts::is_empty")]
    pub code_scanning: AlertCounts,
    /// Open Dependabot alerts by severity (absent when none).
    #[serde(default, skip_serializing_if = "AlertCounts::is_empty")]
    pub dependabot: AlertCounts,
    /// Open secret-scanning alerts (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub secret_scanning: i32,
    /// Security features GitHub reports as disabled for this repository: `codeScanning`, `dependabot`,
    /// `secretScanning`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_features: Vec<String>,
    /// Security features whose state is not known, neither counted on nor off: `codeScanning` when the repository
    /// has no open code-scanning alert and is not attached to a code security configuration with default setup
    /// (advanced setup without open alerts cannot be told from off without reading the repository's own list,
    /// which the operator leaves out when it reads the organization's lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_features: Vec<String>,
}

/// Alert counts by severity; a severity without alerts is absent.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AlertCounts {
    /// Critical-severity alerts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub critical: i32,
    /// High-severity alerts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub high: i32,
    /// Medium-severity alerts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub medium: i32,
    /// Low-severity alerts, and code-scanning warnings and notes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub low: i32,
}

impl AlertCounts {
    /// No open alert of any severity.
    pub fn is_empty(&self) -> bool {
        *self == AlertCounts::default()
    }
}

/// For `skip_serializing_if`: a count of 0 is left out of a status, and read back as 0.
fn is_zero(count: &i32) -> bool {
    *count == 0
}
