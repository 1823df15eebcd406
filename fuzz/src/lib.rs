//! What each fuzz target does with its bytes, and what it checks besides "no panic". Shared, word for word, with
//! the stable test that replays the committed corpus (`tests/bad_input.rs` includes this file with `#[path]`), so
//! that the corpus guards against regressions without a nightly toolchain.
//!
//! Input formats (the seed corpus under `corpus/<target>/` shows each):
//! - `manifest`: `PATH\nCONTENTS`: one file at PATH, with the same contents also as a Cargo, npm, Maven and Gradle
//!   workspace member, so that member code paths are reached too.
//! - `repository`: `PATH\0CONTENTS\0PATH\0CONTENTS…`: a whole tree; only the files `manifests_to_fetch` picks are
//!   handed to `describe`, as discovery does.
//! - `dependencies`: repositories separated by `\x1e`, each `NAME\nREPOSITORY` with REPOSITORY as above; every
//!   repository is described, then the organization's dependency edges and graph are computed.
//!
//! Bytes become text the way discovery reads files from GitHub: lossily (`String::from_utf8_lossy`).

#![allow(dead_code)] // the replay test uses the table, the fuzz targets their own entry point

use std::collections::{BTreeMap, BTreeSet};

use infinity_orchestrator::plan::dependencies::repository_dependencies;
use infinity_orchestrator::plan::depgraph::DependencyGraph;
use infinity_orchestrator::plan::detect::{
    describe, github_repository, manifests_to_fetch, RepositoryDescription, MAX_FETCHED_MANIFESTS,
    MAX_FETCHED_WORKFLOWS,
};

/// What a fuzz target runs on one input.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the directory of its corpus) and what it runs.
pub const TARGETS: &[(&str, Target)] =
    &[("manifest", manifest), ("repository", repository), ("dependencies", dependencies)];

/// Longest message the Repository's `DetectionWarning` condition carries (the controller's bound).
const WARNING_MESSAGE_CHARS: usize = 1024;

/// `PATH\nCONTENTS`: one manifest, plus the same contents as workspace members.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, contents) = text.split_once('\n').unwrap_or((&text, ""));
    let members = ["crates/a/Cargo.toml", "packages/a/package.json", "svc/pom.xml", "api/build.gradle.kts"];
    let mut tree: Vec<String> = vec![path.to_owned()];
    tree.extend(members.iter().map(|m| (*m).to_owned()));
    let wanted = checked_manifests_to_fetch(&tree);
    let fetched: BTreeMap<String, String> = wanted.iter().map(|path| (path.clone(), contents.to_owned())).collect();
    let description = describe(&tree, &fetched, Some("Rust"));
    check_description(&fetched, &description);
    check_malformed_root_manifests(&tree, &fetched, &description);
    if let Some((owner, repository)) = github_repository(contents) {
        assert!(is_github_name(&owner) && is_github_name(&repository), "{owner:?}/{repository:?} from {contents:?}");
    }
}

/// `PATH\0CONTENTS\0…`: a whole repository, described as discovery describes it.
pub fn repository(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (tree, files) = tree_and_files(&text);
    let wanted = checked_manifests_to_fetch(&tree);
    let fetched: BTreeMap<String, String> =
        wanted.iter().filter_map(|path| Some((path.clone(), files.get(path.as_str())?.to_string()))).collect();
    let description = describe(&tree, &fetched, None);
    check_description(&fetched, &description);
    check_malformed_root_manifests(&tree, &fetched, &description);
}

/// Repositories separated by `\x1e`, each `NAME\nREPOSITORY`: the organization's dependency edges and graph.
pub fn dependencies(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut repositories: BTreeMap<String, RepositoryDescription> = BTreeMap::new();
    for record in text.split('\x1e') {
        let (name, rest) = record.split_once('\n').unwrap_or((record, ""));
        let (tree, files) = tree_and_files(rest);
        let wanted = checked_manifests_to_fetch(&tree);
        let fetched: BTreeMap<String, String> =
            wanted.iter().filter_map(|path| Some((path.clone(), files.get(path.as_str())?.to_string()))).collect();
        let description = describe(&tree, &fetched, None);
        check_description(&fetched, &description);
        repositories.insert(name.to_owned(), description);
    }
    let found = repository_dependencies("acme", &repositories);
    assert_eq!(found.dependencies.len(), repositories.len(), "one entry per repository");
    for (repository, edges) in &found.dependencies {
        let targets: Vec<&str> = edges.iter().map(|edge| edge.repository.as_str()).collect();
        assert!(targets.windows(2).all(|pair| pair[0] < pair[1]), "edges of {repository} sorted, unique: {targets:?}");
        for edge in edges {
            assert_ne!(&edge.repository, repository, "no self-edge");
            assert!(repositories.contains_key(&edge.repository), "edge to an unknown repository {:?}", edge.repository);
            assert!(!edge.evidence.is_empty(), "an edge found in manifests has evidence");
        }
    }
    for ambiguity in &found.ambiguities {
        assert!(ambiguity.producers.len() > 1, "{ambiguity}");
    }
    let graph = DependencyGraph::new(
        found
            .dependencies
            .iter()
            .map(|(name, edges)| (name.clone(), edges.iter().map(|edge| edge.repository.clone()).collect::<Vec<_>>())),
    );
    check_graph(&graph);
}

/// Checks what the graph answers against itself: an order exists exactly when there is no cycle, the order puts
/// dependencies first, and each cycle named is a real cycle.
pub fn check_graph(graph: &DependencyGraph) {
    let cycles = graph.cycles();
    match graph.topological_order() {
        Ok(order) => {
            assert!(cycles.is_empty(), "an order despite cycles {cycles:?}");
            assert_eq!(order.len(), graph.len());
            let position: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, name)| (*name, i)).collect();
            for name in graph.names() {
                for dependency in graph.dependencies_of(name) {
                    assert!(position[dependency] < position[name], "{dependency} after its dependent {name}");
                }
            }
        }
        Err(error) => {
            assert!(!cycles.is_empty(), "no order, yet no cycle");
            assert_eq!(error.cycle, cycles[0], "the error names the first cycle");
        }
    }
    for cycle in &cycles {
        assert!(!cycle.path.is_empty(), "{cycle:?}");
        for (i, from) in cycle.path.iter().enumerate() {
            let to = &cycle.path[(i + 1) % cycle.path.len()];
            assert!(graph.dependencies_of(from).contains(&to.as_str()), "{from} → {to} is no edge, in {cycle}");
            assert!(cycle.members.binary_search(from).is_ok(), "{from} is on the path but not a member");
        }
    }
}

/// `manifests_to_fetch`, checked: within its bounds, and only paths of the tree.
fn checked_manifests_to_fetch(tree: &[String]) -> Vec<String> {
    let wanted = manifests_to_fetch(tree);
    assert!(wanted.len() <= MAX_FETCHED_MANIFESTS + MAX_FETCHED_WORKFLOWS, "{} files wanted", wanted.len());
    let in_tree: BTreeSet<&str> = tree.iter().map(|path| path.trim_start_matches("./")).collect();
    for path in &wanted {
        assert!(in_tree.contains(path.as_str()), "{path:?} is not in the tree");
    }
    wanted
}

/// Paths and contents of `PATH\0CONTENTS\0…`; a path without contents is in the tree only.
fn tree_and_files(text: &str) -> (Vec<String>, BTreeMap<&str, &str>) {
    let mut tree = Vec::new();
    let mut files = BTreeMap::new();
    let mut fields = text.split('\0');
    while let Some(path) = fields.next() {
        tree.push(path.to_owned());
        if let Some(contents) = fields.next() {
            files.insert(path.trim_start_matches("./"), contents);
        }
    }
    (tree, files)
}

/// Whatever the input, a description only points at files that were read, and its warning fits a condition.
fn check_description(fetched: &BTreeMap<String, String>, description: &RepositoryDescription) {
    let read = |file: &str| fetched.contains_key(file);
    for package in &description.produces {
        assert!(read(&package.file), "produced from an unread file {:?}", package.file);
    }
    for dependency in &description.consumes {
        assert!(read(&dependency.file), "consumed from an unread file {:?}", dependency.file);
        if let Some((owner, repository)) = &dependency.github {
            assert!(is_github_name(owner) && is_github_name(repository), "{owner:?}/{repository:?}");
        }
    }
    for unresolved in &description.unresolved {
        assert!(read(&unresolved.file), "unresolved in an unread file {:?}", unresolved.file);
    }
    for warning in &description.warnings {
        assert!(read(&warning.file), "a warning about an unread file {:?}", warning.file);
    }
    for workflow in &description.workflows {
        let path = format!(".github/workflows/{}", workflow.file);
        assert!(read(&path), "a dispatchable workflow that was not read: {path}");
    }
    if let Some(message) = description.warning_message(WARNING_MESSAGE_CHARS) {
        assert!(message.chars().count() <= WARNING_MESSAGE_CHARS);
    }
    assert_eq!(description.warnings.is_empty(), description.warning_message(WARNING_MESSAGE_CHARS).is_none());
}

/// A root manifest its format's own parser refuses is a warning naming it; a root `package.json` that does not
/// parse (and nothing else at the root) gives no command at all rather than a guess.
fn check_malformed_root_manifests(
    tree: &[String],
    fetched: &BTreeMap<String, String>,
    description: &RepositoryDescription,
) {
    let warned = |file: &str| description.warnings.iter().any(|warning| warning.file == file);
    for (path, contents) in fetched {
        let malformed = match path.as_str() {
            "package.json" => serde_json::from_str::<serde_json::Value>(contents).is_err(),
            "Cargo.toml" | "pyproject.toml" => toml::from_str::<toml::Table>(contents).is_err(),
            "pom.xml" => roxmltree::Document::parse(contents).is_err(),
            workflow if workflow.starts_with(".github/workflows/") => {
                // Deep flow nesting first: serde_yaml would refuse it too, after scanning it in quadratic time.
                flow_depth(contents) > 128 || serde_yaml::from_str::<serde_yaml::Value>(contents).is_err()
            }
            _ => false,
        };
        assert!(!malformed || warned(path), "{path} does not parse, yet no warning names it: {description:?}");
    }
    let root_paths: BTreeSet<&str> =
        tree.iter().map(|path| path.trim_start_matches("./")).filter(|path| !path.contains('/')).collect();
    let package_json = fetched.get("package.json");
    if root_paths.len() == 1
        && package_json.is_some_and(|text| serde_json::from_str::<serde_json::Value>(text).is_err())
    {
        assert_eq!(description.build_command, None, "a command from a package.json that does not parse");
        assert_eq!(description.test_command, None, "a command from a package.json that does not parse");
    }
}

/// Deepest nesting of brackets, quoted or not.
fn flow_depth(text: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0;
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// What GitHub allows in an owner or repository name, as the URL reader promises.
fn is_github_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
