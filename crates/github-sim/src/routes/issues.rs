//! Issues and issue comments.

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::pagination::{link_header, page_of};
use crate::routes::repos::user_json;
use crate::state::{Issue, SimState};

/// The login issues and comments are authored by (the App's bot).
pub const BOT_LOGIN: &str = "infinity-orchestrator[bot]";

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
        "html_url": format!("{base}/{}/{}/issues/{}", issue.owner, issue.repo, issue.number),
        "comments_url": format!("{api}/issues/{}/comments", issue.number),
        "events_url": format!("{api}/issues/{}/events", issue.number),
        "labels_url": format!("{api}/issues/{}/labels{{/name}}", issue.number), "repository_url": api,
        "created_at": iso8601(issue.created_at), "updated_at": iso8601(issue.updated_at),
        "closed_at": issue.closed_at.map(iso8601),
    })
}

fn comment_json(base: &str, issue: &Issue, comment: &(u64, String, i64)) -> Value {
    let api = format!("{base}/repos/{}/{}", issue.owner, issue.repo);
    json!({
        "id": comment.0, "node_id": format!("IC_{}", comment.0), "body": comment.1,
        "user": user_json(base, BOT_LOGIN, "Bot"), "url": format!("{api}/issues/comments/{}", comment.0),
        "html_url": format!("{base}/{}/{}/issues/{}#issuecomment-{}", issue.owner, issue.repo, issue.number, comment.0),
        "issue_url": format!("{api}/issues/{}", issue.number),
        "created_at": iso8601(comment.2), "updated_at": iso8601(comment.2),
    })
}

fn check_repo(state: &SimState, request: &RouteRequest<'_>) -> Result<(), ApiError> {
    state.repo(&request.params[0], &request.params[1]).map(|_| ()).ok_or_else(ApiError::not_found)
}

fn find_issue(state: &SimState, request: &RouteRequest<'_>) -> Result<usize, ApiError> {
    let number: u64 = request.params[2].parse().map_err(|_| ApiError::not_found())?;
    state
        .issues
        .iter()
        .position(|i| i.owner == request.params[0] && i.repo == request.params[1] && i.number == number)
        .ok_or_else(ApiError::not_found)
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
        comments: Vec::new(),
    };
    let mut json = issue_json(base, &issue);
    let html = format!("{base}/{}/{}/pull/{}", pull.owner, pull.repo, pull.number);
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
        return Err(ApiError::unprocessable("Validation Failed"));
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
    Ok(Reply::with_status(201, body))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}`.
pub fn get_issue(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_issue(state, request)?;
    Ok(Reply::ok(issue_json(request.base_url, &state.issues[index])))
}

/// `PATCH /repos/{owner}/{repo}/issues/{issue_number}` (`title`, `body`, `state`, `labels`).
pub fn update_issue(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_issue(state, request)?;
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
    Ok(Reply::ok(issue_json(request.base_url, issue)))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/comments`.
pub fn list_comments(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let issue = &state.issues[find_issue(state, request)?];
    let page = page_of(issue.comments.len(), request.query("per_page"), request.query("page"));
    let body: Vec<Value> =
        issue.comments[page.range.clone()].iter().map(|c| comment_json(request.base_url, issue, c)).collect();
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Ok(Reply { status: 200, body: Some(Value::Array(body)), link })
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments` (201; 422 without a body).
pub fn create_comment(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let index = find_issue(state, request)?;
    let Some(text) = request.body.get("body").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("Validation Failed"));
    };
    let comment = (state.next_id(), text.to_string(), state.now);
    let issue = &mut state.issues[index];
    issue.comments.push(comment.clone());
    issue.updated_at = comment.2;
    Ok(Reply::with_status(201, comment_json(request.base_url, issue, &comment)))
}
