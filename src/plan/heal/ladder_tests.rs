//! Every ladder decision: where a ladder starts, waiting within a window, climbing, passing over a rung that is
//! off or has nothing to do, the flaky gate, dropping back, DryRun, and the cooldown and cap on a rung.

use super::*;
use crate::crd::healing_policy::EscalationAction::{self, FixPullRequest, Issue, RollbackPullRequest};
use crate::crd::healing_policy::EscalationState;
use crate::crd::reference::LocalObjectReference;
use crate::plan::flaky::Verdict;

const T0: i64 = 1_700_000_000;
const HOUR: i64 = 3600;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).unwrap()
}

/// Enforce, every action on, default ladder (Rerun 30m, Issue 4h, FixPullRequest 24h), 30m cooldown, 5 per hour.
fn policy() -> HealingPolicySpec {
    let mut policy: HealingPolicySpec = serde_json::from_value(serde_json::json!({
        "organizationRef": { "name": "org" },
        "mode": "Enforce",
        "actions": {
            "rerun": { "enabled": true, "maxAttemptsPerSha": 2, "backoff": "1m" },
            "dependencyUpdate": { "enabled": true },
            "configRepair": { "enabled": true },
            "rollback": { "enabled": true, "afterConsecutiveFailures": 5 }
        }
    }))
    .unwrap();
    policy.organization_ref = LocalObjectReference { name: "org".into() };
    policy
}

/// Red for `streak` runs since `bad1`, its workflow broken, its latest failure judged `verdict`.
fn failing(streak: i32, verdict: Verdict) -> ObservedRepository {
    ObservedRepository {
        name: "api".into(),
        health: HealthStatus {
            consecutive_failures: streak,
            success_rate_percent: 50,
            window_runs: 20,
            ..HealthStatus::default()
        },
        latest_failed_run: Some(FailedRun {
            run_id: 42,
            head_sha: "bad1".into(),
            attempt: 1,
            url: None,
            completed_at: at(0),
        }),
        latest_failure_verdict: verdict,
        workflow_defect: Some(WorkflowDefect {
            path: ".github/workflows/infinity-orchestrator.yml".into(),
            problem: "missing".into(),
            template: "on: push\n".into(),
        }),
        red_commit: Some(RedCommit {
            sha: "bad1".into(),
            message: "Break it".into(),
            parent: "good0".into(),
            failed_runs_since: streak,
            red_since: at(0),
        }),
        ..ObservedRepository::default()
    }
}

fn green() -> ObservedRepository {
    ObservedRepository {
        name: "api".into(),
        health: HealthStatus {
            consecutive_failures: 0,
            success_rate_percent: 90,
            window_runs: 20,
            ..HealthStatus::default()
        },
        ..ObservedRepository::default()
    }
}

fn on(rung: EscalationAction, reached: i64, since: i64) -> EscalationState {
    EscalationState {
        repository: "api".into(),
        problem: "ConsecutiveFailures".into(),
        rung,
        reached_at: Time(at(reached)),
        since: Time(at(since)),
    }
}

fn issue() -> OwnedIssue {
    OwnedIssue { number: 7, problem: "ConsecutiveFailures".into(), reported_severity: 5 }
}

fn kinds(plan: &HealingPlan) -> Vec<ActionKind> {
    plan.actions.iter().map(|a| a.action.kind()).collect()
}

fn rungs(plan: &HealingPlan) -> Vec<(EscalationAction, Timestamp)> {
    plan.escalations.iter().map(|e| (e.rung, e.reached_at.0)).collect()
}

fn withheld(plan: &HealingPlan, kind: ActionKind) -> Option<&WithheldAction> {
    plan.withheld.iter().find(|w| w.kind == kind)
}

/// Walks a repository through a ladder the way the controller does: each plan's audit entries, escalations and the
/// pull requests and issues it opened feed the next decision.
struct Walk {
    policy: HealingPolicySpec,
    repository: ObservedRepository,
    history: Vec<AuditedAction>,
}

impl Walk {
    fn step(&mut self, secs: i64) -> HealingPlan {
        let plan = decide(&self.policy, &self.repository, &ActionHistory { entries: &self.history }, at(secs));
        let entries = plan.actions.iter().rev().map(|a| a.audit("api", at(secs), None)).collect();
        append_to_history(&mut self.history, entries);
        self.repository.escalations = plan.escalations.clone();
        if self.policy.mode == HealingMode::Enforce {
            for planned in &plan.actions {
                match &planned.action {
                    HealingAction::OpenIssue { problem, .. } => self.repository.owned_issues.push(OwnedIssue {
                        number: 7,
                        problem: problem.as_str().into(),
                        reported_severity: 5,
                    }),
                    HealingAction::ConfigRepair { branch, .. } | HealingAction::Rollback { branch, .. } => self
                        .repository
                        .owned_pull_requests
                        .push(OwnedPullRequest { number: 8, branch: branch.clone(), open: true }),
                    _ => {}
                }
            }
        }
        plan
    }
}

#[test]
fn a_deterministic_failure_climbs_issue_fix_rollback_each_after_its_window() {
    let mut walk = Walk { policy: policy(), repository: failing(5, Verdict::Deterministic), history: Vec::new() };
    let first = walk.step(0);
    assert_eq!(kinds(&first), [ActionKind::OpenIssue], "the re-run rung is skipped: {:?}", first.withheld);
    assert!(withheld(&first, ActionKind::Rerun).unwrap().why.contains("deterministic"));
    assert_eq!(rungs(&first), [(Issue, at(0))]);
    assert_eq!(withheld(&first, ActionKind::ConfigRepair).unwrap().retry_at, Some(at(4 * HOUR)), "Issue's window");
    assert_eq!(withheld(&first, ActionKind::Rollback).unwrap().retry_at, None, "tried after the fix");
    assert_eq!(first.ladder_changes[0].from, None);
    assert_eq!(first.ladder_changes[0].to, Some(Issue));

    let waiting = walk.step(4 * HOUR - 1);
    assert_eq!(kinds(&waiting), [], "within the Issue rung's window");
    assert_eq!(rungs(&waiting), [(Issue, at(0))]);
    assert_eq!(waiting.requeue_at(), Some(at(4 * HOUR)));

    let fix = walk.step(4 * HOUR);
    assert_eq!(kinds(&fix), [ActionKind::ConfigRepair]);
    assert_eq!(rungs(&fix), [(FixPullRequest, at(4 * HOUR))]);
    assert_eq!(fix.escalations[0].since, Time(at(0)), "the ladder's start is kept");
    assert_eq!((fix.ladder_changes[0].from, fix.ladder_changes[0].to), (Some(Issue), Some(FixPullRequest)));

    assert_eq!(kinds(&walk.step(28 * HOUR - 1)), [], "within the FixPullRequest rung's window");
    let rollback = walk.step(28 * HOUR);
    assert_eq!(kinds(&rollback), [ActionKind::Rollback]);
    assert_eq!(rungs(&rollback), [(RollbackPullRequest, at(28 * HOUR))]);
    let top = walk.step(100 * HOUR);
    assert_eq!((kinds(&top), rungs(&top)), (vec![], vec![(RollbackPullRequest, at(28 * HOUR))]), "the top holds");
}

#[test]
fn an_undetermined_failure_starts_with_a_rerun_and_gets_its_issue_after_the_window() {
    let mut walk = Walk { policy: policy(), repository: failing(3, Verdict::Undetermined), history: Vec::new() };
    walk.repository.workflow_defect = None;
    let first = walk.step(60);
    assert_eq!(kinds(&first), [ActionKind::Rerun]);
    assert_eq!(rungs(&first), [(EscalationAction::Rerun, at(60))]);
    let issue = withheld(&first, ActionKind::OpenIssue).unwrap();
    assert_eq!(issue.retry_at, Some(at(60 + 1800)), "{}", issue.why);
    assert_eq!(kinds(&walk.step(1859)), [], "the re-run's cooldown and the rung's window");
    // The second re-run (the rung's own action stays allowed) and the issue, the window having run out.
    let second = walk.step(1860);
    assert_eq!(kinds(&second), [ActionKind::Rerun, ActionKind::OpenIssue]);
    assert_eq!(rungs(&second), [(Issue, at(1860))]);
}

#[test]
fn a_failure_waiting_for_its_rerun_backoff_waits_on_the_bottom_rung() {
    let plan = decide(&policy(), &failing(3, Verdict::Undetermined), &ActionHistory { entries: &[] }, at(30));
    assert_eq!(kinds(&plan), [], "the re-run is due at +60s and nothing above goes first");
    assert_eq!(rungs(&plan), [], "no rung tried yet");
    assert_eq!(plan.requeue_at(), Some(at(60)));
    assert!(withheld(&plan, ActionKind::OpenIssue).unwrap().why.contains("tries the Rerun rung first"));
}

#[test]
fn a_flaky_failure_is_rerun_and_never_escalated() {
    let mut walk = Walk { policy: policy(), repository: failing(6, Verdict::Flaky), history: Vec::new() };
    assert_eq!(kinds(&walk.step(60)), [ActionKind::Rerun]);
    assert_eq!(kinds(&walk.step(1860)), [ActionKind::Rerun], "past the re-run rung's window, still no issue");
    for secs in [2 * HOUR, 30 * HOUR] {
        let plan = walk.step(secs);
        assert_eq!(kinds(&plan), [], "bound reached, and nothing above the re-run rung: {:?}", plan.withheld);
        assert_eq!(rungs(&plan), [(EscalationAction::Rerun, at(60))]);
        let issue = withheld(&plan, ActionKind::OpenIssue).unwrap();
        assert!(issue.why.contains("flaky") && issue.retry_at.is_none(), "{issue:?}");
    }
    // Flaky from the start with the re-runs spent: no rung is tried at all.
    let mut spent = failing(6, Verdict::Flaky);
    spent.rerun_attempts.insert("bad1".into(), 2);
    let plan = decide(&policy(), &spent, &ActionHistory { entries: &[] }, at(HOUR));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![], vec![]));
}

#[test]
fn rungs_that_are_off_unlisted_or_idle_are_passed_over() {
    // Re-run and issue off: the ladder starts at the fix.
    let mut off = policy();
    off.actions.rerun.enabled = false;
    off.actions.issue.enabled = false;
    let plan = decide(&off, &failing(5, Verdict::Undetermined), &ActionHistory { entries: &[] }, at(0));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![ActionKind::ConfigRepair], vec![(FixPullRequest, at(0))]));
    // Nothing to fix (no broken workflow, no alert): the rollback comes straight after the issue's window.
    let mut idle = failing(5, Verdict::Deterministic);
    idle.workflow_defect = None;
    idle.escalations = vec![on(Issue, 0, 0)];
    idle.owned_issues = vec![issue()];
    let plan = decide(&policy(), &idle, &ActionHistory { entries: &[] }, at(4 * HOUR));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![ActionKind::Rollback], vec![(RollbackPullRequest, at(4 * HOUR))]));
    // A ladder without the fix rung: issue, then rollback after a 10m window.
    let mut short: HealingPolicySpec = policy();
    short.escalation = serde_json::from_value(serde_json::json!({
        "rungs": [{ "action": "Issue", "window": "10m" }, { "action": "RollbackPullRequest" }]
    }))
    .unwrap();
    let mut walk = Walk { policy: short, repository: failing(5, Verdict::Undetermined), history: Vec::new() };
    let first = walk.step(60);
    assert_eq!(kinds(&first), [ActionKind::OpenIssue], "Rerun is not a rung: {:?}", first.withheld);
    assert!(withheld(&first, ActionKind::Rerun).unwrap().why.contains("not a rung"));
    assert!(withheld(&first, ActionKind::ConfigRepair).unwrap().why.contains("not a rung"));
    assert_eq!(kinds(&walk.step(659)), []);
    assert_eq!(kinds(&walk.step(660)), [ActionKind::Rollback]);
    // Nothing above applies: the ladder stays, and climbs once something does.
    let mut stuck = failing(3, Verdict::Deterministic);
    stuck.workflow_defect = None;
    stuck.escalations = vec![on(Issue, 0, 0)];
    stuck.owned_issues = vec![issue()];
    let plan = decide(&policy(), &stuck, &ActionHistory { entries: &[] }, at(10 * HOUR));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![], vec![(Issue, at(0))]));
    stuck.red_commit.as_mut().unwrap().failed_runs_since = 5;
    let plan = decide(&policy(), &stuck, &ActionHistory { entries: &[] }, at(10 * HOUR));
    assert_eq!(kinds(&plan), [ActionKind::Rollback]);
}

#[test]
fn lower_rungs_stay_allowed_while_higher_ones_are_tried() {
    let mut repository = failing(9, Verdict::Undetermined);
    repository.escalations = vec![on(FixPullRequest, 0, 0)];
    repository.owned_issues = vec![issue()];
    repository.workflow_defect = None;
    let plan = decide(&policy(), &repository, &ActionHistory { entries: &[] }, at(HOUR));
    assert_eq!(kinds(&plan), [ActionKind::Rerun, ActionKind::CommentIssue], "{:?}", plan.withheld);
    assert_eq!(rungs(&plan), [(FixPullRequest, at(0))]);
}

#[test]
fn a_healed_repository_drops_back_and_closes_what_the_ladder_opened() {
    let rollback = "infinity-orchestrator/rollback/bad1";
    let mut healed = green();
    healed.escalations = vec![on(RollbackPullRequest, 0, 0)];
    healed.owned_issues = vec![issue()];
    healed.owned_pull_requests = vec![
        OwnedPullRequest { number: 8, branch: rollback.into(), open: true },
        OwnedPullRequest { number: 9, branch: "infinity-orchestrator/config-repair/x.yml".into(), open: true },
    ];
    let plan = decide(&policy(), &healed, &ActionHistory { entries: &[] }, at(HOUR));
    assert_eq!(kinds(&plan), [ActionKind::ClosePullRequest, ActionKind::CloseIssue]);
    assert!(matches!(plan.actions[0].action, HealingAction::ClosePullRequest { number: 8, .. }), "the rollback only");
    assert_eq!(rungs(&plan), [], "back to the bottom");
    assert_eq!((plan.ladder_changes[0].from, plan.ladder_changes[0].to), (Some(RollbackPullRequest), None));
    // Closed once: the audit trail names the branch.
    let history: Vec<AuditedAction> = plan.actions.iter().map(|a| a.audit("api", at(HOUR), None)).collect();
    healed.escalations.clear();
    healed.owned_issues.clear();
    let again = decide(&policy(), &healed, &ActionHistory { entries: &history }, at(2 * HOUR));
    assert_eq!(kinds(&again), []);
    // A run in progress may fail again: nothing drops yet.
    let mut busy = green();
    busy.escalations = vec![on(Issue, 0, 0)];
    busy.run_in_progress = true;
    let plan = decide(&policy(), &busy, &ActionHistory { entries: &[] }, at(HOUR));
    assert_eq!((rungs(&plan), plan.ladder_changes.len()), (vec![(Issue, at(0))], 0));
    // The next failure starts at the bottom again.
    let mut again = failing(3, Verdict::Undetermined);
    again.workflow_defect = None;
    let plan = decide(&policy(), &again, &ActionHistory { entries: &[] }, at(HOUR));
    assert_eq!(rungs(&plan), [(EscalationAction::Rerun, at(HOUR))]);
}

#[test]
fn dry_run_walks_the_same_ladder_recording_only() {
    let mut dry = policy();
    dry.mode = HealingMode::DryRun;
    let mut enforce = Walk { policy: policy(), repository: failing(5, Verdict::Deterministic), history: Vec::new() };
    let mut recorded = Walk { policy: dry, repository: failing(5, Verdict::Deterministic), history: Vec::new() };
    for secs in [0, 4 * HOUR, 28 * HOUR] {
        let (sent, noted) = (enforce.step(secs), recorded.step(secs));
        assert_eq!(rungs(&sent), rungs(&noted), "+{secs}s");
        assert_eq!(sent.ladder_changes, noted.ladder_changes, "+{secs}s");
        assert!(noted.actions.iter().all(|a| a.dispatch == Dispatch::RecordOnly));
    }
    assert_eq!(recorded.repository.escalations[0].rung, RollbackPullRequest);
    let order: Vec<&str> = recorded.history.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(order, ["OpenIssue", "OpenIssue", "ConfigRepair", "OpenIssue", "ConfigRepair", "Rollback"]);
    assert!(recorded.history.iter().all(|e| e.outcome == "DryRun"));
}

#[test]
fn cooldown_and_cap_hold_a_rung_back_without_climbing() {
    let mut repository = failing(5, Verdict::Deterministic);
    repository.escalations = vec![on(Issue, 0, 0)];
    repository.owned_issues = vec![issue()];
    // A config repair 10 minutes ago (another branch): the cooldown holds this one back, and the ladder stays.
    let recent = AuditedAction {
        time: Time(at(4 * HOUR - 600)),
        repository: "api".into(),
        action: "ConfigRepair".into(),
        reason: "earlier".into(),
        outcome: "Enforced".into(),
        link: None,
    };
    let plan = decide(&policy(), &repository, &ActionHistory { entries: std::slice::from_ref(&recent) }, at(4 * HOUR));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![], vec![(Issue, at(0))]));
    let held = withheld(&plan, ActionKind::ConfigRepair).unwrap();
    assert!(held.why.starts_with("cooldown"), "{held:?}");
    assert_eq!(plan.requeue_at(), Some(at(4 * HOUR + 1200)));
    // Five actions in the last hour fill the cap.
    let busy: Vec<AuditedAction> = (1..=5)
        .map(|i| AuditedAction { time: Time(at(4 * HOUR - 60 * i)), action: "Rerun".into(), ..recent.clone() })
        .collect();
    let plan = decide(&policy(), &repository, &ActionHistory { entries: &busy }, at(4 * HOUR));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![], vec![(Issue, at(0))]));
    assert!(withheld(&plan, ActionKind::ConfigRepair).unwrap().why.contains("actions per hour"));
    // Free again: it climbs.
    let plan = decide(&policy(), &repository, &ActionHistory { entries: &[] }, at(4 * HOUR));
    assert_eq!(rungs(&plan), [(FixPullRequest, at(4 * HOUR))]);
}

#[test]
fn outside_a_problem_fixes_go_as_before_and_rollbacks_wait_for_the_ladder() {
    // Below the thresholds: the config repair goes, the rollback (its own threshold lower) does not.
    let mut policy = policy();
    policy.actions.rollback.after_consecutive_failures = 2;
    let mut repository = failing(2, Verdict::Deterministic);
    repository.latest_failed_run = None;
    let plan = decide(&policy, &repository, &ActionHistory { entries: &[] }, at(0));
    assert_eq!((kinds(&plan), rungs(&plan)), (vec![ActionKind::ConfigRepair], vec![]));
    assert!(withheld(&plan, ActionKind::Rollback).unwrap().why.contains("no problem is past the thresholds"));
    // Past them, the fix waits for its rung.
    let repository = failing(3, Verdict::Deterministic);
    let plan = decide(&policy, &repository, &ActionHistory { entries: &[] }, at(0));
    assert_eq!(kinds(&plan), [ActionKind::OpenIssue]);
}

#[test]
fn escalations_stay_bounded_keeping_the_highest_rungs() {
    let mut entries: Vec<EscalationState> = (0..ladder::ESCALATIONS_LIMIT + 10)
        .map(|i| EscalationState { repository: format!("r{i:04}"), ..on(Issue, 0, 0) })
        .collect();
    entries[3].rung = RollbackPullRequest;
    ladder::bound_escalations(&mut entries);
    assert_eq!(entries.len(), ladder::ESCALATIONS_LIMIT);
    assert!(entries.iter().any(|e| e.rung == RollbackPullRequest));
    assert!(entries.windows(2).all(|w| w[0].repository < w[1].repository), "sorted by repository");
}
