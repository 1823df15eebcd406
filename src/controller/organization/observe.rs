//! Discovery's reads: list an organization's repositories, keep those that pass the filters, and read each kept
//! repository's files at the head of its default branch for detection. What a repository's head commit says is
//! remembered between passes: an unchanged repository costs one conditional request for its branch head, which
//! GitHub answers 304 without spending rate limit, and no tree or file reads.
//!
//! `pushed_at` from the listing is not trusted to skip even that request: it has a resolution of one second, so a
//! push in the same second as the last reading would go unseen.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{stream, StreamExt};

use crate::controller::detection_cache::{DetectionCache, Remembered};
use crate::crd::organization::DiscoverySpec;
use crate::github::{self, GitHub, RepoRef};
use crate::plan::detect;
use crate::plan::discovery_pass::RepositoryFindings;
use crate::plan::repository_sync::{filter, DiscoveredRepository};

/// Repositories read at once; the GitHub layer caps requests in flight on its own, this bounds memory.
const REPOSITORIES_IN_FLIGHT: usize = 8;
/// Files fetched at once within one repository.
const FILES_IN_FLIGHT: usize = 4;

/// What discovery found in one pass.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The repositories that passed the filters, by GitHub name.
    pub kept: BTreeMap<String, RepositoryFindings>,
    /// The names of every repository GitHub listed, before the filters.
    pub listed: BTreeSet<String>,
    /// How many kept repositories had to be read (not answered from memory).
    pub read: usize,
}

/// Runs one discovery pass for the GitHub organization `login`. `cache_key` names the Organization object. Only
/// the listing failing fails the pass, or a rate limit GitHub will not lift soon; a repository whose files cannot
/// be read is kept with `read_error` set and its last good findings, if any.
pub async fn discover(
    github: &dyn GitHub,
    login: &str,
    spec: &DiscoverySpec,
    cache: &DetectionCache,
    cache_key: &str,
) -> Result<Discovery, github::Error> {
    let listed = github.list_org_repos(login).await?;
    let kept: Vec<github::Repository> = listed.iter().filter(|repo| passes(spec, repo)).cloned().collect();
    let readings: Vec<Result<(String, Reading), github::Error>> = stream::iter(kept)
        .map(|repo| async move {
            let remembered = cache.get(cache_key, &repo.name);
            let reading = read_repository(github, login, &repo, remembered).await?;
            Ok((repo.name.clone(), reading))
        })
        .buffer_unordered(REPOSITORIES_IN_FLIGHT)
        .collect()
        .await;
    let names = listed.iter().map(|repo| repo.name.clone()).collect();
    let mut discovery = Discovery { listed: names, ..Discovery::default() };
    let mut remember = HashMap::new();
    for reading in readings {
        let (name, reading) = reading?;
        discovery.read += usize::from(reading.fresh);
        if let Some(good) = reading.remember {
            remember.insert(name.clone(), good);
        }
        discovery.kept.insert(name, reading.findings);
    }
    cache.replace(cache_key, remember);
    Ok(discovery)
}

fn passes(spec: &DiscoverySpec, repo: &github::Repository) -> bool {
    let visibility = repo.visibility.clone().unwrap_or_else(|| if repo.private { "private" } else { "public" }.into());
    let discovered = DiscoveredRepository {
        name: repo.name.clone(),
        archived: repo.archived,
        fork: repo.fork,
        visibility,
        topics: repo.topics.clone(),
    };
    filter(spec, &discovered).is_ok()
}

/// One repository's findings, whether they were read now, and what to remember of them.
struct Reading {
    findings: RepositoryFindings,
    fresh: bool,
    remember: Option<Remembered>,
}

async fn read_repository(
    github: &dyn GitHub,
    login: &str,
    repo: &github::Repository,
    remembered: Option<Remembered>,
) -> Result<Reading, github::Error> {
    let metadata = RepositoryFindings {
        full_name: repo.full_name.clone(),
        html_url: repo.html_url.clone(),
        github_language: repo.language.clone(),
        topics: repo.topics.clone(),
        archived: repo.archived,
        default_branch: repo.default_branch.clone(),
        ..RepositoryFindings::default()
    };
    let Some(branch) = repo.default_branch.as_deref() else {
        return Ok(Reading { findings: metadata, fresh: false, remember: None });
    };
    let repo_ref = RepoRef::new(login, &repo.name);
    match read_head(github, &repo_ref, branch, repo.language.as_deref(), remembered.as_ref()).await {
        Ok(Head::Empty) if remembered.is_none() => Ok(Reading { findings: metadata, fresh: true, remember: None }),
        // A branch that had a head and now has none is more likely a repository deleted between the listing and
        // this read than one emptied: keep what was known, and let the next listing tell.
        Ok(Head::Empty) => Ok(kept_reading(metadata, remembered, format!("branch {branch} has no head commit"))),
        Ok(Head::Unchanged(remembered)) => Ok(reading_of(metadata, remembered, false)),
        Ok(Head::Read(remember)) => Ok(reading_of(metadata, remember, true)),
        // Waiting out the limit is the transport's job; if it gave up, the whole pass waits for the reset.
        Err(error @ github::Error::RateLimited { .. }) => Err(error),
        Err(error) => Ok(kept_reading(metadata, remembered, error.to_string())),
    }
}

/// The reading of a repository whose head commit was described, now (`fresh`) or in an earlier pass.
fn reading_of(metadata: RepositoryFindings, remembered: Remembered, fresh: bool) -> Reading {
    let findings = RepositoryFindings {
        head_sha: Some(remembered.head_sha.clone()),
        description: remembered.description.clone(),
        ..metadata
    };
    Reading { findings, fresh, remember: Some(remembered) }
}

/// A reading that failed: the last good one is kept so that nothing already known is lost, with the error.
fn kept_reading(metadata: RepositoryFindings, remembered: Option<Remembered>, error: String) -> Reading {
    let findings = RepositoryFindings {
        head_sha: remembered.as_ref().map(|r| r.head_sha.clone()),
        description: remembered.as_ref().map(|r| r.description.clone()).unwrap_or_default(),
        read_error: Some(error),
        ..metadata
    };
    Reading { findings, fresh: true, remember: remembered }
}

/// What the head of the default branch says.
enum Head {
    /// No commit: an empty repository.
    Empty,
    /// The remembered head: its description still holds.
    Unchanged(Remembered),
    /// A new head, read and described.
    Read(Remembered),
}

/// Reads the head of `branch`; only when it moved, the tree and the manifests there.
async fn read_head(
    github: &dyn GitHub,
    repo: &RepoRef,
    branch: &str,
    github_language: Option<&str>,
    remembered: Option<&Remembered>,
) -> Result<Head, github::Error> {
    let Some(head_sha) = github.branch_head(repo, branch).await? else {
        return Ok(Head::Empty);
    };
    if let Some(remembered) = remembered.filter(|r| r.head_sha == head_sha) {
        return Ok(Head::Unchanged(remembered.clone()));
    }
    let description = describe_commit(github, repo, &head_sha, github_language).await?;
    Ok(Head::Read(Remembered { head_sha, description }))
}

/// Detection's description of the files at `head_sha`.
async fn describe_commit(
    github: &dyn GitHub,
    repo: &RepoRef,
    head_sha: &str,
    github_language: Option<&str>,
) -> Result<detect::RepositoryDescription, github::Error> {
    let paths = tree_paths(github, repo, head_sha).await?;
    let wanted = detect::manifests_to_fetch(&paths);
    let fetched: Vec<Result<Option<(String, String)>, github::Error>> = stream::iter(wanted)
        .map(|path| async move {
            let contents = github.file_contents(repo, &path, Some(head_sha)).await?;
            Ok(contents.map(|file| (path, String::from_utf8_lossy(&file.content).into_owned())))
        })
        .buffer_unordered(FILES_IN_FLIGHT)
        .collect()
        .await;
    let mut files = BTreeMap::new();
    for file in fetched {
        // A file listed in the tree but gone by the time it is fetched is simply left out.
        if let Some((path, contents)) = file? {
            files.insert(path, contents);
        }
    }
    Ok(detect::describe(&paths, &files, github_language))
}

/// The file paths at `head_sha` that detection reads: the recursive tree, or, when GitHub truncated it, the
/// directories [`detect::reads_directory`] names, listed one level at a time (one request per directory; a tree is
/// immutable, so a later pass re-reads it conditionally for free).
async fn tree_paths(github: &dyn GitHub, repo: &RepoRef, head_sha: &str) -> Result<Vec<String>, github::Error> {
    let tree = github.tree(repo, head_sha).await?;
    if !tree.truncated {
        return Ok(tree.tree.into_iter().filter(|entry| entry.kind == "blob").map(|entry| entry.path).collect());
    }
    tracing::info!(%repo, "tree truncated by GitHub; listing the directories detection reads one at a time");
    let mut paths = Vec::new();
    let mut pending = vec![(String::new(), tree.sha)];
    while !pending.is_empty() {
        let levels: Vec<Result<(String, github::Tree), github::Error>> = stream::iter(std::mem::take(&mut pending))
            .map(|(directory, sha)| async move { Ok((directory, github.tree_level(repo, &sha).await?)) })
            .buffer_unordered(FILES_IN_FLIGHT)
            .collect()
            .await;
        for level in levels {
            let (directory, level) = level?;
            for entry in level.tree {
                let path = detect::join_path(&directory, &entry.path);
                match entry.kind.as_str() {
                    "blob" => paths.push(path),
                    "tree" if detect::reads_directory(&path) => pending.push((path, entry.sha)),
                    _ => {}
                }
            }
        }
    }
    paths.sort();
    Ok(paths)
}
