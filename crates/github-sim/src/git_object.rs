//! Git objects as git itself hashes them: a blob, tree or commit id is the SHA-1 of `"<kind> <len>\0<body>"`, the
//! id `git hash-object` prints. Trees are nested, one object per directory, entries sorted git's way.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

/// The mode GitHub shows for a regular file.
pub const FILE_MODE: &str = "100644";
/// The mode GitHub shows for a directory (git writes it `40000` inside the tree object).
pub const TREE_MODE: &str = "040000";

/// The kind of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A file.
    Blob,
    /// A directory.
    Tree,
}

impl EntryKind {
    /// GitHub's `type` of the entry.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Blob => "blob",
            EntryKind::Tree => "tree",
        }
    }

    /// GitHub's `mode` of the entry.
    pub fn mode(self) -> &'static str {
        match self {
            EntryKind::Blob => FILE_MODE,
            EntryKind::Tree => TREE_MODE,
        }
    }
}

/// One entry of a tree object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// The name within its directory.
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// The object id of the blob or subtree.
    pub sha: String,
    /// Blob size in bytes (files only).
    pub size: Option<usize>,
}

/// A tree object with the files below it (paths relative to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeObject {
    /// Its id.
    pub sha: String,
    /// Its entries, in git's order.
    pub entries: Vec<TreeEntry>,
    /// Every file below it, relative path → content.
    pub files: BTreeMap<String, String>,
}

fn object_id(kind: &str, body: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("{kind} {}\0", body.len()).as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// The id of a blob holding `content`.
pub fn blob_id(content: &[u8]) -> String {
    object_id("blob", content)
}

/// Git's order of tree entries: by name, a directory compared as if its name ended with `/`.
pub fn sort_entries(entries: &mut [TreeEntry]) {
    entries.sort_by_key(sort_key);
}

fn sort_key(entry: &TreeEntry) -> Vec<u8> {
    let mut key = entry.name.as_bytes().to_vec();
    if entry.kind == EntryKind::Tree {
        key.push(b'/');
    }
    key
}

/// The id of a tree with `entries` (sorted git's way here, whatever their order).
pub fn tree_id(entries: &[TreeEntry]) -> String {
    let mut sorted = entries.to_vec();
    sort_entries(&mut sorted);
    let mut body = Vec::new();
    for entry in &sorted {
        let mode = match entry.kind {
            EntryKind::Blob => FILE_MODE,
            EntryKind::Tree => "40000",
        };
        body.extend_from_slice(format!("{mode} {}\0", entry.name).as_bytes());
        body.extend_from_slice(&hex::decode(&entry.sha).unwrap_or_else(|_| vec![0; 20]));
    }
    object_id("tree", &body)
}

/// The fields of a commit object that its id covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFields<'a> {
    /// Root tree id.
    pub tree: &'a str,
    /// Parent commit ids.
    pub parents: &'a [String],
    /// Author and committer name.
    pub name: &'a str,
    /// Author and committer email.
    pub email: &'a str,
    /// Author and committer time, epoch seconds (UTC).
    pub epoch: i64,
    /// The message, as stored.
    pub message: &'a str,
}

/// The id of a commit object.
pub fn commit_id(commit: &CommitFields<'_>) -> String {
    let mut text = format!("tree {}\n", commit.tree);
    for parent in commit.parents {
        text.push_str(&format!("parent {parent}\n"));
    }
    let person = format!("{} <{}> {} +0000", commit.name, commit.email, commit.epoch);
    text.push_str(&format!("author {person}\ncommitter {person}\n\n{}", commit.message));
    object_id("commit", text.as_bytes())
}

/// Every tree object of a file map, the root first; paths are `/`-separated.
pub fn build_trees(files: &BTreeMap<String, String>) -> Vec<TreeObject> {
    let mut objects = Vec::new();
    build_into(files, &mut objects);
    objects.reverse();
    objects
}

/// Builds the tree of `files` after its subtrees (so the root is pushed last) and returns its id.
fn build_into(files: &BTreeMap<String, String>, out: &mut Vec<TreeObject>) -> String {
    let mut entries = Vec::new();
    let mut directories: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for (path, content) in files {
        match path.split_once('/') {
            Some((directory, rest)) => {
                directories.entry(directory).or_default().insert(rest.to_string(), content.clone());
            }
            None => entries.push(TreeEntry {
                name: path.clone(),
                kind: EntryKind::Blob,
                sha: blob_id(content.as_bytes()),
                size: Some(content.len()),
            }),
        }
    }
    for (name, below) in &directories {
        let sha = build_into(below, out);
        entries.push(TreeEntry { name: (*name).to_string(), kind: EntryKind::Tree, sha, size: None });
    }
    sort_entries(&mut entries);
    let sha = tree_id(&entries);
    out.push(TreeObject { sha: sha.clone(), entries, files: files.clone() });
    sha
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        // `git hash-object -t blob /dev/null` and `git mktree < /dev/null`.
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(tree_id(&[]), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
        // `printf 'hello\n' | git hash-object --stdin`.
        assert_eq!(blob_id(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[test]
    fn directories_sort_as_if_they_ended_with_a_slash() {
        let entry = |name: &str, kind| TreeEntry { name: name.into(), kind, sha: "0".repeat(40), size: None };
        let mut entries =
            vec![entry("a", EntryKind::Tree), entry("a.txt", EntryKind::Blob), entry("a-b", EntryKind::Blob)];
        sort_entries(&mut entries);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a-b", "a.txt", "a"]);
    }

    #[test]
    fn nested_files_make_one_tree_per_directory_root_first() {
        let files = BTreeMap::from([
            ("README.md".to_string(), "hi".to_string()),
            ("src/lib.rs".to_string(), "x".to_string()),
            ("src/bin/main.rs".to_string(), "y".to_string()),
        ]);
        let trees = build_trees(&files);
        assert_eq!(trees.len(), 3);
        assert_eq!(trees[0].files, files);
        let src = trees.iter().find(|t| t.files.contains_key("lib.rs")).expect("src tree");
        assert!(trees[0].entries.iter().any(|e| e.name == "src" && e.sha == src.sha));
    }
}
