//! Rate-limit accounting, write pacing and backoff schedules: pure logic, no I/O; the transport does the waiting.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A credential's primary budget as GitHub last reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests per window.
    pub limit: u64,
    /// Requests left in the window.
    pub remaining: u64,
    /// When the window resets.
    pub reset: Timestamp,
}

/// What to do before sending a request on a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetGate {
    /// Send now.
    Go,
    /// The budget is spent: wait this long (until the reset), then send.
    Wait(Duration),
    /// The budget is spent for longer than we may wait: fail with a rate-limited error until `reset`.
    GiveUp(Timestamp),
}

/// The budget a request spends: GitHub keeps REST's (`core`) and GraphQL's (`graphql`) apart, and names the one an
/// answer was counted against in `x-ratelimit-resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateResource {
    /// The REST API's primary budget.
    Core,
    /// The GraphQL API's budget, in points.
    GraphQL,
}

impl RateResource {
    /// The budget an answer's headers describe: the one `x-ratelimit-resource` names, the one the request was
    /// sent against when the header is absent, `None` for a budget the operator does not track (`search`, …).
    pub fn of_answer(header: Option<&str>, asked: RateResource) -> Option<RateResource> {
        match header {
            None => Some(asked),
            Some("core") => Some(RateResource::Core),
            Some("graphql") => Some(RateResource::GraphQL),
            Some(_) => None,
        }
    }
}

/// The last reported budget of each credential and resource.
#[derive(Debug, Default)]
pub struct BudgetTracker {
    budgets: HashMap<(String, RateResource), RateBudget>,
}

impl BudgetTracker {
    /// Records the `x-ratelimit-*` headers of a response sent on `credential` and counted against `resource`.
    pub fn observe(&mut self, credential: &str, resource: RateResource, budget: RateBudget) {
        self.budgets.insert((credential.to_string(), resource), budget);
    }

    /// Marks the budget spent (a 403/429 said so) until `reset`.
    pub fn exhaust(&mut self, credential: &str, resource: RateResource, reset: Timestamp) {
        let key = (credential.to_string(), resource);
        let limit = self.budgets.get(&key).map_or(0, |b| b.limit);
        self.budgets.insert(key, RateBudget { limit, remaining: 0, reset });
    }

    /// The last budget seen for `credential`'s `resource`.
    pub fn budget(&self, credential: &str, resource: RateResource) -> Option<RateBudget> {
        self.budgets.get(&(credential.to_string(), resource)).copied()
    }

    /// Whether a request against `resource` may go now; a spent budget waits for its reset, at most `max_wait`.
    pub fn gate(&self, credential: &str, resource: RateResource, now: Timestamp, max_wait: Duration) -> BudgetGate {
        match self.budgets.get(&(credential.to_string(), resource)) {
            Some(b) if b.remaining == 0 && b.reset > now => {
                let wait = until(now, b.reset);
                if wait > max_wait {
                    BudgetGate::GiveUp(b.reset)
                } else {
                    BudgetGate::Wait(wait)
                }
            }
            _ => BudgetGate::Go,
        }
    }
}

/// The non-negative duration from `now` to `then`.
pub fn until(now: Timestamp, then: Timestamp) -> Duration {
    let d = then.duration_since(now);
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

/// `now + d`, saturating.
pub fn after(now: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    now.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// Whether a request creates content on GitHub, which GitHub limits to about 80 a minute and 500 an hour whatever
/// the door (docs: rest/using-the-rest-api/rate-limits-for-the-rest-api, secondary limits): issues, comments, pull
/// requests, git objects and refs, file contents. Dispatches, re-runs and cancellations start or stop runs and
/// PATCH/DELETE edit or remove content: they count only against the per-minute points (5 each, 900 a minute).
pub fn creates_content(method: &str, url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let Some((_, in_repository)) = path.split_once("/repos/") else { return false };
    let segments: Vec<&str> = in_repository.trim_end_matches('/').split('/').collect();
    let operation = segments.get(2..).unwrap_or_default();
    matches!(
        (method, operation),
        ("POST", ["issues"] | ["issues", _, "comments"] | ["pulls"])
            | ("POST", ["git", "blobs" | "trees" | "commits" | "refs"])
            | ("PUT", ["contents", ..])
    )
}

/// Writes that do not create content may be sent this often: GitHub's 900 points a minute per REST endpoint at 5
/// points a write (docs: reusables/rest-api/secondary-rate-limit-rest-graphql).
pub const OTHER_WRITES_PER_MINUTE: usize = 900 / 5;

/// Spaces writes to caps per minute and per hour: content-creating requests to GitHub's documented 80 a minute and
/// 500 an hour, other writes to [`OTHER_WRITES_PER_MINUTE`].
#[derive(Debug)]
pub struct WritePacer {
    per_minute: usize,
    per_hour: usize,
    /// Send times reserved in the last hour, oldest first.
    sent: VecDeque<Timestamp>,
}

impl Default for WritePacer {
    fn default() -> Self {
        WritePacer::new(80, 500)
    }
}

impl WritePacer {
    /// A pacer allowing `per_minute` and `per_hour` writes.
    pub fn new(per_minute: usize, per_hour: usize) -> Self {
        WritePacer { per_minute: per_minute.max(1), per_hour: per_hour.max(1), sent: VecDeque::new() }
    }

    /// Reserves the earliest slot at or after `now` that keeps both windows within their caps, and returns it.
    /// Reservations queue: concurrent callers get successive slots.
    pub fn reserve(&mut self, now: Timestamp) -> Timestamp {
        let hour = Duration::from_secs(3600);
        let minute = Duration::from_secs(60);
        while self.sent.front().is_some_and(|t| after(*t, hour) <= now) {
            self.sent.pop_front();
        }
        let mut slot = now.max(self.sent.back().copied().unwrap_or(now));
        loop {
            let in_minute: Vec<&Timestamp> = self.sent.iter().filter(|t| after(**t, minute) > slot).collect();
            let in_hour: Vec<&Timestamp> = self.sent.iter().filter(|t| after(**t, hour) > slot).collect();
            let mut next = slot;
            if in_minute.len() >= self.per_minute {
                // The window frees up when the oldest of the last `per_minute` sends leaves it.
                next = next.max(after(*in_minute[in_minute.len() - self.per_minute], minute));
            }
            if in_hour.len() >= self.per_hour {
                next = next.max(after(*in_hour[in_hour.len() - self.per_hour], hour));
            }
            if next == slot {
                break;
            }
            slot = next;
        }
        self.sent.push_back(slot);
        slot
    }
}

/// Exponential backoff with jitter, bounded by `max_delay` and `max_attempts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// No delay exceeds this.
    pub max_delay: Duration,
    /// Total attempts, the first included.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(200), max_delay: Duration::from_secs(30), max_attempts: 5 }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (0-based), with `jitter` in [0, 1): "equal jitter", so the delay
    /// lies in [d/2, d) and retries from many workers spread out without collapsing to zero.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(20));
        let full = self.base.saturating_mul(factor).min(self.max_delay);
        let jitter = jitter.clamp(0.0, 1.0);
        full.mul_f64(0.5 + jitter / 2.0)
    }

    /// Whether another attempt is allowed after `attempts` attempts.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

/// GitHub's "wait for at least one minute" after a secondary limit that says neither how long nor until when.
pub const SECONDARY_LIMIT_MIN_WAIT: Duration = Duration::from_secs(60);

/// What a secondary-limit answer said about waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondaryLimitHint {
    /// The `retry-after` header, in seconds.
    pub retry_after_secs: Option<u64>,
    /// How long until `x-ratelimit-reset`, when `x-ratelimit-remaining` was 0.
    pub until_reset: Option<Duration>,
}

/// How long to wait after a secondary limit, in GitHub's documented order (docs: rest/using-the-rest-api/
/// rate-limits-for-the-rest-api, "Exceeding the rate limit"): `retry-after` when present; else until
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0; else at least `min_wait` (GitHub: a minute), doubling with
/// each repeated hit (`hits` before this one). Plus up to 10% jitter so workers don't return together.
pub fn secondary_limit_delay(hint: SecondaryLimitHint, hits: u32, min_wait: Duration, jitter: f64) -> Duration {
    let base = match hint {
        SecondaryLimitHint { retry_after_secs: Some(s), .. } => Duration::from_secs(s),
        SecondaryLimitHint { until_reset: Some(wait), .. } => wait,
        _ => min_wait.saturating_mul(2u32.saturating_pow(hits.min(6))),
    };
    base + base.mul_f64(jitter.clamp(0.0, 1.0) / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: RateResource = RateResource::Core;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn a_spent_budget_waits_until_the_reset_within_the_bound() {
        let mut tracker = BudgetTracker::default();
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::from_secs(60)), BudgetGate::Go);
        tracker.observe("a", CORE, RateBudget { limit: 5000, remaining: 0, reset: t(30) });
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::from_secs(60)), BudgetGate::Wait(Duration::from_secs(30)));
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::from_secs(10)), BudgetGate::GiveUp(t(30)));
        // Past the reset, send again (the response will refresh the budget).
        assert_eq!(tracker.gate("a", CORE, t(31), Duration::from_secs(10)), BudgetGate::Go);
        // Budgets are per credential.
        assert_eq!(tracker.gate("b", CORE, t(0), Duration::ZERO), BudgetGate::Go);
    }

    #[test]
    fn graphql_budget_is_kept_apart_from_rest() {
        let mut tracker = BudgetTracker::default();
        tracker.observe("a", CORE, RateBudget { limit: 5000, remaining: 4000, reset: t(30) });
        tracker.observe("a", RateResource::GraphQL, RateBudget { limit: 5000, remaining: 0, reset: t(30) });
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::from_secs(60)), BudgetGate::Go);
        let graphql = tracker.gate("a", RateResource::GraphQL, t(0), Duration::from_secs(60));
        assert_eq!(graphql, BudgetGate::Wait(Duration::from_secs(30)));
        assert_eq!(tracker.budget("a", CORE).map(|b| b.remaining), Some(4000));
        let graphql = RateResource::GraphQL;
        assert_eq!(RateResource::of_answer(Some("graphql"), CORE), Some(graphql));
        assert_eq!(RateResource::of_answer(None, graphql), Some(graphql), "the budget asked for, without a header");
        assert_eq!(RateResource::of_answer(Some("core"), graphql), Some(CORE));
        assert_eq!(RateResource::of_answer(Some("search"), CORE), None, "an untracked budget");
    }

    #[test]
    fn a_remaining_budget_goes() {
        let mut tracker = BudgetTracker::default();
        tracker.observe("a", CORE, RateBudget { limit: 5000, remaining: 1, reset: t(30) });
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::ZERO), BudgetGate::Go);
        tracker.exhaust("a", CORE, t(40));
        assert_eq!(tracker.budget("a", CORE).map(|b| (b.limit, b.remaining)), Some((5000, 0)));
        assert_eq!(tracker.gate("a", CORE, t(0), Duration::from_secs(60)), BudgetGate::Wait(Duration::from_secs(40)));
    }

    #[test]
    fn only_requests_that_create_content_are_content_creations() {
        let base = "https://api.github.com/repos/acme/core";
        assert!(creates_content("POST", &format!("{base}/issues")));
        assert!(creates_content("POST", &format!("{base}/issues/7/comments")));
        assert!(creates_content("POST", &format!("{base}/pulls")));
        assert!(creates_content("POST", &format!("{base}/git/trees")));
        assert!(creates_content("PUT", &format!("{base}/contents/.github/workflows/build.yml")));
        assert!(creates_content("POST", "https://ghes.example/api/v3/repos/acme/core/git/refs"), "under a GHES prefix");
        assert!(!creates_content("POST", &format!("{base}/actions/workflows/build.yml/dispatches")));
        assert!(!creates_content("POST", &format!("{base}/actions/runs/9/rerun-failed-jobs")));
        assert!(!creates_content("PATCH", &format!("{base}/issues/7")));
        assert!(!creates_content("GET", &format!("{base}/issues")));
        assert!(!creates_content("POST", "https://api.github.com/app/hook/deliveries/1/attempts"));
    }

    #[test]
    fn pacer_allows_80_a_minute_then_waits_for_the_window() {
        let mut pacer = WritePacer::default();
        for _ in 0..80 {
            assert_eq!(pacer.reserve(t(0)), t(0));
        }
        assert_eq!(pacer.reserve(t(0)), t(60));
        assert_eq!(pacer.reserve(t(1)), t(60));
    }

    #[test]
    fn pacer_caps_the_hour_at_500() {
        let mut pacer = WritePacer::default();
        let mut last = t(0);
        for _ in 0..500 {
            last = pacer.reserve(t(0));
        }
        // 500 writes at 80/minute fill minutes 0..6; the 501st must wait for the first to leave the hour.
        assert_eq!(last, t(360));
        assert_eq!(pacer.reserve(t(0)), t(3600));
    }

    #[test]
    fn pacer_forgets_sends_older_than_an_hour() {
        let mut pacer = WritePacer::new(1, 1);
        assert_eq!(pacer.reserve(t(0)), t(0));
        assert_eq!(pacer.reserve(t(10)), t(3600));
        assert_eq!(pacer.reserve(t(10_000)), t(10_000));
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let b = Backoff { base: Duration::from_secs(1), max_delay: Duration::from_secs(10), max_attempts: 4 };
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(0, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(10));
        assert!(b.may_retry(3));
        assert!(!b.may_retry(4));
    }

    #[test]
    fn secondary_delay_honours_retry_after_then_the_reset_else_a_growing_minute() {
        let minute = SECONDARY_LIMIT_MIN_WAIT;
        let retry_after =
            SecondaryLimitHint { retry_after_secs: Some(30), until_reset: Some(Duration::from_secs(900)) };
        assert_eq!(secondary_limit_delay(retry_after, 0, minute, 0.0), Duration::from_secs(30), "retry-after first");
        assert_eq!(secondary_limit_delay(retry_after, 3, minute, 1.0), Duration::from_secs(33));
        let spent = SecondaryLimitHint { retry_after_secs: None, until_reset: Some(Duration::from_secs(900)) };
        assert_eq!(secondary_limit_delay(spent, 0, minute, 0.0), Duration::from_secs(900), "then the reset");
        let silent = SecondaryLimitHint::default();
        assert_eq!(secondary_limit_delay(silent, 0, minute, 0.0), Duration::from_secs(60), "else a minute");
        assert_eq!(secondary_limit_delay(silent, 2, minute, 0.0), Duration::from_secs(240), "doubling on repeats");
        assert_eq!(secondary_limit_delay(silent, 1, Duration::from_secs(2), 0.0), Duration::from_secs(4));
    }
}
