//! GitHub never redelivers a failed webhook delivery. The receiver goes down for two minutes (of simulated time)
//! while a BuildPlan's runs finish; with the poll set to ten minutes, only the recovery can move the plan on: the
//! operator, authenticated as a GitHub App, lists its hook's deliveries and asks for the failed ones again, and the
//! plan completes with every repository built once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use github_sim::webhook::{Delivery, WebhookTarget, PENDING_STATUS};
use github_sim::{Fixture, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::crd::build_plan::{BuildPlanPhase, RepositoryBuildState as S};
use infinity_orchestrator::crd::Organization;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::json;
use support::build_plans::{build_plan, dispatches, until_phase};
use support::operated_plans::{assert_plan_end, expected_states, spec_repository, Graph, WEBHOOK_SECRET};
use support::process::{free_port, OperatorProcess};
use support::{cluster, eventually, namespace};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const APP_ID: u64 = 7;
const INSTALLATION_ID: u64 = 70;
const APP_KEY: &str = include_str!("support/github_test_app_key.pem");
const APP_PUBLIC_KEY: &str = include_str!("support/github_test_app_key.pub.pem");

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `event.action status` of each delivery, for messages.
fn summary(deliveries: &[&Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| {
            format!(
                "{} {}.{} {} redelivery={}",
                d.id,
                d.event,
                d.action.as_deref().unwrap_or(""),
                d.status,
                d.redelivery
            )
        })
        .collect()
}

/// The simulated `acme`, its repositories running `build.yml` for `duration_secs`, with the GitHub App `APP_ID`
/// installed on it; simulated time starts at the wall clock's now.
async fn app_org(graph: &Graph, duration_secs: i64) -> Arc<SimHandle> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let repos: Vec<serde_json::Value> = graph
        .keys()
        .map(|name| {
            json!({
                "name": name,
                "files": { "README.md": format!("# {name}\n") },
                "workflows": [{
                    "path": ".github/workflows/build.yml", "name": "build", "workflow_dispatch": true,
                    "inputs": ["correlation_id"], "run_name": "build ${{ inputs.correlation_id }}",
                    "outcome": { "result": "success", "duration_secs": duration_secs },
                }],
            })
        })
        .collect();
    let fixture: Fixture = serde_json::from_value(json!({
        "orgs": [{ "login": "acme", "repos": repos }],
        "apps": [{ "id": APP_ID, "public_key_pem": APP_PUBLIC_KEY, "installations": [INSTALLATION_ID] }],
        "start_epoch_secs": now,
    }))
    .expect("a valid fixture");
    Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("starting github-sim"))
}

/// The Organization `acme`, authenticated as the App, with its webhook secret; a Repository object per repository.
async fn app_organization(client: &Client, ns: &str, sim: &SimHandle, graph: &Graph) {
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "gh" },
        "stringData": { "appId": APP_ID.to_string(), "installationId": INSTALLATION_ID.to_string(),
            "privateKey": APP_KEY, "webhookSecret": WEBHOOK_SECRET } });
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(secret).expect("a Secret"))
        .await
        .expect("creating the Secret");
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "apiUrl": sim.base_url(), "credentials": { "type": "App", "secretRef": { "name": "gh" } } },
    });
    Api::<Organization>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(org).expect("an Organization"))
        .await
        .expect("creating the Organization");
    for (name, depends_on) in graph {
        spec_repository(client, ns, name, depends_on).await;
    }
}

/// The receiver as GitHub reaches it: a loopback port forwarded to the operator's webhook listener. Taken down,
/// the port refuses connections, as a receiver that is down does; brought back, it forwards again.
struct ReceiverFront {
    port: u16,
    upstream: u16,
    task: Option<JoinHandle<()>>,
}

impl ReceiverFront {
    async fn start(upstream: u16) -> Self {
        let mut front = ReceiverFront { port: free_port(), upstream, task: None };
        front.up().await;
        front
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }

    async fn up(&mut self) {
        let port = self.port;
        let listener = eventually("the receiver's port bound again", Duration::from_secs(10), || async move {
            TcpListener::bind(("127.0.0.1", port)).await.ok()
        })
        .await;
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let port = self.port;
        eventually("the receiver refusing connections", Duration::from_secs(10), || async move {
            TcpStream::connect(("127.0.0.1", port)).await.is_err().then_some(())
        })
        .await;
    }
}

/// Waits until every delivery recorded so far has been attempted; returns them.
async fn settled_deliveries(sim: &SimHandle, at_least: usize) -> Vec<Delivery> {
    eventually("the simulator's deliveries attempted", Duration::from_secs(30), || async {
        let deliveries = sim.deliveries();
        (deliveries.len() >= at_least && deliveries.iter().all(|d| d.status != PENDING_STATUS)).then_some(deliveries)
    })
    .await
}

/// `POST /app/hook/deliveries/{id}/attempts` as the App, as a person would from the App's settings page; the status.
async fn redeliver_by_hand(sim: &SimHandle, delivery_id: u64) -> u16 {
    use infinity_orchestrator::github::auth::{app_jwt_claims, sign_app_jwt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let now = k8s_openapi::jiff::Timestamp::from_second(sim.now()).expect("the sim clock");
    let jwt = sign_app_jwt(APP_KEY, &app_jwt_claims(APP_ID, now)).expect("signing the App JWT");
    let host = sim.base_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&host).await.expect("connecting to the simulator");
    let request = format!(
        "POST /app/hook/deliveries/{delivery_id}/attempts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {jwt}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("reading");
    answer.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_two_minute_receiver_outage_loses_no_run() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "webhook-recovery").await;
    // app waits for core; core and util build first, in parallel. Runs take 60 s of simulated time (plus 5 queued).
    let graph: Graph = [("core", vec![]), ("util", vec![]), ("app", vec!["core".to_owned()])]
        .into_iter()
        .map(|(name, depends_on)| (name.to_owned(), depends_on))
        .collect();
    let sim = app_org(&graph, 60).await;
    app_organization(&cluster.client, &ns, &sim, &graph).await;
    // The poll is ten minutes: within this test only deliveries (live or recovered) tell the operator a run ended.
    let args = ["--set", "build.poll_interval=10m", "--set", "webhook.recovery_interval=2s"];
    let operator = OperatorProcess::start_with_webhook(&cluster, &ns, &args);
    let mut front = ReceiverFront::start(operator.webhook_port.expect("a webhook port")).await;
    sim.set_webhook(WebhookTarget { url: front.url(), secret: WEBHOOK_SECRET.into() });
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    eventually("the Organization synced", Duration::from_secs(60), || async {
        organizations.get("acme").await.ok()?.status?.last_sync_time.map(|_| ())
    })
    .await;
    let plans = build_plan(&cluster.client, &ns, "chain", json!({})).await;
    eventually("core and util in flight", Duration::from_secs(60), || async {
        let plan = plans.get("chain").await.ok()?;
        let entries = plan.status?.repositories;
        let running = entries.iter().filter(|e| e.run_id.is_some() && matches!(e.state, S::Queued | S::Running));
        let running = running.count();
        let dispatched = dispatches(&sim.requests()).values().sum::<usize>();
        (dispatched == 2 && running == 2).then_some(())
    })
    .await;
    operator.until_idle("BuildPlan").await;
    let before_outage = settled_deliveries(&sim, 2).await.len();

    // The outage: two minutes in which both runs start and finish; every delivery of them fails.
    front.down().await;
    sim.advance_clock(120);
    // The recovery's passes go on meanwhile: a redelivery it asks for may fail among these first attempts.
    let deliveries = eventually("the outage's first attempts", Duration::from_secs(30), || async {
        let deliveries = settled_deliveries(&sim, before_outage + 4).await;
        let first_attempts = deliveries[before_outage..].iter().filter(|d| !d.redelivery).count();
        (first_attempts >= 4).then_some(deliveries)
    })
    .await;
    let missed: Vec<&Delivery> = deliveries[before_outage..].iter().filter(|d| !d.redelivery).collect();
    assert_eq!(missed.len(), 4, "in_progress and completed for core and util: {:?}", summary(&missed));
    assert!(missed.iter().all(|d| !d.succeeded() && d.status == "failed to connect"), "{:?}", summary(&missed));
    let plan = plans.get("chain").await.expect("the plan");
    assert_eq!(dispatches(&sim.requests()).values().sum::<usize>(), 2, "nothing moved while the receiver was down");
    assert_eq!(plan.status.and_then(|s| s.counts).map(|c| c.succeeded), Some(0));

    // The recovery already asks while the receiver is down; those redeliveries fail too, and it asks again later.
    eventually("a redelivery failing during the outage", Duration::from_secs(30), || async {
        sim.deliveries().iter().any(|d| d.redelivery && d.status == "failed to connect").then_some(())
    })
    .await;
    assert_eq!(dispatches(&sim.requests()).values().sum::<usize>(), 2, "still nothing moved");

    // The receiver is back; nothing but the recovery knows the runs ended.
    front.up().await;
    eventually("app dispatched after the recovery", Duration::from_secs(60), || async {
        (dispatches(&sim.requests()).get("app") == Some(&1)).then_some(())
    })
    .await;
    sim.advance_clock(120);
    let plan = until_phase(&plans, "chain", BuildPlanPhase::Succeeded, Duration::from_secs(60)).await;
    assert_plan_end(&sim, &plan, &expected_states(&graph, &[]));

    // Every missed delivery recovered, those the plan needed and the others alike.
    eventually("every missed delivery received", Duration::from_secs(30), || async {
        let all = sim.deliveries();
        missed.iter().all(|m| all.iter().any(|d| d.guid == m.guid && d.succeeded())).then_some(())
    })
    .await;
    // GitHub was asked, by the App, only for failed attempts of the missed events, and each missed event was
    // received exactly once, redelivered under its guid.
    let log = sim.requests();
    let all = sim.deliveries();
    let asked: Vec<u64> = log
        .iter()
        .filter(|r| r.method == "POST" && r.status == 202)
        .filter_map(|r| r.path.strip_prefix("/app/hook/deliveries/")?.strip_suffix("/attempts")?.parse().ok())
        .collect();
    let missed_guids: Vec<&str> = missed.iter().map(|d| d.guid.as_str()).collect();
    for id in &asked {
        let attempt = all.iter().find(|d| d.id == *id).expect("a recorded attempt");
        assert!(missed_guids.contains(&attempt.guid.as_str()) && !attempt.succeeded(), "{:?}", summary(&[attempt]));
    }
    assert!(log.iter().any(|r| r.method == "GET" && r.path == "/app/hook/deliveries"), "the deliveries were listed");
    assert!(log.iter().filter(|r| r.path.starts_with("/app/hook/")).all(|r| r.credential.as_deref() == Some("app:7")));
    for missed in &missed {
        let received: Vec<&Delivery> = all.iter().filter(|d| d.guid == missed.guid && d.succeeded()).collect();
        assert_eq!(received.len(), 1, "{} ({:?}) received once: {:?}", missed.guid, missed.action, summary(&received));
        assert!(received[0].redelivery);
    }

    let metrics = operator.metrics();
    let count = |series: &str| sample(&metrics, series).unwrap_or(0.0);
    let requested = count("infinity_orchestrator_webhook_redeliveries_requested_total");
    assert_eq!(requested, asked.len() as f64, "{metrics}");
    assert!(requested > 4.0, "asked during the outage and after it: {requested}");
    let listings = log.iter().filter(|r| r.method == "GET" && r.path == "/app/hook/deliveries").count();
    eprintln!("missed 4 deliveries; {requested} redelivery requests, {listings} listings of the hook's deliveries");
    assert_eq!(count("infinity_orchestrator_webhook_deliveries_failed_found_total"), 4.0, "{metrics}");
    assert!(count(r#"infinity_orchestrator_webhook_recovery_passes_total{outcome="completed"}"#) >= 1.0);
    let duplicate = r#"infinity_orchestrator_webhook_deliveries_total{event="workflow_run",outcome="duplicate"}"#;
    assert_eq!(count(duplicate), 0.0, "the recovery asked for nothing already handled");

    // A redelivery of a delivery already acted on (asked for by hand) is answered "already handled": it acts once.
    let handled = missed.iter().find(|d| d.action.as_deref() == Some("completed")).expect("a completed event");
    let attempts_before = sim.deliveries().len();
    assert_eq!(redeliver_by_hand(&sim, handled.id).await, 202);
    let again = settled_deliveries(&sim, attempts_before + 1).await.pop().expect("the new attempt");
    assert_eq!((again.guid.as_str(), again.status_code), (handled.guid.as_str(), 200));
    assert!(again.response_body.as_deref().is_some_and(|b| b.contains("already handled")), "{:?}", again.response_body);
    let metrics = operator.metrics();
    assert_eq!(sample(&metrics, duplicate), Some(1.0), "{metrics}");

    // Every payload sent, first attempts and redeliveries, conforms to GitHub's webhook schemas; every request too.
    sim.assert_conformant();
}
