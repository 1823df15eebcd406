//! The git and contents APIs as strict as GitHub's: git's own object ids (checked against git itself), subtrees by
//! sha, truncated recursive trees, large files not inlined, directory listings, branch names with `/`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use github_sim::fixture::{CommitFixture, GitLimits, OrgFixture, RepoFixture};
use github_sim::{Fixture, SimOptions, Simulator};
use serde_json::{json, Value};
use support::{call, AUTH};

fn files() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("README.md".to_string(), "# demo\n".to_string()),
        ("Cargo.toml".to_string(), "[workspace]\nmembers = [\"crates/*\"]\n".to_string()),
        ("crates/a/Cargo.toml".to_string(), "[package]\nname = \"a\"\n".to_string()),
        ("crates/a/src/lib.rs".to_string(), "pub fn a() {}\n".to_string()),
        ("crates/a-b.txt".to_string(), "sorted before crates/a/ by git\n".to_string()),
        ("docs/guide/intro.md".to_string(), "hello\n".to_string()),
    ])
}

fn fixture(repo: RepoFixture) -> Fixture {
    Fixture {
        orgs: vec![OrgFixture { login: "acme".into(), repos: vec![repo], ..Default::default() }],
        tokens: vec!["test-token".into()],
        ..Default::default()
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos();
        let path = std::env::temp_dir().join(format!("github-sim-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("scratch dir");
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git(dir: &Path, args: &[&str], env: &[(&str, String)], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut command = Command::new("git");
    command.current_dir(dir).args(args).env("GIT_CONFIG_NOSYSTEM", "1").env("HOME", dir);
    for (key, value) in env {
        command.env(key, value);
    }
    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = command.spawn().expect("git is installed");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin");
    drop(input);
    let output = child.wait_with_output().expect("git");
    assert!(output.status.success(), "git {args:?} failed");
    String::from_utf8(output.stdout).expect("utf8").trim().to_string()
}

async fn get(base: &str, path: &str) -> Value {
    let reply = call(base, "GET", path, &[AUTH], None).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    reply.json()
}

#[tokio::test]
async fn blob_tree_and_commit_shas_are_the_ids_git_computes() {
    let commits = vec![
        CommitFixture {
            message: "first".into(),
            date: Some("2025-12-30T00:00:00Z".into()),
            author: Some("alice".into()),
        },
        CommitFixture { message: "second\n\nwith a body\n".into(), date: None, author: Some("Bob Smith".into()) },
    ];
    let repo = RepoFixture { name: "ids".into(), files: files(), commits, ..Default::default() };
    let sim = Simulator::start(fixture(repo), SimOptions::default()).await.expect("start");
    let base = sim.base_url();

    let scratch = Scratch::new("git-ids");
    let dir = &scratch.0;
    git(dir, &["init", "-q"], &[], None);
    for (path, content) in files() {
        let file = dir.join(&path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, content).expect("write");
    }
    git(dir, &["add", "-A"], &[], None);
    let git_root = git(dir, &["write-tree"], &[], None);
    // Every blob and subtree as git lists them, in git's order: `<mode> <type> <sha>\t<path>`.
    let git_listing: Vec<(String, String, String)> = git(dir, &["ls-tree", "-r", "-t", &git_root], &[], None)
        .lines()
        .map(|line| {
            let (meta, path) = line.split_once('\t').expect("tab");
            let parts: Vec<&str> = meta.split(' ').collect();
            (path.to_string(), parts[1].to_string(), parts[2].to_string())
        })
        .collect();
    for (path, content) in files() {
        let hashed = git(dir, &["hash-object", "--stdin"], &[], Some(&content));
        assert!(git_listing.contains(&(path.clone(), "blob".into(), hashed)), "{path}");
    }

    let head = get(base, "/repos/acme/ids/branches/main").await;
    let head_sha = head["commit"]["sha"].as_str().expect("sha").to_string();
    let commit = get(base, &format!("/repos/acme/ids/git/commits/{head_sha}")).await;
    assert_eq!(commit["tree"]["sha"], git_root, "the root tree is git's");
    let tree = get(base, &format!("/repos/acme/ids/git/trees/{git_root}?recursive=1")).await;
    let listed: Vec<(String, String, String)> = tree["tree"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (e["path"].as_str().unwrap().into(), e["type"].as_str().unwrap().into(), e["sha"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(listed, git_listing, "same entries, same ids, same order as `git ls-tree -r -t`");

    // Commits: `git commit-tree` with the same author, date and message gives the same ids, parent chain included.
    let parent_sha = commit["parents"][0]["sha"].as_str().expect("parent").to_string();
    let parent = get(base, &format!("/repos/acme/ids/git/commits/{parent_sha}")).await;
    let commit_tree = |message: &str, person: &Value, parents: &[&str]| {
        let name = person["name"].as_str().expect("name").to_string();
        let email = person["email"].as_str().expect("email").to_string();
        let epoch = epoch_of(person["date"].as_str().expect("date"));
        let date = format!("@{epoch} +0000");
        let env = [
            ("GIT_AUTHOR_NAME", name.clone()),
            ("GIT_AUTHOR_EMAIL", email.clone()),
            ("GIT_AUTHOR_DATE", date.clone()),
            ("GIT_COMMITTER_NAME", name),
            ("GIT_COMMITTER_EMAIL", email),
            ("GIT_COMMITTER_DATE", date),
        ];
        let mut args = vec!["commit-tree", git_root.as_str()];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        git(dir, &args, &env, Some(message))
    };
    assert_eq!(commit_tree("first", &parent["author"], &[]), parent_sha);
    assert_eq!(commit_tree("second\n\nwith a body\n", &commit["author"], &[&parent_sha]), head_sha);
    sim.assert_conformant();
}

/// Epoch seconds of `YYYY-MM-DDTHH:MM:SSZ`.
fn epoch_of(iso: &str) -> i64 {
    github_sim::clock::parse_date(iso).expect("date")
}

#[tokio::test]
async fn subtrees_are_served_by_their_own_sha() {
    let repo = RepoFixture { name: "sub".into(), files: files(), ..Default::default() };
    let sim = Simulator::start(fixture(repo), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let root = get(base, "/repos/acme/sub/git/trees/main").await;
    let names: Vec<&str> = root["tree"].as_array().expect("tree").iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "README.md", "crates", "docs"], "the top level only");
    let crates = root["tree"].as_array().expect("tree").iter().find(|e| e["path"] == "crates").expect("crates");
    assert_eq!((crates["type"].as_str(), crates["mode"].as_str()), (Some("tree"), Some("040000")));
    let sha = crates["sha"].as_str().expect("sha");
    let level = get(base, &format!("/repos/acme/sub/git/trees/{sha}")).await;
    let names: Vec<&str> = level["tree"].as_array().expect("tree").iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(names, ["a-b.txt", "a"], "paths relative to the subtree, in git's order");
    let deep = get(base, &format!("/repos/acme/sub/git/trees/{sha}?recursive=1")).await;
    let zero = get(base, &format!("/repos/acme/sub/git/trees/{sha}?recursive=0")).await;
    assert_eq!(zero["tree"], deep["tree"], "any value of `recursive` lists recursively, as GitHub documents");
    let names: Vec<&str> = deep["tree"].as_array().expect("tree").iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(names, ["a-b.txt", "a", "a/Cargo.toml", "a/src", "a/src/lib.rs"]);
    let missing = call(base, "GET", &format!("/repos/acme/sub/git/trees/{}", "0".repeat(40)), &[AUTH], None).await;
    assert_eq!(missing.status, 404);
    sim.assert_conformant();
}

#[tokio::test]
async fn recursive_trees_past_the_entry_limit_are_truncated() {
    let repo = RepoFixture { name: "big".into(), files: files(), ..Default::default() };
    let limits = GitLimits { tree_entry_limit: 4, ..GitLimits::default() };
    let sim =
        Simulator::start(Fixture { git_limits: limits, ..fixture(repo) }, SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let cut = get(base, "/repos/acme/big/git/trees/main?recursive=1").await;
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["tree"].as_array().map(Vec::len), Some(4));
    let top = get(base, "/repos/acme/big/git/trees/main").await;
    assert_eq!(top["truncated"], false, "one level is never truncated");
    // With GitHub's own limits (100,000 entries, 7 MB) the same tree is whole.
    let whole = Simulator::start(
        fixture(RepoFixture { name: "big".into(), files: files(), ..Default::default() }),
        SimOptions::default(),
    )
    .await
    .expect("start");
    let all = get(whole.base_url(), "/repos/acme/big/git/trees/main?recursive=1").await;
    assert_eq!((all["truncated"].as_bool(), all["tree"].as_array().map(Vec::len)), (Some(false), Some(11)));
    // The byte limit cuts too.
    let limits = GitLimits { tree_bytes_limit: 1_000, ..GitLimits::default() };
    let small = Simulator::start(
        Fixture {
            git_limits: limits,
            ..fixture(RepoFixture { name: "big".into(), files: files(), ..Default::default() })
        },
        SimOptions::default(),
    )
    .await
    .expect("start");
    let cut = get(small.base_url(), "/repos/acme/big/git/trees/main?recursive=1").await;
    assert_eq!(cut["truncated"], true);
    assert!(cut.to_string().len() < 1_500, "{}", cut.to_string().len());
    sim.assert_conformant();
}

#[tokio::test]
async fn files_over_one_megabyte_are_not_inlined_and_the_blob_serves_them() {
    let big = format!("{{\"name\": \"big\", \"description\": \"{}\"}}\n", "x".repeat(2 * 1024 * 1024));
    let mut files = files();
    files.insert("package.json".into(), big.clone());
    let repo = RepoFixture { name: "large".into(), files, ..Default::default() };
    let sim = Simulator::start(fixture(repo), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let file = get(base, "/repos/acme/large/contents/package.json").await;
    assert_eq!((file["encoding"].as_str(), file["content"].as_str()), (Some("none"), Some("")));
    assert_eq!(file["size"].as_u64(), Some(big.len() as u64));
    let blob = get(base, &format!("/repos/acme/large/git/blobs/{}", file["sha"].as_str().expect("sha"))).await;
    assert_eq!(blob["encoding"], "base64");
    let decoded = github_sim::encoding::base64_decode(blob["content"].as_str().expect("content")).expect("b64");
    assert_eq!(decoded, big.as_bytes());
    let small = get(base, "/repos/acme/large/contents/README.md").await;
    assert_eq!(small["encoding"], "base64", "a small file is still inlined");
    sim.assert_conformant();
}

#[tokio::test]
async fn a_directory_answers_its_entries() {
    let repo = RepoFixture { name: "dirs".into(), files: files(), ..Default::default() };
    let sim = Simulator::start(fixture(repo), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let listing = get(base, "/repos/acme/dirs/contents/crates").await;
    let entries: Vec<(&str, &str, &str)> = listing
        .as_array()
        .expect("a directory is an array")
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["name"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(entries, [("file", "a-b.txt", "crates/a-b.txt"), ("dir", "a", "crates/a")]);
    let dir = &listing[1];
    assert_eq!(dir["download_url"], Value::Null);
    let at_ref = get(base, "/repos/acme/dirs/contents/docs/guide?ref=main").await;
    assert_eq!(at_ref[0]["name"], "intro.md");
    let missing = call(base, "GET", "/repos/acme/dirs/contents/nope", &[AUTH], None).await;
    assert_eq!(missing.status, 404);
    sim.assert_conformant();
}

#[tokio::test]
async fn branch_names_may_hold_slashes() {
    let repo = RepoFixture { name: "slash".into(), files: files(), ..Default::default() };
    let sim = Simulator::start(fixture(repo), SimOptions::default()).await.expect("start");
    let base = sim.base_url();
    let head = get(base, "/repos/acme/slash/git/ref/heads/main").await["object"]["sha"].clone();
    let created = call(
        base,
        "POST",
        "/repos/acme/slash/git/refs",
        &[AUTH],
        Some(json!({"ref": "refs/heads/feature/deep/x", "sha": head})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let branch = get(base, "/repos/acme/slash/branches/feature/deep/x").await;
    assert_eq!(branch["name"], "feature/deep/x");
    let encoded = get(base, "/repos/acme/slash/branches/feature%2Fdeep%2Fx").await;
    assert_eq!(encoded["name"], "feature/deep/x");
    let reference = get(base, "/repos/acme/slash/git/ref/heads/feature/deep/x").await;
    assert_eq!(reference["ref"], "refs/heads/feature/deep/x");
    let content = json!({"message": "m", "content": "aGk=", "branch": "feature/deep/x"});
    let put = call(base, "PUT", "/repos/acme/slash/contents/new.txt", &[AUTH], Some(content)).await;
    assert_eq!(put.status, 201, "{}", put.body);
    let new_head = put.json()["commit"]["sha"].clone();
    let file = get(base, "/repos/acme/slash/contents/new.txt?ref=feature%2Fdeep%2Fx").await;
    assert_eq!(file["content"], "aGk=");
    let moved = call(
        base,
        "PATCH",
        "/repos/acme/slash/git/refs/heads/feature/deep/x",
        &[AUTH],
        Some(json!({"sha": head, "force": true})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_ne!(moved.json()["object"]["sha"], new_head);
    sim.assert_conformant();
}
