//! A minimal scripted GitHub for the contract tests while `github-sim` does not serve these routes yet: it speaks
//! the HTTP the real `OctocrabGitHub` sends (ETags and 304s, `x-ratelimit-*`, `Link` pages, secondary limits,
//! seeded 5xx and lost responses, App installation tokens) and logs every request like the simulator's
//! `/_sim/requests`. Its clock is the test's `ManualClock`, which the test's sleeper advances.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use infinity_orchestrator::clock::{Clock, ManualClock};
use infinity_orchestrator::github::transport::Sleeper;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

/// A throwaway RSA key for App-auth tests (generated for this test bed; it signs nothing real).
pub const TEST_APP_KEY: &str = include_str!("github_test_app_key.pem");

/// One request as the stub saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Whether it spent a primary-rate-limit point.
    pub counted: bool,
    pub authorization: String,
    pub request_body: String,
}

/// Injected faults.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub seed: u64,
    /// 502 without processing.
    pub server_error_rate: f64,
    /// Processed, then 502.
    pub lost_response_rate: f64,
    /// The next N requests answer 403 secondary limit with this retry-after.
    pub secondary_next: u32,
    pub retry_after_secs: u64,
    /// The next N requests are processed, then answered only after `slow_ms` (a client timeout).
    pub slow_next: u32,
    pub slow_ms: u64,
}

#[derive(Debug)]
struct State {
    clock: Arc<ManualClock>,
    log: Vec<Logged>,
    faults: Faults,
    rng: fastrand::Rng,
    limit: u64,
    remaining: u64,
    reset: Timestamp,
    /// org → repositories.
    orgs: BTreeMap<String, Vec<Value>>,
    /// Dispatched runs, in creation order.
    runs: Vec<Value>,
    token_exchanges: u32,
    issued_token: Option<String>,
    base_url: String,
    /// One repository's git and issue state (the stub keeps one, shared by every repository).
    repo: RepoState,
}

/// Git and issue state of the stub's repository.
#[derive(Debug, Default, Clone)]
pub struct RepoState {
    /// Branch → head sha (`main` exists from the start).
    pub refs: BTreeMap<String, String>,
    /// Issues and pull requests, as GitHub lists them.
    pub issues: Vec<Value>,
    /// Pull requests.
    pub pulls: Vec<Value>,
    /// (issue number, body) of each comment.
    pub comments: Vec<(u64, String)>,
    /// Runs whose failed jobs were re-run.
    pub reruns: Vec<u64>,
    /// Runs cancelled.
    pub cancelled: Vec<u64>,
    /// Trees and commits created through the git API.
    pub git_objects: u64,
}

/// The stub's handle.
#[derive(Clone, Debug)]
pub struct GitHubStub {
    state: Arc<Mutex<State>>,
    pub base_url: String,
}

fn repo_json(org: &str, i: usize) -> Value {
    json!({
        "id": i + 1, "name": format!("repo-{i:04}"), "full_name": format!("{org}/repo-{i:04}"),
        "default_branch": "main", "archived": false, "fork": false, "private": false, "visibility": "public",
        "language": "Rust", "topics": [], "pushed_at": "2026-11-01T00:00:00Z"
    })
}

impl GitHubStub {
    /// Serves on a loopback port with `clock` as its time.
    pub async fn start(clock: Arc<ManualClock>) -> GitHubStub {
        let reset = clock.now();
        let state = Arc::new(Mutex::new(State {
            clock,
            log: Vec::new(),
            faults: Faults::default(),
            rng: fastrand::Rng::with_seed(0),
            limit: 5000,
            remaining: 5000,
            reset,
            orgs: BTreeMap::new(),
            runs: Vec::new(),
            token_exchanges: 0,
            issued_token: None,
            base_url: String::new(),
            repo: RepoState {
                refs: BTreeMap::from([("main".to_string(), "c0ffee0000000000000000000000000000000000".to_string())]),
                issues: vec![
                    json!({"number": 1, "title": "CI is red", "body": "marker", "state": "open",
                           "labels": [{"name": "infinity-orchestrator"}, {"name": "ci"}]}),
                    json!({"number": 2, "title": "a PR", "state": "open", "labels": [{"name": "ci"}],
                           "pull_request": {"url": "x"}}),
                    json!({"number": 3, "title": "other", "state": "open", "labels": [{"name": "docs"}]}),
                ],
                ..RepoState::default()
            },
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        state.lock().expect("stub state").base_url = format!("http://{addr}");
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move {
                let slow = {
                    let mut s = shared.lock().expect("stub state");
                    (s.faults.slow_next > 0).then(|| {
                        s.faults.slow_next -= 1;
                        Duration::from_millis(s.faults.slow_ms)
                    })
                };
                let response = handle(&shared, method, uri, headers, body);
                if let Some(delay) = slow {
                    tokio::time::sleep(delay).await;
                }
                response
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        GitHubStub { state, base_url: format!("http://{addr}") }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("stub state"))
    }

    /// Gives `org` `count` repositories.
    pub fn add_org(&self, org: &str, count: usize) {
        self.with(|s| s.orgs.insert(org.to_string(), (0..count).map(|i| repo_json(org, i)).collect()));
    }

    /// Sets the primary budget; it resets `reset_in` from now.
    pub fn set_budget(&self, limit: u64, remaining: u64, reset_in: Duration) {
        self.with(|s| {
            s.limit = limit;
            s.remaining = remaining;
            s.reset = add(s.clock.now(), reset_in);
        });
    }

    /// Injects faults.
    pub fn set_faults(&self, faults: Faults) {
        self.with(|s| {
            s.rng = fastrand::Rng::with_seed(faults.seed);
            s.faults = faults;
        });
    }

    /// The request log.
    pub fn requests(&self) -> Vec<Logged> {
        self.with(|s| s.log.clone())
    }

    /// Clears the request log.
    pub fn clear_requests(&self) {
        self.with(|s| s.log.clear());
    }

    /// Every dispatched run.
    pub fn runs(&self) -> Vec<Value> {
        self.with(|s| s.runs.clone())
    }

    /// The repository's git and issue state.
    pub fn repo_state(&self) -> RepoState {
        self.with(|s| s.repo.clone())
    }

    /// Installation-token exchanges answered.
    pub fn token_exchanges(&self) -> u32 {
        self.with(|s| s.token_exchanges)
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(k8s_openapi::jiff::SignedDuration::try_from(d).expect("duration")).expect("timestamp")
}

fn etag_of(body: &str) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body.as_bytes())[..8]))
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| percent_decode(v)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// What a route answers: status, body, extra headers, and whether the request changed state.
struct Answer {
    status: StatusCode,
    body: String,
    link: Option<String>,
    etag: bool,
}

fn ok(body: Value) -> Answer {
    Answer { status: StatusCode::OK, body: body.to_string(), link: None, etag: true }
}

fn status(status: StatusCode, message: &str) -> Answer {
    Answer { status, body: json!({ "message": message }).to_string(), link: None, etag: false }
}

fn handle(shared: &Mutex<State>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = shared.lock().expect("stub state");
    let now = s.clock.now();
    if s.reset <= now {
        s.remaining = s.limit;
        s.reset = add(now, Duration::from_secs(3600));
    }
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let request_body = String::from_utf8_lossy(&body).to_string();
    let mut log = Logged {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        status: 0,
        counted: false,
        authorization,
        request_body,
    };

    let rate_headers = |s: &State| {
        vec![
            ("x-ratelimit-limit", s.limit.to_string()),
            ("x-ratelimit-remaining", s.remaining.to_string()),
            ("x-ratelimit-reset", s.reset.as_second().to_string()),
        ]
    };
    let respond =
        |s: &mut State, mut log: Logged, status: StatusCode, body: String, extra: Vec<(&'static str, String)>| {
            log.status = status.as_u16();
            s.log.push(log);
            let mut response = (status, body).into_response();
            for (k, v) in rate_headers(s).into_iter().chain(extra) {
                response.headers_mut().insert(k, v.parse().expect("header value"));
            }
            response.headers_mut().insert("content-type", "application/json".parse().expect("header value"));
            response
        };

    if s.faults.secondary_next > 0 {
        s.faults.secondary_next -= 1;
        let retry = s.faults.retry_after_secs.to_string();
        let body = json!({ "message": "You have exceeded a secondary rate limit." }).to_string();
        return respond(&mut s, log, StatusCode::FORBIDDEN, body, vec![("retry-after", retry)]);
    }
    let token_route = path.starts_with("/app/installations/");
    if !token_route && path != "/rate_limit" && s.remaining == 0 {
        let body = json!({ "message": "API rate limit exceeded" }).to_string();
        return respond(&mut s, log, StatusCode::FORBIDDEN, body, vec![]);
    }
    let roll = s.rng.f64();
    if roll < s.faults.server_error_rate {
        return respond(&mut s, log, StatusCode::BAD_GATEWAY, "{}".into(), vec![]);
    }
    let lost = roll < s.faults.server_error_rate + s.faults.lost_response_rate;

    let answer = route(&mut s, &method, &path, &query, &log.authorization, &log.request_body);
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    let etag = answer.etag.then(|| etag_of(&answer.body));
    // GitHub counts every request except conditional hits and /rate_limit.
    let not_modified = answer.status == StatusCode::OK && etag.is_some() && etag == if_none_match;
    if !not_modified && !token_route && path != "/rate_limit" {
        s.remaining = s.remaining.saturating_sub(1);
        log.counted = true;
    }
    if lost {
        return respond(&mut s, log, StatusCode::BAD_GATEWAY, "{}".into(), vec![]);
    }
    let mut extra = Vec::new();
    if let Some(etag) = etag {
        extra.push(("etag", etag));
    }
    if let Some(link) = answer.link {
        extra.push(("link", link));
    }
    if not_modified {
        return respond(&mut s, log, StatusCode::NOT_MODIFIED, String::new(), extra);
    }
    respond(&mut s, log, answer.status, answer.body, extra)
}

fn route(s: &mut State, method: &Method, path: &str, query: &str, authorization: &str, body: &str) -> Answer {
    let now = s.clock.now();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["app", "installations", _, "access_tokens"] = segments.as_slice() {
        // An App JWT has three dot-separated parts.
        let jwt = authorization.strip_prefix("Bearer ").unwrap_or_default();
        if method != Method::POST || jwt.split('.').count() != 3 {
            return status(StatusCode::UNAUTHORIZED, "A JSON web token could not be decoded");
        }
        s.token_exchanges += 1;
        let token = format!("ghs_stub_{}", s.token_exchanges);
        s.issued_token = Some(token.clone());
        let expires_at = add(now, Duration::from_secs(3600));
        return Answer {
            status: StatusCode::CREATED,
            body: json!({ "token": token, "expires_at": expires_at.to_string() }).to_string(),
            link: None,
            etag: false,
        };
    }
    let authorized = authorization == "Bearer test-token"
        || s.issued_token.as_deref().is_some_and(|t| authorization == format!("Bearer {t}"));
    if !authorized {
        return status(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["rate_limit"]) => Answer {
            status: StatusCode::OK,
            body: json!({ "resources": { "core": {
                "limit": s.limit, "remaining": s.remaining, "reset": s.reset.as_second(), "used": s.limit - s.remaining
            } } })
            .to_string(),
            link: None,
            etag: false,
        },
        ("GET", ["orgs", org, "repos"]) => {
            let Some(repos) = s.orgs.get(*org) else { return status(StatusCode::NOT_FOUND, "Not Found") };
            let per_page: usize =
                query_param(query, "per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
            let page: usize = query_param(query, "page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
            let items: Vec<Value> = repos.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
            let link = (page * per_page < repos.len()).then(|| {
                format!("<{}/orgs/{org}/repos?type=all&per_page={per_page}&page={}>; rel=\"next\"", s_base(s), page + 1)
            });
            Answer { status: StatusCode::OK, body: Value::Array(items).to_string(), link, etag: true }
        }
        ("GET", ["repos", owner, name]) => {
            let found = s.orgs.get(*owner).and_then(|repos| repos.iter().find(|r| r["name"] == *name)).cloned();
            found.map_or_else(|| status(StatusCode::NOT_FOUND, "Not Found"), ok)
        }
        ("POST", ["repos", _, _, "actions", "workflows", workflow, "dispatches"]) => {
            let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let correlation = parsed.pointer("/inputs/correlation_id").and_then(Value::as_str).unwrap_or_default();
            let id = s.runs.len() as u64 + 1;
            s.runs.push(json!({
                "id": id, "workflow_id": 1, "name": workflow, "display_title": format!("Build main {correlation}"),
                "head_branch": parsed["ref"], "head_sha": "0123456789abcdef", "event": "workflow_dispatch",
                "status": "queued", "conclusion": null, "run_attempt": 1, "created_at": now.to_string(),
            }));
            Answer { status: StatusCode::NO_CONTENT, body: String::new(), link: None, etag: false }
        }
        ("GET", ["repos", _, _, "actions", "workflows", _, "runs"]) => {
            let event = query_param(query, "event");
            let mut runs: Vec<Value> =
                s.runs.iter().filter(|r| event.as_deref().is_none_or(|e| r["event"] == e)).cloned().collect();
            runs.reverse();
            ok(json!({ "total_count": runs.len(), "workflow_runs": runs }))
        }
        _ => repo_route(s, method.as_str(), &segments, query, body),
    }
}

fn created(body: Value) -> Answer {
    Answer { status: StatusCode::CREATED, body: body.to_string(), link: None, etag: false }
}

/// Routes under `/repos/{owner}/{repo}/` that read or change [`RepoState`].
fn repo_route(s: &mut State, method: &str, segments: &[&str], query: &str, body: &str) -> Answer {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let rest = match segments {
        ["repos", _, _, rest @ ..] => rest,
        _ => return status(StatusCode::NOT_FOUND, "Not Found"),
    };
    let repo = &mut s.repo;
    match (method, rest) {
        ("GET", ["languages"]) => ok(json!({ "Rust": 12000, "Shell": 300 })),
        ("GET", ["topics"]) => ok(json!({ "names": ["ci", "rust"] })),
        ("GET", ["git", "ref", "heads", branch @ ..]) => match repo.refs.get(&branch.join("/")) {
            Some(sha) => ok(
                json!({ "ref": format!("refs/heads/{}", branch.join("/")), "object": { "sha": sha, "type": "commit" } }),
            ),
            None => status(StatusCode::NOT_FOUND, "Not Found"),
        },
        ("GET", ["git", "trees", _]) => ok(json!({ "sha": "7ree", "truncated": false, "tree": [
            { "path": "Cargo.toml", "type": "blob", "sha": "b1", "size": 20, "mode": "100644" },
            { "path": ".github", "type": "tree", "sha": "t1", "mode": "040000" },
            { "path": ".github/workflows/build.yml", "type": "blob", "sha": "b2", "size": 40, "mode": "100644" },
        ] })),
        ("GET", ["contents", "Cargo.toml"]) => ok(json!({
            "type": "file", "path": "Cargo.toml", "sha": "b1", "encoding": "base64",
            // "[package]\nname = \"x\"\n", wrapped like GitHub wraps base64.
            "content": "W3BhY2thZ2VdCm5h\nbWUgPSAieCIK\n",
        })),
        ("GET", ["contents", ..]) => status(StatusCode::NOT_FOUND, "Not Found"),
        ("GET", ["actions", "workflows"]) => ok(json!({ "total_count": 1, "workflows": [
            { "id": 1, "name": "Build", "path": ".github/workflows/build.yml", "state": "active" }
        ] })),
        ("GET", ["actions", "runs", id]) => {
            let found = s.runs.iter().find(|r| r["id"].as_u64().is_some_and(|n| id.parse() == Ok(n))).cloned();
            found.map_or_else(|| status(StatusCode::NOT_FOUND, "Not Found"), ok)
        }
        ("GET", ["actions", "runs", _, "jobs"]) => ok(json!({ "total_count": 2, "jobs": [
            { "id": 11, "name": "build", "status": "completed", "conclusion": "success" },
            { "id": 12, "name": "test", "status": "completed", "conclusion": "failure" },
        ] })),
        ("POST", ["actions", "runs", id, "rerun-failed-jobs"]) => {
            repo.reruns.push(id.parse().unwrap_or_default());
            created(json!({}))
        }
        ("POST", ["actions", "runs", id, "cancel"]) => {
            repo.cancelled.push(id.parse().unwrap_or_default());
            Answer { status: StatusCode::ACCEPTED, body: "{}".into(), link: None, etag: false }
        }
        ("GET", ["code-scanning", "alerts"]) => {
            status(StatusCode::FORBIDDEN, "Advanced Security must be enabled for this repository to use code scanning.")
        }
        ("GET", ["dependabot", "alerts"]) => ok(json!([
            { "number": 4, "state": "open", "security_advisory": { "severity": "high" }, "html_url": "https://x/4" }
        ])),
        ("GET", ["secret-scanning", "alerts"]) => {
            status(StatusCode::NOT_FOUND, "Secret scanning is disabled on this repository.")
        }
        ("GET", ["issues"]) => {
            let labels = query_param(query, "labels").unwrap_or_default();
            let wanted: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
            let has = |issue: &Value, label: &str| {
                issue["labels"].as_array().is_some_and(|ls| ls.iter().any(|l| l["name"] == label))
            };
            let items: Vec<Value> = repo.issues.iter().filter(|i| wanted.iter().all(|l| has(i, l))).cloned().collect();
            ok(Value::Array(items))
        }
        ("POST", ["issues"]) => {
            let number = repo.issues.len() as u64 + 1;
            let labels: Vec<Value> =
                parsed["labels"].as_array().cloned().unwrap_or_default().iter().map(|l| json!({ "name": l })).collect();
            let issue = json!({ "number": number, "title": parsed["title"], "body": parsed["body"], "state": "open", "labels": labels });
            repo.issues.push(issue.clone());
            created(issue)
        }
        ("PATCH", ["issues", number]) => {
            let Some(issue) =
                repo.issues.iter_mut().find(|i| i["number"].as_u64().is_some_and(|n| number.parse() == Ok(n)))
            else {
                return status(StatusCode::NOT_FOUND, "Not Found");
            };
            for field in ["title", "body", "state"] {
                if let Some(v) = parsed.get(field) {
                    issue[field] = v.clone();
                }
            }
            ok(issue.clone())
        }
        ("POST", ["issues", number, "comments"]) => {
            repo.comments
                .push((number.parse().unwrap_or_default(), parsed["body"].as_str().unwrap_or_default().to_string()));
            created(json!({ "id": repo.comments.len(), "body": parsed["body"] }))
        }
        ("GET", ["commits"]) => ok(json!([
            { "sha": "c0ffee0000000000000000000000000000000000", "commit": { "message": "second", "author": { "date": "2026-11-02T00:00:00Z" } } },
            { "sha": "beef000000000000000000000000000000000000", "commit": { "message": "first", "author": { "date": "2026-11-01T00:00:00Z" } } },
        ])),
        ("GET", ["pulls"]) => {
            let head = query_param(query, "head").unwrap_or_default();
            let branch = head.split_once(':').map(|(_, b)| b.to_string()).unwrap_or(head);
            let open: Vec<Value> = repo
                .pulls
                .iter()
                .filter(|p| p["head"]["ref"] == branch.as_str() && p["state"] == "open")
                .cloned()
                .collect();
            ok(Value::Array(open))
        }
        ("GET", ["git", "commits", sha]) => ok(json!({ "sha": sha, "tree": { "sha": "7ree" } })),
        ("POST", ["git", "trees"]) | ("POST", ["git", "commits"]) => {
            repo.git_objects += 1;
            created(json!({ "sha": format!("{:040x}", repo.git_objects) }))
        }
        ("POST", ["git", "refs"]) => {
            let name = parsed["ref"].as_str().unwrap_or_default().trim_start_matches("refs/heads/").to_string();
            if repo.refs.contains_key(&name) {
                return status(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
            }
            repo.refs.insert(name, parsed["sha"].as_str().unwrap_or_default().to_string());
            created(json!({ "ref": parsed["ref"], "object": { "sha": parsed["sha"] } }))
        }
        ("POST", ["pulls"]) => {
            if repo.pulls.iter().any(|p| p["head"]["ref"] == parsed["head"] && p["state"] == "open") {
                return status(StatusCode::UNPROCESSABLE_ENTITY, "A pull request already exists");
            }
            let number = 100 + repo.pulls.len() as u64;
            let pull = json!({ "number": number, "state": "open", "html_url": format!("https://x/pull/{number}"),
                               "head": { "ref": parsed["head"] }, "base": { "ref": parsed["base"] }, "title": parsed["title"] });
            repo.pulls.push(pull.clone());
            created(pull)
        }
        _ => status(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn s_base(s: &State) -> String {
    s.base_url.clone()
}

/// Advances the shared clock instead of waiting, and records each wait.
#[derive(Debug)]
pub struct RecordingSleeper {
    clock: Arc<ManualClock>,
    sleeps: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// A sleeper moving `clock`.
    pub fn new(clock: Arc<ManualClock>) -> Arc<Self> {
        Arc::new(RecordingSleeper { clock, sleeps: Mutex::new(Vec::new()) })
    }

    /// Every wait asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("sleeps").clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().expect("sleeps").push(duration);
        self.clock.advance(duration);
        Box::pin(async {})
    }
}
