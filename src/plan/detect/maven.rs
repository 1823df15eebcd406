//! Maven: the root `pom.xml` and its `<modules>` (recursively, profiles' modules too). Each POM produces
//! `groupId:artifactId` (the groupId inherited from `<parent>` when absent) and consumes its `<parent>`, every
//! `<dependency>` (including `<dependencyManagement>` and plugin dependencies) and `<plugin>`. `${…}` properties are resolved from
//! the POM's `<properties>` and those of the POMs that aggregate it; what stays unresolved is reported, not guessed.

use std::collections::{BTreeMap, BTreeSet};

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{directory, file_name, join, resolve_relative, RepositoryFiles};
use super::{BuildSystem, Toolchain};

const MANIFEST: &str = "pom.xml";

/// Whether a path is a Maven manifest worth fetching.
pub(super) fn wants(path: &str) -> bool {
    file_name(path) == MANIFEST
}

/// What a POM declares, before property resolution.
#[derive(Debug, Default)]
pub(crate) struct Pom {
    group_id: Option<String>,
    artifact_id: Option<String>,
    parent_group_id: Option<String>,
    properties: BTreeMap<String, String>,
    modules: Vec<String>,
    /// `(groupId, artifactId)` of dependencies and plugins; a plugin without groupId is Maven's own.
    dependencies: Vec<(String, String)>,
    uses_kotlin: bool,
}

/// Parses a POM. The error names line and column.
pub(crate) fn parse_pom(text: &str) -> Result<Pom, String> {
    let document = roxmltree::Document::parse(text).map_err(|error| {
        let position = error.pos();
        format!("invalid XML at line {}, column {}: {error}", position.row, position.col)
    })?;
    let project = document.root_element();
    if project.tag_name().name() != "project" {
        return Err(format!("the root element is <{}>, not <project>", project.tag_name().name()));
    }
    let child_text = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children()
            .find(|child| child.tag_name().name() == name)
            .and_then(|child| child.text())
            .map(|t| t.trim().to_owned())
    };
    let mut pom = Pom {
        group_id: child_text(project, "groupId"),
        artifact_id: child_text(project, "artifactId"),
        ..Pom::default()
    };
    if let Some(parent) = project.children().find(|child| child.tag_name().name() == "parent") {
        pom.parent_group_id = child_text(parent, "groupId");
        // An organization's shared parent POM must be resolvable to build: a dependency like any other.
        if let (Some(group), Some(artifact)) = (child_text(parent, "groupId"), child_text(parent, "artifactId")) {
            pom.dependencies.push((group, artifact));
        }
    }
    for node in project.descendants().filter(roxmltree::Node::is_element) {
        let parent_name = node.parent_element().map(|parent| parent.tag_name().name()).unwrap_or_default();
        match (node.tag_name().name(), parent_name) {
            (name, "properties") => {
                pom.properties.insert(name.to_owned(), node.text().unwrap_or_default().trim().to_owned());
            }
            ("module", "modules") => pom.modules.extend(node.text().map(|t| t.trim().to_owned())),
            ("dependency", "dependencies") => {
                if let (Some(group), Some(artifact)) = (child_text(node, "groupId"), child_text(node, "artifactId")) {
                    pom.dependencies.push((group, artifact));
                }
            }
            ("plugin", "plugins") => {
                let group = child_text(node, "groupId").unwrap_or_else(|| "org.apache.maven.plugins".to_owned());
                if let Some(artifact) = child_text(node, "artifactId") {
                    pom.uses_kotlin |= artifact == "kotlin-maven-plugin";
                    pom.dependencies.push((group, artifact));
                }
            }
            _ => {}
        }
    }
    Ok(pom)
}

/// Reads the root POM and its modules. `None` without a root `pom.xml`.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    if !files.exists(MANIFEST) {
        return None;
    }
    let mut kotlin = files.paths().any(|path| path.starts_with("src/main/kotlin/"));
    let mut queue = vec![(MANIFEST.to_owned(), Inherited::default())];
    let mut seen = BTreeSet::new();
    while let Some((path, inherited)) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(text) = files.content(&path) else { continue };
        let pom = match parse_pom(text) {
            Ok(pom) => pom,
            Err(message) => {
                out.warn(&path, message);
                continue;
            }
        };
        kotlin |= pom.uses_kotlin;
        let inherited = read_pom(&path, &pom, &inherited, out);
        for module in &pom.modules {
            if let Some(dir) = resolve_relative(directory(&path), module) {
                // A module may name its POM file directly.
                let module_pom = if dir.ends_with(".xml") { dir } else { join(&dir, MANIFEST) };
                queue.push((module_pom, inherited.clone()));
            }
        }
    }
    let maven = if files.exists("mvnw") { "./mvnw" } else { "mvn" };
    Some(Toolchain {
        language: if kotlin { "kotlin" } else { "java" }.to_owned(),
        build_systems: vec![BuildSystem::Maven],
        build: Some(format!("{maven} -B package")),
        test: Some(format!("{maven} -B test")),
        substantive: true,
    })
}

/// What a module inherits from the POM that aggregates it.
#[derive(Clone, Debug, Default)]
struct Inherited {
    group_id: Option<String>,
    properties: BTreeMap<String, String>,
}

fn read_pom(path: &str, pom: &Pom, inherited: &Inherited, out: &mut RepositoryDescription) -> Inherited {
    let mut properties = inherited.properties.clone();
    properties.extend(pom.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
    let parent_group = pom.parent_group_id.clone().or_else(|| inherited.group_id.clone());
    let own_group = pom.group_id.clone().or_else(|| parent_group.clone());
    for (key, value) in [("project.groupId", &own_group), ("project.parent.groupId", &parent_group)] {
        if let Some(value) = value {
            properties.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(artifact) = &pom.artifact_id {
        properties.insert("project.artifactId".to_owned(), artifact.clone());
    }
    let resolve = |value: &str| resolve_properties(value, &properties);
    let group_id = own_group.as_deref().map(resolve);
    if let (Some(Ok(group)), Some(artifact)) = (&group_id, pom.artifact_id.as_deref().map(resolve)) {
        match artifact {
            Ok(artifact) => {
                let skipped = properties.get("maven.deploy.skip").is_some_and(|skip| skip == "true");
                out.produce(Ecosystem::Maven, &format!("{group}:{artifact}"), path, !skipped);
            }
            Err(unresolved) => {
                out.record_unresolved(path, &unresolved, "the artifactId uses a property not defined here")
            }
        }
    }
    for (group, artifact) in &pom.dependencies {
        let written = format!("{group}:{artifact}");
        match (resolve(group), resolve(artifact)) {
            (Ok(group), Ok(artifact)) => out.consume(Ecosystem::Maven, &format!("{group}:{artifact}"), &written, path),
            _ => out.record_unresolved(path, &written, "uses a property not defined in this repository's POMs"),
        }
    }
    Inherited { group_id: group_id.and_then(Result::ok), properties }
}

/// Replaces `${name}` with properties (`pom.` is read as `project.`). `Err` carries the text when a property is
/// unknown.
fn resolve_properties(value: &str, properties: &BTreeMap<String, String>) -> Result<String, String> {
    let mut resolved = value.to_owned();
    // Bounded: properties may refer to properties, never forever.
    for _ in 0..8 {
        let Some(start) = resolved.find("${") else { return Ok(resolved) };
        let Some(length) = resolved[start..].find('}') else { return Err(value.to_owned()) };
        let name = &resolved[start + 2..start + length];
        let name = name.strip_prefix("pom.").map_or_else(|| name.to_owned(), |rest| format!("project.{rest}"));
        let replacement = properties.get(&name).ok_or_else(|| value.to_owned())?;
        resolved.replace_range(start..start + length + 1, replacement);
    }
    Err(value.to_owned())
}
