//! Pull requests: create, list (`state`, `head`, `base`), get. Numbers are shared with issues, as on GitHub.

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::pagination::{link_header, page_of};
use crate::state::{Pull, Repo, SimState, BOT_LOGIN};
use crate::views::{repo_json, user_json};

fn branch_end(base: &str, repo: &Repo, branch: &str) -> Value {
    let sha = repo.branches.get(branch).cloned().unwrap_or_default();
    json!({
        "label": format!("{}:{branch}", repo.owner), "ref": branch, "sha": sha,
        "repo": repo_json(base, repo), "user": user_json(base, &repo.owner, "Organization"),
    })
}

/// GitHub's `pull-request-simple` shape (the list item); `full` adds the fields of `pull-request`.
pub fn pull_json(base: &str, repo: &Repo, pull: &Pull, full: bool) -> Value {
    let api = format!("{base}/repos/{}/{}", pull.owner, pull.repo);
    let html = format!("{}/{}/{}/pull/{}", html_root(base), pull.owner, pull.repo, pull.number);
    let n = pull.number;
    let href = |url: String| json!({"href": url});
    let mut body = json!({
        "url": format!("{api}/pulls/{n}"), "id": pull.id, "node_id": format!("PR_{}", pull.id), "html_url": html,
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"), "issue_url": format!("{api}/issues/{n}"),
        "commits_url": format!("{api}/pulls/{n}/commits"), "review_comments_url": format!("{api}/pulls/{n}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"), "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", repo.branches.get(&pull.head).cloned().unwrap_or_default()),
        "number": n, "state": pull.state, "locked": false, "title": pull.title, "user": user_json(base, &pull.creator, "Bot"),
        "body": pull.body, "labels": [], "milestone": null, "assignee": null, "assignees": [], "requested_reviewers": [],
        "created_at": iso8601(pull.created_at), "updated_at": iso8601(pull.updated_at), "closed_at": pull.closed_at.map(iso8601),
        "merged_at": pull.merged_at.map(iso8601), "merge_commit_sha": pull.merge_commit_sha, "draft": pull.draft,
        "head": branch_end(base, repo, &pull.head), "base": branch_end(base, repo, &pull.base),
        "_links": {
            "self": href(format!("{api}/pulls/{n}")), "html": href(html.clone()), "issue": href(format!("{api}/issues/{n}")),
            "comments": href(format!("{api}/issues/{n}/comments")), "review_comments": href(format!("{api}/pulls/{n}/comments")),
            "review_comment": href(format!("{api}/pulls/comments{{/number}}")), "commits": href(format!("{api}/pulls/{n}/commits")),
            "statuses": href(format!("{api}/statuses/{}", repo.branches.get(&pull.head).cloned().unwrap_or_default())),
        },
        "author_association": "NONE",
        "auto_merge": pull.auto_merge.as_ref().map(|auto| json!({
            "enabled_by": user_json(base, &auto.enabled_by, "Bot"), "merge_method": auto.merge_method,
            // GitHub's defaults: the pull request's title and number, and an empty message.
            "commit_title": format!("{} (#{})", pull.title, pull.number), "commit_message": "",
        })),
    });
    if let (true, Some(object)) = (full, body.as_object_mut()) {
        let changed = changed_files(repo, pull);
        // GitHub computes mergeability for open pull requests only; a closed one answers `null` and `unknown`.
        let (mergeable, mergeable_state) = match pull.state.as_str() {
            "open" => {
                let state = crate::merging::mergeable_state(repo, pull);
                (json!(state != "dirty"), json!(state))
            }
            _ => (Value::Null, json!("unknown")),
        };
        let merged_by = pull.merged_by.as_ref().map(|login| user_json(base, login, "Bot"));
        for (field, value) in [
            ("merged", json!(pull.merged_at.is_some())),
            ("mergeable", mergeable),
            ("mergeable_state", mergeable_state),
            ("merged_by", json!(merged_by)),
            ("comments", json!(0)),
            ("review_comments", json!(0)),
            ("maintainer_can_modify", json!(false)),
            ("commits", json!(1)),
            ("additions", json!(0)),
            ("deletions", json!(0)),
            ("changed_files", json!(changed)),
        ] {
            object.insert(field.into(), value);
        }
    }
    body
}

/// Files that differ between the pull request's base and head.
fn changed_files(repo: &Repo, pull: &Pull) -> usize {
    let (Some(head), Some(base)) = (repo.files_at(&pull.head), repo.files_at(&pull.base)) else { return 0 };
    let changed = head.iter().filter(|(path, content)| base.get(*path) != Some(content)).count();
    changed + base.keys().filter(|path| !head.contains_key(*path)).count()
}

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// A `head` given as `owner:branch` or `branch`; `None` when it names another owner (forks are not modelled).
fn head_branch<'a>(head: &'a str, owner: &str) -> Option<&'a str> {
    match head.split_once(':') {
        Some((head_owner, branch)) => (head_owner == owner).then_some(branch),
        None => Some(head),
    }
}

/// `POST /repos/{owner}/{repo}/pulls` (`title`, `head`, `base`, `body`): 201; 422 when the branches do not exist, have
/// nothing between them, or an open pull request already joins them.
pub fn create_pull(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let field = |name: &str| request.body.get(name).and_then(Value::as_str);
    let (owner, name) = (&request.params[0], &request.params[1]);
    let repo = find_repo(state, request)?;
    let (Some(head), Some(base)) = (field("head"), field("base")) else {
        return Err(ApiError::unprocessable("Validation Failed"));
    };
    let title = field("title")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::validation("PullRequest", "title is missing"))?;
    let head = head_branch(head, owner).ok_or_else(|| ApiError::validation("PullRequest", "head is invalid"))?;
    let (Some(head_sha), Some(base_sha)) = (repo.branches.get(head), repo.branches.get(base)) else {
        return Err(ApiError::validation("PullRequest", format!("head {head} or base {base} does not exist")));
    };
    if head_sha == base_sha || repo.is_ancestor(head_sha, base_sha) {
        return Err(ApiError::validation("PullRequest", format!("No commits between {base} and {head}")));
    }
    let duplicate = state
        .pulls
        .iter()
        .any(|p| &p.owner == owner && &p.repo == name && p.head == head && p.base == base && p.state == "open");
    if duplicate {
        return Err(ApiError::validation("PullRequest", format!("A pull request already exists for {owner}:{head}.")));
    }
    let number = state.next_number(owner, name);
    let pull = Pull {
        id: state.next_id(),
        owner: owner.clone(),
        repo: name.clone(),
        number,
        title: title.to_string(),
        body: field("body").map(String::from),
        head: head.to_string(),
        base: base.to_string(),
        state: "open".into(),
        creator: BOT_LOGIN.into(),
        created_at: state.now,
        updated_at: state.now,
        closed_at: None,
        comments: Vec::new(),
        draft: request.body.get("draft").and_then(Value::as_bool).unwrap_or(false),
        merged_at: None,
        merge_commit_sha: None,
        merged_by: None,
        auto_merge: None,
    };
    let body = pull_json(request.base_url, find_repo(state, request)?, &pull, true);
    state.pulls.push(pull);
    state.touch_repo(owner, name);
    Ok(Reply::with_status(201, body))
}

/// `GET /repos/{owner}/{repo}/pulls` (`state` open|closed|all, `head` `owner:branch`, `base`), newest first.
pub fn list_pulls(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let (owner, name) = (&request.params[0], &request.params[1]);
    let wanted_state = request.query("state").unwrap_or("open");
    // GitHub ignores a `head` without the `owner:` prefix; one naming another owner matches nothing here.
    let head = request.query("head").filter(|h| h.contains(':')).map(|h| head_branch(h, owner));
    let mut pulls: Vec<&Pull> = state
        .pulls
        .iter()
        .filter(|p| &p.owner == owner && &p.repo == name)
        .filter(|p| wanted_state == "all" || p.state == wanted_state)
        .filter(|p| head.is_none_or(|h| h == Some(p.head.as_str())))
        .filter(|p| request.query("base").is_none_or(|b| p.base == b))
        .collect();
    pulls.reverse();
    let page = page_of(pulls.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> =
        pulls[page.range.clone()].iter().map(|p| pull_json(request.base_url, repo, p, false)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`.
pub fn get_pull(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    let number: u64 = request.params[2].parse().map_err(|_| ApiError::not_found())?;
    let pull = state
        .pulls
        .iter()
        .find(|p| p.owner == request.params[0] && p.repo == request.params[1] && p.number == number)
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(pull_json(request.base_url, repo, pull, true)))
}
