//! Commits: the history of a branch (first parents, newest first) and one commit.

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::pagination::{link_header, page_of};
use crate::state::{GitCommit, Repo, SimState};

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// The git author/committer object of a commit.
pub fn git_person(commit: &GitCommit) -> Value {
    json!({"name": commit.author, "email": commit.email(), "date": iso8601(commit.date)})
}

/// GitHub's `commit` shape (the REST commit, with its git commit inside).
pub fn commit_json(base: &str, repo: &Repo, commit: &GitCommit) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let sha = &commit.sha;
    let person = git_person(commit);
    let parents: Vec<Value> = commit
        .parents
        .iter()
        .map(|p| {
            json!({"sha": p, "url": format!("{api}/commits/{p}"),
                "html_url": format!("{}/{}/{}/commit/{p}", html_root(base), repo.owner, repo.spec.name)})
        })
        .collect();
    json!({
        "sha": sha, "node_id": format!("C_{sha}"), "url": format!("{api}/commits/{sha}"),
        "html_url": format!("{}/{}/{}/commit/{sha}", html_root(base), repo.owner, repo.spec.name),
        "comments_url": format!("{api}/commits/{sha}/comments"), "author": null, "committer": null, "parents": parents,
        "commit": {
            "url": format!("{api}/git/commits/{sha}"), "author": person, "committer": person, "message": commit.message,
            "comment_count": 0, "tree": {"sha": commit.tree, "url": format!("{api}/git/trees/{}", commit.tree)},
        },
    })
}

/// `GET /repos/{owner}/{repo}/commits` (`sha`: branch or commit, default branch when absent; `per_page`, `page`).
pub fn list_commits(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let start = request.query("sha").unwrap_or(&repo.spec.default_branch);
    let head = repo.resolve(start).ok_or_else(ApiError::not_found)?;
    let mut history = vec![head];
    while let Some(parent) = history.last().and_then(|c| c.parents.first()).and_then(|p| repo.commits.get(p)) {
        history.push(parent);
    }
    let page = page_of(history.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> = history[page.range.clone()].iter().map(|c| commit_json(request.base_url, repo, c)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// `GET /repos/{owner}/{repo}/commits/{ref}` (a branch or a commit sha).
pub fn get_commit(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let commit = repo
        .resolve(&request.params[2])
        .ok_or_else(|| ApiError::unprocessable(format!("No commit found for SHA: {}", request.params[2])))?;
    Ok(Reply::ok(commit_json(request.base_url, repo, commit)))
}
