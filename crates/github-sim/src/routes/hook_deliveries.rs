//! The App's webhook deliveries (authenticated with the App's JWT): list them newest first with cursor pagination,
//! read one, and ask for a redelivery. GitHub never redelivers a failed delivery by itself; these are how a receiver
//! recovers what it missed.

use serde_json::Value;

use super::{ApiError, Reply, RouteRequest};
use crate::pagination::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use crate::state::SimState;

/// `GET /app/hook/deliveries`.
pub const LIST: &str = "/app/hook/deliveries";
/// `GET /app/hook/deliveries/{delivery_id}`.
pub const GET: &str = "/app/hook/deliveries/{delivery_id}";
/// `POST /app/hook/deliveries/{delivery_id}/attempts`.
pub const ATTEMPTS: &str = "/app/hook/deliveries/{delivery_id}/attempts";

/// GitHub's cursor of a page starting at delivery `id` (opaque to clients, which follow `Link`).
fn cursor_of(id: u64) -> String {
    format!("v1_{id}")
}

fn id_of_cursor(cursor: &str) -> Option<u64> {
    cursor.strip_prefix("v1_")?.parse().ok()
}

fn require_app(request: &RouteRequest<'_>) -> Result<u64, ApiError> {
    // The server authenticates these routes with the App's JWT only; a token never reaches here.
    request.app_id.ok_or_else(|| ApiError::new(401, "Requires authentication"))
}

/// `GET /app/hook/deliveries`: attempts newest first; `per_page` (1–100, default 30), `cursor` (from `Link`),
/// `status` (`success` / `failure`). The `Link` header names the next page by cursor, as GitHub's does.
pub fn list(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    require_app(request)?;
    let per_page = match request.query("per_page") {
        None => DEFAULT_PER_PAGE,
        Some(raw) => {
            raw.parse::<usize>().map_err(|_| ApiError::unprocessable("Invalid per_page"))?.clamp(1, MAX_PER_PAGE)
        }
    };
    let start = match request.query("cursor") {
        None => None,
        Some(cursor) => Some(id_of_cursor(cursor).ok_or_else(|| ApiError::new(400, "Invalid cursor"))?),
    };
    let wanted = match request.query("status") {
        None => None,
        Some("success") => Some(true),
        Some("failure") => Some(false),
        Some(_) => return Err(ApiError::unprocessable("Invalid status: must be one of success, failure")),
    };
    let matching: Vec<&crate::webhook::Delivery> = state
        .delivery_log
        .iter()
        .rev()
        // GitHub lists attempts once made; a queued one is not a delivery yet.
        .filter(|d| d.status != crate::webhook::PENDING_STATUS)
        .filter(|d| start.is_none_or(|id| d.id <= id))
        .filter(|d| wanted.is_none_or(|success| d.succeeded() == success))
        .take(per_page + 1)
        .collect();
    let page: Vec<Value> = matching.iter().take(per_page).map(|d| d.item_json()).collect();
    let link = matching.get(per_page).map(|next| {
        let mut query: Vec<String> = vec![format!("per_page={per_page}"), format!("cursor={}", cursor_of(next.id))];
        if let Some(status) = request.query("status") {
            query.push(format!("status={status}"));
        }
        format!("<{}{LIST}?{}>; rel=\"next\"", request.base_url, query.join("&"))
    });
    Ok(Reply { status: 200, body: Some(Value::Array(page)), link })
}

fn find(state: &SimState, request: &RouteRequest<'_>) -> Result<u64, ApiError> {
    let id: u64 = request.params[0].parse().map_err(|_| ApiError::not_found())?;
    state.delivery_log.iter().any(|d| d.id == id).then_some(id).ok_or_else(ApiError::not_found)
}

/// `GET /app/hook/deliveries/{delivery_id}`: one attempt with its request and response.
pub fn get(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    require_app(request)?;
    let id = find(state, request)?;
    let delivery = state.delivery_log.iter().find(|d| d.id == id).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(delivery.detail_json()))
}

/// `POST /app/hook/deliveries/{delivery_id}/attempts`: 202, and the payload is sent again under the same `guid`
/// (`X-GitHub-Delivery`), recorded as a new attempt with `redelivery: true`.
pub fn redeliver(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    require_app(request)?;
    let id = find(state, request)?;
    crate::webhook::queue_redelivery(state, id);
    Ok(Reply::with_status(202, Value::Object(serde_json::Map::new())))
}
