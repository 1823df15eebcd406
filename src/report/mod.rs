//! The compliance report: health and security across an Organization's repositories, worst first, as Markdown for
//! people, JSON for tooling and a self-contained HTML page with pictures (the dependency graph, health trends and,
//! when a BuildPlan is given, its run's timeline). Pure: the caller reads the objects.

pub mod graph;
mod html;
mod layout;
mod markdown;
pub mod status;
pub mod timeline;
mod trend;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::crd::condition::find_condition;
use crate::crd::repository::{AlertCounts, FlakyWorkflow, HealthStatus};
use crate::crd::{HasConditions, Repository};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A Markdown document.
    Md,
    /// JSON, for tooling.
    Json,
    /// A self-contained HTML page.
    Html,
}

/// The report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// The Organization object the report covers.
    pub organization: String,
    /// When it was made.
    pub generated_at: String,
    /// Sums over every repository.
    pub totals: Totals,
    /// One row per repository, worst first.
    pub repositories: Vec<Row>,
    /// The flakiest workflows across the repositories, most flaky failures first; at most [`FLAKIEST_LISTED`].
    pub flakiest_workflows: Vec<FlakyWorkflowLine>,
    /// The dependency graph as SVG, for the HTML page.
    #[serde(skip)]
    pub graph_svg: String,
    /// A BuildPlan run's timeline as SVG ([`timeline::svg`]), for the HTML page, when one is given.
    #[serde(skip)]
    pub timeline_svg: Option<String>,
}

/// Most workflows the report's "Flakiest workflows" section lists.
pub const FLAKIEST_LISTED: usize = 10;

/// One workflow of one repository in the "Flakiest workflows" section.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FlakyWorkflowLine {
    /// The repository's GitHub name.
    pub repository: String,
    /// The workflow, as `status.health.flakiestWorkflows` has it.
    pub workflow: FlakyWorkflow,
}

/// Sums over the report's repositories.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Repositories in the report.
    pub repositories: usize,
    /// Repositories whose `Healthy` condition is `False`.
    pub unhealthy: usize,
    /// Repositories with no health measured yet.
    pub unmeasured: usize,
    /// Repositories with a flaky failure in their health window.
    pub flaky: usize,
    /// Open code-scanning alerts.
    pub code_scanning_alerts: i32,
    /// Open Dependabot alerts.
    pub dependabot_alerts: i32,
    /// Open secret-scanning alerts.
    pub secret_scanning_alerts: i32,
}

/// One repository's line.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    /// GitHub name.
    pub name: String,
    /// Main language.
    pub language: Option<String>,
    /// How much attention the repository needs; rows are sorted by it, highest first. See [`risk`].
    pub risk: i32,
    /// Health score, 0 to 100, once measured.
    pub health_score: Option<i32>,
    /// The `Healthy` condition's status: `True`, `False` or `Unknown`.
    pub healthy: String,
    /// Why, from the `Healthy` condition.
    pub healthy_reason: Option<String>,
    /// Success rate over the health window, in percent.
    pub success_rate_percent: Option<i32>,
    /// Failed runs since the last success.
    pub consecutive_failures: Option<i32>,
    /// Whether a commit failed and then passed unchanged.
    pub flaky: bool,
    /// Share of the failures in the health window judged flaky, in percent, once measured.
    pub flaky_rate_percent: Option<i32>,
    /// How the last run ended, and its page.
    pub last_run: Option<(String, Option<String>)>,
    /// Open code-scanning alerts by severity.
    #[serde(serialize_with = "every_severity")]
    pub code_scanning: AlertCounts,
    /// Open Dependabot alerts by severity.
    #[serde(serialize_with = "every_severity")]
    pub dependabot: AlertCounts,
    /// Open secret-scanning alerts.
    pub secret_scanning: i32,
    /// Security features reported off.
    pub disabled_features: Vec<String>,
    /// Security features whose state is not known (on without open alerts, or off).
    pub unknown_features: Vec<String>,
    /// The health measured, for the HTML page's trend chart.
    #[serde(skip)]
    pub health: Option<HealthStatus>,
}

/// Alert counts with every severity, 0 included: the report's readers sum and compare them (the Repository's
/// status leaves zeros out).
fn every_severity<S: serde::Serializer>(counts: &AlertCounts, serializer: S) -> Result<S::Ok, S::Error> {
    let AlertCounts { critical, high, medium, low } = *counts;
    let all = serde_json::json!({ "critical": critical, "high": high, "medium": medium, "low": low });
    all.serialize(serializer)
}

/// How much attention a repository needs: the health it lacks (100 − score; 0 when unmeasured) plus weighted open
/// alerts — 40 per secret-scanning alert, 25 per critical, 10 per high, 3 per medium and 1 per low alert of code
/// scanning and Dependabot together — plus 5 per security feature that is off (one whose state is unknown counts
/// nothing).
pub fn risk(row: &Row) -> i32 {
    let missing_health = row.health_score.map_or(0, |score| 100 - score.clamp(0, 100));
    let alerts = |counts: &AlertCounts| 25 * counts.critical + 10 * counts.high + 3 * counts.medium + counts.low;
    let features_off = i32::try_from(row.disabled_features.len()).unwrap_or(i32::MAX);
    missing_health
        .saturating_add(40 * row.secret_scanning)
        .saturating_add(alerts(&row.code_scanning))
        .saturating_add(alerts(&row.dependabot))
        .saturating_add(5 * features_off)
}

/// The report over the Repository objects of the Organization object named `organization`, made at `now`.
pub fn build(organization: &str, repositories: &[Repository], now: Timestamp) -> Report {
    let mut rows: Vec<Row> =
        repositories.iter().filter(|repo| repo.spec.organization_ref.name == organization).map(row).collect();
    rows.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.name.cmp(&b.name)));
    let sum = |count: &dyn Fn(&Row) -> i32| rows.iter().map(count).sum::<i32>();
    let total = |counts: &AlertCounts| counts.critical + counts.high + counts.medium + counts.low;
    let totals = Totals {
        repositories: rows.len(),
        unhealthy: rows.iter().filter(|r| r.healthy == "False").count(),
        unmeasured: rows.iter().filter(|r| r.health_score.is_none()).count(),
        flaky: rows.iter().filter(|r| r.flaky_rate_percent.is_some_and(|rate| rate > 0)).count(),
        code_scanning_alerts: sum(&|r| total(&r.code_scanning)),
        dependabot_alerts: sum(&|r| total(&r.dependabot)),
        secret_scanning_alerts: sum(&|r| r.secret_scanning),
    };
    let mut flakiest_workflows: Vec<FlakyWorkflowLine> = rows
        .iter()
        .flat_map(|row| {
            let workflows = row.health.as_ref().map(|h| h.flakiest_workflows.clone()).unwrap_or_default();
            workflows.into_iter().map(|workflow| FlakyWorkflowLine { repository: row.name.clone(), workflow })
        })
        .collect();
    flakiest_workflows.sort_by(|a, b| {
        (b.workflow.flaky_failures, b.workflow.flaky_rate_percent)
            .cmp(&(a.workflow.flaky_failures, a.workflow.flaky_rate_percent))
            .then_with(|| (&a.repository, &a.workflow.name).cmp(&(&b.repository, &b.workflow.name)))
    });
    flakiest_workflows.truncate(FLAKIEST_LISTED);
    // Whole seconds: the report is read by people.
    Report {
        organization: organization.to_owned(),
        generated_at: format!("{now:.0}"),
        totals,
        repositories: rows,
        flakiest_workflows,
        graph_svg: graph::Graph::of(organization, repositories).svg(),
        timeline_svg: None,
    }
}

fn row(repo: &Repository) -> Row {
    let status = repo.status.clone().unwrap_or_default();
    let healthy = find_condition(repo.conditions(), "Healthy");
    let health = status.health.clone();
    let security = status.security.clone().unwrap_or_default();
    let mut row = Row {
        name: repo.spec.name.0.clone(),
        language: status.language.clone(),
        risk: 0,
        health_score: health.as_ref().map(|h| h.score),
        healthy: healthy.map_or_else(|| "Unknown".to_owned(), |c| format!("{:?}", c.status)),
        healthy_reason: healthy.map(|c| c.reason.clone()),
        success_rate_percent: health.as_ref().map(|h| h.success_rate_percent),
        consecutive_failures: health.as_ref().map(|h| h.consecutive_failures),
        flaky: health.as_ref().is_some_and(|h| h.flaky),
        flaky_rate_percent: health.as_ref().map(|h| h.flaky_rate_percent),
        last_run: health
            .and_then(|h| h.last_run)
            .map(|run| (run.conclusion.unwrap_or_else(|| "in progress".to_owned()), run.url)),
        code_scanning: security.code_scanning,
        dependabot: security.dependabot,
        secret_scanning: security.secret_scanning,
        disabled_features: security.disabled_features,
        unknown_features: security.unknown_features,
        health: status.health.clone(),
    };
    row.risk = risk(&row);
    row
}

impl Report {
    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Md => markdown::render(self),
            // Serializing strings, numbers and vectors cannot fail.
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Html => html::render(self),
        }
    }
}

/// One cell of the report's table, before a renderer escapes it for its format.
enum Cell {
    /// Plain text.
    Text(String),
    /// A link to a page on GitHub.
    Link { text: String, url: String },
}

/// The table's column headers.
const HEADERS: [&str; 13] = [
    "Repository",
    "Risk",
    "Health",
    "Healthy",
    "Success rate",
    "Failures in a row",
    "Flaky failures",
    "Last run",
    "Code scanning",
    "Dependabot",
    "Secret scanning",
    "Features off",
    "Features unknown",
];

/// A row's cells, in the order of [`HEADERS`].
fn cells(row: &Row) -> [Cell; 13] {
    let dash_or = |value: Option<String>| Cell::Text(value.unwrap_or_else(|| "-".to_owned()));
    let last_run = match &row.last_run {
        Some((conclusion, Some(url))) => Cell::Link { text: conclusion.clone(), url: url.clone() },
        Some((conclusion, None)) => Cell::Text(conclusion.clone()),
        None => Cell::Text("-".to_owned()),
    };
    let healthy = match &row.healthy_reason {
        Some(reason) => format!("{} ({reason})", row.healthy),
        None => row.healthy.clone(),
    };
    let listed = |features: &[String]| (!features.is_empty()).then(|| features.join(", "));
    [
        Cell::Text(row.name.clone()),
        Cell::Text(row.risk.to_string()),
        dash_or(row.health_score.map(|s| s.to_string())),
        Cell::Text(healthy),
        dash_or(row.success_rate_percent.map(|s| format!("{s}%"))),
        dash_or(row.consecutive_failures.map(|n| n.to_string())),
        dash_or(row.flaky_rate_percent.map(|rate| format!("{rate}%"))),
        last_run,
        Cell::Text(severity_counts(&row.code_scanning)),
        Cell::Text(severity_counts(&row.dependabot)),
        Cell::Text(row.secret_scanning.to_string()),
        dash_or(listed(&row.disabled_features)),
        dash_or(listed(&row.unknown_features)),
    ]
}

/// The "Flakiest workflows" section's column headers.
const FLAKY_HEADERS: [&str; 5] = ["Repository", "Workflow", "File", "Flaky failures", "Flaky share"];

/// A line of the "Flakiest workflows" section, in the order of [`FLAKY_HEADERS`].
fn flaky_cells(line: &FlakyWorkflowLine) -> [String; 5] {
    let workflow = &line.workflow;
    [
        line.repository.clone(),
        workflow.name.clone(),
        workflow.path.clone().unwrap_or_else(|| "-".to_owned()),
        format!("{} of {}", workflow.flaky_failures, workflow.failures),
        format!("{}%", workflow.flaky_rate_percent),
    ]
}

/// What the section says when no workflow had a flaky failure.
const NO_FLAKY_WORKFLOWS: &str = "No flaky failure in the repositories' health windows.";

/// What the section says above its table.
const FLAKY_INTRO: &str = "A failure is flaky when its commit both passed and failed the same workflow, or when \
                           the workflow's outcome flips between pass and fail; healing re-runs flaky failures and \
                           does not escalate them.";

/// `critical/high/medium/low`, or `-` when all are zero.
fn severity_counts(counts: &AlertCounts) -> String {
    if counts.critical + counts.high + counts.medium + counts.low == 0 {
        "-".to_owned()
    } else {
        format!("{}/{}/{}/{}", counts.critical, counts.high, counts.medium, counts.low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn repo(name: &str, status: serde_json::Value) -> Repository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "Repository",
            "metadata": { "name": name, "namespace": "ns" },
            "spec": { "organizationRef": { "name": "acme" }, "name": name },
            "status": status,
        }))
        .unwrap()
    }

    pub(super) fn sample() -> Report {
        let healthy = serde_json::json!({
            "health": { "score": 100, "windowRuns": 20, "successRatePercent": 100, "consecutiveFailures": 0 },
            "conditions": [{ "type": "Healthy", "status": "True", "reason": "Passing", "message": "",
                             "lastTransitionTime": "2026-11-25T00:00:00Z" }],
        });
        let failing = serde_json::json!({
            "language": "go",
            "health": { "score": 20, "windowRuns": 10, "successRatePercent": 40, "consecutiveFailures": 4,
                        "flakyRatePercent": 33, "flakiestWorkflows": [
                            { "name": "e2e|<tests>", "path": ".github/workflows/e2e.yml", "flakyFailures": 1,
                              "failures": 1, "flakyRatePercent": 100 },
                            { "name": "CI", "flakyFailures": 1, "failures": 2, "flakyRatePercent": 50 }],
                        "lastRun": { "id": 7, "conclusion": "failure", "url": "https://github.com/acme/api/actions/runs/7" } },
            "conditions": [{ "type": "Healthy", "status": "False", "reason": "ConsecutiveFailures", "message": "",
                             "lastTransitionTime": "2026-11-25T00:00:00Z" }],
        });
        let leaky = serde_json::json!({
            "health": { "score": 95, "windowRuns": 20, "successRatePercent": 95, "consecutiveFailures": 0 },
            "security": { "secretScanning": 2, "dependabot": { "critical": 1, "high": 0, "medium": 0, "low": 0 },
                          "codeScanning": { "critical": 0, "high": 0, "medium": 0, "low": 0 },
                          "unknownFeatures": ["codeScanning"] },
        });
        let repos = [
            repo("healthy", healthy),
            repo("api", failing),
            repo("leaky<script>", leaky),
            repo("new", serde_json::json!({})),
        ];
        build("acme", &repos, Timestamp::from_second(1_795_000_000).unwrap())
    }

    #[test]
    fn worst_first_by_the_documented_risk() {
        let report = sample();
        let order: Vec<(&str, i32)> = report.repositories.iter().map(|r| (r.name.as_str(), r.risk)).collect();
        // leaky: 5 + 2×40 + 25 = 110; api: 80; healthy and new: 0 (ties by name).
        assert_eq!(order, [("leaky<script>", 110), ("api", 80), ("healthy", 0), ("new", 0)]);
        assert_eq!(
            report.totals,
            Totals {
                repositories: 4,
                unhealthy: 1,
                unmeasured: 1,
                flaky: 1,
                code_scanning_alerts: 0,
                dependabot_alerts: 1,
                secret_scanning_alerts: 2
            }
        );
    }

    #[test]
    fn flakiest_workflows_are_ordered_across_repositories_and_bounded() {
        let status = |flaky: &[(&str, i32, i32)]| {
            let workflows: Vec<serde_json::Value> = flaky
                .iter()
                .map(|(name, flaky, failures)| {
                    serde_json::json!({ "name": name, "flakyFailures": flaky,
                    "failures": failures, "flakyRatePercent": flaky * 100 / failures })
                })
                .collect();
            serde_json::json!({ "health": { "score": 50, "windowRuns": 20, "successRatePercent": 50,
                "consecutiveFailures": 0, "flakyRatePercent": 10, "flakiestWorkflows": workflows } })
        };
        let repos: Vec<Repository> =
            (0..4).map(|i| repo(&format!("r{i}"), status(&[("a", i + 1, 4), ("b", 1, 4), ("c", 1, 2)]))).collect();
        let report = build("acme", &repos, Timestamp::from_second(1_795_000_000).unwrap());
        let listed: Vec<(&str, &str)> =
            report.flakiest_workflows.iter().map(|l| (l.repository.as_str(), l.workflow.name.as_str())).collect();
        assert_eq!(listed.len(), FLAKIEST_LISTED);
        assert_eq!(listed[..4], [("r3", "a"), ("r2", "a"), ("r1", "a"), ("r0", "c")], "most flaky failures first");
        assert_eq!(listed[4], ("r1", "c"), "then the higher share, then by repository");
        assert_eq!(report.totals.flaky, 4);
    }

    #[test]
    fn json_lists_every_repository_with_health_and_alerts() {
        let json: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(json["organization"], "acme");
        assert_eq!(json["repositories"].as_array().unwrap().len(), 4);
        assert_eq!(json["repositories"][1]["consecutive_failures"], 4);
        assert_eq!(json["repositories"][1]["flaky_rate_percent"], 33);
        assert_eq!(json["repositories"][2]["flaky_rate_percent"], 0, "measured, no flaky failure");
        assert_eq!(json["repositories"][3]["flaky_rate_percent"], serde_json::Value::Null, "not measured");
        assert_eq!(json["flakiest_workflows"][0]["repository"], "api");
        assert_eq!(json["flakiest_workflows"][0]["workflow"]["name"], "e2e|<tests>", "100 % before 50 %");
        assert_eq!(json["flakiest_workflows"][1]["workflow"]["flakyRatePercent"], 50);
        assert_eq!(json["repositories"][0]["secret_scanning"], 2);
        assert_eq!(json["repositories"][0]["dependabot"]["critical"], 1);
        assert_eq!(json["repositories"][0]["unknown_features"], serde_json::json!(["codeScanning"]));
        assert_eq!(json["repositories"][0]["disabled_features"], serde_json::json!([]), "unknown is not off");
    }
}
