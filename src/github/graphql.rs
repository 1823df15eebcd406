//! Discovery's bulk reads through GitHub's GraphQL API: the trees and head commits of a page of repositories in one
//! query, the texts of files across repositories in another. Each query costs one point of the separate `graphql`
//! budget (neither has a connection), whatever it reads.
//!
//! What GraphQL cannot do is answer "nothing changed" for free: every query costs at least one point, while a REST
//! read answered `304 Not Modified` costs none. So the organization's listing stays a conditional REST read, and only
//! what the listing says may have changed is read here.
//!
//! Building the queries and reading the answers is pure; the requests go through the same transport as REST
//! (credentials, budget gate, concurrency cap).

use std::sync::LazyLock;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use super::error::{Error, Result};
use super::octocrab::OctocrabGitHub;
use super::rate_limit::after;
use super::types::{BlobRead, BlobText, HeadTree, RepoRef};

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

    /// See [`super::GitHub::blob_texts`].
    pub(super) async fn graphql_files(&self, reads: &[BlobRead]) -> Result<Vec<Option<BlobText>>> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        let (request, places) = files_request(reads);
        let reply = self.transport.graphql(&request).await?;
        parse_files(&reply.body, &places, self.graphql_reset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESET: Timestamp = Timestamp::UNIX_EPOCH;

    fn read(owner: &str, name: &str, path: &str) -> BlobRead {
        BlobRead { repo: RepoRef::new(owner, name), oid: "abc123".into(), path: path.into() }
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
}
