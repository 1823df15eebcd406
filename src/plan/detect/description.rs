//! What detection says about one repository: how it builds and tests, what it produces, what it consumes, and what
//! could not be read.

use std::fmt;

use crate::crd::well_known::CORRELATION_INPUT;

/// A package namespace. A dependency only ever matches a package of the same ecosystem: an npm dependency `foo`
/// is not the crate `foo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Rust crates (Cargo).
    Cargo,
    /// npm packages (npm, pnpm, yarn).
    Npm,
    /// Go modules.
    Go,
    /// Python distributions (PyPI names, compared after PEP 503 normalization).
    Python,
    /// Maven coordinates `groupId:artifactId`, shared by Maven and Gradle.
    Maven,
}

impl Ecosystem {
    /// Lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "go",
            Ecosystem::Python => "python",
            Ecosystem::Maven => "maven",
        }
    }

    /// The key two names of this ecosystem are compared by: Cargo treats `-` and `_` alike, Python normalizes
    /// per PEP 503, npm, Go and Maven compare exactly.
    pub fn normalize(self, name: &str) -> String {
        match self {
            Ecosystem::Cargo => name.to_ascii_lowercase().replace('_', "-"),
            Ecosystem::Python => super::python::normalize_name(name),
            Ecosystem::Npm | Ecosystem::Go | Ecosystem::Maven => name.to_owned(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool that builds or tests the repository, found at the head of its default branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuildSystem {
    /// `Cargo.toml`.
    Cargo,
    /// `package.json` with `package-lock.json`, or with no lockfile.
    Npm,
    /// `package.json` with `pnpm-lock.yaml`.
    Pnpm,
    /// `package.json` with `yarn.lock`.
    Yarn,
    /// `go.mod`.
    Go,
    /// `pyproject.toml` with `[tool.poetry]` or the poetry backend.
    Poetry,
    /// `pyproject.toml` with `[tool.hatch]` or the hatchling backend.
    Hatch,
    /// `setup.py`, `setup.cfg`, or the setuptools backend.
    Setuptools,
    /// `uv.lock`.
    Uv,
    /// `requirements*.txt` alone.
    Pip,
    /// `tox.ini`, or `[tool.tox]` in `pyproject.toml`.
    Tox,
    /// `pom.xml`.
    Maven,
    /// `build.gradle`, `build.gradle.kts`, `settings.gradle(.kts)`.
    Gradle,
    /// A root `Makefile`.
    Make,
    /// A root `CMakeLists.txt`.
    Cmake,
    /// A root `Dockerfile` or `Containerfile`.
    Docker,
}

impl BuildSystem {
    /// Lower-case name, as `status.buildSystems` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildSystem::Cargo => "cargo",
            BuildSystem::Npm => "npm",
            BuildSystem::Pnpm => "pnpm",
            BuildSystem::Yarn => "yarn",
            BuildSystem::Go => "go",
            BuildSystem::Poetry => "poetry",
            BuildSystem::Hatch => "hatch",
            BuildSystem::Setuptools => "setuptools",
            BuildSystem::Uv => "uv",
            BuildSystem::Pip => "pip",
            BuildSystem::Tox => "tox",
            BuildSystem::Maven => "maven",
            BuildSystem::Gradle => "gradle",
            BuildSystem::Make => "make",
            BuildSystem::Cmake => "cmake",
            BuildSystem::Docker => "docker",
        }
    }
}

impl fmt::Display for BuildSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A package the repository produces, which other repositories may depend on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProducedPackage {
    /// Which namespace `name` lives in.
    pub ecosystem: Ecosystem,
    /// Crate or npm package name, Go module path, Python distribution name, or Maven `groupId:artifactId`.
    pub name: String,
    /// The manifest that declares it.
    pub file: String,
    /// False when the manifest says it is not published (`publish = false`, `"private": true`): it is still a
    /// package others may depend on by git URL or path.
    pub published: bool,
}

/// A dependency a manifest declares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsumedDependency {
    /// Which namespace `name` lives in.
    pub ecosystem: Ecosystem,
    /// The package depended on: the crate behind a `package =` rename, the npm package behind an `npm:` alias,
    /// a Go module path, a Python distribution name, Maven `groupId:artifactId`.
    pub name: String,
    /// The dependency as the manifest writes it (the key of a renamed crate, `Requests[security]`, …): the
    /// evidence shown on an edge.
    pub declared: String,
    /// The manifest that declares it.
    pub file: String,
    /// The GitHub repository a git URL or `github:` spec points at, as `(owner, repository)`, when there is one.
    pub github: Option<(String, String)>,
}

/// A dependency written in a way detection does not resolve, such as a Gradle version-catalog accessor with no
/// catalog to read. Kept so that a missing edge has a visible reason; never guessed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnresolvedDependency {
    /// The manifest that declares it.
    pub file: String,
    /// The reference as written, such as `libs.ktor.client`.
    pub reference: String,
    /// Why it was not resolved.
    pub reason: String,
}

/// A manifest that could not be read. The rest of the repository is still described.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DetectionWarning {
    /// Path of the manifest, such as `web/package.json`.
    pub file: String,
    /// The parser's message, with line and column when the parser gives them.
    pub message: String,
}

impl fmt::Display for DetectionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// A workflow that accepts `workflow_dispatch`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DispatchableWorkflow {
    /// File name under `.github/workflows/`, as a dispatch names it: `build.yml`.
    pub file: String,
    /// Names of its `workflow_dispatch` inputs.
    pub inputs: Vec<String>,
    /// What it holds of the build and test commands, when it declares both command inputs (the operator's own
    /// workflow does).
    pub written_commands: Option<super::dispatchable_workflows::WrittenCommands>,
}

impl DispatchableWorkflow {
    /// Whether the operator can find the run its dispatch starts (the workflow takes `correlation_id`).
    pub fn accepts_correlation_id(&self) -> bool {
        self.inputs.iter().any(|input| input == CORRELATION_INPUT)
    }
}

/// Everything detection found in one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryDescription {
    /// Main language, lower case, as `config/repositories.json` names it: `rust`, `typescript`, `go`, `java`, ….
    pub language: Option<String>,
    /// Every build system found, sorted.
    pub build_systems: Vec<BuildSystem>,
    /// The detected build command, if any (see the module documentation for precedence).
    pub build_command: Option<String>,
    /// The detected test command, if any.
    pub test_command: Option<String>,
    /// Packages this repository produces, sorted.
    pub produces: Vec<ProducedPackage>,
    /// Dependencies its manifests declare, sorted.
    pub consumes: Vec<ConsumedDependency>,
    /// Dependencies written in a way detection does not resolve.
    pub unresolved: Vec<UnresolvedDependency>,
    /// Workflows that accept `workflow_dispatch`, sorted by file name.
    pub workflows: Vec<DispatchableWorkflow>,
    /// Manifests that could not be read.
    pub warnings: Vec<DetectionWarning>,
}

impl RepositoryDescription {
    /// The workflow BuildPlans should dispatch, in this order: the operator's own `infinity-orchestrator.yml`; else
    /// the first (by name) that takes `correlation_id` (its run can be found again even when GitHub's answer is
    /// lost or names no run); else the first that accepts `workflow_dispatch` at all (GitHub's answer names the run
    /// it started, see `github::API_VERSION`). `None` when no workflow can be dispatched: the repository needs
    /// onboarding. The operator's lockfile-update workflow is never one: it builds nothing.
    pub fn build_workflow(&self) -> Option<&str> {
        let candidates =
            || self.workflows.iter().filter(|w| w.file != super::dispatchable_workflows::LOCKFILE_WORKFLOW);
        let own = candidates().find(|w| w.file == super::dispatchable_workflows::OPERATOR_WORKFLOW);
        own.or_else(|| candidates().find(|w| w.accepts_correlation_id()))
            .or_else(|| candidates().next())
            .map(|w| w.file.as_str())
    }

    /// The `workflow_dispatch` inputs `file` declares, when it is one of the dispatchable workflows found.
    pub fn workflow_inputs(&self, file: &str) -> Option<Vec<String>> {
        self.workflows.iter().find(|w| w.file == file).map(|w| w.inputs.clone())
    }

    /// One message for the Repository's `DetectionWarning` condition: every warning as `file: message`, joined
    /// by `; `, cut at `max_chars` characters (with `…`). `None` when every manifest was read.
    pub fn warning_message(&self, max_chars: usize) -> Option<String> {
        if self.warnings.is_empty() {
            return None;
        }
        let joined = self.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        if joined.chars().count() <= max_chars {
            return Some(joined);
        }
        let mut cut: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        Some(cut)
    }

    /// Build systems as `status.buildSystems` writes them.
    pub fn build_system_names(&self) -> Vec<String> {
        self.build_systems.iter().map(|system| system.as_str().to_owned()).collect()
    }

    pub(super) fn warn(&mut self, file: &str, message: impl Into<String>) {
        self.warnings.push(DetectionWarning { file: file.to_owned(), message: message.into() });
    }

    pub(super) fn produce(&mut self, ecosystem: Ecosystem, name: &str, file: &str, published: bool) {
        self.produces.push(ProducedPackage { ecosystem, name: name.to_owned(), file: file.to_owned(), published });
    }

    pub(super) fn consume(&mut self, ecosystem: Ecosystem, name: &str, declared: &str, file: &str) {
        self.consume_from(ecosystem, name, declared, file, None);
    }

    pub(super) fn consume_from(
        &mut self,
        ecosystem: Ecosystem,
        name: &str,
        declared: &str,
        file: &str,
        github: Option<(String, String)>,
    ) {
        self.consumes.push(ConsumedDependency {
            ecosystem,
            name: name.to_owned(),
            declared: declared.to_owned(),
            file: file.to_owned(),
            github,
        });
    }

    pub(super) fn record_unresolved(&mut self, file: &str, reference: &str, reason: &str) {
        self.unresolved.push(UnresolvedDependency {
            file: file.to_owned(),
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        });
    }
}
