//! Reads one repository the way `plan::heal` needs it: runs, health under the policy's window, Dependabot alerts
//! with the manifests they name, the orchestrator workflow, the commit that turned the branch red, and the issues
//! and pull requests the policy owns (found by marker and recorded branch, so a restart loses nothing).

use std::collections::BTreeMap;

use crate::controller::error::Error;
use crate::controller::repository::observe as repository_reads;
use crate::controller::repository::org_alerts::OrgSnapshot;
use crate::crd::healing_policy::{AlertSeverity, HealingPolicySpec, PolicyPullRequest};
use crate::crd::Repository;
use crate::github::{self, AlertSource, Alerts, GitHub, Issue, IssueState, RepoRef, SecurityAlert};
use crate::plan::build_commands;
use crate::plan::detect::OPERATOR_WORKFLOW;
use crate::plan::heal::{
    from_runs, lockfile, manifest, marker, workflow, DependabotAlert, ObservedRepository, OwnedIssue, OwnedPullRequest,
    RedCommit,
};
use crate::plan::health;

/// Where the orchestrator's workflow lives.
pub const OPERATOR_WORKFLOW_PATH: &str = ".github/workflows/infinity-orchestrator.yml";
/// One of the templates onboarding installs beside it: present means the operator installed its workflow.
const TEMPLATE_PATH: &str = ".github/workflows/build-template.yml";
/// How far back the commit that turned the branch red is looked for.
const COMMITS_SEARCHED: usize = 100;

/// One repository as observed, with what carrying out actions needs besides the plan.
#[derive(Clone, Debug)]
pub struct RepositoryView {
    /// Where it is on GitHub.
    pub repo: RepoRef,
    /// What `plan::heal::decide` reads.
    pub observed: ObservedRepository,
    /// The open issues the policy owns, by number (their bodies carry the marker to update).
    pub owned_issues: BTreeMap<i64, Issue>,
}

/// Reads `repository` from GitHub; `None` until discovery described it (no full name or default branch yet).
pub async fn repository(
    github: &dyn GitHub,
    alerts: Option<&OrgSnapshot>,
    policy: &HealingPolicySpec,
    repository: &Repository,
    recorded: &[PolicyPullRequest],
) -> Result<Option<RepositoryView>, Error> {
    let status = repository.status.clone().unwrap_or_default();
    let Some((repo, branch)) = repository_reads::github_repository(Some(&status)) else { return Ok(None) };
    let window = usize::try_from(policy.thresholds.window_runs).unwrap_or(20);
    let runs =
        repository_reads::default_branch_runs(github, &repo, &branch, status.build_workflow.as_deref(), window).await?;
    let actions = &policy.actions;
    let mut observed = ObservedRepository {
        name: repository.spec.name.0.clone(),
        health: health::health(&runs.completed, window),
        latest_failed_run: from_runs::latest_failed_run(&runs.completed),
        latest_failure_verdict: crate::plan::flaky::latest_failure(&runs.completed),
        run_in_progress: runs.in_progress,
        rerun_attempts: from_runs::rerun_attempts(&runs.completed),
        ..ObservedRepository::default()
    };
    if actions.rollback.enabled {
        observed.red_commit = red_commit(github, &repo, &branch, &runs.completed).await?;
    }
    if actions.dependency_update.enabled {
        observed.dependabot_alerts = dependabot_alerts(github, alerts, &repo).await?;
        observed.manifests = manifests(github, &repo, &observed.dependabot_alerts).await?;
        observed.lockfiles = lockfiles(github, &repo, &observed.manifests).await?;
    }
    if actions.config_repair.enabled {
        let current = text_of(github, &repo, OPERATOR_WORKFLOW_PATH, None).await?;
        // An onboarding pull request not merged yet installed nothing: the workflow is onboarding's to add, and a
        // repair pull request beside it would be a second one for the same file.
        let installed = status.build_workflow.as_deref() == Some(OPERATOR_WORKFLOW)
            || text_of(github, &repo, TEMPLATE_PATH, None).await?.is_some();
        let spec = &repository.spec;
        let commands = build_commands::in_effect(
            spec.build.as_ref(),
            spec.test.as_ref(),
            status.build_command.as_deref(),
            status.test_command.as_deref(),
        );
        observed.workflow_defect = workflow::defect(OPERATOR_WORKFLOW_PATH, current.as_deref(), installed, &commands);
    }
    let owned_issues = if actions.issue.enabled { owned_issues(github, &repo).await? } else { BTreeMap::new() };
    observed.owned_issues = owned_issues
        .values()
        .filter_map(|issue| OwnedIssue::from_texts(to_i64(issue.number), issue.body.as_deref().unwrap_or(""), &[]))
        .collect();
    observed.owned_pull_requests = owned_pull_requests(github, &repo, &observed.name, recorded).await?;
    Ok(Some(RepositoryView { repo, observed, owned_issues }))
}

fn to_i64(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

/// Open issues whose body carries the policy's marker. Every open issue is read, not only those with the
/// policy's labels: a person removing a label must not make the policy open a second issue.
async fn owned_issues(github: &dyn GitHub, repo: &RepoRef) -> Result<BTreeMap<i64, Issue>, Error> {
    let issues = github.issues_by_label(repo, &[], IssueState::Open).await?;
    Ok(issues
        .into_iter()
        .filter(|issue| issue.body.as_deref().is_some_and(|body| body.contains(marker::MARKER_PREFIX)))
        .map(|issue| (to_i64(issue.number), issue))
        .collect())
}

/// The pull requests recorded in status for this repository; one whose branch is gone is taken as closed, and a
/// rollback pull request is asked for its state.
async fn owned_pull_requests(
    github: &dyn GitHub,
    repo: &RepoRef,
    name: &str,
    recorded: &[PolicyPullRequest],
) -> Result<Vec<OwnedPullRequest>, Error> {
    let mut owned = Vec::new();
    for pull in recorded.iter().filter(|pull| pull.repository == name) {
        let mut open = github.branch_head(repo, &pull.branch).await?.is_some();
        // A rollback is closed once its repository healed: one merged or closed by a person is left alone. (A
        // merged branch stays until someone deletes it, so only the pull request itself tells.)
        if open && pull.action == "Rollback" {
            let number = u64::try_from(pull.number).unwrap_or_default();
            open = github.pull_request(repo, number).await?.state == "open";
        }
        owned.push(OwnedPullRequest { number: pull.number, branch: pull.branch.clone(), open });
    }
    Ok(owned)
}

/// Open Dependabot alerts with a dependency, on the manifest the operator would edit: from the organization's
/// snapshot when there is one, else from the repository's own list.
async fn dependabot_alerts(
    github: &dyn GitHub,
    snapshot: Option<&OrgSnapshot>,
    repo: &RepoRef,
) -> Result<Vec<DependabotAlert>, Error> {
    let alerts = match snapshot {
        Some(snapshot) => snapshot.dependabot(repo),
        None => match github.open_alerts(repo, AlertSource::Dependabot).await {
            Ok(Alerts::Open(alerts)) => alerts,
            // Off in the repository, or not granted to the App installation: no dependency to bump.
            Ok(Alerts::Disabled { .. }) | Err(github::Error::Permission { status: 403, .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        },
    };
    Ok(alerts.iter().filter_map(dependabot_alert).collect())
}

fn dependabot_alert(alert: &SecurityAlert) -> Option<DependabotAlert> {
    let dependency = alert.dependency.as_ref()?;
    let severity = match alert.severity.as_deref()?.to_ascii_lowercase().as_str() {
        "critical" => AlertSeverity::Critical,
        "high" => AlertSeverity::High,
        "medium" | "moderate" => AlertSeverity::Medium,
        _ => AlertSeverity::Low,
    };
    Some(DependabotAlert {
        number: to_i64(alert.number),
        package: dependency.package.clone(),
        ecosystem: dependency.ecosystem.clone(),
        manifest_path: manifest::editable_manifest(dependency.manifest_path.as_deref()?)?,
        vulnerable_range: dependency.vulnerable_version_range.clone().unwrap_or_default(),
        first_patched_version: dependency.first_patched_version.clone(),
        severity,
    })
}

/// The current text of every manifest the alerts name.
async fn manifests(
    github: &dyn GitHub,
    repo: &RepoRef,
    alerts: &[DependabotAlert],
) -> Result<BTreeMap<String, String>, Error> {
    let mut manifests = BTreeMap::new();
    for alert in alerts {
        if manifests.contains_key(&alert.manifest_path) {
            continue;
        }
        if let Some(text) = text_of(github, repo, &alert.manifest_path, None).await? {
            manifests.insert(alert.manifest_path.clone(), text);
        }
    }
    Ok(manifests)
}

/// The lockfile beside each manifest that has one, the first of [`lockfile::candidate_paths`] that exists.
async fn lockfiles(
    github: &dyn GitHub,
    repo: &RepoRef,
    manifests: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut lockfiles = BTreeMap::new();
    for manifest in manifests.keys() {
        for candidate in lockfile::candidate_paths(manifest) {
            if github.file_contents(repo, &candidate, None).await?.is_some() {
                lockfiles.insert(manifest.clone(), candidate);
                break;
            }
        }
    }
    Ok(lockfiles)
}

/// A file's text at `git_ref` (the default branch when `None`); `None` when absent (or not UTF-8, which no
/// manifest or workflow is).
pub async fn text_of(
    github: &dyn GitHub,
    repo: &RepoRef,
    path: &str,
    git_ref: Option<&str>,
) -> Result<Option<String>, Error> {
    let file = github.file_contents(repo, path, git_ref).await?;
    Ok(file.and_then(|file| String::from_utf8(file.content).ok()))
}

/// The commit that turned the branch red, with its message and parent from the branch's history.
async fn red_commit(
    github: &dyn GitHub,
    repo: &RepoRef,
    branch: &str,
    runs: &[health::ObservedRun],
) -> Result<Option<RedCommit>, Error> {
    let Some(streak) = from_runs::red_streak(runs) else { return Ok(None) };
    let commits = github.branch_commits(repo, branch, COMMITS_SEARCHED).await?;
    let Some(at) = commits.iter().position(|commit| commit.sha == streak.sha) else { return Ok(None) };
    // First-parent history, newest first: the next commit is its parent. A root commit has none to go back to.
    let Some(parent) = commits.get(at + 1) else { return Ok(None) };
    Ok(Some(RedCommit {
        sha: streak.sha,
        message: commits[at].message.lines().next().unwrap_or_default().to_owned(),
        parent: parent.sha.clone(),
        failed_runs_since: streak.failed_runs,
        red_since: streak.since,
    }))
}
