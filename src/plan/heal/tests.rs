use super::*;
use crate::crd::healing_policy::HealingThresholds;
use crate::crd::reference::LocalObjectReference;

const T0: i64 = 1_700_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).unwrap()
}

/// An Enforce policy with every action on, 3-failure threshold, 30m cooldown, 5 per hour.
fn policy() -> HealingPolicySpec {
    let mut policy: HealingPolicySpec = serde_json::from_value(serde_json::json!({
        "organizationRef": { "name": "org" },
        "mode": "Enforce",
        "actions": {
            "rerun": { "enabled": true, "maxAttemptsPerSha": 2, "backoff": "1m" },
            "dependencyUpdate": { "enabled": true, "minSeverity": "high", "maxOpenPullRequests": 2 },
            "configRepair": { "enabled": true },
            "rollback": { "enabled": true, "afterConsecutiveFailures": 5 }
        }
    }))
    .unwrap();
    policy.organization_ref = LocalObjectReference { name: "org".into() };
    policy
}

fn health(streak: i32, rate: i32) -> HealthStatus {
    HealthStatus {
        consecutive_failures: streak,
        success_rate_percent: rate,
        window_runs: 20,
        ..HealthStatus::default()
    }
}

fn repo(streak: i32) -> ObservedRepository {
    ObservedRepository { name: "api".into(), health: health(streak, 80), ..ObservedRepository::default() }
}

fn failed_run(attempt: i32) -> FailedRun {
    FailedRun { run_id: 42, head_sha: "abc".into(), attempt, url: None, completed_at: at(0) }
}

fn entry(action: &str, secs: i64, reason: &str) -> AuditedAction {
    AuditedAction {
        time: Time(at(secs)),
        repository: "api".into(),
        action: action.into(),
        reason: reason.into(),
        outcome: "Enforced".into(),
        link: None,
    }
}

fn decide_at(
    policy: &HealingPolicySpec,
    repo: &ObservedRepository,
    history: &[AuditedAction],
    secs: i64,
) -> HealingPlan {
    decide(policy, repo, &ActionHistory { entries: history }, at(secs))
}

fn kinds(plan: &HealingPlan) -> Vec<ActionKind> {
    plan.actions.iter().map(|a| a.action.kind()).collect()
}

#[test]
fn rerun_respects_the_bound_and_doubling_backoff() {
    // (attempt of the run, recorded re-runs, seconds after failure, expect a Rerun, expected retry_at)
    let cases = [
        (1, 0, 59, false, Some(60)),
        (1, 0, 60, true, None),
        (2, 0, 119, false, Some(120)),
        (2, 1, 120, true, None),
        (1, 1, 120, true, None),
        (3, 0, 10_000, false, None),
        (1, 2, 10_000, false, None),
    ];
    for (attempt, recorded, secs, expect, retry) in cases {
        let mut repo = repo(1);
        repo.latest_failed_run = Some(failed_run(attempt));
        repo.rerun_attempts.insert("abc".into(), recorded);
        let plan = decide_at(&policy(), &repo, &[], secs);
        assert_eq!(kinds(&plan) == [ActionKind::Rerun], expect, "attempt {attempt}, recorded {recorded}, +{secs}s");
        if !expect {
            assert_eq!(plan.withheld[0].retry_at, retry.map(at), "attempt {attempt}, recorded {recorded}");
        }
    }
}

#[test]
fn issue_opens_at_the_threshold_with_a_marker() {
    for (streak, expect) in [(2, false), (3, true), (7, true)] {
        let plan = decide_at(&policy(), &repo(streak), &[], 0);
        assert_eq!(kinds(&plan) == [ActionKind::OpenIssue], expect, "streak {streak}");
        if let Some(PlannedAction { action: HealingAction::OpenIssue { problem, body, labels, .. }, .. }) =
            plan.actions.first()
        {
            assert_eq!(*problem, Problem::ConsecutiveFailures);
            assert_eq!(labels, &vec!["infinity-orchestrator".to_owned()]);
            let marker = marker::IssueMarker::parse(body).unwrap();
            assert_eq!((marker.problem.as_str(), marker.severity), ("ConsecutiveFailures", Some(i64::from(streak))));
        }
    }
    let mut low_rate = repo(0);
    low_rate.health = health(0, 40);
    let mut policy = policy();
    policy.thresholds = HealingThresholds { min_success_rate_percent: Some(50), ..HealingThresholds::default() };
    let plan = decide_at(&policy, &low_rate, &[], 0);
    assert!(matches!(plan.actions[0].action, HealingAction::OpenIssue { problem: Problem::LowSuccessRate, .. }));
}

#[test]
fn owned_issue_is_commented_only_when_worse() {
    let body = marker::IssueMarker { problem: "ConsecutiveFailures".into(), severity: Some(3) }.render();
    let comment = marker::IssueMarker { problem: "ConsecutiveFailures".into(), severity: Some(5) }.render();
    let issue = OwnedIssue::from_texts(9, &format!("Failing\n{body}"), &[comment.as_str(), "thanks"]).unwrap();
    assert_eq!(issue.reported_severity, 5);
    for (streak, expect_comment) in [(3, false), (5, false), (6, true)] {
        let mut repo = repo(streak);
        repo.owned_issues = vec![issue.clone()];
        let plan = decide_at(&policy(), &repo, &[], 0);
        let expected: &[ActionKind] = if expect_comment { &[ActionKind::CommentIssue] } else { &[] };
        assert_eq!(kinds(&plan), expected, "streak {streak}: the marker dedupes, comments only when worse");
        if let Some(PlannedAction { action: HealingAction::CommentIssue { number, body }, .. }) = plan.actions.first() {
            assert_eq!(*number, 9);
            assert_eq!(marker::IssueMarker::parse(body).and_then(|m| m.severity), Some(6));
        }
    }
    assert_eq!(OwnedIssue::from_texts(1, "no marker", &[]), None);
}

#[test]
fn issue_is_closed_when_healthy_but_not_without_runs() {
    let owned = |number| OwnedIssue { number, problem: "ConsecutiveFailures".into(), reported_severity: 3 };
    let cases = [
        (health(0, 100), vec![ActionKind::CloseIssue]),
        (health(2, 80), vec![ActionKind::CloseIssue]),
        (health(0, 0), vec![]),
        (health(3, 80), vec![]),
    ];
    for (health, expected) in cases {
        let mut repo = repo(0);
        repo.health = health.clone();
        repo.owned_issues = vec![owned(12), owned(4)];
        let plan = decide_at(&policy(), &repo, &[], 0);
        assert_eq!(kinds(&plan), expected, "{health:?}");
        if let Some(PlannedAction { action: HealingAction::CloseIssue { number, .. }, .. }) = plan.actions.first() {
            assert_eq!(*number, 4, "the oldest duplicate is the one kept");
        }
    }
}

#[test]
fn cooldown_holds_back_the_same_kind_only() {
    let cases = [
        (vec![entry("OpenIssue", -60, "x")], 0, vec![]),
        (vec![entry("OpenIssue", -1800, "x")], 0, vec![ActionKind::OpenIssue]),
        (vec![entry("Rerun", -60, "x")], 0, vec![ActionKind::OpenIssue]),
        (
            vec![AuditedAction { repository: "other".into(), ..entry("OpenIssue", -60, "x") }],
            0,
            vec![ActionKind::OpenIssue],
        ),
    ];
    for (history, secs, expected) in cases {
        let plan = decide_at(&policy(), &repo(3), &history, secs);
        assert_eq!(kinds(&plan), expected, "{history:?}");
        if expected.is_empty() {
            assert_eq!(plan.requeue_at(), Some(at(1740)), "retry when the cooldown ends");
        }
    }
}

#[test]
fn per_hour_cap_counts_the_last_hour_and_this_plan() {
    let mut repo = repo(3);
    repo.latest_failed_run = Some(failed_run(1));
    // On the issue rung already: a re-run and an issue may both go (the ladder's own tests cover how it got there).
    repo.escalations = vec![crate::crd::healing_policy::EscalationState {
        repository: "api".into(),
        problem: "ConsecutiveFailures".into(),
        rung: crate::crd::healing_policy::EscalationAction::Issue,
        reached_at: Time(at(0)),
        since: Time(at(0)),
    }];
    let mut policy = policy();
    policy.max_actions_per_repository_per_hour = 2;
    let full: Vec<AuditedAction> = vec![entry("ConfigRepair", 600, "a"), entry("Rollback", 3500, "b")];
    let plan = decide_at(&policy, &repo, &full, 3600);
    assert_eq!(kinds(&plan), vec![], "two in the last hour fill a cap of 2");
    assert_eq!(plan.requeue_at(), Some(at(4200)), "a slot frees when the oldest turns an hour old");
    let old = vec![entry("ConfigRepair", 0, "a"), entry("Rollback", 3500, "b")];
    assert_eq!(kinds(&decide_at(&policy, &repo, &old, 3600)), vec![ActionKind::Rerun], "one slot left");
    assert_eq!(kinds(&decide_at(&policy, &repo, &[], 3600)), vec![ActionKind::Rerun, ActionKind::OpenIssue]);
}

#[test]
fn dry_run_decides_the_same_but_sends_nothing() {
    let mut repo = repo(3);
    repo.latest_failed_run = Some(failed_run(1));
    let enforce = decide_at(&policy(), &repo, &[], 600);
    let mut dry = policy();
    dry.mode = HealingMode::DryRun;
    let recorded = decide_at(&dry, &repo, &[], 600);
    assert_eq!(kinds(&enforce), kinds(&recorded));
    assert!(enforce.actions.iter().all(|a| a.dispatch == Dispatch::Send));
    assert!(recorded.actions.iter().all(|a| a.dispatch == Dispatch::RecordOnly));
    assert_eq!(recorded.actions[0].audit("api", at(600), None).outcome, "DryRun");
    let mut suspended = policy();
    suspended.suspend = true;
    assert_eq!(decide_at(&suspended, &repo, &[], 600), HealingPlan::default());
}

fn alert(number: i64, package: &str, patched: &str, severity: AlertSeverity) -> DependabotAlert {
    DependabotAlert {
        number,
        package: package.into(),
        ecosystem: "npm".into(),
        manifest_path: "package.json".into(),
        vulnerable_range: "< 4.17.21".into(),
        first_patched_version: Some(patched.into()),
        severity,
    }
}

const PACKAGE_JSON: &str = "{\n  \"dependencies\": {\n    \"lodash\": \"^4.17.11\",\n    \"minimist\": \"1.2.0\",\n    \"qs\": \"6.5.0\"\n  }\n}\n";

fn repo_with_alerts(alerts: Vec<DependabotAlert>) -> ObservedRepository {
    let mut repo = repo(0);
    repo.health = health(0, 100);
    repo.dependabot_alerts = alerts;
    repo.manifests.insert("package.json".into(), PACKAGE_JSON.into());
    repo
}

#[test]
fn dependency_update_raises_to_the_highest_patched_version() {
    let repo = repo_with_alerts(vec![
        alert(1, "lodash", "4.17.12", AlertSeverity::High),
        alert(2, "lodash", "4.17.21", AlertSeverity::Critical),
        alert(3, "qs", "6.5.3", AlertSeverity::Medium),
    ]);
    let plan = decide_at(&policy(), &repo, &[], 0);
    let [PlannedAction { action: HealingAction::DependencyUpdate { branch, edits, .. }, .. }] = plan.actions.as_slice()
    else {
        panic!("one dependency update expected: {plan:?}");
    };
    assert_eq!(branch, "infinity-orchestrator/dependency-update/lodash-4.17.21");
    assert_eq!(edits[0].content, PACKAGE_JSON.replace("^4.17.11", "^4.17.21"));
    assert!(plan.withheld.is_empty(), "qs is below minSeverity: {:?}", plan.withheld);
}

#[test]
fn dependency_updates_respect_branches_open_pull_requests_and_one_per_evaluation() {
    let alerts =
        vec![alert(1, "lodash", "4.17.21", AlertSeverity::High), alert(2, "minimist", "1.2.6", AlertSeverity::High)];
    let pr = |branch: &str, open| OwnedPullRequest { number: 1, branch: branch.into(), open };
    let lodash = "infinity-orchestrator/dependency-update/lodash-4.17.21";
    let minimist = "infinity-orchestrator/dependency-update/minimist-1.2.6";
    // (owned pull requests, the branch planned, dependency updates withheld)
    let cases = [
        (vec![], Some(lodash), 1),
        (vec![pr(lodash, true)], Some(minimist), 0),
        (vec![pr(lodash, false)], Some(minimist), 0),
        (vec![pr(lodash, true), pr(minimist, false)], None, 0),
        (
            vec![
                pr("infinity-orchestrator/dependency-update/a-1", true),
                pr("infinity-orchestrator/dependency-update/b-1", true),
            ],
            None,
            2,
        ),
    ];
    for (prs, planned, withheld) in cases {
        let mut repo = repo_with_alerts(alerts.clone());
        repo.owned_pull_requests = prs.clone();
        let plan = decide_at(&policy(), &repo, &[], 0);
        let branches: Vec<&str> = plan
            .actions
            .iter()
            .filter_map(|a| match &a.action {
                HealingAction::DependencyUpdate { branch, .. } => Some(branch.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(branches, planned.into_iter().collect::<Vec<_>>(), "{prs:?}");
        assert_eq!(plan.withheld.len(), withheld, "{prs:?}: {:?}", plan.withheld);
    }
}

#[test]
fn config_repair_restores_the_template_unless_a_pull_request_is_open() {
    let defect = WorkflowDefect {
        path: ".github/workflows/infinity.yml".into(),
        problem: "missing".into(),
        template: "on: push\n".into(),
    };
    let branch = "infinity-orchestrator/config-repair/infinity.yml";
    for (prs, expect) in [
        (vec![], true),
        (vec![OwnedPullRequest { number: 3, branch: branch.into(), open: true }], false),
        (vec![OwnedPullRequest { number: 3, branch: branch.into(), open: false }], true),
    ] {
        let mut repo = repo(0);
        repo.workflow_defect = Some(defect.clone());
        repo.owned_pull_requests = prs;
        let plan = decide_at(&policy(), &repo, &[], 0);
        assert_eq!(kinds(&plan) == [ActionKind::ConfigRepair], expect);
        if let Some(PlannedAction { action: HealingAction::ConfigRepair { file, branch: planned, .. }, .. }) =
            plan.actions.first()
        {
            assert_eq!(
                (file.path.as_str(), file.content.as_str(), planned.as_str()),
                (defect.path.as_str(), "on: push\n", branch)
            );
        }
    }
}

#[test]
fn rollback_after_the_threshold_and_once_per_sha() {
    let red = RedCommit {
        sha: "bad1".into(),
        message: "Break it".into(),
        parent: "good0".into(),
        failed_runs_since: 5,
        red_since: at(0),
    };
    let branch = "infinity-orchestrator/rollback/bad1";
    let mut policy = policy();
    policy.actions.issue.enabled = false;
    let cases = [
        (4, vec![], vec![], false),
        (5, vec![], vec![], true),
        (5, vec![OwnedPullRequest { number: 8, branch: branch.into(), open: false }], vec![], false),
        (9, vec![], vec![entry("Rollback", -86_400, "bad1 turned the default branch red")], false),
        (9, vec![], vec![entry("Rollback", -86_400, "bad0 turned the default branch red")], true),
    ];
    for (failed, prs, history, expect) in cases {
        let mut repo = repo(failed);
        repo.red_commit = Some(RedCommit { failed_runs_since: failed, ..red.clone() });
        repo.owned_pull_requests = prs;
        let plan = decide_at(&policy, &repo, &history, 0);
        assert_eq!(kinds(&plan) == [ActionKind::Rollback], expect, "failed {failed}, history {history:?}");
        if let Some(PlannedAction {
            action: HealingAction::Rollback { revert_sha, parent_sha, branch: b, .. },
            reason,
            ..
        }) = plan.actions.first()
        {
            assert_eq!((revert_sha.as_str(), parent_sha.as_str(), b.as_str()), ("bad1", "good0", branch));
            assert!(reason.contains("bad1"), "the audit reason names the sha so it is found again");
        }
    }
}

#[test]
fn same_inputs_same_plan_and_history_stays_bounded() {
    let mut repo = repo_with_alerts(vec![alert(1, "lodash", "4.17.21", AlertSeverity::High)]);
    repo.health = health(4, 50);
    repo.latest_failed_run = Some(failed_run(1));
    assert_eq!(decide_at(&policy(), &repo, &[], 600), decide_at(&policy(), &repo, &[], 600));
    let mut history: Vec<AuditedAction> = (0..HISTORY_LIMIT as i64).map(|i| entry("Rerun", -i, "old")).collect();
    append_to_history(&mut history, vec![entry("OpenIssue", 1, "new")]);
    assert_eq!((history.len(), history[0].action.as_str(), history[1].time.0), (HISTORY_LIMIT, "OpenIssue", at(0)));
}

#[test]
fn audited_reruns_count_against_the_bound_in_dry_run() {
    let mut dry = policy();
    dry.mode = HealingMode::DryRun;
    let mut repo = repo(1);
    repo.latest_failed_run = Some(failed_run(1));
    let first = decide_at(&dry, &repo, &[], 3600);
    assert_eq!(kinds(&first), vec![ActionKind::Rerun]);
    let one = vec![first.actions[0].audit("api", at(3600), None)];
    assert_eq!(kinds(&decide_at(&dry, &repo, &one, 7200)), vec![ActionKind::Rerun], "one of two made");
    let two = vec![one[0].clone(), AuditedAction { time: Time(at(7200)), ..one[0].clone() }];
    let plan = decide_at(&dry, &repo, &two, 20_000);
    assert_eq!(kinds(&plan), vec![]);
    assert_eq!(plan.withheld[0].retry_at, None, "the bound is reached: only a new sha brings re-runs back");
}

#[test]
fn a_run_in_progress_holds_reruns_and_closing_back() {
    let mut repo = repo(0);
    repo.health = health(2, 80);
    repo.latest_failed_run = Some(failed_run(2));
    repo.owned_issues = vec![OwnedIssue { number: 4, problem: "ConsecutiveFailures".into(), reported_severity: 3 }];
    assert_eq!(kinds(&decide_at(&policy(), &repo, &[], 600)), vec![ActionKind::CloseIssue, ActionKind::Rerun]);
    repo.run_in_progress = true;
    let plan = decide_at(&policy(), &repo, &[], 600);
    assert_eq!(kinds(&plan), vec![], "the re-run in progress may fail again");
    assert_eq!(plan.withheld.iter().map(|w| (w.kind, w.retry_at)).collect::<Vec<_>>(), [(ActionKind::Rerun, None)]);
}
