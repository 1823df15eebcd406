//! The GitHub App's webhook deliveries (`GET /app/hook/deliveries`, `POST /app/hook/deliveries/{id}/attempts`),
//! authenticated as the App itself with its JWT. GitHub never redelivers a failed delivery by itself; these are how
//! the operator recovers the deliveries its receiver missed.

use http::Method;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use super::error::{Error, Result};
use super::octocrab::{encode, OctocrabGitHub};
use super::transport::{next_link, Repeat};

/// GitHub's largest page of deliveries.
pub const MAX_PER_PAGE: u8 = 100;

/// One delivery attempt of the App's hook (`hook-delivery-item`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HookDelivery {
    /// The attempt's id (a redelivery is a new attempt with a new id).
    pub id: u64,
    /// The event's id, sent as `X-GitHub-Delivery`; a redelivery keeps it.
    pub guid: String,
    /// When the attempt was made.
    pub delivered_at: Timestamp,
    /// Whether the attempt was a requested redelivery.
    pub redelivery: bool,
    /// The receiver's HTTP status (GitHub shows 502 or 0 when it could not reach it).
    pub status_code: u16,
    /// GitHub's description of the outcome (`OK`, `failed to connect`, `Invalid HTTP Response: 503`).
    pub status: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action`.
    #[serde(default)]
    pub action: Option<String>,
}

/// One page of deliveries, newest first, and the cursor of the next (older) page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookDeliveryPage {
    /// The attempts on this page.
    pub deliveries: Vec<HookDelivery>,
    /// The `cursor` of the next page, from the `Link` header; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The `cursor` query value of a `Link` URL.
fn cursor_of(url: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| pair.strip_prefix("cursor=")).map(str::to_string)
}

impl OctocrabGitHub {
    /// One page of the App hook's deliveries, newest first, from `cursor` (the first page when `None`).
    pub(super) async fn list_app_hook_deliveries(
        &self,
        cursor: Option<&str>,
        per_page: u8,
    ) -> Result<HookDeliveryPage> {
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let mut path = format!("/app/hook/deliveries?per_page={per_page}");
        if let Some(cursor) = cursor {
            path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let url = self.transport.url(&path);
        let reply = self.transport.send_as_app(Method::GET, &url, Repeat::Safe).await?;
        let deliveries: Vec<HookDelivery> = reply.json(&url)?;
        let next_cursor = reply.link.as_deref().and_then(next_link).as_deref().and_then(cursor_of);
        Ok(HookDeliveryPage { deliveries, next_cursor })
    }

    /// Asks GitHub to deliver attempt `delivery_id`'s payload again (under its `guid`).
    pub(super) async fn app_hook_redeliver(&self, delivery_id: u64) -> Result<()> {
        let url = self.transport.url(&format!("/app/hook/deliveries/{delivery_id}/attempts"));
        // A repeated request only redelivers once more, which the receiver's per-guid log makes harmless.
        let reply = self.transport.send_as_app(Method::POST, &url, Repeat::Safe).await?;
        match reply.status {
            200..=299 => Ok(()),
            status => Err(Error::Unexpected { status, message: format!("redelivery of {delivery_id} answered") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cursor_of_a_link_url() {
        let url = "https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_12077215967";
        assert_eq!(cursor_of(url).as_deref(), Some("v1_12077215967"));
        assert_eq!(cursor_of("https://api.github.com/app/hook/deliveries?per_page=2"), None);
    }

    #[test]
    fn deserializes_githubs_documented_item() {
        let item = serde_json::json!({"id": 12345678, "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
            "delivered_at": "2019-06-03T00:57:16Z", "redelivery": false, "duration": 0.27, "status": "OK",
            "status_code": 200, "event": "issues", "action": "opened", "installation_id": 123,
            "repository_id": 456, "throttled_at": "2019-06-03T00:57:16Z"});
        let delivery: HookDelivery = serde_json::from_value(item).unwrap();
        assert_eq!((delivery.id, delivery.status_code, delivery.action.as_deref()), (12345678, 200, Some("opened")));
    }
}
