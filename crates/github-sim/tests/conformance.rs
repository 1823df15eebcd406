//! The simulator against GitHub's official OpenAPI description.

use github_sim::conformance::Description;
use github_sim::routes::ROUTES;

fn description() -> Description {
    Description::load().expect("GitHub's OpenAPI description (scripts/github-openapi.sh)")
}

#[test]
fn every_served_route_is_a_documented_operation() {
    let description = description();
    let undocumented: Vec<String> = ROUTES
        .iter()
        .filter(|route| {
            description.find_operation(route.method, route.template).map(|m| m.template)
                != Some(route.template.to_string())
        })
        .map(|route| format!("{} {}", route.method, route.template))
        .collect();
    assert!(undocumented.is_empty(), "undocumented routes: {undocumented:?}");
}

#[test]
fn checker_bites_on_a_removed_required_field() {
    let description = description();
    let run = serde_json::json!({"id": 1, "name": "x"});
    let violations = description.validate_response("GET", "/repos/acme/api/actions/runs/1", 200, Some(&run));
    assert!(violations.iter().any(|v| v.contains("missing required field `node_id`")), "{violations:#?}");
}
