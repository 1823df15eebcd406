//! Git reads: branches, refs and trees.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::commits::commit_json;
use super::{ApiError, Reply, RouteRequest};
use crate::state::{blob_sha_of, sha_of, Repo, SimState};

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// GitHub's `git-ref` shape for a branch.
pub fn ref_json(base: &str, repo: &Repo, branch: &str, sha: &str) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    json!({
        "ref": format!("refs/heads/{branch}"), "node_id": format!("REF_{branch}_{sha}"),
        "url": format!("{api}/git/refs/heads/{branch}"),
        "object": {"type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}")},
    })
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`.
pub fn get_branch(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let branch = &request.params[2];
    let commit = repo
        .branches
        .get(branch)
        .and_then(|sha| repo.commits.get(sha))
        .ok_or_else(|| ApiError::new(404, "Branch not found"))?;
    let api = format!("{}/repos/{}/{}", request.base_url, repo.owner, repo.spec.name);
    Ok(Reply::ok(json!({
        "name": branch, "commit": commit_json(request.base_url, repo, commit), "protected": false,
        "protection": {"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": format!("{api}/branches/{branch}/protection"),
        "_links": {"self": format!("{api}/branches/{branch}"), "html": format!("{}/{}/{}/tree/{branch}", request.base_url, repo.owner, repo.spec.name)},
    })))
}

/// `GET /repos/{owner}/{repo}/git/ref/{ref}` (`heads/<branch>`; tags are not modelled).
pub fn get_ref(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let branch = request.params[2].strip_prefix("heads/").ok_or_else(ApiError::not_found)?;
    let sha = repo.branches.get(branch).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(ref_json(request.base_url, repo, branch, sha)))
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

/// GitHub's `git-tree` shape for a root tree.
pub fn tree_json(
    base: &str,
    repo: &Repo,
    sha: &str,
    files: &std::collections::BTreeMap<String, String>,
    recursive: bool,
) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let tree: Vec<Value> = tree_entries(files, recursive)
        .into_iter()
        .map(|(path, kind, size)| {
            let sha = match size {
                Some(_) => blob_sha_of(files.get(&path).map(String::as_str).unwrap_or("")),
                None => sha_of(&format!("{sha}:{path}")),
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
    json!({"sha": sha, "url": format!("{api}/git/trees/{sha}"), "truncated": false, "tree": tree})
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}`: a root tree by its sha, or the tree of a commit or branch
/// (`recursive=1` lists every entry). Subtrees are not addressable by their own sha.
pub fn get_tree(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let wanted = &request.params[2];
    let (sha, files) = match repo.trees.get_key_value(wanted) {
        Some((sha, files)) => (sha.clone(), files),
        None => {
            let commit = repo.resolve(wanted).ok_or_else(ApiError::not_found)?;
            (commit.tree.clone(), repo.trees.get(&commit.tree).ok_or_else(ApiError::not_found)?)
        }
    };
    let recursive = request.query("recursive").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    Ok(Reply::ok(tree_json(request.base_url, repo, &sha, files, recursive)))
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
