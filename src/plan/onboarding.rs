//! Onboarding: which repositories get a pull request adding the orchestrator's workflow, and what it contains.
//! Pure: discovery's outcome in, pull requests to open out.

use std::collections::BTreeMap;

use super::detect::CommandsInEffect;
use super::discovery_pass::DiscoveredStatus;
use super::installed_workflows;
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
    /// Files to add, `(path, contents)`: the build workflow with the repository's commands written into it, and
    /// the templates it calls.
    pub files: Vec<(String, String)>,
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
        .map(|(name, status)| {
            let commands = CommandsInEffect {
                build_command: status.build_command.clone(),
                test_command: status.test_command.clone(),
            };
            OnboardingPullRequest {
                repository: name.clone(),
                branch: BRANCH.to_owned(),
                title: "Add the Infinity Orchestrator build workflow".to_owned(),
                body: body(&commands, &spec.workflow_path),
                files: installed_workflows::files(&spec.workflow_path, &commands),
            }
        })
        .collect()
}

/// What the pull request does, as the operator will act on it: the commands written into the workflow, which runs
/// use them, and what changes them later.
fn body(commands: &CommandsInEffect, workflow_path: &str) -> String {
    let line =
        |what: &str, command: &Option<String>, field: &str| match command.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(command) => format!("- {what}: {}\n", code_span(command)),
            None => format!(
                "- {what}: none detected; the {what} job runs nothing until the Repository object sets `{field}`\n"
            ),
        };
    format!(
        "This repository has no workflow Infinity Orchestrator can dispatch, so it cannot build it in dependency \
         order with the rest of the organization.\n\n\
         This pull request adds `{workflow_path}` and the reusable templates it calls, beside it in \
         `.github/workflows/` (GitHub runs reusable workflows only from there), and `lockfile-update.yml`, which a \
         HealingPolicy dispatches on its dependency-update pull requests to bring the lockfile in line with the \
         raised manifest. The commands in effect for this \
         repository (its Repository object's `spec.build.command` and `spec.test.command` when set, else what the \
         operator detected) are written into the workflow:\n\n\
         {}{}\n\
         - A push to `main` or `master` runs the workflow with the commands written into it.\n\
         - A BuildPlan dispatches it with the commands in effect at that moment as its `build_command` and \
         `test_command` inputs, which replace the written ones for that run.\n\
         - When the commands in effect change, a HealingPolicy with `configRepair` enabled opens a pull request \
         that updates the written ones; without one they stay as merged.\n\n\
         Merge it to take part in BuildPlans. Close it to decline: the operator opens it only once.",
        line("build", &commands.build_command, "spec.build.command"),
        line("test", &commands.test_command, "spec.test.command"),
    )
}

/// `text` as Markdown inline code, fenced with more backticks than it holds in a row, so that no command can end
/// the span early.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
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
        assert_eq!(change.files.len(), 1 + installed_workflows::TEMPLATES.len());
        assert!(change.body.contains("- build: `cargo build`\n"), "{}", change.body);
        assert!(change.body.contains("- test: none detected; the test job runs nothing"), "{}", change.body);
        let written = installed_workflows::build_workflow(&CommandsInEffect {
            build_command: Some("cargo build".into()),
            test_command: None,
        });
        assert_eq!(change.files[0].1, written, "the workflow carries the commands in effect");
        assert!(pull_requests(&OnboardingSpec::default(), &statuses).is_empty(), "off by default");
    }

    #[test]
    fn a_command_cannot_end_its_code_span() {
        assert_eq!(code_span("make"), "`make`");
        assert_eq!(code_span("echo `date`"), "`` echo `date` ``");
        assert_eq!(code_span("a ``b`` c"), "```a ``b`` c```");
    }

    #[test]
    fn a_custom_workflow_path_is_honoured() {
        let spec = OnboardingSpec { enabled: true, workflow_path: ".github/workflows/io.yaml".into() };
        let wanted = pull_requests(&spec, &BTreeMap::from([("x".to_owned(), status(None))]));
        assert_eq!(wanted[0].files[0].0, ".github/workflows/io.yaml");
        assert!(wanted[0].files[1..].iter().all(|(path, _)| path.starts_with(".github/workflows/")));
    }
}
