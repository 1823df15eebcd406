//! `enableSecurityFeatures`: for one selected repository, read what GitHub says of the features the policy asks for,
//! let `plan::heal::security_features::decide` choose, send each enable (or in `DryRun` only record it), and add the
//! audit entries, Events and held-back decisions to the evaluation. GitHub refusing an enable (422: the plan or the
//! settings do not allow it) is recorded as `Refused` and held back with its answer, not sent again at every
//! evaluation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;

use super::{announce, Evaluation};
use crate::controller::context::Context;
use crate::controller::memo::Memo;
use crate::controller::repository::observe as repository_reads;
use crate::crd::healing_policy::{AuditedAction, SecurityFeatures, WithheldDecision};
use crate::crd::repository::RepositoryStatus;
use crate::crd::{HealingPolicy, Repository};
use crate::github::{self, GitHub, RepoRef};
use crate::plan::heal::security_features::{self, ObservedFeatures, PlannedEnable, SecurityFeature, REFUSAL_RETRY};
use crate::plan::heal::{after, signed, Dispatch};

/// When GitHub last said every feature a policy asks for is on in a repository, by policy and repository (GitHub
/// name), with the features asked for then: a change of them voids it.
pub(super) type ConfirmedOn = Memo<(ObjectRef<HealingPolicy>, String), (SecurityFeatures, Timestamp)>;

/// Turns on, in `repo`, the security features `policy` asks for that GitHub reports off. A repository GitHub fails
/// for is reported in the evaluation's errors. GitHub's word that all are on spares the reads for a while
/// (`security_features::needs_look`).
pub(super) async fn enable_features(
    (ctx, github): (&Context, &dyn GitHub),
    policy: &HealingPolicy,
    repo: &Repository,
    confirmed: &ConfirmedOn,
    now: Timestamp,
    evaluation: &mut Evaluation,
) {
    let wanted = &policy.spec.enable_security_features;
    let status = repo.status.clone().unwrap_or_default();
    let name = repo.spec.name.0.as_str();
    let key = (ObjectRef::from_obj(policy), name.to_owned());
    let confirmed_on = confirmed.get(&key).filter(|(features, _)| features == wanted).map(|(_, at)| at);
    if !security_features::needs_look(wanted, &status, confirmed_on, now) {
        return;
    }
    // Discovery has not described the repository yet.
    let Some((repo_ref, _)) = repository_reads::github_repository(Some(&status)) else { return };
    let observed = match observe(github, &repo_ref, wanted, &status).await {
        Ok(observed) => observed,
        // Without `administration` the features can be neither checked nor turned on: said once per feature and
        // evaluation, not counted as a failure of the repository.
        Err(github::Error::Permission { status: 403, message }) => {
            for feature in SecurityFeature::ALL.into_iter().filter(|feature| feature.wanted(wanted)) {
                let reason = format!("GitHub does not let the operator check or turn it on: {message}");
                evaluation.withheld.push(withheld(name, feature, reason, None));
            }
            return;
        }
        Err(error) => {
            tracing::warn!(repository = %name, %error, "could not read the repository's security features");
            evaluation.errors.push(format!("{name}: {error}"));
            return;
        }
    };
    if security_features::all_on(wanted, &observed) {
        confirmed.insert(key, (wanted.clone(), now));
    } else {
        confirmed.remove(&key);
    }
    let history = policy.status.as_ref().map(|s| s.actions.as_slice()).unwrap_or_default();
    let decided_now = evaluation.entries.iter().filter(|entry| entry.repository == name).count();
    let plan = security_features::decide(&policy.spec, name, &observed, history, decided_now, now);
    for planned in &plan.enable {
        let entry = match planned.dispatch {
            Dispatch::RecordOnly => planned.audit(name, now),
            Dispatch::Send => send(github, &repo_ref, planned, name, now, evaluation).await,
        };
        announce(ctx, policy, repo, &entry).await;
        evaluation.entries.insert(0, entry);
    }
    for held in plan.withheld {
        evaluation.retry_at = match (evaluation.retry_at, held.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        evaluation.withheld.push(withheld(name, held.feature, held.why, held.retry_at));
    }
}

/// Sends one enable and returns its audit entry: `Enforced`, `Refused` (also held back, with GitHub's answer) or
/// `Failed`.
async fn send(
    github: &dyn GitHub,
    repo: &RepoRef,
    planned: &PlannedEnable,
    name: &str,
    now: Timestamp,
    evaluation: &mut Evaluation,
) -> AuditedAction {
    let sent = match planned.feature {
        SecurityFeature::DependabotAlerts => github.enable_vulnerability_alerts(repo).await,
        SecurityFeature::DependabotSecurityUpdates => github.enable_automated_security_fixes(repo).await,
        SecurityFeature::SecretScanning => github.enable_secret_scanning(repo).await,
    };
    match sent {
        Ok(()) => planned.audit(name, now),
        Err(error @ github::Error::Validation { .. }) => {
            let entry = planned.refused(name, now, &error.to_string());
            let retry_at = after(now, signed(REFUSAL_RETRY));
            evaluation.withheld.push(withheld(name, planned.feature, entry.reason.clone(), Some(retry_at)));
            entry
        }
        Err(error) => {
            let mut entry = planned.audit(name, now);
            entry.outcome = "Failed".to_owned();
            entry.reason = format!("{}; failed: {error}", entry.reason);
            entry
        }
    }
}

/// What GitHub says of the features `wanted` names: Dependabot alerts (and, while they are on, security updates)
/// from their own endpoints, secret scanning from the repository's `security_and_analysis`, or, where GitHub does
/// not show that to the credential, from the Repository status when its alert list said the feature is off.
async fn observe(
    github: &dyn GitHub,
    repo: &RepoRef,
    wanted: &SecurityFeatures,
    status: &RepositoryStatus,
) -> Result<ObservedFeatures, github::Error> {
    let mut observed = ObservedFeatures::default();
    if wanted.dependabot_alerts || wanted.dependabot_security_updates {
        let alerts = github.vulnerability_alerts_enabled(repo).await?;
        observed.dependabot_alerts = Some(alerts);
        if wanted.dependabot_security_updates {
            // GitHub answers 404 for them while alerts are off: off, without asking.
            observed.dependabot_security_updates = Some(alerts && github.automated_security_fixes_enabled(repo).await?);
        }
    }
    if wanted.secret_scanning {
        let security = github.repository_security(repo).await?;
        observed.public = security.is_public();
        observed.advanced_security = security.advanced_security();
        let reported_off = status
            .security
            .as_ref()
            .is_some_and(|security| security.disabled_features.iter().any(|feature| feature == "secretScanning"));
        observed.secret_scanning = security.secret_scanning().or(reported_off.then_some(false));
    }
    Ok(observed)
}

fn withheld(
    repository: &str,
    feature: SecurityFeature,
    reason: String,
    retry_at: Option<Timestamp>,
) -> WithheldDecision {
    WithheldDecision {
        repository: repository.to_owned(),
        action: feature.action().to_owned(),
        reason,
        retry_at: retry_at.map(Time),
    }
}
