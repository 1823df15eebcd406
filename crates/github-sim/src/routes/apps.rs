//! GitHub App authentication: an RS256 App JWT is exchanged for an installation token, which then authorises
//! requests until it expires.

use base64::Engine as _;
use serde_json::{json, Value};

use super::{match_template, ApiError, Reply, RouteRequest};
use crate::clock::iso8601;
use crate::state::{sha_of, IssuedToken, SimState};

/// The token-exchange operation's path template.
pub const ACCESS_TOKENS: &str = "/app/installations/{installation_id}/access_tokens";

/// GitHub rejects App JWTs that expire more than ten minutes ahead.
const MAX_JWT_LIFETIME_SECS: i64 = 600;
/// Clock drift GitHub tolerates on `iat`.
const IAT_DRIFT_SECS: i64 = 60;

const UNDECODABLE: &str = "A JSON web token could not be decoded";

/// Whether a request is authenticated as the App (JWT) rather than with a token: the token exchange and the App's
/// webhook deliveries.
pub fn is_app_route(method: &str, path: &str) -> bool {
    use super::hook_deliveries::{ATTEMPTS, GET, LIST};
    match method {
        "POST" => match_template(ACCESS_TOKENS, path).is_some() || match_template(ATTEMPTS, path).is_some(),
        "GET" => match_template(LIST, path).is_some() || match_template(GET, path).is_some(),
        _ => false,
    }
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn integer_claim(claims: &Value, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

/// Checks an App JWT against the fixture's Apps at the sim clock: three parts, `alg` RS256, `iss` a known App,
/// `iat` not in the future, `exp` in the future but at most ten minutes ahead, and the RS256 signature when the App's
/// public key is known. Returns the App id, or GitHub's 401 message.
pub fn verify_app_jwt(state: &SimState, jwt: &str) -> Result<u64, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, _signature] = parts.as_slice() else { return Err(UNDECODABLE.into()) };
    let header = decode_part(header).ok_or(UNDECODABLE)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(UNDECODABLE.into());
    }
    let claims = decode_part(claims).ok_or(UNDECODABLE)?;
    let issuer = match claims.get("iss") {
        Some(Value::String(text)) => text.parse::<u64>().ok(),
        Some(Value::Number(number)) => number.as_u64(),
        _ => None,
    };
    let Some(issuer) = issuer else {
        return Err("'Issuer' claim ('iss') must be an Integer".into());
    };
    let app = state.apps.iter().find(|a| a.id == issuer).ok_or("Integration not found")?;
    let now = state.now;
    match integer_claim(&claims, "iat") {
        Some(iat) if iat <= now + IAT_DRIFT_SECS => {}
        _ => return Err("'Issued at' claim ('iat') must be an Integer representing a time in the past".into()),
    }
    match integer_claim(&claims, "exp") {
        Some(exp) if exp <= now => {
            return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at \
                        which the assertion expires"
                .into())
        }
        Some(exp) if exp > now + MAX_JWT_LIFETIME_SECS => {
            return Err("'Expiration time' claim ('exp') is too far in the future".into())
        }
        Some(_) => {}
        None => return Err(UNDECODABLE.into()),
    }
    if let Some(pem) = &app.public_key_pem {
        use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
        let key =
            DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| "the App's public key is not an RSA PEM key")?;
        // Times were checked above against the sim clock; the library would compare them with the wall clock.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        decode::<Value>(jwt, &key, &validation).map_err(|_| UNDECODABLE.to_string())?;
    }
    Ok(issuer)
}

/// `POST /app/installations/{installation_id}/access_tokens`: 201 with a token valid for the App's token lifetime.
pub fn create_installation_token(state: &mut SimState, request: &RouteRequest<'_>) -> Result<Reply, ApiError> {
    let installation_id: u64 = request.params[0].parse().map_err(|_| ApiError::not_found())?;
    let app = request
        .app_id
        .and_then(|id| state.apps.iter().find(|a| a.id == id))
        .filter(|app| app.installations.contains(&installation_id))
        .ok_or_else(ApiError::not_found)?;
    let permissions = super::permissions::of_installation(app, installation_id);
    let expires_at = state.now + app.token_lifetime_secs;
    let serial = state.next_id();
    let token = format!("ghs_{}", &sha_of(&format!("installation-token:{installation_id}:{serial}"))[..36]);
    state.installation_tokens.insert(token.clone(), IssuedToken { installation_id, expires_at });
    Ok(Reply::with_status(
        201,
        json!({
            "token": token,
            "expires_at": iso8601(expires_at),
            "permissions": permissions,
            "repository_selection": "all",
        }),
    ))
}
