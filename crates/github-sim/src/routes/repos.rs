//! Repository reads and `/rate_limit`.

use serde_json::{json, Value};

use super::security::with_security_and_analysis;
use super::{ApiError, Reply, RouteRequest};
use crate::encoding::{base64_decode, base64_encode};
use crate::enterprise::html_root;
use crate::git_object::EntryKind;
use crate::pagination::{link_header, page_of};
use crate::state::{Repo, SimState};
use crate::views::repo_json;

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// `GET /rate_limit`.
pub fn rate_limit(state: &mut SimState, _request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    // The credential's budget is filled in by the server, which knows the caller.
    let _ = state;
    Ok(Reply::ok(json!({})))
}

/// `GET /orgs/{org}/repos` (each with `security_and_analysis` for an owner or security manager).
pub fn list_org_repos(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let org = &request.params[0];
    if !state.orgs.contains(org) {
        return Err(ApiError::not_found());
    }
    let kind = request.query("type").unwrap_or("all");
    let mut repos: Vec<&Repo> = state
        .repos
        .values()
        .filter(|r| &r.owner == org)
        .filter(|r| match kind {
            "public" => r.spec.visibility == "public",
            "private" => r.spec.visibility != "public",
            "forks" => r.spec.fork,
            "sources" => !r.spec.fork,
            _ => true,
        })
        .collect();
    // GitHub's defaults: `sort=created`; `direction` asc for `full_name`, else desc. Ties in name order.
    let sort = request.query("sort").unwrap_or("created");
    let ascending = request.query("direction").map_or(sort == "full_name", |d| d == "asc");
    repos.sort_by(|a, b| {
        let order = match sort {
            "full_name" => a.spec.name.cmp(&b.spec.name),
            _ => sort_time(a, sort).cmp(&sort_time(b, sort)),
        };
        let order = if ascending { order } else { order.reverse() };
        order.then_with(|| a.spec.name.cmp(&b.spec.name))
    });
    let page = page_of(repos.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> = repos[page.range.clone()]
        .iter()
        .map(|r| with_security_and_analysis(state, request.caller, r, repo_json(request.base_url, r)))
        .collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// The time a repository listing sorts by.
fn sort_time(repo: &Repo, sort: &str) -> i64 {
    match sort {
        "updated" => repo.updated_at,
        "pushed" => repo.pushed_at,
        _ => repo.created_at,
    }
}

/// `GET /repos/{owner}/{repo}` (with `security_and_analysis` for an owner or security manager).
pub fn get_repo(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    Ok(Reply::ok(with_security_and_analysis(state, request.caller, repo, repo_json(request.base_url, repo))))
}

/// `GET /repos/{owner}/{repo}/languages`: the primary language with the byte count of all files.
pub fn languages(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let bytes: usize = repo.spec.files.values().map(String::len).sum();
    let mut body = serde_json::Map::new();
    if let Some(language) = &repo.spec.language {
        body.insert(language.clone(), json!(bytes));
    }
    Ok(Reply::ok(Value::Object(body)))
}

/// `GET /repos/{owner}/{repo}/topics`.
pub fn topics(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(json!({"names": find_repo(state, request)?.spec.topics})))
}

/// GitHub's `content-file` shape. `inline_limit`: `None` leaves `content` and `encoding` out (a contents write's
/// answer); a file larger than the limit answers `encoding: "none"` with empty `content`, as GitHub does for files
/// between 1 and 100 MB (read the blob instead).
fn content_json(
    base: &str,
    repo: &Repo,
    git_ref: &str,
    path: &str,
    content: &str,
    inline_limit: Option<usize>,
) -> Value {
    let sha = crate::state::blob_sha_of(content);
    let mut body = entry_json(base, repo, git_ref, path, EntryKind::Blob, &sha, content.len());
    if let (Some(limit), Some(object)) = (inline_limit, body.as_object_mut()) {
        let (encoding, inlined) = match content.len() <= limit {
            true => ("base64", base64_encode(content.as_bytes())),
            false => ("none", String::new()),
        };
        object.insert("encoding".into(), json!(encoding));
        object.insert("content".into(), json!(inlined));
    }
    body
}

/// One item of a contents answer: a file or a directory, with its URLs.
fn entry_json(base: &str, repo: &Repo, git_ref: &str, path: &str, kind: EntryKind, sha: &str, size: usize) -> Value {
    let (owner, name) = (&repo.owner, &repo.spec.name);
    let url = format!("{base}/repos/{owner}/{name}/contents/{path}");
    let (html_kind, git_kind) = match kind {
        EntryKind::Blob => ("blob", "blobs"),
        EntryKind::Tree => ("tree", "trees"),
    };
    let html_url = format!("{}/{owner}/{name}/{html_kind}/{git_ref}/{path}", html_root(base));
    let git_url = format!("{base}/repos/{owner}/{name}/git/{git_kind}/{sha}");
    let download_url =
        (kind == EntryKind::Blob).then(|| format!("{}/raw/{owner}/{name}/{git_ref}/{path}", html_root(base)));
    json!({
        "type": if kind == EntryKind::Blob { "file" } else { "dir" }, "size": size,
        "name": path.rsplit('/').next().unwrap_or(path), "path": path, "sha": sha, "url": url,
        "git_url": git_url, "html_url": html_url, "download_url": download_url,
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

/// `GET /repos/{owner}/{repo}/contents/{path}` (`ref`: branch or sha, default branch when absent): a file (inlined
/// in base64 up to the inline limit), or a directory's entries (at most the directory limit).
pub fn contents(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let limits = state.git_limits;
    let path = request.params[2].trim_matches('/');
    let git_ref = request.query("ref").unwrap_or(&repo.spec.default_branch);
    let commit =
        repo.resolve(git_ref).ok_or_else(|| ApiError::new(404, format!("No commit found for the ref {git_ref}")))?;
    let mut tree = commit.tree.clone();
    let components: Vec<&str> = path.split('/').collect();
    for (i, component) in components.iter().enumerate() {
        let entry = repo
            .tree_entries
            .get(&tree)
            .and_then(|entries| entries.iter().find(|e| e.name == *component))
            .ok_or_else(ApiError::not_found)?;
        match (entry.kind, i + 1 == components.len()) {
            (EntryKind::Blob, true) => {
                let content = repo.blobs.get(&entry.sha).ok_or_else(ApiError::not_found)?;
                let body =
                    content_json(request.base_url, repo, git_ref, path, content, Some(limits.contents_inline_limit));
                return Ok(Reply::ok(body));
            }
            (EntryKind::Blob, false) => return Err(ApiError::not_found()),
            (EntryKind::Tree, _) => tree = entry.sha.clone(),
        }
    }
    let entries = repo.tree_entries.get(&tree).ok_or_else(ApiError::not_found)?;
    let listing: Vec<Value> = entries
        .iter()
        .take(limits.directory_entry_limit)
        .map(|e| {
            let child = format!("{path}/{}", e.name);
            entry_json(request.base_url, repo, git_ref, &child, e.kind, &e.sha, e.size.unwrap_or(0))
        })
        .collect();
    Ok(Reply::ok(Value::Array(listing)))
}

/// `PUT /repos/{owner}/{repo}/contents/{path}` (`message`, base64 `content`, `sha` of the file it replaces, `branch`):
/// one commit on the branch; 201 when the file is new, 200 when it replaced one; 409 on a stale `sha`, 422 without it.
pub fn put_contents(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let body_str = |field: &str| request.body.get(field).and_then(Value::as_str);
    let missing = |field: &str| ApiError::unprocessable(format!("Invalid request.\n\n\"{field}\" wasn't supplied."));
    let message = body_str("message").ok_or_else(|| missing("message"))?;
    let encoded = body_str("content").ok_or_else(|| missing("content"))?;
    let content = base64_decode(encoded)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::unprocessable("content is not valid Base64"))?;
    let (owner, name, path, now) =
        (request.params[0].clone(), request.params[1].clone(), request.params[2].clone(), state.now);
    let repo = state.repo_mut(&owner, &name).ok_or_else(ApiError::not_found)?;
    let branch = body_str("branch").unwrap_or(&repo.spec.default_branch).to_string();
    let before =
        repo.branches.get(&branch).cloned().ok_or_else(|| ApiError::new(404, format!("Branch {branch} not found")))?;
    let existing = repo.files_at(&before).and_then(|files| files.get(&path)).map(|c| crate::state::blob_sha_of(c));
    match (&existing, body_str("sha")) {
        (Some(_), None) => return Err(missing("sha")),
        (Some(current), Some(given)) if current != given => {
            return Err(ApiError::new(409, format!("{path} does not match {given}")))
        }
        _ => {}
    }
    let changes = std::collections::BTreeMap::from([(path.clone(), Some(content.clone()))]);
    let sha = repo.commit_changes(&branch, &changes, message, now).ok_or_else(ApiError::not_found)?;
    let commit = repo.commits.get(&sha).cloned().ok_or_else(ApiError::not_found)?;
    let body = json!({
        "content": content_json(request.base_url, repo, &branch, &path, &content, None),
        "commit": crate::routes::git_write::git_commit_json(request.base_url, repo, &commit),
    });
    state.emit_push(&owner, &name, &branch, Some(&before), &sha);
    Ok(Reply::with_status(if existing.is_some() { 200 } else { 201 }, body))
}
