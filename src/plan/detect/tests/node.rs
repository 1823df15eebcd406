use super::{consumed, describe_repository, describe_with_language, github_of, produced, BuildSystem, Ecosystem};

const PNPM_ROOT: &str = r#"{
  "name": "acme-web-monorepo",
  "private": true,
  "packageManager": "pnpm@9.12.0",
  "scripts": {
    "lint": "eslint .",
    "test": "vitest run"
  },
  "devDependencies": {
    "typescript": "^5.6.0",
    "vitest": "^2.1.0"
  }
}"#;

const PNPM_WORKSPACE: &str = "packages:\n  - 'packages/*'\n  - 'apps/**'\n  - '!**/test/**'\n";

const UI: &str = r#"{
  "name": "@acme/ui",
  "version": "2.3.1",
  "scripts": { "build": "tsup src/index.ts" },
  "dependencies": {
    "react": "^18.3.0",
    "@acme/tokens": "workspace:*",
    "@acme/design-tokens": "github:acme/design-tokens#v1.2.0"
  },
  "peerDependencies": { "react-dom": "^18" },
  "optionalDependencies": { "fsevents": "^2.3.3" }
}"#;

const TOKENS: &str = r#"{ "name": "@acme/tokens", "version": "1.0.0", "main": "index.js" }"#;

const DASHBOARD: &str = r#"{
  "name": "dashboard",
  "private": true,
  "scripts": { "build": "next build", "test": "jest" },
  "dependencies": {
    "@acme/ui": "workspace:^",
    "auth-client": "git+https://github.com/acme/auth-client.git#semver:^3",
    "legacy": "acme/legacy-widgets",
    "left-pad": "npm:@acme/left-pad@^1.0.0"
  }
}"#;

#[test]
fn pnpm_monorepo_with_workspace_members_and_github_specs() {
    let description = describe_repository(
        &[
            ("package.json", PNPM_ROOT),
            ("pnpm-workspace.yaml", PNPM_WORKSPACE),
            ("packages/ui/package.json", UI),
            ("packages/tokens/package.json", TOKENS),
            ("apps/web/dashboard/package.json", DASHBOARD),
            ("apps/web/test/package.json", r#"{"name": "excluded-fixture"}"#),
            ("node_modules/react/package.json", r#"{"name": "react"}"#),
        ],
        &["pnpm-lock.yaml", "tsconfig.json", "packages/ui/src/index.ts"],
    );
    assert_eq!(description.language.as_deref(), Some("typescript"));
    assert_eq!(description.build_systems, vec![BuildSystem::Pnpm]);
    // No root build script, members have one: build them all; the root has a real test script.
    assert_eq!(description.build_command.as_deref(), Some("pnpm install --frozen-lockfile && pnpm -r run build"));
    assert_eq!(description.test_command.as_deref(), Some("pnpm test"));
    assert_eq!(
        produced(&description, Ecosystem::Npm),
        vec![
            ("@acme/tokens".into(), "packages/tokens/package.json".into(), true),
            ("@acme/ui".into(), "packages/ui/package.json".into(), true),
            ("acme-web-monorepo".into(), "package.json".into(), false),
            ("dashboard".into(), "apps/web/dashboard/package.json".into(), false),
        ]
    );
    assert_eq!(github_of(&description, "@acme/design-tokens"), Some(("acme".into(), "design-tokens".into())));
    assert_eq!(github_of(&description, "auth-client"), Some(("acme".into(), "auth-client".into())));
    assert_eq!(github_of(&description, "legacy"), Some(("acme".into(), "legacy-widgets".into())));
    let aliased = consumed(&description, Ecosystem::Npm).into_iter().find(|(_, declared, _)| declared == "left-pad");
    assert_eq!(aliased, Some(("@acme/left-pad".into(), "left-pad".into(), "apps/web/dashboard/package.json".into())));
    for field_example in ["react-dom", "fsevents", "vitest"] {
        assert!(description.consumes.iter().any(|d| d.name == field_example), "{field_example} missing");
    }
    assert!(!description.consumes.iter().any(|d| d.file.contains("node_modules") || d.file.contains("/test/")));
}

#[test]
fn package_manager_build_and_test_scripts() {
    let placeholder = r#"{"name": "x", "scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#;
    let scripted = r#"{"name": "x", "scripts": {"build": "tsc -p .", "test": "mocha"}}"#;
    let workspaces = r#"{"name": "root", "private": true, "workspaces": ["packages/*"]}"#;
    let member = r#"{"name": "member", "scripts": {"build": "tsc", "test": "node --test"}}"#;
    // (files, other paths, build, test, build system)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Option<&'a str>, Option<&'a str>, BuildSystem);
    let cases: Vec<Case<'_>> = vec![
        (vec![("package.json", placeholder)], vec!["package-lock.json"], Some("npm ci"), None, BuildSystem::Npm),
        (vec![("package.json", placeholder)], vec![], Some("npm install"), None, BuildSystem::Npm),
        (
            vec![("package.json", scripted)],
            vec!["package-lock.json"],
            Some("npm ci && npm run build"),
            Some("npm test"),
            BuildSystem::Npm,
        ),
        (
            vec![("package.json", scripted)],
            vec!["yarn.lock"],
            Some("yarn install --frozen-lockfile && yarn build"),
            Some("yarn test"),
            BuildSystem::Yarn,
        ),
        (
            vec![("package.json", scripted)],
            vec!["yarn.lock", ".yarnrc.yml"],
            Some("yarn install --immutable && yarn build"),
            Some("yarn test"),
            BuildSystem::Yarn,
        ),
        (
            vec![("package.json", r#"{"packageManager": "yarn@4.5.0", "scripts": {"build": "tsc"}}"#)],
            vec!["yarn.lock"],
            Some("yarn install --immutable && yarn build"),
            None,
            BuildSystem::Yarn,
        ),
        (
            vec![("package.json", r#"{"packageManager": "pnpm@9.0.0", "scripts": {"test": "vitest"}}"#)],
            vec![],
            Some("pnpm install"),
            Some("pnpm test"),
            BuildSystem::Pnpm,
        ),
        (
            vec![("package.json", scripted)],
            vec!["pnpm-lock.yaml"],
            Some("pnpm install --frozen-lockfile && pnpm run build"),
            Some("pnpm test"),
            BuildSystem::Pnpm,
        ),
        (
            vec![("package.json", workspaces), ("packages/a/package.json", member)],
            vec!["package-lock.json"],
            Some("npm ci && npm run build --workspaces --if-present"),
            Some("npm run test --workspaces --if-present"),
            BuildSystem::Npm,
        ),
    ];
    for (files, other_paths, build, test, system) in cases {
        let description = describe_repository(&files, &other_paths);
        assert_eq!(description.build_command.as_deref(), build, "{files:?} {other_paths:?}");
        assert_eq!(description.test_command.as_deref(), test, "{files:?} {other_paths:?}");
        assert_eq!(description.build_systems, vec![system], "{files:?} {other_paths:?}");
        assert_eq!(description.language.as_deref(), Some("javascript"));
    }
}

#[test]
fn typescript_from_a_dependency_and_github_language_agree() {
    let manifest = r#"{"name": "svc", "devDependencies": {"typescript": "5"}, "scripts": {"build": "tsc"}}"#;
    let description = describe_with_language(&[("package.json", manifest)], &[], Some("TypeScript"));
    assert_eq!(description.language.as_deref(), Some("typescript"));
}

#[test]
fn github_names_the_language_within_the_toolchains_family() {
    let manifest = r#"{"name": "ui", "scripts": {"build": "tsc"}}"#;
    let typescript = describe_with_language(&[("package.json", manifest)], &[], Some("TypeScript"));
    assert_eq!(typescript.language.as_deref(), Some("typescript"), "no typescript dependency, but GitHub says so");
    let other_family = describe_with_language(&[("package.json", manifest)], &[], Some("Python"));
    assert_eq!(
        other_family.language.as_deref(),
        Some("javascript"),
        "GitHub's language of another family is not taken"
    );
}

#[test]
fn yarn_classic_workspaces_object_form() {
    let root = r#"{"private": true, "workspaces": {"packages": ["packages/*"], "nohoist": ["**/react-native"]}}"#;
    let member =
        r#"{"name": "@acme/mobile", "scripts": {"build": "tsc", "test": "jest"}, "dependencies": {"@acme/api": "1"}}"#;
    let description =
        describe_repository(&[("package.json", root), ("packages/mobile/package.json", member)], &["yarn.lock"]);
    assert_eq!(
        description.build_command.as_deref(),
        Some("yarn install --frozen-lockfile && yarn workspaces run build")
    );
    assert_eq!(description.test_command.as_deref(), Some("yarn workspaces run test"));
    assert_eq!(
        produced(&description, Ecosystem::Npm),
        vec![("@acme/mobile".into(), "packages/mobile/package.json".into(), true)]
    );
    assert_eq!(
        consumed(&description, Ecosystem::Npm),
        vec![("@acme/api".into(), "@acme/api".into(), "packages/mobile/package.json".into())]
    );
}
