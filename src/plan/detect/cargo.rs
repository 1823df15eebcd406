//! Cargo: `Cargo.toml` at the root, its `[workspace]` members (globs and `exclude` honoured, path dependencies
//! inside the repository included as Cargo does), the crates they declare and every dependency table.

use std::collections::BTreeSet;

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{
    directory, github_repository, glob_matches, join, parse_toml, resolve_relative, toml_str, toml_table,
    RepositoryFiles,
};
use super::{BuildSystem, Toolchain};

const ROOT_MANIFEST: &str = "Cargo.toml";

/// Dependency tables of a manifest, with the legacy underscore spellings Cargo still accepts.
const DEPENDENCY_TABLES: &[&str] =
    &["dependencies", "dev-dependencies", "dev_dependencies", "build-dependencies", "build_dependencies"];

/// Whether a path is a Cargo manifest worth fetching.
pub(super) fn wants(path: &str) -> bool {
    super::files::file_name(path) == ROOT_MANIFEST
}

/// Reads the root manifest and its workspace members. `None` when the repository has no root `Cargo.toml`.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    if !files.exists(ROOT_MANIFEST) {
        return None;
    }
    let root = files.content(ROOT_MANIFEST).and_then(|text| match parse_toml(text) {
        Ok(table) => Some(table),
        Err(message) => {
            out.warn(ROOT_MANIFEST, message);
            None
        }
    });
    let is_workspace = root.as_ref().is_some_and(|root| root.contains_key("workspace"));
    if let Some(root) = &root {
        read_workspace(files, root, out);
    }
    Some(toolchain(is_workspace, files.exists("Cargo.lock")))
}

fn toolchain(is_workspace: bool, locked: bool) -> Toolchain {
    let workspace = if is_workspace { " --workspace" } else { "" };
    let lock = if locked { " --locked" } else { "" };
    Toolchain {
        language: "rust".to_owned(),
        build_systems: vec![BuildSystem::Cargo],
        build: Some(format!("cargo build{workspace}{lock}")),
        test: Some(format!("cargo test{workspace}")),
        substantive: true,
    }
}

/// What members inherit from the workspace root.
struct Workspace<'t> {
    dependencies: Option<&'t toml::Table>,
    publish: Option<&'t toml::Value>,
}

fn read_workspace(files: &RepositoryFiles<'_>, root: &toml::Table, out: &mut RepositoryDescription) {
    let workspace_table = toml_table(root, "workspace");
    let workspace = Workspace {
        dependencies: workspace_table.and_then(|w| toml_table(w, "dependencies")),
        publish: workspace_table.and_then(|w| toml_table(w, "package")).and_then(|p| p.get("publish")),
    };
    if let Some(dependencies) = workspace.dependencies {
        read_dependency_table(ROOT_MANIFEST, dependencies, &Workspace { dependencies: None, publish: None }, out);
    }
    let mut queue = vec![ROOT_MANIFEST.to_owned()];
    let mut seen = BTreeSet::new();
    if let Some(workspace_table) = workspace_table {
        queue.extend(member_manifests(files, workspace_table));
    }
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let manifest = if path == ROOT_MANIFEST {
            Some(root.clone())
        } else {
            match files.content(&path).map(parse_toml) {
                Some(Ok(table)) => Some(table),
                Some(Err(message)) => {
                    out.warn(&path, message);
                    None
                }
                None => None,
            }
        };
        if let Some(manifest) = manifest {
            read_manifest(&path, &manifest, &workspace, out);
            queue.extend(path_dependency_manifests(files, &path, &manifest));
        }
    }
}

/// Fetched member manifests: directories matching `members` and not `exclude`.
fn member_manifests(files: &RepositoryFiles<'_>, workspace: &toml::Table) -> Vec<String> {
    let patterns = |key: &str| -> Vec<String> {
        let items = workspace.get(key).and_then(toml::Value::as_array);
        let strings = items.into_iter().flatten().filter_map(toml::Value::as_str);
        strings.filter_map(|pattern| resolve_relative("", pattern)).collect()
    };
    let members = patterns("members");
    let excluded = patterns("exclude");
    files
        .fetched_named(ROOT_MANIFEST)
        .into_iter()
        .filter(|path| *path != ROOT_MANIFEST)
        .filter(|path| {
            let dir = directory(path);
            members.iter().any(|member| glob_matches(member, dir))
                && !excluded.iter().any(|exclude| dir == exclude || dir.starts_with(&format!("{exclude}/")))
        })
        .map(str::to_owned)
        .collect()
}

/// Fetched manifests of path dependencies inside the repository: Cargo makes them workspace members too.
fn path_dependency_manifests(files: &RepositoryFiles<'_>, manifest_path: &str, manifest: &toml::Table) -> Vec<String> {
    let base = directory(manifest_path);
    let mut found = Vec::new();
    for_each_dependency_table(manifest, |table| {
        for value in table.values() {
            let path = value.as_table().and_then(|spec| toml_str(spec, "path"));
            if let Some(target) = path.and_then(|path| resolve_relative(base, path)) {
                let candidate = join(&target, ROOT_MANIFEST);
                if files.content(&candidate).is_some() {
                    found.push(candidate);
                }
            }
        }
    });
    found
}

fn read_manifest(path: &str, manifest: &toml::Table, workspace: &Workspace<'_>, out: &mut RepositoryDescription) {
    if let Some(package) = toml_table(manifest, "package") {
        if let Some(name) = toml_str(package, "name") {
            let publish = match package.get("publish") {
                Some(toml::Value::Table(inherit)) if inherit.contains_key("workspace") => workspace.publish,
                other => other,
            };
            out.produce(Ecosystem::Cargo, name, path, is_published(publish));
        }
    }
    for_each_dependency_table(manifest, |table| read_dependency_table(path, table, workspace, out));
    // `[patch.crates-io]`, `[patch."https://github.com/o/r"]`: overrides the build really uses.
    if let Some(patches) = toml_table(manifest, "patch") {
        for table in patches.values().filter_map(toml::Value::as_table) {
            read_dependency_table(path, table, workspace, out);
        }
    }
}

/// `publish = false` and `publish = []` mean not published; a list of registries or no key means published.
fn is_published(publish: Option<&toml::Value>) -> bool {
    match publish {
        Some(toml::Value::Boolean(publish)) => *publish,
        Some(toml::Value::Array(registries)) => !registries.is_empty(),
        _ => true,
    }
}

/// Calls `visit` on every dependency table: top level and under each `[target.'cfg(…)']`.
fn for_each_dependency_table<'t>(manifest: &'t toml::Table, mut visit: impl FnMut(&'t toml::Table)) {
    let targets = toml_table(manifest, "target").into_iter().flat_map(|targets| targets.values());
    let scopes = std::iter::once(manifest).chain(targets.filter_map(toml::Value::as_table));
    for scope in scopes {
        for key in DEPENDENCY_TABLES {
            if let Some(table) = toml_table(scope, key) {
                visit(table);
            }
        }
    }
}

fn read_dependency_table(path: &str, table: &toml::Table, workspace: &Workspace<'_>, out: &mut RepositoryDescription) {
    for (key, value) in table {
        let mut spec = value.as_table();
        // `foo = { workspace = true }` takes its source (and rename) from `[workspace.dependencies]`.
        if spec.is_some_and(|spec| spec.get("workspace").and_then(toml::Value::as_bool) == Some(true)) {
            spec = workspace.dependencies.and_then(|deps| deps.get(key)).and_then(toml::Value::as_table);
        }
        let name = spec.and_then(|spec| toml_str(spec, "package")).unwrap_or(key);
        let github = spec.and_then(|spec| toml_str(spec, "git")).and_then(github_repository);
        out.consume_from(Ecosystem::Cargo, name, key, path, github);
    }
}
