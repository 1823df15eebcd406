use super::{consumed, describe_repository, github_of, produced, strings, BuildSystem, Ecosystem};

const WORKSPACE_ROOT: &str = r#"
[workspace]
resolver = "2"
members = ["crates/*", "tools/xtask"]
exclude = ["crates/experimental"]

[workspace.package]
edition = "2021"
publish = false

[workspace.dependencies]
serde = { version = "1", features = ["derive"] }
tokio = "1"
acme-proto = { git = "https://github.com/acme/proto-defs.git", branch = "main" }
http-client = { package = "acme-http", version = "0.4" }
"#;

const CORE: &str = r#"
[package]
name = "acme-core"
version = "0.3.0"
edition.workspace = true
publish = true

[dependencies]
serde = { workspace = true }
acme-proto.workspace = true
http-client = { workspace = true, features = ["rustls"] }
thiserror = "2"

[dev-dependencies]
proptest = "1"

[target.'cfg(unix)'.dependencies]
nix = { version = "0.29", default-features = false }

[build-dependencies]
prost-build = "0.13"
"#;

const CLI: &str = r#"
[package]
name = "acme-cli"
version = "0.3.0"
publish.workspace = true

[dependencies]
acme-core = { path = "../core", version = "0.3" }
clap = { version = "4", features = ["derive"] }
tokio = { workspace = true, features = ["full"] }
"#;

const XTASK: &str = r#"
[package]
name = "xtask"
version = "0.0.0"
publish = false
"#;

const EXPERIMENTAL: &str = r#"
[package]
name = "acme-experimental"
version = "0.0.1"
"#;

#[test]
fn workspace_with_globs_members_excludes_and_inherited_dependencies() {
    let description = describe_repository(
        &[
            ("Cargo.toml", WORKSPACE_ROOT),
            ("crates/core/Cargo.toml", CORE),
            ("crates/cli/Cargo.toml", CLI),
            ("crates/experimental/Cargo.toml", EXPERIMENTAL),
            ("tools/xtask/Cargo.toml", XTASK),
            ("fuzz/Cargo.toml", "[package]\nname = \"acme-fuzz\"\n"),
        ],
        &["Cargo.lock", "crates/core/src/lib.rs", "README.md"],
    );
    assert_eq!(description.language.as_deref(), Some("rust"));
    assert_eq!(description.build_systems, vec![BuildSystem::Cargo]);
    assert_eq!(description.build_command.as_deref(), Some("cargo build --workspace --locked"));
    assert_eq!(description.test_command.as_deref(), Some("cargo test --workspace"));
    // The excluded crate and the non-member fuzz crate are not produced; `publish.workspace = true` inherits false.
    assert_eq!(
        produced(&description, Ecosystem::Cargo),
        vec![
            ("acme-cli".into(), "crates/cli/Cargo.toml".into(), false),
            ("acme-core".into(), "crates/core/Cargo.toml".into(), true),
            ("xtask".into(), "tools/xtask/Cargo.toml".into(), false),
        ]
    );
    let core = consumed(&description, Ecosystem::Cargo)
        .into_iter()
        .filter(|(_, _, file)| file == "crates/core/Cargo.toml")
        .map(|(name, declared, _)| (name, declared))
        .collect::<Vec<_>>();
    assert_eq!(
        core,
        vec![
            ("acme-http".into(), "http-client".into()),
            ("acme-proto".into(), "acme-proto".into()),
            ("nix".into(), "nix".into()),
            ("proptest".into(), "proptest".into()),
            ("prost-build".into(), "prost-build".into()),
            ("serde".into(), "serde".into()),
            ("thiserror".into(), "thiserror".into()),
        ]
    );
    // `workspace = true` takes the git source from the root, so the member's evidence points at the org repo too.
    let proto: Vec<_> = description.consumes.iter().filter(|d| d.name == "acme-proto").collect();
    assert_eq!(proto.len(), 2, "root workspace.dependencies and the member both declare it: {proto:?}");
    assert!(proto.iter().all(|d| d.github == Some(("acme".into(), "proto-defs".into()))));
    assert!(description.warnings.is_empty(), "{:?}", description.warnings);
}

#[test]
fn single_crate_without_lockfile_and_git_dependencies_in_every_spelling() {
    let manifest = r#"
[package]
name = "billing"
version = "1.0.0"

[dependencies]
ledger = { git = "https://github.com/Acme/ledger" }
auth = { git = "ssh://git@github.com/acme/auth-rs.git", tag = "v2" }
upstream = { git = "https://gitlab.com/other/upstream" }
serde_json = "1"

[dev_dependencies]
insta = "1"

[patch.crates-io]
tokio = { git = "https://github.com/acme/tokio-fork", branch = "fix" }
"#;
    let description = describe_repository(&[("Cargo.toml", manifest)], &["src/main.rs"]);
    assert_eq!(description.build_command.as_deref(), Some("cargo build"));
    assert_eq!(description.test_command.as_deref(), Some("cargo test"));
    assert_eq!(produced(&description, Ecosystem::Cargo), vec![("billing".into(), "Cargo.toml".into(), true)]);
    assert_eq!(github_of(&description, "ledger"), Some(("Acme".into(), "ledger".into())));
    assert_eq!(github_of(&description, "auth"), Some(("acme".into(), "auth-rs".into())));
    assert_eq!(github_of(&description, "upstream"), None);
    assert_eq!(github_of(&description, "tokio"), Some(("acme".into(), "tokio-fork".into())));
    let names: Vec<String> = consumed(&description, Ecosystem::Cargo).into_iter().map(|(name, _, _)| name).collect();
    assert_eq!(names, strings(&["auth", "insta", "ledger", "serde_json", "tokio", "upstream"]));
}

#[test]
fn path_dependencies_inside_the_repository_are_members_too() {
    let root = "[package]\nname = \"app\"\n\n[dependencies]\napp-macros = { path = \"./macros\" }\n";
    let macros = "[package]\nname = \"app-macros\"\n\n[dependencies]\nsyn = \"2\"\n";
    let description = describe_repository(&[("Cargo.toml", root), ("macros/Cargo.toml", macros)], &[]);
    let names: Vec<String> = produced(&description, Ecosystem::Cargo).into_iter().map(|(name, _, _)| name).collect();
    assert_eq!(names, strings(&["app", "app-macros"]));
    assert!(consumed(&description, Ecosystem::Cargo).contains(&(
        "syn".into(),
        "syn".into(),
        "macros/Cargo.toml".into()
    )));
}
