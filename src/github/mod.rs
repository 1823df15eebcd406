//! The only door to GitHub: the [`GitHub`] port that controllers use as `Arc<dyn GitHub>`, and its implementation
//! over octocrab with App auth, an ETag cache, rate-limit waiting, write pacing, retries and dispatch dedupe.

pub mod auth;
pub mod cache;
pub mod error;
pub mod observe;
pub mod octocrab;
pub mod rate_limit;
pub mod transport;
pub mod types;
mod writes;

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

pub use self::auth::Credentials;
pub use self::error::{Error, Result};
pub use self::observe::RequestObserver;
pub use self::octocrab::{GitHubConfig, OctocrabGitHub};
pub use self::rate_limit::RateBudget;
pub use self::types::*;

/// The name of the `workflow_dispatch` input that carries our correlation id; the orchestrator's workflows render it
/// into `run-name`, so the run's `display_title` contains it.
pub const CORRELATION_INPUT: &str = "correlation_id";

/// The GitHub operations the controllers need.
#[async_trait]
pub trait GitHub: Send + Sync {
    // Reads.

    /// Every repository of `org` (all pages).
    async fn list_org_repos(&self, org: &str) -> Result<Vec<Repository>>;
    /// One repository's metadata.
    async fn repository(&self, repo: &RepoRef) -> Result<Repository>;
    /// Bytes of code per language.
    async fn languages(&self, repo: &RepoRef) -> Result<Languages>;
    /// Topics.
    async fn topics(&self, repo: &RepoRef) -> Result<Vec<String>>;
    /// The head commit sha of `branch`, or `None` when the branch does not exist.
    async fn branch_head(&self, repo: &RepoRef, branch: &str) -> Result<Option<String>>;
    /// The recursive tree of `git_ref` (a branch, tag or sha).
    async fn tree(&self, repo: &RepoRef, git_ref: &str) -> Result<Tree>;
    /// The recursive tree of the default branch.
    async fn default_branch_tree(&self, repo: &RepoRef) -> Result<Tree>;
    /// A file at `git_ref` (default branch when `None`), or `None` when it does not exist.
    async fn file_contents(&self, repo: &RepoRef, path: &str, git_ref: Option<&str>) -> Result<Option<FileContents>>;
    /// The repository's workflows.
    async fn workflows(&self, repo: &RepoRef) -> Result<Vec<Workflow>>;
    /// Runs matching `filter`, newest first.
    async fn workflow_runs(&self, repo: &RepoRef, filter: &RunFilter) -> Result<Vec<WorkflowRun>>;
    /// One run.
    async fn workflow_run(&self, repo: &RepoRef, run_id: u64) -> Result<WorkflowRun>;
    /// The jobs of a run's latest attempt.
    async fn run_jobs(&self, repo: &RepoRef, run_id: u64) -> Result<Vec<Job>>;
    /// Open alerts of one security product, or that it is disabled.
    async fn open_alerts(&self, repo: &RepoRef, source: AlertSource) -> Result<Alerts>;
    /// Issues carrying every label in `labels` (pull requests excluded).
    async fn issues_by_label(&self, repo: &RepoRef, labels: &[String], state: IssueState) -> Result<Vec<Issue>>;
    /// The newest `limit` commits of `branch`.
    async fn branch_commits(&self, repo: &RepoRef, branch: &str, limit: usize) -> Result<Vec<Commit>>;
    /// The run dispatched with `correlation_id` (matched in `display_title`), created at or after `created_since`.
    async fn find_run_by_correlation(
        &self,
        repo: &RepoRef,
        workflow: &str,
        correlation_id: &str,
        created_since: Timestamp,
    ) -> Result<Option<WorkflowRun>>;
    /// The credential's current primary budget (does not spend any).
    async fn rate_limit(&self) -> Result<RateBudget>;

    // Writes.

    /// Dispatches `workflow` on `git_ref` with `inputs` plus [`CORRELATION_INPUT`] = `correlation_id`. An ambiguous
    /// failure (5xx, timeout) is re-sent only after looking the run up by the correlation id and not finding it.
    async fn dispatch_workflow(
        &self,
        repo: &RepoRef,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation_id: &str,
    ) -> Result<()>;
    /// Re-runs the failed jobs of a run.
    async fn rerun_failed_jobs(&self, repo: &RepoRef, run_id: u64) -> Result<()>;
    /// Cancels a run.
    async fn cancel_run(&self, repo: &RepoRef, run_id: u64) -> Result<()>;
    /// Creates an issue (`title` is required in `fields`).
    async fn create_issue(&self, repo: &RepoRef, fields: &IssueFields) -> Result<Issue>;
    /// Changes an issue.
    async fn update_issue(&self, repo: &RepoRef, number: u64, fields: &IssueFields) -> Result<Issue>;
    /// Comments on an issue.
    async fn comment_issue(&self, repo: &RepoRef, number: u64, body: &str) -> Result<()>;
    /// Closes an issue.
    async fn close_issue(&self, repo: &RepoRef, number: u64) -> Result<Issue>;
    /// Creates `change.branch` from the default branch's head with the file changes and opens a pull request;
    /// idempotent by branch name (an existing branch or open PR is reused).
    async fn open_pull_request(&self, repo: &RepoRef, change: &PullRequestChange) -> Result<PullRequest>;
}
