//! What discovery remembers between passes, in this process: each repository's head commit and what detection found
//! in it (an unchanged head is not read again), and the last successful pass over each Organization (the watch may
//! deliver an Organization older than its own last status write). Lost on restart: the status and GitHub's
//! conditional requests take over.

use std::collections::HashMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::memo::Memo;
use crate::plan::detect::RepositoryDescription;

/// Findings remembered per Organization object and repository, with what tells whether they are still current.
#[derive(Debug, Default)]
pub struct DetectionCache {
    entries: Memo<String, HashMap<String, Remembered>>,
    passes: Memo<String, LastPass>,
}

/// The last successful pass over an Organization in this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastPass {
    /// The generation it ran for.
    pub generation: Option<i64>,
    /// When it finished.
    pub finished: Timestamp,
    /// The request annotation it answered.
    pub handled_request: Option<String>,
}

/// What a repository's head commit said when it was last read.
#[derive(Clone, Debug)]
pub struct Remembered {
    /// The commit.
    pub head_sha: String,
    /// What detection found in it.
    pub description: RepositoryDescription,
    /// The default branch it was the head of.
    pub branch: String,
    /// The listing's `pushed_at` for the repository when it was read.
    pub pushed_at: Option<Timestamp>,
    /// When the reading started, on GitHub's clock as its answers gave it (compared with GitHub's `pushed_at`).
    pub read_started: Timestamp,
}

impl Remembered {
    /// Whether this reading still describes a repository the listing shows with `branch` and `pushed_at`, so that
    /// it need not be read at all: same default branch, no push since, and none that could have raced the reading.
    /// GitHub's `pushed_at` has a resolution of one second, so a push in the second the reading started may have
    /// landed after it with the same `pushed_at`: such a reading is not trusted.
    pub fn holds_for(&self, branch: &str, pushed_at: Option<Timestamp>) -> bool {
        let Some(pushed) = pushed_at else {
            return false;
        };
        let settled = pushed.checked_add(SignedDuration::from_secs(1)).is_ok_and(|p| p <= self.read_started);
        self.branch == branch && self.pushed_at == Some(pushed) && settled
    }
}

impl DetectionCache {
    /// What is remembered of one repository of an Organization.
    pub fn get(&self, organization: &str, repository: &str) -> Option<Remembered> {
        self.entries.lock().get(organization)?.get(repository).cloned()
    }

    /// Replaces what is remembered of an Organization with this pass's good readings.
    pub fn replace(&self, organization: &str, remembered: HashMap<String, Remembered>) {
        self.entries.insert(organization.to_owned(), remembered);
    }

    /// Forgets an Organization (deleted or suspended).
    pub fn forget(&self, organization: &str) {
        self.entries.remove(organization);
        self.passes.remove(organization);
    }

    /// Records a pass: a successful one with when it finished (to the second, as the status keeps it), a
    /// failed one by forgetting the last success so that the status's word counts.
    pub fn record_pass(&self, organization: &str, outcome: Option<LastPass>) {
        match outcome {
            Some(mut pass) => {
                pass.finished = Timestamp::from_second(pass.finished.as_second()).unwrap_or(pass.finished);
                self.passes.insert(organization.to_owned(), pass)
            }
            None => self.passes.remove(organization),
        };
    }

    /// The last successful pass over an Organization in this process.
    pub fn last_pass(&self, organization: &str) -> Option<LastPass> {
        self.passes.get(organization)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn reading(pushed_at: i64, started: Timestamp) -> Remembered {
        Remembered {
            head_sha: "abc".into(),
            description: RepositoryDescription::default(),
            branch: "main".into(),
            pushed_at: Some(at(pushed_at)),
            read_started: started,
        }
    }

    #[test]
    fn a_reading_holds_until_a_push_or_a_new_default_branch() {
        let read = reading(0, at(5));
        assert!(read.holds_for("main", Some(at(0))));
        assert!(!read.holds_for("main", Some(at(7))), "pushed since");
        assert!(!read.holds_for("trunk", Some(at(0))), "another default branch");
        assert!(!read.holds_for("main", None), "no push time to compare");
    }

    #[test]
    fn a_reading_in_the_second_of_a_push_is_not_trusted() {
        let started = at(0).checked_add(SignedDuration::from_millis(400)).unwrap();
        assert!(!reading(0, started).holds_for("main", Some(at(0))), "a push later in the same second is unseen");
        assert!(reading(0, at(1)).holds_for("main", Some(at(0))), "a whole second after the push");
    }
}
