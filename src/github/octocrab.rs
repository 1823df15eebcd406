//! [`GitHub`] over octocrab: URLs and JSON in, our domain types out. The request pipeline lives in
//! [`super::transport`]; pull requests and dispatch dedupe in [`super::writes`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use http::Method;
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Credentials;
use super::error::{Error, Result};
use super::hook_deliveries::HookDeliveryPage;
use super::observe::RequestObserver;
use super::permissions::{Granted, Operation};
use super::rate_limit::RateBudget;
use super::transport::{Repeat, Sleeper, TokioSleeper, Transport, TransportPolicy};
use super::types::*;
use super::GitHub;
use crate::clock::{Clock, SystemClock};

/// How a dispatch whose answer was lost is looked up before it is re-sent.
#[derive(Clone, Debug)]
pub struct DispatchPolicy {
    /// Sends of one dispatch, the first included.
    pub max_sends: u32,
    /// Look-ups after an ambiguous failure before concluding the run does not exist: GitHub lists a dispatched run
    /// only seconds after the dispatch (more under load), so the look-ups span 20 s by default, twice the
    /// simulator's default listing delay of at most 10 s.
    pub grace_checks: u32,
    /// Pause between look-ups.
    pub grace_interval: Duration,
    /// How far before "now" a looked-up run may have been created (covers clock skew with GitHub).
    pub lookback: Duration,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        DispatchPolicy {
            max_sends: 4,
            grace_checks: 5,
            grace_interval: Duration::from_secs(5),
            lookback: Duration::from_secs(10 * 60),
        }
    }
}

/// Where and how to reach GitHub.
#[derive(Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, `https://HOST/api/v3` (Enterprise Server) or a simulator's URL.
    pub base_url: String,
    /// The credential.
    pub credentials: Credentials,
    /// Pipeline knobs.
    pub policy: TransportPolicy,
    /// Dispatch dedupe knobs.
    pub dispatch: DispatchPolicy,
    /// Told of every exchange and budget (the operator's metrics), when set.
    pub observer: Option<Arc<dyn RequestObserver>>,
    /// `X-GitHub-Api-Version` of every request: [`super::API_VERSION`], or [`super::API_VERSION_2022_11_28`] for an
    /// older GitHub Enterprise Server.
    pub api_version: String,
}

impl std::fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .field("dispatch", &self.dispatch)
            .field("observer", &self.observer.is_some())
            .field("api_version", &self.api_version)
            .finish()
    }
}

impl GitHubConfig {
    /// Defaults for `base_url` and `credentials`: on an Enterprise Server (`…/api/v3`), REST API version
    /// [`super::API_VERSION_2022_11_28`], the one every release with dated versions knows (a newer one is a 400 on
    /// every request there); [`super::API_VERSION`] elsewhere.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        let base_url = base_url.into();
        let api_version = match is_enterprise_server(&base_url) {
            true => super::API_VERSION_2022_11_28,
            false => super::API_VERSION,
        };
        GitHubConfig {
            base_url,
            credentials,
            policy: TransportPolicy::default(),
            dispatch: DispatchPolicy::default(),
            observer: None,
            api_version: api_version.to_owned(),
        }
    }
}

/// The scheme and host of an API URL, octocrab's base URI: every URL we send is absolute, and octocrab puts its base
/// URI's path in front of any path outside it, which would send an Enterprise Server's GraphQL (`/api/graphql`,
/// beside its REST base `/api/v3`) to `/api/v3/api/graphql`.
fn origin_of(base_url: &str) -> Option<String> {
    let uri: http::Uri = base_url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// Whether an API URL is an Enterprise Server's (`https://HOST/api/v3`).
pub fn is_enterprise_server(base_url: &str) -> bool {
    base_url.trim_end_matches('/').ends_with("/api/v3")
}

/// The octocrab-backed [`GitHub`].
#[derive(Debug)]
pub struct OctocrabGitHub {
    pub(super) transport: Transport,
    pub(super) dispatch: DispatchPolicy,
    /// Set once the server refused `return_run_details` (an older GitHub Enterprise Server): not sent again.
    pub(super) run_details_refused: std::sync::atomic::AtomicBool,
    /// Set once GitHub refused `hasVulnerabilityAlertsEnabled` in the runs query to this credential: not asked again.
    pub(super) vulnerability_alerts_refused: std::sync::atomic::AtomicBool,
}

impl OctocrabGitHub {
    /// A client on the system clock and tokio's timer.
    pub fn new(config: GitHubConfig) -> Result<Self> {
        Self::with_time(config, Arc::new(SystemClock), Arc::new(TokioSleeper))
    }

    /// A client with an injected clock and sleeper.
    pub fn with_time(config: GitHubConfig, clock: Arc<dyn Clock>, sleeper: Arc<dyn Sleeper>) -> Result<Self> {
        let config_error = |e: octocrab::Error| Error::Config { message: format!("octocrab client: {e}") };
        let base = config.base_url.trim_end_matches('/').to_string();
        let origin = origin_of(&base).ok_or_else(|| Error::Config { message: format!("{base:?} is not a URL") })?;
        let client =
            octocrab::Octocrab::builder().base_uri(origin).map_err(config_error)?.build().map_err(config_error)?;
        let transport = Transport::new(client, &base, config.credentials, clock, sleeper, config.policy)
            .with_observer(config.observer)
            .with_api_version(config.api_version);
        Ok(OctocrabGitHub {
            transport,
            dispatch: config.dispatch,
            run_details_refused: Default::default(),
            vulnerability_alerts_refused: Default::default(),
        })
    }

    /// The last primary budget GitHub reported on a response (no request).
    pub fn last_budget(&self) -> Option<RateBudget> {
        self.transport.last_budget()
    }

    pub(super) fn repo_url(&self, repo: &RepoRef, rest: &str) -> String {
        self.transport.url(&format!("/repos/{}/{}{rest}", encode(&repo.owner), encode(&repo.name)))
    }

    pub(super) async fn get_json(&self, url: &str) -> Result<Value> {
        self.transport.get(url).await?.json(url)
    }

    pub(super) async fn write(&self, method: Method, url: &str, body: &Value, repeat: Repeat) -> Result<Value> {
        let reply = self.transport.send(method, url, Some(body), repeat).await?;
        if reply.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        reply.json(url)
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a path, keeping its `/` separators.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// Whether `title` contains `token` delimited by anything but id characters, so `abc-1` does not match `abc-12`.
pub fn title_has_token(title: &str, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let is_id = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    title.match_indices(token).any(|(i, _)| {
        let before = title[..i].chars().next_back();
        let after = title[i + token.len()..].chars().next();
        !before.is_some_and(is_id) && !after.is_some_and(is_id)
    })
}

/// Decodes GitHub's base64 (wrapped at 60 columns in contents answers).
fn decode_base64(encoded: &str, what: &str) -> Result<Vec<u8>> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| Error::Unexpected { status: 200, message: format!("content of {what} is not base64: {e}") })
}

/// Where a repository's workflows live: a commit that changes them needs the `workflows` permission.
const WORKFLOWS_DIR: &str = ".github/workflows/";

impl OctocrabGitHub {
    /// Refuses, without a request, an operation that needs a permission the installation was not granted: GitHub
    /// would answer 403 "Resource not accessible by integration" every time.
    async fn permitted(&self, operation: Operation) -> Result<()> {
        if operation.needs().is_empty() {
            return Ok(());
        }
        let Some(granted) = self.transport.granted_permissions_now().await? else { return Ok(()) };
        let missing = granted.missing_for(operation);
        if missing.is_empty() {
            return Ok(());
        }
        let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
        let message = format!("the GitHub App installation was not granted {}", missing.join(", "));
        Err(Error::Permission { status: 403, message })
    }

    /// A blob's bytes by its sha (`GET /git/blobs/{sha}`, base64; blobs up to 100 MB).
    async fn blob(&self, repo: &RepoRef, sha: &str) -> Result<Vec<u8>> {
        let v = self.get_json(&self.repo_url(repo, &format!("/git/blobs/{}", encode(sha)))).await?;
        match str_field(&v, "encoding").as_deref() {
            Some("base64") => decode_base64(&str_field(&v, "content").unwrap_or_default(), &format!("blob {sha}")),
            Some("utf-8") => Ok(str_field(&v, "content").unwrap_or_default().into_bytes()),
            other => Err(Error::Unexpected { status: 200, message: format!("blob {sha} in encoding {other:?}") }),
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(super) fn issue_from(v: &Value) -> Result<Issue> {
    let number = v
        .get("number")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Unexpected { status: 200, message: "issue without a number".into() })?;
    let labels = v
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| ls.iter().filter_map(|l| str_field(l, "name").or_else(|| l.as_str().map(str::to_string))).collect())
        .unwrap_or_default();
    Ok(Issue {
        number,
        title: str_field(v, "title").unwrap_or_default(),
        body: str_field(v, "body"),
        state: str_field(v, "state").unwrap_or_default(),
        labels,
        html_url: str_field(v, "html_url"),
    })
}

fn alert_from(source: AlertSource, v: &Value) -> SecurityAlert {
    let severity = match source {
        AlertSource::CodeScanning => {
            v.pointer("/rule/security_severity_level").or_else(|| v.pointer("/rule/severity")).and_then(Value::as_str)
        }
        AlertSource::Dependabot => v.pointer("/security_advisory/severity").and_then(Value::as_str),
        AlertSource::SecretScanning => None,
    };
    SecurityAlert {
        number: v.get("number").and_then(Value::as_u64).unwrap_or_default(),
        severity: severity.map(str::to_string),
        html_url: str_field(v, "html_url"),
        dependency: (source == AlertSource::Dependabot).then(|| dependency_from(v)).flatten(),
    }
}

/// The path segment of a security product's alert lists.
fn product_path(source: AlertSource) -> &'static str {
    match source {
        AlertSource::CodeScanning => "code-scanning",
        AlertSource::Dependabot => "dependabot",
        AlertSource::SecretScanning => "secret-scanning",
    }
}

/// A code security configuration, as far as code scanning goes.
#[derive(Deserialize, Serialize)]
struct CodeSecurityConfiguration {
    id: u64,
    /// `enabled`, `disabled` or `not_set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_scanning_default_setup: Option<String>,
}

/// A repository's attachment to a code security configuration.
#[derive(Deserialize, Serialize)]
struct Attachment {
    /// `attached`, `enforced`, `attaching`, `detached`, `failed`, ….
    status: String,
    repository: AttachedRepository,
}

#[derive(Deserialize, Serialize)]
struct AttachedRepository {
    name: String,
}

/// An alert of an organization-level list with its `repository`.
fn repo_alert_from(source: AlertSource, v: &Value) -> Result<RepoAlert> {
    let text = |pointer: &str| v.pointer(pointer).and_then(Value::as_str);
    match (text("/repository/owner/login"), text("/repository/name")) {
        (Some(owner), Some(name)) => Ok(RepoAlert { repo: RepoRef::new(owner, name), alert: alert_from(source, v) }),
        _ => Err(Error::Unexpected { status: 200, message: "an organization's alert without its repository".into() }),
    }
}

fn dependency_from(v: &Value) -> Option<VulnerableDependency> {
    let text = |pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    Some(VulnerableDependency {
        package: text("/dependency/package/name")?,
        ecosystem: text("/dependency/package/ecosystem")?,
        manifest_path: text("/dependency/manifest_path"),
        vulnerable_version_range: text("/security_vulnerability/vulnerable_version_range"),
        first_patched_version: text("/security_vulnerability/first_patched_version/identifier"),
    })
}

/// Whether a 403/404 says the security product is off rather than that we may not see it.
pub fn says_feature_disabled(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["disabled", "not enabled", "must be enabled", "no analysis found", "not available"].iter().any(|p| m.contains(p))
}

#[async_trait]
impl GitHub for OctocrabGitHub {
    async fn list_org_repos(&self, org: &str) -> Result<Vec<Repository>> {
        self.permitted(Operation::ListOrgRepos).await?;
        let url = self.transport.url(&format!("/orgs/{}/repos?type=all&per_page=100", encode(org)));
        self.transport.get_all_kept_compact(&url).await
    }

    async fn repository(&self, repo: &RepoRef) -> Result<Repository> {
        self.permitted(Operation::Repository).await?;
        let url = self.repo_url(repo, "");
        self.transport.get(&url).await?.json(&url)
    }

    async fn languages(&self, repo: &RepoRef) -> Result<Languages> {
        self.permitted(Operation::Languages).await?;
        let url = self.repo_url(repo, "/languages");
        self.transport.get(&url).await?.json(&url)
    }

    async fn topics(&self, repo: &RepoRef) -> Result<Vec<String>> {
        self.permitted(Operation::Topics).await?;
        let v = self.get_json(&self.repo_url(repo, "/topics")).await?;
        Ok(v.get("names")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    async fn branch_head(&self, repo: &RepoRef, branch: &str) -> Result<Option<String>> {
        self.permitted(Operation::BranchHead).await?;
        match self.get_json(&self.repo_url(repo, &format!("/git/ref/heads/{}", encode_path(branch)))).await {
            Ok(v) => Ok(v.pointer("/object/sha").and_then(Value::as_str).map(str::to_string)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn tree(&self, repo: &RepoRef, git_ref: &str) -> Result<Tree> {
        self.permitted(Operation::Tree).await?;
        let url = self.repo_url(repo, &format!("/git/trees/{}?recursive=1", encode_path(git_ref)));
        self.transport.get(&url).await?.json(&url)
    }

    async fn default_branch_tree(&self, repo: &RepoRef) -> Result<Tree> {
        let meta = self.repository(repo).await?;
        let branch =
            meta.default_branch.ok_or_else(|| Error::Conflict { message: format!("{repo} has no default branch") })?;
        self.tree(repo, &branch).await
    }

    async fn tree_level(&self, repo: &RepoRef, tree_sha: &str) -> Result<Tree> {
        self.permitted(Operation::TreeLevel).await?;
        let url = self.repo_url(repo, &format!("/git/trees/{}", encode(tree_sha)));
        self.transport.get(&url).await?.json(&url)
    }

    async fn repository_trees(&self, node_ids: &[String]) -> Result<Vec<Option<HeadTree>>> {
        self.permitted(Operation::RepositoryTrees).await?;
        self.graphql_trees(node_ids).await
    }

    async fn blob_texts(&self, reads: &[BlobRead]) -> Result<Vec<Option<BlobText>>> {
        self.permitted(Operation::BlobTexts).await?;
        self.graphql_files(reads).await
    }

    async fn file_contents(&self, repo: &RepoRef, path: &str, git_ref: Option<&str>) -> Result<Option<FileContents>> {
        self.permitted(Operation::FileContents).await?;
        let query = git_ref.map(|r| format!("?ref={}", encode(r))).unwrap_or_default();
        let url = self.repo_url(repo, &format!("/contents/{}{query}", encode_path(path)));
        let v = match self.get_json(&url).await {
            Ok(v) => v,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if v.get("type").and_then(Value::as_str) != Some("file") {
            return Err(Error::Unexpected { status: 200, message: format!("{path} in {repo} is not a file") });
        }
        let sha = str_field(&v, "sha").unwrap_or_default();
        let content = match str_field(&v, "encoding").as_deref() {
            // GitHub inlines files up to 1 MB; a larger one (up to 100 MB) comes with `encoding: "none"` and empty
            // content, and its blob is read instead.
            Some("none") => self.blob(repo, &sha).await?,
            _ => decode_base64(&str_field(&v, "content").unwrap_or_default(), path)?,
        };
        Ok(Some(FileContents { path: path.to_string(), sha, content }))
    }

    async fn workflows(&self, repo: &RepoRef) -> Result<Vec<Workflow>> {
        self.permitted(Operation::Workflows).await?;
        self.transport.get_all(&self.repo_url(repo, "/actions/workflows?per_page=100"), Some("workflows"), None).await
    }

    async fn default_branch_runs_batch(&self, reads: &[RunsRead]) -> Result<Vec<Option<RepositoryRuns>>> {
        self.permitted(Operation::DefaultBranchRunsBatch).await?;
        self.graphql_default_branch_runs(reads).await
    }

    async fn workflow_runs(&self, repo: &RepoRef, filter: &RunFilter) -> Result<Vec<WorkflowRun>> {
        self.permitted(Operation::WorkflowRuns).await?;
        let mut query = vec!["per_page=100".to_string()];
        if let Some(branch) = &filter.branch {
            query.push(format!("branch={}", encode(branch)));
        }
        if let Some(event) = &filter.event {
            query.push(format!("event={}", encode(event)));
        }
        if let Some(since) = filter.created_since {
            // Whole seconds: GitHub's search syntax takes ISO 8601 without fractions.
            let since = Timestamp::from_second(since.as_second()).unwrap_or(since);
            query.push(format!("created={}", encode(&format!(">={since}"))));
        }
        if let Some(sha) = &filter.head_sha {
            query.push(format!("head_sha={}", encode(sha)));
        }
        let path = match &filter.workflow {
            Some(workflow) => format!("/actions/workflows/{}/runs?{}", encode(workflow), query.join("&")),
            None => format!("/actions/runs?{}", query.join("&")),
        };
        self.transport.get_all(&self.repo_url(repo, &path), Some("workflow_runs"), filter.limit).await
    }

    async fn workflow_run(&self, repo: &RepoRef, run_id: u64) -> Result<WorkflowRun> {
        self.permitted(Operation::WorkflowRun).await?;
        let url = self.repo_url(repo, &format!("/actions/runs/{run_id}"));
        self.transport.get(&url).await?.json(&url)
    }

    async fn run_jobs(&self, repo: &RepoRef, run_id: u64) -> Result<Vec<Job>> {
        self.permitted(Operation::RunJobs).await?;
        let url = self.repo_url(repo, &format!("/actions/runs/{run_id}/jobs?per_page=100"));
        self.transport.get_all(&url, Some("jobs"), None).await
    }

    async fn open_alerts(&self, repo: &RepoRef, source: AlertSource) -> Result<Alerts> {
        self.permitted(Operation::OpenAlerts(source)).await?;
        let url = self.repo_url(repo, &format!("/{}/alerts?state=open&per_page=100", product_path(source)));
        match self.transport.get_all::<Value>(&url, None, None).await {
            Ok(alerts) => Ok(Alerts::Open(alerts.iter().map(|a| alert_from(source, a)).collect())),
            Err(Error::NotFound { message } | Error::Permission { message, .. }) if says_feature_disabled(&message) => {
                Ok(Alerts::Disabled { reason: message })
            }
            Err(e) => Err(e),
        }
    }

    async fn org_open_alerts(&self, org: &str, source: AlertSource) -> Result<Vec<RepoAlert>> {
        self.permitted(Operation::OrgOpenAlerts(source)).await?;
        // `Link` leads on by page number (code and secret scanning) or by cursor (Dependabot) alike.
        let path = format!("/orgs/{}/{}/alerts?state=open&per_page=100", encode(org), product_path(source));
        let alerts: Vec<Value> = self.transport.get_all(&self.transport.url(&path), None, None).await?;
        alerts.iter().map(|alert| repo_alert_from(source, alert)).collect()
    }

    async fn vulnerability_alerts_enabled(&self, repo: &RepoRef) -> Result<bool> {
        self.permitted(Operation::VulnerabilityAlertsEnabled).await?;
        match self.transport.get(&self.repo_url(repo, "/vulnerability-alerts")).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn automated_security_fixes_enabled(&self, repo: &RepoRef) -> Result<bool> {
        self.permitted(Operation::AutomatedSecurityFixesEnabled).await?;
        match self.get_json(&self.repo_url(repo, "/automated-security-fixes")).await {
            Ok(v) => Ok(v.get("enabled").and_then(Value::as_bool).unwrap_or(false)),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn repository_security(&self, repo: &RepoRef) -> Result<RepositorySecurity> {
        self.permitted(Operation::RepositorySecurity).await?;
        let url = self.repo_url(repo, "");
        self.transport.get(&url).await?.json(&url)
    }

    async fn code_scanning_default_setup_repositories(&self, org: &str) -> Result<Vec<String>> {
        self.permitted(Operation::CodeScanningDefaultSetupRepositories).await?;
        let org = encode(org);
        let url = self.transport.url(&format!("/orgs/{org}/code-security/configurations?per_page=100"));
        let configurations: Vec<CodeSecurityConfiguration> = self.transport.get_all_kept_compact(&url).await?;
        let mut names = Vec::new();
        for configuration in configurations {
            if configuration.code_scanning_default_setup.as_deref() != Some("enabled") {
                continue;
            }
            let path = format!(
                "/orgs/{org}/code-security/configurations/{}/repositories?per_page=100&status=attached,enforced",
                configuration.id
            );
            let attached: Vec<Attachment> = self.transport.get_all_kept_compact(&self.transport.url(&path)).await?;
            let attached = attached.into_iter().filter(|a| matches!(a.status.as_str(), "attached" | "enforced"));
            names.extend(attached.map(|a| a.repository.name));
        }
        Ok(names)
    }

    async fn issues_by_label(&self, repo: &RepoRef, labels: &[String], state: IssueState) -> Result<Vec<Issue>> {
        self.permitted(Operation::IssuesByLabel).await?;
        let state = match state {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
            IssueState::All => "all",
        };
        let url =
            self.repo_url(repo, &format!("/issues?labels={}&state={state}&per_page=100", encode(&labels.join(","))));
        let items: Vec<Value> = self.transport.get_all(&url, None, None).await?;
        // The issues API lists pull requests too.
        items.iter().filter(|i| i.get("pull_request").is_none()).map(issue_from).collect()
    }

    async fn branch_commits(&self, repo: &RepoRef, branch: &str, limit: usize) -> Result<Vec<Commit>> {
        self.permitted(Operation::BranchCommits).await?;
        let per_page = limit.clamp(1, 100);
        let url = self.repo_url(repo, &format!("/commits?sha={}&per_page={per_page}", encode(branch)));
        let items: Vec<Value> = self.transport.get_all(&url, None, Some(limit)).await?;
        Ok(items
            .iter()
            .map(|c| Commit {
                sha: str_field(c, "sha").unwrap_or_default(),
                message: c.pointer("/commit/message").and_then(Value::as_str).unwrap_or_default().to_string(),
                authored_at: c.pointer("/commit/author/date").and_then(Value::as_str).and_then(|d| d.parse().ok()),
            })
            .collect())
    }

    async fn find_run_by_correlation(
        &self,
        repo: &RepoRef,
        workflow: &str,
        correlation_id: &str,
        created_since: Timestamp,
    ) -> Result<Option<WorkflowRun>> {
        let filter = RunFilter {
            workflow: Some(workflow.to_string()),
            event: Some("workflow_dispatch".into()),
            created_since: Some(created_since),
            ..RunFilter::default()
        };
        let runs = self.workflow_runs(repo, &filter).await?;
        Ok(runs.into_iter().find(|run| title_has_token(&run.display_title, correlation_id)))
    }

    async fn app_hook_deliveries(&self, cursor: Option<&str>, per_page: u8) -> Result<HookDeliveryPage> {
        self.list_app_hook_deliveries(cursor, per_page).await
    }

    async fn redeliver_app_hook_delivery(&self, delivery_id: u64) -> Result<()> {
        self.app_hook_redeliver(delivery_id).await
    }

    fn server_time(&self) -> Option<Timestamp> {
        self.transport.server_time()
    }

    async fn rate_limit(&self) -> Result<RateBudget> {
        let v = self.get_json(&self.transport.url("/rate_limit")).await?;
        let core = v.pointer("/resources/core").unwrap_or(&Value::Null);
        let num = |k: &str| core.get(k).and_then(Value::as_u64);
        match (num("limit"), num("remaining"), core.get("reset").and_then(Value::as_i64)) {
            (Some(limit), Some(remaining), Some(reset)) => Ok(RateBudget {
                limit,
                remaining,
                reset: Timestamp::from_second(reset).unwrap_or(Timestamp::UNIX_EPOCH),
            }),
            _ => Err(Error::Unexpected { status: 200, message: "rate_limit without resources.core".into() }),
        }
    }

    fn granted_permissions(&self) -> Option<Granted> {
        self.transport.granted_permissions()
    }

    fn budget_outlook(&self) -> Vec<super::spending::BudgetOutlook> {
        self.transport.budget_outlook()
    }

    async fn dispatch_workflow(
        &self,
        repo: &RepoRef,
        workflow: &str,
        git_ref: &str,
        inputs: &std::collections::BTreeMap<String, String>,
        correlation_id: Option<&str>,
    ) -> Result<Option<DispatchedRun>> {
        self.permitted(Operation::DispatchWorkflow).await?;
        self.dispatch_deduplicated(repo, workflow, git_ref, inputs, correlation_id).await
    }

    async fn rerun_failed_jobs(&self, repo: &RepoRef, run_id: u64) -> Result<()> {
        self.permitted(Operation::RerunFailedJobs).await?;
        // Not repeated: a second re-run would start another attempt.
        let url = self.repo_url(repo, &format!("/actions/runs/{run_id}/rerun-failed-jobs"));
        self.write(Method::POST, &url, &json!({}), Repeat::Never).await.map(drop)
    }

    async fn cancel_run(&self, repo: &RepoRef, run_id: u64) -> Result<()> {
        self.permitted(Operation::CancelRun).await?;
        // Cancelling twice is harmless, so the request is repeated on transient failures.
        let url = self.repo_url(repo, &format!("/actions/runs/{run_id}/cancel"));
        self.transport.send(Method::POST, &url, None, Repeat::Safe).await.map(drop)
    }

    async fn create_issue(&self, repo: &RepoRef, fields: &IssueFields) -> Result<Issue> {
        self.permitted(Operation::CreateIssue).await?;
        let body = serde_json::to_value(IssueFields { state: None, ..fields.clone() })
            .map_err(|e| Error::decode("issue fields", e))?;
        let v = self.write(Method::POST, &self.repo_url(repo, "/issues"), &body, Repeat::Never).await?;
        issue_from(&v)
    }

    async fn update_issue(&self, repo: &RepoRef, number: u64, fields: &IssueFields) -> Result<Issue> {
        self.permitted(Operation::UpdateIssue).await?;
        // PATCH sets fields to values: repeating it is safe.
        let body = serde_json::to_value(fields).map_err(|e| Error::decode("issue fields", e))?;
        let v =
            self.write(Method::PATCH, &self.repo_url(repo, &format!("/issues/{number}")), &body, Repeat::Safe).await?;
        issue_from(&v)
    }

    async fn comment_issue(&self, repo: &RepoRef, number: u64, body: &str) -> Result<()> {
        self.permitted(Operation::CommentIssue).await?;
        let url = self.repo_url(repo, &format!("/issues/{number}/comments"));
        self.write(Method::POST, &url, &json!({ "body": body }), Repeat::Never).await.map(drop)
    }

    async fn close_issue(&self, repo: &RepoRef, number: u64) -> Result<Issue> {
        let fields = IssueFields { state: Some("closed".into()), ..IssueFields::default() };
        self.update_issue(repo, number, &fields).await
    }

    async fn enable_vulnerability_alerts(&self, repo: &RepoRef) -> Result<()> {
        self.permitted(Operation::EnableVulnerabilityAlerts).await?;
        // Turning on what is on changes nothing: safe to repeat.
        let url = self.repo_url(repo, "/vulnerability-alerts");
        self.transport.send(Method::PUT, &url, None, Repeat::Safe).await.map(drop)
    }

    async fn enable_automated_security_fixes(&self, repo: &RepoRef) -> Result<()> {
        self.permitted(Operation::EnableAutomatedSecurityFixes).await?;
        let url = self.repo_url(repo, "/automated-security-fixes");
        self.transport.send(Method::PUT, &url, None, Repeat::Safe).await.map(drop)
    }

    async fn enable_secret_scanning(&self, repo: &RepoRef) -> Result<()> {
        self.permitted(Operation::EnableSecretScanning).await?;
        let body = json!({ "security_and_analysis": { "secret_scanning": { "status": "enabled" } } });
        self.write(Method::PATCH, &self.repo_url(repo, ""), &body, Repeat::Safe).await.map(drop)
    }

    async fn open_pull_request(&self, repo: &RepoRef, change: &PullRequestChange) -> Result<PullRequest> {
        let workflow_files = change.files.iter().any(|f| f.path.starts_with(WORKFLOWS_DIR));
        self.permitted(Operation::OpenPullRequest { workflow_files }).await?;
        self.open_pull_request_idempotent(repo, change).await
    }

    async fn mark_pull_request_ready(&self, node_id: &str) -> Result<()> {
        self.permitted(Operation::MarkPullRequestReady).await?;
        self.graphql_mark_ready(node_id).await
    }

    async fn pull_request(&self, repo: &RepoRef, number: u64) -> Result<PullRequestDetails> {
        self.permitted(Operation::PullRequest).await?;
        #[derive(Deserialize)]
        struct End {
            #[serde(rename = "ref")]
            name: String,
            sha: String,
        }
        #[derive(Deserialize)]
        struct Pull {
            node_id: String,
            state: String,
            #[serde(default)]
            draft: bool,
            #[serde(default)]
            merged_at: Option<String>,
            head: End,
            base: End,
            #[serde(default)]
            auto_merge: Option<Value>,
            #[serde(default)]
            html_url: Option<String>,
        }
        let url = self.repo_url(repo, &format!("/pulls/{number}"));
        let pull: Pull = self.transport.get(&url).await?.json(&url)?;
        Ok(PullRequestDetails {
            number,
            node_id: pull.node_id,
            state: pull.state,
            draft: pull.draft,
            merged: pull.merged_at.is_some(),
            head_ref: pull.head.name,
            head_sha: pull.head.sha,
            base_ref: pull.base.name,
            auto_merge: pull.auto_merge.is_some_and(|auto| !auto.is_null()),
            html_url: pull.html_url,
        })
    }

    async fn merge_settings(&self, repo: &RepoRef) -> Result<MergeSettings> {
        self.permitted(Operation::MergeSettings).await?;
        let url = self.repo_url(repo, "");
        self.transport.get(&url).await?.json(&url)
    }

    async fn required_status_checks(&self, repo: &RepoRef, branch: &str) -> Result<Vec<String>> {
        self.permitted(Operation::RequiredStatusChecks).await?;
        let branch_url = self.repo_url(repo, &format!("/branches/{}", encode_path(branch)));
        let found = self.get_json(&branch_url).await?;
        let mut required: Vec<String> = Vec::new();
        if found.get("protected").and_then(Value::as_bool) == Some(true) {
            let checks = found.pointer("/protection/required_status_checks");
            let contexts = checks.and_then(|c| c.get("contexts")).and_then(Value::as_array).into_iter().flatten();
            let named = checks.and_then(|c| c.get("checks")).and_then(Value::as_array).into_iter().flatten();
            required.extend(contexts.filter_map(Value::as_str).map(str::to_owned));
            required.extend(named.filter_map(|check| check.get("context")?.as_str().map(str::to_owned)));
        }
        let rules_url = self.repo_url(repo, &format!("/rules/branches/{}?per_page=100", encode_path(branch)));
        let rules: Vec<Value> = self.transport.get_all(&rules_url, None, None).await?;
        for rule in
            rules.iter().filter(|rule| rule.get("type").and_then(Value::as_str) == Some("required_status_checks"))
        {
            let checks =
                rule.pointer("/parameters/required_status_checks").and_then(Value::as_array).into_iter().flatten();
            required.extend(checks.filter_map(|check| check.get("context")?.as_str().map(str::to_owned)));
        }
        required.sort();
        required.dedup();
        Ok(required)
    }

    async fn commit_checks(&self, repo: &RepoRef, sha: &str) -> Result<Vec<CommitCheck>> {
        self.permitted(Operation::CommitChecks).await?;
        let runs_url = self.repo_url(repo, &format!("/commits/{}/check-runs?per_page=100", encode(sha)));
        let runs: Vec<Value> = self.transport.get_all(&runs_url, Some("check_runs"), None).await?;
        let status_url = self.repo_url(repo, &format!("/commits/{}/status?per_page=100", encode(sha)));
        let statuses: Vec<Value> = self.transport.get_all(&status_url, Some("statuses"), None).await?;
        let text = |value: &Value, field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
        let mut checks: Vec<CommitCheck> = runs
            .iter()
            .map(|run| CommitCheck {
                name: text(run, "name").unwrap_or_default(),
                status: text(run, "status").unwrap_or_default(),
                conclusion: text(run, "conclusion"),
                is_status: false,
            })
            .collect();
        checks.extend(statuses.iter().map(|status| CommitCheck {
            name: text(status, "context").unwrap_or_default(),
            status: text(status, "state").unwrap_or_default(),
            conclusion: None,
            is_status: true,
        }));
        Ok(checks)
    }

    async fn merge_pull_request(
        &self,
        repo: &RepoRef,
        number: u64,
        head_sha: &str,
        method: MergeMethod,
    ) -> Result<String> {
        self.permitted(Operation::MergePullRequest).await?;
        let url = self.repo_url(repo, &format!("/pulls/{number}/merge"));
        // The head sha makes a repeat safe: a second merge is refused (405), never a merge of something else.
        let body = json!({ "sha": head_sha, "merge_method": method.rest() });
        #[derive(Deserialize)]
        struct Merged {
            sha: String,
        }
        let merged = self.write(Method::PUT, &url, &body, Repeat::Safe).await?;
        let merged: Merged = serde_json::from_value(merged).map_err(|error| Error::decode(url, error))?;
        Ok(merged.sha)
    }

    async fn enable_auto_merge(&self, node_id: &str, head_sha: &str, method: MergeMethod) -> Result<()> {
        self.permitted(Operation::EnableAutoMerge).await?;
        self.graphql_enable_auto_merge(node_id, head_sha, method).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octocrab_is_based_on_the_origin_only() {
        assert_eq!(origin_of("https://ghe.example.com:8443/api/v3").as_deref(), Some("https://ghe.example.com:8443"));
        assert_eq!(origin_of("https://api.github.com").as_deref(), Some("https://api.github.com"));
        assert_eq!(origin_of("api.github.com/api/v3"), None);
    }

    #[test]
    fn an_enterprise_server_is_asked_for_the_api_version_it_knows() {
        let config = |url: &str| GitHubConfig::new(url, Credentials::Token("t".into())).api_version;
        assert_eq!(config("https://ghe.example.com/api/v3"), crate::github::API_VERSION_2022_11_28);
        assert_eq!(config("https://ghe.example.com/api/v3/"), crate::github::API_VERSION_2022_11_28);
        assert_eq!(config("https://api.github.com"), crate::github::API_VERSION);
    }

    #[test]
    fn encodes_query_values_and_paths() {
        assert_eq!(encode(">=2026-01-01T00:00:00Z"), "%3E%3D2026-01-01T00%3A00%3A00Z");
        assert_eq!(encode("bug,ci failure"), "bug%2Cci%20failure");
        assert_eq!(encode_path(".github/workflows/ci.yml"), ".github/workflows/ci.yml");
        assert_eq!(encode_path("docs/a b.md"), "docs/a%20b.md");
    }

    #[test]
    fn correlation_tokens_match_whole_ids_only() {
        assert!(title_has_token("Build main io-abc-1", "io-abc-1"));
        assert!(title_has_token("[io-abc-1] build", "io-abc-1"));
        assert!(!title_has_token("Build main io-abc-12", "io-abc-1"));
        assert!(!title_has_token("Build main xio-abc-1", "io-abc-1"));
        assert!(!title_has_token("anything", ""));
    }

    #[test]
    fn feature_disabled_messages_are_recognised() {
        assert!(says_feature_disabled("Dependabot alerts are disabled for this repository."));
        assert!(says_feature_disabled("Secret scanning is disabled on this repository."));
        assert!(says_feature_disabled("Advanced Security must be enabled for this repository to use code scanning."));
        assert!(!says_feature_disabled("Resource not accessible by integration"));
    }

    #[test]
    fn an_organizations_alert_names_its_repository() {
        let v = json!({
            "number": 4, "html_url": "https://github.com/acme/api/security/dependabot/4",
            "security_advisory": {"severity": "high"},
            "dependency": {"package": {"name": "left-pad", "ecosystem": "npm"}, "manifest_path": "package-lock.json"},
            "repository": {"name": "api", "full_name": "acme/api", "owner": {"login": "acme"}},
        });
        let read = repo_alert_from(AlertSource::Dependabot, &v).unwrap();
        assert_eq!(read.repo, RepoRef::new("acme", "api"));
        assert_eq!((read.alert.number, read.alert.severity.as_deref()), (4, Some("high")));
        assert_eq!(read.alert.dependency.map(|d| d.package), Some("left-pad".to_string()));
        assert!(repo_alert_from(AlertSource::SecretScanning, &json!({"number": 1})).is_err());
    }

    #[test]
    fn issues_read_labels_as_objects_or_names() {
        let v = json!({"number": 3, "title": "t", "state": "open", "labels": [{"name": "a"}, "b"], "body": null});
        let issue = issue_from(&v).unwrap();
        assert_eq!(issue.labels, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(issue.body, None);
    }
}
