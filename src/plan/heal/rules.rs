//! One function per kind of action: what the policy would do about the repository before the gate (cooldown, cap)
//! has its say. Each returns candidates in a fixed order so the plan is deterministic.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::manifest::{self, ManifestEditError};
use super::marker::{self, IssueMarker};
use super::{
    after, signed, ActionHistory, ActionKind, Candidate, FileEdit, HealingAction, ObservedRepository, OwnedIssue,
    WithheldAction,
};
use crate::crd::condition::ConditionStatus;
use crate::crd::healing_policy::{AlertSeverity, HealingPolicySpec};
use crate::plan::health::{self, Problem};

/// Every candidate, in the priority order the per-hour cap is spent in.
pub(super) fn candidates(
    policy: &HealingPolicySpec,
    repository: &ObservedRepository,
    history: &ActionHistory<'_>,
    now: Timestamp,
) -> Vec<Candidate> {
    let mut all = Vec::new();
    if policy.actions.issue.enabled {
        all.extend(close_issues(policy, repository));
    }
    if policy.actions.rerun.enabled {
        all.extend(rerun(policy, repository, history, now));
    }
    if policy.actions.issue.enabled {
        all.extend(open_or_comment_issues(policy, repository));
    }
    if policy.actions.config_repair.enabled {
        all.extend(config_repair(repository));
    }
    if policy.actions.rollback.enabled {
        all.extend(rollback(policy, repository, history));
    }
    if policy.actions.dependency_update.enabled {
        all.extend(dependency_updates(policy, repository));
    }
    all
}

fn withheld(kind: ActionKind, why: String, retry_at: Option<Timestamp>) -> Candidate {
    Err(WithheldAction { kind, why, retry_at })
}

/// The owned issue per problem name; of duplicates, the oldest (lowest number) is the one the policy keeps.
fn issues_by_problem(repository: &ObservedRepository) -> BTreeMap<&str, &OwnedIssue> {
    let mut by_problem: BTreeMap<&str, &OwnedIssue> = BTreeMap::new();
    for issue in &repository.owned_issues {
        let kept = by_problem.entry(issue.problem.as_str()).or_insert(issue);
        if issue.number < kept.number {
            *kept = issue;
        }
    }
    by_problem
}

fn close_issues(policy: &HealingPolicySpec, repository: &ObservedRepository) -> Vec<Candidate> {
    let verdict = health::verdict(&repository.health, &policy.thresholds);
    if verdict.status == ConditionStatus::Unknown || repository.run_in_progress {
        return Vec::new(); // No decisive run, or one about to decide: nothing is known to be fixed.
    }
    let current = health::problems(&repository.health, &policy.thresholds);
    issues_by_problem(repository)
        .into_values()
        .filter(|issue| Problem::parse(&issue.problem).is_some_and(|problem| !current.contains(&problem)))
        .map(|issue| {
            let comment = format!(
                "Resolved: {} no longer holds ({}). Closed by Infinity Orchestrator.",
                issue.problem, verdict.message
            );
            Ok((HealingAction::CloseIssue { number: issue.number, comment }, format!("{} resolved", issue.problem)))
        })
        .collect()
}

fn rerun(
    policy: &HealingPolicySpec,
    repository: &ObservedRepository,
    history: &ActionHistory<'_>,
    now: Timestamp,
) -> Vec<Candidate> {
    let Some(run) = &repository.latest_failed_run else { return Vec::new() };
    if repository.run_in_progress {
        let why = format!("run {} of {}: a newer run or attempt is in progress", run.run_id, run.head_sha);
        return vec![withheld(ActionKind::Rerun, why, None)];
    }
    let bound = policy.actions.rerun.max_attempts_per_sha.max(0);
    let recorded = repository.rerun_attempts.get(&run.head_sha).copied().unwrap_or(0);
    // Audited re-runs count too: in DryRun no attempt is ever made, and the bound must still hold.
    let audited = history
        .of_repository(&repository.name)
        .filter(|(entry, _)| entry.action == ActionKind::Rerun.as_str() && entry.reason.contains(&run.head_sha))
        .count();
    let made = recorded.max(run.attempt - 1).max(i32::try_from(audited).unwrap_or(i32::MAX)).max(0);
    if made >= bound {
        let why = format!("run {} of {}: {made} re-runs made, bound {bound}", run.run_id, run.head_sha);
        return vec![withheld(ActionKind::Rerun, why, None)];
    }
    let backoff = signed(policy.actions.rerun.backoff.to_std().unwrap_or_default());
    // Doubling per re-run already made; the shift is at most 9 (the schema bounds attempts to 10).
    let factor = 1i32 << made.min(20);
    let due = after(run.completed_at, backoff.checked_mul(factor).unwrap_or(backoff));
    if now < due {
        let why = format!("run {} of {}: backoff after {made} re-runs", run.run_id, run.head_sha);
        return vec![withheld(ActionKind::Rerun, why, Some(due))];
    }
    let reason = format!("run {} failed on {} (re-run {} of {bound})", run.run_id, run.head_sha, made + 1);
    vec![Ok((HealingAction::Rerun { run_id: run.run_id }, reason))]
}

fn open_or_comment_issues(policy: &HealingPolicySpec, repository: &ObservedRepository) -> Vec<Candidate> {
    let health = &repository.health;
    let owned = issues_by_problem(repository);
    let mut candidates = Vec::new();
    for problem in health::problems(health, &policy.thresholds) {
        let severity = problem.severity(health);
        let description = problem.describe(health, &policy.thresholds);
        let marker = IssueMarker { problem: problem.as_str().to_owned(), severity: Some(severity) }.render();
        match owned.get(problem.as_str()) {
            Some(issue) if severity > issue.reported_severity => candidates.push(Ok((
                HealingAction::CommentIssue {
                    number: issue.number,
                    body: format!("Worse: {description}.\n\n{marker}"),
                },
                format!("{} got worse: {description}", problem.as_str()),
            ))),
            Some(_) => {}
            None => {
                let title = match problem {
                    Problem::ConsecutiveFailures => "Default branch keeps failing".to_owned(),
                    Problem::LowSuccessRate => "Default branch success rate is low".to_owned(),
                };
                let last_run = health.last_run.as_ref().and_then(|run| run.url.clone()).unwrap_or_default();
                let body = format!(
                    "{description}.\n\nLatest run: {last_run}\nHealth score: {}\n\nInfinity Orchestrator opened this issue \
                     and will comment if it gets worse and close it when the repository is healthy again.\n\n{marker}",
                    health.score
                );
                let action =
                    HealingAction::OpenIssue { problem, title, body, labels: policy.actions.issue.labels.clone() };
                candidates.push(Ok((action, description)));
            }
        }
    }
    candidates
}

fn has_branch(repository: &ObservedRepository, branch: &str, open_only: bool) -> bool {
    repository.owned_pull_requests.iter().any(|pr| pr.branch == branch && (pr.open || !open_only))
}

fn config_repair(repository: &ObservedRepository) -> Vec<Candidate> {
    let Some(defect) = &repository.workflow_defect else { return Vec::new() };
    let branch = marker::config_repair_branch(&defect.path);
    // Only an open pull request blocks: a merged repair that broke again deserves a new one.
    if has_branch(repository, &branch, true) {
        return Vec::new();
    }
    let title = if defect.problem.starts_with("out of date") {
        format!("Update the build and test commands in {}", defect.path)
    } else {
        format!("Restore {}", defect.path)
    };
    let body = format!(
        "The orchestrator workflow `{}` is {}. This restores it from the operator's template, with the repository's \
         commands in effect written into it: a push runs them, and a BuildPlan dispatch passes the commands in \
         effect at that moment as inputs.",
        defect.path, defect.problem
    );
    let file = FileEdit { path: defect.path.clone(), content: defect.template.clone() };
    let reason = format!("{} is {}", defect.path, defect.problem);
    vec![Ok((HealingAction::ConfigRepair { branch, title, body, file }, reason))]
}

fn rollback(
    policy: &HealingPolicySpec,
    repository: &ObservedRepository,
    history: &ActionHistory<'_>,
) -> Vec<Candidate> {
    let Some(red) = &repository.red_commit else { return Vec::new() };
    let threshold = policy.actions.rollback.after_consecutive_failures;
    if red.failed_runs_since < threshold {
        return Vec::new();
    }
    let branch = marker::rollback_branch(&red.sha);
    // Once per bad sha: a pull request for it (even a closed one) or an audited rollback of it settles the matter.
    let audited = history
        .of_repository(&repository.name)
        .any(|(entry, _)| entry.action == ActionKind::Rollback.as_str() && entry.reason.contains(&red.sha));
    if has_branch(repository, &branch, false) || audited {
        return Vec::new();
    }
    let title = format!("Revert \"{}\"", red.message);
    let body = format!(
        "The default branch has been red since {} ({}): {} failed runs, threshold {threshold}. This reverts it to \
         its parent {}.",
        red.sha, red.red_since, red.failed_runs_since, red.parent
    );
    let reason = format!("{} turned the default branch red; {} failed runs since", red.sha, red.failed_runs_since);
    let action =
        HealingAction::Rollback { branch, title, body, revert_sha: red.sha.clone(), parent_sha: red.parent.clone() };
    vec![Ok((action, reason))]
}

/// One package in one manifest, with every alert on it.
struct Fix<'a> {
    manifest_path: &'a str,
    package: &'a str,
    version: &'a str,
    severity: AlertSeverity,
    alerts: Vec<i64>,
    ranges: Vec<&'a str>,
}

fn dependency_updates(policy: &HealingPolicySpec, repository: &ObservedRepository) -> Vec<Candidate> {
    let bounds = &policy.actions.dependency_update;
    let mut fixes: BTreeMap<(&str, &str), Fix<'_>> = BTreeMap::new();
    for alert in &repository.dependabot_alerts {
        let Some(patched) = alert.first_patched_version.as_deref() else { continue };
        if alert.severity < bounds.min_severity || manifest::ManifestKind::of_path(&alert.manifest_path).is_none() {
            continue;
        }
        let fix = fixes.entry((alert.manifest_path.as_str(), alert.package.as_str())).or_insert(Fix {
            manifest_path: &alert.manifest_path,
            package: &alert.package,
            version: patched,
            severity: alert.severity,
            alerts: Vec::new(),
            ranges: Vec::new(),
        });
        if marker::compare_versions(patched, fix.version).is_gt() {
            fix.version = patched;
        }
        fix.severity = fix.severity.max(alert.severity);
        fix.alerts.push(alert.number);
        fix.ranges.push(&alert.vulnerable_range);
    }
    let mut fixes: Vec<Fix<'_>> = fixes.into_values().collect();
    // Worst first; the map already ordered equals by manifest and package.
    fixes.sort_by_key(|fix| std::cmp::Reverse(fix.severity));

    let open = repository
        .owned_pull_requests
        .iter()
        .filter(|pr| pr.open && pr.branch.starts_with(marker::DEPENDENCY_UPDATE_BRANCH_PREFIX))
        .count();
    let mut slots = usize::try_from(bounds.max_open_pull_requests).unwrap_or(0).saturating_sub(open);
    let mut candidates = Vec::new();
    for fix in fixes {
        let branch = marker::dependency_update_branch(fix.package, fix.version);
        if has_branch(repository, &branch, false) {
            continue;
        }
        let subject = format!("{} to {} in {}", fix.package, fix.version, fix.manifest_path);
        if slots == 0 {
            let why = format!("{subject}: {} dependency-update pull requests open", bounds.max_open_pull_requests);
            candidates.push(withheld(ActionKind::DependencyUpdate, why, None));
            continue;
        }
        let Some(content) = repository.manifests.get(fix.manifest_path) else {
            candidates.push(withheld(ActionKind::DependencyUpdate, format!("{subject}: manifest not read"), None));
            continue;
        };
        let edited = match manifest::raise_dependency(fix.manifest_path, content, fix.package, fix.version) {
            Ok(edited) => edited,
            Err(ManifestEditError::AlreadyUpdated { .. }) => continue,
            Err(error) => {
                candidates.push(withheld(ActionKind::DependencyUpdate, format!("{subject}: {error}"), None));
                continue;
            }
        };
        slots -= 1;
        let alerts: Vec<String> = fix.alerts.iter().map(|n| format!("#{n}")).collect();
        let title = format!("Bump {} to {}", fix.package, fix.version);
        let body = format!(
            "Raises `{}` in `{}` to {}, the first patched version for Dependabot alert(s) {} (vulnerable: {}).",
            fix.package,
            fix.manifest_path,
            fix.version,
            alerts.join(", "),
            fix.ranges.join("; ")
        );
        let edits = vec![FileEdit { path: fix.manifest_path.to_owned(), content: edited }];
        let mut reason = format!("{:?} Dependabot alert(s) {} on {subject}", fix.severity, alerts.join(", "));
        let lockfile = repository
            .lockfiles
            .get(fix.manifest_path)
            .and_then(|path| super::lockfile::LockfileUpdate::new(fix.manifest_path, path, fix.package, fix.version));
        if let Some(lockfile) = &lockfile {
            reason += &format!("; a draft until {} is updated by {}", lockfile.path, super::lockfile::WORKFLOW_FILE);
        }
        candidates.push(Ok((HealingAction::DependencyUpdate { branch, title, body, edits, lockfile }, reason)));
    }
    candidates
}
