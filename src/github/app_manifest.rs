//! The GitHub App manifest (docs: apps/sharing-github-apps/registering-a-github-app-from-a-manifest) with exactly the
//! permissions and webhook events the enabled features need, and the README's table of them, both read from
//! [`super::permissions`].

use serde_json::{json, Map, Value};

use super::permissions::{needed_by, Feature, Operation, Permission};

/// The permission an App needs to be sent `event` (GitHub refuses a manifest subscribing to an event whose
/// permission it does not ask for).
pub fn event_permission(event: &str) -> Option<Permission> {
    Some(match event {
        "repository" => Permission::Metadata,
        "push" => Permission::Contents,
        "workflow_run" => Permission::Actions,
        "issues" => Permission::Issues,
        "pull_request" => Permission::PullRequests,
        "code_scanning_alert" => Permission::SecurityEvents,
        "dependabot_alert" => Permission::VulnerabilityAlerts,
        "secret_scanning_alert" => Permission::SecretScanningAlerts,
        _ => return None,
    })
}

/// What the manifest is for.
#[derive(Clone, Debug)]
pub struct ManifestRequest<'a> {
    /// The organization's login (names the App).
    pub org: &'a str,
    /// The operator's webhook receiver (`https://HOST/webhook`); required with [`Feature::Webhooks`].
    pub webhook_url: Option<&'a str>,
    /// The App's homepage.
    pub homepage: &'a str,
    /// The features the App is for.
    pub features: &'a [Feature],
}

/// The manifest's JSON, or why it cannot be made.
pub fn app_manifest(request: &ManifestRequest<'_>) -> Result<Value, String> {
    let features = request.features;
    if !features.contains(&Feature::Discovery) {
        return Err("discovery is what every other feature works on: it cannot be left out".into());
    }
    let permissions: Map<String, Value> = needed_by(features)
        .into_iter()
        .map(|(permission, access)| (permission.key().to_owned(), json!(access.key())))
        .collect();
    let mut manifest = json!({
        "name": format!("infinity-orchestrator-{}", request.org),
        "url": request.homepage,
        "description": format!("Infinity Orchestrator for the {} organization", request.org),
        "public": false,
        "default_permissions": permissions,
    });
    if features.contains(&Feature::Webhooks) {
        let url = request.webhook_url.ok_or("--webhook-url is needed unless webhooks are left out")?;
        let mut events: Vec<&str> = features.iter().flat_map(|feature| feature.events().iter().copied()).collect();
        events.sort_unstable();
        events.dedup();
        manifest["hook_attributes"] = json!({ "url": url, "active": true });
        manifest["default_events"] = json!(events);
    }
    Ok(manifest)
}

/// The README's table: each permission, its level, and the features (with the port's operations) that need it.
pub fn permissions_table() -> String {
    let mut table = String::from("| permission | access | needed by |\n| --- | --- | --- |\n");
    for (permission, access) in needed_by(&Feature::ALL) {
        let mut uses: Vec<(&str, &str)> = Operation::all()
            .into_iter()
            .filter(|op| op.needs().iter().any(|need| need.permission == permission))
            .flat_map(|op| op.features().iter().map(move |feature| (feature.name(), op.method())))
            .collect();
        uses.sort_unstable();
        uses.dedup();
        let mut by_feature: Vec<String> = Vec::new();
        for feature in Feature::ALL.map(Feature::name) {
            let methods: Vec<&str> = uses.iter().filter(|(f, _)| *f == feature).map(|(_, m)| *m).collect();
            if !methods.is_empty() {
                let methods: Vec<String> = methods.iter().map(|m| format!("`{m}`")).collect();
                by_feature.push(format!("{feature} ({})", methods.join(", ")));
            }
        }
        table.push_str(&format!("| `{}` | {} | {} |\n", permission.key(), access.key(), by_feature.join("; ")));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(features: &[Feature]) -> ManifestRequest<'_> {
        ManifestRequest {
            org: "acme",
            webhook_url: Some("https://hooks.example/hook"),
            homepage: "https://x",
            features,
        }
    }

    #[test]
    fn the_manifest_asks_for_what_the_features_need_and_no_more() {
        let all = app_manifest(&request(&Feature::ALL)).unwrap();
        assert_eq!(all["default_permissions"]["actions"], "write");
        assert_eq!(all["default_permissions"]["vulnerability_alerts"], "read");
        assert_eq!(all["hook_attributes"]["url"], "https://hooks.example/hook");
        let without = [Feature::Discovery, Feature::Health, Feature::Webhooks];
        let some = app_manifest(&request(&without)).unwrap();
        assert_eq!(some["default_permissions"]["actions"], "read");
        assert!(some["default_permissions"].get("vulnerability_alerts").is_none());
        assert!(some["default_permissions"].get("issues").is_none());
        let events: Vec<&str> = some["default_events"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(events, ["push", "repository", "workflow_run"]);
        let quiet = app_manifest(&request(&[Feature::Discovery])).unwrap();
        assert!(quiet.get("hook_attributes").is_none() && quiet.get("default_events").is_none());
        assert!(app_manifest(&request(&[Feature::Health])).is_err());
    }

    #[test]
    fn every_event_comes_with_its_permission() {
        let all = app_manifest(&request(&Feature::ALL)).unwrap();
        for event in all["default_events"].as_array().unwrap().iter().filter_map(Value::as_str) {
            let permission = event_permission(event).unwrap_or_else(|| panic!("{event} has no known permission"));
            assert!(all["default_permissions"].get(permission.key()).is_some(), "{event} without {permission:?}");
        }
    }

    #[test]
    fn the_readme_table_is_the_one_the_permissions_make() {
        let readme = include_str!("../../README.md");
        let table = permissions_table();
        assert!(readme.contains(&table), "README.md's permissions table differs; it should read:\n{table}");
    }
}
