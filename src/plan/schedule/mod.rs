//! The BuildPlan scheduler: a pure function called on every reconcile. The selected repositories, their
//! dependencies, the status entries of the current run, the spec and `now` in; the [`NextSteps`] out.
//!
//! Rules, in the order [`next_steps`] applies them:
//! 1. **Graph**: dependencies outside the selection are dropped (they hold nothing back). A cycle among the selected
//!    repositories makes the plan invalid: [`ScheduleError::Cycle`] names it.
//! 2. **Timeout**: a run in flight (Dispatching, Queued, Running) whose attempt started `timeoutMinutes` or more
//!    before `now` is cancelled; the controller records it as a failed attempt.
//! 3. **Final failure**: a Failed repository is finally failed once it made `1 + retryAttempts` attempts, or, under
//!    `Stop`, as soon as any repository is finally failed (nothing new starts, retries included).
//! 4. **Skip**: under `SkipDependents`, a Pending repository that depends, directly or not, on a repository that can no
//!    longer succeed (finally failed, skipped, cancelled) is skipped, naming the failed repository behind it (the
//!    smallest name when there are several). Under `Stop`,
//!    after a final failure every Pending repository is skipped; runs in flight finish. `Continue` skips nothing
//!    for failures. Under every policy a Pending repository with nothing to dispatch (no workflow) is skipped.
//! 5. **Cache** (`onlyChanged`): a never-attempted, unskipped Pending repository whose head already has a successful build is
//!    Cached when every one of its selected dependencies is Cached too; a dependency that is rebuilt forces its
//!    dependents to rebuild.
//! 6. **Dispatch**: a repository is ready when every selected dependency Succeeded or is Cached (under `Continue`:
//!    reached any terminal state). Ready new repositories, and failed ones whose backoff of
//!    `30 s × 2^(attempts − 1)` (at most 10 min) has passed, fill the free slots of `maxParallel` (runs in flight:
//!    Dispatching, Queued, Running), longest remaining path first (estimated durations), ties by name.
//!
//! The controller applies the steps mechanically (destructure [`NextSteps`] without `..`): for each [`Dispatch`] it
//! first records `Dispatching` with [`Dispatch::correlation_id`] in status, and only then sends the
//! `workflow_dispatch` with that id as an input, so after a crash it finds the run by the id instead of dispatching
//! again. Phase, counts and progress describe the run once the steps are applied.

pub mod entries;
pub mod simulate;
pub mod stop;
#[cfg(test)]
mod tests;
pub mod trigger;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::depgraph::{Cycle, DependencyGraph};
use crate::crd::build_plan::{
    BuildCounts, BuildPlanPhase, BuildPlanSpec, FailurePolicy, RepositoryBuild, RepositoryBuildState,
};

/// First retry delay; each further retry doubles it.
pub const RETRY_BACKOFF_BASE: SignedDuration = SignedDuration::from_secs(30);
/// Longest delay between two attempts.
pub const RETRY_BACKOFF_MAX: SignedDuration = SignedDuration::from_secs(600);

/// The parts of a BuildPlan's spec the scheduler obeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// Most runs in flight at once (at least 1).
    pub max_parallel: u32,
    /// How long an attempt may run before it is cancelled.
    pub timeout: SignedDuration,
    /// Further attempts after a failed one.
    pub retry_attempts: u32,
    /// What a final failure does to the rest of the plan.
    pub failure_policy: FailurePolicy,
    /// Build caching: whether a repository whose head already built successfully may be Cached.
    pub only_changed: bool,
}

/// The operator's values (its `build.*` configuration) for the fields a BuildPlan leaves unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleDefaults {
    /// Most runs in flight at once.
    pub max_parallel: u32,
    /// Minutes an attempt may run before it is cancelled.
    pub timeout_minutes: u32,
    /// Further attempts after a failed one.
    pub retry_attempts: u32,
}

impl SchedulePolicy {
    /// The plan's own values, and the operator's for the fields it leaves unset.
    pub fn resolve(spec: &BuildPlanSpec, defaults: &ScheduleDefaults) -> Self {
        let own = |field: Option<i32>| field.and_then(|value| u32::try_from(value).ok());
        Self {
            max_parallel: own(spec.max_parallel).unwrap_or(defaults.max_parallel).max(1),
            timeout: SignedDuration::from_mins(i64::from(
                own(spec.timeout_minutes).unwrap_or(defaults.timeout_minutes).max(1),
            )),
            retry_attempts: own(spec.retry_attempts).unwrap_or(defaults.retry_attempts),
            failure_policy: spec.failure_policy,
            only_changed: spec.only_changed,
        }
    }
}

/// One selected repository, as the controller observed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedRepository {
    /// GitHub name.
    pub name: String,
    /// Names of the repositories it depends on; those outside the selection are ignored.
    pub depends_on: Vec<String>,
    /// Whether its head sha already has a successful run of its build workflow (for `onlyChanged`).
    pub head_already_built: bool,
    /// Expected duration of its build, from past runs; orders dispatches by longest remaining path. Unknown
    /// durations are best given as one common value, which makes the order "most repositories still behind it".
    pub expected_duration: SignedDuration,
    /// Why it cannot be dispatched at all (no workflow that accepts `workflow_dispatch`), if so.
    pub unbuildable: Option<String>,
}

/// Where one repository is in the current run: the scheduler's view of a [`RepositoryBuild`] status entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildProgress {
    /// Its state.
    pub state: RepositoryBuildState,
    /// Attempts made so far (dispatched, whatever their outcome).
    pub attempts: u32,
    /// When the latest attempt was dispatched (its intent recorded).
    pub started_at: Option<Timestamp>,
    /// When the latest attempt ended (for a Failed repository: when it failed, which starts the backoff).
    pub finished_at: Option<Timestamp>,
}

impl BuildProgress {
    /// A repository nothing happened to yet.
    pub const NOT_STARTED: Self =
        Self { state: RepositoryBuildState::Pending, attempts: 0, started_at: None, finished_at: None };
}

impl From<&RepositoryBuild> for BuildProgress {
    fn from(entry: &RepositoryBuild) -> Self {
        Self {
            state: entry.state,
            attempts: u32::try_from(entry.attempts).unwrap_or(0),
            started_at: entry.start_time.as_ref().map(|t| t.0),
            finished_at: entry.completion_time.as_ref().map(|t| t.0),
        }
    }
}

/// The scheduler's view of `status.repositories`, by name (for [`next_steps`]).
pub fn progress_by_name(entries: &[RepositoryBuild]) -> BTreeMap<String, BuildProgress> {
    entries.iter().map(|entry| (entry.name.clone(), BuildProgress::from(entry))).collect()
}

/// Start an attempt: record `Dispatching` and the correlation id in status, then send the `workflow_dispatch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The repository.
    pub repository: String,
    /// The number of this attempt, from 1.
    pub attempt: u32,
    /// From [`correlation_id`]: the workflow input that finds this attempt's run again.
    pub correlation_id: String,
}

/// Cancel a run that exceeded the timeout; the repository becomes Failed at `now` with this attempt counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    /// The repository.
    pub repository: String,
    /// The attempt being cancelled.
    pub attempt: u32,
    /// When that attempt started.
    pub started_at: Timestamp,
}

/// A failed repository that will be attempted again once its backoff ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// The repository.
    pub repository: String,
    /// The number of the coming attempt.
    pub attempt: u32,
    /// Not dispatched before this time.
    pub not_before: Timestamp,
}

/// Why a repository is not built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// It depends, directly or not, on a repository that can no longer succeed (`SkipDependents`).
    DependencyFailed {
        /// The repository whose failure (or cancellation) is behind the skip; smallest name when several are.
        dependency: String,
    },
    /// The plan stopped after this repository finally failed (`Stop`).
    PlanStopped {
        /// The first (by name) repository that finally failed.
        after: String,
    },
    /// It has nothing to dispatch (see [`SelectedRepository::unbuildable`]).
    NotBuildable {
        /// Why.
        why: String,
    },
}

impl SkipReason {
    /// A one-line reason for the status entry.
    pub fn message(&self) -> String {
        match self {
            Self::DependencyFailed { dependency } => format!("dependency {dependency} did not succeed"),
            Self::PlanStopped { after } => format!("plan stopped after {after} failed"),
            Self::NotBuildable { why } => format!("not buildable: {why}"),
        }
    }
}

/// Mark a repository Skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The repository.
    pub repository: String,
    /// Why.
    pub reason: SkipReason,
}

/// What the controller does now, and what the run looks like once it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextSteps {
    /// Cancel these timed-out runs and record each as a failed attempt (state Failed, completion time `now`).
    pub cancel: Vec<Cancellation>,
    /// Mark these Cached (`onlyChanged`: already built, no dependency rebuilt).
    pub cache: Vec<String>,
    /// Mark these Skipped, with the reason.
    pub skip: Vec<Skip>,
    /// Start these attempts, intent first, in this order (highest priority first).
    pub dispatch: Vec<Dispatch>,
    /// Failed repositories waiting for their backoff; nothing to do but requeue.
    pub retry_later: Vec<Retry>,
    /// When to reconcile again at the latest without an event: the earliest backoff end or timeout deadline.
    pub requeue_at: Option<Timestamp>,
    /// Every selected repository, dependencies first: the order of `status.repositories`.
    pub order: Vec<String>,
    /// The run's phase once the steps are applied.
    pub phase: BuildPlanPhase,
    /// Repositories by state once the steps are applied.
    pub counts: BuildCounts,
    /// `done/total` once the steps are applied.
    pub progress: String,
}

/// Why a plan cannot be scheduled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The selected repositories depend on each other in a cycle.
    #[error("dependency cycle among the selected repositories: {0}")]
    Cycle(Cycle),
}

impl ScheduleError {
    /// A stable label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Cycle(_) => "DependencyCycle",
        }
    }
}

/// The correlation id of one attempt of one repository in one run of a plan: the same inputs always give the same id,
/// so an id recorded before a crash finds the run afterwards; different inputs give different ids (SHA-256).
pub fn correlation_id(plan_run_id: &str, repository: &str, attempt: u32) -> String {
    let mut hasher = Sha256::new();
    // Lengths first, so that ("ab", "c") and ("a", "bc") cannot collide.
    for part in [plan_run_id.as_bytes(), repository.as_bytes()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(attempt.to_be_bytes());
    let digest = hasher.finalize();
    format!("io-{}-{attempt}", hex::encode(&digest[..12]))
}

/// How long a repository that failed `failed_attempts` times waits before its next attempt.
pub fn retry_backoff(failed_attempts: u32) -> SignedDuration {
    let doublings = failed_attempts.saturating_sub(1).min(16);
    let delay = RETRY_BACKOFF_BASE.saturating_mul(1i32 << doublings);
    delay.min(RETRY_BACKOFF_MAX)
}

/// Whether a repository in this state has a run in flight (and takes a `maxParallel` slot).
pub fn in_flight(state: RepositoryBuildState) -> bool {
    matches!(state, RepositoryBuildState::Dispatching | RepositoryBuildState::Queued | RepositoryBuildState::Running)
}

/// The next steps of a BuildPlan run. `current` holds the status entries by name; a selected repository without one
/// is Pending with no attempt, an entry for an unselected name is ignored. `plan_run_id` goes into correlation ids.
pub fn next_steps(
    selected: &[SelectedRepository],
    current: &BTreeMap<String, BuildProgress>,
    policy: &SchedulePolicy,
    plan_run_id: &str,
    now: Timestamp,
) -> Result<NextSteps, ScheduleError> {
    use RepositoryBuildState as S;

    let names: BTreeSet<String> = selected.iter().map(|r| r.name.clone()).collect();
    let graph =
        DependencyGraph::new(selected.iter().map(|r| (r.name.clone(), r.depends_on.clone()))).restricted_to(&names);
    let order: Vec<String> = match graph.topological_order() {
        Ok(order) => order.into_iter().map(String::from).collect(),
        Err(error) => return Err(ScheduleError::Cycle(error.cycle)),
    };
    let by_name: BTreeMap<&str, &SelectedRepository> = selected.iter().map(|r| (r.name.as_str(), r)).collect();
    let duration_secs = |name: &str| by_name.get(name).map_or(1, |r| r.expected_duration.as_secs().max(1) as u64);
    let priority = graph.longest_remaining_path(duration_secs).map_err(|e| ScheduleError::Cycle(e.cycle))?;

    // The projected state: what status says once the steps decided so far are applied.
    let mut state: BTreeMap<&str, BuildProgress> =
        order.iter().map(|n| (n.as_str(), current.get(n).copied().unwrap_or(BuildProgress::NOT_STARTED))).collect();
    let max_attempts = policy.retry_attempts.saturating_add(1);

    // Rule 2: timeouts.
    let mut cancel = Vec::new();
    let mut requeue_at: Option<Timestamp> = None;
    let mut requeue_no_later = |at: Timestamp| requeue_at = Some(requeue_at.map_or(at, |r: Timestamp| r.min(at)));
    for name in &order {
        let Some(progress) = state.get_mut(name.as_str()) else { continue };
        let (true, Some(started_at)) = (in_flight(progress.state), progress.started_at) else { continue };
        let deadline = started_at.saturating_add(policy.timeout).unwrap_or(Timestamp::MAX);
        if now >= deadline {
            cancel.push(Cancellation { repository: name.clone(), attempt: progress.attempts, started_at });
            *progress = BuildProgress { state: S::Failed, finished_at: Some(now), ..*progress };
        } else {
            requeue_no_later(deadline);
        }
    }

    // Rule 3: final failures.
    let exhausted = |p: &BuildProgress| p.state == S::Failed && p.attempts >= max_attempts;
    let first_exhausted = order.iter().find(|n| state.get(n.as_str()).is_some_and(exhausted)).cloned();
    let stopped = policy.failure_policy == FailurePolicy::Stop && first_exhausted.is_some();
    let finally_failed = |p: &BuildProgress| p.state == S::Failed && (stopped || p.attempts >= max_attempts);

    // Rules 4 and 5 in dependency order, so that a whole chain is decided in one call.
    let mut skip = Vec::new();
    let mut cache = Vec::new();
    // For each repository that cannot succeed any more: the failure to name in its dependents' skip reasons.
    let mut cannot_succeed: BTreeMap<&str, String> = BTreeMap::new();
    for name in &order {
        let name = name.as_str();
        let Some(progress) = state.get(name).copied() else { continue };
        let dependencies = graph.dependencies_of(name);
        if progress.state == S::Pending {
            let blocked_by = dependencies.iter().filter_map(|d| cannot_succeed.get(d)).min();
            let reason = match (policy.failure_policy, blocked_by, &first_exhausted) {
                (FailurePolicy::Stop, _, Some(after)) if stopped => {
                    Some(SkipReason::PlanStopped { after: after.clone() })
                }
                (FailurePolicy::SkipDependents | FailurePolicy::Stop, Some(failure), _) => {
                    Some(SkipReason::DependencyFailed { dependency: failure.clone() })
                }
                _ => by_name.get(name).and_then(|r| r.unbuildable.clone()).map(|why| SkipReason::NotBuildable { why }),
            };
            if let Some(reason) = reason {
                skip.push(Skip { repository: name.to_string(), reason });
                state.insert(name, BuildProgress { state: S::Skipped, ..progress });
            } else if policy.only_changed
                && progress.attempts == 0
                && by_name.get(name).is_some_and(|r| r.head_already_built)
                && dependencies.iter().all(|d| state.get(d).is_some_and(|p| p.state == S::Cached))
            {
                cache.push(name.to_string());
                state.insert(name, BuildProgress { state: S::Cached, ..progress });
            }
        }
        let now_state = state.get(name).copied().unwrap_or(progress);
        if finally_failed(&now_state) {
            cannot_succeed.insert(name, name.to_string());
        } else if matches!(now_state.state, S::Skipped | S::Cancelled) {
            let cause = dependencies.iter().filter_map(|d| cannot_succeed.get(d)).min().cloned();
            cannot_succeed.insert(name, cause.unwrap_or_else(|| name.to_string()));
        }
    }

    // Rule 6: dispatch into free slots.
    let satisfied = |p: &BuildProgress| match policy.failure_policy {
        FailurePolicy::Continue => {
            matches!(p.state, S::Succeeded | S::Cached | S::Skipped | S::Cancelled) || finally_failed(p)
        }
        FailurePolicy::SkipDependents | FailurePolicy::Stop => matches!(p.state, S::Succeeded | S::Cached),
    };
    let mut candidates: Vec<(&str, u32)> = Vec::new();
    let mut retry_later = Vec::new();
    for name in &order {
        let name = name.as_str();
        let Some(progress) = state.get(name) else { continue };
        match progress.state {
            S::Pending if !stopped => {
                let ready = graph.dependencies_of(name).iter().all(|d| state.get(d).is_some_and(satisfied));
                if ready {
                    candidates.push((name, progress.attempts + 1));
                }
            }
            S::Failed if !finally_failed(progress) => {
                let failed_at = progress.finished_at.unwrap_or(now);
                let not_before = failed_at.saturating_add(retry_backoff(progress.attempts)).unwrap_or(Timestamp::MAX);
                if now >= not_before {
                    candidates.push((name, progress.attempts + 1));
                } else {
                    requeue_no_later(not_before);
                    retry_later.push(Retry {
                        repository: name.to_string(),
                        attempt: progress.attempts + 1,
                        not_before,
                    });
                }
            }
            _ => {}
        }
    }
    candidates.sort_by_key(|(name, _)| (std::cmp::Reverse(priority.get(name).copied().unwrap_or(0)), *name));
    let running = state.values().filter(|p| in_flight(p.state)).count();
    let free = (policy.max_parallel as usize).saturating_sub(running);
    let mut dispatch = Vec::new();
    for (name, attempt) in candidates.into_iter().take(free) {
        dispatch.push(Dispatch {
            repository: name.to_string(),
            attempt,
            correlation_id: correlation_id(plan_run_id, name, attempt),
        });
        state.insert(
            name,
            BuildProgress { state: S::Dispatching, attempts: attempt, started_at: Some(now), finished_at: None },
        );
    }
    let deadline_of_new = now.saturating_add(policy.timeout).unwrap_or(Timestamp::MAX);
    if !dispatch.is_empty() {
        requeue_no_later(deadline_of_new);
    }

    let counts = count(state.values(), &finally_failed);
    let phase = phase_of(state.values(), &counts);
    let progress = format!("{}/{}", counts.succeeded + counts.failed + counts.skipped, counts.total);
    Ok(NextSteps { cancel, cache, skip, dispatch, retry_later, requeue_at, order, phase, counts, progress })
}

fn count<'a>(
    states: impl Iterator<Item = &'a BuildProgress>,
    finally_failed: &impl Fn(&BuildProgress) -> bool,
) -> BuildCounts {
    use RepositoryBuildState as S;
    let mut counts = BuildCounts::default();
    for p in states {
        counts.total += 1;
        match p.state {
            S::Pending => counts.pending += 1,
            // A failed repository with an attempt left is waiting, like a pending one.
            S::Failed if !finally_failed(p) => counts.pending += 1,
            S::Failed => counts.failed += 1,
            S::Dispatching | S::Queued | S::Running => counts.running += 1,
            S::Succeeded | S::Cached => counts.succeeded += 1,
            S::Skipped | S::Cancelled => counts.skipped += 1,
        }
    }
    counts
}

fn phase_of<'a>(mut states: impl Iterator<Item = &'a BuildProgress>, counts: &BuildCounts) -> BuildPlanPhase {
    let done = counts.succeeded + counts.failed + counts.skipped;
    if done < counts.total {
        let started = states.any(|p| p.attempts > 0 || p.state != RepositoryBuildState::Pending);
        if started {
            BuildPlanPhase::Running
        } else {
            BuildPlanPhase::Pending
        }
    } else if counts.failed > 0 || counts.skipped > 0 {
        BuildPlanPhase::Failed
    } else {
        BuildPlanPhase::Succeeded
    }
}
