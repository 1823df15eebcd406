//! `status`: one screen saying what each Organization, BuildPlan and HealingPolicy of a namespace is doing, read the
//! way kstatus reads conditions (`Stalled`, then `Reconciling`, then `Ready`). Pure: the caller reads the objects.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::crd::condition::{find_condition, Condition, ConditionStatus};
use crate::crd::{BuildPlan, HasConditions, HealingPolicy, Organization};

/// Longest message shown, so that a row stays on one line of a terminal.
const MESSAGE_CHARS: usize = 60;

/// What an object is doing, by its conditions: the first of `Stalled`, `Reconciling` that is true, else `Ready`'s
/// status (`Ready`, `NotReady`), else `Unknown` before the operator wrote a status. With the condition's reason and
/// message.
fn state(object: &impl HasConditions, generation: Option<i64>) -> (String, String) {
    let conditions = object.conditions();
    let is_true = |kind: &str| find_condition(conditions, kind).filter(|c| c.status == ConditionStatus::True);
    let described = |label: &str, condition: &Condition| {
        let message = one_line(&condition.message);
        let text =
            if message.is_empty() { condition.reason.clone() } else { format!("{}: {message}", condition.reason) };
        (label.to_owned(), text)
    };
    let state = if let Some(stalled) = is_true("Stalled") {
        described("Stalled", stalled)
    } else if let Some(reconciling) = is_true("Reconciling") {
        described("Reconciling", reconciling)
    } else {
        match find_condition(conditions, "Ready") {
            Some(ready) if ready.status == ConditionStatus::True => described("Ready", ready),
            Some(ready) => described("NotReady", ready),
            None => ("Unknown".to_owned(), "no status yet: is the operator running?".to_owned()),
        }
    };
    // A status written for an older generation says nothing yet about the current spec.
    match (generation, object.observed_generation()) {
        (Some(current), Some(observed)) if observed < current => {
            ("Reconciling".to_owned(), format!("spec generation {current} not yet observed ({observed} is)"))
        }
        _ => state,
    }
}

/// `text` on one line, cut to [`MESSAGE_CHARS`].
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MESSAGE_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(MESSAGE_CHARS - 1).collect();
    format!("{cut}…")
}

/// How long before `now` `time` was, as `45s`, `12m`, `3h` or `2d`; `-` when unknown.
fn age(time: Option<Timestamp>, now: Timestamp) -> String {
    let Some(time) = time else { return "-".to_owned() };
    let seconds = now.as_second().saturating_sub(time.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Rows under a header, each column as wide as its widest cell.
fn table(title: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("{title}\n");
    if rows.is_empty() {
        out.push_str("  (none)\n");
        return out;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(header.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The screen for `namespace` at `now`.
pub fn render(
    namespace: &str,
    organizations: &[Organization],
    plans: &[BuildPlan],
    policies: &[HealingPolicy],
    now: Timestamp,
) -> String {
    let organization_rows: Vec<Vec<String>> = organizations
        .iter()
        .map(|org| {
            let (state, why) = state(org, org.metadata.generation);
            let status = org.status.clone().unwrap_or_default();
            let synced = status.last_sync_time.map(|t| t.0);
            let repositories = status.repository_count.map_or("-".to_owned(), |n| n.to_string());
            vec![org.name_any(), state, org.spec.login.clone(), repositories, age(synced, now), why]
        })
        .collect();
    let plan_rows: Vec<Vec<String>> = plans
        .iter()
        .map(|plan| {
            let (state, why) = state(plan, plan.metadata.generation);
            let status = plan.status.clone().unwrap_or_default();
            let phase = status.phase.map_or("-".to_owned(), |p| format!("{p:?}"));
            let counts = status.counts.unwrap_or_default();
            let done = counts.succeeded + counts.failed + counts.skipped;
            let progress = format!("{done}/{}", counts.total);
            let tally = format!(
                "{} ok, {} failed, {} running, {} pending, {} skipped",
                counts.succeeded, counts.failed, counts.running, counts.pending, counts.skipped
            );
            let started = status.start_time.map(|t| t.0);
            vec![plan.name_any(), state, phase, progress, tally, age(started, now), why]
        })
        .collect();
    let policy_rows: Vec<Vec<String>> = policies
        .iter()
        .map(|policy| {
            let (state, why) = state(policy, policy.metadata.generation);
            let status = policy.status.clone().unwrap_or_default();
            let mode = if policy.spec.suspend { "Suspended".to_owned() } else { format!("{:?}", policy.spec.mode) };
            let matched = status.matched_repositories.map_or("-".to_owned(), |n| n.to_string());
            let evaluated = status.last_evaluated.map(|t| t.0);
            let work = format!(
                "{} actions, {} open issues, {} pull requests",
                status.actions.len(),
                status.open_issues.len(),
                status.pull_requests.len()
            );
            vec![policy.name_any(), state, mode, matched, work, age(evaluated, now), why]
        })
        .collect();
    [
        format!("Namespace {namespace}\n"),
        table("Organizations", &["NAME", "STATE", "LOGIN", "REPOSITORIES", "SYNCED", "WHY"], &organization_rows),
        table("BuildPlans", &["NAME", "STATE", "PHASE", "PROGRESS", "REPOSITORIES", "STARTED", "WHY"], &plan_rows),
        table("HealingPolicies", &["NAME", "STATE", "MODE", "MATCHED", "WORK", "EVALUATED", "WHY"], &policy_rows),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-12-06T12:00:00Z".parse().unwrap()
    }

    fn condition(kind: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
        json!({ "type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-12-06T11:00:00Z" })
    }

    fn organization(name: &str, generation: i64, status: serde_json::Value) -> Organization {
        serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
            "metadata": { "name": name, "generation": generation },
            "spec": { "login": name, "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
            "status": status,
        }))
        .unwrap()
    }

    fn row<'a>(screen: &'a str, name: &str) -> &'a str {
        screen
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{screen}"))
    }

    #[test]
    fn conditions_read_as_kstatus_reads_them() {
        let ready = organization(
            "acme",
            1,
            json!({ "observedGeneration": 1, "repositoryCount": 30, "lastSyncTime": "2026-12-06T11:58:00Z",
            "conditions": [condition("Ready", "True", "Synced", "30 repositories")] }),
        );
        let stalled = organization(
            "globex",
            2,
            json!({ "observedGeneration": 2, "conditions": [
            condition("Ready", "False", "SecretMissing", "Secret gh not found"),
            condition("Stalled", "True", "SecretMissing", "Secret gh not found")] }),
        );
        let behind = organization(
            "initech",
            3,
            json!({ "observedGeneration": 2, "conditions": [condition("Ready", "True", "Synced", "")] }),
        );
        let new = organization("hooli", 1, json!(null));
        let screen = render("ns", &[ready, stalled, behind, new], &[], &[], now());
        assert!(row(&screen, "acme").contains("Ready"), "{screen}");
        assert!(row(&screen, "acme").contains(" 30 ") && row(&screen, "acme").contains("2m"), "{screen}");
        assert!(row(&screen, "globex").contains("Stalled") && row(&screen, "globex").contains("Secret gh not found"));
        assert!(row(&screen, "initech").contains("Reconciling") && row(&screen, "initech").contains("generation 3"));
        assert!(row(&screen, "hooli").contains("Unknown"), "{screen}");
        assert!(screen.contains("BuildPlans\n  (none)"), "{screen}");
    }

    #[test]
    fn a_plan_shows_its_phase_and_progress_and_a_policy_its_work() {
        let plan: BuildPlan = serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan",
            "metadata": { "name": "nightly", "generation": 1 },
            "spec": { "organizationRef": { "name": "acme" } },
            "status": { "observedGeneration": 1, "phase": "Running",
                "counts": { "total": 6, "pending": 2, "running": 1, "succeeded": 2, "failed": 1, "skipped": 0 },
                "conditions": [condition("Reconciling", "True", "Running", "1 run in flight"),
                    condition("Ready", "False", "Running", "")] },
        }))
        .unwrap();
        let policy: HealingPolicy = serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "HealingPolicy",
            "metadata": { "name": "heal", "generation": 1 },
            "spec": { "organizationRef": { "name": "acme" }, "mode": "Enforce" },
            "status": { "observedGeneration": 1, "matchedRepositories": 6,
                "openIssues": [{ "repository": "api", "problem": "ConsecutiveFailures", "number": 3 }],
                "conditions": [condition("Ready", "True", "Evaluated", "")] },
        }))
        .unwrap();
        let screen = render("ns", &[], &[plan], &[policy], now());
        let plan_row = row(&screen, "nightly");
        assert!(
            plan_row.contains("Reconciling") && plan_row.contains("Running") && plan_row.contains("3/6"),
            "{screen}"
        );
        assert!(plan_row.contains("2 ok, 1 failed, 1 running, 2 pending, 0 skipped"), "{screen}");
        let policy_row = row(&screen, "heal");
        assert!(policy_row.contains("Ready") && policy_row.contains("Enforce"), "{screen}");
        assert!(policy_row.contains("0 actions, 1 open issues, 0 pull requests"), "{screen}");
        assert!(screen.contains("Organizations\n  (none)"), "{screen}");
    }

    #[test]
    fn long_messages_stay_on_one_line() {
        let long = "word ".repeat(40);
        let text = one_line(&format!("first line\n{long}"));
        assert_eq!(text.chars().count(), MESSAGE_CHARS);
        assert!(text.starts_with("first line word") && text.ends_with('…'));
    }
}
