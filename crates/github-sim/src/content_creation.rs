//! GitHub's content-creation secondary limit: "in general, no more than 80 content-generating requests per minute and
//! no more than 500 content-generating requests per hour" (docs: reusables/rest-api/secondary-rate-limit-rest-graphql),
//! counted per credential on the sim clock.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// GitHub's documented content-creation numbers; `0` lifts a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentCreationLimit {
    /// Content-creating requests allowed in any 60 s of sim time (GitHub: 80).
    pub per_minute: u32,
    /// Content-creating requests allowed in any hour of sim time (GitHub: 500).
    pub per_hour: u32,
}

impl Default for ContentCreationLimit {
    fn default() -> Self {
        ContentCreationLimit { per_minute: 80, per_hour: 500 }
    }
}

/// The served operations that create content, as (method, documented path template).
///
/// The first group is what GitHub's OpenAPI description marks "Creating content too quickly using this endpoint may
/// result in secondary rate limiting" among the routes the simulator serves (a test keeps the two in step). The second
/// group is not marked, but each request creates content on GitHub (a git object, a ref, a commit), and GitHub says
/// content creation is limited whatever the door; counting them keeps a client that passes here within the limit
/// there. Dispatches, re-runs and cancellations start or stop runs (Actions has limits of its own), and PATCH/DELETE
/// edit or remove content, so they are not counted.
pub const CONTENT_CREATING: &[(&str, &str)] = &[
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("POST", "/repos/{owner}/{repo}/git/blobs"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PUT", "/repos/{owner}/{repo}/contents/{path}"),
];

/// Whether a request on the operation `(method, template)` creates content.
pub fn is_content_creating(method: &str, template: &str) -> bool {
    CONTENT_CREATING.iter().any(|(m, t)| *m == method && *t == template)
}

/// How long a credential that went over the per-minute cap is refused: the minute GitHub tells clients to wait when
/// it sends no `retry-after`.
pub const BLOCK_SECS: i64 = 60;

/// One credential's content creations in the last hour, and the end of its current block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CreationWindow {
    created: VecDeque<i64>,
    blocked_until: Option<i64>,
}

/// Every credential's content creations (keyed like the primary budgets).
#[derive(Debug, Clone, Default)]
pub struct ContentCreation {
    /// The fixture's limit; `FaultConfig::content_creation` overrides it while set.
    pub fixture_limit: ContentCreationLimit,
    windows: HashMap<String, CreationWindow>,
}

/// A refused content-creating request: not carried out, and not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Sim time until which this credential's content creation is refused.
    pub until: i64,
}

impl ContentCreation {
    /// No creations yet, under the fixture's `fixture_limit`.
    pub fn new(fixture_limit: ContentCreationLimit) -> Self {
        ContentCreation { fixture_limit, windows: HashMap::new() }
    }

    /// Admits (and counts) one content-creating request of `key` at `now` under `limit`, or refuses it.
    ///
    /// Over the per-minute cap the credential is blocked for [`BLOCK_SECS`]; over the per-hour cap, until the oldest
    /// creation of the hour leaves it (at least [`BLOCK_SECS`]). Requests inside a block are refused too, so a client
    /// that retries early is refused again.
    pub fn admit(&mut self, key: &str, now: i64, limit: ContentCreationLimit) -> Result<(), Refused> {
        let window = self.windows.entry(key.to_string()).or_default();
        if let Some(until) = window.blocked_until {
            if now < until {
                return Err(Refused { until });
            }
            window.blocked_until = None;
        }
        while window.created.front().is_some_and(|t| *t + 3600 <= now) {
            window.created.pop_front();
        }
        let in_minute = window.created.iter().filter(|t| **t + 60 > now).count();
        let mut until = None;
        if limit.per_minute > 0 && in_minute >= limit.per_minute as usize {
            until = Some(now + BLOCK_SECS);
        }
        if limit.per_hour > 0 && window.created.len() >= limit.per_hour as usize {
            // The hour frees a slot when the oldest creation that keeps it full leaves it.
            let oldest = window.created[window.created.len() - limit.per_hour as usize];
            until = Some((oldest + 3600).max(now + BLOCK_SECS).max(until.unwrap_or(now)));
        }
        if let Some(until) = until {
            window.blocked_until = Some(until);
            return Err(Refused { until });
        }
        window.created.push_back(now);
        Ok(())
    }

    /// Content creations counted for `key` in the hour before `now`.
    pub fn created_in_hour(&self, key: &str, now: i64) -> usize {
        self.windows.get(key).map_or(0, |w| w.created.iter().filter(|t| **t + 3600 > now).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ContentCreationLimit = ContentCreationLimit { per_minute: 3, per_hour: 5 };

    #[test]
    fn the_fourth_in_a_minute_is_refused_for_a_minute_and_the_block_holds() {
        let mut creation = ContentCreation::default();
        for _ in 0..3 {
            assert_eq!(creation.admit("a", 0, SMALL), Ok(()));
        }
        assert_eq!(creation.admit("a", 10, SMALL), Err(Refused { until: 70 }));
        assert_eq!(creation.admit("a", 69, SMALL), Err(Refused { until: 70 }), "retrying inside the block is refused");
        assert_eq!(creation.admit("b", 10, SMALL), Ok(()), "per credential");
        assert_eq!(creation.admit("a", 70, SMALL), Ok(()), "a minute later the window has room");
        assert_eq!(creation.created_in_hour("a", 70), 4, "refused requests were not counted");
    }

    #[test]
    fn the_hour_cap_blocks_until_its_oldest_creation_leaves_the_hour() {
        let mut creation = ContentCreation::default();
        for t in [0, 100, 200, 300, 400] {
            assert_eq!(creation.admit("a", t, SMALL), Ok(()));
        }
        assert_eq!(creation.admit("a", 500, SMALL), Err(Refused { until: 3600 }));
        assert_eq!(creation.admit("a", 3599, SMALL), Err(Refused { until: 3600 }));
        assert_eq!(creation.admit("a", 3600, SMALL), Ok(()));
        assert_eq!(creation.created_in_hour("a", 3600), 5);
    }

    #[test]
    fn githubs_numbers_by_default_and_zero_lifts_a_cap() {
        let mut creation = ContentCreation::default();
        let limit = ContentCreationLimit::default();
        assert_eq!((limit.per_minute, limit.per_hour), (80, 500));
        assert!((0..80).all(|_| creation.admit("a", 0, limit).is_ok()));
        assert_eq!(creation.admit("a", 0, limit), Err(Refused { until: 60 }));
        let unlimited = ContentCreationLimit { per_minute: 0, per_hour: 0 };
        assert!((0..1000).all(|_| creation.admit("b", 0, unlimited).is_ok()));
    }

    #[test]
    fn only_creating_operations_count() {
        assert!(is_content_creating("POST", "/repos/{owner}/{repo}/issues"));
        assert!(is_content_creating("PUT", "/repos/{owner}/{repo}/contents/{path}"));
        assert!(!is_content_creating("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"));
        assert!(!is_content_creating("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"));
        assert!(!is_content_creating("GET", "/repos/{owner}/{repo}/issues"));
    }
}
