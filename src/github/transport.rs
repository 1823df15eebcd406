//! The request pipeline every call goes through: credentials, the primary-budget gate, write pacing, a concurrency
//! cap, conditional requests, classification, and bounded retries. Built on octocrab's low-level `execute`, because
//! its typed API cannot send `If-None-Match` or hand back a 304.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{HeaderMap, Method, StatusCode};
use k8s_openapi::jiff::fmt::rfc2822::DateTimeParser;
use k8s_openapi::jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::auth::{app_jwt_claims, sign_app_jwt, Credentials, InstallationToken};
use super::cache::{CacheKey, CachedResponse, EtagCache};
use super::error::{classify, final_error, Error, Failure, ResponseFacts, Result};
use super::observe::{route_template, RequestObserver};
use super::permissions::Granted;
use super::rate_limit::{
    after, creates_content, secondary_limit_delay, until, Backoff, BudgetGate, BudgetTracker, RateBudget, RateResource,
    SecondaryLimitHint, WritePacer, OTHER_WRITES_PER_MINUTE, SECONDARY_LIMIT_MIN_WAIT,
};
use super::spending::{Answer, BudgetOutlook, Charge, SpendingLedger, DEFAULT_BACKGROUND_SHARE_PERCENT};
use crate::clock::Clock;

/// Sleeps; injected so tests can decide what waiting means.
pub trait Sleeper: Send + Sync {
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Sleeps on tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The knobs of the pipeline.
#[derive(Clone, Debug)]
pub struct TransportPolicy {
    /// Retries of transient failures.
    pub backoff: Backoff,
    /// The longest we wait for a spent primary budget to reset before failing with `RateLimited`.
    pub max_rate_limit_wait: Duration,
    /// Secondary-limit answers tolerated for one request before failing with `RateLimited`.
    pub max_secondary_hits: u32,
    /// The wait after a secondary limit that gives neither `retry-after` nor a spent budget, doubled on each repeat:
    /// GitHub's "at least one minute" ([`SECONDARY_LIMIT_MIN_WAIT`]); tests on the wall clock may shorten it.
    pub secondary_limit_min_wait: Duration,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// One attempt's deadline (headers and body).
    pub request_timeout: Duration,
    /// Bytes the ETag cache may keep.
    pub cache_bytes: usize,
    /// Content-creating requests ([`creates_content`]) per minute and per hour.
    pub writes_per_minute: usize,
    /// See `writes_per_minute`.
    pub writes_per_hour: usize,
    /// The share of each budget (percent) background work (resyncs, health reads) may spend; the rest of each
    /// window is kept for priority work.
    pub background_share_percent: u8,
}

impl Default for TransportPolicy {
    fn default() -> Self {
        TransportPolicy {
            backoff: Backoff::default(),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
            max_secondary_hits: 5,
            secondary_limit_min_wait: SECONDARY_LIMIT_MIN_WAIT,
            max_concurrency: 8,
            request_timeout: Duration::from_secs(30),
            cache_bytes: 64 * 1024 * 1024,
            writes_per_minute: 80,
            writes_per_hour: 500,
            background_share_percent: DEFAULT_BACKGROUND_SHARE_PERCENT,
        }
    }
}

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// 2xx, or 304 turned into the cached 200.
    pub status: u16,
    /// The body (the cached one after a 304).
    pub body: Arc<str>,
    /// The `Link` header.
    pub link: Option<String>,
    /// Whether the body came from the cache after a 304.
    pub revalidated: bool,
}

impl Reply {
    /// Parses the body.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| Error::decode(what, e))
    }
}

/// Who a request speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum As {
    /// The installation (its token): every repository and organization route.
    Installation,
    /// The App itself (its JWT): the `/app/...` routes.
    App,
}

/// Whether a failed attempt may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads and idempotent writes: retry transient failures.
    Safe,
    /// Writes without a dedupe key: a transient failure is returned (the caller decides).
    Never,
}

enum AttemptError {
    Secondary(SecondaryLimitHint),
    Primary,
    Unauthorized(Error),
    Transient(Error),
    Final(Error),
}

/// The pipeline, shared by every call of one credential.
pub struct Transport {
    client: octocrab::Octocrab,
    base: String,
    credentials: Credentials,
    credential_id: String,
    installation_token: tokio::sync::Mutex<Option<InstallationToken>>,
    /// The permissions the latest installation-token answer granted.
    granted: Mutex<Option<Granted>>,
    cache: Mutex<EtagCache>,
    budgets: Mutex<BudgetTracker>,
    spending: Mutex<SpendingLedger>,
    /// The latest `Date` of an answer: GitHub's clock, at least.
    server_time: Mutex<Option<Timestamp>>,
    /// Paces content-creating requests (80 a minute, 500 an hour by default).
    pacer: Mutex<WritePacer>,
    /// Paces the other writes (dispatches, re-runs, edits) to GitHub's per-minute points.
    other_writes: Mutex<WritePacer>,
    permits: Semaphore,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    policy: TransportPolicy,
    observer: Option<Arc<dyn RequestObserver>>,
    api_version: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("base", &self.base).field("credentials", &self.credentials).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn header_num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    header(headers, name).and_then(|v| v.trim().parse().ok())
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

impl Transport {
    /// A pipeline over `client` for `base` (e.g. `https://api.github.com`, `https://HOST/api/v3`).
    pub fn new(
        client: octocrab::Octocrab,
        base: &str,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
        policy: TransportPolicy,
    ) -> Self {
        Transport {
            client,
            base: base.trim_end_matches('/').to_string(),
            credential_id: credentials.id(),
            credentials,
            installation_token: tokio::sync::Mutex::new(None),
            granted: Mutex::new(None),
            cache: Mutex::new(EtagCache::new(policy.cache_bytes)),
            budgets: Mutex::new(BudgetTracker::default()),
            spending: Mutex::new(SpendingLedger::new(policy.background_share_percent)),
            server_time: Mutex::new(None),
            pacer: Mutex::new(WritePacer::new(policy.writes_per_minute, policy.writes_per_hour)),
            other_writes: Mutex::new(WritePacer::new(OTHER_WRITES_PER_MINUTE, OTHER_WRITES_PER_MINUTE * 60)),
            permits: Semaphore::new(policy.max_concurrency.max(1)),
            clock,
            sleeper,
            policy,
            observer: None,
            api_version: super::API_VERSION.to_owned(),
        }
    }

    /// Reports every exchange and budget to `observer` (the operator's metrics).
    pub fn with_observer(mut self, observer: Option<Arc<dyn RequestObserver>>) -> Self {
        self.observer = observer;
        self
    }

    /// Asks for REST API version `api_version` (`X-GitHub-Api-Version`) on every request.
    pub fn with_api_version(mut self, api_version: String) -> Self {
        self.api_version = api_version;
        self
    }

    /// The REST API version asked for.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    fn observe_exchange(&self, method: &Method, url: &str, status: Option<u16>, started: std::time::Instant) {
        tracing::debug!(%method, url, ?status, elapsed_ms = started.elapsed().as_millis(), "GitHub answered");
        if let Some(observer) = &self.observer {
            let path = url.strip_prefix(self.base.as_str()).unwrap_or(url);
            observer.exchange(method.as_str(), &route_template(path), status, started.elapsed());
        }
    }

    /// The absolute URL of an API path (`/repos/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sleeps on the injected sleeper.
    pub async fn sleep(&self, duration: Duration) {
        self.sleeper.sleep(duration).await;
    }

    /// The policy in force.
    pub fn policy(&self) -> &TransportPolicy {
        &self.policy
    }

    /// The last REST budget GitHub reported for this credential.
    pub fn last_budget(&self) -> Option<RateBudget> {
        lock(&self.budgets).budget(&self.credential_id, RateResource::Core)
    }

    /// The last GraphQL budget GitHub reported for this credential.
    pub fn last_graphql_budget(&self) -> Option<RateBudget> {
        lock(&self.budgets).budget(&self.credential_id, RateResource::GraphQL)
    }

    /// The latest time an answer's `Date` header gave: GitHub's clock is at least that now, whatever the skew
    /// between it and ours.
    pub fn server_time(&self) -> Option<Timestamp> {
        *lock(&self.server_time)
    }

    /// The GraphQL endpoint: `{base}/graphql`, except on GitHub Enterprise Server, whose REST base `…/api/v3` has its
    /// GraphQL beside it at `…/api/graphql`.
    pub fn graphql_url(&self) -> String {
        match self.base.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => self.url("/graphql"),
        }
    }

    /// One GraphQL query (`POST` of `{"query", "variables"}`), counted against the `graphql` budget and not paced
    /// as a write: a query creates nothing (the operator sends no mutation). A transient failure (a 502/504 timeout
    /// above all) is returned, not retried: a query that timed out still spent points, and the caller sends it
    /// again in smaller parts instead of whole.
    pub async fn graphql(&self, body: &serde_json::Value) -> Result<Reply> {
        let url = self.graphql_url();
        self.send_authenticated(Method::POST, &url, Some(body), Repeat::Never, As::Installation, RateResource::GraphQL)
            .await
    }

    /// A conditional GET, retried on transient failures.
    pub async fn get(&self, url: &str) -> Result<Reply> {
        self.send(Method::GET, url, None, Repeat::Safe).await
    }

    /// Every item of a paginated list; `field` names the array when GitHub wraps it (`workflow_runs`, `jobs`, …).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        url: &str,
        field: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut next = Some(url.to_string());
        while let Some(url) = next.take() {
            let reply = self.get(&url).await?;
            let page: serde_json::Value = reply.json(&url)?;
            let array = match field {
                Some(field) => page.get(field).cloned().unwrap_or(serde_json::Value::Null),
                None => page,
            };
            let page_items: Vec<T> = serde_json::from_value(array).map_err(|e| Error::decode(url.clone(), e))?;
            items.extend(page_items);
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                break;
            }
            next = reply.link.as_deref().and_then(next_link);
        }
        Ok(items)
    }

    /// Every item of a paginated list of bare items, each fresh page kept in the ETag cache as the items parsed and
    /// written again: the page of a repository listing GitHub sends is some 4 KB of JSON a repository (its URLs
    /// above all), of which the items read a tenth, and pages are kept so that an unchanged listing is answered 304.
    pub async fn get_all_kept_compact<T: DeserializeOwned + Serialize>(&self, url: &str) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut next = Some(url.to_string());
        while let Some(url) = next.take() {
            let reply = self.get(&url).await?;
            let page: Vec<T> = reply.json(&url)?;
            if !reply.revalidated {
                if let Ok(compact) = serde_json::to_string(&page) {
                    self.keep_body(&url, compact);
                }
            }
            items.extend(page);
            next = reply.link.as_deref().and_then(next_link);
        }
        Ok(items)
    }

    /// Replaces the body kept for `url`, if one is kept, by `body`.
    fn keep_body(&self, url: &str, body: String) {
        let key = CacheKey { credential: self.credential_id.clone(), url: url.to_string() };
        let mut cache = lock(&self.cache);
        if let Some(kept) = cache.get(&key) {
            cache.insert(key, CachedResponse { body: body.into(), ..kept });
        }
    }

    /// Sends one logical request, with the gate, pacing, retries and secondary-limit backoff.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<Reply> {
        self.send_authenticated(method, url, body, repeat, As::Installation, RateResource::Core).await
    }

    /// Sends one request authenticated as the App itself (its JWT), for the App's own endpoints such as
    /// `/app/hook/deliveries`; the same gate, retries and backoff as [`Transport::send`]. A token credential has no
    /// App to speak for: an auth error.
    pub async fn send_as_app(&self, method: Method, url: &str, repeat: Repeat) -> Result<Reply> {
        if !matches!(self.credentials, Credentials::App { .. }) {
            return Err(Error::Auth { message: format!("{url} needs GitHub App credentials"), source: None });
        }
        self.send_authenticated(method, url, None, repeat, As::App, RateResource::Core).await
    }

    async fn send_authenticated(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
        who: As,
        resource: RateResource,
    ) -> Result<Reply> {
        let (mut transient, mut secondary, mut primary, mut reauth) = (0u32, 0u32, 0u32, false);
        loop {
            match self.attempt(&method, url, body, who, resource).await {
                Ok(reply) => return Ok(reply),
                Err(AttemptError::Final(e)) => return Err(e),
                Err(AttemptError::Unauthorized(e)) => {
                    // An installation token can be revoked early; fetch a new one once.
                    if reauth || !matches!(self.credentials, Credentials::App { .. }) {
                        return Err(e);
                    }
                    reauth = true;
                    *self.installation_token.lock().await = None;
                }
                Err(AttemptError::Primary) => {
                    // The gate waits for the reset on the next attempt; bounded in case the reset keeps moving.
                    primary += 1;
                    if primary > 3 {
                        let budget = lock(&self.budgets).budget(&self.credential_id, resource);
                        let until = budget.map_or(self.now(), |b| b.reset);
                        return Err(Error::RateLimited { until });
                    }
                }
                // A request refused by a secondary limit was not carried out, so even a write that must not be
                // repeated (`Repeat::Never`) is sent again after the wait: no duplicate, no loss.
                Err(AttemptError::Secondary(hint)) => {
                    let min_wait = self.policy.secondary_limit_min_wait;
                    let delay = secondary_limit_delay(hint, secondary, min_wait, fastrand::f64());
                    secondary += 1;
                    if secondary > self.policy.max_secondary_hits {
                        return Err(Error::RateLimited { until: after(self.now(), delay) });
                    }
                    tracing::warn!(
                        url,
                        delay_ms = delay.as_millis() as u64,
                        "GitHub secondary rate limit; backing off"
                    );
                    self.sleep(delay).await;
                }
                Err(AttemptError::Transient(e)) => {
                    transient += 1;
                    if repeat == Repeat::Never || !self.policy.backoff.may_retry(transient) {
                        return Err(e);
                    }
                    let delay = self.policy.backoff.delay(transient - 1, fastrand::f64());
                    tracing::debug!(url, attempt = transient, error = %e, "retrying GitHub request");
                    self.sleep(delay).await;
                }
            }
        }
    }

    async fn wait_for_budget(&self, resource: RateResource) -> Result<()> {
        let max_wait = self.policy.max_rate_limit_wait;
        let gate = lock(&self.budgets).gate(&self.credential_id, resource, self.now(), max_wait);
        match gate {
            BudgetGate::Go => Ok(()),
            BudgetGate::Wait(wait) => {
                tracing::info!(wait_s = wait.as_secs(), "GitHub primary rate limit spent; waiting for the reset");
                // One wait, then send: the answer refreshes the budget either way.
                self.sleep(wait).await;
                Ok(())
            }
            BudgetGate::GiveUp(until) => Err(Error::RateLimited { until }),
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&serde_json::Value>,
        who: As,
        resource: RateResource,
    ) -> Result<Reply, AttemptError> {
        self.wait_for_budget(resource).await.map_err(AttemptError::Final)?;
        if who == As::Installation {
            let deferred = lock(&self.spending).deferred_until(resource, Charge::current().purpose, self.now());
            if let Some(until) = deferred {
                return Err(AttemptError::Final(Error::RateLimited { until }));
            }
        }
        if method != Method::GET && resource == RateResource::Core {
            let now = self.now();
            // Dispatches are not content: pacing them at 80 a minute held a BuildPlan's 81st dispatch for most of a
            // minute.
            let pacer = if creates_content(method.as_str(), url) { &self.pacer } else { &self.other_writes };
            let slot = lock(pacer).reserve(now);
            let wait = until(now, slot);
            if !wait.is_zero() {
                self.sleep(wait).await;
            }
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AttemptError::Final(Error::Config { message: format!("request permits closed: {e}") }))?;
        let authorization = match who {
            As::Installation => self.authorization().await,
            As::App => self.app_authorization(),
        };
        let authorization = authorization.map_err(|e| match e {
            Error::Transient { .. } => AttemptError::Transient(e),
            e => AttemptError::Final(e),
        })?;
        let key = CacheKey { credential: self.credential_id.clone(), url: url.to_string() };
        let cached = if method == Method::GET { lock(&self.cache).get(&key) } else { None };

        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", self.api_version.as_str())
            .header(http::header::USER_AGENT, "infinity-orchestrator")
            .header(http::header::AUTHORIZATION, authorization);
        if let Some(cached) = &cached {
            if let Some(etag) = &cached.etag {
                request = request.header(http::header::IF_NONE_MATCH, etag);
            } else if let Some(modified) = &cached.last_modified {
                request = request.header(http::header::IF_MODIFIED_SINCE, modified);
            }
        }
        let request = match body {
            Some(body) => request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(octocrab::OctoBody::from(body.to_string())),
            None => request.body(octocrab::OctoBody::empty()),
        }
        .map_err(|e| AttemptError::Final(Error::Config { message: format!("invalid request for {url}: {e}") }))?;

        let exchange = async {
            let response = self.client.execute(request).await?;
            let (status, headers) = (response.status(), response.headers().clone());
            let text = self.client.body_to_string(response).await?;
            Ok::<_, octocrab::Error>((status, headers, text))
        };
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(self.policy.request_timeout, exchange).await;
        let status = match &answer {
            Ok(Ok((status, _, _))) => Some(status.as_u16()),
            _ => None,
        };
        self.observe_exchange(method, url, status, started);
        let (status, headers, text) = match answer {
            Err(elapsed) => {
                return Err(AttemptError::Transient(Error::transient(format!("{method} {url} timed out"), elapsed)))
            }
            Ok(Err(e)) => return Err(AttemptError::Transient(Error::transient(format!("{method} {url} failed"), e))),
            Ok(Ok(answer)) => answer,
        };
        // App JWT requests have a budget of their own, not the installation's.
        self.observe_date(&headers);
        let answered = RateResource::of_answer(header(&headers, "x-ratelimit-resource").as_deref(), resource);
        if who == As::Installation {
            self.observe_budget(&headers, answered);
            // GitHub counts neither a 304 nor a look at the budget itself.
            let budget_read = url.split('?').next().is_some_and(|path| path.ends_with("/rate_limit"));
            self.record_spending(&headers, answered, status == StatusCode::NOT_MODIFIED || budget_read);
        }
        let link = header(&headers, "link");

        if status == StatusCode::NOT_MODIFIED {
            return match cached {
                Some(cached) => {
                    Ok(Reply { status: 200, body: cached.body, link: cached.link.or(link), revalidated: true })
                }
                None => Err(AttemptError::Final(Error::Unexpected {
                    status: 304,
                    message: "304 without a cached body".into(),
                })),
            };
        }
        if status.is_success() {
            let body: Arc<str> = text.into();
            if method == Method::GET {
                let response = CachedResponse {
                    etag: header(&headers, "etag"),
                    last_modified: header(&headers, "last-modified"),
                    link: link.clone(),
                    body: body.clone(),
                };
                lock(&self.cache).insert(key, response);
            }
            return Ok(Reply { status: status.as_u16(), body, link, revalidated: false });
        }
        let facts = ResponseFacts {
            status: status.as_u16(),
            retry_after_secs: header_num(&headers, "retry-after"),
            ratelimit_remaining: header_num(&headers, "x-ratelimit-remaining"),
            ratelimit_reset: header_num(&headers, "x-ratelimit-reset"),
            body: &text,
        };
        Err(match classify(&facts) {
            Failure::SecondaryLimit { retry_after_secs, reset_epoch } => {
                let reset = reset_epoch.and_then(|s| Timestamp::from_second(s).ok());
                AttemptError::Secondary(SecondaryLimitHint {
                    retry_after_secs,
                    // A reset already passed says nothing; the minimum wait applies.
                    until_reset: reset.map(|reset| until(self.now(), reset)).filter(|wait| !wait.is_zero()),
                })
            }
            Failure::PrimaryExhausted { reset_epoch } => {
                let reset = reset_epoch
                    .and_then(|s| Timestamp::from_second(s).ok())
                    .unwrap_or_else(|| after(self.now(), Duration::from_secs(60)));
                lock(&self.budgets).exhaust(&self.credential_id, answered.unwrap_or(resource), reset);
                AttemptError::Primary
            }
            Failure::Transient { status, message } => AttemptError::Transient(Error::Transient {
                message: format!("{method} {url} answered {status}: {message}"),
                source: None,
            }),
            Failure::Final { status: 401, message } => AttemptError::Unauthorized(final_error(401, message)),
            Failure::Final { status, message } => AttemptError::Final(final_error(status, message)),
        })
    }

    fn observe_date(&self, headers: &HeaderMap) {
        let date = header(headers, "date").and_then(|d| DateTimeParser::new().parse_timestamp(d.as_str()).ok());
        if let Some(date) = date {
            let mut latest = lock(&self.server_time);
            *latest = (*latest).max(Some(date));
        }
    }

    /// Records the budget an answer reports; the observer (the operator's metrics) hears of the REST one only.
    fn observe_budget(&self, headers: &HeaderMap, resource: Option<RateResource>) {
        let Some(resource) = resource else {
            return;
        };
        let limit = header_num::<u64>(headers, "x-ratelimit-limit");
        let remaining = header_num::<u64>(headers, "x-ratelimit-remaining");
        let reset = header_num::<i64>(headers, "x-ratelimit-reset").and_then(|s| Timestamp::from_second(s).ok());
        if let (Some(limit), Some(remaining), Some(reset)) = (limit, remaining, reset) {
            let budget = RateBudget { limit, remaining, reset };
            if let Some(observer) = self.observer.as_ref().filter(|_| resource == RateResource::Core) {
                observer.budget(&self.credential_id, &budget);
            }
            lock(&self.budgets).observe(&self.credential_id, resource, budget);
        }
    }

    /// Charges an answer to the current task's purpose and tells the observer.
    fn record_spending(&self, headers: &HeaderMap, resource: Option<RateResource>, free: bool) {
        let Some(resource) = resource else {
            return;
        };
        let budget = lock(&self.budgets).budget(&self.credential_id, resource);
        let answer = Answer { free, budget, used: header_num(headers, "x-ratelimit-used") };
        let (charge, now) = (Charge::current(), self.now());
        let mut spending = lock(&self.spending);
        let points = spending.record(resource, charge, now, answer);
        if let (Some(observer), Some(outlook)) = (&self.observer, spending.outlook_for(resource, now)) {
            observer.spent(&self.credential_id, charge.purpose, points, &outlook);
        }
    }

    /// The permissions the latest installation-token answer granted; `None` for a token or before the first one.
    pub fn granted_permissions(&self) -> Option<Granted> {
        lock(&self.granted).clone()
    }

    /// The permissions of the installation, exchanging the App JWT for a token first when none is cached (so that
    /// they are known before the first request); `None` for a token credential.
    pub async fn granted_permissions_now(&self) -> Result<Option<Granted>> {
        if let Credentials::Token(_) = self.credentials {
            return Ok(None);
        }
        self.authorization().await?;
        Ok(self.granted_permissions())
    }

    /// What each budget of this credential is being spent on.
    pub fn budget_outlook(&self) -> Vec<BudgetOutlook> {
        lock(&self.spending).outlook(self.now())
    }

    /// The `Authorization` header value of a request made as the App: a fresh App JWT.
    fn app_authorization(&self) -> Result<String> {
        match &self.credentials {
            Credentials::App { app_id, private_key_pem, .. } => {
                Ok(format!("Bearer {}", sign_app_jwt(private_key_pem, &app_jwt_claims(*app_id, self.now()))?))
            }
            Credentials::Token(_) => {
                Err(Error::Auth { message: "no GitHub App to authenticate as".into(), source: None })
            }
        }
    }

    /// The `Authorization` header value; for an App, a cached installation token refreshed before it expires.
    async fn authorization(&self) -> Result<String> {
        match &self.credentials {
            Credentials::Token(token) => Ok(format!("Bearer {token}")),
            Credentials::App { app_id, installation_id, private_key_pem } => {
                let mut cached = self.installation_token.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| t.is_fresh(self.now())) {
                    return Ok(format!("Bearer {}", token.token));
                }
                let jwt = sign_app_jwt(private_key_pem, &app_jwt_claims(*app_id, self.now()))?;
                let token = self.exchange_installation_token(*installation_id, &jwt).await?;
                let header = format!("Bearer {}", token.token);
                *cached = Some(token);
                Ok(header)
            }
        }
    }

    async fn exchange_installation_token(&self, installation_id: u64, jwt: &str) -> Result<InstallationToken> {
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
            expires_at: Timestamp,
            #[serde(default)]
            permissions: std::collections::BTreeMap<String, String>,
        }
        let url = self.url(&format!("/app/installations/{installation_id}/access_tokens"));
        let request = http::Request::post(&url)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", self.api_version.as_str())
            .header(http::header::USER_AGENT, "infinity-orchestrator")
            .header(http::header::AUTHORIZATION, format!("Bearer {jwt}"))
            .body(octocrab::OctoBody::empty())
            .map_err(|e| Error::Config { message: format!("invalid token request: {e}") })?;
        let exchange = async {
            let response = self.client.execute(request).await?;
            let status = response.status();
            Ok::<_, octocrab::Error>((status, self.client.body_to_string(response).await?))
        };
        let (status, text) = match tokio::time::timeout(self.policy.request_timeout, exchange).await {
            Err(elapsed) => return Err(Error::transient("installation token exchange timed out", elapsed)),
            Ok(Err(e)) => return Err(Error::transient("installation token exchange failed", e)),
            Ok(Ok(answer)) => answer,
        };
        if !status.is_success() {
            let facts = ResponseFacts { status: status.as_u16(), body: &text, ..Default::default() };
            return Err(match classify(&facts) {
                Failure::Final { status, message } => final_error(status, message),
                _ => {
                    Error::Transient { message: format!("installation token exchange answered {status}"), source: None }
                }
            });
        }
        let answer: Answer = serde_json::from_str(&text).map_err(|e| Error::decode("installation token", e))?;
        *lock(&self.granted) = Some(Granted::from_answer(&answer.permissions));
        Ok(InstallationToken { token: answer.token, expires_at: answer.expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_finds_rel_next_among_others() {
        let link = r#"<https://api.github.com/orgs/o/repos?page=3>; rel="next", <https://api.github.com/orgs/o/repos?page=9>; rel="last""#;
        assert_eq!(next_link(link).as_deref(), Some("https://api.github.com/orgs/o/repos?page=3"));
        let last = r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
    }
}
