//! The layers import downward only: read every `use` line and `crate::`/`super::` path of the operator and of the
//! simulator, and fail when the top-level modules of either import each other in a circle (a circle among files
//! of one folder, such as the simulator's `state.rs` and `server.rs`, is allowed), or when `plan/` or `crd/` import
//! something they must not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What the pure layers may never import.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("plan", &["controller", "server", "github", "config", "metrics"]),
    ("crd", &["controller", "server", "github", "config", "metrics", "plan"]),
    ("metrics", &["controller", "server"]),
];

#[test]
fn the_operator_imports_downward_only() {
    let graph = ModuleGraph::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.edges.contains_key("controller"), "the reader found no imports: {:?}", graph.edges);
    assert!(graph.edges["controller"].contains("plan"), "the reader misses `use crate::…` lines");
    let mut problems = graph.circles();
    for (from, forbidden) in FORBIDDEN {
        for to in graph.edges.get(*from).into_iter().flatten() {
            if forbidden.contains(&to.as_str()) {
                problems.push(format!("{from} imports {to}: {}", graph.witnesses[&(from.to_string(), to.clone())]));
            }
        }
    }
    assert!(problems.is_empty(), "layers that import upward:\n{}", problems.join("\n"));
}

#[test]
fn the_simulator_imports_downward_only() {
    let graph = ModuleGraph::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/github-sim/src"));
    assert!(graph.edges.get("routes").is_some_and(|to| to.contains("state")), "the reader found no imports");
    let problems = graph.circles();
    assert!(problems.is_empty(), "simulator modules that import each other in a circle:\n{}", problems.join("\n"));
}

#[test]
fn the_reader_sees_grouped_relative_and_inline_paths() {
    let text = "
        use crate::{plan::x, crd::{a, b as c}};
        use super::super::github::Port;
        // use crate::server::Commented;
        fn f() { let s = \"crate::report::InAString\"; crate::metrics::count(); }
    ";
    let found = imports(text, &["controller".to_owned(), "build_plan".to_owned()]);
    let tops: BTreeSet<&str> = found.iter().map(|(top, _)| top.as_str()).collect();
    assert_eq!(tops, BTreeSet::from(["crd", "github", "metrics", "plan"]), "{found:?}");
    let from_mod_rs = imports("use super::state::X;", &["routes".to_owned()]);
    assert_eq!(from_mod_rs.iter().map(|(top, _)| top.as_str()).collect::<Vec<_>>(), ["state"]);
    let circle = ModuleGraph::from_edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], &["a", "b"]);
    assert_eq!(circle.circles().len(), 1, "{:?}", circle.circles());
    let root_files_only = ModuleGraph::from_edges(&[("a", "b"), ("b", "a")], &[]);
    assert!(root_files_only.circles().is_empty(), "two files of one folder may import each other");
}

/// Imports between the top-level modules of one crate.
struct ModuleGraph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// One place each edge comes from, to name in a failure.
    witnesses: BTreeMap<(String, String), String>,
    /// Top-level modules that are folders (`plan/`), not single files (`config.rs`).
    folders: BTreeSet<String>,
}

impl ModuleGraph {
    fn read(root: PathBuf) -> Self {
        let mut graph = ModuleGraph { edges: BTreeMap::new(), witnesses: BTreeMap::new(), folders: BTreeSet::new() };
        for file in rust_files(&root) {
            let relative = file.strip_prefix(&root).unwrap();
            let module = module_path(relative);
            let Some(top) = module.first().cloned() else { continue }; // lib.rs and main.rs declare, not import
            if relative.components().count() > 1 {
                graph.folders.insert(top.clone());
            }
            let text = fs::read_to_string(&file).unwrap();
            for (to, path) in imports(&text, &module) {
                if to != top {
                    graph
                        .witnesses
                        .entry((top.clone(), to.clone()))
                        .or_insert(format!("{} ({path})", relative.display()));
                    graph.edges.entry(top.clone()).or_default().insert(to);
                }
            }
        }
        graph
    }

    #[cfg(test)]
    fn from_edges(edges: &[(&str, &str)], folders: &[&str]) -> Self {
        let mut graph = ModuleGraph { edges: BTreeMap::new(), witnesses: BTreeMap::new(), folders: BTreeSet::new() };
        for (from, to) in edges {
            graph.edges.entry(from.to_string()).or_default().insert(to.to_string());
            graph.witnesses.insert((from.to_string(), to.to_string()), "test".into());
        }
        graph.folders = folders.iter().map(|f| f.to_string()).collect();
        graph
    }

    /// Each strongly connected set of two or more modules, unless all of them are files of the crate's root folder.
    fn circles(&self) -> Vec<String> {
        let nodes: BTreeSet<&String> = self.edges.keys().chain(self.edges.values().flatten()).collect();
        let reach = |from: &String| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from.clone()];
            while let Some(node) = stack.pop() {
                for next in self.edges.get(&node).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let reachable: BTreeMap<&String, BTreeSet<String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
        let mut done = BTreeSet::new();
        let mut circles = Vec::new();
        for node in &nodes {
            if done.contains(*node) {
                continue;
            }
            let component: Vec<&String> = nodes
                .iter()
                .filter(|other| reachable[node].contains(**other) && reachable[*other].contains(*node))
                .copied()
                .collect();
            done.extend(component.iter().map(|n| (*n).clone()));
            if component.len() > 1 && component.iter().any(|n| self.folders.contains(*n)) {
                let edges: Vec<String> = component
                    .iter()
                    .flat_map(|from| {
                        self.edges[*from].iter().filter(|to| component.contains(to)).map(move |to| {
                            format!("  {from} → {to}: {}", self.witnesses[&((*from).clone(), to.clone())])
                        })
                    })
                    .collect();
                circles.push(format!("circle {component:?}:\n{}", edges.join("\n")));
            }
        }
        circles
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `controller/build_plan/mod.rs` → `[controller, build_plan]`; `lib.rs` → `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The top-level modules a file's code names, each with the path that names it.
fn imports(text: &str, module: &[String]) -> Vec<(String, String)> {
    let code = strip_comments_and_strings(text);
    let mut paths = Vec::new();
    let use_statement = regex::Regex::new(r"\buse\s+([^;]+);").unwrap();
    let rename = regex::Regex::new(r"\s+as\s+").unwrap();
    for captures in use_statement.captures_iter(&code) {
        let renamed = rename.replace_all(&captures[1], "@");
        let tree: String = renamed.chars().filter(|c| !c.is_whitespace()).collect();
        expand_use_tree(&tree, &mut paths);
    }
    let rest = use_statement.replace_all(&code, "");
    let inline = regex::Regex::new(r"\b(?:crate|super|self)(?:::(?:super|self))*::[A-Za-z_]\w*").unwrap();
    paths.extend(inline.find_iter(&rest).map(|m| m.as_str().to_owned()));
    paths.into_iter().filter_map(|path| resolve_top(&path, module).map(|top| (top, path))).collect()
}

/// `a::{b, c::{d@e}}` (whitespace gone, ` as ` marked `@`) → `a::b`, `a::c::d`.
fn expand_use_tree(tree: &str, out: &mut Vec<String>) {
    let Some(open) = tree.find('{') else {
        out.push(tree.split('@').next().unwrap_or(tree).to_owned());
        return;
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand_use_tree(&format!("{prefix}{}", &inner[start..i]), out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        expand_use_tree(&format!("{prefix}{}", &inner[start..]), out);
    }
}

/// The top-level module a path lands in, for paths that start at `crate`, `super` or `self`.
fn resolve_top(path: &str, module: &[String]) -> Option<String> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut at: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        "self" => module.to_vec(),
        _ => return None,
    };
    for segment in segments {
        match segment {
            "super" => {
                at.pop();
            }
            "self" => {}
            other => {
                if at.is_empty() {
                    return Some(other.to_owned()).filter(|s| s != "*");
                }
                break;
            }
        }
    }
    at.first().cloned()
}

/// The code without comments and string or char literals, so that prose and messages never count as imports.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !is_ident(chars.get(i.wrapping_sub(1))) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next.is_some() && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal such as '\n' or '\''.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}
