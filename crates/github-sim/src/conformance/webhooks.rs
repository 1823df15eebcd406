//! Conformance of webhook payloads to GitHub's official webhooks description (npm `@octokit/openapi-webhooks`,
//! installed by `scripts/github-openapi-webhooks.sh`; path from `IO_GITHUB_OPENAPI_WEBHOOKS`, else the script's
//! cache location). The description is an OpenAPI 3.1 document whose `webhooks` hold one entry per event and action
//! (`workflow-run-completed`, `push`, …), each with the payload's schema.

use std::path::PathBuf;

use serde_json::Value;

use super::{schema, ConformanceError};
use crate::webhook::Delivery;

/// GitHub's webhooks description, loaded.
#[derive(Debug)]
pub struct WebhookDescription {
    document: Value,
}

/// Where the description is: `IO_GITHUB_OPENAPI_WEBHOOKS`, else whatever `scripts/github-openapi-webhooks.sh` prints
/// (it installs the package when absent). A missing description is an error, never a skipped check.
pub fn description_path() -> Result<PathBuf, ConformanceError> {
    super::installed_description("IO_GITHUB_OPENAPI_WEBHOOKS", "github-openapi-webhooks.sh")
}

/// The description's key for an event and action: `workflow_run` + `in_progress` → `workflow-run-in-progress`.
pub fn webhook_key(event: &str, action: Option<&str>) -> String {
    let event = event.replace('_', "-");
    match action {
        Some(action) => format!("{event}-{}", action.replace('_', "-")),
        None => event,
    }
}

impl WebhookDescription {
    /// Loads the description from [`description_path`].
    pub fn load() -> Result<Self, ConformanceError> {
        let path = description_path()?;
        let display = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConformanceError::Read { path: display.clone(), source })?;
        let document =
            serde_json::from_str(&text).map_err(|source| ConformanceError::Parse { path: display, source })?;
        Ok(WebhookDescription { document })
    }

    /// Builds from an already-parsed document (tests of the checker).
    pub fn from_document(document: Value) -> Self {
        WebhookDescription { document }
    }

    /// The documented operation of an event and action.
    fn operation(&self, event: &str, action: Option<&str>) -> Option<&Value> {
        let webhooks = self.document.get("webhooks")?;
        // Events that carry no action (`push`) are documented under the event alone.
        let entry = webhooks.get(webhook_key(event, action)).or_else(|| webhooks.get(webhook_key(event, None)))?;
        entry.get("post")
    }

    /// The payload schema GitHub documents for an event and action.
    fn payload_schema(&self, event: &str, action: Option<&str>) -> Option<&Value> {
        let operation = self.operation(event, action)?;
        operation.get("requestBody")?.get("content")?.get("application/json")?.get("schema")
    }

    /// The documented headers a delivery of the event lacks (names compared without case, as HTTP does).
    pub fn missing_headers(&self, event: &str, action: Option<&str>, headers: &[(String, String)]) -> Vec<String> {
        let Some(parameters) =
            self.operation(event, action).and_then(|o| o.get("parameters")).and_then(Value::as_array)
        else {
            return Vec::new();
        };
        parameters
            .iter()
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("header"))
            .filter(|p| p.get("required").and_then(Value::as_bool).unwrap_or(false))
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .filter(|name| !headers.iter().any(|(sent, _)| sent.eq_ignore_ascii_case(name)))
            .map(|name| format!("missing required header `{name}`"))
            .collect()
    }

    /// Violations of the documented payload schema (empty when it conforms); an undocumented event or action is one.
    pub fn validate_payload(&self, event: &str, action: Option<&str>, payload: &Value) -> Vec<String> {
        let label = match action {
            Some(action) => format!("{event}.{action}"),
            None => event.to_string(),
        };
        let Some(schema) = self.payload_schema(event, action) else {
            return vec![format!("{label}: not a documented GitHub webhook ({})", webhook_key(event, action))];
        };
        let mut violations = Vec::new();
        schema::validate(&self.document, schema, payload, "$", &mut violations);
        violations.into_iter().map(|v| format!("{label}: {v}")).collect()
    }

    /// Every violation among recorded deliveries (payloads and required headers), each labelled with its delivery id
    /// and guid.
    pub fn validate_deliveries(&self, deliveries: &[Delivery]) -> Vec<String> {
        deliveries
            .iter()
            .flat_map(|delivery| {
                let action = delivery.action.as_deref();
                let mut violations = self.validate_payload(&delivery.event, action, &delivery.payload);
                violations.extend(self.missing_headers(&delivery.event, action, &delivery.request_headers));
                violations.into_iter().map(move |v| format!("delivery {} ({}) {v}", delivery.id, delivery.guid))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_join_event_and_action_with_hyphens() {
        assert_eq!(webhook_key("workflow_run", Some("in_progress")), "workflow-run-in-progress");
        assert_eq!(webhook_key("push", None), "push");
    }

    #[test]
    fn validates_against_the_event_actions_schema_and_refuses_undocumented_events() {
        let description = WebhookDescription::from_document(json!({
            "webhooks": {"repository-deleted": {"post": {"requestBody": {"content": {"application/json": {"schema":
                {"$ref": "#/components/schemas/webhook-repository-deleted"}}}}}}},
            "components": {"schemas": {"webhook-repository-deleted": {
                "type": "object", "required": ["action", "repository"],
                "properties": {"action": {"type": "string", "enum": ["deleted"]}, "repository": {"type": "object"}}
            }}}
        }));
        let good = json!({"action": "deleted", "repository": {}});
        assert!(description.validate_payload("repository", Some("deleted"), &good).is_empty());
        let missing = json!({"action": "deleted"});
        assert_eq!(
            description.validate_payload("repository", Some("deleted"), &missing),
            vec!["repository.deleted: $: missing required field `repository`"]
        );
        assert_eq!(description.validate_payload("repository", Some("renamed"), &good).len(), 1);
    }
}
