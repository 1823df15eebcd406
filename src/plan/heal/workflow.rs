//! Whether the orchestrator's workflow in a repository needs repair: gone from a repository the operator had
//! installed it in, or present but no longer dispatchable the way the operator dispatches it. A workflow that was
//! edited but still works is the repository's business, not the operator's.

use super::WorkflowDefect;
use crate::plan::detect::CORRELATION_INPUT;
use crate::plan::workflows::BUILD_WORKFLOW;

/// The defect of the workflow at `path`, whose content at the default branch's head is `content` (`None`: the file
/// does not exist). A missing file is a defect only when `installed_by_operator` (onboarding recorded its pull
/// request, or the workflow's templates are there): a repository that never had it is onboarding's to offer.
pub fn defect(path: &str, content: Option<&str>, installed_by_operator: bool) -> Option<WorkflowDefect> {
    let problem = match content {
        None if installed_by_operator => "missing".to_owned(),
        None => return None,
        Some(text) => broken(text)?,
    };
    Some(WorkflowDefect { path: path.to_owned(), problem, template: BUILD_WORKFLOW.to_owned() })
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

    const PATH: &str = ".github/workflows/infinity-orchestrator.yml";

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
            let found = defect(PATH, *content, *installed).map(|d| d.problem);
            match expected {
                None => assert_eq!(found, None, "{content:?}"),
                Some(start) => {
                    assert!(found.as_deref().is_some_and(|p| p.starts_with(start)), "{content:?}: {found:?}")
                }
            }
        }
    }

    #[test]
    fn the_repair_restores_the_shipped_workflow() {
        let repair = defect(PATH, None, true).unwrap();
        assert_eq!((repair.path.as_str(), repair.template.as_str()), (PATH, BUILD_WORKFLOW));
        assert_eq!(broken(&repair.template), None, "the template itself is not broken");
    }
}
