//! `POST /graphql`: the queries of the discovery contract answered from the simulator's state, GitHub's limits and
//! pricing, the `graphql` budget, timeouts, and conformance to GitHub's GraphQL schema.

mod support;

use github_sim::fixture::{OrgFixture, RepoFixture};
use github_sim::{FaultConfig, Fixture, SimHandle, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, HttpReply, AUTH};

/// A file longer than GitHub's (and the simulator's) 512 KiB of `Blob.text`.
fn big_file() -> String {
    "0123456789abcdef\n".repeat(40_000)
}

fn fixture() -> Fixture {
    let files: [(&str, String); 6] = [
        ("Cargo.toml", "[package]\nname = \"core\"\n".into()),
        ("src/lib.rs", "pub fn f() {}\n".into()),
        (".github/workflows/build.yml", "on: push\njobs: {}\n".into()),
        ("a/b/c/d/e/f/g.txt", "deep\n".into()),
        ("data/big.txt", big_file()),
        ("logo.bin", "PNG\0\u{1}\u{2}".into()),
    ];
    let core = RepoFixture {
        name: "core-rs".into(),
        files: files.into_iter().map(|(path, content)| (path.to_string(), content)).collect(),
        topics: vec!["rust".into(), "core".into()],
        language: Some("Rust".into()),
        ..Default::default()
    };
    let web = RepoFixture {
        name: "web".into(),
        files: [("package.json".to_string(), "{}".to_string())].into(),
        visibility: "private".into(),
        archived: true,
        ..Default::default()
    };
    Fixture {
        orgs: vec![OrgFixture { login: "acme".into(), repos: vec![core, web], ..Default::default() }],
        tokens: vec!["test-token".into()],
        ..Default::default()
    }
}

async fn start() -> SimHandle {
    Simulator::start(fixture(), SimOptions::default()).await.expect("start")
}

async fn graphql(sim: &SimHandle, query: &str, variables: Value) -> HttpReply {
    call(sim.base_url(), "POST", "/graphql", &[AUTH], Some(json!({"query": query, "variables": variables}))).await
}

/// The contract's query 1: trees six levels deep through named fragments.
fn trees_query() -> String {
    let mut query = String::from(
        "query DiscoveryTrees($ids: [ID!]!) {\n  rateLimit { cost remaining resetAt }\n  nodes(ids: $ids) {\n    \
         __typename\n    ... on Repository {\n      id\n      name\n      defaultBranchRef {\n        name\n        \
         target { ... on Commit { oid tree { ...Level1 } } }\n      }\n    }\n  }\n}\n\
         fragment Level6 on Tree { entries { path type } }\n",
    );
    for level in (1..6).rev() {
        let next = level + 1;
        query.push_str(&format!(
            "fragment Level{level} on Tree {{ entries {{ path type object {{ ...Level{next} }} }} }}\n"
        ));
    }
    query
}

/// REST's `node_id` of each repository of acme, by name.
async fn node_ids(sim: &SimHandle) -> Vec<(String, String)> {
    let listing = call(sim.base_url(), "GET", "/orgs/acme/repos", &[AUTH], None).await.json();
    let repos = listing.as_array().expect("array");
    repos
        .iter()
        .map(|r| (r["name"].as_str().expect("name").into(), r["node_id"].as_str().expect("id").into()))
        .collect()
}

fn entry<'a>(entries: &'a Value, path: &str) -> &'a Value {
    let found = entries.as_array().expect("entries").iter().find(|e| e["path"] == path);
    found.unwrap_or_else(|| panic!("no entry {path} in {entries}"))
}

#[tokio::test]
async fn trees_of_a_batch_by_rest_node_ids() {
    let sim = start().await;
    let ids = node_ids(&sim).await;
    let core_id = &ids.iter().find(|(name, _)| name == "core-rs").expect("core-rs").1;
    let web_id = &ids.iter().find(|(name, _)| name == "web").expect("web").1;
    let reply = graphql(&sim, &trees_query(), json!({"ids": [core_id, "R_424242", web_id]})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["data"]["rateLimit"]["cost"], 1);
    assert_eq!(body["data"]["rateLimit"]["remaining"], 4999);
    let nodes = &body["data"]["nodes"];
    assert_eq!(nodes[0]["id"], json!(core_id), "GraphQL's id is REST's node_id");
    assert_eq!((&nodes[0]["__typename"], &nodes[0]["name"]), (&json!("Repository"), &json!("core-rs")));
    assert_eq!(nodes[1], Value::Null);
    assert_eq!(nodes[2]["name"], "web");
    let head = call(sim.base_url(), "GET", "/repos/acme/core-rs/git/ref/heads/main", &[AUTH], None).await.json();
    let branch = &nodes[0]["defaultBranchRef"];
    assert_eq!(branch["name"], "main");
    assert_eq!(branch["target"]["oid"], head["object"]["sha"]);
    let root = &branch["target"]["tree"]["entries"];
    assert_eq!(entry(root, "Cargo.toml")["type"], "blob");
    assert_eq!(entry(root, "Cargo.toml")["object"], json!({}), "a Tree fragment does not apply to a Blob");
    let github = &entry(root, ".github")["object"]["entries"];
    let workflows = &entry(github, ".github/workflows")["object"]["entries"];
    assert_eq!(entry(workflows, ".github/workflows/build.yml")["type"], "blob");
    let mut level = &entry(root, "a")["object"]["entries"];
    for path in ["a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e"] {
        level = &entry(level, path)["object"]["entries"];
    }
    assert_eq!(entry(level, "a/b/c/d/e/f"), &json!({"path": "a/b/c/d/e/f", "type": "tree"}), "Level6 stops");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["type"], "NOT_FOUND");
    assert_eq!(errors[0]["path"], json!(["nodes", 1]));
    assert_eq!(errors[0]["message"], "Could not resolve to a node with the global id of 'R_424242'");
    let logged = sim.requests().into_iter().find(|r| r.path == "/graphql").expect("logged");
    assert_eq!((logged.method.as_str(), logged.counted, logged.points), ("POST", true, 1));
    sim.assert_conformant();
}

#[tokio::test]
async fn file_texts_by_alias() {
    let sim = start().await;
    let head = call(sim.base_url(), "GET", "/repos/acme/core-rs/git/ref/heads/main", &[AUTH], None).await.json();
    let oid = head["object"]["sha"].as_str().expect("sha");
    let blob = "... on Blob { text isTruncated byteSize isBinary oid }";
    let query = format!(
        "query DiscoveryFiles {{ rateLimit {{ cost remaining resetAt }}
           r0: repository(owner: \"acme\", name: \"core-rs\") {{
             f0: object(expression: \"{oid}:Cargo.toml\") {{ {blob} }}
             f1: object(expression: \"main:.github/workflows/build.yml\") {{ {blob} }}
             f2: object(expression: \"HEAD:missing/file.txt\") {{ {blob} }}
             f3: object(expression: \"HEAD:data/big.txt\") {{ {blob} }}
             f4: object(expression: \"HEAD:logo.bin\") {{ {blob} }}
             root: object(expression: \"HEAD:\") {{ __typename ... on Tree {{ entries {{ name }} }} }}
             src: object(expression: \"HEAD:src/\") {{ ... on Tree {{ entries {{ path }} }} }}
             commit: object(expression: \"{oid}\") {{ __typename oid }}
             underBlob: object(expression: \"HEAD:Cargo.toml/x\") {{ oid }}
             noBranch: object(expression: \"nosuch:Cargo.toml\") {{ oid }}
           }}
           r1: repository(owner: \"acme\", name: \"x\") {{ name }}
         }}"
    );
    let reply = graphql(&sim, &query, Value::Null).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    let r0 = &body["data"]["r0"];
    assert_eq!(body["data"]["rateLimit"]["cost"], 1);
    assert_eq!(r0["f0"]["text"], "[package]\nname = \"core\"\n");
    assert_eq!((&r0["f0"]["isTruncated"], &r0["f0"]["byteSize"]), (&json!(false), &json!(24)));
    assert_eq!(r0["f1"]["text"], "on: push\njobs: {}\n");
    assert_eq!(r0["f2"], Value::Null, "a missing path is null without an error");
    assert_eq!(r0["f3"]["isTruncated"], true);
    assert_eq!(r0["f3"]["byteSize"], big_file().len());
    assert_eq!(r0["f3"]["text"].as_str().map(str::len), Some(512 * 1024));
    assert_eq!((&r0["f4"]["text"], &r0["f4"]["isBinary"]), (&Value::Null, &json!(true)));
    assert_eq!(r0["root"]["__typename"], "Tree");
    assert!(r0["root"]["entries"].as_array().expect("entries").iter().any(|e| e["name"] == "Cargo.toml"));
    assert_eq!(r0["src"]["entries"], json!([{"path": "src/lib.rs"}]));
    assert_eq!(r0["commit"], json!({"__typename": "Commit", "oid": oid}));
    assert_eq!((&r0["underBlob"], &r0["noBranch"]), (&Value::Null, &Value::Null));
    assert_eq!(body["data"]["r1"], Value::Null);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], json!(["r1"]));
    assert_eq!(errors[0]["type"], "NOT_FOUND");
    assert_eq!(errors[0]["message"], "Could not resolve to a Repository with the name 'acme/x'.");
    assert!(errors[0]["locations"][0]["line"].as_u64().is_some());
    sim.assert_conformant();
}

#[tokio::test]
async fn organization_pages_cost_points_from_a_budget_of_their_own() {
    let sim = start().await;
    let query = "query($after: String) { organization(login: \"acme\") { repositories(first: 1, after: $after) {
                   totalCount pageInfo { hasNextPage endCursor }
                   nodes { name nameWithOwner isArchived isPrivate visibility databaseId primaryLanguage { name }
                           repositoryTopics(first: 10) { nodes { topic { name } } } } } } }";
    let first = graphql(&sim, query, json!({})).await;
    assert_eq!(first.header("x-ratelimit-resource"), Some("graphql"));
    assert_eq!((first.header("x-ratelimit-limit"), first.header("x-ratelimit-used")), (Some("5000"), Some("1")));
    let page = first.json()["data"]["organization"]["repositories"].clone();
    assert_eq!((&page["totalCount"], &page["pageInfo"]["hasNextPage"]), (&json!(2), &json!(true)));
    let core = &page["nodes"][0];
    assert_eq!(core["nameWithOwner"], "acme/core-rs");
    assert_eq!(core["primaryLanguage"]["name"], "Rust");
    assert_eq!(core["repositoryTopics"]["nodes"], json!([{"topic": {"name": "rust"}}, {"topic": {"name": "core"}}]));
    let second = graphql(&sim, query, json!({"after": page["pageInfo"]["endCursor"]})).await.json();
    let page = &second["data"]["organization"]["repositories"];
    assert_eq!(page["nodes"][0]["name"], "web");
    assert_eq!((&page["nodes"][0]["visibility"], &page["nodes"][0]["isArchived"]), (&json!("PRIVATE"), &json!(true)));
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // 2 × (1 + 100) connection requests: 202 / 100 → 2 points.
    let org = "organization(login: \"acme\") { repositories(first: 100) { nodes { repositoryTopics(first: 100) { totalCount } } } }";
    let priced = graphql(&sim, &format!("{{ rateLimit {{ cost nodeCount }} a: {org} b: {org} }}"), json!({})).await;
    assert_eq!(priced.json()["data"]["rateLimit"], json!({"cost": 2, "nodeCount": 2 * (100 + 100 * 100)}));
    assert_eq!(priced.header("x-ratelimit-remaining"), Some("4996"));
    assert_eq!(sim.requests().pop().expect("logged").points, 2);
    let rest = call(sim.base_url(), "GET", "/repos/acme/web", &[AUTH], None).await;
    assert_eq!(rest.header("x-ratelimit-remaining"), Some("4999"), "REST's budget is apart");
    assert_eq!(sim.requests().pop().expect("logged").points, 1);
    sim.assert_conformant();
}

#[tokio::test]
async fn an_exhausted_budget_is_refused_as_github_refuses_it() {
    let sim = start().await;
    sim.set_graphql_rate_limit(1, 1, 600);
    let query = "{ rateLimit { cost remaining limit used } }";
    let spent = graphql(&sim, query, json!({})).await;
    assert_eq!(spent.json()["data"]["rateLimit"], json!({"cost": 1, "remaining": 0, "limit": 1, "used": 1}));
    let refused = graphql(&sim, query, json!({})).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    let reset: i64 = refused.header("x-ratelimit-reset").expect("reset").parse().expect("epoch");
    assert_eq!(reset, sim.now() + 600);
    let body = refused.json();
    assert_eq!(body["errors"][0]["type"], "RATE_LIMITED");
    assert!(body["errors"][0]["message"].as_str().expect("message").starts_with("API rate limit exceeded for"));
    assert!(body.get("data").is_none());
    let logged = sim.requests().pop().expect("logged");
    assert_eq!((logged.counted, logged.points), (false, 0));
    let rate = call(sim.base_url(), "GET", "/rate_limit", &[AUTH], None).await.json();
    assert_eq!(rate["resources"]["graphql"]["remaining"], 0);
    assert_eq!(rate["resources"]["core"]["remaining"], 5000);
    sim.advance_clock(600);
    assert_eq!(graphql(&sim, query, json!({})).await.json()["data"]["rateLimit"]["remaining"], 0, "renewed: 1 - 1");
    sim.assert_conformant();
}

/// Errors of a refused query, and the violations it left on its log entry.
async fn refused(sim: &SimHandle, query: &str, variables: Value) -> (Vec<Value>, Vec<String>) {
    let reply = graphql(sim, query, variables).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert!(body.get("data").is_none(), "refused before running: {body}");
    let errors = body["errors"].as_array().expect("errors").clone();
    (errors, sim.requests().pop().expect("logged").violations)
}

#[tokio::test]
async fn limits_are_refused_with_github_messages_and_fail_conformance() {
    let sim = start().await;
    let (errors, violations) =
        refused(&sim, "{ organization(login: \"acme\") { repositories { totalCount } } }", json!({})).await;
    assert_eq!(errors[0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    assert_eq!(
        errors[0]["message"],
        "You must provide a `first` or `last` value to properly paginate the `repositories` connection."
    );
    assert_eq!(violations.len(), 1);
    assert_eq!(sim.requests().pop().expect("logged").points, 1, "a refused query costs a point");
    let (errors, _) =
        refused(&sim, "{ organization(login: \"acme\") { repositories(first: 101) { totalCount } } }", json!({})).await;
    assert_eq!(
        errors[0]["message"],
        "Requesting 101 records on the `repositories` connection exceeds the `first` limit of 100 records."
    );
    let ids: Vec<String> = (0..101).map(|i| format!("R_{i}")).collect();
    let (errors, _) = refused(&sim, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
    assert!(errors[0]["message"].as_str().expect("message").contains("more than 100 node ids"), "{errors:?}");
    let (errors, _) = refused(&sim, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({})).await;
    assert_eq!(errors[0]["message"], "Variable $ids of type [ID!]! was provided invalid value");
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_conformant()));
    assert!(failed.is_err(), "a refused query fails the test that sent it");
}

#[tokio::test]
async fn fields_github_lacks_or_the_simulator_does_not_serve_fail_loudly() {
    let sim = start().await;
    let (errors, violations) =
        refused(&sim, "{ repository(owner: \"acme\", name: \"web\") {\n  name\n  nosuchfield\n} }", json!({})).await;
    assert_eq!(errors[0]["message"], "Field 'nosuchfield' doesn't exist on type 'Repository'");
    assert_eq!(errors[0]["locations"], json!([{"line": 3, "column": 3}]));
    assert_eq!(violations.len(), 1, "{violations:?}");

    let reply =
        graphql(&sim, "{ repository(owner: \"acme\", name: \"web\") { name stargazerCount } }", json!({})).await;
    let body = reply.json();
    assert_eq!(body["data"]["repository"], Value::Null, "a non-null field that fails nulls its parent");
    assert_eq!(body["errors"][0]["path"], json!(["repository", "stargazerCount"]));
    assert!(body["errors"][0]["message"].as_str().expect("message").contains("`Repository.stargazerCount`"));
    let violations = sim.requests().pop().expect("logged").violations;
    assert!(violations[0].contains("Repository.stargazerCount"), "{violations:?}");
    let unserved_argument =
        "{ organization(login: \"acme\") { repositories(first: 5, isFork: false) { totalCount } } }";
    let body = graphql(&sim, unserved_argument, json!({})).await.json();
    assert!(body["errors"][0]["message"].as_str().expect("message").contains("`isFork`"), "{body}");
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_conformant()));
    assert!(failed.is_err());
}

#[tokio::test]
async fn timeouts_answer_502_and_still_cost_points() {
    let sim = start().await;
    let query = "{ rateLimit { cost } repository(owner: \"acme\", name: \"core-rs\") { name } }";
    sim.set_faults(FaultConfig { graphql_timeout_rate: 1.0, ..Default::default() });
    let reply = graphql(&sim, query, json!({})).await;
    assert_eq!(reply.status, 502);
    assert!(reply.json()["errors"][0]["message"]
        .as_str()
        .expect("message")
        .contains("couldn't respond to your request in time"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("4999"), "counted (changelog 2025-07-21)");
    let logged = sim.requests().pop().expect("logged");
    assert_eq!((logged.fault.as_deref(), logged.points), (Some("graphql_timeout"), 1));

    sim.set_faults(FaultConfig::default());
    sim.set_graphql_max_response_bytes(100 * 1024);
    let big = "{ repository(owner: \"acme\", name: \"core-rs\") { object(expression: \"HEAD:data/big.txt\") { ... on Blob { text } } } }";
    let reply = graphql(&sim, big, json!({})).await;
    assert_eq!(reply.status, 502, "an answer over the size limit is a timeout");
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("4998"));
    let small = graphql(&sim, query, json!({})).await;
    assert_eq!(small.status, 200);
    sim.assert_conformant();
}

#[tokio::test]
async fn node_and_typename_answer_rest_ids() {
    let sim = start().await;
    for (name, id) in node_ids(&sim).await {
        let query = "query($id: ID!) { node(id: $id) { __typename id ... on Repository { name } } }";
        let body = graphql(&sim, query, json!({ "id": id })).await.json();
        assert_eq!(body["data"]["node"], json!({"__typename": "Repository", "id": id, "name": name}));
    }
    let org =
        call(sim.base_url(), "GET", "/orgs/acme/repos", &[AUTH], None).await.json()[0]["owner"]["node_id"].clone();
    let query = "query($id: ID!) { node(id: $id) { __typename ... on Organization { login } } }";
    let body = graphql(&sim, query, json!({ "id": org })).await.json();
    assert_eq!(body["data"]["node"], json!({"__typename": "Organization", "login": "acme"}));
    sim.assert_conformant();
}
