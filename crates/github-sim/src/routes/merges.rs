//! Merging: the merge route, the checks and statuses of a commit, and the status checks branch protection and
//! rulesets require (see [`crate::merging`] for the model).

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::merging::{self, combined_state, run_status};
use crate::pagination::{link_header, page_of};
use crate::state::{sha_of, Repo, SimState, BOT_LOGIN};
use crate::views::repo_json;

/// `PUT …/pulls/{pull_number}/merge`.
pub const MERGE: &str = "/repos/{owner}/{repo}/pulls/{pull_number}/merge";
/// `GET …/commits/{ref}/check-runs`.
pub const CHECK_RUNS: &str = "/repos/{owner}/{repo}/commits/{ref}/check-runs";
/// `GET …/commits/{ref}/status`.
pub const COMBINED_STATUS: &str = "/repos/{owner}/{repo}/commits/{ref}/status";
/// `GET …/rules/branches/{branch}`.
pub const BRANCH_RULES: &str = "/repos/{owner}/{repo}/rules/branches/{branch}";
/// `GET …/branches/{branch}/protection/required_status_checks`.
pub const REQUIRED_STATUS_CHECKS: &str = "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks";

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge` (`merge_method`, `sha`, `commit_title`, `commit_message`):
/// 200 with the merge commit; 405 when it cannot be merged (closed, draft, a method the repository does not allow,
/// a required check not passed, conflicts); 409 when `sha` is not the head; 422 for an unknown method.
pub fn merge_pull(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo(state, request)?;
    let number: u64 = request.params[2].parse().map_err(|_| ApiError::not_found())?;
    let (owner, name) = (&request.params[0], &request.params[1]);
    let index = state
        .pulls
        .iter()
        .position(|p| &p.owner == owner && &p.repo == name && p.number == number)
        .ok_or_else(ApiError::not_found)?;
    let method = request.body.get("merge_method").and_then(Value::as_str).unwrap_or("merge");
    if !["merge", "squash", "rebase"].contains(&method) {
        return Err(ApiError::validation("PullRequest", format!("Invalid merge_method: {method}")));
    }
    let repo = find_repo(state, request)?;
    let pull = &state.pulls[index];
    if let Some(sha) = request.body.get("sha").and_then(Value::as_str) {
        if pull.state == "open" && repo.branches.get(&pull.head).map(String::as_str) != Some(sha) {
            return Err(ApiError::new(409, "Head branch was modified. Review and try the merge again."));
        }
    }
    let sha = merging::merge(state, index, method, BOT_LOGIN)
        .map_err(|refusal| ApiError::new(refusal.status, refusal.message))?;
    Ok(Reply::ok(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"})))
}

/// The commit a `{ref}` names, or GitHub's 422 for a ref that names none.
fn commit_sha(repo: &Repo, git_ref: &str) -> Result<String, ApiError> {
    repo.resolve(git_ref)
        .map(|commit| commit.sha.clone())
        .ok_or_else(|| ApiError::unprocessable(format!("No commit found for SHA: {git_ref}")))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` (`check_name`, `status`, paginated).
pub fn check_runs(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let sha = commit_sha(repo, &request.params[2])?;
    let base = request.base_url;
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let html = format!("{}/{}/{}", html_root(base), repo.owner, repo.spec.name);
    let checks = repo.checks_of(&sha);
    let runs: Vec<Value> = checks
        .check_runs
        .iter()
        .filter(|(name, _)| request.query("check_name").is_none_or(|wanted| wanted == name.as_str()))
        .filter(|(_, value)| request.query("status").is_none_or(|wanted| wanted == run_status(value).0))
        .map(|(name, value)| {
            let (status, conclusion) = run_status(value);
            let id = u64::from_str_radix(&sha_of(&format!("{sha}/{name}"))[..8], 16).unwrap_or(1);
            let at = iso8601(repo.commits.get(&sha).map(|c| c.date).unwrap_or_default());
            json!({
                "id": id, "node_id": format!("CR_{id}"), "head_sha": sha, "external_id": "", "name": name,
                "url": format!("{api}/check-runs/{id}"), "html_url": format!("{html}/runs/{id}"),
                "details_url": format!("{html}/runs/{id}"), "status": status, "conclusion": conclusion,
                "started_at": at, "completed_at": conclusion.map(|_| at.clone()),
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                           "annotations_url": format!("{api}/check-runs/{id}/annotations")},
                "check_suite": {"id": id}, "app": null, "pull_requests": [],
            })
        })
        .collect();
    let page = page_of(runs.len(), request.query("per_page"), request.query("page"));
    let link = link_header(&format!("{base}{}", request.path), &request.query, &page);
    let body = json!({"total_count": runs.len(), "check_runs": runs[page.range.clone()]});
    Ok(Reply { status: 200, body: Some(body), link })
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the latest status per context and their combined state.
pub fn combined_status(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let sha = repo.resolve(&request.params[2]).map(|c| c.sha.clone()).ok_or_else(ApiError::not_found)?;
    let base = request.base_url;
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let statuses = repo.checks_of(&sha).statuses;
    let at = iso8601(repo.commits.get(&sha).map(|c| c.date).unwrap_or_default());
    let listed: Vec<Value> = statuses
        .iter()
        .map(|(context, state)| {
            let id = u64::from_str_radix(&sha_of(&format!("{sha}/status/{context}"))[..8], 16).unwrap_or(1);
            json!({
                "id": id, "node_id": format!("SC_{id}"), "state": state, "context": context, "description": null,
                "target_url": null, "avatar_url": null, "url": format!("{api}/statuses/{sha}"),
                "created_at": at, "updated_at": at,
            })
        })
        .collect();
    let page = page_of(listed.len(), request.query("per_page"), request.query("page"));
    Ok(Reply::ok(json!({
        "state": combined_state(&statuses), "statuses": listed[page.range.clone()], "sha": sha,
        "total_count": listed.len(), "repository": minimal_repository(base, repo),
        "commit_url": format!("{api}/commits/{sha}"), "url": format!("{api}/commits/{sha}/status"),
    })))
}

/// GitHub's `minimal-repository` shape, from the full one.
fn minimal_repository(base: &str, repo: &Repo) -> Value {
    repo_json(base, repo)
}

/// `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the rules active on a branch; the simulator models the
/// `required_status_checks` rule of the repository's rulesets.
pub fn branch_rules(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let branch = &request.params[2];
    let rules: Vec<Value> = repo
        .spec
        .merge
        .ruleset_required_checks
        .get(branch)
        .map(|contexts| {
            let checks: Vec<Value> = contexts.iter().map(|context| json!({"context": context})).collect();
            json!({
                "type": "required_status_checks",
                "parameters": {"required_status_checks": checks, "strict_required_status_checks_policy": false},
                "ruleset_source_type": "Repository", "ruleset_source": format!("{}/{}", repo.owner, repo.spec.name),
                "ruleset_id": repo.id,
            })
        })
        .into_iter()
        .collect();
    let page = page_of(rules.len(), request.query("per_page"), request.query("page"));
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(rules[page.range.clone()].to_vec())), link })
}

/// The `required_status_checks` of a protected branch, as the branch and protection routes show it.
pub fn status_check_policy(base: &str, repo: &Repo, branch: &str, contexts: &[String]) -> Value {
    let url =
        format!("{base}/repos/{}/{}/branches/{branch}/protection/required_status_checks", repo.owner, repo.spec.name);
    let checks: Vec<Value> = contexts.iter().map(|context| json!({"context": context, "app_id": null})).collect();
    json!({
        "url": url, "enforcement_level": "non_admins", "contexts": contexts, "checks": checks,
        "contexts_url": format!("{url}/contexts"), "strict": false,
    })
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks`: 404 `Branch not protected`
/// (or `Required status checks not enabled`) when there are none.
pub fn required_status_checks(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let branch = &request.params[2];
    if !repo.branches.contains_key(branch) {
        return Err(ApiError::new(404, "Branch not found"));
    }
    let contexts =
        repo.spec.merge.protected_branches.get(branch).ok_or_else(|| ApiError::new(404, "Branch not protected"))?;
    if contexts.is_empty() {
        return Err(ApiError::new(404, "Required status checks not enabled"));
    }
    Ok(Reply::ok(status_check_policy(request.base_url, repo, branch, contexts)))
}
