//! The escalation ladder: per repository and problem past the thresholds, the rungs of `spec.escalation` (default
//! re-run → issue → fix pull request → rollback pull request) are tried in order, each only when the one below did
//! not heal the repository within its window.
//!
//! - **Position.** A ladder's current rung is the highest rung *tried*: one whose action passed the gate (cooldown,
//!   per-hour cap, one per kind) and was carried out or, in DryRun, recorded. Status keeps it with the time it was
//!   reached ([`EscalationState`]); a problem with nothing tried yet has no entry.
//! - **Climbing.** The next rung is the first one above the current that *applies*: listed in `spec.escalation`,
//!   with a candidate of its kinds that can go now or at a known time (an action turned off in `actions` has no
//!   candidates). Rungs that do not apply are passed over at once: a fix pull request with no broken workflow and no
//!   Dependabot alert, a re-run with its bound reached, an issue already open. With nothing tried yet the next rung
//!   is tried at once; otherwise once the current rung's window has passed. A rung waiting for its time is listed as
//!   withheld with that time; when no rung above applies, the ladder stays where it is (and climbs as soon as one
//!   does, the current rung's window having passed).
//! - **Cumulative.** The actions of the rungs at or below the current one stay allowed: a new failing commit gets
//!   its bounded re-runs, the issue its comments, a workflow that breaks later its repair.
//! - **Flaky gate** (`plan::flaky`'s verdict on the latest failure). `Flaky`: re-run (bounded by
//!   `maxAttemptsPerSha`), never escalated: no rung above `Rerun` is tried. `Deterministic`: never re-run; the ladder
//!   starts above `Rerun`. `Undetermined`: starts at the bottom.
//! - **Outside the ladder.** While no problem is past the thresholds, re-runs (flaky gate included), config repairs
//!   and dependency updates go as they always did; an issue is only ever about a problem; a rollback is only ever a
//!   rung. Closing what the ladder opened is never held back by it.
//! - **Dropping back.** A problem that no longer holds, judged on decisive runs with none in progress, leaves the
//!   ladder (its next failure starts at the bottom). Its issue is closed by the CloseIssue rule; once the default
//!   branch is green and no problem holds, an open rollback pull request the policy opened is closed with a comment
//!   (merging a revert of a commit the branch has since healed from would undo good work), once per pull request; one
//!   merged or closed by a person is left alone. It goes first, so only a full per-hour cap holds it back, and then it
//!   is tried again the next time the repository is looked at (the ladder is gone, so nothing else brings it back).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{after, marker, signed, ActionHistory, ActionKind, Candidate, HealingAction, ObservedRepository};
use super::{PlannedAction, WithheldAction};
use crate::crd::condition::ConditionStatus;
use crate::crd::healing_policy::{EscalationAction, EscalationState, HealingPolicySpec};
use crate::plan::flaky::Verdict;
use crate::plan::health::{self, Problem};

/// Most entries `HealingPolicyStatus.escalations` keeps (its schema's bound).
pub const ESCALATIONS_LIMIT: usize = 500;

/// The rung an action belongs to; `None` for what closes what the ladder opened (never held back by it).
pub fn rung_of(kind: ActionKind) -> Option<EscalationAction> {
    match kind {
        ActionKind::Rerun => Some(EscalationAction::Rerun),
        ActionKind::OpenIssue | ActionKind::CommentIssue => Some(EscalationAction::Issue),
        ActionKind::ConfigRepair | ActionKind::DependencyUpdate => Some(EscalationAction::FixPullRequest),
        ActionKind::Rollback => Some(EscalationAction::RollbackPullRequest),
        _ => None,
    }
}

/// A change of a ladder's position, for an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LadderChange {
    /// The problem.
    pub problem: String,
    /// The rung before; `None` when the ladder started.
    pub from: Option<EscalationAction>,
    /// The rung after; `None` when the problem healed and the ladder dropped back to the bottom.
    pub to: Option<EscalationAction>,
    /// Why, in a sentence.
    pub why: String,
}

/// One problem's ladder during a decision.
#[derive(Debug)]
struct ProblemLadder {
    problem: Problem,
    entry: Option<EscalationState>,
    /// Index of the current rung in the listed rungs.
    current: Option<usize>,
    /// The rung tried in this decision, when due.
    try_now: Option<usize>,
    /// The next rung and when it may be tried, when its time has not come.
    waits: Option<(usize, Timestamp)>,
    /// The next rung is held back because the failure is flaky.
    flaky_hold: Option<usize>,
    /// With a rung tried now, the one after it and when its window would let it go.
    then: Option<(usize, Timestamp)>,
}

/// The ladders of one repository, from the decision's inputs; [`Ladders::gate`] filters the candidates before the
/// cooldown and cap, [`Ladders::settle`] records what the plan tried.
#[derive(Debug)]
pub(super) struct Ladders<'a> {
    repository: &'a ObservedRepository,
    rungs: Vec<EscalationAction>,
    windows: Vec<std::time::Duration>,
    ladders: Vec<ProblemLadder>,
    /// Problems that no longer hold, judged on decisive runs with none in progress.
    healed: Vec<EscalationState>,
    now: Timestamp,
}

impl<'a> Ladders<'a> {
    /// The ladders of `repository` under `policy` at `now`, given the rules' `candidates`.
    pub(super) fn new(
        policy: &HealingPolicySpec,
        repository: &'a ObservedRepository,
        candidates: &[Candidate],
        now: Timestamp,
    ) -> Self {
        let mut rungs = Vec::new();
        let mut windows = Vec::new();
        for rung in &policy.escalation.rungs {
            if !rungs.contains(&rung.action) {
                rungs.push(rung.action);
                windows.push(rung.window());
            }
        }
        let current_problems = health::problems(&repository.health, &policy.thresholds);
        let decisive = health::verdict(&repository.health, &policy.thresholds).status != ConditionStatus::Unknown;
        let settled = decisive && !repository.run_in_progress;
        let entries = repository.escalations.iter().filter(|e| e.repository == repository.name);
        let mut healed = Vec::new();
        let mut kept: BTreeMap<Problem, EscalationState> = BTreeMap::new();
        for entry in entries {
            match Problem::parse(&entry.problem) {
                Some(problem) if current_problems.contains(&problem) || !settled => {
                    kept.insert(problem, entry.clone());
                }
                Some(_) => healed.push(entry.clone()),
                None => {} // A problem this version does not know: nothing can climb it.
            }
        }
        let mut ladders = Ladders { repository, rungs, windows, ladders: Vec::new(), healed, now };
        for problem in current_problems {
            let entry = kept.remove(&problem);
            ladders.ladders.push(ladders.position(problem, entry, candidates));
        }
        // Entries kept only because the runs are not settled: they neither climb nor drop.
        for (problem, entry) in kept {
            let current = ladders.rungs.iter().position(|r| *r == entry.rung);
            let idle = ProblemLadder {
                problem,
                entry: Some(entry),
                current,
                try_now: None,
                waits: None,
                flaky_hold: None,
                then: None,
            };
            ladders.ladders.push(idle);
        }
        ladders
    }

    fn position(&self, problem: Problem, entry: Option<EscalationState>, candidates: &[Candidate]) -> ProblemLadder {
        let current = entry.as_ref().and_then(|e| self.rungs.iter().position(|r| *r == e.rung));
        let start = current.map_or(0, |at| at + 1);
        let next = (start..self.rungs.len()).find(|&at| self.applies(at, problem, candidates));
        let mut ladder =
            ProblemLadder { problem, entry, current, try_now: None, waits: None, flaky_hold: None, then: None };
        let Some(next) = next else { return ladder };
        if self.repository.latest_failure_verdict == Verdict::Flaky && self.rungs[next] != EscalationAction::Rerun {
            ladder.flaky_hold = Some(next);
            return ladder;
        }
        let due = match (&ladder.entry, current) {
            (Some(entry), Some(at)) => after(entry.reached_at.0, signed(self.windows[at])),
            _ => self.now,
        };
        if self.now >= due {
            ladder.try_now = Some(next);
            let flaky = self.repository.latest_failure_verdict == Verdict::Flaky;
            let then = (next + 1..self.rungs.len()).find(|&at| self.applies(at, problem, candidates));
            ladder.then = then.filter(|_| !flaky).map(|at| (at, after(self.now, signed(self.windows[next]))));
        } else {
            ladder.waits = Some((next, due));
        }
        ladder
    }

    /// Whether the rung at `at` has something to do for `problem`: a candidate of its kinds that goes now or at a
    /// known time.
    fn applies(&self, at: usize, problem: Problem, candidates: &[Candidate]) -> bool {
        let rung = self.rungs[at];
        if rung == EscalationAction::Rerun && self.repository.latest_failure_verdict == Verdict::Deterministic {
            return false;
        }
        candidates.iter().any(|candidate| match candidate {
            Ok((action, _)) => rung_of(action.kind()) == Some(rung) && self.concerns(action, problem),
            Err(withheld) => rung_of(withheld.kind) == Some(rung) && withheld.retry_at.is_some(),
        }) || (rung == EscalationAction::Rerun
            && self.repository.run_in_progress
            && self.repository.latest_failed_run.is_some())
    }

    /// Whether `action` is about `problem`: an issue is about its own; everything else about the repository.
    fn concerns(&self, action: &HealingAction, problem: Problem) -> bool {
        match action {
            HealingAction::OpenIssue { problem: about, .. } => *about == problem,
            HealingAction::CommentIssue { number, .. } => self
                .repository
                .owned_issues
                .iter()
                .find(|i| i.number == *number)
                .is_none_or(|i| i.problem == problem.as_str()),
            _ => true,
        }
    }

    /// Lets through the candidates the ladders allow and turns the others into withheld decisions that say why.
    pub(super) fn gate(&self, candidates: Vec<Candidate>) -> Vec<Candidate> {
        candidates.into_iter().map(|candidate| self.gate_one(candidate)).collect()
    }

    fn gate_one(&self, candidate: Candidate) -> Candidate {
        let (kind, reason) = match &candidate {
            Ok((action, reason)) => (action.kind(), reason.clone()),
            Err(withheld) => (withheld.kind, withheld.why.clone()),
        };
        let withhold = |why: String, retry_at: Option<Timestamp>| Err(WithheldAction { kind, why, retry_at });
        if kind == ActionKind::Rerun && self.repository.latest_failure_verdict == Verdict::Deterministic {
            // Not even after its backoff: only a new failure, judged anew, brings re-runs back.
            return withhold(format!("deterministic failure, a re-run would fail again: {reason}"), None);
        }
        let (Some(rung), Ok(_)) = (rung_of(kind), &candidate) else { return candidate };
        if self.ladders.is_empty() {
            return match rung {
                EscalationAction::Rerun | EscalationAction::FixPullRequest => candidate,
                _ => withhold(
                    format!("a rung of the escalation ladder, and no problem is past the thresholds: {reason}"),
                    None,
                ),
            };
        }
        let Some(at) = self.rungs.iter().position(|r| *r == rung) else {
            return withhold(format!("{} is not a rung of spec.escalation: {reason}", rung.as_str()), None);
        };
        let Ok((action, _)) = &candidate else { return candidate };
        let concerned = self.ladders.iter().filter(|ladder| self.concerns(action, ladder.problem));
        let mut why = None;
        for ladder in concerned {
            if ladder.current.is_some_and(|current| at <= current) || ladder.try_now == Some(at) {
                return candidate;
            }
            let problem = ladder.problem.as_str();
            let current = ladder.current.map_or("no rung", |c| self.rungs[c].as_str());
            why = Some(match (ladder.waits, ladder.flaky_hold) {
                (Some((next, due)), _) if next == at => {
                    (format!("escalation: {problem} is on the {current} rung until {due}: {reason}"), Some(due))
                }
                (_, Some(_)) => (format!("flaky failure, re-run and not escalated ({problem}): {reason}"), None),
                (Some((next, due)), _) => {
                    let next = self.rungs[next].as_str();
                    (format!("escalation: {problem} tries the {next} rung first (from {due}): {reason}"), None)
                }
                (None, None) => match ladder.try_now {
                    Some(next) => {
                        // Tried now, that rung has its window before the one after it may go.
                        let earliest = ladder.then.filter(|(then, _)| *then == at).map(|(_, due)| due);
                        let next = self.rungs[next].as_str();
                        (format!("escalation: {problem} tries the {next} rung first: {reason}"), earliest)
                    }
                    None => (format!("escalation: {problem} is on the {current} rung: {reason}"), None),
                },
            });
        }
        let (why, retry_at) = why.unwrap_or_else(|| (format!("escalation: no problem this concerns: {reason}"), None));
        withhold(why, retry_at)
    }

    /// The repository's ladders after `actions` were planned, with what changed: a rung is reached when one of its
    /// actions passed the gate; healed problems drop off.
    pub(super) fn settle(self, actions: &[PlannedAction]) -> (Vec<EscalationState>, Vec<LadderChange>) {
        let now = Time(self.now);
        let mut states = Vec::new();
        let mut changes = Vec::new();
        for ladder in &self.ladders {
            let tried = ladder.try_now.filter(|&at| {
                actions.iter().any(|planned| {
                    rung_of(planned.action.kind()) == Some(self.rungs[at])
                        && self.concerns(&planned.action, ladder.problem)
                })
            });
            match (tried, &ladder.entry) {
                (Some(at), entry) => {
                    let to = self.rungs[at];
                    let from = entry.as_ref().map(|e| e.rung);
                    let why = match (entry, ladder.current) {
                        (Some(entry), Some(current)) => format!(
                            "{} on {}: the {} rung did not heal it within {:?}; {} reached",
                            ladder.problem.as_str(),
                            self.repository.name,
                            entry.rung.as_str(),
                            self.windows[current],
                            to.as_str()
                        ),
                        _ => format!(
                            "{} on {}: escalation started at the {} rung ({} failure)",
                            ladder.problem.as_str(),
                            self.repository.name,
                            to.as_str(),
                            self.repository.latest_failure_verdict.as_str()
                        ),
                    };
                    changes.push(LadderChange { problem: ladder.problem.as_str().to_owned(), from, to: Some(to), why });
                    states.push(EscalationState {
                        repository: self.repository.name.clone(),
                        problem: ladder.problem.as_str().to_owned(),
                        rung: to,
                        reached_at: now.clone(),
                        since: entry.as_ref().map_or_else(|| now.clone(), |e| e.since.clone()),
                    });
                }
                (None, Some(entry)) => states.push(entry.clone()),
                (None, None) => {}
            }
        }
        for entry in &self.healed {
            let why = format!(
                "{} on {} healed at the {} rung; back to the bottom of the ladder",
                entry.problem,
                self.repository.name,
                entry.rung.as_str()
            );
            changes.push(LadderChange { problem: entry.problem.clone(), from: Some(entry.rung), to: None, why });
        }
        (states, changes)
    }
}

/// Closing candidates for the rollback pull requests the policy opened, once the default branch is green again and
/// no problem holds (decisive runs, none in progress): once per pull request, found by its branch in the audit trail.
pub(super) fn close_rollbacks(
    policy: &HealingPolicySpec,
    repository: &ObservedRepository,
    history: &ActionHistory<'_>,
) -> Vec<Candidate> {
    let health = &repository.health;
    let verdict = health::verdict(health, &policy.thresholds);
    let green = verdict.status != ConditionStatus::Unknown
        && !repository.run_in_progress
        && health.consecutive_failures == 0
        && health::problems(health, &policy.thresholds).is_empty();
    if !policy.actions.rollback.enabled || !green {
        return Vec::new();
    }
    let rollback_prefix = marker::rollback_branch("");
    repository
        .owned_pull_requests
        .iter()
        .filter(|pr| pr.open && pr.branch.starts_with(&rollback_prefix))
        .filter(|pr| {
            !history.of_repository(&repository.name).any(|(entry, _)| {
                entry.action == ActionKind::ClosePullRequest.as_str() && entry.reason.contains(&pr.branch)
            })
        })
        .map(|pr| {
            let comment = format!(
                "The default branch is green again ({}): this revert is no longer needed. Closed by Infinity \
                 Orchestrator.",
                verdict.message
            );
            let reason = format!("healed: rollback pull request #{} ({}) no longer needed", pr.number, pr.branch);
            Ok((HealingAction::ClosePullRequest { number: pr.number, comment }, reason))
        })
        .collect()
}

/// Keeps the newest [`ESCALATIONS_LIMIT`] entries by rung, highest first, then by when they were reached; the
/// order is by repository and problem.
pub fn bound_escalations(entries: &mut Vec<EscalationState>) {
    if entries.len() > ESCALATIONS_LIMIT {
        entries.sort_by(|a, b| b.rung.cmp(&a.rung).then_with(|| b.reached_at.0.cmp(&a.reached_at.0)));
        entries.truncate(ESCALATIONS_LIMIT);
    }
    entries.sort_by(|a, b| (&a.repository, &a.problem).cmp(&(&b.repository, &b.problem)));
}
