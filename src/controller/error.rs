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
    /// Serializing a status for the API server failed.
    #[error("could not serialize the status: {0}")]
    Serialize(#[source] serde_json::Error),
}

impl Error {
    /// A stable, bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "KubeConflict",
            Error::Kube(_) => "KubeApi",
            Error::MissingNamespace { .. } => "MissingNamespace",
            Error::Serialize(_) => "Serialize",
        }
    }

    /// How long to wait before the next attempt.
    pub fn retry_after(&self) -> Duration {
        match self {
            // Another writer won a race; the watch will bring the new version at once.
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => Duration::from_secs(1),
            Error::Kube(_) => Duration::from_secs(15),
            // Neither goes away by waiting; look rarely.
            Error::MissingNamespace { .. } | Error::Serialize(_) => Duration::from_secs(300),
        }
    }
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Error::Kube(error)
    }
}
