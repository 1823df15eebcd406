//! The objects the simulator serves through GraphQL and their fields, read from the simulator's state. A field or
//! argument that GitHub's schema has and this file does not serve is an error naming it (and a conformance
//! violation), never a silent null.

use std::cell::OnceCell;

use apollo_compiler::executable::Field;
use serde_json::{json, Map, Value};

use super::argument;
use super::checks::{self, SuitesByCommit};
use super::cost::Cost;
use crate::clock::iso8601;
use crate::encoding::{base64_decode, base64_encode};
use crate::enterprise::html_root;
use crate::git_object::{EntryKind, TreeEntry};
use crate::rate_limit::Budget;
use crate::routes::permissions::{grants, Permissions, NOT_ACCESSIBLE};
use crate::state::{GitCommit, Repo, Run, SimState, Workflow};

/// GitHub truncates `Blob.text` of large files; the simulator at 512 KiB (`isTruncated: true`).
pub const BLOB_TEXT_LIMIT: usize = 512 * 1024;

/// What the resolvers read.
pub(super) struct Context<'s> {
    pub state: &'s SimState,
    /// The installation's permissions; `None` for a plain token.
    pub permissions: Option<Permissions>,
    pub base_url: &'s str,
    pub variables: &'s Map<String, Value>,
    pub budget: Budget,
    pub cost: Cost,
    /// The check suites of every commit, indexed on first use.
    pub suites: OnceCell<SuitesByCommit<'s>>,
}

/// An object of GitHub's schema backed by the simulator's state.
pub(super) enum Obj<'s> {
    Query,
    RateLimit,
    Organization(&'s str),
    Repository(&'s Repo),
    RepositoryConnection(Page<&'s Repo>),
    RepositoryEdge(&'s Repo, String),
    PageInfo(PageInfo),
    Language(&'s str),
    RepositoryTopicConnection(Page<&'s str>),
    RepositoryTopic(&'s str),
    Topic(&'s str),
    Ref(&'s Repo, &'s str),
    Commit(&'s Repo, &'s GitCommit),
    CommitHistoryConnection(&'s Repo, Page<&'s GitCommit>),
    CheckSuiteConnection(&'s Repo, Page<&'s Run>),
    CheckSuite(&'s Repo, &'s Run),
    WorkflowRun(&'s Repo, &'s Run),
    Workflow(&'s Repo, &'s Workflow),
    WorkflowRunFile(&'s Workflow),
    Tree(&'s Repo, &'s str, String),
    TreeEntry(&'s Repo, &'s TreeEntry, String),
    Blob(&'s str, &'s str),
}

/// A field's value before it is shaped by the query.
pub(super) enum Resolved<'s> {
    Leaf(Value),
    Object(Obj<'s>),
    List(Vec<Result<Resolved<'s>, FieldError>>),
    Null,
}

/// A field that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldError {
    pub message: String,
    pub kind: Option<&'static str>,
    /// Whether the field (or argument) is GitHub's but not served by the simulator: a conformance violation.
    pub unserved: bool,
}

impl FieldError {
    fn not_found(message: String) -> Self {
        FieldError { message, kind: Some("NOT_FOUND"), unserved: false }
    }
    /// GitHub's refusal of a field the installation lacks the permission for.
    fn forbidden() -> Self {
        FieldError { message: NOT_ACCESSIBLE.to_owned(), kind: Some("FORBIDDEN"), unserved: false }
    }
    fn unserved(what: String) -> Self {
        FieldError { message: format!("github-sim does not serve {what}"), kind: None, unserved: true }
    }
}

/// One page of a connection.
pub(super) struct Page<T> {
    items: Vec<T>,
    info: PageInfo,
    total: usize,
}

#[derive(Clone)]
pub(super) struct PageInfo {
    start: usize,
    end: usize,
    total: usize,
}

fn cursor(position: usize) -> String {
    base64_encode(format!("cursor:v2:{position}").as_bytes())
}

fn decode_cursor(text: &str) -> Option<usize> {
    String::from_utf8(base64_decode(text)?).ok()?.strip_prefix("cursor:v2:")?.parse().ok()
}

/// The page of `items` after the cursor `after` (`first` was checked by the pricing).
fn page<T>(items: Vec<T>, first: usize, after: Option<&str>) -> Result<Page<T>, FieldError> {
    let start = match after {
        None => 0,
        Some(text) => decode_cursor(text).filter(|position| *position <= items.len()).ok_or_else(|| FieldError {
            message: format!("`{text}` does not appear to be a valid cursor."),
            kind: Some("INVALID_CURSOR_ARGUMENTS"),
            unserved: false,
        })?,
    };
    let total = items.len();
    let end = (start + first).min(total);
    let items: Vec<T> = items.into_iter().skip(start).take(end - start).collect();
    Ok(Page { items, info: PageInfo { start, end, total }, total })
}

/// What `first` and then `last` leave of `items` (graphql-ruby applies them in that order).
fn bounded<T>(items: Vec<T>, first: Option<usize>, last: Option<usize>) -> Page<T> {
    let total = items.len();
    let end = first.map_or(total, |n| n.min(total));
    let start = last.map_or(0, |n| end.saturating_sub(n));
    let items = items.into_iter().skip(start).take(end - start).collect();
    Page { items, info: PageInfo { start, end, total }, total }
}

impl Obj<'_> {
    /// The object's type in GitHub's schema.
    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Query => "Query",
            Obj::RateLimit => "RateLimit",
            Obj::Organization(_) => "Organization",
            Obj::Repository(_) => "Repository",
            Obj::RepositoryConnection(_) => "RepositoryConnection",
            Obj::RepositoryEdge(..) => "RepositoryEdge",
            Obj::PageInfo(_) => "PageInfo",
            Obj::Language(_) => "Language",
            Obj::RepositoryTopicConnection(_) => "RepositoryTopicConnection",
            Obj::RepositoryTopic(_) => "RepositoryTopic",
            Obj::Topic(_) => "Topic",
            Obj::Ref(..) => "Ref",
            Obj::Commit(..) => "Commit",
            Obj::CommitHistoryConnection(..) => "CommitHistoryConnection",
            Obj::CheckSuiteConnection(..) => "CheckSuiteConnection",
            Obj::CheckSuite(..) => "CheckSuite",
            Obj::WorkflowRun(..) => "WorkflowRun",
            Obj::Workflow(..) => "Workflow",
            Obj::WorkflowRunFile(_) => "WorkflowRunFile",
            Obj::Tree(..) => "Tree",
            Obj::TreeEntry(..) => "TreeEntry",
            Obj::Blob(..) => "Blob",
        }
    }
}

/// Refuses arguments outside `served`: an ignored filter would answer the wrong data.
fn only(obj: &Obj<'_>, field: &Field, served: &[&str]) -> Result<(), FieldError> {
    match field.arguments.iter().find(|a| !served.contains(&a.name.as_str())) {
        Some(extra) => {
            Err(FieldError::unserved(format!("the argument `{}` of `{}.{}`", extra.name, obj.type_name(), field.name)))
        }
        None => Ok(()),
    }
}

/// Refuses a field whose data needs `permission` (read) when the installation lacks it.
fn permitted(context: &Context<'_>, permission: &str) -> Result<(), FieldError> {
    match &context.permissions {
        Some(granted) if !grants(granted, permission, "read") => Err(FieldError::forbidden()),
        _ => Ok(()),
    }
}

fn leaf(value: Value) -> Result<Resolved<'static>, FieldError> {
    Ok(Resolved::Leaf(value))
}

fn text_argument(context: &Context<'_>, field: &Field, name: &str) -> Option<String> {
    argument(field, name, context.variables).and_then(|v| v.as_str().map(str::to_string))
}

fn count_argument(context: &Context<'_>, field: &Field, name: &str) -> usize {
    argument(field, name, context.variables).and_then(|v| v.as_u64()).unwrap_or(0) as usize
}

/// The node a global id names: a repository's `R_{id}` or an organization's `O_{login}` (their REST `node_id`s).
fn node<'s>(state: &'s SimState, id: &str) -> Result<Resolved<'s>, FieldError> {
    let repository = id
        .strip_prefix("R_")
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| state.repos.values().find(|r| r.id == n));
    if let Some(repo) = repository {
        return Ok(Resolved::Object(Obj::Repository(repo)));
    }
    match id.strip_prefix("O_").and_then(|login| state.orgs.iter().find(|o| *o == login)) {
        Some(login) => Ok(Resolved::Object(Obj::Organization(login))),
        None => Err(FieldError::not_found(format!("Could not resolve to a node with the global id of '{id}'"))),
    }
}

/// Resolves `field` on `obj`.
pub(super) fn resolve<'s>(context: &Context<'s>, obj: &Obj<'s>, field: &Field) -> Result<Resolved<'s>, FieldError> {
    let name = field.name.as_str();
    let unserved = || FieldError::unserved(format!("the field `{}.{name}`", obj.type_name()));
    match obj {
        Obj::Query => query_field(context, obj, field),
        Obj::RateLimit => {
            only(obj, field, &[])?;
            let budget = &context.budget;
            match name {
                "cost" => leaf(json!(context.cost.points)),
                "limit" => leaf(json!(budget.limit)),
                "remaining" => leaf(json!(budget.remaining)),
                "used" => leaf(json!(budget.used())),
                "resetAt" => leaf(json!(iso8601(budget.reset_at))),
                "nodeCount" => leaf(json!(context.cost.nodes)),
                _ => Err(unserved()),
            }
        }
        Obj::Organization(login) => match name {
            "login" => leaf(json!(login)),
            "id" => leaf(json!(format!("O_{login}"))),
            "repositories" => {
                only(obj, field, &["first", "after"])?;
                let mut repos: Vec<&Repo> = context.state.repos.values().filter(|r| r.owner == *login).collect();
                // Oldest first, so that repositories created while a client pages through come last.
                repos.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.spec.name.cmp(&b.spec.name)));
                let after = text_argument(context, field, "after");
                let page = page(repos, count_argument(context, field, "first"), after.as_deref())?;
                Ok(Resolved::Object(Obj::RepositoryConnection(page)))
            }
            _ => Err(unserved()),
        },
        Obj::RepositoryConnection(page) => match name {
            "totalCount" => leaf(json!(page.total)),
            "pageInfo" => Ok(Resolved::Object(Obj::PageInfo(page.info.clone()))),
            "nodes" => {
                Ok(Resolved::List(page.items.iter().map(|r| Ok(Resolved::Object(Obj::Repository(r)))).collect()))
            }
            "edges" => Ok(Resolved::List(
                page.items
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Ok(Resolved::Object(Obj::RepositoryEdge(r, cursor(page.info.start + i + 1)))))
                    .collect(),
            )),
            _ => Err(unserved()),
        },
        Obj::RepositoryEdge(repo, position) => match name {
            "cursor" => leaf(json!(position)),
            "node" => Ok(Resolved::Object(Obj::Repository(repo))),
            _ => Err(unserved()),
        },
        Obj::PageInfo(info) => match name {
            "hasNextPage" => leaf(json!(info.end < info.total)),
            "hasPreviousPage" => leaf(json!(info.start > 0)),
            "endCursor" => leaf(if info.end > info.start { json!(cursor(info.end)) } else { Value::Null }),
            "startCursor" => leaf(if info.end > info.start { json!(cursor(info.start + 1)) } else { Value::Null }),
            _ => Err(unserved()),
        },
        Obj::Repository(repo) => repository_field(context, obj, repo, field),
        Obj::Language(language) => match name {
            "name" => leaf(json!(language)),
            _ => Err(unserved()),
        },
        Obj::RepositoryTopicConnection(page) => match name {
            "totalCount" => leaf(json!(page.total)),
            "pageInfo" => Ok(Resolved::Object(Obj::PageInfo(page.info.clone()))),
            "nodes" => {
                Ok(Resolved::List(page.items.iter().map(|t| Ok(Resolved::Object(Obj::RepositoryTopic(t)))).collect()))
            }
            _ => Err(unserved()),
        },
        Obj::RepositoryTopic(topic) => match name {
            "topic" => Ok(Resolved::Object(Obj::Topic(topic))),
            _ => Err(unserved()),
        },
        Obj::Topic(topic) => match name {
            "name" => leaf(json!(topic)),
            _ => Err(unserved()),
        },
        Obj::Ref(repo, branch) => match name {
            "name" => leaf(json!(branch)),
            "prefix" => leaf(json!("refs/heads/")),
            "target" => Ok(repo.resolve(branch).map_or(Resolved::Null, |c| Resolved::Object(Obj::Commit(repo, c)))),
            _ => Err(unserved()),
        },
        Obj::Commit(repo, commit) => match name {
            "oid" => leaf(json!(commit.sha)),
            "abbreviatedOid" => leaf(json!(&commit.sha[..7.min(commit.sha.len())])),
            "message" => leaf(json!(commit.message)),
            "committedDate" | "authoredDate" => leaf(json!(iso8601(commit.date))),
            "tree" => Ok(Resolved::Object(Obj::Tree(repo, &commit.tree, String::new()))),
            "history" => {
                only(obj, field, &["first", "after"])?;
                let after = text_argument(context, field, "after");
                let first = count_argument(context, field, "first");
                let history = page(first_parents(repo, commit), first, after.as_deref())?;
                Ok(Resolved::Object(Obj::CommitHistoryConnection(repo, history)))
            }
            "checkSuites" => {
                only(obj, field, &["first", "last"])?;
                permitted(context, "checks")?;
                let bound =
                    |name| argument(field, name, context.variables).and_then(|v| v.as_u64()).map(|n| n as usize);
                let suites = checks::suites_of(context, repo, &commit.sha);
                Ok(Resolved::Object(Obj::CheckSuiteConnection(repo, bounded(suites, bound("first"), bound("last")))))
            }
            _ => Err(unserved()),
        },
        Obj::CommitHistoryConnection(repo, page) => match name {
            "pageInfo" => Ok(Resolved::Object(Obj::PageInfo(page.info.clone()))),
            "nodes" => {
                Ok(Resolved::List(page.items.iter().map(|c| Ok(Resolved::Object(Obj::Commit(repo, c)))).collect()))
            }
            _ => Err(unserved()),
        },
        Obj::CheckSuiteConnection(repo, page) => match name {
            "pageInfo" => Ok(Resolved::Object(Obj::PageInfo(page.info.clone()))),
            "nodes" => {
                Ok(Resolved::List(page.items.iter().map(|r| Ok(Resolved::Object(Obj::CheckSuite(repo, r)))).collect()))
            }
            _ => Err(unserved()),
        },
        Obj::CheckSuite(repo, run) => checks::check_suite_field(context, repo, run, name).ok_or_else(unserved),
        Obj::WorkflowRun(repo, run) => checks::workflow_run_field(context, repo, run, name).ok_or_else(unserved),
        Obj::Workflow(repo, workflow) => checks::workflow_field(repo, workflow, name).ok_or_else(unserved),
        Obj::WorkflowRunFile(workflow) => match name {
            "path" => leaf(json!(workflow.spec.path)),
            _ => Err(unserved()),
        },
        Obj::Tree(repo, sha, prefix) => match name {
            "oid" => leaf(json!(sha)),
            "abbreviatedOid" => leaf(json!(&sha[..7.min(sha.len())])),
            "entries" => {
                let entries = repo.tree_entries.get(*sha).map(Vec::as_slice).unwrap_or_default();
                Ok(Resolved::List(
                    entries.iter().map(|e| Ok(Resolved::Object(Obj::TreeEntry(repo, e, prefix.clone())))).collect(),
                ))
            }
            _ => Err(unserved()),
        },
        Obj::TreeEntry(repo, entry, prefix) => match name {
            "name" => leaf(json!(entry.name)),
            "path" => leaf(json!(format!("{prefix}{}", entry.name))),
            "type" => leaf(json!(entry.kind.as_str())),
            "oid" => leaf(json!(entry.sha)),
            // The mode's octal digits read as a number, as GitHub gives it (100644 → 33188).
            "mode" => leaf(json!(i64::from_str_radix(entry.kind.mode(), 8).unwrap_or(0))),
            "size" => leaf(json!(entry.size.unwrap_or(0))),
            "object" => Ok(entry_object(repo, entry, prefix)),
            _ => Err(unserved()),
        },
        Obj::Blob(sha, content) => match name {
            "oid" => leaf(json!(sha)),
            "abbreviatedOid" => leaf(json!(&sha[..7.min(sha.len())])),
            "byteSize" => leaf(json!(content.len())),
            "isBinary" => leaf(json!(is_binary(content))),
            "isTruncated" => leaf(json!(!is_binary(content) && content.len() > BLOB_TEXT_LIMIT)),
            "text" if is_binary(content) => Ok(Resolved::Null),
            "text" => leaf(json!(truncated(content))),
            _ => Err(unserved()),
        },
    }
}

/// The first [`BLOB_TEXT_LIMIT`] bytes of a text, cut at a character boundary.
fn truncated(content: &str) -> &str {
    let mut end = content.len().min(BLOB_TEXT_LIMIT);
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    &content[..end]
}

/// Text with a NUL byte is binary, as git decides.
fn is_binary(content: &str) -> bool {
    content.contains('\0')
}

/// `commit` and its first parents, newest first (`git log --first-parent`).
fn first_parents<'s>(repo: &'s Repo, commit: &'s GitCommit) -> Vec<&'s GitCommit> {
    let mut history = vec![commit];
    while let Some(parent) = history.last().and_then(|c| c.parents.first()).and_then(|sha| repo.commits.get(sha)) {
        history.push(parent);
    }
    history
}

fn query_field<'s>(context: &Context<'s>, obj: &Obj<'s>, field: &Field) -> Result<Resolved<'s>, FieldError> {
    let state = context.state;
    match field.name.as_str() {
        "rateLimit" => {
            only(obj, field, &[])?;
            Ok(Resolved::Object(Obj::RateLimit))
        }
        "node" => {
            only(obj, field, &["id"])?;
            node(state, &text_argument(context, field, "id").unwrap_or_default())
        }
        "nodes" => {
            only(obj, field, &["ids"])?;
            let ids = argument(field, "ids", context.variables).and_then(|v| v.as_array().cloned()).unwrap_or_default();
            Ok(Resolved::List(ids.iter().map(|id| node(state, id.as_str().unwrap_or_default())).collect()))
        }
        "repository" => {
            only(obj, field, &["owner", "name", "followRenames"])?;
            let owner = text_argument(context, field, "owner").unwrap_or_default();
            let name = text_argument(context, field, "name").unwrap_or_default();
            match state.repos.get(&(owner.clone(), name.clone())) {
                Some(repo) => Ok(Resolved::Object(Obj::Repository(repo))),
                None => Err(FieldError::not_found(format!(
                    "Could not resolve to a Repository with the name '{owner}/{name}'."
                ))),
            }
        }
        "organization" => {
            only(obj, field, &["login"])?;
            let login = text_argument(context, field, "login").unwrap_or_default();
            match state.orgs.iter().find(|o| **o == login) {
                Some(login) => Ok(Resolved::Object(Obj::Organization(login))),
                None => Err(FieldError::not_found(format!(
                    "Could not resolve to an Organization with the login of '{login}'."
                ))),
            }
        }
        other => Err(FieldError::unserved(format!("the field `Query.{other}`"))),
    }
}

fn repository_field<'s>(
    context: &Context<'s>,
    obj: &Obj<'s>,
    repo: &'s Repo,
    field: &Field,
) -> Result<Resolved<'s>, FieldError> {
    let full_name = format!("{}/{}", repo.owner, repo.spec.name);
    match field.name.as_str() {
        "id" => leaf(json!(format!("R_{}", repo.id))),
        "databaseId" => leaf(json!(repo.id)),
        "name" => leaf(json!(repo.spec.name)),
        "nameWithOwner" => leaf(json!(full_name)),
        "url" => leaf(json!(format!("{}/{full_name}", html_root(context.base_url)))),
        "isArchived" => leaf(json!(repo.spec.archived)),
        "isFork" => leaf(json!(repo.spec.fork)),
        "isPrivate" => leaf(json!(repo.spec.visibility != "public")),
        "visibility" => leaf(json!(repo.spec.visibility.to_ascii_uppercase())),
        "pushedAt" => leaf(json!(iso8601(repo.pushed_at))),
        "createdAt" => leaf(json!(iso8601(repo.created_at))),
        "updatedAt" => leaf(json!(iso8601(repo.updated_at))),
        "hasVulnerabilityAlertsEnabled" => {
            permitted(context, "vulnerability_alerts")?;
            leaf(json!(crate::routes::security::dependabot_on(repo)))
        }
        "primaryLanguage" => {
            Ok(repo.spec.language.as_deref().map_or(Resolved::Null, |l| Resolved::Object(Obj::Language(l))))
        }
        "repositoryTopics" => {
            only(obj, field, &["first", "after"])?;
            let topics: Vec<&str> = repo.spec.topics.iter().map(String::as_str).collect();
            let after = text_argument(context, field, "after");
            let page = page(topics, count_argument(context, field, "first"), after.as_deref())?;
            Ok(Resolved::Object(Obj::RepositoryTopicConnection(page)))
        }
        "defaultBranchRef" => Ok(match repo.branches.contains_key(&repo.spec.default_branch) {
            true => Resolved::Object(Obj::Ref(repo, &repo.spec.default_branch)),
            false => Resolved::Null,
        }),
        "object" => {
            only(obj, field, &["expression", "oid"])?;
            let found = match (text_argument(context, field, "expression"), text_argument(context, field, "oid")) {
                (Some(expression), _) => object_at(repo, &expression),
                (None, Some(oid)) => object_by_oid(repo, &oid),
                (None, None) => None,
            };
            Ok(found.map_or(Resolved::Null, Resolved::Object))
        }
        other => Err(FieldError::unserved(format!("the field `Repository.{other}`"))),
    }
}

/// The object a tree entry points at: its subtree or its blob.
fn entry_object<'s>(repo: &'s Repo, entry: &'s TreeEntry, prefix: &str) -> Resolved<'s> {
    match entry.kind {
        EntryKind::Tree => Resolved::Object(Obj::Tree(repo, &entry.sha, format!("{prefix}{}/", entry.name))),
        EntryKind::Blob => match repo.blobs.get_key_value(&entry.sha) {
            Some((sha, content)) => Resolved::Object(Obj::Blob(sha, content)),
            None => Resolved::Null,
        },
    }
}

/// `object(expression:)`: `<rev>` (a commit), `<rev>:` (its root tree) or `<rev>:<path>`, where `rev` is `HEAD`, a
/// branch or a commit sha; `None` when nothing is there.
fn object_at<'s>(repo: &'s Repo, expression: &str) -> Option<Obj<'s>> {
    let (rev, path) = match expression.split_once(':') {
        Some((rev, path)) => (rev, Some(path)),
        None => (expression, None),
    };
    let rev = if rev == "HEAD" { repo.spec.default_branch.as_str() } else { rev };
    let commit = repo.resolve(rev)?;
    let Some(path) = path else { return Some(Obj::Commit(repo, commit)) };
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Some(Obj::Tree(repo, &commit.tree, String::new()));
    }
    let mut tree = commit.tree.as_str();
    let mut prefix = String::new();
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        let entry = repo.tree_entries.get(tree)?.iter().find(|e| e.name == part)?;
        if parts.peek().is_none() {
            return match entry_object(repo, entry, &prefix) {
                Resolved::Object(found) => Some(found),
                _ => None,
            };
        }
        if entry.kind != EntryKind::Tree {
            return None;
        }
        prefix = format!("{prefix}{part}/");
        tree = &entry.sha;
    }
    None
}

/// `object(oid:)`: a commit, tree or blob of the repository.
fn object_by_oid<'s>(repo: &'s Repo, oid: &str) -> Option<Obj<'s>> {
    if let Some(commit) = repo.commits.get(oid) {
        return Some(Obj::Commit(repo, commit));
    }
    if let Some((sha, _)) = repo.tree_entries.get_key_value(oid) {
        return Some(Obj::Tree(repo, sha, String::new()));
    }
    repo.blobs.get_key_value(oid).map(|(sha, content)| Obj::Blob(sha, content))
}
