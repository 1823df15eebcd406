//! Discovery's reads: list an organization's repositories, keep those that pass the filters, and read each kept
//! repository's files at the head of its default branch for detection.
//!
//! The listing is REST and conditional: each page GitHub answers `304 Not Modified` costs no rate limit, so an
//! unchanged organization costs nothing. (A GraphQL query always costs at least one point, which is why the listing
//! is not one.) What a repository's head commit says is remembered between passes, with the listing's `pushed_at`
//! and default branch at the time: a repository the listing shows unpushed since, on the same default branch, is
//! answered from memory without any request (see [`Remembered::holds_for`] for a push in the second of a reading).
//!
//! The others are read in bulk through GraphQL (see [`super::graphql_reads`]) unless the Organization asks for
//! REST, which reads each repository's branch head, tree and files on its own.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{stream, StreamExt};
use k8s_openapi::jiff::Timestamp;

use super::graphql_reads::{self, HeadRead, HeadToRead};
use crate::controller::detection_cache::{DetectionCache, Remembered};
use crate::crd::organization::{DiscoveryReads, DiscoverySpec};
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
    /// Whether secret scanning is on, by name, for the listed repositories whose listing said (GitHub says it to an
    /// owner or security manager of the organization).
    pub secret_scanning: BTreeMap<String, bool>,
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
    // Readings are compared with GitHub's `pushed_at`, so on GitHub's clock (the listing's `Date`); ours, not a
    // test's injected one, only when GitHub gave none.
    let started = github.server_time().unwrap_or_else(Timestamp::now);
    let mut readings = Vec::new();
    let mut to_read = Vec::new();
    for repo in listed.iter().filter(|repo| passes(spec, repo)) {
        let remembered = cache.get(cache_key, &repo.name);
        match (repo.default_branch.as_deref(), remembered) {
            (None, _) => readings.push(Ok((repo.name.clone(), unread(repo)))),
            (Some(branch), Some(remembered)) if remembered.holds_for(branch, repo.pushed_at) => {
                readings.push(Ok((repo.name.clone(), reading_of(metadata(repo), remembered, false))))
            }
            (Some(_), remembered) => to_read.push((repo, remembered)),
        }
    }
    let heads = match spec.reads {
        DiscoveryReads::GraphQL => read_by_graphql(github, login, &to_read, started).await?,
        DiscoveryReads::Rest => to_read.iter().map(|_| Ok(None)).collect(),
    };
    // Futures built first: a stream of closures over borrowed repositories is not provably `Send`.
    let reads: Vec<_> = to_read
        .into_iter()
        .zip(heads)
        .map(|((repo, remembered), head)| async move {
            let head = match head {
                Ok(Some(head)) => Ok(head),
                Ok(None) => {
                    let repo_ref = RepoRef::new(login, &repo.name);
                    read_head(github, &repo_ref, repo, remembered.as_ref(), started).await
                }
                Err(error) => Err(error),
            };
            Ok((repo.name.clone(), reading(repo, remembered, head)?))
        })
        .collect();
    let read: Vec<Result<(String, Reading), github::Error>> =
        stream::iter(reads).buffer_unordered(REPOSITORIES_IN_FLIGHT).collect().await;
    readings.extend(read);
    let names = listed.iter().map(|repo| repo.name.clone()).collect();
    let secret_scanning = listed.iter().filter_map(|repo| Some((repo.name.clone(), repo.secret_scanning?))).collect();
    let mut discovery = Discovery { listed: names, secret_scanning, ..Discovery::default() };
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

/// The heads of `to_read` by GraphQL, in order: `None` for a repository to read by REST instead (a query that failed
/// for it alone, or no node id in the listing), an error for one whose files could not be read.
async fn read_by_graphql(
    github: &dyn GitHub,
    login: &str,
    to_read: &[(&github::Repository, Option<Remembered>)],
    started: Timestamp,
) -> Result<Vec<Result<Option<Head>, github::Error>>, github::Error> {
    let asked: Vec<HeadToRead<'_>> = to_read
        .iter()
        .filter_map(|(repo, remembered)| {
            Some(HeadToRead {
                repo: RepoRef::new(login, &repo.name),
                node_id: repo.node_id.as_deref()?,
                language: repo.language.as_deref(),
                remembered_head: remembered.as_ref().map(|r| r.head_sha.as_str()),
            })
        })
        .collect();
    let mut answers = graphql_reads::read_heads(github, &asked).await?.into_iter();
    let mut heads = Vec::with_capacity(to_read.len());
    for (repo, remembered) in to_read {
        if repo.node_id.is_none() {
            heads.push(Ok(None));
            continue;
        }
        let remember = |head_sha: String, description| remembered_now(repo, head_sha, description, started);
        heads.push(match answers.next() {
            Some(Ok(HeadRead::Empty)) => Ok(Some(Head::Empty)),
            Some(Ok(HeadRead::Unchanged)) => match remembered {
                Some(r) => Ok(Some(Head::Unchanged(remember(r.head_sha.clone(), r.description.clone())))),
                None => Ok(None),
            },
            Some(Ok(HeadRead::Read { head_sha, description })) => {
                Ok(Some(Head::Read(remember(head_sha, *description))))
            }
            Some(Ok(HeadRead::ByRest { reason })) => {
                tracing::debug!(repository = %repo.full_name, reason, "reading by REST");
                Ok(None)
            }
            Some(Err(error)) => Err(error),
            None => Ok(None),
        });
    }
    Ok(heads)
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

/// What the listing says of a repository.
fn metadata(repo: &github::Repository) -> RepositoryFindings {
    RepositoryFindings {
        full_name: repo.full_name.clone(),
        html_url: repo.html_url.clone(),
        github_language: repo.language.clone(),
        topics: repo.topics.clone(),
        archived: repo.archived,
        default_branch: repo.default_branch.clone(),
        ..RepositoryFindings::default()
    }
}

/// A repository without a default branch: nothing to read.
fn unread(repo: &github::Repository) -> Reading {
    Reading { findings: metadata(repo), fresh: false, remember: None }
}

/// What to remember of a reading of `repo` that started at `started`.
fn remembered_now(
    repo: &github::Repository,
    head_sha: String,
    description: detect::RepositoryDescription,
    started: Timestamp,
) -> Remembered {
    Remembered {
        head_sha,
        description,
        branch: repo.default_branch.clone().unwrap_or_default(),
        pushed_at: repo.pushed_at,
        read_started: started,
    }
}

/// The reading of `repo` from what its head said.
fn reading(
    repo: &github::Repository,
    remembered: Option<Remembered>,
    head: Result<Head, github::Error>,
) -> Result<Reading, github::Error> {
    let metadata = metadata(repo);
    let branch = repo.default_branch.as_deref().unwrap_or_default();
    match head {
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

/// Reads by REST the head of `repo`'s default branch; only when it moved, the tree and the manifests there.
async fn read_head(
    github: &dyn GitHub,
    repo_ref: &RepoRef,
    repo: &github::Repository,
    remembered: Option<&Remembered>,
    started: Timestamp,
) -> Result<Head, github::Error> {
    let branch = repo.default_branch.as_deref().unwrap_or_default();
    let Some(head_sha) = github.branch_head(repo_ref, branch).await? else {
        return Ok(Head::Empty);
    };
    if let Some(remembered) = remembered.filter(|r| r.head_sha == head_sha) {
        let description = remembered.description.clone();
        return Ok(Head::Unchanged(remembered_now(repo, head_sha, description, started)));
    }
    let description = describe_commit(github, repo_ref, &head_sha, repo.language.as_deref()).await?;
    Ok(Head::Read(remembered_now(repo, head_sha, description, started)))
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
pub(super) async fn tree_paths(
    github: &dyn GitHub,
    repo: &RepoRef,
    head_sha: &str,
) -> Result<Vec<String>, github::Error> {
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
