//! The GitHub webhook receiver of a real operator process, against the real API server: signatures (missing, wrong,
//! truncated, another algorithm, an empty key, an unknown organization, odd spellings), replays, oversized bodies,
//! and routing to exactly the objects a delivery concerns.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use infinity_orchestrator::crd::{BuildPlan, Organization, Repository};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use sha2::Sha256;
use support::process::free_port;
use support::{assert_no_secret_leaks, cluster, eventually, namespace};

const SECRET: &str = "webhook-secret-of-acme";
const OTHER_SECRET: &str = "webhook-secret-of-other";

struct Operator {
    child: Child,
    webhook_port: u16,
    metrics_port: u16,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs to /webhook over plain HTTP/1.1; returns the status and the body.
fn post(port: u16, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the receiver");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = String::from("POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    request.push_str("Content-Type: application/json\r\n");
    request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer and close before it has read a body it refuses; the answer is what matters.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status");
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// POSTs to /webhook with a chunked body (no Content-Length, so the size is known only while reading); returns the
/// status.
fn post_chunked(port: u16, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the receiver");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = String::from("POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    request.push_str("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer and close before it has read everything; the answer is what matters.
    for chunk in body.chunks(1024 * 1024) {
        if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || stream.write_all(chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status")
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

async fn create(client: &Client, ns: &str, object: serde_json::Value) {
    let kind = object["kind"].as_str().unwrap().to_owned();
    let params = PostParams::default();
    match kind.as_str() {
        "Secret" => drop(
            Api::<Secret>::namespaced(client.clone(), ns)
                .create(&params, &serde_json::from_value(object).unwrap())
                .await
                .unwrap(),
        ),
        "Organization" => drop(
            Api::<Organization>::namespaced(client.clone(), ns)
                .create(&params, &serde_json::from_value(object).unwrap())
                .await
                .unwrap(),
        ),
        "Repository" => drop(
            Api::<Repository>::namespaced(client.clone(), ns)
                .create(&params, &serde_json::from_value(object).unwrap())
                .await
                .unwrap(),
        ),
        "BuildPlan" => drop(
            Api::<BuildPlan>::namespaced(client.clone(), ns)
                .create(&params, &serde_json::from_value(object).unwrap())
                .await
                .unwrap(),
        ),
        other => panic!("unexpected kind {other}"),
    }
}

fn object(kind: &str, name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": kind, "metadata": { "name": name }, "spec": spec })
}

/// `kind/name → requested-by annotation` for every object of ours in the namespace.
async fn wake_marks(client: &Client, ns: &str) -> Vec<(String, Option<String>)> {
    let mark = |annotations: &std::collections::BTreeMap<String, String>| {
        annotations.get("orchestrator.infinityxone.io/requested-by").cloned()
    };
    let mut marks = Vec::new();
    for o in Api::<Organization>::namespaced(client.clone(), ns).list(&Default::default()).await.unwrap() {
        marks.push((format!("Organization/{}", o.name_any()), mark(o.annotations())));
    }
    for o in Api::<Repository>::namespaced(client.clone(), ns).list(&Default::default()).await.unwrap() {
        marks.push((format!("Repository/{}", o.name_any()), mark(o.annotations())));
    }
    for o in Api::<BuildPlan>::namespaced(client.clone(), ns).list(&Default::default()).await.unwrap() {
        marks.push((format!("BuildPlan/{}", o.name_any()), mark(o.annotations())));
    }
    marks.sort();
    marks
}

/// `kind/namespace/name` of each object the receiver's answer says it woke, sorted.
fn woken_in_answer(body: &str) -> Vec<String> {
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let woken = answer["woken"].as_array().unwrap_or_else(|| panic!("no woken list: {body}"));
    let mut woken: Vec<String> = woken.iter().map(|w| w.as_str().unwrap_or_default().to_owned()).collect();
    woken.sort();
    woken
}

/// The objects whose last wake came from this delivery.
fn woken_by<'a>(marks: &'a [(String, Option<String>)], delivery: &str) -> Vec<&'a str> {
    let mark = format!("github-delivery/{delivery}");
    marks.iter().filter(|(_, m)| m.as_deref() == Some(mark.as_str())).map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn deliveries_are_verified_deduplicated_capped_and_routed() {
    let cluster = &cluster().await;
    let client = &cluster.client;
    let ns = namespace(client, "webhook").await;
    for (name, secret) in [("acme-credentials", SECRET), ("other-credentials", OTHER_SECRET)] {
        create(
            client,
            &ns,
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name },
            "stringData": { "token": format!("{name}-token-value"), "webhookSecret": secret } }),
        )
        .await;
    }
    create(
        client,
        &ns,
        object(
            "Organization",
            "acme",
            json!({ "login": "acme-corp",
        "credentials": { "type": "Token", "secretRef": { "name": "acme-credentials" } } }),
        ),
    )
    .await;
    create(
        client,
        &ns,
        object(
            "Organization",
            "other",
            json!({ "login": "other-corp",
        "credentials": { "type": "Token", "secretRef": { "name": "other-credentials" } } }),
        ),
    )
    .await;
    // An Organization whose webhook secret is empty (anyone can compute an HMAC with an empty key), and one with none.
    create(
        client,
        &ns,
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "empty-credentials" },
            "stringData": { "token": "empty-credentials-token-value", "webhookSecret": "" } }),
    )
    .await;
    create(
        client,
        &ns,
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "unhooked-credentials" },
            "stringData": { "token": "unhooked-credentials-token-value" } }),
    )
    .await;
    for (name, login) in [("empty", "empty-corp"), ("unhooked", "unhooked-corp")] {
        let spec = json!({ "login": login,
            "credentials": { "type": "Token", "secretRef": { "name": format!("{name}-credentials") } } });
        create(client, &ns, object("Organization", name, spec)).await;
        let spec = json!({ "organizationRef": { "name": name } });
        create(client, &ns, object("BuildPlan", &format!("{name}-nightly"), spec)).await;
    }
    create(
        client,
        &ns,
        object("Repository", "acme-core", json!({ "organizationRef": { "name": "acme" }, "name": "core" })),
    )
    .await;
    create(
        client,
        &ns,
        object("Repository", "acme-web", json!({ "organizationRef": { "name": "acme" }, "name": "web" })),
    )
    .await;
    create(
        client,
        &ns,
        object("Repository", "other-core", json!({ "organizationRef": { "name": "other" }, "name": "core" })),
    )
    .await;
    create(client, &ns, object("BuildPlan", "acme-nightly", json!({ "organizationRef": { "name": "acme" } }))).await;
    create(client, &ns, object("BuildPlan", "other-nightly", json!({ "organizationRef": { "name": "other" } }))).await;

    let (webhook_port, metrics_port) = (free_port(), free_port());
    let log_path = std::env::temp_dir().join(format!("operator-{ns}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let operator = Operator {
        child: Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
            .args(["run", "--namespace", &ns])
            .args(["--webhook-addr", &format!("127.0.0.1:{webhook_port}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .env("KUBECONFIG", &cluster.kubeconfig)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
        webhook_port,
        metrics_port,
    };
    eventually("the receiver listens", Duration::from_secs(30), || async {
        TcpStream::connect(("127.0.0.1", operator.webhook_port)).ok()
    })
    .await;

    let run_completed = serde_json::to_vec(&json!({
        "action": "completed",
        "workflow_run": { "id": 42, "conclusion": "success" },
        "repository": { "name": "core", "owner": { "login": "acme-corp" }, "default_branch": "main" },
        "organization": { "login": "acme-corp" },
    }))
    .unwrap();
    let headers = |signature: &'static str, delivery: &'static str| {
        vec![("X-GitHub-Event", "workflow_run"), ("X-GitHub-Delivery", delivery), ("X-Hub-Signature-256", signature)]
    };
    let before = wake_marks(client, &ns).await;
    assert!(before.iter().all(|(_, mark)| mark.is_none()), "{before:?}");

    // Attacks: each gets 401 and changes nothing.
    let good = Box::leak(sign(SECRET, &run_completed).into_boxed_str());
    let wrong = Box::leak(sign(OTHER_SECRET, &run_completed).into_boxed_str());
    let truncated = &good[..good.len() - 4];
    let sha1 = Box::leak(good.replace("sha256=", "sha1=").into_boxed_str());
    let no_signature = vec![("X-GitHub-Event", "workflow_run"), ("X-GitHub-Delivery", "d-0")];
    assert_eq!(post(webhook_port, &no_signature, &run_completed).0, 401, "missing signature");
    assert_eq!(post(webhook_port, &headers(wrong, "d-1"), &run_completed).0, 401, "another org's secret");
    assert_eq!(
        post(webhook_port, &headers(Box::leak(truncated.to_owned().into_boxed_str()), "d-2"), &run_completed).0,
        401,
        "truncated"
    );
    assert_eq!(post(webhook_port, &headers(sha1, "d-3"), &run_completed).0, 401, "other algorithm");
    let tampered = String::from_utf8(run_completed.clone()).unwrap().replace("success", "failure");
    assert_eq!(post(webhook_port, &headers(good, "d-4"), tampered.as_bytes()).0, 401, "body changed after signing");
    // Signed with the empty key, for the Organization whose webhook secret is empty and for the one without any.
    for login in ["empty-corp", "unhooked-corp"] {
        let body = String::from_utf8(run_completed.clone()).unwrap().replace("acme-corp", login);
        let signature = Box::leak(sign("", body.as_bytes()).into_boxed_str());
        assert_eq!(post(webhook_port, &headers(signature, "d-6"), body.as_bytes()).0, 401, "empty key for {login}");
    }
    // A valid signature by acme's secret over a delivery naming an organization nobody manages.
    let stranger = String::from_utf8(run_completed.clone()).unwrap().replace("acme-corp", "stranger-corp");
    let signed_stranger = Box::leak(sign(SECRET, stranger.as_bytes()).into_boxed_str());
    assert_eq!(post(webhook_port, &headers(signed_stranger, "d-7"), stranger.as_bytes()).0, 401, "unknown org");
    // The signature's prefix is case-sensitive and its value is exact: whitespace inside, or a prefix in capitals,
    // is refused (whitespace around a header value is HTTP's, and is not part of the value).
    let spaced = Box::leak(good.replacen('=', "= ", 1).into_boxed_str());
    assert_eq!(post(webhook_port, &headers(spaced, "d-8"), &run_completed).0, 401, "whitespace inside");
    let shouting = Box::leak(good.replacen("sha256", "SHA256", 1).into_boxed_str());
    assert_eq!(post(webhook_port, &headers(shouting, "d-9"), &run_completed).0, 401, "prefix in capitals");
    // A body that is not JSON, with a valid signature over it.
    let not_json = b"payload=%7B%22zen%22%7D".to_vec();
    let signed_form = Box::leak(sign(SECRET, &not_json).into_boxed_str());
    assert_eq!(post(webhook_port, &headers(signed_form, "d-10"), &not_json).0, 401, "not JSON");
    // A forged delivery reusing the id of a genuine one still to come must not make the genuine one a "replay".
    assert_eq!(post(webhook_port, &headers(wrong, "delivery-ok"), &run_completed).0, 401, "forged, valid id");
    assert_eq!(wake_marks(client, &ns).await, before, "rejected deliveries changed nothing");

    // A body over GitHub's 25 MB cap is refused before it is read whole, with or without a Content-Length.
    let huge = vec![b' '; 26 * 1024 * 1024];
    assert_eq!(post(webhook_port, &headers(good, "d-5"), &huge).0, 413);
    assert_eq!(post_chunked(webhook_port, &headers(good, "d-11"), &huge), 413, "chunked");
    assert_eq!(wake_marks(client, &ns).await, before, "refused bodies changed nothing");

    // Header names are case-insensitive (HTTP/2 and some proxies send them in lower case), and whitespace around the
    // value is not part of it: a genuine delivery is accepted whatever the sender's spelling.
    let spelled = [
        ("x-github-event", "workflow_run"),
        ("X-GITHUB-DELIVERY", "delivery-spelled"),
        ("x-hub-signature-256", Box::leak(format!("  {good}\t").into_boxed_str())),
    ];
    let (status, body) = post(webhook_port, &spelled, &run_completed);
    assert_eq!(status, 202, "{body}");
    // The plan is handed to the BuildPlan controller of the operator's own process, which leads: nothing is written
    // on it. The Repository is annotated, for its health read.
    let routed = [format!("BuildPlan/{ns}/acme-nightly"), format!("Repository/{ns}/acme-core")];
    assert_eq!(woken_in_answer(&body), routed, "{body}");
    let marks = wake_marks(client, &ns).await;
    assert_eq!(woken_by(&marks, "delivery-spelled"), ["Repository/acme-core"], "{marks:?}");

    // A valid workflow_run wakes the plans and the repository of that organization, and nothing else; the forged
    // delivery that used its id before did not make it a replay.
    let (status, body) = post(webhook_port, &headers(good, "delivery-ok"), &run_completed);
    assert_eq!(status, 202, "{body}");
    assert_eq!(woken_in_answer(&body), routed, "{body}");
    let marks = wake_marks(client, &ns).await;
    assert_eq!(woken_by(&marks, "delivery-ok"), ["Repository/acme-core"], "{marks:?}");
    assert_eq!(marks.iter().filter(|(_, m)| m.is_some()).count(), 1, "{marks:?}");

    // The same delivery again (a replay) is acknowledged and ignored.
    let (status, body) = post(webhook_port, &headers(good, "delivery-ok"), &run_completed);
    assert_eq!((status, body.contains("already handled")), (200, true), "{body}");
    assert_eq!(wake_marks(client, &ns).await, marks);

    // A repository event wakes the Organization; the other organization, signed with its own secret, only itself.
    let deleted = serde_json::to_vec(&json!({
        "action": "deleted",
        "repository": { "name": "gone", "owner": { "login": "other-corp" } },
        "organization": { "login": "other-corp" },
    }))
    .unwrap();
    let signature = sign(OTHER_SECRET, &deleted);
    let repo_headers = [
        ("X-GitHub-Event", "repository"),
        ("X-GitHub-Delivery", "delivery-repo"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    assert_eq!(post(webhook_port, &repo_headers, &deleted).0, 202);
    let marks = wake_marks(client, &ns).await;
    let woken = woken_by(&marks, "delivery-repo");
    assert_eq!(woken, ["Organization/other"], "{marks:?}");

    let metrics = get(operator.metrics_port, "/metrics");
    for series in [
        r#"infinity_orchestrator_webhook_deliveries_total{event="workflow_run",outcome="accepted"} 2"#,
        r#"infinity_orchestrator_webhook_deliveries_total{event="workflow_run",outcome="duplicate"} 1"#,
        r#"infinity_orchestrator_webhook_deliveries_total{event="repository",outcome="accepted"} 1"#,
        r#"infinity_orchestrator_webhook_deliveries_total{event="unverified",outcome="unauthorized"} 12"#,
        r#"infinity_orchestrator_webhook_wakes_total{kind="BuildPlan",via="process"} 2"#,
        r#"infinity_orchestrator_webhook_wakes_total{kind="Repository",via="annotation"} 2"#,
        r#"infinity_orchestrator_webhook_wakes_total{kind="Organization",via="annotation"} 1"#,
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }

    assert_no_secret_leaks(
        client,
        &ns,
        &[
            SECRET,
            OTHER_SECRET,
            "acme-credentials-token-value",
            "other-credentials-token-value",
            "empty-credentials-token-value",
            "unhooked-credentials-token-value",
        ],
        &[log_path.as_path()],
    )
    .await;
}
