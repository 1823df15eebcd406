//! The Organization controller: checks the credentials Secret and reports it in the conditions, and keeps the
//! repository manifest of the Organization's Repository objects in a ConfigMap it owns.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::{Context, FIELD_MANAGER, MANAGED_BY_LABEL, ORGANIZATION_LABEL};
use super::error::Error;
use super::status::{apply_status, namespace_of};
use crate::crd::{HasConditions, Organization, Repository};
use crate::manifest;
use crate::plan::prerequisites::{self, Blocker, ObservedSecret};
use crate::plan::readiness::{self, Accepted};

const ACCEPTED: Accepted<'static> =
    Accepted { reason: "CredentialsFound", message: "The credentials Secret holds every key its type needs" };

/// One reconcile of an Organization: observe the Secret, the Repository objects and the manifest ConfigMap; decide
/// the conditions and the manifest; write the ConfigMap and the status.
pub async fn reconcile(org: Arc<Organization>, ctx: Arc<Context>) -> Result<Action, Error> {
    if org.spec.suspend {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(org.as_ref())?;
    let org_name = org.name_any();
    let secret = observe_secret(&ctx, &namespace, &org.spec.credentials.secret_ref.name).await?;
    let repositories =
        Api::<Repository>::namespaced(ctx.client.clone(), &namespace).list(&ListParams::default()).await?;
    let config_map_name = manifest::config_map_name(&org_name);
    let published = observe_manifest(&ctx, &namespace, &config_map_name).await?;

    let outcome = prerequisites::organization(&org.spec, secret.as_ref());
    let now = ctx.clock.now_time();
    let next = readiness::conditions(org.conditions(), &outcome, ACCEPTED, org.metadata.generation, &now);
    let manifest_json = manifest::build(&org_name, &repositories.items).to_json();

    if published.as_deref() != Some(manifest_json.as_str()) {
        publish_manifest(&ctx, org.as_ref(), &namespace, &config_map_name, &manifest_json).await?;
    }
    let mut fields = serde_json::Map::new();
    fields.insert("manifestConfigMap".to_owned(), serde_json::Value::String(config_map_name));
    apply_status(&ctx, org.as_ref(), &next, fields).await?;
    Ok(next_look(&outcome, &ctx))
}

/// The manifest the ConfigMap holds now, if it exists and is ours.
async fn observe_manifest(ctx: &Context, namespace: &str, name: &str) -> Result<Option<String>, Error> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(config_map) = api.get_opt(name).await? else { return Ok(None) };
    Ok(config_map.data.and_then(|mut data| data.remove(manifest::CONFIG_MAP_KEY)))
}

/// Writes the manifest ConfigMap, owned by the Organization so that it goes when the Organization goes.
async fn publish_manifest(
    ctx: &Context,
    org: &Organization,
    namespace: &str,
    name: &str,
    manifest_json: &str,
) -> Result<(), Error> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let config_map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {
                MANAGED_BY_LABEL: FIELD_MANAGER,
                ORGANIZATION_LABEL: org.name_any(),
            },
            "ownerReferences": [org.controller_owner_ref(&())],
        },
        "data": { manifest::CONFIG_MAP_KEY: manifest_json },
    });
    api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&config_map)).await?;
    Ok(())
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
