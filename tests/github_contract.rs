//! Contract tests of the real `OctocrabGitHub` over HTTP.
//!
//! `crates/github-sim` does not serve GitHub routes yet, so these run against the scripted stub in
//! `tests/support/github.rs`, which speaks the same HTTP (ETags, `x-ratelimit-*`, `Link`, secondary limits, seeded
//! 5xx and lost responses, App tokens) and keeps a request log shaped like the simulator's `/_sim/requests`.
//! Time is a `ManualClock` shared by client and stub; the client's sleeper advances it instead of waiting.

#[path = "support/github.rs"]
mod stub;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use infinity_orchestrator::clock::{Clock, ManualClock};
use infinity_orchestrator::github::{Credentials, Error, GitHub, GitHubConfig, OctocrabGitHub, RepoRef};
use k8s_openapi::jiff::Timestamp;
use stub::{Faults, GitHubStub, RecordingSleeper, TEST_APP_KEY};

struct Bed {
    stub: GitHubStub,
    clock: Arc<ManualClock>,
    sleeper: Arc<RecordingSleeper>,
}

async fn bed() -> Bed {
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(1_800_000_000).expect("start time")));
    let stub = GitHubStub::start(clock.clone()).await;
    let sleeper = RecordingSleeper::new(clock.clone());
    Bed { stub, clock, sleeper }
}

impl Bed {
    fn client_with(&self, credentials: Credentials, tune: impl FnOnce(&mut GitHubConfig)) -> OctocrabGitHub {
        let mut config = GitHubConfig::new(&self.stub.base_url, credentials);
        tune(&mut config);
        OctocrabGitHub::with_time(config, self.clock.clone(), self.sleeper.clone()).expect("client")
    }

    fn client(&self) -> OctocrabGitHub {
        self.client_with(Credentials::Token("test-token".into()), |_| {})
    }
}

#[tokio::test]
async fn rereading_an_unchanged_org_of_500_repositories_costs_zero_primary_points() {
    let bed = bed().await;
    bed.stub.add_org("acme", 500);
    let github = bed.client();

    let first = github.list_org_repos("acme").await.expect("first read");
    assert_eq!(first.len(), 500);
    let spent_first = bed.stub.requests().iter().filter(|r| r.counted).count();
    assert_eq!(spent_first, 5, "500 repositories are 5 pages of 100");

    bed.stub.clear_requests();
    let before = github.rate_limit().await.expect("budget").remaining;
    bed.stub.clear_requests();
    let second = github.list_org_repos("acme").await.expect("second read");
    assert_eq!(second, first, "the cached bodies are reused");
    let log = bed.stub.requests();
    assert_eq!(log.len(), 5);
    assert!(
        log.iter().all(|r| r.status == 304 && !r.counted),
        "every request of the re-read is an uncounted 304: {log:?}"
    );
    let after = github.rate_limit().await.expect("budget").remaining;
    assert_eq!(before - after, 0, "primary points spent on the re-read");
}

#[tokio::test]
async fn pagination_reads_more_than_1000_items() {
    let bed = bed().await;
    bed.stub.add_org("big", 1234);
    let repos = bed.client().list_org_repos("big").await.expect("read");
    assert_eq!(repos.len(), 1234);
    let names: Vec<String> = repos.iter().map(|r| r.name.clone()).collect();
    let expected: Vec<String> = (0..1234).map(|i| format!("repo-{i:04}")).collect();
    assert_eq!(names, expected, "every page once, in order");
    assert_eq!(bed.stub.requests().len(), 13);
}

#[tokio::test]
async fn a_conditional_read_reuses_the_cached_body() {
    let bed = bed().await;
    bed.stub.add_org("acme", 3);
    let github = bed.client();
    let repo = RepoRef::new("acme", "repo-0001");
    let first = github.repository(&repo).await.expect("first");
    let second = github.repository(&repo).await.expect("second");
    assert_eq!(first, second);
    assert_eq!(first.full_name, "acme/repo-0001");
    let statuses: Vec<(u16, bool)> = bed.stub.requests().iter().map(|r| (r.status, r.counted)).collect();
    assert_eq!(statuses, vec![(200, true), (304, false)]);
}

#[tokio::test]
async fn an_exhausted_budget_is_waited_out_until_the_reset() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    bed.stub.set_budget(5000, 0, Duration::from_secs(120));
    let github = bed.client();
    let repos = github.list_org_repos("acme").await.expect("succeeds after the reset");
    assert_eq!(repos.len(), 1);
    // The first answer said "spent until T+120s"; the client waited exactly that long, then sent once more.
    assert_eq!(bed.sleeper.sleeps(), vec![Duration::from_secs(120)]);
    let statuses: Vec<u16> = bed.stub.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 200]);
}

#[tokio::test]
async fn a_budget_spent_beyond_the_wait_bound_is_a_rate_limited_error_with_the_reset() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    bed.stub.set_budget(5000, 0, Duration::from_secs(3600));
    let reset = Timestamp::from_second(bed.clock.now().as_second() + 3600).expect("reset");
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| {
        c.policy.max_rate_limit_wait = Duration::from_secs(600);
    });
    let error = github.list_org_repos("acme").await.expect_err("must not wait an hour");
    assert!(matches!(error, Error::RateLimited { until } if until == reset), "{error:?}");
    assert_eq!(error.category(), "rate_limited");
    assert!(bed.sleeper.sleeps().is_empty(), "no wait beyond the bound");
}

#[tokio::test]
async fn a_secondary_limit_backs_off_by_retry_after_then_succeeds() {
    let bed = bed().await;
    bed.stub.add_org("acme", 2);
    bed.stub.set_faults(Faults { secondary_next: 2, retry_after_secs: 7, ..Faults::default() });
    let repos = bed.client().list_org_repos("acme").await.expect("succeeds after backing off");
    assert_eq!(repos.len(), 2);
    let sleeps = bed.sleeper.sleeps();
    assert_eq!(sleeps.len(), 2);
    // retry-after plus at most 10% jitter.
    assert!(sleeps.iter().all(|s| *s >= Duration::from_secs(7) && *s <= Duration::from_millis(7700)), "{sleeps:?}");
    let statuses: Vec<u16> = bed.stub.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 403, 200]);
}

#[tokio::test]
async fn server_errors_on_reads_are_retried_with_backoff() {
    let bed = bed().await;
    bed.stub.add_org("acme", 500);
    bed.stub.set_faults(Faults { seed: 7, server_error_rate: 0.3, ..Faults::default() });
    let repos = bed.client().list_org_repos("acme").await.expect("retries hide the 5xx");
    assert_eq!(repos.len(), 500);
    let log = bed.stub.requests();
    let failures = log.iter().filter(|r| r.status == 502).count();
    assert!(failures > 0, "the seed injects at least one 5xx");
    assert_eq!(log.iter().filter(|r| r.status == 200).count(), 5);
    assert_eq!(bed.sleeper.sleeps().len(), failures, "one backoff per failed attempt");
}

#[tokio::test]
async fn a_dispatch_under_10_percent_injected_5xx_creates_exactly_one_run() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    bed.stub.set_faults(Faults { seed: 42, server_error_rate: 0.05, lost_response_rate: 0.05, ..Faults::default() });
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| {
        c.dispatch.grace_interval = Duration::from_secs(2);
    });
    let repo = RepoRef::new("acme", "repo-0000");
    let inputs = BTreeMap::from([("target".to_string(), "all".to_string())]);
    for i in 0..50 {
        let id = format!("io-{i:03}");
        github.dispatch_workflow(&repo, "build.yml", "main", &inputs, &id).await.expect("dispatch");
        // Runs are dispatched at different times, as a controller would.
        bed.clock.advance(Duration::from_secs(30));
    }
    let mut runs_per_id: HashMap<String, usize> = HashMap::new();
    for run in bed.stub.runs() {
        let title = run["display_title"].as_str().unwrap_or_default().to_string();
        *runs_per_id.entry(title).or_default() += 1;
    }
    assert_eq!(runs_per_id.len(), 50);
    assert!(runs_per_id.values().all(|n| *n == 1), "{runs_per_id:?}");
    let log = bed.stub.requests();
    let posts = |pred: fn(&stub::Logged) -> bool| log.iter().filter(|r| r.method == "POST" && pred(r)).count();
    let unprocessed = posts(|r| r.status == 502 && !r.counted);
    let lost = posts(|r| r.status == 502 && r.counted);
    assert!(unprocessed > 0 && lost > 0, "the seed exercises both faults: {unprocessed} unprocessed, {lost} lost");
    let bodies_ok = log.iter().filter(|r| r.method == "POST").all(|r| {
        serde_json::from_str::<serde_json::Value>(&r.request_body)
            .is_ok_and(|b| b["ref"] == "main" && b["inputs"]["target"] == "all")
    });
    assert!(bodies_ok, "every dispatch carries ref and inputs");
    println!(
        "dispatches: 50, runs: {}, 5xx unprocessed: {unprocessed}, lost after processing: {lost}",
        bed.stub.runs().len()
    );
}

#[tokio::test]
async fn app_auth_exchanges_a_token_once_and_refreshes_it_before_expiry() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    let credentials =
        Credentials::App { app_id: 12345, installation_id: 678, private_key_pem: TEST_APP_KEY.to_string() };
    let github = bed.client_with(credentials, |_| {});
    let repo = RepoRef::new("acme", "repo-0000");
    github.repository(&repo).await.expect("first");
    github.repository(&repo).await.expect("second");
    assert_eq!(bed.stub.token_exchanges(), 1, "the installation token is cached");
    // The token lives an hour; at 56 minutes it is inside the five-minute refresh margin.
    bed.clock.advance(Duration::from_secs(56 * 60));
    github.repository(&repo).await.expect("third");
    assert_eq!(bed.stub.token_exchanges(), 2, "refreshed before expiry");
    let log = bed.stub.requests();
    let exchange = log.iter().find(|r| r.path == "/app/installations/678/access_tokens").expect("exchange logged");
    assert_eq!(exchange.method, "POST");
    assert_eq!(exchange.authorization.trim_start_matches("Bearer ").split('.').count(), 3, "an App JWT");
    assert!(log
        .iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .all(|r| r.authorization.starts_with("Bearer ghs_stub_")));
}

#[tokio::test]
async fn errors_are_classified_for_controllers() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    let missing = bed.client().repository(&RepoRef::new("acme", "nope")).await.expect_err("404");
    assert_eq!(missing.category(), "not_found");
    let denied = bed.client_with(Credentials::Token("wrong".into()), |_| {}).list_org_repos("acme").await;
    assert!(matches!(denied, Err(Error::Permission { status: 401, .. })), "{denied:?}");
}

#[tokio::test]
async fn rate_limit_reports_the_budget_without_spending_it() {
    let bed = bed().await;
    bed.stub.set_budget(5000, 4321, Duration::from_secs(600));
    let budget = bed.client().rate_limit().await.expect("budget");
    assert_eq!((budget.limit, budget.remaining), (5000, 4321));
    assert!(bed.stub.requests().iter().all(|r| !r.counted));
}

#[tokio::test]
async fn repository_reads_return_our_domain_types() {
    use infinity_orchestrator::github::{AlertSource, Alerts, IssueState, RunFilter};
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    let github = bed.client();
    let repo = RepoRef::new("acme", "repo-0000");

    let languages = github.languages(&repo).await.expect("languages");
    assert_eq!(languages.get("Rust"), Some(&12000));
    assert_eq!(github.topics(&repo).await.expect("topics"), vec!["ci".to_string(), "rust".to_string()]);
    assert_eq!(
        github.branch_head(&repo, "main").await.expect("head").as_deref(),
        Some("c0ffee0000000000000000000000000000000000")
    );
    assert_eq!(github.branch_head(&repo, "missing").await.expect("absent branch"), None);

    let tree = github.default_branch_tree(&repo).await.expect("tree");
    let blobs: Vec<&str> = tree.tree.iter().filter(|e| e.kind == "blob").map(|e| e.path.as_str()).collect();
    assert_eq!(blobs, vec!["Cargo.toml", ".github/workflows/build.yml"]);
    assert!(!tree.truncated);
    assert!(bed.stub.requests().iter().any(|r| r.path.ends_with("/git/trees/main") && r.query == "recursive=1"));

    let file = github.file_contents(&repo, "Cargo.toml", None).await.expect("file").expect("exists");
    assert_eq!(String::from_utf8(file.content).expect("utf-8"), "[package]\nname = \"x\"\n");
    assert_eq!(file.sha, "b1");
    assert_eq!(github.file_contents(&repo, "nope.txt", Some("main")).await.expect("absent file"), None);

    let workflows = github.workflows(&repo).await.expect("workflows");
    assert_eq!(workflows.iter().map(|w| w.path.as_str()).collect::<Vec<_>>(), vec![".github/workflows/build.yml"]);

    github.dispatch_workflow(&repo, "build.yml", "main", &BTreeMap::new(), "io-run-1").await.expect("dispatch");
    let filter = RunFilter {
        workflow: Some("build.yml".into()),
        event: Some("workflow_dispatch".into()),
        ..RunFilter::default()
    };
    let runs = github.workflow_runs(&repo, &filter).await.expect("runs");
    assert_eq!(runs.len(), 1);
    let run = github.workflow_run(&repo, runs[0].id).await.expect("run");
    assert_eq!(run.display_title, "Build main io-run-1");
    let found = github.find_run_by_correlation(&repo, "build.yml", "io-run-1", bed.clock.now()).await.expect("lookup");
    assert_eq!(found.map(|r| r.id), Some(run.id));
    assert_eq!(
        github.find_run_by_correlation(&repo, "build.yml", "io-run", bed.clock.now()).await.expect("lookup"),
        None
    );
    let jobs = github.run_jobs(&repo, run.id).await.expect("jobs");
    assert_eq!(
        jobs.iter().map(|j| j.conclusion.as_deref()).collect::<Vec<_>>(),
        vec![Some("success"), Some("failure")]
    );

    assert!(matches!(github.open_alerts(&repo, AlertSource::CodeScanning).await, Ok(Alerts::Disabled { .. })));
    assert!(matches!(github.open_alerts(&repo, AlertSource::SecretScanning).await, Ok(Alerts::Disabled { .. })));
    let Ok(Alerts::Open(dependabot)) = github.open_alerts(&repo, AlertSource::Dependabot).await else {
        panic!("dependabot alerts are on")
    };
    assert_eq!(
        dependabot.iter().map(|a| (a.number, a.severity.as_deref())).collect::<Vec<_>>(),
        vec![(4, Some("high"))]
    );

    let issues = github.issues_by_label(&repo, &["ci".to_string()], IssueState::Open).await.expect("issues");
    assert_eq!(issues.iter().map(|i| i.number).collect::<Vec<_>>(), vec![1], "pull requests are not issues");

    let commits = github.branch_commits(&repo, "main", 1).await.expect("commits");
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].message, "second");
    assert!(commits[0].authored_at.is_some());
}

#[tokio::test]
async fn issue_and_run_writes_reach_github() {
    use infinity_orchestrator::github::IssueFields;
    let bed = bed().await;
    let github = bed.client();
    let repo = RepoRef::new("acme", "repo-0000");
    let fields = IssueFields {
        title: Some("Build failing".into()),
        body: Some("<!-- io:marker -->".into()),
        labels: Some(vec!["infinity-orchestrator".into()]),
        state: None,
    };
    let issue = github.create_issue(&repo, &fields).await.expect("create");
    assert_eq!(
        (issue.title.as_str(), issue.labels.clone()),
        ("Build failing", vec!["infinity-orchestrator".to_string()])
    );
    let retitled = IssueFields { title: Some("Build still failing".into()), ..IssueFields::default() };
    assert_eq!(github.update_issue(&repo, issue.number, &retitled).await.expect("update").title, "Build still failing");
    github.comment_issue(&repo, issue.number, "attempt 2 failed").await.expect("comment");
    assert_eq!(github.close_issue(&repo, issue.number).await.expect("close").state, "closed");
    github.rerun_failed_jobs(&repo, 9).await.expect("rerun");
    github.cancel_run(&repo, 10).await.expect("cancel");

    let state = bed.stub.repo_state();
    assert_eq!(state.comments, vec![(issue.number, "attempt 2 failed".to_string())]);
    assert_eq!((state.reruns, state.cancelled), (vec![9], vec![10]));
    let patch = bed.stub.requests().into_iter().find(|r| r.method == "PATCH").expect("patch logged");
    assert_eq!(patch.request_body, r#"{"title":"Build still failing"}"#, "only the changed fields are sent");
}

#[tokio::test]
async fn a_pull_request_is_opened_once_per_branch() {
    use infinity_orchestrator::github::{FileChange, PullRequestChange};
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    let github = bed.client();
    let repo = RepoRef::new("acme", "repo-0000");
    let change = PullRequestChange {
        branch: "infinity-orchestrator/bump-serde".into(),
        commit_message: "Raise serde to 1.0.200".into(),
        files: vec![FileChange { path: "Cargo.toml".into(), content: Some("[package]\n".into()) }],
        title: "Raise serde".into(),
        body: "Opened by Infinity Orchestrator.".into(),
    };
    let first = github.open_pull_request(&repo, &change).await.expect("open");
    let again = github.open_pull_request(&repo, &change).await.expect("idempotent");
    assert_eq!(first, again);
    let state = bed.stub.repo_state();
    assert_eq!(state.pulls.len(), 1);
    assert_eq!(state.git_objects, 2, "one tree and one commit");
    assert!(state.refs.contains_key("infinity-orchestrator/bump-serde"));
    let posts: Vec<String> =
        bed.stub.requests().iter().filter(|r| r.method == "POST").map(|r| r.path.clone()).collect();
    assert_eq!(
        posts,
        vec![
            "/repos/acme/repo-0000/git/trees",
            "/repos/acme/repo-0000/git/commits",
            "/repos/acme/repo-0000/git/refs",
            "/repos/acme/repo-0000/pulls"
        ]
    );
    let tree = bed.stub.requests().into_iter().find(|r| r.path.ends_with("/git/trees")).expect("tree request");
    let tree: serde_json::Value = serde_json::from_str(&tree.request_body).expect("json");
    assert_eq!(tree["base_tree"], "7ree");
    assert_eq!(tree["tree"][0]["path"], "Cargo.toml");
}

#[tokio::test]
async fn timeouts_are_retried_on_reads_and_looked_up_before_a_dispatch_is_resent() {
    let bed = bed().await;
    bed.stub.add_org("acme", 1);
    let github = bed.client_with(Credentials::Token("test-token".into()), |c| {
        c.policy.request_timeout = Duration::from_millis(300);
    });
    // A read whose answer is late: the client gives up on the attempt and reads again.
    bed.stub.set_faults(Faults { slow_next: 1, slow_ms: 2000, ..Faults::default() });
    assert_eq!(github.list_org_repos("acme").await.expect("read after a timeout").len(), 1);
    assert_eq!(bed.stub.requests().len(), 2);

    // A dispatch that GitHub processed but answered too late: found by its correlation id, not sent again.
    let repo = RepoRef::new("acme", "repo-0000");
    bed.stub.set_faults(Faults { slow_next: 1, slow_ms: 2000, ..Faults::default() });
    github.dispatch_workflow(&repo, "build.yml", "main", &BTreeMap::new(), "io-slow-1").await.expect("dispatch");
    assert_eq!(bed.stub.runs().len(), 1);
    let dispatches = bed.stub.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(dispatches, 1, "the dispatch was sent once");
}

#[tokio::test]
async fn content_creating_requests_are_paced_to_80_a_minute() {
    use infinity_orchestrator::github::IssueFields;
    let bed = bed().await;
    let github = bed.client();
    let repo = RepoRef::new("acme", "repo-0000");
    let fields = IssueFields { title: Some("t".into()), ..IssueFields::default() };
    for _ in 0..80 {
        github.create_issue(&repo, &fields).await.expect("create");
    }
    assert!(bed.sleeper.sleeps().is_empty(), "80 writes fit in one minute");
    github.create_issue(&repo, &fields).await.expect("81st");
    assert_eq!(bed.sleeper.sleeps(), vec![Duration::from_secs(60)], "the 81st waits for the minute to pass");
    // Reads are not paced.
    github.rate_limit().await.expect("read");
    assert_eq!(bed.sleeper.sleeps().len(), 1);
}
