//! Node: `package.json` at the root and in its workspaces (`workspaces` in `package.json`, or
//! `pnpm-workspace.yaml`), the package manager chosen from the lockfile's name, `scripts.build` / `scripts.test`.

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{
    directory, file_name, github_repository, glob_matches, join, parse_json, parse_yaml, RepositoryFiles,
};
use super::{BuildSystem, Toolchain};

const ROOT_MANIFEST: &str = "package.json";
const PNPM_WORKSPACE: &str = "pnpm-workspace.yaml";
const DEPENDENCY_FIELDS: &[&str] = &["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];

/// Whether a path is a Node manifest worth fetching.
pub(super) fn wants(path: &str) -> bool {
    file_name(path) == ROOT_MANIFEST || path == PNPM_WORKSPACE
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PackageManager {
    Npm,
    Pnpm,
    YarnClassic,
    YarnBerry,
}

/// Reads the root `package.json` and its workspace members. `None` when there is no root `package.json`.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    if !files.exists(ROOT_MANIFEST) {
        return None;
    }
    let root = files.content(ROOT_MANIFEST).and_then(|text| match parse_json(text) {
        Ok(value) => Some(value),
        Err(message) => {
            out.warn(ROOT_MANIFEST, message);
            None
        }
    });
    let manager = package_manager(files, root.as_ref());
    let Some(root) = root else {
        // Without its manifest the scripts are unknown: no command rather than a guess.
        return Some(Toolchain {
            language: if files.exists("tsconfig.json") { "typescript" } else { "javascript" }.to_owned(),
            build_systems: vec![build_system(manager)],
            build: None,
            test: None,
            substantive: false,
        });
    };

    let patterns = workspace_patterns(files, &root, out);
    let mut manifests = vec![(ROOT_MANIFEST.to_owned(), root)];
    for path in files.fetched_named(ROOT_MANIFEST) {
        if path != ROOT_MANIFEST && is_member(&patterns, directory(path)) {
            match files.content(path).map(parse_json) {
                Some(Ok(value)) => manifests.push((path.to_owned(), value)),
                Some(Err(message)) => out.warn(path, message),
                None => {}
            }
        }
    }

    let mut typescript = files.exists("tsconfig.json");
    for (path, manifest) in &manifests {
        read_manifest(path, manifest, out);
        typescript |= files.exists(&join(directory(path), "tsconfig.json")) || depends_on(manifest, "typescript");
    }
    let root_script = |name: &str| script(&manifests[0].1, name).is_some();
    let member_script = |name: &str| manifests[1..].iter().any(|(_, manifest)| script(manifest, name).is_some());

    let install = install_command(manager, files);
    let substantive = ["build", "test"].iter().any(|name| root_script(name) || member_script(name));
    let build = if root_script("build") {
        format!("{install} && {}", run_script(manager, "build"))
    } else if member_script("build") {
        format!("{install} && {}", run_in_workspaces(manager, "build"))
    } else {
        install
    };
    let test = if root_script("test") {
        Some(test_command(manager).to_owned())
    } else if member_script("test") {
        Some(run_in_workspaces(manager, "test"))
    } else {
        None
    };
    Some(Toolchain {
        language: if typescript { "typescript" } else { "javascript" }.to_owned(),
        build_systems: vec![build_system(manager)],
        build: Some(build),
        test,
        substantive,
    })
}

fn package_manager(files: &RepositoryFiles<'_>, root: Option<&serde_json::Value>) -> PackageManager {
    let yarn = || {
        let declared = root.and_then(|root| root.get("packageManager")).and_then(serde_json::Value::as_str);
        let classic =
            !declared.is_some_and(|declared| declared.starts_with("yarn@") && !declared.starts_with("yarn@1."));
        if files.exists(".yarnrc.yml") || !classic {
            PackageManager::YarnBerry
        } else {
            PackageManager::YarnClassic
        }
    };
    if files.exists("pnpm-lock.yaml") {
        return PackageManager::Pnpm;
    }
    if files.exists("yarn.lock") {
        return yarn();
    }
    if files.exists("package-lock.json") || files.exists("npm-shrinkwrap.json") {
        return PackageManager::Npm;
    }
    // No lockfile: Corepack's `packageManager` field, else npm.
    match root.and_then(|root| root.get("packageManager")).and_then(serde_json::Value::as_str) {
        Some(declared) if declared.starts_with("pnpm@") => PackageManager::Pnpm,
        Some(declared) if declared.starts_with("yarn@") => yarn(),
        _ => PackageManager::Npm,
    }
}

fn build_system(manager: PackageManager) -> BuildSystem {
    match manager {
        PackageManager::Npm => BuildSystem::Npm,
        PackageManager::Pnpm => BuildSystem::Pnpm,
        PackageManager::YarnClassic | PackageManager::YarnBerry => BuildSystem::Yarn,
    }
}

fn install_command(manager: PackageManager, files: &RepositoryFiles<'_>) -> String {
    match manager {
        PackageManager::Npm if files.exists("package-lock.json") || files.exists("npm-shrinkwrap.json") => "npm ci",
        PackageManager::Npm => "npm install",
        PackageManager::Pnpm if files.exists("pnpm-lock.yaml") => "pnpm install --frozen-lockfile",
        PackageManager::Pnpm => "pnpm install",
        PackageManager::YarnClassic if files.exists("yarn.lock") => "yarn install --frozen-lockfile",
        PackageManager::YarnClassic => "yarn install",
        PackageManager::YarnBerry if files.exists("yarn.lock") => "yarn install --immutable",
        PackageManager::YarnBerry => "yarn install",
    }
    .to_owned()
}

fn run_script(manager: PackageManager, script: &str) -> String {
    match manager {
        PackageManager::Npm => format!("npm run {script}"),
        PackageManager::Pnpm => format!("pnpm run {script}"),
        PackageManager::YarnClassic | PackageManager::YarnBerry => format!("yarn {script}"),
    }
}

fn test_command(manager: PackageManager) -> &'static str {
    match manager {
        PackageManager::Npm => "npm test",
        PackageManager::Pnpm => "pnpm test",
        PackageManager::YarnClassic | PackageManager::YarnBerry => "yarn test",
    }
}

/// Runs a script in every workspace that has it.
fn run_in_workspaces(manager: PackageManager, script: &str) -> String {
    match manager {
        PackageManager::Npm => format!("npm run {script} --workspaces --if-present"),
        PackageManager::Pnpm => format!("pnpm -r run {script}"),
        PackageManager::YarnClassic => format!("yarn workspaces run {script}"),
        PackageManager::YarnBerry => format!("yarn workspaces foreach -A run {script}"),
    }
}

/// A script, unless it is absent or npm's `npm init` placeholder that only fails.
fn script<'v>(manifest: &'v serde_json::Value, name: &str) -> Option<&'v str> {
    let script = manifest.get("scripts")?.get(name)?.as_str()?.trim();
    let placeholder = script.contains("no test specified") && script.contains("exit 1");
    (!script.is_empty() && !placeholder).then_some(script)
}

/// Workspace globs from `package.json` (`"workspaces": [...]` or `{"packages": [...]}`) and
/// `pnpm-workspace.yaml`. Negated globs (`!**/test/**`) are kept with their `!`.
fn workspace_patterns(
    files: &RepositoryFiles<'_>,
    root: &serde_json::Value,
    out: &mut RepositoryDescription,
) -> Vec<String> {
    let mut patterns: Vec<String> = Vec::new();
    let declared = root.get("workspaces");
    let list = declared.and_then(|w| w.as_array().or_else(|| w.get("packages").and_then(|p| p.as_array())));
    patterns.extend(list.into_iter().flatten().filter_map(|p| p.as_str()).map(str::to_owned));
    if let Some(text) = files.content(PNPM_WORKSPACE) {
        match parse_yaml(text) {
            Ok(document) => {
                let packages = document.get("packages").and_then(serde_yaml::Value::as_sequence);
                patterns.extend(packages.into_iter().flatten().filter_map(|p| p.as_str()).map(str::to_owned));
            }
            Err(message) => out.warn(PNPM_WORKSPACE, message),
        }
    }
    patterns
}

fn is_member(patterns: &[String], dir: &str) -> bool {
    let matches = |pattern: &str| glob_matches(pattern.trim_start_matches("./").trim_end_matches('/'), dir);
    let included = patterns.iter().any(|p| !p.starts_with('!') && matches(p));
    let excluded = patterns.iter().filter_map(|p| p.strip_prefix('!')).any(matches);
    included && !excluded
}

fn depends_on(manifest: &serde_json::Value, package: &str) -> bool {
    DEPENDENCY_FIELDS.iter().any(|field| manifest.get(field).and_then(|deps| deps.get(package)).is_some())
}

fn read_manifest(path: &str, manifest: &serde_json::Value, out: &mut RepositoryDescription) {
    if let Some(name) = manifest.get("name").and_then(serde_json::Value::as_str) {
        let private = manifest.get("private").and_then(serde_json::Value::as_bool) == Some(true);
        out.produce(Ecosystem::Npm, name, path, !private);
    }
    for field in DEPENDENCY_FIELDS {
        let Some(dependencies) = manifest.get(field).and_then(serde_json::Value::as_object) else { continue };
        for (declared, spec) in dependencies {
            let spec = spec.as_str().unwrap_or_default();
            let name = aliased_package(spec).unwrap_or(declared);
            out.consume_from(Ecosystem::Npm, name, declared, path, github_spec(spec));
        }
    }
}

/// The package behind an `npm:` alias: `npm:@scope/real@^1` → `@scope/real`.
fn aliased_package(spec: &str) -> Option<&str> {
    let aliased = spec.strip_prefix("npm:")?;
    let version_at = aliased.char_indices().skip(1).find(|&(_, c)| c == '@').map(|(i, _)| i);
    Some(version_at.map_or(aliased, |at| &aliased[..at]))
}

/// The GitHub repository a dependency spec points at: git URLs, `github:o/r`, and npm's `o/r` shorthand.
fn github_spec(spec: &str) -> Option<(String, String)> {
    if let Some(found) = github_repository(spec) {
        return Some(found);
    }
    let shorthand = spec.split('#').next().unwrap_or(spec);
    let is_shorthand = !shorthand.contains(':')
        && !shorthand.starts_with(['.', '/', '~', '@'])
        && shorthand.matches('/').count() == 1
        && !shorthand.contains(char::is_whitespace);
    if is_shorthand {
        github_repository(&format!("github:{shorthand}"))
    } else {
        None
    }
}
