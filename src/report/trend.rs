//! A repository's health over its recorded window as a small inline SVG: the share of successful runs, and the
//! median and 90th-percentile run durations with the way they move (newer half of the window against the older).
//! `status.health` records these summaries of the window, not each run, so the chart draws the summary and its
//! direction rather than a series. Pure.

use crate::crd::repository::HealthStatus;

use super::timeline::human_duration;

/// Width of each of the two gauges.
const GAUGE: f64 = 96.0;
const SUCCESS: &str = "#2da44e";
const FAILURE: &str = "#ff818266";
const DURATION: &str = "#8c959f";

/// The chart of `health`.
pub fn svg(health: &HealthStatus) -> String {
    let rate = f64::from(health.success_rate_percent.clamp(0, 100));
    let trend = health.duration_trend.as_deref();
    let (arrow, arrow_colour) = match trend {
        Some("Slower") => ("▲", "#cf222e"),
        Some("Faster") => ("▼", "#1a7f37"),
        Some(_) => ("=", "#57606a"),
        None => ("", "#57606a"),
    };
    let durations = match (health.median_duration_seconds, health.p90_duration_seconds) {
        (Some(median), Some(p90)) => {
            let scale = if p90 > 0 { GAUGE / p90 as f64 } else { 0.0 };
            format!(
                "<rect x=\"112\" y=\"4\" width=\"{GAUGE}\" height=\"10\" rx=\"2\" fill=\"{DURATION}\" opacity=\"0.35\"/>\
                 <rect x=\"112\" y=\"4\" width=\"{:.1}\" height=\"10\" rx=\"2\" fill=\"{DURATION}\"/>\
                 <text x=\"112\" y=\"28\">p50 {} · p90 {} <tspan fill=\"{arrow_colour}\">{arrow}</tspan></text>",
                (median as f64 * scale).clamp(1.0, GAUGE),
                human_duration(median),
                human_duration(p90)
            )
        }
        _ => "<text x=\"112\" y=\"28\">no durations</text>".to_owned(),
    };
    let title = format!(
        "{}% of {} runs succeeded; median {}, p90 {}{}",
        health.success_rate_percent,
        health.window_runs,
        health.median_duration_seconds.map_or_else(|| "-".to_owned(), human_duration),
        health.p90_duration_seconds.map_or_else(|| "-".to_owned(), human_duration),
        trend.map_or_else(String::new, |t| format!(", {}", t.to_lowercase()))
    );
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"health-trend\" viewBox=\"0 0 250 34\" width=\"250\" \
         height=\"34\" role=\"img\" font-family=\"monospace\" font-size=\"10\" fill=\"#1b1f24\"><title>{title}</title>\
         <rect x=\"2\" y=\"4\" width=\"{GAUGE}\" height=\"10\" rx=\"2\" fill=\"{FAILURE}\"/>\
         <rect x=\"2\" y=\"4\" width=\"{:.1}\" height=\"10\" rx=\"2\" fill=\"{SUCCESS}\"/>\
         <text x=\"2\" y=\"28\">{}% of {}</text>{durations}</svg>",
        rate / 100.0 * GAUGE,
        health.success_rate_percent,
        health.window_runs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(rate: i32, median: Option<i64>, p90: Option<i64>, trend: Option<&str>) -> HealthStatus {
        HealthStatus {
            score: 50,
            window_runs: 20,
            success_rate_percent: rate,
            median_duration_seconds: median,
            p90_duration_seconds: p90,
            duration_trend: trend.map(str::to_owned),
            ..HealthStatus::default()
        }
    }

    fn width_of(svg: &str, nth: usize) -> f64 {
        let rect = svg.split("<rect ").nth(nth).unwrap();
        rect.split(" width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
    }

    #[test]
    fn gauges_are_proportional_to_the_window() {
        let svg = svg(&health(75, Some(60), Some(240), Some("Slower")));
        roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert_eq!(width_of(&svg, 2), 72.0, "75% of the 96px gauge: {svg}");
        assert_eq!(width_of(&svg, 4), 24.0, "the median is a quarter of p90: {svg}");
        assert!(svg.contains(">75% of 20</text>") && svg.contains("p50 1m · p90 4m"), "{svg}");
        assert!(svg.contains("<tspan fill=\"#cf222e\">▲</tspan>"), "slower is red: {svg}");
        assert!(svg.contains("<title>75% of 20 runs succeeded; median 1m, p90 4m, slower</title>"), "{svg}");
    }

    #[test]
    fn missing_durations_and_odd_values_still_draw() {
        let svg = svg(&health(100, None, None, None));
        assert!(svg.contains("no durations") && svg.contains("median -, p90 -</title>"), "{svg}");
        assert_eq!(width_of(&svg, 2), 96.0);
        let zero = super::svg(&health(140, Some(0), Some(0), Some("Faster")));
        assert_eq!(width_of(&zero, 2), 96.0, "clamped to 100%");
        assert!(zero.contains("▼"), "{zero}");
        roxmltree::Document::parse(&zero).expect("well-formed XML");
    }
}
