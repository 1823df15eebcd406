//! Outage-safe pruning: a listing of the organization that comes back empty, or that lacks more than a set share of
//! the repositories the Organization had, removes nothing until it is confirmed. GitHub answers such listings during
//! incidents and when a credential briefly loses access; deleting a Repository object loses its overrides, its
//! health history and the BuildPlan entries that name it, so a wrong listing must not be trusted on its own.
//!
//! A held removal is carried out when the next listing (a later pass) still lacks the same repositories and is not
//! empty itself, or when a person confirms it with the `confirm-prune` annotation. Repositories that are listed but
//! no longer pass the filters are a spec decision, not an outage: they are never held. Pure: discovery lists and
//! plans, this decides what of the plan may go ahead.

use std::collections::BTreeSet;

use super::repository_sync::{ExistingRepository, RepositorySync};

/// The Organization's condition that says removals are held: `True` while they are, `False` once an Organization
/// that held some has none held.
pub const PRUNE_HELD: &str = "PruneHeld";

/// Why a pass held its removals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// GitHub listed no repository at all while the Organization had some.
    ListingEmpty,
    /// The listing lacked more than the allowed share of the Organization's repositories.
    ListingShrank,
}

impl HoldReason {
    /// The `PruneHeld` condition's reason.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::ListingEmpty => "ListingEmpty",
            HoldReason::ListingShrank => "ListingShrank",
        }
    }
}

/// Removals a pass did not carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneHold {
    /// Why.
    pub reason: HoldReason,
    /// Object names whose deletion or `GoneFromGitHub` mark was held, sorted.
    pub objects: Vec<String>,
    /// How many Repository objects the Organization had before this pass.
    pub known: usize,
    /// How many repositories GitHub listed.
    pub listed: usize,
}

impl PruneHold {
    /// The share of the Organization's repositories the listing lacked, in whole percent.
    pub fn missing_percent(&self) -> usize {
        (self.objects.len() * 100).checked_div(self.known).unwrap_or(0)
    }

    /// A message for the condition and the Event: what was held, why, and how it is released.
    pub fn message(&self, login: &str, threshold_percent: u32, confirm_annotation: &str) -> String {
        let why = match self.reason {
            HoldReason::ListingEmpty => format!("GitHub listed no repository of {login}"),
            HoldReason::ListingShrank => format!(
                "the listing of {login} lacked {} of {} repositories ({} %, more than {threshold_percent} %)",
                self.objects.len(),
                self.known,
                self.missing_percent()
            ),
        };
        let release = match self.reason {
            HoldReason::ListingEmpty => "they are removed only when a person confirms".to_owned(),
            HoldReason::ListingShrank => {
                "they are removed when the next listing still lacks them, or when a person confirms".to_owned()
            }
        };
        format!(
            "Holding the removal of {}: {why}; {release} (annotate the Organization with {confirm_annotation}=<any \
             new value>)",
            name_list(&self.objects),
            release = release
        )
    }
}

/// What the pass may do with the removals its plan holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing was to be removed because the listing lacked it, or the listing looks sound.
    Proceed,
    /// The removals the last pass held are confirmed (by this listing or by a person) and go ahead.
    Confirmed {
        /// Object names now removed that an earlier pass had held.
        objects: Vec<String>,
        /// Whether a person confirmed them (else the listing did).
        by_person: bool,
    },
    /// The removals were taken out of the plan.
    Held(PruneHold),
}

/// What the guard knows beyond the plan.
#[derive(Clone, Debug)]
pub struct Safety<'a> {
    /// The largest share of the Organization's repositories, in percent, that one listing may lack without being
    /// confirmed.
    pub threshold_percent: u32,
    /// Names GitHub listed this pass, before the filters.
    pub listed: &'a BTreeSet<String>,
    /// Object names the last pass held.
    pub held_before: &'a BTreeSet<String>,
    /// Whether a person asked, since the last pass, to carry the held removals out.
    pub confirmed_by_person: bool,
}

/// Takes out of `sync` the removals (deletions and `GoneFromGitHub` marks) that the listing alone does not justify.
/// `existing` are the Repository objects the plan was made from.
pub fn guard(
    sync: &mut RepositorySync,
    organization: &str,
    existing: &[ExistingRepository],
    safety: &Safety<'_>,
) -> Verdict {
    let listed_lower: BTreeSet<String> = safety.listed.iter().map(|name| name.to_lowercase()).collect();
    let ours: Vec<&ExistingRepository> = existing.iter().filter(|e| e.organization == organization).collect();
    // Removals because GitHub did not list the repository (not because a filter now leaves it out).
    let unlisted: BTreeSet<String> = ours
        .iter()
        .filter(|e| !listed_lower.contains(&e.github_name.to_lowercase()))
        .map(|e| e.object_name.clone())
        .filter(|name| sync.delete.contains(name) || sync.mark_gone.contains(name))
        .collect();
    if unlisted.is_empty() {
        return Verdict::Proceed;
    }
    // A confirmation covers what was held, nothing the listing lacks on top of it.
    let only_what_was_held = unlisted.is_subset(safety.held_before);
    let objects = || unlisted.iter().cloned().collect::<Vec<_>>();
    if safety.confirmed_by_person && only_what_was_held {
        return Verdict::Confirmed { objects: objects(), by_person: true };
    }
    let known = ours.len();
    let empty = safety.listed.is_empty();
    let shrank = unlisted.len() * 100 > known * safety.threshold_percent as usize;
    if !empty && !shrank {
        return Verdict::Proceed;
    }
    if !empty && only_what_was_held {
        return Verdict::Confirmed { objects: objects(), by_person: false };
    }
    sync.delete.retain(|name| !unlisted.contains(name));
    sync.mark_gone.retain(|name| !unlisted.contains(name));
    let reason = if empty { HoldReason::ListingEmpty } else { HoldReason::ListingShrank };
    Verdict::Held(PruneHold { reason, objects: unlisted.into_iter().collect(), known, listed: safety.listed.len() })
}

/// `a, b, c` for a few names, `a, b, c and 7 more` for many.
fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let shown = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::organization::PrunePolicy;
    use crate::plan::repository_sync::sync_repositories;

    fn objects(names: &[&str]) -> Vec<ExistingRepository> {
        names
            .iter()
            .map(|name| ExistingRepository {
                object_name: name.to_string(),
                organization: "acme".into(),
                github_name: name.to_string(),
                created_by_operator: true,
            })
            .collect()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// Plans against `listed` (every listed repository passes the filters unless in `filtered_out`) and guards.
    fn pass(
        existing: &[ExistingRepository],
        listed: &[&str],
        filtered_out: &[&str],
        held_before: &[&str],
        by_person: bool,
    ) -> (RepositorySync, Verdict) {
        let listed = names(listed);
        let kept: BTreeSet<String> = listed.iter().filter(|n| !filtered_out.contains(&n.as_str())).cloned().collect();
        let mut sync = sync_repositories("acme", PrunePolicy::Delete, &kept, existing);
        let held_before = names(held_before);
        let safety = Safety {
            threshold_percent: 25,
            listed: &listed,
            held_before: &held_before,
            confirmed_by_person: by_person,
        };
        let verdict = guard(&mut sync, "acme", existing, &safety);
        (sync, verdict)
    }

    const TEN: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];

    #[test]
    fn an_empty_listing_removes_nothing_until_a_person_confirms() {
        let existing = objects(&TEN);
        let (sync, verdict) = pass(&existing, &[], &[], &[], false);
        assert!(sync.delete.is_empty() && sync.mark_gone.is_empty(), "{sync:?}");
        let Verdict::Held(hold) = verdict else { panic!("held: {verdict:?}") };
        assert_eq!((hold.reason, hold.objects.len(), hold.known, hold.listed), (HoldReason::ListingEmpty, 10, 10, 0));
        // A second empty listing confirms nothing.
        let (sync, verdict) = pass(&existing, &[], &[], &TEN, false);
        assert!(sync.delete.is_empty(), "{sync:?}");
        assert!(matches!(verdict, Verdict::Held(_)), "{verdict:?}");
        // A person does.
        let (sync, verdict) = pass(&existing, &[], &[], &TEN, true);
        assert_eq!(sync.delete.len(), 10);
        assert_eq!(
            verdict,
            Verdict::Confirmed { objects: TEN.iter().map(|n| n.to_string()).collect(), by_person: true }
        );
    }

    #[test]
    fn a_listing_that_lost_forty_percent_is_held_then_confirmed_by_the_next() {
        let existing = objects(&TEN);
        let remaining = &TEN[..6];
        let (sync, verdict) = pass(&existing, remaining, &[], &[], false);
        assert!(sync.delete.is_empty(), "{sync:?}");
        let Verdict::Held(hold) = verdict else { panic!("held: {verdict:?}") };
        assert_eq!((hold.reason, hold.missing_percent()), (HoldReason::ListingShrank, 40));
        assert_eq!(hold.objects, ["g", "h", "i", "j"]);
        let message = hold.message("acme", 25, "orchestrator.infinityxone.io/confirm-prune");
        assert!(message.contains("lacked 4 of 10 repositories (40 %, more than 25 %)"), "{message}");
        // The next listing still lacks them: confirmed.
        let (sync, verdict) = pass(&existing, remaining, &[], &["g", "h", "i", "j"], false);
        assert_eq!(sync.delete, ["g", "h", "i", "j"]);
        assert!(matches!(verdict, Verdict::Confirmed { by_person: false, .. }), "{verdict:?}");
    }

    #[test]
    fn a_confirmation_covers_only_what_was_held() {
        let existing = objects(&TEN);
        // Nothing was held: a person's annotation does not let an empty listing through.
        let (sync, verdict) = pass(&existing, &[], &[], &[], true);
        assert!(sync.delete.is_empty(), "{sync:?}");
        assert!(matches!(verdict, Verdict::Held(_)), "{verdict:?}");
        // Four were held and now five are missing: held again, the person must confirm the new set.
        let (sync, verdict) = pass(&existing, &TEN[..5], &[], &["g", "h", "i", "j"], true);
        assert!(sync.delete.is_empty(), "{sync:?}");
        assert!(matches!(verdict, Verdict::Held(_)), "{verdict:?}");
    }

    #[test]
    fn a_listing_that_lacks_more_than_was_held_is_held_again() {
        let existing = objects(&TEN);
        let (sync, verdict) = pass(&existing, &TEN[..5], &[], &["g", "h", "i", "j"], false);
        assert!(sync.delete.is_empty(), "{sync:?}");
        let Verdict::Held(hold) = verdict else { panic!("held: {verdict:?}") };
        assert_eq!(hold.objects, ["f", "g", "h", "i", "j"]);
    }

    #[test]
    fn small_losses_and_filter_changes_go_ahead() {
        let existing = objects(&TEN);
        // 2 of 10 (20 %) is within the threshold.
        let (sync, verdict) = pass(&existing, &TEN[..8], &[], &[], false);
        assert_eq!((sync.delete.len(), verdict), (2, Verdict::Proceed));
        // Listed but filtered out: a spec decision, never held, however many.
        let (sync, verdict) = pass(&existing, &TEN, &["a", "b", "c", "d", "e"], &[], false);
        assert_eq!((sync.delete.len(), verdict), (5, Verdict::Proceed));
    }

    #[test]
    fn retained_marks_are_held_like_deletions() {
        let existing = objects(&TEN);
        let kept = names(&TEN[..6]);
        let mut sync = sync_repositories("acme", PrunePolicy::Retain, &kept, &existing);
        let held_before = BTreeSet::new();
        let safety =
            Safety { threshold_percent: 25, listed: &kept, held_before: &held_before, confirmed_by_person: false };
        assert!(matches!(guard(&mut sync, "acme", &existing, &safety), Verdict::Held(_)));
        assert!(sync.mark_gone.is_empty(), "{sync:?}");
    }

    #[test]
    fn many_names_are_counted_not_listed() {
        let many: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
        assert_eq!(name_list(&many), "r0, r1, r2, r3, r4 and 3 more");
    }
}
