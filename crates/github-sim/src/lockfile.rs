//! What the lockfile-update workflow (`.github/workflows/lockfile-update.yml`, shipped by Infinity Orchestrator)
//! commits when one of its runs succeeds: the lockfile of the manifest in its `directory`, consistent with the
//! manifest at the run's branch, as the tool its `ecosystem` names would write it.
//!
//! There is no package registry here, so each direct dependency is locked at the lowest version its requirement
//! allows, unless the lockfile already locks one the requirement accepts (the tools keep those). What is modelled:
//! - npm (`package-lock.json` v3, or `npm-shrinkwrap.json` when that is the file present): the root entry's
//!   `dependencies`/`devDependencies`/`optionalDependencies` as the manifest has them, and `node_modules/<name>`
//!   with `version`, `resolved` (the registry's tarball URL) and `integrity`; other entries (transitive ones) kept.
//! - Cargo (`Cargo.lock` version 4): the root package with its dependency names, and `[[package]]` `name`,
//!   `version`, `source` (crates.io) and `checksum` per registry dependency; other entries kept.
//! - pnpm (`pnpm-lock.yaml` 9.0), yarn (`yarn.lock` v1), Go (`go.sum`) and Poetry (`poetry.lock` 2.1): written from
//!   the manifest's direct dependencies only (transitive entries would need a registry).
//!
//! Digests (`integrity`, `checksum`, `h1:`) are deterministic stand-ins computed from name and version, not the
//! digests of real archives.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256, Sha512};

/// The workflow's path; a successful run of it commits a lockfile.
pub const WORKFLOW_PATH: &str = ".github/workflows/lockfile-update.yml";

/// The lockfile `(path, content)` a run with `inputs` (`ecosystem`, `directory`) writes over `files` (the branch's
/// files); `None` when the manifest is missing or does not parse (the real run fails there too).
pub fn regenerate(files: &BTreeMap<String, String>, inputs: &BTreeMap<String, String>) -> Option<(String, String)> {
    let directory = inputs.get("directory").map(String::as_str).unwrap_or(".").trim_matches('/');
    let prefix = if directory.is_empty() || directory == "." { String::new() } else { format!("{directory}/") };
    let at = |name: &str| format!("{prefix}{name}");
    let file = |name: &str| files.get(&at(name));
    match inputs.get("ecosystem")?.as_str() {
        "npm" => {
            let name = if file("npm-shrinkwrap.json").is_some() { "npm-shrinkwrap.json" } else { "package-lock.json" };
            Some((at(name), npm(file("package.json")?, file(name).map(String::as_str))?))
        }
        "pnpm" => Some((at("pnpm-lock.yaml"), pnpm(file("package.json")?)?)),
        "yarn" => Some((at("yarn.lock"), yarn(file("package.json")?)?)),
        "cargo" => Some((at("Cargo.lock"), cargo(file("Cargo.toml")?, file("Cargo.lock").map(String::as_str))?)),
        "go" => Some((at("go.sum"), go(file("go.mod")?))),
        "poetry" => Some((at("poetry.lock"), poetry(file("pyproject.toml")?)?)),
        _ => None,
    }
}

/// A requirement's operator and base version (`^4.17.21` → (`^`, 4.17.21)); `None` for what is not a version
/// requirement (a URL, tag, path, `*`).
fn requirement(spec: &str) -> Option<(&str, String)> {
    let spec = spec.trim();
    let first = spec.split([',', ' ', '|']).find(|c| !c.is_empty())?;
    let version = first.trim_start_matches(['^', '~', '=', '>', '<', '!']).trim_start_matches('v');
    let operator = &first[..first.len() - version.len()];
    if !version.starts_with(|c: char| c.is_ascii_digit()) || operator.contains('<') || operator == "!=" {
        return None;
    }
    let mut parts: Vec<&str> = version.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    Some((operator.trim_start_matches('v'), parts.join(".")))
}

fn numbers(version: &str) -> Vec<u64> {
    version.split(['.', '-', '+']).take(3).map(|p| p.parse().unwrap_or(0)).collect()
}

/// Whether `locked` meets `spec` (`^` by default, as Cargo reads a bare version; npm reads it as exact).
fn accepts(spec: &str, locked: &str, bare_is_caret: bool) -> bool {
    let Some((operator, base)) = requirement(spec) else { return false };
    let (b, l) = (numbers(&base), numbers(locked));
    let operator = if operator.is_empty() && bare_is_caret { "^" } else { operator };
    match operator {
        "" | "=" | "==" => b == l,
        ">=" => l >= b,
        "~" | "~=" => l >= b && l[..2] == b[..2],
        _ => l >= b && if b[0] > 0 { l[0] == b[0] } else { l[..2] == b[..2] },
    }
}

fn digest_base64<D: Digest>(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(D::digest(text.as_bytes()))
}

fn npm_integrity(name: &str, version: &str) -> String {
    format!("sha512-{}", digest_base64::<Sha512>(&format!("{name}@{version}")))
}

fn npm_tarball(name: &str, version: &str, registry: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("{registry}/{name}/-/{base}-{version}.tgz")
}

const NPM_SECTIONS: [&str; 3] = ["dependencies", "devDependencies", "optionalDependencies"];

/// The manifest's dependencies by section, in its order.
fn npm_dependencies(manifest: &Value) -> Vec<(&'static str, String, String)> {
    let mut found = Vec::new();
    for section in NPM_SECTIONS {
        for (name, spec) in manifest.get(section).and_then(Value::as_object).into_iter().flatten() {
            found.push((section, name.clone(), spec.as_str().unwrap_or_default().to_owned()));
        }
    }
    found
}

fn npm(manifest: &str, lock: Option<&str>) -> Option<String> {
    let manifest: Value = serde_json::from_str(manifest).ok()?;
    let mut lock: Value =
        lock.and_then(|l| serde_json::from_str(l).ok()).filter(Value::is_object).unwrap_or_else(|| json!({}));
    let mut root = Map::new();
    for key in ["name", "version"] {
        if let Some(value) = manifest.get(key) {
            lock[key] = value.clone();
            root.insert(key.into(), value.clone());
        }
    }
    lock["lockfileVersion"] = json!(3);
    lock["requires"] = json!(true);
    let mut packages = lock.get("packages").and_then(Value::as_object).cloned().unwrap_or_default();
    for section in NPM_SECTIONS {
        if let Some(deps) = manifest.get(section).filter(|d| d.is_object()) {
            root.insert(section.into(), deps.clone());
        }
    }
    for (section, name, spec) in npm_dependencies(&manifest) {
        let key = format!("node_modules/{name}");
        let locked = packages.get(&key).and_then(|e| e.get("version")).and_then(Value::as_str).map(str::to_owned);
        let version = match locked {
            Some(locked) if accepts(&spec, &locked, false) => locked,
            _ => match requirement(&spec) {
                Some((_, base)) => base,
                None => continue,
            },
        };
        let mut entry = json!({
            "version": version,
            "resolved": npm_tarball(&name, &version, "https://registry.npmjs.org"),
            "integrity": npm_integrity(&name, &version),
        });
        match section {
            "devDependencies" => entry["dev"] = json!(true),
            "optionalDependencies" => entry["optional"] = json!(true),
            _ => {}
        }
        packages.insert(key, entry);
    }
    packages.insert(String::new(), Value::Object(root));
    // npm writes the root first, then the rest by path.
    let mut ordered = Map::new();
    if let Some(root) = packages.remove("") {
        ordered.insert(String::new(), root);
    }
    let mut rest: Vec<(String, Value)> = packages.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    ordered.extend(rest);
    lock["packages"] = Value::Object(ordered);
    lock.as_object_mut()?.remove("dependencies"); // v1's tree; v3 has none.
    Some(format!("{}\n", serde_json::to_string_pretty(&lock).ok()?))
}

/// Each direct dependency at the version it is locked at (the lowest its requirement allows).
fn npm_locked(manifest: &str) -> Option<Vec<(&'static str, String, String, String)>> {
    let manifest: Value = serde_json::from_str(manifest).ok()?;
    Some(
        npm_dependencies(&manifest)
            .into_iter()
            .filter_map(|(section, name, spec)| Some((section, name, requirement(&spec)?.1, spec)))
            .collect(),
    )
}

fn pnpm(manifest: &str) -> Option<String> {
    let locked = npm_locked(manifest)?;
    let mut out = String::from(
        "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n",
    );
    for section in NPM_SECTIONS {
        let entries: Vec<_> = locked.iter().filter(|(s, ..)| *s == section).collect();
        if entries.is_empty() {
            continue;
        }
        out += &format!("    {section}:\n");
        for (_, name, version, spec) in entries {
            out += &format!(
                "      {}:\n        specifier: {}\n        version: {version}\n",
                yaml_key(name),
                yaml_key(spec)
            );
        }
    }
    let mut sorted: Vec<_> = locked.iter().map(|(_, name, version, _)| (name, version)).collect();
    sorted.sort();
    sorted.dedup();
    out += "\npackages:\n";
    for (name, version) in &sorted {
        out += &format!(
            "\n  {}:\n    resolution: {{integrity: {}}}\n",
            yaml_key(&format!("{name}@{version}")),
            npm_integrity(name, version)
        );
    }
    out += "\nsnapshots:\n";
    for (name, version) in &sorted {
        out += &format!("\n  {}: {{}}\n", yaml_key(&format!("{name}@{version}")));
    }
    Some(out)
}

/// A YAML key or scalar, quoted when it starts with a character YAML reads specially.
fn yaml_key(text: &str) -> String {
    if text.starts_with(['@', '^', '~', '>', '<', '*', '&', '!', '|', '\'', '"', '%', '=']) || text.contains(": ") {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        text.to_owned()
    }
}

fn yarn(manifest: &str) -> Option<String> {
    let locked = npm_locked(manifest)?;
    // One entry per locked version, its header listing every requirement it satisfies.
    let mut entries: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (_, name, version, spec) in locked {
        entries.entry((name.clone(), version)).or_default().push(format!("{name}@{spec}"));
    }
    let mut out =
        String::from("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n");
    for ((name, version), mut specs) in entries {
        specs.sort();
        specs.dedup();
        let header: Vec<String> = specs.iter().map(|s| format!("\"{s}\"")).collect();
        let tarball = npm_tarball(&name, &version, "https://registry.yarnpkg.com");
        out += &format!(
            "\n{}:\n  version \"{version}\"\n  resolved \"{tarball}\"\n  integrity {}\n",
            header.join(", "),
            npm_integrity(&name, &version)
        );
    }
    Some(out)
}

/// A Cargo.toml as the lockfile needs it: the package's name and version, and its registry dependencies (crate
/// name, requirement).
struct CargoManifest {
    name: String,
    version: String,
    dependencies: Vec<(String, String)>,
}

fn cargo_manifest(manifest: &str) -> Option<CargoManifest> {
    let manifest: toml::Table = manifest.parse().ok()?;
    let package = manifest.get("package")?;
    let name = package.get("name")?.as_str()?.to_owned();
    let version = package.get("version").and_then(|v| v.as_str()).unwrap_or("0.1.0").to_owned();
    let mut dependencies = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        for (dependency, requirement) in manifest.get(section).and_then(|s| s.as_table()).into_iter().flatten() {
            let spec = match requirement {
                toml::Value::String(spec) => Some(spec.as_str()),
                toml::Value::Table(table) if !table.contains_key("path") && !table.contains_key("git") => {
                    table.get("version").and_then(|v| v.as_str())
                }
                _ => None,
            };
            let crate_name = requirement.get("package").and_then(|p| p.as_str()).unwrap_or(dependency);
            if let Some(spec) = spec {
                dependencies.push((crate_name.to_owned(), spec.to_owned()));
            }
        }
    }
    Some(CargoManifest { name, version, dependencies })
}

fn cargo(manifest: &str, lock: Option<&str>) -> Option<String> {
    let CargoManifest { name: root_name, version: root_version, dependencies } = cargo_manifest(manifest)?;
    // Every package of the old lockfile, by name and version.
    let mut packages: BTreeMap<(String, String), toml::Table> = BTreeMap::new();
    if let Some(old) = lock.and_then(|l| l.parse::<toml::Table>().ok()) {
        for entry in old.get("package").and_then(|p| p.as_array()).into_iter().flatten() {
            let (Some(name), Some(version)) = (entry.get("name"), entry.get("version")) else { continue };
            let key = (name.as_str()?.to_owned(), version.as_str()?.to_owned());
            packages.insert(key, entry.as_table()?.clone());
        }
    }
    packages.retain(|(name, _), _| name != &root_name);
    let mut root_dependencies = Vec::new();
    for (name, spec) in dependencies {
        let locked = packages.keys().filter(|(n, v)| n == &name && accepts(&spec, v, true)).max().cloned();
        let version = match locked {
            Some((_, version)) => version,
            None => match requirement(&spec) {
                Some((_, base)) => base,
                None => continue,
            },
        };
        // `cargo update -p <name> --precise`: the older version goes unless another package still needs it.
        let needed_elsewhere = |old: &str| {
            packages.values().any(|table| {
                table.get("dependencies").and_then(|d| d.as_array()).is_some_and(|deps| {
                    deps.iter().filter_map(|d| d.as_str()).any(|d| d == name || d == format!("{name} {old}"))
                })
            })
        };
        let stale: Vec<(String, String)> =
            packages.keys().filter(|(n, v)| n == &name && v != &version && !needed_elsewhere(v)).cloned().collect();
        for key in stale {
            packages.remove(&key);
        }
        let entry = packages.entry((name.clone(), version.clone())).or_default();
        entry.insert("name".into(), name.clone().into());
        entry.insert("version".into(), version.clone().into());
        entry.insert("source".into(), "registry+https://github.com/rust-lang/crates.io-index".into());
        entry.insert("checksum".into(), hex::encode(Sha256::digest(format!("{name}-{version}").as_bytes())).into());
        root_dependencies.push(name);
    }
    root_dependencies.sort();
    root_dependencies.dedup();
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n",
    );
    let mut root = toml::Table::new();
    root.insert("name".into(), root_name.clone().into());
    root.insert("version".into(), root_version.clone().into());
    if !root_dependencies.is_empty() {
        root.insert(
            "dependencies".into(),
            root_dependencies.into_iter().map(toml::Value::from).collect::<Vec<_>>().into(),
        );
    }
    packages.insert((root_name, root_version), root);
    for table in packages.values() {
        out += "\n[[package]]\n";
        for key in ["name", "version", "source", "checksum"] {
            if let Some(value) = table.get(key) {
                out += &format!("{key} = {value}\n");
            }
        }
        if let Some(deps) = table.get("dependencies").and_then(|d| d.as_array()) {
            out += "dependencies = [\n";
            for dep in deps {
                out += &format!(" {dep},\n");
            }
            out += "]\n";
        }
    }
    Some(out)
}

/// The `require`d modules of a go.mod, single lines and blocks.
fn go_requires(manifest: &str) -> Vec<(String, String)> {
    let mut requires = Vec::new();
    let mut in_block = false;
    for line in manifest.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        let entry = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if line == "require (" {
            in_block = true;
            continue;
        } else if let Some(rest) = line.strip_prefix("require ") {
            rest
        } else {
            continue;
        };
        let mut fields = entry.split_whitespace();
        if let (Some(module), Some(version)) = (fields.next(), fields.next()) {
            requires.push((module.to_owned(), version.to_owned()));
        }
    }
    requires
}

fn go(manifest: &str) -> String {
    let h1 = |text: String| format!("h1:{}", digest_base64::<Sha256>(&text));
    let mut lines: Vec<String> = go_requires(manifest)
        .into_iter()
        .flat_map(|(module, version)| {
            [
                format!("{module} {version} {}", h1(format!("{module}@{version}"))),
                format!("{module} {version}/go.mod {}", h1(format!("{module}@{version}/go.mod"))),
            ]
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines.into_iter().map(|line| line + "\n").collect()
}

/// The dependencies of a pyproject.toml: Poetry's table, else PEP 621's `project.dependencies`.
fn python_dependencies(manifest: &toml::Table) -> Vec<(String, String)> {
    let poetry = manifest.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("dependencies"));
    if let Some(table) = poetry.and_then(|d| d.as_table()) {
        return table
            .iter()
            .filter(|(name, _)| name.as_str() != "python")
            .filter_map(|(name, spec)| {
                let spec = spec.as_str().or_else(|| spec.get("version").and_then(|v| v.as_str()))?;
                Some((name.to_ascii_lowercase(), spec.to_owned()))
            })
            .collect();
    }
    let listed = manifest.get("project").and_then(|p| p.get("dependencies")).and_then(|d| d.as_array());
    listed
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let line = line.as_str()?;
            let at = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))?;
            Some((line[..at].to_ascii_lowercase(), line[at..].trim().to_owned()))
        })
        .collect()
}

fn poetry(manifest: &str) -> Option<String> {
    let table: toml::Table = manifest.parse().ok()?;
    let mut dependencies: Vec<(String, String)> = python_dependencies(&table)
        .into_iter()
        .filter_map(|(name, spec)| Some((name, requirement(&spec)?.1)))
        .collect();
    dependencies.sort();
    let python = table
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.get("python"))
        .and_then(|p| p.as_str())
        .or_else(|| table.get("project").and_then(|p| p.get("requires-python")).and_then(|p| p.as_str()))
        .unwrap_or("*");
    let mut out =
        String::from("# This file is automatically @generated by Poetry 2.1.2 and should not be changed by hand.\n");
    for (name, version) in &dependencies {
        out += &format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\ndescription = \"\"\noptional = false\n\
             python-versions = \"*\"\nfiles = []\n"
        );
    }
    let hash = hex::encode(Sha256::digest(manifest.as_bytes()));
    out +=
        &format!("\n[metadata]\nlock-version = \"2.1\"\npython-versions = \"{python}\"\ncontent-hash = \"{hash}\"\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(ecosystem: &str, directory: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("ecosystem".into(), ecosystem.into()), ("directory".into(), directory.into())])
    }

    #[test]
    fn npm_locks_the_raised_version_and_keeps_what_still_satisfies() {
        let manifest = r#"{"name": "web", "version": "1.0.0", "dependencies": {"lodash": "^4.17.21", "express": "^4.18.2"},
            "devDependencies": {"jest": "^29.7.0"}}"#;
        let old = r#"{"name": "web", "lockfileVersion": 3, "requires": true, "packages": {
            "": {"name": "web", "dependencies": {"lodash": "^4.17.15"}},
            "node_modules/lodash": {"version": "4.17.15"}, "node_modules/express": {"version": "4.19.0"},
            "node_modules/accepts": {"version": "1.3.8"}}}"#;
        let files = BTreeMap::from([
            ("web/package.json".to_owned(), manifest.to_owned()),
            ("web/package-lock.json".to_owned(), old.to_owned()),
        ]);
        let (path, text) = regenerate(&files, &inputs("npm", "web")).unwrap();
        assert_eq!(path, "web/package-lock.json");
        let lock: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(lock["packages"][""]["dependencies"]["lodash"], "^4.17.21");
        assert_eq!(lock["packages"]["node_modules/lodash"]["version"], "4.17.21");
        assert_eq!(
            lock["packages"]["node_modules/lodash"]["resolved"],
            "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz"
        );
        assert!(lock["packages"]["node_modules/lodash"]["integrity"].as_str().unwrap().starts_with("sha512-"));
        assert_eq!(lock["packages"]["node_modules/express"]["version"], "4.19.0", "still satisfies ^4.18.2");
        assert_eq!(lock["packages"]["node_modules/jest"]["dev"], true);
        assert_eq!(lock["packages"]["node_modules/accepts"]["version"], "1.3.8", "transitive entries kept");
        // Running again changes nothing.
        let files = BTreeMap::from([
            ("web/package.json".to_owned(), manifest.to_owned()),
            ("web/package-lock.json".to_owned(), text.clone()),
        ]);
        assert_eq!(regenerate(&files, &inputs("npm", "web")).unwrap().1, text);
    }

    #[test]
    fn cargo_locks_the_raised_version_in_its_package_entry() {
        let manifest = "[package]\nname = \"api\"\nversion = \"0.2.0\"\n\n[dependencies]\nserde = \"1.0.200\"\ntokio = { version = \"1\", features = [\"rt\"] }\nlocal = { path = \"../local\" }\n";
        let old = "version = 4\n\n[[package]]\nname = \"api\"\nversion = \"0.2.0\"\ndependencies = [\n \"serde\",\n \"tokio\",\n]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.100\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"x\"\n\n[[package]]\nname = \"tokio\"\nversion = \"1.38.0\"\n";
        let files =
            BTreeMap::from([("Cargo.toml".to_owned(), manifest.to_owned()), ("Cargo.lock".to_owned(), old.to_owned())]);
        let (path, text) = regenerate(&files, &inputs("cargo", ".")).unwrap();
        assert_eq!(path, "Cargo.lock");
        let lock: toml::Table = text.parse().unwrap();
        let packages = lock["package"].as_array().unwrap();
        let version_of = |name: &str| -> Vec<&str> {
            packages
                .iter()
                .filter(|p| p["name"].as_str() == Some(name))
                .map(|p| p["version"].as_str().unwrap())
                .collect()
        };
        assert_eq!(version_of("serde"), ["1.0.200"]);
        assert_eq!(version_of("tokio"), ["1.38.0"], "kept: it satisfies 1");
        assert!(version_of("local").is_empty());
        let serde = packages.iter().find(|p| p["name"].as_str() == Some("serde")).unwrap();
        assert_eq!(serde["checksum"].as_str().unwrap().len(), 64);
        assert_eq!(lock["version"].as_integer(), Some(4));
    }

    #[test]
    fn pnpm_yarn_go_and_poetry_are_written_from_the_manifest() {
        let manifest = r#"{"dependencies": {"lodash": "^4.17.21", "@babel/core": "~7.24.0"}}"#;
        let files = BTreeMap::from([("package.json".to_owned(), manifest.to_owned())]);
        let (path, pnpm) = regenerate(&files, &inputs("pnpm", ".")).unwrap();
        assert_eq!(path, "pnpm-lock.yaml");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&pnpm).unwrap();
        assert_eq!(parsed["importers"]["."]["dependencies"]["lodash"]["version"].as_str(), Some("4.17.21"));
        assert_eq!(parsed["importers"]["."]["dependencies"]["@babel/core"]["specifier"].as_str(), Some("~7.24.0"));
        let (_, yarn) = regenerate(&files, &inputs("yarn", ".")).unwrap();
        assert!(yarn.contains("\"lodash@^4.17.21\":\n  version \"4.17.21\"\n"), "{yarn}");
        let go_mod = "module x\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/net v0.23.0 // indirect\n)\nrequire github.com/a/b v1.2.3\n";
        let files = BTreeMap::from([("svc/go.mod".to_owned(), go_mod.to_owned())]);
        let (path, sum) = regenerate(&files, &inputs("go", "svc")).unwrap();
        assert_eq!(path, "svc/go.sum");
        assert_eq!(sum.lines().count(), 4);
        assert!(sum.contains("golang.org/x/net v0.23.0/go.mod h1:"));
        let pyproject = "[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = \"^2.32.0\"\n";
        let files = BTreeMap::from([("pyproject.toml".to_owned(), pyproject.to_owned())]);
        let (_, lock) = regenerate(&files, &inputs("poetry", ".")).unwrap();
        let parsed: toml::Table = lock.parse().unwrap();
        assert_eq!(parsed["package"][0]["version"].as_str(), Some("2.32.0"));
        assert!(regenerate(&BTreeMap::new(), &inputs("npm", ".")).is_none(), "no manifest, no lockfile");
    }
}
