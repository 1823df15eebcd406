//! Which of the pull requests a policy opened it merges, when, and which way (`spec.autoMerge`). Pure: the
//! HealingPolicy controller reads each pull request, its checks and the repository's settings into
//! [`MergeCandidate`]s and [`MergeSettings`], calls [`decide`], and carries out each [`MergeDecision`].
//!
//! A pull request is merged only when all of these hold:
//! - its action (`DependencyUpdate`, `ConfigRepair`, `Rollback`) is listed in `autoMerge`;
//! - it is open, not a draft, and not waiting for its lockfile commit;
//! - no check on its head commit failed, and at least one check exists there or is required;
//! - it was not merged, nor had auto-merge turned on, by the policy at this head already (the audit trail says so;
//!   DryRun entries count, so a DryRun records each decision once).
//!
//! Then: every required check (branch protection and rulesets) and every other check passed → **merge now**
//! (`PUT …/merge` with the head sha, so a newer push is never merged unseen). Otherwise, while some required
//! check is pending and none failed, a repository that allows auto-merge gets **auto-merge** turned on (GitHub
//! merges once branch protection is satisfied); elsewhere the policy waits for the checks. GitHub refuses both when
//! protection is not satisfied: the operator never merges past it. The method is the first the repository allows of
//! squash, merge, rebase. Each decision passes the same gate as the other actions: one per kind per `cooldown`,
//! and the per-hour cap across kinds.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{after, Dispatch};
use crate::crd::healing_policy::{AuditedAction, AutoMergeAction};

/// What the audit trail calls merging now.
pub const MERGE_PULL_REQUEST: &str = "MergePullRequest";
/// What the audit trail calls turning GitHub's auto-merge on.
pub const ENABLE_AUTO_MERGE: &str = "EnableAutoMerge";

/// How a pull request stands on GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullState {
    /// Open.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

/// Where one check of the head commit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckState {
    /// Queued, running, or a pending status.
    Pending,
    /// `success`, `neutral` or `skipped`.
    Passed,
    /// Anything else (`failure`, `cancelled`, `timed_out`, `action_required`, a status's `error`…).
    Failed,
}

impl CheckState {
    /// A check run's `status` and `conclusion`.
    pub fn of_check_run(status: &str, conclusion: Option<&str>) -> CheckState {
        match (status, conclusion) {
            ("completed", Some("success" | "neutral" | "skipped")) => CheckState::Passed,
            ("completed", _) => CheckState::Failed,
            _ => CheckState::Pending,
        }
    }

    /// A commit status's `state`.
    pub fn of_status(state: &str) -> CheckState {
        match state {
            "success" => CheckState::Passed,
            "pending" => CheckState::Pending,
            _ => CheckState::Failed,
        }
    }
}

/// A check of the head commit, by check-run name or status context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCheck {
    /// Its name or context (what branch protection requires by).
    pub name: String,
    /// Where it stands.
    pub state: CheckState,
}

/// A pull request the policy opened, as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeCandidate {
    /// Its number.
    pub number: i64,
    /// The action that opened it, as `PolicyPullRequest.action` records it.
    pub action: String,
    /// Open, closed or merged.
    pub state: PullState,
    /// Whether it is a draft.
    pub draft: bool,
    /// Whether the policy still waits for its lockfile commit (it stays a draft until then).
    pub awaiting_lockfile: bool,
    /// Whether its head is the lockfile-update workflow's commit (the policy marked it ready on seeing it).
    pub lockfile_committed: bool,
    /// Its head commit.
    pub head_sha: String,
    /// Whether GitHub's auto-merge is on.
    pub auto_merge_on: bool,
    /// The status checks its base branch requires.
    pub required_checks: Vec<String>,
    /// The checks its head commit reports.
    pub checks: Vec<ObservedCheck>,
    /// Its page, for the audit trail.
    pub url: Option<String>,
}

/// How a pull request is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMethod {
    /// One squashed commit: a fix is one change on the base branch.
    Squash,
    /// A merge commit.
    Merge,
    /// The commits rebased onto the base.
    Rebase,
}

/// What the repository allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSettings {
    /// `allow_auto_merge`.
    pub allow_auto_merge: bool,
    /// The methods it allows, in the order preferred.
    pub methods: Vec<MergeMethod>,
}

/// Which way a pull request is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeWay {
    /// `PUT …/pulls/{n}/merge` now.
    MergeNow,
    /// GitHub's auto-merge, which merges once branch protection is satisfied.
    AutoMerge,
}

impl MergeWay {
    /// The audit trail's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeWay::MergeNow => MERGE_PULL_REQUEST,
            MergeWay::AutoMerge => ENABLE_AUTO_MERGE,
        }
    }
}

/// A decision to merge (or turn auto-merge on for) one pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeDecision {
    /// The pull request.
    pub number: i64,
    /// The head it was decided for (GitHub is told, and refuses if the head moved).
    pub head_sha: String,
    /// Which way.
    pub way: MergeWay,
    /// By which method.
    pub method: MergeMethod,
    /// Why, for the audit entry and the Event; starts with [`subject`].
    pub reason: String,
    /// Whether it goes to GitHub.
    pub dispatch: Dispatch,
    /// The pull request's page.
    pub url: Option<String>,
}

impl MergeDecision {
    /// The audit entry, decided at `now`; the controller sets the outcome to `Failed` when GitHub refused it.
    pub fn audit(&self, repository: &str, now: Timestamp) -> AuditedAction {
        AuditedAction {
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
            repository: repository.to_owned(),
            action: self.way.as_str().to_owned(),
            reason: self.reason.clone(),
            outcome: match self.dispatch {
                Dispatch::Send => "Enforced",
                Dispatch::RecordOnly => "DryRun",
            }
            .to_owned(),
            link: self.url.clone(),
        }
    }
}

/// A pull request that is not merged yet, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithheldMerge {
    /// The pull request.
    pub number: i64,
    /// The audit name of the way it would go ([`MERGE_PULL_REQUEST`] when undecided).
    pub action: &'static str,
    /// Why it waits.
    pub why: String,
    /// When the gate lets it go; `None` when it waits for GitHub (checks, a draft).
    pub retry_at: Option<Timestamp>,
}

/// What [`decide`] decided for one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergePlan {
    /// Merges to carry out (or record), in pull-request order.
    pub decisions: Vec<MergeDecision>,
    /// Pull requests that wait.
    pub withheld: Vec<WithheldMerge>,
}

/// The gate's bounds, from the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// `Send` in Enforce, `RecordOnly` in DryRun.
    pub dispatch: Dispatch,
    /// Least time between two actions of one kind on one repository.
    pub cooldown: SignedDuration,
    /// Most actions per repository per hour.
    pub max_per_hour: usize,
}

/// How an audit entry's reason begins for pull request `number` at `head_sha`.
pub fn subject(number: i64, head_sha: &str) -> String {
    format!("#{number} at {head_sha}")
}

/// The merges of `repository`'s pull requests `candidates` under `auto_merge`, at `now`. `history` holds the audit
/// trail, including the entries this evaluation made already (they count against the cap and the cooldown).
pub fn decide(
    auto_merge: &[AutoMergeAction],
    gate: Gate,
    repository: &str,
    candidates: &[MergeCandidate],
    settings: &MergeSettings,
    history: &[AuditedAction],
    now: Timestamp,
) -> MergePlan {
    let mut plan = MergePlan::default();
    let ours: Vec<&AuditedAction> = history.iter().filter(|entry| entry.repository == repository).collect();
    for candidate in candidates {
        if !auto_merge.iter().any(|listed| listed.as_str() == candidate.action) || candidate.state != PullState::Open {
            continue;
        }
        let subject = subject(candidate.number, &candidate.head_sha);
        let done = ours.iter().any(|entry| {
            (entry.action == MERGE_PULL_REQUEST || entry.action == ENABLE_AUTO_MERGE)
                && entry.outcome != "Failed"
                && entry.reason.starts_with(&subject)
        });
        if done || candidate.auto_merge_on {
            continue;
        }
        let hold =
            |why: String| WithheldMerge { number: candidate.number, action: MERGE_PULL_REQUEST, why, retry_at: None };
        if candidate.draft || candidate.awaiting_lockfile {
            plan.withheld.push(hold(format!("{subject}: a draft until its lockfile commit lands")));
            continue;
        }
        let (way, why) = match way_for(candidate, settings) {
            Ok(decided) => decided,
            Err(why) => {
                plan.withheld.push(hold(format!("{subject}: {why}")));
                continue;
            }
        };
        let Some(method) = settings.methods.first().copied() else {
            plan.withheld.push(hold(format!("{subject}: the repository allows no merge method")));
            continue;
        };
        let reason = format!("{subject} ({}): {why}", candidate.action);
        let decision = MergeDecision {
            number: candidate.number,
            head_sha: candidate.head_sha.clone(),
            way,
            method,
            reason,
            dispatch: gate.dispatch,
            url: candidate.url.clone(),
        };
        match gated(&gate, &ours, &plan.decisions, way, now) {
            None => plan.decisions.push(decision),
            Some((why, retry_at)) => plan.withheld.push(WithheldMerge {
                number: candidate.number,
                action: way.as_str(),
                why: format!("{why}: {}", decision.reason),
                retry_at: Some(retry_at),
            }),
        }
    }
    plan
}

/// Why no check may ever come to a head the lockfile-update workflow pushed: GitHub starts no workflow for a push
/// made with a workflow's own `GITHUB_TOKEN`.
pub const UNCHECKED_LOCKFILE_COMMIT: &str = "no workflow ran on the lockfile commit: GitHub starts none for a \
    push made with the workflow's GITHUB_TOKEN; an INFINITY_ORCHESTRATOR_PUSH_TOKEN secret lets the lockfile-update \
    workflow push with a token whose pushes start the pull request's checks";

/// Which way `candidate` merges and why, or why it waits; a head the lockfile-update workflow pushed that reports
/// no check at all says why none may come.
fn way_for(candidate: &MergeCandidate, settings: &MergeSettings) -> Result<(MergeWay, String), String> {
    let unchecked_lockfile = candidate.lockfile_committed && candidate.checks.is_empty();
    let explained = |why: String| if unchecked_lockfile { format!("{why} ({UNCHECKED_LOCKFILE_COMMIT})") } else { why };
    match checks_way(candidate, settings) {
        Ok((way, why)) => Ok((way, explained(why))),
        Err(why) => Err(explained(why)),
    }
}

fn checks_way(candidate: &MergeCandidate, settings: &MergeSettings) -> Result<(MergeWay, String), String> {
    let failed: Vec<&str> =
        candidate.checks.iter().filter(|c| c.state == CheckState::Failed).map(|c| c.name.as_str()).collect();
    if !failed.is_empty() {
        return Err(format!("checks failed: {}", failed.join(", ")));
    }
    if candidate.checks.is_empty() && candidate.required_checks.is_empty() {
        return Err("no check reported on its head yet".to_owned());
    }
    let passed = |name: &str| candidate.checks.iter().any(|c| c.name == name && c.state == CheckState::Passed);
    let required_waiting: Vec<&str> =
        candidate.required_checks.iter().map(String::as_str).filter(|name| !passed(name)).collect();
    let pending: Vec<&str> =
        candidate.checks.iter().filter(|c| c.state == CheckState::Pending).map(|c| c.name.as_str()).collect();
    if required_waiting.is_empty() && pending.is_empty() {
        let required = candidate.required_checks.len();
        return Ok((
            MergeWay::MergeNow,
            format!("{} checks passed, {required} of them required", candidate.checks.len()),
        ));
    }
    // GitHub's auto-merge waits for required checks only; with none pending it would refuse ("clean status").
    if settings.allow_auto_merge && !required_waiting.is_empty() {
        return Ok((MergeWay::AutoMerge, format!("required checks pending: {}", required_waiting.join(", "))));
    }
    let mut waiting = required_waiting;
    waiting.extend(pending.iter().filter(|name| !waiting.contains(name)).collect::<Vec<_>>());
    Err(format!("checks pending: {}", waiting.join(", ")))
}

/// The gate's verdict on one more `way` now: `None` to go, else why and when it may.
fn gated(
    gate: &Gate,
    history: &[&AuditedAction],
    planned: &[MergeDecision],
    way: MergeWay,
    now: Timestamp,
) -> Option<(String, Timestamp)> {
    if planned.iter().any(|decision| decision.way == way) {
        return Some((format!("one {} per cooldown", way.as_str()), after(now, gate.cooldown)));
    }
    let last = history.iter().filter(|entry| entry.action == way.as_str()).map(|entry| entry.time.0).max();
    if let Some(last) = last.filter(|last| now < after(*last, gate.cooldown)) {
        return Some((format!("cooldown since {last}"), after(last, gate.cooldown)));
    }
    let hour_ago = now.checked_sub(SignedDuration::from_hours(1)).unwrap_or(Timestamp::MIN);
    let mut in_last_hour: Vec<Timestamp> =
        history.iter().map(|entry| entry.time.0).filter(|t| *t > hour_ago && *t <= now).collect();
    in_last_hour.sort();
    if in_last_hour.len() + planned.len() >= gate.max_per_hour {
        let oldest = in_last_hour.first().copied().unwrap_or(now);
        let why = format!("{} actions per hour reached", gate.max_per_hour);
        return Some((why, after(oldest, SignedDuration::from_hours(1))));
    }
    None
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    const NOW: &str = "2026-01-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn gate() -> Gate {
        Gate { dispatch: Dispatch::Send, cooldown: SignedDuration::from_mins(30), max_per_hour: 5 }
    }

    fn check(name: &str, state: CheckState) -> ObservedCheck {
        ObservedCheck { name: name.to_owned(), state }
    }

    fn green(number: i64) -> MergeCandidate {
        MergeCandidate {
            number,
            action: "DependencyUpdate".to_owned(),
            state: PullState::Open,
            draft: false,
            awaiting_lockfile: false,
            lockfile_committed: false,
            head_sha: format!("sha{number}"),
            auto_merge_on: false,
            required_checks: vec!["build".to_owned()],
            checks: vec![check("build", CheckState::Passed), check("lint", CheckState::Passed)],
            url: Some(format!("https://github.example/pull/{number}")),
        }
    }

    fn settings(allow_auto_merge: bool) -> MergeSettings {
        MergeSettings { allow_auto_merge, methods: vec![MergeMethod::Squash, MergeMethod::Merge] }
    }

    const DEPS: &[AutoMergeAction] = &[AutoMergeAction::DependencyUpdate];

    fn decide_one(candidate: MergeCandidate, allow_auto_merge: bool, history: &[AuditedAction]) -> MergePlan {
        decide(DEPS, gate(), "svc", &[candidate], &settings(allow_auto_merge), history, now())
    }

    #[test]
    fn a_green_listed_pull_request_is_merged_now_by_the_preferred_method() {
        let plan = decide_one(green(7), true, &[]);
        assert_eq!(plan.withheld, vec![]);
        let [decision] = plan.decisions.as_slice() else { panic!("{plan:?}") };
        assert_eq!((decision.number, decision.way, decision.method), (7, MergeWay::MergeNow, MergeMethod::Squash));
        assert_eq!(decision.head_sha, "sha7");
        assert!(decision.reason.starts_with("#7 at sha7 (DependencyUpdate): 2 checks passed, 1 of them required"));
    }

    #[test]
    fn nothing_merges_unless_its_action_is_listed() {
        let plan = decide(&[], gate(), "svc", &[green(7)], &settings(true), &[], now());
        assert_eq!(plan, MergePlan::default());
        let rollback = MergeCandidate { action: "Rollback".to_owned(), ..green(8) };
        let listed = [AutoMergeAction::DependencyUpdate, AutoMergeAction::ConfigRepair];
        assert_eq!(
            decide(&listed, gate(), "svc", std::slice::from_ref(&rollback), &settings(true), &[], now()).decisions,
            vec![]
        );
        let plan = decide(&[AutoMergeAction::Rollback], gate(), "svc", &[rollback], &settings(true), &[], now());
        assert_eq!(plan.decisions.len(), 1, "Rollback merges when listed");
    }

    #[test]
    fn failing_checks_drafts_and_closed_pull_requests_are_not_merged() {
        let mut failing = green(1);
        failing.checks[1].state = CheckState::Failed;
        let plan = decide_one(failing, true, &[]);
        assert_eq!(plan.decisions, vec![]);
        assert_eq!(plan.withheld[0].why, "#1 at sha1: checks failed: lint");
        assert_eq!(plan.withheld[0].retry_at, None);
        let draft = MergeCandidate { draft: true, ..green(2) };
        assert!(decide_one(draft, true, &[]).withheld[0].why.contains("draft"));
        let awaiting = MergeCandidate { awaiting_lockfile: true, ..green(3) };
        assert_eq!(decide_one(awaiting, true, &[]).decisions, vec![]);
        for state in [PullState::Closed, PullState::Merged] {
            assert_eq!(decide_one(MergeCandidate { state, ..green(4) }, true, &[]), MergePlan::default());
        }
        let unchecked = MergeCandidate { checks: vec![], required_checks: vec![], ..green(5) };
        assert!(decide_one(unchecked, true, &[]).withheld[0].why.contains("no check"));
    }

    #[test]
    fn pending_required_checks_turn_auto_merge_on_where_allowed_and_wait_elsewhere() {
        let mut pending = green(3);
        pending.checks[0].state = CheckState::Pending;
        let plan = decide_one(pending.clone(), true, &[]);
        assert_eq!(plan.decisions[0].way, MergeWay::AutoMerge);
        assert!(plan.decisions[0].reason.ends_with("required checks pending: build"));
        let plan = decide_one(pending.clone(), false, &[]);
        assert_eq!((plan.decisions.len(), plan.withheld[0].why.as_str()), (0, "#3 at sha3: checks pending: build"));
        // A required check not reported yet is pending too.
        let missing = MergeCandidate { checks: vec![check("lint", CheckState::Passed)], ..green(4) };
        assert_eq!(decide_one(missing, true, &[]).decisions[0].way, MergeWay::AutoMerge);
        // Only a check that is not required pending: GitHub's auto-merge would refuse, so the policy waits.
        let mut optional = green(5);
        optional.checks[1].state = CheckState::Pending;
        let plan = decide_one(optional, true, &[]);
        assert_eq!((plan.decisions.len(), plan.withheld[0].why.as_str()), (0, "#5 at sha5: checks pending: lint"));
        // Auto-merge already on: GitHub merges it.
        assert_eq!(decide_one(MergeCandidate { auto_merge_on: true, ..pending }, true, &[]), MergePlan::default());
    }

    #[test]
    fn a_lockfile_commit_without_any_check_says_why_none_may_come() {
        let pushed = |checks, required: &[&str]| MergeCandidate {
            lockfile_committed: true,
            checks,
            required_checks: required.iter().map(|name| name.to_string()).collect(),
            ..green(6)
        };
        let plan = decide_one(pushed(vec![], &[]), true, &[]);
        let why = &plan.withheld[0].why;
        assert!(why.starts_with("#6 at sha6: no check reported on its head yet (no workflow ran"), "{why}");
        assert!(why.contains("INFINITY_ORCHESTRATOR_PUSH_TOKEN"), "{why}");
        let plan = decide_one(pushed(vec![], &["build"]), true, &[]);
        assert_eq!(plan.decisions[0].way, MergeWay::AutoMerge);
        assert!(plan.decisions[0].reason.contains(UNCHECKED_LOCKFILE_COMMIT), "{}", plan.decisions[0].reason);
        let plan = decide_one(pushed(vec![], &["build"]), false, &[]);
        assert!(plan.withheld[0].why.contains(UNCHECKED_LOCKFILE_COMMIT));
        // Once a check reports, or on a head the workflow did not push, nothing is added.
        let plan = decide_one(pushed(vec![check("build", CheckState::Pending)], &["build"]), true, &[]);
        assert!(!plan.decisions[0].reason.contains(UNCHECKED_LOCKFILE_COMMIT));
        let other = MergeCandidate { checks: vec![], required_checks: vec![], ..green(7) };
        assert!(!decide_one(other, true, &[]).withheld[0].why.contains(UNCHECKED_LOCKFILE_COMMIT));
    }

    fn entry(action: &str, reason: &str, outcome: &str, minutes_ago: i64) -> AuditedAction {
        AuditedAction {
            time: Time(now().checked_sub(SignedDuration::from_mins(minutes_ago)).unwrap()),
            repository: "svc".to_owned(),
            action: action.to_owned(),
            reason: reason.to_owned(),
            outcome: outcome.to_owned(),
            link: None,
        }
    }

    #[test]
    fn each_head_is_merged_once_even_in_dry_run_but_a_failure_is_tried_again() {
        let recorded = entry(MERGE_PULL_REQUEST, "#7 at sha7 (DependencyUpdate): …", "DryRun", 90);
        assert_eq!(decide_one(green(7), true, std::slice::from_ref(&recorded)), MergePlan::default());
        // A new push is a new head: decided again.
        let pushed = MergeCandidate { head_sha: "sha7b".to_owned(), ..green(7) };
        assert_eq!(decide_one(pushed, true, &[recorded]).decisions.len(), 1);
        let failed = entry(MERGE_PULL_REQUEST, "#7 at sha7 (DependencyUpdate): …; failed: 405", "Failed", 90);
        assert_eq!(decide_one(green(7), true, &[failed]).decisions.len(), 1);
    }

    #[test]
    fn the_gate_holds_a_second_merge_the_cooldown_and_the_cap() {
        let plan = decide(DEPS, gate(), "svc", &[green(1), green(2)], &settings(true), &[], now());
        assert_eq!(plan.decisions.iter().map(|d| d.number).collect::<Vec<_>>(), vec![1]);
        assert_eq!(plan.withheld[0].retry_at, Some(after(now(), SignedDuration::from_mins(30))));
        let recent = entry(MERGE_PULL_REQUEST, "#9 at sha9 (DependencyUpdate): …", "Enforced", 10);
        let plan = decide_one(green(1), true, &[recent]);
        assert!(plan.withheld[0].why.starts_with("cooldown since"), "{plan:?}");
        assert_eq!(plan.withheld[0].retry_at, Some(after(now(), SignedDuration::from_mins(20))));
        let busy: Vec<AuditedAction> = (0..5).map(|i| entry("Rerun", "run", "Enforced", 50 - i)).collect();
        let plan = decide_one(green(1), true, &busy);
        assert!(plan.withheld[0].why.starts_with("5 actions per hour reached"));
        assert_eq!(plan.withheld[0].retry_at, Some(after(now(), SignedDuration::from_mins(10))));
        // Another repository's actions do not count.
        let elsewhere: Vec<AuditedAction> =
            busy.into_iter().map(|e| AuditedAction { repository: "other".into(), ..e }).collect();
        assert_eq!(decide_one(green(1), true, &elsewhere).decisions.len(), 1);
    }

    #[test]
    fn dry_run_decides_the_same_and_records_only() {
        let dry = Gate { dispatch: Dispatch::RecordOnly, ..gate() };
        let plan = decide(DEPS, dry, "svc", &[green(7)], &settings(false), &[], now());
        assert_eq!(plan.decisions[0].dispatch, Dispatch::RecordOnly);
        assert_eq!(plan.decisions[0].audit("svc", now()).outcome, "DryRun");
        assert_eq!(plan.decisions[0].audit("svc", now()).action, "MergePullRequest");
    }

    #[test]
    fn a_repository_without_merge_methods_waits() {
        let none = MergeSettings { allow_auto_merge: true, methods: vec![] };
        let plan = decide(DEPS, gate(), "svc", &[green(7)], &none, &[], now());
        assert!(plan.withheld[0].why.ends_with("allows no merge method"));
    }

    #[test]
    fn check_states_from_github_s_words() {
        assert_eq!(CheckState::of_check_run("completed", Some("skipped")), CheckState::Passed);
        assert_eq!(CheckState::of_check_run("completed", Some("timed_out")), CheckState::Failed);
        assert_eq!(CheckState::of_check_run("in_progress", None), CheckState::Pending);
        assert_eq!(CheckState::of_status("error"), CheckState::Failed);
        assert_eq!(CheckState::of_status("pending"), CheckState::Pending);
    }
}
