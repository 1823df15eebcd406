//! The simulator's mutable world: repositories, runs, budgets, faults and the request log.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::faults::FaultConfig;
use crate::fixture::{Fixture, OutcomeFixture, OutcomeKind, RepoFixture, WorkflowFixture};
use crate::rate_limit::Budget;
use crate::runs::Conclusion;

/// GitHub's default primary limit for installations and tokens.
pub const DEFAULT_RATE_LIMIT: i64 = 5000;

/// One entry of the request log (`GET /_sim/requests`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LoggedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Whether it counted against the primary limit.
    pub counted: bool,
    /// The credential used (the token itself is not logged, only a fingerprint).
    pub credential: Option<String>,
    /// Request body as JSON.
    pub request_body: Option<Value>,
    /// Response body as JSON.
    pub response_body: Option<Value>,
    /// Sim-clock time the request arrived (ISO 8601).
    pub started_at: String,
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
}

/// A workflow with its id.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Numeric id.
    pub id: u64,
    /// The fixture description.
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
}

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

/// Everything the simulator knows.
#[derive(Debug)]
pub struct SimState {
    /// Sim clock, epoch seconds.
    pub now: i64,
    /// Org logins.
    pub orgs: Vec<String>,
    /// Repositories by (owner, name).
    pub repos: BTreeMap<(String, String), Repo>,
    /// Workflow runs, in creation order.
    pub runs: Vec<Run>,
    /// Issues, in creation order.
    pub issues: Vec<Issue>,
    /// Accepted credentials.
    pub tokens: HashSet<String>,
    /// Budget per credential.
    pub budgets: HashMap<String, Budget>,
    /// Limit for credentials first seen.
    pub default_limit: i64,
    /// The request log.
    pub log: Vec<LoggedRequest>,
    /// Sequence of the last logged request.
    pub last_seq: u64,
    /// Active faults.
    pub faults: FaultConfig,
    /// RNG behind fault decisions.
    pub fault_rng: fastrand::Rng,
    /// GitHub requests seen since faults were set.
    pub fault_request_index: u64,
    /// RNG behind flaky outcomes.
    pub outcome_rng: fastrand::Rng,
    /// The simulator's base URL, for URLs in webhook payloads.
    pub base_url: String,
    /// Where webhooks go.
    pub webhook: Option<crate::webhook::WebhookTarget>,
    /// Events waiting for delivery.
    pub outbox: Vec<crate::webhook::PendingEvent>,
    /// Deliveries so far (for delivery ids).
    pub deliveries: u64,
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
            repos: BTreeMap::new(),
            runs: Vec::new(),
            issues: Vec::new(),
            tokens: fixture.tokens.iter().cloned().collect(),
            budgets: HashMap::new(),
            default_limit: fixture.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            log: Vec::new(),
            last_seq: 0,
            faults: FaultConfig::default(),
            fault_rng: fastrand::Rng::with_seed(0),
            fault_request_index: 0,
            outcome_rng: fastrand::Rng::with_seed(fixture.seed),
            base_url: String::new(),
            webhook: None,
            outbox: Vec::new(),
            deliveries: 0,
            next_id: 1000,
        };
        for org in &fixture.orgs {
            for repo in &org.repos {
                state.add_repo(&org.login, repo.clone());
            }
        }
        state
    }

    /// A fresh id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds (or replaces) a repository.
    pub fn add_repo(&mut self, owner: &str, spec: RepoFixture) {
        let id = self.next_id();
        let workflows = spec.workflows.iter().map(|w| Workflow { id: self.next_id(), spec: w.clone() }).collect();
        let head_sha = sha_of(&format!("{owner}/{}:{:?}", spec.name, spec.files));
        let repo =
            Repo { id, owner: owner.to_string(), spec, head_sha, workflows, created_at: self.now, pushed_at: self.now };
        self.repos.insert((owner.to_string(), repo.spec.name.clone()), repo);
    }

    /// The repository, if it exists.
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&(owner.to_string(), name.to_string()))
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
                    object.insert("repository".into(), crate::routes::repos::repo_json(&base, repo));
                }
            }
            object.insert(
                "organization".into(),
                serde_json::json!({"login": owner, "id": 1, "node_id": format!("O_{owner}"),
                "url": format!("{base}/orgs/{owner}")}),
            );
            object.insert("sender".into(), crate::routes::repos::user_json(&base, "github-sim", "User"));
            object.insert(
                "installation".into(),
                serde_json::json!({"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}),
            );
        }
        self.outbox.push(crate::webhook::PendingEvent { event, payload });
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
                let body = crate::routes::actions::run_json(&base, self, run);
                events.push((action, run.owner.clone(), run.repo.clone(), body));
            }
        }
        for (action, owner, name, body) in events {
            self.emit("workflow_run", Some(action), &owner, &name, serde_json::json!({"workflow_run": body}));
        }
    }

    /// The budget of a credential, rolled to now.
    pub fn budget(&mut self, credential: &str) -> &mut Budget {
        let (now, limit) = (self.now, self.default_limit);
        let budget = self.budgets.entry(credential.to_string()).or_insert_with(|| Budget::fresh(limit, now));
        budget.roll(now);
        budget
    }
}
