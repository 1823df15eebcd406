//! The report as Markdown.

use super::{cells, Cell, Report, HEADERS};

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
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    // Numbers align right.
    out.push_str("|---|---:|---:|---|---:|---:|---|---|---|---:|---|---|\n");
    for row in &report.repositories {
        let rendered: Vec<String> = cells(row)
            .into_iter()
            .map(|c| match c {
                Cell::Text(text) => cell(&text),
                Cell::Link { text, url } => {
                    format!("[{}]({})", cell(&text), url.replace(')', "%29").replace(' ', "%20"))
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rendered.join(" | ")));
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
        assert!(rows[0].ends_with(" | - | codeScanning |"), "off and unknown in their own columns: {}", rows[0]);
        assert!(rows[1].contains("[failure](https://github.com/acme/api/actions/runs/7)"), "{}", rows[1]);
        assert!(rows[1].contains("False (ConsecutiveFailures)"), "{}", rows[1]);
        assert!(md.contains("4 repositories: 1 unhealthy, 1 not measured yet"), "{md}");
    }
}
