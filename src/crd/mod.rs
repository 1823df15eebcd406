//! The API types of `orchestrator.infinityxone.io/v1alpha1`: one file per kind, plus the pieces they share.
//! No I/O here; the schema generated from these types is what the API server enforces.

pub mod build_plan;
pub mod condition;
pub mod duration;
pub mod healing_policy;
pub mod organization;
pub mod reference;
pub mod repository;
pub mod well_known;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::core::crd::CustomResourceExt;

pub use build_plan::{BuildPlan, BuildPlanSpec, BuildPlanStatus};
pub use condition::{Condition, ConditionStatus, HasConditions};

condition::has_conditions!(Organization, Repository, BuildPlan, HealingPolicy);
pub use healing_policy::{HealingPolicy, HealingPolicySpec, HealingPolicyStatus};
pub use organization::{Organization, OrganizationSpec, OrganizationStatus};
pub use repository::{Repository, RepositorySpec, RepositoryStatus};

/// The API group of every kind.
pub const GROUP: &str = "orchestrator.infinityxone.io";

/// Every CustomResourceDefinition, with the file name it has under `crds/`.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("organization.yaml", for_oldest_supported_server(Organization::crd())),
        ("repository.yaml", for_oldest_supported_server(Repository::crd())),
        ("buildplan.yaml", for_oldest_supported_server(BuildPlan::crd())),
        ("healingpolicy.yaml", for_oldest_supported_server(HealingPolicy::crd())),
    ]
}

/// Finishes a generated CRD for the servers we support and for the people reading it:
/// - an optional enum gets `null` among its `enum` values from the schema generator, which Kubernetes 1.20 (the
///   oldest server we support) rejects; `nullable: true` already says the same;
/// - `kubectl explain` does not print defaults, so each default is appended to its field's description;
/// - the server publishes a `nullable` field without its type, so `kubectl explain` would not say that an optional
///   spec field such as `maxParallel` is an integer. Users leave such fields out rather than write `null`, so the
///   spec's optional scalars are not nullable (a `null` is pruned like an absent field);
/// - each kind's status is written whole, by its one controller, in one server-side apply: marked atomic, it is
///   one field to the API server's field tracking rather than one per leaf. Tracked leaf by leaf, a Repository's
///   `managedFields` were about 2 KB of its 9, decoded, compared and encoded again on every write.
fn for_oldest_supported_server(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            finish_schema(schema);
            for (name, property) in schema.properties.iter_mut().flatten() {
                match name.as_str() {
                    "spec" => typed_spec_scalars(property),
                    "status" => property.x_kubernetes_map_type = Some("atomic".to_owned()),
                    _ => {}
                }
            }
        }
    }
    crd
}

fn typed_spec_scalars(schema: &mut JSONSchemaProps) {
    let scalar = matches!(schema.type_.as_deref(), Some("integer" | "number" | "string" | "boolean"));
    if scalar && schema.nullable == Some(true) {
        schema.nullable = None;
    }
    schema.properties.iter_mut().flat_map(|p| p.values_mut()).for_each(typed_spec_scalars);
}

fn finish_schema(schema: &mut JSONSchemaProps) {
    if let Some(values) = schema.enum_.as_mut() {
        values.retain(|v| !v.0.is_null());
    }
    if let (Some(default), Some(description)) = (&schema.default, schema.description.as_mut()) {
        let shown = match &default.0 {
            serde_json::Value::Object(_) => None,
            serde_json::Value::String(text) => Some(format!("`{text}`")),
            other => Some(format!("`{other}`")),
        };
        if let Some(shown) = shown {
            description.push_str(&format!(" Defaults to {shown}."));
        }
    }
    let children = schema.properties.iter_mut().flat_map(|p| p.values_mut());
    let items = schema.items.iter_mut().flat_map(|items| match items {
        JSONSchemaPropsOrArray::Schema(one) => std::slice::from_mut(one.as_mut()),
        JSONSchemaPropsOrArray::Schemas(many) => many.as_mut_slice(),
    });
    let additional = schema.additional_properties.iter_mut().filter_map(|a| match a {
        JSONSchemaPropsOrBool::Schema(one) => Some(one.as_mut()),
        JSONSchemaPropsOrBool::Bool(_) => None,
    });
    let combined = [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of].into_iter().flatten().flatten();
    children.chain(items).chain(additional).chain(combined).for_each(finish_schema);
}

/// A CRD as the YAML document committed under `crds/`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("# Generated by `infinity-orchestrator crd`; do not edit.\n{}", serde_yaml::to_string(crd)?))
}
