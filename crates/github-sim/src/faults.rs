//! Fault injection decided by a seeded RNG.

use serde::{Deserialize, Serialize};

/// Secondary rate limit: after `after_requests` GitHub requests, every request is answered 403 with `retry-after` until
/// `retry_after_secs` of sim time have passed; then `after_requests` more are served, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryLimit {
    /// Requests allowed before the limit triggers.
    pub after_requests: u32,
    /// Seconds announced in `retry-after`.
    pub retry_after_secs: u32,
}

/// Body of `POST /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Seed of the fault RNG.
    pub seed: u64,
    /// Probability of answering 500/502/503 without processing.
    pub server_error_rate: f64,
    /// Probability of processing, then answering 502.
    pub lost_response_rate: f64,
    /// Probability of holding the connection for `timeout_secs` without processing.
    pub timeout_rate: f64,
    /// Probability of processing, then holding the answer for `timeout_secs` (a client times out on work done).
    pub late_response_rate: f64,
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
    /// Answer 403 secondary limit with this `retry-after`.
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
        let limit = SecondaryLimit { after_requests: 2, retry_after_secs: 60 };
        let mut window = SecondaryWindow::default();
        assert_eq!(secondary_refusal(&limit, &mut window, 0), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 0), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 0), Some(60));
        assert_eq!(secondary_refusal(&limit, &mut window, 45), Some(15), "retry-after counts down");
        assert_eq!(secondary_refusal(&limit, &mut window, 60), None, "served once the window passed");
        assert_eq!(secondary_refusal(&limit, &mut window, 60), None);
        assert_eq!(secondary_refusal(&limit, &mut window, 61), Some(60));
    }
}
