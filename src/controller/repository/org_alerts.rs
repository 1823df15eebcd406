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
//! off; GitHub does not say which (and the repository listing's `security_and_analysis` covers neither Dependabot
//! alerts nor code scanning). So the snapshot answers for a product ([`OrgSnapshot::answer`]):
//! - listed: on, with these alerts;
//! - absent from a repository that was read before: as its last security status says (on without open alerts, or
//!   off), at no cost;
//! - absent from a repository never read: unknown, and read from the repository's own list once. That list tells
//!   "off" (GitHub's refusal) from "on" (an empty list).
//!
//! So the alert counts are always exact, and `disabledFeatures` is exact as first read; a product switched on or off
//! later while it has no open alert keeps its former state there until it has an alert (it is then listed, so on),
//! or the Repository object is recreated (its status then has no security). Healing needs only the open Dependabot
//! alerts, for which "absent" means none either way.

use std::collections::HashMap;
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
        let key = format!("{}/{}/{}", org.namespace().unwrap_or_default(), org.name_any(), login.to_ascii_lowercase());
        let slot = self.by_organization.lock().entry(key).or_default().clone();
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
}

/// Whether a look `age` old still stands: a snapshot for `max_age`, a refusal for [`REFUSAL_MEMORY`].
fn is_current(age: Duration, listed: bool, max_age: Duration) -> bool {
    age < if listed { max_age } else { REFUSAL_MEMORY }
}

/// Reads the three lists; `None` when GitHub refuses the credential any of them.
async fn read(github: &dyn GitHub, login: &str) -> Result<Option<OrgSnapshot>, Error> {
    let mut lists = Vec::with_capacity(SOURCES.len());
    for source in SOURCES {
        match github.org_open_alerts(login, source).await {
            Ok(alerts) => lists.push((source, alerts)),
            Err(github::Error::NotFound { .. } | github::Error::Permission { status: 403, .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Some(OrgSnapshot::of(lists)))
}

/// The open alerts of an organization's repositories, by product and repository.
#[derive(Debug, Default)]
pub struct OrgSnapshot {
    /// Keyed by product and `owner/name` in lower case (GitHub's names are case-insensitive).
    alerts: HashMap<(AlertSource, String), Vec<SecurityAlert>>,
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
        OrgSnapshot { alerts }
    }

    /// What the snapshot knows of `repo`'s `source` (see the module's documentation), `last` being the repository's
    /// last security status: its open alerts or that it is off, `None` when only the repository's own list can tell.
    pub fn answer(&self, repo: &RepoRef, source: AlertSource, last: Option<&SecurityStatus>) -> Option<Alerts> {
        if let Some(alerts) = self.alerts.get(&(source, key_of(repo))) {
            return Some(Alerts::Open(alerts.clone()));
        }
        let last = last?;
        Some(match last.disabled_features.iter().any(|f| f == feature(source)) {
            true => Alerts::Disabled { reason: "off when last read, and absent from the organization's list".into() },
            false => Alerts::Open(Vec::new()),
        })
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
        let Some(Alerts::Open(secrets)) = snapshot.answer(&web, AlertSource::SecretScanning, None) else {
            panic!("listed")
        };
        assert_eq!(secrets.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2]);
        let api = RepoRef::new("acme", "api");
        assert_eq!(
            snapshot.answer(&api, AlertSource::Dependabot, None),
            Some(Alerts::Open(vec![alert(7, "critical")]))
        );
        assert_eq!(snapshot.dependabot(&api), [alert(7, "critical")]);
        assert_eq!(snapshot.dependabot(&web), []);
    }

    #[test]
    fn an_organizations_alerts_become_each_repositorys_security_as_its_own_lists_would() {
        let snapshot = snapshot();
        let on = SecurityStatus::default();
        let read_of = |repo: &RepoRef| {
            let answer = |source| snapshot.answer(repo, source, Some(&on)).expect("known");
            let dependabot = answer(AlertSource::Dependabot);
            security_read(&answer(AlertSource::CodeScanning), dependabot, &answer(AlertSource::SecretScanning))
        };
        let api = read_of(&RepoRef::new("acme", "api"));
        let own_lists = security_read(
            &Alerts::Open(vec![alert(1, "high")]),
            Alerts::Open(vec![alert(7, "critical")]),
            &Alerts::Open(Vec::new()),
        );
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
        assert_eq!(snapshot.answer(&web, AlertSource::Dependabot, None), None, "never read: its own list tells");
        let off = SecurityStatus { disabled_features: vec!["dependabot".into()], ..SecurityStatus::default() };
        let answer = snapshot.answer(&web, AlertSource::Dependabot, Some(&off));
        assert!(matches!(answer, Some(Alerts::Disabled { .. })), "last seen off: still off, {answer:?}");
        let read = security_read(&Alerts::Open(Vec::new()), answer.expect("known"), &Alerts::Open(Vec::new()));
        assert_eq!(read.status.disabled_features, ["dependabot"]);
        assert_eq!(
            snapshot.answer(&web, AlertSource::CodeScanning, Some(&off)),
            Some(Alerts::Open(Vec::new())),
            "last seen on: on, without open alerts"
        );
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
