//! How the policy finds its own issues and pull requests again after a restart: a hidden marker in issue bodies and
//! comments, and branch names under one prefix.

use std::cmp::Ordering;

/// What every marker starts with.
pub const MARKER_PREFIX: &str = "<!-- infinity-orchestrator:";

/// Prefix of every branch the policy pushes.
pub const BRANCH_PREFIX: &str = "infinity-orchestrator/";

/// Prefix of dependency-update branches, which count against `maxOpenPullRequests`.
pub const DEPENDENCY_UPDATE_BRANCH_PREFIX: &str = "infinity-orchestrator/dependency-update/";

/// What a marker says: the problem an issue is about, and how bad it was when the text was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueMarker {
    /// The problem, as `health::Problem::as_str` writes it.
    pub problem: String,
    /// The problem's severity when the text was written (`health::Problem::severity`).
    pub severity: Option<i64>,
}

impl IssueMarker {
    /// The marker as an HTML comment, invisible on GitHub:
    /// `<!-- infinity-orchestrator:problem=ConsecutiveFailures severity=3 -->`.
    pub fn render(&self) -> String {
        match self.severity {
            Some(severity) => format!("{MARKER_PREFIX}problem={} severity={severity} -->", self.problem),
            None => format!("{MARKER_PREFIX}problem={} -->", self.problem),
        }
    }

    /// The first marker in `text`, if any. Unknown keys are ignored so later versions can add some.
    pub fn parse(text: &str) -> Option<Self> {
        let start = text.find(MARKER_PREFIX)? + MARKER_PREFIX.len();
        let end = start + text[start..].find("-->")?;
        let mut problem = None;
        let mut severity = None;
        for pair in text[start..end].split_whitespace() {
            match pair.split_once('=') {
                Some(("problem", value)) if !value.is_empty() => problem = Some(value.to_owned()),
                Some(("severity", value)) => severity = value.parse().ok(),
                _ => {}
            }
        }
        Some(IssueMarker { problem: problem?, severity })
    }
}

/// A branch-name segment: characters Git or people would stumble on become `-`.
fn branch_segment(text: &str) -> String {
    let cleaned: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    cleaned.trim_matches(['-', '.']).replace("..", ".")
}

/// `infinity-orchestrator/dependency-update/<package>-<version>`; `@scope/name` becomes `scope-name`.
pub fn dependency_update_branch(package: &str, version: &str) -> String {
    format!("{DEPENDENCY_UPDATE_BRANCH_PREFIX}{}-{}", branch_segment(package), branch_segment(version))
}

/// `infinity-orchestrator/config-repair/<file>` for the workflow file at `path`.
pub fn config_repair_branch(path: &str) -> String {
    format!("{BRANCH_PREFIX}config-repair/{}", branch_segment(path.rsplit('/').next().unwrap_or(path)))
}

/// `infinity-orchestrator/rollback/<sha>`: one branch per bad commit, so a revert is proposed once.
pub fn rollback_branch(sha: &str) -> String {
    format!("{BRANCH_PREFIX}rollback/{}", branch_segment(sha))
}

/// Compares versions segment by segment (`.`, `-`, `+` separate), numbers as numbers, so `4.17.21 > 4.17.9`.
pub fn compare_versions(left: &str, right: &str) -> Ordering {
    let segments =
        |v: &str| -> Vec<String> { v.trim_start_matches('v').split(['.', '-', '+']).map(str::to_owned).collect() };
    let (left, right) = (segments(left), segments(right));
    for (a, b) in left.iter().zip(&right) {
        let order = match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    left.len().cmp(&right.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_parse_from_surrounding_text() {
        let marker = IssueMarker { problem: "ConsecutiveFailures".into(), severity: Some(4) };
        let body = format!("Builds fail.\n\n{}\nmore text", marker.render());
        assert_eq!(IssueMarker::parse(&body), Some(marker));
        let bare = IssueMarker { problem: "LowSuccessRate".into(), severity: None };
        assert_eq!(bare.render(), "<!-- infinity-orchestrator:problem=LowSuccessRate -->");
        assert_eq!(IssueMarker::parse(&bare.render()), Some(bare));
        for text in
            ["", "<!-- infinity-orchestrator:severity=3 -->", "<!-- infinity-orchestrator:problem=X", "<!-- other -->"]
        {
            assert_eq!(IssueMarker::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn branch_names_are_stable_and_safe() {
        assert_eq!(
            dependency_update_branch("lodash", "4.17.21"),
            "infinity-orchestrator/dependency-update/lodash-4.17.21"
        );
        assert_eq!(
            dependency_update_branch("@types/node", "18.0.1"),
            "infinity-orchestrator/dependency-update/types-node-18.0.1"
        );
        assert_eq!(
            config_repair_branch(".github/workflows/infinity.yml"),
            "infinity-orchestrator/config-repair/infinity.yml"
        );
        assert_eq!(rollback_branch("abc123"), "infinity-orchestrator/rollback/abc123");
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("4.17.21", "4.17.9"), Ordering::Greater);
        assert_eq!(compare_versions("v1.2.0", "1.2.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.2", "1.2.1"), Ordering::Less);
    }
}
