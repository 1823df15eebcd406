//! The reconcile shared by the kinds that belong to an Organization (Repository, BuildPlan, HealingPolicy): the
//! referenced Organization must exist. Each kind's own work builds on this.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;

use super::context::Context;
use super::error::Error;
use super::status::{apply_conditions, namespace_of, StatusObject};
use crate::crd::condition::{find_condition, set_condition, Condition, ConditionStatus};
use crate::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use crate::plan::discovered::{DISCOVERED, GONE_FROM_GITHUB};
use crate::plan::prerequisites::BlockerKind;
use crate::plan::prerequisites::{self, Blocker};
use crate::plan::readiness::{self, Accepted, READY};

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
    /// What the object's own status says once its Organization exists: `Ok(Some(..))` makes `Ready` true with
    /// that reason and message, `Ok(None)` leaves it at [`Self::ACCEPTED`], an error makes it false.
    fn check_status(&self) -> Result<Option<(&'static str, &'static str)>, Blocker> {
        Ok(None)
    }
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
    let (outcome, done) = match outcome.and_then(|()| object.check_status()) {
        Ok(done) => (Ok(()), done),
        Err(blocker) => (Err(blocker), None),
    };
    let now = ctx.clock.now_time();
    let generation = object.meta().generation;
    let mut next = readiness::conditions(object.conditions(), &outcome, K::ACCEPTED, generation, &now);
    if let Some((reason, message)) = done {
        // `next` says Unknown (accepted) at this point: the transition time to keep is the one the object has.
        let mut ready = Condition::new(READY, ConditionStatus::True, reason, message, generation, now);
        if let Some(current) = find_condition(object.conditions(), READY).filter(|c| c.status == ConditionStatus::True)
        {
            ready.last_transition_time = current.last_transition_time.clone();
        }
        set_condition(&mut next, ready);
    }
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

impl OrganizationScoped for Repository {
    const ACCEPTED: Accepted<'static> = Accepted {
        reason: "OrganizationFound",
        message: "The Organization this repository belongs to exists; discovery has not described it yet",
    };
    fn organization_name(&self) -> &str {
        &self.spec.organization_ref.name
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    /// Ready once discovery described the repository; not ready once discovery found it gone.
    fn check_status(&self) -> Result<Option<(&'static str, &'static str)>, Blocker> {
        let conditions = self.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        match find_condition(conditions, DISCOVERED) {
            Some(found) if found.status == ConditionStatus::True => {
                Ok(Some(("Discovered", "Discovery found the repository on GitHub and described it")))
            }
            Some(gone) if gone.reason == GONE_FROM_GITHUB => {
                Err(Blocker { kind: BlockerKind::Waiting, reason: GONE_FROM_GITHUB, message: gone.message.clone() })
            }
            _ => Ok(None),
        }
    }
}
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
