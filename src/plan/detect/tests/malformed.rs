//! A manifest that does not parse is a warning naming the file and where; the rest is still described.

use super::{consumed_names, describe_repository, produced, strings, Ecosystem};

#[test]
fn truncated_package_json_is_a_warning_and_the_cargo_workspace_still_counts() {
    let description = describe_repository(
        &[
            ("package.json", "{\n  \"name\": \"web\",\n  \"scripts\": {\n    \"build\": \"vite build\"\n"),
            ("Cargo.toml", "[package]\nname = \"engine\"\n[dependencies]\nserde = \"1\"\n"),
        ],
        &["package-lock.json"],
    );
    assert_eq!(description.warnings.len(), 1, "{:?}", description.warnings);
    let warning = &description.warnings[0];
    assert_eq!(warning.file, "package.json");
    assert!(warning.message.starts_with("invalid JSON: EOF while parsing"), "{}", warning.message);
    assert!(warning.message.contains("line 5"), "{}", warning.message);
    assert_eq!(description.language.as_deref(), Some("rust"));
    assert_eq!(description.build_command.as_deref(), Some("cargo build"));
    assert_eq!(consumed_names(&description, Ecosystem::Cargo), strings(&["serde"]));
    assert!(produced(&description, Ecosystem::Npm).is_empty());
}

#[test]
fn malformed_workspace_member_only_loses_that_member() {
    let root = "[workspace]\nmembers = [\"crates/*\"]\n";
    let good = "[package]\nname = \"good\"\n";
    let bad = "[package]\nname = \"bad\nversion = \"0.1.0\"\n";
    let description = describe_repository(
        &[("Cargo.toml", root), ("crates/good/Cargo.toml", good), ("crates/bad/Cargo.toml", bad)],
        &[],
    );
    assert_eq!(description.warnings.len(), 1, "{:?}", description.warnings);
    assert_eq!(description.warnings[0].file, "crates/bad/Cargo.toml");
    assert!(
        description.warnings[0].message.starts_with("invalid TOML at line 2, column"),
        "{}",
        description.warnings[0].message
    );
    let names: Vec<String> = produced(&description, Ecosystem::Cargo).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, strings(&["good"]));
    assert_eq!(description.build_command.as_deref(), Some("cargo build --workspace"));
}

#[test]
fn toml_syntax_error_in_pyproject_keeps_requirements() {
    let description = describe_repository(
        &[("pyproject.toml", "[project\nname = \"svc\"\n"), ("requirements.txt", "flask>=3\n")],
        &["tests/test_app.py"],
    );
    assert_eq!(description.warnings.len(), 1);
    assert_eq!(description.warnings[0].file, "pyproject.toml");
    assert!(
        description.warnings[0].message.starts_with("invalid TOML at line 1, column"),
        "{}",
        description.warnings[0].message
    );
    assert_eq!(consumed_names(&description, Ecosystem::Python), strings(&["flask"]));
    assert_eq!(description.build_command.as_deref(), Some("pip install -r requirements.txt"));
    assert_eq!(description.test_command.as_deref(), Some("pytest"));
}

#[test]
fn unclosed_xml_module_is_a_warning_and_the_parent_still_counts() {
    let parent = "<project><groupId>com.acme</groupId><artifactId>parent</artifactId><modules><module>svc</module></modules></project>";
    let broken = "<project>\n  <groupId>com.acme</groupId>\n  <artifactId>svc</artifactId>\n  <dependencies>\n";
    let description = describe_repository(&[("pom.xml", parent), ("svc/pom.xml", broken)], &[]);
    assert_eq!(description.warnings.len(), 1, "{:?}", description.warnings);
    assert_eq!(description.warnings[0].file, "svc/pom.xml");
    assert!(description.warnings[0].message.starts_with("invalid XML at line"), "{}", description.warnings[0].message);
    assert_eq!(produced(&description, Ecosystem::Maven), vec![("com.acme:parent".into(), "pom.xml".into(), true)]);
    assert_eq!(description.build_command.as_deref(), Some("mvn -B package"));
}

#[test]
fn go_mod_without_module_and_bad_pnpm_workspace() {
    let description = describe_repository(
        &[
            ("go.mod", "go 1.22\nrequire github.com/acme/lib v1.0.0\n"),
            ("package.json", r#"{"name": "root", "scripts": {"test": "vitest"}}"#),
            ("pnpm-workspace.yaml", "packages: [unclosed\n"),
        ],
        &["pnpm-lock.yaml"],
    );
    let files: Vec<&str> = description.warnings.iter().map(|w| w.file.as_str()).collect();
    assert_eq!(files, vec!["go.mod", "pnpm-workspace.yaml"]);
    assert_eq!(consumed_names(&description, Ecosystem::Go), strings(&["github.com/acme/lib"]));
    assert_eq!(description.language.as_deref(), Some("go"));
}

#[test]
fn warnings_become_one_bounded_condition_message() {
    let description = describe_repository(&[("package.json", "{\"name\": "), ("Cargo.toml", "[package\n")], &[]);
    let message = description.warning_message(1024).expect("two warnings");
    assert!(message.starts_with("Cargo.toml: invalid TOML at line 1"), "{message}");
    assert!(message.contains("; package.json: invalid JSON: EOF while parsing"), "{message}");
    let short = description.warning_message(20).expect("two warnings");
    assert_eq!(short.chars().count(), 20);
    assert!(short.ends_with('…'));
    assert_eq!(describe_repository(&[("go.mod", "module x\n")], &[]).warning_message(1024), None);
}

#[test]
fn yaml_nested_past_the_parser_limit_is_refused_before_it_is_scanned() {
    // 100,000 levels of `[`: the YAML scanner takes time quadratic in the depth (minutes for this file), and the
    // parser refuses anything past 128 levels anyway, so the depth is checked first.
    let deep = format!("on: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let started = std::time::Instant::now();
    let description = describe_repository(&[(".github/workflows/deep.yml", &deep)], &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(description.warnings.len(), 1, "{:?}", description.warnings);
    assert_eq!(
        description.warnings[0].message,
        "invalid YAML: brackets nested deeper than 128 levels at line 1 column 133"
    );
    // 128 levels are handed to the parser, which reads them.
    let shallow = format!("on: {}workflow_dispatch{}\n", "[".repeat(128), "]".repeat(128));
    let description = describe_repository(&[(".github/workflows/ok.yml", &shallow)], &[]);
    assert!(!description.warnings.iter().any(|w| w.message.contains("deeper than")), "{:?}", description.warnings);
}
