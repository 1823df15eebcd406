//! Which GitHub repositories an Organization keeps, and what that means for its Repository objects: which to apply,
//! which hand-written ones to adopt, which to prune or only mark as gone. Pure: discovery lists, this decides.

use std::collections::{BTreeMap, BTreeSet};

use super::glob::wildcard_matches;
use crate::crd::organization::{DiscoverySpec, PrunePolicy, Visibility};

/// What discovery knows of one GitHub repository, as far as the filters need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredRepository {
    /// Its name, without the owner.
    pub name: String,
    /// Archived (read-only) on GitHub.
    pub archived: bool,
    /// A fork of another repository.
    pub fork: bool,
    /// `public`, `private` or `internal`, as GitHub writes it.
    pub visibility: String,
    /// Its topics.
    pub topics: Vec<String>,
}

/// Why a repository was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// No `include` pattern matched.
    NotIncluded,
    /// This `exclude` pattern matched.
    Excluded(String),
    /// It carries none of the required topics.
    MissingTopic,
    /// Archived, and archived repositories are not included.
    Archived,
    /// A fork, and forks are not included.
    Fork,
    /// Its visibility is not the one asked for.
    Visibility,
}

/// Whether `repository` passes the Organization's discovery filters. Exclusion wins over inclusion; names and
/// topics compare without regard to case, as GitHub does.
pub fn filter(spec: &DiscoverySpec, repository: &DiscoveredRepository) -> Result<(), Exclusion> {
    if !spec.include.is_empty() && !spec.include.iter().any(|p| glob_matches(p, &repository.name)) {
        return Err(Exclusion::NotIncluded);
    }
    if let Some(pattern) = spec.exclude.iter().find(|p| glob_matches(p, &repository.name)) {
        return Err(Exclusion::Excluded(pattern.clone()));
    }
    if !spec.topics.is_empty()
        && !repository.topics.iter().any(|t| spec.topics.iter().any(|wanted| wanted.eq_ignore_ascii_case(t)))
    {
        return Err(Exclusion::MissingTopic);
    }
    if repository.archived && !spec.include_archived {
        return Err(Exclusion::Archived);
    }
    if repository.fork && !spec.include_forks {
        return Err(Exclusion::Fork);
    }
    let visible = match spec.visibility {
        Visibility::All => true,
        Visibility::Public => repository.visibility.eq_ignore_ascii_case("public"),
        Visibility::Private => repository.visibility.eq_ignore_ascii_case("private"),
        Visibility::Internal => repository.visibility.eq_ignore_ascii_case("internal"),
    };
    if !visible {
        return Err(Exclusion::Visibility);
    }
    Ok(())
}

/// Whether a name filter (`*` any run of characters, `?` one character) matches the whole name, without regard to
/// ASCII case, as GitHub treats repository names.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    wildcard_matches(&pattern.to_ascii_lowercase(), &name.to_ascii_lowercase())
}

/// A Repository object as the sync needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingRepository {
    /// Its object name.
    pub object_name: String,
    /// `spec.organizationRef.name`.
    pub organization: String,
    /// `spec.name`: the GitHub repository it stands for.
    pub github_name: String,
    /// Whether the operator created it (it carries the operator's `managed-by` label); hand-written objects are
    /// adopted but never deleted.
    pub created_by_operator: bool,
}

/// What to do with the Repository objects of one Organization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositorySync {
    /// Objects to apply (create or update), one per kept GitHub repository.
    pub apply: Vec<RepositoryToApply>,
    /// Operator-created objects whose repository is gone, to delete (prune policy `Delete`).
    pub delete: Vec<String>,
    /// Objects whose repository is gone, to keep and mark (prune policy `Retain`, or hand-written).
    pub mark_gone: Vec<String>,
}

/// One Repository object to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryToApply {
    /// Its object name: the existing object's when there is one (adoption), else a new, unused name.
    pub object_name: String,
    /// The GitHub repository it stands for.
    pub github_name: String,
    /// Whether the object exists and was written by hand: the operator then writes only status and labels, never
    /// the spec a person owns.
    pub adopted: bool,
}

/// Plans the Repository objects of the Organization object `organization`: `kept` are the GitHub names that passed
/// the filters, `existing` every Repository object in the namespace (of any Organization, so that new names do not
/// collide).
pub fn sync_repositories(
    organization: &str,
    prune: PrunePolicy,
    kept: &BTreeSet<String>,
    existing: &[ExistingRepository],
) -> RepositorySync {
    let ours: BTreeMap<&str, &ExistingRepository> =
        existing.iter().filter(|e| e.organization == organization).map(|e| (e.github_name.as_str(), e)).collect();
    let mut taken: BTreeSet<String> = existing.iter().map(|e| e.object_name.clone()).collect();
    let mut sync = RepositorySync::default();
    for github_name in kept {
        match ours.get(github_name.as_str()) {
            Some(object) => sync.apply.push(RepositoryToApply {
                object_name: object.object_name.clone(),
                github_name: github_name.clone(),
                adopted: !object.created_by_operator,
            }),
            None => {
                let object_name = free_object_name(organization, github_name, &taken);
                taken.insert(object_name.clone());
                sync.apply.push(RepositoryToApply { object_name, github_name: github_name.clone(), adopted: false });
            }
        }
    }
    for (github_name, object) in &ours {
        if kept.contains(*github_name) {
            continue;
        }
        match (prune, object.created_by_operator) {
            (PrunePolicy::Delete, true) => sync.delete.push(object.object_name.clone()),
            _ => sync.mark_gone.push(object.object_name.clone()),
        }
    }
    sync
}

/// A Kubernetes object name for a GitHub repository: the name itself made valid (lower case; anything but letters,
/// digits, `-` and `.` becomes `-`), else prefixed with the Organization's name, else with a short hash, whichever
/// is first unused.
pub fn free_object_name(organization: &str, github_name: &str, taken: &BTreeSet<String>) -> String {
    let plain = object_name(github_name);
    let prefixed = object_name(&format!("{organization}-{github_name}"));
    let hashed = object_name(&format!("{organization}-{github_name}-{:08x}", fnv1a(github_name)));
    [plain, prefixed].into_iter().find(|candidate| !taken.contains(candidate)).unwrap_or(hashed)
}

fn object_name(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let name: String = trimmed.chars().take(253).collect();
    let name = name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    if name.is_empty() {
        format!("repository-{:08x}", fnv1a(text))
    } else {
        name
    }
}

/// A small stable hash, so that names do not change between releases or platforms.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> DiscoveredRepository {
        DiscoveredRepository {
            name: name.into(),
            archived: false,
            fork: false,
            visibility: "public".into(),
            topics: vec![],
        }
    }

    fn spec(json: serde_json::Value) -> DiscoverySpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn name_filters_ignore_case() {
        assert!(glob_matches("Sandbox-*", "sandbox-Alice"));
        assert!(!glob_matches("sandbox-*", "my-sandbox"));
    }

    #[test]
    fn filters() {
        let defaults = spec(serde_json::json!({}));
        assert_eq!(filter(&defaults, &repo("core")), Ok(()));
        assert_eq!(
            filter(&defaults, &DiscoveredRepository { archived: true, ..repo("old") }),
            Err(Exclusion::Archived)
        );
        assert_eq!(filter(&defaults, &DiscoveredRepository { fork: true, ..repo("fork") }), Err(Exclusion::Fork));
        let with_archived = spec(serde_json::json!({ "includeArchived": true, "includeForks": true }));
        assert_eq!(filter(&with_archived, &DiscoveredRepository { archived: true, fork: true, ..repo("old") }), Ok(()));

        let globbed = spec(serde_json::json!({ "include": ["svc-*", "core"], "exclude": ["svc-legacy*"] }));
        assert_eq!(filter(&globbed, &repo("svc-billing")), Ok(()));
        assert_eq!(filter(&globbed, &repo("svc-legacy-auth")), Err(Exclusion::Excluded("svc-legacy*".into())));
        assert_eq!(filter(&globbed, &repo("website")), Err(Exclusion::NotIncluded));

        let topics = spec(serde_json::json!({ "topics": ["Platform"] }));
        assert_eq!(filter(&topics, &DiscoveredRepository { topics: vec!["platform".into()], ..repo("a") }), Ok(()));
        assert_eq!(filter(&topics, &repo("b")), Err(Exclusion::MissingTopic));

        let private = spec(serde_json::json!({ "visibility": "Private" }));
        assert_eq!(filter(&private, &repo("public-one")), Err(Exclusion::Visibility));
        assert_eq!(filter(&private, &DiscoveredRepository { visibility: "private".into(), ..repo("p") }), Ok(()));
    }

    fn existing(object: &str, org: &str, github: &str, ours: bool) -> ExistingRepository {
        ExistingRepository {
            object_name: object.into(),
            organization: org.into(),
            github_name: github.into(),
            created_by_operator: ours,
        }
    }

    fn kept(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn creates_adopts_and_prunes() {
        let objects = [
            existing("core", "acme", "core", true),
            existing("gateway-by-hand", "acme", "api-gateway", false),
            existing("gone", "acme", "gone", true),
            existing("gone-by-hand", "acme", "gone-hand", false),
            existing("web", "other-org", "web", true),
        ];
        let sync = sync_repositories(
            "acme",
            PrunePolicy::Delete,
            &kept(&["core", "api-gateway", "web", "New_Thing"]),
            &objects,
        );
        assert_eq!(
            sync.apply,
            [
                RepositoryToApply { object_name: "new-thing".into(), github_name: "New_Thing".into(), adopted: false },
                RepositoryToApply {
                    object_name: "gateway-by-hand".into(),
                    github_name: "api-gateway".into(),
                    adopted: true
                },
                RepositoryToApply { object_name: "core".into(), github_name: "core".into(), adopted: false },
                // `web` is taken by another organization's object: the new one is prefixed.
                RepositoryToApply { object_name: "acme-web".into(), github_name: "web".into(), adopted: false },
            ]
        );
        assert_eq!(sync.delete, ["gone"]);
        assert_eq!(sync.mark_gone, ["gone-by-hand"], "hand-written objects are never deleted");

        let retained = sync_repositories("acme", PrunePolicy::Retain, &kept(&[]), &objects);
        assert!(retained.delete.is_empty());
        assert_eq!(retained.mark_gone.len(), 4);
    }

    #[test]
    fn the_same_input_plans_the_same_names() {
        let objects = [existing("web", "other", "web", true)];
        let first = sync_repositories("acme", PrunePolicy::Delete, &kept(&["web", "Web"]), &objects);
        let second = sync_repositories("acme", PrunePolicy::Delete, &kept(&["web", "Web"]), &objects);
        assert_eq!(first, second);
        let names: BTreeSet<&str> = first.apply.iter().map(|a| a.object_name.as_str()).collect();
        assert_eq!(names.len(), 2, "names never collide: {first:?}");
    }

    #[test]
    fn object_names_are_valid() {
        assert_eq!(object_name("My_Repo.js"), "my-repo.js");
        assert_eq!(object_name("--x--"), "x");
        assert_eq!(object_name("___"), format!("repository-{:08x}", fnv1a("___")));
        assert!(object_name(&"a".repeat(300)).len() <= 253);
        let taken = BTreeSet::from(["core".to_string(), "acme-core".to_string()]);
        let hashed = free_object_name("acme", "core", &taken);
        assert!(hashed.starts_with("acme-core-") && hashed.len() == "acme-core-".len() + 8, "{hashed}");
    }
}
