//! Webhook deliveries: GitHub's headers and `X-Hub-Signature-256` over the exact body, and the record of every
//! attempt (GitHub's "recent deliveries": the App's `GET /app/hook/deliveries` serves it, and the conformance check
//! validates every payload in it against GitHub's webhook schemas).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where deliveries go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    /// `http://127.0.0.1:PORT/path`.
    pub url: String,
    /// HMAC secret.
    pub secret: String,
}

/// One event waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload.
    pub payload: Value,
    /// For a redelivery, the `guid` of the delivery redelivered (GitHub keeps it, and `X-GitHub-Delivery` with it).
    pub redelivery_of: Option<String>,
}

impl PendingEvent {
    /// A first delivery of an event.
    pub fn new(event: &str, payload: Value) -> Self {
        PendingEvent { event: event.to_string(), payload, redelivery_of: None }
    }
}

/// `status` of a delivery not yet attempted (GitHub lists only attempted ones; the simulator records at once so that
/// no payload escapes the conformance check).
pub const PENDING_STATUS: &str = "pending";
/// GitHub's `status` and `status_code` of a delivery to a receiver it could not reach (its documented example).
pub const FAILED_TO_CONNECT: (&str, u16) = ("failed to connect", 502);

/// One delivery attempt, as GitHub records it for `GET /app/hook/deliveries` (`hook-delivery`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The attempt's id (each redelivery gets a new one).
    pub id: u64,
    /// The event's id, sent as `X-GitHub-Delivery`; a redelivery keeps it.
    pub guid: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action`, if any.
    pub action: Option<String>,
    /// The payload's `installation.id`.
    pub installation_id: Option<u64>,
    /// The payload's `repository.id`.
    pub repository_id: Option<u64>,
    /// Sim clock at the attempt, epoch seconds.
    pub delivered_at: i64,
    /// Whether this attempt was asked for with `POST /app/hook/deliveries/{id}/attempts`.
    pub redelivery: bool,
    /// The receiver's HTTP status; [`FAILED_TO_CONNECT`]'s code when unreachable; 0 while pending.
    pub status_code: u16,
    /// GitHub's description: `OK`, `Invalid HTTP Response: 503`, `failed to connect`, or [`PENDING_STATUS`].
    pub status: String,
    /// Seconds the attempt took.
    pub duration: f64,
    /// Where it was sent.
    pub url: String,
    /// The request headers sent.
    pub request_headers: Vec<(String, String)>,
    /// The payload sent.
    pub payload: Value,
    /// The receiver's answer body, if any.
    pub response_body: Option<String>,
}

impl Delivery {
    /// Whether the receiver answered 2xx.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }

    /// GitHub's `hook-delivery-item` (the list's shape).
    pub fn item_json(&self) -> Value {
        serde_json::json!({
            "id": self.id, "guid": self.guid, "delivered_at": crate::clock::iso8601(self.delivered_at),
            "redelivery": self.redelivery, "duration": self.duration, "status": self.status,
            "status_code": self.status_code, "event": self.event, "action": self.action,
            "installation_id": self.installation_id, "repository_id": self.repository_id, "throttled_at": null,
        })
    }

    /// GitHub's `hook-delivery` (one delivery with its request and response).
    pub fn detail_json(&self) -> Value {
        let mut body = self.item_json();
        let headers: serde_json::Map<String, Value> =
            self.request_headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
        if let Some(object) = body.as_object_mut() {
            object.insert("url".into(), Value::from(self.url.as_str()));
            object.insert("request".into(), serde_json::json!({"headers": headers, "payload": self.payload}));
            object.insert("response".into(), serde_json::json!({"headers": {}, "payload": self.response_body}));
        }
        body
    }
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    /// The receiver's status, or [`FAILED_TO_CONNECT`]'s code.
    pub status_code: u16,
    /// GitHub's description of it.
    pub status: String,
    /// Seconds taken.
    pub duration: f64,
    /// The answer body.
    pub response_body: Option<String>,
}

/// The simulator's one hook (`X-GitHub-Hook-ID`).
pub const HOOK_ID: u64 = 1;

/// What the hook belongs to (`X-GitHub-Hook-Installation-Target-Type` and `-ID`): the fixture's first GitHub App
/// (`integration`) when there is one, else the organization the event concerns.
pub fn hook_target(state: &crate::state::SimState, payload: &Value) -> (&'static str, u64) {
    match state.apps.first() {
        Some(app) => ("integration", app.id),
        None => {
            let org = payload.get("organization").and_then(|o| o.get("id")).and_then(Value::as_u64);
            ("organization", org.unwrap_or_default())
        }
    }
}

/// The headers GitHub sends with a delivery (signature over the exact body).
pub fn request_headers(
    target: &WebhookTarget,
    hook_target: (&str, u64),
    event: &str,
    guid: &str,
    body: &str,
) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("User-Agent".into(), "GitHub-Hookshot/github-sim".into()),
        ("X-GitHub-Event".into(), event.to_string()),
        ("X-GitHub-Delivery".into(), guid.to_string()),
        ("X-GitHub-Hook-ID".into(), HOOK_ID.to_string()),
        ("X-GitHub-Hook-Installation-Target-Type".into(), hook_target.0.to_string()),
        ("X-GitHub-Hook-Installation-Target-ID".into(), hook_target.1.to_string()),
        ("X-Hub-Signature-256".into(), signature(&target.secret, body.as_bytes())),
    ]
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A version-4-shaped delivery id derived from a counter (deterministic in tests).
pub fn delivery_id(counter: u64) -> String {
    let hex = format!("{:032x}", u128::from(counter) | (0x4000u128 << 64) | (0x8000u128 << 48));
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// POSTs one payload over plain HTTP/1.1 with `headers`, and says how it went; GitHub does not retry a failure
/// either (a receiver recovers it with a redelivery request).
pub async fn deliver(url: &str, headers: &[(String, String)], body: &str) -> AttemptOutcome {
    let started = std::time::Instant::now();
    let failed = |started: std::time::Instant| AttemptOutcome {
        status_code: FAILED_TO_CONNECT.1,
        status: FAILED_TO_CONNECT.0.to_string(),
        duration: started.elapsed().as_secs_f64(),
        response_body: None,
    };
    let Some(rest) = url.strip_prefix("http://") else {
        tracing::warn!(%url, "webhook URL must be http://");
        return failed(started);
    };
    let (host, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let sent = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    // GitHub gives a receiver 10 seconds.
    let answered = match tokio::time::timeout(std::time::Duration::from_secs(10), sent).await {
        Ok(answered) => answered,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")),
    };
    match answered {
        Ok(response) => {
            let text = String::from_utf8_lossy(&response);
            let status_code =
                text.split_whitespace().nth(1).and_then(|code| code.parse::<u16>().ok()).unwrap_or(FAILED_TO_CONNECT.1);
            let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_string());
            let status = if (200..300).contains(&status_code) {
                "OK".to_string()
            } else {
                format!("Invalid HTTP Response: {status_code}")
            };
            AttemptOutcome { status_code, status, duration: started.elapsed().as_secs_f64(), response_body: body }
        }
        Err(error) => {
            tracing::warn!(%error, %url, "webhook delivery failed");
            failed(started)
        }
    }
}

/// Completes a `workflow_run` payload with what GitHub sends besides the REST run: the `workflow`, the run's
/// actors, check suite and head commit (fields already present are kept).
pub fn complete_workflow_run(state: &crate::state::SimState, payload: &mut Value) {
    let base = state.base_url.clone();
    let Some(run_id) = payload.get("workflow_run").and_then(|r| r.get("id")).and_then(Value::as_u64) else { return };
    let Some(run) = state.runs.iter().find(|r| r.id == run_id) else { return };
    let Some(repo) = state.repo(&run.owner, &run.repo) else { return };
    let api = format!("{base}/repos/{}/{}", run.owner, run.repo);
    let actor = crate::views::user_json(&base, "github-sim", "User");
    let head_commit = repo.commits.get(&run.head_sha).map(|commit| {
        let person =
            serde_json::json!({"name": commit.author, "email": format!("{}@users.noreply.github.com", commit.author)});
        serde_json::json!({"id": commit.sha, "tree_id": commit.tree, "message": commit.message,
            "timestamp": crate::clock::iso8601(commit.date), "author": person, "committer": person})
    });
    let workflow = repo
        .workflows
        .iter()
        .find(|w| w.id == run.workflow_id)
        .map(|workflow| crate::views::workflow_json(&base, repo, workflow));
    let previous_attempt_url =
        (run.run_attempt > 1).then(|| format!("{api}/actions/runs/{}/attempts/{}", run.id, run.run_attempt - 1));
    if let Some(object) = payload.get_mut("workflow_run").and_then(Value::as_object_mut) {
        let mut fill = |name: &str, value: Value| {
            if object.get(name).is_none_or(Value::is_null) {
                object.insert(name.to_string(), value);
            }
        };
        fill("actor", actor.clone());
        fill("triggering_actor", actor);
        fill("check_suite_id", Value::from(run.id));
        fill("check_suite_node_id", Value::from(format!("CS_{}", run.id)));
        fill("head_commit", head_commit.unwrap_or(Value::Null));
        object.entry("previous_attempt_url").or_insert(previous_attempt_url.map_or(Value::Null, Value::from));
    }
    if let Some(object) = payload.as_object_mut() {
        object.entry("workflow").or_insert(workflow.unwrap_or(Value::Null));
    }
}

/// GitHub lists at most this many commits in a `push` payload.
const PUSH_COMMITS_MAX: usize = 20;

/// The body of a `push` of `branch` from `before` (`None`: the branch was created) to `after`: the pushed commits
/// (newest last, at most 20, as GitHub sends them), `head_commit`, `compare` and `base_ref`.
pub fn push_payload(base: &str, repo: &crate::state::Repo, branch: &str, before: Option<&str>, after: &str) -> Value {
    let zero = "0".repeat(40);
    let full_name = format!("{}/{}", repo.owner, repo.spec.name);
    let commit_json = |commit: &crate::state::GitCommit| {
        let person = serde_json::json!({"name": commit.author, "email": format!("{}@users.noreply.github.com", commit.author),
            "username": commit.author});
        serde_json::json!({"id": commit.sha, "tree_id": commit.tree, "distinct": true, "message": commit.message,
            "timestamp": crate::clock::iso8601(commit.date), "url": format!("{base}/{full_name}/commit/{}", commit.sha),
            "author": person, "committer": person, "added": [], "removed": [], "modified": []})
    };
    // Walk first parents from `after` back to `before`.
    let mut pushed = Vec::new();
    let mut cursor = repo.commits.get(after);
    while let Some(commit) = cursor {
        if Some(commit.sha.as_str()) == before || pushed.len() == PUSH_COMMITS_MAX {
            break;
        }
        pushed.push(commit_json(commit));
        cursor = commit.parents.first().and_then(|parent| repo.commits.get(parent));
    }
    pushed.reverse();
    let head_commit = repo.commits.get(after).map(commit_json).unwrap_or(Value::Null);
    let before = before.unwrap_or(&zero);
    serde_json::json!({"ref": format!("refs/heads/{branch}"), "before": before, "after": after,
        "created": before == zero, "deleted": false, "forced": false, "base_ref": null,
        "compare": format!("{base}/{full_name}/compare/{}...{}", &before[..12.min(before.len())], &after[..12.min(after.len())]),
        "commits": pushed, "head_commit": head_commit,
        "pusher": {"name": "github-sim", "email": null}})
}

/// One attempt ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The [`Delivery::id`] it records into.
    pub id: u64,
    /// Where to send it.
    pub url: String,
    /// The headers to send.
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: String,
}

/// The id GitHub would give the `n`th delivery attempt (an int64 in the billions on github.com).
fn attempt_id(n: usize) -> u64 {
    10_000_000_000 + n as u64
}

/// Empties the outbox: records each event as a pending [`Delivery`] (a new `guid` unless it is a redelivery) and
/// returns the attempts to send, in order. Without a webhook target the events are dropped, as GitHub drops events
/// no hook subscribes to.
pub fn take_outbox(state: &mut crate::state::SimState) -> Vec<Attempt> {
    let events = std::mem::take(&mut state.outbox);
    let Some(target) = state.webhook.clone() else { return Vec::new() };
    let mut attempts = Vec::with_capacity(events.len());
    for event in events {
        let guid = match &event.redelivery_of {
            Some(guid) => guid.clone(),
            None => {
                state.deliveries += 1;
                delivery_id(state.deliveries)
            }
        };
        let body = event.payload.to_string();
        let mut headers = request_headers(&target, hook_target(state, &event.payload), &event.event, &guid, &body);
        if let Some(host) = &state.enterprise_host {
            headers.push(("X-GitHub-Enterprise-Version".into(), crate::enterprise::VERSION.into()));
            headers.push(("X-GitHub-Enterprise-Host".into(), host.clone()));
        }
        let id = attempt_id(state.delivery_log.len() + 1);
        let field = |object: &str| event.payload.get(object).and_then(|o| o.get("id")).and_then(Value::as_u64);
        state.delivery_log.push(Delivery {
            id,
            guid,
            action: event.payload.get("action").and_then(Value::as_str).map(str::to_string),
            installation_id: field("installation"),
            repository_id: field("repository"),
            event: event.event,
            delivered_at: state.now,
            redelivery: event.redelivery_of.is_some(),
            status_code: 0,
            status: PENDING_STATUS.to_string(),
            duration: 0.0,
            url: target.url.clone(),
            request_headers: headers.clone(),
            payload: event.payload,
            response_body: None,
        });
        attempts.push(Attempt { id, url: target.url.clone(), headers, body });
    }
    attempts
}

/// Records how attempt `id` went.
pub fn record_outcome(state: &mut crate::state::SimState, id: u64, outcome: AttemptOutcome) {
    if let Some(delivery) = state.delivery_log.iter_mut().find(|d| d.id == id) {
        delivery.status_code = outcome.status_code;
        delivery.status = outcome.status;
        delivery.duration = outcome.duration;
        delivery.response_body = outcome.response_body;
    }
}

/// Queues a redelivery of attempt `id` (same `guid`, `redelivery: true`); false when there is no such attempt.
pub fn queue_redelivery(state: &mut crate::state::SimState, id: u64) -> bool {
    let Some(original) = state.delivery_log.iter().find(|d| d.id == id) else { return false };
    let event = PendingEvent {
        event: original.event.clone(),
        payload: original.payload.clone(),
        redelivery_of: Some(original.guid.clone()),
    };
    state.outbox.push(event);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries" documentation.
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn delivery_ids_are_uuid_shaped_and_distinct() {
        let id = delivery_id(7);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(delivery_id(1), delivery_id(2));
    }
}
