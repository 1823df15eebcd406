//! What a discovery pass writes: whether one is due, each Repository's discovered status and labels, and the
//! Organization's conditions. Pure: the controller reads GitHub and the cluster, this decides what they say.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::dependencies::{repository_dependencies, with_declared, AmbiguousPackage};
use super::depgraph::{Cycle, DependencyGraph};
use super::detect::{self, RepositoryDescription};
use super::installed_workflows;
use super::readiness::{READY, RECONCILING};
use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::repository::{PullRequestReference, RepositoryDependency, RepositorySpec, RepositoryStatus};
use crate::crd::well_known::{LANGUAGE_LABEL, TOPIC_LABEL_PREFIX};
use crate::crd::Repository;
use crate::plan::readiness::set_condition;

/// Set on an Organization while something about its repositories needs a person's attention, with discovery
/// otherwise working: a dependency cycle, repositories that could not be read.
pub const DEGRADED: &str = "Degraded";
/// Set on a Repository by discovery: true while its GitHub repository exists and passes the filters, false with
/// reason [`GONE_FROM_GITHUB`] once it does not.
pub const DISCOVERED: &str = "Discovered";
/// The reason of `Discovered=False` (and of the Repository's `Ready=False`) for a repository gone from GitHub.
pub const GONE_FROM_GITHUB: &str = "GoneFromGitHub";
/// Set on a Repository, true while a manifest at the head of its default branch could not be read.
pub const DETECTION_WARNING: &str = "DetectionWarning";
/// The reason `Ready` carries after a successful discovery pass.
pub const SYNCED: &str = "Synced";

/// Conditions carry at most this many characters of message, so that a huge org cannot bloat the object.
const MAX_MESSAGE_CHARS: usize = 1024;

/// What the discovery schedule needs to know about an Organization.
#[derive(Clone, Debug)]
pub struct SyncHistory {
    /// Whether the last pass succeeded (`Ready` says `Synced`).
    pub synced: bool,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.lastSyncGeneration`: the generation the last successful pass ran for.
    pub last_sync_generation: Option<i64>,
    /// `status.lastSyncTime`.
    pub last_sync: Option<Timestamp>,
    /// The `requested-at` annotation a webhook (or a person) set to ask for a look.
    pub request: Option<String>,
    /// The value of that annotation the last successful pass answered. Comparing values, not times, as Flux's
    /// `reconcile.fluxcd.io/requestedAt` does, keeps a request from being lost or answered twice whatever the
    /// clocks and their resolutions.
    pub handled_request: Option<String>,
    /// `spec.discovery.interval`.
    pub interval: Duration,
    /// A person confirmed removals the last pass held (a new `confirm-prune` annotation): a pass carries them out.
    pub prune_confirmed: bool,
}

/// Why a discovery pass runs now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncTrigger {
    /// No pass has succeeded for this generation of the spec (first sync, spec edited, or the last pass failed).
    Spec,
    /// The interval has passed since the last pass.
    Interval,
    /// A webhook asked after the last pass.
    Requested,
}

/// Whether a discovery pass is due: `Ok(trigger)` if it is, else `Err(when)` it next will be.
pub fn sync_due(history: &SyncHistory, now: Timestamp) -> Result<SyncTrigger, Timestamp> {
    let (true, Some(last_sync)) =
        (history.synced && history.last_sync_generation == history.generation, history.last_sync)
    else {
        return Ok(SyncTrigger::Spec);
    };
    if (history.request.is_some() && history.request != history.handled_request) || history.prune_confirmed {
        return Ok(SyncTrigger::Requested);
    }
    let next = last_sync.checked_add(history.interval).unwrap_or(Timestamp::MAX);
    if now >= next {
        Ok(SyncTrigger::Interval)
    } else {
        Err(next)
    }
}

/// Whether conditions say the last pass succeeded.
pub fn says_synced(conditions: &[Condition]) -> bool {
    find_condition(conditions, READY)
        .is_some_and(|ready| ready.status == ConditionStatus::True && ready.reason == SYNCED)
}

/// Whether the last pass this process remembers, finished at `remembered` (to the second), is at least as recent as
/// the one the status tells of, finished at `told` (to the second, as the API server keeps times). A pass that ends
/// in the same second as the status's is that same pass or a later one: the status is read from a cache that lags
/// this process's own writes, never ahead of them. Trusting the older status there would run the pass again for a
/// request already handled, and a second listing right after a held prune confirms it.
pub fn remembered_pass_is_current(remembered: Timestamp, told: Option<Timestamp>) -> bool {
    told.is_none_or(|told| remembered >= told)
}

/// What discovery read of one GitHub repository that passed the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryFindings {
    /// `owner/name`.
    pub full_name: String,
    /// The repository's page.
    pub html_url: Option<String>,
    /// The language GitHub reports.
    pub github_language: Option<String>,
    /// Its topics.
    pub topics: Vec<String>,
    /// Archived on GitHub.
    pub archived: bool,
    /// The default branch, when the repository has one (an empty repository has none).
    pub default_branch: Option<String>,
    /// The commit at the head of the default branch.
    pub head_sha: Option<String>,
    /// Detection's result from the files at `head_sha`.
    pub description: RepositoryDescription,
    /// Why its files could not be read, when they could not; detection then knows nothing.
    pub read_error: Option<String>,
}

/// The status fields discovery owns on a Repository, named as `RepositoryStatus` names them. A field left `None`
/// or empty is not written, which under server-side apply removes a value discovery wrote before.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredStatus {
    /// `owner/name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub full_name: String,
    /// The repository's page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    /// Detected language, else GitHub's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Build systems found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_systems: Vec<String>,
    /// Build command in effect (the override, else detection's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    /// Test command in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
    /// The workflow BuildPlans dispatch (the override, else detection's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_workflow: Option<String>,
    /// The `workflow_dispatch` inputs the build workflow declares (empty when it declares none or is not known).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_workflow_inputs: Vec<String>,
    /// Whether the build workflow's file was not read, so that its inputs are unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub build_workflow_unread: bool,
    /// The operator's workflow holds other commands than the ones in effect.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub workflow_commands_outdated: bool,
    /// GitHub topics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Archived on GitHub.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// Default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// Head of the default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Repositories of the organization this one depends on, with evidence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<RepositoryDependency>,
    /// The onboarding pull request, once one was opened (carried over from the current status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding_pull_request: Option<PullRequestReference>,
}

impl DiscoveredStatus {
    /// What `status` says of the fields discovery owns. `RepositoryStatus` writes `false` and empty lists like
    /// absent ones, so they read alike here.
    pub fn of(status: &RepositoryStatus) -> Self {
        DiscoveredStatus {
            full_name: status.full_name.clone().unwrap_or_default(),
            html_url: status.html_url.clone(),
            language: status.language.clone(),
            build_systems: status.build_systems.clone(),
            build_command: status.build_command.clone(),
            test_command: status.test_command.clone(),
            build_workflow: status.build_workflow.clone(),
            build_workflow_inputs: status.build_workflow_inputs.clone(),
            build_workflow_unread: status.build_workflow_unread,
            workflow_commands_outdated: status.workflow_commands_outdated,
            topics: status.topics.clone(),
            archived: status.archived,
            default_branch: status.default_branch.clone(),
            head_sha: status.head_sha.clone(),
            dependencies: status.dependencies.clone(),
            onboarding_pull_request: status.onboarding_pull_request.clone(),
        }
    }
}

/// The outcome of a discovery pass over the kept repositories, before anything is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscoveryOutcome {
    /// Each kept repository's discovered status, by GitHub name.
    pub statuses: BTreeMap<String, DiscoveredStatus>,
    /// Each kept repository's warning, by GitHub name, when a manifest or the files could not be read.
    pub warnings: BTreeMap<String, String>,
    /// Dependency cycles among the kept repositories.
    pub cycles: Vec<Cycle>,
    /// Packages more than one repository produces (no edge drawn for them).
    pub ambiguities: Vec<AmbiguousPackage>,
    /// Repositories whose files could not be read.
    pub unreadable: Vec<String>,
}

/// Decides every kept repository's status from what was read and from the Repository object that stands for it,
/// when one exists already (by GitHub name): its spec's overrides and declared dependencies win over detection,
/// and what its status records of the operator's own actions (the onboarding pull request) carries over.
pub fn outcome(
    login: &str,
    findings: &BTreeMap<String, RepositoryFindings>,
    objects: &BTreeMap<String, &Repository>,
) -> DiscoveryOutcome {
    let descriptions: BTreeMap<String, RepositoryDescription> =
        findings.iter().map(|(name, found)| (name.clone(), found.description.clone())).collect();
    let graph = repository_dependencies(login, &descriptions);
    let mut outcome = DiscoveryOutcome { ambiguities: graph.ambiguities.clone(), ..DiscoveryOutcome::default() };
    for (name, found) in findings {
        let object = objects.get(name).copied();
        let spec = object.map(|o| &o.spec);
        let edges = graph.dependencies.get(name).cloned().unwrap_or_default();
        let declared = spec.map(|s| s.depends_on.as_slice()).unwrap_or_default();
        let mut status = repository_status(found, spec, with_declared(name, edges, declared));
        status.onboarding_pull_request =
            object.and_then(|o| o.status.as_ref()).and_then(|s| s.onboarding_pull_request.clone());
        if let Some(error) = &found.read_error {
            outcome.unreadable.push(name.clone());
            outcome.warnings.insert(name.clone(), truncate(&format!("files not read: {error}")));
        } else if let Some(message) = found.description.warning_message(MAX_MESSAGE_CHARS) {
            outcome.warnings.insert(name.clone(), message);
        }
        outcome.statuses.insert(name.clone(), status);
    }
    let edges = outcome.statuses.iter().map(|(name, status)| {
        (name.clone(), status.dependencies.iter().map(|d| d.repository.clone()).collect::<Vec<_>>())
    });
    outcome.cycles = DependencyGraph::new(edges).cycles();
    outcome
}

fn repository_status(
    found: &RepositoryFindings,
    spec: Option<&RepositorySpec>,
    dependencies: Vec<RepositoryDependency>,
) -> DiscoveredStatus {
    let description = &found.description;
    let commands = detect::commands_in_effect(
        description,
        spec.and_then(|s| s.build.as_ref()),
        spec.and_then(|s| s.test.as_ref()),
    );
    let workflow_override = spec.and_then(|s| s.build.as_ref()).and_then(|b| b.workflow.as_deref());
    let build_workflow = workflow_override.or_else(|| description.build_workflow());
    let inputs = build_workflow.and_then(|file| description.workflow_inputs(file));
    // The operator's workflow runs on push the commands written into it: once those are not the ones in effect,
    // config repair has something to do.
    let workflow_commands_outdated = description
        .workflows
        .iter()
        .find(|w| w.file == detect::OPERATOR_WORKFLOW)
        .and_then(|w| w.written_commands.as_ref())
        .is_some_and(|written| !installed_workflows::carries(written, &commands));
    DiscoveredStatus {
        full_name: found.full_name.clone(),
        html_url: found.html_url.clone(),
        language: description
            .language
            .clone()
            .or_else(|| found.github_language.as_deref().map(detect::language_from_github)),
        build_systems: description.build_system_names(),
        build_command: commands.build_command,
        test_command: commands.test_command,
        build_workflow_inputs: inputs.clone().unwrap_or_default(),
        build_workflow_unread: build_workflow.is_some() && inputs.is_none(),
        build_workflow: build_workflow.map(str::to_owned),
        workflow_commands_outdated,
        topics: found.topics.clone(),
        archived: found.archived,
        default_branch: found.default_branch.clone(),
        head_sha: found.head_sha.clone(),
        dependencies,
        onboarding_pull_request: None,
    }
}

/// The labels discovery puts on a Repository, besides the operator's and the Organization's: its language and
/// one per topic, so that BuildPlans and HealingPolicies can select by them.
pub fn repository_labels(status: &DiscoveredStatus) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if let Some(language) = status.language.as_deref().and_then(label_value) {
        labels.insert(LANGUAGE_LABEL.to_owned(), language);
    }
    for topic in &status.topics {
        // GitHub topics are lower-case letters, digits and hyphens, at most 50: always a valid label name.
        if topic.len() <= 63 && topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            labels.insert(format!("{TOPIC_LABEL_PREFIX}{topic}"), "true".to_owned());
        }
    }
    labels
}

/// `value` made into a label value (letters, digits, `-`, `_`, `.`; alphanumeric at both ends; at most 63), or
/// `None` when nothing is left.
fn label_value(value: &str) -> Option<String> {
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(63).collect();
    let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    (!cut.is_empty()).then_some(cut)
}

/// The `DetectionWarning` condition of one Repository: true with the warning, false when every file was read.
pub fn detection_condition(warning: Option<&str>, generation: Option<i64>, now: &Time) -> Condition {
    match warning {
        Some(message) => Condition::new(
            DETECTION_WARNING,
            ConditionStatus::True,
            "ManifestUnreadable",
            message,
            generation,
            now.clone(),
        ),
        None => Condition::new(
            DETECTION_WARNING,
            ConditionStatus::False,
            "ManifestsRead",
            "Every manifest at the head of the default branch was read",
            generation,
            now.clone(),
        ),
    }
}

/// The `Discovered` condition of one Repository.
pub fn discovered_condition(found: bool, generation: Option<i64>, now: &Time) -> Condition {
    if found {
        Condition::new(
            DISCOVERED,
            ConditionStatus::True,
            "FoundOnGitHub",
            "The repository exists on GitHub and passes the Organization's filters",
            generation,
            now.clone(),
        )
    } else {
        Condition::new(
            DISCOVERED,
            ConditionStatus::False,
            GONE_FROM_GITHUB,
            "The repository is gone from GitHub or no longer passes the Organization's filters; the object is kept \
             because the Organization's prune policy is Retain or because it was written by hand",
            generation,
            now.clone(),
        )
    }
}

/// The Organization's conditions as a pass for a generation not discovered yet starts: `Reconciling` true, kept
/// through failed passes (they are retried, and `Ready` says why they failed) until one succeeds. The rest as they
/// are, so that a retry that changes nothing costs no write.
pub fn discovering_conditions(current: &[Condition], generation: Option<i64>, now: &Time) -> Vec<Condition> {
    let mut next = current.to_vec();
    let message = "Discovering the organization's repositories for the current spec";
    let (status, reason) = (ConditionStatus::True, "Discovering");
    set_condition(&mut next, Condition::new(RECONCILING, status, reason, message, generation, now.clone()));
    next
}

/// The Organization's `Ready` and `Degraded` conditions after a successful pass; nothing is under way any more.
pub fn synced_conditions(
    current: &[Condition],
    outcome: &DiscoveryOutcome,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut next: Vec<Condition> = current.iter().filter(|c| c.r#type != RECONCILING).cloned().collect();
    let count = outcome.statuses.len();
    let message = format!("Discovered {count} repositor{}", if count == 1 { "y" } else { "ies" });
    set_condition(&mut next, Condition::new(READY, ConditionStatus::True, SYNCED, &message, generation, now.clone()));
    let degraded = match degraded_reason(outcome) {
        Some((reason, message)) => {
            Condition::new(DEGRADED, ConditionStatus::True, reason, truncate(&message), generation, now.clone())
        }
        None => Condition::new(
            DEGRADED,
            ConditionStatus::False,
            "AsExpected",
            "No dependency cycle; every repository was read",
            generation,
            now.clone(),
        ),
    };
    set_condition(&mut next, degraded);
    next
}

/// Cycles first (they stop BuildPlans), then unreadable repositories.
fn degraded_reason(outcome: &DiscoveryOutcome) -> Option<(&'static str, String)> {
    if !outcome.cycles.is_empty() {
        let cycles: Vec<String> = outcome.cycles.iter().map(ToString::to_string).collect();
        return Some(("DependencyCycle", format!("Dependency cycle: {}", cycles.join("; "))));
    }
    if !outcome.unreadable.is_empty() {
        return Some((
            "RepositoriesUnreadable",
            format!("Files of {} could not be read", outcome.unreadable.join(", ")),
        ));
    }
    None
}

/// The Organization's `Ready` condition after a pass that failed (listing the repositories failed): false with
/// the error's category as the reason; `Degraded` is left as the last pass set it.
pub fn failed_conditions(
    current: &[Condition],
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut next = current.to_vec();
    set_condition(
        &mut next,
        Condition::new(READY, ConditionStatus::False, reason, truncate(message), generation, now.clone()),
    );
    next
}

fn truncate(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::detect::tests::describe_repository;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn synced(generation: i64) -> Vec<Condition> {
        vec![Condition::new(READY, ConditionStatus::True, SYNCED, "ok", Some(generation), Time(at(0)))]
    }

    fn history(conditions: &[Condition]) -> SyncHistory {
        SyncHistory {
            synced: says_synced(conditions),
            generation: Some(2),
            last_sync_generation: Some(2),
            last_sync: Some(at(1_000)),
            request: None,
            handled_request: None,
            interval: Duration::from_secs(600),
            prune_confirmed: false,
        }
    }

    #[test]
    fn a_remembered_pass_of_the_same_second_as_the_status_is_current() {
        let second = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        assert!(remembered_pass_is_current(second(5), None), "the status tells of no pass");
        assert!(remembered_pass_is_current(second(5), Some(second(4))));
        assert!(remembered_pass_is_current(second(5), Some(second(5))), "the same second: this pass or a later one");
        assert!(!remembered_pass_is_current(second(5), Some(second(6))), "another process passed later");
    }

    #[test]
    fn a_pass_is_due_first_after_spec_changes_failures_requests_and_the_interval() {
        let ok = synced(2);
        assert_eq!(sync_due(&history(&ok), at(1_100)), Err(at(1_600)), "synced and within the interval");
        assert_eq!(sync_due(&history(&ok), at(1_600)), Ok(SyncTrigger::Interval));
        assert_eq!(
            sync_due(&SyncHistory { last_sync_generation: Some(1), ..history(&ok) }, at(1_100)),
            Ok(SyncTrigger::Spec)
        );
        assert_eq!(sync_due(&SyncHistory { last_sync: None, ..history(&ok) }, at(1_100)), Ok(SyncTrigger::Spec));
        assert_eq!(sync_due(&history(&[]), at(1_100)), Ok(SyncTrigger::Spec), "never synced");
        let failed = failed_conditions(&ok, "GitHubTransient", "503", Some(2), &Time(at(1_050)));
        assert_eq!(sync_due(&history(&failed), at(1_100)), Ok(SyncTrigger::Spec), "the last pass failed");
        let requested = SyncHistory { request: Some("b".into()), handled_request: Some("a".into()), ..history(&ok) };
        assert_eq!(sync_due(&requested, at(1_100)), Ok(SyncTrigger::Requested));
        let old_request = SyncHistory { request: Some("b".into()), handled_request: Some("b".into()), ..history(&ok) };
        assert!(sync_due(&old_request, at(1_100)).is_err(), "a request the last pass already answered");
        let confirmed = SyncHistory { prune_confirmed: true, ..history(&ok) };
        assert_eq!(sync_due(&confirmed, at(1_100)), Ok(SyncTrigger::Requested), "held removals confirmed");
    }

    fn found(full_name: &str, files: &[(&str, &str)]) -> RepositoryFindings {
        RepositoryFindings {
            full_name: full_name.into(),
            default_branch: Some("main".into()),
            head_sha: Some("abc".into()),
            description: describe_repository(files, &[]),
            ..RepositoryFindings::default()
        }
    }

    fn spec(value: serde_json::Value) -> RepositorySpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn statuses_carry_commands_edges_and_overrides() {
        let findings = BTreeMap::from([
            ("core".to_owned(), found("acme/core", &[("Cargo.toml", "[package]\nname = \"acme-core\"\n")])),
            (
                "app".to_owned(),
                found("acme/app", &[("Cargo.toml", "[package]\nname = \"app\"\n[dependencies]\nacme-core = \"1\"\n")]),
            ),
        ]);
        let app = Repository::new(
            "app",
            spec(serde_json::json!({
                "organizationRef": { "name": "acme" }, "name": "app",
                "build": { "command": "make release" }, "dependsOn": ["tools"],
            })),
        );
        let objects = BTreeMap::from([("app".to_owned(), &app)]);
        let outcome = outcome("acme", &findings, &objects);
        let app = &outcome.statuses["app"];
        assert_eq!(app.build_command.as_deref(), Some("make release"), "the override wins");
        assert_eq!(app.test_command.as_deref(), Some("cargo test"));
        assert_eq!(app.language.as_deref(), Some("rust"));
        let edges: Vec<&str> = app.dependencies.iter().map(|d| d.repository.as_str()).collect();
        assert_eq!(edges, ["core", "tools"], "found and declared");
        assert_eq!(app.dependencies[0].evidence[0].file, "Cargo.toml");
        assert!(outcome.statuses["core"].dependencies.is_empty());
        assert!(outcome.cycles.is_empty() && outcome.warnings.is_empty());
    }

    #[test]
    fn the_operators_workflow_is_outdated_once_its_commands_are_not_the_ones_in_effect() {
        use crate::plan::detect::CommandsInEffect;
        use crate::plan::installed_workflows::build_workflow;
        let cargo = CommandsInEffect {
            build_command: Some("cargo build --locked".into()),
            test_command: Some("cargo test".into()),
        };
        let written = build_workflow(&cargo);
        let files = [
            ("Cargo.toml", "[package]\nname = \"x\"\n"),
            ("Cargo.lock", "# lock\n"),
            (".github/workflows/infinity-orchestrator.yml", written.as_str()),
        ];
        let findings = BTreeMap::from([("x".to_owned(), found("o/x", &files))]);
        let current = outcome("o", &findings, &BTreeMap::new());
        assert_eq!(current.statuses["x"].build_command, cargo.build_command, "what the workflow holds");
        assert!(!current.statuses["x"].workflow_commands_outdated);
        let object = Repository::new(
            "x",
            spec(serde_json::json!({ "organizationRef": { "name": "o" }, "name": "x",
                "build": { "command": "make release" } })),
        );
        let overridden = outcome("o", &findings, &BTreeMap::from([("x".to_owned(), &object)]));
        assert!(overridden.statuses["x"].workflow_commands_outdated, "an override the workflow does not hold");
        let own = "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\njobs: {}\n";
        let files = [("Cargo.toml", files[0].1), (".github/workflows/infinity-orchestrator.yml", own)];
        let findings = BTreeMap::from([("x".to_owned(), found("o/x", &files))]);
        let own = outcome("o", &findings, &BTreeMap::from([("x".to_owned(), &object)]));
        assert!(!own.statuses["x"].workflow_commands_outdated, "a workflow without the command inputs is its own");
    }

    #[test]
    fn the_build_workflows_declared_inputs_are_recorded() {
        let takes = "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\n      target: {}\n";
        let files = [(".github/workflows/a.yml", "on: workflow_dispatch\n"), (".github/workflows/b.yml", takes)];
        let findings = BTreeMap::from([("x".to_owned(), found("o/x", &files))]);
        let chosen = outcome("o", &findings, &BTreeMap::new());
        assert_eq!(chosen.statuses["x"].build_workflow.as_deref(), Some("b.yml"));
        assert_eq!(chosen.statuses["x"].build_workflow_inputs, ["correlation_id", "target"]);
        // A spec's workflow: its own inputs (none here).
        let object = Repository::new(
            "x",
            spec(
                serde_json::json!({ "organizationRef": { "name": "o" }, "name": "x", "build": { "workflow": "a.yml" } }),
            ),
        );
        let overridden = outcome("o", &findings, &BTreeMap::from([("x".to_owned(), &object)]));
        assert_eq!(overridden.statuses["x"].build_workflow.as_deref(), Some("a.yml"));
        assert!(overridden.statuses["x"].build_workflow_inputs.is_empty());
        assert!(!overridden.statuses["x"].build_workflow_unread, "read: it declares none");
        let elsewhere = Repository::new(
            "x",
            spec(
                serde_json::json!({ "organizationRef": { "name": "o" }, "name": "x", "build": { "workflow": "c.yml" } }),
            ),
        );
        let unread = outcome("o", &findings, &BTreeMap::from([("x".to_owned(), &elsewhere)]));
        assert!(unread.statuses["x"].build_workflow_unread, "not among those read: its inputs are unknown");
    }

    #[test]
    fn the_recorded_onboarding_pull_request_carries_over() {
        let mut object =
            Repository::new("x", spec(serde_json::json!({ "organizationRef": { "name": "o" }, "name": "x" })));
        let recorded = PullRequestReference { number: 7, url: Some("https://github.com/o/x/pull/7".into()) };
        object.status = Some(crate::crd::repository::RepositoryStatus {
            onboarding_pull_request: Some(recorded.clone()),
            ..Default::default()
        });
        let findings = BTreeMap::from([("x".to_owned(), found("o/x", &[("go.mod", "module x\n")]))]);
        let outcome = outcome("o", &findings, &BTreeMap::from([("x".to_owned(), &object)]));
        assert_eq!(outcome.statuses["x"].onboarding_pull_request, Some(recorded));
    }

    #[test]
    fn a_cycle_and_a_malformed_manifest_are_reported_without_stopping_the_others() {
        let findings = BTreeMap::from([
            ("a".to_owned(), found("o/a", &[("package.json", r#"{"name":"a","dependencies":{"b":"1"}}"#)])),
            ("b".to_owned(), found("o/b", &[("package.json", r#"{"name":"b","dependencies":{"a":"1"}}"#)])),
            ("broken".to_owned(), found("o/broken", &[("package.json", "{ \"name\": ")])),
            ("c".to_owned(), found("o/c", &[("go.mod", "module github.com/o/c\n")])),
        ]);
        let outcome = outcome("o", &findings, &BTreeMap::new());
        assert_eq!(outcome.cycles.len(), 1);
        assert_eq!(outcome.cycles[0].to_string(), "a → b → a");
        assert_eq!(outcome.warnings.keys().collect::<Vec<_>>(), ["broken"]);
        assert!(outcome.warnings["broken"].starts_with("package.json: "), "{}", outcome.warnings["broken"]);
        assert_eq!(outcome.statuses["c"].build_command.as_deref(), Some("go build ./..."));
        let conditions = synced_conditions(&[], &outcome, Some(1), &Time(at(5)));
        let degraded = find_condition(&conditions, DEGRADED).unwrap();
        assert_eq!((degraded.status, degraded.reason.as_str()), (ConditionStatus::True, "DependencyCycle"));
        assert!(degraded.message.contains("a → b → a"), "{}", degraded.message);
        assert_eq!(find_condition(&conditions, READY).unwrap().message, "Discovered 4 repositories");
    }

    #[test]
    fn a_pass_for_a_new_generation_is_reconciling_through_failures_until_one_succeeds() {
        let started = discovering_conditions(&synced(1), Some(2), &Time(at(5)));
        let reconciling = find_condition(&started, RECONCILING).unwrap();
        assert_eq!((reconciling.status, reconciling.observed_generation), (ConditionStatus::True, Some(2)));
        assert_eq!(find_condition(&started, READY), find_condition(&synced(1), READY), "Ready waits for the pass");
        let failed = failed_conditions(&started, "GitHubUnavailable", "502", Some(2), &Time(at(6)));
        assert_eq!(discovering_conditions(&failed, Some(2), &Time(at(9))), failed, "a retry writes nothing new");
        let done = synced_conditions(&failed, &outcome("o", &BTreeMap::new(), &BTreeMap::new()), Some(2), &Time(at(9)));
        assert!(find_condition(&done, RECONCILING).is_none());
        assert_eq!(find_condition(&done, READY).unwrap().status, ConditionStatus::True);
    }

    #[test]
    fn unreadable_repositories_degrade_the_organization_and_warn_on_the_repository() {
        let mut unreadable = found("o/x", &[]);
        unreadable.read_error = Some("not found: Git Repository is empty.".into());
        let outcome = outcome("o", &BTreeMap::from([("x".to_owned(), unreadable)]), &BTreeMap::new());
        assert_eq!(outcome.unreadable, ["x"]);
        assert!(outcome.warnings["x"].contains("Git Repository is empty"));
        let conditions = synced_conditions(&[], &outcome, None, &Time(at(5)));
        assert_eq!(find_condition(&conditions, DEGRADED).unwrap().reason, "RepositoriesUnreadable");
        assert_eq!(find_condition(&conditions, READY).unwrap().message, "Discovered 1 repository");
    }

    #[test]
    fn labels_name_the_language_and_topics_and_stay_valid() {
        let status = DiscoveredStatus {
            language: Some("jupyter notebook".into()),
            topics: vec!["platform".into(), "Not A Topic!".into()],
            ..DiscoveredStatus::default()
        };
        let labels = repository_labels(&status);
        assert_eq!(labels[LANGUAGE_LABEL], "jupyter-notebook");
        assert_eq!(labels[&format!("{TOPIC_LABEL_PREFIX}platform")], "true");
        assert_eq!(labels.len(), 2, "a topic that is no valid label name is left out: {labels:?}");
        assert_eq!(label_value("--c++--"), Some("c".into()));
        assert_eq!(label_value("+++"), None);
        assert_eq!(label_value(&"x".repeat(80)).map(|v| v.len()), Some(63));
    }

    #[test]
    fn the_status_serializes_as_the_crd_names_it_and_omits_what_is_unknown() {
        let status = DiscoveredStatus { full_name: "o/x".into(), ..DiscoveredStatus::default() };
        assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!({ "fullName": "o/x" }));
    }

    #[test]
    fn what_a_status_says_reads_false_and_empty_as_absent_and_sees_dropped_fields() {
        let current: RepositoryStatus = serde_json::from_value(serde_json::json!({
            "fullName": "o/x", "archived": false, "topics": [], "buildCommand": "make", "headSha": "abc",
        }))
        .unwrap();
        let found = |build_command: Option<&str>, archived| DiscoveredStatus {
            full_name: "o/x".into(),
            build_command: build_command.map(str::to_owned),
            head_sha: Some("abc".into()),
            archived,
            ..DiscoveredStatus::default()
        };
        assert_eq!(DiscoveredStatus::of(&current), found(Some("make"), false));
        assert_ne!(DiscoveredStatus::of(&current), found(None, false), "buildCommand dropped");
        assert_ne!(DiscoveredStatus::of(&current), found(Some("make"), true), "archived since");
        let nothing = RepositoryStatus::default();
        assert_eq!(DiscoveredStatus::of(&nothing), DiscoveredStatus::default(), "nothing known equals nothing found");
        assert_ne!(DiscoveredStatus::of(&nothing), DiscoveredStatus { full_name: "o/x".into(), ..Default::default() });
    }

    #[test]
    fn detection_condition_says_which_manifest() {
        let warning = detection_condition(Some("package.json: EOF"), Some(3), &Time(at(1)));
        assert_eq!((warning.status, warning.reason.as_str()), (ConditionStatus::True, "ManifestUnreadable"));
        let clean = detection_condition(None, Some(3), &Time(at(1)));
        assert_eq!(clean.status, ConditionStatus::False);
    }
}
