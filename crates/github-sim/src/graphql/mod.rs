//! GitHub's GraphQL API (`POST /graphql`) for the subset the simulator serves. Every query is validated against
//! GitHub's own schema (npm `@octokit/graphql-schema`, installed by `scripts/github-graphql-schema.sh`; path from
//! `IO_GITHUB_GRAPHQL_SCHEMA`), limited and priced before it runs as GitHub does (see [`cost`]), charged to a
//! `graphql` budget of its own per credential, then executed over the simulator's state (see `execute`).
//!
//! A query GitHub would reject, or one asking for something the simulator does not serve, is answered with errors
//! and recorded on its log entry as a conformance violation, so that [`crate::SimHandle::assert_conformant`] fails
//! the test that sent it.

mod checks;
pub mod cost;
mod execute;
mod mutation;
mod resolve;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use apollo_compiler::executable::{Field, Operation};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{json, Map, Value};

use crate::rate_limit::{Budget, Charge};
use crate::state::SimState;

/// The endpoint's path.
pub const PATH: &str = crate::state::GRAPHQL_PATH;

pub use crate::state::DEFAULT_GRAPHQL_MAX_RESPONSE_BYTES as DEFAULT_MAX_RESPONSE_BYTES;

/// GitHub's message for a request stopped after 10 s, answered with 502 (docs: graphql/overview/
/// rate-limits-and-query-limits-for-the-graphql-api, "Timeouts").
pub const TIMEOUT_MESSAGE: &str = "We couldn't respond to your request in time. Sorry about that. Please try \
     resubmitting your request and contact us if the problem persists.";

/// Whether a request is a GraphQL call.
pub fn is_graphql(method: &str, path: &str) -> bool {
    method == "POST" && path == PATH
}

/// Where GitHub's schema is: `IO_GITHUB_GRAPHQL_SCHEMA`, else what `scripts/github-graphql-schema.sh` prints once it
/// has installed the pinned package (run once per process). A missing schema is an error, never a skip.
pub fn schema_path() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("IO_GITHUB_GRAPHQL_SCHEMA") {
        return Ok(PathBuf::from(path));
    }
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            crate::conformance::installed_description("IO_GITHUB_GRAPHQL_SCHEMA", "github-graphql-schema.sh")
                .map_err(|error| error.to_string())
        })
        .clone()
}

/// GitHub's schema, parsed once per process and path (it is about 64,000 lines).
pub fn schema() -> Result<Arc<Valid<Schema>>, String> {
    static PARSED: OnceLock<Mutex<HashMap<PathBuf, Arc<Valid<Schema>>>>> = OnceLock::new();
    let path = schema_path()?;
    let mut parsed = PARSED.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(schema) = parsed.get(&path) {
        return Ok(schema.clone());
    }
    let text = std::fs::read_to_string(&path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    let schema = match Schema::parse_and_validate(text, &path) {
        Ok(schema) => schema,
        // GitHub's own SDL declares `repositoryDeployKeySettingOrganizations` twice on two types, which the
        // validator reports; the rest of the schema is sound and is what github.com serves, so it is taken as is.
        Err(with_errors) => Valid::assume_valid(with_errors.partial),
    };
    let schema = Arc::new(schema);
    parsed.insert(path, schema.clone());
    Ok(schema)
}

/// How a GraphQL call was answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// HTTP status: 200, or 502 for a query stopped as timed out.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Points charged to the `graphql` budget.
    pub points: i64,
    /// Conformance violations found while serving it.
    pub violations: Vec<String>,
    /// `graphql_timeout` when the answer is GitHub's timeout.
    pub fault: Option<&'static str>,
}

/// One GraphQL error in GitHub's shape.
pub(crate) fn error_json(message: &str, kind: Option<&str>, location: Option<(usize, usize)>, path: &[Value]) -> Value {
    let mut error = Map::new();
    if let Some(kind) = kind {
        error.insert("type".into(), json!(kind));
    }
    if !path.is_empty() {
        error.insert("path".into(), Value::Array(path.to_vec()));
    }
    if let Some((line, column)) = location {
        error.insert("locations".into(), json!([{"line": line, "column": column}]));
    }
    error.insert("message".into(), json!(message));
    Value::Object(error)
}

/// Line and column of a parsed node.
pub(crate) fn location_of<T>(node: &apollo_compiler::Node<T>, document: &ExecutableDocument) -> Option<(usize, usize)> {
    node.line_column_range(&document.sources).map(|range| (range.start.line, range.start.column))
}

/// An argument's value as JSON (its default when not given), variables substituted.
pub(crate) fn argument(field: &Field, name: &str, variables: &Map<String, Value>) -> Option<Value> {
    let value = field.argument_by_name(name).ok()?;
    Some(value_json(value, variables))
}

/// A GraphQL value as JSON, variables substituted.
pub(crate) fn value_json(value: &apollo_compiler::ast::Value, variables: &Map<String, Value>) -> Value {
    use apollo_compiler::ast::Value as V;
    match value {
        V::Null => Value::Null,
        V::Enum(name) => json!(name.as_str()),
        V::Variable(name) => variables.get(name.as_str()).cloned().unwrap_or(Value::Null),
        V::String(text) => json!(text),
        V::Float(float) => float.try_to_f64().map(|f| json!(f)).unwrap_or(Value::Null),
        V::Int(int) => int.try_to_i32().map(|i| json!(i)).unwrap_or(Value::Null),
        V::Boolean(flag) => json!(flag),
        V::List(items) => Value::Array(items.iter().map(|item| value_json(item, variables)).collect()),
        V::Object(fields) => {
            Value::Object(fields.iter().map(|(name, item)| (name.to_string(), value_json(item, variables))).collect())
        }
    }
}

/// The request's variables with the operation's defaults filled in; GitHub's error for a required one missing.
fn variables_of(operation: &Operation, given: &Value) -> Result<Map<String, Value>, String> {
    let mut variables = given.as_object().cloned().unwrap_or_default();
    for definition in &operation.variables {
        let name = definition.name.as_str();
        if variables.get(name).is_some_and(|v| !v.is_null()) {
            continue;
        }
        match &definition.default_value {
            Some(default) => {
                variables.insert(name.to_string(), value_json(default, &Map::new()));
            }
            None if definition.ty.is_non_null() => {
                return Err(format!("Variable ${name} of type {} was provided invalid value", definition.ty));
            }
            None => {}
        }
    }
    Ok(variables)
}

/// The `graphql` budget's headers (`x-ratelimit-resource: graphql`).
pub(crate) fn rate_headers(budget: &Budget) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit".into(), budget.limit.to_string()),
        ("x-ratelimit-remaining".into(), budget.remaining.to_string()),
        ("x-ratelimit-used".into(), budget.used().to_string()),
        ("x-ratelimit-reset".into(), budget.reset_at.to_string()),
        ("x-ratelimit-resource".into(), "graphql".into()),
    ]
}

/// Points a query refused before it runs costs (GitHub documents none; charging keeps a client's mistakes visible in
/// its budget).
const REFUSED_POINTS: i64 = 1;

/// A refusal before anything ran: errors only, no `data`, each a violation too.
fn refused(errors: Vec<Value>, violations: Vec<String>) -> Answer {
    Answer { status: 200, body: json!({ "errors": errors }), points: 0, violations, fault: None }
}

/// A refusal, charged [`REFUSED_POINTS`] when the budget has them.
fn charged(state: &mut SimState, budget_key: &str, answer: Answer) -> Answer {
    let now = state.now;
    match state.graphql_budget(budget_key).charge_points(now, REFUSED_POINTS) {
        Charge::Counted => Answer { points: REFUSED_POINTS, ..answer },
        Charge::Exhausted => answer,
    }
}

/// Answers one GraphQL call by `budget_key` (already authenticated). `who` names the caller in GitHub's
/// rate-limit message (`installation ID 7`, `user ID 1`).
pub(crate) fn answer(state: &mut SimState, budget_key: &str, who: &str, request: &Value) -> Answer {
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        let message = "A query attribute must be specified and must be a string.";
        let violation = format!("GitHub rejects the request: {message}");
        return charged(state, budget_key, refused(vec![error_json(message, None, None, &[])], vec![violation]));
    };
    let schema = match schema() {
        Ok(schema) => schema,
        Err(error) => {
            let message = format!("github-sim needs GitHub's GraphQL schema to validate queries: {error}");
            let violation = message.clone();
            return refused(vec![error_json(&message, None, None, &[])], vec![violation]);
        }
    };
    let document = match ExecutableDocument::parse_and_validate(&schema, query, "query.graphql") {
        Ok(document) => document,
        Err(with_errors) => {
            let mut errors = Vec::new();
            let mut violations = Vec::new();
            for diagnostic in with_errors.errors.iter() {
                let location = diagnostic.line_column_range().map(|r| (r.start.line, r.start.column));
                let message = github_wording(&diagnostic.error.to_string());
                let (line, column) = location.unwrap_or_default();
                violations.push(format!(
                    "GitHub's GraphQL schema rejects the query: {message} (line {line}, column {column})"
                ));
                errors.push(error_json(&message, None, location, &[]));
            }
            return charged(state, budget_key, refused(errors, violations));
        }
    };
    let operation_name = request.get("operationName").and_then(Value::as_str);
    let operation = match document.operations.get(operation_name) {
        Ok(operation) => operation,
        Err(error) => {
            let message = error.message().to_string();
            let violation = format!("GitHub cannot choose the operation: {message}");
            return charged(state, budget_key, refused(vec![error_json(&message, None, None, &[])], vec![violation]));
        }
    };
    let variables = match variables_of(operation, request.get("variables").unwrap_or(&Value::Null)) {
        Ok(variables) => variables,
        Err(message) => {
            let violation = format!("GitHub rejects the variables: {message}");
            return charged(state, budget_key, refused(vec![error_json(&message, None, None, &[])], vec![violation]));
        }
    };
    let cost = match cost::analyze(&document, operation, &variables) {
        Ok(cost) => cost,
        Err(errors) => {
            let violations = errors.iter().map(|e| format!("GitHub refuses the query: {}", e.message)).collect();
            let errors = errors.iter().map(|e| error_json(&e.message, e.kind, e.location, &[])).collect();
            return charged(state, budget_key, refused(errors, violations));
        }
    };
    let now = state.now;
    let budget = state.graphql_budget(budget_key);
    if budget.charge_points(now, cost.points) == Charge::Exhausted {
        // GitHub answers an exhausted GraphQL budget with 200 and a `RATE_LIMITED` error, `x-ratelimit-remaining`
        // telling the client to wait until `x-ratelimit-reset` (docs: graphql/overview/
        // rate-limits-and-query-limits-for-the-graphql-api, "Exceeding the rate limit").
        let message = format!("API rate limit exceeded for {who}.");
        return refused(vec![error_json(&message, Some("RATE_LIMITED"), None, &[])], Vec::new());
    }
    let budget = *budget;
    let base_url = state.base_url.clone();
    let permissions = crate::routes::permissions::of_caller(state, budget_key);
    let outcome = if operation.operation_type.is_mutation() {
        let done = mutation::run(state, operation, &variables, permissions);
        execute::Outcome { data: done.data, errors: done.errors, violations: done.violations }
    } else {
        execute::run(&schema, &document, operation, &variables, state, permissions, &base_url, &budget, &cost)
    };
    let mut body = Map::new();
    if !outcome.errors.is_empty() {
        body.insert("errors".into(), Value::Array(outcome.errors));
    }
    body.insert("data".into(), outcome.data);
    let body = Value::Object(body);
    let size = body.to_string().len();
    if size > state.graphql_max_response_bytes {
        // Not a violation: GitHub does time out, and a client must cope (ask for less per query).
        return timed_out(cost.points, outcome.violations);
    }
    Answer { status: 200, body, points: cost.points, violations: outcome.violations, fault: None }
}

/// GitHub's (graphql-ruby's) wording of the validation errors a client meets most, from apollo-compiler's; others
/// keep apollo-compiler's wording.
fn github_wording(message: &str) -> String {
    let quoted = |text: &str| -> Vec<String> { text.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    let parts = quoted(message);
    if message.starts_with("type `") && message.contains("` does not have a field `") && parts.len() == 2 {
        return format!("Field '{}' doesn't exist on type '{}'", parts[1], parts[0]);
    }
    if message.starts_with("the argument `") && message.contains("` is not supported by `") && parts.len() == 2 {
        let field = parts[1].rsplit('.').next().unwrap_or_default();
        return format!("Field '{field}' doesn't accept argument '{}'", parts[0]);
    }
    if message.starts_with("the required argument `") && parts.len() == 1 {
        // `Type.field(argument:)`
        if let Some((field, argument)) = parts[0].split_once('(') {
            let field = field.rsplit('.').next().unwrap_or_default();
            let argument = argument.trim_end_matches(')').trim_end_matches(':');
            return format!("Field '{field}' is missing required arguments: {argument}");
        }
    }
    message.to_string()
}

/// GitHub's answer to a query stopped by its timeout; it counts against the primary budget (changelog
/// 2025-07-21-including-timeouts-in-primary-rate-limits).
pub(crate) fn timed_out(points: i64, violations: Vec<String>) -> Answer {
    let body = json!({"data": null, "errors": [{"message": TIMEOUT_MESSAGE}]});
    Answer { status: 502, body, points, violations, fault: Some("graphql_timeout") }
}

#[cfg(test)]
mod tests {
    use super::github_wording;

    #[test]
    fn common_validation_errors_read_as_github_words_them() {
        assert_eq!(
            github_wording("type `Repository` does not have a field `nosuchfield`"),
            "Field 'nosuchfield' doesn't exist on type 'Repository'"
        );
        assert_eq!(
            github_wording("the argument `foo` is not supported by `Query.repository`"),
            "Field 'repository' doesn't accept argument 'foo'"
        );
        assert_eq!(
            github_wording("the required argument `Query.repository(name:)` is not provided"),
            "Field 'repository' is missing required arguments: name"
        );
        assert_eq!(github_wording("syntax error: expected a Name"), "syntax error: expected a Name");
    }
}
