//! How a repository is doing, from its recent default-branch runs and its security alerts. The Repository
//! controller writes the result to status; the HealingPolicy controller reads the same verdict, so both agree on one
//! definition of unhealthy.
//!
//! Rules, in one place:
//! - **Decisive runs**: `success` passes; `failure` and `timed_out` fail. `cancelled`, `skipped` and anything else
//!   neither pass nor fail: they are left out of the success rate, the durations and the failure streak (a streak
//!   goes on through a cancelled run), because a person or a newer push stopped them, not the code.
//! - **Success rate**: passes × 100 / decisive runs, rounded down (100 only when every decisive run passed).
//! - **Percentiles**: nearest rank over the decisive runs' durations (`started` to `completed`, whole seconds):
//!   the value at rank ⌈p/100 × n⌉ of the sorted list; the median is p50, the lower middle value for even n.
//! - **Trend**: median of the newer half of the decisive runs against the older half (the middle run of an odd count
//!   belongs to neither); `Slower` above 120 % of the older median, `Faster` below 80 %, else `Stable`. Needs four
//!   decisive runs.
//! - **Flaky**: a commit that failed and later passed, judged per sha across runs and re-run attempts.
//! - **Flaky rate** and **flakiest workflows**: per workflow, by the rules of `plan::flaky`.
//! - **Score**: success rate − 10 per consecutive failure (at most 50) − 10 when flaky, clamped to 0..=100; 0 when
//!   the window holds no decisive run (no evidence is not health).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::condition::ConditionStatus;
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::repository::{AlertCounts, FlakyWorkflow, HealthStatus, RunReference, SecurityStatus};
use crate::plan::flaky;

/// The condition type the verdict is written under.
pub const HEALTHY: &str = "Healthy";

/// How a completed run ended, as far as health is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunOutcome {
    /// `success`.
    Passed,
    /// `failure` or `timed_out`.
    Failed,
    /// `cancelled`, `skipped`, `neutral`, `stale`, `action_required`, or a conclusion GitHub may add later.
    Indecisive,
}

impl RunOutcome {
    /// Classifies GitHub's `conclusion` of a completed run.
    pub fn from_conclusion(conclusion: &str) -> Self {
        match conclusion {
            "success" => RunOutcome::Passed,
            "failure" | "timed_out" => RunOutcome::Failed,
            _ => RunOutcome::Indecisive,
        }
    }
}

/// One completed attempt of a default-branch build or test run, as the controller read it from GitHub. A run that
/// was re-run appears once per attempt (same `id`, rising `attempt`), so a re-run that passed shows as flaky.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRun {
    /// The run's id.
    pub id: i64,
    /// The run's page on GitHub.
    pub url: Option<String>,
    /// The commit the run built.
    pub head_sha: String,
    /// GitHub's `conclusion`, such as `success`, `failure`, `cancelled`.
    pub conclusion: String,
    /// The attempt, from 1.
    pub attempt: i32,
    /// When the run was created.
    pub created_at: Timestamp,
    /// When the attempt started; `created_at` stands in when GitHub did not say.
    pub started_at: Option<Timestamp>,
    /// When the attempt completed.
    pub completed_at: Timestamp,
    /// The workflow's id: flakiness is judged per workflow.
    pub workflow_id: u64,
    /// The workflow's name (its file when the read gave no name).
    pub workflow_name: String,
    /// The workflow's file, such as `.github/workflows/ci.yml`, when known.
    pub workflow_path: Option<String>,
}

impl ObservedRun {
    fn outcome(&self) -> RunOutcome {
        RunOutcome::from_conclusion(&self.conclusion)
    }

    fn duration_seconds(&self) -> i64 {
        let start = self.started_at.unwrap_or(self.created_at);
        self.completed_at.duration_since(start).as_secs().max(0)
    }

    /// Order of events: completion, then id and attempt so equal times still sort the same way every time.
    fn chronology(&self) -> (Timestamp, i64, i32) {
        (self.completed_at, self.id, self.attempt)
    }
}

/// Health of the newest `window` runs of `runs` (any order; sorted newest first here), the window capped at 100
/// like `thresholds.windowRuns`. `last_success_time` and `last_failure_time` look at every run given.
pub fn health(runs: &[ObservedRun], window: usize) -> HealthStatus {
    let window = window.min(100);
    let mut sorted: Vec<&ObservedRun> = runs.iter().collect();
    sorted.sort_by_key(|run| std::cmp::Reverse(run.chronology()));
    let last_time =
        |outcome: RunOutcome| sorted.iter().find(|run| run.outcome() == outcome).map(|run| Time(run.completed_at));
    let last_success_time = last_time(RunOutcome::Passed);
    let last_failure_time = last_time(RunOutcome::Failed);
    sorted.truncate(window);

    let decisive: Vec<&ObservedRun> =
        sorted.iter().copied().filter(|r| r.outcome() != RunOutcome::Indecisive).collect();
    let passes = decisive.iter().filter(|r| r.outcome() == RunOutcome::Passed).count();
    let success_rate_percent = if decisive.is_empty() { 0 } else { passes * 100 / decisive.len() };
    let consecutive_failures = decisive.iter().take_while(|r| r.outcome() == RunOutcome::Failed).count();
    let durations: Vec<i64> = decisive.iter().map(|r| r.duration_seconds()).collect();
    let flaky = is_flaky(&sorted);
    let flakiness = flaky::summary(runs, window);
    let score = if decisive.is_empty() {
        0
    } else {
        let streak_penalty = (consecutive_failures * 10).min(50);
        let flaky_penalty = if flaky { 10 } else { 0 };
        success_rate_percent.saturating_sub(streak_penalty + flaky_penalty)
    };

    HealthStatus {
        score: to_i32(score),
        window_runs: to_i32(sorted.len()),
        success_rate_percent: to_i32(success_rate_percent),
        consecutive_failures: to_i32(consecutive_failures),
        median_duration_seconds: nearest_rank(&durations, 50),
        p90_duration_seconds: nearest_rank(&durations, 90),
        duration_trend: duration_trend(&durations).map(|trend| trend.as_str().to_owned()),
        flaky,
        flaky_rate_percent: to_i32(flakiness.rate_percent()),
        flakiest_workflows: flakiness
            .flakiest
            .iter()
            .map(|workflow| FlakyWorkflow {
                name: at_most(&workflow.name, FLAKY_WORKFLOW_TEXT),
                path: workflow.path.as_deref().map(|path| at_most(path, FLAKY_WORKFLOW_TEXT)),
                flaky_failures: to_i32(workflow.flaky_failures),
                failures: to_i32(workflow.failures),
                flaky_rate_percent: to_i32(workflow.rate_percent()),
            })
            .collect(),
        last_run: sorted.first().map(|run| RunReference {
            id: run.id,
            url: run.url.clone(),
            head_sha: Some(run.head_sha.clone()),
            conclusion: Some(run.conclusion.clone()),
            completed_at: Some(Time(run.completed_at)),
        }),
        last_success_time,
        last_failure_time,
    }
}

/// The schema's bound on `flakiestWorkflows[].name` and `.path`.
const FLAKY_WORKFLOW_TEXT: usize = 255;

/// `text` cut to at most `max` characters, so an overlong workflow name cannot make the status invalid.
fn at_most(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Whether some sha failed and then passed, in time order (a later run or a later attempt of the same run).
fn is_flaky(runs_newest_first: &[&ObservedRun]) -> bool {
    let mut earliest_failure: BTreeMap<&str, (Timestamp, i64, i32)> = BTreeMap::new();
    for run in runs_newest_first.iter().rev() {
        match run.outcome() {
            RunOutcome::Failed => {
                earliest_failure.entry(run.head_sha.as_str()).or_insert(run.chronology());
            }
            RunOutcome::Passed
                if earliest_failure.get(run.head_sha.as_str()).is_some_and(|f| *f < run.chronology()) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// The nearest-rank `percentile` of `values`: the value at rank ⌈p/100 × n⌉ (from 1) of the sorted values.
pub fn nearest_rank(values: &[i64], percentile: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (percentile.min(100) * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// How the newer half of the runs compares to the older half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationTrend {
    /// The newer median is below 80 % of the older one.
    Faster,
    /// Within ±20 %.
    Stable,
    /// The newer median is above 120 % of the older one.
    Slower,
}

impl DurationTrend {
    /// The word written to `status.health.durationTrend`.
    pub fn as_str(self) -> &'static str {
        match self {
            DurationTrend::Faster => "Faster",
            DurationTrend::Stable => "Stable",
            DurationTrend::Slower => "Slower",
        }
    }
}

/// The trend of durations given newest first; `None` with fewer than four.
pub fn duration_trend(durations_newest_first: &[i64]) -> Option<DurationTrend> {
    let half = durations_newest_first.len() / 2;
    if half < 2 {
        return None;
    }
    let newer = nearest_rank(&durations_newest_first[..half], 50)?;
    let older = nearest_rank(&durations_newest_first[durations_newest_first.len() - half..], 50)?;
    // Integer comparisons: newer/older > 1.2 ⇔ 100·newer > 120·older, without division by a zero median.
    Some(if i128::from(newer) * 100 > i128::from(older) * 120 {
        DurationTrend::Slower
    } else if i128::from(newer) * 100 < i128::from(older) * 80 {
        DurationTrend::Faster
    } else {
        DurationTrend::Stable
    })
}

/// Why a repository is unhealthy. Each problem gets its own issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Problem {
    /// The failure streak reached `thresholds.consecutiveFailures`.
    ConsecutiveFailures,
    /// The success rate fell below `thresholds.minSuccessRatePercent`.
    LowSuccessRate,
}

impl Problem {
    /// Every problem, in the order the verdict reports them.
    pub const ALL: [Problem; 2] = [Problem::ConsecutiveFailures, Problem::LowSuccessRate];

    /// The CamelCase name used as condition reason, issue marker and `OpenIssue.problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::ConsecutiveFailures => "ConsecutiveFailures",
            Problem::LowSuccessRate => "LowSuccessRate",
        }
    }

    /// The problem named `name`, as [`Problem::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Problem::ALL.into_iter().find(|problem| problem.as_str() == name)
    }

    /// How bad the problem is, larger is worse: the failure streak, or the points below 100 % success. An issue is
    /// commented on only when this grows past what it last said.
    pub fn severity(self, health: &HealthStatus) -> i64 {
        match self {
            Problem::ConsecutiveFailures => i64::from(health.consecutive_failures),
            Problem::LowSuccessRate => 100 - i64::from(health.success_rate_percent),
        }
    }

    /// One sentence describing the problem as it stands.
    pub fn describe(self, health: &HealthStatus, thresholds: &HealingThresholds) -> String {
        match self {
            Problem::ConsecutiveFailures => format!(
                "{} default-branch runs failed in a row (threshold {})",
                health.consecutive_failures, thresholds.consecutive_failures
            ),
            Problem::LowSuccessRate => format!(
                "{} % of the last {} default-branch runs passed (minimum {} %)",
                health.success_rate_percent,
                health.window_runs,
                thresholds.min_success_rate_percent.unwrap_or_default()
            ),
        }
    }
}

/// The problems `health` has under `thresholds`, in [`Problem::ALL`] order. Empty when there is no decisive run.
pub fn problems(health: &HealthStatus, thresholds: &HealingThresholds) -> Vec<Problem> {
    if !has_evidence(health) {
        return Vec::new();
    }
    Problem::ALL
        .into_iter()
        .filter(|problem| match problem {
            Problem::ConsecutiveFailures => health.consecutive_failures >= thresholds.consecutive_failures,
            Problem::LowSuccessRate => {
                thresholds.min_success_rate_percent.is_some_and(|min| health.success_rate_percent < min)
            }
        })
        .collect()
}

/// Whether the health rests on at least one decisive run (a window of only cancelled runs says nothing).
fn has_evidence(health: &HealthStatus) -> bool {
    // One pass makes the rounded-down rate at least 1 (the window is at most 100 runs); only failures make a streak.
    health.consecutive_failures > 0 || health.success_rate_percent > 0
}

/// The `Healthy` condition's status, reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthVerdict {
    /// `True` healthy, `False` past a threshold, `Unknown` without decisive runs.
    pub status: ConditionStatus,
    /// `Passing`, `FailingBelowThreshold`, `ConsecutiveFailures`, `LowSuccessRate` or `NoRuns`.
    pub reason: &'static str,
    /// What the numbers are, for people.
    pub message: String,
}

/// The `Healthy` verdict for `health` under `thresholds`. The Repository controller passes the thresholds of the
/// HealingPolicy that selects the repository, or `HealingThresholds::default()`.
pub fn verdict(health: &HealthStatus, thresholds: &HealingThresholds) -> HealthVerdict {
    if !has_evidence(health) {
        return HealthVerdict {
            status: ConditionStatus::Unknown,
            reason: "NoRuns",
            message: format!("no passed or failed default-branch run among the last {}", health.window_runs),
        };
    }
    let found = problems(health, thresholds);
    if !found.is_empty() {
        let message: Vec<String> = found.iter().map(|problem| problem.describe(health, thresholds)).collect();
        return HealthVerdict {
            status: ConditionStatus::False,
            reason: found[0].as_str(),
            message: message.join("; "),
        };
    }
    let summary = format!(
        "{} % of the last {} runs passed, score {}",
        health.success_rate_percent, health.window_runs, health.score
    );
    if health.consecutive_failures > 0 {
        HealthVerdict {
            status: ConditionStatus::True,
            reason: "FailingBelowThreshold",
            message: format!(
                "{} failed in a row, below the threshold of {}; {summary}",
                health.consecutive_failures, thresholds.consecutive_failures
            ),
        }
    } else {
        HealthVerdict { status: ConditionStatus::True, reason: "Passing", message: summary }
    }
}

/// One security alert as GitHub lists it: its state and severity text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedAlert {
    /// `open`, `fixed`, `dismissed`, `resolved`, `auto_dismissed`; only `open` counts.
    pub state: String,
    /// `critical`, `high`, `medium`, `low`, or a code-scanning rule severity `error`, `warning`, `note`.
    /// Secret-scanning alerts have none; pass an empty string.
    pub severity: String,
}

/// What the GitHub layer found for one security feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeatureAlerts {
    /// GitHub says the feature is off for the repository.
    Disabled,
    /// The feature is on; these are its alerts.
    Listed(Vec<ObservedAlert>),
    /// Not read: on without alerts, or off.
    Unknown,
}

/// The security posture from the three alert lists. Errors reading a list are the controller's to handle (it keeps
/// the previous status); only "disabled" is posture, and "unknown" is reported apart from it.
pub fn security(
    code_scanning: &FeatureAlerts,
    dependabot: &FeatureAlerts,
    secret_scanning: &FeatureAlerts,
) -> SecurityStatus {
    let open = |feature: &FeatureAlerts| -> Vec<ObservedAlert> {
        match feature {
            FeatureAlerts::Disabled | FeatureAlerts::Unknown => Vec::new(),
            FeatureAlerts::Listed(alerts) => alerts.iter().filter(|a| a.state == "open").cloned().collect(),
        }
    };
    let features = [("codeScanning", code_scanning), ("dependabot", dependabot), ("secretScanning", secret_scanning)];
    let named = |state: fn(&FeatureAlerts) -> bool| -> Vec<String> {
        features.iter().filter(|(_, feature)| state(feature)).map(|(name, _)| (*name).to_owned()).collect()
    };
    SecurityStatus {
        code_scanning: count_by_severity(&open(code_scanning)),
        dependabot: count_by_severity(&open(dependabot)),
        secret_scanning: to_i32(open(secret_scanning).len()),
        disabled_features: named(|feature| matches!(feature, FeatureAlerts::Disabled)),
        unknown_features: named(|feature| matches!(feature, FeatureAlerts::Unknown)),
    }
}

/// Counts by severity. Code scanning's `error` counts as high, `warning` and `note` (and anything unknown) as low.
fn count_by_severity(alerts: &[ObservedAlert]) -> AlertCounts {
    let mut counts = AlertCounts::default();
    for alert in alerts {
        let bucket = match alert.severity.to_ascii_lowercase().as_str() {
            "critical" => &mut counts.critical,
            "high" | "error" => &mut counts.high,
            "medium" | "moderate" => &mut counts.medium,
            _ => &mut counts.low,
        };
        *bucket = bucket.saturating_add(1);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs given oldest first as `(sha, conclusion, attempt, duration seconds)`, one minute apart, ids from 1.
    /// `(sha, conclusion, attempt, duration seconds)`.
    type RunSpec<'a> = (&'a str, &'a str, i32, i64);

    fn runs(spec: &[RunSpec]) -> Vec<ObservedRun> {
        spec.iter()
            .enumerate()
            .map(|(i, (sha, conclusion, attempt, secs))| {
                let start = 1_000_000 + 600 * i64::try_from(i).unwrap();
                ObservedRun {
                    id: if *attempt > 1 { 1000 } else { i64::try_from(i).unwrap() + 1 },
                    url: None,
                    head_sha: (*sha).to_owned(),
                    conclusion: (*conclusion).to_owned(),
                    attempt: *attempt,
                    created_at: Timestamp::from_second(start).unwrap(),
                    started_at: Some(Timestamp::from_second(start).unwrap()),
                    completed_at: Timestamp::from_second(start + secs).unwrap(),
                    workflow_id: 1,
                    workflow_name: "CI".to_owned(),
                    workflow_path: None,
                }
            })
            .collect()
    }

    fn thresholds(consecutive: i32, min_rate: Option<i32>) -> HealingThresholds {
        HealingThresholds { consecutive_failures: consecutive, min_success_rate_percent: min_rate, window_runs: 20 }
    }

    #[test]
    fn success_rate_and_streak_ignore_cancelled_and_skipped() {
        let h = health(
            &runs(&[
                ("a", "success", 1, 60),
                ("b", "failure", 1, 60),
                ("c", "cancelled", 1, 5),
                ("d", "timed_out", 1, 60),
                ("e", "skipped", 1, 0),
            ]),
            20,
        );
        assert_eq!(h.window_runs, 5);
        assert_eq!(h.success_rate_percent, 33, "1 pass of 3 decisive, rounded down");
        assert_eq!(h.consecutive_failures, 2, "the cancelled run neither breaks nor extends the streak");
        assert_eq!(h.score, 13, "33 - 2 x 10");
        assert_eq!(h.last_run.as_ref().map(|r| r.id), Some(5));
        assert_eq!(h.last_success_time, Some(Time(Timestamp::from_second(1_000_060).unwrap())));
        assert_eq!(h.last_failure_time, Some(Time(Timestamp::from_second(1_001_860).unwrap())));
    }

    #[test]
    fn window_keeps_only_the_newest_runs() {
        let h = health(
            &runs(&[
                ("a", "failure", 1, 60),
                ("b", "failure", 1, 60),
                ("c", "success", 1, 60),
                ("d", "success", 1, 60),
            ]),
            2,
        );
        assert_eq!((h.window_runs, h.success_rate_percent, h.consecutive_failures, h.score), (2, 100, 0, 100));
        assert!(h.last_failure_time.is_some(), "last failure looks past the window");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let cases: &[(&[i64], usize, Option<i64>)] = &[
            (&[], 50, None),
            (&[7], 90, Some(7)),
            (&[4, 1, 3, 2], 50, Some(2)),
            (&[5, 1, 3], 50, Some(3)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, Some(9)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, Some(10)),
            (&[3, 1, 2], 0, Some(1)),
        ];
        for (values, p, expected) in cases {
            assert_eq!(nearest_rank(values, *p), *expected, "{values:?} p{p}");
        }
    }

    #[test]
    fn trend_uses_a_twenty_percent_band() {
        let cases: &[(&[i64], Option<DurationTrend>)] = &[
            (&[100, 100, 100], None),
            (&[121, 121, 100, 100], Some(DurationTrend::Slower)),
            (&[120, 120, 100, 100], Some(DurationTrend::Stable)),
            (&[80, 80, 100, 100], Some(DurationTrend::Stable)),
            (&[79, 79, 100, 100], Some(DurationTrend::Faster)),
            (&[10, 10, 999, 0, 0], Some(DurationTrend::Slower)),
            (&[0, 0, 0, 0], Some(DurationTrend::Stable)),
        ];
        for (durations, expected) in cases {
            assert_eq!(duration_trend(durations), *expected, "{durations:?}");
        }
    }

    #[test]
    fn durations_come_from_decisive_runs_newest_first() {
        let h = health(
            &runs(&[
                ("a", "success", 1, 100),
                ("b", "success", 1, 100),
                ("c", "cancelled", 1, 1),
                ("d", "success", 1, 200),
                ("e", "success", 1, 300),
            ]),
            20,
        );
        assert_eq!((h.median_duration_seconds, h.p90_duration_seconds), (Some(100), Some(300)));
        assert_eq!(h.duration_trend.as_deref(), Some("Slower"));
    }

    #[test]
    fn flakiness_needs_a_failure_then_a_pass_of_the_same_sha() {
        let cases: &[(&[RunSpec], bool)] = &[
            (&[("a", "failure", 1, 1), ("a", "success", 1, 1)], true),
            (&[("a", "failure", 1, 1), ("a", "success", 2, 1)], true),
            (&[("a", "success", 1, 1), ("a", "failure", 1, 1)], false),
            (&[("a", "failure", 1, 1), ("b", "success", 1, 1)], false),
            (&[("a", "cancelled", 1, 1), ("a", "success", 1, 1)], false),
        ];
        for (spec, expected) in cases {
            assert_eq!(health(&runs(spec), 20).flaky, *expected, "{spec:?}");
        }
        assert_eq!(health(&runs(&[("a", "failure", 1, 1), ("a", "success", 2, 1)]), 20).score, 40, "50 % - 10 flaky");
    }

    #[test]
    fn flaky_rate_and_flakiest_workflows_follow_plan_flaky() {
        let mut all = runs(&[("a", "failure", 1, 1), ("a", "success", 1, 1), ("b", "failure", 1, 1)]);
        all[2].workflow_id = 2;
        all[2].workflow_name = "x".repeat(300);
        let h = health(&all, 20);
        assert_eq!(h.flaky_rate_percent, 50, "the failure on `a` is flaky, the one of workflow 2 is not");
        let listed: Vec<(&str, i32, i32, i32)> = h
            .flakiest_workflows
            .iter()
            .map(|w| (w.name.as_str(), w.flaky_failures, w.failures, w.flaky_rate_percent))
            .collect();
        assert_eq!(listed, vec![("CI", 1, 1, 100)]);
        all[2].workflow_id = 1;
        all[2].head_sha = "a".into();
        let h = health(&all, 20);
        assert_eq!(h.flakiest_workflows[0].name.chars().count(), 255, "cut to the schema's bound");
        assert_eq!((h.flaky_rate_percent, h.flakiest_workflows[0].failures), (100, 2));
        assert_eq!(health(&runs(&[("a", "success", 1, 1)]), 20).flaky_rate_percent, 0);
    }

    #[test]
    fn score_is_zero_without_decisive_runs_and_streak_penalty_caps_at_fifty() {
        assert_eq!(health(&[], 20).score, 0);
        assert_eq!(health(&runs(&[("a", "cancelled", 1, 1)]), 20).score, 0);
        let mut spec = vec![("a", "success", 1, 1); 40];
        spec.extend(vec![("b", "failure", 1, 1); 6]);
        let h = health(&runs(&spec), 100);
        assert_eq!((h.success_rate_percent, h.consecutive_failures, h.score), (86, 6, 36));
    }

    #[test]
    fn verdict_per_threshold() {
        let status = |rate: i32, streak: i32| HealthStatus {
            success_rate_percent: rate,
            consecutive_failures: streak,
            window_runs: 10,
            ..HealthStatus::default()
        };
        let cases = [
            (status(0, 0), thresholds(3, None), ConditionStatus::Unknown, "NoRuns"),
            (status(100, 0), thresholds(3, Some(90)), ConditionStatus::True, "Passing"),
            (status(80, 2), thresholds(3, None), ConditionStatus::True, "FailingBelowThreshold"),
            (status(70, 3), thresholds(3, None), ConditionStatus::False, "ConsecutiveFailures"),
            (status(0, 10), thresholds(3, Some(50)), ConditionStatus::False, "ConsecutiveFailures"),
            (status(89, 0), thresholds(3, Some(90)), ConditionStatus::False, "LowSuccessRate"),
            (status(90, 0), thresholds(3, Some(90)), ConditionStatus::True, "Passing"),
        ];
        for (health, thresholds, status, reason) in cases {
            let v = verdict(&health, &thresholds);
            assert_eq!((v.status, v.reason), (status, reason), "{health:?} {thresholds:?}: {}", v.message);
        }
        assert_eq!(
            problems(&status(0, 10), &thresholds(3, Some(50))),
            vec![Problem::ConsecutiveFailures, Problem::LowSuccessRate]
        );
    }

    #[test]
    fn security_counts_open_alerts_and_reports_disabled_features() {
        let alert = |state: &str, severity: &str| ObservedAlert { state: state.into(), severity: severity.into() };
        let code = FeatureAlerts::Listed(vec![
            alert("open", "critical"),
            alert("open", "error"),
            alert("open", "warning"),
            alert("open", "note"),
            alert("fixed", "critical"),
        ]);
        let dependabot =
            FeatureAlerts::Listed(vec![alert("open", "high"), alert("open", "medium"), alert("dismissed", "high")]);
        let s = security(&code, &dependabot, &FeatureAlerts::Disabled);
        assert_eq!(s.code_scanning, AlertCounts { critical: 1, high: 1, medium: 0, low: 2 });
        assert_eq!(s.dependabot, AlertCounts { critical: 0, high: 1, medium: 1, low: 0 });
        assert_eq!(s.secret_scanning, 0);
        assert_eq!(s.disabled_features, vec!["secretScanning".to_owned()]);
        let secrets = FeatureAlerts::Listed(vec![alert("open", ""), alert("resolved", "")]);
        assert_eq!(security(&FeatureAlerts::Disabled, &FeatureAlerts::Listed(vec![]), &secrets).secret_scanning, 1);
    }

    #[test]
    fn an_unknown_feature_is_reported_apart_from_the_disabled_ones() {
        let s = security(&FeatureAlerts::Unknown, &FeatureAlerts::Disabled, &FeatureAlerts::Listed(vec![]));
        assert_eq!(s.code_scanning, AlertCounts::default());
        let expected = (vec!["dependabot".to_owned()], vec!["codeScanning".to_owned()]);
        assert_eq!((s.disabled_features, s.unknown_features), expected);
    }
}
