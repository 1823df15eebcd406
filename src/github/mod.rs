//! The only door to GitHub: the [`GitHub`] port that controllers use as `Arc<dyn GitHub>`, and its implementation
//! over octocrab with App auth, an ETag cache, rate-limit waiting, write pacing, retries and dispatch dedupe.

pub mod app_manifest;
pub mod auth;
pub mod cache;
pub mod error;
pub mod graphql;
pub mod hook_deliveries;
pub mod observe;
pub mod octocrab;
pub mod permissions;
pub mod rate_limit;
pub mod spending;
pub mod transport;
pub mod types;
mod writes;

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

pub use self::auth::Credentials;
pub use self::error::{Error, Result};
pub use self::hook_deliveries::{HookDelivery, HookDeliveryPage};
pub use self::observe::RequestObserver;
pub use self::octocrab::{GitHubConfig, OctocrabGitHub};
pub use self::rate_limit::RateBudget;
pub use self::types::*;

/// The REST API version the operator asks for in `X-GitHub-Api-Version` on every request: `2026-03-10`, whose
/// dispatch answer is always 200 with the run it started (`workflow_run_id`, `run_url`, `html_url`), so that a
/// BuildPlan records its run at once, without a listing request, whatever inputs the workflow declares. Its other
/// breaking changes (docs: rest/about-the-rest-api/breaking-changes), checked against every route the operator
/// uses: `GET /rate_limit` loses the deprecated top-level `rate` (we read `resources.core`); repository, issue and
/// pull-request answers lose `has_downloads`, `use_squash_pr_title_as_default`, `merge_commit_sha` and the singular
/// `assignee` (we read none of them); directory listings of the contents API give submodules `type: "submodule"`
/// (we read files only); the installation-token answer's repositories lose `has_downloads` (unread). The rest
/// (teams, gists, SARIF, migrations, trade controls, `/hub`, the API root, attestations, advisories' `cvss`,
/// code-scanning languages, Dependabot org secrets, deleting installations) are routes we do not call.
pub const API_VERSION: &str = "2026-03-10";

/// The first dated REST API version, the only one older GitHub Enterprise Server releases know: set it in
/// [`GitHubConfig::api_version`] for them. A dispatch then asks for the run with `return_run_details: true`, and a
/// server that refuses that field (422/400) is asked again without it, remembered per client, and answers 204: the
/// run is then found by its correlation id.
pub const API_VERSION_2022_11_28: &str = "2022-11-28";

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
    /// The recursive tree of `git_ref` (a branch, tag or sha); `truncated` when GitHub cut the listing.
    async fn tree(&self, repo: &RepoRef, git_ref: &str) -> Result<Tree>;
    /// The recursive tree of the default branch.
    async fn default_branch_tree(&self, repo: &RepoRef) -> Result<Tree>;
    /// One level of the tree object `tree_sha`, paths relative to it: how to read, one subtree at a time, a tree
    /// whose recursive listing GitHub truncated (over 100,000 entries or 7 MB).
    async fn tree_level(&self, repo: &RepoRef, tree_sha: &str) -> Result<Tree>;
    /// The default branch, head commit and tree ([`graphql::TREE_DEPTH`] levels) of each repository named by its
    /// node id (at most [`graphql::MAX_NODES_PER_QUERY`]), in their order, in one GraphQL query; `None` for an id
    /// that names no repository (deleted since it was listed).
    async fn repository_trees(&self, node_ids: &[String]) -> Result<Vec<Option<HeadTree>>>;
    /// The texts of files across repositories, in their order, in one GraphQL query; `None` for a file (or a
    /// repository) that does not exist.
    async fn blob_texts(&self, reads: &[BlobRead]) -> Result<Vec<Option<BlobText>>>;
    /// A file at `git_ref` (default branch when `None`), or `None` when it does not exist.
    async fn file_contents(&self, repo: &RepoRef, path: &str, git_ref: Option<&str>) -> Result<Option<FileContents>>;
    /// The repository's workflows.
    async fn workflows(&self, repo: &RepoRef) -> Result<Vec<Workflow>>;
    /// The newest runs (at most `read.runs`, newest first by creation, one per run id) on each repository's default
    /// branch, from the check suites of its newest commits, in GraphQL queries of at most
    /// [`graphql::MAX_RUNS_READS_PER_QUERY`] repositories (history paged 10 commits at a time until `read.runs` runs
    /// were seen or the history ends), with whether its Dependabot alerts are on; `None` for a repository that does
    /// not exist.
    async fn default_branch_runs_batch(&self, reads: &[RunsRead]) -> Result<Vec<Option<RepositoryRuns>>>;
    /// Runs matching `filter`, newest first.
    async fn workflow_runs(&self, repo: &RepoRef, filter: &RunFilter) -> Result<Vec<WorkflowRun>>;
    /// One run.
    async fn workflow_run(&self, repo: &RepoRef, run_id: u64) -> Result<WorkflowRun>;
    /// The jobs of a run's latest attempt.
    async fn run_jobs(&self, repo: &RepoRef, run_id: u64) -> Result<Vec<Job>>;
    /// Open alerts of one security product, or that it is disabled.
    async fn open_alerts(&self, repo: &RepoRef, source: AlertSource) -> Result<Alerts>;
    /// Open alerts of one security product across the repositories of `org` (all pages, conditionally: an unchanged
    /// list costs no budget), each with its repository; repositories where the product is off are not in it. A
    /// credential that is not an owner or security manager of the organization is refused with
    /// [`Error::NotFound`] or [`Error::Permission`] (403).
    async fn org_open_alerts(&self, org: &str, source: AlertSource) -> Result<Vec<RepoAlert>>;
    /// The names of `org`'s repositories attached (or enforced) to a code security configuration whose code
    /// scanning default setup is enabled (all pages, conditionally). Refused like [`GitHub::org_open_alerts`].
    async fn code_scanning_default_setup_repositories(&self, org: &str) -> Result<Vec<String>>;
    /// Whether Dependabot alerts are on (`GET /repos/{owner}/{repo}/vulnerability-alerts`: 204 on, 404 off).
    async fn vulnerability_alerts_enabled(&self, repo: &RepoRef) -> Result<bool>;
    /// Whether Dependabot security updates are on (`GET /repos/{owner}/{repo}/automated-security-fixes`; GitHub
    /// answers 404 while Dependabot alerts are off: then `false`).
    async fn automated_security_fixes_enabled(&self, repo: &RepoRef) -> Result<bool>;
    /// The repository's visibility and `security_and_analysis` (`GET /repos/{owner}/{repo}`, read afresh).
    async fn repository_security(&self, repo: &RepoRef) -> Result<RepositorySecurity>;
    /// One pull request, with what merging it depends on.
    async fn pull_request(&self, repo: &RepoRef, number: u64) -> Result<PullRequestDetails>;
    /// How the repository lets pull requests merge.
    async fn merge_settings(&self, repo: &RepoRef) -> Result<MergeSettings>;
    /// The status checks merging into `branch` requires: branch protection's (from the branch) and the active
    /// rulesets' (`GET /repos/{owner}/{repo}/rules/branches/{branch}`), without repeats.
    async fn required_status_checks(&self, repo: &RepoRef, branch: &str) -> Result<Vec<String>>;
    /// The check runs and commit statuses `sha` reports (all pages).
    async fn commit_checks(&self, repo: &RepoRef, sha: &str) -> Result<Vec<CommitCheck>>;
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
    /// The latest time GitHub's answers gave (their `Date` header), when any did: GitHub's clock is at least that now.
    fn server_time(&self) -> Option<Timestamp>;
    /// The credential's current primary budget (does not spend any).
    async fn rate_limit(&self) -> Result<RateBudget>;
    /// The permissions GitHub granted the App installation, as its latest installation-token answer said (no
    /// request); `None` for a token credential or before the first exchange. Operations that need one it lacks are
    /// refused with [`Error::Permission`] without a request.
    fn granted_permissions(&self) -> Option<permissions::Granted>;
    /// What each of the credential's budgets is being spent on, and the stretch it asks of background intervals,
    /// from the answers seen so far (no request).
    fn budget_outlook(&self) -> Vec<spending::BudgetOutlook>;
    /// One page (at most `per_page`, up to 100) of the GitHub App hook's deliveries, newest first, from `cursor`
    /// (the first page when `None`). Authenticated as the App (JWT); an auth error for a token credential.
    async fn app_hook_deliveries(&self, cursor: Option<&str>, per_page: u8) -> Result<HookDeliveryPage>;

    // Writes.

    /// Dispatches `workflow` on `git_ref` with `inputs`, plus
    /// [`CORRELATION_INPUT`](crate::crd::well_known::CORRELATION_INPUT) = `correlation_id` when given (send it only
    /// to a workflow that declares the input: GitHub refuses undeclared inputs with 422). Returns the run it started
    /// when GitHub's answer names it (on [`API_VERSION`] always), `None` on a 204. An ambiguous failure (5xx,
    /// timeout) is re-sent only after looking the run up by the correlation id and not finding it; without a
    /// correlation id it is returned as it is (the run could not be found again, so it is never re-sent).
    async fn dispatch_workflow(
        &self,
        repo: &RepoRef,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation_id: Option<&str>,
    ) -> Result<Option<DispatchedRun>>;
    /// Asks GitHub to deliver the App hook's attempt `delivery_id` again, under the same `X-GitHub-Delivery` guid
    /// (GitHub never retries a failed delivery by itself). Authenticated as the App (JWT).
    async fn redeliver_app_hook_delivery(&self, delivery_id: u64) -> Result<()>;
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
    /// Merges pull request `number` by `method` if its head is still `head_sha` (GitHub answers 409 otherwise, so a
    /// newer push is never merged unseen); GitHub refuses (405) what branch protection does not allow yet. Returns
    /// the merge commit's sha.
    async fn merge_pull_request(
        &self,
        repo: &RepoRef,
        number: u64,
        head_sha: &str,
        method: MergeMethod,
    ) -> Result<String>;
    /// Turns GitHub's auto-merge on for the pull request whose node id is `node_id`, by `method`, expecting head
    /// `head_sha` (GraphQL `enablePullRequestAutoMerge`): GitHub merges it once branch protection allows.
    async fn enable_auto_merge(&self, node_id: &str, head_sha: &str, method: MergeMethod) -> Result<()>;
    /// Marks the draft pull request whose GraphQL node id is `node_id` ready for review (GraphQL
    /// `markPullRequestReadyForReview`: REST cannot take a pull request out of draft).
    async fn mark_pull_request_ready(&self, node_id: &str) -> Result<()>;
    /// Turns Dependabot alerts (and the dependency graph) on (`PUT /repos/{owner}/{repo}/vulnerability-alerts`).
    async fn enable_vulnerability_alerts(&self, repo: &RepoRef) -> Result<()>;
    /// Turns Dependabot security updates on (`PUT /repos/{owner}/{repo}/automated-security-fixes`); GitHub refuses
    /// it while Dependabot alerts are off.
    async fn enable_automated_security_fixes(&self, repo: &RepoRef) -> Result<()>;
    /// Turns secret scanning on (`PATCH /repos/{owner}/{repo}` with `security_and_analysis.secret_scanning`);
    /// GitHub refuses it with [`Error::Validation`] where the plan does not allow it (a private repository without
    /// Advanced Security).
    async fn enable_secret_scanning(&self, repo: &RepoRef) -> Result<()>;
}
