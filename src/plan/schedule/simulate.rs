//! A discrete-event simulation of a BuildPlan run driven by [`next_steps`], for property tests and the `schedule`
//! benchmark; plus the two yardsticks the benchmark compares against: the lower bound and a wave-by-wave schedule.
//!
//! Time is whole seconds from the Unix epoch. The simulated controller applies every step at once: a dispatch goes
//! straight to Running, a cancellation makes the repository Failed at that instant.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{next_steps, BuildProgress, NextSteps, ScheduleError, SchedulePolicy, SelectedRepository, SkipReason};
use crate::crd::build_plan::{BuildPlanPhase, RepositoryBuildState};
use crate::plan::depgraph::DependencyGraph;

/// How one attempt of a simulated build ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It succeeds after the repository's duration.
    Success,
    /// It fails after the repository's duration.
    Failure,
    /// It never finishes; only the timeout ends it.
    Hang,
}

/// A repository of the simulated organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedRepository {
    /// What the scheduler is told about it.
    pub selected: SelectedRepository,
    /// How long each attempt takes, in seconds (at least 1).
    pub duration_secs: i64,
    /// The outcome of attempt 1, 2, …; attempts past the list succeed.
    pub outcomes: Vec<AttemptOutcome>,
}

/// Something that happened in a simulated run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimulatedEvent {
    /// An attempt was dispatched.
    Dispatched {
        /// The attempt, from 1.
        attempt: u32,
    },
    /// An attempt ended.
    Finished {
        /// The attempt.
        attempt: u32,
        /// Success or Failure (a hang ends as [`SimulatedEvent::TimedOut`]).
        outcome: AttemptOutcome,
    },
    /// An attempt was cancelled by the timeout.
    TimedOut {
        /// The attempt.
        attempt: u32,
    },
    /// The repository was marked Cached.
    Cached,
    /// The repository was marked Skipped.
    Skipped(SkipReason),
}

/// The record of a simulated run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationReport {
    /// `(seconds since start, repository, event)` in the order they happened.
    pub events: Vec<(i64, String, SimulatedEvent)>,
    /// Each repository's state at the end.
    pub final_states: BTreeMap<String, BuildProgress>,
    /// The phase the scheduler reported last.
    pub phase: BuildPlanPhase,
    /// Seconds from start until the last repository reached a terminal state.
    pub makespan_secs: i64,
    /// Most runs in flight at any instant.
    pub max_in_flight: usize,
    /// Whether the run reached a terminal phase (false: the scheduler had nothing left to wait for, yet was not done,
    /// or the step budget ran out).
    pub completed: bool,
}

/// Runs the plan from nothing until it finishes, calling [`next_steps`] at every event.
pub fn run(repositories: &[SimulatedRepository], policy: &SchedulePolicy) -> Result<SimulationReport, ScheduleError> {
    let selected: Vec<SelectedRepository> = repositories.iter().map(|r| r.selected.clone()).collect();
    let by_name: BTreeMap<&str, &SimulatedRepository> =
        repositories.iter().map(|r| (r.selected.name.as_str(), r)).collect();
    let mut current: BTreeMap<String, BuildProgress> = BTreeMap::new();
    // Runs in flight that will end by themselves: name → (end, attempt, outcome).
    let mut ending: BTreeMap<String, (i64, u32, AttemptOutcome)> = BTreeMap::new();
    let mut events = Vec::new();
    let mut max_in_flight = 0;
    let mut phase = BuildPlanPhase::Pending;
    let mut now = 0i64;
    let budget = 20 * repositories.len() * (policy.retry_attempts as usize + 2) + 100;
    for _ in 0..budget {
        let finished: Vec<(String, (i64, u32, AttemptOutcome))> =
            ending.iter().filter(|(_, (end, _, _))| *end <= now).map(|(n, e)| (n.clone(), *e)).collect();
        for (name, (end, attempt, outcome)) in finished {
            ending.remove(&name);
            let state = match outcome {
                AttemptOutcome::Success => RepositoryBuildState::Succeeded,
                AttemptOutcome::Failure | AttemptOutcome::Hang => RepositoryBuildState::Failed,
            };
            if let Some(progress) = current.get_mut(&name) {
                progress.state = state;
                progress.finished_at = Some(at(end));
            }
            events.push((end, name, SimulatedEvent::Finished { attempt, outcome }));
        }
        let steps = next_steps(&selected, &current, policy, "simulation", at(now))?;
        let NextSteps {
            cancel,
            cache,
            skip,
            dispatch,
            retry_later: _,
            requeue_at,
            order: _,
            phase: next_phase,
            counts: _,
            progress: _,
        } = steps;
        phase = next_phase;
        for cancellation in cancel {
            ending.remove(&cancellation.repository);
            if let Some(progress) = current.get_mut(&cancellation.repository) {
                progress.state = RepositoryBuildState::Failed;
                progress.finished_at = Some(at(now));
            }
            events.push((now, cancellation.repository, SimulatedEvent::TimedOut { attempt: cancellation.attempt }));
        }
        for name in cache {
            current.insert(
                name.clone(),
                BuildProgress { state: RepositoryBuildState::Cached, ..BuildProgress::NOT_STARTED },
            );
            events.push((now, name, SimulatedEvent::Cached));
        }
        for skipped in skip {
            current.insert(
                skipped.repository.clone(),
                BuildProgress { state: RepositoryBuildState::Skipped, ..BuildProgress::NOT_STARTED },
            );
            events.push((now, skipped.repository, SimulatedEvent::Skipped(skipped.reason)));
        }
        for d in dispatch {
            let Some(repository) = by_name.get(d.repository.as_str()) else { continue };
            let outcome = repository.outcomes.get(d.attempt as usize - 1).copied().unwrap_or(AttemptOutcome::Success);
            if outcome != AttemptOutcome::Hang {
                ending.insert(d.repository.clone(), (now + repository.duration_secs.max(1), d.attempt, outcome));
            }
            current.insert(
                d.repository.clone(),
                BuildProgress {
                    state: RepositoryBuildState::Running,
                    attempts: d.attempt,
                    started_at: Some(at(now)),
                    finished_at: None,
                },
            );
            events.push((now, d.repository, SimulatedEvent::Dispatched { attempt: d.attempt }));
        }
        let running = current.values().filter(|p| super::in_flight(p.state)).count();
        max_in_flight = max_in_flight.max(running);
        if matches!(phase, BuildPlanPhase::Succeeded | BuildPlanPhase::Failed) && running == 0 {
            return Ok(report(events, current, phase, now, max_in_flight, true));
        }
        let next_end = ending.values().map(|(end, _, _)| *end).min();
        let next_requeue = requeue_at.map(|t| t.as_second());
        match [next_end, next_requeue].into_iter().flatten().min() {
            Some(next) if next > now => now = next,
            _ => return Ok(report(events, current, phase, now, max_in_flight, false)),
        }
    }
    Ok(report(events, current, phase, now, max_in_flight, false))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH.saturating_add(SignedDuration::from_secs(seconds)).unwrap_or(Timestamp::MAX)
}

fn report(
    events: Vec<(i64, String, SimulatedEvent)>,
    final_states: BTreeMap<String, BuildProgress>,
    phase: BuildPlanPhase,
    makespan_secs: i64,
    max_in_flight: usize,
    completed: bool,
) -> SimulationReport {
    SimulationReport { events, final_states, phase, makespan_secs, max_in_flight, completed }
}

fn graph_of(repositories: &[SimulatedRepository]) -> DependencyGraph {
    DependencyGraph::new(repositories.iter().map(|r| (r.selected.name.clone(), r.selected.depends_on.clone())))
}

/// No schedule can finish sooner than the heaviest dependency chain, nor than the total work spread over
/// `max_parallel` runners: the larger of the two, in seconds (every attempt succeeding). Fails on a cycle.
pub fn lower_bound_secs(repositories: &[SimulatedRepository], max_parallel: u32) -> Result<f64, ScheduleError> {
    let durations: BTreeMap<&str, u64> =
        repositories.iter().map(|r| (r.selected.name.as_str(), r.duration_secs.max(1) as u64)).collect();
    let graph = graph_of(repositories);
    let paths = graph
        .longest_remaining_path(|n| durations.get(n).copied().unwrap_or(1))
        .map_err(|e| ScheduleError::Cycle(e.cycle))?;
    let critical = paths.values().copied().max().unwrap_or(0) as f64;
    let work: u64 = durations.values().sum();
    Ok(critical.max(work as f64 / f64::from(max_parallel.max(1))))
}

/// The makespan, in seconds, of the wave-by-wave schedule of the original multi-repo-build workflow: each dependency
/// level starts when the whole previous level finished; inside a level, runs start in name order as soon as one of
/// the `max_parallel` slots is free (every attempt succeeding). Fails on a cycle.
pub fn wave_makespan_secs(repositories: &[SimulatedRepository], max_parallel: u32) -> Result<i64, ScheduleError> {
    let durations: BTreeMap<&str, i64> =
        repositories.iter().map(|r| (r.selected.name.as_str(), r.duration_secs.max(1))).collect();
    let graph = graph_of(repositories);
    let levels = graph.levels().map_err(|e| ScheduleError::Cycle(e.cycle))?;
    let mut total = 0;
    for level in levels {
        // Each slot's time when it frees up; a run takes the earliest free slot.
        let mut slots = vec![0i64; max_parallel.max(1) as usize];
        for name in level {
            if let Some(earliest) = slots.iter_mut().min() {
                *earliest += durations.get(name).copied().unwrap_or(1);
            }
        }
        total += slots.into_iter().max().unwrap_or(0);
    }
    Ok(total)
}
