//! The Kubernetes condition shape shared by every kind's status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An observation of one aspect of an object's state, in the shape `kubectl wait`, Argo CD and Flux understand.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Kind of condition, in CamelCase: `Ready`, `Stalled`, `Reconciling`, `Degraded`, `Healthy`.
    #[schemars(length(min = 1, max = 316))]
    pub r#type: String,
    /// Whether the condition holds: `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// One CamelCase word saying why the condition is in its status, for machines: `CredentialsNotFound`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"))]
    pub reason: String,
    /// Human-readable details of the transition; may be empty.
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When the condition last changed status.
    pub last_transition_time: Time,
    /// The `metadata.generation` the condition was computed from; older than the object's generation means stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

/// Whether a condition holds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl Condition {
    /// A condition that takes effect now.
    pub fn new(
        r#type: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        observed_generation: Option<i64>,
        now: Time,
    ) -> Self {
        Condition {
            r#type: r#type.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
            last_transition_time: now,
            observed_generation,
        }
    }
}

/// A kind whose status carries conditions and the generation they describe.
pub trait HasConditions {
    /// The conditions it carries now; empty before its first status.
    fn conditions(&self) -> &[Condition];
    /// The `metadata.generation` its status describes.
    fn observed_generation(&self) -> Option<i64>;
}

/// Implements [`HasConditions`] for kinds whose status has `conditions` and `observed_generation`.
macro_rules! has_conditions {
    ($($kind:ty),+) => {$(
        impl $crate::crd::condition::HasConditions for $kind {
            fn conditions(&self) -> &[$crate::crd::condition::Condition] {
                self.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default()
            }
            fn observed_generation(&self) -> Option<i64> {
                self.status.as_ref().and_then(|s| s.observed_generation)
            }
        }
    )+};
}
pub(crate) use has_conditions;

/// The condition of the given type, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], r#type: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.r#type == r#type)
}
