//! Contract tests of the real `OctocrabGitHub` against the GitHub simulator (`github_sim`): each method of the
//! `GitHub` trait, the pipeline's behaviour under rate limits and faults, and conformance of every request the client
//! sent (and every answer it got) to GitHub's official OpenAPI description. Simulated time is the client's time
//! (see `github_contract/bed.rs`), so waits are instant and exact.

#[path = "github_contract/bed.rs"]
mod bed;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bed::{bed, bed_with, APP_ID, INSTALLATION_ID};
use futures::stream::{self, StreamExt};
use github_sim::content_creation::ContentCreationLimit;
use github_sim::faults::{decide, Choice, FaultDecision, SecondaryLimit};
use github_sim::{FaultConfig, Fixture};
use infinity_orchestrator::clock::Clock;
use infinity_orchestrator::github::{
    AlertSource, Alerts, Credentials, Error, FileChange, GitHub, IssueFields, IssueState, PullRequestChange, RepoRef,
    RunFilter,
};

/// A repository with history, alerts, issues, a pull request and past runs.
const SVC: &str = r##"
name: svc
language: Rust
topics: [ci, rust]
files:
  Cargo.toml: "[package]\nname = 'svc'\n"
  README.md: "# svc\n"
  .github/workflows/build.yml: "name: build\nrun-name: build ${{ inputs.correlation_id }}\non:\n  workflow_dispatch:\n    inputs: {correlation_id: {}, target: {}}\n"
workflows:
  - {path: .github/workflows/build.yml, outcome: {result: failure, duration_secs: 120}}
commits: [{message: first, date: "2025-12-30T00:00:00Z"}, {message: second}]
security: {secret_scanning: false}
alerts:
  code_scanning: [{rule_id: rust/cleartext-logging, severity: error, security_severity: high, path: src/main.rs}]
  dependabot:
    - {package: openssl, ecosystem: cargo, severity: critical, vulnerable_version_range: "< 0.10.70",
       first_patched_version: 0.10.70, manifest_path: Cargo.lock}
    - {package: time, ecosystem: cargo, severity: low, vulnerable_version_range: "< 0.2.23", manifest_path: Cargo.lock,
       state: fixed}
issues: [{title: flaky test, labels: [ci]}, {title: docs, labels: [docs]}]
pull_requests: [{title: bump serde, head: deps/serde, files: {Cargo.toml: "serde = '1'\n"}}]
runs: [{conclusion: failure, duration_secs: 300}, {conclusion: success, duration_secs: 240}]
"##;

fn svc() -> RepoRef {
    RepoRef::new("acme", "svc")
}

fn generated(name: &str) -> RepoRef {
    RepoRef::new("acme", name)
}

/// What a discovery pass reads per repository: metadata, the head, its tree and a manifest.
async fn discovery_pass(github: &dyn GitHub) -> usize {
    let repos = github.list_org_repos("acme").await.expect("list");
    let reads = stream::iter(repos.iter().map(|r| RepoRef::new("acme", r.name.clone())))
        .map(|repo| async move {
            let meta = github.repository(&repo).await.expect("metadata");
            let branch = meta.default_branch.expect("default branch");
            let head = github.branch_head(&repo, &branch).await.expect("head").expect("branch exists");
            let tree = github.tree(&repo, &head).await.expect("tree");
            let manifest = github.file_contents(&repo, "Cargo.toml", None).await.expect("manifest");
            assert!(manifest.is_some() && tree.tree.iter().any(|e| e.path == "Cargo.toml"));
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    reads.len()
}

#[tokio::test]
async fn rereading_an_unchanged_org_of_500_repositories_costs_zero_primary_points() {
    let bed = bed(500).await;
    let github = bed.client();
    assert_eq!(discovery_pass(&github).await, 500);
    let first = bed.log();
    let first_points = first.iter().filter(|r| r.counted).count();
    assert_eq!(first_points, 5 + 500 * 4, "5 list pages, then metadata, head, tree and manifest per repository");

    let second_pass = discovery_pass(&github).await;
    let second: Vec<_> = bed.log().into_iter().skip(first.len()).collect();
    assert_eq!((second_pass, second.len()), (500, 2005));
    let second_points = second.iter().filter(|r| r.counted).count();
    assert!(second.iter().all(|r| r.status == 304), "every re-read is a 304");
    assert_eq!(second_points, 0, "primary points spent on the re-read (from the simulator's request log)");
    println!("500-repository org: first pass {first_points} points, unchanged re-read {second_points} points");
    bed.assert_conformant();
}

#[tokio::test]
async fn pagination_reads_more_than_1000_items() {
    let bed = bed_with(Fixture::generated_org("acme", 1234)).await;
    let repos = bed.client().list_org_repos("acme").await.expect("read");
    let names: Vec<String> = repos.iter().map(|r| r.name.clone()).collect();
    let expected: Vec<String> = (0..1234).map(|i| format!("repo-{i:05}")).collect();
    assert_eq!(names, expected, "every page once, in order");
    let pages: Vec<String> = bed.log().iter().map(|r| r.query.clone().unwrap_or_default()).collect();
    assert_eq!(pages.len(), 13);
    assert!(pages[12].ends_with("page=13"), "{pages:?}");
    bed.assert_conformant();
}

#[tokio::test]
async fn a_conditional_read_reuses_the_cached_body_and_a_change_is_seen() {
    let bed = bed(3).await;
    let github = bed.client();
    let repo = generated("repo-00001");
    let first = github.repository(&repo).await.expect("first");
    assert_eq!(github.repository(&repo).await.expect("second"), first);
    let edit = github_sim::control::RepoEdit { topics: Some(vec!["new".into()]), ..Default::default() };
    assert!(bed.sim.edit_repo("acme", "repo-00001", edit));
    assert_eq!(github.topics(&repo).await.expect("topics"), vec!["new".to_string()]);
    assert_eq!(github.repository(&repo).await.expect("third").topics, vec!["new".to_string()], "a changed body");
    let statuses: Vec<(u16, bool)> = bed.log().iter().map(|r| (r.status, r.counted)).collect();
    assert_eq!(statuses, vec![(200, true), (304, false), (200, true), (200, true)]);
    bed.assert_conformant();
}

#[tokio::test]
async fn an_exhausted_budget_is_waited_out_until_the_reset() {
    let bed = bed(1).await;
    bed.sim.set_rate_limit(5000, 0, 120);
    let repos = bed.client().list_org_repos("acme").await.expect("succeeds after the reset");
    assert_eq!(repos.len(), 1);
    assert_eq!(bed.time.sleeps(), vec![Duration::from_secs(120)], "waited exactly until the announced reset");
    let statuses: Vec<u16> = bed.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 200]);
    bed.assert_conformant();
}

#[tokio::test]
async fn a_budget_spent_beyond_the_wait_bound_is_a_rate_limited_error_with_the_reset() {
    let bed = bed(1).await;
    bed.sim.set_rate_limit(5000, 0, 3600);
    let reset = bed.time.now().as_second() + 3600;
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| {
        c.policy.max_rate_limit_wait = Duration::from_secs(600);
    });
    let error = github.list_org_repos("acme").await.expect_err("must not wait an hour");
    assert!(matches!(error, Error::RateLimited { until } if until.as_second() == reset), "{error:?}");
    assert!(bed.time.sleeps().is_empty(), "no wait beyond the bound");
    bed.assert_conformant();
}

#[tokio::test]
async fn a_secondary_limit_backs_off_by_retry_after_then_succeeds() {
    let bed = bed(250).await;
    let limit = SecondaryLimit { after_requests: 1, retry_after_secs: 7, ..SecondaryLimit::default() };
    bed.sim.set_faults(FaultConfig { secondary_limit: Some(limit), ..FaultConfig::default() });
    let repos = bed.client().list_org_repos("acme").await.expect("succeeds after backing off");
    assert_eq!(repos.len(), 250);
    let statuses: Vec<u16> = bed.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 403, 200, 403, 200], "one page per window of the limit");
    let sleeps = bed.time.sleeps();
    assert_eq!(sleeps.len(), 2);
    // retry-after plus at most 10% jitter.
    assert!(sleeps.iter().all(|s| *s >= Duration::from_secs(7) && *s <= Duration::from_millis(7700)), "{sleeps:?}");
    bed.assert_conformant();
}

#[tokio::test]
async fn server_errors_on_reads_are_retried_with_backoff() {
    let bed = bed(500).await;
    let faults = FaultConfig { server_error_rate: 0.3, ..FaultConfig::default() };
    // A seed that fails one of the first five requests, so the retries are exercised.
    let faults = (0..1000)
        .map(|seed| FaultConfig { seed, ..faults.clone() })
        .find(|f| decisions(f, 5).iter().any(|d| matches!(d, FaultDecision::ServerError(_))))
        .expect("a seed");
    bed.sim.set_faults(faults);
    let repos = bed.client().list_org_repos("acme").await.expect("retries hide the 5xx");
    assert_eq!(repos.len(), 500);
    let log = bed.log();
    let failures = log.iter().filter(|r| r.answer_injected()).count();
    assert!(failures > 0, "the seed injects at least one 5xx");
    assert_eq!(log.iter().filter(|r| r.status == 200).count(), 5);
    assert_eq!(bed.time.sleeps().len(), failures, "one backoff per failed attempt");
    bed.assert_conformant();
}

/// The first `n` fault decisions a seed makes, as the simulator will make them.
fn decisions(faults: &FaultConfig, n: usize) -> Vec<FaultDecision> {
    let mut rng = fastrand::Rng::with_seed(faults.seed);
    (0..n).map(|_| decide(faults, &mut rng)).collect()
}

/// A seed whose first request gets `first` and whose next three are served.
fn seed_where_first_is(first: FaultDecision, faults: FaultConfig) -> FaultConfig {
    (0..10_000)
        .map(|seed| FaultConfig { seed, ..faults.clone() })
        .find(|f| {
            let d = decisions(f, 4);
            d[0] == first && d[1..].iter().all(|d| *d == FaultDecision::Serve)
        })
        .expect("a seed with that sequence")
}

#[tokio::test]
async fn timeouts_are_retried_on_reads_and_looked_up_before_a_dispatch_is_resent() {
    let bed = bed(1).await;
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| {
        c.policy.request_timeout = Duration::from_millis(300);
    });
    let held = FaultConfig { timeout_rate: 0.5, timeout_secs: Some(1), ..FaultConfig::default() };
    bed.sim.set_faults(seed_where_first_is(FaultDecision::Timeout, held));
    assert_eq!(github.list_org_repos("acme").await.expect("read after a timeout").len(), 1);

    // A dispatch GitHub processed but answered too late: found by its correlation id, not sent again.
    let late = FaultConfig { late_response_rate: 0.5, timeout_secs: Some(1), ..FaultConfig::default() };
    bed.sim.set_faults(seed_where_first_is(FaultDecision::LateResponse, late));
    let repo = generated("repo-00000");
    github.dispatch_workflow(&repo, "build.yml", "main", &BTreeMap::new(), Some("io-late-1")).await.expect("dispatch");
    assert_eq!(bed.sim.runs("acme", "repo-00000").len(), 1);
    let log = bed.log();
    let faults: Vec<Option<&str>> = log.iter().filter(|r| r.fault.is_some()).map(|r| r.fault.as_deref()).collect();
    assert_eq!(faults, vec![Some("timeout"), Some("late_response")]);
    assert_eq!(log.iter().filter(|r| r.method == "POST").count(), 1, "the dispatch was sent once");
    bed.assert_conformant();
}

/// Dispatches `count` runs with fresh correlation ids under `faults`; per id, the runs the simulator created and the
/// dispatch requests it processed.
async fn dispatch_under_faults(faults: FaultConfig, count: usize) -> (Vec<(usize, usize)>, usize, usize) {
    let bed = bed(1).await;
    bed.sim.set_faults(faults);
    let github = bed.client();
    let repo = generated("repo-00000");
    let ids: Vec<String> = (0..count).map(|i| format!("io-{i:03}")).collect();
    for id in &ids {
        github.dispatch_workflow(&repo, "build.yml", "main", &BTreeMap::new(), Some(id)).await.expect("dispatch");
        // Dispatched at different times, as a controller would.
        bed.sim.advance_clock(30);
    }
    let runs = bed.sim.runs("acme", "repo-00000");
    let log = bed.log();
    let dispatches: Vec<_> = log.iter().filter(|r| r.method == "POST" && r.path.ends_with("/dispatches")).collect();
    let per_id = ids
        .iter()
        .map(|id| {
            let created = runs.iter().filter(|r| r["display_title"] == format!("build {id}")).count();
            let processed = dispatches
                .iter()
                .filter(|r| r.request_body.as_ref().is_some_and(|b| b["inputs"]["correlation_id"] == id.as_str()))
                .filter(|r| !matches!(r.fault.as_deref(), Some("server_error" | "timeout")))
                .count();
            (created, processed)
        })
        .collect();
    let unprocessed = dispatches.iter().filter(|r| r.fault.as_deref() == Some("server_error")).count();
    let lost = dispatches.iter().filter(|r| r.fault.as_deref() == Some("lost_response")).count();
    bed.assert_conformant();
    (per_id, unprocessed, lost)
}

#[tokio::test]
async fn a_dispatch_under_10_percent_injected_5xx_is_sent_exactly_once_across_seeds() {
    // 10% of answers are 5xx: half before GitHub processes the request, half after (the run exists, the answer is
    // lost). The second rate applies to what the first let through, so 0.05 + 0.95 × 0.05263 = 0.10.
    let (mut unprocessed_total, mut lost_total, mut dispatches) = (0, 0, 0);
    for seed in 1..=20 {
        let faults =
            FaultConfig { seed, server_error_rate: 0.05, lost_response_rate: 0.05 / 0.95, ..FaultConfig::default() };
        let (per_id, unprocessed, lost) = dispatch_under_faults(faults, 25).await;
        for (i, (created, processed)) in per_id.iter().enumerate() {
            assert_eq!((*created, *processed), (1, 1), "seed {seed}, dispatch {i}: runs created, requests processed");
        }
        unprocessed_total += unprocessed;
        lost_total += lost;
        dispatches += per_id.len();
    }
    assert!(unprocessed_total > 0 && lost_total > 0, "the seeds exercise both faults");
    println!(
        "dispatches: {dispatches} over 20 seeds, runs created per dispatch: exactly 1; injected on dispatch requests: \
         {unprocessed_total} 5xx before processing, {lost_total} 5xx after processing (lost answers)"
    );
}

#[tokio::test]
async fn app_auth_exchanges_a_token_once_and_refreshes_it_before_expiry() {
    let bed = bed(1).await;
    let github = bed.app_client();
    let repo = generated("repo-00000");
    github.repository(&repo).await.expect("first");
    github.repository(&repo).await.expect("second");
    assert_eq!(bed.sim.installation_tokens_issued(), 1, "the installation token is cached");
    // The token lives an hour; at 56 minutes it is inside the client's five-minute refresh margin.
    bed.sim.advance_clock(56 * 60);
    github.repository(&repo).await.expect("third");
    assert_eq!(bed.sim.installation_tokens_issued(), 2, "refreshed before expiry");
    // Past the first token's expiry the simulator refuses it; the client no longer uses it.
    bed.sim.advance_clock(5 * 60);
    github.repository(&repo).await.expect("fourth");
    let log = bed.log();
    let exchange_path = format!("/app/installations/{INSTALLATION_ID}/access_tokens");
    let credentials: Vec<(&str, &str)> =
        log.iter().map(|r| (r.path.as_str(), r.credential.as_deref().unwrap_or("none"))).collect();
    let app = format!("app:{APP_ID}");
    let installation = format!("installation:{INSTALLATION_ID}");
    let expected = vec![
        (exchange_path.as_str(), app.as_str()),
        ("/repos/acme/repo-00000", installation.as_str()),
        ("/repos/acme/repo-00000", installation.as_str()),
        (exchange_path.as_str(), app.as_str()),
        ("/repos/acme/repo-00000", installation.as_str()),
        ("/repos/acme/repo-00000", installation.as_str()),
    ];
    assert_eq!(credentials, expected, "a verified App JWT, then installation tokens only");
    assert!(log.iter().all(|r| r.status < 400), "no request was refused");
    bed.assert_conformant();
}

#[tokio::test]
async fn errors_are_classified_for_controllers() {
    let bed = bed(1).await;
    let missing = bed.client().repository(&generated("nope")).await.expect_err("404");
    assert_eq!(missing.category(), "not_found");
    let denied = bed.client_with(Credentials::Token("wrong".into()), |_| {}).list_org_repos("acme").await;
    assert!(matches!(denied, Err(Error::Permission { status: 401, .. })), "{denied:?}");
    let (github, repo, none) = (bed.client(), generated("repo-00000"), BTreeMap::new());
    let no_workflow = github.dispatch_workflow(&repo, "none.yml", "main", &none, Some("x")).await;
    assert_eq!(no_workflow.expect_err("404").category(), "not_found");
    let undeclared = BTreeMap::from([("target".to_string(), "all".to_string())]);
    let rejected = github.dispatch_workflow(&repo, "build.yml", "main", &undeclared, Some("y")).await;
    assert_eq!(rejected.expect_err("422").category(), "validation");
    bed.assert_conformant();
}

#[tokio::test]
async fn rate_limit_reports_the_budget_without_spending_it() {
    let bed = bed(1).await;
    bed.sim.set_rate_limit(5000, 4321, 600);
    let budget = bed.client().rate_limit().await.expect("budget");
    assert_eq!((budget.limit, budget.remaining), (5000, 4321));
    assert_eq!(budget.reset.as_second(), bed.sim.now() + 600);
    assert!(bed.log().iter().all(|r| !r.counted));
    bed.assert_conformant();
}

#[tokio::test]
async fn repository_reads_return_our_domain_types() {
    let bed = bed(0).await;
    bed.add_repo_yaml(SVC);
    let github = bed.client();
    let repo = svc();

    let languages = github.languages(&repo).await.expect("languages");
    assert_eq!(languages.keys().collect::<Vec<_>>(), vec!["Rust"]);
    assert_eq!(github.topics(&repo).await.expect("topics"), vec!["ci".to_string(), "rust".to_string()]);
    let head = github.branch_head(&repo, "main").await.expect("head").expect("main exists");
    assert!(github.branch_head(&repo, "deps/serde").await.expect("head").is_some_and(|h| h != head));
    assert_eq!(github.branch_head(&repo, "missing").await.expect("absent branch"), None);

    let tree = github.default_branch_tree(&repo).await.expect("tree");
    let blobs: Vec<&str> = tree.tree.iter().filter(|e| e.kind == "blob").map(|e| e.path.as_str()).collect();
    assert_eq!(blobs, vec![".github/workflows/build.yml", "Cargo.toml", "README.md"]);
    assert!(!tree.truncated);
    assert_eq!(github.tree(&repo, &head).await.expect("tree by sha").sha, tree.sha);

    let file = github.file_contents(&repo, "Cargo.toml", None).await.expect("file").expect("exists");
    assert_eq!(String::from_utf8(file.content).expect("utf-8"), "[package]\nname = 'svc'\n");
    let on_branch = github.file_contents(&repo, "Cargo.toml", Some("deps/serde")).await.expect("file").expect("exists");
    assert_eq!(on_branch.content, b"serde = '1'\n");
    assert_eq!(github.file_contents(&repo, "nope.txt", Some("main")).await.expect("absent file"), None);

    let workflows = github.workflows(&repo).await.expect("workflows");
    assert_eq!(workflows.iter().map(|w| w.path.as_str()).collect::<Vec<_>>(), vec![".github/workflows/build.yml"]);

    let history = github.workflow_runs(&repo, &RunFilter::default()).await.expect("past runs");
    let conclusions: Vec<Option<&str>> = history.iter().map(|r| r.conclusion.as_deref()).collect();
    assert_eq!(conclusions, vec![Some("success"), Some("failure")], "the fixture's history, newest first");

    let since = bed.time.now();
    let inputs = BTreeMap::from([("target".to_string(), "all".to_string())]);
    let named =
        github.dispatch_workflow(&repo, "build.yml", "main", &inputs, Some("io-run-1")).await.expect("dispatch");
    let run = github.workflow_run(&repo, named.expect("the answer names the run").id).await.expect("run");
    assert_eq!((run.display_title.as_str(), run.status.as_deref()), ("build io-run-1", Some("queued")));
    bed.sim.advance_clock(10); // GitHub lists a dispatched run seconds later
    let filter = RunFilter {
        workflow: Some("build.yml".into()),
        event: Some("workflow_dispatch".into()),
        created_since: Some(since),
        ..RunFilter::default()
    };
    let runs = github.workflow_runs(&repo, &filter).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![run.id]);
    let found = github.find_run_by_correlation(&repo, "build.yml", "io-run-1", since).await.expect("lookup");
    assert_eq!(found.map(|r| r.id), Some(run.id));
    assert_eq!(github.find_run_by_correlation(&repo, "build.yml", "io-run", since).await.expect("lookup"), None);
    bed.sim.advance_clock(190);
    let jobs = github.run_jobs(&repo, run.id).await.expect("jobs");
    assert_eq!(jobs.iter().map(|j| j.conclusion.as_deref()).collect::<Vec<_>>(), vec![Some("failure")]);

    let Ok(Alerts::Open(code)) = github.open_alerts(&repo, AlertSource::CodeScanning).await else {
        panic!("code scanning has alerts")
    };
    assert_eq!(code.iter().map(|a| (a.number, a.severity.as_deref())).collect::<Vec<_>>(), vec![(1, Some("high"))]);
    let Ok(Alerts::Open(dependabot)) = github.open_alerts(&repo, AlertSource::Dependabot).await else {
        panic!("dependabot alerts are on")
    };
    let open: Vec<(u64, Option<&str>)> = dependabot.iter().map(|a| (a.number, a.severity.as_deref())).collect();
    assert_eq!(open, vec![(1, Some("critical"))], "the fixed alert is not open");
    let dependency = dependabot[0].dependency.clone().expect("a Dependabot alert names its dependency");
    let fix = (dependency.package.as_str(), dependency.ecosystem.as_str(), dependency.first_patched_version.as_deref());
    assert_eq!(fix, ("openssl", "cargo", Some("0.10.70")));
    assert_eq!(dependency.manifest_path.as_deref(), Some("Cargo.lock"));
    assert_eq!(dependency.vulnerable_version_range.as_deref(), Some("< 0.10.70"));
    assert_eq!(code[0].dependency, None, "code scanning has no dependency");
    let secret = github.open_alerts(&repo, AlertSource::SecretScanning).await.expect("answer");
    assert!(matches!(secret, Alerts::Disabled { .. }), "{secret:?}");

    let ci = github.issues_by_label(&repo, &["ci".to_string()], IssueState::Open).await.expect("issues");
    assert_eq!(ci.iter().map(|i| i.number).collect::<Vec<_>>(), vec![1]);
    let all = github.issues_by_label(&repo, &[], IssueState::All).await.expect("issues");
    assert_eq!(all.iter().map(|i| i.number).collect::<Vec<_>>(), vec![2, 1], "pull request 3 is not an issue");

    let commits = github.branch_commits(&repo, "main", 1).await.expect("commits");
    assert_eq!(commits.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), vec!["second"]);
    assert_eq!(commits[0].sha, head);
    let both = github.branch_commits(&repo, "main", 10).await.expect("commits");
    assert_eq!(both.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), vec!["second", "first"]);
    assert!(both[1].authored_at.is_some_and(|t| t.to_string().starts_with("2025-12-30")));
    bed.assert_conformant();
}

#[tokio::test]
async fn issue_and_run_writes_reach_github() {
    let bed = bed(0).await;
    bed.add_repo_yaml(SVC);
    let github = bed.client();
    let repo = svc();
    let fields = IssueFields {
        title: Some("Build failing".into()),
        body: Some("<!-- io:marker -->".into()),
        labels: Some(vec!["infinity-orchestrator".into()]),
        state: None,
    };
    let issue = github.create_issue(&repo, &fields).await.expect("create");
    assert_eq!((issue.number, issue.title.as_str()), (4, "Build failing"), "after two issues and a pull request");
    let retitled = IssueFields { title: Some("Build still failing".into()), ..IssueFields::default() };
    assert_eq!(github.update_issue(&repo, issue.number, &retitled).await.expect("update").title, "Build still failing");
    github.comment_issue(&repo, issue.number, "attempt 2 failed").await.expect("comment");
    assert_eq!(github.close_issue(&repo, issue.number).await.expect("close").state, "closed");
    let labelled = vec!["infinity-orchestrator".to_string()];
    assert!(github.issues_by_label(&repo, &labelled, IssueState::Open).await.expect("open").is_empty());
    let closed = github.issues_by_label(&repo, &labelled, IssueState::Closed).await.expect("closed");
    assert_eq!(closed.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(), vec!["Build still failing"]);

    let past = github.workflow_runs(&repo, &RunFilter::default()).await.expect("runs");
    let failed = past.iter().find(|r| r.conclusion.as_deref() == Some("failure")).expect("a failed run");
    github.rerun_failed_jobs(&repo, failed.id).await.expect("rerun");
    let rerun = github.workflow_run(&repo, failed.id).await.expect("run");
    assert_eq!((rerun.run_attempt, rerun.status.as_deref()), (Some(2), Some("queued")));
    github.cancel_run(&repo, failed.id).await.expect("cancel");
    assert_eq!(github.workflow_run(&repo, failed.id).await.expect("run").conclusion.as_deref(), Some("cancelled"));

    let log = bed.log();
    let patch = log.iter().find(|r| r.method == "PATCH").expect("patch logged");
    assert_eq!(patch.request_body, Some(serde_json::json!({"title": "Build still failing"})), "only changed fields");
    let comment = log.iter().find(|r| r.path.ends_with("/comments")).expect("comment logged");
    assert_eq!(
        (comment.status, &comment.response_body.as_ref().expect("body")["body"]),
        (201, &"attempt 2 failed".into())
    );
    bed.assert_conformant();
}

#[tokio::test]
async fn a_pull_request_creates_a_branch_with_the_changes_once() {
    let bed = bed(0).await;
    bed.add_repo_yaml(SVC);
    let github = bed.client();
    let repo = svc();
    let change = PullRequestChange {
        branch: "infinity-orchestrator/bump-serde".into(),
        commit_message: "Raise serde to 1.0.200".into(),
        files: vec![
            FileChange { path: "Cargo.toml".into(), content: Some("[package]\nserde = '1.0.200'\n".into()) },
            FileChange { path: "README.md".into(), content: None },
        ],
        title: "Raise serde".into(),
        body: "Opened by Infinity Orchestrator.".into(),
        draft: false,
    };
    let first = github.open_pull_request(&repo, &change).await.expect("open");
    let again = github.open_pull_request(&repo, &change).await.expect("idempotent");
    assert_eq!(first, again);
    assert_eq!(first.state, "open");

    let files = bed.sim.files_at("acme", "svc", &change.branch).expect("the branch exists");
    assert_eq!(files.get("Cargo.toml").map(String::as_str), Some("[package]\nserde = '1.0.200'\n"));
    assert!(!files.contains_key("README.md"), "the deletion is on the branch");
    assert!(files.contains_key(".github/workflows/build.yml"), "untouched files are kept");
    let main = bed.sim.files_at("acme", "svc", "main").expect("main");
    assert!(main.contains_key("README.md"), "the default branch is unchanged");
    let pulls: Vec<(u64, String)> = bed.sim.pull_requests("acme", "svc").into_iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(pulls, vec![(3, "deps/serde".to_string()), (first.number, change.branch.clone())]);
    let commit = github.branch_commits(&repo, &change.branch, 1).await.expect("commits");
    assert_eq!(commit[0].message, "Raise serde to 1.0.200");

    let writes: Vec<String> = bed.log().iter().filter(|r| r.method != "GET").map(|r| r.path.clone()).collect();
    let expected: Vec<String> =
        ["git/trees", "git/commits", "git/refs", "pulls"].iter().map(|p| format!("/repos/acme/svc/{p}")).collect();
    assert_eq!(writes, expected, "one tree, one commit, one ref, one pull request");
    bed.assert_conformant();
}

#[tokio::test]
async fn content_creating_requests_are_paced_to_80_a_minute() {
    let bed = bed(1).await;
    let github = bed.client();
    let repo = generated("repo-00000");
    let fields = IssueFields { title: Some("t".into()), ..IssueFields::default() };
    for _ in 0..80 {
        github.create_issue(&repo, &fields).await.expect("create");
    }
    assert!(bed.time.sleeps().is_empty(), "80 writes fit in one minute");
    github.create_issue(&repo, &fields).await.expect("81st");
    assert_eq!(bed.time.sleeps(), vec![Duration::from_secs(60)], "the 81st waits for the minute to pass");
    github.rate_limit().await.expect("read");
    assert_eq!(bed.time.sleeps().len(), 1, "reads are not paced");
    bed.assert_conformant();
}

#[tokio::test]
async fn the_conformance_checker_bites_on_the_clients_own_traffic() {
    let bed = bed(1).await;
    let github = bed.client();
    let repo = generated("repo-00000");
    let since = bed.time.now();
    github.dispatch_workflow(&repo, "build.yml", "main", &BTreeMap::new(), Some("io-bite")).await.expect("dispatch");
    bed.sim.advance_clock(10); // GitHub lists a dispatched run seconds later
    let run = github.find_run_by_correlation(&repo, "build.yml", "io-bite", since).await.expect("lookup");
    github.workflow_run(&repo, run.expect("run").id).await.expect("run");
    let description = github_sim::conformance::Description::load().expect("GitHub's OpenAPI description");
    let log = bed.log();
    assert!(description.validate_log(&log).is_empty(), "the real traffic conforms");

    let mut entries: HashMap<&str, github_sim::LoggedRequest> = HashMap::new();
    for entry in &log {
        let kind = if entry.method == "POST" { "dispatch" } else { "run" };
        entries.insert(kind, entry.clone());
    }
    let mut broken_run = entries["run"].clone();
    let removed = broken_run.response_body.as_mut().and_then(|b| b.as_object_mut()).and_then(|o| o.remove("node_id"));
    assert!(removed.is_some(), "the run carried node_id");
    let violations = description.validate_log(&[broken_run]);
    assert!(violations.iter().any(|v| v.contains("missing required field `node_id`")), "{violations:#?}");

    let mut broken_dispatch = entries["dispatch"].clone();
    if let Some(body) = broken_dispatch.request_body.as_mut() {
        body["ref"] = serde_json::json!(42);
    }
    let violations = description.validate_log(&[broken_dispatch]);
    assert!(violations.iter().any(|v| v.contains("request: $.ref: expected string, got 42")), "{violations:#?}");
}

#[tokio::test]
async fn a_429_without_retry_after_is_waited_out_a_minute_at_a_time_doubling_then_succeeds() {
    let bed = bed(1).await;
    // A 90 s window in sim time: the first minute's wait is not enough, so the client must back off again.
    let limit = SecondaryLimit {
        after_requests: 1,
        retry_after_secs: 90,
        status: Choice::Always(429),
        retry_after: Choice::Always(false),
    };
    bed.sim.set_faults(FaultConfig { secondary_limit: Some(limit), ..FaultConfig::default() });
    let github = bed.client();
    assert_eq!(github.list_org_repos("acme").await.expect("served").len(), 1);
    let started = bed.sim.now();
    assert_eq!(github.list_org_repos("acme").await.expect("succeeds after waiting").len(), 1);
    let statuses: Vec<u16> = bed.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 429, 429, 304], "refused twice, then revalidated");
    let sleeps = bed.time.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!((Duration::from_secs(60)..=Duration::from_secs(66)).contains(&sleeps[0]), "at least a minute: {sleeps:?}");
    assert!((Duration::from_secs(120)..=Duration::from_secs(132)).contains(&sleeps[1]), "then doubled: {sleeps:?}");
    assert!(bed.sim.now() - started >= 90, "the sim's window passed on the sim clock");
    bed.assert_conformant();
}

#[tokio::test]
async fn a_secondary_limit_on_a_spent_budget_waits_until_the_reset() {
    let bed = bed(1).await;
    bed.sim.set_rate_limit(5000, 1, 300);
    let limit = SecondaryLimit {
        after_requests: 1,
        retry_after_secs: 30,
        status: Choice::Always(429),
        retry_after: Choice::Always(false),
    };
    bed.sim.set_faults(FaultConfig { secondary_limit: Some(limit), ..FaultConfig::default() });
    // Another client spends the last point, so this one learns of the spent budget from the secondary answer.
    bed.client().list_org_repos("acme").await.expect("the last point");
    assert_eq!(bed.client().list_org_repos("acme").await.expect("succeeds after the reset").len(), 1);
    let statuses: Vec<u16> = bed.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 429, 200]);
    let sleeps = bed.time.sleeps();
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    assert!(
        (Duration::from_secs(300)..=Duration::from_secs(330)).contains(&sleeps[0]),
        "until x-ratelimit-reset, not a minute: {sleeps:?}"
    );
    bed.assert_conformant();
}

#[tokio::test]
async fn a_403_secondary_limit_on_an_issue_creation_is_waited_out_and_the_issue_created_once() {
    let bed = bed(1).await;
    let limit = SecondaryLimit { after_requests: 1, retry_after_secs: 20, ..SecondaryLimit::default() };
    bed.sim.set_faults(FaultConfig { secondary_limit: Some(limit), ..FaultConfig::default() });
    let github = bed.client();
    github.list_org_repos("acme").await.expect("served: the window's one request");
    let fields = IssueFields { title: Some("refused first".into()), ..IssueFields::default() };
    let issue = github.create_issue(&generated("repo-00000"), &fields).await;
    let issue = issue.expect("created after the wait");
    let issues = bed.sim.issues("acme", "repo-00000");
    assert_eq!(issues.len(), 1, "created once");
    assert_eq!((issues[0].number, issues[0].title.as_str()), (issue.number, "refused first"));
    let sleeps = bed.time.sleeps();
    assert!(sleeps.len() == 1 && sleeps[0] >= Duration::from_secs(20), "retry-after honoured: {sleeps:?}");
    let statuses: Vec<u16> = bed.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 403, 201]);
    bed.assert_conformant();
}

/// An org of one generated repository whose content-creation limit is `per_minute` a minute and `per_hour` an hour.
fn content_limited(per_minute: u32, per_hour: u32) -> Fixture {
    let mut fixture = Fixture::generated_org("acme", 1);
    fixture.content_creation = Some(ContentCreationLimit { per_minute, per_hour });
    fixture
}

#[tokio::test]
async fn a_burst_of_issues_and_pull_requests_over_the_content_limit_is_waited_out_none_lost_none_doubled() {
    let bed = bed_with(content_limited(5, 500)).await;
    let github = bed.client();
    let repo = generated("repo-00000");
    let started = bed.sim.now();
    for round in 0..3 {
        for i in 0..4 {
            let fields = IssueFields { title: Some(format!("issue {round}-{i}")), ..IssueFields::default() };
            github.create_issue(&repo, &fields).await.expect("issue");
        }
        let change = PullRequestChange {
            branch: format!("infinity-orchestrator/change-{round}"),
            commit_message: format!("change {round}"),
            files: vec![FileChange { path: format!("docs/{round}.md"), content: Some("x\n".into()) }],
            title: format!("change {round}"),
            body: "Opened by Infinity Orchestrator.".into(),
            draft: false,
        };
        github.open_pull_request(&repo, &change).await.expect("pull request");
    }
    let titles: Vec<String> = bed.sim.issues("acme", "repo-00000").into_iter().map(|i| i.title).collect();
    let expected: Vec<String> = (0..3).flat_map(|r| (0..4).map(move |i| format!("issue {r}-{i}"))).collect();
    assert_eq!(titles, expected, "each issue exactly once");
    let branches: Vec<String> = bed.sim.pull_requests("acme", "repo-00000").into_iter().map(|p| p.1).collect();
    assert_eq!(branches, (0..3).map(|r| format!("infinity-orchestrator/change-{r}")).collect::<Vec<_>>());

    // 12 issues and 3 × (tree, commit, ref, pull request): 24 content creations at 5 a minute.
    let log = bed.log();
    let refusals = log.iter().filter(|r| r.fault.as_deref() == Some("content_creation")).count();
    assert!(refusals >= 4, "the limit refused {refusals} requests");
    assert_eq!(log.iter().filter(|r| r.method == "POST" && r.status == 201).count(), 24, "each carried out once");
    let sleeps = bed.time.sleeps();
    assert_eq!(sleeps.len(), refusals, "one wait per refusal");
    assert!(sleeps.iter().all(|s| *s >= Duration::from_secs(60)), "at least a minute each: {sleeps:?}");
    assert!(bed.sim.now() - started >= 4 * 60, "24 creations at 5 a minute take four minutes of sim time at least");
    println!(
        "24 content creations at 5/min: {refusals} refusals waited out, {} s of sim time",
        bed.sim.now() - started
    );
    bed.assert_conformant();
}

#[tokio::test]
async fn write_pacing_keeps_within_the_hourly_content_limit_without_a_refusal() {
    let bed = bed_with(content_limited(80, 6)).await;
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| c.policy.writes_per_hour = 6);
    let repo = generated("repo-00000");
    for i in 0..7 {
        let fields = IssueFields { title: Some(format!("issue {i}")), ..IssueFields::default() };
        github.create_issue(&repo, &fields).await.expect("issue");
    }
    assert_eq!(bed.time.sleeps(), vec![Duration::from_secs(3600)], "the seventh waits for the first to leave the hour");
    assert!(bed.log().iter().all(|r| r.status == 201), "never refused");
    assert_eq!(bed.sim.issues("acme", "repo-00000").len(), 7);
    bed.assert_conformant();
}

#[tokio::test]
async fn an_hourly_content_refusal_beyond_the_backoff_is_rate_limited_and_creates_nothing_until_resent() {
    let bed = bed_with(content_limited(80, 6)).await;
    let github = bed.client();
    let repo = generated("repo-00000");
    let fields = IssueFields { title: Some("issue".into()), ..IssueFields::default() };
    for _ in 0..6 {
        github.create_issue(&repo, &fields).await.expect("issue");
    }
    // Blocked until the hour frees a slot: a minute, doubled five times (31 minutes) is not enough.
    let error = github.create_issue(&repo, &fields).await.expect_err("refused for the rest of the hour");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    let waited: Duration = bed.time.sleeps().iter().sum();
    assert!(waited >= Duration::from_secs(31 * 60), "backed off {waited:?}");
    assert_eq!(bed.sim.issues("acme", "repo-00000").len(), 6, "nothing created by the refused requests");
    // The caller (a controller requeued until then) sends it again once the hour has passed: created once.
    bed.sim.advance_clock(3600);
    github.create_issue(&repo, &fields).await.expect("created after the hour");
    assert_eq!(bed.sim.issues("acme", "repo-00000").len(), 7);
    bed.assert_conformant();
}
