//! Issues and issue comments.

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::pagination::{link_header, page_of};
use crate::state::{Issue, SimState, BOT_LOGIN};
use crate::views::user_json;

fn issue_json(base: &str, issue: &Issue) -> Value {
    let api = format!("{base}/repos/{}/{}", issue.owner, issue.repo);
    let labels: Vec<Value> = issue
        .labels
        .iter()
        .map(|name| {
            json!({"id": u64::from_str_radix(&crate::state::sha_of(name)[..8], 16).unwrap_or(1), "node_id": format!("LA_{name}"),
                "url": format!("{api}/labels/{name}"), "name": name, "description": null, "color": "ededed", "default": false})
        })
        .collect();
    json!({
        "id": issue.id, "node_id": format!("I_{}", issue.id), "number": issue.number, "title": issue.title,
        "body": issue.body, "state": issue.state, "locked": false, "labels": labels, "assignee": null,
        "milestone": null, "comments": issue.comments.len(), "user": user_json(base, &issue.creator, "Bot"),
        "url": format!("{api}/issues/{}", issue.number),
        "html_url": format!("{}/{}/{}/issues/{}", html_root(base), issue.owner, issue.repo, issue.number),
        "comments_url": format!("{api}/issues/{}/comments", issue.number),
        "events_url": format!("{api}/issues/{}/events", issue.number),
        "labels_url": format!("{api}/issues/{}/labels{{/name}}", issue.number), "repository_url": api,
        "created_at": iso8601(issue.created_at), "updated_at": iso8601(issue.updated_at),
        "closed_at": issue.closed_at.map(iso8601),
    })
}

fn comment_json(base: &str, (owner, repo, number): Conversation<'_>, comment: &(u64, String, i64)) -> Value {
    let api = format!("{base}/repos/{owner}/{repo}");
    json!({
        "id": comment.0, "node_id": format!("IC_{}", comment.0), "body": comment.1,
        "user": user_json(base, BOT_LOGIN, "Bot"), "url": format!("{api}/issues/comments/{}", comment.0),
        "html_url": format!("{}/{owner}/{repo}/issues/{number}#issuecomment-{}", html_root(base), comment.0),
        "issue_url": format!("{api}/issues/{number}"),
        "created_at": iso8601(comment.2), "updated_at": iso8601(comment.2),
    })
}

fn check_repo(state: &SimState, request: &RouteRequest<'_>) -> Result<(), ApiError> {
    state.repo(&request.params[0], &request.params[1]).map(|_| ()).ok_or_else(ApiError::not_found)
}

/// An issue or a pull request: on GitHub every pull request is an issue too, under the same number.
#[derive(Debug, Clone, Copy)]
enum Numbered {
    /// An index into `SimState::issues`.
    Issue(usize),
    /// An index into `SimState::pulls`.
    Pull(usize),
}

fn find_numbered(state: &SimState, request: &RouteRequest<'_>) -> Result<Numbered, ApiError> {
    let number: u64 = request.params[2].parse().map_err(|_| ApiError::not_found())?;
    let (owner, repo) = (&request.params[0], &request.params[1]);
    if let Some(index) = state.issues.iter().position(|i| &i.owner == owner && &i.repo == repo && i.number == number) {
        return Ok(Numbered::Issue(index));
    }
    state
        .pulls
        .iter()
        .position(|p| &p.owner == owner && &p.repo == repo && p.number == number)
        .map(Numbered::Pull)
        .ok_or_else(ApiError::not_found)
}

/// The issue shape of an issue or pull request.
fn numbered_json(base: &str, state: &SimState, numbered: Numbered) -> Value {
    match numbered {
        Numbered::Issue(index) => issue_json(base, &state.issues[index]),
        Numbered::Pull(index) => pull_as_issue_json(base, &state.pulls[index]),
    }
}

/// `GET /repos/{owner}/{repo}/issues` (`labels` all required, `state` open|closed|all, `creator`).
pub fn list_issues(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    check_repo(state, request)?;
    let wanted_state = request.query("state").unwrap_or("open");
    let labels: Vec<&str> =
        request.query("labels").map(|l| l.split(',').filter(|l| !l.is_empty()).collect()).unwrap_or_default();
    let mut issues: Vec<(i64, u64, Value)> = state
        .issues
        .iter()
        .filter(|i| i.owner == request.params[0] && i.repo == request.params[1])
        .filter(|i| wanted_state == "all" || i.state == wanted_state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|have| have == l)))
        .filter(|i| request.query("creator").is_none_or(|c| i.creator == c))
        .map(|i| (i.created_at, i.number, issue_json(request.base_url, i)))
        .collect();
    // GitHub's issue list includes pull requests, marked by a `pull_request` object; they carry no labels here.
    if labels.is_empty() {
        issues.extend(
            state
                .pulls
                .iter()
                .filter(|p| p.owner == request.params[0] && p.repo == request.params[1])
                .filter(|p| wanted_state == "all" || p.state == wanted_state)
                .filter(|p| request.query("creator").is_none_or(|c| p.creator == c))
                .map(|p| (p.created_at, p.number, pull_as_issue_json(request.base_url, p))),
        );
    }
    // Newest first, as GitHub sorts by default.
    issues.sort_by_key(|(created, number, _)| std::cmp::Reverse((*created, *number)));
    let page = page_of(issues.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> = issues[page.range.clone()].iter().map(|(_, _, json)| json.clone()).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// A pull request as the issues API shows it.
fn pull_as_issue_json(base: &str, pull: &crate::state::Pull) -> Value {
    let issue = Issue {
        id: pull.id,
        owner: pull.owner.clone(),
        repo: pull.repo.clone(),
        number: pull.number,
        title: pull.title.clone(),
        body: pull.body.clone(),
        state: pull.state.clone(),
        labels: Vec::new(),
        creator: pull.creator.clone(),
        created_at: pull.created_at,
        updated_at: pull.updated_at,
        closed_at: pull.closed_at,
        comments: pull.comments.clone(),
    };
    let mut json = issue_json(base, &issue);
    let html = format!("{}/{}/{}/pull/{}", html_root(base), pull.owner, pull.repo, pull.number);
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "pull_request".into(),
            json!({"url": format!("{base}/repos/{}/{}/pulls/{}", pull.owner, pull.repo, pull.number),
                "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
                "merged_at": null}),
        );
        object.insert("html_url".into(), json!(html));
    }
    json
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items.iter().filter_map(|v| v.as_str().or_else(|| v.get("name")?.as_str())).map(String::from).collect()
        })
        .unwrap_or_default()
}

/// `POST /repos/{owner}/{repo}/issues` (201; 422 without a title).
pub fn create_issue(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    check_repo(state, request)?;
    let Some(title) = request.body.get("title").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        // GitHub's `validation-error`: which field of which resource is missing.
        let missing = json!([{"resource": "Issue", "code": "missing_field", "field": "title"}]);
        return Err(ApiError { errors: Some(missing), ..ApiError::unprocessable("Validation Failed") });
    };
    let number = state.next_number(&request.params[0], &request.params[1]);
    let issue = Issue {
        id: state.next_id(),
        owner: request.params[0].clone(),
        repo: request.params[1].clone(),
        number,
        title: title.to_string(),
        body: request.body.get("body").and_then(Value::as_str).map(String::from),
        state: "open".into(),
        labels: string_list(request.body.get("labels")),
        creator: BOT_LOGIN.into(),
        created_at: state.now,
        updated_at: state.now,
        closed_at: None,
        comments: Vec::new(),
    };
    let body = issue_json(request.base_url, &issue);
    state.issues.push(issue);
    state.touch_repo(&request.params[0], &request.params[1]);
    Ok(Reply::with_status(201, body))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}`: an issue, or a pull request in the issue shape (with its
/// `pull_request` object).
pub fn get_issue(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let numbered = find_numbered(state, request)?;
    Ok(Reply::ok(numbered_json(request.base_url, state, numbered)))
}

/// `PATCH /repos/{owner}/{repo}/issues/{issue_number}` (`title`, `body`, `state`, `labels`).
pub fn update_issue(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = match find_numbered(state, request)? {
        Numbered::Issue(index) => index,
        Numbered::Pull(index) => return update_pull_as_issue(state, request, index),
    };
    let now = state.now;
    let issue = &mut state.issues[index];
    if let Some(title) = request.body.get("title").and_then(Value::as_str) {
        issue.title = title.to_string();
    }
    if let Some(body) = request.body.get("body").and_then(Value::as_str) {
        issue.body = Some(body.to_string());
    }
    if request.body.get("labels").is_some() {
        issue.labels = string_list(request.body.get("labels"));
    }
    match request.body.get("state").and_then(Value::as_str) {
        Some("closed") if issue.state != "closed" => {
            issue.state = "closed".into();
            issue.closed_at = Some(now);
        }
        Some("open") => {
            issue.state = "open".into();
            issue.closed_at = None;
        }
        Some("closed") | None => {}
        Some(_) => return Err(ApiError::unprocessable("Validation Failed")),
    }
    issue.updated_at = now;
    let body = issue_json(request.base_url, issue);
    state.touch_repo(&request.params[0], &request.params[1]);
    Ok(Reply::ok(body))
}

/// A pull request changed through `PATCH /issues/{number}`: title, body and state (labels are not modelled on pull
/// requests).
fn update_pull_as_issue(state: &mut SimState, request: &RouteRequest<'_>, index: usize) -> Result<Reply, ApiError> {
    let now = state.now;
    let pull = &mut state.pulls[index];
    if let Some(title) = request.body.get("title").and_then(Value::as_str) {
        pull.title = title.to_string();
    }
    if let Some(body) = request.body.get("body").and_then(Value::as_str) {
        pull.body = Some(body.to_string());
    }
    match request.body.get("state").and_then(Value::as_str) {
        Some("closed") if pull.state != "closed" => {
            pull.state = "closed".into();
            pull.closed_at = Some(now);
        }
        Some("open") => {
            pull.state = "open".into();
            pull.closed_at = None;
        }
        Some("closed") | None => {}
        Some(_) => return Err(ApiError::unprocessable("Validation Failed")),
    }
    pull.updated_at = now;
    let body = pull_as_issue_json(request.base_url, pull);
    state.touch_repo(&request.params[0], &request.params[1]);
    Ok(Reply::ok(body))
}

/// Whose conversation: owner, repository, number.
type Conversation<'a> = (&'a str, &'a str, u64);

/// The comments of an issue or pull request, with who they belong to.
fn comments_of(state: &SimState, numbered: Numbered) -> (Conversation<'_>, &[(u64, String, i64)]) {
    match numbered {
        Numbered::Issue(index) => {
            let issue = &state.issues[index];
            ((&issue.owner, &issue.repo, issue.number), &issue.comments)
        }
        Numbered::Pull(index) => {
            let pull = &state.pulls[index];
            ((&pull.owner, &pull.repo, pull.number), &pull.comments)
        }
    }
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/comments` (an issue's or a pull request's conversation).
pub fn list_comments(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let numbered = find_numbered(state, request)?;
    let (owner, comments) = comments_of(state, numbered);
    let page = page_of(comments.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> =
        comments[page.range.clone()].iter().map(|c| comment_json(request.base_url, owner, c)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments` (201; 422 without a body).
pub fn create_comment(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let numbered = find_numbered(state, request)?;
    let Some(text) = request.body.get("body").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("Validation Failed"));
    };
    let comment = (state.next_id(), text.to_string(), state.now);
    match numbered {
        Numbered::Issue(index) => {
            let issue = &mut state.issues[index];
            issue.comments.push(comment.clone());
            issue.updated_at = comment.2;
        }
        Numbered::Pull(index) => {
            let pull = &mut state.pulls[index];
            pull.comments.push(comment.clone());
            pull.updated_at = comment.2;
        }
    }
    state.touch_repo(&request.params[0], &request.params[1]);
    let (owner, _) = comments_of(state, numbered);
    Ok(Reply::with_status(201, comment_json(request.base_url, owner, &comment)))
}
