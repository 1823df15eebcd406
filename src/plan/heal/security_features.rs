//! Turning security features on: a HealingPolicy's `enableSecurityFeatures`, what GitHub says of one repository's
//! features and the policy's audit trail in, the features to turn on now and those held back (with why) out. The
//! HealingPolicy controller observes, calls [`decide`], sends or only records each [`PlannedEnable`], and audits.
//!
//! Per feature the policy asks for, in the order GitHub needs them (Dependabot alerts before security updates):
//! 1. **On, or not known** (GitHub did not say): nothing to do.
//! 2. **Dependabot security updates** while Dependabot alerts are off and not turned on in this plan: held back until
//!    they are (GitHub refuses them otherwise).
//! 3. **Secret scanning** on a private or internal repository whose Advanced Security GitHub reports off: held back,
//!    the plan does not allow it (GitHub would answer 422).
//! 4. **Refused**: GitHub refused it (an audit entry with outcome [`REFUSED`]) less than [`REFUSAL_RETRY`] ago: held
//!    back with GitHub's answer instead of being sent again at every evaluation.
//! 5. **Cooldown**: an entry for the same feature on the repository within the policy's `cooldown` holds it back, so
//!    an enable is sent once even while GitHub's answers catch up, and `DryRun` records it once per cooldown.
//! 6. **Cap**: `maxActionsPerRepositoryPerHour`, counting the repository's audit entries of the last hour and the
//!    actions already decided for it in this evaluation.
//!
//! In `DryRun` every decision is [`Dispatch::RecordOnly`].

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{after, cooldown_of, signed, Dispatch};
use crate::crd::healing_policy::{AuditedAction, HealingMode, HealingPolicySpec, SecurityFeatures};
use crate::crd::repository::RepositoryStatus;

/// The audit outcome of an enable GitHub refused because the repository's plan or settings do not allow it.
pub const REFUSED: &str = "Refused";

/// How long a refused enable waits before it is tried again: the plan or the settings may change, but rarely.
pub const REFUSAL_RETRY: Duration = Duration::from_secs(24 * 60 * 60);

/// A security feature the policy can turn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityFeature {
    /// Dependabot alerts and the dependency graph.
    DependabotAlerts,
    /// Dependabot security updates (they need Dependabot alerts).
    DependabotSecurityUpdates,
    /// Secret scanning.
    SecretScanning,
}

impl SecurityFeature {
    /// Every feature, in the order GitHub needs them turned on.
    pub const ALL: [SecurityFeature; 3] =
        [Self::DependabotAlerts, Self::DependabotSecurityUpdates, Self::SecretScanning];

    /// The action's name in the audit trail, Events and withheld decisions.
    pub fn action(self) -> &'static str {
        match self {
            Self::DependabotAlerts => "EnableDependabotAlerts",
            Self::DependabotSecurityUpdates => "EnableDependabotSecurityUpdates",
            Self::SecretScanning => "EnableSecretScanning",
        }
    }

    /// What people call it.
    pub fn title(self) -> &'static str {
        match self {
            Self::DependabotAlerts => "Dependabot alerts",
            Self::DependabotSecurityUpdates => "Dependabot security updates",
            Self::SecretScanning => "secret scanning",
        }
    }

    /// Whether the policy asks for it.
    pub fn wanted(self, wanted: &SecurityFeatures) -> bool {
        match self {
            Self::DependabotAlerts => wanted.dependabot_alerts,
            Self::DependabotSecurityUpdates => wanted.dependabot_security_updates,
            Self::SecretScanning => wanted.secret_scanning,
        }
    }
}

/// What GitHub says of one repository's security features; `None` where it said nothing (not read, or not shown to
/// the credential).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedFeatures {
    /// Whether Dependabot alerts are on.
    pub dependabot_alerts: Option<bool>,
    /// Whether Dependabot security updates are on.
    pub dependabot_security_updates: Option<bool>,
    /// Whether secret scanning is on.
    pub secret_scanning: Option<bool>,
    /// Whether the repository is public (secret scanning needs no Advanced Security there).
    pub public: bool,
    /// Whether GitHub Advanced Security is on (private and internal repositories).
    pub advanced_security: Option<bool>,
}

impl ObservedFeatures {
    /// Whether `feature` is on.
    pub fn state(&self, feature: SecurityFeature) -> Option<bool> {
        match feature {
            SecurityFeature::DependabotAlerts => self.dependabot_alerts,
            SecurityFeature::DependabotSecurityUpdates => self.dependabot_security_updates,
            SecurityFeature::SecretScanning => self.secret_scanning,
        }
    }
}

/// A feature to turn on (or, in `DryRun`, to record as turned on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEnable {
    /// The feature.
    pub feature: SecurityFeature,
    /// Why, for the audit entry and the Event.
    pub reason: String,
    /// Whether it goes to GitHub.
    pub dispatch: Dispatch,
}

impl PlannedEnable {
    /// The audit entry of this decision at `now`: `Enforced` or `DryRun`.
    pub fn audit(&self, repository: &str, now: Timestamp) -> AuditedAction {
        let outcome = match self.dispatch {
            Dispatch::Send => "Enforced",
            Dispatch::RecordOnly => "DryRun",
        };
        AuditedAction {
            time: Time(now),
            repository: repository.to_owned(),
            action: self.feature.action().to_owned(),
            reason: self.reason.clone(),
            outcome: outcome.to_owned(),
            link: None,
        }
    }

    /// The audit entry of this enable refused by GitHub with `answer`: [`REFUSED`], which holds it back for
    /// [`REFUSAL_RETRY`].
    pub fn refused(&self, repository: &str, now: Timestamp, answer: &str) -> AuditedAction {
        let mut entry = self.audit(repository, now);
        entry.outcome = REFUSED.to_owned();
        entry.reason = format!("{}; GitHub refused it: {answer}", self.reason);
        entry
    }
}

/// A feature the policy asks for that is not turned on now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldEnable {
    /// The feature.
    pub feature: SecurityFeature,
    /// Why it waits.
    pub why: String,
    /// When it may go; `None` when only a change on GitHub will let it.
    pub retry_at: Option<Timestamp>,
}

/// Everything decided about one repository's security features.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeaturePlan {
    /// Features to turn on, in the order to send them.
    pub enable: Vec<PlannedEnable>,
    /// Features held back.
    pub withheld: Vec<HeldEnable>,
}

/// How long GitHub's word that every feature a policy asks for is on in a repository stands: until then the
/// repository is read again only when its Repository status reports one of them off. Security updates show in no
/// status the operator reads, so without it they would cost reads of every selected repository at every
/// evaluation; a person turning a feature off on GitHub is seen within this time.
pub const CONFIRMED_ON_STANDS: Duration = Duration::from_secs(24 * 3600);

/// Whether the policy needs to read a repository's security features from GitHub, from what its Repository status
/// says and when GitHub last said every wanted feature is on there (`confirmed_on`). While that word stands
/// ([`CONFIRMED_ON_STANDS`]), only a feature reported off by a read after it; else Dependabot alerts or secret scanning
/// reported off or not known, and Dependabot security updates always (the Repository status does not report them).
pub fn needs_look(
    wanted: &SecurityFeatures,
    status: &RepositoryStatus,
    confirmed_on: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    let security = status.security.as_ref();
    let off = |feature: &str| security.is_some_and(|s| s.disabled_features.iter().any(|listed| listed == feature));
    let reported_off = (wanted.dependabot_alerts || wanted.dependabot_security_updates) && off("dependabot")
        || wanted.secret_scanning && off("secretScanning");
    if let Some(at) = confirmed_on.filter(|at| now < after(*at, signed(CONFIRMED_ON_STANDS))) {
        // A report older than GitHub's word is what it replaced (the Repository's reads lag the enable).
        let read_since = status.last_sync_time.as_ref().is_none_or(|read| read.0 > at);
        return reported_off && read_since;
    }
    let Some(security) = security else { return wanted.any() };
    let not_on = |feature: &str| {
        security.disabled_features.iter().chain(&security.unknown_features).any(|listed| listed == feature)
    };
    (wanted.dependabot_alerts && not_on("dependabot"))
        || wanted.dependabot_security_updates
        || (wanted.secret_scanning && not_on("secretScanning"))
}

/// Whether GitHub said every feature `wanted` names is on.
pub fn all_on(wanted: &SecurityFeatures, observed: &ObservedFeatures) -> bool {
    wanted.any()
        && SecurityFeature::ALL
            .into_iter()
            .filter(|feature| feature.wanted(wanted))
            .all(|feature| observed.state(feature) == Some(true))
}

/// The features to turn on in the repository `repository` (its GitHub name, as the audit trail holds it) under
/// `policy` at `now`, from what GitHub says (`observed`), the policy's audit trail (`history`) and the number of
/// actions already decided for the repository in this evaluation (`decided_now`). Deterministic.
pub fn decide(
    policy: &HealingPolicySpec,
    repository: &str,
    observed: &ObservedFeatures,
    history: &[AuditedAction],
    decided_now: usize,
    now: Timestamp,
) -> FeaturePlan {
    let mut plan = FeaturePlan::default();
    let wanted = &policy.enable_security_features;
    if policy.suspend || !wanted.any() {
        return plan;
    }
    let dispatch = match policy.mode {
        HealingMode::Enforce => Dispatch::Send,
        HealingMode::DryRun => Dispatch::RecordOnly,
    };
    let cooldown = cooldown_of(policy);
    let cap = usize::try_from(policy.max_actions_per_repository_per_hour.max(0)).unwrap_or(0);
    let hour_ago = now.checked_sub(SignedDuration::from_hours(1)).unwrap_or(Timestamp::MIN);
    let of_repository = || history.iter().filter(|entry| entry.repository == repository);
    let mut in_last_hour: Vec<Timestamp> =
        of_repository().map(|entry| entry.time.0).filter(|time| *time > hour_ago && *time <= now).collect();
    in_last_hour.sort();
    for feature in SecurityFeature::ALL.into_iter().filter(|feature| feature.wanted(wanted)) {
        if observed.state(feature) != Some(false) {
            continue;
        }
        let title = feature.title();
        let mut hold = |why: String, retry_at: Option<Timestamp>| {
            plan.withheld.push(HeldEnable { feature, why, retry_at });
        };
        let latest = of_repository().filter(|entry| entry.action == feature.action()).max_by_key(|entry| entry.time.0);
        if feature == SecurityFeature::DependabotSecurityUpdates && observed.dependabot_alerts != Some(true) {
            let alerts_now = plan.enable.iter().any(|planned| planned.feature == SecurityFeature::DependabotAlerts);
            if !alerts_now {
                hold(format!("{title} need Dependabot alerts on first, and they are off"), None);
                continue;
            }
        }
        if feature == SecurityFeature::SecretScanning && !observed.public && observed.advanced_security == Some(false) {
            let why = "secret scanning on a private or internal repository needs GitHub Advanced Security (or Secret \
                       Protection), which is off: the plan does not allow it";
            hold(why.to_owned(), None);
            continue;
        }
        if let Some(refused) = latest.filter(|entry| entry.outcome == REFUSED) {
            let retry_at = after(refused.time.0, signed(REFUSAL_RETRY));
            if now < retry_at {
                hold(format!("refused at {}: {}", refused.time.0, refused.reason), Some(retry_at));
                continue;
            }
        }
        let reason = format!("{title} {} off; the policy turns {} on", is_or_are(feature), it_or_them(feature));
        if let Some(last) = latest.map(|entry| entry.time.0).filter(|last| now < after(*last, cooldown)) {
            hold(format!("cooldown since {last}: {reason}"), Some(after(last, cooldown)));
        } else if in_last_hour.len() + decided_now + plan.enable.len() >= cap {
            // The cap frees a slot when the oldest action of the last hour turns an hour old.
            let oldest = in_last_hour.first().copied().unwrap_or(now);
            let retry_at = after(oldest, SignedDuration::from_hours(1));
            hold(format!("{cap} actions per hour reached: {reason}"), Some(retry_at));
        } else {
            plan.enable.push(PlannedEnable { feature, reason, dispatch });
        }
    }
    plan
}

fn is_or_are(feature: SecurityFeature) -> &'static str {
    match feature {
        SecurityFeature::SecretScanning => "is",
        _ => "are",
    }
}

fn it_or_them(feature: SecurityFeature) -> &'static str {
    match feature {
        SecurityFeature::SecretScanning => "it",
        _ => "them",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::repository::SecurityStatus;

    fn policy(features: serde_json::Value, mode: &str) -> HealingPolicySpec {
        serde_json::from_value(serde_json::json!({
            "organizationRef": { "name": "org" },
            "mode": mode,
            "cooldown": "30m",
            "maxActionsPerRepositoryPerHour": 3,
            "enableSecurityFeatures": features,
        }))
        .expect("a spec")
    }

    fn enforce(features: serde_json::Value) -> HealingPolicySpec {
        policy(features, "Enforce")
    }

    fn all_off_private() -> ObservedFeatures {
        ObservedFeatures {
            dependabot_alerts: Some(false),
            dependabot_security_updates: Some(false),
            secret_scanning: Some(false),
            public: false,
            advanced_security: Some(false),
        }
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minutes * 60).expect("a time")
    }

    fn entry(action: &str, outcome: &str, minutes: i64) -> AuditedAction {
        AuditedAction {
            time: Time(at(minutes)),
            repository: "api".into(),
            action: action.into(),
            reason: "why".into(),
            outcome: outcome.into(),
            link: None,
        }
    }

    fn enabled(plan: &FeaturePlan) -> Vec<SecurityFeature> {
        plan.enable.iter().map(|planned| planned.feature).collect()
    }

    fn held(plan: &FeaturePlan) -> Vec<SecurityFeature> {
        plan.withheld.iter().map(|held| held.feature).collect()
    }

    #[test]
    fn nothing_is_decided_unless_asked_for_or_while_suspended() {
        let observed = all_off_private();
        assert_eq!(decide(&enforce(serde_json::json!({})), "api", &observed, &[], 0, at(0)), FeaturePlan::default());
        let mut suspended = enforce(serde_json::json!({ "dependabotAlerts": true }));
        suspended.suspend = true;
        assert_eq!(decide(&suspended, "api", &observed, &[], 0, at(0)), FeaturePlan::default());
    }

    #[test]
    fn a_feature_that_is_off_is_turned_on_and_one_on_or_unknown_is_left_alone() {
        let spec = enforce(serde_json::json!({ "dependabotAlerts": true }));
        let plan = decide(&spec, "api", &all_off_private(), &[], 0, at(0));
        assert_eq!(enabled(&plan), [SecurityFeature::DependabotAlerts]);
        assert_eq!(plan.enable[0].dispatch, Dispatch::Send);
        let audit = plan.enable[0].audit("api", at(0));
        assert_eq!((audit.action.as_str(), audit.outcome.as_str()), ("EnableDependabotAlerts", "Enforced"));
        for state in [Some(true), None] {
            let observed = ObservedFeatures { dependabot_alerts: state, ..all_off_private() };
            assert_eq!(decide(&spec, "api", &observed, &[], 0, at(0)), FeaturePlan::default(), "{state:?}");
        }
    }

    #[test]
    fn dry_run_decides_the_same_and_only_records() {
        let spec = policy(serde_json::json!({ "dependabotAlerts": true }), "DryRun");
        let plan = decide(&spec, "api", &all_off_private(), &[], 0, at(0));
        assert_eq!(enabled(&plan), [SecurityFeature::DependabotAlerts]);
        assert_eq!(plan.enable[0].dispatch, Dispatch::RecordOnly);
        assert_eq!(plan.enable[0].audit("api", at(0)).outcome, "DryRun");
        // Its record holds the next one back for the cooldown.
        let recorded = [plan.enable[0].audit("api", at(0))];
        let again = decide(&spec, "api", &all_off_private(), &recorded, 0, at(5));
        assert_eq!((enabled(&again), held(&again)), (vec![], vec![SecurityFeature::DependabotAlerts]));
        assert_eq!(again.withheld[0].retry_at, Some(at(30)));
    }

    #[test]
    fn security_updates_follow_dependabot_alerts() {
        let both = enforce(serde_json::json!({ "dependabotAlerts": true, "dependabotSecurityUpdates": true }));
        let plan = decide(&both, "api", &all_off_private(), &[], 0, at(0));
        assert_eq!(enabled(&plan), [SecurityFeature::DependabotAlerts, SecurityFeature::DependabotSecurityUpdates]);

        let updates_only = enforce(serde_json::json!({ "dependabotSecurityUpdates": true }));
        let plan = decide(&updates_only, "api", &all_off_private(), &[], 0, at(0));
        assert_eq!((enabled(&plan), held(&plan)), (vec![], vec![SecurityFeature::DependabotSecurityUpdates]));
        assert!(plan.withheld[0].why.contains("need Dependabot alerts on first"), "{}", plan.withheld[0].why);
        assert_eq!(plan.withheld[0].retry_at, None);

        let alerts_on = ObservedFeatures { dependabot_alerts: Some(true), ..all_off_private() };
        let plan = decide(&updates_only, "api", &alerts_on, &[], 0, at(0));
        assert_eq!(enabled(&plan), [SecurityFeature::DependabotSecurityUpdates]);

        // Alerts held back by their cooldown hold the updates back too.
        let recent = [entry("EnableDependabotAlerts", "Enforced", -10)];
        let plan = decide(&both, "api", &all_off_private(), &recent, 0, at(0));
        assert_eq!(held(&plan), [SecurityFeature::DependabotAlerts, SecurityFeature::DependabotSecurityUpdates]);
    }

    #[test]
    fn secret_scanning_goes_only_where_the_plan_allows_it() {
        let spec = enforce(serde_json::json!({ "secretScanning": true }));
        let plan = decide(&spec, "api", &all_off_private(), &[], 0, at(0));
        assert_eq!((enabled(&plan), held(&plan)), (vec![], vec![SecurityFeature::SecretScanning]));
        assert!(plan.withheld[0].why.contains("needs GitHub Advanced Security"), "{}", plan.withheld[0].why);
        assert_eq!(plan.withheld[0].retry_at, None, "only a change on GitHub lets it go");

        for observed in [
            ObservedFeatures { public: true, advanced_security: None, ..all_off_private() },
            ObservedFeatures { advanced_security: Some(true), ..all_off_private() },
            // GitHub did not say: it decides, and a refusal is recorded.
            ObservedFeatures { advanced_security: None, ..all_off_private() },
        ] {
            let plan = decide(&spec, "api", &observed, &[], 0, at(0));
            assert_eq!(enabled(&plan), [SecurityFeature::SecretScanning], "{observed:?}");
        }
    }

    #[test]
    fn a_refusal_holds_the_feature_back_for_a_day_with_github_s_answer() {
        let spec = enforce(serde_json::json!({ "secretScanning": true }));
        let observed = ObservedFeatures { advanced_security: None, ..all_off_private() };
        let plan = decide(&spec, "api", &observed, &[], 0, at(0));
        let refused = plan.enable[0].refused("api", at(0), "validation failed: no Advanced Security");
        assert_eq!(refused.outcome, REFUSED);
        assert!(refused.reason.ends_with("GitHub refused it: validation failed: no Advanced Security"));
        let history = [refused];
        for minutes in [1, 60, 23 * 60] {
            let later = decide(&spec, "api", &observed, &history, 0, at(minutes));
            assert_eq!((enabled(&later), held(&later)), (vec![], vec![SecurityFeature::SecretScanning]), "{minutes}");
            assert!(later.withheld[0].why.contains("no Advanced Security"), "{}", later.withheld[0].why);
            assert_eq!(later.withheld[0].retry_at, Some(at(24 * 60)));
        }
        let next_day = decide(&spec, "api", &observed, &history, 0, at(24 * 60));
        assert_eq!(enabled(&next_day), [SecurityFeature::SecretScanning]);
    }

    #[test]
    fn the_cooldown_counts_per_feature_and_repository_and_the_hourly_cap_counts_everything() {
        let spec = enforce(serde_json::json!({ "dependabotAlerts": true, "secretScanning": true }));
        let observed = ObservedFeatures { public: true, ..all_off_private() };
        let history = [entry("EnableDependabotAlerts", "Enforced", -29), entry("EnableSecretScanning", "Failed", -31)];
        let plan = decide(&spec, "api", &observed, &history, 0, at(0));
        assert_eq!(
            (enabled(&plan), held(&plan)),
            (vec![SecurityFeature::SecretScanning], vec![SecurityFeature::DependabotAlerts])
        );
        assert_eq!(plan.withheld[0].retry_at, Some(at(1)));
        let mut elsewhere = history.clone();
        elsewhere.iter_mut().for_each(|entry| entry.repository = "web".into());
        assert_eq!(enabled(&decide(&spec, "api", &observed, &elsewhere, 0, at(0))).len(), 2, "another repository");

        // Three a hour: two in the history and one decided now by another rule leave none.
        let busy = [entry("Rerun", "Enforced", -50), entry("OpenIssue", "Enforced", -40)];
        let plan = decide(&spec, "api", &observed, &busy, 1, at(0));
        assert_eq!(held(&plan), [SecurityFeature::DependabotAlerts, SecurityFeature::SecretScanning]);
        assert!(plan.withheld[0].why.starts_with("3 actions per hour reached"), "{}", plan.withheld[0].why);
        assert_eq!(plan.withheld[0].retry_at, Some(at(10)));
        let plan = decide(&spec, "api", &observed, &busy, 0, at(0));
        assert_eq!(
            (enabled(&plan), held(&plan)),
            (vec![SecurityFeature::DependabotAlerts], vec![SecurityFeature::SecretScanning])
        );
    }

    #[test]
    fn the_repository_status_tells_which_repositories_need_a_look() {
        let wanted = |json| serde_json::from_value::<SecurityFeatures>(json).expect("features");
        let status = |disabled: &[&str], unknown: &[&str]| RepositoryStatus {
            security: Some(SecurityStatus {
                disabled_features: disabled.iter().map(|s| s.to_string()).collect(),
                unknown_features: unknown.iter().map(|s| s.to_string()).collect(),
                ..SecurityStatus::default()
            }),
            ..RepositoryStatus::default()
        };
        let alerts = wanted(serde_json::json!({ "dependabotAlerts": true }));
        assert!(!needs_look(&SecurityFeatures::default(), &RepositoryStatus::default(), None, at(0)));
        assert!(needs_look(&alerts, &RepositoryStatus::default(), None, at(0)), "nothing known yet");
        assert!(needs_look(&alerts, &status(&["dependabot"], &[]), None, at(0)));
        assert!(!needs_look(&alerts, &status(&["secretScanning", "codeScanning"], &[]), None, at(0)), "alerts are on");
        let scanning = wanted(serde_json::json!({ "secretScanning": true }));
        assert!(needs_look(&scanning, &status(&[], &["secretScanning"]), None, at(0)));
        assert!(!needs_look(&scanning, &status(&["dependabot"], &[]), None, at(0)));
        let updates = wanted(serde_json::json!({ "dependabotSecurityUpdates": true }));
        assert!(needs_look(&updates, &status(&[], &[]), None, at(0)), "the status does not report them");
    }

    #[test]
    fn github_saying_all_is_on_spares_reads_for_a_day_unless_the_status_reports_one_off() {
        let all =
            SecurityFeatures { dependabot_alerts: true, dependabot_security_updates: true, secret_scanning: true };
        let updates = SecurityFeatures { dependabot_security_updates: true, ..SecurityFeatures::default() };
        let quiet = RepositoryStatus {
            security: Some(SecurityStatus { unknown_features: vec!["secretScanning".into()], ..Default::default() }),
            ..RepositoryStatus::default()
        };
        let confirmed = Some(at(0));
        assert!(needs_look(&updates, &quiet, None, at(0)), "never confirmed");
        assert!(!needs_look(&updates, &quiet, confirmed, at(60)), "confirmed an hour ago");
        assert!(!needs_look(&all, &quiet, confirmed, at(60)), "unknown is not off");
        assert!(!needs_look(&all, &RepositoryStatus::default(), confirmed, at(60)), "no security status yet");
        assert!(needs_look(&updates, &quiet, confirmed, at(24 * 60)), "a day later");
        let alerts_off = RepositoryStatus {
            security: Some(SecurityStatus { disabled_features: vec!["dependabot".into()], ..Default::default() }),
            ..RepositoryStatus::default()
        };
        assert!(needs_look(&updates, &alerts_off, confirmed, at(60)), "alerts reported off: updates are off too");
        let read = |minutes| RepositoryStatus { last_sync_time: Some(Time(at(minutes))), ..alerts_off.clone() };
        assert!(!needs_look(&updates, &read(-5), confirmed, at(60)), "reported off before GitHub said on");
        assert!(needs_look(&updates, &read(30), confirmed, at(60)), "reported off by a read since");
        let scanning_off = RepositoryStatus {
            security: Some(SecurityStatus { disabled_features: vec!["secretScanning".into()], ..Default::default() }),
            ..RepositoryStatus::default()
        };
        assert!(needs_look(&all, &scanning_off, confirmed, at(60)));
        assert!(!needs_look(&updates, &scanning_off, confirmed, at(60)), "not a feature this policy wants");

        let on = ObservedFeatures {
            dependabot_alerts: Some(true),
            dependabot_security_updates: Some(true),
            secret_scanning: Some(true),
            ..ObservedFeatures::default()
        };
        assert!(all_on(&all, &on));
        assert!(!all_on(&all, &ObservedFeatures { secret_scanning: None, ..on.clone() }), "not known is not on");
        assert!(!all_on(&all, &ObservedFeatures { dependabot_security_updates: Some(false), ..on.clone() }));
        assert!(all_on(&updates, &ObservedFeatures { secret_scanning: Some(false), ..on }), "only what is wanted");
        assert!(!all_on(&SecurityFeatures::default(), &ObservedFeatures::default()), "nothing wanted");
    }
}
