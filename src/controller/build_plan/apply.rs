//! What a BuildPlan reconcile does on GitHub: send the dispatches whose intent is recorded, cancel runs.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::observe::{self, Target};
use crate::controller::error::Error;
use crate::crd::build_plan::RepositoryBuild;
use crate::github::{self, GitHub, RepoRef};
use crate::plan::schedule::entries;
use crate::plan::schedule::in_flight;

/// Sends the `workflow_dispatch` of each intent (entries already recorded as Dispatching). Returns what became of
/// them, with the repositories GitHub refused for good and its message. A transient failure leaves the intent as
/// it is: the run is looked up by its correlation id, and the dispatch sent again only once GitHub still does not
/// list it.
pub async fn send(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    intents: &[&RepositoryBuild],
) -> Result<Sent, Error> {
    let mut sent_out = Sent::default();
    for intent in intents {
        let (Some(target), Some(correlation_id)) = (targets.get(intent.name.as_str()), &intent.correlation_id) else {
            continue;
        };
        let Some(workflow) = &target.workflow else { continue };
        let sent =
            github.dispatch_workflow(&target.repo, workflow, &target.git_ref, &target.inputs, correlation_id).await;
        match sent {
            Ok(()) => {
                tracing::info!(repository = %target.repo, correlation_id, "dispatched");
                sent_out.accepted += 1;
            }
            Err(error @ (github::Error::Validation { .. } | github::Error::NotFound { .. })) => {
                sent_out.refused.push((intent.name.clone(), error.to_string()));
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(repository = %target.repo, %error, "dispatch failed; its run will be looked up");
                sent_out.unanswered += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(sent_out)
}

/// What became of the dispatches sent.
#[derive(Debug, Default)]
pub struct Sent {
    /// Answered 204.
    pub accepted: usize,
    /// Not answered (a transient error): the run is looked up by its correlation id, and sent again if missing.
    pub unanswered: usize,
    /// Refused by GitHub, with why, by repository.
    pub refused: Vec<(String, String)>,
}

/// Cancels the runs of the named entries (timed out). A run that already ended or vanished needs nothing.
pub async fn cancel_runs(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    repositories: &[RepositoryBuild],
    names: &[&str],
) -> Result<(), Error> {
    for entry in repositories.iter().filter(|e| names.contains(&e.name.as_str())) {
        let (Some(target), Some(id)) = (targets.get(entry.name.as_str()), entry.run_id) else { continue };
        if let Ok(id) = u64::try_from(id) {
            cancel(github, &target.repo, id).await?;
        }
    }
    Ok(())
}

/// Cancels every run in flight of the current run (the plan is suspended, deleted or superseded). Returns false
/// while some intent is too young to tell whether its dispatch reached GitHub: the caller comes back later.
pub async fn cancel_in_flight(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    repositories: &[RepositoryBuild],
    grace: SignedDuration,
    now: Timestamp,
) -> Result<bool, Error> {
    let mut settled = true;
    for entry in repositories.iter().filter(|e| in_flight(e.state)) {
        let Some(target) = targets.get(entry.name.as_str()) else { continue };
        match observe::find_run(github, target, entry).await? {
            Some(run) if run.status.as_deref() != Some("completed") => cancel(github, &target.repo, run.id).await?,
            Some(_) => {}
            None => settled &= entries::dispatch_lost(entry, grace, now),
        }
    }
    Ok(settled)
}

async fn cancel(github: &dyn GitHub, repo: &RepoRef, run_id: u64) -> Result<(), Error> {
    match github.cancel_run(repo, run_id).await {
        Ok(()) => {
            tracing::info!(repository = %repo, run_id, "cancelled run");
            Ok(())
        }
        // 409: it completed meanwhile; 404: it is gone. Either way nothing runs any more.
        Err(github::Error::Conflict { .. } | github::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
