//! The simulator's mutable world: repositories, runs, budgets, faults and the request log.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::faults::{FaultConfig, SecondaryWindow};
use crate::fixture::{
    CodeSecurityConfigurationFixture, Fixture, OutcomeFixture, OutcomeKind, RepoFixture, RunFixture, WorkflowFixture,
};
use crate::rate_limit::Budget;
use crate::runs::Conclusion;

/// GitHub's default primary limit for installations and tokens.
pub const DEFAULT_RATE_LIMIT: i64 = 5000;

/// Seconds after a dispatch before its run is listed, by default: GitHub lists a dispatched run seconds later, more
/// under load (GitHub documents no number; a look-up right after a dispatch misses it).
pub const DEFAULT_RUN_LISTING_DELAY_SECS: [i64; 2] = [1, 10];

/// The REST API versions github.com accepts (docs: rest/about-the-rest-api/api-versions).
pub const SUPPORTED_API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];

/// The version a request without `X-GitHub-Api-Version` gets.
pub const DEFAULT_API_VERSION: &str = "2022-11-28";

/// Where GraphQL is served.
pub const GRAPHQL_PATH: &str = "/graphql";

/// Largest GraphQL answer served, in bytes of JSON, by default: a larger one is answered as GitHub answers a query
/// that ran past its 10 s (a 502), so that a client asking too much per page learns it as it would from GitHub.
/// GitHub documents the time, not a size; 5 MB is about what its 10 s produce for trees and file texts.
pub const DEFAULT_GRAPHQL_MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;

/// One entry of the request log (`GET /_sim/requests`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LoggedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query, as GitHub's descriptions name it (on an Enterprise Server, without its `/api/v3`).
    pub path: String,
    /// Path without query, as the client sent it (`/api/v3/…` and `/api/graphql` on an Enterprise Server).
    #[serde(default)]
    pub url_path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Whether it counted against the primary limit.
    pub counted: bool,
    /// Points it cost its budget: a GraphQL query's cost (from the `graphql` budget), 1 for a counted REST request
    /// (from the `core` budget), else 0. Benchmarks sum these.
    #[serde(default)]
    pub points: i64,
    /// Conformance violations found while serving it (a GraphQL query GitHub's schema rejects, or that asks for
    /// something the simulator does not serve); [`crate::SimHandle::assert_conformant`] reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    /// The credential used (the token itself is not logged, only a fingerprint).
    pub credential: Option<String>,
    /// Request body as JSON.
    pub request_body: Option<Value>,
    /// Response body as JSON.
    pub response_body: Option<Value>,
    /// Sim-clock time the request arrived (ISO 8601).
    pub started_at: String,
    /// The injected fault that shaped this entry: `server_error`, `timeout` and `lost_response` replace GitHub's
    /// answer with a bare 5xx (not GitHub's to describe); `secondary_limit` and `late_response` keep GitHub's shapes.
    #[serde(default)]
    pub fault: Option<String>,
    /// For a `lost_response`, the status GitHub's model gave before the answer was replaced: whether the write it
    /// lost was carried out (2xx) or refused (a 422 for a duplicate, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_status: Option<u16>,
    /// The `X-GitHub-Api-Version` the request asked for, when it sent one (GitHub answers `2022-11-28` without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

impl LoggedRequest {
    /// Whether this was a GraphQL call (checked against GitHub's GraphQL schema as it was served).
    pub fn is_graphql(&self) -> bool {
        self.method == "POST" && self.path == GRAPHQL_PATH
    }

    /// Whether the answer was replaced by an injected transport failure rather than given by the GitHub model.
    pub fn answer_injected(&self) -> bool {
        matches!(self.fault.as_deref(), Some("server_error" | "timeout" | "lost_response"))
    }
}

/// A repository being served.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Numeric id.
    pub id: u64,
    /// Owner login.
    pub owner: String,
    /// The fixture description (name, files, topics…), kept current by edits.
    pub spec: RepoFixture,
    /// The default branch's head commit sha.
    pub head_sha: String,
    /// Workflows with their ids.
    pub workflows: Vec<Workflow>,
    /// Sim time the repository was created.
    pub created_at: i64,
    /// Sim time of the last push to any branch (GitHub's `pushed_at`).
    pub pushed_at: i64,
    /// Sim time of the last change to the repository, a push, or any of its issues and pull requests (GitHub's
    /// `updated_at`).
    pub updated_at: i64,
    /// Open issues plus open pull requests (GitHub's `open_issues_count`), kept by [`SimState::touch_repo`].
    pub open_issues_count: usize,
    /// Branches: name → head commit sha. The default branch's head and files are mirrored in `head_sha` and
    /// `spec.files`.
    pub branches: BTreeMap<String, String>,
    /// Commit objects by sha.
    pub commits: HashMap<String, GitCommit>,
    /// Tree objects by sha (the root trees and every subtree): the files below each, paths relative to it.
    pub trees: HashMap<String, BTreeMap<String, String>>,
    /// The entries of each tree object in `trees`, in git's order.
    pub tree_entries: HashMap<String, Vec<crate::git_object::TreeEntry>>,
    /// Blobs by sha.
    pub blobs: HashMap<String, String>,
    /// Checks set per commit sha through the control API (others report the fixture's `merge` checks).
    pub commit_checks: HashMap<String, crate::fixture::CommitChecks>,
}

/// A git commit object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommit {
    /// Its sha.
    pub sha: String,
    /// Root tree sha.
    pub tree: String,
    /// Parent shas.
    pub parents: Vec<String>,
    /// Message.
    pub message: String,
    /// Author (and committer) name.
    pub author: String,
    /// Author date, epoch seconds.
    pub date: i64,
}

impl GitCommit {
    /// The author's (and committer's) email.
    pub fn email(&self) -> String {
        email_of(&self.author)
    }
}

/// The email the simulator gives a commit author.
pub fn email_of(author: &str) -> String {
    format!("{}@users.noreply.example.invalid", author.replace(' ', "."))
}

/// The git id of the root tree holding `files` (as `git write-tree` would give for them).
pub fn tree_sha_of(files: &BTreeMap<String, String>) -> String {
    crate::git_object::build_trees(files).first().map(|root| root.sha.clone()).unwrap_or_default()
}

/// The git id of a blob (as `git hash-object` gives).
pub fn blob_sha_of(content: &str) -> String {
    crate::git_object::blob_id(content.as_bytes())
}

impl Repo {
    /// Stores a root tree, its subtrees and its blobs; returns the root's git id.
    pub fn store_tree(&mut self, files: BTreeMap<String, String>) -> String {
        for content in files.values() {
            self.blobs.entry(blob_sha_of(content)).or_insert_with(|| content.clone());
        }
        let objects = crate::git_object::build_trees(&files);
        let root = objects.first().map(|root| root.sha.clone()).unwrap_or_default();
        for object in objects {
            self.tree_entries.entry(object.sha.clone()).or_insert(object.entries);
            self.trees.entry(object.sha).or_insert(object.files);
        }
        root
    }

    /// Stores a commit of an existing tree; returns its git id.
    pub fn store_commit(&mut self, tree: &str, parents: Vec<String>, message: &str, author: &str, date: i64) -> String {
        let sha = crate::git_object::commit_id(&crate::git_object::CommitFields {
            tree,
            parents: &parents,
            name: author,
            email: &email_of(author),
            epoch: date,
            message,
        });
        let commit = GitCommit {
            sha: sha.clone(),
            tree: tree.to_string(),
            parents,
            message: message.to_string(),
            author: author.to_string(),
            date,
        };
        self.commits.insert(sha.clone(), commit);
        sha
    }

    /// The commit a ref names: a branch (`main`, `heads/main`, `refs/heads/main`) or a commit sha.
    pub fn resolve(&self, git_ref: &str) -> Option<&GitCommit> {
        let branch = git_ref.strip_prefix("refs/").unwrap_or(git_ref);
        let branch = branch.strip_prefix("heads/").unwrap_or(branch);
        match self.branches.get(branch) {
            Some(sha) => self.commits.get(sha),
            None => self.commits.get(git_ref),
        }
    }

    /// The files of the commit a ref names.
    pub fn files_at(&self, git_ref: &str) -> Option<&BTreeMap<String, String>> {
        self.resolve(git_ref).and_then(|c| self.trees.get(&c.tree))
    }

    /// Points `branch` at `sha` (creating it), keeping the default-branch mirror and `pushed_at` current.
    pub fn set_branch(&mut self, branch: &str, sha: &str, now: i64) {
        self.branches.insert(branch.to_string(), sha.to_string());
        self.pushed_at = now;
        self.updated_at = now;
        if branch == self.spec.default_branch {
            self.head_sha = sha.to_string();
            if let Some(files) = self.files_at(sha).cloned() {
                self.spec.files = files;
            }
        }
    }

    /// Commits file changes (`None` deletes) on top of `branch`'s head and moves the branch; the new sha, or `None`
    /// when the branch does not exist.
    pub fn commit_changes(
        &mut self,
        branch: &str,
        changes: &BTreeMap<String, Option<String>>,
        message: &str,
        now: i64,
    ) -> Option<String> {
        let parent = self.branches.get(branch)?.clone();
        let mut files = self.files_at(&parent).cloned().unwrap_or_default();
        for (path, content) in changes {
            match content {
                Some(content) => files.insert(path.clone(), content.clone()),
                None => files.remove(path),
            };
        }
        let tree = self.store_tree(files);
        let sha = self.store_commit(&tree, vec![parent], message, "sim", now);
        self.set_branch(branch, &sha, now);
        Some(sha)
    }

    /// Whether `ancestor` is `sha` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, sha: &str) -> bool {
        let mut pending = vec![sha.to_string()];
        let mut seen = HashSet::new();
        while let Some(current) = pending.pop() {
            if current == ancestor {
                return true;
            }
            if seen.insert(current.clone()) {
                if let Some(commit) = self.commits.get(&current) {
                    pending.extend(commit.parents.iter().cloned());
                }
            }
        }
        false
    }
}

/// A workflow's stable id, by path, and how its runs end. What it is (name, triggers, inputs, run-name) is read from
/// its file at a ref (see [`crate::workflow_file`]); a file that appears later is given an id when first seen.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Numeric id, stable per path.
    pub id: u64,
    /// The fixture entry: its `path` and `outcome` (the shorthand fields only served to generate a file at load).
    pub spec: WorkflowFixture,
}

/// A workflow run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Numeric id.
    pub id: u64,
    /// Owner login.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Workflow id.
    pub workflow_id: u64,
    /// Branch.
    pub head_branch: String,
    /// Commit.
    pub head_sha: String,
    /// Triggering event.
    pub event: String,
    /// Rendered `run-name`.
    pub display_title: String,
    /// Sim time of creation (of the current attempt).
    pub created_at: i64,
    /// Time the first attempt was created.
    pub first_created_at: i64,
    /// How long it runs once started.
    pub duration_secs: i64,
    /// How it ends unless cancelled.
    pub outcome: Conclusion,
    /// When it was cancelled.
    pub cancelled_at: Option<i64>,
    /// Attempt number, from 1.
    pub run_attempt: u32,
    /// Sim time from which the runs lists show it (a dispatched run is listed only after a delay; by id at once).
    pub listed_at: i64,
    /// The inputs it runs with (a dispatch's, defaults filled in); empty for other events.
    pub inputs: BTreeMap<String, String>,
}

/// A run of `repo` as a fixture describes it, created at `created` unless the fixture says when; `None` when it names
/// no workflow of the repository. `id` is asked once the workflow is found.
fn run_of_fixture(repo: &Repo, run: RunFixture, created: i64, id: impl FnOnce() -> u64) -> Option<Run> {
    let workflow = match &run.workflow {
        Some(w) => {
            repo.workflows.iter().find(|f| f.spec.path == *w || f.spec.path.rsplit('/').next() == Some(w.as_str()))
        }
        None => repo.workflows.first(),
    }?;
    let outcome = match run.conclusion.as_str() {
        "failure" => Conclusion::Failure,
        "cancelled" => Conclusion::Cancelled,
        "timed_out" => Conclusion::TimedOut,
        _ => Conclusion::Success,
    };
    let created = run.created_at.as_deref().and_then(crate::clock::parse_date).unwrap_or(created);
    Some(Run {
        id: id(),
        owner: repo.owner.clone(),
        repo: repo.spec.name.clone(),
        workflow_id: workflow.id,
        head_branch: run.branch.unwrap_or_else(|| repo.spec.default_branch.clone()),
        head_sha: run.sha.unwrap_or_else(|| repo.head_sha.clone()),
        event: run.event,
        display_title: run.display_title.unwrap_or_else(|| {
            let file = repo.spec.files.get(&workflow.spec.path).map(String::as_str).unwrap_or_default();
            crate::workflow_file::parse(file).display_name(&workflow.spec.path)
        }),
        created_at: created,
        first_created_at: created,
        duration_secs: run.duration_secs,
        outcome,
        cancelled_at: None,
        run_attempt: 1,
        listed_at: created,
        inputs: BTreeMap::new(),
    })
}

/// The login of the App's bot, which opens the issues and pull requests a fixture gives no other author.
pub const BOT_LOGIN: &str = "infinity-orchestrator[bot]";

/// An issue.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Numeric id.
    pub id: u64,
    /// Owner login.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Number within the repository.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Author login.
    pub creator: String,
    /// Sim time created.
    pub created_at: i64,
    /// Sim time last changed.
    pub updated_at: i64,
    /// Sim time closed.
    pub closed_at: Option<i64>,
    /// Comments: (id, body, created_at).
    pub comments: Vec<(u64, String, i64)>,
}

/// A pull request.
#[derive(Debug, Clone)]
pub struct Pull {
    /// Numeric id.
    pub id: u64,
    /// Owner login.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Number within the repository (shared with issues, as on GitHub).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    /// Author login.
    pub creator: String,
    /// Sim time created.
    pub created_at: i64,
    /// Sim time last changed.
    pub updated_at: i64,
    /// Sim time closed.
    pub closed_at: Option<i64>,
    /// Conversation comments (through the issues API, as on GitHub): (id, body, created_at).
    pub comments: Vec<(u64, String, i64)>,
    /// Whether it is a draft (cannot be merged, nor get auto-merge).
    pub draft: bool,
    /// Sim time merged.
    pub merged_at: Option<i64>,
    /// The commit the merge made on the base branch.
    pub merge_commit_sha: Option<String>,
    /// Who merged it.
    pub merged_by: Option<String>,
    /// Its auto-merge request, while on.
    pub auto_merge: Option<AutoMerge>,
}

/// A pull request's auto-merge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoMerge {
    /// `merge`, `squash` or `rebase`.
    pub merge_method: String,
    /// Who enabled it.
    pub enabled_by: String,
    /// Sim time it was enabled.
    pub enabled_at: i64,
}

/// A GitHub App with its installations.
#[derive(Debug, Clone)]
pub struct App {
    /// App id.
    pub id: u64,
    /// Public key for RS256 verification, when known.
    pub public_key_pem: Option<String>,
    /// Installation ids.
    pub installations: Vec<u64>,
    /// Lifetime of the installation tokens it gets.
    pub token_lifetime_secs: i64,
    /// The permissions of the installations the fixture lists them for (`metadata: read` included); the others have
    /// every permission a route needs (see `routes::permissions`).
    pub permissions: HashMap<u64, BTreeMap<String, String>>,
}

/// A code security configuration an organization's fixture declares, with the repositories attached to it (by id,
/// so that a rename keeps them attached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSecurityConfiguration {
    /// Numeric id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `enabled`, `disabled` or `not_set`.
    pub code_scanning_default_setup: String,
    /// Ids of the attached repositories.
    pub repository_ids: Vec<u64>,
    /// Sim time it was created.
    pub created_at: i64,
}

/// An issued installation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedToken {
    /// The installation it acts as.
    pub installation_id: u64,
    /// Sim time it stops working.
    pub expires_at: i64,
}

/// The budget key of an installation: every token it gets shares one budget, as on GitHub.
pub fn installation_budget_key(installation_id: u64) -> String {
    format!("installation:{installation_id}")
}

/// An installation's listed permissions plus `metadata: read`, which GitHub grants every App.
fn with_metadata(listed: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut granted = listed.clone();
    granted.entry("metadata".to_owned()).or_insert_with(|| "read".to_owned());
    granted
}

/// GitHub's lifetime of an installation token.
pub const INSTALLATION_TOKEN_SECS: i64 = 3600;

/// Everything the simulator knows.
#[derive(Debug)]
pub struct SimState {
    /// Sim clock, epoch seconds.
    pub now: i64,
    /// Org logins.
    pub orgs: Vec<String>,
    /// Per org login, the credentials (budget keys) that may read its org-level alert lists.
    pub security_managers: HashMap<String, HashSet<String>>,
    /// Per org login, the code security configurations its fixture declares (none: GitHub's default is presented).
    pub code_security_configurations: HashMap<String, Vec<CodeSecurityConfiguration>>,
    /// Repositories by (owner, name).
    pub repos: BTreeMap<(String, String), Repo>,
    /// Workflow runs, in creation order.
    pub runs: Vec<Run>,
    /// Issues, in creation order.
    pub issues: Vec<Issue>,
    /// Pull requests, in creation order.
    pub pulls: Vec<Pull>,
    /// GitHub Apps.
    pub apps: Vec<App>,
    /// Installation tokens issued, by token.
    pub installation_tokens: HashMap<String, IssuedToken>,
    /// Secondary-limit window state.
    pub secondary: SecondaryWindow,
    /// Requests whose fault was decided since the faults were set (see [`crate::faults::decide_next`]).
    pub fault_decisions: usize,
    /// Content creations per budget key, for the content-creation secondary limit.
    pub content_creation: crate::content_creation::ContentCreation,
    /// Accepted credentials.
    pub tokens: HashSet<String>,
    /// Budget per budget key (a plain token, or `installation:ID` for every token of an installation).
    pub budgets: HashMap<String, Budget>,
    /// Limit for credentials first seen.
    pub default_limit: i64,
    /// `graphql` budget per budget key, apart from the REST one as on GitHub.
    pub graphql_budgets: HashMap<String, Budget>,
    /// `graphql` limit for credentials first seen.
    pub graphql_default_limit: i64,
    /// Largest GraphQL answer served, in bytes of JSON; a larger one is answered as GitHub's timeout.
    pub graphql_max_response_bytes: usize,
    /// Size limits of the git and contents APIs.
    pub git_limits: crate::fixture::GitLimits,
    /// The fixture's `[min, max]` seconds before a dispatched run is listed (faults may override).
    pub run_listing_delay: [i64; 2],
    /// RNG behind listing delays (its own, so that flaky outcomes keep their sequences).
    pub listing_rng: fastrand::Rng,
    /// The fixture's accepted `X-GitHub-Api-Version` values (faults may override).
    pub api_versions: Vec<String>,
    /// The request log.
    pub log: Vec<LoggedRequest>,
    /// Sequence of the last logged request.
    pub last_seq: u64,
    /// Active faults.
    pub faults: FaultConfig,
    /// RNG behind fault decisions.
    pub fault_rng: fastrand::Rng,
    /// RNG behind flaky outcomes.
    pub outcome_rng: fastrand::Rng,
    /// The simulator's base URL, for URLs in webhook payloads.
    pub base_url: String,
    /// The host (`127.0.0.1:PORT`) when serving as GitHub Enterprise Server (see [`crate::enterprise`]).
    pub enterprise_host: Option<String>,
    /// Where webhooks go.
    pub webhook: Option<crate::webhook::WebhookTarget>,
    /// Events waiting for delivery.
    pub outbox: Vec<crate::webhook::PendingEvent>,
    /// Deliveries so far (for delivery ids).
    pub deliveries: u64,
    /// Every delivery attempt, oldest first (GitHub's "recent deliveries" of the App's hook).
    pub delivery_log: Vec<crate::webhook::Delivery>,
    next_id: u64,
}

/// A deterministic 40-hex sha of some text.
pub fn sha_of(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..20])
}

impl SimState {
    /// Builds the world from a fixture.
    pub fn from_fixture(fixture: &Fixture) -> Self {
        let now = fixture.start_epoch_secs.unwrap_or(crate::clock::DEFAULT_START_EPOCH_SECS);
        let mut state = SimState {
            now,
            orgs: fixture.orgs.iter().map(|o| o.login.clone()).collect(),
            security_managers: fixture
                .orgs
                .iter()
                .map(|o| (o.login.clone(), o.security_managers.iter().cloned().collect()))
                .collect(),
            code_security_configurations: HashMap::new(),
            repos: BTreeMap::new(),
            runs: Vec::new(),
            issues: Vec::new(),
            pulls: Vec::new(),
            apps: fixture
                .apps
                .iter()
                .map(|a| App {
                    id: a.id,
                    public_key_pem: a.public_key_pem.clone(),
                    installations: a.installations.clone(),
                    token_lifetime_secs: a.token_lifetime_secs.unwrap_or(INSTALLATION_TOKEN_SECS),
                    permissions: a.permissions.iter().map(|(id, listed)| (*id, with_metadata(listed))).collect(),
                })
                .collect(),
            installation_tokens: HashMap::new(),
            secondary: SecondaryWindow::default(),
            fault_decisions: 0,
            content_creation: crate::content_creation::ContentCreation::new(
                fixture.content_creation.unwrap_or_default(),
            ),
            tokens: fixture.tokens.iter().cloned().collect(),
            budgets: HashMap::new(),
            default_limit: fixture.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            graphql_budgets: HashMap::new(),
            graphql_default_limit: fixture.graphql_rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            graphql_max_response_bytes: DEFAULT_GRAPHQL_MAX_RESPONSE_BYTES,
            git_limits: fixture.git_limits,
            run_listing_delay: fixture.run_listing_delay_secs.unwrap_or(DEFAULT_RUN_LISTING_DELAY_SECS),
            listing_rng: fastrand::Rng::with_seed(fixture.seed),
            api_versions: fixture
                .api_versions
                .clone()
                .unwrap_or_else(|| SUPPORTED_API_VERSIONS.iter().map(|v| v.to_string()).collect()),
            log: Vec::new(),
            last_seq: 0,
            faults: FaultConfig::default(),
            fault_rng: fastrand::Rng::with_seed(0),
            outcome_rng: fastrand::Rng::with_seed(fixture.seed),
            base_url: String::new(),
            enterprise_host: None,
            webhook: None,
            outbox: Vec::new(),
            deliveries: 0,
            delivery_log: Vec::new(),
            next_id: 1000,
        };
        for org in &fixture.orgs {
            for repo in &org.repos {
                state.add_repo(&org.login, repo.clone());
            }
        }
        for org in &fixture.orgs {
            state.declare_code_security_configurations(&org.login, &org.code_security_configurations);
        }
        state
    }

    /// Records an organization's declared code security configurations; attaching one that enables default setup
    /// turns code scanning on, as on GitHub.
    fn declare_code_security_configurations(&mut self, org: &str, declared: &[CodeSecurityConfigurationFixture]) {
        let mut configurations = Vec::new();
        for configuration in declared {
            let enables = configuration.code_scanning_default_setup == "enabled";
            let mut repository_ids = Vec::new();
            for name in &configuration.repositories {
                if let Some(repo) = self.repo_mut(org, name) {
                    repo.spec.security.code_scanning |= enables;
                    repository_ids.push(repo.id);
                }
            }
            configurations.push(CodeSecurityConfiguration {
                id: self.next_id(),
                name: configuration.name.clone(),
                code_scanning_default_setup: configuration.code_scanning_default_setup.clone(),
                repository_ids,
                created_at: self.now,
            });
        }
        if !configurations.is_empty() {
            self.code_security_configurations.insert(org.to_string(), configurations);
        }
    }

    /// A fresh id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds (or replaces) a repository with its history, branches, issues, pull requests and past runs. The fixture
    /// should have passed [`RepoFixture::validate`]; items it would reject are skipped.
    pub fn add_repo(&mut self, owner: &str, spec: RepoFixture) {
        let spec = crate::workflow_file::with_generated_files(spec);
        let id = self.next_id();
        let workflows = spec.workflows.iter().map(|w| Workflow { id: self.next_id(), spec: w.clone() }).collect();
        let now = self.now;
        let mut repo = Repo {
            id,
            owner: owner.to_string(),
            spec,
            head_sha: String::new(),
            workflows,
            created_at: now,
            pushed_at: now,
            updated_at: now,
            open_issues_count: 0,
            branches: BTreeMap::new(),
            commits: HashMap::new(),
            trees: HashMap::new(),
            tree_entries: HashMap::new(),
            blobs: HashMap::new(),
            commit_checks: HashMap::new(),
        };
        let tree = repo.store_tree(repo.spec.files.clone());
        let history = repo.spec.commits.clone();
        let mut parents = Vec::new();
        if history.is_empty() {
            parents = vec![repo.store_commit(&tree, Vec::new(), "Initial commit", "sim", now)];
        }
        let count = history.len() as i64;
        for (i, commit) in history.iter().enumerate() {
            let date = commit
                .date
                .as_deref()
                .and_then(crate::clock::parse_date)
                .unwrap_or(now - (count - 1 - i as i64) * 3600);
            let author = commit.author.as_deref().unwrap_or("sim");
            parents = vec![repo.store_commit(&tree, parents, &commit.message, author, date)];
        }
        let default_branch = repo.spec.default_branch.clone();
        if let Some(head) = parents.first() {
            repo.set_branch(&default_branch, &head.clone(), now);
        }
        let (owner_s, name) = (owner.to_string(), repo.spec.name.clone());
        self.issues.retain(|i| !(i.owner == owner_s && i.repo == name));
        self.pulls.retain(|p| !(p.owner == owner_s && p.repo == name));
        self.runs.retain(|r| !(r.owner == owner_s && r.repo == name));
        for issue in repo.spec.issues.clone() {
            let number = self.next_number(owner, &name);
            let closed = issue.state == "closed";
            let id = self.next_id();
            self.issues.push(Issue {
                id,
                owner: owner_s.clone(),
                repo: name.clone(),
                number,
                title: issue.title,
                body: issue.body,
                state: issue.state,
                labels: issue.labels,
                creator: issue.creator.unwrap_or_else(|| BOT_LOGIN.into()),
                created_at: now,
                updated_at: now,
                closed_at: closed.then_some(now),
                comments: Vec::new(),
            });
        }
        for pull in repo.spec.pull_requests.clone() {
            let base = pull.base.clone().unwrap_or_else(|| default_branch.clone());
            let Some(base_sha) = repo.branches.get(&base).cloned() else { continue };
            repo.branches.insert(pull.head.clone(), base_sha);
            let changes = pull.files.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
            repo.commit_changes(&pull.head, &changes, &pull.title, now);
            let number = self.next_number(owner, &name);
            let closed = pull.state == "closed";
            let draft = pull.draft;
            let id = self.next_id();
            self.pulls.push(Pull {
                id,
                owner: owner_s.clone(),
                repo: name.clone(),
                number,
                title: pull.title,
                body: pull.body,
                head: pull.head,
                base,
                state: pull.state,
                creator: BOT_LOGIN.into(),
                created_at: now,
                updated_at: now,
                closed_at: closed.then_some(now),
                comments: Vec::new(),
                draft,
                merged_at: None,
                merge_commit_sha: None,
                merged_by: None,
                auto_merge: None,
            });
        }
        let past = repo.spec.runs.clone();
        let count = past.len() as i64;
        for (i, run) in past.into_iter().enumerate() {
            let created = now - (count - i as i64) * 86_400;
            if let Some(run) = run_of_fixture(&repo, run, created, || self.next_id()) {
                self.runs.push(run);
            }
        }
        self.repos.insert((owner_s.clone(), name.clone()), repo);
        self.touch_repo(&owner_s, &name);
    }

    /// Starts a run as a push (or the fixture's `event`) would: described as a fixture's past run, but created now
    /// unless it says when, and listed at once; it goes through its phases as the clock moves. Its id, or `None`
    /// when the repository or the workflow does not exist.
    pub fn start_run(&mut self, owner: &str, name: &str, run: RunFixture) -> Option<u64> {
        let (now, id) = (self.now, self.next_id());
        let run = run_of_fixture(self.repo(owner, name)?, run, now, || id)?;
        let body = serde_json::json!({"workflow_run": crate::views::run_json(&self.base_url, self, &run)});
        self.runs.push(run);
        self.emit("workflow_run", Some("requested"), owner, name, body);
        Some(id)
    }

    /// Records a change to a repository or one of its issues or pull requests: `updated_at` moves to now and
    /// `open_issues_count` is counted again, as GitHub keeps them (so list ETags move too).
    pub fn touch_repo(&mut self, owner: &str, name: &str) {
        let open_issues =
            self.issues.iter().filter(|i| i.owner == owner && i.repo == name && i.state == "open").count();
        let open_pulls = self.pulls.iter().filter(|p| p.owner == owner && p.repo == name && p.state == "open").count();
        let now = self.now;
        if let Some(repo) = self.repo_mut(owner, name) {
            repo.updated_at = now;
            repo.open_issues_count = open_issues + open_pulls;
        }
    }

    /// The next issue or pull-request number of a repository (they share one sequence, as on GitHub).
    pub fn next_number(&self, owner: &str, name: &str) -> u64 {
        let issues = self.issues.iter().filter(|i| i.owner == owner && i.repo == name).count();
        let pulls = self.pulls.iter().filter(|p| p.owner == owner && p.repo == name).count();
        (issues + pulls) as u64 + 1
    }

    /// The repository, mutable.
    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&(owner.to_string(), name.to_string()))
    }

    /// The repository, if it exists.
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&(owner.to_string(), name.to_string()))
    }

    /// Whether `caller` (a budget key) is an owner or security manager of the organization `org`: who may read its
    /// alert lists, code security configurations and repositories' `security_and_analysis`.
    pub fn is_security_manager(&self, org: &str, caller: &str) -> bool {
        self.security_managers.get(org).is_some_and(|managers| managers.contains(caller))
    }

    /// Draws when a run dispatched now is first listed.
    pub fn draw_listed_at(&mut self) -> i64 {
        let [min, max] = self.faults.run_listing_delay_secs.unwrap_or(self.run_listing_delay);
        let (min, max) = (min.max(0), max.max(0));
        self.now + if max > min { self.listing_rng.i64(min..=max) } else { min }
    }

    /// The accepted `X-GitHub-Api-Version` values now.
    pub fn accepted_api_versions(&self) -> &[String] {
        self.faults.api_versions.as_deref().unwrap_or(&self.api_versions)
    }

    /// Draws how a new run ends.
    pub fn draw_outcome(&mut self, outcome: &OutcomeFixture) -> Conclusion {
        match outcome.result {
            OutcomeKind::Success => Conclusion::Success,
            OutcomeKind::Failure => Conclusion::Failure,
            OutcomeKind::Flaky if self.outcome_rng.f64() < outcome.failure_probability => Conclusion::Failure,
            OutcomeKind::Flaky => Conclusion::Success,
        }
    }

    /// Queues an event with the common `repository`, `organization`, `sender` and `installation` objects.
    pub fn emit(&mut self, event: &'static str, action: Option<&str>, owner: &str, name: &str, mut payload: Value) {
        if self.webhook.is_none() {
            return;
        }
        let base = self.base_url.clone();
        if let Some(object) = payload.as_object_mut() {
            if let Some(action) = action {
                object.insert("action".into(), Value::from(action));
            }
            if !object.contains_key("repository") {
                if let Some(repo) = self.repo(owner, name) {
                    object.insert("repository".into(), crate::views::repo_json(&base, repo));
                }
            }
            object.insert("organization".into(), crate::views::organization_json(&base, owner));
            object.insert("sender".into(), crate::views::user_json(&base, "github-sim", "User"));
            object.insert(
                "installation".into(),
                serde_json::json!({"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}),
            );
        }
        if event == "workflow_run" {
            crate::webhook::complete_workflow_run(self, &mut payload);
        }
        self.outbox.push(crate::webhook::PendingEvent::new(event, payload));
    }

    /// Queues a `push` event for `branch` moving from `before` (`None`: the branch was created) to `after`.
    pub fn emit_push(&mut self, owner: &str, name: &str, branch: &str, before: Option<&str>, after: &str) {
        let Some(repo) = self.repo(owner, name) else { return };
        let push = crate::webhook::push_payload(&self.base_url, repo, branch, before, after);
        self.emit("push", None, owner, name, push);
    }

    /// Advances the clock, queueing `workflow_run` events for runs that started or completed meanwhile.
    pub fn advance(&mut self, seconds: i64) {
        let before = self.now;
        self.now += seconds;
        let base = self.base_url.clone();
        let mut events = Vec::new();
        for run in &self.runs {
            let old = crate::runs::phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, before);
            let new = crate::runs::phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, self.now);
            // One advance may cross both transitions; receivers still see both, in order.
            let mut actions = Vec::new();
            if old.status == "queued"
                && new.status != "queued"
                && new.conclusion != Some(crate::runs::Conclusion::Cancelled)
            {
                actions.push("in_progress");
            }
            if old.status != "completed" && new.status == "completed" {
                actions.push("completed");
            }
            for action in actions {
                let body = crate::views::run_json(&base, self, run);
                events.push((action, run.owner.clone(), run.repo.clone(), body));
            }
        }
        let lockfile_runs: Vec<(String, String, String, BTreeMap<String, String>)> = self
            .runs
            .iter()
            .filter(|run| {
                let phase =
                    |at| crate::runs::phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, at);
                phase(before).status != "completed"
                    && phase(self.now).conclusion == Some(crate::runs::Conclusion::Success)
            })
            .filter(|run| {
                self.repo(&run.owner, &run.repo).is_some_and(|repo| {
                    repo.workflows
                        .iter()
                        .any(|w| w.id == run.workflow_id && w.spec.path == crate::lockfile::WORKFLOW_PATH)
                })
            })
            .map(|run| (run.owner.clone(), run.repo.clone(), run.head_branch.clone(), run.inputs.clone()))
            .collect();
        for (action, owner, name, body) in events {
            self.emit("workflow_run", Some(action), &owner, &name, serde_json::json!({"workflow_run": body}));
        }
        for (owner, name, branch, inputs) in lockfile_runs {
            self.commit_lockfile(&owner, &name, &branch, &inputs);
        }
    }

    /// What a successful run of the lockfile-update workflow does: commits the lockfile consistent with the
    /// branch's manifest (see [`crate::lockfile`]) to the branch, as `github-actions[bot]`, unless it is so already.
    fn commit_lockfile(&mut self, owner: &str, name: &str, branch: &str, inputs: &BTreeMap<String, String>) {
        let now = self.now;
        let Some(repo) = self.repo_mut(owner, name) else { return };
        let Some(files) = repo.files_at(branch) else { return };
        let Some((path, content)) = crate::lockfile::regenerate(files, inputs) else { return };
        if files.get(&path) == Some(&content) {
            return;
        }
        let Some(parent) = repo.branches.get(branch).cloned() else { return };
        let mut files = files.clone();
        files.insert(path, content);
        let tree = repo.store_tree(files);
        let message = format!(
            "Update the lockfile for {} {}",
            inputs.get("package").filter(|p| !p.is_empty()).map(String::as_str).unwrap_or("the manifest"),
            inputs.get("version").map(String::as_str).unwrap_or_default()
        );
        let sha = repo.store_commit(&tree, vec![parent.clone()], message.trim_end(), "github-actions[bot]", now);
        repo.set_branch(branch, &sha, now);
        self.emit_push(owner, name, branch, Some(&parent), &sha);
    }

    /// The `graphql` budget of a budget key, rolled to now.
    pub fn graphql_budget(&mut self, key: &str) -> &mut Budget {
        let (now, limit) = (self.now, self.graphql_default_limit);
        let budget = self.graphql_budgets.entry(key.to_string()).or_insert_with(|| Budget::fresh(limit, now));
        budget.roll(now);
        budget
    }

    /// The budget of a budget key (see [`SimState::budgets`]), rolled to now.
    pub fn budget(&mut self, credential: &str) -> &mut Budget {
        let (now, limit) = (self.now, self.default_limit);
        let budget = self.budgets.entry(credential.to_string()).or_insert_with(|| Budget::fresh(limit, now));
        budget.roll(now);
        budget
    }
}
