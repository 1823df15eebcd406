//! Reading an Organization's Repository objects from the cluster, for the `manifest` and `report` commands.

use kube::api::{Api, ListParams};
use kube::Client;

use crate::crd::{Organization, Repository};

/// Why the objects could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Organization object of that name in the namespace.
    #[error("Organization {name:?} not found in namespace {namespace:?} (kubectl get organizations -n {namespace})")]
    OrganizationNotFound { name: String, namespace: String },
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
