//! GitHub Actions workflows under `.github/workflows/` that accept `workflow_dispatch`: the ones a BuildPlan can
//! start. Read as YAML, never run.

use super::description::{DispatchableWorkflow, RepositoryDescription};
use super::files::{directory, file_name, parse_yaml, RepositoryFiles};

const WORKFLOWS_DIRECTORY: &str = ".github/workflows";

/// The workflow onboarding installs (from `config/workflows/`).
pub const OPERATOR_WORKFLOW: &str = "infinity-orchestrator.yml";

/// The operator's lockfile-update workflow, installed by onboarding and dispatched by healing on a dependency
/// pull request's branch. It builds nothing, so it is never a build workflow.
pub const LOCKFILE_WORKFLOW: &str = "lockfile-update.yml";

/// The input the operator's workflow reads its build command from.
pub const BUILD_COMMAND_INPUT: &str = "build_command";

/// The input the operator's workflow reads its test command from.
pub const TEST_COMMAND_INPUT: &str = "test_command";

/// What a workflow that declares both command inputs holds of the commands, as written in its file: each command
/// input's `default`, and the `with.command` of every job that passes one of them on. `plan::installed_workflows` tells
/// whether these are the commands in effect.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WrittenCommands {
    /// `(input, default)` for each command input; an input without a default has `""`, a non-string one none.
    pub defaults: Vec<(String, Option<String>)>,
    /// `(input, value)` for each job's `with.command` whose expression starts with that input.
    pub jobs: Vec<(String, String)>,
}

impl WrittenCommands {
    /// Reads them from a parsed workflow; `None` when it does not declare both command inputs (a workflow of the
    /// repository's own making).
    pub fn read(document: &serde_yaml::Value) -> Option<Self> {
        let triggers = document.get("on").or_else(|| document.as_mapping()?.get(serde_yaml::Value::Bool(true)))?;
        let inputs = triggers.get("workflow_dispatch")?.get("inputs")?;
        let mut written = WrittenCommands::default();
        for input in [BUILD_COMMAND_INPUT, TEST_COMMAND_INPUT] {
            let default = inputs.get(input)?.get("default");
            let default = default.map_or(Some(String::new()), |d| d.as_str().map(str::to_owned));
            written.defaults.push((input.to_owned(), default));
            let jobs =
                document.get("jobs").and_then(serde_yaml::Value::as_mapping).into_iter().flat_map(|j| j.values());
            for value in jobs.filter_map(|job| job.get("with")?.get("command")?.as_str()) {
                if reads_input(value, input) {
                    written.jobs.push((input.to_owned(), value.to_owned()));
                }
            }
        }
        Some(written)
    }
}

/// Whether a job's value is an expression starting with `inputs.<input>`; a command that merely mentions the input
/// inside a string literal does not count.
fn reads_input(value: &str, input: &str) -> bool {
    let expression = value.trim().strip_prefix("${{").map_or("", str::trim_start);
    let rest = expression.strip_prefix("inputs.").and_then(|rest| rest.strip_prefix(input));
    rest.is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-'))
}

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
            let written_commands = WrittenCommands::read(&document);
            out.workflows.push(DispatchableWorkflow { file: file_name(path).to_owned(), inputs, written_commands });
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
