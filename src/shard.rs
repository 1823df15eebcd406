//! Sharding, Flux's way: the [`SHARD_LABEL`] on an Organization names the operator shard that owns it, and everything
//! of the Organization (its Repository objects, BuildPlans and HealingPolicies) follows it. An operator started
//! without `--shard` owns the Organizations without the label, so adding shards never makes two operators own one.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::crd::well_known::SHARD_LABEL;

/// The Organizations one operator process owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Shard {
    /// Those without the shard label.
    #[default]
    Unsharded,
    /// Those labelled with this name.
    Named(String),
}

/// A shard name that cannot be used: it becomes a label value and a suffix of Lease and Deployment names.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a shard name: 1 to 40 lowercase letters, digits and '-', with a letter or digit at each end")]
pub struct InvalidShardName(pub String);

/// Longest shard name: a Deployment or Lease name carries it after the release's name, within 63 characters.
const MAX_NAME: usize = 40;

impl FromStr for Shard {
    type Err = InvalidShardName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid = name.len() <= MAX_NAME
            && edge_ok(name.chars().next())
            && edge_ok(name.chars().last())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(Shard::Named(name.to_owned()))
        } else {
            Err(InvalidShardName(name.to_owned()))
        }
    }
}

impl fmt::Display for Shard {
    /// The shard's name; empty when unsharded (as in the `shard` metric label).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shard::Unsharded => Ok(()),
            Shard::Named(name) => f.write_str(name),
        }
    }
}

impl Shard {
    /// The label selector of the objects this shard owns: Organizations, and the Repository objects that carry
    /// their Organization's label.
    pub fn selector(&self) -> String {
        match self {
            Shard::Unsharded => format!("!{SHARD_LABEL}"),
            Shard::Named(name) => format!("{SHARD_LABEL}={name}"),
        }
    }

    /// Whether an object with these labels is this shard's, as [`Shard::selector`] selects.
    pub fn owns(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Shard::Unsharded => !labels.contains_key(SHARD_LABEL),
            Shard::Named(name) => labels.get(SHARD_LABEL) == Some(name),
        }
    }

    /// Whether an object that names an Organization (a BuildPlan, a HealingPolicy) is this shard's, from the
    /// labels of that Organization, `None` when it does not exist. A missing Organization is the unsharded
    /// operator's to report; when none runs, the object waits unreported until its Organization appears.
    pub fn owns_dependent(&self, organization: Option<&BTreeMap<String, String>>) -> bool {
        match organization {
            Some(labels) => self.owns(labels),
            None => *self == Shard::Unsharded,
        }
    }

    /// The shard's name; `None` when unsharded.
    pub fn name(&self) -> Option<&str> {
        match self {
            Shard::Unsharded => None,
            Shard::Named(name) => Some(name),
        }
    }

    /// Whether an Organization whose last discovery pass ran on the shard `last_synced_by` (`None`: unsharded)
    /// needs a pass here: it moved to this shard, and its Repository objects still carry the other shard's label.
    pub fn moved_in(&self, last_synced_by: Option<&str>) -> bool {
        self.name() != last_synced_by
    }

    /// Whether an Organization this shard owns still has Repository objects labelled for another shard: a pass
    /// completed before (`synced_before`), on another shard than this one. Its BuildPlans, HealingPolicies and
    /// Repositories wait for the pass here that moves the objects in; acting on a partial view could, say, drop the
    /// entries of a plan's run.
    pub fn awaits_move(&self, synced_before: bool, last_synced_by: Option<&str>) -> bool {
        synced_before && self.moved_in(last_synced_by)
    }

    /// The leader Lease of this shard's replicas: `base`, suffixed with the shard's name, so that shards elect
    /// their leaders side by side.
    pub fn lease_name(&self, base: &str) -> String {
        match self {
            Shard::Unsharded => base.to_owned(),
            Shard::Named(name) => format!("{base}-{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(shard: Option<&str>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([("team".to_owned(), "platform".to_owned())]);
        if let Some(shard) = shard {
            labels.insert(SHARD_LABEL.to_owned(), shard.to_owned());
        }
        labels
    }

    #[test]
    fn selectors_split_the_organizations_without_overlap() {
        let a: Shard = "shard-a".parse().unwrap();
        assert_eq!(a.selector(), "orchestrator.infinityxone.io/shard=shard-a");
        assert_eq!(Shard::Unsharded.selector(), "!orchestrator.infinityxone.io/shard");
        let shards = [Shard::Unsharded, a, "shard-b".parse().unwrap()];
        for org in [None, Some("shard-a"), Some("shard-b"), Some("shard-c")] {
            let owners = shards.iter().filter(|shard| shard.owns(&labels(org))).count();
            let expected = usize::from(org != Some("shard-c"));
            assert_eq!(owners, expected, "owners of an Organization labelled {org:?}");
        }
    }

    #[test]
    fn a_plan_belongs_to_the_shard_of_its_organization_and_a_missing_one_to_the_unsharded() {
        let a: Shard = "shard-a".parse().unwrap();
        assert!(a.owns_dependent(Some(&labels(Some("shard-a")))));
        assert!(!a.owns_dependent(Some(&labels(Some("shard-b")))));
        assert!(!a.owns_dependent(Some(&labels(None))));
        assert!(!a.owns_dependent(None), "a shard leaves a missing Organization to the unsharded operator");
        assert!(Shard::Unsharded.owns_dependent(Some(&labels(None))));
        assert!(!Shard::Unsharded.owns_dependent(Some(&labels(Some("shard-a")))));
        assert!(Shard::Unsharded.owns_dependent(None), "the unsharded operator reports it missing");
    }

    #[test]
    fn an_organization_last_discovered_by_another_shard_has_moved_in() {
        let a: Shard = "shard-a".parse().unwrap();
        assert!(!a.moved_in(Some("shard-a")));
        assert!(a.moved_in(Some("shard-b")));
        assert!(a.moved_in(None), "labelled after an unsharded pass");
        assert!(!Shard::Unsharded.moved_in(None), "an unsharded operator's own, as before sharding");
        assert!(Shard::Unsharded.moved_in(Some("shard-a")), "its label removed");
        assert!(a.awaits_move(true, Some("shard-b")), "its objects still carry shard-b's label");
        assert!(a.awaits_move(true, None), "its objects still carry no label");
        assert!(!a.awaits_move(false, None), "never discovered: no object to move");
        assert!(!a.awaits_move(true, Some("shard-a")));
    }

    #[test]
    fn each_shard_has_a_lease_of_its_own() {
        assert_eq!(Shard::Unsharded.lease_name("infinity-orchestrator"), "infinity-orchestrator");
        let a: Shard = "shard-a".parse().unwrap();
        assert_eq!(a.lease_name("infinity-orchestrator"), "infinity-orchestrator-shard-a");
        assert_eq!(a.to_string(), "shard-a");
        assert_eq!(Shard::Unsharded.to_string(), "");
    }

    #[test]
    fn names_must_fit_labels_and_object_names() {
        for good in ["a", "shard-a", "0", &"x".repeat(MAX_NAME)] {
            assert_eq!(good.parse::<Shard>(), Ok(Shard::Named(good.to_owned())), "{good}");
        }
        for bad in ["", "-a", "a-", "Shard", "a_b", "a.b", "a b", &"x".repeat(MAX_NAME + 1)] {
            assert_eq!(bad.parse::<Shard>(), Err(InvalidShardName(bad.to_owned())), "{bad:?}");
        }
    }
}
