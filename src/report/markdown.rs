//! The report as Markdown.

use super::{cells, flaky_cells, Cell, Report, FLAKY_HEADERS, FLAKY_INTRO, HEADERS, NO_FLAKY_WORKFLOWS};

/// Escapes what would break a Markdown table cell or start markup.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;").replace('\n', " ")
}

pub(super) fn render(report: &Report) -> String {
    let t = &report.totals;
    let mut out = format!(
        "# Compliance report: {}\n\nGenerated {}. {} repositories: {} unhealthy, {} not measured yet, {} with flaky \
         failures; open alerts: {} code scanning, {} Dependabot, {} secret scanning.\n\n",
        cell(&report.organization),
        report.generated_at,
        t.repositories,
        t.unhealthy,
        t.unmeasured,
        t.flaky,
        t.code_scanning_alerts,
        t.dependabot_alerts,
        t.secret_scanning_alerts
    );
    out.push_str("Worst first. Alerts are critical/high/medium/low.\n\n");
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    // Numbers align right.
    out.push_str("|---|---:|---:|---|---:|---:|---:|---|---|---|---:|---|---|\n");
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
    out.push_str(&format!("\n## Flakiest workflows\n\n{FLAKY_INTRO}\n\n"));
    if report.flakiest_workflows.is_empty() {
        out.push_str(&format!("{NO_FLAKY_WORKFLOWS}\n"));
        return out;
    }
    out.push_str(&format!("| {} |\n|---|---|---|---:|---:|\n", FLAKY_HEADERS.join(" | ")));
    for line in &report.flakiest_workflows {
        let rendered: Vec<String> = flaky_cells(line).iter().map(|text| cell(text)).collect();
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
        let table = &md[..md.find("## Flakiest workflows").expect(&md)];
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Repository")).collect();
        assert_eq!(rows.len(), 4, "{md}");
        assert!(rows[0].starts_with("| leaky&lt;script&gt; | 110 |"), "{}", rows[0]);
        assert!(rows[0].ends_with(" | - | codeScanning |"), "off and unknown in their own columns: {}", rows[0]);
        assert!(rows[1].contains("[failure](https://github.com/acme/api/actions/runs/7)"), "{}", rows[1]);
        assert!(rows[1].contains("False (ConsecutiveFailures)"), "{}", rows[1]);
        assert!(md.contains("4 repositories: 1 unhealthy, 1 not measured yet, 1 with flaky failures"), "{md}");
        assert!(rows[1].contains("| 4 | 33% | [failure]"), "the flaky share after the streak: {}", rows[1]);
        assert!(rows[3].contains("| - | - | - |"), "not measured: {}", rows[3]);
    }

    #[test]
    fn lists_the_flakiest_workflows_escaped() {
        let md = sample().render(Format::Md);
        let section = &md[md.find("## Flakiest workflows").expect(&md)..];
        assert!(section.contains("| Repository | Workflow | File | Flaky failures | Flaky share |"), "{section}");
        assert!(
            section.contains("| api | e2e\\|&lt;tests&gt; | .github/workflows/e2e.yml | 1 of 1 | 100% |"),
            "{section}"
        );
        assert!(section.contains("| api | CI | - | 1 of 2 | 50% |"), "{section}");
        let mut calm = sample();
        calm.flakiest_workflows.clear();
        assert!(calm.render(Format::Md).contains("No flaky failure in the repositories' health windows."));
    }
}
