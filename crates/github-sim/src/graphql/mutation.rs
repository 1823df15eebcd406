//! GraphQL mutations the simulator serves, one arm per root field: each changes the state, then its payload is
//! shaped by the selection set. A mutation (or a payload field) GitHub has and the simulator does not serve is an
//! error naming it and a conformance violation.
//!
//! - `markPullRequestReadyForReview(input: {pullRequestId})`: takes a draft pull request out of draft.
//! - `enablePullRequestAutoMerge(input: {pullRequestId, mergeMethod, expectedHeadOid, …})`: refused (GitHub's
//!   `UNPROCESSABLE`) when the repository does not allow auto-merge, the pull request is closed or a draft, or could be
//!   merged at once (`clean`/`unstable` status: merge it instead); the pull request merges once its requirements are
//!   met (see [`crate::merging::settle_auto_merges`]).

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::Node;
use serde_json::{json, Map, Value};

use super::{argument, error_json};
use crate::merging;
use crate::routes::permissions::{grants, Permissions, NOT_ACCESSIBLE};
use crate::state::{AutoMerge, Pull, SimState, BOT_LOGIN};

/// What the mutation answered: `data`, `errors` and conformance violations.
pub(super) struct Outcome {
    pub data: Value,
    pub errors: Vec<Value>,
    pub violations: Vec<String>,
}

/// A refusal of one root field.
struct Refusal {
    message: String,
    kind: Option<&'static str>,
    unserved: bool,
}

impl Refusal {
    fn unprocessable(message: String) -> Self {
        Refusal { message, kind: Some("UNPROCESSABLE"), unserved: false }
    }
}

/// Runs every root field of `operation` in order, as GitHub runs mutations (serially).
pub(super) fn run(
    state: &mut SimState,
    operation: &Operation,
    variables: &Map<String, Value>,
    permissions: Option<Permissions>,
) -> Outcome {
    let mut outcome = Outcome { data: Value::Null, errors: Vec::new(), violations: Vec::new() };
    let mut data = Map::new();
    for field in fields(&operation.selection_set) {
        let key = field.response_key().to_string();
        let result = match field.name.as_str() {
            "enablePullRequestAutoMerge" => enable_auto_merge(state, field, variables, permissions.as_ref()),
            "markPullRequestReadyForReview" => mark_ready(state, field, variables, permissions.as_ref()),
            other => Err(Refusal {
                message: format!("github-sim does not serve the mutation {other}"),
                kind: None,
                unserved: true,
            }),
        };
        match result {
            Ok(pull_index) => {
                let payload = payload(state, field, pull_index, variables, &mut outcome.violations);
                data.insert(key, payload);
            }
            Err(refusal) => {
                if refusal.unserved {
                    outcome.violations.push(refusal.message.clone());
                }
                outcome.errors.push(error_json(&refusal.message, refusal.kind, None, &[json!(key)]));
                data.insert(key, Value::Null);
            }
        }
    }
    outcome.data = Value::Object(data);
    outcome
}

/// The fields of a selection set, through inline fragments.
fn fields(set: &SelectionSet) -> Vec<&Node<Field>> {
    let mut found = Vec::new();
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => found.push(field),
            Selection::InlineFragment(inline) => found.extend(fields(&inline.selection_set)),
            Selection::FragmentSpread(_) => {}
        }
    }
    found
}

/// The index of the pull request a mutation's `input.pullRequestId` names; GitHub's `NOT_FOUND` for an unknown id.
fn pull_request_of(state: &SimState, field: &Field, variables: &Map<String, Value>) -> Result<usize, Refusal> {
    let input = argument(field, "input", variables).unwrap_or(Value::Null);
    let id = input.get("pullRequestId").and_then(Value::as_str).unwrap_or_default();
    state.pulls.iter().position(|pull| format!("PR_{}", pull.id) == id).ok_or_else(|| Refusal {
        message: format!("Could not resolve to a node with the global id of '{id}'"),
        kind: Some("NOT_FOUND"),
        unserved: false,
    })
}

/// `markPullRequestReadyForReview(input: {pullRequestId})`: takes the pull request out of draft (one that is ready
/// already stays so); needs `pull_requests: write`. The index of the pull request.
fn mark_ready(
    state: &mut SimState,
    field: &Field,
    variables: &Map<String, Value>,
    permissions: Option<&Permissions>,
) -> Result<usize, Refusal> {
    let index = pull_request_of(state, field, variables)?;
    if !permissions.is_none_or(|granted| grants(granted, "pull_requests", "write")) {
        return Err(Refusal { message: NOT_ACCESSIBLE.to_owned(), kind: Some("FORBIDDEN"), unserved: false });
    }
    let now = state.now;
    let pull = &mut state.pulls[index];
    if pull.draft {
        pull.draft = false;
        pull.updated_at = now;
    }
    Ok(index)
}

/// `enablePullRequestAutoMerge`: the index of the pull request it turned auto-merge on for.
fn enable_auto_merge(
    state: &mut SimState,
    field: &Field,
    variables: &Map<String, Value>,
    permissions: Option<&Permissions>,
) -> Result<usize, Refusal> {
    let index = pull_request_of(state, field, variables)?;
    let input = argument(field, "input", variables).unwrap_or(Value::Null);
    // Enabling auto-merge is merging later: GitHub asks what merging needs.
    let allowed = permissions
        .is_none_or(|granted| grants(granted, "contents", "write") && grants(granted, "pull_requests", "write"));
    if !allowed {
        return Err(Refusal { message: NOT_ACCESSIBLE.to_owned(), kind: Some("FORBIDDEN"), unserved: false });
    }
    let pull = &state.pulls[index];
    let repo = state.repo(&pull.owner, &pull.repo).ok_or_else(|| Refusal::unprocessable("Not Found".into()))?;
    let method = input.get("mergeMethod").and_then(Value::as_str).unwrap_or("MERGE").to_ascii_lowercase();
    let refuse = |why: &str| Err(Refusal::unprocessable(format!("Pull request {why}")));
    if !repo.spec.merge.allow_auto_merge {
        return refuse("Auto merge is not allowed for this repository");
    }
    if pull.state != "open" {
        return refuse("Pull request is closed");
    }
    if let Some(refusal) = merging::method_refusal(repo, &method) {
        return refuse(&refusal);
    }
    let head = repo.branches.get(&pull.head).cloned().unwrap_or_default();
    if input.get("expectedHeadOid").and_then(Value::as_str).is_some_and(|expected| expected != head) {
        return refuse("Head branch was modified. Review and try the merge again.");
    }
    match merging::mergeable_state(repo, pull) {
        "draft" => return refuse("Pull request is in draft state"),
        state @ ("clean" | "unstable" | "dirty") => return refuse(&format!("Pull request is in {state} status")),
        _ => {}
    }
    let now = state.now;
    state.pulls[index].auto_merge =
        Some(AutoMerge { merge_method: method, enabled_by: BOT_LOGIN.into(), enabled_at: now });
    state.pulls[index].updated_at = now;
    Ok(index)
}

/// The payload of a mutation on the pull request at `index`: `clientMutationId`, `actor` and `pullRequest`.
fn payload(
    state: &SimState,
    field: &Field,
    index: usize,
    variables: &Map<String, Value>,
    violations: &mut Vec<String>,
) -> Value {
    let input = argument(field, "input", variables).unwrap_or(Value::Null);
    let mut payload = Map::new();
    for selected in fields(&field.selection_set) {
        let value = match selected.name.as_str() {
            "__typename" => json!(format!("{}Payload", capitalized(&field.name))),
            "clientMutationId" => input.get("clientMutationId").cloned().unwrap_or(Value::Null),
            "actor" => shaped(&selected.selection_set, violations, |name| match name {
                "__typename" => Some(json!("Bot")),
                "login" => Some(json!(BOT_LOGIN)),
                _ => None,
            }),
            "pullRequest" => pull_request(state, &state.pulls[index], &selected.selection_set, violations),
            other => {
                violations.push(format!("github-sim does not serve {}.{other}", field.name));
                Value::Null
            }
        };
        payload.insert(selected.response_key().to_string(), value);
    }
    Value::Object(payload)
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// An object shaped by `set`, each field's value from `value_of`; a field it has none for is a violation.
fn shaped(set: &SelectionSet, violations: &mut Vec<String>, value_of: impl Fn(&str) -> Option<Value>) -> Value {
    let mut object = Map::new();
    for field in fields(set) {
        let value = value_of(field.name.as_str()).unwrap_or_else(|| {
            violations.push(format!("github-sim does not serve the field {} here", field.name));
            Value::Null
        });
        object.insert(field.response_key().to_string(), value);
    }
    Value::Object(object)
}

/// The fields of `PullRequest` a mutation's payload serves.
fn pull_request(state: &SimState, pull: &Pull, set: &SelectionSet, violations: &mut Vec<String>) -> Value {
    let head = state.repo(&pull.owner, &pull.repo).and_then(|repo| repo.branches.get(&pull.head)).cloned();
    let mut object = Map::new();
    for field in fields(set) {
        let value = match field.name.as_str() {
            "__typename" => Some(json!("PullRequest")),
            "id" => Some(json!(format!("PR_{}", pull.id))),
            "number" => Some(json!(pull.number)),
            "state" => Some(json!(if pull.merged_at.is_some() { "MERGED" } else { &pull.state }.to_uppercase())),
            "isDraft" => Some(json!(pull.draft)),
            "merged" => Some(json!(pull.merged_at.is_some())),
            "headRefName" => Some(json!(pull.head)),
            "headRefOid" => head.clone().map(Value::from),
            "autoMergeRequest" => Some(match &pull.auto_merge {
                None => Value::Null,
                Some(auto) => shaped(&field.selection_set, violations, |name| match name {
                    "__typename" => Some(json!("AutoMergeRequest")),
                    "mergeMethod" => Some(json!(auto.merge_method.to_uppercase())),
                    "enabledAt" => Some(json!(crate::clock::iso8601(auto.enabled_at))),
                    _ => None,
                }),
            }),
            _ => None,
        };
        let value = value.unwrap_or_else(|| {
            violations.push(format!("github-sim does not serve PullRequest.{} in a mutation payload", field.name));
            Value::Null
        });
        object.insert(field.response_key().to_string(), value);
    }
    Value::Object(object)
}
