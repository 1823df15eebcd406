//! `autoMerge`: for one selected repository, read the open pull requests the policy opened whose action is listed
//! (their head, its checks, what their base requires, the repository's merge settings), let
//! `plan::heal::merge::decide` choose, merge or turn auto-merge on (in `DryRun` only record it), and add the audit
//! entries, Events and held-back merges to the evaluation. GitHub refusing one (405: protection not satisfied, 409:
//! the head moved) is recorded as `Failed` and decided again at a later evaluation, after the cooldown.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{announce, lockfile, Evaluation};
use crate::controller::context::Context;
use crate::controller::repository::observe as repository_reads;
use crate::crd::healing_policy::{AuditedAction, HealingMode, PolicyPullRequest, WithheldDecision};
use crate::crd::{HealingPolicy, Repository};
use crate::github::{self, CommitCheck, GitHub, PullRequestDetails, RepoRef};
use crate::plan::heal::lockfile as heal_lockfile;
use crate::plan::heal::merge::{
    self, CheckState, Gate, MergeCandidate, MergeDecision, MergeMethod, MergeSettings, MergeWay, ObservedCheck,
    PullState,
};
use crate::plan::heal::{cooldown_of, Dispatch};

/// Merges (or turns auto-merge on for) the listed pull requests of `repo` that may merge. A repository GitHub fails
/// for is reported in the evaluation's errors.
pub(super) async fn merge_pull_requests(
    ctx: &Context,
    github: &dyn GitHub,
    policy: &HealingPolicy,
    repo: &Repository,
    now: Timestamp,
    evaluation: &mut Evaluation,
) {
    let listed = &policy.spec.auto_merge;
    let name = repo.spec.name.0.as_str();
    let recorded: Vec<&PolicyPullRequest> = policy
        .status
        .iter()
        .flat_map(|status| &status.pull_requests)
        .chain(&evaluation.pull_requests)
        .filter(|pull| pull.repository == name && listed.iter().any(|action| action.as_str() == pull.action))
        .collect();
    if recorded.is_empty() {
        return;
    }
    let status = repo.status.clone().unwrap_or_default();
    let Some((repo_ref, _)) = repository_reads::github_repository(Some(&status)) else { return };
    let observed = match observe(github, &repo_ref, &recorded).await {
        Ok(observed) => observed,
        // Without a permission merging reads (`statuses`, `checks`, …) nothing can be merged safely: said once per
        // evaluation, not counted as a failure of the repository.
        Err(github::Error::Permission { status: 403, message }) => {
            evaluation.withheld.push(WithheldDecision {
                repository: name.to_owned(),
                action: merge::MERGE_PULL_REQUEST.to_owned(),
                reason: format!("GitHub does not let the operator read what merging needs: {message}"),
                retry_at: None,
            });
            return;
        }
        Err(error) => {
            tracing::warn!(repository = %name, %error, "could not read the pull requests to merge");
            evaluation.errors.push(format!("{name}: {error}"));
            return;
        }
    };
    let Some((candidates, settings, details)) = observed else { return };
    let mut history = policy.status.as_ref().map(|s| s.actions.clone()).unwrap_or_default();
    history.extend(evaluation.entries.iter().cloned());
    let gate = Gate {
        dispatch: match policy.spec.mode {
            HealingMode::Enforce => Dispatch::Send,
            HealingMode::DryRun => Dispatch::RecordOnly,
        },
        cooldown: cooldown_of(&policy.spec),
        max_per_hour: usize::try_from(policy.spec.max_actions_per_repository_per_hour.max(0)).unwrap_or(0),
    };
    let plan = merge::decide(listed, gate, name, &candidates, &settings, &history, now);
    for decision in &plan.decisions {
        let entry = match decision.dispatch {
            Dispatch::RecordOnly => decision.audit(name, now),
            Dispatch::Send => send(github, &repo_ref, decision, details.get(&decision.number), name, now).await,
        };
        announce(ctx, policy, repo, &entry).await;
        evaluation.entries.insert(0, entry);
    }
    for held in plan.withheld {
        if let Some(retry_at) = held.retry_at {
            evaluation.retry_at = Some(evaluation.retry_at.map_or(retry_at, |at| at.min(retry_at)));
        }
        evaluation.withheld.push(WithheldDecision {
            repository: name.to_owned(),
            action: held.action.to_owned(),
            reason: held.why,
            retry_at: held.retry_at.map(Time),
        });
    }
}

/// The candidates, the repository's settings and each open pull request as read; `None` when none is open.
type Observed = Option<(Vec<MergeCandidate>, MergeSettings, BTreeMap<i64, PullRequestDetails>)>;

/// Reads the recorded pull requests; for the open ones their head's checks and their base's required checks, and
/// then the repository's merge settings.
async fn observe(
    github: &dyn GitHub,
    repo: &RepoRef,
    recorded: &[&PolicyPullRequest],
) -> Result<Observed, github::Error> {
    let mut candidates = Vec::new();
    let mut details = BTreeMap::new();
    let mut required_by_base: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in recorded {
        let Ok(number) = u64::try_from(record.number) else { continue };
        if details.contains_key(&record.number) {
            continue;
        }
        let pull = github.pull_request(repo, number).await?;
        let state = match (pull.state.as_str(), pull.merged) {
            (_, true) => PullState::Merged,
            ("open", _) => PullState::Open,
            _ => PullState::Closed,
        };
        let (required_checks, checks) = if state == PullState::Open && !pull.draft {
            if !required_by_base.contains_key(&pull.base_ref) {
                let required = github.required_status_checks(repo, &pull.base_ref).await?;
                required_by_base.insert(pull.base_ref.clone(), required);
            }
            let checks = github.commit_checks(repo, &pull.head_sha).await?;
            (required_by_base[&pull.base_ref].clone(), checks.iter().map(observed_check).collect())
        } else {
            (Vec::new(), Vec::new())
        };
        candidates.push(MergeCandidate {
            number: record.number,
            action: record.action.clone(),
            state,
            draft: pull.draft,
            awaiting_lockfile: lockfile::pending(record),
            lockfile_committed: record.lockfile.as_ref().is_some_and(|l| l.state == heal_lockfile::STATE_READY),
            head_sha: pull.head_sha.clone(),
            auto_merge_on: pull.auto_merge,
            required_checks,
            checks,
            url: pull.html_url.clone().or_else(|| record.url.clone()),
        });
        details.insert(record.number, pull);
    }
    if !candidates.iter().any(|candidate| candidate.state == PullState::Open) {
        return Ok(None);
    }
    let settings = github.merge_settings(repo).await?;
    let allowed = |setting: Option<bool>| setting.unwrap_or(true);
    let methods = [
        (MergeMethod::Squash, allowed(settings.allow_squash_merge)),
        (MergeMethod::Merge, allowed(settings.allow_merge_commit)),
        (MergeMethod::Rebase, allowed(settings.allow_rebase_merge)),
    ];
    let settings = MergeSettings {
        allow_auto_merge: settings.allow_auto_merge.unwrap_or(false),
        methods: methods.into_iter().filter(|(_, allowed)| *allowed).map(|(method, _)| method).collect(),
    };
    Ok(Some((candidates, settings, details)))
}

fn observed_check(check: &CommitCheck) -> ObservedCheck {
    let state = if check.is_status {
        CheckState::of_status(&check.status)
    } else {
        CheckState::of_check_run(&check.status, check.conclusion.as_deref())
    };
    ObservedCheck { name: check.name.clone(), state }
}

/// Sends one decision and returns its audit entry: `Enforced`, or `Failed` with GitHub's answer.
async fn send(
    github: &dyn GitHub,
    repo: &RepoRef,
    decision: &MergeDecision,
    pull: Option<&PullRequestDetails>,
    name: &str,
    now: Timestamp,
) -> AuditedAction {
    let method = match decision.method {
        MergeMethod::Squash => github::MergeMethod::Squash,
        MergeMethod::Merge => github::MergeMethod::Merge,
        MergeMethod::Rebase => github::MergeMethod::Rebase,
    };
    let number = u64::try_from(decision.number).unwrap_or_default();
    let sent = match (decision.way, pull) {
        (MergeWay::MergeNow, _) => github
            .merge_pull_request(repo, number, &decision.head_sha, method)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        (MergeWay::AutoMerge, Some(pull)) => {
            github.enable_auto_merge(&pull.node_id, &decision.head_sha, method).await.map_err(|e| e.to_string())
        }
        (MergeWay::AutoMerge, None) => Err("the pull request was not read".to_owned()),
    };
    let mut entry = decision.audit(name, now);
    if let Err(error) = sent {
        entry.outcome = "Failed".to_owned();
        entry.reason = format!("{}; failed: {error}", entry.reason);
    }
    entry
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use github_sim::fixture::{OrgFixture, PullRequestFixture, RepoFixture};
    use github_sim::merging::MergeFixture;
    use github_sim::{Fixture, SimOptions, Simulator};

    use super::*;
    use crate::github::{Credentials, GitHubConfig, OctocrabGitHub};

    #[tokio::test]
    async fn observes_the_checks_protection_and_rulesets_require_and_the_repository_s_methods() {
        let main =
            |checks: &[&str]| BTreeMap::from([("main".to_owned(), checks.iter().map(|c| c.to_string()).collect())]);
        let merge = MergeFixture {
            allow_auto_merge: true,
            allow_squash_merge: false,
            protected_branches: main(&["build"]),
            ruleset_required_checks: main(&["build", "security"]),
            check_runs: BTreeMap::from([("build".into(), "success".into()), ("lint".into(), "queued".into())]),
            statuses: BTreeMap::from([("security".into(), "failure".into())]),
            ..Default::default()
        };
        let pull = PullRequestFixture {
            title: "Bump".into(),
            head: "infinity-orchestrator/dependency-update/x-1".into(),
            files: BTreeMap::from([("a".into(), "b".into())]),
            ..Default::default()
        };
        let repo = RepoFixture { name: "svc".into(), pull_requests: vec![pull], merge, ..Default::default() };
        let fixture = Fixture {
            orgs: vec![OrgFixture { login: "acme".into(), repos: vec![repo], ..Default::default() }],
            tokens: vec!["test-token".into()],
            ..Default::default()
        };
        let sim = Simulator::start(fixture, SimOptions::default()).await.expect("sim");
        let github = OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token("test-token".into())))
            .expect("client");
        let record = PolicyPullRequest {
            repository: "svc".into(),
            action: "DependencyUpdate".into(),
            branch: "infinity-orchestrator/dependency-update/x-1".into(),
            number: 1,
            url: None,
            lockfile: None,
        };
        let (candidates, settings, details) =
            observe(&github, &RepoRef::new("acme", "svc"), &[&record]).await.expect("read").expect("an open one");
        assert_eq!(
            settings,
            MergeSettings { allow_auto_merge: true, methods: vec![MergeMethod::Merge, MergeMethod::Rebase] }
        );
        let [candidate] = candidates.as_slice() else { panic!("{candidates:?}") };
        assert_eq!((candidate.state, candidate.draft, candidate.auto_merge_on), (PullState::Open, false, false));
        assert_eq!(candidate.required_checks, ["build", "security"]);
        let states: BTreeMap<&str, CheckState> = candidate.checks.iter().map(|c| (c.name.as_str(), c.state)).collect();
        assert_eq!(
            states,
            BTreeMap::from([
                ("build", CheckState::Passed),
                ("lint", CheckState::Pending),
                ("security", CheckState::Failed)
            ])
        );
        assert_eq!(details[&1].head_sha, candidate.head_sha);
        assert!(details[&1].node_id.starts_with("PR_"));
    }
}
