//! Git reads: branches, refs and trees of the default branch.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::state::{sha_of, Repo, SimState};

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// The sha of the default branch's root tree.
pub fn root_tree_sha(repo: &Repo) -> String {
    sha_of(&format!("tree:{}", repo.head_sha))
}

fn commit_json(base: &str, repo: &Repo) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let sha = &repo.head_sha;
    let person = json!({"name": "sim", "email": "sim@example.invalid", "date": iso8601(repo.created_at)});
    json!({
        "sha": sha, "node_id": format!("C_{sha}"), "url": format!("{api}/commits/{sha}"),
        "html_url": format!("{base}/{}/{}/commit/{sha}", repo.owner, repo.spec.name),
        "comments_url": format!("{api}/commits/{sha}/comments"), "author": null, "committer": null, "parents": [],
        "commit": {
            "url": format!("{api}/git/commits/{sha}"), "author": person, "committer": person, "message": "head",
            "comment_count": 0, "tree": {"sha": root_tree_sha(repo), "url": format!("{api}/git/trees/{}", root_tree_sha(repo))},
        },
    })
}

/// `GET /repos/{owner}/{repo}/branches/{branch}` (the default branch only).
pub fn get_branch(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if request.params[2] != repo.spec.default_branch {
        return Err(ApiError { status: 404, message: "Branch not found".into() });
    }
    let api = format!("{}/repos/{}/{}", request.base_url, repo.owner, repo.spec.name);
    let branch = &repo.spec.default_branch;
    Ok(Reply::ok(json!({
        "name": branch, "commit": commit_json(request.base_url, repo), "protected": false,
        "protection": {"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": format!("{api}/branches/{branch}/protection"),
        "_links": {"self": format!("{api}/branches/{branch}"), "html": format!("{}/{}/{}/tree/{branch}", request.base_url, repo.owner, repo.spec.name)},
    })))
}

/// `GET /repos/{owner}/{repo}/git/ref/{ref}` (`heads/<default branch>` only).
pub fn get_ref(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if request.params[2] != format!("heads/{}", repo.spec.default_branch) {
        return Err(ApiError::not_found());
    }
    let api = format!("{}/repos/{}/{}", request.base_url, repo.owner, repo.spec.name);
    Ok(Reply::ok(json!({
        "ref": format!("refs/{}", request.params[2]), "node_id": format!("REF_{}", repo.head_sha),
        "url": format!("{api}/git/refs/{}", request.params[2]),
        "object": {"type": "commit", "sha": repo.head_sha, "url": format!("{api}/git/commits/{}", repo.head_sha)},
    })))
}

/// Tree entries for `files` (`recursive`: every blob and directory; else the top level only).
pub fn tree_entries(
    files: &std::collections::BTreeMap<String, String>,
    recursive: bool,
) -> Vec<(String, &'static str, Option<usize>)> {
    let mut directories = BTreeSet::new();
    let mut entries = Vec::new();
    for (path, content) in files {
        let segments: Vec<&str> = path.split('/').collect();
        for depth in 1..segments.len() {
            directories.insert(segments[..depth].join("/"));
        }
        if recursive || segments.len() == 1 {
            entries.push((path.clone(), "blob", Some(content.len())));
        }
    }
    entries.extend(directories.into_iter().filter(|d| recursive || !d.contains('/')).map(|d| (d, "tree", None)));
    entries.sort();
    entries
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}` (the default branch's tree, by tree sha, head sha or branch).
pub fn get_tree(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let wanted = &request.params[2];
    let root = root_tree_sha(repo);
    if wanted != &root && wanted != &repo.head_sha && wanted != &repo.spec.default_branch {
        return Err(ApiError::not_found());
    }
    let recursive = request.query("recursive").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let api = format!("{}/repos/{}/{}", request.base_url, repo.owner, repo.spec.name);
    let tree: Vec<Value> = tree_entries(&repo.spec.files, recursive)
        .into_iter()
        .map(|(path, kind, size)| {
            let sha = match size {
                Some(_) => sha_of(repo.spec.files.get(&path).map(String::as_str).unwrap_or("")),
                None => sha_of(&format!("{root}:{path}")),
            };
            let mode = if kind == "tree" { "040000" } else { "100644" };
            let url = format!("{api}/git/{}s/{sha}", kind);
            let mut entry = json!({"path": path, "mode": mode, "type": kind, "sha": sha, "url": url});
            if let (Some(size), Some(object)) = (size, entry.as_object_mut()) {
                object.insert("size".into(), json!(size));
            }
            entry
        })
        .collect();
    Ok(Reply::ok(json!({"sha": root, "url": format!("{api}/git/trees/{root}"), "truncated": false, "tree": tree})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_lists_directories_and_blobs() {
        let files = std::collections::BTreeMap::from([
            ("a/b/c.rs".to_string(), "x".to_string()),
            ("README.md".to_string(), "hi".to_string()),
        ]);
        let all: Vec<String> = tree_entries(&files, true).into_iter().map(|e| format!("{}:{}", e.1, e.0)).collect();
        assert_eq!(all.len(), 4);
        for expected in ["blob:README.md", "tree:a", "tree:a/b", "blob:a/b/c.rs"] {
            assert!(all.contains(&expected.to_string()), "{all:?}");
        }
        let top: Vec<String> = tree_entries(&files, false).into_iter().map(|e| e.0).collect();
        assert_eq!(top, vec!["README.md", "a"]);
    }
}
