//! The GitHub App permissions each operation of the [`GitHub`](super::GitHub) port needs (GitHub's "Permissions
//! required for GitHub Apps", REST API version 2026-03-10), and which of the operator's features uses it: the App
//! manifest, the README's table and the check of an installation's granted permissions all read this one table.

use std::collections::BTreeMap;
use std::fmt;

use super::types::AlertSource;

/// A GitHub App permission, named as the manifest's `default_permissions` and the token answer's `permissions` do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Repository "Metadata" (granted to every App).
    Metadata,
    /// Repository "Contents": files, trees, commits, branches.
    Contents,
    /// Repository "Actions": workflows, runs, jobs.
    Actions,
    /// Repository "Checks": check suites (the runs query reads runs through them) and a commit's check runs.
    Checks,
    /// Repository "Commit statuses": a commit's statuses.
    Statuses,
    /// Repository "Workflows": commits that change `.github/workflows/`.
    Workflows,
    /// Repository "Issues".
    Issues,
    /// Repository "Pull requests".
    PullRequests,
    /// Repository "Code scanning alerts".
    SecurityEvents,
    /// Repository "Dependabot alerts".
    VulnerabilityAlerts,
    /// Repository "Secret scanning alerts".
    SecretScanningAlerts,
    /// Organization "Administration": the organization's code security configurations.
    OrganizationAdministration,
    /// Repository "Administration": a repository's settings, among them its security features.
    Administration,
}

impl Permission {
    /// Every permission, in the manifest's order.
    pub const ALL: [Permission; 13] = [
        Permission::Metadata,
        Permission::Contents,
        Permission::Actions,
        Permission::Checks,
        Permission::Statuses,
        Permission::Workflows,
        Permission::Issues,
        Permission::PullRequests,
        Permission::SecurityEvents,
        Permission::VulnerabilityAlerts,
        Permission::SecretScanningAlerts,
        Permission::OrganizationAdministration,
        Permission::Administration,
    ];

    /// The key in the manifest and in the installation-token answer.
    pub fn key(self) -> &'static str {
        match self {
            Permission::Metadata => "metadata",
            Permission::Contents => "contents",
            Permission::Actions => "actions",
            Permission::Checks => "checks",
            Permission::Statuses => "statuses",
            Permission::Workflows => "workflows",
            Permission::Issues => "issues",
            Permission::PullRequests => "pull_requests",
            Permission::SecurityEvents => "security_events",
            Permission::VulnerabilityAlerts => "vulnerability_alerts",
            Permission::SecretScanningAlerts => "secret_scanning_alerts",
            Permission::OrganizationAdministration => "organization_administration",
            Permission::Administration => "administration",
        }
    }

    /// The permission whose key is `key`, when the operator uses it.
    pub fn from_key(key: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// How much of a permission: `write` includes `read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// `read`.
    Read,
    /// `write`.
    Write,
}

impl Access {
    /// `read` or `write`, as GitHub spells it.
    pub fn key(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One permission at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Need {
    /// The permission.
    pub permission: Permission,
    /// The level needed.
    pub access: Access,
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.permission.key(), self.access.key())
    }
}

const fn read(permission: Permission) -> Need {
    Need { permission, access: Access::Read }
}

const fn write(permission: Permission) -> Need {
    Need { permission, access: Access::Write }
}

/// What the operator does for its users, each of which can be left out of the App's permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Organization discovery: repositories, their files, languages and build commands.
    Discovery,
    /// BuildPlans: dispatching and following workflow runs.
    Builds,
    /// Repository health: default-branch runs and workflows.
    Health,
    /// Security posture: code scanning, Dependabot and secret scanning alerts.
    Security,
    /// HealingPolicies: re-runs, issues and fix pull requests.
    Healing,
    /// Onboarding pull requests that install workflows.
    Onboarding,
    /// Webhook deliveries and their recovery.
    Webhooks,
    /// Turning repositories' security features on (a HealingPolicy's `enableSecurityFeatures`).
    Hardening,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 8] = [
        Feature::Discovery,
        Feature::Builds,
        Feature::Health,
        Feature::Security,
        Feature::Healing,
        Feature::Onboarding,
        Feature::Webhooks,
        Feature::Hardening,
    ];

    /// Its name on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Discovery => "discovery",
            Feature::Builds => "builds",
            Feature::Health => "health",
            Feature::Security => "security",
            Feature::Healing => "healing",
            Feature::Onboarding => "onboarding",
            Feature::Webhooks => "webhooks",
            Feature::Hardening => "hardening",
        }
    }

    /// The webhook events the feature subscribes the App to (the operator's receiver routes them).
    pub fn events(self) -> &'static [&'static str] {
        match self {
            Feature::Discovery => &["repository", "push"],
            Feature::Builds | Feature::Health => &["workflow_run"],
            Feature::Security => &["code_scanning_alert", "dependabot_alert", "secret_scanning_alert"],
            Feature::Healing => &["issues", "pull_request"],
            Feature::Onboarding => &["pull_request"],
            Feature::Webhooks | Feature::Hardening => &[],
        }
    }
}

/// Every operation of the [`GitHub`](super::GitHub) port, one per trait method (split where the permission depends
/// on an argument); each variant is named after its method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    ListOrgRepos,
    Repository,
    Languages,
    Topics,
    BranchHead,
    Tree,
    DefaultBranchTree,
    TreeLevel,
    RepositoryTrees,
    BlobTexts,
    FileContents,
    Workflows,
    DefaultBranchRunsBatch,
    WorkflowRuns,
    WorkflowRun,
    RunJobs,
    OpenAlerts(AlertSource),
    OrgOpenAlerts(AlertSource),
    CodeScanningDefaultSetupRepositories,
    IssuesByLabel,
    BranchCommits,
    FindRunByCorrelation,
    ServerTime,
    RateLimit,
    GrantedPermissions,
    BudgetOutlook,
    AppHookDeliveries,
    DispatchWorkflow,
    RedeliverAppHookDelivery,
    RerunFailedJobs,
    CancelRun,
    CreateIssue,
    UpdateIssue,
    CommentIssue,
    CloseIssue,
    VulnerabilityAlertsEnabled,
    AutomatedSecurityFixesEnabled,
    RepositorySecurity,
    EnableVulnerabilityAlerts,
    EnableAutomatedSecurityFixes,
    EnableSecretScanning,
    MarkPullRequestReady,
    PullRequest,
    MergeSettings,
    RequiredStatusChecks,
    CommitChecks,
    MergePullRequest,
    EnableAutoMerge,
    /// Opening a pull request; `workflow_files` when its changes touch `.github/workflows/`.
    OpenPullRequest {
        workflow_files: bool,
    },
}

const SOURCES: [AlertSource; 3] = [AlertSource::CodeScanning, AlertSource::Dependabot, AlertSource::SecretScanning];

impl Operation {
    /// Every operation.
    pub fn all() -> Vec<Operation> {
        use Operation::*;
        let mut all = vec![
            ListOrgRepos,
            Repository,
            Languages,
            Topics,
            BranchHead,
            Tree,
            DefaultBranchTree,
            TreeLevel,
            RepositoryTrees,
            BlobTexts,
            FileContents,
            Workflows,
            DefaultBranchRunsBatch,
            WorkflowRuns,
            WorkflowRun,
            RunJobs,
            CodeScanningDefaultSetupRepositories,
            IssuesByLabel,
            BranchCommits,
            FindRunByCorrelation,
            ServerTime,
            RateLimit,
            GrantedPermissions,
            BudgetOutlook,
            AppHookDeliveries,
            DispatchWorkflow,
            RedeliverAppHookDelivery,
            RerunFailedJobs,
            CancelRun,
            CreateIssue,
            UpdateIssue,
            CommentIssue,
            CloseIssue,
            VulnerabilityAlertsEnabled,
            AutomatedSecurityFixesEnabled,
            RepositorySecurity,
            EnableVulnerabilityAlerts,
            EnableAutomatedSecurityFixes,
            EnableSecretScanning,
            MarkPullRequestReady,
            PullRequest,
            MergeSettings,
            RequiredStatusChecks,
            CommitChecks,
            MergePullRequest,
            EnableAutoMerge,
            OpenPullRequest { workflow_files: false },
            OpenPullRequest { workflow_files: true },
        ];
        all.extend(SOURCES.map(OpenAlerts));
        all.extend(SOURCES.map(OrgOpenAlerts));
        all
    }

    /// The port's method.
    pub fn method(self) -> &'static str {
        use Operation::*;
        match self {
            ListOrgRepos => "list_org_repos",
            Repository => "repository",
            Languages => "languages",
            Topics => "topics",
            BranchHead => "branch_head",
            Tree => "tree",
            DefaultBranchTree => "default_branch_tree",
            TreeLevel => "tree_level",
            RepositoryTrees => "repository_trees",
            BlobTexts => "blob_texts",
            FileContents => "file_contents",
            Workflows => "workflows",
            DefaultBranchRunsBatch => "default_branch_runs_batch",
            WorkflowRuns => "workflow_runs",
            WorkflowRun => "workflow_run",
            RunJobs => "run_jobs",
            OpenAlerts(_) => "open_alerts",
            OrgOpenAlerts(_) => "org_open_alerts",
            CodeScanningDefaultSetupRepositories => "code_scanning_default_setup_repositories",
            IssuesByLabel => "issues_by_label",
            BranchCommits => "branch_commits",
            FindRunByCorrelation => "find_run_by_correlation",
            ServerTime => "server_time",
            RateLimit => "rate_limit",
            GrantedPermissions => "granted_permissions",
            BudgetOutlook => "budget_outlook",
            AppHookDeliveries => "app_hook_deliveries",
            DispatchWorkflow => "dispatch_workflow",
            RedeliverAppHookDelivery => "redeliver_app_hook_delivery",
            RerunFailedJobs => "rerun_failed_jobs",
            CancelRun => "cancel_run",
            CreateIssue => "create_issue",
            UpdateIssue => "update_issue",
            CommentIssue => "comment_issue",
            CloseIssue => "close_issue",
            VulnerabilityAlertsEnabled => "vulnerability_alerts_enabled",
            AutomatedSecurityFixesEnabled => "automated_security_fixes_enabled",
            RepositorySecurity => "repository_security",
            EnableVulnerabilityAlerts => "enable_vulnerability_alerts",
            EnableAutomatedSecurityFixes => "enable_automated_security_fixes",
            EnableSecretScanning => "enable_secret_scanning",
            MarkPullRequestReady => "mark_pull_request_ready",
            PullRequest => "pull_request",
            MergeSettings => "merge_settings",
            RequiredStatusChecks => "required_status_checks",
            CommitChecks => "commit_checks",
            MergePullRequest => "merge_pull_request",
            EnableAutoMerge => "enable_auto_merge",
            OpenPullRequest { .. } => "open_pull_request",
        }
    }

    /// The installation permissions the operation needs. Metadata is every App's; the answers read without a
    /// request, `GET /rate_limit` and the App's own hook (authenticated as the App) need none.
    pub fn needs(self) -> Vec<Need> {
        use Operation::*;
        use Permission::{
            Actions, Checks, Contents, Issues, Metadata, OrganizationAdministration, PullRequests,
            SecretScanningAlerts, SecurityEvents, VulnerabilityAlerts,
        };
        match self {
            ListOrgRepos | Repository | Languages | Topics | RepositorySecurity => vec![read(Metadata)],
            // GitHub: "Administration" read to check, write to enable (docs: permissions required for GitHub Apps).
            VulnerabilityAlertsEnabled | AutomatedSecurityFixesEnabled => vec![read(Permission::Administration)],
            EnableVulnerabilityAlerts | EnableAutomatedSecurityFixes | EnableSecretScanning => {
                vec![write(Permission::Administration)]
            }
            BranchHead | Tree | DefaultBranchTree | TreeLevel | RepositoryTrees | BlobTexts | FileContents
            | BranchCommits => vec![read(Contents)],
            Workflows | WorkflowRuns | WorkflowRun | RunJobs | FindRunByCorrelation => vec![read(Actions)],
            // Default-branch history, its check suites and their workflow runs.
            DefaultBranchRunsBatch => vec![read(Contents), read(Checks), read(Actions)],
            OpenAlerts(source) | OrgOpenAlerts(source) => match source {
                AlertSource::CodeScanning => vec![read(SecurityEvents)],
                AlertSource::Dependabot => vec![read(VulnerabilityAlerts)],
                AlertSource::SecretScanning => vec![read(SecretScanningAlerts)],
            },
            // GitHub documents `write` even for listing them.
            CodeScanningDefaultSetupRepositories => vec![write(OrganizationAdministration)],
            IssuesByLabel => vec![read(Issues)],
            CreateIssue | UpdateIssue | CommentIssue | CloseIssue => vec![write(Issues)],
            DispatchWorkflow | RerunFailedJobs | CancelRun => vec![write(Actions)],
            OpenPullRequest { workflow_files: false } => vec![write(Contents), write(PullRequests)],
            // GraphQL's markPullRequestReadyForReview (REST cannot take a pull request out of draft).
            MarkPullRequestReady => vec![write(PullRequests)],
            PullRequest => vec![read(PullRequests)],
            // The repository's settings; a branch with its protection, and the rules on it.
            MergeSettings => vec![read(Metadata)],
            RequiredStatusChecks => vec![read(Contents)],
            CommitChecks => vec![read(Checks), read(Permission::Statuses)],
            // Merging writes the base branch; auto-merge is a merge GitHub carries out later for the App.
            MergePullRequest => vec![write(Contents)],
            EnableAutoMerge => vec![write(Contents), write(PullRequests)],
            OpenPullRequest { workflow_files: true } => {
                vec![write(Contents), write(PullRequests), write(Permission::Workflows)]
            }
            ServerTime
            | RateLimit
            | GrantedPermissions
            | BudgetOutlook
            | AppHookDeliveries
            | RedeliverAppHookDelivery => vec![],
        }
    }

    /// The features that use the operation.
    pub fn features(self) -> &'static [Feature] {
        use Feature::*;
        use Operation::*;
        match self {
            ListOrgRepos | Repository | Languages | Topics | RepositoryTrees | BlobTexts | DefaultBranchTree => {
                &[Discovery]
            }
            BranchHead | FileContents => &[Discovery, Builds, Healing],
            Tree | TreeLevel => &[Discovery, Healing],
            Workflows | DefaultBranchRunsBatch => &[Health],
            RunJobs => &[Builds, Health],
            // Healing dispatches the lockfile-update workflow and follows its runs on a pull request's branch.
            WorkflowRuns => &[Builds, Health, Healing],
            DispatchWorkflow => &[Builds, Healing],
            WorkflowRun | FindRunByCorrelation | CancelRun => &[Builds],
            OpenAlerts(AlertSource::Dependabot) => &[Security, Healing],
            OpenAlerts(_) | OrgOpenAlerts(_) | CodeScanningDefaultSetupRepositories => &[Security],
            IssuesByLabel
            | BranchCommits
            | RerunFailedJobs
            | CreateIssue
            | UpdateIssue
            | CommentIssue
            | CloseIssue
            | MarkPullRequestReady
            | PullRequest
            | MergeSettings
            | RequiredStatusChecks
            | CommitChecks
            | MergePullRequest
            | EnableAutoMerge
            | OpenPullRequest { workflow_files: false } => &[Healing],
            OpenPullRequest { workflow_files: true } => &[Onboarding],
            AppHookDeliveries | RedeliverAppHookDelivery => &[Webhooks],
            VulnerabilityAlertsEnabled
            | AutomatedSecurityFixesEnabled
            | RepositorySecurity
            | EnableVulnerabilityAlerts
            | EnableAutomatedSecurityFixes
            | EnableSecretScanning => &[Hardening],
            ServerTime | RateLimit | GrantedPermissions | BudgetOutlook => &[Discovery],
        }
    }
}

/// The permissions (each at its highest level) that `features` need.
pub fn needed_by(features: &[Feature]) -> BTreeMap<Permission, Access> {
    let mut needed = BTreeMap::new();
    for operation in Operation::all().into_iter().filter(|op| op.features().iter().any(|f| features.contains(f))) {
        for need in operation.needs() {
            let access = needed.entry(need.permission).or_insert(need.access);
            *access = (*access).max(need.access);
        }
    }
    needed
}

/// The features that need `need` (the ones it turns off when it is not granted).
pub fn features_needing(need: Need) -> Vec<Feature> {
    let mut features: Vec<Feature> = Operation::all()
        .into_iter()
        .filter(|op| op.needs().iter().any(|n| n.permission == need.permission && n.access >= need.access))
        .flat_map(|op| op.features().iter().copied())
        .collect();
    features.sort();
    features.dedup();
    features
}

/// The permissions an installation token was granted (its answer's `permissions`), those the operator knows of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Granted(BTreeMap<Permission, Access>);

impl Granted {
    /// Reads the answer's `permissions` object (`{"contents": "read", …}`); keys the operator does not use and
    /// unknown levels are left out.
    pub fn from_answer(permissions: &BTreeMap<String, String>) -> Granted {
        let level = |value: &str| match value {
            "read" => Some(Access::Read),
            "write" | "admin" => Some(Access::Write),
            _ => None,
        };
        Granted(
            permissions.iter().filter_map(|(key, value)| Some((Permission::from_key(key)?, level(value)?))).collect(),
        )
    }

    /// Whether `need` is granted.
    pub fn grants(&self, need: Need) -> bool {
        self.0.get(&need.permission).is_some_and(|access| *access >= need.access)
    }

    /// The needs of `operation` that are not granted.
    pub fn missing_for(&self, operation: Operation) -> Vec<Need> {
        operation.needs().into_iter().filter(|need| !self.grants(*need)).collect()
    }

    /// Every need of the operator's features that is not granted, with the features each turns off.
    pub fn missing(&self) -> Vec<(Need, Vec<Feature>)> {
        needed_by(&Feature::ALL)
            .into_iter()
            .map(|(permission, access)| Need { permission, access })
            .filter(|need| !self.grants(*need))
            .map(|need| (need, features_needing(need)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The port's methods, read from the trait's source: a method added to the port without an [`Operation`] (and
    /// so without its permissions) fails this test.
    fn port_methods() -> BTreeSet<String> {
        let source = include_str!("mod.rs");
        let (_, body) = source.split_once("pub trait GitHub").expect("the port");
        let body = &body[..body.find("\n}").expect("the trait's end")];
        body.split("fn ").skip(1).map(|rest| rest.split(['(', '<']).next().unwrap_or_default().to_owned()).collect()
    }

    #[test]
    fn every_port_method_has_its_permissions() {
        let mapped: BTreeSet<String> = Operation::all().iter().map(|op| op.method().to_owned()).collect();
        let methods = port_methods();
        assert!(methods.len() > 30, "the reader found too few methods: {methods:?}");
        assert_eq!(methods, mapped, "port methods (left) and operations with permissions (right) differ");
    }

    #[test]
    fn every_operation_is_listed_once_and_used_by_a_feature() {
        let all = Operation::all();
        assert_eq!(all.iter().collect::<std::collections::HashSet<_>>().len(), all.len());
        assert!(all.iter().all(|op| !op.features().is_empty()));
    }

    #[test]
    fn what_each_feature_needs() {
        use Access::*;
        use Permission::*;
        let all = needed_by(&Feature::ALL);
        assert_eq!(all.get(&Actions), Some(&Write));
        assert_eq!(all.get(&VulnerabilityAlerts), Some(&Read));
        assert_eq!(all.get(&Workflows), Some(&Write));
        assert_eq!(all.len(), Permission::ALL.len(), "every known permission is used: {all:?}");
        let discovery = needed_by(&[Feature::Discovery]);
        assert_eq!(discovery, BTreeMap::from([(Metadata, Read), (Contents, Read)]));
        assert!(!needed_by(&[Feature::Health]).contains_key(&SecurityEvents));
        assert_eq!(features_needing(write(Actions)), vec![Feature::Builds, Feature::Healing]);
        assert_eq!(features_needing(read(VulnerabilityAlerts)), vec![Feature::Security, Feature::Healing]);
    }

    #[test]
    fn granted_permissions_are_read_from_the_token_answer() {
        let answer: BTreeMap<String, String> =
            [("metadata", "read"), ("contents", "write"), ("actions", "read"), ("members", "read")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
        let granted = Granted::from_answer(&answer);
        assert!(granted.grants(read(Permission::Contents)));
        assert!(granted.grants(read(Permission::Actions)));
        assert!(!granted.grants(write(Permission::Actions)));
        assert_eq!(granted.missing_for(Operation::DispatchWorkflow), vec![write(Permission::Actions)]);
        assert!(granted.missing_for(Operation::Tree).is_empty());
        let missing: Vec<String> = granted.missing().iter().map(|(need, _)| need.to_string()).collect();
        assert!(missing.contains(&"actions:write".to_owned()) && missing.contains(&"issues:write".to_owned()));
        assert!(!missing.contains(&"contents:write".to_owned()) && !missing.contains(&"metadata:read".to_owned()));
    }
}
