//! What the GitHub layer tells whoever watches it (the operator's metrics): each HTTP exchange by route template and
//! status, and each rate-limit budget GitHub reports.

use std::time::Duration;

use super::rate_limit::RateBudget;
use super::spending::{BudgetOutlook, Purpose};

/// Receives one call per HTTP exchange and per budget GitHub reports. Implementations must be cheap: they run on
/// every request.
pub trait RequestObserver: Send + Sync {
    /// One exchange: `route` is a template such as `/repos/{owner}/{repo}/git/trees/{sha}`; `status` is GitHub's
    /// answer, or `None` when none came (timeout, broken connection).
    fn exchange(&self, method: &str, route: &str, status: Option<u16>, took: Duration);
    /// The primary budget of the credential named `credential` (its [`super::Credentials::id`]).
    fn budget(&self, credential: &str, budget: &RateBudget);
    /// An answer on `credential` cost `points` of a budget, spent for `purpose`; `outlook` is that budget's after it.
    fn spent(&self, credential: &str, purpose: Purpose, points: u64, outlook: &BudgetOutlook);
}

/// The route template of an API URL path (no scheme, host or query): owner, repository, organization, numbers, shas,
/// branch names, file paths and workflow files become placeholders, so that a metric labelled with it stays bounded.
pub fn route_template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    let mut i = 0;
    while i < segments.len() {
        let previous = out.last().map(String::as_str);
        let segment = segments[i];
        let placeholder = match (previous, segment) {
            (Some("repos"), _) if i == 1 => Some("{owner}"),
            (Some("{owner}"), _) if i == 2 => Some("{repo}"),
            (Some("orgs") | Some("users"), _) if i == 1 => Some("{org}"),
            // Everything after these is one value with slashes in it.
            (Some("contents"), _) => Some("{path}"),
            (Some("heads") | Some("tags"), _) if out.iter().any(|s| s == "ref" || s == "refs") => Some("{ref}"),
            (Some("branches"), _) => Some("{branch}"),
            (Some("workflows"), _) => Some("{workflow_id}"),
            (Some("trees") | Some("commits") | Some("blobs"), _) => Some("{sha}"),
            (_, s) if s.chars().all(|c| c.is_ascii_digit()) => Some("{id}"),
            _ => None,
        };
        match placeholder {
            Some(p @ ("{path}" | "{ref}" | "{branch}")) => {
                out.push(p.to_owned());
                break;
            }
            Some(p) => out.push(p.to_owned()),
            None => out.push(segment.to_owned()),
        }
        i += 1;
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn routes_become_bounded_templates() {
        let cases = [
            ("/orgs/acme/repos?type=all&per_page=100&page=3", "/orgs/{org}/repos"),
            ("/repos/acme/web/git/ref/heads/release/2.0", "/repos/{owner}/{repo}/git/ref/heads/{ref}"),
            ("/repos/acme/web/git/refs/heads/main", "/repos/{owner}/{repo}/git/refs/heads/{ref}"),
            ("/repos/acme/web/git/trees/3f2a9c1?recursive=1", "/repos/{owner}/{repo}/git/trees/{sha}"),
            ("/repos/acme/web/contents/.github/workflows/ci.yml", "/repos/{owner}/{repo}/contents/{path}"),
            (
                "/repos/acme/web/actions/workflows/infinity-orchestrator.yml/dispatches",
                "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            ),
            (
                "/repos/acme/web/actions/runs/123456/rerun-failed-jobs",
                "/repos/{owner}/{repo}/actions/runs/{id}/rerun-failed-jobs",
            ),
            ("/repos/acme/web/issues/7/comments", "/repos/{owner}/{repo}/issues/{id}/comments"),
            ("/app/installations/42/access_tokens", "/app/installations/{id}/access_tokens"),
            ("/repos/acme/repos/pulls", "/repos/{owner}/{repo}/pulls"),
            ("/rate_limit", "/rate_limit"),
        ];
        for (path, template) in cases {
            assert_eq!(route_template(path), template, "{path}");
        }
    }
}
