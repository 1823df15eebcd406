//! GitHub's JSON shapes that the routes, the webhook payloads and the control endpoints all serve: users,
//! organizations, repositories, workflows and runs.

use serde_json::{json, Value};

use crate::clock::iso8601;
use crate::enterprise::html_root;
use crate::runs::{phase_at, QUEUE_SECS};
use crate::state::{sha_of, Repo, Run, SimState, Workflow};
use crate::workflow_file;

/// GitHub's `simple-user` shape for an organization owner.
fn owner_json(base: &str, login: &str) -> Value {
    user_json(base, login, "Organization")
}

/// GitHub's `simple-user` shape.
pub fn user_json(base: &str, login: &str, kind: &str) -> Value {
    json!({
        "login": login, "id": u64::from_str_radix(&sha_of(login)[..8], 16).unwrap_or(1), "node_id": format!("O_{login}"),
        "avatar_url": format!("{}/avatars/{login}", html_root(base)), "gravatar_id": "",
        "url": format!("{base}/users/{login}"), "html_url": format!("{}/{login}", html_root(base)),
        "followers_url": "", "following_url": "", "gists_url": "", "starred_url": "",
        "subscriptions_url": "", "organizations_url": "", "repos_url": format!("{base}/orgs/{login}/repos"),
        "events_url": "", "received_events_url": "", "type": kind, "site_admin": false,
    })
}

/// GitHub's `organization-simple-webhooks`: the `organization` object of every organization event.
pub fn organization_json(base: &str, login: &str) -> Value {
    let api = format!("{base}/orgs/{login}");
    let id = u64::from_str_radix(&sha_of(login)[..8], 16).unwrap_or(1);
    json!({
        "login": login, "id": id, "node_id": format!("O_{login}"), "url": api,
        "repos_url": format!("{api}/repos"), "events_url": format!("{api}/events"), "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"), "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{}/avatars/{login}", html_root(base)), "description": null,
    })
}

/// GitHub's repository shape.
pub fn repo_json(base: &str, repo: &Repo) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.spec.name);
    let api = format!("{base}/repos/{full_name}");
    let mut body = json!({
        "id": repo.id, "node_id": format!("R_{}", repo.id), "name": repo.spec.name, "full_name": full_name,
        "private": repo.spec.visibility != "public", "visibility": repo.spec.visibility,
        "owner": owner_json(base, &repo.owner), "html_url": format!("{}/{full_name}", html_root(base)),
        "description": null, "fork": repo.spec.fork, "url": api,
        "archived": repo.spec.archived, "disabled": false, "default_branch": repo.spec.default_branch,
        "topics": repo.spec.topics, "language": repo.spec.language,
        "created_at": iso8601(repo.created_at), "updated_at": iso8601(repo.updated_at),
        "pushed_at": iso8601(repo.pushed_at),
        "homepage": null, "license": null, "mirror_url": null, "size": repo.spec.files.values().map(String::len).sum::<usize>() / 1024,
        "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
        "open_issues": repo.open_issues_count, "open_issues_count": repo.open_issues_count, "network_count": 0, "subscribers_count": 0,
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_discussions": false,
        "clone_url": format!("{}/{full_name}.git", html_root(base)), "git_url": format!("git://sim/{full_name}.git"),
        "ssh_url": format!("git@sim:{full_name}.git"), "svn_url": format!("{}/{full_name}", html_root(base)),
    });
    if let Some(object) = body.as_object_mut() {
        object.insert("has_downloads".into(), json!(true));
        let merge = &repo.spec.merge;
        for (field, allowed) in [
            ("allow_auto_merge", merge.allow_auto_merge),
            ("allow_merge_commit", merge.allow_merge_commit),
            ("allow_squash_merge", merge.allow_squash_merge),
            ("allow_rebase_merge", merge.allow_rebase_merge),
        ] {
            object.insert(field.into(), json!(allowed));
        }
        for (field, suffix) in LINK_TEMPLATES {
            object.insert((*field).to_string(), json!(format!("{api}{suffix}")));
        }
    }
    body
}

/// GitHub's `simple-repository` shape (the `repository` of each org-level alert): the full shape's identity,
/// owner and hypermedia URLs only.
pub fn simple_repo_json(base: &str, repo: &Repo) -> Value {
    let mut body = repo_json(base, repo);
    if let Some(object) = body.as_object_mut() {
        const IDENTITY: [&str; 9] =
            ["id", "node_id", "name", "full_name", "owner", "private", "html_url", "description", "fork"];
        object.retain(|field, _| {
            field == "url" || IDENTITY.contains(&field.as_str()) || LINK_TEMPLATES.iter().any(|(f, _)| f == field)
        });
    }
    body
}

/// The hypermedia URL fields GitHub puts on every repository, with their URI-template suffixes.
const LINK_TEMPLATES: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// A workflow's name as its file on the default branch gives it, else its path.
pub fn workflow_name(repo: &Repo, workflow: &Workflow) -> String {
    let file = repo.spec.files.get(&workflow.spec.path).map(String::as_str).unwrap_or_default();
    workflow_file::parse(file).display_name(&workflow.spec.path)
}

/// GitHub's `workflow` shape (also the `workflow` object of `workflow_run` webhooks).
pub fn workflow_json(base: &str, repo: &Repo, workflow: &Workflow) -> Value {
    let api = format!("{base}/repos/{}/{}", repo.owner, repo.spec.name);
    let name = workflow_name(repo, workflow);
    // A workflow whose file left the default branch stays readable by id, as GitHub keeps it.
    let state = if repo.spec.files.contains_key(&workflow.spec.path) { "active" } else { "deleted" };
    json!({
        "id": workflow.id, "node_id": format!("W_{}", workflow.id), "name": name,
        "path": workflow.spec.path, "state": state,
        "created_at": iso8601(repo.created_at), "updated_at": iso8601(repo.created_at),
        "url": format!("{api}/actions/workflows/{}", workflow.id),
        "html_url": format!("{}/{}/{}/blob/{}/{}", html_root(base), repo.owner, repo.spec.name, repo.spec.default_branch, workflow.spec.path),
        "badge_url": format!("{}/{}/{}/workflows/{}/badge.svg", html_root(base), repo.owner, repo.spec.name, name),
    })
}

/// GitHub's workflow-run shape at the sim clock's `now`.
pub fn run_json(base: &str, state: &SimState, run: &Run) -> Value {
    let phase = phase_at(run.created_at, run.duration_secs, run.outcome, run.cancelled_at, state.now);
    let api = format!("{base}/repos/{}/{}", run.owner, run.repo);
    let repository = state.repo(&run.owner, &run.repo).map(|r| repo_json(base, r));
    let workflow = state
        .repo(&run.owner, &run.repo)
        .and_then(|r| r.workflows.iter().find(|w| w.id == run.workflow_id).map(|w| (r, w)));
    let path = workflow.map(|(_, w)| w.spec.path.clone()).unwrap_or_default();
    // GitHub's run `name` is its workflow's; the `run-name` shows in `display_title` only.
    let name = workflow.map_or_else(|| run.display_title.clone(), |(r, w)| workflow_name(r, w));
    json!({
        "id": run.id, "name": name, "display_title": run.display_title,
        "node_id": format!("WFR_{}", run.id), "head_branch": run.head_branch, "head_sha": run.head_sha,
        "path": path, "run_number": run.id, "run_attempt": run.run_attempt, "event": run.event,
        "status": phase.status, "conclusion": phase.conclusion.map(|c| c.as_str()),
        "workflow_id": run.workflow_id, "url": format!("{api}/actions/runs/{}", run.id),
        "html_url": format!("{}/{}/{}/actions/runs/{}", html_root(base), run.owner, run.repo, run.id),
        "pull_requests": [], "created_at": iso8601(run.first_created_at), "updated_at": iso8601(phase.updated_at),
        "run_started_at": iso8601(run.created_at + QUEUE_SECS),
        "jobs_url": format!("{api}/actions/runs/{}/jobs", run.id),
        "logs_url": format!("{api}/actions/runs/{}/logs", run.id),
        "check_suite_url": format!("{api}/check-suites/{}", run.id),
        "artifacts_url": format!("{api}/actions/runs/{}/artifacts", run.id),
        "cancel_url": format!("{api}/actions/runs/{}/cancel", run.id),
        "rerun_url": format!("{api}/actions/runs/{}/rerun", run.id),
        "workflow_url": format!("{api}/actions/workflows/{}", run.workflow_id),
        "head_commit": null, "repository": repository, "head_repository": repository,
    })
}
