//! What the kinds that belong to an Organization (Repository, BuildPlan, HealingPolicy) share: the name of their
//! Organization, what `Ready` says once it exists, and which of them a change of the Organization wakes.

use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;

use super::status::StatusObject;
use crate::crd::{BuildPlan, HealingPolicy, Repository};
use crate::plan::readiness::Accepted;

/// A kind that names its Organization in `spec.organizationRef`.
pub trait OrganizationScoped: StatusObject + Send + Sync {
    /// What `Ready` says once the Organization exists.
    const ACCEPTED: Accepted<'static>;
    /// Name of the Organization.
    fn organization_name(&self) -> &str;
}

/// The objects in `store` that belong to the Organization `org` of `namespace`: what a change to that
/// Organization, or to another object of it, wakes.
pub fn of_organization<K: OrganizationScoped>(
    store: &Store<K>,
    namespace: Option<String>,
    org: &str,
) -> Vec<ObjectRef<K>> {
    store
        .state()
        .into_iter()
        .filter(|object| object.namespace() == namespace && object.organization_name() == org)
        .map(|object| ObjectRef::from_obj(object.as_ref()))
        .collect()
}

macro_rules! organization_scoped {
    ($kind:ty, $reason:literal, $message:literal) => {
        impl OrganizationScoped for $kind {
            const ACCEPTED: Accepted<'static> = Accepted { reason: $reason, message: $message };
            fn organization_name(&self) -> &str {
                &self.spec.organization_ref.name
            }
        }
    };
}

organization_scoped!(
    Repository,
    "OrganizationFound",
    "The Organization this repository belongs to exists; discovery has not described it yet"
);
organization_scoped!(BuildPlan, "OrganizationFound", "The Organization whose repositories this plan builds exists");
organization_scoped!(
    HealingPolicy,
    "OrganizationFound",
    "The Organization whose repositories this policy heals exists"
);
