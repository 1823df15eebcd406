//! The controller layer's errors, classified so that `error_policy` can decide how soon to look again.

use std::time::Duration;

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the Kubernetes API failed.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[source] kube::Error),
    /// The object has no namespace, although every kind of ours is namespaced.
    #[error("{kind} {name} has no namespace")]
    MissingNamespace { kind: String, name: String },
    /// The credentials Secret is missing or lacks a key its type needs.
    #[error("Secret {namespace}/{secret} does not hold usable GitHub credentials")]
    Credentials { namespace: String, secret: String },
    /// A request to GitHub failed.
    #[error("GitHub request failed: {source}")]
    GitHub {
        #[source]
        source: crate::github::Error,
    },
    /// Discovery handed Repository statuses over, and the Repository controller did not write them in time.
    #[error("the Repository controller did not write the statuses of Organization {organization} within {waited:?}")]
    HandoverTimedOut { organization: String, waited: Duration },
    /// Discovery has Repository statuses to hand over, and no Repository controller runs in this process.
    #[error("no Repository controller runs in this process to write the discovered statuses")]
    NoRepositoryController,
}

impl Error {
    /// A stable, bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "KubeConflict",
            Error::Kube(_) => "KubeApi",
            Error::MissingNamespace { .. } => "MissingNamespace",
            Error::Credentials { .. } => "Credentials",
            Error::HandoverTimedOut { .. } => "HandoverTimedOut",
            Error::NoRepositoryController => "NoRepositoryController",
            Error::GitHub { source } => match source {
                crate::github::Error::NotFound { .. } => "GitHubNotFound",
                crate::github::Error::Permission { status: 401, .. } => "GitHubUnauthorized",
                crate::github::Error::Permission { .. } => "GitHubPermission",
                crate::github::Error::RateLimited { .. } => "GitHubRateLimited",
                crate::github::Error::Validation { .. } => "GitHubValidation",
                crate::github::Error::Transient { .. } => "GitHubTransient",
                crate::github::Error::Auth { .. } => "GitHubAuth",
                _ => "GitHub",
            },
        }
    }

    /// How long to wait before the next attempt.
    pub fn retry_after(&self) -> Duration {
        match self {
            // Another writer won a race; every reconcile starts from a fresh read, so going again soon is right.
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => Duration::from_millis(200),
            Error::Kube(_) => Duration::from_secs(15),
            // It does not go away by waiting; look rarely.
            Error::MissingNamespace { .. } => Duration::from_secs(300),
            Error::Credentials { .. } => Duration::from_secs(30),
            // Starting up or shutting down: the controller is there in a moment, or the process is gone.
            Error::HandoverTimedOut { .. } | Error::NoRepositoryController => Duration::from_secs(5),
            // Waiting for the reset is the only thing that helps; a minute of margin is plenty.
            Error::GitHub { source: crate::github::Error::RateLimited { until } } => {
                let now = k8s_openapi::jiff::Timestamp::now();
                let wait = now.duration_until(*until).unsigned_abs();
                wait.max(Duration::from_secs(1)).min(Duration::from_secs(3600))
            }
            Error::GitHub { source } if source.is_transient() => Duration::from_secs(10),
            Error::GitHub { .. } => Duration::from_secs(120),
        }
    }
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Error::Kube(error)
    }
}

impl From<crate::github::Error> for Error {
    fn from(source: crate::github::Error) -> Self {
        Error::GitHub { source }
    }
}
