//! No secret the operator holds ever leaves it: the operator binary drives discovery (GitHub App and token
//! credentials), a BuildPlan, healing and the webhook receiver against github-sim, and fails on purpose (a token
//! GitHub refuses, a private key that does not parse, a valid key GitHub does not know, an App GitHub has never
//! heard of, a forged webhook), first with human logs and then, restarted, with JSON logs, both at debug level.
//! Then every place it writes is searched for every secret used: both logs, the Events, every object of ours (spec,
//! status, metadata), the manifest ConfigMap, the metrics page and the webhook answers. Secrets searched for: the
//! GitHub tokens, the webhook secrets, the App private keys whole, line by line and base64-encoded, and every
//! installation token the simulator issued.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::BuildPlanPhase;
use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::{BuildPlan, HasConditions, HealingPolicy, Organization};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::json;
use support::process::OperatorProcess;
use support::{assert_no_secret_leaks, cluster, eventually, namespace};

const APP_KEY: &str = include_str!("support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("support/github_test_app_key.pub.pem");
const APP_ID: &str = "12345";
const INSTALLATION_ID: &str = "678";
const TOKEN: &str = "ghp_beta-token-that-must-never-show-0001";
const REFUSED_TOKEN: &str = "ghp_refused-token-that-must-never-show-02";
const ACME_WEBHOOK_SECRET: &str = "acme-webhook-secret-never-shown-03";
const BETA_WEBHOOK_SECRET: &str = "beta-webhook-secret-never-shown-04";
const UNPARSABLE_KEY_LINE: &str = "bm90LWEta2V5LWJ1dC1hLXNlY3JldC1saW5lLXRoYXQtbXVzdC1uZXZlci1zaG93";
const WAIT: Duration = Duration::from_secs(90);

/// An Organization to create: its name (also its Secret's), GitHub login, credential type and Secret data.
type OrganizationSetup<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>);

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A repository whose `build.yml` accepts the correlation id and ends with `result` after two seconds, with a
/// history of earlier runs.
fn repository(name: &str, result: &str, history: &[&str]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = history
        .iter()
        .map(|conclusion| json!({ "workflow": "build.yml", "event": "push", "conclusion": conclusion, "duration_secs": 30 }))
        .collect();
    json!({
        "name": name,
        "language": "Rust",
        "files": {
            "Cargo.toml": format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
            // The same workflow as a file, for discovery to read.
            ".github/workflows/build.yml": "name: build\nrun-name: \"build ${{ inputs.correlation_id }}\"\non:\n  \
                workflow_dispatch:\n    inputs:\n      correlation_id: { required: false }\njobs: {}\n",
        },
        "workflows": [{
            "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
            "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
            "outcome": { "result": result, "duration_secs": 2 },
        }],
        "runs": runs,
    })
}

/// The simulator: `acme` (reached through the App) with a healthy and a failing repository, `beta` (reached with a
/// token) with one. Its clock follows the wall clock, so that App JWTs signed on the wall clock are valid and runs
/// finish in real seconds.
async fn simulator() -> (Arc<SimHandle>, tokio::task::JoinHandle<()>) {
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [
            { "login": "acme", "repos": [
                repository("core", "success", &["success"]),
                repository("api", "failure", &["success", "failure", "failure", "failure"]),
            ] },
            { "login": "beta", "repos": [repository("tools", "success", &["success"])] },
        ],
        "tokens": [TOKEN],
        "apps": [{ "id": APP_ID.parse::<u64>().unwrap(), "public_key_pem": APP_PUBLIC_KEY,
            "installations": [INSTALLATION_ID.parse::<u64>().unwrap()] }],
        "start_epoch_secs": now_secs(),
    }))
    .expect("a valid fixture");
    let sim = Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim"));
    let clock = sim.clone();
    let follower = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let behind = now_secs() - clock.now();
            if behind > 0 {
                clock.advance_clock(behind as u64);
            }
        }
    });
    (sim, follower)
}

/// An RSA key the simulator's App does not know: it parses, signs, and GitHub answers 401.
fn unknown_rsa_key() -> String {
    for args in [&["genrsa", "-traditional", "2048"][..], &["genrsa", "2048"][..]] {
        let output = std::process::Command::new("openssl").args(args).output().expect("running openssl");
        if output.status.success() {
            return String::from_utf8(output.stdout).expect("a PEM key");
        }
    }
    panic!("openssl could not generate an RSA key");
}

async fn create_secret(client: &Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let secret: Secret =
        serde_json::from_value(json!({ "metadata": { "name": name }, "stringData": data })).expect("a Secret");
    Api::<Secret>::namespaced(client.clone(), ns).create(&PostParams::default(), &secret).await.expect("a Secret");
}

async fn create_organization(client: &Client, ns: &str, name: &str, login: &str, kind: &str, sim: &SimHandle) {
    let org: Organization = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": name },
        "spec": { "login": login, "apiUrl": sim.base_url(),
            "credentials": { "type": kind, "secretRef": { "name": name } } },
    }))
    .expect("an Organization");
    Api::<Organization>::namespaced(client.clone(), ns).create(&PostParams::default(), &org).await.expect("created");
}

/// Waits for the Organization's `Ready` reason to satisfy `wanted`, and returns the reason and message.
async fn ready_of(api: &Api<Organization>, name: &str, wanted: fn(&str) -> bool) -> (String, String) {
    eventually(&format!("Organization {name} Ready as wanted"), WAIT, || async {
        let org = api.get(name).await.ok()?;
        let ready = find_condition(org.conditions(), "Ready")?;
        wanted(&ready.reason).then(|| (ready.reason.clone(), ready.message.clone()))
    })
    .await
}

fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs a delivery to the operator's receiver; the status and the answer's body.
fn deliver(url: &str, signature: &str, delivery: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://").trim_end_matches("/webhook");
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the receiver");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: {delivery}\r\n\
         X-Hub-Signature-256: {signature}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("writing");
    stream.write_all(body).expect("writing");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status");
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// A secret, and the forms it could leak in: itself, base64 (a Secret's `data`), and each line of a PEM body.
fn forms_of(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), base64::engine::general_purpose::STANDARD.encode(secret)];
    forms.extend(
        secret.lines().map(str::trim).filter(|line| line.len() >= 8 && !line.starts_with("-----")).map(str::to_owned),
    );
    forms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_events_status_or_the_manifest_even_on_failing_paths() {
    let cluster = cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "secret-hygiene").await;
    let (sim, clock) = simulator().await;
    let unknown_key = unknown_rsa_key();
    let unparsable_key =
        format!("-----BEGIN RSA PRIVATE KEY-----\n{UNPARSABLE_KEY_LINE}\n-----END RSA PRIVATE KEY-----\n");

    // Two Organizations that work, four that fail at GitHub.
    let app = |key: &str, app_id: &str, webhook: &str| {
        vec![
            ("appId", app_id.to_owned()),
            ("installationId", INSTALLATION_ID.to_owned()),
            ("privateKey", key.to_owned()),
            ("webhookSecret", webhook.to_owned()),
        ]
    };
    let secrets: Vec<OrganizationSetup> = vec![
        ("acme", "acme", "App", app(APP_KEY, APP_ID, ACME_WEBHOOK_SECRET)),
        ("beta", "beta", "Token", vec![("token", TOKEN.into()), ("webhookSecret", BETA_WEBHOOK_SECRET.into())]),
        ("refused-token", "beta", "Token", vec![("token", REFUSED_TOKEN.into())]),
        ("unparsable-key", "acme", "App", app(&unparsable_key, APP_ID, "unparsable-key-webhook-secret")),
        ("unknown-key", "acme", "App", app(&unknown_key, APP_ID, "unknown-key-webhook-secret")),
        ("unknown-app", "acme", "App", app(APP_KEY, "99999", "unknown-app-webhook-secret")),
    ];
    for (name, login, kind, data) in &secrets {
        let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        create_secret(client, &ns, name, &data).await;
        create_organization(client, &ns, name, login, kind, &sim).await;
    }
    // Phase 1: human logs.
    let debug = ["--set", "build.poll_interval=2s"];
    let mut human = OperatorProcess::start_with_webhook_logging(&cluster, &ns, &debug, "debug");
    let organizations: Api<Organization> = Api::namespaced(client.clone(), &ns);
    ready_of(&organizations, "acme", |reason| reason == "Synced").await;
    ready_of(&organizations, "beta", |reason| reason == "Synced").await;
    // The plan starts once discovery has described the repositories (a plan started before would find nothing
    // buildable, and end at once).
    for name in ["core", "api"] {
        support::sim_org::described_repository(client, &ns, name).await;
    }
    let plan: BuildPlan = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan", "metadata": { "name": "nightly" },
        "spec": { "organizationRef": { "name": "acme" }, "retryAttempts": 0, "timeoutMinutes": 5 },
    }))
    .expect("a BuildPlan");
    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), &ns);
    plans.create(&PostParams::default(), &plan).await.expect("a BuildPlan");
    let policy: HealingPolicy = serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "HealingPolicy", "metadata": { "name": "heal" },
        "spec": { "organizationRef": { "name": "acme" }, "mode": "Enforce", "interval": "2s", "cooldown": "1s",
            "maxActionsPerRepositoryPerHour": 100 },
    }))
    .expect("a HealingPolicy");
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    policies.create(&PostParams::default(), &policy).await.expect("a HealingPolicy");

    let failed = |reason: &str| !reason.starts_with("Credentials") && reason != "Synced";
    let mut failures = BTreeMap::new();
    for name in ["refused-token", "unparsable-key", "unknown-key", "unknown-app"] {
        failures.insert(name, ready_of(&organizations, name, failed).await);
    }
    eventually("the plan dispatching", WAIT, || async {
        let status = plans.get("nightly").await.ok()?.status?;
        status.repositories.iter().any(|r| r.run_id.is_some()).then_some(())
    })
    .await;
    eventually("an issue opened by healing", WAIT, || async {
        (!policies.get("heal").await.ok()?.status?.open_issues.is_empty()).then_some(())
    })
    .await;
    let url = human.webhook_url().expect("a webhook receiver");
    let delivery = serde_json::to_vec(&json!({
        "action": "completed", "workflow_run": { "id": 1, "conclusion": "failure" },
        "repository": { "name": "api", "owner": { "login": "acme" }, "default_branch": "main" },
        "organization": { "login": "acme" },
    }))
    .expect("JSON");
    let mut answers = Vec::new();
    let genuine = deliver(&url, &sign(ACME_WEBHOOK_SECRET, &delivery), "hygiene-1", &delivery);
    assert_eq!(genuine.0, 202, "{}", genuine.1);
    let forged = deliver(&url, &sign(BETA_WEBHOOK_SECRET, &delivery), "hygiene-2", &delivery);
    assert_eq!(forged.0, 401, "{}", forged.1);
    answers.extend([genuine.1, forged.1]);
    human.kill();

    // Phase 2: the same operator restarted with JSON logs finishes the plan and meets every failure again.
    let json_args = ["--set", "build.poll_interval=2s", "--log-format", "json"];
    let json_operator = OperatorProcess::start_with_webhook_logging(&cluster, &ns, &json_args, "debug");
    eventually("the plan finished", WAIT, || async {
        let phase = plans.get("nightly").await.ok()?.status?.phase?;
        matches!(phase, BuildPlanPhase::Succeeded | BuildPlanPhase::Failed).then_some(())
    })
    .await;
    // Both logs saw GitHub refuse each credential (a 401 inside that Organization's reconcile), so the error paths
    // were logged, not only the happy ones.
    let refused = |log: &str, name: &str| {
        let name = format!("\"name\":\"{name}\"");
        log.lines().any(|line| line.contains("\"http.status_code\":401") && line.contains(&name))
    };
    let json_log = eventually("the JSON log showing each refusal", WAIT, || async {
        let text = std::fs::read_to_string(&json_operator.log).ok()?;
        ["refused-token", "unknown-key", "unknown-app"].iter().all(|name| refused(&text, name)).then_some(text)
    })
    .await;
    assert!(json_log.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()), "JSON lines only");
    let webhook = deliver(
        &json_operator.webhook_url().expect("a receiver"),
        &sign(ACME_WEBHOOK_SECRET, &delivery),
        "hygiene-3",
        &delivery,
    );
    assert_eq!(webhook.0, 202, "{}", webhook.1);
    answers.push(webhook.1);
    let metrics = json_operator.metrics();

    // Every secret used, in every form it could take.
    let issued: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/access_tokens") && r.status == 201)
        .filter_map(|r| r.response_body?["token"].as_str().map(str::to_owned))
        .collect();
    assert!(issued.len() >= 2, "each operator process got its own installation token: {issued:?}");
    let mut used: Vec<String> = Vec::new();
    for (_, _, _, data) in &secrets {
        for (key, value) in data {
            if ["privateKey", "token", "webhookSecret"].contains(key) {
                used.extend(forms_of(value));
            }
        }
    }
    used.extend(issued.iter().cloned());
    used.sort();
    used.dedup();
    assert!(used.iter().any(|s| s == UNPARSABLE_KEY_LINE) && used.iter().any(|s| s.starts_with("MII")), "PEM lines");

    let logs = [human.log.as_path(), json_operator.log.as_path()];
    let used_refs: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_no_secret_leaks(client, &ns, &used_refs, &logs).await;
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    assert!(config_maps.items.iter().any(|c| c.metadata.name.as_deref() == Some("acme-repositories")), "manifest");
    let mut other_places: Vec<(String, String)> = config_maps
        .items
        .iter()
        .map(|c| (format!("ConfigMap {:?}", c.metadata.name), serde_json::to_string(c).unwrap_or_default()))
        .collect();
    other_places.push(("the metrics page".into(), metrics));
    other_places.extend(answers.into_iter().map(|answer| ("a webhook answer".to_owned(), answer)));
    for secret in &used {
        for (place, text) in &other_places {
            assert!(!text.contains(secret.as_str()), "a secret leaked into {place}");
        }
    }

    // The failures were the ones meant: GitHub refused each, and said so without a byte of the credential.
    let expected = [
        ("refused-token", "(401): Bad credentials"),
        ("unknown-key", "(401): A JSON web token could not be decoded"),
        ("unknown-app", "(401): Integration not found"),
        ("unparsable-key", "the App private key is not an RSA PEM key"),
    ];
    for (name, words) in expected {
        let (reason, message) = &failures[name];
        assert!(reason.starts_with("GitHub") && message.contains(words), "{name}: {reason}: {message}");
    }
    let human_log = std::fs::read_to_string(&human.log).expect("the human log");
    assert!(!human_log.trim_start().starts_with('{'), "the first operator logs for people");
    for name in ["refused-token", "unknown-key", "unknown-app", "unparsable-key"] {
        assert!(human_log.contains(&format!("/{name}.")), "the human log shows {name} reconciled");
    }
    assert!(human_log.contains("401"), "the human log shows GitHub's refusals");
    drop(json_operator);
    clock.abort();
}
