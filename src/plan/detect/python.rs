//! Python: `pyproject.toml` (PEP 621 `[project]`, poetry, hatch, uv workspaces, `[dependency-groups]`),
//! `setup.cfg`, `setup.py` (a program: searched for `name=` and `install_requires=[…]`, never run),
//! `requirements*.txt` (with `-r`, `-e git+…`, extras, markers), `tox.ini`, and pytest's configuration.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{
    directory, file_name, github_repository, glob_matches, in_ignored_directory, parse_toml, resolve_relative,
    toml_str, toml_strings, toml_table, RepositoryFiles,
};
use super::{BuildSystem, Toolchain};

const PYPROJECT: &str = "pyproject.toml";
const SETUP_CFG: &str = "setup.cfg";
const SETUP_PY: &str = "setup.py";

/// Whether a path is a Python manifest worth fetching: any `pyproject.toml` (uv workspace members), the root
/// `setup.cfg` and `setup.py`, and requirements files at the root or in a `requirements/` directory.
pub(super) fn wants(path: &str) -> bool {
    file_name(path) == PYPROJECT || path == SETUP_CFG || path == SETUP_PY || is_requirements_file(path)
}

fn is_requirements_file(path: &str) -> bool {
    let name = file_name(path);
    let dir = directory(path);
    name.ends_with(".txt") && ((dir.is_empty() && name.contains("requirements")) || dir == "requirements")
}

/// PEP 503 normalization: lower case, and runs of `-`, `_`, `.` become one `-`. The one copy: detection compares
/// dependencies by it, and a manifest edit finds the requirement to raise by it.
pub fn normalize_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.extend(c.to_lowercase());
        }
    }
    normalized
}

/// A PEP 508 requirement, as far as edges need it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// The distribution name as written.
    pub name: String,
    /// Name and extras as written: `requests[security]`.
    pub declared: String,
    /// The `@ url` of a direct reference.
    pub url: Option<String>,
}

/// Parses the part of a PEP 508 requirement edges need: `Name[extra] (>=1) @ url ; marker`.
pub(crate) fn parse_requirement(text: &str) -> Option<Requirement> {
    let text = text.trim();
    let name_end =
        text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(text.len());
    let name = &text[..name_end];
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let rest = text[name_end..].trim_start();
    let declared = match rest.strip_prefix('[').and_then(|r| r.find(']')) {
        Some(close) => format!("{name}[{}]", rest[1..=close].trim_end_matches(']').trim()),
        None => name.to_owned(),
    };
    let before_marker = rest.split(';').next().unwrap_or(rest);
    let url = before_marker.split_once('@').map(|(_, url)| url.trim().to_owned()).filter(|url| !url.is_empty());
    Some(Requirement { name: name.to_owned(), declared, url })
}

fn consume_requirement(requirement: &str, file: &str, out: &mut RepositoryDescription) {
    if let Some(requirement) = parse_requirement(requirement) {
        let github = requirement.url.as_deref().and_then(github_repository);
        out.consume_from(Ecosystem::Python, &requirement.name, &requirement.declared, file, github);
    }
}

/// The Python tool that builds the project, in precedence order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Tool {
    Uv,
    Poetry,
    Hatch,
    Setuptools,
    Pip,
}

/// Reads the root Python manifests. `None` when the root has none of `pyproject.toml`, `setup.py`, `setup.cfg`,
/// a requirements file or `tox.ini`.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    let root_requirements: Vec<&str> =
        files.paths().filter(|path| is_requirements_file(path) && !path.contains('/')).collect();
    let present = [PYPROJECT, SETUP_PY, SETUP_CFG, "tox.ini"].iter().any(|path| files.exists(path));
    if !present && root_requirements.is_empty() {
        return None;
    }
    let mut tools = BTreeSet::new();
    let mut pytest = files.exists("pytest.ini") || files.any_file_ending(&["conftest.py"], 3);
    pytest |= files.paths().filter(|path| !in_ignored_directory(path)).any(|path| {
        let name = file_name(path);
        name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
    });
    let mut tox = files.exists("tox.ini");
    let mut has_build_system = false;
    let mut package_mode = true;

    let pyproject = files.content(PYPROJECT).and_then(|text| match parse_toml(text) {
        Ok(table) => Some(table),
        Err(message) => {
            out.warn(PYPROJECT, message);
            None
        }
    });
    if let Some(pyproject) = &pyproject {
        let tool = toml_table(pyproject, "tool");
        let has_tool = |name: &str| tool.is_some_and(|tool| tool.contains_key(name));
        let backend = toml_table(pyproject, "build-system").and_then(|b| toml_str(b, "build-backend")).unwrap_or("");
        has_build_system = pyproject.contains_key("build-system");
        if has_tool("poetry") || backend.starts_with("poetry") {
            tools.insert(Tool::Poetry);
        }
        if has_tool("hatch") || backend.starts_with("hatchling") {
            tools.insert(Tool::Hatch);
        }
        if backend.starts_with("setuptools") {
            tools.insert(Tool::Setuptools);
        }
        pytest |= tool.and_then(|tool| toml_table(tool, "pytest")).is_some_and(|p| p.contains_key("ini_options"));
        tox |= has_tool("tox");
        let poetry = tool.and_then(|tool| toml_table(tool, "poetry"));
        package_mode = poetry.and_then(|p| p.get("package-mode")).and_then(toml::Value::as_bool) != Some(false);
        read_pyproject(PYPROJECT, pyproject, out);
        for member in uv_workspace_members(files, pyproject) {
            match files.content(&member).map(parse_toml) {
                Some(Ok(table)) => read_pyproject(&member, &table, out),
                Some(Err(message)) => out.warn(&member, message),
                None => {}
            }
        }
    }
    if files.exists("uv.lock") {
        tools.insert(Tool::Uv);
    }
    if files.exists(SETUP_PY) || files.exists(SETUP_CFG) {
        tools.insert(Tool::Setuptools);
    }
    if let Some(text) = files.content(SETUP_CFG) {
        pytest |= read_setup_cfg(text, out);
        tox |= text.lines().any(|line| line.trim() == "[tox:tox]");
    }
    if let Some(text) = files.content(SETUP_PY) {
        read_setup_py(text, out);
    }
    let mut seen = BTreeSet::new();
    for path in &root_requirements {
        read_requirements(files, path, &mut seen, out);
    }
    for path in files.paths().filter(|path| directory(path) == "requirements" && path.ends_with(".txt")) {
        read_requirements(files, path, &mut seen, out);
    }
    if !root_requirements.is_empty() {
        tools.insert(Tool::Pip);
    }
    pytest |= out.consumes.iter().any(|d| d.ecosystem == Ecosystem::Python && normalize_name(&d.name) == "pytest");

    let tool = tools.first().copied();
    let requirements_file =
        root_requirements.iter().find(|path| **path == "requirements.txt").or(root_requirements.first()).copied();
    let build = match tool {
        Some(Tool::Uv) if has_build_system => Some("uv build".to_owned()),
        Some(Tool::Uv) => Some("uv sync --locked".to_owned()),
        Some(Tool::Poetry) if package_mode => Some("poetry build".to_owned()),
        Some(Tool::Poetry) => Some("poetry install".to_owned()),
        Some(Tool::Hatch) => Some("hatch build".to_owned()),
        Some(Tool::Setuptools) => Some("python -m build".to_owned()),
        Some(Tool::Pip) => requirements_file.map(|file| format!("pip install -r {file}")),
        // A pyproject.toml with another backend (flit, pdm, maturin) still builds with the PEP 517 front end.
        None if has_build_system => Some("python -m build".to_owned()),
        None => None,
    };
    let test = if tox {
        Some("tox".to_owned())
    } else if pytest {
        Some(
            match tool {
                Some(Tool::Uv) => "uv run pytest",
                Some(Tool::Poetry) => "poetry run pytest",
                Some(Tool::Hatch) => "hatch test",
                _ => "pytest",
            }
            .to_owned(),
        )
    } else {
        None
    };
    let mut build_systems: Vec<BuildSystem> = tools.iter().map(|tool| build_system(*tool)).collect();
    if tox {
        build_systems.push(BuildSystem::Tox);
    }
    if build_systems.is_empty() && has_build_system {
        build_systems.push(BuildSystem::Pip);
    }
    let substantive = build.is_some() || test.is_some();
    Some(Toolchain { language: "python".to_owned(), build_systems, build, test, substantive })
}

fn build_system(tool: Tool) -> BuildSystem {
    match tool {
        Tool::Uv => BuildSystem::Uv,
        Tool::Poetry => BuildSystem::Poetry,
        Tool::Hatch => BuildSystem::Hatch,
        Tool::Setuptools => BuildSystem::Setuptools,
        Tool::Pip => BuildSystem::Pip,
    }
}

/// Fetched `pyproject.toml`s of `[tool.uv.workspace] members` (minus `exclude`).
fn uv_workspace_members(files: &RepositoryFiles<'_>, pyproject: &toml::Table) -> Vec<String> {
    let workspace =
        toml_table(pyproject, "tool").and_then(|t| toml_table(t, "uv")).and_then(|t| toml_table(t, "workspace"));
    let Some(workspace) = workspace else { return Vec::new() };
    let members = toml_strings(workspace, "members");
    let excluded = toml_strings(workspace, "exclude");
    files
        .fetched_named(PYPROJECT)
        .into_iter()
        .filter(|path| *path != PYPROJECT)
        .filter(|path| {
            let dir = directory(path);
            members.iter().any(|m| glob_matches(m, dir)) && !excluded.iter().any(|e| glob_matches(e, dir))
        })
        .map(str::to_owned)
        .collect()
}

fn read_pyproject(path: &str, pyproject: &toml::Table, out: &mut RepositoryDescription) {
    let project = toml_table(pyproject, "project");
    let poetry = toml_table(pyproject, "tool").and_then(|tool| toml_table(tool, "poetry"));
    let name = project.and_then(|p| toml_str(p, "name")).or_else(|| poetry.and_then(|p| toml_str(p, "name")));
    if let Some(name) = name {
        let classifiers = project.map(|p| toml_strings(p, "classifiers")).unwrap_or_default();
        let private = classifiers.iter().any(|c| c.starts_with("Private ::"));
        out.produce(Ecosystem::Python, name, path, !private);
    }
    if let Some(project) = project {
        for requirement in toml_strings(project, "dependencies") {
            consume_requirement(requirement, path, out);
        }
        for extra in toml_table(project, "optional-dependencies").into_iter().flat_map(|t| t.values()) {
            for requirement in extra.as_array().into_iter().flatten().filter_map(toml::Value::as_str) {
                consume_requirement(requirement, path, out);
            }
        }
    }
    // PEP 735 groups: strings are requirements, `{include-group = …}` tables are not.
    for group in toml_table(pyproject, "dependency-groups").into_iter().flat_map(|t| t.values()) {
        for requirement in group.as_array().into_iter().flatten().filter_map(toml::Value::as_str) {
            consume_requirement(requirement, path, out);
        }
    }
    if let Some(requires) = toml_table(pyproject, "build-system").map(|b| toml_strings(b, "requires")) {
        for requirement in requires {
            consume_requirement(requirement, path, out);
        }
    }
    if let Some(poetry) = poetry {
        let groups = toml_table(poetry, "group").into_iter().flat_map(|groups| groups.values());
        let group_tables = groups.filter_map(toml::Value::as_table).filter_map(|g| toml_table(g, "dependencies"));
        let tables = ["dependencies", "dev-dependencies"].iter().filter_map(|key| toml_table(poetry, key));
        for table in tables.chain(group_tables) {
            for (name, spec) in table.iter().filter(|(name, _)| name.as_str() != "python") {
                let git = spec.as_table().and_then(|spec| toml_str(spec, "git")).and_then(github_repository);
                out.consume_from(Ecosystem::Python, name, name, path, git);
            }
        }
    }
}

/// Reads `requirements*.txt`, following `-r` into other fetched files. Options other than `-r` and `-e` are
/// skipped (`-c` constraints add no dependency).
fn read_requirements(
    files: &RepositoryFiles<'_>,
    path: &str,
    seen: &mut BTreeSet<String>,
    out: &mut RepositoryDescription,
) {
    if !seen.insert(path.to_owned()) {
        return;
    }
    let Some(text) = files.content(path) else { return };
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for raw_line in joined.lines() {
        let line = strip_comment(raw_line).trim();
        if line.is_empty() {
            continue;
        }
        let (option, argument) = match line.split_once([' ', '=']) {
            Some((option, argument)) if option.starts_with('-') => (option, argument.trim()),
            _ if line.starts_with('-') => (line, ""),
            _ => ("", line),
        };
        match option {
            "-r" | "--requirement" => match resolve_relative(directory(path), argument) {
                Some(included) if files.content(&included).is_some() => read_requirements(files, &included, seen, out),
                _ => out.record_unresolved(path, line, "the included requirements file was not fetched"),
            },
            "-e" | "--editable" | "" => consume_requirement_line(argument, path, out),
            _ => {}
        }
    }
}

/// `#` starts a comment at the beginning of a line or after whitespace (a URL's `#egg=` is not one).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let at = (0..bytes.len()).find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()));
    at.map_or(line, |at| &line[..at])
}

/// One requirement line: a PEP 508 requirement, or a URL (`git+https://…#egg=name`), with any trailing
/// per-requirement options (`--hash=…`) dropped. Local paths (`.`, `./lib`) are not dependencies on others.
fn consume_requirement_line(line: &str, path: &str, out: &mut RepositoryDescription) {
    let line = line.split(" --").next().unwrap_or(line).trim();
    if line.starts_with(['.', '/']) {
        return;
    }
    let is_url = line.contains("://") || line.starts_with("git@");
    // `name @ url` is PEP 508; a bare URL is not, and names its distribution with `#egg=`.
    let named = line.split_once('@').is_some_and(|(before, _)| !before.contains([':', '/']));
    if !is_url || named {
        consume_requirement(line, path, out);
        return;
    }
    let github = github_repository(line);
    let egg = line.split_once("#egg=").map(|(_, egg)| egg.split('&').next().unwrap_or(egg));
    let name = egg.map(str::to_owned).or_else(|| github.as_ref().map(|(_, repository)| repository.clone()));
    match name {
        Some(name) => out.consume_from(Ecosystem::Python, &name, line, path, github),
        None => out.record_unresolved(path, line, "a URL requirement without #egg= names no distribution"),
    }
}

/// Reads `setup.cfg`'s `[metadata] name`, `[options] install_requires` and `[options.extras_require]`. Returns
/// whether it configures pytest (`[tool:pytest]`).
fn read_setup_cfg(text: &str, out: &mut RepositoryDescription) -> bool {
    let mut pytest = false;
    for (section, key, value) in ini_entries(text) {
        pytest |= section == "tool:pytest";
        match (section.as_str(), key.as_str()) {
            ("metadata", "name") => out.produce(Ecosystem::Python, value.trim(), SETUP_CFG, true),
            ("options", "install_requires") | ("options.extras_require", _) => {
                for line in value.lines().map(|line| strip_comment(line).trim()).filter(|l| !l.is_empty()) {
                    consume_requirement(line, SETUP_CFG, out);
                }
            }
            _ => {}
        }
    }
    pytest || text.lines().any(|line| line.trim() == "[tool:pytest]")
}

/// `(section, key, value)` of an INI file, continuation lines (indented) appended to the value.
fn ini_entries(text: &str) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = entries.last_mut() {
                last.2.push('\n');
                last.2.push_str(trimmed);
            }
        } else if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_owned();
        } else if let Some((key, value)) = trimmed.split_once(['=', ':']) {
            entries.push((section.clone(), key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    entries
}

static SETUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bname\s*=\s*["']([A-Za-z0-9._-]+)["']"#).expect("a valid regex"));
static SETUP_REQUIRES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)\binstall_requires\s*=\s*(\[[^\]]*\]|[A-Za-z_][A-Za-z0-9_.]*)").expect("a valid regex")
});
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""([^"\n]*)"|'([^'\n]*)'"#).expect("a valid regex"));

/// `setup.py` is a program: this only finds a literal `name="…"` and a literal `install_requires=[…]` list.
/// A computed list is reported as unresolved rather than guessed.
fn read_setup_py(text: &str, out: &mut RepositoryDescription) {
    let setup_call = text.find("setup(").map_or(text, |at| &text[at..]);
    if let Some(name) = SETUP_NAME.captures(setup_call).and_then(|c| c.get(1)) {
        out.produce(Ecosystem::Python, name.as_str(), SETUP_PY, true);
    }
    if let Some(requires) = SETUP_REQUIRES.captures(text).and_then(|c| c.get(1)) {
        if requires.as_str().starts_with('[') {
            for quoted in QUOTED.captures_iter(requires.as_str()) {
                if let Some(requirement) = quoted.get(1).or_else(|| quoted.get(2)) {
                    consume_requirement(requirement.as_str(), SETUP_PY, out);
                }
            }
        } else {
            out.record_unresolved(
                SETUP_PY,
                requires.as_str(),
                "install_requires is computed by setup.py, which is never run",
            );
        }
    }
}
