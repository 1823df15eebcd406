//! Which webhook deliveries to ask GitHub to redeliver after the receiver missed them. GitHub never redelivers a
//! failed delivery by itself; a GitHub App can list its hook's recent attempts (newest first) and ask for any of
//! them again, under the same `guid`.
//!
//! A pass pages back through the attempts until it reaches the previous pass's watermark (the newest attempt it saw,
//! or just below the oldest event it still owed), or attempts older than a look-back window measured from the newest
//! attempt (GitHub's clock, never ours), or a page budget. Among what it saw, an event (`guid`) is redelivered when its newest attempt
//! failed for a reason a redelivery can cure, no attempt of it succeeded, the receiver has not acted on it, and it
//! was not asked for too often already (requests to one event back off exponentially, by passes).

use std::collections::{BTreeMap, HashMap};

/// One attempt as the decision needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The attempt's id (GitHub's ids grow with time).
    pub id: u64,
    /// The event's id (`X-GitHub-Delivery`), shared by its redeliveries.
    pub guid: String,
    /// When it was made, epoch seconds on GitHub's clock.
    pub delivered_at: i64,
    /// The receiver's status; 0 or 502 when GitHub could not reach it.
    pub status_code: u16,
}

impl Attempt {
    /// The receiver took it.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }

    /// A failure that a redelivery can cure: GitHub could not reach the receiver (0, 502, timeouts) or the receiver
    /// could not act (5xx). A 4xx is the receiver refusing the delivery (a bad signature, an unknown organization):
    /// sending it again would be refused again.
    pub fn failed_curably(&self) -> bool {
        self.status_code == 0 || self.status_code >= 500
    }
}

/// How far a pass looks, and how often one event is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Pages read at most per pass.
    pub max_pages: u32,
    /// Attempts older than this many seconds before the newest attempt are not looked at.
    pub lookback_secs: i64,
    /// Redelivery requests per event at most; the `n`th waits `2^(n-2)` passes after the one before, so a receiver
    /// that stays unreachable for a while is not hammered and still gets the event once it is back.
    pub max_requests_per_event: u32,
}

impl Default for Bounds {
    /// Ten pages of 100; six hours; eight requests (over about 64 passes).
    fn default() -> Self {
        Bounds { max_pages: 10, lookback_secs: 6 * 3600, max_requests_per_event: 8 }
    }
}

/// The redelivery requests made for one event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    /// How many.
    pub count: u32,
    /// The pass of the last one.
    pub last_pass: u64,
}

impl Requested {
    /// Whether another request may go out in `pass`: the first at once, then after 1, 2, 4, … passes.
    fn may_ask_again(&self, pass: u64, bounds: Bounds) -> bool {
        match self.count {
            0 => true,
            n if n >= bounds.max_requests_per_event => false,
            n => pass >= self.last_pass + (1u64 << (n - 1).min(32)),
        }
    }
}

/// What a pass decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Attempts to redeliver now, oldest event first (the receiver sees events in the order they happened).
    pub redeliver: Vec<Attempt>,
    /// Failed events waiting for their next allowed request (their newest attempt).
    pub waiting: Vec<Attempt>,
    /// Events asked for the most times allowed and still failing: given up.
    pub given_up: Vec<Attempt>,
    /// The watermark for the next pass: the newest attempt seen, or just below the oldest event still owed, so that
    /// the next pass sees it again.
    pub watermark: Option<u64>,
}

/// Whether a pass has read far enough after reading `page` (the `pages_read`th page, newest first): it reached
/// `watermark` (the newest attempt id of the previous pass), or attempts older than the look-back window from
/// `newest_at`, or the page budget.
pub fn reached_the_end(
    page: &[Attempt],
    pages_read: u32,
    watermark: Option<u64>,
    newest_at: i64,
    bounds: Bounds,
) -> bool {
    let seen_before = |a: &Attempt| watermark.is_some_and(|w| a.id <= w);
    let too_old = |a: &Attempt| a.delivered_at < newest_at - bounds.lookback_secs;
    page.is_empty() || pages_read >= bounds.max_pages || page.iter().any(|a| seen_before(a) || too_old(a))
}

/// Decides pass `pass` over `attempts` (newest first, as listed). An event is owed when its newest attempt failed
/// curably, no attempt of it succeeded and `handled` does not know it; an owed event is redelivered (its newest
/// attempt) when its requests so far allow another, else it waits or, past the bound, is given up. Attempts not newer
/// than `watermark` or outside the look-back window are ignored.
pub fn decide(
    attempts: &[Attempt],
    watermark: Option<u64>,
    handled: &dyn Fn(&str) -> bool,
    requested: &HashMap<String, Requested>,
    pass: u64,
    bounds: Bounds,
) -> Decision {
    let Some(newest_at) = attempts.iter().map(|a| a.delivered_at).max() else {
        return Decision { watermark, ..Decision::default() };
    };
    let in_view = attempts
        .iter()
        .filter(|a| watermark.is_none_or(|w| a.id > w))
        .filter(|a| a.delivered_at >= newest_at - bounds.lookback_secs);
    // Per event: (any attempt succeeded, newest attempt).
    let mut events: BTreeMap<&str, (bool, &Attempt)> = BTreeMap::new();
    for attempt in in_view {
        let entry = events.entry(attempt.guid.as_str()).or_insert((false, attempt));
        entry.0 |= attempt.succeeded();
        if attempt.id > entry.1.id {
            entry.1 = attempt;
        }
    }
    let mut decision = Decision::default();
    for (guid, (succeeded, newest)) in events {
        if succeeded || !newest.failed_curably() || handled(guid) {
            continue;
        }
        let asked = requested.get(guid).copied().unwrap_or_default();
        if asked.count >= bounds.max_requests_per_event {
            decision.given_up.push(newest.clone());
        } else if asked.may_ask_again(pass, bounds) {
            decision.redeliver.push(newest.clone());
        } else {
            decision.waiting.push(newest.clone());
        }
    }
    decision.redeliver.sort_by_key(|a| (a.delivered_at, a.id));
    let newest_id = attempts.iter().map(|a| a.id).max().max(watermark);
    let oldest_owed = decision.redeliver.iter().chain(&decision.waiting).map(|a| a.id).min();
    decision.watermark = match oldest_owed {
        Some(id) => Some(id.saturating_sub(1)).min(newest_id),
        None => newest_id,
    };
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(id: u64, guid: &str, at: i64, status: u16) -> Attempt {
        Attempt { id, guid: guid.into(), delivered_at: at, status_code: status }
    }

    fn nothing_handled(_: &str) -> bool {
        false
    }

    fn ids(attempts: &[Attempt]) -> Vec<u64> {
        attempts.iter().map(|a| a.id).collect()
    }

    #[test]
    fn redelivers_each_failed_event_once_oldest_first() {
        // Newest first, as GitHub lists them: b failed twice (its redelivery failed too), c and a failed once.
        let attempts = vec![
            attempt(5, "b", 50, 502),
            attempt(4, "c", 40, 503),
            attempt(3, "b", 30, 502),
            attempt(2, "a", 20, 0),
            attempt(1, "ok", 10, 200),
        ];
        let decision = decide(&attempts, None, &nothing_handled, &HashMap::new(), 1, Bounds::default());
        assert_eq!(ids(&decision.redeliver), vec![2, 4, 5], "a, then c, then b's newest attempt");
        assert_eq!(decision.watermark, Some(1), "the owed events stay in view until delivered");
    }

    #[test]
    fn skips_what_succeeded_was_handled_or_was_refused() {
        let attempts = vec![
            attempt(6, "redelivered", 60, 202),
            attempt(5, "refused", 50, 401),
            attempt(4, "handled", 40, 502),
            attempt(2, "redelivered", 20, 502),
        ];
        let handled = |guid: &str| guid == "handled";
        let decision = decide(&attempts, None, &handled, &HashMap::new(), 1, Bounds::default());
        assert_eq!(decision, Decision { watermark: Some(6), ..Decision::default() });
    }

    #[test]
    fn asks_again_after_growing_gaps_then_gives_up() {
        let attempts = vec![attempt(9, "down", 90, 502)];
        let bounds = Bounds { max_requests_per_event: 4, ..Bounds::default() };
        let asked = |count, last_pass| HashMap::from([("down".to_string(), Requested { count, last_pass })]);
        let at =
            |count, last_pass, pass| decide(&attempts, None, &nothing_handled, &asked(count, last_pass), pass, bounds);
        assert_eq!(ids(&at(1, 10, 11).redeliver), vec![9], "one pass after the first request");
        assert_eq!(ids(&at(2, 10, 11).waiting), vec![9], "two passes after the second");
        assert_eq!(ids(&at(2, 10, 12).redeliver), vec![9]);
        assert_eq!(ids(&at(3, 10, 13).waiting), vec![9], "four after the third");
        assert_eq!(ids(&at(3, 10, 14).redeliver), vec![9]);
        let given_up = at(4, 10, 100);
        assert_eq!((ids(&given_up.given_up), given_up.watermark), (vec![9], Some(9)), "given up, no longer owed");
    }

    #[test]
    fn ignores_attempts_before_the_watermark_or_the_window() {
        let attempts = vec![attempt(9, "new", 10_000, 502), attempt(8, "seen", 9_990, 502), attempt(2, "old", 10, 502)];
        let bounds = Bounds { lookback_secs: 3600, ..Bounds::default() };
        let decision = decide(&attempts, Some(8), &nothing_handled, &HashMap::new(), 1, bounds);
        assert_eq!(ids(&decision.redeliver), vec![9]);
        let decision = decide(&attempts, None, &nothing_handled, &HashMap::new(), 1, bounds);
        assert_eq!(ids(&decision.redeliver), vec![8, 9]);
        assert_eq!(decide(&[], Some(3), &nothing_handled, &HashMap::new(), 1, bounds).watermark, Some(3));
    }

    #[test]
    fn paging_stops_at_the_watermark_the_window_the_budget_or_an_empty_page() {
        let bounds = Bounds { max_pages: 3, lookback_secs: 100, max_requests_per_event: 3 };
        let page = vec![attempt(9, "a", 1000, 502), attempt(8, "b", 990, 502)];
        assert!(!reached_the_end(&page, 1, None, 1000, bounds));
        assert!(reached_the_end(&page, 1, Some(8), 1000, bounds), "reached the last pass's newest attempt");
        assert!(reached_the_end(&page, 1, None, 1200, bounds), "older than the window");
        assert!(reached_the_end(&page, 3, None, 1000, bounds), "the page budget");
        assert!(reached_the_end(&[], 1, None, 1000, bounds), "nothing more");
    }
}
