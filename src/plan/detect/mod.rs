//! Detection: what a repository is, how it builds and tests, what it produces and what it consumes, from the files
//! at the head of its default branch. Pure: the controller fetches, this module decides.
//!
//! # How the discovery controller calls it
//! 1. List the tree of the default branch (every path), then call [`manifests_to_fetch`]: it names the manifests
//!    worth reading (root and workspace-member manifests, at most [`MAX_FETCHED_MANIFESTS`], none under
//!    `node_modules/`, `vendor/`, `third_party/`, fixtures, hidden directories or deeper than four components),
//!    then the workflows under `.github/workflows/` (at most [`MAX_FETCHED_WORKFLOWS`]), to see which accept
//!    `workflow_dispatch`. Lockfiles are never fetched: their names in the tree are enough to choose the package
//!    manager.
//!    When GitHub truncates the recursive tree (over 100,000 entries or 7 MB), list instead, one level at a time,
//!    the directories for which [`reads_directory`] holds: detection never looks inside the others (ignored and
//!    hidden directories, `.github/workflows` excepted), so that listing describes the repository exactly as the
//!    whole tree would.
//! 2. Fetch those files (a file that cannot be fetched is simply left out of the map) and call [`describe`] with the
//!    tree, the contents, and the language GitHub reports.
//!    [`RepositoryDescription::build_workflow`] names the workflow BuildPlans dispatch, if any.
//! 3. Call [`commands_in_effect`] with the description and the Repository's `spec.build` / `spec.test` to get the
//!    commands to write to status (overrides win).
//! 4. With every repository described, call [`crate::plan::dependencies::repository_dependencies`] for the edges.
//!
//! # Which command wins
//! Build and test commands come from one *primary* toolchain among those with a manifest at the repository root,
//! never a mix of two. Candidates are, in this order: Cargo, Go, Node (npm / pnpm / yarn), Python, Maven, Gradle,
//! CMake. The primary one is the candidate whose language GitHub reports (JavaScript and TypeScript, Java and
//! Kotlin, C and C++ count as one), else the first whose commands do the project's own work (a `package.json`
//! without `build` or `test` scripts, whose build would only install, is tooling beside another project), else
//! the first that yields any command, else the first.
//! Then:
//! - A root Makefile's `build` and `test` targets win over the primary toolchain's commands, each separately
//!   (`make build`, `make test`): a project that names those targets makes them its entry points, with whatever
//!   code generation or flags they carry. Without a `build` target, `make` (the default goal) is used only when no
//!   toolchain gave a build command and the Makefile has a target; without a `test` target, `make check` is used
//!   only when no toolchain gave a test command and a `check` target exists.
//! - A root `Dockerfile` (or `Containerfile`) gives `docker build .` only when nothing else gave a build command;
//!   such a repository's language is `docker` when no toolchain names one.
//! - The language is the primary toolchain's (GitHub's when of the same family, being more precise: TypeScript,
//!   Kotlin, C++); without one, the Makefile's sources (C or C++), else GitHub's.
//!
//! Per toolchain: Cargo `cargo build[ --workspace][ --locked]` (`--locked` with a `Cargo.lock`) and
//! `cargo test[ --workspace]`; Node installs with the lockfile's manager (`npm ci`, `pnpm install
//! --frozen-lockfile`, `yarn install --frozen-lockfile` or `--immutable` for Yarn 2+), then runs `scripts.build`
//! (the root's, else every workspace's) — without a build script the build command only installs — and tests
//! with `npm test` / `pnpm test` / `yarn test` only when a real test script exists (not npm's placeholder); Go
//! `go build ./...` / `go test ./...`; Python by tool (uv, then poetry, hatch, setuptools, pip), with `tox` as the
//! test command when configured, else pytest (through the tool) when pytest is configured, depended on, or finds
//! `test_*.py` files; Maven `mvn -B package` / `mvn -B test` (`./mvnw` with the wrapper); Gradle `gradle build` /
//! `gradle test` (`./gradlew` with the wrapper); CMake `cmake -B build && cmake --build build` and, when testing is
//! enabled, `ctest --test-dir build`.
//!
//! # What it does not do
//! Gradle build scripts and `setup.py` are programs: they are never run, only searched for the usual literal
//! patterns, best effort; what they compute (a `group` from a variable, `install_requires` from a function) is
//! reported in [`RepositoryDescription::unresolved`], not guessed. Gradle convention plugins and `buildSrc`, Go
//! `// indirect` requirements, npm `bundledDependencies`, Pipfile, and Maven properties defined outside the
//! repository's POMs are not read. A Gradle project without a literal `group` produces no coordinates. A
//! manifest that does not parse becomes a [`DetectionWarning`] and the others are still used.

mod cargo;
mod cmake;
mod description;
mod dispatchable_workflows;
mod docker;
mod files;
mod go;
mod gradle;
mod make;
mod maven;
mod node;
mod python;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;

pub use description::{
    BuildSystem, ConsumedDependency, DetectionWarning, DispatchableWorkflow, Ecosystem, ProducedPackage,
    RepositoryDescription, UnresolvedDependency,
};
pub use dispatchable_workflows::{
    WrittenCommands, BUILD_COMMAND_INPUT, LOCKFILE_WORKFLOW, OPERATOR_WORKFLOW, TEST_COMMAND_INPUT,
};
pub use files::{github_repository, join as join_path, reads_directory};

use crate::crd::repository::{BuildOverrides, TestOverrides};
use files::RepositoryFiles;

/// At most this many manifests are fetched per repository, shallowest first.
pub const MAX_FETCHED_MANIFESTS: usize = 64;

/// At most this many workflow files are fetched per repository, by name, besides the manifests.
pub const MAX_FETCHED_WORKFLOWS: usize = 16;

/// How one ecosystem would build and test the repository, from a manifest at its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Toolchain {
    /// Language the toolchain implies, lower case.
    pub language: String,
    /// Build systems it stands for (a Python project may be `poetry` and `tox`).
    pub build_systems: Vec<BuildSystem>,
    /// Its build command.
    pub build: Option<String>,
    /// Its test command.
    pub test: Option<String>,
    /// Whether the commands do the project's own work: false for a `package.json` without `build` or `test`
    /// scripts (tooling such as a formatter beside another language's project), whose build only installs.
    pub substantive: bool,
}

/// The manifests worth fetching, given every path of the tree: root and workspace-member manifests of each
/// ecosystem, shallowest first, at most [`MAX_FETCHED_MANIFESTS`].
pub fn manifests_to_fetch(tree_paths: &[String]) -> Vec<String> {
    let mut wanted: Vec<&str> = tree_paths
        .iter()
        .map(|path| path.trim_start_matches("./"))
        .filter(|path| files::is_manifest_location(path) && is_wanted_manifest(path))
        .collect();
    wanted.sort_by_key(|path| (files::depth(path), *path));
    wanted.dedup();
    wanted.truncate(MAX_FETCHED_MANIFESTS);
    let mut workflow_files: Vec<&str> = tree_paths
        .iter()
        .map(|path| path.trim_start_matches("./"))
        .filter(|path| dispatchable_workflows::wants(path))
        .collect();
    workflow_files.sort();
    workflow_files.dedup();
    // The operator's own workflow first, so that a repository with many workflows still shows it.
    workflow_files.sort_by_key(|path| !path.ends_with(OPERATOR_WORKFLOW));
    workflow_files.truncate(MAX_FETCHED_WORKFLOWS);
    wanted.extend(workflow_files);
    wanted.into_iter().map(str::to_owned).collect()
}

fn is_wanted_manifest(path: &str) -> bool {
    cargo::wants(path)
        || node::wants(path)
        || go::wants(path)
        || python::wants(path)
        || maven::wants(path)
        || gradle::wants(path)
        || make::wants(path)
        || cmake::wants(path)
}

/// Describes a repository from its tree, the manifests fetched from it (path → contents), and the language GitHub
/// reports for it (`"TypeScript"`, `"C++"`; used to break ties). Never fails: unreadable manifests become warnings.
pub fn describe(
    tree_paths: &[String],
    fetched: &BTreeMap<String, String>,
    github_language: Option<&str>,
) -> RepositoryDescription {
    let files = RepositoryFiles::new(tree_paths, fetched);
    let mut description = RepositoryDescription::default();
    let candidates: Vec<Toolchain> = [
        cargo::detect(&files, &mut description),
        go::detect(&files, &mut description),
        node::detect(&files, &mut description),
        python::detect(&files, &mut description),
        maven::detect(&files, &mut description),
        gradle::detect(&files, &mut description),
        cmake::detect(&files, &mut description),
    ]
    .into_iter()
    .flatten()
    .collect();
    let makefile = make::detect(&files, &mut description);
    dispatchable_workflows::detect(&files, &mut description);
    let dockerfile = docker::detect(&files);
    let github_language = github_language.map(language_from_github);

    let primary = choose_primary(&candidates, github_language.as_deref());
    let mut build = primary.and_then(|toolchain| toolchain.build.clone());
    let mut test = primary.and_then(|toolchain| toolchain.test.clone());
    // GitHub's name is the more precise one within a family (TypeScript over JavaScript, Kotlin over Java).
    let mut language = primary.map(|toolchain| match github_language.as_deref() {
        Some(github) if language_family(github) == language_family(&toolchain.language) => github.to_owned(),
        _ => toolchain.language.clone(),
    });
    let mut build_systems: Vec<BuildSystem> =
        candidates.iter().flat_map(|toolchain| toolchain.build_systems.iter().copied()).collect();

    if let Some(makefile) = &makefile {
        build_systems.push(BuildSystem::Make);
        if makefile.has_target("build") {
            build = Some("make build".to_owned());
        } else if build.is_none() && makefile.default_goal().is_some() {
            build = Some("make".to_owned());
        }
        if makefile.has_target("test") {
            test = Some("make test".to_owned());
        } else if test.is_none() && makefile.has_target("check") {
            test = Some("make check".to_owned());
        }
        if language.is_none() {
            language = make::source_language(&files).map(str::to_owned);
        }
    }
    if let Some(dockerfile) = dockerfile {
        build_systems.push(BuildSystem::Docker);
        if build.is_none() {
            build = dockerfile.build;
        }
        if language.is_none() && github_language.is_none() {
            language = Some(dockerfile.language);
        }
    }

    description.language = language.or(github_language);
    description.build_command = build;
    description.test_command = test;
    build_systems.sort();
    build_systems.dedup();
    description.build_systems = build_systems;
    sort_and_deduplicate(&mut description);
    description
}

fn choose_primary<'a>(candidates: &'a [Toolchain], github_language: Option<&str>) -> Option<&'a Toolchain> {
    let same_family = |toolchain: &&Toolchain| {
        github_language.is_some_and(|github| language_family(github) == language_family(&toolchain.language))
    };
    candidates
        .iter()
        .find(same_family)
        .or_else(|| candidates.iter().find(|toolchain| toolchain.substantive))
        .or_else(|| candidates.iter().find(|toolchain| toolchain.build.is_some() || toolchain.test.is_some()))
        .or_else(|| candidates.first())
}

fn language_family(language: &str) -> &str {
    match language {
        "javascript" | "typescript" => "javascript",
        "java" | "kotlin" => "java",
        "c" | "cpp" => "c",
        other => other,
    }
}

/// GitHub's language name as `config/repositories.json` writes it: lower case, `C++` → `cpp`, `C#` → `csharp`,
/// `Dockerfile` → `docker`, spaces → `-`.
pub fn language_from_github(language: &str) -> String {
    match language {
        "C++" => "cpp".to_owned(),
        "C#" => "csharp".to_owned(),
        "F#" => "fsharp".to_owned(),
        "Dockerfile" => "docker".to_owned(),
        other => other.trim().to_lowercase().replace(' ', "-"),
    }
}

fn sort_and_deduplicate(description: &mut RepositoryDescription) {
    description.produces.sort();
    description.produces.dedup();
    description.consumes.sort();
    description.consumes.dedup();
    description.unresolved.sort();
    description.unresolved.dedup();
    description.warnings.sort();
    description.warnings.dedup();
}

/// The build and test commands a Repository runs with: its `spec.build.command` / `spec.test.command` when set,
/// else what detection found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandsInEffect {
    /// Build command for `status.buildCommand`.
    pub build_command: Option<String>,
    /// Test command for `status.testCommand`.
    pub test_command: Option<String>,
}

/// Applies a Repository's overrides to what detection found. An override that is set wins, even over a detected
/// command; an unset one leaves detection's.
pub fn commands_in_effect(
    description: &RepositoryDescription,
    build: Option<&BuildOverrides>,
    test: Option<&TestOverrides>,
) -> CommandsInEffect {
    CommandsInEffect {
        build_command: build
            .and_then(|overrides| overrides.command.clone())
            .or_else(|| description.build_command.clone()),
        test_command: test.and_then(|overrides| overrides.command.clone()).or_else(|| description.test_command.clone()),
    }
}
