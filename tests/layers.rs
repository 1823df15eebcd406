//! The layers import downward only. Every `use` line and every path of the operator and of the simulator is read
//! and resolved to the file it names; the test fails when files of different folders import each other in a circle
//! (files of one folder may, such as the simulator's `state.rs` and `server.rs`), or when `plan/` or `crd/` import
//! something they must not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What the pure layers (and the metrics) may never import, by top-level module.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("plan", &["controller", "server", "github", "config", "metrics"]),
    ("crd", &["controller", "server", "github", "config", "metrics", "plan"]),
    ("metrics", &["controller", "server"]),
];

#[test]
fn the_operator_imports_downward_only() {
    let graph = FileGraph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let controller_to_plan = graph.top_level_edges().contains(&("controller".to_owned(), "plan".to_owned()));
    assert!(controller_to_plan, "the reader misses `use crate::…` lines: {:?}", graph.top_level_edges());
    let mut problems = graph.circles();
    for (from, forbidden) in FORBIDDEN {
        for (file, imports) in &graph.edges {
            for (to, path) in imports {
                let (from_top, to_top) = (graph.top_of(file), graph.top_of(to));
                if from_top == *from && forbidden.contains(&to_top.as_str()) {
                    problems.push(format!("{from} imports {to_top}: {} ({path})", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "layers that import upward:\n{}", problems.join("\n"));
}

#[test]
fn the_simulator_imports_downward_only() {
    let graph = FileGraph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/github-sim/src"));
    let routes_to_state = graph.top_level_edges().contains(&("routes".to_owned(), "state".to_owned()));
    assert!(routes_to_state, "the reader found no imports: {:?}", graph.top_level_edges());
    let problems = graph.circles();
    assert!(problems.is_empty(), "simulator files that import each other in a circle:\n{}", problems.join("\n"));
}

#[test]
fn the_reader_resolves_grouped_relative_inline_and_nested_paths() {
    let modules: BTreeMap<Vec<String>, PathBuf> = [
        "controller/mod.rs",
        "controller/build_plan/mod.rs",
        "controller/build_plan/status.rs",
        "controller/status.rs",
        "crd/mod.rs",
        "github/mod.rs",
        "metrics.rs",
        "plan/mod.rs",
        "report/mod.rs",
    ]
    .iter()
    .map(|file| (module_path(Path::new(file)), PathBuf::from(file)))
    .collect();
    let text = "
        use crate::{plan::x, crd::{a, b as c}};
        use super::super::github::Port;
        use status::Situation;
        // use crate::server::Commented;
        fn f() { let s = \"crate::report::InAString\"; crate::metrics::count(); }
        mod tests { use super::*; use super::super::status::write; }
    ";
    let here = module_path(Path::new("controller/build_plan/mod.rs"));
    let found: BTreeSet<PathBuf> = imports(text, &here, &modules).into_iter().map(|(file, _)| file).collect();
    // `use super::*` in `mod tests` names the file itself, and `super::super::status` in it the folder's status.rs.
    let expected = [
        "controller/build_plan/mod.rs",
        "plan/mod.rs",
        "crd/mod.rs",
        "github/mod.rs",
        "controller/build_plan/status.rs",
        "metrics.rs",
        "controller/status.rs",
    ];
    assert_eq!(found, expected.iter().map(PathBuf::from).collect());

    let graph = FileGraph::from_edges(&[("a/x.rs", "b/y.rs"), ("b/y.rs", "a/z.rs"), ("a/z.rs", "a/x.rs")]);
    assert_eq!(graph.circles().len(), 1, "a circle through two folders");
    let one_folder = FileGraph::from_edges(&[("a/x.rs", "a/y.rs"), ("a/y.rs", "a/x.rs"), ("a/y.rs", "b/z.rs")]);
    assert!(one_folder.circles().is_empty(), "two files of one folder may import each other");
}

/// Which file imports which, in one crate.
struct FileGraph {
    /// Each file's imports, by the file imported, with one path that names it.
    edges: BTreeMap<PathBuf, BTreeMap<PathBuf, String>>,
}

impl FileGraph {
    fn read(root: &Path) -> Self {
        let modules: BTreeMap<Vec<String>, PathBuf> = rust_files(root)
            .into_iter()
            .map(|file| {
                let relative = file.strip_prefix(root).unwrap().to_path_buf();
                (module_path(&relative), relative)
            })
            .collect();
        let mut edges: BTreeMap<PathBuf, BTreeMap<PathBuf, String>> = BTreeMap::new();
        for (module, file) in &modules {
            let text = fs::read_to_string(root.join(file)).unwrap();
            for (to, path) in imports(&text, module, &modules) {
                if &to != file {
                    edges.entry(file.clone()).or_default().entry(to).or_insert(path);
                }
            }
        }
        FileGraph { edges }
    }

    fn from_edges(edges: &[(&str, &str)]) -> Self {
        let mut graph = FileGraph { edges: BTreeMap::new() };
        for (from, to) in edges {
            graph.edges.entry(PathBuf::from(from)).or_default().insert(PathBuf::from(to), "test".into());
        }
        graph
    }

    /// The top-level module a file belongs to: `plan` for `plan/detect/mod.rs`, `config` for `config.rs`.
    fn top_of(&self, file: &Path) -> String {
        let first = file.iter().next().unwrap().to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    }

    fn top_level_edges(&self) -> BTreeSet<(String, String)> {
        let pairs = self.edges.iter().flat_map(|(from, to)| to.keys().map(move |to| (from, to)));
        pairs.map(|(from, to)| (self.top_of(from), self.top_of(to))).filter(|(a, b)| a != b).collect()
    }

    /// Each set of files that import each other in a circle, when they are not all in one folder.
    fn circles(&self) -> Vec<String> {
        let nodes: BTreeSet<&PathBuf> = self.edges.keys().chain(self.edges.values().flat_map(|to| to.keys())).collect();
        let reach = |from: &PathBuf| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from.clone()];
            while let Some(node) = stack.pop() {
                for next in self.edges.get(&node).into_iter().flat_map(|to| to.keys()) {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let reachable: BTreeMap<&PathBuf, BTreeSet<PathBuf>> = nodes.iter().map(|n| (*n, reach(n))).collect();
        let mut done = BTreeSet::new();
        let mut circles = Vec::new();
        for node in &nodes {
            if done.contains(*node) {
                continue;
            }
            let component: Vec<&PathBuf> = nodes
                .iter()
                .filter(|other| reachable[node].contains(**other) && reachable[*other].contains(*node))
                .copied()
                .collect();
            done.extend(component.iter().map(|n| (*n).clone()));
            let folders: BTreeSet<_> = component.iter().map(|file| file.parent()).collect();
            if folders.len() > 1 {
                let edges: Vec<String> = component
                    .iter()
                    .flat_map(|from| {
                        let to = self.edges.get(*from).into_iter().flatten();
                        to.filter(|(to, _)| component.contains(to))
                            .map(move |(to, path)| format!("  {} → {} ({path})", from.display(), to.display()))
                    })
                    .collect();
                circles.push(format!("circle of {} files:\n{}", component.len(), edges.join("\n")));
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

/// The files of the crate that the code of `module` names, each with a path that names it. A path names the file
/// of the deepest module it goes through: `crate::plan::detect::Description` names `plan/detect/mod.rs`.
fn imports(text: &str, module: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Vec<(PathBuf, String)> {
    let code = strip_comments_and_strings(text);
    let inline_modules = inline_modules(&code);
    // The module code at `offset` is in: the file's, or an inline `mod name { … }` in it.
    let module_at = |offset: usize| {
        let mut at = module.to_vec();
        at.extend(inline_modules.iter().filter(|(range, _)| range.contains(&offset)).map(|(_, name)| name.clone()));
        at
    };
    let mut paths = Vec::new();
    let use_statement = regex::Regex::new(r"\buse\s+([^;]+);").unwrap();
    let rename = regex::Regex::new(r"\s+as\s+").unwrap();
    for captures in use_statement.captures_iter(&code) {
        let renamed = rename.replace_all(&captures[1], "@");
        let tree: String = renamed.chars().filter(|c| !c.is_whitespace()).collect();
        let mut expanded = Vec::new();
        expand_use_tree(&tree, &mut expanded);
        let at = module_at(captures.get(0).unwrap().start());
        paths.extend(expanded.into_iter().map(|path| (path, at.clone())));
    }
    let rest = use_statement.replace_all(&code, |captures: &regex::Captures| " ".repeat(captures[0].len()));
    let path = regex::Regex::new(r"[A-Za-z_]\w*(?:::[A-Za-z_*]\w*)+").unwrap();
    for found in path.find_iter(&rest) {
        let preceded_by_path = rest[..found.start()].ends_with(':')
            || rest[..found.start()].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        if !preceded_by_path {
            paths.push((found.as_str().to_owned(), module_at(found.start())));
        }
    }
    paths.into_iter().filter_map(|(path, at)| resolve(&path, &at, modules).map(|file| (file, path))).collect()
}

/// Each inline `mod name { … }` of the code, by the range of its braces.
fn inline_modules(code: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let declaration = regex::Regex::new(r"\bmod\s+(\w+)\s*\{").unwrap();
    let mut found = Vec::new();
    for captures in declaration.captures_iter(code) {
        let open = captures.get(0).unwrap().end() - 1;
        let mut depth = 0;
        let mut close = code.len();
        for (offset, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push((open..close, captures[1].to_owned()));
    }
    found
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

/// The file of the deepest module of the crate that `path`, written in module `at`, goes through; `None` for paths
/// outside the crate (`std::…`, `kube::…`) and for names that are not modules (`Option::None`).
fn resolve(path: &str, at: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut module, rest): (Vec<String>, &[&str]) = match segments.first()? {
        &"crate" => (Vec::new(), &segments[1..]),
        &"super" => (at[..at.len().saturating_sub(1)].to_vec(), &segments[1..]),
        &"self" => (at.to_vec(), &segments[1..]),
        first => {
            // A path relative to the module it is written in: only through one of its child modules.
            let child: Vec<String> = at.iter().cloned().chain([first.to_string()]).collect();
            if !modules.contains_key(&child) {
                return None;
            }
            (at.to_vec(), &segments[..])
        }
    };
    for segment in rest {
        match *segment {
            "super" => {
                module.pop();
            }
            "self" => {}
            name => {
                let deeper: Vec<String> = module.iter().cloned().chain([name.to_owned()]).collect();
                if !modules.contains_key(&deeper) {
                    break;
                }
                module = deeper;
            }
        }
    }
    // An inline module (`mod tests`) has no file of its own: it is part of the file around it.
    while !modules.contains_key(&module) {
        module.pop();
    }
    modules.get(&module).cloned()
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
