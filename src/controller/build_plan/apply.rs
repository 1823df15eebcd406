//! What a BuildPlan reconcile does on GitHub: send the dispatches whose intent is recorded, cancel runs.

use std::collections::BTreeMap;

use super::observe::Target;
use crate::controller::error::Error;
use crate::crd::build_plan::RepositoryBuild;
use crate::crd::well_known::CORRELATION_INPUT;
use crate::github::{self, DispatchedRun, GitHub, RepoRef};
use crate::plan::schedule::stop::RunToCancel;

/// Sends the `workflow_dispatch` of each intent (entries already recorded as Dispatching). Returns what became of
/// them: the runs GitHub's answers named (recorded at once, no listing needed), the repositories GitHub refused for
/// good with its message, and those whose run can never be found (see [`Sent::untraceable`]). A transient failure
/// leaves the intent as it is: the run is looked up by its correlation id, and the dispatch sent again only once
/// GitHub still does not list it.
pub async fn send(
    github: &dyn GitHub,
    targets: &BTreeMap<&str, &Target>,
    intents: &[&RepositoryBuild],
) -> Result<Sent, Error> {
    // Concurrently: a lost answer is looked up for up to the grace period before its send returns, and one such
    // wait must not hold back the other dispatches of the plan. The intents are at most `maxParallel`.
    let mut sends = Vec::new();
    for intent in intents {
        let (Some(target), Some(correlation_id)) = (targets.get(intent.name.as_str()), &intent.correlation_id) else {
            continue;
        };
        let Some(workflow) = &target.workflow else { continue };
        // GitHub refuses undeclared inputs: the correlation id goes only to a workflow that takes it.
        let correlation = target.takes_correlation_id().then_some(correlation_id.as_str());
        sends.push(async move {
            let sent =
                github.dispatch_workflow(&target.repo, workflow, &target.git_ref, &target.inputs, correlation).await;
            (intent, *target, workflow, correlation_id, correlation, sent)
        });
    }
    let attempts = futures::future::join_all(sends).await;
    let mut sent_out = Sent::default();
    for (intent, target, workflow, correlation_id, correlation, sent) in attempts {
        match sent {
            Ok(Some(run)) => {
                tracing::info!(repository = %target.repo, correlation_id, run_id = run.id, "dispatched");
                sent_out.accepted += 1;
                sent_out.named.push((intent.name.clone(), run));
            }
            Ok(None) if correlation.is_some() => {
                tracing::info!(repository = %target.repo, correlation_id, "dispatched; its run will be looked up");
                sent_out.accepted += 1;
            }
            Ok(None) => {
                sent_out.accepted += 1;
                sent_out.untraceable.push((intent.name.clone(), untraceable(workflow, "GitHub's answer (204)")));
            }
            Err(error @ (github::Error::Validation { .. } | github::Error::NotFound { .. })) => {
                sent_out.refused.push((intent.name.clone(), error.to_string()));
            }
            Err(error) if error.is_transient() && correlation.is_none() => {
                tracing::warn!(repository = %target.repo, %error, "dispatch answer lost; its run cannot be found");
                sent_out.unanswered += 1;
                let why = untraceable(workflow, &format!("the lost answer ({error})"));
                sent_out.untraceable.push((intent.name.clone(), why));
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

fn untraceable(workflow: &str, answer: &str) -> String {
    format!(
        "{answer} did not name the run, and {workflow} declares no {} input to find it by: whether it runs cannot be \
         told, so it is not dispatched again",
        CORRELATION_INPUT
    )
}

/// What became of the dispatches sent.
#[derive(Debug, Default)]
pub struct Sent {
    /// Accepted by GitHub (200 or 204).
    pub accepted: usize,
    /// Not answered (a transient error): the run is looked up by its correlation id, and sent again if missing.
    pub unanswered: usize,
    /// Refused by GitHub, with why, by repository.
    pub refused: Vec<(String, String)>,
    /// The runs GitHub's answers named, by repository.
    pub named: Vec<(String, DispatchedRun)>,
    /// Dispatches whose run can never be found, with why, by repository: the answer did not name the run (a 204, or
    /// lost) and the workflow takes no correlation id. Sending again could start a second run.
    pub untraceable: Vec<(String, String)>,
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
            cancel_run(github, &target.repo, id).await?;
        }
    }
    Ok(())
}

/// Cancels the runs the plan is stopping (suspended, deleted or superseded), as `schedule::stop` decided.
pub async fn cancel(github: &dyn GitHub, targets: &BTreeMap<&str, &Target>, runs: &[RunToCancel]) -> Result<(), Error> {
    for run in runs {
        let Some(target) = targets.get(run.repository.as_str()) else { continue };
        if let Ok(id) = u64::try_from(run.run_id) {
            cancel_run(github, &target.repo, id).await?;
        }
    }
    Ok(())
}

async fn cancel_run(github: &dyn GitHub, repo: &RepoRef, run_id: u64) -> Result<(), Error> {
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
