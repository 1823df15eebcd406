//! Where the operator looks for objects: shared by the controllers and the webhook receiver.

use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::{Client, Resource};

/// Where the controllers look for objects.
#[derive(Clone, Debug, Default)]
pub enum Scope {
    /// Every namespace (needs cluster-wide read access to our kinds).
    #[default]
    AllNamespaces,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// An API handle for a namespaced kind over this scope.
    pub fn api<K>(&self, client: Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        match self {
            Scope::AllNamespaces => Api::all(client),
            Scope::Namespace(namespace) => Api::namespaced(client, namespace),
        }
    }
}
