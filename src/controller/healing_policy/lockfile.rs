//! Dependency pull requests waiting for their lockfile (see `plan::heal::lockfile`): each evaluation reads what
//! GitHub shows of one (whether it is open and a draft, the lockfile workflow's latest run on its branch, the
//! branch's lockfile), lets `next_step` choose, and dispatches the workflow or marks the pull request ready for
//! review. Every step taken or refused is audited; in `DryRun` nothing is written, and what would be done is
//! audited once. The state lives in the pull request's status record, and all but the time of the last dispatch is
//! read again from GitHub each time, so a restart loses nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::observe::{text_of, RepositoryView};
use crate::controller::error::Error;
use crate::crd::healing_policy::{AuditedAction, PolicyPullRequest, PullRequestLockfile};
use crate::github::{self, GitHub, RepoRef, RunFilter};
use crate::plan::heal::lockfile::{
    self, LockfileProgress, LockfileRun, LockfileStep, LockfileTool, LockfileUpdate, AUDIT_DISPATCH, AUDIT_READY,
    STATE_CLOSED, STATE_DISPATCHED, STATE_FAILED, STATE_READY, WORKFLOW_FILE,
};
use crate::plan::heal::Dispatch;

/// Whether the pull request still waits for its lockfile.
pub(super) fn pending(record: &PolicyPullRequest) -> bool {
    record.lockfile.as_ref().is_some_and(|lock| !matches!(lock.state.as_str(), STATE_READY | STATE_CLOSED))
}

/// What one follow-up did: the record as it is now, and the audit entry of the step taken, refused or (in
/// `DryRun`) only decided.
pub(super) struct FollowedUp {
    /// The pull request's record, its lockfile state updated.
    pub record: PolicyPullRequest,
    /// The step's audit entry, when there was one to record.
    pub entry: Option<AuditedAction>,
}

fn update_of(lock: &PullRequestLockfile) -> Option<LockfileUpdate> {
    Some(LockfileUpdate {
        path: lock.path.clone(),
        manifest: lock.manifest.clone(),
        tool: LockfileTool::of_ecosystem(&lock.ecosystem)?,
        package: lock.package.clone(),
        version: lock.version.clone(),
    })
}

/// The newest run of the lockfile workflow on `branch`.
async fn latest_run(github: &dyn GitHub, repo: &RepoRef, branch: &str) -> Result<Option<LockfileRun>, Error> {
    let filter = RunFilter {
        workflow: Some(WORKFLOW_FILE.to_owned()),
        branch: Some(branch.to_owned()),
        limit: Some(1),
        ..RunFilter::default()
    };
    let runs = github.workflow_runs(repo, &filter).await?;
    Ok(runs.into_iter().next().map(|run| LockfileRun {
        url: run.html_url,
        created_at: run.created_at,
        conclusion: match run.status.as_deref() {
            Some("completed") => Some(run.conclusion.unwrap_or_else(|| "unknown".to_owned())),
            _ => None,
        },
    }))
}

/// Reads the pull request `record` names, decides its next step and takes it (or, with `RecordOnly`, only says
/// what it would be).
pub(super) async fn follow_up(
    github: &dyn GitHub,
    view: &RepositoryView,
    record: &PolicyPullRequest,
    dispatch: Dispatch,
    now: Timestamp,
) -> Result<FollowedUp, Error> {
    let mut record = record.clone();
    let (Some(mut lock), true) = (record.lockfile.clone(), pending(&record)) else {
        return Ok(FollowedUp { record, entry: None });
    };
    let Some(update) = update_of(&lock) else { return Ok(FollowedUp { record, entry: None }) };
    let repo = &view.repo;
    let details = github.pull_request(repo, u64::try_from(record.number).unwrap_or_default()).await?;
    let open = details.state == "open";
    let installed = open && text_of(github, repo, lockfile::WORKFLOW_PATH, None).await?.is_some();
    let latest_run = if installed { latest_run(github, repo, &record.branch).await? } else { None };
    // Read after the run: a run seen completed has its commit in the lockfile read now.
    let lockfile_text = if open { text_of(github, repo, &lock.path, Some(&record.branch)).await? } else { None };
    let progress = LockfileProgress {
        open,
        draft: details.draft,
        lockfile: lockfile_text,
        workflow_installed: installed,
        latest_run,
        dispatched_at: lock.dispatched_at.as_ref().map(|time| time.0),
        failed: lock.state == STATE_FAILED,
    };
    // Run times are GitHub's: they are compared with GitHub's clock, as its answers gave it.
    let step = lockfile::next_step(&update, &progress, github.server_time().unwrap_or(now));
    let audit = |action: &str, outcome: &str, reason: String, link: Option<String>| AuditedAction {
        time: Time(now),
        repository: view.observed.name.clone(),
        action: action.to_owned(),
        reason,
        outcome: outcome.to_owned(),
        link,
    };
    let subject = format!("pull request #{} ({} {} in {})", record.number, update.package, update.version, update.path);
    let previous = lock.message.clone();
    // Refusals and DryRun decisions repeat every evaluation; they are audited when they change.
    let once = |message: &str| previous.as_deref() != Some(message);
    let mut entry = None;
    match step {
        LockfileStep::Closed => {
            lock.state = STATE_CLOSED.to_owned();
            lock.message = Some("closed before its lockfile was updated".to_owned());
        }
        LockfileStep::AlreadyReady => {
            lock.state = STATE_READY.to_owned();
            lock.message =
                Some(format!("{} locks {} {}; ready for review", update.path, update.package, update.version));
        }
        LockfileStep::MarkReady => {
            let why = format!("{} locks {} {} on the branch", update.path, update.package, update.version);
            match dispatch {
                Dispatch::RecordOnly => {
                    let message = format!("DryRun: {why}; would mark {subject} ready for review");
                    if once(&message) {
                        entry = Some(audit(AUDIT_READY, "DryRun", message.clone(), record.url.clone()));
                    }
                    lock.message = Some(message);
                }
                Dispatch::Send => match github.mark_pull_request_ready(&details.node_id).await {
                    Ok(()) => {
                        lock.state = STATE_READY.to_owned();
                        entry = Some(audit(AUDIT_READY, "Enforced", format!("{why}: {subject}"), record.url.clone()));
                        lock.message = Some(why);
                    }
                    Err(error) => {
                        let message = refusal(&error, "mark the pull request ready for review", "pull_requests: write");
                        if once(&message) {
                            entry = Some(audit(AUDIT_READY, "Failed", format!("{subject}: {message}"), None));
                        }
                        lock.message = Some(message);
                    }
                },
            }
        }
        LockfileStep::Dispatch => {
            let what = format!("{WORKFLOW_FILE} on {} to update {} for {subject}", record.branch, update.path);
            match dispatch {
                Dispatch::RecordOnly => {
                    let message = format!("DryRun: would dispatch {what}");
                    if once(&message) {
                        entry = Some(audit(AUDIT_DISPATCH, "DryRun", message.clone(), None));
                    }
                    lock.message = Some(message);
                }
                Dispatch::Send => {
                    match github.dispatch_workflow(repo, WORKFLOW_FILE, &record.branch, &update.inputs(), None).await {
                        Ok(run) => {
                            lock.state = STATE_DISPATCHED.to_owned();
                            lock.dispatched_at = Some(Time(github.server_time().unwrap_or(now)));
                            lock.run_url = run.and_then(|run| run.url);
                            lock.message = Some("the lockfile workflow was dispatched on the branch".to_owned());
                            entry = Some(audit(
                                AUDIT_DISPATCH,
                                "Enforced",
                                format!("dispatched {what}"),
                                lock.run_url.clone(),
                            ));
                        }
                        Err(error) => {
                            let message = refusal(&error, &format!("dispatch {WORKFLOW_FILE}"), "actions: write");
                            if once(&message) {
                                entry = Some(audit(AUDIT_DISPATCH, "Failed", format!("{what}: {message}"), None));
                            }
                            lock.message = Some(message);
                        }
                    }
                }
            }
        }
        LockfileStep::Wait(why) => lock.message = Some(why),
        LockfileStep::Fail(why) => {
            lock.state = STATE_FAILED.to_owned();
            entry = Some(audit(AUDIT_DISPATCH, "Failed", format!("{subject}: {why}"), lock.run_url.clone()));
            lock.message = Some(why);
        }
    }
    lock.message = lock.message.map(|message| message.chars().take(1024).collect());
    record.lockfile = Some(lock);
    Ok(FollowedUp { record, entry })
}

/// Why GitHub refused `what`, saying which permission is missing when that is the reason.
fn refusal(error: &github::Error, what: &str, permission: &str) -> String {
    match error {
        github::Error::Permission { status: 403, message } => format!(
            "could not {what}: the credential lacks `{permission}` ({message}); for a GitHub App, grant the \
             permission and accept it on the installation. The pull request stays a draft"
        ),
        other => format!("could not {what}: {other}"),
    }
}

/// Follows up every pull request of the repository `view` shows that waits for its lockfile: those recorded in
/// status and those opened in this evaluation. Updated records go to the evaluation's pull requests (replacing a
/// record of the same branch), audit entries to its entries with an Event each; a pull request GitHub fails for is
/// reported and the others go on.
#[allow(clippy::too_many_arguments)]
pub(super) async fn follow_up_all(
    ctx: &crate::controller::context::Context,
    github: &dyn GitHub,
    policy: &crate::crd::HealingPolicy,
    repo: &crate::crd::Repository,
    view: &RepositoryView,
    recorded: &[PolicyPullRequest],
    now: Timestamp,
    evaluation: &mut super::Evaluation,
) {
    let dispatch = match policy.spec.mode {
        crate::crd::healing_policy::HealingMode::Enforce => Dispatch::Send,
        crate::crd::healing_policy::HealingMode::DryRun => Dispatch::RecordOnly,
    };
    let name = &view.observed.name;
    let same = |a: &PolicyPullRequest, b: &PolicyPullRequest| a.repository == b.repository && a.branch == b.branch;
    let mut waiting: Vec<PolicyPullRequest> =
        evaluation.pull_requests.iter().filter(|p| &p.repository == name && pending(p)).cloned().collect();
    let older: Vec<PolicyPullRequest> = recorded
        .iter()
        .filter(|p| &p.repository == name && pending(p) && !waiting.iter().any(|w| same(w, p)))
        .cloned()
        .collect();
    waiting.extend(older);
    for record in waiting {
        match follow_up(github, view, &record, dispatch, now).await {
            Ok(FollowedUp { record, entry }) => {
                if pending(&record) {
                    // A run to wait for: look again soon rather than after the policy's interval.
                    let soon = crate::plan::heal::after(now, k8s_openapi::jiff::SignedDuration::from_secs(30));
                    evaluation.retry_at = Some(evaluation.retry_at.map_or(soon, |at| at.min(soon)));
                }
                evaluation.pull_requests.retain(|p| !same(p, &record));
                evaluation.pull_requests.push(record);
                if let Some(entry) = entry {
                    super::announce(ctx, policy, repo, &entry).await;
                    evaluation.entries.insert(0, entry);
                }
            }
            Err(error) => {
                tracing::warn!(repository = %name, number = record.number, %error, "could not follow up the pull request");
                evaluation.errors.push(format!("{name}: pull request #{}: {error}", record.number));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_permission_is_named_instead_of_a_bare_403() {
        let denied =
            github::Error::Permission { status: 403, message: "Resource not accessible by integration".into() };
        let said = refusal(&denied, "dispatch lockfile-update.yml", "actions: write");
        assert!(said.contains("lacks `actions: write`") && said.contains("stays a draft"), "{said}");
        let other = refusal(&github::Error::Validation { message: "No ref found for: x".into() }, "dispatch it", "x");
        assert!(other.starts_with("could not dispatch it: ") && other.contains("No ref found"), "{other}");
    }
}
