//! Reading an Organization's Repository objects (and a BuildPlan) from the cluster, for the `manifest`, `report`,
//! `graph` and `plan-timeline` commands, and a namespace's objects for `status`.

use kube::api::{Api, ListParams};
use kube::Client;

use crate::crd::{BuildPlan, HealingPolicy, Organization, Repository};

/// Why the objects could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Organization object of that name in the namespace.
    #[error("Organization {name:?} not found in namespace {namespace:?} (kubectl get organizations -n {namespace})")]
    OrganizationNotFound { name: String, namespace: String },
    /// No BuildPlan object of that name in the namespace.
    #[error("BuildPlan {name:?} not found in namespace {namespace:?} (kubectl get buildplans -n {namespace})")]
    BuildPlanNotFound { name: String, namespace: String },
    /// The API server refused or could not be reached.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
}

/// The Repository objects that belong to the Organization object `organization` in `namespace`.
pub async fn organization_repositories(
    client: &Client,
    namespace: &str,
    organization: &str,
) -> Result<Vec<Repository>, Error> {
    let organizations: Api<Organization> = Api::namespaced(client.clone(), namespace);
    if organizations.get_opt(organization).await?.is_none() {
        return Err(Error::OrganizationNotFound { name: organization.to_owned(), namespace: namespace.to_owned() });
    }
    let repositories: Api<Repository> = Api::namespaced(client.clone(), namespace);
    let all = repositories.list(&ListParams::default()).await?.items;
    Ok(all.into_iter().filter(|repo| repo.spec.organization_ref.name == organization).collect())
}

/// The BuildPlan `name` in `namespace`.
pub async fn build_plan(client: &Client, namespace: &str, name: &str) -> Result<BuildPlan, Error> {
    let plans: Api<BuildPlan> = Api::namespaced(client.clone(), namespace);
    plans
        .get_opt(name)
        .await?
        .ok_or_else(|| Error::BuildPlanNotFound { name: name.to_owned(), namespace: namespace.to_owned() })
}

/// The Organizations, BuildPlans and HealingPolicies of `namespace`, each by name.
pub async fn namespace_objects(
    client: &Client,
    namespace: &str,
) -> Result<(Vec<Organization>, Vec<BuildPlan>, Vec<HealingPolicy>), Error> {
    let everything = ListParams::default();
    let organizations = Api::<Organization>::namespaced(client.clone(), namespace).list(&everything).await?.items;
    let plans = Api::<BuildPlan>::namespaced(client.clone(), namespace).list(&everything).await?.items;
    let policies = Api::<HealingPolicy>::namespaced(client.clone(), namespace).list(&everything).await?.items;
    Ok((organizations, plans, policies))
}
