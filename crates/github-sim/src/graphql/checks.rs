//! GitHub Actions as GraphQL shows it on a commit: one check suite per workflow run whose head is the commit
//! (`Commit.checkSuites`, in creation order), the suite's `workflowRun`, and the run's `workflow` and `file`. A re-run
//! is a new attempt of the same run, so it keeps its suite, which shows the latest attempt.

use std::collections::HashMap;

use serde_json::json;

use super::resolve::{Context, Obj, Resolved};
use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::runs::{phase_at, RunPhase};
use crate::state::{Repo, Run, SimState, Workflow};

/// The runs of each commit by (owner, repository, sha), oldest first.
pub(super) type SuitesByCommit<'s> = HashMap<(&'s str, &'s str, &'s str), Vec<&'s Run>>;

/// The check suites of a commit of `repo`, oldest first. A run has its suite once the runs lists show it, so that
/// a client cannot see a dispatched run sooner here than GitHub lets it.
pub(super) fn suites_of<'s>(context: &Context<'s>, repo: &Repo, sha: &str) -> Vec<&'s Run> {
    let index = context.suites.get_or_init(|| index(context.state));
    index.get(&(repo.owner.as_str(), repo.spec.name.as_str(), sha)).cloned().unwrap_or_default()
}

/// One pass over the runs, so that a query of many commits does not scan them once per commit.
fn index(state: &SimState) -> SuitesByCommit<'_> {
    let mut index = SuitesByCommit::new();
    for run in state.runs.iter().filter(|r| r.listed_at <= state.now) {
        index.entry((run.owner.as_str(), run.repo.as_str(), run.head_sha.as_str())).or_default().push(run);
    }
    for runs in index.values_mut() {
        runs.sort_by_key(|r| (r.first_created_at, r.id));
    }
    index
}

fn phase(context: &Context<'_>, run: &Run) -> RunPhase {
    phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, context.state.now)
}

/// A field of `CheckSuite`; `None` when not served. `status` and `conclusion` are GitHub's `CheckStatusState` and
/// `CheckConclusionState`, the REST values in capitals.
pub(super) fn check_suite_field<'s>(
    context: &Context<'s>,
    repo: &'s Repo,
    run: &'s Run,
    name: &str,
) -> Option<Resolved<'s>> {
    let phase = phase(context, run);
    Some(match name {
        "status" => Resolved::Leaf(json!(phase.status.to_ascii_uppercase())),
        "conclusion" => {
            phase.conclusion.map_or(Resolved::Null, |c| Resolved::Leaf(json!(c.as_str().to_ascii_uppercase())))
        }
        "createdAt" => Resolved::Leaf(json!(iso8601(run.first_created_at))),
        "updatedAt" => Resolved::Leaf(json!(iso8601(phase.updated_at))),
        "workflowRun" => Resolved::Object(Obj::WorkflowRun(repo, run)),
        _ => return None,
    })
}

/// A field of `WorkflowRun`, as REST gives the run; `None` when not served.
pub(super) fn workflow_run_field<'s>(
    context: &Context<'s>,
    repo: &'s Repo,
    run: &'s Run,
    name: &str,
) -> Option<Resolved<'s>> {
    let workflow = || repo.workflows.iter().find(|w| w.id == run.workflow_id);
    Some(match name {
        "databaseId" => Resolved::Leaf(json!(run.id)),
        "url" => {
            let web = html_root(context.base_url);
            Resolved::Leaf(json!(format!("{web}/{}/{}/actions/runs/{}", run.owner, run.repo, run.id)))
        }
        "createdAt" => Resolved::Leaf(json!(iso8601(run.first_created_at))),
        "updatedAt" => Resolved::Leaf(json!(iso8601(phase(context, run).updated_at))),
        "event" => Resolved::Leaf(json!(run.event)),
        "workflow" => workflow().map_or(Resolved::Null, |w| Resolved::Object(Obj::Workflow(repo, w))),
        "file" => workflow().map_or(Resolved::Null, |w| Resolved::Object(Obj::WorkflowRunFile(w))),
        _ => return None,
    })
}

/// A field of `Workflow`; `None` when not served.
pub(super) fn workflow_field<'s>(repo: &'s Repo, workflow: &'s Workflow, name: &str) -> Option<Resolved<'s>> {
    Some(match name {
        "databaseId" => Resolved::Leaf(json!(workflow.id)),
        "name" => Resolved::Leaf(json!(crate::views::workflow_name(repo, workflow))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use apollo_compiler::ExecutableDocument;
    use serde_json::{json, Value};

    use crate::fixture::{CommitFixture, Fixture, OrgFixture, RepoFixture, WorkflowFixture};
    use crate::graphql::{answer, cost, schema};
    use crate::routes::RouteRequest;
    use crate::runs::Conclusion;
    use crate::state::{Run, SimState};

    const BASE: &str = "http://sim";

    /// The contract's query (notes/runs-contract.md), one alias per repository name.
    fn runs_query(names: &[&str]) -> String {
        let mut query = String::from(
            "query DefaultBranchRuns($commits: Int!, $suites: Int!) {\n  rateLimit { cost remaining resetAt }\n",
        );
        for (i, name) in names.iter().enumerate() {
            query.push_str(&format!("  r{i}: repository(owner: \"acme\", name: \"{name}\") {{ ...Runs }}\n"));
        }
        query.push_str(
            "}\nfragment Runs on Repository {\n  defaultBranchRef {\n    name\n    target {\n      ... on Commit {\n        \
             history(first: $commits) {\n          pageInfo { hasNextPage endCursor }\n          nodes {\n            \
             oid\n            checkSuites(last: $suites) {\n              nodes {\n                status\n                \
             conclusion\n                createdAt\n                updatedAt\n                workflowRun {\n                  \
             databaseId\n                  url\n                  createdAt\n                  updatedAt\n                  \
             event\n                  workflow { databaseId name }\n                  file { path }\n                }\n              \
             }\n            }\n          }\n        }\n      }\n    }\n  }\n}\n",
        );
        query
    }

    /// acme/one and acme/two, alike (so their commits have the same ids): commits c1…c5, a Build and a Test workflow.
    fn state() -> SimState {
        let workflow = |file: &str, name: &str| WorkflowFixture {
            path: format!(".github/workflows/{file}"),
            name: Some(name.into()),
            ..Default::default()
        };
        let repo = |name: &str| RepoFixture {
            name: name.into(),
            workflows: vec![workflow("build.yml", "Build"), workflow("test.yml", "Test")],
            commits: (1..=5).map(|i| CommitFixture { message: format!("c{i}"), ..Default::default() }).collect(),
            ..Default::default()
        };
        let org = OrgFixture { login: "acme".into(), repos: vec![repo("one"), repo("two")], ..Default::default() };
        let mut state = SimState::from_fixture(&Fixture { orgs: vec![org], ..Default::default() });
        state.base_url = BASE.into();
        state
    }

    /// The default branch's commits of acme/`name`, newest first along first parents.
    fn history(state: &SimState, name: &str) -> Vec<String> {
        let repo = state.repo("acme", name).expect("repository");
        let mut shas = vec![repo.head_sha.clone()];
        while let Some(parent) = repo.commits[shas.last().expect("a commit")].parents.first() {
            shas.push(parent.clone());
        }
        shas
    }

    /// Adds a run of workflow `workflow` (0 Build, 1 Test) on `sha` of acme/`name`, created `ago` seconds ago and
    /// lasting 60 s after 5 s queued.
    fn add_run(state: &mut SimState, name: &str, sha: &str, workflow: usize, ago: i64, outcome: Conclusion) -> u64 {
        let workflow_id = state.repo("acme", name).expect("repository").workflows[workflow].id;
        let id = state.next_id();
        let created = state.now - ago;
        state.runs.push(Run {
            id,
            owner: "acme".into(),
            repo: name.into(),
            workflow_id,
            head_branch: "main".into(),
            head_sha: sha.into(),
            event: "push".into(),
            display_title: String::new(),
            created_at: created,
            first_created_at: created,
            duration_secs: 60,
            outcome,
            cancelled_at: None,
            run_attempt: 1,
            listed_at: created,
            inputs: Default::default(),
        });
        id
    }

    /// The answer's body, which must hold no conformance violation.
    fn ask(state: &mut SimState, query: &str, variables: Value) -> Value {
        let answer = answer(state, "test-token", "user ID 1", &json!({"query": query, "variables": variables}));
        assert!(answer.violations.is_empty(), "{:?}", answer.violations);
        answer.body
    }

    /// The suites of the first commits of acme/one, by the contract's query.
    fn suites(state: &mut SimState, suites: usize) -> Value {
        let body = ask(state, &runs_query(&["one"]), json!({"commits": 10, "suites": suites}));
        body["data"]["r0"]["defaultBranchRef"]["target"]["history"]["nodes"][0]["checkSuites"]["nodes"].clone()
    }

    fn run_ids(suites: &Value) -> Vec<u64> {
        suites
            .as_array()
            .expect("suites")
            .iter()
            .map(|s| s["workflowRun"]["databaseId"].as_u64().expect("id"))
            .collect()
    }

    #[test]
    fn history_is_newest_first_along_first_parents_and_pages_after_its_cursor() {
        let mut state = state();
        let shas = history(&state, "one");
        let now = state.now;
        let repo = state.repo_mut("acme", "one").expect("repository");
        let tree = repo.commits[&shas[0]].tree.clone();
        let side = repo.store_commit(&tree, vec![shas[2].clone()], "side", "sim", now);
        let merge = repo.store_commit(&tree, vec![shas[0].clone(), side], "merge", "sim", now);
        repo.set_branch("main", &merge, now);
        let query = "query($after: String) { repository(owner: \"acme\", name: \"one\") { defaultBranchRef { target { \
                     ... on Commit { history(first: 4, after: $after) { pageInfo { hasNextPage endCursor } \
                     nodes { oid message } } } } } } }";
        let page = |state: &mut SimState, after: Value| {
            let body = ask(state, query, json!({ "after": after }));
            body["data"]["repository"]["defaultBranchRef"]["target"]["history"].clone()
        };
        let messages = |page: &Value| -> Vec<String> {
            page["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|c| c["message"].as_str().expect("text").into())
                .collect()
        };
        let first = page(&mut state, Value::Null);
        assert_eq!(messages(&first), ["merge", "c5", "c4", "c3"], "the side commit is off the first parents");
        assert_eq!(first["nodes"][1]["oid"], json!(shas[0]));
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let second = page(&mut state, first["pageInfo"]["endCursor"].clone());
        assert_eq!(messages(&second), ["c2", "c1"]);
        assert_eq!(second["pageInfo"]["hasNextPage"], false);
        let body = answer(&mut state, "test-token", "user ID 1", &json!({"query": query, "variables": {"after": "x"}}));
        assert_eq!(body.body["errors"][0]["type"], "INVALID_CURSOR_ARGUMENTS");
    }

    #[test]
    fn history_needs_first_and_serves_no_other_bound() {
        let mut state = state();
        let history = |bound: &str| {
            format!(
                "{{ repository(owner: \"acme\", name: \"one\") {{ defaultBranchRef {{ target {{ ... on Commit {{ \
                 history{bound} {{ nodes {{ oid }} }} }} }} }} }} }}"
            )
        };
        let missing = answer(&mut state, "test-token", "user ID 1", &json!({"query": history("")}));
        assert_eq!(missing.body["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
        let over = answer(&mut state, "test-token", "user ID 1", &json!({"query": history("(first: 101)")}));
        assert_eq!(over.body["errors"][0]["type"], "EXCESSIVE_PAGINATION");
        let last = answer(&mut state, "test-token", "user ID 1", &json!({"query": history("(last: 2)")}));
        assert_eq!(last.violations.len(), 1, "{:?}", last.violations);
        assert!(last.violations[0].contains("the argument `last` of `Commit.history`"), "{:?}", last.violations);
    }

    #[test]
    fn fields_and_arguments_of_suites_not_served_are_refused() {
        let mut state = state();
        let head = history(&state, "one")[0].clone();
        add_run(&mut state, "one", &head, 0, 100, Conclusion::Success);
        let query = "{ repository(owner: \"acme\", name: \"one\") { object(expression: \"HEAD\") { ... on Commit { \
                     all: checkSuites(last: 1) { nodes { app { name } workflowRun { runNumber } } } \
                     paged: checkSuites(last: 1, before: \"x\") { nodes { status } } } } } }";
        let refused = answer(&mut state, "test-token", "user ID 1", &json!({ "query": query }));
        let violations = refused.violations.join("\n");
        for what in ["`CheckSuite.app`", "`WorkflowRun.runNumber`", "the argument `before` of `Commit.checkSuites`"] {
            assert!(violations.contains(what), "{what} in {violations}");
        }
    }

    #[test]
    fn suites_are_one_per_listed_run_of_the_commit_in_creation_order() {
        let mut state = state();
        let (one, two) = (history(&state, "one"), history(&state, "two"));
        assert_eq!(one, two, "alike repositories have the same commit ids");
        let b = add_run(&mut state, "one", &one[0], 1, 300, Conclusion::Success);
        let a = add_run(&mut state, "one", &one[0], 0, 400, Conclusion::Success);
        let c = add_run(&mut state, "one", &one[0], 0, 200, Conclusion::Failure);
        let d = add_run(&mut state, "one", &one[0], 1, 100, Conclusion::Success);
        let older = add_run(&mut state, "one", &one[1], 0, 900, Conclusion::Success);
        let other_repository = add_run(&mut state, "two", &two[0], 0, 150, Conclusion::Success);
        add_run(&mut state, "one", &one[0], 0, 50, Conclusion::Success);
        state.runs.last_mut().expect("run").listed_at = state.now + 1;
        assert_eq!(run_ids(&suites(&mut state, 100)), [a, b, c, d], "oldest first; the unlisted run not yet");
        assert_eq!(run_ids(&suites(&mut state, 2)), [c, d], "last: 2 is the two newest");
        let first = "{ repository(owner: \"acme\", name: \"one\") { object(expression: \"HEAD\") { ... on Commit { \
                     checkSuites(first: 2) { nodes { workflowRun { databaseId } } } } } } }";
        let body = ask(&mut state, first, json!({}));
        assert_eq!(run_ids(&body["data"]["repository"]["object"]["checkSuites"]["nodes"]), [a, b]);

        let body = ask(&mut state, &runs_query(&["one", "two", "missing"]), json!({"commits": 2, "suites": 30}));
        assert_eq!(body["data"]["rateLimit"]["cost"], 1);
        let r0 = &body["data"]["r0"]["defaultBranchRef"];
        assert_eq!(r0["name"], "main");
        let commits = &r0["target"]["history"];
        assert_eq!(commits["pageInfo"]["hasNextPage"], true);
        assert_eq!(commits["nodes"][0]["oid"], json!(one[0]));
        assert_eq!(run_ids(&commits["nodes"][1]["checkSuites"]["nodes"]), [older]);
        let r1 = &body["data"]["r1"]["defaultBranchRef"]["target"]["history"]["nodes"];
        assert_eq!(run_ids(&r1[0]["checkSuites"]["nodes"]), [other_repository], "suites are the repository's own");
        let suite = &commits["nodes"][0]["checkSuites"]["nodes"][0];
        let created = crate::clock::iso8601(state.now - 400);
        let finished = crate::clock::iso8601(state.now - 400 + 65);
        let build = state.repo("acme", "one").expect("repository").workflows[0].id;
        assert_eq!(
            suite,
            &json!({
                "status": "COMPLETED", "conclusion": "SUCCESS", "createdAt": created, "updatedAt": finished,
                "workflowRun": {
                    "databaseId": a, "url": format!("{BASE}/acme/one/actions/runs/{a}"), "createdAt": created,
                    "updatedAt": finished, "event": "push", "workflow": {"databaseId": build, "name": "Build"},
                    "file": {"path": ".github/workflows/build.yml"},
                },
            })
        );
        assert_eq!(body["data"]["r2"], Value::Null);
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((&errors[0]["type"], &errors[0]["path"]), (&json!("NOT_FOUND"), &json!(["r2"])));
    }

    #[test]
    fn suite_states_are_github_enums_and_the_conclusion_is_null_until_completed() {
        let mut state = state();
        let head = history(&state, "one")[0].clone();
        add_run(&mut state, "one", &head, 0, 2, Conclusion::Success);
        add_run(&mut state, "one", &head, 0, 30, Conclusion::Success);
        for outcome in [Conclusion::Success, Conclusion::Failure, Conclusion::TimedOut, Conclusion::Cancelled] {
            add_run(&mut state, "one", &head, 0, 100, outcome);
        }
        add_run(&mut state, "one", &head, 0, 20, Conclusion::Success);
        state.runs.last_mut().expect("run").cancelled_at = Some(state.now - 10);
        let states: Vec<(Value, Value)> = suites(&mut state, 100)
            .as_array()
            .expect("suites")
            .iter()
            .map(|s| (s["status"].clone(), s["conclusion"].clone()))
            .collect();
        let expected = [
            ("COMPLETED", json!("SUCCESS")),
            ("COMPLETED", json!("FAILURE")),
            ("COMPLETED", json!("TIMED_OUT")),
            ("COMPLETED", json!("CANCELLED")),
            ("IN_PROGRESS", Value::Null),
            ("COMPLETED", json!("CANCELLED")),
            ("QUEUED", Value::Null),
        ];
        let expected: Vec<(Value, Value)> = expected.into_iter().map(|(s, c)| (json!(s), c)).collect();
        assert_eq!(states, expected);
        let schema = schema().expect("GitHub's schema");
        let is_value = |enumeration: &str, value: &Value| {
            value.is_null() || schema.get_enum(enumeration).expect("enum").values.contains_key(value.as_str().unwrap())
        };
        for (status, conclusion) in &states {
            assert!(is_value("CheckStatusState", status), "{status}");
            assert!(is_value("CheckConclusionState", conclusion), "{conclusion}");
        }
    }

    #[test]
    fn a_rerun_keeps_its_suite_which_shows_the_latest_attempt() {
        let mut state = state();
        let head = history(&state, "one")[0].clone();
        let id = add_run(&mut state, "one", &head, 0, 400, Conclusion::Failure);
        let first_created = crate::clock::iso8601(state.now - 400);
        let path = format!("/repos/acme/one/actions/runs/{id}/rerun-failed-jobs");
        let request = RouteRequest {
            params: vec!["acme".into(), "one".into(), id.to_string()],
            query: Vec::new(),
            body: Value::Null,
            base_url: BASE,
            path: &path,
            app_id: None,
            caller: "test-token",
            api_version: "2022-11-28",
        };
        crate::routes::actions::rerun_failed_jobs(&mut state, &request).expect("re-run");
        let rerun_at = state.now;
        let suites_now = suites(&mut state, 100);
        assert_eq!(run_ids(&suites_now), [id], "the re-run is the same suite");
        let suite = &suites_now[0];
        assert_eq!((&suite["status"], &suite["conclusion"]), (&json!("QUEUED"), &Value::Null));
        assert_eq!(suite["createdAt"], json!(first_created));
        assert_eq!(suite["updatedAt"], json!(crate::clock::iso8601(rerun_at)));
        assert_eq!(suite["workflowRun"]["createdAt"], json!(first_created));
        state.advance(100);
        let suite = &suites(&mut state, 100)[0];
        assert_eq!((&suite["status"], &suite["conclusion"]), (&json!("COMPLETED"), &json!("SUCCESS")));
        assert_eq!(suite["updatedAt"], json!(crate::clock::iso8601(rerun_at + 65)));
    }

    #[test]
    fn the_runs_query_of_50_repositories_costs_6_points_and_counts_its_nodes() {
        let mut state = state();
        let query = runs_query(&["one"; 50]);
        let schema = schema().expect("GitHub's schema");
        let document = ExecutableDocument::parse_and_validate(&schema, &query, "query.graphql").expect("valid");
        let operation = document.operations.get(None).expect("one operation");
        let variables = json!({"commits": 10, "suites": 30});
        let priced = cost::analyze(&document, operation, variables.as_object().expect("object")).expect("priced");
        // GitHub's rule: 50 history requests + 50 × 10 checkSuites requests = 550 → 5.5 → 6 points.
        assert_eq!((priced.requests, priced.points, priced.nodes), (550, 6, 50 * 10 + 50 * 10 * 30));
        let body = ask(&mut state, &query, variables);
        assert_eq!(body["data"]["rateLimit"]["cost"], 6);

        let too_many = answer(
            &mut state,
            "test-token",
            "user ID 1",
            &json!({"query": query, "variables": {"commits": 100, "suites": 100}}),
        );
        assert_eq!(too_many.body["errors"][0]["type"], "MAX_NODE_LIMIT_EXCEEDED");
        assert_eq!(
            too_many.body["errors"][0]["message"],
            "By the time this query traverses to the checkSuites connection, it is requesting up to 505,000 possible \
             nodes which exceeds the maximum limit of 500,000."
        );
    }
}
