use super::super::{manifests_to_fetch, MAX_FETCHED_MANIFESTS};
use super::strings;

#[test]
fn picks_manifests_not_lockfiles_sources_vendored_code_or_fixtures() {
    let tree = strings(&[
        "Cargo.toml",
        "Cargo.lock",
        "crates/core/Cargo.toml",
        "crates/core/src/lib.rs",
        "package.json",
        "package-lock.json",
        "pnpm-workspace.yaml",
        "node_modules/left-pad/package.json",
        "packages/ui/package.json",
        "vendor/github.com/x/y/go.mod",
        "go.mod",
        "go.sum",
        "internal/testdata/go.mod",
        "tests/fixtures/broken/package.json",
        "third_party/zlib/CMakeLists.txt",
        "pyproject.toml",
        "poetry.lock",
        "requirements.txt",
        "requirements/dev.txt",
        "docs/requirements.txt",
        "setup.py",
        "setup.cfg",
        "tox.ini",
        "pom.xml",
        "api/pom.xml",
        "settings.gradle.kts",
        "build.gradle.kts",
        "app/build.gradle.kts",
        "gradle/libs.versions.toml",
        "Makefile",
        "sub/Makefile",
        "CMakeLists.txt",
        "src/CMakeLists.txt",
        "Dockerfile",
        ".github/workflows/ci.yml",
        ".github/actions/setup/package.json",
        "a/b/c/d/package.json",
        "README.md",
    ]);
    assert_eq!(
        manifests_to_fetch(&tree),
        strings(&[
            "CMakeLists.txt",
            "Cargo.toml",
            "Makefile",
            "build.gradle.kts",
            "go.mod",
            "package.json",
            "pnpm-workspace.yaml",
            "pom.xml",
            "pyproject.toml",
            "requirements.txt",
            "settings.gradle.kts",
            "setup.cfg",
            "setup.py",
            "api/pom.xml",
            "app/build.gradle.kts",
            "gradle/libs.versions.toml",
            "requirements/dev.txt",
            "crates/core/Cargo.toml",
            "packages/ui/package.json",
            ".github/workflows/ci.yml",
        ])
    );
}

#[test]
fn bounded_and_shallowest_first() {
    let mut tree: Vec<String> = (0..500).map(|i| format!("packages/p{i:03}/package.json")).collect();
    tree.push("package.json".into());
    let wanted = manifests_to_fetch(&tree);
    assert_eq!(wanted.len(), MAX_FETCHED_MANIFESTS);
    assert_eq!(wanted[0], "package.json");
    assert_eq!(wanted[1], "packages/p000/package.json");
}
