use super::super::files::{glob_matches, resolve_relative};
use crate::plan::detect::github_repository;

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
