//! The organization-level alert lists: each alert with its repository, repositories with the product off left out,
//! GitHub's pagination per product (page numbers for code and secret scanning, cursors for Dependabot), ETags, and
//! GitHub's refusal of a credential that is not an owner or security manager.

mod support;

use github_sim::fixture::{
    CodeScanningAlertFixture, DependabotAlertFixture, OrgFixture, RepoFixture, SecretScanningAlertFixture,
    SecurityFixture,
};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::Value;
use support::{call, AUTH};

const OUTSIDER: (&str, &str) = ("authorization", "token outsider-token");

/// `acme` with `with-alerts-N` (one open and one closed alert of each product, `count` of them) and `all-off`
/// (every product off); `test-token` is its security manager, `outsider-token` is not.
fn fixture(count: usize) -> Fixture {
    let with_alerts = |i: usize| RepoFixture {
        name: format!("with-alerts-{i}"),
        security: SecurityFixture {
            code_scanning: true,
            dependabot: true,
            secret_scanning: true,
            ..Default::default()
        },
        alerts: github_sim::fixture::AlertsFixture {
            code_scanning: vec![
                CodeScanningAlertFixture { rule_id: "r".into(), path: "a.rs".into(), ..Default::default() },
                CodeScanningAlertFixture {
                    rule_id: "r".into(),
                    path: "b.rs".into(),
                    state: "fixed".into(),
                    ..Default::default()
                },
            ],
            dependabot: vec![
                DependabotAlertFixture {
                    package: "p".into(),
                    ecosystem: "npm".into(),
                    manifest_path: "package-lock.json".into(),
                    ..Default::default()
                },
                DependabotAlertFixture {
                    package: "q".into(),
                    ecosystem: "npm".into(),
                    manifest_path: "package-lock.json".into(),
                    state: "fixed".into(),
                    ..Default::default()
                },
            ],
            secret_scanning: vec![
                SecretScanningAlertFixture { secret_type: "t".into(), ..Default::default() },
                SecretScanningAlertFixture { secret_type: "t".into(), state: "resolved".into() },
            ],
        },
        ..Default::default()
    };
    let mut repos: Vec<RepoFixture> = (0..count).map(with_alerts).collect();
    repos.push(RepoFixture { name: "all-off".into(), ..Default::default() });
    Fixture {
        orgs: vec![OrgFixture {
            login: "acme".into(),
            repos,
            security_managers: vec!["test-token".into()],
            ..Default::default()
        }],
        tokens: vec!["test-token".into(), "outsider-token".into()],
        ..Default::default()
    }
}

fn repositories(list: &Value) -> Vec<String> {
    let items = list.as_array().expect("array");
    items.iter().map(|alert| alert["repository"]["full_name"].as_str().expect("repository").to_string()).collect()
}

/// The path of the `rel` link of a `Link` header, without the base URL.
fn link_path(link: Option<&str>, rel: &str, base: &str) -> Option<String> {
    let part = link?.split(", ").find(|l| l.ends_with(&format!("rel=\"{rel}\"")))?;
    Some(part[1..part.find('>')?].trim_start_matches(base).to_string())
}

#[tokio::test]
async fn each_open_alert_comes_with_its_repository_and_repositories_with_the_product_off_are_absent() {
    let sim = Simulator::start(fixture(2), SimOptions::default()).await.expect("start");
    for product in ["code-scanning", "dependabot", "secret-scanning"] {
        let reply =
            call(sim.base_url(), "GET", &format!("/orgs/acme/{product}/alerts?state=open"), &[AUTH], None).await;
        assert_eq!(reply.status, 200, "{product}: {}", reply.body);
        let mut names = repositories(&reply.json());
        names.sort();
        assert_eq!(names, ["acme/with-alerts-0", "acme/with-alerts-1"], "{product}: open alerts only, all-off absent");
        assert!(reply.json()[0]["repository"]["owner"]["login"] == "acme", "{product}");
    }
    sim.assert_conformant();
}

#[tokio::test]
async fn code_and_secret_scanning_page_by_number_and_dependabot_by_cursor() {
    let sim = Simulator::start(fixture(5), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    for product in ["code-scanning", "secret-scanning"] {
        let first =
            call(base, "GET", &format!("/orgs/acme/{product}/alerts?state=open&per_page=2"), &[AUTH], None).await;
        let link = first.header("link").expect("link").to_string();
        assert!(link.contains("page=3>; rel=\"last\""), "{product}: {link}");
        let last = call(base, "GET", &link_path(Some(&link), "last", base).expect("last"), &[AUTH], None).await;
        assert_eq!(repositories(&last.json()).len(), 1, "{product}: 5 alerts, 2 a page");
    }
    let mut path = Some("/orgs/acme/dependabot/alerts?state=open&per_page=2&page=2".to_string());
    let mut seen = Vec::new();
    while let Some(next) = path {
        let reply = call(base, "GET", &next, &[AUTH], None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let link = reply.header("link").map(str::to_string);
        assert!(link.as_deref().is_none_or(|l| !l.contains("&page=") && !l.contains("rel=\"last\"")), "{link:?}");
        seen.extend(repositories(&reply.json()));
        path = link_path(link.as_deref(), "next", base);
    }
    seen.sort();
    let expected: Vec<String> = (0..5).map(|i| format!("acme/with-alerts-{i}")).collect();
    assert_eq!(seen, expected, "every open alert once, `page` ignored");
    sim.assert_conformant();
}

#[tokio::test]
async fn an_unchanged_list_answers_304_to_its_etag() {
    let sim = Simulator::start(fixture(1), SimOptions::default()).await.expect("start");
    let path = "/orgs/acme/dependabot/alerts?state=open&per_page=100";
    let first = call(sim.base_url(), "GET", path, &[AUTH], None).await;
    let etag = first.header("etag").expect("etag").to_string();
    let again = call(sim.base_url(), "GET", path, &[AUTH, ("if-none-match", &etag)], None).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    sim.assert_conformant();
}

#[tokio::test]
async fn a_credential_that_is_not_an_owner_or_security_manager_is_refused_as_github_documents() {
    let sim = Simulator::start(fixture(1), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    for (product, status) in [("code-scanning", 404), ("dependabot", 403), ("secret-scanning", 404)] {
        let reply = call(base, "GET", &format!("/orgs/acme/{product}/alerts"), &[OUTSIDER], None).await;
        assert_eq!(reply.status, status, "{product}: {}", reply.body);
        let repo = call(base, "GET", &format!("/repos/acme/with-alerts-0/{product}/alerts"), &[OUTSIDER], None).await;
        assert_eq!(repo.status, 200, "{product}: the repository's own list stays readable");
        let unknown = call(base, "GET", &format!("/orgs/nobody/{product}/alerts"), &[AUTH], None).await;
        assert_eq!(unknown.status, 404, "{product}");
    }
    sim.assert_conformant();
}
