//! Whether a failed default-branch run is flaky (worth a re-run, not worth escalating) or deterministic (a re-run
//! would fail again), from the runs `plan::health` reads. Healing re-runs a flaky failure and never escalates it,
//! and skips the re-run for a deterministic one; status, metrics and the report show the flaky rate.
//!
//! Rules, in one place. Everything is judged per workflow (the failed run's own workflow), over *attempts*:
//! - **Attempts**: GitHub lists a run's latest attempt only. A run whose latest attempt is `n > 1` stands for `n`
//!   attempts, the `n - 1` before the latest taken as failed: a re-run is made of a failed run (GitHub's re-run of
//!   failed jobs, which the operator uses, needs one). A run given once per attempt (same id, each attempt) is
//!   taken as given. Runs read by GraphQL carry no attempt number and count as one attempt.
//! - **Decisive**: as in `plan::health`, `success` passes, `failure` and `timed_out` fail, the rest is ignored.
//! - **Streak**: the workflow's failed attempts in a row ending at the failure, back to its last pass (on this
//!   commit or the commits before it).
//! - **Flaky** when the failure's commit passed the workflow *after* the failure (another run, or a later attempt:
//!   the same code passed; only a past failure can have this), or, while the streak is shorter than
//!   [`STABLE_STREAK`], when the commit passed the workflow *before* the failure, or the workflow's history flips:
//!   at least [`MIN_FLIPS`] changes between pass and fail among its newest [`FLIP_WINDOW`] decisive attempts up to
//!   the failure. A commit or workflow that then fails [`STABLE_STREAK`] times in a row is broken, not flapping
//!   (an unchanged commit can break for good: a dependency or service outside it changed).
//! - **Deterministic** when not flaky and the streak holds at least [`MIN_STABLE_FAILURES`]: it failed again when
//!   retried or on the next commit, and never passed in between.
//! - **Undetermined** otherwise: one failure after a calm history says nothing yet (the re-run rung decides).
//! - **Flaky rate**: flaky failed attempts × 100 / failed attempts, over the runs of the health window, rounded
//!   down; each failure is judged with the whole read in view (a later pass of its commit makes it flaky).

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use crate::plan::health::{ObservedRun, RunOutcome};

/// The newest decisive attempts of a workflow, up to the failure, looked at for flips.
pub const FLIP_WINDOW: usize = 10;
/// Changes between pass and fail among [`FLIP_WINDOW`] attempts that make a workflow's history flaky.
pub const MIN_FLIPS: usize = 3;
/// A failure streak this long is deterministic even on a commit that passed before, or in a flapping workflow.
pub const STABLE_STREAK: usize = 3;
/// Failed attempts in a row, without a pass, that make a failure deterministic.
pub const MIN_STABLE_FAILURES: usize = 2;
/// Most workflows [`summary`] lists as the flakiest.
pub const MAX_FLAKIEST_WORKFLOWS: usize = 5;

/// What a failure is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Passed and failed on the same commit, or the workflow flips: re-run it, never escalate.
    Flaky,
    /// Failed again and again without a pass: a re-run would fail too.
    Deterministic,
    /// Not enough evidence either way (or no failure at all).
    #[default]
    Undetermined,
}

impl Verdict {
    /// The word used in reasons, Events and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Flaky => "Flaky",
            Verdict::Deterministic => "Deterministic",
            Verdict::Undetermined => "Undetermined",
        }
    }
}

/// One attempt, as the rules see it.
#[derive(Clone, Copy, Debug)]
struct Attempt<'a> {
    run_id: i64,
    attempt: i32,
    sha: &'a str,
    failed: bool,
    /// Completion (inferred earlier attempts sort just before their run's latest), id, attempt.
    at: (Timestamp, i64, i32),
}

/// The decisive attempts of `runs` of the workflow `workflow_id` (all workflows when `None`), oldest first. A run's
/// latest attempt `n` listed without its earlier ones stands for `n - 1` failed attempts before it.
fn attempts(runs: &[ObservedRun], workflow_id: Option<u64>) -> Vec<Attempt<'_>> {
    let mut given: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for run in runs {
        given.entry(run.id).or_default().push(run.attempt);
    }
    let mut all = Vec::new();
    for run in runs.iter().filter(|run| workflow_id.is_none_or(|id| run.workflow_id == id)) {
        let failed = match RunOutcome::from_conclusion(&run.conclusion) {
            RunOutcome::Passed => false,
            RunOutcome::Failed => true,
            RunOutcome::Indecisive => continue,
        };
        let at = (run.completed_at, run.id, run.attempt);
        all.push(Attempt { run_id: run.id, attempt: run.attempt, sha: &run.head_sha, failed, at });
        // Only the run's latest attempt in the read stands for the ones not given.
        let listed = &given[&run.id];
        if listed.iter().any(|attempt| *attempt > run.attempt) {
            continue;
        }
        for earlier in (1..run.attempt).filter(|attempt| !listed.contains(attempt)) {
            let at = (run.completed_at, run.id, earlier);
            all.push(Attempt { run_id: run.id, attempt: earlier, sha: &run.head_sha, failed: true, at });
        }
    }
    all.sort_by_key(|attempt| attempt.at);
    all
}

/// The verdict on the failed attempt at `index` of `history` (one workflow's decisive attempts, oldest first).
fn judge(history: &[Attempt<'_>], index: usize) -> Verdict {
    let failure = history[index];
    let passed_on_commit = |attempts: &[Attempt<'_>]| attempts.iter().any(|a| a.sha == failure.sha && !a.failed);
    if passed_on_commit(&history[index + 1..]) {
        return Verdict::Flaky; // The same code passed after it failed.
    }
    let up_to = &history[..=index];
    let streak = up_to.iter().rev().take_while(|attempt| attempt.failed).count();
    let recent = &up_to[up_to.len().saturating_sub(FLIP_WINDOW)..];
    let flips = recent.windows(2).filter(|pair| pair[0].failed != pair[1].failed).count();
    let flapping = passed_on_commit(up_to) || flips >= MIN_FLIPS;
    if flapping && streak < STABLE_STREAK {
        Verdict::Flaky
    } else if streak >= MIN_STABLE_FAILURES {
        Verdict::Deterministic
    } else {
        Verdict::Undetermined
    }
}

/// The verdict on `failure` (one of `runs`, its latest attempt as given) among `runs`; `Undetermined` when it did
/// not fail or is not among them.
pub fn classify(runs: &[ObservedRun], failure: &ObservedRun) -> Verdict {
    let history = attempts(runs, Some(failure.workflow_id));
    history
        .iter()
        .position(|attempt| attempt.run_id == failure.id && attempt.attempt == failure.attempt && attempt.failed)
        .map_or(Verdict::Undetermined, |index| judge(&history, index))
}

/// The verdict on the latest failure: the newest decisive run of `runs` (any workflow, the order of
/// `heal::from_runs::latest_failed_run`) when it failed; `Undetermined` when it passed or there is none.
pub fn latest_failure(runs: &[ObservedRun]) -> Verdict {
    let newest = runs
        .iter()
        .filter(|run| RunOutcome::from_conclusion(&run.conclusion) != RunOutcome::Indecisive)
        .max_by_key(|run| (run.completed_at, run.id, run.attempt));
    newest.map_or(Verdict::Undetermined, |run| classify(runs, run))
}

/// One workflow's failures in the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowFlakiness {
    /// The workflow's id.
    pub workflow_id: u64,
    /// Its name (or file, when the read gave no name).
    pub name: String,
    /// Its file, such as `.github/workflows/ci.yml`, when known.
    pub path: Option<String>,
    /// Failed attempts in the window.
    pub failures: usize,
    /// Of those, the ones judged flaky.
    pub flaky_failures: usize,
}

impl WorkflowFlakiness {
    /// Flaky failures × 100 / failures, rounded down; 0 without failures.
    pub fn rate_percent(&self) -> usize {
        percent(self.flaky_failures, self.failures)
    }
}

/// The flakiness of a repository's window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlakySummary {
    /// Failed attempts in the window, every workflow.
    pub failures: usize,
    /// Of those, the ones judged flaky.
    pub flaky_failures: usize,
    /// The workflows with at least one flaky failure: most flaky failures first, then highest rate, then name;
    /// at most [`MAX_FLAKIEST_WORKFLOWS`].
    pub flakiest: Vec<WorkflowFlakiness>,
}

impl FlakySummary {
    /// Flaky failures × 100 / failures, rounded down; 0 without failures.
    pub fn rate_percent(&self) -> usize {
        percent(self.flaky_failures, self.failures)
    }
}

fn percent(part: usize, whole: usize) -> usize {
    (part * 100).checked_div(whole).unwrap_or(0)
}

/// The failures of the newest `window` runs of `runs` (the health window, capped at 100 likewise), each judged
/// with all of `runs` in view.
pub fn summary(runs: &[ObservedRun], window: usize) -> FlakySummary {
    let mut newest: Vec<&ObservedRun> = runs.iter().collect();
    newest.sort_by_key(|run| std::cmp::Reverse((run.completed_at, run.id, run.attempt)));
    newest.truncate(window.min(100));
    let in_window: std::collections::BTreeSet<i64> = newest.iter().map(|run| run.id).collect();

    let mut by_workflow: BTreeMap<u64, WorkflowFlakiness> = BTreeMap::new();
    for run in &newest {
        by_workflow.entry(run.workflow_id).or_insert_with(|| WorkflowFlakiness {
            workflow_id: run.workflow_id,
            name: run.workflow_name.clone(),
            path: run.workflow_path.clone(),
            failures: 0,
            flaky_failures: 0,
        });
    }
    let mut summary = FlakySummary::default();
    for (workflow_id, counts) in &mut by_workflow {
        let history = attempts(runs, Some(*workflow_id));
        for (index, attempt) in history.iter().enumerate() {
            if !attempt.failed || !in_window.contains(&attempt.run_id) {
                continue;
            }
            counts.failures += 1;
            if judge(&history, index) == Verdict::Flaky {
                counts.flaky_failures += 1;
            }
        }
        summary.failures += counts.failures;
        summary.flaky_failures += counts.flaky_failures;
    }
    let mut flakiest: Vec<WorkflowFlakiness> =
        by_workflow.into_values().filter(|workflow| workflow.flaky_failures > 0).collect();
    flakiest.sort_by(|a, b| {
        b.flaky_failures
            .cmp(&a.flaky_failures)
            .then(b.rate_percent().cmp(&a.rate_percent()))
            .then(a.name.cmp(&b.name))
            .then(a.workflow_id.cmp(&b.workflow_id))
    });
    flakiest.truncate(MAX_FLAKIEST_WORKFLOWS);
    summary.flakiest = flakiest;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(workflow, sha, conclusion, attempt)`, oldest first, one minute apart; a run with attempt > 1 right after
    /// one of the same workflow and sha is a later attempt of it (same id), else ids count from 1.
    type Spec<'a> = (u64, &'a str, &'a str, i32);

    fn runs(spec: &[Spec]) -> Vec<ObservedRun> {
        let mut out: Vec<ObservedRun> = Vec::new();
        for (i, (workflow, sha, conclusion, attempt)) in spec.iter().enumerate() {
            let i = i64::try_from(i).unwrap();
            let id = if *attempt > 1 {
                out.last().filter(|r| r.workflow_id == *workflow && r.head_sha == *sha).map_or(i + 1, |r| r.id)
            } else {
                i + 1
            };
            let time = Timestamp::from_second(1_000_000 + 60 * i).unwrap();
            out.push(ObservedRun {
                id,
                url: None,
                head_sha: (*sha).to_owned(),
                conclusion: (*conclusion).to_owned(),
                attempt: *attempt,
                created_at: time,
                started_at: None,
                completed_at: time,
                workflow_id: *workflow,
                workflow_name: format!("wf{workflow}"),
                workflow_path: Some(format!(".github/workflows/wf{workflow}.yml")),
            });
        }
        out
    }

    fn latest(spec: &[Spec]) -> Verdict {
        latest_failure(&runs(spec))
    }

    #[test]
    fn no_failure_is_undetermined() {
        assert_eq!(latest(&[]), Verdict::Undetermined);
        assert_eq!(latest(&[(1, "a", "failure", 1), (1, "b", "success", 1)]), Verdict::Undetermined);
        assert_eq!(latest(&[(1, "a", "cancelled", 1)]), Verdict::Undetermined);
    }

    #[test]
    fn a_commit_that_passed_and_failed_the_workflow_is_flaky_until_it_keeps_failing() {
        let cases: &[(&[Spec], Verdict, &str)] = &[
            (
                &[(1, "a", "success", 1), (1, "a", "failure", 1)],
                Verdict::Flaky,
                "a pass, then a failure of another run",
            ),
            (
                &[(1, "a", "failure", 1), (1, "a", "success", 1), (1, "a", "failure", 1)],
                Verdict::Flaky,
                "fail, pass, fail",
            ),
            (
                &[(1, "z", "success", 1), (1, "a", "success", 1), (1, "a", "timed_out", 1)],
                Verdict::Flaky,
                "timed_out fails",
            ),
            (
                &[(1, "a", "success", 1), (1, "a", "failure", 1), (1, "a", "failure", 1)],
                Verdict::Flaky,
                "a streak of 2 on a commit that passed",
            ),
            (
                &[(1, "a", "success", 1), (1, "a", "failure", 1), (1, "a", "failure", 1), (1, "a", "failure", 1)],
                Verdict::Deterministic,
                "3 in a row: the unchanged commit broke for good",
            ),
            (
                &[(1, "a", "success", 1), (2, "a", "success", 1), (1, "a", "failure", 3)],
                Verdict::Deterministic,
                "a run that failed in each of its 3 attempts",
            ),
        ];
        for (spec, expected, why) in cases {
            assert_eq!(latest(spec), *expected, "{why}");
        }
    }

    #[test]
    fn a_pass_of_another_workflow_on_the_commit_proves_nothing() {
        let spec = [(1, "z", "success", 1), (2, "a", "success", 1), (1, "a", "failure", 1)];
        assert_eq!(latest(&spec), Verdict::Undetermined);
    }

    #[test]
    fn a_rerun_that_passed_makes_its_commit_flaky() {
        // Run 1 on `a` failed, was re-run to a pass (listed as attempt 2 only); run 2 on `a` failed.
        let spec = [(1, "a", "success", 2), (1, "a", "failure", 1)];
        let all = runs(&spec);
        assert_eq!(all[0].id, 1);
        assert_eq!(latest_failure(&all), Verdict::Flaky);
        // Each attempt given on its own is read as given.
        let given = [(1, "a", "failure", 1), (1, "a", "success", 2), (1, "b", "failure", 1)];
        assert_eq!(summary(&runs(&given), 20).flaky_failures, 1, "the failed attempt 1 of `a`");
    }

    #[test]
    fn a_later_pass_of_the_commit_makes_an_earlier_failure_flaky_in_hindsight() {
        let all = runs(&[(1, "a", "failure", 1), (1, "a", "success", 1)]);
        assert_eq!(classify(&all, &all[0]), Verdict::Flaky);
        assert_eq!(classify(&all, &all[1]), Verdict::Undetermined, "a pass is no failure");
        // However long the streak was: the same code passed afterwards.
        let all =
            runs(&[(1, "a", "failure", 1), (1, "a", "failure", 1), (1, "a", "failure", 1), (1, "a", "success", 1)]);
        assert_eq!(classify(&all, &all[2]), Verdict::Flaky);
        assert_eq!(classify(&all[..3], &all[2]), Verdict::Deterministic, "without that pass in view");
    }

    #[test]
    fn a_flipping_history_is_flaky_until_the_streak_is_stable() {
        let flapping: &[Spec] =
            &[(1, "a", "success", 1), (1, "b", "failure", 1), (1, "c", "success", 1), (1, "d", "failure", 1)];
        assert_eq!(latest(flapping), Verdict::Flaky, "3 flips among 4");
        let mut two = flapping.to_vec();
        two.push((1, "e", "failure", 1));
        assert_eq!(latest(&two), Verdict::Flaky, "a streak of 2 still flaps");
        let mut three = two.clone();
        three.push((1, "f", "failure", 1));
        assert_eq!(latest(&three), Verdict::Deterministic, "a streak of 3 is broken, not flapping");
        assert_eq!(STABLE_STREAK, 3);
        assert_eq!(latest(&flapping[1..]), Verdict::Undetermined, "2 flips are not enough");
    }

    #[test]
    fn flips_are_counted_among_the_newest_ten_attempts_only() {
        // P F P … P F: the flips P→F, F→P and the last P→F are all in view only while the window reaches `o2`.
        let history = |passes: usize| {
            let shas: Vec<String> = (0..passes).map(|i| format!("p{i}")).collect();
            let mut spec: Vec<Spec> = vec![(1, "o1", "failure", 1), (1, "o2", "success", 1), (1, "o3", "failure", 1)];
            spec.extend(shas.iter().map(|sha| (1, sha.as_str(), "success", 1)));
            spec.push((1, "new", "failure", 1));
            latest_failure(&runs(&spec))
        };
        assert_eq!(history(7), Verdict::Flaky, "o2, o3, 7 passes and the failure: 10 attempts, 3 flips");
        assert_eq!(history(8), Verdict::Undetermined, "o2 left the window of 10: 2 flips");
    }

    #[test]
    fn failing_again_without_a_pass_is_deterministic() {
        let cases: &[(&[Spec], Verdict, &str)] = &[
            (&[(1, "a", "success", 1), (1, "b", "failure", 1)], Verdict::Undetermined, "one failure"),
            (
                &[(1, "a", "success", 1), (1, "b", "failure", 1), (1, "c", "failure", 1)],
                Verdict::Deterministic,
                "two commits",
            ),
            (&[(1, "b", "failure", 1), (1, "b", "failure", 1)], Verdict::Deterministic, "two runs of one commit"),
            (&[(1, "b", "failure", 2)], Verdict::Deterministic, "a re-run failed again"),
            (
                &[(1, "b", "failure", 1), (1, "b", "cancelled", 1), (1, "c", "failure", 1)],
                Verdict::Deterministic,
                "a cancelled run neither breaks nor extends the streak",
            ),
            (
                &[(1, "b", "failure", 1), (2, "b", "success", 1), (1, "c", "failure", 1)],
                Verdict::Deterministic,
                "another workflow's pass does not break the streak",
            ),
        ];
        for (spec, expected, why) in cases {
            assert_eq!(latest(spec), *expected, "{why}");
        }
    }

    #[test]
    fn the_latest_failure_is_the_newest_decisive_run_of_any_workflow() {
        let spec = [(1, "a", "failure", 1), (1, "b", "failure", 1), (2, "b", "failure", 1)];
        assert_eq!(latest(&spec), Verdict::Undetermined, "workflow 2 failed once");
        let spec = [(2, "a", "failure", 1), (1, "b", "failure", 1), (1, "b", "failure", 1)];
        assert_eq!(latest(&spec), Verdict::Deterministic);
        let spec = [(1, "a", "failure", 1), (1, "b", "failure", 1), (2, "b", "success", 1)];
        assert_eq!(latest(&spec), Verdict::Undetermined, "the newest decisive run passed");
    }

    #[test]
    fn classify_is_undetermined_for_runs_it_does_not_know() {
        let all = runs(&[(1, "a", "failure", 1), (1, "a", "failure", 1)]);
        let mut stranger = all[0].clone();
        stranger.id = 99;
        assert_eq!(classify(&all, &stranger), Verdict::Undetermined);
        assert_eq!(classify(&all, &all[1]), Verdict::Deterministic);
    }

    #[test]
    fn summary_rates_failures_in_the_window_and_lists_the_flakiest_workflows() {
        let spec: &[Spec] = &[
            (1, "a", "failure", 1),
            (1, "a", "success", 1), // wf1: failure on `a` flaky
            (2, "a", "failure", 1),
            (2, "b", "failure", 1), // wf2: deterministic streak, not flaky
            (3, "c", "success", 2), // wf3: attempt 1 (inferred failed) flaky
            (3, "d", "failure", 1),
            (3, "d", "success", 1), // wf3: failure on `d` flaky
        ];
        let s = summary(&runs(spec), 20);
        assert_eq!((s.failures, s.flaky_failures, s.rate_percent()), (5, 3, 60));
        let names: Vec<(&str, usize, usize)> =
            s.flakiest.iter().map(|w| (w.name.as_str(), w.flaky_failures, w.failures)).collect();
        assert_eq!(names, vec![("wf3", 2, 2), ("wf1", 1, 1)]);
        assert_eq!(s.flakiest[0].path.as_deref(), Some(".github/workflows/wf3.yml"));
        assert_eq!(s.flakiest[0].rate_percent(), 100);
    }

    #[test]
    fn summary_counts_only_the_window_but_judges_with_everything_read() {
        let spec: &[Spec] = &[(1, "a", "failure", 1), (1, "a", "success", 1), (1, "b", "failure", 1)];
        let s = summary(&runs(spec), 1);
        assert_eq!((s.failures, s.flaky_failures), (1, 0), "only `b`'s failure is in a window of 1");
        let s = summary(&runs(spec), 3);
        assert_eq!((s.failures, s.flaky_failures, s.rate_percent()), (2, 1, 50));
        assert_eq!(summary(&[], 20), FlakySummary::default());
        assert_eq!(FlakySummary::default().rate_percent(), 0);
    }

    #[test]
    fn flakiest_is_bounded_and_ordered() {
        let mut spec: Vec<Spec> = Vec::new();
        for workflow in 1..=7u64 {
            // Workflow n has n flaky failures on its own commit `s`: fail, pass, fail, ….
            for _ in 0..workflow {
                spec.push((workflow, "s", "failure", 1));
            }
            spec.push((workflow, "s", "success", 1));
        }
        let s = summary(&runs(&spec), 100);
        let order: Vec<u64> = s.flakiest.iter().map(|w| w.workflow_id).collect();
        assert_eq!(order, vec![7, 6, 5, 4, 3]);
        assert_eq!(s.flakiest.len(), MAX_FLAKIEST_WORKFLOWS);
    }
}
