//! Whether the orchestrator's workflow in a repository needs repair: gone from a repository the operator had
//! installed it in, present but no longer dispatchable the way the operator dispatches it, or carrying other
//! commands than the ones in effect (detection changed, or an override was set). A workflow that was edited but
//! still works is the repository's business, not the operator's; so is one that does not take the command inputs.

use super::WorkflowDefect;
use crate::crd::well_known::CORRELATION_INPUT;
use crate::plan::detect::CommandsInEffect;
use crate::plan::installed_workflows;

/// The defect of the workflow at `path`, whose content at the default branch's head is `content` (`None`: the file
/// does not exist). A missing file is a defect only when `installed_by_operator` (onboarding recorded its pull
/// request, or the workflow's templates are there): a repository that never had it is onboarding's to offer. The
/// repair is the shipped workflow with `commands` (the repository's commands in effect) written into it.
pub fn defect(
    path: &str,
    content: Option<&str>,
    installed_by_operator: bool,
    commands: &CommandsInEffect,
) -> Option<WorkflowDefect> {
    let problem = match content {
        None if installed_by_operator => "missing".to_owned(),
        None => return None,
        Some(text) => broken(text).or_else(|| outdated(text, commands))?,
    };
    Some(WorkflowDefect { path: path.to_owned(), problem, template: installed_workflows::build_workflow(commands) })
}

/// Why `text`, a working workflow that takes the command inputs, needs its commands rewritten, if it does.
fn outdated(text: &str, commands: &CommandsInEffect) -> Option<String> {
    let document = serde_yaml::from_str::<serde_yaml::Value>(text).ok()?;
    if installed_workflows::carries_commands(&document, commands)? {
        return None;
    }
    let shown = |command: &Option<String>| match command.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(command) => format!("{command:?}"),
        None => "none".to_owned(),
    };
    Some(format!(
        "out of date: its commands are not the ones in effect (build {}, test {})",
        shown(&commands.build_command),
        shown(&commands.test_command)
    ))
}

/// What keeps `text` from working as the orchestrator's workflow, if anything.
fn broken(text: &str) -> Option<String> {
    let document = match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(document) => document,
        Err(error) => return Some(format!("not valid YAML ({error})")),
    };
    // YAML 1.1 readers turn the key `on` into `true`; both spellings are GitHub's `on`.
    let triggers = document.get("on").or_else(|| document.as_mapping()?.get(serde_yaml::Value::Bool(true)));
    let dispatch = match triggers {
        Some(serde_yaml::Value::Mapping(events)) => events.get("workflow_dispatch"),
        _ => None,
    };
    let Some(dispatch) = dispatch else {
        return Some("no longer dispatchable (its `on` lacks `workflow_dispatch` with inputs)".to_owned());
    };
    let has_input = dispatch.get("inputs").and_then(|inputs| inputs.get(CORRELATION_INPUT)).is_some();
    (!has_input).then(|| format!("missing the `{CORRELATION_INPUT}` input the operator dispatches with"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::installed_workflows::{build_workflow, BUILD_WORKFLOW};

    const PATH: &str = ".github/workflows/infinity-orchestrator.yml";

    fn none() -> CommandsInEffect {
        CommandsInEffect::default()
    }

    fn cargo() -> CommandsInEffect {
        CommandsInEffect { build_command: Some("cargo build --locked".into()), test_command: Some("cargo test".into()) }
    }

    #[test]
    fn defects_by_content() {
        let cases: &[(Option<&str>, bool, Option<&str>)] = &[
            (None, true, Some("missing")),
            (None, false, None),
            (Some(BUILD_WORKFLOW), true, None),
            (Some("on: [push\n"), true, Some("not valid YAML")),
            (Some("on: push\njobs: {}\n"), true, Some("no longer dispatchable")),
            (Some("on:\n  workflow_dispatch: {}\n"), false, Some("missing the `correlation_id` input")),
            (Some("true:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\n"), true, None),
        ];
        for (content, installed, expected) in cases {
            let found = defect(PATH, *content, *installed, &none()).map(|d| d.problem);
            match expected {
                None => assert_eq!(found, None, "{content:?}"),
                Some(start) => {
                    assert!(found.as_deref().is_some_and(|p| p.starts_with(start)), "{content:?}: {found:?}")
                }
            }
        }
    }

    #[test]
    fn the_repair_restores_the_shipped_workflow_with_the_commands_in_effect() {
        let repair = defect(PATH, None, true, &cargo()).unwrap();
        assert_eq!((repair.path.as_str(), repair.template.as_str()), (PATH, build_workflow(&cargo()).as_str()));
        assert_eq!(broken(&repair.template), None, "the rendered workflow itself is not broken");
        assert_eq!(defect(PATH, Some(&repair.template), true, &cargo()), None, "and carries the commands");
        assert_eq!(defect(PATH, None, true, &none()).unwrap().template, BUILD_WORKFLOW);
    }

    #[test]
    fn changed_commands_make_the_installed_workflow_out_of_date() {
        let installed = build_workflow(&cargo());
        let changed = CommandsInEffect { build_command: Some("make".into()), test_command: Some("cargo test".into()) };
        let repair = defect(PATH, Some(&installed), true, &changed).expect("a defect");
        assert!(repair.problem.starts_with("out of date"), "{}", repair.problem);
        assert!(repair.problem.contains("build \"make\", test \"cargo test\""), "{}", repair.problem);
        assert_eq!(repair.template, build_workflow(&changed));
        // A workflow from before commands were written into it is out of date once there is a command.
        assert!(
            defect(PATH, Some(BUILD_WORKFLOW), true, &cargo()).is_some_and(|d| d.problem.starts_with("out of date"))
        );
        // A workflow of the repository's own making (no command inputs) is its business.
        let own = "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\njobs: {}\n";
        assert_eq!(defect(PATH, Some(own), true, &cargo()), None);
    }
}
