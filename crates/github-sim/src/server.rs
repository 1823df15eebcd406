//! The HTTP server: one fallback handler that applies faults, auth, rate limits, routing, ETags and logging.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;

use crate::content_creation::is_content_creating;
use crate::control;
use crate::encoding::percent_decode;
use crate::etag::{if_none_match_matches, strong_etag};
use crate::faults::{decide_next, secondary_answer, secondary_refusal, FaultConfig, FaultDecision};
use crate::fixture::{Fixture, RepoFixture};
use crate::rate_limit::{Budget, Charge};
use crate::routes::{find_route, ApiError, RouteRequest, DOCS};
use crate::state::{LoggedRequest, SimState};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Address to bind; must be loopback. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Largest GraphQL answer, in bytes of JSON, served before it is answered as GitHub's timeout (default
    /// [`crate::graphql::DEFAULT_MAX_RESPONSE_BYTES`], 5 MB).
    pub graphql_max_response_bytes: usize,
    /// Serve as GitHub Enterprise Server (see [`crate::enterprise`]): REST under `/api/v3`, GraphQL at
    /// `/api/graphql`, `X-GitHub-Enterprise-*` headers, only `2022-11-28` accepted unless the fixture lists versions.
    /// Default false: github.com.
    pub enterprise_server: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            graphql_max_response_bytes: crate::graphql::DEFAULT_MAX_RESPONSE_BYTES,
            enterprise_server: false,
        }
    }
}

/// Errors starting a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The fixture describes something the simulator cannot serve.
    #[error("invalid fixture")]
    Fixture(#[source] crate::fixture::FixtureError),
    /// Only loopback addresses are allowed.
    #[error("refusing to bind non-loopback address {0}")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Entry point.
#[derive(Debug)]
pub struct Simulator;

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    base_url: String,
    state: Arc<Mutex<SimState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<SimState>>,
    base_url: String,
    enterprise_server: bool,
}

fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Simulator {
    /// Starts serving `fixture` on `options.addr` (loopback only).
    pub async fn start(fixture: Fixture, options: SimOptions) -> Result<SimHandle, SimError> {
        if !options.addr.ip().is_loopback() {
            return Err(SimError::NotLoopback(options.addr));
        }
        fixture.validate().map_err(SimError::Fixture)?;
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|source| SimError::Bind { addr: options.addr, source })?;
        let local = listener.local_addr().map_err(|source| SimError::Bind { addr: options.addr, source })?;
        let mut initial = SimState::from_fixture(&fixture);
        let base_url = if options.enterprise_server {
            initial.enterprise_host = Some(local.to_string());
            if fixture.api_versions.is_none() {
                initial.api_versions = crate::enterprise::API_VERSIONS.iter().map(|v| v.to_string()).collect();
            }
            format!("http://{local}{}", crate::enterprise::API_PREFIX)
        } else {
            format!("http://{local}")
        };
        initial.base_url = base_url.clone();
        initial.graphql_max_response_bytes = options.graphql_max_response_bytes;
        let state = Arc::new(Mutex::new(initial));
        let shared =
            Shared { state: state.clone(), base_url: base_url.clone(), enterprise_server: options.enterprise_server };
        let app = axum::Router::new().fallback(move |request: Request<Body>| serve(shared.clone(), request));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(error) = served.await {
                tracing::error!(%error, "github-sim server stopped");
            }
        });
        Ok(SimHandle { base_url, state, shutdown: Some(tx) })
    }
}

impl SimHandle {
    /// The API URL, such as `http://127.0.0.1:41234` (`http://127.0.0.1:41234/api/v3` as an Enterprise Server).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// Advances the sim clock.
    pub fn advance_clock(&self, seconds: u64) {
        lock(&self.state).advance(i64::try_from(seconds).unwrap_or(i64::MAX / 4));
        flush_webhooks(&self.state);
    }
    /// The sim clock, epoch seconds.
    pub fn now(&self) -> i64 {
        lock(&self.state).now
    }
    /// Replaces the active faults.
    pub fn set_faults(&self, faults: FaultConfig) {
        control::set_faults(&mut lock(&self.state), faults);
    }
    /// Replaces the size limits of the git and contents APIs (truncated trees, files not inlined).
    pub fn set_git_limits(&self, limits: crate::fixture::GitLimits) {
        lock(&self.state).git_limits = limits;
    }
    /// Sets the primary budget of every credential (present and future).
    pub fn set_rate_limit(&self, limit: i64, remaining: i64, reset_in_secs: i64) {
        control::set_rate_limit(&mut lock(&self.state), limit, remaining, reset_in_secs);
    }
    /// Sets the `graphql` budget of every credential (present and future).
    pub fn set_graphql_rate_limit(&self, limit: i64, remaining: i64, reset_in_secs: i64) {
        control::set_graphql_rate_limit(&mut lock(&self.state), limit, remaining, reset_in_secs);
    }
    /// Replaces the largest GraphQL answer served before it is answered as GitHub's timeout.
    pub fn set_graphql_max_response_bytes(&self, bytes: usize) {
        lock(&self.state).graphql_max_response_bytes = bytes;
    }
    /// The request log.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state).log.clone()
    }
    /// Clears the request log.
    pub fn clear_requests(&self) {
        lock(&self.state).log.clear();
    }
    /// Creates (or replaces) a repository in `owner`.
    ///
    /// # Panics
    /// When the fixture is invalid (see [`RepoFixture::validate`]): this is test set-up, and a silently skipped
    /// issue or run would make a test pass for the wrong reason.
    pub fn add_repo(&self, owner: &str, repo: RepoFixture) {
        if let Err(error) = repo.validate() {
            panic!("github-sim: {error}");
        }
        lock(&self.state).add_repo(owner, repo);
    }
    /// Moves a repository to `new_owner`, sending a `repository` `transferred` webhook; false when it does not exist
    /// or the new owner has one of that name.
    pub fn transfer_repo(&self, owner: &str, name: &str, new_owner: &str) -> bool {
        let moved = control::transfer_repo(&mut lock(&self.state), owner, name, new_owner);
        flush_webhooks(&self.state);
        moved
    }
    /// The workflow runs of a repository, newest first, in GitHub's shape (without touching the request log).
    pub fn runs(&self, owner: &str, name: &str) -> Vec<Value> {
        let state = lock(&self.state);
        let mut runs: Vec<Value> = state
            .runs
            .iter()
            .filter(|r| r.owner == owner && r.repo == name)
            .map(|r| crate::views::run_json(&self.base_url, &state, r))
            .collect();
        runs.reverse();
        runs
    }
    /// The files on a branch (or at a commit), without touching the request log.
    pub fn files_at(
        &self,
        owner: &str,
        name: &str,
        git_ref: &str,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        lock(&self.state).repo(owner, name)?.files_at(git_ref).cloned()
    }
    /// The pull requests of a repository as `(number, head, base, state, title)`, in creation order.
    pub fn pull_requests(&self, owner: &str, name: &str) -> Vec<(u64, String, String, String, String)> {
        let state = lock(&self.state);
        state
            .pulls
            .iter()
            .filter(|p| p.owner == owner && p.repo == name)
            .map(|p| (p.number, p.head.clone(), p.base.clone(), p.state.clone(), p.title.clone()))
            .collect()
    }
    /// One pull request of a repository, whole (draft, merge and auto-merge state included).
    pub fn pull_request(&self, owner: &str, name: &str, number: u64) -> Option<crate::state::Pull> {
        let state = lock(&self.state);
        state.pulls.iter().find(|p| p.owner == owner && p.repo == name && p.number == number).cloned()
    }
    /// The issues of a repository (pull requests excluded), in creation order.
    pub fn issues(&self, owner: &str, name: &str) -> Vec<crate::state::Issue> {
        let state = lock(&self.state);
        state.issues.iter().filter(|i| i.owner == owner && i.repo == name).cloned().collect()
    }
    /// Installation tokens issued so far.
    pub fn installation_tokens_issued(&self) -> usize {
        lock(&self.state).installation_tokens.len()
    }
    /// Edits a repository (rename, archive, topics…); false when it does not exist.
    pub fn edit_repo(&self, owner: &str, name: &str, edit: control::RepoEdit) -> bool {
        let edited = control::edit_repo(&mut lock(&self.state), owner, name, edit);
        flush_webhooks(&self.state);
        edited
    }
    /// Deletes a repository; false when it did not exist.
    pub fn delete_repo(&self, owner: &str, name: &str) -> bool {
        let path = format!("/_sim/repos/{owner}/{name}");
        let (status, _) = control::handle(&mut lock(&self.state), "DELETE", &path, &Value::Null);
        flush_webhooks(&self.state);
        status == 200
    }
    /// Commits files (`None` deletes) to the default branch; the new head sha.
    pub fn commit_files(
        &self,
        owner: &str,
        name: &str,
        files: &std::collections::BTreeMap<String, Option<String>>,
        message: &str,
    ) -> Option<String> {
        let sha = control::commit_files(&mut lock(&self.state), owner, name, files, message);
        flush_webhooks(&self.state);
        sha
    }
    /// Sets the check runs and statuses a commit (a sha, or a branch's head) reports, in place of the fixture's
    /// `merge` checks, and merges the pull requests auto-merge was waiting for; false when the repository or the
    /// ref does not exist.
    pub fn set_commit_checks(
        &self,
        owner: &str,
        name: &str,
        git_ref: &str,
        checks: crate::merging::CommitChecks,
    ) -> bool {
        let set = crate::merging::set_commit_checks(&mut lock(&self.state), owner, name, git_ref, checks);
        flush_webhooks(&self.state);
        set
    }
    /// Changes how future runs of a workflow (file name; every workflow when `None`) end.
    pub fn set_outcome(
        &self,
        owner: &str,
        name: &str,
        workflow: Option<&str>,
        outcome: crate::fixture::OutcomeFixture,
    ) -> bool {
        control::set_outcome(&mut lock(&self.state), owner, name, workflow, outcome)
    }
    /// Sends webhooks to `target` from now on.
    pub fn set_webhook(&self, target: crate::webhook::WebhookTarget) {
        lock(&self.state).webhook = Some(target);
    }
    /// Stops the server.
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // A failing test shows what the simulator was asked last: CI keeps nothing else.
        if std::thread::panicking() {
            let log = lock(&self.state).log.clone();
            let tail = &log[log.len().saturating_sub(REQUESTS_SHOWN_ON_FAILURE)..];
            eprintln!("--- last {} of {} requests to the simulator at {} ---", tail.len(), log.len(), self.base_url);
            for request in tail {
                let query = request.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
                eprintln!("{} {} {}{query} -> {}", request.seq, request.method, request.url_path, request.status);
            }
            eprintln!("--- end of the simulator's requests ---");
        }
    }
}

/// Enough to see what each client was doing last, few enough to read in a CI log.
const REQUESTS_SHOWN_ON_FAILURE: usize = 60;

/// Records queued events as deliveries and sends them on a background task, recording how each attempt went.
fn flush_webhooks(state: &Arc<Mutex<SimState>>) {
    let attempts = crate::webhook::take_outbox(&mut lock(state));
    if attempts.is_empty() {
        return;
    }
    let state = state.clone();
    // Deliver in order on one task so receivers see events in the order they happened.
    tokio::spawn(async move {
        for attempt in attempts {
            let outcome = crate::webhook::deliver(&attempt.url, &attempt.headers, &attempt.body).await;
            crate::webhook::record_outcome(&mut lock(&state), attempt.id, outcome);
        }
    });
}

fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

fn credential_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    Some(token.trim().to_string())
}

/// A non-secret label for a credential in the log.
fn credential_label(token: &str) -> String {
    format!("token:{}", &hex::encode(sha2::Sha256::digest(token.as_bytes()))[..12])
}

fn json_response(status: u16, body: Option<&Value>, headers: Vec<(String, String)>) -> Response<Body> {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if body.is_some() {
        response.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    }
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// GitHub's message when a secondary limit other than content creation refuses a request.
const SECONDARY_LIMIT_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
/// GitHub's message when the content-creation limit refuses a request.
const CONTENT_CREATION_MESSAGE: &str = "You have exceeded a secondary rate limit and have been temporarily blocked \
     from content creation. Please retry your request again later.";

/// GitHub's secondary-limit body.
fn secondary_limit_body(message: &str) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    })
}

fn rate_headers(budget: &Budget) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit".into(), budget.limit.to_string()),
        ("x-ratelimit-remaining".into(), budget.remaining.to_string()),
        ("x-ratelimit-used".into(), budget.used().to_string()),
        ("x-ratelimit-reset".into(), budget.reset_at.to_string()),
        ("x-ratelimit-resource".into(), "core".into()),
    ]
}

async fn serve(shared: Shared, request: Request<Body>) -> Response<Body> {
    let control = request.uri().path().starts_with("/_sim/");
    let mut response = serve_github_or_control(shared.clone(), request).await;
    if shared.enterprise_server && !control {
        let version = HeaderValue::from_static(crate::enterprise::VERSION);
        response.headers_mut().insert("x-github-enterprise-version", version);
    }
    let now = lock(&shared.state).now;
    if let Ok(date) = HeaderValue::from_str(&crate::clock::http_date(now)) {
        response.headers_mut().insert(axum::http::header::DATE, date);
    }
    flush_webhooks(&shared.state);
    response
}

async fn serve_github_or_control(shared: Shared, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    let url_path = percent_decode(parts.uri.path());
    let raw_query = parts.uri.query().map(str::to_string);
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let body: Value =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };

    if url_path.starts_with("/_sim/") {
        let (status, reply) = control::handle(&mut lock(&shared.state), &method, &url_path, &body);
        flush_webhooks(&shared.state);
        return json_response(status, Some(&reply), Vec::new());
    }
    let path = if shared.enterprise_server {
        match crate::enterprise::route_path(&url_path) {
            Some(path) => path,
            None => return outside_the_api(&mut lock(&shared.state), &method, url_path, raw_query, &body),
        }
    } else {
        url_path
    };

    if crate::graphql::is_graphql(&method, &path) {
        // GitHub's schema takes seconds to parse the first time: never while holding the state, nor on a worker
        // thread that other requests (and an in-process test's own tasks) need.
        let _ = tokio::task::spawn_blocking(crate::graphql::schema).await;
    }
    let (decision, faults) = {
        let mut state = lock(&shared.state);
        let faults = state.faults.clone();
        let now = state.now;
        let refusal = faults.secondary_limit.and_then(|limit| secondary_refusal(&limit, &mut state.secondary, now));
        match refusal {
            Some(retry_after) => (FaultDecision::SecondaryLimit(retry_after), faults),
            None => {
                let state = &mut *state;
                (decide_next(&faults, &mut state.fault_decisions, &mut state.fault_rng, &method, &path), faults)
            }
        }
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    match decision {
        FaultDecision::Timeout => {
            // Logged before holding: a client that gives up drops the connection, and with it this handler.
            let response = {
                let mut state = lock(&shared.state);
                let response = finish(&mut state, &method, &path, raw_query, None, &body, 504, None, false, Vec::new());
                mark_fault(&mut state, "timeout", response)
            };
            tokio::time::sleep(Duration::from_secs(faults.timeout_secs.unwrap_or(30))).await;
            return response;
        }
        FaultDecision::ServerError(status) => {
            let mut state = lock(&shared.state);
            let response = finish(&mut state, &method, &path, raw_query, None, &body, status, None, false, Vec::new());
            return mark_fault(&mut state, "server_error", response);
        }
        FaultDecision::SecondaryLimit(window_left) => {
            let mut state = lock(&shared.state);
            let limit = faults.secondary_limit.unwrap_or_default();
            let answer = secondary_answer(&limit, window_left, &mut state.fault_rng);
            let mut headers: Vec<(String, String)> =
                answer.retry_after.map(|secs| ("retry-after".to_string(), secs.to_string())).into_iter().collect();
            // GitHub's answer carries the caller's primary budget (unspent): a client reads `x-ratelimit-remaining`
            // to decide how long to wait when there is no `retry-after`.
            if let Ok(caller) = authenticate(&state, &parts.headers, &method, &path) {
                if caller.app_id.is_none() {
                    headers.extend(rate_headers(state.budget(&caller.budget_key)));
                }
            }
            let message = secondary_limit_body(SECONDARY_LIMIT_MESSAGE);
            let response = finish(
                &mut state,
                &method,
                &path,
                raw_query,
                None,
                &body,
                answer.status,
                Some(message),
                false,
                headers,
            );
            return mark_fault(&mut state, "secondary_limit", response);
        }
        FaultDecision::Serve | FaultDecision::LoseResponse | FaultDecision::LateResponse => {}
    }

    let response = {
        let mut state = lock(&shared.state);
        respond(&mut state, &shared.base_url, &parts.headers, &method, &path, raw_query, &body, decision)
    };
    if decision == FaultDecision::LateResponse {
        // The work is done; only the answer is late, so a client that times out cannot tell what happened.
        tokio::time::sleep(Duration::from_secs(faults.timeout_secs.unwrap_or(30))).await;
    }
    response
}

/// An Enterprise Server's answer to a path outside its API (github.com's bare paths among them): its web UI's 404,
/// logged under the path as sent.
fn outside_the_api(
    state: &mut SimState,
    method: &str,
    url_path: String,
    raw_query: Option<String>,
    body: &Value,
) -> Response<Body> {
    let response =
        finish(state, method, &url_path, raw_query, None, body, 404, Some(ApiError::not_found().body()), false, vec![]);
    if let Some(entry) = state.log.last_mut() {
        entry.url_path = url_path;
    }
    response
}

/// Who is calling: a budget key (what the primary limit is charged to), a log label, and for App JWTs the App.
struct Caller {
    budget_key: String,
    label: String,
    app_id: Option<u64>,
}

/// Authenticates a request: an App JWT on the token-exchange route, else a plain token or an unexpired installation
/// token. The error is GitHub's 401 body.
fn authenticate(state: &SimState, headers: &HeaderMap, method: &str, path: &str) -> Result<Caller, Value> {
    let bad = |message: &str| json!({"message": message, "documentation_url": DOCS, "status": "401"});
    let credential = credential_of(headers).ok_or_else(|| bad("Requires authentication"))?;
    if crate::routes::apps::is_app_route(method, path) {
        let app_id = crate::routes::apps::verify_app_jwt(state, &credential).map_err(|message| bad(&message))?;
        return Ok(Caller {
            budget_key: format!("app:{app_id}"),
            label: format!("app:{app_id}"),
            app_id: Some(app_id),
        });
    }
    if state.tokens.contains(&credential) {
        return Ok(Caller { budget_key: credential.clone(), label: credential_label(&credential), app_id: None });
    }
    match state.installation_tokens.get(&credential) {
        Some(issued) if issued.expires_at > state.now => {
            let key = crate::state::installation_budget_key(issued.installation_id);
            Ok(Caller { label: key.clone(), budget_key: key, app_id: None })
        }
        _ => Err(bad("Bad credentials")),
    }
}

#[allow(clippy::too_many_arguments)]
fn respond(
    state: &mut SimState,
    base_url: &str,
    request_headers: &HeaderMap,
    method: &str,
    path: &str,
    raw_query: Option<String>,
    body: &Value,
    decision: FaultDecision,
) -> Response<Body> {
    let caller = match authenticate(state, request_headers, method, path) {
        Ok(caller) => caller,
        Err(message) => {
            return finish(state, method, path, raw_query, None, body, 401, Some(message), false, Vec::new())
        }
    };
    if crate::graphql::is_graphql(method, path) {
        return respond_graphql(state, &caller, method, path, raw_query, body, decision);
    }
    let (method, path) = (method.to_string(), path.to_string());
    let (body, token, label) = (body.clone(), caller.budget_key.clone(), Some(caller.label.clone()));
    let requested_version = request_headers.get("x-github-api-version").and_then(|v| v.to_str().ok());
    let api_version = match api_version_of(state.accepted_api_versions(), requested_version) {
        Ok(version) => version,
        Err(message) => {
            let response =
                finish(state, &method, &path, raw_query, label, &body, 400, Some(message), false, Vec::new());
            return with_api_version(state, requested_version, response);
        }
    };
    let now = state.now;
    // Rate-limit reads are free on GitHub, and App JWT requests have a budget of their own that we do not model.
    let is_rate_limit_route = path == "/rate_limit";
    let counted = if is_rate_limit_route || caller.app_id.is_some() {
        false
    } else if state.budget(&token).charge(now) == Charge::Exhausted {
        let budget = *state.budget(&token);
        let message = json!({
            "message": "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        });
        let headers = rate_headers(&budget);
        return finish(state, &method, &path, raw_query, label, &body, 403, Some(message), false, headers);
    } else {
        true
    };

    // The content-creation limit refuses before anything is carried out, so the client may safely send it again.
    // GitHub documents no `retry-after` on it: the client waits at least a minute.
    let creates =
        find_route(&method, &path).is_some_and(|(route, _)| is_content_creating(route.method, route.template));
    if creates && caller.app_id.is_none() {
        let limit = state.faults.content_creation.unwrap_or(state.content_creation.fixture_limit);
        if state.content_creation.admit(&token, now, limit).is_err() {
            let headers = rate_headers(state.budget(&token));
            let message = secondary_limit_body(CONTENT_CREATION_MESSAGE);
            let response = finish(state, &method, &path, raw_query, label, &body, 403, Some(message), counted, headers);
            return mark_fault(state, "content_creation", response);
        }
    }

    // An installation without the route's permission is refused (and charged), as GitHub does.
    let template = find_route(&method, &path).map(|(route, _)| route.template);
    let refusal = template.and_then(|t| crate::routes::permissions::refusal(state, &token, &method, t));
    if let Some((message, header)) = refusal {
        let mut headers = rate_headers(state.budget(&token));
        headers.push(header);
        return finish(state, &method, &path, raw_query, label, &body, 403, Some(message), counted, headers);
    }

    let query = parse_query(raw_query.as_deref());
    let (status, response_body, link) = match find_route(&method, &path) {
        None => (404, Some(ApiError::not_found().body()), None),
        Some((route, params)) => {
            let route_request = RouteRequest {
                params,
                query,
                body: body.clone(),
                base_url,
                path: &path,
                app_id: caller.app_id,
                caller: &token,
                api_version: &api_version,
            };
            match (route.handler)(state, &route_request) {
                Ok(reply) => (reply.status, reply.body, reply.link),
                Err(error) => (error.status, Some(error.body()), None),
            }
        }
    };
    let response_body = if is_rate_limit_route {
        let budget = *state.budget(&token);
        let core = json!({"limit": budget.limit, "remaining": budget.remaining, "reset": budget.reset_at, "used": budget.used(), "resource": "core"});
        let search = json!({"limit": 30, "remaining": 30, "reset": budget.reset_at, "used": 0, "resource": "search"});
        let points = *state.graphql_budget(&token);
        let graphql = json!({"limit": points.limit, "remaining": points.remaining, "reset": points.reset_at, "used": points.used(), "resource": "graphql"});
        // 2026-03-10 removed the deprecated top-level `rate` (docs: rest/about-the-rest-api/breaking-changes).
        if api_version == crate::routes::API_VERSION_2026_03_10 {
            Some(json!({"resources": {"core": core, "search": search, "graphql": graphql}}))
        } else {
            Some(json!({"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}))
        }
    } else {
        response_body
    };

    if decision == FaultDecision::LoseResponse {
        let headers = rate_headers(state.budget(&token));
        let response = finish(state, &method, &path, raw_query, label, &body, 502, None, counted, headers);
        if let Some(entry) = state.log.last_mut() {
            entry.lost_status = Some(status);
        }
        return mark_fault(state, "lost_response", response);
    }

    let mut headers = Vec::new();
    let mut counted = counted;
    let mut status = status;
    let mut response_body = response_body;
    if method == "GET" && status == 200 {
        let etag = strong_etag(response_body.as_ref().map(Value::to_string).unwrap_or_default().as_bytes());
        let matches = request_headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| if_none_match_matches(v, &etag));
        if matches {
            if counted {
                state.budget(&token).refund();
                counted = false;
            }
            status = 304;
            response_body = None;
        }
        headers.push(("etag".to_string(), etag));
    }
    if let Some(link) = link {
        headers.push(("link".to_string(), link));
    }
    if let Some(location) = (status == 201).then(|| created_location(response_body.as_ref())).flatten() {
        headers.push(("location".to_string(), location));
    }
    if caller.app_id.is_none() {
        headers.extend(rate_headers(state.budget(&token)));
    }
    let response = finish(state, &method, &path, raw_query, label, &body, status, response_body, counted, headers);
    let response = with_api_version(state, requested_version, response);
    match decision {
        FaultDecision::LateResponse => mark_fault(state, "late_response", response),
        _ => response,
    }
}

/// Answers `POST /graphql` (see [`crate::graphql`]): charged to the caller's `graphql` budget, logged with its
/// points and any conformance violations.
fn respond_graphql(
    state: &mut SimState,
    caller: &Caller,
    method: &str,
    path: &str,
    raw_query: Option<String>,
    body: &Value,
    decision: FaultDecision,
) -> Response<Body> {
    let who = match caller.budget_key.strip_prefix("installation:") {
        Some(id) => format!("installation ID {id}"),
        None => {
            let digits = caller.label.get(6..14).and_then(|hex| u64::from_str_radix(hex, 16).ok());
            format!("user ID {}", digits.unwrap_or(1))
        }
    };
    let mut answer = crate::graphql::answer(state, &caller.budget_key, &who, body);
    // Drawn only when configured, so seeds chosen before this fault existed keep their sequences.
    let rate = state.faults.graphql_timeout_rate;
    if answer.status == 200 && rate > 0.0 && state.fault_rng.f64() < rate {
        answer = crate::graphql::timed_out(answer.points, answer.violations);
    }
    let headers = crate::graphql::rate_headers(state.graphql_budget(&caller.budget_key));
    let label = Some(caller.label.clone());
    let counted = answer.points > 0;
    let lost = decision == FaultDecision::LoseResponse;
    let (status, reply) = if lost { (502, None) } else { (answer.status, Some(answer.body)) };
    let response = finish(state, method, path, raw_query, label, body, status, reply, counted, headers);
    if let Some(entry) = state.log.last_mut() {
        entry.points = answer.points;
        entry.violations = answer.violations;
        entry.lost_status = lost.then_some(answer.status);
    }
    match (answer.fault, decision) {
        (_, FaultDecision::LoseResponse) => mark_fault(state, "lost_response", response),
        (Some(fault), _) => mark_fault(state, fault, response),
        (None, FaultDecision::LateResponse) => mark_fault(state, "late_response", response),
        (None, _) => response,
    }
}

/// The API URL of what a 201 created, as GitHub sends it in `Location`: the body's `url` (issues, comments, pull
/// requests, git objects and refs) or, for a contents write, its `content.url`.
fn created_location(body: Option<&Value>) -> Option<String> {
    let body = body?;
    body.get("url").or_else(|| body.pointer("/content/url")).and_then(Value::as_str).map(str::to_string)
}

/// The API version a request gets: its `X-GitHub-Api-Version` when the server accepts it, else `2022-11-28` when
/// it sent none; an unknown version is GitHub's 400 (docs: rest/about-the-rest-api/api-versions).
fn api_version_of(accepted: &[String], requested: Option<&str>) -> Result<String, Value> {
    match requested {
        None => Ok(crate::state::DEFAULT_API_VERSION.to_string()),
        Some(version) if accepted.iter().any(|a| a == version) => Ok(version.to_string()),
        Some(version) => {
            let mut newest_first: Vec<&String> = accepted.iter().collect();
            newest_first.sort_by(|a, b| b.cmp(a));
            let listed: Vec<String> = newest_first
                .iter()
                .enumerate()
                .map(|(i, v)| if i == 0 { format!("\"{v}\" (most recent)") } else { format!("\"{v}\"") })
                .collect();
            Err(json!({
                "message": format!("The version you specified in the \"X-GitHub-Api-Version\" request header, \"{version}\", \
                    is not a supported version. The following versions are currently supported: {}.", listed.join(", ")),
                "documentation_url": DOCS,
            }))
        }
    }
}

/// Records on the last log entry the API version the request asked for.
fn with_api_version(state: &mut SimState, requested: Option<&str>, response: Response<Body>) -> Response<Body> {
    if let Some(entry) = state.log.last_mut() {
        entry.api_version = requested.map(str::to_string);
    }
    response
}

/// Records on the last log entry which fault shaped it.
fn mark_fault(state: &mut SimState, fault: &str, response: Response<Body>) -> Response<Body> {
    if let Some(entry) = state.log.last_mut() {
        entry.fault = Some(fault.to_string());
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn finish(
    state: &mut SimState,
    method: &str,
    path: &str,
    query: Option<String>,
    credential: Option<String>,
    request_body: &Value,
    status: u16,
    response_body: Option<Value>,
    counted: bool,
    headers: Vec<(String, String)>,
) -> Response<Body> {
    state.last_seq += 1;
    let entry = LoggedRequest {
        seq: state.last_seq,
        method: method.to_string(),
        path: path.to_string(),
        url_path: match state.enterprise_host {
            Some(_) => crate::enterprise::url_path(path),
            None => path.to_string(),
        },
        query,
        status,
        counted,
        points: i64::from(counted),
        violations: Vec::new(),
        credential,
        request_body: (!request_body.is_null()).then(|| request_body.clone()),
        response_body: response_body.clone(),
        started_at: crate::clock::iso8601(state.now),
        fault: None,
        lost_status: None,
        api_version: None,
    };
    state.log.push(entry);
    json_response(status, response_body.as_ref(), headers)
}

impl SimHandle {
    /// Validates every logged request and response against GitHub's OpenAPI description, and every webhook delivery
    /// against GitHub's webhooks description, and adds the violations found while serving (GraphQL queries checked
    /// against GitHub's GraphQL schema); panics listing violations (or when a description is missing).
    pub fn assert_conformant(&self) {
        let description = match crate::conformance::Description::load() {
            Ok(description) => description,
            Err(error) => panic!("GitHub's OpenAPI description is required: {error:?}"),
        };
        let requests = self.requests();
        let mut violations = description.validate_log(&requests);
        // What the simulator found while serving (a GraphQL query GitHub would reject, or that asks for something
        // not served), including a missing GraphQL schema.
        violations.extend(requests.iter().flat_map(|entry| {
            entry.violations.iter().map(move |v| format!("#{} {} {}: {v}", entry.seq, entry.method, entry.path))
        }));
        violations.extend(self.webhook_violations());
        assert!(violations.is_empty(), "{} conformance violations:\n{}", violations.len(), violations.join("\n"));
    }

    /// Violations of GitHub's webhooks description among every delivery so far; panics when the description is
    /// missing (a missing schema fails, it never skips).
    pub fn webhook_violations(&self) -> Vec<String> {
        let description = match crate::conformance::webhooks::WebhookDescription::load() {
            Ok(description) => description,
            Err(error) => panic!("GitHub's webhooks description is required: {error:?}"),
        };
        description.validate_deliveries(&self.deliveries())
    }

    /// Every webhook delivery attempt so far, oldest first (payload, event, action, guid, status, time).
    pub fn deliveries(&self) -> Vec<crate::webhook::Delivery> {
        lock(&self.state).delivery_log.clone()
    }
}
