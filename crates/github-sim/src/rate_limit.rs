//! Per-credential primary rate-limit accounting.

use serde::{Deserialize, Serialize};

/// GitHub's hourly window.
pub const WINDOW_SECS: i64 = 3600;

/// One credential's primary budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Requests allowed per window.
    pub limit: i64,
    /// Requests left in this window.
    pub remaining: i64,
    /// Epoch seconds when the window resets.
    pub reset_at: i64,
}

/// Whether a request was charged against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// One point was spent.
    Counted,
    /// The budget is exhausted; answer 403.
    Exhausted,
}

impl Budget {
    /// A full budget whose window starts at `now`.
    pub fn fresh(limit: i64, now: i64) -> Self {
        Budget { limit, remaining: limit, reset_at: now + WINDOW_SECS }
    }

    /// Renews the window if it has passed.
    pub fn roll(&mut self, now: i64) {
        if now >= self.reset_at {
            self.remaining = self.limit;
            self.reset_at = now + WINDOW_SECS;
        }
    }

    /// Spends one point if there is one.
    pub fn charge(&mut self, now: i64) -> Charge {
        self.roll(now);
        if self.remaining <= 0 {
            return Charge::Exhausted;
        }
        self.remaining -= 1;
        Charge::Counted
    }

    /// Spends `points` if that many are left (a GraphQL query's cost); nothing when they are not.
    pub fn charge_points(&mut self, now: i64, points: i64) -> Charge {
        self.roll(now);
        if self.remaining < points || self.remaining <= 0 {
            return Charge::Exhausted;
        }
        self.remaining -= points;
        Charge::Counted
    }

    /// Gives back a point (a 304 to a conditional request is free).
    pub fn refund(&mut self) {
        self.remaining = (self.remaining + 1).min(self.limit);
    }

    /// Points used in this window.
    pub fn used(&self) -> i64 {
        self.limit - self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_until_exhausted_then_resets() {
        let mut b = Budget::fresh(2, 0);
        assert_eq!(b.charge(1), Charge::Counted);
        assert_eq!(b.charge(2), Charge::Counted);
        assert_eq!(b.charge(3), Charge::Exhausted);
        assert_eq!(b.used(), 2);
        assert_eq!(b.charge(WINDOW_SECS), Charge::Counted);
        assert_eq!(b.remaining, 1);
    }

    #[test]
    fn refund_never_exceeds_limit() {
        let mut b = Budget::fresh(5, 0);
        b.refund();
        assert_eq!(b.remaining, 5);
    }
}
