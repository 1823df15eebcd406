//! Fault injection decided by a seeded RNG.

use serde::{Deserialize, Serialize};

/// Secondary-rate-limit burst: after `after_requests` GitHub requests, answer 403 with `retry-after`.
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
    /// Answer 403 secondary limit with this `retry-after`.
    SecondaryLimit(u32),
}

/// Decides the fault for the `request_index`-th (0-based) GitHub request since faults were set.
pub fn decide(config: &FaultConfig, rng: &mut fastrand::Rng, request_index: u64) -> FaultDecision {
    if let Some(limit) = config.secondary_limit {
        if request_index >= u64::from(limit.after_requests) {
            return FaultDecision::SecondaryLimit(limit.retry_after_secs);
        }
    }
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
            (0..1000).map(|i| decide(&config, &mut rng, i)).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let errors = first.iter().filter(|d| matches!(d, FaultDecision::ServerError(_))).count();
        assert!((60..140).contains(&errors), "{errors}");
    }

    #[test]
    fn secondary_limit_after_n() {
        let config = FaultConfig {
            secondary_limit: Some(SecondaryLimit { after_requests: 2, retry_after_secs: 60 }),
            ..Default::default()
        };
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(decide(&config, &mut rng, 1), FaultDecision::Serve);
        assert_eq!(decide(&config, &mut rng, 2), FaultDecision::SecondaryLimit(60));
    }
}
