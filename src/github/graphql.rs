//! Bulk reads through GitHub's GraphQL API: for discovery, the trees and head commits of a page of repositories in
//! one query and the texts of files across repositories in another, each one point of the separate `graphql` budget
//! (neither has a connection), whatever it reads; for health, the newest default-branch runs of many repositories
//! (see [`MAX_RUNS_READS_PER_QUERY`]).
//!
//! What GraphQL cannot do is answer "nothing changed" for free: every query costs at least one point, while a REST
//! read answered `304 Not Modified` costs none. So the organization's listing stays a conditional REST read, and only
//! what the listing says may have changed is read here.
//!
//! Building the queries and reading the answers is pure; the requests go through the same transport as REST
//! (credentials, budget gate, concurrency cap).

use std::sync::atomic::Ordering;
use std::sync::LazyLock;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use super::error::{Error, Result};
use super::octocrab::OctocrabGitHub;
use super::permissions::{Access, Need, Permission};
use super::rate_limit::after;
use super::types::{BlobRead, BlobText, HeadTree, MergeMethod, RepoRef, RepositoryRuns, RunsRead, WorkflowRun};

/// GitHub refuses `nodes(ids:)` with more ids than this.
pub const MAX_NODES_PER_QUERY: usize = 100;

/// How many levels of a tree the trees query reads. Detection looks at paths at most this deep (manifests at four,
/// C and C++ sources at six) except for two checks on any depth (a `src/main/kotlin/` substring, Python test files):
/// a tree with directories deeper than this is listed by REST instead (see [`HeadTree::unread_directories`]).
pub const TREE_DEPTH: usize = 6;

/// The trees query: default branch, head commit and [`TREE_DEPTH`] levels of its tree, for each node id.
static TREES_QUERY: LazyLock<String> = LazyLock::new(|| {
    let mut query = String::from(
        "query DiscoveryTrees($ids: [ID!]!) {\n  rateLimit { cost remaining resetAt }\n  nodes(ids: $ids) {\n    \
         ... on Repository {\n      id\n      name\n      defaultBranchRef {\n        name\n        \
         target { ... on Commit { oid tree { ...Level1 } } }\n      }\n    }\n  }\n}\n",
    );
    query.push_str(&format!("fragment Level{TREE_DEPTH} on Tree {{ entries {{ path type }} }}\n"));
    for level in (1..TREE_DEPTH).rev() {
        let below = level + 1;
        let entries = format!("entries {{ path type object {{ ...Level{below} }} }}");
        query.push_str(&format!("fragment Level{level} on Tree {{ {entries} }}\n"));
    }
    query
});

/// The request body of the trees query for `node_ids`.
pub fn trees_request(node_ids: &[String]) -> Value {
    json!({ "query": TREES_QUERY.as_str(), "variables": { "ids": node_ids } })
}

/// A GraphQL string literal of `text`: quotes, backslashes and control characters escaped.
pub fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The files query for `reads`, and where each read's answer is: its repository's alias index and its own.
pub fn files_request(reads: &[BlobRead]) -> (Value, Vec<(usize, usize)>) {
    let mut repositories: Vec<(&RepoRef, Vec<&BlobRead>)> = Vec::new();
    let mut places = Vec::with_capacity(reads.len());
    for read in reads {
        let index = match repositories.iter().position(|(repo, _)| *repo == &read.repo) {
            Some(index) => index,
            None => {
                repositories.push((&read.repo, Vec::new()));
                repositories.len() - 1
            }
        };
        places.push((index, repositories[index].1.len()));
        repositories[index].1.push(read);
    }
    let mut query = String::from("query DiscoveryFiles {\n  rateLimit { cost remaining resetAt }\n");
    for (r, (repo, files)) in repositories.iter().enumerate() {
        let (owner, name) = (string_literal(&repo.owner), string_literal(&repo.name));
        query.push_str(&format!("  r{r}: repository(owner: {owner}, name: {name}) {{\n"));
        for (f, file) in files.iter().enumerate() {
            let expression = string_literal(&format!("{}:{}", file.oid, file.path));
            query.push_str(&format!(
                "    f{f}: object(expression: {expression}) {{ ... on Blob {{ text isTruncated byteSize }} }}\n"
            ));
        }
        query.push_str("  }\n");
    }
    query.push_str("}\n");
    (json!({ "query": query }), places)
}

/// Commits of default-branch history one page of the runs query reads; each is a `checkSuites` connection request.
pub const RUNS_COMMITS_PER_PAGE: usize = 10;

/// Repositories in one runs query: each needs 1 + [`RUNS_COMMITS_PER_PAGE`] connection requests, so a full query
/// costs (50 + 500) / 100 ≈ 6 points.
pub const MAX_RUNS_READS_PER_QUERY: usize = 50;

/// A connection's largest page: the most check suites of one commit a page reads.
const MAX_SUITES_PER_COMMIT: usize = 100;

/// Runs queries in flight at once for one batch.
const RUNS_QUERIES_IN_FLIGHT: usize = 4;

/// Whether a repository's Dependabot alerts are on: read along with its runs (a scalar costs no point), unless
/// GitHub refuses it to the credential.
/// Takes a pull request out of draft; GitHub answers with the pull request as it is now.
const MARK_READY_MUTATION: &str =
    "mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { isDraft } } }";

const ENABLE_AUTO_MERGE_MUTATION: &str = "mutation($id: ID!, $method: PullRequestMergeMethod!, $head: GitObjectID!) { \
     enablePullRequestAutoMerge(input: { pullRequestId: $id, mergeMethod: $method, expectedHeadOid: $head }) { \
     pullRequest { autoMergeRequest { mergeMethod } } } }";

const VULNERABILITY_ALERTS: &str = "hasVulnerabilityAlertsEnabled";

/// What the runs query reads of a repository; `after` is the history cursor a follow-up page goes on from.
fn runs_selection(after: Option<&str>, vulnerability_alerts: bool) -> String {
    let after = after.map(|cursor| format!(", after: {}", string_literal(cursor))).unwrap_or_default();
    let flag = if vulnerability_alerts { format!(" {VULNERABILITY_ALERTS}") } else { String::new() };
    format!(
        "defaultBranchRef {{ name target {{ ... on Commit {{ history(first: $commits{after}) {{ \
         pageInfo {{ hasNextPage endCursor }} nodes {{ oid checkSuites(last: $suites) {{ nodes {{ \
         status conclusion createdAt updatedAt workflowRun {{ databaseId url createdAt updatedAt event \
         workflow {{ databaseId name }} file {{ path }} }} }} }} }} }} }} }} }}{flag}"
    )
}

/// The runs query for one page of each repository, from the start of its history or after a cursor; `suites` is
/// the most runs wanted of one repository; with [`VULNERABILITY_ALERTS`] when `vulnerability_alerts`.
pub fn runs_request(pages: &[(&RepoRef, Option<&str>)], suites: usize, vulnerability_alerts: bool) -> Value {
    let mut query = String::from(
        "query DefaultBranchRuns($commits: Int!, $suites: Int!) {\n  rateLimit { cost remaining resetAt }\n",
    );
    for (r, (repo, after)) in pages.iter().enumerate() {
        let (owner, name) = (string_literal(&repo.owner), string_literal(&repo.name));
        // A fragment takes no arguments of its own, so a page after a cursor spells its selection out.
        let selection =
            after.map_or_else(|| "...Runs".to_owned(), |cursor| runs_selection(Some(cursor), vulnerability_alerts));
        query.push_str(&format!("  r{r}: repository(owner: {owner}, name: {name}) {{ {selection} }}\n"));
    }
    query.push_str("}\n");
    // GraphQL refuses a fragment that no selection uses.
    if pages.iter().any(|(_, after)| after.is_none()) {
        query.push_str(&format!("fragment Runs on Repository {{ {} }}\n", runs_selection(None, vulnerability_alerts)));
    }
    let suites = suites.clamp(1, MAX_SUITES_PER_COMMIT);
    json!({ "query": query, "variables": { "commits": RUNS_COMMITS_PER_PAGE, "suites": suites } })
}

/// One page of a repository's default-branch runs.
#[derive(Debug, PartialEq)]
struct RunsPage {
    /// The runs of the page's commits, in the answer's order.
    runs: Vec<WorkflowRun>,
    /// The history cursor to go on from, when there are older commits.
    next: Option<String>,
    /// `hasVulnerabilityAlertsEnabled`.
    vulnerability_alerts: Option<bool>,
}

/// Whether every error of an answer is GitHub refusing [`VULNERABILITY_ALERTS`]: the query is then asked without it.
fn refuses_vulnerability_alerts(body: &str) -> bool {
    let Ok(answer) = serde_json::from_str::<Value>(body) else { return false };
    let errors = answer.get("errors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let names_the_field = |error: &Value| {
        let last = error.get("path").and_then(Value::as_array).and_then(|path| path.last());
        last.and_then(Value::as_str) == Some(VULNERABILITY_ALERTS)
    };
    !errors.is_empty() && errors.iter().all(names_the_field)
}

/// Reads the runs query's answer for `count` repositories, in their order; one that does not exist is `None`.
/// `budget_reset` as for [`parse_trees`].
fn parse_runs(body: &str, count: usize, budget_reset: Timestamp) -> Result<Vec<Option<RunsPage>>> {
    let (data, errors) = data_and_errors(body, "the runs query", budget_reset)?;
    fail_unless_absent(&errors, |path| matches!(path, [Value::String(alias)] if alias.starts_with('r')))?;
    (0..count)
        .map(|r| match data.get(format!("r{r}")).filter(|repository| !repository.is_null()) {
            Some(repository) => runs_page(repository).map(Some),
            None => Ok(None),
        })
        .collect()
}

fn runs_page(repository: &Value) -> Result<RunsPage> {
    let vulnerability_alerts = repository.get("hasVulnerabilityAlertsEnabled").and_then(Value::as_bool);
    let branch = repository.get("defaultBranchRef").filter(|b| !b.is_null());
    // An empty repository has no default branch, hence no history.
    let Some(history) = branch.and_then(|b| b.pointer("/target/history")) else {
        return Ok(RunsPage { runs: Vec::new(), next: None, vulnerability_alerts });
    };
    let branch = branch.and_then(|b| b.get("name")).and_then(Value::as_str);
    let mut runs = Vec::new();
    for commit in history.get("nodes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let oid = commit.get("oid").and_then(Value::as_str).unwrap_or_default();
        let suites = commit.pointer("/checkSuites/nodes").and_then(Value::as_array).map(Vec::as_slice);
        for suite in suites.unwrap_or_default() {
            // Another app's suite names no run.
            let Some(run) = suite.get("workflowRun").filter(|run| !run.is_null()) else { continue };
            // A pull request's run whose commit later reached the branch (a fast-forward merge) ran on the pull
            // request's branch: REST's `branch=` listing leaves it out, and so does this read.
            if run.get("event").and_then(Value::as_str).is_some_and(|event| event.starts_with("pull_request")) {
                continue;
            }
            runs.push(suite_run(suite, run, oid, branch)?);
        }
    }
    let more = history.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool) == Some(true);
    let cursor = history.pointer("/pageInfo/endCursor").and_then(Value::as_str);
    Ok(RunsPage { runs, next: cursor.filter(|_| more).map(str::to_owned), vulnerability_alerts })
}

/// The run a check suite names, in the REST run's terms (lowercase states).
fn suite_run(suite: &Value, run: &Value, head_sha: &str, branch: Option<&str>) -> Result<WorkflowRun> {
    let text = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let time = |key: &str| run.get(key).and_then(Value::as_str).and_then(|t| t.parse::<Timestamp>().ok());
    let malformed = |what: &str| Error::Unexpected {
        status: 200,
        message: format!("the runs query answered a run without {what}"),
    };
    Ok(WorkflowRun {
        id: run.get("databaseId").and_then(Value::as_u64).ok_or_else(|| malformed("databaseId"))?,
        workflow_id: run
            .pointer("/workflow/databaseId")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("workflow"))?,
        name: text(run, "/workflow/name"),
        display_title: String::new(),
        head_branch: branch.map(str::to_owned),
        head_sha: head_sha.to_owned(),
        event: text(run, "/event").unwrap_or_default(),
        status: text(suite, "/status").map(|status| status.to_ascii_lowercase()),
        conclusion: text(suite, "/conclusion").map(|conclusion| conclusion.to_ascii_lowercase()),
        run_attempt: None,
        created_at: time("createdAt").ok_or_else(|| malformed("createdAt"))?,
        updated_at: time("updatedAt"),
        html_url: text(run, "/url"),
        path: text(run, "/file/path"),
    })
}

/// Adds a page to what was read so far (runs one per id, newest first); returns the cursor to read on from while
/// fewer than `wanted` runs were seen and the history goes on.
fn merge_page(read: &mut RepositoryRuns, page: RunsPage, wanted: usize) -> Option<String> {
    read.vulnerability_alerts = page.vulnerability_alerts.or(read.vulnerability_alerts);
    let runs = &mut read.runs;
    runs.extend(page.runs);
    *runs = newest_runs(std::mem::take(runs), usize::MAX);
    page.next.filter(|_| runs.len() < wanted)
}

/// The newest `limit` of `runs` by creation (then id), one per id: its latest update.
fn newest_runs(mut runs: Vec<WorkflowRun>, limit: usize) -> Vec<WorkflowRun> {
    runs.sort_by(|a, b| b.id.cmp(&a.id).then(b.updated_at.cmp(&a.updated_at)));
    runs.dedup_by_key(|run| run.id);
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    runs.truncate(limit);
    runs
}

/// One entry of `errors`.
struct GraphQLError {
    message: String,
    kind: Option<String>,
    path: Vec<Value>,
}

/// The `data` of an answer and its errors; an answer without data fails with its first error, one that says the
/// budget is spent with [`Error::RateLimited`] until `budget_reset`.
fn data_and_errors(body: &str, what: &str, budget_reset: Timestamp) -> Result<(Value, Vec<GraphQLError>)> {
    let mut answer: Value = serde_json::from_str(body).map_err(|e| Error::decode(what, e))?;
    let errors: Vec<GraphQLError> = answer
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| GraphQLError {
                    message: e.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_owned(),
                    kind: e.get("type").and_then(Value::as_str).map(str::to_owned),
                    path: e.get("path").and_then(Value::as_array).cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let data = answer.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    // A spent budget is answered 200 with this error and no data.
    if errors.iter().any(|e| e.kind.as_deref() == Some("RATE_LIMITED")) {
        return Err(Error::RateLimited { until: budget_reset });
    }
    if data.is_null() {
        let message = errors.first().map_or_else(|| format!("{what}: an answer without data"), |e| e.message.clone());
        return Err(Error::GraphQL { message, partial: false });
    }
    if let Some(cost) = data.pointer("/rateLimit/cost").and_then(Value::as_u64) {
        tracing::debug!(what, cost, "GraphQL query answered");
    }
    Ok((data, errors))
}

/// Fails on any error but a node that does not exist, which `absent` says (by the error's path) is answered as none.
fn fail_unless_absent(errors: &[GraphQLError], absent: impl Fn(&[Value]) -> bool) -> Result<()> {
    let failed: Vec<&GraphQLError> =
        errors.iter().filter(|e| !(e.kind.as_deref() == Some("NOT_FOUND") && absent(&e.path))).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => {
            Err(Error::GraphQL { message: first.message.clone(), partial: failed.iter().all(|e| !e.path.is_empty()) })
        }
    }
}

/// Reads the trees query's answer for `count` node ids, in their order; a node that does not exist is `None`.
/// `budget_reset` is when the `graphql` budget resets, for an answer that says it is spent.
pub fn parse_trees(body: &str, count: usize, budget_reset: Timestamp) -> Result<Vec<Option<HeadTree>>> {
    let (data, errors) = data_and_errors(body, "the trees query", budget_reset)?;
    fail_unless_absent(&errors, |path| matches!(path, [Value::String(nodes), Value::Number(_)] if nodes == "nodes"))?;
    let nodes = data.get("nodes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if nodes.len() != count {
        let message = format!("the trees query answered {} nodes for {count} ids", nodes.len());
        return Err(Error::Unexpected { status: 200, message });
    }
    Ok(nodes.iter().map(head_tree).collect())
}

fn head_tree(node: &Value) -> Option<HeadTree> {
    node.get("id")?;
    let branch = node.get("defaultBranchRef").filter(|r| !r.is_null());
    let commit = branch.and_then(|b| b.get("target"));
    let mut tree = HeadTree {
        branch: branch.and_then(|b| b.get("name")).and_then(Value::as_str).map(str::to_owned),
        head_oid: commit.and_then(|c| c.get("oid")).and_then(Value::as_str).map(str::to_owned),
        blobs: Vec::new(),
        unread_directories: Vec::new(),
    };
    if let Some(root) = commit.and_then(|c| c.get("tree")) {
        collect_entries(root, 1, &mut tree);
    }
    Some(tree)
}

fn collect_entries(tree: &Value, level: usize, out: &mut HeadTree) {
    for entry in tree.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let Some(path) = entry.get("path").and_then(Value::as_str) else { continue };
        match entry.get("type").and_then(Value::as_str) {
            Some("blob") => out.blobs.push(path.to_owned()),
            Some("tree") if level >= TREE_DEPTH => out.unread_directories.push(path.to_owned()),
            Some("tree") => {
                if let Some(object) = entry.get("object") {
                    collect_entries(object, level + 1, out);
                }
            }
            // A submodule (`commit`): detection reads nothing in it, as with REST trees.
            _ => {}
        }
    }
}

/// Reads the files query's answer, one result per read; a file or repository that does not exist is `None`.
/// `budget_reset` as for [`parse_trees`].
pub fn parse_files(body: &str, places: &[(usize, usize)], budget_reset: Timestamp) -> Result<Vec<Option<BlobText>>> {
    let (data, errors) = data_and_errors(body, "the files query", budget_reset)?;
    fail_unless_absent(&errors, |path| matches!(path, [Value::String(alias)] if alias.starts_with('r')))?;
    Ok(places
        .iter()
        .map(|(r, f)| {
            let blob = data.get(format!("r{r}"))?.get(format!("f{f}")).filter(|b| !b.is_null())?;
            // A path naming a tree (or a submodule) is not a file: `... on Blob` leaves the object empty.
            blob.get("isTruncated")?;
            Some(BlobText {
                text: blob.get("text").and_then(Value::as_str).map(str::to_owned),
                truncated: blob.get("isTruncated").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect())
}

impl OctocrabGitHub {
    /// When the `graphql` budget resets, as the last answer said; a minute from now if none did.
    fn graphql_reset(&self) -> Timestamp {
        let fallback = after(self.transport.now(), Duration::from_secs(60));
        self.transport.last_graphql_budget().map_or(fallback, |budget| budget.reset)
    }

    /// See [`super::GitHub::repository_trees`].
    pub(super) async fn graphql_trees(&self, node_ids: &[String]) -> Result<Vec<Option<HeadTree>>> {
        if node_ids.len() > MAX_NODES_PER_QUERY {
            let message = format!("{} node ids in one query; GitHub takes {MAX_NODES_PER_QUERY}", node_ids.len());
            return Err(Error::Config { message });
        }
        if node_ids.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.transport.graphql(&trees_request(node_ids)).await?;
        parse_trees(&reply.body, node_ids.len(), self.graphql_reset())
    }

    /// See [`super::GitHub::mark_pull_request_ready`]. Marking a pull request that is ready already changes
    /// nothing, so a repeat after a lost answer is harmless.
    pub(super) async fn graphql_mark_ready(&self, node_id: &str) -> Result<()> {
        let request = json!({ "query": MARK_READY_MUTATION, "variables": { "id": node_id } });
        let reply = self.transport.graphql(&request).await?;
        let what = "the markPullRequestReadyForReview mutation";
        let (data, errors) = data_and_errors(&reply.body, what, self.graphql_reset())?;
        match data.pointer("/markPullRequestReadyForReview/pullRequest/isDraft").and_then(Value::as_bool) {
            Some(false) => Ok(()),
            _ => {
                let message = errors.first().map_or_else(|| format!("{what}: still a draft"), |e| e.message.clone());
                Err(Error::GraphQL { message, partial: false })
            }
        }
    }

    /// See [`super::GitHub::enable_auto_merge`].
    pub(super) async fn graphql_enable_auto_merge(
        &self,
        node_id: &str,
        head_sha: &str,
        method: MergeMethod,
    ) -> Result<()> {
        let variables = json!({ "id": node_id, "method": method.graphql(), "head": head_sha });
        let request = json!({ "query": ENABLE_AUTO_MERGE_MUTATION, "variables": variables });
        let reply = self.transport.graphql(&request).await?;
        let what = "the enablePullRequestAutoMerge mutation";
        let (data, errors) = data_and_errors(&reply.body, what, self.graphql_reset())?;
        match data.pointer("/enablePullRequestAutoMerge/pullRequest/autoMergeRequest/mergeMethod") {
            Some(Value::String(_)) => Ok(()),
            _ => {
                let message =
                    errors.first().map_or_else(|| format!("{what}: auto-merge is not on"), |e| e.message.clone());
                Err(Error::GraphQL { message, partial: false })
            }
        }
    }

    /// See [`super::GitHub::blob_texts`].
    pub(super) async fn graphql_files(&self, reads: &[BlobRead]) -> Result<Vec<Option<BlobText>>> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        let (request, places) = files_request(reads);
        let reply = self.transport.graphql(&request).await?;
        parse_files(&reply.body, &places, self.graphql_reset())
    }

    /// See [`super::GitHub::default_branch_runs_batch`].
    pub(super) async fn graphql_default_branch_runs(&self, reads: &[RunsRead]) -> Result<Vec<Option<RepositoryRuns>>> {
        let mut found: Vec<Option<RepositoryRuns>> = vec![Some(RepositoryRuns::default()); reads.len()];
        // Which reads are still asked about, and the history cursor each goes on from.
        let mut pending: Vec<(usize, Option<String>)> = (0..reads.len()).map(|index| (index, None)).collect();
        while !pending.is_empty() {
            // Boxed futures rather than a stream of closures, which the compiler cannot prove `Send` for all lifetimes.
            let queries: Vec<_> =
                pending.chunks(MAX_RUNS_READS_PER_QUERY).map(|batch| self.runs_pages(reads, batch)).collect();
            let answers: Vec<Vec<Option<RunsPage>>> =
                stream::iter(queries).buffered(RUNS_QUERIES_IN_FLIGHT).try_collect().await?;
            let mut next = Vec::new();
            for ((index, _), page) in pending.iter().zip(answers.into_iter().flatten()) {
                let slot = &mut found[*index];
                match (page, slot.as_mut()) {
                    (Some(page), Some(read)) => {
                        if let Some(cursor) = merge_page(read, page, reads[*index].runs) {
                            next.push((*index, Some(cursor)));
                        }
                    }
                    // Deleted while its history was being read.
                    _ => *slot = None,
                }
            }
            pending = next;
        }
        let newest = |found: RepositoryRuns, wanted| RepositoryRuns { runs: newest_runs(found.runs, wanted), ..found };
        Ok(found.into_iter().zip(reads).map(|(found, read)| found.map(|found| newest(found, read.runs))).collect())
    }

    /// One page of runs for each of `pages` (a read's index and cursor) in one query; a query GitHub timed out is
    /// asked again in halves, down to one repository.
    fn runs_pages<'a>(
        &'a self,
        reads: &'a [RunsRead],
        pages: &'a [(usize, Option<String>)],
    ) -> BoxFuture<'a, Result<Vec<Option<RunsPage>>>> {
        Box::pin(async move {
            let asked: Vec<(&RepoRef, Option<&str>)> =
                pages.iter().map(|(index, after)| (&reads[*index].repo, after.as_deref())).collect();
            let suites = pages.iter().map(|(index, _)| reads[*index].runs).max().unwrap_or(1);
            // An installation not granted Dependabot alerts would be refused the field in every answer.
            let granted = self.transport.granted_permissions();
            let dependabot = Need { permission: Permission::VulnerabilityAlerts, access: Access::Read };
            let vulnerability_alerts = !self.vulnerability_alerts_refused.load(Ordering::Relaxed)
                && granted.is_none_or(|granted| granted.grants(dependabot));
            match self.transport.graphql(&runs_request(&asked, suites, vulnerability_alerts)).await {
                Ok(reply) if vulnerability_alerts && refuses_vulnerability_alerts(&reply.body) => {
                    let field = VULNERABILITY_ALERTS;
                    tracing::warn!(field, "GitHub refuses the field to this credential; runs are read without it");
                    self.vulnerability_alerts_refused.store(true, Ordering::Relaxed);
                    self.runs_pages(reads, pages).await
                }
                Ok(reply) => parse_runs(&reply.body, pages.len(), self.graphql_reset()),
                Err(error @ Error::Transient { .. }) if pages.len() > 1 => {
                    tracing::debug!(repositories = pages.len(), %error, "runs query failed; asking again in halves");
                    let (left, right) = pages.split_at(pages.len() / 2);
                    let (mut left, right) =
                        futures::try_join!(self.runs_pages(reads, left), self.runs_pages(reads, right))?;
                    left.extend(right);
                    Ok(left)
                }
                Err(error) => Err(error),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESET: Timestamp = Timestamp::UNIX_EPOCH;

    fn read(owner: &str, name: &str, path: &str) -> BlobRead {
        BlobRead { repo: RepoRef::new(owner, name), oid: "abc123".into(), path: path.into() }
    }

    /// Validates `request`'s query against GitHub's pinned schema (as github-sim does) and prices it.
    fn validated_points(request: &Value) -> i64 {
        let schema = github_sim::graphql::schema().unwrap();
        let query = request["query"].as_str().unwrap();
        let document = apollo_compiler::ExecutableDocument::parse_and_validate(&schema, query, "query.graphql")
            .unwrap_or_else(|invalid| panic!("{}\n{query}", invalid.errors));
        let operation = document.operations.get(None).unwrap();
        let variables = request["variables"].as_object().cloned().unwrap_or_default();
        github_sim::graphql::cost::analyze(&document, operation, &variables).unwrap().points
    }

    #[test]
    fn string_literals_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(string_literal("plain/path.toml"), r#""plain/path.toml""#);
        assert_eq!(string_literal(r#"a "quoted" \ name"#), r#""a \"quoted\" \\ name""#);
        assert_eq!(string_literal("line\nbreak\ttab\u{1}"), r#""line\nbreak\ttab\u0001""#);
        assert_eq!(string_literal("ünï/😀"), "\"ünï/😀\"", "other characters pass as they are");
    }

    #[test]
    fn the_trees_query_reads_six_levels_by_variables() {
        let request = trees_request(&["R_1".into(), "R_2".into()]);
        assert_eq!(request["variables"]["ids"], json!(["R_1", "R_2"]));
        let query = request["query"].as_str().unwrap();
        assert!(query.starts_with("query DiscoveryTrees($ids: [ID!]!) {"), "{query}");
        assert!(query.contains("fragment Level6 on Tree { entries { path type } }\n"), "{query}");
        assert!(query.contains("fragment Level1 on Tree { entries { path type object { ...Level2 } } }\n"), "{query}");
        assert_eq!(query.matches("fragment Level").count(), TREE_DEPTH);
    }

    #[test]
    fn the_trees_and_files_queries_are_valid_against_githubs_schema() {
        assert_eq!(validated_points(&trees_request(&["R_1".into()])), 1);
        assert_eq!(validated_points(&files_request(&[read("acme", "a", "Cargo.toml")]).0), 1);
    }

    #[test]
    fn the_runs_query_reads_pages_by_alias_and_costs_six_points_for_fifty_repositories() {
        let repos: Vec<RepoRef> =
            (0..MAX_RUNS_READS_PER_QUERY).map(|i| RepoRef::new("acme", format!("r-{i}"))).collect();
        let first: Vec<(&RepoRef, Option<&str>)> = repos.iter().map(|repo| (repo, None)).collect();
        let request = runs_request(&first, 30, true);
        assert_eq!(request["variables"], json!({ "commits": RUNS_COMMITS_PER_PAGE, "suites": 30 }));
        let query = request["query"].as_str().unwrap();
        assert!(query.starts_with("query DefaultBranchRuns($commits: Int!, $suites: Int!) {\n"), "{query}");
        assert!(query.contains("  r49: repository(owner: \"acme\", name: \"r-49\") { ...Runs }\n"), "{query}");
        assert!(query.contains(
            "fragment Runs on Repository { defaultBranchRef { name target { ... on Commit { \
            history(first: $commits) {"
        ));
        assert_eq!(validated_points(&request), 6, "(50 + 500) / 100, rounded");

        let cursor = "Y3Vyc29y \"x\" 9";
        let mixed = runs_request(&[(&repos[0], Some(cursor)), (&repos[1], None)], 500, true);
        assert_eq!(mixed["variables"]["suites"], 100, "a connection's largest page");
        let query = mixed["query"].as_str().unwrap();
        assert!(query.contains(r#"history(first: $commits, after: "Y3Vyc29y \"x\" 9")"#), "{query}");
        assert_eq!(validated_points(&mixed), 1);
        let follow_up = runs_request(&[(&repos[0], Some(cursor))], 0, true);
        assert!(!follow_up["query"].as_str().unwrap().contains("fragment"), "no fragment left unused");
        assert_eq!(follow_up["variables"]["suites"], 1);
        assert_eq!(validated_points(&follow_up), 1);
        assert!(follow_up["query"].as_str().unwrap().contains("} hasVulnerabilityAlertsEnabled }"));
        let without = runs_request(&[(&repos[0], Some(cursor)), (&repos[1], None)], 30, false);
        assert!(!without["query"].as_str().unwrap().contains(VULNERABILITY_ALERTS), "for a credential refused it");
        assert_eq!(validated_points(&without), 1);
    }

    #[test]
    fn an_answer_refusing_only_the_vulnerability_alerts_flag_is_told_apart() {
        let error = |path: Value| json!({ "type": "FORBIDDEN", "path": path, "message": "Resource not accessible" });
        let refused = json!({ "data": { "r0": null, "r1": null },
            "errors": [error(json!(["r0", VULNERABILITY_ALERTS])), error(json!(["r1", VULNERABILITY_ALERTS]))] });
        assert!(refuses_vulnerability_alerts(&refused.to_string()));
        let other = json!({ "data": { "r0": null, "r1": null },
            "errors": [error(json!(["r0", VULNERABILITY_ALERTS])), error(json!(["r1"]))] });
        assert!(!refuses_vulnerability_alerts(&other.to_string()), "another error too: not only the flag");
        assert!(!refuses_vulnerability_alerts(&json!({ "data": { "r0": null } }).to_string()), "no error");
        assert!(!refuses_vulnerability_alerts("<html>"));
    }

    #[test]
    fn the_files_query_groups_reads_by_repository_and_escapes_paths() {
        let reads = [
            read("acme", "core-rs", "Cargo.toml"),
            read("acme", "web", "package.json"),
            read("acme", "core-rs", "crates/a \"b\"/Cargo.toml"),
        ];
        let (request, places) = files_request(&reads);
        assert_eq!(places, [(0, 0), (1, 0), (0, 1)]);
        let query = request["query"].as_str().unwrap();
        let expected = "query DiscoveryFiles {\n  rateLimit { cost remaining resetAt }\n  \
            r0: repository(owner: \"acme\", name: \"core-rs\") {\n    \
            f0: object(expression: \"abc123:Cargo.toml\") { ... on Blob { text isTruncated byteSize } }\n    \
            f1: object(expression: \"abc123:crates/a \\\"b\\\"/Cargo.toml\") { ... on Blob { \
            text isTruncated byteSize } }\n  \
            }\n  r1: repository(owner: \"acme\", name: \"web\") {\n    \
            f0: object(expression: \"abc123:package.json\") { ... on Blob { text isTruncated byteSize } }\n  }\n}\n";
        assert_eq!(query, expected);
    }

    #[test]
    fn trees_answers_give_paths_heads_unread_directories_and_missing_nodes() {
        let leaf = |path: &str, kind: &str| json!({ "path": path, "type": kind });
        // A file at the sixth level and a directory below it.
        let mut tree = json!({ "entries": [leaf("a/b/c/d/e/f.rs", "blob"), leaf("a/b/c/d/e/g", "tree")] });
        for directory in ["a/b/c/d/e", "a/b/c/d", "a/b/c", "a/b", "a"] {
            tree = json!({ "entries": [{ "path": directory, "type": "tree", "object": tree }] });
        }
        let mut entries = vec![leaf("Cargo.toml", "blob"), leaf("vendored", "commit")];
        entries.extend(tree["entries"].as_array().unwrap().iter().cloned());
        let root = json!({ "entries": entries });
        let body = json!({
            "data": {
                "rateLimit": { "cost": 1, "remaining": 4999, "resetAt": "2026-01-01T00:00:00Z" },
                "nodes": [
                    { "id": "R_1", "name": "core-rs", "defaultBranchRef": { "name": "main",
                        "target": { "oid": "abc", "tree": root } } },
                    null,
                    { "id": "R_3", "name": "empty", "defaultBranchRef": null },
                ],
            },
            "errors": [{ "type": "NOT_FOUND", "path": ["nodes", 1],
                "message": "Could not resolve to a node with the global id of 'R_2'" }],
        });
        let trees = parse_trees(&body.to_string(), 3, RESET).unwrap();
        let first = trees[0].as_ref().unwrap();
        assert_eq!((first.branch.as_deref(), first.head_oid.as_deref()), (Some("main"), Some("abc")));
        assert_eq!(first.blobs, ["Cargo.toml", "a/b/c/d/e/f.rs"]);
        assert_eq!(first.unread_directories, ["a/b/c/d/e/g"], "a directory below the sixth level is not read");
        assert_eq!(trees[1], None, "an id that resolves to nothing");
        let empty = trees[2].as_ref().unwrap();
        assert_eq!((empty.branch.as_deref(), empty.head_oid.as_deref()), (None, None));
        assert!(parse_trees(&body.to_string(), 2, RESET).is_err(), "a count that does not match the ids");
    }

    #[test]
    fn other_errors_fail_and_say_whether_they_concern_one_node() {
        let partial = json!({ "data": { "nodes": [null] },
            "errors": [{ "type": "SERVICE_UNAVAILABLE", "path": ["nodes", 0], "message": "try again" }] });
        match parse_trees(&partial.to_string(), 1, RESET) {
            Err(Error::GraphQL { message, partial: true }) => assert_eq!(message, "try again"),
            other => panic!("{other:?}"),
        }
        let whole = json!({ "errors": [{ "message": "Field 'x' doesn't exist on type 'Query'" }] });
        match parse_trees(&whole.to_string(), 1, RESET) {
            Err(error @ Error::GraphQL { partial: false, .. }) => {
                assert_eq!(error.category(), "graphql");
                assert_eq!(error.to_string(), "GraphQL query failed: Field 'x' doesn't exist on type 'Query'");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_trees("<html>", 1, RESET), Err(Error::Decode { .. })));
        let spent = json!({ "errors": [{ "type": "RATE_LIMITED", "message": "API rate limit exceeded" }] });
        let until = Timestamp::from_second(1_800_000_000).unwrap();
        let answer = parse_trees(&spent.to_string(), 1, until);
        assert!(matches!(answer, Err(Error::RateLimited { until: u }) if u == until), "{answer:?}");
    }

    #[test]
    fn files_answers_give_texts_truncation_binaries_and_absences() {
        let reads = [
            read("acme", "a", "Cargo.toml"),
            read("acme", "a", "big.json"),
            read("acme", "gone", "x"),
            read("acme", "a", "src"),
        ];
        let (_, places) = files_request(&reads);
        let body = json!({
            "data": {
                "rateLimit": { "cost": 1 },
                "r0": {
                    "f0": { "text": "[package]\n", "isTruncated": false, "byteSize": 10 },
                    "f1": { "text": "{", "isTruncated": true, "byteSize": 900_000 },
                    "f2": {},
                },
                "r1": null,
            },
            "errors": [{ "type": "NOT_FOUND", "path": ["r1"],
                "message": "Could not resolve to a Repository with the name 'acme/gone'." }],
        });
        let texts = parse_files(&body.to_string(), &places, RESET).unwrap();
        assert_eq!(texts[0], Some(BlobText { text: Some("[package]\n".into()), truncated: false }));
        assert_eq!(texts[1], Some(BlobText { text: Some("{".into()), truncated: true }));
        assert_eq!(texts[2], None, "a repository that does not exist");
        assert_eq!(texts[3], None, "a path that is a directory");
        let binary = json!({ "data": { "r0": { "f0": { "text": null, "isTruncated": false, "byteSize": 3 } } } });
        let texts = parse_files(&binary.to_string(), &[(0, 0)], RESET).unwrap();
        assert_eq!(texts[0], Some(BlobText { text: None, truncated: false }));
    }

    fn suite(id: u64, status: &str, conclusion: Value, created: &str, updated: &str) -> Value {
        json!({
            "status": status, "conclusion": conclusion, "createdAt": created, "updatedAt": updated,
            "workflowRun": {
                "databaseId": id, "url": format!("https://github.com/acme/one/actions/runs/{id}"),
                "createdAt": created, "updatedAt": updated, "event": "push",
                "workflow": { "databaseId": 7, "name": "CI" }, "file": { "path": ".github/workflows/ci.yml" },
            },
        })
    }

    fn history(commits: Value, next: Option<&str>) -> Value {
        json!({ "defaultBranchRef": { "name": "main", "target": { "history": {
            "pageInfo": { "hasNextPage": next.is_some(), "endCursor": next.unwrap_or("end") },
            "nodes": commits,
        } } } })
    }

    #[test]
    fn runs_answers_give_lowercase_states_skip_other_apps_and_absent_repositories() {
        let other_app = json!({ "status": "COMPLETED", "conclusion": "NEUTRAL", "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z", "workflowRun": null });
        let mut pull_request = suite(13, "COMPLETED", json!("FAILURE"), "2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z");
        pull_request["workflowRun"]["event"] = json!("pull_request");
        let commits = json!([
            { "oid": "c2", "checkSuites": { "nodes": [
                other_app, suite(12, "IN_PROGRESS", Value::Null, "2026-01-02T00:00:00Z", "2026-01-02T00:01:00Z")] } },
            { "oid": "c1", "checkSuites": { "nodes": [pull_request,
                suite(11, "COMPLETED", json!("STARTUP_FAILURE"), "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z")] } },
        ]);
        let body = json!({
            "data": {
                "rateLimit": { "cost": 1, "remaining": 4999, "resetAt": "2026-01-01T01:00:00Z" },
                "r0": history(commits, Some("Y3Vyc29y")),
                "r1": null,
                "r2": { "defaultBranchRef": null, "hasVulnerabilityAlertsEnabled": true },
            },
            "errors": [{ "type": "NOT_FOUND", "path": ["r1"],
                "message": "Could not resolve to a Repository with the name 'acme/gone'." }],
        });
        let pages = parse_runs(&body.to_string(), 3, RESET).unwrap();
        let first = pages[0].as_ref().unwrap();
        assert_eq!(first.next.as_deref(), Some("Y3Vyc29y"));
        let ids: Vec<u64> = first.runs.iter().map(|run| run.id).collect();
        assert_eq!(ids, [12, 11], "the other app's suite names no run; a pull request's run is not the branch's");
        let running = &first.runs[0];
        assert_eq!((running.status.as_deref(), running.conclusion.as_deref()), (Some("in_progress"), None));
        assert_eq!((running.head_sha.as_str(), running.head_branch.as_deref()), ("c2", Some("main")));
        assert_eq!((running.workflow_id, running.name.as_deref(), running.event.as_str()), (7, Some("CI"), "push"));
        assert_eq!(running.path.as_deref(), Some(".github/workflows/ci.yml"));
        assert_eq!(running.html_url.as_deref(), Some("https://github.com/acme/one/actions/runs/12"));
        assert_eq!(running.created_at, "2026-01-02T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(running.updated_at, "2026-01-02T00:01:00Z".parse().ok());
        assert_eq!((running.run_attempt, running.display_title.as_str()), (None, ""));
        assert_eq!(first.runs[1].conclusion.as_deref(), Some("startup_failure"));
        assert_eq!(pages[1], None, "a repository that does not exist");
        assert_eq!(first.vulnerability_alerts, None, "not in the answer");
        let empty = RunsPage { runs: Vec::new(), next: None, vulnerability_alerts: Some(true) };
        assert_eq!(pages[2], Some(empty), "an empty repository, with Dependabot alerts on");

        let last = json!({ "data": { "r0": history(json!([]), None) } });
        assert_eq!(parse_runs(&last.to_string(), 1, RESET).unwrap()[0].as_ref().unwrap().next, None);
        let partial = json!({ "data": { "r0": null },
            "errors": [{ "type": "SERVICE_UNAVAILABLE", "path": ["r0"], "message": "try again" }] });
        assert!(matches!(parse_runs(&partial.to_string(), 1, RESET), Err(Error::GraphQL { partial: true, .. })));
        let nameless = json!({ "data": { "r0": history(json!([{ "oid": "c", "checkSuites": { "nodes": [
            { "status": "QUEUED", "workflowRun": { "createdAt": "2026-01-01T00:00:00Z" } }] } }]), None) } });
        assert!(matches!(parse_runs(&nameless.to_string(), 1, RESET), Err(Error::Unexpected { .. })));
    }

    #[test]
    fn pages_merge_into_the_newest_runs_one_per_id_until_enough_are_seen() {
        let run = |id: u64, created: &str, updated: &str| {
            let suite = suite(id, "COMPLETED", json!("SUCCESS"), created, updated);
            suite_run(&suite, &suite["workflowRun"], "c", Some("main")).unwrap()
        };
        let page = |runs: Vec<WorkflowRun>, next: Option<&str>| RunsPage {
            runs,
            next: next.map(str::to_owned),
            vulnerability_alerts: next.map(|_| true),
        };
        let mut read = RepositoryRuns::default();
        let first = vec![
            run(3, "2026-01-03T00:00:00Z", "2026-01-03T00:01:00Z"),
            run(1, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"),
        ];
        assert_eq!(merge_page(&mut read, page(first, Some("p2")), 4).as_deref(), Some("p2"), "two of four seen");
        // The same run again (a re-run updated it), and an older one.
        let second = vec![
            run(3, "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"),
            run(2, "2026-01-02T00:00:00Z", "2026-01-02T00:01:00Z"),
        ];
        assert_eq!(merge_page(&mut read, page(second, Some("p3")), 4).as_deref(), Some("p3"), "three of four seen");
        let ids: Vec<u64> = read.runs.iter().map(|run| run.id).collect();
        assert_eq!(ids, [3, 2, 1], "newest first by creation, one per id");
        assert_eq!(read.runs[0].updated_at, "2026-01-04T00:00:00Z".parse().ok(), "the latest update is kept");
        let third = vec![run(5, "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z")];
        assert_eq!(merge_page(&mut read, page(third, Some("p4")), 4), None, "enough runs seen");
        assert_eq!(merge_page(&mut read, page(Vec::new(), None), 4), None, "the history ended");
        assert_eq!(read.vulnerability_alerts, Some(true), "a page without the flag keeps the one read");
        let ids: Vec<u64> = newest_runs(read.runs, 2).iter().map(|run| run.id).collect();
        assert_eq!(ids, [3, 5], "equal creation times order by id, newest first");
    }
}
