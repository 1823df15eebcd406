//! The parts of [`ObservedRepository`](super::ObservedRepository) that follow from the same default-branch runs
//! `plan::health` reads, so the controller derives them one way: the latest failed run, the re-runs made per sha,
//! and the commit that turned the branch red.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::FailedRun;
use crate::plan::health::{ObservedRun, RunOutcome};

/// The current red streak: the commit whose run first failed after the last pass, and how long it has lasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedStreak {
    /// The sha of the oldest failed run of the streak: the commit that turned the branch red.
    pub sha: String,
    /// Failed runs in the streak (attempts included; cancelled and skipped runs neither count nor break it).
    pub failed_runs: i32,
    /// When the streak's first failed run completed.
    pub since: Timestamp,
}

/// Runs newest first, with the same tie-break as `plan::health`.
fn newest_first(runs: &[ObservedRun]) -> Vec<&ObservedRun> {
    let mut sorted: Vec<&ObservedRun> = runs.iter().collect();
    sorted.sort_by_key(|run| std::cmp::Reverse((run.completed_at, run.id, run.attempt)));
    sorted
}

/// The newest decisive run when it failed: what a re-run would retry.
pub fn latest_failed_run(runs: &[ObservedRun]) -> Option<FailedRun> {
    let latest = newest_first(runs)
        .into_iter()
        .find(|run| RunOutcome::from_conclusion(&run.conclusion) != RunOutcome::Indecisive)?;
    (RunOutcome::from_conclusion(&latest.conclusion) == RunOutcome::Failed).then(|| FailedRun {
        run_id: latest.id,
        head_sha: latest.head_sha.clone(),
        attempt: latest.attempt,
        url: latest.url.clone(),
        completed_at: latest.completed_at,
    })
}

/// Re-runs made per sha: attempts beyond the first, summed over the sha's runs (an attempt `n` implies `n - 1`).
pub fn rerun_attempts(runs: &[ObservedRun]) -> BTreeMap<String, i32> {
    let mut highest_attempt: BTreeMap<(&str, i64), i32> = BTreeMap::new();
    for run in runs {
        let attempt = highest_attempt.entry((run.head_sha.as_str(), run.id)).or_insert(1);
        *attempt = (*attempt).max(run.attempt);
    }
    let mut per_sha = BTreeMap::new();
    for ((sha, _), attempt) in highest_attempt {
        *per_sha.entry(sha.to_owned()).or_insert(0) += (attempt - 1).max(0);
    }
    per_sha
}

/// The red streak at the head of `runs`, or `None` when the newest decisive run passed (or there is none).
pub fn red_streak(runs: &[ObservedRun]) -> Option<RedStreak> {
    let mut streak: Option<RedStreak> = None;
    for run in newest_first(runs) {
        match RunOutcome::from_conclusion(&run.conclusion) {
            RunOutcome::Passed => break,
            RunOutcome::Indecisive => {}
            RunOutcome::Failed => {
                let failed_runs = streak.as_ref().map_or(0, |s| s.failed_runs) + 1;
                streak = Some(RedStreak { sha: run.head_sha.clone(), failed_runs, since: run.completed_at });
            }
        }
    }
    streak
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, sha: &str, conclusion: &str, attempt: i32, secs: i64) -> ObservedRun {
        let time = Timestamp::from_second(1_700_000_000 + secs).unwrap();
        ObservedRun {
            id,
            url: None,
            head_sha: sha.into(),
            conclusion: conclusion.into(),
            attempt,
            created_at: time,
            started_at: None,
            completed_at: time,
            workflow_id: 1,
            workflow_name: "CI".into(),
            workflow_path: None,
        }
    }

    #[test]
    fn red_streak_starts_at_the_first_failure_after_the_last_pass() {
        let runs = [
            run(1, "good", "success", 1, 0),
            run(2, "bad", "failure", 1, 10),
            run(3, "later", "cancelled", 1, 20),
            run(4, "later", "failure", 1, 30),
            run(4, "later", "timed_out", 2, 40),
        ];
        let streak = red_streak(&runs).unwrap();
        assert_eq!((streak.sha.as_str(), streak.failed_runs), ("bad", 3));
        assert_eq!(streak.since, runs[1].completed_at);
        assert_eq!(red_streak(&runs[..1]), None);
        assert_eq!(red_streak(&[]), None);
    }

    #[test]
    fn latest_failed_run_skips_cancelled_and_is_none_when_green() {
        let runs = [run(1, "a", "failure", 2, 0), run(2, "b", "cancelled", 1, 10)];
        let failed = latest_failed_run(&runs).unwrap();
        assert_eq!((failed.run_id, failed.head_sha.as_str(), failed.attempt), (1, "a", 2));
        assert_eq!(latest_failed_run(&[run(1, "a", "failure", 1, 0), run(2, "a", "success", 1, 10)]), None);
    }

    #[test]
    fn rerun_attempts_sum_attempts_beyond_the_first_per_sha() {
        let runs = [
            run(1, "a", "failure", 1, 0),
            run(1, "a", "failure", 3, 5),
            run(2, "a", "failure", 2, 9),
            run(3, "b", "failure", 1, 9),
        ];
        let attempts = rerun_attempts(&runs);
        assert_eq!((attempts.get("a"), attempts.get("b")), (Some(&3), Some(&0)));
    }
}
