//! GitHub Actions workflows under `.github/workflows/` that accept `workflow_dispatch`: the ones a BuildPlan can
//! start. Read as YAML, never run.

use super::description::{DispatchableWorkflow, RepositoryDescription};
use super::files::{directory, file_name, parse_yaml, RepositoryFiles};

const WORKFLOWS_DIRECTORY: &str = ".github/workflows";

/// The workflow onboarding installs (from `config/workflows/`).
pub const OPERATOR_WORKFLOW: &str = "infinity-orchestrator.yml";

/// The input the operator's dispatches set, to find the run they started.
pub const CORRELATION_INPUT: &str = "correlation_id";

/// Whether a path is a workflow file: directly under `.github/workflows/` (GitHub reads no subdirectory).
pub(super) fn wants(path: &str) -> bool {
    let name = file_name(path);
    directory(path) == WORKFLOWS_DIRECTORY && (name.ends_with(".yml") || name.ends_with(".yaml"))
}

/// Reads every fetched workflow; keeps those whose `on` accepts `workflow_dispatch`.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) {
    let paths: Vec<&str> = files.paths().filter(|path| wants(path)).collect();
    for path in paths {
        let Some(text) = files.content(path) else { continue };
        let document = match parse_yaml(text) {
            Ok(document) => document,
            Err(message) => {
                out.warn(path, message);
                continue;
            }
        };
        if let Some(inputs) = dispatch_inputs(&document) {
            out.workflows.push(DispatchableWorkflow { file: file_name(path).to_owned(), inputs });
        }
    }
    out.workflows.sort();
}

/// The `workflow_dispatch` inputs, when the workflow accepts it: `on: workflow_dispatch`, `on: [push,
/// workflow_dispatch]`, or `on: {workflow_dispatch: {inputs: …}}`. YAML 1.1 readers turn `on` into `true`; both are
/// accepted.
fn dispatch_inputs(document: &serde_yaml::Value) -> Option<Vec<String>> {
    let triggers = document.get("on").or_else(|| document.as_mapping()?.get(serde_yaml::Value::Bool(true)))?;
    match triggers {
        serde_yaml::Value::String(event) => (event == "workflow_dispatch").then(Vec::new),
        serde_yaml::Value::Sequence(events) => {
            events.iter().any(|e| e.as_str() == Some("workflow_dispatch")).then(Vec::new)
        }
        serde_yaml::Value::Mapping(events) => {
            let dispatch = events.get("workflow_dispatch")?;
            let inputs = dispatch.get("inputs").and_then(serde_yaml::Value::as_mapping);
            let names = inputs.into_iter().flat_map(|inputs| inputs.keys()).filter_map(serde_yaml::Value::as_str);
            Some(names.map(str::to_owned).collect())
        }
        _ => None,
    }
}
