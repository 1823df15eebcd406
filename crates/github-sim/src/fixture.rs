//! The YAML fixture: what the simulated GitHub contains at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole simulated world.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Fixture {
    /// Organizations by login.
    pub orgs: Vec<OrgFixture>,
    /// Plain tokens accepted in `Authorization: token …` / `Bearer …`.
    pub tokens: Vec<String>,
    /// Primary rate-limit per credential per hour (default 5000).
    pub rate_limit: Option<i64>,
    /// GraphQL points per credential per hour, a budget apart from `rate_limit` (default GitHub's 5000).
    pub graphql_rate_limit: Option<i64>,
    /// Content-creation secondary limit per credential (default GitHub's 80 a minute and 500 an hour).
    pub content_creation: Option<crate::content_creation::ContentCreationLimit>,
    /// Start of simulated time, epoch seconds (default 2026-01-01T00:00:00Z).
    pub start_epoch_secs: Option<i64>,
    /// Seed for flaky outcomes.
    pub seed: u64,
    /// GitHub Apps whose installations may exchange an App JWT for installation tokens.
    pub apps: Vec<AppFixture>,
    /// Size limits of the git and contents APIs (GitHub's numbers by default).
    pub git_limits: GitLimits,
    /// Seconds of sim time after a dispatch before its run is listed by the runs lists, drawn per run in
    /// `[min, max]` from a seeded RNG (default GitHub-like `[1, 10]`; `[0, 0]` lists at once). `GET
    /// /actions/runs/{id}` serves the run at once either way. Overridden while `POST /_sim/faults` sets it.
    pub run_listing_delay_secs: Option<[i64; 2]>,
    /// REST API versions the server accepts in `X-GitHub-Api-Version` (default github.com's `2022-11-28` and
    /// `2026-03-10`). Without `2026-03-10` the server is an older GitHub Enterprise Server: a dispatch answers 204
    /// and refuses `return_run_details` with 422. Overridden while `POST /_sim/faults` sets it.
    pub api_versions: Option<Vec<String>>,
}

/// Size limits of the git and contents APIs, GitHub's documented numbers by default (docs: rest/git/trees,
/// rest/repos/contents). Also settable at run time (`POST /_sim/git-limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GitLimits {
    /// Entries of a recursive tree listing before it answers `truncated: true` (GitHub: 100,000).
    pub tree_entry_limit: usize,
    /// Bytes of a recursive tree answer before it is truncated (GitHub: 7 MB).
    pub tree_bytes_limit: usize,
    /// Largest file the contents API inlines; a larger one answers `encoding: "none"` with empty `content`
    /// (GitHub: 1 MB).
    pub contents_inline_limit: usize,
    /// Entries a directory's contents listing shows at most (GitHub: 1,000).
    pub directory_entry_limit: usize,
}

impl Default for GitLimits {
    fn default() -> Self {
        GitLimits {
            tree_entry_limit: 100_000,
            tree_bytes_limit: 7 * 1024 * 1024,
            contents_inline_limit: 1024 * 1024,
            directory_entry_limit: 1_000,
        }
    }
}

/// A GitHub App.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppFixture {
    /// The App id (the JWT's `iss`).
    pub id: u64,
    /// The App's RSA public key (PEM); when set, the JWT's RS256 signature is verified, else only its structure.
    pub public_key_pem: Option<String>,
    /// Installation ids of this App.
    pub installations: Vec<u64>,
    /// Lifetime of installation tokens (default 3600 s, GitHub's hour).
    pub token_lifetime_secs: Option<i64>,
    /// The permissions each installation was granted (`{"contents": "read", "actions": "write"}`), by installation
    /// id; `metadata: read` is every App's. An installation not listed has every permission a route needs.
    pub permissions: BTreeMap<u64, BTreeMap<String, String>>,
}

/// One organization.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgFixture {
    /// The org login.
    pub login: String,
    /// Its repositories.
    pub repos: Vec<RepoFixture>,
    /// Credentials that read the organization's alert lists (`GET /orgs/{org}/…/alerts`) as an owner or security
    /// manager with the `security_events` scope or permission: plain tokens, or `installation:ID` for every token of
    /// an App installation. Anyone else is refused as GitHub documents (Dependabot 403, code and secret scanning
    /// 404). Empty by default: nobody may. They also read its code security configurations and see its repositories'
    /// `security_and_analysis`.
    pub security_managers: Vec<String>,
    /// Its code security configurations. None declared: GitHub's global "GitHub recommended" (code scanning default
    /// setup enabled), attached to every repository whose `security.code_scanning` is enabled.
    pub code_security_configurations: Vec<CodeSecurityConfigurationFixture>,
}

/// A code security configuration of an organization (docs: rest/code-security/configurations).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeSecurityConfigurationFixture {
    /// Its name, unique in the organization.
    pub name: String,
    /// `enabled`, `disabled` or `not_set` (the default): whether it sets up code scanning by default setup. The
    /// repositories attached to an enabled one have code scanning enabled, as attaching it does on GitHub.
    pub code_scanning_default_setup: String,
    /// Names of the organization's repositories attached to it; a repository is attached to at most one.
    pub repositories: Vec<String>,
}

impl Default for CodeSecurityConfigurationFixture {
    fn default() -> Self {
        CodeSecurityConfigurationFixture {
            name: String::new(),
            code_scanning_default_setup: "not_set".into(),
            repositories: Vec::new(),
        }
    }
}

impl OrgFixture {
    /// Checks its code security configurations: named uniquely, a known default setup, attached repositories of
    /// this organization, each to one configuration at most.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let login = &self.login;
        let mut names = std::collections::BTreeSet::new();
        let mut attached = std::collections::BTreeSet::new();
        for configuration in &self.code_security_configurations {
            let name = &configuration.name;
            check(!name.is_empty() && names.insert(name), || {
                format!("{login}: code security configurations need distinct names, `{name}` is not")
            })?;
            check_one_of(
                &configuration.code_scanning_default_setup,
                &["enabled", "disabled", "not_set"],
                &format!("{login}: configuration `{name}`: code_scanning_default_setup"),
            )?;
            for repository in &configuration.repositories {
                check(self.repos.iter().any(|r| &r.name == repository), || {
                    format!("{login}: configuration `{name}` names unknown repository `{repository}`")
                })?;
                check(attached.insert(repository), || {
                    format!("{login}: repository `{repository}` is attached to two configurations")
                })?;
            }
        }
        Ok(())
    }
}

/// One repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoFixture {
    /// Repository name.
    pub name: String,
    /// Default branch (default `main`).
    pub default_branch: String,
    /// Files on the default branch, path → content.
    pub files: BTreeMap<String, String>,
    /// Topics.
    pub topics: Vec<String>,
    /// Primary language.
    pub language: Option<String>,
    /// Archived.
    pub archived: bool,
    /// A fork.
    pub fork: bool,
    /// `public`, `private` or `internal`.
    pub visibility: String,
    /// Workflows.
    pub workflows: Vec<WorkflowFixture>,
    /// Which security features are enabled (all disabled by default; a product with alerts is enabled).
    pub security: SecurityFixture,
    /// Security alerts by product.
    pub alerts: AlertsFixture,
    /// Earlier commits of the default branch, oldest first; the last one is the head. They all carry the head's
    /// files (history contents are not modelled). Empty: one `Initial commit`.
    pub commits: Vec<CommitFixture>,
    /// Issues present at start, in number order.
    pub issues: Vec<IssueFixture>,
    /// Pull requests present at start (numbered after the issues); each head branch is created from the default
    /// branch with its `files`.
    pub pull_requests: Vec<PullRequestFixture>,
    /// Past workflow runs, oldest first.
    pub runs: Vec<RunFixture>,
    /// Merge settings, the status checks merges require, and the checks commits report.
    pub merge: MergeFixture,
}

/// A commit of the default branch's history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitFixture {
    /// Commit message.
    pub message: String,
    /// Author date (`YYYY-MM-DDTHH:MM:SSZ`); default: one hour apart, ending at the repository's creation.
    pub date: Option<String>,
    /// Author name (default `sim`).
    pub author: Option<String>,
}

/// An issue present at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IssueFixture {
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Label names.
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Author login (default the orchestrator's bot).
    pub creator: Option<String>,
}

impl Default for IssueFixture {
    fn default() -> Self {
        IssueFixture { title: String::new(), body: None, labels: Vec::new(), state: "open".into(), creator: None }
    }
}

/// A pull request present at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PullRequestFixture {
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Head branch, created from the default branch with `files` committed on it.
    pub head: String,
    /// Base branch (default: the default branch).
    pub base: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Files changed on the head branch, path → content.
    pub files: BTreeMap<String, String>,
    /// Whether it is a draft.
    pub draft: bool,
}

impl Default for PullRequestFixture {
    fn default() -> Self {
        PullRequestFixture {
            title: String::new(),
            body: None,
            head: String::new(),
            base: None,
            state: "open".into(),
            files: BTreeMap::new(),
            draft: false,
        }
    }
}

/// A past workflow run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RunFixture {
    /// Workflow file name or path (default: the repository's first workflow).
    pub workflow: Option<String>,
    /// Commit (default: the default branch's head).
    pub sha: Option<String>,
    /// Branch (default: the default branch).
    pub branch: Option<String>,
    /// Triggering event.
    pub event: String,
    /// `success`, `failure`, `cancelled` or `timed_out`.
    pub conclusion: String,
    /// Seconds in progress.
    pub duration_secs: i64,
    /// Creation time (`YYYY-MM-DDTHH:MM:SSZ`); default: one day apart, ending a day before the start.
    pub created_at: Option<String>,
    /// Rendered `run-name` (default: the workflow's name).
    pub display_title: Option<String>,
}

impl Default for RunFixture {
    fn default() -> Self {
        RunFixture {
            workflow: None,
            sha: None,
            branch: None,
            event: "push".into(),
            conclusion: "success".into(),
            duration_secs: 60,
            created_at: None,
            display_title: None,
        }
    }
}

/// Security alerts of a repository, by product.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsFixture {
    /// Code-scanning alerts.
    pub code_scanning: Vec<CodeScanningAlertFixture>,
    /// Dependabot alerts.
    pub dependabot: Vec<DependabotAlertFixture>,
    /// Secret-scanning alerts.
    pub secret_scanning: Vec<SecretScanningAlertFixture>,
}

/// A code-scanning alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeScanningAlertFixture {
    /// Rule id, e.g. `rust/hard-coded-credentials`.
    pub rule_id: String,
    /// Rule severity: `none`, `note`, `warning` or `error`.
    pub severity: String,
    /// Security severity: `low`, `medium`, `high` or `critical`.
    pub security_severity: Option<String>,
    /// File the alert is in.
    pub path: String,
    /// Line of the alert.
    pub line: u64,
    /// `open`, `dismissed` or `fixed`.
    pub state: String,
    /// Tool name (default `CodeQL`).
    pub tool: Option<String>,
}

impl Default for CodeScanningAlertFixture {
    fn default() -> Self {
        CodeScanningAlertFixture {
            rule_id: String::new(),
            severity: "warning".into(),
            security_severity: None,
            path: String::new(),
            line: 1,
            state: "open".into(),
            tool: None,
        }
    }
}

/// A Dependabot alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DependabotAlertFixture {
    /// Package name.
    pub package: String,
    /// Ecosystem as GitHub spells it: `cargo`, `npm`, `pip`, `maven`, `go`, `nuget`, `rubygems`, `composer`, ….
    pub ecosystem: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Vulnerable range, e.g. `< 1.2.3`.
    pub vulnerable_version_range: String,
    /// First patched version, when there is one.
    pub first_patched_version: Option<String>,
    /// The manifest declaring the dependency, e.g. `Cargo.lock`.
    pub manifest_path: String,
    /// `open`, `dismissed`, `fixed` or `auto_dismissed`.
    pub state: String,
    /// Advisory id (default derived from the package).
    pub ghsa_id: Option<String>,
    /// Advisory summary.
    pub summary: Option<String>,
}

impl Default for DependabotAlertFixture {
    fn default() -> Self {
        DependabotAlertFixture {
            package: String::new(),
            ecosystem: String::new(),
            severity: "medium".into(),
            vulnerable_version_range: String::new(),
            first_patched_version: None,
            manifest_path: String::new(),
            state: "open".into(),
            ghsa_id: None,
            summary: None,
        }
    }
}

/// A secret-scanning alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretScanningAlertFixture {
    /// Secret type, e.g. `github_personal_access_token`.
    pub secret_type: String,
    /// `open` or `resolved`.
    pub state: String,
}

impl Default for SecretScanningAlertFixture {
    fn default() -> Self {
        SecretScanningAlertFixture { secret_type: String::new(), state: "open".into() }
    }
}

/// Security features of a repository. A disabled product answers 404 with GitHub's message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityFixture {
    /// Code scanning.
    pub code_scanning: bool,
    /// Dependabot alerts.
    pub dependabot: bool,
    /// Secret scanning.
    pub secret_scanning: bool,
    /// Dependabot security updates (GitHub turns them on only while Dependabot alerts are on).
    pub dependabot_security_updates: bool,
    /// GitHub Advanced Security (or Secret Protection) licensed and on for a private or internal repository: what
    /// secret scanning needs there. Code or secret scanning being on implies it.
    pub advanced_security: bool,
}

impl Default for RepoFixture {
    fn default() -> Self {
        RepoFixture {
            name: String::new(),
            default_branch: "main".into(),
            files: BTreeMap::new(),
            topics: Vec::new(),
            language: None,
            archived: false,
            fork: false,
            visibility: "private".into(),
            workflows: Vec::new(),
            security: SecurityFixture::default(),
            alerts: AlertsFixture::default(),
            commits: Vec::new(),
            issues: Vec::new(),
            pull_requests: Vec::new(),
            runs: Vec::new(),
            merge: MergeFixture::default(),
        }
    }
}

/// One workflow file and how its runs end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowFixture {
    /// Path such as `.github/workflows/build.yml`.
    pub path: String,
    /// Shorthand: display name. Any of `name`, `workflow_dispatch`, `inputs`, `run_name` makes the entry describe
    /// the workflow: when `files` lacks `path`, a YAML file saying this is written there at load (see
    /// [`crate::workflow_file`]). The file is the truth afterwards; an entry with none of them gives outcomes only.
    pub name: Option<String>,
    /// Shorthand: whether it accepts `workflow_dispatch` (default true).
    pub workflow_dispatch: Option<bool>,
    /// Shorthand: declared `workflow_dispatch` inputs (optional, without defaults).
    pub inputs: Option<Vec<String>>,
    /// Shorthand: `run-name` template, e.g. `build ${{ inputs.correlation_id }}`.
    pub run_name: Option<String>,
    /// How runs end.
    pub outcome: OutcomeFixture,
}

impl Default for WorkflowFixture {
    fn default() -> Self {
        WorkflowFixture {
            path: ".github/workflows/build.yml".into(),
            name: None,
            workflow_dispatch: None,
            inputs: None,
            run_name: None,
            outcome: OutcomeFixture::default(),
        }
    }
}

/// How a workflow's runs end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeFixture {
    /// `success`, `failure` or `flaky`.
    pub result: OutcomeKind,
    /// Failure probability when flaky.
    pub failure_probability: f64,
    /// Run duration in seconds.
    pub duration_secs: i64,
}

impl Default for OutcomeFixture {
    fn default() -> Self {
        OutcomeFixture { result: OutcomeKind::Success, failure_probability: 0.0, duration_secs: 60 }
    }
}

/// The kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Always succeeds.
    Success,
    /// Always fails.
    Failure,
    /// Fails with `failure_probability`.
    Flaky,
}

/// Errors reading a fixture.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("reading fixture {path}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is invalid.
    #[error("parsing fixture")]
    Parse(#[source] serde_yaml::Error),
    /// The fixture parses but describes something the simulator cannot serve.
    #[error("invalid fixture: {0}")]
    Invalid(String),
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), FixtureError> {
    if ok {
        Ok(())
    } else {
        Err(FixtureError::Invalid(message()))
    }
}

fn check_date(date: Option<&String>, what: &str) -> Result<(), FixtureError> {
    match date {
        Some(date) => check(crate::clock::parse_date(date).is_some(), || format!("{what}: `{date}` is not a date")),
        None => Ok(()),
    }
}

fn check_one_of(value: &str, allowed: &[&str], what: &str) -> Result<(), FixtureError> {
    check(allowed.contains(&value), || format!("{what}: `{value}` is not one of {allowed:?}"))
}

impl RunFixture {
    /// Checks the conclusion and the date of a run of repository `name`.
    pub fn validate(&self, name: &str) -> Result<(), FixtureError> {
        let conclusions = ["success", "failure", "cancelled", "timed_out"];
        check_one_of(&self.conclusion, &conclusions, &format!("{name}: run conclusion"))?;
        check_date(self.created_at.as_ref(), &format!("{name}: run created_at"))
    }
}

impl RepoFixture {
    /// Checks what the YAML types cannot: enumerations, dates, and references to workflows.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let name = &self.name;
        check(!name.is_empty(), || "a repository without a name".into())?;
        for commit in &self.commits {
            check_date(commit.date.as_ref(), &format!("{name}: commit date"))?;
        }
        for issue in &self.issues {
            check(!issue.title.is_empty(), || format!("{name}: an issue without a title"))?;
            check_one_of(&issue.state, &["open", "closed"], &format!("{name}: issue state"))?;
        }
        for pull in &self.pull_requests {
            check(!pull.title.is_empty() && !pull.head.is_empty(), || {
                format!("{name}: a pull request needs a title and a head")
            })?;
            let base = pull.base.as_deref().unwrap_or(&self.default_branch);
            check(pull.head != base && pull.head != self.default_branch, || {
                format!("{name}: pull request head `{}` must be a new branch", pull.head)
            })?;
            check_one_of(&pull.state, &["open", "closed"], &format!("{name}: pull request state"))?;
        }
        for run in &self.runs {
            let found = match &run.workflow {
                Some(w) => self.workflows.iter().any(|f| f.path == *w || f.path.rsplit('/').next() == Some(w.as_str())),
                None => !self.workflows.is_empty(),
            };
            check(found, || format!("{name}: run of unknown workflow {:?}", run.workflow))?;
            run.validate(name)?;
        }
        for alert in &self.alerts.code_scanning {
            check_one_of(&alert.state, &["open", "dismissed", "fixed"], &format!("{name}: code-scanning state"))?;
            check_one_of(
                &alert.severity,
                &["none", "note", "warning", "error"],
                &format!("{name}: code-scanning severity"),
            )?;
            if let Some(level) = &alert.security_severity {
                check_one_of(level, &["low", "medium", "high", "critical"], &format!("{name}: security severity"))?;
            }
        }
        for alert in &self.alerts.dependabot {
            check(!alert.package.is_empty() && !alert.ecosystem.is_empty(), || {
                format!("{name}: a Dependabot alert needs a package and an ecosystem")
            })?;
            check_one_of(
                &alert.state,
                &["open", "dismissed", "fixed", "auto_dismissed"],
                &format!("{name}: Dependabot state"),
            )?;
            check_one_of(
                &alert.severity,
                &["low", "medium", "high", "critical"],
                &format!("{name}: Dependabot severity"),
            )?;
        }
        for alert in &self.alerts.secret_scanning {
            check_one_of(&alert.state, &["open", "resolved"], &format!("{name}: secret-scanning state"))?;
        }
        Ok(())
    }
}

impl Fixture {
    /// Parses YAML.
    pub fn from_yaml(text: &str) -> Result<Self, FixtureError> {
        let fixture: Fixture = serde_yaml::from_str(text).map_err(FixtureError::Parse)?;
        fixture.validate()?;
        Ok(fixture)
    }

    /// Checks every organization, repository and App (see [`OrgFixture::validate`], [`RepoFixture::validate`]).
    pub fn validate(&self) -> Result<(), FixtureError> {
        for app in &self.apps {
            check(app.id > 0 && !app.installations.is_empty(), || {
                format!("App {}: needs an id and at least one installation", app.id)
            })?;
            for (installation, permissions) in &app.permissions {
                check(app.installations.contains(installation), || {
                    format!("App {}: permissions of {installation}, which is not one of its installations", app.id)
                })?;
                for (permission, level) in permissions {
                    check_one_of(level, &["read", "write"], &format!("App {}: {installation}: {permission}", app.id))?;
                }
            }
        }
        self.orgs.iter().try_for_each(OrgFixture::validate)?;
        self.orgs.iter().flat_map(|o| &o.repos).try_for_each(RepoFixture::validate)
    }

    /// Reads and parses a YAML file.
    pub fn from_file(path: &str) -> Result<Self, FixtureError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| FixtureError::Read { path: path.to_string(), source })?;
        Self::from_yaml(&text)
    }

    /// An org `login` with `count` repositories `repo-00000…`, each with a Cargo.toml and a build workflow
    /// (`.github/workflows/build.yml` in its files, taking `correlation_id` and rendering it into the run name);
    /// token `test-token` is accepted.
    pub fn generated_org(login: &str, count: usize) -> Self {
        let repos = (0..count)
            .map(|i| RepoFixture {
                name: format!("repo-{i:05}"),
                files: BTreeMap::from([(
                    "Cargo.toml".to_string(),
                    format!("[package]\nname = \"repo-{i:05}\"\nversion = \"0.1.0\"\n"),
                )]),
                language: Some("Rust".into()),
                workflows: vec![WorkflowFixture {
                    name: Some("build".into()),
                    inputs: Some(vec!["correlation_id".into()]),
                    run_name: Some("build ${{ inputs.correlation_id }}".into()),
                    ..Default::default()
                }],
                ..Default::default()
            })
            // The workflow's file is in `files`, as GitHub would read it.
            .map(crate::workflow_file::with_generated_files)
            .collect();
        Fixture {
            orgs: vec![OrgFixture { login: login.to_string(), repos, ..Default::default() }],
            tokens: vec!["test-token".into()],
            ..Default::default()
        }
    }
}

/// A repository's merge settings, requirements and the checks its commits report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeFixture {
    /// Whether auto-merge may be enabled on its pull requests (GitHub's `allow_auto_merge`, off by default).
    pub allow_auto_merge: bool,
    /// Whether merge commits are allowed (`allow_merge_commit`).
    pub allow_merge_commit: bool,
    /// Whether squash merges are allowed (`allow_squash_merge`).
    pub allow_squash_merge: bool,
    /// Whether rebase merges are allowed (`allow_rebase_merge`).
    pub allow_rebase_merge: bool,
    /// Branch protection: protected branch → the status checks it requires (contexts).
    pub protected_branches: BTreeMap<String, Vec<String>>,
    /// Rulesets' `required_status_checks` rules: branch → the status checks required.
    pub ruleset_required_checks: BTreeMap<String, Vec<String>>,
    /// The check runs every commit reports unless set per commit: name → `queued`, `in_progress`, or a
    /// conclusion (`success`, `failure`, `neutral`, `skipped`, `cancelled`, `timed_out`, `action_required`).
    pub check_runs: BTreeMap<String, String>,
    /// The commit statuses every commit reports unless set per commit: context → `pending`, `success`,
    /// `failure` or `error`.
    pub statuses: BTreeMap<String, String>,
}

impl Default for MergeFixture {
    fn default() -> Self {
        MergeFixture {
            allow_auto_merge: false,
            allow_merge_commit: true,
            allow_squash_merge: true,
            allow_rebase_merge: true,
            protected_branches: BTreeMap::new(),
            ruleset_required_checks: BTreeMap::new(),
            check_runs: BTreeMap::new(),
            statuses: BTreeMap::new(),
        }
    }
}

/// The checks one commit reports, set through the control API (they replace the fixture's for that commit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitChecks {
    /// Check runs: name → status or conclusion, as [`MergeFixture::check_runs`].
    pub check_runs: BTreeMap<String, String>,
    /// Statuses: context → state, as [`MergeFixture::statuses`].
    pub statuses: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_yaml_with_defaults() {
        let f = Fixture::from_yaml("orgs:\n- login: acme\n  repos:\n  - name: api\ntokens: [t]\n").expect("yaml");
        assert_eq!(f.orgs[0].repos[0].default_branch, "main");
        assert_eq!(f.tokens, vec!["t"]);
    }

    #[test]
    fn code_security_configurations_parse_and_must_name_repositories_of_their_organization_once() {
        let yaml = |configurations: &str| {
            let org = "orgs:\n- login: acme\n  repos: [{name: api}, {name: web}]\n";
            Fixture::from_yaml(&format!("{org}  code_security_configurations: {configurations}\n"))
        };
        let parsed = yaml("[{name: c, code_scanning_default_setup: enabled, repositories: [api]}, {name: d}]");
        let configurations = &parsed.expect("yaml").orgs[0].code_security_configurations;
        assert_eq!(configurations[0].code_scanning_default_setup, "enabled");
        assert_eq!(configurations[0].repositories, ["api"]);
        assert_eq!(configurations[1].code_scanning_default_setup, "not_set", "the default");
        for invalid in [
            "[{name: c, repositories: [nope]}]",
            "[{name: c, code_scanning_default_setup: on}]",
            "[{name: c, repositories: [api]}, {name: d, repositories: [api]}]",
            "[{name: c}, {name: c}]",
            "[{repositories: [api]}]",
        ] {
            assert!(matches!(yaml(invalid), Err(FixtureError::Invalid(_))), "{invalid}");
        }
    }

    #[test]
    fn generated_org_has_count_repos() {
        let f = Fixture::generated_org("big", 1200);
        assert_eq!(f.orgs[0].repos.len(), 1200);
        assert_eq!(f.orgs[0].repos[1199].name, "repo-01199");
    }
}
