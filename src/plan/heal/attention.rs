//! Which repositories a policy needs to read from GitHub at all. Most of an organization is quiet most of the
//! time; what its Repository objects already say (health and security, kept by the Repository controller) is
//! enough to tell that [`decide`](super::decide) would plan nothing for them.

use crate::crd::healing_policy::{AlertSeverity, HealingPolicySpec};
use crate::crd::repository::{AlertCounts, RepositoryStatus};
use crate::plan::detect::OPERATOR_WORKFLOW;
use crate::plan::health;

/// Whether a rule could act on a repository whose Repository status is `status`. `open_issue` says the policy
/// recorded an open issue for it (one to close). Unknown health needs a look.
pub fn needs_attention(policy: &HealingPolicySpec, status: &RepositoryStatus, open_issue: bool) -> bool {
    let Some(health) = &status.health else { return true };
    let actions = &policy.actions;
    let failing = health.consecutive_failures > 0 || !health::problems(health, &policy.thresholds).is_empty();
    let vulnerable = status
        .security
        .as_ref()
        .is_some_and(|security| alerts_at_or_above(&security.dependabot, actions.dependency_update.min_severity) > 0);
    // The operator installed its workflow (onboarding recorded a pull request) and discovery no longer finds it
    // dispatchable: missing or broken.
    // Or discovery found it holding other commands than the ones in effect.
    let workflow_suspect = (status.onboarding_pull_request.is_some()
        && status.build_workflow.as_deref() != Some(OPERATOR_WORKFLOW))
        || status.workflow_commands_outdated;
    open_issue
        || (failing && (actions.rerun.enabled || actions.issue.enabled || actions.rollback.enabled))
        || (vulnerable && actions.dependency_update.enabled)
        || (workflow_suspect && actions.config_repair.enabled)
}

fn alerts_at_or_above(counts: &AlertCounts, min: AlertSeverity) -> i32 {
    [
        (AlertSeverity::Critical, counts.critical),
        (AlertSeverity::High, counts.high),
        (AlertSeverity::Medium, counts.medium),
        (AlertSeverity::Low, counts.low),
    ]
    .into_iter()
    .filter(|(severity, _)| *severity >= min)
    .map(|(_, count)| count)
    .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::repository::{HealthStatus, PullRequestReference, SecurityStatus};

    fn policy() -> HealingPolicySpec {
        serde_json::from_value(serde_json::json!({
            "organizationRef": { "name": "org" },
            "actions": { "rerun": { "enabled": true }, "dependencyUpdate": { "enabled": true, "minSeverity": "high" },
                         "configRepair": { "enabled": true } }
        }))
        .unwrap()
    }

    fn green() -> RepositoryStatus {
        RepositoryStatus {
            health: Some(HealthStatus { score: 100, window_runs: 5, success_rate_percent: 100, ..Default::default() }),
            security: Some(SecurityStatus::default()),
            ..RepositoryStatus::default()
        }
    }

    #[test]
    fn quiet_repositories_are_skipped_and_anything_actionable_is_not() {
        let policy = policy();
        assert!(!needs_attention(&policy, &green(), false), "green, no alerts, no issue");
        assert!(needs_attention(&policy, &RepositoryStatus::default(), false), "health unknown");
        assert!(needs_attention(&policy, &green(), true), "an issue to close");
        let mut failing = green();
        failing.health.as_mut().unwrap().consecutive_failures = 1;
        assert!(needs_attention(&policy, &failing, false), "one failure: a re-run");
        let mut medium = green();
        medium.security.as_mut().unwrap().dependabot.medium = 2;
        assert!(!needs_attention(&policy, &medium, false), "below minSeverity");
        let mut critical = green();
        critical.security.as_mut().unwrap().dependabot.critical = 1;
        assert!(needs_attention(&policy, &critical, false));
        let mut broken = green();
        broken.onboarding_pull_request = Some(PullRequestReference { number: 1, url: None });
        assert!(needs_attention(&policy, &broken, false), "onboarded, workflow not found");
        broken.build_workflow = Some(OPERATOR_WORKFLOW.to_owned());
        assert!(!needs_attention(&policy, &broken, false), "onboarded and dispatchable");
        let mut outdated = green();
        outdated.workflow_commands_outdated = true;
        assert!(needs_attention(&policy, &outdated, false), "the workflow holds other commands than in effect");
    }
}
