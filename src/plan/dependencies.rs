//! The organization's dependency graph: repository A depends on repository B when one of A's manifests declares
//! a package B produces (same ecosystem, names compared the ecosystem's way), or points a git URL at B. Pure:
//! descriptions in, edges out.
//!
//! Rules, in order, for each dependency A declares:
//! 1. A dependency with a GitHub URL (`git = "https://github.com/ORG/REPO"`, `github:ORG/REPO`, `git+https://…`,
//!    a `github.com/ORG/REPO/…` Go module path) is an edge to REPO when ORG is the organization (compared without
//!    case) and REPO one of its repositories; a URL to anywhere else is no edge, even if the name matches a
//!    package of the organization (it is someone else's copy).
//! 2. Otherwise a dependency on a package A produces itself (a workspace sibling) is no edge.
//! 3. Otherwise a package exactly one other repository produces is an edge to it. A package two or more
//!    repositories produce is reported as an [`AmbiguousPackage`] and draws no edge rather than a guessed one.
//!
//! Self-edges are never drawn. Each edge keeps every piece of evidence (file and dependency as written).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::crd::reference::GitHubRepositoryName;
use crate::crd::repository::{DependencyEvidence, RepositoryDependency};
use crate::plan::detect::{Ecosystem, RepositoryDescription};

/// The edges of every repository, and what kept some from being drawn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Every repository given, by name, with the repositories it depends on (sorted by name, possibly empty).
    pub dependencies: BTreeMap<String, Vec<RepositoryDependency>>,
    /// Packages produced by more than one repository.
    pub ambiguities: Vec<AmbiguousPackage>,
}

/// A package that more than one repository of the organization produces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmbiguousPackage {
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The package as the first producer names it.
    pub name: String,
    /// The repositories producing it, sorted.
    pub producers: Vec<String>,
    /// Repositories that depend on it by name and so got no edge for it, sorted.
    pub consumers: Vec<String>,
}

impl fmt::Display for AmbiguousPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} package {:?} is produced by {}", self.ecosystem, self.name, self.producers.join(", "))?;
        if !self.consumers.is_empty() {
            write!(f, "; no edge drawn for it from {}", self.consumers.join(", "))?;
        }
        Ok(())
    }
}

/// Computes every repository's dependencies on other repositories of the organization `org` (its login).
/// `repositories` maps each repository's GitHub name to its description.
pub fn repository_dependencies(org: &str, repositories: &BTreeMap<String, RepositoryDescription>) -> DependencyGraph {
    let by_lowercase_name: BTreeMap<String, &str> =
        repositories.keys().map(|name| (name.to_lowercase(), name.as_str())).collect();
    let mut producers: BTreeMap<(Ecosystem, String), (String, BTreeSet<&str>)> = BTreeMap::new();
    for (repository, description) in repositories {
        for package in &description.produces {
            let key = (package.ecosystem, package.ecosystem.normalize(&package.name));
            let entry = producers.entry(key).or_insert_with(|| (package.name.clone(), BTreeSet::new()));
            entry.1.insert(repository.as_str());
        }
    }

    let mut ambiguous_consumers: BTreeMap<(Ecosystem, String), BTreeSet<&str>> = BTreeMap::new();
    let mut graph = DependencyGraph::default();
    for (repository, description) in repositories {
        let mut edges: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
        for dependency in &description.consumes {
            let target = if let Some((owner, name)) = &dependency.github {
                let in_org = owner.eq_ignore_ascii_case(org);
                in_org.then(|| by_lowercase_name.get(&name.to_lowercase()).copied()).flatten()
            } else {
                let key = (dependency.ecosystem, dependency.ecosystem.normalize(&dependency.name));
                match producers.get(&key).map(|(_, repositories)| repositories) {
                    Some(found) if found.contains(repository.as_str()) => None,
                    Some(found) if found.len() == 1 => found.first().copied(),
                    Some(_) => {
                        ambiguous_consumers.entry(key).or_default().insert(repository.as_str());
                        None
                    }
                    None => None,
                }
            };
            if let Some(target) = target.filter(|target| *target != repository.as_str()) {
                edges.entry(target).or_default().insert((dependency.file.as_str(), dependency.declared.as_str()));
            }
        }
        let dependencies = edges
            .into_iter()
            .map(|(target, evidence)| RepositoryDependency {
                repository: target.to_owned(),
                evidence: evidence
                    .into_iter()
                    .map(|(file, dependency)| DependencyEvidence {
                        file: file.to_owned(),
                        dependency: dependency.to_owned(),
                    })
                    .collect(),
            })
            .collect();
        graph.dependencies.insert(repository.clone(), dependencies);
    }

    graph.ambiguities = producers
        .into_iter()
        .filter(|(_, (_, repositories))| repositories.len() > 1)
        .map(|(key, (name, repositories))| AmbiguousPackage {
            ecosystem: key.0,
            name,
            producers: repositories.iter().map(|r| (*r).to_owned()).collect(),
            consumers: ambiguous_consumers.get(&key).into_iter().flatten().map(|r| (*r).to_owned()).collect(),
        })
        .collect();
    graph
}

/// Adds the repositories a Repository's `spec.dependsOn` names to the edges found in its manifests: an edge
/// already found keeps its evidence, a new one has none. Self-references are dropped. The result stays sorted.
pub fn with_declared(
    repository: &str,
    mut found: Vec<RepositoryDependency>,
    depends_on: &[GitHubRepositoryName],
) -> Vec<RepositoryDependency> {
    for declared in depends_on {
        let name = &declared.0;
        let known = found.iter().any(|edge| edge.repository.eq_ignore_ascii_case(name));
        if !known && !name.eq_ignore_ascii_case(repository) {
            found.push(RepositoryDependency { repository: name.clone(), evidence: Vec::new() });
        }
    }
    found.sort_by(|a, b| a.repository.cmp(&b.repository));
    found
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::detect::tests::describe_repository;

    /// Describes a repository from `(path, contents)` files, through the same two steps the controller takes.
    fn repository(files: &[(&str, &str)]) -> RepositoryDescription {
        describe_repository(files, &[])
    }

    /// An organization of twelve repositories across six ecosystems.
    fn organization() -> BTreeMap<String, RepositoryDescription> {
        let repositories = [
            ("proto-defs", repository(&[("Cargo.toml", "[package]\nname = \"acme-proto\"\n")])),
            (
                "core-rs",
                repository(&[
                    ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nacme-proto = { git = \"https://github.com/ACME/Proto-Defs.git\" }\n"),
                    ("crates/core/Cargo.toml", "[package]\nname = \"acme-core\"\n[dependencies]\nacme-proto.workspace = true\nserde = \"1\"\n"),
                    ("crates/cli/Cargo.toml", "[package]\nname = \"acme-cli\"\n[dependencies]\nacme_core = { path = \"../core\", package = \"acme-core\" }\n"),
                ]),
            ),
            (
                "ui-kit",
                repository(&[
                    ("package.json", r#"{"name": "ui-kit-root", "private": true, "workspaces": ["packages/*"]}"#),
                    ("packages/ui/package.json", r#"{"name": "@acme/ui", "dependencies": {"acme-utils": "workspace:*"}}"#),
                    ("packages/utils/package.json", r#"{"name": "acme-utils"}"#),
                ]),
            ),
            ("fork-ui", repository(&[("package.json", r#"{"name": "acme-utils", "version": "9.0.0"}"#)])),
            ("auth-js", repository(&[("package.json", r#"{"name": "@acme/auth-client"}"#)])),
            (
                "web",
                repository(&[(
                    "package.json",
                    r#"{"name": "web", "private": true,
                        "dependencies": {"@acme/ui": "^2", "acme-utils": "^1", "auth": "github:acme/auth-js#v3", "acme-core": "^1", "acme-proto": "^1"},
                        "devDependencies": {"@acme/ui": "^2"}}"#,
                )]),
            ),
            ("ledger", repository(&[("go.mod", "module github.com/acme/ledger\n\ngo 1.22\n")])),
            (
                "payments",
                repository(&[(
                    "go.mod",
                    "module github.com/acme/payments\n\nrequire (\n\tgithub.com/acme/ledger v1.4.0\n\tgithub.com/other-org/ledger v0.1.0\n)\n",
                )]),
            ),
            (
                "common-py",
                repository(&[("pyproject.toml", "[tool.poetry]\nname = \"acme-common\"\nversion = \"1.0\"\n")]),
            ),
            (
                "analytics",
                repository(&[(
                    "requirements.txt",
                    "Acme_Common[fast]>=1.0  # normalized to acme-common\nacme-reports @ git+https://github.com/other/reports\n-e git+https://github.com/acme/ledger.git#egg=ledger-tools\n",
                )]),
            ),
            (
                "platform",
                repository(&[
                    ("pom.xml", "<project><groupId>com.acme.platform</groupId><artifactId>platform-parent</artifactId><modules><module>events</module></modules></project>"),
                    ("events/pom.xml", "<project><parent><groupId>com.acme.platform</groupId></parent><artifactId>platform-events</artifactId></project>"),
                ]),
            ),
            (
                "orders",
                repository(&[
                    ("settings.gradle.kts", "rootProject.name = \"orders\"\ninclude(\":api\")\n"),
                    ("build.gradle.kts", "group = \"com.acme.orders\"\ndependencies { implementation(\"com.acme.platform:platform-events:4.2.0\") }\n"),
                    ("api/build.gradle.kts", "dependencies {\n    api(\"com.acme.platform:platform-events:4.2.0\")\n    implementation(\"com.acme.platform:platform-parent:4.2.0\")\n}\n"),
                ]),
            ),
        ];
        repositories.into_iter().map(|(name, description)| (name.to_owned(), description)).collect()
    }

    fn edge(repository: &str, evidence: &[(&str, &str)]) -> RepositoryDependency {
        RepositoryDependency {
            repository: repository.to_owned(),
            evidence: evidence
                .iter()
                .map(|(file, dependency)| DependencyEvidence {
                    file: file.to_string(),
                    dependency: dependency.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn organization_edges_across_ecosystems() {
        let graph = repository_dependencies("acme", &organization());
        let expected: BTreeMap<String, Vec<RepositoryDependency>> = [
            (
                "analytics",
                vec![
                    edge("common-py", &[("requirements.txt", "Acme_Common[fast]")]),
                    edge("ledger", &[("requirements.txt", "git+https://github.com/acme/ledger.git#egg=ledger-tools")]),
                ],
            ),
            ("auth-js", vec![]),
            ("common-py", vec![]),
            // Git-URL edge (case-insensitive org and repository); the member inherits it from the workspace.
            (
                "core-rs",
                vec![edge("proto-defs", &[("Cargo.toml", "acme-proto"), ("crates/core/Cargo.toml", "acme-proto")])],
            ),
            ("fork-ui", vec![]),
            ("ledger", vec![]),
            (
                "orders",
                vec![edge(
                    "platform",
                    &[
                        ("api/build.gradle.kts", "com.acme.platform:platform-events:4.2.0"),
                        ("api/build.gradle.kts", "com.acme.platform:platform-parent:4.2.0"),
                        ("build.gradle.kts", "com.acme.platform:platform-events:4.2.0"),
                    ],
                )],
            ),
            ("payments", vec![edge("ledger", &[("go.mod", "github.com/acme/ledger")])]),
            ("platform", vec![]),
            ("proto-defs", vec![]),
            // ui-kit depends on its own acme-utils (a workspace sibling), not on fork-ui's.
            ("ui-kit", vec![]),
            // npm `acme-core` and `acme-proto` are not the crates of the same names; `acme-utils` is ambiguous.
            (
                "web",
                vec![edge("auth-js", &[("package.json", "auth")]), edge("ui-kit", &[("package.json", "@acme/ui")])],
            ),
        ]
        .into_iter()
        .map(|(name, edges)| (name.to_owned(), edges))
        .collect();
        assert_eq!(graph.dependencies, expected);
        assert_eq!(
            graph.ambiguities,
            vec![AmbiguousPackage {
                ecosystem: Ecosystem::Npm,
                name: "acme-utils".into(),
                producers: vec!["fork-ui".into(), "ui-kit".into()],
                consumers: vec!["web".into()],
            }]
        );
        assert_eq!(
            graph.ambiguities[0].to_string(),
            "npm package \"acme-utils\" is produced by fork-ui, ui-kit; no edge drawn for it from web"
        );
    }

    #[test]
    fn git_urls_outside_the_organization_or_to_unknown_repositories_draw_no_edge() {
        let mut repositories = BTreeMap::new();
        repositories.insert("lib".to_owned(), repository(&[("Cargo.toml", "[package]\nname = \"lib\"\n")]));
        let consumer = "[package]\nname = \"app\"\n[dependencies]\nlib = { git = \"https://github.com/someone-else/lib\" }\nghost = { git = \"https://github.com/acme/ghost\" }\n";
        repositories.insert("app".to_owned(), repository(&[("Cargo.toml", consumer)]));
        let graph = repository_dependencies("acme", &repositories);
        assert_eq!(graph.dependencies["app"], vec![]);
        // The same dependency by name from the registry is an edge.
        let by_name = "[package]\nname = \"app\"\n[dependencies]\nlib = \"1\"\n";
        repositories.insert("app".to_owned(), repository(&[("Cargo.toml", by_name)]));
        let graph = repository_dependencies("acme", &repositories);
        assert_eq!(graph.dependencies["app"], vec![edge("lib", &[("Cargo.toml", "lib")])]);
    }

    #[test]
    fn a_git_url_to_itself_is_no_self_edge_and_cargo_names_compare_dashes_and_underscores() {
        let mut repositories = BTreeMap::new();
        let itself = "[package]\nname = \"tool\"\n[dev-dependencies]\ntool = { git = \"https://github.com/acme/tool\" }\nmy_lib = \"1\"\n";
        repositories.insert("tool".to_owned(), repository(&[("Cargo.toml", itself)]));
        repositories.insert("my-lib".to_owned(), repository(&[("Cargo.toml", "[package]\nname = \"my-lib\"\n")]));
        let graph = repository_dependencies("acme", &repositories);
        assert_eq!(graph.dependencies["tool"], vec![edge("my-lib", &[("Cargo.toml", "my_lib")])]);
    }

    #[test]
    fn declared_dependencies_are_added_once_and_keep_evidence() {
        let found = vec![edge("ledger", &[("go.mod", "github.com/acme/ledger")])];
        let declared = [
            GitHubRepositoryName("Ledger".into()),
            GitHubRepositoryName("auth-js".into()),
            GitHubRepositoryName("payments".into()),
        ];
        assert_eq!(
            with_declared("payments", found, &declared),
            vec![edge("auth-js", &[]), edge("ledger", &[("go.mod", "github.com/acme/ledger")])]
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::plan::detect::{ConsumedDependency, ProducedPackage};

        const ECOSYSTEMS: [Ecosystem; 5] =
            [Ecosystem::Cargo, Ecosystem::Npm, Ecosystem::Go, Ecosystem::Python, Ecosystem::Maven];

        /// A repository: what it produces and consumes, from small pools so that names collide often.
        fn description() -> impl Strategy<Value = RepositoryDescription> {
            let package =
                (0..5usize, 0..6u8).prop_map(|(ecosystem, name)| (ECOSYSTEMS[ecosystem], format!("pkg-{name}")));
            let github = proptest::option::of((prop_oneof![Just("acme"), Just("ACME"), Just("other")], 0..8u8));
            (proptest::collection::vec(package.clone(), 0..3), proptest::collection::vec((package, github), 0..6))
                .prop_map(|(produces, consumes)| RepositoryDescription {
                    produces: produces
                        .into_iter()
                        .map(|(ecosystem, name)| ProducedPackage { ecosystem, name, file: "m".into(), published: true })
                        .collect(),
                    consumes: consumes
                        .into_iter()
                        .map(|((ecosystem, name), github)| ConsumedDependency {
                            ecosystem,
                            declared: name.clone(),
                            name,
                            file: "m".into(),
                            github: github.map(|(owner, repository)| (owner.to_owned(), format!("repo-{repository}"))),
                        })
                        .collect(),
                    ..RepositoryDescription::default()
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn edges_are_sorted_unique_known_never_self_and_backed_by_evidence(
                descriptions in proptest::collection::vec(description(), 1..8)
            ) {
                let repositories: BTreeMap<String, RepositoryDescription> =
                    descriptions.into_iter().enumerate().map(|(i, d)| (format!("repo-{i}"), d)).collect();
                let graph = repository_dependencies("acme", &repositories);
                prop_assert_eq!(graph.dependencies.len(), repositories.len());
                for (repository, edges) in &graph.dependencies {
                    let targets: Vec<&str> = edges.iter().map(|e| e.repository.as_str()).collect();
                    let mut sorted = targets.clone();
                    sorted.sort();
                    sorted.dedup();
                    prop_assert_eq!(&targets, &sorted);
                    for edge in edges {
                        prop_assert_ne!(&edge.repository, repository);
                        prop_assert!(repositories.contains_key(&edge.repository));
                        prop_assert!(!edge.evidence.is_empty());
                        let consumes = &repositories[repository].consumes;
                        for evidence in &edge.evidence {
                            prop_assert!(consumes.iter().any(|d| d.file == evidence.file && d.declared == evidence.dependency));
                        }
                    }
                }
                // Conversely, every unambiguous match is an edge.
                for (repository, description) in &repositories {
                    let has_edge = |target: &str| graph.dependencies[repository].iter().any(|e| e.repository == target);
                    for dependency in &description.consumes {
                        let expected = match &dependency.github {
                            Some((owner, target)) if owner.eq_ignore_ascii_case("acme") => {
                                repositories.contains_key(target).then(|| target.clone())
                            }
                            Some(_) => None,
                            None => {
                                let producers: Vec<&String> = repositories
                                    .iter()
                                    .filter(|(_, d)| {
                                        d.produces.iter().any(|p| p.ecosystem == dependency.ecosystem && p.name == dependency.name)
                                    })
                                    .map(|(name, _)| name)
                                    .collect();
                                (producers.len() == 1 && producers[0] != repository).then(|| producers[0].clone())
                            }
                        };
                        if let Some(target) = expected.filter(|target| target != repository) {
                            prop_assert!(has_edge(&target), "{} -> {} for {:?}", repository, target, dependency);
                        }
                    }
                }
                for ambiguity in &graph.ambiguities {
                    prop_assert!(ambiguity.producers.len() > 1);
                }
            }
        }
    }
}
