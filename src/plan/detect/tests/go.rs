use super::super::go::parse_go_mod;
use super::{consumed_names, describe_repository, github_of, produced, strings, BuildSystem, Ecosystem};

const GO_MOD: &str = r#"module github.com/acme/payments

go 1.22

toolchain go1.22.4

require (
	github.com/acme/ledger v1.4.0
	github.com/acme/auth/v2 v2.0.1 // pinned for the token format
	github.com/google/uuid v1.6.0
	golang.org/x/sync v0.7.0 // indirect
)

require github.com/stretchr/testify v1.9.0

replace github.com/acme/ledger => ../ledger

replace (
	github.com/google/uuid v1.6.0 => github.com/acme/uuid-fork v1.6.1
)

exclude github.com/old/thing v0.1.0
"#;

#[test]
fn go_mod_with_require_blocks_single_lines_and_replace() {
    let module = parse_go_mod(GO_MOD);
    assert_eq!(module.path.as_deref(), Some("github.com/acme/payments"));
    assert_eq!(
        module.requires,
        strings(&[
            "github.com/acme/ledger",
            "github.com/acme/auth/v2",
            "github.com/google/uuid",
            "github.com/stretchr/testify"
        ])
    );
    assert_eq!(module.replacements, strings(&["github.com/acme/uuid-fork"]));
}

#[test]
fn go_repository_with_nested_module_and_testdata_ignored() {
    let tools = "module github.com/acme/payments/tools\n\nrequire github.com/acme/codegen v0.1.0\n";
    let description = describe_repository(
        &[("go.mod", GO_MOD), ("tools/go.mod", tools), ("internal/testdata/go.mod", "module example.com/fixture\n")],
        &["go.sum", "main.go"],
    );
    assert_eq!(description.language.as_deref(), Some("go"));
    assert_eq!(description.build_systems, vec![BuildSystem::Go]);
    assert_eq!(description.build_command.as_deref(), Some("go build ./..."));
    assert_eq!(description.test_command.as_deref(), Some("go test ./..."));
    assert_eq!(
        produced(&description, Ecosystem::Go),
        vec![
            ("github.com/acme/payments".into(), "go.mod".into(), true),
            ("github.com/acme/payments/tools".into(), "tools/go.mod".into(), true),
        ]
    );
    assert!(consumed_names(&description, Ecosystem::Go).contains(&"github.com/acme/codegen".to_string()));
    assert!(!consumed_names(&description, Ecosystem::Go).contains(&"golang.org/x/sync".to_string()), "indirect");
    assert_eq!(github_of(&description, "github.com/acme/auth/v2"), Some(("acme".into(), "auth".into())));
    assert_eq!(github_of(&description, "golang.org/x/sync"), None);
}

#[test]
fn go_workspace_without_a_root_module() {
    let description = describe_repository(
        &[
            ("services/api/go.mod", "module github.com/acme/mono/services/api\n"),
            ("libs/db/go.mod", "module github.com/acme/mono/libs/db\n"),
        ],
        &["go.work"],
    );
    assert_eq!(description.build_command.as_deref(), Some("go build ./..."));
    let modules: Vec<String> = produced(&description, Ecosystem::Go).into_iter().map(|(name, _, _)| name).collect();
    assert_eq!(modules, strings(&["github.com/acme/mono/libs/db", "github.com/acme/mono/services/api"]));
}
