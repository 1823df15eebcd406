//! What discovery remembers between passes, in this process: each repository's head commit and what detection found
//! in it (an unchanged head is not read again), and the last successful pass over each Organization (the watch may
//! deliver an Organization older than its own last status write). Lost on restart: the status and GitHub's
//! conditional requests take over.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

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
