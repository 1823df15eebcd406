//! What the Repository and HealingPolicy controllers read about one repository, the same way for both: its recent
//! default-branch runs of the build and test workflows, its security alerts, and the policy that selects it.

use kube::runtime::reflector::Store;
use kube::ResourceExt;

use super::org_alerts::OrgSnapshot;
use crate::config::MonitoringConfig;
use crate::controller::error::Error;
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::repository::{RepositoryStatus, SecurityStatus};
use crate::crd::{HealingPolicy, Repository};
use crate::github::{AlertSource, Alerts, GitHub, RepoRef, RunFilter, SecurityAlert, Workflow, WorkflowRun};
use crate::plan::health::{self, FeatureAlerts, ObservedAlert, ObservedRun};

/// Workflow names and files that count as build or test workflows besides the one discovery picked.
const BUILD_OR_TEST_WORDS: [&str; 3] = ["build", "test", "ci"];

/// The default-branch runs of the build and test workflows.
#[derive(Clone, Debug, Default)]
pub struct DefaultBranchRuns {
    /// Completed runs, newest first (their latest attempt, as GitHub lists them).
    pub completed: Vec<ObservedRun>,
    /// Whether the newest run is still queued or running (a re-run in progress included).
    pub in_progress: bool,
}

/// The repository on GitHub, from the status discovery wrote: `None` until discovery described it.
pub fn github_repository(status: Option<&RepositoryStatus>) -> Option<(RepoRef, String)> {
    let status = status?;
    let (owner, name) = status.full_name.as_deref()?.split_once('/')?;
    Some((RepoRef::new(owner, name), status.default_branch.clone()?))
}

/// The newest runs of the build and test workflows on `branch`, enough to fill a window of `window` decisive runs
/// in the usual case (other workflows' and unfinished runs take some of the page).
pub async fn default_branch_runs(
    github: &dyn GitHub,
    repo: &RepoRef,
    branch: &str,
    build_workflow: Option<&str>,
    window: usize,
) -> Result<DefaultBranchRuns, Error> {
    let workflows = github.workflows(repo).await?;
    let chosen: Vec<u64> =
        workflows.iter().filter(|w| is_build_or_test(w, build_workflow)).map(|workflow| workflow.id).collect();
    let filter = RunFilter { branch: Some(branch.to_owned()), limit: Some(window * 2 + 10), ..RunFilter::default() };
    let runs: Vec<WorkflowRun> = github
        .workflow_runs(repo, &filter)
        .await?
        .into_iter()
        // Without a recognisable build or test workflow, every default-branch run speaks for the repository.
        .filter(|run| chosen.is_empty() || chosen.contains(&run.workflow_id))
        .collect();
    let in_progress = runs.first().is_some_and(|run| run.status.as_deref() != Some("completed"));
    Ok(DefaultBranchRuns { completed: runs.iter().filter_map(observed_run).collect(), in_progress })
}

fn is_build_or_test(workflow: &Workflow, build_workflow: Option<&str>) -> bool {
    let file = workflow.path.rsplit('/').next().unwrap_or(&workflow.path);
    if build_workflow.is_some_and(|chosen| chosen == file || chosen == workflow.id.to_string()) {
        return true;
    }
    let words = format!("{} {}", workflow.name, file).to_ascii_lowercase();
    words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| BUILD_OR_TEST_WORDS.contains(&word) || word.starts_with("build") || word.starts_with("test"))
}

/// A completed run as health reads it; `None` while it runs. GitHub's `updated_at` of a completed run is when it
/// completed.
fn observed_run(run: &WorkflowRun) -> Option<ObservedRun> {
    if run.status.as_deref() != Some("completed") {
        return None;
    }
    Some(ObservedRun {
        id: i64::try_from(run.id).ok()?,
        url: run.html_url.clone(),
        head_sha: run.head_sha.clone(),
        conclusion: run.conclusion.clone().unwrap_or_default(),
        attempt: run.run_attempt.and_then(|a| i32::try_from(a).ok()).unwrap_or(1),
        created_at: run.created_at,
        started_at: None,
        completed_at: run.updated_at.unwrap_or(run.created_at),
    })
}

/// Security posture, plus the open Dependabot alerts themselves (the HealingPolicy acts on them).
#[derive(Clone, Debug, Default)]
pub struct SecurityRead {
    /// Counts by severity and features off.
    pub status: SecurityStatus,
    /// Open Dependabot alerts; empty when Dependabot is off.
    pub dependabot: Vec<SecurityAlert>,
}

/// Reads the three products' alerts: from the organization's `snapshot` what it knows (see [`super::org_alerts`]),
/// the rest (all of it without a snapshot) from the repository's own lists. `last` is the repository's last security
/// status.
pub async fn security(
    github: &dyn GitHub,
    snapshot: Option<&OrgSnapshot>,
    repo: &RepoRef,
    last: Option<&SecurityStatus>,
) -> Result<SecurityRead, Error> {
    let code_scanning = alerts(github, snapshot, repo, AlertSource::CodeScanning, last).await?;
    let dependabot = alerts(github, snapshot, repo, AlertSource::Dependabot, last).await?;
    let secret_scanning = alerts(github, snapshot, repo, AlertSource::SecretScanning, last).await?;
    Ok(security_read(&code_scanning, dependabot, &secret_scanning))
}

/// The security posture of the three products' alerts.
pub fn security_read(code_scanning: &Alerts, dependabot: Alerts, secret_scanning: &Alerts) -> SecurityRead {
    let status = health::security(&feature(code_scanning), &feature(&dependabot), &feature(secret_scanning));
    let dependabot = match dependabot {
        Alerts::Open(alerts) => alerts,
        Alerts::Disabled { .. } => Vec::new(),
    };
    SecurityRead { status, dependabot }
}

/// One product's alerts: what the snapshot knows, else the repository's own list.
async fn alerts(
    github: &dyn GitHub,
    snapshot: Option<&OrgSnapshot>,
    repo: &RepoRef,
    source: AlertSource,
    last: Option<&SecurityStatus>,
) -> Result<Alerts, Error> {
    match snapshot.and_then(|snapshot| snapshot.answer(repo, source, last)) {
        Some(known) => Ok(known),
        None => Ok(github.open_alerts(repo, source).await?),
    }
}

fn feature(alerts: &Alerts) -> FeatureAlerts {
    match alerts {
        Alerts::Disabled { .. } => FeatureAlerts::Disabled,
        // The GitHub layer lists open alerts only.
        Alerts::Open(alerts) => FeatureAlerts::Listed(
            alerts
                .iter()
                .map(|a| ObservedAlert { state: "open".to_owned(), severity: a.severity.clone().unwrap_or_default() })
                .collect(),
        ),
    }
}

/// The HealingPolicy whose thresholds and interval apply to `repo`: of the unsuspended policies of its
/// Organization that select it, the first by name (a repository two policies select is judged by one rule).
pub fn selecting_policy(policies: &Store<HealingPolicy>, repo: &Repository) -> Option<HealingPolicy> {
    let namespace = repo.namespace();
    let mut selecting: Vec<HealingPolicy> = policies
        .state()
        .into_iter()
        .filter(|policy| policy.namespace() == namespace && !policy.spec.suspend)
        .filter(|policy| policy.spec.organization_ref.name == repo.spec.organization_ref.name)
        .filter(|policy| policy.spec.selector.matches(repo.labels(), &repo.spec.name.0))
        .map(|policy| policy.as_ref().clone())
        .collect();
    selecting.sort_by_key(|policy| policy.name_any());
    selecting.into_iter().next()
}

/// The thresholds `repo` is judged by: its selecting policy's, else the defaults with the operator's
/// `monitoring.failure_threshold`.
pub fn thresholds_of(policy: Option<&HealingPolicy>, monitoring: &MonitoringConfig) -> HealingThresholds {
    policy.map(|p| p.spec.thresholds.clone()).unwrap_or_else(|| HealingThresholds {
        consecutive_failures: i32::try_from(monitoring.failure_threshold).unwrap_or(i32::MAX),
        ..HealingThresholds::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(id: u64, name: &str, file: &str) -> Workflow {
        Workflow { id, name: name.into(), path: format!(".github/workflows/{file}"), state: "active".into() }
    }

    #[test]
    fn build_and_test_workflows_by_choice_or_name() {
        let cases = [
            (workflow(1, "deploy", "release.yml"), Some("release.yml"), true),
            (workflow(2, "CI", "main.yml"), None, true),
            (workflow(3, "Tests", "tests.yml"), None, true),
            (workflow(4, "build and push", "docker.yml"), None, true),
            (workflow(5, "deploy", "deploy.yml"), None, false),
            (workflow(6, "Publish docs", "circle.yml"), None, false),
        ];
        for (workflow, chosen, expected) in cases {
            assert_eq!(is_build_or_test(&workflow, chosen), expected, "{workflow:?}");
        }
    }
}
