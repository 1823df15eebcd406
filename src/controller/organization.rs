//! The Organization controller: checks the credentials Secret and reports it in the conditions.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::context::Context;
use super::error::Error;
use super::status::{apply_conditions, namespace_of};
use crate::crd::{HasConditions, Organization};
use crate::plan::prerequisites::{self, Blocker, ObservedSecret};
use crate::plan::readiness::{self, Accepted};

const ACCEPTED: Accepted<'static> =
    Accepted { reason: "CredentialsFound", message: "The credentials Secret holds every key its type needs" };

/// One reconcile of an Organization: observe the Secret, decide the conditions, write them.
pub async fn reconcile(org: Arc<Organization>, ctx: Arc<Context>) -> Result<Action, Error> {
    if org.spec.suspend {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(org.as_ref())?;
    let secret = observe_secret(&ctx, &namespace, &org.spec.credentials.secret_ref.name).await?;
    let outcome = prerequisites::organization(&org.spec, secret.as_ref());
    let next =
        readiness::conditions(org.conditions(), &outcome, ACCEPTED, org.metadata.generation, &ctx.clock.now_time());
    apply_conditions(&ctx, org.as_ref(), &next).await?;
    Ok(next_look(&outcome, &ctx))
}

/// Reads which keys the Secret holds and which are malformed; the values go no further than this function.
async fn observe_secret(ctx: &Context, namespace: &str, name: &str) -> Result<Option<ObservedSecret>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = api.get_opt(name).await? else { return Ok(None) };
    let mut observed = ObservedSecret::default();
    let data = secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0));
    let string_data = secret.string_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes()));
    for (key, value) in data.chain(string_data) {
        if value.is_empty() {
            continue;
        }
        if !prerequisites::key_is_well_formed(&key, &value) {
            observed.malformed.insert(key.clone());
        }
        observed.keys.insert(key);
    }
    Ok(Some(observed))
}

/// Secrets are not watched, so a missing or incomplete Secret is looked at again on a timer.
fn next_look(outcome: &Result<(), Blocker>, ctx: &Context) -> Action {
    match outcome {
        Ok(()) => Action::requeue(Duration::from_secs(600)),
        Err(_) => Action::requeue(ctx.recheck.credentials),
    }
}
