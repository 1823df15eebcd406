//! Where an organization-wide reader learns which security products are on without reading each repository's
//! alert lists: GraphQL `Repository.hasVulnerabilityAlertsEnabled`, the repositories' `security_and_analysis` (an
//! owner or security manager only), and the organization's code security configurations with their repositories.

mod support;

use github_sim::fixture::{
    AlertsFixture, CodeSecurityConfigurationFixture, DependabotAlertFixture, OrgFixture, RepoFixture,
    SecretScanningAlertFixture, SecurityFixture,
};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};

const OUTSIDER: (&str, &str) = ("authorization", "token outsider-token");

/// A repository of `acme` with the given products enabled (code scanning, Dependabot, secret scanning).
fn repo(name: &str, visibility: &str, [code_scanning, dependabot, secret_scanning]: [bool; 3]) -> RepoFixture {
    RepoFixture {
        name: name.into(),
        visibility: visibility.into(),
        security: SecurityFixture { code_scanning, dependabot, secret_scanning, ..Default::default() },
        ..Default::default()
    }
}

/// `acme`: `all-on` (private), `alerts-only` (products off, but with Dependabot and secret-scanning alerts),
/// `all-off` (public), `code-only` (private); `test-token` is its security manager, `outsider-token` is not.
fn fixture(configurations: Vec<CodeSecurityConfigurationFixture>) -> Fixture {
    let mut alerts_only = repo("alerts-only", "private", [false; 3]);
    alerts_only.alerts = AlertsFixture {
        dependabot: vec![DependabotAlertFixture {
            package: "p".into(),
            ecosystem: "npm".into(),
            manifest_path: "package-lock.json".into(),
            ..Default::default()
        }],
        secret_scanning: vec![SecretScanningAlertFixture { secret_type: "t".into(), ..Default::default() }],
        ..Default::default()
    };
    let repos = vec![
        repo("all-on", "private", [true; 3]),
        alerts_only,
        repo("all-off", "public", [false; 3]),
        repo("code-only", "private", [true, false, false]),
    ];
    Fixture {
        orgs: vec![OrgFixture {
            login: "acme".into(),
            repos,
            security_managers: vec!["test-token".into()],
            code_security_configurations: configurations,
        }],
        tokens: vec!["test-token".into(), "outsider-token".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn has_vulnerability_alerts_enabled_follows_the_dependabot_alert_list_and_costs_one_point() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let query = "query { rateLimit { cost } \
        a: repository(owner: \"acme\", name: \"all-on\") { hasVulnerabilityAlertsEnabled } \
        b: repository(owner: \"acme\", name: \"alerts-only\") { hasVulnerabilityAlertsEnabled } \
        c: repository(owner: \"acme\", name: \"all-off\") { hasVulnerabilityAlertsEnabled } }";
    let reply = call(sim.base_url(), "POST", "/graphql", &[AUTH], Some(json!({"query": query}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let data = &reply.json()["data"];
    let enabled: Vec<&Value> =
        ["a", "b", "c"].iter().map(|alias| &data[alias]["hasVulnerabilityAlertsEnabled"]).collect();
    assert_eq!(enabled, [&json!(true), &json!(true), &json!(false)]);
    assert_eq!(data["rateLimit"]["cost"], 1, "a scalar adds no connection");
    for (name, status) in [("all-on", 200), ("alerts-only", 200), ("all-off", 403)] {
        let rest = call(sim.base_url(), "GET", &format!("/repos/acme/{name}/dependabot/alerts"), &[AUTH], None).await;
        assert_eq!(rest.status, status, "{name}: the REST list agrees");
    }
    sim.assert_conformant();
}

#[tokio::test]
async fn security_and_analysis_is_shown_to_a_security_manager_only() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let listing = call(base, "GET", "/orgs/acme/repos?per_page=100", &[AUTH], None).await.json();
    let by_name = |name: &str| {
        let found = listing.as_array().expect("array").iter().find(|r| r["name"] == name);
        found.expect("listed")["security_and_analysis"].clone()
    };
    let status = |on: bool| json!({"status": if on { "enabled" } else { "disabled" }});
    let off = status(false);
    assert_eq!(
        by_name("all-on"),
        json!({"secret_scanning": status(true), "secret_scanning_push_protection": off,
               "dependabot_security_updates": off, "advanced_security": status(true)})
    );
    assert_eq!(by_name("alerts-only")["secret_scanning"], status(true), "alerts mean the product is on");
    assert_eq!(by_name("code-only")["secret_scanning"], off);
    assert_eq!(by_name("code-only")["advanced_security"], status(true));
    assert_eq!(by_name("all-off")["secret_scanning"], off);
    assert!(by_name("all-off").get("advanced_security").is_none(), "public: no advanced_security");
    let single = call(base, "GET", "/repos/acme/all-on", &[AUTH], None).await.json();
    assert_eq!(single["security_and_analysis"], by_name("all-on"));

    let outsider = call(base, "GET", "/orgs/acme/repos?per_page=100", &[OUTSIDER], None).await.json();
    assert_eq!(outsider.as_array().expect("array").len(), 4);
    assert!(outsider.as_array().expect("array").iter().all(|r| r.get("security_and_analysis").is_none()));
    let single = call(base, "GET", "/repos/acme/all-on", &[OUTSIDER], None).await.json();
    assert!(single.get("security_and_analysis").is_none());
    sim.assert_conformant();
}

/// The path of the `rel` link of a `Link` header, without the base URL.
fn link_path(link: Option<&str>, rel: &str, base: &str) -> Option<String> {
    let part = link?.split(", ").find(|l| l.ends_with(&format!("rel=\"{rel}\"")))?;
    Some(part[1..part.find('>')?].trim_start_matches(base).to_string())
}

fn names(attachments: &Value) -> Vec<String> {
    let items = attachments.as_array().expect("array");
    items.iter().map(|a| a["repository"]["name"].as_str().expect("name").to_string()).collect()
}

#[tokio::test]
async fn without_declared_configurations_github_recommended_holds_the_repositories_with_code_scanning_enabled() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let listed = call(base, "GET", "/orgs/acme/code-security/configurations", &[AUTH], None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed = listed.json();
    assert_eq!(listed.as_array().expect("array").len(), 1);
    let recommended = &listed[0];
    assert_eq!(
        (&recommended["id"], &recommended["name"], &recommended["target_type"]),
        (&json!(17), &json!("GitHub recommended"), &json!("global"))
    );
    assert_eq!(recommended["code_scanning_default_setup"], "enabled");
    let global = call(base, "GET", "/orgs/acme/code-security/configurations?target_type=global", &[AUTH], None).await;
    assert_eq!(global.json(), listed);

    let path = "/orgs/acme/code-security/configurations/17/repositories";
    let attached = call(base, "GET", path, &[AUTH], None).await.json();
    assert_eq!(names(&attached), ["all-on", "code-only"], "code scanning enabled; alerts-only has no code scanning");
    assert!(attached.as_array().expect("array").iter().all(|a| a["status"] == "attached"));
    assert_eq!(attached[0]["repository"]["full_name"], "acme/all-on");
    let filtered = call(base, "GET", &format!("{path}?status=attached,enforced"), &[AUTH], None).await.json();
    assert_eq!(names(&filtered), ["all-on", "code-only"]);
    let detached = call(base, "GET", &format!("{path}?status=detached"), &[AUTH], None).await.json();
    assert_eq!(detached, json!([]));
    sim.assert_conformant();
}

#[tokio::test]
async fn declared_configurations_replace_the_default_and_enabling_default_setup_turns_code_scanning_on() {
    let configurations = vec![
        CodeSecurityConfigurationFixture {
            name: "default setup".into(),
            code_scanning_default_setup: "enabled".into(),
            repositories: vec!["all-off".into(), "alerts-only".into()],
        },
        CodeSecurityConfigurationFixture {
            name: "advanced".into(),
            code_scanning_default_setup: "disabled".into(),
            repositories: vec!["code-only".into()],
        },
    ];
    let sim = Simulator::start(fixture(configurations), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let listed = call(base, "GET", "/orgs/acme/code-security/configurations", &[AUTH], None).await.json();
    let listed = listed.as_array().expect("array").clone();
    let summary: Vec<(&Value, &Value, &Value)> =
        listed.iter().map(|c| (&c["name"], &c["target_type"], &c["code_scanning_default_setup"])).collect();
    assert_eq!(
        summary,
        [
            (&json!("default setup"), &json!("organization"), &json!("enabled")),
            (&json!("advanced"), &json!("organization"), &json!("disabled"))
        ]
    );
    let global = call(base, "GET", "/orgs/acme/code-security/configurations?target_type=global", &[AUTH], None).await;
    assert_eq!(global.json(), json!([]), "no global configuration when the organization declares its own");
    let repositories = |id: &Value| format!("/orgs/acme/code-security/configurations/{id}/repositories");
    let attached = call(base, "GET", &repositories(&listed[0]["id"]), &[AUTH], None).await.json();
    assert_eq!(names(&attached), ["alerts-only", "all-off"]);
    let attached = call(base, "GET", &repositories(&listed[1]["id"]), &[AUTH], None).await.json();
    assert_eq!(names(&attached), ["code-only"]);
    let scanning = call(base, "GET", "/repos/acme/all-off/code-scanning/alerts", &[AUTH], None).await;
    assert_eq!(scanning.status, 200, "attached to default setup: code scanning is on");
    for unknown in ["17", "999999", "default"] {
        let reply = call(base, "GET", &repositories(&json!(unknown)), &[AUTH], None).await;
        assert_eq!(reply.status, 404, "{unknown}");
    }
    sim.assert_conformant();
}

#[tokio::test]
async fn configurations_answer_only_an_owner_or_security_manager() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    for path in ["/orgs/acme/code-security/configurations", "/orgs/acme/code-security/configurations/17/repositories"] {
        let refused = call(base, "GET", path, &[OUTSIDER], None).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert!(refused.json()["message"].is_string());
        let unknown = call(base, "GET", &path.replace("acme", "nobody"), &[AUTH], None).await;
        assert_eq!(unknown.status, 404, "{path}");
    }
    sim.assert_conformant();
}

#[tokio::test]
async fn attached_repositories_page_by_cursor_both_ways_and_answer_304_while_unchanged() {
    let mut fixture = fixture(Vec::new());
    let extra = (0..5).map(|i| repo(&format!("scanned-{i}"), "private", [true, false, false]));
    fixture.orgs[0].repos.extend(extra);
    let sim = Simulator::start(fixture, SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let mut path = Some("/orgs/acme/code-security/configurations/17/repositories?per_page=3&page=2".to_string());
    let (mut seen, mut last) = (Vec::new(), None);
    while let Some(next) = path {
        let reply = call(base, "GET", &next, &[AUTH], None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let link = reply.header("link").map(str::to_string);
        assert!(link.as_deref().is_none_or(|l| !l.contains("&page=") && !l.contains("rel=\"last\"")), "{link:?}");
        seen.extend(names(&reply.json()));
        path = link_path(link.as_deref(), "next", base);
        last = link;
    }
    let mut expected = vec!["all-on".to_string(), "code-only".to_string()];
    expected.extend((0..5).map(|i| format!("scanned-{i}")));
    assert_eq!(seen, expected, "every attached repository once, `page` ignored");
    let previous = link_path(last.as_deref(), "prev", base).expect("prev on the last page");
    assert_eq!(
        names(&call(base, "GET", &previous, &[AUTH], None).await.json()),
        ["scanned-1", "scanned-2", "scanned-3"],
        "the page before the last"
    );

    for path in ["/orgs/acme/code-security/configurations", "/orgs/acme/code-security/configurations/17/repositories"] {
        let first = call(base, "GET", path, &[AUTH], None).await;
        let etag = first.header("etag").expect("etag").to_string();
        let again = call(base, "GET", path, &[AUTH, ("if-none-match", &etag)], None).await;
        assert_eq!((again.status, again.body.as_str()), (304, ""), "{path}");
        let spent = sim.requests().last().map(|r| r.counted);
        assert_eq!(spent, Some(false), "{path}: a 304 costs nothing");
    }
    let path = "/orgs/acme/code-security/configurations/17/repositories";
    let etag = call(base, "GET", path, &[AUTH], None).await.header("etag").expect("etag").to_string();
    sim.add_repo("acme", repo("scanned-later", "private", [true, false, false]));
    let changed = call(base, "GET", path, &[AUTH, ("if-none-match", &etag)], None).await;
    assert_eq!(changed.status, 200, "a newly attached repository changes the list");
    assert!(names(&changed.json()).contains(&"scanned-later".to_string()));
    sim.assert_conformant();
}

#[tokio::test]
async fn dependabot_alerts_and_security_updates_are_turned_on_as_github_documents() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let alerts = "/repos/acme/all-off/vulnerability-alerts";
    let fixes = "/repos/acme/all-off/automated-security-fixes";
    assert_eq!(call(base, "GET", alerts, &[AUTH], None).await.status, 404, "off");
    assert_eq!(call(base, "GET", fixes, &[AUTH], None).await.status, 404, "no Dependabot: Not Found");
    let refused = call(base, "PUT", fixes, &[AUTH], None).await;
    assert_eq!(refused.status, 422, "security updates need Dependabot alerts on");
    assert!(refused.json()["message"].as_str().unwrap_or_default().contains("Vulnerability alerts must be enabled"));

    for _ in 0..2 {
        let enabled = call(base, "PUT", alerts, &[AUTH], None).await;
        assert_eq!((enabled.status, enabled.body.as_str()), (204, ""), "204 without a body, also when on already");
    }
    assert_eq!(call(base, "GET", alerts, &[AUTH], None).await.status, 204);
    assert_eq!(call(base, "GET", "/repos/acme/all-off/dependabot/alerts", &[AUTH], None).await.status, 200);
    assert_eq!(call(base, "GET", fixes, &[AUTH], None).await.json(), json!({"enabled": false, "paused": false}));
    assert_eq!(call(base, "PUT", fixes, &[AUTH], None).await.status, 204);
    assert_eq!(call(base, "GET", fixes, &[AUTH], None).await.json(), json!({"enabled": true, "paused": false}));
    let repo = call(base, "GET", "/repos/acme/all-off", &[AUTH], None).await.json();
    assert_eq!(repo["security_and_analysis"]["dependabot_security_updates"], json!({"status": "enabled"}));
    sim.assert_conformant();
}

#[tokio::test]
async fn secret_scanning_is_turned_on_where_the_plan_allows_it_and_refused_elsewhere() {
    let sim = Simulator::start(fixture(Vec::new()), SimOptions::default()).await.expect("start");
    let licensed = RepoFixture {
        name: "licensed".into(),
        visibility: "private".into(),
        security: SecurityFixture { advanced_security: true, ..Default::default() },
        ..Default::default()
    };
    sim.add_repo("acme", licensed);
    sim.add_repo("acme", repo("plain", "private", [false; 3]));
    let base = sim.base_url();
    let enable = json!({"security_and_analysis": {"secret_scanning": {"status": "enabled"}}});

    let refused = call(base, "PATCH", "/repos/acme/plain", &[AUTH], Some(enable.clone())).await;
    assert_eq!(refused.status, 422, "private without Advanced Security: {}", refused.body);
    assert!(refused.json()["message"].as_str().unwrap_or_default().contains("Advanced Security"));
    let plain = call(base, "GET", "/repos/acme/plain", &[AUTH], None).await.json();
    assert_eq!(plain["security_and_analysis"]["secret_scanning"], json!({"status": "disabled"}), "unchanged");

    for name in ["all-off", "licensed"] {
        let path = format!("/repos/acme/{name}");
        let changed = call(base, "PATCH", &path, &[AUTH], Some(enable.clone())).await;
        assert_eq!(changed.status, 200, "{name}: {}", changed.body);
        assert_eq!(changed.json()["security_and_analysis"]["secret_scanning"], json!({"status": "enabled"}), "{name}");
        let listed = call(base, "GET", &format!("{path}/secret-scanning/alerts"), &[AUTH], None).await;
        assert_eq!(listed.status, 200, "{name}: its alert list answers now");
    }
    let unserved = call(base, "PATCH", "/repos/acme/all-off", &[AUTH], Some(json!({"description": "x"}))).await;
    assert_eq!(unserved.status, 422, "a field the simulator does not serve is refused, not ignored");
    sim.assert_conformant();
}
