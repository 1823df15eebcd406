//! GitHub REST routes: one table ([`ROUTES`]) of method + documented path template → handler.

use serde_json::{json, Value};

use crate::state::SimState;

pub mod actions;
pub mod apps;
pub mod code_security;
pub mod commits;
pub mod git;
pub mod git_write;
pub mod hook_deliveries;
pub mod issues;
pub mod merges;
pub mod permissions;
pub mod pulls;
pub mod repos;
pub mod security;

/// The REST API version whose dispatch answer always carries the run (and which drops `rate` from
/// `/rate_limit`).
pub const API_VERSION_2026_03_10: &str = "2026-03-10";

/// GitHub's documentation root, used in error bodies.
pub const DOCS: &str = "https://docs.github.com/rest";

/// What a handler receives.
#[derive(Debug)]
pub struct RouteRequest<'a> {
    /// Path parameters in template order.
    pub params: Vec<String>,
    /// Query pairs.
    pub query: Vec<(String, String)>,
    /// Parsed JSON body (`Null` when empty).
    pub body: Value,
    /// The simulator's base URL, for `url` fields and `Link` headers.
    pub base_url: &'a str,
    /// The request path.
    pub path: &'a str,
    /// The App whose verified JWT authenticated the request (App endpoints only).
    pub app_id: Option<u64>,
    /// The caller's budget key: a plain token, or `installation:ID` for an installation token.
    pub caller: &'a str,
    /// The REST API version answered: the request's `X-GitHub-Api-Version`, else `2022-11-28`.
    pub api_version: &'a str,
}

impl RouteRequest<'_> {
    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`None` for 204).
    pub body: Option<Value>,
    /// `Link` header for paginated lists.
    pub link: Option<String>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Reply { status: 200, body: Some(body), link: None }
    }
    /// Any status with a body.
    pub fn with_status(status: u16, body: Value) -> Self {
        Reply { status, body: Some(body), link: None }
    }
    /// A status without a body.
    pub fn empty(status: u16) -> Self {
        Reply { status, body: None, link: None }
    }
}

/// A GitHub-shaped error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// GitHub's message.
    pub message: String,
    /// GitHub's `errors` array of a 422 (`validation-error`), when there are details.
    pub errors: Option<Value>,
}

impl ApiError {
    /// An error with a status and GitHub's message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), errors: None }
    }
    /// 404 `Not Found`.
    pub fn not_found() -> Self {
        ApiError::new(404, "Not Found")
    }
    /// 422 with a message.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(422, message)
    }
    /// 422 `Validation Failed` with one custom field error, as GitHub answers pull-request and ref conflicts.
    pub fn validation(resource: &str, detail: impl Into<String>) -> Self {
        let error = json!({"resource": resource, "code": "custom", "message": detail.into()});
        ApiError { status: 422, message: "Validation Failed".into(), errors: Some(json!([error])) }
    }
    /// The JSON body GitHub sends.
    pub fn body(&self) -> Value {
        let mut body = json!({"message": self.message, "documentation_url": DOCS, "status": self.status.to_string()});
        if let (Some(errors), Some(object)) = (&self.errors, body.as_object_mut()) {
            object.insert("errors".into(), errors.clone());
        }
        body
    }
}

/// A handler.
pub type Handler = fn(&mut SimState, &RouteRequest<'_>) -> Result<Reply, ApiError>;

/// One served operation.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// GitHub's documented path template.
    pub template: &'static str,
    /// The handler.
    pub handler: Handler,
}

/// Every GitHub route the simulator serves.
pub const ROUTES: &[Route] = &[
    Route { method: "GET", template: "/rate_limit", handler: repos::rate_limit },
    Route { method: "POST", template: apps::ACCESS_TOKENS, handler: apps::create_installation_token },
    Route { method: "GET", template: hook_deliveries::LIST, handler: hook_deliveries::list },
    Route { method: "GET", template: hook_deliveries::GET, handler: hook_deliveries::get },
    Route { method: "POST", template: hook_deliveries::ATTEMPTS, handler: hook_deliveries::redeliver },
    Route { method: "GET", template: "/orgs/{org}/repos", handler: repos::list_org_repos },
    Route { method: "GET", template: "/repos/{owner}/{repo}", handler: repos::get_repo },
    Route { method: "PATCH", template: "/repos/{owner}/{repo}", handler: security::update_repo },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/vulnerability-alerts",
        handler: security::check_vulnerability_alerts,
    },
    Route {
        method: "PUT",
        template: "/repos/{owner}/{repo}/vulnerability-alerts",
        handler: security::enable_vulnerability_alerts,
    },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/automated-security-fixes",
        handler: security::check_automated_security_fixes,
    },
    Route {
        method: "PUT",
        template: "/repos/{owner}/{repo}/automated-security-fixes",
        handler: security::enable_automated_security_fixes,
    },
    Route { method: "GET", template: "/repos/{owner}/{repo}/languages", handler: repos::languages },
    Route { method: "GET", template: "/repos/{owner}/{repo}/topics", handler: repos::topics },
    Route { method: "GET", template: "/repos/{owner}/{repo}/contents/{path}", handler: repos::contents },
    Route { method: "PUT", template: "/repos/{owner}/{repo}/contents/{path}", handler: repos::put_contents },
    Route { method: "GET", template: "/repos/{owner}/{repo}/commits", handler: commits::list_commits },
    // Before `commits/{ref}`, whose trailing `{ref}` would take `<sha>/check-runs`.
    Route { method: "GET", template: merges::CHECK_RUNS, handler: merges::check_runs },
    Route { method: "GET", template: merges::COMBINED_STATUS, handler: merges::combined_status },
    Route { method: "GET", template: "/repos/{owner}/{repo}/commits/{ref}", handler: commits::get_commit },
    Route { method: "GET", template: "/repos/{owner}/{repo}/actions/workflows", handler: actions::list_workflows },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/actions/workflows/{workflow_id}",
        handler: actions::get_workflow,
    },
    Route {
        method: "POST",
        template: "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
        handler: actions::dispatch,
    },
    Route { method: "GET", template: "/repos/{owner}/{repo}/actions/runs", handler: actions::list_repo_runs },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
        handler: actions::list_workflow_runs,
    },
    Route { method: "GET", template: "/repos/{owner}/{repo}/actions/runs/{run_id}", handler: actions::get_run },
    Route { method: "GET", template: "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", handler: actions::list_jobs },
    Route {
        method: "POST",
        template: "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel",
        handler: actions::cancel_run,
    },
    Route {
        method: "POST",
        template: "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
        handler: actions::rerun_failed_jobs,
    },
    // Before `branches/{branch}`, whose trailing `{branch}` would take `main/protection/…`.
    Route { method: "GET", template: merges::REQUIRED_STATUS_CHECKS, handler: merges::required_status_checks },
    Route { method: "GET", template: "/repos/{owner}/{repo}/branches/{branch}", handler: git::get_branch },
    Route { method: "GET", template: merges::BRANCH_RULES, handler: merges::branch_rules },
    Route { method: "GET", template: "/repos/{owner}/{repo}/git/ref/{ref}", handler: git::get_ref },
    Route { method: "GET", template: "/repos/{owner}/{repo}/git/trees/{tree_sha}", handler: git::get_tree },
    Route { method: "POST", template: "/repos/{owner}/{repo}/git/blobs", handler: git_write::create_blob },
    Route { method: "GET", template: "/repos/{owner}/{repo}/git/blobs/{file_sha}", handler: git_write::get_blob },
    Route { method: "POST", template: "/repos/{owner}/{repo}/git/trees", handler: git_write::create_tree },
    Route { method: "POST", template: "/repos/{owner}/{repo}/git/commits", handler: git_write::create_commit },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/git/commits/{commit_sha}",
        handler: git_write::get_git_commit,
    },
    Route { method: "POST", template: "/repos/{owner}/{repo}/git/refs", handler: git_write::create_ref },
    Route { method: "PATCH", template: "/repos/{owner}/{repo}/git/refs/{ref}", handler: git_write::update_ref },
    Route { method: "GET", template: "/repos/{owner}/{repo}/pulls", handler: pulls::list_pulls },
    Route { method: "POST", template: "/repos/{owner}/{repo}/pulls", handler: pulls::create_pull },
    Route { method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}", handler: pulls::get_pull },
    Route { method: "PUT", template: merges::MERGE, handler: merges::merge_pull },
    Route { method: "GET", template: "/repos/{owner}/{repo}/code-scanning/alerts", handler: security::code_scanning },
    Route { method: "GET", template: "/repos/{owner}/{repo}/dependabot/alerts", handler: security::dependabot },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/secret-scanning/alerts",
        handler: security::secret_scanning,
    },
    Route { method: "GET", template: "/orgs/{org}/code-scanning/alerts", handler: security::org_code_scanning },
    Route { method: "GET", template: "/orgs/{org}/dependabot/alerts", handler: security::org_dependabot },
    Route { method: "GET", template: "/orgs/{org}/secret-scanning/alerts", handler: security::org_secret_scanning },
    Route {
        method: "GET",
        template: "/orgs/{org}/code-security/configurations",
        handler: code_security::list_configurations,
    },
    Route {
        method: "GET",
        template: "/orgs/{org}/code-security/configurations/{configuration_id}/repositories",
        handler: code_security::list_repositories,
    },
    Route { method: "GET", template: "/repos/{owner}/{repo}/issues", handler: issues::list_issues },
    Route { method: "POST", template: "/repos/{owner}/{repo}/issues", handler: issues::create_issue },
    Route { method: "GET", template: "/repos/{owner}/{repo}/issues/{issue_number}", handler: issues::get_issue },
    Route { method: "PATCH", template: "/repos/{owner}/{repo}/issues/{issue_number}", handler: issues::update_issue },
    Route {
        method: "GET",
        template: "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        handler: issues::list_comments,
    },
    Route {
        method: "POST",
        template: "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        handler: issues::create_comment,
    },
];

/// Matches a concrete path against a template; a trailing `{path}` takes the rest of the path.
pub fn match_template(template: &str, path: &str) -> Option<Vec<String>> {
    let template_segments: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let path_segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = Vec::new();
    for (i, segment) in template_segments.iter().enumerate() {
        let is_param = segment.starts_with('{') && segment.ends_with('}');
        // A trailing `{path}`, `{ref}` or `{branch}` spans slashes (`src/lib.rs`, `heads/main`, `feature/x`): git
        // allows `/` in branch names, and GitHub serves them unencoded.
        let spans_slashes = matches!(*segment, "{path}" | "{ref}" | "{branch}");
        if is_param && spans_slashes && i == template_segments.len() - 1 {
            let rest = path_segments.get(i..)?.join("/");
            if rest.is_empty() {
                return None;
            }
            params.push(rest);
            return Some(params);
        }
        let actual = path_segments.get(i)?;
        if is_param {
            if actual.is_empty() {
                return None;
            }
            params.push((*actual).to_string());
        } else if segment != actual {
            return None;
        }
    }
    (template_segments.len() == path_segments.len()).then_some(params)
}

/// Finds the route for a method and path.
pub fn find_route(method: &str, path: &str) -> Option<(&'static Route, Vec<String>)> {
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .find_map(|r| match_template(r.template, path).map(|params| (r, params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_params_and_greedy_path() {
        assert_eq!(
            match_template("/repos/{owner}/{repo}/actions/runs/{run_id}", "/repos/a/b/actions/runs/7"),
            Some(vec!["a".into(), "b".into(), "7".into()])
        );
        assert_eq!(
            match_template("/repos/{owner}/{repo}/contents/{path}", "/repos/a/b/contents/src/lib.rs"),
            Some(vec!["a".into(), "b".into(), "src/lib.rs".into()])
        );
        assert_eq!(match_template("/repos/{owner}/{repo}", "/repos/a/b/c"), None);
        assert_eq!(
            match_template("/repos/{owner}/{repo}/branches/{branch}", "/repos/a/b/branches/feature/x"),
            Some(vec!["a".into(), "b".into(), "feature/x".into()])
        );
    }

    #[test]
    fn workflow_runs_route_is_not_taken_for_workflow() {
        let (route, _) = find_route("GET", "/repos/a/b/actions/workflows/build.yml/runs").expect("route");
        assert_eq!(route.template, "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs");
    }
}
