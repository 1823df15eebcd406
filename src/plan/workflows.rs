//! The workflows the operator installs in a repository (onboarding, and configuration repair): the build workflow
//! it dispatches and the reusable templates that workflow calls, as shipped in `config/workflows/`, compiled in so
//! that what the operator writes is exactly what this release tested.

/// The dispatchable build workflow (`config/workflows/infinity-orchestrator.yml`).
pub const BUILD_WORKFLOW: &str = include_str!("../../config/workflows/infinity-orchestrator.yml");

/// The reusable templates the build workflow calls, by file name. GitHub runs reusable workflows only from
/// `.github/workflows/` itself, so they go beside it, not in a subdirectory.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("build-template.yml", include_str!("../../config/workflows/reusable/build-template.yml")),
    ("test-template.yml", include_str!("../../config/workflows/reusable/test-template.yml")),
    ("deploy-template.yml", include_str!("../../config/workflows/reusable/deploy-template.yml")),
    ("notify-template.yml", include_str!("../../config/workflows/reusable/notify-template.yml")),
];

/// Every file to install, `(path, contents)`: the build workflow at `workflow_path`, the templates beside it.
pub fn files(workflow_path: &str) -> Vec<(String, &'static str)> {
    let mut files = vec![(workflow_path.to_owned(), BUILD_WORKFLOW)];
    files.extend(TEMPLATES.iter().map(|(name, contents)| (format!(".github/workflows/{name}"), *contents)));
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::detect::tests::describe_repository;

    #[test]
    fn the_installed_build_workflow_is_one_detection_dispatches() {
        let installed = files(".github/workflows/infinity-orchestrator.yml");
        let as_files: Vec<(&str, &str)> = installed.iter().map(|(path, text)| (path.as_str(), *text)).collect();
        let description = describe_repository(&as_files, &[]);
        assert_eq!(description.build_workflow(), Some("infinity-orchestrator.yml"));
    }

    #[test]
    fn every_template_the_workflow_calls_is_installed() {
        for line in BUILD_WORKFLOW.lines().filter_map(|l| l.trim().strip_prefix("uses: ./.github/workflows/")) {
            assert!(TEMPLATES.iter().any(|(name, _)| *name == line), "{line} is called but not installed");
        }
        assert!(BUILD_WORKFLOW.contains("uses: ./.github/workflows/build-template.yml"), "the check saw the calls");
    }
}
