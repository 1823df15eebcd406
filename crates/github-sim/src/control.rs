//! Control endpoints under `/_sim/` (not GitHub's).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultConfig;
use crate::fixture::{RepoFixture, RunFixture};
use crate::rate_limit::Budget;
use crate::state::SimState;

/// Replaces the faults and reseeds their RNG.
pub fn set_faults(state: &mut SimState, faults: FaultConfig) {
    state.fault_rng = fastrand::Rng::with_seed(faults.seed);
    state.secondary = crate::faults::SecondaryWindow::default();
    state.fault_decisions = 0;
    state.faults = faults;
}

/// Sets every credential's budget, and the default for new ones.
pub fn set_rate_limit(state: &mut SimState, limit: i64, remaining: i64, reset_in_secs: i64) {
    let budget = Budget { limit, remaining, reset_at: state.now + reset_in_secs };
    state.default_limit = limit;
    let mut keys: Vec<String> = state.tokens.iter().cloned().collect();
    keys.extend(state.apps.iter().flat_map(|a| &a.installations).map(|id| crate::state::installation_budget_key(*id)));
    for key in keys {
        state.budgets.insert(key, budget);
    }
}

/// Sets every credential's `graphql` budget, and the default for new ones.
pub fn set_graphql_rate_limit(state: &mut SimState, limit: i64, remaining: i64, reset_in_secs: i64) {
    let budget = Budget { limit, remaining, reset_at: state.now + reset_in_secs };
    state.graphql_default_limit = limit;
    let mut keys: Vec<String> = state.tokens.iter().cloned().collect();
    keys.extend(state.apps.iter().flat_map(|a| &a.installations).map(|id| crate::state::installation_budget_key(*id)));
    for key in keys {
        state.graphql_budgets.insert(key, budget);
    }
}

#[derive(Deserialize)]
struct RateLimitBody {
    limit: i64,
    remaining: i64,
    reset_in_secs: i64,
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

#[derive(Deserialize)]
struct NewRepoBody {
    owner: String,
    #[serde(flatten)]
    repo: RepoFixture,
}

/// Edits to a repository through `PATCH /_sim/repos/{owner}/{repo}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RepoEdit {
    /// New name.
    pub name: Option<String>,
    /// Archive or unarchive.
    pub archived: Option<bool>,
    /// Replace the topics.
    pub topics: Option<Vec<String>>,
    /// New visibility.
    pub visibility: Option<String>,
    /// New primary language.
    pub language: Option<String>,
}

/// Applies an edit; false when the repository does not exist or the new name is taken.
pub fn edit_repo(state: &mut SimState, owner: &str, name: &str, edit: RepoEdit) -> bool {
    let key = (owner.to_string(), name.to_string());
    if let Some(new_name) = &edit.name {
        if new_name != name && state.repos.contains_key(&(owner.to_string(), new_name.clone())) {
            return false;
        }
    }
    let Some(mut repo) = state.repos.remove(&key) else { return false };
    repo.updated_at = state.now;
    let mut actions = Vec::new();
    if let Some(archived) = edit.archived {
        if archived != repo.spec.archived {
            actions.push(if archived { "archived" } else { "unarchived" });
        }
        repo.spec.archived = archived;
    }
    if let Some(topics) = edit.topics {
        repo.spec.topics = topics;
    }
    if let Some(visibility) = edit.visibility {
        repo.spec.visibility = visibility;
    }
    if edit.language.is_some() {
        repo.spec.language = edit.language;
    }
    if let Some(new_name) = edit.name {
        for run in state.runs.iter_mut().filter(|r| r.owner == owner && r.repo == name) {
            run.repo = new_name.clone();
        }
        if new_name != repo.spec.name {
            actions.push("renamed");
        }
        repo.spec.name = new_name;
    }
    let new_name = repo.spec.name.clone();
    state.repos.insert((owner.to_string(), new_name.clone()), repo);
    for action in actions {
        let changes =
            if action == "renamed" { json!({"changes": {"repository": {"name": {"from": name}}}}) } else { json!({}) };
        state.emit("repository", Some(action), owner, &new_name, changes);
    }
    true
}

/// Commits file changes (`null` content deletes) to the default branch; returns the new head sha.
pub fn commit_files(
    state: &mut SimState,
    owner: &str,
    name: &str,
    files: &std::collections::BTreeMap<String, Option<String>>,
    message: &str,
) -> Option<String> {
    let now = state.now;
    let repo = state.repo_mut(owner, name)?;
    let before = repo.head_sha.clone();
    let branch = repo.spec.default_branch.clone();
    repo.commit_changes(&branch, files, message, now)?;
    let after = repo.head_sha.clone();
    state.emit_push(owner, name, &branch, Some(&before), &after);
    Some(after)
}

/// Moves a repository to another owner (created when new), emitting `repository` `transferred`; false when it does
/// not exist or the new owner already has a repository of that name.
pub fn transfer_repo(state: &mut SimState, owner: &str, name: &str, new_owner: &str) -> bool {
    if state.repo(new_owner, name).is_some() {
        return false;
    }
    let Some(mut repo) = state.repos.remove(&(owner.to_string(), name.to_string())) else { return false };
    repo.owner = new_owner.to_string();
    repo.updated_at = state.now;
    if !state.orgs.iter().any(|o| o == new_owner) {
        state.orgs.push(new_owner.to_string());
    }
    for run in state.runs.iter_mut().filter(|r| r.owner == owner && r.repo == name) {
        run.owner = new_owner.to_string();
    }
    for issue in state.issues.iter_mut().filter(|i| i.owner == owner && i.repo == name) {
        issue.owner = new_owner.to_string();
    }
    for pull in state.pulls.iter_mut().filter(|p| p.owner == owner && p.repo == name) {
        pull.owner = new_owner.to_string();
    }
    state.repos.insert((new_owner.to_string(), name.to_string()), repo);
    let from = crate::views::organization_json(&state.base_url, owner);
    let changes = json!({"changes": {"owner": {"from": {"organization": from}}}});
    state.emit("repository", Some("transferred"), new_owner, name, changes);
    true
}

/// Replaces how future runs of a workflow (file name, or every workflow when `None`) end.
pub fn set_outcome(
    state: &mut SimState,
    owner: &str,
    name: &str,
    workflow: Option<&str>,
    outcome: crate::fixture::OutcomeFixture,
) -> bool {
    let Some(repo) = state.repos.get_mut(&(owner.to_string(), name.to_string())) else { return false };
    for w in repo.workflows.iter_mut() {
        if workflow.is_none_or(|file| w.spec.path.rsplit('/').next() == Some(file) || w.spec.path == file) {
            w.spec.outcome = outcome;
        }
    }
    true
}

#[derive(Deserialize)]
struct FilesBody {
    files: std::collections::BTreeMap<String, Option<String>>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct TransferBody {
    new_owner: String,
}

#[derive(Deserialize)]
struct OutcomeBody {
    workflow: Option<String>,
    #[serde(flatten)]
    outcome: crate::fixture::OutcomeFixture,
}

fn repo_control(state: &mut SimState, method: &str, rest: &str, body: &Value) -> (u16, Value) {
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let (owner, name, tail) = match parts.as_slice() {
        [owner, name] => (*owner, *name, ""),
        [owner, name, tail] => (*owner, *name, *tail),
        _ => return (404, json!({"message": "Not Found"})),
    };
    let not_found = (404, json!({"message": "Not Found"}));
    match (method, tail) {
        ("DELETE", "") => match state.repos.remove(&(owner.to_string(), name.to_string())) {
            Some(repo) => {
                let body = json!({"repository": crate::views::repo_json(&state.base_url, &repo)});
                state.emit("repository", Some("deleted"), owner, name, body);
                (200, json!({}))
            }
            None => not_found,
        },
        ("PATCH", "") => match RepoEdit::deserialize(body) {
            Ok(edit) => match edit_repo(state, owner, name, edit) {
                true => (200, json!({})),
                false => not_found,
            },
            Err(error) => bad_request(error.to_string()),
        },
        ("PUT", "files") => match FilesBody::deserialize(body) {
            Ok(files) => match commit_files(state, owner, name, &files.files, &files.message) {
                Some(sha) => (200, json!({"sha": sha})),
                None => not_found,
            },
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "transfer") => match TransferBody::deserialize(body) {
            Ok(t) => match transfer_repo(state, owner, name, &t.new_owner) {
                true => (200, json!({})),
                false => not_found,
            },
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "runs") => match RunFixture::deserialize(body) {
            Ok(run) => match run.validate(name) {
                Err(error) => bad_request(error.to_string()),
                Ok(()) => match state.start_run(owner, name, run) {
                    Some(id) => (201, json!({"id": id})),
                    None => not_found,
                },
            },
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "outcomes") => match OutcomeBody::deserialize(body) {
            Ok(o) => match set_outcome(state, owner, name, o.workflow.as_deref(), o.outcome) {
                true => (200, json!({})),
                false => not_found,
            },
            Err(error) => bad_request(error.to_string()),
        },
        _ => not_found,
    }
}

fn bad_request(message: String) -> (u16, Value) {
    (400, json!({"message": message}))
}

/// Serves one control request; returns status and JSON body.
pub fn handle(state: &mut SimState, method: &str, path: &str, body: &Value) -> (u16, Value) {
    match (method, path) {
        ("GET", "/_sim/requests") => (200, serde_json::to_value(&state.log).unwrap_or(Value::Null)),
        ("DELETE", "/_sim/requests") => {
            state.log.clear();
            (200, json!({}))
        }
        ("GET", "/_sim/clock") => (200, json!({"now": state.now, "iso": crate::clock::iso8601(state.now)})),
        ("POST", "/_sim/clock/advance") => match AdvanceBody::deserialize(body) {
            Ok(advance) => {
                state.advance(i64::try_from(advance.seconds).unwrap_or(0));
                (200, json!({"now": state.now}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/faults") => match FaultConfig::deserialize(body) {
            Ok(FaultConfig { secondary_limit: Some(limit), .. }) if limit.invalid().is_some() => {
                bad_request(limit.invalid().unwrap_or_default())
            }
            Ok(faults) => {
                set_faults(state, faults);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/git-limits") => match crate::fixture::GitLimits::deserialize(body) {
            Ok(limits) => {
                state.git_limits = limits;
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/rate-limit") => match RateLimitBody::deserialize(body) {
            Ok(b) => {
                set_rate_limit(state, b.limit, b.remaining, b.reset_in_secs);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/graphql-rate-limit") => match RateLimitBody::deserialize(body) {
            Ok(b) => {
                set_graphql_rate_limit(state, b.limit, b.remaining, b.reset_in_secs);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/repos") => match NewRepoBody::deserialize(body) {
            Ok(new) if new.repo.validate().is_err() => {
                bad_request(new.repo.validate().err().map(|e| e.to_string()).unwrap_or_default())
            }
            Ok(new) => {
                let name = new.repo.name.clone();
                state.add_repo(&new.owner, new.repo);
                state.emit("repository", Some("created"), &new.owner, &name, json!({}));
                (201, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/webhook") => match crate::webhook::WebhookTarget::deserialize(body) {
            Ok(target) => {
                state.webhook = Some(target);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        _ => match path.strip_prefix("/_sim/repos/") {
            Some(rest) => repo_control(state, method, rest, body),
            None => (404, json!({"message": "Not Found"})),
        },
    }
}
