//! The writes that must not happen twice: a dispatch deduplicated by its correlation id, and a pull request made
//! idempotent by its branch name.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{json, Value};

use super::error::{Error, Result};
use super::octocrab::{encode, OctocrabGitHub};
use super::transport::Repeat;
use super::types::{PullRequest, PullRequestChange, RepoRef};
use super::{GitHub, CORRELATION_INPUT};

impl OctocrabGitHub {
    /// Sends a dispatch; after an ambiguous failure (5xx, timeout: GitHub may have queued it) looks the run up by its
    /// correlation id for a grace period and re-sends only if it is absent.
    pub(super) async fn dispatch_deduplicated(
        &self,
        repo: &RepoRef,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation_id: &str,
    ) -> Result<()> {
        let mut all_inputs: serde_json::Map<String, Value> =
            inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        all_inputs.insert(CORRELATION_INPUT.to_string(), Value::String(correlation_id.to_string()));
        let body = json!({ "ref": git_ref, "inputs": all_inputs });
        let url = self.repo_url(repo, &format!("/actions/workflows/{}/dispatches", encode(workflow)));
        let now = self.transport.now();
        let since = now
            .checked_sub(k8s_openapi::jiff::SignedDuration::try_from(self.dispatch.lookback).unwrap_or_default())
            .unwrap_or(now);

        let mut sends = 0;
        loop {
            sends += 1;
            let error = match self.transport.send(Method::POST, &url, Some(&body), Repeat::Never).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            tracing::info!(%repo, workflow, correlation_id, error = %error, "dispatch answer lost; looking the run up");
            for check in 0..self.dispatch.grace_checks.max(1) {
                if check > 0 {
                    self.transport.sleep(self.dispatch.grace_interval).await;
                }
                if self.find_run_by_correlation(repo, workflow, correlation_id, since).await?.is_some() {
                    return Ok(());
                }
            }
            if sends >= self.dispatch.max_sends {
                return Err(error);
            }
            let delay = self.transport.policy().backoff.delay(sends - 1, fastrand::f64());
            self.transport.sleep(delay).await;
        }
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
        let body = json!({ "title": change.title, "head": change.branch, "base": base, "body": change.body });
        // Safe to repeat: a second create answers 422 "already exists", and we return the existing PR.
        match self.write(Method::POST, &self.repo_url(repo, "/pulls"), &body, Repeat::Safe).await {
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
