//! Git writes: blobs, trees, commits and branch refs, so a client can build a branch with file changes the way the
//! Git Database API documents it. Objects are content-addressed, so sending the same one twice makes the same object.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::commits::git_person;
use super::git::{ref_json, tree_json};
use super::{ApiError, Reply, RouteRequest};
use crate::encoding::{base64_decode, base64_encode};
use crate::enterprise::html_root;
use crate::state::{blob_sha_of, GitCommit, Repo, SimState};

fn repo_mut<'a>(state: &'a mut SimState, request: &RouteRequest<'_>) -> Result<&'a mut Repo, ApiError> {
    state.repo_mut(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

fn body_str<'a>(request: &'a RouteRequest<'_>, field: &str) -> Option<&'a str> {
    request.body.get(field).and_then(Value::as_str)
}

/// `POST /repos/{owner}/{repo}/git/blobs` (`content`, `encoding` `utf-8` or `base64`): 201.
pub fn create_blob(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let content = body_str(request, "content")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"content\" wasn't supplied."))?;
    let text = match body_str(request, "encoding").unwrap_or("utf-8") {
        "base64" => base64_decode(content)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::unprocessable("content is not valid base64-encoded UTF-8"))?,
        "utf-8" | "utf8" => content.to_string(),
        other => return Err(ApiError::unprocessable(format!("encoding {other} is not supported"))),
    };
    let base = request.base_url;
    let repo = repo_mut(state, request)?;
    let sha = blob_sha_of(&text);
    repo.blobs.insert(sha.clone(), text);
    let url = format!("{base}/repos/{}/{}/git/blobs/{sha}", repo.owner, repo.spec.name);
    Ok(Reply::with_status(201, json!({"url": url, "sha": sha})))
}

/// `GET /repos/{owner}/{repo}/git/blobs/{file_sha}`: base64 content.
pub fn get_blob(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)?;
    let sha = &request.params[2];
    let content = repo.blobs.get(sha).ok_or_else(ApiError::not_found)?;
    let url = format!("{}/repos/{}/{}/git/blobs/{sha}", request.base_url, repo.owner, repo.spec.name);
    Ok(Reply::ok(json!({
        "content": base64_encode(content.as_bytes()), "encoding": "base64", "url": url, "sha": sha,
        "size": content.len(), "node_id": format!("B_{sha}"),
    })))
}

/// `POST /repos/{owner}/{repo}/git/trees` (`base_tree`, `tree` of blob entries with `content`, `sha`, or `sha: null`
/// to delete): 201 with the new root tree's top level. Entries of type `tree` or `commit` are not modelled (422).
pub fn create_tree(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let entries = request
        .body
        .get("tree")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"tree\" wasn't supplied."))?
        .clone();
    let (base, limits) = (request.base_url, state.git_limits);
    let repo = repo_mut(state, request)?;
    let mut files: BTreeMap<String, String> = match body_str(request, "base_tree") {
        Some(sha) => {
            repo.trees.get(sha).cloned().ok_or_else(|| ApiError::unprocessable("base_tree is not a valid tree oid"))?
        }
        None => BTreeMap::new(),
    };
    for entry in &entries {
        let path =
            entry.get("path").and_then(Value::as_str).ok_or_else(|| ApiError::unprocessable("tree.path is missing"))?;
        if entry.get("type").and_then(Value::as_str).unwrap_or("blob") != "blob" {
            return Err(ApiError::unprocessable(format!("tree entry {path}: only blobs are supported")));
        }
        match (entry.get("content").and_then(Value::as_str), entry.get("sha")) {
            (Some(content), _) => {
                files.insert(path.to_string(), content.to_string());
            }
            (None, Some(Value::Null)) => {
                // Deleting a path removes the file, or everything under a directory.
                let prefix = format!("{path}/");
                files.retain(|p, _| p != path && !p.starts_with(&prefix));
            }
            (None, Some(Value::String(sha))) => {
                let content = repo
                    .blobs
                    .get(sha)
                    .cloned()
                    .ok_or_else(|| ApiError::unprocessable(format!("tree.sha {sha} is not a valid blob")))?;
                files.insert(path.to_string(), content);
            }
            _ => return Err(ApiError::unprocessable(format!("tree entry {path} needs content or sha"))),
        }
    }
    let sha = repo.store_tree(files);
    let body = tree_json(base, repo, &sha, false, &limits).ok_or_else(ApiError::not_found)?;
    Ok(Reply::with_status(201, body))
}

/// GitHub's `git-commit` shape.
pub fn git_commit_json(base: &str, repo: &Repo, commit: &GitCommit) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let html = format!("{}/{}/{}/commit", html_root(base), repo.owner, repo.spec.name);
    let sha = &commit.sha;
    let parents: Vec<Value> = commit
        .parents
        .iter()
        .map(|p| json!({"sha": p, "url": format!("{api}/git/commits/{p}"), "html_url": format!("{html}/{p}")}))
        .collect();
    json!({
        "sha": sha, "node_id": format!("C_{sha}"), "url": format!("{api}/git/commits/{sha}"),
        "html_url": format!("{html}/{sha}"), "author": git_person(commit), "committer": git_person(commit),
        "message": commit.message, "tree": {"sha": commit.tree, "url": format!("{api}/git/trees/{}", commit.tree)},
        "parents": parents,
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    })
}

/// `POST /repos/{owner}/{repo}/git/commits` (`message`, `tree`, `parents`, `author`): 201.
pub fn create_commit(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let message = body_str(request, "message")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"message\" wasn't supplied."))?;
    let tree = body_str(request, "tree")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"tree\" wasn't supplied."))?;
    let parents: Vec<String> = request
        .body
        .get("parents")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    let author = request.body.pointer("/author/name").and_then(Value::as_str).unwrap_or("sim").to_string();
    let date = request
        .body
        .pointer("/author/date")
        .and_then(Value::as_str)
        .and_then(crate::clock::parse_date)
        .unwrap_or(state.now);
    let base = request.base_url;
    let repo = repo_mut(state, request)?;
    if !repo.trees.contains_key(tree) {
        return Err(ApiError::unprocessable("Tree SHA does not exist"));
    }
    if let Some(missing) = parents.iter().find(|p| !repo.commits.contains_key(*p)) {
        return Err(ApiError::unprocessable(format!("Parent SHA {missing} does not exist or is not a commit object")));
    }
    let sha = repo.store_commit(tree, parents, message, &author, date);
    let commit = repo.commits.get(&sha).cloned().ok_or_else(ApiError::not_found)?;
    Ok(Reply::with_status(201, git_commit_json(base, repo, &commit)))
}

/// `GET /repos/{owner}/{repo}/git/commits/{commit_sha}`.
pub fn get_git_commit(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)?;
    let commit = repo.commits.get(&request.params[2]).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(git_commit_json(request.base_url, repo, commit)))
}

/// `POST /repos/{owner}/{repo}/git/refs` (`ref` = `refs/heads/BRANCH`, `sha`): 201; 422 when it exists.
pub fn create_ref(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let full = body_str(request, "ref")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"ref\" wasn't supplied."))?;
    let sha = body_str(request, "sha")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"sha\" wasn't supplied."))?;
    let branch = full
        .strip_prefix("refs/heads/")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::unprocessable("Reference name must start with 'refs/heads/' (tags are not modelled)"))?
        .to_string();
    let (owner, name, base, now) = (request.params[0].clone(), request.params[1].clone(), request.base_url, state.now);
    let repo = repo_mut(state, request)?;
    if repo.branches.contains_key(&branch) {
        return Err(ApiError::unprocessable("Reference already exists"));
    }
    if !repo.commits.contains_key(sha) {
        return Err(ApiError::unprocessable("Object does not exist"));
    }
    repo.set_branch(&branch, sha, now);
    let body = ref_json(base, repo, &branch, sha);
    state.emit_push(&owner, &name, &branch, None, sha);
    Ok(Reply::with_status(201, body))
}

/// `PATCH /repos/{owner}/{repo}/git/refs/{ref}` (`heads/BRANCH`; `sha`, `force`): 200; 422 when the branch does not
/// exist or the move is not a fast-forward without `force`.
pub fn update_ref(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let sha = body_str(request, "sha")
        .ok_or_else(|| ApiError::unprocessable("Invalid request.\n\n\"sha\" wasn't supplied."))?
        .to_string();
    let force = request.body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let branch = request.params[2]
        .strip_prefix("heads/")
        .ok_or_else(|| ApiError::unprocessable("Reference does not exist"))?
        .to_string();
    let (owner, name, base, now) = (request.params[0].clone(), request.params[1].clone(), request.base_url, state.now);
    let repo = repo_mut(state, request)?;
    let before =
        repo.branches.get(&branch).cloned().ok_or_else(|| ApiError::unprocessable("Reference does not exist"))?;
    if !repo.commits.contains_key(&sha) {
        return Err(ApiError::unprocessable("Object does not exist"));
    }
    if !force && !repo.is_ancestor(&before, &sha) {
        return Err(ApiError::unprocessable("Update is not a fast forward"));
    }
    repo.set_branch(&branch, &sha, now);
    let body = ref_json(base, repo, &branch, &sha);
    state.emit_push(&owner, &name, &branch, Some(&before), &sha);
    Ok(Reply::ok(body))
}
