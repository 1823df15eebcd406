//! What the Repository and HealingPolicy controllers read about one repository, the same way for both: its recent
//! default-branch runs of the build and test workflows, its security alerts, and the policy that selects it.

use kube::runtime::reflector::Store;
use kube::ResourceExt;

use super::org_alerts::{Answer, Enablement, OrgSnapshot};
use crate::config::MonitoringConfig;
use crate::controller::error::Error;
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::repository::{RepositoryStatus, SecurityStatus};
use crate::crd::{HealingPolicy, Repository};
use crate::github::{self, AlertSource, Alerts, GitHub, RepoRef, RunFilter, SecurityAlert, WorkflowRun};
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

/// How many of the newest default-branch runs are read to fill a window of `window` decisive runs in the usual case
/// (other workflows' and unfinished runs take some of the page).
pub fn runs_wanted(window: usize) -> usize {
    window * 2 + 10
}

/// The newest runs of the build and test workflows on `branch`, read by REST.
pub async fn default_branch_runs(
    github: &dyn GitHub,
    repo: &RepoRef,
    branch: &str,
    build_workflow: Option<&str>,
    window: usize,
) -> Result<DefaultBranchRuns, Error> {
    let runs = recent_runs(github, repo, branch, runs_wanted(window)).await?;
    build_and_test_runs(github, repo, runs, build_workflow).await
}

/// The newest `limit` runs on `branch` (REST), newest first.
pub async fn recent_runs(
    github: &dyn GitHub,
    repo: &RepoRef,
    branch: &str,
    limit: usize,
) -> Result<Vec<WorkflowRun>, github::Error> {
    let filter = RunFilter { branch: Some(branch.to_owned()), limit: Some(limit), ..RunFilter::default() };
    github.workflow_runs(repo, &filter).await
}

/// Of `runs` (newest first), those of the build and test workflows. Each run names its workflow's file; the
/// workflows list is read only for runs that do not (servers older than the run's `path`).
pub async fn build_and_test_runs(
    github: &dyn GitHub,
    repo: &RepoRef,
    mut runs: Vec<WorkflowRun>,
    build_workflow: Option<&str>,
) -> Result<DefaultBranchRuns, Error> {
    if runs.iter().any(|run| run.path.is_none()) {
        let workflows = github.workflows(repo).await?;
        for run in runs.iter_mut().filter(|run| run.path.is_none()) {
            if let Some(workflow) = workflows.iter().find(|workflow| workflow.id == run.workflow_id) {
                run.name = Some(workflow.name.clone());
                run.path = Some(workflow.path.clone());
            }
        }
    }
    Ok(chosen_runs(&runs, build_workflow))
}

/// The runs of the build and test workflows among `runs` (newest first, each naming its workflow's file).
fn chosen_runs(runs: &[WorkflowRun], build_workflow: Option<&str>) -> DefaultBranchRuns {
    let chosen = |run: &WorkflowRun| {
        let (name, path) = (run.name.as_deref().unwrap_or_default(), run.path.as_deref().unwrap_or_default());
        is_build_or_test(run.workflow_id, name, path, build_workflow)
    };
    // Without a run of a recognisable build or test workflow, every default-branch run speaks for the repository.
    let any_chosen = runs.iter().any(chosen);
    let runs: Vec<&WorkflowRun> = runs.iter().filter(|run| !any_chosen || chosen(run)).collect();
    let in_progress = runs.first().is_some_and(|run| run.status.as_deref() != Some("completed"));
    DefaultBranchRuns { completed: runs.into_iter().filter_map(observed_run).collect(), in_progress }
}

/// Whether the workflow `id` named `name` in file `path` is a build or test workflow: the one discovery chose
/// (by file name or id), or one whose name or file says so.
fn is_build_or_test(id: u64, name: &str, path: &str, build_workflow: Option<&str>) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    // GitHub gives the path of a workflow from elsewhere (a required workflow) as `owner/repo/path@ref`.
    let file = file.split('@').next().unwrap_or(file);
    if build_workflow.is_some_and(|chosen| chosen == file || chosen == id.to_string()) {
        return true;
    }
    let words = format!("{name} {file}").to_ascii_lowercase();
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
        workflow_id: run.workflow_id,
        workflow_name: run
            .name
            .clone()
            .filter(|name| !name.is_empty())
            .or_else(|| run.path.clone())
            .unwrap_or_else(|| run.workflow_id.to_string()),
        workflow_path: run.path.clone(),
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

/// Reads the three products' alerts: from the organization's `snapshot` what it knows with what `enabled` says (see
/// [`super::org_alerts`]), the rest (all of it without a snapshot) from the repository's own lists. `last` is the
/// repository's last security status.
pub async fn security(
    github: &dyn GitHub,
    snapshot: Option<&OrgSnapshot>,
    repo: &RepoRef,
    last: Option<&SecurityStatus>,
    enabled: Enablement,
) -> Result<SecurityRead, Error> {
    let read = |source| alerts(github, snapshot, repo, source, last, enabled);
    let code_scanning = read(AlertSource::CodeScanning).await?;
    let dependabot = read(AlertSource::Dependabot).await?;
    let secret_scanning = read(AlertSource::SecretScanning).await?;
    Ok(security_read(&code_scanning, dependabot, &secret_scanning))
}

/// The security posture of the three products' alerts.
pub fn security_read(code_scanning: &Answer, dependabot: Answer, secret_scanning: &Answer) -> SecurityRead {
    let status = health::security(&feature(code_scanning), &feature(&dependabot), &feature(secret_scanning));
    let dependabot = match dependabot {
        Answer::Known(Alerts::Open(alerts)) => alerts,
        Answer::Known(Alerts::Disabled { .. }) | Answer::Unknown => Vec::new(),
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
    enabled: Enablement,
) -> Result<Answer, Error> {
    match snapshot.and_then(|snapshot| snapshot.answer(repo, source, last, enabled)) {
        Some(known) => Ok(known),
        None => match github.open_alerts(repo, source).await {
            Ok(alerts) => Ok(Answer::Known(alerts)),
            // The App installation was not granted the product's permission: the rest of health goes on.
            Err(github::Error::Permission { status: 403, .. }) => Ok(Answer::Unknown),
            Err(error) => Err(error.into()),
        },
    }
}

fn feature(answer: &Answer) -> FeatureAlerts {
    match answer {
        Answer::Unknown => FeatureAlerts::Unknown,
        Answer::Known(Alerts::Disabled { .. }) => FeatureAlerts::Disabled,
        // The GitHub layer lists open alerts only.
        Answer::Known(Alerts::Open(alerts)) => FeatureAlerts::Listed(
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
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    /// A run of workflow `id` named `name` in `file`.
    fn run(id: u64, workflow: (u64, &str, &str), status: &str, conclusion: Option<&str>) -> WorkflowRun {
        let (workflow_id, name, file) = workflow;
        WorkflowRun {
            id,
            workflow_id,
            name: Some(name.into()),
            display_title: String::new(),
            head_branch: Some("main".into()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Some(status.into()),
            conclusion: conclusion.map(str::to_owned),
            run_attempt: None,
            created_at: Timestamp::from_second(1_000_000 + i64::try_from(id).unwrap()).unwrap(),
            updated_at: None,
            html_url: None,
            path: Some(format!(".github/workflows/{file}")),
        }
    }

    #[test]
    fn build_and_test_workflows_by_choice_or_name() {
        let cases = [
            ((1, "deploy", "release.yml"), Some("release.yml"), true),
            ((2, "CI", "main.yml"), None, true),
            ((3, "Tests", "tests.yml"), None, true),
            ((4, "build and push", "docker.yml"), None, true),
            ((5, "deploy", "deploy.yml"), None, false),
            ((6, "Publish docs", "circle.yml"), None, false),
            ((7, "deploy", "release.yml"), Some("7"), true),
        ];
        for ((id, name, file), chosen, expected) in cases {
            let path = format!(".github/workflows/{file}");
            assert_eq!(is_build_or_test(id, name, &path, chosen), expected, "{name} {file}");
        }
        let elsewhere = "acme/policies/.github/workflows/release.yml@main";
        assert!(is_build_or_test(8, "required", elsewhere, Some("release.yml")), "a path with its repository and ref");
    }

    #[test]
    fn runs_of_build_and_test_workflows_speak_for_the_repository_and_all_runs_when_there_are_none() {
        let (ci, deploy) = ((1, "CI", "ci.yml"), (2, "deploy", "deploy.yml"));
        let runs = [
            run(4, deploy, "in_progress", None),
            run(3, ci, "completed", Some("failure")),
            run(2, deploy, "completed", Some("failure")),
            run(1, ci, "completed", Some("success")),
        ];
        let chosen = chosen_runs(&runs, None);
        assert_eq!(chosen.completed.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 1], "the deploy runs left out");
        assert!(!chosen.in_progress, "the running deploy is not a build");
        let only_deploys = chosen_runs(&runs[..1], None);
        assert!(only_deploys.in_progress, "without a build or test run, every run counts");
        let all = chosen_runs(&[run(2, deploy, "completed", Some("failure")), run(1, deploy, "queued", None)], None);
        assert_eq!(all.completed.iter().map(|r| r.id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn an_observed_run_names_its_workflow_for_the_flaky_rules() {
        let mut listed = run(3, (9, "CI", "ci.yml"), "completed", Some("failure"));
        listed.run_attempt = Some(2);
        let observed = observed_run(&listed).unwrap();
        let workflow = (observed.workflow_id, observed.workflow_name.as_str(), observed.workflow_path.as_deref());
        assert_eq!(workflow, (9, "CI", Some(".github/workflows/ci.yml")));
        assert_eq!(observed.attempt, 2);
        listed.name = None;
        assert_eq!(observed_run(&listed).unwrap().workflow_name, ".github/workflows/ci.yml", "nameless: its file");
        listed.path = None;
        assert_eq!(observed_run(&listed).unwrap().workflow_name, "9", "neither: its id");
        assert_eq!(observed_run(&run(4, (9, "CI", "ci.yml"), "in_progress", None)), None);
    }
}
