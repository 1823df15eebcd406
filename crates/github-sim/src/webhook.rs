//! Webhook deliveries: GitHub's headers and `X-Hub-Signature-256` over the exact body.

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
    pub event: &'static str,
    /// The payload.
    pub payload: Value,
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

/// POSTs one event over plain HTTP/1.1; failures are logged, as GitHub does not retry either.
pub async fn deliver(target: WebhookTarget, event: PendingEvent, delivery: String) {
    let Some(rest) = target.url.strip_prefix("http://") else {
        tracing::warn!(url = %target.url, "webhook URL must be http://");
        return;
    };
    let (host, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let body = event.payload.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         User-Agent: GitHub-Hookshot/github-sim\r\nX-GitHub-Event: {}\r\nX-GitHub-Delivery: {delivery}\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n{body}",
        event.event,
        signature(&target.secret, body.as_bytes()),
        body.len()
    );
    let sent = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(())
    };
    if let Err(error) = sent.await {
        tracing::warn!(%error, event = event.event, "webhook delivery failed");
    }
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
