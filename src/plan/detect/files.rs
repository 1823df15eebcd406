//! The files detection looks at: every path of the tree, and the contents of the manifests that were fetched.
//! Also the small path and URL helpers the ecosystems share.

use crate::plan::glob::wildcard_matches;
use std::collections::{BTreeMap, BTreeSet};

/// Directories whose manifests are never read: vendored or generated code, test fixtures, virtual environments.
const IGNORED_DIRECTORIES: &[&str] = &[
    "node_modules",
    "bower_components",
    "vendor",
    "third_party",
    "third-party",
    "thirdparty",
    "testdata",
    "fixtures",
    "__fixtures__",
    "test-fixtures",
    "target",
    "dist",
    "site-packages",
    "venv",
];

/// How many path components a manifest may have: `packages/scope/name/package.json` is four.
pub const MAX_MANIFEST_DEPTH: usize = 4;

/// The tree and the fetched manifests of one repository.
pub struct RepositoryFiles<'a> {
    paths: BTreeSet<&'a str>,
    fetched: &'a BTreeMap<String, String>,
}

impl<'a> RepositoryFiles<'a> {
    /// Wraps the tree's paths and the fetched contents. Paths detection never reads (see [`detection_reads`]) are
    /// dropped here, so that a tree listed without them describes the repository exactly as the whole tree does.
    pub fn new(tree_paths: &'a [String], fetched: &'a BTreeMap<String, String>) -> Self {
        let paths =
            tree_paths.iter().map(|path| path.trim_start_matches("./")).filter(|path| detection_reads(path)).collect();
        RepositoryFiles { paths, fetched }
    }

    /// Whether the tree has this file.
    pub fn exists(&self, path: &str) -> bool {
        self.paths.contains(path) || self.fetched.contains_key(path)
    }

    /// The contents of a fetched file.
    pub fn content(&self, path: &str) -> Option<&'a str> {
        self.fetched.get(path).map(String::as_str)
    }

    /// Every path of the tree.
    pub fn paths(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.paths.iter().copied()
    }

    /// Fetched files whose file name is `name`, outside ignored directories, shallowest first.
    pub fn fetched_named(&self, name: &str) -> Vec<&'a str> {
        let mut found: Vec<&'a str> = self
            .fetched
            .keys()
            .map(String::as_str)
            .filter(|path| file_name(path) == name && is_manifest_location(path))
            .collect();
        found.sort_by_key(|path| (depth(path), *path));
        found
    }

    /// Whether some path of the tree, outside ignored directories and at most `max_depth` deep, ends with one of
    /// `suffixes`.
    pub fn any_file_ending(&self, suffixes: &[&str], max_depth: usize) -> bool {
        self.paths.iter().any(|path| {
            depth(path) <= max_depth && !in_ignored_directory(path) && suffixes.iter().any(|s| path.ends_with(s))
        })
    }
}

/// The last component of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory of a path, `""` at the root.
pub fn directory(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(directory, _)| directory)
}

/// `directory/name`, or `name` at the root.
pub fn join(directory: &str, name: &str) -> String {
    let directory = directory.trim_end_matches('/');
    if directory.is_empty() || directory == "." {
        name.to_owned()
    } else {
        format!("{directory}/{name}")
    }
}

/// Number of components of a path.
pub fn depth(path: &str) -> usize {
    path.split('/').filter(|component| !component.is_empty()).count()
}

/// Whether a path lies under a directory detection never reads, or a hidden one.
pub fn in_ignored_directory(path: &str) -> bool {
    let directories = path.split('/').rev().skip(1);
    directories.into_iter().any(|d| IGNORED_DIRECTORIES.contains(&d) || (d.starts_with('.') && d.len() > 1))
}

/// Whether detection looks at this path at all: anything outside ignored and hidden directories, and the workflows
/// under `.github/workflows/`.
pub fn detection_reads(path: &str) -> bool {
    !in_ignored_directory(path) || super::dispatchable_workflows::wants(path)
}

/// Whether detection looks at anything below this directory (a path without a trailing `/`): when GitHub truncates
/// a tree, these are the subtrees to read one level at a time, and the others can be left unread.
pub fn reads_directory(directory: &str) -> bool {
    let directory = directory.trim_matches('/');
    directory.is_empty()
        || !in_ignored_directory(&format!("{directory}/file"))
        || directory == ".github"
        || directory == ".github/workflows"
}

/// Whether a manifest at this path is worth reading: shallow enough, and not in an ignored directory.
pub fn is_manifest_location(path: &str) -> bool {
    depth(path) <= MAX_MANIFEST_DEPTH && !in_ignored_directory(path)
}

/// Normalizes a relative path written in a manifest (`./crates/a/`, `crates//a`, `a/../b`) against `base`.
/// Returns `None` when it leaves the repository.
pub fn resolve_relative(base: &str, relative: &str) -> Option<String> {
    let mut components: Vec<&str> = base.split('/').filter(|c| !c.is_empty()).collect();
    for component in relative.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                components.pop()?;
            }
            other => components.push(other),
        }
    }
    Some(components.join("/"))
}

/// Matches a path against a glob of `/`-separated segments where `*` and `?` stay within a segment and `**`
/// spans any number of them, as Cargo, npm and pnpm workspace globs are written.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments_match(&pattern, &path)
}

/// Dynamic programming over segments, so that many `**` cannot make matching exponential.
fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    // matches[j]: whether the pattern so far matches the first j path segments.
    let mut matches = vec![false; path.len() + 1];
    matches[0] = true;
    for segment in pattern {
        let mut next = vec![false; path.len() + 1];
        if *segment == "**" {
            let mut reachable = false;
            for j in 0..=path.len() {
                reachable |= matches[j];
                next[j] = reachable;
            }
        } else {
            for j in 1..=path.len() {
                next[j] = matches[j - 1] && wildcard_matches(segment, path[j - 1]);
            }
        }
        matches = next;
    }
    matches[path.len()]
}

/// The `(owner, repository)` a git URL or spec points at when it is on GitHub: `https://github.com/o/r(.git)`,
/// `git+https://…`, `git+ssh://git@github.com/o/r`, `git@github.com:o/r.git`, `github:o/r`, with any `#ref`,
/// `@ref` or sub-path after the repository.
pub fn github_repository(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let rest = if let Some(rest) = url.strip_prefix("github:") {
        rest
    } else if let Some(rest) = url.strip_prefix("git@github.com:") {
        rest
    } else {
        let without_scheme = url.split_once("://").map(|(_, rest)| rest)?;
        let (authority, path) = without_scheme.split_once('/').unwrap_or((without_scheme, ""));
        // Drop user info (`git@`); a `:` after the host is a port, or an scp-like `host:owner`.
        let host_and_port = authority.rsplit('@').next().unwrap_or(authority);
        let (host, after_colon) = host_and_port.split_once(':').unwrap_or((host_and_port, ""));
        let host = host.to_ascii_lowercase();
        if host != "github.com" && host != "www.github.com" {
            return None;
        }
        if after_colon.is_empty() || after_colon.bytes().all(|b| b.is_ascii_digit()) {
            path
        } else {
            return github_repository(&format!("github:{after_colon}/{path}"));
        }
    };
    let rest = rest.split(['#', '?']).next().unwrap_or(rest);
    let mut parts = rest.split('/');
    let owner = parts.next()?.trim();
    let repository = parts.next()?.split('@').next()?.trim();
    let repository = repository.strip_suffix(".git").unwrap_or(repository);
    let valid = |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (valid(owner) && valid(repository)).then(|| (owner.to_owned(), repository.to_owned()))
}

/// Line and column (both from 1) of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.as_bytes().get(..offset).unwrap_or_default();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Parses a TOML document; the error is one line naming where and what.
pub fn parse_toml(text: &str) -> Result<toml::Table, String> {
    toml::from_str::<toml::Table>(text).map_err(|error| {
        let message = error.message().trim();
        match error.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("invalid TOML at line {line}, column {column}: {message}")
            }
            None => format!("invalid TOML: {message}"),
        }
    })
}

/// Parses a JSON document; the error is one line naming where and what.
pub fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))
}

/// Deepest nesting of YAML flow collections (`[…]`, `{…}`) read; serde_yaml refuses more than 128 levels anyway.
pub const MAX_YAML_FLOW_DEPTH: usize = 128;

/// Parses a YAML document; the error is one line naming where and what. A document whose brackets nest deeper than
/// [`MAX_YAML_FLOW_DEPTH`] is refused before parsing: the YAML scanner takes time quadratic in that depth (a 200 kB
/// file of `[` held discovery for minutes), and the parser would refuse it after scanning it whole. Brackets are
/// counted without regard to quoting, so only a document with more than 128 unclosed brackets in its strings
/// could be refused wrongly.
pub fn parse_yaml(text: &str) -> Result<serde_yaml::Value, String> {
    let mut depth = 0usize;
    for (offset, byte) in text.bytes().enumerate() {
        match byte {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => continue,
        }
        if depth > MAX_YAML_FLOW_DEPTH {
            let (line, column) = line_and_column(text, offset);
            return Err(format!(
                "invalid YAML: brackets nested deeper than {MAX_YAML_FLOW_DEPTH} levels at line {line} column {column}"
            ));
        }
    }
    serde_yaml::from_str(text).map_err(|error| format!("invalid YAML: {error}"))
}

/// A string value of a TOML table.
pub fn toml_str<'t>(table: &'t toml::Table, key: &str) -> Option<&'t str> {
    table.get(key).and_then(toml::Value::as_str)
}

/// A sub-table of a TOML table.
pub fn toml_table<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Table> {
    table.get(key).and_then(toml::Value::as_table)
}

/// The strings of a TOML array (other items are skipped).
pub fn toml_strings<'t>(table: &'t toml::Table, key: &str) -> Vec<&'t str> {
    let items = table.get(key).and_then(toml::Value::as_array);
    items.map(|items| items.iter().filter_map(toml::Value::as_str).collect()).unwrap_or_default()
}
