//! The reconcile shared by the kinds that belong to an Organization (Repository, BuildPlan, HealingPolicy): the
//! referenced Organization must exist. Each kind's own work builds on this.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::context::Context;
use super::error::Error;
use super::status::{apply_conditions, namespace_of, StatusObject};
use crate::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use crate::plan::prerequisites::{self, Blocker};
use crate::plan::readiness::{self, Accepted};

/// A kind that names its Organization in `spec.organizationRef`.
pub trait OrganizationScoped: StatusObject + Send + Sync {
    /// What `Ready` says once the Organization exists.
    const ACCEPTED: Accepted<'static>;
    /// Name of the Organization.
    fn organization_name(&self) -> &str;
    /// Whether the object is suspended.
    fn suspended(&self) -> bool;
    /// What is wrong with the spec that the schema cannot reject; checked before the Organization.
    fn check_spec(&self) -> Result<(), Blocker> {
        Ok(())
    }
}

/// One reconcile: observe the Organization, decide the conditions, write them.
pub async fn reconcile<K: OrganizationScoped>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    if object.suspended() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(object.as_ref())?;
    let organizations: Api<Organization> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = object.organization_name();
    let outcome = match object.check_spec() {
        Ok(()) => prerequisites::organization_ref(name, organizations.get_opt(name).await?.is_some()),
        Err(blocker) => Err(blocker),
    };
    let now = ctx.clock.now_time();
    let next = readiness::conditions(object.conditions(), &outcome, K::ACCEPTED, object.meta().generation, &now);
    apply_conditions(&ctx, object.as_ref(), &next).await?;
    // Organizations are watched: their arrival wakes this object, so the timer is only a safety net.
    Ok(Action::requeue(Duration::from_secs(if outcome.is_ok() { 600 } else { 120 })))
}

macro_rules! organization_scoped {
    ($kind:ty, $reason:literal, $message:literal $(, check_spec = $check:path)?) => {
        impl OrganizationScoped for $kind {
            const ACCEPTED: Accepted<'static> = Accepted { reason: $reason, message: $message };
            fn organization_name(&self) -> &str {
                &self.spec.organization_ref.name
            }
            fn suspended(&self) -> bool {
                self.spec.suspend
            }
            $(fn check_spec(&self) -> Result<(), Blocker> {
                $check(&self.spec)
            })?
        }
    };
}

organization_scoped!(Repository, "OrganizationFound", "The Organization this repository belongs to exists");
organization_scoped!(
    BuildPlan,
    "OrganizationFound",
    "The Organization whose repositories this plan builds exists",
    check_spec = prerequisites::build_plan_spec
);
organization_scoped!(
    HealingPolicy,
    "OrganizationFound",
    "The Organization whose repositories this policy heals exists"
);
