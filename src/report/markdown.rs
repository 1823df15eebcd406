//! The report as Markdown.

use super::{severity_counts, Report};

/// Escapes what would break a Markdown table cell or start markup.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;").replace('\n', " ")
}

pub(super) fn render(report: &Report) -> String {
    let t = &report.totals;
    let mut out = format!(
        "# Compliance report: {}\n\nGenerated {}. {} repositories: {} unhealthy, {} not measured yet; open alerts: \
         {} code scanning, {} Dependabot, {} secret scanning.\n\n",
        cell(&report.organization),
        report.generated_at,
        t.repositories,
        t.unhealthy,
        t.unmeasured,
        t.code_scanning_alerts,
        t.dependabot_alerts,
        t.secret_scanning_alerts
    );
    out.push_str("Worst first. Alerts are critical/high/medium/low.\n\n");
    out.push_str("| Repository | Risk | Health | Healthy | Success rate | Failures in a row | Last run | Code scanning | Dependabot | Secret scanning | Features off |\n");
    out.push_str("|---|---:|---:|---|---:|---:|---|---|---|---:|---|\n");
    for row in &report.repositories {
        let last_run = match &row.last_run {
            Some((conclusion, Some(url))) => format!("[{}]({})", cell(conclusion), url.replace(')', "%29")),
            Some((conclusion, None)) => cell(conclusion),
            None => "-".to_owned(),
        };
        let healthy = match &row.healthy_reason {
            Some(reason) => format!("{} ({})", row.healthy, cell(reason)),
            None => row.healthy.clone(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&row.name),
            row.risk,
            row.health_score.map_or_else(|| "-".to_owned(), |s| s.to_string()),
            healthy,
            row.success_rate_percent.map_or_else(|| "-".to_owned(), |s| format!("{s}%")),
            row.consecutive_failures.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            last_run,
            severity_counts(&row.code_scanning),
            severity_counts(&row.dependabot),
            row.secret_scanning,
            if row.disabled_features.is_empty() { "-".to_owned() } else { cell(&row.disabled_features.join(", ")) },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::Format;

    #[test]
    fn one_table_row_per_repository_with_escaping() {
        let md = sample().render(Format::Md);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Repository")).collect();
        assert_eq!(rows.len(), 4, "{md}");
        assert!(rows[0].starts_with("| leaky&lt;script&gt; | 110 |"), "{}", rows[0]);
        assert!(rows[1].contains("[failure](https://github.com/acme/api/actions/runs/7)"), "{}", rows[1]);
        assert!(rows[1].contains("False (ConsecutiveFailures)"), "{}", rows[1]);
        assert!(md.contains("4 repositories: 1 unhealthy, 1 not measured yet"), "{md}");
    }
}
