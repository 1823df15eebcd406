//! An organization's code security configurations (docs: rest/code-security/configurations): the list, and the
//! repositories attached to one, both paged by `before` / `after` cursors (no `page`), answering only an owner or
//! security manager (403 for anyone else) and 404 for an unknown organization or configuration. An organization
//! whose fixture declares none presents GitHub's global "GitHub recommended" with default setup enabled, attached to
//! every repository whose code scanning is enabled. Settings the simulator does not tie to a configuration are
//! `not_set` (the configuration leaves them to the repository), so that no answer contradicts a repository's own.

use serde_json::{json, Value};

use super::security::cursor_list;
use super::{ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::state::{Repo, SimState};
use crate::views::simple_repo_json;

/// The id of "GitHub recommended", as GitHub's own example gives it.
pub const GITHUB_RECOMMENDED_ID: u64 = 17;

/// When GitHub created "GitHub recommended" (its example's `created_at`).
const GITHUB_RECOMMENDED_CREATED_AT: &str = "2023-12-04T15:58:07Z";

/// A configuration as served: declared by the fixture, or GitHub's default.
struct Configuration<'s> {
    id: u64,
    name: &'s str,
    code_scanning_default_setup: &'s str,
    global: bool,
    created_at: String,
    repositories: Vec<&'s Repo>,
}

/// The organization's configurations, or the refusal GitHub gives this caller.
fn configurations<'s>(state: &'s SimState, request: &RouteRequest<'_>) -> Result<Vec<Configuration<'s>>, ApiError> {
    let org = request.params[0].as_str();
    if !state.orgs.iter().any(|o| o == org) {
        return Err(ApiError::not_found());
    }
    if !state.is_security_manager(org, request.caller) {
        return Err(ApiError::new(403, "You must be an owner or security manager of this organization."));
    }
    let in_org = |repo: &&Repo| repo.owner == org;
    let served = match state.code_security_configurations.get(org) {
        Some(declared) => declared
            .iter()
            .map(|c| Configuration {
                id: c.id,
                name: &c.name,
                code_scanning_default_setup: &c.code_scanning_default_setup,
                global: false,
                created_at: iso8601(c.created_at),
                repositories: state
                    .repos
                    .values()
                    .filter(in_org)
                    .filter(|r| c.repository_ids.contains(&r.id))
                    .collect(),
            })
            .collect(),
        None => vec![Configuration {
            id: GITHUB_RECOMMENDED_ID,
            name: "GitHub recommended",
            code_scanning_default_setup: "enabled",
            global: true,
            created_at: GITHUB_RECOMMENDED_CREATED_AT.into(),
            repositories: state.repos.values().filter(in_org).filter(|r| r.spec.security.code_scanning).collect(),
        }],
    };
    Ok(served)
}

/// GitHub's `code-security-configuration` shape.
fn configuration_json(base: &str, org: &str, configuration: &Configuration<'_>) -> Value {
    let id = configuration.id;
    let default_setup = configuration.code_scanning_default_setup;
    let (target_type, description, html_path) = match configuration.global {
        true => {
            ("global", Some("Suggested settings for Dependabot, secret scanning, and code scanning."), "view".into())
        }
        false => ("organization", None, format!("edit/{id}")),
    };
    json!({
        "id": id, "name": configuration.name, "target_type": target_type, "description": description,
        // Code scanning on a private repository needs Advanced Security; default setup turns it on.
        "advanced_security": if default_setup == "enabled" { "enabled" } else { "disabled" },
        "dependency_graph": "not_set", "dependency_graph_autosubmit_action": "not_set",
        "dependabot_alerts": "not_set", "dependabot_security_updates": "not_set",
        "code_scanning_default_setup": default_setup, "code_scanning_default_setup_options": null,
        "code_scanning_delegated_alert_dismissal": "not_set",
        "secret_scanning": "not_set", "secret_scanning_push_protection": "not_set",
        "secret_scanning_delegated_bypass": "not_set", "secret_scanning_validity_checks": "not_set",
        "secret_scanning_non_provider_patterns": "not_set", "private_vulnerability_reporting": "not_set",
        "enforcement": "unenforced",
        "url": format!("{base}/orgs/{org}/code-security/configurations/{id}"),
        "html_url": format!("{}/organizations/{org}/settings/security_products/configurations/{html_path}", html_root(base)),
        "created_at": configuration.created_at, "updated_at": configuration.created_at,
    })
}

/// `GET /orgs/{org}/code-security/configurations` (`target_type` global|all; `before` / `after` / `per_page`).
pub fn list_configurations(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let global_only = request.query("target_type") == Some("global");
    let items = configurations(state, request)?
        .iter()
        .filter(|c| c.global || !global_only)
        .map(|c| configuration_json(request.base_url, &request.params[0], c))
        .collect();
    Ok(cursor_list(request, items))
}

/// `GET /orgs/{org}/code-security/configurations/{configuration_id}/repositories` (`status`: comma-separated
/// attachment statuses, `all` by default; `before` / `after` / `per_page`). Every attachment here is `attached`.
pub fn list_repositories(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let configurations = configurations(state, request)?;
    let wanted = request.params[1].parse::<u64>().ok();
    let configuration = configurations.iter().find(|c| Some(c.id) == wanted).ok_or_else(ApiError::not_found)?;
    let status = "attached";
    let admitted = request
        .query("status")
        .is_none_or(|filter| filter.split(',').map(str::trim).any(|wanted| wanted == "all" || wanted == status));
    let items = match admitted {
        true => configuration
            .repositories
            .iter()
            .map(|repo| json!({"status": status, "repository": simple_repo_json(request.base_url, repo)}))
            .collect(),
        false => Vec::new(),
    };
    Ok(cursor_list(request, items))
}
