//! Security alert lists from the fixture, in GitHub's shapes: when the product is disabled, GitHub's status and
//! message (403 for Dependabot, 404 for code and secret scanning);
//! `state` filters; numbered per product from 1 in fixture order; newest first. The organization lists
//! (`GET /orgs/{org}/…/alerts`) carry each alert's `repository`, leave out the repositories whose product is off,
//! and answer only an owner or security manager (the org's `security_managers`); anyone else gets GitHub's refusal.

use serde_json::{json, Value};

use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::fixture::{CodeScanningAlertFixture, DependabotAlertFixture, SecretScanningAlertFixture};
use crate::pagination::{link_header, page_of};
use crate::state::{sha_of, Repo, SimState};
use crate::views::{repo_json, simple_repo_json};

fn find_repo<'a>(state: &'a SimState, request: &RouteRequest<'_>) -> Result<&'a Repo, ApiError> {
    state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// Pages `alerts` (numbered, in fixture order) newest first.
fn list(request: &RouteRequest<'_>, mut alerts: Vec<Value>) -> Reply {
    alerts.reverse();
    numbered_pages(request, alerts)
}

/// Serves one page of `alerts` by `page` / `per_page`.
fn numbered_pages(request: &RouteRequest<'_>, alerts: Vec<Value>) -> Reply {
    let page = page_of(alerts.len(), request.query("per_page"), request.query("page"));
    let link = link_header(&format!("{}{}", request.base_url, request.path), &request.query, &page);
    Reply { status: 200, body: Some(Value::Array(alerts[page.range.clone()].to_vec())), link }
}

/// Whether a comma-separated `state` filter (absent: everything) admits `state`.
fn admits(filter: Option<&str>, state: &str) -> bool {
    filter.is_none_or(|f| f.split(',').any(|wanted| wanted.trim() == state))
}

fn code_scanning_json(base: &str, repo: &Repo, number: usize, alert: &CodeScanningAlertFixture) -> Value {
    let api = format!("{base}/repos/{}/{}/code-scanning/alerts/{number}", repo.owner, repo.spec.name);
    let html = format!("{}/{}/{}/security/code-scanning/{number}", html_root(base), repo.owner, repo.spec.name);
    let tool = alert.tool.clone().unwrap_or_else(|| "CodeQL".into());
    json!({
        "number": number, "created_at": iso8601(repo.created_at), "updated_at": iso8601(repo.created_at),
        "url": api, "html_url": html, "instances_url": format!("{api}/instances"), "state": alert.state,
        "fixed_at": null, "dismissed_by": null, "dismissed_at": null, "dismissed_reason": null,
        "rule": {
            "id": alert.rule_id, "name": alert.rule_id, "severity": alert.severity,
            "security_severity_level": alert.security_severity, "description": alert.rule_id, "tags": ["security"],
        },
        "tool": {"name": tool, "version": null, "guid": null},
        "most_recent_instance": {
            "ref": format!("refs/heads/{}", repo.spec.default_branch), "analysis_key": ".github/workflows/codeql.yml:analyze",
            "environment": "{}", "category": ".github/workflows/codeql.yml:analyze", "state": alert.state,
            "commit_sha": repo.head_sha, "message": {"text": alert.rule_id},
            "location": {"path": alert.path, "start_line": alert.line, "end_line": alert.line, "start_column": 1, "end_column": 1},
            "classifications": [],
        },
    })
}

/// `GET /repos/{owner}/{repo}/code-scanning/alerts` (`state` open|closed|dismissed|fixed).
pub fn code_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if !code_scanning_on(repo) {
        return Err(ApiError::new(404, "no analysis found"));
    }
    let items = code_scanning_items(request, repo).into_iter().map(|(_, alert)| alert).collect();
    Ok(list(request, items))
}

/// Whether code scanning is on: enabled, or the repository has code-scanning alerts.
pub(crate) fn code_scanning_on(repo: &Repo) -> bool {
    repo.spec.security.code_scanning || !repo.spec.alerts.code_scanning.is_empty()
}

/// The repository's code-scanning alerts the `state` filter admits, with their numbers.
fn code_scanning_items(request: &RouteRequest<'_>, repo: &Repo) -> Vec<(usize, Value)> {
    let wanted = request.query("state");
    repo.spec
        .alerts
        .code_scanning
        .iter()
        .enumerate()
        .filter(|(_, a)| wanted.is_none_or(|w| w == a.state || (w == "closed" && a.state != "open")))
        .map(|(i, a)| (i + 1, code_scanning_json(request.base_url, repo, i + 1, a)))
        .collect()
}

fn dependabot_json(base: &str, repo: &Repo, number: usize, alert: &DependabotAlertFixture) -> Value {
    let api = format!("{base}/repos/{}/{}/dependabot/alerts/{number}", repo.owner, repo.spec.name);
    let html = format!("{}/{}/{}/security/dependabot/{number}", html_root(base), repo.owner, repo.spec.name);
    let package = json!({"ecosystem": alert.ecosystem, "name": alert.package});
    let ghsa = alert.ghsa_id.clone().unwrap_or_else(|| {
        let h = sha_of(&format!("{}:{}", alert.ecosystem, alert.package));
        format!("GHSA-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12])
    });
    let summary = alert.summary.clone().unwrap_or_else(|| format!("Vulnerability in {}", alert.package));
    let patched = alert.first_patched_version.as_ref().map(|v| json!({"identifier": v}));
    let vulnerability = json!({
        "package": package, "severity": alert.severity, "vulnerable_version_range": alert.vulnerable_version_range,
        "first_patched_version": patched,
    });
    let created = iso8601(repo.created_at);
    let closed = (alert.state != "open").then(|| created.clone());
    json!({
        "number": number, "state": alert.state,
        "dependency": {"package": package, "manifest_path": alert.manifest_path, "scope": "runtime", "relationship": "direct"},
        "security_advisory": {
            "ghsa_id": ghsa, "cve_id": null, "summary": summary, "description": summary,
            "vulnerabilities": [vulnerability], "severity": alert.severity,
            "cvss": {"score": 0.0, "vector_string": null}, "cwes": [],
            "identifiers": [{"type": "GHSA", "value": ghsa}],
            "references": [{"url": format!("https://github.com/advisories/{ghsa}")}],
            "published_at": created, "updated_at": created, "withdrawn_at": null,
        },
        "security_vulnerability": vulnerability, "url": api, "html_url": html,
        "created_at": created, "updated_at": created,
        "dismissed_at": if alert.state == "dismissed" { closed.clone() } else { None },
        "dismissed_by": null, "dismissed_reason": if alert.state == "dismissed" { Some("tolerable_risk") } else { None },
        "dismissed_comment": null,
        "fixed_at": if alert.state == "fixed" { closed.clone() } else { None },
        "auto_dismissed_at": if alert.state == "auto_dismissed" { closed } else { None },
    })
}

/// `GET /repos/{owner}/{repo}/dependabot/alerts` (`state`: comma-separated auto_dismissed, dismissed, fixed, open;
/// `severity`, `ecosystem`, `package`: comma-separated).
pub fn dependabot(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if !dependabot_on(repo) {
        // GitHub answers 403 here (not 404 as for the other products): the repository exists, the feature is off.
        return Err(ApiError::new(403, "Dependabot alerts are disabled for this repository."));
    }
    let mut items: Vec<Value> = dependabot_items(request, repo).into_iter().map(|(_, alert)| alert).collect();
    items.reverse();
    Ok(cursor_list(request, items))
}

/// Serves one page of `items` by cursor: Dependabot alerts page by `before` / `after` only; GitHub documents no
/// `page` for these lists.
pub(super) fn cursor_list(request: &RouteRequest<'_>, items: Vec<Value>) -> Reply {
    let base = format!("{}{}", request.base_url, request.path);
    let (range, link) = crate::pagination::cursor_page(items.len(), &base, &request.query);
    Reply { status: 200, body: Some(Value::Array(items[range].to_vec())), link }
}

/// Whether Dependabot alerts are on: enabled, or the repository has Dependabot alerts. GraphQL's
/// `Repository.hasVulnerabilityAlertsEnabled` answers the same.
pub(crate) fn dependabot_on(repo: &Repo) -> bool {
    repo.spec.security.dependabot || !repo.spec.alerts.dependabot.is_empty()
}

/// The repository's Dependabot alerts the `state`, `severity`, `ecosystem` and `package` filters admit, with their
/// numbers.
fn dependabot_items(request: &RouteRequest<'_>, repo: &Repo) -> Vec<(usize, Value)> {
    repo.spec
        .alerts
        .dependabot
        .iter()
        .enumerate()
        .filter(|(_, a)| admits(request.query("state"), &a.state))
        .filter(|(_, a)| admits(request.query("severity"), &a.severity))
        .filter(|(_, a)| admits(request.query("ecosystem"), &a.ecosystem))
        .filter(|(_, a)| admits(request.query("package"), &a.package))
        .map(|(i, a)| (i + 1, dependabot_json(request.base_url, repo, i + 1, a)))
        .collect()
}

fn secret_scanning_json(base: &str, repo: &Repo, number: usize, alert: &SecretScanningAlertFixture) -> Value {
    let api = format!("{base}/repos/{}/{}/secret-scanning/alerts/{number}", repo.owner, repo.spec.name);
    let resolved = alert.state == "resolved";
    json!({
        "number": number, "created_at": iso8601(repo.created_at), "updated_at": iso8601(repo.created_at),
        "url": api, "html_url": format!("{}/{}/{}/security/secret-scanning/{number}", html_root(base), repo.owner, repo.spec.name),
        "locations_url": format!("{api}/locations"), "state": alert.state,
        "resolution": if resolved { Some("revoked") } else { None },
        "resolved_at": if resolved { Some(iso8601(repo.created_at)) } else { None }, "resolved_by": null,
        "secret_type": alert.secret_type, "secret_type_display_name": alert.secret_type,
        "validity": "unknown", "push_protection_bypassed": false, "publicly_leaked": false, "multi_repo": false,
    })
}

/// `GET /repos/{owner}/{repo}/secret-scanning/alerts` (`state` open|resolved). Secrets themselves are not served.
pub fn secret_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if !secret_scanning_on(repo) {
        return Err(ApiError::new(404, "Secret scanning is disabled on this repository."));
    }
    let items = secret_scanning_items(request, repo).into_iter().map(|(_, alert)| alert).collect();
    Ok(list(request, items))
}

/// Whether secret scanning is on: enabled, or the repository has secret-scanning alerts.
pub(crate) fn secret_scanning_on(repo: &Repo) -> bool {
    repo.spec.security.secret_scanning || !repo.spec.alerts.secret_scanning.is_empty()
}

/// The repository's secret-scanning alerts the `state` filter admits, with their numbers.
fn secret_scanning_items(request: &RouteRequest<'_>, repo: &Repo) -> Vec<(usize, Value)> {
    repo.spec
        .alerts
        .secret_scanning
        .iter()
        .enumerate()
        .filter(|(_, a)| admits(request.query("state"), &a.state))
        .map(|(i, a)| (i + 1, secret_scanning_json(request.base_url, repo, i + 1, a)))
        .collect()
}

/// The repositories of the organization in `params[0]` whose alert lists the caller may read: an owner or security
/// manager only (docs: rest/code-scanning, rest/dependabot/alerts, rest/secret-scanning, "List … alerts for an
/// organization"). Anyone else gets `refusal`, the status the product documents: 403 for Dependabot, 404 (as if
/// the list did not exist) for code and secret scanning.
fn org_repos<'a>(state: &'a SimState, request: &RouteRequest<'_>, refusal: u16) -> Result<Vec<&'a Repo>, ApiError> {
    let org = &request.params[0];
    if !state.orgs.contains(org) {
        return Err(ApiError::not_found());
    }
    if !state.is_security_manager(org, request.caller) {
        return Err(match refusal {
            403 => ApiError::new(403, "You must be an owner or security manager of this organization."),
            _ => ApiError::not_found(),
        });
    }
    Ok(state.repos.values().filter(|repo| &repo.owner == org).collect())
}

/// The alerts of every repository where the product is on, each with its `repository`, newest first
/// (`direction=asc`: oldest first).
fn org_items(
    request: &RouteRequest<'_>,
    repos: &[&Repo],
    on: fn(&Repo) -> bool,
    items: fn(&RouteRequest<'_>, &Repo) -> Vec<(usize, Value)>,
) -> Vec<Value> {
    let mut alerts: Vec<(i64, usize, Value)> = Vec::new();
    for repo in repos.iter().filter(|repo| on(repo)) {
        for (number, mut alert) in items(request, repo) {
            if let Some(object) = alert.as_object_mut() {
                object.insert("repository".into(), simple_repo_json(request.base_url, repo));
            }
            alerts.push((repo.created_at, number, alert));
        }
    }
    alerts.sort_by_key(|(created, number, _)| (*created, *number));
    if request.query("direction") != Some("asc") {
        alerts.reverse();
    }
    alerts.into_iter().map(|(_, _, alert)| alert).collect()
}

/// `GET /orgs/{org}/code-scanning/alerts` (`state`, `direction`; `page` / `per_page`).
pub fn org_code_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repos = org_repos(state, request, 404)?;
    Ok(numbered_pages(request, org_items(request, &repos, code_scanning_on, code_scanning_items)))
}

/// `GET /orgs/{org}/dependabot/alerts` (`state`, `severity`, `ecosystem`, `package`, `direction`; `before` /
/// `after` / `per_page`, no `page`).
pub fn org_dependabot(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repos = org_repos(state, request, 403)?;
    Ok(cursor_list(request, org_items(request, &repos, dependabot_on, dependabot_items)))
}

/// `GET /orgs/{org}/secret-scanning/alerts` (`state`, `direction`; `page` / `per_page`).
pub fn org_secret_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repos = org_repos(state, request, 404)?;
    Ok(numbered_pages(request, org_items(request, &repos, secret_scanning_on, secret_scanning_items)))
}

/// GitHub's `security-and-analysis` of a repository. Secret scanning as its alert list answers, Dependabot security
/// updates as `automated-security-fixes` does; push protection is not modelled (disabled); `advanced_security` only
/// on a private or internal repository.
fn security_and_analysis(repo: &Repo) -> Value {
    let status = |on: bool| json!({"status": if on { "enabled" } else { "disabled" }});
    let mut body = json!({
        "secret_scanning": status(secret_scanning_on(repo)),
        "secret_scanning_push_protection": status(false),
        "dependabot_security_updates": status(security_updates_on(repo)),
    });
    if let (true, Some(object)) = (repo.spec.visibility != "public", body.as_object_mut()) {
        object.insert("advanced_security".into(), status(advanced_security_on(repo)));
    }
    body
}

/// `view` (the repository shape of `repo`) with its `security_and_analysis` when `caller` is an owner or
/// security manager of the owning organization; GitHub leaves the field out for anyone else.
pub(crate) fn with_security_and_analysis(state: &SimState, caller: &str, repo: &Repo, mut view: Value) -> Value {
    if let (true, Some(object)) = (state.is_security_manager(&repo.owner, caller), view.as_object_mut()) {
        object.insert("security_and_analysis".into(), security_and_analysis(repo));
    }
    view
}

/// The repository a write names, for changing it.
fn find_repo_mut<'a>(state: &'a mut SimState, request: &RouteRequest<'_>) -> Result<&'a mut Repo, ApiError> {
    state.repo_mut(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)
}

/// `GET /repos/{owner}/{repo}/vulnerability-alerts`: 204 while Dependabot alerts are on, else 404 (documented
/// without a body; GitHub sends its `Not Found`).
pub fn check_vulnerability_alerts(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    match dependabot_on(find_repo(state, request)?) {
        true => Ok(Reply::empty(204)),
        false => Err(ApiError::not_found()),
    }
}

/// `PUT /repos/{owner}/{repo}/vulnerability-alerts`: turns Dependabot alerts on; 204, also when they were on.
pub fn enable_vulnerability_alerts(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    find_repo_mut(state, request)?.spec.security.dependabot = true;
    Ok(Reply::empty(204))
}

/// Whether Dependabot security updates are on: asked for, and Dependabot alerts on (they need them).
pub(crate) fn security_updates_on(repo: &Repo) -> bool {
    repo.spec.security.dependabot_security_updates && dependabot_on(repo)
}

/// `GET /repos/{owner}/{repo}/automated-security-fixes`: `{enabled, paused}` while Dependabot alerts are on, else
/// 404 ("Not Found if Dependabot is not enabled for the repository").
pub fn check_automated_security_fixes(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo(state, request)?;
    if !dependabot_on(repo) {
        return Err(ApiError::not_found());
    }
    Ok(Reply::ok(json!({"enabled": security_updates_on(repo), "paused": false})))
}

/// `PUT /repos/{owner}/{repo}/automated-security-fixes`: turns Dependabot security updates on; 204. GitHub refuses
/// it while Dependabot alerts are off, with 422 and this message.
pub fn enable_automated_security_fixes(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let repo = find_repo_mut(state, request)?;
    if !dependabot_on(repo) {
        return Err(ApiError::unprocessable(
            "Vulnerability alerts must be enabled to configure automated security fixes.",
        ));
    }
    repo.spec.security.dependabot_security_updates = true;
    Ok(Reply::empty(204))
}

/// Whether Advanced Security is on for a private or internal repository: enabled, or code or secret scanning on
/// (they need it there).
fn advanced_security_on(repo: &Repo) -> bool {
    repo.spec.security.advanced_security || code_scanning_on(repo) || secret_scanning_on(repo)
}

/// `PATCH /repos/{owner}/{repo}`, the part the simulator serves: `security_and_analysis.secret_scanning.status`
/// (`enabled` or `disabled`). GitHub refuses to enable secret scanning on a private or internal repository without
/// Advanced Security (422); the answer is the repository, with its `security_and_analysis` for a security manager.
/// Any other field is refused with 422 naming it, rather than accepted and ignored.
pub fn update_repo(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let Some(body) = request.body.as_object() else {
        return Err(ApiError::new(400, "Problems parsing JSON"));
    };
    let unserved: Vec<&String> = body.keys().filter(|key| key.as_str() != "security_and_analysis").collect();
    let settings = body.get("security_and_analysis").and_then(Value::as_object);
    let unserved_settings: Vec<&String> =
        settings.into_iter().flat_map(|s| s.keys()).filter(|key| key.as_str() != "secret_scanning").collect();
    if !unserved.is_empty() || !unserved_settings.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "github-sim serves only security_and_analysis.secret_scanning on this route, not {:?}",
            unserved.into_iter().chain(unserved_settings).collect::<Vec<_>>()
        )));
    }
    let wanted = settings.and_then(|s| s.get("secret_scanning")).and_then(|s| s.get("status")).and_then(Value::as_str);
    let repo = find_repo_mut(state, request)?;
    match wanted {
        None => {}
        Some("enabled") => {
            if repo.spec.visibility != "public" && !advanced_security_on(repo) {
                return Err(ApiError::unprocessable(
                    "Secret scanning can only be enabled on repos where Advanced Security is enabled.",
                ));
            }
            repo.spec.security.secret_scanning = true;
        }
        Some("disabled") => repo.spec.security.secret_scanning = false,
        Some(other) => return Err(ApiError::unprocessable(format!("Invalid status {other:?} for secret_scanning"))),
    }
    let repo = find_repo(state, request)?;
    Ok(Reply::ok(with_security_and_analysis(state, request.caller, repo, repo_json(request.base_url, repo))))
}
