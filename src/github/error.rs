//! The GitHub layer's one error type, classified so controllers can turn each kind into the right condition.

use k8s_openapi::jiff::Timestamp;

/// A boxed error from below this layer (HTTP client, I/O, key parsing).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist, or the credential may not see it (GitHub answers 404 for both).
    #[error("not found: {message}")]
    NotFound {
        /// GitHub's message.
        message: String,
    },
    /// 401 (GitHub refused the credential itself: revoked, expired or unknown), or a 403 that is not a rate limit
    /// (the credential lacks a permission).
    #[error("{} ({status}): {message}", if *status == 401 { "credential refused" } else { "permission denied" })]
    Permission {
        /// 401 or 403.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// The primary budget is exhausted for longer than we are willing to wait, or a secondary limit persisted.
    #[error("rate limited until {until}")]
    RateLimited {
        /// When GitHub says the budget resets (or the retry-after ends).
        until: Timestamp,
    },
    /// 422: GitHub rejected the request's content.
    #[error("validation failed: {message}")]
    Validation {
        /// GitHub's message, with the first field error if any.
        message: String,
    },
    /// 409: the resource is in a state that forbids the request (e.g. cancelling a finished run, empty repository).
    #[error("conflict: {message}")]
    Conflict {
        /// GitHub's message.
        message: String,
    },
    /// 5xx, a timeout or a broken connection: worth retrying later.
    #[error("transient failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Obtaining or using credentials failed locally (bad key, unusable token).
    #[error("authentication setup failed: {message}")]
    Auth {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A response did not have the shape we expected.
    #[error("could not decode {what}")]
    Decode {
        /// Which response.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A GraphQL answer's `errors` (other than a node that does not exist, which is an absent result).
    #[error("GraphQL query failed: {message}")]
    GraphQL {
        /// GitHub's first error message.
        message: String,
        /// Whether every error names a `path` inside the answer (one repository or file failed, the rest of the
        /// query was answered) rather than the query as a whole.
        partial: bool,
    },
    /// The layer was configured with something unusable (e.g. a base URL that does not parse).
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// Any other status GitHub answered with.
    #[error("unexpected response {status}: {message}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
}

/// Result of this layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A stable, low-cardinality label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Permission { status: 401, .. } => "unauthorized",
            Error::Permission { .. } => "permission",
            Error::RateLimited { .. } => "rate_limited",
            Error::Validation { .. } => "validation",
            Error::Conflict { .. } => "conflict",
            Error::Transient { .. } => "transient",
            Error::Auth { .. } => "auth",
            Error::Decode { .. } => "decode",
            Error::GraphQL { .. } => "graphql",
            Error::Config { .. } => "config",
            Error::Unexpected { .. } => "unexpected",
        }
    }

    /// Whether trying again later may succeed without anything else changing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }

    pub(crate) fn transient(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Transient { message: message.into(), source: Some(source.into()) }
    }

    pub(crate) fn decode(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Decode { what: what.into(), source }
    }
}

/// How a non-success answer should be handled, decided from status, headers and body alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A secondary (abuse) limit: back off (see `rate_limit::secondary_limit_delay`) and retry; the request was not
    /// carried out, so even a write may be sent again.
    SecondaryLimit {
        /// The `retry-after` header, in seconds.
        retry_after_secs: Option<u64>,
        /// `x-ratelimit-reset` (Unix seconds) when `x-ratelimit-remaining` was 0.
        reset_epoch: Option<i64>,
    },
    /// The primary budget is spent: wait until `x-ratelimit-reset`.
    PrimaryExhausted {
        /// The reset, in Unix seconds, when the header was present.
        reset_epoch: Option<i64>,
    },
    /// Retry with backoff if the request is safe to repeat.
    Transient {
        /// The status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// Final: report to the caller.
    Final {
        /// The status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
}

/// The parts of a response that classification looks at.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResponseFacts<'a> {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    pub ratelimit_remaining: Option<u64>,
    pub ratelimit_reset: Option<i64>,
    pub body: &'a str,
}

/// GitHub's `message` (plus the first `errors[].message`, which carries 422 details), or a bounded body excerpt.
pub(crate) fn github_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| v.get("message")).and_then(|m| m.as_str());
    let detail = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("message").and_then(|m| m.as_str()).or_else(|| e.as_str()));
    match (message, detail) {
        (Some(m), Some(d)) => format!("{m}: {d}"),
        (Some(m), None) => m.to_string(),
        _ => body.chars().take(200).collect(),
    }
}

/// Classifies a non-2xx, non-304 response.
pub(crate) fn classify(facts: &ResponseFacts<'_>) -> Failure {
    let message = github_message(facts.body);
    let lower = message.to_ascii_lowercase();
    let status = facts.status;
    if status == 403 || status == 429 {
        // GitHub's documented order: a spent primary budget shows remaining 0; a secondary limit shows retry-after
        // or says so in its message.
        if facts.ratelimit_remaining == Some(0) && !lower.contains("secondary") {
            return Failure::PrimaryExhausted { reset_epoch: facts.ratelimit_reset };
        }
        if facts.retry_after_secs.is_some() || lower.contains("secondary rate limit") || status == 429 {
            let reset_epoch = facts.ratelimit_reset.filter(|_| facts.ratelimit_remaining == Some(0));
            return Failure::SecondaryLimit { retry_after_secs: facts.retry_after_secs, reset_epoch };
        }
    }
    if status >= 500 {
        return Failure::Transient { status, message };
    }
    Failure::Final { status, message }
}

/// The error a final failure becomes.
pub(crate) fn final_error(status: u16, message: String) -> Error {
    match status {
        401 | 403 => Error::Permission { status, message },
        404 | 410 => Error::NotFound { message },
        409 => Error::Conflict { message },
        422 => Error::Validation { message },
        _ => Error::Unexpected { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: u16, body: &str) -> ResponseFacts<'_> {
        ResponseFacts { status, body, ..Default::default() }
    }

    #[test]
    fn spent_primary_budget_is_told_apart_from_permission() {
        let f =
            ResponseFacts { ratelimit_remaining: Some(0), ratelimit_reset: Some(1_700_000_000), ..facts(403, "{}") };
        assert_eq!(classify(&f), Failure::PrimaryExhausted { reset_epoch: Some(1_700_000_000) });
        let f = ResponseFacts {
            ratelimit_remaining: Some(4000),
            ..facts(403, r#"{"message":"Resource not accessible by integration"}"#)
        };
        assert_eq!(
            classify(&f),
            Failure::Final { status: 403, message: "Resource not accessible by integration".into() }
        );
    }

    #[test]
    fn secondary_limits_by_retry_after_message_or_429() {
        let f = ResponseFacts { retry_after_secs: Some(30), ratelimit_remaining: Some(10), ..facts(403, "{}") };
        assert_eq!(classify(&f), Failure::SecondaryLimit { retry_after_secs: Some(30), reset_epoch: None });
        let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#;
        let silent = Failure::SecondaryLimit { retry_after_secs: None, reset_epoch: None };
        assert_eq!(classify(&facts(403, body)), silent);
        assert_eq!(classify(&facts(429, body)), silent, "403 and 429 alike");
        // A secondary limit can arrive with remaining 0 too; its message decides, and the reset says how long.
        let f =
            ResponseFacts { ratelimit_remaining: Some(0), ratelimit_reset: Some(1_700_000_000), ..facts(429, body) };
        assert_eq!(classify(&f), Failure::SecondaryLimit { retry_after_secs: None, reset_epoch: Some(1_700_000_000) });
        let f =
            ResponseFacts { ratelimit_remaining: Some(7), ratelimit_reset: Some(1_700_000_000), ..facts(403, body) };
        assert_eq!(classify(&f), silent, "the reset matters only when the budget is spent");
        assert_eq!(classify(&facts(429, "{}")), silent);
        let content = r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later."}"#;
        assert_eq!(classify(&facts(403, content)), silent);
    }

    #[test]
    fn server_errors_are_transient_and_client_errors_final() {
        assert!(matches!(classify(&facts(502, "bad gateway")), Failure::Transient { status: 502, .. }));
        assert!(matches!(classify(&facts(404, r#"{"message":"Not Found"}"#)), Failure::Final { status: 404, .. }));
    }

    #[test]
    fn validation_message_carries_the_field_error() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"custom","message":"title is too long"}]}"#;
        let Failure::Final { status, message } = classify(&facts(422, body)) else { panic!("expected final") };
        let error = final_error(status, message);
        assert_eq!(error.category(), "validation");
        assert_eq!(error.to_string(), "validation failed: Validation Failed: title is too long");
    }

    #[test]
    fn statuses_map_to_stable_categories() {
        assert_eq!(final_error(401, String::new()).category(), "unauthorized");
        assert_eq!(final_error(401, "Bad credentials".into()).to_string(), "credential refused (401): Bad credentials");
        assert_eq!(final_error(403, "Nope".into()).to_string(), "permission denied (403): Nope");
        assert_eq!(final_error(403, String::new()).category(), "permission");
        assert_eq!(final_error(404, String::new()).category(), "not_found");
        assert_eq!(final_error(409, String::new()).category(), "conflict");
        assert_eq!(final_error(418, String::new()).category(), "unexpected");
        assert_eq!(Error::RateLimited { until: Timestamp::UNIX_EPOCH }.category(), "rate_limited");
    }

    #[test]
    fn unparseable_bodies_are_bounded() {
        let body = "x".repeat(1000);
        assert_eq!(github_message(&body).len(), 200);
    }
}
