use super::super::DispatchableWorkflow;
use super::{describe_repository, strings};

const OPERATOR: &str = r#"
name: Infinity Orchestrator build
run-name: "infinity-orchestrator ${{ inputs.correlation_id }}"
on:
  workflow_dispatch:
    inputs:
      correlation_id:
        required: false
      build_command:
        required: false
  push:
    branches: [main]
jobs: {}
"#;

#[test]
fn dispatchable_workflows_in_every_trigger_spelling() {
    let description = describe_repository(
        &[
            (".github/workflows/ci.yml", "on: [push, pull_request, workflow_dispatch]\njobs: {}\n"),
            (".github/workflows/release.yaml", "on: workflow_dispatch\njobs: {}\n"),
            (".github/workflows/lint.yml", "on:\n  pull_request:\n    branches: [main]\njobs: {}\n"),
            (
                ".github/workflows/deploy.yml",
                "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\n      environment: {}\n",
            ),
            (".github/workflows/broken.yml", "on: [push\n"),
            (".github/workflows/nested/ignored.yml", "on: workflow_dispatch\n"),
            ("go.mod", "module example.com/x\n"),
        ],
        &[],
    );
    let files: Vec<&str> = description.workflows.iter().map(|w| w.file.as_str()).collect();
    assert_eq!(files, vec!["ci.yml", "deploy.yml", "release.yaml"]);
    assert_eq!(description.workflows[1].inputs, strings(&["correlation_id", "environment"]));
    assert_eq!(description.build_workflow(), Some("deploy.yml"), "the only one the operator can find runs of");
    assert_eq!(description.warnings.len(), 1);
    assert_eq!(description.warnings[0].file, ".github/workflows/broken.yml");
    assert_eq!(description.build_command.as_deref(), Some("go build ./..."), "a broken workflow costs nothing else");
}

#[test]
fn the_operators_own_workflow_is_preferred() {
    let description = describe_repository(
        &[
            (".github/workflows/a-build.yml", "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\n"),
            (".github/workflows/infinity-orchestrator.yml", OPERATOR),
        ],
        &[],
    );
    assert_eq!(description.build_workflow(), Some("infinity-orchestrator.yml"));
    assert!(description.workflows.contains(&DispatchableWorkflow {
        file: "infinity-orchestrator.yml".into(),
        inputs: strings(&["correlation_id", "build_command"]),
        written_commands: None,
    }));
}

#[test]
fn no_dispatchable_workflow_means_none() {
    let description = describe_repository(&[(".github/workflows/ci.yml", "on: push\n")], &[]);
    assert!(description.workflows.is_empty());
    assert_eq!(description.build_workflow(), None);
}

#[test]
fn a_workflow_without_the_correlation_input_is_still_buildable() {
    // GitHub's dispatch answer names the run, so a workflow needs no correlation input to be dispatched; one that
    // takes it still wins (its run can be found even when the answer is lost).
    let plain = describe_repository(
        &[
            (".github/workflows/ci.yml", "on: workflow_dispatch\n"),
            (".github/workflows/b.yml", "on: [workflow_dispatch]\n"),
        ],
        &[],
    );
    assert_eq!(plain.build_workflow(), Some("b.yml"), "the first by name");
    let mixed = describe_repository(
        &[
            (".github/workflows/a.yml", "on: workflow_dispatch\n"),
            (".github/workflows/z.yml", "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\n"),
        ],
        &[],
    );
    assert_eq!(mixed.build_workflow(), Some("z.yml"), "the one that takes correlation_id first");
}

#[test]
fn the_lockfile_workflow_is_never_the_build_workflow() {
    let lockfile = crate::plan::installed_workflows::TEMPLATES
        .iter()
        .find(|(name, _)| *name == "lockfile-update.yml")
        .map(|(_, text)| *text)
        .expect("shipped");
    let alone = describe_repository(&[(".github/workflows/lockfile-update.yml", lockfile)], &[]);
    assert_eq!(alone.workflows.len(), 1, "it is dispatchable");
    assert_eq!(alone.build_workflow(), None, "but builds nothing: the repository still needs onboarding");
    let beside = describe_repository(
        &[
            (".github/workflows/lockfile-update.yml", lockfile),
            (".github/workflows/release.yml", "on: workflow_dispatch\n"),
        ],
        &[],
    );
    assert_eq!(beside.build_workflow(), Some("release.yml"));
}
