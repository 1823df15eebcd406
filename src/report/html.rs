//! The report as one self-contained HTML page (no scripts, no external resources), its pictures inline SVG.

use super::{cells, flaky_cells, trend, Cell, Report, FLAKY_HEADERS, FLAKY_INTRO, HEADERS, NO_FLAKY_WORKFLOWS};

/// Escapes text for HTML (and SVG) element content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Only http(s) links are rendered as links.
fn safe_url(url: &str) -> Option<String> {
    (url.starts_with("https://") || url.starts_with("http://")).then(|| escape(url))
}

pub(super) fn render(report: &Report) -> String {
    let t = &report.totals;
    let mut rows = String::new();
    for row in &report.repositories {
        let class = if row.healthy == "False" || row.secret_scanning > 0 { " class=\"bad\"" } else { "" };
        let rendered: String = cells(row)
            .into_iter()
            .map(|c| match c {
                Cell::Link { text, url } => match safe_url(&url) {
                    Some(url) => format!("<td><a href=\"{url}\">{}</a></td>", escape(&text)),
                    None => format!("<td>{}</td>", escape(&text)),
                },
                Cell::Text(text) => format!("<td>{}</td>", escape(&text)),
            })
            .collect();
        let chart = row.health.as_ref().map_or_else(|| "-".to_owned(), trend::svg);
        rows.push_str(&format!("<tr{class}>{rendered}<td class=\"trend\">{chart}</td></tr>\n"));
    }
    let flakiest = if report.flakiest_workflows.is_empty() {
        format!("<p>{}</p>\n", escape(NO_FLAKY_WORKFLOWS))
    } else {
        let headers: String = FLAKY_HEADERS.iter().map(|h| format!("<th>{h}</th>")).collect();
        let lines: String = report
            .flakiest_workflows
            .iter()
            .map(|line| {
                let cells: String = flaky_cells(line).iter().map(|text| format!("<td>{}</td>", escape(text))).collect();
                format!("<tr>{cells}</tr>\n")
            })
            .collect();
        format!("<table class=\"flaky\">\n<thead><tr>{headers}</tr></thead>\n<tbody>\n{lines}</tbody>\n</table>\n")
    };
    let headers: String = HEADERS.iter().chain(["Health trend"].iter()).map(|h| format!("<th>{h}</th>")).collect();
    let timeline = report.timeline_svg.as_ref().map_or_else(String::new, |svg| {
        format!("<h2>Build plan run</h2>\n<figure class=\"timeline\">\n{svg}</figure>\n")
    });
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Compliance report: {org}</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1f24; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #d0d7de; padding: .35rem .6rem; text-align: left; }}
th {{ background: #f6f8fa; }}
tr.bad td {{ background: #ffebe9; }}
td:nth-child(2), td:nth-child(3), td:nth-child(5), td:nth-child(6), td:nth-child(7), td:nth-child(11) {{ text-align: right; }}
table.flaky td {{ text-align: left; }}
table.flaky td:nth-child(4), table.flaky td:nth-child(5) {{ text-align: right; }}
td.trend {{ padding: .1rem .4rem; }}
figure {{ margin: 1rem 0; overflow-x: auto; }}
</style>
</head>
<body>
<h1>Compliance report: {org}</h1>
<p>Generated {generated}. {repos} repositories: {unhealthy} unhealthy, {unmeasured} not measured yet, {flaky} with
flaky failures; open alerts:
{code} code scanning, {dependabot} Dependabot, {secrets} secret scanning. Worst first; alerts are
critical/high/medium/low.</p>
<h2>Dependency graph</h2>
<figure class="graph">
{graph}</figure>
{timeline}<h2>Repositories</h2>
<table>
<thead><tr>{headers}</tr></thead>
<tbody>
{rows}</tbody>
</table>
<h2>Flakiest workflows</h2>
<p>{flaky_intro}</p>
{flakiest}</body>
</html>
"#,
        org = escape(&report.organization),
        generated = escape(&report.generated_at),
        repos = t.repositories,
        unhealthy = t.unhealthy,
        unmeasured = t.unmeasured,
        flaky = t.flaky,
        flaky_intro = escape(FLAKY_INTRO),
        code = t.code_scanning_alerts,
        dependabot = t.dependabot_alerts,
        secrets = t.secret_scanning_alerts,
        graph = report.graph_svg,
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::Format;
    use super::{escape, safe_url};

    #[test]
    fn escapes_and_links_only_http() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert!(safe_url("https://github.com/x").is_some());
    }

    #[test]
    fn one_row_per_repository_and_no_raw_markup_from_data() {
        let html = sample().render(Format::Html);
        assert_eq!(html.matches("<tr").count(), 5 + 3, "a header row and four repositories, and the flaky table's 3");
        assert!(
            html.contains("<td>api</td><td>e2e|&lt;tests&gt;</td><td>.github/workflows/e2e.yml</td><td>1 of 1</td>")
        );
        assert!(html.contains("<td>4</td><td>33%</td>"), "the flaky share after the streak: {html}");
        assert!(html.contains("1 unhealthy, 1 not measured yet, 1 with\nflaky failures"), "{html}");
        assert!(html.contains("<td>leaky&lt;script&gt;</td>"), "{html}");
        assert!(!html.contains("leaky<script>"));
        assert!(html.contains("<a href=\"https://github.com/acme/api/actions/runs/7\">failure</a>"));
    }

    #[test]
    fn embeds_the_graph_the_trends_and_a_given_timeline() {
        let mut report = sample();
        let html = report.render(Format::Html);
        assert_eq!(html.matches("<g class=\"node ").count(), 4, "{html}");
        assert!(html.contains("<figure class=\"graph\">\n<svg xmlns=\"http://www.w3.org/2000/svg\""), "{html}");
        let trends =
            html.matches("<td class=\"trend\"><svg xmlns=\"http://www.w3.org/2000/svg\" class=\"health-trend\"");
        assert_eq!(trends.count(), 3, "the repository not measured yet has none: {html}");
        assert!(!html.contains("Build plan run"));
        report.timeline_svg = Some("<svg class=\"plan-timeline\"></svg>\n".to_owned());
        let html = report.render(Format::Html);
        assert!(html.contains("<h2>Build plan run</h2>\n<figure class=\"timeline\">\n<svg class=\"plan-timeline\">"));
    }
}
