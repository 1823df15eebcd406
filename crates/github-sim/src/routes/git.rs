//! Git reads: branches, refs and trees.

use serde_json::{json, Value};

use super::commits::commit_json;
use super::{ApiError, Reply, RouteRequest};
use crate::enterprise::html_root;
use crate::fixture::GitLimits;
use crate::git_object::EntryKind;
use crate::state::{Repo, SimState};

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
    // Branch protection (not rulesets, which `rules/branches/{branch}` shows) with its required status checks.
    let protection = match repo.spec.merge.protected_branches.get(branch) {
        Some(contexts) => json!({
            "enabled": true,
            "required_status_checks": super::merges::status_check_policy(request.base_url, repo, branch, contexts),
        }),
        None => {
            json!({"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}})
        }
    };
    Ok(Reply::ok(json!({
        "name": branch, "commit": commit_json(request.base_url, repo, commit),
        "protected": repo.spec.merge.protected_branches.contains_key(branch), "protection": protection,
        "protection_url": format!("{api}/branches/{branch}/protection"),
        "_links": {"self": format!("{api}/branches/{branch}"), "html": format!("{}/{}/{}/tree/{branch}", html_root(request.base_url), repo.owner, repo.spec.name)},
    })))
}

/// `GET /repos/{owner}/{repo}/git/ref/{ref}` (`heads/<branch>`; tags are not modelled).
pub fn get_ref(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let branch = request.params[2].strip_prefix("heads/").ok_or_else(ApiError::not_found)?;
    let sha = repo.branches.get(branch).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(ref_json(request.base_url, repo, branch, sha)))
}

/// One entry of a tree listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Path from the listed tree.
    pub path: String,
    /// File or directory.
    pub kind: EntryKind,
    /// The blob's or subtree's git id.
    pub sha: String,
    /// Blob size.
    pub size: Option<usize>,
}

/// The entries of the tree object `sha`: its own (`recursive` false), or every entry below it in git's pre-order
/// (a directory, then what it holds), as `git ls-tree -r -t` lists them. `None` when `sha` is not a tree object.
pub fn list_tree(repo: &Repo, sha: &str, recursive: bool) -> Option<Vec<ListedEntry>> {
    let mut listed = Vec::new();
    list_into(repo, sha, "", recursive, &mut listed)?;
    Some(listed)
}

fn list_into(repo: &Repo, sha: &str, prefix: &str, recursive: bool, out: &mut Vec<ListedEntry>) -> Option<()> {
    for entry in repo.tree_entries.get(sha)? {
        let path = format!("{prefix}{}", entry.name);
        out.push(ListedEntry { path: path.clone(), kind: entry.kind, sha: entry.sha.clone(), size: entry.size });
        if recursive && entry.kind == EntryKind::Tree {
            list_into(repo, &entry.sha, &format!("{path}/"), true, out)?;
        }
    }
    Some(())
}

/// GitHub's `git-tree` shape for the tree object `sha`. A recursive listing past `limits` (entries or bytes) is cut
/// there and answers `truncated: true`, as GitHub does; a non-recursive one is never truncated. `None` when `sha` is
/// not a tree object.
pub fn tree_json(base: &str, repo: &Repo, sha: &str, recursive: bool, limits: &GitLimits) -> Option<Value> {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let mut tree = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    for entry in list_tree(repo, sha, recursive)? {
        let url = format!("{api}/git/{}s/{}", entry.kind.as_str(), entry.sha);
        let mut json = json!({"path": entry.path, "mode": entry.kind.mode(), "type": entry.kind.as_str(),
            "sha": entry.sha, "url": url});
        if let (Some(size), Some(object)) = (entry.size, json.as_object_mut()) {
            object.insert("size".into(), json!(size));
        }
        bytes += json.to_string().len() + 1;
        if recursive && (tree.len() >= limits.tree_entry_limit || bytes > limits.tree_bytes_limit) {
            truncated = true;
            break;
        }
        tree.push(json);
    }
    Some(json!({"sha": sha, "url": format!("{api}/git/trees/{sha}"), "truncated": truncated, "tree": tree}))
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}`: a tree object by its sha (the root or any subtree), or the root
/// tree of a commit or branch; `recursive`, whatever its value (`0` and `false` too, as GitHub documents), lists
/// every entry below it.
pub fn get_tree(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let wanted = &request.params[2];
    let sha = match repo.tree_entries.contains_key(wanted) {
        true => wanted.clone(),
        false => repo.resolve(wanted).ok_or_else(ApiError::not_found)?.tree.clone(),
    };
    // GitHub: "Setting this parameter to any value" lists recursively, `0` and `false` included.
    let recursive = request.query("recursive").is_some();
    let body = tree_json(request.base_url, repo, &sha, recursive, &state.git_limits).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_lists_in_git_pre_order_and_subtrees_are_addressable() {
        let mut state = SimState::from_fixture(&crate::Fixture::default());
        let files = std::collections::BTreeMap::from([
            ("a/b/c.rs".to_string(), "x".to_string()),
            ("a-b".to_string(), "y".to_string()),
            ("README.md".to_string(), "hi".to_string()),
        ]);
        state.add_repo("o", crate::fixture::RepoFixture { name: "r".into(), files, ..Default::default() });
        let repo = state.repo("o", "r").expect("repo");
        let root = repo.commits[&repo.head_sha].tree.clone();
        let all: Vec<String> = list_tree(repo, &root, true).expect("tree").into_iter().map(|e| e.path).collect();
        assert_eq!(all, ["README.md", "a-b", "a", "a/b", "a/b/c.rs"]);
        let top = list_tree(repo, &root, false).expect("tree");
        let a = top.iter().find(|e| e.path == "a").expect("a");
        let below: Vec<String> = list_tree(repo, &a.sha, true).expect("subtree").into_iter().map(|e| e.path).collect();
        assert_eq!(below, ["b", "b/c.rs"]);
        let limits = GitLimits { tree_entry_limit: 2, ..GitLimits::default() };
        let cut = tree_json("http://h", repo, &root, true, &limits).expect("tree");
        assert_eq!((cut["truncated"].as_bool(), cut["tree"].as_array().map(Vec::len)), (Some(true), Some(2)));
        let whole = tree_json("http://h", repo, &root, false, &limits).expect("tree");
        assert_eq!(whole["truncated"], false, "a non-recursive listing is never truncated");
    }
}
