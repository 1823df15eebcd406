//! The repository manifest in the architecture's `config/repositories.json` shape, built from an Organization's
//! Repository objects. Pure: the caller reads the objects.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::crd::Repository;

/// The manifest: one entry per repository, sorted by name.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// The repositories.
    pub repositories: Vec<ManifestEntry>,
}

/// One repository of the manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// GitHub name.
    pub name: String,
    /// Main language, lower case; `unknown` until detected.
    pub language: String,
    /// The build command in effect, if any.
    pub build_command: Option<String>,
    /// The test command in effect, if any.
    pub test_command: Option<String>,
    /// GitHub names of the repositories it depends on, sorted.
    pub dependencies: Vec<String>,
}

/// The manifest of the Repository objects belonging to the Organization object named `organization`.
pub fn build<'a>(organization: &str, repositories: impl IntoIterator<Item = &'a Repository>) -> Manifest {
    let mut entries: Vec<ManifestEntry> =
        repositories.into_iter().filter(|repo| repo.spec.organization_ref.name == organization).map(entry).collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    Manifest { repositories: entries }
}

/// What the manifest says of one Repository object.
pub fn entry(repo: &Repository) -> ManifestEntry {
    let status = repo.status.clone().unwrap_or_default();
    // The status holds the commands in effect once the operator has seen the repository; before that, the spec's
    // overrides are all there is.
    let build_command = status.build_command.or_else(|| repo.spec.build.as_ref()?.command.clone());
    let test_command = status.test_command.or_else(|| repo.spec.test.as_ref()?.command.clone());
    let dependencies: BTreeSet<String> = status
        .dependencies
        .iter()
        .map(|d| d.repository.clone())
        .chain(repo.spec.depends_on.iter().map(|d| d.0.clone()))
        .collect();
    ManifestEntry {
        name: repo.spec.name.0.clone(),
        language: status.language.unwrap_or_else(|| "unknown".to_owned()),
        build_command,
        test_command,
        dependencies: dependencies.into_iter().collect(),
    }
}

/// Name of the ConfigMap that holds an Organization's manifest: `<organization>-repositories`, shortened (with a
/// hash of the full name) when that would pass the 253-character limit.
pub fn config_map_name(organization: &str) -> String {
    const SUFFIX: &str = "-repositories";
    if organization.len() + SUFFIX.len() <= 253 {
        return format!("{organization}{SUFFIX}");
    }
    let hash = organization.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let kept: String = organization.chars().take(230).collect();
    format!("{}-{hash:08x}{SUFFIX}", kept.trim_end_matches(['-', '.']))
}

/// The key of the manifest in its ConfigMap.
pub const CONFIG_MAP_KEY: &str = "repositories.json";

impl Manifest {
    /// The manifest as pretty-printed JSON with a trailing newline, as committed to `config/repositories.json`.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and vectors cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, org: &str, status: serde_json::Value, spec_extra: serde_json::Value) -> Repository {
        let mut spec = serde_json::json!({ "organizationRef": { "name": org }, "name": name });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "Repository",
            "metadata": { "name": name.to_lowercase(), "namespace": "ns" },
            "spec": spec,
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn entries_follow_the_architecture_shape() {
        let repos = [
            repo(
                "web",
                "acme",
                serde_json::json!({ "language": "javascript", "buildCommand": "npm run build", "testCommand": "npm test",
                    "dependencies": [{ "repository": "core", "evidence": [{ "file": "package.json", "dependency": "@acme/core" }] }] }),
                serde_json::json!({ "dependsOn": ["schemas"] }),
            ),
            repo(
                "core",
                "acme",
                serde_json::json!({ "language": "rust", "buildCommand": "cargo build" }),
                serde_json::json!({}),
            ),
            repo("elsewhere", "other-org", serde_json::json!({ "language": "go" }), serde_json::json!({})),
        ];
        let manifest = build("acme", &repos);
        let json: serde_json::Value = serde_json::from_str(&manifest.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "repositories": [
                { "name": "core", "language": "rust", "build_command": "cargo build", "test_command": null, "dependencies": [] },
                { "name": "web", "language": "javascript", "build_command": "npm run build", "test_command": "npm test",
                  "dependencies": ["core", "schemas"] },
            ]})
        );
    }

    #[test]
    fn config_map_names_fit() {
        assert_eq!(config_map_name("acme"), "acme-repositories");
        let long = "a".repeat(250);
        let name = config_map_name(&long);
        assert!(name.len() <= 253 && name.ends_with("-repositories"), "{name}");
        assert_ne!(config_map_name(&"a".repeat(251)), name, "different names stay different");
    }

    #[test]
    fn before_discovery_the_spec_overrides_show() {
        let repos = [repo(
            "api",
            "acme",
            serde_json::json!({}),
            serde_json::json!({ "build": { "command": "make build" }, "test": { "command": "make test" } }),
        )];
        let manifest = build("acme", &repos);
        assert_eq!(manifest.repositories[0].language, "unknown");
        assert_eq!(manifest.repositories[0].build_command.as_deref(), Some("make build"));
        assert_eq!(manifest.repositories[0].test_command.as_deref(), Some("make test"));
    }
}
