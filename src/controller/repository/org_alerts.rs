//! Security from the organization's alert lists: one snapshot per Organization of the open alerts of each product
//! (`GET /orgs/{org}/{code-scanning,dependabot,secret-scanning}/alerts`: three lists for the whole organization
//! instead of three per repository), shared by the Repository and HealingPolicy controllers through the context.
//! A snapshot is taken again once it is older than the reader's interval and the operator's health recheck interval
//! (`monitoring.health_check_interval`), by one reconcile while the others of the same Organization wait for it;
//! the transport's ETag cache makes an unchanged list cost no budget.
//!
//! GitHub answers these lists only to an owner or security manager of the organization. A credential it refuses
//! (403 or 404) is remembered for the Organization for an hour, or until the Organization uses another client (new
//! credentials), and meanwhile every repository reads its own three lists, as without this module.
//!
//! What the lists cannot say: a repository absent from a product's list has no open alert of it, or has the product
//! off; GitHub does not say which. Reads that are organization-wide or paid for already tell it ([`Enablement`]):
//! Dependabot alerts from `hasVulnerabilityAlertsEnabled` in the runs query, secret scanning from the repository
//! listing's `security_and_analysis` (discovery hands it over, [`OrgAlerts::note_listing`]), code scanning from the
//! code security configurations with default setup, read with the lists. So the snapshot answers for a product
//! ([`OrgSnapshot::answer`]):
//! - listed: on, with these alerts;
//! - absent, and those reads say on or off (for code scanning only "on": attached to a default-setup configuration):
//!   on without open alerts, or off;
//! - absent from a repository that was read before: as its last security status says, at no cost;
//! - absent from a repository never read: code scanning is unknown (advanced setup without open alerts cannot be
//!   told from off but by the repository's own list, which is not read for it); the others, and code scanning when
//!   the configurations were refused, are read from the repository's own list once, which tells "off" (GitHub's
//!   refusal) from "on" (an empty list).
//!
//! So the alert counts are always exact, and `disabledFeatures` follows Dependabot alerts and secret scanning when
//! the runs query and the listing say; code scanning switched on or off later while it has no open alert and no
//! default setup keeps its former state until it has an alert (it is then listed, so on), or the Repository object
//! is recreated. Healing needs only the open Dependabot alerts, for which "absent" means none either way.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::controller::error::Error;
use crate::controller::memo::Memo;
use crate::crd::repository::SecurityStatus;
use crate::crd::Organization;
use crate::github::{self, AlertSource, Alerts, GitHub, RepoAlert, RepoRef, SecurityAlert};

/// The three products.
const SOURCES: [AlertSource; 3] = [AlertSource::CodeScanning, AlertSource::Dependabot, AlertSource::SecretScanning];

/// How long a refusal of the organization's lists is believed before they are tried again.
const REFUSAL_MEMORY: Duration = Duration::from_secs(3600);

/// The snapshots of every Organization, by `namespace/name/login`.
#[derive(Default)]
pub struct OrgAlerts {
    by_organization: Memo<String, Arc<tokio::sync::Mutex<Option<Taken>>>>,
    /// Whether secret scanning is on, by repository name in lower case, as each Organization's last listing said.
    listings: Memo<String, Arc<HashMap<String, bool>>>,
}

/// One Organization's last look at its alert lists.
struct Taken {
    at: Timestamp,
    /// The client that looked: another one (new credentials) looks again.
    github: Arc<dyn GitHub>,
    /// The alerts, or `None` when GitHub refused the credential.
    snapshot: Option<Arc<OrgSnapshot>>,
}

impl OrgAlerts {
    /// The snapshot of `org`'s alerts, taken at most `max_age` ago, or now by this caller while the others wait;
    /// `None` while `github` may not read them.
    pub async fn snapshot(
        &self,
        org: &Organization,
        github: &Arc<dyn GitHub>,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<Option<Arc<OrgSnapshot>>, Error> {
        let login = &org.spec.login;
        let slot = self.by_organization.lock().entry(organization_key(org)).or_default().clone();
        let mut taken = slot.lock().await;
        if let Some(last) = taken.as_ref().filter(|last| Arc::ptr_eq(&last.github, github)) {
            let age = now.duration_since(last.at).unsigned_abs();
            if is_current(age, last.snapshot.is_some(), max_age) {
                return Ok(last.snapshot.clone());
            }
        }
        let snapshot = read(github.as_ref(), login).await?.map(Arc::new);
        *taken = Some(Taken { at: now, github: github.clone(), snapshot: snapshot.clone() });
        Ok(snapshot)
    }

    /// Keeps what `org`'s repository listing says of secret scanning, by repository name, in place of what an
    /// earlier listing said.
    pub fn note_listing<'a>(&self, org: &Organization, said: impl IntoIterator<Item = (&'a str, bool)>) {
        let said = said.into_iter().map(|(name, on)| (name.to_ascii_lowercase(), on)).collect();
        self.listings.insert(organization_key(org), Arc::new(said));
    }

    /// Whether secret scanning is on for `org`'s repository `name`, as its last listing said.
    pub fn secret_scanning(&self, org: &Organization, name: &str) -> Option<bool> {
        self.listings.get(&organization_key(org))?.get(&name.to_ascii_lowercase()).copied()
    }
}

/// `namespace/name/login` of an Organization.
fn organization_key(org: &Organization) -> String {
    let login = org.spec.login.to_ascii_lowercase();
    format!("{}/{}/{login}", org.namespace().unwrap_or_default(), org.name_any())
}

/// Whether a look `age` old still stands: a snapshot for `max_age`, a refusal for [`REFUSAL_MEMORY`].
fn is_current(age: Duration, listed: bool, max_age: Duration) -> bool {
    age < if listed { max_age } else { REFUSAL_MEMORY }
}

/// Reads the three lists and the repositories with code scanning's default setup; `None` when GitHub refuses the
/// credential any of the lists. A refusal of the configurations alone leaves code scanning to the lists and the
/// repositories' own.
async fn read(github: &dyn GitHub, login: &str) -> Result<Option<OrgSnapshot>, Error> {
    let refused = |error: &github::Error| {
        matches!(error, github::Error::NotFound { .. } | github::Error::Permission { status: 403, .. })
    };
    let mut lists = Vec::with_capacity(SOURCES.len());
    for source in SOURCES {
        match github.org_open_alerts(login, source).await {
            Ok(alerts) => lists.push((source, alerts)),
            Err(error) if refused(&error) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
    }
    let snapshot = OrgSnapshot::of(lists);
    match github.code_scanning_default_setup_repositories(login).await {
        Ok(names) => Ok(Some(snapshot.with_default_setup(login, names))),
        Err(error) if refused(&error) => Ok(Some(snapshot)),
        Err(error) => Err(error.into()),
    }
}

/// Whether a repository's products are on, as reads other than the alert lists said; `None` where they did not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enablement {
    /// Dependabot alerts: the runs query's `hasVulnerabilityAlertsEnabled`.
    pub dependabot: Option<bool>,
    /// Secret scanning: the repository listing's `security_and_analysis`.
    pub secret_scanning: Option<bool>,
}

/// What the organization's reads tell of one product of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Its open alerts, or that it is off.
    Known(Alerts),
    /// On without open alerts, or off: only the repository's own list could tell, and it is not read for this.
    Unknown,
}

/// The open alerts of an organization's repositories, by product and repository, and its repositories with code
/// scanning's default setup.
#[derive(Debug, Default)]
pub struct OrgSnapshot {
    /// Keyed by product and `owner/name` in lower case (GitHub's names are case-insensitive).
    alerts: HashMap<(AlertSource, String), Vec<SecurityAlert>>,
    /// `owner/name` in lower case of the repositories attached to a configuration with default setup; `None` when
    /// GitHub refused the configurations.
    default_setup: Option<HashSet<String>>,
}

impl OrgSnapshot {
    /// Groups the lists of each product by repository.
    pub fn of(lists: impl IntoIterator<Item = (AlertSource, Vec<RepoAlert>)>) -> Self {
        let mut alerts: HashMap<(AlertSource, String), Vec<SecurityAlert>> = HashMap::new();
        for (source, list) in lists {
            for RepoAlert { repo, alert } in list {
                alerts.entry((source, key_of(&repo))).or_default().push(alert);
            }
        }
        OrgSnapshot { alerts, default_setup: None }
    }

    /// The snapshot, knowing that `org`'s repositories `names` have code scanning's default setup.
    pub fn with_default_setup(self, org: &str, names: impl IntoIterator<Item = String>) -> Self {
        let attached = names.into_iter().map(|name| key_of(&RepoRef::new(org, name))).collect();
        OrgSnapshot { default_setup: Some(attached), ..self }
    }

    /// What the snapshot knows of `repo`'s `source` (see the module's documentation), with what `enabled` says and
    /// `last`, the repository's last security status; `None` when only the repository's own list can tell.
    pub fn answer(
        &self,
        repo: &RepoRef,
        source: AlertSource,
        last: Option<&SecurityStatus>,
        enabled: Enablement,
    ) -> Option<Answer> {
        let key = key_of(repo);
        if let Some(alerts) = self.alerts.get(&(source, key.clone())) {
            return Some(Answer::Known(Alerts::Open(alerts.clone())));
        }
        let said = match source {
            AlertSource::Dependabot => enabled.dependabot,
            AlertSource::SecretScanning => enabled.secret_scanning,
            // Not attached says nothing: code scanning may be on by advanced setup.
            AlertSource::CodeScanning => self.default_setup.as_ref().filter(|set| set.contains(&key)).map(|_| true),
        };
        let off = |reason: &str| Some(Answer::Known(Alerts::Disabled { reason: reason.to_owned() }));
        match (said, last) {
            (Some(true), _) => Some(Answer::Known(Alerts::Open(Vec::new()))),
            (Some(false), _) => off("off as the organization's reads say, and absent from its list"),
            (None, Some(last)) if last.disabled_features.iter().any(|f| f == feature(source)) => {
                off("off when last read, and absent from the organization's list")
            }
            (None, Some(last)) if !last.unknown_features.iter().any(|f| f == feature(source)) => {
                Some(Answer::Known(Alerts::Open(Vec::new())))
            }
            // Never known: the repository's own list tells, except for code scanning once the configurations
            // were read.
            (None, _) => {
                let unknown = source == AlertSource::CodeScanning && self.default_setup.is_some();
                unknown.then_some(Answer::Unknown)
            }
        }
    }

    /// `repo`'s open Dependabot alerts (none when it is absent: off or without alerts, the same to a policy).
    pub fn dependabot(&self, repo: &RepoRef) -> Vec<SecurityAlert> {
        self.alerts.get(&(AlertSource::Dependabot, key_of(repo))).cloned().unwrap_or_default()
    }
}

fn key_of(repo: &RepoRef) -> String {
    format!("{}/{}", repo.owner, repo.name).to_ascii_lowercase()
}

/// The product's name in `SecurityStatus::disabled_features`.
fn feature(source: AlertSource) -> &'static str {
    match source {
        AlertSource::CodeScanning => "codeScanning",
        AlertSource::Dependabot => "dependabot",
        AlertSource::SecretScanning => "secretScanning",
    }
}

#[cfg(test)]
mod tests {
    use super::super::observe::security_read;
    use super::*;

    fn alert(number: u64, severity: &str) -> SecurityAlert {
        SecurityAlert { number, severity: Some(severity.into()), html_url: None, dependency: None }
    }

    fn of(repo: &str, alert: SecurityAlert) -> RepoAlert {
        RepoAlert { repo: RepoRef::new("acme", repo), alert }
    }

    const NOTHING_SAID: Enablement = Enablement { dependabot: None, secret_scanning: None };

    fn open(alerts: Vec<SecurityAlert>) -> Answer {
        Answer::Known(Alerts::Open(alerts))
    }

    /// `api` has a Dependabot and a code-scanning alert, `web` two secret-scanning alerts.
    fn snapshot() -> OrgSnapshot {
        OrgSnapshot::of([
            (AlertSource::CodeScanning, vec![of("api", alert(1, "high"))]),
            (AlertSource::Dependabot, vec![of("api", alert(7, "critical"))]),
            (AlertSource::SecretScanning, vec![of("web", alert(1, "")), of("Web", alert(2, ""))]),
        ])
    }

    #[test]
    fn listed_alerts_go_to_their_repository_whatever_the_case_of_its_name() {
        let snapshot = snapshot();
        let web = RepoRef::new("ACME", "web");
        let Some(Answer::Known(Alerts::Open(secrets))) =
            snapshot.answer(&web, AlertSource::SecretScanning, None, NOTHING_SAID)
        else {
            panic!("listed")
        };
        assert_eq!(secrets.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2]);
        let api = RepoRef::new("acme", "api");
        assert_eq!(
            snapshot.answer(&api, AlertSource::Dependabot, None, NOTHING_SAID),
            Some(open(vec![alert(7, "critical")]))
        );
        assert_eq!(snapshot.dependabot(&api), [alert(7, "critical")]);
        assert_eq!(snapshot.dependabot(&web), []);
    }

    #[test]
    fn an_organizations_alerts_become_each_repositorys_security_as_its_own_lists_would() {
        let snapshot = snapshot();
        let on = SecurityStatus::default();
        let read_of = |repo: &RepoRef| {
            let answer = |source| snapshot.answer(repo, source, Some(&on), NOTHING_SAID).expect("known");
            let dependabot = answer(AlertSource::Dependabot);
            security_read(&answer(AlertSource::CodeScanning), dependabot, &answer(AlertSource::SecretScanning))
        };
        let api = read_of(&RepoRef::new("acme", "api"));
        let own_lists =
            security_read(&open(vec![alert(1, "high")]), open(vec![alert(7, "critical")]), &open(Vec::new()));
        assert_eq!(api.status, own_lists.status);
        assert_eq!(
            (api.status.code_scanning.high, api.status.dependabot.critical, api.status.secret_scanning),
            (1, 1, 0)
        );
        assert_eq!(api.dependabot, [alert(7, "critical")]);
        let web = read_of(&RepoRef::new("acme", "web"));
        assert_eq!((web.status.secret_scanning, web.status.code_scanning.high, web.dependabot.len()), (2, 0, 0));
        assert!(web.status.disabled_features.is_empty());
    }

    #[test]
    fn an_absent_product_keeps_the_state_of_the_last_read_and_is_unknown_before_any() {
        let snapshot = snapshot();
        let web = RepoRef::new("acme", "web");
        let never_read = snapshot.answer(&web, AlertSource::Dependabot, None, NOTHING_SAID);
        assert_eq!(never_read, None, "never read: its own list tells");
        let off = SecurityStatus { disabled_features: vec!["dependabot".into()], ..SecurityStatus::default() };
        let answer = snapshot.answer(&web, AlertSource::Dependabot, Some(&off), NOTHING_SAID);
        assert!(matches!(answer, Some(Answer::Known(Alerts::Disabled { .. }))), "last seen off: still off, {answer:?}");
        let read = security_read(&open(Vec::new()), answer.expect("known"), &open(Vec::new()));
        assert_eq!(read.status.disabled_features, ["dependabot"]);
        assert_eq!(
            snapshot.answer(&web, AlertSource::CodeScanning, Some(&off), NOTHING_SAID),
            Some(open(Vec::new())),
            "last seen on: on, without open alerts"
        );
    }

    #[test]
    fn the_runs_query_and_the_listing_say_whether_an_absent_product_is_on_before_the_last_read() {
        let snapshot = snapshot();
        let web = RepoRef::new("acme", "web");
        let off = SecurityStatus { disabled_features: vec!["dependabot".into()], ..SecurityStatus::default() };
        let on = Enablement { dependabot: Some(true), secret_scanning: Some(true) };
        let answer = |source, last, enabled| snapshot.answer(&web, source, last, enabled);
        assert_eq!(answer(AlertSource::Dependabot, Some(&off), on), Some(open(Vec::new())), "switched on since");
        assert_eq!(answer(AlertSource::Dependabot, None, on), Some(open(Vec::new())), "no own list read");
        let said_off = Enablement { dependabot: Some(false), secret_scanning: Some(false) };
        for source in [AlertSource::Dependabot, AlertSource::SecretScanning] {
            let answer = snapshot.answer(&RepoRef::new("acme", "docs"), source, None, said_off);
            assert!(matches!(answer, Some(Answer::Known(Alerts::Disabled { .. }))), "{source:?}: {answer:?}");
        }
        let listed = answer(AlertSource::SecretScanning, None, said_off);
        assert!(matches!(listed, Some(Answer::Known(Alerts::Open(ref alerts))) if alerts.len() == 2), "{listed:?}");
    }

    #[test]
    fn code_scanning_is_on_by_default_setup_as_last_read_or_else_unknown_without_reading_the_repository() {
        let configured = snapshot().with_default_setup("acme", ["Web".to_owned()]);
        let answer =
            |name, last| configured.answer(&RepoRef::new("acme", name), AlertSource::CodeScanning, last, NOTHING_SAID);
        let off = SecurityStatus { disabled_features: vec!["codeScanning".into()], ..SecurityStatus::default() };
        assert_eq!(answer("web", Some(&off)), Some(open(Vec::new())), "attached: on, whatever the last read said");
        assert_eq!(answer("api", None), Some(open(vec![alert(1, "high")])), "listed");
        assert_eq!(answer("docs", None), Some(Answer::Unknown), "neither listed nor attached: unknown, not read");
        let last_off = answer("docs", Some(&off));
        assert!(matches!(last_off, Some(Answer::Known(Alerts::Disabled { .. }))), "last known off: {last_off:?}");
        let unknown = SecurityStatus { unknown_features: vec!["codeScanning".into()], ..SecurityStatus::default() };
        assert_eq!(answer("docs", Some(&unknown)), Some(Answer::Unknown), "still unknown");
        let read = security_read(&Answer::Unknown, open(Vec::new()), &open(Vec::new()));
        assert_eq!(read.status.unknown_features, ["codeScanning"]);
        assert!(read.status.disabled_features.is_empty());
        // GitHub refused the configurations: code scanning as before them.
        let refused = snapshot();
        let docs = RepoRef::new("acme", "docs");
        assert_eq!(refused.answer(&docs, AlertSource::CodeScanning, None, NOTHING_SAID), None, "own list, as before");
        assert_eq!(
            refused.answer(&docs, AlertSource::CodeScanning, Some(&unknown), NOTHING_SAID),
            None,
            "configurations refused since: own list"
        );
    }

    #[test]
    fn a_listing_replaces_the_last_one_of_its_organization() {
        let org = |name: &str| -> Organization {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization",
                "metadata": { "name": name, "namespace": "ns" },
                "spec": { "login": "Acme", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
            }))
            .expect("an Organization")
        };
        let (acme, other) = (org("acme"), org("other"));
        let alerts = OrgAlerts::default();
        alerts.note_listing(&acme, [("Web", true), ("docs", false)]);
        let said = |org, name| alerts.secret_scanning(org, name);
        assert_eq!((said(&acme, "web"), said(&acme, "DOCS"), said(&acme, "api")), (Some(true), Some(false), None));
        assert_eq!(said(&other, "web"), None, "another Organization object");
        alerts.note_listing(&acme, [("docs", true)]);
        assert_eq!((said(&acme, "web"), said(&acme, "docs")), (None, Some(true)), "replaced wholesale");
    }

    #[test]
    fn a_snapshot_stands_for_the_readers_interval_and_a_refusal_for_an_hour() {
        let minute = Duration::from_secs(60);
        assert!(is_current(Duration::from_secs(59), true, minute));
        assert!(!is_current(minute, true, minute));
        assert!(is_current(Duration::from_secs(3599), false, minute));
        assert!(!is_current(REFUSAL_MEMORY, false, minute));
    }
}
