//! Organization discovery end to end: the operator binary against the real API server and github-sim serving a
//! 32-repository organization (`tests/fixtures/acme-30.yaml`), with GitHub's webhooks delivered to the operator.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use github_sim::webhook::WebhookTarget;
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::condition::{find_condition, ConditionStatus};
use infinity_orchestrator::crd::{HasConditions, Organization, Repository};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::process::OperatorProcess;
use support::{assert_no_secret_leaks, cluster, eventually, namespace};

const TOKEN: &str = "test-token";
const WEBHOOK_SECRET: &str = "discovery-webhook-secret";

/// What discovery makes of one repository.
#[derive(Debug, PartialEq)]
struct Discovered {
    build: Option<String>,
    test: Option<String>,
    dependencies: Vec<String>,
}

/// What discovery must make of each repository: build command, test command, dependencies.
fn expected() -> BTreeMap<String, Discovered> {
    let row = |build: Option<&str>, test: Option<&str>, deps: &[&str]| Discovered {
        build: build.map(str::to_owned),
        test: test.map(str::to_owned),
        dependencies: deps.iter().map(|d| d.to_string()).collect(),
    };
    BTreeMap::from([
        ("proto", row(Some("cargo build --locked"), Some("cargo test"), &[])),
        ("core-rs", row(Some("cargo build --workspace --locked"), Some("cargo test --workspace"), &["proto"])),
        ("cli-rs", row(Some("cargo build"), Some("cargo test"), &["core-rs"])),
        ("agent-rs", row(Some("cargo build"), Some("cargo test"), &["core-rs"])),
        ("macros-rs", row(Some("cargo build"), Some("cargo test --all-features"), &[])),
        ("ui-kit", row(Some("npm ci && npm run build"), Some("npm test"), &[])),
        (
            "web",
            row(Some("pnpm install --frozen-lockfile && pnpm run build"), Some("pnpm test"), &["api-client", "ui-kit"]),
        ),
        ("api-client", row(Some("yarn install --frozen-lockfile && yarn build"), Some("yarn test"), &[])),
        ("docs-site", row(None, None, &[])),
        ("admin", row(Some("npm ci && npm run build"), None, &["api-client"])),
        ("go-common", row(Some("go build ./..."), Some("go test ./..."), &[])),
        ("svc-users", row(Some("go build ./..."), Some("go test ./..."), &["go-common"])),
        ("svc-billing", row(Some("go build ./..."), Some("go test ./..."), &["go-common", "svc-users"])),
        ("go-tools", row(Some("go build ./..."), Some("go test ./..."), &[])),
        ("py-common", row(Some("python -m build"), None, &[])),
        ("py-worker", row(Some("poetry build"), Some("poetry run pytest"), &["py-common"])),
        ("ml-pipeline", row(Some("pip install -r requirements.txt"), Some("pytest"), &["py-common"])),
        ("py-cli", row(Some("uv build"), None, &["py-common"])),
        ("notebooks", row(Some("pip install -r requirements.txt"), Some("tox"), &[])),
        ("java-lib", row(Some("mvn -B package"), Some("mvn -B test"), &[])),
        ("java-svc", row(Some("./mvnw -B package"), Some("./mvnw -B test"), &["java-lib"])),
        ("java-batch", row(Some("mvn -B package"), Some("mvn -B test"), &["java-lib"])),
        ("kt-lib", row(Some("gradle build"), Some("gradle test"), &[])),
        ("kt-app", row(Some("./gradlew build"), Some("./gradlew test"), &["kt-lib"])),
        ("android-app", row(Some("gradle build"), Some("gradle test"), &["java-lib"])),
        ("c-engine", row(Some("cmake -B build && cmake --build build"), Some("ctest --test-dir build"), &[])),
        ("firmware", row(Some("make build"), Some("make test"), &[])),
        ("infra-images", row(Some("docker build ."), None, &[])),
        ("cyc-a", row(Some("npm install && npm run build"), None, &["cyc-b"])),
        ("cyc-b", row(Some("npm install && npm run build"), None, &["cyc-a"])),
    ])
    .into_iter()
    .map(|(name, discovered)| (name.to_owned(), discovered))
    .collect()
}

fn actual(repositories: &[Repository]) -> BTreeMap<String, Discovered> {
    repositories
        .iter()
        .map(|r| {
            let status = r.status.clone().unwrap_or_default();
            let deps = status.dependencies.iter().map(|d| d.repository.clone()).collect();
            let discovered = Discovered { build: status.build_command, test: status.test_command, dependencies: deps };
            (r.spec.name.0.clone(), discovered)
        })
        .collect()
}

async fn start_simulator() -> SimHandle {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acme-30.yaml");
    let fixture = Fixture::from_file(path).expect("the fixture parses");
    Simulator::start(fixture, SimOptions::default()).await.expect("the simulator starts")
}

async fn create_organization(client: &Client, ns: &str, api_url: &str) {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "token": TOKEN, "webhookSecret": WEBHOOK_SECRET },
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.create(&PostParams::default(), &serde_json::from_value(secret).unwrap()).await.unwrap();
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": {
            "login": "acme", "apiUrl": api_url,
            "credentials": { "type": "Token", "secretRef": { "name": "gh" } },
            "discovery": { "interval": "6h" },
        },
    });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), ns);
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
}

/// The Organization once a discovery pass completed.
async fn until_synced(organizations: &Api<Organization>) -> Organization {
    eventually("a completed discovery pass", Duration::from_secs(60), || async {
        let org = organizations.get("acme").await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        (ready.status == ConditionStatus::True && ready.reason == "Synced").then_some(org)
    })
    .await
}

/// POSTs a JSON body to the simulator's control API (which, unlike the library calls, also sends the webhook a
/// change on GitHub would).
fn sim_control(sim: &SimHandle, path: &str, body: &serde_json::Value) -> u16 {
    let address = sim.base_url().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let body = body.to_string();
    let mut stream = TcpStream::connect(&address).expect("connecting to the simulator");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_of_thirty_repositories_is_discovered_kept_current_and_resynced_for_free() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "discovery").await;
    let sim = start_simulator().await;
    // GitHub's clock moves on: discovery reads a second after the fixture's pushes, so that what it reads is known
    // to be their outcome (a reading in the second of a push is read again, as a later push may share its time).
    sim.advance_clock(1);
    let operator = OperatorProcess::start_with_webhook(&cluster, &ns, &[]);
    sim.set_webhook(WebhookTarget { url: operator.webhook_url().unwrap(), secret: WEBHOOK_SECRET.into() });
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(client.clone(), &ns);
    // Someone wrote a Repository for macros-rs by hand, with an override: it is adopted, not duplicated.
    let hand_written = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "metadata": { "name": "my-macros" },
        "spec": { "organizationRef": { "name": "acme" }, "name": "macros-rs", "test": { "command": "cargo test --all-features" } },
    });
    repositories.create(&PostParams::default(), &serde_json::from_value(hand_written).unwrap()).await.unwrap();
    create_organization(client, &ns, sim.base_url()).await;

    // Exactly the 30 repositories that pass the filters, with their commands and edges.
    let org = until_synced(&organizations).await;
    let status = org.status.clone().unwrap();
    assert_eq!(status.repository_count, Some(30));
    let listed = repositories.list(&ListParams::default()).await.unwrap().items;
    let got = actual(&listed);
    let want = expected();
    let differences: Vec<String> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|name| want.get(*name) != got.get(*name))
        .map(|name| format!("{name}: want {:?}, got {:?}", want.get(name), got.get(name)))
        .collect();
    assert!(differences.is_empty(), "discovery differs from the expected org:\n{}", differences.join("\n"));

    // Objects are owned, labelled, and carry their evidence and workflow.
    let core = listed.iter().find(|r| r.spec.name.0 == "core-rs").unwrap();
    assert_eq!(core.labels().get("orchestrator.infinityxone.io/language").map(String::as_str), Some("rust"));
    assert_eq!(core.labels().get("topic.orchestrator.infinityxone.io/platform").map(String::as_str), Some("true"));
    assert_eq!(core.owner_references()[0].name, "acme");
    let evidence = &core.status.as_ref().unwrap().dependencies[0].evidence[0];
    assert_eq!((evidence.file.as_str(), evidence.dependency.as_str()), ("crates/core/Cargo.toml", "acme-proto"));
    let web = listed.iter().find(|r| r.spec.name.0 == "web").unwrap().status.clone().unwrap();
    assert_eq!(web.build_workflow.as_deref(), Some("infinity-orchestrator.yml"));
    assert_eq!(web.language.as_deref(), Some("typescript"));

    // The cycle is named on the Organization, in a condition and an Event; discovery went on regardless.
    let degraded = find_condition(org.conditions(), "Degraded").expect("a Degraded condition");
    assert_eq!((degraded.status, degraded.reason.as_str()), (ConditionStatus::True, "DependencyCycle"));
    assert!(degraded.message.contains("cyc-a → cyc-b → cyc-a"), "{}", degraded.message);
    assert_eq!(status.dependency_cycles, vec![vec!["cyc-a".to_owned(), "cyc-b".to_owned()]]);
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    eventually("a DependencyCycle Event", Duration::from_secs(20), || async {
        let events = events.list(&ListParams::default()).await.ok()?;
        events.items.iter().any(|e| e.reason.as_deref() == Some("DependencyCycle")).then_some(())
    })
    .await;

    // The adopted object keeps its author's spec and lifetime: no operator label, no owner; but it is labelled and
    // described, and the Repository controller calls it Ready.
    let adopted = listed.iter().find(|r| r.spec.name.0 == "macros-rs").unwrap();
    assert_eq!(adopted.name_any(), "my-macros");
    assert!(adopted.labels().get("app.kubernetes.io/managed-by").is_none() && adopted.owner_references().is_empty());
    assert_eq!(adopted.labels().get("orchestrator.infinityxone.io/organization").map(String::as_str), Some("acme"));
    eventually("the adopted Repository Ready", Duration::from_secs(20), || async {
        let object = repositories.get("my-macros").await.ok()?;
        (find_condition(object.conditions(), "Ready")?.reason == "Discovered").then_some(())
    })
    .await;

    // The malformed package.json warns on its own Repository only.
    let warned: Vec<String> = listed
        .iter()
        .filter(|r| {
            let conditions = r.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
            find_condition(conditions, "DetectionWarning").is_some_and(|c| c.status == ConditionStatus::True)
        })
        .map(|r| r.spec.name.0.clone())
        .collect();
    assert_eq!(warned, ["docs-site"]);

    // A resync of the unchanged organization spends no rate limit: the listing is answered 304, and every repository
    // the listing shows unpushed since it was read is answered from memory, without a request.
    // Asked for by the annotation webhooks set (a person may set it too); answered when the status says so.
    // The pass finds nothing new, so no Repository may be rewritten, although the Organization's status change wakes
    // every one of them (their Ready conditions keep their transition times).
    // The snapshot waits for the Repository controller's first read of each object (its health, written with `Ready`
    // turning `Discovered`): under load that read can land after the pass, and it is a write of its own.
    for name in ["core-rs", "my-macros"] {
        eventually(&format!("{name} read by the Repository controller"), Duration::from_secs(30), || async {
            let object = repositories.get(name).await.ok()?;
            let discovered = find_condition(object.conditions(), "Ready")?.reason == "Discovered";
            (discovered && object.status?.health.is_some()).then_some(())
        })
        .await;
    }
    let version = |name: &'static str| {
        let repositories = repositories.clone();
        async move { repositories.get(name).await.unwrap().metadata.resource_version }
    };
    let (core_version, adopted_version) = (version("core-rs").await, version("my-macros").await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sim.clear_requests();
    let request = "resync-by-hand";
    let wake = json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": request } } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&wake)).await.unwrap();
    eventually("the request answered", Duration::from_secs(30), || async {
        let status = organizations.get("acme").await.ok()?.status?;
        (status.last_handled_request.as_deref() == Some(request)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(version("core-rs").await, core_version, "core-rs was rewritten without a change");
    assert_eq!(version("my-macros").await, adopted_version, "my-macros was rewritten without a change");
    let requests = sim.requests();
    let counted: Vec<String> =
        requests.iter().filter(|r| r.counted).map(|r| format!("{} {} {}", r.method, r.path, r.status)).collect();
    assert!(requests.iter().any(|r| r.path == "/orgs/acme/repos"), "the resync listed the org");
    let reads: Vec<&str> =
        requests.iter().map(|r| r.path.as_str()).filter(|p| p.contains("/git/") || *p == "/graphql").collect();
    assert!(reads.is_empty(), "an unchanged repository was read again: {reads:?}");
    assert!(counted.is_empty(), "requests that spent rate limit on a resync: {counted:?}");
    println!("resync of 30 unchanged repositories: {} requests, {} points", requests.len(), counted.len());
    // The operator's metrics tell the same: GitHub exchanges by route template and status, and the budget.
    let metrics = operator.metrics();
    for series in [
        r#"infinity_orchestrator_github_requests_total{method="GET",route="/orgs/{org}/repos",status="200"}"#,
        r#"infinity_orchestrator_github_requests_total{method="GET",route="/orgs/{org}/repos",status="304"}"#,
        r#"infinity_orchestrator_github_requests_total{method="POST",route="/graphql",status="200"}"#,
        r#"infinity_orchestrator_github_request_duration_seconds_count{route="/graphql"}"#,
        "infinity_orchestrator_github_rate_limit_remaining{credential=",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics:\n{metrics}");
    }

    // A repository created on GitHub appears after its webhook, without waiting for the 6h interval.
    let new_repo = json!({ "owner": "acme", "name": "new-svc", "language": "Go",
        "files": { "go.mod": "module github.com/acme/new-svc\n\nrequire github.com/acme/go-common v1.0.0\n" } });
    assert_eq!(sim_control(&sim, "/_sim/repos", &new_repo), 201);
    let created = eventually("new-svc discovered", Duration::from_secs(30), || async {
        let repo = repositories.get_opt("new-svc").await.ok()??;
        (!repo.status.as_ref()?.dependencies.is_empty()).then_some(repo)
    })
    .await;
    assert_eq!(created.status.unwrap().dependencies[0].repository, "go-common");
    eventually("31 repositories counted", Duration::from_secs(30), || async {
        (organizations.get("acme").await.ok()?.status?.repository_count == Some(31)).then_some(())
    })
    .await;

    // One deleted on GitHub disappears after its webhook (prune policy Delete, the default).
    assert!(sim.delete_repo("acme", "go-tools"));
    eventually("go-tools pruned", Duration::from_secs(30), || async {
        repositories.get_opt("go-tools").await.ok()?.is_none().then_some(())
    })
    .await;

    // A rename arrives as a webhook too: the new name is discovered, the old object pruned.
    let rename = github_sim::control::RepoEdit { name: Some("svc-accounts".into()), ..Default::default() };
    assert!(sim.edit_repo("acme", "svc-users", rename));
    eventually("svc-users renamed to svc-accounts", Duration::from_secs(30), || async {
        let gone = repositories.get_opt("svc-users").await.ok()?.is_none();
        let billing = repositories.get_opt("svc-billing").await.ok()??;
        let deps: Vec<String> = billing.status?.dependencies.into_iter().map(|d| d.repository).collect();
        let renamed = repositories.get_opt("svc-accounts").await.ok()?.is_some();
        // svc-billing's go.mod still names the old module path, which no repository produces any more.
        (gone && renamed && deps == ["go-common"]).then_some(())
    })
    .await;

    // With prune policy Retain, a repository gone from GitHub keeps its object, marked not Ready.
    let retain = json!({ "spec": { "prune": "Retain" } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&retain)).await.unwrap();
    assert!(sim.delete_repo("acme", "notebooks"));
    let kept = eventually("notebooks marked gone", Duration::from_secs(30), || async {
        let object = repositories.get_opt("notebooks").await.ok()??;
        let ready = find_condition(object.conditions(), "Ready")?;
        (ready.status == ConditionStatus::False && ready.reason == "GoneFromGitHub").then_some(object)
    })
    .await;
    let status = kept.status.unwrap();
    assert_eq!(status.test_command.as_deref(), Some("tox"), "what was known is kept");
    let discovered = find_condition(&status.conditions, "Discovered").unwrap();
    assert_eq!((discovered.status, discovered.reason.as_str()), (ConditionStatus::False, "GoneFromGitHub"));

    assert_no_secret_leaks(client, &ns, &[TOKEN, WEBHOOK_SECRET], &[operator.log.as_path()]).await;
    // Every delivery's payload (created, deleted, renamed, pushes) conforms to GitHub's webhooks description.
    let violations = sim.webhook_violations();
    assert!(violations.is_empty(), "{} webhook payload violations:\n{}", violations.len(), violations.join("\n"));
}
