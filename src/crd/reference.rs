//! References from one object to another, and the selectors that pick Repository objects.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to an object of a known kind in the same namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LocalObjectReference {
    /// Name of the referenced object, in the referring object's namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
}

/// Picks Repository objects in the namespace by label and/or by GitHub name. A repository is selected when it
/// matches every given criterion; an empty selector selects every Repository of the organization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositorySelector {
    /// Labels the Repository object must carry, with these exact values. The operator labels every Repository with
    /// `orchestrator.infinityxone.io/language` and one `topic.orchestrator.infinityxone.io/<topic>` label per topic.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based label requirements, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// GitHub repository names (not object names) to select; empty means no restriction by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<GitHubRepositoryName>,
}

/// A GitHub repository name, such as `api-gateway`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(transparent)]
pub struct GitHubRepositoryName(
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._-]+$"))] pub String,
);

/// One set-based label requirement.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LabelSelectorRequirement {
    /// The label key the requirement applies to.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// How the key's value relates to `values`: `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: LabelSelectorOperator,
    /// The values for `In` and `NotIn`; must be empty for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// How a label requirement compares a label's value.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum LabelSelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl RepositorySelector {
    /// Whether a Repository with these labels and this GitHub name is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>, github_name: &str) -> bool {
        let by_name = self.names.is_empty() || self.names.iter().any(|n| n.0 == github_name);
        let by_labels = self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v));
        let by_expressions = self.match_expressions.iter().all(|req| {
            let value = labels.get(&req.key);
            match req.operator {
                LabelSelectorOperator::In => value.is_some_and(|v| req.values.contains(v)),
                LabelSelectorOperator::NotIn => value.is_none_or(|v| !req.values.contains(v)),
                LabelSelectorOperator::Exists => value.is_some(),
                LabelSelectorOperator::DoesNotExist => value.is_none(),
            }
        });
        by_name && by_labels && by_expressions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_selector_selects_everything() {
        assert!(RepositorySelector::default().matches(&labels(&[]), "anything"));
    }

    #[test]
    fn names_labels_and_expressions_must_all_hold() {
        let selector = RepositorySelector {
            match_labels: labels(&[("lang", "rust")]),
            match_expressions: vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: LabelSelectorOperator::NotIn,
                values: vec!["experimental".into()],
            }],
            names: vec![GitHubRepositoryName("core".into()), GitHubRepositoryName("api".into())],
        };
        assert!(selector.matches(&labels(&[("lang", "rust")]), "core"));
        assert!(selector.matches(&labels(&[("lang", "rust"), ("tier", "stable")]), "api"));
        assert!(!selector.matches(&labels(&[("lang", "rust"), ("tier", "experimental")]), "api"));
        assert!(!selector.matches(&labels(&[("lang", "go")]), "core"));
        assert!(!selector.matches(&labels(&[("lang", "rust")]), "web"));
    }

    #[test]
    fn exists_and_does_not_exist() {
        let exists = RepositorySelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "team".into(),
                operator: LabelSelectorOperator::Exists,
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(exists.matches(&labels(&[("team", "x")]), "r"));
        assert!(!exists.matches(&labels(&[]), "r"));
        let absent = RepositorySelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "team".into(),
                operator: LabelSelectorOperator::DoesNotExist,
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(absent.matches(&labels(&[]), "r"));
        assert!(!absent.matches(&labels(&[("team", "x")]), "r"));
    }
}
