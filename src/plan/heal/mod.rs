//! Self-healing decisions for one repository under one HealingPolicy: observed state, the policy and the audit
//! trail in, a [`HealingPlan`] out. The HealingPolicy controller observes, calls [`decide`], carries out each
//! [`PlannedAction`] whose dispatch is [`Dispatch::Send`], and appends [`PlannedAction::audit`] entries to status
//! with [`append_to_history`].
//!
//! Rules, each in `rules.rs`, in the priority order the per-hour cap is spent in:
//! 1. **CloseIssue**: an owned issue whose problem no longer holds, once health rests on decisive runs and no run
//!    is in progress.
//! 2. **Rerun**: the latest completed run failed and no run is in progress; at most `maxAttemptsPerSha` re-runs of its sha, the n-th (from 0)
//!    no earlier than `backoff × 2ⁿ` after the failed run completed. Re-runs made are the most of: the observed
//!    count, the run's attempt − 1, and the audited Rerun entries naming the sha (so DryRun is bounded too). Not gated on the thresholds: a re-run is the
//!    cheapest repair and most useful before a streak builds.
//! 3. **OpenIssue** for a problem past the thresholds without an owned issue; **CommentIssue** when its severity
//!    grew past the highest severity the issue's marker or comments recorded.
//! 4. **ConfigRepair**: the orchestrator workflow is missing or broken and no open pull request has its branch.
//! 5. **Rollback**: the commit that turned the branch red has `afterConsecutiveFailures` failed runs since; once per
//!    sha (no owned pull request with its branch, open or closed, and no Rollback of that sha in the history).
//! 6. **DependencyUpdate**: per manifest and package, alerts at or above `minSeverity` with a patched version,
//!    raised to the highest first patched version; never when a pull request (open or closed) has the branch,
//!    and not past `maxOpenPullRequests` open ones. With a lockfile beside the manifest the action carries it: the
//!    pull request is a draft until the lockfile-update workflow brought the lockfile in line ([`lockfile`]).
//!
//! 7. **ClosePullRequest**: an open rollback pull request the policy opened, once the branch is green (see [`ladder`]).
//!
//! Then the escalation ladder ([`ladder`]) lets through what the rung each problem reached allows (and holds a
//! deterministic failure's re-runs, a flaky failure's escalation), and every candidate passes the gate: at most one action of a kind per evaluation and none within `cooldown`
//! of the last of its kind on this repository (the cooldown is "least time between two actions of the same kind"),
//! and at most `maxActionsPerRepositoryPerHour` across kinds in the hour before `now`, history included. What the
//! gate holds back is listed in [`HealingPlan::withheld`] with the time it may go. In `DryRun` the same plan is
//! made, every action marked [`Dispatch::RecordOnly`]; its audit entries keep the cooldown and cap honest. As no
//! issue is opened in DryRun, an OpenIssue decision is recorded again once per cooldown while the problem lasts.

pub mod attention;
pub mod from_runs;
pub mod ladder;
pub mod lockfile;
pub mod manifest;
pub mod marker;
pub mod merge;
pub mod revert;
mod rules;
pub mod security_features;
pub mod workflow;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::crd::healing_policy::{AlertSeverity, AuditedAction, EscalationState, HealingMode, HealingPolicySpec};
use crate::crd::repository::HealthStatus;
use crate::plan::health::Problem;

/// Most entries `HealingPolicyStatus.actions` keeps (its schema's bound).
pub const HISTORY_LIMIT: usize = 100;

/// Used when the policy's cooldown does not parse (the API server rejects such objects; only code can build one).
const FALLBACK_COOLDOWN: Duration = Duration::from_secs(30 * 60);

/// What the HealingPolicy controller observed of one repository. The controller maps GitHub's data into it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRepository {
    /// GitHub name of the repository, as `AuditedAction.repository` holds it.
    pub name: String,
    /// Health from `plan::health::health`.
    pub health: HealthStatus,
    /// The latest completed default-branch run, when it failed; `None` when it passed.
    pub latest_failed_run: Option<FailedRun>,
    /// What that failure is (`plan::flaky::latest_failure`): a flaky one is re-run and never escalated, a
    /// deterministic one skips the re-run. `Undetermined` when there is no failure.
    pub latest_failure_verdict: crate::plan::flaky::Verdict,
    /// Whether the newest default-branch run is still queued or running. Its outcome may change the verdict (a
    /// re-run in progress hides the attempt that failed), so re-runs and closing issues wait for it.
    pub run_in_progress: bool,
    /// Re-runs already requested per sha (from the audit trail or the runs' attempt numbers).
    pub rerun_attempts: BTreeMap<String, i32>,
    /// Open Dependabot alerts.
    pub dependabot_alerts: Vec<DependabotAlert>,
    /// Current contents of the manifests the alerts name, by path; a missing path cannot be edited.
    pub manifests: BTreeMap<String, String>,
    /// The lockfile beside each manifest in `manifests` that has one (manifest path → lockfile path): its pull
    /// request waits for the lockfile-update workflow (see [`lockfile`]).
    pub lockfiles: BTreeMap<String, String>,
    /// The orchestrator workflow, when it is missing or broken.
    pub workflow_defect: Option<WorkflowDefect>,
    /// The commit that turned the default branch red, while it is red.
    pub red_commit: Option<RedCommit>,
    /// Open issues carrying the policy's marker (see [`OwnedIssue::from_texts`]).
    pub owned_issues: Vec<OwnedIssue>,
    /// Pull requests, open or closed, whose head branch starts with [`marker::BRANCH_PREFIX`].
    pub owned_pull_requests: Vec<OwnedPullRequest>,
    /// Where the repository stands on the escalation ladder, per problem, as status recorded it (see [`ladder`]).
    pub escalations: Vec<EscalationState>,
}

/// A failed run that may be re-run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRun {
    /// The run's id.
    pub run_id: i64,
    /// The commit it built.
    pub head_sha: String,
    /// Its latest attempt, from 1.
    pub attempt: i32,
    /// Its page on GitHub.
    pub url: Option<String>,
    /// When the latest attempt completed; the backoff counts from here.
    pub completed_at: Timestamp,
}

/// An open Dependabot alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependabotAlert {
    /// The alert number.
    pub number: i64,
    /// The package as the manifest names it.
    pub package: String,
    /// GitHub's ecosystem: `cargo`, `npm`, `pip`, `go`, ….
    pub ecosystem: String,
    /// Path of the manifest.
    pub manifest_path: String,
    /// The vulnerable range, for the pull request's text.
    pub vulnerable_range: String,
    /// The first version without the vulnerability; alerts without one cannot be fixed by raising.
    pub first_patched_version: Option<String>,
    /// The advisory's severity.
    pub severity: AlertSeverity,
}

/// What is wrong with the orchestrator workflow, and what it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowDefect {
    /// Path of the workflow file, such as `.github/workflows/infinity-orchestrator.yml`.
    pub path: String,
    /// Why it needs repair: "missing", or what is broken.
    pub problem: String,
    /// The template from `config/workflows/` to restore.
    pub template: String,
}

/// The commit that turned the default branch red.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedCommit {
    /// Its sha.
    pub sha: String,
    /// First line of its message.
    pub message: String,
    /// Its parent, the last green commit.
    pub parent: String,
    /// Failed default-branch runs since, this commit's included.
    pub failed_runs_since: i32,
    /// When its first failed run completed.
    pub red_since: Timestamp,
}

/// An open issue the policy owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedIssue {
    /// The issue number.
    pub number: i64,
    /// The problem its marker names.
    pub problem: String,
    /// Highest severity recorded in the body's and comments' markers.
    pub reported_severity: i64,
}

impl OwnedIssue {
    /// The owned issue behind `body` and `comments`, or `None` when the body carries no marker.
    pub fn from_texts(number: i64, body: &str, comments: &[&str]) -> Option<Self> {
        let opening = marker::IssueMarker::parse(body)?;
        let reported_severity = std::iter::once(&opening)
            .chain(comments.iter().filter_map(|c| marker::IssueMarker::parse(c)).collect::<Vec<_>>().iter())
            .filter(|m| m.problem == opening.problem)
            .filter_map(|m| m.severity)
            .max()
            .unwrap_or(0);
        Some(OwnedIssue { number, problem: opening.problem, reported_severity })
    }
}

/// A pull request the policy opened, found by its branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedPullRequest {
    /// The pull request number.
    pub number: i64,
    /// Its head branch.
    pub branch: String,
    /// Whether it is open.
    pub open: bool,
}

/// The audit trail the cooldowns and the cap are computed from: `HealingPolicyStatus.actions`.
#[derive(Clone, Copy, Debug)]
pub struct ActionHistory<'a> {
    /// Entries in any order (status keeps them newest first).
    pub entries: &'a [AuditedAction],
}

impl ActionHistory<'_> {
    fn of_repository<'s>(&'s self, repository: &'s str) -> impl Iterator<Item = (&'s AuditedAction, Timestamp)> + 's {
        self.entries.iter().filter(move |e| e.repository == repository).map(|e| (e, e.time.0))
    }
}

/// Whether a planned action goes to GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// `Enforce`: carry it out.
    Send,
    /// `DryRun`: record it in status and an Event only.
    RecordOnly,
}

/// A kind of action, as `AuditedAction.action` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActionKind {
    /// [`HealingAction::CloseIssue`].
    CloseIssue,
    /// [`HealingAction::Rerun`].
    Rerun,
    /// [`HealingAction::OpenIssue`].
    OpenIssue,
    /// [`HealingAction::CommentIssue`].
    CommentIssue,
    /// [`HealingAction::ConfigRepair`].
    ConfigRepair,
    /// [`HealingAction::Rollback`].
    Rollback,
    /// [`HealingAction::DependencyUpdate`].
    DependencyUpdate,
    /// [`HealingAction::ClosePullRequest`].
    ClosePullRequest,
}

impl ActionKind {
    /// The name written to the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::CloseIssue => "CloseIssue",
            ActionKind::Rerun => "Rerun",
            ActionKind::OpenIssue => "OpenIssue",
            ActionKind::CommentIssue => "CommentIssue",
            ActionKind::ConfigRepair => "ConfigRepair",
            ActionKind::Rollback => "Rollback",
            ActionKind::DependencyUpdate => "DependencyUpdate",
            ActionKind::ClosePullRequest => "ClosePullRequest",
        }
    }
}

/// One file of a pull request, with its whole new content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEdit {
    /// Path in the repository.
    pub path: String,
    /// The file's new content.
    pub content: String,
}

/// What to do on GitHub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealingAction {
    /// Re-run the failed jobs of a run.
    Rerun {
        /// The run.
        run_id: i64,
    },
    /// Open an issue; the body carries the marker.
    OpenIssue {
        /// The problem.
        problem: Problem,
        /// The title.
        title: String,
        /// The body, marker included.
        body: String,
        /// Labels from the policy.
        labels: Vec<String>,
    },
    /// Comment on an owned issue; the comment carries a marker with the new severity.
    CommentIssue {
        /// The issue.
        number: i64,
        /// The comment, marker included.
        body: String,
    },
    /// Comment on and close an owned issue.
    CloseIssue {
        /// The issue.
        number: i64,
        /// The closing comment.
        comment: String,
    },
    /// Push `edits` to `branch` off the default branch and open a pull request.
    DependencyUpdate {
        /// The new branch.
        branch: String,
        /// The pull request's title.
        title: String,
        /// The pull request's body.
        body: String,
        /// The manifest edits.
        edits: Vec<FileEdit>,
        /// The lockfile beside the manifest, to be brought in line by the lockfile-update workflow before the pull
        /// request (opened as a draft) is marked ready; `None`: the manifest edit alone suffices.
        lockfile: Option<lockfile::LockfileUpdate>,
    },
    /// Push the restored workflow to `branch` and open a pull request.
    ConfigRepair {
        /// The new branch.
        branch: String,
        /// The pull request's title.
        title: String,
        /// The pull request's body.
        body: String,
        /// The workflow file.
        file: FileEdit,
    },
    /// Comment on and close a pull request the policy opened (a rollback no longer needed once healed).
    ClosePullRequest {
        /// The pull request.
        number: i64,
        /// The closing comment.
        comment: String,
    },
    /// Push a revert of `revert_sha` onto the default branch's head to `branch` and open a pull request.
    Rollback {
        /// The new branch.
        branch: String,
        /// The pull request's title.
        title: String,
        /// The pull request's body.
        body: String,
        /// The commit to revert.
        revert_sha: String,
        /// Its parent, the last green commit.
        parent_sha: String,
    },
}

impl HealingAction {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            HealingAction::Rerun { .. } => ActionKind::Rerun,
            HealingAction::OpenIssue { .. } => ActionKind::OpenIssue,
            HealingAction::CommentIssue { .. } => ActionKind::CommentIssue,
            HealingAction::CloseIssue { .. } => ActionKind::CloseIssue,
            HealingAction::DependencyUpdate { .. } => ActionKind::DependencyUpdate,
            HealingAction::ConfigRepair { .. } => ActionKind::ConfigRepair,
            HealingAction::Rollback { .. } => ActionKind::Rollback,
            HealingAction::ClosePullRequest { .. } => ActionKind::ClosePullRequest,
        }
    }
}

/// A decision to carry out (or only record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAction {
    /// What to do.
    pub action: HealingAction,
    /// Why, for the audit entry and the Event.
    pub reason: String,
    /// Whether it goes to GitHub.
    pub dispatch: Dispatch,
}

impl PlannedAction {
    /// The audit entry for this action, decided at `now`. `link` is the run, issue or pull request it produced;
    /// when GitHub refused it, the controller sets the outcome to `Failed`.
    pub fn audit(&self, repository: &str, now: Timestamp, link: Option<String>) -> AuditedAction {
        AuditedAction {
            time: Time(now),
            repository: repository.to_owned(),
            action: self.action.kind().as_str().to_owned(),
            reason: self.reason.clone(),
            outcome: match self.dispatch {
                Dispatch::Send => "Enforced",
                Dispatch::RecordOnly => "DryRun",
            }
            .to_owned(),
            link,
        }
    }
}

/// A decision the gate or a bound held back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithheldAction {
    /// The kind of action.
    pub kind: ActionKind,
    /// Why it waits.
    pub why: String,
    /// When it may go; `None` when only a change of state will let it (a bound was reached).
    pub retry_at: Option<Timestamp>,
}

/// Everything decided for one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealingPlan {
    /// Actions to carry out, in priority order.
    pub actions: Vec<PlannedAction>,
    /// Actions held back, with why.
    pub withheld: Vec<WithheldAction>,
    /// The repository's escalation ladders after this plan, one per problem with a rung reached.
    pub escalations: Vec<EscalationState>,
    /// Ladders started, climbed or dropped back, for Events.
    pub ladder_changes: Vec<ladder::LadderChange>,
}

impl HealingPlan {
    /// When to evaluate again: the earliest time a withheld action may go.
    pub fn requeue_at(&self) -> Option<Timestamp> {
        self.withheld.iter().filter_map(|w| w.retry_at).min()
    }
}

/// A candidate before the gate: an action or a reason it cannot be taken.
pub(crate) type Candidate = Result<(HealingAction, String), WithheldAction>;

/// The healing plan for `repository` under `policy` at `now`. Deterministic: the same inputs give the same plan.
pub fn decide(
    policy: &HealingPolicySpec,
    repository: &ObservedRepository,
    history: &ActionHistory<'_>,
    now: Timestamp,
) -> HealingPlan {
    let mut plan = HealingPlan::default();
    if policy.suspend {
        plan.escalations = repository.escalations.clone();
        return plan;
    }
    let dispatch = match policy.mode {
        HealingMode::Enforce => Dispatch::Send,
        HealingMode::DryRun => Dispatch::RecordOnly,
    };
    let mut candidates = ladder::close_rollbacks(policy, repository, history);
    candidates.extend(rules::candidates(policy, repository, history, now));
    let ladders = ladder::Ladders::new(policy, repository, &candidates, now);
    let candidates = ladders.gate(candidates);
    let cooldown = cooldown_of(policy);
    let cap = usize::try_from(policy.max_actions_per_repository_per_hour.max(0)).unwrap_or(0);
    let hour_ago = now.checked_sub(SignedDuration::from_hours(1)).unwrap_or(Timestamp::MIN);
    let mut in_last_hour: Vec<Timestamp> =
        history.of_repository(&repository.name).map(|(_, t)| t).filter(|t| *t > hour_ago && *t <= now).collect();
    in_last_hour.sort();
    for candidate in candidates {
        let (action, reason) = match candidate {
            Ok(decided) => decided,
            Err(withheld) => {
                plan.withheld.push(withheld);
                continue;
            }
        };
        let kind = action.kind();
        let withhold = |why: String, retry_at: Option<Timestamp>| WithheldAction { kind, why, retry_at };
        let last_of_kind = history
            .of_repository(&repository.name)
            .filter(|(entry, _)| entry.action == kind.as_str())
            .map(|(_, t)| t)
            .max();
        if plan.actions.iter().any(|planned| planned.action.kind() == kind) {
            plan.withheld
                .push(withhold(format!("one {} per cooldown: {reason}", kind.as_str()), Some(after(now, cooldown))));
        } else if let Some(last) = last_of_kind.filter(|last| now < after(*last, cooldown)) {
            plan.withheld.push(withhold(format!("cooldown since {last}: {reason}"), Some(after(last, cooldown))));
        } else if in_last_hour.len() + plan.actions.len() >= cap {
            // The cap frees a slot when the oldest action of the last hour turns an hour old.
            let oldest = in_last_hour.first().copied().unwrap_or(now);
            let retry_at = after(oldest, SignedDuration::from_hours(1));
            plan.withheld.push(withhold(format!("{cap} actions per hour reached: {reason}"), Some(retry_at)));
        } else {
            plan.actions.push(PlannedAction { action, reason, dispatch });
        }
    }
    (plan.escalations, plan.ladder_changes) = ladders.settle(&plan.actions);
    plan
}

/// The least time between two actions of a kind on a repository, as `policy` says (or the fallback when its
/// cooldown does not parse).
pub fn cooldown_of(policy: &HealingPolicySpec) -> SignedDuration {
    signed(policy.cooldown.to_std().unwrap_or(FALLBACK_COOLDOWN))
}

/// `time + duration`, saturating instead of panicking at the end of time.
pub(crate) fn after(time: Timestamp, duration: SignedDuration) -> Timestamp {
    time.checked_add(duration).unwrap_or(Timestamp::MAX)
}

pub(crate) fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// Puts `new` entries (newest first) in front of `history` and keeps the newest [`HISTORY_LIMIT`].
pub fn append_to_history(history: &mut Vec<AuditedAction>, new: Vec<AuditedAction>) {
    let older = std::mem::replace(history, new);
    history.extend(older);
    history.truncate(HISTORY_LIMIT);
}

#[cfg(test)]
mod ladder_tests;
#[cfg(test)]
mod tests;
