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
                    .map(|(file, dependency)| DependencyEvidence { file: file.to_owned(), dependency: dependency.to_owned() })
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
