//! The YAML fixture: what the simulated GitHub contains at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole simulated world.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Fixture {
    /// Organizations by login.
    pub orgs: Vec<OrgFixture>,
    /// Plain tokens accepted in `Authorization: token …` / `Bearer …`.
    pub tokens: Vec<String>,
    /// Primary rate-limit per credential per hour (default 5000).
    pub rate_limit: Option<i64>,
    /// Start of simulated time, epoch seconds (default 2026-01-01T00:00:00Z).
    pub start_epoch_secs: Option<i64>,
    /// Seed for flaky outcomes.
    pub seed: u64,
}

/// One organization.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgFixture {
    /// The org login.
    pub login: String,
    /// Its repositories.
    pub repos: Vec<RepoFixture>,
}

/// One repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoFixture {
    /// Repository name.
    pub name: String,
    /// Default branch (default `main`).
    pub default_branch: String,
    /// Files on the default branch, path → content.
    pub files: BTreeMap<String, String>,
    /// Topics.
    pub topics: Vec<String>,
    /// Primary language.
    pub language: Option<String>,
    /// Archived.
    pub archived: bool,
    /// A fork.
    pub fork: bool,
    /// `public`, `private` or `internal`.
    pub visibility: String,
    /// Workflows.
    pub workflows: Vec<WorkflowFixture>,
    /// Which security features are enabled (all disabled by default).
    pub security: SecurityFixture,
}

/// Security features of a repository. Alert lists are served empty when a feature is enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityFixture {
    /// Code scanning.
    pub code_scanning: bool,
    /// Dependabot alerts.
    pub dependabot: bool,
    /// Secret scanning.
    pub secret_scanning: bool,
}

impl Default for RepoFixture {
    fn default() -> Self {
        RepoFixture {
            name: String::new(),
            default_branch: "main".into(),
            files: BTreeMap::new(),
            topics: Vec::new(),
            language: None,
            archived: false,
            fork: false,
            visibility: "private".into(),
            workflows: Vec::new(),
            security: SecurityFixture::default(),
        }
    }
}

/// One workflow file and how its runs end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowFixture {
    /// Path such as `.github/workflows/build.yml`.
    pub path: String,
    /// Display name.
    pub name: String,
    /// Whether it accepts `workflow_dispatch`.
    pub workflow_dispatch: bool,
    /// Declared `workflow_dispatch` inputs.
    pub inputs: Vec<String>,
    /// `run-name` template, e.g. `build ${{ inputs.correlation_id }}`.
    pub run_name: Option<String>,
    /// How runs end.
    pub outcome: OutcomeFixture,
}

impl Default for WorkflowFixture {
    fn default() -> Self {
        WorkflowFixture {
            path: ".github/workflows/build.yml".into(),
            name: "build".into(),
            workflow_dispatch: true,
            inputs: Vec::new(),
            run_name: None,
            outcome: OutcomeFixture::default(),
        }
    }
}

/// How a workflow's runs end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeFixture {
    /// `success`, `failure` or `flaky`.
    pub result: OutcomeKind,
    /// Failure probability when flaky.
    pub failure_probability: f64,
    /// Run duration in seconds.
    pub duration_secs: i64,
}

impl Default for OutcomeFixture {
    fn default() -> Self {
        OutcomeFixture { result: OutcomeKind::Success, failure_probability: 0.0, duration_secs: 60 }
    }
}

/// The kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Always succeeds.
    Success,
    /// Always fails.
    Failure,
    /// Fails with `failure_probability`.
    Flaky,
}

/// Errors reading a fixture.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("reading fixture {path}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is invalid.
    #[error("parsing fixture")]
    Parse(#[source] serde_yaml::Error),
}

impl Fixture {
    /// Parses YAML.
    pub fn from_yaml(text: &str) -> Result<Self, FixtureError> {
        serde_yaml::from_str(text).map_err(FixtureError::Parse)
    }

    /// Reads and parses a YAML file.
    pub fn from_file(path: &str) -> Result<Self, FixtureError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| FixtureError::Read { path: path.to_string(), source })?;
        Self::from_yaml(&text)
    }

    /// An org `login` with `count` repositories `repo-00000…`, each with a Cargo.toml and a build workflow;
    /// token `test-token` is accepted.
    pub fn generated_org(login: &str, count: usize) -> Self {
        let repos = (0..count)
            .map(|i| RepoFixture {
                name: format!("repo-{i:05}"),
                files: BTreeMap::from([(
                    "Cargo.toml".to_string(),
                    format!("[package]\nname = \"repo-{i:05}\"\nversion = \"0.1.0\"\n"),
                )]),
                language: Some("Rust".into()),
                workflows: vec![WorkflowFixture {
                    inputs: vec!["correlation_id".into()],
                    run_name: Some("build ${{ inputs.correlation_id }}".into()),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        Fixture {
            orgs: vec![OrgFixture { login: login.to_string(), repos }],
            tokens: vec!["test-token".into()],
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_yaml_with_defaults() {
        let f = Fixture::from_yaml("orgs:\n- login: acme\n  repos:\n  - name: api\ntokens: [t]\n").expect("yaml");
        assert_eq!(f.orgs[0].repos[0].default_branch, "main");
        assert_eq!(f.tokens, vec!["t"]);
    }

    #[test]
    fn generated_org_has_count_repos() {
        let f = Fixture::generated_org("big", 1200);
        assert_eq!(f.orgs[0].repos.len(), 1200);
        assert_eq!(f.orgs[0].repos[1199].name, "repo-01199");
    }
}
