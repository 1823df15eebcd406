//! What a BuildPlan reconcile reads: the plan itself (fresh from the API server), its Organization, the selected
//! Repository objects, and on GitHub the runs of its attempts in flight and, for `onlyChanged`, whether each head
//! already has a successful build.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use super::super::cache::Cache;
use super::super::context::Context;
use super::super::error::Error;
use super::super::status::namespace_of;
use crate::crd::build_plan::RepositoryBuild;
use crate::crd::well_known::CORRELATION_INPUT;
use crate::crd::{BuildPlan, Organization, Repository};
use crate::github::{self, GitHub, RepoRef, RunFilter, WorkflowRun};
use crate::plan::build_commands;
use crate::plan::prerequisites::{self, Blocker, BlockerKind};
use crate::plan::schedule::entries::{self, RunObservation};
use crate::plan::schedule::{in_flight, SelectedRepository};

/// Expected build duration when a repository's health does not tell; only the ratio between repositories matters.
const UNKNOWN_DURATION: SignedDuration = SignedDuration::from_secs(300);
/// How far before an attempt's recorded start its run is looked for: GitHub's clock and ours may disagree.
const CLOCK_SKEW_MARGIN: SignedDuration = SignedDuration::from_hours(1);

/// One selected repository and how to build it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// GitHub name.
    pub name: String,
    /// The Repository object's reference, for Events about its builds.
    pub object: ObjectReference,
    /// Where it lives on GitHub.
    pub repo: RepoRef,
    /// The workflow to dispatch: the Repository's override, else the one discovery found.
    pub workflow: Option<String>,
    /// The `workflow_dispatch` inputs `workflow` declares, as discovery recorded them (`status.buildWorkflowInputs`);
    /// empty when it declares none or when they are not known (see `build_workflow_inputs_known`).
    pub build_workflow_inputs: Vec<String>,
    /// Whether discovery read `workflow` (its recorded `buildWorkflow` is this one, not `buildWorkflowUnread`), so
    /// that `build_workflow_inputs` is what the file declares; false for a spec's workflow discovery has not read.
    pub build_workflow_inputs_known: bool,
    /// The ref to build: the plan's, else the Repository's override, else its default branch.
    pub git_ref: String,
    /// The `workflow_dispatch` inputs besides the correlation id: the commands in effect under the command inputs
    /// the workflow declares, and the spec's `build.inputs` (`plan::build_commands::dispatch_inputs`).
    pub inputs: BTreeMap<String, String>,
    /// Repositories it depends on (spec and discovered edges).
    pub depends_on: Vec<String>,
    /// Median duration of its recent runs, for priorities.
    pub expected_duration: SignedDuration,
}

impl Target {
    /// Whether a dispatch sends the correlation id: when the workflow declares the input, or when its inputs are not
    /// known yet (a spec's workflow discovery has not read; GitHub then says with 422 if it does not take it).
    pub fn takes_correlation_id(&self) -> bool {
        !self.build_workflow_inputs_known || self.build_workflow_inputs.iter().any(|i| i == CORRELATION_INPUT)
    }

    /// What the scheduler is told about it.
    pub fn selected(&self, head_already_built: bool) -> SelectedRepository {
        SelectedRepository {
            name: self.name.clone(),
            depends_on: self.depends_on.clone(),
            head_already_built,
            expected_duration: self.expected_duration,
            unbuildable: self.workflow.is_none().then(|| "no workflow that accepts workflow_dispatch".to_owned()),
        }
    }
}

/// The plan as the API server has it now, or `None` once it is gone. The watch copy may predate the last status
/// write, and deciding on an old status could dispatch an attempt a second time.
pub async fn fresh(ctx: &Context, plan: &BuildPlan) -> Result<Option<BuildPlan>, Error> {
    let api: Api<BuildPlan> = Api::namespaced(ctx.client.clone(), &namespace_of(plan)?);
    Ok(api.get_opt(&plan.name_any()).await?)
}

/// The plan's Organization, or what keeps the plan from using it: an invalid spec, a missing Organization. Read from
/// `organizations`, the shard's cache (a change of it wakes the plan once the cache holds it), so that a step of a
/// run costs no read of it; only one the cache lacks is asked of the API server.
pub async fn organization(
    ctx: &Context,
    plan: &BuildPlan,
    organizations: &Cache<Organization>,
) -> Result<Result<Organization, Blocker>, Error> {
    if let Err(blocker) = prerequisites::build_plan_spec(&plan.spec) {
        return Ok(Err(blocker));
    }
    let (name, namespace) = (&plan.spec.organization_ref.name, namespace_of(plan)?);
    organizations.filled().await;
    let cached = organizations.store().get(&ObjectRef::new(name).within(&namespace));
    let organization = match cached {
        Some(organization) => Some(Organization::clone(&organization)),
        None => Api::<Organization>::namespaced(ctx.client.clone(), &namespace).get_opt(name).await?,
    };
    Ok(match organization {
        Some(organization) => Ok(organization),
        None => Err(prerequisites::organization_ref(name, false).err().unwrap_or_else(|| Blocker {
            kind: BlockerKind::Waiting,
            reason: "OrganizationNotFound",
            message: format!("Organization {name:?} does not exist"),
        })),
    })
}

/// The selected repositories, by GitHub name, and the names of selected ones discovery has not described yet
/// (their default branch is unknown). Suspended and archived repositories are left out.
pub fn targets(store: &Store<Repository>, plan: &BuildPlan, owner: &str) -> (Vec<Target>, Vec<String>) {
    let mut repositories: Vec<_> = store
        .state()
        .into_iter()
        .filter(|repo| repo.namespace() == plan.namespace())
        .filter(|repo| repo.spec.organization_ref.name == plan.spec.organization_ref.name)
        .filter(|repo| !repo.spec.suspend && !repo.status.as_ref().is_some_and(|s| s.archived))
        .filter(|repo| plan.spec.selector.matches(repo.labels(), &repo.spec.name.0))
        .collect();
    // Two objects naming the same GitHub repository: the first by object name counts.
    repositories.sort_by_key(|repo| repo.name_any());
    let mut seen = BTreeSet::new();
    let (mut targets, mut undescribed) = (Vec::new(), Vec::new());
    for repo in repositories {
        if !seen.insert(repo.spec.name.0.clone()) {
            continue;
        }
        match target(&repo, plan, owner) {
            Some(target) => targets.push(target),
            None => undescribed.push(repo.spec.name.0.clone()),
        }
    }
    (targets, undescribed)
}

fn target(repo: &Repository, plan: &BuildPlan, owner: &str) -> Option<Target> {
    let status = repo.status.clone().unwrap_or_default();
    let build = repo.spec.build.clone().unwrap_or_default();
    // Without a workflow of its own, the repository's build workflow is what discovery finds: until discovery has
    // described it (its default branch known), it is not "not buildable" yet, only undescribed.
    if build.workflow.is_none() && status.default_branch.is_none() {
        return None;
    }
    let git_ref = plan.spec.r#ref.clone().or(build.r#ref).or(status.default_branch)?;
    let mut depends_on: Vec<String> = repo.spec.depends_on.iter().map(|d| d.0.clone()).collect();
    depends_on.extend(status.dependencies.iter().map(|d| d.repository.clone()));
    let median = status.health.as_ref().and_then(|h| h.median_duration_seconds);
    let workflow = build.workflow.or(status.build_workflow.clone());
    // The recorded inputs describe the recorded workflow only: a spec's other workflow is not read yet.
    let inputs_known = workflow.is_some() && workflow == status.build_workflow && !status.build_workflow_unread;
    let commands = build_commands::in_effect(
        repo.spec.build.as_ref(),
        repo.spec.test.as_ref(),
        status.build_command.as_deref(),
        status.test_command.as_deref(),
    );
    // Commands go only to inputs the workflow is known to declare: GitHub refuses undeclared ones.
    let declared = if inputs_known { status.build_workflow_inputs.as_slice() } else { &[] };
    let inputs = build_commands::dispatch_inputs(&build.inputs, &commands, declared);
    Some(Target {
        name: repo.spec.name.0.clone(),
        object: repo.object_ref(&()),
        repo: RepoRef::new(owner, &repo.spec.name.0),
        build_workflow_inputs: if inputs_known { status.build_workflow_inputs } else { Vec::new() },
        build_workflow_inputs_known: inputs_known,
        workflow,
        git_ref,
        inputs,
        depends_on,
        expected_duration: median.map(SignedDuration::from_secs).unwrap_or(UNKNOWN_DURATION),
    })
}

/// What tracking read and made of it.
#[derive(Debug)]
pub struct Tracked {
    /// By repository, the run of its attempt in flight, `None` when GitHub does not list it (see [`runs_in_flight`]).
    pub runs: BTreeMap<String, Option<RunObservation>>,
    /// Dispatching entries whose run GitHub does not list although the grace period has passed: their dispatch
    /// never happened.
    pub lost: Vec<String>,
}

/// Reads the run of every attempt in flight and folds it into its entry.
pub async fn track(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    repositories: &mut [RepositoryBuild],
    grace: SignedDuration,
    now: Timestamp,
) -> Result<Tracked, Error> {
    let runs = runs_in_flight(github, targets, repositories).await?;
    let mut lost = Vec::new();
    for entry in repositories.iter_mut() {
        match runs.get(&entry.name) {
            Some(Some(run)) => *entry = entries::observe_run(entry, run, now),
            Some(None) if entries::dispatch_lost(entry, grace, now) => lost.push(entry.name.clone()),
            _ => {}
        }
    }
    Ok(Tracked { runs, lost })
}

/// The run of every attempt in flight, by repository: `None` when GitHub does not list it (yet). An entry whose
/// repository is no longer selected is not read.
pub async fn runs_in_flight(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    repositories: &[RepositoryBuild],
) -> Result<BTreeMap<String, Option<RunObservation>>, Error> {
    let mut runs = BTreeMap::new();
    for entry in repositories.iter().filter(|e| in_flight(e.state)) {
        let Some(target) = targets.get(entry.name.as_str()) else { continue };
        let run = find_run(github, target, entry).await?;
        runs.insert(entry.name.clone(), run.as_ref().map(observation));
    }
    Ok(runs)
}

/// The run of an entry's latest attempt: by id once known, else by its correlation id.
async fn find_run(github: &dyn GitHub, target: &Target, entry: &RepositoryBuild) -> Result<Option<WorkflowRun>, Error> {
    if let Some(id) = entry.run_id.and_then(|id| u64::try_from(id).ok()) {
        return match github.workflow_run(&target.repo, id).await {
            Ok(run) => Ok(Some(run)),
            // A deleted run ends the attempt as if it had failed.
            Err(github::Error::NotFound { .. }) => Ok(Some(vanished(entry, id))),
            Err(error) => Err(error.into()),
        };
    }
    let (Some(workflow), Some(correlation_id)) = (&target.workflow, &entry.correlation_id) else { return Ok(None) };
    let started = entry.start_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let since = started.saturating_sub(CLOCK_SKEW_MARGIN).unwrap_or(started);
    Ok(github.find_run_by_correlation(&target.repo, workflow, correlation_id, since).await?)
}

fn vanished(entry: &RepositoryBuild, id: u64) -> WorkflowRun {
    WorkflowRun {
        id,
        workflow_id: 0,
        name: None,
        display_title: String::new(),
        head_branch: None,
        head_sha: entry.head_sha.clone().unwrap_or_default(),
        event: "workflow_dispatch".into(),
        status: Some("completed".into()),
        conclusion: Some("deleted".into()),
        run_attempt: None,
        created_at: entry.start_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        updated_at: None,
        html_url: entry.run_url.clone(),
        path: None,
    }
}

/// GitHub's run as the pure status code sees it.
pub fn observation(run: &WorkflowRun) -> RunObservation {
    RunObservation {
        id: i64::try_from(run.id).unwrap_or(i64::MAX),
        url: run.html_url.clone(),
        head_sha: run.head_sha.clone(),
        status: run.status.clone(),
        conclusion: run.conclusion.clone(),
        created_at: run.created_at,
        updated_at: run.updated_at,
    }
}

/// For `onlyChanged`: the head commit of each candidate whose head already has a successful run of its build
/// workflow.
pub async fn already_built(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    candidates: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut built = BTreeMap::new();
    for name in candidates {
        let Some(target) = targets.get(name.as_str()) else { continue };
        let Some(workflow) = &target.workflow else { continue };
        let Some(head) = github.branch_head(&target.repo, &target.git_ref).await? else { continue };
        let filter = RunFilter {
            workflow: Some(workflow.clone()),
            head_sha: Some(head.clone()),
            limit: Some(20),
            ..RunFilter::default()
        };
        let runs = github.workflow_runs(&target.repo, &filter).await?;
        if runs.iter().any(|run| run.head_sha == head && run.conclusion.as_deref() == Some("success")) {
            built.insert(name.clone(), head);
        }
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(spec: serde_json::Value) -> BuildPlan {
        let mut full = serde_json::json!({ "organizationRef": { "name": "acme" } });
        full.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        serde_json::from_value(serde_json::json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "BuildPlan", "metadata": { "name": "p", "namespace": "ns" }, "spec": full }))
        .unwrap()
    }

    fn repository(build: serde_json::Value, status: serde_json::Value) -> Repository {
        serde_json::from_value(serde_json::json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "Repository", "metadata": { "name": "core", "namespace": "ns" },
            "spec": { "organizationRef": { "name": "acme" }, "name": "core", "build": build },
            "status": status }))
        .unwrap()
    }

    #[test]
    fn a_repository_waits_for_discovery_unless_its_spec_names_the_workflow() {
        let with_ref = plan(serde_json::json!({ "ref": "release" }));
        // Not described yet and no workflow of its own: undescribed, even when the plan names the ref.
        assert!(target(&repository(serde_json::json!({}), serde_json::json!({})), &with_ref, "acme").is_none());
        // Its spec names the workflow: buildable at once.
        let own = repository(serde_json::json!({ "workflow": "build.yml" }), serde_json::json!({}));
        let own = target(&own, &with_ref, "acme").expect("a target");
        assert_eq!((own.workflow.as_deref(), own.git_ref.as_str()), (Some("build.yml"), "release"));
        // Described by discovery without a dispatchable workflow: a target that is not buildable.
        let described = repository(serde_json::json!({}), serde_json::json!({ "defaultBranch": "main" }));
        let described = target(&described, &plan(serde_json::json!({})), "acme").expect("a target");
        assert_eq!((described.workflow, described.git_ref.as_str()), (None, "main"));
    }

    #[test]
    fn the_correlation_id_goes_only_to_a_workflow_that_declares_it_or_is_not_read_yet() {
        let status = |inputs: serde_json::Value| serde_json::json!({ "defaultBranch": "main", "buildWorkflow": "ci.yml", "buildWorkflowInputs": inputs });
        let plan = plan(serde_json::json!({}));
        let takes =
            target(&repository(serde_json::json!({}), status(serde_json::json!(["correlation_id"]))), &plan, "a");
        assert!(takes.expect("a target").takes_correlation_id());
        let plain = target(&repository(serde_json::json!({}), status(serde_json::json!([]))), &plan, "a");
        let plain = plain.expect("a target");
        assert!(plain.build_workflow_inputs_known && !plain.takes_correlation_id(), "declares none");
        let unread =
            serde_json::json!({ "defaultBranch": "main", "buildWorkflow": "ci.yml", "buildWorkflowUnread": true });
        let unread = target(&repository(serde_json::json!({}), unread), &plan, "a").expect("a target");
        assert!(!unread.build_workflow_inputs_known && unread.takes_correlation_id(), "files not read");
        // The spec names another workflow than the one discovery read: its inputs are not known yet.
        let other = repository(serde_json::json!({ "workflow": "other.yml" }), status(serde_json::json!([])));
        let other = target(&other, &plan, "a").expect("a target");
        assert!(!other.build_workflow_inputs_known && other.takes_correlation_id());
    }
}
