//! GitHub App installation permissions: what each served route needs (GitHub's "Permissions required for GitHub
//! Apps"), what an installation was granted, and GitHub's refusal when it lacks one.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ApiError, ROUTES};
use crate::state::{App, SimState};

/// GitHub's message when an installation token lacks the permission a route needs (REST 403, GraphQL `FORBIDDEN`).
pub const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

/// Permissions by key (`contents`, `actions`, …) with their level (`read` or `write`), as the manifest and the
/// installation-token answer spell them.
pub type Permissions = BTreeMap<String, String>;

/// The permission and level an installation token needs for a route (by its method and documented template);
/// `None` for the routes that need none (`/rate_limit`, and the App's own routes, authenticated as the App).
pub fn required(method: &str, template: &str) -> Option<(&'static str, &'static str)> {
    let read = method == "GET";
    let level = if read { "read" } else { "write" };
    let path = template.trim_start_matches("/repos/{owner}/{repo}");
    let repository_route = path.len() < template.len();
    let permission = if template == "/orgs/{org}/repos" || (repository_route && read && metadata_path(path)) {
        return Some(("metadata", "read"));
    } else if repository_route
        && (path.is_empty() || path == "/vulnerability-alerts" || path == "/automated-security-fixes")
    {
        // A repository's settings: "Administration", read to check, write to change.
        "administration"
    } else if template.starts_with("/orgs/{org}/code-security/configurations") {
        // GitHub documents `write` even for listing them.
        return Some(("organization_administration", "write"));
    } else if template.ends_with("/code-scanning/alerts") {
        "security_events"
    } else if template.ends_with("/dependabot/alerts") {
        "vulnerability_alerts"
    } else if template.ends_with("/secret-scanning/alerts") {
        "secret_scanning_alerts"
    } else if !repository_route {
        return None;
    } else if path == "/pulls/{pull_number}/merge" && !read {
        // Merging writes the base branch.
        "contents"
    } else if path.ends_with("/check-runs") {
        "checks"
    } else if path.ends_with("/status") {
        "statuses"
    } else if path.starts_with("/rules/") {
        return Some(("metadata", "read"));
    } else if path.contains("/protection") {
        "administration"
    } else if path.starts_with("/actions/") {
        "actions"
    } else if path.starts_with("/issues") {
        "issues"
    } else if path.starts_with("/pulls") {
        "pull_requests"
    } else if ["/contents/", "/commits", "/branches/", "/git/"].iter().any(|p| path.starts_with(p)) {
        "contents"
    } else {
        return None;
    };
    Some((permission, level))
}

/// A repository's own metadata: the repository, its languages and topics.
fn metadata_path(path: &str) -> bool {
    matches!(path, "" | "/languages" | "/topics")
}

/// Every permission some route needs, at the highest level: what an installation is granted when its fixture does
/// not say (the whole of what the simulator serves).
pub fn everything() -> Permissions {
    let mut all = Permissions::new();
    for route in ROUTES {
        if let Some((permission, level)) = required(route.method, route.template) {
            let granted = all.entry(permission.to_owned()).or_insert_with(|| level.to_owned());
            if level == "write" {
                *granted = level.to_owned();
            }
        }
    }
    all
}

/// Whether `granted` includes `permission` at `level` (`write` includes `read`).
pub fn grants(granted: &Permissions, permission: &str, level: &str) -> bool {
    match granted.get(permission).map(String::as_str) {
        Some("write") => true,
        Some("read") => level == "read",
        _ => false,
    }
}

/// The permissions of installation `id` of `app`: those its fixture lists, else every one a route needs.
pub fn of_installation(app: &App, id: u64) -> Permissions {
    app.permissions.get(&id).cloned().unwrap_or_else(everything)
}

/// The permissions of the installation a caller (a budget key, `installation:ID`) acts as; `None` for a plain
/// token, which is not limited by them.
pub fn of_caller(state: &SimState, caller: &str) -> Option<Permissions> {
    let installation: u64 = caller.strip_prefix("installation:")?.parse().ok()?;
    let app = state.apps.iter().find(|app| app.installations.contains(&installation))?;
    Some(of_installation(app, installation))
}

/// GitHub's 403 for an installation without the permission of the route `method` `template`, with the
/// `X-Accepted-GitHub-Permissions` header naming what it needs; `None` when the caller may call it.
pub fn refusal(state: &SimState, caller: &str, method: &str, template: &str) -> Option<(Value, (String, String))> {
    let granted = of_caller(state, caller)?;
    let (permission, level) = required(method, template)?;
    if grants(&granted, permission, level) {
        return None;
    }
    let header = ("x-accepted-github-permissions".to_owned(), format!("{permission}={level}"));
    Some((ApiError::new(403, NOT_ACCESSIBLE).body(), header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_github_s_documented_permissions() {
        let cases = [
            ("GET", "/orgs/{org}/repos", Some(("metadata", "read"))),
            ("GET", "/repos/{owner}/{repo}/topics", Some(("metadata", "read"))),
            ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", Some(("contents", "read"))),
            ("POST", "/repos/{owner}/{repo}/git/refs", Some(("contents", "write"))),
            ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", Some(("actions", "write"))),
            ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", Some(("actions", "read"))),
            ("GET", "/repos/{owner}/{repo}/dependabot/alerts", Some(("vulnerability_alerts", "read"))),
            ("GET", "/orgs/{org}/code-scanning/alerts", Some(("security_events", "read"))),
            ("GET", "/orgs/{org}/secret-scanning/alerts", Some(("secret_scanning_alerts", "read"))),
            ("GET", "/orgs/{org}/code-security/configurations", Some(("organization_administration", "write"))),
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", Some(("issues", "write"))),
            ("POST", "/repos/{owner}/{repo}/pulls", Some(("pull_requests", "write"))),
            ("PATCH", "/repos/{owner}/{repo}", Some(("administration", "write"))),
            ("GET", "/repos/{owner}/{repo}/vulnerability-alerts", Some(("administration", "read"))),
            ("PUT", "/repos/{owner}/{repo}/automated-security-fixes", Some(("administration", "write"))),
            ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", Some(("contents", "write"))),
            ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", Some(("checks", "read"))),
            ("GET", "/repos/{owner}/{repo}/commits/{ref}/status", Some(("statuses", "read"))),
            ("GET", "/repos/{owner}/{repo}/rules/branches/{branch}", Some(("metadata", "read"))),
            (
                "GET",
                "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
                Some(("administration", "read")),
            ),
            ("GET", "/rate_limit", None),
            ("POST", "/app/installations/{installation_id}/access_tokens", None),
        ];
        for (method, template, expected) in cases {
            assert_eq!(required(method, template), expected, "{method} {template}");
        }
    }

    #[test]
    fn every_installation_route_needs_a_permission() {
        let exempt = |template: &str| template == "/rate_limit" || template.starts_with("/app/");
        for route in ROUTES.iter().filter(|route| !exempt(route.template)) {
            assert!(required(route.method, route.template).is_some(), "{} {}", route.method, route.template);
        }
        let all = everything();
        assert_eq!(all.get("actions").map(String::as_str), Some("write"));
        assert_eq!(all.get("vulnerability_alerts").map(String::as_str), Some("read"));
    }

    #[test]
    fn write_includes_read() {
        let granted: Permissions = [("actions".to_owned(), "write".to_owned())].into();
        assert!(grants(&granted, "actions", "read") && grants(&granted, "actions", "write"));
        assert!(!grants(&granted, "contents", "read"));
    }
}
