use proptest::prelude::*;

use super::*;

/// Asserts that `after` is `before` with exactly `old` replaced by `new` once, and nothing else changed.
fn assert_one_change(before: &str, after: &str, old: &str, new: &str) {
    let prefix = before.bytes().zip(after.bytes()).take_while(|(a, b)| a == b).count();
    let suffix = before.bytes().rev().zip(after.bytes().rev()).take_while(|(a, b)| a == b).count();
    let suffix = suffix.min(before.len() - prefix).min(after.len() - prefix);
    let removed = &before[prefix..before.len() - suffix];
    let added = &after[prefix..after.len() - suffix];
    // The common prefix may eat a shared leading digit, so compare the changed region as part of old/new.
    assert!(old.contains(removed) && new.contains(added), "changed {removed:?} into {added:?}, want {old:?} → {new:?}");
    assert_eq!(after.len() as i64 - before.len() as i64, new.len() as i64 - old.len() as i64);
    assert_eq!(after.matches(new).count(), before.matches(new).count() + 1, "exactly one new requirement");
}

const CARGO: &str = r#"[package]
name = "demo"   # the crate
version = "0.1.0"

[dependencies]
# serialization
serde = { version = "1.0.100", features = ["derive"] } # pinned for msrv
tokio = { features = ["full", "version"], version = '1.20', default-features = false }
regex = "1.5"
time="=0.3.1"

[dev-dependencies] # tests only
proptest = "~1.0"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dependencies.openssl]
version = "^0.10.40"
features = ["vendored"]
"#;

#[test]
fn cargo_requirements_are_raised_in_every_form() {
    let cases = [
        ("serde", "1.0.210", "\"1.0.100\"", "\"1.0.210\""),
        ("tokio", "1.38.2", "'1.20'", "'1.38.2'"),
        ("regex", "1.5.5", "\"1.5\"", "\"1.5.5\""),
        ("time", "0.3.36", "\"=0.3.1\"", "\"=0.3.36\""),
        ("proptest", "1.4.0", "\"~1.0\"", "\"~1.4.0\""),
        ("libc", "0.2.150", "\"0.2\"", "\"0.2.150\""),
        ("openssl", "0.10.66", "\"^0.10.40\"", "\"^0.10.66\""),
    ];
    for (package, version, old, new) in cases {
        let after = raise_dependency("Cargo.toml", CARGO, package, version).unwrap();
        assert_one_change(CARGO, &after, old, new);
    }
    assert_eq!(
        raise_dependency("Cargo.toml", CARGO, "demo", "9.9.9"),
        Err(ManifestEditError::DependencyNotFound { package: "demo".into() }),
        "the package's own version is not a dependency"
    );
    assert!(matches!(
        raise_dependency("crates/x/Cargo.toml", CARGO, "regex", "1.5"),
        Err(ManifestEditError::AlreadyUpdated { .. })
    ));
}

const PACKAGE_JSON_2: &str = r#"{
  "name": "web",
  "version": "1.0.0",
  "scripts": { "test": "jest", "lodash": "echo 1.0.0" },
  "dependencies": {
    "express": "^4.17.1",
    "lodash": "4.17.11"
  },
  "devDependencies": {
    "@types/node": "~18.0.0",
    "jest": ">=27.0.0 <28"
  }
}
"#;

#[test]
fn package_json_versions_are_raised_in_their_section_only() {
    let four_spaces = PACKAGE_JSON_2.replace("  ", "    ");
    for text in [PACKAGE_JSON_2, four_spaces.as_str()] {
        let cases = [
            ("express", "4.19.2", "\"^4.17.1\"", "\"^4.19.2\""),
            ("lodash", "4.17.21", "\"4.17.11\"", "\"4.17.21\""),
            ("@types/node", "18.19.0", "\"~18.0.0\"", "\"~18.19.0\""),
            ("jest", "27.5.1", "\">=27.0.0 <28\"", "\"^27.5.1\""),
        ];
        for (package, version, old, new) in cases {
            let after = raise_dependency("web/package.json", text, package, version).unwrap();
            assert_one_change(text, &after, old, new);
        }
        assert!(matches!(
            raise_dependency("package.json", text, "web", "2.0.0"),
            Err(ManifestEditError::DependencyNotFound { .. })
        ));
    }
}

const REQUIREMENTS: &str = "# production pins\n\
-r base.txt\n\
Django==3.2.1  # LTS\n\
requests[security] >= 2.19 ; python_version >= \"3.8\"\n\
urllib3\n\
pyyaml>=5.1,<6\n\
flask @ https://example.com/flask.tar.gz\n";

#[test]
fn requirements_specifiers_are_raised_before_markers_and_comments() {
    let cases = [
        ("django", "3.2.25", "==3.2.1", "==3.2.25"),
        ("Requests", "2.31.0", ">= 2.19", ">=2.31.0"),
        ("PyYAML", "5.4", ">=5.1,<6", ">=5.4"),
        ("urllib3", "1.26.18", "urllib3", "urllib3>=1.26.18"),
    ];
    for (package, version, old, new) in cases {
        let after = raise_dependency("requirements.txt", REQUIREMENTS, package, version).unwrap();
        assert_one_change(REQUIREMENTS, &after, old, new);
    }
    assert!(matches!(
        raise_dependency("requirements.txt", REQUIREMENTS, "flask", "2.3.2"),
        Err(ManifestEditError::UnsupportedRequirement { .. })
    ));
}

const GO_MOD: &str = "module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/net v0.7.0\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.0\n\tgolang.org/x/crypto v0.1.0 // indirect\n)\n";

#[test]
fn go_mod_requires_are_raised_on_lines_and_in_blocks() {
    let cases = [
        ("golang.org/x/net", "0.17.0", "v0.7.0", "v0.17.0"),
        ("github.com/gin-gonic/gin", "v1.9.1", "v1.9.0", "v1.9.1"),
        ("golang.org/x/crypto", "0.17.0", "v0.1.0 //", "v0.17.0 //"),
    ];
    for (module, version, old, new) in cases {
        let after = raise_dependency("go.mod", GO_MOD, module, version).unwrap();
        assert_one_change(GO_MOD, &after, old, new);
    }
}

#[test]
fn multibyte_text_around_a_dependency_is_kept() {
    let text = "[dependencies]\nserde = { features = [\"é\"], ünïcode = \"ß\", version = \"1.0\" } # ✓ naïve\n";
    let after = raise_dependency("Cargo.toml", text, "serde", "1.0.5").unwrap();
    assert_eq!(after, text.replace("\"1.0\"", "\"1.0.5\""));
}

#[test]
fn refuses_unsupported_files_and_unsafe_versions() {
    assert!(matches!(raise_dependency("pom.xml", "", "x", "1"), Err(ManifestEditError::UnsupportedManifest { .. })));
    assert!(matches!(
        raise_dependency("Cargo.toml", CARGO, "regex", "1.0\"\nevil = \"1"),
        Err(ManifestEditError::InvalidVersion { .. })
    ));
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC*", package in "[a-z@/._-]{1,12}", file in 0usize..4) {
        let path = ["Cargo.toml", "package.json", "requirements.txt", "go.mod"][file];
        let _ = raise_dependency(path, &text, &package, "1.2.3");
    }

    /// A Cargo.toml of generated dependencies: raising one changes only that one's version string.
    #[test]
    fn cargo_edit_changes_only_the_target(
        deps in proptest::collection::btree_map("[a-z][a-z0-9_-]{0,8}", (0u8..3, 0u32..20, 0u32..20), 1..8),
        comment in "[ -~&&[^\"'\\[\\]]]{0,20}",
        pick in any::<proptest::sample::Index>(),
    ) {
        let mut text = format!("[package]\nname = \"x\" # {comment}\n\n[dependencies]\n");
        for (name, (form, major, minor)) in &deps {
            let line = match form {
                0 => format!("{name} = \"{major}.{minor}\"\n"),
                1 => format!("{name} = {{ version = \"^{major}.{minor}\", features = [\"std\"] }} # {comment}\n"),
                _ => format!("# {comment}\n{name} = '~{major}.{minor}'\n"),
            };
            text.push_str(&line);
        }
        let (target, (_, major, minor)) = deps.iter().nth(pick.index(deps.len())).unwrap();
        let after = raise_dependency("Cargo.toml", &text, target, "99.0.1").unwrap();
        let old_version = format!("{major}.{minor}");
        // At a line start: `t = ` would also be found inside `at = `.
        let at = text.find(&format!("\n{target} = ")).unwrap() + 1;
        let version_at = at + text[at..].find(&old_version).unwrap();
        let expected = format!("{}99.0.1{}", &text[..version_at], &text[version_at + old_version.len()..]);
        prop_assert_eq!(after, expected);
    }

    /// A package.json of generated dependencies, 2- or 4-space indented: only the target's version changes.
    #[test]
    fn npm_edit_changes_only_the_target(
        deps in proptest::collection::btree_map("[a-z][a-z0-9.-]{0,8}", (0u32..20, 0u32..20), 1..8),
        indent in prop_oneof![Just("  "), Just("    ")],
        pick in any::<proptest::sample::Index>(),
    ) {
        let body: Vec<String> = deps.iter().map(|(n, (a, b))| format!("{indent}{indent}\"{n}\": \"^{a}.{b}.0\"")).collect();
        let text = format!("{{\n{indent}\"name\": \"x\",\n{indent}\"dependencies\": {{\n{}\n{indent}}}\n}}\n", body.join(",\n"));
        let (target, (a, b)) = deps.iter().nth(pick.index(deps.len())).unwrap();
        let after = raise_dependency("package.json", &text, target, "99.0.1").unwrap();
        let expected = text.replace(&format!("\"{target}\": \"^{a}.{b}.0\""), &format!("\"{target}\": \"^99.0.1\""));
        prop_assert_eq!(after, expected);
    }

    /// On any input, a successful edit changes each line only inside one run of version text: no quote, newline,
    /// comment, marker, key or structure character is removed or added.
    #[test]
    fn edits_touch_only_version_text(
        lines in proptest::collection::vec(prop_oneof![
            "[ -~]{0,40}",
            "[ -~]{0,8}".prop_map(|noise| format!("pkg = \"1.0\" #{noise}")),
            "[ -~]{0,8}".prop_map(|noise| format!("pkg = {{ version = \"^1\", x = \"{noise}\" }}")),
            "[ -~]{0,8}".prop_map(|noise| format!("  \"pkg\": \"~1.2.3\",{noise}")),
            "[ -~]{0,8}".prop_map(|noise| format!("pkg[x] >= 1.0 ; {noise}")),
            "[ -~]{0,8}".prop_map(|noise| format!("require pkg v1.0.0 {noise}")),
            Just("[dependencies]".to_owned()),
            Just("{ \"dependencies\": {".to_owned()),
        ], 0..12),
        file in 0usize..4,
    ) {
        let target = "pkg";
        let path = ["Cargo.toml", "package.json", "requirements.txt", "go.mod"][file];
        let text = lines.join("\n");
        if let Ok(after) = raise_dependency(path, &text, target, "9.8.7") {
            let before_lines: Vec<&str> = text.split('\n').collect();
            let after_lines: Vec<&str> = after.split('\n').collect();
            prop_assert_eq!(before_lines.len(), after_lines.len());
            for (old, new) in before_lines.iter().zip(&after_lines) {
                let prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
                let suffix = old[prefix..].bytes().rev().zip(new[prefix..].bytes().rev()).take_while(|(a, b)| a == b).count();
                let removed = &old[prefix..old.len() - suffix];
                let added = &new[prefix..new.len() - suffix];
                for part in [removed, added] {
                    prop_assert!(!part.contains(['"', '\'', '#', ';', '{', '}', '[', ']', ':', '@']), "{old:?} -> {new:?}");
                }
            }
        }
    }

    /// requirements.txt and go.mod of generated entries: only the target's version changes.
    #[test]
    fn pip_and_go_edits_change_only_the_target(
        deps in proptest::collection::btree_map("[a-z][a-z0-9]{0,8}", (0u32..20, 0u32..20), 1..8),
        pick in any::<proptest::sample::Index>(),
    ) {
        let (target, (a, b)) = deps.iter().nth(pick.index(deps.len())).unwrap();
        let pip: String = deps.iter().map(|(n, (a, b))| format!("{n}=={a}.{b}  # pinned\n")).collect();
        let after = raise_dependency("requirements.txt", &pip, target, "99.0.1").unwrap();
        let expected = pip.replace(&format!("\n{target}=={a}.{b} "), &format!("\n{target}==99.0.1 "));
        let expected = if pip.starts_with(&format!("{target}==")) {
            pip.replacen(&format!("{target}=={a}.{b} "), &format!("{target}==99.0.1 "), 1)
        } else {
            expected
        };
        prop_assert_eq!(after, expected);

        let requires: String = deps.iter().map(|(n, (a, b))| format!("\texample.com/{n} v{a}.{b}.0 // indirect\n")).collect();
        let go = format!("module m\n\nrequire (\n{requires})\n");
        let after = raise_dependency("go.mod", &go, &format!("example.com/{target}"), "99.0.1").unwrap();
        let expected = go.replace(&format!("example.com/{target} v{a}.{b}.0 "), &format!("example.com/{target} v99.0.1 "));
        prop_assert_eq!(after, expected);
    }
}

#[test]
fn lockfiles_map_to_the_manifest_beside_them() {
    let cases = [
        ("package.json", Some("package.json")),
        ("web/package-lock.json", Some("web/package.json")),
        ("yarn.lock", Some("package.json")),
        ("pnpm-lock.yaml", Some("package.json")),
        ("Cargo.lock", Some("Cargo.toml")),
        ("crates/a/Cargo.toml", Some("crates/a/Cargo.toml")),
        ("go.sum", Some("go.mod")),
        ("requirements-dev.txt", Some("requirements-dev.txt")),
        ("poetry.lock", None),
        ("pom.xml", None),
    ];
    for (alert_path, expected) in cases {
        assert_eq!(editable_manifest(alert_path).as_deref(), expected, "{alert_path}");
    }
}
