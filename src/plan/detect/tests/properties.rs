//! Parsers never panic, whatever the bytes: each manifest kind gets arbitrary text, and arbitrary text shaped
//! like its grammar.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::{describe, manifests_to_fetch};
use crate::plan::detect::github_repository;

const MANIFESTS: &[&str] = &[
    "package.json",
    "Cargo.toml",
    "go.mod",
    "pom.xml",
    "requirements.txt",
    "build.gradle",
    "build.gradle.kts",
    "settings.gradle.kts",
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "Makefile",
    "CMakeLists.txt",
    "pnpm-workspace.yaml",
    "gradle/libs.versions.toml",
];

/// Text made of the characters manifests are made of, so the parsers get past their first byte.
fn manifest_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("=".to_owned()),
            Just(":".to_owned()),
            Just("\n".to_owned()),
            Just("\t".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("<project>".to_owned()),
            Just("</dependency>".to_owned()),
            Just("${".to_owned()),
            Just("require (".to_owned()),
            Just("replace ".to_owned()),
            Just("=>".to_owned()),
            Just("-r ".to_owned()),
            Just("-e git+https://github.com/".to_owned()),
            Just("#egg=".to_owned()),
            Just("implementation(".to_owned()),
            Just("libs.".to_owned()),
            Just("include(".to_owned()),
            Just("[workspace]".to_owned()),
            Just("members".to_owned()),
            Just("workspace = true".to_owned()),
            Just("\"dependencies\"".to_owned()),
            Just("@".to_owned()),
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just("é".to_owned()),
            Just("..".to_owned()),
            "[a-z0-9._-]{0,8}",
        ],
        0..80,
    )
    .prop_map(|pieces| pieces.concat())
}

fn describe_single(path: &str, text: String) {
    let tree = vec![path.to_owned(), "crates/a/Cargo.toml".to_owned(), "packages/a/package.json".to_owned()];
    let mut fetched = BTreeMap::new();
    fetched.insert(path.to_owned(), text.clone());
    // The same text as a workspace member too, to reach the member code paths.
    fetched.insert("crates/a/Cargo.toml".to_owned(), text.clone());
    fetched.insert("packages/a/package.json".to_owned(), text);
    let _ = describe(&tree, &fetched, Some("Rust"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(index in 0..MANIFESTS.len(), text in any::<String>()) {
        describe_single(MANIFESTS[index], text);
    }

    #[test]
    fn manifest_shaped_text_never_panics(index in 0..MANIFESTS.len(), text in manifest_like()) {
        describe_single(MANIFESTS[index], text);
    }

    #[test]
    fn arbitrary_bytes_read_lossily_never_panic(index in 0..MANIFESTS.len(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        describe_single(MANIFESTS[index], String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn arbitrary_trees_and_urls_never_panic(paths in proptest::collection::vec("[a-zA-Z0-9./_-]{0,40}", 0..40), url in any::<String>()) {
        let wanted = manifests_to_fetch(&paths);
        prop_assert!(wanted.len() <= super::super::MAX_FETCHED_MANIFESTS);
        let _ = describe(&paths, &BTreeMap::new(), None);
        let _ = github_repository(&url);
    }
}
