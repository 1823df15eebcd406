//! The operator's own configuration: the architecture's `config/orchestrator.yml`, overridable by environment
//! variables and `--set key=value` flags, checked once at start.
//!
//! Every key is an operator-wide setting, never a second place to declare what objects declare:
//! - `discovery.*`, `build.*` and `monitoring.*` are the values used where an object leaves the matching field
//!   unset (an Organization's `spec.discovery.interval`, a BuildPlan's `maxParallel`, `timeoutMinutes` and
//!   `retryAttempts`) or where no object speaks (a Repository no HealingPolicy selects);
//! - `self_healing.*` are guard rails: `false` turns an action off for every HealingPolicy, whatever the policy says.
//!
//! Sources apply in order, each over the last: built-in defaults, the file, `IO_<KEY>` environment variables (for
//! example `IO_BUILD_MAX_PARALLEL`), then `--set` flags. Every value goes through the same check, so an error names
//! the key and where the value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::crd::duration::HumanDuration;
use crate::crd::healing_policy::HealingPolicySpec;
use crate::plan::cron::CronSchedule;
use crate::plan::schedule::ScheduleDefaults;

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorConfig {
    /// `discovery.*`.
    pub discovery: DiscoveryConfig,
    /// `build.*`.
    pub build: BuildConfig,
    /// `monitoring.*`.
    pub monitoring: MonitoringConfig,
    /// `self_healing.*`.
    pub self_healing: SelfHealingConfig,
    /// `webhook.*`.
    pub webhook: WebhookConfig,
    /// `budget.*`.
    pub budget: BudgetConfig,
}

/// `budget.*`: how each credential's GitHub rate-limit budgets are shared between background and priority work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetConfig {
    /// The share of each budget (percent) that resyncs and health reads may spend an hour: when their projected
    /// spend exceeds it, their intervals are stretched, and they yield the rest of each window to webhook-driven
    /// work, dispatches and healing.
    pub background_share_percent: u8,
}

/// `webhook.*`: how deliveries the receiver missed are recovered (GitHub never redelivers a failed one by itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// How often a GitHub App's hook deliveries are read for failed ones to redeliver (also once when the receiver
    /// starts).
    pub recovery_interval: Duration,
}

/// `discovery.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// How often an Organization that sets no `spec.discovery.interval` is listed again.
    pub scan_interval: Duration,
}

/// `build.*`: what a BuildPlan that leaves these fields unset gets, and how runs in flight are followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildConfig {
    /// Most workflow runs in flight at once per plan.
    pub max_parallel: u32,
    /// Minutes a run may take before it is cancelled.
    pub timeout_minutes: u32,
    /// Further attempts after a failed run.
    pub retry_attempts: u32,
    /// How often runs in flight are read on GitHub when no `workflow_run` webhook arrives.
    pub poll_interval: Duration,
}

impl BuildConfig {
    /// What the scheduler gives a BuildPlan for the fields it leaves unset.
    pub fn schedule_defaults(&self) -> ScheduleDefaults {
        ScheduleDefaults {
            max_parallel: self.max_parallel,
            timeout_minutes: self.timeout_minutes,
            retry_attempts: self.retry_attempts,
        }
    }
}

/// `monitoring.*`: how repositories that no HealingPolicy selects are watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitoringConfig {
    /// How often their health is read.
    pub health_check_interval: Duration,
    /// The longest any repository's default-branch runs go unread while nothing says they changed. A read in
    /// between reads them again only after a push, a wake request (a `workflow_run` delivery), or while a run was
    /// queued or in progress; so without webhooks a run not tied to a push (scheduled, manual, a re-run) shows
    /// within this interval, and with `workflow_run` deliveries at once.
    pub health_full_read_interval: Duration,
    /// Failed default-branch runs in a row that make one unhealthy.
    pub failure_threshold: u32,
    /// Whether each repository's health is exported as metrics series of its own (counts by Organization always
    /// are): two series per repository, so off unless asked for.
    pub repository_metrics: bool,
    /// The most repositories given series of their own, the unhealthy first; the others are counted in
    /// `infinity_orchestrator_repository_metrics_omitted`.
    pub repository_metrics_limit: u32,
}

impl MonitoringConfig {
    /// The cap on repositories with metrics series of their own, when they are asked for.
    pub fn per_repository_metrics(&self) -> Option<usize> {
        self.repository_metrics.then_some(self.repository_metrics_limit as usize)
    }
}

/// `self_healing.*`: which healing actions any policy may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfHealingConfig {
    /// Re-running failed workflow runs.
    pub auto_retry: bool,
    /// Dependency-update pull requests for vulnerable dependencies.
    pub auto_update_dependencies: bool,
    /// Tracking issues for failing repositories.
    pub create_issues: bool,
}

impl Default for OperatorConfig {
    /// The architecture's values.
    fn default() -> Self {
        OperatorConfig {
            discovery: DiscoveryConfig { scan_interval: Duration::from_secs(6 * 3600) },
            build: BuildConfig {
                max_parallel: 10,
                timeout_minutes: 60,
                retry_attempts: 3,
                poll_interval: Duration::from_secs(30),
            },
            monitoring: MonitoringConfig {
                health_check_interval: Duration::from_secs(15 * 60),
                health_full_read_interval: Duration::from_secs(6 * 3600),
                failure_threshold: 3,
                repository_metrics: false,
                repository_metrics_limit: 500,
            },
            self_healing: SelfHealingConfig { auto_retry: true, auto_update_dependencies: true, create_issues: true },
            webhook: WebhookConfig { recovery_interval: Duration::from_secs(5 * 60) },
            budget: BudgetConfig {
                background_share_percent: crate::github::spending::DEFAULT_BACKGROUND_SHARE_PERCENT,
            },
        }
    }
}

/// Where a value came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A `--set` flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Flag => f.write_str("--set"),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// The file is not YAML of the expected shape.
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    /// A key the operator does not know.
    #[error("{origin}: unknown key {key:?}{hint}")]
    UnknownKey { key: String, origin: Source, hint: String },
    /// A value that does not fit its key.
    #[error("{origin}: {key}: {message}")]
    Invalid { key: &'static str, origin: Source, message: String },
    /// A `--set` flag that is not `key=value`.
    #[error("--set {0:?}: expected key=value, for example --set build.max_parallel=20")]
    MalformedFlag(String),
}

/// One configurable key: its name and how its text becomes a value.
struct Key {
    name: &'static str,
    apply: fn(&mut OperatorConfig, &str) -> Result<(), String>,
}

const KEYS: &[Key] = &[
    Key {
        name: "discovery.scan_interval",
        apply: |c, v| {
            c.discovery.scan_interval = interval(v, 60, 7 * 86400)?;
            Ok(())
        },
    },
    Key {
        name: "build.max_parallel",
        apply: |c, v| {
            c.build.max_parallel = whole(v, 1, 256)?;
            Ok(())
        },
    },
    Key {
        name: "build.timeout_minutes",
        apply: |c, v| {
            c.build.timeout_minutes = whole(v, 1, 4320)?;
            Ok(())
        },
    },
    Key {
        name: "build.retry_attempts",
        apply: |c, v| {
            c.build.retry_attempts = whole(v, 0, 10)?;
            Ok(())
        },
    },
    Key {
        name: "build.poll_interval",
        apply: |c, v| {
            c.build.poll_interval = interval(v, 1, 3600)?;
            Ok(())
        },
    },
    Key {
        name: "monitoring.health_check_interval",
        apply: |c, v| {
            c.monitoring.health_check_interval = interval(v, 10, 86400)?;
            Ok(())
        },
    },
    Key {
        name: "monitoring.health_full_read_interval",
        apply: |c, v| {
            c.monitoring.health_full_read_interval = interval(v, 10, 7 * 86400)?;
            Ok(())
        },
    },
    Key {
        name: "monitoring.failure_threshold",
        apply: |c, v| {
            c.monitoring.failure_threshold = whole(v, 1, 100)?;
            Ok(())
        },
    },
    Key {
        name: "monitoring.repository_metrics",
        apply: |c, v| {
            c.monitoring.repository_metrics = boolean(v)?;
            Ok(())
        },
    },
    Key {
        name: "monitoring.repository_metrics_limit",
        apply: |c, v| {
            c.monitoring.repository_metrics_limit = whole(v, 1, 10_000)?;
            Ok(())
        },
    },
    Key {
        name: "self_healing.auto_retry",
        apply: |c, v| {
            c.self_healing.auto_retry = boolean(v)?;
            Ok(())
        },
    },
    Key {
        name: "self_healing.auto_update_dependencies",
        apply: |c, v| {
            c.self_healing.auto_update_dependencies = boolean(v)?;
            Ok(())
        },
    },
    Key {
        name: "self_healing.create_issues",
        apply: |c, v| {
            c.self_healing.create_issues = boolean(v)?;
            Ok(())
        },
    },
    Key {
        name: "webhook.recovery_interval",
        apply: |c, v| {
            c.webhook.recovery_interval = interval(v, 1, 86400)?;
            Ok(())
        },
    },
    Key {
        name: "budget.background_share_percent",
        apply: |c, v| {
            c.budget.background_share_percent = whole(v, 1, 100)? as u8;
            Ok(())
        },
    },
];

/// Keys of the architecture's file that objects declare here instead.
const DECLARED_BY_OBJECTS: &[(&str, &str)] =
    [("discovery.organization", "declare an Organization object (spec.login) for each GitHub organization")].as_slice();

/// The environment variable that overrides `key`: `build.max_parallel` → `IO_BUILD_MAX_PARALLEL`.
pub fn env_var_of(key: &str) -> String {
    format!("IO_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Every key, for help texts.
pub fn keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|key| key.name)
}

impl OperatorConfig {
    /// Resolves the configuration from the file's text (if any), the environment and the `--set` flags, in that
    /// order of precedence from lowest to highest.
    pub fn resolve(
        file: Option<(&Path, &str)>,
        env: &BTreeMap<String, String>,
        flags: &[String],
    ) -> Result<OperatorConfig, ConfigError> {
        let mut config = OperatorConfig::default();
        if let Some((path, text)) = file {
            for (key, value) in flatten_file(path, text)? {
                config.set(&key, &value, Source::File(path.to_owned()))?;
            }
        }
        for key in KEYS {
            let name = env_var_of(key.name);
            if let Some(value) = env.get(&name) {
                config.set(key.name, value, Source::Env(name))?;
            }
        }
        for flag in flags {
            let (key, value) = flag.split_once('=').ok_or_else(|| ConfigError::MalformedFlag(flag.clone()))?;
            config.set(key.trim(), value.trim(), Source::Flag)?;
        }
        Ok(config)
    }

    /// Reads `path` (when given) and resolves as [`OperatorConfig::resolve`] does, from the process environment.
    pub fn load(path: Option<&Path>, flags: &[String]) -> Result<OperatorConfig, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(name, _)| name.starts_with("IO_")).collect();
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| ConfigError::Read { path: path.to_owned(), message: error.to_string() })?;
                OperatorConfig::resolve(Some((path, &text)), &env, flags)
            }
            None => OperatorConfig::resolve(None, &env, flags),
        }
    }

    fn set(&mut self, key: &str, value: &str, origin: Source) -> Result<(), ConfigError> {
        if let Some((_, instead)) = DECLARED_BY_OBJECTS.iter().find(|(name, _)| *name == key) {
            return Err(ConfigError::UnknownKey { key: key.to_owned(), origin, hint: format!(": {instead}") });
        }
        let Some(known) = KEYS.iter().find(|known| known.name == key) else {
            let hint = closest_key(key).map(|k| format!(" (did you mean {k:?}?)")).unwrap_or_default();
            return Err(ConfigError::UnknownKey { key: key.to_owned(), origin, hint });
        };
        (known.apply)(self, value).map_err(|message| ConfigError::Invalid { key: known.name, origin, message })
    }

    /// The spec a HealingPolicy acts by: its own, with the actions this configuration forbids turned off.
    pub fn guard_healing(&self, spec: &HealingPolicySpec) -> HealingPolicySpec {
        let mut guarded = spec.clone();
        guarded.actions.rerun.enabled &= self.self_healing.auto_retry;
        guarded.actions.dependency_update.enabled &= self.self_healing.auto_update_dependencies;
        guarded.actions.issue.enabled &= self.self_healing.create_issues;
        guarded
    }

    /// The `self_healing.*` keys that turn off actions `spec` asks for, for the policy's status.
    pub fn forbidden_actions(&self, spec: &HealingPolicySpec) -> Vec<&'static str> {
        let actions = &spec.actions;
        [
            (actions.rerun.enabled && !self.self_healing.auto_retry, "self_healing.auto_retry"),
            (
                actions.dependency_update.enabled && !self.self_healing.auto_update_dependencies,
                "self_healing.auto_update_dependencies",
            ),
            (actions.issue.enabled && !self.self_healing.create_issues, "self_healing.create_issues"),
        ]
        .into_iter()
        .filter_map(|(forbidden, key)| forbidden.then_some(key))
        .collect()
    }
}

/// The file's scalar values by dotted key. Anything but a mapping of mappings of scalars is refused.
fn flatten_file(path: &Path, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let syntax = |message: String| ConfigError::Syntax { path: path.to_owned(), message };
    let document: serde_yaml::Value = serde_yaml::from_str(text).map_err(|error| syntax(error.to_string()))?;
    let sections = match document {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(sections) => sections,
        _ => {
            return Err(syntax(
                "expected a mapping of sections (discovery, build, monitoring, self_healing, webhook)".into(),
            ))
        }
    };
    let mut values = Vec::new();
    for (section, entries) in sections {
        let section = scalar_text(&section).ok_or_else(|| syntax("section names must be plain words".into()))?;
        let serde_yaml::Value::Mapping(entries) = entries else {
            return Err(syntax(format!("{section}: expected a mapping of keys to values")));
        };
        for (key, value) in entries {
            let key = scalar_text(&key).ok_or_else(|| syntax(format!("{section}: key names must be plain words")))?;
            let full = format!("{section}.{key}");
            let value = scalar_text(&value).ok_or_else(|| syntax(format!("{full}: expected a single value")))?;
            values.push((full, value));
        }
    }
    Ok(values)
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(text) => Some(text.clone()),
        serde_yaml::Value::Number(number) => Some(number.to_string()),
        serde_yaml::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn closest_key(unknown: &str) -> Option<&'static str> {
    KEYS.iter().map(|key| (edit_distance(unknown, key.name), key.name)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn whole(text: &str, min: u32, max: u32) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}, got {text:?}")),
    }
}

fn boolean(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}

/// A duration (`15m`, `1h30m`) or a five-field cron expression, which counts as the shortest gap between two of its
/// fires: the operator looks again at intervals rather than at the cron's times.
fn interval(text: &str, min_secs: u64, max_secs: u64) -> Result<Duration, String> {
    let expected = "expected a duration such as 90s, 15m or 6h, or a cron expression such as \"*/15 * * * *\"";
    let duration = match HumanDuration::from(text).to_std() {
        Some(duration) => duration,
        None => {
            let schedule: CronSchedule = text.parse().map_err(|error| format!("{expected}, got {text:?} ({error})"))?;
            shortest_gap(&schedule).ok_or_else(|| format!("the cron expression {text:?} fires at most once"))?
        }
    };
    if duration < Duration::from_secs(min_secs) || duration > Duration::from_secs(max_secs) {
        let bounds = format!("{} to {}", HumanSecs(min_secs), HumanSecs(max_secs));
        return Err(format!("must be from {bounds}, got {text:?}"));
    }
    Ok(duration)
}

/// The shortest gap between successive fires over a year of them, from a fixed start so that the answer does not
/// depend on when the operator starts.
fn shortest_gap(schedule: &CronSchedule) -> Option<Duration> {
    let start: Timestamp = "2001-01-01T00:00:00Z".parse().ok()?;
    let end = start.checked_add(k8s_openapi::jiff::SignedDuration::from_hours(366 * 24)).ok()?;
    let mut previous = schedule.next_after(start)?;
    let mut shortest: Option<Duration> = None;
    for _ in 0..100_000 {
        let Some(next) = schedule.next_after(previous) else { break };
        let gap = previous.duration_until(next).unsigned_abs();
        shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
        if next > end {
            break;
        }
        previous = next;
    }
    shortest
}

struct HumanSecs(u64);

impl fmt::Display for HumanSecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            s if s % 86400 == 0 => write!(f, "{}d", s / 86400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_file(text: &str) -> Result<OperatorConfig, ConfigError> {
        OperatorConfig::resolve(Some((Path::new("orchestrator.yml"), text)), &BTreeMap::new(), &[])
    }

    #[test]
    fn the_architectures_file_without_its_organization_key_resolves_to_its_values() {
        let config = from_file(
            r#"
discovery:
  scan_interval: "0 */6 * * *"   # every 6 hours
build:
  max_parallel: 10
  timeout_minutes: 60
  retry_attempts: 3
monitoring:
  health_check_interval: "*/15 * * * *"
  failure_threshold: 3
self_healing:
  auto_retry: true
  auto_update_dependencies: true
  create_issues: true
"#,
        )
        .unwrap();
        assert_eq!(config, OperatorConfig::default());
    }

    #[test]
    fn the_committed_file_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/orchestrator.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = OperatorConfig::resolve(Some((&path, &text)), &BTreeMap::new(), &[]).unwrap();
        assert_eq!(config, OperatorConfig::default(), "the committed file documents the defaults");
    }

    #[test]
    fn the_background_share_is_a_percentage_of_the_budget() {
        assert_eq!(OperatorConfig::default().budget.background_share_percent, 50);
        let config = from_file("budget:\n  background_share_percent: 10\n").unwrap();
        assert_eq!(config.budget.background_share_percent, 10);
        let flag = ["budget.background_share_percent=100".to_owned()];
        let config = OperatorConfig::resolve(None, &BTreeMap::new(), &flag).unwrap();
        assert_eq!(config.budget.background_share_percent, 100);
        for bad in ["0", "101", "half"] {
            let error = from_file(&format!("budget:\n  background_share_percent: {bad}\n")).unwrap_err().to_string();
            let named = "budget.background_share_percent: expected a whole number from 1 to 100";
            assert!(error.contains(named), "{error}");
        }
    }

    #[test]
    fn per_repository_metrics_are_off_unless_asked_for_and_capped() {
        assert_eq!(OperatorConfig::default().monitoring.per_repository_metrics(), None);
        let config = from_file("monitoring:\n  repository_metrics: true\n").unwrap();
        assert_eq!(config.monitoring.per_repository_metrics(), Some(500));
        let flags = ["monitoring.repository_metrics=true".to_owned(), "monitoring.repository_metrics_limit=50".into()];
        let config = OperatorConfig::resolve(None, &BTreeMap::new(), &flags).unwrap();
        assert_eq!(config.monitoring.per_repository_metrics(), Some(50));
        let error = from_file("monitoring:\n  repository_metrics_limit: 0\n").unwrap_err().to_string();
        assert!(
            error.contains("monitoring.repository_metrics_limit: expected a whole number from 1 to 10000"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_or_partial_file_keeps_the_defaults_of_what_it_leaves_out() {
        assert_eq!(from_file("").unwrap(), OperatorConfig::default());
        let config = from_file("build:\n  max_parallel: 4\n").unwrap();
        assert_eq!(config.build.max_parallel, 4);
        assert_eq!(config.build.timeout_minutes, 60);
    }

    #[test]
    fn environment_beats_the_file_and_flags_beat_both() {
        let env = BTreeMap::from([
            ("IO_BUILD_MAX_PARALLEL".to_owned(), "20".to_owned()),
            ("IO_BUILD_RETRY_ATTEMPTS".to_owned(), "1".to_owned()),
        ]);
        let flags = ["build.retry_attempts=0".to_owned(), "self_healing.create_issues = false".to_owned()];
        let text = "build:\n  max_parallel: 4\n  timeout_minutes: 30\n";
        let config = OperatorConfig::resolve(Some((Path::new("f.yml"), text)), &env, &flags).unwrap();
        assert_eq!((config.build.max_parallel, config.build.timeout_minutes), (20, 30));
        assert_eq!(config.build.retry_attempts, 0);
        assert!(!config.self_healing.create_issues);
    }

    #[test]
    fn intervals_take_durations_or_cron_expressions() {
        let config =
            from_file("discovery:\n  scan_interval: 1h30m\nmonitoring:\n  health_check_interval: '@hourly'\n").unwrap();
        assert_eq!(config.discovery.scan_interval, Duration::from_secs(5400));
        assert_eq!(config.monitoring.health_check_interval, Duration::from_secs(3600));
        // Irregular: fires at 0 and 45 past each hour, so the shortest gap is 15 minutes.
        let config = from_file("monitoring:\n  health_check_interval: '0,45 * * * *'\n").unwrap();
        assert_eq!(config.monitoring.health_check_interval, Duration::from_secs(900));
    }

    #[test]
    fn each_bad_value_is_named_by_key_and_source() {
        let cases = [
            ("build:\n  max_parallel: 0\n", "orchestrator.yml: build.max_parallel: expected a whole number from 1 to 256, got \"0\""),
            ("build:\n  max_parallel: ten\n", "orchestrator.yml: build.max_parallel: expected a whole number from 1 to 256, got \"ten\""),
            ("build:\n  retry_attempts: -1\n", "orchestrator.yml: build.retry_attempts: expected a whole number from 0 to 10, got \"-1\""),
            ("self_healing:\n  auto_retry: yes please\n", "orchestrator.yml: self_healing.auto_retry: expected true or false, got \"yes please\""),
            ("discovery:\n  scan_interval: 5s\n", "orchestrator.yml: discovery.scan_interval: must be from 1m to 7d, got \"5s\""),
            ("build:\n  poll_interval: 0 0 30 2 *\n", "orchestrator.yml: build.poll_interval: the cron expression \"0 0 30 2 *\" fires at most once"),
            ("build:\n  max_paralel: 4\n", "orchestrator.yml: unknown key \"build.max_paralel\" (did you mean \"build.max_parallel\"?)"),
            ("discovery:\n  organization: acme\n", "orchestrator.yml: unknown key \"discovery.organization\": declare an Organization object (spec.login) for each GitHub organization"),
            ("build: 10\n", "orchestrator.yml: build: expected a mapping of keys to values"),
            ("build:\n  max_parallel: [1, 2]\n", "orchestrator.yml: build.max_parallel: expected a single value"),
            ("- build\n", "orchestrator.yml: expected a mapping of sections (discovery, build, monitoring, self_healing, webhook)"),
        ];
        for (text, expected) in cases {
            assert_eq!(from_file(text).unwrap_err().to_string(), expected, "for {text:?}");
        }
        let interval = from_file("monitoring:\n  health_check_interval: every hour\n").unwrap_err().to_string();
        assert!(
            interval.starts_with("orchestrator.yml: monitoring.health_check_interval: expected a duration"),
            "{interval}"
        );
        let syntax = from_file("build:\n  max_parallel: 4\n bad indent: 1\n").unwrap_err();
        assert!(matches!(syntax, ConfigError::Syntax { .. }), "{syntax}");
    }

    #[test]
    fn environment_and_flag_errors_name_their_source() {
        let env = BTreeMap::from([("IO_BUILD_TIMEOUT_MINUTES".to_owned(), "forever".to_owned())]);
        let error = OperatorConfig::resolve(None, &env, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable IO_BUILD_TIMEOUT_MINUTES: build.timeout_minutes: expected a whole number from 1 to \
             4320, got \"forever\""
        );
        let error = OperatorConfig::resolve(None, &BTreeMap::new(), &["build.max_parallel".into()]).unwrap_err();
        assert_eq!(error, ConfigError::MalformedFlag("build.max_parallel".into()));
        let error = OperatorConfig::resolve(None, &BTreeMap::new(), &["monitor.failure_threshold=2".into()]);
        assert_eq!(
            error.unwrap_err().to_string(),
            "--set: unknown key \"monitor.failure_threshold\" (did you mean \"monitoring.failure_threshold\"?)"
        );
    }

    #[test]
    fn every_key_has_an_environment_variable_that_overrides_it() {
        for key in keys() {
            let env = BTreeMap::from([(env_var_of(key), "not a valid value for anything".to_owned())]);
            let error = OperatorConfig::resolve(None, &env, &[]).unwrap_err();
            assert!(matches!(&error, ConfigError::Invalid { key: k, .. } if *k == key), "{key}: {error}");
        }
    }

    #[test]
    fn self_healing_flags_turn_actions_off_for_every_policy_but_never_on() {
        let mut spec: HealingPolicySpec = serde_json::from_value(serde_json::json!({
            "organizationRef": { "name": "acme" },
            "actions": { "rerun": { "enabled": true }, "issue": { "enabled": true },
                         "dependencyUpdate": { "enabled": false } }
        }))
        .unwrap();
        let config = OperatorConfig {
            self_healing: SelfHealingConfig { auto_retry: false, auto_update_dependencies: true, create_issues: true },
            ..OperatorConfig::default()
        };
        let guarded = config.guard_healing(&spec);
        assert!(!guarded.actions.rerun.enabled);
        assert!(guarded.actions.issue.enabled);
        assert!(!guarded.actions.dependency_update.enabled, "a guard rail never turns an action on");
        assert_eq!(config.forbidden_actions(&spec), ["self_healing.auto_retry"]);
        spec.actions.rerun.enabled = false;
        assert!(config.forbidden_actions(&spec).is_empty(), "nothing asked, nothing forbidden");
    }
}
