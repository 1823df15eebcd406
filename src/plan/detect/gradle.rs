//! Gradle, Groovy and Kotlin DSL. Build scripts are programs: they are never run, only searched for the usual
//! literal patterns, best effort. `settings.gradle(.kts)` gives `rootProject.name` and the `include`d projects;
//! `group` in the root build script (or a subproject's own) and the project name give the Maven coordinates a
//! project produces; dependency declarations (`implementation("g:a:v")`, `api 'g:a:v'`, the map form,
//! `platform(…)`) give what it consumes. Version-catalog accessors (`libs.foo.bar`) are resolved through
//! `gradle/libs.versions.toml` when it was fetched, and otherwise reported as unresolved, never guessed.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{file_name, join, parse_toml, toml_str, toml_strings, toml_table, RepositoryFiles};
use super::{BuildSystem, Toolchain};

const SETTINGS: &[&str] = &["settings.gradle.kts", "settings.gradle"];
const BUILD_SCRIPTS: &[&str] = &["build.gradle.kts", "build.gradle"];
const VERSION_CATALOG: &str = "gradle/libs.versions.toml";

/// Whether a path is a Gradle file worth fetching.
pub(super) fn wants(path: &str) -> bool {
    let name = file_name(path);
    SETTINGS.contains(&name) || BUILD_SCRIPTS.contains(&name) || path == VERSION_CATALOG
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid regex")
}

static ROOT_PROJECT_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r#"rootProject\.name\s*=\s*["']([^"'\n]+)["']"#));
static INCLUDE: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?m)\binclude\s*(\(([^)]*)\)|[ \t]+([^\n]+))"#));
static QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r#""([^"\n]*)"|'([^'\n]*)'"#));
static PROJECT_DIR: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r#"project\(\s*["']([^"']+)["']\s*\)\.projectDir\s*=\s*(?:file\(\s*)?(?:File\(\s*rootDir\s*,\s*)?["']([^"']+)["']"#,
    )
});
static GROUP: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?m)^\s*(?:project\.)?group\s*=?\s*["']([^"'\n]+)["']"#));
static ARTIFACT_ID: LazyLock<Regex> = LazyLock::new(|| regex(r#"\bartifactId\s*=\s*["']([^"'\n]+)["']"#));
static DECLARATION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?m)\b(implementation|api|compileOnly|compileOnlyApi|runtimeOnly|annotationProcessor|kapt|ksp|compile|runtime|testCompile|classpath|[a-z][A-Za-z0-9]*(?:Implementation|Api|CompileOnly|RuntimeOnly|AnnotationProcessor))\b[ \t]*(\(?)[ \t]*([^\n]*)",
    )
});
static MAP_NOTATION: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"^\(?\s*group\s*[:=]\s*["']([^"']+)["']\s*,\s*name\s*[:=]\s*["']([^"']+)["']"#));
static KOTLIN_MODULE: LazyLock<Regex> = LazyLock::new(|| regex(r#"^kotlin\(\s*"([^"]+)""#));
static CATALOG_ACCESSOR: LazyLock<Regex> = LazyLock::new(|| regex(r"^libs\.([A-Za-z0-9_.]+)"));
static KOTLIN_PLUGIN: LazyLock<Regex> = LazyLock::new(|| {
    regex(r#"kotlin\(\s*"(jvm|android|multiplatform)"|org\.jetbrains\.kotlin\.(jvm|android)|kotlin-android"#)
});

/// Reads settings, build scripts and the version catalog. `None` without a root build or settings script.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    let settings = SETTINGS.iter().find(|path| files.exists(path));
    let root_script = BUILD_SCRIPTS.iter().find(|path| files.exists(path));
    if settings.is_none() && root_script.is_none() {
        return None;
    }
    let settings_text = settings.and_then(|path| files.content(path)).unwrap_or_default();
    let catalog = read_catalog(files, out);
    let root_text = root_script.and_then(|path| files.content(path)).unwrap_or_default();
    let root_group = GROUP.captures(root_text).map(|c| c[1].to_owned());

    let mut projects = vec![(ROOT_PROJECT_NAME.captures(settings_text).map(|c| c[1].to_owned()), String::new())];
    projects.extend(included_projects(settings_text).into_iter().map(|(name, dir)| (Some(name), dir)));
    let mut kotlin = files.paths().any(|path| path.contains("src/main/kotlin/"));
    for (name, dir) in projects {
        let Some((script_path, text)) =
            BUILD_SCRIPTS.iter().map(|script| join(&dir, script)).find_map(|p| files.content(&p).map(|t| (p, t)))
        else {
            continue;
        };
        kotlin |= KOTLIN_PLUGIN.is_match(text);
        let group = GROUP.captures(text).map(|c| c[1].to_owned()).or_else(|| root_group.clone());
        let artifact = ARTIFACT_ID.captures(text).map(|c| c[1].to_owned()).or(name);
        if let (Some(group), Some(artifact)) = (group, artifact) {
            if !group.contains('$') && !artifact.contains('$') {
                out.produce(Ecosystem::Maven, &format!("{group}:{artifact}"), &script_path, true);
            }
        }
        read_dependencies(&script_path, text, &catalog, out);
    }
    let gradle = if files.exists("gradlew") { "./gradlew" } else { "gradle" };
    Some(Toolchain {
        language: if kotlin { "kotlin" } else { "java" }.to_owned(),
        build_systems: vec![BuildSystem::Gradle],
        build: Some(format!("{gradle} build")),
        test: Some(format!("{gradle} test")),
        substantive: true,
    })
}

/// `(project name, directory)` of every `include`d project: `:libs:core` is `core` in `libs/core`, unless a
/// `project(":libs:core").projectDir = file("…")` line moves it.
fn included_projects(settings: &str) -> Vec<(String, String)> {
    let moved: BTreeMap<String, String> = PROJECT_DIR
        .captures_iter(settings)
        .map(|c| (c[1].trim_start_matches(':').to_owned(), c[2].to_owned()))
        .collect();
    let mut projects = Vec::new();
    for include in INCLUDE.captures_iter(settings) {
        let arguments = include.get(2).or_else(|| include.get(3)).map_or("", |m| m.as_str());
        for quoted in QUOTED.captures_iter(arguments) {
            let Some(path) = quoted.get(1).or_else(|| quoted.get(2)) else { continue };
            let path = path.as_str().trim_start_matches(':');
            let Some(name) = path.rsplit(':').next().filter(|name| !name.is_empty()) else { continue };
            let dir = moved.get(path).cloned().unwrap_or_else(|| path.replace(':', "/"));
            projects.push((name.to_owned(), dir.trim_start_matches("./").to_owned()));
        }
    }
    projects
}

/// The version catalog's libraries, by accessor (`foo-bar` and `foo_bar` are both `foo.bar`), and bundles.
#[derive(Debug, Default)]
struct Catalog {
    present: bool,
    libraries: BTreeMap<String, String>,
    bundles: BTreeMap<String, Vec<String>>,
}

fn accessor(alias: &str) -> String {
    alias.replace(['-', '_'], ".").to_ascii_lowercase()
}

fn read_catalog(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Catalog {
    let Some(text) = files.content(VERSION_CATALOG) else { return Catalog::default() };
    let table = match parse_toml(text) {
        Ok(table) => table,
        Err(message) => {
            out.warn(VERSION_CATALOG, message);
            return Catalog::default();
        }
    };
    let mut catalog = Catalog { present: true, ..Catalog::default() };
    for (alias, library) in toml_table(&table, "libraries").into_iter().flatten() {
        let coordinates = match library {
            toml::Value::String(notation) => coordinates(notation),
            toml::Value::Table(library) => toml_str(library, "module")
                .map(str::to_owned)
                .or_else(|| Some(format!("{}:{}", toml_str(library, "group")?, toml_str(library, "name")?))),
            _ => None,
        };
        if let Some(coordinates) = coordinates {
            catalog.libraries.insert(accessor(alias), coordinates);
        }
    }
    for (alias, _) in toml_table(&table, "bundles").into_iter().flatten() {
        let members = toml_table(&table, "bundles").map(|bundles| toml_strings(bundles, alias)).unwrap_or_default();
        catalog.bundles.insert(accessor(alias), members.iter().map(|member| accessor(member)).collect());
    }
    catalog
}

/// `group:artifact` of a `group:artifact[:version[:classifier]][@ext]` notation.
fn coordinates(notation: &str) -> Option<String> {
    let notation = notation.split('@').next().unwrap_or(notation);
    let mut parts = notation.split(':');
    let (group, artifact) = (parts.next()?.trim(), parts.next()?.trim());
    let valid = |part: &str| !part.is_empty() && !part.contains(['$', ' ', '{', '(']);
    (valid(group) && valid(artifact)).then(|| format!("{group}:{artifact}"))
}

fn read_dependencies(path: &str, text: &str, catalog: &Catalog, out: &mut RepositoryDescription) {
    for declaration in DECLARATION.captures_iter(text) {
        let start = declaration.get(0).map_or(0, |m| m.start());
        let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
        if text[line_start..start].contains("//") {
            continue;
        }
        read_dependency_notation(path, declaration[3].trim(), catalog, out);
    }
}

fn read_dependency_notation(path: &str, argument: &str, catalog: &Catalog, out: &mut RepositoryDescription) {
    let mut argument = argument.trim_start_matches('(').trim();
    for wrapper in ["platform(", "enforcedPlatform(", "testFixtures("] {
        if let Some(inner) = argument.strip_prefix(wrapper) {
            argument = inner.trim();
        }
    }
    if let Some(quoted) = QUOTED.captures(argument).filter(|c| c.get(0).is_some_and(|m| m.start() == 0)) {
        let notation = quoted.get(1).or_else(|| quoted.get(2)).map_or("", |m| m.as_str());
        match coordinates(notation) {
            Some(coordinates) => out.consume(Ecosystem::Maven, &coordinates, notation, path),
            None if notation.contains('$') => {
                out.record_unresolved(path, notation, "the notation interpolates a variable")
            }
            None => {}
        }
    } else if let Some(map) = MAP_NOTATION.captures(argument) {
        let coordinates = format!("{}:{}", &map[1], &map[2]);
        out.consume(Ecosystem::Maven, &coordinates, &coordinates, path);
    } else if let Some(module) = KOTLIN_MODULE.captures(argument) {
        let coordinates = format!("org.jetbrains.kotlin:kotlin-{}", &module[1]);
        out.consume(Ecosystem::Maven, &coordinates, &format!("kotlin(\"{}\")", &module[1]), path);
    } else if let Some(accessor_match) = CATALOG_ACCESSOR.captures(argument) {
        read_catalog_accessor(path, accessor_match[1].trim_end_matches('.'), catalog, out);
    }
    // Anything else (`project(":core")`, `files(…)`, a variable) is not a dependency on another repository's
    // coordinates, or cannot be read without running the script.
}

fn read_catalog_accessor(path: &str, accessor_path: &str, catalog: &Catalog, out: &mut RepositoryDescription) {
    let reference = format!("libs.{accessor_path}");
    let accessor_path = accessor_path.to_ascii_lowercase();
    if accessor_path.starts_with("plugins.") || accessor_path.starts_with("versions.") {
        return;
    }
    if !catalog.present {
        out.record_unresolved(
            path,
            &reference,
            "a version-catalog accessor, and gradle/libs.versions.toml was not read",
        );
        return;
    }
    let libraries: Vec<&String> = match accessor_path.strip_prefix("bundles.") {
        Some(bundle) => catalog.bundles.get(bundle).map(|members| members.iter().collect()).unwrap_or_default(),
        None => vec![&accessor_path],
    };
    let mut resolved_any = false;
    for library in libraries {
        if let Some(coordinates) = catalog.libraries.get(library) {
            out.consume(Ecosystem::Maven, coordinates, &reference, path);
            resolved_any = true;
        }
    }
    if !resolved_any {
        out.record_unresolved(path, &reference, "no such library or bundle in gradle/libs.versions.toml");
    }
}
