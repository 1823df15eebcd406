//! Dependency pull requests that build: which lockfile goes with a manifest, what the lockfile-update workflow is
//! asked to do, whether a lockfile already locks the patched version, and what to do next about a pull request
//! waiting for its lockfile.
//!
//! A manifest with a lockfile beside it gets its pull request as a draft; the operator dispatches the
//! lockfile-update workflow (`config/workflows/reusable/lockfile-update.yml`, installed by onboarding) on the pull
//! request's branch and marks it ready for review once the branch's lockfile locks the patched version. Everything
//! [`next_step`] needs is read again from GitHub (the draft flag, the branch's lockfile, the workflow's runs on the
//! branch), so a restart loses nothing; status only remembers when the operator dispatched.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::marker::compare_versions;

/// The workflow's file name, by which it is dispatched.
pub use crate::plan::detect::LOCKFILE_WORKFLOW as WORKFLOW_FILE;
/// Where onboarding installs it.
pub const WORKFLOW_PATH: &str = ".github/workflows/lockfile-update.yml";
/// The audit trail's name for dispatching the workflow.
pub const AUDIT_DISPATCH: &str = "LockfileUpdate";
/// The audit trail's name for marking the pull request ready for review.
pub const AUDIT_READY: &str = "ReadyForReview";
/// `PullRequestLockfile.state`: the workflow is not dispatched yet.
pub const STATE_AWAITING_DISPATCH: &str = "AwaitingDispatch";
/// `PullRequestLockfile.state`: dispatched, its run awaited.
pub const STATE_DISPATCHED: &str = "Dispatched";
/// `PullRequestLockfile.state`: the lockfile is consistent and the pull request ready for review.
pub const STATE_READY: &str = "Ready";
/// `PullRequestLockfile.state`: the workflow ran and the lockfile is still behind.
pub const STATE_FAILED: &str = "Failed";
/// `PullRequestLockfile.state`: the pull request was closed while it waited.
pub const STATE_CLOSED: &str = "Closed";

/// How long a dispatched run may stay unlisted before the dispatch is taken as lost and sent again (GitHub lists a
/// dispatched run within seconds; a second run is harmless, the workflow commits nothing to a consistent lockfile).
pub const DISPATCH_LOST_AFTER: SignedDuration = SignedDuration::from_mins(10);

/// The tool that writes a lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockfileTool {
    /// `package-lock.json`, `npm-shrinkwrap.json`.
    Npm,
    /// `pnpm-lock.yaml`.
    Pnpm,
    /// `yarn.lock` (classic and Berry).
    Yarn,
    /// `Cargo.lock`.
    Cargo,
    /// `go.sum`.
    Go,
    /// `poetry.lock`.
    Poetry,
}

impl LockfileTool {
    /// The workflow's `ecosystem` input.
    pub fn ecosystem(self) -> &'static str {
        match self {
            LockfileTool::Npm => "npm",
            LockfileTool::Pnpm => "pnpm",
            LockfileTool::Yarn => "yarn",
            LockfileTool::Cargo => "cargo",
            LockfileTool::Go => "go",
            LockfileTool::Poetry => "poetry",
        }
    }

    /// The tool behind the `ecosystem` input (as status records it).
    pub fn of_ecosystem(ecosystem: &str) -> Option<Self> {
        [Self::Npm, Self::Pnpm, Self::Yarn, Self::Cargo, Self::Go, Self::Poetry]
            .into_iter()
            .find(|tool| tool.ecosystem() == ecosystem)
    }

    /// The tool writing the lockfile named `file`.
    pub fn of_lockfile(file: &str) -> Option<Self> {
        match file.rsplit('/').next().unwrap_or(file) {
            "package-lock.json" | "npm-shrinkwrap.json" => Some(LockfileTool::Npm),
            "pnpm-lock.yaml" => Some(LockfileTool::Pnpm),
            "yarn.lock" => Some(LockfileTool::Yarn),
            "Cargo.lock" => Some(LockfileTool::Cargo),
            "go.sum" => Some(LockfileTool::Go),
            "poetry.lock" => Some(LockfileTool::Poetry),
            _ => None,
        }
    }
}

/// The lockfiles that may sit beside `manifest_path`, in the order the tools prefer them (npm reads
/// `npm-shrinkwrap.json` before `package-lock.json`); empty for a manifest without lockfiles (`requirements.txt`).
pub fn candidate_paths(manifest_path: &str) -> Vec<String> {
    let (directory, file) = split(manifest_path);
    let names: &[&str] = match file {
        "package.json" => &["npm-shrinkwrap.json", "package-lock.json", "pnpm-lock.yaml", "yarn.lock"],
        "Cargo.toml" => &["Cargo.lock"],
        "go.mod" => &["go.sum"],
        "pyproject.toml" => &["poetry.lock"],
        _ => &[],
    };
    names.iter().map(|name| format!("{directory}{name}")).collect()
}

/// `("dir/", "file")`, or `("", "file")` at the root.
fn split(path: &str) -> (String, &str) {
    match path.rsplit_once('/') {
        Some((directory, file)) => (format!("{directory}/"), file),
        None => (String::new(), path),
    }
}

/// A lockfile to bring in line after raising `package` to `version` in `manifest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockfileUpdate {
    /// The lockfile's path.
    pub path: String,
    /// The manifest's path, beside it.
    pub manifest: String,
    /// Who writes it.
    pub tool: LockfileTool,
    /// The package raised.
    pub package: String,
    /// The version it was raised to.
    pub version: String,
}

impl LockfileUpdate {
    /// The update of `lockfile_path` for `package` at `version` in `manifest`; `None` when the path is no lockfile.
    pub fn new(manifest: &str, lockfile_path: &str, package: &str, version: &str) -> Option<Self> {
        Some(LockfileUpdate {
            path: lockfile_path.to_owned(),
            manifest: manifest.to_owned(),
            tool: LockfileTool::of_lockfile(lockfile_path)?,
            package: package.to_owned(),
            version: version.trim_start_matches('v').to_owned(),
        })
    }

    /// The manifest's directory as the workflow's `directory` input: `.` at the root.
    pub fn directory(&self) -> String {
        match self.manifest.rsplit_once('/') {
            Some((directory, _)) if !directory.is_empty() => directory.to_owned(),
            _ => ".".to_owned(),
        }
    }

    /// The workflow's inputs. Go and Poetry get no `package`/`version`: `go mod tidy` and `poetry lock` take none.
    pub fn inputs(&self) -> BTreeMap<String, String> {
        let mut inputs = BTreeMap::from([
            ("ecosystem".to_owned(), self.tool.ecosystem().to_owned()),
            ("directory".to_owned(), self.directory()),
        ]);
        if !matches!(self.tool, LockfileTool::Go | LockfileTool::Poetry) {
            inputs.insert("package".to_owned(), self.package.clone());
            inputs.insert("version".to_owned(), self.version.clone());
        }
        inputs
    }

    /// Whether `content` (the lockfile on the pull request's branch) locks the package at the version or later.
    pub fn satisfied_by(&self, content: &str) -> bool {
        locked_versions(self.tool, content, &self.package)
            .iter()
            .any(|locked| compare_versions(locked, &self.version) != Ordering::Less)
    }
}

/// The versions of `package` that `content`, a lockfile of `tool`, locks (a package may be locked at several).
/// A lockfile that does not parse locks nothing.
pub fn locked_versions(tool: LockfileTool, content: &str, package: &str) -> Vec<String> {
    let mut versions = match tool {
        LockfileTool::Npm => npm_versions(content, package),
        LockfileTool::Pnpm => pnpm_versions(content, package),
        LockfileTool::Yarn => yarn_versions(content, package),
        LockfileTool::Cargo => toml_package_versions(content, package, |a, b| a == b),
        LockfileTool::Poetry => toml_package_versions(content, package, |a, b| python_name(a) == python_name(b)),
        LockfileTool::Go => go_versions(content, package),
    };
    versions.sort();
    versions.dedup();
    versions
}

/// `package-lock.json` v2/v3 (`packages["node_modules/<name>"]`), else v1 (`dependencies[<name>]`).
fn npm_versions(content: &str, package: &str) -> Vec<String> {
    let Ok(lock) = serde_json::from_str::<serde_json::Value>(content) else { return Vec::new() };
    let version = |entry: Option<&serde_json::Value>| {
        entry.and_then(|e| e.get("version")).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let key = format!("node_modules/{package}");
    let from_packages = lock.get("packages").and_then(|p| p.as_object()).map(|packages| {
        packages
            .iter()
            .filter(|(path, _)| *path == &key || path.ends_with(&format!("/{key}")))
            .filter_map(|(_, entry)| version(Some(entry)))
            .collect::<Vec<_>>()
    });
    match from_packages {
        Some(found) if !found.is_empty() => found,
        _ => version(lock.get("dependencies").and_then(|d| d.get(package))).into_iter().collect(),
    }
}

/// `pnpm-lock.yaml`: the importers' (v6+) or the root's (v5) dependency entries, whose version may carry a peer
/// suffix (`1.2.3(react@18.2.0)`).
fn pnpm_versions(content: &str, package: &str) -> Vec<String> {
    let Ok(lock) = serde_yaml::from_str::<serde_yaml::Value>(content) else { return Vec::new() };
    let mut scopes: Vec<&serde_yaml::Value> = vec![&lock];
    if let Some(importers) = lock.get("importers").and_then(|i| i.as_mapping()) {
        scopes.extend(importers.values());
    }
    let mut versions = Vec::new();
    for scope in scopes {
        for section in ["dependencies", "devDependencies", "optionalDependencies"] {
            let Some(entry) = scope.get(section).and_then(|s| s.get(package)) else { continue };
            let text = entry.as_str().or_else(|| entry.get("version").and_then(|v| v.as_str()));
            if let Some(text) = text {
                versions.push(text.split('(').next().unwrap_or(text).trim().to_owned());
            }
        }
    }
    versions
}

/// `yarn.lock`, classic (`version "1.2.3"`) or Berry (`version: 1.2.3`): the entries whose header names the package.
fn yarn_versions(content: &str, package: &str) -> Vec<String> {
    let mut versions = Vec::new();
    let mut in_entry = false;
    for line in content.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && line.trim_end().ends_with(':') {
            let header = line.trim_end().trim_end_matches(':');
            in_entry = header.split(',').any(|spec| {
                let spec = spec.trim().trim_matches('"');
                // `name@range`, `name@npm:range`; a scoped name starts with `@`.
                spec.rsplit_once('@').is_some_and(|(name, _)| name == package)
            });
        } else if in_entry {
            let trimmed = line.trim();
            if let Some(version) = trimmed.strip_prefix("version ").or_else(|| trimmed.strip_prefix("version: ")) {
                versions.push(version.trim().trim_matches('"').to_owned());
                in_entry = false;
            }
        }
    }
    versions
}

/// `Cargo.lock` and `poetry.lock`: `[[package]]` tables with `name` and `version`.
fn toml_package_versions(content: &str, package: &str, same: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let Ok(lock) = content.parse::<toml::Table>() else { return Vec::new() };
    let Some(packages) = lock.get("package").and_then(|p| p.as_array()) else { return Vec::new() };
    packages
        .iter()
        .filter(|entry| entry.get("name").and_then(|n| n.as_str()).is_some_and(|name| same(name, package)))
        .filter_map(|entry| entry.get("version").and_then(|v| v.as_str()).map(str::to_owned))
        .collect()
}

/// PEP 503 normalisation: case and runs of `-`, `_`, `.` do not matter.
fn python_name(name: &str) -> String {
    let mut normal = String::new();
    for c in name.chars() {
        let c = if matches!(c, '-' | '_' | '.') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && normal.ends_with('-')) {
            normal.push(c);
        }
    }
    normal
}

/// `go.sum`: `<module> <version>[/go.mod] <hash>` lines.
fn go_versions(content: &str, package: &str) -> Vec<String> {
    content
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (module, version) = (fields.next()?, fields.next()?);
            (module == package).then(|| version.trim_end_matches("/go.mod").trim_start_matches('v').to_owned())
        })
        .collect()
}

/// The latest run of the lockfile workflow on the pull request's branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockfileRun {
    /// Its page.
    pub url: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// `None` while queued or running; GitHub's conclusion once completed.
    pub conclusion: Option<String>,
}

/// What the operator saw of a pull request waiting for its lockfile. Read in this order: the run first, then the
/// lockfile, so that a run seen completed has its commit in the lockfile read after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockfileProgress {
    /// The pull request is open.
    pub open: bool,
    /// It is still a draft.
    pub draft: bool,
    /// The lockfile on its branch (`None`: absent).
    pub lockfile: Option<String>,
    /// The workflow is on the default branch (GitHub dispatches only workflows it knows from there).
    pub workflow_installed: bool,
    /// The latest run of the workflow on the branch.
    pub latest_run: Option<LockfileRun>,
    /// When the operator last dispatched the workflow for it (from status).
    pub dispatched_at: Option<Timestamp>,
    /// The workflow already failed for it: a person decides (re-runs it, or pushes the lockfile).
    pub failed: bool,
}

/// What to do next about a pull request waiting for its lockfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockfileStep {
    /// Closed (or its branch deleted): nothing more to do.
    Closed,
    /// The lockfile is consistent and the pull request ready for review already (someone marked it, or the
    /// operator did before a restart).
    AlreadyReady,
    /// The branch's lockfile locks the version: mark the pull request ready for review.
    MarkReady,
    /// Dispatch the workflow on the branch.
    Dispatch,
    /// Nothing to do yet, with why.
    Wait(String),
    /// The workflow ran and the lockfile is still not consistent, with why; it is not dispatched again.
    Fail(String),
}

/// The next step for `update`'s pull request at `now`.
pub fn next_step(update: &LockfileUpdate, progress: &LockfileProgress, now: Timestamp) -> LockfileStep {
    if !progress.open {
        return LockfileStep::Closed;
    }
    if progress.lockfile.as_deref().is_some_and(|content| update.satisfied_by(content)) {
        return if progress.draft { LockfileStep::MarkReady } else { LockfileStep::AlreadyReady };
    }
    // Not a draft (a person marked it ready early, or the repository has no drafts): the lockfile is still owed.
    let subject = format!("{} does not lock {} {} yet", update.path, update.package, update.version);
    if progress.failed {
        return LockfileStep::Wait(format!("{subject}; the lockfile workflow failed, a person decides"));
    }
    // A run older than the operator's last dispatch is not the one it waits for.
    let run = progress.latest_run.as_ref().filter(|run| {
        let since = |at: Timestamp| at.checked_sub(SignedDuration::from_secs(60)).unwrap_or(at);
        progress.dispatched_at.is_none_or(|at| run.created_at >= since(at))
    });
    match run {
        Some(LockfileRun { conclusion: None, .. }) => {
            LockfileStep::Wait(format!("{subject}; the lockfile workflow is running"))
        }
        Some(LockfileRun { conclusion: Some(conclusion), url, .. }) => {
            let link = url.as_deref().map(|url| format!(" ({url})")).unwrap_or_default();
            LockfileStep::Fail(format!("{subject}: the lockfile workflow ended {conclusion}{link}"))
        }
        None => match progress.dispatched_at {
            Some(at) if now < super::after(at, DISPATCH_LOST_AFTER) => {
                LockfileStep::Wait(format!("{subject}; the lockfile workflow was dispatched at {at}"))
            }
            _ if !progress.workflow_installed => LockfileStep::Wait(format!(
                "{subject}; {WORKFLOW_PATH} is not on the default branch (onboarding installs it)"
            )),
            _ => LockfileStep::Dispatch,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(manifest: &str, lockfile: &str) -> LockfileUpdate {
        LockfileUpdate::new(manifest, lockfile, "lodash", "4.17.21").unwrap()
    }

    fn progress() -> LockfileProgress {
        LockfileProgress {
            open: true,
            draft: true,
            lockfile: Some(
                r#"{"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.15"}}}"#.into(),
            ),
            workflow_installed: true,
            latest_run: None,
            dispatched_at: None,
            failed: false,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + secs).unwrap()
    }

    #[test]
    fn a_dependency_update_waits_for_the_lockfile_beside_its_manifest_and_only_then() {
        use crate::crd::healing_policy::{AlertSeverity, HealingPolicySpec};
        use crate::plan::heal::{decide, ActionHistory, DependabotAlert, HealingAction, ObservedRepository};
        let policy: HealingPolicySpec = serde_json::from_value(serde_json::json!({
            "organizationRef": { "name": "org" }, "mode": "Enforce",
            "actions": { "dependencyUpdate": { "enabled": true, "minSeverity": "high" } }
        }))
        .unwrap();
        let alert = |manifest: &str| DependabotAlert {
            number: 1,
            package: "serde".into(),
            ecosystem: "cargo".into(),
            manifest_path: manifest.into(),
            vulnerable_range: "< 1.0.200".into(),
            first_patched_version: Some("1.0.200".into()),
            severity: AlertSeverity::High,
        };
        let mut repo = ObservedRepository { name: "api".into(), ..ObservedRepository::default() };
        repo.dependabot_alerts = vec![alert("crates/api/Cargo.toml")];
        repo.manifests.insert("crates/api/Cargo.toml".into(), "[dependencies]\nserde = \"1.0.100\"\n".into());
        let lockfile_of = |repo: &ObservedRepository| {
            let plan = decide(&policy, repo, &ActionHistory { entries: &[] }, at(0));
            match plan.actions.as_slice() {
                [planned] => match &planned.action {
                    HealingAction::DependencyUpdate { lockfile, .. } => (lockfile.clone(), planned.reason.clone()),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        };
        let (none, reason) = lockfile_of(&repo);
        assert_eq!(none, None, "no lockfile beside it: the manifest edit alone");
        assert!(!reason.contains("draft"), "{reason}");
        repo.lockfiles.insert("crates/api/Cargo.toml".into(), "crates/api/Cargo.lock".into());
        let (lockfile, reason) = lockfile_of(&repo);
        let lockfile = lockfile.expect("a lockfile to update");
        assert_eq!(
            (lockfile.path.as_str(), lockfile.tool, lockfile.version.as_str()),
            ("crates/api/Cargo.lock", LockfileTool::Cargo, "1.0.200")
        );
        assert_eq!(lockfile.directory(), "crates/api");
        assert!(reason.contains("a draft until crates/api/Cargo.lock is updated"), "{reason}");
    }

    #[test]
    fn each_manifest_has_its_lockfiles_beside_it() {
        assert_eq!(
            candidate_paths("web/package.json"),
            ["web/npm-shrinkwrap.json", "web/package-lock.json", "web/pnpm-lock.yaml", "web/yarn.lock"]
        );
        assert_eq!(candidate_paths("Cargo.toml"), ["Cargo.lock"]);
        assert_eq!(candidate_paths("svc/go.mod"), ["svc/go.sum"]);
        assert_eq!(candidate_paths("pyproject.toml"), ["poetry.lock"]);
        assert!(candidate_paths("requirements.txt").is_empty());
        assert!(candidate_paths("README.md").is_empty());
        for path in candidate_paths("package.json").iter().chain(&candidate_paths("go.mod")) {
            assert!(LockfileTool::of_lockfile(path).is_some(), "{path}");
        }
        assert_eq!(LockfileTool::of_lockfile("a/pnpm-lock.yaml"), Some(LockfileTool::Pnpm));
        assert_eq!(LockfileTool::of_ecosystem("cargo"), Some(LockfileTool::Cargo));
        assert_eq!(LockfileTool::of_ecosystem("pip"), None);
    }

    #[test]
    fn the_workflow_gets_the_directory_and_the_package_where_the_tool_takes_one() {
        let root = update("package.json", "package-lock.json");
        assert_eq!(root.directory(), ".");
        let inputs = root.inputs();
        assert_eq!(inputs["ecosystem"], "npm");
        assert_eq!((inputs["package"].as_str(), inputs["version"].as_str()), ("lodash", "4.17.21"));
        let go = LockfileUpdate::new("svc/api/go.mod", "svc/api/go.sum", "golang.org/x/net", "v0.23.0").unwrap();
        assert_eq!(go.version, "0.23.0");
        assert_eq!(
            go.inputs(),
            BTreeMap::from([("directory".into(), "svc/api".into()), ("ecosystem".into(), "go".into())])
        );
        assert!(LockfileUpdate::new("package.json", "package.json", "lodash", "1").is_none());
    }

    #[test]
    fn lockfiles_of_every_tool_are_read() {
        let npm3 = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"lodash": "^4.17.21"}},
            "node_modules/lodash": {"version": "4.17.21"}, "node_modules/x/node_modules/lodash": {"version": "3.0.0"}}}"#;
        assert_eq!(locked_versions(LockfileTool::Npm, npm3, "lodash"), ["3.0.0", "4.17.21"]);
        let npm1 = r#"{"lockfileVersion": 1, "dependencies": {"lodash": {"version": "4.17.15"}}}"#;
        assert_eq!(locked_versions(LockfileTool::Npm, npm1, "lodash"), ["4.17.15"]);
        let pnpm9 = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      lodash:\n        specifier: ^4.17.21\n        version: 4.17.21\n";
        assert_eq!(locked_versions(LockfileTool::Pnpm, pnpm9, "lodash"), ["4.17.21"]);
        let pnpm5 = "lockfileVersion: 5.4\ndependencies:\n  react: 18.2.0(loose-envify@1.4.0)\n";
        assert_eq!(locked_versions(LockfileTool::Pnpm, pnpm5, "react"), ["18.2.0"]);
        let classic = "# yarn lockfile v1\n\n\nlodash@^4.17.15, lodash@^4.17.21:\n  version \"4.17.21\"\n  resolved \"x\"\n\n\"@babel/core@^7.0.0\":\n  version \"7.24.0\"\n";
        assert_eq!(locked_versions(LockfileTool::Yarn, classic, "lodash"), ["4.17.21"]);
        assert_eq!(locked_versions(LockfileTool::Yarn, classic, "@babel/core"), ["7.24.0"]);
        let berry = "__metadata:\n  version: 8\n\n\"lodash@npm:^4.17.21\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n";
        assert_eq!(locked_versions(LockfileTool::Yarn, berry, "lodash"), ["4.17.21"]);
        let cargo = "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\n\n[[package]]\nname = \"serde\"\nversion = \"0.9.0\"\n";
        assert_eq!(locked_versions(LockfileTool::Cargo, cargo, "serde"), ["0.9.0", "1.0.200"]);
        let poetry = "[[package]]\nname = \"Requests\"\nversion = \"2.32.0\"\n";
        assert_eq!(locked_versions(LockfileTool::Poetry, poetry, "requests"), ["2.32.0"]);
        let go = "golang.org/x/net v0.23.0 h1:abc=\ngolang.org/x/net v0.23.0/go.mod h1:def=\n";
        assert_eq!(locked_versions(LockfileTool::Go, go, "golang.org/x/net"), ["0.23.0"]);
        assert!(locked_versions(LockfileTool::Cargo, "not toml [[", "serde").is_empty());
        assert!(locked_versions(LockfileTool::Npm, "{", "lodash").is_empty());
    }

    #[test]
    fn a_lockfile_satisfies_the_update_when_it_locks_the_version_or_later() {
        let npm = update("package.json", "package-lock.json");
        let lock = |v: &str| format!(r#"{{"packages": {{"node_modules/lodash": {{"version": "{v}"}}}}}}"#);
        assert!(!npm.satisfied_by(&lock("4.17.15")));
        assert!(npm.satisfied_by(&lock("4.17.21")));
        assert!(npm.satisfied_by(&lock("4.18.0")));
        assert!(!npm.satisfied_by("{}"));
    }

    #[test]
    fn a_draft_is_dispatched_for_then_marked_ready_once_the_lockfile_agrees() {
        let npm = update("package.json", "package-lock.json");
        assert_eq!(next_step(&npm, &progress(), at(0)), LockfileStep::Dispatch);
        // Dispatched, not listed yet: wait, and dispatch again only once the run is taken as lost.
        let dispatched = LockfileProgress { dispatched_at: Some(at(0)), ..progress() };
        assert!(matches!(next_step(&npm, &dispatched, at(30)), LockfileStep::Wait(_)));
        assert_eq!(next_step(&npm, &dispatched, at(601)), LockfileStep::Dispatch);
        let running = LockfileRun { url: None, created_at: at(2), conclusion: None };
        let seen = LockfileProgress { latest_run: Some(running.clone()), ..dispatched.clone() };
        assert!(matches!(next_step(&npm, &seen, at(30)), LockfileStep::Wait(why) if why.contains("running")));
        let fixed = r#"{"packages": {"node_modules/lodash": {"version": "4.17.21"}}}"#.to_owned();
        let done = LockfileProgress {
            latest_run: Some(LockfileRun { conclusion: Some("success".into()), ..running.clone() }),
            lockfile: Some(fixed.clone()),
            ..dispatched.clone()
        };
        assert_eq!(next_step(&npm, &done, at(60)), LockfileStep::MarkReady);
        // Already consistent on the base branch: ready at once, nothing dispatched.
        assert_eq!(
            next_step(&npm, &LockfileProgress { lockfile: Some(fixed), ..progress() }, at(0)),
            LockfileStep::MarkReady
        );
    }

    #[test]
    fn failures_and_missing_pieces_wait_instead_of_going_ready() {
        let npm = update("package.json", "package-lock.json");
        let failed_run = LockfileRun { url: Some("u".into()), created_at: at(2), conclusion: Some("failure".into()) };
        let failed =
            LockfileProgress { latest_run: Some(failed_run.clone()), dispatched_at: Some(at(0)), ..progress() };
        assert!(matches!(next_step(&npm, &failed, at(60)), LockfileStep::Fail(why) if why.contains("failure (u)")));
        // A run that succeeded without fixing the lockfile is a failure too.
        let succeeded = LockfileRun { conclusion: Some("success".into()), ..failed_run.clone() };
        let useless = LockfileProgress { latest_run: Some(succeeded), ..failed.clone() };
        assert!(matches!(next_step(&npm, &useless, at(60)), LockfileStep::Fail(_)));
        // Once failed, never dispatched again; a person's fix still makes it ready.
        let recorded = LockfileProgress { failed: true, latest_run: None, dispatched_at: None, ..progress() };
        assert!(matches!(next_step(&npm, &recorded, at(9_999)), LockfileStep::Wait(_)));
        // A run from before the last dispatch is not the one waited for.
        let old = LockfileRun { created_at: at(-600), ..failed_run };
        let stale = LockfileProgress { latest_run: Some(old), dispatched_at: Some(at(0)), ..progress() };
        assert!(matches!(next_step(&npm, &stale, at(30)), LockfileStep::Wait(_)));
        let uninstalled = LockfileProgress { workflow_installed: false, ..progress() };
        assert!(matches!(next_step(&npm, &uninstalled, at(0)), LockfileStep::Wait(why) if why.contains(WORKFLOW_PATH)));
        assert_eq!(next_step(&npm, &LockfileProgress { open: false, ..progress() }, at(0)), LockfileStep::Closed);
        // Marked ready early by a person: the lockfile is still owed, and nothing is marked again once it is there.
        assert_eq!(next_step(&npm, &LockfileProgress { draft: false, ..progress() }, at(0)), LockfileStep::Dispatch);
        let fixed = r#"{"packages": {"node_modules/lodash": {"version": "4.17.21"}}}"#.to_owned();
        let ready = LockfileProgress { draft: false, lockfile: Some(fixed), ..progress() };
        assert_eq!(next_step(&npm, &ready, at(0)), LockfileStep::AlreadyReady);
    }
}
