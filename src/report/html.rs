//! The report as one self-contained HTML page (no scripts, no external resources).

use super::{cells, Cell, Report, HEADERS};

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
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
        rows.push_str(&format!("<tr{class}>{rendered}</tr>\n"));
    }
    let headers: String = HEADERS.iter().map(|h| format!("<th>{h}</th>")).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Compliance report: {org}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1f24; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #d0d7de; padding: .35rem .6rem; text-align: left; }}
th {{ background: #f6f8fa; }}
tr.bad td {{ background: #ffebe9; }}
td:nth-child(2), td:nth-child(3), td:nth-child(5), td:nth-child(6), td:nth-child(10) {{ text-align: right; }}
</style>
</head>
<body>
<h1>Compliance report: {org}</h1>
<p>Generated {generated}. {repos} repositories: {unhealthy} unhealthy, {unmeasured} not measured yet; open alerts:
{code} code scanning, {dependabot} Dependabot, {secrets} secret scanning. Worst first; alerts are
critical/high/medium/low.</p>
<table>
<thead><tr>{headers}</tr></thead>
<tbody>
{rows}</tbody>
</table>
</body>
</html>
"#,
        org = escape(&report.organization),
        generated = escape(&report.generated_at),
        repos = t.repositories,
        unhealthy = t.unhealthy,
        unmeasured = t.unmeasured,
        code = t.code_scanning_alerts,
        dependabot = t.dependabot_alerts,
        secrets = t.secret_scanning_alerts,
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
        assert_eq!(html.matches("<tr").count(), 5, "a header row and four repositories");
        assert!(html.contains("<td>leaky&lt;script&gt;</td>"), "{html}");
        assert!(!html.contains("leaky<script>"));
        assert!(html.contains("<a href=\"https://github.com/acme/api/actions/runs/7\">failure</a>"));
    }
}
