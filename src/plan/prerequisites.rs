//! Whether an object has what it needs before any work can start: the Secret its credentials live in, the
//! Organization it refers to. The answer becomes its `Ready` and `Stalled` conditions.

use std::collections::BTreeSet;

use super::cron::CronSchedule;
use crate::crd::build_plan::BuildPlanSpec;
use crate::crd::organization::{CredentialType, OrganizationSpec};

/// Something that keeps an object from making progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocker {
    /// Whether the object waits for something that may appear by itself, or needs a person to change something.
    pub kind: BlockerKind,
    /// CamelCase reason for the conditions and the Event.
    pub reason: &'static str,
    /// What is wrong and what to do about it.
    pub message: String,
}

/// How a blocker is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockerKind {
    /// A referenced object does not exist (yet): look again later.
    Waiting,
    /// The spec or the data it points to is wrong: nothing changes until someone edits it.
    Stalled,
}

/// Keys of the credentials Secret each credential type needs.
pub fn required_secret_keys(credential: CredentialType) -> &'static [&'static str] {
    match credential {
        CredentialType::App => &["appId", "installationId", "privateKey"],
        CredentialType::Token => &["token"],
    }
}

/// What the Secret named by an Organization's credentials holds, as far as the check needs to know. Values are
/// never carried here: a check must not be able to leak them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSecret {
    /// Keys present with a non-empty value.
    pub keys: BTreeSet<String>,
    /// Keys whose value is not what the key needs (a non-numeric id, a private key that is not PEM).
    pub malformed: BTreeSet<String>,
}

/// Checks an Organization's credentials Secret. `secret` is `None` when the Secret does not exist.
pub fn organization(spec: &OrganizationSpec, secret: Option<&ObservedSecret>) -> Result<(), Blocker> {
    let secret_name = &spec.credentials.secret_ref.name;
    let Some(secret) = secret else {
        return Err(Blocker {
            kind: BlockerKind::Waiting,
            reason: "CredentialsNotFound",
            message: format!("Secret {secret_name:?} named by spec.credentials.secretRef does not exist"),
        });
    };
    let missing: Vec<&str> = required_secret_keys(spec.credentials.r#type)
        .iter()
        .copied()
        .filter(|key| !secret.keys.contains(*key))
        .collect();
    if !missing.is_empty() {
        return Err(Blocker {
            kind: BlockerKind::Stalled,
            reason: "CredentialsIncomplete",
            message: format!(
                "Secret {secret_name:?} lacks {} needed for spec.credentials.type {:?}",
                quoted_list(&missing),
                spec.credentials.r#type
            ),
        });
    }
    if !secret.malformed.is_empty() {
        let malformed: Vec<&str> = secret.malformed.iter().map(String::as_str).collect();
        return Err(Blocker {
            kind: BlockerKind::Stalled,
            reason: "CredentialsMalformed",
            message: format!("Secret {secret_name:?} has malformed {}", quoted_list(&malformed)),
        });
    }
    Ok(())
}

/// Checks that the Organization an object refers to exists. `found` is whether it does.
pub fn organization_ref(name: &str, found: bool) -> Result<(), Blocker> {
    if found {
        Ok(())
    } else {
        Err(Blocker {
            kind: BlockerKind::Waiting,
            reason: "OrganizationNotFound",
            message: format!("Organization {name:?} named by spec.organizationRef does not exist in this namespace"),
        })
    }
}

/// Checks what the API server's schema cannot: a BuildPlan's `schedule` must be a cron expression.
pub fn build_plan_spec(spec: &BuildPlanSpec) -> Result<(), Blocker> {
    match spec.schedule.as_deref().map(str::parse::<CronSchedule>) {
        Some(Err(error)) => Err(Blocker {
            kind: BlockerKind::Stalled,
            reason: "InvalidSchedule",
            message: format!("spec.schedule is not a cron expression: {error}"),
        }),
        _ => Ok(()),
    }
}

/// Judges one key of a credentials Secret by its value, without keeping the value.
pub fn key_is_well_formed(key: &str, value: &[u8]) -> bool {
    match key {
        "appId" | "installationId" => std::str::from_utf8(value).is_ok_and(|text| text.trim().parse::<u64>().is_ok()),
        "privateKey" => std::str::from_utf8(value)
            .is_ok_and(|text| text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----")),
        _ => true,
    }
}

fn quoted_list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    let noun = if keys.len() == 1 { "key" } else { "keys" };
    format!("{noun} {}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::organization::GitHubCredentials;
    use crate::crd::reference::LocalObjectReference;

    fn spec(credential: CredentialType) -> OrganizationSpec {
        serde_json::from_value(serde_json::json!({
            "login": "acme",
            "credentials": { "type": credential, "secretRef": { "name": "gh" } },
        }))
        .unwrap()
    }

    fn secret(keys: &[&str], malformed: &[&str]) -> ObservedSecret {
        ObservedSecret {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            malformed: malformed.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn missing_secret_waits() {
        let blocker = organization(&spec(CredentialType::Token), None).unwrap_err();
        assert_eq!(blocker.kind, BlockerKind::Waiting);
        assert_eq!(blocker.reason, "CredentialsNotFound");
        assert!(blocker.message.contains("\"gh\""), "{}", blocker.message);
    }

    #[test]
    fn missing_keys_stall_and_are_named() {
        let blocker = organization(&spec(CredentialType::App), Some(&secret(&["appId"], &[]))).unwrap_err();
        assert_eq!(blocker.kind, BlockerKind::Stalled);
        assert_eq!(blocker.reason, "CredentialsIncomplete");
        assert!(blocker.message.contains("keys \"installationId\", \"privateKey\""), "{}", blocker.message);
    }

    #[test]
    fn malformed_keys_stall() {
        let keys = ["appId", "installationId", "privateKey"];
        let blocker = organization(&spec(CredentialType::App), Some(&secret(&keys, &["appId"]))).unwrap_err();
        assert_eq!(blocker.reason, "CredentialsMalformed");
        assert!(blocker.message.contains("key \"appId\""), "{}", blocker.message);
    }

    #[test]
    fn complete_credentials_pass() {
        assert_eq!(organization(&spec(CredentialType::Token), Some(&secret(&["token"], &[]))), Ok(()));
        let keys = ["appId", "installationId", "privateKey", "webhookSecret"];
        assert_eq!(organization(&spec(CredentialType::App), Some(&secret(&keys, &[]))), Ok(()));
    }

    #[test]
    fn judges_key_values() {
        assert!(key_is_well_formed("appId", b" 123456\n"));
        assert!(!key_is_well_formed("appId", b"abc"));
        assert!(!key_is_well_formed("installationId", b"-5"));
        assert!(key_is_well_formed(
            "privateKey",
            b"-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n"
        ));
        assert!(!key_is_well_formed("privateKey", b"not a key"));
        assert!(key_is_well_formed("token", b"anything"));
    }

    #[test]
    fn schedules_must_parse() {
        let plan = |schedule: Option<&str>| -> BuildPlanSpec {
            serde_json::from_value(serde_json::json!({ "organizationRef": { "name": "acme" }, "schedule": schedule }))
                .unwrap()
        };
        assert_eq!(build_plan_spec(&plan(None)), Ok(()));
        assert_eq!(build_plan_spec(&plan(Some("0 2 * * *"))), Ok(()));
        let blocker = build_plan_spec(&plan(Some("0 25 * * *"))).unwrap_err();
        assert_eq!((blocker.kind, blocker.reason), (BlockerKind::Stalled, "InvalidSchedule"));
        assert!(
            blocker.message.starts_with("spec.schedule is not a cron expression: hour field"),
            "{}",
            blocker.message
        );
    }

    #[test]
    fn organization_reference() {
        assert_eq!(organization_ref("acme", true), Ok(()));
        let blocker = organization_ref("acme", false).unwrap_err();
        assert_eq!(blocker.reason, "OrganizationNotFound");
        assert_eq!(blocker.kind, BlockerKind::Waiting);
    }

    #[test]
    fn credentials_type_is_in_the_spec() {
        let s = spec(CredentialType::App);
        assert_eq!(
            s.credentials,
            GitHubCredentials { r#type: CredentialType::App, secret_ref: LocalObjectReference { name: "gh".into() } }
        );
    }
}
