//! The default-branch runs read through GraphQL against the strict simulator: the same runs as REST's
//! `workflow_runs(branch = default)` (ids, commits, states, workflows, times), history paged past commits without
//! runs, a repository that does not exist, a timed-out query asked again in halves, and GitHub's price for it all.

// The bed is shared with `github_contract.rs`, which uses the parts this file does not.
#[allow(dead_code)]
#[path = "github_contract/bed.rs"]
mod bed;

use std::collections::BTreeMap;

use bed::{bed, Bed};
use github_sim::LoggedRequest;
use infinity_orchestrator::github::graphql::{MAX_RUNS_READS_PER_QUERY, RUNS_COMMITS_PER_PAGE};
use infinity_orchestrator::github::{GitHub, OctocrabGitHub, RepoRef, RunFilter, RunsRead, WorkflowRun};
use k8s_openapi::jiff::Timestamp;

/// What the GraphQL read must agree on with REST's.
#[derive(Debug, PartialEq)]
struct Seen {
    id: u64,
    head_sha: String,
    status: Option<String>,
    conclusion: Option<String>,
    workflow_id: u64,
    created_at: Timestamp,
    path: Option<String>,
    html_url: Option<String>,
}

fn seen(runs: &[WorkflowRun]) -> Vec<Seen> {
    runs.iter()
        .map(|run| Seen {
            id: run.id,
            head_sha: run.head_sha.clone(),
            status: run.status.clone(),
            conclusion: run.conclusion.clone(),
            workflow_id: run.workflow_id,
            created_at: run.created_at,
            path: run.path.clone(),
            html_url: run.html_url.clone(),
        })
        .collect()
}

/// Commits one file to `name`'s default branch.
fn commit(bed: &Bed, name: &str, file: &str) -> String {
    let files = BTreeMap::from([(file.to_string(), Some(format!("{file}\n")))]);
    bed.sim.commit_files("acme", name, &files, &format!("add {file}")).expect("committed")
}

/// Dispatches `workflow` on `name`'s default branch and lets time pass until the runs lists show it.
async fn dispatch(bed: &Bed, github: &OctocrabGitHub, name: &str, workflow: &str) {
    let repo = RepoRef::new("acme", name);
    github.dispatch_workflow(&repo, workflow, "main", &BTreeMap::new(), None).await.expect("dispatched");
    bed.sim.advance_clock(30);
}

/// GitHub's price of a runs query of `repositories` aliases: 1 + [`RUNS_COMMITS_PER_PAGE`] connection requests
/// each, divided by 100 and rounded, at least 1.
fn price(repositories: usize) -> i64 {
    let requests = (repositories * (1 + RUNS_COMMITS_PER_PAGE)) as f64;
    ((requests / 100.0).round() as i64).max(1)
}

/// The runs queries in a log, as (repositories asked, status, points charged, cost the answer reported).
fn runs_queries(log: &[LoggedRequest]) -> Vec<(usize, u16, i64, Option<i64>)> {
    log.iter()
        .filter(|r| r.path == "/graphql")
        .map(|r| {
            let query = r.request_body.as_ref().and_then(|b| b["query"].as_str()).unwrap_or_default();
            assert!(query.starts_with("query DefaultBranchRuns("), "{query}");
            let cost = r.response_body.as_ref().and_then(|b| b.pointer("/data/rateLimit/cost")?.as_i64());
            (query.matches(": repository(owner: ").count(), r.status, r.points, cost)
        })
        .collect()
}

/// An org of `generated` repositories without runs, plus `busy` (two workflows, runs on several commits, the newest
/// still running, failed tests below it, Dependabot alerts on), `quiet` (no runs) and `deep` (its runs twelve
/// commits below the head).
async fn org_with_runs(generated: usize) -> Bed {
    let bed = bed(generated).await;
    bed.add_repo_yaml(
        "name: busy\nfiles: {README.md: hi}\nsecurity: {dependabot: true}\n\
         commits: [{message: first}, {message: second}]\nworkflows:\n  \
         - {path: .github/workflows/build.yml, name: build}\n  \
         - {path: .github/workflows/test.yml, name: test, outcome: {result: failure, duration_secs: 100}}\nruns:\n  \
         - {workflow: build.yml, conclusion: success}\n  - {workflow: test.yml, conclusion: failure}\n",
    );
    bed.add_repo_yaml("name: quiet\nfiles: {README.md: hi}\nworkflows: [{path: .github/workflows/ci.yml, name: ci}]\n");
    bed.add_repo_yaml("name: deep\nfiles: {README.md: hi}\nworkflows: [{path: .github/workflows/ci.yml, name: ci}]\n");
    let github = bed.client();
    for round in 0..3 {
        commit(&bed, "busy", &format!("round-{round}.txt"));
        dispatch(&bed, &github, "busy", "build.yml").await;
        dispatch(&bed, &github, "busy", "test.yml").await;
    }
    dispatch(&bed, &github, "deep", "ci.yml").await;
    dispatch(&bed, &github, "deep", "ci.yml").await;
    for depth in 0..12 {
        commit(&bed, "deep", &format!("later-{depth}.txt"));
    }
    bed
}

/// REST's listing of each repository's default-branch runs, at most `limit`.
async fn rest_runs(github: &OctocrabGitHub, names: &[String], limit: usize) -> Vec<Vec<WorkflowRun>> {
    let mut listed = Vec::new();
    for name in names {
        let filter = RunFilter { branch: Some("main".into()), limit: Some(limit), ..RunFilter::default() };
        listed.push(github.workflow_runs(&RepoRef::new("acme", name), &filter).await.expect("REST runs"));
    }
    listed
}

#[tokio::test]
async fn a_graphql_batch_gives_the_default_branch_runs_rest_lists_for_githubs_price() {
    let generated = MAX_RUNS_READS_PER_QUERY + 5;
    let bed = org_with_runs(generated).await;
    let github = bed.client();
    let mut names: Vec<String> = ["busy", "quiet", "deep"].map(String::from).to_vec();
    names.extend((0..generated).map(|i| format!("repo-{i:05}")));
    let limit = 5;
    let rest = rest_runs(&github, &names, limit).await;
    assert_eq!(rest[0].len(), limit, "busy has more runs than are wanted");
    assert!(rest[0].iter().any(|run| run.status.as_deref() == Some("in_progress")), "{:?}", seen(&rest[0]));
    assert!(rest[0].iter().any(|run| run.conclusion.as_deref() == Some("failure")), "{:?}", seen(&rest[0]));
    assert_eq!(rest[2].len(), 2, "deep's two runs");
    assert_eq!(rest[0][0].path.as_deref(), Some(".github/workflows/test.yml"), "REST runs carry their file");

    bed.sim.clear_requests();
    let mut reads: Vec<RunsRead> =
        names.iter().map(|name| RunsRead { repo: RepoRef::new("acme", name), runs: limit }).collect();
    reads.insert(1, RunsRead { repo: RepoRef::new("acme", "gone"), runs: limit });
    let mut batch = github.default_branch_runs_batch(&reads).await.expect("GraphQL runs");
    assert_eq!(batch.remove(1), None, "a repository that does not exist");
    assert_eq!(batch.len(), rest.len());
    for ((name, by_graphql), by_rest) in names.iter().zip(&batch).zip(&rest) {
        let by_graphql = by_graphql.as_ref().map(|read| &read.runs).unwrap_or_else(|| panic!("{name} exists"));
        assert_eq!(seen(by_graphql), seen(by_rest), "{name}");
        assert!(by_graphql.iter().all(|run| run.head_branch.as_deref() == Some("main")), "{name}");
    }
    let on: Vec<Option<bool>> =
        batch.iter().map(|read| read.as_ref().and_then(|read| read.vulnerability_alerts)).collect();
    assert_eq!(on[..3], [Some(true), Some(false), Some(false)], "hasVulnerabilityAlertsEnabled rides along");
    assert!(on.iter().skip(3).all(|on| *on == Some(false)), "{on:?}");
    let busy = &batch[0].as_ref().expect("busy").runs;
    let build = busy.iter().find(|run| run.path.as_deref() == Some(".github/workflows/build.yml"));
    assert_eq!(build.and_then(|run| run.name.as_deref()), Some("build"), "the workflow's name");

    // 59 repositories: a full query and one of 9, then deep's second page of history.
    let queries = runs_queries(&bed.log());
    let mut asked: Vec<usize> = queries.iter().map(|q| q.0).collect();
    asked.sort_unstable();
    assert_eq!(asked, [1, reads.len() - MAX_RUNS_READS_PER_QUERY, MAX_RUNS_READS_PER_QUERY]);
    for (repositories, status, points, cost) in &queries {
        assert_eq!((*status, *points, *cost), (200, price(*repositories), Some(price(*repositories))));
    }
    let total: i64 = queries.iter().map(|q| q.2).sum();
    assert_eq!(total, 6 + 1 + 1, "GraphQL points for {} repositories", reads.len());
    println!("default-branch runs of {} repositories: {total} GraphQL points", reads.len());
    bed.assert_conformant();
}

#[tokio::test]
async fn a_runs_query_github_timed_out_is_asked_again_in_halves() {
    let bed = org_with_runs(5).await;
    let github = bed.client();
    let names: Vec<String> =
        ["busy", "quiet", "deep", "repo-00000", "repo-00001", "repo-00002"].map(String::from).to_vec();
    let reads: Vec<RunsRead> =
        names.iter().map(|name| RunsRead { repo: RepoRef::new("acme", name), runs: 3 }).collect();
    bed.sim.clear_requests();
    let whole = github.default_branch_runs_batch(&reads).await.expect("GraphQL runs");
    let log = bed.log();
    let first = log.iter().find(|r| r.path == "/graphql").expect("a runs query");
    let size = first.response_body.as_ref().expect("an answer").to_string().len();

    bed.sim.clear_requests();
    // Just too large for the whole query; each half answers less.
    bed.sim.set_graphql_max_response_bytes(size - 1);
    let halves = github.default_branch_runs_batch(&reads).await.expect("GraphQL runs in halves");
    assert_eq!(halves, whole);
    let queries = runs_queries(&bed.log());
    type Query = (usize, u16, i64, Option<i64>);
    let (timed_out, answered): (Vec<&Query>, Vec<&Query>) = queries.iter().partition(|q| q.1 == 502);
    assert_eq!(timed_out.iter().map(|q| q.0).collect::<Vec<_>>(), [names.len()], "{queries:?}");
    assert_eq!(timed_out[0].2, price(names.len()), "a timed-out query is charged");
    let mut asked: Vec<usize> = answered.iter().map(|q| q.0).collect();
    asked.sort_unstable();
    assert_eq!(asked, [1, 3, 3], "each half answered, then deep's second page: {queries:?}");
    bed.assert_conformant();
}
