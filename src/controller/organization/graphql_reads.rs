//! Discovery's reads of changed repositories through GraphQL, batched across repositories: one query for the trees
//! and head commits of [`TREE_BATCH`] repositories, then one for the texts of [`BLOB_BATCH`] files, whichever
//! repositories they belong to. REST answers only what a query could not: a file GitHub truncated or would not give
//! as text, a tree deeper than the query reads under a directory detection looks into, and a repository whose query
//! failed on its own (the caller then reads it by REST as a whole).
//!
//! A query that times out (GitHub ends queries after 10 seconds with a 502 or 504, and still counts them) or fails for
//! one repository is sent again as two halves, down to single repositories, so that a page too large for a big
//! organization degrades instead of failing the pass.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::{stream, StreamExt};

use super::observe::tree_paths;
use crate::github::{self, BlobRead, BlobText, GitHub, HeadTree, RepoRef};
use crate::plan::detect::{self, RepositoryDescription};

/// Repositories per trees query (1 point each). `cargo bench --bench discovery`, first discovery of 10,000 generated
/// repositories (100 REST points for the listing, GraphQL points and wall time by trees/files batch): 25/100 600
/// points 2.3 s, 50/100 400 points 2.3 s, 100/200 200 points 2.7 s. All fit the 1,000-point goal; 50 keeps a page of
/// large trees further from GitHub's 10 seconds (Backstage pages organizations by 25 for that reason), and a page
/// that times out anyway is split.
pub const TREE_BATCH: usize = 50;
/// Files per texts query, across repositories (1 point each): see [`TREE_BATCH`]. A manifest's text is at most
/// 512 KiB in GraphQL, and most are a few KiB.
pub const BLOB_BATCH: usize = 100;
/// Queries in flight at once (the transport caps all requests in flight on its own).
const QUERIES_IN_FLIGHT: usize = 4;
/// Trees and files read by REST at once.
const REST_READS_IN_FLIGHT: usize = 4;

/// A repository whose head the listing says may have moved.
pub struct HeadToRead<'a> {
    /// The repository.
    pub repo: RepoRef,
    /// Its GraphQL node id.
    pub node_id: &'a str,
    /// The language GitHub reports, for detection.
    pub language: Option<&'a str>,
    /// The head commit read last time, if any.
    pub remembered_head: Option<&'a str>,
}

/// What GraphQL made of one repository's head.
#[derive(Debug)]
pub enum HeadRead {
    /// No head commit: an empty repository, or none by that node id any more.
    Empty,
    /// The remembered head commit.
    Unchanged,
    /// A new head commit, described.
    Read {
        /// The commit.
        head_sha: String,
        /// What detection found in it.
        description: Box<RepositoryDescription>,
    },
    /// The query failed for this repository alone: read it by REST.
    ByRest {
        /// Why.
        reason: String,
    },
}

/// Reads the heads of `repositories`, in their order. Fails only when GitHub's budget is spent for longer than the
/// transport waits; a repository whose files could not be read by REST either has its own error.
pub async fn read_heads(
    github: &dyn GitHub,
    repositories: &[HeadToRead<'_>],
) -> Result<Vec<Result<HeadRead, github::Error>>, github::Error> {
    let ids: Vec<String> = repositories.iter().map(|r| r.node_id.to_owned()).collect();
    let trees = in_batches(&ids, TREE_BATCH, &|ids| github.repository_trees(ids)).await?;
    let mut reads: Vec<Result<HeadRead, github::Error>> = Vec::with_capacity(repositories.len());
    let mut moved = Vec::new();
    for (index, (repository, tree)) in repositories.iter().zip(trees).enumerate() {
        let head = tree.map(|tree| tree.and_then(|tree| Some((tree.head_oid.clone()?, tree))));
        reads.push(Ok(match head {
            Err(reason) => HeadRead::ByRest { reason },
            Ok(None) => HeadRead::Empty,
            Ok(Some((head_sha, _))) if repository.remembered_head == Some(head_sha.as_str()) => HeadRead::Unchanged,
            Ok(Some((head_sha, tree))) => {
                moved.push((index, head_sha, tree));
                // Until the files are read and described, below.
                HeadRead::Unchanged
            }
        }));
    }
    let listings: Vec<_> = moved
        .into_iter()
        .map(|(index, head_sha, tree)| async move {
            let paths = detected_paths(github, &repositories[index].repo, &head_sha, tree).await;
            (index, head_sha, paths)
        })
        .collect();
    let listed: Vec<(usize, String, github::Result<Vec<String>>)> =
        stream::iter(listings).buffer_unordered(REST_READS_IN_FLIGHT).collect().await;
    let mut pending = Vec::with_capacity(listed.len());
    for (index, head_sha, paths) in listed {
        match paths {
            Ok(paths) => pending.push((index, head_sha, paths)),
            Err(error @ github::Error::RateLimited { .. }) => return Err(error),
            Err(error) => reads[index] = Err(error),
        }
    }
    let blob_reads: Vec<BlobRead> = pending
        .iter()
        .flat_map(|(index, head_sha, paths)| {
            let repo = &repositories[*index].repo;
            let wanted = detect::manifests_to_fetch(paths);
            wanted.into_iter().map(|path| BlobRead { repo: repo.clone(), oid: head_sha.clone(), path })
        })
        .collect();
    let texts = in_batches(&blob_reads, BLOB_BATCH, &|reads| github.blob_texts(reads)).await?;
    let mut files = files_by_repository(github, &blob_reads, texts).await?;
    for (index, head_sha, paths) in pending {
        let repository = &repositories[index];
        reads[index] = files.remove(&repository.repo).unwrap_or_else(|| Ok(BTreeMap::new())).map(|files| {
            let description = Box::new(detect::describe(&paths, &files, repository.language));
            HeadRead::Read { head_sha, description }
        });
    }
    Ok(reads)
}

/// The paths of a tree detection may read: those the query gave, under directories detection looks into; or, when
/// such a directory is deeper than the query reads, the whole tree by REST.
async fn detected_paths(
    github: &dyn GitHub,
    repo: &RepoRef,
    head_sha: &str,
    tree: HeadTree,
) -> Result<Vec<String>, github::Error> {
    if tree.unread_directories.iter().any(|directory| detect::reads_directory(directory)) {
        tracing::debug!(%repo, "tree deeper than the GraphQL query reads; listing it by REST");
        return tree_paths(github, repo, head_sha).await;
    }
    let parent = |path: &str| path.rsplit_once('/').map_or("", |(directory, _)| directory).to_owned();
    Ok(tree.blobs.into_iter().filter(|path| detect::reads_directory(&parent(path))).collect())
}

/// The texts read, by repository: a file the query did not answer as whole text is read by REST; a file that does not
/// exist is left out, as with REST.
async fn files_by_repository(
    github: &dyn GitHub,
    reads: &[BlobRead],
    texts: Vec<Result<Option<BlobText>, String>>,
) -> Result<BTreeMap<RepoRef, Result<BTreeMap<String, String>, github::Error>>, github::Error> {
    let mut by_repository: BTreeMap<RepoRef, Result<BTreeMap<String, String>, github::Error>> = BTreeMap::new();
    let mut by_rest = Vec::new();
    for (read, text) in reads.iter().zip(texts) {
        let files = by_repository.entry(read.repo.clone()).or_insert_with(|| Ok(BTreeMap::new()));
        match text {
            Ok(Some(BlobText { text: Some(text), truncated: false })) => {
                if let Ok(files) = files {
                    files.insert(read.path.clone(), text);
                }
            }
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => by_rest.push(read),
        }
    }
    let fetches: Vec<_> = by_rest
        .into_iter()
        .map(|read| async move { (read, github.file_contents(&read.repo, &read.path, Some(&read.oid)).await) })
        .collect();
    let fetched: Vec<(&BlobRead, github::Result<Option<github::FileContents>>)> =
        stream::iter(fetches).buffer_unordered(REST_READS_IN_FLIGHT).collect().await;
    for (read, contents) in fetched {
        let files = by_repository.entry(read.repo.clone()).or_insert_with(|| Ok(BTreeMap::new()));
        match contents {
            Ok(Some(file)) => {
                if let Ok(files) = files {
                    files.insert(read.path.clone(), String::from_utf8_lossy(&file.content).into_owned());
                }
            }
            Ok(None) => {}
            Err(error @ github::Error::RateLimited { .. }) => return Err(error),
            Err(error) => *files = Err(error),
        }
    }
    Ok(by_repository)
}

/// One answer per item: found, absent (`None`), or why GraphQL could not answer it.
type Answers<T> = Vec<Result<Option<T>, String>>;

/// Asks `query` about `items`, `batch` at a time, a few queries in flight.
async fn in_batches<'a, I, T, F>(items: &'a [I], batch: usize, query: &'a F) -> Result<Answers<T>, github::Error>
where
    I: Sync,
    T: Send + 'a,
    F: Fn(&'a [I]) -> BoxFuture<'a, github::Result<Vec<Option<T>>>> + Sync,
{
    // Boxed futures rather than a stream of closures, which the compiler cannot prove `Send` for every lifetime.
    let queries: Vec<_> = items.chunks(batch.max(1)).map(|chunk| answered(chunk, query)).collect();
    let batches: Vec<Result<Answers<T>, github::Error>> =
        stream::iter(queries).buffered(QUERIES_IN_FLIGHT).collect().await;
    let mut answers = Vec::with_capacity(items.len());
    for batch in batches {
        answers.extend(batch?);
    }
    Ok(answers)
}

/// Asks `query` about `items` at once; when that times out or fails for some of them, about each half, down to single
/// items. Fails only on a spent budget.
fn answered<'a, I, T, F>(items: &'a [I], query: &'a F) -> BoxFuture<'a, Result<Answers<T>, github::Error>>
where
    I: Sync,
    T: Send + 'a,
    F: Fn(&'a [I]) -> BoxFuture<'a, github::Result<Vec<Option<T>>>> + Sync,
{
    Box::pin(async move {
        match query(items).await {
            Ok(answers) => Ok(answers.into_iter().map(Ok).collect()),
            Err(error @ github::Error::RateLimited { .. }) => Err(error),
            Err(error) if items.len() > 1 && worth_splitting(&error) => {
                tracing::debug!(items = items.len(), %error, "GraphQL query failed; asking again in halves");
                let (left, right) = items.split_at(items.len() / 2);
                let (left, right) = futures::join!(answered(left, query), answered(right, query));
                let mut answers = left?;
                answers.extend(right?);
                Ok(answers)
            }
            Err(error) => {
                tracing::warn!(items = items.len(), %error, "GraphQL query failed; reading by REST instead");
                let reason = error.to_string();
                Ok(items.iter().map(|_| Err(reason.clone())).collect())
            }
        }
    })
}

/// Whether smaller queries may succeed where this one failed: a timeout (or any transient failure), or an error
/// that concerns only some of the items.
fn worth_splitting(error: &github::Error) -> bool {
    matches!(error, github::Error::Transient { .. } | github::Error::GraphQL { partial: true, .. })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use k8s_openapi::jiff::Timestamp;

    use super::*;

    /// A query over numbers that times out above `max` items and fails for `bad` alone; it records each call's size.
    fn fake<'a>(
        items: &'a [u32],
        max: usize,
        bad: u32,
        calls: &'a Mutex<Vec<usize>>,
    ) -> BoxFuture<'a, github::Result<Vec<Option<u32>>>> {
        Box::pin(async move {
            calls.lock().unwrap().push(items.len());
            if items.len() > max {
                return Err(github::Error::Transient { message: "POST /graphql answered 502".into(), source: None });
            }
            if items.contains(&bad) {
                return Err(github::Error::GraphQL { message: format!("{bad} failed"), partial: true });
            }
            Ok(items.iter().map(|&i| (i % 2 == 0).then_some(i * 10)).collect())
        })
    }

    #[tokio::test]
    async fn a_batch_that_times_out_is_asked_again_in_halves_down_to_one_item() {
        let items: Vec<u32> = (0..8).collect();
        let calls = Mutex::new(Vec::new());
        let answers = in_batches(&items, 8, &|items| fake(items, 2, 5, &calls)).await.unwrap();
        assert_eq!(answers.len(), 8);
        assert_eq!(answers[0], Ok(Some(0)));
        assert_eq!(answers[1], Ok(None), "an absent item stays absent");
        assert_eq!(answers[4], Ok(Some(40)), "the item beside the failing one is answered");
        assert_eq!(answers[5], Err("GraphQL query failed: 5 failed".to_owned()), "the failing item alone");
        let mut calls = calls.lock().unwrap().clone();
        calls.sort_unstable();
        // 8 and both 4s time out; of the 2s, [4, 5] fails and is split into two 1s.
        assert_eq!(calls, [1, 1, 2, 2, 2, 2, 4, 4, 8]);
    }

    #[tokio::test]
    async fn batches_are_sized_and_a_whole_query_failure_is_not_split() {
        let items: Vec<u32> = (0..5).collect();
        let calls = Mutex::new(Vec::new());
        let answers = in_batches(&items, 2, &|items| fake(items, 10, 99, &calls)).await.unwrap();
        assert_eq!(answers, [Ok(Some(0)), Ok(None), Ok(Some(20)), Ok(None), Ok(Some(40))]);
        assert_eq!(*calls.lock().unwrap(), [2, 2, 1]);

        let refused = Mutex::new(0);
        let answers: Answers<u32> = in_batches(&items, 5, &|_| {
            *refused.lock().unwrap() += 1;
            Box::pin(async { Err(github::Error::GraphQL { message: "bad query".into(), partial: false }) })
        })
        .await
        .unwrap();
        assert!(answers.iter().all(|a| a.as_ref().is_err_and(|e| e.contains("bad query"))), "{answers:?}");
        assert_eq!(*refused.lock().unwrap(), 1, "an error of the whole query is not split");

        let until = Timestamp::UNIX_EPOCH;
        let spent: Result<Answers<u32>, _> =
            in_batches(&items, 5, &|_| Box::pin(async move { Err(github::Error::RateLimited { until }) })).await;
        assert!(matches!(spent, Err(github::Error::RateLimited { .. })), "a spent budget fails the reads");
    }
}
