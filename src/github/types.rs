//! Our domain types at the GitHub boundary: only the fields controllers use, named our way.
//! They deserialize from GitHub's JSON directly; unknown fields are ignored.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A repository's owner and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoRef {
    /// Organization or user login.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoRef {
    /// `owner/name`.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        RepoRef { owner: owner.into(), name: name.into() }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Repository metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// GitHub's numeric id.
    pub id: u64,
    /// Name without owner.
    pub name: String,
    /// GitHub's global node id: how GraphQL names the repository.
    #[serde(default)]
    pub node_id: Option<String>,
    /// `owner/name`.
    pub full_name: String,
    /// The default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Archived repositories are read-only.
    #[serde(default)]
    pub archived: bool,
    /// Whether this is a fork.
    #[serde(default)]
    pub fork: bool,
    /// Whether it is private.
    #[serde(default)]
    pub private: bool,
    /// `public`, `private` or `internal`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// The primary language GitHub detected.
    #[serde(default)]
    pub language: Option<String>,
    /// Topics, when the listing includes them.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Last push.
    #[serde(default)]
    pub pushed_at: Option<Timestamp>,
    /// The repository's page.
    #[serde(default)]
    pub html_url: Option<String>,
    /// Whether secret scanning is on, from `security_and_analysis.secret_scanning.status`: GitHub shows it only to
    /// an owner or security manager of the organization (or an admin of the repository); `None` when absent.
    #[serde(
        default,
        rename = "security_and_analysis",
        with = "secret_scanning_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_scanning: Option<bool>,
}

/// `security_and_analysis.secret_scanning.status` (`enabled` or `disabled`) as whether secret scanning is on, both
/// ways: a listing kept compact in the ETag cache is written back in GitHub's shape and read again.
mod secret_scanning_status {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize, Serialize)]
    struct SecurityAndAnalysis {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_scanning: Option<Status>,
    }

    #[derive(Deserialize, Serialize)]
    struct Status {
        status: String,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
        let object = Option::<SecurityAndAnalysis>::deserialize(deserializer)?;
        Ok(object.and_then(|object| object.secret_scanning).map(|status| status.status == "enabled"))
    }

    pub fn serialize<S: Serializer>(on: &Option<bool>, serializer: S) -> Result<S::Ok, S::Error> {
        let status = |on: bool| Status { status: if on { "enabled" } else { "disabled" }.to_owned() };
        on.map(|on| SecurityAndAnalysis { secret_scanning: Some(status(on)) }).serialize(serializer)
    }
}

/// Bytes of code per language.
pub type Languages = BTreeMap<String, u64>;

/// One entry of a git tree.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TreeEntry {
    /// Path from the repository root.
    pub path: String,
    /// `blob`, `tree` or `commit` (submodule).
    #[serde(rename = "type")]
    pub kind: String,
    /// Object sha.
    pub sha: String,
    /// Blob size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

/// A recursive tree listing.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Tree {
    /// The tree's sha.
    pub sha: String,
    /// Every entry.
    pub tree: Vec<TreeEntry>,
    /// GitHub truncates very large trees; then the listing is incomplete.
    #[serde(default)]
    pub truncated: bool,
}

/// A repository's default-branch head and its tree, as one GraphQL page of repositories reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadTree {
    /// The default branch, `None` for an empty repository (which has no head commit either).
    pub branch: Option<String>,
    /// The head commit's sha.
    pub head_oid: Option<String>,
    /// The file paths of the tree, down to the depth the query reads.
    pub blobs: Vec<String>,
    /// Directories at the deepest level read, whose contents the query did not reach.
    pub unread_directories: Vec<String>,
}

/// One file to read at a commit of a repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRead {
    /// The repository.
    pub repo: RepoRef,
    /// The commit (or any revision GitHub accepts in `<rev>:<path>`).
    pub oid: String,
    /// Path from the repository root.
    pub path: String,
}

/// A file's text as GraphQL gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobText {
    /// The text; `None` for binary content.
    pub text: Option<String>,
    /// Whether GitHub cut the text short (large files): the whole file must then be read by REST.
    pub truncated: bool,
}

/// A file's contents at a ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileContents {
    /// Path from the repository root.
    pub path: String,
    /// Blob sha (needed to update the file through the contents API).
    pub sha: String,
    /// Decoded bytes.
    pub content: Vec<u8>,
}

/// A GitHub Actions workflow.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Workflow {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// `.github/workflows/FILE`.
    pub path: String,
    /// `active`, `disabled_manually`, ….
    pub state: String,
}

/// A workflow run.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct WorkflowRun {
    /// Numeric id.
    pub id: u64,
    /// The workflow's id.
    pub workflow_id: u64,
    /// The workflow's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The rendered `run-name` (carries our correlation id for dispatched runs).
    #[serde(default)]
    pub display_title: String,
    /// Branch.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// Commit.
    pub head_sha: String,
    /// Triggering event.
    pub event: String,
    /// `queued`, `in_progress`, `completed`, ….
    #[serde(default)]
    pub status: Option<String>,
    /// `success`, `failure`, `cancelled`, … once completed.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// Attempt number (re-runs increase it).
    #[serde(default)]
    pub run_attempt: Option<u32>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Web URL.
    #[serde(default)]
    pub html_url: Option<String>,
    /// The workflow file, `.github/workflows/FILE`: tells build and test workflows apart without listing workflows.
    #[serde(default)]
    pub path: Option<String>,
}

/// Which runs to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this workflow (id or file name).
    pub workflow: Option<String>,
    /// Only this branch.
    pub branch: Option<String>,
    /// Only this event (`push`, `workflow_dispatch`, …).
    pub event: Option<String>,
    /// Only runs created at or after this time.
    pub created_since: Option<Timestamp>,
    /// Only runs of this commit.
    pub head_sha: Option<String>,
    /// Stop after this many runs (newest first); `None` reads every page.
    pub limit: Option<usize>,
}

/// One repository whose default-branch runs a batch reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunsRead {
    /// The repository.
    pub repo: RepoRef,
    /// How many of the newest runs are wanted (the REST read's `limit`).
    pub runs: usize,
}

/// What the runs query read of one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryRuns {
    /// The newest default-branch runs, newest first.
    pub runs: Vec<WorkflowRun>,
    /// Whether Dependabot alerts are on (GraphQL `hasVulnerabilityAlertsEnabled`); `None` when not read (REST, or
    /// GitHub refuses the field to the credential).
    pub vulnerability_alerts: Option<bool>,
}

/// A job of a run.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Job {
    /// Numeric id.
    pub id: u64,
    /// Job name.
    pub name: String,
    /// Status.
    #[serde(default)]
    pub status: Option<String>,
    /// Conclusion once completed.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// Start time.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Completion time.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
}

/// Which security product an alert comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertSource {
    /// Code scanning.
    CodeScanning,
    /// Dependabot.
    Dependabot,
    /// Secret scanning.
    SecretScanning,
}

/// An open security alert, reduced to what posture needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityAlert {
    /// Alert number within the repository and product.
    pub number: u64,
    /// Severity when the product reports one (`critical`, `high`, `medium`, `low`, …).
    pub severity: Option<String>,
    /// Web URL.
    pub html_url: Option<String>,
    /// For Dependabot alerts: the vulnerable dependency and its fix.
    pub dependency: Option<VulnerableDependency>,
}

/// An alert of an organization-level list, with the repository it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoAlert {
    /// The repository.
    pub repo: RepoRef,
    /// The alert.
    pub alert: SecurityAlert,
}

/// The dependency a Dependabot alert is about, with what fixes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnerableDependency {
    /// Package name.
    pub package: String,
    /// Ecosystem as GitHub spells it (`cargo`, `npm`, `pip`, `maven`, `go`, …).
    pub ecosystem: String,
    /// The manifest that declares it (`Cargo.lock`, `package-lock.json`, …).
    pub manifest_path: Option<String>,
    /// The vulnerable range, e.g. `< 0.10.70`.
    pub vulnerable_version_range: Option<String>,
    /// The first version with the fix, when there is one.
    pub first_patched_version: Option<String>,
}

/// Alerts, or the product being off for the repository (not an error: posture reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alerts {
    /// The product is on; these alerts are open.
    Open(Vec<SecurityAlert>),
    /// The product is disabled (or unavailable) for the repository.
    Disabled {
        /// GitHub's message.
        reason: String,
    },
}

/// An issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Web URL.
    pub html_url: Option<String>,
}

/// Fields of an issue to create or change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IssueFields {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Replaces the labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Which issues to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueState {
    /// Open only.
    Open,
    /// Closed only.
    Closed,
    /// Both.
    All,
}

/// A commit of a branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Sha.
    pub sha: String,
    /// First line and rest of the message.
    pub message: String,
    /// Author date.
    pub authored_at: Option<Timestamp>,
}

/// A file to write (or delete, with `content: None`) on a new branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// Path from the repository root.
    pub path: String,
    /// New UTF-8 content; `None` deletes the file.
    pub content: Option<String>,
}

/// A pull request to open from a branch with changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestChange {
    /// The branch to create (idempotency key: an existing branch or PR is reused).
    pub branch: String,
    /// Commit message.
    pub commit_message: String,
    /// Files to change.
    pub files: Vec<FileChange>,
    /// PR title.
    pub title: String,
    /// PR body.
    pub body: String,
    /// Open it as a draft (GitHub's `draft`): not ready for review, and not mergeable, until marked ready.
    pub draft: bool,
}

/// A pull request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Web URL.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A pull request as merging reads it (`GET /repos/{owner}/{repo}/pulls/{pull_number}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestDetails {
    /// Number.
    pub number: u64,
    /// GraphQL node id (for GraphQL's pull-request mutations).
    pub node_id: String,
    /// `open` or `closed`.
    pub state: String,
    /// Whether it is a draft.
    pub draft: bool,
    /// Whether it was merged.
    pub merged: bool,
    /// Head branch.
    pub head_ref: String,
    /// Head commit.
    pub head_sha: String,
    /// Base branch.
    pub base_ref: String,
    /// Whether GitHub's auto-merge is on for it.
    pub auto_merge: bool,
    /// Web URL.
    pub html_url: Option<String>,
}

/// How a repository lets pull requests merge (`GET /repos/{owner}/{repo}`): an absent field is GitHub's default
/// (every merge method allowed, auto-merge not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct MergeSettings {
    /// `allow_auto_merge`.
    #[serde(default)]
    pub allow_auto_merge: Option<bool>,
    /// `allow_merge_commit`.
    #[serde(default)]
    pub allow_merge_commit: Option<bool>,
    /// `allow_squash_merge`.
    #[serde(default)]
    pub allow_squash_merge: Option<bool>,
    /// `allow_rebase_merge`.
    #[serde(default)]
    pub allow_rebase_merge: Option<bool>,
}

/// How a pull request is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base.
    Rebase,
}

impl MergeMethod {
    /// REST's `merge_method`.
    pub fn rest(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }

    /// GraphQL's `PullRequestMergeMethod`.
    pub fn graphql(self) -> &'static str {
        match self {
            MergeMethod::Merge => "MERGE",
            MergeMethod::Squash => "SQUASH",
            MergeMethod::Rebase => "REBASE",
        }
    }
}

/// One check of a commit: a check run (by name) or a commit status (by context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCheck {
    /// The check run's name or the status's context.
    pub name: String,
    /// A check run's `status` (`queued`, `in_progress`, `completed`, …) or a status's `state` (`pending`,
    /// `success`, `failure`, `error`).
    pub status: String,
    /// A completed check run's `conclusion`; `None` for statuses and unfinished runs.
    pub conclusion: Option<String>,
    /// Whether it is a commit status rather than a check run.
    pub is_status: bool,
}

/// The run a dispatch started, as GitHub's answer names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchedRun {
    /// The run's id (`workflow_run_id`).
    pub id: u64,
    /// Its page (`html_url`).
    pub url: Option<String>,
}

/// A repository's visibility and security settings, from `GET /repos/{owner}/{repo}`: what turning a security
/// feature on depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RepositorySecurity {
    /// Whether it is private (or internal).
    #[serde(default)]
    pub private: bool,
    /// `public`, `private` or `internal`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Its `security_and_analysis`; GitHub shows it only to an owner or security manager of the organization (or
    /// an admin of the repository), so `None` says nothing about the features.
    #[serde(default)]
    pub security_and_analysis: Option<SecurityAndAnalysis>,
}

impl RepositorySecurity {
    /// Whether anyone may see it: secret scanning needs no Advanced Security there.
    pub fn is_public(&self) -> bool {
        match self.visibility.as_deref() {
            Some(visibility) => visibility == "public",
            None => !self.private,
        }
    }

    /// Whether secret scanning is on; `None` when GitHub does not say.
    pub fn secret_scanning(&self) -> Option<bool> {
        self.security_and_analysis.as_ref()?.secret_scanning.as_ref().map(FeatureStatus::enabled)
    }

    /// Whether GitHub Advanced Security is on; `None` when GitHub does not say (it leaves it out on public
    /// repositories, and for callers who may not see `security_and_analysis`).
    pub fn advanced_security(&self) -> Option<bool> {
        self.security_and_analysis.as_ref()?.advanced_security.as_ref().map(FeatureStatus::enabled)
    }
}

/// The parts of GitHub's `security-and-analysis` the operator reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SecurityAndAnalysis {
    /// GitHub Advanced Security (private and internal repositories).
    #[serde(default)]
    pub advanced_security: Option<FeatureStatus>,
    /// Secret scanning.
    #[serde(default)]
    pub secret_scanning: Option<FeatureStatus>,
    /// Dependabot security updates.
    #[serde(default)]
    pub dependabot_security_updates: Option<FeatureStatus>,
}

/// One feature's `status`: `enabled` or `disabled`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FeatureStatus {
    /// `enabled` or `disabled`.
    pub status: String,
}

impl FeatureStatus {
    /// Whether the status is `enabled`.
    pub fn enabled(&self) -> bool {
        self.status == "enabled"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_scanning_comes_from_security_and_analysis_and_survives_the_compact_copy() {
        let listed = |security: serde_json::Value| -> Repository {
            let mut repo = json!({ "id": 1, "name": "api", "full_name": "acme/api", "private": true });
            if !security.is_null() {
                repo["security_and_analysis"] = security;
            }
            serde_json::from_value(repo).expect("a repository")
        };
        let on = listed(json!({
            "advanced_security": { "status": "enabled" },
            "secret_scanning": { "status": "enabled" },
            "secret_scanning_push_protection": { "status": "disabled" },
        }));
        assert_eq!(on.secret_scanning, Some(true));
        assert_eq!(listed(json!({ "secret_scanning": { "status": "disabled" } })).secret_scanning, Some(false));
        assert_eq!(listed(json!({ "dependabot_security_updates": { "status": "enabled" } })).secret_scanning, None);
        assert_eq!(listed(serde_json::Value::Null).secret_scanning, None, "not shown to this caller");
        for repo in [on, listed(serde_json::Value::Null)] {
            let compact = serde_json::to_value(&repo).expect("serialized");
            assert_eq!(serde_json::from_value::<Repository>(compact).expect("read again"), repo);
        }
    }
}
