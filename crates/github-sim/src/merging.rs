//! Merging pull requests as GitHub does: the repository's merge settings, the status checks branch protection and
//! rulesets require, the checks and statuses a commit reports, a pull request's `mergeable_state`, the merge itself
//! (the base branch moves, the pull request closes as merged) and auto-merge, which merges once the requirements
//! are met.

use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use crate::fixture::{CommitChecks, MergeFixture};
use crate::state::{AutoMerge, Pull, Repo, SimState};

/// Where a check stands for merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// Not finished.
    Pending,
    /// Passed (`success`, `neutral`, `skipped` for check runs).
    Passed,
    /// Anything else.
    Failed,
}

/// A check run's value as `status` and `conclusion`.
pub fn run_status(value: &str) -> (&'static str, Option<&str>) {
    match value {
        "queued" => ("queued", None),
        "in_progress" | "pending" => ("in_progress", None),
        conclusion => ("completed", Some(conclusion)),
    }
}

fn run_state(value: &str) -> CheckState {
    match run_status(value) {
        (_, None) => CheckState::Pending,
        (_, Some("success" | "neutral" | "skipped")) => CheckState::Passed,
        _ => CheckState::Failed,
    }
}

fn status_state(value: &str) -> CheckState {
    match value {
        "pending" => CheckState::Pending,
        "success" => CheckState::Passed,
        _ => CheckState::Failed,
    }
}

/// The combined state of statuses, as `GET …/commits/{ref}/status` gives it: `failure` when any failed or errored,
/// else `pending` when any is pending or there are none, else `success`.
pub fn combined_state(statuses: &BTreeMap<String, String>) -> &'static str {
    let states: Vec<CheckState> = statuses.values().map(|v| status_state(v)).collect();
    if states.contains(&CheckState::Failed) {
        "failure"
    } else if states.is_empty() || states.contains(&CheckState::Pending) {
        "pending"
    } else {
        "success"
    }
}

impl Repo {
    /// The status checks merging into `branch` requires: branch protection's and the rulesets', without repeats.
    pub fn required_checks(&self, branch: &str) -> Vec<String> {
        let merge = &self.spec.merge;
        let all = merge.protected_branches.get(branch).into_iter().chain(merge.ruleset_required_checks.get(branch));
        let unique: BTreeSet<&String> = all.flatten().collect();
        unique.into_iter().cloned().collect()
    }

    /// The checks `sha` reports: those set for it, else the fixture's.
    pub fn checks_of(&self, sha: &str) -> CommitChecks {
        self.commit_checks.get(sha).cloned().unwrap_or_else(|| CommitChecks {
            check_runs: self.spec.merge.check_runs.clone(),
            statuses: self.spec.merge.statuses.clone(),
        })
    }

    /// Every check of `sha` by name or context; a status and a check run of the same name count as one that
    /// failed when either did.
    pub fn check_states(&self, sha: &str) -> BTreeMap<String, CheckState> {
        let checks = self.checks_of(sha);
        let mut states: BTreeMap<String, CheckState> =
            checks.check_runs.iter().map(|(name, value)| (name.clone(), run_state(value))).collect();
        for (context, value) in &checks.statuses {
            let state = status_state(value);
            let entry = states.entry(context.clone()).or_insert(state);
            if state == CheckState::Failed || (state == CheckState::Pending && *entry == CheckState::Passed) {
                *entry = state;
            }
        }
        states
    }
}

/// Why the requirements of `pull`'s base keep it from merging now, in GitHub's words; `None` when they are met.
pub fn unmet_requirement(repo: &Repo, pull: &Pull) -> Option<String> {
    let head = repo.branches.get(&pull.head)?;
    let states = repo.check_states(head);
    repo.required_checks(&pull.base).into_iter().find_map(|context| match states.get(&context) {
        Some(CheckState::Passed) => None,
        Some(CheckState::Failed) => Some(format!("Required status check \"{context}\" is failing.")),
        _ => Some(format!("Required status check \"{context}\" is expected.")),
    })
}

/// GitHub's `mergeable_state` of an open pull request: `draft`, `dirty` (conflicts), `blocked` (a requirement is
/// not met), `unstable` (a check that is not required did not pass) or `clean`.
pub fn mergeable_state(repo: &Repo, pull: &Pull) -> &'static str {
    if pull.draft {
        return "draft";
    }
    if merged_files(repo, &pull.base, &pull.head).is_none() {
        return "dirty";
    }
    if unmet_requirement(repo, pull).is_some() {
        return "blocked";
    }
    let head = repo.branches.get(&pull.head).cloned().unwrap_or_default();
    if repo.check_states(&head).values().any(|state| *state != CheckState::Passed) {
        return "unstable";
    }
    "clean"
}

/// The files after merging `head` into `base` (a three-way merge from their merge base); `None` on a conflict or
/// when a branch is missing.
pub fn merged_files(repo: &Repo, base: &str, head: &str) -> Option<BTreeMap<String, String>> {
    let (base_sha, head_sha) = (repo.branches.get(base)?, repo.branches.get(head)?);
    let ours = repo.files_at(base_sha)?;
    let theirs = repo.files_at(head_sha)?;
    let empty = BTreeMap::new();
    let ancestor = merge_base(repo, base_sha, head_sha).and_then(|sha| repo.files_at(&sha)).unwrap_or(&empty);
    let paths: BTreeSet<&String> = ours.keys().chain(theirs.keys()).chain(ancestor.keys()).collect();
    let mut merged = BTreeMap::new();
    for path in paths {
        let (o, t, a) = (ours.get(path), theirs.get(path), ancestor.get(path));
        let kept = if t == a || o == t {
            o
        } else if o == a {
            t
        } else {
            return None;
        };
        if let Some(content) = kept {
            merged.insert(path.clone(), content.clone());
        }
    }
    Some(merged)
}

/// The nearest commit of `head`'s history that `base` also has.
fn merge_base(repo: &Repo, base: &str, head: &str) -> Option<String> {
    let mut queue = std::collections::VecDeque::from([head.to_string()]);
    let mut seen = HashSet::new();
    while let Some(sha) = queue.pop_front() {
        if !seen.insert(sha.clone()) {
            continue;
        }
        if repo.is_ancestor(&sha, base) {
            return Some(sha);
        }
        if let Some(commit) = repo.commits.get(&sha) {
            queue.extend(commit.parents.iter().cloned());
        }
    }
    None
}

/// GitHub's refusal of `method` where the repository does not allow it.
pub fn method_refusal(repo: &Repo, method: &str) -> Option<String> {
    let merge = &repo.spec.merge;
    match method {
        "merge" if !merge.allow_merge_commit => Some("Merge commits are not allowed on this repository.".into()),
        "squash" if !merge.allow_squash_merge => Some("Squash merges are not allowed on this repository.".into()),
        "rebase" if !merge.allow_rebase_merge => Some("Rebase merges are not allowed on this repository.".into()),
        _ => None,
    }
}

/// Why GitHub refuses a merge: the status code and message its answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRefusal {
    /// 405 when the pull request cannot be merged now, 404 when it is gone.
    pub status: u16,
    /// GitHub's message.
    pub message: String,
}

fn refused(status: u16, message: impl Into<String>) -> MergeRefusal {
    MergeRefusal { status, message: message.into() }
}

/// Merges the pull request at `index` of `state.pulls` by `method`, by `actor`: the base branch moves to a new
/// commit, the pull request closes as merged, its auto-merge request ends. The new commit's sha; GitHub's 405 when
/// it cannot be merged now.
pub fn merge(state: &mut SimState, index: usize, method: &str, actor: &str) -> Result<String, MergeRefusal> {
    let now = state.now;
    let pull = state.pulls[index].clone();
    let not_mergeable = || refused(405, "Pull Request is not mergeable");
    let repo = state.repo(&pull.owner, &pull.repo).ok_or_else(|| refused(404, "Not Found"))?;
    if pull.state != "open" {
        return Err(not_mergeable());
    }
    if pull.draft {
        return Err(refused(405, "Pull Request is still a draft"));
    }
    if let Some(refusal) = method_refusal(repo, method).or_else(|| unmet_requirement(repo, &pull)) {
        return Err(refused(405, refusal));
    }
    let files = merged_files(repo, &pull.base, &pull.head).ok_or_else(not_mergeable)?;
    let (base_sha, head_sha) = (repo.branches[&pull.base].clone(), repo.branches[&pull.head].clone());
    let message = match method {
        "merge" => format!("Merge pull request #{} from {}/{}", pull.number, pull.owner, pull.head),
        _ => format!("{} (#{})", pull.title, pull.number),
    };
    let parents = match method {
        "merge" => vec![base_sha.clone(), head_sha],
        _ => vec![base_sha.clone()],
    };
    let repo = state.repo_mut(&pull.owner, &pull.repo).ok_or_else(|| refused(404, "Not Found"))?;
    let tree = repo.store_tree(files);
    let sha = repo.store_commit(&tree, parents, &message, "sim", now);
    repo.set_branch(&pull.base, &sha, now);
    let merged = &mut state.pulls[index];
    merged.state = "closed".into();
    merged.closed_at = Some(now);
    merged.merged_at = Some(now);
    merged.updated_at = now;
    merged.merge_commit_sha = Some(sha.clone());
    merged.merged_by = Some(actor.to_string());
    merged.auto_merge = None;
    state.touch_repo(&pull.owner, &pull.repo);
    state.emit_push(&pull.owner, &pull.repo, &pull.base, Some(&base_sha), &sha);
    Ok(sha)
}

/// Merges every open pull request whose auto-merge is on and whose requirements are now met, as GitHub does when a
/// check completes; one whose merge would be refused stays open with auto-merge on.
pub fn settle_auto_merges(state: &mut SimState) {
    let waiting: Vec<(usize, AutoMerge)> = state
        .pulls
        .iter()
        .enumerate()
        .filter(|(_, pull)| pull.state == "open")
        .filter_map(|(index, pull)| Some((index, pull.auto_merge.clone()?)))
        .collect();
    for (index, auto_merge) in waiting {
        let pull = &state.pulls[index];
        let Some(repo) = state.repo(&pull.owner, &pull.repo) else { continue };
        if mergeable_state(repo, pull) == "clean" || mergeable_state(repo, pull) == "unstable" {
            // A refusal (a method the repository no longer allows) leaves it waiting, as on GitHub.
            let _ = merge(state, index, &auto_merge.merge_method, &auto_merge.enabled_by);
        }
    }
}

/// Sets the checks `sha` (or a branch's head) reports, then merges what auto-merge was waiting for; false when the
/// repository or the ref does not exist.
pub fn set_commit_checks(state: &mut SimState, owner: &str, name: &str, git_ref: &str, checks: CommitChecks) -> bool {
    let Some(repo) = state.repo_mut(owner, name) else { return false };
    let Some(sha) = repo.resolve(git_ref).map(|commit| commit.sha.clone()) else { return false };
    repo.commit_checks.insert(sha, checks);
    settle_auto_merges(state);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{PullRequestFixture, RepoFixture};

    fn state(merge: MergeFixture) -> SimState {
        let mut state = SimState::from_fixture(&crate::Fixture::default());
        let files = BTreeMap::from([("a.txt".to_string(), "a\n".to_string()), ("b.txt".into(), "b\n".into())]);
        let pull = PullRequestFixture {
            title: "Change a".into(),
            head: "topic".into(),
            files: BTreeMap::from([("a.txt".into(), "a2\n".into())]),
            ..Default::default()
        };
        state.add_repo(
            "o",
            RepoFixture { name: "r".into(), files, pull_requests: vec![pull], merge, ..Default::default() },
        );
        state
    }

    #[test]
    fn required_checks_block_until_they_pass_and_the_merge_moves_the_base() {
        let merge = MergeFixture {
            protected_branches: BTreeMap::from([("main".into(), vec!["build".into()])]),
            check_runs: BTreeMap::from([("build".into(), "in_progress".into())]),
            ..Default::default()
        };
        let mut state = state(merge);
        let repo = state.repo("o", "r").unwrap();
        assert_eq!(mergeable_state(repo, &state.pulls[0]), "blocked");
        let refused = super::merge(&mut state, 0, "squash", "bot").unwrap_err();
        assert_eq!((refused.status, refused.message.as_str()), (405, "Required status check \"build\" is expected."));
        let checks =
            CommitChecks { check_runs: BTreeMap::from([("build".into(), "failure".into())]), ..Default::default() };
        assert!(set_commit_checks(&mut state, "o", "r", "topic", checks));
        assert_eq!(
            super::merge(&mut state, 0, "squash", "bot").unwrap_err().message,
            "Required status check \"build\" is failing."
        );
        let checks =
            CommitChecks { check_runs: BTreeMap::from([("build".into(), "success".into())]), ..Default::default() };
        set_commit_checks(&mut state, "o", "r", "topic", checks);
        let sha = super::merge(&mut state, 0, "squash", "bot").expect("merged");
        let repo = state.repo("o", "r").unwrap();
        assert_eq!(repo.head_sha, sha);
        assert_eq!(repo.spec.files["a.txt"], "a2\n");
        assert_eq!((state.pulls[0].state.as_str(), state.pulls[0].merged_at.is_some()), ("closed", true));
        assert_eq!(super::merge(&mut state, 0, "squash", "bot").unwrap_err().message, "Pull Request is not mergeable");
    }

    #[test]
    fn auto_merge_waits_for_the_checks_and_settings_refuse_methods() {
        let merge = MergeFixture {
            allow_merge_commit: false,
            ruleset_required_checks: BTreeMap::from([("main".into(), vec!["ci".into()])]),
            statuses: BTreeMap::from([("ci".into(), "pending".into())]),
            ..Default::default()
        };
        let mut state = state(merge);
        assert_eq!(
            super::merge(&mut state, 0, "merge", "bot").unwrap_err().message,
            "Merge commits are not allowed on this repository."
        );
        state.pulls[0].auto_merge =
            Some(AutoMerge { merge_method: "squash".into(), enabled_by: "bot".into(), enabled_at: state.now });
        settle_auto_merges(&mut state);
        assert_eq!(state.pulls[0].state, "open");
        let checks = CommitChecks { statuses: BTreeMap::from([("ci".into(), "success".into())]), ..Default::default() };
        set_commit_checks(&mut state, "o", "r", "topic", checks);
        assert_eq!(state.pulls[0].state, "closed");
        assert_eq!(state.pulls[0].merged_by.as_deref(), Some("bot"));
    }

    #[test]
    fn a_conflict_is_dirty() {
        let mut state = state(MergeFixture::default());
        let changes = BTreeMap::from([("a.txt".to_string(), Some("a3\n".to_string()))]);
        state.repo_mut("o", "r").unwrap().commit_changes("main", &changes, "conflicting", 0);
        let repo = state.repo("o", "r").unwrap();
        assert_eq!(mergeable_state(repo, &state.pulls[0]), "dirty");
        assert_eq!(super::merge(&mut state, 0, "merge", "bot").unwrap_err().status, 405);
    }
}
