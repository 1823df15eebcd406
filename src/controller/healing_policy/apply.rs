//! Carries out one healing action on GitHub and says what it produced: the link for the audit trail, and the issue
//! or pull request for the policy's status.

use std::collections::BTreeMap;

use crate::controller::error::Error;
use crate::crd::healing_policy::{OpenIssue, PolicyPullRequest, PullRequestLockfile};
use crate::github::{FileChange, GitHub, Issue, IssueFields, PullRequestChange, RepoRef};
use crate::plan::heal::lockfile as heal_lockfile;
use crate::plan::heal::marker::IssueMarker;
use crate::plan::heal::revert::{self, ChangedPath};
use crate::plan::heal::HealingAction;

use super::observe::{text_of, RepositoryView};

/// What an action produced.
#[derive(Clone, Debug, Default)]
pub struct Produced {
    /// The run, issue or pull request, for the audit trail.
    pub link: Option<String>,
    /// An issue opened.
    pub opened_issue: Option<OpenIssue>,
    /// An issue closed.
    pub closed_issue: Option<i64>,
    /// A pull request opened.
    pub pull_request: Option<PolicyPullRequest>,
}

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// GitHub answered with an error.
    #[error(transparent)]
    GitHub(#[from] Error),
    /// The rollback needs a person (a later commit changed the same file, or nothing is left to revert).
    #[error("{0}")]
    Revert(#[from] revert::RevertError),
}

/// Carries out `action` on the repository `view` describes.
pub async fn carry_out(
    github: &dyn GitHub,
    view: &RepositoryView,
    action: &HealingAction,
) -> Result<Produced, Refused> {
    let repo = &view.repo;
    let name = &view.observed.name;
    let produced = match action {
        HealingAction::Rerun { run_id } => {
            github.rerun_failed_jobs(repo, run_number(*run_id)).await.map_err(Error::from)?;
            let url = view.observed.latest_failed_run.as_ref().and_then(|run| run.url.clone());
            Produced { link: url, ..Produced::default() }
        }
        HealingAction::OpenIssue { problem, title, body, labels } => {
            let fields = IssueFields {
                title: Some(title.clone()),
                body: Some(body.clone()),
                labels: Some(labels.clone()),
                state: None,
            };
            let issue = github.create_issue(repo, &fields).await.map_err(Error::from)?;
            let number = i64::try_from(issue.number).unwrap_or(i64::MAX);
            let url = issue.html_url.clone();
            let record = OpenIssue { repository: name.clone(), problem: problem.as_str().to_owned(), number, url };
            Produced { link: issue.html_url, opened_issue: Some(record), ..Produced::default() }
        }
        HealingAction::CommentIssue { number, body } => {
            comment_and_raise_marker(github, repo, view.owned_issues.get(number), *number, body).await?;
            Produced { link: issue_link(view, *number), ..Produced::default() }
        }
        HealingAction::CloseIssue { number, comment } => {
            github.comment_issue(repo, issue_number(*number), comment).await.map_err(Error::from)?;
            github.close_issue(repo, issue_number(*number)).await.map_err(Error::from)?;
            Produced { link: issue_link(view, *number), closed_issue: Some(*number), ..Produced::default() }
        }
        HealingAction::DependencyUpdate { branch, title, body, edits, lockfile } => {
            let files = edits.iter().map(|e| FileChange { path: e.path.clone(), content: Some(e.content.clone()) });
            let Some(lockfile) = lockfile else {
                return Ok(
                    pull_request(github, view, "DependencyUpdate", branch, title, body, files.collect(), false).await?
                );
            };
            // A draft until the lockfile workflow brought the lockfile in line: `npm ci` and `cargo --locked`
            // refuse a manifest its lockfile does not satisfy. The follow-up dispatches the workflow.
            let body = format!(
                "{body}\n\nThis pull request stays a draft until `{}` is brought in line by the `{}` workflow on its \
                 branch; Infinity Orchestrator marks it ready for review then.",
                lockfile.path,
                heal_lockfile::WORKFLOW_FILE
            );
            let mut produced =
                pull_request(github, view, "DependencyUpdate", branch, title, &body, files.collect(), true).await?;
            if let Some(record) = produced.pull_request.as_mut() {
                record.lockfile = Some(awaiting(lockfile));
            }
            produced
        }
        HealingAction::ClosePullRequest { number, comment } => {
            // A pull request is an issue to GitHub: the issue endpoints comment on and close it.
            github.comment_issue(repo, issue_number(*number), comment).await.map_err(Error::from)?;
            let closed = github.close_issue(repo, issue_number(*number)).await.map_err(Error::from)?;
            Produced { link: closed.html_url, ..Produced::default() }
        }
        HealingAction::ConfigRepair { branch, title, body, file } => {
            let files = vec![FileChange { path: file.path.clone(), content: Some(file.content.clone()) }];
            pull_request(github, view, "ConfigRepair", branch, title, body, files, false).await?
        }
        HealingAction::Rollback { branch, title, body, revert_sha, parent_sha } => {
            let files = revert_files(github, repo, revert_sha, parent_sha).await?;
            pull_request(github, view, "Rollback", branch, title, body, files, false).await?
        }
    };
    Ok(produced)
}

fn run_number(id: i64) -> u64 {
    u64::try_from(id).unwrap_or_default()
}

fn issue_number(number: i64) -> u64 {
    u64::try_from(number).unwrap_or_default()
}

fn issue_link(view: &RepositoryView, number: i64) -> Option<String> {
    view.owned_issues.get(&number).and_then(|issue| issue.html_url.clone())
}

/// Comments, then raises the severity in the issue body's marker to the comment's: the body is where the policy
/// finds the last reported severity again (it does not read comments), so it comments only when things got worse.
async fn comment_and_raise_marker(
    github: &dyn GitHub,
    repo: &RepoRef,
    issue: Option<&Issue>,
    number: i64,
    comment: &str,
) -> Result<(), Error> {
    github.comment_issue(repo, issue_number(number), comment).await?;
    let (Some(issue), Some(reported)) = (issue, IssueMarker::parse(comment)) else { return Ok(()) };
    let body = issue.body.clone().unwrap_or_default();
    let Some(opening) = IssueMarker::parse(&body) else { return Ok(()) };
    let raised = body.replacen(&opening.render(), &reported.render(), 1);
    let fields = IssueFields { body: Some(raised), ..IssueFields::default() };
    github.update_issue(repo, issue_number(number), &fields).await?;
    Ok(())
}

/// The status record of a lockfile the workflow has not been dispatched for yet.
fn awaiting(lockfile: &heal_lockfile::LockfileUpdate) -> PullRequestLockfile {
    PullRequestLockfile {
        path: lockfile.path.clone(),
        manifest: lockfile.manifest.clone(),
        ecosystem: lockfile.tool.ecosystem().to_owned(),
        package: lockfile.package.clone(),
        version: lockfile.version.clone(),
        state: heal_lockfile::STATE_AWAITING_DISPATCH.to_owned(),
        dispatched_at: None,
        run_url: None,
        message: None,
    }
}

/// Opens (or finds, by branch) the pull request, a draft when `draft`, and records it.
#[allow(clippy::too_many_arguments)]
async fn pull_request(
    github: &dyn GitHub,
    view: &RepositoryView,
    action: &str,
    branch: &str,
    title: &str,
    body: &str,
    files: Vec<FileChange>,
    draft: bool,
) -> Result<Produced, Error> {
    let change = PullRequestChange {
        branch: branch.to_owned(),
        commit_message: title.to_owned(),
        files,
        title: title.to_owned(),
        body: body.to_owned(),
        draft,
    };
    let opened = github.open_pull_request(&view.repo, &change).await?;
    let record = PolicyPullRequest {
        repository: view.observed.name.clone(),
        action: action.to_owned(),
        branch: branch.to_owned(),
        number: i64::try_from(opened.number).unwrap_or(i64::MAX),
        url: opened.html_url.clone(),
        lockfile: None,
    };
    Ok(Produced { link: opened.html_url, pull_request: Some(record), ..Produced::default() })
}

/// The file changes reverting `sha` (whose parent is `parent`) on the default branch's head: the paths whose blobs
/// differ between the two trees, each with its content at the parent, the commit and the head.
async fn revert_files(
    github: &dyn GitHub,
    repo: &RepoRef,
    sha: &str,
    parent: &str,
) -> Result<Vec<FileChange>, Refused> {
    let blobs = |tree: crate::github::Tree| -> BTreeMap<String, String> {
        tree.tree.into_iter().filter(|e| e.kind == "blob").map(|e| (e.path, e.sha)).collect()
    };
    let before_tree = github.tree(repo, parent).await.map_err(Error::from)?;
    let after_tree = github.tree(repo, sha).await.map_err(Error::from)?;
    let (before, after) = if before_tree.truncated || after_tree.truncated {
        // GitHub cut a listing: compare level by level instead, skipping the subtrees both commits share.
        differing_blobs(github, repo, &before_tree.sha, &after_tree.sha).await.map_err(Error::from)?
    } else {
        (blobs(before_tree), blobs(after_tree))
    };
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut changes = Vec::new();
    for path in paths.into_iter().filter(|path| before.get(*path) != after.get(*path)) {
        let before = text_of(github, repo, path, Some(parent)).await?;
        let after = text_of(github, repo, path, Some(sha)).await?;
        let head = text_of(github, repo, path, None).await?;
        changes.push(ChangedPath { path: path.clone(), before, after, head });
    }
    let files = revert::revert(&changes)?;
    Ok(files.into_iter().map(|file| FileChange { path: file.path, content: file.content }).collect())
}

/// The blobs (path → sha) under the subtrees where two root trees differ, one map per tree, read one level at a
/// time: a subtree with the same sha on both sides holds the same files and is not read.
async fn differing_blobs(
    github: &dyn GitHub,
    repo: &RepoRef,
    before_root: &str,
    after_root: &str,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), crate::github::Error> {
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    let mut pending = vec![(String::new(), Some(before_root.to_owned()), Some(after_root.to_owned()))];
    while let Some((directory, before_sha, after_sha)) = pending.pop() {
        let mut sides: [BTreeMap<String, (String, String)>; 2] = Default::default();
        for (side, sha) in [before_sha, after_sha].into_iter().enumerate() {
            let Some(sha) = sha else { continue };
            for entry in github.tree_level(repo, &sha).await?.tree {
                let path = crate::plan::detect::join_path(&directory, &entry.path);
                sides[side].insert(path, (entry.kind, entry.sha));
            }
        }
        let paths: std::collections::BTreeSet<&String> = sides[0].keys().chain(sides[1].keys()).collect();
        for path in paths {
            let (old, new) = (sides[0].get(path), sides[1].get(path));
            if old == new {
                continue;
            }
            let tree_sha = |side: Option<&(String, String)>| side.filter(|(k, _)| k == "tree").map(|(_, s)| s.clone());
            if let Some((_, sha)) = old.filter(|(k, _)| k == "blob") {
                before.insert(path.clone(), sha.clone());
            }
            if let Some((_, sha)) = new.filter(|(k, _)| k == "blob") {
                after.insert(path.clone(), sha.clone());
            }
            if tree_sha(old).is_some() || tree_sha(new).is_some() {
                pending.push((path.clone(), tree_sha(old), tree_sha(new)));
            }
        }
    }
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use github_sim::{Fixture, SimOptions, Simulator};

    use super::differing_blobs;
    use crate::github::{Credentials, GitHub, GitHubConfig, OctocrabGitHub, RepoRef};

    #[tokio::test]
    async fn differing_blobs_reads_only_the_subtrees_that_changed() {
        let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("sim");
        let files = |entries: &[(&str, Option<&str>)]| -> BTreeMap<String, Option<String>> {
            entries.iter().map(|(path, content)| (path.to_string(), content.map(str::to_string))).collect()
        };
        let base = files(&[("same/a.txt", Some("a")), ("same/deep/b.txt", Some("b")), ("src/x.rs", Some("x"))]);
        let before = sim.commit_files("acme", "repo-00000", &base, "before").expect("commit");
        let change = files(&[("src/x.rs", Some("y")), ("src/new/z.rs", Some("z")), ("Cargo.toml", None)]);
        let after = sim.commit_files("acme", "repo-00000", &change, "after").expect("commit");
        let github = OctocrabGitHub::new(GitHubConfig::new(sim.base_url(), Credentials::Token("test-token".into())))
            .expect("client");
        let repo = RepoRef::new("acme", "repo-00000");
        let (before_tree, after_tree) =
            (github.tree(&repo, &before).await.unwrap(), github.tree(&repo, &after).await.unwrap());
        sim.clear_requests();
        let (old, new) = differing_blobs(&github, &repo, &before_tree.sha, &after_tree.sha).await.expect("diff");
        assert_eq!(old.keys().collect::<Vec<_>>(), ["Cargo.toml", "src/x.rs"]);
        assert_eq!(new.keys().collect::<Vec<_>>(), ["src/new/z.rs", "src/x.rs"]);
        // Two roots, two `src` levels and the new `src/new`: the unchanged `same/` is never read.
        assert_eq!(sim.requests().len(), 5, "{:?}", sim.requests().iter().map(|r| &r.path).collect::<Vec<_>>());
    }
}
