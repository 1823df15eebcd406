use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::files::{glob_matches, resolve_relative};
use super::super::{describe, manifests_to_fetch};
use crate::plan::detect::{github_repository, reads_directory};

#[test]
fn github_urls_in_every_spelling() {
    let acme = |repository: &str| Some(("acme".to_string(), repository.to_string()));
    let cases = [
        ("https://github.com/acme/ledger", acme("ledger")),
        ("https://github.com/acme/ledger.git", acme("ledger")),
        ("https://www.github.com/acme/ledger/tree/main/sub", acme("ledger")),
        ("git+https://github.com/acme/ledger.git#semver:^1", acme("ledger")),
        ("git+https://github.com/acme/ledger.git@v1.2#egg=ledger", acme("ledger")),
        ("git+ssh://git@github.com/acme/ledger.git", acme("ledger")),
        ("ssh://git@github.com:acme/ledger.git", acme("ledger")),
        ("ssh://git@github.com:22/acme/ledger.git", acme("ledger")),
        ("git@github.com:acme/ledger.git", acme("ledger")),
        ("git://github.com/acme/ledger", acme("ledger")),
        ("github:acme/ledger#v2", acme("ledger")),
        ("https://GitHub.com/acme/ledger", acme("ledger")),
        ("https://gitlab.com/acme/ledger", None),
        ("https://github.com.evil.example/acme/ledger", None),
        ("https://github.com/acme", None),
        ("^1.2.3", None),
        ("", None),
    ];
    for (url, expected) in cases {
        assert_eq!(github_repository(url), expected, "{url}");
    }
}

#[test]
fn workspace_globs() {
    let cases = [
        ("crates/*", "crates/core", true),
        ("crates/*", "crates/core/nested", false),
        ("crates/*", "crates", false),
        ("packages/**", "packages/a/b", true),
        ("**/test/**", "apps/web/test", true),
        ("**/test/**", "apps/web/tests", false),
        ("lib-?", "lib-a", true),
        ("lib-?", "lib-ab", false),
        ("./tools/xtask/", "tools/xtask", true),
        ("*-service", "billing-service", true),
        ("*-service", "billing-services", false),
    ];
    for (pattern, path, expected) in cases {
        assert_eq!(glob_matches(pattern, path), expected, "{pattern} {path}");
    }
}

#[test]
fn pathological_globs_finish_quickly() {
    let stars = "a*".repeat(40) + "b";
    let text = "a".repeat(200);
    assert!(!glob_matches(&stars, &text));
    let double_stars = vec!["**"; 200].join("/") + "/x";
    assert!(!glob_matches(&double_stars, "a/b/c/d"));
    assert!(glob_matches(&double_stars, "a/b/c/x"));
}

#[test]
fn relative_paths_stay_inside_the_repository() {
    assert_eq!(resolve_relative("crates/cli", "../core"), Some("crates/core".into()));
    assert_eq!(resolve_relative("", "./a//b/"), Some("a/b".into()));
    assert_eq!(resolve_relative("", "../outside"), None);
}

#[test]
fn directories_detection_reads() {
    for read in ["", "src", "crates/a", "packages/scope/name/lib", ".github", ".github/workflows", "deep/a/b/c/d/e/f"] {
        assert!(reads_directory(read), "{read}");
    }
    for unread in ["node_modules", "a/node_modules/b", "vendor", ".git", ".cargo", "crates/x/target", ".github/actions"]
    {
        assert!(!reads_directory(unread), "{unread}");
    }
}

/// The blob paths a walk of the tree reads: those whose every directory detection reads.
fn walked(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter(|path| {
            let components: Vec<&str> = path.split('/').collect();
            (1..components.len()).all(|depth| reads_directory(&components[..depth].join("/")))
        })
        .cloned()
        .collect()
}

/// Describes a tree whose manifests all hold `text`.
fn described(paths: &[String], text: &str) -> super::super::RepositoryDescription {
    let fetched: BTreeMap<String, String> =
        manifests_to_fetch(paths).into_iter().map(|path| (path, text.to_owned())).collect();
    describe(paths, &fetched, None)
}

#[test]
fn a_tree_without_the_directories_detection_never_reads_describes_the_same() {
    let paths: Vec<String> = [
        "Cargo.toml",
        "Cargo.lock",
        "vendor/foo/Cargo.toml",
        "node_modules/x/src/main/kotlin/A.kt",
        "third_party/lib/test_a.py",
        ".github/workflows/ci.yml",
        ".github/actions/setup/action.yml",
        "crates/a/Cargo.toml",
        "crates/a/tests/test_x.py",
    ]
    .map(String::from)
    .to_vec();
    let text = "[package]\nname = \"a\"\n[workspace]\nmembers = [\"crates/*\"]\n";
    assert_eq!(described(&walked(&paths), text), described(&paths, text));
}

proptest! {
    #[test]
    fn walking_only_the_directories_detection_reads_never_changes_the_description(
        paths in proptest::collection::vec("(\\.github/workflows/|node_modules/|vendor/|\\.hidden/|src/main/kotlin/|crates/a/|)[a-z_]{1,8}(\\.py|\\.toml|\\.yml|\\.c|\\.json|)", 0..24),
        index in 0..4usize,
    ) {
        let names = ["Cargo.toml", "package.json", "pyproject.toml", "build.gradle"];
        let mut paths = paths;
        paths.push(names[index].to_owned());
        let text = "[project]\nname = \"x\"\n";
        prop_assert_eq!(described(&walked(&paths), text), described(&paths, text));
    }
}
