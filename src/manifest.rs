//! The repository manifest in the architecture's `config/repositories.json` shape, built from an Organization's
//! Repository objects. Pure: the caller reads the objects.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use k8s_openapi::api::core::v1::ConfigMap;
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

/// The key of the manifest in its ConfigMap's `data`, as JSON text.
pub const CONFIG_MAP_KEY: &str = "repositories.json";

/// The key of the gzipped manifest in its ConfigMap's `binaryData`, when the text would not fit.
pub const CONFIG_MAP_GZIP_KEY: &str = "repositories.json.gz";

/// The most the API server accepts in one ConfigMap's `data` and `binaryData` together, keys included.
pub const CONFIG_MAP_MAX_BYTES: usize = 1024 * 1024;

/// Largest manifest kept pretty-printed. Indentation is a third of a large manifest, worth its room only while the
/// ConfigMap is far from the limit; this leaves a quarter of it for the growth of the organization, so that the
/// compact form takes over well before an apply could be refused.
pub const PRETTY_MAX_BYTES: usize = 768 * 1024;

/// The condition set on an Organization while its manifest is too large to store even gzipped.
pub const MANIFEST_TOO_LARGE: &str = "ManifestTooLarge";

/// The form the manifest is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Pretty-printed JSON under [`CONFIG_MAP_KEY`].
    Pretty,
    /// JSON without whitespace under [`CONFIG_MAP_KEY`].
    Compact,
    /// The compact JSON gzipped under [`CONFIG_MAP_GZIP_KEY`] in `binaryData`.
    Gzip,
}

/// The form to store, from the size in bytes of each; `gzip` is computed only when the compact form does not fit.
/// `None` when not even the gzipped form fits.
pub fn form(pretty: usize, compact: usize, gzip: impl FnOnce() -> usize) -> Option<Form> {
    let fits = |key: &str, value: usize| key.len() + value <= CONFIG_MAP_MAX_BYTES;
    if pretty <= PRETTY_MAX_BYTES {
        Some(Form::Pretty)
    } else if fits(CONFIG_MAP_KEY, compact) {
        Some(Form::Compact)
    } else {
        fits(CONFIG_MAP_GZIP_KEY, gzip()).then_some(Form::Gzip)
    }
}

/// The manifest as its ConfigMap holds it: exactly one of the two keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// JSON text under [`CONFIG_MAP_KEY`] in `data`.
    Text(String),
    /// Gzipped JSON under [`CONFIG_MAP_GZIP_KEY`] in `binaryData`.
    Gzip(Vec<u8>),
}

/// A manifest too large for a ConfigMap even gzipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// Bytes of the compact JSON.
    pub json_bytes: usize,
    /// Bytes of the gzipped JSON.
    pub gzip_bytes: usize,
}

impl TooLarge {
    /// What the `ManifestTooLarge` condition says.
    pub fn message(&self) -> String {
        format!(
            "The repository manifest takes {} bytes gzipped ({} bytes of JSON), more than the {CONFIG_MAP_MAX_BYTES} \
             bytes a ConfigMap holds; the ConfigMap keeps the last manifest that fitted",
            self.gzip_bytes, self.json_bytes
        )
    }
}

impl Manifest {
    /// The manifest as pretty-printed JSON with a trailing newline, as committed to `config/repositories.json`.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and vectors cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The manifest in the first [`Form`] that fits its ConfigMap.
    pub fn stored(&self) -> Result<Stored, TooLarge> {
        let pretty = self.to_json();
        let compact = serde_json::to_string(self).unwrap_or_default();
        let mut gzipped = Vec::new();
        let chosen = form(pretty.len(), compact.len(), || {
            gzipped = gzip(compact.as_bytes());
            gzipped.len()
        });
        match chosen {
            Some(Form::Pretty) => Ok(Stored::Text(pretty)),
            Some(Form::Compact) => Ok(Stored::Text(compact)),
            Some(Form::Gzip) => Ok(Stored::Gzip(gzipped)),
            None => Err(TooLarge { json_bytes: compact.len(), gzip_bytes: gzipped.len() }),
        }
    }
}

impl Stored {
    /// What `config_map` holds; `None` unless exactly one of the two keys is there.
    pub fn of(config_map: &ConfigMap) -> Option<Stored> {
        let text = config_map.data.as_ref().and_then(|data| data.get(CONFIG_MAP_KEY));
        let gzip = config_map.binary_data.as_ref().and_then(|data| data.get(CONFIG_MAP_GZIP_KEY));
        match (text, gzip) {
            (Some(text), None) => Some(Stored::Text(text.clone())),
            (None, Some(gzip)) => Some(Stored::Gzip(gzip.0.clone())),
            _ => None,
        }
    }

    /// The manifest's JSON text; an error when the gzipped form is not gzip of UTF-8.
    pub fn json(&self) -> std::io::Result<String> {
        match self {
            Stored::Text(text) => Ok(text.clone()),
            Stored::Gzip(bytes) => {
                let mut text = String::new();
                flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
                Ok(text)
            }
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
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
    fn the_form_is_the_first_that_fits() {
        let never = || -> usize { unreachable!("gzipped only when the compact form does not fit") };
        let room = |key: &str| CONFIG_MAP_MAX_BYTES - key.len();
        assert_eq!(form(PRETTY_MAX_BYTES, PRETTY_MAX_BYTES, never), Some(Form::Pretty));
        assert_eq!(form(PRETTY_MAX_BYTES + 1, PRETTY_MAX_BYTES, never), Some(Form::Compact));
        assert_eq!(form(2 * CONFIG_MAP_MAX_BYTES, room(CONFIG_MAP_KEY), never), Some(Form::Compact));
        let gzip = room(CONFIG_MAP_GZIP_KEY);
        assert_eq!(form(2 * CONFIG_MAP_MAX_BYTES, room(CONFIG_MAP_KEY) + 1, || gzip), Some(Form::Gzip));
        assert_eq!(form(2 * CONFIG_MAP_MAX_BYTES, room(CONFIG_MAP_KEY) + 1, || gzip + 1), None);
    }

    fn config_map(stored: &Stored) -> ConfigMap {
        let (data, binary_data) = match stored {
            Stored::Text(text) => (serde_json::json!({ CONFIG_MAP_KEY: text }), serde_json::json!({})),
            Stored::Gzip(bytes) => {
                let bytes = k8s_openapi::ByteString(bytes.clone());
                (serde_json::json!({}), serde_json::json!({ CONFIG_MAP_GZIP_KEY: bytes }))
            }
        };
        serde_json::from_value(serde_json::json!({ "data": data, "binaryData": binary_data })).unwrap()
    }

    #[test]
    fn a_small_manifest_stays_pretty() {
        let manifest = Manifest { repositories: vec![] };
        assert_eq!(manifest.stored(), Ok(Stored::Text(manifest.to_json())));
    }

    #[test]
    fn ten_thousand_repositories_fit_their_config_map() {
        let repositories = (0..10_000)
            .map(|i| ManifestEntry {
                name: format!("service-{i:05}-{}", ["api", "worker", "web", "cli"][i % 4]),
                language: ["rust", "typescript", "go", "python"][i % 4].to_owned(),
                build_command: Some(["cargo build --release", "npm run build", "go build ./...", "make"][i % 4].into()),
                test_command: Some(["cargo test", "npm test", "go test ./...", "pytest"][i % 4].to_owned()),
                dependencies: (1..=3).filter(|d| i >= *d).map(|d| format!("service-{:05}-lib", i - d)).collect(),
            })
            .collect();
        let manifest = Manifest { repositories };
        assert!(manifest.to_json().len() > CONFIG_MAP_MAX_BYTES, "the pretty form alone would be refused");
        let stored = manifest.stored().expect("fits");
        let held = match &stored {
            Stored::Text(text) => CONFIG_MAP_KEY.len() + text.len(),
            Stored::Gzip(bytes) => CONFIG_MAP_GZIP_KEY.len() + bytes.len(),
        };
        assert!(held <= CONFIG_MAP_MAX_BYTES, "{held} bytes");
        let read = Stored::of(&config_map(&stored)).expect("one key").json().unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&read).unwrap(), manifest);
    }

    #[test]
    fn every_form_reads_back_and_two_keys_read_as_none() {
        let manifest = Manifest { repositories: vec![] };
        let text = Stored::Text(manifest.to_json());
        let gzipped = Stored::Gzip(gzip(manifest.to_json().as_bytes()));
        for stored in [&text, &gzipped] {
            assert_eq!(Stored::of(&config_map(stored)).as_ref(), Some(stored));
            assert_eq!(stored.json().unwrap(), manifest.to_json());
        }
        let mut both = config_map(&text);
        both.binary_data = config_map(&gzipped).binary_data;
        assert_eq!(Stored::of(&both), None);
        assert!(Stored::Gzip(b"not gzip".to_vec()).json().is_err());
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
