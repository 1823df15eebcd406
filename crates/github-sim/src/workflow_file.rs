//! Workflows as GitHub reads them: YAML files directly under `.github/workflows/` at a ref. Their `name`,
//! `run-name` and `on.workflow_dispatch.inputs` (with `required` and `default`) come from the file; the fixture's
//! `workflows:` list only says how runs end. A fixture entry that still describes the workflow (`name`, `inputs`,
//! `run_name` or `workflow_dispatch`) and whose file is absent gets a generated file at load (the shorthand).

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use crate::fixture::{RepoFixture, WorkflowFixture};

/// Where GitHub looks for workflows (no subdirectory).
pub const WORKFLOWS_DIRECTORY: &str = ".github/workflows/";

/// Whether `path` is a workflow file: `.yml` or `.yaml` directly under `.github/workflows/`.
pub fn is_workflow_path(path: &str) -> bool {
    path.strip_prefix(WORKFLOWS_DIRECTORY)
        .is_some_and(|name| !name.contains('/') && (name.ends_with(".yml") || name.ends_with(".yaml")))
}

/// The file name of a workflow path (`build.yml`), by which the API also finds it.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A `workflow_dispatch` input as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchInput {
    /// Its name.
    pub name: String,
    /// `required: true`.
    pub required: bool,
    /// Its `default`, as text.
    pub default: Option<String>,
}

/// What a workflow file says that the API shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowDefinition {
    /// `name:` (GitHub shows the path when absent).
    pub name: Option<String>,
    /// `run-name:` template.
    pub run_name: Option<String>,
    /// The `workflow_dispatch` inputs, when `on` accepts `workflow_dispatch` (`None`: it does not, or the file is
    /// not valid YAML).
    pub dispatch: Option<Vec<DispatchInput>>,
}

impl WorkflowDefinition {
    /// The name GitHub shows: `name:`, else the path.
    pub fn display_name(&self, path: &str) -> String {
        self.name.clone().unwrap_or_else(|| path.to_string())
    }
}

/// Reads a workflow file. `on` may have been read as the boolean `true` (YAML 1.1): both spellings count.
pub fn parse(text: &str) -> WorkflowDefinition {
    let Ok(document) = serde_yaml::from_str::<Value>(text) else { return WorkflowDefinition::default() };
    let text_of = |key: &str| document.get(key).and_then(scalar_text);
    let triggers = document.get("on").or_else(|| document.as_mapping().and_then(|m| m.get(Value::Bool(true))));
    WorkflowDefinition { name: text_of("name"), run_name: text_of("run-name"), dispatch: triggers.and_then(dispatch) }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn dispatch(triggers: &Value) -> Option<Vec<DispatchInput>> {
    match triggers {
        Value::String(event) => (event == "workflow_dispatch").then(Vec::new),
        Value::Sequence(events) => events.iter().any(|e| e.as_str() == Some("workflow_dispatch")).then(Vec::new),
        Value::Mapping(events) => {
            let dispatch = events.get("workflow_dispatch")?;
            let inputs = dispatch.get("inputs").and_then(Value::as_mapping);
            let declared = inputs.into_iter().flat_map(|inputs| inputs.iter()).filter_map(|(name, input)| {
                Some(DispatchInput {
                    name: name.as_str()?.to_string(),
                    required: input.get("required").and_then(Value::as_bool).unwrap_or(false),
                    default: input.get("default").and_then(scalar_text),
                })
            });
            Some(declared.collect())
        }
        _ => None,
    }
}

/// Whether a fixture entry describes its workflow (the shorthand) rather than giving outcomes only.
pub fn describes(workflow: &WorkflowFixture) -> bool {
    workflow.name.is_some()
        || workflow.inputs.is_some()
        || workflow.run_name.is_some()
        || workflow.workflow_dispatch.is_some()
}

/// The YAML file a shorthand entry stands for: its name, run-name, `workflow_dispatch` (default accepted) with its
/// inputs (optional, no default), and `push`.
pub fn generate(workflow: &WorkflowFixture) -> String {
    let mut root = Mapping::new();
    root.insert("name".into(), workflow.name.clone().unwrap_or_else(|| "build".into()).into());
    if let Some(run_name) = &workflow.run_name {
        root.insert("run-name".into(), run_name.clone().into());
    }
    let mut on = Mapping::new();
    if workflow.workflow_dispatch.unwrap_or(true) {
        let mut inputs = Mapping::new();
        for name in workflow.inputs.iter().flatten() {
            let mut input = Mapping::new();
            input.insert("required".into(), false.into());
            input.insert("type".into(), "string".into());
            inputs.insert(name.clone().into(), input.into());
        }
        let mut dispatch = Mapping::new();
        if !inputs.is_empty() {
            dispatch.insert("inputs".into(), inputs.into());
        }
        on.insert("workflow_dispatch".into(), if dispatch.is_empty() { Value::Null } else { dispatch.into() });
    }
    on.insert("push".into(), Value::Null);
    root.insert("on".into(), on.into());
    let step: Mapping = [("run".into(), Value::from("echo build"))].into_iter().collect();
    let job: Mapping =
        [("runs-on".into(), Value::from("ubuntu-latest")), ("steps".into(), vec![Value::from(step)].into())]
            .into_iter()
            .collect();
    let jobs: Mapping = [("build".into(), Value::from(job))].into_iter().collect();
    root.insert("jobs".into(), jobs.into());
    serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default()
}

/// The repository with a generated file for every shorthand entry whose file `files` lacks.
pub fn with_generated_files(mut repo: RepoFixture) -> RepoFixture {
    let generated: BTreeMap<String, String> = repo
        .workflows
        .iter()
        .filter(|w| describes(w) && !repo.files.contains_key(&w.path))
        .map(|w| (w.path.clone(), generate(w)))
        .collect();
    repo.files.extend(generated);
    repo
}

/// Workflow files at a ref, by path, read.
pub fn definitions(files: &BTreeMap<String, String>) -> BTreeMap<String, WorkflowDefinition> {
    files.iter().filter(|(path, _)| is_workflow_path(path)).map(|(path, text)| (path.clone(), parse(text))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_run_name_and_inputs_with_required_and_default() {
        let text =
            "name: CI\nrun-name: ci ${{ inputs.target }}\non:\n  push:\n  workflow_dispatch:\n    inputs:\n      \
                    target: {required: true}\n      level: {default: 3}\n";
        let read = parse(text);
        assert_eq!(read.name.as_deref(), Some("CI"));
        assert_eq!(read.run_name.as_deref(), Some("ci ${{ inputs.target }}"));
        let inputs = read.dispatch.expect("dispatchable");
        assert_eq!(inputs[0], DispatchInput { name: "target".into(), required: true, default: None });
        assert_eq!(inputs[1], DispatchInput { name: "level".into(), required: false, default: Some("3".into()) });
    }

    #[test]
    fn on_as_string_list_map_or_yaml_1_1_true() {
        assert_eq!(parse("on: workflow_dispatch\n").dispatch, Some(Vec::new()));
        assert_eq!(parse("on: [push, workflow_dispatch]\n").dispatch, Some(Vec::new()));
        assert_eq!(parse("on: push\n").dispatch, None);
        assert_eq!(parse("true: {workflow_dispatch: null}\n").dispatch, Some(Vec::new()));
        assert_eq!(parse(": not yaml [").dispatch, None);
    }

    #[test]
    fn a_generated_file_reads_back_as_its_entry() {
        let entry = WorkflowFixture {
            name: Some("build".into()),
            inputs: Some(vec!["correlation_id".into()]),
            run_name: Some("build ${{ inputs.correlation_id }}".into()),
            ..WorkflowFixture::default()
        };
        let read = parse(&generate(&entry));
        assert_eq!(read.name.as_deref(), Some("build"));
        assert_eq!(read.run_name, entry.run_name);
        let names: Vec<String> = read.dispatch.expect("dispatchable").into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["correlation_id"]);
        let refused = WorkflowFixture { workflow_dispatch: Some(false), ..entry };
        assert_eq!(parse(&generate(&refused)).dispatch, None);
    }

    #[test]
    fn only_describing_entries_without_a_file_are_generated() {
        let outcome_only = WorkflowFixture { path: ".github/workflows/later.yml".into(), ..WorkflowFixture::default() };
        let described = WorkflowFixture { name: Some("b".into()), ..WorkflowFixture::default() };
        let repo = RepoFixture { workflows: vec![outcome_only, described], ..RepoFixture::default() };
        let repo = with_generated_files(repo);
        assert_eq!(repo.files.keys().collect::<Vec<_>>(), [".github/workflows/build.yml"]);
        assert!(is_workflow_path(".github/workflows/a.yaml") && !is_workflow_path(".github/workflows/x/a.yml"));
    }
}
