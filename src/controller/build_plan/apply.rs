//! What a BuildPlan reconcile does on GitHub: send the dispatches whose intent is recorded, cancel runs.

use std::collections::BTreeMap;

use super::observe::Target;
use crate::controller::error::Error;
use crate::controller::memo::Memo;
use crate::crd::build_plan::{RepositoryBuild, RepositoryBuildState};
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
            // A 403 is final too: the App installation lacks `actions: write` (the client knows it without asking).
            Err(
                error @ (github::Error::Validation { .. }
                | github::Error::NotFound { .. }
                | github::Error::Permission { status: 403, .. }),
            ) => {
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

/// The runs that dispatch answers named, by the correlation id of their attempt, until a status write records them:
/// writing the whole status again after each dispatch only to record its run id cost one more write per step, on
/// the path of the next. Only runs whose dispatch carried the correlation id are kept here, so that after a restart
/// the id finds them again on GitHub.
#[derive(Debug, Default)]
pub struct NamedRuns(Memo<String, i64>);

impl NamedRuns {
    /// Remembers the run GitHub named for the attempt with `correlation_id`.
    pub fn remember(&self, correlation_id: &str, run_id: i64) {
        self.0.insert(correlation_id.to_owned(), run_id);
    }

    /// Fills in the remembered run of each intent whose run the status does not name yet, so that tracking reads it
    /// by id instead of looking for it.
    pub fn fill(&self, repositories: &mut [RepositoryBuild]) {
        let named = self.0.lock();
        for entry in repositories.iter_mut().filter(|e| e.state == RepositoryBuildState::Dispatching) {
            if let (None, Some(correlation_id)) = (entry.run_id, &entry.correlation_id) {
                entry.run_id = named.get(correlation_id).copied();
            }
        }
    }

    /// Forgets the runs that `repositories`, as written, records.
    pub fn forget_recorded(&self, repositories: &[RepositoryBuild]) {
        self.forget(repositories.iter().filter(|e| e.run_id.is_some()));
    }

    /// Forgets every run of `repositories`: the plan goes.
    pub fn forget_all(&self, repositories: &[RepositoryBuild]) {
        self.forget(repositories.iter());
    }

    fn forget<'a>(&self, entries: impl Iterator<Item = &'a RepositoryBuild>) {
        let mut named = self.0.lock();
        for correlation_id in entries.filter_map(|e| e.correlation_id.as_ref()) {
            named.remove(correlation_id);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::schedule::entries::{dispatching, pending};

    fn intent(name: &str, correlation_id: &str) -> RepositoryBuild {
        dispatching(&pending(name), 1, correlation_id, k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_named_run_fills_its_intent_until_a_write_records_it() {
        let named = NamedRuns::default();
        named.remember("io-core-1", 7);
        let mut repositories = vec![intent("core", "io-core-1"), intent("lib", "io-lib-1"), pending("api")];
        named.fill(&mut repositories);
        let run_ids: Vec<_> = repositories.iter().map(|e| e.run_id).collect();
        assert_eq!(run_ids, [Some(7), None, None], "only the intent whose run was named");
        named.forget_recorded(&[intent("core", "io-core-1")]);
        let mut again = vec![intent("core", "io-core-1")];
        named.fill(&mut again);
        assert_eq!(again[0].run_id, Some(7), "not recorded yet: still remembered");
        named.forget_recorded(&repositories);
        let mut after = vec![intent("core", "io-core-1")];
        named.fill(&mut after);
        assert_eq!(after[0].run_id, None, "forgotten once a write recorded it");
    }
}
