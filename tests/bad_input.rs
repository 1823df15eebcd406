//! Malformed and hostile manifests never panic detection or dependency extraction, and give sensible results; the
//! dependency graph of a very large organization, cycles included, is computed without recursion and names its
//! cycles. Pure: no server.
//!
//! Three layers: the committed fuzz corpus (`fuzz/corpus/`) replayed through the fuzz targets' own code, so that
//! its regression value does not depend on nightly; property tests that mutate that corpus and build hostile
//! inputs on purpose (deep nesting, huge files, invalid UTF-8, odd unicode, path-like names, duplicate keys); and
//! graphs of 10,000 repositories.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_targets;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use infinity_orchestrator::plan::dependencies::repository_dependencies;
use infinity_orchestrator::plan::depgraph::DependencyGraph;
use infinity_orchestrator::plan::detect::{describe, manifests_to_fetch, Ecosystem, RepositoryDescription};
use proptest::prelude::*;

fn corpus_dir(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("reading fuzz/corpus/{target}: {e}"))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, std::fs::read(&path).expect("reading a corpus file"))
        })
        .collect();
    files.sort();
    files
}

/// Describes one repository from `(path, contents)` files, fetching only what discovery would.
fn describe_files(files: &[(&str, &str)]) -> RepositoryDescription {
    let tree: Vec<String> = files.iter().map(|(path, _)| (*path).to_owned()).collect();
    let wanted = manifests_to_fetch(&tree);
    let fetched: BTreeMap<String, String> = files
        .iter()
        .filter(|(path, _)| wanted.iter().any(|w| w == path))
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect();
    describe(&tree, &fetched, None)
}

// ---------------------------------------------------------------------------------------------------------------
// The committed corpus, on stable.

#[test]
fn every_committed_fuzz_input_replays_without_a_panic_or_a_broken_invariant() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, run) in fuzz_targets::TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        for (name, data) in files {
            replayed += 1;
            if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
                let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
                failures.push(format!("fuzz/corpus/{target}/{name}: {message}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {replayed} corpus inputs failed:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------------------------
// Property tests: the corpus mutated, and hostile inputs built on purpose.

/// A corpus input of any target, with its target's entry point.
fn seeded_input() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let seeds: Vec<(usize, Vec<u8>)> = fuzz_targets::TARGETS
        .iter()
        .enumerate()
        .flat_map(|(index, (target, _))| corpus(target).into_iter().map(move |(_, data)| (index, data)))
        .collect();
    proptest::sample::select(seeds)
}

/// One edit of a byte string: insert, delete, overwrite, duplicate a slice, or splice in a hostile token.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Overwrite(usize, u8),
    Duplicate(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..8),
        proptest::sample::select(vec![
            b"\0".to_vec(),
            b"\x1e".to_vec(),
            b"\xff\xfe".to_vec(),
            b"\xed\xa0\x80".to_vec(),
            "\u{202e}".as_bytes().to_vec(),
            "\u{200b}".as_bytes().to_vec(),
            "\u{feff}".as_bytes().to_vec(),
            "e\u{301}\u{301}\u{301}".as_bytes().to_vec(),
            b"../".to_vec(),
            b"/..".to_vec(),
            b"${".to_vec(),
            b"[[".to_vec(),
            b"{\"".to_vec(),
            b"<!DOCTYPE x [<!ENTITY a \"aa\">]>".to_vec(),
            b"&a;".to_vec(),
            b"*anchor".to_vec(),
            b"&anchor ".to_vec(),
            b"\"\"\"".to_vec(),
            b"\\u0000".to_vec(),
            b"github:".to_vec(),
            b"git@github.com:".to_vec(),
            b"https://github.com/acme/".to_vec(),
        ]),
    ];
    prop_oneof![
        (any::<usize>(), token).prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Overwrite(at, byte)),
        (any::<usize>(), 1..256usize, 1..16usize).prop_map(|(at, len, times)| Edit::Duplicate(at, len, times)),
    ]
}

fn apply(data: &mut Vec<u8>, edit: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match edit {
        Edit::Insert(i, bytes) => {
            let i = at(*i, data.len());
            data.splice(i..i, bytes.iter().copied());
        }
        Edit::Delete(i, n) => {
            let i = at(*i, data.len());
            let end = (i + n).min(data.len());
            data.drain(i..end);
        }
        Edit::Overwrite(i, byte) if !data.is_empty() => {
            let i = *i % data.len();
            data[i] = *byte;
        }
        Edit::Overwrite(..) => data.push(0),
        Edit::Duplicate(i, n, times) => {
            let i = at(*i, data.len());
            let end = (i + n).min(data.len());
            let slice = data[i..end].to_vec();
            for _ in 0..*times {
                data.splice(end..end, slice.iter().copied());
            }
        }
    }
}

/// How deeply a document nests, in the syntax of each format that has nesting.
fn nested(format: usize, depth: usize) -> (String, String) {
    match format {
        0 => ("package.json".into(), format!("{{\"name\":\"x\",\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth))),
        1 => ("package.json".into(), format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth))),
        2 => {
            ("Cargo.toml".into(), format!("[package]\nname = \"x\"\na = {}{}\n", "[".repeat(depth), "]".repeat(depth)))
        }
        3 => (
            "Cargo.toml".into(),
            format!("[package]\nname = \"x\"\na = {}1{}\n", "{b = ".repeat(depth), "}".repeat(depth)),
        ),
        4 => (
            "pyproject.toml".into(),
            format!("[project]\nname = \"x\"\ndependencies = {}{}\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        5 => ("pom.xml".into(), format!("<project>{}{}</project>", "<a>".repeat(depth), "</a>".repeat(depth))),
        6 => (".github/workflows/ci.yml".into(), format!("on: {}{}\n", "[".repeat(depth), "]".repeat(depth))),
        7 => (
            ".github/workflows/ci.yml".into(),
            format!("on:\n{}", (0..depth.min(2000)).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect::<String>()),
        ),
        8 => ("pnpm-workspace.yaml".into(), format!("packages: {}{}\n", "{a: ".repeat(depth), "}".repeat(depth))),
        9 => (
            "build.gradle.kts".into(),
            format!("dependencies {}implementation(\"g:a:1\"){}\n", "{ ".repeat(depth), " }".repeat(depth)),
        ),
        10 => (
            "setup.py".into(),
            format!("setup(name=\"x\", install_requires={}\"a\"{})\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        _ => ("go.mod".into(), format!("module x\nrequire {}\n", "(".repeat(depth))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// The corpus mutated by a few edits at a time, through every fuzz target's checks: a small fuzzer on stable.
    #[test]
    fn mutated_corpus_inputs_never_panic((target, seed) in seeded_input(), edits in proptest::collection::vec(edit(), 1..6)) {
        let mut data = seed;
        for edit in &edits {
            apply(&mut data, edit);
        }
        (fuzz_targets::TARGETS[target].1)(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Nesting far past what any parser recurses into is refused as a warning (or read), never a stack overflow.
    #[test]
    fn deeply_nested_documents_are_warnings_not_stack_overflows(format in 0..12usize, depth in prop_oneof![1..200usize, 200..100_000usize]) {
        let (path, text) = nested(format, depth);
        let started = Instant::now();
        fuzz_targets::manifest(format!("{path}\n{text}").as_bytes());
        // A parser that scans nesting in quadratic time (the YAML scanner did) stalls discovery on one file.
        prop_assert!(started.elapsed() < Duration::from_secs(10), "{} levels of {}: {:?}", depth, path, started.elapsed());
    }

    /// Text that is not UTF-8, read lossily as discovery reads it, inside otherwise valid manifests.
    #[test]
    fn invalid_utf8_inside_valid_manifests_is_read_or_warned_about((_, seed) in seeded_input(), garbage in proptest::collection::vec(128u8..=255, 1..16), at in any::<usize>()) {
        let mut data = seed;
        let at = at % (data.len() + 1);
        data.splice(at..at, garbage);
        fuzz_targets::manifest(&data);
        fuzz_targets::repository(&data);
    }

    /// Repository names and manifest paths that look like paths, escapes or nothing at all.
    #[test]
    fn path_like_names_stay_inside_the_repository(
        names in proptest::collection::vec(prop_oneof![
            Just("..".to_owned()), Just(".".to_owned()), Just("".to_owned()), Just("/".to_owned()),
            Just("../../etc".to_owned()), Just("a/../../b".to_owned()), Just("\\..\\x".to_owned()),
            Just("%2e%2e".to_owned()), Just("C:\\x".to_owned()), Just("\u{202e}txt.exe".to_owned()),
            "[a-z./\\\\]{0,12}",
        ], 1..6),
        member_glob in prop_oneof![Just("*".to_owned()), Just("../*".to_owned()), Just("**".to_owned()), Just("/**/..".to_owned())],
    ) {
        let members: Vec<String> = names.iter().map(|name| format!("\"{}\"", name.replace('\\', "\\\\"))).collect();
        let mut files: Vec<(String, String)> = vec![
            ("Cargo.toml".into(), format!("[workspace]\nmembers = [{}, \"{member_glob}\"]\n", members.join(", "))),
            ("package.json".into(), format!("{{\"name\":\"r\",\"workspaces\":[{}]}}", members.join(", "))),
        ];
        for name in &names {
            files.push((format!("{name}/Cargo.toml"), "[package]\nname = \"m\"\n[dependencies]\nx = { path = \"../../..\" }\n".into()));
            files.push((format!("{name}/package.json"), "{\"name\":\"m\"}".into()));
        }
        let data: Vec<u8> = files.iter().flat_map(|(p, c)| [p.as_str(), c.as_str()]).collect::<Vec<_>>().join("\0").into_bytes();
        fuzz_targets::repository(&data);
        let records: Vec<String> = names.iter().map(|name| format!("{name}\nCargo.toml\0[package]\nname = \"{}\"\n", name.replace(['"', '\\'], ""))).collect();
        fuzz_targets::dependencies(records.join("\x1e").as_bytes());
    }
}

#[test]
fn unicode_names_are_kept_exactly_or_not_at_all() {
    let name = "e\u{301}-\u{202e}lib\u{200b}";
    let description = describe_files(&[
        ("Cargo.toml", &format!("[package]\nname = \"{name}\"\n[dependencies]\n\"\u{1F600}\" = \"1\"\n")),
        (
            "package.json",
            &format!("{{\"name\": \"{name}\", \"dependencies\": {{\"\u{0430}cme\": \"github:acme/\u{0430}cme\"}}}}"),
        ),
    ]);
    let produced: BTreeSet<&str> = description.produces.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(produced, BTreeSet::from([name]), "{description:?}");
    // A Cyrillic `а` is not an ASCII `a`: the spec names no GitHub repository, so no edge can come of it.
    let cyrillic = description.consumes.iter().find(|d| d.name == "\u{0430}cme").expect("the npm dependency");
    assert_eq!(cyrillic.github, None);
}

#[test]
fn duplicate_keys_follow_each_format() {
    // JSON allows them, and npm (JSON.parse) keeps the last: so does detection.
    let description = describe_files(&[(
        "package.json",
        r#"{"name": "first", "name": "second", "scripts": {"test": "old"}, "scripts": {"build": "tsc"}}"#,
    )]);
    let names: Vec<&str> = description.produces.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["second"]);
    assert_eq!(description.build_command.as_deref(), Some("npm install && npm run build"));
    assert_eq!(description.test_command, None, "the first scripts object is gone, as for npm");
    // TOML and YAML forbid them: a warning naming the file, and nothing read from it.
    let description = describe_files(&[("Cargo.toml", "[package]\nname = \"a\"\nname = \"b\"\n")]);
    assert_eq!(description.warnings.len(), 1, "{description:?}");
    assert_eq!(description.warnings[0].file, "Cargo.toml");
    assert!(description.warnings[0].message.contains("duplicate key"), "{}", description.warnings[0].message);
    assert!(description.produces.is_empty());
    let description = describe_files(&[(".github/workflows/ci.yml", "on: push\non: workflow_dispatch\njobs: {}\n")]);
    assert_eq!(description.warnings.len(), 1, "{description:?}");
    assert!(description.workflows.is_empty(), "a workflow that does not parse is not dispatchable");
}

#[test]
fn a_malformed_package_json_is_a_warning_not_a_command() {
    for text in ["{", "{\"scripts\": {\"build\": \"rm -rf /\"", "[]]", "\u{feff}{}", "{\"name\": \"a\"} trailing", ""] {
        let description = describe_files(&[("package.json", text)]);
        if serde_json::from_str::<serde_json::Value>(text).is_ok() {
            continue;
        }
        assert_eq!(description.warnings.len(), 1, "{text:?}: {description:?}");
        assert_eq!(description.warnings[0].file, "package.json");
        assert_eq!((description.build_command, description.test_command), (None, None), "{text:?}");
    }
}

/// Huge manifests are read in time proportional to their size: no quadratic blow-up a hostile repository could use
/// to stall discovery.
#[test]
fn huge_manifests_are_read_in_bounded_time() {
    let count = 20_000;
    let dependencies: Vec<String> = (0..count).map(|i| format!("\"dep-{i}\": \"^1.0.{i}\"")).collect();
    let package_json = format!("{{\"name\": \"big\", \"dependencies\": {{{}}}}}", dependencies.join(", "));
    let requirements: String = (0..count).map(|i| format!("package-{i}>=1.{i}\n")).collect();
    let go_mod = format!(
        "module github.com/acme/big\nrequire (\n{})\n",
        (0..count).map(|i| format!("\tgithub.com/acme/m{i} v1.0.{i}\n")).collect::<String>()
    );
    let gradle: String = (0..count).map(|i| format!("implementation(\"com.acme:a{i}:1\") ")).collect();
    let pom = format!(
        "<project><groupId>g</groupId><artifactId>a</artifactId><dependencies>{}</dependencies></project>",
        (0..count)
            .map(|i| format!("<dependency><groupId>g</groupId><artifactId>d{i}</artifactId></dependency>"))
            .collect::<String>()
    );
    let garbage: String = "\u{fffd}{[<\"'=:".repeat(500_000);
    for (path, text, expected) in [
        ("package.json", package_json.as_str(), Some((Ecosystem::Npm, count))),
        ("requirements.txt", requirements.as_str(), Some((Ecosystem::Python, count))),
        ("go.mod", go_mod.as_str(), Some((Ecosystem::Go, count))),
        ("build.gradle.kts", gradle.as_str(), Some((Ecosystem::Maven, 1))),
        ("pom.xml", pom.as_str(), Some((Ecosystem::Maven, count))),
        ("Cargo.toml", garbage.as_str(), None),
        ("Makefile", garbage.as_str(), None),
    ] {
        let started = Instant::now();
        let description = describe_files(&[(path, text)]);
        let elapsed = started.elapsed();
        // Generous for a debug build on a loaded machine; a quadratic reader takes minutes here.
        assert!(elapsed < Duration::from_secs(20), "{path} of {} bytes took {elapsed:?}", text.len());
        if let Some((ecosystem, at_least)) = expected {
            let consumed = description.consumes.iter().filter(|d| d.ecosystem == ecosystem).count();
            assert!(consumed >= at_least, "{path}: {consumed} dependencies read");
        } else {
            fuzz_targets::manifest(format!("{path}\n{text}").as_bytes());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Very large organizations and cycles.

/// `count` Rust repositories, `r00001` depending on `r00000` and so on; with `closed`, `r00000` depends on the last,
/// closing one cycle through all of them.
fn chain_of_crates(count: usize, closed: bool) -> BTreeMap<String, RepositoryDescription> {
    (0..count)
        .map(|i| {
            let dependency = match (i, closed) {
                (0, false) => None,
                (0, true) => Some(count - 1),
                _ => Some(i - 1),
            };
            let mut manifest = format!("[package]\nname = \"crate-{i:05}\"\n");
            if let Some(d) = dependency {
                manifest.push_str(&format!("[dependencies]\ncrate-{d:05} = \"1\"\n"));
            }
            (format!("r{i:05}"), describe_files(&[("Cargo.toml", &manifest)]))
        })
        .collect()
}

fn graph_of(found: &infinity_orchestrator::plan::dependencies::DependencyGraph) -> DependencyGraph {
    DependencyGraph::new(
        found.dependencies.iter().map(|(name, edges)| (name.clone(), edges.iter().map(|e| e.repository.clone()))),
    )
}

#[test]
fn ten_thousand_repositories_in_one_chain_and_in_one_cycle() {
    let count = 10_000;
    let found = repository_dependencies("acme", &chain_of_crates(count, false));
    let graph = graph_of(&found);
    assert_eq!(graph.len(), count);
    let order = graph.topological_order().expect("a chain has an order");
    assert_eq!(order.first(), Some(&"r00000"));
    assert_eq!(order.last(), Some(&"r09999"));
    assert_eq!(graph.levels().expect("levels").len(), count, "one repository per level");
    assert_eq!(graph.transitive_dependents("r00000").len(), count - 1);
    let remaining = graph.longest_remaining_path(|_| 1).expect("no cycle");
    assert_eq!(remaining["r00000"], count as u64);
    assert!(graph.cycles().is_empty());
    fuzz_targets::check_graph(&graph);

    let found = repository_dependencies("acme", &chain_of_crates(count, true));
    let graph = graph_of(&found);
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].members.len(), count);
    assert_eq!(cycles[0].path.len(), count, "the only way back is all the way round");
    assert_eq!(cycles[0].path[..3], ["r00000", "r09999", "r09998"]);
    let error = graph.topological_order().expect_err("a cycle has no order");
    assert!(error.to_string().starts_with("dependency cycle: r00000 → r09999 → r09998 → "), "{error}");
    assert!(error.to_string().ends_with("r00001 → r00000"));
    assert!(graph.levels().is_err() && graph.longest_remaining_path(|_| 1).is_err());
    fuzz_targets::check_graph(&graph);
}

#[test]
fn ten_thousand_repositories_with_thousands_of_cycles_and_one_hub() {
    // Pairs (2k, 2k+1) depend on each other: 2,500 two-cycles; every repository also depends on the hub r00000
    // through an npm package of the same name, and r00000 depends on nothing.
    let count = 10_000;
    let repositories: BTreeMap<String, RepositoryDescription> = (0..count)
        .map(|i| {
            let partner = if i % 2 == 0 { i + 1 } else { i - 1 };
            let manifest = if i == 0 || partner == 0 {
                format!("{{\"name\": \"pkg-{i}\"}}")
            } else if i < 5_000 {
                format!("{{\"name\": \"pkg-{i}\", \"dependencies\": {{\"pkg-{partner}\": \"1\", \"pkg-0\": \"1\"}}}}")
            } else {
                format!("{{\"name\": \"pkg-{i}\", \"dependencies\": {{\"pkg-0\": \"1\"}}}}")
            };
            (format!("r{i:05}"), describe_files(&[("package.json", &manifest)]))
        })
        .collect();
    let found = repository_dependencies("acme", &repositories);
    let graph = graph_of(&found);
    assert_eq!(graph.dependents_of("r00000").len(), count - 2, "everyone but itself and its partner");
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 5_000 / 2 - 1, "pairs below 5,000, but not the hub's");
    for cycle in &cycles {
        assert_eq!(cycle.members.len(), 2, "{cycle}");
    }
    assert_eq!(cycles[0].to_string(), "r00002 → r00003 → r00002");
    fuzz_targets::check_graph(&graph);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// On random graphs, cycles are exactly the strongly connected components a brute-force reachability finds.
    #[test]
    fn cycles_are_exactly_the_strongly_connected_components(
        n in 1..40usize,
        edges in proptest::collection::vec((0..40usize, 0..40usize), 0..120),
    ) {
        let name = |i: usize| format!("n{i:02}");
        let mut adjacency: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for (from, to) in edges {
            adjacency[from % n].insert(to % n);
        }
        let graph = DependencyGraph::new((0..n).map(|i| (name(i), adjacency[i].iter().map(|&j| name(j)).collect::<Vec<_>>())));
        fuzz_targets::check_graph(&graph);
        // reach[i][j]: j reachable from i in one or more steps.
        let mut reach: Vec<Vec<bool>> = (0..n).map(|i| (0..n).map(|j| adjacency[i].contains(&j)).collect()).collect();
        for k in 0..n {
            let from_k = reach[k].clone();
            for row in reach.iter_mut().filter(|row| row[k]) {
                for (to, reachable) in row.iter_mut().zip(&from_k) {
                    *to |= *reachable;
                }
            }
        }
        let mut expected: Vec<Vec<String>> = Vec::new();
        for (i, row) in reach.iter().enumerate() {
            if !row[i] || expected.iter().any(|c| c.contains(&name(i))) {
                continue;
            }
            expected.push((0..n).filter(|&j| j == i || (row[j] && reach[j][i])).map(name).collect());
        }
        expected.sort();
        let mut found: Vec<Vec<String>> = graph.cycles().into_iter().map(|c| c.members).collect();
        found.sort();
        prop_assert_eq!(found, expected);
    }
}
