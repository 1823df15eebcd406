//! Without GitHub's GraphQL schema the simulator cannot tell a valid query from an invalid one: every GraphQL call
//! is then a conformance violation, never a silent pass. Its own test binary, because it changes the process's
//! environment.

mod support;

use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

#[tokio::test]
async fn a_missing_schema_fails_the_test_rather_than_skipping() {
    std::env::set_var("IO_GITHUB_GRAPHQL_SCHEMA", "/nonexistent/schema.graphql");
    let sim = Simulator::start(Fixture::generated_org("acme", 1), SimOptions::default()).await.expect("start");
    let query = json!({"query": "{ rateLimit { cost } }"});
    let reply = call(sim.base_url(), "POST", "/graphql", &[AUTH], Some(query)).await;
    assert_eq!(reply.status, 200);
    let message = reply.json()["errors"][0]["message"].as_str().expect("message").to_string();
    assert!(message.contains("/nonexistent/schema.graphql"), "{message}");
    let violations = sim.requests().pop().expect("logged").violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_conformant()));
    assert!(failed.is_err());
}
