//! Fault injection decided by a seeded RNG.

use serde::{Deserialize, Serialize};

/// Secondary rate limit: after `after_requests` GitHub requests, every request is answered with GitHub's
/// secondary-limit answer until `retry_after_secs` of sim time have passed; then `after_requests` more are served, and
/// so on. GitHub answers 403 or 429, with or without `retry-after` (docs: rest/using-the-rest-api/
/// rate-limits-for-the-rest-api, "Exceeding the rate limit"); `status` and `retry_after` choose, or draw per answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryLimit {
    /// Requests allowed before the limit triggers.
    pub after_requests: u32,
    /// How long the window lasts, in sim seconds; `retry-after`, when sent, counts it down.
    pub retry_after_secs: u32,
    /// `403`, `429`, or `"mixed"` (drawn per answer from the fault RNG). Default 403.
    #[serde(default = "forbidden")]
    pub status: Choice<u16>,
    /// Whether the answer carries `retry-after`: `true`, `false`, or `"mixed"`. Default true. Without it a client
    /// must wait at least a minute (or until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0); requests inside
    /// the window are refused either way.
    #[serde(default = "with_retry_after")]
    pub retry_after: Choice<bool>,
}

impl Default for SecondaryLimit {
    fn default() -> Self {
        SecondaryLimit { after_requests: 0, retry_after_secs: 60, status: forbidden(), retry_after: with_retry_after() }
    }
}

impl SecondaryLimit {
    /// Why GitHub could not give this answer, if it could not (a status other than 403 or 429).
    pub fn invalid(&self) -> Option<String> {
        match self.status {
            Choice::Always(403 | 429) | Choice::Mixed(_) => None,
            Choice::Always(other) => Some(format!("secondary_limit.status must be 403, 429 or \"mixed\", not {other}")),
        }
    }
}

fn forbidden() -> Choice<u16> {
    Choice::Always(403)
}

fn with_retry_after() -> Choice<bool> {
    Choice::Always(true)
}

/// One value always, or `"mixed"`: drawn per answer from the seeded fault RNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Choice<T> {
    /// Always this value.
    Always(T),
    /// Drawn per answer.
    Mixed(Mixed),
}

/// The word `"mixed"` in a [`Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mixed {
    /// `"mixed"`.
    Mixed,
}

/// The shape of one secondary-limit answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryAnswer {
    /// 403 or 429.
    pub status: u16,
    /// The `retry-after` header, when sent.
    pub retry_after: Option<u32>,
}

/// The answer to a request refused by `limit` with `remaining_secs` of its window left. The RNG is drawn only for a
/// `"mixed"` choice, so seeds chosen before these choices existed keep their sequences.
pub fn secondary_answer(limit: &SecondaryLimit, remaining_secs: u32, rng: &mut fastrand::Rng) -> SecondaryAnswer {
    let status = match limit.status {
        Choice::Always(429) => 429,
        Choice::Always(_) => 403,
        Choice::Mixed(_) => [403, 429][rng.usize(0..2)],
    };
    let with_header = match limit.retry_after {
        Choice::Always(sent) => sent,
        Choice::Mixed(_) => rng.bool(),
    };
    SecondaryAnswer { status, retry_after: with_header.then_some(remaining_secs) }
}

/// Body of `POST /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Seed of the fault RNG.
    pub seed: u64,
    /// The faults of the first requests after these faults were set, in order, before the random draws take over:
    /// a test that must see a fault gets it whatever number of requests its timing makes.
    pub opening: Vec<OpeningFault>,
    /// Probability of answering 500/502/503 without processing.
    pub server_error_rate: f64,
    /// Probability of processing, then answering 502.
    pub lost_response_rate: f64,
    /// Probability of holding the connection for `timeout_secs` without processing.
    pub timeout_rate: f64,
    /// Probability of processing, then holding the answer for `timeout_secs` (a client times out on work done).
    pub late_response_rate: f64,
    /// Probability of answering a GraphQL query with GitHub's timeout (502) after running it; it is charged to the
    /// `graphql` budget as GitHub does since 2025-07-21.
    pub graphql_timeout_rate: f64,
    /// Like `lost_response_rate`, for writes only (any method but GET): the answers whose loss risks duplicates.
    pub write_lost_response_rate: f64,
    /// When not empty, `write_lost_response_rate` applies only to writes whose path ends with one of these
    /// (`/issues`, `/pulls`, `/dispatches`…).
    pub write_lost_response_paths: Vec<String>,
    /// Seconds a timed-out request is held (default 30).
    pub timeout_secs: Option<u64>,
    /// Added latency per request.
    pub latency_ms: u64,
    /// Optional secondary-limit burst.
    pub secondary_limit: Option<SecondaryLimit>,
    /// Overrides the fixture's content-creation limit while set (see [`crate::content_creation`]).
    pub content_creation: Option<crate::content_creation::ContentCreationLimit>,
    /// Overrides the fixture's `run_listing_delay_secs` (`[min, max]` sim seconds before a dispatched run is listed).
    pub run_listing_delay_secs: Option<[i64; 2]>,
    /// Overrides the fixture's `api_versions` (the `X-GitHub-Api-Version` values accepted).
    pub api_versions: Option<Vec<String>>,
}

/// A fault an [`FaultConfig::opening`] request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpeningFault {
    /// Answered 502 without processing.
    ServerError,
    /// Held for `timeout_secs`, not processed.
    Timeout,
}

/// What to do with one GitHub request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultDecision {
    /// Serve normally.
    Serve,
    /// Answer this 5xx status without processing.
    ServerError(u16),
    /// Process, then answer 502.
    LoseResponse,
    /// Hold the connection, do not process.
    Timeout,
    /// Process, then hold the answer.
    LateResponse,
    /// Answer with GitHub's secondary-limit answer; the window has this many seconds left.
    SecondaryLimit(u32),
}

/// Where the secondary limit stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondaryWindow {
    /// Sim time until which requests are refused.
    pub blocked_until: Option<i64>,
    /// Requests served since the last block ended (or the faults were set).
    pub served: u64,
}

/// Whether the secondary limit refuses a request at `now`; `Some(retry_after)` when it does.
pub fn secondary_refusal(limit: &SecondaryLimit, window: &mut SecondaryWindow, now: i64) -> Option<u32> {
    if let Some(until) = window.blocked_until {
        if now < until {
            return Some(u32::try_from(until - now).unwrap_or(u32::MAX));
        }
        *window = SecondaryWindow::default();
    }
    if window.served >= u64::from(limit.after_requests) {
        window.blocked_until = Some(now + i64::from(limit.retry_after_secs));
        return Some(limit.retry_after_secs);
    }
    window.served += 1;
    None
}

/// Decides the random fault (5xx, timeout, lost or late answer) for one GitHub read; the secondary limit is decided
/// by [`secondary_refusal`].
pub fn decide(config: &FaultConfig, rng: &mut fastrand::Rng) -> FaultDecision {
    decide_for(config, rng, "GET", "")
}

/// The fault of the request that follows `served` requests since the faults were set: an opening one while
/// [`FaultConfig::opening`] lasts, else drawn as [`decide_for`] does.
pub fn decide_next(
    config: &FaultConfig,
    served: &mut usize,
    rng: &mut fastrand::Rng,
    method: &str,
    path: &str,
) -> FaultDecision {
    let opening = config.opening.get(*served);
    *served += 1;
    match opening {
        Some(OpeningFault::ServerError) => FaultDecision::ServerError(502),
        Some(OpeningFault::Timeout) => FaultDecision::Timeout,
        None => decide_for(config, rng, method, path),
    }
}

/// Like [`decide`], for a request of `method` on `path` (`write_lost_response_rate` applies to writes only).
pub fn decide_for(config: &FaultConfig, rng: &mut fastrand::Rng, method: &str, path: &str) -> FaultDecision {
    let roll = rng.f64();
    if roll < config.server_error_rate {
        return FaultDecision::ServerError([500, 502, 503][rng.usize(0..3)]);
    }
    let roll = rng.f64();
    if roll < config.timeout_rate {
        return FaultDecision::Timeout;
    }
    let roll = rng.f64();
    if roll < config.lost_response_rate {
        return FaultDecision::LoseResponse;
    }
    // Drawn only when configured, so seeds chosen before this fault existed keep their sequences.
    if config.late_response_rate > 0.0 && rng.f64() < config.late_response_rate {
        return FaultDecision::LateResponse;
    }
    let targeted = config.write_lost_response_paths.is_empty()
        || config.write_lost_response_paths.iter().any(|suffix| path.ends_with(suffix.as_str()));
    if config.write_lost_response_rate > 0.0
        && method != "GET"
        && targeted
        && rng.f64() < config.write_lost_response_rate
    {
        return FaultDecision::LoseResponse;
    }
    FaultDecision::Serve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions_and_rate_roughly_holds() {
        let config = FaultConfig { seed: 7, server_error_rate: 0.1, ..Default::default() };
        let run = || {
            let mut rng = fastrand::Rng::with_seed(config.seed);
            (0..1000).map(|_| decide(&config, &mut rng)).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let errors = first.iter().filter(|d| matches!(d, FaultDecision::ServerError(_))).count();
        assert!((60..140).contains(&errors), "{errors}");
    }

    #[test]
    fn opening_faults_come_first_then_the_draws_of_the_seed() {
        let drawn = FaultConfig { seed: 7, server_error_rate: 0.5, ..Default::default() };
        let opening = FaultConfig { opening: vec![OpeningFault::Timeout, OpeningFault::ServerError], ..drawn.clone() };
        let run = |config: &FaultConfig| {
            let (mut rng, mut served) = (fastrand::Rng::with_seed(config.seed), 0);
            (0..50).map(|_| decide_next(config, &mut served, &mut rng, "GET", "/x")).collect::<Vec<_>>()
        };
        let (plain, opened) = (run(&drawn), run(&opening));
        assert_eq!(opened[..2], [FaultDecision::Timeout, FaultDecision::ServerError(502)]);
        assert_eq!(opened[2..], plain[..48], "the seed's draws follow");
    }

    #[test]
    fn write_lost_responses_spare_reads() {
        let config = FaultConfig { seed: 3, write_lost_response_rate: 0.5, ..Default::default() };
        let mut rng = fastrand::Rng::with_seed(config.seed);
        assert!((0..200).all(|_| decide(&config, &mut rng) == FaultDecision::Serve));
        let lost =
            (0..1000).filter(|_| decide_for(&config, &mut rng, "POST", "/x") == FaultDecision::LoseResponse).count();
        assert!((400..600).contains(&lost), "{lost}");
        let only_issues = FaultConfig { write_lost_response_paths: vec!["/issues".into()], ..config };
        let lost = |path: &str, rng: &mut fastrand::Rng| decide_for(&only_issues, rng, "POST", path);
        assert!((0..200).all(|_| lost("/repos/o/r/pulls", &mut rng) == FaultDecision::Serve));
        assert!((0..200).any(|_| lost("/repos/o/r/issues", &mut rng) == FaultDecision::LoseResponse));
    }

    #[test]
    fn secondary_limit_blocks_for_retry_after_then_serves_again() {
        let limit = SecondaryLimit { after_requests: 2, retry_after_secs: 60, ..SecondaryLimit::default() };
        let mut window = SecondaryWindow::default();
        assert_eq!(secondary_refusal(&limit, &mut window, 0), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 0), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 0), Some(60));
        assert_eq!(secondary_refusal(&limit, &mut window, 45), Some(15), "retry-after counts down");
        assert_eq!(secondary_refusal(&limit, &mut window, 60), None, "served once the window passed");
        assert_eq!(secondary_refusal(&limit, &mut window, 60), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 61), Some(60));
    }

    #[test]
    fn secondary_answers_are_403_or_429_with_or_without_retry_after() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut limit = SecondaryLimit::default();
        assert_eq!(secondary_answer(&limit, 7, &mut rng), SecondaryAnswer { status: 403, retry_after: Some(7) });
        limit.status = Choice::Always(429);
        limit.retry_after = Choice::Always(false);
        assert_eq!(secondary_answer(&limit, 7, &mut rng), SecondaryAnswer { status: 429, retry_after: None });
        let mixed: SecondaryLimit = serde_json::from_value(serde_json::json!(
            {"after_requests": 1, "retry_after_secs": 60, "status": "mixed", "retry_after": "mixed"}
        ))
        .expect("mixed parses");
        let answers: Vec<SecondaryAnswer> = (0..200).map(|_| secondary_answer(&mixed, 60, &mut rng)).collect();
        for (status, header) in [(403, true), (403, false), (429, true), (429, false)] {
            let seen = answers.iter().filter(|a| a.status == status && a.retry_after.is_some() == header).count();
            assert!(seen > 20, "{status} with retry-after {header}: {seen} of 200");
        }
        let old: SecondaryLimit =
            serde_json::from_value(serde_json::json!({"after_requests": 1, "retry_after_secs": 2})).expect("parses");
        assert_eq!((old.status, old.retry_after), (Choice::Always(403), Choice::Always(true)), "defaults as before");
        let wrong: SecondaryLimit = serde_json::from_value(serde_json::json!(
            {"after_requests": 1, "retry_after_secs": 2, "status": 500}
        ))
        .expect("parses");
        assert!(wrong.invalid().is_some());
        assert!(mixed.invalid().is_none());
    }
}
