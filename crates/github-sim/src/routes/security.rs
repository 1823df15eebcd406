//! Security alert lists: 404 with GitHub's message when the feature is disabled. Alerts themselves are not modelled
//! yet, so an enabled feature lists none.

use serde_json::json;

use super::{ApiError, Reply, RouteRequest};
use crate::fixture::SecurityFixture;
use crate::state::SimState;

fn alerts(
    state: &SimState,
    request: &RouteRequest<'_>,
    enabled: fn(&SecurityFixture) -> bool,
    disabled_message: &str,
) -> Result<Reply, ApiError> {
    let repo = state.repo(&request.params[0], &request.params[1]).ok_or_else(ApiError::not_found)?;
    if !enabled(&repo.spec.security) {
        return Err(ApiError { status: 404, message: disabled_message.to_string() });
    }
    Ok(Reply::ok(json!([])))
}

/// `GET /repos/{owner}/{repo}/code-scanning/alerts`.
pub fn code_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    alerts(state, request, |s| s.code_scanning, "no analysis found")
}

/// `GET /repos/{owner}/{repo}/dependabot/alerts`.
pub fn dependabot(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    alerts(state, request, |s| s.dependabot, "Dependabot alerts are disabled for this repository.")
}

/// `GET /repos/{owner}/{repo}/secret-scanning/alerts`.
pub fn secret_scanning(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    alerts(state, request, |s| s.secret_scanning, "Secret scanning is disabled on this repository.")
}
