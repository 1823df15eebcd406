//! Conformance to GitHub's official OpenAPI description (npm `@octokit/openapi`, installed by
//! `scripts/github-openapi.sh`; path from `IO_GITHUB_OPENAPI`, else the script's cache location).

pub mod schema;
pub mod webhooks;

use std::path::PathBuf;

use serde_json::Value;

use crate::routes::match_template;
use crate::state::LoggedRequest;

/// Errors loading the description.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The install script failed or printed nothing usable.
    #[error("installing GitHub's OpenAPI description with {script}: {detail}")]
    Install {
        /// The script run.
        script: String,
        /// What went wrong.
        detail: String,
    },
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("parsing {path}")]
    Parse {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// GitHub's description, loaded.
#[derive(Debug)]
pub struct Description {
    document: Value,
}

/// A documented operation matched to a concrete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMatch {
    /// The documented path template.
    pub template: String,
    /// The operation id.
    pub operation_id: String,
}

/// Where the REST description is: `IO_GITHUB_OPENAPI`, else whatever `scripts/github-openapi.sh` prints (it installs
/// the package when absent). A missing description is an error.
pub fn description_path() -> Result<PathBuf, ConformanceError> {
    installed_description("IO_GITHUB_OPENAPI", "github-openapi.sh")
}

/// The path in the environment variable `variable`, else what the project's `scripts/{script}` prints once it has
/// installed the pinned package. Shared by the REST and webhook descriptions; never a skip.
pub(crate) fn installed_description(variable: &str, script: &str) -> Result<PathBuf, ConformanceError> {
    if let Ok(path) = std::env::var(variable) {
        return Ok(PathBuf::from(path));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(script);
    let install = |detail: String| ConformanceError::Install { script: script.display().to_string(), detail };
    let output = std::process::Command::new("bash").arg(&script).output().map_err(|e| install(e.to_string()))?;
    if !output.status.success() {
        return Err(install(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if printed.is_empty() {
        return Err(install("printed no path".into()));
    }
    Ok(PathBuf::from(printed))
}

impl Description {
    /// Loads the description from [`description_path`].
    pub fn load() -> Result<Self, ConformanceError> {
        let path = description_path()?;
        let display = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConformanceError::Read { path: display.clone(), source })?;
        let document =
            serde_json::from_str(&text).map_err(|source| ConformanceError::Parse { path: display, source })?;
        Ok(Description { document })
    }

    /// Builds from an already-parsed document (tests of the checker).
    pub fn from_document(document: Value) -> Self {
        Description { document }
    }

    /// The documented operation for a method and a concrete path (or a template), preferring the most literal match.
    pub fn find_operation(&self, method: &str, path: &str) -> Option<OperationMatch> {
        let paths = self.document.get("paths")?.as_object()?;
        let method = method.to_ascii_lowercase();
        paths
            .iter()
            .filter(|(template, _)| template.as_str() == path || match_template(template, path).is_some())
            .filter_map(|(template, item)| {
                let operation = item.get(&method)?;
                let operation_id = operation.get("operationId")?.as_str()?.to_string();
                Some(OperationMatch { template: template.clone(), operation_id })
            })
            .max_by_key(|m| m.template.split('/').filter(|s| !s.starts_with('{')).count())
    }

    fn operation(&self, method: &str, template: &str) -> Option<&Value> {
        self.document.get("paths")?.get(template)?.get(method.to_ascii_lowercase())
    }

    fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => schema::resolve(&self.document, reference).unwrap_or(value),
            None => value,
        }
    }

    /// Violations of the documented response schema for `status` (empty when it conforms).
    pub fn validate_response(&self, method: &str, path: &str, status: u16, body: Option<&Value>) -> Vec<String> {
        let Some(found) = self.find_operation(method, path) else {
            return vec![format!("{method} {path}: not a documented GitHub operation")];
        };
        let label = format!("{method} {} ({}) → {status}", found.template, found.operation_id);
        let Some(operation) = self.operation(method, &found.template) else { return Vec::new() };
        // A 304 answers a conditional GET, which GitHub documents for the whole REST API ("conditional requests")
        // rather than per operation; it must carry no body.
        if status == 304 && method.eq_ignore_ascii_case("GET") {
            return match body {
                None => Vec::new(),
                Some(_) => vec![format!("{label}: a 304 with a body")],
            };
        }
        let Some(response) = operation.get("responses").and_then(|r| r.get(status.to_string())) else {
            // GitHub documents 404 on only some operations though every one can answer it; an undocumented client
            // error must still have GitHub's `basic-error` shape.
            if status >= 400 {
                let basic_error = serde_json::json!({"$ref": "#/components/schemas/basic-error"});
                let mut violations = Vec::new();
                match body {
                    Some(body) => schema::validate(&self.document, &basic_error, body, "$", &mut violations),
                    None => violations.push("an error status without a body".into()),
                }
                return violations.into_iter().map(|v| format!("{label}: {v}")).collect();
            }
            return vec![format!("{label}: status {status} is not documented")];
        };
        let response = self.deref(response);
        let schema = response.get("content").and_then(|c| c.get("application/json")).and_then(|c| c.get("schema"));
        let mut violations = Vec::new();
        match (schema, body) {
            (Some(schema), Some(body)) => schema::validate(&self.document, schema, body, "$", &mut violations),
            (Some(_), None) if status != 304 => violations.push("documented a JSON body, got none".into()),
            _ => {}
        }
        violations.into_iter().map(|v| format!("{label}: {v}")).collect()
    }

    /// Violations of the documented request-body schema (empty when it conforms or none is documented).
    pub fn validate_request(&self, method: &str, path: &str, body: Option<&Value>) -> Vec<String> {
        let Some(found) = self.find_operation(method, path) else {
            return vec![format!("{method} {path}: not a documented GitHub operation")];
        };
        let Some(operation) = self.operation(method, &found.template) else { return Vec::new() };
        let schema = operation
            .get("requestBody")
            .map(|b| self.deref(b))
            .and_then(|b| b.get("content"))
            .and_then(|c| c.get("application/json"))
            .and_then(|c| c.get("schema"));
        let mut violations = Vec::new();
        if let (Some(schema), Some(body)) = (schema, body) {
            schema::validate(&self.document, schema, body, "$", &mut violations);
        }
        let label = format!("{method} {} ({}) request", found.template, found.operation_id);
        violations.into_iter().map(|v| format!("{label}: {v}")).collect()
    }

    /// Every violation in a request log: request and response bodies of GitHub requests. Answers replaced by an
    /// injected transport failure (a bare 5xx) are not GitHub's, so only their requests are checked.
    pub fn validate_log(&self, log: &[LoggedRequest]) -> Vec<String> {
        // GraphQL calls are checked against GitHub's GraphQL schema as they are served (see `crate::graphql`).
        log.iter()
            .filter(|entry| !entry.is_graphql())
            .flat_map(|entry| {
                let mut violations = self.validate_request(&entry.method, &entry.path, entry.request_body.as_ref());
                if !entry.answer_injected() {
                    let body = as_documented_version(entry).or_else(|| entry.response_body.clone());
                    violations.extend(self.validate_response(&entry.method, &entry.path, entry.status, body.as_ref()));
                }
                violations.into_iter().map(move |v| format!("#{} {v}", entry.seq))
            })
            .collect()
    }
}

/// The pinned description documents API version 2022-11-28. A 2026-03-10 answer is checked after undoing that
/// version's documented breaking changes that reach the simulator's routes (docs: rest/about-the-rest-api/
/// breaking-changes): `GET /rate_limit` lost the deprecated top-level `rate`, a copy of `resources.core`. (The
/// dispatch's 200 is documented already; removed response fields need no undoing, the schemas allow extra ones.)
fn as_documented_version(entry: &LoggedRequest) -> Option<Value> {
    if entry.api_version.as_deref() != Some(crate::routes::API_VERSION_2026_03_10) || entry.path != "/rate_limit" {
        return None;
    }
    let mut body = entry.response_body.clone()?;
    let core = body.get("resources")?.get("core")?.clone();
    body.as_object_mut()?.entry("rate").or_insert(core);
    Some(body)
}
