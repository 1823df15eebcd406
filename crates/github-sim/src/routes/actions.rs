//! GitHub Actions: workflows, dispatch, runs, cancel, re-run.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::{iso8601, parse_date};
use crate::enterprise::html_root;
use crate::fixture::WorkflowFixture;
use crate::pagination::{link_header, page_of};
use crate::runs::{phase_at, render_run_name};
use crate::state::{Repo, Run, SimState, Workflow};
use crate::views::{run_json, workflow_json, workflow_name};
use crate::workflow_file::{self, file_name, DispatchInput, WorkflowDefinition};

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

fn find_workflow<'a>(repo: &'a Repo, id_or_file: &str) -> Result<&'a Workflow, ApiError> {
    repo.workflows
        .iter()
        .find(|w| w.id.to_string() == id_or_file || file_name(&w.spec.path) == id_or_file)
        .ok_or_else(ApiError::not_found)
}

/// The workflow files at `git_ref`, read; every one not seen before gets its stable id. `None` when the ref does
/// not resolve.
fn workflows_at(
    state: &mut SimState,
    owner: &str,
    name: &str,
    git_ref: &str,
) -> Option<BTreeMap<String, WorkflowDefinition>> {
    let definitions = workflow_file::definitions(state.repo(owner, name)?.files_at(git_ref)?);
    let unseen: Vec<String> = {
        let repo = state.repo(owner, name)?;
        definitions.keys().filter(|path| !repo.workflows.iter().any(|w| &w.spec.path == *path)).cloned().collect()
    };
    for path in unseen {
        let id = state.next_id();
        let spec = WorkflowFixture { path, ..WorkflowFixture::default() };
        state.repo_mut(owner, name)?.workflows.push(Workflow { id, spec });
    }
    Some(definitions)
}

/// The default branch's workflow files, read (registering new ones).
fn default_branch_workflows(state: &mut SimState, request: &RouteRequest<'_>) -> BTreeMap<String, WorkflowDefinition> {
    let (owner, name) = (&request.params[0], &request.params[1]);
    let branch = state.repo(owner, name).map(|r| r.spec.default_branch.clone()).unwrap_or_default();
    workflows_at(state, owner, name, &branch).unwrap_or_default()
}

/// `GET /repos/{owner}/{repo}/actions/workflows`: the workflows whose files are on the default branch.
pub fn list_workflows(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo(state, request)?;
    let present = default_branch_workflows(state, request);
    let repo = find_repo(state, request)?;
    let listed: Vec<&Workflow> = repo.workflows.iter().filter(|w| present.contains_key(&w.spec.path)).collect();
    let page = page_of(listed.len(), request.query("per_page"), request.query("page"));
    let workflows: Vec<Value> =
        listed[page.range.clone()].iter().map(|w| workflow_json(request.base_url, repo, w)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(json!({"total_count": listed.len(), "workflows": workflows})), link })
}

/// `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}`.
pub fn get_workflow(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo(state, request)?;
    default_branch_workflows(state, request);
    let repo = find_repo(state, request)?;
    let workflow = find_workflow(repo, &request.params[2])?;
    Ok(Reply::ok(workflow_json(request.base_url, repo, workflow)))
}

/// The inputs a dispatch runs with: those given (each declared, else 422 naming every undeclared one), then the
/// declared defaults; a required input neither given nor defaulted is a 422.
fn dispatch_inputs(declared: &[DispatchInput], given: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let given = given.and_then(Value::as_object).cloned().unwrap_or_default();
    let unexpected: Vec<String> =
        given.keys().filter(|name| !declared.iter().any(|d| &d.name == *name)).map(|n| format!("{n:?}")).collect();
    if !unexpected.is_empty() {
        return Err(ApiError::unprocessable(format!("Unexpected inputs provided: [{}]", unexpected.join(", "))));
    }
    let mut inputs = BTreeMap::new();
    for input in declared {
        let value = match given.get(&input.name) {
            Some(value) => Some(value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())),
            None => input.default.clone(),
        };
        match value {
            Some(value) => inputs.insert(input.name.clone(), value),
            None if input.required => {
                return Err(ApiError::unprocessable(format!("Required input '{}' not provided", input.name)))
            }
            None => None,
        };
    }
    Ok(inputs)
}

/// `POST …/workflows/{workflow_id}/dispatches`, validated as GitHub does: the workflow must exist (404) and its
/// file be at the ref (404), the ref must exist (422 `No ref found for: …`), the file must accept
/// `workflow_dispatch` (422), inputs must be declared (422) and required ones given (422); defaults fill the rest.
/// The run starts at the ref's head, titled by that ref's `run-name`, and is listed only after the listing delay.
/// Answers: on `2026-03-10`, 200 with the run (`return_run_details` is gone: ignored, as GitHub ignores unknown
/// body keys); on `2022-11-28`, 204, or 200 with the run when `return_run_details` is true. A server without
/// `2026-03-10` (an older GHES) refuses `return_run_details` with 422.
pub fn dispatch(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let (owner, name) = (request.params[0].clone(), request.params[1].clone());
    find_repo(state, request)?;
    default_branch_workflows(state, request);
    let Some(git_ref) = request.body.get("ref").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("Invalid request.\n\n\"ref\" wasn't supplied."));
    };
    let run_details_known = state.accepted_api_versions().iter().any(|v| v == super::API_VERSION_2026_03_10);
    if request.body.get("return_run_details").is_some() && !run_details_known {
        return Err(ApiError::unprocessable("Invalid request.\n\n\"return_run_details\" is not a permitted key."));
    }
    let workflow = find_workflow(find_repo(state, request)?, &request.params[2])?.clone();
    let Some(definitions) = workflows_at(state, &owner, &name, git_ref) else {
        return Err(ApiError::unprocessable(format!("No ref found for: {git_ref}")));
    };
    let definition = definitions.get(&workflow.spec.path).cloned().ok_or_else(ApiError::not_found)?;
    let Some(declared) = &definition.dispatch else {
        return Err(ApiError::unprocessable("Workflow does not have 'workflow_dispatch' trigger"));
    };
    let inputs = dispatch_inputs(declared, request.body.get("inputs"))?;
    let repo = find_repo(state, request)?;
    let head_sha = repo.resolve(git_ref).map(|c| c.sha.clone()).unwrap_or_default();
    let branch = git_ref.trim_start_matches("refs/heads/").to_string();
    let template = definition.run_name.clone().unwrap_or_else(|| definition.display_name(&workflow.spec.path));
    let display_title = render_run_name(&template, &inputs);
    let outcome = state.draw_outcome(&workflow.spec.outcome);
    let id = state.next_id();
    let now = state.now;
    let listed_at = state.draw_listed_at();
    state.runs.push(Run {
        id,
        owner: owner.clone(),
        repo: name.clone(),
        workflow_id: workflow.id,
        head_branch: branch,
        head_sha,
        event: "workflow_dispatch".into(),
        display_title,
        created_at: now,
        first_created_at: now,
        duration_secs: workflow.spec.outcome.duration_secs,
        outcome,
        cancelled_at: None,
        run_attempt: 1,
        listed_at,
        inputs: inputs.clone(),
    });
    if let Some(run) = state.runs.last() {
        let body = json!({"workflow_run": run_json(request.base_url, state, run)});
        state.emit("workflow_run", Some("requested"), &owner, &name, body);
    }
    let details_asked = request.body.get("return_run_details").and_then(Value::as_bool) == Some(true);
    if request.api_version == super::API_VERSION_2026_03_10 || details_asked {
        return Ok(Reply::ok(json!({
            "workflow_run_id": id,
            "run_url": format!("{}/repos/{owner}/{name}/actions/runs/{id}", request.base_url),
            "html_url": format!("{}/{owner}/{name}/actions/runs/{id}", html_root(request.base_url)),
        })));
    }
    Ok(Reply::empty(204))
}

fn list_runs(state: &SimState, request: &RouteRequest<'_>, workflow_id: Option<u64>) -> Reply {
    let (owner, name) = (&request.params[0], &request.params[1]);
    let created_after = request.query("created").and_then(|c| parse_date(c.trim_start_matches(">=")));
    let mut runs: Vec<&Run> = state
        .runs
        .iter()
        .filter(|r| &r.owner == owner && &r.repo == name)
        // A dispatched run is listed only once its listing delay has passed (by id it is served at once).
        .filter(|r| r.listed_at <= state.now)
        .filter(|r| workflow_id.is_none_or(|w| r.workflow_id == w))
        .filter(|r| request.query("branch").is_none_or(|b| r.head_branch == b))
        .filter(|r| request.query("event").is_none_or(|e| r.event == e))
        .filter(|r| request.query("head_sha").is_none_or(|s| r.head_sha == s))
        .filter(|r| created_after.is_none_or(|t| r.first_created_at >= t))
        .filter(|r| {
            request.query("status").is_none_or(|s| {
                let phase = phase_at(r.created_at, r.duration_secs, r.outcome, r.cancelled_at, state.now);
                phase.status == s || phase.conclusion.map(|c| c.as_str()) == Some(s)
            })
        })
        .collect();
    runs.reverse(); // newest first, as GitHub lists them
    let page = page_of(runs.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> = runs[page.range.clone()].iter().map(|r| run_json(request.base_url, state, r)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Reply { status: 200, body: Some(json!({"total_count": runs.len(), "workflow_runs": body})), link }
}

/// `GET /repos/{owner}/{repo}/actions/runs`.
pub fn list_repo_runs(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo(state, request)?;
    Ok(list_runs(state, request, None))
}

/// `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs`.
pub fn list_workflow_runs(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo(state, request)?;
    default_branch_workflows(state, request);
    let workflow_id = find_workflow(find_repo(state, request)?, &request.params[2])?.id;
    Ok(list_runs(state, request, Some(workflow_id)))
}

fn find_run_index(state: &SimState, request: &RouteRequest<'_>) -> Result<usize, ApiError> {
    let id: u64 = request.params[2].parse().map_err(|_| ApiError::not_found())?;
    state
        .runs
        .iter()
        .position(|r| r.id == id && r.owner == request.params[0] && r.repo == request.params[1])
        .ok_or_else(ApiError::not_found)
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
pub fn get_run(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_run_index(state, request)?;
    Ok(Reply::ok(run_json(request.base_url, state, &state.runs[index])))
}

/// `POST …/runs/{run_id}/cancel`: 202, or 409 when already completed.
pub fn cancel_run(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_run_index(state, request)?;
    let now = state.now;
    let run = &mut state.runs[index];
    if phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, now).status == "completed" {
        return Err(ApiError::new(409, "Cannot cancel a workflow run that is completed."));
    }
    run.cancelled_at = Some(now);
    Ok(Reply::with_status(202, json!({})))
}

/// `POST …/runs/{run_id}/rerun-failed-jobs`: a new attempt with a freshly drawn outcome; 201.
pub fn rerun_failed_jobs(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_run_index(state, request)?;
    let now = state.now;
    let run = state.runs[index].clone();
    let phase = phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, now);
    if phase.status != "completed" {
        return Err(ApiError::new(403, "This workflow is already running"));
    }
    let outcome_spec = state
        .repo(&run.owner, &run.repo)
        .and_then(|r| r.workflows.iter().find(|w| w.id == run.workflow_id))
        .map(|w| w.spec.outcome)
        .unwrap_or_default();
    let outcome = state.draw_outcome(&outcome_spec);
    let run = &mut state.runs[index];
    run.run_attempt += 1;
    run.created_at = now;
    run.cancelled_at = None;
    run.outcome = outcome;
    Ok(Reply::with_status(201, json!({})))
}

/// `GET …/runs/{run_id}/jobs`: one job named after the workflow, mirroring the run's phase.
pub fn list_jobs(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let run = &state.runs[find_run_index(state, request)?];
    let phase = phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, state.now);
    let api = format!("{}/repos/{}/{}", request.base_url, run.owner, run.repo);
    let workflow_name = state
        .repo(&run.owner, &run.repo)
        .and_then(|r| Some(workflow_name(r, r.workflows.iter().find(|w| w.id == run.workflow_id)?)))
        .unwrap_or_default();
    let job_id = run.id * 10 + u64::from(run.run_attempt);
    let started = (phase.status != "queued").then(|| iso8601(run.created_at + crate::runs::QUEUE_SECS));
    let completed = (phase.status == "completed").then(|| iso8601(phase.updated_at));
    let job = json!({
        "id": job_id, "node_id": format!("J_{job_id}"), "run_id": run.id, "run_attempt": run.run_attempt,
        "run_url": format!("{api}/actions/runs/{}", run.id), "head_sha": run.head_sha, "head_branch": run.head_branch,
        "workflow_name": workflow_name, "name": "build", "url": format!("{api}/actions/jobs/{job_id}"),
        "html_url": format!("{}/{}/{}/actions/runs/{}/job/{job_id}", html_root(request.base_url), run.owner, run.repo, run.id),
        "status": phase.status, "conclusion": phase.conclusion.map(|c| c.as_str()),
        "created_at": iso8601(run.created_at), "started_at": started.clone().unwrap_or_else(|| iso8601(run.created_at)),
        "completed_at": completed, "check_run_url": format!("{api}/check-runs/{job_id}"),
        "labels": ["ubuntu-latest"], "runner_id": null, "runner_name": null, "runner_group_id": null,
        "runner_group_name": null, "steps": [],
    });
    Ok(Reply::ok(json!({"total_count": 1, "jobs": [job]})))
}
