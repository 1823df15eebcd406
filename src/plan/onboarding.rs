//! Onboarding: which repositories get a pull request adding the orchestrator's workflow, and what it contains.
//! Pure: discovery's outcome in, pull requests to open out.

use std::collections::BTreeMap;

use super::discovered::DiscoveredStatus;
use super::workflows;
use crate::crd::organization::OnboardingSpec;

/// The branch onboarding pull requests come from; GitHub-side, it is what makes opening one idempotent.
pub const BRANCH: &str = "infinity-orchestrator/onboarding";

/// One onboarding pull request to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnboardingPullRequest {
    /// The repository's GitHub name.
    pub repository: String,
    /// Branch to open it from.
    pub branch: String,
    /// Commit message and title.
    pub title: String,
    /// Body: why, and what happens after merging.
    pub body: String,
    /// Files to add, `(path, contents)`.
    pub files: Vec<(String, &'static str)>,
}

/// The pull requests to open: one per repository without a dispatchable workflow, with a default branch and a
/// commit, not archived, and with no onboarding pull request recorded in its status (a recorded one, even
/// closed, means the repository's people have had their say). Nothing when onboarding is off.
pub fn pull_requests(
    spec: &OnboardingSpec,
    statuses: &BTreeMap<String, DiscoveredStatus>,
) -> Vec<OnboardingPullRequest> {
    if !spec.enabled {
        return Vec::new();
    }
    statuses
        .iter()
        .filter(|(_, s)| s.build_workflow.is_none() && !s.archived && s.head_sha.is_some())
        .filter(|(_, s)| s.onboarding_pull_request.is_none())
        .map(|(name, status)| OnboardingPullRequest {
            repository: name.clone(),
            branch: BRANCH.to_owned(),
            title: "Add the Infinity Orchestrator build workflow".to_owned(),
            body: body(status, &spec.workflow_path),
            files: workflows::files(&spec.workflow_path),
        })
        .collect()
}

fn body(status: &DiscoveredStatus, workflow_path: &str) -> String {
    let command = |c: &Option<String>| c.as_deref().map_or("none detected".to_owned(), |c| format!("`{c}`"));
    format!(
        "This repository has no workflow that accepts `workflow_dispatch`, so Infinity Orchestrator cannot build \
         it in dependency order with the rest of the organization.\n\n\
         This pull request adds `{workflow_path}`, which builds and tests with the commands the operator passes \
         in (detected here: build {}, test {}), and the reusable templates it calls, beside it in \
         `.github/workflows/`.\n\n\
         Merge it to take part in BuildPlans. Close it to decline: the operator opens it only once.",
        command(&status.build_command),
        command(&status.test_command),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::repository::PullRequestReference;

    fn status(workflow: Option<&str>) -> DiscoveredStatus {
        DiscoveredStatus {
            full_name: "o/x".into(),
            build_workflow: workflow.map(str::to_owned),
            head_sha: Some("abc".into()),
            build_command: Some("cargo build".into()),
            ..DiscoveredStatus::default()
        }
    }

    fn enabled() -> OnboardingSpec {
        OnboardingSpec { enabled: true, ..OnboardingSpec::default() }
    }

    #[test]
    fn only_repositories_without_a_dispatchable_workflow_and_no_recorded_pull_request() {
        let mut statuses = BTreeMap::from([
            ("needs".to_owned(), status(None)),
            ("has-workflow".to_owned(), status(Some("ci.yml"))),
            ("archived".to_owned(), DiscoveredStatus { archived: true, ..status(None) }),
            ("empty".to_owned(), DiscoveredStatus { head_sha: None, ..status(None) }),
            ("declined".to_owned(), status(None)),
        ]);
        statuses.get_mut("declined").unwrap().onboarding_pull_request =
            Some(PullRequestReference { number: 3, url: None });
        let wanted = pull_requests(&enabled(), &statuses);
        assert_eq!(wanted.iter().map(|p| p.repository.as_str()).collect::<Vec<_>>(), ["needs"]);
        let change = &wanted[0];
        assert_eq!(change.branch, BRANCH);
        assert_eq!(change.files[0].0, ".github/workflows/infinity-orchestrator.yml");
        assert_eq!(change.files.len(), 1 + workflows::TEMPLATES.len());
        assert!(change.body.contains("build `cargo build`, test none detected"), "{}", change.body);
        assert!(pull_requests(&OnboardingSpec::default(), &statuses).is_empty(), "off by default");
    }

    #[test]
    fn a_custom_workflow_path_is_honoured() {
        let spec = OnboardingSpec { enabled: true, workflow_path: ".github/workflows/io.yaml".into() };
        let wanted = pull_requests(&spec, &BTreeMap::from([("x".to_owned(), status(None))]));
        assert_eq!(wanted[0].files[0].0, ".github/workflows/io.yaml");
        assert!(wanted[0].files[1..].iter().all(|(path, _)| path.starts_with(".github/workflows/")));
    }
}
