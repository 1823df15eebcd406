//! Credentials: a GitHub App (RS256 App JWT exchanged for a cached installation token) or a plain token.
//! Secrets never reach `Debug` output or logs.

use std::fmt;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::rate_limit::after;

/// How the operator authenticates to GitHub.
#[derive(Clone)]
pub enum Credentials {
    /// A personal access token or any bearer token.
    Token(String),
    /// A GitHub App installation.
    App {
        /// The App's id.
        app_id: u64,
        /// The installation on the organization.
        installation_id: u64,
        /// The App's private key, PEM.
        private_key_pem: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.debug_tuple("Token").field(&"<redacted>").finish(),
            Credentials::App { app_id, installation_id, .. } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .field("private_key_pem", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    /// A stable identifier that names the credential without revealing it: keys the ETag cache and the budgets.
    pub fn id(&self) -> String {
        match self {
            Credentials::Token(token) => {
                let digest = Sha256::digest(token.as_bytes());
                format!("token:{}", hex::encode(&digest[..8]))
            }
            Credentials::App { app_id, installation_id, .. } => format!("app:{app_id}/installation:{installation_id}"),
        }
    }
}

/// The claims of a GitHub App JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppJwtClaims {
    /// Issued at, backdated a minute against clock drift (GitHub's advice).
    pub iat: i64,
    /// Expiry: GitHub accepts at most ten minutes; we use nine to leave room for drift.
    pub exp: i64,
    /// The App id.
    pub iss: String,
}

/// The claims of an App JWT issued at `now`.
pub fn app_jwt_claims(app_id: u64, now: Timestamp) -> AppJwtClaims {
    let now = now.as_second();
    AppJwtClaims { iat: now - 60, exp: now + 9 * 60, iss: app_id.to_string() }
}

/// Signs the App JWT with the App's RSA key (RS256).
pub fn sign_app_jwt(private_key_pem: &str, claims: &AppJwtClaims) -> Result<String> {
    let key = ::octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|e| {
        Error::Auth { message: "the App private key is not an RSA PEM key".into(), source: Some(e.into()) }
    })?;
    ::octocrab::jsonwebtoken::encode(
        &::octocrab::jsonwebtoken::Header::new(::octocrab::jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .map_err(|e| Error::Auth { message: "signing the App JWT failed".into(), source: Some(e.into()) })
}

/// An installation access token and when it expires.
#[derive(Clone)]
pub struct InstallationToken {
    /// The bearer token.
    pub token: String,
    /// GitHub's `expires_at`.
    pub expires_at: Timestamp,
}

impl fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallationToken").field("token", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

/// How long before `expires_at` a cached installation token is replaced, so no request carries a token that expires
/// in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

impl InstallationToken {
    /// Whether the token is still good to use at `now` (it does not expire within [`REFRESH_MARGIN`]).
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        after(now, REFRESH_MARGIN) < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_backdated_and_expire_within_ten_minutes() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let claims = app_jwt_claims(42, now);
        assert_eq!(claims, AppJwtClaims { iat: 1_700_000_000 - 60, exp: 1_700_000_000 + 540, iss: "42".into() });
        assert!(claims.exp - claims.iat <= 600);
    }

    #[test]
    fn tokens_refresh_five_minutes_before_expiry() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let token = |secs| InstallationToken { token: "t".into(), expires_at: after(now, Duration::from_secs(secs)) };
        assert!(token(3600).is_fresh(now));
        assert!(token(301).is_fresh(now));
        assert!(!token(300).is_fresh(now));
        assert!(!token(0).is_fresh(now));
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let app = Credentials::App { app_id: 1, installation_id: 2, private_key_pem: "-----BEGIN SECRET".into() };
        let token = Credentials::Token("ghp_secret".into());
        let installation = InstallationToken { token: "ghs_secret".into(), expires_at: Timestamp::UNIX_EPOCH };
        for shown in [format!("{app:?}"), format!("{token:?}"), format!("{installation:?}")] {
            assert!(!shown.contains("SECRET") && !shown.contains("secret"), "{shown}");
        }
    }

    #[test]
    fn credential_ids_are_stable_and_do_not_reveal_tokens() {
        let a = Credentials::Token("ghp_abc".into());
        assert_eq!(a.id(), Credentials::Token("ghp_abc".into()).id());
        assert_ne!(a.id(), Credentials::Token("ghp_abd".into()).id());
        assert!(!a.id().contains("ghp_abc"));
        let app = Credentials::App { app_id: 7, installation_id: 9, private_key_pem: String::new() };
        assert_eq!(app.id(), "app:7/installation:9");
    }

    #[test]
    fn the_app_jwt_is_rs256_and_verifies_with_the_public_key() {
        use ::octocrab::jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
        let private = include_str!("../../tests/support/github_test_app_key.pem");
        let public = include_str!("../../tests/support/github_test_app_key.pub.pem");
        let now = Timestamp::now();
        let jwt = sign_app_jwt(private, &app_jwt_claims(42, now)).unwrap();
        let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        let decoded = decode::<serde_json::Value>(&jwt, &key, &validation).unwrap();
        assert_eq!(decoded.header.alg, Algorithm::RS256);
        assert_eq!(decoded.claims["iss"], "42");
        assert_eq!(decoded.claims["iat"], now.as_second() - 60);
    }

    #[test]
    fn a_key_that_is_not_pem_is_an_auth_error() {
        let claims = app_jwt_claims(1, Timestamp::UNIX_EPOCH);
        let error = sign_app_jwt("not a key", &claims).unwrap_err();
        assert_eq!(error.category(), "auth");
    }
}
