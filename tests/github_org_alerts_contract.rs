//! Contract of `GitHub::org_open_alerts` on the real `OctocrabGitHub` against the simulator: every page of an
//! organization's alert list (page numbers for code scanning, cursors for Dependabot), each alert with its
//! repository, an unchanged re-read that costs no primary point, and GitHub's refusal of a credential that is not
//! an owner or security manager. The same for what tells a product on without alerts from off: the repositories
//! with code scanning's default setup (`code_scanning_default_setup_repositories`) and the listing's secret
//! scanning.

// The bed is shared with `github_contract.rs`, which uses the parts this file does not.
#[allow(dead_code)]
#[path = "github_contract/bed.rs"]
mod bed;

use bed::bed_with;
use github_sim::fixture::{CodeScanningAlertFixture, CodeSecurityConfigurationFixture, DependabotAlertFixture};
use github_sim::Fixture;
use infinity_orchestrator::github::{AlertSource, Credentials, Error, GitHub, RepoRef};

/// Repositories, each with one open Dependabot and one open code-scanning alert: more than a page of 100.
const REPOSITORIES: usize = 120;

fn fixture() -> Fixture {
    let mut fixture = Fixture::generated_org("acme", REPOSITORIES);
    for repo in &mut fixture.orgs[0].repos {
        repo.alerts.dependabot.push(DependabotAlertFixture {
            package: "openssl".into(),
            ecosystem: "cargo".into(),
            severity: "critical".into(),
            manifest_path: "Cargo.lock".into(),
            ..Default::default()
        });
        repo.alerts.code_scanning.push(CodeScanningAlertFixture {
            rule_id: "rust/cleartext-logging".into(),
            security_severity: Some("high".into()),
            path: "src/main.rs".into(),
            ..Default::default()
        });
    }
    fixture.orgs[0].security_managers = vec!["test-token".into()];
    fixture.tokens.push("outsider-token".into());
    fixture
}

#[tokio::test]
async fn every_page_of_an_organizations_alerts_is_read_and_an_unchanged_reread_costs_nothing() {
    let bed = bed_with(fixture()).await;
    let github = bed.client();
    let mut expected: Vec<RepoRef> = (0..REPOSITORIES).map(|i| RepoRef::new("acme", format!("repo-{i:05}"))).collect();
    expected.sort();
    for source in [AlertSource::Dependabot, AlertSource::CodeScanning] {
        let alerts = github.org_open_alerts("acme", source).await.expect("the organization's alerts");
        let mut repos: Vec<RepoRef> = alerts.iter().map(|a| a.repo.clone()).collect();
        repos.sort();
        assert_eq!(repos, expected, "{source:?}: one alert per repository, over two pages");
        assert!(alerts.iter().all(|a| a.alert.severity.is_some()), "{source:?}");
    }
    let secrets = github.org_open_alerts("acme", AlertSource::SecretScanning).await.expect("answer");
    assert!(secrets.is_empty(), "secret scanning is off everywhere: no repository is listed");
    let first = bed.log();
    let queries: Vec<String> = first.iter().map(|r| r.query.clone().unwrap_or_default()).collect();
    assert_eq!(first.len(), 5, "two pages of each list, one of the empty one: {queries:?}");
    assert!(queries[1].contains("after=") && !queries[1].contains("&page="), "Dependabot by cursor: {}", queries[1]);
    assert!(queries[3].contains("page=2"), "code scanning by page number: {}", queries[3]);

    for source in [AlertSource::Dependabot, AlertSource::CodeScanning, AlertSource::SecretScanning] {
        github.org_open_alerts("acme", source).await.expect("the same alerts");
    }
    let again: Vec<_> = bed.log().into_iter().skip(first.len()).collect();
    assert!(again.iter().all(|r| r.status == 304 && !r.counted), "every page revalidated for free");
    assert_eq!(again.len(), 5);
    bed.assert_conformant();
}

#[tokio::test]
async fn a_credential_that_may_not_read_the_organizations_alerts_is_refused() {
    let bed = bed_with(fixture()).await;
    let outsider = bed.client_with(Credentials::Token("outsider-token".into()), |_| {});
    let code = outsider.org_open_alerts("acme", AlertSource::CodeScanning).await;
    assert!(matches!(code, Err(Error::NotFound { .. })), "{code:?}");
    let dependabot = outsider.org_open_alerts("acme", AlertSource::Dependabot).await;
    assert!(matches!(dependabot, Err(Error::Permission { status: 403, .. })), "{dependabot:?}");
    bed.assert_conformant();
}

/// `acme` of [`REPOSITORIES`] repositories, secret scanning on in the even ones; the first 105 attached to a
/// configuration with default setup (two pages), one more to a configuration without.
fn configured() -> Fixture {
    let mut fixture = Fixture::generated_org("acme", REPOSITORIES);
    let org = &mut fixture.orgs[0];
    for (i, repo) in org.repos.iter_mut().enumerate() {
        repo.security.secret_scanning = i % 2 == 0;
    }
    let names = |range: std::ops::Range<usize>| range.map(|i| format!("repo-{i:05}")).collect::<Vec<_>>();
    let configuration = |name: &str, default_setup: &str, repositories| CodeSecurityConfigurationFixture {
        name: name.into(),
        code_scanning_default_setup: default_setup.into(),
        repositories,
    };
    let (default_setup, advanced) = (names(0..105), names(110..111));
    org.code_security_configurations =
        vec![configuration("default", "enabled", default_setup), configuration("advanced", "disabled", advanced)];
    org.security_managers = vec!["test-token".into()];
    fixture.tokens.push("outsider-token".into());
    fixture
}

#[tokio::test]
async fn a_security_manager_reads_default_setup_and_secret_scanning_organization_wide_and_others_are_refused() {
    let bed = bed_with(configured()).await;
    let github = bed.client();
    let mut attached = github.code_scanning_default_setup_repositories("acme").await.expect("the configurations");
    attached.sort();
    let expected: Vec<String> = (0..105).map(|i| format!("repo-{i:05}")).collect();
    assert_eq!(attached, expected, "the default-setup configuration's repositories only, over two pages");
    let queries: Vec<String> = bed.log().iter().map(|r| r.query.clone().unwrap_or_default()).collect();
    assert!(queries.iter().any(|q| q.contains("after=")), "paged by cursor: {queries:?}");
    let listed = github.list_org_repos("acme").await.expect("the listing");
    let secret_scanning: Vec<Option<bool>> = listed.iter().map(|repo| repo.secret_scanning).collect();
    let expected: Vec<Option<bool>> = (0..REPOSITORIES).map(|i| Some(i % 2 == 0)).collect();
    assert_eq!(secret_scanning, expected, "the listing's security_and_analysis");

    let seen = bed.log().len();
    github.code_scanning_default_setup_repositories("acme").await.expect("the same configurations");
    let again: Vec<_> = bed.log().into_iter().skip(seen).collect();
    assert!(again.iter().all(|r| r.status == 304 && !r.counted), "revalidated for free: {again:?}");

    let outsider = bed.client_with(Credentials::Token("outsider-token".into()), |_| {});
    let refused = outsider.code_scanning_default_setup_repositories("acme").await;
    assert!(matches!(refused, Err(Error::Permission { status: 403, .. })), "{refused:?}");
    let listed = outsider.list_org_repos("acme").await.expect("the listing");
    assert!(listed.iter().all(|repo| repo.secret_scanning.is_none()), "not shown to this caller");
    bed.assert_conformant();
}
