//! The writes that must not happen twice: a dispatch deduplicated by its correlation id, and a pull request made
//! idempotent by its branch name.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use http::Method;
use serde_json::{json, Value};

use super::error::{Error, Result};
use super::octocrab::{encode, OctocrabGitHub};
use super::transport::Repeat;
use super::types::{DispatchedRun, PullRequest, PullRequestChange, RepoRef};
use super::GitHub;
use crate::crd::well_known::CORRELATION_INPUT;

impl OctocrabGitHub {
    /// Sends a dispatch and returns the run GitHub's answer names (see [`super::API_VERSION`]). On
    /// [`super::API_VERSION_2022_11_28`] it asks for the run with `return_run_details`, and a server that refuses
    /// the field (an older GitHub Enterprise Server) is asked again without it, once per client. After an ambiguous
    /// failure (5xx, timeout: GitHub may have queued it) the run is looked up by its correlation id for a grace
    /// period and the dispatch re-sent only if it is absent; without a correlation id the failure is returned, as
    /// re-sending could start a second run nobody could tell from the first.
    pub(super) async fn dispatch_deduplicated(
        &self,
        repo: &RepoRef,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation_id: Option<&str>,
    ) -> Result<Option<DispatchedRun>> {
        let mut all_inputs: serde_json::Map<String, Value> =
            inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        if let Some(correlation_id) = correlation_id {
            all_inputs.insert(CORRELATION_INPUT.to_string(), Value::String(correlation_id.to_string()));
        }
        let url = self.repo_url(repo, &format!("/actions/workflows/{}/dispatches", encode(workflow)));
        let now = self.transport.now();
        let since = now
            .checked_sub(k8s_openapi::jiff::SignedDuration::try_from(self.dispatch.lookback).unwrap_or_default())
            .unwrap_or(now);

        let mut sends = 0;
        loop {
            sends += 1;
            let asks_details = self.asks_run_details();
            let mut body = json!({ "ref": git_ref, "inputs": all_inputs });
            if asks_details {
                body["return_run_details"] = Value::Bool(true);
            }
            let error = match self.transport.send(Method::POST, &url, Some(&body), Repeat::Never).await {
                Ok(reply) => return Ok(dispatched_run(&reply.body)),
                // Refused before anything was queued: safe to send again without the field.
                Err(error) if asks_details && refuses_run_details(&error) => {
                    tracing::info!(%repo, %error, "GitHub refuses return_run_details; dispatching without it");
                    self.run_details_refused.store(true, Ordering::Relaxed);
                    continue;
                }
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            let Some(correlation_id) = correlation_id else { return Err(error) };
            tracing::info!(%repo, workflow, correlation_id, error = %error, "dispatch answer lost; looking the run up");
            for check in 0..self.dispatch.grace_checks.max(1) {
                if check > 0 {
                    self.transport.sleep(self.dispatch.grace_interval).await;
                }
                if let Some(run) = self.find_run_by_correlation(repo, workflow, correlation_id, since).await? {
                    return Ok(Some(DispatchedRun { id: run.id, url: run.html_url }));
                }
            }
            if sends >= self.dispatch.max_sends {
                return Err(error);
            }
            let delay = self.transport.policy().backoff.delay(sends - 1, fastrand::f64());
            self.transport.sleep(delay).await;
        }
    }

    /// Whether a dispatch asks for its run with `return_run_details`: on 2022-11-28 only (2026-03-10 always answers
    /// with the run and dropped the field), until the server refused it.
    fn asks_run_details(&self) -> bool {
        self.transport.api_version() == super::API_VERSION_2022_11_28
            && !self.run_details_refused.load(Ordering::Relaxed)
    }

    /// Branch from the default branch's head, one commit with the changes, then the PR; each step first checks
    /// whether an earlier (possibly crashed) attempt already did it.
    pub(super) async fn open_pull_request_idempotent(
        &self,
        repo: &RepoRef,
        change: &PullRequestChange,
    ) -> Result<PullRequest> {
        if let Some(existing) = self.open_pull_for_branch(repo, &change.branch).await? {
            return Ok(existing);
        }
        let meta = self.repository(repo).await?;
        let base =
            meta.default_branch.ok_or_else(|| Error::Conflict { message: format!("{repo} has no default branch") })?;
        if self.branch_head(repo, &change.branch).await?.is_none() {
            self.create_branch_with_changes(repo, &base, change).await?;
        }
        let mut body = json!({ "title": change.title, "head": change.branch, "base": base, "body": change.body });
        if change.draft {
            body["draft"] = Value::Bool(true);
        }
        // Safe to repeat: a second create answers 422 "already exists", and we return the existing PR.
        let mut created = self.write(Method::POST, &self.repo_url(repo, "/pulls"), &body, Repeat::Safe).await;
        if let Err(Error::Validation { message }) = &created {
            // A repository whose plan has no drafts refuses them with 422: it is opened ready instead, and the
            // caller sees `draft: false` when it reads the pull request.
            let message = message.to_ascii_lowercase();
            if change.draft && message.contains("draft") && !message.contains("already exists") {
                body["draft"] = Value::Bool(false);
                created = self.write(Method::POST, &self.repo_url(repo, "/pulls"), &body, Repeat::Safe).await;
            }
        }
        match created {
            Ok(v) => serde_json::from_value(v).map_err(|e| Error::decode("pull request", e)),
            Err(Error::Validation { message }) if message.to_ascii_lowercase().contains("already exists") => {
                self.open_pull_for_branch(repo, &change.branch).await?.ok_or(Error::Validation { message })
            }
            Err(e) => Err(e),
        }
    }

    async fn open_pull_for_branch(&self, repo: &RepoRef, branch: &str) -> Result<Option<PullRequest>> {
        let head = format!("{}:{}", repo.owner, branch);
        let url = self.repo_url(repo, &format!("/pulls?state=open&head={}&per_page=100", encode(&head)));
        let pulls: Vec<PullRequest> = self.transport.get_all(&url, None, None).await?;
        Ok(pulls.into_iter().next())
    }

    async fn create_branch_with_changes(&self, repo: &RepoRef, base: &str, change: &PullRequestChange) -> Result<()> {
        let head = self
            .branch_head(repo, base)
            .await?
            .ok_or_else(|| Error::Conflict { message: format!("{repo} has no commit on {base}") })?;
        let commit = self.get_json(&self.repo_url(repo, &format!("/git/commits/{}", encode(&head)))).await?;
        let base_tree = commit
            .pointer("/tree/sha")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Unexpected { status: 200, message: "commit without a tree".into() })?;
        let entries: Vec<Value> = change
            .files
            .iter()
            .map(|f| match &f.content {
                Some(content) => json!({ "path": f.path, "mode": "100644", "type": "blob", "content": content }),
                None => json!({ "path": f.path, "mode": "100644", "type": "blob", "sha": null }),
            })
            .collect();
        // Git objects are content-addressed: re-sending a tree or commit makes the same object, so they may repeat.
        let tree = self
            .write(
                Method::POST,
                &self.repo_url(repo, "/git/trees"),
                &json!({ "base_tree": base_tree, "tree": entries }),
                Repeat::Safe,
            )
            .await?;
        let tree_sha = tree.get("sha").and_then(Value::as_str).unwrap_or_default();
        let new_commit = self
            .write(
                Method::POST,
                &self.repo_url(repo, "/git/commits"),
                &json!({ "message": change.commit_message, "tree": tree_sha, "parents": [head] }),
                Repeat::Safe,
            )
            .await?;
        let commit_sha = new_commit.get("sha").and_then(Value::as_str).unwrap_or_default();
        let reference = json!({ "ref": format!("refs/heads/{}", change.branch), "sha": commit_sha });
        match self.write(Method::POST, &self.repo_url(repo, "/git/refs"), &reference, Repeat::Safe).await {
            Ok(_) => Ok(()),
            // A lost answer to our own first create: the branch exists now.
            Err(Error::Validation { message }) if message.to_ascii_lowercase().contains("already exists") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The run a dispatch answer names: a 200 with `workflow_run_id`; `None` for a 204.
fn dispatched_run(body: &str) -> Option<DispatchedRun> {
    let answer: Value = serde_json::from_str(body).ok()?;
    let id = answer.get("workflow_run_id")?.as_u64()?;
    Some(DispatchedRun { id, url: answer.get("html_url").and_then(Value::as_str).map(str::to_owned) })
}

/// Whether GitHub refused the `return_run_details` field itself (an older server: 422 or 400 naming it).
fn refuses_run_details(error: &Error) -> bool {
    match error {
        Error::Validation { message } | Error::Unexpected { status: 400, message } => {
            message.contains("return_run_details")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_names_the_run_and_a_204_does_not() {
        let answer = r#"{"workflow_run_id": 42, "run_url": "https://api/x/runs/42", "html_url": "https://x/runs/42"}"#;
        assert_eq!(dispatched_run(answer), Some(DispatchedRun { id: 42, url: Some("https://x/runs/42".into()) }));
        assert_eq!(dispatched_run(""), None);
        assert_eq!(dispatched_run("{}"), None);
    }

    #[test]
    fn only_a_refusal_naming_the_field_counts() {
        let named = "Invalid request.\n\n\"return_run_details\" is not a permitted key.".to_owned();
        assert!(refuses_run_details(&Error::Validation { message: named.clone() }));
        assert!(refuses_run_details(&Error::Unexpected { status: 400, message: named }));
        assert!(!refuses_run_details(&Error::Validation { message: "No ref found for: x".into() }));
    }
}
