//! Which objects a GitHub webhook delivery concerns. Deliveries only wake reconciles (which then look at the whole
//! state again), so routing errs on the side of waking where a change may matter: a missed wake costs a delay until
//! the next interval. It does not wake where nothing the operator reads has changed: a wake is a write to the
//! object, and a write that lands while its reconcile runs makes that reconcile's status write conflict and start
//! over. A run announces itself three times (`requested`, `in_progress`, `completed`); only its end changes a
//! plan's decisions or a repository's health, and `workflow_job` and `check_suite` repeat what `workflow_run` says.

use serde::Deserialize;

/// The parts of a webhook payload that routing reads; every other field is ignored.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct WebhookEnvelope {
    /// What happened, for events that have actions (`created`, `completed`, …).
    #[serde(default)]
    pub action: Option<String>,
    /// The organization, present on organization-owned repositories' events.
    #[serde(default)]
    pub organization: Option<Account>,
    /// The repository the event is about.
    #[serde(default)]
    pub repository: Option<RepositoryRef>,
    /// For `push`: the ref that moved, such as `refs/heads/main`.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// For `installation` events: the account the App is installed on.
    #[serde(default)]
    pub installation: Option<Installation>,
}

/// A GitHub user or organization.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// Its login.
    pub login: String,
}

/// The repository of an event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RepositoryRef {
    /// Its name, without the owner.
    pub name: String,
    /// Its owner.
    pub owner: Account,
    /// Its default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// The App installation of an `installation` event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Installation {
    /// The account it is installed on (absent on other events' installation stubs).
    #[serde(default)]
    pub account: Option<Account>,
}

impl WebhookEnvelope {
    /// The login of the organization the delivery concerns.
    pub fn organization_login(&self) -> Option<&str> {
        self.organization
            .as_ref()
            .map(|o| o.login.as_str())
            .or_else(|| self.repository.as_ref().map(|r| r.owner.login.as_str()))
            .or_else(|| self.installation.as_ref()?.account.as_ref().map(|a| a.login.as_str()))
    }
}

/// Objects of an Organization that a delivery wakes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WakeTarget {
    /// The Organization itself: rediscover its repositories.
    Organization,
    /// The Repository objects for this GitHub repository name: refresh health.
    Repository(String),
    /// Every BuildPlan of the Organization: a run they may be waiting for moved.
    BuildPlans,
}

/// What to do with a verified delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Wake these objects.
    Wake(Vec<WakeTarget>),
    /// Nothing to do; the reason is logged.
    Ignore(&'static str),
}

/// Routes a delivery of `event` (the `X-GitHub-Event` header).
pub fn route(event: &str, envelope: &WebhookEnvelope) -> Route {
    match event {
        "ping" => Route::Ignore("ping"),
        "repository" | "installation" | "installation_repositories" => Route::Wake(vec![WakeTarget::Organization]),
        "push" => {
            let Some(repository) = &envelope.repository else { return Route::Ignore("push without a repository") };
            let default_ref = repository.default_branch.as_ref().map(|branch| format!("refs/heads/{branch}"));
            if default_ref.is_some() && envelope.git_ref == default_ref {
                Route::Wake(vec![WakeTarget::Organization, WakeTarget::Repository(repository.name.clone())])
            } else {
                Route::Ignore("push to a branch other than the default branch")
            }
        }
        "workflow_run" => match (&envelope.repository, envelope.action.as_deref()) {
            (None, _) => Route::Ignore("run event without a repository"),
            (Some(repository), Some("completed")) => {
                Route::Wake(vec![WakeTarget::BuildPlans, WakeTarget::Repository(repository.name.clone())])
            }
            (Some(_), _) => Route::Ignore("a run that has not finished changes nothing the operator decides on"),
        },
        "workflow_job" | "check_suite" | "check_run" => Route::Ignore("the run's own workflow_run event wakes"),
        "code_scanning_alert" | "dependabot_alert" | "secret_scanning_alert" | "issues" | "pull_request" => {
            match &envelope.repository {
                Some(repository) => Route::Wake(vec![WakeTarget::Repository(repository.name.clone())]),
                None => Route::Ignore("repository event without a repository"),
            }
        }
        _ => Route::Ignore("event not used by the operator"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(json: serde_json::Value) -> WebhookEnvelope {
        serde_json::from_value(json).unwrap()
    }

    fn repo(name: &str) -> serde_json::Value {
        serde_json::json!({ "name": name, "owner": { "login": "acme" }, "default_branch": "main", "id": 1 })
    }

    #[test]
    fn repository_events_wake_the_organization() {
        for action in ["created", "deleted", "renamed", "archived", "transferred"] {
            let e = envelope(
                serde_json::json!({ "action": action, "repository": repo("core"), "organization": { "login": "acme" } }),
            );
            assert_eq!(route("repository", &e), Route::Wake(vec![WakeTarget::Organization]), "{action}");
        }
    }

    #[test]
    fn only_default_branch_pushes_wake() {
        let main = envelope(serde_json::json!({ "ref": "refs/heads/main", "repository": repo("core") }));
        assert_eq!(
            route("push", &main),
            Route::Wake(vec![WakeTarget::Organization, WakeTarget::Repository("core".into())])
        );
        let feature = envelope(serde_json::json!({ "ref": "refs/heads/feature", "repository": repo("core") }));
        assert!(matches!(route("push", &feature), Route::Ignore(_)));
        let tag = envelope(serde_json::json!({ "ref": "refs/tags/main", "repository": repo("core") }));
        assert!(matches!(route("push", &tag), Route::Ignore(_)));
    }

    #[test]
    fn workflow_runs_wake_plans_and_the_repository() {
        let e = envelope(
            serde_json::json!({ "action": "completed", "repository": repo("core"), "workflow_run": { "id": 5 } }),
        );
        assert_eq!(
            route("workflow_run", &e),
            Route::Wake(vec![WakeTarget::BuildPlans, WakeTarget::Repository("core".into())])
        );
    }

    #[test]
    fn runs_that_have_not_finished_and_job_events_wake_nothing() {
        for action in ["requested", "in_progress"] {
            let e = envelope(serde_json::json!({ "action": action, "repository": repo("core") }));
            assert!(matches!(route("workflow_run", &e), Route::Ignore(_)), "{action}");
        }
        let completed = envelope(serde_json::json!({ "action": "completed", "repository": repo("core") }));
        for event in ["workflow_job", "check_suite", "check_run"] {
            assert!(matches!(route(event, &completed), Route::Ignore(_)), "{event}");
        }
    }

    #[test]
    fn pings_and_unknown_events_are_ignored() {
        assert!(matches!(route("ping", &WebhookEnvelope::default()), Route::Ignore(_)));
        assert!(matches!(route("star", &WebhookEnvelope::default()), Route::Ignore(_)));
        assert!(matches!(route("workflow_run", &WebhookEnvelope::default()), Route::Ignore(_)));
    }

    #[test]
    fn finds_the_organization_login() {
        let by_org = envelope(serde_json::json!({ "organization": { "login": "acme" }, "repository": repo("x") }));
        assert_eq!(by_org.organization_login(), Some("acme"));
        let by_owner = envelope(serde_json::json!({ "repository": { "name": "x", "owner": { "login": "other" } } }));
        assert_eq!(by_owner.organization_login(), Some("other"));
        let by_installation =
            envelope(serde_json::json!({ "installation": { "id": 1, "account": { "login": "inst" } } }));
        assert_eq!(by_installation.organization_login(), Some("inst"));
        assert_eq!(WebhookEnvelope::default().organization_login(), None);
    }
}
