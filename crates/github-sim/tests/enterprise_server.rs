//! The simulator as GitHub Enterprise Server: the REST API under `/api/v3`, GraphQL at `/api/graphql`, web URLs at
//! the host's root, `X-GitHub-Enterprise-*` headers, and github.com's paths refused.

mod support;

use github_sim::webhook::WebhookTarget;
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use serde_json::json;
use support::{call, AUTH};

async fn enterprise_server(repos: usize) -> (SimHandle, String) {
    let options = SimOptions { enterprise_server: true, ..SimOptions::default() };
    let sim = Simulator::start(Fixture::generated_org("acme", repos), options).await.expect("start");
    let host = sim.base_url().strip_suffix("/api/v3").expect("the API under /api/v3").to_string();
    (sim, host)
}

#[tokio::test]
async fn rest_answers_under_api_v3_with_urls_on_the_enterprise_base() {
    let (sim, host) = enterprise_server(3).await;
    let reply = call(&host, "GET", "/api/v3/orgs/acme/repos?per_page=2", &[AUTH], None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-github-enterprise-version"), Some("enterprise-server@3.17.0"));
    let link = reply.header("link").expect("a link header");
    assert!(link.contains(&format!("<{host}/api/v3/orgs/acme/repos?")), "{link}");
    let repo = &reply.json()[0];
    assert_eq!(repo["url"], format!("{host}/api/v3/repos/acme/repo-00000"));
    assert_eq!(repo["html_url"], format!("{host}/acme/repo-00000"));
    assert_eq!(repo["owner"]["url"], format!("{host}/api/v3/users/acme"));

    let log = sim.requests();
    assert_eq!((log[0].url_path.as_str(), log[0].path.as_str()), ("/api/v3/orgs/acme/repos", "/orgs/acme/repos"));
    // The conformance checks match GitHub's descriptions, which name paths without the prefix.
    sim.assert_conformant();
}

#[tokio::test]
async fn github_com_paths_and_newer_api_versions_are_refused() {
    let (sim, host) = enterprise_server(1).await;
    let bare = call(&host, "GET", "/orgs/acme/repos", &[AUTH], None).await;
    assert_eq!(bare.status, 404);
    let query = json!({"query": "{ viewer { login } }"});
    let graphql_under_rest = call(&host, "POST", "/api/v3/graphql", &[AUTH], Some(query.clone())).await;
    assert_eq!(graphql_under_rest.status, 404);
    let bare_graphql = call(&host, "POST", "/graphql", &[AUTH], Some(query)).await;
    assert_eq!(bare_graphql.status, 404);
    let newer =
        call(&host, "GET", "/api/v3/orgs/acme/repos", &[AUTH, ("X-GitHub-Api-Version", "2026-03-10")], None).await;
    assert_eq!(newer.status, 400, "{}", newer.body);
    let first =
        call(&host, "GET", "/api/v3/orgs/acme/repos", &[AUTH, ("X-GitHub-Api-Version", "2022-11-28")], None).await;
    assert_eq!(first.status, 200, "{}", first.body);

    let log: Vec<(String, u16)> = sim.requests().iter().map(|r| (r.url_path.clone(), r.status)).collect();
    let expected = [
        ("/orgs/acme/repos", 404),
        ("/api/v3/graphql", 404),
        ("/graphql", 404),
        ("/api/v3/orgs/acme/repos", 400),
        ("/api/v3/orgs/acme/repos", 200),
    ];
    assert_eq!(log, expected.map(|(path, status)| (path.to_string(), status)));
}

#[tokio::test]
async fn graphql_answers_at_api_graphql_with_web_urls_at_the_host_root() {
    let (sim, host) = enterprise_server(1).await;
    let query = json!({"query": "{ repository(owner: \"acme\", name: \"repo-00000\") { url } }"});
    let reply = call(&host, "POST", "/api/graphql", &[AUTH], Some(query)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-github-enterprise-version"), Some("enterprise-server@3.17.0"));
    assert_eq!(reply.json()["data"]["repository"]["url"], format!("{host}/acme/repo-00000"));
    let log = sim.requests();
    assert!(log[0].is_graphql(), "{:?}", log[0].path);
    assert_eq!(log[0].url_path, "/api/graphql");
    sim.assert_conformant();
}

#[tokio::test]
async fn webhooks_name_the_enterprise_server() {
    let (sim, _) = enterprise_server(1).await;
    // Nothing listens there: the delivery fails, and its record keeps the headers sent.
    sim.set_webhook(WebhookTarget { url: "http://127.0.0.1:9/webhook".into(), secret: "webhook-secret".into() });
    assert!(sim.transfer_repo("acme", "repo-00000", "other"));
    let deliveries = sim.deliveries();
    let headers = &deliveries.first().expect("a delivery").request_headers;
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("X-GitHub-Enterprise-Version").as_deref(), Some("enterprise-server@3.17.0"));
    let host = sim.base_url().trim_start_matches("http://").trim_end_matches("/api/v3").to_string();
    assert_eq!(header("X-GitHub-Enterprise-Host"), Some(host));
}
