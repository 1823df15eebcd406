//! A BuildPlan's current run as an SVG timeline: one bar per repository from its dispatch to its conclusion, coloured
//! by outcome, with the critical path (the longest chain through the dependency order, by duration) marked. Pure:
//! the caller reads the BuildPlan and the Repository objects.
//!
//! The status records each repository's latest dispatch (`startTime`) and its terminal time (`completionTime`), not
//! the dispatch of earlier attempts: a retried repository's bar starts at its last attempt.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;

use crate::crd::build_plan::{RepositoryBuild, RepositoryBuildState as S};
use crate::crd::{BuildPlan, Repository};
use crate::manifest;
use crate::plan::depgraph::DependencyGraph;

use super::html::escape;

/// Width of the time axis.
const CHART_WIDTH: f64 = 640.0;
/// Height of a repository's row, and of its bar.
const ROW: f64 = 24.0;
const BAR: f64 = 14.0;
/// Space around the picture, and above the rows for the axis labels.
const MARGIN: f64 = 16.0;
const AXIS: f64 = 22.0;
/// Colour of the critical path's outline.
const CRITICAL: &str = "#1b1f24";

/// Fill colour of a state.
fn colour(state: S) -> &'static str {
    match state {
        S::Succeeded => "#2da44e",
        S::Cached => "#54aeff",
        S::Failed => "#cf222e",
        S::Skipped => "#8c959f",
        S::Cancelled => "#6e7781",
        S::Pending => "#d0d7de",
        S::Dispatching | S::Queued | S::Running => "#0969da",
    }
}

/// The names along the critical path of the run, first dispatched first: the chain through the dependency order
/// whose durations (latest dispatch to conclusion; 0 for a repository not dispatched) add up to the most. Ties go
/// to the smaller name. Empty when nothing took time or the repositories form a cycle.
pub fn critical_path(entries: &[RepositoryBuild], graph: &DependencyGraph) -> Vec<String> {
    let names: BTreeSet<String> = entries.iter().map(|e| e.name.clone()).collect();
    let graph = graph.restricted_to(&names);
    let seconds: BTreeMap<&str, u64> = entries
        .iter()
        .map(|e| (e.name.as_str(), span(e).map_or(0, |(start, end)| end.duration_since(start).as_secs().max(0) as u64)))
        .collect();
    let weight = |name: &str| seconds.get(name).copied().unwrap_or(0);
    let Ok(remaining) = graph.longest_remaining_path(weight) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    let mut next = first_longest(remaining.keys().copied(), &remaining).filter(|&(_, total)| total > 0);
    while let Some((name, _)) = next {
        path.push(name.to_owned());
        next = first_longest(graph.dependents_of(name), &remaining);
    }
    path
}

/// Of `names` (sorted), the first with the longest remaining path, so that ties go to the smaller name.
fn first_longest<'a>(
    names: impl IntoIterator<Item = &'a str>,
    remaining: &BTreeMap<&str, u64>,
) -> Option<(&'a str, u64)> {
    let mut best: Option<(&'a str, u64)> = None;
    for name in names {
        let length = remaining.get(name).copied().unwrap_or(0);
        if best.is_none_or(|(_, longest)| length > longest) {
            best = Some((name, length));
        }
    }
    best
}

/// When the entry's latest attempt was dispatched and when it reached its terminal state, if both are recorded.
fn span(entry: &RepositoryBuild) -> Option<(Timestamp, Timestamp)> {
    Some((entry.start_time.as_ref()?.0, entry.completion_time.as_ref()?.0))
}

/// `45s`, `2m 5s`, `1h 3m`.
pub(super) fn human_duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 && s % 60 == 0 => format!("{}m", s / 60),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// A tick spacing that puts at most 8 ticks on `span` seconds.
fn tick_step(span: f64) -> i64 {
    const STEPS: [i64; 19] =
        [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800];
    STEPS.into_iter().find(|&step| span / step as f64 <= 8.0).unwrap_or(604800)
}

/// The timeline of `plan`'s current run; `repositories` give the dependency edges (those of the plan's
/// Organization are used).
pub fn svg(plan: &BuildPlan, repositories: &[Repository]) -> String {
    let name = plan.metadata.name.clone().unwrap_or_default();
    let status = plan.status.clone().unwrap_or_default();
    let entries = &status.repositories;
    let organization = &plan.spec.organization_ref.name;
    let dependencies = manifest::build(organization, repositories).repositories;
    let graph = DependencyGraph::new(dependencies.into_iter().map(|e| (e.name, e.dependencies)));
    let critical: Vec<String> = critical_path(entries, &graph);
    let on_path: BTreeSet<&str> = critical.iter().map(String::as_str).collect();

    let times = entries.iter().flat_map(|e| [e.start_time.as_ref(), e.completion_time.as_ref()]).flatten();
    let origin = status.start_time.as_ref().map(|t| t.0).into_iter().chain(times.clone().map(|t| t.0)).min();
    let end = status.completion_time.as_ref().map(|t| t.0).into_iter().chain(times.map(|t| t.0)).max();
    let seconds_from_origin = |t: Timestamp| origin.map_or(0.0, |o| t.duration_since(o).as_secs_f64().max(0.0));
    let run_seconds = end.map_or(1.0, seconds_from_origin).max(1.0);
    let label_width = entries.iter().map(|e| e.name.chars().count() as f64 * 7.0 + 16.0).fold(120.0, f64::max);
    let x = |t: Timestamp| MARGIN + label_width + seconds_from_origin(t) / run_seconds * CHART_WIDTH;
    let rows = entries.len().max(1) as f64 * ROW;
    let width = MARGIN * 2.0 + label_width + CHART_WIDTH + 24.0;
    let height = MARGIN + AXIS + rows + 12.0 + 28.0 + 22.0 + MARGIN;
    let run = status.run_id.clone().unwrap_or_default();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plan-timeline\" viewBox=\"0 0 {width:.0} {height:.0}\" \
         width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" font-family=\"monospace\" font-size=\"12\">\n\
         <title>Run {} of BuildPlan {}</title>\n",
        escape(&run),
        escape(&name)
    );
    out.push_str(&axis(MARGIN + label_width, MARGIN, run_seconds, AXIS + rows));
    out.push_str("<g class=\"bars\">\n");
    for (row, entry) in entries.iter().enumerate() {
        let top = MARGIN + AXIS + row as f64 * ROW;
        let critical = on_path.contains(entry.name.as_str());
        out.push_str(&bar(entry, top, critical, &x, end));
    }
    if entries.is_empty() {
        out.push_str(&format!(
            "<text x=\"{MARGIN}\" y=\"{:.1}\" fill=\"#57606a\">No run recorded.</text>\n",
            MARGIN + AXIS + ROW / 2.0 + 4.0
        ));
    }
    out.push_str("</g>\n");
    let below = MARGIN + AXIS + rows + 12.0;
    out.push_str(&legend(MARGIN, below));
    let note = if critical.is_empty() {
        "No critical path: nothing ran.".to_owned()
    } else {
        let total: i64 = entries
            .iter()
            .filter(|e| on_path.contains(e.name.as_str()))
            .filter_map(span)
            .map(|(start, end)| end.duration_since(start).as_secs().max(0))
            .sum();
        format!("Critical path: {} ({}).", critical.join(" → "), human_duration(total))
    };
    out.push_str(&format!(
        "<text class=\"note\" x=\"{MARGIN}\" y=\"{:.1}\" fill=\"#1b1f24\">{} Bars run from the latest attempt's \
         dispatch to its conclusion.</text>\n</svg>\n",
        below + 28.0 + 16.0,
        escape(&note)
    ));
    out
}

/// The time axis: a tick and a label every step, and a line down through the rows.
fn axis(left: f64, top: f64, span: f64, depth: f64) -> String {
    let step = tick_step(span);
    let mut out = String::from("<g class=\"axis\" fill=\"#57606a\" stroke=\"#d0d7de\">");
    let mut tick = 0;
    while tick as f64 <= span {
        let at = left + tick as f64 / span * CHART_WIDTH;
        out.push_str(&format!(
            "<line x1=\"{at:.1}\" y1=\"{:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\"/><text x=\"{at:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\" stroke=\"none\">{}</text>",
            top + 14.0,
            top + depth,
            top + 10.0,
            human_duration(tick)
        ));
        tick += step;
    }
    out.push_str("</g>\n");
    out
}

/// One repository's row: its name, and a bar from dispatch to conclusion, or (not dispatched: cached, skipped,
/// cancelled before its turn) a diamond at the time it was settled.
fn bar(
    entry: &RepositoryBuild,
    top: f64,
    critical: bool,
    x: &dyn Fn(Timestamp) -> f64,
    end: Option<Timestamp>,
) -> String {
    let state = entry.state.as_str();
    let class = format!("bar {}{}", state.to_lowercase(), if critical { " critical" } else { "" });
    let fill = colour(entry.state);
    let outline = if critical { format!(" stroke=\"{CRITICAL}\" stroke-width=\"2.5\"") } else { String::new() };
    let weight = if critical { " font-weight=\"bold\"" } else { "" };
    let middle = top + ROW / 2.0;
    let started = entry.start_time.as_ref().map(|t| t.0);
    // A run in flight ends, for now, where the recorded times end.
    let finished = entry.completion_time.as_ref().map(|t| t.0).or(end);
    let (mark, took) = match (started, finished) {
        (Some(start), Some(finish)) => {
            let (left, right) = (x(start), x(finish));
            let shape = format!(
                "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BAR}\" rx=\"2\" fill=\"{fill}\"{outline}/>",
                middle - BAR / 2.0,
                (right - left).max(3.0)
            );
            (shape, format!(" after {}", human_duration(finish.duration_since(start).as_secs().max(0))))
        }
        (None, Some(settled)) => {
            let at = x(settled);
            let shape = format!(
                "<path d=\"M{at:.1},{:.1} l6,7 l-6,7 l-6,-7 z\" fill=\"{fill}\"{outline}/>",
                middle - BAR / 2.0
            );
            (shape, String::new())
        }
        _ => (String::new(), String::new()),
    };
    let detail = match (&entry.reason, entry.attempts) {
        (Some(reason), _) => format!(": {reason}"),
        (None, 0) => String::new(),
        (None, attempts) => format!(" (attempt {attempts})"),
    };
    format!(
        "<g class=\"{class}\" data-repository=\"{}\"><title>{}: {state}{took}{}</title><text x=\"{MARGIN}\" \
         y=\"{:.1}\" fill=\"#1b1f24\"{weight}>{}</text>{mark}</g>\n",
        escape(&entry.name),
        escape(&entry.name),
        escape(&detail),
        middle + 4.0,
        escape(&entry.name),
    )
}

/// The legend, its top-left corner at `(x, y)`.
fn legend(x: f64, y: f64) -> String {
    let items: [(&str, String); 6] = [
        ("succeeded", format!("fill=\"{}\"", colour(S::Succeeded))),
        ("cached", format!("fill=\"{}\"", colour(S::Cached))),
        ("failed", format!("fill=\"{}\"", colour(S::Failed))),
        ("skipped or cancelled", format!("fill=\"{}\"", colour(S::Skipped))),
        ("in flight", format!("fill=\"{}\"", colour(S::Running))),
        ("critical path", format!("fill=\"#ffffff\" stroke=\"{CRITICAL}\" stroke-width=\"2.5\"")),
    ];
    let mut out = String::from("<g class=\"legend\">");
    let mut left = x;
    for (text, paint) in items {
        out.push_str(&format!(
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"22\" height=\"{BAR}\" rx=\"2\" {paint}/><text x=\"{:.1}\" \
             y=\"{:.1}\" fill=\"#1b1f24\">{text}</text>",
            y + 4.0,
            left + 28.0,
            y + 15.0
        ));
        left += 40.0 + text.len() as f64 * 7.5;
    }
    out.push_str("</g>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::repo;
    use super::*;

    fn entry(name: &str, state: S, start: Option<i64>, end: Option<i64>) -> serde_json::Value {
        let at = |s: i64| Timestamp::from_second(1_795_000_000 + s).unwrap().to_string();
        let mut value = serde_json::json!({ "name": name, "state": state.as_str(), "attempts": 1 });
        if let Some(s) = start {
            value["startTime"] = at(s).into();
        }
        if let Some(e) = end {
            value["completionTime"] = at(e).into();
        }
        value
    }

    fn plan(entries: Vec<serde_json::Value>) -> BuildPlan {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": "BuildPlan",
            "metadata": { "name": "nightly", "namespace": "ns" },
            "spec": { "organizationRef": { "name": "acme" } },
            "status": { "phase": "Failed", "runId": "r1", "startTime": "2026-11-18T11:06:40Z",
                        "repositories": entries },
        }))
        .unwrap()
    }

    fn depends(name: &str, on: &[&str]) -> Repository {
        let dependencies: Vec<serde_json::Value> = on.iter().map(|d| serde_json::json!({ "repository": d })).collect();
        repo(name, serde_json::json!({ "dependencies": dependencies }))
    }

    /// core (0–60s) ← lib (60–200s) ← web (200–230s); core ← tool (60–300s), and docs (no dependency, 0–100s);
    /// cli is skipped after lib's failure (a diamond), and gone ← core is not in the plan.
    fn sample() -> (BuildPlan, Vec<Repository>) {
        let plan = plan(vec![
            entry("core", S::Succeeded, Some(0), Some(60)),
            entry("docs", S::Succeeded, Some(0), Some(100)),
            entry("lib", S::Failed, Some(60), Some(200)),
            entry("tool", S::Succeeded, Some(60), Some(300)),
            entry("web", S::Succeeded, Some(200), Some(230)),
            entry("cli", S::Skipped, None, Some(200)),
        ]);
        let repositories = vec![
            depends("core", &[]),
            depends("docs", &[]),
            depends("lib", &["core"]),
            depends("tool", &["core"]),
            depends("web", &["lib"]),
            depends("cli", &["lib"]),
            depends("gone", &["core"]),
        ];
        (plan, repositories)
    }

    fn graph(repositories: &[Repository]) -> DependencyGraph {
        let entries = manifest::build("acme", repositories).repositories;
        DependencyGraph::new(entries.into_iter().map(|e| (e.name, e.dependencies)))
    }

    #[test]
    fn critical_path_is_the_longest_chain_by_duration() {
        let (plan, repositories) = sample();
        let entries = plan.status.unwrap().repositories;
        // core→tool: 60 + 240 = 300 s; core→lib→web: 60 + 140 + 30 = 230 s; docs: 100 s.
        assert_eq!(critical_path(&entries, &graph(&repositories)), ["core", "tool"]);
    }

    #[test]
    fn critical_path_ties_go_to_the_smaller_name_and_cycles_have_none() {
        let entries: Vec<RepositoryBuild> =
            [entry("b", S::Succeeded, Some(0), Some(10)), entry("a", S::Succeeded, Some(0), Some(10))]
                .into_iter()
                .map(|v| serde_json::from_value(v).unwrap())
                .collect();
        assert_eq!(critical_path(&entries, &graph(&[depends("a", &[]), depends("b", &[])])), ["a"]);
        assert!(critical_path(&entries, &graph(&[depends("a", &["b"]), depends("b", &["a"])])).is_empty());
        let pending: Vec<RepositoryBuild> = vec![serde_json::from_value(entry("a", S::Pending, None, None)).unwrap()];
        assert!(critical_path(&pending, &graph(&[depends("a", &[])])).is_empty(), "nothing took time");
    }

    #[test]
    fn one_bar_per_repository_coloured_by_outcome_with_the_critical_path_marked() {
        let (plan, repositories) = sample();
        let svg = svg(&plan, &repositories);
        roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert_eq!(svg.matches("<g class=\"bar ").count(), 6, "{svg}");
        assert!(svg.contains("<g class=\"bar succeeded critical\" data-repository=\"core\">"), "{svg}");
        assert!(svg.contains("<g class=\"bar succeeded critical\" data-repository=\"tool\">"), "{svg}");
        assert!(
            svg.contains("<g class=\"bar failed\" data-repository=\"lib\"><title>lib: Failed after 2m 20s"),
            "{svg}"
        );
        assert!(svg.contains("<g class=\"bar skipped\" data-repository=\"cli\">"), "{svg}");
        assert!(svg.contains("Critical path: core → tool (5m)."), "{svg}");
        assert!(svg.contains("fill=\"#cf222e\"") && svg.contains("fill=\"#2da44e\""));
    }

    #[test]
    fn bars_are_placed_on_the_time_axis() {
        let (plan, repositories) = sample();
        let svg = svg(&plan, &repositories);
        let rect = |name: &str| -> (f64, f64) {
            let group = svg.split(&format!("data-repository=\"{name}\">")).nth(1).unwrap();
            let rect = format!(" {}", group.split("<rect ").nth(1).unwrap());
            let number = |attribute: &str| -> f64 {
                rect.split(&format!(" {attribute}=\"")).nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
            };
            (number("x"), number("width"))
        };
        let (core_x, core_w) = rect("core");
        let (tool_x, tool_w) = rect("tool");
        assert!((core_w * 4.0 - tool_w).abs() < 0.5, "60 s against 240 s: {core_w} {tool_w}");
        assert!((core_x + core_w - tool_x).abs() < 0.5, "tool starts when core ends");
        assert!((tool_x + tool_w - core_x - CHART_WIDTH).abs() < 0.5, "the run spans the axis");
        assert!(svg.contains(">0s</text>") && svg.contains(">5m</text>"), "{svg}");
    }

    #[test]
    fn a_plan_that_never_ran_still_draws() {
        let svg = svg(&plan(Vec::new()), &[]);
        assert!(svg.contains("No run recorded.") && svg.contains("No critical path"), "{svg}");
        roxmltree::Document::parse(&svg).expect("well-formed XML");
    }

    #[test]
    fn durations_and_ticks_read_well() {
        assert_eq!(
            [0, 45, 60, 125, 3600, 3780].map(human_duration),
            ["0s", "45s", "1m", "2m 5s", "1h", "1h 3m"].map(String::from)
        );
        assert_eq!((tick_step(8.0), tick_step(300.0), tick_step(7200.0)), (1, 60, 900));
    }
}
