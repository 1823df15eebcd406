//! One GitHub client per credential, shared by every controller and every object that uses that credential, so
//! that they share one ETag cache, one rate-limit budget and one write pacer.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};

use super::error::Error;
use crate::crd::organization::CredentialType;
use crate::crd::Organization;
use crate::github::spending::BudgetOutlook;
use crate::github::{self, Credentials, GitHub, GitHubConfig, OctocrabGitHub, RequestObserver};

/// Builds a client for a configuration; the default builds an [`OctocrabGitHub`].
pub type Connect = dyn Fn(GitHubConfig) -> github::Result<Arc<dyn GitHub>> + Send + Sync;

/// The clients in use, keyed by a fingerprint of the API URL and the credential.
pub struct GitHubClients {
    connect: Box<Connect>,
    by_fingerprint: Mutex<HashMap<Fingerprint, Arc<dyn GitHub>>>,
    /// Which fingerprint each Organization (`namespace/name`) used last, so a rotated credential's old client is
    /// dropped once no Organization uses it.
    by_organization: Mutex<HashMap<String, Fingerprint>>,
    /// When each Organization's credentials were last read, and from what (API URL, Secret, credential type).
    recent_reads: Mutex<HashMap<String, RecentRead>>,
}

/// How long the credentials read for an Organization serve [`GitHubClients::for_organization_recent`]: a rotated
/// Secret reaches those callers within this time (the Organization controller reads it on every reconcile).
const CREDENTIALS_REUSED_FOR: Duration = Duration::from_secs(60);

/// One read of an Organization's credentials.
struct RecentRead {
    source: (String, String, CredentialType),
    at: Instant,
    fingerprint: Fingerprint,
}

/// A SHA-256 over the API URL and the credential's material; never the material itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Fingerprint([u8; 32]);

impl fmt::Debug for GitHubClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients = self.by_fingerprint.lock().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("GitHubClients").field("clients", &clients).finish_non_exhaustive()
    }
}

impl Default for GitHubClients {
    fn default() -> Self {
        GitHubClients::new(|config| Ok(Arc::new(OctocrabGitHub::new(config)?) as Arc<dyn GitHub>))
    }
}

impl GitHubClients {
    /// A registry that builds clients with `connect` (tests tune the transport policy this way).
    pub fn new(connect: impl Fn(GitHubConfig) -> github::Result<Arc<dyn GitHub>> + Send + Sync + 'static) -> Self {
        GitHubClients {
            connect: Box::new(connect),
            by_fingerprint: Mutex::default(),
            by_organization: Mutex::default(),
            recent_reads: Mutex::default(),
        }
    }

    /// A registry of [`OctocrabGitHub`] clients that report every exchange and budget to `observer`, and let
    /// background work spend `background_share_percent` of each budget.
    pub fn observed_by(observer: Arc<dyn RequestObserver>, background_share_percent: u8) -> Self {
        GitHubClients::new(move |mut config| {
            config.observer = Some(observer.clone());
            config.policy.background_share_percent = background_share_percent;
            Ok(Arc::new(OctocrabGitHub::new(config)?) as Arc<dyn GitHub>)
        })
    }

    /// The client for an Organization: reads its credentials Secret and returns the shared client for that
    /// credential and API URL, building it on first use. A Secret that is missing or incomplete is an error the
    /// caller reports; the Organization controller's prerequisites check normally catches it first.
    pub async fn for_organization(&self, client: &Client, org: &Organization) -> Result<Arc<dyn GitHub>, Error> {
        let namespace = org.namespace().unwrap_or_default();
        let secret_name = &org.spec.credentials.secret_ref.name;
        let secret = Api::<Secret>::namespaced(client.clone(), &namespace).get_opt(secret_name).await?;
        let credentials = secret
            .as_ref()
            .and_then(|secret| credentials_from(org.spec.credentials.r#type, secret))
            .ok_or_else(|| Error::Credentials { namespace: namespace.clone(), secret: secret_name.clone() })?;
        let fingerprint = fingerprint(&org.spec.api_url, &credentials);
        let github = {
            let mut clients = self.by_fingerprint.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match clients.get(&fingerprint) {
                Some(github) => github.clone(),
                None => {
                    let github = (self.connect)(GitHubConfig::new(&org.spec.api_url, credentials))
                        .map_err(|source| Error::GitHub { source })?;
                    clients.insert(fingerprint, github.clone());
                    github
                }
            }
        };
        let key = format!("{namespace}/{}", org.name_any());
        let read = RecentRead { source: source_of(org), at: Instant::now(), fingerprint };
        self.recent_reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key.clone(), read);
        self.remember(key, fingerprint);
        Ok(github)
    }

    /// The client for an Organization as [`Self::for_organization`] gives it, without reading its Secret again
    /// when it was read in the last minute from the same Secret: how reconciles that run on every webhook delivery
    /// and health read (Repositories, BuildPlans, HealingPolicies) avoid a Secret read each.
    pub async fn for_organization_recent(&self, client: &Client, org: &Organization) -> Result<Arc<dyn GitHub>, Error> {
        let key = format!("{}/{}", org.namespace().unwrap_or_default(), org.name_any());
        let fingerprint = {
            let reads = self.recent_reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            reads
                .get(&key)
                .filter(|read| read.source == source_of(org) && read.at.elapsed() < CREDENTIALS_REUSED_FOR)
                .map(|read| read.fingerprint)
        };
        let reused = fingerprint.and_then(|fingerprint| {
            let clients = self.by_fingerprint.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            clients.get(&fingerprint).cloned()
        });
        match reused {
            Some(github) => Ok(github),
            None => self.for_organization(client, org).await,
        }
    }

    /// The budget outlook of the client the Organization `namespace/name` used last; empty before its first use.
    /// Reads no Secret: background intervals are decided on it before any request.
    pub fn budget_outlook_of(&self, namespace: &str, name: &str) -> Vec<BudgetOutlook> {
        let by_organization = self.by_organization.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(fingerprint) = by_organization.get(&format!("{namespace}/{name}")).copied() else {
            return Vec::new();
        };
        drop(by_organization);
        let clients = self.by_fingerprint.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clients.get(&fingerprint).map(|github| github.budget_outlook()).unwrap_or_default()
    }

    /// Records which client an Organization uses and drops clients no Organization uses any more.
    fn remember(&self, organization: String, fingerprint: Fingerprint) {
        let mut by_organization = self.by_organization.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if by_organization.insert(organization, fingerprint) == Some(fingerprint) {
            return;
        }
        let in_use: Vec<Fingerprint> = by_organization.values().copied().collect();
        let mut clients = self.by_fingerprint.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clients.retain(|fingerprint, _| in_use.contains(fingerprint));
    }

    /// How many clients are held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.by_fingerprint.lock().map(|clients| clients.len()).unwrap_or_default()
    }

    /// Whether no client is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where an Organization's credentials come from: a change of any of these is a change of client.
fn source_of(org: &Organization) -> (String, String, CredentialType) {
    (org.spec.api_url.clone(), org.spec.credentials.secret_ref.name.clone(), org.spec.credentials.r#type)
}

/// The credential a Secret holds for a credential type, or `None` when a key is missing or malformed.
fn credentials_from(kind: CredentialType, secret: &Secret) -> Option<Credentials> {
    let value = |key: &str| -> Option<String> {
        let from_data = secret.data.as_ref().and_then(|data| data.get(key)).map(|v| v.0.clone());
        let from_string_data =
            secret.string_data.as_ref().and_then(|data| data.get(key)).map(|v| v.clone().into_bytes());
        let bytes = from_data.or(from_string_data)?;
        let text = String::from_utf8(bytes).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    };
    match kind {
        CredentialType::Token => Some(Credentials::Token(value("token")?)),
        CredentialType::App => Some(Credentials::App {
            app_id: value("appId")?.parse().ok()?,
            installation_id: value("installationId")?.parse().ok()?,
            private_key_pem: value("privateKey")?,
        }),
    }
}

fn fingerprint(api_url: &str, credentials: &Credentials) -> Fingerprint {
    let mut hasher = Sha256::new();
    hasher.update(api_url.trim_end_matches('/').as_bytes());
    hasher.update([0]);
    match credentials {
        Credentials::Token(token) => {
            hasher.update(b"token\0");
            hasher.update(token.as_bytes());
        }
        Credentials::App { app_id, installation_id, private_key_pem } => {
            hasher.update(format!("app\0{app_id}\0{installation_id}\0").as_bytes());
            hasher.update(private_key_pem.as_bytes());
        }
    }
    Fingerprint(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let data: BTreeMap<String, ByteString> =
            pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect();
        Secret { data: Some(data), ..Secret::default() }
    }

    #[test]
    fn a_token_secret_gives_token_credentials_trimmed() {
        let credentials = credentials_from(CredentialType::Token, &secret(&[("token", "ghs_abc\n")]));
        assert!(matches!(credentials, Some(Credentials::Token(t)) if t == "ghs_abc"));
    }

    #[test]
    fn an_app_secret_needs_numeric_ids_and_a_key() {
        let complete = secret(&[("appId", "12"), ("installationId", "34"), ("privateKey", "-----BEGIN")]);
        let Some(Credentials::App { app_id, installation_id, .. }) = credentials_from(CredentialType::App, &complete)
        else {
            panic!("complete App credentials are read")
        };
        assert_eq!((app_id, installation_id), (12, 34));
        let bad_id = secret(&[("appId", "twelve"), ("installationId", "34"), ("privateKey", "k")]);
        assert!(credentials_from(CredentialType::App, &bad_id).is_none());
        assert!(credentials_from(CredentialType::App, &secret(&[("appId", "12")])).is_none());
        assert!(credentials_from(CredentialType::Token, &secret(&[("token", "  ")])).is_none());
    }

    #[test]
    fn the_fingerprint_changes_with_the_url_and_the_material_only() {
        let token = |t: &str| Credentials::Token(t.into());
        let base = fingerprint("https://api.github.com", &token("a"));
        assert!(base == fingerprint("https://api.github.com/", &token("a")));
        assert!(base != fingerprint("https://ghe.example/api/v3", &token("a")));
        assert!(base != fingerprint("https://api.github.com", &token("b")));
        let app = |key: &str| Credentials::App { app_id: 1, installation_id: 2, private_key_pem: key.into() };
        assert!(fingerprint("u", &app("k1")) != fingerprint("u", &app("k2")));
    }

    #[tokio::test]
    async fn a_rotated_credential_drops_the_client_nobody_uses() {
        let clients = GitHubClients::default();
        let one = fingerprint("u", &Credentials::Token("one".into()));
        let two = fingerprint("u", &Credentials::Token("two".into()));
        let connect = |clients: &GitHubClients, fp| {
            let github = (clients.connect)(GitHubConfig::new("http://127.0.0.1:1", Credentials::Token("x".into())));
            clients.by_fingerprint.lock().unwrap().insert(fp, github.unwrap());
        };
        connect(&clients, one);
        clients.remember("ns/a".into(), one);
        clients.remember("ns/b".into(), one);
        connect(&clients, two);
        clients.remember("ns/a".into(), two);
        assert_eq!(clients.len(), 2, "b still uses the first credential");
        clients.remember("ns/b".into(), two);
        assert_eq!(clients.len(), 1, "nobody uses the first credential any more");
    }
}
