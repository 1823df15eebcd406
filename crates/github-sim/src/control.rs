//! Control endpoints under `/_sim/` (not GitHub's).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultConfig;
use crate::fixture::RepoFixture;
use crate::rate_limit::Budget;
use crate::state::SimState;

/// Replaces the faults and reseeds their RNG.
pub fn set_faults(state: &mut SimState, faults: FaultConfig) {
    state.fault_rng = fastrand::Rng::with_seed(faults.seed);
    state.fault_request_index = 0;
    state.faults = faults;
}

/// Sets every credential's budget, and the default for new ones.
pub fn set_rate_limit(state: &mut SimState, limit: i64, remaining: i64, reset_in_secs: i64) {
    let budget = Budget { limit, remaining, reset_at: state.now + reset_in_secs };
    state.default_limit = limit;
    let tokens: Vec<String> = state.tokens.iter().cloned().collect();
    for token in tokens {
        state.budgets.insert(token, budget);
    }
}

#[derive(Deserialize)]
struct RateLimitBody {
    limit: i64,
    remaining: i64,
    reset_in_secs: i64,
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

#[derive(Deserialize)]
struct NewRepoBody {
    owner: String,
    #[serde(flatten)]
    repo: RepoFixture,
}

fn bad_request(message: String) -> (u16, Value) {
    (400, json!({"message": message}))
}

/// Serves one control request; returns status and JSON body.
pub fn handle(state: &mut SimState, method: &str, path: &str, body: &Value) -> (u16, Value) {
    match (method, path) {
        ("GET", "/_sim/requests") => (200, serde_json::to_value(&state.log).unwrap_or(Value::Null)),
        ("DELETE", "/_sim/requests") => {
            state.log.clear();
            (200, json!({}))
        }
        ("GET", "/_sim/clock") => (200, json!({"now": state.now, "iso": crate::clock::iso8601(state.now)})),
        ("POST", "/_sim/clock/advance") => match AdvanceBody::deserialize(body) {
            Ok(advance) => {
                state.now += i64::try_from(advance.seconds).unwrap_or(0);
                (200, json!({"now": state.now}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/faults") => match FaultConfig::deserialize(body) {
            Ok(faults) => {
                set_faults(state, faults);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/rate-limit") => match RateLimitBody::deserialize(body) {
            Ok(b) => {
                set_rate_limit(state, b.limit, b.remaining, b.reset_in_secs);
                (200, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        ("POST", "/_sim/repos") => match NewRepoBody::deserialize(body) {
            Ok(new) => {
                state.add_repo(&new.owner, new.repo);
                (201, json!({}))
            }
            Err(error) => bad_request(error.to_string()),
        },
        _ => (404, json!({"message": "Not Found"})),
    }
}
